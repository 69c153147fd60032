import { strict as assert } from 'node:assert';
import {
  bitField, byteSize, constValue, CTypePrinter, dataMemberLocation, dieName, DW_AT as A, DW_FORM as F, DW_TAG as T,
  isArtificial, isDeclaration, isExternal, locationAddress, staticLocation, subrangeCount, typeRef, hasStaticLocation,
} from '../../src/dwarf/index.js';
import { abbrevTable, Asm, unit } from './asm.js';
import { dwarfOf } from './helpers.js';

/** One unit holding a small type graph and variables; labels name every DIE. */
function build() {
  const abbrev = abbrevTable([
    [1, T.compile_unit, true, [[A.name, F.string], [A.addr_base, F.sec_offset]]],
    [2, T.base_type, false, [[A.name, F.string], [A.byte_size, F.data1]]],
    [3, T.pointer_type, false, [[A.byte_size, F.implicit_const, 8], [A.type, F.ref4]]],
    [4, T.const_type, false, [[A.type, F.ref4]]],
    [5, T.array_type, true, [[A.type, F.ref4]]],
    [6, T.subrange_type, false, [[A.upper_bound, F.data1]]],
    [7, T.subrange_type, false, [[A.count, F.udata]]],
    [8, T.subroutine_type, true, [[A.prototyped, F.flag_present], [A.type, F.ref4]]],
    [9, T.formal_parameter, false, [[A.type, F.ref4]]],
    [10, T.unspecified_parameters, false, []],
    [11, T.structure_type, true, [[A.name, F.string], [A.byte_size, F.data1]]],
    [12, T.member, false, [[A.name, F.string], [A.type, F.ref4], [A.data_member_location, F.data1]]],
    [13, T.member, false, [[A.name, F.string], [A.type, F.ref4], [A.bit_size, F.data1], [A.data_bit_offset, F.data2]]],
    [14, T.member, false, [[A.name, F.string], [A.type, F.ref4], [A.byte_size, F.data1], [A.bit_size, F.data1], [A.bit_offset, F.data1], [A.data_member_location, F.exprloc]]],
    [15, T.variable, false, [[A.name, F.string], [A.type, F.ref4], [A.external, F.flag_present], [A.declaration, F.flag_present]]],
    [16, T.variable, false, [[A.specification, F.ref4], [A.location, F.exprloc]]],
    [17, T.variable, false, [[A.name, F.string], [A.type, F.ref4], [A.location, F.exprloc], [A.artificial, F.flag], [A.const_value, F.sdata]]],
    [18, T.typedef, false, [[A.name, F.string], [A.type, F.ref4]]],
    [19, T.pointer_type, false, [[A.type, F.ref4]]],
    [20, T.subroutine_type, false, []],
    [21, T.volatile_type, false, [[A.type, F.ref4]]],
    [22, T.union_type, false, [[A.byte_size, F.data1]]],
    [23, T.enumeration_type, false, [[A.name, F.string], [A.byte_size, F.data1]]],
  ]);
  const a = new Asm();
  const r = (l: string): void => { a.ref(l, 4, 0); };
  unit(a, 'u', (a) => {
    a.uleb(1).cstr('cu').u32(8);
    a.label('int').uleb(2).cstr('int').u8(4);
    a.label('char').uleb(2).cstr('char').u8(1);
    a.label('cchar').uleb(4); r('char');
    a.label('pcchar').uleb(3); r('cchar');
    a.label('cpcchar').uleb(4); r('pcchar');                 // char const *const
    a.label('arr').uleb(5); r('pcchar'); a.uleb(6).u8(3).uleb(0);      // const char *[4]
    a.label('mat').uleb(5); r('int'); a.uleb(7).uleb(3).uleb(7).uleb(4).uleb(0); // int [3][4]
    a.label('fn').uleb(8); r('int'); a.uleb(9); r('pcchar'); a.uleb(10).uleb(0); // int (const char *, ...)
    a.label('pfn').uleb(3); r('fn');                         // int (*)(const char *, ...)
    a.label('parr').uleb(3); r('arr');                       // const char *(*)[4]
    a.label('vfn').uleb(20);                                 // void () (unprototyped)
    a.label('pvfn').uleb(19); r('vfn');
    a.label('s').uleb(11).cstr('s').u8(16);
    a.label('m1').uleb(12).cstr('x').ref('int', 4, 0).u8(4);
    a.label('m2').uleb(13).cstr('b').ref('int', 4, 0).u8(3).u16(37);
    a.label('m3').uleb(14).cstr('old').ref('int', 4, 0).u8(4).u8(5).u8(27).uleb(2).u8(0x23).u8(8);
    a.uleb(0);
    a.label('td').uleb(18).cstr('my_t'); r('s');
    a.label('vtd').uleb(21); r('td');
    a.label('un').uleb(22).u8(8);
    a.label('en').uleb(23).cstr('e').u8(4);
    a.label('decl').uleb(15).cstr('g').ref('mat', 4, 0);
    a.label('def').uleb(16).ref('decl', 4, 0).uleb(9).u8(0x03).u64(0x1000n);
    a.label('v2').uleb(17).cstr('viaaddrx').ref('cpcchar', 4, 0).uleb(4).u8(0xa1).uleb(1).u8(0x23).uleb(0x10).u8(1).sleb(-3);
    a.label('v3').uleb(17).cstr('value').ref('int', 4, 0).uleb(10).u8(0x03).u64(0x2000n).u8(0x9f).u8(0).sleb(0);
    a.label('v4').uleb(17).cstr('deref').ref('int', 4, 0).uleb(10).u8(0x03).u64(0x3000n).u8(0x06).u8(0).sleb(0);
    a.uleb(0);
  });
  const addr = new Asm().u32(20).u16(5).u8(8).u8(0).u64(0x5000n).u64(0x6000n).bytes();
  return { d: dwarfOf({ info: a.bytes(), abbrev, addr }), at: (l: string) => a.at(l) };
}

describe('DWARF resolved values', () => {
  const { d, at } = build();
  const die = (l: string) => d.dieAt(at(l));

  it('names, types, flags through DW_AT_specification', () => {
    const def = die('def');
    assert.equal(def.str(A.name), undefined);
    assert.equal(dieName(d, def), 'g');
    assert.equal(typeRef(d, def), at('mat'));
    assert.equal(isExternal(d, def), true);
    assert.equal(isDeclaration(def), false);
    assert.equal(isDeclaration(die('decl')), true);
    assert.equal(isArtificial(die('v2')), true);
    assert.equal(isExternal(d, die('v2')), false);
  });

  it('sizes, bounds, member locations, bit fields and constants', () => {
    assert.equal(byteSize(die('int')), 4);
    assert.equal(byteSize(die('pcchar')), 8, 'implicit_const byte_size');
    const arr = d.dieAt(at('arr')); arr.next();
    assert.equal(subrangeCount(arr), 4);
    assert.equal(dataMemberLocation(die('m1')), 4);
    assert.equal(dataMemberLocation(die('m3')), 8, 'exprloc DW_OP_plus_uconst');
    assert.deepEqual(bitField(die('m2')), { bitSize: 3, bitOffset: 37 });
    // DWARF 2 bit_offset counts from the MSB of a 4-byte unit: 32 - 27 - 5 = 0, plus 8 bytes
    assert.deepEqual(bitField(die('m3')), { bitSize: 5, bitOffset: 64 });
    assert.equal(bitField(die('m1')), undefined);
    assert.equal(constValue(die('v2')), -3n);
  });

  it('static locations: DW_OP_addr, DW_OP_addrx + plus_uconst; DW_OP_stack_value is not storage', () => {
    assert.equal(staticLocation(die('def')), 0x1000n);
    assert.equal(staticLocation(die('v2')), 0x6010n);
    assert.equal(staticLocation(die('v3')), undefined);
    assert.deepEqual(locationAddress(die('v3')), { address: 0x2000n, implicitValue: true, exact: false });
    // `exact`: the plain forms the encoder accepts as a variable's home, nothing after them
    assert.deepEqual(locationAddress(die('def')), { address: 0x1000n, implicitValue: false, exact: true });
    assert.deepEqual(locationAddress(die('v2')), { address: 0x6010n, implicitValue: false, exact: true });
    // DW_OP_addr A; DW_OP_deref: storage found through A, not at A
    assert.deepEqual(locationAddress(die('v4')), { address: 0x3000n, implicitValue: false, exact: false });
    assert.equal(hasStaticLocation(die('v3')), true);
    assert.equal(staticLocation(die('int')), undefined);
  });

  it('prints C type names and sizes', () => {
    const p = new CTypePrinter(d);
    const cases: [string, string, number | undefined][] = [
      ['int', 'int', 4], ['cchar', 'const char', 1], ['pcchar', 'const char *', 8], ['cpcchar', 'const char *const', 8],
      ['arr', 'const char *[4]', 32], ['mat', 'int [3][4]', 48], ['fn', 'int (const char *, ...)', undefined],
      ['pfn', 'int (*)(const char *, ...)', 8], ['parr', 'const char *(*)[4]', 8], ['pvfn', 'void (*)()', 8],
      ['s', 'struct s', 16], ['td', 'my_t', 16], ['vtd', 'volatile my_t', 16], ['un', 'union {...}', 8], ['en', 'enum e', 4],
    ];
    for (const [label, name, size] of cases) {
      assert.equal(p.name(at(label)), name, label);
      assert.equal(p.size(at(label)), size, `${label} size`);
    }
    assert.equal(p.name(undefined), 'void');
  });
});

describe('DWARF resolved values: across units', () => {
  it('name, type and linkage through DW_AT_abstract_origin into another unit (ref_addr); DW_OP_GNU_addr_index + plus_uconst', () => {
    const abbrev = abbrevTable([
      [1, T.compile_unit, true, [[A.name, F.string], [A.addr_base, F.sec_offset]]],
      [2, T.base_type, false, [[A.name, F.string], [A.byte_size, F.data1]]],
      [3, T.variable, false, [[A.name, F.string], [A.type, F.ref4], [A.external, F.flag_present], [A.declaration, F.flag_present]]],
      [4, T.variable, false, [[A.abstract_origin, F.ref_addr], [A.location, F.exprloc]]],
    ]);
    const a = new Asm();
    unit(a, 'u1', (a) => {
      a.uleb(1).cstr('first').u32(8);
      a.label('long').uleb(2).cstr('long').u8(8);
      a.label('decl').uleb(3).cstr('shared').ref('long', 4, 0);
      a.uleb(0);
    });
    unit(a, 'u2', (a) => {
      a.uleb(1).cstr('second').u32(8);
      a.label('gnu').uleb(4).ref('decl', 4).uleb(4).u8(0xfb).uleb(1).u8(0x23).uleb(4);  // GNU_addr_index 1, +4
      a.label('reg').uleb(4).ref('decl', 4).uleb(1).u8(0x50);                          // DW_OP_reg0: not static
      a.label('cut').uleb(4).ref('decl', 4).uleb(3).u8(0x03).u16(0);                    // DW_OP_addr, operand cut short
      a.uleb(0);
    });
    const addr = new Asm().u32(20).u16(5).u8(8).u8(0).u64(0x5000n).u64(0x6000n).bytes();
    const d = dwarfOf({ info: a.bytes(), abbrev, addr });
    const gnu = d.dieAt(a.at('gnu'));
    assert.notEqual(gnu.unit, d.dieAt(a.at('decl')).unit, 'the two DIEs live in different units');
    assert.equal(dieName(d, gnu), 'shared');
    assert.equal(typeRef(d, gnu), a.at('long'));
    assert.equal(isExternal(d, gnu), true);
    assert.equal(new CTypePrinter(d).name(typeRef(d, gnu)), 'long');
    assert.equal(staticLocation(gnu), 0x6004n);
    assert.equal(staticLocation(d.dieAt(a.at('reg'))), undefined);
    assert.equal(hasStaticLocation(d.dieAt(a.at('reg'))), false);
    assert.equal(staticLocation(d.dieAt(a.at('cut'))), undefined);
  });
});

describe('DWARF resolved values: hostile graphs terminate', () => {
  it('a typedef cycle and a specification cycle give bounded answers, not hangs', () => {
    const abbrev = abbrevTable([
      [1, T.compile_unit, true, []],
      [2, T.typedef, false, [[A.name, F.string], [A.type, F.ref4]]],
      [3, T.variable, false, [[A.specification, F.ref4]]],
    ]);
    const a = new Asm();
    unit(a, 'u', (a) => {
      a.uleb(1);
      a.label('t1').uleb(2).cstr('loop_a').ref('t2', 4, 0);
      a.label('t2').uleb(2).cstr('loop_b').ref('t1', 4, 0);
      a.label('v1').uleb(3).ref('v2', 4, 0);
      a.label('v2').uleb(3).ref('v1', 4, 0);
      a.uleb(0);
    });
    const d = dwarfOf({ info: a.bytes(), abbrev });
    const p = new CTypePrinter(d);
    assert.equal(p.name(a.at('t1')), 'loop_a', 'a typedef prints its own name');
    assert.equal(p.size(a.at('t1')), undefined);
    assert.equal(dieName(d, d.dieAt(a.at('v1'))), undefined);
    assert.equal(typeRef(d, d.dieAt(a.at('v1'))), undefined);
  });

  it('a subroutine type reaching itself through its parameters is cut, not expanded 2^depth times', function () {
    this.timeout(10_000); // before the cut this took 2^64 steps
    const abbrev = abbrevTable([
      [1, T.compile_unit, true, []],
      [2, T.subroutine_type, true, [[A.prototyped, F.flag_present]]],
      [3, T.formal_parameter, false, [[A.type, F.ref4]]],
      [4, T.pointer_type, false, [[A.byte_size, F.data1], [A.type, F.ref4]]],
    ]);
    const a = new Asm();
    unit(a, 'u', (a) => {
      a.uleb(1);
      a.label('fn').uleb(2);
      a.uleb(3).ref('ptr', 4, 0);
      a.uleb(3).ref('ptr', 4, 0);
      a.uleb(0);
      a.label('ptr').uleb(4).u8(8).ref('fn', 4, 0);
      a.uleb(0);
    });
    const p = new CTypePrinter(dwarfOf({ info: a.bytes(), abbrev }));
    assert.equal(p.name(a.at('ptr')), 'void (*)(? *, ? *)');
    assert.equal(p.size(a.at('ptr')), 8);
  });
});
