/**
 * Benchmark: merging vmlinux + every module BTF (../shared, 1121 modules) into one deduplicated
 * standalone BTF (what the daemon publishes as merged/kernel), and deduplicating each module
 * against vmlinux one by one. Each measurement runs in a fresh child process so its peak RSS is
 * its own. Beside it, in the same run: `bpftool btf dump file` of vmlinux and of the merged
 * output (> /dev/null, wall time and peak RSS via GNU time), and libbpf's btf__dedup (C) on
 * the same combined level when gcc + libbpf-dev are there. Without ../shared the committed
 * fixture modules are used instead.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { dedupBtf } from '../src/btf/dedup.js';
import { combineSiblings, mergeSiblings } from '../src/btf/merge.js';
import { readBtfFile } from '../src/btf/parse.js';
import { writeBtf } from '../src/btf/write.js';

const repo = process.cwd();
const kernelDir = resolve(process.env['BTF_EXTRA_SHARED'] ?? resolve(repo, '../shared'), 'kernel/debian-6.1.0-56-cloud-amd64');
const RUNS = 3;
const FIXTURES = ['cordic', 'crc7', 'loop', 'tcp_bbr', 'virtio_net'];

interface Inputs { vmlinux: string; modules: string[]; label: string }

function inputs(scratch: string): Inputs {
  const vm = join(kernelDir, 'btf/vmlinux');
  if (existsSync(vm)) {
    const dir = join(kernelDir, 'btf/modules');
    return { vmlinux: vm, modules: readdirSync(dir).sort().map((m) => join(dir, m)), label: 'vmlinux + all shared modules' };
  }
  const vmOut = join(scratch, 'vmlinux');
  writeFileSync(vmOut, gunzipSync(readFileSync(resolve(repo, 'test/fixtures/kernel/btf/vmlinux.gz'))));
  return { vmlinux: vmOut, modules: FIXTURES.map((m) => resolve(repo, 'test/fixtures/kernel/btf', m)), label: 'vmlinux + fixture modules (../shared absent)' };
}

interface Measured { readMs: number; workMs: number; writeMs: number; cpuMs: number; maxRssMb: number; types: number; bytes: number }

/** Child mode. `merge`: read all, mergeSiblings, write OUT. `each`: dedup every module against vmlinux. */
function measure(mode: string, out: string, vmPath: string, modPaths: string[]): Measured {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const vm = readBtfFile(vmPath);
  const mods = modPaths.map((p) => readBtfFile(p, { base: vm }));
  const t1 = performance.now();
  let types = 0, bytes = 0, writeMs = 0;
  if (mode === 'merge') {
    const merged = mergeSiblings(vm, mods);
    const t2 = performance.now();
    const b = writeBtf(merged);
    writeFileSync(out, b);
    writeMs = performance.now() - t2;
    types = merged.nextId - 1; bytes = b.length;
  } else if (mode === 'each') {
    for (const m of mods) { const d = dedupBtf(m); types += d.types.length; }
  } else {
    // `combined`: write the not-yet-deduplicated combined level for the libbpf comparison
    const b = writeBtf(combineSiblings(vm, mods));
    writeFileSync(out, b);
    bytes = b.length;
  }
  const t3 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  return { readMs: t1 - t0, workMs: t3 - t1 - writeMs, writeMs, cpuMs: (cpu.user + cpu.system) / 1000, maxRssMb: process.resourceUsage().maxRSS / 1024, types, bytes };
}

function child(mode: string, out: string, ins: Inputs): Measured {
  const listFile = `${out}.list`;
  writeFileSync(listFile, ins.modules.join('\n'));
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', mode, out, ins.vmlinux, listFile],
    { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`bench merge child (${mode}) failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Measured;
}

function median(xs: number[]): number { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; }

interface Timed { ms: number; cpuMs: number | undefined; rssMb: number | undefined }

/** Wall ms, CPU ms and peak RSS MB of a command (stdout discarded), through GNU time when installed. */
function timed(cmd: string, args: string[]): Timed | undefined {
  const gnuTime = existsSync('/usr/bin/time');
  const t0 = performance.now();
  const r = gnuTime
    ? spawnSync('/usr/bin/time', ['-f', '%U %S %M', cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
    : spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.error !== undefined || r.status !== 0) return undefined;
  const [user, sys, kb] = (gnuTime ? r.stderr.trim().split('\n').pop()! : '').split(' ').map(Number);
  const cpuMs = user !== undefined && sys !== undefined && Number.isFinite(user + sys) ? (user + sys) * 1000 : undefined;
  return { ms, cpuMs, rssMb: kb !== undefined && Number.isFinite(kb) ? kb / 1024 : undefined };
}

function fmt(v: number | undefined): string { return v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(0); }

function row(what: string, ms: number, cpuMs: number | undefined, rss: number | undefined, note = ''): string {
  return `| ${what} | ${fmt(ms)} | ${fmt(cpuMs)} | ${fmt(rss)} | ${note} |\n`;
}

function medianOf(runs: readonly (Timed | undefined)[], f: (t: Timed) => number | undefined): number | undefined {
  const xs = runs.map((r) => (r === undefined ? undefined : f(r))).filter((x): x is number => x !== undefined);
  return xs.length === 0 ? undefined : median(xs);
}

export async function run(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'bench-merge-'));
  try {
    const ins = inputs(scratch);
    const sum = statSync(ins.vmlinux).size + ins.modules.reduce((n, m) => n + statSync(m).size, 0);
    const mergedPath = join(scratch, 'merged');
    process.stdout.write(`${ins.label}: ${ins.modules.length} modules, ${sum} bytes of BTF in all; median of ${RUNS} runs, each in a fresh process\n\n`);
    process.stdout.write('| operation | wall ms | CPU ms | peak RSS MB | notes |\n|---|---:|---:|---:|---|\n');
    const merges = Array.from({ length: RUNS }, () => child('merge', mergedPath, ins));
    const m = merges[0]!;
    process.stdout.write(row('read vmlinux + modules (parse)', median(merges.map((x) => x.readMs)), undefined, undefined));
    process.stdout.write(row('mergeSiblings (combine + dedup + flatten)', median(merges.map((x) => x.workMs)), undefined,
      median(merges.map((x) => x.maxRssMb)), `${m.types} types, ${m.bytes} bytes = ${(100 * m.bytes / sum).toFixed(1)}% of the parts`));
    process.stdout.write(row('write merged', median(merges.map((x) => x.writeMs)), undefined, undefined));
    process.stdout.write(row('total merge (read + merge + write)', median(merges.map((x) => x.readMs + x.workMs + x.writeMs)),
      median(merges.map((x) => x.cpuMs)), median(merges.map((x) => x.maxRssMb))));
    const each = Array.from({ length: RUNS }, () => child('each', join(scratch, 'unused'), ins));
    process.stdout.write(row(`read + dedup each module against vmlinux (${ins.modules.length} levels)`, median(each.map((x) => x.readMs + x.workMs)),
      median(each.map((x) => x.cpuMs)), median(each.map((x) => x.maxRssMb)), `${each[0]!.types} types kept`));
    const bpf = (path: string, base?: string): (Timed | undefined)[] =>
      Array.from({ length: RUNS }, () => timed('bpftool', ['btf', 'dump', 'file', path, ...(base !== undefined ? ['-B', base] : [])]));
    if (timed('bpftool', ['btf', 'dump', 'file', ins.vmlinux]) === undefined) {
      process.stdout.write('| bpftool | - | - | - | not installed |\n');
    } else {
      for (const [what, runs] of [['bpftool btf dump file vmlinux > /dev/null', bpf(ins.vmlinux)], ['bpftool btf dump file MERGED > /dev/null', bpf(mergedPath)]] as const) {
        process.stdout.write(row(what, medianOf(runs, (t) => t.ms)!, medianOf(runs, (t) => t.cpuMs), medianOf(runs, (t) => t.rssMb)));
      }
      // The same input files as the merge, dumped the only way bpftool can: one process per module.
      const t0 = performance.now();
      let peak = 0;
      for (const mod of ins.modules) peak = Math.max(peak, timed('bpftool', ['btf', 'dump', 'file', mod, '-B', ins.vmlinux])?.rssMb ?? 0);
      // (per-run CPU is below GNU time's 10 ms resolution: not summed)
      process.stdout.write(row(`bpftool btf dump file MODULE -B vmlinux, every module (${ins.modules.length} runs, once)`, performance.now() - t0, undefined, peak || undefined));
    }
    libbpfComparison(scratch, ins);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** libbpf's btf__dedup (C) of the same combined level, through the test helper when it builds. */
function libbpfComparison(scratch: string, ins: Inputs): void {
  const helperSrc = resolve(repo, 'test/support/btf-load.c');
  const helper = join(scratch, 'btf-load');
  const cc = spawnSync('gcc', ['-O2', '-o', helper, helperSrc, '-lbpf'], { encoding: 'utf8' });
  if (cc.error !== undefined || cc.status !== 0) {
    process.stdout.write('| libbpf btf__dedup | - | - | - | helper not built (gcc/libbpf-dev missing) |\n');
    return;
  }
  const combined = join(scratch, 'combined');
  child('combined', combined, ins);
  const runs = Array.from({ length: RUNS }, () => timed(helper, ['dedup', join(scratch, 'libbpf.out'), combined, ins.vmlinux]));
  if (runs.some((r) => r === undefined)) { process.stdout.write('| libbpf btf__dedup | - | - | - | failed |\n'); return; }
  process.stdout.write(row('libbpf btf__dedup of the combined level (C, incl. parse)', medianOf(runs, (t) => t.ms)!, medianOf(runs, (t) => t.cpuMs),
    medianOf(runs, (t) => t.rssMb), `output ${statSync(join(scratch, 'libbpf.out')).size} bytes (split level)`));
}

if (process.argv[2] === '--child' && process.argv.length >= 7) {
  const [, , , mode, out, vm, list] = process.argv;
  const mods = readFileSync(list!, 'utf8').split('\n').filter((l) => l !== '');
  process.stdout.write(`${JSON.stringify(measure(mode!, out!, vm!, mods))}\n`);
}
