/**
 * Wire protocol of the control socket, shared by server.ts and client.ts: routes, size limits,
 * the JSON error envelope and the one error class both sides throw (closed `code` union).
 */
import type { LookupHit, ObjectStatus } from '../api.js';

export const CONTROL_ROUTES = {
  status: { method: 'GET', path: '/v1/status' },
  regen: { method: 'POST', path: '/v1/regen' },
  lookup: { method: 'GET', path: '/v1/lookup' },
  reload: { method: 'POST', path: '/v1/reload' },
  release: { method: 'POST', path: '/v1/release' },
} as const;

export const CONTROL_LIMITS = {
  /** Request bodies are tiny ({names: [...]}); anything larger is hostile or a bug. */
  maxRequestBytes: 64 * 1024,
  /** A status of thousands of objects stays well below this. */
  maxResponseBytes: 32 * 1024 * 1024,
  maxNameLength: 256,
  maxRegenNames: 4096,
  /** Time a client gets to send its headers / whole request (not the time a regen may take). */
  headersTimeoutMs: 5_000,
  /** Concurrent client connections; more are dropped (a CLI uses one at a time). */
  maxConnections: 64,
  requestTimeoutMs: 10_000,
} as const;

/** Response bodies of the non-status routes (status returns the DaemonStatus itself). */
export interface RegenResponse { readonly objects: readonly ObjectStatus[] }
export interface LookupResponse { readonly variable: string; readonly hits: readonly LookupHit[] }
export interface ReloadResponse { readonly ok: true }

/**
 * sockaddr_un holds 108 bytes with the NUL: a longer path is silently truncated by bind/connect,
 * which would create or reach a socket at another path. Both ends refuse such paths.
 */
export const MAX_SOCKET_PATH_BYTES = 107;

/** The 'io' error for a socket path too long to bind or connect, or undefined when it fits. */
export function socketPathTooLong(socketPath: string, boundAs = socketPath): ControlError | undefined {
  const n = Buffer.byteLength(boundAs);
  return n > MAX_SOCKET_PATH_BYTES
    ? new ControlError('io', `${socketPath}: path too long for a unix socket (${n} bytes, at most ${MAX_SOCKET_PATH_BYTES}): use a shorter runtimeDir or --root`)
    : undefined;
}

export const CONTROL_ERROR_CODES = [
  // server side (also sent on the wire in the error envelope)
  'not-found',        // unknown path (404)
  'method-not-allowed', // known path, wrong method (405)
  'bad-json',         // body is not JSON (400)
  'bad-request',      // JSON of the wrong shape, missing/invalid parameter (400)
  'body-too-large',   // request body over CONTROL_LIMITS.maxRequestBytes (413)
  'reload-failed',    // the new config is invalid; the old one is kept (422)
  'internal',         // a handler threw (500)
  'socket-in-use',    // another live process answers on the socket path
  'not-a-socket',     // something that is not a socket sits at the path
  'bad-group',        // the configured group does not exist
  // client side
  'not-running',      // ENOENT / ECONNREFUSED: no daemon behind the path
  'permission-denied', // EACCES / EPERM on the socket
  'timeout',          // no complete answer in time
  'bad-response',     // answer is not JSON, too large, or cut short
  'io',               // any other socket error
] as const;
export type ControlErrorCode = (typeof CONTROL_ERROR_CODES)[number];

/** What an error response carries: `{"error": {"code": ..., "message": ...}}`. */
export interface ErrorEnvelope { readonly error: { readonly code: ControlErrorCode; readonly message: string } }

export class ControlError extends Error {
  readonly code: ControlErrorCode;
  /** HTTP status when the error came from (or goes to) the wire. */
  readonly status: number | undefined;
  constructor(code: ControlErrorCode, message: string, status?: number) {
    super(message.replace(/[\r\n]+/g, ' '));
    this.name = 'ControlError';
    this.code = code;
    this.status = status;
  }
}

export function isControlErrorCode(x: unknown): x is ControlErrorCode {
  return typeof x === 'string' && (CONTROL_ERROR_CODES as readonly string[]).includes(x);
}
