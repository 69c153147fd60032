/**
 * debuginfod client (no dependencies): GET $URL/buildid/<hex>/debuginfo over http/https, tried in
 * order until one has it. Downloads go to a temp file in the cache, are fsynced, checked to carry
 * the requested GNU build id, and only then renamed into place ($CACHE/<buildid>/debuginfo, the
 * layout of libdebuginfod's client cache). Every failed attempt leaves a one-line reason.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { readElfBuildId } from '../host/elf-build-id.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { readRegularFileSync } from '../util/safe-file.js';

export const DEBUGINFOD_DEFAULTS = {
  /** libdebuginfod's default DEBUGINFOD_TIMEOUT (seconds without progress). */
  timeoutMs: 90_000,
  /** A debug vmlinux is ~1 GB; anything far beyond is not a kernel object's debuginfo. */
  maxBytes: 4 * 1024 * 1024 * 1024,
  maxRedirects: 5,
} as const;

export interface DebuginfodOptions {
  /** Idle timeout per request (connect, or no bytes for this long). Default DEBUGINFOD_TIMEOUT s, else 90 s. */
  readonly timeoutMs?: number;
  /** Refuse downloads larger than this. */
  readonly maxBytes?: number;
  /** Environment to read DEBUGINFOD_URLS / DEBUGINFOD_TIMEOUT from (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Called once per server tried, with the outcome (the daemon logs these). */
  readonly onAttempt?: (attempt: DebuginfodAttempt) => void;
}

export interface DebuginfodHit {
  /** The verified debug file in the cache. */
  readonly path: string;
  /** Server it came from (for a cache hit: the server recorded at download time, or ""). */
  readonly url: string;
  readonly cached: boolean;
}

export const DEBUGINFOD_OUTCOMES = [
  'fetched',           // downloaded and verified
  'not-found',         // HTTP 404: the server does not know this build id
  'http-error',        // any other non-200 status, or too many redirects
  'timeout',           // no connection / no progress within the timeout
  'network',           // connection refused, DNS failure, reset, ...
  'too-large',         // announced or actual size above maxBytes
  'not-elf',           // the download is not a readable ELF64 file
  'build-id-mismatch', // the download carries another build id (or none)
  'bad-url',           // not an http(s) URL
  'io',                // the cache could not be written
] as const;
export type DebuginfodOutcome = (typeof DEBUGINFOD_OUTCOMES)[number];

export interface DebuginfodAttempt {
  readonly url: string;
  readonly outcome: DebuginfodOutcome;
  /** One line, e.g. "http://h:8002: HTTP 404 (build id unknown)". */
  readonly reason: string;
}

export class DebuginfodError extends Error {
  readonly code: 'bad-build-id';
  constructor(code: 'bad-build-id', message: string) { super(message); this.name = 'DebuginfodError'; this.code = code; }
}

/** Server list: explicit URLs, else DEBUGINFOD_URLS (space-separated), trailing slashes dropped. */
export function debuginfodUrls(urls: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  const list = urls.length > 0 ? urls : (env['DEBUGINFOD_URLS'] ?? '').split(/\s+/);
  return list.map((u) => u.trim().replace(/\/+$/, '')).filter((u) => u !== '');
}

/** DEBUGINFOD_TIMEOUT is whole seconds in libdebuginfod; garbage falls back to the default. */
export function debuginfodTimeoutMs(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const raw = env['DEBUGINFOD_TIMEOUT'];
  if (raw === undefined || !/^\s*\d+(\.\d+)?\s*$/.test(raw) || Number(raw) <= 0) return DEBUGINFOD_DEFAULTS.timeoutMs;
  return Math.round(Number(raw) * 1000);
}

/** Cache location of one build id's debuginfo. */
export function debuginfodCachePath(cacheDir: string, buildId: string): string {
  return join(cacheDir, buildId, 'debuginfo');
}

/** The first verified debuginfo for `buildId` from the cache or the servers, or undefined. */
export async function fetchDebuginfo(
  buildId: string, urls: readonly string[], cacheDir: string, opts: DebuginfodOptions = {},
): Promise<DebuginfodHit | undefined> {
  return (await queryDebuginfod(buildId, urls, cacheDir, opts)).hit;
}

/** Same as fetchDebuginfo, with every attempt's outcome (for status reasons and logs). */
export async function queryDebuginfod(
  buildIdIn: string, urls: readonly string[], cacheDir: string, opts: DebuginfodOptions = {},
): Promise<{ hit?: DebuginfodHit; attempts: DebuginfodAttempt[] }> {
  const buildId = buildIdIn.toLowerCase();
  if (!/^([0-9a-f]{2}){2,64}$/.test(buildId)) throw new DebuginfodError('bad-build-id', `not a build id: ${JSON.stringify(buildIdIn.slice(0, 140))}`);
  const env = opts.env ?? process.env;
  const timeoutMs = opts.timeoutMs ?? debuginfodTimeoutMs(env);
  const maxBytes = opts.maxBytes ?? DEBUGINFOD_DEFAULTS.maxBytes;
  const attempts: DebuginfodAttempt[] = [];
  const note = (a: DebuginfodAttempt): void => { attempts.push(a); opts.onAttempt?.(a); };

  const finalPath = debuginfodCachePath(cacheDir, buildId);
  const cached = await verifiedCacheEntry(finalPath, buildId);
  if (cached) return { hit: cached, attempts };

  for (const base of debuginfodUrls(urls, env)) {
    const attempt = await tryServer(base, buildId, finalPath, timeoutMs, maxBytes);
    note(attempt);
    if (attempt.outcome === 'fetched') {
      try { writeFileAtomic(join(cacheDir, buildId, 'url'), `${base}\n`); } catch { /* provenance only */ }
      return { hit: { path: finalPath, url: base, cached: false }, attempts };
    }
  }
  return { attempts };
}

/** A cache entry counts only if it still carries the build id; a corrupt one is removed. */
async function verifiedCacheEntry(path: string, buildId: string): Promise<DebuginfodHit | undefined> {
  try { statSync(path); } catch { return undefined; }
  let id: string | undefined;
  try { id = await readElfBuildId(path); } catch { id = undefined; }
  if (id === buildId) {
    let url = '';
    try {
      url = readRegularFileSync(join(path, '..', 'url'), { maxBytes: 64 * 1024, noFollow: true }).toString('utf8').trim();
    } catch { /* no provenance recorded */ }
    return { path, url, cached: true };
  }
  try { unlinkSync(path); } catch { /* already gone */ }
  return undefined;
}

async function tryServer(base: string, buildId: string, finalPath: string, timeoutMs: number, maxBytes: number): Promise<DebuginfodAttempt> {
  let url: URL;
  try { url = new URL(`${base}/buildid/${buildId}/debuginfo`); } catch {
    return { url: base, outcome: 'bad-url', reason: `${base}: not a URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { url: base, outcome: 'bad-url', reason: `${base}: only http and https are supported` };

  let res: IncomingMessage;
  for (let redirects = 0; ; redirects++) {
    const got = await get(url, timeoutMs);
    if ('error' in got) return { url: base, outcome: got.timeout ? 'timeout' : 'network', reason: `${base}: ${got.error}` };
    res = got.res;
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (status >= 300 && status < 400 && location !== undefined) {
      res.resume();
      if (redirects >= DEBUGINFOD_DEFAULTS.maxRedirects) return { url: base, outcome: 'http-error', reason: `${base}: more than ${DEBUGINFOD_DEFAULTS.maxRedirects} redirects` };
      try { url = new URL(location, url); } catch { return { url: base, outcome: 'http-error', reason: `${base}: bad redirect location` }; }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return { url: base, outcome: 'bad-url', reason: `${base}: redirected to a non-http URL` };
      continue;
    }
    if (status === 404) { res.resume(); return { url: base, outcome: 'not-found', reason: `${base}: HTTP 404 (build id ${buildId} unknown)` }; }
    if (status !== 200) { res.resume(); return { url: base, outcome: 'http-error', reason: `${base}: HTTP ${status}` }; }
    break;
  }

  const announced = Number(res.headers['x-debuginfod-size'] ?? res.headers['content-length'] ?? NaN);
  if (Number.isFinite(announced) && announced > maxBytes) {
    res.destroy();
    return { url: base, outcome: 'too-large', reason: `${base}: ${announced} bytes announced, limit ${maxBytes}` };
  }

  const dir = join(finalPath, '..');
  try { mkdirSync(dir, { recursive: true }); } catch (e) {
    res.destroy();
    return { url: base, outcome: 'io', reason: `${dir}: ${oneLine(e)}` };
  }
  const tmp = join(dir, `.debuginfo.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  const dropTmp = (): void => { try { unlinkSync(tmp); } catch { /* never created or already gone */ } };
  const saved = await saveBody(res, tmp, timeoutMs, maxBytes);
  if (saved !== undefined) { dropTmp(); return { url: base, ...saved, reason: `${base}: ${saved.reason}` }; }

  let id: string | undefined;
  try { id = await readElfBuildId(tmp); } catch (e) {
    dropTmp();
    return { url: base, outcome: 'not-elf', reason: `${base}: download is not a usable ELF file (${oneLine(e)})` };
  }
  if (id !== buildId) {
    dropTmp();
    return { url: base, outcome: 'build-id-mismatch', reason: `${base}: download has build id ${id ?? '(none)'}, expected ${buildId}` };
  }
  try {
    renameSync(tmp, finalPath);
    const dfd = openSync(dir, 'r');
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch (e) {
    dropTmp();
    return { url: base, outcome: 'io', reason: `${finalPath}: ${oneLine(e)}` };
  }
  return { url: base, outcome: 'fetched', reason: `${base}: fetched ${buildId}` };
}

type GetResult = { res: IncomingMessage } | { error: string; timeout: boolean };

function get(url: URL, timeoutMs: number): Promise<GetResult> {
  return new Promise((resolve) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
      method: 'GET',
      headers: { 'User-Agent': 'btf-extrad', 'Accept-Encoding': 'identity' },
    }, (res) => { req.setTimeout(0); resolve({ res }); });
    // Idle timeout, like libdebuginfod's: covers connecting and waiting for the headers.
    req.setTimeout(timeoutMs, () => {
      req.destroy();
      resolve({ error: `no answer within ${timeoutMs} ms`, timeout: true });
    });
    req.once('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ? `${e.code} ${e.message}` : e.message, timeout: false }));
    req.end();
  });
}

/** Stream the body to `tmp` and fsync it; undefined on success, else the failed outcome. */
async function saveBody(
  res: IncomingMessage, tmp: string, timeoutMs: number, maxBytes: number,
): Promise<{ outcome: DebuginfodOutcome; reason: string } | undefined> {
  let fh;
  try { fh = await open(tmp, 'wx', 0o644); } catch (e) {
    res.destroy();
    return { outcome: 'io', reason: `${tmp}: ${oneLine(e)}` };
  }
  let received = 0;
  let failure: { outcome: DebuginfodOutcome; reason: string } | undefined;
  const idle = (): void => { failure ??= { outcome: 'timeout', reason: `download stalled for ${timeoutMs} ms` }; res.destroy(); };
  res.setTimeout(timeoutMs, idle);
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      received += chunk.length;
      if (received > maxBytes) {
        failure = { outcome: 'too-large', reason: `download exceeds the limit of ${maxBytes} bytes` };
        res.destroy();
        break;
      }
      await fh.write(chunk);
    }
    if (!failure && !res.complete) failure = { outcome: 'network', reason: `connection closed after ${received} bytes` };
    if (!failure) await fh.sync();
  } catch (e) {
    failure ??= { outcome: res.destroyed && !res.complete ? 'network' : 'io', reason: oneLine(e) };
  } finally {
    await fh.close().catch(() => undefined);
  }
  return failure;
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/[\r\n]+/g, ' ');
}
