/**
 * Benchmark: the BTF library's read + validate + write, on vmlinux BTF (4.1 MB, 95k types) and,
 * when ../shared is present, on all 1121 module BTFs split on vmlinux; beside
 * `bpftool btf dump file ... > /dev/null` on the same files in the same run (wall time and peak
 * RSS through GNU time). Each of our measurements runs in a fresh child process, so the time is
 * cold (JIT warm-up included) and the peak RSS is that job's alone. Median of RUNS runs.
 * Target: every operation faster than bpftool's dump of the same file.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { Btf } from '../src/btf/btf.js';
import { dumpRaw } from '../src/btf/dump-raw.js';
import { parseBtf } from '../src/btf/parse.js';
import { validateBtf } from '../src/btf/validate.js';
import { writeBtf } from '../src/btf/write.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = process.cwd();
const kernelDir = resolve(process.env['BTF_EXTRA_SHARED'] ?? resolve(repo, '../shared'), 'kernel/debian-6.1.0-56-cloud-amd64');
const RUNS = 3;

interface Times { read: number; parse: number; validate: number; write: number; dump: number; total: number; maxRssMb: number; types: number; problems: number }

/** Child mode: read + parse + validate + write (+ raw dump, timed apart) of vmlinux or of all modules. */
function measure(what: 'vmlinux' | 'modules', vmlinuxPath: string): Times {
  const t: Times = { read: 0, parse: 0, validate: 0, write: 0, dump: 0, total: 0, maxRssMb: 0, types: 0, problems: 0 };
  const step = <T>(key: 'read' | 'parse' | 'validate' | 'write' | 'dump', fn: () => T): T => {
    const t0 = performance.now();
    const r = fn();
    t[key] += performance.now() - t0;
    return r;
  };
  const one = (bytes: Uint8Array, base?: Btf): Btf => {
    const btf = step('parse', () => parseBtf(bytes, { base }));
    t.problems += step('validate', () => validateBtf(btf)).length;
    const out = step('write', () => writeBtf(btf));
    if (out.length !== bytes.length) throw new Error('write changed the size');
    t.types += btf.types.length;
    return btf;
  };
  const vbytes = step('read', () => readFileSync(vmlinuxPath));
  if (what === 'vmlinux') {
    const v = one(vbytes);
    step('dump', () => dumpRaw(v).length);
  } else {
    // vmlinux is the modules' base: parsed once, not counted.
    const v = parseBtf(vbytes);
    t.read = 0;
    const dir = join(kernelDir, 'btf/modules');
    for (const n of readdirSync(dir)) {
      const bytes = step('read', () => readFileSync(join(dir, n)));
      const m = one(bytes, v);
      step('dump', () => dumpRaw(m).length);
    }
  }
  t.total = t.read + t.parse + t.validate + t.write;
  t.maxRssMb = process.resourceUsage().maxRSS / 1024;
  return t;
}

function child(what: 'vmlinux' | 'modules', vmlinuxPath: string): Times {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--one', what, vmlinuxPath], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`bench child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Times;
}

/** Wall ms and peak RSS MB of a command with stdout to /dev/null, through GNU time. */
function timed(cmd: string[], stdin?: string): { ms: number; rssMb: number } {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', ...cmd], { encoding: 'utf8', stdio: [stdin === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'], input: stdin, maxBuffer: 1 << 26 });
  const ms = performance.now() - t0;
  const rss = Number(r.stderr.trim().split('\n').pop());
  if (!Number.isFinite(rss)) throw new Error(`${cmd.join(' ')}: ${r.stderr}`);
  return { ms, rssMb: rss / 1024 };
}

function median(xs: number[]): number { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; }
const f0 = (x: number): string => x.toFixed(0);

export async function run(): Promise<void> {
  const haveShared = existsSync(join(kernelDir, 'btf/vmlinux'));
  const tmp = mkdtempSync(join(tmpdir(), 'btf-bench-'));
  try {
    let vmlinux = join(kernelDir, 'btf/vmlinux');
    if (!haveShared) {
      vmlinux = join(tmp, 'vmlinux');
      writeFileSync(vmlinux, gunzipSync(readFileSync(resolve(repo, 'test/fixtures/kernel/btf/vmlinux.gz'))));
      process.stdout.write('../shared absent: vmlinux from test/fixtures, no modules\n');
    }
    const cli = resolve(here, '../src/cli/btf-extra.js');
    process.stdout.write(`median of ${RUNS} runs; ours in a fresh node process each (cold: JIT warm-up included), bpftool 7.1 through GNU time\n\n`);
    process.stdout.write('| input | operation | ms | peak RSS MB |\n|---|---|---:|---:|\n');
    const rows: [string, string, number, number][] = [];

    const ours = Array.from({ length: RUNS }, () => child('vmlinux', vmlinux));
    const pick = (k: keyof Times): number => median(ours.map((x) => x[k]));
    const rss = pick('maxRssMb');
    rows.push(['vmlinux', 'ours: read', pick('read'), rss]);
    rows.push(['vmlinux', 'ours: parse', pick('parse'), rss]);
    rows.push(['vmlinux', 'ours: validate', pick('validate'), rss]);
    rows.push(['vmlinux', 'ours: write', pick('write'), rss]);
    rows.push(['vmlinux', '**ours: read + parse + validate + write**', pick('total'), rss]);
    rows.push(['vmlinux', 'ours: raw dump text (in process)', pick('dump'), rss]);
    const ourCli = Array.from({ length: RUNS }, () => timed([process.execPath, cli, 'dump', vmlinux]));
    rows.push(['vmlinux', 'ours: `btf-extra dump` whole process', median(ourCli.map((x) => x.ms)), median(ourCli.map((x) => x.rssMb))]);
    const ourVal = Array.from({ length: RUNS }, () => timed([process.execPath, cli, 'validate', vmlinux]));
    rows.push(['vmlinux', 'ours: `btf-extra validate` whole process', median(ourVal.map((x) => x.ms)), median(ourVal.map((x) => x.rssMb))]);
    const bt = Array.from({ length: RUNS }, () => timed(['bpftool', 'btf', 'dump', 'file', vmlinux]));
    rows.push(['vmlinux', '**bpftool btf dump > /dev/null**', median(bt.map((x) => x.ms)), median(bt.map((x) => x.rssMb))]);

    if (haveShared) {
      const mods = Array.from({ length: RUNS }, () => child('modules', vmlinux));
      const mp = (k: keyof Times): number => median(mods.map((x) => x[k]));
      const mrss = mp('maxRssMb');
      const label = `1121 modules (${mods[0]!.types} types)`;
      rows.push([label, 'ours: read', mp('read'), mrss]);
      rows.push([label, 'ours: parse', mp('parse'), mrss]);
      rows.push([label, 'ours: validate', mp('validate'), mrss]);
      rows.push([label, 'ours: write', mp('write'), mrss]);
      rows.push([label, '**ours: read + parse + validate + write**', mp('total'), mrss]);
      rows.push([label, 'ours: raw dump text (in process)', mp('dump'), mrss]);
      const dir = join(kernelDir, 'btf/modules');
      const cmds = join(tmp, 'cmds');
      writeFileSync(cmds, readdirSync(dir).map((n) => `btf dump file ${join(dir, n)}\n`).join(''));
      const batch = Array.from({ length: RUNS }, () => timed(['bpftool', '-B', vmlinux, 'batch', 'file', cmds]));
      rows.push([label, '**bpftool -B vmlinux batch (one process, all dumps) > /dev/null**', median(batch.map((x) => x.ms)), median(batch.map((x) => x.rssMb))]);
      // 1121 separate processes, as a shell loop would run them (one run: it is slow).
      const script = `for f in ${dir}/*; do bpftool btf dump file "$f" -B ${vmlinux}; done`;
      const loop = timed(['sh', '-c', script]);
      rows.push([label, 'bpftool, one process per module > /dev/null', loop.ms, loop.rssMb]);
    }
    for (const [input, op, ms, mb] of rows) process.stdout.write(`| ${input} | ${op} | ${f0(ms)} | ${f0(mb)} |\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--one' && (process.argv[3] === 'vmlinux' || process.argv[3] === 'modules') && process.argv[4] !== undefined) {
  process.stdout.write(`${JSON.stringify(measure(process.argv[3], process.argv[4]))}\n`);
} else if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  run().catch((e: unknown) => { process.stderr.write(`${String(e)}\n`); process.exitCode = 1; });
}
