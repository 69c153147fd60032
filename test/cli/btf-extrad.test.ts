/**
 * The daemon as a process: signals (SIGHUP reload keeping the old config when the new one is
 * invalid, SIGTERM graceful stop with exit 0), the control socket answering the CLI's client,
 * uevents from an injected command, the poller fallback, and usage errors.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchStatus, requestReload } from '../../src/daemon/control/client.js';
import { InjectedRoot, committedFixtures } from '../../src/demo/root.js';

const CLI = new URL('../../src/cli/btf-extrad.js', import.meta.url).pathname;

async function until(what: string, pred: () => boolean | Promise<boolean>, ms = 20000): Promise<void> {
  const t0 = Date.now();
  while (!(await pred())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function startDaemon(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; out: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, JOURNAL_STREAM: '1:1', ...env } });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, out: () => out, exit };
}

describe('btf-extrad (process)', function () {
  this.timeout(60000);
  const running: ChildProcess[] = [];
  afterEach(() => { for (const c of running.splice(0)) if (c.exitCode === null) c.kill('SIGKILL'); });

  it('usage: --help exits 0, an unknown option exits 2', () => {
    const h = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    assert.equal(h.status, 0);
    assert.match(h.stdout, /--root DIR/);
    const bad = spawnSync(process.execPath, [CLI, '--bogus'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /btf-extrad: Unknown option '--bogus'/);
  });

  it('serves the control socket; SIGHUP with an invalid config keeps the old one; SIGTERM stops cleanly with exit 0', async () => {
    const root = InjectedRoot.create(mkdtempSync(join(tmpdir(), 'btfx-proc-')), committedFixtures());
    root.load('crc7', { debug: false });
    mkdirSync(join(root.dir, 'etc/btf-extra'), { recursive: true });
    writeFileSync(root.paths.defaultConfigFile, 'watch: { pollIntervalMs: 100 }\n');
    const d = startDaemon(['--root', root.dir]);
    running.push(d.child);
    const sock = join(root.dir, 'run/btf-extra/control.sock');
    await until('control socket', () => existsSync(sock));
    const st = await fetchStatus(sock);
    assert.equal(st.root, root.dir);
    assert.equal(st.objects.find((o) => o.name === 'crc7')?.state, 'no-debuginfo');

    // the poller sees a module loaded without any uevent
    root.load('cordic');
    await until('cordic via the poller', async () => (await fetchStatus(sock)).objects.some((o) => o.name === 'cordic'));

    writeFileSync(root.paths.defaultConfigFile, 'policy: { default: nope }\n');
    d.child.kill('SIGHUP');
    await until('reload refused', () => /config not reloaded, keeping the previous one: .*policy\.default/.test(d.out()));
    await assert.rejects(requestReload(sock), /policy\.default/);
    assert.equal(d.child.exitCode, null);

    d.child.kill('SIGTERM');
    assert.equal(await d.exit, 0);
    assert.match(d.out(), /<6>SIGTERM: stopping/);
    assert.match(d.out(), /<6>stopped/);
    assert.ok(!existsSync(sock), 'socket removed');
    assert.ok(!existsSync(join(root.dir, 'var/cache/btf-extra/tmp')), 'no temp files');
    assert.deepEqual(readdirSync(join(root.dir, 'run/btf-extra/btf')).filter((f) => f.startsWith('.')), []);
  });

  it('under systemd (NOTIFY_SOCKET): READY=1 with the state counts once the control socket is up, STOPPING=1 on SIGTERM', async () => {
    const root = InjectedRoot.create(mkdtempSync(join(tmpdir(), 'btfx-ntf-')), committedFixtures());
    root.load('crc7', { debug: false });
    const sock = join(root.dir, 'run/btf-extra/control.sock');
    // A fake systemd-notify first on PATH: records its arguments and whether the socket exists yet.
    const bin = join(root.dir, 'bin');
    mkdirSync(bin);
    const log = join(root.dir, 'notify.log');
    writeFileSync(join(bin, 'systemd-notify'), `#!/bin/sh\nif [ -S '${sock}' ]; then s=socket; else s=nosocket; fi\necho "$s $*" >> '${log}'\n`);
    chmodSync(join(bin, 'systemd-notify'), 0o755);
    const d = startDaemon(['--root', root.dir], { NOTIFY_SOCKET: join(root.dir, 'notify'), PATH: `${bin}:${process.env['PATH'] ?? ''}` });
    running.push(d.child);
    const lines = (): string[] => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []);
    await until('READY', () => lines().some((l) => l.includes('--ready')));
    const ready = lines().find((l) => l.includes('--ready'));
    // vmlinux and crc7 (loaded without debuginfo); the socket already answers.
    assert.equal(ready, 'socket --ready --status=2 no-debuginfo', lines().join(' | '));
    d.child.kill('SIGTERM');
    assert.equal(await d.exit, 0);
    await until('STOPPING', () => lines().some((l) => l.includes('STOPPING=1')));
  });

  it('SIGTERM during start-up (a slow uevent monitor) is a clean stop: exit 0, no socket left', async () => {
    const root = InjectedRoot.create(mkdtempSync(join(tmpdir(), 'btfx-early-')), committedFixtures());
    const slow = join(root.dir, 'slow-monitor.sh');
    writeFileSync(slow, '#!/bin/sh\nsleep 60\n'); // never prints its banner: start waits for the 1 s fallback
    chmodSync(slow, 0o755);
    const d = startDaemon(['--root', root.dir, '--uevent-command', slow, '--log-level', 'debug']);
    running.push(d.child);
    await until('signal handlers installed', () => /<7>starting \(pid \d+\); signals handled/.test(d.out()));
    d.child.kill('SIGTERM');
    assert.equal(await d.exit, 0, d.out());
    assert.match(d.out(), /<6>SIGTERM: stopping/);
    assert.match(d.out(), /<6>stopped/);
    assert.ok(!existsSync(join(root.dir, 'run/btf-extra/control.sock')));
  });

  it('start-up failing after the uevent monitor started (a directory where status.json goes) exits 1 at once with the reason', async () => {
    const root = InjectedRoot.create(mkdtempSync(join(tmpdir(), 'btfx-stray-')), committedFixtures());
    const monitor = join(root.dir, 'monitor.sh');
    writeFileSync(monitor, `#!/bin/sh\nprintf 'monitor will print the received events for:\\nKERNEL - the kernel uevent\\n\\n'\nsleep 60\n`);
    chmodSync(monitor, 0o755);
    // status.json is first written at the end of start-up, after the monitor started.
    mkdirSync(join(root.dir, 'run/btf-extra/status.json/inner'), { recursive: true });
    const d = startDaemon(['--root', root.dir, '--uevent-command', monitor]);
    running.push(d.child);
    const t0 = Date.now();
    const code = await Promise.race([d.exit, new Promise<string>((r) => setTimeout(() => r('still running'), 15000))]);
    assert.equal(code, 1, d.out());
    assert.ok(Date.now() - t0 < 15000);
    assert.match(d.out(), /<3>cannot start: .*status\.json/);
  });

  it('reads uevents from --uevent-command (udevadm-style blocks)', async () => {
    const root = InjectedRoot.create(mkdtempSync(join(tmpdir(), 'btfx-uev-')), committedFixtures());
    const fifo = join(root.dir, 'uevents.sh');
    // The fake monitor prints its banner, then a block for a module the test loads meanwhile.
    writeFileSync(fifo, `#!/bin/sh\nprintf 'monitor will print the received events for:\\nKERNEL - the kernel uevent\\n\\n'\nwhile [ ! -e ${root.dir}/go ]; do sleep 0.05; done\nprintf 'KERNEL[1.0] add /module/cordic (module)\\nACTION=add\\nDEVPATH=/module/cordic\\nSUBSYSTEM=module\\nSEQNUM=1\\n\\n'\nsleep 60\n`);
    chmodSync(fifo, 0o755);
    mkdirSync(join(root.dir, 'etc/btf-extra'), { recursive: true });
    writeFileSync(root.paths.defaultConfigFile, 'watch: { pollIntervalMs: 3600000 }\n');
    const d = startDaemon(['--root', root.dir, '--uevent-command', fifo, '--log-level', 'debug']);
    running.push(d.child);
    await until('started', () => /watching modules by uevent/.test(d.out()));
    root.load('cordic', { debug: false });
    writeFileSync(join(root.dir, 'go'), '');
    await until('cordic seen through the uevent', () => /<7>uevent add cordic/.test(d.out()) && /cordic: no debuginfo/.test(d.out()));
    d.child.kill('SIGTERM');
    assert.equal(await d.exit, 0);
    assert.ok(readFileSync(join(root.dir, 'run/btf-extra/status.json'), 'utf8').includes('"cordic"'));
  });
});
