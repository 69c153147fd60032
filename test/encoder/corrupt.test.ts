import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { validateBtf } from '../../src/btf/validate.js';
import { ElfFile } from '../../src/elf/index.js';
import { encodeObject } from '../../src/encoder/encode.js';
import { EncoderError } from '../../src/encoder/errors.js';
import { fixture } from '../support/paths.js';

/**
 * Random corruption of the DWARF, relocations and symbols of a fixture (deterministic seeds):
 * the encoder must either return BTF that validates, or throw EncoderError; never anything else
 * (no RangeError/TypeError), never hang.
 */
describe('encoder on corrupted objects', function () {
  this.timeout(120_000);

  it('returns valid BTF or throws EncoderError for 300 corrupted copies', () => {
    const orig = new Uint8Array(readFileSync(fixture('encoder/vars-dwarf5.o')));
    const elf = ElfFile.fromBytes(orig, 'vars-dwarf5.o');
    const sections = ['.debug_info', '.debug_abbrev', '.debug_str', '.rela.debug_info', '.debug_str_offsets', '.debug_addr', '.symtab']
      .map((n) => elf.section(n)).filter((s) => s !== undefined);
    assert.ok(sections.length >= 5);
    let seed = 42;
    const rnd = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 2 ** 32; };
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const bytes = orig.slice();
      const sec = sections[Math.floor(rnd() * sections.length)]!;
      for (let k = 1 + Math.floor(rnd() * 4); k > 0; k--) bytes[sec.offset + Math.floor(rnd() * sec.size)] = Math.floor(rnd() * 256);
      let outcome: string;
      try {
        const r = encodeObject('corrupt.o', { mode: rnd() < 0.5 ? 'extras' : 'full' }, bytes);
        assert.deepEqual(validateBtf(r.btf), [], 'what encodeObject returns validates');
        outcome = 'valid';
      } catch (e) {
        assert.ok(e instanceof EncoderError, `iteration ${i} (${sec.name}): ${e instanceof Error ? e.stack : String(e)}`);
        outcome = e.code;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    assert.ok((outcomes.get('valid') ?? 0) > 100, `most corruptions still encode: ${JSON.stringify([...outcomes])}`);
  });
});
