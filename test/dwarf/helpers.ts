/** Test helper: a Dwarf over an in-memory ELF built from DWARF section bytes (+ optional relocations). */
import { ElfFile } from '../../src/elf/index.js';
import { Dwarf, DwarfError, type DwarfErrorCode } from '../../src/dwarf/index.js';
import { strict as assert } from 'node:assert';
import { buildElf, type SectionSpec, type SymbolSpec } from '../elf/builder.js';

export interface DwarfInput {
  info: Uint8Array;
  abbrev: Uint8Array;
  str?: Uint8Array;
  lineStr?: Uint8Array;
  strOffsets?: Uint8Array;
  addr?: Uint8Array;
  extra?: SectionSpec[];
  symbols?: SymbolSpec[];
  type?: number;
}

export function elfWithDwarf(input: DwarfInput): ElfFile {
  const sections: SectionSpec[] = [
    { name: '.debug_info', data: input.info },
    { name: '.debug_abbrev', data: input.abbrev },
  ];
  if (input.str) sections.push({ name: '.debug_str', data: input.str });
  if (input.lineStr) sections.push({ name: '.debug_line_str', data: input.lineStr });
  if (input.strOffsets) sections.push({ name: '.debug_str_offsets', data: input.strOffsets });
  if (input.addr) sections.push({ name: '.debug_addr', data: input.addr });
  sections.push(...(input.extra ?? []));
  return ElfFile.fromBytes(buildElf({ sections, ...(input.symbols ? { symbols: input.symbols } : {}), ...(input.type ? { type: input.type } : {}) }), 'test.o');
}

export function dwarfOf(input: DwarfInput): Dwarf { return Dwarf.fromElf(elfWithDwarf(input)); }

/** Assert `fn` throws a DwarfError with `code` whose one-line message names test.o and an offset. */
export function expectDwarfError(fn: () => unknown, code: DwarfErrorCode, offset?: number): DwarfError {
  let caught: DwarfError | undefined;
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DwarfError, `expected DwarfError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.startsWith('test.o: '), `names the file: ${e.message}`);
    assert.match(e.message, /\+0x[0-9a-f]+: /, `names an offset: ${e.message}`);
    if (offset !== undefined) assert.equal(e.offset, offset, e.message);
    caught = e;
    return true;
  });
  return caught!;
}

/** Walk every DIE of every unit (forces full decoding of structure). */
export function walkAll(d: Dwarf): number {
  let n = 0;
  for (const u of d.units()) { const c = u.cursor(); while (c.next()) { n++; c.rawAttributes(); } }
  return n;
}
