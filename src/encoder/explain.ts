/**
 * The encoder's variable decisions for the DWARF reader's variable list (src/dwarf/variables.ts):
 * `btf-extra vars` calls `explainVariables` to say, for every variable, whether the encoder keeps
 * it and, if not, which rule (select.ts's EXCLUSION) left it out. Same rules, same code path as
 * encodeElf, so the two cannot disagree; what only the encoded BTF can tell (a type that cannot be
 * encoded validly on this chain, 'invalid-type') comes from running the encoder itself.
 */
import type { Btf } from '../btf/btf.js';
import type { Dwarf } from '../dwarf/dwarf.js';
import type { StaticVariable } from '../dwarf/variables.js';
import type { ElfFile } from '../elf/index.js';
import { encodeElf, varsOfLevel } from './encode.js';
import {
  excludeVariables, selectVariables, type ExclusionReason, type SelectedVariable, type VariableCandidate, type VarsPolicy,
} from './select.js';
import { elfSelectionContext } from './walk.js';
import { ProtoGraph } from './proto.js';

export interface VariableDecision {
  readonly variable: StaticVariable;
  /** Undefined when kept. */
  readonly reason: ExclusionReason | undefined;
  readonly detail?: string | undefined;
}

/** Adapts one collector record to the selector's input (`size` overrides the collector's). */
export function candidateOf(v: StaticVariable, size: number | undefined = v.size): VariableCandidate {
  const hasAddress = !v.implicitValue && v.sectionIndex !== undefined;
  return {
    name: v.name === '' ? undefined : v.name,
    dieOffset: v.dieOffset,
    scope: v.scope,
    external: v.linkage === 'external',
    declaration: false,
    artificial: v.artificial,
    address: hasAddress ? { sectionIndex: v.sectionIndex!, offset: v.offset } : undefined,
    size: size === undefined ? undefined : BigInt(size),
    voidType: v.typeOffset === undefined,
  };
}

/**
 * Decision per variable, in the input order. `base` is the chain the output would be split on
 * (its top level's VARs count as "already described" in extras mode). Sizes are computed from
 * the type DIEs exactly as the encoder computes them (BTF type sizes).
 */
export function explainVariables(
  elf: ElfFile, dwarf: Dwarf, variables: readonly StaticVariable[],
  opts: { base?: Btf | undefined; mode?: 'extras' | 'full'; vars?: VarsPolicy } = {},
): VariableDecision[] {
  const mode = opts.mode ?? 'extras';
  const vars = opts.vars ?? (mode === 'extras' ? 'all' : 'percpu');
  const graph = new ProtoGraph(dwarf);
  const refs = variables.map((v) => graph.ref(v.typeOffset));
  graph.drain();
  const candidates = variables.map((v, i) => candidateOf(v, refs[i] === 0 ? undefined : graph.byteSize(refs[i]!)));
  const ctx = elfSelectionContext(elf, opts.base ? varsOfLevel(opts.base) : undefined);
  let sel = selectVariables(candidates, ctx, { vars, skipInBase: mode === 'extras' });
  if (sel.sections.length > 0) {
    const encoded = encodeElf(elf, { base: opts.base, mode, vars });
    const invalid = new Map<number, string>();
    for (const e of encoded.selection.excluded) if (e.reason === 'invalid-type') invalid.set(e.candidate.dieOffset, e.detail ?? '');
    sel = excludeVariables(sel, invalid);
  }
  const out = new Map<VariableCandidate, { reason: ExclusionReason | undefined; detail?: string | undefined }>();
  for (const s of sel.sections) for (const v of s.vars) out.set(v.candidate, { reason: undefined });
  for (const e of sel.excluded) out.set(e.candidate, { reason: e.reason, detail: e.detail });
  return candidates.map((c, i) => ({ variable: variables[i]!, ...(out.get(c) ?? { reason: undefined }) }));
}

export type { SelectedVariable };
