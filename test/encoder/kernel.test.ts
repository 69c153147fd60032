import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { validateBtf } from '../../src/btf/validate.js';
import { KIND_NAME } from '../../src/btf/kinds.js';
import { writeBtf } from '../../src/btf/write.js';
import { collectVariables, Dwarf } from '../../src/dwarf/index.js';
import { ElfFile } from '../../src/elf/index.js';
import { encodeObject } from '../../src/encoder/encode.js';
import { explainVariables } from '../../src/encoder/explain.js';
import { fixture, haveShared, kernelDir, requireShared } from '../support/paths.js';
import { bpftoolDump, dedupWithLibbpf, loadIntoKernel, requireOk } from '../support/kernel-load.js';
import { chainOf, oracleFiles, tmpFile, varEntries } from './support.js';

/** vmlinux BTF as a plain file (the fixture is gzip-compressed; oracles need it raw). */
const vmlinuxFixture = tmpFile('vmlinux.btf', gunzipSync(readFileSync(fixture('kernel/btf/vmlinux.gz'))));

interface Case { name: string; ko: string; bases: string[] }
const committed: Case[] = ['cordic', 'crc7', 'tcp_bbr', 'loop'].map((m) => ({
  name: m, ko: fixture(`kernel/debug/${m}.ko`), bases: [vmlinuxFixture, fixture(`kernel/btf/${m}`)],
}));
const SHARED_MODULES = ['cordic', 'crc7', 'tcp_bbr', 'loop', 'virtio_net', 'nf_conntrack', 'nf_tables', 'kvm', 'kvm-intel', 'btrfs', 'xfs'];
const shared: Case[] = SHARED_MODULES.map((f) => ({
  name: f, ko: resolve(kernelDir, `debug/${f}.ko`),
  bases: [resolve(kernelDir, 'btf/vmlinux'), resolve(kernelDir, `btf/modules/${f.replace(/-/g, '_')}`)],
}));

/** Checks every property issue 4 asks of extras for one module; returns the VAR entries. */
function checkExtras(ctx: Mocha.Context, c: Case, oracles: boolean): string[] {
  const chain = chainOf(c.bases)!;
  const r = encodeObject(c.ko, { base: chain });
  const btf = r.btf;
  assert.deepEqual(validateBtf(btf).map((p) => p.message), [], `${c.name}: valid`);
  // nothing left out for want of a valid type (that rule explains itself when it fires)
  assert.deepEqual(r.selection.excluded.filter((e) => e.reason === 'invalid-type').map((e) => `${e.candidate.name}: ${e.detail}`), [], `${c.name}: invalid-type`);
  // one VAR per variable the rules keep, computed independently from the DWARF reader's collector
  const elf = ElfFile.open(c.ko);
  const dwarf = Dwarf.fromElf(elf);
  const scan = collectVariables(dwarf, { functionStatics: false, types: false });
  const decisions = explainVariables(elf, dwarf, scan.variables, { base: chain });
  const expected = decisions.filter((d) => d.reason === undefined).map((d) => `${d.variable.sectionName}\t${d.variable.name}`).sort();
  const got = varEntries(btf);
  assert.deepEqual(got, expected, `${c.name}: VARs = collector + rules`);
  for (const d of decisions) if (d.reason !== undefined) assert.ok(typeof d.reason === 'string');
  // deterministic
  assert.deepEqual(writeBtf(encodeObject(c.ko, { base: chain }).btf), writeBtf(btf), `${c.name}: deterministic`);
  if (oracles) {
    const f = oracleFiles(btf);
    // module + extras flattened onto vmlinux: libbpf dedup must not find anything to merge
    const out = tmpFile(`${c.name}.dedup`, new Uint8Array());
    const res = requireOk(ctx, dedupWithLibbpf(out, f.flat, [f.root]));
    // The shipped module BTF alone already has a few types today's libbpf merges (pahole 1.24's
    // libbpf was older): the extras must not add any more.
    const module = btf.base!;
    const alone = requireOk(ctx, dedupWithLibbpf(tmpFile(`${c.name}.mod`, new Uint8Array()), c.bases[1]!, [f.root]));
    const moduleMerged = module.nextId - 1 - Number(alone.split(' ')[1]);
    const extraMerged = btf.nextId - 1 - Number(res.split(' ')[1]) - moduleMerged;
    // Exactly none when the module's own BTF is clean; where it has duplicates of its own (kvm: two
    // copies of a btf_trace_* typedef), a type of ours pointing at one copy can pair with the module's
    // type pointing at the other once libbpf merges them: at most one such pair per module duplicate.
    assert.ok(extraMerged >= 0 && extraMerged <= moduleMerged, `${c.name}: libbpf dedup finds ${extraMerged} duplicates of chain types in the extras (module alone: ${moduleMerged})`);
    requireOk(ctx, bpftoolDump(f.flat, f.root));
    requireOk(ctx, loadIntoKernel(f.standalone));
  }
  return got;
}

describe('encoder on real Debian modules (committed fixtures)', function () {
  this.timeout(120_000);
  for (const c of committed) {
    it(`${c.name}: extras validate, match the rules, add no duplicate type, pass bpftool and the kernel`, function () {
      const vars = checkExtras(this, c, true);
      assert.ok(vars.length >= 3, `${c.name} has variables`);
    });
  }

  it('loop: the extras are exactly the variables pahole 1.31 lists (committed copy of the list)', function () {
    const vars = checkExtras(this, committed[3]!, false);
    // meta/pahole-1.31-global-vars/loop.vars
    assert.equal(vars.length, 30);
    for (const v of ['.bss\tmax_part', '.data\tloop_ctl_mutex', '.gnu.linkonce.this_module\t__this_module', '.rodata\tlo_fops', '__param\t__param_max_loop', '__versions\t____versions']) {
      assert.ok(vars.includes(v), v);
    }
  });
});

describe('encoder on the 11 shared debug modules', function () {
  this.timeout(600_000);
  before(function () { requireShared(this); });

  for (const c of shared) {
    it(`${c.name}: extras checks and coverage of pahole 1.31's global_var list`, function () {
      if (!haveShared || !existsSync(c.ko)) this.skip();
      const got = new Set(checkExtras(this, c, true));
      const listFile = resolve(kernelDir, `meta/pahole-1.31-global-vars/${c.name.replace(/-/g, '_')}.vars`);
      const missing = readFileSync(listFile, 'utf8').split('\n').filter((l) => l !== '' && !got.has(l));
      assert.deepEqual(missing, [], `${c.name}: every variable pahole 1.31 encodes is in the extras`);
    });
  }
});

/** Multiset of "KIND 'name' vlen size" over a level's own types (order-free fidelity key). */
function typeSet(btf: import('../../src/btf/btf.js').Btf): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of btf.types) {
    const vlen = 'members' in t ? t.members.length : 'values' in t ? t.values.length : 'params' in t ? t.params.length : 'vars' in t ? t.vars.length : 0;
    const k = `${KIND_NAME[t.kind]} '${btf.str(t.nameOff)}' vlen=${vlen} size=${'size' in t ? t.size : ''}`;
    out.set(k, (out.get(k) ?? 0) + 1);
  }
  return out;
}
function diff(a: Map<string, number>, b: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [k, n] of a) if (n > (b.get(k) ?? 0)) out.push(`${n - (b.get(k) ?? 0)}x ${k}`);
  return out;
}

describe('encoder --mode full vs the shipped module BTF (pahole 1.24)', function () {
  this.timeout(600_000);

  for (const m of ['cordic', 'crc7', 'tcp_bbr', 'loop']) {
    it(`${m}: exactly the shipped set of types (committed fixtures)`, () => {
      const base = chainOf([vmlinuxFixture])!;
      const ours = encodeObject(fixture(`kernel/debug/${m}.ko`), { base, mode: 'full' }).btf;
      assert.deepEqual(validateBtf(ours), []);
      const shipped = chainOf([vmlinuxFixture, fixture(`kernel/btf/${m}`)])!;
      assert.deepEqual(diff(typeSet(ours), typeSet(shipped)), [], 'nothing extra');
      assert.deepEqual(diff(typeSet(shipped), typeSet(ours)), [], 'nothing missing');
    });
  }

  for (const c of shared) {
    it(`${c.name}: no type the shipped BTF lacks; what we lack are vmlinux duplicates`, function () {
      if (!haveShared || !existsSync(c.ko)) this.skip();
      const vmlinux = chainOf([c.bases[0]!])!;
      const ours = encodeObject(c.ko, { base: vmlinux, mode: 'full' }).btf;
      assert.deepEqual(validateBtf(ours).map((p) => p.message), []);
      requireOk(this, loadIntoKernel(oracleFiles(ours).standalone));
      const shipped = chainOf(c.bases)!;
      assert.deepEqual(diff(typeSet(ours), typeSet(shipped)), [], `${c.name}: nothing extra`);
      // Known difference: pahole 1.24's libbpf keeps a module copy of a vmlinux struct when, deep in
      // its graph, the module has a full struct where vmlinux only has a FWD; our matching maps it to
      // vmlinux's. Every named type we lack must therefore exist in vmlinux, and there are few.
      const missing = diff(typeSet(shipped), typeSet(ours));
      assert.ok(missing.length <= 12, `${c.name}: ${missing.length} kinds of types missing: ${missing.join('; ')}`);
      for (const line of missing) {
        const m = /^\d+x (\w+) '([^']*)'/.exec(line)!;
        if (m[2] === '' || m[1] === 'FUNC') continue;
        assert.ok(vmlinux.findByName(m[2]!).length > 0, `${c.name}: missing ${line} is not a vmlinux type`);
      }
    });
  }
});
