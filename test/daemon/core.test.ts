import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ControlError } from '../../src/daemon/control/protocol.js';
import { chokidarWatch } from '../../src/daemon/fswatch.js';
import type { DaemonStatus } from '../../src/daemon/api.js';
import type { ModuleEvent, ModuleWatcher } from '../../src/daemon/watch/types.js';
import { fsHostReader } from '../../src/host/reader.js';
import { FakeClock } from './fake-clock.js';
import { FakeEncoder, newRoot, startDaemon, stateOf, waitFor, writeConfig, type Harness } from './harness.js';

const RUN = 'run/btf-extra';
const exists = (h: Harness, rel: string): boolean => existsSync(join(h.root.dir, RUN, rel));

describe('daemon/core (injected root, fake encoder)', function () {
  this.timeout(20000);
  const started: Harness[] = [];
  afterEach(async () => { for (const h of started.splice(0)) await h.daemon.stop(); });
  const start = async (...a: Parameters<typeof startDaemon>): Promise<Harness> => { const h = await startDaemon(...a); started.push(h); return h; };

  it('policy always: modules loaded before start are encoded and published; vmlinux without debuginfo says what to install', async () => {
    const root = newRoot();
    root.load('loop');
    root.load('crc7');
    const h = await start(root);
    assert.deepEqual(h.encoder.names().sort(), ['crc7.ko', 'loop.ko']);
    const loopCall = h.encoder.calls.find((c) => c.debugFile.endsWith('loop.ko'));
    assert.deepEqual(loopCall?.bases, [root.paths.sysBtf('vmlinux'), root.paths.sysBtf('loop')]);
    assert.equal(loopCall?.vars, 'all');
    assert.equal(stateOf(h.daemon, 'loop'), 'published');
    assert.equal(readFileSync(join(root.dir, RUN, 'btf/loop-btf-extra'), 'utf8'), 'FAKE-EXTRAS loop.ko bases=2 vars=all');
    assert.ok(exists(h, 'btf/loop') && exists(h, 'btf/vmlinux') && exists(h, 'merged/loop'));
    const vm = h.daemon.status().objects.find((o) => o.name === 'vmlinux');
    assert.equal(vm?.state, 'no-debuginfo');
    assert.equal(vm?.hint, 'apt-get install linux-image-6.1.0-56-cloud-amd64-dbg, or set debuginfo.debuginfodUrls');
    assert.equal(vm?.buildId, '3b43fad5034874490492495d552c0af6a5fab235');
    const loop = h.daemon.status().objects.find((o) => o.name === 'loop');
    assert.equal(loop?.source, 'encoder');
    assert.equal(loop?.vars, 3);
    assert.equal(loop?.buildId, '88465abd0d48756ce17aea6e15c1c03a65059850');
    assert.equal(loop?.debuginfo, '/usr/lib/debug/lib/modules/6.1.0-56-cloud-amd64/kernel/drivers/block/loop.ko');
    assert.ok(h.logLines.some((l) => /loop: publish \(encoded from .*loop\.ko, 3 vars\) \d+ ms/.test(l)), h.logLines.join('\n'));
    await waitFor('status.json', () => (JSON.parse(readFileSync(join(root.dir, RUN, 'status.json'), 'utf8')) as DaemonStatus).objects.length === 3);
    await waitFor('merged/kernel', () => exists(h, 'merged/kernel'));
  });

  it('startup: the monitor starts before /proc/modules is listed, so a load in between is not lost', async () => {
    const root = newRoot();
    root.load('loop');
    const order: string[] = [];
    const host = fsHostReader(root.paths);
    const recordingHost = { ...host, paths: host.paths, loadedModules: async () => { order.push('list'); return host.loadedModules(); } };
    let emit: ((e: ModuleEvent) => void) | undefined;
    // A module loads while the monitor is already listening, before the daemon lists /proc/modules;
    // its uevent is held back until after the listing (as a busy kernel may deliver it late).
    const watcher: ModuleWatcher = {
      kind: 'test',
      start: async (onEvent) => { order.push('monitor'); emit = onEvent; root.load('crc7'); },
      stop: async () => {},
    };
    const h = await start(root, { host: recordingHost, watchers: () => [watcher] });
    assert.equal(order[0], 'monitor', `order: ${order.join(', ')}`);
    assert.ok(order.includes('list'));
    assert.equal(stateOf(h.daemon, 'crc7'), 'published');
    assert.equal(stateOf(h.daemon, 'loop'), 'published');
    // The late event changes nothing (already published, not encoded twice).
    emit?.({ action: 'add', name: 'crc7' });
    await h.daemon.settle();
    assert.deepEqual(h.encoder.names().sort(), ['crc7.ko', 'loop.ko']);
  });

  it('startup: a module loaded after the listing (seen only by its uevent) is published too', async () => {
    const root = newRoot();
    let emit: ((e: ModuleEvent) => void) | undefined;
    const watcher: ModuleWatcher = { kind: 'test', start: async (onEvent) => { emit = onEvent; }, stop: async () => {} };
    const h = await start(root, { watchers: () => [watcher] });
    root.load('tcp_bbr');
    emit?.({ action: 'add', name: 'tcp_bbr' });
    await waitFor('tcp_bbr published', () => stateOf(h.daemon, 'tcp_bbr') === 'published');
  });

  it('jobs.concurrency bounds the encoders running at once; time and memory limits reach each job', async () => {
    for (const concurrency of [1, 2]) {
      const root = newRoot();
      for (const m of ['loop', 'crc7', 'cordic', 'tcp_bbr']) root.load(m);
      const enc = new FakeEncoder();
      enc.delayMs = 60;
      const h = await start(root, { encoder: enc, config: { jobs: { concurrency, timeoutSeconds: 7, memoryMB: 300 } } });
      assert.equal(enc.calls.length, 4);
      assert.equal(enc.maxInFlight, concurrency);
      assert.ok(enc.calls.every((c) => c.timeoutMs === 7000 && c.memoryMB === 300));
      assert.deepEqual(['loop', 'crc7', 'cordic', 'tcp_bbr'].map((m) => stateOf(h.daemon, m)), ['published', 'published', 'published', 'published']);
    }
  });

  it('under uevents, a periodic resync from /proc/modules catches loads and unloads whose events were lost', async () => {
    const root = newRoot();
    root.load('loop');
    // A uevent watcher that never reports anything (as after a netlink buffer overrun).
    const deaf: ModuleWatcher = { kind: 'uevent', start: async () => {}, stop: async () => {} };
    const h = await start(root, { watchers: () => [deaf], ueventResyncMs: 100 });
    root.load('crc7');
    root.unload('loop');
    await waitFor('crc7 published by the resync', () => stateOf(h.daemon, 'crc7') === 'published');
    await waitFor('loop forgotten by the resync', () => stateOf(h.daemon, 'loop') === undefined);
    assert.ok(!exists(h, 'btf/loop-btf-extra'));
    assert.ok(h.logLines.some((l) => /resync: 2 module load\(s\)\/unload\(s\) found in \/proc\/modules before their uevent/.test(l)), h.logLines.join('\n'));
  });

  it('tells systemd READY with state counts, then STATUS updates', async () => {
    const root = newRoot();
    root.load('loop');
    const calls: string[] = [];
    const h = await start(root, { notifier: { ready: (st) => calls.push(`ready ${st}`), status: (st) => calls.push(`status ${st}`), stopping: () => calls.push('stopping'), stop: () => {} } });
    assert.ok(calls.some((c) => /^ready (1 no-debuginfo, 1 (queued|generating|published)|1 no-debuginfo, 1 published)/.test(c)), calls.join('\n'));
    await waitFor('status with published', () => calls.some((c) => c === 'status 1 no-debuginfo, 1 published'));
    await h.daemon.stop();
    assert.ok(calls.includes('stopping'));
  });

  it('a load after start (uevent) is published; unload removes every entry and updates merged/kernel', async () => {
    const root = newRoot();
    const h = await start(root);
    root.load('tcp_bbr');
    await waitFor('tcp_bbr published', () => stateOf(h.daemon, 'tcp_bbr') === 'published');
    assert.ok(exists(h, 'btf/tcp_bbr-btf-extra'));
    await waitFor('kernel view with tcp_bbr', () => exists(h, 'merged/kernel') && readFileSync(join(root.dir, RUN, 'merged/kernel'), 'utf8').endsWith(' 1'));
    root.unload('tcp_bbr');
    await waitFor('tcp_bbr gone', () => stateOf(h.daemon, 'tcp_bbr') === undefined);
    assert.deepEqual(readdirSync(join(root.dir, RUN, 'btf')).sort(), ['vmlinux']);
    assert.ok(!exists(h, 'merged/tcp_bbr'));
    // vmlinux alone: the view is vmlinux's own BTF, copied.
    await waitFor('kernel view without tcp_bbr', () => readFileSync(join(root.dir, RUN, 'merged/kernel')).equals(readFileSync(join(root.dir, RUN, 'btf/vmlinux'))));
    assert.ok(h.logLines.some((l) => l.includes('tcp_bbr: unpublish (unloaded)')));
  });

  it('restart is served from the cache without encoding; a corrupt entry is discarded and regenerated', async () => {
    const root = newRoot();
    root.load('loop');
    root.load('cordic');
    const first = await start(root);
    assert.equal(first.encoder.calls.length, 2);
    await first.daemon.stop();
    started.splice(0);

    const second = await start(root);
    assert.equal(second.encoder.calls.length, 0);
    assert.equal(second.daemon.status().objects.find((o) => o.name === 'loop')?.source, 'cache');
    assert.equal(second.daemon.stats.cacheHits, 2);
    await second.daemon.stop();
    started.splice(0);

    // corrupt loop's entry
    const cacheDir = join(root.dir, 'var/cache/btf-extra/extras/6.1.0-56-cloud-amd64/loop');
    const [entry] = readdirSync(cacheDir);
    assert.ok(entry);
    const f = join(cacheDir, entry);
    const bytes = readFileSync(f);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0x55, bytes.length - 1);
    writeFileSync(f, bytes);
    const third = await start(root);
    assert.deepEqual(third.encoder.names(), ['loop.ko']);
    assert.equal(third.daemon.stats.cacheCorrupt, 1);
    assert.equal(stateOf(third.daemon, 'loop'), 'published');
    assert.ok(third.logLines.some((l) => /loop: discard cache entry \(payload sha256.*\[cache-invalid\]/.test(l)), third.logLines.join('\n'));
    assert.equal(third.daemon.status().objects.find((o) => o.name === 'loop')?.code, 'cache-invalid');
  });

  it('a different encoder version or vars setting misses the cache', async () => {
    const root = newRoot();
    root.load('crc7');
    await (await start(root)).daemon.stop();
    started.splice(0);
    const h = await start(root, { encoderVersion: 'enc-2' });
    assert.deepEqual(h.encoder.names(), ['crc7.ko']);
    await h.daemon.stop();
    started.splice(0);
    const h2 = await start(root, { encoderVersion: 'enc-2', config: { vars: 'percpu' } });
    assert.deepEqual(h2.encoder.calls.map((c) => c.vars), ['percpu']);
  });

  it('debuginfo with the wrong build id is refused (no-debuginfo, reason names both ids)', async () => {
    const root = newRoot();
    root.load('loop', { buildId: '00112233445566778899aabbccddeeff00112233' });
    const h = await start(root);
    assert.equal(h.encoder.calls.length, 0);
    const s = h.daemon.status().objects.find((o) => o.name === 'loop');
    assert.equal(s?.state, 'no-debuginfo');
    assert.equal(s?.code, 'build-id-mismatch');
    assert.match(s?.reason ?? '', /loop\.ko has build id 88465abd0d48756ce17aea6e15c1c03a65059850, loaded loop has 00112233445566778899aabbccddeeff00112233/);
    assert.ok(!exists(h, 'btf/loop-btf-extra'));
  });

  it('missing debuginfo -> no-debuginfo with the package to install; it appearing later (chokidar) -> published', async () => {
    const root = newRoot();
    root.load('cordic', { debug: false });
    const h = await start(root, { fileWatch: chokidarWatch });
    const s = h.daemon.status().objects.find((o) => o.name === 'cordic');
    assert.equal(s?.state, 'no-debuginfo');
    assert.equal(s?.hint, 'apt-get install linux-image-6.1.0-56-cloud-amd64-dbg, or set debuginfo.debuginfodUrls');
    assert.match(s?.reason ?? '', /no debuginfo for cordic/);
    assert.equal(s?.code, 'no-debuginfo');
    await new Promise((r) => setTimeout(r, 300)); // chokidar ready
    root.installDebug('cordic');
    await waitFor('cordic published after debuginfo appeared', () => stateOf(h.daemon, 'cordic') === 'published', 10000);
  });

  it('a module replaced in place (new build id, events coalesced): btf/ mirrors the new BTF at once, old extras gone until the new ones', async () => {
    const root = newRoot();
    root.load('loop');
    const enc = new FakeEncoder();
    const h = await start(root, { encoder: enc });
    assert.equal(stateOf(h.daemon, 'loop'), 'published');
    // The "new build" of loop: other BTF bytes and build id, its debug file in .build-id/.
    const crc7 = root.module('crc7');
    root.installDebug('crc7', `usr/lib/debug/.build-id/${crc7.buildId.slice(0, 2)}/${crc7.buildId.slice(2)}.debug`);
    enc.delayMs = 400;
    const newBtf = readFileSync(crc7.btfFile);
    root.loadRaw('loop', newBtf, crc7.buildId, { feed: false });
    root.feed('remove', 'loop');
    root.feed('add', 'loop');
    await waitFor('loop regenerating', () => ['queued', 'generating'].includes(stateOf(h.daemon, 'loop') ?? ''));
    assert.deepEqual(readFileSync(join(root.dir, RUN, 'btf/loop')), newBtf, 'the mirror shows the loaded BTF');
    assert.ok(!exists(h, 'btf/loop-btf-extra') && !exists(h, 'merged/loop'), 'no extras of the old build beside the new BTF');
    await waitFor('loop published again', () => stateOf(h.daemon, 'loop') === 'published');
    assert.ok(exists(h, 'btf/loop-btf-extra'));
    assert.equal(h.daemon.status().objects.find((o) => o.name === 'loop')?.buildId, crc7.buildId);
  });

  it('finds debuginfo in the Fedora layout and in .build-id/', async () => {
    const root = newRoot();
    root.load('crc7', { debugPath: 'usr/lib/debug/lib/modules/6.1.0-56-cloud-amd64/kernel/lib/crc7.ko.debug' });
    root.load('cordic', { debugPath: 'usr/lib/debug/.build-id/ed/8f64923bd1529aabe8fc15f5b9b7ba24f0b289.debug' });
    const h = await start(root);
    assert.deepEqual(h.encoder.names().sort(), ['8f64923bd1529aabe8fc15f5b9b7ba24f0b289.debug', 'crc7.ko.debug']);
  });

  it('policy never -> nothing; on-demand -> only after regen or lookup', async () => {
    const root = newRoot();
    writeConfig(root, 'policy:\n  default: never\n  rules:\n    - { match: "crc*", policy: on-demand }\n    - { match: "cordic", policy: on-demand }\n');
    root.load('loop');
    root.load('crc7');
    root.load('cordic');
    const found: string[] = [];
    const h = await start(root, { variableFinder: { find: (v, chains) => { found.push(...chains.filter((c) => c.extras).map((c) => c.name)); return [{ variable: v, object: 'cordic', cType: 'int', section: '.data', offset: 0, size: 4, linkage: 'static', btfId: 1 }]; } } });
    assert.equal(h.encoder.calls.length, 0);
    assert.equal(stateOf(h.daemon, 'loop'), 'skipped');
    assert.equal(h.daemon.status().objects.find((o) => o.name === 'loop')?.reason, 'policy never');
    assert.equal(h.daemon.status().objects.find((o) => o.name === 'crc7')?.reason, 'policy on-demand: not requested yet');
    assert.ok(!exists(h, 'btf/loop-btf-extra') && exists(h, 'btf/loop'));

    const res = await h.daemon.regen({ names: ['crc7'] });
    assert.deepEqual(res.map((o) => [o.name, o.state]), [['crc7', 'published']]);
    assert.deepEqual(h.encoder.names(), ['crc7.ko']);

    const hits = await h.daemon.lookup('some_var');
    assert.equal(hits.length, 1);
    assert.deepEqual(h.encoder.names().sort(), ['cordic.ko', 'crc7.ko']);
    assert.deepEqual(found.sort(), ['cordic', 'crc7']);
    assert.equal(stateOf(h.daemon, 'loop'), 'skipped');

    await assert.rejects(h.daemon.regen({ names: ['loop'] }), (e: unknown) => e instanceof ControlError && e.code === 'bad-request' && /policy never/.test(e.message));
    await assert.rejects(h.daemon.regen({ names: ['xfs'] }), (e: unknown) => e instanceof ControlError && e.code === 'bad-request' && /not loaded: xfs/.test(e.message));
  });

  it('regen bypasses the cache', async () => {
    const root = newRoot();
    root.load('loop');
    const h = await start(root);
    assert.equal(h.encoder.calls.length, 1);
    const res = await h.daemon.regen({ all: true });
    assert.equal(h.encoder.calls.length, 2);
    assert.deepEqual(res.map((o) => o.name).sort(), ['loop', 'vmlinux']);
  });

  it('kernel-provided extras are used as they are (both layouts), nothing generated', async () => {
    const root = newRoot();
    root.load('loop');
    root.load('crc7');
    mkdirSync(join(root.dir, 'sys/kernel/btf_extra'), { recursive: true });
    writeFileSync(root.paths.sysBtfExtra('loop'), 'KERNEL-EXTRAS loop');
    writeFileSync(root.paths.sysBtfCompanion('crc7'), 'KERNEL-EXTRAS crc7');
    const h = await start(root);
    assert.equal(h.encoder.calls.length, 0);
    assert.equal(stateOf(h.daemon, 'loop'), 'kernel-provided');
    assert.equal(stateOf(h.daemon, 'crc7'), 'kernel-provided');
    assert.equal(readFileSync(join(root.dir, RUN, 'btf/loop-btf-extra'), 'utf8'), 'KERNEL-EXTRAS loop');
  });

  it('a companion module in the tree: softdeps written, modprobe tried; success -> companion-loaded, failure -> generated', async () => {
    const root = newRoot();
    root.addCompanionModule('loop');
    root.addCompanionModule('crc7');
    root.load('loop');
    root.load('crc7');
    const h = await start(root, {
      modprobe: async (m) => {
        if (m !== 'loop-btf-extra') throw new Error(`modprobe: FATAL: Module ${m} not found`);
        root.loadCompanion('loop', Buffer.from('FAKE-EXTRAS companion'));
      },
    });
    await h.daemon.settle();
    assert.equal(stateOf(h.daemon, 'loop'), 'companion-loaded');
    assert.equal(h.daemon.status().objects.find((o) => o.name === 'loop')?.source, 'companion-module');
    assert.equal(stateOf(h.daemon, 'crc7'), 'published');
    assert.deepEqual(h.encoder.names(), ['crc7.ko']);
    assert.equal(readFileSync(root.paths.softdepFile, 'utf8').split('\n').filter((l) => l.startsWith('softdep')).join('|'), 'softdep crc7 post: crc7-btf-extra|softdep loop post: loop-btf-extra');
    assert.ok(!h.daemon.status().objects.some((o) => o.name === 'loop_btf_extra'), 'never reacts to its own companions');
  });

  it('a hostile module name in /proc/modules is ignored with one warning, never joined into a path', async () => {
    const root = newRoot();
    root.load('loop');
    writeFileSync(root.paths.procModules, `${readFileSync(root.paths.procModules, 'utf8')}../../etc 4096 0 - Live 0x0\n`);
    const h = await start(root);
    assert.deepEqual(h.daemon.status().objects.map((o) => o.name).sort(), ['loop', 'vmlinux']);
    assert.equal(h.logLines.filter((l) => l.includes('ignoring a module with an impossible name: ../../etc')).length, 1);
  });

  it('an encoder failure is state failed with the encoder\'s reason and is not retried in a loop', async () => {
    const root = newRoot();
    const enc = new FakeEncoder();
    enc.failFor.add('tcp_bbr');
    root.load('tcp_bbr');
    const h = await start(root, { encoder: enc });
    const s = h.daemon.status().objects.find((o) => o.name === 'tcp_bbr');
    assert.equal(s?.state, 'failed');
    assert.equal(s?.reason, 'tcp_bbr.ko: .debug_info +0x10: bad DWARF');
    assert.equal(s?.code, 'invalid-dwarf');
    await waitFor('status.json with the code', () => (JSON.parse(readFileSync(join(root.dir, RUN, 'status.json'), 'utf8')) as DaemonStatus).objects.some((o) => o.name === 'tcp_bbr' && o.code === 'invalid-dwarf'));
    root.load('loop');
    await waitFor('loop', () => stateOf(h.daemon, 'loop') === 'published').catch((e: unknown) => { throw new Error(`${String(e)}\n${h.logLines.join('\n')}`); });
    assert.equal(enc.calls.filter((c) => c.debugFile.endsWith('tcp_bbr.ko')).length, 1);
  });

  it('reload: an invalid config is refused and the old one kept; a valid one applies (always -> never)', async () => {
    const root = newRoot();
    root.load('loop');
    const h = await start(root);
    writeConfig(root, 'policy: { default: sometimes }\n');
    await assert.rejects(h.daemon.reload(), (e: unknown) => e instanceof ControlError && e.code === 'reload-failed' && /policy\.default/.test(e.message));
    assert.equal(h.daemon.currentConfig.policy.default, 'always');
    writeConfig(root, 'policy: { default: never }\n');
    await h.daemon.reload();
    assert.equal(stateOf(h.daemon, 'loop'), 'skipped');
    assert.ok(!exists(h, 'btf/loop-btf-extra'));
  });

  it('the config file changing on disk is picked up (chokidar)', async () => {
    const root = newRoot();
    root.load('loop');
    writeConfig(root, 'vars: all\n');
    const h = await start(root, { fileWatch: chokidarWatch });
    await new Promise((r) => setTimeout(r, 300));
    writeConfig(root, 'policy: { default: never }\n');
    await waitFor('loop skipped after config change', () => stateOf(h.daemon, 'loop') === 'skipped', 10000);
    // Editors and configuration tools replace the file by rename: that is seen too, more than once.
    for (const policy of ['always', 'never']) {
      const tmp = `${root.paths.defaultConfigFile}.new`;
      writeFileSync(tmp, `policy: { default: ${policy} }\n`);
      renameSync(tmp, root.paths.defaultConfigFile);
      await waitFor(`loop ${policy} after a rename`, () => (stateOf(h.daemon, 'loop') === 'skipped') === (policy === 'never'), 10000);
    }
  });

  it('stop during generation abandons the job: no temp files, no half-published extras', async () => {
    const root = newRoot();
    const enc = new FakeEncoder();
    enc.delayMs = 5000;
    root.load('loop');
    const h = await startDaemon(root, { encoder: enc }, { settle: false });
    await waitFor('generating', () => stateOf(h.daemon, 'loop') === 'generating');
    const t0 = Date.now();
    await h.daemon.stop();
    assert.ok(Date.now() - t0 < 2000);
    assert.ok(!exists(h, 'btf/loop-btf-extra'));
    assert.ok(!existsSync(join(root.dir, 'var/cache/btf-extra/tmp')));
  });

  it('unloading a module while it is being generated cancels the job', async () => {
    const root = newRoot();
    const enc = new FakeEncoder();
    enc.delayMs = 5000;
    const h = await start(root, { encoder: enc });
    root.load('loop');
    await waitFor('generating', () => stateOf(h.daemon, 'loop') === 'generating');
    root.unload('loop');
    await waitFor('forgotten', () => stateOf(h.daemon, 'loop') === undefined);
    await h.daemon.settle();
    assert.ok(!exists(h, 'btf/loop-btf-extra'));
    assert.ok(!exists(h, 'btf/loop'));
  });

  it('merged/kernel under constant activity is rebuilt at most kernelMaxStaleMs after the first change (fake clock)', async () => {
    const root = newRoot();
    const clock = new FakeClock();
    const h = await start(root, { clock, kernelRebuildDelayMs: 500, kernelMaxStaleMs: 10_000 });
    await clock.advance(600);
    const quiet = h.daemon.stats.kernelRebuilds;
    assert.equal(quiet, 1, 'rebuilt once things were quiet for the debounce');
    const btf = readFileSync(root.module('loop').btfFile);
    // A change every 300 ms, less than the debounce, for 15 s.
    let firstAt: number | undefined;
    for (let i = 0; i < 50 && firstAt === undefined; i++) {
      const name = `churn_${i}`;
      root.loadRaw(name, btf, randomBytes(20).toString('hex'));
      await waitFor(`${name} handled`, () => stateOf(h.daemon, name) === 'no-debuginfo');
      await clock.advance(300);
      if (h.daemon.stats.kernelRebuilds > quiet) firstAt = (i + 1) * 300;
    }
    assert.ok(firstAt !== undefined && firstAt <= 10_000 + 300, `first rebuild under churn after ${firstAt ?? 'never'} ms`);
  });

  it('a failing module watcher is restarted with a doubling backoff, not replaced for good (fake clock)', async () => {
    const root = newRoot();
    const clock = new FakeClock();
    const starts: number[] = [];
    let fail: (() => void) | undefined;
    const watcher = (): ModuleWatcher => ({
      kind: 'poll',
      start: async (_onEvent, onError) => { starts.push(clock.now()); fail = () => onError(new Error('malformed /proc/modules line')); },
      stop: async () => {},
    });
    const h = await start(root, { clock, watchers: () => [watcher()] });
    assert.equal(starts.length, 1);
    fail?.();
    await clock.advance(999);
    assert.equal(starts.length, 1);
    await clock.advance(1);
    assert.equal(starts.length, 2, 'restarted after 1 s');
    fail?.();
    await clock.advance(1999);
    assert.equal(starts.length, 2);
    await clock.advance(1);
    assert.equal(starts.length, 3, 'restarted after 2 s (doubled)');
    assert.ok(h.logLines.some((l) => /module watcher poll failed: malformed \/proc\/modules line; restarting it in 2 s/.test(l)), h.logLines.join('\n'));
    // After a quiet minute a new failure starts again from 1 s.
    await clock.advance(61_000);
    fail?.();
    await clock.advance(1000);
    assert.equal(starts.length, 4, 'a quiet minute resets the backoff to 1 s');
  });
});
