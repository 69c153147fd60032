/** Public surface of the ELF reader. */
export { ElfFile, type SymbolFilter } from './file.js';
export type { ElfSection, ElfSymbol } from './types.js';
export { ELF_ERROR_CODES, ElfError, type ElfErrorCode } from './errors.js';
export { Relocations, isSectionRelative, type Relocation } from './relocations.js';
export * from './constants.js';
