import { strict as assert } from 'node:assert';
import {
  EXCLUSION, isValidVarName, selectVariables, type SelectionContext, type VariableCandidate,
} from '../../src/encoder/select.js';

const sections: Record<number, { name: string; size: bigint; isData: boolean }> = {
  1: { name: '.data', size: 64n, isData: true },
  2: { name: '.bss', size: 32n, isData: true },
  3: { name: '.data..percpu', size: 16n, isData: true },
  4: { name: '.note.Linux', size: 16n, isData: false },
};
const symbols = new Set(['1:0:first']);
function ctx(inBase?: Map<string, Set<string>>): SelectionContext {
  return {
    section: (i) => sections[i],
    hasObjectSymbol: (i, off, name) => symbols.has(`${i}:${off}:${name}`),
    inBase,
  };
}
let die = 0x100;
function v(name: string | undefined, sec: number | undefined, offset: number, size: number, more: Partial<VariableCandidate> = {}): VariableCandidate {
  return {
    name, dieOffset: die++, scope: 'file', external: true, declaration: false, artificial: false,
    address: sec === undefined ? undefined : { sectionIndex: sec, offset: BigInt(offset) },
    size: BigInt(size), voidType: false, ...more,
  };
}
const all = { vars: 'all', skipInBase: true } as const;

describe('encoder/select', () => {
  it('keeps plain variables, one DATASEC per section sorted by offset, linkage from DW_AT_external', () => {
    const s = selectVariables([v('b', 1, 16, 8), v('first', 1, 0, 4, { external: false }), v('z', 2, 4, 4)], ctx(), all);
    assert.deepEqual(s.sections.map((x) => x.name), ['.bss', '.data']);
    const data = s.sections[1]!;
    assert.deepEqual(data.vars.map((x) => [x.name, x.offset, x.size, x.linkage]), [['first', 0, 4, 0], ['b', 16, 8, 1]]);
    assert.equal(data.size, 64, 'DATASEC size is the section size');
    assert.equal(s.excluded.length, 0);
  });

  it('gives every exclusion its reason', () => {
    const cases: [VariableCandidate, keyof typeof EXCLUSION][] = [
      [v('local', 1, 8, 4, { scope: 'function' }), 'function-local'],
      [v('decl', undefined, 0, 4, { declaration: true }), 'declaration'],
      [v('art', 1, 8, 4, { artificial: true }), 'artificial'],
      [v('noaddr', undefined, 0, 4), 'no-address'],
      [v(undefined, 1, 8, 4), 'no-name'],
      [v('__UNIQUE_ID_license12', 1, 8, 4), 'reserved-prefix'],
      [v('__tpstrtab_foo', 1, 8, 4), 'reserved-prefix'],
      [v('bad-name', 1, 8, 4), 'invalid-name'],
      [v('vo', 1, 8, 0, { voidType: true }), 'void-type'],
      [v('zero', 1, 8, 0), 'bad-size'],
      [v('huge', 1, 8, 0x100000000), 'bad-size'],
      [v('_note_9', 4, 0, 4), 'not-data-section'],
      [v('past', 2, 30, 4), 'outside-section'],
      [v('alias', 1, 0, 4), 'offset0-no-symbol'],
    ];
    const s = selectVariables(cases.map((c) => c[0]), ctx(), all);
    assert.equal(s.sections.length, 0);
    const got = new Map(s.excluded.map((e) => [e.candidate, e.reason]));
    for (const [c, reason] of cases) assert.equal(got.get(c), reason, `${c.name}`);
  });

  it('applies --vars percpu / none and skips what the base already has', () => {
    const list = [v('pc', 3, 0, 4), v('d', 1, 8, 4)];
    symbols.add('3:0:pc');
    const percpu = selectVariables(list, ctx(), { vars: 'percpu', skipInBase: false });
    assert.deepEqual(percpu.sections.map((s) => s.name), ['.data..percpu']);
    assert.equal(percpu.excluded[0]!.reason, 'not-percpu');
    const none = selectVariables(list, ctx(), { vars: 'none', skipInBase: false });
    assert.equal(none.sections.length, 0);
    assert.deepEqual(none.excluded.map((e) => e.reason), ['vars-none', 'vars-none']);
    const inBase = selectVariables(list, ctx(new Map([['.data..percpu', new Set(['pc'])]])), all);
    assert.deepEqual(inBase.sections.map((s) => s.name), ['.data']);
    assert.equal(inBase.excluded[0]!.reason, 'in-base');
    const full = selectVariables(list, ctx(new Map([['.data..percpu', new Set(['pc'])]])), { vars: 'all', skipInBase: false });
    assert.equal(full.sections.length, 2, 'full mode keeps what the base has');
  });

  it('removes duplicates from several CUs and overlapping aliases, deterministically', () => {
    const a = v('dup', 1, 8, 4, { external: false });
    const b = v('dup', 1, 8, 4, { external: false });
    const alias1 = v('zalias', 1, 16, 8, { external: false });
    const alias2 = v('real', 1, 16, 8, { external: true });
    const inside = v('inner', 1, 20, 4);
    const s1 = selectVariables([a, b, alias1, alias2, inside], ctx(), all);
    const s2 = selectVariables([inside, alias2, alias1, b, a], ctx(), all);
    const names = (s: typeof s1): string[] => s.sections[0]!.vars.map((x) => `${x.name}@${x.offset}:${x.candidate.dieOffset}`);
    assert.deepEqual(names(s1), names(s2), 'order of input does not matter');
    assert.deepEqual(s1.sections[0]!.vars.map((x) => x.name), ['dup', 'real']);
    const reasons = new Map(s1.excluded.map((e) => [e.candidate, e.reason]));
    assert.equal(reasons.get(b), 'duplicate');
    assert.equal(reasons.get(alias1), 'overlap', 'the external symbol wins an alias');
    assert.equal(reasons.get(inside), 'overlap');
    assert.match(s1.excluded.find((e) => e.candidate === inside)!.detail!, /kept real/);
    // non-overlap invariant
    let end = 0;
    for (const x of s1.sections[0]!.vars) { assert.ok(x.offset >= end); end = x.offset + x.size; }
  });

  it('validates BTF VAR names like the kernel', () => {
    for (const ok of ['a', '_x', '.L1', 'foo.0', 'x9']) assert.ok(isValidVarName(ok), ok);
    for (const bad of ['', '9x', 'a-b', 'a b', 'é', 'x'.repeat(128)]) assert.ok(!isValidVarName(bad), bad);
  });
});
