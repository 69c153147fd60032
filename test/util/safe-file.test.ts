import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRegularFile, readRegularFileSync, SafeFile, SafeFileError, type SafeFileErrorCode } from '../../src/util/safe-file.js';

async function codeOf(f: () => unknown): Promise<SafeFileErrorCode> {
  try { await f(); } catch (e) {
    assert.ok(e instanceof SafeFileError, `expected a SafeFileError, got ${String(e)}`);
    assert.doesNotMatch(e.message, /\n/);
    return e.code;
  }
  throw new Error('no error thrown');
}

describe('util/safe-file', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'btfx-safe-'));
    writeFileSync(join(dir, 'ten'), '0123456789');
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    symlinkSync('/dev/zero', join(dir, 'zero'));
    symlinkSync('ten', join(dir, 'link'));
    symlinkSync('loop', join(dir, 'loop'));
    mkdirSync(join(dir, 'sub'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const big = { maxBytes: 1 << 20 };

  it('reads a regular file whole, sync and async, and through a symlink unless noFollow', async () => {
    assert.equal(readRegularFileSync(join(dir, 'ten'), big).toString(), '0123456789');
    assert.equal((await readRegularFile(join(dir, 'ten'), big)).toString(), '0123456789');
    assert.equal(readRegularFileSync(join(dir, 'link'), big).toString(), '0123456789');
    assert.equal(await codeOf(() => readRegularFileSync(join(dir, 'link'), { ...big, noFollow: true })), 'symlink');
    assert.equal(await codeOf(() => readRegularFile(join(dir, 'link'), { ...big, noFollow: true })), 'symlink');
  });

  it('a FIFO, /dev/zero behind a symlink and a directory are refused without blocking (not-regular)', async () => {
    for (const n of ['fifo', 'zero', 'sub']) {
      assert.equal(await codeOf(() => readRegularFileSync(join(dir, n), big)), 'not-regular', n);
      assert.equal(await codeOf(() => readRegularFile(join(dir, n), big)), 'not-regular', n);
    }
  });

  it('missing, too-large (by size, and when reading /proc past a 0 size), io', async () => {
    assert.equal(await codeOf(() => readRegularFileSync(join(dir, 'nope'), big)), 'missing');
    assert.equal(await codeOf(() => readRegularFile(join(dir, 'nope', 'x'), big)), 'missing');
    assert.equal(await codeOf(() => readRegularFileSync(join(dir, 'ten'), { maxBytes: 9 })), 'too-large');
    assert.equal((readRegularFileSync(join(dir, 'ten'), { maxBytes: 10 })).length, 10);
    // procfs reports size 0: the ceiling holds while reading.
    assert.equal(await codeOf(() => readRegularFileSync('/proc/self/maps', { maxBytes: 16 })), 'too-large');
    assert.equal(await codeOf(() => readRegularFile('/proc/self/maps', { maxBytes: 16 })), 'too-large');
    assert.ok(readRegularFileSync('/proc/self/maps', big).length > 16);
    assert.equal(await codeOf(() => readRegularFileSync(join(dir, 'loop'), big)), 'io');
  });

  it('a procfs file that reports size 0 is read to its end, sync and async (seq_file may read short before it)', async function () {
    if (!existsSync('/proc/kallsyms')) this.skip();
    const want = readFileSync('/proc/kallsyms');
    assert.ok(want.length > 64 * 1024, 'a multi-page procfs file');
    assert.equal(readRegularFileSync('/proc/kallsyms', { maxBytes: 1 << 28 }).length, want.length);
    assert.equal((await readRegularFile('/proc/kallsyms', { maxBytes: 1 << 28 })).length, want.length);
  });

  it('SafeFile.readAt reads a range and stops at the end of the file', () => {
    const f = SafeFile.open(join(dir, 'ten'), big);
    try {
      const buf = new Uint8Array(8);
      assert.equal(f.readAt(buf, 0, 4, 6), 4);
      assert.equal(Buffer.from(buf.subarray(0, 4)).toString(), '6789');
      assert.equal(f.size, 10);
    } finally { f.close(); }
  });
});
