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
  /** Attribute names (one array shared by the whole table; small integers, so V8 keeps them unboxed). */
  readonly attrs: readonly number[];
  /** Forms (shared). */
  readonly forms: readonly number[];
  /** Fixed size of each attribute, or VARIABLE (-1) (shared). */
  readonly sizes: readonly number[];
  /** Offset of each attribute from the DIE's attribute data while all before it are fixed-size, else -1 (shared). */
  readonly fixedOffsets: readonly number[];
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
  let pos = offset;
  // Inline ULEB128 reader over `pos` (abbreviation tables are read for every unit: keep it lean).
  const uleb = (): number => {
    const start = pos;
    let result = 0;
    let mul = 1;
    for (;;) {
      if (pos >= len) throw sec.error('truncated', start, 'ULEB128 runs past the end of the section');
      const byte = b[pos++]!;
      result += (byte & 0x7f) * mul;
      if ((byte & 0x80) === 0) return result;
      mul *= 128;
      if (mul > 2 ** 56) throw sec.error('bad-abbrev', start, 'ULEB128 too long');
    }
  };
  const attrs: number[] = [];
  const forms: number[] = [];
  const sizes: number[] = [];
  const fixedOffsets: number[] = [];
  for (;;) {
    const entryAt = pos;
    const code = uleb();
    if (code === 0) break;
    const tag = uleb();
    if (pos >= len) throw sec.error('truncated', pos, 'abbreviation children flag runs past the end of the section');
    const children = b[pos++]!;
    if (children > 1) throw sec.error('bad-abbrev', pos - 1, `children flag ${children} is neither 0 nor 1`);
    const first = attrs.length;
    let consts: (bigint | undefined)[] | undefined;
    let running = 0;
    let siblingIndex = -1;
    for (;;) {
      const specAt = pos;
      const at = uleb();
      const form = uleb();
      if (at === 0 && form === 0) break;
      if (at > 0xffff || form > 0xffff) throw sec.error('bad-abbrev', specAt, `attribute 0x${at.toString(16)} / form 0x${form.toString(16)} out of range`);
      const size = formSize(form, enc);
      if (size === UNKNOWN) throw sec.error('unknown-form', specAt, `unknown ${formName(form)} in abbreviation ${code}`);
      const rel = attrs.length - first;
      if (form === DW_FORM.implicit_const) {
        const st = { pos };
        consts ??= [];
        consts[rel] = sleb(sec, st);
        pos = st.pos;
      }
      if (at === DW_AT.sibling) siblingIndex = rel;
      attrs.push(at);
      forms.push(form);
      sizes.push(size);
      fixedOffsets.push(running);
      if (running >= 0) running = size === VARIABLE ? -1 : running + size;
    }
    const a: Abbrev = {
      code, tag, hasChildren: children === 1, first, count: attrs.length - first,
      attrs, forms, sizes, fixedOffsets, fixedTotal: running, siblingIndex, implicitConsts: consts,
    };
    if (!table.set(a)) throw sec.error('bad-abbrev', entryAt, `abbreviation code ${code} defined twice`);
  }
  return table;
}
