/**
 * The `.BTF` of a companion module. The kernel parses module BTF split on vmlinux only (a 3-level
 * chain is refused), so the chain vmlinux -> MODULE -> EXTRAS is flattened onto vmlinux
 * (merge.ts flattenOnto), then cut down to what the variables of EXTRAS need: their VARs and
 * DATASECs and every type they reach that vmlinux lacks (the module's own types included). Module
 * FUNCs stay out: a second copy would point fentry/kfunc lookups at a module with no such symbol.
 * The result is validated with the kernel's rules before anyone can write it: the kernel does not
 * check type ids in module BTF itself (hazard 2), so a bad blob would reach BPF programs.
 */
import { Btf } from '../btf/btf.js';
import { cloneType, forEachStrOff, forEachTypeId, KIND, mapStrOffs, mapTypeIds } from '../btf/kinds.js';
import { flattenOnto } from '../btf/merge.js';
import type { BtfType, TypeId } from '../btf/types.js';
import { formatProblem, validateBtf } from '../btf/validate.js';
import { KmodError } from './errors.js';

export interface CompanionBtf {
  /** One level split on vmlinux. */
  readonly btf: Btf;
  readonly variables: number;
  readonly datasecs: number;
  /** Variables left out, with why (see kallsyms.ts: the kernel finds a __ksym's address by name). */
  readonly dropped: readonly { readonly name: string; readonly reason: 'duplicate-name' | 'ambiguous-address' }[];
}

export interface CompanionBtfOptions {
  /**
   * False for a variable whose name the kernel's by-name address lookup would not resolve to it
   * (kallsyms.ts nameResolvesTo); it is left out. Default: every name is kept unless duplicated.
   */
  readonly resolvesByName?: (name: string) => boolean;
}

/**
 * 'extras-not-split' unless every type id and string offset EXTRAS' own records use exists in
 * its chain: a level read on the wrong chain points past its ends (the format stores no start id).
 */
export function checkSplit(extras: Btf): void {
  const lastId = extras.nextId - 1;
  const strEnd = extras.strings.end;
  extras.types.forEach((t, i) => {
    const id = extras.startId + i;
    const fail = (what: string): never => {
      throw new KmodError('extras-not-split', `${what}: EXTRAS is not split on the given --btf chain (ids 1..${lastId}, ${strEnd} string bytes)`,
        { file: extras.source }, { id });
    };
    forEachTypeId(t, (ref) => { if (ref > lastId) fail(`type [${id}] refers to type id ${ref}`); });
    forEachStrOff(t, (off) => { if (off >= strEnd) fail(`type [${id}] names string offset ${off}`); });
  });
}

export function buildCompanionBtf(vmlinux: Btf, extras: Btf, opts: CompanionBtfOptions = {}): CompanionBtf {
  if (vmlinux.base !== undefined) {
    throw new KmodError('bad-btf', 'the first --btf must be vmlinux BTF (standalone), not a split level', { file: vmlinux.source });
  }
  if (extras === vmlinux || extras.chain()[0] !== vmlinux) {
    throw new KmodError('extras-not-split', 'EXTRAS is not split on the given vmlinux BTF', { file: extras.source });
  }
  checkSplit(extras);
  const flat = flattenOnto(extras, vmlinux);
  const first = flat.startId;
  // Variables left out: every VAR of a name that EXTRAS holds more than once (a by-name address
  // lookup cannot tell them apart), and those the caller knows resolve to another symbol.
  const varIds: TypeId[] = [];
  const nameCount = new Map<string, number>();
  for (let id = extras.startId; id < extras.nextId; id++) {
    if (extras.kindOf(id) !== KIND.VAR) continue;
    varIds.push(id);
    const name = extras.nameOf(id);
    nameCount.set(name, (nameCount.get(name) ?? 0) + 1);
  }
  if (varIds.length === 0) throw new KmodError('no-variables', 'EXTRAS holds no variable (VAR): the companion would publish nothing', { file: extras.source });
  const dropped: { name: string; reason: 'duplicate-name' | 'ambiguous-address' }[] = [];
  const droppedIds = new Set<TypeId>();
  for (const id of varIds) {
    const name = extras.nameOf(id);
    const reason = nameCount.get(name)! > 1 ? 'duplicate-name' : opts.resolvesByName && !opts.resolvesByName(name) ? 'ambiguous-address' : undefined;
    if (reason !== undefined) { droppedIds.add(id); dropped.push({ name, reason }); }
  }
  const variables = varIds.length - droppedIds.size;
  if (variables === 0) {
    throw new KmodError('no-variables', `every variable of EXTRAS (${varIds.length}) was left out as ambiguous by name`, { file: extras.source });
  }
  /** Own references of `t`, without the DATASEC entries of dropped VARs. */
  const refsOf = (t: BtfType, fn: (id: TypeId) => void): void => {
    if (t.kind === KIND.DATASEC) { for (const v of t.vars) if (!droppedIds.has(v.type)) fn(v.type); return; }
    forEachTypeId(t, fn);
  };
  const roots: TypeId[] = [];
  for (let id = extras.startId; id < extras.nextId; id++) {
    const t = flat.type(id);
    if (t.kind === KIND.VAR && !droppedIds.has(id)) roots.push(id);
    if (t.kind === KIND.DATASEC && t.vars.some((v) => !droppedIds.has(v.type))) roots.push(id);
  }

  // Closure of the roots over the flattened level (vmlinux ids are kept as they are).
  const keep = new Uint8Array(flat.nextId - first);
  const stack = [...roots];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (id < first || keep[id - first] === 1) continue;
    keep[id - first] = 1;
    refsOf(flat.type(id), (ref) => { if (ref >= first) stack.push(ref); });
  }
  const newId = new Int32Array(keep.length).fill(-1);
  let next = first;
  for (let i = 0; i < keep.length; i++) if (keep[i] === 1) newId[i] = next++;

  const out = new Btf({ base: vmlinux, source: `${extras.source ?? 'extras'} (companion)` });
  const baseStrEnd = vmlinux.strings.end;
  let datasecs = 0;
  for (let i = 0; i < keep.length; i++) {
    if (keep[i] !== 1) continue;
    const t = cloneType(flat.types[i]!);
    if (t.kind === KIND.DATASEC) {
      datasecs++;
      t.vars = t.vars.filter((v) => !droppedIds.has(v.type));
    }
    mapTypeIds(t, (ref) => (ref < first ? ref : newId[ref - first]!));
    mapStrOffs(t, (off) => (off < baseStrEnd ? off : out.addStr(flat.str(off))));
    out.addType(t);
  }
  const problems = validateBtf(out);
  if (problems.length > 0) {
    throw new KmodError('invalid-btf', `companion BTF fails validation (${problems.length} problem(s)); first: ${formatProblem(problems[0]!)}`,
      { file: extras.source }, { problems });
  }
  return { btf: out, variables, datasecs, dropped };
}
