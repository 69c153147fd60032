/**
 * Cache of generated extras: one file per (kernel release, object, build id, base BTF digest,
 * encoder version), so a restart or reboot costs a file read, and a new kernel, a rebuilt module,
 * a changed base or a new encoder misses. Each entry carries a header with its key and the
 * sha256 of its payload; an entry whose header, digest or BTF does not check out is deleted and
 * reported as corrupt (the caller regenerates). Writes are atomic.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { FILE_LIMITS, readRegularFileSync, SafeFileError } from '../util/safe-file.js';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-write.js';
import { checkOwnDir, ensureOwnDir } from './folders.js';

export interface CacheKey {
  readonly release: string;
  readonly name: string;
  readonly buildId: string;
  /** Digest of the base chain bytes, root first (vmlinux, then the module's BTF): see chainDigest. */
  readonly baseDigest: string;
  readonly encoderVersion: string;
}

export interface CacheMeta extends CacheKey {
  readonly sha256: string;
  readonly length: number;
  readonly vars?: number | undefined;
  readonly debuginfo?: string | undefined;
  readonly createdAt: string;
}

export type CacheResult =
  | { readonly kind: 'hit'; readonly bytes: Uint8Array; readonly meta: CacheMeta; readonly file: string }
  | { readonly kind: 'miss' }
  | { readonly kind: 'corrupt'; readonly reason: string; readonly file: string };

const MAGIC = 'BTFXCACHE1\n';

/**
 * The key of one object's extras. The vars setting is part of the encoder version: the same
 * encoder with another --vars produces other bytes.
 */
export function extrasCacheKey(o: {
  readonly release: string; readonly name: string; readonly buildId: string | undefined;
  readonly chain: readonly Uint8Array[]; readonly encoderVersion: string; readonly vars: string;
}): CacheKey {
  return {
    release: o.release, name: o.name, buildId: o.buildId ?? 'no-build-id',
    baseDigest: chainDigest(o.chain), encoderVersion: `${o.encoderVersion}-vars-${o.vars}`,
  };
}

const levelDigests = new WeakMap<Uint8Array, string>();

/** sha256 over the sha256 of each level, root first; a level's digest is memoised by its bytes object. */
export function chainDigest(chain: readonly Uint8Array[]): string {
  const h = createHash('sha256');
  for (const level of chain) {
    let d = levelDigests.get(level);
    if (d === undefined) { d = sha256Hex(level); levelDigests.set(level, d); }
    h.update(d);
  }
  return h.digest('hex');
}
const SAFE = /^[A-Za-z0-9_.+-]{1,200}$/;

export function sha256Hex(...parts: readonly Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** Path-safe spelling of a key part (module names and releases are tame; never trust it). */
function part(s: string): string {
  return SAFE.test(s) && s !== '.' && s !== '..' ? s : `x${sha256Hex(Buffer.from(s)).slice(0, 32)}`;
}

/** A name `part` can produce. */
function isPart(name: string): boolean {
  return SAFE.test(name) && name !== '.' && name !== '..';
}

export class ExtrasCache {
  /** `validate` throws when the payload is not acceptable BTF (parse failure = corrupt entry). */
  constructor(readonly dir: string, private readonly validate?: (bytes: Uint8Array, key: CacheKey) => void) {}

  fileFor(key: CacheKey): string {
    return join(this.dir, part(key.release), part(key.name), `${part(key.buildId)}.${part(key.baseDigest.slice(0, 16))}.${part(key.encoderVersion)}.btfx`);
  }

  /** The folders an entry sits in, outermost first: extras/, extras/<release>/, extras/<release>/<object>/. */
  private dirsOf(key: CacheKey): string[] {
    return [this.dir, join(this.dir, part(key.release)), join(this.dir, part(key.release), part(key.name))];
  }

  /** An entry exists for `key` (not checked: get() validates it). */
  has(key: CacheKey): boolean {
    return existsSync(this.fileFor(key));
  }

  get(key: CacheKey): CacheResult {
    const file = this.fileFor(key);
    for (const dir of this.dirsOf(key)) {
      try {
        if (!checkOwnDir(dir)) return { kind: 'miss' };
      } catch (e) {
        // A link (or file) planted where a cache folder goes: removed (unlink never follows), not entered.
        try { unlinkSync(dir); } catch { /* not ours to remove */ }
        return { kind: 'corrupt', reason: e instanceof Error ? e.message : String(e), file };
      }
    }
    let data: Buffer;
    try {
      // Never follow a link or open a FIFO/device planted at an entry's path: such a thing is
      // no entry of ours; it is removed (unlink removes the link, not its target) and regenerated.
      data = readRegularFileSync(file, { maxBytes: FILE_LIMITS.cacheEntry, noFollow: true });
    } catch (e) {
      if (!(e instanceof SafeFileError) || e.code === 'missing') return { kind: 'miss' };
      try { unlinkSync(file); } catch { /* already gone, or not ours to remove */ }
      return { kind: 'corrupt', reason: e.reason, file };
    }
    const reason = this.check(data, key);
    if (typeof reason === 'string') {
      try { unlinkSync(file); } catch { /* already gone */ }
      return { kind: 'corrupt', reason, file };
    }
    return { kind: 'hit', bytes: reason.bytes, meta: reason.meta, file };
  }

  private check(data: Buffer, key: CacheKey): string | { bytes: Uint8Array; meta: CacheMeta } {
    if (data.length < MAGIC.length || data.subarray(0, MAGIC.length).toString('latin1') !== MAGIC) return 'bad header magic';
    const nl = data.indexOf(0x0a, MAGIC.length);
    if (nl < 0) return 'header line not terminated';
    let meta: CacheMeta;
    try { meta = JSON.parse(data.subarray(MAGIC.length, nl).toString('utf8')) as CacheMeta; } catch { return 'header is not JSON'; }
    if (typeof meta !== 'object' || meta === null) return 'header is not an object';
    for (const k of ['release', 'name', 'buildId', 'baseDigest', 'encoderVersion'] as const) {
      if (meta[k] !== key[k]) return `header ${k} does not match the key`;
    }
    const bytes = data.subarray(nl + 1);
    if (bytes.length !== meta.length) return `payload is ${bytes.length} bytes, header says ${meta.length}`;
    if (sha256Hex(bytes) !== meta.sha256) return 'payload sha256 does not match the header';
    if (this.validate) {
      try { this.validate(bytes, key); } catch (e) { return `payload does not parse: ${e instanceof Error ? e.message : String(e)}`; }
    }
    return { bytes, meta };
  }

  put(key: CacheKey, bytes: Uint8Array, extra: { vars?: number | undefined; debuginfo?: string | undefined } = {}): string {
    const meta: CacheMeta = { ...key, sha256: sha256Hex(bytes), length: bytes.length, vars: extra.vars, debuginfo: extra.debuginfo, createdAt: new Date().toISOString() };
    const file = this.fileFor(key);
    for (const dir of this.dirsOf(key)) ensureOwnDir(dir);
    writeFileAtomic(file, Buffer.concat([Buffer.from(MAGIC, 'latin1'), Buffer.from(`${JSON.stringify(meta)}\n`), bytes]));
    return file;
  }

  /** Delete entries of this object (same release) other than `key`: stale builds, bases or encoders. */
  prune(key: CacheKey): number {
    const dir = join(this.dir, part(key.release), part(key.name));
    const keep = this.fileFor(key).slice(dir.length + 1);
    let removed = 0;
    for (const d of this.dirsOf(key)) if (!checkOwnDir(d)) return 0;
    for (const n of readdirSync(dir)) {
      if (n === keep || !n.endsWith('.btfx')) continue;
      rmSync(join(dir, n), { force: true });
      removed++;
    }
    return removed;
  }

  /**
   * Drop the entries of kernels no longer in use: keep `current` and the `keepOthers` most recently
   * written other releases (booting back into the previous kernel stays cheap). Returns what was removed.
   */
  pruneReleases(current: string, keepOthers = 2): string[] {
    let dirs: { name: string; mtime: number }[];
    if (!checkOwnDir(this.dir)) return [];
    try {
      // Only real directories named the way fileFor names releases: anything else is not ours.
      dirs = readdirSync(this.dir, { withFileTypes: true }).filter((d) => d.isDirectory() && d.name !== part(current) && isPart(d.name))
        .map((d) => ({ name: d.name, mtime: statSync(join(this.dir, d.name)).mtimeMs }));
    } catch { return []; }
    dirs.sort((a, b) => b.mtime - a.mtime || (a.name < b.name ? -1 : 1));
    const removed = dirs.slice(keepOthers).map((d) => d.name);
    for (const n of removed) rmSync(join(this.dir, n), { recursive: true, force: true });
    return removed;
  }

  remove(key: CacheKey): void {
    // Never through a folder replaced by a link (it would delete a file elsewhere).
    try { for (const d of this.dirsOf(key)) if (!checkOwnDir(d)) return; } catch { return; }
    rmSync(this.fileFor(key), { force: true });
  }
}
