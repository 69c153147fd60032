/**
 * Public surface of the DWARF reader. Layers (each usable alone):
 *
 *   ElfFile (src/elf)                 bytes, sections, symbols, relocations
 *   DwarfSection                      one section + its relocations; offsetAt/addressAt relocate
 *   Dwarf                             .debug_info/.debug_abbrev/.debug_str/.debug_line_str/
 *                                     .debug_str_offsets/.debug_addr; unitOffsets(), units(),
 *                                     unitByOffset(off), unitContaining(dieOff), dieAt(dieOff)
 *   Unit                              header fields, cursor(), root(), dieAt(off), strx(), addrx()
 *   DieCursor                         next() depth-first, depth/tag/hasChildren/offset,
 *                                     skipChildren(), eachChild(fn); typed getters udata/constant/
 *                                     flag/ref/str/address/sectionOffset/block/blockPos;
 *                                     rawAttributes() for (attr, form, RawValue)
 *   values.ts                         dieName/typeRef/isExternal (through specification and
 *                                     abstract_origin), byteSize, subrangeCount,
 *                                     dataMemberLocation, bitField, constValue
 *   location.ts                       staticLocation / locationAddress (DW_OP_addr, addrx,
 *                                     GNU_addr_index [+ plus_uconst])
 *   ctype.ts                          CTypePrinter: C spelling and byte size of a type DIE
 *   variables.ts                      collectVariables(): every static-storage variable
 *
 * Offsets of DIEs are absolute .debug_info offsets everywhere. Addresses are `bigint`
 * (absolute) or `{ section, offset }` (ET_REL, relocated against a section).
 * Errors: DwarfError (closed `code` union), ElfError from the ELF layer.
 */
export { Dwarf, Unit, DieCursor, type RawAttribute, type RawValue, type DwarfSections } from './dwarf.js';
export { DwarfSection, type DwarfAddress, type SectionAddress } from './section.js';
export { DWARF_ERROR_CODES, DwarfError, type DwarfErrorCode } from './errors.js';
export { AbbrevTable, type Abbrev } from './abbrev.js';
export { staticLocation, locationAddress, hasStaticLocation, addToAddress } from './location.js';
export * from './values.js';
export { CTypePrinter } from './ctype.js';
export { collectVariables, placeAddress, type StaticVariable, type VariableScan, type CollectOptions } from './variables.js';
export * from './constants.js';
