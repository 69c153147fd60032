import { strict as assert } from 'node:assert';
import { DW_FORM as F, DW_TAG, type RawValue } from '../../src/dwarf/index.js';
import { abbrevTable, Asm, unit } from './asm.js';
import { dwarfOf, expectDwarfError } from './helpers.js';

// Custom attribute numbers (DW_AT_lo_user range) so each form is addressed by its own attribute.
const at = (form: number): number => 0x2000 + form;

/** Every DWARF 5 (7.5.6) form, the bytes we write for it, and what reading it must give. */
const CASES: [number, (a: Asm) => void, RawValue['kind']][] = [
  [F.addr, (a) => a.u64(0x401000n), 'address'],
  [F.block2, (a) => a.u16(2).raw([1, 2]), 'block'],
  [F.block4, (a) => a.u32(1).raw([9]), 'block'],
  [F.data2, (a) => a.u16(0x1234), 'constant'],
  [F.data4, (a) => a.u32(0x12345678), 'constant'],
  [F.data8, (a) => a.u64(1n << 40n), 'constant'],
  [F.string, (a) => a.cstr('inline'), 'string'],
  [F.block, (a) => a.uleb(3).raw([1, 2, 3]), 'block'],
  [F.block1, (a) => a.u8(1).raw([7]), 'block'],
  [F.data1, (a) => a.u8(0xff), 'constant'],
  [F.flag, (a) => a.u8(1), 'flag'],
  [F.sdata, (a) => a.sleb(-5), 'constant'],
  [F.strp, (a) => a.u32(1), 'strp'],
  [F.udata, (a) => a.uleb(300), 'constant'],
  [F.ref_addr, (a) => a.ref('target', 4), 'ref_addr'],
  [F.ref1, (a) => a.ref('target', 1), 'ref'],
  [F.ref2, (a) => a.ref('target', 2), 'ref'],
  [F.ref4, (a) => a.ref('target', 4), 'ref'],
  [F.ref8, (a) => a.ref('target', 8), 'ref'],
  [F.ref_udata, (a) => a.ulebDiff('target', 'u.start', 2), 'ref'],
  [F.indirect, (a) => a.uleb(F.data1).u8(42), 'constant'],
  [F.sec_offset, (a) => a.u32(0x10), 'sec_offset'],
  [F.exprloc, (a) => a.uleb(9).u8(0x03).u64(0x2000n), 'exprloc'],
  [F.flag_present, () => undefined, 'flag'],
  [F.strx, (a) => a.uleb(1), 'strx'],
  [F.addrx, (a) => a.uleb(1), 'addrx'],
  [F.ref_sup4, (a) => a.u32(4), 'ref_sup'],
  [F.strp_sup, (a) => a.u32(4), 'strp'],
  [F.data16, (a) => a.raw(Array.from({ length: 16 }, (_, i) => i)), 'data16'],
  [F.line_strp, (a) => a.u32(1), 'strp'],
  [F.ref_sig8, (a) => a.u64(0xfeedn), 'ref_sig8'],
  [F.implicit_const, () => undefined, 'constant'],
  [F.loclistx, (a) => a.uleb(2), 'loclistx'],
  [F.rnglistx, (a) => a.uleb(3), 'rnglistx'],
  [F.ref_sup8, (a) => a.u64(8n), 'ref_sup'],
  [F.strx1, (a) => a.u8(0), 'strx'],
  [F.strx2, (a) => a.u16(1), 'strx'],
  [F.strx3, (a) => a.u24(0), 'strx'],
  [F.strx4, (a) => a.u32(1), 'strx'],
  [F.addrx1, (a) => a.u8(0), 'addrx'],
  [F.addrx2, (a) => a.u16(1), 'addrx'],
  [F.addrx3, (a) => a.u24(0), 'addrx'],
  [F.addrx4, (a) => a.u32(1), 'addrx'],
  [F.GNU_addr_index, (a) => a.uleb(1), 'addrx'],
  [F.GNU_str_index, (a) => a.uleb(0), 'strx'],
  [F.GNU_ref_alt, (a) => a.u32(0), 'ref_sup'],
  [F.GNU_strp_alt, (a) => a.u32(0), 'strp'],
];

function everyFormDwarf(): { d: ReturnType<typeof dwarfOf>; target: number } {
  const abbrev = abbrevTable([
    [1, DW_TAG.compile_unit, true, [[0x72, F.sec_offset], [0x73, F.sec_offset]]],
    [2, DW_TAG.variable, false, CASES.map(([form]) => [at(form), form, form === F.implicit_const ? -7 : undefined] as [number, number, number?])],
    [3, DW_TAG.base_type, false, [[0x03, F.string]]],
  ]);
  const a = new Asm();
  unit(a, 'u', (a) => {
    a.uleb(1).u32(8).u32(8);
    a.uleb(2);
    for (const [, write] of CASES) write(a);
    a.label('target').uleb(3).cstr('int');
    a.uleb(0);
  });
  const info = a.bytes();
  const str = Uint8Array.from(Buffer.from('\0strp-string\0s0\0s1\0'));
  const strOffsets = new Asm().u32(12).u16(5).u16(0).u32(13).u32(16).bytes();
  const addr = new Asm().u32(20).u16(5).u8(8).u8(0).u64(0x1000n).u64(0x2000n).bytes();
  const lineStr = Uint8Array.from(Buffer.from('\0line-string\0'));
  return { d: dwarfOf({ info, abbrev, str, strOffsets, addr, lineStr }), target: a.at('target') };
}

describe('DWARF forms (DWARF 5 section 7.5.6)', () => {
  it('decodes every form into its raw value and skips each correctly', () => {
    const { d, target } = everyFormDwarf();
    const c = d.unitByOffset(0).cursor();
    assert.ok(c.next());
    assert.ok(c.next());
    const raw = c.rawAttributes();
    assert.equal(raw.length, CASES.length);
    raw.forEach((r, i) => {
      assert.equal(r.at, at(CASES[i]![0]));
      assert.equal(r.value.kind, CASES[i]![2], `form 0x${CASES[i]![0].toString(16)}`);
    });
    // the DIE after the every-form DIE is found exactly where the assembler put it
    assert.ok(c.next());
    assert.equal(c.offset, target);
    assert.equal(c.str(0x03), 'int');
    assert.ok(!c.next());
  });

  it('resolves values: constants, strings (strp, line_strp, strx*), addresses (addr, addrx*), references', () => {
    const { d, target } = everyFormDwarf();
    const c = d.unitByOffset(0).cursor();
    c.next(); c.next();
    assert.equal(c.address(at(F.addr)), 0x401000n);
    assert.equal(c.udata(at(F.data2)), 0x1234);
    assert.equal(c.udata(at(F.data4)), 0x12345678);
    assert.equal(c.udata(at(F.data8)), 2 ** 40);
    assert.equal(c.udata(at(F.data1)), 255);
    assert.equal(c.constant(at(F.data1), true), -1n);
    assert.equal(c.constant(at(F.sdata)), -5n);
    assert.equal(c.udata(at(F.udata)), 300);
    assert.equal(c.udata(at(F.indirect)), 42);
    assert.equal(c.formOf(at(F.indirect)), F.indirect);
    assert.equal(c.constant(at(F.implicit_const)), -7n);
    assert.equal(c.flag(at(F.flag)), true);
    assert.equal(c.flag(at(F.flag_present)), true);
    assert.equal(c.flag(0x3c), false);
    assert.equal(c.str(at(F.string)), 'inline');
    assert.equal(c.str(at(F.strp)), 'strp-string');
    assert.equal(c.str(at(F.line_strp)), 'line-string');
    assert.equal(c.str(at(F.strx)), 's1');
    assert.equal(c.str(at(F.strx1)), 's0');
    assert.equal(c.str(at(F.strx2)), 's1');
    assert.equal(c.str(at(F.strx3)), 's0');
    assert.equal(c.str(at(F.strx4)), 's1');
    assert.equal(c.str(at(F.GNU_str_index)), 's0');
    assert.equal(c.address(at(F.addrx)), 0x2000n);
    assert.equal(c.address(at(F.addrx1)), 0x1000n);
    assert.equal(c.address(at(F.addrx2)), 0x2000n);
    assert.equal(c.address(at(F.addrx3)), 0x1000n);
    assert.equal(c.address(at(F.addrx4)), 0x2000n);
    assert.equal(c.address(at(F.GNU_addr_index)), 0x2000n);
    for (const f of [F.ref_addr, F.ref1, F.ref2, F.ref4, F.ref8, F.ref_udata]) assert.equal(c.ref(at(f)), target, `form 0x${f.toString(16)}`);
    assert.equal(c.sectionOffset(at(F.sec_offset)), 0x10);
    assert.deepEqual([...c.block(at(F.block2))!.bytes], [1, 2]);
    assert.deepEqual([...c.block(at(F.block4))!.bytes], [9]);
    assert.deepEqual([...c.block(at(F.block))!.bytes], [1, 2, 3]);
    assert.deepEqual([...c.block(at(F.block1))!.bytes], [7]);
    assert.equal(c.block(at(F.exprloc))!.bytes[0], 0x03);
    const d16 = c.rawAttributes().find((r) => r.form === F.data16)!.value;
    assert.ok(d16.kind === 'data16' && d16.bytes[15] === 15);
    // a getter of the wrong kind gives undefined, not garbage
    assert.equal(c.udata(at(F.string)), undefined);
    assert.equal(c.str(at(F.data4)), undefined);
    assert.equal(c.ref(at(F.data4)), undefined);
    assert.equal(c.address(at(F.data4)), undefined);
    // strOffset: where strp/strx* point in .debug_str (the string there is what str() decodes)
    for (const f of [F.strp, F.strx, F.strx1, F.strx2, F.strx3, F.strx4, F.GNU_str_index]) {
      const off = c.strOffset(at(f));
      assert.ok(off >= 0, `form 0x${f.toString(16)}`);
      assert.equal(d.debugStr(off, 0), c.str(at(f)), `form 0x${f.toString(16)}`);
    }
    assert.notEqual(c.strOffset(at(F.strx)), c.strOffset(at(F.strx1)), 's1 and s0 are different strings');
    for (const f of [F.string, F.line_strp, F.data4]) assert.equal(c.strOffset(at(f)), -1, `form 0x${f.toString(16)}`);
    assert.equal(c.strOffset(0x3c), -1, 'absent');
  });

  it('refuses supplementary-file forms and type-unit signatures with typed errors', () => {
    const { d } = everyFormDwarf();
    const c = d.unitByOffset(0).cursor();
    c.next(); c.next();
    expectDwarfError(() => c.ref(at(F.ref_sup4)), 'unsupported-form');
    expectDwarfError(() => c.ref(at(F.GNU_ref_alt)), 'unsupported-form');
    expectDwarfError(() => c.str(at(F.strp_sup)), 'unsupported-form');
    expectDwarfError(() => c.str(at(F.GNU_strp_alt)), 'unsupported-form');
    expectDwarfError(() => c.ref(at(F.ref_sig8)), 'type-units-unsupported');
  });

  it('reads DWARF 4 units (ref_addr is offset-sized, header order differs)', () => {
    const abbrev = abbrevTable([
      [1, DW_TAG.compile_unit, true, [[0x03, F.string]]],
      [2, DW_TAG.variable, false, [[0x49, F.ref_addr], [0x02, F.exprloc]]],
      [3, DW_TAG.base_type, false, [[0x03, F.string]]],
    ]);
    const a = new Asm();
    unit(a, 'u', (a) => {
      a.uleb(1).cstr('cu4');
      a.uleb(2).ref('t', 4).uleb(9).u8(3).u64(0x40n);
      a.label('t').uleb(3).cstr('long').uleb(0);
    }, { version: 4 });
    const d = dwarfOf({ info: a.bytes(), abbrev });
    const u = d.unitByOffset(0);
    assert.equal(u.version, 4);
    const root = u.root();
    assert.equal(root.str(0x03), 'cu4');
    const c = u.cursor(); c.next(); c.next();
    assert.equal(c.ref(0x49), a.at('t'));
    assert.equal(d.dieAt(a.at('t')).str(0x03), 'long');
  });

  it('reads 64-bit DWARF units (offset-sized fields are 8 bytes) and partial units', () => {
    const abbrev = abbrevTable([
      [1, DW_TAG.partial_unit, true, [[0x03, F.strp]]],
      [2, DW_TAG.variable, false, [[0x49, F.ref_addr], [0x03, F.strp]]],
    ]);
    const a = new Asm();
    a.u32(0xffffffff).diff('end', 'len', 8).label('len').u16(5).u8(3).u8(8).u64(0);
    a.uleb(1).u64(1);
    a.label('v').uleb(2).ref('v', 8).u64(4);
    a.uleb(0).label('end');
    const d = dwarfOf({ info: a.bytes(), abbrev, str: Uint8Array.from(Buffer.from('\0pu\0var\0')) });
    const u = d.unitByOffset(0);
    assert.deepEqual([u.offsetSize, u.unitType, u.firstDieOffset], [8, 3, 12 + 2 + 1 + 1 + 8]);
    assert.equal(u.root().str(0x03), 'pu');
    const v = d.dieAt(a.at('v'));
    assert.equal(v.str(0x03), 'var');
    assert.equal(v.ref(0x49), a.at('v'));
  });
});
