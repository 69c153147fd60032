/**
 * The one pass over .debug_info the encoder makes: CU-level DIEs only, every subtree it does not
 * need (function bodies, type definitions) jumped over through DW_AT_sibling. Yields variable
 * candidates (with their type DIE and resolved section address) and, for full mode, the CU-level
 * type DIEs and function definitions. Units that cannot be decoded are skipped with a warning.
 */
import type { ElfFile } from '../elf/index.js';
import { ET, SHF, SHT, STT } from '../elf/index.js';
import type { Dwarf, DieCursor, DwarfAddress, Unit } from '../dwarf/dwarf.js';
import { DW_AT, DW_TAG } from '../dwarf/constants.js';
import { locationAddress } from '../dwarf/location.js';
import { DwarfError } from '../dwarf/errors.js';
import type { EncoderWarning } from './errors.js';
import type { SelectionContext } from './select.js';

export interface RawVariable {
  readonly dieOffset: number;
  readonly name: string | undefined;
  readonly external: boolean;
  readonly declaration: boolean;
  readonly artificial: boolean;
  readonly typeDie: number | undefined;
  readonly address: { readonly sectionIndex: number; readonly offset: bigint } | undefined;
}

export interface RawFunction {
  readonly dieOffset: number;
  readonly name: string;
  /** The DIE whose children are the parameters (the abstract origin/specification when this one has none). */
  readonly protoDie: number;
  readonly address: { readonly sectionIndex: number; readonly offset: bigint } | undefined;
  /** Every formal parameter has a name (pahole's has_arg_names). */
  readonly argNames: boolean;
}

export interface WalkOptions {
  /** Collect CU-level type DIEs and function definitions too (full mode). */
  readonly full: boolean;
  /**
   * Called after each unit with what it yielded; its type DIEs and functions are then not kept
   * in the result (vmlinux has 3.3M type DIEs: the encoder decodes them unit by unit, while the
   * unit's bytes are still in cache, instead of holding them all).
   */
  readonly onUnit?: (start: number, part: UnitPart) => void;
}

/** What one unit yielded. */
export interface UnitPart {
  readonly variables: readonly RawVariable[];
  readonly typeDies: readonly number[];
  readonly functions: readonly RawFunction[];
}

export interface WalkResult {
  /** Offsets of the units that could be read (for DIE lookups that must not re-read the list). */
  readonly units: number[];
  readonly variables: RawVariable[];
  readonly typeDies: number[];
  readonly functions: RawFunction[];
  readonly warnings: EncoderWarning[];
}

const TYPE_TAGS: ReadonlySet<number> = new Set<number>([
  DW_TAG.base_type, DW_TAG.pointer_type, DW_TAG.const_type, DW_TAG.volatile_type, DW_TAG.restrict_type,
  DW_TAG.typedef, DW_TAG.structure_type, DW_TAG.union_type, DW_TAG.enumeration_type, DW_TAG.array_type,
  DW_TAG.subroutine_type, DW_TAG.class_type, DW_TAG.atomic_type, DW_TAG.unspecified_type,
]);

/**
 * Start offsets of the units whose headers can be read: all of them, or the ones before a
 * truncated unit list (with a warning).
 */
export function readableUnits(dwarf: Dwarf): { starts: number[]; warnings: EncoderWarning[] } {
  try {
    return { starts: [...dwarf.unitOffsets()], warnings: [] };
  } catch (e) {
    if (!(e instanceof DwarfError)) throw e;
    // A truncated last unit: keep the ones before it.
    const warning = { dieOffset: e.offset === undefined ? undefined : Number(e.offset), message: `unit list ends early: ${e.message}` };
    return { starts: unitsBefore(dwarf, e), warnings: [warning] };
  }
}

export function walkUnits(dwarf: Dwarf, elf: ElfFile, opts: WalkOptions, readable = readableUnits(dwarf)): WalkResult {
  const out: WalkResult = { units: [], variables: [], typeDies: [], functions: [], warnings: [...readable.warnings] };
  const onUnit = opts.onUnit;
  for (const off of readable.starts) {
    out.units.push(off);
    const part = onUnit ? { ...out, variables: [], typeDies: [], functions: [] } : out;
    try {
      walkUnit(dwarf.unitByOffset(off), elf, opts, part);
    } catch (e) {
      if (!(e instanceof DwarfError)) throw e;
      out.warnings.push({ dieOffset: off, message: `compile unit skipped: ${e.message}` });
    }
    if (onUnit) {
      for (const v of part.variables) out.variables.push(v);
      onUnit(off, part);
    }
  }
  return out;
}

function unitsBefore(dwarf: Dwarf, e: DwarfError): number[] {
  const stop = e.offset === undefined ? 0 : Number(e.offset);
  const starts: number[] = [];
  let pos = 0;
  const sec = dwarf.info;
  while (pos < stop && pos + 4 <= sec.length) {
    const len = sec.u32(pos);
    if (len >= 0xfffffff0) break;
    starts.push(pos);
    pos += 4 + len;
  }
  return starts.filter((s) => s < stop);
}

function walkUnit(unit: Unit, elf: ElfFile, opts: WalkOptions, out: WalkResult): void {
  const c = unit.cursor();
  while (c.next()) {
    if (c.depth === 0) {
      if (c.tag !== DW_TAG.compile_unit && c.tag !== DW_TAG.partial_unit) return;
      continue;
    }
    if (c.depth !== 1) { c.skipChildren(); continue; }
    const tag = c.tag;
    if (tag === DW_TAG.variable) {
      try {
        out.variables.push(readVariable(c, unit, elf));
      } catch (e) {
        if (!(e instanceof DwarfError)) throw e;
        out.warnings.push({ dieOffset: c.offset, message: `variable skipped: ${e.message}` });
      }
    } else if (opts.full) {
      if (TYPE_TAGS.has(tag)) out.typeDies.push(c.offset);
      else if (tag === DW_TAG.subprogram) {
        try {
          const f = readFunction(c, unit, elf);
          if (f) out.functions.push(f);
          // pahole also encodes types defined inside function bodies
          if (c.hasChildren) localTypes(unit, c.offset, out.typeDies);
        } catch (e) {
          if (!(e instanceof DwarfError)) throw e;
          out.warnings.push({ dieOffset: c.offset, message: `function skipped: ${e.message}` });
        }
      }
    }
    c.skipChildren();
  }
}

function readVariable(c: DieCursor, unit: Unit, elf: ElfFile): RawVariable {
  let name = c.str(DW_AT.name);
  let typeDie = c.ref(DW_AT.type);
  let external = c.flag(DW_AT.external);
  const declaration = c.flag(DW_AT.declaration);
  const artificial = c.flag(DW_AT.artificial);
  const spec = c.ref(DW_AT.specification) ?? c.ref(DW_AT.abstract_origin);
  if (spec !== undefined) {
    const s = spec >= unit.offset && spec < unit.end ? unit.dieAt(spec) : unit.dwarf.dieAt(spec);
    name ??= s.str(DW_AT.name);
    typeDie ??= s.ref(DW_AT.type);
    external ||= s.flag(DW_AT.external);
  }
  const address = declaration ? undefined : locate(c, elf);
  return { dieOffset: c.offset, name, external, declaration, artificial, typeDie, address };
}

function readFunction(c: DieCursor, unit: Unit, elf: ElfFile): RawFunction | undefined {
  if (c.flag(DW_AT.declaration)) return undefined;
  let name = c.str(DW_AT.name);
  let protoDie = c.offset;
  const origin = c.ref(DW_AT.abstract_origin) ?? c.ref(DW_AT.specification);
  if (origin !== undefined) {
    const o = origin >= unit.offset && origin < unit.end ? unit.dieAt(origin) : unit.dwarf.dieAt(origin);
    name ??= o.str(DW_AT.name);
    protoDie = origin;
  }
  if (name === undefined) return undefined;
  const low = c.address(DW_AT.low_pc);
  const address = low === undefined ? undefined : toSectionAddress(low, elf);
  return { dieOffset: c.offset, name, protoDie, address, argNames: paramsNamed(unit, protoDie) };
}

/** Type DIEs defined anywhere inside the subprogram at `offset` (lexical blocks included). */
function localTypes(unit: Unit, offset: number, out: number[]): void {
  const c = unit.dieAt(offset);
  while (c.next()) {
    if (c.depth === 0) continue;
    if (TYPE_TAGS.has(c.tag)) { out.push(c.offset); c.skipChildren(); continue; }
    if (c.tag !== DW_TAG.lexical_block && c.tag !== DW_TAG.subprogram && c.tag !== DW_TAG.inlined_subroutine) c.skipChildren();
  }
}

function paramsNamed(unit: Unit, offset: number): boolean {
  const c = offset >= unit.offset && offset < unit.end ? unit.dieAt(offset) : unit.dwarf.dieAt(offset);
  if (!c.hasChildren) return true;
  while (c.next()) {
    if (c.depth === 1 && c.tag === DW_TAG.formal_parameter) {
      let named = c.has(DW_AT.name);
      if (!named) {
        const o = c.ref(DW_AT.abstract_origin);
        if (o !== undefined) named = unit.dwarf.dieAt(o).has(DW_AT.name);
      }
      if (!named) return false;
    }
    if (c.depth >= 1) c.skipChildren();
  }
  return true;
}

/**
 * `DW_OP_addr|addrx A [DW_OP_plus_uconst N]` and nothing more -> section-relative address (the DWARF
 * reader's decoder); undefined for anything else.
 */
function locate(c: DieCursor, elf: ElfFile): RawVariable['address'] {
  const loc = locationAddress(c);
  if (loc === undefined || !loc.exact) return undefined;
  return toSectionAddress(loc.address, elf);
}

function toSectionAddress(addr: DwarfAddress, elf: ElfFile): { sectionIndex: number; offset: bigint } | undefined {
  if (typeof addr === 'object') return { sectionIndex: addr.section, offset: addr.offset };
  if (elf.type === ET.REL) return undefined; // an unrelocated address in a relocatable object means nothing
  const sec = elf.sectionContaining(addr);
  return sec === undefined ? undefined : { sectionIndex: sec.index, offset: addr - sec.addr };
}

/** The selector's view of an ELF file: sections and object symbols. */
export function elfSelectionContext(elf: ElfFile, inBase?: ReadonlyMap<string, ReadonlySet<string>>): SelectionContext {
  let objects: Set<string> | undefined;
  let byName: Map<string, { sectionIndex: number; offset: bigint }[]> | undefined;
  const symbols = (): void => {
    if (objects !== undefined) return;
    objects = new Set();
    byName = new Map();
    for (const s of objectSymbols(elf)) {
      objects.add(`${s.sectionIndex}:${s.offset}:${s.name}`);
      const l = byName.get(s.name);
      if (l) l.push(s); else byName.set(s.name, [s]);
    }
  };
  return {
    inBase,
    section(index) {
      const s = elf.sectionByIndex(index);
      if (s === undefined) return undefined;
      const alloc = (s.flags & BigInt(SHF.ALLOC)) !== 0n;
      return { name: s.name, size: BigInt(s.size), isData: alloc && (s.type === SHT.PROGBITS || s.type === SHT.NOBITS) };
    },
    hasObjectSymbol(index, offset, name) {
      symbols();
      return objects!.has(`${index}:${offset}:${name}`);
    },
    objectSymbols(name) {
      symbols();
      return byName!.get(name) ?? [];
    },
  };
}

/** Defined STT_OBJECT symbols, section-relative. Read on demand, never cached in the ElfFile: vmlinux has ~150k symbols. */
function objectSymbols(elf: ElfFile): { name: string; sectionIndex: number; offset: bigint }[] {
  const out: { name: string; sectionIndex: number; offset: bigint }[] = [];
  const rel = elf.type === ET.REL;
  for (const sym of elf.symbolsWhere({ types: OBJECT_ONLY })) {
    const sec = elf.sectionByIndex(sym.shndx);
    if (sec === undefined || sym.shndx === 0) continue;
    out.push({ name: sym.name, sectionIndex: sym.shndx, offset: rel ? sym.value : sym.value - sec.addr });
  }
  return out;
}

/**
 * Names of object symbols that share their address with another object symbol: the only names
 * an alias (select.ts) can have, so the only declarations whose types the walk decodes.
 */
export function aliasSymbolNames(elf: ElfFile): Set<string> {
  const at = new Map<string, string[]>();
  for (const s of objectSymbols(elf)) {
    const k = `${s.sectionIndex}:${s.offset}`;
    const l = at.get(k);
    if (l) l.push(s.name); else at.set(k, [s.name]);
  }
  const out = new Set<string>();
  for (const names of at.values()) if (names.length > 1) for (const n of names) out.add(n);
  return out;
}

const OBJECT_ONLY: ReadonlySet<number> = new Set([STT.OBJECT]);
