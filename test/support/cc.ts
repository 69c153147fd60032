/**
 * Builds C fixtures in tests: each source compiled like a kernel module's objects (gcc -g, DWARF 5,
 * -mcmodel=kernel, mcount records for full mode's function list) and linked with `ld -r` (ET_REL
 * with .rela.debug_*), into the run's temp dir. Result: the object's path, or why it cannot be built
 * (no gcc/ld: a skip with that reason, never a silent pass).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { OracleResult } from './kernel-load.js';

export function compileModule(sources: readonly string[], name: string): OracleResult {
  const dir = mkdtempSync(join(tmpdir(), 'btf-extra-cc-'));
  const objects: string[] = [];
  for (const src of sources) {
    const obj = join(dir, `${basename(src, '.c')}.cu.o`);
    const r = spawnSync('gcc', ['-g', '-gdwarf-5', '-O1', '-fno-common', '-fno-pie', '-mcmodel=kernel', '-pg', '-mrecord-mcount', '-c', src, '-o', obj], { encoding: 'utf8' });
    if (r.error !== undefined) return { ok: false, skipReason: `gcc is not available (${r.error.message}); install gcc` };
    if (r.status !== 0) return { ok: false, error: `gcc ${src}: ${r.stderr.trim()}` };
    objects.push(obj);
  }
  const out = join(dir, name);
  const r = spawnSync('ld', ['-r', ...objects, '-o', out], { encoding: 'utf8' });
  if (r.error !== undefined) return { ok: false, skipReason: `ld is not available (${r.error.message}); install binutils` };
  if (r.status !== 0) return { ok: false, error: `ld -r: ${r.stderr.trim()}` };
  return { ok: true, output: out };
}
