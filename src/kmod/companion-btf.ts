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
import type { TypeId } from '../btf/types.js';
import { formatProblem, validateBtf } from '../btf/validate.js';
import { KmodError } from './errors.js';

export interface CompanionBtf {
  /** One level split on vmlinux. */
  readonly btf: Btf;
  readonly variables: number;
  readonly datasecs: number;
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

export function buildCompanionBtf(vmlinux: Btf, extras: Btf): CompanionBtf {
  if (vmlinux.base !== undefined) {
    throw new KmodError('bad-btf', 'the first --btf must be vmlinux BTF (standalone), not a split level', { file: vmlinux.source });
  }
  if (extras === vmlinux || extras.chain()[0] !== vmlinux) {
    throw new KmodError('extras-not-split', 'EXTRAS is not split on the given vmlinux BTF', { file: extras.source });
  }
  checkSplit(extras);
  const flat = flattenOnto(extras, vmlinux);
  const first = flat.startId;
  const roots: TypeId[] = [];
  let variables = 0;
  for (let id = extras.startId; id < extras.nextId; id++) {
    const k = extras.kindOf(id);
    if (k === KIND.VAR) variables++;
    if (k === KIND.VAR || k === KIND.DATASEC) roots.push(id);
  }
  if (variables === 0) throw new KmodError('no-variables', 'EXTRAS holds no variable (VAR): the companion would publish nothing', { file: extras.source });

  // Closure of the roots over the flattened level (vmlinux ids are kept as they are).
  const keep = new Uint8Array(flat.nextId - first);
  const stack = [...roots];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (id < first || keep[id - first] === 1) continue;
    keep[id - first] = 1;
    forEachTypeId(flat.type(id), (ref) => { if (ref >= first) stack.push(ref); });
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
    if (t.kind === KIND.DATASEC) datasecs++;
    mapTypeIds(t, (ref) => (ref < first ? ref : newId[ref - first]!));
    mapStrOffs(t, (off) => (off < baseStrEnd ? off : out.addStr(flat.str(off))));
    out.addType(t);
  }
  const problems = validateBtf(out);
  if (problems.length > 0) {
    throw new KmodError('invalid-btf', `companion BTF fails validation (${problems.length} problem(s)); first: ${formatProblem(problems[0]!)}`,
      { file: extras.source }, { problems });
  }
  return { btf: out, variables, datasecs };
}
