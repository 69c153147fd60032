/**
 * libbpf-equivalent BTF deduplication (btf__dedup) of the TOP level of a chain against its
 * immutable ancestors (any depth), or of a standalone BTF. Read libbpf's btf.c for the original;
 * this is an independent implementation of the same semantics. A type is only ever compared with
 * the candidates filed under its structural hash, never scanned against all types.
 *
 * Vocabulary: ids are absolute; "ancestor" ids are below `startId` and never change. `map[id]`
 * is the id's canonical representative (itself when canonical); resolving follows the map to a
 * fixed point. The candidate table maps a structural hash to the canonical ids with that hash;
 * it is seeded with EVERY ancestor type (they are canonical by definition) and grows with each
 * top-level type found canonical. Candidates are tried newest first, as libbpf's table does.
 *
 * Passes, in order, over one DedupContext:
 *  1. strings: every top-level string offset is rewritten to an ancestor's offset when an
 *     ancestor has the string (root first), else to a fresh, deduplicated own table. From then
 *     on equal names have equal offsets, so names compare as numbers.
 *  2. primitives (INT, FLOAT, FWD, ENUM/ENUM64): exact match on a hash of everything. Enums hash
 *     by name only so that an enum forward (no values) matches a full enum of either width: a
 *     forward maps to the first full enum found, and a full enum redirects earlier canonical
 *     forwards to itself.
 *  3. structs/unions, then typedefs: graph equivalence. For each candidate with the same shallow
 *     shape (name, size, member names and offsets, and member-type shapes that equivalence
 *     preserves: see memberShape) a parallel DFS (explicit stack) walks both type graphs, recording
 *     a hypothetical canonical->candidate map; a contradiction (one canonical type paired with two
 *     different candidate types that are not structurally identical) means "not equivalent".
 *     A FWD pairs with a struct/union of its name and kind. On success the hypothetical map is
 *     merged (FWDs resolved to their struct, unmapped structs of the graph mapped too). If the
 *     equivalence would need an ANCESTOR FWD to become a struct (the ancestor is immutable), the
 *     candidate is rejected; as in libbpf the ancestor FWD's map entry (not the ancestor itself)
 *     still points at the struct, so top-level references to it resolve to the full type.
 *  4. FWD resolution: a top-level FWD still unresolved maps to the unique canonical struct/union
 *     of its name and kind anywhere in the chain (none or several: it stays).
 *  5. reference types (PTR, CONST, VOLATILE, RESTRICT, TYPE_TAG, ARRAY, FUNC_PROTO, FUNC,
 *     DECL_TAG): referenced ids are resolved first (depth first, with an explicit stack), then the
 *     type is matched exactly, referenced ids included. A cycle made only of reference types is
 *     invalid BTF ('reference-loop').
 *  6. compaction: canonical top-level types keep their order and get consecutive ids from
 *     `startId`; ancestors are not renumbered.
 *  7. remap: every type-id field of the kept types goes through resolve + the compaction map.
 * VAR and DATASEC are never merged (they map to themselves). The result keeps exactly the
 * top-level types its ancestors lack, and is deterministic (no iteration over unordered state).
 *
 * Cost: the ancestors' part of the candidate table is built once per ancestor LEVEL and cached
 * (vmlinux is indexed once for any number of modules and extras on it); a run then costs time in
 * proportion to its own level. A parsed ancestor is indexed from its words and its records are
 * decoded one at a time when a run needs them (it stays raw for the writer and the validator);
 * its strings are found by their bytes (see AsciiStrings). With `legacyTypedefs` the output is
 * byte-identical to libbpf 1.1's btf__dedup (tested on every shared module); the default differs
 * only where the typedef pass finds more equivalences.
 */
import { isAscii } from 'node:buffer';
import { Btf, decodeParsed, type RawTypes } from './btf.js';
import { BtfError } from './errors.js';
import { KIND, cloneType, infoOf, mapStrOffs, mapTypeIds, type Kind } from './kinds.js';
import { StringTable } from './strings.js';
import type { BtfType, StructType, TypeId } from './types.js';

export interface DedupOptions {
  /**
   * Treat TYPEDEF as a reference type (exact match after resolving its target), as libbpf did
   * before it gave typedefs their own graph-equivalence pass. Default false (graph equivalence,
   * which also copes with recursive typedefs and matches more typedefs against the base).
   */
  readonly legacyTypedefs?: boolean;
}

export interface DedupResult {
  /** The deduplicated level, on the same base as the input. */
  readonly btf: Btf;
  /** Old absolute id -> new absolute id, for every id of the input chain (ancestors map to themselves). */
  readonly mapId: (id: TypeId) => TypeId;
}

/** Deduplicates `btf`'s own level against its base chain (or as a standalone BTF); returns a new level. */
export function dedupBtf(btf: Btf, opts: DedupOptions = {}): Btf {
  return dedupLevel(btf, opts).btf;
}

/** As dedupBtf, also returning where every old id went. */
export function dedupLevel(btf: Btf, opts: DedupOptions = {}): DedupResult {
  return runDedup(btf, opts, true);
}

/**
 * As dedupLevel, but the passes rewrite `btf`'s own type records in place instead of copies:
 * for callers that built `btf` themselves and drop it afterwards (saves a copy of every record).
 */
export function dedupLevelInPlace(btf: Btf, opts: DedupOptions = {}): DedupResult {
  return runDedup(btf, opts, false);
}

function runDedup(btf: Btf, opts: DedupOptions, copy: boolean): DedupResult {
  const legacy = opts.legacyTypedefs === true;
  const d = new DedupContext(btf, legacy, copy);
  try {
    d.checkIds();
    d.dedupStrings();
    d.dedupPrimitives();
    d.dedupStructs();
    if (!legacy) d.dedupTypedefs();
    d.resolveFwds();
    d.dedupRefTypes();
    const kept = d.compact();
    d.remap(kept);
    const out = new Btf({ base: btf.base, source: btf.source, types: kept, strings: d.strings });
    // Only the final ids outlive the run (not the whole context).
    const finals = d.ownFinalIds();
    const { startId, nextId } = btf;
    const mapId = (id: TypeId): TypeId => {
      if (!Number.isInteger(id) || id < 0 || id >= nextId) {
        throw new BtfError('bad-type-id', `type id ${id} is not in the deduplicated chain (ids 0..${nextId - 1})`, { file: btf.source }, { id });
      }
      return id < startId ? id : finals[id - startId]!;
    };
    return { btf: out, mapId };
  } finally {
    d.release();
  }
}

const UNPROCESSED = -1;
const IN_PROGRESS = -2;
/** libbpf bounds its "structurally identical" fallback at this depth. */
const IDENTICAL_DEPTH = 16;

// ---------------------------------------------------------------------------------------------
// Hashes and shallow comparisons (what libbpf calls hash/equal/compat per kind).

function grow(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x9e3779b1);
  return h ^ (h >>> 15);
}

/** The record's third header word: size for sized kinds, referenced id otherwise (0 for ARRAY/FWD). */
function sizeOrType(t: BtfType): number {
  switch (t.kind) {
    case KIND.INT: case KIND.STRUCT: case KIND.UNION: case KIND.ENUM: case KIND.ENUM64: case KIND.DATASEC: case KIND.FLOAT:
      return t.size;
    case KIND.PTR: case KIND.TYPEDEF: case KIND.VOLATILE: case KIND.CONST: case KIND.RESTRICT: case KIND.TYPE_TAG:
    case KIND.FUNC: case KIND.VAR: case KIND.DECL_TAG:
      return t.type;
    case KIND.FUNC_PROTO:
      return t.returnType;
    case KIND.ARRAY: case KIND.FWD:
      return 0;
  }
}

/** INT encoding word / DECL_TAG component index: the one extra word both kinds carry. */
function extraWord(t: BtfType): number {
  if (t.kind === KIND.INT) return ((t.encoding << 24) | (t.bitOffset << 16) | t.bits) >>> 0;
  if (t.kind === KIND.DECL_TAG) return t.componentIdx >>> 0;
  return 0;
}

function hashCommon(t: BtfType): number {
  return mix(mix(mix(0x2f1d, t.nameOff), infoOf(t)), sizeOrType(t));
}
function hashIntTag(t: BtfType): number { return mix(hashCommon(t), extraWord(t)); }
/** Name only: an enum forward must find full enums of any width and size. */
function hashEnum(t: BtfType): number { return mix(0x3e7, t.nameOff); }
/** Name and info only: the referenced id is established by graph equivalence. */
function hashTypedef(t: BtfType): number { return mix(mix(0x7d3, t.nameOff), infoOf(t)); }
function hashStruct(t: StructType): number {
  let h = hashCommon(t);
  for (const m of t.members) h = mix(mix(h, m.nameOff), m.offset);
  return h;
}
function hashArray(t: BtfType & { kind: typeof KIND.ARRAY }): number {
  return mix(mix(mix(hashCommon(t), t.elemType), t.indexType), t.nelems);
}
function hashFnProto(t: BtfType & { kind: typeof KIND.FUNC_PROTO }): number {
  let h = hashCommon(t);
  for (const p of t.params) h = mix(mix(h, p.nameOff), p.type);
  return h;
}

/** The hash an ANCESTOR type is filed under (libbpf's btf_dedup_prep); undefined for VAR/DATASEC. */
function ancestorHash(t: BtfType, legacyTypedefs: boolean): number | undefined {
  switch (t.kind) {
    case KIND.VAR: case KIND.DATASEC: return undefined;
    case KIND.INT: case KIND.DECL_TAG: return hashIntTag(t);
    case KIND.ENUM: case KIND.ENUM64: return hashEnum(t);
    case KIND.STRUCT: case KIND.UNION: return hashStruct(t);
    case KIND.TYPEDEF: return legacyTypedefs ? hashCommon(t) : hashTypedef(t);
    case KIND.ARRAY: return hashArray(t);
    case KIND.FUNC_PROTO: return hashFnProto(t);
    default: return hashCommon(t);
  }
}

function equalCommon(a: BtfType, b: BtfType): boolean {
  return a.nameOff === b.nameOff && infoOf(a) === infoOf(b) && sizeOrType(a) === sizeOrType(b);
}
function equalIntTag(a: BtfType, b: BtfType): boolean {
  return equalCommon(a, b) && extraWord(a) === extraWord(b);
}
function equalEnum(a: BtfType, b: BtfType): boolean {
  if (!equalCommon(a, b)) return false;
  if (a.kind === KIND.ENUM && b.kind === KIND.ENUM) {
    for (let i = 0; i < a.values.length; i++) {
      const x = a.values[i]!, y = b.values[i]!;
      if (x.nameOff !== y.nameOff || (x.value >>> 0) !== (y.value >>> 0)) return false;
    }
    return true;
  }
  if (a.kind === KIND.ENUM64 && b.kind === KIND.ENUM64) {
    for (let i = 0; i < a.values.length; i++) {
      const x = a.values[i]!, y = b.values[i]!;
      if (x.nameOff !== y.nameOff || BigInt.asUintN(64, x.value) !== BigInt.asUintN(64, y.value)) return false;
    }
    return true;
  }
  return false;
}
function isAnyEnum(t: BtfType): boolean { return t.kind === KIND.ENUM || t.kind === KIND.ENUM64; }
function isEnumFwd(t: BtfType): boolean { return (t.kind === KIND.ENUM || t.kind === KIND.ENUM64) && t.values.length === 0; }
/** Equal, or one is an enum forward of the other's name (width, size and kind ignored). */
function compatEnum(a: BtfType, b: BtfType): boolean {
  if (!isEnumFwd(a) && !isEnumFwd(b)) return equalEnum(a, b);
  return a.nameOff === b.nameOff && isAnyEnum(a) && isAnyEnum(b);
}
function shallowEqualStruct(a: BtfType, b: BtfType): boolean {
  // equalCommon spelled out for the hottest comparison: name, kind, kind_flag, vlen, size
  if ((a.kind !== KIND.STRUCT && a.kind !== KIND.UNION) || a.kind !== b.kind) return false;
  const bm = (b as StructType).members;
  const am = a.members;
  if (a.nameOff !== b.nameOff || a.kflag !== b.kflag || a.size !== (b as StructType).size || am.length !== bm.length) return false;
  for (let i = 0; i < am.length; i++) {
    if (am[i]!.nameOff !== bm[i]!.nameOff || am[i]!.offset !== bm[i]!.offset) return false;
  }
  return true;
}
function equalTypedef(a: BtfType, b: BtfType): boolean {
  return a.nameOff === b.nameOff && infoOf(a) === infoOf(b);
}
function compatArray(a: BtfType, b: BtfType): boolean {
  return a.kind === KIND.ARRAY && b.kind === KIND.ARRAY && equalCommon(a, b) && a.nelems === b.nelems;
}
function equalArray(a: BtfType, b: BtfType): boolean {
  return compatArray(a, b) && (a as { elemType: number }).elemType === (b as { elemType: number }).elemType
    && (a as { indexType: number }).indexType === (b as { indexType: number }).indexType;
}
/** Same name, info and parameter names (return and parameter types are compared separately). */
function compatFnProto(a: BtfType, b: BtfType): boolean {
  if (a.kind !== KIND.FUNC_PROTO || b.kind !== KIND.FUNC_PROTO) return false;
  if (a.nameOff !== b.nameOff || infoOf(a) !== infoOf(b)) return false;
  for (let i = 0; i < a.params.length; i++) if (a.params[i]!.nameOff !== b.params[i]!.nameOff) return false;
  return true;
}
function equalFnProto(a: BtfType, b: BtfType): boolean {
  if (!compatFnProto(a, b) || !equalCommon(a, b)) return false;
  const ap = (a as { params: { type: number }[] }).params, bp = (b as { params: { type: number }[] }).params;
  for (let i = 0; i < ap.length; i++) if (ap[i]!.type !== bp[i]!.type) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Ancestor index, one part per level, cached per level object: a level below a split never changes
// (its successors' offsets depend on it), so vmlinux is indexed once however many module and
// extras levels are deduplicated on top of it.
//
// A parsed level whose records were never built as objects (Btf.rawTypes) is indexed straight
// from its words, and an ancestor record becomes an object only when a run has to look at it (a
// candidate under the hash being settled, a type its graph walk reaches): a module's dedup on
// vmlinux then decodes a few thousand of its 95k records, and the level stays raw for the writer
// and the validator. Hashes and checks read the same fields the object path reads (the parser
// guarantees the words hold nothing the objects lack), so both paths file every id identically.

/**
 * hash -> entries 0..capacity-1 filed under it, newest first, in typed arrays: an ancestor level
 * files ~95k vmlinux ids, which as a Map of arrays would be as many small objects to build and
 * collect. Open addressing (linear probing) over the distinct hashes; each entry links to the
 * previous entry filed under the same hash. Entries must be added in ascending order.
 */
export class HashChains {
  /** Per slot s: [2s] the hash, [2s + 1] the newest entry + 1 (0 = empty slot); side by side, one cache line per probe. */
  private readonly slots: Int32Array;
  /** Per entry: the previous entry with the same hash + 1 (0 = none). */
  private readonly prev: Int32Array;
  private readonly mask: number;

  constructor(capacity: number) {
    let n = 16;
    while (n < capacity * 2) n *= 2;
    this.slots = new Int32Array(n * 2);
    this.prev = new Int32Array(capacity);
    this.mask = n - 1;
  }

  /** Index in `slots` of `h`'s slot, or of the empty slot where it would go. */
  private slotOf(h: number): number {
    const slots = this.slots;
    let s = h & this.mask;
    while (slots[2 * s + 1] !== 0 && slots[2 * s] !== (h | 0)) s = (s + 1) & this.mask;
    return 2 * s;
  }

  add(entry: number, h: number): void {
    const s = this.slotOf(h);
    this.slots[s] = h;
    this.prev[entry] = this.slots[s + 1]!;
    this.slots[s + 1] = entry + 1;
  }

  /** The newest entry filed under `h`, or -1. */
  newest(h: number): number { return this.slots[this.slotOf(h) + 1]! - 1; }
  /** The entry filed under the same hash just before `entry`, or -1. */
  older(entry: number): number { return this.prev[entry]! - 1; }
}

class LevelIndex {
  readonly startId: number;
  readonly nextId: number;
  /** hash -> this level's ids filed under it (as id - startId). */
  private readonly table: HashChains;
  /** struct/union name offset -> its id, or 0 when several of this level share the name. */
  readonly compositeNames = new Map<number, number>();
  /**
   * Scratch hypothetical map for this level's ids, shared by every dedup above it (one runs at a
   * time: dedup is synchronous). All UNPROCESSED between runs; each run resets what it touched.
   */
  readonly hypot: Int32Array;
  /** Some FWD of this level has no name (never in real BTF; turns the member-shape filter off). */
  anonFwd = false;
  private readonly level: Btf;
  /** Records decoded one at a time from the level's words (while it has them), by id - startId. */
  private readonly decoded: (BtfType | undefined)[];

  constructor(level: Btf, legacyTypedefs: boolean) {
    this.level = level;
    this.startId = level.startId;
    this.nextId = level.nextId;
    this.hypot = new Int32Array(level.count).fill(UNPROCESSED);
    this.table = new HashChains(level.count);
    const raw = level.rawTypes;
    this.decoded = raw === undefined ? [] : new Array<BtfType | undefined>(raw.offs.length);
    if (raw !== undefined) this.indexWords(raw, legacyTypedefs);
    else this.indexObjects(level.types, legacyTypedefs);
  }

  /** Own type `id` (startId <= id < nextId): decoded from the words on first use while the level is raw. */
  type(id: TypeId): BtfType {
    const i = id - this.startId;
    const raw = this.level.rawTypes;
    if (raw === undefined) return this.level.types[i]!;
    let t = this.decoded[i];
    if (t === undefined) {
      t = decodeParsed(raw, i);
      this.decoded[i] = t;
    }
    return t;
  }

  /** First id filed under `h` (newest first) for which `pred` holds; -1 if none. */
  find(h: number, pred: (cand: TypeId) => boolean): TypeId {
    for (let i = this.table.newest(h); i >= 0; i = this.table.older(i)) if (pred(this.startId + i)) return this.startId + i;
    return -1;
  }

  private file(id: TypeId, h: number): void {
    this.table.add(id - this.startId, h);
  }

  private pastEnd(id: TypeId, ref: number): BtfError {
    return new BtfError('bad-type-id', `${this.level.describe(id)} refers to type id ${ref}, past the end of its chain`,
      { file: this.level.source }, { id, ref });
  }

  private indexObjects(types: readonly BtfType[], legacyTypedefs: boolean): void {
    const limit = this.nextId;
    for (let i = 0; i < types.length; i++) {
      const id = this.startId + i;
      const t = types[i]!;
      if (t.kind === KIND.FWD && t.nameOff === 0) this.anonFwd = true;
      mapTypeIds(t, (ref) => {
        if (ref >= limit) throw this.pastEnd(id, ref);
        return ref;
      });
      const h = ancestorHash(t, legacyTypedefs);
      if (h === undefined) continue;
      this.file(id, h);
      if (t.kind === KIND.STRUCT || t.kind === KIND.UNION) {
        this.compositeNames.set(t.nameOff, this.compositeNames.has(t.nameOff) ? 0 : id);
      }
    }
  }

  /** indexObjects over the parsed words: same checks in the same order, same hashes. */
  private indexWords(raw: RawTypes, legacyTypedefs: boolean): void {
    const { words: w, offs } = raw;
    const limit = this.nextId;
    for (let i = 0; i < offs.length; i++) {
      const id = this.startId + i;
      const p = offs[i]!;
      const nameOff = w[p]!, info = w[p + 1]!;
      const kind = kindOfInfo(info);
      if (kind === KIND.FWD && nameOff === 0) this.anonFwd = true;
      const bad = rawRefPastEnd(w, p, kind, info & 0xffff, limit);
      if (bad !== undefined) throw this.pastEnd(id, bad);
      const h = rawAncestorHash(w, p, kind, info & 0xffff, legacyTypedefs);
      if (h === undefined) continue;
      this.file(id, h);
      if (kind === KIND.STRUCT || kind === KIND.UNION) {
        this.compositeNames.set(nameOff, this.compositeNames.has(nameOff) ? 0 : id);
      }
    }
  }
}

function kindOfInfo(info: number): Exclude<Kind, 0> {
  return ((info >>> 24) & 0x1f) as Exclude<Kind, 0>;
}

/** The first type-id field (in mapTypeIds' order) of the record at word `p` that is >= `limit`, or undefined. */
function rawRefPastEnd(w: Uint32Array, p: number, kind: Kind, vlen: number, limit: number): number | undefined {
  switch (kind) {
    case KIND.PTR: case KIND.TYPEDEF: case KIND.VOLATILE: case KIND.CONST: case KIND.RESTRICT:
    case KIND.FUNC: case KIND.VAR: case KIND.DECL_TAG: case KIND.TYPE_TAG:
      return w[p + 2]! >= limit ? w[p + 2]! : undefined;
    case KIND.ARRAY:
      if (w[p + 3]! >= limit) return w[p + 3]!;
      return w[p + 4]! >= limit ? w[p + 4]! : undefined;
    case KIND.STRUCT: case KIND.UNION:
      for (let q = p + 4, e = q + 3 * vlen; q < e; q += 3) if (w[q]! >= limit) return w[q]!;
      return undefined;
    case KIND.FUNC_PROTO:
      if (w[p + 2]! >= limit) return w[p + 2]!;
      for (let q = p + 4, e = q + 2 * vlen; q < e; q += 2) if (w[q]! >= limit) return w[q]!;
      return undefined;
    case KIND.DATASEC:
      for (let q = p + 3, e = q + 3 * vlen; q < e; q += 3) if (w[q]! >= limit) return w[q]!;
      return undefined;
    default:
      return undefined;
  }
}

/**
 * ancestorHash of the record at word `p`, read from the words. Word 1 is infoOf (the parser
 * rejects reserved bits), word 2 is sizeOrType (0 for ARRAY/FWD: also checked by the parser) and
 * an INT's encoding word has no bits outside encoding/offset/bits.
 */
function rawAncestorHash(w: Uint32Array, p: number, kind: Kind, vlen: number, legacyTypedefs: boolean): number | undefined {
  switch (kind) {
    case KIND.VAR: case KIND.DATASEC: return undefined;
    case KIND.ENUM: case KIND.ENUM64: return mix(0x3e7, w[p]!);
    case KIND.TYPEDEF: if (!legacyTypedefs) return mix(mix(0x7d3, w[p]!), w[p + 1]!); break;
    default: break;
  }
  let h = mix(mix(mix(0x2f1d, w[p]!), w[p + 1]!), w[p + 2]!);
  switch (kind) {
    case KIND.INT: case KIND.DECL_TAG:
      return mix(h, w[p + 3]!);
    case KIND.STRUCT: case KIND.UNION:
      for (let q = p + 3, e = q + 3 * vlen; q < e; q += 3) h = mix(mix(h, w[q]!), w[q + 2]!);
      return h;
    case KIND.ARRAY:
      return mix(mix(mix(h, w[p + 3]!), w[p + 4]!), w[p + 5]!);
    case KIND.FUNC_PROTO:
      for (let q = p + 3, e = q + 2 * vlen; q < e; q += 2) h = mix(mix(h, w[q]!), w[q + 1]!);
      return h;
    default:
      return h;
  }
}

// ---------------------------------------------------------------------------------------------
// Ancestor string lookups by bytes. StringTable.find indexes a table by decoded JS strings (96k
// of them for vmlinux, most never asked for); an all-ASCII ancestor table is instead indexed by a
// hash of each string's bytes, and an own string is looked up by its bytes. For an ASCII table
// this answers exactly as find does: a decoded own string equals an ASCII string only when its
// bytes do (bytes >= 0x80 never decode to ASCII). Tables with other bytes keep using find.

const FNV_BASIS = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

export class AsciiStrings {
  private readonly start: number;
  private readonly bytes: Uint8Array;
  private readonly chains: HashChains;
  /** Entry -> relative offset of the string's first byte. */
  private readonly starts: Int32Array;

  /** undefined when `table` has a byte >= 0x80. */
  static of(table: StringTable): AsciiStrings | undefined {
    const b = table.bytes();
    if (!isAscii(b)) return undefined;
    let count = 0;
    for (let p = b.indexOf(0); p >= 0; p = b.indexOf(0, p + 1)) count++;
    if (b.length > 0 && b[b.length - 1] !== 0) count++; // (an unterminated last string)
    return new AsciiStrings(table.start, b, count);
  }

  private constructor(start: number, bytes: Uint8Array, count: number) {
    this.start = start;
    this.bytes = bytes;
    this.chains = new HashChains(count);
    this.starts = new Int32Array(count);
    let h = FNV_BASIS, from = 0, e = 0;
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i]!;
      if (c !== 0) { h = Math.imul(h ^ c, FNV_PRIME); continue; }
      this.chains.add(e, h); this.starts[e++] = from;
      h = FNV_BASIS; from = i + 1;
    }
    if (from < bytes.length) { this.chains.add(e, h); this.starts[e] = from; }
  }

  /** Absolute offset of the first string of the table equal to `src[from, to)`, or undefined. */
  find(src: Uint8Array, from: number, to: number): number | undefined {
    let h = FNV_BASIS;
    for (let i = from; i < to; i++) h = Math.imul(h ^ src[i]!, FNV_PRIME);
    const b = this.bytes, n = to - from;
    let first = -1; // chains run newest first: the last match is the first occurrence
    for (let e = this.chains.newest(h); e >= 0; e = this.chains.older(e)) {
      const r = this.starts[e]!;
      if (r + n > b.length || (r + n < b.length && b[r + n] !== 0)) continue;
      let i = 0;
      while (i < n && b[r + i] === src[from + i]) i++;
      if (i === n) first = r;
    }
    return first < 0 ? undefined : this.start + first;
  }
}

const stringIndexes = new WeakMap<StringTable, { readonly length: number; readonly idx: AsciiStrings | undefined }>();

/** The table's byte index, cached while the table keeps its length; undefined for a non-ASCII table. */
function asciiStrings(table: StringTable): AsciiStrings | undefined {
  const cached = stringIndexes.get(table);
  if (cached !== undefined && cached.length === table.length) return cached.idx;
  const idx = AsciiStrings.of(table);
  stringIndexes.set(table, { length: table.length, idx });
  return idx;
}

const levelCaches = [new WeakMap<Btf, LevelIndex>(), new WeakMap<Btf, LevelIndex>()] as const;

function levelIndex(level: Btf, legacyTypedefs: boolean): LevelIndex {
  const cache = levelCaches[legacyTypedefs ? 1 : 0];
  const cached = cache.get(level);
  if (cached !== undefined && cached.nextId === level.nextId) return cached;
  const idx = new LevelIndex(level, legacyTypedefs);
  cache.set(level, idx);
  return idx;
}

/** The ancestor levels of a dedup, root first, seen as one id space. */
class Ancestors {
  readonly levels: readonly LevelIndex[];
  private readonly near: LevelIndex;

  constructor(base: Btf, legacyTypedefs: boolean) {
    this.levels = base.chain().map((l) => levelIndex(l, legacyTypedefs));
    this.near = this.levels[this.levels.length - 1]!;
  }

  private levelOf(id: TypeId): LevelIndex | undefined {
    if (id >= this.near.startId) return this.near;
    for (let i = this.levels.length - 2; i >= 0; i--) if (id >= this.levels[i]!.startId) return this.levels[i];
    return undefined; // void
  }

  type(id: TypeId): BtfType | undefined {
    const l = this.levelOf(id);
    return l === undefined ? undefined : l.type(id);
  }
  hypot(id: TypeId): number {
    const l = this.levelOf(id);
    return l === undefined ? UNPROCESSED : l.hypot[id - l.startId]!;
  }
  setHypot(id: TypeId, to: number): void {
    const l = this.levelOf(id);
    if (l !== undefined) l.hypot[id - l.startId] = to;
  }

  /** First id filed under `h` (newest first: nearest level first, each newest first) for which `pred` holds; -1 if none. */
  find(h: number, pred: (cand: TypeId) => boolean): TypeId {
    for (let li = this.levels.length - 1; li >= 0; li--) {
      const found = this.levels[li]!.find(h, pred);
      if (found >= 0) return found;
    }
    return -1;
  }

  /** The unique struct/union named `nameOff` in the ancestors, 0 when several, undefined when none. */
  compositeNamed(nameOff: number): number | undefined {
    let found: number | undefined;
    for (const l of this.levels) {
      const v = l.compositeNames.get(nameOff);
      if (v === undefined) continue;
      if (found !== undefined || v === 0) return 0;
      found = v;
    }
    return found;
  }
}

// ---------------------------------------------------------------------------------------------

class DedupContext {
  readonly src: Btf;
  readonly startId: number;
  readonly nextId: number;
  /** Own types by id - startId (copies unless deduplicating in place: the passes rewrite them). */
  private readonly own: BtfType[];
  /** Own ids: canonical representative, or UNPROCESSED / IN_PROGRESS. */
  private readonly ownMap: Int32Array;
  /** Ancestors map to themselves, except the few FWDs / enum forwards redirected to own types. */
  private readonly ancMap = new Map<number, number>();
  private readonly ownHypot: Int32Array;
  /** Canonical ids with a hypothetical pairing, in the order they were paired: [0, hypotCount). */
  private hypotList = new Int32Array(64);
  private hypotCount = 0;
  /** isEquiv's pair stack, reused across calls. */
  private pairStack = new Int32Array(256);
  private adjustCanon = false;
  private readonly ancestors: Ancestors | undefined;
  /** hash -> own canonical ids, in the order they became canonical. */
  private readonly table = new Map<number, number[]>();
  readonly strings: StringTable;
  /** Own id - startId -> final id (after compaction). */
  private newIds: Int32Array | undefined;

  constructor(btf: Btf, legacyTypedefs: boolean, copy: boolean) {
    this.src = btf;
    this.startId = btf.startId;
    this.nextId = btf.nextId;
    this.ancestors = btf.base ? new Ancestors(btf.base, legacyTypedefs) : undefined;
    this.own = copy ? btf.types.map(cloneType) : btf.types;
    const n = this.own.length;
    this.ownMap = new Int32Array(n).fill(UNPROCESSED);
    this.ownHypot = new Int32Array(n).fill(UNPROCESSED);
    for (let i = 0; i < n; i++) {
      const k = this.own[i]!.kind;
      if (k === KIND.VAR || k === KIND.DATASEC) this.ownMap[i] = this.startId + i;
    }
    this.strings = StringTable.empty(btf.startStrOff);
  }

  /** Leaves the shared ancestor scratch as found (also after an error). */
  release(): void { this.clearHypot(); }

  private t(id: TypeId): BtfType {
    return id < this.startId ? this.ancestors!.type(id)! : this.own[id - this.startId]!;
  }
  private kindOf(id: TypeId): number { return id === 0 ? KIND.UNKN : this.t(id).kind; }

  private mapOf(id: TypeId): number {
    if (id < this.startId) return this.ancMap.size === 0 ? id : (this.ancMap.get(id) ?? id);
    return this.ownMap[id - this.startId]!;
  }
  private setMap(id: TypeId, to: number): void {
    if (id >= this.startId) this.ownMap[id - this.startId] = to;
    else if (to === id) this.ancMap.delete(id);
    else this.ancMap.set(id, to);
  }
  private hypotOf(id: TypeId): number {
    return id < this.startId ? (this.ancestors?.hypot(id) ?? UNPROCESSED) : this.ownHypot[id - this.startId]!;
  }
  private setHypot(id: TypeId, to: number): void {
    if (id < this.startId) this.ancestors?.setHypot(id, to); else this.ownHypot[id - this.startId] = to;
  }

  /** Own types may only refer to ids of the chain. */
  checkIds(): void {
    for (let id = this.startId; id < this.nextId; id++) {
      mapTypeIds(this.t(id), (ref) => {
        if (ref >= this.nextId) {
          throw new BtfError('bad-type-id', `${this.src.describe(id)} refers to type id ${ref}, past the end of the chain (${this.nextId - 1})`,
            { file: this.src.source }, { id, ref });
        }
        return ref;
      });
    }
  }

  // ----- candidate table -----

  private addCandidate(h: number, id: TypeId): void {
    const list = this.table.get(h);
    if (list) list.push(id); else this.table.set(h, [id]);
  }

  /** First candidate (newest first: own canonical types, then ancestors) for which `pred` holds; -1 if none. */
  private findCandidate(h: number, pred: (cand: TypeId) => boolean): TypeId {
    const own = this.table.get(h);
    if (own) for (let i = own.length - 1; i >= 0; i--) if (pred(own[i]!)) return own[i]!;
    return this.ancestors ? this.ancestors.find(h, pred) : -1;
  }

  private resolve(id: TypeId): TypeId {
    let m = this.mapOf(id);
    while (m >= 0 && m !== id) { id = m; m = this.mapOf(id); }
    return id;
  }

  /** A FWD resolved to a struct/union gives that struct; anything else is returned as is. */
  private resolveFwd(id: TypeId): TypeId {
    if (this.kindOf(id) !== KIND.FWD) return id;
    const r = this.resolve(id);
    return this.kindOf(r) === KIND.FWD ? id : r;
  }

  // ----- pass 1: strings -----

  dedupStrings(): void {
    const start = this.src.startStrOff;
    // Ancestors' tables, root first: the lowest level that has a string gives its offset (libbpf's btf__find_str).
    const tables = this.src.base?.chain().map((l) => l.strings) ?? [];
    const indexes = tables.map(asciiStrings);
    const own = this.src.strings;
    const ownBytes = own.bytes();
    const copyUnique = own.unique && this.strings.length <= 1;
    // own offset -> new offset + 1 (0 = not seen): a level's string fields repeat its names many times
    const seen = new Int32Array(own.length + 1);
    const intern = (off: number): number => {
      if (off === 0 || off < start) return off;
      const known = off - start < seen.length ? seen[off - start]! : 0;
      if (known !== 0) return known - 1;
      if (!own.has(off)) this.src.str(off); // reports the offset past the end
      const rel = off - own.start;
      let end = ownBytes.indexOf(0, rel);
      if (end < 0) end = ownBytes.length;
      let s: string | undefined; // decoded only when a table without a byte index or the new table needs it
      let out: number | undefined;
      for (let i = 0; i < tables.length && out === undefined; i++) {
        const idx = indexes[i];
        out = idx !== undefined ? idx.find(ownBytes, rel, end) : tables[i]!.find(s ??= own.get(off));
      }
      // A first sighting of a string of a duplicate-free table is new to the new table too (distinct
      // offsets hold distinct strings): copy its bytes, no decoding or hashing (vmlinux: ~150k).
      if (out === undefined && copyUnique) out = this.strings.appendNew(ownBytes.subarray(rel, end));
      out ??= this.strings.add(s ?? own.get(off));
      seen[off - start] = out + 1;
      return out;
    };
    for (let id = this.startId; id < this.nextId; id++) mapStrOffs(this.t(id), intern);
  }

  // ----- pass 2: primitives -----

  dedupPrimitives(): void {
    for (let id = this.startId; id < this.nextId; id++) {
      const t = this.t(id);
      let h: number;
      let found: TypeId;
      switch (t.kind) {
        case KIND.INT:
          h = hashIntTag(t);
          found = this.findCandidate(h, (c) => equalIntTag(t, this.t(c)));
          break;
        case KIND.FWD: case KIND.FLOAT:
          h = hashCommon(t);
          found = this.findCandidate(h, (c) => equalCommon(t, this.t(c)));
          break;
        case KIND.ENUM: case KIND.ENUM64: {
          h = hashEnum(t);
          const fwd = isEnumFwd(t);
          found = this.findCandidate(h, (c) => {
            const ct = this.t(c);
            if (equalEnum(t, ct)) return true;
            if (compatEnum(t, ct)) {
              if (fwd) return true;
              this.setMap(c, id); // an earlier canonical enum forward now resolves to this full enum
            }
            return false;
          });
          break;
        }
        default:
          continue;
      }
      const newId = found >= 0 ? found : id;
      this.setMap(id, newId);
      if (newId === id) this.addCandidate(h, id);
    }
  }

  // ----- pass 3: structs/unions and typedefs by graph equivalence -----

  dedupStructs(): void {
    const filter = this.memberShapeFilterSound();
    for (let id = this.startId; id < this.nextId; id++) {
      if (this.mapOf(id) >= 0) continue;
      const t = this.t(id);
      if (t.kind !== KIND.STRUCT && t.kind !== KIND.UNION) continue;
      const h = hashStruct(t);
      const shape = filter ? this.memberShape(id) : 0;
      // The shallow check also keeps a same-hash FWD from becoming a candidate (FWD<->struct loops).
      this.settleByEquivalence(id, h, (c) => shallowEqualStruct(t, this.t(c)) && (!filter || this.memberShape(c) === shape));
    }
  }

  /**
   * A pre-filter that only skips candidates the graph walk would reject anyway: equivalence keeps
   * each member type's name, its kind (FWD and struct/union of the same flavour counting as one;
   * enums of any width as one), and for anonymous structs/unions their size and member count,
   * for arrays the element count, for prototypes the parameter count (libbpf compares exactly
   * these before recursing). Without it, thousands of look-alike anonymous unions (same member
   * names and offsets, different anonymous member types) are each walked against every other.
   * Sound only when no FWD is anonymous (an anonymous FWD would pair with any anonymous struct).
   */
  private memberShapeFilterSound(): boolean {
    if (this.ancestors?.levels.some((l) => l.anonFwd) === true) return false;
    return !this.own.some((t) => t.kind === KIND.FWD && t.nameOff === 0);
  }

  private readonly shapes = new Map<number, number>();

  private memberShape(id: TypeId): number {
    const known = this.shapes.get(id);
    if (known !== undefined) return known;
    let h = 0x5eed;
    for (const m of (this.t(id) as StructType).members) h = mix(h, this.typeShape(m.type));
    this.shapes.set(id, h);
    return h;
  }

  private typeShape(id: TypeId): number {
    if (id === 0) return 1;
    const t = this.t(id);
    switch (t.kind) {
      case KIND.STRUCT: case KIND.UNION: case KIND.FWD: {
        const union = t.kind === KIND.FWD ? t.kflag : t.kind === KIND.UNION;
        const h = mix(union ? 3 : 2, t.nameOff);
        return t.nameOff !== 0 || t.kind === KIND.FWD ? h : mix(mix(h, t.size), t.members.length);
      }
      case KIND.ENUM: case KIND.ENUM64: return mix(4, t.nameOff);
      case KIND.ARRAY: return mix(5, t.nelems);
      case KIND.FUNC_PROTO: return mix(6, t.params.length);
      default: return mix(mix(7, t.kind), t.nameOff);
    }
  }

  dedupTypedefs(): void {
    for (let id = this.startId; id < this.nextId; id++) {
      if (this.mapOf(id) >= 0) continue;
      const t = this.t(id);
      if (t.kind !== KIND.TYPEDEF) continue;
      const h = hashTypedef(t);
      this.settleByEquivalence(id, h, (c) => equalTypedef(t, this.t(c)));
    }
  }

  private settleByEquivalence(id: TypeId, h: number, shallow: (c: TypeId) => boolean): void {
    const found = this.findCandidate(h, (c) => {
      if (!shallow(c)) return false;
      this.clearHypot();
      if (!this.isEquiv(id, c)) return false;
      this.mergeHypot();
      return !this.adjustCanon; // needs an ancestor changed: not really equivalent
    });
    const newId = found >= 0 ? found : id;
    this.setMap(id, newId);
    if (newId === id) this.addCandidate(h, id);
  }

  private clearHypot(): void {
    for (let i = 0; i < this.hypotCount; i++) this.setHypot(this.hypotList[i]!, UNPROCESSED);
    this.hypotCount = 0;
    this.adjustCanon = false;
  }

  /**
   * Parallel DFS over the candidate graph (from `candRoot`) and the canonical graph (from
   * `canonRoot`), pre-order, children left to right (an explicit stack, so deep graphs cannot
   * overflow the JS stack). Records canonical -> candidate pairs in `hypot`.
   */
  private isEquiv(candRoot: TypeId, canonRoot: TypeId): boolean {
    let stack = this.pairStack;
    let sp = 0;
    const push = (cand: number, canon: number): void => {
      if (sp + 2 > stack.length) { stack = grow(stack); this.pairStack = stack; }
      stack[sp++] = cand; stack[sp++] = canon;
    };
    push(candRoot, canonRoot);
    while (sp > 0) {
      let canonId = stack[--sp]!;
      const candId = stack[--sp]!;
      if (this.resolve(candId) === this.resolve(canonId)) continue;
      canonId = this.resolveFwd(canonId);
      const prior = this.hypotOf(canonId);
      if (prior >= 0) {
        if (prior === candId) continue;
        // Compilers sometimes emit identical duplicates inside one unit; accept them.
        if (this.identical(prior, candId, IDENTICAL_DEPTH)) continue;
        return false;
      }
      this.setHypot(canonId, candId);
      if (this.hypotCount === this.hypotList.length) this.hypotList = grow(this.hypotList);
      this.hypotList[this.hypotCount++] = canonId;
      if (candId === 0 || canonId === 0) return false; // void pairs only with void (caught by resolve above)
      const cand = this.t(candId), canon = this.t(canonId);
      if (cand.nameOff !== canon.nameOff) return false;
      const ck = cand.kind, kk = canon.kind;
      if ((ck === KIND.FWD || kk === KIND.FWD) && ck !== kk) {
        let realKind: number, fwdKind: number;
        if (ck === KIND.FWD) {
          realKind = kk; fwdKind = cand.kflag ? KIND.UNION : KIND.STRUCT;
        } else {
          realKind = ck; fwdKind = canon.kflag ? KIND.UNION : KIND.STRUCT;
          if (fwdKind === realKind && canonId < this.startId) this.adjustCanon = true;
        }
        if (fwdKind !== realKind) return false;
        continue;
      }
      if (ck !== kk) return false;
      switch (cand.kind) {
        case KIND.INT:
          if (!equalIntTag(cand, canon)) return false;
          break;
        case KIND.ENUM: case KIND.ENUM64:
          if (!compatEnum(cand, canon)) return false;
          break;
        case KIND.FWD: case KIND.FLOAT:
          if (!equalCommon(cand, canon)) return false;
          break;
        case KIND.CONST: case KIND.VOLATILE: case KIND.RESTRICT: case KIND.PTR: case KIND.TYPEDEF:
        case KIND.FUNC: case KIND.TYPE_TAG:
          if (infoOf(cand) !== infoOf(canon)) return false;
          push(cand.type, (canon as { type: number }).type);
          break;
        case KIND.ARRAY: {
          if (!compatArray(cand, canon)) return false;
          const k = canon as typeof cand;
          push(cand.elemType, k.elemType); push(cand.indexType, k.indexType); // index checked first
          break;
        }
        case KIND.STRUCT: case KIND.UNION: {
          if (!shallowEqualStruct(cand, canon)) return false;
          const km = (canon as StructType).members;
          for (let i = cand.members.length - 1; i >= 0; i--) push(cand.members[i]!.type, km[i]!.type);
          break;
        }
        case KIND.FUNC_PROTO: {
          if (!compatFnProto(cand, canon)) return false;
          const k = canon as typeof cand;
          for (let i = cand.params.length - 1; i >= 0; i--) push(cand.params[i]!.type, k.params[i]!.type);
          push(cand.returnType, k.returnType); // return type checked first
          break;
        }
        default:
          return false; // VAR, DATASEC, DECL_TAG never take part in a type graph
      }
    }
    return true;
  }

  /** Exactly the same structure down to `depth` levels (libbpf's btf_dedup_identical_types). */
  private identical(id1: TypeId, id2: TypeId, depth: number): boolean {
    return this.identicalAt(id1, id2, depth, new Map());
  }

  /**
   * `memo` (per top-level question) bounds the work by the number of distinct (pair, depth)
   * questions: without it, hostile wide DAGs of look-alike types would take members^depth steps.
   * Every step, through modifiers too, uses up depth, so a cycle of modifiers cannot spin.
   */
  private identicalAt(id1: TypeId, id2: TypeId, depth: number, memo: Map<string, boolean>): boolean {
    const key = `${id1},${id2},${depth}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    const r = this.identicalStep(id1, id2, depth, memo);
    memo.set(key, r);
    return r;
  }

  private identicalStep(id1: TypeId, id2: TypeId, depth: number, memo: Map<string, boolean>): boolean {
    for (;; depth--) {
      if (depth <= 0) return false;
      if (id1 === id2) return true;
      if (id1 === 0 || id2 === 0) return false;
      const a = this.t(id1), b = this.t(id2);
      if (a.kind !== b.kind) return false;
      switch (a.kind) {
        case KIND.INT: return equalIntTag(a, b);
        case KIND.ENUM: case KIND.ENUM64: return compatEnum(a, b);
        case KIND.FWD: case KIND.FLOAT: return equalCommon(a, b);
        case KIND.CONST: case KIND.VOLATILE: case KIND.RESTRICT: case KIND.PTR: case KIND.TYPEDEF:
        case KIND.FUNC: case KIND.TYPE_TAG:
          if (infoOf(a) !== infoOf(b) || a.nameOff !== b.nameOff) return false;
          id1 = a.type; id2 = (b as { type: number }).type;
          continue;
        case KIND.ARRAY: {
          if (!compatArray(a, b)) return false;
          const bb = b as typeof a;
          if (a.indexType !== bb.indexType && !this.identicalAt(a.indexType, bb.indexType, depth - 1, memo)) return false;
          if (a.elemType !== bb.elemType && !this.identicalAt(a.elemType, bb.elemType, depth - 1, memo)) return false;
          return true;
        }
        case KIND.STRUCT: case KIND.UNION: {
          if (!shallowEqualStruct(a, b)) return false;
          const bm = (b as StructType).members;
          for (let i = 0; i < a.members.length; i++) {
            const x = a.members[i]!.type, y = bm[i]!.type;
            if (x !== y && !this.identicalAt(x, y, depth - 1, memo)) return false;
          }
          return true;
        }
        case KIND.FUNC_PROTO: {
          if (!compatFnProto(a, b)) return false;
          const bb = b as typeof a;
          if (a.returnType !== bb.returnType && !this.identicalAt(a.returnType, bb.returnType, depth - 1, memo)) return false;
          for (let i = 0; i < a.params.length; i++) {
            const x = a.params[i]!.type, y = bb.params[i]!.type;
            if (x !== y && !this.identicalAt(x, y, depth - 1, memo)) return false;
          }
          return true;
        }
        default:
          return false;
      }
    }
  }

  /** Makes a successful hypothetical map permanent where that is safe (libbpf's merge_hypot_map). */
  private mergeHypot(): void {
    for (let i = 0; i < this.hypotCount; i++) {
      const canonOrig = this.hypotList[i]!;
      const t = this.resolve(this.hypotOf(canonOrig));
      const c = this.resolve(canonOrig);
      const tk = this.kindOf(t), ck = this.kindOf(c);
      // A FWD on the canonical side now stands for the struct (even an ancestor FWD: only its
      // map entry changes, so own references to it resolve to the full type).
      if (tk !== KIND.FWD && ck === KIND.FWD) this.setMap(c, t);
      if (this.adjustCanon) continue;
      if (tk === KIND.FWD && ck !== KIND.FWD) this.setMap(t, c);
      // Speed-up: a struct of the candidate graph whose counterpart is already canonical.
      if ((tk === KIND.STRUCT || tk === KIND.UNION) && ck !== KIND.FWD && this.mapOf(c) >= 0 && this.mapOf(t) < 0) this.setMap(t, c);
    }
  }

  // ----- pass 4: forward declarations -----

  resolveFwds(): void {
    // Unique canonical struct/union per name over the whole chain; 0 = ambiguous. Own names
    // overlay the ancestors' (cached) table instead of copying it.
    const anc = this.ancestors;
    const names = new Map<number, number>();
    for (let id = this.startId; id < this.nextId; id++) {
      const t = this.t(id);
      if ((t.kind !== KIND.STRUCT && t.kind !== KIND.UNION) || this.mapOf(id) !== id) continue;
      names.set(t.nameOff, names.has(t.nameOff) || anc?.compositeNamed(t.nameOff) !== undefined ? 0 : id);
    }
    for (let id = this.startId; id < this.nextId; id++) {
      const t = this.t(id);
      if (t.kind !== KIND.FWD || this.mapOf(id) !== id) continue;
      const cand = names.get(t.nameOff) ?? anc?.compositeNamed(t.nameOff);
      if (cand === undefined || cand === 0) continue;
      const want = t.kflag ? KIND.UNION : KIND.STRUCT;
      if (this.kindOf(cand) !== want) continue;
      this.setMap(id, cand);
    }
  }

  // ----- pass 5: reference types -----

  dedupRefTypes(): void {
    for (let id = this.startId; id < this.nextId; id++) this.dedupRef(id);
  }

  private loopError(id: TypeId): BtfError {
    return new BtfError('reference-loop', `${this.src.describe(id)} is part of a cycle of reference types (no struct/union in it)`,
      { file: this.src.source }, { id });
  }

  /** First referenced id not yet deduplicated (it must be a reference type), or -1. */
  private pendingRef(t: BtfType): TypeId {
    switch (t.kind) {
      case KIND.ARRAY:
        return this.pendingOf(t.elemType) ?? this.pendingOf(t.indexType) ?? -1;
      case KIND.FUNC_PROTO: {
        const r = this.pendingOf(t.returnType);
        if (r !== undefined) return r;
        for (const p of t.params) { const q = this.pendingOf(p.type); if (q !== undefined) return q; }
        return -1;
      }
      case KIND.PTR: case KIND.TYPEDEF: case KIND.VOLATILE: case KIND.CONST: case KIND.RESTRICT:
      case KIND.FUNC: case KIND.DECL_TAG: case KIND.TYPE_TAG:
        return this.pendingOf(t.type) ?? -1;
      default:
        return -1; // other kinds were settled by earlier passes
    }
  }

  /** `c` when it still needs deduplicating; a reference back into the current chain is a loop. */
  private pendingOf(c: TypeId): TypeId | undefined {
    const m = this.mapOf(c);
    if (m === IN_PROGRESS) throw this.loopError(c);
    return m === UNPROCESSED ? c : undefined;
  }

  private dedupRef(root: TypeId): void {
    if (this.mapOf(root) !== UNPROCESSED) return;
    const stack: number[] = [root];
    this.setMap(root, IN_PROGRESS);
    while (stack.length > 0) {
      const id = stack[stack.length - 1]!;
      const t = this.t(id);
      const pending = this.pendingRef(t);
      if (pending >= 0) {
        this.setMap(pending, IN_PROGRESS);
        stack.push(pending);
        continue;
      }
      stack.pop();
      mapTypeIds(t, (c) => this.resolve(c));
      let h: number;
      let found: TypeId;
      switch (t.kind) {
        case KIND.CONST: case KIND.VOLATILE: case KIND.RESTRICT: case KIND.PTR: case KIND.FUNC: case KIND.TYPE_TAG:
        case KIND.TYPEDEF: // only in legacy mode: otherwise typedefs are settled by their own pass
          h = hashCommon(t);
          found = this.findCandidate(h, (c) => equalCommon(t, this.t(c)));
          break;
        case KIND.DECL_TAG:
          h = hashIntTag(t);
          found = this.findCandidate(h, (c) => equalIntTag(t, this.t(c)));
          break;
        case KIND.ARRAY:
          h = hashArray(t);
          found = this.findCandidate(h, (c) => equalArray(t, this.t(c)));
          break;
        case KIND.FUNC_PROTO:
          h = hashFnProto(t);
          found = this.findCandidate(h, (c) => equalFnProto(t, this.t(c)));
          break;
        default:
          // Every other kind was settled by an earlier pass; reaching one here means a broken chain.
          throw new BtfError('bad-type-id', `${this.src.describe(id)} was left unresolved by deduplication`, { file: this.src.source }, { id });
      }
      const newId = found >= 0 ? found : id;
      this.setMap(id, newId);
      if (newId === id) this.addCandidate(h, id);
    }
  }

  // ----- passes 6 and 7: compaction and remapping -----

  /** Canonical own types in their original order; fills the old -> new id table. */
  compact(): BtfType[] {
    const newIds = new Int32Array(this.own.length).fill(UNPROCESSED);
    const kept: BtfType[] = [];
    let next = this.startId;
    for (let i = 0; i < this.own.length; i++) {
      if (this.ownMap[i] !== this.startId + i) continue;
      newIds[i] = next++;
      kept.push(this.own[i]!);
    }
    this.newIds = newIds;
    return kept;
  }

  private finalId(id: TypeId): TypeId {
    const r = this.resolve(id);
    const n = r < this.startId ? r : this.newIds![r - this.startId]!;
    if (n < 0) throw new BtfError('bad-type-id', `type id ${id} has no canonical representative after deduplication`, { file: this.src.source }, { id });
    return n;
  }

  remap(kept: BtfType[]): void {
    for (const t of kept) mapTypeIds(t, (c) => this.finalId(c));
  }

  /** Where each own id went (ancestors stay: even a redirected ancestor FWD is still a valid id). */
  ownFinalIds(): Int32Array {
    const out = new Int32Array(this.own.length);
    for (let i = 0; i < out.length; i++) out[i] = this.finalId(this.startId + i);
    return out;
  }
}
