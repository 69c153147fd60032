/** Every KmodError path, with its code: bad inputs to the companion writer fail with one clear line. */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { BtfBuilder } from '../../src/btf/builder.js';
import { KIND } from '../../src/btf/kinds.js';
import { ElfFile } from '../../src/elf/index.js';
import { buildCompanionBtf } from '../../src/kmod/companion-btf.js';
import { companionName } from '../../src/kmod/companion.js';
import { KMOD_ERROR_CODES, KmodError, type KmodErrorCode } from '../../src/kmod/errors.js';
import { moduleLayoutVersion, parseInstalledModule, readInstalledModule, vermagicOf } from '../../src/kmod/installed-ko.js';
import { makeCompanion } from '../../src/kmod/make.js';
import { structModuleLayout } from '../../src/kmod/struct-module.js';
import { buildElf, cat, le } from '../elf/builder.js';
import { extrasChain } from '../btf/merge-fixtures.js';
import { vmlinux } from '../btf/sample.js';
import { codesWithoutTest } from '../support/error-codes.js';
import { fixture } from '../support/paths.js';
import { loopInputs, oneVarExtras, tmp, tmpFile } from './support.js';

function assertCode(fn: () => unknown, code: KmodErrorCode, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof KmodError, `expected KmodError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.doesNotMatch(e.message, /\n/);
    if (message) assert.match(e.message, message);
    return true;
  });
}

const modinfo = (...entries: string[]): Uint8Array => Buffer.from(entries.map((e) => `${e}\0`).join(''));
const version = (name: string, crc: number): Uint8Array => cat(le(crc, 8), Buffer.from(name.padEnd(56, '\0')));
const fakeKo = (sections: Parameters<typeof buildElf>[0]['sections']): string => tmpFile('fake.ko', buildElf({ sections, symbols: [] }));

describe('kmod errors', () => {
  it('every KmodError code has a test asserting it', () => {
    assert.deepEqual(codesWithoutTest(KMOD_ERROR_CODES, ['kmod', 'cli']), []);
  });

  it('bad-name: characters, or too long for MODULE_NAME_LEN with the suffix', () => {
    assertCode(() => companionName('../evil'), 'bad-name', /characters/);
    assertCode(() => companionName('a'.repeat(46)), 'bad-name', /MODULE_NAME_LEN/);
    assert.equal(companionName('kvm-intel'), 'kvm_intel_btf_extra');
    assert.equal(companionName('a'.repeat(45)).length, 55);
  });

  it('no-struct-module / bad-struct-module: a vmlinux BTF without struct module, or with a bad name member', () => {
    const b = new BtfBuilder();
    const int = b.addInt('int', 4, 1);
    assertCode(() => structModuleLayout(b.finish()), 'no-struct-module', /no struct module/);
    const c = new BtfBuilder();
    const i2 = c.addInt('int', 4, 1);
    c.addStruct('module', 64);
    c.addField('state', i2, 0);
    assertCode(() => structModuleLayout(c.finish()), 'no-struct-module', /no member 'name'/);
    const d = new BtfBuilder();
    const i3 = d.addInt('int', 4, 1);
    d.addStruct('module', 64);
    d.addField('name', i3, 64);
    assertCode(() => structModuleLayout(d.finish()), 'bad-struct-module', /not an array/);
    const e = new BtfBuilder();
    const ch = e.addInt('char', 1, 2);
    const i4 = e.addInt('int', 4, 1);
    const arr = e.addArray(ch, i4, 56);
    e.addStruct('module', 32);
    e.addField('name', arr, 64);
    assertCode(() => structModuleLayout(e.finish()), 'bad-struct-module', /does not fit/);
    void int;
    assert.deepEqual(structModuleLayout(vmlinux()), { size: 896, nameOffset: 24, nameLength: 56 });
  });

  it('bad-ko: not an ELF file, a missing file, a corrupt compressed one', () => {
    assertCode(() => readInstalledModule(tmpFile('not.ko', 'hello')), 'bad-ko', /not\.ko/);
    assertCode(() => readInstalledModule(tmpFile('bad.ko.xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3]))), 'bad-ko', /bad\.ko\.xz: cannot decompress/);
    assertCode(() => readInstalledModule(tmpFile('bad.ko.gz', Buffer.from([0x1f, 0x8b, 1, 2, 3]))), 'bad-ko', /cannot decompress gzip/);
    assertCode(() => readInstalledModule(join(tmp, 'missing-dir', 'none.ko')), 'bad-ko');
    // A FIFO is refused at once (opened non-blocking, type-checked), not waited on.
    const fifo = join(tmp, 'fifo.ko');
    rmSync(fifo, { force: true });
    execFileSync('mkfifo', [fifo]);
    assertCode(() => readInstalledModule(fifo), 'bad-ko', /fifo\.ko: cannot read: .*FIFO/);
  });

  it('no-vermagic / no-module-layout: an installed module without them', () => {
    const noInfo = readInstalledModule(fakeKo([{ name: '.text', data: new Uint8Array(4) }]));
    assertCode(() => vermagicOf(noInfo), 'no-vermagic', /vermagic/);
    const noVersions = readInstalledModule(fakeKo([{ name: '.modinfo', data: modinfo('license=GPL', 'vermagic=6.1.0 SMP') }]));
    assert.equal(vermagicOf(noVersions), '6.1.0 SMP');
    assertCode(() => moduleLayoutVersion(noVersions), 'no-module-layout', /module_layout/);
    const other = readInstalledModule(fakeKo([{ name: '__versions', data: version('printk', 1) }]));
    assertCode(() => moduleLayoutVersion(other), 'no-module-layout', /1 entries/);
    const ok = readInstalledModule(fakeKo([{ name: '__versions', data: cat(version('printk', 1), version('module_layout', 0xdeadbeef)) }]));
    assert.equal(moduleLayoutVersion(ok).crc, 0xdeadbeefn);
  });

  it('kernel-mismatch: an installed module built for a struct module of another size', () => {
    const inputs = loopInputs();
    const ko = fakeKo([
      { name: '.modinfo', data: modinfo('vermagic=6.1.0 SMP', 'name=loop') },
      { name: '__versions', data: version('module_layout', 1) },
      { name: '.gnu.linkonce.this_module', data: new Uint8Array(1024) },
    ]);
    assertCode(() => makeCompanion({ name: 'loop', btf: [inputs.vm, inputs.mod], extras: inputs.extras, ko }), 'kernel-mismatch', /1024 bytes, but struct module .* is 896/);
  });

  it('bad-exports: __ksymtab not a whole number of entries, CRC table of the wrong size, entries without relocations', () => {
    const ko = (sections: Parameters<typeof buildElf>[0]['sections']): ElfFile => ElfFile.fromBytes(buildElf({ sections, symbols: [] }), 'x.ko');
    const partial = ko([{ name: '__ksymtab', data: new Uint8Array(13) }]);
    assertCode(() => parseInstalledModule(partial), 'bad-exports', /multiple of 12/);
    const shortCrcs = ko([{ name: '__ksymtab', data: new Uint8Array(12) }, { name: '__kcrctab', data: new Uint8Array(8) }]);
    assertCode(() => parseInstalledModule(shortCrcs), 'bad-exports', /8 bytes for 1 exported/);
    const unrelocated = ko([{ name: '__ksymtab', data: new Uint8Array(12) }]);
    assertCode(() => parseInstalledModule(unrelocated), 'bad-exports', /no relocation/);
  });

  it('bad-btf: unreadable vmlinux BTF, a split level given as vmlinux, or the wrong number of --btf', () => {
    const inputs = loopInputs();
    assertCode(() => makeCompanion({ name: 'loop', btf: [join(tmp, 'none', 'vmlinux'), inputs.mod], extras: inputs.extras, ko: fixture('kernel/debug/loop.ko') }), 'bad-btf');
    assertCode(() => makeCompanion({ name: 'loop', btf: [inputs.vm], extras: inputs.extras, ko: fixture('kernel/debug/loop.ko') }), 'bad-btf', /two --btf/);
    assertCode(() => makeCompanion({ name: 'vmlinux', btf: [inputs.vm, inputs.mod], extras: inputs.extras, ko: fixture('kernel/debug/loop.ko') }), 'bad-btf', /one --btf/);
    const { mod, extras } = extrasChain();
    assertCode(() => buildCompanionBtf(mod, extras), 'bad-btf', /standalone/);
  });

  it('extras-not-split: extras read on a chain they were not made for', () => {
    const inputs = loopInputs();
    // loop's extras read on crc7 (a smaller module): their ids and strings point past its ends.
    assertCode(() => makeCompanion({ name: 'crc7', btf: [inputs.vm, fixture('kernel/btf/crc7')], extras: inputs.extras, ko: fixture('kernel/debug/crc7.ko') }),
      'extras-not-split', /not split on the given --btf chain/);
    const vm = vmlinux();
    const standalone = new BtfBuilder();
    const v = standalone.addVar('alone', standalone.addInt('int', 4, 1), 0);
    standalone.addDatasec('.data', 4);
    standalone.addVarInfo(v, 0, 4);
    assertCode(() => buildCompanionBtf(vm, standalone.finish()), 'extras-not-split', /not split on the given vmlinux/);
  });

  it('no-variables: extras without a VAR', () => {
    const b = new BtfBuilder({ base: vmlinux() });
    b.addStruct('lonely', 0);
    assertCode(() => buildCompanionBtf(vmlinux(), b.finish()), 'no-variables', /no variable/);
  });

  it('invalid-btf: a VAR with extern linkage (the kernel says "Linkage not supported"), a bad name, a dangling DATASEC entry', () => {
    const vm = vmlinux();
    assertCode(() => buildCompanionBtf(vm, oneVarExtras(vm, 'extern_one', 2)), 'invalid-btf', /var-linkage/);
    assertCode(() => buildCompanionBtf(vm, oneVarExtras(vm, 'bad-name', 0)), 'invalid-btf', /name/);
    const b = new BtfBuilder({ base: vm });
    const int = vm.findByName('int', KIND.INT)[0]!;
    const v = b.addVar('two', int, 0);
    b.addDatasec('.data', 4);
    b.addVarInfo(v, 0, 4);
    b.addVarInfo(v, 2, 4);
    assertCode(() => buildCompanionBtf(vm, b.finish()), 'invalid-btf', /datasec/);
  });

});
