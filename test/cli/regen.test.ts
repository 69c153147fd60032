import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { UsageError } from '../../src/cli/command.js';
import { regenCommand } from '../../src/cli/commands/regen.js';
import { ControlError } from '../../src/daemon/control/protocol.js';
import { startControlServer, type ControlServer } from '../../src/daemon/control/server.js';
import { runCommand } from '../support/cli-io.js';
import { fakeHandlers, fakeObjects, tempDir } from '../daemon/control/fake-handlers.js';

describe('btf-extra regen', () => {
  let tmp: ReturnType<typeof tempDir>;
  let sock: string;
  let server: ControlServer | undefined;
  beforeEach(() => { tmp = tempDir('rg'); sock = join(tmp.dir, 'c.sock'); });
  afterEach(async () => { await server?.close(); server = undefined; tmp.cleanup(); });

  const run = (...argv: string[]): ReturnType<typeof runCommand> => runCommand(regenCommand, argv);

  it('asks for the named objects and prints one line each', async () => {
    const f = fakeHandlers();
    server = await startControlServer(sock, f.handlers);
    const r = await run('--socket', sock, 'loop', 'vmlinux');
    assert.deepEqual(f.calls.regen, [{ names: ['loop', 'vmlinux'] }]);
    assert.equal(r.code, 0);
    assert.equal(r.out, 'vmlinux: published (cache, 34825 vars, 1.2 MiB)\nloop: published (encoder, 12 vars, 2.0 KiB)\n');
  });

  it('--all asks for every object; --json prints the states', async () => {
    const f = fakeHandlers();
    server = await startControlServer(sock, f.handlers);
    const r = await run('--socket', sock, '--all', '--json');
    assert.deepEqual(f.calls.regen, [{ all: true }]);
    assert.equal(r.code, 0);
    assert.deepEqual((JSON.parse(r.out) as { objects: Array<{ name: string }> }).objects.map((o) => o.name), fakeObjects.map((o) => o.name));
  });

  it('exits 1 when an object ends without extras, with reason and what to install', async () => {
    server = await startControlServer(sock, fakeHandlers({ regen: async () => fakeObjects.filter((o) => o.name === 'kvm' || o.name === 'loop') }).handlers);
    const r = await run('--socket', sock, 'kvm', 'loop');
    assert.equal(r.code, 1);
    assert.equal(r.out, 'loop: published (encoder, 12 vars, 2.0 KiB)\n'
      + 'kvm: no-debuginfo: no debug file with build id 1234; install: apt-get install linux-image-6.1.0-56-cloud-amd64-dbg\n');
  });

  it('no objects regenerated is said plainly', async () => {
    server = await startControlServer(sock, fakeHandlers({ regen: async () => [] }).handlers);
    const r = await run('--socket', sock, '--all');
    assert.equal(r.code, 0);
    assert.equal(r.out, 'no objects regenerated\n');
  });

  it('the daemon\'s refusal (unknown object) is passed on as a ControlError', async () => {
    server = await startControlServer(sock, fakeHandlers({ regen: () => Promise.reject(new ControlError('bad-request', 'no loaded object named nope')) }).handlers);
    await assert.rejects(run('--socket', sock, 'nope'), (e: unknown) => e instanceof ControlError && e.code === 'bad-request' && e.message === 'no loaded object named nope');
  });

  it('daemon not running -> not-running naming the socket', async () => {
    await assert.rejects(run('--socket', sock, 'loop'), (e: unknown) => e instanceof ControlError && e.code === 'not-running'
      && e.message === `btf-extrad is not running (no socket at ${sock})`);
  });

  it('usage errors: nothing, names with --all, bad --timeout', async () => {
    await assert.rejects(run(), (e: unknown) => e instanceof UsageError && e.message === 'expected object names or --all (see --help)');
    await assert.rejects(run('--all', 'loop'), (e: unknown) => e instanceof UsageError && e.message === 'give object names or --all, not both');
    await assert.rejects(run('loop', '--timeout', 'soon'), (e: unknown) => e instanceof UsageError && e.message === "--timeout: expected a positive number of seconds, got 'soon'");
  });

  it('--timeout bounds the wait', async () => {
    server = await startControlServer(sock, fakeHandlers({ regen: () => new Promise(() => { /* never ends */ }) }).handlers);
    await assert.rejects(run('--socket', sock, '--timeout', '0.2', 'loop'), (e: unknown) => e instanceof ControlError && e.code === 'timeout');
  });
});
