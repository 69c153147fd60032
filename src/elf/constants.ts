/**
 * ELF constants used by the reader and by src/kmod's writer (ELF64 gABI + x86-64 psABI), as
 * `as const` tables. Only what they interpret is listed; other values pass through as plain numbers.
 */
export const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46] as const;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
/** e_ident[EI_VERSION] and e_version. */
export const EV_CURRENT = 1;
export const EM_X86_64 = 62;

export const ET = { NONE: 0, REL: 1, EXEC: 2, DYN: 3, CORE: 4 } as const;

export const SHT = {
  NULL: 0, PROGBITS: 1, SYMTAB: 2, STRTAB: 3, RELA: 4, HASH: 5, DYNAMIC: 6, NOTE: 7,
  NOBITS: 8, REL: 9, DYNSYM: 11, SYMTAB_SHNDX: 18,
} as const;

export const SHF = {
  WRITE: 0x1, ALLOC: 0x2, EXECINSTR: 0x4, MERGE: 0x10, STRINGS: 0x20, INFO_LINK: 0x40, COMPRESSED: 0x800,
} as const;

export const SHN = { UNDEF: 0, LORESERVE: 0xff00, ABS: 0xfff1, COMMON: 0xfff2, XINDEX: 0xffff } as const;

export const STT = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4, COMMON: 5, TLS: 6 } as const;
export const STB = { LOCAL: 0, GLOBAL: 1, WEAK: 2 } as const;

export const ELFCOMPRESS = { ZLIB: 1, ZSTD: 2 } as const;

export const NT_GNU_BUILD_ID = 3;

/** x86-64 relocation types the reader applies (widths: relocFieldSize). */
export const R_X86_64 = { NONE: 0, _64: 1, PC32: 2, PLT32: 4, _32: 10, _32S: 11, PC64: 24 } as const;
/** Width of the field a relocation type patches, or -1 when the type is not supported (hot path: a switch). */
export function relocFieldSize(type: number): number {
  switch (type) {
    case R_X86_64._64: case R_X86_64.PC64: return 8;
    case R_X86_64._32: case R_X86_64._32S: case R_X86_64.PC32: case R_X86_64.PLT32: return 4;
    case R_X86_64.NONE: return 0;
    default: return -1;
  }
}
/** PC-relative types subtract the place (P) from S + A. */
export const RELOC_PC_RELATIVE: ReadonlySet<number> = new Set([R_X86_64.PC32, R_X86_64.PLT32, R_X86_64.PC64]);

/** Struct sizes (ELF64). */
export const EHDR_SIZE = 64;
export const SHDR_SIZE = 64;
export const SYM_SIZE = 24;
export const RELA_SIZE = 24;
export const REL_SIZE = 16;
export const CHDR_SIZE = 24;
