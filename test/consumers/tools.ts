/**
 * Running the consumer tools (bpftool, pahole, pdwtags, bpftrace, drgn, clang) on published files:
 * a missing tool skips the test with the package to install (printed once), never a silent pass.
 */
import { spawnSync } from 'node:child_process';
import { requireOk } from '../support/kernel-load.js';

export interface ToolRun {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Debian package of each tool, for the skip message. */
const PACKAGE: Record<string, string> = {
  bpftool: 'bpftool', pahole: 'dwarves', pdwtags: 'dwarves', bpftrace: 'bpftrace',
  '/usr/bin/python3': 'python3-drgn', clang: 'clang', objcopy: 'binutils',
};

function skip(ctx: Mocha.Context, skipReason: string): never {
  requireOk(ctx, { ok: false, skipReason });
  throw new Error('unreachable: requireOk skips');
}

/** Runs `cmd args` (no shell); skips the test when `cmd` is not installed. */
export function runTool(ctx: Mocha.Context, cmd: string, args: readonly string[], env: Record<string, string> = {}): ToolRun {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000, maxBuffer: 512 << 20, env: { ...process.env, ...env } });
  if (r.error !== undefined) {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') skip(ctx, `${cmd} is not installed (apt-get install ${PACKAGE[cmd] ?? cmd})`);
    throw r.error;
  }
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** The tool's output; fails the test (with its stderr) unless it exited 0. */
export function runOk(ctx: Mocha.Context, cmd: string, args: readonly string[], env: Record<string, string> = {}): string {
  const r = runTool(ctx, cmd, args, env);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.signal ?? `exit ${r.status}`}: ${r.stderr.trim().slice(0, 2000)}`);
  return r.stdout;
}

/** Names of the enumerators in a C header (`NAME = value,` lines of bpftool's C dump and ours). */
export function enumerators(header: string): Set<string> {
  return new Set([...header.matchAll(/^\t([A-Za-z_][A-Za-z0-9_]*) = -?\d/gm)].map((m) => m[1]!));
}

