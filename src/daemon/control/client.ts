/**
 * Control socket client used by the CLI: one HTTP+JSON request over the unix socket, with a
 * timeout, a response size cap and errors that say what to do ("btf-extrad is not running ...").
 */
import { request } from 'node:http';
import type { DaemonStatus } from '../api.js';
import {
  CONTROL_LIMITS, CONTROL_ROUTES, ControlError, isControlErrorCode, socketPathTooLong,
  type LookupResponse, type RegenResponse,
} from './protocol.js';

export interface ControlRequestOptions {
  /** Whole-request deadline; default 10 s (regen waits for jobs: callers pass more). */
  readonly timeoutMs?: number;
}

export const DEFAULT_CONTROL_TIMEOUT_MS = 10_000;

/** Send one request; resolves with the parsed JSON of a 2xx answer, rejects with a ControlError otherwise. */
export function controlRequest(
  socketPath: string, method: 'GET' | 'POST', path: string, body?: unknown, opts: ControlRequestOptions = {},
): Promise<unknown> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS;
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const tooLong = socketPathTooLong(socketPath);
  if (tooLong) return Promise.reject(tooLong);
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (e: ControlError): void => { if (!settled) { settled = true; clearTimeout(timer); req.destroy(); reject(e); } };
    const req = request({
      socketPath, method, path,
      // One connection per request: a pooled keep-alive socket outlives a daemon restart (EPIPE on reuse).
      agent: false,
      headers: {
        Host: 'btf-extrad',
        ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}),
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > CONTROL_LIMITS.maxResponseBytes) fail(new ControlError('bad-response', `${socketPath}: response larger than ${CONTROL_LIMITS.maxResponseBytes} bytes`));
        else chunks.push(c);
      });
      res.once('error', (e) => fail(new ControlError('bad-response', `${socketPath}: response cut short: ${e.message}`)));
      res.once('aborted', () => fail(new ControlError('bad-response', `${socketPath}: response cut short`)));
      res.once('end', () => {
        if (settled) return;
        const status = res.statusCode ?? 0;
        let json: unknown;
        try { json = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch {
          fail(new ControlError('bad-response', `${socketPath}: answer to ${method} ${path} is not JSON (HTTP ${status})`, status));
          return;
        }
        if (status < 200 || status >= 300) { fail(errorFromEnvelope(json, status, method, path)); return; }
        settled = true;
        clearTimeout(timer);
        resolve(json);
      });
    });
    const timer = setTimeout(() => fail(new ControlError('timeout', `${socketPath}: no answer to ${method} ${path} within ${timeoutMs} ms`)), timeoutMs);
    req.once('error', (e: NodeJS.ErrnoException) => fail(connectError(socketPath, e)));
    req.end(payload);
  });
}

function connectError(socketPath: string, e: NodeJS.ErrnoException): ControlError {
  switch (e.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      return new ControlError('not-running', `btf-extrad is not running (no socket at ${socketPath})`);
    case 'EACCES':
    case 'EPERM':
      return new ControlError('permission-denied', `permission denied on ${socketPath} (run as root or as a member of the control socket's group)`);
    case 'ECONNRESET':
    case 'EPIPE':
      return new ControlError('bad-response', `${socketPath}: the daemon closed the connection without answering`);
    default:
      return new ControlError('io', `${socketPath}: ${e.message}`);
  }
}

function errorFromEnvelope(json: unknown, status: number, method: string, path: string): ControlError {
  const err = typeof json === 'object' && json !== null ? (json as { error?: unknown }).error : undefined;
  if (typeof err === 'object' && err !== null) {
    const { code, message } = err as { code?: unknown; message?: unknown };
    if (isControlErrorCode(code) && typeof message === 'string') return new ControlError(code, message, status);
  }
  return new ControlError('bad-response', `${method} ${path}: HTTP ${status} without an error body`, status);
}

// Typed wrappers (the CLI uses these; shapes are checked just enough to fail cleanly on a foreign server).

export async function fetchStatus(socketPath: string, opts: ControlRequestOptions = {}): Promise<DaemonStatus> {
  const r = await controlRequest(socketPath, 'GET', CONTROL_ROUTES.status.path, undefined, opts);
  if (!isObject(r) || !Array.isArray(r['objects'])) throw new ControlError('bad-response', `${socketPath}: status answer has no "objects" list`);
  return r as unknown as DaemonStatus;
}

export async function requestRegen(
  socketPath: string, target: { readonly names: readonly string[] } | { readonly all: true }, opts: ControlRequestOptions = {},
): Promise<RegenResponse> {
  const r = await controlRequest(socketPath, 'POST', CONTROL_ROUTES.regen.path, target, opts);
  if (!isObject(r) || !Array.isArray(r['objects'])) throw new ControlError('bad-response', `${socketPath}: regen answer has no "objects" list`);
  return r as unknown as RegenResponse;
}

/** Remove the generated companions of `names` from the kernel (and what held their bases). */
export async function requestRelease(socketPath: string, names: readonly string[], opts: ControlRequestOptions = {}): Promise<RegenResponse> {
  const r = await controlRequest(socketPath, 'POST', CONTROL_ROUTES.release.path, { names }, opts);
  if (!isObject(r) || !Array.isArray(r['objects'])) throw new ControlError('bad-response', `${socketPath}: release answer has no "objects" list`);
  return r as unknown as RegenResponse;
}

export async function requestLookup(socketPath: string, variable: string, opts: ControlRequestOptions = {}): Promise<LookupResponse> {
  const path = `${CONTROL_ROUTES.lookup.path}?var=${encodeURIComponent(variable)}`;
  const r = await controlRequest(socketPath, 'GET', path, undefined, opts);
  if (!isObject(r) || !Array.isArray(r['hits'])) throw new ControlError('bad-response', `${socketPath}: lookup answer has no "hits" list`);
  return r as unknown as LookupResponse;
}

export async function requestReload(socketPath: string, opts: ControlRequestOptions = {}): Promise<void> {
  await controlRequest(socketPath, 'POST', CONTROL_ROUTES.reload.path, {}, opts);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
