import { strict as assert } from 'node:assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DebuginfoFinder, installHint } from '../../src/daemon/debuginfo.js';
import { readElfBuildId } from '../../src/host/elf-build-id.js';
import { parseOsRelease } from '../../src/host/os-release.js';
import { fsHostReader } from '../../src/host/reader.js';
import { InjectedRoot } from '../../src/demo/root.js';
import { fixtureSet } from './harness.js';

const REL = '6.1.0-56-cloud-amd64';

describe('daemon/debuginfo', () => {
  it('install hints per distribution', () => {
    assert.equal(installHint(parseOsRelease('ID=debian\n'), REL), `apt-get install linux-image-${REL}-dbg, or set debuginfo.debuginfodUrls`);
    assert.match(installHint(parseOsRelease('ID=ubuntu\nID_LIKE=debian\n'), REL), /linux-image-6\.1\.0-56-cloud-amd64-dbgsym/);
    assert.match(installHint(parseOsRelease('ID=linuxmint\nID_LIKE="ubuntu debian"\n'), REL), /-dbg,/);
    assert.match(installHint(parseOsRelease('ID="rocky"\nID_LIKE="rhel centos fedora"\n'), REL), /^dnf debuginfo-install kernel-6\.1/);
    assert.match(installHint(parseOsRelease('ID=fedora\n'), REL), /^dnf debuginfo-install/);
    assert.match(installHint(parseOsRelease('ID=opensuse-leap\nID_LIKE="suse opensuse"\n'), REL), /^zypper/);
    assert.match(installHint(parseOsRelease('ID=arch\n'), REL), /debuginfod\.archlinux\.org/);
    assert.match(installHint(parseOsRelease(''), REL), /^install the debug info package of kernel 6\.1/);
  });

  const setup = (): { root: InjectedRoot; finder: (debuginfod?: (id: string) => Promise<{ path?: string; reasons: string[] }>) => DebuginfoFinder } => {
    const root = InjectedRoot.create(mkdtempSync(join(tmpdir(), 'btfx-dbg-')), fixtureSet());
    const host = fsHostReader(root.paths);
    return {
      root,
      finder: (debuginfod) => new DebuginfoFinder({
        paths: root.paths, release: REL, debugDirs: ['/usr/lib/debug', '/opt/debug'], readBuildId: readElfBuildId,
        debuginfod, os: parseOsRelease('ID=debian\n'), modulePath: (n) => host.modulePaths(REL).get(n),
      }),
    };
  };

  it('prefers the distribution layout, then .build-id, then debuginfod', async () => {
    const { root, finder } = setup();
    root.load('loop', { debug: false });
    let asked = 0;
    const f = finder(async () => { asked++; return { path: '/cache/x/debuginfo', reasons: [] }; });
    const id = root.module('loop').buildId;
    assert.deepEqual(await f.find('loop', id), { kind: 'found', path: '/cache/x/debuginfo', via: 'debuginfod' });
    root.installDebug('loop', `usr/lib/debug/.build-id/${id.slice(0, 2)}/${id.slice(2)}.debug`);
    f.invalidate();
    assert.deepEqual(await f.find('loop', id), { kind: 'found', path: join(root.dir, `usr/lib/debug/.build-id/${id.slice(0, 2)}/${id.slice(2)}.debug`), via: 'build-id' });
    root.installDebug('loop', 'opt/debug/lib/modules/6.1.0-56-cloud-amd64/kernel/drivers/block/loop.ko');
    assert.deepEqual(await f.find('loop', id), { kind: 'found', path: join(root.dir, 'opt/debug/lib/modules/6.1.0-56-cloud-amd64/kernel/drivers/block/loop.ko'), via: 'local' });
    assert.equal(asked, 1);
  });

  it('refuses a mismatching file and reports every refusal; debuginfod failures are part of the reason', async () => {
    const { root, finder } = setup();
    root.load('crc7');
    const f = finder(async () => ({ reasons: ['http://h:1: HTTP 404 (build id unknown)'] }));
    const r = await f.find('crc7', 'aa'.repeat(20));
    assert.equal(r.kind, 'missing');
    assert.ok(r.kind === 'missing');
    assert.match(r.reason, /^no matching debuginfo: \/usr\/lib\/debug\/lib\/modules\/6\.1\.0-56-cloud-amd64\/kernel\/lib\/crc7\.ko has build id bfeea478.*, loaded crc7 has a{40}; http:\/\/h:1: HTTP 404/);
    assert.match(r.hint, /linux-image-6\.1\.0-56-cloud-amd64-dbg/);
  });

  it('finds a module by walking the debug tree when modules.dep does not list it (dashes fold to underscores)', async () => {
    const { root, finder } = setup();
    root.installDebug('tcp_bbr', 'usr/lib/debug/lib/modules/6.1.0-56-cloud-amd64/updates/tcp-bbr.ko.debug');
    const r = await finder().find('tcp_bbr', root.module('tcp_bbr').buildId);
    assert.deepEqual(r, { kind: 'found', path: join(root.dir, 'usr/lib/debug/lib/modules/6.1.0-56-cloud-amd64/updates/tcp-bbr.ko.debug'), via: 'local' });
  });

  it('vmlinux: Debian boot/vmlinux-<rel> and Fedora lib/modules/<rel>/vmlinux candidates; a broken file is refused with its error', async () => {
    const { root, finder } = setup();
    root.installDebug('cordic', 'usr/lib/debug/boot/vmlinux-6.1.0-56-cloud-amd64');
    const r = await finder().find('vmlinux', root.fixtures.vmlinuxBuildId);
    assert.ok(r.kind === 'missing');
    assert.match(r.reason, /boot\/vmlinux-6\.1\.0-56-cloud-amd64 has build id ed8f6492.*, loaded vmlinux has 3b43fad5/);
  });
});
