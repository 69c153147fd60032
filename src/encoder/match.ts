/**
 * Maps protos onto types the base chain already has, so the new level only holds what is
 * missing. The test is libbpf dedup's graph equivalence (btf_dedup_is_equiv), run between a
 * DWARF-derived proto graph and the immutable chain: a hypothetical map grows during one
 * comparison and is committed only when the whole graph matches. Deliberately more tolerant
 * than libbpf in two ways, both about the same type seen with different knowledge: a FWD and a
 * same-named struct/union match in either direction (vmlinux often has only the FWD of a struct
 * a module defines), and two chain types that are copies of each other count as one (module
 * BTF made by pahole 1.24 keeps a few duplicates of vmlinux types).
 *
 * Candidates: named types by (name, kind), nearest level first; reference types (PTR, CONST,
 * ARRAY, FUNC_PROTO, ...) bottom-up, by their resolved targets; anonymous aggregates by shape.
 * The per-level indexes are built from the raw words once and cached on the level (a batch
 * shares vmlinux's). Protos left unresolved are emitted as new types.
 */
import type { Btf } from '../btf/btf.js';
import { KIND } from '../btf/kinds.js';
import type { BtfType } from '../btf/types.js';
import type { ProtoGraph, ProtoRef } from './proto.js';
import { anchorIndex, chainStr, chainType, findNamed, forEachKind, nameHash, nameHashAt } from './lazy.js';

/** Per level: anonymous reference types by anchor (lazy.ts anchorIndex, built with the name index). */
type LevelIndex = ReturnType<typeof anchorIndex>;

/** One level's anonymous structs/unions/enums by aggregateKey, built on the first anonymous-aggregate lookup. */
const aggregateIndexCache = new WeakMap<Btf, Map<string, number[]>>();

function aggregateIndex(level: Btf): Map<string, number[]> {
  const cached = aggregateIndexCache.get(level);
  if (cached) return cached;
  const aggregates = new Map<string, number[]>();
  const raw = level.rawTypes;
  if (raw !== undefined) {
    const { words, offs } = raw;
    for (let i = 0; i < offs.length; i++) {
      const p = offs[i]!;
      if (words[p] !== 0) continue;
      const info = words[p + 1]!;
      const kind = (info >>> 24) & 0x1f;
      if (kind !== KIND.ENUM && kind !== KIND.ENUM64 && kind !== KIND.STRUCT && kind !== KIND.UNION) continue;
      const vlen = info & 0xffff;
      // first member/enumerator name: STRUCT/UNION/ENUM64 entries are 3 words, ENUM 2;
      // for structs/unions also the name of the last member's type
      const first = vlen === 0 ? 0 : words[p + 3]!;
      const lastType = vlen === 0 || (kind !== KIND.STRUCT && kind !== KIND.UNION) ? 0 : words[p + 3 + 3 * (vlen - 1) + 1]!;
      const k = aggregateKey(kind, words[p + 2]!, vlen, nameHashAt(level, first), typeNameHash(level, lastType));
      const l = aggregates.get(k);
      if (l) l.push(level.startId + i); else aggregates.set(k, [level.startId + i]);
    }
  } else forEachKind(level, (id, kind) => {
    if (kind !== KIND.ENUM && kind !== KIND.ENUM64 && kind !== KIND.STRUCT && kind !== KIND.UNION) return;
    const t = chainType(level, id);
    if ((t.kind === KIND.ENUM || t.kind === KIND.ENUM64 || t.kind === KIND.STRUCT || t.kind === KIND.UNION) && t.nameOff === 0) {
      const entries = t.kind === KIND.ENUM || t.kind === KIND.ENUM64 ? t.values : t.members;
      const last = t.kind === KIND.STRUCT || t.kind === KIND.UNION ? t.members[t.members.length - 1]?.type ?? 0 : 0;
      const k = aggregateKey(t.kind, t.size, entries.length, nameHashAt(level, entries[0]?.nameOff ?? 0), typeNameHash(level, last));
      const l = aggregates.get(k);
      if (l) l.push(id); else aggregates.set(k, [id]);
    }
  });
  aggregateIndexCache.set(level, aggregates);
  return aggregates;
}

/**
 * Anonymous aggregates are looked up by kind, size, vlen, the first member's name and the name
 * of the last member's type (graph equivalence requires equal names at every node, so these
 * never separate equivalent types; they do separate the hundreds of tracepoint map unions that
 * differ only in their handler typedef).
 */
function aggregateKey(kind: number, size: number, vlen: number, firstName: number, lastTypeName: number): string {
  return `${kind}:${size}:${vlen}:${firstName}:${lastTypeName}`;
}

function typeNameHash(chain: Btf, id: number): number {
  const off = id === 0 ? 0 : chain.nameOffOf(id) ?? 0;
  return nameHashAt(chain, off);
}

/** Result per proto: a chain id, or undefined when the chain lacks it. */
export class ChainMatcher {
  readonly chain: Btf | undefined;
  private readonly graph: ProtoGraph;
  /** resolved[ref-1]: chain id, -1 = known missing, undefined = not tried yet. */
  private readonly resolved: (number | undefined)[] = [];
  private readonly hypot = new Map<ProtoRef, number>();
  /**
   * Refs of the current comparison that matched only because they sit behind a pointer and the
   * chain has a FWD where the proto has the full struct (e.g. `const struct X *` vs chain
   * `PTR -> CONST -> FWD X`). Such a match is right for the pointer, wrong for the type itself: a
   * variable of type `const struct X[]` must not reuse the chain's `const FWD` (no size). They
   * are kept apart in `behindPointer`, used only to find pointers to them.
   */
  private readonly incomplete = new Set<ProtoRef>();
  /** behindPointer[ref-1]: the chain id `ref` stands for when seen through a pointer (see `incomplete`). */
  private readonly behindPointer: (number | undefined)[] = [];
  /** Chain string offset -> proto string index (or -1 when the graph lacks the string). */
  private readonly strMap = new Map<number, number>();
  private levelIndexes: LevelIndex[] | undefined;
  private readonly identical = new Map<string, boolean>();
  private readonly inProgress = new Set<ProtoRef>();

  constructor(chain: Btf | undefined, graph: ProtoGraph) {
    this.chain = chain;
    this.graph = graph;
  }

  /** The chain id for `ref`, or undefined when the chain has no equivalent type. */
  resolve(ref: ProtoRef): number | undefined {
    if (ref === 0) return 0;
    if (this.chain === undefined) return undefined;
    const known = this.resolved[ref - 1];
    if (known !== undefined) return known < 0 ? undefined : known;
    // Reference cycles only go through structs/unions (resolved by name); guard anyway.
    if (this.inProgress.has(ref)) return undefined;
    this.inProgress.add(ref);
    let id: number | undefined;
    try {
      id = this.find(ref);
    } finally {
      this.inProgress.delete(ref);
    }
    if (this.resolved[ref - 1] === undefined) this.resolved[ref - 1] = id ?? -1;
    return id;
  }

  private find(ref: ProtoRef): number | undefined {
    const chain = this.chain!;
    const p = this.graph.proto(ref);
    switch (p.kind) {
      case KIND.STRUCT: case KIND.UNION: case KIND.ENUM: case KIND.ENUM64: case KIND.INT: case KIND.FLOAT: case KIND.TYPEDEF: {
        const name = this.graph.strings[p.nameOff]!;
        if (name === '') return this.findAnon(ref, p);
        for (const c of findNamed(chain, name, p.kind)) if (this.tryEquiv(ref, c)) return c;
        if (p.kind === KIND.ENUM && p.values.length === 0) {
          // An enum declaration matches the full enum (libbpf's btf_compat_enum).
          for (const c of findNamed(chain, name, KIND.ENUM)) return c;
        }
        return undefined;
      }
      case KIND.FWD: {
        const name = this.graph.strings[p.nameOff]!;
        for (const c of findNamed(chain, name, KIND.FWD)) if (chainType(chain, c).kflag === p.kflag) return c;
        const real = findNamed(chain, name, p.kflag ? KIND.UNION : KIND.STRUCT);
        return real.length === 1 ? real[0] : undefined;
      }
      default:
        return this.findAnon(ref, p);
    }
  }

  /** Anonymous types: resolve what they point at, then compare with the chain types anchored there. */
  private findAnon(ref: ProtoRef, p: BtfType): number | undefined {
    if (p.kind === KIND.ENUM || p.kind === KIND.ENUM64 || p.kind === KIND.STRUCT || p.kind === KIND.UNION) {
      const aggregate = p.kind === KIND.STRUCT || p.kind === KIND.UNION;
      const entries = p.kind === KIND.ENUM || p.kind === KIND.ENUM64 ? p.values : p.members;
      const lastType = aggregate && p.members.length > 0 ? p.members[p.members.length - 1]!.type : 0;
      const lastTypeName = lastType === 0 ? '' : this.graph.strings[this.graph.proto(lastType).nameOff]!;
      const key = aggregateKey(p.kind, p.size, entries.length, nameHash(entries.length === 0 ? '' : this.graph.strings[entries[0]!.nameOff]!), nameHash(lastTypeName));
      for (const level of this.chain!.chain()) {
        const list = aggregateIndex(level).get(key);
        if (list === undefined) continue;
        for (const c of list) if ((!aggregate || this.shallowAggregate(p, c)) && this.tryEquiv(ref, c)) return c;
      }
      return undefined;
    }
    const anchor = this.anchorOf(p);
    if (anchor === undefined) return undefined;
    const chain = this.chain!;
    const levels = chain.chain();
    const indexes = this.indexes();
    // Cheap pre-checks on the raw words, the ones sameResolved makes before resolving anything
    // (no name; same kind and kind_flag; FUNC_PROTO: same vlen; ARRAY: same nelems): an anchor
    // like `int` has thousands of FUNC_PROTOs, and decoding each to compare costs time and garbage.
    const isProto = p.kind === KIND.FUNC_PROTO;
    const infoMask = isProto ? 0x9f00ffff : 0x9f000000;
    const wantInfo = (((p.kind & 0x1f) << 24) | (p.kflag ? 0x80000000 : 0) | (isProto ? p.params.length & 0xffff : 0)) & infoMask;
    const nelems = p.kind === KIND.ARRAY ? p.nelems : -1;
    for (let l = 0; l < indexes.length; l++) {
      const { first, next } = indexes[l]!;
      if (anchor >= first.length) continue;
      const level = levels[l]!;
      const startId = level.startId;
      const raw = level.rawTypes;
      for (let i = first[anchor]!; i >= 0; i = next[i]!) {
        if (raw !== undefined) {
          const q = raw.offs[i]!;
          const words = raw.words;
          if (words[q] !== 0 || (words[q + 1]! & infoMask) !== wantInfo) continue;
          if (nelems >= 0 && words[q + 5] !== nelems) continue;
        }
        const c = startId + i;
        if (this.sameResolved(p, chainType(chain, c))) return c;
      }
    }
    return undefined;
  }

  /** The chain id an anonymous proto's lookup starts from (resolving its targets); undefined if one is missing. */
  private anchorOf(p: BtfType): number | undefined {
    switch (p.kind) {
      case KIND.PTR: return this.resolveBehindPointer(p.type);
      case KIND.CONST: case KIND.VOLATILE: case KIND.RESTRICT: case KIND.TYPE_TAG:
        return this.resolve(p.type);
      case KIND.ARRAY: return this.resolve(p.elemType);
      case KIND.FUNC_PROTO: return this.resolve(p.returnType !== 0 || p.params.length === 0 ? p.returnType : p.params[0]!.type);
      default: return undefined;
    }
  }

  /** Exact equality of an anonymous proto (targets resolved to chain ids) and chain type `t`. */
  private sameResolved(p: BtfType, t: BtfType): boolean {
    if (p.kind !== t.kind || p.kflag !== t.kflag || t.nameOff !== 0) return false;
    switch (p.kind) {
      case KIND.PTR: return this.resolveBehindPointer(p.type) === (t as { type: number }).type;
      case KIND.CONST: case KIND.VOLATILE: case KIND.RESTRICT: case KIND.TYPE_TAG:
        return this.resolve(p.type) === (t as { type: number }).type;
      case KIND.ARRAY:
        return t.kind === KIND.ARRAY && p.nelems === t.nelems && this.resolve(p.elemType) === t.elemType && this.resolve(p.indexType) === t.indexType;
      case KIND.FUNC_PROTO: {
        if (t.kind !== KIND.FUNC_PROTO || p.params.length !== t.params.length) return false;
        if (this.resolve(p.returnType) !== t.returnType) return false;
        for (let i = 0; i < p.params.length; i++) {
          const a = p.params[i]!; const b = t.params[i]!;
          if (!this.nameEq(a.nameOff, b.nameOff) || this.resolve(a.type) !== b.type) return false;
        }
        return true;
      }
      default: return false;
    }
  }

  private shallowAggregate(p: BtfType & { members: { nameOff: number; offset: number; type: number }[] }, c: number): boolean {
    const t = chainType(this.chain!, c);
    if ((t.kind !== KIND.STRUCT && t.kind !== KIND.UNION) || t.kflag !== p.kflag || t.nameOff !== 0) return false;
    for (let i = 0; i < p.members.length; i++) {
      if (p.members[i]!.offset !== t.members[i]!.offset || !this.nameEq(p.members[i]!.nameOff, t.members[i]!.nameOff)) return false;
    }
    // Quick reject on members whose type is already matched to a different chain type (many
    // anonymous unions share a shape and differ only there, e.g. the tracepoint map unions).
    for (let i = 0; i < p.members.length; i++) {
      const mine = p.members[i]!.type;
      const other = t.members[i]!.type;
      if (mine === 0 || other === 0) { if (mine !== other) return false; continue; }
      const known = this.resolved[mine - 1];
      if (known !== undefined && known >= 0 && known !== other && !this.identicalInChain(known, other)) return false;
      // named member types must have the same name (graph equivalence compares names)
      const myName = this.graph.proto(mine).nameOff;
      const otherName = chainType(this.chain!, other).nameOff;
      if (myName !== 0 && otherName !== 0 && !this.nameEq(myName, otherName)) return false;
    }
    return true;
  }

  /** Per-level indexes, root first (each cached on its level, so a batch builds vmlinux's once). */
  private indexes(): LevelIndex[] {
    if (this.levelIndexes) return this.levelIndexes;
    this.levelIndexes = this.chain!.chain().map(anchorIndex);
    return this.levelIndexes;
  }

  /** What `ref` is as the target of a pointer: its own match, else a match that needs the pointer (`incomplete`). */
  private resolveBehindPointer(ref: ProtoRef): number | undefined {
    return this.resolve(ref) ?? (ref === 0 ? undefined : this.behindPointer[ref - 1]);
  }

  /** Graph equivalence of proto `ref` and chain type `c`; commits the hypothetical map on success. */
  private tryEquiv(ref: ProtoRef, c: number): boolean {
    this.hypot.clear();
    this.incomplete.clear();
    const ok = this.equiv(ref, c, 0);
    if (ok) {
      for (const [r, id] of this.hypot) {
        if (this.incomplete.has(r)) { this.behindPointer[r - 1] ??= id; continue; }
        if (this.resolved[r - 1] === undefined || this.resolved[r - 1]! < 0) this.resolved[r - 1] = id;
      }
    }
    this.hypot.clear();
    this.incomplete.clear();
    return ok;
  }

  private nameEq(protoOff: number, chainOff: number): boolean {
    if (protoOff === 0 || chainOff === 0) return protoOff === chainOff;
    let m = this.strMap.get(chainOff);
    if (m === undefined) {
      const s = chainStr(this.chain!, chainOff);
      m = this.graph.lookup(s) ?? -1;
      this.strMap.set(chainOff, m);
    }
    return m === protoOff;
  }

  /**
   * Two chain types that are copies of each other (pahole's older libbpf left a few duplicates of
   * vmlinux types in module BTF; vmlinux often has only a FWD where the module has the struct):
   * a proto matched to one matches the other too, as libbpf's dedup treats structurally
   * identical types as the same. Names compare by offset: the chain shares one string table.
   */
  private identicalInChain(a: number, b: number): boolean {
    const key = a < b ? `${a}:${b}` : `${b}:${a}`;
    const known = this.identical.get(key);
    if (known !== undefined) return known;
    const pairs = new Set<string>();
    const chain = this.chain!;
    const same = (x: number, y: number, depth: number): boolean => {
      if (x === y) return true;
      if (x === 0 || y === 0 || depth > 200) return false;
      const k = x < y ? `${x}:${y}` : `${y}:${x}`;
      if (pairs.has(k)) return true;
      pairs.add(k);
      const t = chainType(chain, x);
      const u = chainType(chain, y);
      // A FWD and the struct/union of its name are the same type seen with less information.
      if ((t.kind === KIND.FWD) !== (u.kind === KIND.FWD)) {
        const fwd = t.kind === KIND.FWD ? t : u;
        const real = t.kind === KIND.FWD ? u : t;
        return fwd.nameOff === real.nameOff && (real.kind === KIND.STRUCT || real.kind === KIND.UNION) && fwd.kflag === (real.kind === KIND.UNION);
      }
      if (t.kind !== u.kind || t.nameOff !== u.nameOff || t.kflag !== u.kflag) return false;
      switch (t.kind) {
        case KIND.INT: return u.kind === KIND.INT && t.size === u.size && t.encoding === u.encoding && t.bits === u.bits && t.bitOffset === u.bitOffset;
        case KIND.FLOAT: return u.kind === KIND.FLOAT && t.size === u.size;
        case KIND.FWD: return true;
        case KIND.ENUM: case KIND.ENUM64:
          return (u.kind === KIND.ENUM || u.kind === KIND.ENUM64) && t.size === u.size && t.values.length === u.values.length
            && t.values.every((v, i) => v.nameOff === u.values[i]!.nameOff && v.value === u.values[i]!.value);
        case KIND.PTR: case KIND.CONST: case KIND.VOLATILE: case KIND.RESTRICT: case KIND.TYPEDEF: case KIND.TYPE_TAG:
          return same(t.type, (u as { type: number }).type, depth + 1);
        case KIND.ARRAY:
          return u.kind === KIND.ARRAY && t.nelems === u.nelems && same(t.elemType, u.elemType, depth + 1) && same(t.indexType, u.indexType, depth + 1);
        case KIND.STRUCT: case KIND.UNION:
          if ((u.kind !== KIND.STRUCT && u.kind !== KIND.UNION) || t.size !== u.size || t.members.length !== u.members.length) return false;
          for (let i = 0; i < t.members.length; i++) {
            if (t.members[i]!.nameOff !== u.members[i]!.nameOff || t.members[i]!.offset !== u.members[i]!.offset) return false;
          }
          return t.members.every((m, i) => same(m.type, u.members[i]!.type, depth + 1));
        case KIND.FUNC_PROTO:
          if (u.kind !== KIND.FUNC_PROTO || t.params.length !== u.params.length || !same(t.returnType, u.returnType, depth + 1)) return false;
          return t.params.every((q, i) => q.nameOff === u.params[i]!.nameOff && same(q.type, u.params[i]!.type, depth + 1));
        default: return false;
      }
    };
    const result = same(a, b, 0);
    this.identical.set(key, result);
    return result;
  }

  /** `sized`: the type is used by value here (not behind a pointer), so a chain FWD cannot stand in for it. */
  private equiv(ref: ProtoRef, c: number, depth: number, sized = true): boolean {
    if (ref === 0 || c === 0) return ref === 0 && c === 0;
    const known = this.resolved[ref - 1];
    if (known !== undefined) {
      if (known >= 0) return known === c || this.identicalInChain(known, c);
      // "Missing as a root" is final for named types (every same-named chain type was tried);
      // not for FWDs and anonymous types, which can still match inside a larger graph.
      const k = this.graph.proto(ref);
      if (k.nameOff !== 0 && k.kind !== KIND.FWD) return false;
    }
    const h = this.hypot.get(ref);
    if (h !== undefined) {
      if (sized && this.incomplete.has(ref)) return false; // matched through a pointer only, used by value here
      return h === c || this.identicalInChain(h, c);
    }
    if (depth > 4000) return false;
    const chain = this.chain!;
    const p = this.graph.proto(ref);
    const t = chainType(chain, c);
    if (p.kind !== t.kind) {
      // A proto FWD matches a same-named chain struct/union of its kind.
      if (p.kind === KIND.FWD && (t.kind === KIND.STRUCT || t.kind === KIND.UNION)
        && p.kflag === (t.kind === KIND.UNION) && this.nameEq(p.nameOff, t.nameOff)) {
        this.hypot.set(ref, c);
        return true;
      }
      // A full struct where the chain only has a FWD (behind a pointer): the chain's graph is the same type seen
      // from a CU that lacked the definition (libbpf maps the FWD to the struct for everything
      // above the base). Matching here keeps the chain's outer types; a variable that needs the
      // struct itself still gets it, as a root with no same-named chain struct.
      if (!sized && t.kind === KIND.FWD && (p.kind === KIND.STRUCT || p.kind === KIND.UNION)
        && t.kflag === (p.kind === KIND.UNION) && this.nameEq(p.nameOff, t.nameOff)) {
        this.incomplete.add(ref);
        return true;
      }
      return false;
    }
    if (!this.nameEq(p.nameOff, t.nameOff) || p.kflag !== t.kflag) return false;
    this.hypot.set(ref, c);
    switch (p.kind) {
      case KIND.INT:
        return t.kind === KIND.INT && p.size === t.size && p.encoding === t.encoding && p.bits === t.bits && p.bitOffset === t.bitOffset;
      case KIND.FLOAT: return t.kind === KIND.FLOAT && p.size === t.size;
      case KIND.FWD: return true;
      case KIND.ENUM: {
        if (t.kind !== KIND.ENUM || p.size !== t.size) return false;
        if (p.values.length === 0) return true;
        if (p.values.length !== t.values.length) return false;
        for (let i = 0; i < p.values.length; i++) {
          const a = p.values[i]!; const b = t.values[i]!;
          if (a.value !== b.value || !this.nameEq(a.nameOff, b.nameOff)) return false;
        }
        return true;
      }
      case KIND.ENUM64: {
        if (t.kind !== KIND.ENUM64 || p.size !== t.size || p.values.length !== t.values.length) return false;
        for (let i = 0; i < p.values.length; i++) {
          const a = p.values[i]!; const b = t.values[i]!;
          if (a.value !== b.value || !this.nameEq(a.nameOff, b.nameOff)) return false;
        }
        return true;
      }
      case KIND.PTR: case KIND.CONST: case KIND.VOLATILE: case KIND.RESTRICT: case KIND.TYPEDEF: case KIND.TYPE_TAG: {
        if (!this.equiv(p.type, (t as { type: number }).type, depth + 1, p.kind === KIND.PTR ? false : sized)) return false;
        // A modifier over an incomplete match is incomplete too; the pointer above them is not.
        if (p.kind !== KIND.PTR && this.incomplete.has(p.type)) this.incomplete.add(ref);
        return true;
      }
      case KIND.ARRAY:
        if (t.kind !== KIND.ARRAY || p.nelems !== t.nelems) return false;
        return this.equiv(p.elemType, t.elemType, depth + 1) && this.equiv(p.indexType, t.indexType, depth + 1);
      case KIND.STRUCT: case KIND.UNION: {
        if ((t.kind !== KIND.STRUCT && t.kind !== KIND.UNION) || p.size !== t.size || p.members.length !== t.members.length) return false;
        const pm = p.members; const tm = t.members;
        for (let i = 0; i < pm.length; i++) {
          if (pm[i]!.offset !== tm[i]!.offset || !this.nameEq(pm[i]!.nameOff, tm[i]!.nameOff)) return false;
        }
        for (let i = 0; i < pm.length; i++) if (!this.equiv(pm[i]!.type, tm[i]!.type, depth + 1)) return false;
        return true;
      }
      case KIND.FUNC_PROTO: {
        if (t.kind !== KIND.FUNC_PROTO || p.params.length !== t.params.length) return false;
        for (let i = 0; i < p.params.length; i++) if (!this.nameEq(p.params[i]!.nameOff, t.params[i]!.nameOff)) return false;
        if (!this.equiv(p.returnType, t.returnType, depth + 1)) return false;
        for (let i = 0; i < p.params.length; i++) if (!this.equiv(p.params[i]!.type, t.params[i]!.type, depth + 1)) return false;
        return true;
      }
      default: return false;
    }
  }
}
