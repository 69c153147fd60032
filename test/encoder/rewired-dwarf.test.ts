import { strict as assert } from 'node:assert';
import { checkEncoded, encodeElf } from '../../src/encoder/index.js';
import { EncoderError } from '../../src/encoder/errors.js';
import { DwarfError } from '../../src/dwarf/index.js';
import { BtfError } from '../../src/btf/errors.js';
import { validateBtf } from '../../src/btf/validate.js';
import { BtfBuilder } from '../../src/btf/builder.js';
import { INT_ENC } from '../../src/btf/kinds.js';
import { elfWithDwarf } from '../dwarf/helpers.js';
import { buildRewiredUnit, prng, REWIRE_LABELS, REWIRED_G_ADDR, rewiredAbbrev } from '../dwarf/rewired-graphs.js';

/**
 * The encoder on DWARF type graphs rewired at random (loops through arrays, typedefs, members,
 * parameters, specifications): each run gives BTF that passes the pre-write check, or a typed
 * error, never a raw exception
 * (a self-containing array once overflowed the stack in the size computation).
 */
describe('encoder robustness: rewired DWARF type graphs', () => {
  it('300 random graphs in extras and full mode: valid BTF or a typed error', function () {
    this.timeout(120_000);
    // The daemon's contract: output split on a base (here a one-type base holding `int`).
    const builder = new BtfBuilder();
    builder.addInt('int', 4, INT_ENC.SIGNED);
    const base = builder.finish();
    const next = prng(7);
    let encoded = 0;
    for (let trial = 0; trial < 300; trial++) {
      const { info } = buildRewiredUnit(() => REWIRE_LABELS[Math.floor(next() * REWIRE_LABELS.length)]!);
      const elf = elfWithDwarf({
        info, abbrev: rewiredAbbrev,
        extra: [{ name: '.data', data: new Uint8Array(64), flags: 3n }],
        symbols: [{ name: 'g', value: REWIRED_G_ADDR, size: 8n, type: 1, bind: 1, shndx: '.data' }],
      });
      for (const mode of ['extras', 'full'] as const) {
        try {
          // What the CLI does before writing: invalid output becomes EncoderError 'invalid-output'.
          const r = encodeElf(elf, { mode, base });
          checkEncoded(r.btf, 'test.o');
          assert.deepEqual(validateBtf(r.btf), [], `trial ${trial} ${mode}`);
          encoded++;
        } catch (e) {
          if (!(e instanceof EncoderError || e instanceof DwarfError || e instanceof BtfError)) {
            assert.fail(`trial ${trial} ${mode}: ${e instanceof Error ? e.stack : String(e)}`);
          }
        }
      }
    }
    assert.ok(encoded >= 300, `most graphs encode (${encoded} of 600)`);
  });
});
