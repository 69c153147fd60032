import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { main } from '../../src/cli/btf-extra.js';
import { UsageError } from '../../src/cli/command.js';
import { lookupCommand } from '../../src/cli/commands/lookup.js';
import { BtfBuilder } from '../../src/btf/builder.js';
import { BtfError } from '../../src/btf/errors.js';
import { VAR_LINKAGE } from '../../src/btf/kinds.js';
import { parseBtf } from '../../src/btf/parse.js';
import { writeBtf } from '../../src/btf/write.js';
import type { LookupHit } from '../../src/daemon/api.js';
import { ControlError } from '../../src/daemon/control/protocol.js';
import { startControlServer, type ControlServer } from '../../src/daemon/control/server.js';
import { captureIo, runCommand } from '../support/cli-io.js';
import { fixture } from '../support/paths.js';
import { fakeHandlers, tempDir } from '../daemon/control/fake-handlers.js';

describe('btf-extra lookup', () => {
  let tmp: ReturnType<typeof tempDir>;
  let server: ControlServer | undefined;
  beforeEach(() => { tmp = tempDir('lk'); });
  afterEach(async () => { await server?.close(); server = undefined; tmp.cleanup(); });

  const run = (...argv: string[]): ReturnType<typeof runCommand> => runCommand(lookupCommand, argv);

  describe('through the daemon', () => {
    it('prints where the variable is and its declaration', async () => {
      const f = fakeHandlers();
      const sock = join(tmp.dir, 'c.sock');
      server = await startControlServer(sock, f.handlers);
      const r = await run('max_loop', '--socket', sock);
      assert.equal(r.code, 0);
      assert.deepEqual(f.calls.lookup, ['max_loop']);
      const lines = r.out.trimEnd().split('\n');
      assert.match(lines[0] ?? '', /^OBJECT\s+LINKAGE\s+SECTION\s+OFFSET\s+SIZE\s+BTF ID\s+DECLARATION$/);
      assert.match(lines[1] ?? '', /^loop\s+static\s+\.data\s+0x10\s+4\s+120001\s+int max_loop$/);
    });
    it('--json prints the hits; several objects with the name are all listed', async () => {
      const two: LookupHit[] = [
        { variable: 'names', object: 'vmlinux', cType: 'const char *[4]', section: '.rodata', offset: 0, size: 32, linkage: 'global', btfId: 7 },
        { variable: 'names', object: 'kvm', cType: 'int (*)(int)', section: '.data', offset: 8, size: 8, linkage: 'static', btfId: 99 },
      ];
      const sock = join(tmp.dir, 'c.sock');
      server = await startControlServer(sock, fakeHandlers({ lookup: async () => two }).handlers);
      const j = await run('names', '--socket', sock, '--json');
      assert.deepEqual(JSON.parse(j.out), { variable: 'names', hits: two });
      const t = await run('names', '--socket', sock);
      assert.match(t.out, /\nvmlinux\s+global\s+\.rodata\s+0x0\s+32\s+7\s+const char \*names\[4\]\n/);
      assert.match(t.out, /\nkvm\s+static\s+\.data\s+0x8\s+8\s+99\s+int \(\*names\)\(int\)\n$/);
    });
    it('no hit -> exit 1 with a message', async () => {
      const sock = join(tmp.dir, 'c.sock');
      server = await startControlServer(sock, fakeHandlers().handlers);
      const r = await run('nothing_here', '--socket', sock);
      assert.equal(r.code, 1);
      assert.equal(r.out, '');
      assert.equal(r.err, "btf-extra lookup: no variable named 'nothing_here' in the daemon's merged view\n");
    });
    it('finds the socket under --root; daemon down -> not-running', async () => {
      server = await startControlServer(join(tmp.dir, 'run/btf-extra/control.sock'), fakeHandlers().handlers);
      assert.equal((await run('max_loop', '--root', tmp.dir)).code, 0);
      await server.close();
      server = undefined;
      await assert.rejects(run('max_loop', '--root', tmp.dir), (e: unknown) => e instanceof ControlError && e.code === 'not-running'
        && e.message === `btf-extrad is not running (no socket at ${join(tmp.dir, 'run/btf-extra/control.sock')})`);
    });
  });

  describe('offline, in BTF files', () => {
    let vmlinuxFile: string;
    let extrasFile: string;
    beforeEach(() => {
      const vmlinuxBytes = gunzipSync(readFileSync(fixture('kernel/btf/vmlinux.gz')));
      vmlinuxFile = join(tmp.dir, 'vmlinux');
      writeFileSync(vmlinuxFile, vmlinuxBytes);
      // An extras level split on vmlinux -> loop, as the daemon publishes it.
      const vmlinux = parseBtf(vmlinuxBytes);
      const loop = parseBtf(readFileSync(fixture('kernel/btf/loop')), { base: vmlinux });
      const b = new BtfBuilder({ base: loop });
      const int = vmlinux.findByName('int')[0] ?? 0;
      const v = b.addVar('max_loop', int, VAR_LINKAGE.STATIC);
      b.addDatasec('.data', 8);
      b.addVarInfo(v, 4, 4);
      extrasFile = join(tmp.dir, 'loop-btf-extra');
      writeFileSync(extrasFile, writeBtf(b.btf));
    });

    it('looks a variable up in a 3-level chain given with --base', async () => {
      const r = await run('max_loop', '--btf', extrasFile, '--base', vmlinuxFile, '--base', fixture('kernel/btf/loop'));
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /\nloop-btf-extra\s+static\s+\.data\s+0x4\s+4\s+\d+\s+int max_loop\n$/);
      const v = await run('runqueues', '--btf', extrasFile, '--base', vmlinuxFile, '--base', fixture('kernel/btf/loop'), '--json');
      assert.deepEqual((JSON.parse(v.out) as { hits: LookupHit[] }).hits, [{
        variable: 'runqueues', object: 'vmlinux', cType: 'struct rq', section: '.data..percpu', offset: 203136, size: 3264, linkage: 'global', btfId: 38003,
      }]);
    });
    it('a standalone file needs no --base; no hit -> exit 1 naming the file', async () => {
      const r = await run('current_task', '--btf', vmlinuxFile);
      assert.equal(r.code, 0);
      assert.match(r.out, /\nvmlinux\s+global\s+\.data\.\.percpu\s+0x1fb80\s+8\s+36419\s+struct task_struct \*current_task\n$/);
      const miss = await run('max_loop', '--btf', vmlinuxFile);
      assert.equal(miss.code, 1);
      assert.equal(miss.err, `btf-extra lookup: no variable named 'max_loop' in ${vmlinuxFile}\n`);
    });
    it('a file that is not BTF -> BtfError; through the dispatcher, exit 1 with one line', async () => {
      const junk = join(tmp.dir, 'junk');
      writeFileSync(junk, 'this is not BTF at all, really');
      await assert.rejects(run('x', '--btf', junk), (e: unknown) => e instanceof BtfError && e.code === 'bad-magic');
      await assert.rejects(run('x', '--btf', join(tmp.dir, 'missing')), (e: unknown) => e instanceof BtfError && e.code === 'io');
      const io = captureIo();
      assert.equal(await main(['lookup', 'x', '--btf', junk], io), 1);
      assert.match(io.stderr(), /^btf-extra lookup: .*junk.*\n$/);
      assert.equal(io.stderr().split('\n').length, 2);
    });
  });

  it('usage errors', async () => {
    const usage = (m: string) => (e: unknown) => e instanceof UsageError && e.message === m;
    await assert.rejects(run(), usage('expected exactly one VAR (see --help)'));
    await assert.rejects(run('a', 'b'), usage('expected exactly one VAR (see --help)'));
    await assert.rejects(run(''), usage('VAR must not be empty'));
    await assert.rejects(run('a', '--base', 'x'), usage('--base needs --btf'));
    await assert.rejects(run('a', '--btf', 'f', '--socket', 's'), usage('--btf looks in a file: it does not combine with --root/--socket'));
    await assert.rejects(run('a', '--timeout', '0'), usage("--timeout: expected a positive number of seconds, got '0'"));
  });
});
