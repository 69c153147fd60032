/**
 * Every CLI command that reads BTF or ELF inputs refuses what is not a regular file (a FIFO,
 * /dev/zero behind a symlink) and oversized inputs with one line naming the file, without
 * reading them. Run as processes with a deadline: a command that blocks on a FIFO fails the
 * test instead of hanging the suite.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBtfBytes } from '../../src/btf/parse.js';
import { BtfError } from '../../src/btf/errors.js';

const CLI = new URL('../../src/cli/btf-extra.js', import.meta.url).pathname;

function run(args: readonly string[]): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 15000 });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

/** A sparse file of `size` bytes whose first bytes are `head` (no disk space used). */
function sparse(path: string, size: number, head: Uint8Array = Buffer.from('this is not a kernel object')): void {
  writeFileSync(path, head);
  const fd = openSync(path, 'r+');
  try { ftruncateSync(fd, size); } finally { closeSync(fd); }
}

/** Bytes this process has read through read(2) so far (Linux /proc/self/io "rchar"). */
function bytesRead(): number {
  const m = /^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
  return Number(m?.[1] ?? NaN);
}

describe('CLI inputs that are not regular files, or too large', function () {
  this.timeout(120000);
  let dir: string;
  const GiB = 1024 ** 3;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'btfx-hostile-'));
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    symlinkSync('/dev/zero', join(dir, 'zero'));
    sparse(join(dir, 'huge'), 2 * GiB + 4096);
    sparse(join(dir, 'almost2g'), Math.floor(1.9e9));
    sparse(join(dir, 'hugebtf'), 600 * 1024 * 1024, Buffer.from([0x9f, 0xeb, 1, 0]));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const commands: readonly [string, (f: string) => string[]][] = [
    ['validate', (f) => ['validate', f]],
    ['dump', (f) => ['dump', f]],
    ['merge', (f) => ['merge', f, '--standalone', '-o', join(dir, 'out')]],
    ['encode', (f) => ['encode', f, '-o', join(dir, 'out')]],
    ['encode --base', (f) => ['encode', '/nonexistent.ko', '--base', f, '-o', join(dir, 'out')]],
    ['vars', (f) => ['vars', f]],
    ['lookup --btf', (f) => ['lookup', 'x', '--btf', f]],
    ['encode --batch', (f) => ['encode', '--batch', f]],
  ];

  for (const [name, argv] of commands) {
    it(`${name}: a FIFO, /dev/zero and a >= 2 GiB non-ELF file each give one line naming the file`, () => {
      for (const [file, why] of [['fifo', /a FIFO, not a regular file/], ['zero', /a character device, not a regular file/], ['huge', /not an ELF file|neither BTF|bad-magic|not an ELF/]] as const) {
        if (name === 'encode --batch' && file === 'huge') continue; // a list file: covered by the size limit below
        const path = join(dir, file);
        const r = run(argv(path));
        assert.notEqual(r.status, null, `${name} ${file}: did not finish in time`);
        assert.notEqual(r.status, 0, `${name} ${file}`);
        const text = (r.stderr + r.stdout).trim();
        const lines = text.split('\n');
        assert.equal(lines.length, 1, `${name} ${file}: ${text}`);
        assert.ok(lines[0]!.includes(path), `${name} ${file}: names the file: ${text}`);
        assert.match(lines[0]!, why, `${name} ${file}`);
        assert.doesNotMatch(text, /RangeError|ERR_FS_FILE_TOO_LARGE|at .*\.js:\d+/, `${name} ${file}`);
      }
    });
  }

  it('a 600 MiB file with the BTF magic is refused as too large for BTF, without reading it', () => {
    const r = run(['validate', join(dir, 'hugebtf')]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /hugebtf: 629145600 bytes, larger than the \d+-byte limit for BTF/);
  });

  it('a 1.9 GB non-ELF file is refused after its header: a few bytes read, not the file', () => {
    const before = bytesRead();
    assert.throws(() => readBtfBytes(join(dir, 'almost2g')), (e: unknown) => e instanceof BtfError && e.code === 'bad-magic' && e.message.includes('almost2g'));
    const read = bytesRead() - before;
    assert.ok(read < 1024 * 1024, `read ${read} bytes of a 1.9 GB file`);
  });
});
