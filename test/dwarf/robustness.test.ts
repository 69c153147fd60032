import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { ElfError, ElfFile } from '../../src/elf/index.js';
import { collectVariables, CTypePrinter, Dwarf, DW_AT as A, DW_FORM as F, DW_TAG as T, DwarfError } from '../../src/dwarf/index.js';
import { fixture } from '../support/paths.js';
import { abbrevTable, Asm, unit } from './asm.js';
import { dwarfOf, expectDwarfError } from './helpers.js';
import { DwarfSection } from '../../src/dwarf/index.js';

/** Deterministic PRNG (mulberry32) so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Full pipeline; returns 'ok' or the typed error code. Any other exception fails the test. */
function scan(bytes: Uint8Array): string {
  try {
    collectVariables(Dwarf.fromElf(ElfFile.fromBytes(bytes, 'fuzz.ko')));
    return 'ok';
  } catch (e) {
    if (e instanceof ElfError || e instanceof DwarfError) {
      assert.ok(e.message.startsWith('fuzz.ko: ') && !e.message.includes('\n'), e.message);
      return e.code;
    }
    throw e;
  }
}

describe('robustness: hostile input gives typed errors, never crashes or hangs', () => {
  const original = readFileSync(fixture('kernel/debug/cordic.ko'));
  const elf = ElfFile.fromBytes(new Uint8Array(original), 'x');
  const info = elf.section('.debug_info')!;
  const abbrev = elf.section('.debug_abbrev')!;

  it('truncated at 64 points', () => {
    const rnd = prng(1);
    const codes = new Set<string>();
    for (let i = 0; i < 64; i++) codes.add(scan(original.subarray(0, Math.floor(rnd() * original.length))));
    assert.deepEqual([...codes], ['truncated'], 'section headers sit at the end of the file');
  });

  it('.debug_info cut short at 64 points (its sh_size shrunk)', () => {
    const rnd = prng(3);
    const shoff = Number(new DataView(original.buffer, original.byteOffset).getBigUint64(0x28, true));
    const codes = new Set<string>();
    for (let i = 0; i < 64; i++) {
      const b = new Uint8Array(original);
      new DataView(b.buffer).setBigUint64(shoff + info.index * 64 + 32, BigInt(Math.floor(rnd() * info.size)), true);
      codes.add(scan(b));
    }
    assert.ok(codes.has('truncated-unit') || codes.has('relocation-out-of-section'), [...codes].join(','));
  });

  it('random bytes flipped in .debug_info and .debug_abbrev (300 trials)', () => {
    const rnd = prng(2);
    const codes = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const b = new Uint8Array(original);
      const sec = i % 3 === 0 ? abbrev : info;
      for (let k = 0; k < 1 + (i % 4); k++) b[sec.offset + Math.floor(rnd() * sec.size)] = Math.floor(rnd() * 256);
      const code = scan(b);
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    assert.ok(codes.size >= 3, JSON.stringify([...codes]));
  });

  it('a read past the end of a DWARF section -> truncated', () => {
    const sec = new DwarfSection('.debug_str_offsets', Uint8Array.from([1, 2]), 'test.o');
    expectDwarfError(() => sec.u32(0), 'truncated', 0);
    expectDwarfError(() => sec.offsetAt(1, 4), 'truncated', 1);
  });
});

/**
 * Type graphs rewired at random: every DW_AT_type / DW_AT_specification of a small unit points at a
 * random DIE, which makes loops of every shape (through pointers, qualifiers, arrays, typedefs,
 * subroutine parameters, struct members, specifications). Byte flips rarely do that.
 */
describe('robustness: rewired DWARF type graphs', () => {
  const abbrev = abbrevTable([
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
  const LABELS = ['int', 'ptr', 'cst', 'td', 'arr', 'st', 'fn', 'decl', 'fnptr', 'def', 'local'];

  function build(pick: () => string): { info: Uint8Array; at: (label: string) => number } {
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
      a.label('def').uleb(13); r(); a.uleb(9).u8(0x03).u64(0x1000n);
      a.uleb(14).cstr('f');
      a.label('local').uleb(15).cstr('s'); r(); a.uleb(9).u8(0x03).u64(0x2000n);
      a.uleb(0);
      a.uleb(0);
    });
    return { info: a.bytes(), at: (l) => a.at(l) };
  }

  it('500 random graphs: every variable scanned and spelled, only typed errors, no hang', function () {
    this.timeout(60_000);
    const next = prng(0xd1e);
    const identity = ['int', 'int', 'int', 'int', 'int', 'int', 'int', 'int', 'int', 'int', 'int', 'int', 'ptr', 'int', 'decl', 'int'];
    let i = 0;
    const sane = build(() => identity[i++] ?? 'int');
    assert.ok(collectVariables(dwarfOf({ info: sane.info, abbrev })).variables.length >= 2, 'the unrewired unit has its variables');
    for (let trial = 0; trial < 500; trial++) {
      const { info, at } = build(() => LABELS[Math.floor(next() * LABELS.length)]!);
      const d = dwarfOf({ info, abbrev });
      try {
        const vars = collectVariables(d).variables;
        const printer = new CTypePrinter(d);
        for (const v of vars) assert.equal(typeof v.cType, 'string');
        for (const l of LABELS) { printer.name(at(l)); printer.size(at(l)); }
      } catch (e) {
        if (!(e instanceof DwarfError)) assert.fail(`trial ${trial}: ${e instanceof Error ? e.stack : String(e)}`);
      }
    }
  });
});
