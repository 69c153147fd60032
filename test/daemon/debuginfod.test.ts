import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import {
  DebuginfodError, debuginfodCachePath, debuginfodTimeoutMs, debuginfodUrls, fetchDebuginfo, queryDebuginfod,
  type DebuginfodAttempt,
} from '../../src/daemon/debuginfod.js';
import { readElfBuildId } from '../../src/host/elf-build-id.js';
import { fixture } from '../support/paths.js';
import { tempDir } from './control/fake-handlers.js';

/** module -> build id, from the fixtures' build-ids.tsv (the oracle, not our reader). */
function expectedBuildIds(): Map<string, string> {
  const lines = readFileSync(fixture('kernel/build-ids.tsv'), 'utf8').trim().split('\n').slice(1);
  return new Map(lines.map((l) => { const [m, , id] = l.split('\t'); return [m ?? '', id ?? '']; }));
}
const ids = expectedBuildIds();
const loopId = ids.get('loop') ?? '';
const crc7Id = ids.get('crc7') ?? '';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A throwaway local HTTP server; `handler` decides each answer. */
async function fakeServer(handler: Handler): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer(handler);
  const sockets = new Set<Socket>();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`, server,
    close: async () => { for (const s of sockets) s.destroy(); await new Promise((r) => server.close(r)); },
  };
}

function cacheFiles(cacheDir: string): string[] {
  if (!existsSync(cacheDir)) return [];
  return readdirSync(cacheDir, { recursive: true }).map(String).sort();
}

describe('debuginfod client', () => {
  let tmp: ReturnType<typeof tempDir>;
  let cache: string;
  beforeEach(() => { tmp = tempDir('dbgi'); cache = join(tmp.dir, 'cache'); });
  afterEach(() => tmp.cleanup());

  it('reads DEBUGINFOD_URLS and DEBUGINFOD_TIMEOUT', () => {
    assert.deepEqual(debuginfodUrls([], { DEBUGINFOD_URLS: ' http://a:1/  https://b/x//\n' }), ['http://a:1', 'https://b/x']);
    assert.deepEqual(debuginfodUrls(['http://c'], { DEBUGINFOD_URLS: 'http://a' }), ['http://c']);
    assert.deepEqual(debuginfodUrls([], {}), []);
    assert.equal(debuginfodTimeoutMs({ DEBUGINFOD_TIMEOUT: '7' }), 7000);
    assert.equal(debuginfodTimeoutMs({ DEBUGINFOD_TIMEOUT: 'soon' }), 90_000);
    assert.equal(debuginfodTimeoutMs({}), 90_000);
  });

  it('rejects something that is not a build id with bad-build-id', async () => {
    for (const bad of ['', 'xyz', '../../etc/passwd', 'abc']) {
      await assert.rejects(fetchDebuginfo(bad, ['http://127.0.0.1:1'], cache),
        (e: unknown) => e instanceof DebuginfodError && e.code === 'bad-build-id' && e.message.startsWith('not a build id: '));
    }
  });

  it('no servers and nothing cached -> undefined, no attempts', async () => {
    const r = await queryDebuginfod(loopId, [], cache, { env: {} });
    assert.equal(r.hit, undefined);
    assert.deepEqual(r.attempts, []);
  });

  describe('against fake servers', () => {
    const servers: Array<{ close(): Promise<void> }> = [];
    afterEach(async () => { for (const s of servers.splice(0)) await s.close(); });
    const serve = async (h: Handler): Promise<string> => {
      const s = await fakeServer(h);
      servers.push(s);
      return s.url;
    };
    const serveFile = (file: string): Handler => (_q, res) => {
      const bytes = readFileSync(file);
      res.writeHead(200, { 'Content-Length': bytes.length, 'X-DEBUGINFOD-SIZE': bytes.length });
      res.end(bytes);
    };

    it('404 -> tries the next URL; the fetched file is verified and cached atomically', async () => {
      const paths: string[] = [];
      const missing = await serve((q, res) => { paths.push(q.url ?? ''); res.statusCode = 404; res.end('not found'); });
      const good = await serve(serveFile(fixture('kernel/debug/loop.ko')));
      const seen: DebuginfodAttempt[] = [];
      const r = await queryDebuginfod(loopId, [missing, good], cache, { onAttempt: (a) => seen.push(a) });
      assert.deepEqual(paths, [`/buildid/${loopId}/debuginfo`]);
      assert.deepEqual(r.attempts.map((a) => a.outcome), ['not-found', 'fetched']);
      assert.equal(r.attempts[0]?.reason, `${missing}: HTTP 404 (build id ${loopId} unknown)`);
      assert.deepEqual(seen, r.attempts);
      assert.deepEqual(r.hit, { path: debuginfodCachePath(cache, loopId), url: good, cached: false });
      assert.equal(await readElfBuildId(r.hit?.path ?? ''), loopId);
      assert.deepEqual(readFileSync(r.hit?.path ?? ''), readFileSync(fixture('kernel/debug/loop.ko')));
      assert.deepEqual(cacheFiles(cache), [loopId, `${loopId}/debuginfo`, `${loopId}/url`], 'no temp files left');
    });

    it('a second fetch is served from the cache without asking a server', async () => {
      let hits = 0;
      const good = await serve((q, res) => { hits += 1; serveFile(fixture('kernel/debug/loop.ko'))(q, res); });
      await fetchDebuginfo(loopId, [good], cache);
      const again = await fetchDebuginfo(loopId, ['http://127.0.0.1:1'], cache);
      assert.equal(hits, 1);
      assert.deepEqual(again, { path: debuginfodCachePath(cache, loopId), url: good, cached: true });
    });

    it('a corrupt cache entry is discarded and fetched again', async () => {
      mkdirSync(join(cache, loopId), { recursive: true });
      copyFileSync(fixture('kernel/debug/crc7.ko'), debuginfodCachePath(cache, loopId));
      const good = await serve(serveFile(fixture('kernel/debug/loop.ko')));
      const r = await fetchDebuginfo(loopId, [good], cache);
      assert.equal(r?.cached, false);
      assert.equal(await readElfBuildId(r?.path ?? ''), loopId);
    });

    it('a FIFO as the cached file or as its url is not waited on: a FIFO entry is replaced by a fresh fetch', async function () {
      this.timeout(10000);
      const good = await serve(serveFile(fixture('kernel/debug/loop.ko')));
      mkdirSync(join(cache, loopId), { recursive: true });
      spawnSync('mkfifo', [debuginfodCachePath(cache, loopId)]);
      const r = await fetchDebuginfo(loopId, [good], cache);
      assert.equal(r?.cached, false);
      assert.equal(await readElfBuildId(r?.path ?? ''), loopId);
      spawnSync('mkfifo', [join(cache, loopId, 'url.fifo')]);
      renameSync(join(cache, loopId, 'url.fifo'), join(cache, loopId, 'url'));
      assert.deepEqual(await fetchDebuginfo(loopId, ['http://127.0.0.1:1'], cache), { path: debuginfodCachePath(cache, loopId), url: '', cached: true });
    });

    it('a download with another build id is refused and not kept', async () => {
      const wrong = await serve(serveFile(fixture('kernel/debug/crc7.ko')));
      const r = await queryDebuginfod(loopId, [wrong], cache);
      assert.equal(r.hit, undefined);
      assert.deepEqual(r.attempts, [{ url: wrong, outcome: 'build-id-mismatch', reason: `${wrong}: download has build id ${crc7Id}, expected ${loopId}` }]);
      assert.deepEqual(cacheFiles(cache), [loopId], 'only the empty build-id directory remains');
    });

    it('a download that is not ELF -> not-elf', async () => {
      const html = await serve((_q, res) => { res.end('<html>proxy login</html>'.repeat(10)); });
      const r = await queryDebuginfod(loopId, [html], cache);
      assert.equal(r.attempts[0]?.outcome, 'not-elf');
      assert.match(r.attempts[0]?.reason ?? '', /download is not a usable ELF file \(.*not an ELF file\)$/);
      assert.deepEqual(cacheFiles(cache), [loopId]);
    });

    it('announced size over maxBytes -> too-large before downloading', async () => {
      const good = await serve(serveFile(fixture('kernel/debug/loop.ko')));
      const r = await queryDebuginfod(loopId, [good], cache, { maxBytes: 1000 });
      assert.equal(r.attempts[0]?.outcome, 'too-large');
      assert.match(r.attempts[0]?.reason ?? '', /: 656192 bytes announced, limit 1000$/);
    });

    it('a streamed body over maxBytes -> too-large, temp file removed', async () => {
      const chunked = await serve((_q, res) => { res.write(Buffer.alloc(3000)); res.end(Buffer.alloc(3000)); });
      const r = await queryDebuginfod(loopId, [chunked], cache, { maxBytes: 4000 });
      assert.equal(r.attempts[0]?.outcome, 'too-large');
      assert.equal(r.attempts[0]?.reason, `${chunked}: download exceeds the limit of 4000 bytes`);
      assert.deepEqual(cacheFiles(cache), [loopId]);
    });

    it('no answer -> timeout (DEBUGINFOD_TIMEOUT or timeoutMs), then the next URL', async () => {
      const silent = await serve(() => { /* never answers */ });
      const good = await serve(serveFile(fixture('kernel/debug/loop.ko')));
      const r = await queryDebuginfod(loopId, [silent, good], cache, { timeoutMs: 200 });
      assert.deepEqual(r.attempts.map((a) => a.outcome), ['timeout', 'fetched']);
      assert.equal(r.attempts[0]?.reason, `${silent}: no answer within 200 ms`);
      const r2 = await queryDebuginfod(crc7Id, [silent], cache, { env: { DEBUGINFOD_TIMEOUT: '1' } });
      assert.equal(r2.attempts[0]?.reason, `${silent}: no answer within 1000 ms`);
    });

    it('a stalled body -> timeout', async () => {
      const stall = await serve((_q, res) => { res.writeHead(200, { 'Content-Length': 10_000 }); res.write(Buffer.alloc(100)); });
      const r = await queryDebuginfod(loopId, [stall], cache, { timeoutMs: 200 });
      assert.equal(r.attempts[0]?.outcome, 'timeout');
      assert.equal(r.attempts[0]?.reason, `${stall}: download stalled for 200 ms`);
    });

    it('a body cut short -> network', async () => {
      const cut = await serve((_q, res) => { res.writeHead(200, { 'Content-Length': 10_000 }); res.write(Buffer.alloc(100), () => res.destroy()); });
      const r = await queryDebuginfod(loopId, [cut], cache);
      assert.equal(r.attempts[0]?.outcome, 'network');
      assert.deepEqual(cacheFiles(cache), [loopId]);
    });

    it('other HTTP statuses -> http-error; redirects are followed', async () => {
      const broken = await serve((_q, res) => { res.statusCode = 503; res.end(); });
      const good = await serve(serveFile(fixture('kernel/debug/loop.ko')));
      const redirect = await serve((q, res) => { res.writeHead(302, { Location: `${good}${q.url ?? ''}` }); res.end(); });
      const r = await queryDebuginfod(loopId, [broken, redirect], cache);
      assert.deepEqual(r.attempts.map((a) => a.reason), [`${broken}: HTTP 503`, `${redirect}: fetched ${loopId}`]);
      assert.equal(r.hit?.url, redirect);
      const loop = await serve((q, res) => { res.writeHead(302, { Location: q.url ?? '/' }); res.end(); });
      const r2 = await queryDebuginfod(crc7Id, [loop], cache);
      assert.deepEqual(r2.attempts, [{ url: loop, outcome: 'http-error', reason: `${loop}: more than 5 redirects` }]);
    });

    it('connection refused -> network; bad URLs -> bad-url', async () => {
      const dead = await serve(() => undefined);
      await servers.pop()?.close();
      const r = await queryDebuginfod(loopId, [dead, 'ftp://example.org', 'not a url'], cache);
      assert.deepEqual(r.attempts.map((a) => a.outcome), ['network', 'bad-url', 'bad-url']);
      assert.match(r.attempts[0]?.reason ?? '', /ECONNREFUSED/);
      assert.equal(r.attempts[1]?.reason, 'ftp://example.org: only http and https are supported');
      assert.equal(r.attempts[2]?.reason, 'not a url: not a URL');
    });

    it('an unwritable cache -> io', async () => {
      writeFileSync(join(tmp.dir, 'file'), 'x');
      const good = await serve(serveFile(fixture('kernel/debug/loop.ko')));
      const r = await queryDebuginfod(loopId, [good], join(tmp.dir, 'file', 'cache'));
      assert.equal(r.attempts[0]?.outcome, 'io');
      assert.match(r.attempts[0]?.reason ?? '', /ENOTDIR/);
    });
  });

  describe('against a real debuginfod server', function () {
    this.timeout(60_000);
    let child: ChildProcess | undefined;
    let url = '';
    let serverDir: ReturnType<typeof tempDir>;

    before(async function () {
      if (spawnSync('debuginfod', ['--version']).error) {
        process.stderr.write('skipping real debuginfod tests: the debuginfod binary is not installed (Debian package debuginfod)\n');
        this.skip();
      }
      serverDir = tempDir('dbgd');
      // It listens on every interface: a random high port, and only ever contacted on loopback.
      for (let tries = 0; tries < 5 && !url; tries++) {
        const port = 20000 + Math.floor(Math.random() * 40000);
        const c = spawn('debuginfod', ['-F', '-p', String(port), '-d', join(serverDir.dir, `db-${port}.sqlite`), '-t', '0', '-g', '0', fixture('kernel/debug')],
          { stdio: 'ignore' });
        let exited = false;
        c.once('exit', () => { exited = true; });
        const candidate = `http://127.0.0.1:${port}`;
        const deadline = Date.now() + 30_000;
        while (!exited && Date.now() < deadline) {
          // Ready once the initial scan has indexed the fixtures.
          const status = await fetch(`${candidate}/buildid/${loopId}/debuginfo`, { method: 'GET' }).then((r) => { void r.body?.cancel(); return r.status; }, () => 0);
          if (status === 200) { url = candidate; child = c; break; }
          await new Promise((r) => setTimeout(r, 100));
        }
        if (!url) c.kill('SIGKILL');
      }
      if (!url) throw new Error('debuginfod did not become ready on any of 5 random ports');
    });
    after(async () => {
      if (child && child.exitCode === null) {
        const gone = new Promise((r) => child?.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
      serverDir?.cleanup();
    });

    it('fetches every fixture module by build id, matching build-ids.tsv', async () => {
      for (const name of ['loop', 'crc7', 'cordic', 'tcp_bbr']) {
        const id = ids.get(name) ?? '';
        const hit = await fetchDebuginfo(id, [url], cache);
        assert.ok(hit, `${name} not fetched`);
        assert.equal(hit.url, url);
        assert.equal(await readElfBuildId(hit.path), id, name);
      }
    });
    it('honours DEBUGINFOD_URLS when no URLs are given, and reports 404 for unknown ids', async () => {
      const hit = await fetchDebuginfo(loopId, [], cache, { env: { DEBUGINFOD_URLS: `http://127.0.0.1:1 ${url}` } });
      assert.equal(hit?.url, url);
      const unknown = 'ab'.repeat(20);
      const r = await queryDebuginfod(unknown, [url], cache);
      assert.deepEqual(r.attempts, [{ url, outcome: 'not-found', reason: `${url}: HTTP 404 (build id ${unknown} unknown)` }]);
    });
  });
});
