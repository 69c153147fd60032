import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseProcModules, readLoadedModules } from '../../src/host/modules.js';
import { readKernelRelease } from '../../src/host/release.js';
import { HostFormatError } from '../../src/host/errors.js';

const sample = `tcp_bbr 20480 3 - Live 0xffffffffc0a5e000
loop 32768 0 - Loading 0xffffffffc0a00000
crc7 16384 1 btrfs, Live 0xffffffffc09f0000 (E)
`;

describe('host/modules', () => {
  it('parses names, sizes, states and addresses', () => {
    assert.deepEqual(parseProcModules(sample), [
      { name: 'tcp_bbr', size: 20480, state: 'Live', address: '0xffffffffc0a5e000' },
      { name: 'loop', size: 32768, state: 'Loading', address: '0xffffffffc0a00000' },
      { name: 'crc7', size: 16384, state: 'Live', address: '0xffffffffc09f0000' },
    ]);
    assert.equal(parseProcModules('old 1 0 - Live\n')[0]?.address, '');
  });

  it('lists only Live modules from the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'btfx-mod-'));
    writeFileSync(join(dir, 'modules'), sample);
    assert.deepEqual(await readLoadedModules(join(dir, 'modules')), ['tcp_bbr', 'crc7']);
  });

  it('rejects a malformed line with modules-line and its offset', () => {
    assert.throws(() => parseProcModules('ok 1 0 - Live 0x0\nbroken\n', 'pm'),
      (e: unknown) => e instanceof HostFormatError && e.code === 'modules-line' && e.offset === 18 && e.message.startsWith('pm: +0x12: '));
  });

  it('reads the kernel release and rejects an empty one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'btfx-rel-'));
    writeFileSync(join(dir, 'osrelease'), '6.1.0-56-cloud-amd64\n');
    assert.equal(await readKernelRelease(join(dir, 'osrelease')), '6.1.0-56-cloud-amd64');
    writeFileSync(join(dir, 'empty'), '\n');
    await assert.rejects(readKernelRelease(join(dir, 'empty')), (e: unknown) => e instanceof HostFormatError && e.code === 'release-empty');
  });
});
