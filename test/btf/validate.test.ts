import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Btf } from '../../src/btf/btf.js';
import { BtfBuilder } from '../../src/btf/builder.js';
import { BTF_MAX_TYPE } from '../../src/btf/kinds.js';
import { parseBtf, readBtfFile } from '../../src/btf/parse.js';
import type { BtfType } from '../../src/btf/types.js';
import { VALIDATION_RULES, formatProblem, isValidBtfName, validateBtf } from '../../src/btf/validate.js';
import { writeBtf } from '../../src/btf/write.js';
import { loadIntoKernel, requireOk } from '../support/kernel-load.js';
import { fixture, kernelDir, requireShared } from '../support/paths.js';
import { BROKEN_CASES, nestedStructs } from './broken-cases.js';
import { FIXTURE_MODULES, allKinds, threeLevels, vmlinux } from './sample.js';

describe('btf/validate', () => {
  it('accepts the every-kind sample and a 3-level chain at every level', () => {
    assert.deepEqual(validateBtf(allKinds()).map(formatProblem), []);
    const { base, mid, top } = threeLevels();
    for (const l of [base, mid, top]) assert.deepEqual(validateBtf(l).map(formatProblem), []);
  });

  it('accepts 32 nested structs (the kernel\'s resolve depth) and refuses 33', () => {
    assert.deepEqual(validateBtf(nestedStructs(32)), []);
    assert.deepEqual(validateBtf(nestedStructs(33)).map((p) => p.rule), ['resolve-depth']);
  });

  it('accepts vmlinux and the fixture modules', () => {
    assert.deepEqual(validateBtf(vmlinux()).map(formatProblem), []);
    for (const m of FIXTURE_MODULES) {
      assert.deepEqual(validateBtf(readBtfFile(fixture('kernel/btf', m), { base: vmlinux() })).map(formatProblem), [], m);
    }
  });

  describe('rejects hand-made broken BTF, naming the rule and the type', () => {
    for (const c of BROKEN_CASES) {
      it(`${c.rule}: ${c.what}`, () => {
        const problems = validateBtf(c.build());
        const hit = problems.find((p) => p.rule === c.rule);
        assert.ok(hit, `expected rule ${c.rule}, got: ${problems.map(formatProblem).join(' | ') || 'nothing'}`);
        if (c.id !== undefined) {
          assert.equal(hit.id, c.id, formatProblem(hit));
          assert.ok(hit.kind !== undefined);
          assert.match(formatProblem(hit), new RegExp(`^\\[${c.id}\\] ${hit.kind}: ${c.rule}: `));
        }
      });
    }
  });

  it('the running kernel (BPF_BTF_LOAD) agrees: accepts the valid samples, refuses every broken case', function () {
    this.timeout(120000);
    const dir = mkdtempSync(join(tmpdir(), 'btfcore-kernel-'));
    try {
      const file = (name: string, btf: Parameters<typeof writeBtf>[0]): string => { const p = join(dir, name); writeFileSync(p, writeBtf(btf)); return p; };
      requireOk(this, loadIntoKernel(file('all-kinds', allKinds())));
      requireOk(this, loadIntoKernel(file('base', threeLevels().base)));
      requireOk(this, loadIntoKernel(file('nested32', nestedStructs(32))));
      const disagreements: string[] = [];
      BROKEN_CASES.forEach((c, i) => {
        if (c.stricterThanKernel !== undefined) return;
        const r = loadIntoKernel(file(`case${i}`, c.build()));
        if (r.ok) disagreements.push(`${c.rule} (${c.what}): the kernel loaded it`);
        else if ('skipReason' in r) requireOk(this, r);
      });
      assert.deepEqual(disagreements, []);
    } finally { rmSync(dir, { recursive: true }); }
  });

  it('agrees with the running kernel on 300 randomly corrupted records (never "valid" when the kernel refuses)', function () {
    this.timeout(120000);
    const dir = mkdtempSync(join(tmpdir(), 'btfcore-kfuzz-'));
    // Rules where we are stricter than recent kernels (documented in VALIDATION_RULES / broken-cases).
    const stricter = new Set(['name-not-string-start', 'name', 'kind-flag']);
    try {
      const good = writeBtf(allKinds());
      const typeLen = new DataView(good.buffer).getUint32(12, true);
      let x = 0xc0ffee;
      const next = (): number => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
      const wrong: string[] = [];
      for (let i = 0, tried = 0; tried < 300 && i < 10000; i++) {
        const c = good.slice();
        for (let k = 0, n = 1 + (next() % 3); k < n; k++) c[24 + (next() % typeLen)] = next() % 3 === 0 ? next() & 0xff : next() % 40;
        let btf;
        try { btf = parseBtf(c); } catch { continue; }
        tried++;
        const rules = [...new Set(validateBtf(btf).map((p) => p.rule))];
        const path = join(dir, `c${i}`);
        writeFileSync(path, c);
        const r = loadIntoKernel(path);
        if (!r.ok && 'skipReason' in r) requireOk(this, r);
        if (!r.ok && rules.length === 0) wrong.push(`case ${i}: we say valid, the kernel refuses: ${'error' in r ? r.error : ''}`);
        if (r.ok && rules.some((rule) => !stricter.has(rule))) wrong.push(`case ${i}: the kernel loads it, we report ${rules.join(', ')}`);
      }
      assert.deepEqual(wrong, []);
    } finally { rmSync(dir, { recursive: true }); }
  });

  it('every rule has at least one broken case', () => {
    const covered = new Set(BROKEN_CASES.map((c) => c.rule));
    const limits = new Set(['too-many-types', 'strings-too-large', 'too-large']); // need >16 MiB inputs: see below
    for (const rule of Object.keys(VALIDATION_RULES)) {
      if (!limits.has(rule)) assert.ok(covered.has(rule as never), `no test case for rule ${rule}`);
    }
  });

  it('size limits: too many types, too many strings, too large', () => {
    // A base of 0xfffff types (one shared record: cheap) makes the split level's first id 0x100000.
    const int = allKinds().types[0]!;
    const huge = new Btf({ types: new Array<BtfType>(BTF_MAX_TYPE).fill(int) });
    huge.strings.add('int');
    const split = new BtfBuilder({ base: huge });
    split.addPtr(1);
    const rules = validateBtf(split.finish()).map((p) => p.rule);
    assert.deepEqual(rules, ['too-many-types']);
    const big = allKinds();
    big.strings.add('x'.repeat(0x1000000));
    const bigRules = validateBtf(big).map((p) => p.rule);
    assert.ok(bigRules.includes('strings-too-large'), bigRules.join());
    assert.ok(bigRules.includes('too-large'), bigRules.join());
  });

  it('a split level is checked against its base but base types are trusted', () => {
    const { mid } = threeLevels();
    mid.addType({ kind: 2, nameOff: 0, kflag: true, type: 1 });
    const problems = validateBtf(mid);
    assert.deepEqual(problems.map((p) => [p.id, p.rule]), [[mid.nextId - 1, 'kind-flag']]);
  });

  it('identifier rules match the kernel', () => {
    assert.ok(isValidBtfName('_a1', false));
    assert.ok(!isValidBtfName('1a', false));
    assert.ok(!isValidBtfName('.data', false));
    assert.ok(isValidBtfName('.data..percpu', true));
    assert.ok(!isValidBtfName('', true));
    assert.ok(!isValidBtfName('a'.repeat(128), false));
    assert.ok(isValidBtfName('a'.repeat(127), false));
    assert.ok(!isValidBtfName('a-b', true));
  });

  it('a hostile name (control characters) still gives one line per problem', () => {
    const b = new BtfBuilder();
    const int = b.addInt('int', 4, 1);
    b.addStruct('evil\nname\x1b[2J', 4);
    b.addField('x', int, 0);
    b.addTypedef('t\r', 99);
    const lines = validateBtf(b.finish()).map(formatProblem);
    assert.ok(lines.length >= 2, lines.join(' | '));
    for (const l of lines) assert.ok(!/[\x00-\x1f\x7f]/.test(l), JSON.stringify(l));
    assert.ok(lines.some((l) => l.startsWith('[2] STRUCT: name: ') && l.includes('evil')), lines.join(' | '));
  });

  it('accepts vmlinux and all 1121 modules (shared)', function () {
    requireShared(this);
    const v = readBtfFile(join(kernelDir, 'btf/vmlinux'));
    assert.deepEqual(validateBtf(v).map(formatProblem), []);
    const dir = join(kernelDir, 'btf/modules');
    for (const n of readdirSync(dir)) {
      const problems = validateBtf(readBtfFile(join(dir, n), { base: v }));
      assert.deepEqual(problems.map(formatProblem), [], n);
    }
  });
});
