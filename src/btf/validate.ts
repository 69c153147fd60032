/**
 * Validates one BTF level with the kernel's rules (kernel/bpf/btf.c of Linux 6.1: the per-kind
 * check_meta, resolve and check_member passes, btf_func_check, btf_check_type_tags) and
 * libbpf's (every referenced id and string offset exists, FUNC -> FUNC_PROTO). Ancestor levels
 * are trusted, as the kernel trusts vmlinux when it loads module BTF; validate them on their own.
 *
 * Unlike the kernel, which stops at the first error, every problem is reported, each naming the
 * type id, kind and a stable rule name (tests assert the rule). A type whose dependency is
 * broken is not reported again, so one bad record gives one problem, not a cascade.
 *
 * It reads the records as words (the parsed type section, or the level encoded when it was
 * built in memory) and names from the string bytes, so validating vmlinux makes no objects.
 * test/btf/validate-reference.ts keeps the first, object-based version as a test oracle.
 */
import type { Btf, RawTypes } from './btf.js';
import { BTF_MAX_NAME_OFFSET, BTF_MAX_TYPE, KIND, KIND_NAME, KSYM_NAME_LEN, recordSize, type Kind } from './kinds.js';
import { NAME_DOTTED, NAME_EMPTY, NAME_IDENT, NAME_NOT_START, type StringTable } from './strings.js';
import type { StrOff, TypeId } from './types.js';
import { typeWords } from './write.js';

export interface BtfProblem {
  id?: TypeId;
  kind?: string;
  /** Stable rule name, e.g. 'datasec-overlap'. */
  rule: string;
  message: string;
}

/** Every rule validateBtf can report, with what it means. */
export const VALIDATION_RULES = {
  'no-types': 'standalone BTF without any type',
  'too-many-types': `more than ${BTF_MAX_TYPE} type ids`,
  'strings-too-large': `string section longer than ${BTF_MAX_NAME_OFFSET + 1} bytes`,
  'too-large': 'BTF larger than the kernel accepts (16 MiB)',
  'name-offset': 'a name offset outside every string table of the chain',
  // Stricter than the kernel (which accepts any offset inside the table): no real file does it,
  // and it is the usual symptom of an offset computed against the wrong level of a chain.
  'name-not-string-start': 'a name offset pointing inside a string, not at its start',
  'name': 'a name not allowed for the kind (missing, not an identifier, or present where none is allowed)',
  'kind-flag': 'kind_flag set on a kind that has no use for it',
  'int-encoding': 'INT encoding other than none, SIGNED, CHAR or BOOL',
  'int-bits': 'INT bit offset + bits beyond 128 or beyond its byte size',
  'type-id': 'a referenced type id that does not exist',
  'void-ref': 'a reference to void where a real type is required',
  'array-index': 'ARRAY index type is not a regular INT',
  'array-elem': 'ARRAY element type has no size or is an irregular INT',
  'array-size': 'ARRAY total size overflows u32',
  'member-type': 'member type has no size (void, FWD, FUNC, FUNC_PROTO, VAR, DATASEC, DECL_TAG)',
  'member-offset': 'member bit offset decreasing, non-zero in a union, or beyond the struct size',
  'member-alignment': 'non-bitfield member not byte aligned (or FLOAT not naturally aligned)',
  'member-bitfield': 'bitfield size invalid for the member type',
  'member-size': 'member extends past the end of its struct',
  'enum-size': 'ENUM/ENUM64 size not 1, 2, 4 or 8',
  'float-size': 'FLOAT size not 2, 4, 8, 12 or 16',
  'func-linkage': 'FUNC linkage other than static or global',
  'func-proto': 'FUNC type is not a FUNC_PROTO',
  'func-arg-name': 'a FUNC whose prototype has an unnamed parameter',
  'proto-return': 'FUNC_PROTO return type has no size (and is not void)',
  'proto-arg': 'FUNC_PROTO parameter invalid (void not last, named varargs, no size, bad name)',
  'var-linkage': 'VAR linkage other than static or global-allocated',
  'var-type': 'VAR type void or without size',
  'datasec-size': 'DATASEC size 0 or smaller than the sum of its entries',
  'datasec-var': 'DATASEC entry does not point at a VAR',
  'datasec-overlap': 'DATASEC entries unsorted or overlapping',
  'datasec-bounds': 'DATASEC entry empty or outside the section',
  'datasec-entry-size': 'DATASEC entry smaller than its variable type',
  'decl-tag-value': 'DECL_TAG with an empty value',
  'decl-tag-target': 'DECL_TAG on something other than a struct, union, FUNC, VAR or TYPEDEF',
  'decl-tag-component': 'DECL_TAG component index out of range or not allowed for the target',
  'ref-target': 'pointer/modifier target is a VAR, DATASEC or DECL_TAG, or a pointer to a FUNC',
  'type-tag-order': 'TYPE_TAG after a non-tag modifier in a modifier chain',
  'modifier-chain': 'modifier chain longer than 32 or cyclic',
  'loop': 'reference loop not broken by a pointer to a struct/union/array',
  'resolve-depth': 'types nested deeper than the kernel resolves (32)',
} as const;
export type ValidationRule = keyof typeof VALIDATION_RULES;

/** The kernel's BTF_MAX_SIZE and MAX_RESOLVE_DEPTH. */
const BTF_MAX_SIZE = 16 * 1024 * 1024;
const MAX_RESOLVE_DEPTH = 32;
const MAX_MODIFIER_CHAIN = 32;

const NOSIZE = -1;
const INVALID = -2;

const isModifier = (k: number): boolean =>
  k === KIND.TYPEDEF || k === KIND.VOLATILE || k === KIND.CONST || k === KIND.RESTRICT || k === KIND.TYPE_TAG;
/** Kinds that may only be the source of a reference (kernel btf_type_is_resolve_source_only). */
const isSourceOnly = (k: number): boolean => k === KIND.VAR || k === KIND.DATASEC || k === KIND.DECL_TAG;
/** Kernel btf_type_needs_resolve: the kinds its resolver pushes on its (32 deep) stack. */
const needsResolve = (k: number): boolean => isModifier(k) || k === KIND.PTR || k === KIND.STRUCT || k === KIND.UNION
  || k === KIND.ARRAY || k === KIND.VAR || k === KIND.FUNC || k === KIND.DATASEC || k === KIND.DECL_TAG;

/** Kernel __btf_name_valid: identifier chars (dots too when dotOk), shorter than KSYM_NAME_LEN. */
export function isValidBtfName(s: string, dotOk: boolean): boolean {
  if (s.length === 0 || s.length >= KSYM_NAME_LEN) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const alpha = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    const digit = c >= 0x30 && c <= 0x39;
    const ok = alpha || c === 0x5f || (dotOk && c === 0x2e) || (i > 0 && digit);
    if (!ok) return false;
  }
  return true;
}

const lbl = (what: string, idx: number): string => (idx >= 0 ? `${what} #${idx}` : what);

/** "[id] KIND 'name': rule: message" for the CLI. */
export function formatProblem(p: BtfProblem): string {
  const where = p.id !== undefined ? `[${p.id}]${p.kind ? ` ${p.kind}` : ''}: ` : '';
  // Messages quote names from the (possibly hostile) string section: one problem, one line.
  return `${where}${p.rule}: ${p.message}`.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function validateBtf(btf: Btf): BtfProblem[] {
  return new Validator(btf).run();
}

/** Words and record offsets of a level: the parsed ones, or the level encoded. */
function levelWords(level: Btf): RawTypes {
  const raw = level.rawTypes;
  if (raw !== undefined) return raw;
  const words = typeWords(level);
  const offs = new Uint32Array(level.count);
  for (let i = 0, p = 0; i < offs.length; i++) {
    offs[i] = p;
    const info = words[p + 1]!;
    p += recordSize(((info >>> 24) & 0x1f) as Exclude<Kind, 0>, info & 0xffff) >>> 2;
  }
  return { words, offs };
}

/**
 * What validation learns about a trusted base level: its words (encoded once if the level was
 * built or materialised) and the resolved size and state of each of its ids. A level's ids refer
 * only to its own and lower levels, so this is shared by every chain that holds the level:
 * validating 1121 modules on vmlinux encodes and resolves vmlinux once, and a module's extras
 * validated on a freshly parsed module level still reuse vmlinux's.
 */
interface LevelCache { readonly count: number; readonly start: number; readonly raw: RawTypes; readonly size: Float64Array; readonly state: Uint8Array }
const levelCaches = new WeakMap<Btf, LevelCache>();

function levelCache(level: Btf): LevelCache {
  const c = levelCaches.get(level);
  if (c !== undefined && c.count === level.count) return c;
  const fresh: LevelCache = { count: level.count, start: level.startId, raw: levelWords(level), size: new Float64Array(level.count), state: new Uint8Array(level.count) };
  levelCaches.set(level, fresh);
  return fresh;
}

class Validator {
  private readonly problems: BtfProblem[] = [];
  private readonly btf: Btf;
  private readonly first: number;
  private readonly next: number;
  private readonly W: Uint32Array;
  private readonly O: Uint32Array;
  /** The base chain's levels, root first. */
  private readonly baseLevels: readonly LevelCache[];
  /** Own types, indexed by id - first. */
  private readonly ownSize: Float64Array;
  private readonly ownState: Uint8Array;
  /** 1 = PTR/modifier chain from this own id already walked without a loop. */
  private readonly chainOk: Uint8Array;
  private current = 0;
  /** String tables of the chain, root first (a name's table: the last one starting at or below it). */
  private readonly tables: StringTable[];

  constructor(btf: Btf) {
    this.btf = btf;
    this.tables = btf.chain().map((l) => l.strings);
    this.first = btf.startId;
    this.next = btf.nextId;
    const own = levelWords(btf);
    this.W = own.words;
    this.O = own.offs;
    const n = own.offs.length;
    this.ownSize = new Float64Array(n);
    this.ownState = new Uint8Array(n);
    this.chainOk = new Uint8Array(n);
    this.baseLevels = btf.base !== undefined ? btf.base.chain().map(levelCache) : [];
  }

  // ---- record access: word k of record `id` (0 name, 1 info, 2 size/type, 3.. per-kind data) ----

  private w(id: TypeId, k: number): number {
    if (id >= this.first) return this.W[this.O[id - this.first]! + k]!;
    const l = this.baseLevel(id);
    return l === undefined ? 0 : l.raw.words[l.raw.offs[id - l.start]! + k]!;
  }
  private baseLevel(id: TypeId): LevelCache | undefined {
    const levels = this.baseLevels;
    for (let i = levels.length - 1; i >= 0; i--) if (id >= levels[i]!.start) return levels[i];
    return undefined;
  }
  private exists(id: TypeId): boolean { return id >= 1 && id < this.next; }
  private kind(id: TypeId): number { return (this.w(id, 1) >>> 24) & 0x1f; }
  private vlen(id: TypeId): number { return this.w(id, 1) & 0xffff; }
  private kflag(id: TypeId): boolean { return (this.w(id, 1) & 0x80000000) !== 0; }
  private ref(id: TypeId): number { return this.w(id, 2); }

  run(): BtfProblem[] {
    const btf = this.btf;
    const n = this.O.length;
    if (btf.base === undefined && n === 0) this.level('no-types', 'no type in standalone BTF');
    if (this.next - 1 > BTF_MAX_TYPE) this.level('too-many-types', `last type id ${this.next - 1} > ${BTF_MAX_TYPE}`);
    if (btf.strings.length - 1 > BTF_MAX_NAME_OFFSET) this.level('strings-too-large', `string section of ${btf.strings.length} bytes`);
    const bytes = 24 + btf.strings.length + this.W.length * 4;
    if (bytes > BTF_MAX_SIZE) this.level('too-large', `${bytes} bytes > ${BTF_MAX_SIZE}`);
    for (let i = 0; i < n; i++) {
      const id = this.first + i;
      this.current = id;
      const before = this.problems.length;
      this.checkMeta(id);
      if (this.problems.length !== before) { this.ownState[i] = 2; this.ownSize[i] = INVALID; continue; }
      this.resolve(id, 0);
      this.current = id;
      this.checkAfterResolve(id);
    }
    this.checkModifierChains();
    return this.problems;
  }

  // ---- reporting -------------------------------------------------------------------------

  private level(rule: ValidationRule, message: string): void {
    this.problems.push({ rule, message });
  }

  private report(id: TypeId, rule: ValidationRule, message: string): void {
    if (id < this.first || id >= this.next) return; // ancestors are trusted
    this.problems.push({ id, kind: KIND_NAME[this.kind(id) as Kind] ?? 'UNKNOWN', rule, message: `${this.label(id)}: ${message}` });
  }

  private label(id: TypeId): string {
    return `${KIND_NAME[this.kind(id) as Kind] ?? 'UNKNOWN'} '${this.safeStr(this.w(id, 0)) ?? '(invalid)'}'`;
  }

  /** "[id] KIND 'name'" (Btf.describe without building objects). */
  private describe(id: TypeId): string {
    if (!this.exists(id)) return `[${id}] (missing)`;
    const off = this.w(id, 0);
    return `[${id}] ${KIND_NAME[this.kind(id) as Kind] ?? 'UNKNOWN'} '${off === 0 ? '(anon)' : this.safeStr(off) ?? '(invalid)'}'`;
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
    if (off >= this.btf.strings.end) {
      this.report(id, 'name-offset', `${lbl(what, idx)} offset ${off} is outside the chain's strings (end ${this.btf.strings.end})`);
      return -1;
    }
    const tables = this.tables;
    let t = tables.length - 1;
    while (t > 0 && off < tables[t]!.start) t--;
    const cls = tables[t]!.nameClass(off);
    if (cls & NAME_NOT_START) {
      this.report(id, 'name-not-string-start', `${lbl(what, idx)} offset ${off} points inside a string`);
      return -1;
    }
    return cls;
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

  private forbidName(id: TypeId): void {
    const off = this.w(id, 0);
    if (off !== 0) this.report(id, 'name', `${KIND_NAME[this.kind(id) as Kind]} must be anonymous (name offset ${off})`);
  }

  private requireValue(id: TypeId, off: StrOff, rule: ValidationRule, what: string): void {
    if (this.nameCls(id, off, what, -1) === NAME_EMPTY) this.report(id, rule, `${what} is empty`);
  }

  private noKflag(id: TypeId): void {
    if (this.kflag(id)) this.report(id, 'kind-flag', `kind_flag set on ${KIND_NAME[this.kind(id) as Kind]}`);
  }

  private refExists(id: TypeId, ref: TypeId, what: string, idx: number, allowVoid: boolean): boolean {
    if (ref === 0) {
      if (!allowVoid) { this.report(id, 'void-ref', `${lbl(what, idx)} is void`); return false; }
      return true;
    }
    if (ref >= this.next) {
      this.report(id, 'type-id', `${lbl(what, idx)} ${ref} does not exist (last id ${this.next - 1})`);
      return false;
    }
    return true;
  }

  // ---- per-kind metadata checks (no resolution needed) ---------------------------------

  private checkMeta(id: TypeId): void {
    const W = this.W;
    const p = this.O[id - this.first]!;
    const nameOff = W[p]!;
    const info = W[p + 1]!;
    const k = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const sizeOrType = W[p + 2]!;
    switch (k) {
      case KIND.INT: {
        this.nameCls(id, nameOff, 'name', -1);
        this.noKflag(id);
        const data = W[p + 3]!;
        const enc = data >>> 24;
        const bitOffset = (data >>> 16) & 0xff;
        const bitsN = data & 0xff;
        if (enc !== 0 && enc !== 1 && enc !== 2 && enc !== 4) this.report(id, 'int-encoding', `encoding 0x${enc.toString(16)}`);
        const bits = bitsN + bitOffset;
        if (bits > 128) this.report(id, 'int-bits', `bit offset ${bitOffset} + bits ${bitsN} > 128`);
        else if (Math.ceil(bits / 8) > sizeOrType) this.report(id, 'int-bits', `bit offset ${bitOffset} + bits ${bitsN} exceed size ${sizeOrType}`);
        return;
      }
      case KIND.PTR: case KIND.VOLATILE: case KIND.CONST: case KIND.RESTRICT:
        this.noKflag(id);
        this.forbidName(id);
        this.refExists(id, sizeOrType, 'referenced type', -1, true);
        return;
      case KIND.TYPEDEF:
        this.noKflag(id);
        this.requireIdent(id, nameOff, 'name', -1, false, false);
        this.refExists(id, sizeOrType, 'referenced type', -1, true);
        return;
      case KIND.TYPE_TAG:
        this.noKflag(id);
        this.requireValue(id, nameOff, 'name', 'tag value');
        this.refExists(id, sizeOrType, 'referenced type', -1, true);
        return;
      case KIND.ARRAY:
        this.noKflag(id);
        this.forbidName(id);
        this.refExists(id, W[p + 3]!, 'element type', -1, false);
        this.refExists(id, W[p + 4]!, 'index type', -1, false);
        return;
      case KIND.STRUCT: case KIND.UNION: {
        this.requireIdent(id, nameOff, 'name', -1, true, false);
        const kflag = (info & 0x80000000) !== 0;
        const isUnion = k === KIND.UNION;
        let last = 0;
        for (let i = 0, q = p + 3; i < vlen; i++, q += 3) {
          this.requireIdent(id, W[q]!, 'name of member', i, true, false);
          this.refExists(id, W[q + 1]!, 'type of member', i, false);
          const off = kflag ? W[q + 2]! & 0xffffff : W[q + 2]!;
          if (isUnion && off !== 0) this.report(id, 'member-offset', `member #${i} of a union at bit offset ${off}, not 0`);
          else if (off < last) this.report(id, 'member-offset', `member #${i} at bit offset ${off} comes before the previous member (${last})`);
          else if (Math.ceil(off / 8) > sizeOrType) this.report(id, 'member-offset', `member #${i} at bit offset ${off} is past the struct size ${sizeOrType}`);
          last = off;
        }
        return;
      }
      case KIND.ENUM: case KIND.ENUM64: {
        const size = sizeOrType;
        if (size > 8 || size === 0 || (size & (size - 1)) !== 0) this.report(id, 'enum-size', `size ${size}`);
        this.requireIdent(id, nameOff, 'name', -1, true, false);
        const step = k === KIND.ENUM ? 2 : 3;
        for (let i = 0, q = p + 3; i < vlen; i++, q += step) this.requireIdent(id, W[q]!, 'enumerator', i, false, false);
        return;
      }
      case KIND.FWD:
        this.requireIdent(id, nameOff, 'name', -1, false, false);
        return;
      case KIND.FUNC:
        this.requireIdent(id, nameOff, 'name', -1, false, false);
        if (vlen > 1) this.report(id, 'func-linkage', `linkage ${vlen} (the kernel accepts static 0 and global 1)`);
        this.noKflag(id);
        if (this.refExists(id, sizeOrType, 'prototype', -1, false) && this.kind(sizeOrType) !== KIND.FUNC_PROTO) {
          this.report(id, 'func-proto', `type ${this.describe(sizeOrType)} is not a FUNC_PROTO`);
        }
        return;
      case KIND.FUNC_PROTO: {
        this.forbidName(id);
        this.noKflag(id);
        this.refExists(id, sizeOrType, 'return type', -1, true);
        for (let i = 0, q = p + 3; i < vlen; i++, q += 2) {
          const pName = W[q]!;
          const pType = W[q + 1]!;
          if (pType === 0) {
            if (i !== vlen - 1) this.report(id, 'proto-arg', `parameter #${i + 1} is void but not the last (varargs)`);
            else if (pName !== 0) this.report(id, 'proto-arg', `varargs marker #${i + 1} has a name`);
            continue;
          }
          this.refExists(id, pType, 'type of parameter', i + 1, false);
          const cls = this.nameCls(id, pName, 'name of parameter', i + 1);
          if (cls > 0 && (cls & (NAME_EMPTY | NAME_IDENT)) === 0) this.report(id, 'proto-arg', `parameter #${i + 1} name '${this.safeStr(pName) ?? ''}' is not an identifier`);
        }
        return;
      }
      case KIND.VAR: {
        this.noKflag(id);
        this.requireIdent(id, nameOff, 'name', -1, false, true);
        this.refExists(id, sizeOrType, 'variable type', -1, false);
        const linkage = W[p + 3]!;
        if (linkage !== 0 && linkage !== 1) this.report(id, 'var-linkage', `linkage ${linkage} (the kernel accepts static 0 and global-allocated 1)`);
        return;
      }
      case KIND.DATASEC:
        this.checkDatasecMeta(id, p);
        return;
      case KIND.FLOAT:
        this.nameCls(id, nameOff, 'name', -1);
        this.noKflag(id);
        if (sizeOrType !== 2 && sizeOrType !== 4 && sizeOrType !== 8 && sizeOrType !== 12 && sizeOrType !== 16) this.report(id, 'float-size', `size ${sizeOrType}`);
        return;
      case KIND.DECL_TAG: {
        this.requireValue(id, nameOff, 'decl-tag-value', 'tag value');
        this.noKflag(id);
        const component = W[p + 3]! | 0;
        if (component < -1) this.report(id, 'decl-tag-component', `component index ${component} < -1`);
        this.refExists(id, sizeOrType, 'tagged type', -1, false);
        return;
      }
    }
  }

  private entryLabel(p: number, i: number): string {
    const q = p + 3 + i * 3;
    return `entry #${i} (${this.describe(this.W[q]!)}, offset ${this.W[q + 1]}, size ${this.W[q + 2]})`;
  }

  private checkDatasecMeta(id: TypeId, p: number): void {
    const W = this.W;
    const size = W[p + 2]!;
    const vlen = W[p + 1]! & 0xffff;
    if (size === 0) this.report(id, 'datasec-size', 'size 0');
    this.noKflag(id);
    this.requireIdent(id, W[p]!, 'name', -1, false, true);
    let lastEnd = 0;
    let sum = 0;
    for (let i = 0, q = p + 3; i < vlen; i++, q += 3) {
      const vType = W[q]!;
      const vOff = W[q + 1]!;
      const vSize = W[q + 2]!;
      if (vType === 0 || vType >= this.next) this.refExists(id, vType, `variable of ${this.entryLabel(p, i)}`, -1, false);
      if (vOff < lastEnd) this.report(id, 'datasec-overlap', `${this.entryLabel(p, i)} starts before the previous entry ends (${lastEnd})`);
      else if (vOff >= size && size !== 0) this.report(id, 'datasec-bounds', `${this.entryLabel(p, i)} starts past the section size ${size}`);
      if (vSize === 0 || vSize > size) this.report(id, 'datasec-bounds', `${this.entryLabel(p, i)} has size ${vSize} (section size ${size})`);
      else if (vOff + vSize > size) this.report(id, 'datasec-bounds', `${this.entryLabel(p, i)} ends at ${vOff + vSize}, past the section size ${size}`);
      lastEnd = Math.max(lastEnd, vOff + vSize);
      sum += vSize;
    }
    if (size !== 0 && size < sum) this.report(id, 'datasec-size', `size ${size} < sum of entries ${sum}`);
  }

  // ---- resolution (sizes, loops) ----------------------------------------------------------

  /** Size of `id` (bytes), NOSIZE (void/FWD/FUNC/FUNC_PROTO/DECL_TAG), or INVALID (already reported or untrusted). */
  private resolve(id: TypeId, depth: number): number {
    if (id === 0) return NOSIZE;
    if (id >= this.next) return INVALID;
    const own = id >= this.first;
    const level = own ? undefined : this.baseLevel(id);
    if (!own && level === undefined) return INVALID;
    const sizes = level?.size ?? this.ownSize;
    const states = level?.state ?? this.ownState;
    const idx = id - (level?.start ?? this.first);
    const st = states[idx]!;
    if (st === 2) return sizes[idx]!;
    if (st === 1) {
      this.report(this.current >= this.first ? this.current : id, 'loop', `reference loop through ${this.describe(id)}`);
      return INVALID;
    }
    // The kernel's resolve stack holds at most 32 types that need resolving (sinks are not pushed).
    if (depth >= MAX_RESOLVE_DEPTH && needsResolve(this.kind(id))) {
      this.report(this.current, 'resolve-depth', `nesting deeper than ${MAX_RESOLVE_DEPTH} at ${this.describe(id)}`);
      return INVALID;
    }
    states[idx] = 1;
    const r = this.compute(id, depth);
    states[idx] = 2;
    sizes[idx] = r;
    return r;
  }

  private compute(id: TypeId, depth: number): number {
    const k = this.kind(id);
    switch (k) {
      case KIND.INT: case KIND.ENUM: case KIND.ENUM64: case KIND.FLOAT: case KIND.DATASEC:
        return this.ref(id);
      case KIND.FWD: case KIND.FUNC: case KIND.FUNC_PROTO: case KIND.DECL_TAG:
        return NOSIZE;
      case KIND.PTR:
        return 8;
      case KIND.VAR: {
        const r = this.resolve(this.ref(id), depth + 1);
        return r === NOSIZE ? INVALID : r;
      }
      case KIND.TYPEDEF: case KIND.VOLATILE: case KIND.CONST: case KIND.RESTRICT: case KIND.TYPE_TAG: {
        const target = this.ref(id);
        if (target === 0) return NOSIZE;
        if (!this.exists(target)) return INVALID;
        if (isSourceOnly(this.kind(target))) { this.report(id, 'ref-target', `refers to ${this.describe(target)}`); return INVALID; }
        // NOSIZE targets (void, FWD, FUNC, FUNC_PROTO) are fine: the kernel resolves a FUNC to its prototype.
        return this.resolve(target, depth + 1);
      }
      case KIND.ARRAY: {
        const elemType = this.w(id, 3);
        const indexType = this.w(id, 4);
        const n = this.w(id, 5);
        const ir = this.resolve(indexType, depth + 1);
        if (ir !== INVALID) {
          const it = this.skipModifiers(indexType);
          if (!this.exists(it) || !this.isRegularInt(it)) this.report(id, 'array-index', `index type ${this.describe(indexType)} is not a regular INT`);
        }
        const er = this.resolve(elemType, depth + 1);
        if (er === INVALID) return INVALID;
        if (er === NOSIZE || (this.exists(elemType) && isSourceOnly(this.kind(elemType)))) {
          this.report(id, 'array-elem', `element type ${this.describe(elemType)} has no size`);
          return INVALID;
        }
        const elem = this.skipModifiers(elemType);
        if (this.exists(elem) && this.kind(elem) === KIND.INT && !this.isRegularInt(elem)) {
          this.report(id, 'array-elem', `element type ${this.describe(elemType)} is an irregular INT`);
          return INVALID;
        }
        if (n !== 0 && er > 0xffffffff / n) { this.report(id, 'array-size', `${n} x ${er} bytes overflows u32`); return INVALID; }
        return er * n;
      }
      case KIND.STRUCT: case KIND.UNION: {
        let ok = true;
        const vlen = this.vlen(id);
        for (let i = 0; i < vlen; i++) {
          const mType = this.w(id, 3 + i * 3 + 1);
          if (!this.exists(mType)) { ok = false; continue; }
          if (isSourceOnly(this.kind(mType))) { this.report(id, 'member-type', `member #${i} type ${this.describe(mType)} cannot be a member`); ok = false; continue; }
          const r = this.resolve(mType, depth + 1);
          if (r === INVALID) { ok = false; continue; }
          if (r === NOSIZE) { this.report(id, 'member-type', `member #${i} type ${this.describe(mType)} has no size`); ok = false; continue; }
          if (id >= this.first && !this.checkMember(id, i, r)) ok = false;
        }
        return ok ? this.ref(id) : INVALID;
      }
      default:
        return INVALID;
    }
  }

  private skipModifiers(id: TypeId): TypeId {
    for (let n = 0; n < 64; n++) {
      if (!this.exists(id) || !isModifier(this.kind(id))) return id;
      id = this.ref(id);
    }
    return id;
  }

  private isRegularInt(id: TypeId): boolean {
    if (this.kind(id) !== KIND.INT) return false;
    const data = this.w(id, 3);
    const bits = data & 0xff;
    if (bits % 8 !== 0 || ((data >>> 16) & 0xff) !== 0) return false;
    const bytes = bits / 8;
    return bytes === 1 || bytes === 2 || bytes === 4 || bytes === 8 || bytes === 16;
  }

  private memberFail(id: TypeId, i: number, mName: StrOff, rule: ValidationRule, msg: string): boolean {
    this.report(id, rule, `member #${i} '${this.safeStr(mName) ?? '?'}': ${msg}`);
    return false;
  }

  /** Kernel check_member / check_kflag_member on the member's resolved (modifier-free) type. */
  private checkMember(id: TypeId, i: number, memberSize: number): boolean {
    const structSize = this.ref(id);
    const kflag = this.kflag(id);
    const mName = this.w(id, 3 + i * 3);
    const mType = this.w(id, 3 + i * 3 + 1);
    const raw = this.w(id, 3 + i * 3 + 2);
    const rid = this.skipModifiers(mType);
    if (!this.exists(rid)) return false;
    const rk = this.kind(rid);
    const bitfield = kflag ? raw >>> 24 : 0;
    const off = kflag ? raw & 0xffffff : raw;
    if (rk === KIND.INT) {
      const data = this.w(rid, 3);
      const intBits = data & 0xff;
      const intOffset = (data >>> 16) & 0xff;
      if (kflag) {
        if (!this.isRegularInt(rid)) return this.memberFail(id, i, mName, 'member-bitfield', `base type ${this.describe(rid)} is not a regular INT`);
        let nbits = bitfield;
        if (nbits === 0) {
          if (off % 8 !== 0) return this.memberFail(id, i, mName, 'member-alignment', `bit offset ${off} not byte aligned`);
          nbits = intBits;
        } else if (nbits > intBits) return this.memberFail(id, i, mName, 'member-bitfield', `bitfield size ${nbits} > ${intBits} bits of ${this.describe(rid)}`);
        const copy = nbits + (off % 8);
        if (copy > 128) return this.memberFail(id, i, mName, 'member-bitfield', `${copy} bits to copy > 128`);
        if (structSize < Math.floor(off / 8) || structSize - Math.floor(off / 8) < Math.ceil(copy / 8)) return this.memberFail(id, i, mName, 'member-size', `ends past the struct size ${structSize}`);
        return true;
      }
      const total = off + intOffset;
      const copy = intBits + (total % 8);
      if (copy > 128) return this.memberFail(id, i, mName, 'member-bitfield', `${copy} bits to copy > 128`);
      const byteOff = Math.floor(total / 8);
      if (structSize < byteOff || structSize - byteOff < Math.ceil(copy / 8)) return this.memberFail(id, i, mName, 'member-size', `ends past the struct size ${structSize}`);
      return true;
    }
    if (rk === KIND.ENUM || rk === KIND.ENUM64) {
      if (kflag) {
        let nbits = bitfield;
        if (nbits === 0) {
          if (off % 8 !== 0) return this.memberFail(id, i, mName, 'member-alignment', `bit offset ${off} not byte aligned`);
          nbits = 32;
        } else if (nbits > 32) return this.memberFail(id, i, mName, 'member-bitfield', `enum bitfield size ${nbits} > 32`);
        if (structSize < Math.ceil((off + nbits) / 8)) return this.memberFail(id, i, mName, 'member-size', `ends past the struct size ${structSize}`);
        return true;
      }
    } else if (bitfield !== 0) {
      return this.memberFail(id, i, mName, 'member-bitfield', `bitfield size ${bitfield} on ${this.describe(rid)}`);
    }
    if (rk === KIND.FLOAT) {
      const fsize = this.ref(rid);
      const align = Math.min(8, fsize) * 8;
      if (off % align !== 0) return this.memberFail(id, i, mName, 'member-alignment', `FLOAT at bit offset ${off} not aligned to ${align} bits`);
      if (Math.floor(off / 8) + fsize > structSize) return this.memberFail(id, i, mName, 'member-size', `ends past the struct size ${structSize}`);
      return true;
    }
    if (off % 8 !== 0) return this.memberFail(id, i, mName, 'member-alignment', `bit offset ${off} not byte aligned`);
    if (structSize - Math.floor(off / 8) < memberSize || Math.floor(off / 8) > structSize) return this.memberFail(id, i, mName, 'member-size', `${memberSize} bytes at byte ${Math.floor(off / 8)} end past the struct size ${structSize}`);
    return true;
  }

  // ---- checks that need resolved sizes ----------------------------------------------------

  private checkAfterResolve(id: TypeId): void {
    const k = this.kind(id);
    switch (k) {
      case KIND.PTR: {
        this.checkPtrChain(id);
        const target = this.ref(id);
        if (this.exists(target) && isSourceOnly(this.kind(target))) this.report(id, 'ref-target', `points at ${this.describe(target)}`);
        else {
          // The kernel resolves a FUNC to its prototype only when the FUNC was resolved first
          // (a smaller id); later ones fail. Refuse both: a pointer should name the FUNC_PROTO.
          const end = this.skipModifiers(target);
          if (this.exists(end) && this.kind(end) === KIND.FUNC) this.report(id, 'ref-target', `points at ${this.describe(target)}, a FUNC (point at its FUNC_PROTO)`);
        }
        return;
      }
      case KIND.VAR: {
        const target = this.ref(id);
        if (!this.exists(target)) return;
        const r = this.ownSize[id - this.first]!;
        if (isSourceOnly(this.kind(target)) || (r === INVALID && this.resolve(target, 0) === NOSIZE)) this.report(id, 'var-type', `type ${this.describe(target)} has no size`);
        return;
      }
      case KIND.DATASEC: {
        const vlen = this.vlen(id);
        for (let i = 0; i < vlen; i++) {
          const vType = this.w(id, 3 + i * 3);
          const vSize = this.w(id, 3 + i * 3 + 2);
          if (!this.exists(vType)) continue;
          if (this.kind(vType) !== KIND.VAR) { this.report(id, 'datasec-var', `entry #${i} points at ${this.describe(vType)}, not a VAR`); continue; }
          const r = this.resolve(vType, 0);
          if (r >= 0 && vSize < r) this.report(id, 'datasec-entry-size', `entry #${i} (${this.describe(vType)}) size ${vSize} < its type's size ${r}`);
        }
        return;
      }
      case KIND.FUNC: {
        const proto = this.ref(id);
        if (!this.exists(proto) || this.kind(proto) !== KIND.FUNC_PROTO) return;
        const vlen = this.vlen(proto);
        for (let i = 0; i < vlen; i++) {
          if (this.w(proto, 3 + i * 2) === 0 && this.w(proto, 3 + i * 2 + 1) !== 0) this.report(id, 'func-arg-name', `parameter #${i + 1} of ${this.describe(proto)} has no name`);
        }
        return;
      }
      case KIND.FUNC_PROTO: {
        const ret = this.ref(id);
        if (ret !== 0 && this.exists(ret)) {
          if (isSourceOnly(this.kind(ret)) || this.resolve(ret, 0) === NOSIZE) this.report(id, 'proto-return', `return type ${this.describe(ret)} has no size`);
        }
        const vlen = this.vlen(id);
        for (let i = 0; i < vlen; i++) {
          const pType = this.w(id, 3 + i * 2 + 1);
          if (pType === 0 || !this.exists(pType)) continue;
          if (isSourceOnly(this.kind(pType)) || this.resolve(pType, 0) === NOSIZE) this.report(id, 'proto-arg', `parameter #${i + 1} type ${this.describe(pType)} has no size`);
        }
        return;
      }
      case KIND.DECL_TAG: {
        const target = this.ref(id);
        if (!this.exists(target)) return;
        const tk = this.kind(target);
        if (tk !== KIND.STRUCT && tk !== KIND.UNION && tk !== KIND.FUNC && tk !== KIND.VAR && tk !== KIND.TYPEDEF) {
          this.report(id, 'decl-tag-target', `tags ${this.describe(target)}`);
          return;
        }
        const component = this.w(id, 3) | 0;
        if (component === -1) return;
        if (tk === KIND.VAR || tk === KIND.TYPEDEF) { this.report(id, 'decl-tag-component', `component index ${component} on ${this.describe(target)}`); return; }
        let vlen = 0;
        if (tk === KIND.STRUCT || tk === KIND.UNION) vlen = this.vlen(target);
        else {
          const proto = this.ref(target);
          vlen = this.exists(proto) && this.kind(proto) === KIND.FUNC_PROTO ? this.vlen(proto) : 0;
        }
        if (component >= vlen) this.report(id, 'decl-tag-component', `component index ${component} >= ${vlen} components of ${this.describe(target)}`);
        return;
      }
      default:
        return;
    }
  }

  /** A PTR/modifier chain from a PTR must end (kernel: loop detected in RESOLVE_PTR mode). */
  private checkPtrChain(start: TypeId): void {
    let id = start;
    let steps = 0;
    const first = this.first;
    // Base types are trusted: a chain reaching them ends there.
    while (id >= first && id < this.next && this.chainOk[id - first] !== 1) {
      const k = this.kind(id);
      if (k !== KIND.PTR && !isModifier(k)) break;
      if (++steps > 64 || (steps > 1 && id === start)) {
        this.report(start, 'loop', `pointer chain loops back to ${this.describe(id)}`);
        return;
      }
      id = this.ref(id);
    }
    for (let i = start, n = 0; n < steps && i >= first && i < this.next; n++) {
      this.chainOk[i - first] = 1;
      i = this.ref(i);
    }
  }

  /** Kernel btf_check_type_tags: chains of modifiers at most 32 long, TYPE_TAGs first. */
  private checkModifierChains(): void {
    let goodId = this.first - 1;
    const n = this.O.length;
    for (let i = 0; i < n; i++) {
      const id = this.first + i;
      let k = this.kind(id);
      if (!isModifier(k)) continue;
      let inTags = k === KIND.TYPE_TAG;
      let cur = id;
      let limit = MAX_MODIFIER_CHAIN;
      let bad = false;
      while (isModifier(k)) {
        if (limit-- === 0) { this.report(id, 'modifier-chain', `modifier chain longer than ${MAX_MODIFIER_CHAIN} or cyclic`); bad = true; break; }
        if (k === KIND.TYPE_TAG) {
          if (!inTags) { this.report(id, 'type-tag-order', `TYPE_TAG ${this.describe(cur)} follows a non-tag modifier`); bad = true; break; }
        } else inTags = false;
        if (cur <= goodId) break;
        cur = this.ref(cur);
        if (!this.exists(cur)) break;
        k = this.kind(cur);
      }
      if (!bad) goodId = id;
    }
  }
}
