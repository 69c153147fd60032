/**
 * merged/kernel's parts and joins in a worker process: a module's part and the join of all parts
 * take CPU (hundreds of ms with vmlinux's 100k types) that must not stall module events and control
 * requests on the daemon's event loop. One long-lived process (merge-child.ts) keeps the parsed
 * kernel base (vmlinux [+ extras]) between jobs, so a part costs what its module costs. The base
 * is sent only when it changes (by identity); idle for `idleMs`, the process exits and returns its
 * memory (the next job starts a new one). It dies with the daemon (setpriv --pdeathsig, and it
 * exits when its pipe closes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Messages of the IPC protocol between KernelWorker and merge-child.ts. */
export type KernelJob =
  | { readonly op: 'base'; readonly base: readonly Uint8Array[] }
  | { readonly op: 'part'; readonly id: number; readonly chain: readonly Uint8Array[]; readonly name: string }
  | { readonly op: 'join'; readonly id: number; readonly parts: readonly Uint8Array[] };
export type KernelReply = { readonly id: number; readonly ok: true; readonly bytes: Uint8Array } | { readonly id: number; readonly ok: false; readonly error: string };

/** The worker process of this build (dist/ or a private outDir). */
const MERGE_CHILD = fileURLToPath(new URL('./merge-child.js', import.meta.url));
const SETPRIV = '/usr/bin/setpriv';

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
  private nextId = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly idleMs: number;
  /** Worker processes started so far (tests: one per idle period, not one per job). */
  started = 0;
  /** pid of the worker process alive now (tests). */
  get pid(): number | undefined { return this.worker?.pid; }

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

  private run(base: readonly Uint8Array[], job: (id: number) => KernelJob): Promise<Uint8Array> {
    if (this.opts.signal?.aborted) return Promise.reject(aborted());
    return new Promise((resolve, reject) => {
      const w = this.ensureWorker();
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      clearTimeout(this.idleTimer);
      w.ref();
      w.channel?.ref();
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
    const args = [MERGE_CHILD];
    const [cmd, argv] = existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'KILL', '--', process.execPath, ...args]] : [process.execPath, args];
    const w = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced' });
    this.started++;
    this.worker = w;
    this.sentBase = undefined;
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
    w.unref();
    w.channel?.unref();
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
