/**
 * Merge/flatten tests: the 3-level chain vmlinux -> loop -> built extras reads back, validates,
 * flattens onto vmlinux for bpftool 7.1 / libbpf 1.1, and flattens to a standalone BTF the
 * running kernel accepts (BPF_BTF_LOAD); sibling merges of the committed modules, and of all
 * 1121 shared modules when ../shared is present.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Btf } from '../../src/btf/btf.js';
import { BtfBuilder } from '../../src/btf/builder.js';
import { dedupBtf } from '../../src/btf/dedup.js';
import { BtfError } from '../../src/btf/errors.js';
import { KIND, forEachTypeId } from '../../src/btf/kinds.js';
import { combineSiblings, exposeAnonEnums, flattenOnto, flattenStandalone, joinParts, mergePart, mergeSiblings, rebaseLevel } from '../../src/btf/merge.js';
import { parseBtf, readBtfFile } from '../../src/btf/parse.js';
import { validateBtf } from '../../src/btf/validate.js';
import { writeBtf } from '../../src/btf/write.js';
import { bpftoolDump, bpftoolDumpC, loadIntoKernel, parseSplitWithLibbpf, parseWithLibbpf, requireOk } from '../support/kernel-load.js';
import { fixture, kernelDir, requireShared } from '../support/paths.js';
import { extrasChain, loopModule } from './merge-fixtures.js';
import { FIXTURE_MODULES, vmlinux, vmlinuxBytes } from './sample.js';

function expectBtfError(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof BtfError && e.code === code && !e.message.includes('\n'));
}

/** Name of the VAR's type, looking through nothing (the VAR points at the named type directly). */
function varTypeName(btf: Btf, id: number): string {
  const v = btf.type(id);
  assert.equal(v.kind, KIND.VAR);
  return btf.nameOf((v as { type: number }).type);
}

function varsOf(btf: Btf): Map<string, string> {
  const out = new Map<string, string>();
  for (let id = btf.startId; id < btf.nextId; id++) {
    if (btf.type(id).kind === KIND.VAR) out.set(btf.nameOf(id), varTypeName(btf, id));
  }
  return out;
}

/** Lines of a bpftool dump that start a type record. */
function typeLines(dump: string): string[] {
  return dump.split('\n').filter((l) => l.startsWith('['));
}

describe('btf/merge: 3-level chain vmlinux -> loop -> extras', () => {
  let dir: string;
  let vmPath: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'btf-merge-'));
    vmPath = join(dir, 'vmlinux');
    writeFileSync(vmPath, vmlinuxBytes());
  });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  it('reads back with every name right and validates at each level', () => {
    const { vm, mod, extras, vars } = extrasChain();
    const bytes = writeBtf(extras);
    const modBack = parseBtf(writeBtf(mod), { base: vm });
    const back = parseBtf(bytes, { base: modBack, source: 'extras' });
    assert.equal(back.startId, mod.nextId);
    assert.equal(back.startStrOff, mod.strings.end);
    assert.deepEqual(varsOf(back), new Map(vars));
    // the DATASEC and the extras' own struct resolve too
    assert.deepEqual(back.findByName('.bss', KIND.DATASEC), [back.nextId - 1]);
    const stats = back.type(back.findByName('extra_stats', KIND.STRUCT)[0]!);
    assert.ok(stats.kind === KIND.STRUCT);
    assert.deepEqual(stats.members.map((m) => `${back.str(m.nameOff)}:${back.nameOf(m.type)}`), ['hits:int', 'dev:']);
    assert.deepEqual(validateBtf(back), []);
    assert.deepEqual(validateBtf(modBack), []);
  });

  it('flattenOnto(vmlinux) joins loop + extras into one level bpftool 7.1 and libbpf read', function () {
    this.timeout(60_000);
    const { vm, mod, extras, vars } = extrasChain();
    const flat = flattenOnto(extras, vm);
    assert.equal(flat.base, vm);
    assert.equal(flat.startId, mod.startId);
    assert.equal(flat.types.length, mod.types.length + extras.types.length);
    assert.deepEqual(varsOf(flat), new Map(vars));
    assert.deepEqual(validateBtf(flat), []);
    const path = join(dir, 'loop-merged');
    writeFileSync(path, writeBtf(flat));
    const dump = requireOk(this, bpftoolDump(path, vmPath));
    const lines = typeLines(dump);
    assert.equal(lines.length, flat.types.length);
    assert.ok(lines.includes(`[${mod.startId + mod.types.findIndex((t) => t.kind === KIND.STRUCT && mod.str(t.nameOff) === 'loop_device')}] STRUCT 'loop_device' size=480 vlen=24`));
    for (const name of vars.keys()) {
      const id = flat.findByName(name, KIND.VAR)[0]!;
      const v = flat.type(id);
      assert.ok(v.kind === KIND.VAR);
      assert.ok(lines.includes(`[${id}] VAR '${name}' type_id=${v.type}, linkage=${v.linkage === 1 ? 'global' : 'static'}`), name);
    }
    const parsed = requireOk(this, parseSplitWithLibbpf(vmPath, path));
    assert.equal(parsed, `ok ${flat.nextId - 1}`);
  });

  it('flattenOnto with dedup drops what vmlinux already has; flattenOnto refuses a non-ancestor', () => {
    const { vm, mod, extras } = extrasChain();
    // a level that repeats vmlinux types on top of the extras
    const b = new BtfBuilder({ base: extras });
    const int = b.addInt('int', 4, 1);
    const lh = b.addStruct('list_head', 16);
    b.addField('next', lh + 1, 0);
    b.addField('prev', lh + 1, 64);
    b.addPtr(lh);
    b.addVar('late', int, 1);
    const top = b.finish();
    const flat = flattenOnto(top, vm, { dedup: true });
    const plain = flattenOnto(extras, vm, { dedup: true });
    // the extras' PTR to loop_device is one the module already has
    assert.equal(plain.types.length, mod.types.length + extras.types.length - 1);
    assert.equal(flat.types.length, plain.types.length + 1, 'only the VAR is new');
    assert.equal(flat.findByName('list_head', KIND.STRUCT).every((id) => id < vm.nextId), true);
    assert.deepEqual(validateBtf(flat), []);
    expectBtfError(() => flattenOnto(vm, mod), 'bad-chain');
    expectBtfError(() => flattenOnto(mod, mod), 'bad-chain');
    expectBtfError(() => flattenOnto(extras, loopModule()), 'bad-chain');
  });

  it('flattenStandalone gives one BTF the running kernel accepts (BPF_BTF_LOAD)', function () {
    this.timeout(60_000);
    const { extras, vars } = extrasChain();
    const flat = flattenStandalone(extras);
    assert.equal(flat.base, undefined);
    assert.equal(flat.startId, 1);
    assert.equal(flat.nextId, extras.nextId);
    const flatVars = varsOf(flat);
    for (const [name, type] of vars) assert.equal(flatVars.get(name), type, name);
    assert.equal(flatVars.get('runqueues'), 'rq', 'vmlinux variables are there too');
    const path = join(dir, 'standalone');
    writeFileSync(path, writeBtf(flat));
    assert.equal(requireOk(this, parseWithLibbpf(path)), `ok ${flat.nextId - 1}`);
    assert.equal(requireOk(this, loadIntoKernel(path)), `ok ${flat.nextId - 1}`);
  });

  it('the kernel refuses a broken standalone BTF (the load check can fail)', function () {
    this.timeout(60_000);
    const b = new BtfBuilder();
    const int = b.addInt('int', 4, 1);
    const v = b.addVar('x', int, 1);
    b.addDatasec('.data', 8);
    b.addVarInfo(v, 4, 4);
    b.addVarInfo(v, 0, 4); // unsorted entries: the kernel rejects them
    const path = join(dir, 'broken');
    writeFileSync(path, writeBtf(b.finish()));
    const r = loadIntoKernel(path);
    if (!r.ok && 'skipReason' in r) requireOk(this, r);
    assert.equal(r.ok, false);
    assert.ok(!r.ok && 'error' in r && /BPF_BTF_LOAD/.test(r.error), JSON.stringify(r));
  });
});

describe('btf/merge: siblings', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'btf-siblings-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  function fixtureModules(vm: Btf): Btf[] {
    return FIXTURE_MODULES.map((m) => parseBtf(readFileSync(fixture('kernel/btf', m)), { base: vm, source: m }));
  }

  /** vmlinux and the fixture modules on it, loop given as module+extras (`siblings`). */
  function fixtureSiblings(): { vm: Btf; mods: Btf[]; extras: Btf; siblings: Btf[] } {
    const vm = vmlinux();
    const mods = fixtureModules(vm);
    const loopIdx = FIXTURE_MODULES.indexOf('loop');
    const { extras } = extrasChain(mods[loopIdx]!);
    return { vm, mods, extras, siblings: mods.map((m, i) => (i === loopIdx ? extras : m)) };
  }

  it('merges the fixture modules (one given as module+extras) into one standalone BTF, base ids unchanged', function () {
    this.timeout(120_000);
    const { vm, mods, extras, siblings } = fixtureSiblings();
    const merged = mergeSiblings(vm, siblings);
    assert.equal(merged.base, undefined);
    // vmlinux's records keep their ids
    for (let id = 1; id < vm.nextId; id++) assert.equal(merged.type(id).kind, vm.type(id).kind, `[${id}]`);
    assert.equal(merged.nameOf(vm.findByName('task_struct', KIND.STRUCT)[0]!), 'task_struct');
    // every named struct, func and var of every sibling is there
    for (const m of [...mods, extras]) {
      for (let id = m.startId; id < m.nextId; id++) {
        const t = m.type(id);
        if ((t.kind === KIND.STRUCT || t.kind === KIND.FUNC || t.kind === KIND.VAR) && t.nameOff !== 0) {
          assert.ok(merged.findByName(m.nameOf(id), t.kind).length > 0, `${m.source}: ${m.describe(id)}`);
        }
      }
    }
    const sum = mods.reduce((n, m) => n + m.types.length, 0) + extras.types.length;
    assert.ok(merged.nextId - vm.nextId < sum, 'cross-module duplicates are gone');
    assert.deepEqual(validateBtf(merged), []);
    const bytes = writeBtf(merged);
    assert.deepEqual(writeBtf(mergeSiblings(vm, siblings)), bytes, 'deterministic');
    const path = join(dir, 'merged');
    writeFileSync(path, bytes);
    assert.equal(requireOk(this, loadIntoKernel(path)), `ok ${merged.nextId - 1}`);
  });

  it('mergePart + joinParts: the siblings deduplicated one by one onto a standalone base, joined into one valid standalone BTF', function () {
    this.timeout(120_000);
    const { vm, siblings } = fixtureSiblings();
    const names = FIXTURE_MODULES.map((m) => m.replace(/-/g, '_'));
    // The base: vmlinux standalone, its DATASECs named vmlinux.<section> (more strings than vmlinux).
    const onto = mergeSiblings(vm, [], { objects: { base: 'vmlinux', siblings: [] } });
    assert.ok(onto.strings.end > vm.strings.end);
    const parts = siblings.map((s, i) => mergePart(vm, s, onto, names[i]));
    for (const p of parts) assert.equal(p.base, onto);
    const joined = joinParts(onto, parts);
    assert.equal(joined.nextId, onto.nextId + parts.reduce((n, p) => n + p.types.length, 0), 'joined, not deduplicated again');
    const flat = flattenStandalone(joined);
    assert.deepEqual(validateBtf(flat), []);
    const full = mergeSiblings(vm, siblings, { objects: { base: 'vmlinux', siblings: names } });
    const named = (b: Btf): string[] => b.types.filter((t) => t.nameOff !== 0).map((t) => `${t.kind}:${b.str(t.nameOff)}`);
    const have = new Set(named(flat));
    assert.deepEqual(named(full).filter((n) => !have.has(n)), [], 'every named type of the full merge, DATASECs named alike');
    assert.ok(flat.nextId >= full.nextId);
    // each part is deduplicated against the base: none repeats a struct of vmlinux (the fixtures define none anew)
    const vmStructs = new Set(vm.types.filter((t) => t.kind === KIND.STRUCT && t.nameOff !== 0).map((t) => vm.str(t.nameOff)));
    for (const p of parts) for (const t of p.types) if (t.kind === KIND.STRUCT && t.nameOff !== 0) assert.ok(!vmStructs.has(p.str(t.nameOff)), p.str(t.nameOff));
    assert.deepEqual(writeBtf(flattenStandalone(joinParts(onto, siblings.map((s, i) => mergePart(vm, s, onto, names[i]))))), writeBtf(flat), 'deterministic');
    expectBtfError(() => combineSiblings(onto, [parts[0]!], undefined, vm), 'bad-chain');
    expectBtfError(() => joinParts(vm, [parts[0]!]), 'bad-chain');
  });

  it('mergePart deduplicates what lies above the module level against the kernel base, and leaves the module level as built', () => {
    const vb = new BtfBuilder();
    const int = vb.addInt('int', 4, 1);
    const vm = vb.finish();
    const struct = (b: BtfBuilder, name: string): ReturnType<BtfBuilder['addStruct']> => { const id = b.addStruct(name, 4); b.addField('x', int, 0); return id; };
    // vmlinux's extras add struct only_vars (a type only its variables use).
    const xb = new BtfBuilder({ base: vm });
    const vmVar = xb.addVar('vm_var', struct(xb, 'only_vars'), 1);
    xb.addDatasec('.data', 4); xb.addVarInfo(vmVar, 0, 4);
    const onto = mergeSiblings(vm, [xb.finish()], { objects: { base: 'vmlinux', siblings: ['vmlinux'] } });
    // A module whose own BTF has struct in_module, and whose extras repeat struct only_vars.
    const mb = new BtfBuilder({ base: vm });
    const inModule = struct(mb, 'in_module');
    const mod = mb.finish();
    const eb = new BtfBuilder({ base: mod });
    const a = eb.addVar('uses_only_vars', struct(eb, 'only_vars'), 0);
    const b = eb.addVar('uses_in_module', inModule, 0);
    eb.addDatasec('.bss', 8); eb.addVarInfo(a, 0, 4); eb.addVarInfo(b, 4, 4);
    const part = mergePart(vm, eb.finish(), onto, 'mod');
    const structs = part.types.filter((t) => t.kind === KIND.STRUCT).map((t) => part.str(t.nameOff));
    assert.deepEqual(structs, ['in_module'], 'only_vars is the kernel base\'s');
    const varType = (name: string): number => {
      const t = part.types.find((x) => x.kind === KIND.VAR && part.str(x.nameOff) === name);
      return t?.kind === KIND.VAR ? t.type : -1;
    };
    assert.ok(varType('uses_only_vars') < onto.nextId && part.nameOf(varType('uses_only_vars')) === 'only_vars');
    assert.ok(varType('uses_in_module') >= onto.nextId && part.nameOf(varType('uses_in_module')) === 'in_module');
    assert.deepEqual(part.types.filter((t) => t.kind === KIND.DATASEC).map((t) => part.str(t.nameOff)), ['mod..bss']);
    assert.deepEqual(validateBtf(flattenStandalone(joinParts(onto, [part]))), []);
  });

  it('optionally deduplicates the whole standalone result too (flattenStandalone / mergeSiblings dedupBase)', function () {
    this.timeout(60_000);
    const { vm, mod, extras } = extrasChain();
    const plain = flattenStandalone(extras);
    const deduped = flattenStandalone(extras, { dedup: true });
    // the extras' PTR to loop_device repeats the module's; vmlinux itself has nothing to merge
    assert.equal(deduped.nextId, plain.nextId - 1);
    assert.equal(deduped.findByName('extra_stats', KIND.STRUCT).length, 1);
    const once = mergeSiblings(vm, [mod]);
    const full = mergeSiblings(vm, [mod], { dedupBase: true });
    assert.deepEqual(writeBtf(full), writeBtf(dedupBtf(once)));
    assert.equal(full.nextId, once.nextId);
  });

  it('collapses a module given twice to one copy', () => {
    const vm = vmlinux();
    const [a] = fixtureModules(vm);
    const once = mergeSiblings(vm, [a!]);
    const twice = mergeSiblings(vm, [a!, a!]);
    const funcs = (b: Btf): number => b.types.filter((t) => t.kind !== KIND.VAR && t.kind !== KIND.DATASEC).length;
    assert.equal(funcs(twice), funcs(once));
  });

  it('rebaseLevel re-parents a chain read against another copy of the base', () => {
    const vm = vmlinux();
    const otherVm = parseBtf(vmlinuxBytes(), { source: 'vmlinux copy' });
    const { extras } = extrasChain(loopModule(otherVm));
    expectBtfError(() => mergeSiblings(vm, [extras]), 'bad-chain');
    const moved = rebaseLevel(extras, vm);
    assert.equal(moved.base!.base, vm);
    assert.equal(moved.startId, extras.startId);
    assert.deepEqual(writeBtf(moved), writeBtf(extras));
    assert.deepEqual(writeBtf(moved.base!), writeBtf(extras.base!));
    assert.deepEqual(writeBtf(mergeSiblings(vm, [moved])), writeBtf(mergeSiblings(otherVm, [extras])));
    // the moved level shares no mutable state with the original: adding to one leaves the other
    const before = writeBtf(extras);
    moved.addStr('only_in_the_moved_level');
    assert.deepEqual(writeBtf(extras), before);
    assert.equal(extras.findStr('only_in_the_moved_level'), undefined);
    expectBtfError(() => rebaseLevel(extras, new BtfBuilder().finish()), 'bad-chain');
  });

  it('refuses siblings on another base and references past a sibling\'s end', () => {
    const vm = vmlinux();
    const other = new BtfBuilder().finish();
    const stray = new BtfBuilder({ base: new BtfBuilder().finish() }).finish();
    expectBtfError(() => combineSiblings(vm, [stray]), 'bad-chain');
    expectBtfError(() => mergeSiblings(other, [loopModule(vm)]), 'bad-chain');
    const b = new BtfBuilder({ base: vm });
    b.addPtr(vm.nextId + 5);
    expectBtfError(() => combineSiblings(vm, [b.finish()]), 'bad-type-id');
    const b2 = new BtfBuilder({ base: vm });
    b2.addType({ kind: KIND.FWD, nameOff: vm.strings.end + 1000, kflag: false });
    expectBtfError(() => combineSiblings(vm, [b2.finish()]), 'bad-string-offset');
  });
});

describe('btf/merge: exposeAnonEnums over a shared base', () => {
  /** A base with three anonymous enums: one nothing uses, one a VAR uses, one a struct holds. */
  function base(): Btf {
    const b = new BtfBuilder();
    const int = b.addInt('int', 4, 1);
    const free = b.addEnum('', 4); b.addEnumValue('FREE_A', 0);
    const byVar = b.addEnum('', 4); b.addEnumValue('VAR_A', 0); b.addEnumValue('VAR_B', 1);
    const held = b.addEnum('', 4); b.addEnumValue('HELD_A', 7);
    const s = b.addStruct('holder', 8); b.addField('e', held, 0); b.addField('i', int, 32);
    const v = b.addVar('by_var', byVar, 1);
    b.addDatasec('.data', 4); b.addVarInfo(v, 0, 4);
    void s;
    ids = { int, free, byVar };
    return b.finish();
  }
  let ids: Record<'int' | 'free' | 'byVar', ReturnType<BtfBuilder['addInt']>>;
  /** A level on it whose VAR uses the base's free enum, and whose struct holds the VAR-only one inline. */
  function upper(b0: Btf, holdVarEnum: boolean): Btf {
    const b = new BtfBuilder({ base: b0 });
    const { int, free, byVar } = ids;
    const own = b.addEnum('', 4); b.addEnumValue('OWN_A', 3);
    const v1 = b.addVar('uses_free', free, 0);
    const v2 = b.addVar('uses_own', own, 0);
    if (holdVarEnum) { b.addStruct('wrapper', 8); b.addField('e', byVar, 0); b.addField('i', int, 32); }
    b.addDatasec('.bss', 8); b.addVarInfo(v1, 0, 4); b.addVarInfo(v2, 4, 4);
    return b.finish();
  }
  const enumsOf = (btf: Btf): string[] => btf.types.filter((t) => t.kind === KIND.ENUM)
    .map((t) => (t.kind === KIND.ENUM ? t.values.map((e) => btf.str(e.nameOff)).join(',') : ''));

  for (const hold of [false, true]) {
    it(`with the base scanned once, adds exactly what a scan of the whole chain adds${hold ? ' (an upper struct holds a base enum inline)' : ''}`, () => {
      const b0 = base();
      const whole = upper(b0, hold);
      const added = exposeAnonEnums(whole);
      // Scan the base first (as the daemon does for vmlinux), then two files split on it.
      const incremental = upper(b0, hold);
      assert.equal(exposeAnonEnums(incremental, b0), added);
      assert.deepEqual(enumsOf(incremental), enumsOf(whole));
      assert.ok(Buffer.from(writeBtf(incremental)).equals(Buffer.from(writeBtf(whole))));
      const again = upper(b0, hold);
      assert.equal(exposeAnonEnums(again, b0), added);
      assert.equal(exposeAnonEnums(again, b0), 0, 'idempotent');
      // The VAR-only base enum gets a copy unless a struct prints it; the free one, now used by a VAR, gets one too; the own one too.
      assert.deepEqual(enumsOf(whole), hold ? ['OWN_A', 'FREE_A', 'OWN_A'] : ['OWN_A', 'FREE_A', 'VAR_A,VAR_B', 'OWN_A']);
      assert.deepEqual(validateBtf(whole), []);
    });
  }

  it('on the vmlinux fixture: a raw (never built) base and a built one give the same copies, bytes for bytes', () => {
    const raw = parseBtf(vmlinuxBytes(), { source: 'vmlinux' });
    const built = parseBtf(vmlinuxBytes(), { source: 'vmlinux' });
    assert.ok(built.types.length > 0 && built.rawTypes === undefined && raw.rawTypes !== undefined);
    // An anonymous enum of vmlinux that nothing refers to (printed at top level) ...
    const used = new Set<number>();
    for (const t of built.types) forEachTypeId(t, (id) => { used.add(id); });
    const free = built.types.findIndex((t, i) => t.kind === KIND.ENUM && t.nameOff === 0 && t.values.length > 0 && !used.has(i + 1));
    assert.ok(free >= 0);
    // ... that a variable above loop's extras now uses: hidden, so it needs a copy.
    const chainOn = (vm: Btf): Btf => {
      const top = new BtfBuilder({ base: extrasChain(loopModule(vm)).extras, source: 'more' });
      const v = top.addVar('uses_free_enum', (free + 1) as Parameters<BtfBuilder['addVar']>[1], 0);
      top.addDatasec('.data', 4);
      top.addVarInfo(v, 0, 4);
      return top.finish();
    };
    const outputs = [raw, built].map((vm) => {
      const flat = flattenOnto(chainOn(vm), vm);
      const added = exposeAnonEnums(flat, vm);
      return { added, bytes: Buffer.from(writeBtf(flat)) };
    });
    assert.equal(outputs[0]!.added, 1);
    assert.equal(outputs[1]!.added, 1);
    assert.ok(outputs[0]!.bytes.equals(outputs[1]!.bytes));
    assert.ok(raw.rawTypes !== undefined, 'the scan did not build vmlinux\'s records');
    // And as the whole chain scanned without a base.
    const whole = flattenOnto(chainOn(built), built);
    assert.equal(exposeAnonEnums(whole), 1);
    assert.ok(Buffer.from(writeBtf(whole)).equals(outputs[1]!.bytes));
  });

  it('refuses a base that is not below the level', () => {
    assert.throws(() => exposeAnonEnums(upper(base(), false), base()), (e: unknown) => e instanceof BtfError && e.code === 'bad-chain');
  });
});

describe('btf/merge: vmlinux + all 1121 shared modules', () => {
  it('merges into one standalone BTF that validates, loads into the kernel, and dumps as C that compiles', function () {
    requireShared(this);
    this.timeout(600_000);
    const dir = mkdtempSync(join(tmpdir(), 'btf-all-'));
    try {
      const vmPath = join(kernelDir, 'btf/vmlinux');
      const vm = readBtfFile(vmPath);
      const names = readdirSync(join(kernelDir, 'btf/modules')).sort();
      assert.equal(names.length, 1121);
      const mods = names.map((n) => readBtfFile(join(kernelDir, 'btf/modules', n), { base: vm }));
      const t0 = performance.now();
      const merged = mergeSiblings(vm, mods);
      const ms = performance.now() - t0;
      const bytes = writeBtf(merged);
      const sum = statSync(vmPath).size + names.reduce((n, m) => n + statSync(join(kernelDir, 'btf/modules', m)).size, 0);
      process.stderr.write(`    merged vmlinux + ${names.length} modules: ${merged.nextId - 1} types, ${bytes.length} bytes `
        + `(${(100 * bytes.length / sum).toFixed(1)}% of the ${sum} bytes of the parts), ${ms.toFixed(0)} ms\n`);
      assert.ok(bytes.length < sum * 0.8, 'much smaller than the sum of the parts');
      assert.deepEqual(validateBtf(merged).slice(0, 5), []);
      const path = join(dir, 'kernel');
      writeFileSync(path, bytes);
      assert.equal(requireOk(this, loadIntoKernel(path)), `ok ${merged.nextId - 1}`);
      // bpftool's C dump of it is one coherent set of declarations: gcc compiles it
      const header = requireOk(this, bpftoolDumpC(path));
      writeFileSync(join(dir, 'kernel.h'), header);
      writeFileSync(join(dir, 'use.c'), '#include "kernel.h"\nint main(void) { return 0; }\n');
      const cc = spawnSync('gcc', ['-fsyntax-only', '-w', join(dir, 'use.c')], { encoding: 'utf8', maxBuffer: 64 << 20 });
      if (cc.error !== undefined) requireOk(this, { ok: false, skipReason: `gcc is not available (${cc.error.message})` });
      assert.equal(cc.status, 0, cc.stderr.split('\n').slice(0, 5).join('\n'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
