/**
 * Variable selection and DATASEC layout (pure; no DWARF or BTF reading here).
 *
 * Decides, for every static-storage variable the DWARF describes, whether the encoder emits a
 * VAR for it and, if not, which rule left it out, so `btf-extra vars` can explain every
 * exclusion with the same code the encoder uses. The rules are pahole's `global_var` ones
 * (see docs btf-facts.md) plus what the kernel needs and pahole does not do: DATASEC entries
 * sorted by offset, duplicates (the same variable seen from several CUs) removed, and no two
 * entries overlapping (aliases at one offset keep one name).
 */
import { KSYM_NAME_LEN } from '../btf/kinds.js';

/** One variable as the DWARF variable collector reports it (already resolved through specification). */
export interface VariableCandidate {
  readonly name: string | undefined;
  /** Offset of the DW_TAG_variable DIE in .debug_info (for messages and determinism). */
  readonly dieOffset: number;
  /** 'file' for CU-level variables, 'function' for function-local statics. */
  readonly scope: 'file' | 'function';
  /** DW_AT_external. */
  readonly external: boolean;
  /** A declaration with no definition in this DIE (DW_AT_declaration and no location). */
  readonly declaration: boolean;
  readonly artificial: boolean;
  /** Section-relative address from DW_OP_addr/addrx [+ plus_uconst]; undefined when there is none. */
  readonly address: { readonly sectionIndex: number; readonly offset: bigint } | undefined;
  /** Byte size of the variable's type; undefined when it cannot be resolved; 0 for void/incomplete. */
  readonly size: bigint | undefined;
  /** The type is void (no DW_AT_type) or unresolvable. */
  readonly voidType: boolean;
}

/** What the selector needs to know about the object's ELF sections and symbols. */
export interface SelectionContext {
  /** Section by index: name, size and whether it holds data (SHT_PROGBITS or SHT_NOBITS). */
  section(index: number): { readonly name: string; readonly size: bigint; readonly isData: boolean } | undefined;
  /** True when an STT_OBJECT symbol named `name` sits at `offset` of section `index`. */
  hasObjectSymbol(index: number, offset: bigint, name: string): boolean;
  /**
   * The defined STT_OBJECT symbols named `name` (section index, section-relative offset); used for
   * aliases (a symbol with only DWARF declarations at a variable's address, e.g. `jiffies`).
   */
  objectSymbols?(name: string): readonly { readonly sectionIndex: number; readonly offset: bigint }[];
  /** Names of the VARs the last level of the base chain already has, per DATASEC (section) name. */
  readonly inBase?: ReadonlyMap<string, ReadonlySet<string>> | undefined;
}

export type VarsPolicy = 'all' | 'percpu' | 'none';

export interface SelectionOptions {
  readonly vars: VarsPolicy;
  /** Leave out variables the last level of the chain already describes (extras mode). */
  readonly skipInBase: boolean;
}

/** Every reason a variable is left out, with the text `btf-extra vars` prints. */
export const EXCLUSION = {
  'function-local': 'function-local static (not encoded)',
  'declaration': 'declaration without a definition here',
  'artificial': 'compiler-generated (DW_AT_artificial)',
  'no-address': 'no static address (DW_OP_addr/addrx) in its location',
  'no-name': 'no name',
  'reserved-prefix': 'name prefix pahole never encodes (__UNIQUE_ID_, __tpstrtab_, ...)',
  'invalid-name': 'name is not a valid BTF identifier',
  'void-type': 'type is void or unresolvable',
  'bad-size': 'size is 0 or larger than 4 GiB',
  'not-data-section': 'address is not in a PROGBITS/NOBITS section',
  'outside-section': 'extends past the end of its section',
  'offset0-no-symbol': 'at offset 0 of its section with no same-named object symbol (alias or discarded)',
  'not-percpu': 'not per-CPU (--vars percpu)',
  'vars-none': 'variables not encoded (--vars none)',
  'in-base': 'already described by the base BTF',
  'duplicate': 'same variable already seen in another compile unit',
  'overlap': 'overlaps another variable in the same section',
  'invalid-type': 'its type cannot be encoded as valid BTF on this chain',
} as const;
export type ExclusionReason = keyof typeof EXCLUSION;

/** Name prefixes pahole's global_var encoding skips. */
export const SKIPPED_PREFIXES = [
  '__UNIQUE_ID', '__tpstrtab_', '__exitcall_', '__gendwarfksyms_ptr_', '__func_stack_frame_non_standard_',
] as const;

export const PERCPU_SECTION = '.data..percpu';
/** BTF sizes are u32. */
const MAX_VAR_SIZE = 0xffffffffn;

export interface SelectedVariable {
  readonly candidate: VariableCandidate;
  readonly name: string;
  readonly sectionIndex: number;
  readonly sectionName: string;
  readonly offset: number;
  readonly size: number;
  /** BTF VAR linkage: 1 global allocated (DW_AT_external), 0 static. */
  readonly linkage: 0 | 1;
  /** For an alias: the name of the variable whose storage it names. */
  readonly aliasOf?: string | undefined;
}

export interface ExcludedVariable {
  readonly candidate: VariableCandidate;
  /** Name of the section the variable's address is in, when it has one. */
  readonly sectionName?: string | undefined;
  readonly reason: ExclusionReason;
  /** Extra words, e.g. the variable kept instead of this one. */
  readonly detail?: string | undefined;
}

export interface SectionLayout {
  readonly name: string;
  readonly index: number;
  /** DATASEC size: the ELF section's size (never smaller than the end of the last entry). */
  readonly size: number;
  /** Sorted by offset, non-overlapping. */
  readonly vars: readonly SelectedVariable[];
  /**
   * True for the second DATASEC of a section, holding its aliases: they overlap the variables
   * whose storage they name, and one DATASEC's entries may not overlap (docs/btf.md, "Aliases").
   */
  readonly aliases?: true | undefined;
}

export interface Selection {
  /** One entry per ELF section that keeps a variable, sorted by section name. */
  readonly sections: readonly SectionLayout[];
  readonly excluded: readonly ExcludedVariable[];
}

/** The kernel's btf_name_valid_identifier, with '.' allowed anywhere after the first char (VAR names). */
export function isValidVarName(name: string): boolean {
  if (name.length === 0 || name.length >= KSYM_NAME_LEN) return false;
  const c0 = name.charCodeAt(0);
  if (!(isAlpha(c0) || c0 === 0x5f || c0 === 0x2e)) return false;
  for (let i = 1; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (!(isAlpha(c) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2e)) return false;
  }
  return true;
}
function isAlpha(c: number): boolean { return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a); }

/**
 * The per-variable rules (everything except duplicates and overlaps, which need the whole set).
 * Returns the reason the variable is out, or undefined when it stays a candidate.
 */
export function checkVariable(
  v: VariableCandidate, ctx: SelectionContext, opts: SelectionOptions,
): { reason: ExclusionReason; detail?: string } | undefined {
  if (opts.vars === 'none') return { reason: 'vars-none' };
  if (v.scope === 'function') return { reason: 'function-local' };
  if (v.artificial) return { reason: 'artificial' };
  if (v.address === undefined) return { reason: v.declaration ? 'declaration' : 'no-address' };
  const name = v.name;
  if (name === undefined || name === '') return { reason: 'no-name' };
  if (SKIPPED_PREFIXES.some((p) => name.startsWith(p))) return { reason: 'reserved-prefix' };
  if (!isValidVarName(name)) return { reason: 'invalid-name' };
  if (v.voidType || v.size === undefined) return { reason: 'void-type' };
  if (v.size <= 0n || v.size > MAX_VAR_SIZE) return { reason: 'bad-size', detail: `size ${v.size}` };
  const sec = ctx.section(v.address.sectionIndex);
  if (sec === undefined || !sec.isData) {
    return { reason: 'not-data-section', detail: sec ? sec.name : `section #${v.address.sectionIndex}` };
  }
  if (v.address.offset < 0n || v.address.offset + v.size > sec.size) {
    return { reason: 'outside-section', detail: `${sec.name}+0x${v.address.offset.toString(16)}` };
  }
  if (v.address.offset === 0n && !ctx.hasObjectSymbol(v.address.sectionIndex, 0n, name)) {
    return { reason: 'offset0-no-symbol', detail: sec.name };
  }
  if (opts.vars === 'percpu' && sec.name !== PERCPU_SECTION) return { reason: 'not-percpu' };
  if (opts.skipInBase && ctx.inBase?.get(sec.name)?.has(name)) return { reason: 'in-base' };
  return undefined;
}

/**
 * Applies every rule to every candidate and lays out one DATASEC per section. Deterministic:
 * the result depends only on the candidates' contents, not on their order.
 */
export function selectVariables(
  candidates: readonly VariableCandidate[], ctx: SelectionContext, opts: SelectionOptions,
): Selection {
  const excluded: ExcludedVariable[] = [];
  const bySection = new Map<number, SelectedVariable[]>();
  for (const v of candidates) {
    const out = checkVariable(v, ctx, opts);
    if (out !== undefined) {
      excluded.push({ candidate: v, sectionName: v.address ? ctx.section(v.address.sectionIndex)?.name : undefined, ...out });
      continue;
    }
    const addr = v.address!;
    const sec = ctx.section(addr.sectionIndex)!;
    const sel: SelectedVariable = {
      candidate: v, name: v.name!, sectionIndex: addr.sectionIndex, sectionName: sec.name,
      offset: Number(addr.offset), size: Number(v.size!), linkage: v.external ? 1 : 0,
    };
    const list = bySection.get(addr.sectionIndex);
    if (list) list.push(sel); else bySection.set(addr.sectionIndex, [sel]);
  }

  const sections: SectionLayout[] = [];
  for (const [index, list] of bySection) {
    // Offset first; at one offset the external (the real symbol) first, then the larger, then by name
    // and DIE offset so the winner of an alias or duplicate never depends on CU order.
    list.sort((a, b) => a.offset - b.offset
      || b.linkage - a.linkage
      || b.size - a.size
      || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
      || a.candidate.dieOffset - b.candidate.dieOffset);
    const kept: SelectedVariable[] = [];
    let end = 0;
    for (const v of list) {
      const prev = kept[kept.length - 1];
      if (prev !== undefined && v.offset < end) {
        const same = prev.name === v.name && prev.offset === v.offset && prev.size === v.size;
        excluded.push({
          candidate: v.candidate, sectionName: v.sectionName, reason: same ? 'duplicate' : 'overlap',
          detail: same ? undefined : `kept ${prev.name} at +0x${prev.offset.toString(16)} size ${prev.size}`,
        });
        continue;
      }
      kept.push(v);
      end = v.offset + v.size;
    }
    const sec = ctx.section(index)!;
    sections.push({ name: sec.name, index, size: Math.max(Number(sec.size), end), vars: kept });
  }
  if (ctx.objectSymbols !== undefined) sections.push(...selectAliases(sections, excluded, ctx, opts));
  sections.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.index - b.index || Number(a.aliases ?? false) - Number(b.aliases ?? false)));
  excluded.sort((a, b) => a.candidate.dieOffset - b.candidate.dieOffset);
  return { sections, excluded };
}

/**
 * The selection with the variables in `drops` (by DIE offset, with the problem that rules them
 * out) moved from their sections to the excluded list as 'invalid-type'. The encoder calls it
 * after validating its output, and `btf-extra vars --explain` with the encoder's answer.
 */
export function excludeVariables(selection: Selection, drops: ReadonlyMap<number, string>): Selection {
  if (drops.size === 0) return selection;
  const excluded = [...selection.excluded];
  const sections: SectionLayout[] = [];
  for (const sec of selection.sections) {
    const vars = sec.vars.filter((v) => {
      const detail = drops.get(v.candidate.dieOffset);
      if (detail === undefined) return true;
      excluded.push({ candidate: v.candidate, sectionName: v.sectionName, reason: 'invalid-type', detail });
      return false;
    });
    if (vars.length > 0) sections.push({ ...sec, vars });
  }
  excluded.sort((a, b) => a.candidate.dieOffset - b.candidate.dieOffset);
  return { sections, excluded };
}

/**
 * Aliases: an external declaration with no definition in the object whose name is a defined
 * object symbol inside a kept variable's storage (`jiffies`: a linker alias of `jiffies_64`, size
 * 0, DWARF declarations only) is kept with its declared type, in a second DATASEC of the section
 * (`aliases`). One declaration per name (the lowest DIE offset); it must fit in the variable it
 * names. Takes the chosen declarations out of `excluded`.
 */
function selectAliases(
  sections: readonly SectionLayout[], excluded: ExcludedVariable[], ctx: SelectionContext, opts: SelectionOptions,
): SectionLayout[] {
  const kept = new Set<string>();
  const byIndex = new Map<number, SectionLayout>();
  for (const s of sections) { byIndex.set(s.index, s); for (const v of s.vars) kept.add(v.name); }
  const chosen = new Map<string, ExcludedVariable>();
  for (const e of excluded) {
    const c = e.candidate;
    if (e.reason !== 'declaration' || !c.external || c.scope !== 'file' || c.artificial || c.voidType) continue;
    const name = c.name;
    if (name === undefined || kept.has(name) || !isValidVarName(name) || SKIPPED_PREFIXES.some((p) => name.startsWith(p))) continue;
    if (c.size === undefined || c.size <= 0n || c.size > MAX_VAR_SIZE) continue;
    const known = chosen.get(name);
    if (known === undefined || c.dieOffset < known.candidate.dieOffset) chosen.set(name, e);
  }
  const bySection = new Map<number, SelectedVariable[]>();
  const taken = new Set<ExcludedVariable>();
  const entryOf = new Map<SelectedVariable, ExcludedVariable>();
  for (const [name, e] of [...chosen].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const size = Number(e.candidate.size!);
    const syms = [...ctx.objectSymbols!(name)].sort((a, b) => a.sectionIndex - b.sectionIndex || Number(a.offset - b.offset));
    for (const sym of syms) {
      const layout = byIndex.get(sym.sectionIndex);
      const offset = Number(sym.offset);
      const host = layout?.vars.find((v) => v.offset <= offset && offset < v.offset + v.size);
      if (layout === undefined || host === undefined || offset + size > host.offset + host.size) continue;
      if (opts.skipInBase && ctx.inBase?.get(layout.name)?.has(name)) break;
      const sel: SelectedVariable = {
        candidate: e.candidate, name, sectionIndex: layout.index, sectionName: layout.name, offset, size, linkage: 1, aliasOf: host.name,
      };
      const list = bySection.get(layout.index);
      if (list) list.push(sel); else bySection.set(layout.index, [sel]);
      entryOf.set(sel, e);
      taken.add(e);
      break;
    }
  }
  const out: SectionLayout[] = [];
  for (const [index, list] of bySection) {
    list.sort((a, b) => a.offset - b.offset || (a.name < b.name ? -1 : 1));
    const vars: SelectedVariable[] = [];
    let end = 0;
    for (const v of list) {
      const prev = vars[vars.length - 1];
      if (prev !== undefined && v.offset < end) {
        const e = entryOf.get(v)!;
        taken.delete(e);
        excluded[excluded.indexOf(e)] = { candidate: v.candidate, sectionName: v.sectionName, reason: 'overlap', detail: `kept alias ${prev.name} at +0x${prev.offset.toString(16)} size ${prev.size}` };
        continue;
      }
      vars.push(v);
      end = v.offset + v.size;
    }
    const main = byIndex.get(index)!;
    out.push({ name: main.name, index, size: main.size, vars, aliases: true });
  }
  for (let i = excluded.length - 1; i >= 0; i--) if (taken.has(excluded[i]!)) excluded.splice(i, 1);
  return out;
}
