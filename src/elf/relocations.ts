/**
 * Relocations for one target section, parsed from every SHT_RELA/SHT_REL section whose
 * sh_info names it. Kept as parallel typed arrays sorted by target offset (a kernel module's
 * .rela.debug_info has ~10^5 entries: no per-entry objects); looked up by binary search.
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

/** Raw parsed entries, in any order (the ELF reader fills these). */
export interface RelocationArrays {
  readonly offsets: Float64Array;
  readonly types: Uint32Array;
  readonly symbols: Uint32Array;
  readonly addends: Float64Array;
}

export class Relocations {
  /** Target section index. */
  readonly section: number;
  private readonly offsets: Float64Array;
  private readonly types: Uint32Array;
  private readonly symIndex: Uint32Array;
  private readonly addends: Float64Array;
  private readonly symtab: readonly ElfSymbol[];
  /** Last index found, to make in-order lookups O(1). */
  private hint = 0;

  /**
   * Sorts the entries by offset. `duplicateAt` receives the sorted position of the second of two
   * relocations at one offset (the reader turns it into an error); entries are otherwise trusted
   * (symbol indices checked by the caller).
   */
  constructor(section: number, arrays: RelocationArrays, symtab: readonly ElfSymbol[], onDuplicate?: (offset: number) => never) {
    this.section = section;
    this.symtab = symtab;
    const n = arrays.offsets.length;
    let sorted = true;
    for (let i = 1; i < n && sorted; i++) if (arrays.offsets[i]! < arrays.offsets[i - 1]!) sorted = false;
    if (sorted) {
      ({ offsets: this.offsets, types: this.types, symbols: this.symIndex, addends: this.addends } = arrays);
    } else {
      const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => arrays.offsets[a]! - arrays.offsets[b]! || a - b);
      this.offsets = Float64Array.from(order, (i) => arrays.offsets[i]!);
      this.types = Uint32Array.from(order, (i) => arrays.types[i]!);
      this.symIndex = Uint32Array.from(order, (i) => arrays.symbols[i]!);
      this.addends = Float64Array.from(order, (i) => arrays.addends[i]!);
    }
    for (let i = 1; i < n; i++) {
      if (this.offsets[i] === this.offsets[i - 1]) {
        if (onDuplicate) onDuplicate(this.offsets[i]!);
        throw new Error(`two relocations at offset ${this.offsets[i]}`);
      }
    }
  }

  get size(): number { return this.offsets.length; }

  /** Index of the relocation at `offset`, or -1. */
  private find(offset: number): number {
    const offs = this.offsets;
    const h = this.hint;
    if (h < offs.length && offs[h] === offset) return h;
    if (h + 1 < offs.length && offs[h + 1] === offset) return (this.hint = h + 1);
    let lo = 0;
    let hi = offs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = offs[mid]!;
      if (v === offset) return (this.hint = mid);
      if (v < offset) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
  }

  has(offset: number): boolean { return this.find(offset) >= 0; }

  get(offset: number): Relocation | undefined {
    const i = this.find(offset);
    return i < 0 ? undefined : this.at(i);
  }

  private at(i: number): Relocation {
    return { offset: this.offsets[i]!, type: this.types[i]!, symbol: this.symtab[this.symIndex[i]!]!, addend: BigInt(this.addends[i]!) };
  }

  /** Symbol of the relocation at `offset` (no allocation). */
  symbolAt(offset: number): ElfSymbol | undefined {
    const i = this.find(offset);
    return i < 0 ? undefined : this.symtab[this.symIndex[i]!];
  }

  /** Addend of the relocation at `offset` (0 when none; exact below 2^53). */
  addendAt(offset: number): number {
    const i = this.find(offset);
    return i < 0 ? 0 : this.addends[i]!;
  }

  /** Relocation type at `offset`, or -1 when none. */
  typeAt(offset: number): number {
    const i = this.find(offset);
    return i < 0 ? -1 : this.types[i]!;
  }

  /**
   * S + A (minus P for PC-relative types) for the field at `offset`, or undefined when no
   * relocation patches it. `place` is the field's address (section-relative in ET_REL).
   */
  valueAt(offset: number, place = 0n): bigint | undefined {
    const i = this.find(offset);
    if (i < 0 || this.types[i] === 0) return undefined; // R_X86_64_NONE patches nothing
    let v = this.symtab[this.symIndex[i]!]!.value + BigInt(this.addends[i]!);
    if (RELOC_PC_RELATIVE.has(this.types[i]!)) v -= place;
    return v;
  }

  /** Fast path for offset-sized DWARF fields: S + A as a number (undefined when none). */
  numberAt(offset: number): number | undefined {
    const i = this.find(offset);
    if (i < 0 || this.types[i] === 0) return undefined;
    return Number(this.symtab[this.symIndex[i]!]!.value) + this.addends[i]!;
  }

  /** All relocations in offset order. */
  *[Symbol.iterator](): IterableIterator<Relocation> {
    for (let i = 0; i < this.offsets.length; i++) yield this.at(i);
  }
}

/** Whether a symbol's value is relative to a real section (as opposed to absolute/undefined/common). */
export function isSectionRelative(sym: ElfSymbol): boolean {
  return sym.shndx !== SHN.UNDEF && sym.shndx < SHN.LORESERVE;
}
