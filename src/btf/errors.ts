/**
 * The BTF library's one error type. Codes form a closed union so callers (CLI, daemon,
 * encoder) switch on them; the message is one line naming file, region and byte offset.
 */
import { FormatError, type ErrorLocation } from '../util/errors.js';

export const BTF_ERROR_CODES = [
  'bad-magic',             // not 0xeb9f (or big-endian BTF, which we do not read)
  'bad-version',           // version != 1
  'bad-flags',             // header flags != 0
  'bad-header',            // hdr_len < 24, non-zero extra header bytes, unaligned type section
  'truncated',             // fewer bytes than the header or a record needs
  'section-out-of-bounds', // a section runs past the end of the data
  'section-overlap',       // type and string sections overlap
  'section-gap',           // bytes not covered by any section, or strings not last
  'bad-string-section',    // strings do not end in NUL / standalone table does not start with ""
  'bad-kind',              // kind 0 or > 19
  'bad-type-info',         // reserved bits of the info word set
  'bad-string-offset',     // a string offset outside the chain's string tables
  'bad-type-id',           // a type id that does not exist in the chain
  'bad-elf',               // ELF container unreadable or without a .BTF section
  'bad-chain',             // base chain inconsistent (e.g. split level given no base)
  'too-large',             // builder limits (id > 0xfffff, vlen > 0xffff, offsets beyond u32)
  'builder-misuse',        // a builder member call without the right type added last
  'reference-loop',        // a reference cycle not broken by a PTR (found while resolving)
  'io',                    // the file could not be read
] as const;
export type BtfErrorCode = (typeof BTF_ERROR_CODES)[number];

export class BtfError extends FormatError<BtfErrorCode> {
  constructor(code: BtfErrorCode, what: string, where: ErrorLocation = {}, details: Record<string, unknown> = {}) {
    super(code, what, where, details);
    this.name = 'BtfError';
  }
}
