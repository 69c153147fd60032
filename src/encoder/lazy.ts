/**
 * Type access into a base chain without materialising whole parsed levels: Btf builds every
 * type object of a level on first `types` access (95k objects for vmlinux) and then loses its
 * raw-word fast paths (validation re-encodes the level). The encoder only touches the few
 * thousand chain types its variables reach, so it decodes records one at a time from the words.
 */
import type { Btf } from '../btf/btf.js';
import { decodeType, type Kind } from '../btf/kinds.js';
import type { BtfType } from '../btf/types.js';
import { IntMap } from './intmap.js';

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
    const p = raw.offs[id - level.startId]!;
    const info = raw.words[p + 1]!;
    t = decodeType(raw.words, p, ((info >>> 24) & 0x1f) as Exclude<Kind, 0>, (info & 0x80000000) !== 0, info & 0xffff) as BtfType;
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
const nameIndexes = new WeakMap<Btf, NameIndex>();
const utf8 = new TextEncoder();
const EMPTY_HASH = 0x811c9dc5;

/** FNV-1a of the name at absolute string offset `off` of `chain`, read from the bytes where possible. */
export function nameHashAt(chain: Btf, off: number): number {
  if (off === 0) return EMPTY_HASH;
  for (let l: Btf | undefined = chain; l !== undefined; l = l.base) {
    const strs = l.strings;
    if (off >= strs.start) {
      if (off >= strs.end) break;
      const bytes = stringBytes(l);
      const rel = off - strs.start;
      let end = bytes.indexOf(0, rel);
      if (end < 0) end = bytes.length;
      return fnv(bytes, rel, end);
    }
  }
  return nameHash(chain.str(off));
}

/** A base level's string section (base levels never change, so the view stays valid). */
const stringViews = new WeakMap<Btf, Uint8Array>();
function stringBytes(level: Btf): Uint8Array {
  let v = stringViews.get(level);
  if (v === undefined || v.length !== level.strings.length) { v = level.strings.bytes(); stringViews.set(level, v); }
  return v;
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

/** Per level: hash -> most recent type index, and a chain of earlier indexes with the same hash. */
interface NameIndex { readonly heads: IntMap; readonly next: Int32Array }

function nameIndex(level: Btf): NameIndex {
  let idx = nameIndexes.get(level);
  if (idx) return idx;
  const strs = level.strings;
  const bytes = stringBytes(level);
  const raw = level.rawTypes;
  const count = level.nextId - level.startId;
  const heads = new IntMap(count);
  const next = new Int32Array(count).fill(-1);
  for (let i = 0; i < count; i++) {
    const off = raw !== undefined ? raw.words[raw.offs[i]!]! : level.types[i]!.nameOff;
    if (off === 0) continue;
    let h: number;
    if (off >= strs.start && off < strs.end) {
      const rel = off - strs.start;
      let end = bytes.indexOf(0, rel);
      if (end < 0) end = bytes.length;
      h = fnv(bytes, rel, end);
    } else {
      // a name in an ancestor's table (split levels reuse base strings)
      let s: string;
      try { s = level.str(off); } catch { continue; }
      h = nameHash(s);
    }
    const key = h & 0x7fffffff;
    next[i] = heads.get(key) ?? -1;
    heads.set(key, i);
  }
  idx = { heads, next };
  nameIndexes.set(level, idx);
  return idx;
}

/**
 * Ids of the types named `name` with kind `kind`, nearest level first (ascending within a
 * level): a module's own copy of a type is a better match for the module's DWARF than the
 * vmlinux one it failed to deduplicate against.
 */
export function findNamed(chain: Btf, name: string, kind: Kind): number[] {
  const key = nameHash(name) & 0x7fffffff;
  const out: number[] = [];
  for (let level: Btf | undefined = chain; level !== undefined; level = level.base) {
    const { heads, next } = nameIndex(level);
    const found: number[] = [];
    for (let i = heads.get(key) ?? -1; i >= 0; i = next[i]!) {
      const id = level.startId + i;
      if (level.kindOf(id) !== kind) continue;
      if (level.str(level.nameOffOf(id)!) === name) found.push(id);
    }
    out.push(...found.reverse()); // ascending within a level
  }
  return out;
}
