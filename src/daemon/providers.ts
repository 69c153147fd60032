/**
 * Sources of extras, in the order plan() asks them (first that answers wins):
 *   kernel-provided      the kernel exposes the extras itself (/sys/kernel/btf_extra, -btf-extra)
 *   loaded companion     a distribution's <name>-btf-extra module is loaded (softdep, admin)
 *   shipped companion    a <name>-btf-extra.ko in the module tree: modprobe it, once per build
 *   local cache          an entry for this object's key (build id, base BTF, encoder version)
 *   debuginfo + encoder  find the debug file (local, .build-id, debuginfod) and encode
 * Each one is pure: from what was observed and what the daemon remembers, it proposes a step, says
 * the object is settled (nothing to do now), or passes to the next. A new source (a remote or fleet
 * cache) is one more provider here plus its step's executor in core.ts.
 */
import type { DaemonConfig, Policy } from './config.js';
import type { ObjectRecord, ObservedObject, PlanInput, Step } from './plan.js';

/** What a provider says about one object. */
export type Proposal = { readonly step: Step } | 'settled' | 'next';

export interface ProviderContext {
  readonly o: ObservedObject;
  readonly rec: ObjectRecord | undefined;
  readonly input: PlanInput;
  readonly config: DaemonConfig;
  readonly policy: Policy;
  /** The record is about the object's current build. */
  readonly sameBuild: boolean;
  /** A regen asked to bypass every stored result. */
  readonly forced: boolean;
  /** A job for this object is in flight. */
  readonly running: boolean;
}

export interface ExtrasProvider {
  readonly name: string;
  propose(c: ProviderContext): Proposal;
}

const base = (c: ProviderContext): { name: string; policy: Policy; buildId: string | undefined } => ({ name: c.o.name, policy: c.policy, buildId: c.o.buildId });

export const kernelProvided: ExtrasProvider = {
  name: 'kernel-provided',
  propose(c) {
    if (c.o.kernelExtras === undefined) return 'next';
    if (c.rec?.state === 'kernel-provided' && c.sameBuild) return 'settled';
    return { step: { kind: 'use-kernel', ...base(c), path: c.o.kernelExtras } };
  },
};

/** A distribution companion already loaded (ours, generated from the extras, is not a source). */
export const loadedCompanion: ExtrasProvider = {
  name: 'loaded companion',
  propose(c) {
    if (!c.o.companionLoaded || c.o.companionOurs) return 'next';
    if (c.rec?.state === 'companion-loaded' && c.sameBuild) return 'settled';
    return { step: { kind: 'companion-present', ...base(c) } };
  },
};

export const shippedCompanion: ExtrasProvider = {
  name: 'shipped companion',
  propose(c) {
    if (c.running) return 'settled';
    if (c.forced || c.o.name === 'vmlinux' || c.o.companionModule === undefined || !c.config.companions.modprobe) return 'next';
    // Tried for this build (it failed, or extras came from elsewhere since): not again.
    if (c.sameBuild && c.rec?.companionTried === true) return 'next';
    if (c.sameBuild && c.rec?.state === 'published') return 'settled';
    return { step: { kind: 'load-companion', ...base(c), module: c.o.companionModule } };
  },
};

export const localCache: ExtrasProvider = {
  name: 'local cache',
  propose(c) {
    if (c.running) return 'settled';
    if (c.forced || !c.o.cached) return 'next';
    if (c.sameBuild && c.rec?.state === 'published') return 'settled';
    // Its entry for this build failed validation (and was deleted): the encoder's turn.
    if (c.rec?.cacheRejected !== undefined && c.rec.cacheRejected === c.o.buildId) return 'next';
    return { step: { kind: 'use-cache', ...base(c) } };
  },
};

export const debuginfoEncoder: ExtrasProvider = {
  name: 'debuginfo + encoder',
  propose(c) {
    if (c.running) return 'settled';
    if (!c.forced && c.rec !== undefined && c.sameBuild) {
      if (c.rec.state === 'published') return 'settled';
      // Settled failures wait for new debuginfo (retry) or a regen (forced).
      if ((c.rec.state === 'no-debuginfo' || c.rec.state === 'failed') && !c.input.retry.has(c.o.name)) return 'settled';
    }
    return { step: { kind: 'generate', ...base(c), bypassCache: c.forced } };
  },
};

/** The built-in order (the entry point may give another list; tests do). */
export const DEFAULT_PROVIDERS: readonly ExtrasProvider[] = [kernelProvided, loadedCompanion, shippedCompanion, localCache, debuginfoEncoder];
