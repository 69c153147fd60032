import { strict as assert } from 'node:assert';
import { IntMap } from '../../src/encoder/intmap.js';

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
});
