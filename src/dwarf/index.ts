/** Public surface of the DWARF reader (see dwarf.ts for the layering). */
export { Dwarf, Unit, DieCursor, type RawAttribute, type RawValue, type DwarfSections } from './dwarf.js';
export { DwarfSection, type DwarfAddress, type SectionAddress } from './section.js';
export { DwarfError, type DwarfErrorCode } from './errors.js';
export { AbbrevTable, type Abbrev } from './abbrev.js';
export { staticLocation, locationAddress, hasStaticLocation, addToAddress } from './location.js';
export * from './values.js';
export { CTypePrinter } from './ctype.js';
export { collectVariables, placeAddress, type StaticVariable, type VariableScan, type CollectOptions } from './variables.js';
export * from './constants.js';
