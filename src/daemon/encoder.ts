/**
 * Warm encoders: long-lived child processes (src/daemon/encoder-child.ts) that keep the parsed
 * vmlinux chain and take jobs over an IPC pipe, so an object costs its own encoding, not a Node
 * start-up plus a parse of vmlinux's BTF.
 *
 * Isolation is kept per job: a child runs one job at a time under a V8 heap limit
 * (--max-old-space-size = jobs.memoryMB), its resident memory (Buffers included) is sampled and the
 * child killed over jobs.memoryMB, and a kill timer enforces jobs.timeoutSeconds. A child that
 * crashed, was killed, or stays over half its memory budget after a job is recycled: the next job
 * gets a fresh one, so a bad object fails alone and cannot poison the next.
 *
 * Children die with the daemon (node-child.ts: setpriv --pdeathsig, and an exit when the pipe closes).
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { processRssBytes } from '../host/process.js';
import type { VarSet } from './config.js';
import { JobFailed, codeOfEncoderError, type FailureCode } from './failure.js';
import { spawnNodeChild } from './node-child.js';

export interface EncodeRequest {
  readonly debugFile: string;
  /** Base chain, root first (vmlinux, then the module's BTF). */
  readonly bases: readonly string[];
  readonly vars: VarSet;
  readonly timeoutMs: number;
  readonly memoryMB: number;
  readonly signal?: AbortSignal | undefined;
}

/** A job that did not produce extras; `code` says why (aborted: stopped on purpose, not a failure). */
export class EncodeFailed extends JobFailed {
  constructor(message: string, code: FailureCode | 'aborted') {
    super(code === 'aborted' ? 'internal' : code, message);
    this.name = 'EncodeFailed';
    this.aborted = code === 'aborted';
  }
  readonly aborted: boolean;
}

export interface ExtrasEncoder {
  /** The extras BTF (split on the last base). */
  encode(req: EncodeRequest): Promise<Uint8Array>;
  /** Stop every child (daemon shutdown). */
  close?(): Promise<void>;
}

/** Messages of the IPC protocol between the pool and encoder-child.ts. */
export interface ChildJob { readonly id: number; readonly debugFile: string; readonly bases: readonly string[]; readonly vars: VarSet }
export type ChildReply =
  | { readonly id: number; readonly ok: true; readonly bytes: Uint8Array }
  | { readonly id: number; readonly ok: false; readonly errorName?: string | undefined; readonly code?: string | undefined; readonly message: string };

/** The btf-extra CLI of this build (tests and benchmarks run `encode` through it). */
export const BUNDLED_CLI = fileURLToPath(new URL('../cli/btf-extra.js', import.meta.url));

/** The warm encoder child of this build (dist/ or a private outDir). */
export const ENCODER_CHILD = fileURLToPath(new URL('./encoder-child.js', import.meta.url));

/** How often a busy child's resident memory is sampled against jobs.memoryMB. */
const RSS_SAMPLE_MS = 200;

export interface PoolOptions {
  readonly child?: string;
  readonly node?: string;
  readonly rssOf?: (pid: number) => number | undefined;
  /** Start children through setpriv --pdeathsig KILL (default: when /usr/bin/setpriv exists). */
  readonly pdeathsig?: boolean;
  /** Idle children kept warm (jobs.concurrency; read at each job end, so a reload applies). */
  readonly maxIdle?: () => number;
  /** An idle child exits after this long without a job (default 60 s): an idle daemon holds no encoder memory. */
  readonly idleMs?: number;
}

interface Warm {
  readonly proc: ChildProcess;
  readonly memoryMB: number;
  stderr: string;
  exited: boolean;
  jobs: number;
  idleTimer?: NodeJS.Timeout | undefined;
}

export class WarmEncoderPool implements ExtrasEncoder {
  private readonly idle: Warm[] = [];
  private readonly live = new Set<Warm>();
  private nextId = 1;
  private closed = false;
  /** Children started and recycled (tests and benchmarks). */
  readonly stats = { started: 0, recycled: 0 };
  /** pid of the child that ran the last job (tests: warm reuse vs a fresh child). */
  lastPid: number | undefined;

  constructor(private readonly o: PoolOptions = {}) {}

  /** pids of the children alive now. */
  pids(): number[] { return [...this.live].flatMap((w) => (w.proc.pid === undefined ? [] : [w.proc.pid])); }

  private start(memoryMB: number): Warm {
    const proc = spawnNodeChild(this.o.child ?? ENCODER_CHILD, { node: this.o.node, nodeArgs: [`--max-old-space-size=${memoryMB}`], pdeathsig: this.o.pdeathsig });
    const w: Warm = { proc, memoryMB, stderr: '', exited: false, jobs: 0 };
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (d: string) => { w.stderr = (w.stderr + d).slice(-8192); });
    proc.once('exit', () => { w.exited = true; this.drop(w); });
    proc.on('error', () => { w.exited = true; this.drop(w); });
    this.live.add(w);
    this.stats.started++;
    return w;
  }

  private drop(w: Warm): void {
    clearTimeout(w.idleTimer);
    this.live.delete(w);
    const i = this.idle.indexOf(w);
    if (i >= 0) this.idle.splice(i, 1);
  }

  private recycle(w: Warm): void {
    this.drop(w);
    if (!w.exited) { this.stats.recycled++; w.proc.kill('SIGKILL'); }
  }

  encode(req: EncodeRequest): Promise<Uint8Array> {
    if (req.signal?.aborted || this.closed) return Promise.reject(new EncodeFailed('aborted before start', 'aborted'));
    let w = this.idle.pop();
    if (w) { clearTimeout(w.idleTimer); w.idleTimer = undefined; }
    if (w && (w.memoryMB !== req.memoryMB || w.exited)) { this.recycle(w); w = undefined; }
    w ??= this.start(req.memoryMB);
    return this.run(w, req);
  }

  private run(w: Warm, req: EncodeRequest): Promise<Uint8Array> {
    const id = this.nextId++;
    const rssOf = this.o.rssOf ?? processRssBytes;
    return new Promise<Uint8Array>((resolve, reject) => {
      let why: EncodeFailed | undefined;
      const cleanup = (): void => {
        clearTimeout(timer);
        clearInterval(sampler);
        req.signal?.removeEventListener('abort', onAbort);
        w.proc.off('message', onMessage);
        w.proc.off('exit', onExit);
        w.proc.off('error', onError);
      };
      const kill = (reason: EncodeFailed): void => { why ??= reason; this.recycle(w); };
      const timer = setTimeout(() => kill(new EncodeFailed(`encoder killed after ${Math.round(req.timeoutMs / 1000)} s (jobs.timeoutSeconds)`, 'encoder-timeout')), req.timeoutMs);
      // The heap flag does not bound Buffers (a debug file read whole lives outside the heap).
      const limitBytes = req.memoryMB * 1048576;
      const sampler = setInterval(() => {
        const rss = w.proc.pid === undefined ? undefined : rssOf(w.proc.pid);
        if (rss !== undefined && rss > limitBytes) kill(new EncodeFailed(`encoder killed: resident memory ${Math.round(rss / 1048576)} MB over jobs.memoryMB ${req.memoryMB}`, 'encoder-memory'));
      }, RSS_SAMPLE_MS);
      const onAbort = (): void => kill(new EncodeFailed('encoder stopped (daemon shutting down or object unloaded)', 'aborted'));
      const onMessage = (m: ChildReply): void => {
        if (m.id !== id) return;
        cleanup();
        this.lastPid = w.proc.pid;
        w.jobs++;
        this.release(w, rssOf);
        if (m.ok) resolve(m.bytes);
        else reject(new EncodeFailed(m.message, codeOfEncoderError(m.errorName, m.code)));
      };
      const onExit = (code: number | null, sig: NodeJS.Signals | null): void => {
        cleanup();
        this.lastPid = w.proc.pid;
        if (why) { reject(why); return; }
        const last = w.stderr.trim().split('\n').filter((l) => l.trim() !== '').pop() ?? '';
        if (/heap out of memory|Allocation failed/.test(w.stderr)) reject(new EncodeFailed(`encoder ran out of memory (jobs.memoryMB ${req.memoryMB})`, 'encoder-memory'));
        else reject(new EncodeFailed(`encoder died (${code ?? sig})${last ? `: ${last}` : ''}`, 'encoder-crash'));
      };
      const onError = (e: Error): void => { cleanup(); reject(new EncodeFailed(`cannot start encoder: ${e.message}`, 'encoder-spawn')); };
      req.signal?.addEventListener('abort', onAbort, { once: true });
      w.proc.on('message', onMessage);
      w.proc.once('exit', onExit);
      w.proc.once('error', onError);
      const job: ChildJob = { id, debugFile: req.debugFile, bases: req.bases, vars: req.vars };
      try { w.proc.send(job); } catch (e) { kill(new EncodeFailed(`cannot reach encoder: ${e instanceof Error ? e.message : String(e)}`, 'encoder-crash')); }
    });
  }

  /** Back to the idle list, unless it grew past half its budget (vmlinux chain + garbage) or the list is full. */
  private release(w: Warm, rssOf: (pid: number) => number | undefined): void {
    const rss = w.proc.pid === undefined ? undefined : rssOf(w.proc.pid);
    const full = this.idle.length >= (this.o.maxIdle?.() ?? 2);
    if (this.closed || w.exited || full || (rss !== undefined && rss > (w.memoryMB * 1048576) / 2)) { this.recycle(w); return; }
    this.idle.push(w);
    w.idleTimer = setTimeout(() => { if (this.idle.includes(w)) this.recycle(w); }, this.o.idleMs ?? 60_000);
    w.idleTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.live];
    await Promise.all(all.map((w) => new Promise<void>((resolve) => {
      if (w.exited) { resolve(); return; }
      w.proc.once('exit', () => resolve());
      w.proc.kill('SIGKILL');
    })));
    this.idle.length = 0;
  }
}
