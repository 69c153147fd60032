/**
 * Form sizes: the fixed byte size of each DW_FORM for a unit's (version, address size,
 * offset size), or VARIABLE when it must be decoded (LEB128, strings, blocks, indirect).
 * Every form of DWARF 5 section 7.5.6 is listed, plus the GNU split/alt forms.
 */
import { DW_FORM } from './constants.js';

export const VARIABLE = -1;
export const UNKNOWN = -2;

export interface UnitEncoding {
  readonly version: number;
  readonly addressSize: number;
  readonly offsetSize: number;
}

export function formSize(form: number, enc: UnitEncoding): number {
  switch (form) {
    case DW_FORM.addr: return enc.addressSize;
    case DW_FORM.data1: case DW_FORM.ref1: case DW_FORM.flag: case DW_FORM.strx1: case DW_FORM.addrx1: return 1;
    case DW_FORM.data2: case DW_FORM.ref2: case DW_FORM.strx2: case DW_FORM.addrx2: return 2;
    case DW_FORM.strx3: case DW_FORM.addrx3: return 3;
    case DW_FORM.data4: case DW_FORM.ref4: case DW_FORM.ref_sup4: case DW_FORM.strx4: case DW_FORM.addrx4: return 4;
    case DW_FORM.data8: case DW_FORM.ref8: case DW_FORM.ref_sig8: case DW_FORM.ref_sup8: return 8;
    case DW_FORM.data16: return 16;
    case DW_FORM.flag_present: case DW_FORM.implicit_const: return 0;
    case DW_FORM.strp: case DW_FORM.line_strp: case DW_FORM.sec_offset: case DW_FORM.strp_sup:
    case DW_FORM.GNU_ref_alt: case DW_FORM.GNU_strp_alt:
      return enc.offsetSize;
    case DW_FORM.ref_addr: return enc.version <= 2 ? enc.addressSize : enc.offsetSize;
    case DW_FORM.block1: case DW_FORM.block2: case DW_FORM.block4: case DW_FORM.block: case DW_FORM.exprloc:
    case DW_FORM.string: case DW_FORM.sdata: case DW_FORM.udata: case DW_FORM.ref_udata: case DW_FORM.indirect:
    case DW_FORM.strx: case DW_FORM.addrx: case DW_FORM.loclistx: case DW_FORM.rnglistx:
    case DW_FORM.GNU_addr_index: case DW_FORM.GNU_str_index:
      return VARIABLE;
    default: return UNKNOWN;
  }
}
