/**
 * "Every error code has a test asserting it" as a check that fails when a code is added to a
 * closed union without one: each code must appear, quoted, on an assertion line (expect...,
 * assert..., `.code`) of the area's test sources. Reads the .ts sources from the repository root.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts')) out.push(readFileSync(p, 'utf8'));
  }
  return out;
}

/** The codes of `codes` that no assertion line under test/`dirs` mentions. */
export function codesWithoutTest(codes: readonly string[], dirs: readonly string[]): string[] {
  const lines = dirs.flatMap((d) => sources(join(repoRoot, 'test', d))).flatMap((text) => text.split('\n'))
    .filter((l) => /expect|assert|\.code\b/.test(l));
  return codes.filter((c) => !lines.some((l) => l.includes(`'${c}'`)));
}
