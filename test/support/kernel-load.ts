/**
 * Test access to the system's BTF oracles: a small libbpf program (btf-load.c beside this file,
 * compiled on demand with `gcc ... -lbpf` into the OS temp dir, keyed by its source digest) for
 * BPF_BTF_LOAD, btf__parse_split and btf__dedup, and bpftool for dumps. Every call says
 * ok / skip (with the reason: no gcc, no libbpf-dev, no bpftool, no privilege) / error, and
 * `requireOk` turns a skip into a printed mocha skip, never a silent pass.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { strict as assert } from 'node:assert';
import { repoRoot } from './paths.js';

export type OracleResult =
  | { ok: true; output: string }
  | { ok: false; skipReason: string }
  | { ok: false; error: string };

const helperSource = resolve(repoRoot, 'test/support/btf-load.c');
let helper: { path: string } | { skipReason: string } | undefined;

/** Path of the compiled helper, or why it cannot be had. Compiled once per source version. */
export function libbpfHelper(): { path: string } | { skipReason: string } {
  if (helper !== undefined) return helper;
  const src = readFileSync(helperSource);
  const digest = createHash('sha256').update(src).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'btf-extra-test');
  const path = join(dir, `btf-load-${digest}`);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    const r = spawnSync('gcc', ['-O1', '-Wall', '-o', tmp, helperSource, '-lbpf'], { encoding: 'utf8', timeout: 60_000 });
    if (r.error !== undefined) {
      helper = { skipReason: `gcc is not available (${r.error.message}); install gcc and libbpf-dev` };
      return helper;
    }
    if (r.status !== 0) {
      const first = (r.stderr.split('\n').find((l) => /error/.test(l)) ?? r.stderr.split('\n')[0] ?? '').trim();
      helper = { skipReason: `cannot build the libbpf helper (is libbpf-dev installed?): ${first}` };
      return helper;
    }
    renameSync(tmp, path);
  }
  helper = { path };
  return helper;
}

function runHelper(args: readonly string[]): OracleResult {
  const h = libbpfHelper();
  if ('skipReason' in h) return { ok: false, skipReason: h.skipReason };
  const r = spawnSync(h.path, args, { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
  if (r.error !== undefined) return { ok: false, error: `btf-load: ${r.error.message}` };
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status === 0) return { ok: true, output: line };
  const detail = `${line}${r.stderr.trim() ? ` | ${r.stderr.trim().split('\n').slice(-5).join(' | ')}` : ''}`;
  if (r.status === 2) return { ok: false, skipReason: `the kernel refused for lack of privilege or bpf() support (${line}); run as root on a kernel with BPF` };
  return { ok: false, error: `btf-load ${args[0]}: ${detail}` };
}

/** Loads standalone raw BTF `path` into the running kernel (BPF_BTF_LOAD through libbpf). */
export function loadIntoKernel(path: string): OracleResult {
  return runHelper(['load', path]);
}

/** libbpf parses `path` split on the chain `bases` (root first); output "ok <type count>". */
export function parseWithLibbpf(path: string, bases: readonly string[] = []): OracleResult {
  return runHelper(['parse', path, ...bases]);
}

/** libbpf parses `path` split on `basePath`. */
export function parseSplitWithLibbpf(basePath: string, path: string): OracleResult {
  return parseWithLibbpf(path, [basePath]);
}

/** libbpf's btf__dedup of `path`'s level (split on `bases`), raw bytes written to `out`. */
export function dedupWithLibbpf(out: string, path: string, bases: readonly string[] = []): OracleResult {
  return runHelper(['dedup', out, path, ...bases]);
}

/** libbpf's btf__find_by_name_kind(name, BTF_KIND_VAR) in `path` split on `bases`; output "ok <id>". */
export function findVarWithLibbpf(name: string, path: string, bases: readonly string[] = []): OracleResult {
  return runHelper(['find-var', name, path, ...bases]);
}

/** `bpftool btf dump file PATH [-B BASE]`; output = the dump text. */
export function bpftoolDump(path: string, base?: string): OracleResult {
  const args = ['btf', 'dump', 'file', path, ...(base !== undefined ? ['-B', base] : [])];
  const r = spawnSync('bpftool', args, { encoding: 'utf8', timeout: 120_000, maxBuffer: 512 << 20 });
  if (r.error !== undefined) return { ok: false, skipReason: `bpftool is not available (${r.error.message}); install bpftool` };
  if (r.status !== 0) return { ok: false, error: `bpftool ${args.join(' ')}: exit ${r.status}: ${r.stderr.trim()}` };
  return { ok: true, output: r.stdout };
}

/** `bpftool btf dump file PATH format c`; output = the C declarations. */
export function bpftoolDumpC(path: string): OracleResult {
  const r = spawnSync('bpftool', ['btf', 'dump', 'file', path, 'format', 'c'], { encoding: 'utf8', timeout: 120_000, maxBuffer: 512 << 20 });
  if (r.error !== undefined) return { ok: false, skipReason: `bpftool is not available (${r.error.message}); install bpftool` };
  if (r.status !== 0) return { ok: false, error: `bpftool btf dump file ${path} format c: exit ${r.status}: ${r.stderr.trim()}` };
  return { ok: true, output: r.stdout };
}

const printed = new Set<string>();

/** Skips the test (printing why, once per reason) on a skip result, fails it on an error; returns the output. */
export function requireOk(ctx: Mocha.Context, r: OracleResult): string {
  if (r.ok) return r.output;
  if ('skipReason' in r) {
    if (!printed.has(r.skipReason)) { process.stderr.write(`skipping: ${r.skipReason}\n`); printed.add(r.skipReason); }
    ctx.skip();
  }
  assert.fail(r.error);
}
