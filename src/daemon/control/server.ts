/**
 * Control socket server: HTTP+JSON over a unix socket (node:http), serving the daemon core's
 * ControlHandlers. The socket is root-only (0600) unless a group is configured (0660 + chown);
 * a stale socket left by a dead daemon is replaced, a live one is refused. Bad requests get JSON
 * errors with a closed set of codes (see protocol.ts); bodies are size-capped.
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { HOST_DEFAULTS } from '../../host/paths.js';
import type { ControlHandlers } from '../api.js';
import {
  CONTROL_LIMITS, CONTROL_ROUTES, ControlError, isControlErrorCode, socketPathTooLong,
  type ControlErrorCode, type ErrorEnvelope, type LookupResponse, type RegenResponse, type ReloadResponse,
} from './protocol.js';

export interface ControlServerOptions {
  /** Group allowed to use the socket (name or gid); the mode then defaults to 0660. */
  readonly group?: string | number;
  /** Socket file mode; default 0600, or 0660 with a group. */
  readonly mode?: number;
  /** Where group names are resolved first (default /etc/group; `getent group` is the fallback). */
  readonly groupFile?: string;
  /** Connection limits (tests shorten them); default CONTROL_LIMITS. */
  readonly limits?: Partial<ConnectionLimits>;
}

export interface ConnectionLimits {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly maxConnections: number;
}

export interface ControlServer { close(): Promise<void> }

const HTTP_STATUS: Readonly<Partial<Record<ControlErrorCode, number>>> = {
  'not-found': 404,
  'method-not-allowed': 405,
  'bad-json': 400,
  'bad-request': 400,
  'body-too-large': 413,
  'reload-failed': 422,
  'internal': 500,
};

/** A hostile client may keep sending after a 413; read at most this much more before hanging up. */
const DRAIN_LIMIT = 4 * 1024 * 1024;

export async function startControlServer(
  socketPath: string, handlers: ControlHandlers, opts: ControlServerOptions = {},
): Promise<ControlServer> {
  const gid = opts.group === undefined ? undefined : await resolveGroupId(opts.group, opts.groupFile ?? HOST_DEFAULTS.groupFile);
  const mode = opts.mode ?? (gid === undefined ? 0o600 : 0o660);
  // Bound under a temporary name beside it (below): that longer name must fit too.
  const bindPath = join(dirname(socketPath), `.ctl-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  const tooLong = socketPathTooLong(socketPath, bindPath);
  if (tooLong) throw tooLong;
  try { mkdirSync(dirname(socketPath), { recursive: true, mode: 0o755 }); } catch (e) {
    throw new ControlError('io', `${socketPath}: cannot create its directory: ${errorText(e)}`);
  }
  await removeStaleSocket(socketPath);

  const limits: ConnectionLimits = { ...CONTROL_LIMITS, ...opts.limits };
  // Node checks headersTimeout/requestTimeout only every connectionsCheckingInterval (30 s by
  // default): our own per-connection deadlines (guardConnections) do the real work.
  const server = createServer({ connectionsCheckingInterval: 1000 }, (req, res) => {
    handleRequest(req, res, handlers).catch((e: unknown) => {
      // handleRequest answers every error itself; this only guards against a failure while answering.
      if (!res.headersSent) sendError(res, new ControlError('internal', errorText(e)));
      else res.destroy();
    });
  });
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  guardConnections(server, limits);

  // Bind under a temporary name, set mode/owner, then rename into place: the socket never shows
  // at its real path with the wrong permissions, and libuv (which unlinks the path it bound when the
  // server closes) can never remove a newer daemon's socket. The umask covers the moment between
  // bind and chmod (it cannot be changed in worker threads; chmod alone then has to do).
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => { reject(new ControlError('io', `${socketPath}: cannot listen: ${e.message}`)); };
    server.once('error', onError);
    // bind() happens synchronously inside listen() for unix sockets: restore the umask right
    // after, so files the rest of the daemon writes meanwhile keep their normal modes.
    let oldUmask: number | undefined;
    try { oldUmask = process.umask(0o177); } catch { /* worker thread */ }
    try {
      server.listen(bindPath, () => { server.off('error', onError); resolve(); });
    } finally {
      if (oldUmask !== undefined) process.umask(oldUmask);
    }
  });
  try {
    if (gid !== undefined) chownSync(bindPath, -1, gid);
    chmodSync(bindPath, mode);
    renameSync(bindPath, socketPath);
  } catch (e) {
    await new Promise<void>((resolve) => { server.close(() => resolve()); });
    throw new ControlError('io', `${socketPath}: cannot put the control socket in place: ${errorText(e)}`);
  }
  const ours = statSync(socketPath);

  let closed: Promise<void> | undefined;
  return {
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }).then(() => {
        // Remove the file only if it is still ours (a new daemon may have replaced it).
        try {
          const now = statSync(socketPath);
          if (now.ino === ours.ino && now.dev === ours.dev) unlinkSync(socketPath);
        } catch { /* already gone */ }
      });
      return closed;
    },
  };
}

/**
 * Per-connection deadlines and a bounded connection count that idle clients cannot exhaust:
 * - a connection must send complete headers within headersTimeoutMs of connecting (or of its
 *   previous answer, when kept alive), and its whole request body within requestTimeoutMs;
 *   then it is destroyed (the handler's own time, e.g. a long regen, is not limited);
 * - at maxConnections, a new client evicts the oldest connection that has no complete request
 *   being handled; only when every connection is being served is the new one dropped.
 */
function guardConnections(server: Server, limits: ConnectionLimits): void {
  interface Conn { handling: boolean; deadline: NodeJS.Timeout | undefined }
  const conns = new Map<Socket, Conn>(); // insertion order = oldest first
  const arm = (socket: Socket, c: Conn, ms: number): void => {
    clearTimeout(c.deadline);
    c.deadline = setTimeout(() => socket.destroy(), ms);
    c.deadline.unref();
  };
  server.on('connection', (socket: Socket) => {
    if (conns.size >= limits.maxConnections) {
      const victim = [...conns].find(([, c]) => !c.handling);
      if (victim === undefined) { socket.destroy(); return; }
      victim[0].destroy();
      conns.delete(victim[0]);
    }
    const c: Conn = { handling: false, deadline: undefined };
    conns.set(socket, c);
    arm(socket, c, limits.headersTimeoutMs);
    socket.once('close', () => { clearTimeout(c.deadline); conns.delete(socket); });
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    const c = conns.get(socket);
    if (c === undefined) return;
    arm(socket, c, limits.requestTimeoutMs);
    // The body may end after the answer went out (a GET's empty body is drained): then the
    // connection is already idle again.
    const handled = (): void => {
      if (res.writableFinished) return;
      clearTimeout(c.deadline);
      c.deadline = undefined;
      c.handling = true;
    };
    const idle = (): void => { c.handling = false; if (!socket.destroyed) arm(socket, c, limits.headersTimeoutMs); };
    if (req.complete) handled(); else req.once('end', handled);
    if (res.writableFinished) idle(); else res.once('finish', idle);
  });
}

/** Replace a socket file nobody listens on; refuse a live one, and anything that is not a socket. */
async function removeStaleSocket(socketPath: string): Promise<void> {
  let st;
  try { st = lstatSync(socketPath); } catch { return; }
  if (!st.isSocket()) throw new ControlError('not-a-socket', `${socketPath}: exists and is not a socket; not replacing it`);
  const live = await new Promise<boolean>((resolve) => {
    const sock = connect(socketPath);
    sock.setTimeout(1000);
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    // A daemon too busy to accept within a second is still alive: never steal its socket.
    sock.once('timeout', () => { sock.destroy(); resolve(true); });
    sock.once('error', (e: NodeJS.ErrnoException) => { resolve(e.code !== 'ECONNREFUSED' && e.code !== 'ENOENT'); });
  });
  if (live) throw new ControlError('socket-in-use', `${socketPath}: a running daemon already answers on this socket`);
  try { unlinkSync(socketPath); } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new ControlError('io', `${socketPath}: cannot remove stale socket: ${errorText(e)}`);
  }
}

/** Group name or gid -> gid: numeric as is, else the group file, else `getent group` (NSS groups). */
export async function resolveGroupId(group: string | number, groupFile: string): Promise<number> {
  if (typeof group === 'number') {
    if (!Number.isInteger(group) || group < 0) throw new ControlError('bad-group', `invalid group id ${group}`);
    return group;
  }
  if (/^\d+$/.test(group)) return Number(group);
  const fromLine = (text: string): number | undefined => {
    for (const line of text.split('\n')) {
      const [name, , gid] = line.split(':');
      if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
    }
    return undefined;
  };
  try {
    const gid = fromLine(readFileSync(groupFile, 'utf8'));
    if (gid !== undefined) return gid;
  } catch { /* fall through to getent */ }
  const viaGetent = await new Promise<number | undefined>((resolve) => {
    execFile('getent', ['group', group], { timeout: 5000 }, (err, stdout) => { resolve(err ? undefined : fromLine(stdout)); });
  });
  if (viaGetent !== undefined) return viaGetent;
  throw new ControlError('bad-group', `group "${group}" does not exist (control socket group)`);
}

async function handleRequest(req: IncomingMessage, res: ServerResponse, handlers: ControlHandlers): Promise<void> {
  let url: URL;
  try { url = new URL(req.url ?? '/', 'http://control'); } catch {
    drain(req); sendError(res, new ControlError('bad-request', 'malformed request URL')); return;
  }
  const route = Object.values(CONTROL_ROUTES).find((r) => r.path === url.pathname);
  if (!route) { drain(req); sendError(res, new ControlError('not-found', `no such endpoint: ${req.method ?? '?'} ${url.pathname.slice(0, 200)}`)); return; }
  if (req.method !== route.method) {
    drain(req);
    res.setHeader('Allow', route.method);
    sendError(res, new ControlError('method-not-allowed', `${url.pathname} takes ${route.method}, not ${req.method ?? '?'}`));
    return;
  }
  try {
    switch (route.path) {
      case CONTROL_ROUTES.status.path:
        drain(req);
        sendJson(res, 200, handlers.status());
        return;
      case CONTROL_ROUTES.lookup.path: {
        drain(req);
        const vars = url.searchParams.getAll('var');
        if (vars.length !== 1) throw new ControlError('bad-request', 'lookup takes exactly one ?var=NAME');
        const variable = checkName(vars[0] ?? '', 'var');
        const body: LookupResponse = { variable, hits: await handlers.lookup(variable) };
        sendJson(res, 200, body);
        return;
      }
      case CONTROL_ROUTES.regen.path: {
        const target = parseRegen(await readJsonBody(req));
        const body: RegenResponse = { objects: await handlers.regen(target) };
        sendJson(res, 200, body);
        return;
      }
      case CONTROL_ROUTES.release.path: {
        const target = parseRegen(await readJsonBody(req));
        if (!('names' in target)) throw new ControlError('bad-request', 'release body must be {"names": [...]}');
        const body: RegenResponse = { objects: await handlers.release(target.names) };
        sendJson(res, 200, body);
        return;
      }
      case CONTROL_ROUTES.reload.path: {
        await readBody(req);
        try { await handlers.reload(); } catch (e) {
          throw e instanceof ControlError ? e : new ControlError('reload-failed', `config not reloaded (old config kept): ${errorText(e)}`);
        }
        const body: ReloadResponse = { ok: true };
        sendJson(res, 200, body);
        return;
      }
    }
  } catch (e) {
    const err = e instanceof ControlError && HTTP_STATUS[e.code] !== undefined ? e : new ControlError('internal', errorText(e));
    if (err.code === 'body-too-large') {
      res.setHeader('Connection', 'close');
      drain(req, DRAIN_LIMIT);
    }
    sendError(res, err);
  }
}

function parseRegen(body: unknown): { names: readonly string[] } | { all: true } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ControlError('bad-request', 'regen body must be {"names": [...]} or {"all": true}');
  const o = body as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1 && o['all'] === true) return { all: true };
  if (keys.length === 1 && Array.isArray(o['names'])) {
    const names = o['names'] as unknown[];
    if (names.length === 0) throw new ControlError('bad-request', 'regen: "names" is empty (use {"all": true} for every object)');
    if (names.length > CONTROL_LIMITS.maxRegenNames) throw new ControlError('bad-request', `regen: more than ${CONTROL_LIMITS.maxRegenNames} names`);
    return { names: names.map((n, i) => checkName(n, `names[${i}]`)) };
  }
  throw new ControlError('bad-request', 'regen body must be {"names": [...]} or {"all": true}');
}

/** Object and variable names: non-empty, bounded, no control characters (they end up in logs). */
function checkName(x: unknown, what: string): string {
  if (typeof x !== 'string' || x.length === 0) throw new ControlError('bad-request', `${what} must be a non-empty string`);
  if (x.length > CONTROL_LIMITS.maxNameLength) throw new ControlError('bad-request', `${what} is longer than ${CONTROL_LIMITS.maxNameLength} characters`);
  if (/[\u0000-\u001f\u007f]/.test(x)) throw new ControlError('bad-request', `${what} contains control characters`);
  return x;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > CONTROL_LIMITS.maxRequestBytes) {
    return Promise.reject(new ControlError('body-too-large', `request body of ${declared} bytes exceeds ${CONTROL_LIMITS.maxRequestBytes}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > CONTROL_LIMITS.maxRequestBytes) {
        done = true;
        req.off('data', onData);
        reject(new ControlError('body-too-large', `request body exceeds ${CONTROL_LIMITS.maxRequestBytes} bytes`));
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => { if (!done) { done = true; resolve(Buffer.concat(chunks)); } });
    req.once('error', (e) => { if (!done) { done = true; reject(new ControlError('bad-request', `request body: ${e.message}`)); } });
  });
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const bytes = await readBody(req);
  try { return JSON.parse(bytes.toString('utf8')) as unknown; } catch (e) {
    throw new ControlError('bad-json', `request body is not JSON: ${errorText(e)}`);
  }
}

/** Discard what is left of a request body, hanging up if the client sends more than `limit`. */
function drain(req: IncomingMessage, limit = CONTROL_LIMITS.maxRequestBytes): void {
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > limit) req.socket.destroy();
  });
  req.resume();
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, err: ControlError): void {
  const code = isControlErrorCode(err.code) && HTTP_STATUS[err.code] !== undefined ? err.code : 'internal';
  const envelope: ErrorEnvelope = { error: { code, message: err.message } };
  sendJson(res, HTTP_STATUS[code] ?? 500, envelope);
}

function errorText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/[\r\n]+/g, ' ');
}
