/**
 * The static-storage variable collector, shared by `btf-extra vars` and the encoder.
 *
 * Finds every DW_TAG_variable with static storage:
 *  - file scope: direct children of a compile/partial unit with a static location
 *    (DW_OP_addr / addrx [+ plus_uconst]); a definition with DW_AT_specification takes its
 *    name, type and DW_AT_external from the declaration;
 *  - function scope: variables anywhere inside a DW_TAG_subprogram (lexical blocks and
 *    inlined subroutines included) with a static location.
 * It descends only where such variables can be (units, subprograms, lexical blocks,
 * inlined subroutines) and jumps over everything else through DW_AT_sibling.
 * The address is mapped to its ELF section: ET_REL addresses are section-relative already;
 * ET_EXEC addresses are looked up in the SHF_ALLOC section table.
 * Output order is DIE order (deterministic).
 */
import { ET, STT, type ElfFile } from '../elf/index.js';
import { DW_AT, DW_TAG } from './constants.js';
import { CTypePrinter } from './ctype.js';
import type { Dwarf, DieCursor } from './dwarf.js';
import { locationAddress } from './location.js';
import type { DwarfAddress } from './section.js';
import { dieName, isExternal, typeRef } from './values.js';

export interface StaticVariable {
  /** Name (through DW_AT_specification / abstract_origin); '' when the DWARF has none. */
  readonly name: string;
  readonly linkage: 'external' | 'static';
  readonly scope: 'file' | 'function';
  /** Name of the enclosing subprogram, for function scope. */
  readonly function: string | undefined;
  /** .debug_info offset of the defining DIE. */
  readonly dieOffset: number;
  /** .debug_info offset of the declaration (DW_AT_specification target), if any. */
  readonly declarationOffset: number | undefined;
  /** .debug_info offset of the unit header. */
  readonly unitOffset: number;
  /** .debug_info offset of the type DIE (undefined = void / missing). */
  readonly typeOffset: number | undefined;
  readonly artificial: boolean;
  /**
   * True for `DW_OP_addr A; DW_OP_stack_value`: an optimised local whose value is the address
   * A of some other object; it has no storage of its own (kept so counts match elfutils';
   * consumers that want storage must drop these).
   */
  readonly implicitValue: boolean;
  /** The relocated location address as DWARF gives it. */
  readonly address: DwarfAddress;
  /** ELF section holding the variable (undefined when no section contains the address). */
  readonly sectionIndex: number | undefined;
  readonly sectionName: string | undefined;
  /** Offset inside that section (the address itself when there is no section). */
  readonly offset: bigint;
  /** Size from the type (undefined for incomplete types). */
  readonly size: number | undefined;
  /**
   * Only when `size` is undefined: st_size of the same-named STT_OBJECT symbol at the same
   * section and offset, if there is one. GCC leaves some defined arrays incomplete in DWARF
   * (`static struct cpuhp_step cpuhp_hp_states[] = {...}` after a tentative declaration).
   */
  readonly symbolSize: bigint | undefined;
  /** C spelling of the type. */
  readonly cType: string;
}

export interface VariableScan {
  readonly variables: StaticVariable[];
  /** Compile/partial units scanned. */
  readonly units: number;
  /** File-scope declarations (DW_AT_declaration) seen. */
  readonly declarations: number;
}

export interface CollectOptions {
  /** Include function-local statics (default true). */
  readonly functionStatics?: boolean;
  /** Compute the C type spelling and size (default true; the encoder may not need them). */
  readonly types?: boolean;
}

/** Collect every static-storage variable of `dwarf` (see module header). */
export function collectVariables(dwarf: Dwarf, options: CollectOptions = {}): VariableScan {
  const withFunctions = options.functionStatics ?? true;
  const withTypes = options.types ?? true;
  const printer = new CTypePrinter(dwarf);
  const elf = dwarf.elf;
  const variables: StaticVariable[] = [];
  let units = 0;
  let declarations = 0;
  // Enclosing subprogram per depth (function-scope names).
  const fnNames: (string | undefined)[] = [];
  const fnOffsets: number[] = [];

  const record = (c: DieCursor, scope: 'file' | 'function', fn: string | undefined): void => {
    const loc = locationAddress(c);
    if (loc === undefined) return;
    const address = loc.address;
    const spec = c.ref(DW_AT.specification);
    // bounded: a specification cycle (hostile DWARF) overflowed the stack when this recursed
    const typeOffset = typeRef(dwarf, c);
    const place = placeAddress(elf, address);
    variables.push({
      name: dieName(dwarf, c) ?? '',
      linkage: isExternal(dwarf, c) ? 'external' : 'static',
      scope,
      function: fn,
      dieOffset: c.offset,
      declarationOffset: spec,
      unitOffset: c.unit.offset,
      typeOffset,
      artificial: c.flag(DW_AT.artificial),
      implicitValue: loc.implicitValue,
      address,
      sectionIndex: place.section?.index,
      sectionName: place.section?.name,
      offset: place.offset,
      size: withTypes ? printer.size(typeOffset) : undefined,
      symbolSize: undefined,
      cType: withTypes ? printer.name(typeOffset) : '',
    });
  };

  for (const unit of dwarf.units()) {
    units++;
    const c = unit.cursor();
    if (!c.next()) continue;
    const rootTag: number = c.tag;
    if (rootTag !== DW_TAG.compile_unit && rootTag !== DW_TAG.partial_unit) continue;
    while (c.next()) {
      const tag: number = c.tag;
      if (c.depth === 1) {
        if (tag === DW_TAG.variable) {
          if (c.flag(DW_AT.declaration)) declarations++;
          else record(c, 'file', undefined);
          c.skipChildren();
        } else if (tag === DW_TAG.subprogram && withFunctions && c.hasChildren) {
          fnNames[1] = undefined;
          fnOffsets[1] = c.offset;
        } else {
          c.skipChildren();
        }
      } else if (tag === DW_TAG.variable) {
        const fnOffset = fnOffsets[1]!;
        if (c.has(DW_AT.location)) record(c, 'function', functionName(dwarf, fnOffset, fnNames));
        c.skipChildren();
      } else if (tag !== DW_TAG.lexical_block && tag !== DW_TAG.inlined_subroutine && tag !== DW_TAG.subprogram) {
        c.skipChildren();
      }
    }
  }
  if (withTypes && elf !== undefined && variables.some((v) => v.size === undefined && v.sectionIndex !== undefined)) {
    fillSymbolSizes(elf, variables);
  }
  return { variables, units, declarations };
}

/** Set `symbolSize` of variables whose type has no size, from the few symbols at their places. */
function fillSymbolSizes(elf: ElfFile, variables: StaticVariable[]): void {
  const rel = elf.type === ET.REL;
  const valueOf = (v: StaticVariable): bigint => (rel ? v.offset : v.offset + (elf.sectionByIndex(v.sectionIndex!)?.addr ?? 0n));
  const wanted = new Map<number, Set<bigint>>();
  for (const v of variables) {
    if (v.size !== undefined || v.sectionIndex === undefined) continue;
    let set = wanted.get(v.sectionIndex);
    if (!set) wanted.set(v.sectionIndex, (set = new Set()));
    set.add(valueOf(v));
  }
  const syms = elf.symbolsWhere({
    types: new Set([STT.OBJECT]), sections: new Set(wanted.keys()),
    want: (shndx, value) => wanted.get(shndx)?.has(value) === true,
  });
  for (let i = 0; i < variables.length; i++) {
    const v = variables[i]!;
    if (v.size !== undefined || v.sectionIndex === undefined) continue;
    const value = valueOf(v);
    // function-local statics carry a ".N" suffix in the symbol table
    const sym = syms.find((s) => s.shndx === v.sectionIndex && s.value === value && s.size !== 0n
      && (s.name === v.name || (v.scope === 'function' && s.name.startsWith(`${v.name}.`))));
    if (sym) variables[i] = { ...v, symbolSize: sym.size };
  }
}

function functionName(dwarf: Dwarf, offset: number, cache: (string | undefined)[]): string | undefined {
  if (cache[1] === undefined) cache[1] = dieName(dwarf, dwarf.dieAt(offset)) ?? '';
  return cache[1] || undefined;
}

/** Section and section-relative offset of a DWARF address. */
export function placeAddress(elf: ElfFile | undefined, address: DwarfAddress): {
  section: { index: number; name: string } | undefined; offset: bigint;
} {
  if (typeof address !== 'bigint') {
    const s = elf?.sectionByIndex(address.section);
    return { section: { index: address.section, name: s?.name ?? `#${address.section}` }, offset: address.offset };
  }
  // In ET_REL an address no relocation patched belongs to no section (e.g. its section was
  // discarded at link time, like .discard.addressable in kernel modules).
  if (elf === undefined || elf.type === ET.REL) return { section: undefined, offset: address };
  const s = elf.sectionContaining(address);
  if (!s) return { section: undefined, offset: address };
  return { section: { index: s.index, name: s.name }, offset: address - s.addr };
}
