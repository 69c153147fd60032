/**
 * Boot case of the daemon benchmark (part of `npm run bench -- daemon`): N modules loaded, an
 * empty cache, vmlinux policy never. Daemon time from spawn to all N extras published (and to
 * merged/kernel holding them) next to `btf-extra encode --batch` of the same N objects, both
 * in one run.
 *
 * ../shared has 11 debug modules, so the N objects are built from them: module i is one of the
 * 11 under the name boot_<i>, with that module's BTF and build id in the injected root's
 * /sys/kernel/btf and notes, and its debug file found by build id (.build-id/xx/rest.debug).
 * Each object is a full encode (nothing is shared between names: the cache key holds the name).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InjectedRoot, sharedFixtures } from '../src/demo/root.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const DAEMON = join(here, '../src/cli/btf-extrad.js');
const CLI = join(here, '../src/cli/btf-extra.js');
const SHARED = resolve(process.env['BTF_EXTRA_SHARED'] ?? resolve(process.cwd(), '../shared'), 'kernel/debian-6.1.0-56-cloud-amd64');
const SIZES = (process.env['BENCH_BOOT_N'] ?? '50,150,400').split(',').map(Number);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Where the daemon benchmarks make their injected roots: on tmpfs when there is one, so the runtime
 * dir is on tmpfs as /run is (the cache dir then is too). Not a symlink from a root on disk: the
 * daemon refuses a runtime dir that resolves outside its root (src/daemon/folders.ts).
 */
export const BENCH_TMP = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

interface BootRow { n: number; batchMs: number; daemonMs: number; kernelAfterMs: number; kernelObjects: number }

async function bootOnce(n: number): Promise<BootRow> {
  const fx = sharedFixtures(SHARED);
  const debugMods = [...fx.modules.values()].filter((m) => m.debugFile !== undefined).sort((a, b) => (a.name < b.name ? -1 : 1));
  const dir = mkdtempSync(join(BENCH_TMP, 'btfx-bench-boot-'));
  try {
    const root = InjectedRoot.create(dir, fx);
    mkdirSync(join(dir, 'etc/btf-extra'), { recursive: true });
    writeFileSync(root.paths.defaultConfigFile, 'policy:\n  default: always\n  rules:\n    - { match: vmlinux, policy: never }\nwatch: { pollIntervalMs: 3600000 }\n');
    // Both sides read the same copies (on the root's tmpfs): a batch reading ../shared from disk
    // would time the page cache, not the encoder.
    const installed = new Map<string, string>();
    for (const m of debugMods) {
      installed.set(m.name, root.installDebug(m.name, `usr/lib/debug/.build-id/${m.buildId.slice(0, 2)}/${m.buildId.slice(2)}.debug`));
    }
    const names: string[] = [];
    const batch: string[] = [];
    mkdirSync(join(dir, 'batch-out'), { recursive: true });
    for (let i = 0; i < n; i++) {
      const m = debugMods[i % debugMods.length];
      if (!m?.debugFile) throw new Error('no debug module');
      const name = `boot_${String(i).padStart(3, '0')}`;
      names.push(name);
      root.loadRaw(name, readFileSync(m.btfFile), m.buildId, { feed: false });
      batch.push(`${installed.get(m.name) ?? m.debugFile} ${join(dir, 'batch-out', name)} ${root.paths.sysBtf('vmlinux')} ${root.paths.sysBtf(name)}`);
    }
    writeFileSync(join(dir, 'batch.list'), `${batch.join('\n')}\n`);

    // encode --batch of the same objects (one process, base chain parsed once).
    const tb = performance.now();
    const r = spawnSync(process.execPath, [CLI, 'encode', '--batch', join(dir, 'batch.list'), '--vars', 'all', '--quiet'], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const batchMs = performance.now() - tb;
    if (r.status !== 0) throw new Error(`encode --batch: ${r.stderr.trim().split('\n').pop() ?? ''}`);

    // The daemon on the same root, empty cache.
    const monitor = join(dir, 'monitor.sh');
    writeFileSync(monitor, "#!/bin/sh\nprintf 'monitor will print the received events for:\\nKERNEL - the kernel uevent\\n\\n'\nexec sleep 3600\n");
    chmodSync(monitor, 0o755);
    const btfDir = join(dir, 'run/btf-extra/btf');
    const t0 = performance.now();
    const child = spawn(process.execPath, [DAEMON, '--root', dir, '--uevent-command', monitor], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, JOURNAL_STREAM: '0:0' } });
    let log = '';
    let kernelAt: number | undefined;
    let kernelObjects = 0;
    let publishedAt: number | undefined;
    // Rebuilds logged by the daemon; the one that counts is the first to start after the last publish.
    let rebuildsSeen = 0;
    const onData = (d: Buffer): void => {
      log += d.toString();
      const all = [...log.matchAll(/kernel: merged view rebuilt \((\d+) objects, \d+ bytes\) (\d+) ms/g)];
      for (const m of all.slice(rebuildsSeen)) {
        const startedAt = performance.now() - Number(m[2]);
        if (kernelAt === undefined && publishedAt !== undefined && startedAt >= publishedAt) { kernelAt = performance.now(); kernelObjects = Number(m[1]); }
      }
      rebuildsSeen = all.length;
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    try {
      while (publishedAt === undefined) {
        if (child.exitCode !== null) throw new Error(`daemon exited: ${log.slice(-2000)}`);
        if (performance.now() - t0 > 600_000) throw new Error('boot: timed out');
        if (names.every((x) => existsSync(join(btfDir, `${x}-btf-extra`)))) publishedAt = performance.now();
        else await sleep(20);
      }
      while (kernelAt === undefined) {
        if (performance.now() - publishedAt > 120_000) throw new Error(`merged/kernel not rebuilt: ${log.slice(-1500)}`);
        await sleep(20);
      }
      return { n, batchMs, daemonMs: publishedAt - t0, kernelAfterMs: kernelAt - publishedAt, kernelObjects };
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  } finally {
    if (process.env['BENCH_KEEP']) process.stdout.write(`kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

export async function runBoot(): Promise<void> {
  if (!existsSync(join(SHARED, 'btf/vmlinux'))) { process.stdout.write(`boot case skipped: ${SHARED} not present\n`); return; }
  process.stdout.write(`\nboot: N modules loaded (the 11 shared debug modules under N names), empty cache, vmlinux policy never; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n\n`);
  process.stdout.write('| N | `encode --batch` | daemon: spawn -> all published | ratio | merged/kernel complete after the last object | target |\n|---|---|---|---|---|---|\n');
  for (const n of SIZES) {
    const r = await bootOnce(n);
    process.stdout.write(`| ${r.n} | ${(r.batchMs / 1000).toFixed(2)} s | ${(r.daemonMs / 1000).toFixed(2)} s | ${(r.daemonMs / r.batchMs).toFixed(2)}x | ${(r.kernelAfterMs / 1000).toFixed(2)} s (${r.kernelObjects} objects) | <= 1.5x, <= 2 s |\n`);
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  runBoot().catch((e: unknown) => { process.stderr.write(`${String(e)}\n`); process.exitCode = 1; });
}
