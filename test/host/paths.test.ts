import { strict as assert } from 'node:assert';
import { hostPaths } from '../../src/host/paths.js';

describe('host/paths', () => {
  it('puts every host path under the injected root', () => {
    const h = hostPaths('/tmp/r');
    assert.equal(h.procModules, '/tmp/r/proc/modules');
    assert.equal(h.procKallsyms, '/tmp/r/proc/kallsyms');
    assert.equal(h.bpffsDir, '/tmp/r/sys/fs/bpf');
    assert.equal(h.osRelease, '/tmp/r/proc/sys/kernel/osrelease');
    assert.equal(h.sysBtf('loop'), '/tmp/r/sys/kernel/btf/loop');
    assert.equal(h.sysBtfExtra('loop'), '/tmp/r/sys/kernel/btf_extra/loop');
    assert.equal(h.sysBtfCompanion('loop'), '/tmp/r/sys/kernel/btf/loop-btf-extra');
    assert.equal(h.moduleBuildIdNote('loop'), '/tmp/r/sys/module/loop/notes/.note.gnu.build-id');
    assert.equal(h.kernelNotes, '/tmp/r/sys/kernel/notes');
    assert.deepEqual(h.vmlinuxDebugCandidates('/usr/lib/debug', '6.1'), ['/tmp/r/usr/lib/debug/boot/vmlinux-6.1', '/tmp/r/usr/lib/debug/lib/modules/6.1/vmlinux']);
    assert.equal(h.buildIdDebug('/usr/lib/debug', 'abcdef01'), '/tmp/r/usr/lib/debug/.build-id/ab/cdef01.debug');
    assert.equal(h.softdepFile, '/tmp/r/run/modprobe.d/btf-extra.conf');
    assert.equal(h.defaultConfigFile, '/tmp/r/etc/btf-extra/config.yaml');
    assert.equal(h.defaultRuntimeDir, '/tmp/r/run/btf-extra');
    assert.equal(h.defaultCacheDir, '/tmp/r/var/cache/btf-extra');
    assert.equal(h.moduleTree('6.1'), '/tmp/r/lib/modules/6.1');
    assert.equal(h.hostView('/tmp/r/run/btf-extra'), '/run/btf-extra');
  });

  it('is the identity layout for root /', () => {
    const h = hostPaths('/');
    assert.equal(h.procModules, '/proc/modules');
    assert.equal(h.under('/var/cache/x'), '/var/cache/x');
  });
});
