/**
 * Fault suite: `btf-extrad` run AS A PROCESS on injected roots (black box: only its command line,
 * the root's files and its outputs), attacked the ways issue 13 lists:
 * - SIGKILL at seeded random moments: every published file must parse and validate on its chain
 *   after each kill, and restarts must converge to the bytes a fresh root produces;
 * - forged and blocking cache entries (a FIFO, a link to /dev/zero, another module's payload, a
 *   VAR retyped to a FUNC, each with a consistent header and checksum);
 * - FIFOs and /dev/zero as debug info, a FIFO as /sys BTF, a malformed /proc/modules line;
 * - symlinks planted in its folders, and config paths that leave the root.
 * Every daemon run has a deadline: a daemon that blocks fails the test instead of hanging it.
 * BTFX_FAULT_TRIES (default 6) and BTFX_FAULT_SEED (default 13) size and seed the SIGKILL part.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Btf } from '../../src/btf/btf.js';
import { KIND } from '../../src/btf/kinds.js';
import { parseBtf } from '../../src/btf/parse.js';
import { formatProblem, validateBtf } from '../../src/btf/validate.js';
import { writeBtf } from '../../src/btf/write.js';
import { committedFixtures, InjectedRoot, type FixtureSet } from '../../src/demo/root.js';
import { prng } from '../support/prng.js';

const DAEMON = new URL('../../src/cli/btf-extrad.js', import.meta.url).pathname;
const DEBUG_MODULES = ['loop', 'crc7', 'cordic', 'tcp_bbr'] as const;

/**
 * Set to true once a cache hit runs the full validator on its chain (issue 13, class 2: done in
 * the core rewrite). Until then the two forged-payload cases below are skipped with that reason.
 */
const CACHE_HITS_FULLY_VALIDATED = true;

interface Run { readonly code: number | null; readonly signal: NodeJS.Signals | null; readonly out: string; readonly timedOut: boolean }

interface Daemon {
  readonly pid: number;
  out(): string;
  readonly exit: Promise<Run>;
  /** SIGKILL the daemon and everything it started (its process group). */
  kill(sig?: NodeJS.Signals): void;
}

/** Daemons not yet exited: the suite's afterEach kills them before removing their roots. */
const running = new Set<Daemon>();

/** Start btf-extrad in a process group of its own, killed (group-wide) at `deadlineMs`. */
function startDaemon(root: InjectedRoot, args: readonly string[] = [], deadlineMs = 30000): Daemon {
  const child = spawn(process.execPath, [DAEMON, '--root', root.dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, JOURNAL_STREAM: '1:1' } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  let timedOut = false;
  const pid = child.pid!;
  const kill = (sig: NodeJS.Signals = 'SIGKILL'): void => { try { process.kill(-pid, sig); } catch { /* gone */ } };
  const timer = setTimeout(() => { timedOut = true; kill(); }, deadlineMs);
  const exit = new Promise<Run>((resolve) => child.on('exit', (code, signal) => {
    clearTimeout(timer);
    kill(); // whatever it left running in its group
    running.delete(d);
    resolve({ code, signal, out, timedOut });
  }));
  const d: Daemon = { pid, out: () => out, exit, kill };
  running.add(d);
  return d;
}

function runOnce(root: InjectedRoot, args: readonly string[] = [], deadlineMs = 30000): Promise<Run> {
  return startDaemon(root, ['--once', ...args], deadlineMs).exit;
}

async function until(what: string, pred: () => boolean, d: Daemon, ms = 20000): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}; daemon output:\n${d.out()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let fixtures: FixtureSet | undefined;
function newRoot(base: string, name: string, config = 'watch: { pollIntervalMs: 100 }\n'): InjectedRoot {
  fixtures ??= committedFixtures();
  const root = InjectedRoot.create(join(base, name), fixtures);
  mkdirSync(dirname(root.paths.defaultConfigFile), { recursive: true });
  writeFileSync(root.paths.defaultConfigFile, config);
  return root;
}

const runtime = (root: InjectedRoot): string => join(root.dir, 'run/btf-extra');
const cacheExtras = (root: InjectedRoot): string => join(root.dir, 'var/cache/btf-extra/extras', root.fixtures.release);

/** The published files that are not temp files: relative path -> bytes. */
function published(root: InjectedRoot): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const sub of ['btf', 'merged']) {
    const dir = join(runtime(root), sub);
    if (!existsSync(dir)) continue;
    for (const n of readdirSync(dir).sort()) if (!n.startsWith('.')) out.set(`${sub}/${n}`, readFileSync(join(dir, n)));
  }
  return out;
}

/** Every problem with the published files: unparsable, invalid on its chain, extras without their base. */
function publishedProblems(root: InjectedRoot): string[] {
  const files = published(root);
  const problems: string[] = [];
  const check = (name: string, bytes: Buffer | undefined, base?: Btf): Btf | undefined => {
    if (bytes === undefined) { problems.push(`${name}: missing`); return undefined; }
    try {
      const btf = parseBtf(bytes, { base, source: name });
      for (const p of validateBtf(btf)) problems.push(`${name}: ${formatProblem(p)}`);
      return btf;
    } catch (e) { problems.push(`${name}: ${(e as Error).message}`); return undefined; }
  };
  const vmBytes = files.get('btf/vmlinux');
  const vm = vmBytes === undefined ? undefined : check('btf/vmlinux', vmBytes);
  for (const [name, bytes] of files) {
    if (name === 'btf/vmlinux') continue;
    if (name === 'merged/kernel' || name === 'merged/vmlinux') { check(name, bytes); continue; }
    if (vm === undefined) { problems.push(`${name}: published without btf/vmlinux`); continue; }
    if (name.startsWith('merged/')) { check(name, bytes, vm); continue; }
    const object = name.slice('btf/'.length).replace(/-btf-extra$/, '');
    if (!name.endsWith('-btf-extra')) { check(name, bytes, vm); continue; }
    if (object === 'vmlinux') { check(name, bytes, vm); continue; }
    const level = check(`btf/${object}`, files.get(`btf/${object}`), vm);
    if (level) check(name, bytes, level);
  }
  const status = join(runtime(root), 'status.json');
  if (existsSync(status)) {
    try { JSON.parse(readFileSync(status, 'utf8')); } catch (e) { problems.push(`status.json: ${(e as Error).message}`); }
  }
  return problems;
}

interface ObjectStatus { name: string; state: string; reason?: string; source?: string }
function statusOf(root: InjectedRoot): ObjectStatus[] {
  try { return (JSON.parse(readFileSync(join(runtime(root), 'status.json'), 'utf8')) as { objects: ObjectStatus[] }).objects; } catch { return []; }
}

/** A directory outside the root with files that must survive whatever the daemon does. */
function outsideDir(base: string): { dir: string; intact(): void } {
  const dir = join(base, 'outside');
  mkdirSync(dir, { recursive: true });
  const files = { 'precious': 'keep me', 'loop': 'not a published file', 'kernel': 'nor this', 'a.btfx': 'nor a cache entry', 'status.json': '{}' };
  for (const [n, t] of Object.entries(files)) writeFileSync(join(dir, n), t);
  return {
    dir,
    intact(): void {
      assert.deepEqual(readdirSync(dir).sort(), Object.keys(files).sort(), `files outside the root changed: ${readdirSync(dir).join(', ')}`);
      for (const [n, t] of Object.entries(files)) assert.equal(readFileSync(join(dir, n), 'utf8'), t, n);
    },
  };
}

/** Cache entry file of `name` under the root (exactly one expected). */
function cacheEntry(root: InjectedRoot, name: string): string {
  const dir = join(cacheExtras(root), name);
  const files = readdirSync(dir).filter((f) => f.endsWith('.btfx'));
  assert.equal(files.length, 1, `${dir}: ${files.join(', ')}`);
  return join(dir, files[0]!);
}

/** Split an entry into its header (parsed) and payload. */
function readEntry(file: string): { magic: string; meta: Record<string, unknown>; payload: Buffer } {
  const data = readFileSync(file);
  const first = data.indexOf(0x0a);
  const second = data.indexOf(0x0a, first + 1);
  return { magic: data.subarray(0, first + 1).toString('latin1'), meta: JSON.parse(data.subarray(first + 1, second).toString('utf8')) as Record<string, unknown>, payload: data.subarray(second + 1) };
}

/** Rewrite an entry with another payload and a header that agrees with it (length, sha256). */
function forgeEntry(file: string, payload: Uint8Array): void {
  const { magic, meta } = readEntry(file);
  const forged = { ...meta, length: payload.length, sha256: createHash('sha256').update(payload).digest('hex') };
  writeFileSync(file, Buffer.concat([Buffer.from(magic, 'latin1'), Buffer.from(`${JSON.stringify(forged)}\n`), payload]));
}

describe('btf-extrad fault suite (process, injected roots)', function () {
  this.timeout(240000);
  let base: string;
  beforeEach(() => { base = mkdtempSync(join(tmpdir(), 'btfx-faults-')); });
  afterEach(async () => {
    const left = [...running];
    for (const d of left) d.kill();
    await Promise.all(left.map((d) => d.exit));
    rmSync(base, { recursive: true, force: true });
  });

  it('SIGKILL at seeded random moments: every published file stays valid, and restarts converge to the bytes of a fresh root', async () => {
    const tries = Number(process.env['BTFX_FAULT_TRIES'] ?? 6);
    const seed = Number(process.env['BTFX_FAULT_SEED'] ?? 13);
    const random = prng(seed);
    const root = newRoot(base, 'killed');
    for (const m of [...DEBUG_MODULES, 'virtio_net']) root.load(m);
    let survived = 0;
    let midWork = 0; // kills before the daemon had finished its first pass (encodes, merged/kernel)
    const lost: string[] = [];
    for (let i = 0; i < tries; i++) {
      // Vary what there is to do: load or unload one module between kills.
      if (random() < 0.4) {
        const m = DEBUG_MODULES[Math.floor(random() * DEBUG_MODULES.length)]!;
        if (root.loadedModules.includes(m)) root.unload(m); else root.load(m);
      }
      // Every 3rd try clears the cache, so kills land during encodes too, not only cache hits.
      if (i % 3 === 0) rmSync(join(root.dir, 'var/cache/btf-extra/extras'), { recursive: true, force: true });
      const d = startDaemon(root);
      await new Promise((r) => setTimeout(r, Math.floor(random() * 3500)));
      d.kill('SIGKILL');
      const run = await d.exit;
      if (!/merged view rebuilt/.test(run.out)) midWork++;
      const problems = publishedProblems(root);
      if (problems.length === 0 && !run.timedOut) survived++;
      else lost.push(`try ${i}: ${problems.join('; ')}`);
    }
    // Restart after the last kill, twice, and a fresh root with the same modules: same bytes.
    const r1 = await runOnce(root);
    assert.equal(r1.code, 0, r1.out);
    const once = published(root);
    const r2 = await runOnce(root);
    assert.equal(r2.code, 0, r2.out);
    const fresh = newRoot(base, 'fresh');
    for (const m of root.loadedModules) fresh.load(m);
    const r0 = await runOnce(fresh);
    assert.equal(r0.code, 0, r0.out);
    const reference = published(fresh);
    const converged = [...reference.keys()].every((k) => once.get(k)?.equals(reference.get(k)!) === true) && once.size === reference.size
      && [...once].every(([k, v]) => published(root).get(k)?.equals(v) === true);
    process.stderr.write(`      fault suite: ${tries} SIGKILLs (seed ${seed}, ${midWork} before the first pass ended), ${survived} survived, ${lost.length} lost; restarts ${converged ? 'converged' : 'DIVERGED'} (${reference.size} files)\n`);
    assert.deepEqual(lost, []);
    assert.deepEqual([...once.keys()], [...reference.keys()]);
    assert.ok(converged, 'restart bytes differ from a fresh root');
    assert.deepEqual(publishedProblems(root), []);
    assert.ok(reference.has('btf/loop-btf-extra') || !root.loadedModules.includes('loop'));
  });

  describe('blocking files', () => {
    it('FIFOs and a link to /dev/zero as debug info: refused at once, unloads still seen, SIGTERM still stops it', async () => {
      const root = newRoot(base, 'fifo-debug');
      for (const m of DEBUG_MODULES) root.load(m, { debug: false });
      // More FIFOs than libuv's 4 pool threads: one per module path, one per build-id path.
      for (const m of ['loop', 'crc7', 'cordic']) {
        mkdirSync(dirname(root.debugPathOf(m)), { recursive: true });
        execFileSync('mkfifo', [root.debugPathOf(m)]);
        const byId = join(root.dir, 'usr/lib/debug/.build-id', root.module(m).buildId.slice(0, 2), `${root.module(m).buildId.slice(2)}.debug`);
        mkdirSync(dirname(byId), { recursive: true });
        execFileSync('mkfifo', [byId]);
      }
      mkdirSync(dirname(root.debugPathOf('tcp_bbr')), { recursive: true });
      symlinkSync('/dev/zero', root.debugPathOf('tcp_bbr'));
      const d = startDaemon(root);
      await until('every module refused its debug file', () => DEBUG_MODULES.every((m) => statusOf(root).find((o) => o.name === m)?.state === 'no-debuginfo'), d);
      for (const m of DEBUG_MODULES) assert.match(statusOf(root).find((o) => o.name === m)?.reason ?? '', /not a regular file/, m);
      root.unload('crc7');
      await until('the unload seen by the poller', () => !statusOf(root).some((o) => o.name === 'crc7'), d);
      d.kill('SIGTERM');
      const run = await d.exit;
      assert.ok(!run.timedOut, 'SIGTERM must stop it');
      assert.equal(run.code, 0, run.out);
      assert.deepEqual(publishedProblems(root), []);
    });

    it('a FIFO and a link to /dev/zero at cache-entry paths, a FIFO as a module\'s /sys BTF: no hang, entries regenerated', async () => {
      const root = newRoot(base, 'fifo-cache');
      for (const m of ['tcp_bbr', 'crc7', 'cordic']) root.load(m);
      assert.equal((await runOnce(root)).code, 0);
      const bbrEntry = cacheEntry(root, 'tcp_bbr');
      const crc7Entry = cacheEntry(root, 'crc7');
      const before = published(root);
      rmSync(bbrEntry);
      execFileSync('mkfifo', [bbrEntry]);
      rmSync(crc7Entry);
      symlinkSync('/dev/zero', crc7Entry);
      rmSync(root.paths.sysBtf('cordic'));
      execFileSync('mkfifo', [root.paths.sysBtf('cordic')]);
      const run = await runOnce(root);
      assert.ok(!run.timedOut, `blocked:\n${run.out}`);
      assert.equal(run.code, 0, run.out);
      assert.match(run.out, /tcp_bbr: discard cache entry/);
      assert.match(run.out, /crc7: discard cache entry/);
      for (const f of ['btf/tcp_bbr-btf-extra', 'btf/crc7-btf-extra']) assert.ok(published(root).get(f)?.equals(before.get(f)!), f);
      assert.ok(readEntry(cacheEntry(root, 'tcp_bbr')).payload.equals(before.get('btf/tcp_bbr-btf-extra')!));
      assert.equal(statusOf(root).find((o) => o.name === 'cordic')?.state, 'failed');
      assert.deepEqual(publishedProblems(root), []);
    });

    it('a malformed /proc/modules line at start is skipped with a warning, not fatal', async () => {
      const root = newRoot(base, 'badline');
      root.load('crc7');
      writeFileSync(root.paths.procModules, `${readFileSync(root.paths.procModules, 'utf8')}this line is garbage\n`);
      const run = await runOnce(root);
      assert.equal(run.code, 0, run.out);
      assert.match(run.out, /<4>.*proc\/modules: \+0x[0-9a-f]+: expected "name size refcount deps state address", got "this line is garbage": line skipped/);
      assert.equal(statusOf(root).find((o) => o.name === 'crc7')?.state, 'published');
    });
  });

  describe('forged cache entries (consistent header and checksum, wrong payload)', () => {
    async function forged(payloadFor: (root: InjectedRoot, good: Map<string, Buffer>) => Uint8Array): Promise<void> {
      const root = newRoot(base, 'forged');
      for (const m of ['loop', 'crc7']) root.load(m);
      assert.equal((await runOnce(root)).code, 0);
      const good = published(root);
      forgeEntry(cacheEntry(root, 'loop'), payloadFor(root, good));
      const run = await runOnce(root);
      assert.equal(run.code, 0, run.out);
      assert.match(run.out, /loop: discard cache entry/);
      assert.ok(published(root).get('btf/loop-btf-extra')?.equals(good.get('btf/loop-btf-extra')!), 'regenerated, not the forged payload');
      assert.deepEqual(publishedProblems(root), []);
      // The forged entry is gone for good: the next start is a clean cache hit.
      const again = await runOnce(root);
      assert.doesNotMatch(again.out, /discard cache entry/);
    }

    it('another module\'s extras as the payload is discarded and regenerated', async function () {
      if (!CACHE_HITS_FULLY_VALIDATED) this.skip(); // needs the full validator on cache hits (issue 13, class 2)
      await forged((_root, good) => good.get('btf/crc7-btf-extra')!);
    });

    it('a VAR retyped to a FUNC is discarded and regenerated', async function () {
      if (!CACHE_HITS_FULLY_VALIDATED) this.skip(); // needs the full validator on cache hits (issue 13, class 2)
      await forged((_root, good) => {
        const vm = parseBtf(good.get('btf/vmlinux')!);
        const mod = parseBtf(good.get('btf/loop')!, { base: vm });
        const extras = parseBtf(good.get('btf/loop-btf-extra')!, { base: mod });
        const funcId = vm.types.findIndex((t) => t.kind === KIND.FUNC) + vm.startId;
        const v = extras.types.find((t) => t.kind === KIND.VAR);
        assert.ok(v && v.kind === KIND.VAR && funcId > 0);
        v.type = funcId as typeof v.type;
        return writeBtf(extras);
      });
    });
  });

  describe('symlinks in its folders and config paths out of the root', () => {
    const refused = async (root: InjectedRoot, why: RegExp, outside: { intact(): void }): Promise<void> => {
      const run = await runOnce(root);
      assert.ok(!run.timedOut, run.out);
      assert.notEqual(run.code, 0, run.out);
      assert.match(run.out, why);
      outside.intact();
    };

    it('a symlinked runtime dir, cache dir, btf/ or merged/ is refused at start; nothing outside is written or deleted', async () => {
      const plants: [string, (root: InjectedRoot, target: string) => void][] = [
        ['runtime dir', (root, t) => { mkdirSync(join(root.dir, 'run'), { recursive: true }); symlinkSync(t, runtime(root)); }],
        ['cache dir', (root, t) => { mkdirSync(join(root.dir, 'var/cache'), { recursive: true }); symlinkSync(t, join(root.dir, 'var/cache/btf-extra')); }],
        ['btf/', (root, t) => { mkdirSync(runtime(root), { recursive: true }); symlinkSync(t, join(runtime(root), 'btf')); }],
        ['merged/', (root, t) => { mkdirSync(runtime(root), { recursive: true }); symlinkSync(t, join(runtime(root), 'merged')); }],
      ];
      for (const [what, plant] of plants) {
        const outside = outsideDir(join(base, `out-${what.replace(/\W/g, '')}`));
        const root = newRoot(base, `plant-${what.replace(/\W/g, '')}`);
        root.load('crc7');
        plant(root, outside.dir);
        await refused(root, /is a symbolic link; the daemon's folders must be real directories/, outside);
      }
    });

    it('a cache subfolder replaced by a link between runs: the link is dropped, the entry regenerated, nothing outside touched', async () => {
      const outside = outsideDir(join(base, 'out-sub'));
      const root = newRoot(base, 'plant-sub');
      root.load('crc7');
      assert.equal((await runOnce(root)).code, 0);
      const good = published(root);
      const objDir = join(cacheExtras(root), 'crc7');
      rmSync(objDir, { recursive: true });
      symlinkSync(outside.dir, objDir);
      const run = await runOnce(root);
      assert.equal(run.code, 0, run.out);
      outside.intact();
      assert.ok(published(root).get('btf/crc7-btf-extra')?.equals(good.get('btf/crc7-btf-extra')!));
      assert.ok(existsSync(cacheEntry(root, 'crc7')));
    });

    it('config paths: cacheDir "/" and ".." are refused with exit 2-style config errors; <root>/tmp is never emptied', async () => {
      for (const [config, why] of [
        ['cacheDir: /\n', /cacheDir: must be a directory of its own, not \//],
        ['runtimeDir: /run/../../../outside\n', /runtimeDir: "\.\." is not allowed/],
        ['cacheDir: /tmp\n', /cacheDir holds files btf-extrad did not create/],
        ['debuginfo: { paths: [/usr/lib/debug/../../../../..] }\n', /debuginfo\.paths\[0\]: "\.\." is not allowed/],
      ] as const) {
        const root = newRoot(base, `cfg-${Math.random().toString(36).slice(2, 8)}`, config);
        const outside = outsideDir(join(root.dir, '..', `out-${Math.random().toString(36).slice(2, 8)}`));
        mkdirSync(join(root.dir, 'tmp/tmp'), { recursive: true });
        writeFileSync(join(root.dir, 'tmp/tmp/someone-elses'), 'x');
        root.load('crc7');
        await refused(root, why, outside);
        assert.ok(existsSync(join(root.dir, 'tmp/tmp/someone-elses')), config);
      }
    });
  });
});
