/**
 * Small DWARF units whose every DW_AT_type / DW_AT_specification points at a DIE chosen by `pick`:
 * with a random `pick` this makes type loops of every shape (through pointers, qualifiers, arrays,
 * typedefs, subroutine parameters, struct members, specifications), which byte flips rarely do.
 * Shared by the DWARF reader's and the encoder's robustness tests.
 */
import { DW_AT as A, DW_FORM as F, DW_TAG as T } from '../../src/dwarf/index.js';
import { abbrevTable, Asm, unit } from './asm.js';

export { prng } from '../support/prng.js';

export const rewiredAbbrev = abbrevTable([
  [1, T.compile_unit, true, []],
  [2, T.base_type, false, [[A.name, F.string], [A.byte_size, F.data1]]],
  [3, T.pointer_type, false, [[A.byte_size, F.data1], [A.type, F.ref4]]],
  [4, T.const_type, false, [[A.type, F.ref4]]],
  [5, T.typedef, false, [[A.name, F.string], [A.type, F.ref4]]],
  [6, T.array_type, true, [[A.type, F.ref4]]],
  [7, T.subrange_type, false, [[A.count, F.data1]]],
  [8, T.structure_type, true, [[A.name, F.string], [A.byte_size, F.data1]]],
  [9, T.member, false, [[A.name, F.string], [A.type, F.ref4], [A.data_member_location, F.data1]]],
  [10, T.subroutine_type, true, [[A.prototyped, F.flag_present], [A.type, F.ref4]]],
  [11, T.formal_parameter, false, [[A.type, F.ref4]]],
  [12, T.variable, false, [[A.name, F.string], [A.type, F.ref4], [A.external, F.flag_present], [A.declaration, F.flag_present]]],
  [13, T.variable, false, [[A.specification, F.ref4], [A.location, F.exprloc]]],
  [14, T.subprogram, true, [[A.name, F.string]]],
  [15, T.variable, false, [[A.name, F.string], [A.type, F.ref4], [A.location, F.exprloc]]],
]);

export const REWIRE_LABELS = ['int', 'ptr', 'cst', 'td', 'arr', 'st', 'fn', 'decl', 'fnptr', 'def', 'local'] as const;

/** Addresses (DW_OP_addr operands) of the file-level definition `g` and the function static `f::s`. */
export const REWIRED_G_ADDR = 0x10n;
export const REWIRED_LOCAL_ADDR = 0x20n;

/** One unit wired by `pick`; `at(label)` gives a labelled DIE's .debug_info offset. */
export function buildRewiredUnit(pick: () => string): { info: Uint8Array; at: (label: string) => number } {
  const a = new Asm();
  const r = (): void => { a.ref(pick(), 4, 0); };
  unit(a, 'u', (a) => {
    a.uleb(1);
    a.label('int').uleb(2).cstr('int').u8(4);
    a.label('ptr').uleb(3).u8(8); r();
    a.label('cst').uleb(4); r();
    a.label('td').uleb(5).cstr('td'); r();
    a.label('arr').uleb(6); r(); a.uleb(7).u8(4).uleb(0);
    a.label('st').uleb(8).cstr('st').u8(16); a.uleb(9).cstr('a'); r(); a.u8(0); a.uleb(9).cstr('b'); r(); a.u8(8); a.uleb(0);
    a.label('fn').uleb(10); r(); a.uleb(11); r(); a.uleb(11); r(); a.uleb(0);
    a.label('fnptr').uleb(3).u8(8); r();
    a.label('decl').uleb(12).cstr('g'); r();
    a.label('def').uleb(13); r(); a.uleb(9).u8(0x03).u64(REWIRED_G_ADDR);
    a.uleb(14).cstr('f');
    a.label('local').uleb(15).cstr('s'); r(); a.uleb(9).u8(0x03).u64(REWIRED_LOCAL_ADDR);
    a.uleb(0);
    a.uleb(0);
  });
  return { info: a.bytes(), at: (l) => a.at(l) };
}
