import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsHostReader, loadedModulesOrNone, parseModulesDep } from '../../src/host/reader.js';
import { parseOsRelease } from '../../src/host/os-release.js';
import { InjectedRoot, committedFixtures } from '../../src/demo/root.js';

describe('host/reader', () => {
  it('parseModulesDep: names fold - to _, compression suffixes kept', () => {
    const m = parseModulesDep('kernel/arch/x86/kvm/kvm-intel.ko.xz: kernel/arch/x86/kvm/kvm.ko.xz\nkernel/drivers/block/loop.ko:\nbroken line\n');
    assert.equal(m.get('kvm_intel'), 'kernel/arch/x86/kvm/kvm-intel.ko.xz');
    assert.equal(m.get('loop'), 'kernel/drivers/block/loop.ko');
    assert.equal(m.size, 2);
  });

  it('parseOsRelease: quoted values and ID_LIKE lists', () => {
    assert.deepEqual(parseOsRelease('NAME="Rocky"\nID="rocky"\nID_LIKE="rhel centos fedora"\n'), { id: 'rocky', idLike: ['rhel', 'centos', 'fedora'] });
  });

  it('reads release, modules, build ids (vmlinux from /sys/kernel/notes), BTF, kernel extras, companions', async () => {
    const root = InjectedRoot.create(mkdtempSync(join(tmpdir(), 'btfx-rd-')), committedFixtures());
    root.load('loop');
    const h = fsHostReader(root.paths);
    assert.equal(await h.kernelRelease(), '6.1.0-56-cloud-amd64');
    assert.deepEqual(await h.loadedModules(), ['loop']);
    assert.equal(await h.buildId('vmlinux'), '3b43fad5034874490492495d552c0af6a5fab235');
    assert.equal(await h.buildId('loop'), '88465abd0d48756ce17aea6e15c1c03a65059850');
    assert.equal(await h.buildId('absent'), undefined);
    assert.ok(h.hasBtf('loop') && !h.hasBtf('xfs'));
    assert.equal(h.readBtf('loop')?.length, 3957);
    assert.equal(h.kernelExtras('loop'), undefined);
    mkdirSync(join(root.dir, 'sys/kernel/btf_extra'));
    writeFileSync(root.paths.sysBtfExtra('loop'), 'x');
    assert.equal(h.kernelExtras('loop'), root.paths.sysBtfExtra('loop'));
    root.addCompanionModule('kvm_intel');
    mkdirSync(join(root.paths.moduleTree('6.1.0-56-cloud-amd64'), 'updates/dkms'), { recursive: true });
    writeFileSync(join(root.paths.moduleTree('6.1.0-56-cloud-amd64'), 'updates/dkms/loop_btf_extra.ko.zst'), '');
    assert.deepEqual([...h.companionModules('6.1.0-56-cloud-amd64')].sort(), [
      ['kvm_intel', join(root.paths.moduleTree('6.1.0-56-cloud-amd64'), 'extra/kvm-intel-btf-extra.ko')],
      ['loop', join(root.paths.moduleTree('6.1.0-56-cloud-amd64'), 'updates/dkms/loop_btf_extra.ko.zst')],
    ]);
    assert.equal(h.modulePaths('6.1.0-56-cloud-amd64').get('loop'), 'kernel/drivers/block/loop.ko');
    assert.equal((await h.osRelease()).id, 'debian');
  });

  it('a kernel without loadable modules (no /proc/modules) has no modules, not an error', async () => {
    const root = InjectedRoot.create(mkdtempSync(join(tmpdir(), 'btfx-nomod-')), committedFixtures());
    rmSync(root.paths.procModules);
    assert.deepEqual(await loadedModulesOrNone(fsHostReader(root.paths)), []);
    await assert.rejects(fsHostReader(root.paths).loadedModules(), /no such file/);
  });
});
