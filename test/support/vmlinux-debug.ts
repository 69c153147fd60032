import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { haveShared, kernelDir } from './paths.js';

/**
 * The slim vmlinux DWARF from ../shared (226 MB once decompressed), decompressed once per machine
 * into the host's temp dir under a name that carries its sha256 and checked against
 * meta/vmlinux.debug.sha256, so a torn or stale copy is never used. BTF_EXTRA_VMLINUX_DEBUG names
 * an already decompressed copy instead. Undefined when neither is available (callers skip).
 */
export function vmlinuxDebug(): string | undefined {
  const given = process.env['BTF_EXTRA_VMLINUX_DEBUG'];
  if (given !== undefined && existsSync(given)) return given;
  if (!haveShared) return undefined;
  const want = readFileSync(join(kernelDir, 'meta/vmlinux.debug.sha256'), 'utf8').trim().split(/\s+/)[0] ?? '';
  // Outlives the run: the per-run TMPDIR (test/support/run-tmpdir.cjs) is removed at the end.
  const dir = join(process.env['BTF_EXTRA_HOST_TMPDIR'] ?? tmpdir(), 'btf-extra-test');
  const file = join(dir, `vmlinux-${want.slice(0, 16)}.debug`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const r = spawnSync('sh', ['-c', 'xz -dc "$0" > "$1"', join(kernelDir, 'vmlinux.debug.xz'), tmp], { stdio: 'ignore' });
  if (r.status !== 0) { rmSync(tmp, { force: true }); throw new Error('xz -dc vmlinux.debug.xz failed'); }
  const got = sha256File(tmp);
  if (got !== want) { rmSync(tmp, { force: true }); throw new Error(`decompressed vmlinux sha256 ${got}, expected ${want}`); }
  renameSync(tmp, file);
  return file;
}

function sha256File(path: string): string {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 22);
  const fd = openSync(path, 'r');
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) hash.update(buf.subarray(0, n));
  } finally { closeSync(fd); }
  return hash.digest('hex');
}
