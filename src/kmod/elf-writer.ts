/**
 * A minimal ELF64 little-endian ET_REL writer: the sections given, in order, then .symtab,
 * .strtab and .shstrtab, then the section header table. Enough for a kernel module that carries
 * data only (no code, so no relocations). Deterministic: the bytes depend only on the input.
 */
import {
  EHDR_SIZE, ELF_MAGIC, ELFCLASS64, ELFDATA2LSB, EM_X86_64, ET, EV_CURRENT, SHDR_SIZE, SHN, SHT, STB, SYM_SIZE,
} from '../elf/constants.js';

export interface OutSection {
  readonly name: string;
  readonly type: number;
  readonly flags: bigint;
  readonly data: Uint8Array;
  readonly align: number;
  readonly entsize?: number;
}

export interface OutSymbol {
  readonly name: string;
  /** Name of a section given to the writer; undefined = SHN_UNDEF (an import). */
  readonly section?: string | undefined;
  readonly value: bigint;
  readonly size: bigint;
  /** STT_*. */
  readonly type: number;
  /** STB_*. */
  readonly bind: number;
}

const alignUp = (n: number, a: number): number => (a <= 1 ? n : Math.ceil(n / a) * a);

/** A string table: "" at 0, then each distinct string once, in first-use order. */
class StrTab {
  private readonly parts: Buffer[] = [Buffer.alloc(1)];
  private readonly at = new Map<string, number>([['', 0]]);
  private size = 1;
  add(s: string): number {
    const known = this.at.get(s);
    if (known !== undefined) return known;
    const off = this.size;
    const b = Buffer.from(`${s}\0`, 'utf8');
    this.parts.push(b);
    this.size += b.length;
    this.at.set(s, off);
    return off;
  }
  bytes(): Uint8Array { return Buffer.concat(this.parts); }
}

interface Placed { name: number; type: number; flags: bigint; offset: number; size: number; link: number; info: number; align: number; entsize: number }

/** Section indexes start at 1 (0 is the null section); locals come first in .symtab (gABI). */
export function writeRelocatable(sections: readonly OutSection[], symbols: readonly OutSymbol[]): Uint8Array {
  const indexOf = new Map<string, number>();
  sections.forEach((s, i) => {
    if (indexOf.has(s.name)) throw new Error(`elf writer: section ${s.name} given twice`);
    indexOf.set(s.name, i + 1);
  });
  const strtab = new StrTab();
  const ordered = [...symbols.filter((s) => s.bind === STB.LOCAL), ...symbols.filter((s) => s.bind !== STB.LOCAL)];
  const symBytes = Buffer.alloc(SYM_SIZE * (ordered.length + 1));
  ordered.forEach((s, i) => {
    const at = SYM_SIZE * (i + 1);
    let shndx: number = SHN.UNDEF;
    if (s.section !== undefined) {
      const idx = indexOf.get(s.section);
      if (idx === undefined) throw new Error(`elf writer: symbol ${s.name} names no section ${s.section}`);
      shndx = idx;
    }
    symBytes.writeUInt32LE(strtab.add(s.name), at);
    symBytes.writeUInt8((s.bind << 4) | (s.type & 0xf), at + 4);
    symBytes.writeUInt8(0, at + 5);
    symBytes.writeUInt16LE(shndx, at + 6);
    symBytes.writeBigUInt64LE(s.value, at + 8);
    symBytes.writeBigUInt64LE(s.size, at + 16);
  });
  const firstGlobal = 1 + ordered.filter((s) => s.bind === STB.LOCAL).length;
  const symtabIndex = sections.length + 1;
  const all: (OutSection & { link?: number; info?: number })[] = [
    ...sections,
    { name: '.symtab', type: SHT.SYMTAB, flags: 0n, data: symBytes, align: 8, entsize: SYM_SIZE, link: symtabIndex + 1, info: firstGlobal },
    { name: '.strtab', type: SHT.STRTAB, flags: 0n, data: strtab.bytes(), align: 1 },
  ];
  const shstrtab = new StrTab();
  const shstrName = shstrtab.add('.shstrtab');
  const names = all.map((s) => shstrtab.add(s.name));
  const shstrBytes = shstrtab.bytes();

  const placed: Placed[] = [];
  let offset = EHDR_SIZE;
  all.forEach((s, i) => {
    offset = alignUp(offset, s.align);
    placed.push({ name: names[i]!, type: s.type, flags: s.flags, offset, size: s.data.length, link: s.link ?? 0, info: s.info ?? 0, align: s.align, entsize: s.entsize ?? 0 });
    if (s.type !== SHT.NOBITS) offset += s.data.length;
  });
  placed.push({ name: shstrName, type: SHT.STRTAB, flags: 0n, offset, size: shstrBytes.length, link: 0, info: 0, align: 1, entsize: 0 });
  offset += shstrBytes.length;
  const shoff = alignUp(offset, 8);
  const shnum = placed.length + 1;
  const out = Buffer.alloc(shoff + shnum * SHDR_SIZE);

  // ELF header
  out.set(ELF_MAGIC, 0);
  out[4] = ELFCLASS64;
  out[5] = ELFDATA2LSB;
  out[6] = EV_CURRENT;
  out.writeUInt16LE(ET.REL, 16);
  out.writeUInt16LE(EM_X86_64, 18);
  out.writeUInt32LE(EV_CURRENT, 20);
  out.writeBigUInt64LE(BigInt(shoff), 0x28);
  out.writeUInt16LE(EHDR_SIZE, 0x34);
  out.writeUInt16LE(SHDR_SIZE, 0x3a);
  out.writeUInt16LE(shnum, 0x3c);
  out.writeUInt16LE(shnum - 1, 0x3e);

  all.forEach((s, i) => { if (s.type !== SHT.NOBITS) out.set(s.data, placed[i]!.offset); });
  out.set(shstrBytes, placed[placed.length - 1]!.offset);
  placed.forEach((p, i) => {
    const h = shoff + (i + 1) * SHDR_SIZE;
    out.writeUInt32LE(p.name, h);
    out.writeUInt32LE(p.type, h + 4);
    out.writeBigUInt64LE(p.flags, h + 8);
    out.writeBigUInt64LE(0n, h + 16);
    out.writeBigUInt64LE(BigInt(p.offset), h + 24);
    out.writeBigUInt64LE(BigInt(p.size), h + 32);
    out.writeUInt32LE(p.link, h + 40);
    out.writeUInt32LE(p.info, h + 44);
    out.writeBigUInt64LE(BigInt(p.align), h + 48);
    out.writeBigUInt64LE(BigInt(p.entsize), h + 56);
  });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
