import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readElfBuildId } from '../../src/host/elf-build-id.js';
import { HostFormatError } from '../../src/host/errors.js';
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
