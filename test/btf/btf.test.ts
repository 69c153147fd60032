/** The Btf level object: lookups by id, by string offset and by (name, kind) across a chain. */
import assert from 'node:assert/strict';
import type { Btf } from '../../src/btf/btf.js';
import { BtfError } from '../../src/btf/errors.js';
import { KIND } from '../../src/btf/kinds.js';
import { parseBtf } from '../../src/btf/parse.js';
import { writeBtf } from '../../src/btf/write.js';
import { threeLevels } from './sample.js';

/** The sample chain (base: int, struct base_s; mid: ptr, struct mid_s, typedef int; top: 2 VARs + DATASEC), re-read from bytes. */
function parsedChain(): { base: Btf; mid: Btf; top: Btf } {
  const built = threeLevels();
  const base = parseBtf(writeBtf(built.base), { source: 'base' });
  const mid = parseBtf(writeBtf(built.mid), { base, source: 'mid' });
  const top = parseBtf(writeBtf(built.top), { base: mid, source: 'top' });
  return { base, mid, top };
}

function expectBtfError(fn: () => unknown, code: string, file: string): void {
  assert.throws(fn, (e: unknown) => e instanceof BtfError && e.code === code && e.message.startsWith(`${file}: `) && !e.message.includes('\n'));
}

describe('btf/btf: lookups across a chain', () => {
  for (const [what, make] of [['built', threeLevels], ['parsed', parsedChain]] as const) {
    it(`${what}: (name, kind) finds types of every level from the top, ids ascending`, () => {
      const { base, mid, top } = make();
      assert.deepEqual(top.findByName('base_s', KIND.STRUCT), [2], 'a root-level struct from two levels up');
      assert.deepEqual(top.findByName('mid_s', KIND.STRUCT), [4]);
      // 'int' names an INT in base and a TYPEDEF in mid: the kind picks one, no kind gives both
      assert.deepEqual(top.findByName('int'), [1, 5]);
      assert.deepEqual(top.findByName('int', KIND.INT), [1]);
      assert.deepEqual(top.findByName('int', KIND.TYPEDEF), [5]);
      assert.deepEqual(top.findByName('top_var', KIND.VAR), [6]);
      assert.deepEqual(top.findByName('top_var', KIND.STRUCT), []);
      assert.deepEqual(top.findByName('no_such_name'), []);
      // a lower level does not see the levels above it
      assert.deepEqual(mid.findByName('top_var'), []);
      assert.deepEqual(base.findByName('int'), [1]);
    });

    it(`${what}: ids, kinds, names and owning levels`, () => {
      const { base, mid, top } = make();
      assert.deepEqual([top.depth, mid.depth, base.depth], [2, 1, 0]);
      assert.deepEqual(top.chain(), [base, mid, top]);
      assert.deepEqual([1, 3, 6].map((id) => top.levelOf(id)), [base, mid, top]);
      assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map((id) => top.kindOf(id)),
        [KIND.INT, KIND.STRUCT, KIND.PTR, KIND.STRUCT, KIND.TYPEDEF, KIND.VAR, KIND.VAR, KIND.DATASEC]);
      assert.deepEqual([1, 2, 4, 6, 7, 8].map((id) => top.nameOf(id)), ['int', 'base_s', 'mid_s', 'top_var', 'a', '.data']);
      assert.equal(top.nameOffOf(7), top.findStr('a'));
      assert.ok(top.findStr('a')! < mid.startStrOff, "'a' is reused from the base strings");
      assert.equal(top.kindOf(9), undefined);
      assert.equal(top.tryType(9), undefined);
      assert.equal(top.hasType(0), false);
      assert.equal(top.hasType(8), true);
      assert.equal(top.describe(4), "[4] STRUCT 'mid_s'");
    });
  }

  it('ids and string offsets outside the chain are typed one-line errors naming the file', () => {
    const { top } = parsedChain();
    expectBtfError(() => top.type(9), 'bad-type-id', 'top');
    expectBtfError(() => top.levelOf(9), 'bad-type-id', 'top');
    expectBtfError(() => top.str(top.strings.end), 'bad-string-offset', 'top');
    assert.equal(top.tryStr(top.strings.end), undefined);
    assert.equal(top.tryStr(-1), undefined);
  });
});
