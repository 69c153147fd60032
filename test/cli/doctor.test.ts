import { strict as assert } from 'node:assert';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { doctorCommand, diagnose, type DoctorReport } from '../../src/cli/commands/doctor.js';
import { UsageError } from '../../src/cli/command.js';
import { DEFAULT_CONFIG, type DaemonConfig } from '../../src/daemon/config.js';
import { startControlServer } from '../../src/daemon/control/server.js';
import { encodeBuildIdNote } from '../../src/host/notes.js';
import { committedFixtures, DEMO_RELEASE, InjectedRoot } from '../../src/demo/root.js';
import { captureIo } from '../support/cli-io.js';
import { fakeHandlers, tempDir } from '../daemon/control/fake-handlers.js';

const REL = DEMO_RELEASE;
const fixtures = committedFixtures();
const idOf = (name: string): string => fixtures.modules.get(name)?.buildId ?? '';

describe('btf-extra doctor', () => {
  let tmp: ReturnType<typeof tempDir>;
  let root: InjectedRoot;
  let sock: string;
  beforeEach(() => {
    tmp = tempDir('dr');
    root = InjectedRoot.create(join(tmp.dir, 'root'), fixtures);
    sock = join(root.dir, 'run/btf-extra/control.sock');
  });
  afterEach(() => tmp.cleanup());

  const check = (r: DoctorReport, name: string) => r.checks.find((c) => c.name === name);
  const doctor = (over: { config?: DaemonConfig; env?: Record<string, string>; osInfo?: () => Promise<{ distro: string; release: string; codename: string; logofile: string }> } = {}) =>
    diagnose({ root: root.dir, socket: sock, config: over.config ?? DEFAULT_CONFIG, env: over.env ?? {}, osInfo: over.osInfo });

  /** loop: Debian layout; cordic: only in .build-id; crc7: debug file of another build; tcp_bbr: none. */
  function loadMixed(): void {
    root.load('loop');
    root.load('cordic', { debugPath: `usr/lib/debug/.build-id/${idOf('cordic').slice(0, 2)}/${idOf('cordic').slice(2)}.debug` });
    root.load('crc7', { buildId: 'ab'.repeat(20) });
    root.load('tcp_bbr', { debug: false });
  }

  it('finds debug info per loaded object, checks build ids, and says what to install (Debian)', async () => {
    loadMixed();
    const r = await doctor();
    assert.equal(r.kernelRelease, REL);
    assert.deepEqual(r.objects.map((o) => [o.name, o.debuginfo, o.via]), [
      ['vmlinux', null, null],
      ['loop', `/usr/lib/debug/lib/modules/${REL}/kernel/drivers/block/loop.ko`, 'local'],
      ['cordic', `/usr/lib/debug/.build-id/${idOf('cordic').slice(0, 2)}/${idOf('cordic').slice(2)}.debug`, 'build-id'],
      ['crc7', null, null],
      ['tcp_bbr', null, null],
    ]);
    assert.deepEqual(r.objects.map((o) => o.buildId), [fixtures.vmlinuxBuildId, idOf('loop'), idOf('cordic'), 'ab'.repeat(20), idOf('tcp_bbr')]);
    assert.match(r.objects[3]?.problem ?? '', new RegExp(`crc7\\.ko has build id ${idOf('crc7')}, loaded crc7 has ${'ab'.repeat(20)}`));
    assert.equal(r.installHint, `apt-get install linux-image-${REL}-dbg, or set debuginfo.debuginfodUrls`);
    assert.deepEqual(check(r, 'debuginfo'), {
      name: 'debuginfo', level: 'warn',
      message: '2 of 5 loaded objects have matching debug info; missing: vmlinux, crc7, tcp_bbr (wrong build id: crc7)',
      hint: `apt-get install linux-image-${REL}-dbg, or set debuginfo.debuginfodUrls`,
    });
    assert.deepEqual(r.checks.map((c) => [c.name, c.level]), [
      ['kernel', 'ok'], ['distro', 'ok'], ['btf', 'ok'], ['modules', 'ok'], ['debuginfo', 'warn'], ['debuginfod', 'info'], ['daemon', 'warn'],
    ]);
    assert.equal(check(r, 'distro')?.message, 'Debian GNU/Linux 12 (bookworm)');
    assert.equal(check(r, 'daemon')?.message, `btf-extrad is not running (no socket at ${sock})`);
  });

  it('a vmlinux debug file of another build is refused', async () => {
    root.load('loop');
    root.load('crc7');
    root.installDebug('loop', `usr/lib/debug/boot/vmlinux-${REL}`); // wrong file for vmlinux: its build id differs
    const r = await doctor();
    assert.equal(r.objects[0]?.debuginfo, null);
    assert.match(r.objects[0]?.problem ?? '', new RegExp(`/usr/lib/debug/boot/vmlinux-${REL.replace(/\./g, '\\.')} has build id ${idOf('loop')}, loaded vmlinux has ${fixtures.vmlinuxBuildId}`));
  });

  it('everything found -> debuginfo ok, no install hint', async () => {
    root.load('loop');
    root.load('crc7');
    // Stand-in for a debug vmlinux: any ELF whose build id the kernel notes report.
    root.installDebug('cordic', `usr/lib/debug/boot/vmlinux-${REL}`);
    writeFileSync(root.paths.kernelNotes, encodeBuildIdNote(idOf('cordic')));
    const r = await doctor();
    assert.deepEqual(r.objects.map((o) => o.debuginfo !== null), [true, true, true]);
    assert.deepEqual(check(r, 'debuginfo'), { name: 'debuginfo', level: 'ok', message: '3 of 3 loaded objects have matching debug info' });
    assert.equal(r.installHint, null);
  });

  it('names the Ubuntu and Fedora packages', async () => {
    root.load('tcp_bbr', { debug: false });
    writeFileSync(root.paths.osReleaseFile, 'PRETTY_NAME="Ubuntu 24.04 LTS"\nID=ubuntu\nID_LIKE=debian\n');
    assert.equal((await doctor()).installHint, `apt-get install linux-image-${REL}-dbgsym (from the ddebs.ubuntu.com repository), or set debuginfo.debuginfodUrls`);
    writeFileSync(root.paths.osReleaseFile, 'NAME="Fedora Linux"\nID=fedora\n');
    const r = await doctor();
    assert.equal(r.installHint, `dnf debuginfo-install kernel-${REL}, or set debuginfo.debuginfodUrls`);
    assert.equal(check(r, 'distro')?.message, 'fedora');
  });

  it('finds Fedora-layout debug files (vmlinux and .ko.debug under lib/modules/<rel>)', async () => {
    writeFileSync(root.paths.osReleaseFile, 'NAME="Fedora Linux"\nID=fedora\n');
    root.load('loop', { debugPath: `usr/lib/debug/lib/modules/${REL}/kernel/drivers/block/loop.ko.debug` });
    root.load('crc7', { debug: false });
    root.installDebug('cordic', `usr/lib/debug/lib/modules/${REL}/vmlinux`);
    writeFileSync(root.paths.kernelNotes, encodeBuildIdNote(idOf('cordic')));
    const r = await doctor();
    assert.deepEqual(r.objects.map((o) => [o.name, o.debuginfo]), [
      ['vmlinux', `/usr/lib/debug/lib/modules/${REL}/vmlinux`],
      ['loop', `/usr/lib/debug/lib/modules/${REL}/kernel/drivers/block/loop.ko.debug`],
      ['crc7', null],
    ]);
    assert.equal(check(r, 'debuginfo')?.hint, `dnf debuginfo-install kernel-${REL}, or set debuginfo.debuginfodUrls`);
  });

  it('no os-release -> generic hint and a distro warning', async () => {
    rmSync(root.paths.osReleaseFile);
    const r = await doctor();
    assert.equal(check(r, 'distro')?.level, 'warn');
    assert.equal(r.installHint, `install the debug info package of kernel ${REL}, or set debuginfo.debuginfodUrls`);
  });

  it('systeminformation-style osInfo names the distro; its failure falls back to os-release', async () => {
    const r = await doctor({ osInfo: async () => ({ distro: 'Debian GNU/Linux', release: '12', codename: 'bookworm', logofile: 'debian' }) });
    assert.equal(check(r, 'distro')?.message, 'Debian GNU/Linux 12 (bookworm)');
    const r2 = await doctor({ osInfo: () => Promise.reject(new Error('spawn lsb_release ENOENT')) });
    assert.deepEqual(r2.checks.filter((c) => c.name === 'distro').map((c) => [c.level, c.message]), [
      ['info', 'systeminformation failed (spawn lsb_release ENOENT); using os-release'],
      ['ok', 'Debian GNU/Linux 12 (bookworm)'],
    ]);
  });

  it('no kernel BTF -> fail and exit 1', async () => {
    rmSync(root.paths.sysBtf('vmlinux'));
    const r = await doctor();
    assert.deepEqual(check(r, 'btf'), {
      name: 'btf', level: 'fail', message: '/sys/kernel/btf/vmlinux missing: the kernel has no BTF',
      hint: 'btf-extra needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (and CONFIG_DEBUG_INFO_BTF_MODULES=y for modules)',
    });
    const io = captureIo();
    assert.equal(await doctorCommand.run(['--root', root.dir], io), 1);
    assert.match(io.stdout(), /\n {2}fail {2}btf {11}\/sys\/kernel\/btf\/vmlinux missing: the kernel has no BTF\n/);
  });

  it('a loaded module without BTF is flagged; companions are not objects', async () => {
    root.load('loop');
    root.load('crc7');
    rmSync(root.paths.sysBtf('crc7'));
    root.loadCompanion('loop', Buffer.from('KERNEL-EXTRAS'));
    const r = await doctor();
    assert.deepEqual(r.objects.map((o) => o.name), ['vmlinux', 'loop', 'crc7']);
    assert.equal(check(r, 'module-btf')?.message, '1 loaded module(s) without BTF: crc7');
    assert.equal(check(r, 'module-btf')?.level, 'warn');
  });

  it('kernel release or module list unreadable -> fail', async () => {
    rmSync(root.paths.osRelease);
    rmSync(root.paths.procModules);
    const r = await doctor();
    assert.equal(check(r, 'kernel')?.level, 'fail');
    assert.match(check(r, 'kernel')?.message ?? '', /^cannot read the kernel release: .*no such file/);
    assert.equal(check(r, 'modules')?.level, 'fail');
    assert.deepEqual(r.objects, []);
    assert.equal(r.installHint, null);
  });

  it('reports debuginfod servers from DEBUGINFOD_URLS or the config', async () => {
    root.load('tcp_bbr', { debug: false });
    const r = await doctor({ env: { DEBUGINFOD_URLS: 'https://debuginfod.debian.net' } });
    assert.deepEqual(check(r, 'debuginfod'), { name: 'debuginfod', level: 'ok', message: 'https://debuginfod.debian.net (from DEBUGINFOD_URLS)' });
    assert.match(check(r, 'debuginfo')?.hint ?? '', /\(or the daemon will try the debuginfod servers\)$/);
    const config: DaemonConfig = { ...DEFAULT_CONFIG, debuginfo: { ...DEFAULT_CONFIG.debuginfo, debuginfodUrls: ['http://mirror:8002'] } };
    const r2 = await doctor({ config, env: { DEBUGINFOD_URLS: 'https://ignored' } });
    assert.equal(check(r2, 'debuginfod')?.message, 'http://mirror:8002 (from config debuginfo.debuginfodUrls)');
  });

  it('says when the daemon answers', async () => {
    const server = await startControlServer(sock, fakeHandlers().handlers);
    try {
      const r = await doctor();
      assert.deepEqual(r.daemon, { running: true, detail: `btf-extrad 0.1.0 (pid 4242) answers on ${sock}, 5 objects` });
      assert.equal(check(r, 'daemon')?.level, 'ok');
    } finally { await server.close(); }
  });

  it('the command: text report with the object table, --json, usage errors', async () => {
    loadMixed();
    const io = captureIo();
    assert.equal(await doctorCommand.run(['--root', root.dir], io), 0);
    const out = io.stdout();
    assert.match(out, new RegExp(`^btf-extra doctor \\(root ${root.dir}\\)\n`));
    assert.match(out, new RegExp(` {2}warn {2}debuginfo {5}2 of 5 loaded objects have matching debug info; .*\n {22}-> apt-get install linux-image-${REL.replace(/\./g, '\\.')}-dbg`));
    assert.match(out, /\nOBJECT\s+BTF\s+BUILD ID\s+DEBUGINFO\n/);
    assert.match(out, new RegExp(`\nloop\\s+yes\\s+${idOf('loop')}\\s+/usr/lib/debug/lib/modules/.*/loop\\.ko\n`));
    assert.match(out, new RegExp(`\ncrc7\\s+yes\\s+${'ab'.repeat(20)}\\s+missing \\(.*crc7\\.ko has build id ${idOf('crc7')}, loaded crc7 has ${'ab'.repeat(20)}\\)\n`));
    assert.match(out, /\ntcp_bbr\s+yes\s+\S+\s+missing\n/);
    const j = captureIo();
    assert.equal(await doctorCommand.run(['--root', root.dir, '--json'], j), 0);
    const report = JSON.parse(j.stdout()) as DoctorReport;
    assert.equal(report.objects.length, 5);
    assert.equal(report.root, root.dir);
    await assert.rejects(doctorCommand.run(['x'], captureIo()), (e: unknown) => e instanceof UsageError && e.message === "unexpected argument 'x'");
  });

  it('on the real root it names the distribution through systeminformation', async function () {
    if (!existsSync('/etc/os-release')) { this.skip(); return; }
    this.timeout(20_000);
    const r = await diagnose({ root: '/', socket: join(tmp.dir, 'none.sock'), config: DEFAULT_CONFIG, env: {} });
    const distro = check(r, 'distro');
    assert.equal(distro?.level, 'ok');
    assert.ok((distro?.message ?? '').length > 0 && distro?.message !== 'unknown');
  });
});
