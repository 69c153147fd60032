import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcModulesPoller, diffModules } from '../../../src/daemon/watch/poller.js';
import { readLoadedModules } from '../../../src/host/modules.js';
import type { ModuleEvent } from '../../../src/daemon/watch/types.js';

describe('daemon/watch/poller', () => {
  it('diffModules: removes then adds', () => {
    assert.deepEqual(diffModules(new Set(['a', 'b', 'c']), ['c', 'd', 'a']), [{ action: 'remove', name: 'b' }, { action: 'add', name: 'd' }]);
    assert.deepEqual(diffModules(new Set(['a']), ['a']), []);
  });

  it('reports loads and unloads seen in /proc/modules between polls', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'btfx-poll-'));
    const file = join(dir, 'modules');
    writeFileSync(file, 'loop 1 0 - Live 0x0\n');
    const p = new ProcModulesPoller(() => readLoadedModules(file), 60_000);
    const got: ModuleEvent[] = [];
    await p.start(() => {}, () => {});
    writeFileSync(file, 'crc7 1 0 - Live 0x0\ntcp_bbr 1 0 - Loading 0x0\n');
    await p.poll((e) => got.push(e));
    writeFileSync(file, 'crc7 1 0 - Live 0x0\ntcp_bbr 1 0 - Live 0x0\n');
    await p.poll((e) => got.push(e));
    await p.stop();
    assert.deepEqual(got, [{ action: 'remove', name: 'loop' }, { action: 'add', name: 'crc7' }, { action: 'add', name: 'tcp_bbr' }]);
  });

  it('polls on its interval', async () => {
    let n = 0;
    const p = new ProcModulesPoller(async () => (n++ === 0 ? [] : ['x']), 20);
    const got: ModuleEvent[] = [];
    await p.start((e) => got.push(e), () => {});
    for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await p.stop();
    assert.deepEqual(got, [{ action: 'add', name: 'x' }]);
  });
});
