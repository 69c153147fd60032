/**
 * Running the consumer tools (bpftool, pahole, pdwtags, bpftrace, drgn, clang) on published files:
 * a missing tool skips the test with the package to install (printed once), never a silent pass;
 * a row whose intended behaviour waits for another item of the issue is marked pending, with why.
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

/** Skips a test whose intended behaviour another item of issue 11 delivers (the reason names it). */
export function pending(ctx: Mocha.Context, reason: string): void {
  skip(ctx, `pending: ${reason}`);
}

/** Names of the enumerators in a C header (`NAME = value,` lines of bpftool's C dump and ours). */
export function enumerators(header: string): Set<string> {
  return new Set([...header.matchAll(/^\t([A-Za-z_][A-Za-z0-9_]*) = -?\d/gm)].map((m) => m[1]!));
}

/**
 * A row whose intended behaviour another item of issue 11 delivers: `check` runs and, while it
 * fails, the test is pending with `reason` (naming the item) and the failure; once it passes the
 * test fails, asking for the mark to be removed, so the row is never silently left pending.
 */
export function pendingUntil(ctx: Mocha.Context, reason: string, check: () => void): void {
  try {
    check();
  } catch (e) {
    if ((e as object | undefined)?.constructor.name === 'Pending') throw e; // a skip (tool not installed) stays a skip
    pending(ctx, `${reason} (now: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 200)})`);
  }
  throw new Error(`passes now: remove the pending mark (${reason})`);
}
