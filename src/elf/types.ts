/** Plain records the ELF reader hands out (sections and symbols). */

export interface ElfSection {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  readonly flags: bigint;
  readonly addr: bigint;
  /** File offset of the section's bytes. */
  readonly offset: number;
  /** sh_size (for SHF_COMPRESSED sections: the compressed size in the file). */
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: bigint;
  readonly entsize: number;
}

export interface ElfSymbol {
  /** Index in its symbol table. */
  readonly index: number;
  readonly name: string;
  /** st_value: section-relative in ET_REL, an address in ET_EXEC. */
  readonly value: bigint;
  readonly size: bigint;
  /** STT_* (low 4 bits of st_info). */
  readonly type: number;
  /** STB_* (high 4 bits of st_info). */
  readonly bind: number;
  readonly other: number;
  /** Section index (SHN_XINDEX already resolved through SHT_SYMTAB_SHNDX). */
  readonly shndx: number;
}
