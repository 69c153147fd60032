/** DwarfError: every way DWARF input can be refused, as a closed code union. */
import { FormatError } from '../util/errors.js';

export const DWARF_ERROR_CODES = [
  'truncated',                // a read runs past the end of a section
  'truncated-unit',           // unit_length overruns .debug_info
  'bad-version',              // unit version outside 2..5
  'bad-address-size',         // address_size not 4 or 8
  'unsupported-unit-type',    // skeleton/split units
  'type-units-unsupported',   // DW_UT_type / DW_FORM_ref_sig8 targets
  'unknown-abbrev',           // abbreviation code not in the unit's table
  'bad-abbrev',               // malformed .debug_abbrev entry
  'unknown-form',             // form code not in DWARF 5 7.5.6
  'unsupported-form',         // form known but not resolvable here (supplementary files)
  'bad-reference',            // a reference/sibling/offset that points nowhere valid
  'bad-string',               // string offset outside its section or unterminated
  'missing-section',          // a form needs a section the file lacks
  'relocation-out-of-section', // relocated value outside the referenced section
  'bad-relocation',           // relocation of the wrong width or unusable symbol
] as const;
export type DwarfErrorCode = (typeof DWARF_ERROR_CODES)[number];

export class DwarfError extends FormatError<DwarfErrorCode> {
  override readonly name = 'DwarfError';
}
