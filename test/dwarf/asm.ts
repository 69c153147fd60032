/**
 * Test helper: an assembler for DWARF byte sequences, with labels and forward fixups so
 * unit lengths and references are computed, not hand-counted.
 *
 *   const a = new Asm();
 *   a.u32Diff('end', 'start').label('start').u16(5) ... .label('end');
 *   a.bytes()  // fixups resolved
 */
export class Asm {
  private readonly out: number[] = [];
  private readonly labels = new Map<string, number>();
  private readonly fixups: { at: number; size: number; compute: () => number | bigint }[] = [];

  get pos(): number { return this.out.length; }
  label(name: string): this { this.labels.set(name, this.out.length); return this; }
  at(name: string): number {
    const v = this.labels.get(name);
    if (v === undefined) throw new Error(`undefined label ${name}`);
    return v;
  }

  u8(v: number): this { this.out.push(v & 0xff); return this; }
  u16(v: number): this { return this.int(v, 2); }
  u24(v: number): this { return this.int(v, 3); }
  u32(v: number): this { return this.int(v, 4); }
  u64(v: number | bigint): this { return this.int(v, 8); }
  int(v: number | bigint, size: number): this {
    let x = BigInt.asUintN(size * 8, BigInt(v));
    for (let i = 0; i < size; i++) { this.out.push(Number(x & 0xffn)); x >>= 8n; }
    return this;
  }
  uleb(v: number | bigint): this {
    let x = BigInt(v);
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x !== 0n) b |= 0x80;
      this.out.push(b);
    } while (x !== 0n);
    return this;
  }
  sleb(v: number | bigint): this {
    let x = BigInt(v);
    for (;;) {
      const b = Number(x & 0x7fn);
      x >>= 7n;
      const done = (x === 0n && (b & 0x40) === 0) || (x === -1n && (b & 0x40) !== 0);
      this.out.push(done ? b : b | 0x80);
      if (done) return this;
    }
  }
  cstr(s: string): this { this.out.push(...Buffer.from(s), 0); return this; }
  raw(bytes: ArrayLike<number>): this { for (let i = 0; i < bytes.length; i++) this.out.push(bytes[i]!); return this; }

  /** A `size`-byte field holding label(end) - label(start), resolved at bytes(). */
  diff(end: string, start: string, size = 4): this {
    this.fixups.push({ at: this.out.length, size, compute: () => this.at(end) - this.at(start) });
    return this.int(0, size);
  }
  /** A `size`-byte field holding label(name) - base. */
  ref(name: string, size = 4, base = 0): this {
    this.fixups.push({ at: this.out.length, size, compute: () => this.at(name) - base });
    return this.int(0, size);
  }
  /** A ULEB128 of label(end) - label(start), padded to `width` bytes so its size is known up front. */
  ulebDiff(end: string, start: string, width = 2): this {
    const at = this.out.length;
    this.fixups.push({ at, size: -width, compute: () => this.at(end) - this.at(start) });
    for (let i = 0; i < width; i++) this.out.push(0);
    return this;
  }

  bytes(): Uint8Array {
    const b = Uint8Array.from(this.out);
    for (const f of this.fixups) {
      const v = BigInt(f.compute());
      if (f.size > 0) {
        let x = BigInt.asUintN(f.size * 8, v);
        for (let i = 0; i < f.size; i++) { b[f.at + i] = Number(x & 0xffn); x >>= 8n; }
      } else {
        let x = v;
        const w = -f.size;
        for (let i = 0; i < w; i++) { b[f.at + i] = Number(x & 0x7fn) | (i < w - 1 ? 0x80 : 0); x >>= 7n; }
      }
    }
    return b;
  }
}

/** Abbreviation entry: [code, tag, hasChildren, [[attr, form, implicitConst?], ...]]. */
export type AbbrevSpec = [number, number, boolean, [number, number, (number | bigint)?][]];

export function abbrevTable(entries: AbbrevSpec[]): Uint8Array {
  const a = new Asm();
  for (const [code, tag, children, attrs] of entries) {
    a.uleb(code).uleb(tag).u8(children ? 1 : 0);
    for (const [at, form, k] of attrs) {
      a.uleb(at).uleb(form);
      if (form === 0x21) a.sleb(k ?? 0);
    }
    a.uleb(0).uleb(0);
  }
  a.uleb(0);
  return a.bytes();
}

/**
 * One unit in `a`: header (DWARF `version`, 32-bit), then `body` writes the DIEs.
 * Labels: `${id}.start` (header), `${id}.end`. Returns `a` for chaining.
 */
export function unit(a: Asm, id: string, body: (a: Asm) => void, opts: { version?: number; abbrevOffset?: number; addressSize?: number; unitType?: number } = {}): Asm {
  const version = opts.version ?? 5;
  a.label(`${id}.start`).diff(`${id}.end`, `${id}.len`).label(`${id}.len`).u16(version);
  if (version >= 5) a.u8(opts.unitType ?? 1).u8(opts.addressSize ?? 8).u32(opts.abbrevOffset ?? 0);
  else a.u32(opts.abbrevOffset ?? 0).u8(opts.addressSize ?? 8);
  body(a);
  return a.label(`${id}.end`);
}
