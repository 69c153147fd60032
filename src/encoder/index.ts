/**
 * The encoder: ELF + DWARF object -> BTF, split on a base chain of any depth.
 *
 * Design
 * ------
 * Two modes share one pipeline:
 *  - extras (default): only the variables the last level of the chain does not describe, plus
 *    exactly the types they need that the chain lacks; one DATASEC per ELF section.
 *  - full: what `pahole -J --btf_base` does (pahole 1.24 rules, kernel flags): every CU-level
 *    type, every ftrace-able function (__mcount_loc), variables per --vars (default percpu).
 *
 * Pipeline (work that is never done is the cheapest):
 *  1. walk.ts: ONE pass over .debug_info looking at CU-level DIEs only; function bodies and type
 *     subtrees are jumped over through DW_AT_sibling. Variables get their section-relative
 *     address from DW_OP_addr/addrx [+ plus_uconst] with ET_REL relocations applied.
 *  2. select.ts (pure): pahole's global_var rules + ours (sorted, no duplicates, no overlaps),
 *     one reason per excluded variable (shared with `btf-extra vars`); DATASEC layout.
 *  3. proto.ts: only the type DIEs reachable from what is encoded are decoded, into "protos"
 *     (BtfType records with local refs), each unit as the walk leaves it (its DIE memo is then a
 *     dense array). chunks.ts cuts a large object (vmlinux) into chunks of units decoded apart,
 *     on worker threads when there are cores to spare; the cut depends only on the input, so
 *     the output is the same bytes with any number of threads. The DWARF is released after.
 *  4. match.ts: each proto is looked up in the chain (named types by name + libbpf-style graph
 *     equivalence, FWD-tolerant, treating identical chain copies as one; reference types
 *     bottom-up through per-level indexes built from the raw words). Everything the chain has
 *     keeps its chain id and its subgraph is never emitted: for a module almost every kernel
 *     struct. Base levels are never materialised (btf objects decoded one at a time).
 *  5. encode.ts: the unmatched closure is emitted as a new level on top of the chain, then VARs
 *     and DATASECs. The copies several CUs make of one type were already collapsed (header types
 *     by declaration coordinates, the rest by hash-consing and signatures), so extras need no
 *     dedup pass (tests prove with libbpf's btf__dedup that none would remove anything); full
 *     mode runs btf/dedup.ts (libbpf-equivalent) as pahole does, e.g. to merge identical FUNCs.
 *  6. The caller validates (btf/validate.ts) and writes atomically; invalid BTF is never written.
 * Output is a pure function of the input bytes (no maps iterated in insertion-dependent order
 * from parallel work, no timestamps): same input -> same bytes.
 */
export { encodeObject, encodeElf, varsOfLevel, type EncodeOptions, type EncodeResult, type EncodeMode, type EncodeStats } from './encode.js';
export {
  selectVariables, checkVariable, isValidVarName, EXCLUSION, SKIPPED_PREFIXES, PERCPU_SECTION,
  type ExclusionReason, type VariableCandidate, type SelectionContext, type SelectionOptions, type Selection,
  type SectionLayout, type SelectedVariable, type ExcludedVariable, type VarsPolicy,
} from './select.js';
export { EncoderError, ENCODER_ERROR_CODES, formatWarning, type EncoderErrorCode, type EncoderWarning } from './errors.js';
export { BaseCache, readBaseChain, readBaseBytes } from './chain.js';
export { elfSelectionContext } from './walk.js';
export { explainVariables, candidateOf, type VariableDecision } from './explain.js';
export { checkEncoded } from './output.js';
