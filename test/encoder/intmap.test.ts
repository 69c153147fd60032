import { strict as assert } from 'node:assert';
import { IntMap, TupleMap } from '../../src/encoder/intmap.js';

describe('encoder/intmap', () => {
  it('stores, overwrites and grows like a Map of int keys', () => {
    const m = new IntMap(4);
    const ref = new Map<number, number>();
    let x = 12345;
    for (let i = 0; i < 50_000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff;
      const key = x % 300_000;
      m.set(key, i);
      ref.set(key, i);
    }
    assert.equal(m.size, ref.size);
    for (const [k, v] of ref) assert.equal(m.get(k), v);
    assert.equal(m.get(300_001), undefined);
    m.set(0, -1);
    assert.equal(m.get(0), -1, 'negative values (PENDING) are values, not holes');
    assert.throws(() => m.set(-1, 0), RangeError);
  });

  it('TupleMap stores int32 tuples of any length like a Map keyed by their text, without keeping the caller\'s array', () => {
    const m = new TupleMap();
    const ref = new Map<string, number>();
    const scratch = new Int32Array(16);
    let x = 987;
    for (let i = 0; i < 40_000; i++) {
      const n = 1 + (i % 9);
      for (let j = 0; j < n; j++) {
        x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff;
        scratch[j] = j === 0 ? x % 7 : (x % 50) - 25; // small alphabet: many equal tuples, negative values
      }
      const key = Array.from(scratch.subarray(0, n)).join(',');
      const had = ref.get(key);
      assert.equal(m.get(scratch, n), had, key);
      if (had === undefined) { m.set(scratch, n, i); ref.set(key, i); }
    }
    assert.equal(m.size, ref.size);
    for (const [key, v] of ref) {
      const t = key.split(',').map(Number);
      assert.equal(m.get(t, t.length), v, key);
    }
    // a prefix is another key; uint32 values compare as their int32 bits
    m.set([1, 2], 2, 7);
    assert.equal(m.get([1, 2, 0], 3) === 7, false);
    m.set([0xffffffff], 1, 8);
    assert.equal(m.get([-1], 1), 8);
    m.set([1, 2], 2, 9);
    assert.equal(m.get([1, 2], 2), 9, 'set overwrites');
  });
});
