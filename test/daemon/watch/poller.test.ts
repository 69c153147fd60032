import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcModulesPoller, diffModules } from '../../../src/daemon/watch/poller.js';
import { readLiveModules, readLoadedModules } from '../../../src/host/modules.js';
import type { ModuleEvent } from '../../../src/daemon/watch/types.js';
import { hostPaths } from '../../../src/host/paths.js';
import { fsHostReader } from '../../../src/host/reader.js';

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

  it('malformed /proc/modules lines (at start and later) are skipped with one warning per distinct line; the poller keeps working', async () => {
    const root = mkdtempSync(join(tmpdir(), 'btfx-poll-'));
    const paths = hostPaths(root);
    mkdirSync(join(root, 'proc'));
    const warnings: string[] = [];
    const host = fsHostReader(paths, { warn: (m) => warnings.push(m) });
    writeFileSync(paths.procModules, 'loop 1 0 - Live 0x0\ngarbage\ncrc7 1 0 - Live 0x0\n');
    const p = new ProcModulesPoller(() => host.liveModules(), 60_000);
    const errors: Error[] = [];
    await p.start(() => {}, (e) => errors.push(e));
    const got: ModuleEvent[] = [];
    writeFileSync(paths.procModules, 'garbage\ncrc7 1 0 - Live 0x0\nx y\n');
    await p.poll((e) => got.push(e));
    writeFileSync(paths.procModules, 'garbage\nx y\ntcp_bbr 1 0 - Live 0x0\n');
    await p.poll((e) => got.push(e));
    await p.stop();
    assert.deepEqual(got, [{ action: 'remove', name: 'loop' }, { action: 'remove', name: 'crc7' }, { action: 'add', name: 'tcp_bbr' }]);
    assert.deepEqual(errors, []);
    assert.equal(warnings.length, 2, warnings.join('\n'));
    assert.match(warnings[0]!, /proc\/modules: \+0x14: expected "name size refcount deps state address", got "garbage": line skipped$/);
    assert.match(warnings[1]!, /got "x y": line skipped$/);
    assert.deepEqual(await host.loadedModules(), ['tcp_bbr']);
    assert.equal(warnings.length, 2);
  });

  it('a module reloaded between two polls (new address, or new size when addresses are hidden) is a remove and an add', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'btfx-poll-'));
    const file = join(dir, 'modules');
    const got: ModuleEvent[] = [];
    writeFileSync(file, 'loop 32768 0 - Live 0xffffffffc0a00000\ncrc7 16384 0 - Live 0xffffffffc0b00000\n');
    const p = new ProcModulesPoller(() => readLiveModules(file), 60_000);
    await p.start(() => {}, () => {});
    writeFileSync(file, 'loop 32768 0 - Live 0xffffffffc0c00000\ncrc7 16384 0 - Live 0xffffffffc0b00000\n');
    await p.poll((e) => got.push(e));
    await p.stop();
    assert.deepEqual(got.splice(0), [{ action: 'remove', name: 'loop' }, { action: 'add', name: 'loop' }]);

    // kptr_restrict: every address reads as zero; the size of the new build still differs.
    writeFileSync(file, 'loop 32768 0 - Live 0x0000000000000000\ncrc7 16384 0 - Live 0x0000000000000000\n');
    const q = new ProcModulesPoller(() => readLiveModules(file), 60_000);
    await q.start(() => {}, () => {});
    writeFileSync(file, 'loop 36864 0 - Live 0x0000000000000000\ncrc7 16384 0 - Live 0x0000000000000000\n');
    await q.poll((e) => got.push(e));
    await q.poll((e) => got.push(e));
    await q.stop();
    assert.deepEqual(got, [{ action: 'remove', name: 'loop' }, { action: 'add', name: 'loop' }]);
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
