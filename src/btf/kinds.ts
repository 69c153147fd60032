/**
 * Per-kind knowledge of BTF, in one place: the on-disk layout of each kind (how many bytes
 * follow the 12-byte common header, fixed and per vlen entry, and which of those words hold type
 * ids and string offsets: LAYOUT) and the same fields on decoded records (mapTypeIds,
 * mapStrOffs). Parse, write, copy, dedup, remap and joins all go through these tables and
 * visitors, so adding or fixing a kind is a one-file change.
 *
 * Two hot readers work on the encoded words instead of objects, for speed: validate.ts and
 * dump-raw.ts. They follow LAYOUT (record = 3 header words, then `fixed` bytes, then `perVlen`
 * bytes per entry, fields in the order decodeType reads them); a new kind needs them too.
 */
import type { BtfType } from './types.js';

export const KIND = {
  UNKN: 0,
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;
export type Kind = (typeof KIND)[keyof typeof KIND];
export const MAX_KIND = 19;

/** Names as bpftool prints them. */
export const KIND_NAME: Readonly<Record<Kind, string>> = {
  0: 'UNKNOWN', 1: 'INT', 2: 'PTR', 3: 'ARRAY', 4: 'STRUCT', 5: 'UNION', 6: 'ENUM', 7: 'FWD',
  8: 'TYPEDEF', 9: 'VOLATILE', 10: 'CONST', 11: 'RESTRICT', 12: 'FUNC', 13: 'FUNC_PROTO',
  14: 'VAR', 15: 'DATASEC', 16: 'FLOAT', 17: 'DECL_TAG', 18: 'TYPE_TAG', 19: 'ENUM64',
};

export interface KindLayout {
  /** Bytes after the 12-byte common header, regardless of vlen. */
  readonly fixed: number;
  /** Bytes per vlen entry. */
  readonly perVlen: number;
  /** The common header's third word is a size (true) or a type id (false). */
  readonly sized: boolean;
  /** The header's third word is a type id this record refers to (FWD's and ARRAY's hold 0). */
  readonly headerRef: boolean;
  /** Words after the header that are type ids (ARRAY: element and index type). */
  readonly fixedRefs: readonly number[];
  /** In each vlen entry, the word holding its name's string offset (members, enumerators, parameters). */
  readonly entryName?: number;
  /** In each vlen entry, the word holding a type id (members, parameters, DATASEC variables). */
  readonly entryRef?: number;
}

const NONE: readonly number[] = [];
export const LAYOUT: Readonly<Record<Exclude<Kind, 0>, KindLayout>> = {
  1: { fixed: 4, perVlen: 0, sized: true, headerRef: false, fixedRefs: NONE },      // INT: encoding word
  2: { fixed: 0, perVlen: 0, sized: false, headerRef: true, fixedRefs: NONE },      // PTR
  3: { fixed: 12, perVlen: 0, sized: false, headerRef: false, fixedRefs: [0, 1] },  // ARRAY: type, index_type, nelems (header word unused: 0)
  4: { fixed: 0, perVlen: 12, sized: true, headerRef: false, fixedRefs: NONE, entryName: 0, entryRef: 1 }, // STRUCT: name_off, type, offset
  5: { fixed: 0, perVlen: 12, sized: true, headerRef: false, fixedRefs: NONE, entryName: 0, entryRef: 1 }, // UNION
  6: { fixed: 0, perVlen: 8, sized: true, headerRef: false, fixedRefs: NONE, entryName: 0 },  // ENUM: name_off, s32 val
  7: { fixed: 0, perVlen: 0, sized: false, headerRef: false, fixedRefs: NONE },     // FWD (header word 0)
  8: { fixed: 0, perVlen: 0, sized: false, headerRef: true, fixedRefs: NONE },      // TYPEDEF
  9: { fixed: 0, perVlen: 0, sized: false, headerRef: true, fixedRefs: NONE },      // VOLATILE
  10: { fixed: 0, perVlen: 0, sized: false, headerRef: true, fixedRefs: NONE },     // CONST
  11: { fixed: 0, perVlen: 0, sized: false, headerRef: true, fixedRefs: NONE },     // RESTRICT
  12: { fixed: 0, perVlen: 0, sized: false, headerRef: true, fixedRefs: NONE },     // FUNC: vlen = linkage
  13: { fixed: 0, perVlen: 8, sized: false, headerRef: true, fixedRefs: NONE, entryName: 0, entryRef: 1 }, // FUNC_PROTO: name_off, type
  14: { fixed: 4, perVlen: 0, sized: false, headerRef: true, fixedRefs: NONE },     // VAR: linkage
  15: { fixed: 0, perVlen: 12, sized: true, headerRef: false, fixedRefs: NONE, entryRef: 0 },  // DATASEC: type, offset, size
  16: { fixed: 0, perVlen: 0, sized: true, headerRef: false, fixedRefs: NONE },     // FLOAT
  17: { fixed: 4, perVlen: 0, sized: false, headerRef: true, fixedRefs: NONE },     // DECL_TAG: component_idx
  18: { fixed: 0, perVlen: 0, sized: false, headerRef: true, fixedRefs: NONE },     // TYPE_TAG
  19: { fixed: 0, perVlen: 12, sized: true, headerRef: false, fixedRefs: NONE, entryName: 0 }, // ENUM64: name_off, lo32, hi32
};

/** Encoded size in bytes of a type record with this kind and vlen. */
export function recordSize(kind: Exclude<Kind, 0>, vlen: number): number {
  const l = LAYOUT[kind];
  return 12 + l.fixed + l.perVlen * vlen;
}

export const INT_ENC = { SIGNED: 1, CHAR: 2, BOOL: 4 } as const;
export const FUNC_LINKAGE = { STATIC: 0, GLOBAL: 1, EXTERN: 2 } as const;
export const VAR_LINKAGE = { STATIC: 0, GLOBAL_ALLOCATED: 1, GLOBAL_EXTERN: 2 } as const;
export const BTF_MAGIC = 0xeb9f;
export const BTF_VERSION = 1;
export const BTF_HEADER_LEN = 24;
/** Kernel limits (include/linux/btf.h, kernel/bpf/btf.c). */
export const BTF_MAX_TYPE = 0xfffff;
export const BTF_MAX_NAME_OFFSET = 0xffffff;
export const BTF_MAX_VLEN = 0xffff;
/** 128 before Linux 6.1 (512 since): the smaller limit keeps our output loadable on older kernels too. */
export const KSYM_NAME_LEN = 128;

/** Kinds whose header word is a referenced type (modifiers and friends). */
export const REF_KINDS: ReadonlySet<Kind> = new Set<Kind>([
  KIND.PTR, KIND.TYPEDEF, KIND.VOLATILE, KIND.CONST, KIND.RESTRICT, KIND.FUNC, KIND.VAR, KIND.DECL_TAG, KIND.TYPE_TAG,
]);

/**
 * Calls `fn` on every type-id field of `t` and stores what it returns (identity to only visit).
 * Order is fixed (header reference, then per-kind fields in record order): dedup relies on it.
 */
export function mapTypeIds(t: BtfType, fn: (id: number) => number): void {
  switch (t.kind) {
    case KIND.PTR: case KIND.TYPEDEF: case KIND.VOLATILE: case KIND.CONST: case KIND.RESTRICT:
    case KIND.FUNC: case KIND.VAR: case KIND.DECL_TAG: case KIND.TYPE_TAG:
      t.type = fn(t.type); return;
    case KIND.ARRAY:
      t.elemType = fn(t.elemType); t.indexType = fn(t.indexType); return;
    case KIND.STRUCT: case KIND.UNION:
      for (const m of t.members) m.type = fn(m.type); return;
    case KIND.FUNC_PROTO:
      t.returnType = fn(t.returnType);
      for (const p of t.params) p.type = fn(p.type); return;
    case KIND.DATASEC:
      for (const v of t.vars) v.type = fn(v.type); return;
    case KIND.INT: case KIND.ENUM: case KIND.ENUM64: case KIND.FWD: case KIND.FLOAT:
      return;
  }
}

/** Visits type-id fields without changing them. */
export function forEachTypeId(t: BtfType, fn: (id: number) => void): void {
  mapTypeIds(t, (id) => { fn(id); return id; });
}

/** Calls `fn` on every string-offset field of `t` (type name, member/param/enumerator names). */
export function mapStrOffs(t: BtfType, fn: (off: number) => number): void {
  t.nameOff = fn(t.nameOff);
  switch (t.kind) {
    case KIND.STRUCT: case KIND.UNION:
      for (const m of t.members) m.nameOff = fn(m.nameOff); return;
    case KIND.ENUM: case KIND.ENUM64:
      for (const v of t.values) v.nameOff = fn(v.nameOff); return;
    case KIND.FUNC_PROTO:
      for (const p of t.params) p.nameOff = fn(p.nameOff); return;
    default:
      return;
  }
}

export function forEachStrOff(t: BtfType, fn: (off: number) => void): void {
  mapStrOffs(t, (off) => { fn(off); return off; });
}

/**
 * The word positions of an ENCODED record (at word `p` of `w`) that hold type ids (`onId`) and
 * string offsets (`onStr`), from LAYOUT's reference fields, in mapTypeIds' / mapStrOffs' order.
 */
function forEachRefWord(w: Uint32Array, p: number, onId: (q: number) => void, onStr?: (q: number) => void): void {
  const info = w[p + 1]!;
  onStr?.(p);
  const kind = (info >>> 24) & 0x1f;
  if (kind === KIND.UNKN || kind > MAX_KIND) return;
  const l = LAYOUT[kind as Exclude<Kind, 0>];
  if (l.headerRef) onId(p + 2);
  for (const f of l.fixedRefs) onId(p + 3 + f);
  const entryName = onStr === undefined ? undefined : l.entryName;
  const { entryRef } = l;
  if (entryName === undefined && entryRef === undefined) return;
  const vlen = info & 0xffff;
  const stride = l.perVlen >>> 2;
  for (let i = 0, q = p + 3 + (l.fixed >>> 2); i < vlen; i++, q += stride) {
    if (entryName !== undefined) onStr?.(q + entryName);
    if (entryRef !== undefined) onId(q + entryRef);
  }
}

/**
 * mapTypeIds and mapStrOffs on an ENCODED record (at word `p` of `w`), in place, without decoding
 * it: for joins that only move ids and offsets (the same fields in the same order; a test holds
 * them to it for every kind).
 */
export function mapEncodedRefs(w: Uint32Array, p: number, id: (id: number) => number, str: (off: number) => number): void {
  forEachRefWord(w, p, (q) => { w[q] = id(w[q]!); }, (q) => { w[q] = str(w[q]!); });
}

/** Calls `fn` on every type id an ENCODED record refers to, in mapTypeIds' order, reading only. */
export function forEachEncodedTypeId(w: Uint32Array, p: number, fn: (id: number) => void): void {
  forEachRefWord(w, p, (q) => { fn(w[q]!); });
}

/** Number of vlen entries `t` encodes (linkage for FUNC). */
export function vlenOf(t: BtfType): number {
  switch (t.kind) {
    case KIND.STRUCT: case KIND.UNION: return t.members.length;
    case KIND.ENUM: case KIND.ENUM64: return t.values.length;
    case KIND.FUNC_PROTO: return t.params.length;
    case KIND.DATASEC: return t.vars.length;
    case KIND.FUNC: return t.linkage;
    default: return 0;
  }
}

/** Deep copy (types are mutable records; copy before remapping someone else's). */
export function cloneType(t: BtfType): BtfType {
  switch (t.kind) {
    case KIND.STRUCT: case KIND.UNION: return { ...t, members: t.members.map((m) => ({ ...m })) };
    case KIND.ENUM: return { ...t, values: t.values.map((v) => ({ ...v })) };
    case KIND.ENUM64: return { ...t, values: t.values.map((v) => ({ ...v })) };
    case KIND.FUNC_PROTO: return { ...t, params: t.params.map((p) => ({ ...p })) };
    case KIND.DATASEC: return { ...t, vars: t.vars.map((v) => ({ ...v })) };
    default: return { ...t };
  }
}

/** Mask of the info word's meaningful bits (vlen 0-15, kind 24-28, kind_flag 31). */
export const INFO_MASK = 0x9f00ffff;

/** The info word of `t` (kind, vlen, kind_flag). */
export function infoOf(t: BtfType): number {
  return ((t.kflag ? 0x80000000 : 0) | (t.kind << 24) | (vlenOf(t) & 0xffff)) >>> 0;
}

/** Kinds that have no vlen entries; a non-zero vlen there cannot be represented (FUNC uses it as linkage). */
export function kindHasVlen(kind: Kind): boolean {
  return kind === KIND.FUNC || (kind !== KIND.UNKN && LAYOUT[kind].perVlen > 0);
}

/**
 * Decodes one record whose 12-byte header starts at word `p` of `w` (little-endian u32 words;
 * the caller has checked that recordSize(kind, vlen) words are there). Returns undefined when the
 * record holds bits the model cannot represent (reserved INT bits, ARRAY/FWD header word, vlen on
 * a kind without entries), which the parser reports.
 */
/** Why the record at word `p` cannot be represented by BtfType (so parse must refuse it), or undefined. */
export function unrepresentable(w: Uint32Array, p: number, kind: Exclude<Kind, 0>, vlen: number): string | undefined {
  if (vlen !== 0 && !kindHasVlen(kind)) return `vlen ${vlen} on a kind without entries`;
  if (kind === KIND.INT && (w[p + 3]! & 0xff00) !== 0) return `INT data 0x${w[p + 3]!.toString(16)} has reserved bits 8-15 set`;
  if (kind === KIND.ARRAY && w[p + 2] !== 0) return `ARRAY size/type word is ${w[p + 2]}, not 0`;
  if (kind === KIND.FWD && w[p + 2] !== 0) return `FWD size/type word is ${w[p + 2]}, not 0`;
  return undefined;
}

export function decodeType(w: Uint32Array, p: number, kind: Exclude<Kind, 0>, kflag: boolean, vlen: number): BtfType | string {
  const nameOff = w[p]!;
  const sizeOrType = w[p + 2]!;
  const why = unrepresentable(w, p, kind, vlen);
  if (why !== undefined) return why;
  let q = p + 3;
  switch (kind) {
    case KIND.INT: {
      const e = w[q]!;
      return { kind, nameOff, kflag, size: sizeOrType, encoding: e >>> 24, bitOffset: (e >>> 16) & 0xff, bits: e & 0xff };
    }
    case KIND.PTR: case KIND.TYPEDEF: case KIND.VOLATILE: case KIND.CONST: case KIND.RESTRICT: case KIND.TYPE_TAG:
      return { kind, nameOff, kflag, type: sizeOrType };
    case KIND.ARRAY:
      return { kind, nameOff, kflag, elemType: w[q]!, indexType: w[q + 1]!, nelems: w[q + 2]! };
    case KIND.STRUCT: case KIND.UNION: {
      const members = new Array<{ nameOff: number; type: number; offset: number }>(vlen);
      for (let i = 0; i < vlen; i++, q += 3) members[i] = { nameOff: w[q]!, type: w[q + 1]!, offset: w[q + 2]! };
      return { kind, nameOff, kflag, size: sizeOrType, members };
    }
    case KIND.ENUM: {
      const values = new Array<{ nameOff: number; value: number }>(vlen);
      for (let i = 0; i < vlen; i++, q += 2) values[i] = { nameOff: w[q]!, value: kflag ? w[q + 1]! | 0 : w[q + 1]! };
      return { kind, nameOff, kflag, size: sizeOrType, values };
    }
    case KIND.ENUM64: {
      const values = new Array<{ nameOff: number; value: bigint }>(vlen);
      for (let i = 0; i < vlen; i++, q += 3) {
        const u = (BigInt(w[q + 2]!) << 32n) | BigInt(w[q + 1]!);
        values[i] = { nameOff: w[q]!, value: kflag ? BigInt.asIntN(64, u) : u };
      }
      return { kind, nameOff, kflag, size: sizeOrType, values };
    }
    case KIND.FWD:
      return { kind, nameOff, kflag };
    case KIND.FUNC:
      return { kind, nameOff, kflag, type: sizeOrType, linkage: vlen };
    case KIND.FUNC_PROTO: {
      const params = new Array<{ nameOff: number; type: number }>(vlen);
      for (let i = 0; i < vlen; i++, q += 2) params[i] = { nameOff: w[q]!, type: w[q + 1]! };
      return { kind, nameOff, kflag, returnType: sizeOrType, params };
    }
    case KIND.VAR:
      return { kind, nameOff, kflag, type: sizeOrType, linkage: w[q]! };
    case KIND.DATASEC: {
      const vars = new Array<{ type: number; offset: number; size: number }>(vlen);
      for (let i = 0; i < vlen; i++, q += 3) vars[i] = { type: w[q]!, offset: w[q + 1]!, size: w[q + 2]! };
      return { kind, nameOff, kflag, size: sizeOrType, vars };
    }
    case KIND.FLOAT:
      return { kind, nameOff, kflag, size: sizeOrType };
    case KIND.DECL_TAG:
      return { kind, nameOff, kflag, type: sizeOrType, componentIdx: w[q]! | 0 };
  }
}

/** Size in bytes of `t` encoded. */
export function encodedSize(t: BtfType): number {
  return recordSize(t.kind, t.kind === KIND.FUNC ? 0 : vlenOf(t));
}

/** Encodes `t` at word `p` of `w` (little-endian u32 words); returns the next word index. */
export function encodeType(t: BtfType, w: Uint32Array, p: number): number {
  w[p] = t.nameOff;
  w[p + 1] = infoOf(t);
  let q = p + 3;
  switch (t.kind) {
    case KIND.INT:
      w[p + 2] = t.size;
      w[q++] = ((t.encoding << 24) | (t.bitOffset << 16) | t.bits) >>> 0;
      return q;
    case KIND.PTR: case KIND.TYPEDEF: case KIND.VOLATILE: case KIND.CONST: case KIND.RESTRICT: case KIND.TYPE_TAG:
    case KIND.FUNC:
      w[p + 2] = t.type;
      return q;
    case KIND.ARRAY:
      w[p + 2] = 0;
      w[q] = t.elemType; w[q + 1] = t.indexType; w[q + 2] = t.nelems;
      return q + 3;
    case KIND.STRUCT: case KIND.UNION:
      w[p + 2] = t.size;
      for (const m of t.members) { w[q] = m.nameOff; w[q + 1] = m.type; w[q + 2] = m.offset; q += 3; }
      return q;
    case KIND.ENUM:
      w[p + 2] = t.size;
      for (const v of t.values) { w[q] = v.nameOff; w[q + 1] = v.value >>> 0; q += 2; }
      return q;
    case KIND.ENUM64:
      w[p + 2] = t.size;
      for (const v of t.values) {
        const u = BigInt.asUintN(64, v.value);
        w[q] = v.nameOff; w[q + 1] = Number(u & 0xffffffffn); w[q + 2] = Number(u >> 32n); q += 3;
      }
      return q;
    case KIND.FWD:
      w[p + 2] = 0;
      return q;
    case KIND.FUNC_PROTO:
      w[p + 2] = t.returnType;
      for (const a of t.params) { w[q] = a.nameOff; w[q + 1] = a.type; q += 2; }
      return q;
    case KIND.VAR:
      w[p + 2] = t.type;
      w[q] = t.linkage;
      return q + 1;
    case KIND.DATASEC:
      w[p + 2] = t.size;
      for (const v of t.vars) { w[q] = v.type; w[q + 1] = v.offset; w[q + 2] = v.size; q += 3; }
      return q;
    case KIND.FLOAT:
      w[p + 2] = t.size;
      return q;
    case KIND.DECL_TAG:
      w[p + 2] = t.type;
      w[q] = t.componentIdx >>> 0;
      return q + 1;
  }
}

/** Byte size a sized kind declares (INT, STRUCT, UNION, ENUM, ENUM64, DATASEC, FLOAT); undefined otherwise. */
export function declaredSize(t: BtfType): number | undefined {
  switch (t.kind) {
    case KIND.INT: case KIND.STRUCT: case KIND.UNION: case KIND.ENUM: case KIND.ENUM64: case KIND.DATASEC: case KIND.FLOAT:
      return t.size;
    default:
      return undefined;
  }
}
