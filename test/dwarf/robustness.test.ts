import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { ElfError, ElfFile } from '../../src/elf/index.js';
import { collectVariables, Dwarf, DwarfError } from '../../src/dwarf/index.js';
import { fixture } from '../support/paths.js';
import { expectDwarfError } from './helpers.js';
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
