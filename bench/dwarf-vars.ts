/**
 * Benchmark: static-variable collection (ELF + DWARF readers, `btf-extra vars`) on the slim
 * vmlinux and the debug modules. Each object is measured in a fresh child process so the
 * reported peak RSS is that object's alone; the whole `btf-extra vars` CLI is timed too.
 *
 * vmlinux: $BTF_EXTRA_VMLINUX_DEBUG, else /tmp/vmlinux.debug (decompress it once with
 * `xz -dc ../shared/kernel/debian-6.1.0-56-cloud-amd64/vmlinux.debug.xz > /tmp/vmlinux.debug`).
 * Reference: elfutils' libdw walks every CU-level variable of it in 0.6 s; target <= 1.2 s.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ElfFile } from '../src/elf/index.js';
import { collectVariables, Dwarf } from '../src/dwarf/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = process.cwd();
const kernelDir = resolve(process.env['BTF_EXTRA_SHARED'] ?? resolve(repo, '../shared'), 'kernel/debian-6.1.0-56-cloud-amd64');
const MODULES = ['cordic', 'crc7', 'tcp_bbr', 'loop', 'virtio_net', 'nf_conntrack', 'nf_tables', 'kvm', 'kvm-intel', 'btrfs', 'xfs'];
const RUNS = 3;

interface One { ms: number; maxRssMb: number; ext: number; stat: number; fn: number }

/** Child mode: measure one object (open + collect with types) and print JSON. */
function measureOne(path: string): One {
  const t0 = performance.now();
  const scan = collectVariables(Dwarf.fromElf(ElfFile.open(path)));
  const ms = performance.now() - t0;
  const file = scan.variables.filter((v) => v.scope === 'file');
  return {
    ms,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    ext: file.filter((v) => v.linkage === 'external').length,
    stat: file.filter((v) => v.linkage === 'static').length,
    fn: scan.variables.length - file.length,
  };
}

function child(path: string): One {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--one', path], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`bench child failed on ${path}: ${r.stderr}`);
  return JSON.parse(r.stdout) as One;
}

function median(xs: number[]): number { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; }

function cliWall(path: string): number {
  const cli = resolve(here, '../src/cli/btf-extra.js');
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cli, 'vars', path], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`btf-extra vars ${path} failed: ${r.stderr.toString()}`);
  return performance.now() - t0;
}

export async function run(): Promise<void> {
  const targets: [string, string][] = [];
  const vmlinux = process.env['BTF_EXTRA_VMLINUX_DEBUG'] ?? '/tmp/vmlinux.debug';
  if (existsSync(vmlinux)) targets.push(['vmlinux (slim)', vmlinux]);
  else process.stdout.write(`vmlinux: ${vmlinux} absent (decompress vmlinux.debug.xz there to include it)\n`);
  const haveShared = existsSync(resolve(kernelDir, 'debug/xfs.ko'));
  for (const m of MODULES) {
    const p = haveShared ? resolve(kernelDir, `debug/${m}.ko`) : resolve(repo, `test/fixtures/kernel/debug/${m}.ko`);
    if (existsSync(p)) targets.push([m, p]);
  }
  if (!haveShared) process.stdout.write('../shared absent: modules from test/fixtures only\n');
  process.stdout.write(`median of ${RUNS} runs, each in a fresh process; "collect" = open + DWARF walk + C types; "CLI" = whole \`btf-extra vars\` wall time\n\n`);
  process.stdout.write('| object | collect ms | CLI wall ms | peak RSS MB | ext | static | fn statics |\n|---|---:|---:|---:|---:|---:|---:|\n');
  let vmlinuxWall: number | undefined;
  for (const [name, path] of targets) {
    const runs = Array.from({ length: RUNS }, () => child(path));
    const walls = Array.from({ length: RUNS }, () => cliWall(path));
    const r = runs[0]!;
    if (path === vmlinux) vmlinuxWall = median(walls);
    process.stdout.write(`| ${name} | ${median(runs.map((x) => x.ms)).toFixed(0)} | ${median(walls).toFixed(0)} | ${
      median(runs.map((x) => x.maxRssMb)).toFixed(0)} | ${r.ext} | ${r.stat} | ${r.fn} |\n`);
  }
  if (vmlinuxWall !== undefined) {
    process.stdout.write(`\nvmlinux \`btf-extra vars\`: ${vmlinuxWall.toFixed(0)} ms; target <= 1200 ms (2x libdw's 600 ms): ${
      vmlinuxWall <= 1200 ? 'met' : 'MISSED'}\n`);
  }
}

if (process.argv[2] === '--one' && process.argv[3] !== undefined) {
  process.stdout.write(`${JSON.stringify(measureOne(process.argv[3]))}\n`);
} else if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  run().catch((e: unknown) => { process.stderr.write(`${String(e)}\n`); process.exitCode = 1; });
}
