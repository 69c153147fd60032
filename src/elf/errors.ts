/** ElfError: every way an ELF file can be refused, as a closed code union. */
import { FormatError } from '../util/errors.js';

export const ELF_ERROR_CODES = [
  'io',                       // the file could not be read
  'truncated',                // a structure runs past the end of the file or section
  'bad-magic',                // not \x7fELF
  'unsupported-class',        // not ELF64
  'unsupported-endianness',   // not little-endian
  'unsupported-machine',      // not x86-64
  'unsupported-type',         // neither ET_REL nor ET_EXEC
  'bad-section-header',       // header table size/entsize/count inconsistent
  'section-out-of-bounds',    // section data past the end of the file
  'bad-section-index',        // a link/info/shndx that names no section
  'bad-string-offset',        // a name offset past its string table
  'no-such-section',          // a required section is missing
  'bad-compression',          // compressed section header or zlib stream is bad
  'unsupported-compression',  // ch_type other than zlib
  'bad-symbol-index',         // relocation names a symbol past the table
  'unsupported-relocation',   // relocation type the reader cannot apply
  'relocation-out-of-section', // relocation field past the end of its target section
  'duplicate-relocation',     // two relocations patch one offset
  'released-section',         // the section's bytes were released (releaseSections) before this read
] as const;
export type ElfErrorCode = (typeof ELF_ERROR_CODES)[number];

export class ElfError extends FormatError<ElfErrorCode> {
  override readonly name = 'ElfError';
}
