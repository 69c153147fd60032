/**
 * Companion modules are built in a worker thread: parsing vmlinux's BTF and flattening ~20k
 * variables takes a second here and tens of seconds under QEMU TCG, which on the daemon's event
 * loop would stall uevents, the control socket and the watchdog. One long-lived worker keeps the
 * parsed vmlinux (keyed by its digest) between jobs; it is terminated on stop.
 */
import { createHash } from 'node:crypto';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import type { Btf } from '../btf/btf.js';
import { parseBtf } from '../btf/parse.js';
import { readInstalledModule } from '../kmod/installed-ko.js';
import { makeCompanionFrom } from '../kmod/make.js';
import type { HoldDecision } from '../kmod/safety.js';

export interface CompanionJob {
  readonly name: string;
  readonly vmlinux: Uint8Array;
  readonly objectBtf: Uint8Array;
  readonly extras: Uint8Array;
  /** The installed .ko giving vermagic and CRCs (the base's own; for vmlinux any). */
  readonly koPath: string;
  /** For messages. */
  readonly vmlinuxFile: string;
  readonly kallsyms: string | undefined;
}

export interface BuiltCompanion {
  readonly bytes: Uint8Array;
  /** Its .BTF section, as /sys/kernel/btf/<module> shows it once loaded. */
  readonly btf: Uint8Array;
  readonly variables: number;
  /** What keeps the base loaded: never-unloads, an imported export, a pinned program, or nothing. */
  readonly hold: HoldDecision;
}

type Reply = { readonly id: number; readonly ok: true; readonly built: BuiltCompanion } | { readonly id: number; readonly ok: false; readonly error: string };

let vmlinuxMemo: { digest: string; btf: Btf } | undefined;

/** The build itself (also what tests call directly). */
export function buildCompanionJob(job: CompanionJob): BuiltCompanion {
  const digest = createHash('sha256').update(job.vmlinux).digest('hex');
  if (vmlinuxMemo?.digest !== digest) vmlinuxMemo = { digest, btf: parseBtf(job.vmlinux, { source: job.vmlinuxFile }) };
  const vmlinux = vmlinuxMemo.btf;
  const moduleBtf = job.name === 'vmlinux' ? undefined : parseBtf(job.objectBtf, { base: vmlinux, source: `${job.name} BTF` });
  const extras = parseBtf(job.extras, { base: moduleBtf ?? vmlinux, source: `${job.name} extras` });
  const made = makeCompanionFrom({ name: job.name, vmlinux, extras, ko: readInstalledModule(job.koPath), koPath: job.koPath, vmlinuxFile: job.vmlinuxFile, kallsyms: job.kallsyms });
  // made.hold: never-unloads, an imported export, a pinned program (a VAR through the base's BTF), or unsafe.
  return { bytes: made.bytes, btf: made.btf, variables: made.variables, hold: made.hold };
}

export class CompanionBuilder {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (b: BuiltCompanion) => void; reject: (e: Error) => void }>();

  build(job: CompanionJob): Promise<BuiltCompanion> {
    const w = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ id, job });
    });
  }

  private start(): Worker {
    const w = new Worker(new URL(import.meta.url));
    w.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      this.pending.delete(r.id);
      if (r.ok) p?.resolve(r.built); else p?.reject(new Error(r.error));
    });
    const fail = (e: Error): void => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
      if (this.worker === w) this.worker = undefined;
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`companion worker exited ${code}`)));
    this.worker = w;
    return w;
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  port.on('message', (m: { id: number; job: CompanionJob }) => {
    let reply: Reply;
    try {
      reply = { id: m.id, ok: true, built: buildCompanionJob(m.job) };
    } catch (e) {
      reply = { id: m.id, ok: false, error: e instanceof Error ? e.message : String(e) };
    }
    port.postMessage(reply);
  });
}
