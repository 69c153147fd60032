/**
 * The companion module as the 6.1 loader and the kmod tools see it, with readelf, modinfo and
 * modprobe --dump-modversions (kmod) as oracles next to our own ELF reader, on the real Debian 6.1
 * vmlinux BTF and installed modules (committed fixtures; the whole tree when ../shared is present).
 */
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { KIND } from '../../src/btf/kinds.js';
import { flattenStandalone } from '../../src/btf/merge.js';
import { parseBtf, readBtfFile } from '../../src/btf/parse.js';
import { validateBtf } from '../../src/btf/validate.js';
import { writeBtf } from '../../src/btf/write.js';
import { ElfFile } from '../../src/elf/index.js';
import { encodeObject } from '../../src/encoder/encode.js';
import { BaseCache } from '../../src/encoder/chain.js';
import { makeCompanion } from '../../src/kmod/make.js';
import { readInstalledModule } from '../../src/kmod/installed-ko.js';
import { structModuleLayout } from '../../src/kmod/struct-module.js';
import { vmlinux } from '../btf/sample.js';
import { loadIntoKernel, parseSplitWithLibbpf, requireOk } from '../support/kernel-load.js';
import { vmlinuxDebug } from '../support/vmlinux-debug.js';
import { fixture, kernelDir, requireShared } from '../support/paths.js';
import { crc7Inputs, loopInputs, need, realModulesDir, tmpFile, vmlinuxExtras, vmlinuxRaw } from './support.js';

interface ReadelfSection { name: string; type: string; size: number; flags: string; align: number }
/** `readelf -SW` rows by name. */
function readelfSections(ctx: Mocha.Context, path: string): Map<string, ReadelfSection> {
  const out = new Map<string, ReadelfSection>();
  for (const line of need(ctx, 'readelf', ['-SW', path]).split('\n')) {
    const m = /^\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([A-Za-z]*)\s+\d+\s+\d+\s+(\d+)\s*$/.exec(line);
    if (m) out.set(m[1]!, { name: m[1]!, type: m[2]!, size: parseInt(m[3]!, 16), flags: m[4]!, align: Number(m[5]) });
  }
  return out;
}
/** `modinfo -F FIELD` (kmod). */
const modinfoField = (ctx: Mocha.Context, path: string, field: string): string => need(ctx, 'modinfo', ['-F', field, path]).trim();
/** `modprobe --dump-modversions` (kmod): name -> crc. */
function dumpModversions(ctx: Mocha.Context, path: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of need(ctx, 'modprobe', ['--dump-modversions', path]).split('\n')) {
    const m = /^(0x[0-9a-f]+)\s+(\S+)$/.exec(line.trim());
    if (m) out.set(m[2]!, BigInt(m[1]!));
  }
  return out;
}

describe('kmod companion module', () => {
  const loopKo = fixture('kernel/debug/loop.ko');
  let loop: { path: string; bytes: Uint8Array; vars: readonly string[] };
  before(() => {
    const inputs = loopInputs();
    const made = makeCompanion({ name: 'loop', btf: [inputs.vm, inputs.mod], extras: inputs.extras, ko: loopKo });
    loop = { path: tmpFile('loop_btf_extra.ko', made.bytes), bytes: made.bytes, vars: inputs.vars };
  });

  it('has the sections the loader finds, with its flags, and this_module of sizeof(struct module) (readelf -SW)', function () {
    const s = readelfSections(this, loop.path);
    const real = readelfSections(this, loopKo);
    const mod = s.get('.gnu.linkonce.this_module')!;
    assert.equal(mod.type, 'PROGBITS');
    assert.equal(mod.flags, 'WA');
    assert.equal(mod.size, structModuleLayout(vmlinux()).size);
    assert.equal(mod.size, real.get('.gnu.linkonce.this_module')!.size, 'the same size as the installed loop.ko\'s');
    assert.equal(mod.align, 64);
    for (const name of ['.modinfo', '__versions']) assert.equal(s.get(name)?.flags, 'A', `${name} is SHF_ALLOC (find_sec ignores others)`);
    assert.equal(s.get('__versions')!.size, 64, 'one struct modversion_info (module_layout): loop imports nothing');
    assert.equal(s.get('.BTF')!.flags, '', '.BTF is not allocated, as in a Kbuild module');
    assert.equal(s.get('.symtab')!.type, 'SYMTAB');
    assert.equal(s.get('.note.gnu.build-id')!.type, 'NOTE');
    assert.deepEqual([...s.keys()].filter((n) => /^\.rela|^\.text|^\.init|^\.exit/.test(n)), [], 'no code, no relocations');
  });

  it('names itself in struct module at the name member\'s offset, where the installed loop.ko has "loop"', () => {
    const layout = structModuleLayout(vmlinux());
    const ours = ElfFile.fromBytes(loop.bytes, 'ours');
    const real = ElfFile.open(loopKo);
    const nameAt = (elf: ElfFile): string => {
      const data = Buffer.from(elf.sectionData(elf.requireSection('.gnu.linkonce.this_module')));
      return data.toString('latin1', layout.nameOffset, data.indexOf(0, layout.nameOffset));
    };
    assert.equal(nameAt(real), 'loop');
    assert.equal(nameAt(ours), 'loop_btf_extra');
    const data = Buffer.from(ours.sectionData(ours.requireSection('.gnu.linkonce.this_module')));
    data.fill(0, layout.nameOffset, layout.nameOffset + layout.nameLength);
    assert.ok(data.every((b) => b === 0), 'all other bytes zero: no init, no exit (rmmod-able)');
  });

  it('carries the installed module\'s vermagic and a GPL license (modinfo)', function () {
    assert.equal(modinfoField(this, loop.path, 'vermagic'), modinfoField(this, loopKo, 'vermagic'));
    assert.equal(modinfoField(this, loop.path, 'name'), 'loop_btf_extra');
    assert.equal(modinfoField(this, loop.path, 'license'), 'GPL');
    assert.equal(modinfoField(this, loop.path, 'depends'), '');
    assert.equal(modinfoField(this, loop.path, 'retpoline'), 'Y');
  });

  it('carries module_layout\'s CRC from the installed module (modprobe --dump-modversions)', function () {
    const ours = dumpModversions(this, loop.path);
    const real = dumpModversions(this, loopKo);
    assert.deepEqual([...ours.keys()], ['module_layout']);
    assert.equal(ours.get('module_layout'), real.get('module_layout'));
  });

  it('has a symbol table with __this_module (readelf -sW)', function () {
    const syms = need(this, 'readelf', ['-sW', loop.path]);
    assert.match(syms, /\s896 OBJECT\s+GLOBAL DEFAULT\s+\d+ __this_module\n/);
    assert.doesNotMatch(syms, /\sUND \S/, 'no import: loop exports nothing');
  });

  it('has a build id note over its contents (readelf -n) and is the same bytes every time', function () {
    const notes = need(this, 'readelf', ['-nW', loop.path]);
    const id = /Build ID: ([0-9a-f]+)/.exec(notes)?.[1];
    assert.equal(id?.length, 40);
    const inputs = loopInputs();
    const again = makeCompanion({ name: 'loop', btf: [inputs.vm, inputs.mod], extras: inputs.extras, ko: loopKo });
    assert.deepEqual(Buffer.from(again.bytes), Buffer.from(loop.bytes));
    assert.equal(ElfFile.fromBytes(again.bytes).buildId, id);
  });

  it('holds a .BTF split on vmlinux only: the extras\' variables and the module types they need, valid for the kernel and libbpf', function () {
    const elf = ElfFile.fromBytes(loop.bytes, 'ours');
    const raw = elf.sectionData(elf.requireSection('.BTF'));
    const btf = parseBtf(raw, { base: vmlinux() });
    assert.deepEqual(validateBtf(btf), []);
    const vars = btf.types.filter((t) => t.kind === KIND.VAR).map((t) => btf.str(t.nameOff)).sort();
    assert.deepEqual(vars, [...loop.vars].sort());
    const names = new Set(btf.types.map((t) => btf.str(t.nameOff)));
    assert.ok(names.has('loop_device'), 'the module\'s own struct, which vmlinux lacks, is carried');
    assert.ok(names.has('extra_stats'), 'the extras\' own struct');
    assert.ok(!btf.types.some((t) => t.kind === KIND.FUNC), 'no module FUNCs');
    const vmPath = vmlinuxRaw();
    const btfPath = tmpFile('companion.btf', raw);
    requireOk(this, parseSplitWithLibbpf(vmPath, btfPath));
    requireOk(this, loadIntoKernel(tmpFile('standalone.btf', writeBtf(flattenStandalone(btf)))));
  });

  it('imports an export of its base (crc7_be of crc7) with the base\'s CRC, and depends on it', function () {
    const c = crc7Inputs();
    const made = makeCompanion({ name: 'crc7', btf: [c.vm, c.mod], extras: c.extras, ko: c.ko });
    const path = tmpFile('crc7_btf_extra.ko', made.bytes);
    assert.equal(made.hold.safe && made.hold.mechanism, 'imports-export');
    assert.match(need(this, 'readelf', ['-sW', path]), /NOTYPE\s+GLOBAL DEFAULT\s+UND crc7_be\n/);
    assert.equal(modinfoField(this, path, 'depends'), 'crc7');
    // The CRC in crc7.ko's __kcrctab at __crc_crc7_be (readelf gives the offset).
    const crcSym = /\s([0-9a-f]{16})\s+0 NOTYPE\s+LOCAL\s+DEFAULT\s+(\d+) __crc_crc7_be\n/.exec(need(this, 'readelf', ['-sW', c.ko]))!;
    const real = ElfFile.open(c.ko);
    const kcrctab = real.sectionData(real.sectionByIndex(Number(crcSym[2]))!);
    const want = BigInt(Buffer.from(kcrctab).readUInt32LE(parseInt(crcSym[1]!, 16)));
    const versions = dumpModversions(this, path);
    assert.deepEqual([...versions.keys()], ['module_layout', 'crc7_be']);
    assert.equal(versions.get('crc7_be'), want);
  });

  it('for vmlinux: no import, no dependency, same loader-facing sections', function () {
    const made = makeCompanion({ name: 'vmlinux', btf: [fixture('kernel/btf/vmlinux.gz')], extras: vmlinuxExtras(), ko: loopKo });
    const path = tmpFile('vmlinux_btf_extra.ko', made.bytes);
    assert.equal(made.name, 'vmlinux_btf_extra');
    assert.equal(made.hold.safe && made.hold.mechanism, 'never-unloads');
    assert.equal(modinfoField(this, path, 'name'), 'vmlinux_btf_extra');
    assert.equal(modinfoField(this, path, 'depends'), '');
    assert.deepEqual([...dumpModversions(this, path).keys()], ['module_layout']);
    assert.equal(readelfSections(this, path).get('.gnu.linkonce.this_module')!.size, 896);
  });

  it('from extras encoded from loop\'s DWARF: max_loop and loop\'s other statics, valid', function () {
    const cache = new BaseCache();
    const base = cache.chain([fixture('kernel/btf/vmlinux.gz'), fixture('kernel/btf/loop')]);
    const r = encodeObject(loopKo, { base, mode: 'extras' });
    const extras = tmpFile('loop.real.extra', writeBtf(r.btf));
    const made = makeCompanion({ name: 'loop', btf: [fixture('kernel/btf/vmlinux.gz'), fixture('kernel/btf/loop')], extras, ko: loopKo });
    const elf = ElfFile.fromBytes(made.bytes);
    const btf = parseBtf(elf.sectionData(elf.requireSection('.BTF')), { base: vmlinux() });
    assert.deepEqual(validateBtf(btf), []);
    const vars = btf.types.filter((t) => t.kind === KIND.VAR).map((t) => btf.str(t.nameOff));
    for (const v of ['max_loop', 'hw_queue_depth', 'max_part', 'loop_index_idr']) assert.ok(vars.includes(v), v);
    assert.equal(made.variables, vars.length);
    assert.ok(btf.types.filter((t) => t.kind === KIND.VAR).every((t) => t.kind === KIND.VAR && t.linkage <= 1), 'VAR linkage static or global only');
  });

  describe('on the real kernel tree (../shared)', () => {
    let modules: string | undefined;
    before(function () {
      requireShared(this);
      modules = realModulesDir();
      if (modules === undefined) this.skip();
    });

    it('struct module from the shared vmlinux BTF matches installed modules\' this_module size', function () {
      const layout = structModuleLayout(readBtfFile(join(kernelDir, 'btf/vmlinux')));
      for (const rel of ['drivers/block/loop.ko', 'net/netfilter/nf_conntrack.ko', 'fs/xfs/xfs.ko']) {
        assert.equal(readelfSections(this, join(modules!, rel)).get('.gnu.linkonce.this_module')!.size, layout.size, rel);
      }
    });

    it('vmlinux_btf_extra from vmlinux\'s DWARF: ~22k variables, init_net/nr_cpu_ids/jiffies_64, valid, loadable as BTF', function () {
      this.timeout(300_000);
      const debug = vmlinuxDebug();
      if (debug === undefined) this.skip();
      const vmPath = join(kernelDir, 'btf/vmlinux');
      const r = encodeObject(debug, { base: new BaseCache().chain([vmPath]), mode: 'extras' });
      const made = makeCompanion({ name: 'vmlinux', btf: [vmPath], extras: tmpFile('vmlinux.real.extra', writeBtf(r.btf)), ko: join(modules!, 'drivers/block/loop.ko') });
      const vm = readBtfFile(vmPath);
      const elf = ElfFile.fromBytes(made.bytes);
      const btf = parseBtf(elf.sectionData(elf.requireSection('.BTF')), { base: vm });
      const vars = new Set(btf.types.flatMap((t) => (t.kind === KIND.VAR ? [btf.str(t.nameOff)] : [])));
      for (const v of ['init_net', 'nr_cpu_ids', 'jiffies_64']) assert.ok(vars.has(v), v);
      assert.ok(made.variables > 20_000, `${made.variables} variables`);
      assert.equal(made.variables, btf.types.filter((t) => t.kind === KIND.VAR).length);
      assert.equal(made.variables, vars.size, 'no name twice: the kernel finds addresses by name');
      assert.ok(made.dropped.length > 0 && made.dropped.every((d) => d.reason === 'duplicate-name'));
      process.stderr.write(`      (vmlinux: ${made.variables} variables kept, ${made.dropped.length} left out as duplicate names)\n`);
      requireOk(this, loadIntoKernel(tmpFile('vmlinux-companion-standalone.btf', writeBtf(flattenStandalone(btf)))));
    });

    it('an import\'s CRC is the one a real consumer of that export carries (nf_conntrack -> nf_nat)', function () {
      const base = readInstalledModule(join(modules!, 'net/netfilter/nf_conntrack.ko'));
      const consumer = dumpModversions(this, join(modules!, 'net/netfilter/nf_nat.ko'));
      let checked = 0;
      for (const e of base.exports) {
        const crc = consumer.get(e.name);
        if (crc === undefined) continue;
        assert.equal(e.crc, crc, e.name);
        checked++;
      }
      assert.ok(checked >= 5, `only ${checked} shared symbols checked`);
    });
  });
});
