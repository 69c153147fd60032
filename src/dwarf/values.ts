/**
 * Resolved-value helpers over a DieCursor: names and flags integrated through
 * DW_AT_specification / DW_AT_abstract_origin, type references, sizes, array bounds,
 * member locations and bit fields. All references come back as absolute .debug_info offsets.
 */
import { DW_AT, DW_OP } from './constants.js';
import type { Dwarf, DieCursor } from './dwarf.js';

const MAX_CHAIN = 8;

/** Follow DW_AT_specification / DW_AT_abstract_origin from `die` until `pick` returns a value. */
export function integrate<T>(dwarf: Dwarf, die: DieCursor, pick: (c: DieCursor) => T | undefined): T | undefined {
  let c: DieCursor | undefined = die;
  for (let i = 0; i < MAX_CHAIN && c !== undefined; i++) {
    const v = pick(c);
    if (v !== undefined) return v;
    const next: number | undefined = c.ref(DW_AT.specification) ?? c.ref(DW_AT.abstract_origin);
    c = next === undefined ? undefined : dwarf.dieAt(next);
  }
  return undefined;
}

/** DW_AT_name, through specification/abstract_origin. */
export function dieName(dwarf: Dwarf, die: DieCursor): string | undefined {
  return integrate(dwarf, die, (c) => c.str(DW_AT.name));
}

/** DW_AT_type as an absolute offset, through specification/abstract_origin. */
export function typeRef(dwarf: Dwarf, die: DieCursor): number | undefined {
  return integrate(dwarf, die, (c) => c.ref(DW_AT.type));
}

/** DW_AT_external, through specification/abstract_origin. */
export function isExternal(dwarf: Dwarf, die: DieCursor): boolean {
  return integrate(dwarf, die, (c) => (c.flag(DW_AT.external) ? true : undefined)) ?? false;
}

export function isDeclaration(die: DieCursor): boolean { return die.flag(DW_AT.declaration); }
export function isArtificial(die: DieCursor): boolean { return die.flag(DW_AT.artificial); }

/** DW_AT_byte_size as a constant (undefined when absent or non-constant). */
export function byteSize(die: DieCursor): number | undefined { return die.udata(DW_AT.byte_size); }

/**
 * Element count of a DW_TAG_subrange_type: DW_AT_count, or upper_bound - lower_bound + 1.
 * dataN bounds are unsigned (GCC writes sdata when a bound is negative); an all-ones 4/8-byte
 * upper bound is GCC's -1 for zero-length arrays.
 */
export function subrangeCount(die: DieCursor): number | undefined {
  const count = die.constant(DW_AT.count);
  if (count !== undefined) return Number(count);
  const upper = die.constant(DW_AT.upper_bound);
  if (upper === undefined) return undefined;
  const lower = die.constant(DW_AT.lower_bound) ?? 0n;
  const u = upper === 0xffffffffn || upper === 0xffffffffffffffffn ? -1n : upper;
  const n = u - lower + 1n;
  return n < 0n ? 0 : Number(n);
}

/** DW_AT_data_member_location as a byte offset (constant, or exprloc DW_OP_plus_uconst N). */
export function dataMemberLocation(die: DieCursor): number | undefined {
  const k = die.udata(DW_AT.data_member_location);
  if (k !== undefined) return k;
  const b = die.block(DW_AT.data_member_location);
  if (b === undefined || b.bytes[0] !== DW_OP.plus_uconst) return undefined;
  let v = 0;
  let mul = 1;
  for (let i = 1; i < b.bytes.length; i++) {
    const byte = b.bytes[i]!;
    v += (byte & 0x7f) * mul;
    if ((byte & 0x80) === 0) return v;
    mul *= 128;
  }
  return undefined;
}

export interface BitField {
  readonly bitSize: number;
  /** Offset of the field's first bit from the start of the containing struct. */
  readonly bitOffset: number;
}

/**
 * Bit-field placement: DW_AT_data_bit_offset (DWARF 4+), or the DWARF 2/3 DW_AT_bit_offset
 * (counted from the most significant bit of a DW_AT_byte_size storage unit, little-endian).
 */
export function bitField(die: DieCursor): BitField | undefined {
  const bitSize = die.udata(DW_AT.bit_size);
  if (bitSize === undefined) return undefined;
  const dbo = die.udata(DW_AT.data_bit_offset);
  if (dbo !== undefined) return { bitSize, bitOffset: dbo };
  const byteOff = dataMemberLocation(die) ?? 0;
  const old = die.constant(DW_AT.bit_offset, true);
  if (old === undefined) return { bitSize, bitOffset: byteOff * 8 };
  const storage = (die.udata(DW_AT.byte_size) ?? 0) * 8;
  return { bitSize, bitOffset: byteOff * 8 + storage - Number(old) - bitSize };
}

/** DW_AT_const_value: a constant (signed when sdata), or the bytes of a block/string. */
export function constValue(die: DieCursor): bigint | Uint8Array | string | undefined {
  const k = die.constant(DW_AT.const_value);
  if (k !== undefined) return k;
  const b = die.block(DW_AT.const_value);
  if (b !== undefined) return b.bytes;
  return die.str(DW_AT.const_value);
}
