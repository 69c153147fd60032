/**
 * merged/kernel's parts and joins in a worker thread: a module's part and the join of all parts
 * take CPU (hundreds of ms with vmlinux's 100k types) that must not stall module events and control
 * requests on the daemon's event loop. One long-lived worker keeps the parsed kernel base
 * (vmlinux [+ extras]) between jobs, so a part costs what its module costs. The base is sent only
 * when it changes (by identity); idle for `idleMs`, the worker exits and returns its memory (the
 * next job starts a new one).
 */
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { libraryBtfOps } from './btf-ops.js';

type Job =
  | { readonly op: 'base'; readonly base: readonly Uint8Array[] }
  | { readonly op: 'part'; readonly id: number; readonly chain: readonly Uint8Array[]; readonly name: string }
  | { readonly op: 'join'; readonly id: number; readonly parts: readonly Uint8Array[] };
type Reply = { readonly id: number; readonly ok: true; readonly bytes: Uint8Array } | { readonly id: number; readonly ok: false; readonly error: string };

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
  private worker: Worker | undefined;
  private sentBase: readonly Uint8Array[] | undefined;
  private readonly pending = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly idleMs: number;
  /** Workers started so far (tests: one per idle period, not one per job). */
  started = 0;

  constructor(private readonly opts: KernelWorkerOptions = {}) {
    this.idleMs = opts.idleMs ?? 10_000;
    opts.signal?.addEventListener('abort', () => this.stop(aborted()), { once: true });
  }

  kernelPart(base: readonly Uint8Array[], chain: readonly Uint8Array[], name: string): Promise<Uint8Array> {
    return this.run(base, (id) => ({ op: 'part', id, chain, name }));
  }

  joinKernel(base: readonly Uint8Array[], parts: readonly Uint8Array[]): Promise<Uint8Array> {
    return this.run(base, (id) => ({ op: 'join', id, parts }));
  }

  /** Terminate the worker now (jobs in flight reject with AbortError); a later job starts a new one. */
  close(): Promise<void> {
    return this.stop(aborted());
  }

  private run(base: readonly Uint8Array[], job: (id: number) => Job): Promise<Uint8Array> {
    if (this.opts.signal?.aborted) return Promise.reject(aborted());
    return new Promise((resolve, reject) => {
      const w = this.ensureWorker();
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      clearTimeout(this.idleTimer);
      w.ref();
      const sent = this.sentBase;
      if (!sent || sent.length !== base.length || sent.some((b, i) => b !== base[i])) {
        w.postMessage({ op: 'base', base } satisfies Job);
        this.sentBase = [...base];
      }
      w.postMessage(job(id));
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL(import.meta.url));
    this.started++;
    this.worker = w;
    this.sentBase = undefined;
    w.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.bytes); else p.reject(new Error(m.error));
      if (this.pending.size === 0 && this.worker === w) this.idle(w);
    });
    w.once('error', (e) => { if (this.worker === w) void this.stop(e); });
    w.once('exit', (code) => { if (this.worker === w) void this.stop(new Error(`merge worker exited ${code}`)); });
    return w;
  }

  /** No job in flight: the worker does not keep the process alive, and exits after idleMs. */
  private idle(w: Worker): void {
    w.unref();
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
    return w ? w.terminate().then(() => {}) : Promise.resolve();
  }
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  let base: readonly Uint8Array[] = [];
  port.on('message', (job: Job) => {
    if (job.op === 'base') { base = job.base; return; }
    try {
      const bytes = job.op === 'part' ? libraryBtfOps.kernelPart(base, job.chain, job.name) : libraryBtfOps.joinKernel(base, job.parts);
      if (bytes instanceof Promise) throw new Error('the library\'s BTF operations are synchronous');
      port.postMessage({ id: job.id, ok: true, bytes } satisfies Reply, [bytes.buffer as ArrayBuffer]);
    } catch (e) {
      port.postMessage({ id: job.id, ok: false, error: e instanceof Error ? e.message : String(e) } satisfies Reply);
    }
  });
}
