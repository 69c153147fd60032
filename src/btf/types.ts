/**
 * In-memory BTF type records. One mutable object per type, fields named after their meaning;
 * `nameOff` values are absolute string offsets in the whole chain (cumulative, as in split BTF),
 * type ids are absolute too. `kflag` is kept as read so that read+write is byte-exact.
 * Kind numbers and per-kind layout live in kinds.ts.
 */
import type { KIND } from './kinds.js';

/** Absolute type id in a chain (0 = void). Plain numbers: hot loops, and ids come from untrusted bytes. */
export type TypeId = number;
/** Absolute string offset in a chain (0 = ""). */
export type StrOff = number;

interface Common { nameOff: StrOff; kflag: boolean }

export interface IntType extends Common { kind: typeof KIND.INT; size: number; encoding: number; bitOffset: number; bits: number }
export interface PtrType extends Common { kind: typeof KIND.PTR; type: TypeId }
export interface ArrayType extends Common { kind: typeof KIND.ARRAY; elemType: TypeId; indexType: TypeId; nelems: number }
export interface Member {
  nameOff: StrOff;
  type: TypeId;
  /** The raw offset word: bit offset, or with the parent's kflag `bitfieldSize << 24 | bitOffset`. */
  offset: number;
}
export interface StructType extends Common { kind: typeof KIND.STRUCT | typeof KIND.UNION; size: number; members: Member[] }
export interface EnumValue { nameOff: StrOff; value: number }
/** kflag = signed values. `value` holds the s32 as read when signed, else the u32. */
export interface EnumType extends Common { kind: typeof KIND.ENUM; size: number; values: EnumValue[] }
export interface Enum64Value { nameOff: StrOff; value: bigint }
/** kflag = signed. `value` holds the 64-bit value (as signed when kflag, else unsigned). */
export interface Enum64Type extends Common { kind: typeof KIND.ENUM64; size: number; values: Enum64Value[] }
/** kflag = forward of a union. */
export interface FwdType extends Common { kind: typeof KIND.FWD }
export interface RefType extends Common {
  kind: typeof KIND.TYPEDEF | typeof KIND.VOLATILE | typeof KIND.CONST | typeof KIND.RESTRICT | typeof KIND.TYPE_TAG;
  type: TypeId;
}
export interface FuncType extends Common { kind: typeof KIND.FUNC; type: TypeId; linkage: number }
export interface Param { nameOff: StrOff; type: TypeId }
/** A trailing param {0, 0} means varargs and is kept in `params`. */
export interface FuncProtoType extends Common { kind: typeof KIND.FUNC_PROTO; returnType: TypeId; params: Param[] }
export interface VarType extends Common { kind: typeof KIND.VAR; type: TypeId; linkage: number }
export interface VarSecInfo { type: TypeId; offset: number; size: number }
export interface DatasecType extends Common { kind: typeof KIND.DATASEC; size: number; vars: VarSecInfo[] }
export interface FloatType extends Common { kind: typeof KIND.FLOAT; size: number }
export interface DeclTagType extends Common { kind: typeof KIND.DECL_TAG; type: TypeId; componentIdx: number }

export type BtfType =
  | IntType | PtrType | ArrayType | StructType | EnumType | Enum64Type | FwdType | RefType
  | FuncType | FuncProtoType | VarType | DatasecType | FloatType | DeclTagType;

/** Bitfield view of a member (decodes the raw offset word with the parent's kflag). */
export function memberBitOffset(parent: StructType, m: Member): number {
  return parent.kflag ? m.offset & 0xffffff : m.offset;
}
export function memberBitfieldSize(parent: StructType, m: Member): number {
  return parent.kflag ? m.offset >>> 24 : 0;
}
