/**
 * `lookup VAR` over a (merged) BTF chain: every VAR named VAR (all candidates of an ambiguous
 * name, in id order), the DATASEC that places it (section name, offset, size), its linkage and
 * the C spelling of its type. In merged/kernel, where every DATASEC is named
 * `<object>.<section>` (merge.ts), the object comes from that name. The DATASEC index
 * (var id -> placement) is built once per BTF level set and reused while the chain is unchanged.
 */
import type { Btf } from '../btf/btf.js';
import { cTypeName, objectSection } from '../btf/dump-c.js';
import { KIND, VAR_LINKAGE } from '../btf/kinds.js';
import type { TypeId } from '../btf/types.js';
import type { LookupHit } from './api.js';

interface Placement { readonly section: string; readonly offset: number; readonly size: number; readonly object?: string | undefined }

/** Per top level: the index and the chain size it was built for (levels only grow by appending). */
const placementCache = new WeakMap<Btf, { readonly nextId: number; readonly index: ReadonlyMap<TypeId, Placement> }>();

/** var id -> first DATASEC entry naming it, across the whole chain. */
export function datasecPlacements(btf: Btf): ReadonlyMap<TypeId, Placement> {
  const cached = placementCache.get(btf);
  if (cached && cached.nextId === btf.nextId) return cached.index;
  const index = new Map<TypeId, Placement>();
  const datasecs = btf.chain().flatMap((level) => level.types.filter((t) => t.kind === KIND.DATASEC));
  const names = datasecs.map((t) => safeStr(btf, t.nameOff));
  // Per-object names only when every DATASEC has one (a plain `.data` never parses as one).
  const perObject = names.length > 0 && names.every((n) => objectSection(n) !== undefined);
  datasecs.forEach((t, i) => {
    if (t.kind !== KIND.DATASEC) return;
    const split = perObject ? objectSection(names[i]!) : undefined;
    const section = split?.section ?? names[i]!;
    for (const v of t.vars) if (!index.has(v.type)) index.set(v.type, { section, offset: v.offset, size: v.size, object: split?.object });
  });
  placementCache.set(btf, { nextId: btf.nextId, index });
  return index;
}

/**
 * Every VAR called `name` in the chain, in id order. A VAR no DATASEC lists (not placed in any
 * section) is still reported, with section "" and offset -1. `objectOf` names the object a
 * type id belongs to (the daemon knows which id range came from which module's extras).
 */
export function lookupVariable(btf: Btf, name: string, objectOf: (id: TypeId) => string): LookupHit[] {
  const ids = btf.findByName(name, KIND.VAR);
  if (ids.length === 0) return [];
  const placements = datasecPlacements(btf);
  const hits: LookupHit[] = [];
  for (const id of ids) {
    const v = btf.type(id);
    if (v.kind !== KIND.VAR) continue;
    const where = placements.get(id);
    hits.push({
      variable: name,
      object: where?.object ?? objectOf(id),
      cType: typeSpelling(btf, v.type),
      section: where?.section ?? '',
      offset: where?.offset ?? -1,
      size: where?.size ?? 0,
      linkage: v.linkage === VAR_LINKAGE.STATIC ? 'static' : 'global',
      btfId: id,
    });
  }
  return hits;
}

/** C spelling of a type; a broken reference inside hostile BTF must not abort the whole lookup. */
function typeSpelling(btf: Btf, id: TypeId): string {
  try { return cTypeName(btf, id); } catch (e) {
    return `<bad type ${id}: ${e instanceof Error ? e.message : String(e)}>`;
  }
}

function safeStr(btf: Btf, off: number): string {
  try { return btf.str(off); } catch { return `<bad name @${off}>`; }
}
