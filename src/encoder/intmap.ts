/**
 * A map from non-negative integers (DIE offsets) to int32 values, open addressing over one typed
 * array of (key, value) pairs. The encoder memoises millions of DIE offsets for vmlinux; a JS Map
 * of that size spends most of its time in hashing and cache misses, this one in a multiply and,
 * mostly, one cache line per probe (key and value side by side).
 */
export class IntMap {
  /** slots[2i] = key (-1 = empty), slots[2i + 1] = value. */
  private slots: Int32Array;
  /** 32 - log2(capacity): Fibonacci hashing keeps the product's high bits, which mix every key bit. */
  private shift: number;
  private count = 0;

  constructor(capacity = 1 << 12) {
    let bits = 12;
    while ((1 << bits) < capacity * 2) bits++;
    this.slots = new Int32Array(2 << bits).fill(-1);
    this.shift = 32 - bits;
  }

  get size(): number { return this.count; }

  get(key: number): number | undefined {
    const slots = this.slots;
    const mask = (slots.length >>> 1) - 1;
    let i = Math.imul(key, 0x9e3779b1) >>> this.shift;
    for (;;) {
      const k = slots[2 * i]!;
      if (k === key) return slots[2 * i + 1];
      if (k === -1) return undefined;
      i = (i + 1) & mask;
    }
  }

  set(key: number, value: number): void {
    if (key < 0 || key > 0x7fffffff) throw new RangeError(`IntMap key ${key} out of range`);
    if ((this.count + 1) * 4 > this.slots.length) this.grow();
    const slots = this.slots;
    const mask = (slots.length >>> 1) - 1;
    let i = Math.imul(key, 0x9e3779b1) >>> this.shift;
    for (;;) {
      const k = slots[2 * i]!;
      if (k === key) { slots[2 * i + 1] = value; return; }
      if (k === -1) { slots[2 * i] = key; slots[2 * i + 1] = value; this.count++; return; }
      i = (i + 1) & mask;
    }
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Int32Array(old.length * 2).fill(-1);
    this.shift--;
    this.count = 0;
    for (let i = 0; i < old.length; i += 2) if (old[i] !== -1) this.set(old[i]!, old[i + 1]!);
  }
}

/**
 * A map from short int32 tuples to int32 values, for hash-consing decoded types without building
 * a string key per DIE (vmlinux decodes millions). Keys are copied into one growing Int32Array;
 * `get`/`set` take the caller's scratch array and the tuple's length, so a lookup allocates nothing.
 */
export class TupleMap {
  private keys = new Int32Array(1 << 16);
  private used = 0;
  private starts = new Int32Array(1 << 12);
  private lengths = new Int32Array(1 << 12);
  private values = new Int32Array(1 << 12);
  private count = 0;
  /** slot -> entry + 1 (0 = empty). */
  private table = new Int32Array(1 << 13);
  private shift = 32 - 13;

  get size(): number { return this.count; }

  get(key: ArrayLike<number>, n: number): number | undefined {
    const e = this.find(key, n, hashTuple(key, n));
    return e < 0 ? undefined : this.values[e];
  }

  set(key: ArrayLike<number>, n: number, value: number): void {
    const h = hashTuple(key, n);
    const e = this.find(key, n, h);
    if (e >= 0) { this.values[e] = value; return; }
    if ((this.count + 1) * 2 > this.table.length) this.rehash();
    if (this.count === this.starts.length) {
      this.starts = grown(this.starts, this.count * 2);
      this.lengths = grown(this.lengths, this.count * 2);
      this.values = grown(this.values, this.count * 2);
    }
    if (this.used + n > this.keys.length) this.keys = grown(this.keys, Math.max(this.keys.length * 2, this.used + n));
    const entry = this.count++;
    for (let j = 0; j < n; j++) this.keys[this.used + j] = key[j]! | 0;
    this.starts[entry] = this.used;
    this.lengths[entry] = n;
    this.values[entry] = value;
    this.used += n;
    this.insert(entry, h);
  }

  private find(key: ArrayLike<number>, n: number, h: number): number {
    const table = this.table;
    const mask = table.length - 1;
    const keys = this.keys;
    for (let i = h >>> this.shift; ; i = (i + 1) & mask) {
      const e = table[i]! - 1;
      if (e < 0) return -1;
      if (this.lengths[e] !== n) continue;
      const s = this.starts[e]!;
      let j = 0;
      while (j < n && keys[s + j] === (key[j]! | 0)) j++;
      if (j === n) return e;
    }
  }

  private insert(entry: number, h: number): void {
    const table = this.table;
    const mask = table.length - 1;
    let i = h >>> this.shift;
    while (table[i] !== 0) i = (i + 1) & mask;
    table[i] = entry + 1;
  }

  private rehash(): void {
    this.table = new Int32Array(this.table.length * 2);
    this.shift--;
    for (let e = 0; e < this.count; e++) {
      const s = this.starts[e]!;
      this.insert(e, hashTuple(this.keys.subarray(s, s + this.lengths[e]!), this.lengths[e]!));
    }
  }
}

function hashTuple(key: ArrayLike<number>, n: number): number {
  let h = Math.imul(n, 0x9e3779b1);
  for (let i = 0; i < n; i++) {
    h = Math.imul(h ^ (key[i]! | 0), 0x85ebca6b);
    h ^= h >>> 13;
  }
  h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35);
  return Math.imul(h ^ (h >>> 15), 0x9e3779b1);
}

function grown(a: Int32Array, n: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(n);
  b.set(a);
  return b;
}
