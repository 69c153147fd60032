import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import { BUNDLED_CLI, EncodeFailed, WarmEncoderPool, type EncodeRequest } from '../../src/daemon/encoder.js';
import { procPidFile } from '../../src/host/paths.js';
import { fixtureSet } from './harness.js';

/** A stand-in for encoder-child.js, driven by the debug file's name. */
const FAKE_CHILD = `
const grown = [];
process.on('disconnect', () => process.exit(0));
process.on('message', (job) => {
  const reply = (r) => process.send({ id: job.id, ...r });
  const dbg = job.debugFile;
  if (dbg.endsWith('ok')) reply({ ok: true, bytes: Buffer.from(JSON.stringify({ pid: process.pid, heap: process.execArgv, bases: job.bases, vars: job.vars })) });
  else if (dbg.endsWith('fail')) reply({ ok: false, errorName: 'EncoderError', code: 'bad-object', message: dbg + ': .debug_info +0x10: bad abbrev' });
  else if (dbg.endsWith('crash')) { process.stderr.write('boom\\n'); process.exit(3); }
  else if (dbg.endsWith('hang')) setInterval(() => {}, 1000);
  else if (dbg.endsWith('spin')) for (;;) {}
  else if (dbg.endsWith('oom')) { const a = []; for (;;) a.push(new Array(1e6).fill(1)); }
  else if (dbg.endsWith('bigbuf')) { const a = []; for (let i = 0; i < 12; i++) a.push(Buffer.alloc(32 << 20, 1)); setInterval(() => a.length, 1000); }
  else if (dbg.endsWith('grow')) { for (let i = 0; i < 5; i++) grown.push(Buffer.alloc(32 << 20, 1)); reply({ ok: true, bytes: Buffer.from('grown') }); }
});
`;

const isGone = (pid: number): boolean => {
  try { return / [ZX] /.test(readFileSync(procPidFile(pid, 'stat'), 'utf8').replace(/^.*\)/, ')')); } catch { return true; }
};

describe('daemon/encoder (warm encoder pool)', function () {
  this.timeout(60000);
  const dir = mkdtempSync(join(tmpdir(), 'btfx-enc-'));
  const child = join(dir, 'fake-child.cjs');
  writeFileSync(child, FAKE_CHILD);
  const pools: WarmEncoderPool[] = [];
  const pool = (o: ConstructorParameters<typeof WarmEncoderPool>[0] = {}): WarmEncoderPool => { const p = new WarmEncoderPool({ child, ...o }); pools.push(p); return p; };
  afterEach(async () => { for (const p of pools.splice(0)) await p.close(); });
  const req = (debugFile: string, over: Partial<EncodeRequest> = {}): EncodeRequest => ({
    debugFile, bases: ['/b/vmlinux', '/b/loop'], vars: 'all', timeoutMs: 10000, memoryMB: 256, ...over,
  });
  const seen = (b: Uint8Array): { pid: number; heap: string[]; bases: string[]; vars: string } => JSON.parse(Buffer.from(b).toString()) as never;

  it('jobs go over the pipe to one warm child (heap limit, bases, vars), which is reused', async () => {
    const p = pool();
    const a = seen(await p.encode(req('ok')));
    const b = seen(await p.encode(req('ok')));
    assert.deepEqual(a.heap, ['--max-old-space-size=256']);
    assert.deepEqual(a.bases, ['/b/vmlinux', '/b/loop']);
    assert.equal(a.vars, 'all');
    assert.equal(a.pid, b.pid, 'the second job ran on the same warm child');
    assert.equal(p.stats.started, 1);
  });

  it('an encoder error fails that job with its code; the child stays warm', async () => {
    const p = pool();
    const before = seen(await p.encode(req('ok'))).pid;
    await assert.rejects(p.encode(req('fail')), (e: unknown) => e instanceof EncodeFailed && e.code === 'invalid-dwarf' && e.message === 'fail: .debug_info +0x10: bad abbrev');
    assert.equal(seen(await p.encode(req('ok'))).pid, before);
  });

  // Each bad job fails alone with its code, and the next job runs on a fresh child.
  const bad: [string, Partial<EncodeRequest>, string, RegExp][] = [
    ['crash', {}, 'encoder-crash', /^encoder died \(3\): boom$/],
    ['hang', { timeoutMs: 300 }, 'encoder-timeout', /killed after 0 s/],
    ['spin', { timeoutMs: 300 }, 'encoder-timeout', /killed after 0 s/],
    ['oom', { memoryMB: 64 }, 'encoder-memory', /ran out of memory \(jobs\.memoryMB 64\)|resident memory \d+ MB over jobs\.memoryMB 64/],
    ['bigbuf', { memoryMB: 128 }, 'encoder-memory', /^encoder killed: resident memory \d+ MB over jobs\.memoryMB 128$/],
  ];
  for (const [what, over, code, message] of bad) {
    it(`a ${what} job fails with ${code}; the next job runs on a fresh child`, async () => {
      const p = pool();
      const same = { memoryMB: over.memoryMB ?? 256 };
      const first = seen(await p.encode(req('ok', same))).pid;
      await assert.rejects(p.encode(req(what, over)), (e: unknown) => e instanceof EncodeFailed && e.code === code && message.test(e.message));
      const next = seen(await p.encode(req('ok', same))).pid;
      assert.notEqual(next, first);
      assert.ok(isGone(first), 'the bad child is gone');
    });
  }

  it('a child over half its memory budget after a job is recycled', async () => {
    const p = pool();
    const first = seen(await p.encode(req('ok'))).pid;
    assert.equal(Buffer.from(await p.encode(req('grow'))).toString(), 'grown');
    assert.notEqual(seen(await p.encode(req('ok'))).pid, first);
    assert.equal(p.stats.recycled, 1);
  });

  it('an idle child exits after idleMs; the next job starts a fresh one', async () => {
    const p = pool({ idleMs: 200 });
    const first = seen(await p.encode(req('ok'))).pid;
    assert.deepEqual(p.pids(), [first]);
    const t0 = Date.now();
    while (p.pids().length > 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(p.pids(), [], 'no child left while idle');
    assert.notEqual(seen(await p.encode(req('ok'))).pid, first);
  });

  it('the RSS sampler kills a child reading over the limit (fake reading)', async () => {
    const p = pool({ rssOf: () => 300 * 1048576 });
    await assert.rejects(p.encode(req('hang', { memoryMB: 256 })), (e: unknown) => e instanceof EncodeFailed && e.code === 'encoder-memory' && /300 MB/.test(e.message));
  });

  it('abort kills the child (shutdown, unload); an aborted signal never starts', async () => {
    const p = pool();
    const ac = new AbortController();
    const job = p.encode(req('hang', { signal: ac.signal }));
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(job, (e: unknown) => e instanceof EncodeFailed && e.aborted);
    const pre = new AbortController();
    pre.abort();
    await assert.rejects(p.encode(req('ok', { signal: pre.signal })), (e: unknown) => e instanceof EncodeFailed && e.aborted);
  });

  it('a missing node binary is a spawn failure', async () => {
    const p = pool({ node: '/nonexistent/node', pdeathsig: false });
    await assert.rejects(p.encode(req('ok')), (e: unknown) => e instanceof EncodeFailed && e.code === 'encoder-spawn');
  });

  // SIGKILL of the daemon runs no handler: the children must still go (pdeathsig for a busy child,
  // the closed IPC pipe for an idle one).
  for (const [how, job, pdeathsig] of [['setpriv --pdeathsig', 'spin', true], ['IPC disconnect', 'hang', false]] as const) {
    it(`encoder children die with a SIGKILLed owner (${how})`, async function () {
      if (pdeathsig && spawnSync('setpriv', ['--version']).status !== 0) this.skip();
      const owner = join(dir, `owner-${job}.mjs`);
      const mod = pathToFileURL(join(process.cwd(), 'dist/src/daemon/encoder.js')).href;
      writeFileSync(owner, `import { WarmEncoderPool } from ${JSON.stringify(mod)};
const p = new WarmEncoderPool({ child: ${JSON.stringify(child)}, pdeathsig: ${pdeathsig} });
p.encode({ debugFile: '${job}', bases: [], vars: 'all', timeoutMs: 60000, memoryMB: 256 }).catch(() => {});
setTimeout(() => process.stdout.write(p.pids().join(',') + '\\n'), 500);
setInterval(() => {}, 1000);
`);
      const o = spawn(process.execPath, [owner], { stdio: ['ignore', 'pipe', 'inherit'] });
      const pid = await new Promise<number>((resolve) => o.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
      assert.ok(pid > 0 && !isGone(pid));
      o.kill('SIGKILL');
      const t0 = Date.now();
      while (!isGone(pid) && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
      assert.ok(isGone(pid), `encoder child ${pid} outlived its owner`);
    });
  }

  it('the real child encodes a module with a warm vmlinux chain, the same bytes as `btf-extra encode`', async function () {
    const fx = fixtureSet();
    const loop = fx.modules.get('loop');
    if (!loop?.debugFile) { this.skip(); return; }
    writeFileSync(join(dir, 'vmlinux'), fx.vmlinuxBtf);
    const bases = [join(dir, 'vmlinux'), loop.btfFile];
    const r = spawnSync(process.execPath, [BUNDLED_CLI, 'encode', loop.debugFile, ...bases.flatMap((b) => ['--base', b]), '--vars', 'all', '-o', join(dir, 'loop.cli')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const p = new WarmEncoderPool();
    pools.push(p);
    const once = await p.encode(req(loop.debugFile, { bases, memoryMB: 1024 }));
    const twice = await p.encode(req(loop.debugFile, { bases, memoryMB: 1024 }));
    assert.deepEqual(Buffer.from(once), readFileSync(join(dir, 'loop.cli')));
    assert.deepEqual(Buffer.from(twice), Buffer.from(once));
    assert.equal(p.stats.started, 1);
    await assert.rejects(p.encode(req(join(dir, 'vmlinux'), { bases, memoryMB: 1024 })), (e: unknown) => e instanceof EncodeFailed && e.code === 'invalid-dwarf');
  });
});
