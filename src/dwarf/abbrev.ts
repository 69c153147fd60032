/**
 * .debug_abbrev tables, parsed once per (offset, unit encoding) into compact arrays so the
 * DIE walker never allocates per attribute: for each abbreviation, parallel typed arrays of
 * attribute names, forms, fixed sizes, and the byte offset of each attribute from the start
 * of the DIE's attribute data while all earlier attributes are fixed-size.
 */
import { DW_AT, DW_FORM } from './constants.js';
import type { DwarfSection } from './section.js';
import { formSize, UNKNOWN, VARIABLE, type UnitEncoding } from './forms.js';
import { formName } from './constants.js';

export interface Abbrev {
  readonly code: number;
  readonly tag: number;
  readonly hasChildren: boolean;
  /** This abbreviation's attributes are entries [first, first + count) of the shared arrays below. */
  readonly first: number;
  readonly count: number;
  /** Attribute names (one exact-size array shared by the whole table). */
  readonly attrs: Uint16Array;
  /** Forms (shared). */
  readonly forms: Uint16Array;
  /** Fixed size of each attribute, or VARIABLE (-1) (shared). */
  readonly sizes: Int8Array;
  /** Offset of each attribute from the DIE's attribute data while all before it are fixed-size, else -1 (shared). */
  readonly fixedOffsets: Int32Array;
  /** Total attribute bytes when every attribute is fixed-size, else -1. */
  readonly fixedTotal: number;
  /** Index (relative to `first`) of DW_AT_sibling, or -1. */
  readonly siblingIndex: number;
  /** DW_FORM_implicit_const values by relative attribute index (only when the abbrev has any). */
  readonly implicitConsts: readonly (bigint | undefined)[] | undefined;
}

export class AbbrevTable {
  readonly offset: number;
  private readonly dense: (Abbrev | undefined)[] = [];
  private readonly sparse = new Map<number, Abbrev>();

  constructor(offset: number) { this.offset = offset; }

  get(code: number): Abbrev | undefined {
    return code < this.dense.length ? this.dense[code] : this.sparse.get(code);
  }

  /** Internal (parser). */
  set(a: Abbrev): boolean {
    if (this.get(a.code) !== undefined) return false;
    if (a.code < 100000) {
      while (this.dense.length <= a.code) this.dense.push(undefined);
      this.dense[a.code] = a;
    } else this.sparse.set(a.code, a);
    return true;
  }

  *[Symbol.iterator](): IterableIterator<Abbrev> {
    for (const a of this.dense) if (a) yield a;
    yield* this.sparse.values();
  }
}

/** Form sizes for forms 0..0x2c under one encoding (cached: 3 encodings at most in practice). */
const sizeTables = new Map<string, Int8Array>();
function sizeTable(enc: UnitEncoding): Int8Array {
  const key = `${enc.version <= 2 ? 2 : 3}:${enc.addressSize}:${enc.offsetSize}`;
  let t = sizeTables.get(key);
  if (!t) {
    t = new Int8Array(0x2d);
    for (let f = 0; f < t.length; f++) t[f] = formSize(f, enc);
    sizeTables.set(key, t);
  }
  return t;
}

let ulebEnd = 0;

const scratch = { attrs: new Uint16Array(4096), forms: new Uint16Array(4096), sizes: new Int8Array(4096), fixed: new Int32Array(4096) };
function growScratch(): void {
  const grow = <T extends Uint16Array | Int8Array | Int32Array>(a: T, make: (n: number) => T): T => { const b = make(a.length * 2); b.set(a); return b; };
  scratch.attrs = grow(scratch.attrs, (k) => new Uint16Array(k));
  scratch.forms = grow(scratch.forms, (k) => new Uint16Array(k));
  scratch.sizes = grow(scratch.sizes, (k) => new Int8Array(k));
  scratch.fixed = grow(scratch.fixed, (k) => new Int32Array(k));
}
/** Multi-byte ULEB128 at `pos` (end left in ulebEnd). */
function slowUleb(sec: DwarfSection, pos: number): number {
  const b = sec.bytes;
  const start = pos;
  let result = 0;
  let mul = 1;
  for (;;) {
    if (pos >= b.length) throw sec.error('truncated', start, 'ULEB128 runs past the end of the section');
    const byte = b[pos++]!;
    result += (byte & 0x7f) * mul;
    if ((byte & 0x80) === 0) { ulebEnd = pos; return result; }
    mul *= 128;
    if (mul > 2 ** 56) throw sec.error('bad-abbrev', start, 'ULEB128 too long');
  }
}

function sleb(sec: DwarfSection, state: { pos: number }): bigint {
  const b = sec.bytes;
  let result = 0n;
  let shift = 0n;
  let byte: number;
  const start = state.pos;
  do {
    if (state.pos >= b.length) throw sec.error('truncated', start, 'SLEB128 runs past the end of the section');
    byte = b[state.pos++]!;
    result |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
    if (shift > 70n && (byte & 0x80) !== 0) throw sec.error('bad-abbrev', start, 'SLEB128 too long');
  } while (byte & 0x80);
  if (byte & 0x40) result -= 1n << shift;
  return result;
}

/** Parse the abbreviation table at `offset` for a unit with encoding `enc`. */
export function parseAbbrevTable(sec: DwarfSection, offset: number, enc: UnitEncoding): AbbrevTable {
  if (offset < 0 || offset >= sec.length) {
    throw sec.error('bad-abbrev', offset, `abbreviation table offset 0x${offset.toString(16)} is outside ${sec.name} (0x${sec.length.toString(16)} bytes)`);
  }
  const table = new AbbrevTable(offset);
  const b = sec.bytes;
  const len = b.length;
  const sizeOf = sizeTable(enc);
  let pos = offset;
  // Specs go to module-level scratch arrays (grown rarely), then are copied out once at the
  // exact size: no per-table array growth, so little garbage for a 2000-unit vmlinux.
  let n = 0;
  // Per-abbreviation header fields, 7 numbers each, kept flat until the arrays are final.
  const heads: number[] = [];
  let constsByEntry: Map<number, (bigint | undefined)[]> | undefined;
  for (;;) {
    const entryAt = pos;
    // ULEB128s inline with a one-byte fast path: this runs for every unit's table.
    if (pos >= len) throw sec.error('truncated', pos, 'abbreviation table runs past the end of the section');
    let code = b[pos++]!;
    if (code & 0x80) { pos--; code = slowUleb(sec, pos); pos = ulebEnd; }
    if (code === 0) break;
    if (pos >= len) throw sec.error('truncated', pos, 'abbreviation tag runs past the end of the section');
    let tag = b[pos++]!;
    if (tag & 0x80) { pos--; tag = slowUleb(sec, pos); pos = ulebEnd; }
    if (pos >= len) throw sec.error('truncated', pos, 'abbreviation children flag runs past the end of the section');
    const children = b[pos++]!;
    if (children > 1) throw sec.error('bad-abbrev', pos - 1, `children flag ${children} is neither 0 nor 1`);
    const first = n;
    let consts: (bigint | undefined)[] | undefined;
    let running = 0;
    let siblingIndex = -1;
    for (;;) {
      const specAt = pos;
      if (pos + 1 >= len) throw sec.error('truncated', pos, 'attribute specification runs past the end of the section');
      let at = b[pos++]!;
      if (at & 0x80) { pos--; at = slowUleb(sec, pos); pos = ulebEnd; }
      if (pos >= len) throw sec.error('truncated', pos, 'attribute form runs past the end of the section');
      let form = b[pos++]!;
      if (form & 0x80) { pos--; form = slowUleb(sec, pos); pos = ulebEnd; }
      if (at === 0 && form === 0) break;
      if (at > 0xffff || form > 0xffff) throw sec.error('bad-abbrev', specAt, `attribute 0x${at.toString(16)} / form 0x${form.toString(16)} out of range`);
      const size = form < sizeOf.length ? sizeOf[form]! : formSize(form, enc);
      if (size === UNKNOWN) throw sec.error('unknown-form', specAt, `unknown ${formName(form)} in abbreviation ${code}`);
      const rel = n - first;
      if (form === DW_FORM.implicit_const) {
        const st = { pos };
        consts ??= [];
        consts[rel] = sleb(sec, st);
        pos = st.pos;
      }
      if (at === DW_AT.sibling) siblingIndex = rel;
      if (n === scratch.attrs.length) growScratch();
      scratch.attrs[n] = at;
      scratch.forms[n] = form;
      scratch.sizes[n] = size;
      scratch.fixed[n] = running;
      n++;
      if (running >= 0) running = size === VARIABLE ? -1 : running + size;
    }
    heads.push(code, tag, children, first, n - first, running, siblingIndex, entryAt);
    if (consts) (constsByEntry ??= new Map()).set(entryAt, consts);
  }
  const attrs = scratch.attrs.slice(0, n);
  const forms = scratch.forms.slice(0, n);
  const sizes = scratch.sizes.slice(0, n);
  const fixedOffsets = scratch.fixed.slice(0, n);
  for (let h = 0; h < heads.length; h += 8) {
    const code = heads[h]!;
    const at = heads[h + 7]!;
    const a: Abbrev = {
      code, tag: heads[h + 1]!, hasChildren: heads[h + 2] === 1, first: heads[h + 3]!, count: heads[h + 4]!,
      attrs, forms, sizes, fixedOffsets, fixedTotal: heads[h + 5]!, siblingIndex: heads[h + 6]!,
      implicitConsts: constsByEntry?.get(at),
    };
    if (!table.set(a)) throw sec.error('bad-abbrev', at, `abbreviation code ${code} defined twice`);
  }
  return table;
}
