import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, statSync, closeSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Publisher } from '../../src/daemon/publish.js';
import type { BtfOps } from '../../src/daemon/btf-ops.js';
import type { DaemonStatus } from '../../src/daemon/api.js';

/** Fake merges that record their inputs as text, so tests see exactly what was merged. */
const txt = (b: Uint8Array): string => Buffer.from(b).toString();
const fakeOps: BtfOps = {
  inspect: () => ({ vars: 0 }),
  canMerge: true,
  flattenOnto: (chain) => Buffer.from(`onto(${chain.map(txt).join(',')})`),
  flattenStandalone: (chain) => Buffer.from(`standalone(${chain.map(txt).join(',')})`),
  mergeSiblings: (base, sibs) => Buffer.from(`kernel(${base.map(txt).join('+')};${sibs.map((s) => s.map(txt).join('+')).join(',')})`),
};
const b = (s: string): Uint8Array => Buffer.from(s);
const read = (p: string): string => readFileSync(p, 'utf8');

describe('daemon/publish', () => {
  let dir: string;
  let pub: Publisher;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'btfx-pub-')); pub = new Publisher(join(dir, 'run'), fakeOps); });

  it('writes the mirror, the extras and the merged views', async () => {
    pub.put('vmlinux', b('V'), b('VX'));
    pub.put('loop', b('L'), b('LX'));
    pub.put('crc7', b('C'), undefined);
    const r = join(dir, 'run');
    assert.deepEqual(readdirSync(join(r, 'btf')).sort(), ['crc7', 'loop', 'loop-btf-extra', 'vmlinux', 'vmlinux-btf-extra']);
    assert.equal(read(join(r, 'btf/loop-btf-extra')), 'LX');
    assert.equal(read(join(r, 'merged/loop')), 'onto(V,L,LX)');
    assert.equal(read(join(r, 'merged/vmlinux')), 'standalone(V,VX)');
    assert.ok(!existsSync(join(r, 'merged/crc7')));
    assert.ok(pub.kernelStale);
    assert.equal(await pub.rebuildKernel(), 'kernel(V+VX;C,L+LX)'.length);
    assert.equal(read(join(r, 'merged/kernel')), 'kernel(V+VX;C,L+LX)');
    assert.ok(!pub.kernelStale);
  });

  it('merged/<module> does not wait for vmlinux itself to be published (its extras may take long)', () => {
    pub.setVmlinux(b('V'));
    pub.put('loop', b('L'), b('LX'));
    assert.equal(read(join(dir, 'run/merged/loop')), 'onto(V,L,LX)');
  });

  it('unload removes the object entries and the next kernel view leaves it out', async () => {
    pub.put('vmlinux', b('V'), undefined);
    pub.put('loop', b('L'), b('LX'));
    await pub.rebuildKernel();
    pub.remove('loop');
    const r = join(dir, 'run');
    assert.deepEqual(readdirSync(join(r, 'btf')), ['vmlinux']);
    assert.ok(!existsSync(join(r, 'merged/loop')));
    assert.ok(pub.kernelStale);
    await pub.rebuildKernel();
    // vmlinux alone (no extras, no modules): its own BTF is the view, copied without a merge.
    assert.equal(read(join(r, 'merged/kernel')), 'V');
  });

  it('a new base (module replaced) drops the old extras and merged view before the new base is written', () => {
    const r = join(dir, 'run');
    const seen: string[] = [];
    // While the new chain is merged, look at what a reader would find: never the old extras or old merged view.
    const spy = new Publisher(join(dir, 'run'), {
      ...fakeOps,
      flattenOnto: (chain) => {
        seen.push(`${read(join(r, 'btf/loop'))}|${read(join(r, 'btf/loop-btf-extra'))}|${existsSync(join(r, 'merged/loop')) ? read(join(r, 'merged/loop')) : '-'}`);
        return fakeOps.flattenOnto(chain);
      },
    });
    spy.setVmlinux(b('V'));
    spy.put('loop', b('L1'), b('X1'));
    spy.put('loop', b('L2'), b('X2'));
    assert.deepEqual(seen, ['L1|X1|-', 'L2|X2|-']);
    assert.equal(read(join(r, 'merged/loop')), 'onto(V,L2,X2)');
  });

  it('losing extras (regen failed, policy never) removes the extra and merged files but keeps the mirror', () => {
    pub.put('vmlinux', b('V'), undefined);
    pub.put('loop', b('L'), b('LX'));
    pub.put('loop', b('L'), undefined);
    assert.deepEqual(readdirSync(join(dir, 'run/btf')).sort(), ['loop', 'vmlinux']);
    assert.ok(!existsSync(join(dir, 'run/merged/loop')));
  });

  it('replaces files atomically: a reader holding the old file keeps old bytes, no temp files remain', () => {
    pub.put('vmlinux', b('V'), b('old extras'));
    const f = join(dir, 'run/btf/vmlinux-btf-extra');
    const ino = statSync(f).ino;
    const fd = openSync(f, 'r');
    pub.put('vmlinux', b('V'), b('new extras, longer'));
    const buf = Buffer.alloc(64);
    const n = readSync(fd, buf, 0, 64, 0);
    closeSync(fd);
    assert.equal(buf.subarray(0, n).toString(), 'old extras');
    assert.notEqual(statSync(f).ino, ino, 'replaced by rename, not rewritten in place');
    assert.equal(read(f), 'new extras, longer');
    for (const d of ['run/btf', 'run/merged']) assert.deepEqual(readdirSync(join(dir, d)).filter((n2) => n2.startsWith('.')), []);
  });

  it('without merge support the merged views are skipped, the chain is still published', async () => {
    const p = new Publisher(join(dir, 'r2'), { ...fakeOps, canMerge: false });
    p.put('vmlinux', b('V'), b('VX'));
    assert.equal(await p.rebuildKernel(), undefined);
    assert.ok(existsSync(join(dir, 'r2/btf/vmlinux-btf-extra')));
    assert.ok(!existsSync(join(dir, 'r2/merged/vmlinux')));
  });

  it('a merged/kernel rebuild abandoned by a stop (AbortError) keeps the previous file and warns nothing', async () => {
    const warnings: string[] = [];
    let abort = false;
    const ops: BtfOps = {
      ...fakeOps,
      mergeSiblings: (base, sibs) => (abort
        ? Promise.reject(Object.assign(new Error('stopping'), { name: 'AbortError' }))
        : fakeOps.mergeSiblings(base, sibs)),
    };
    const p = new Publisher(join(dir, 'r3'), ops, (m) => warnings.push(m));
    p.put('vmlinux', b('V'), b('VX'));
    await p.rebuildKernel();
    p.put('loop', b('L'), b('LX'));
    abort = true;
    assert.equal(await p.rebuildKernel(), undefined);
    assert.equal(read(join(dir, 'r3/merged/kernel')), 'kernel(V+VX;)');
    assert.deepEqual(warnings, []);
  });

  it('a failing merge warns and leaves no merged file', () => {
    const warnings: string[] = [];
    const p = new Publisher(join(dir, 'r3'), { ...fakeOps, flattenOnto: () => { throw new Error('boom'); } }, (m) => warnings.push(m));
    p.put('vmlinux', b('V'), undefined);
    p.put('loop', b('L'), b('LX'));
    assert.ok(!existsSync(join(dir, 'r3/merged/loop')));
    assert.deepEqual(warnings, ['loop: merged view not written: boom']);
  });

  it('status.json is valid JSON of the status', () => {
    const status: DaemonStatus = { version: '0.1.0', pid: 1, root: '/', kernelRelease: 'r', startedAt: 'a', updatedAt: 'b', published: {}, objects: [] };
    pub.writeStatus(status);
    assert.deepEqual(JSON.parse(read(join(dir, 'run/status.json'))), status);
  });

  it('sweep removes files of an earlier run for objects not loaded now, and temp files', () => {
    const r = join(dir, 'run');
    mkdirSync(join(r, 'btf'), { recursive: true });
    mkdirSync(join(r, 'merged'), { recursive: true });
    for (const f of ['btf/gone', 'btf/gone-btf-extra', 'merged/gone', 'btf/.x.tmp-1']) writeFileSync(join(r, f), 'x');
    writeFileSync(join(r, 'btf/loop-btf-extra'), 'old run');
    pub.put('vmlinux', b('V'), b('VX'));
    assert.equal(pub.sweep(new Set(['vmlinux', 'loop'])), 4);
    assert.deepEqual(readdirSync(join(r, 'btf')).sort(), ['loop-btf-extra', 'vmlinux', 'vmlinux-btf-extra'], 'a loaded object keeps its old files until republished');
  });

  it('refuses names that are not plain file names', () => {
    for (const n of ['../x', 'a/b', '', 'kernel', 'loop-btf-extra']) assert.throws(() => pub.put(n, b('x'), undefined), /refusing to publish/);
  });
});
