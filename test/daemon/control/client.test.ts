import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import {
  controlRequest, fetchStatus, requestLookup, requestRegen, requestReload,
} from '../../../src/daemon/control/client.js';
import { ControlError } from '../../../src/daemon/control/protocol.js';
import { startControlServer, type ControlServer } from '../../../src/daemon/control/server.js';
import { fakeHandlers, fakeHits, fakeStatus, tempDir } from './fake-handlers.js';

function isCode(code: string, message?: string | RegExp) {
  return (e: unknown): boolean => {
    if (!(e instanceof ControlError)) throw e;
    assert.equal(e.code, code);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  };
}

describe('control client', () => {
  let tmp: ReturnType<typeof tempDir>;
  let sock: string;
  beforeEach(() => { tmp = tempDir('cli'); sock = join(tmp.dir, 'control.sock'); });
  afterEach(() => tmp.cleanup());

  describe('against the real server', () => {
    let server: ControlServer;
    let calls: ReturnType<typeof fakeHandlers>['calls'];
    beforeEach(async () => {
      const f = fakeHandlers({ reload: () => Promise.reject(new Error('bad key x')) });
      calls = f.calls;
      server = await startControlServer(sock, f.handlers);
    });
    afterEach(() => server.close());

    it('fetchStatus / requestRegen / requestLookup round-trip', async () => {
      assert.deepEqual(await fetchStatus(sock), fakeStatus);
      const r = await requestRegen(sock, { names: ['loop'] });
      assert.deepEqual(r.objects.map((o) => o.name), ['loop']);
      assert.deepEqual(calls.regen, [{ names: ['loop'] }]);
      assert.deepEqual(await requestLookup(sock, 'max_loop'), { variable: 'max_loop', hits: fakeHits });
      assert.deepEqual(await requestLookup(sock, 'a&var=b'), { variable: 'a&var=b', hits: [] });
      assert.deepEqual(calls.lookup, ['max_loop', 'a&var=b']);
    });
    it('turns error envelopes into ControlErrors with the server code and HTTP status', async () => {
      await assert.rejects(requestReload(sock), (e: unknown) => e instanceof ControlError && e.code === 'reload-failed' && e.status === 422
        && e.message === 'config not reloaded (old config kept): bad key x');
      await assert.rejects(controlRequest(sock, 'GET', '/nope'), isCode('not-found'));
      await assert.rejects(controlRequest(sock, 'POST', '/v1/regen', { names: [] }), isCode('bad-request', /"names" is empty/));
    });
  });

  it('works across a daemon restart (no stale pooled connection)', async () => {
    let server = await startControlServer(sock, fakeHandlers().handlers);
    await fetchStatus(sock);
    await server.close();
    await assert.rejects(fetchStatus(sock), isCode('not-running'));
    server = await startControlServer(sock, fakeHandlers().handlers);
    try { assert.deepEqual(await fetchStatus(sock), fakeStatus); } finally { await server.close(); }
  });
  it('other socket errors -> io; a path too long to connect to -> io before connecting', async () => {
    writeFileSync(join(tmp.dir, 'file'), '');
    await assert.rejects(fetchStatus(join(tmp.dir, 'file', 'control.sock')), isCode('io', /ENOTDIR/));
    await assert.rejects(fetchStatus(join(tmp.dir, 'x'.repeat(120), 'control.sock')), isCode('io', /path too long for a unix socket/));
  });
  it('no socket file -> not-running with the path', async () => {
    await assert.rejects(fetchStatus(sock), isCode('not-running', `btf-extrad is not running (no socket at ${sock})`));
  });
  it('a stale socket (nobody listening) -> not-running', async () => {
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((r) => child.once('exit', r));
    await new Promise((r) => child.stdout.once('data', r));
    child.kill('SIGKILL');
    await exited;
    await assert.rejects(fetchStatus(sock), isCode('not-running', `btf-extrad is not running (no socket at ${sock})`));
  });

  describe('misbehaving servers', () => {
    let server: Server | undefined;
    const open = new Set<Socket>();
    afterEach(async () => {
      for (const s of open) s.destroy();
      open.clear();
      if (server) await new Promise((r) => server?.close(r));
      server = undefined;
    });
    const listen = async (s: Server): Promise<void> => {
      server = s;
      s.on('connection', (c: Socket) => { open.add(c); c.on('close', () => open.delete(c)); });
      await new Promise<void>((r) => s.listen(sock, r));
    };

    it('no answer in time -> timeout', async () => {
      await listen(createServer(() => { /* accept and say nothing */ }));
      await assert.rejects(fetchStatus(sock, { timeoutMs: 150 }), isCode('timeout', `${sock}: no answer to GET /v1/status within 150 ms`));
    });
    it('an answer that is not JSON -> bad-response', async () => {
      await listen(createHttpServer((_q, res) => { res.end('<html>'); }));
      await assert.rejects(fetchStatus(sock), isCode('bad-response', /is not JSON \(HTTP 200\)/));
    });
    it('an error status without an envelope -> bad-response', async () => {
      await listen(createHttpServer((_q, res) => { res.statusCode = 502; res.end('{"oops":1}'); }));
      await assert.rejects(fetchStatus(sock), (e: unknown) => e instanceof ControlError && e.code === 'bad-response' && e.status === 502);
    });
    it('JSON of the wrong shape -> bad-response', async () => {
      await listen(createHttpServer((_q, res) => { res.end('{"hello":1}'); }));
      await assert.rejects(fetchStatus(sock), isCode('bad-response', /status answer has no "objects" list/));
      await assert.rejects(requestRegen(sock, { all: true }), isCode('bad-response', /regen answer has no "objects" list/));
      await assert.rejects(requestLookup(sock, 'x'), isCode('bad-response', /lookup answer has no "hits" list/));
    });
    it('a connection dropped mid-answer -> bad-response', async () => {
      await listen(createServer((s) => { s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"objects"'); }));
      await assert.rejects(fetchStatus(sock), (e: unknown) => e instanceof ControlError && e.code === 'bad-response');
    });
    it('a connection closed before any answer -> bad-response', async () => {
      await listen(createServer((s) => { s.destroy(); }));
      await assert.rejects(fetchStatus(sock), isCode('bad-response', `${sock}: the daemon closed the connection without answering`));
    });
  });

  it('a 0600 socket refuses other users -> permission-denied', async function () {
    if (process.getuid?.() !== 0) { this.skip(); return; }
    const server = await startControlServer(sock, fakeHandlers().handlers);
    try {
      // Run the client as nobody in a child; the temp dir and the compiled module must be reachable.
      chmodSync(tmp.dir, 0o755);
      // The compiled client beside this compiled test (dist/ or a private build dir).
      const clientJs = fileURLToPath(new URL('../../../src/daemon/control/client.js', import.meta.url));
      const script = `import(${JSON.stringify(clientJs)}).then((m) => m.fetchStatus(${JSON.stringify(sock)})).then(() => console.log('ok'), (e) => console.log(e.code + ' ' + e.message))`;
      const out = await new Promise<string>((res) => {
        const child = spawn(process.execPath, ['-e', script], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'pipe'] });
        let text = '';
        child.stdout.on('data', (d) => { text += d.toString(); });
        child.stderr.on('data', (d) => { text += d.toString(); });
        child.on('close', () => res(text.trim()));
      });
      if (/Cannot find module|ERR_MODULE_NOT_FOUND|EACCES.*client\.js/.test(out)) { this.skip(); return; }
      assert.equal(out, `permission-denied permission denied on ${sock} (run as root or as a member of the control socket's group)`);
    } finally {
      await server.close();
    }
  });
});
