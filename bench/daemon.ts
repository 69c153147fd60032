/**
 * Daemon benchmark (`npm run bench -- daemon`), the daemon as a real process on an injected root:
 *  - startup reconcile of 200 loaded modules whose extras are cached (spawn -> all published);
 *  - merged/kernel rebuild of those 200 (kernel worker process, from the daemon's own log line);
 *  - idle RSS and CPU (5 s with no events), peak RSS (VmHWM);
 *  - load -> published latency: cold (encoder run) against the bare `btf-extra encode` time of the
 *    same module, and cache hits (unload/load loop of a real module, p50/p99/max).
 *  - the boot case (bench/daemon-boot.ts): N modules, empty cache, daemon vs `encode --batch`.
 * Uevents reach the daemon through `--uevent-command "cat FIFO"`, the way udevadm would print them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { versions } from '../src/cli/btf-extrad.js';
import type { DaemonStatus, ObjectStatus } from '../src/daemon/api.js';
import { ExtrasCache, extrasCacheKey } from '../src/daemon/cache.js';
import { InjectedRoot, committedFixtures } from '../src/demo/root.js';
import { procPidFile } from '../src/host/paths.js';
import { BENCH_TMP, runBoot } from './daemon-boot.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const DAEMON = join(here, '../src/cli/btf-extrad.js');
const CLI = join(here, '../src/cli/btf-extra.js');
const MODULES = 200;
const HIT_ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 100);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** Resolves when `pred()` holds, re-checked on every change in `dir` (inotify) and every 5 ms. */
function whenTrue(dir: string, pred: () => boolean, timeoutMs = 120_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    if (pred()) { resolve(0); return; }
    let w: ReturnType<typeof watch> | undefined;
    const check = (): void => {
      if (!pred()) return;
      cleanup();
      resolve(performance.now() - t0);
    };
    const iv = setInterval(check, 5);
    const to = setTimeout(() => { cleanup(); reject(new Error(`timed out after ${timeoutMs} ms`)); }, timeoutMs);
    const cleanup = (): void => { clearInterval(iv); clearTimeout(to); w?.close(); };
    try { mkdirSync(dir, { recursive: true }); w = watch(dir, check); } catch { /* interval only */ }
  });
}

function procStat(pid: number): { cpuTicks: number; rssKb: number; hwmKb: number } {
  const stat = readFileSync(procPidFile(pid, 'stat'), 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const status = readFileSync(procPidFile(pid, 'status'), 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { cpuTicks, rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

function encodeOnce(root: InjectedRoot, name: string, out: string): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, 'encode', root.module(name).debugFile ?? '', '--base', root.paths.sysBtf('vmlinux'), '--base', join(root.dir, 'bench-btf', name), '--vars', 'all', '-o', out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`encode ${name}: ${r.stderr.trim()}`);
  return performance.now() - t0;
}

export async function run(): Promise<void> {
  const fixtures = committedFixtures();
  const dir = mkdtempSync(join(BENCH_TMP, 'btfx-bench-daemon-'));
  const root = InjectedRoot.create(dir, fixtures);
  const rel = fixtures.release;
  mkdirSync(join(dir, 'etc/btf-extra'), { recursive: true });
  writeFileSync(root.paths.defaultConfigFile, 'watch: { pollIntervalMs: 3600000 }\n');
  mkdirSync(join(dir, 'bench-btf'), { recursive: true });
  for (const m of ['loop', 'tcp_bbr']) writeFileSync(join(dir, 'bench-btf', m), readFileSync(root.module(m).btfFile));

  // Bare encoder times (median of 3) and loop's extras for the synthetic cached modules.
  const bare: Record<string, number> = {};
  for (const m of ['loop', 'tcp_bbr']) {
    const t = [0, 1, 2].map(() => encodeOnce(root, m, join(dir, `${m}.extra`))).sort((a, b) => a - b);
    bare[m] = t[1] ?? NaN;
  }
  const loopBtf = readFileSync(root.module('loop').btfFile);
  const loopExtras = readFileSync(join(dir, 'loop.extra'));

  // 200 loaded modules (loop's BTF under other names), each with a valid cache entry.
  const { encoderVersion } = versions();
  const cache = new ExtrasCache(join(dir, 'var/cache/btf-extra/extras'));
  for (let i = 0; i < MODULES; i++) {
    const name = `bench_${String(i).padStart(3, '0')}`;
    const buildId = randomBytes(20).toString('hex');
    root.loadRaw(name, loopBtf, buildId, { feed: false });
    cache.put(extrasCacheKey({ release: rel, name, buildId, chain: [fixtures.vmlinuxBtf, loopBtf], encoderVersion, vars: 'all' }), loopExtras);
  }

  const fifo = join(dir, 'uevents.fifo');
  spawnSync('mkfifo', [fifo]);
  const t0 = performance.now();
  // A monitor that prints udevadm's banner (the daemon takes it as "listening"), then the events.
  const monitor = join(dir, 'monitor.sh');
  writeFileSync(monitor, `#!/bin/sh\nprintf 'monitor will print the received events for:\\nKERNEL - the kernel uevent\\n\\n'\nexec cat ${fifo}\n`);
  chmodSync(monitor, 0o755);
  const child = spawn(process.execPath, [DAEMON, '--root', dir, '--uevent-command', monitor], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, JOURNAL_STREAM: '0:0' } });
  let log = '';
  child.stdout.on('data', (d: Buffer) => { log += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { log += d.toString(); });
  const writer = await open(fifo, 'w');
  const uevents = writer.createWriteStream();
  root.uevents.pipe(uevents);
  const pid = child.pid ?? 0;
  const btfDir = join(dir, 'run/btf-extra/btf');
  const published = (n: string): boolean => existsSync(join(btfDir, `${n}-btf-extra`));
  const statusOf = (n: string): ObjectStatus | undefined => {
    try {
      return (JSON.parse(readFileSync(join(dir, 'run/btf-extra/status.json'), 'utf8')) as DaemonStatus).objects.find((o) => o.name === n && o.state === 'published');
    } catch { return undefined; }
  };

  try {
    await whenTrue(btfDir, () => published(`bench_${String(MODULES - 1).padStart(3, '0')}`) && Array.from({ length: MODULES }, (_, i) => `bench_${String(i).padStart(3, '0')}`).every(published));
    const startupMs = performance.now() - t0;
    await whenTrue(join(dir, 'run/btf-extra/merged'), () => /kernel: merged view rebuilt/.test(log));
    const mergeMs = Number(/kernel: merged view rebuilt \(\d+ objects, \d+ bytes\) (\d+) ms/.exec(log)?.[1] ?? NaN);

    await sleep(1000);
    const a = procStat(pid);
    await sleep(5000);
    const b = procStat(pid);
    const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
    const idleCpuPct = ((b.cpuTicks - a.cpuTicks) / ticks / 5) * 100;

    // Cold: nothing cached for these names.
    const cold: Record<string, number> = {};
    const coldEncode: Record<string, number> = {};
    for (const m of ['loop', 'tcp_bbr']) {
      const t = performance.now();
      root.load(m);
      await whenTrue(btfDir, () => published(m));
      cold[m] = performance.now() - t;
      // The daemon's own timing of the encoder child in this very job (same load conditions).
      await whenTrue(join(dir, 'run/btf-extra'), () => statusOf(m)?.timings?.['encode'] !== undefined);
      coldEncode[m] = statusOf(m)?.timings?.['encode'] ?? NaN;
    }

    // Cache hits: unload/load loop.
    const hits: number[] = [];
    for (let i = 0; i < HIT_ROUNDS; i++) {
      root.unload('loop');
      await whenTrue(btfDir, () => !existsSync(join(btfDir, 'loop')));
      await sleep(20);
      const t = performance.now();
      root.load('loop');
      await whenTrue(btfDir, () => published('loop'));
      hits.push(performance.now() - t);
      if (process.env['BENCH_TRACE']) process.stdout.write(`hit ${i} ${(performance.now() - t).toFixed(1)}\n`);
    }
    hits.sort((x, y) => x - y);
    const end = procStat(pid);

    const row = (k: string, v: string, target = ''): string => `| ${k} | ${v} | ${target} |\n`;
    process.stdout.write('| measure | value | target |\n|---|---|---|\n'
      + row(`startup reconcile, ${MODULES} cached modules (spawn -> all published)`, `${startupMs.toFixed(0)} ms`, '< 2000 ms')
      + row(`merged/kernel rebuild, vmlinux + ${MODULES} modules (kernel worker process, waiting for parts still being made)`, `${mergeMs} ms`)
      + row('load -> published, cache hit: p50 / p99 / max', `${pct(hits, 50).toFixed(1)} / ${pct(hits, 99).toFixed(1)} / ${(hits[hits.length - 1] ?? NaN).toFixed(1)} ms (${HIT_ROUNDS} loads)`, 'p99 < 50 ms')
      + Object.keys(cold).map((m) => row(`load -> published, cold (${m})`, `${(cold[m] ?? NaN).toFixed(0)} ms = encoder child ${(coldEncode[m] ?? NaN).toFixed(0)} ms + ${((cold[m] ?? NaN) - (coldEncode[m] ?? NaN)).toFixed(0)} ms (bare \`btf-extra encode\`, idle: ${(bare[m] ?? NaN).toFixed(0)} ms)`, 'encode + < 100 ms')).join('')
      + row(`RSS idle (${MODULES + 1} objects published)`, `${(a.rssKb / 1024).toFixed(0)} MB`)
      + row('RSS peak (VmHWM)', `${(end.hwmKb / 1024).toFixed(0)} MB`)
      + row('CPU while idle (5 s, uevent mode)', `${idleCpuPct.toFixed(2)} %`, '~0'));
    if (process.env['BENCH_DAEMON_SKIP_BOOT'] === undefined) await runBoot();
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    root.uevents.unpipe(uevents);
    await writer.close().catch(() => {});
    if (process.env['BENCH_KEEP']) process.stdout.write(`kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  run().catch((e: unknown) => { process.stderr.write(`${String(e)}\n`); process.exitCode = 1; });
}
