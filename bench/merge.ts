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

interface Measured { readMs: number; workMs: number; writeMs: number; maxRssMb: number; types: number; bytes: number }

/** Child mode. `merge`: read all, mergeSiblings, write OUT. `each`: dedup every module against vmlinux. */
function measure(mode: string, out: string, vmPath: string, modPaths: string[]): Measured {
  const t0 = performance.now();
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
  return { readMs: t1 - t0, workMs: t3 - t1 - writeMs, writeMs, maxRssMb: process.resourceUsage().maxRSS / 1024, types, bytes };
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

/** Wall ms and peak RSS MB of a command (stdout discarded), through GNU time when installed. */
function timed(cmd: string, args: string[]): { ms: number; rssMb: number | undefined } | undefined {
  const gnuTime = existsSync('/usr/bin/time');
  const t0 = performance.now();
  const r = gnuTime
    ? spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
    : spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.error !== undefined || r.status !== 0) return undefined;
  const kb = gnuTime ? Number(r.stderr.trim().split('\n').pop()) : NaN;
  return { ms, rssMb: Number.isFinite(kb) ? kb / 1024 : undefined };
}

function row(what: string, ms: number, rss: number | undefined, note = ''): string {
  return `| ${what} | ${ms.toFixed(0)} | ${rss === undefined ? 'n/a' : rss.toFixed(0)} | ${note} |\n`;
}

export async function run(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'bench-merge-'));
  try {
    const ins = inputs(scratch);
    const sum = statSync(ins.vmlinux).size + ins.modules.reduce((n, m) => n + statSync(m).size, 0);
    const mergedPath = join(scratch, 'merged');
    process.stdout.write(`${ins.label}: ${ins.modules.length} modules, ${sum} bytes of BTF in all; median of ${RUNS} runs, each in a fresh process\n\n`);
    process.stdout.write('| operation | wall ms | peak RSS MB | notes |\n|---|---:|---:|---|\n');
    const merges = Array.from({ length: RUNS }, () => child('merge', mergedPath, ins));
    const m = merges[0]!;
    process.stdout.write(row('read vmlinux + modules (parse)', median(merges.map((x) => x.readMs)), undefined));
    process.stdout.write(row('mergeSiblings (combine + dedup + flatten)', median(merges.map((x) => x.workMs)),
      median(merges.map((x) => x.maxRssMb)), `${m.types} types, ${m.bytes} bytes = ${(100 * m.bytes / sum).toFixed(1)}% of the parts`));
    process.stdout.write(row('write merged', median(merges.map((x) => x.writeMs)), undefined));
    process.stdout.write(row('total merge (read + merge + write)', median(merges.map((x) => x.readMs + x.workMs + x.writeMs)), median(merges.map((x) => x.maxRssMb))));
    const each = Array.from({ length: RUNS }, () => child('each', join(scratch, 'unused'), ins));
    process.stdout.write(row(`dedup each module against vmlinux (${ins.modules.length} levels)`, median(each.map((x) => x.workMs)),
      median(each.map((x) => x.maxRssMb)), `${each[0]!.types} types kept`));
    const bpf = (path: string): number[] => Array.from({ length: RUNS }, () => timed('bpftool', ['btf', 'dump', 'file', path])?.ms ?? NaN);
    const vmDump = timed('bpftool', ['btf', 'dump', 'file', ins.vmlinux]);
    if (vmDump === undefined) {
      process.stdout.write('| bpftool | - | - | not installed |\n');
    } else {
      process.stdout.write(row('bpftool btf dump file vmlinux > /dev/null', median(bpf(ins.vmlinux)), vmDump.rssMb));
      process.stdout.write(row('bpftool btf dump file MERGED > /dev/null', median(bpf(mergedPath)), timed('bpftool', ['btf', 'dump', 'file', mergedPath])?.rssMb));
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
    process.stdout.write('| libbpf btf__dedup | - | - | helper not built (gcc/libbpf-dev missing) |\n');
    return;
  }
  const combined = join(scratch, 'combined');
  child('combined', combined, ins);
  const runs = Array.from({ length: RUNS }, () => timed(helper, ['dedup', join(scratch, 'libbpf.out'), combined, ins.vmlinux]));
  if (runs.some((r) => r === undefined)) { process.stdout.write('| libbpf btf__dedup | - | - | failed |\n'); return; }
  process.stdout.write(row('libbpf btf__dedup of the combined level (C, incl. parse)', median(runs.map((r) => r!.ms)), runs[0]!.rssMb,
    `output ${statSync(join(scratch, 'libbpf.out')).size} bytes (split level)`));
}

if (process.argv[2] === '--child' && process.argv.length >= 7) {
  const [, , , mode, out, vm, list] = process.argv;
  const mods = readFileSync(list!, 'utf8').split('\n').filter((l) => l !== '');
  process.stdout.write(`${JSON.stringify(measure(mode!, out!, vm!, mods))}\n`);
}
