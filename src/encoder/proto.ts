/**
 * DWARF type DIEs -> "proto" BTF types: BtfType records whose type fields hold proto refs
 * (proto index + 1, 0 = void) and whose `nameOff` indexes this graph's own string list. Nothing
 * here knows about the base chain; match.ts maps protos onto chain ids and emit.ts writes the
 * rest as a new level.
 *
 * Conversion follows pahole 1.24 with the kernel's flags (--btf_gen_floats): floats -> FLOAT;
 * ints whose size is 0, not a power of 2 or > 16 bytes -> 4-byte `__SANITIZED_FAKE_INT__`;
 * struct bitfields set kind_flag; multi-dimensional arrays become one ARRAY of all elements with
 * index type `int`; enums wider than 4 bytes -> ENUM64, signedness in kind_flag; struct/union
 * declarations -> FWD; enum declarations -> empty 4-byte ENUM; DW_TAG_unspecified_type -> void;
 * DW_TAG_atomic_type is transparent (pahole 1.24 gives up on it).
 *
 * DIEs are converted through a work queue (no recursion, so deep type graphs cannot overflow the
 * stack): `ref(offset)` allocates a proto and queues the DIE; `drain()` decodes queued DIEs.
 * Bad DWARF (dangling references, unsupported tags) degrades to void with a warning naming the DIE.
 */
import { lastAtOrBelow, type Dwarf, type DieCursor, type Unit } from '../dwarf/dwarf.js';
import { DwarfError } from '../dwarf/errors.js';
import { DW_AT, DW_ATE, DW_TAG } from '../dwarf/constants.js';
import { INT_ENC, KIND, mapStrOffs, mapTypeIds } from '../btf/kinds.js';
import type { BtfType, Member, Param } from '../btf/types.js';
import type { EncoderWarning } from './errors.js';
import { IntMap, TupleMap } from './intmap.js';

/** A proto reference: index + 1; 0 is void. */
export type ProtoRef = number;

const SANITIZED_INT = '__SANITIZED_FAKE_INT__';

/**
 * DIE lookup over a known list of good units: Dwarf.dieAt re-reads the whole unit list, which
 * fails forever once one unit header is bad; the walk keeps the units before it usable.
 */
export class UnitIndex {
  private readonly dwarf: Dwarf;
  private readonly starts: readonly number[] | undefined;
  constructor(dwarf: Dwarf, starts?: readonly number[]) { this.dwarf = dwarf; this.starts = starts; }

  /** The unit whose header starts at `start`. */
  unitAt(start: number): Unit { return this.dwarf.unitByOffset(start); }

  dieAt(offset: number): DieCursor {
    const starts = this.starts;
    if (starts === undefined) return this.dwarf.dieAt(offset);
    const found = lastAtOrBelow(starts, offset);
    if (found < 0) throw this.dwarf.info.error('bad-reference', offset, `offset 0x${offset.toString(16)} is in no readable unit`);
    return this.dwarf.unitByOffset(starts[found]!).dieAt(offset);
  }
}

export class ProtoGraph {
  /** The DIEs; undefined after detachDwarf(). */
  private units: UnitIndex | undefined;
  /** protos[ref - 1]; type fields hold ProtoRefs, nameOff indexes `strings`. */
  readonly protos: BtfType[] = [];
  /** DIE offset the proto came from (-1 for synthetic ones). */
  readonly dieOf: number[] = [];
  readonly strings: string[] = [''];
  readonly warnings: EncoderWarning[] = [];
  private readonly stringIndex = new Map<string, number>([['', 0]]);
  /** DIE offset -> proto for DIEs outside the current unit (see enterUnit). */
  private readonly byDie = new IntMap();
  /**
   * The current unit's memo, dense: local[offset - localStart] = value + 2 (0 = not seen). Almost
   * every lookup is a reference inside the unit being decoded; a hash table over millions of
   * vmlinux DIE offsets misses the cache on each of them, this array stays warm.
   */
  private local = new Int32Array(0);
  /** Indexes of `local` set since the unit was entered (cleared on the next enterUnit: most units touch few). */
  private touched: number[] = [];
  private localStart = 0;
  private localEnd = 0;
  private localUnit: Unit | undefined;
  /** (tag, name, byte_size, decl_line, decl_column) of a named definition -> its proto. */
  private readonly byIdentity = new TupleMap();
  /** .debug_str offset -> index in `strings` (names repeat in every CU: decode each once). */
  private readonly byStrOffset = new IntMap();
  /** Per `strings` index: 0 not checked yet, 1 a valid C identifier, 2 not. */
  private readonly identState: number[] = [0];
  /** Scratch tuple for identity and hash-consing keys (filled and looked up with no recursion in between). */
  private key = new Int32Array(64);
  private readonly queue: number[] = [];
  private readonly cons = new TupleMap();
  /** Hash-cons anonymous types at first sight (on by default; off only to test canonicalize alone). */
  hashCons = true;
  private intRef: ProtoRef = 0;
  /** Reusable cursors per nesting level of ref() (see dieAtLevel) and the first free level. */
  private readonly cursors: DieCursor[] = [];
  private level = 0;

  constructor(dwarf: Dwarf, units?: UnitIndex) { this.units = units ?? new UnitIndex(dwarf); }

  /**
   * Drops every reference to the DWARF (call after the last ref() and drain()): what remains is
   * the protos, and the DWARF's memory can go back before the later phases run.
   */
  detachDwarf(): void {
    this.units = undefined;
    this.localUnit = undefined;
    this.localStart = this.localEnd = 0;
    this.local = new Int32Array(0);
    this.touched = [];
  }

  private get dies(): UnitIndex {
    if (this.units === undefined) throw new Error('ProtoGraph: DWARF already detached');
    return this.units;
  }

  get size(): number { return this.protos.length; }

  /**
   * Makes the unit starting at `start` the current one: its DIEs' memo becomes a dense array,
   * the previous unit's memo is dropped after its queued named types are decoded. A later
   * reference into a dropped unit decodes the DIE again; identity and hash-consing give it the
   * same proto (or canonicalize() merges it), so dropping costs time, never correctness.
   * Callers process one unit at a time for speed; without this call every DIE uses the hash table.
   */
  enterUnit(start: number): void {
    this.drain();
    this.localUnit = undefined;
    this.localStart = this.localEnd = 0;
    let unit: Unit;
    try {
      unit = this.dies.unitAt(start);
    } catch (e) {
      if (!(e instanceof DwarfError)) throw e;
      return; // a unit whose header is bad: its DIEs (if any are referenced) go through the hash table
    }
    this.localUnit = unit;
    this.localStart = unit.firstDieOffset;
    this.localEnd = unit.end;
    const n = unit.end - unit.firstDieOffset;
    for (const i of this.touched) this.local[i] = 0;
    this.touched = [];
    if (this.local.length < n) this.local = new Int32Array(Math.max(n, this.local.length * 2));
  }

  private memoGet(off: number): number | undefined {
    if (off >= this.localStart && off < this.localEnd) {
      const v = this.local[off - this.localStart]!;
      return v === 0 ? undefined : v - 2;
    }
    return this.byDie.get(off);
  }

  private memoSet(off: number, value: number): void {
    if (off >= this.localStart && off < this.localEnd) {
      const i = off - this.localStart;
      if (this.local[i] === 0) this.touched.push(i);
      this.local[i] = value + 2;
    } else {
      this.byDie.set(off, value);
    }
  }

  /**
   * A cursor at the DIE at `off`: inside the current unit, the pooled cursor of nesting level
   * `level` (vmlinux decodes millions of DIEs; one cursor each was most of the garbage), else a
   * new one. ref() and drain() claim a level for the DIE they decode, so its cursor stays valid
   * while nested ref()s use deeper levels; helpers that never call ref() use the first free
   * level (`this.level`), see dieAt().
   */
  private dieAtLevel(off: number, level: number): DieCursor {
    const u = this.localUnit;
    if (u === undefined || off < this.localStart || off >= this.localEnd) return this.dies.dieAt(off);
    const c = this.cursors[level];
    if (c === undefined || c.unit !== u) return (this.cursors[level] = u.dieAt(off));
    return c.moveTo(off);
  }

  /** A cursor for a helper that reads DIEs but never calls ref() while it holds the cursor. */
  private dieAt(off: number): DieCursor { return this.dieAtLevel(off, this.level); }
  proto(ref: ProtoRef): BtfType { return this.protos[ref - 1]!; }
  name(ref: ProtoRef): string { return this.strings[this.protos[ref - 1]!.nameOff]!; }

  intern(s: string): number {
    let i = this.stringIndex.get(s);
    if (i === undefined) { i = this.strings.length; this.strings.push(s); this.identState.push(0); this.stringIndex.set(s, i); }
    return i;
  }

  /** Index in `strings` of the DIE's DW_AT_name, -1 when it has none. */
  private nameAt(c: DieCursor): number {
    const off = c.strOffset(DW_AT.name);
    if (off >= 0) {
      const known = this.byStrOffset.get(off);
      if (known !== undefined) return known;
      const i = this.intern(c.str(DW_AT.name)!);
      this.byStrOffset.set(off, i);
      return i;
    }
    const s = c.str(DW_AT.name);
    return s === undefined ? -1 : this.intern(s);
  }

  /** ident() of the DIE's own name. */
  private identAt(c: DieCursor, required: boolean): number {
    const i = this.nameAt(c);
    if (i > 0) {
      let state = this.identState[i]!;
      if (state === 0) { state = IDENT.test(this.strings[i]!) ? 1 : 2; this.identState[i] = state; }
      if (state === 1) return i;
    }
    return this.ident(i < 0 ? undefined : this.strings[i], c.offset, required);
  }

  /**
   * A name the kernel checks as a C identifier (types other than INT/FLOAT, members, enumerators,
   * parameters). A name from corrupt DWARF is repaired (bad characters -> '_', at most 127
   * characters; a required but missing name -> '_') with a warning naming the DIE, so one bad
   * string never makes the whole output invalid.
   */
  private ident(name: string | undefined, dieOffset: number, required: boolean): number {
    const s = name ?? '';
    if (s === '' && !required) return 0;
    if (IDENT.test(s)) return this.intern(s);
    let fixed = s.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 127);
    if (fixed === '' || /^[0-9]/.test(fixed)) fixed = `_${fixed}`.slice(0, 127);
    this.warn(dieOffset, `invalid name ${JSON.stringify(s.slice(0, 40))} replaced by '${fixed}'`);
    return this.intern(fixed);
  }

  /** Index of `s` in `strings`, or undefined when no proto uses it. */
  lookup(s: string): number | undefined { return this.stringIndex.get(s); }

  /** The proto for the type DIE at `offset` (queued for decoding when new). */
  ref(offset: number | undefined): ProtoRef {
    if (offset === undefined) return 0;
    const known = this.memoGet(offset);
    if (known !== undefined) {
      if (known !== PENDING) return known;
      const r = this.alloc(placeholder(), offset);
      this.memoSet(offset, r);
      return r;
    }
    const level = this.level++;
    try {
      return this.refNew(offset, level);
    } finally {
      this.level = level;
    }
  }

  /** ref() of a DIE not seen yet, decoded with the cursor of nesting level `level`. */
  private refNew(offset: number, level: number): ProtoRef {
    // Follow transparent DIEs now so nothing ever points at them.
    let off = offset;
    for (let hops = 0; hops < 64; hops++) {
      let c: DieCursor;
      try {
        c = this.dieAtLevel(off, level);
      } catch (e) {
        if (!(e instanceof DwarfError)) throw e;
        this.warn(offset, `dangling type reference 0x${off.toString(16)}: ${e.message}; using void`);
        this.memoSet(offset, 0);
        return 0;
      }
      if (c.tag === DW_TAG.atomic_type || c.tag === DW_TAG.immutable_type) {
        const next = c.ref(DW_AT.type);
        if (next === undefined) { this.memoSet(offset, 0); return 0; }
        const k = this.memoGet(next);
        if (k !== undefined) { this.memoSet(offset, k); return k; }
        off = next;
        continue;
      }
      if (c.tag === DW_TAG.unspecified_type) { this.memoSet(offset, 0); return 0; }
      if (!CONVERTIBLE.has(c.tag)) {
        this.warn(off, `unsupported type tag 0x${c.tag.toString(16)}; using void`);
        this.memoSet(offset, 0);
        return 0;
      }
      // The same header type repeated in another CU: same tag, name, size and declaration
      // line/column means the same definition; reuse its proto without decoding the subtree again.
      let identity = false;
      if (IDENTIFIED.has(c.tag) && !c.flag(DW_AT.declaration)) {
        const name = this.nameAt(c);
        const line = c.udata(DW_AT.decl_line);
        // A typedef has no size; what it has is a target that one CU may know only as a
        // declaration (`typedef struct s s_t;` in a header, struct s defined in one .c file):
        // the two are different types for whoever needs the size, so that is in the key.
        const size = c.tag === DW_TAG.typedef ? this.typedefTargetDeclared(c) : c.udata(DW_AT.byte_size) ?? -1;
        const column = c.udata(DECL_COLUMN) ?? -1;
        if (name >= 0 && line !== undefined && isInt32(line) && isInt32(size) && isInt32(column)) {
          identity = true;
          const k = this.key;
          k[0] = c.tag; k[1] = name; k[2] = size; k[3] = line; k[4] = column;
          const same = this.byIdentity.get(k, 5);
          if (same !== undefined) {
            this.memoSet(off, same);
            if (off !== offset) this.memoSet(offset, same);
            return same;
          }
        }
      }
      if (!identity && this.hashCons) {
        const r = this.consed(c, off);
        if (off !== offset) this.memoSet(offset, r);
        return r;
      }
      const r = this.alloc(placeholder(), off);
      if (identity) this.byIdentity.set(this.key, 5, r);
      this.memoSet(off, r);
      if (off !== offset) this.memoSet(offset, r);
      this.queue.push(r);
      return r;
    }
    this.warn(offset, 'too many chained atomic/immutable modifiers; using void');
    this.memoSet(offset, 0);
    return 0;
  }

  /**
   * Anonymous types, base types and declarations are decoded at once and hash-consed on their
   * shallow content (child refs included): the pointer, const and array DIEs that every CU
   * repeats collapse to one proto each without waiting for canonicalize(). A cycle back into a
   * DIE being decoded (impossible in C without a named type, which is queued instead) gets a
   * plain proto.
   */
  private consed(c: DieCursor, off: number): ProtoRef {
    this.memoSet(off, PENDING);
    let t: BtfType | undefined;
    let n = -1;
    try {
      n = this.shallowKey(c);
      if (n < 0) t = this.decode(c);
    } catch (e) {
      if (!(e instanceof DwarfError)) throw e;
      this.warn(off, `cannot decode type DIE (${e.message}); using an empty struct`);
      t = { kind: KIND.STRUCT, nameOff: 0, kflag: false, size: 0, members: [] };
    }
    const already = this.memoGet(off)!;
    if (already !== PENDING) { this.protos[already - 1] = t ?? this.fromShallowKey(); return already; }
    if (t !== undefined) n = this.consKey(t);
    let r = n < 0 ? undefined : this.cons.get(this.key, n);
    if (r === undefined) { r = this.alloc(t ?? this.fromShallowKey(), off); if (n >= 0) this.cons.set(this.key, n, r); }
    this.memoSet(off, r);
    return r;
  }

  /**
   * The hash-consing key of a pointer/modifier or struct/union declaration DIE, written into
   * `this.key` straight from the DIE (the same key consKey gives the decoded record), so that
   * the ~1.5M of them vmlinux repeats allocate nothing when they are already known; -1 for
   * other DIEs.
   */
  private shallowKey(c: DieCursor): number {
    const tag = c.tag;
    const kind = SHALLOW_KINDS.get(tag);
    if (kind !== undefined) {
      const type = this.ref(c.ref(DW_AT.type));
      const k = this.key;
      k[0] = kind; k[1] = 0; k[2] = 0; k[3] = type;
      return 4;
    }
    if ((tag === DW_TAG.structure_type || tag === DW_TAG.class_type || tag === DW_TAG.union_type) && c.flag(DW_AT.declaration)) {
      const nameOff = this.identAt(c, true);
      const k = this.key;
      k[0] = KIND.FWD; k[1] = nameOff; k[2] = tag === DW_TAG.union_type ? 1 : 0;
      return 3;
    }
    return -1;
  }

  /** The record a shallowKey() describes. */
  private fromShallowKey(): BtfType {
    const k = this.key;
    if (k[0] === KIND.FWD) return { kind: KIND.FWD, nameOff: k[1]!, kflag: k[2] === 1 };
    return { kind: k[0] as typeof KIND.PTR, nameOff: 0, kflag: false, type: k[3]! };
  }

  /** Decode every queued DIE (and whatever they reference). */
  drain(): void {
    while (this.queue.length > 0) {
      const r = this.queue.pop()!;
      const off = this.dieOf[r - 1]!;
      const level = this.level++;
      try {
        this.protos[r - 1] = this.decode(this.dieAtLevel(off, level));
      } catch (e) {
        if (!(e instanceof DwarfError)) throw e;
        this.warn(off, `cannot decode type DIE (${e.message}); using an empty ${'struct'}`);
        // A decodable placeholder of the right shape keeps references valid: a 0-member struct.
        this.protos[r - 1] = { kind: KIND.STRUCT, nameOff: 0, kflag: false, size: 0, members: [] };
      } finally {
        this.level = level;
      }
    }
  }

  /** Size in bytes of the type a proto describes (after drain), following modifiers; undefined if unsized. */
  byteSize(ref: ProtoRef): number | undefined {
    // Iterative with a hop bound: corrupt DWARF can make an array (or a typedef) contain itself.
    let scale = 1;
    for (let hops = 0; hops < 64 && ref !== 0; hops++) {
      const t = this.protos[ref - 1]!;
      switch (t.kind) {
        case KIND.INT: case KIND.STRUCT: case KIND.UNION: case KIND.ENUM: case KIND.ENUM64: case KIND.FLOAT: case KIND.DATASEC:
          return t.size * scale;
        case KIND.PTR: return 8 * scale;
        case KIND.ARRAY: scale *= t.nelems; ref = t.elemType; continue;
        case KIND.TYPEDEF: case KIND.CONST: case KIND.VOLATILE: case KIND.RESTRICT: case KIND.TYPE_TAG:
          ref = t.type; continue;
        default: return undefined;
      }
    }
    return undefined;
  }

  /**
   * Drops struct/union members that do not fit their parent (corrupt DWARF: a bad
   * data_member_location or byte_size), with a warning naming the struct's DIE; the kernel
   * rejects the whole BTF otherwise. Call after drain().
   */
  repairMembers(): void {
    for (let r = 1; r <= this.protos.length; r++) {
      const t = this.protos[r - 1]!;
      if (t.kind !== KIND.STRUCT && t.kind !== KIND.UNION) continue;
      const limit = t.size * 8;
      let last = 0;
      const kept = t.members.filter((m) => {
        const bitOffset = t.kflag ? m.offset & 0xffffff : m.offset;
        const bitfield = t.kflag ? m.offset >>> 24 : 0;
        if (m.type === 0) return false; // a member of no type
        if (bitfield !== 0 && !this.isIntegral(m.type)) return false;
        const size = this.byteSize(m.type);
        if (bitfield === 0 && size === undefined) return false; // an incomplete type by value
        const bits = bitfield !== 0 ? bitfield : size! * 8;
        if (bitOffset + bits > limit) return false;
        if (t.kind === KIND.STRUCT && bitOffset < last) return false; // members go in offset order
        last = bitOffset;
        return true;
      });
      if (kept.length !== t.members.length) {
        this.warn(this.dieOf[r - 1]!, `${t.members.length - kept.length} malformed member(s) of a ${t.size}-byte ${t.kind === KIND.UNION ? 'union' : 'struct'} dropped`);
        t.members = kept;
      }
    }
  }

  /** An INT or ENUM (after modifiers and typedefs): what a bitfield may have as its type. */
  private isIntegral(ref: ProtoRef): boolean {
    for (let hops = 0; hops < 64 && ref !== 0; hops++) {
      const t = this.protos[ref - 1]!;
      if (t.kind === KIND.INT || t.kind === KIND.ENUM || t.kind === KIND.ENUM64) return true;
      if (t.kind !== KIND.TYPEDEF && t.kind !== KIND.CONST && t.kind !== KIND.VOLATILE && t.kind !== KIND.RESTRICT) return false;
      ref = t.type;
    }
    return false;
  }

  /**
   * Collapses protos that describe the same type (GCC repeats every header type in every CU that
   * includes it). Signature: the type's full content, where a pointer to a named struct/union
   * (or its FWD) or typedef contributes only that name; so a signature never needs the pointee's
   * graph and cycles (which in C always pass through such pointers) end there. Every proto's
   * refs are rewritten to the first proto with its signature; returns that representative per
   * proto (index ref-1) so callers can rewrite their own refs.
   */
  canonicalize(): Int32Array {
    this.resolveForwards();
    const n = this.protos.length;
    const sigOf = new Int32Array(n + 1).fill(-1);
    // Signatures are int tuples (kind code first, fixed fields, then a run per member/param/value).
    const sigIds = new TupleMap();
    const repOfSig: number[] = [];
    const rep = new Int32Array(n + 1);
    const inProgress = new Uint8Array(n + 1);
    const sig = (r: ProtoRef): number => {
      if (r === 0) return 0;
      const known = sigOf[r]!;
      if (known >= 0) return known;
      if (inProgress[r]) return -(r + 1); // a cycle not through a named pointee: keep it unique
      inProgress[r] = 1;
      const t = this.protos[r - 1]!;
      const k: number[] = [];
      switch (t.kind) {
        case KIND.INT: k.push(1, t.nameOff, t.size, t.encoding, t.bits, t.bitOffset); break;
        case KIND.FLOAT: k.push(2, t.nameOff, t.size); break;
        case KIND.FWD: k.push(3, t.nameOff, t.kflag ? 1 : 0); break;
        case KIND.ENUM: k.push(4, t.nameOff, t.size, t.kflag ? 1 : 0); for (const v of t.values) k.push(v.nameOff, v.value); break;
        case KIND.ENUM64:
          k.push(5, t.nameOff, t.size, t.kflag ? 1 : 0);
          for (const v of t.values) k.push(v.nameOff, Number(BigInt.asUintN(32, v.value)), Number(BigInt.asUintN(32, v.value >> 32n)));
          break;
        case KIND.STRUCT: case KIND.UNION:
          k.push(6, t.kind, t.nameOff, t.size, t.kflag ? 1 : 0);
          for (const m of t.members) k.push(m.nameOff, m.offset, sig(m.type));
          break;
        case KIND.PTR: k.push(7); pointee(t.type, k); break;
        case KIND.TYPEDEF: k.push(8, t.nameOff, sig(t.type)); break;
        case KIND.CONST: case KIND.VOLATILE: case KIND.RESTRICT: case KIND.TYPE_TAG: k.push(9, t.kind, sig(t.type)); break;
        case KIND.ARRAY: k.push(10, t.nelems, sig(t.elemType), sig(t.indexType)); break;
        case KIND.FUNC_PROTO: k.push(11, sig(t.returnType)); for (const q of t.params) k.push(q.nameOff, sig(q.type)); break;
        default: k.push(12, r);
      }
      inProgress[r] = 0;
      // A field past 32 bits (corrupt DWARF) would alias another key: such a proto stays unique.
      if (!k.every((v) => isInt32(v) || v === v >>> 0)) k.splice(0, k.length, 12, r);
      let id = sigIds.get(k, k.length);
      if (id === undefined) { id = sigIds.size + 1; sigIds.set(k, k.length, id); repOfSig[id] = r; } else if (t.kind === KIND.PTR) {
        // Pointers to a struct and to its FWD share a signature: keep the one that knows the struct.
        const cur = this.protos[repOfSig[id]! - 1] as { type: number };
        if (cur.type !== 0 && this.protos[cur.type - 1]!.kind === KIND.FWD && t.type !== 0 && this.protos[t.type - 1]!.kind !== KIND.FWD) repOfSig[id] = r;
      }
      sigOf[r] = id;
      return id;
    };
    /** A pointee as two ints: a named struct/union (or its FWD) or typedef by name only, else its signature. */
    const pointee = (r: ProtoRef, k: number[]): void => {
      if (r === 0) { k.push(0, 0); return; }
      const t = this.protos[r - 1]!;
      if (t.nameOff !== 0 && (t.kind === KIND.STRUCT || t.kind === KIND.UNION || t.kind === KIND.FWD)) {
        const isUnion = t.kind === KIND.UNION || (t.kind === KIND.FWD && t.kflag);
        k.push(isUnion ? 2 : 1, t.nameOff);
        return;
      }
      if (t.nameOff !== 0 && t.kind === KIND.TYPEDEF) { k.push(3, t.nameOff); return; }
      k.push(4, sig(r));
    };
    for (let r = 1; r <= n; r++) {
      const id = sig(r);
      rep[r] = id > 0 ? repOfSig[id]! : r;
    }
    for (let r = 1; r <= n; r++) if (rep[r] === r) mapTypeIds(this.protos[r - 1]!, (x) => (x === 0 ? 0 : rep[x]!));
    return rep;
  }

  /**
   * Writes the shallow content key of a decoded proto (names as string indexes, children as
   * refs, kind first) into `this.key`; returns its length, or -1 when a field does not fit 32
   * bits (corrupt DWARF: such a proto is never shared).
   */
  private consKey(t: BtfType): number {
    let k = this.key;
    let n = 0;
    let fits = true;
    const put = (v: number): void => {
      if (n === k.length) { const g = new Int32Array(k.length * 2); g.set(k); k = this.key = g; }
      if (!isInt32(v) && v !== v >>> 0) fits = false;
      k[n++] = v;
    };
    put(t.kind); put(t.nameOff); put(t.kflag ? 1 : 0);
    switch (t.kind) {
      case KIND.INT: put(t.size); put(t.encoding); put(t.bits); put(t.bitOffset); break;
      case KIND.FLOAT: put(t.size); break;
      case KIND.FWD: break;
      case KIND.ENUM: put(t.size); for (const v of t.values) { put(v.nameOff); put(v.value); } break;
      case KIND.ENUM64:
        put(t.size);
        for (const v of t.values) { put(v.nameOff); put(Number(BigInt.asUintN(32, v.value))); put(Number(BigInt.asUintN(32, v.value >> 32n))); }
        break;
      case KIND.STRUCT: case KIND.UNION: put(t.size); for (const m of t.members) { put(m.nameOff); put(m.offset); put(m.type); } break;
      case KIND.ARRAY: put(t.elemType); put(t.indexType); put(t.nelems); break;
      case KIND.FUNC_PROTO: put(t.returnType); for (const q of t.params) { put(q.nameOff); put(q.type); } break;
      case KIND.PTR: case KIND.TYPEDEF: case KIND.CONST: case KIND.VOLATILE: case KIND.RESTRICT: case KIND.TYPE_TAG:
      case KIND.FUNC: case KIND.VAR: case KIND.DECL_TAG:
        put(t.type); break;
      default: return -1;
    }
    return fits ? n : -1;
  }

  /**
   * Appends another graph's protos (a chunk decoded apart, see chunks.ts), its refs shifted past
   * ours and its names interned here; returns the shift for the caller's own refs into it. The
   * records are taken over, not copied.
   */
  absorb(other: { readonly protos: BtfType[]; readonly dieOf: readonly number[]; readonly strings: readonly string[] }): (r: ProtoRef) => ProtoRef {
    const base = this.protos.length;
    const names = other.strings.map((s) => this.intern(s));
    const shift = (r: ProtoRef): ProtoRef => (r === 0 ? 0 : r + base);
    other.protos.forEach((t, i) => {
      mapTypeIds(t, shift);
      mapStrOffs(t, (s) => names[s]!);
      this.protos.push(t);
      this.dieOf.push(other.dieOf[i]!);
    });
    return shift;
  }

  /**
   * libbpf's FWD resolution, on protos: references to a struct/union FWD go to the definition of
   * that name and kind when every definition of it has one shape (size, member names and
   * offsets). Without it, a header typedef that one CU knows as `typedef struct s s_t` over a
   * declaration and another over the definition would be emitted twice, and dedup would merge
   * them. Ambiguous names keep their FWDs.
   */
  private resolveForwards(): void {
    // name string index * 2 + (union ? 1 : 0): the FWD's name and kind, the definition's
    const keyOf = (nameOff: number, union: boolean): number => nameOff * 2 + (union ? 1 : 0);
    const forwards: ProtoRef[] = [];
    const wanted = new Set<number>();
    for (let r = 1; r <= this.protos.length; r++) {
      const t = this.protos[r - 1]!;
      if (t.kind === KIND.FWD && t.nameOff !== 0) { forwards.push(r); wanted.add(keyOf(t.nameOff, t.kflag)); }
    }
    if (forwards.length === 0) return;
    const def = new Map<number, ProtoRef>();
    const shapes = new Map<number, string>();
    for (let r = 1; r <= this.protos.length; r++) {
      const t = this.protos[r - 1]!;
      if ((t.kind !== KIND.STRUCT && t.kind !== KIND.UNION) || t.nameOff === 0) continue;
      const key = keyOf(t.nameOff, t.kind === KIND.UNION);
      if (!wanted.has(key)) continue;
      const shape = `${t.size}:${t.members.map((m) => `${m.nameOff}@${m.offset}`).join(',')}`;
      const known = shapes.get(key);
      if (known === undefined) { def.set(key, r); shapes.set(key, shape); } else if (known !== shape) def.set(key, 0);
    }
    const target = new Map<ProtoRef, ProtoRef>();
    for (const r of forwards) {
      const t = this.protos[r - 1]!;
      const d = def.get(keyOf(t.nameOff, t.kflag));
      if (d !== undefined && d !== 0) target.set(r, d);
    }
    if (target.size === 0) return;
    for (const t of this.protos) mapTypeIds(t, (x) => target.get(x) ?? x);
  }

  warn(dieOffset: number, message: string): void { this.warnings.push({ dieOffset, message }); }

  private alloc(t: BtfType, dieOffset: number): ProtoRef {
    this.protos.push(t);
    this.dieOf.push(dieOffset);
    return this.protos.length;
  }

  /** The synthetic 4-byte signed `int` pahole uses as every array's index type. */
  private indexType(): ProtoRef {
    if (this.intRef === 0) {
      this.intRef = this.alloc({ kind: KIND.INT, nameOff: this.intern('int'), kflag: false, size: 4, encoding: INT_ENC.SIGNED, bitOffset: 0, bits: 32 }, -1);
    }
    return this.intRef;
  }

  private decode(c: DieCursor): BtfType {
    const name = (): number => this.identAt(c, true);
    switch (c.tag) {
      case DW_TAG.base_type: return this.baseType(c);
      case DW_TAG.pointer_type: case DW_TAG.reference_type: case DW_TAG.rvalue_reference_type:
        return { kind: KIND.PTR, nameOff: 0, kflag: false, type: this.ref(c.ref(DW_AT.type)) };
      case DW_TAG.const_type: return { kind: KIND.CONST, nameOff: 0, kflag: false, type: this.ref(c.ref(DW_AT.type)) };
      case DW_TAG.volatile_type: return { kind: KIND.VOLATILE, nameOff: 0, kflag: false, type: this.ref(c.ref(DW_AT.type)) };
      case DW_TAG.restrict_type: return { kind: KIND.RESTRICT, nameOff: 0, kflag: false, type: this.ref(c.ref(DW_AT.type)) };
      case DW_TAG.typedef: return { kind: KIND.TYPEDEF, nameOff: name(), kflag: false, type: this.ref(c.ref(DW_AT.type)) };
      case DW_TAG.structure_type: case DW_TAG.class_type: case DW_TAG.union_type: return this.structType(c);
      case DW_TAG.enumeration_type: return this.enumType(c);
      case DW_TAG.array_type: return this.arrayType(c);
      case DW_TAG.subroutine_type: case DW_TAG.subprogram: return this.funcProto(c);
      default:
        this.warn(c.offset, `unsupported type tag 0x${c.tag.toString(16)}`);
        return { kind: KIND.STRUCT, nameOff: 0, kflag: false, size: 0, members: [] };
    }
  }

  private baseType(c: DieCursor): BtfType {
    const nameIdx = this.nameAt(c);
    let name = nameIdx < 0 ? '' : this.strings[nameIdx]!;
    const enc = c.udata(DW_AT.encoding) ?? 0;
    let size = c.udata(DW_AT.byte_size) ?? 0;
    const signed = enc === DW_ATE.signed || enc === DW_ATE.signed_char;
    const bool = enc === DW_ATE.boolean;
    if (!signed && !bool && (enc === DW_ATE.float || enc === DW_ATE.complex_float)) {
      return { kind: KIND.FLOAT, nameOff: this.intern(name), kflag: false, size };
    }
    if (size === 0 || (size & (size - 1)) !== 0 || size > 16) { name = SANITIZED_INT; size = 4; }
    return {
      kind: KIND.INT, nameOff: this.intern(name), kflag: false, size,
      encoding: signed ? INT_ENC.SIGNED : bool ? INT_ENC.BOOL : 0, bitOffset: 0, bits: size * 8,
    };
  }

  private structType(c: DieCursor): BtfType {
    const isUnion = c.tag === DW_TAG.union_type;
    const declaration = c.flag(DW_AT.declaration);
    const nameOff = this.identAt(c, declaration);
    if (declaration) return { kind: KIND.FWD, nameOff, kflag: isUnion };
    const size = c.udata(DW_AT.byte_size) ?? 0;
    const members: Member[] = [];
    const bitfields: number[] = [];
    if (c.hasChildren) {
      const k = c; // children follow the DIE: walk them with the same cursor (attributes are read)
      while (k.next()) {
        if (k.depth !== 1) { continue; }
        if (k.tag === DW_TAG.member) {
          const type = this.ref(k.ref(DW_AT.type));
          const bitSize = k.udata(DW_AT.bit_size) ?? 0;
          let bitOffset: number;
          const dbo = k.udata(DW_AT.data_bit_offset);
          if (dbo !== undefined) bitOffset = dbo;
          else {
            const loc = memberLocation(k) * 8;
            const legacy = k.udata(DW_AT.bit_offset);
            if (legacy !== undefined && bitSize > 0) {
              // DWARF 2-4 big-endian-style bit offset within the storage unit: convert to a little-endian bit position.
              const storage = k.udata(DW_AT.byte_size) ?? this.dieByteSize(k.ref(DW_AT.type)) ?? 0;
              bitOffset = loc + storage * 8 - legacy - bitSize;
            } else bitOffset = loc;
          }
          members.push({ nameOff: this.identAt(k, false), type, offset: bitOffset });
          bitfields.push(bitSize);
        }
        k.skipChildren();
      }
    }
    const kflag = bitfields.some((b) => b > 0);
    if (kflag) {
      for (let i = 0; i < members.length; i++) {
        const m = members[i]!;
        m.offset = ((bitfields[i]! << 24) | (m.offset & 0xffffff)) >>> 0;
      }
    }
    return { kind: isUnion ? KIND.UNION : KIND.STRUCT, nameOff, kflag, size, members };
  }

  /**
   * -2 when the typedef at `c` ends (through typedefs and modifiers) in a struct/union/enum
   * declaration, else -1 (what the identity key holds for a typedef's size).
   */
  private typedefTargetDeclared(c: DieCursor): number {
    let offset = c.ref(DW_AT.type);
    try {
      for (let hops = 0; hops < 16 && offset !== undefined; hops++) {
        const t = this.dieAt(offset);
        if (!MODIFIERS.has(t.tag)) return t.flag(DW_AT.declaration) ? -2 : -1;
        offset = t.ref(DW_AT.type);
      }
    } catch (e) {
      if (!(e instanceof DwarfError)) throw e;
    }
    return -1;
  }

  /** DW_AT_byte_size of a type DIE, following typedefs and modifiers (for DWARF 4 bitfields). */
  private dieByteSize(offset: number | undefined): number | undefined {
    for (let hops = 0; hops < 32 && offset !== undefined; hops++) {
      const c = this.dieAt(offset);
      const s = c.udata(DW_AT.byte_size);
      if (s !== undefined) return s;
      offset = c.ref(DW_AT.type);
    }
    return undefined;
  }

  private enumType(c: DieCursor): BtfType {
    const nameOff = this.identAt(c, false);
    if (c.flag(DW_AT.declaration)) return { kind: KIND.ENUM, nameOff, kflag: false, size: 4, values: [] };
    const size = c.udata(DW_AT.byte_size) ?? 4;
    const underlying = c.ref(DW_AT.type);
    const raw: { nameOff: number; value: bigint }[] = [];
    let negative = false;
    if (c.hasChildren) {
      const k = c; // children follow the DIE: walk them with the same cursor (attributes are read)
      while (k.next()) {
        if (k.depth === 1 && k.tag === DW_TAG.enumerator) {
          const v = k.constant(DW_AT.const_value) ?? 0n;
          if (v < 0n) negative = true;
          raw.push({ nameOff: this.identAt(k, true), value: v });
        }
        k.skipChildren();
      }
    }
    const signed = negative || this.underlyingSigned(underlying);
    if (size > 4) {
      return {
        kind: KIND.ENUM64, nameOff, kflag: signed, size,
        values: raw.map((v) => ({ nameOff: v.nameOff, value: signed ? BigInt.asIntN(64, v.value) : BigInt.asUintN(64, v.value) })),
      };
    }
    return {
      kind: KIND.ENUM, nameOff, kflag: signed, size,
      values: raw.map((v) => ({ nameOff: v.nameOff, value: Number(signed ? BigInt.asIntN(32, v.value) : BigInt.asUintN(32, v.value)) })),
    };
  }

  private underlyingSigned(offset: number | undefined): boolean {
    if (offset === undefined) return false;
    try {
      for (let hops = 0; hops < 16 && offset !== undefined; hops++) {
        const c = this.dieAt(offset);
        if (c.tag === DW_TAG.base_type) {
          const e = c.udata(DW_AT.encoding);
          return e === DW_ATE.signed || e === DW_ATE.signed_char;
        }
        offset = c.ref(DW_AT.type);
      }
    } catch (e) {
      if (!(e instanceof DwarfError)) throw e;
    }
    return false;
  }

  private arrayType(c: DieCursor): BtfType {
    const elemType = this.ref(c.ref(DW_AT.type));
    let nelems = 1;
    let dims = 0;
    if (c.hasChildren) {
      const k = c; // children follow the DIE: walk them with the same cursor (attributes are read)
      while (k.next()) {
        if (k.depth === 1 && (k.tag === DW_TAG.subrange_type || k.tag === DW_TAG.generic_subrange)) {
          dims++;
          nelems *= subrangeCount(k);
        }
        k.skipChildren();
      }
    }
    if (dims === 0) nelems = 0;
    if (!Number.isSafeInteger(nelems) || nelems > 0xffffffff) {
      this.warn(c.offset, `array of ${nelems} elements does not fit BTF; using 0`);
      nelems = 0;
    }
    return { kind: KIND.ARRAY, nameOff: 0, kflag: false, elemType, indexType: this.indexType(), nelems };
  }

  private funcProto(c: DieCursor): BtfType {
    const returnType = this.ref(c.ref(DW_AT.type));
    const params: Param[] = [];
    if (c.hasChildren) {
      const k = c; // children follow the DIE: walk them with the same cursor (attributes are read)
      while (k.next()) {
        if (k.depth === 1) {
          if (k.tag === DW_TAG.formal_parameter) {
            params.push({ nameOff: this.identAt(k, false), type: this.ref(k.ref(DW_AT.type)) });
          } else if (k.tag === DW_TAG.unspecified_parameters) {
            params.push({ nameOff: 0, type: 0 });
          }
        }
        k.skipChildren();
      }
    }
    // A void parameter is only valid as the trailing, unnamed varargs marker (corrupt DWARF can
    // give others): drop the rest.
    const fixed = params.filter((q, i) => q.type !== 0 || (i === params.length - 1 && q.nameOff === 0));
    if (fixed.length !== params.length) this.warn(c.offset, 'malformed parameter(s) dropped');
    return { kind: KIND.FUNC_PROTO, nameOff: 0, kflag: false, returnType, params: fixed };
  }
}

const PENDING = -1;
/** The kernel's btf_name_valid_identifier for type, member and enumerator names (no '.'), < KSYM_NAME_LEN. */
const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,126}$/;

function isInt32(v: number): boolean { return v === (v | 0); }

function placeholder(): BtfType {
  return { kind: KIND.INT, nameOff: 0, kflag: false, size: 0, encoding: 0, bitOffset: 0, bits: 0 };
}

/** Named definitions recognised across CUs by their declaration coordinates. */
const IDENTIFIED: ReadonlySet<number> = new Set<number>([
  DW_TAG.structure_type, DW_TAG.class_type, DW_TAG.union_type, DW_TAG.enumeration_type, DW_TAG.typedef,
]);
const DECL_COLUMN = 0x39;
/** Tags whose record is only a kind and a type (see shallowKey), as decode() converts them. */
const SHALLOW_KINDS: ReadonlyMap<number, number> = new Map<number, number>([
  [DW_TAG.pointer_type, KIND.PTR], [DW_TAG.reference_type, KIND.PTR], [DW_TAG.rvalue_reference_type, KIND.PTR],
  [DW_TAG.const_type, KIND.CONST], [DW_TAG.volatile_type, KIND.VOLATILE], [DW_TAG.restrict_type, KIND.RESTRICT],
]);
/** What a typedef's target may pass through before the type it names. */
const MODIFIERS: ReadonlySet<number> = new Set<number>([
  DW_TAG.typedef, DW_TAG.const_type, DW_TAG.volatile_type, DW_TAG.restrict_type, DW_TAG.atomic_type, DW_TAG.immutable_type,
]);

const CONVERTIBLE: ReadonlySet<number> = new Set<number>([
  DW_TAG.base_type, DW_TAG.pointer_type, DW_TAG.reference_type, DW_TAG.rvalue_reference_type, DW_TAG.const_type,
  DW_TAG.volatile_type, DW_TAG.restrict_type, DW_TAG.typedef, DW_TAG.structure_type, DW_TAG.class_type,
  DW_TAG.union_type, DW_TAG.enumeration_type, DW_TAG.array_type, DW_TAG.subroutine_type, DW_TAG.subprogram,
]);

/** DW_AT_data_member_location: a constant, or (DWARF 2) an expression `DW_OP_plus_uconst N`. */
function memberLocation(k: DieCursor): number {
  const v = k.udata(DW_AT.data_member_location);
  if (v !== undefined) return v;
  const b = k.block(DW_AT.data_member_location);
  if (b !== undefined && b.bytes[0] === 0x23) {
    let result = 0;
    let mul = 1;
    for (let i = 1; i < b.bytes.length; i++) {
      const byte = b.bytes[i]!;
      result += (byte & 0x7f) * mul;
      if ((byte & 0x80) === 0) break;
      mul *= 128;
    }
    return result;
  }
  return 0;
}

/** Element count of one dimension: DW_AT_count, or upper - lower + 1; 0 for flexible/unknown. */
function subrangeCount(k: DieCursor): number {
  const count = k.constant(DW_AT.count);
  if (count !== undefined) return Number(BigInt.asUintN(32, count));
  const upper = k.constant(DW_AT.upper_bound);
  if (upper === undefined) return 0;
  const lower = k.constant(DW_AT.lower_bound) ?? 0n;
  // GCC writes -1 (all ones in a dataN form) as the upper bound of zero-length arrays.
  if (upper === 0xffffffffn || upper === 0xffffffffffffffffn || upper < lower) return 0;
  return Number(upper - lower + 1n);
}
