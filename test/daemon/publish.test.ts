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
  kernelPart: (base, chain, name) => Buffer.from(`${name}=${chain.map(txt).join('+')}@${base.map(txt).join('+')}`),
  joinKernel: (base, parts) => Buffer.from(`kernel(${base.map(txt).join('+')};${parts.map(txt).join(',')})`),
};
/** A publisher with fakeOps that list the parts they make (by module name), `objects` published. */
function countingPublisher(runtimeDir: string, objects: Record<string, [string, string | undefined]>): { p: Publisher; made: string[] } {
  const made: string[] = [];
  const p = new Publisher(runtimeDir, { ...fakeOps, kernelPart: (base, chain, name) => { made.push(name); return fakeOps.kernelPart(base, chain, name); } });
  for (const [name, [btf, extras]] of Object.entries(objects)) p.put(name, b(btf), extras === undefined ? undefined : b(extras));
  return { p, made };
}
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
    const kernel = 'kernel(V+VX;crc7=C@V+VX,loop=L+LX@V+VX)';
    assert.equal(await pub.rebuildKernel(), kernel.length);
    assert.equal(read(join(r, 'merged/kernel')), kernel);
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
      joinKernel: (base, parts) => (abort
        ? Promise.reject(Object.assign(new Error('stopping'), { name: 'AbortError' }))
        : fakeOps.joinKernel(base, parts)),
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

  it('merged/kernel in parts: a republished module gets a new part, the others are reused; an unloaded one leaves the join', async () => {
    const { p, made } = countingPublisher(join(dir, 'r4'), { vmlinux: ['V', undefined], loop: ['L', 'LX'], crc7: ['C', undefined], xfs: ['X', 'XX'] });
    await p.rebuildKernel();
    assert.deepEqual(made.sort(), ['crc7', 'loop', 'xfs'], 'one part per module');
    made.length = 0;
    p.put('loop', b('L'), b('LX2'));
    p.put('xfs', Buffer.from('X'), Buffer.from('XX'));
    await p.rebuildKernel();
    assert.deepEqual(made, ['loop'], 'only the module whose extras changed (the same bytes again are no change)');
    assert.equal(read(join(dir, 'r4/merged/kernel')), 'kernel(V;crc7=C@V,loop=L+LX2@V,xfs=X+XX@V)');
    made.length = 0;
    p.remove('crc7');
    await p.rebuildKernel();
    assert.deepEqual(made, []);
    assert.equal(read(join(dir, 'r4/merged/kernel')), 'kernel(V;loop=L+LX2@V,xfs=X+XX@V)');
    p.put('crc7', b('C'), undefined);
    await p.rebuildKernel();
    assert.deepEqual(made, ['crc7'], 'an unloaded module\'s part was dropped: loaded again, it is made again');
  });

  it('merged/kernel in parts: a new kernel base (vmlinux extras arrive or change) remakes every part; the same base again does not', async () => {
    const { p, made } = countingPublisher(join(dir, 'r5'), { vmlinux: ['V', undefined], loop: ['L', 'LX'], crc7: ['C', undefined] });
    await p.rebuildKernel();
    made.length = 0;
    p.put('vmlinux', b('V'), b('VX'));
    await p.rebuildKernel();
    assert.deepEqual(made.sort(), ['crc7', 'loop']);
    assert.equal(read(join(dir, 'r5/merged/kernel')), 'kernel(V+VX;crc7=C@V+VX,loop=L+LX@V+VX)');
    made.length = 0;
    p.put('vmlinux', Buffer.from('V'), Buffer.from('VX'));
    await p.rebuildKernel();
    assert.deepEqual(made, []);
    p.put('vmlinux', b('V'), b('VX2'));
    await p.rebuildKernel();
    assert.deepEqual(made.sort(), ['crc7', 'loop']);
  });

  it('merged/kernel in parts: a part is started when its module is published, before any rebuild', () => {
    const { p, made } = countingPublisher(join(dir, 'r6'), { loop: ['L', 'LX'] });
    assert.deepEqual(made, [], 'no kernel base yet');
    p.put('vmlinux', b('V'), undefined);
    assert.deepEqual(made, ['loop']);
    p.put('crc7', b('C'), undefined);
    assert.deepEqual(made, ['loop', 'crc7']);
  });

  it('a failing part warns, leaves no merged/kernel, and is tried again by the next rebuild', async () => {
    const warnings: string[] = [];
    let fail = true;
    const p = new Publisher(join(dir, 'r7'), { ...fakeOps, kernelPart: (base, chain, name) => {
      if (fail && name === 'loop') throw new Error('bad loop');
      return fakeOps.kernelPart(base, chain, name);
    } }, (m) => warnings.push(m));
    p.put('vmlinux', b('V'), undefined);
    p.put('loop', b('L'), b('LX'));
    assert.equal(await p.rebuildKernel(), undefined);
    assert.ok(!existsSync(join(dir, 'r7/merged/kernel')));
    assert.deepEqual(warnings, ['merged/kernel not written: bad loop']);
    fail = false;
    assert.ok((await p.rebuildKernel() ?? 0) > 0);
    assert.equal(read(join(dir, 'r7/merged/kernel')), 'kernel(V;loop=L+LX@V)');
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
