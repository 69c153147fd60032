/**
 * Encoder benchmark: `btf-extra encode` beside pahole 1.24 on the same inputs, in one run.
 *   - each of the 11 debug modules: ours (--mode extras and --mode full) vs pahole single-threaded and -j
 *   - the batch of all 11: ours (--batch, one process) vs pahole -j run once per module
 *   - the slim vmlinux (decompressed once to the OS temp dir): ours extras and full vs pahole and pahole -j2
 * Wall time, CPU time (user+sys) and peak RSS come from GNU time around each process,
 * median of BENCH_REPEAT runs (default 3; vmlinux once unless BENCH_REPEAT_VMLINUX is set), the
 * commands compared with each other run round-robin so that load changes hit them alike.
 * Needs ../shared (skips otherwise), pahole and /usr/bin/time. BENCH_ENCODE_SKIP_VMLINUX=1 skips vmlinux.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, writeFileSync, rmSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const cli = resolve(here, '../src/cli/btf-extra.js');
const shared = resolve(process.env['BTF_EXTRA_SHARED'] ?? resolve(process.cwd(), '../shared'));
const K = resolve(shared, 'kernel/debian-6.1.0-56-cloud-amd64');
const MODULES = ['cordic', 'crc7', 'tcp_bbr', 'loop', 'virtio_net', 'nf_conntrack', 'nf_tables', 'kvm', 'kvm-intel', 'btrfs', 'xfs'];

interface Sample { wall: number; cpu: number; rssMb: number }

function timed(cmd: string, args: readonly string[]): Sample {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M %U %S', cmd, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const last = r.stderr.trim().split('\n').pop() ?? '';
  const [wall, kb, user, sys] = last.split(' ').map(Number);
  return { wall: wall ?? NaN, cpu: (user ?? NaN) + (sys ?? NaN), rssMb: (kb ?? NaN) / 1024 };
}

function median(xs: Sample[]): Sample {
  const by = (k: keyof Sample): number => { const s = xs.map((x) => x[k]).sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
  return { wall: by('wall'), cpu: by('cpu'), rssMb: by('rssMb') };
}

/** Runs each command n times, round-robin (so a change of machine load hits all of them alike); medians. */
function interleaved(n: number, fs: readonly (() => Sample)[]): Sample[] {
  const xs: Sample[][] = fs.map(() => []);
  for (let i = 0; i < n; i++) fs.forEach((f, k) => xs[k]!.push(f()));
  return xs.map(median);
}

const fmt = (s: Sample): string => `${s.wall.toFixed(2)} s (cpu ${s.cpu.toFixed(2)}) / ${s.rssMb.toFixed(0)} MB`;
const ratio = (a: Sample, b: Sample): string => `${(a.wall / b.wall).toFixed(2)}x / ${(a.rssMb / b.rssMb).toFixed(2)}x`;

export async function run(): Promise<void> {
  if (!existsSync(resolve(K, 'btf/vmlinux'))) { process.stdout.write(`skipped: ${K} not present\n`); return; }
  if (spawnSync('pahole', ['--version']).status !== 0) { process.stdout.write('skipped: pahole not installed\n'); return; }
  const n = Number(process.env['BENCH_REPEAT'] ?? 3);
  const tmp = mkdtempSync(join(tmpdir(), 'bench-encode-'));
  const vmlinuxBtf = resolve(K, 'btf/vmlinux');
  const out = (name: string): string => join(tmp, name);
  const node = process.execPath;
  const lines: string[] = [];
  const row = (cells: string[]): void => { lines.push(`| ${cells.join(' | ')} |`); process.stdout.write(`${lines[lines.length - 1]}\n`); };

  process.stdout.write(`\nModules (median of ${n}; wall (cpu) / peak RSS; ratio = ours / pahole, wall / RSS)\n\n`);
  const load = spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.trim();
  process.stdout.write(`load average at start: ${load}\n\n`);
  row(['object', 'ours extras', 'ours full', 'pahole 1.24', 'pahole -j', 'extras/pahole', 'full/pahole']);
  row(['---', '---', '---', '---', '---', '---', '---']);
  const batchLines: string[] = [];
  let paholeJTotal = 0;
  let paholeJCpu = 0;
  let paholeJMaxRss = 0;
  for (const f of MODULES) {
    const m = f.replace(/-/g, '_');
    const ko = resolve(K, `debug/${f}.ko`);
    const modBtf = resolve(K, `btf/modules/${m}`);
    const [extras, full, pahole, paholeJ] = interleaved(n, [
      () => timed(node, [cli, 'encode', ko, '--base', vmlinuxBtf, '--base', modBtf, '--vars', 'all', '-o', out(`${m}.extras`), '--quiet']),
      () => timed(node, [cli, 'encode', ko, '--mode', 'full', '--base', vmlinuxBtf, '-o', out(`${m}.full`), '--quiet']),
      () => timed('pahole', ['-J', '--btf_gen_floats', '--lang_exclude=rust', '--btf_base', vmlinuxBtf, `--btf_encode_detached=${out(`${m}.pahole`)}`, ko]),
      () => timed('pahole', ['-J', '-j', '--btf_gen_floats', '--lang_exclude=rust', '--btf_base', vmlinuxBtf, `--btf_encode_detached=${out(`${m}.paholej`)}`, ko]),
    ]) as [Sample, Sample, Sample, Sample];
    paholeJTotal += paholeJ.wall;
    paholeJCpu += paholeJ.cpu;
    paholeJMaxRss = Math.max(paholeJMaxRss, paholeJ.rssMb);
    batchLines.push(`${ko} ${out(`${m}.batch`)} ${vmlinuxBtf} ${modBtf}`);
    row([f, fmt(extras), fmt(full), fmt(pahole), fmt(paholeJ), ratio(extras, pahole), ratio(full, pahole)]);
  }

  const list = out('batch.txt');
  writeFileSync(list, `${batchLines.join('\n')}\n`);
  const [batch] = interleaved(n, [() => timed(node, [cli, 'encode', '--batch', list, '--quiet'])]) as [Sample];
  process.stdout.write(`\nBatch of all 11 (extras, one process): ${fmt(batch)}; pahole -j, one process per module: ${paholeJTotal.toFixed(2)} s total (cpu ${paholeJCpu.toFixed(2)}), max ${paholeJMaxRss.toFixed(0)} MB; ratio ${(batch.wall / paholeJTotal).toFixed(2)}x\n`);

  if (process.env['BENCH_ENCODE_SKIP_VMLINUX'] !== '1') {
    const dir = join(tmpdir(), 'btf-extra-bench');
    mkdirSync(dir, { recursive: true });
    const vmlinux = join(dir, 'vmlinux.debug');
    if (!existsSync(vmlinux)) {
      const r = spawnSync('sh', ['-c', `xz -dc '${resolve(K, 'vmlinux.debug.xz')}' > '${vmlinux}.tmp'`]);
      if (r.status !== 0) throw new Error('cannot decompress vmlinux.debug.xz');
      renameSync(`${vmlinux}.tmp`, vmlinux);
    }
    const nv = Number(process.env['BENCH_REPEAT_VMLINUX'] ?? 1);
    process.stdout.write(`\nvmlinux (slim, ${nv} run(s))\n\n`);
    const [extras, full, full1, p1, p2] = interleaved(nv, [
      () => timed(node, [cli, 'encode', vmlinux, '--base', vmlinuxBtf, '--vars', 'all', '-o', out('vmlinux.extras'), '--quiet']),
      () => timed(node, [cli, 'encode', vmlinux, '--mode', 'full', '-o', out('vmlinux.full'), '--quiet']),
      () => timed(node, [cli, 'encode', vmlinux, '--mode', 'full', '--jobs', '1', '-o', out('vmlinux.full1'), '--quiet']),
      () => timed('pahole', ['-J', '--btf_gen_floats', '--lang_exclude=rust', `--btf_encode_detached=${out('vmlinux.pahole')}`, vmlinux]),
      () => timed('pahole', ['-J', '-j2', '--btf_gen_floats', '--lang_exclude=rust', `--btf_encode_detached=${out('vmlinux.pahole2')}`, vmlinux]),
    ]) as [Sample, Sample, Sample, Sample, Sample];
    const v: string[] = [];
    v.push('| vmlinux | wall (cpu) / peak RSS | vs pahole -j2 | vs pahole |', '| --- | --- | --- | --- |');
    v.push(`| ours --mode extras | ${fmt(extras)} | ${ratio(extras, p2)} | ${ratio(extras, p1)} |`);
    v.push(`| ours --mode full | ${fmt(full)} | ${ratio(full, p2)} | ${ratio(full, p1)} |`);
    v.push(`| ours --mode full --jobs 1 | ${fmt(full1)} | ${ratio(full1, p2)} | ${ratio(full1, p1)} |`);
    v.push(`| pahole 1.24 | ${fmt(p1)} | ${ratio(p1, p2)} | 1.00x / 1.00x |`);
    v.push(`| pahole 1.24 -j2 | ${fmt(p2)} | 1.00x / 1.00x | ${ratio(p2, p1)} |`);
    process.stdout.write(`${v.join('\n')}\n`);
  }
  rmSync(tmp, { recursive: true, force: true });
}

// Standalone: node dist/bench/encode.js
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  run().catch((e: unknown) => { process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`); process.exitCode = 1; });
}
