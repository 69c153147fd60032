/**
 * A map from non-negative integers (DIE offsets) to int32 values, open addressing over typed
 * arrays. The encoder memoises millions of DIE offsets for vmlinux; a JS Map of that size spends
 * most of its time in hashing and cache misses, this one in a multiply and a probe.
 */
export class IntMap {
  private keys: Int32Array;
  private values: Int32Array;
  private mask: number;
  private count = 0;

  constructor(capacity = 1 << 12) {
    let cap = 1 << 12;
    while (cap < capacity * 2) cap <<= 1;
    this.keys = new Int32Array(cap).fill(-1);
    this.values = new Int32Array(cap);
    this.mask = cap - 1;
  }

  get size(): number { return this.count; }

  get(key: number): number | undefined {
    const keys = this.keys;
    let i = Math.imul(key, 0x9e3779b1) & this.mask;
    for (;;) {
      const k = keys[i]!;
      if (k === key) return this.values[i];
      if (k === -1) return undefined;
      i = (i + 1) & this.mask;
    }
  }

  set(key: number, value: number): void {
    if (key < 0 || key > 0x7fffffff) throw new RangeError(`IntMap key ${key} out of range`);
    if ((this.count + 1) * 2 > this.keys.length) this.grow();
    const keys = this.keys;
    let i = Math.imul(key, 0x9e3779b1) & this.mask;
    for (;;) {
      const k = keys[i]!;
      if (k === key) { this.values[i] = value; return; }
      if (k === -1) { keys[i] = key; this.values[i] = value; this.count++; return; }
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const cap = oldKeys.length * 2;
    this.keys = new Int32Array(cap).fill(-1);
    this.values = new Int32Array(cap);
    this.mask = cap - 1;
    this.count = 0;
    for (let i = 0; i < oldKeys.length; i++) if (oldKeys[i] !== -1) this.set(oldKeys[i]!, oldValues[i]!);
  }
}
