/**
 * The word-based validator (src/btf/validate.ts) reports exactly what the object-based reference
 * (validate-reference.ts, the first implementation) reports: same problems, same order, same
 * messages, on the broken cases, on thousands of corrupted records, and on real files.
 */
import assert from 'node:assert/strict';
import type { Btf } from '../../src/btf/btf.js';
import { BtfError } from '../../src/btf/errors.js';
import { parseBtf, readBtfFile } from '../../src/btf/parse.js';
import { validateBtf, type BtfProblem } from '../../src/btf/validate.js';
import { writeBtf } from '../../src/btf/write.js';
import { fixture } from '../support/paths.js';
import { BROKEN_CASES } from './broken-cases.js';
import { FIXTURE_MODULES, allKinds, threeLevels, vmlinux } from './sample.js';
import { validateBtf as referenceValidate } from './validate-reference.js';

/** Level-wide size messages differ in wording (the reference estimated); compare their rules only. */
const norm = (ps: BtfProblem[]): string[] => ps.map((p) => (p.id === undefined ? p.rule : `${p.id} ${p.kind} ${p.rule}: ${p.message}`));

function same(btf: Btf, what: string): void {
  // Reference first: it builds the objects, after which the production validator encodes them,
  // so both paths (parsed words and encoded objects) are compared over the suite.
  const expected = norm(referenceValidate(btf));
  assert.deepEqual(norm(validateBtf(btf)), expected, what);
}

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
}

describe('btf/validate: word-based = object-based reference', () => {
  it('every broken case and the valid samples', () => {
    for (const c of BROKEN_CASES) same(c.build(), `${c.rule}: ${c.what}`);
    same(allKinds(), 'all kinds');
    const { base, mid, top } = threeLevels();
    for (const l of [base, mid, top]) same(l, 'chain');
  });

  it('parsed (never materialised) levels give the same problems as the reference', () => {
    for (const c of BROKEN_CASES) {
      const bytes = writeBtf(c.build());
      let words: Btf;
      try { words = parseBtf(bytes); } catch (e) { assert.ok(e instanceof BtfError); continue; }
      const fromWords = norm(validateBtf(words));
      assert.deepEqual(fromWords, norm(referenceValidate(parseBtf(bytes))), c.what);
    }
  });

  it('2000 corrupted records (parsed words vs reference)', function () {
    this.timeout(60000);
    const good = writeBtf(allKinds());
    const typeLen = new DataView(good.buffer).getUint32(12, true);
    const next = rng(0x5eed);
    for (let i = 0; i < 2000; i++) {
      const c = good.slice();
      for (let k = 0, n = 1 + (next() % 4); k < n; k++) c[24 + (next() % typeLen)] = next() % 3 === 0 ? next() & 0xff : next() % 40;
      let a: Btf;
      try { a = parseBtf(c); } catch { continue; }
      const fromWords = norm(validateBtf(a));
      assert.deepEqual(fromWords, norm(referenceValidate(parseBtf(c))), `case ${i}`);
    }
  });

  it('vmlinux and the fixture modules', () => {
    assert.deepEqual(validateBtf(vmlinux()), []);
    for (const m of FIXTURE_MODULES) same(readBtfFile(fixture('kernel/btf', m), { base: vmlinux() }), m);
  });
});
