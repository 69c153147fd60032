/**
 * Type access into a base chain without materialising whole parsed levels: Btf builds every
 * type object of a level on first `types` access (95k objects for vmlinux) and then loses its
 * raw-word fast paths (validation re-encodes the level). The encoder only touches the few
 * thousand chain types its variables reach, so it decodes records one at a time from the words.
 */
import type { Btf } from '../btf/btf.js';
import { decodeType, type Kind } from '../btf/kinds.js';
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
