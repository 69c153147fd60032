/**
 * merged/kernel's parts and joins in a worker process: a module's part and the join of all parts
 * take CPU (hundreds of ms with vmlinux's 100k types) that must not stall module events and control
 * requests on the daemon's event loop. One long-lived process (merge-child.ts) keeps the parsed
 * kernel base (vmlinux [+ extras]) between jobs, so a part costs what its module costs. The base
 * is sent only when it changes (by identity); the parts it made are kept there too, so a join
 * sends references, not every part again (tens of MB at 400 modules), and only the joined view
 * comes back. Idle for `idleMs`, the process exits and returns its memory (the next job starts a
 * new one, and the next join sends the parts' bytes). It dies with the daemon (node-child.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { spawnNodeChild } from './node-child.js';

/** Messages of the IPC protocol between KernelWorker and merge-child.ts. */
export type KernelJob =
  | { readonly op: 'base'; readonly base: readonly Uint8Array[] }
  | { readonly op: 'part'; readonly id: number; readonly chain: readonly Uint8Array[]; readonly name: string }
  | { readonly op: 'join'; readonly id: number; readonly parts: readonly PartRef[] }
  | { readonly op: 'forget'; readonly id: number };
/**
 * A part in a join: by the id the worker keeps it under (it made it, or an earlier join sent it),
 * with its bytes only when the worker does not have them (a new worker process).
 */
export interface PartRef { readonly ref: number; readonly bytes?: Uint8Array }
export type KernelReply = { readonly id: number; readonly ok: true; readonly bytes: Uint8Array } | { readonly id: number; readonly ok: false; readonly error: string };

/** The worker process of this build (dist/ or a private outDir). */
const MERGE_CHILD = fileURLToPath(new URL('./merge-child.js', import.meta.url));

const aborted = (): Error => Object.assign(new Error('merge worker stopped: the daemon is stopping'), { name: 'AbortError' });

export interface KernelWorkerOptions {
  /** When it aborts (the daemon stops), the worker is terminated and every job rejects with AbortError. */
  readonly signal?: AbortSignal | undefined;
  /** The worker exits after this long without a job (default 10 s). */
  readonly idleMs?: number;
}

/**
 * BtfOps' kernelPart and joinKernel run in one worker. A stop does not wait for a job (seen in the
 * VM test bed: systemd's stop timeout killed a daemon waiting for a minute-long merge).
 */
export class KernelWorker {
  private worker: ChildProcess | undefined;
  private sentBase: readonly Uint8Array[] | undefined;
  private readonly pending = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();
  /** A part's bytes, as this side holds them -> the id a worker keeps them under. */
  private readonly partIds = new WeakMap<Uint8Array, number>();
  /** Ids of the parts the current worker process keeps. */
  private held = new Set<number>();
  /** A part this side no longer holds can never be joined again: the worker drops it too. */
  private readonly released = new FinalizationRegistry<number>((id) => {
    if (!this.held.delete(id)) return;
    try { this.worker?.send({ op: 'forget', id } satisfies KernelJob); } catch { /* the worker is going away */ }
  });
  private nextId = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly idleMs: number;
  /** Worker processes started so far (tests: one per idle period, not one per job). */
  started = 0;
  /** Bytes of parts sent with joins (tests: parts the worker made or was sent are not sent again). */
  partBytesSent = 0;
  /** pid of the worker process alive now (tests). */
  get pid(): number | undefined { return this.worker?.pid; }

  constructor(private readonly opts: KernelWorkerOptions = {}) {
    this.idleMs = opts.idleMs ?? 10_000;
    opts.signal?.addEventListener('abort', () => this.stop(aborted()), { once: true });
  }

  kernelPart(base: readonly Uint8Array[], chain: readonly Uint8Array[], name: string): Promise<Uint8Array> {
    let held: Set<number> | undefined;
    let partId = -1;
    return this.run(base, (id) => { held = this.held; partId = id; return { op: 'part', id, chain, name }; }).then((bytes) => {
      // The worker keeps what it made under the job's id (unless it has been replaced since).
      this.partIds.set(bytes, partId);
      this.released.register(bytes, partId);
      if (held === this.held) this.held.add(partId);
      return bytes;
    });
  }

  joinKernel(base: readonly Uint8Array[], parts: readonly Uint8Array[]): Promise<Uint8Array> {
    return this.run(base, (id) => ({ op: 'join', id, parts: parts.map((p) => this.refOf(p)) })).catch((e: unknown) => {
      // Whatever went wrong, the next join sends every part's bytes.
      this.held = new Set();
      throw e;
    });
  }

  private refOf(part: Uint8Array): PartRef {
    let ref = this.partIds.get(part);
    if (ref !== undefined && this.held.has(ref)) return { ref };
    if (ref === undefined) {
      ref = this.nextId++;
      this.partIds.set(part, ref);
      this.released.register(part, ref);
    }
    this.held.add(ref);
    this.partBytesSent += part.length;
    return { ref, bytes: part };
  }

  /** Terminate the worker now (jobs in flight reject with AbortError); a later job starts a new one. */
  close(): Promise<void> {
    return this.stop(aborted());
  }

  private run(base: readonly Uint8Array[], job: (id: number) => KernelJob): Promise<Uint8Array> {
    if (this.opts.signal?.aborted) return Promise.reject(aborted());
    return new Promise((resolve, reject) => {
      const w = this.ensureWorker();
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      clearTimeout(this.idleTimer);
      w.ref();
      w.channel?.ref();
      if (w.stderr instanceof Socket) w.stderr.ref();
      const sent = this.sentBase;
      try {
        if (!sent || sent.length !== base.length || sent.some((b, i) => b !== base[i])) {
          w.send({ op: 'base', base } satisfies KernelJob);
          this.sentBase = [...base];
        }
        w.send(job(id));
      } catch (e) {
        void this.stop(new Error(`merge worker unreachable: ${e instanceof Error ? e.message : String(e)}`));
      }
    });
  }

  private ensureWorker(): ChildProcess {
    if (this.worker) return this.worker;
    const w = spawnNodeChild(MERGE_CHILD);
    this.started++;
    this.worker = w;
    this.sentBase = undefined;
    this.held = new Set();
    let stderr = '';
    w.stderr?.setEncoding('utf8');
    w.stderr?.on('data', (d: string) => { stderr = (stderr + d).slice(-4096); });
    w.on('message', (m: KernelReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.bytes); else p.reject(new Error(m.error));
      if (this.pending.size === 0 && this.worker === w) this.idle(w);
    });
    w.once('error', (e) => { if (this.worker === w) void this.stop(e); });
    w.once('exit', (code, sig) => {
      const last = stderr.trim().split('\n').pop() ?? '';
      if (this.worker === w) void this.stop(new Error(`merge worker exited (${code ?? sig})${last ? `: ${last}` : ''}`));
    });
    return w;
  }

  /** No job in flight: the worker does not keep the process alive, and exits after idleMs. */
  private idle(w: ChildProcess): void {
    // Nothing of an idle worker keeps the daemon alive (`--once` exits when its work is done): not
    // the process, not its IPC channel, not its stderr pipe.
    w.unref();
    w.channel?.unref();
    if (w.stderr instanceof Socket) w.stderr.unref();
    this.idleTimer = setTimeout(() => { if (this.worker === w && this.pending.size === 0) void this.stop(aborted()); }, this.idleMs);
    this.idleTimer.unref();
  }

  private stop(reason: Error): Promise<void> {
    clearTimeout(this.idleTimer);
    const w = this.worker;
    this.worker = undefined;
    this.sentBase = undefined;
    const jobs = [...this.pending.values()];
    this.pending.clear();
    for (const j of jobs) j.reject(reason);
    if (!w || w.exitCode !== null || w.signalCode !== null) return Promise.resolve();
    return new Promise<void>((resolve) => { w.once('exit', () => resolve()); w.kill('SIGKILL'); });
  }
}
