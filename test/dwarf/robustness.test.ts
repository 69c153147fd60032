import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { ElfError, ElfFile } from '../../src/elf/index.js';
import { collectVariables, CTypePrinter, Dwarf, DwarfError } from '../../src/dwarf/index.js';
import { fixture } from '../support/paths.js';
import { dwarfOf, expectDwarfError } from './helpers.js';
import { buildRewiredUnit, prng, REWIRE_LABELS, rewiredAbbrev } from './rewired-graphs.js';
import { DwarfSection } from '../../src/dwarf/index.js';

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
  const abbrev = rewiredAbbrev;
  const LABELS = REWIRE_LABELS;
  const build = buildRewiredUnit;

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
