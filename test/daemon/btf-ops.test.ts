import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { libraryBtfOps, libraryVariableFinder } from '../../src/daemon/btf-ops.js';
import { KernelWorker } from '../../src/daemon/merge-worker.js';
import { KIND } from '../../src/btf/kinds.js';
import { exposeAnonEnums, mergeSiblings } from '../../src/btf/merge.js';
import { parseBtf } from '../../src/btf/parse.js';
import { validateBtf } from '../../src/btf/validate.js';
import type { Btf } from '../../src/btf/btf.js';
import { BUNDLED_CLI } from '../../src/daemon/encoder.js';
import { bpftoolDump, requireOk } from '../support/kernel-load.js';
import { fixtureSet } from './harness.js';

describe('daemon/btf-ops (the BTF library behind the daemon)', function () {
  this.timeout(60000);
  const dir = mkdtempSync(join(tmpdir(), 'btfx-ops-'));
  const fx = fixtureSet();
  const vmlinux = fx.vmlinuxBtf;
  const loop = readFileSync(fx.modules.get('loop')?.btfFile ?? '');
  const crc7 = readFileSync(fx.modules.get('crc7')?.btfFile ?? '');
  let loopExtras: Uint8Array;

  before(() => {
    writeFileSync(join(dir, 'vmlinux'), vmlinux);
    writeFileSync(join(dir, 'loop'), loop);
    const r = spawnSync(process.execPath, [BUNDLED_CLI, 'encode', fx.modules.get('loop')?.debugFile ?? '', '--base', join(dir, 'vmlinux'), '--base', join(dir, 'loop'), '--vars', 'all', '-o', join(dir, 'loop-btf-extra')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    loopExtras = readFileSync(join(dir, 'loop-btf-extra'));
  });

  it('inspect counts the VARs of extras on their chain and rejects bytes that are not BTF', () => {
    assert.equal(libraryBtfOps.inspect(loopExtras, [vmlinux, loop]).vars, 30);
    assert.throws(() => libraryBtfOps.inspect(Buffer.from('FAKE-EXTRAS'), [vmlinux, loop]));
  });

  it('a module level parsed on one copy of vmlinux is not reused on another copy (merges check ancestry by identity)', async () => {
    const copy = Uint8Array.from(vmlinux);
    assert.equal(libraryBtfOps.inspect(loopExtras, [vmlinux, loop]).vars, 30);
    const onCopy = libraryBtfOps.flattenOnto([copy, loop, loopExtras]);
    assert.ok(Buffer.from(onCopy).equals(Buffer.from(libraryBtfOps.flattenOnto([vmlinux, loop, loopExtras]))));
    const parts = [await libraryBtfOps.kernelPart([copy], [crc7], 'crc7'), await libraryBtfOps.kernelPart([copy], [loop, loopExtras], 'loop')];
    assert.ok((await libraryBtfOps.joinKernel([copy], parts)).length > 0);
  });

  it('flattenOnto gives one level on vmlinux that bpftool reads', function () {
    const merged = libraryBtfOps.flattenOnto([vmlinux, loop, loopExtras]);
    writeFileSync(join(dir, 'merged-loop'), merged);
    const out = requireOk(this, bpftoolDump(join(dir, 'merged-loop'), join(dir, 'vmlinux')));
    assert.match(out, /VAR 'max_loop'/);
  });

  /** merged/kernel of vmlinux, crc7 and loop with extras, in process: the parts (name order) and the join. */
  async function kernelOf(base: readonly Uint8Array[]): Promise<Uint8Array> {
    const parts = [await libraryBtfOps.kernelPart(base, [crc7], 'crc7'), await libraryBtfOps.kernelPart(base, [loop, loopExtras], 'loop')];
    return libraryBtfOps.joinKernel(base, parts);
  }
  const ownVars = (btf: Btf, from: number): Map<number, string> => {
    const out = new Map<number, string>();
    btf.types.forEach((t, i) => { if (t.kind === KIND.VAR && btf.startId + i >= from) out.set(btf.startId + i, btf.str(t.nameOff)); });
    return out;
  };

  it('merged/kernel from parts: one valid standalone BTF, every module VAR in a DATASEC named <object>.<section>; bpftool reads it', async function () {
    const bytes = await kernelOf([vmlinux]);
    const btf = parseBtf(bytes);
    assert.deepEqual(validateBtf(btf), []);
    const vmEnd = parseBtf(vmlinux).nextId;
    const extras = parseBtf(loopExtras, { base: parseBtf(loop, { base: parseBtf(vmlinux) }) });
    const wanted = [...ownVars(extras, 0).values()].sort();
    assert.equal(wanted.length, 30);
    const vars = ownVars(btf, vmEnd);
    assert.deepEqual([...vars.values()].sort(), wanted, 'every VAR of loop\'s extras, once');
    const inSection = new Map<number, string>();
    for (const t of btf.types) {
      if (t.kind !== KIND.DATASEC) continue;
      for (const v of t.vars) inSection.set(v.type, btf.str(t.nameOff));
    }
    for (const id of vars.keys()) assert.match(inSection.get(id) ?? '(none)', /^loop\.(\.data|\.bss|\.rodata|__param|__versions|\.gnu\.linkonce\.this_module)$/, btf.nameOf(id));
    for (const t of btf.types) if (t.kind === KIND.DATASEC) assert.match(btf.str(t.nameOff), /^(vmlinux|loop|crc7)\./);
    writeFileSync(join(dir, 'kernel'), bytes);
    const out = requireOk(this, bpftoolDump(join(dir, 'kernel')));
    assert.match(out, /VAR 'max_loop'/);
    assert.match(out, /DATASEC 'loop\.\.data'/);
    assert.match(out, /DATASEC 'loop\.__param'/);
  });

  it('merged/kernel from parts: the same inputs give the same bytes; it holds every named type of a full mergeSiblings, and few more types', async () => {
    const a = await kernelOf([vmlinux]);
    const b = await kernelOf([Uint8Array.from(vmlinux)]);
    assert.ok(Buffer.from(a).equals(Buffer.from(b)));
    const root = parseBtf(vmlinux);
    const full = mergeSiblings(root, [parseBtf(crc7, { base: root }), parseBtf(loopExtras, { base: parseBtf(loop, { base: root }) })],
      { objects: { base: 'vmlinux', siblings: ['crc7', 'loop'] } });
    exposeAnonEnums(full);
    const joined = parseBtf(a);
    const named = (btf: Btf): Set<string> => new Set(btf.types.filter((t) => t.nameOff !== 0).map((t) => `${t.kind}:${btf.str(t.nameOff)}`));
    const have = named(joined);
    assert.deepEqual([...named(full)].filter((n) => !have.has(n)), []);
    // Two modules: the join can only repeat what both add beyond vmlinux.
    assert.ok(joined.nextId >= full.nextId && joined.nextId - full.nextId < 50, `${joined.nextId - 1} types, full merge ${full.nextId - 1}`);
  });

  it('one long-lived worker makes the parts and the join: the same bytes as in process, one worker for all jobs', async () => {
    const w = new KernelWorker();
    try {
      const base = [vmlinux];
      const parts = await Promise.all([w.kernelPart(base, [crc7], 'crc7'), w.kernelPart(base, [loop, loopExtras], 'loop')]);
      const viaWorker = await w.joinKernel(base, parts);
      assert.ok(Buffer.from(viaWorker).equals(Buffer.from(await kernelOf(base))));
      assert.equal(w.started, 1);
    } finally { await w.close(); }
  });

  it('a join sends the worker only the parts it does not keep: none it made, all after a restart; the same bytes either way', async () => {
    const w = new KernelWorker({ idleMs: 50 });
    try {
      const base = [vmlinux];
      const parts = await Promise.all([w.kernelPart(base, [crc7], 'crc7'), w.kernelPart(base, [loop, loopExtras], 'loop')]);
      const first = await w.joinKernel(base, parts);
      assert.equal(w.partBytesSent, 0, 'the worker made both parts: the join names them');
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(w.pid, undefined, 'idle: the worker and the parts it kept are gone');
      const again = await w.joinKernel(base, parts);
      assert.equal(w.partBytesSent, parts[0]!.length + parts[1]!.length, 'a new worker gets every part once');
      assert.ok(Buffer.from(again).equals(Buffer.from(first)));
      await w.joinKernel(base, parts);
      assert.equal(w.partBytesSent, parts[0]!.length + parts[1]!.length, 'and keeps them for the next join');
      assert.equal(w.started, 2);
    } finally { await w.close(); }
  });

  it('the worker process exits when idle and a later job starts another', async () => {
    const w = new KernelWorker({ idleMs: 20 });
    try {
      const part = await w.kernelPart([vmlinux], [crc7], 'crc7');
      const pid = w.pid;
      assert.ok(pid !== undefined);
      await new Promise((r) => setTimeout(r, 300));
      // A process, not a thread: gone, it has given all its memory back.
      assert.equal(w.pid, undefined);
      assert.throws(() => process.kill(pid, 0), (e: NodeJS.ErrnoException) => e.code === 'ESRCH');
      assert.ok(Buffer.from(await w.kernelPart([vmlinux], [crc7], 'crc7')).equals(Buffer.from(part)));
      assert.equal(w.started, 2);
    } finally { await w.close(); }
  });

  it('an idle worker does not keep the daemon\'s process alive (the process exits long before the worker would)', function () {
    this.timeout(60_000);
    const worker = new URL('../../src/daemon/merge-worker.js', import.meta.url).href;
    const script = `import { KernelWorker } from ${JSON.stringify(worker)};
      import { readFileSync } from 'node:fs';
      const [vm, crc7] = process.argv.slice(1).map((f) => readFileSync(f));
      const w = new KernelWorker({ idleMs: 60000 });
      const part = await w.kernelPart([vm], [crc7], 'crc7');
      process.stdout.write(String(part.length));`;
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, join(dir, 'vmlinux'), fx.modules.get('crc7')?.btfFile ?? ''], { encoding: 'utf8', timeout: 50_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(Number(r.stdout) > 0);
    assert.ok(Date.now() - t0 < 30_000, `exited after ${Date.now() - t0} ms`);
  });

  it('an abort (daemon stopping) terminates the worker and rejects with AbortError; an aborted signal starts none', async () => {
    const stop = new AbortController();
    const w = new KernelWorker({ signal: stop.signal });
    const pending = w.kernelPart([vmlinux], [loop, loopExtras], 'loop');
    stop.abort();
    await assert.rejects(pending, (e: Error) => e.name === 'AbortError' && /stopping/.test(e.message));
    await assert.rejects(w.joinKernel([vmlinux], []), (e: Error) => e.name === 'AbortError');
    assert.equal(w.started, 1);
  });

  it('a failed job rejects with the reason; the worker goes on with the next', async () => {
    const w = new KernelWorker();
    try {
      await assert.rejects(w.kernelPart([Buffer.from('not btf')], [crc7], 'crc7'));
      assert.ok((await w.kernelPart([vmlinux], [crc7], 'crc7')).length > 0);
      assert.equal(w.started, 1);
    } finally { await w.close(); }
  });

  it('the variable finder reports module variables under the module and vmlinux ones once', () => {
    const chains = [
      { name: 'vmlinux', objectBtf: vmlinux, vmlinux, extras: undefined },
      { name: 'loop', objectBtf: loop, vmlinux, extras: loopExtras },
      { name: 'crc7', objectBtf: crc7, vmlinux, extras: undefined },
    ];
    const hits = libraryVariableFinder.find('max_loop', chains);
    assert.ok(Array.isArray(hits));
    assert.deepEqual((hits as { object: string; cType: string }[]).map((h) => [h.object, h.cType]), [['loop', 'int']]);
    const percpu = libraryVariableFinder.find('runqueues', chains) as { object: string; section: string }[];
    assert.deepEqual(percpu.map((h) => [h.object, h.section]), [['vmlinux', '.data..percpu']]);
  });
});
