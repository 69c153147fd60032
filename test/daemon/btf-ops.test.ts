import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { libraryBtfOps, libraryVariableFinder } from '../../src/daemon/btf-ops.js';
import { mergeSiblingsInWorker } from '../../src/daemon/merge-worker.js';
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
    assert.ok((await libraryBtfOps.mergeSiblings([copy], [[loop, loopExtras], [crc7]])).length > 0);
  });

  it('flattenOnto gives one level on vmlinux that bpftool reads', function () {
    const merged = libraryBtfOps.flattenOnto([vmlinux, loop, loopExtras]);
    writeFileSync(join(dir, 'merged-loop'), merged);
    const out = requireOk(this, bpftoolDump(join(dir, 'merged-loop'), join(dir, 'vmlinux')));
    assert.match(out, /VAR 'max_loop'/);
  });

  it('mergeSiblings in a worker thread gives the same bytes as in-process', async () => {
    const sync = libraryBtfOps.mergeSiblings([vmlinux], [[loop, loopExtras], [crc7]]);
    const viaWorker = await mergeSiblingsInWorker([vmlinux], [[loop, loopExtras], [crc7]]);
    assert.ok(Buffer.from(sync as Uint8Array).equals(Buffer.from(viaWorker)));
  });

  it('an abort (daemon stopping) terminates the worker and rejects with AbortError; an aborted signal starts none', async () => {
    const stop = new AbortController();
    const pending = mergeSiblingsInWorker([vmlinux], [[loop, loopExtras], [crc7]], undefined, stop.signal);
    stop.abort();
    await assert.rejects(pending, (e: Error) => e.name === 'AbortError' && /stopping/.test(e.message));
    await assert.rejects(mergeSiblingsInWorker([vmlinux], [], undefined, stop.signal), (e: Error) => e.name === 'AbortError');
  });

  it('a worker failure rejects with the reason', async () => {
    await assert.rejects(mergeSiblingsInWorker([Buffer.from('not btf')], []));
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
