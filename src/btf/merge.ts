/**
 * Reshaping BTF chains for consumers that cannot read deep chains:
 *  - flattenOnto(top, onto): the levels above `onto` joined into ONE level split on `onto`
 *    (module + module-btf-extra as one level on vmlinux, for bpftool 7.x and libbpf < 1.7);
 *  - flattenStandalone(top): the whole chain as one standalone BTF;
 *  - mergeSiblings(base, levels): several levels that share `base` (vmlinux + every module,
 *    extras flattened in) as ONE deduplicated standalone BTF;
 *  - mergePart + joinParts: the same merge in pieces (each sibling deduplicated against the base
 *    once, the pieces joined record by record as encoded, without a second dedup), so one changed
 *    sibling redoes only its piece.
 * Flattening needs no id or offset rewriting: ids and string offsets are cumulative at every
 * level, so concatenating the type and string sections in chain order keeps them all valid.
 * Siblings do overlap (each starts at base.nextId), so each is shifted past the previous ones
 * into one combined level on `base`, which is then deduplicated against `base` (base ids never
 * change, so vmlinux type ids stay valid in the merged file) and flattened.
 */
import { Btf, decodeParsed, type RawTypes } from './btf.js';
import { dedupBtf, dedupLevelInPlace } from './dedup.js';
import { BtfError } from './errors.js';
import {
  KIND, cloneType, encodeType, encodedSize, forEachEncodedTypeId, forEachTypeId, mapEncodedRefs, mapStrOffs, mapTypeIds, recordSize, type Kind,
} from './kinds.js';
import { StringTable } from './strings.js';
import { typeWords } from './write.js';
import type { BtfType } from './types.js';

export interface FlattenOptions {
  /** Deduplicate the joined level against its base afterwards (default false). */
  readonly dedup?: boolean;
}

/** Levels of `top`'s chain strictly above `onto` (root-most first); 'bad-chain' when `onto` is not below `top`. */
function levelsAbove(top: Btf, onto: Btf | undefined): Btf[] {
  const levels: Btf[] = [];
  for (let l: Btf | undefined = top; l !== onto; l = l.base) {
    if (l === undefined) {
      throw new BtfError('bad-chain', `${onto?.source ?? 'the given base'} is not an ancestor of ${top.source ?? 'this BTF'} `
        + '(the very same base object is needed: re-parent a level read against a copy with rebaseLevel)', { file: top.source });
    }
    levels.push(l);
  }
  return levels.reverse();
}

/**
 * A private copy of every own record of `level`: decoded straight from the parsed words when the
 * level never built its records (no copy of a copy, and the level stays small), else cloned.
 */
function copyTypes(level: Btf): BtfType[] {
  const raw = level.rawTypes;
  if (raw === undefined) return level.types.map(cloneType);
  const out = new Array<BtfType>(raw.offs.length);
  for (let i = 0; i < out.length; i++) out[i] = decodeParsed(raw, i);
  return out;
}

/** `fresh`: levels whose records nobody else holds (made here), moved instead of copied. */
function concatLevels(levels: readonly Btf[], base: Btf | undefined, source: string | undefined, fresh: ReadonlySet<Btf> = new Set()): Btf {
  const first = levels[0]!;
  let strLen = 0;
  for (const l of levels) strLen += l.strings.length;
  const bytes = new Uint8Array(strLen);
  let at = 0;
  for (const l of levels) { bytes.set(l.strings.bytes(), at); at += l.strings.length; }
  const types: BtfType[] = [];
  for (const l of levels) for (const t of fresh.has(l) ? l.types : copyTypes(l)) types.push(t);
  return new Btf({ base, source, types, strings: new StringTable(first.startStrOff, bytes) });
}

/**
 * Joins the levels of `top`'s chain above `onto` into one level split on `onto`. With
 * `{ dedup: true }` the joined level is deduplicated against `onto`'s chain.
 */
export function flattenOnto(top: Btf, onto: Btf, opts: FlattenOptions = {}): Btf {
  const levels = levelsAbove(top, onto);
  if (levels.length === 0) throw new BtfError('bad-chain', 'nothing to flatten: the level is its own base', { file: top.source });
  const joined = concatLevels(levels, onto, top.source);
  return opts.dedup ? dedupBtf(joined) : joined;
}

/** The whole chain of `top` as one standalone BTF (optionally deduplicated as a whole). */
export function flattenStandalone(top: Btf, opts: FlattenOptions = {}): Btf {
  const joined = concatLevels(levelsAbove(top, undefined), undefined, top.source);
  return opts.dedup ? dedupBtf(joined) : joined;
}

export interface MergeOptions {
  /** Also deduplicate the base chain itself (a full standalone dedup: base ids may change). Default false. */
  readonly dedupBase?: boolean;
  /**
   * The object each DATASEC belongs to: `base` for the base chain's, `siblings[i]` for sibling i's.
   * Each DATASEC is then named `<object>.<section>` (dump-c.ts objectSection), so a variable's
   * object can be told in the merged file. Kernel object names have no dots; the kernel accepts
   * dots in DATASEC names (Linux 6.1: identifier characters and dots).
   */
  readonly objects?: { readonly base: string; readonly siblings: readonly string[] } | undefined;
}

/**
 * Merges sibling levels that share `base` (each split directly on `base`, or on a chain above it,
 * e.g. vmlinux -> module -> module-btf-extra, which is flattened first) into ONE deduplicated
 * standalone BTF: base's types first, unchanged (same ids), then every type the siblings add that
 * the base and the earlier siblings lack.
 */
export function mergeSiblings(base: Btf, levels: readonly Btf[], opts: MergeOptions = {}): Btf {
  const objects = opts.objects;
  if (objects !== undefined && objects.siblings.length !== levels.length) {
    throw new BtfError('bad-chain', `${levels.length} siblings but ${objects.siblings.length} object names`);
  }
  const combined = combineSiblings(base, levels, objects?.siblings);
  // Nothing above the base (vmlinux alone): nothing to deduplicate, and no index of the base to build.
  const deduped = combined.count === 0 ? combined : dedupLevelInPlace(combined).btf;
  const flat = concatLevels(levelsAbove(deduped, undefined), undefined, 'merged', new Set([deduped]));
  if (objects !== undefined) {
    // The base's DATASECs (vmlinux's .data..percpu): records copied by concatLevels, so renamed in place.
    for (let i = 0; i < base.nextId - 1; i++) {
      const t = flat.types[i]!;
      if (t.kind === KIND.DATASEC) t.nameOff = flat.addStr(`${objects.base}.${flat.str(t.nameOff)}`);
    }
  }
  return opts.dedupBase ? dedupLevelInPlace(flat).btf : flat;
}

/**
 * One sibling's part of a merge done piece by piece (the daemon's merged/kernel): `top` (a chain
 * above `base`, e.g. vmlinux -> module -> module-btf-extra) flattened, moved onto `onto` (a
 * standalone BTF that starts with `base`, e.g. mergeSiblings of base's own extras); with `object`,
 * its DATASECs are named `<object>.<section>` as mergeSiblings names them. One level split on
 * `onto`; join parts with joinParts.
 * Only what lies above the first level is deduplicated, against `onto` and that first level: the
 * first level (a module's BTF) was deduplicated against `base` when it was made (the kernel build's
 * pahole --btf_base), and deduplicating it again cost most of a part for nearly nothing. So a type
 * the first level shares with what `onto` adds beyond `base` stays twice, as it does across parts.
 * With `{ dedup: false }` nothing is deduplicated: for an `onto` that adds no type a level above
 * `base` could share (vmlinux without its extras: the levels above were deduplicated against
 * `base` when they were made), which saves indexing `onto` for nothing.
 */
export function mergePart(base: Btf, top: Btf, onto: Btf, object?: string, opts: { readonly dedup?: boolean } = {}): Btf {
  const levels = levelsAbove(top, base);
  const combined = combineSiblings(base, [top], object === undefined ? undefined : [object], onto);
  const firstCount = levels[0]?.count ?? 0;
  if (opts.dedup === false || levels.length < 2 || combined.count === firstCount) return combined;
  // The combined level cut in two: the first level's records, and the rest on it. Each holds the
  // combined strings (the rest's offsets moved up by their length): dedup only rewrites a level's
  // own strings, to an ancestor's offset when an ancestor has the string.
  const strs = combined.strings;
  const first = new Btf({ base: onto, source: combined.source, types: combined.types.slice(0, firstCount), strings: strs });
  const restTypes = combined.types.slice(firstCount);
  for (const t of restTypes) mapStrOffs(t, (off) => (off >= strs.start ? off + strs.length : off));
  const rest = new Btf({ base: first, source: combined.source, types: restTypes, strings: new StringTable(strs.end, strs.bytes()) });
  const deduped = dedupLevelInPlace(rest).btf;
  return concatLevels([first, deduped], onto, combined.source, new Set([first, deduped]));
}

/**
 * Parts made by mergePart on the same `onto`, joined in the given order WITHOUT decoding a record:
 * each part becomes one more level of a chain on `onto`, its encoded records copied with their own
 * ids and strings shifted past the previous parts' (write the chain standalone with writeFlat).
 * Not deduplicated again: a type that two parts add (one `onto` lacks) is in the result once per part.
 */
export function joinParts(onto: Btf, parts: readonly Btf[]): Btf {
  const ownStart = onto.nextId;
  const strStart = onto.strings.end;
  let top = onto;
  for (const part of parts) {
    if (part.base !== onto) throw new BtfError('bad-chain', `${part.source ?? 'a part'} is not split on ${onto.source ?? 'the base of the join'}`, { file: part.source });
    const idShift = top.nextId - ownStart, strShift = top.strings.end - strStart;
    const idEnd = part.nextId, strEnd = part.strings.end;
    const { words, offs } = encodedCopy(part);
    for (let i = 0; i < offs.length; i++) {
      mapEncodedRefs(words, offs[i]!, (id) => {
        if (id >= idEnd) throw pastLevelEnd(part, i, 'id', id);
        return id >= ownStart ? id + idShift : id;
      }, (off) => {
        if (off >= strEnd) throw pastLevelEnd(part, i, 'string', off);
        return off >= strStart ? off + strShift : off;
      });
    }
    top = new Btf({ base: top, source: part.source, raw: { words, offs }, strings: new StringTable(top.strings.end, part.strings.bytes()) });
  }
  return top;
}

/** A copy of `level`'s encoded records (the parsed words when untouched, else encoded) and where each starts. */
function encodedCopy(level: Btf): RawTypes {
  const raw = level.rawTypes;
  if (raw !== undefined) return { words: raw.words.slice(), offs: raw.offs };
  const offs = new Uint32Array(level.count);
  let p = 0;
  level.types.forEach((t, i) => { offs[i] = p; p += encodedSize(t) >>> 2; });
  return { words: typeWords(level), offs };
}

/** Shifted, an out-of-range reference would silently land in the next sibling: refused. */
function pastLevelEnd(level: Btf, i: number, what: 'id' | 'string', v: number): BtfError {
  return new BtfError(what === 'id' ? 'bad-type-id' : 'bad-string-offset',
    `${level.describe(level.startId + i)} refers to ${what === 'id' ? 'type id' : 'string offset'} ${v}, past the end of its level`,
    { file: level.source }, { id: level.startId + i });
}

/** Marks of one scan: which ids a record refers to, which a named struct/union/typedef prints inline. */
interface EnumScan {
  readonly nextId: number;
  readonly referenced: Uint8Array;
  readonly inline: Uint8Array;
  /** Anonymous enums with enumerators, in id order, with their identity key. */
  readonly enums: readonly { readonly id: number; readonly key: string }[];
}

/**
 * Scans of a base by object (a vmlinux parsed once and kept by the daemon): every file split on
 * it scans only its own levels. Checked against nextId, since a level may still grow.
 */
const baseScans = new WeakMap<Btf, EnumScan>();

/** What the scan needs of one record: its kind, whether it is named, and an anonymous enum's identity. */
interface RecordFacts { readonly kind: number; readonly named: boolean; readonly enumKey: string | undefined }

/** An anonymous enum's identity: its encoded words but the name (kind, kflag, vlen, size, enumerators). */
const encodedEnumKey = (w: Uint32Array, p: number, words: number): string => w.subarray(p + 1, p + words).join(',');

/**
 * Record `i` of `level`, read from the parsed words when the level has them: vmlinux stays raw (its
 * 100k records are never built by a scan), a built level is read from its records.
 */
function recordFacts(level: Btf, i: number): RecordFacts {
  const raw = level.rawTypes;
  if (raw !== undefined) {
    const { words: w } = raw;
    const p = raw.offs[i]!;
    const info = w[p + 1]!;
    const kind = (info >>> 24) & 0x1f;
    const named = w[p]! !== 0;
    const vlen = info & 0xffff;
    const isAnonEnum = !named && (kind === KIND.ENUM || kind === KIND.ENUM64) && vlen > 0;
    return { kind, named, enumKey: isAnonEnum ? encodedEnumKey(w, p, recordSize(kind as Exclude<Kind, 0>, vlen) >>> 2) : undefined };
  }
  const t = level.types[i]!;
  if ((t.kind !== KIND.ENUM && t.kind !== KIND.ENUM64) || t.nameOff !== 0 || t.values.length === 0) return { kind: t.kind, named: t.nameOff !== 0, enumKey: undefined };
  const w = new Uint32Array(encodedSize(t) >>> 2);
  encodeType(t, w, 0);
  return { kind: t.kind, named: false, enumKey: encodedEnumKey(w, 0, w.length) };
}

/** A private copy of record `i` of `level` (decoded from the words of a raw level, which stays raw). */
function ownRecord(level: Btf, i: number): BtfType {
  const raw = level.rawTypes;
  return raw === undefined ? cloneType(level.types[i]!) : decodeParsed(raw, i);
}

function forEachRecordRef(level: Btf, i: number, fn: (id: number) => void): void {
  const raw = level.rawTypes;
  if (raw !== undefined) forEachEncodedTypeId(raw.words, raw.offs[i]!, fn);
  else forEachTypeId(level.types[i]!, fn);
}

const printsInline = (f: RecordFacts): boolean =>
  (f.kind === KIND.STRUCT || f.kind === KIND.UNION || f.kind === KIND.TYPEDEF) && f.named;

/** The marks of `btf`'s whole chain, starting from `from`'s (a scan of one of its ancestors) when given. */
function scanEnums(btf: Btf, from: EnumScan | undefined): EnumScan {
  const n = btf.nextId;
  const referenced = new Uint8Array(n);
  const inline = new Uint8Array(n);
  const enums = from ? from.enums.slice() : [];
  if (from) { referenced.set(from.referenced); inline.set(from.inline); }
  const lo = from?.nextId ?? 1;
  const stack: number[] = [];
  // Printed inline: whatever named structs/unions/typedefs reach without passing another named one.
  // A reach may go down into the ancestor's ids (an upper struct holding a base type inline).
  const reach = (id: number): void => {
    if (id <= 0 || id >= n || inline[id]) return;
    inline[id] = 1;
    stack.push(id);
  };
  const mark = (ref: number): void => { if (ref > 0 && ref < n) referenced[ref] = 1; };
  for (const level of btf.chain().filter((l) => l.startId >= lo)) {
    for (let i = 0; i < level.count; i++) {
      const f = recordFacts(level, i);
      forEachRecordRef(level, i, mark);
      if (printsInline(f)) forEachRecordRef(level, i, reach);
      if (f.enumKey !== undefined) enums.push({ id: level.startId + i, key: f.enumKey });
    }
  }
  while (stack.length > 0) {
    const id = stack.pop()!;
    const level = btf.levelOf(id);
    const f = recordFacts(level, id - level.startId);
    if (printsInline(f)) continue;
    if (f.kind !== KIND.VAR && f.kind !== KIND.DATASEC) forEachRecordRef(level, id - level.startId, reach);
  }
  return { nextId: n, referenced, inline, enums };
}

/**
 * Anonymous enums that bpftool's C dump would never print: libbpf's btf_dump prints an
 * anonymous enum only inline where a printed type uses it, or at top level when nothing refers
 * to it; one that only VARs use (VARs are not printed) loses its enumerators (CRNG_READY). For
 * each, an identical unreferenced copy is appended to `btf`'s own level (so the file must not
 * have levels split on it yet). Idempotent. Returns the number of copies added.
 * `base`, an ancestor of `btf` shared by many files (vmlinux, the kernel base of merged/kernel),
 * is scanned once and its marks reused: each call then costs what the levels above it cost, with
 * the same result as a scan of the whole chain.
 */
export function exposeAnonEnums(btf: Btf, base?: Btf): number {
  let from: EnumScan | undefined;
  if (base !== undefined && base !== btf) {
    if (!btf.chain().includes(base)) throw new BtfError('bad-chain', `${base.source ?? 'the base'} is not below ${btf.source ?? 'the level'}`, { file: btf.source });
    from = baseScans.get(base);
    if (from?.nextId !== base.nextId) { from = scanEnums(base, undefined); baseScans.set(base, from); }
  }
  const scan = scanEnums(btf, from);
  const visible = new Set<string>();
  const hidden: { id: number; key: string }[] = [];
  for (const e of scan.enums) {
    if (!scan.referenced[e.id] || scan.inline[e.id]) visible.add(e.key); else hidden.push(e);
  }
  let added = 0;
  for (const h of hidden) {
    if (visible.has(h.key)) continue;
    visible.add(h.key);
    const level = btf.levelOf(h.id);
    btf.addType(ownRecord(level, h.id - level.startId));
    added++;
  }
  return added;
}

/**
 * `level` (and the levels between it and its root) re-parented onto `base`, an equal copy of its
 * own root-most part: e.g. a module parsed against another vmlinux object. Only the shape is
 * checked (same next id and string end at the join); the records are copied, the strings viewed.
 */
export function rebaseLevel(level: Btf, base: Btf): Btf {
  const levels = level.chain();
  const joinAt = levels.findIndex((l) => l.base !== undefined && l.base.nextId === base.nextId && l.base.strings.end === base.strings.end);
  if (joinAt < 0) {
    throw new BtfError('bad-chain', `${level.source ?? 'the level'} has no ancestor shaped like ${base.source ?? 'the new base'} `
      + `(ids 1..${base.nextId - 1}, ${base.strings.end} string bytes)`, { file: level.source });
  }
  let out = base;
  for (const l of levels.slice(joinAt)) {
    // Types are mutable objects, so they are copied; string bytes are append-only and a table
    // copies its wrapped view on its first add, so a view of the old level's strings will do.
    out = new Btf({ base: out, source: l.source, types: copyTypes(l), strings: new StringTable(l.startStrOff, l.strings.bytes()) });
  }
  return out;
}

/**
 * The siblings as one (not yet deduplicated) level on `base`: each shifted past the previous ones.
 * With `onto` (a BTF whose ids below base.nextId and strings below base.strings.end are `base`'s,
 * e.g. a standalone copy of `base` with more types and strings appended), the level is split on
 * `onto` instead: the siblings' own ids and strings then start past `onto`'s.
 */
export function combineSiblings(base: Btf, levels: readonly Btf[], objects?: readonly string[], onto: Btf = base): Btf {
  const ownStart = base.nextId;
  const strStart = base.strings.end;
  if (onto.nextId < ownStart || onto.strings.end < strStart) {
    throw new BtfError('bad-chain', `${onto.source ?? 'the new base'} (ids 1..${onto.nextId - 1}, ${onto.strings.end} string bytes) is smaller than `
      + `${base.source ?? 'the base'} (ids 1..${ownStart - 1}, ${strStart} string bytes)`);
  }
  const types: BtfType[] = [];
  const parts: Uint8Array[] = [];
  const renamed: { t: BtfType; name: string }[] = [];
  let idShift = onto.nextId - ownStart;
  let strShift = onto.strings.end - strStart;
  let strLen = 0;
  for (const sibling of levels) {
    const level = sibling.base === base ? sibling : flattenOnto(sibling, base);
    const idShiftHere = idShift, strShiftHere = strShift;
    const idEnd = level.nextId, strEnd = level.strings.end;
    const copies = copyTypes(level);
    for (let i = 0; i < copies.length; i++) {
      const c = copies[i]!;
      if (objects !== undefined && c.kind === KIND.DATASEC) renamed.push({ t: c, name: `${objects[parts.length]!}.${level.str(c.nameOff)}` });
      mapTypeIds(c, (id) => {
        if (id >= idEnd) throw pastLevelEnd(level, i, 'id', id);
        return id >= ownStart ? id + idShiftHere : id;
      });
      mapStrOffs(c, (off) => {
        if (off >= strEnd) throw pastLevelEnd(level, i, 'string', off);
        return off >= strStart ? off + strShiftHere : off;
      });
      types.push(c);
    }
    parts.push(level.strings.bytes());
    idShift += copies.length;
    strShift += level.strings.length;
    strLen += level.strings.length;
  }
  const bytes = new Uint8Array(strLen);
  let at = 0;
  for (const p of parts) { bytes.set(p, at); at += p.length; }
  const out = new Btf({ base: onto, source: 'merged', types, strings: new StringTable(onto.strings.end, bytes) });
  for (const r of renamed) r.t.nameOff = out.addStr(r.name);
  return out;
}
