/**
 * DwarfSection: one DWARF section's bytes plus the relocations that patch it (ET_REL).
 * Every offset-sized or address-sized field the DWARF reader reads goes through
 * `offsetAt` / `addressAt`, which return the relocated value when a relocation patches
 * that position (kernel modules store zeros there) and the stored value otherwise.
 * Bytes are never modified.
 */
import type { ElfFile, ElfSection, Relocations } from '../elf/index.js';
import { ET, isSectionRelative, relocFieldSize, RELOC_PC_RELATIVE } from '../elf/index.js';
import { DwarfError, type DwarfErrorCode } from './errors.js';

/** A section-relative address (ET_REL: the relocation's symbol section, st_value + addend). */
export interface SectionAddress {
  readonly section: number;
  readonly offset: bigint;
}
/** An absolute address (ET_EXEC, or an ET_REL field no relocation patches), or a section-relative one. */
export type DwarfAddress = bigint | SectionAddress;

export class DwarfSection {
  readonly name: string;
  /** ELF section index (-1 for sections built in memory). */
  readonly index: number;
  readonly bytes: Uint8Array;
  /** The same bytes as a Buffer, for UTF-8 decoding (works on SharedArrayBuffer views; TextDecoder does not). */
  private readonly text: Buffer;
  readonly relocs: Relocations | undefined;
  readonly file: string;
  private readonly elf: ElfFile | undefined;

  constructor(name: string, bytes: Uint8Array, file: string, index = -1, relocs?: Relocations, elf?: ElfFile) {
    this.name = name;
    this.bytes = bytes;
    this.text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.file = file;
    this.index = index;
    this.relocs = relocs && relocs.size > 0 ? relocs : undefined;
    this.elf = elf;
  }

  static fromElf(elf: ElfFile, sec: ElfSection): DwarfSection {
    return new DwarfSection(sec.name, elf.sectionData(sec), elf.name, sec.index, elf.relocationsFor(sec.index), elf);
  }

  get length(): number { return this.bytes.length; }

  error(code: DwarfErrorCode, offset: number, what: string): DwarfError {
    return new DwarfError(code, what, { file: this.file, section: this.name, offset });
  }

  need(pos: number, n: number, what: string): void {
    if (pos < 0 || pos + n > this.bytes.length) {
      throw this.error('truncated', pos, `${what}: need ${n} bytes, ${Math.max(0, this.bytes.length - pos)} available`);
    }
  }

  u8(pos: number): number { this.need(pos, 1, 'u8'); return this.bytes[pos]!; }
  u16(pos: number): number { this.need(pos, 2, 'u16'); const b = this.bytes; return b[pos]! | (b[pos + 1]! << 8); }
  u24(pos: number): number { this.need(pos, 3, 'u24'); const b = this.bytes; return b[pos]! | (b[pos + 1]! << 8) | (b[pos + 2]! << 16); }
  u32(pos: number): number {
    this.need(pos, 4, 'u32');
    const b = this.bytes;
    return (b[pos]! | (b[pos + 1]! << 8) | (b[pos + 2]! << 16)) + b[pos + 3]! * 0x1000000;
  }
  u64(pos: number): bigint {
    this.need(pos, 8, 'u64');
    return BigInt(this.u32(pos)) | (BigInt(this.u32(pos + 4)) << 32n);
  }
  /** u64 as a number (precision loss above 2^53 is accepted for sizes/constants). */
  u64n(pos: number): number { this.need(pos, 8, 'u64'); return this.u32(pos) + this.u32(pos + 4) * 0x100000000; }

  /**
   * An offset-sized field (4 or 8 bytes) at `pos`, relocated: strp, line_strp, sec_offset,
   * ref_addr, str_offsets entries, unit header abbrev offsets.
   */
  offsetAt(pos: number, size: number): number {
    if (this.relocs !== undefined) {
      const type = this.relocs.typeAt(pos);
      if (type > 0) {
        this.checkWidth(pos, size, type);
        // PC-relative types are S + A - P (P: the field's section offset); unusual in DWARF, but exact
        const v = this.relocs.numberAt(pos)! - (RELOC_PC_RELATIVE.has(type) ? pos : 0);
        if (v < 0 || !Number.isSafeInteger(v)) throw this.error('bad-relocation', pos, `relocated offset ${v} is out of range`);
        this.need(pos, size, 'offset');
        return v;
      }
    }
    return size === 4 ? this.u32(pos) : this.u64n(pos);
  }

  /** An address-sized field at `pos`, relocated (section-relative for ET_REL section symbols). */
  addressAt(pos: number, size: number): DwarfAddress {
    if (this.relocs !== undefined) {
      const type = this.relocs.typeAt(pos);
      if (type > 0) {
        this.checkWidth(pos, size, type);
        this.need(pos, size, 'address');
        const symbol = this.relocs.symbolAt(pos)!;
        const v = symbol.value + BigInt(this.relocs.addendAt(pos)) - (RELOC_PC_RELATIVE.has(type) ? BigInt(pos) : 0n);
        if (this.elf !== undefined && this.elf.type === ET.REL && isSectionRelative(symbol)) {
          const target = this.elf.sectionByIndex(symbol.shndx);
          if (!target) throw this.error('bad-relocation', pos, `relocation symbol ${symbol.index} names section ${symbol.shndx}, which does not exist`);
          if (v < 0n || v > BigInt(target.size)) {
            throw this.error('relocation-out-of-section', pos, `relocated address ${target.name}+0x${v.toString(16)} is outside ${target.name} (0x${target.size.toString(16)} bytes)`);
          }
          return { section: symbol.shndx, offset: v };
        }
        return BigInt.asUintN(size * 8, v);
      }
    }
    if (size === 8) return this.u64(pos);
    if (size === 4) return BigInt(this.u32(pos));
    if (size === 2) return BigInt(this.u16(pos));
    throw this.error('truncated', pos, `unsupported address size ${size}`);
  }

  private checkWidth(pos: number, size: number, type: number): void {
    // The ELF reader has refused unknown types already; a width mismatch means a producer bug.
    const width = relocFieldSize(type);
    if (width !== size) throw this.error('bad-relocation', pos, `relocation type ${type} patches ${width} bytes, field is ${size}`);
  }

  /** NUL-terminated string at `off` (a .debug_str-style table). */
  stringAt(off: number, from?: { section: string; offset: number }): string {
    const b = this.bytes;
    if (off < 0 || off >= b.length) {
      throw new DwarfError('bad-string', `string offset 0x${off.toString(16)} is outside ${this.name} (0x${b.length.toString(16)} bytes)`,
        { file: this.file, section: from?.section ?? this.name, offset: from?.offset ?? off });
    }
    const end = b.indexOf(0, off);
    if (end < 0) throw this.error('bad-string', off, 'string has no NUL terminator');
    return this.text.toString('utf8', off, end);
  }
}
