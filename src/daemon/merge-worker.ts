/**
 * merged/kernel in a worker thread: merging hundreds of modules takes seconds of CPU, which must
 * not stall module events and control requests on the daemon's event loop. One worker per
 * rebuild (it parses its own copy of the chain and exits, returning its memory).
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { libraryBtfOps } from './btf-ops.js';

interface MergeJob {
  readonly base: readonly Uint8Array[];
  readonly siblings: readonly (readonly Uint8Array[])[];
  readonly names: readonly string[] | undefined;
}

/**
 * Merge in a worker. When `signal` aborts (the daemon stops), the worker is terminated and the
 * promise rejects with an error named AbortError: a stop does not wait for a rebuild that can take
 * a minute on a slow machine (seen in the VM test bed: systemd's stop timeout killed the daemon).
 */
export function mergeSiblingsInWorker(base: readonly Uint8Array[], siblings: readonly (readonly Uint8Array[])[], names?: readonly string[], signal?: AbortSignal): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const aborted = (): Error => Object.assign(new Error('merge worker stopped: the daemon is stopping'), { name: 'AbortError' });
    if (signal?.aborted) { reject(aborted()); return; }
    const w = new Worker(new URL(import.meta.url), { workerData: { base, siblings, names } satisfies MergeJob });
    let done = false;
    const onAbort = (): void => {
      if (done) return;
      done = true;
      reject(aborted());
      void w.terminate();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    w.once('exit', () => signal?.removeEventListener('abort', onAbort));
    w.once('message', (m: { ok: true; bytes: Uint8Array } | { ok: false; error: string }) => {
      done = true;
      if (m.ok) resolve(m.bytes); else reject(new Error(m.error));
    });
    w.once('error', (e) => { done = true; reject(e); });
    w.once('exit', (code) => { if (!done) reject(new Error(`merge worker exited ${code}`)); });
  });
}

if (!isMainThread && parentPort) {
  const job = workerData as MergeJob;
  try {
    const bytes = await libraryBtfOps.mergeSiblings(job.base, job.siblings, job.names);
    parentPort.postMessage({ ok: true, bytes }, [bytes.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) });
  }
}
