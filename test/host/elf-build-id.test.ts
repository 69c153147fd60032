import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readElfBuildId } from '../../src/host/elf-build-id.js';
import { HostFormatError } from '../../src/host/errors.js';
import { SafeFileError } from '../../src/util/safe-file.js';
import { fixture } from '../support/paths.js';

describe('host/elf-build-id', () => {
  it('reads the build id of each committed debug module (matches build-ids.tsv)', async () => {
    const tsv = readFileSync(fixture('kernel/build-ids.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
    for (const m of ['cordic', 'crc7', 'loop', 'tcp_bbr']) {
      const row = tsv.find((r) => r[0] === m);
      assert.ok(row);
      assert.equal(await readElfBuildId(fixture(`kernel/debug/${m}.ko`)), row[2]);
    }
  });

  const dir = mkdtempSync(join(tmpdir(), 'btfx-elf-'));
  const code = (c: string) => (e: unknown) => e instanceof HostFormatError && e.code === c;

  it('a FIFO or a link to /dev/zero is refused at once (no thread-pool thread waits on a writer)', async function () {
    this.timeout(5000);
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    symlinkSync('/dev/zero', join(dir, 'zero'));
    // Four FIFOs at once, the size of libuv's default pool: a blocking open would stall them all.
    const fifos = [0, 1, 2, 3].map((i) => { const f = join(dir, `fifo${i}`); execFileSync('mkfifo', [f]); return f; });
    for (const f of [join(dir, 'fifo'), join(dir, 'zero'), ...fifos]) {
      await assert.rejects(readElfBuildId(f), (e: unknown) => e instanceof SafeFileError && e.code === 'not-regular' && e.message.startsWith(f));
    }
    await Promise.all(fifos.map((f) => assert.rejects(readElfBuildId(f))));
  });

  it('rejects non-ELF, 32-bit and truncated files with typed errors', async () => {
    writeFileSync(join(dir, 'text'), 'hello, this is not an ELF file at all, but long enough for a header......');
    await assert.rejects(readElfBuildId(join(dir, 'text')), code('elf-magic'));
    const real = readFileSync(fixture('kernel/debug/cordic.ko'));
    const c32 = Buffer.from(real.subarray(0, 4096)); c32[4] = 1;
    writeFileSync(join(dir, 'elf32'), c32);
    await assert.rejects(readElfBuildId(join(dir, 'elf32')), code('elf-unsupported'));
    writeFileSync(join(dir, 'cut'), real.subarray(0, 4096));
    await assert.rejects(readElfBuildId(join(dir, 'cut')), code('elf-truncated'));
    writeFileSync(join(dir, 'tiny'), real.subarray(0, 30));
    await assert.rejects(readElfBuildId(join(dir, 'tiny')), code('elf-truncated'));
  });
});
