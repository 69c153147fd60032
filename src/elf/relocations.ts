/**
 * Relocations for one target section, parsed from every SHT_RELA/SHT_REL section whose
 * sh_info names it. Indexed by target offset (one relocation per offset, else an error).
 * Nothing is patched: readers ask `get(offset)` / `valueAt(offset)` when they read a field
 * and use the relocated value instead of the stored bytes (which in kernel modules are 0).
 */
import { RELOC_PC_RELATIVE, SHN } from './constants.js';
import type { ElfSymbol } from './types.js';

export interface Relocation {
  readonly offset: number;
  readonly type: number;
  readonly symbol: ElfSymbol;
  /** Explicit (RELA) or implicit (REL: the stored field) addend. */
  readonly addend: bigint;
}

export class Relocations {
  /** Target section index. */
  readonly section: number;
  private readonly index = new Map<number, number>();
  private readonly offsets: number[] = [];
  private readonly types: number[] = [];
  private readonly symbols: ElfSymbol[] = [];
  private readonly addends: bigint[] = [];

  constructor(section: number) { this.section = section; }

  get size(): number { return this.offsets.length; }

  /** Internal: used by the ELF reader while parsing. Returns false if `offset` is taken. */
  add(offset: number, type: number, symbol: ElfSymbol, addend: bigint): boolean {
    if (this.index.has(offset)) return false;
    this.index.set(offset, this.offsets.length);
    this.offsets.push(offset);
    this.types.push(type);
    this.symbols.push(symbol);
    this.addends.push(addend);
    return true;
  }

  has(offset: number): boolean { return this.index.has(offset); }

  get(offset: number): Relocation | undefined {
    const i = this.index.get(offset);
    if (i === undefined) return undefined;
    return { offset, type: this.types[i]!, symbol: this.symbols[i]!, addend: this.addends[i]! };
  }

  /** Symbol of the relocation at `offset` (hot path, no allocation). */
  symbolAt(offset: number): ElfSymbol | undefined {
    const i = this.index.get(offset);
    return i === undefined ? undefined : this.symbols[i];
  }

  /**
   * S + A (minus P for PC-relative types) for the field at `offset`, or undefined when no
   * relocation patches it. `place` is the field's address (section-relative in ET_REL).
   */
  valueAt(offset: number, place = 0n): bigint | undefined {
    const i = this.index.get(offset);
    if (i === undefined) return undefined;
    const sym = this.symbols[i]!;
    const type = this.types[i]!;
    if (type === 0) return undefined; // R_X86_64_NONE patches nothing
    let v = sym.value + this.addends[i]!;
    if (RELOC_PC_RELATIVE.has(type)) v -= place;
    return v;
  }

  /** Fast path for offset-sized DWARF fields: S + A as a number (undefined when none). */
  numberAt(offset: number): number | undefined {
    const i = this.index.get(offset);
    if (i === undefined || this.types[i] === 0) return undefined;
    const v = this.symbols[i]!.value + this.addends[i]!;
    return Number(v);
  }

  /** All relocations in offset order. */
  *[Symbol.iterator](): IterableIterator<Relocation> {
    const order = [...this.offsets.keys()].sort((a, b) => this.offsets[a]! - this.offsets[b]!);
    for (const i of order) {
      yield { offset: this.offsets[i]!, type: this.types[i]!, symbol: this.symbols[i]!, addend: this.addends[i]! };
    }
  }
}

/** Whether a symbol's value is relative to a real section (as opposed to absolute/undefined/common). */
export function isSectionRelative(sym: ElfSymbol): boolean {
  return sym.shndx !== SHN.UNDEF && sym.shndx < SHN.LORESERVE;
}
