/**
 * C declarations from BTF, in the manner of libbpf's btf_dump (what `bpftool btf dump ... format c`
 * prints): types in dependency order with forward declarations where a pointer allows them,
 * anonymous structs/unions/enums inline, duplicate names disambiguated with `___N`, explicit
 * padding and `__attribute__((packed))` where natural layout would differ (vmlinux: identical to
 * bpftool 7.1's output). Unlike bpftool, the variables (VAR) follow as `extern ... __ksym`
 * declarations grouped by DATASEC (see emitVars for the rules: weak, ambiguous names, anonymous
 * enum types), so the dump is a vmlinux.h for BPF programs that use kernel variables; and an
 * anonymous enum that only VARs reference is printed at top level (libbpf counts the VAR as a
 * reference and so never prints it, losing its enumerators). Also `cTypeName`: the C spelling of
 * one type for status output.
 */
import type { Btf } from './btf.js';
import { KIND, type Kind } from './kinds.js';
import type { BtfType, Enum64Type, EnumType, RefType, StructType, TypeId } from './types.js';

const QUALIFIER: Partial<Record<Kind, string>> = { [KIND.CONST]: 'const', [KIND.VOLATILE]: 'volatile', [KIND.RESTRICT]: 'restrict' };

/** Wraps a declarator in parentheses when a suffix ([], ()) would otherwise bind to a pointer. */
function wrap(inner: string): string {
  return inner.startsWith('*') ? `(${inner})` : inner;
}
/**
 * Base type + declarator, spaced as libbpf does: "char *p", "char (*p)[4]", "const char *(*)[4]",
 * and function declarators always after a space ("struct dentry * (*mount)(...)": the
 * FUNC_PROTO case already put that space at the front of `inner`).
 */
function join(base: string, inner: string): string {
  if (inner === '' || inner.startsWith(' ')) return `${base}${inner}`;
  return base.endsWith('*') ? `${base}${inner}` : `${base} ${inner}`;
}
const QUALIFIED = /^(const|volatile|restrict)\b/;

/** C spelling of type `id` ("struct foo *", "const char *[4]", "int (*)(int)"); "void" for 0. */
export function cTypeName(btf: Btf, id: TypeId): string {
  return new CWriter(btf, false).decl(id, '', 0);
}

/** The whole C dump of `btf`'s own level (and every ancestor type it needs). */
export interface DumpCOptions {
  /**
   * Every type of every level (what `bpftool btf dump file F -B BASE format c` prints), not only
   * this level's types and the ancestor types they need; variables of every level too.
   */
  wholeChain?: boolean;
}

export function dumpC(btf: Btf, opts: DumpCOptions = {}): string {
  return new CWriter(btf, true).dump(opts.wholeChain === true);
}

/** Recursion limits: valid BTF never comes close; corrupt BTF must not overflow the stack. */
const MAX_DEPTH = 256;
const MAX_NESTING = 64;
const ORDERING = 1;
const ORDERED = 2;
const EMITTING = 1;
const EMITTED = 2;

class CWriter {
  private readonly btf: Btf;
  private readonly dedupNames: boolean;
  private out: string[] = [];
  /** Alignment of structs/unions, by id (see alignOf()). */
  private readonly alignCache = new Map<TypeId, number>();
  /** See decl(). */
  private readonly branchPath = new Set<TypeId>();
  private readonly orderState: Uint8Array;
  private readonly emitState: Uint8Array;
  private readonly fwdEmitted: Uint8Array;
  private readonly referenced: Uint8Array;
  private readonly queue: TypeId[] = [];
  /** Resolved (possibly ___N-suffixed) names: tags (struct/union/enum/fwd) and identifiers (typedefs, enumerators). */
  private readonly tagName = new Map<TypeId, string>();
  private readonly identName = new Map<TypeId, string>();
  private readonly enumeratorName = new Map<string, string>();
  private readonly tagCount = new Map<string, number>();
  private readonly identCount = new Map<string, number>();
  private padCount = 0;

  constructor(btf: Btf, dedupNames: boolean) {
    this.btf = btf;
    this.dedupNames = dedupNames;
    const n = btf.nextId;
    this.orderState = new Uint8Array(n);
    this.emitState = new Uint8Array(n);
    this.fwdEmitted = new Uint8Array(n);
    this.referenced = new Uint8Array(n);
  }

  private t(id: TypeId): BtfType | undefined { return id === 0 ? undefined : this.btf.tryType(id); }
  private name(t: BtfType): string { return t.nameOff === 0 ? '' : this.btf.tryStr(t.nameOff) ?? ''; }

  dump(wholeChain: boolean): string {
    const btf = this.btf;
    for (const level of btf.chain()) {
      for (let i = 0; i < level.types.length; i++) {
        const t = level.types[i]!;
        const mark = (id: TypeId): void => { if (id > 0 && id < this.referenced.length) this.referenced[id] = 1; };
        switch (t.kind) {
          // Not VAR/DATASEC: variables are declared after every type, so an anonymous enum only
          // they use must be printed at top level (libbpf's referenced-ness would hide it).
          case KIND.PTR: case KIND.TYPEDEF: case KIND.VOLATILE: case KIND.CONST: case KIND.RESTRICT: case KIND.TYPE_TAG:
          case KIND.FUNC: case KIND.DECL_TAG:
            mark(t.type); break;
          case KIND.ARRAY: mark(t.elemType); mark(t.indexType); break;
          case KIND.STRUCT: case KIND.UNION: for (const m of t.members) mark(m.type); break;
          case KIND.FUNC_PROTO: mark(t.returnType); for (const p of t.params) mark(p.type); break;
          default: break;
        }
      }
    }
    const levels = wholeChain ? btf.chain() : [btf];
    const vars: { sec: string; id: TypeId }[] = [];
    const inSec = new Set<TypeId>();
    for (const level of levels) {
      for (const t of level.types) {
        if (t.kind === KIND.DATASEC) for (const v of t.vars) { vars.push({ sec: this.name(t), id: v.type }); inSec.add(v.type); }
      }
    }
    for (const level of levels) {
      for (let i = 0; i < level.types.length; i++) {
        const id = level.startId + i;
        if (level.types[i]!.kind === KIND.VAR && !inSec.has(id)) vars.push({ sec: '', id });
      }
    }
    this.out.push('#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n',
      '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n#endif\n\n');
    for (const level of levels) for (let i = 0; i < level.types.length; i++) this.dumpType(level.startId + i);
    for (const v of vars) {
      const vt = this.t(v.id);
      if (vt?.kind === KIND.VAR) this.dumpType(vt.type);
    }
    if (vars.length > 0) this.emitVars(vars);
    this.out.push('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n#endif /* __VMLINUX_H__ */\n');
    return this.out.join('');
  }

  /**
   * The variables as `extern T name __ksym;` (libbpf's typed ksyms), grouped by DATASEC. Rules:
   * - weak (`__weak`) when the variable may be absent at load time: it belongs to a module (a
   *   level above the chain's root, or a per-object DATASEC `<module>.<section>` of merged/kernel);
   * - a name carried by several VARs (statics of different CUs or objects, e.g. 106
   *   `_acpi_module_name`, `has_steal_clock` as bool and int) is declared only when exactly one
   *   of them is global (it wins; kallsyms cannot tell statics apart either); every other copy
   *   is printed commented out with the reason, never dropped silently;
   * - a VAR whose type is an anonymous enum (its enumerators are printed at top level once)
   *   is declared typeless (`extern const void name __ksym;`: its address);
   * - a name that is not a C identifier or clashes with a typedef/enumerator is commented out.
   */
  private emitVars(vars: { sec: string; id: TypeId }[]): void {
    const perObject = vars.every((v) => v.sec !== '' && objectSection(v.sec) !== undefined);
    const root = this.btf.chain()[0]!;
    const infos = vars.flatMap((v) => {
      const t = this.t(v.id);
      if (t?.kind !== KIND.VAR) return [];
      const object = perObject ? objectSection(v.sec)!.object : v.id >= root.nextId ? 'module' : undefined;
      return [{ ...v, t, name: this.name(t), object, global: t.linkage !== 0, weak: object !== undefined && object !== 'vmlinux' }];
    });
    const byName = new Map<string, typeof infos>();
    for (const v of infos) { const l = byName.get(v.name); if (l) l.push(v); else byName.set(v.name, [v]); }
    this.out.push('#ifndef __ksym\n#define __ksym __attribute__((section(".ksyms")))\n#endif\n',
      '#ifndef __weak\n#define __weak __attribute__((weak))\n#endif\n\n');
    const comment = (s: string): string => s.replace(/\*\//g, '* /');
    let sec: string | undefined;
    for (const v of infos) {
      if (v.sec !== sec) {
        sec = v.sec;
        this.out.push(sec === '' ? '/* variables outside any DATASEC */\n' : `/* DATASEC ${comment(sec)} */\n`);
      }
      const anonEnum = this.isAnonEnum(v.t.type);
      const decl = `extern ${anonEnum ? `const void ${v.name}` : this.decl(v.t.type, v.name, 0)} __ksym${v.weak ? ' __weak' : ''};`;
      const group = byName.get(v.name)!;
      const globals = group.filter((g) => g.global);
      let why: string | undefined;
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v.name) || this.identCount.has(v.name)) why = 'name clashes or is not a C identifier';
      else if (group.length > 1 && !(globals.length === 1 && globals[0] === v)) {
        why = globals.length === 1
          ? `ambiguous name: ${group.length} variables; declared: the global one${globals[0]!.object ? ` in ${globals[0]!.object}` : ''}`
          : `ambiguous name: ${group.length} variables, ${globals.length} global; none declared`;
      }
      const note = anonEnum ? ' /* anonymous enum type: enumerators above */' : '';
      this.out.push(why !== undefined ? `/* ${comment(decl)} (${why}) */\n` : `${decl}${note}\n`);
    }
    this.out.push('\n');
  }

  /** An anonymous enum, through modifiers and arrays. */
  private isAnonEnum(id: TypeId): boolean {
    for (let hops = 0; hops < MAX_DEPTH; hops++) {
      const t = this.t(id);
      if (t === undefined) return false;
      if (t.kind === KIND.ENUM || t.kind === KIND.ENUM64) return t.nameOff === 0;
      if (t.kind === KIND.CONST || t.kind === KIND.VOLATILE || t.kind === KIND.RESTRICT || t.kind === KIND.TYPE_TAG) { id = t.type; continue; }
      if (t.kind === KIND.ARRAY) { id = t.elemType; continue; }
      return false;
    }
    return false;
  }

  private dumpType(id: TypeId): void {
    if (id === 0) return;
    this.queue.length = 0;
    if (this.order(id, false) < 0) return;
    for (const q of [...this.queue]) this.emit(q, 0);
  }

  // ---- ordering (libbpf btf_dump_order_type): which named types go out, in what order ------

  /** Returns 1 for a "strong" (named, emitted) type, 0 for weak, -1 on a loop. */
  private order(id: TypeId, throughPtr: boolean, depth = 0): number {
    if (id === 0 || id >= this.orderState.length) return 0;
    if (depth > MAX_DEPTH) return -1; // a modifier loop (invalid BTF): give up on this root
    if (this.orderState[id] === ORDERED) return 1;
    const t = this.t(id);
    if (t === undefined) return 0;
    if (this.orderState[id] === ORDERING) {
      // A loop is fine only through a pointer to a named struct/union (a forward declaration breaks it).
      if ((t.kind === KIND.STRUCT || t.kind === KIND.UNION) && throughPtr && t.nameOff !== 0) return 0;
      // A prototype's declaration needs nothing of itself.
      if (t.kind === KIND.FUNC_PROTO) return 0;
      return -1;
    }
    switch (t.kind) {
      case KIND.INT: case KIND.FLOAT:
        this.orderState[id] = ORDERED;
        return 0;
      case KIND.PTR: {
        // Marked ORDERED afterwards, so a PTR reached again counts as strong (as in libbpf).
        const r = this.order(t.type, true, depth + 1);
        this.orderState[id] = ORDERED;
        return r;
      }
      case KIND.ARRAY:
        // An array embeds its elements: no longer behind a pointer.
        return this.order(t.elemType, false, depth + 1);
      case KIND.CONST: case KIND.VOLATILE: case KIND.RESTRICT: case KIND.TYPE_TAG:
        return this.order(t.type, throughPtr, depth + 1);
      case KIND.STRUCT: case KIND.UNION: {
        // A pointer needs only a forward declaration of a named struct.
        if (throughPtr && t.nameOff !== 0) return 0;
        this.orderState[id] = ORDERING;
        for (const m of t.members) if (this.order(m.type, false, depth + 1) < 0) return -1;
        if (t.nameOff !== 0) this.queue.push(id);
        this.orderState[id] = ORDERED;
        return 1;
      }
      case KIND.ENUM: case KIND.ENUM64: case KIND.FWD:
        if (t.nameOff !== 0 || this.referenced[id] === 0) this.queue.push(id);
        this.orderState[id] = ORDERED;
        return 1;
      case KIND.TYPEDEF: {
        const strong = this.order(t.type, throughPtr, depth + 1);
        if (strong < 0) return -1;
        // Like a struct: through a pointer, a typedef of something weak needs no definition yet.
        if (throughPtr && strong === 0) return 0;
        this.queue.push(id);
        this.orderState[id] = ORDERED;
        return 1;
      }
      case KIND.FUNC_PROTO: {
        // Strong when the return type or any parameter is (libbpf: needs a full definition first).
        // Marked while its parameters are visited: a prototype reaching itself through a pointer
        // (valid BTF, though C cannot spell it) branches per parameter and would take 2^depth steps.
        // Not memoised afterwards (the answer depends on throughPtr), as in libbpf.
        this.orderState[id] = ORDERING;
        let strong = this.order(t.returnType, throughPtr, depth + 1);
        for (let i = 0; i < t.params.length && strong >= 0; i++) {
          const r = this.order(t.params[i]!.type, throughPtr, depth + 1);
          if (r !== 0) strong = r;
        }
        this.orderState[id] = 0;
        return strong;
      }
      default:
        this.orderState[id] = ORDERED;
        return 0;
    }
  }

  // ---- emission (libbpf btf_dump_emit_type) ------------------------------------------------

  private emit(id: TypeId, contId: TypeId, depth = 0): void {
    if (id === 0 || id >= this.emitState.length || this.emitState[id] === EMITTED || depth > MAX_DEPTH) return;
    const t = this.t(id);
    if (t === undefined) return;
    const topLevel = contId === 0;
    if (this.emitState[id] === EMITTING) {
      if (this.fwdEmitted[id]) return;
      if ((t.kind === KIND.STRUCT || t.kind === KIND.UNION) && id !== contId && t.nameOff !== 0) {
        this.out.push(`${this.structKeyword(t)} ${this.tag(id)};\n\n`);
        this.fwdEmitted[id] = 1;
      } else if (t.kind === KIND.TYPEDEF && !this.blacklisted(t)) {
        this.out.push(`${this.typedefDef(id, t)};\n\n`);
        this.fwdEmitted[id] = 1;
      }
      return;
    }
    switch (t.kind) {
      case KIND.INT: case KIND.FLOAT:
        this.emitState[id] = EMITTED;
        return;
      case KIND.ENUM: case KIND.ENUM64:
        // An anonymous enum identical to one already printed (merged views keep a top-level copy
        // of the ones VARs use, for bpftool) would redefine its enumerators: printed once.
        if (topLevel && (t.nameOff !== 0 || this.firstAnonEnum(t))) this.out.push(`${this.enumDef(id, t, 0)};\n\n`);
        this.emitState[id] = EMITTED;
        return;
      case KIND.PTR: case KIND.CONST: case KIND.VOLATILE: case KIND.RESTRICT: case KIND.TYPE_TAG:
        this.emit(t.type, contId, depth + 1);
        return;
      case KIND.ARRAY:
        this.emit(t.elemType, contId, depth + 1);
        return;
      case KIND.FWD:
        this.out.push(`${t.kflag ? 'union' : 'struct'} ${this.tag(id)};\n\n`);
        this.emitState[id] = EMITTED;
        return;
      case KIND.TYPEDEF:
        this.emitState[id] = EMITTING;
        this.emit(t.type, id, depth + 1);
        if (!this.fwdEmitted[id] && !this.blacklisted(t)) this.out.push(`${this.typedefDef(id, t)};\n\n`);
        this.emitState[id] = EMITTED;
        return;
      case KIND.STRUCT: case KIND.UNION:
        this.emitState[id] = EMITTING;
        if (topLevel || t.nameOff === 0) {
          const cont = t.nameOff === 0 ? contId : id;
          for (const m of t.members) this.emit(m.type, cont, depth + 1);
        } else if (!this.fwdEmitted[id] && id !== contId) {
          this.out.push(`${this.structKeyword(t)} ${this.tag(id)};\n\n`);
          this.fwdEmitted[id] = 1;
        }
        if (topLevel) {
          this.out.push(`${this.structDef(id, t, 0)};\n\n`);
          this.emitState[id] = EMITTED;
        } else {
          this.emitState[id] = 0;
        }
        return;
      case KIND.FUNC_PROTO:
        // EMITTING while its parameters go out, so a prototype reaching itself stops (see order()).
        this.emitState[id] = EMITTING;
        this.emit(t.returnType, contId, depth + 1);
        for (const p of t.params) this.emit(p.type, contId, depth + 1);
        this.emitState[id] = 0;
        return;
      default:
        this.emitState[id] = EMITTED;
        return;
    }
  }

  private readonly anonEnums = new Set<string>();
  private firstAnonEnum(t: EnumType | Enum64Type): boolean {
    const key = `${t.kind}:${t.size}:${t.kflag}:${t.values.map((v) => `${this.btf.tryStr(v.nameOff) ?? ''}=${v.value}`).join(',')}`;
    if (this.anonEnums.has(key)) return false;
    this.anonEnums.add(key);
    return true;
  }

  private blacklisted(t: BtfType): boolean { return this.name(t) === '__builtin_va_list'; }
  private structKeyword(t: BtfType): string { return t.kind === KIND.UNION ? 'union' : 'struct'; }

  // ---- names -------------------------------------------------------------------------------

  private uniq(counts: Map<string, number>, name: string): string {
    const n = (counts.get(name) ?? 0) + 1;
    counts.set(name, n);
    return n > 1 ? `${name}___${n}` : name;
  }

  /** Struct/union/enum/fwd tag, deduplicated across the dump (libbpf's type_names). */
  private tag(id: TypeId): string {
    const t = this.t(id);
    if (t === undefined) return '';
    const base = this.name(t);
    if (!this.dedupNames || base === '') return base;
    let n = this.tagName.get(id);
    if (n === undefined) { n = this.uniq(this.tagCount, base); this.tagName.set(id, n); }
    return n;
  }

  /** Typedef name (libbpf's ident_names, shared with enumerators). */
  private ident(id: TypeId): string {
    const t = this.t(id);
    if (t === undefined) return '';
    const base = this.name(t);
    if (!this.dedupNames || base === '') return base;
    let n = this.identName.get(id);
    if (n === undefined) { n = this.uniq(this.identCount, base); this.identName.set(id, n); }
    return n;
  }

  // ---- declarations ------------------------------------------------------------------------

  /** `T inner` in C declarator syntax; anonymous structs/unions/enums are defined inline at `lvl`. */
  decl(id: TypeId, inner: string, lvl: number, depth = 0): string {
    if (lvl > MAX_NESTING || depth > MAX_DEPTH) return join('void /* nesting too deep or looping */', inner);
    // FUNC_PROTOs and anonymous structs/unions being spelled on this path. They branch (parameters,
    // members), so one that reaches itself (C needs a typedef or a named struct in between, where
    // we stop at the name) would cost 2^MAX_DEPTH steps, not MAX_DEPTH; cut the loop where it closes.
    let entered: TypeId[] | undefined;
    try {
      return this.declSteps(id, inner, lvl, depth, (branching) => {
        if (this.branchPath.has(branching)) return false;
        this.branchPath.add(branching);
        (entered ??= []).push(branching);
        return true;
      });
    } finally {
      if (entered !== undefined) for (const p of entered) this.branchPath.delete(p);
    }
  }

  private declSteps(id: TypeId, inner: string, lvl: number, depth: number, enter: (id: TypeId) => boolean): string {
    for (let guard = 0; guard < 256; guard++, depth++) {
      const t = this.t(id);
      if (t === undefined) return join(id === 0 ? 'void' : `void /* missing type ${id} */`, inner);
      switch (t.kind) {
        case KIND.INT: case KIND.FLOAT:
          return join(this.name(t) || 'int', inner);
        case KIND.STRUCT: case KIND.UNION:
          if (t.nameOff === 0) {
            if (!this.dedupNames) return join(`${this.structKeyword(t)} {...}`, inner);
            if (!enter(id)) return join('void /* looping anonymous type */', inner);
            return join(this.structDef(id, t, lvl), inner);
          }
          return join(`${this.structKeyword(t)} ${this.tag(id)}`, inner);
        case KIND.ENUM: case KIND.ENUM64:
          if (t.nameOff === 0) return join(this.dedupNames ? this.enumDef(id, t, lvl) : 'enum {...}', inner);
          return join(`enum ${this.tag(id)}`, inner);
        case KIND.FWD:
          return join(`${t.kflag ? 'union' : 'struct'} ${this.tag(id)}`, inner);
        case KIND.TYPEDEF:
          return join(this.ident(id), inner);
        case KIND.TYPE_TAG:
          id = t.type;
          continue;
        case KIND.PTR:
          inner = QUALIFIED.test(inner) ? `* ${inner}` : `*${inner}`;
          id = t.type;
          continue;
        case KIND.CONST: case KIND.VOLATILE: case KIND.RESTRICT: {
          const q = QUALIFIER[t.kind]!;
          const target = this.t(t.type);
          if (target?.kind === KIND.PTR) { inner = inner === '' ? q : `${q} ${inner}`; id = t.type; continue; }
          if (target?.kind === KIND.FUNC_PROTO) { id = t.type; continue; } // qualified function types mean nothing in C
          // Qualifiers on an array type itself are dropped (GCC repeats the element's): as libbpf does.
          if (target?.kind === KIND.ARRAY) { id = t.type; continue; }
          return `${q} ${this.decl(t.type, inner, lvl, depth + 1)}`;
        }
        case KIND.ARRAY:
          inner = `${wrap(inner)}[${t.nelems}]`;
          id = t.elemType;
          continue;
        case KIND.FUNC_PROTO: {
          if (!enter(id)) return join('void /* looping prototype */', inner);
          const params = t.params.map((p, i) => (p.type === 0 && i === t.params.length - 1)
            ? '...'
            : this.decl(p.type, this.dedupNames && p.nameOff !== 0 ? this.btf.tryStr(p.nameOff) ?? '' : '', lvl, depth + 1));
          const list = `(${params.length === 0 ? 'void' : params.join(', ')})`;
          inner = inner.startsWith('*') || inner.startsWith(' ') ? ` (${inner.trimStart()})${list}` : `${inner}${list}`;
          id = t.returnType;
          continue;
        }
        case KIND.FUNC:
          id = t.type;
          continue;
        case KIND.VAR:
          id = t.type;
          continue;
        case KIND.DATASEC: case KIND.DECL_TAG:
          return join('void', inner);
      }
    }
    return join('void /* type chain too long */', inner);
  }

  private typedefDef(id: TypeId, t: RefType): string {
    return `typedef ${this.decl(t.type, this.ident(id), 0)}`;
  }

  private enumDef(id: TypeId, t: EnumType | Enum64Type, lvl: number): string {
    const head = t.nameOff === 0 ? 'enum' : `enum ${this.tag(id)}`;
    if (t.values.length === 0) return head;
    const ind = '\t'.repeat(lvl + 1);
    const values: readonly { nameOff: number; value: number | bigint }[] = t.values;
    const lines = values.map((v) => {
      const raw = this.btf.tryStr(v.nameOff) ?? '';
      let name = this.enumeratorName.get(`${id}:${v.nameOff}`);
      if (name === undefined) { name = this.dedupNames ? this.uniq(this.identCount, raw) : raw; this.enumeratorName.set(`${id}:${v.nameOff}`, name); }
      let val: string;
      if (typeof v.value === 'bigint') val = t.kflag ? `${BigInt.asIntN(64, v.value)}LL` : `${BigInt.asUintN(64, v.value)}ULL`;
      else val = t.kflag ? String((v.value as number) | 0) : String((v.value as number) >>> 0);
      return `${ind}${name} = ${val},\n`;
    });
    return `${head} {\n${lines.join('')}${'\t'.repeat(lvl)}}`;
  }

  // ---- struct layout -----------------------------------------------------------------------

  /** Natural alignment in bytes (libbpf btf__align_of). */
  private alignOf(id: TypeId, depth = 0): number {
    const t = this.t(id);
    if (t === undefined || depth > 64) return 1;
    switch (t.kind) {
      case KIND.INT: case KIND.ENUM: case KIND.ENUM64: case KIND.FLOAT:
        return Math.max(1, Math.min(t.size, 8));
      case KIND.PTR: return 8;
      case KIND.TYPEDEF: case KIND.VOLATILE: case KIND.CONST: case KIND.RESTRICT: case KIND.TYPE_TAG:
        return this.alignOf(t.type, depth + 1);
      case KIND.ARRAY: return this.alignOf(t.elemType, depth + 1);
      case KIND.STRUCT: case KIND.UNION: {
        // Memoised: members and isPacked both ask again, which is 3^depth steps for a struct that
        // contains itself (invalid BTF; it counts as 1 while in progress) and repeated work otherwise.
        const known = this.alignCache.get(id);
        if (known !== undefined) return known;
        this.alignCache.set(id, 1);
        let a = 1;
        if (!this.isPacked(id, t, depth)) for (const m of t.members) a = Math.max(a, this.alignOf(m.type, depth + 1));
        this.alignCache.set(id, a);
        return a;
      }
      default: return 1;
    }
  }

  private isPacked(_id: TypeId, t: StructType, depth = 0): boolean {
    let maxAlign = 1;
    for (const m of t.members) {
      const bitOff = t.kflag ? m.offset & 0xffffff : m.offset;
      const bitSize = t.kflag ? m.offset >>> 24 : 0;
      const a = this.alignOf(m.type, depth + 1);
      maxAlign = Math.max(maxAlign, a);
      if (bitSize === 0 && bitOff % (a * 8) !== 0) return true;
    }
    return t.size % maxAlign !== 0;
  }

  private sizeOf(id: TypeId, depth = 0): number {
    const t = this.t(id);
    if (t === undefined || depth > 64) return 0;
    switch (t.kind) {
      case KIND.INT: case KIND.ENUM: case KIND.ENUM64: case KIND.FLOAT: case KIND.STRUCT: case KIND.UNION: case KIND.DATASEC:
        return t.size;
      case KIND.PTR: return 8;
      case KIND.TYPEDEF: case KIND.VOLATILE: case KIND.CONST: case KIND.RESTRICT: case KIND.TYPE_TAG:
        return this.sizeOf(t.type, depth + 1);
      case KIND.ARRAY: return t.nelems * this.sizeOf(t.elemType, depth + 1);
      default: return 0;
    }
  }

  /**
   * Explicit padding from bit `cur` to bit `next` as libbpf's btf_dump_emit_bit_padding decides
   * it: rely on natural alignment where the compiler would land on `next` anyway, otherwise
   * unnamed bitfields (`long: 64;`, a `<type>: 0;` alignment mark where needed, the smallest type
   * for the remainder). Gaps beyond 64 KiB (only corrupt BTF has them) become one char array.
   */
  private padding(cur: number, next: number, nextAlign: number, inBitfield: boolean, ind: string): string {
    if (cur >= next) return '';
    if (next - cur > 8 * 65536) {
      const bytes = Math.floor((next - cur) / 8);
      return `${ind}char ___pad${this.padCount++}[${bytes}];\n${this.padding(cur + bytes * 8, next, nextAlign, false, ind)}`;
    }
    const pads: readonly [string, number][] = [['long', 64], ['int', 32], ['short', 16], ['char', 8]];
    let out = '';
    let padType = 'char';
    let padBits = 8;
    let newOff = 0;
    for (const [name, bits] of pads) {
      padType = name; padBits = bits;
      newOff = Math.ceil(cur / bits) * bits;
      if (newOff <= next) break;
    }
    if (newOff > cur && newOff <= next) {
      if (inBitfield
        || (newOff === next && Math.ceil(cur / (nextAlign * 8)) * nextAlign * 8 !== newOff)
        || (newOff !== next && next - newOff <= newOff - cur)) {
        out += `${ind}${padType}: ${inBitfield ? newOff - cur : 0};\n`;
      }
      cur = newOff;
    }
    while (cur !== next) {
      const bits = Math.min(next - cur, padBits);
      if (bits === padBits) { out += `${ind}${padType}: ${padBits};\n`; cur += bits; continue; }
      for (let i = pads.length - 1; i >= 0; i--) {
        const [name, width] = pads[i]!;
        if (width < bits) continue;
        out += `${ind}${name}: ${bits};\n`;
        cur += bits;
        break;
      }
    }
    return out;
  }

  private structDef(id: TypeId, t: StructType, lvl: number): string {
    const head = t.nameOff === 0 ? this.structKeyword(t) : `${this.structKeyword(t)} ${this.tag(id)}`;
    const ind = '\t'.repeat(lvl + 1);
    const isStruct = t.kind === KIND.STRUCT;
    const packed = isStruct && this.isPacked(id, t);
    let body = '';
    let off = 0;
    let prevBitfield = false;
    for (const m of t.members) {
      const mOff = t.kflag ? m.offset & 0xffffff : m.offset;
      const mBits = t.kflag ? m.offset >>> 24 : 0;
      const mAlign = packed ? 1 : this.alignOf(m.type);
      body += this.padding(off, mOff, mAlign, prevBitfield && mBits !== 0, ind);
      const mname = this.btf.tryStr(m.nameOff) ?? '';
      body += `${ind}${this.decl(m.type, mname, lvl + 1)}${mBits !== 0 ? `: ${mBits}` : ''};\n`;
      if (mBits !== 0) { off = mOff + mBits; prevBitfield = true; } else { off = mOff + this.sizeOf(m.type) * 8; prevBitfield = false; }
    }
    if (isStruct) body += this.padding(off, t.size * 8, this.alignOf(id), false, ind);
    if (t.members.length === 0 && t.size === 0) return `${head} {}`;
    return `${head} {\n${body}${'\t'.repeat(lvl)}}${packed ? ' __attribute__((packed))' : ''}`;
  }

}

/**
 * merged/kernel names each DATASEC `<object>.<section>` (kernel object names have no dots; the
 * section keeps its own, e.g. `kvm..data`, `vmlinux..data..percpu`, `kvm.__param`): the object
 * and section of such a name, or undefined for a plain section name.
 */
export function objectSection(datasec: string): { object: string; section: string } | undefined {
  const m = /^([A-Za-z0-9_]+)\.(.+)$/.exec(datasec);
  return m === null ? undefined : { object: m[1]!, section: m[2]! };
}
