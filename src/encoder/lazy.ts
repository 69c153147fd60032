/**
 * Type access into a base chain without materialising whole parsed levels: Btf builds every
 * type object of a level on first `types` access (95k objects for vmlinux) and then loses its
 * raw-word fast paths (validation re-encodes the level). The encoder only touches the few
 * thousand chain types its variables reach, so it decodes records one at a time from the words.
 */
import { decodeParsed, type Btf } from '../btf/btf.js';
import { KIND, type Kind } from '../btf/kinds.js';
import type { BtfType } from '../btf/types.js';

const decoded = new WeakMap<Btf, Map<number, BtfType>>();

/** The level of `chain` owning `id` (undefined when none does). */
export function levelOf(chain: Btf, id: number): Btf | undefined {
  for (let l: Btf | undefined = chain; l !== undefined; l = l.base) {
    if (id >= l.startId) return id < l.nextId ? l : undefined;
  }
  return undefined;
}

/** Type `id` of `chain`, decoded alone (and cached) when its level is still raw. Throws like Btf.type when absent. */
export function chainType(chain: Btf, id: number): BtfType {
  const level = levelOf(chain, id);
  if (level === undefined) return chain.type(id);
  const raw = level.rawTypes;
  if (raw === undefined) return level.types[id - level.startId]!;
  let cache = decoded.get(level);
  if (!cache) { cache = new Map(); decoded.set(level, cache); }
  let t = cache.get(id);
  if (t === undefined) {
    t = decodeParsed(raw, id - level.startId);
    cache.set(id, t);
  }
  return t;
}

/** Calls `fn(id, kind)` for each own type of `level`, reading kinds from the words when raw. */
export function forEachKind(level: Btf, fn: (id: number, kind: Kind) => void): void {
  const raw = level.rawTypes;
  if (raw === undefined) {
    level.types.forEach((t, i) => fn(level.startId + i, t.kind));
    return;
  }
  for (let i = 0; i < raw.offs.length; i++) fn(level.startId + i, ((raw.words[raw.offs[i]! + 1]! >>> 24) & 0x1f) as Kind);
}

/**
 * Name lookup over a chain without decoding every type name to a JS string: each level gets an
 * index from a hash of the name's UTF-8 bytes (read straight from the string section) to ids;
 * a lookup hashes the wanted name the same way and confirms candidates by comparing strings.
 */
const utf8 = new TextEncoder();
const EMPTY_HASH = 0x811c9dc5;

/** FNV-1a of the name at absolute string offset `off` of `chain`, read from the bytes where possible. */
export function nameHashAt(chain: Btf, off: number): number {
  if (off === 0) return EMPTY_HASH;
  const span = stringSpan(chain, off);
  return span === undefined ? nameHash(chain.str(off)) : fnv(span.bytes, span.start, span.end);
}

/** Where the string at absolute offset `off` lies in its level's bytes; undefined when no level has it. */
function stringSpan(chain: Btf, off: number): { bytes: Uint8Array; start: number; end: number } | undefined {
  const level = stringLevel(chain, off);
  if (level === undefined) return undefined;
  const bytes = stringBytes(level);
  const start = off - level.strings.start;
  const end = bytes.indexOf(0, start);
  return { bytes, start, end: end < 0 ? bytes.length : end };
}

/** The level whose own string section holds absolute offset `off` (split levels reuse their ancestors' strings). */
function stringLevel(chain: Btf, off: number): Btf | undefined {
  let level: Btf | undefined = chain;
  while (level !== undefined && off < level.strings.start) level = level.base;
  return level !== undefined && off < level.strings.end ? level : undefined;
}

/** A base level's string section (base levels never change, so the view stays valid). */
const stringViews = new WeakMap<Btf, Uint8Array>();
function stringBytes(level: Btf): Uint8Array {
  let v = stringViews.get(level);
  if (v === undefined || v.length !== level.strings.length) { v = level.strings.bytes(); stringViews.set(level, v); }
  return v;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * The string at absolute offset `off` of `chain`, decoded alone from its level's bytes (the same
 * text Btf.str gives): Btf.str decodes a whole base table on first use, ~2.5 MB for vmlinux, of
 * which the encoder needs a few hundred names. Throws like Btf.str when no level has `off`.
 */
export function chainStr(chain: Btf, off: number): string {
  const span = stringSpan(chain, off);
  return span === undefined ? chain.str(off) : utf8Decoder.decode(span.bytes.subarray(span.start, span.end));
}

/** True when the NUL-terminated string at absolute `off` of `level` is exactly `name` (UTF-8 bytes). */
function nameAtIs(chain: Btf, off: number, name: Uint8Array): boolean {
  const level = stringLevel(chain, off);
  if (level === undefined) return chain.str(off) === utf8Decoder.decode(name);
  const bytes = stringBytes(level);
  const rel = off - level.strings.start;
  if (rel + name.length > bytes.length) return false;
  for (let j = 0; j < name.length; j++) if (bytes[rel + j] !== name[j]) return false;
  return rel + name.length === bytes.length || bytes[rel + name.length] === 0;
}

/** FNV-1a of a name's UTF-8 bytes (the same value nameHashAt gives for that name). */
export function nameHash(name: string): number {
  const b = utf8.encode(name);
  return fnv(b, 0, b.length);
}

function fnv(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/**
 * Per level, built together in one backward pass over the type words (one pass, and one
 * warm-up of the loop, instead of two):
 * - names: bucket heads (hash & mask -> lowest type index in the bucket) and, per type index,
 *   the next higher index in the same bucket and the full name hash. Only the kinds findNamed
 *   is asked for are indexed: FUNCs, VARs and the rest are most of vmlinux's names and never
 *   looked up by name, so skipping them makes the index several times cheaper to build.
 * - anchors: for each chain id a (any id up to this level), a list of the level's PTR/modifier/
 *   ARRAY/FUNC_PROTO types anchored on it (their target, element type, or return type or else
 *   first parameter type), ascending: firstAnchored[a] -> nextAnchored[i] -> ... (-1 ends).
 */
interface LevelIndexes {
  readonly heads: Int32Array;
  readonly mask: number;
  readonly next: Int32Array;
  readonly hashes: Int32Array;
  readonly firstAnchored: Int32Array;
  readonly nextAnchored: Int32Array;
}

/** Kinds that are looked up by name (match.ts): bit per kind. */
const NAMED_LOOKUP_KINDS = (1 << KIND.INT) | (1 << KIND.STRUCT) | (1 << KIND.UNION) | (1 << KIND.ENUM) | (1 << KIND.FWD)
  | (1 << KIND.TYPEDEF) | (1 << KIND.FLOAT) | (1 << KIND.ENUM64);

const levelIndexesCache = new WeakMap<Btf, LevelIndexes>();

/** The anonymous reference types of `level` anchored on each chain id (see LevelIndexes). */
export function anchorIndex(level: Btf): { readonly first: Int32Array; readonly next: Int32Array } {
  const idx = levelIndexes(level);
  return { first: idx.firstAnchored, next: idx.nextAnchored };
}

function levelIndexes(level: Btf): LevelIndexes {
  let idx = levelIndexesCache.get(level);
  if (idx) return idx;
  const strs = level.strings;
  const bytes = stringBytes(level);
  const raw = level.rawTypes;
  const count = level.nextId - level.startId;
  let buckets = 1 << 10;
  while (buckets < count / 4) buckets <<= 1;
  const mask = buckets - 1;
  const heads = new Int32Array(buckets).fill(-1);
  const next = new Int32Array(count);
  const hashes = new Int32Array(count);
  const n = level.nextId;
  const firstAnchored = new Int32Array(n).fill(-1);
  const nextAnchored = new Int32Array(count);
  const sStart = strs.start;
  const sEnd = strs.end;
  // Backwards, pushing on the front of each list, so every list comes out ascending.
  for (let i = count - 1; i >= 0; i--) {
    let off: number;
    let kind: number;
    let anchor = -1;
    if (raw !== undefined) {
      // header word 2 is the size or referenced type; ARRAY data starts at word 3 with the
      // element type; FUNC_PROTO params are (name, type) pairs from word 3
      const words = raw.words;
      const p = raw.offs[i]!;
      const info = words[p + 1]!;
      kind = (info >>> 24) & 0x1f;
      off = words[p]!;
      switch (kind) {
        case KIND.PTR: case KIND.CONST: case KIND.VOLATILE: case KIND.RESTRICT: case KIND.TYPE_TAG: anchor = words[p + 2]!; break;
        case KIND.ARRAY: anchor = words[p + 3]!; break;
        case KIND.FUNC_PROTO: anchor = words[p + 2] !== 0 || (info & 0xffff) === 0 ? words[p + 2]! : words[p + 4]!; break;
        default: break;
      }
    } else {
      const t = level.types[i]!;
      kind = t.kind;
      off = t.nameOff;
      switch (t.kind) {
        case KIND.PTR: case KIND.CONST: case KIND.VOLATILE: case KIND.RESTRICT: case KIND.TYPE_TAG: anchor = t.type; break;
        case KIND.ARRAY: anchor = t.elemType; break;
        case KIND.FUNC_PROTO: anchor = t.returnType !== 0 || t.params.length === 0 ? t.returnType : t.params[0]!.type; break;
        default: break;
      }
    }
    if (anchor >= 0) {
      if (anchor < n) { nextAnchored[i] = firstAnchored[anchor]!; firstAnchored[anchor] = i; }
      continue;
    }
    if (((NAMED_LOOKUP_KINDS >>> kind) & 1) === 0 || off === 0) continue;
    let h: number;
    if (off >= sStart && off < sEnd) {
      // FNV-1a up to the terminating NUL (or the end of the section)
      h = 0x811c9dc5;
      for (let j = off - sStart; j < bytes.length; j++) {
        const c = bytes[j]!;
        if (c === 0) break;
        h = Math.imul(h ^ c, 0x01000193);
      }
      h >>>= 0;
    } else {
      // a name in an ancestor's table (split levels reuse base strings): hashed from that
      // table's bytes, as Btf.str would decode the ancestor's whole table
      try { h = nameHashAt(level, off); } catch { continue; }
    }
    const b = h & mask;
    next[i] = heads[b]!;
    heads[b] = i;
    hashes[i] = h | 0;
  }
  idx = { heads, mask, next, hashes, firstAnchored, nextAnchored };
  levelIndexesCache.set(level, idx);
  return idx;
}

/**
 * Ids of the types named `name` with kind `kind`, nearest level first (ascending within a
 * level): a module's own copy of a type is a better match for the module's DWARF than the
 * vmlinux one it failed to deduplicate against.
 */
export function findNamed(chain: Btf, name: string, kind: Kind): number[] {
  const nameBytes = utf8.encode(name);
  const hash = fnv(nameBytes, 0, nameBytes.length);
  const out: number[] = [];
  if (((NAMED_LOOKUP_KINDS >>> kind) & 1) === 0) {
    // not indexed: a plain scan (no caller asks for these today)
    for (let level: Btf | undefined = chain; level !== undefined; level = level.base) {
      for (let id = level.startId; id < level.nextId; id++) {
        if (level.kindOf(id) === kind && level.str(level.nameOffOf(id)!) === name) out.push(id);
      }
    }
    return out;
  }
  for (let level: Btf | undefined = chain; level !== undefined; level = level.base) {
    const { heads, mask, next, hashes } = levelIndexes(level);
    const found: number[] = [];
    for (let i = heads[hash & mask]!; i >= 0; i = next[i]!) {
      if (hashes[i] !== (hash | 0)) continue;
      const id = level.startId + i;
      if (level.kindOf(id) !== kind) continue;
      if (nameAtIs(level, level.nameOffOf(id)!, nameBytes)) found.push(id);
    }
    out.push(...found); // ascending within a level (the lists are built ascending)
  }
  return out;
}
