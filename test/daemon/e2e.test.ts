/**
 * End to end on injected roots with the REAL edges (createDaemon from the entry point: the
 * `btf-extra encode` CLI in child processes, the BTF library for checks and merged views, the
 * lookup module), the kernel's tools as oracles (bpftool, BPF_BTF_LOAD via libbpf).
 */
import { strict as assert } from 'node:assert';
import { spawnSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, copyFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { get } from 'node:http';
import { createDaemon } from '../../src/cli/btf-extrad.js';
import type { Daemon } from '../../src/daemon/core.js';
import type { DaemonStatus } from '../../src/daemon/api.js';
import { createLogger, memoryStream } from '../../src/daemon/logger.js';
import { InjectedRoot, committedFixtures, sharedFixtures } from '../../src/demo/root.js';
import { readBtfChain } from '../../src/btf/parse.js';
import { validateBtf, formatProblem } from '../../src/btf/validate.js';
import { KIND } from '../../src/btf/kinds.js';
import { bpftoolDump, loadIntoKernel, requireOk } from '../support/kernel-load.js';
import { kernelDir, requireShared } from '../support/paths.js';
import { vmlinuxDebug } from '../support/vmlinux-debug.js';
import { waitFor } from './harness.js';

const RUN = 'run/btf-extra';

async function realDaemon(root: InjectedRoot, lines?: string[]): Promise<Daemon> {
  const mem = memoryStream();
  const d = await createDaemon({ root: root.dir, logger: createLogger('human', { stream: mem.stream, level: 'debug' }), ueventStream: root.uevents, fileWatch: false, env: {} });
  if (lines) mem.stream.on('finish', () => {});
  if (lines) lines.push(...mem.lines);
  await d.start();
  await d.settle();
  return d;
}

function state(d: Daemon, n: string): DaemonStatus['objects'][number] | undefined {
  return d.status().objects.find((o) => o.name === n);
}

function checkChain(root: InjectedRoot, name: string): number {
  const btf = join(root.dir, RUN, 'btf');
  const top = readBtfChain([join(btf, 'vmlinux'), join(btf, name), join(btf, `${name}-btf-extra`)]);
  const problems = validateBtf(top);
  assert.deepEqual(problems.map(formatProblem), [], `${name}: 3-level chain validates`);
  return top.types.filter((t) => t.kind === KIND.VAR).length;
}

describe('daemon end to end (real encoder CLI, committed fixtures)', function () {
  this.timeout(180_000);
  let root: InjectedRoot;
  let daemon: Daemon | undefined;
  after(async () => { await daemon?.stop(); });

  before(async () => {
    root = InjectedRoot.create(mkdtempSync(join(tmpdir(), 'btfx-e2e-')), committedFixtures());
    for (const m of ['loop', 'crc7', 'cordic', 'tcp_bbr', 'virtio_net']) root.load(m);
    daemon = await realDaemon(root);
  });

  it('load 4 modules with debuginfo -> 4 extras published, each 3-level chain valid', () => {
    assert.ok(daemon);
    for (const m of ['loop', 'crc7', 'cordic', 'tcp_bbr']) {
      const s = state(daemon, m);
      assert.equal(s?.state, 'published', `${m}: ${s?.reason ?? ''}`);
      assert.equal(s?.source, 'encoder');
      const vars = checkChain(root, m);
      assert.equal(vars, s?.vars);
      assert.ok(vars > 0, `${m} has variables`);
    }
  });

  it('a module without debuginfo is no-debuginfo with the Debian package to install', () => {
    const s = state(daemon!, 'virtio_net');
    assert.equal(s?.state, 'no-debuginfo');
    assert.match(s?.hint ?? '', /^apt-get install linux-image-6\.1\.0-56-cloud-amd64-dbg/);
    assert.ok(!existsSync(join(root.dir, RUN, 'btf/virtio_net-btf-extra')));
    assert.ok(existsSync(join(root.dir, RUN, 'btf/virtio_net')), 'mirror still has the object');
  });

  it('merged/<module> passes bpftool btf dump -B vmlinux and lists the new variables', function () {
    const out = requireOk(this, bpftoolDump(join(root.dir, RUN, 'merged/loop'), join(root.dir, RUN, 'btf/vmlinux')));
    assert.match(out, /\] VAR 'max_loop' type_id=\d+, linkage=static/);
  });

  it('merged/vmlinux is absent (no vmlinux debuginfo), merged/kernel passes bpftool and loads into the kernel', async function () {
    await daemon!.rebuildKernelNow();
    const k = join(root.dir, RUN, 'merged/kernel');
    const out = requireOk(this, bpftoolDump(k));
    assert.match(out, /VAR 'max_loop'/);
    requireOk(this, loadIntoKernel(k));
  });

  it('lookup finds a module variable with its C type, section and offset', async () => {
    const hits = await daemon!.lookup('max_loop');
    assert.equal(hits.length, 1);
    assert.equal(hits[0]?.object, 'loop');
    assert.equal(hits[0]?.cType, 'int');
    assert.equal(hits[0]?.linkage, 'static');
    assert.ok(hits[0]?.section.startsWith('.'));
  });

  it('unload -> entries gone and merged/kernel rebuilt without them', async () => {
    root.unload('tcp_bbr');
    await waitFor('tcp_bbr forgotten', () => state(daemon!, 'tcp_bbr') === undefined);
    assert.ok(!readdirSync(join(root.dir, RUN, 'btf')).some((f) => f.startsWith('tcp_bbr')));
    assert.ok(!existsSync(join(root.dir, RUN, 'merged/tcp_bbr')));
    await daemon!.rebuildKernelNow();
    const out = bpftoolDump(join(root.dir, RUN, 'merged/kernel'));
    if (out.ok) assert.doesNotMatch(out.output, /VAR 'bbr_/);
  });

  it('restart -> served from the cache, no encoder run', async () => {
    await daemon!.stop();
    daemon = await realDaemon(root);
    assert.equal(daemon.stats.encodes, 0);
    for (const m of ['loop', 'crc7', 'cordic']) assert.equal(state(daemon, m)?.source, 'cache', m);
  });

  it('`btf-extrad --root R --once` as a process reconciles, writes status.json and exits 0', () => {
    const r2 = InjectedRoot.create(mkdtempSync(join(tmpdir(), 'btfx-once-')), committedFixtures());
    r2.load('cordic');
    const cli = new URL('../../src/cli/btf-extrad.js', import.meta.url).pathname;
    const res = spawnSync(process.execPath, [cli, '--root', r2.dir, '--once'], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, JOURNAL_STREAM: '1:1' } });
    assert.equal(res.status, 0, res.stderr + res.stdout);
    assert.match(res.stdout, /^<6>cordic: publish \(encoded from /m);
    const st = JSON.parse(readFileSync(join(r2.dir, RUN, 'status.json'), 'utf8')) as DaemonStatus;
    assert.equal(st.objects.find((o) => o.name === 'cordic')?.state, 'published');
    assert.ok(existsSync(join(r2.dir, RUN, 'merged/kernel')));
  });

  it('`btf-extrad --config` with an invalid file exits 1 with the one-line reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'btfx-badcfg-'));
    writeFileSync(join(dir, 'c.yaml'), 'jobs: { concurrency: 0 }\n');
    const cli = new URL('../../src/cli/btf-extrad.js', import.meta.url).pathname;
    const res = spawnSync(process.execPath, [cli, '--root', dir, '--config', join(dir, 'c.yaml'), '--once'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(res.status, 1);
    assert.match(res.stdout, /cannot start: .*c\.yaml: jobs\.concurrency: expected an integer in \[1, 64\], got 0/);
  });
});

describe('daemon end to end with debuginfod (real server on loopback)', function () {
  this.timeout(120_000);
  let server: ChildProcess | undefined;
  after(() => { if (server?.pid !== undefined) server.kill('SIGTERM'); });

  it('finds debuginfo through debuginfod when no local file exists', async function () {
    if (spawnSync('debuginfod', ['--version']).error) this.skip();
    const srvDir = mkdtempSync(join(tmpdir(), 'btfx-dind-'));
    mkdirSync(join(srvDir, 'files'));
    copyFileSync(committedFixtures().modules.get('crc7')?.debugFile ?? '', join(srvDir, 'files/crc7.ko'));
    const port = await freePort();
    server = spawn('debuginfod', ['-F', '-p', String(port), '-d', join(srvDir, 'db.sqlite'), '-t', '0', '-g', '0', join(srvDir, 'files')], { stdio: 'ignore' });
    const url = `http://127.0.0.1:${port}`;
    const id = 'bfeea47885c0746aaa9199bd2524fdb367c79a2c';
    await waitUntil(async () => (await httpStatus(`${url}/buildid/${id}/debuginfo`)) === 200, 60_000);

    const root = InjectedRoot.create(mkdtempSync(join(tmpdir(), 'btfx-e2e-dind-')), committedFixtures());
    mkdirSync(join(root.dir, 'etc/btf-extra'), { recursive: true });
    writeFileSync(root.paths.defaultConfigFile, `debuginfo:\n  debuginfodUrls: ["${url}"]\n`);
    root.load('crc7', { debug: false });
    const d = await realDaemon(root);
    try {
      const s = state(d, 'crc7');
      assert.equal(s?.state, 'published', s?.reason);
      assert.match(s?.debuginfo ?? '', /debuginfod\/bfeea47885c0746aaa9199bd2524fdb367c79a2c\/debuginfo$/);
      checkChain(root, 'crc7');
    } finally {
      await d.stop();
    }
  });
});

describe('daemon end to end on the 11 real debug modules (shared)', function () {
  this.timeout(600_000);
  const MODULES = ['btrfs', 'cordic', 'crc7', 'kvm', 'kvm_intel', 'loop', 'nf_conntrack', 'nf_tables', 'tcp_bbr', 'virtio_net', 'xfs'];
  let root: InjectedRoot;
  let daemon: Daemon | undefined;
  before(async function () {
    requireShared(this);
    root = InjectedRoot.create(mkdtempSync(join(tmpdir(), 'btfx-e2e11-')), sharedFixtures(kernelDir));
    for (const m of MODULES) root.load(m);
    daemon = await realDaemon(root);
  });
  after(async () => { await daemon?.stop(); });

  it('11 modules loaded -> 11 extras published, every chain valid', () => {
    for (const m of MODULES) {
      assert.equal(state(daemon!, m)?.state, 'published', `${m}: ${state(daemon!, m)?.reason ?? ''}`);
      checkChain(root, m);
    }
  });

  it('merged/<m> passes bpftool -B vmlinux; merged/kernel passes bpftool and BPF_BTF_LOAD', async function () {
    for (const m of MODULES) requireOk(this, bpftoolDump(join(root.dir, RUN, 'merged', m), join(root.dir, RUN, 'btf/vmlinux')));
    await daemon!.rebuildKernelNow();
    requireOk(this, bpftoolDump(join(root.dir, RUN, 'merged/kernel')));
    requireOk(this, loadIntoKernel(join(root.dir, RUN, 'merged/kernel')));
  });

  it('unload all -> gone; restart -> served from cache without encoding', async () => {
    await daemon!.stop();
    daemon = await realDaemon(root);
    assert.equal(daemon.stats.encodes, 0);
    assert.equal(daemon.stats.cacheHits, 11);
    for (const m of MODULES) root.unload(m);
    await waitFor('all unloaded', () => daemon!.status().objects.length === 1, 20_000);
    assert.deepEqual(readdirSync(join(root.dir, RUN, 'btf')), ['vmlinux']);
  });
});

describe('daemon end to end: vmlinux extras from the real vmlinux DWARF (shared)', function () {
  this.timeout(600_000);
  let root: InjectedRoot;
  let daemon: Daemon | undefined;
  before(async function () {
    requireShared(this);
    const debug = decompressedVmlinux();
    root = InjectedRoot.create(mkdtempSync(join(tmpdir(), 'btfx-e2evm-')), sharedFixtures(kernelDir));
    mkdirSync(join(root.dir, 'usr/lib/debug/boot'), { recursive: true });
    symlinkSync(debug, join(root.dir, 'usr/lib/debug/boot/vmlinux-6.1.0-56-cloud-amd64'));
    root.load('loop');
    daemon = await realDaemon(root);
  });
  after(async () => { await daemon?.stop(); });

  it('vmlinux-btf-extra is published, validates, and merged/vmlinux passes bpftool and BPF_BTF_LOAD', async function () {
    const s = state(daemon!, 'vmlinux');
    assert.equal(s?.state, 'published', s?.reason);
    assert.ok((s?.vars ?? 0) > 20000, `vmlinux vars: ${s?.vars}`);
    const btf = join(root.dir, RUN, 'btf');
    assert.deepEqual(validateBtf(readBtfChain([join(btf, 'vmlinux'), join(btf, 'vmlinux-btf-extra')])).map(formatProblem), []);
    requireOk(this, bpftoolDump(join(root.dir, RUN, 'merged/vmlinux')));
    requireOk(this, loadIntoKernel(join(root.dir, RUN, 'merged/vmlinux')));
    assert.ok(existsSync(join(root.dir, RUN, 'merged/loop')), 'module views do not wait for vmlinux');
    await daemon!.rebuildKernelNow();
    requireOk(this, loadIntoKernel(join(root.dir, RUN, 'merged/kernel')));
  });
});

function decompressedVmlinux(): string {
  const path = vmlinuxDebug();
  assert.ok(path !== undefined, 'the slim vmlinux DWARF');
  return path;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = get(url, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', () => resolve(0));
    req.setTimeout(2000, () => { req.destroy(); resolve(0); });
  });
}

async function waitUntil(pred: () => Promise<boolean>, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!(await pred())) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}
