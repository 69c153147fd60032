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
import { dumpRawBytes } from '../src/btf/dump-raw.js';
import { parseBtf } from '../src/btf/parse.js';
import { validateBtf } from '../src/btf/validate.js';
import { writeBtf } from '../src/btf/write.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = process.cwd();
const kernelDir = resolve(process.env['BTF_EXTRA_SHARED'] ?? resolve(repo, '../shared'), 'kernel/debian-6.1.0-56-cloud-amd64');
const RUNS = 5;

interface Times { read: number; parse: number; validate: number; write: number; dump: number; total: number; warmTotal: number; warmDump: number; coldRssMb: number; maxRssMb: number; types: number; problems: number }

/**
 * Child mode: read + parse + validate + write (+ raw dump, timed apart) of vmlinux or of all
 * modules, first cold (as a CLI run would), then WARM_REPEATS more times in the same process
 * (as the daemon, which keeps running, would): `warm*` is the best of those.
 */
const WARM_REPEATS = 4;
function measure(what: 'vmlinux' | 'modules', vmlinuxPath: string): Times {
  const t: Times = { read: 0, parse: 0, validate: 0, write: 0, dump: 0, total: 0, warmTotal: Infinity, warmDump: Infinity, coldRssMb: 0, maxRssMb: 0, types: 0, problems: 0 };
  const pass = (withDump: boolean): Times => {
    const p: Times = { ...t, read: 0, parse: 0, validate: 0, write: 0, dump: 0, types: 0, problems: 0 };
    const step = <T>(key: 'read' | 'parse' | 'validate' | 'write' | 'dump', fn: () => T): T => {
      const t0 = performance.now();
      const r = fn();
      p[key] += performance.now() - t0;
      return r;
    };
    const one = (bytes: Uint8Array, base?: Btf): void => {
      const btf = step('parse', () => parseBtf(bytes, { base }));
      p.problems += step('validate', () => validateBtf(btf)).length;
      const out = step('write', () => writeBtf(btf));
      if (out.length !== bytes.length) throw new Error('write changed the size');
      p.types += btf.count; // count, not types.length: that would build the objects
      if (withDump) step('dump', () => dumpRawBytes(btf).length);
    };
    const vbytes = step('read', () => readFileSync(vmlinuxPath));
    if (what === 'vmlinux') {
      one(vbytes);
    } else {
      // vmlinux is the modules' base: parsed once, not counted.
      const v = parseBtf(vbytes);
      p.read = 0;
      const dir = join(kernelDir, 'btf/modules');
      for (const n of readdirSync(dir)) one(step('read', () => readFileSync(join(dir, n))), v);
    }
    p.total = p.read + p.parse + p.validate + p.write;
    return p;
  };
  // Cold: the first pass, without the dump, so its peak RSS is read + parse + validate + write's.
  Object.assign(t, pass(false));
  t.coldRssMb = process.resourceUsage().maxRSS / 1024;
  // The dump's own first run (its code still cold), then warm passes of everything.
  t.dump = pass(true).dump;
  for (let i = 0; i < WARM_REPEATS; i++) {
    const w = pass(true);
    t.warmTotal = Math.min(t.warmTotal, w.total);
    t.warmDump = Math.min(t.warmDump, w.dump);
  }
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

const f0 = (x: number): string => x.toFixed(0);
const best = (xs: number[]): number => Math.min(...xs);

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
    process.stdout.write(`best of ${RUNS} runs, ours and bpftool 7.1 interleaved (the machine is shared: best-of is the least disturbed).\n`
      + 'ours "cold" = first pass in a fresh node process (JIT warm-up included, what one CLI run costs); '
      + `"warm" = best of ${WARM_REPEATS} more passes in that process (what the long-running daemon pays). bpftool through GNU time.\n`
      + 'Peak RSS: cold rows = after read + parse + validate + write (node itself is ~48 MB); dump and warm rows = whole child process.\n\n');
    process.stdout.write('| input | operation | ms | peak RSS MB |\n|---|---|---:|---:|\n');
    const rows: [string, string, number, number][] = [];
    const cases: ('vmlinux' | 'modules')[] = haveShared ? ['vmlinux', 'modules'] : ['vmlinux'];
    const dir = join(kernelDir, 'btf/modules');
    const cmds = join(tmp, 'cmds');
    if (haveShared) writeFileSync(cmds, readdirSync(dir).map((n) => `btf dump file ${join(dir, n)}\n`).join(''));
    for (const what of cases) {
      const ours: Times[] = [];
      const theirs: { ms: number; rssMb: number }[] = [];
      const ourCli: { ms: number; rssMb: number }[] = [];
      for (let i = 0; i < RUNS; i++) {
        theirs.push(what === 'vmlinux'
          ? timed(['bpftool', 'btf', 'dump', 'file', vmlinux])
          : timed(['bpftool', '-B', vmlinux, 'batch', 'file', cmds]));
        ours.push(child(what, vmlinux));
        if (what === 'vmlinux') ourCli.push(timed([process.execPath, cli, 'validate', vmlinux]));
      }
      const pick = (k: keyof Times): number => best(ours.map((x) => x[k]));
      const rss = pick('coldRssMb');
      const warmRss = pick('maxRssMb');
      const label = what === 'vmlinux' ? `vmlinux (${ours[0]!.types} types)` : `1121 modules on vmlinux (${ours[0]!.types} types)`;
      rows.push([label, 'ours cold: read', pick('read'), rss]);
      rows.push([label, 'ours cold: parse', pick('parse'), rss]);
      rows.push([label, 'ours cold: validate', pick('validate'), rss]);
      rows.push([label, 'ours cold: write', pick('write'), rss]);
      rows.push([label, '**ours cold: read + parse + validate + write**', pick('total'), rss]);
      rows.push([label, '**ours warm: read + parse + validate + write**', pick('warmTotal'), warmRss]);
      rows.push([label, 'ours cold: raw dump text (bytes, in process)', pick('dump'), warmRss]);
      rows.push([label, 'ours warm: raw dump text', pick('warmDump'), warmRss]);
      if (ourCli.length > 0) rows.push([label, 'ours: `btf-extra validate` whole process (node start-up, all CLI modules)', best(ourCli.map((x) => x.ms)), best(ourCli.map((x) => x.rssMb))]);
      rows.push([label, what === 'vmlinux' ? '**bpftool btf dump file > /dev/null** (whole process)' : '**bpftool -B vmlinux batch file (one process, 1121 dumps) > /dev/null**',
        best(theirs.map((x) => x.ms)), best(theirs.map((x) => x.rssMb))]);
    }
    if (haveShared) {
      // 1121 separate processes, as a shell loop would run them (one run: it is slow).
      const loop = timed(['sh', '-c', `for f in ${dir}/*; do bpftool btf dump file "$f" -B ${vmlinux}; done`]);
      rows.push(['1121 modules on vmlinux', 'bpftool, one process per module > /dev/null', loop.ms, loop.rssMb]);
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
