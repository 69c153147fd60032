/**
 * The daemon's own folders: symlinks planted at any of them are refused and never followed,
 * config paths stay inside --root, only folders it created and recognises are deleted in, and
 * the temp files of a killed run are removed at start-up (only stale ones, only its own).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExtrasCache, type CacheKey } from '../../src/daemon/cache.js';
import { ConfigError, validateConfig } from '../../src/daemon/config.js';
import { FOLDER_ERROR_CODES, FolderError, OWNER_MARKER, prepareDaemonFolders, type FolderErrorCode } from '../../src/daemon/folders.js';
import { Publisher } from '../../src/daemon/publish.js';
import { hostPaths, type HostPaths } from '../../src/host/paths.js';
import { fakeOps } from './harness.js';

const isFolderError = (code: FolderErrorCode) => (e: unknown): boolean => e instanceof FolderError && e.code === code && !e.message.includes('\n');

/** A pid that surely runs no more: a child that has exited. */
const deadPid = (): number => spawnSync('true').pid ?? 1 << 22;

describe('daemon/folders', () => {
  let base: string;
  let root: string;
  let outside: string;
  let paths: HostPaths;
  const logs: string[] = [];
  const log = { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m) };
  const prepare = (runtime = '/run/btf-extra', cache = '/var/cache/btf-extra', debugDirs: string[] = []): void =>
    prepareDaemonFolders({ paths, runtimeDir: paths.under(runtime), cacheDir: paths.under(cache), debugDirs, log });

  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'btfx-folders-'));
    root = join(base, 'root');
    outside = join(base, 'outside');
    mkdirSync(root);
    mkdirSync(outside);
    writeFileSync(join(outside, 'precious'), 'keep me');
    writeFileSync(join(outside, 'x.btfx'), 'not a cache entry of ours');
    paths = hostPaths(root);
    logs.length = 0;
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));
  const outsideIntact = (): void => assert.deepEqual(readdirSync(outside).sort(), ['precious', 'x.btfx']);

  it('creates and marks fresh folders; a second start finds them its own', () => {
    prepare();
    assert.ok(existsSync(join(root, 'run/btf-extra', OWNER_MARKER)));
    assert.ok(existsSync(join(root, 'var/cache/btf-extra', OWNER_MARKER)));
    prepare();
  });

  for (const [what, plant] of [
    ['runtimeDir', (): void => { mkdirSync(join(root, 'run'), { recursive: true }); symlinkSync(outside, join(root, 'run/btf-extra')); }],
    ['cacheDir', (): void => { mkdirSync(join(root, 'var/cache'), { recursive: true }); symlinkSync(outside, join(root, 'var/cache/btf-extra')); }],
    ['btf/', (): void => { prepare(); symlinkSync(outside, join(root, 'run/btf-extra/btf')); }],
    ['merged/', (): void => { prepare(); symlinkSync(outside, join(root, 'run/btf-extra/merged')); }],
    ['cache extras/', (): void => { prepare(); symlinkSync(outside, join(root, 'var/cache/btf-extra/extras')); }],
    ['cache tmp/', (): void => { prepare(); symlinkSync(outside, join(root, 'var/cache/btf-extra/tmp')); }],
  ] as const) {
    it(`a symlinked ${what} is refused (symlink), not followed`, () => {
      plant();
      assert.throws(() => prepare(), isFolderError('symlink'));
      outsideIntact();
    });
  }

  it('a folder path leading out of the root through a symlinked parent is refused (outside-root), also for debug roots', () => {
    mkdirSync(join(root, 'var'), { recursive: true });
    symlinkSync(outside, join(root, 'var/cache'));
    assert.throws(() => prepare(), isFolderError('outside-root'));
    rmSync(join(root, 'var/cache'));
    symlinkSync(outside, join(root, 'debug'));
    assert.throws(() => prepare('/run/btf-extra', '/var/cache/btf-extra', ['/debug']), (e: unknown) => isFolderError('outside-root')(e) && /debuginfo path \/debug/.test((e as Error).message));
    outsideIntact();
  });

  it('a folder holding files it did not create is refused (foreign-content): cacheDir /tmp of the root keeps its files', () => {
    mkdirSync(join(root, 'tmp'));
    writeFileSync(join(root, 'tmp/someone-elses'), 'x');
    mkdirSync(join(root, 'tmp/tmp'));
    writeFileSync(join(root, 'tmp/tmp/file'), 'x');
    assert.throws(() => prepare('/run/btf-extra', '/tmp'), (e: unknown) => isFolderError('foreign-content')(e) && /"someone-elses"/.test((e as Error).message));
    assert.deepEqual(readdirSync(join(root, 'tmp')).sort(), ['someone-elses', 'tmp']);
    assert.ok(existsSync(join(root, 'tmp/tmp/file')));
  });

  it('something other than a directory at its folder is refused (not-a-directory)', () => {
    mkdirSync(join(root, 'run/btf-extra'), { recursive: true });
    writeFileSync(join(root, 'run/btf-extra/btf'), 'a file');
    assert.throws(() => prepare(), isFolderError('not-a-directory'));
  });

  it('a configured folder without the marker that holds only names the daemon uses is still refused (cacheDir /tmp with a tmp/)', () => {
    mkdirSync(join(root, 'tmp/tmp'), { recursive: true });
    writeFileSync(join(root, 'tmp/tmp/someone-elses'), 'x');
    assert.throws(() => prepare('/run/btf-extra', '/tmp'), isFolderError('foreign-content'));
    assert.ok(existsSync(join(root, 'tmp/tmp/someone-elses')));
  });

  it('the default folder of an earlier version (no marker, only what the daemon writes) is adopted', () => {
    mkdirSync(join(root, 'var/cache/btf-extra/extras'), { recursive: true });
    mkdirSync(join(root, 'run/btf-extra/btf'), { recursive: true });
    writeFileSync(join(root, 'run/btf-extra/status.json'), '{}');
    prepare();
    assert.ok(existsSync(join(root, 'var/cache/btf-extra', OWNER_MARKER)));
  });

  it('every FolderError code is tested above', () => {
    assert.deepEqual([...FOLDER_ERROR_CODES].sort(), ['foreign-content', 'not-a-directory', 'outside-root', 'symlink']);
  });

  it('start-up removes the temp files a killed run left, in its own folders only, never those of a live process', () => {
    prepare();
    const dead = deadPid();
    const rt = join(root, 'run/btf-extra');
    const entry = join(root, 'var/cache/btf-extra/extras/6.1.0/loop');
    const dl = join(root, 'var/cache/btf-extra/debuginfod/ab12');
    const modprobe = join(root, 'run/modprobe.d');
    for (const d of [join(rt, 'btf'), join(rt, 'merged'), entry, dl, modprobe]) mkdirSync(d, { recursive: true });
    const stale = [
      join(rt, `.status.json.tmp-${dead}-ab12cd34`), join(rt, `.ctl-${dead}-abc123`),
      join(rt, `btf/.loop.tmp-${dead}-zz`), join(rt, `merged/.kernel.tmp-${dead}-zz`),
      join(entry, `.abc.0123.enc-1.btfx.tmp-${dead}-q1`), join(dl, `.debuginfo.tmp-${dead}-q2`),
      join(modprobe, `.btf-extra.conf.tmp-${dead}-q3`),
    ];
    const kept = [join(rt, `.status.json.tmp-${process.pid}-live1`), join(modprobe, `.other-package.conf.tmp-${dead}-q4`), join(entry, 'abc.0123.enc-1.btfx')];
    for (const f of [...stale, ...kept]) writeFileSync(f, 'x');
    prepare();
    for (const f of stale) assert.ok(!existsSync(f), `${f} removed`);
    for (const f of kept) assert.ok(existsSync(f), `${f} kept`);
    assert.ok(logs.some((l) => l === `removed ${stale.length} temp file(s) left by an earlier run`), logs.join('\n'));
  });

  describe('publisher and cache never follow a link planted after start-up', () => {
    const key: CacheKey = { release: '6.1.0', name: 'loop', buildId: 'abc', baseDigest: '0123456789abcdef0123', encoderVersion: 'enc-1' };

    it('publish into a btf/ or merged/ replaced by a link: refused, nothing written or deleted outside', async () => {
      prepare();
      const rt = join(root, 'run/btf-extra');
      const pub = new Publisher(rt, fakeOps);
      pub.put('loop', Buffer.from('L'), Buffer.from('FAKE-EXTRAS'));
      rmSync(join(rt, 'btf'), { recursive: true });
      symlinkSync(outside, join(rt, 'btf'));
      assert.throws(() => pub.put('crc7', Buffer.from('C'), undefined), isFolderError('symlink'));
      assert.throws(() => pub.remove('loop'), isFolderError('symlink'));
      assert.throws(() => pub.sweep(new Set()), isFolderError('symlink'));
      await assert.rejects(pub.rebuildKernel(), isFolderError('symlink'));
      outsideIntact();
    });

    it('the sweep leaves a stray directory in btf/ alone (and says so)', () => {
      prepare();
      const rt = join(root, 'run/btf-extra');
      const warnings: string[] = [];
      const pub = new Publisher(rt, fakeOps, (m) => warnings.push(m));
      mkdirSync(join(rt, 'btf/stray'), { recursive: true });
      writeFileSync(join(rt, 'btf/gone'), 'x');
      assert.equal(pub.sweep(new Set()), 1);
      assert.ok(existsSync(join(rt, 'btf/stray')));
      assert.match(warnings.join('\n'), /btf\/stray: a directory the daemon did not create; left alone/);
    });

    it('a cache object folder replaced by a link: get discards the link (corrupt), prune deletes nothing outside, put makes a real folder', () => {
      prepare();
      const cache = new ExtrasCache(join(root, 'var/cache/btf-extra/extras'));
      cache.put(key, Buffer.from('FAKE-EXTRAS'));
      const objDir = join(root, 'var/cache/btf-extra/extras/6.1.0/loop');
      rmSync(objDir, { recursive: true });
      symlinkSync(outside, objDir);
      assert.throws(() => cache.prune(key), isFolderError('symlink'));
      outsideIntact();
      const r = cache.get(key);
      assert.equal(r.kind, 'corrupt');
      assert.match(r.kind === 'corrupt' ? r.reason : '', /is a symbolic link/);
      assert.ok(!existsSync(objDir), 'the link itself is removed');
      outsideIntact();
      cache.put(key, Buffer.from('FAKE-EXTRAS'));
      assert.equal(cache.get(key).kind, 'hit');
      outsideIntact();
    });

    it('pruning old releases never enters a linked release folder', () => {
      prepare();
      const extras = join(root, 'var/cache/btf-extra/extras');
      const cache = new ExtrasCache(extras);
      cache.put(key, Buffer.from('FAKE-EXTRAS'));
      for (const r of ['5.0', '5.1', '5.2']) cache.put({ ...key, release: r }, Buffer.from('old'));
      symlinkSync(outside, join(extras, '4.9'));
      const removed = cache.pruneReleases('6.1.0', 1);
      assert.equal(removed.length, 2);
      assert.ok(!removed.includes('4.9'));
      outsideIntact();
      assert.equal(readFileSync(join(outside, 'precious'), 'utf8'), 'keep me');
    });
  });

  describe('config paths', () => {
    const bad = (cfg: unknown, re: RegExp): void => assert.throws(() => validateConfig(cfg, 'c.yaml'), (e: unknown) => e instanceof ConfigError && e.code === 'bad-value' && re.test(e.message));
    it('".." in runtimeDir, cacheDir or a debug path is refused', () => {
      bad({ runtimeDir: '/run/../../etc' }, /runtimeDir: "\.\." is not allowed/);
      bad({ cacheDir: '/var/cache/../..' }, /cacheDir: "\.\." is not allowed/);
      bad({ debuginfo: { paths: ['/usr/lib/debug/../../../..'] } }, /debuginfo\.paths\[0\]: "\.\." is not allowed/);
    });
    it('/ as runtimeDir or cacheDir, or one inside the other, is refused', () => {
      bad({ cacheDir: '/' }, /cacheDir: must be a directory of its own, not \//);
      bad({ runtimeDir: '//' }, /runtimeDir: must be a directory of its own/);
      bad({ cacheDir: '/run/btf-extra' }, /cacheDir: must not be, contain or lie inside runtimeDir/);
      bad({ cacheDir: '/run/btf-extra/cache' }, /cacheDir: must not be, contain or lie inside runtimeDir/);
      bad({ cacheDir: '/run', runtimeDir: '/run/btf-extra' }, /cacheDir: must not be, contain or lie inside runtimeDir/);
    });
    it('host paths never climb above the root', () => {
      assert.equal(paths.under('/../../etc'), join(root, 'etc'));
      assert.equal(paths.under('../x'), join(root, 'x'));
    });
  });
});
