/**
 * A BTF level: its own types and strings, on top of an optional base level (split BTF).
 * Ids and string offsets are absolute across the chain, so a lookup walks to the level that
 * owns the id/offset. A level is appendable (the builder and dedup add to the top level), but a
 * level must not change once another level is split on it: its successors' start offsets
 * would move.
 *
 * A parsed level keeps its type section as little-endian words and builds the `types` objects
 * only when something first asks for them: validation, writing and name lookups of an untouched
 * level work on the words (see `rawTypes`), which makes read + validate + write of vmlinux
 * several times cheaper than materialising 200k objects first.
 */
import { BtfError } from './errors.js';
import { KIND, KIND_NAME, decodeType, type Kind } from './kinds.js';
import { StringTable } from './strings.js';
import type { BtfType, StrOff, TypeId } from './types.js';

export interface BtfInit {
  base?: Btf | undefined;
  /** Where the bytes came from (file path), for messages. */
  source?: string | undefined;
  types?: BtfType[];
  /** This level's own strings; must start at the level's startStrOff. Default: empty table. */
  strings?: StringTable;
  /** The type section as parsed (records already checked by the parser); instead of `types`. */
  raw?: RawTypes;
}

/** A parsed type section: little-endian words and the word index of each record. */
export interface RawTypes {
  readonly words: Uint32Array;
  /** offs[i] = word index of type startId + i; offs.length = number of types. */
  readonly offs: Uint32Array;
}

/** Record `i` of a parsed type section, decoded (the parser checked every record: this cannot fail). */
export function decodeParsed(raw: RawTypes, i: number): BtfType {
  const p = raw.offs[i]!;
  const info = raw.words[p + 1]!;
  return decodeType(raw.words, p, ((info >>> 24) & 0x1f) as Exclude<Kind, 0>, (info & 0x80000000) !== 0, info & 0xffff) as BtfType;
}

export class Btf {
  readonly base: Btf | undefined;
  readonly source: string | undefined;
  /** First own type id: 1 standalone, base.nextId for split. */
  readonly startId: number;
  /** First own string offset: 0 standalone, base.startStrOff + base's own string length for split. */
  readonly startStrOff: number;
  readonly strings: StringTable;
  private nameIndex: Map<string, TypeId[]> | undefined;
  private materialized: BtfType[] | undefined;
  private readonly raw: RawTypes | undefined;

  constructor(init: BtfInit = {}) {
    this.base = init.base;
    this.source = init.source;
    this.startId = init.base ? init.base.nextId : 1;
    this.startStrOff = init.base ? init.base.strings.end : 0;
    if (init.raw !== undefined && init.types === undefined) this.raw = init.raw;
    else this.materialized = init.types ?? [];
    this.strings = init.strings ?? StringTable.empty(this.startStrOff);
    if (this.strings.start !== this.startStrOff) {
      throw new BtfError('bad-chain', `string table starts at ${this.strings.start}, level starts at ${this.startStrOff}`, { file: this.source });
    }
  }

  /**
   * Own types; types[i] has id startId + i. Append through addType so indexes stay right.
   * (Built from the parsed words on first access.)
   */
  get types(): BtfType[] {
    if (this.materialized === undefined) {
      const raw = this.raw!;
      const out = new Array<BtfType>(raw.offs.length);
      for (let i = 0; i < out.length; i++) out[i] = decodeParsed(raw, i);
      this.materialized = out;
    }
    return this.materialized;
  }

  /** Number of own types (without building them). */
  get count(): number { return this.materialized !== undefined ? this.materialized.length : this.raw!.offs.length; }

  /**
   * The parsed words while `types` has never been built (so nothing can have changed them);
   * undefined afterwards. Writers and validators use it as a fast path.
   */
  get rawTypes(): RawTypes | undefined { return this.materialized === undefined ? this.raw : undefined; }

  /** One past the last own id (and the first id of a level split on this one). */
  get nextId(): number { return this.startId + this.count; }
  /** Number of levels below this one (0 standalone). */
  get depth(): number { return this.base ? this.base.depth + 1 : 0; }

  /** Type `id` from any level; 'bad-type-id' when absent. Id 0 (void) is not a type: callers check. */
  type(id: TypeId): BtfType {
    const t = this.tryType(id);
    if (t === undefined) {
      throw new BtfError('bad-type-id', `type id ${id} does not exist (chain has ids 1..${this.nextId - 1})`, { file: this.source }, { id });
    }
    return t;
  }

  tryType(id: TypeId): BtfType | undefined {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    let level: Btf | undefined = this;
    while (level !== undefined) {
      if (id >= level.startId) return level.types[id - level.startId];
      level = level.base;
    }
    return undefined;
  }

  /** True for ids 1..nextId-1 (not void). */
  hasType(id: TypeId): boolean { return id >= 1 && id < this.nextId; }

  /** String at absolute `off` from any level; 'bad-string-offset' when outside every table. */
  str(off: StrOff): string {
    return this.levelOfStr(off).strings.get(off);
  }

  /** String at `off`, or undefined when no level has it. */
  tryStr(off: StrOff): string | undefined {
    if (off < 0 || off >= this.strings.end) return undefined;
    return this.str(off);
  }

  /** Name of type `id` ("" for void and anonymous types). */
  nameOf(id: TypeId): string {
    return id === 0 ? '' : this.str(this.type(id).nameOff);
  }

  /** Offset of `s` in the lowest level that has it (ancestors first, as libbpf reuses base strings). */
  findStr(s: string): StrOff | undefined {
    for (const level of this.chain()) {
      const off = level.strings.find(s);
      if (off !== undefined) return off;
    }
    return undefined;
  }

  /** Ids (ascending, across the chain) of the types named `name`, optionally of one kind. */
  findByName(name: string, kind?: Kind): TypeId[] {
    const out: TypeId[] = [];
    for (const level of this.chain()) {
      const ids = level.ownNameIndex().get(name);
      if (ids === undefined) continue;
      for (const id of ids) if (kind === undefined || level.kindOf(id) === kind) out.push(id);
    }
    return out;
  }

  /** Levels root first, this one last. */
  chain(): Btf[] {
    const out: Btf[] = [];
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    for (let l: Btf | undefined = this; l !== undefined; l = l.base) out.push(l);
    return out.reverse();
  }

  /** The level owning type `id`; 'bad-type-id' when none does. */
  levelOf(id: TypeId): Btf {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    for (let l: Btf | undefined = this; l !== undefined; l = l.base) {
      if (id >= l.startId) {
        if (id < l.nextId) return l;
        break;
      }
    }
    throw new BtfError('bad-type-id', `type id ${id} does not exist (chain has ids 1..${this.nextId - 1})`, { file: this.source }, { id });
  }

  /** The level owning string offset `off`; 'bad-string-offset' when none does. */
  levelOfStr(off: StrOff): Btf {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    for (let l: Btf | undefined = this; l !== undefined; l = l.base) {
      if (off >= l.startStrOff) {
        if (off < l.strings.end) return l;
        break;
      }
    }
    throw new BtfError('bad-string-offset', `string offset ${off} past the end of the chain's strings (${this.strings.end})`,
      { file: this.source, section: 'BTF strings', offset: off }, { off });
  }

  /** Kind of type `id` from any level, without building the types of parsed levels; undefined if absent. */
  kindOf(id: TypeId): Kind | undefined {
    const level = this.tryLevelOf(id);
    if (level === undefined) return undefined;
    const raw = level.rawTypes;
    if (raw !== undefined) return ((raw.words[raw.offs[id - level.startId]! + 1]! >>> 24) & 0x1f) as Kind;
    return level.types[id - level.startId]!.kind;
  }

  /** Name offset of type `id` from any level (same, without building objects); undefined if absent. */
  nameOffOf(id: TypeId): StrOff | undefined {
    const level = this.tryLevelOf(id);
    if (level === undefined) return undefined;
    const raw = level.rawTypes;
    if (raw !== undefined) return raw.words[raw.offs[id - level.startId]!]!;
    return level.types[id - level.startId]!.nameOff;
  }

  private tryLevelOf(id: TypeId): Btf | undefined {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    for (let l: Btf | undefined = this; l !== undefined; l = l.base) {
      if (id >= l.startId) return id < l.nextId ? l : undefined;
    }
    return undefined;
  }

  /** Appends `t` (absolute ids and offsets) to this level; returns its id. */
  addType(t: BtfType): TypeId {
    this.types.push(t);
    const id = this.nextId - 1;
    if (this.nameIndex !== undefined && t.nameOff !== 0) {
      const name = this.str(t.nameOff);
      const ids = this.nameIndex.get(name);
      if (ids) ids.push(id); else this.nameIndex.set(name, [id]);
    }
    return id;
  }

  /** Offset of `s`, reusing an ancestor's (or this level's) copy, else appending it here. */
  addStr(s: string): StrOff {
    if (this.base !== undefined) {
      const off = this.base.findStr(s);
      if (off !== undefined) return off;
    }
    return this.strings.add(s);
  }

  /** "KIND 'name'" for messages. */
  describe(id: TypeId): string {
    const t = this.tryType(id);
    if (t === undefined) return `[${id}] (missing)`;
    const name = t.nameOff === 0 ? '(anon)' : (this.tryStrSafe(t.nameOff) ?? '(invalid)');
    return `[${id}] ${KIND_NAME[t.kind]} '${name}'`;
  }

  private tryStrSafe(off: StrOff): string | undefined {
    try { return this.tryStr(off); } catch { return undefined; }
  }

  private ownNameIndex(): Map<string, TypeId[]> {
    if (this.nameIndex === undefined) {
      const idx = new Map<string, TypeId[]>();
      const raw = this.rawTypes;
      const n = this.count;
      for (let i = 0; i < n; i++) {
        const nameOff = raw !== undefined ? raw.words[raw.offs[i]!]! : this.types[i]!.nameOff;
        if (nameOff === 0) continue;
        let name: string;
        try { name = this.str(nameOff); } catch { continue; }
        const ids = idx.get(name);
        if (ids) ids.push(this.startId + i); else idx.set(name, [this.startId + i]);
      }
      this.nameIndex = idx;
    }
    return this.nameIndex;
  }
}

/** Kinds whose name identifies a type for lookups (used by findByName callers). */
export const NAMED_KINDS: ReadonlySet<Kind> = new Set<Kind>([
  KIND.INT, KIND.STRUCT, KIND.UNION, KIND.ENUM, KIND.ENUM64, KIND.FWD, KIND.TYPEDEF, KIND.FUNC, KIND.VAR, KIND.DATASEC, KIND.FLOAT,
]);
