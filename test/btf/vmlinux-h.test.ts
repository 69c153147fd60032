/**
 * The C dump as the vmlinux.h a BPF developer wants (issue 11): every enumerator, `extern ...
 * __ksym` declarations (weak for modules), ambiguous names resolved by the documented rule, and
 * the merged views keeping bpftool's own C dump complete. Checked with gcc, `clang -target bpf`,
 * bpftool 7.1 and the kernel (BPF_BTF_LOAD), each skipped with its reason where missing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Btf } from '../../src/btf/btf.js';
import { BtfBuilder } from '../../src/btf/builder.js';
import { dumpC } from '../../src/btf/dump-c.js';
import { KIND } from '../../src/btf/kinds.js';
import { exposeAnonEnums, mergeSiblings } from '../../src/btf/merge.js';
import { validateBtf } from '../../src/btf/validate.js';
import { writeBtf } from '../../src/btf/write.js';
import { lookupVariable } from '../../src/daemon/lookup.js';
import { bpftoolDumpC, loadIntoKernel, requireOk } from '../support/kernel-load.js';
import { compileHeader } from '../support/c-header.js';

const dir = mkdtempSync(join(tmpdir(), 'btf-extra-vmlinux-h-'));
let n = 0;
function file(name: string, data: string | Uint8Array): string {
  const p = join(dir, `${n++}-${name}`);
  writeFileSync(p, data);
  return p;
}

/** vmlinux-like: an anonymous enum only a VAR uses, two statics of one name, a global and a static of another. */
function sample(): Btf {
  const b = new BtfBuilder();
  const int = b.addInt('int', 4, 1);
  const bool = b.addInt('_Bool', 1, 4);
  const anon = b.addEnum('', 4);
  b.addEnumValue('CRNG_EMPTY', 0); b.addEnumValue('CRNG_EARLY', 1); b.addEnumValue('CRNG_READY', 2);
  const vars = [
    b.addVar('crng_init', anon, 1), b.addVar('has_steal_clock', bool, 0), b.addVar('has_steal_clock', int, 0),
    b.addVar('twice', int, 0), b.addVar('twice', int, 1),
  ];
  b.addDatasec('.data', 64);
  vars.forEach((v, i) => { b.addVarInfo(v, i * 8, 4); });
  return b.finish();
}

describe('btf/dump-c as vmlinux.h', function () {
  this.timeout(120_000);

  it('prints every enumerator once, declares variables as __ksym, resolves ambiguous names by the rule', function () {
    const btf = sample();
    const text = dumpC(btf);
    assert.equal(text.match(/CRNG_READY = 2/g)?.length, 1, 'the anonymous enum only a VAR uses is printed at top level');
    assert.match(text, /^extern const void crng_init __ksym; \/\* anonymous enum type: enumerators above \*\/$/m);
    assert.match(text, /^\/\* extern _Bool has_steal_clock __ksym; \(ambiguous name: 2 variables, 0 global; none declared\) \*\/$/m);
    assert.match(text, /^\/\* extern int has_steal_clock __ksym; \(ambiguous name: 2 variables, 0 global; none declared\) \*\/$/m);
    assert.match(text, /^\/\* extern int twice __ksym; \(ambiguous name: 2 variables; declared: the global one\) \*\/$/m);
    assert.equal(text.match(/^extern int twice __ksym;$/gm)?.length, 1);
    requireOk(this, compileHeader(text, '#include "vmlinux.h"\nint f(void) { return CRNG_READY + twice; }\n'));
  });

  it('merged views keep a top-level copy of such an enum, so bpftool\'s C dump prints its enumerators too', function () {
    const btf = sample();
    const before = requireOk(this, bpftoolDumpC(file('before.btf', writeBtf(btf))));
    assert.doesNotMatch(before, /CRNG_READY/, 'bpftool 7.1 hides an anonymous enum a VAR references');
    assert.equal(exposeAnonEnums(btf), 1);
    assert.equal(exposeAnonEnums(btf), 0, 'idempotent');
    assert.deepEqual(validateBtf(btf), []);
    const p = file('after.btf', writeBtf(btf));
    assert.match(requireOk(this, bpftoolDumpC(p)), /CRNG_READY = 2/);
    const ours = dumpC(btf);
    assert.equal(ours.match(/CRNG_READY = 2/g)?.length, 1, 'our dump prints the copy and the original once');
    requireOk(this, compileHeader(ours));
    requireOk(this, loadIntoKernel(p));
  });

  it('merged/kernel: DATASECs named <object>.<section>, lookup lists every candidate with its object, kernel-valid', function () {
    const vb = new BtfBuilder();
    const int = vb.addInt('int', 4, 1);
    const pv = vb.addVar('percpu_thing', int, 1);
    vb.addDatasec('.data..percpu', 8);
    vb.addVarInfo(pv, 0, 4);
    const vm = vb.finish();
    const sibling = (linkage: number): Btf => {
      const b = new BtfBuilder({ base: vm });
      const v = b.addVar('dup', int, linkage);
      b.addDatasec('.data', 8);
      b.addVarInfo(v, 4, 4);
      return b.finish();
    };
    const merged = mergeSiblings(vm, [sibling(1), sibling(0), sibling(0)], {
      objects: { base: 'vmlinux', siblings: ['vmlinux', 'kvm', 'xfs'] },
    });
    const secs = merged.types.filter((t) => t.kind === KIND.DATASEC).map((t) => merged.str(t.nameOff));
    assert.deepEqual(secs, ['vmlinux..data..percpu', 'vmlinux..data', 'kvm..data', 'xfs..data']);
    assert.deepEqual(validateBtf(merged), []);
    const hits = lookupVariable(merged, 'dup', () => 'merged');
    assert.deepEqual(hits.map((h) => [h.object, h.section, h.offset, h.linkage]),
      [['vmlinux', '.data', 4, 'global'], ['kvm', '.data', 4, 'static'], ['xfs', '.data', 4, 'static']]);
    assert.deepEqual(lookupVariable(merged, 'percpu_thing', () => 'merged').map((h) => [h.object, h.section]), [['vmlinux', '.data..percpu']]);
    const text = dumpC(merged);
    assert.match(text, /^extern int percpu_thing __ksym;$/m, 'vmlinux: not weak');
    assert.match(text, /^extern int dup __ksym;$/m, 'the one global wins');
    assert.match(text, /^\/\* extern int dup __ksym __weak; \(ambiguous name: 3 variables; declared: the global one in vmlinux\) \*\/$/m);
    requireOk(this, compileHeader(text));
    requireOk(this, loadIntoKernel(file('kernel.btf', writeBtf(merged))));
  });
});
