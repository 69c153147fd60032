/**
 * The DWARF core, gimli-style: `Dwarf` (the sections + unit index + cross-unit lookups),
 * `Unit` (one compile/partial unit: header, abbreviations, str_offsets/addr bases) and
 * `DieCursor` (a depth-first walk over a unit's DIEs).
 *
 * Performance model: abbreviation tables are parsed once into compact arrays; the cursor
 * keeps only positions (no per-DIE or per-attribute objects); attribute values are decoded
 * only when asked for, by attribute name, through typed getters (`udata`, `ref`, `str`,
 * `flag`, `address`, `block`); `skipChildren()` jumps over a subtree through DW_AT_sibling
 * when the producer emitted it (GCC does), else walks it without decoding values.
 *
 * Raw forms stay apart from resolved values: `rawAttributes()` returns every attribute
 * as (name, form, RawValue); the getters resolve strx/addrx through the unit's
 * str_offsets_base/addr_base and references to absolute .debug_info offsets.
 * Relocations (ET_REL) are applied to every offset/address field as it is read.
 *
 * Usage:
 *   const dwarf = Dwarf.fromElf(ElfFile.open(path));
 *   for (const unit of dwarf.units()) {
 *     const c = unit.cursor();
 *     while (c.next()) { if (c.tag === DW_TAG.subprogram) c.skipChildren(); ... c.str(DW_AT.name) }
 *   }
 */
import type { ElfFile } from '../elf/index.js';
import { AbbrevTable, parseAbbrevTable, type Abbrev } from './abbrev.js';
import { DW_AT, DW_FORM, DW_UT, formName } from './constants.js';
import { DwarfError } from './errors.js';
import { DwarfSection, type DwarfAddress } from './section.js';
import { formSize, UNKNOWN } from './forms.js';

export type { DwarfAddress, SectionAddress } from './section.js';

/** An attribute value exactly as encoded (after relocation), before any resolution. */
export type RawValue =
  | { readonly kind: 'address'; readonly value: DwarfAddress }
  | { readonly kind: 'addrx'; readonly index: number }
  | { readonly kind: 'block'; readonly offset: number; readonly bytes: Uint8Array }
  | { readonly kind: 'exprloc'; readonly offset: number; readonly bytes: Uint8Array }
  | { readonly kind: 'constant'; readonly value: bigint; readonly signed: boolean; readonly size: number }
  | { readonly kind: 'data16'; readonly bytes: Uint8Array }
  | { readonly kind: 'flag'; readonly value: boolean }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'strp'; readonly section: '.debug_str' | '.debug_line_str' | 'supplementary' | 'alternate'; readonly offset: number }
  | { readonly kind: 'strx'; readonly index: number }
  | { readonly kind: 'ref'; readonly unitOffset: number }
  | { readonly kind: 'ref_addr'; readonly offset: number }
  | { readonly kind: 'ref_sig8'; readonly signature: bigint }
  | { readonly kind: 'ref_sup'; readonly offset: number }
  | { readonly kind: 'sec_offset'; readonly offset: number }
  | { readonly kind: 'loclistx' | 'rnglistx'; readonly index: number };

export interface RawAttribute {
  readonly at: number;
  /** The form after DW_FORM_indirect is followed. */
  readonly form: number;
  readonly value: RawValue;
}

export interface DwarfSections {
  readonly info: DwarfSection;
  readonly abbrev: DwarfSection;
  readonly str?: DwarfSection | undefined;
  readonly lineStr?: DwarfSection | undefined;
  readonly strOffsets?: DwarfSection | undefined;
  readonly addr?: DwarfSection | undefined;
}

export class Dwarf {
  readonly file: string;
  readonly elf: ElfFile | undefined;
  readonly info: DwarfSection;
  readonly abbrev: DwarfSection;
  readonly str: DwarfSection | undefined;
  readonly lineStr: DwarfSection | undefined;
  readonly strOffsets: DwarfSection | undefined;
  readonly addr: DwarfSection | undefined;
  private unitStarts: number[] | undefined;
  private readonly unitCache = new Map<number, Unit>();
  private readonly abbrevCache = new Map<string, AbbrevTable>();

  /** The DWARF of an ELF file; DwarfError('missing-section') without .debug_info/.debug_abbrev. */
  static fromElf(elf: ElfFile): Dwarf {
    const get = (name: string): DwarfSection | undefined => {
      const s = elf.section(name);
      return s ? DwarfSection.fromElf(elf, s) : undefined;
    };
    const info = get('.debug_info');
    const abbrev = get('.debug_abbrev');
    if (!info || !abbrev) {
      throw new DwarfError('missing-section', `no ${info ? '.debug_abbrev' : '.debug_info'} section (no DWARF)`, { file: elf.name });
    }
    if (elf.section('.debug_types')) {
      // DWARF 4 type units live there; we do not read them (see type-units-unsupported on ref_sig8).
    }
    return new Dwarf(elf.name, { info, abbrev, str: get('.debug_str'), lineStr: get('.debug_line_str'),
      strOffsets: get('.debug_str_offsets'), addr: get('.debug_addr') }, elf);
  }

  constructor(file: string, sections: DwarfSections, elf?: ElfFile) {
    this.file = file;
    this.elf = elf;
    this.info = sections.info;
    this.abbrev = sections.abbrev;
    this.str = sections.str;
    this.lineStr = sections.lineStr;
    this.strOffsets = sections.strOffsets;
    this.addr = sections.addr;
  }

  /** Start offsets of every unit in .debug_info (headers' lengths only; nothing else decoded). */
  unitOffsets(): readonly number[] {
    if (this.unitStarts) return this.unitStarts;
    const starts: number[] = [];
    const sec = this.info;
    let pos = 0;
    while (pos < sec.length) {
      starts.push(pos);
      const { end } = readUnitLength(sec, pos);
      pos = end;
    }
    this.unitStarts = starts;
    return starts;
  }

  /** Every unit, in order (parsed lazily). */
  *units(): IterableIterator<Unit> {
    for (const off of this.unitOffsets()) yield this.unitByOffset(off);
  }

  get unitCount(): number { return this.unitOffsets().length; }

  /** The unit whose header starts at `offset`. */
  unitByOffset(offset: number): Unit {
    let u = this.unitCache.get(offset);
    if (!u) {
      u = new Unit(this, offset);
      this.unitCache.set(offset, u);
    }
    return u;
  }

  /** The unit containing the DIE at absolute .debug_info offset `offset`. */
  unitContaining(offset: number): Unit {
    const starts = this.unitOffsets();
    const found = lastAtOrBelow(starts, offset);
    if (found < 0) throw this.info.error('bad-reference', offset, `offset 0x${offset.toString(16)} is in no unit`);
    const u = this.unitByOffset(starts[found]!);
    if (offset < u.firstDieOffset || offset >= u.end) {
      throw this.info.error('bad-reference', offset, `offset 0x${offset.toString(16)} is not a DIE of the unit at 0x${u.offset.toString(16)}`);
    }
    return u;
  }

  /** A new cursor positioned at the DIE at absolute offset `offset` (any unit). */
  dieAt(offset: number): DieCursor {
    return this.unitContaining(offset).dieAt(offset);
  }

  /** Internal: abbreviation table shared by all units with the same offset and encoding. */
  abbrevTable(offset: number, version: number, addressSize: number, offsetSize: number): AbbrevTable {
    const key = `${offset}:${version <= 2 ? 2 : 3}:${addressSize}:${offsetSize}`;
    let t = this.abbrevCache.get(key);
    if (!t) {
      t = parseAbbrevTable(this.abbrev, offset, { version, addressSize, offsetSize });
      this.abbrevCache.set(key, t);
    }
    return t;
  }

  /** String at `offset` in .debug_str (strp). */
  debugStr(offset: number, from: number): string {
    if (!this.str) throw this.info.error('missing-section', from, 'DW_FORM_strp without a .debug_str section');
    return this.str.stringAt(offset, { section: this.info.name, offset: from });
  }

  debugLineStr(offset: number, from: number): string {
    if (!this.lineStr) throw this.info.error('missing-section', from, 'DW_FORM_line_strp without a .debug_line_str section');
    return this.lineStr.stringAt(offset, { section: this.info.name, offset: from });
  }
}

function readUnitLength(sec: DwarfSection, pos: number): { offsetSize: number; headerStart: number; end: number } {
  if (pos + 4 > sec.length) throw sec.error('truncated-unit', pos, `unit length runs past the end of ${sec.name}`);
  let len = sec.u32(pos);
  let offsetSize = 4;
  let headerStart = pos + 4;
  if (len === 0xffffffff) {
    if (pos + 12 > sec.length) throw sec.error('truncated-unit', pos, `64-bit unit length runs past the end of ${sec.name}`);
    len = sec.u64n(pos + 4);
    offsetSize = 8;
    headerStart = pos + 12;
  } else if (len >= 0xfffffff0) {
    throw sec.error('truncated-unit', pos, `reserved unit length 0x${len.toString(16)}`);
  }
  const end = headerStart + len;
  if (end > sec.length) {
    throw sec.error('truncated-unit', pos, `unit length 0x${len.toString(16)} overruns ${sec.name} (0x${sec.length.toString(16)} bytes)`);
  }
  return { offsetSize, headerStart, end };
}

/** One compile or partial unit of .debug_info. */
export class Unit {
  readonly dwarf: Dwarf;
  /** Offset of the unit header in .debug_info. */
  readonly offset: number;
  /** Offset just past the unit. */
  readonly end: number;
  readonly version: number;
  readonly unitType: number;
  readonly addressSize: number;
  readonly offsetSize: number;
  readonly abbrevOffset: number;
  /** Offset of the root DIE. */
  readonly firstDieOffset: number;
  readonly abbrevs: AbbrevTable;
  private bases: { strOffsets: number | undefined; addr: number | undefined } | undefined;

  constructor(dwarf: Dwarf, offset: number) {
    this.dwarf = dwarf;
    this.offset = offset;
    const sec = dwarf.info;
    const { offsetSize, headerStart, end } = readUnitLength(sec, offset);
    this.end = end;
    this.offsetSize = offsetSize;
    let p = headerStart;
    const need = (n: number): void => {
      if (p + n > end) throw sec.error('truncated-unit', p, `unit header at 0x${offset.toString(16)} is longer than the unit`);
    };
    need(2);
    this.version = sec.u16(p); p += 2;
    if (this.version < 2 || this.version > 5) throw sec.error('bad-version', headerStart, `unsupported DWARF version ${this.version}`);
    if (this.version >= 5) {
      need(2 + offsetSize);
      this.unitType = sec.u8(p); p += 1;
      this.addressSize = sec.u8(p); p += 1;
      this.abbrevOffset = sec.offsetAt(p, offsetSize); p += offsetSize;
      if (this.unitType === DW_UT.type || this.unitType === DW_UT.split_type) {
        throw new DwarfError('type-units-unsupported', 'type units are not supported', { file: dwarf.file, section: sec.name, offset: headerStart + 2 });
      }
      if (this.unitType !== DW_UT.compile && this.unitType !== DW_UT.partial) {
        throw sec.error('unsupported-unit-type', headerStart + 2, `unit type 0x${this.unitType.toString(16)} is not a compile or partial unit`);
      }
    } else {
      need(1 + offsetSize);
      this.unitType = DW_UT.compile;
      this.abbrevOffset = sec.offsetAt(p, offsetSize); p += offsetSize;
      this.addressSize = sec.u8(p); p += 1;
    }
    if (this.addressSize !== 4 && this.addressSize !== 8) {
      throw sec.error('bad-address-size', p - 1, `address size ${this.addressSize} is not 4 or 8`);
    }
    this.firstDieOffset = p;
    this.abbrevs = dwarf.abbrevTable(this.abbrevOffset, this.version, this.addressSize, offsetSize);
  }

  /** A cursor before the root DIE: call next() to reach it. */
  cursor(): DieCursor { return new DieCursor(this, this.firstDieOffset); }

  /** A cursor positioned at the root DIE. */
  root(): DieCursor {
    const c = this.cursor();
    if (!c.next()) throw this.dwarf.info.error('truncated-unit', this.firstDieOffset, 'unit has no root DIE');
    return c;
  }

  /** A cursor positioned at the DIE at absolute offset `offset` (depth 0 there). */
  dieAt(offset: number): DieCursor {
    return new DieCursor(this, this.firstDieOffset).moveTo(offset);
  }

  /** DW_AT_str_offsets_base / DW_AT_addr_base (or GNU_addr_base) from the root DIE. */
  private getBases(): { strOffsets: number | undefined; addr: number | undefined } {
    if (!this.bases) {
      this.bases = { strOffsets: undefined, addr: undefined };
      const root = this.root();
      const so = root.sectionOffset(DW_AT.str_offsets_base);
      const ab = root.sectionOffset(DW_AT.addr_base) ?? root.sectionOffset(DW_AT.GNU_addr_base);
      this.bases = { strOffsets: so, addr: ab };
    }
    return this.bases;
  }

  /** String for DW_FORM_strx index `index` (read at `from` in .debug_info). */
  strx(index: number, from: number): string {
    return this.dwarf.debugStr(this.strxOffset(index, from), from);
  }

  /** The .debug_str offset of DW_FORM_strx index `index`. */
  strxOffset(index: number, from: number): number {
    const sec = this.dwarf.strOffsets;
    if (!sec) throw this.dwarf.info.error('missing-section', from, 'DW_FORM_strx without a .debug_str_offsets section');
    // Without DW_AT_str_offsets_base (DWARF 5 requires it) assume the first contribution's header (8 bytes for 32-bit).
    const base = this.getBases().strOffsets ?? (this.offsetSize === 4 ? 8 : 16);
    const at = base + index * this.offsetSize;
    if (at + this.offsetSize > sec.length) {
      throw this.dwarf.info.error('bad-reference', from, `string index ${index} is past ${sec.name} (base 0x${base.toString(16)})`);
    }
    return sec.offsetAt(at, this.offsetSize);
  }

  /** Address for DW_FORM_addrx / DW_OP_addrx index `index`. */
  addrx(index: number, from: number): DwarfAddress {
    const sec = this.dwarf.addr;
    if (!sec) throw this.dwarf.info.error('missing-section', from, 'DW_FORM_addrx without a .debug_addr section');
    const base = this.getBases().addr ?? (this.offsetSize === 4 ? 8 : 16);
    const at = base + index * this.addressSize;
    if (at + this.addressSize > sec.length) {
      throw this.dwarf.info.error('bad-reference', from, `address index ${index} is past ${sec.name} (base 0x${base.toString(16)})`);
    }
    return sec.addressAt(at, this.addressSize);
  }
}

/**
 * Depth-first cursor over one unit's DIEs. `next()` moves to the next DIE (children before
 * siblings) and returns false at the end of the unit. `depth` is 0 for the DIE the cursor
 * started at (the root DIE for `unit.cursor()`), 1 for its children, and so on.
 * `skipChildren()` makes the following `next()` go to the current DIE's next sibling.
 */
export class DieCursor {
  readonly unit: Unit;
  /** Absolute .debug_info offset of the current DIE. */
  offset = -1;
  depth = -1;
  tag = 0;
  hasChildren = false;
  /** Index of the current DIE's abbreviation in the unit's table (-1 when none). */
  private ai = -1;
  private readonly tbl: AbbrevTable;
  /** Offset of the current DIE's first attribute byte. */
  private attrsPos = 0;
  /** Offset just past the current DIE's attributes (-1 until computed). */
  private endPos = -1;
  /** Where next() continues when skipChildren() was called (-1 otherwise). */
  private siblingPos = -1;
  private pos: number;
  /** Whether next() has been called (the starting DIE is reached on the first call). */
  private started = false;
  private readonly bytes: Uint8Array;
  private readonly sec: DwarfSection;

  constructor(unit: Unit, start: number) {
    this.unit = unit;
    this.pos = start;
    this.sec = unit.dwarf.info;
    this.bytes = this.sec.bytes;
    this.tbl = unit.abbrevs;
  }

  /**
   * Repositions the cursor at the DIE at absolute offset `offset` of its unit (depth 0 there),
   * as `unit.dieAt(offset)` does with a new cursor: decoders that visit millions of DIEs reuse
   * cursors instead of allocating one per DIE.
   */
  moveTo(offset: number): this {
    const u = this.unit;
    if (offset < u.firstDieOffset || offset >= u.end) {
      throw this.sec.error('bad-reference', offset, `DIE offset 0x${offset.toString(16)} is outside the unit at 0x${u.offset.toString(16)}`);
    }
    this.pos = offset;
    this.offset = -1;
    this.depth = -1;
    this.tag = 0;
    this.hasChildren = false;
    this.ai = -1;
    this.attrsPos = 0;
    this.endPos = -1;
    this.siblingPos = -1;
    this.started = false;
    if (!this.next() || this.offset !== offset) {
      throw this.sec.error('bad-reference', offset, `no DIE at 0x${offset.toString(16)} (null entry)`);
    }
    return this;
  }

  /** The current DIE's abbreviation (an object view; the walker itself works on indices). */
  get abbrev(): Abbrev | undefined { return this.ai < 0 ? undefined : this.tbl.abbrevAt(this.ai); }

  /** Advance to the next DIE in depth-first order; false at the end of the unit. */
  next(): boolean {
    const unitEnd = this.unit.end;
    let pos: number;
    let depth = this.depth;
    const started = this.started;
    this.started = true;
    if (this.ai < 0) {
      pos = this.pos;
      depth = 0;
    } else if (this.siblingPos >= 0) {
      pos = this.siblingPos;
    } else {
      pos = this.endPos >= 0 ? this.endPos : this.skipAttrs(this.ai, this.attrsPos);
      if (this.hasChildren) depth++;
    }
    const b = this.bytes;
    for (;;) {
      if (pos >= unitEnd) {
        this.pos = pos;
        this.ai = -1;
        this.offset = -1;
        this.depth = depth;
        return false;
      }
      const dieAt = pos;
      // inline ULEB128 (abbreviation codes are almost always one byte)
      let code = b[pos++]!;
      if (code & 0x80) {
        code &= 0x7f;
        let mul = 128;
        for (;;) {
          if (pos >= unitEnd) throw this.sec.error('truncated-unit', dieAt, 'abbreviation code runs past the end of the unit');
          const byte = b[pos++]!;
          code += (byte & 0x7f) * mul;
          if ((byte & 0x80) === 0) break;
          mul *= 128;
          if (mul > 2 ** 49) throw this.sec.error('unknown-abbrev', dieAt, 'abbreviation code too long');
        }
      }
      if (code === 0) {
        depth--;
        // Back at the starting DIE's level: its subtree is done.
        if (started && depth <= 0) { pos = unitEnd; }
        continue;
      }
      if (started && depth <= 0) { pos = unitEnd; continue; }
      const tbl = this.tbl;
      const ai = tbl.indexOf(code);
      if (ai < 0) {
        throw this.sec.error('unknown-abbrev', dieAt, `abbreviation code ${code} is not in the table at .debug_abbrev+0x${this.unit.abbrevOffset.toString(16)}`);
      }
      this.offset = dieAt;
      this.ai = ai;
      this.tag = tbl.tags[ai]!;
      this.hasChildren = tbl.children[ai] === 1;
      this.attrsPos = pos;
      const fixedTotal = tbl.fixedTotals[ai]!;
      this.endPos = fixedTotal >= 0 ? pos + fixedTotal : -1;
      if (this.endPos > unitEnd) throw this.sec.error('truncated-unit', dieAt, 'DIE attributes run past the end of the unit');
      this.siblingPos = -1;
      this.depth = depth;
      return true;
    }
  }

  /**
   * Make the next `next()` skip this DIE's children: through DW_AT_sibling when present,
   * otherwise by walking the subtree (attributes skipped, never decoded).
   */
  skipChildren(): void {
    const ai = this.ai;
    if (ai < 0 || !this.hasChildren) return;
    const tbl = this.tbl;
    const sib = tbl.siblings[ai]!;
    if (sib >= 0) {
      const form = tbl.forms[tbl.firsts[ai]! + sib]!;
      // fast path: GCC emits DW_FORM_ref4 siblings
      const target = form === DW_FORM.ref4
        ? this.unit.offset + this.sec.u32(this.attrPos(sib))
        : this.ref(DW_AT.sibling);
      if (target !== undefined) {
        const end = this.endPos >= 0 ? this.endPos : this.skipAttrs(ai, this.attrsPos);
        if (target < end || target > this.unit.end) {
          throw this.sec.error('bad-reference', this.offset, `DW_AT_sibling 0x${target.toString(16)} does not follow the DIE`);
        }
        this.siblingPos = target;
        return;
      }
    }
    // Walk: skip every DIE of the subtree until its terminating null entry.
    const unitEnd = this.unit.end;
    let pos = this.endPos >= 0 ? this.endPos : this.skipAttrs(ai, this.attrsPos);
    let level = 1;
    while (level > 0) {
      if (pos >= unitEnd) break; // unterminated children at unit end
      const dieAt = pos;
      const code = this.ulebAt(pos);
      pos = this.lebEnd;
      if (code === 0) { level--; continue; }
      const ci = tbl.indexOf(code);
      if (ci < 0) throw this.sec.error('unknown-abbrev', dieAt, `abbreviation code ${code} is not in the table at .debug_abbrev+0x${this.unit.abbrevOffset.toString(16)}`);
      const fixedTotal = tbl.fixedTotals[ci]!;
      pos = fixedTotal >= 0 ? pos + fixedTotal : this.skipAttrs(ci, pos);
      if (tbl.children[ci] === 1) level++;
    }
    if (pos > unitEnd) throw this.sec.error('truncated-unit', this.offset, 'DIE subtree runs past the end of the unit');
    this.siblingPos = pos;
  }

  /**
   * Call `fn` with a cursor on each direct child of the current DIE, in order. `fn` may read
   * the child (and open other cursors) but must not advance the cursor it is given.
   */
  eachChild(fn: (child: DieCursor) => void): void {
    if (!this.hasChildren || this.ai < 0) return;
    const c = this.unit.dieAt(this.offset);
    while (c.next()) {
      fn(c);
      c.skipChildren();
    }
  }

  /** Offset just past this DIE's attributes. */
  get attributesEnd(): number {
    if (this.ai < 0) return this.pos;
    if (this.endPos < 0) this.endPos = this.skipAttrs(this.ai, this.attrsPos);
    return this.endPos;
  }

  // ---- attribute access ---------------------------------------------------------------

  has(at: number): boolean { return this.indexOf(at) >= 0; }

  /** The form of attribute `at` (DW_FORM_indirect not followed), or undefined when absent. */
  formOf(at: number): number | undefined {
    const i = this.indexOf(at);
    return i < 0 ? undefined : this.tbl.forms[this.tbl.firsts[this.ai]! + i];
  }

  private indexOf(at: number): number {
    const ai = this.ai;
    if (ai < 0) return -1;
    const tbl = this.tbl;
    const attrs = tbl.attrs;
    const first = tbl.firsts[ai]!;
    const n = tbl.counts[ai]!;
    for (let i = 0; i < n; i++) if (attrs[first + i] === at) return i;
    return -1;
  }

  /** Position of attribute i's value. */
  private attrPos(i: number): number {
    const tbl = this.tbl;
    const first = tbl.firsts[this.ai]!;
    const fixed = tbl.fixedOffsets[first + i]!;
    if (fixed >= 0) return this.attrsPos + fixed;
    let pos = this.attrsPos;
    for (let j = first; j < first + i; j++) {
      const size = tbl.sizes[j]!;
      pos = size >= 0 ? pos + size : this.skipForm(tbl.forms[j]!, pos);
    }
    return pos;
  }

  /** Result of the last locate(): form (indirect followed), value position, attribute index (reused, never escapes). */
  private readonly loc = { form: 0, pos: 0, index: 0 };
  private get lForm(): number { return this.loc.form; }
  private get lPos(): number { return this.loc.pos; }

  /** Locate attribute `at` into `loc` (form, value position, index); false when absent. */
  private locate(at: number): boolean {
    const i = this.indexOf(at);
    if (i < 0) return false;
    let form = this.tbl.forms[this.tbl.firsts[this.ai]! + i]!;
    let pos = this.attrPos(i);
    while (form === DW_FORM.indirect) {
      form = this.ulebAt(pos);
      pos = this.lebEnd;
    }
    const loc = this.loc;
    loc.form = form;
    loc.pos = pos;
    loc.index = i;
    return true;
  }

  /**
   * An unsigned constant (data1/2/4/8, udata, sdata, implicit_const) as a number, or
   * undefined when absent or not a constant form.
   */
  udata(at: number): number | undefined {
    if (!this.locate(at)) return undefined;
    const l = this.loc;
    const s = this.sec;
    switch (l.form) {
      case DW_FORM.data1: return s.u8(l.pos);
      case DW_FORM.data2: return s.u16(l.pos);
      case DW_FORM.data4: return s.u32(l.pos);
      case DW_FORM.data8: return s.u64n(l.pos);
      case DW_FORM.udata: return this.ulebAt(l.pos);
      case DW_FORM.sdata: return Number(this.slebAt(l.pos));
      case DW_FORM.implicit_const: return Number(this.tbl.implicitConst(this.tbl.firsts[this.ai]! + l.index));
      default: return undefined;
    }
  }

  /** A constant as bigint; dataN are zero-extended unless `signed`. */
  constant(at: number, signed = false): bigint | undefined {
    if (!this.locate(at)) return undefined;
    const l = this.loc;
    const s = this.sec;
    switch (l.form) {
      case DW_FORM.data1: return signed ? BigInt.asIntN(8, BigInt(s.u8(l.pos))) : BigInt(s.u8(l.pos));
      case DW_FORM.data2: return signed ? BigInt.asIntN(16, BigInt(s.u16(l.pos))) : BigInt(s.u16(l.pos));
      case DW_FORM.data4: return signed ? BigInt.asIntN(32, BigInt(s.u32(l.pos))) : BigInt(s.u32(l.pos));
      case DW_FORM.data8: return signed ? BigInt.asIntN(64, s.u64(l.pos)) : s.u64(l.pos);
      case DW_FORM.udata: return this.ulebBigAt(l.pos);
      case DW_FORM.sdata: return this.slebAt(l.pos);
      case DW_FORM.implicit_const: return this.tbl.implicitConst(this.tbl.firsts[this.ai]! + l.index);
      default: return undefined;
    }
  }

  /** DW_FORM_flag / flag_present; false when absent. */
  flag(at: number): boolean {
    if (!this.locate(at)) return false;
    const l = this.loc;
    if (l.form === DW_FORM.flag_present) return true;
    if (l.form === DW_FORM.flag) return this.sec.u8(l.pos) !== 0;
    return false;
  }

  /** A reference resolved to an absolute .debug_info offset (checked to lie inside .debug_info). */
  ref(at: number): number | undefined {
    if (!this.locate(at)) return undefined;
    const l = this.loc;
    const s = this.sec;
    let target: number;
    switch (l.form) {
      case DW_FORM.ref1: target = this.unit.offset + s.u8(l.pos); break;
      case DW_FORM.ref2: target = this.unit.offset + s.u16(l.pos); break;
      case DW_FORM.ref4: target = this.unit.offset + s.u32(l.pos); break;
      case DW_FORM.ref8: target = this.unit.offset + s.u64n(l.pos); break;
      case DW_FORM.ref_udata: target = this.unit.offset + this.ulebAt(l.pos); break;
      case DW_FORM.ref_addr: target = s.offsetAt(l.pos, this.unit.version <= 2 ? this.unit.addressSize : this.unit.offsetSize); break;
      case DW_FORM.ref_sig8:
        throw new DwarfError('type-units-unsupported', `DW_FORM_ref_sig8 reference to a type unit is not supported (DIE 0x${this.offset.toString(16)})`,
          { file: this.unit.dwarf.file, section: s.name, offset: l.pos });
      case DW_FORM.ref_sup4: case DW_FORM.ref_sup8: case DW_FORM.GNU_ref_alt:
        throw s.error('unsupported-form', l.pos, `${formName(l.form)} (supplementary object file) is not supported`);
      default: return undefined;
    }
    if (target >= s.length) {
      throw s.error('bad-reference', l.pos, `reference 0x${target.toString(16)} from DIE 0x${this.offset.toString(16)} is past the end of ${s.name}`);
    }
    return target;
  }

  /**
   * The .debug_str offset a strp/strx attribute points at (relocated, strx resolved through the
   * unit's str_offsets_base), so callers can memoise decoded strings by offset; -1 when the
   * attribute is absent or has another form (use `str`).
   */
  strOffset(at: number): number {
    if (!this.locate(at)) return -1;
    const l = this.loc;
    if (l.form === DW_FORM.strp) return this.sec.offsetAt(l.pos, this.unit.offsetSize);
    const index = this.indexAt(STRX_SIZES, l.form, l.pos);
    return index < 0 ? -1 : this.unit.strxOffset(index, l.pos);
  }

  /** The index an indexed form (strx*, addrx*: `sizes` says which) holds at `pos`; -1 for other forms. */
  private indexAt(sizes: ReadonlyMap<number, number>, form: number, pos: number): number {
    switch (sizes.get(form)) {
      case 0: return this.ulebAt(pos);
      case 1: return this.sec.u8(pos);
      case 2: return this.sec.u16(pos);
      case 3: return this.sec.u24(pos);
      case 4: return this.sec.u32(pos);
      default: return -1;
    }
  }

  /** A string attribute resolved (string, strp, line_strp, strx*, GNU_str_index). */
  str(at: number): string | undefined {
    if (!this.locate(at)) return undefined;
    const l = this.loc;
    const s = this.sec;
    const u = this.unit;
    switch (l.form) {
      case DW_FORM.string: {
        const end = this.bytes.indexOf(0, l.pos);
        if (end < 0 || end >= u.end) throw s.error('bad-string', l.pos, 'inline string has no NUL terminator inside the unit');
        return s.stringAt(l.pos);
      }
      case DW_FORM.strp: return u.dwarf.debugStr(s.offsetAt(l.pos, u.offsetSize), l.pos);
      case DW_FORM.line_strp: return u.dwarf.debugLineStr(s.offsetAt(l.pos, u.offsetSize), l.pos);
      case DW_FORM.strp_sup: case DW_FORM.GNU_strp_alt:
        throw s.error('unsupported-form', l.pos, `${formName(l.form)} (supplementary object file) is not supported`);
      default: {
        const index = this.indexAt(STRX_SIZES, l.form, l.pos);
        return index < 0 ? undefined : u.strx(index, l.pos);
      }
    }
  }

  /** An address attribute (addr, addrx*, GNU_addr_index), relocated. */
  address(at: number): DwarfAddress | undefined {
    if (!this.locate(at)) return undefined;
    const l = this.loc;
    const s = this.sec;
    const u = this.unit;
    switch (l.form) {
      case DW_FORM.addr: return s.addressAt(l.pos, u.addressSize);
      default: {
        const index = this.indexAt(ADDRX_SIZES, l.form, l.pos);
        return index < 0 ? undefined : u.addrx(index, l.pos);
      }
    }
  }

  /** An offset into another section (sec_offset; data4/data8 in DWARF 2/3), relocated. */
  sectionOffset(at: number): number | undefined {
    if (!this.locate(at)) return undefined;
    const l = this.loc;
    const u = this.unit;
    switch (l.form) {
      case DW_FORM.sec_offset: return this.sec.offsetAt(l.pos, u.offsetSize);
      case DW_FORM.data4: return u.version <= 3 ? this.sec.offsetAt(l.pos, 4) : undefined;
      case DW_FORM.data8: return u.version <= 3 ? this.sec.offsetAt(l.pos, 8) : undefined;
      default: return undefined;
    }
  }

  /**
   * Position in .debug_info of a block/exprloc value's first byte, or -1 when the attribute is
   * absent or not a block; its length is left in `blockLength`. No allocation (hot path).
   */
  blockPos(at: number): number {
    if (!this.locate(at)) return -1;
    const s = this.sec;
    let pos = this.lPos;
    let len: number;
    switch (this.lForm) {
      case DW_FORM.exprloc: case DW_FORM.block: len = this.ulebAt(pos); pos = this.lebEnd; break;
      case DW_FORM.block1: len = s.u8(pos); pos += 1; break;
      case DW_FORM.block2: len = s.u16(pos); pos += 2; break;
      case DW_FORM.block4: len = s.u32(pos); pos += 4; break;
      default: return -1;
    }
    if (pos + len > this.unit.end) throw s.error('truncated-unit', pos, `block of ${len} bytes runs past the end of the unit`);
    this.blockLength = len;
    return pos;
  }
  /** Length of the block found by the last blockPos(). */
  blockLength = 0;

  /** A block or exprloc value: its bytes (a view) and their .debug_info offset (for relocations). */
  block(at: number): { offset: number; bytes: Uint8Array } | undefined {
    if (!this.locate(at)) return undefined;
    const l = this.loc;
    const r = this.blockAt(l.form, l.pos);
    return r ? { offset: r.offset, bytes: r.bytes } : undefined;
  }

  private blockAt(form: number, pos: number): { offset: number; bytes: Uint8Array; end: number } | undefined {
    const s = this.sec;
    let len: number;
    switch (form) {
      case DW_FORM.block1: len = s.u8(pos); pos += 1; break;
      case DW_FORM.block2: len = s.u16(pos); pos += 2; break;
      case DW_FORM.block4: len = s.u32(pos); pos += 4; break;
      case DW_FORM.block: case DW_FORM.exprloc: len = this.ulebAt(pos); pos = this.lebEnd; break;
      default: return undefined;
    }
    if (pos + len > this.unit.end) throw s.error('truncated-unit', pos, `block of ${len} bytes runs past the end of the unit`);
    return { offset: pos, bytes: this.bytes.subarray(pos, pos + len), end: pos + len };
  }

  /** Every attribute of the current DIE with its raw (relocated, unresolved) value. */
  rawAttributes(): RawAttribute[] {
    const ai = this.ai;
    if (ai < 0) return [];
    const tbl = this.tbl;
    const first = tbl.firsts[ai]!;
    const out: RawAttribute[] = [];
    let pos = this.attrsPos;
    for (let i = 0; i < tbl.counts[ai]!; i++) {
      let form = tbl.forms[first + i]!;
      while (form === DW_FORM.indirect) { form = this.ulebAt(pos); pos = this.lebEnd; }
      const value = this.rawValue(form, pos, i);
      out.push({ at: tbl.attrs[first + i]!, form, value });
      pos = this.skipForm(form, pos);
    }
    return out;
  }

  private rawValue(form: number, pos: number, index: number): RawValue {
    const s = this.sec;
    const u = this.unit;
    switch (form) {
      case DW_FORM.addr: return { kind: 'address', value: s.addressAt(pos, u.addressSize) };
      case DW_FORM.addrx: case DW_FORM.GNU_addr_index: return { kind: 'addrx', index: this.ulebAt(pos) };
      case DW_FORM.addrx1: return { kind: 'addrx', index: s.u8(pos) };
      case DW_FORM.addrx2: return { kind: 'addrx', index: s.u16(pos) };
      case DW_FORM.addrx3: return { kind: 'addrx', index: s.u24(pos) };
      case DW_FORM.addrx4: return { kind: 'addrx', index: s.u32(pos) };
      case DW_FORM.block1: case DW_FORM.block2: case DW_FORM.block4: case DW_FORM.block: {
        const b = this.blockAt(form, pos)!;
        return { kind: 'block', offset: b.offset, bytes: b.bytes };
      }
      case DW_FORM.exprloc: { const b = this.blockAt(form, pos)!; return { kind: 'exprloc', offset: b.offset, bytes: b.bytes }; }
      case DW_FORM.data1: return { kind: 'constant', value: BigInt(s.u8(pos)), signed: false, size: 1 };
      case DW_FORM.data2: return { kind: 'constant', value: BigInt(s.u16(pos)), signed: false, size: 2 };
      case DW_FORM.data4: return { kind: 'constant', value: BigInt(s.u32(pos)), signed: false, size: 4 };
      case DW_FORM.data8: return { kind: 'constant', value: s.u64(pos), signed: false, size: 8 };
      case DW_FORM.udata: return { kind: 'constant', value: this.ulebBigAt(pos), signed: false, size: 0 };
      case DW_FORM.sdata: return { kind: 'constant', value: this.slebAt(pos), signed: true, size: 0 };
      case DW_FORM.implicit_const: return { kind: 'constant', value: this.tbl.implicitConst(this.tbl.firsts[this.ai]! + index), signed: true, size: 0 };
      case DW_FORM.data16: s.need(pos, 16, 'data16'); return { kind: 'data16', bytes: this.bytes.subarray(pos, pos + 16) };
      case DW_FORM.flag: return { kind: 'flag', value: s.u8(pos) !== 0 };
      case DW_FORM.flag_present: return { kind: 'flag', value: true };
      case DW_FORM.string: {
        const end = this.bytes.indexOf(0, pos);
        if (end < 0 || end >= u.end) throw s.error('bad-string', pos, 'inline string has no NUL terminator inside the unit');
        return { kind: 'string', value: s.stringAt(pos) };
      }
      case DW_FORM.strp: return { kind: 'strp', section: '.debug_str', offset: s.offsetAt(pos, u.offsetSize) };
      case DW_FORM.line_strp: return { kind: 'strp', section: '.debug_line_str', offset: s.offsetAt(pos, u.offsetSize) };
      case DW_FORM.strp_sup: return { kind: 'strp', section: 'supplementary', offset: s.offsetAt(pos, u.offsetSize) };
      case DW_FORM.GNU_strp_alt: return { kind: 'strp', section: 'alternate', offset: s.offsetAt(pos, u.offsetSize) };
      case DW_FORM.strx: case DW_FORM.GNU_str_index: return { kind: 'strx', index: this.ulebAt(pos) };
      case DW_FORM.strx1: return { kind: 'strx', index: s.u8(pos) };
      case DW_FORM.strx2: return { kind: 'strx', index: s.u16(pos) };
      case DW_FORM.strx3: return { kind: 'strx', index: s.u24(pos) };
      case DW_FORM.strx4: return { kind: 'strx', index: s.u32(pos) };
      case DW_FORM.ref1: return { kind: 'ref', unitOffset: s.u8(pos) };
      case DW_FORM.ref2: return { kind: 'ref', unitOffset: s.u16(pos) };
      case DW_FORM.ref4: return { kind: 'ref', unitOffset: s.u32(pos) };
      case DW_FORM.ref8: return { kind: 'ref', unitOffset: s.u64n(pos) };
      case DW_FORM.ref_udata: return { kind: 'ref', unitOffset: this.ulebAt(pos) };
      case DW_FORM.ref_addr: return { kind: 'ref_addr', offset: s.offsetAt(pos, u.version <= 2 ? u.addressSize : u.offsetSize) };
      case DW_FORM.ref_sig8: return { kind: 'ref_sig8', signature: s.u64(pos) };
      case DW_FORM.ref_sup4: return { kind: 'ref_sup', offset: s.u32(pos) };
      case DW_FORM.ref_sup8: return { kind: 'ref_sup', offset: s.u64n(pos) };
      case DW_FORM.GNU_ref_alt: return { kind: 'ref_sup', offset: s.offsetAt(pos, u.offsetSize) };
      case DW_FORM.sec_offset: return { kind: 'sec_offset', offset: s.offsetAt(pos, u.offsetSize) };
      case DW_FORM.loclistx: return { kind: 'loclistx', index: this.ulebAt(pos) };
      case DW_FORM.rnglistx: return { kind: 'rnglistx', index: this.ulebAt(pos) };
      default: throw s.error('unknown-form', pos, `unknown ${formName(form)} in DIE 0x${this.offset.toString(16)}`);
    }
  }

  // ---- low-level decoding --------------------------------------------------------------

  /** Skip all attributes of a DIE with abbreviation index `ai` whose data starts at `pos`. */
  private skipAttrs(ai: number, pos: number): number {
    const tbl = this.tbl;
    const sizes = tbl.sizes;
    const forms = tbl.forms;
    const first = tbl.firsts[ai]!;
    const n = first + tbl.counts[ai]!;
    for (let i = first; i < n; i++) {
      const size = sizes[i]!;
      pos = size >= 0 ? pos + size : this.skipForm(forms[i]!, pos);
    }
    if (pos > this.unit.end) throw this.sec.error('truncated-unit', this.offset, 'DIE attributes run past the end of the unit');
    return pos;
  }

  /** Position after a value of `form` at `pos`. */
  private skipForm(form: number, pos: number): number {
    const b = this.bytes;
    const end = this.unit.end;
    switch (form) {
      case DW_FORM.udata: case DW_FORM.sdata: case DW_FORM.ref_udata: case DW_FORM.strx: case DW_FORM.addrx:
      case DW_FORM.loclistx: case DW_FORM.rnglistx: case DW_FORM.GNU_addr_index: case DW_FORM.GNU_str_index:
        while (pos < end && (b[pos]! & 0x80) !== 0) pos++;
        if (pos >= end) throw this.sec.error('truncated-unit', pos, 'LEB128 runs past the end of the unit');
        return pos + 1;
      case DW_FORM.string: {
        const z = b.indexOf(0, pos);
        if (z < 0 || z >= end) throw this.sec.error('truncated-unit', pos, 'inline string runs past the end of the unit');
        return z + 1;
      }
      case DW_FORM.block1: case DW_FORM.block2: case DW_FORM.block4: case DW_FORM.block: case DW_FORM.exprloc:
        return this.blockAt(form, pos)!.end;
      case DW_FORM.indirect: {
        const st = { value: this.ulebAt(pos), pos: this.lebEnd };
        if (st.value === DW_FORM.indirect) throw this.sec.error('unknown-form', pos, 'DW_FORM_indirect of DW_FORM_indirect');
        if (st.value === DW_FORM.implicit_const) throw this.sec.error('unknown-form', pos, 'DW_FORM_indirect of DW_FORM_implicit_const');
        const size = formSize(st.value, this.unit);
        if (size === UNKNOWN) throw this.sec.error('unknown-form', pos, `unknown ${formName(st.value)} (via DW_FORM_indirect) in DIE 0x${this.offset.toString(16)}`);
        return size >= 0 ? st.pos + size : this.skipForm(st.value, st.pos);
      }
      default: {
        const size = formSize(form, this.unit);
        if (size >= 0) return pos + size;
        throw this.sec.error('unknown-form', pos, `unknown ${formName(form)} in DIE 0x${this.offset.toString(16)}`);
      }
    }
  }

  /** Position after the last LEB128 read by ulebAt/slebAt (avoids allocating a result pair). */
  private lebEnd = 0;

  private ulebAt(pos: number): number {
    const b = this.bytes;
    const end = this.unit.end;
    let result = 0;
    let mul = 1;
    const start = pos;
    for (;;) {
      if (pos >= end) throw this.sec.error('truncated-unit', start, 'ULEB128 runs past the end of the unit');
      const byte = b[pos++]!;
      result += (byte & 0x7f) * mul;
      if ((byte & 0x80) === 0) { this.lebEnd = pos; return result; }
      mul *= 128;
      if (mul > 2 ** 63) throw this.sec.error('truncated', start, 'ULEB128 too long');
    }
  }

  private ulebBigAt(pos: number): bigint {
    const b = this.bytes;
    const end = this.unit.end;
    let result = 0n;
    let shift = 0n;
    const start = pos;
    for (;;) {
      if (pos >= end) throw this.sec.error('truncated-unit', start, 'ULEB128 runs past the end of the unit');
      const byte = b[pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      shift += 7n;
      if ((byte & 0x80) === 0) return result;
      if (shift > 70n) throw this.sec.error('truncated', start, 'ULEB128 too long');
    }
  }

  private slebAt(pos: number): bigint {
    const b = this.bytes;
    const end = this.unit.end;
    let result = 0n;
    let shift = 0n;
    let byte: number;
    const start = pos;
    do {
      if (pos >= end) throw this.sec.error('truncated-unit', start, 'SLEB128 runs past the end of the unit');
      byte = b[pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      shift += 7n;
      if (shift > 70n && (byte & 0x80) !== 0) throw this.sec.error('truncated', start, 'SLEB128 too long');
    } while (byte & 0x80);
    if (byte & 0x40) result -= 1n << shift;
    this.lebEnd = pos;
    return result;
  }
}

/** Index of the last entry of the ascending `starts` that is <= `offset` (-1 when none): the unit holding a DIE. */
/** Indexed forms and the size of their index (0 = ULEB128). */
const STRX_SIZES: ReadonlyMap<number, number> = new Map([
  [DW_FORM.strx, 0], [DW_FORM.GNU_str_index, 0], [DW_FORM.strx1, 1], [DW_FORM.strx2, 2], [DW_FORM.strx3, 3], [DW_FORM.strx4, 4],
]);
const ADDRX_SIZES: ReadonlyMap<number, number> = new Map([
  [DW_FORM.addrx, 0], [DW_FORM.GNU_addr_index, 0], [DW_FORM.addrx1, 1], [DW_FORM.addrx2, 2], [DW_FORM.addrx3, 3], [DW_FORM.addrx4, 4],
]);

export function lastAtOrBelow(starts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid]! <= offset) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found;
}
