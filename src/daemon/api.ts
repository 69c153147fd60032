/**
 * Contract between the daemon core and its edges (control socket, CLI, status file).
 * The daemon publishes a `DaemonStatus` as status.json and serves the same over the control socket.
 */
import type { FailureCode } from './failure.js';

/** Lifecycle of one object's extras (vmlinux counts as an object). */
export const OBJECT_STATES = [
  'published',        // extras generated or cached, and published under the runtime dir
  'kernel-provided',  // the kernel exposes the extras itself: used as they are
  'companion-loaded', // a <name>-btf-extra.ko companion module was loaded with modprobe
  'generating',       // encoder running
  'queued',           // waiting for an encoder slot
  'no-debuginfo',     // no matching debug info found (see `hint` for what to install)
  'failed',           // see `reason`
  'skipped',          // policy never, or on-demand and not asked for yet
] as const;
export type ObjectState = (typeof OBJECT_STATES)[number];

export type ExtrasSource = 'cache' | 'encoder' | 'kernel' | 'companion-module';

export interface ObjectStatus {
  /** Kernel object name as in /sys/kernel/btf ("vmlinux", "kvm_intel"). */
  readonly name: string;
  readonly state: ObjectState;
  readonly policy: 'always' | 'on-demand' | 'never';
  readonly reason?: string;
  /** Machine-readable cause of `reason` (src/daemon/failure.ts), e.g. encoder-timeout, cache-invalid. */
  readonly code?: FailureCode;
  /** What to install or do, e.g. "apt-get install linux-image-6.1.0-56-cloud-amd64-dbg". */
  readonly hint?: string;
  readonly source?: ExtrasSource;
  /** GNU build id of the loaded object (hex). */
  readonly buildId?: string;
  /** Debug file used to generate the extras. */
  readonly debuginfo?: string;
  /** VAR count in the extras. */
  readonly vars?: number;
  /** Size in bytes of the extras BTF. */
  readonly bytes?: number;
  /** Milliseconds spent per phase of the last job (find, encode, publish, ...). */
  readonly timings?: Readonly<Record<string, number>>;
  /** ISO time of the last state change. */
  readonly since: string;
  /** The generated companion module in the running kernel (destination kernel or both). */
  readonly kernel?: CompanionStatus;
}

/** Lifecycle of a generated companion module `<name>_btf_extra` in the running kernel. */
export const COMPANION_STATES = [
  'loaded',      // inserted and its BTF is in /sys/kernel/btf/<name>_btf_extra
  'not-loaded',  // not inserted: see reason/code/hint (the files are still published)
  'released',    // removed on request (btf-extra release), until the base module reloads
] as const;
export type CompanionState = (typeof COMPANION_STATES)[number];

export interface CompanionStatus {
  readonly state: CompanionState;
  /** Module name, e.g. loop_btf_extra. */
  readonly module: string;
  /** /sys/kernel/btf/<module> while loaded. */
  readonly btf?: string;
  /** What keeps the base module loaded while the companion is (one line). */
  readonly hold?: string;
  readonly reason?: string;
  readonly code?: FailureCode;
  readonly hint?: string;
  readonly variables?: number;
}

export interface DaemonStatus {
  readonly version: string;
  readonly pid: number;
  readonly root: string;
  readonly kernelRelease: string;
  readonly startedAt: string;
  readonly updatedAt: string;
  /** Absolute paths of the published files (runtime dir, merged/kernel, ...). */
  readonly published: Readonly<Record<string, string>>;
  readonly objects: readonly ObjectStatus[];
}

/** One hit of `btf-extra lookup VAR`. */
export interface LookupHit {
  readonly variable: string;
  /** Object whose extras (or own BTF) describe it. */
  readonly object: string;
  readonly cType: string;
  readonly section: string;
  readonly offset: number;
  readonly size: number;
  readonly linkage: 'static' | 'global';
  readonly btfId: number;
}

/** What the control socket can ask of the daemon; implemented by the core, served by control/server.ts. */
export interface ControlHandlers {
  status(): DaemonStatus;
  /** Regenerate (bypassing the cache) the named objects, or all loaded ones. Resolves when the jobs end. */
  regen(target: { readonly names: readonly string[] } | { readonly all: true }): Promise<readonly ObjectStatus[]>;
  /** Find a variable across the merged view; asks on-demand objects' extras to be generated first. */
  lookup(variable: string): Promise<readonly LookupHit[]>;
  /** Re-read the config; rejects (keeping the old config) with a one-line reason when the new one is invalid. */
  reload(): Promise<void>;
  /**
   * Remove the generated companions of the named objects from the kernel and drop what held their
   * base modules (so `modprobe -r BASE` works); they stay out until the base loads again or a regen.
   */
  release(names: readonly string[]): Promise<readonly ObjectStatus[]>;
}
