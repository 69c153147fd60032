import assert from 'node:assert/strict';
import {
  KIND, KIND_NAME, LAYOUT, cloneType, decodeType, encodeType, encodedSize, forEachStrOff, forEachTypeId, infoOf,
  REF_KINDS, forEachEncodedTypeId, mapEncodedRefs, mapStrOffs, mapTypeIds, recordSize, vlenOf, type Kind,
} from '../../src/btf/kinds.js';
import type { BtfType } from '../../src/btf/types.js';
import { allKinds } from './sample.js';

/** Every id field of `t`, read by hand per kind (independent of the visitors under test). */
function idsByHand(t: BtfType): number[] {
  switch (t.kind) {
    case KIND.PTR: case KIND.TYPEDEF: case KIND.VOLATILE: case KIND.CONST: case KIND.RESTRICT:
    case KIND.FUNC: case KIND.VAR: case KIND.DECL_TAG: case KIND.TYPE_TAG: return [t.type];
    case KIND.ARRAY: return [t.elemType, t.indexType];
    case KIND.STRUCT: case KIND.UNION: return t.members.map((m) => m.type);
    case KIND.FUNC_PROTO: return [t.returnType, ...t.params.map((p) => p.type)];
    case KIND.DATASEC: return t.vars.map((v) => v.type);
    default: return [];
  }
}

describe('btf/kinds', () => {
  const types = allKinds().types;

  it('the sample covers every kind', () => {
    assert.deepEqual([...new Set(types.map((t) => t.kind))].sort((a, b) => a - b), Array.from({ length: 19 }, (_, i) => i + 1));
    for (let k = 1; k <= 19; k++) assert.ok(KIND_NAME[k as Kind].length > 0);
  });

  it('mapTypeIds visits every type-id field once, in record order, and stores the results', () => {
    for (const t of types) {
      const seen: number[] = [];
      forEachTypeId(t, (id) => { seen.push(id); });
      assert.deepEqual(seen, idsByHand(t), KIND_NAME[t.kind]);
      const c = cloneType(t);
      mapTypeIds(c, (id) => id + 1000);
      assert.deepEqual(idsByHand(c), idsByHand(t).map((id) => id + 1000));
      assert.deepEqual(idsByHand(t), seen, 'the clone is deep: the original is untouched');
    }
  });

  it('mapStrOffs visits the name and every member/parameter/enumerator name', () => {
    for (const t of types) {
      const seen: number[] = [];
      forEachStrOff(t, (off) => { seen.push(off); });
      const entries = t.kind === KIND.STRUCT || t.kind === KIND.UNION ? t.members
        : t.kind === KIND.ENUM || t.kind === KIND.ENUM64 ? t.values
          : t.kind === KIND.FUNC_PROTO ? t.params : [];
      assert.deepEqual(seen, [t.nameOff, ...entries.map((e) => e.nameOff)]);
      const c = cloneType(t);
      mapStrOffs(c, () => 7);
      forEachStrOff(c, (off) => assert.equal(off, 7));
    }
  });

  it('encode/decode round-trip every kind; sizes and info words agree with LAYOUT', () => {
    for (const t of types) {
      const size = encodedSize(t);
      const vlen = t.kind === KIND.FUNC ? 0 : vlenOf(t);
      assert.equal(size, recordSize(t.kind, vlen));
      assert.equal(size, 12 + LAYOUT[t.kind].fixed + LAYOUT[t.kind].perVlen * vlen);
      const w = new Uint32Array(size / 4);
      assert.equal(encodeType(t, w, 0), size / 4);
      assert.equal(w[1], infoOf(t));
      const back = decodeType(w, 0, t.kind, t.kflag, vlenOf(t));
      assert.deepEqual(back, t, KIND_NAME[t.kind]);
    }
  });

  it('decodeType refuses what the model cannot hold', () => {
    const w = new Uint32Array([1, (KIND.INT << 24) >>> 0, 4, 0x0100]);
    assert.match(String(decodeType(w, 0, KIND.INT, false, 0)), /reserved bits 8-15/);
    const a = new Uint32Array([0, (KIND.ARRAY << 24) >>> 0, 5, 1, 1, 1]);
    assert.match(String(decodeType(a, 0, KIND.ARRAY, false, 0)), /ARRAY size\/type word is 5/);
    const p = new Uint32Array([0, ((KIND.PTR << 24) | 1) >>> 0, 1]);
    assert.match(String(decodeType(p, 0, KIND.PTR, false, 1)), /vlen 1 on a kind without entries/);
  });

  it('mapEncodedRefs (and forEachEncodedTypeId) moves the same fields in an encoded record as mapTypeIds + mapStrOffs on the decoded one, every kind', () => {
    const btf = allKinds();
    const kinds = new Set<Kind>();
    for (const t of btf.types) {
      kinds.add(t.kind);
      const w = new Uint32Array(encodedSize(t) >>> 2);
      encodeType(t, w, 0);
      const ids: number[] = [];
      const strs: number[] = [];
      mapEncodedRefs(w, 0, (id) => { ids.push(id); return id + 1000; }, (off) => { strs.push(off); return off + 7; });
      const c = cloneType(t);
      mapTypeIds(c, (id) => id + 1000);
      mapStrOffs(c, (off) => off + 7);
      const want = new Uint32Array(w.length);
      encodeType(c, want, 0);
      assert.deepEqual([...w], [...want], KIND_NAME[t.kind]);
      assert.deepEqual(ids, idsByHand(t), KIND_NAME[t.kind]);
      const read: number[] = [];
      const fresh = new Uint32Array(encodedSize(t) >>> 2);
      encodeType(t, fresh, 0);
      forEachEncodedTypeId(fresh, 0, (id) => { read.push(id); });
      assert.deepEqual(read, idsByHand(t), `${KIND_NAME[t.kind]}: forEachEncodedTypeId`);
      let n = 0;
      forEachStrOff(t, () => { n++; });
      assert.equal(strs.length, n, KIND_NAME[t.kind]);
    }
    assert.equal(kinds.size, Object.keys(KIND_NAME).length - 1, 'every kind but void');
    for (const k of kinds) {
      if (k === KIND.UNKN) continue;
      assert.equal(LAYOUT[k].headerRef, REF_KINDS.has(k) || k === KIND.FUNC_PROTO, `${KIND_NAME[k]}: LAYOUT's header reference agrees with REF_KINDS`);
    }
  });
});
