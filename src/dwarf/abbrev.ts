/**
 * .debug_abbrev tables, parsed once per (offset, unit encoding) into flat typed arrays: one
 * entry per abbreviation (code, tag, children flag, first spec, spec count, total fixed size,
 * sibling spec) and one per attribute spec (name, form, fixed size, fixed offset). No object
 * per abbreviation: a vmlinux has ~300,000 of them, and the DIE walker only needs indices.
 * `get(code)` materialises an `Abbrev` view for callers that want one.
 */
import { DW_AT, DW_FORM, formName } from './constants.js';
import type { DwarfSection } from './section.js';
import { formSize, UNKNOWN, VARIABLE, type UnitEncoding } from './forms.js';

/** One abbreviation, as a view over its table's arrays. */
export interface Abbrev {
  readonly code: number;
  readonly tag: number;
  readonly hasChildren: boolean;
  /** This abbreviation's attribute specs are entries [first, first + count) of the table's spec arrays. */
  readonly first: number;
  readonly count: number;
  readonly attrs: Uint16Array;
  readonly forms: Uint16Array;
  /** Fixed size of each spec's value, or VARIABLE (-1). */
  readonly sizes: Int8Array;
  /** Offset of each spec's value from the DIE's attribute data while all before it are fixed-size, else -1. */
  readonly fixedOffsets: Int32Array;
  /** Total attribute bytes when every attribute is fixed-size, else -1. */
  readonly fixedTotal: number;
  /** Index (relative to `first`) of DW_AT_sibling, or -1. */
  readonly siblingIndex: number;
  /** DW_FORM_implicit_const values by relative spec index (only when the abbrev has any). */
  readonly implicitConsts: readonly (bigint | undefined)[] | undefined;
}

export class AbbrevTable {
  readonly offset: number;
  /** Number of abbreviations. */
  readonly length: number;
  // per abbreviation (by index)
  readonly codes: Float64Array;
  readonly tags: Uint32Array;
  readonly children: Uint8Array;
  readonly firsts: Uint32Array;
  readonly counts: Uint32Array;
  readonly fixedTotals: Int32Array;
  readonly siblings: Int32Array;
  // per attribute spec
  readonly attrs: Uint16Array;
  readonly forms: Uint16Array;
  readonly sizes: Int8Array;
  readonly fixedOffsets: Int32Array;
  private readonly consts: Map<number, bigint> | undefined;
  private readonly dense: Int32Array;
  private readonly sparse: Map<number, number> | undefined;
  private views: Map<number, Abbrev> | undefined;

  /** Internal (parser). */
  constructor(offset: number, p: {
    codes: Float64Array; tags: Uint32Array; children: Uint8Array; firsts: Uint32Array; counts: Uint32Array;
    fixedTotals: Int32Array; siblings: Int32Array; attrs: Uint16Array; forms: Uint16Array; sizes: Int8Array;
    fixedOffsets: Int32Array; consts: Map<number, bigint> | undefined; dense: Int32Array; sparse: Map<number, number> | undefined;
  }) {
    this.offset = offset;
    this.length = p.codes.length;
    this.codes = p.codes; this.tags = p.tags; this.children = p.children; this.firsts = p.firsts; this.counts = p.counts;
    this.fixedTotals = p.fixedTotals; this.siblings = p.siblings; this.attrs = p.attrs; this.forms = p.forms;
    this.sizes = p.sizes; this.fixedOffsets = p.fixedOffsets; this.consts = p.consts; this.dense = p.dense; this.sparse = p.sparse;
  }

  /** Index of the abbreviation with `code`, or -1. */
  indexOf(code: number): number {
    if (code < this.dense.length) return this.dense[code]! - 1;
    return this.sparse?.get(code) ?? -1;
  }

  /** DW_FORM_implicit_const value of spec `spec` (absolute spec index). */
  implicitConst(spec: number): bigint { return this.consts?.get(spec) ?? 0n; }

  /** The abbreviation with `code` as an object view, or undefined. */
  get(code: number): Abbrev | undefined {
    const i = this.indexOf(code);
    return i < 0 ? undefined : this.abbrevAt(i);
  }

  /** Object view of abbreviation index `i` (cached). */
  abbrevAt(i: number): Abbrev {
    this.views ??= new Map();
    let a = this.views.get(i);
    if (!a) {
      const first = this.firsts[i]!;
      const count = this.counts[i]!;
      let implicitConsts: (bigint | undefined)[] | undefined;
      for (let k = 0; k < count; k++) {
        if (this.forms[first + k] === DW_FORM.implicit_const) (implicitConsts ??= [])[k] = this.implicitConst(first + k);
      }
      a = {
        code: this.codes[i]!, tag: this.tags[i]!, hasChildren: this.children[i] === 1, first, count,
        attrs: this.attrs, forms: this.forms, sizes: this.sizes, fixedOffsets: this.fixedOffsets,
        fixedTotal: this.fixedTotals[i]!, siblingIndex: this.siblings[i]!, implicitConsts,
      };
      this.views.set(i, a);
    }
    return a;
  }

  *[Symbol.iterator](): IterableIterator<Abbrev> {
    for (let i = 0; i < this.length; i++) yield this.abbrevAt(i);
  }
}

/** Form sizes for forms 0..0x2c under one encoding (cached: a few encodings at most). */
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

/** Growable scratch arrays reused by every parse (copied out at exact size). */
const S = {
  codes: new Float64Array(1024), tags: new Uint32Array(1024), children: new Uint8Array(1024), firsts: new Uint32Array(1024),
  counts: new Uint32Array(1024), fixedTotals: new Int32Array(1024), siblings: new Int32Array(1024), entryAt: new Float64Array(1024),
  attrs: new Uint16Array(4096), forms: new Uint16Array(4096), sizes: new Int8Array(4096), fixed: new Int32Array(4096),
};
function grown<T extends Float64Array | Uint32Array | Uint8Array | Int32Array | Uint16Array | Int8Array>(a: T): T {
  const b = new (a.constructor as new (n: number) => T)(a.length * 2);
  b.set(a);
  return b;
}

/** Parse the abbreviation table at `offset` for a unit with encoding `enc`. */
export function parseAbbrevTable(sec: DwarfSection, offset: number, enc: UnitEncoding): AbbrevTable {
  if (offset < 0 || offset >= sec.length) {
    throw sec.error('bad-abbrev', offset, `abbreviation table offset 0x${offset.toString(16)} is outside ${sec.name} (0x${sec.length.toString(16)} bytes)`);
  }
  const b = sec.bytes;
  const len = b.length;
  const sizeOf = sizeTable(enc);
  let pos = offset;
  let na = 0;
  let ns = 0;
  let maxCode = 0;
  let consts: Map<number, bigint> | undefined;
  // Scratch arrays in locals (monomorphic, register-friendly); written back to S when grown.
  let attrs = S.attrs; let forms = S.forms; let sizes = S.sizes; let fixed = S.fixed;
  for (;;) {
    const entryAt = pos;
    // ULEB128s inline with a one-byte fast path: this runs for every unit's table.
    if (pos >= len) throw sec.error('truncated', pos, 'abbreviation table runs past the end of the section');
    let code = b[pos++]!;
    if (code & 0x80) { code = slowUleb(sec, pos - 1); pos = ulebEnd; }
    if (code === 0) break;
    if (pos >= len) throw sec.error('truncated', pos, 'abbreviation tag runs past the end of the section');
    let tag = b[pos++]!;
    if (tag & 0x80) { tag = slowUleb(sec, pos - 1); pos = ulebEnd; }
    if (pos >= len) throw sec.error('truncated', pos, 'abbreviation children flag runs past the end of the section');
    const children = b[pos++]!;
    if (children > 1) throw sec.error('bad-abbrev', pos - 1, `children flag ${children} is neither 0 nor 1`);
    if (tag > 0xffffffff) throw sec.error('bad-abbrev', entryAt, `tag 0x${tag.toString(16)} out of range`);
    const first = ns;
    let running = 0;
    let siblingIndex = -1;
    for (;;) {
      const specAt = pos;
      if (pos + 1 >= len) throw sec.error('truncated', pos, 'attribute specification runs past the end of the section');
      let at = b[pos++]!;
      if (at & 0x80) { at = slowUleb(sec, pos - 1); pos = ulebEnd; }
      if (pos >= len) throw sec.error('truncated', pos, 'attribute form runs past the end of the section');
      let form = b[pos++]!;
      if (form & 0x80) { form = slowUleb(sec, pos - 1); pos = ulebEnd; }
      if (at === 0 && form === 0) break;
      if (at > 0xffff || form > 0xffff) throw sec.error('bad-abbrev', specAt, `attribute 0x${at.toString(16)} / form 0x${form.toString(16)} out of range`);
      const size = form < sizeOf.length ? sizeOf[form]! : formSize(form, enc);
      if (size === UNKNOWN) throw sec.error('unknown-form', specAt, `unknown ${formName(form)} in abbreviation ${code}`);
      if (form === DW_FORM.implicit_const) {
        const st = { pos };
        (consts ??= new Map()).set(ns, sleb(sec, st));
        pos = st.pos;
      }
      if (at === DW_AT.sibling) siblingIndex = ns - first;
      if (ns === attrs.length) {
        S.attrs = attrs = grown(attrs); S.forms = forms = grown(forms); S.sizes = sizes = grown(sizes); S.fixed = fixed = grown(fixed);
      }
      attrs[ns] = at;
      forms[ns] = form;
      sizes[ns] = size;
      fixed[ns] = running;
      ns++;
      if (running >= 0) running = size === VARIABLE ? -1 : running + size;
    }
    if (na === S.codes.length) {
      S.codes = grown(S.codes); S.tags = grown(S.tags); S.children = grown(S.children); S.firsts = grown(S.firsts);
      S.counts = grown(S.counts); S.fixedTotals = grown(S.fixedTotals); S.siblings = grown(S.siblings); S.entryAt = grown(S.entryAt);
    }
    S.codes[na] = code; S.tags[na] = tag; S.children[na] = children; S.firsts[na] = first; S.counts[na] = ns - first;
    S.fixedTotals[na] = running; S.siblings[na] = siblingIndex; S.entryAt[na] = entryAt;
    na++;
    if (code > maxCode) maxCode = code;
  }
  // code -> index: dense when codes are compact (GCC numbers them 1..n), a Map otherwise
  const denseSize = maxCode < 4 * na + 64 ? maxCode + 1 : Math.min(4 * na + 64, maxCode + 1);
  const dense = new Int32Array(denseSize);
  let sparse: Map<number, number> | undefined;
  for (let i = 0; i < na; i++) {
    const code = S.codes[i]!;
    const taken = code < denseSize ? dense[code] !== 0 : sparse?.has(code) === true;
    if (taken) throw sec.error('bad-abbrev', S.entryAt[i]!, `abbreviation code ${code} defined twice`);
    if (code < denseSize) dense[code] = i + 1;
    else (sparse ??= new Map()).set(code, i);
  }
  // One allocation per table: every array is a view into a single ArrayBuffer, laid out by
  // alignment and filled by byte copies from the scratch arrays.
  const layout: [number, number][] = [[8, na], [4, na], [4, na], [4, na], [4, na], [4, na], [4, ns], [2, ns], [2, ns], [1, na], [1, ns]];
  const offsets: number[] = [];
  let total = 0;
  for (const [width, count] of layout) { offsets.push(total); total += width * count; }
  const buf = new ArrayBuffer(total);
  const out = new Uint8Array(buf);
  const sources = [S.codes, S.tags, S.firsts, S.counts, S.fixedTotals, S.siblings, fixed, attrs, forms, S.children, sizes];
  for (let k = 0; k < sources.length; k++) {
    const src = sources[k]!;
    out.set(new Uint8Array(src.buffer, 0, layout[k]![0] * layout[k]![1]), offsets[k]!);
  }
  return new AbbrevTable(offset, {
    codes: new Float64Array(buf, offsets[0], na), tags: new Uint32Array(buf, offsets[1], na),
    firsts: new Uint32Array(buf, offsets[2], na), counts: new Uint32Array(buf, offsets[3], na),
    fixedTotals: new Int32Array(buf, offsets[4], na), siblings: new Int32Array(buf, offsets[5], na),
    fixedOffsets: new Int32Array(buf, offsets[6], ns), attrs: new Uint16Array(buf, offsets[7], ns),
    forms: new Uint16Array(buf, offsets[8], ns), children: new Uint8Array(buf, offsets[9], na),
    sizes: new Int8Array(buf, offsets[10], ns), consts, dense, sparse,
  });
}
