/**
 * Rewrites of an encoded level before it is written: pruning what nothing reaches, and leaving
 * out the variables whose type cannot be encoded validly (so one such variable never costs the
 * object's other variables). Both keep the order of what stays and renumber it densely.
 */
import { Btf } from '../btf/btf.js';
import { KIND, cloneType, forEachTypeId, mapStrOffs, mapTypeIds } from '../btf/kinds.js';
import { EncoderError, type EncoderWarning } from './errors.js';
import { encodedProblems } from './output.js';
import { excludeVariables, type Selection } from './select.js';

/**
 * Drops own types no VAR/DATASEC/FUNC reaches (what dedup leaves behind when it merges a parent
 * into a chain type but keeps a child copy), renumbering the rest in order.
 */
export function pruneUnreachable(btf: Btf): Btf {
  const first = btf.startId;
  const keep = new Uint8Array(btf.types.length);
  const stack: number[] = [];
  btf.types.forEach((t, i) => {
    if (t.kind === KIND.VAR || t.kind === KIND.DATASEC || t.kind === KIND.FUNC) { keep[i] = 1; stack.push(first + i); }
  });
  while (stack.length > 0) {
    const id = stack.pop()!;
    forEachTypeId(btf.types[id - first]!, (ref) => {
      if (ref >= first && keep[ref - first] === 0) { keep[ref - first] = 1; stack.push(ref); }
    });
  }
  if (keep.every((k) => k === 1)) return btf;
  return rebuild(btf, keep);
}

/** The level with only the types `keep` marks (DATASEC entries of dropped VARs removed, empty DATASECs dropped). */
function rebuild(btf: Btf, keep: Uint8Array): Btf {
  const first = btf.startId;
  btf.types.forEach((t, i) => {
    if (t.kind === KIND.DATASEC && keep[i] && !t.vars.some((v) => v.type < first || keep[v.type - first])) keep[i] = 0;
  });
  const newId = new Int32Array(btf.types.length);
  let next = first;
  keep.forEach((k, i) => { if (k) newId[i] = next++; });
  const out = new Btf({ base: btf.base, source: btf.source });
  btf.types.forEach((t, i) => {
    if (!keep[i]) return;
    const c = cloneType(t);
    if (c.kind === KIND.DATASEC) c.vars = c.vars.filter((v) => v.type < first || keep[v.type - first]);
    mapTypeIds(c, (ref) => (ref >= first ? newId[ref - first]! : ref));
    mapStrOffs(c, (off) => (off === 0 ? 0 : out.strings.add(btf.str(off))));
    out.addType(c);
  });
  return out;
}

/**
 * Validates the level; a problem in a type that only some variables reach (e.g. an array of a
 * chain FWD, a size the kernel refuses) leaves those variables out: their VARs and DATASEC
 * entries go, the selection records them as 'invalid-type' with the problem, and a warning
 * names each. Extras mode (`prune`) also drops the types only they used. What no variable
 * explains (a broken function or type root in full mode) throws EncoderError('invalid-output').
 */
export function dropInvalidVariables(
  btf: Btf, selection: Selection, opts: { prune: boolean; file: string },
): { btf: Btf; selection: Selection; warnings: EncoderWarning[] } {
  const warnings: EncoderWarning[] = [];
  for (;;) {
    const problems = encodedProblems(btf);
    if (problems.length === 0) return { btf, selection, warnings };
    const first = btf.startId;
    const bad = new Map<number, string>(); // own type id -> first problem
    for (const p of problems) if (p.id !== undefined && p.id >= first && !bad.has(p.id)) bad.set(p.id, p.text);
    // Each VAR in DATASEC order, paired with its selected variable (emitted in the same order).
    const drops = new Map<number, string>(); // dieOffset -> problem
    const dropIds = new Set<number>();
    const vars = selection.sections.flatMap((s) => s.vars);
    let k = 0;
    for (const t of btf.types) {
      if (t.kind !== KIND.DATASEC) continue;
      for (const e of t.vars) {
        const sel = vars[k++];
        const problem = sel === undefined ? undefined : firstProblemReached(btf, e.type, bad);
        if (problem === undefined) continue;
        drops.set(sel!.candidate.dieOffset, problem);
        dropIds.add(e.type);
        warnings.push({ dieOffset: sel!.candidate.dieOffset, message: `variable ${sel!.name} left out: its type cannot be encoded as valid BTF on this chain (${problem})` });
      }
    }
    if (dropIds.size === 0 || k !== vars.length) {
      throw new EncoderError('invalid-output', `encoded BTF is invalid (${problems.length} problems), first: ${problems[0]!.text}`, { file: opts.file });
    }
    const keep = new Uint8Array(btf.types.length).fill(1);
    for (const id of dropIds) keep[id - first] = 0;
    btf = rebuild(btf, keep);
    if (opts.prune) btf = pruneUnreachable(btf);
    selection = excludeVariables(selection, drops);
  }
}

/** The first problem found among the own types `root` reaches (itself included). */
function firstProblemReached(btf: Btf, root: number, bad: ReadonlyMap<number, string>): string | undefined {
  const first = btf.startId;
  const seen = new Set<number>([root]);
  const stack = [root];
  while (stack.length > 0) {
    const id = stack.pop()!;
    const p = bad.get(id);
    if (p !== undefined) return p;
    forEachTypeId(btf.types[id - first]!, (ref) => {
      if (ref >= first && !seen.has(ref)) { seen.add(ref); stack.push(ref); }
    });
  }
  return undefined;
}
