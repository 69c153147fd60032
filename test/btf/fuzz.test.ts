/**
 * Corrupted input never crashes: random byte changes in a valid BTF either fail to parse with a
 * BtfError, or parse into a level that every consumer (validate, write, the three dumps,
 * cTypeName) handles without throwing or hanging. Seeded, so failures reproduce. A second pass
 * rewires type references at random, which makes the loops byte flips rarely produce (a prototype
 * or anonymous struct reaching itself): every consumer, dedup and flatten included, must finish.
 */
import assert from 'node:assert/strict';
import { Btf } from '../../src/btf/btf.js';
import { dedupBtf } from '../../src/btf/dedup.js';
import { cloneType, mapTypeIds } from '../../src/btf/kinds.js';
import { flattenStandalone } from '../../src/btf/merge.js';
import { cTypeName, dumpC } from '../../src/btf/dump-c.js';
import { dumpJson } from '../../src/btf/dump-json.js';
import { dumpRaw } from '../../src/btf/dump-raw.js';
import { BtfError } from '../../src/btf/errors.js';
import { parseBtf } from '../../src/btf/parse.js';
import { validateBtf } from '../../src/btf/validate.js';
import { writeBtf } from '../../src/btf/write.js';
import { allKinds, threeLevels } from './sample.js';

/** xorshift32: deterministic and dependency-free. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
}

function exercise(btf: Btf): void {
  validateBtf(btf);
  writeBtf(btf);
  dumpRaw(btf);
  dumpJson(btf);
  dumpC(btf);
  for (let id = btf.startId; id < btf.nextId; id++) cTypeName(btf, id);
}

function corrupt(bytes: Uint8Array, next: () => number, typeStart: number, typeEnd: number): Uint8Array {
  const c = bytes.slice();
  const n = 1 + (next() % 4);
  for (let i = 0; i < n; i++) {
    const at = typeStart + (next() % (typeEnd - typeStart));
    // small values make ids and offsets that point at other records: the interesting case
    c[at] = next() % 3 === 0 ? next() & 0xff : next() % 40;
  }
  return c;
}

describe('btf/fuzz: corrupted records', () => {
  it('standalone: 3000 corruptions of the every-kind sample', function () {
    this.timeout(60000);
    const good = writeBtf(allKinds());
    const typeLen = new DataView(good.buffer).getUint32(12, true);
    const next = rng(0xb7f);
    let parsed = 0;
    for (let i = 0; i < 3000; i++) {
      const bad = corrupt(good, next, 24, 24 + typeLen);
      let btf: Btf;
      try { btf = parseBtf(bad); } catch (e) {
        assert.ok(e instanceof BtfError, `case ${i}: ${String(e)}`);
        continue;
      }
      parsed++;
      try { exercise(btf); } catch (e) { assert.fail(`case ${i}: ${e instanceof Error ? e.stack : String(e)}`); }
    }
    assert.ok(parsed > 1000, `only ${parsed} corruptions parsed`);
  });

  it('split: 1000 corruptions of the top of a 3-level chain', function () {
    this.timeout(60000);
    const { base, mid, top } = threeLevels();
    const good = writeBtf(top);
    const typeLen = new DataView(good.buffer).getUint32(12, true);
    const b = parseBtf(writeBtf(base));
    const m = parseBtf(writeBtf(mid), { base: b });
    const next = rng(42);
    for (let i = 0; i < 1000; i++) {
      let btf: Btf;
      try { btf = parseBtf(corrupt(good, next, 24, 24 + typeLen), { base: m }); } catch (e) {
        assert.ok(e instanceof BtfError, `case ${i}: ${String(e)}`);
        continue;
      }
      try { exercise(btf); } catch (e) { assert.fail(`case ${i}: ${e instanceof Error ? e.stack : String(e)}`); }
    }
  });

  it('rewired references: 1500 random reference graphs (loops of every shape) never hang or throw raw', function () {
    this.timeout(60000);
    const good = allKinds();
    const next = rng(0x1005);
    for (let i = 0; i < 1500; i++) {
      const types = good.types.map(cloneType);
      for (const t of types) mapTypeIds(t, (id) => (next() % 3 === 0 ? next() % good.nextId : id));
      const btf = new Btf({ types, strings: good.strings });
      try {
        exercise(btf);
        flattenStandalone(btf);
        dedupBtf(btf);
      } catch (e) {
        if (!(e instanceof BtfError)) assert.fail(`case ${i}: ${e instanceof Error ? e.stack : String(e)}`);
      }
    }
  });
});
