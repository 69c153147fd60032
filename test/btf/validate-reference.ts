/**
 * TEST ORACLE, deliberately a second implementation: the first, object-based validator (it walks
 * BtfType objects), kept so that the word-based production validator in src/btf/validate.ts (which
 * walks raw u32 words and never builds objects) can be checked against it, problem for problem,
 * on broken cases, fuzzed records and real files (test/btf/validate-diff.test.ts). Two walks over
 * two representations catch decoding slips in either. The rule table and problem shape (and the
 * string classifier of strings.ts) come from src: only the checking logic is duplicated, on
 * purpose. Not used by the product.
 *
 * Validates one BTF level with the kernel's rules (kernel/bpf/btf.c of Linux 6.1: the per-kind
 * check_meta, resolve and check_member passes, btf_func_check, btf_check_type_tags) and
 * libbpf's (every referenced id and string offset exists, FUNC -> FUNC_PROTO). Ancestor levels
 * are trusted. Every problem is reported, each naming the type id, kind and rule.
 */
import type { Btf } from '../../src/btf/btf.js';
import { BTF_MAX_NAME_OFFSET, BTF_MAX_TYPE, KIND, KIND_NAME, type Kind } from '../../src/btf/kinds.js';
import { NAME_DOTTED, NAME_EMPTY, NAME_IDENT } from '../../src/btf/strings.js';
import type { BtfType, DatasecType, Member, StrOff, StructType, TypeId } from '../../src/btf/types.js';
// The contract (rule names, problem shape) is shared; only the checking logic is independent.
import type { BtfProblem, ValidationRule } from '../../src/btf/validate.js';

/** The kernel's BTF_MAX_SIZE and MAX_RESOLVE_DEPTH. */
const BTF_MAX_SIZE = 16 * 1024 * 1024;
const MAX_RESOLVE_DEPTH = 32;
const MAX_MODIFIER_CHAIN = 32;

const NOSIZE = -1;
const INVALID = -2;

const isModifier = (k: Kind): boolean =>
  k === KIND.TYPEDEF || k === KIND.VOLATILE || k === KIND.CONST || k === KIND.RESTRICT || k === KIND.TYPE_TAG;
/** Kinds that may only be the source of a reference (kernel btf_type_is_resolve_source_only). */
const isSourceOnly = (k: Kind): boolean => k === KIND.VAR || k === KIND.DATASEC || k === KIND.DECL_TAG;
const needsResolve = (k: Kind | undefined): boolean => k !== undefined && (isModifier(k) || k === KIND.PTR || k === KIND.STRUCT || k === KIND.UNION
  || k === KIND.ARRAY || k === KIND.VAR || k === KIND.FUNC || k === KIND.DATASEC || k === KIND.DECL_TAG);
const t0kind = (btf: Btf, id: TypeId): Kind | undefined => btf.tryType(id)?.kind;

const lbl = (what: string, idx: number): string => (idx >= 0 ? `${what} #${idx}` : what);

export function validateBtf(btf: Btf): BtfProblem[] {
  return new Validator(btf).run();
}

/** Resolved sizes of trusted base levels, shared by every validation of a level on that base
 * (validating 1121 modules on vmlinux resolves vmlinux types once, not 1121 times). */
interface ResolveCache { size: Float64Array; state: Uint8Array }
const baseCaches = new WeakMap<Btf, ResolveCache>();

class Validator {
  private readonly problems: BtfProblem[] = [];
  private readonly btf: Btf;
  private readonly first: number;
  /** Own types, indexed by id - first. */
  private readonly ownSize: Float64Array;
  private readonly ownState: Uint8Array;
  /** Base types (trusted), indexed by id. */
  private readonly baseSize: Float64Array;
  private readonly baseState: Uint8Array;
  /** 1 = PTR/modifier chain from this own id already walked without a loop. */
  private readonly chainOk: Uint8Array;
  private current = 0;

  constructor(btf: Btf) {
    this.btf = btf;
    this.first = btf.startId;
    const n = btf.types.length;
    this.ownSize = new Float64Array(n);
    this.ownState = new Uint8Array(n);
    this.chainOk = new Uint8Array(n);
    let cache: ResolveCache = { size: new Float64Array(0), state: new Uint8Array(0) };
    if (btf.base !== undefined) {
      const c = baseCaches.get(btf.base);
      if (c !== undefined && c.size.length === btf.base.nextId) cache = c;
      else {
        cache = { size: new Float64Array(btf.base.nextId), state: new Uint8Array(btf.base.nextId) };
        baseCaches.set(btf.base, cache);
      }
    }
    this.baseSize = cache.size;
    this.baseState = cache.state;
  }

  run(): BtfProblem[] {
    const btf = this.btf;
    if (btf.base === undefined && btf.types.length === 0) this.level('no-types', 'no type in standalone BTF');
    if (btf.nextId - 1 > BTF_MAX_TYPE) this.level('too-many-types', `last type id ${btf.nextId - 1} > ${BTF_MAX_TYPE}`);
    if (btf.strings.length - 1 > BTF_MAX_NAME_OFFSET) this.level('strings-too-large', `string section of ${btf.strings.length} bytes`);
    let bytes = 24 + btf.strings.length;
    bytes += btf.types.length * 12; // headers only: a lower bound is enough for the 16 MiB check
    if (bytes > BTF_MAX_SIZE) this.level('too-large', `at least ${bytes} bytes > ${BTF_MAX_SIZE}`);
    for (let i = 0; i < btf.types.length; i++) {
      const id = this.first + i;
      this.current = id;
      const t = btf.types[i]!;
      const before = this.problems.length;
      this.checkMeta(id, t);
      if (this.problems.length !== before) { this.ownState[i] = 2; this.ownSize[i] = INVALID; continue; }
      this.resolve(id, 0);
      this.current = id;
      this.checkAfterResolve(id, t);
    }
    this.checkModifierChains();
    return this.problems;
  }

  // ---- reporting -------------------------------------------------------------------------

  private level(rule: ValidationRule, message: string): void {
    this.problems.push({ rule, message });
  }

  private report(id: TypeId, rule: ValidationRule, message: string): void {
    if (id < this.first) return; // ancestors are trusted
    const t = this.btf.tryType(id);
    const p: BtfProblem = { id, rule, message: `${this.label(id)}: ${message}` };
    if (t) p.kind = KIND_NAME[t.kind];
    this.problems.push(p);
  }

  private label(id: TypeId): string {
    const t = this.btf.tryType(id);
    if (!t) return `[${id}]`;
    return `${KIND_NAME[t.kind]} '${this.safeStr(t.nameOff) ?? '(invalid)'}'`;
  }

  private safeStr(off: StrOff): string | undefined {
    if (off === 0) return '';
    if (off < 0 || off >= this.btf.strings.end) return undefined;
    try { return this.btf.str(off); } catch { return undefined; }
  }

  // ---- names -----------------------------------------------------------------------------
  // Names are classified from the string bytes (StringTable.nameClass, cached per offset), so
  // validating 100k types makes no JS strings; messages are built only for problems.

  /** Name class of `off` once it is known to exist and start a string; -1 after reporting. */
  private nameCls(id: TypeId, off: StrOff, what: string, idx: number): number {
    if (off === 0) return NAME_EMPTY;
    if (off < 0 || off >= this.btf.strings.end) {
      this.report(id, 'name-offset', `${lbl(what, idx)} offset ${off} is outside the chain's strings (end ${this.btf.strings.end})`);
      return -1;
    }
    const strings = this.btf.levelOfStr(off).strings;
    if (!strings.isStart(off)) {
      this.report(id, 'name-not-string-start', `${lbl(what, idx)} offset ${off} points inside a string`);
      return -1;
    }
    return strings.nameClass(off);
  }

  private requireIdent(id: TypeId, off: StrOff, what: string, idx: number, optional: boolean, dotOk: boolean): void {
    const cls = this.nameCls(id, off, what, idx);
    if (cls < 0) return;
    if (cls & NAME_EMPTY) {
      if (!optional) this.report(id, 'name', `${lbl(what, idx)} is missing`);
      return;
    }
    if ((cls & (dotOk ? NAME_DOTTED : NAME_IDENT)) === 0) {
      this.report(id, 'name', `${lbl(what, idx)} '${JSON.stringify(this.safeStr(off) ?? '').slice(1, -1)}' is not a valid identifier`);
    }
  }

  private forbidName(id: TypeId, t: BtfType): void {
    if (t.nameOff !== 0) this.report(id, 'name', `${KIND_NAME[t.kind]} must be anonymous (name offset ${t.nameOff})`);
  }

  private requireValue(id: TypeId, off: StrOff, rule: ValidationRule, what: string): void {
    if (this.nameCls(id, off, what, -1) === NAME_EMPTY) this.report(id, rule, `${what} is empty`);
  }

  private noKflag(id: TypeId, t: BtfType): void {
    if (t.kflag) this.report(id, 'kind-flag', `kind_flag set on ${KIND_NAME[t.kind]}`);
  }

  private refExists(id: TypeId, ref: TypeId, what: string, idx: number, allowVoid: boolean): boolean {
    if (ref === 0) {
      if (!allowVoid) { this.report(id, 'void-ref', `${lbl(what, idx)} is void`); return false; }
      return true;
    }
    if (ref >= this.btf.nextId) {
      this.report(id, 'type-id', `${lbl(what, idx)} ${ref} does not exist (last id ${this.btf.nextId - 1})`);
      return false;
    }
    return true;
  }

  // ---- per-kind metadata checks (no resolution needed) ---------------------------------

  private checkMeta(id: TypeId, t: BtfType): void {
    switch (t.kind) {
      case KIND.INT: {
        this.nameCls(id, t.nameOff, 'name', -1);
        this.noKflag(id, t);
        const enc = t.encoding;
        if (enc !== 0 && enc !== 1 && enc !== 2 && enc !== 4) this.report(id, 'int-encoding', `encoding 0x${enc.toString(16)}`);
        const bits = t.bits + t.bitOffset;
        if (bits > 128) this.report(id, 'int-bits', `bit offset ${t.bitOffset} + bits ${t.bits} > 128`);
        else if (Math.ceil(bits / 8) > t.size) this.report(id, 'int-bits', `bit offset ${t.bitOffset} + bits ${t.bits} exceed size ${t.size}`);
        return;
      }
      case KIND.PTR: case KIND.VOLATILE: case KIND.CONST: case KIND.RESTRICT:
        this.noKflag(id, t);
        this.forbidName(id, t);
        this.refExists(id, t.type, 'referenced type', -1, true);
        return;
      case KIND.TYPEDEF:
        this.noKflag(id, t);
        this.requireIdent(id, t.nameOff, 'name', -1, false, false);
        this.refExists(id, t.type, 'referenced type', -1, true);
        return;
      case KIND.TYPE_TAG:
        this.noKflag(id, t);
        this.requireValue(id, t.nameOff, 'name', 'tag value');
        this.refExists(id, t.type, 'referenced type', -1, true);
        return;
      case KIND.ARRAY:
        this.noKflag(id, t);
        this.forbidName(id, t);
        this.refExists(id, t.elemType, 'element type', -1, false);
        this.refExists(id, t.indexType, 'index type', -1, false);
        return;
      case KIND.STRUCT: case KIND.UNION:
        this.requireIdent(id, t.nameOff, 'name', -1, true, false);
        this.checkMembersMeta(id, t);
        return;
      case KIND.ENUM: case KIND.ENUM64:
        if (t.size > 8 || t.size === 0 || (t.size & (t.size - 1)) !== 0) this.report(id, 'enum-size', `size ${t.size}`);
        this.requireIdent(id, t.nameOff, 'name', -1, true, false);
        for (let i = 0; i < t.values.length; i++) this.requireIdent(id, t.values[i]!.nameOff, 'enumerator', i, false, false);
        return;
      case KIND.FWD:
        this.requireIdent(id, t.nameOff, 'name', -1, false, false);
        return;
      case KIND.FUNC:
        this.requireIdent(id, t.nameOff, 'name', -1, false, false);
        if (t.linkage > 1) this.report(id, 'func-linkage', `linkage ${t.linkage} (the kernel accepts static 0 and global 1)`);
        this.noKflag(id, t);
        if (this.refExists(id, t.type, 'prototype', -1, false) && this.btf.type(t.type).kind !== KIND.FUNC_PROTO) {
          this.report(id, 'func-proto', `type ${this.btf.describe(t.type)} is not a FUNC_PROTO`);
        }
        return;
      case KIND.FUNC_PROTO: {
        this.forbidName(id, t);
        this.noKflag(id, t);
        this.refExists(id, t.returnType, 'return type', -1, true);
        const n = t.params.length;
        for (let i = 0; i < n; i++) {
          const p = t.params[i]!;
          if (p.type === 0) {
            if (i !== n - 1) this.report(id, 'proto-arg', `parameter #${i + 1} is void but not the last (varargs)`);
            else if (p.nameOff !== 0) this.report(id, 'proto-arg', `varargs marker #${i + 1} has a name`);
            continue;
          }
          this.refExists(id, p.type, 'type of parameter', i + 1, false);
          const cls = this.nameCls(id, p.nameOff, 'name of parameter', i + 1);
          if (cls > 0 && (cls & (NAME_EMPTY | NAME_IDENT)) === 0) this.report(id, 'proto-arg', `parameter #${i + 1} name '${this.safeStr(p.nameOff) ?? ''}' is not an identifier`);
        }
        return;
      }
      case KIND.VAR:
        this.noKflag(id, t);
        this.requireIdent(id, t.nameOff, 'name', -1, false, true);
        this.refExists(id, t.type, 'variable type', -1, false);
        if (t.linkage !== 0 && t.linkage !== 1) this.report(id, 'var-linkage', `linkage ${t.linkage} (the kernel accepts static 0 and global-allocated 1)`);
        return;
      case KIND.DATASEC:
        this.checkDatasecMeta(id, t);
        return;
      case KIND.FLOAT:
        this.nameCls(id, t.nameOff, 'name', -1);
        this.noKflag(id, t);
        if (![2, 4, 8, 12, 16].includes(t.size)) this.report(id, 'float-size', `size ${t.size}`);
        return;
      case KIND.DECL_TAG:
        this.requireValue(id, t.nameOff, 'decl-tag-value', 'tag value');
        this.noKflag(id, t);
        if (t.componentIdx < -1) this.report(id, 'decl-tag-component', `component index ${t.componentIdx} < -1`);
        this.refExists(id, t.type, 'tagged type', -1, false);
        return;
    }
  }

  private checkMembersMeta(id: TypeId, t: StructType): void {
    let last = 0;
    const isUnion = t.kind === KIND.UNION;
    const members = t.members;
    for (let i = 0; i < members.length; i++) {
      const m = members[i]!;
      this.requireIdent(id, m.nameOff, 'name of member', i, true, false);
      this.refExists(id, m.type, 'type of member', i, false);
      const off = t.kflag ? m.offset & 0xffffff : m.offset;
      if (isUnion && off !== 0) this.report(id, 'member-offset', `member #${i} of a union at bit offset ${off}, not 0`);
      else if (off < last) this.report(id, 'member-offset', `member #${i} at bit offset ${off} comes before the previous member (${last})`);
      else if (Math.ceil(off / 8) > t.size) this.report(id, 'member-offset', `member #${i} at bit offset ${off} is past the struct size ${t.size}`);
      last = off;
    }
  }

  private entryLabel(t: DatasecType, i: number): string {
    const v = t.vars[i]!;
    return `entry #${i} (${this.btf.describe(v.type)}, offset ${v.offset}, size ${v.size})`;
  }

  private checkDatasecMeta(id: TypeId, t: DatasecType): void {
    if (t.size === 0) this.report(id, 'datasec-size', 'size 0');
    this.noKflag(id, t);
    this.requireIdent(id, t.nameOff, 'name', -1, false, true);
    let lastEnd = 0;
    let sum = 0;
    for (let i = 0; i < t.vars.length; i++) {
      const v = t.vars[i]!;
      if (v.type === 0 || v.type >= this.btf.nextId) this.refExists(id, v.type, `variable of ${this.entryLabel(t, i)}`, -1, false);
      if (v.offset < lastEnd) this.report(id, 'datasec-overlap', `${this.entryLabel(t, i)} starts before the previous entry ends (${lastEnd})`);
      else if (v.offset >= t.size && t.size !== 0) this.report(id, 'datasec-bounds', `${this.entryLabel(t, i)} starts past the section size ${t.size}`);
      if (v.size === 0 || v.size > t.size) this.report(id, 'datasec-bounds', `${this.entryLabel(t, i)} has size ${v.size} (section size ${t.size})`);
      else if (v.offset + v.size > t.size) this.report(id, 'datasec-bounds', `${this.entryLabel(t, i)} ends at ${v.offset + v.size}, past the section size ${t.size}`);
      lastEnd = Math.max(lastEnd, v.offset + v.size);
      sum += v.size;
    }
    if (t.size !== 0 && t.size < sum) this.report(id, 'datasec-size', `size ${t.size} < sum of entries ${sum}`);
  }

  // ---- resolution (sizes, loops) ----------------------------------------------------------

  /** Size of `id` (bytes), NOSIZE (void/FWD/FUNC/FUNC_PROTO/DECL_TAG), or INVALID (already reported or untrusted). */
  private resolve(id: TypeId, depth: number): number {
    if (id === 0) return NOSIZE;
    if (id >= this.btf.nextId) return INVALID;
    const own = id >= this.first;
    const sizes = own ? this.ownSize : this.baseSize;
    const states = own ? this.ownState : this.baseState;
    const idx = own ? id - this.first : id;
    const st = states[idx]!;
    if (st === 2) return sizes[idx]!;
    if (st === 1) {
      this.report(this.current >= this.first ? this.current : id, 'loop', `reference loop through ${this.btf.describe(id)}`);
      return INVALID;
    }
    if (depth >= MAX_RESOLVE_DEPTH && needsResolve(t0kind(this.btf, id))) {
      this.report(this.current, 'resolve-depth', `nesting deeper than ${MAX_RESOLVE_DEPTH} at ${this.btf.describe(id)}`);
      return INVALID;
    }
    const t = this.btf.tryType(id);
    if (t === undefined) return INVALID;
    states[idx] = 1;
    const r = this.compute(id, t, depth);
    states[idx] = 2;
    sizes[idx] = r;
    return r;
  }

  private compute(id: TypeId, t: BtfType, depth: number): number {
    switch (t.kind) {
      case KIND.INT: case KIND.ENUM: case KIND.ENUM64: case KIND.FLOAT:
        return t.size;
      case KIND.FWD: case KIND.FUNC: case KIND.FUNC_PROTO: case KIND.DECL_TAG:
        return NOSIZE;
      case KIND.PTR:
        return 8;
      case KIND.DATASEC:
        return t.size;
      case KIND.VAR: {
        const r = this.resolve(t.type, depth + 1);
        return r === NOSIZE ? INVALID : r;
      }
      case KIND.TYPEDEF: case KIND.VOLATILE: case KIND.CONST: case KIND.RESTRICT: case KIND.TYPE_TAG: {
        if (t.type === 0) return NOSIZE;
        const target = this.btf.tryType(t.type);
        if (target === undefined) return INVALID;
        if (isSourceOnly(target.kind)) { this.report(id, 'ref-target', `refers to ${this.btf.describe(t.type)}`); return INVALID; }
        // NOSIZE targets (void, FWD, FUNC, FUNC_PROTO) are fine: the kernel resolves a FUNC to its prototype.
        return this.resolve(t.type, depth + 1);
      }
      case KIND.ARRAY: {
        const n = t.nelems;
        const ir = this.resolve(t.indexType, depth + 1);
        if (ir !== INVALID) {
          const it = this.btf.tryType(this.skipModifiers(t.indexType));
          if (it === undefined || !isRegularInt(it)) this.report(id, 'array-index', `index type ${this.btf.describe(t.indexType)} is not a regular INT`);
        }
        const er = this.resolve(t.elemType, depth + 1);
        if (er === INVALID) return INVALID;
        const et = this.btf.tryType(t.elemType);
        if (er === NOSIZE || (et !== undefined && isSourceOnly(et.kind))) {
          this.report(id, 'array-elem', `element type ${this.btf.describe(t.elemType)} has no size`);
          return INVALID;
        }
        const elem = this.btf.tryType(this.skipModifiers(t.elemType));
        if (elem !== undefined && elem.kind === KIND.INT && !isRegularInt(elem)) {
          this.report(id, 'array-elem', `element type ${this.btf.describe(t.elemType)} is an irregular INT`);
          return INVALID;
        }
        if (n !== 0 && er > 0xffffffff / n) { this.report(id, 'array-size', `${n} x ${er} bytes overflows u32`); return INVALID; }
        return er * n;
      }
      case KIND.STRUCT: case KIND.UNION: {
        let ok = true;
        for (let i = 0; i < t.members.length; i++) {
          const m = t.members[i]!;
          const mt = this.btf.tryType(m.type);
          if (mt === undefined) { ok = false; continue; }
          if (isSourceOnly(mt.kind)) { this.report(id, 'member-type', `member #${i} type ${this.btf.describe(m.type)} cannot be a member`); ok = false; continue; }
          const r = this.resolve(m.type, depth + 1);
          if (r === INVALID) { ok = false; continue; }
          if (r === NOSIZE) { this.report(id, 'member-type', `member #${i} type ${this.btf.describe(m.type)} has no size`); ok = false; continue; }
          if (id >= this.first && !this.checkMember(id, t, i, m, r)) ok = false;
        }
        return ok ? t.size : INVALID;
      }
    }
  }

  private skipModifiers(id: TypeId): TypeId {
    for (let n = 0; n < 64; n++) {
      const t = this.btf.tryType(id);
      if (t === undefined || !isModifier(t.kind)) return id;
      id = (t as { type: TypeId }).type;
    }
    return id;
  }

  /** Kernel check_member / check_kflag_member on the member's resolved (modifier-free) type. */
  private checkMember(id: TypeId, s: StructType, i: number, m: Member, memberSize: number): boolean {
    const rid = this.skipModifiers(m.type);
    const rt = this.btf.tryType(rid);
    if (rt === undefined) return false;
    const bitfield = s.kflag ? m.offset >>> 24 : 0;
    const off = s.kflag ? m.offset & 0xffffff : m.offset;
    const fail = (rule: ValidationRule, msg: string): boolean => {
      this.report(id, rule, `member #${i} '${this.safeStr(m.nameOff) ?? '?'}': ${msg}`);
      return false;
    };
    if (rt.kind === KIND.INT) {
      if (s.kflag) {
        if (!isRegularInt(rt)) return fail('member-bitfield', `base type ${this.btf.describe(rid)} is not a regular INT`);
        let nbits = bitfield;
        if (nbits === 0) {
          if (off % 8 !== 0) return fail('member-alignment', `bit offset ${off} not byte aligned`);
          nbits = rt.bits;
        } else if (nbits > rt.bits) return fail('member-bitfield', `bitfield size ${nbits} > ${rt.bits} bits of ${this.btf.describe(rid)}`);
        const copy = nbits + (off % 8);
        if (copy > 128) return fail('member-bitfield', `${copy} bits to copy > 128`);
        if (s.size < Math.floor(off / 8) || s.size - Math.floor(off / 8) < Math.ceil(copy / 8)) return fail('member-size', `ends past the struct size ${s.size}`);
        return true;
      }
      const total = off + rt.bitOffset;
      const copy = rt.bits + (total % 8);
      if (copy > 128) return fail('member-bitfield', `${copy} bits to copy > 128`);
      const byteOff = Math.floor(total / 8);
      if (s.size < byteOff || s.size - byteOff < Math.ceil(copy / 8)) return fail('member-size', `ends past the struct size ${s.size}`);
      return true;
    }
    if (rt.kind === KIND.ENUM || rt.kind === KIND.ENUM64) {
      if (s.kflag) {
        let nbits = bitfield;
        if (nbits === 0) {
          if (off % 8 !== 0) return fail('member-alignment', `bit offset ${off} not byte aligned`);
          nbits = 32;
        } else if (nbits > 32) return fail('member-bitfield', `enum bitfield size ${nbits} > 32`);
        if (s.size < Math.ceil((off + nbits) / 8)) return fail('member-size', `ends past the struct size ${s.size}`);
        return true;
      }
    } else if (bitfield !== 0) {
      return fail('member-bitfield', `bitfield size ${bitfield} on ${this.btf.describe(rid)}`);
    }
    if (rt.kind === KIND.FLOAT) {
      const align = Math.min(8, rt.size) * 8;
      if (off % align !== 0) return fail('member-alignment', `FLOAT at bit offset ${off} not aligned to ${align} bits`);
      if (Math.floor(off / 8) + rt.size > s.size) return fail('member-size', `ends past the struct size ${s.size}`);
      return true;
    }
    if (off % 8 !== 0) return fail('member-alignment', `bit offset ${off} not byte aligned`);
    if (s.size - Math.floor(off / 8) < memberSize || Math.floor(off / 8) > s.size) return fail('member-size', `${memberSize} bytes at byte ${Math.floor(off / 8)} end past the struct size ${s.size}`);
    return true;
  }

  // ---- checks that need resolved sizes ----------------------------------------------------

  private checkAfterResolve(id: TypeId, t: BtfType): void {
    switch (t.kind) {
      case KIND.PTR:
        this.checkPtrChain(id);
        if (this.btf.hasType(t.type)) {
          const target = this.btf.type(t.type);
          if (isSourceOnly(target.kind)) this.report(id, 'ref-target', `points at ${this.btf.describe(t.type)}`);
          else {
            const end = this.btf.tryType(this.skipModifiers(t.type));
            if (end !== undefined && end.kind === KIND.FUNC) this.report(id, 'ref-target', `points at ${this.btf.describe(t.type)}, a FUNC (point at its FUNC_PROTO)`);
          }
        }
        return;
      case KIND.VAR: {
        if (!this.btf.hasType(t.type)) return;
        const target = this.btf.type(t.type);
        const r = this.ownSize[id - this.first]!;
        if (isSourceOnly(target.kind) || (r === INVALID && this.resolve(t.type, 0) === NOSIZE)) this.report(id, 'var-type', `type ${this.btf.describe(t.type)} has no size`);
        return;
      }
      case KIND.DATASEC:
        for (let i = 0; i < t.vars.length; i++) {
          const v = t.vars[i]!;
          const vt = this.btf.tryType(v.type);
          if (vt === undefined) continue;
          if (vt.kind !== KIND.VAR) { this.report(id, 'datasec-var', `entry #${i} points at ${this.btf.describe(v.type)}, not a VAR`); continue; }
          const r = this.resolve(v.type, 0);
          if (r >= 0 && v.size < r) this.report(id, 'datasec-entry-size', `entry #${i} (${this.btf.describe(v.type)}) size ${v.size} < its type's size ${r}`);
        }
        return;
      case KIND.FUNC: {
        const proto = this.btf.tryType(t.type);
        if (proto === undefined || proto.kind !== KIND.FUNC_PROTO) return;
        for (let i = 0; i < proto.params.length; i++) {
          const p = proto.params[i]!;
          if (p.nameOff === 0 && p.type !== 0) this.report(id, 'func-arg-name', `parameter #${i + 1} of ${this.btf.describe(t.type)} has no name`);
        }
        return;
      }
      case KIND.FUNC_PROTO: {
        if (t.returnType !== 0 && this.btf.hasType(t.returnType)) {
          const rt = this.btf.type(t.returnType);
          if (isSourceOnly(rt.kind) || this.resolve(t.returnType, 0) === NOSIZE) this.report(id, 'proto-return', `return type ${this.btf.describe(t.returnType)} has no size`);
        }
        for (let i = 0; i < t.params.length; i++) {
          const p = t.params[i]!;
          if (p.type === 0 || !this.btf.hasType(p.type)) continue;
          const at = this.btf.type(p.type);
          if (isSourceOnly(at.kind) || this.resolve(p.type, 0) === NOSIZE) this.report(id, 'proto-arg', `parameter #${i + 1} type ${this.btf.describe(p.type)} has no size`);
        }
        return;
      }
      case KIND.DECL_TAG: {
        const target = this.btf.tryType(t.type);
        if (target === undefined) return;
        const k = target.kind;
        if (k !== KIND.STRUCT && k !== KIND.UNION && k !== KIND.FUNC && k !== KIND.VAR && k !== KIND.TYPEDEF) {
          this.report(id, 'decl-tag-target', `tags ${this.btf.describe(t.type)}`);
          return;
        }
        if (t.componentIdx === -1) return;
        if (k === KIND.VAR || k === KIND.TYPEDEF) { this.report(id, 'decl-tag-component', `component index ${t.componentIdx} on ${this.btf.describe(t.type)}`); return; }
        let vlen = 0;
        if (k === KIND.STRUCT || k === KIND.UNION) vlen = target.members.length;
        else if (target.kind === KIND.FUNC) {
          const proto = this.btf.tryType(target.type);
          vlen = proto?.kind === KIND.FUNC_PROTO ? proto.params.length : 0;
        }
        if (t.componentIdx >= vlen) this.report(id, 'decl-tag-component', `component index ${t.componentIdx} >= ${vlen} components of ${this.btf.describe(t.type)}`);
        return;
      }
      default:
        return;
    }
  }

  /** A PTR/modifier chain from a PTR must end (kernel: loop detected in RESOLVE_PTR mode). */
  private checkPtrChain(start: TypeId): void {
    // Walk at most as many steps as there are types; a longer walk has revisited something.
    let id = start;
    let steps = 0;
    const limit = this.btf.nextId;
    const first = this.first;
    // Base types are trusted: a chain reaching them ends there.
    while (id >= first && id < limit && this.chainOk[id - first] !== 1) {
      const t = this.btf.tryType(id);
      if (t === undefined || (t.kind !== KIND.PTR && !isModifier(t.kind))) break;
      if (++steps > 64 || (steps > 1 && id === start)) {
        this.report(start, 'loop', `pointer chain loops back to ${this.btf.describe(id)}`);
        return;
      }
      id = (t as { type: TypeId }).type;
    }
    for (let i = start, n = 0; n < steps && i >= first; n++) {
      this.chainOk[i - first] = 1;
      const t = this.btf.tryType(i);
      if (t === undefined) break;
      i = (t as { type: TypeId }).type;
    }
  }

  /** Kernel btf_check_type_tags: chains of modifiers at most 32 long, TYPE_TAGs first. */
  private checkModifierChains(): void {
    const btf = this.btf;
    let goodId = this.first - 1;
    for (let i = 0; i < btf.types.length; i++) {
      const id = this.first + i;
      let t = btf.types[i]!;
      if (!isModifier(t.kind)) continue;
      let inTags = t.kind === KIND.TYPE_TAG;
      let cur = id;
      let limit = MAX_MODIFIER_CHAIN;
      let bad = false;
      while (isModifier(t.kind)) {
        if (limit-- === 0) { this.report(id, 'modifier-chain', `modifier chain longer than ${MAX_MODIFIER_CHAIN} or cyclic`); bad = true; break; }
        if (t.kind === KIND.TYPE_TAG) {
          if (!inTags) { this.report(id, 'type-tag-order', `TYPE_TAG ${btf.describe(cur)} follows a non-tag modifier`); bad = true; break; }
        } else inTags = false;
        if (cur <= goodId) break;
        cur = (t as { type: TypeId }).type;
        const next = btf.tryType(cur);
        if (next === undefined) break;
        t = next;
      }
      if (!bad) goodId = id;
    }
  }
}

function isRegularInt(t: BtfType): boolean {
  if (t.kind !== KIND.INT) return false;
  if (t.bits % 8 !== 0 || t.bitOffset !== 0) return false;
  const bytes = t.bits / 8;
  return bytes === 1 || bytes === 2 || bytes === 4 || bytes === 8 || bytes === 16;
}
