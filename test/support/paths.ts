import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** Tests run from the repository root (mocha's cwd), whether compiled to dist/ or elsewhere. */
export const repoRoot = process.cwd();
export const fixturesDir = resolve(repoRoot, 'test/fixtures');
export function fixture(...parts: string[]): string { return resolve(fixturesDir, ...parts); }

/** The team's shared data (read-only in CI, absent on users' machines). Override with BTF_EXTRA_SHARED. */
export const sharedDir = resolve(process.env['BTF_EXTRA_SHARED'] ?? resolve(repoRoot, '../shared'));
export const kernelDir = resolve(sharedDir, 'kernel/debian-6.1.0-56-cloud-amd64');
export const haveShared = existsSync(resolve(kernelDir, 'btf/vmlinux'));

/**
 * Call at the top of a `describe` body's `before` (or inside `it`) to skip, with a reason
 * printed once, when ../shared is absent.
 */
export function requireShared(ctx: Mocha.Context): void {
  if (!haveShared) {
    if (!warned) { process.stderr.write(`skipping tests that need ${kernelDir} (not present)\n`); warned = true; }
    ctx.skip();
  }
}
let warned = false;
