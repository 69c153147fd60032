import { strict as assert } from 'node:assert';
import { ElfError, ElfFile } from '../../src/elf/index.js';
import { Dwarf, DW_FORM as F, DW_TAG, DwarfError, DwarfSection, staticLocation } from '../../src/dwarf/index.js';
import { buildElf, rela } from '../elf/builder.js';
import { abbrevTable, Asm, unit, type AbbrevSpec } from './asm.js';
import { dwarfOf, expectDwarfError, walkAll } from './helpers.js';

const NAME = 0x03;
const SIB = 0x01;
const ABBREVS: AbbrevSpec[] = [
  [1, DW_TAG.compile_unit, true, [[NAME, F.string]]],
  [2, DW_TAG.subprogram, true, [[NAME, F.string], [SIB, F.ref4]]],
  [3, DW_TAG.variable, false, [[NAME, F.string]]],
  [4, DW_TAG.lexical_block, true, []],
  [5, DW_TAG.structure_type, true, [[NAME, F.string]]],
];

/** cu { f() { a; { b } } ; struct s { m } ; g } */
function tree(a: Asm, id: string): Asm {
  return unit(a, id, (a) => {
    a.uleb(1).cstr(id);
    a.label(`${id}.f`).uleb(2).cstr('f').ref(`${id}.s`, 4, a.at(`${id}.start`)); // unit-relative
    a.uleb(3).cstr('a');
    a.uleb(4).uleb(3).cstr('b').uleb(0);
    a.uleb(0);
    a.label(`${id}.s`).uleb(5).cstr('s').uleb(3).cstr('m').uleb(0);
    a.uleb(3).cstr('g');
    a.uleb(0);
  });
}

function names(c: ReturnType<ReturnType<Dwarf['unitByOffset']>['cursor']>, skip: Set<string> = new Set()): string[] {
  const out: string[] = [];
  while (c.next()) {
    const n = c.str(NAME) ?? '{}';
    out.push(`${c.depth}:${n}`);
    if (skip.has(n)) c.skipChildren();
  }
  return out;
}

describe('DWARF units and the DIE cursor', () => {
  const a = new Asm();
  tree(a, 'u1');
  tree(a, 'u2');
  const info = a.bytes();
  const u2 = a.at('u2.start');
  const d = dwarfOf({ info, abbrev: abbrevTable(ABBREVS) });

  it('indexes units by their headers and finds the unit of any DIE', () => {
    assert.deepEqual(d.unitOffsets(), [0, u2]);
    assert.equal(d.unitCount, 2);
    assert.equal(d.unitContaining(a.at('u2.s')).offset, u2);
    assert.equal(d.unitContaining(a.at('u1.s')).offset, 0);
    expectDwarfError(() => d.unitContaining(2), 'bad-reference', 2);
  });

  it('walks depth-first with depth, tag and hasChildren', () => {
    assert.deepEqual(names(d.unitByOffset(0).cursor()), ['0:u1', '1:f', '2:a', '2:{}', '3:b', '1:s', '2:m', '1:g']);
    const c = d.unitByOffset(0).root();
    assert.equal(c.tag, DW_TAG.compile_unit);
    assert.ok(c.hasChildren);
  });

  it('skips subtrees through DW_AT_sibling and by walking when there is none', () => {
    assert.deepEqual(names(d.unitByOffset(u2).cursor(), new Set(['f', 's'])), ['0:u2', '1:f', '1:s', '1:g']);
    assert.deepEqual(names(d.unitByOffset(0).cursor(), new Set(['{}'])), ['0:u1', '1:f', '2:a', '2:{}', '1:s', '2:m', '1:g']);
  });

  it('opens a cursor at any DIE and stops after its subtree', () => {
    const c = d.dieAt(a.at('u1.f'));
    assert.equal(c.str(NAME), 'f');
    assert.deepEqual(names(c), ['1:a', '1:{}', '2:b']);
    expectDwarfError(() => d.unitByOffset(0).dieAt(u2 + 1), 'bad-reference');
  });

  it('visits direct children with eachChild', () => {
    const seen: string[] = [];
    d.dieAt(a.at('u1.f')).eachChild((c) => { seen.push(`${c.tag}:${c.str(NAME) ?? ''}`); });
    assert.deepEqual(seen, [`${DW_TAG.variable}:a`, `${DW_TAG.lexical_block}:`]);
    const none: number[] = [];
    d.dieAt(a.at('u1.s')).eachChild((c) => { none.push(c.offset); });
    assert.equal(none.length, 1);
  });

  it('works on sections built in memory too', () => {
    const mem = new Dwarf('mem', { info: new DwarfSection('.debug_info', info, 'mem'), abbrev: new DwarfSection('.debug_abbrev', abbrevTable(ABBREVS), 'mem') });
    assert.equal(walkAll(mem), 16);
  });
});

describe('DWARF error paths', () => {
  const abbrev = abbrevTable(ABBREVS);
  const one = (body: (a: Asm) => void, opts: Parameters<typeof unit>[3] = {}): Uint8Array => unit(new Asm(), 'u', body, opts).bytes();

  it('unit length overrunning .debug_info -> truncated-unit', () => {
    const info = one((a) => a.uleb(1).cstr('x').uleb(0));
    expectDwarfError(() => dwarfOf({ info: info.subarray(0, info.length - 2), abbrev }).unitOffsets(), 'truncated-unit', 0);
    expectDwarfError(() => dwarfOf({ info: Uint8Array.from([1, 0]), abbrev }).unitOffsets(), 'truncated-unit', 0);
  });

  it('unsupported version -> bad-version; address size 3 -> bad-address-size', () => {
    expectDwarfError(() => dwarfOf({ info: one((a) => a.uleb(0), { version: 6 }), abbrev }).unitByOffset(0), 'bad-version', 4);
    expectDwarfError(() => dwarfOf({ info: one((a) => a.uleb(0), { addressSize: 3 }), abbrev }).unitByOffset(0), 'bad-address-size');
  });

  it('type units -> type-units-unsupported; skeleton units -> unsupported-unit-type', () => {
    expectDwarfError(() => dwarfOf({ info: one((a) => a.uleb(0), { unitType: 2 }), abbrev }).unitByOffset(0), 'type-units-unsupported');
    expectDwarfError(() => dwarfOf({ info: one((a) => a.uleb(0), { unitType: 4 }), abbrev }).unitByOffset(0), 'unsupported-unit-type');
  });

  it('abbreviation code not in the table -> unknown-abbrev at the DIE offset', () => {
    const d = dwarfOf({ info: one((a) => a.uleb(1).cstr('x').uleb(42).uleb(0)), abbrev });
    const c = d.unitByOffset(0).cursor();
    c.next();
    expectDwarfError(() => c.next(), 'unknown-abbrev', 12 + 3);
  });

  it('unknown forms -> unknown-form (in the abbrev table, and through DW_FORM_indirect)', () => {
    const bad = abbrevTable([[1, DW_TAG.compile_unit, false, [[NAME, 0x77]]]]);
    expectDwarfError(() => dwarfOf({ info: one((a) => a.uleb(1)), abbrev: bad }).unitByOffset(0), 'unknown-form');
    const ind = abbrevTable([[1, DW_TAG.compile_unit, false, [[NAME, F.indirect]]]]);
    const d = dwarfOf({ info: one((a) => a.uleb(1).uleb(0x77).u8(0)), abbrev: ind });
    const c = d.unitByOffset(0).cursor();
    c.next();
    expectDwarfError(() => c.next(), 'unknown-form');
  });

  it('malformed abbreviation tables -> bad-abbrev', () => {
    expectDwarfError(() => dwarfOf({ info: one((a) => a.uleb(0), { abbrevOffset: 9999 }), abbrev }).unitByOffset(0), 'bad-abbrev');
    const dup = abbrevTable([[1, DW_TAG.compile_unit, false, []], [1, DW_TAG.variable, false, []]]);
    expectDwarfError(() => dwarfOf({ info: one((a) => a.uleb(0)), abbrev: dup }).unitByOffset(0), 'bad-abbrev');
    expectDwarfError(() => dwarfOf({ info: one((a) => a.uleb(0)), abbrev: Uint8Array.from([1, 0x11, 5, 0, 0, 0]) }).unitByOffset(0), 'bad-abbrev');
  });

  it('attributes running past the unit -> truncated-unit', () => {
    const ab = abbrevTable([[1, DW_TAG.compile_unit, false, [[NAME, F.data8]]]]);
    const d = dwarfOf({ info: one((a) => a.uleb(1).u16(0)), abbrev: ab });
    expectDwarfError(() => d.unitByOffset(0).cursor().next(), 'truncated-unit');
    const str = abbrevTable([[1, DW_TAG.compile_unit, true, [[NAME, F.udata]]]]);
    const d2 = dwarfOf({ info: one((a) => a.uleb(1).u8(0x80)), abbrev: str });
    const c = d2.unitByOffset(0).cursor();
    expectDwarfError(() => { c.next(); c.next(); }, 'truncated-unit');
  });

  it('references outside .debug_info and backwards siblings -> bad-reference', () => {
    const ab = abbrevTable([[1, DW_TAG.compile_unit, true, [[0x49, F.ref_addr], [SIB, F.ref4]]]]);
    const d = dwarfOf({ info: one((a) => a.uleb(1).u32(0x9999).u32(0).uleb(0)), abbrev: ab });
    const c = d.unitByOffset(0).root();
    expectDwarfError(() => c.ref(0x49), 'bad-reference', 13);
    expectDwarfError(() => c.skipChildren(), 'bad-reference', 12);
    expectDwarfError(() => d.dieAt(0x9999), 'bad-reference');
  });

  it('strings: offset past .debug_str -> bad-string; no .debug_str -> missing-section', () => {
    const ab = abbrevTable([[1, DW_TAG.compile_unit, false, [[NAME, F.strp]]]]);
    const info = one((a) => a.uleb(1).u32(50));
    const err = expectDwarfError(() => dwarfOf({ info, abbrev: ab, str: Uint8Array.from([0, 0x61, 0]) }).unitByOffset(0).root().str(NAME), 'bad-string', 13);
    assert.match(err.message, /^test\.o: \.debug_info \+0xd: /);
    expectDwarfError(() => dwarfOf({ info, abbrev: ab }).unitByOffset(0).root().str(NAME), 'missing-section', 13);
    assert.throws(() => Dwarf.fromElf(ElfFile.fromBytes(buildElf({ sections: [{ name: '.text', data: new Uint8Array(4) }] }), 'test.o')),
      (e: unknown) => e instanceof DwarfError && e.code === 'missing-section' && e.message === 'test.o: no .debug_info section (no DWARF)');
  });
});

describe('DWARF relocations (ET_REL)', () => {
  // .debug_info: CU { name strp (reloc -> .debug_str+4), var { location DW_OP_addr (reloc -> .data+0x10) } }
  const ab = abbrevTable([
    [1, DW_TAG.compile_unit, true, [[NAME, F.strp]]],
    [2, DW_TAG.variable, false, [[0x02, F.exprloc], [0x49, F.addr]]],
  ]);
  const a = new Asm();
  unit(a, 'u', (a) => {
    a.uleb(1).label('strp').u32(0);
    a.uleb(2).uleb(9).u8(0x03).label('opaddr').u64(0).label('addr').u64(0).uleb(0);
  });
  const info = a.bytes();
  const str = Uint8Array.from(Buffer.from('xyz\0relocated\0'));
  const mk = (relocs: [number, number, number, number][], abbrevReloc = false): Dwarf => dwarfOf({
    info, abbrev: ab, str,
    extra: [
      { name: '.data', data: new Uint8Array(0x40) },
      { name: '.rela.debug_info', type: 4, data: rela([...relocs, ...(abbrevReloc ? [[8, 3, 10, 0] as [number, number, number, number]] : [])]), link: '.symtab', info: '.debug_info', entsize: 24 },
    ],
    symbols: [
      { name: '', type: 3, shndx: '.debug_str' },
      { name: '', type: 3, shndx: '.data' },
      { name: '', type: 3, shndx: '.debug_abbrev' },
    ],
  });

  it('reads relocated strp, DW_OP_addr and DW_FORM_addr values (stored bytes are zero)', () => {
    const d = mk([[a.at('strp'), 1, 10, 4], [a.at('opaddr'), 2, 1, 0x10], [a.at('addr'), 2, 1, 0x20]], true);
    const c = d.unitByOffset(0).cursor();
    c.next();
    assert.equal(c.str(NAME), 'relocated');
    c.next();
    const dataIndex = d.elf!.section('.data')!.index;
    assert.deepEqual(c.address(0x49), { section: dataIndex, offset: 0x20n });
    const b = c.block(0x02)!;
    assert.deepEqual(d.info.addressAt(b.offset + 1, 8), { section: dataIndex, offset: 0x10n });
  });

  it('a relocated address past its section -> relocation-out-of-section (DWARF)', () => {
    const d = mk([[a.at('addr'), 2, 1, 0x400]]);
    const c = d.unitByOffset(0).cursor();
    c.next(); c.next();
    expectDwarfError(() => c.address(0x49), 'relocation-out-of-section', a.at('addr'));
  });

  it('a relocation of the wrong width -> bad-relocation', () => {
    const d = mk([[a.at('strp'), 1, 1, 0]]);
    expectDwarfError(() => d.unitByOffset(0).root().str(NAME), 'bad-relocation', a.at('strp'));
  });

  it('a relocated offset below zero, or an address against a symbol of a missing section -> bad-relocation', () => {
    const negative = mk([[a.at('strp'), 1, 10, -8]]);
    expectDwarfError(() => negative.unitByOffset(0).root().str(NAME), 'bad-relocation', a.at('strp'));
    const d = dwarfOf({
      info, abbrev: ab, str,
      extra: [{ name: '.rela.debug_info', type: 4, data: rela([[a.at('addr'), 1, 1, 0]]), link: '.symtab', info: '.debug_info', entsize: 24 }],
      symbols: [{ name: 'ghost', type: 1, shndx: 0xfe00 }],
    });
    const c = d.unitByOffset(0).cursor();
    c.next(); c.next();
    expectDwarfError(() => c.address(0x49), 'bad-relocation', a.at('addr'));
  });

  it('a relocation patching bytes outside .debug_info -> ElfError relocation-out-of-section', () => {
    assert.throws(() => mk([[info.length - 2, 1, 10, 0]]), (e: unknown) => e instanceof ElfError && e.code === 'relocation-out-of-section' && e.message.startsWith('test.o: .rela.debug_info +0x0: '));
  });
});

describe('DWARF relocations: DWARF 5 indexed forms in ET_REL (clang-style strx/addrx)', () => {
  it('relocated str_offsets_base/addr_base, .debug_str_offsets entries and .debug_addr entries (all stored as zero)', () => {
    const R32 = 10;
    const R64 = 1;
    const ab = abbrevTable([
      [1, DW_TAG.compile_unit, true, [[NAME, F.strx1], [0x72, F.sec_offset], [0x73, F.sec_offset]]],
      [2, DW_TAG.variable, false, [[NAME, F.strx1], [0x02, F.exprloc]]],
    ]);
    const a = new Asm();
    unit(a, 'u', (a) => {
      a.uleb(1).u8(0).label('sob').u32(0).label('ab').u32(0);
      a.label('var').uleb(2).u8(1).uleb(2).u8(0xa1).uleb(0); // DW_OP_addrx 0
      a.uleb(0);
    });
    const strOffsets = new Asm().u32(12).u16(5).u16(0).u32(0).u32(0).bytes();
    const addr = new Asm().u32(12).u16(5).u8(8).u8(0).u64(0).bytes();
    const d = dwarfOf({
      info: a.bytes(), abbrev: ab, str: Uint8Array.from(Buffer.from('cu.c\0var\0')), strOffsets, addr,
      extra: [
        { name: '.data', data: new Uint8Array(0x40) },
        { name: '.rela.debug_info', type: 4, data: rela([[a.at('sob'), 2, R32, 8], [a.at('ab'), 3, R32, 8]]), link: '.symtab', info: '.debug_info', entsize: 24 },
        { name: '.rela.debug_str_offsets', type: 4, data: rela([[8, 1, R32, 0], [12, 1, R32, 5]]), link: '.symtab', info: '.debug_str_offsets', entsize: 24 },
        { name: '.rela.debug_addr', type: 4, data: rela([[8, 4, R64, 0x18]]), link: '.symtab', info: '.debug_addr', entsize: 24 },
      ],
      symbols: [
        { name: '', type: 3, shndx: '.debug_str' },
        { name: '', type: 3, shndx: '.debug_str_offsets' },
        { name: '', type: 3, shndx: '.debug_addr' },
        { name: '', type: 3, shndx: '.data' },
      ],
    });
    const root = d.unitByOffset(0).root();
    assert.equal(root.str(NAME), 'cu.c');
    const v = d.dieAt(a.at('var'));
    assert.equal(v.str(NAME), 'var');
    assert.deepEqual(staticLocation(v), { section: d.elf!.section('.data')!.index, offset: 0x18n });
  });
});

describe('DWARF relocations: PC-relative types', () => {
  it('a PC32 relocation on an offset field gives S + A - P', () => {
    const ab = abbrevTable([[1, DW_TAG.compile_unit, false, [[NAME, F.strp]]]]);
    const a = new Asm();
    unit(a, 'u', (a) => { a.uleb(1).label('strp').u32(0); });
    const str = Uint8Array.from(Buffer.from('\0'.repeat(40) + 'pc-relative\0'));
    // S = 0 (.debug_str section symbol), A = 40 + P, so S + A - P = 40
    const d = dwarfOf({
      info: a.bytes(), abbrev: ab, str,
      extra: [{ name: '.rela.debug_info', type: 4, data: rela([[a.at('strp'), 1, 2, 40 + a.at('strp')]]), link: '.symtab', info: '.debug_info', entsize: 24 }],
      symbols: [{ name: '', type: 3, shndx: '.debug_str' }],
    });
    assert.equal(d.unitByOffset(0).root().str(NAME), 'pc-relative');
  });
});
