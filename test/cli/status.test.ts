import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/btf-extra.js';
import { UsageError } from '../../src/cli/command.js';
import { statusCommand } from '../../src/cli/commands/status.js';
import type { DaemonStatus } from '../../src/daemon/api.js';
import { ConfigError } from '../../src/daemon/config.js';
import { startControlServer, type ControlServer } from '../../src/daemon/control/server.js';
import { captureIo, runCommand } from '../support/cli-io.js';
import { fakeHandlers, fakeStatus, tempDir } from '../daemon/control/fake-handlers.js';

describe('btf-extra status', () => {
  let tmp: ReturnType<typeof tempDir>;
  let server: ControlServer | undefined;
  beforeEach(() => { tmp = tempDir('st'); });
  afterEach(async () => { await server?.close(); server = undefined; tmp.cleanup(); });

  const run = (...argv: string[]): ReturnType<typeof runCommand> => runCommand(statusCommand, argv);

  it('prints a table from the daemon: vmlinux first, then by name, with reasons and hints', async () => {
    const sock = join(tmp.dir, 'c.sock');
    server = await startControlServer(sock, fakeHandlers().handlers);
    const r = await run('--socket', sock);
    assert.equal(r.code, 0);
    assert.equal(r.err, '');
    const lines = r.out.split('\n');
    assert.equal(lines[0], 'btf-extrad 0.1.0 (pid 4242), kernel 6.1.0-56-cloud-amd64, 5 objects: 2 published, 1 failed, 1 no-debuginfo, 1 skipped');
    assert.equal(lines[1], 'updated 2026-01-01T00:00:05.000Z; merged view: /run/btf-extra/merged/kernel');
    assert.match(lines[3] ?? '', /^OBJECT\s+STATE\s+POLICY\s+SOURCE\s+VARS\s+SIZE\s+REASON \/ HINT$/);
    assert.deepEqual(lines.slice(4, 9).map((l) => l.split(/\s+/)[0]), ['vmlinux', 'crc7', 'kvm', 'loop', 'tcp_bbr']);
    assert.match(lines[4] ?? '', /^vmlinux\s+published\s+always\s+cache\s+34825\s+1\.2 MiB\s+-$/);
    assert.match(lines[6] ?? '', /^kvm\s+no-debuginfo\s+always\s+-\s+-\s+-\s+no debug file with build id 1234; install: apt-get install linux-image-6\.1\.0-56-cloud-amd64-dbg$/);
    assert.match(lines[7] ?? '', /^loop\s+published\s+always\s+encoder\s+12\s+2\.0 KiB\s+-$/);
  });

  it('--json prints the status document', async () => {
    const sock = join(tmp.dir, 'c.sock');
    server = await startControlServer(sock, fakeHandlers().handlers);
    const r = await run('--socket', sock, '--json');
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.out), fakeStatus);
  });

  it('finds the socket under --root, and under the config\'s runtimeDir', async () => {
    server = await startControlServer(join(tmp.dir, 'run/btf-extra/control.sock'), fakeHandlers().handlers);
    assert.equal((await run('--root', tmp.dir, '--json')).code, 0);
    await server.close();
    mkdirSync(join(tmp.dir, 'etc/btf-extra'), { recursive: true });
    writeFileSync(join(tmp.dir, 'etc/btf-extra/config.yaml'), 'runtimeDir: /srv/bx\n');
    server = await startControlServer(join(tmp.dir, 'srv/bx/control.sock'), fakeHandlers().handlers);
    const r = await run('--root', tmp.dir, '--json');
    assert.equal(r.code, 0);
    assert.equal(r.err, '');
  });

  it('falls back to status.json when the daemon is not running, and says so', async () => {
    const runDir = join(tmp.dir, 'run/btf-extra');
    mkdirSync(runDir, { recursive: true });
    writeFileSync(join(runDir, 'status.json'), JSON.stringify(fakeStatus));
    const r = await run('--root', tmp.dir);
    assert.equal(r.code, 0);
    assert.equal(r.err, `btf-extra status: btf-extrad is not running (no socket at ${runDir}/control.sock); showing ${runDir}/status.json (last written 2026-01-01T00:00:05.000Z)\n`);
    assert.match(r.out, /^btf-extrad 0\.1\.0 \(pid 4242\)/);
    assert.match(r.out, /\nkvm\s+no-debuginfo/);
  });

  it('no daemon and no status.json -> an error naming both', async () => {
    const runDir = join(tmp.dir, 'run/btf-extra');
    await assert.rejects(run('--root', tmp.dir), (e: unknown) => e instanceof Error
      && e.message === `btf-extrad is not running (no socket at ${runDir}/control.sock), and there is no ${runDir}/status.json`);
  });

  it('a FIFO as status.json is refused at once, not waited on', async function () {
    this.timeout(10000);
    const runDir = join(tmp.dir, 'run/btf-extra');
    mkdirSync(runDir, { recursive: true });
    execFileSync('mkfifo', [join(runDir, 'status.json')]);
    await assert.rejects(run('--root', tmp.dir), /, and .*status\.json: a FIFO, not a regular file; refusing to read it$/);
  });

  it('a status.json that is not JSON, or not a status -> an error', async () => {
    const runDir = join(tmp.dir, 'run/btf-extra');
    mkdirSync(runDir, { recursive: true });
    writeFileSync(join(runDir, 'status.json'), '{"objects": [');
    await assert.rejects(run('--root', tmp.dir), /, and .*status\.json is not JSON$/);
    writeFileSync(join(runDir, 'status.json'), '{"objects": [{"name": 1}]}');
    await assert.rejects(run('--root', tmp.dir), /, and .*status\.json is not a btf-extrad status document$/);
  });

  it('escapes control characters in names and reasons from the daemon', async () => {
    const sock = join(tmp.dir, 'c.sock');
    const hostile: DaemonStatus = { ...fakeStatus, objects: [{ name: 'evil\u001b[31m', state: 'failed', policy: 'always', reason: 'line1\nline2', since: 'x' }] };
    server = await startControlServer(sock, fakeHandlers({ status: () => hostile }).handlers);
    const r = await run('--socket', sock);
    assert.ok(!r.out.includes('\u001b'));
    assert.match(r.out, /evil\\u001b\[31m\s+failed\s+always\s+-\s+-\s+-\s+line1\\nline2\n$/);
  });

  it('usage errors: stray arguments and unknown options', async () => {
    await assert.rejects(run('extra'), (e: unknown) => e instanceof UsageError && e.message === "unexpected argument 'extra'");
    await assert.rejects(run('--bogus'), (e: unknown) => e instanceof UsageError && /Unknown option '--bogus'/.test(e.message));
    await assert.rejects(run('--socket'), (e: unknown) => e instanceof UsageError && /--socket/.test(e.message));
  });

  it('a broken default config is reported and ignored; a broken --config is an error', async () => {
    mkdirSync(join(tmp.dir, 'etc/btf-extra'), { recursive: true });
    writeFileSync(join(tmp.dir, 'etc/btf-extra/config.yaml'), 'runtimeDir: 42\n');
    server = await startControlServer(join(tmp.dir, 'run/btf-extra/control.sock'), fakeHandlers().handlers);
    const r = await run('--root', tmp.dir, '--json');
    assert.equal(r.code, 0);
    assert.match(r.err, /^btf-extra: ignoring .*config\.yaml: .*runtimeDir/);
    await assert.rejects(run('--root', tmp.dir, '--config', join(tmp.dir, 'etc/btf-extra/config.yaml')), ConfigError);
    await assert.rejects(run('--config', join(tmp.dir, 'nope.yaml')), (e: unknown) => e instanceof ConfigError && e.code === 'not-found');
  });

  it('through the dispatcher: errors are one line with exit 1, usage errors exit 2', async () => {
    const io = captureIo();
    assert.equal(await main(['status', '--root', tmp.dir], io), 1);
    const runDir = join(tmp.dir, 'run/btf-extra');
    assert.equal(io.stderr(), `btf-extra status: btf-extrad is not running (no socket at ${runDir}/control.sock), and there is no ${runDir}/status.json\n`);
    const io2 = captureIo();
    assert.equal(await main(['regen'], io2), 2);
    assert.equal(io2.stderr(), 'btf-extra regen: expected object names or --all (see --help)\n');
    const io3 = captureIo();
    assert.equal(await main(['status', '--help'], io3), 0);
    assert.match(io3.stdout(), /^Usage: btf-extra status/);
  });
});
