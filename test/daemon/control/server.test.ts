import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { startControlServer, resolveGroupId, type ControlServer } from '../../../src/daemon/control/server.js';
import { ControlError, CONTROL_LIMITS } from '../../../src/daemon/control/protocol.js';
import { fakeHandlers, fakeHits, fakeStatus, tempDir } from './fake-handlers.js';

interface RawAnswer { status: number; headers: IncomingHttpHeaders; json: unknown }

/** Plain node:http request, so the tests see status codes and headers the client hides. */
function raw(socketPath: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string | number> = {}, chunked = false): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try { resolve({ status: res.statusCode ?? 0, headers: res.headers, json: JSON.parse(Buffer.concat(chunks).toString()) }); } catch (e) { reject(e); }
      });
    });
    req.on('error', reject);
    if (body !== undefined && chunked) {
      // Several writes without Content-Length: node sends Transfer-Encoding: chunked.
      const b = Buffer.from(body);
      for (let i = 0; i < b.length; i += 8192) req.write(b.subarray(i, i + 8192));
      req.end();
    } else {
      req.end(body);
    }
  });
}

function errorOf(a: RawAnswer): { code: string; message: string } {
  return (a.json as { error: { code: string; message: string } }).error;
}

describe('control server', () => {
  let tmp: ReturnType<typeof tempDir>;
  let sock: string;
  let server: ControlServer | undefined;
  beforeEach(() => { tmp = tempDir('srv'); sock = join(tmp.dir, 'run', 'control.sock'); });
  afterEach(async () => { await server?.close(); server = undefined; tmp.cleanup(); });

  describe('routes', () => {
    let calls: ReturnType<typeof fakeHandlers>['calls'];
    beforeEach(async () => {
      const f = fakeHandlers();
      calls = f.calls;
      server = await startControlServer(sock, f.handlers);
    });

    it('GET /v1/status returns the daemon status', async () => {
      const a = await raw(sock, 'GET', '/v1/status');
      assert.equal(a.status, 200);
      assert.equal(a.headers['content-type'], 'application/json');
      assert.deepEqual(a.json, fakeStatus);
      assert.equal(calls.status, 1);
    });
    it('POST /v1/regen with names passes them on and returns the objects', async () => {
      const a = await raw(sock, 'POST', '/v1/regen', JSON.stringify({ names: ['loop', 'kvm'] }));
      assert.equal(a.status, 200);
      assert.deepEqual(calls.regen, [{ names: ['loop', 'kvm'] }]);
      assert.deepEqual((a.json as { objects: Array<{ name: string; state: string }> }).objects.map((o) => [o.name, o.state]),
        [['loop', 'published'], ['kvm', 'published']]);
    });
    it('POST /v1/regen with all: true', async () => {
      const a = await raw(sock, 'POST', '/v1/regen', JSON.stringify({ all: true }));
      assert.equal(a.status, 200);
      assert.deepEqual(calls.regen, [{ all: true }]);
      assert.equal((a.json as { objects: unknown[] }).objects.length, 5);
    });
    it('GET /v1/lookup?var=NAME returns the hits', async () => {
      const a = await raw(sock, 'GET', '/v1/lookup?var=max_loop');
      assert.equal(a.status, 200);
      assert.deepEqual(a.json, { variable: 'max_loop', hits: fakeHits });
      assert.deepEqual(calls.lookup, ['max_loop']);
    });
    it('GET /v1/lookup decodes the variable name', async () => {
      await raw(sock, 'GET', `/v1/lookup?var=${encodeURIComponent('a b+c')}`);
      assert.deepEqual(calls.lookup, ['a b+c']);
    });
    it('POST /v1/reload calls reload', async () => {
      const a = await raw(sock, 'POST', '/v1/reload');
      assert.equal(a.status, 200);
      assert.deepEqual(a.json, { ok: true });
      assert.equal(calls.reload, 1);
    });
    it('unknown path -> 404 not-found', async () => {
      const a = await raw(sock, 'GET', '/v2/nothing');
      assert.equal(a.status, 404);
      assert.equal(errorOf(a).code, 'not-found');
      assert.match(errorOf(a).message, /no such endpoint: GET \/v2\/nothing/);
    });
    it('wrong method -> 405 method-not-allowed with Allow', async () => {
      const a = await raw(sock, 'POST', '/v1/status', '{}');
      assert.equal(a.status, 405);
      assert.equal(a.headers['allow'], 'GET');
      assert.equal(errorOf(a).code, 'method-not-allowed');
      const b = await raw(sock, 'GET', '/v1/regen');
      assert.equal(b.status, 405);
      assert.equal(b.headers['allow'], 'POST');
    });
    it('regen with a body that is not JSON -> 400 bad-json', async () => {
      const a = await raw(sock, 'POST', '/v1/regen', '{names: [');
      assert.equal(a.status, 400);
      assert.equal(errorOf(a).code, 'bad-json');
      assert.match(errorOf(a).message, /^request body is not JSON: /);
      assert.equal(calls.regen.length, 0);
    });
    for (const [what, body, msg] of [
      ['an array', '[]', /regen body must be/],
      ['all: false', '{"all": false}', /regen body must be/],
      ['names and all', '{"names": ["a"], "all": true}', /regen body must be/],
      ['empty names', '{"names": []}', /"names" is empty/],
      ['a non-string name', '{"names": ["a", 3]}', /names\[1\] must be a non-empty string/],
      ['a name with a newline', '{"names": ["a\\nb"]}', /names\[0\] contains control characters/],
      ['an over-long name', JSON.stringify({ names: ['x'.repeat(300)] }), /names\[0\] is longer than 256/],
      ['too many names', JSON.stringify({ names: Array.from({ length: 4097 }, (_, i) => `m${i}`) }), /more than 4096 names/],
    ] as const) {
      it(`regen with ${what} -> 400 bad-request`, async () => {
        const a = await raw(sock, 'POST', '/v1/regen', body);
        assert.equal(a.status, 400);
        assert.equal(errorOf(a).code, 'bad-request');
        assert.match(errorOf(a).message, msg);
        assert.equal(calls.regen.length, 0);
      });
    }
    it('lookup without var, with two, or with an empty one -> 400 bad-request', async () => {
      for (const q of ['', '?var=a&var=b', '?var=', '?var=%00x']) {
        const a = await raw(sock, 'GET', `/v1/lookup${q}`);
        assert.equal(a.status, 400, q);
        assert.equal(errorOf(a).code, 'bad-request', q);
      }
      assert.equal(calls.lookup.length, 0);
    });
    it('a declared body over the cap -> 413 body-too-large, without calling the handler', async () => {
      const big = Buffer.alloc(CONTROL_LIMITS.maxRequestBytes + 1, 0x20);
      const a = await raw(sock, 'POST', '/v1/regen', big);
      assert.equal(a.status, 413);
      assert.equal(errorOf(a).code, 'body-too-large');
      assert.match(errorOf(a).message, /65537 bytes exceeds 65536/);
      assert.equal(calls.regen.length, 0);
    });
    it('a chunked body over the cap -> 413 body-too-large', async () => {
      const big = Buffer.alloc(200 * 1024, 0x20);
      const a = await raw(sock, 'POST', '/v1/regen', big, {}, true);
      assert.equal(a.status, 413);
      assert.equal(errorOf(a).code, 'body-too-large');
      assert.equal(a.headers['connection'], 'close');
      assert.equal(calls.regen.length, 0);
    });
    it('hangs up on a client that keeps sending after the 413', async () => {
      const s = connect(sock);
      await new Promise((r) => s.once('connect', r));
      let received = '';
      s.on('data', (d) => { received += d.toString(); });
      s.on('error', () => { /* EPIPE after the hang-up is expected */ });
      const closed = new Promise((r) => s.once('close', r));
      s.write('POST /v1/regen HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let sent = 0;
      while (!s.destroyed && sent < 64 * 1024 * 1024) {
        const ok = s.write(`${chunk.length.toString(16)}\r\n`) && s.write(chunk) && s.write('\r\n');
        sent += chunk.length;
        if (!ok) await new Promise((r) => { s.once('drain', r); s.once('close', r); });
      }
      await closed;
      assert.ok(sent < 64 * 1024 * 1024, 'server must hang up long before 64 MiB');
      assert.match(received, /^HTTP\/1\.1 413 /);
    });
    it('maxConnections idle clients (connected, or half a request line sent) lock nobody out: a new client evicts the oldest idle one', async () => {
      const held: Socket[] = [];
      const closedCount = { n: 0 };
      for (let i = 0; i < CONTROL_LIMITS.maxConnections; i++) {
        const s = connect(sock);
        await new Promise((r) => s.once('connect', r));
        s.on('error', () => {});
        s.once('close', () => { closedCount.n++; });
        if (i % 2 === 1) s.write('GET /v1/status HTTP/1.1\r\nHost: x\r\n'); // slowloris: headers never end
        held.push(s);
      }
      const oldestClosed = new Promise((r) => held[0]!.once('close', r));
      // The header deadline is 5 s: these answers come long before it, by eviction alone.
      for (let i = 0; i < 3; i++) assert.equal((await raw(sock, 'GET', '/v1/status')).status, 200);
      await oldestClosed; // the oldest idle connection made room
      assert.ok(closedCount.n >= 1 && closedCount.n < 4, `${closedCount.n} idle connections evicted`);
      for (const s of held) s.destroy();
    });
    it('a second server on the same live socket is refused with socket-in-use', async () => {
      await assert.rejects(startControlServer(sock, fakeHandlers().handlers),
        (e: unknown) => e instanceof ControlError && e.code === 'socket-in-use' && e.message === `${sock}: a running daemon already answers on this socket`);
      // ... and the first one still answers
      assert.equal((await raw(sock, 'GET', '/v1/status')).status, 200);
    });
  });

  describe('connection deadlines', () => {
    const limits = { headersTimeoutMs: 300, requestTimeoutMs: 600, maxConnections: 4 };
    const closeOf = (s: Socket): Promise<string> => new Promise((r) => {
      let got = '';
      s.on('data', (d) => { got += d.toString(); });
      s.on('error', () => {});
      s.once('close', () => r(got));
    });

    it('a connection that sends nothing, or headers that never end, or a body that never ends, is closed at its deadline', async () => {
      server = await startControlServer(sock, fakeHandlers().handlers, { limits });
      const silent = connect(sock);
      const partial = connect(sock);
      partial.once('connect', () => partial.write('GET /v1/status HTTP/1.1\r\nHost: x\r\n'));
      const body = connect(sock);
      body.once('connect', () => body.write('POST /v1/regen HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"na'));
      // Each is closed by the server (the test's own timeout would fail it otherwise); no answer is sent.
      assert.deepEqual(await Promise.all([closeOf(silent), closeOf(partial), closeOf(body)]), ['', '', '']);
    });

    it('a kept-alive connection is closed when idle after its answer; a slow handler is not cut off', async () => {
      const f = fakeHandlers();
      let release: () => void = () => {};
      const gate = new Promise<void>((r) => { release = r; });
      server = await startControlServer(sock, { ...f.handlers, reload: async () => { await gate; } }, { limits });
      const slow = raw(sock, 'POST', '/v1/reload', '');
      await new Promise((r) => setTimeout(r, limits.requestTimeoutMs * 2)); // well past both deadlines
      release();
      assert.equal((await slow).status, 200);
      const s = connect(sock);
      const closed = closeOf(s);
      s.write('GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.match(await closed, /^HTTP\/1\.1 200 /);
    });

    it('when every connection has a request being handled, a new one is dropped; served again after', async () => {
      const f = fakeHandlers();
      let release: () => void = () => {};
      const gate = new Promise<void>((r) => { release = r; });
      server = await startControlServer(sock, { ...f.handlers, reload: async () => { await gate; } }, { limits });
      const busy = Array.from({ length: limits.maxConnections }, () => raw(sock, 'POST', '/v1/reload', ''));
      await new Promise((r) => setTimeout(r, 100));
      await assert.rejects(raw(sock, 'GET', '/v1/status'), (e: unknown) => ['ECONNRESET', 'EPIPE'].includes((e as NodeJS.ErrnoException).code ?? ''));
      release();
      for (const b of busy) assert.equal((await b).status, 200);
      assert.equal((await raw(sock, 'GET', '/v1/status')).status, 200);
    });
  });

  describe('handler failures', () => {
    it('a handler that throws -> 500 internal with its message on one line', async () => {
      server = await startControlServer(sock, fakeHandlers({
        status: () => { throw new Error('boom\nsecond line'); },
        lookup: () => Promise.reject(new Error('merged view unavailable')),
      }).handlers);
      const a = await raw(sock, 'GET', '/v1/status');
      assert.equal(a.status, 500);
      assert.deepEqual(errorOf(a), { code: 'internal', message: 'boom second line' });
      const b = await raw(sock, 'GET', '/v1/lookup?var=x');
      assert.deepEqual(errorOf(b), { code: 'internal', message: 'merged view unavailable' });
    });
    it('a reload that rejects -> 422 reload-failed, old config kept', async () => {
      server = await startControlServer(sock, fakeHandlers({ reload: () => Promise.reject(new Error('config.yaml: policy.default: expected always|on-demand|never')) }).handlers);
      const a = await raw(sock, 'POST', '/v1/reload');
      assert.equal(a.status, 422);
      assert.deepEqual(errorOf(a), { code: 'reload-failed', message: 'config not reloaded (old config kept): config.yaml: policy.default: expected always|on-demand|never' });
    });
    it('a handler ControlError with a wire code keeps its code', async () => {
      server = await startControlServer(sock, fakeHandlers({ regen: () => Promise.reject(new ControlError('bad-request', 'no loaded object named foo')) }).handlers);
      const a = await raw(sock, 'POST', '/v1/regen', '{"names":["foo"]}');
      assert.equal(a.status, 400);
      assert.deepEqual(errorOf(a), { code: 'bad-request', message: 'no loaded object named foo' });
    });
  });

  describe('socket file', () => {
    it('a path too long for sockaddr_un -> io, and nothing is bound at a truncated path', async () => {
      const deep = join(tmp.dir, 'd'.repeat(60), 'e'.repeat(40));
      const long = join(deep, 'control.sock');
      await assert.rejects(startControlServer(long, fakeHandlers().handlers),
        (e: unknown) => e instanceof ControlError && e.code === 'io' && /path too long for a unix socket \(\d+ bytes, at most 107\)/.test(e.message));
      assert.ok(!existsSync(join(tmp.dir, 'd'.repeat(60))), 'no directory or truncated socket created');
    });
    it('a socket directory that cannot be created -> io', async () => {
      writeFileSync(join(tmp.dir, 'file'), '');
      await assert.rejects(startControlServer(join(tmp.dir, 'file', 'control.sock'), fakeHandlers().handlers),
        (e: unknown) => e instanceof ControlError && e.code === 'io' && /cannot create its directory/.test(e.message));
    });
    it('is created 0600 by default, in a directory it creates', async () => {
      server = await startControlServer(sock, fakeHandlers().handlers);
      const st = statSync(sock);
      assert.ok(st.isSocket());
      assert.equal(st.mode & 0o777, 0o600);
    });
    it('leaves the process umask as it was (files written afterwards keep their modes)', async () => {
      const before = join(tmp.dir, 'before');
      writeFileSync(before, 'x', { mode: 0o644 });
      server = await startControlServer(sock, fakeHandlers().handlers);
      const after = join(tmp.dir, 'after');
      writeFileSync(after, 'x', { mode: 0o644 });
      assert.equal(statSync(after).mode & 0o777, statSync(before).mode & 0o777);
    });
    it('is 0660 and owned by the group when one is configured (name or gid)', async () => {
      const groupFile = join(tmp.dir, 'group');
      writeFileSync(groupFile, 'root:x:0:\nbtfx:x:4321:alice\n');
      server = await startControlServer(sock, fakeHandlers().handlers, { group: 'btfx', groupFile });
      const st = statSync(sock);
      assert.equal(st.mode & 0o777, 0o660);
      assert.equal(st.gid, 4321);
      await server.close();
      server = await startControlServer(sock, fakeHandlers().handlers, { group: 77, mode: 0o640 });
      assert.equal(statSync(sock).gid, 77);
      assert.equal(statSync(sock).mode & 0o777, 0o640);
    });
    it('an unknown group -> bad-group, no socket left behind', async () => {
      const groupFile = join(tmp.dir, 'group');
      writeFileSync(groupFile, 'root:x:0:\n');
      await assert.rejects(startControlServer(sock, fakeHandlers().handlers, { group: 'no-such-group-btfx', groupFile }),
        (e: unknown) => e instanceof ControlError && e.code === 'bad-group' && /group "no-such-group-btfx" does not exist/.test(e.message));
      assert.equal(existsSync(sock), false);
      await assert.rejects(resolveGroupId(-1, groupFile), (e: unknown) => e instanceof ControlError && e.code === 'bad-group');
      assert.equal(await resolveGroupId('123', groupFile), 123);
    });
    it('replaces a stale socket left by a killed daemon', async () => {
      // A child listens, then dies by SIGKILL: its socket file stays, nobody accepts on it.
      mkdirSync(join(tmp.dir, 'run'));
      const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise((r) => child.once('exit', r));
      await new Promise((resolve, reject) => {
        child.stdout.once('data', resolve);
        child.once('exit', () => reject(new Error('socket-holding child exited early')));
      });
      child.kill('SIGKILL');
      await exited;
      assert.ok(statSync(sock).isSocket(), 'stale socket file must remain after SIGKILL');
      server = await startControlServer(sock, fakeHandlers().handlers);
      assert.equal((await raw(sock, 'GET', '/v1/status')).status, 200);
    });
    it('refuses to replace a socket another process listens on', async () => {
      mkdirSync(join(tmp.dir, 'run'));
      const other = createServer();
      await new Promise<void>((r) => other.listen(sock, r));
      try {
        await assert.rejects(startControlServer(sock, fakeHandlers().handlers),
          (e: unknown) => e instanceof ControlError && e.code === 'socket-in-use');
      } finally {
        await new Promise((r) => other.close(r));
      }
    });
    it('refuses to replace something that is not a socket', async () => {
      mkdirSync(join(tmp.dir, 'run'));
      writeFileSync(sock, 'precious');
      await assert.rejects(startControlServer(sock, fakeHandlers().handlers),
        (e: unknown) => e instanceof ControlError && e.code === 'not-a-socket' && e.message === `${sock}: exists and is not a socket; not replacing it`);
      assert.equal(readFileSync(sock, 'utf8'), 'precious');
    });
    it('close() removes the socket file, and is idempotent', async () => {
      const s = await startControlServer(sock, fakeHandlers().handlers);
      await s.close();
      await s.close();
      assert.equal(existsSync(sock), false);
    });
    it('close() leaves alone a socket file that a newer daemon put there', async () => {
      const s1 = await startControlServer(sock, fakeHandlers().handlers);
      unlinkSync(sock);
      server = await startControlServer(sock, fakeHandlers().handlers);
      await s1.close();
      assert.ok(existsSync(sock));
      assert.equal((await raw(sock, 'GET', '/v1/status')).status, 200);
    });
  });
});
