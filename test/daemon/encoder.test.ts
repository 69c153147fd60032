import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChildProcessEncoder, EncodeFailed, type EncodeRequest } from '../../src/daemon/encoder.js';

/** A stand-in for `btf-extra encode`, driven by the debug file's name. */
const FAKE_CLI = `
const args = process.argv.slice(2);
const out = args[args.indexOf('-o') + 1];
const dbg = args[1];
const fs = require('node:fs');
if (dbg.endsWith('ok')) { fs.writeFileSync(out, JSON.stringify({ args, heap: process.execArgv })); process.exit(0); }
if (dbg.endsWith('fail')) { process.stderr.write('warning: something\\nbtf-extra encode: ' + dbg + ': .debug_info +0x10: bad abbrev\\n'); process.exit(1); }
if (dbg.endsWith('hang')) { setInterval(() => {}, 1000); }
if (dbg.endsWith('oom')) { const a = []; for (;;) a.push(new Array(1e6).fill(1)); }
if (dbg.endsWith('bigbuf')) { const a = []; for (let i = 0; i < 12; i++) a.push(Buffer.alloc(32 << 20, 1)); setInterval(() => a.length, 1000); }
`;

describe('daemon/encoder (child process)', function () {
  this.timeout(30000);
  const dir = mkdtempSync(join(tmpdir(), 'btfx-enc-'));
  const cli = join(dir, 'fake-cli.cjs');
  writeFileSync(cli, FAKE_CLI);
  const enc = new ChildProcessEncoder(cli);
  const req = (debugFile: string, over: Partial<EncodeRequest> = {}): EncodeRequest => ({
    debugFile, bases: ['/b/vmlinux', '/b/loop'], vars: 'all', out: join(dir, `${debugFile}.out`), timeoutMs: 10000, memoryMB: 256, ...over,
  });

  it('passes encode DEBUG --base... --vars -o OUT and the heap limit', async () => {
    await enc.encode(req('ok'));
    const seen = JSON.parse(readFileSync(join(dir, 'ok.out'), 'utf8')) as { args: string[]; heap: string[] };
    assert.deepEqual(seen.args, ['encode', 'ok', '--base', '/b/vmlinux', '--base', '/b/loop', '--vars', 'all', '-o', join(dir, 'ok.out')]);
    assert.deepEqual(seen.heap, ['--max-old-space-size=256']);
  });

  it('a non-zero exit rejects with the last stderr line', async () => {
    await assert.rejects(enc.encode(req('fail')), (e: unknown) => e instanceof EncodeFailed && e.kind === 'exit' && e.message === 'encoder exited 1: btf-extra encode: fail: .debug_info +0x10: bad abbrev');
  });

  it('a job over its time limit is killed', async () => {
    const t0 = Date.now();
    await assert.rejects(enc.encode(req('hang', { timeoutMs: 300 })), (e: unknown) => e instanceof EncodeFailed && e.kind === 'timeout' && /killed after 0 s/.test(e.message));
    assert.ok(Date.now() - t0 < 5000);
  });

  it('a job over its memory limit fails with a clear reason', async () => {
    await assert.rejects(enc.encode(req('oom', { memoryMB: 64 })), (e: unknown) => e instanceof EncodeFailed && /ran out of memory \(jobs\.memoryMB 64\)|exited|resident memory \d+ MB over jobs\.memoryMB 64/.test(e.message));
  });

  it('a job whose resident memory (Buffers, outside the V8 heap) goes over the limit is killed', async () => {
    const t0 = Date.now();
    await assert.rejects(enc.encode(req('bigbuf', { memoryMB: 128 })),
      (e: unknown) => e instanceof EncodeFailed && e.kind === 'memory' && /^encoder killed: resident memory \d+ MB over jobs\.memoryMB 128$/.test(e.message));
    assert.ok(Date.now() - t0 < 8000);
    // The sampler reads the child's RSS: with a fake reading over the limit, even `ok` is killed.
    const greedy = new ChildProcessEncoder(cli, process.execPath, () => 300 * 1048576);
    await assert.rejects(greedy.encode(req('hang', { memoryMB: 256 })), (e: unknown) => e instanceof EncodeFailed && e.kind === 'memory' && /300 MB/.test(e.message));
  });

  it('abort kills the child (shutdown, unload)', async () => {
    const ac = new AbortController();
    const p = enc.encode(req('hang', { signal: ac.signal }));
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(p, (e: unknown) => e instanceof EncodeFailed && e.kind === 'aborted');
    const pre = new AbortController();
    pre.abort();
    await assert.rejects(enc.encode(req('ok', { signal: pre.signal })), (e: unknown) => e instanceof EncodeFailed && e.kind === 'aborted');
  });

  it('a missing node binary is a spawn failure', async () => {
    const bad = new ChildProcessEncoder(cli, '/nonexistent/node');
    await assert.rejects(bad.encode(req('ok')), (e: unknown) => e instanceof EncodeFailed && e.kind === 'spawn');
    assert.ok(existsSync(cli));
  });
});
