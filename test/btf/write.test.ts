import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseBtf } from '../../src/btf/parse.js';
import { flattenStandalone } from '../../src/btf/merge.js';
import { writeBtf, writeFlat } from '../../src/btf/write.js';
import { fixture, kernelDir, requireShared } from '../support/paths.js';
import { FIXTURE_MODULES, allKinds, threeLevels, vmlinux, vmlinuxBytes } from './sample.js';

function sameBytes(a: Uint8Array, b: Uint8Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  assert.ok(Buffer.from(a).equals(Buffer.from(b)), `${what}: bytes differ`);
}

describe('btf/write', () => {
  it('vmlinux: read then write gives identical bytes', () => {
    sameBytes(writeBtf(vmlinux()), vmlinuxBytes(), 'vmlinux');
  });

  it('fixture modules (split on vmlinux): identical bytes', () => {
    for (const m of FIXTURE_MODULES) {
      const bytes = readFileSync(fixture('kernel/btf', m));
      sameBytes(writeBtf(parseBtf(bytes, { base: vmlinux() })), bytes, m);
    }
  });

  it('built BTF: write -> parse -> write is a fixed point, and deterministic', () => {
    const a = writeBtf(allKinds());
    sameBytes(writeBtf(allKinds()), a, 'same input twice');
    sameBytes(writeBtf(parseBtf(a)), a, 'round trip');
    const { base, mid, top } = threeLevels();
    const b2 = parseBtf(writeBtf(base));
    const m2 = parseBtf(writeBtf(mid), { base: b2 });
    sameBytes(writeBtf(m2), writeBtf(mid), 'mid');
    sameBytes(writeBtf(parseBtf(writeBtf(top), { base: m2 })), writeBtf(top), 'top');
  });

  it('writeFlat: a whole chain as one standalone file, the same bytes as writeBtf(flattenStandalone(top))', () => {
    const { base, mid, top } = threeLevels();
    sameBytes(writeFlat(top), writeBtf(flattenStandalone(top)), 'built chain');
    sameBytes(writeFlat(base), writeBtf(base), 'one level');
    // parsed levels go out as read (their words, not re-encoded)
    const vm = vmlinux();
    const loop = parseBtf(readFileSync(fixture('kernel/btf', 'loop')), { base: vm });
    sameBytes(writeFlat(loop), writeBtf(flattenStandalone(loop)), 'vmlinux + loop');
    assert.equal(parseBtf(writeFlat(mid)).nextId, mid.nextId);
  });

  it('header: 24 bytes, types at 0, strings right after', () => {
    const out = writeBtf(allKinds());
    const dv = new DataView(out.buffer);
    assert.equal(dv.getUint16(0, true), 0xeb9f);
    assert.equal(out[2], 1);
    assert.equal(out[3], 0);
    assert.equal(dv.getUint32(4, true), 24);
    assert.equal(dv.getUint32(8, true), 0);
    assert.equal(dv.getUint32(16, true), dv.getUint32(12, true));
    assert.equal(24 + dv.getUint32(12, true) + dv.getUint32(20, true), out.length);
  });

  it('all 1122 shared files round-trip byte for byte (shared)', function () {
    requireShared(this);
    const vbytes = readFileSync(join(kernelDir, 'btf/vmlinux'));
    const v = parseBtf(vbytes, { source: 'vmlinux' });
    sameBytes(writeBtf(v), vbytes, 'vmlinux');
    const dir = join(kernelDir, 'btf/modules');
    const names = readdirSync(dir).sort();
    assert.equal(names.length, 1121);
    for (const n of names) {
      const bytes = readFileSync(join(dir, n));
      sameBytes(writeBtf(parseBtf(bytes, { base: v, source: n })), bytes, n);
    }
  });
});
