/**
 * The pure heart of the daemon: given what was observed on the host and what the daemon already
 * did, decide what to do next. No I/O here (the executor in core.ts performs the steps), so every
 * policy and state transition is unit-tested by feeding plain objects.
 */
import type { CompanionState, ObjectState } from './api.js';
import { policyFor, type DaemonConfig, type Policy } from './config.js';
import type { FailureCode } from './failure.js';
import type { ModuleLoadingState } from '../host/reader.js';
import { DEFAULT_PROVIDERS, type ExtrasProvider } from './providers.js';

/** Suffix the kernel gives our companion modules (`foo-btf-extra.ko` loads as `foo_btf_extra`). */
export const COMPANION_SUFFIX = '_btf_extra';

export function isCompanionModule(name: string): boolean {
  return name.replace(/-/g, '_').endsWith(COMPANION_SUFFIX);
}

/** One loaded object as observed on the host (vmlinux included). */
export interface ObservedObject {
  readonly name: string;
  readonly buildId: string | undefined;
  /** The object's own BTF exists in /sys/kernel/btf (without it there is nothing to extend). */
  readonly hasBtf: boolean;
  /** Path of kernel-provided extras, when the kernel exposes them. */
  readonly kernelExtras: string | undefined;
  /** A `<name>-btf-extra.ko` in the module tree (path), when one exists. */
  readonly companionModule: string | undefined;
  /** The companion module is loaded right now. */
  readonly companionLoaded: boolean;
  /** The local cache holds an entry for the object's current key (looked up only for objects with work left). */
  readonly cached: boolean;
  /** ...and it is the one this daemon generated (its BTF is the one it stored), not a distribution's. */
  readonly companionOurs: boolean;
}

export interface Observation {
  readonly objects: ReadonlyMap<string, ObservedObject>;
  /** Whether the kernel would take a companion we insert (only read when the destination wants it). */
  readonly moduleLoading: ModuleLoadingVerdict;
}

export type ModuleLoadingVerdict =
  | { readonly allowed: true; readonly sign: boolean }
  | { readonly allowed: false; readonly code: FailureCode; readonly reason: string; readonly hint: string };

/**
 * Can the daemon insert companions? Lockdown (integrity or confidentiality) and module.sig_enforce
 * both make the kernel refuse unsigned modules; a configured key signs them (whether the kernel
 * trusts that key only insmod can tell). modules_disabled refuses everything until reboot.
 */
export function moduleLoadingVerdict(state: ModuleLoadingState, signing: boolean): ModuleLoadingVerdict {
  if (state.modulesDisabled) {
    return { allowed: false, code: 'modules-disabled', reason: 'kernel.modules_disabled=1: the kernel loads no module until reboot', hint: 'extras stay published as files; reboot without modules_disabled to load companions' };
  }
  const locked = state.lockdown !== undefined && state.lockdown !== 'none';
  if ((locked || state.sigEnforce) && !signing) {
    const why = locked ? `kernel lockdown (${state.lockdown})` : 'module.sig_enforce=1';
    return {
      allowed: false, code: 'companion-unsigned',
      reason: `${why}: the kernel loads signed modules only, and companions.signKey is not set`,
      hint: 'set companions.signKey and companions.signCert to a key the kernel trusts (e.g. enrolled with mokutil --import), or destination: files',
    };
  }
  return { allowed: true, sign: signing };
}

/** What the daemon remembers per object between reconciles. */
export interface ObjectRecord {
  readonly name: string;
  readonly state: ObjectState;
  readonly policy: Policy;
  readonly buildId: string | undefined;
  /** modprobe of the companion was tried for this build id (do not retry in a loop). */
  readonly companionTried: boolean;
  /** Build id whose cache entry failed validation (and was removed): the cache is skipped for it. */
  readonly cacheRejected?: string | undefined;
  /** The generated companion in the kernel, once the daemon dealt with it (destination kernel/both). */
  readonly kernel?: { readonly state: CompanionState; readonly buildId: string | undefined } | undefined;
}

export interface PlanInput {
  readonly observation: Observation;
  readonly records: ReadonlyMap<string, ObjectRecord>;
  /** On-demand objects a client asked for (regen or lookup), until they unload. */
  readonly requested: ReadonlySet<string>;
  /** Objects to regenerate now, bypassing the cache (regen). */
  readonly forced: ReadonlySet<string>;
  /** Objects whose debuginfo may have appeared or changed: retry no-debuginfo/failed. */
  readonly retry: ReadonlySet<string>;
  /** Objects with a job in flight (their record's state is queued or generating). */
  readonly running: ReadonlySet<string>;
  /** Content of the softdep file as last written ('' when none). */
  readonly softdepsWritten: string;
}

export type Step =
  | { readonly kind: 'skip'; readonly name: string; readonly policy: Policy; readonly reason: string; readonly buildId: string | undefined }
  | { readonly kind: 'use-kernel'; readonly name: string; readonly policy: Policy; readonly path: string; readonly buildId: string | undefined }
  | { readonly kind: 'companion-present'; readonly name: string; readonly policy: Policy; readonly buildId: string | undefined }
  | { readonly kind: 'load-companion'; readonly name: string; readonly policy: Policy; readonly module: string; readonly buildId: string | undefined }
  /** Serve the extras from the local cache (validated in full first). */
  | { readonly kind: 'use-cache'; readonly name: string; readonly policy: Policy; readonly buildId: string | undefined }
  /** Find debuginfo and encode (bypassCache: a regen; the result replaces the cache entry). */
  | { readonly kind: 'generate'; readonly name: string; readonly policy: Policy; readonly buildId: string | undefined; readonly bypassCache: boolean }
  | { readonly kind: 'forget'; readonly name: string }
  /** The object's build id changed under published extras: withdraw them before anything else. */
  | { readonly kind: 'withdraw-extras'; readonly name: string; readonly from: string | undefined; readonly to: string | undefined }
  | { readonly kind: 'write-softdeps'; readonly content: string }
  /** Build the object's companion from its published extras, hold its base, insert it. */
  | { readonly kind: 'insert-companion'; readonly name: string; readonly buildId: string | undefined; readonly sign: boolean }
  /** Take our companion out of the kernel, then drop what held its base (that order, always). */
  | { readonly kind: 'remove-companion'; readonly name: string; readonly reason: string; readonly then: 'not-loaded' | 'forget' }
  /** Our companion is already in the kernel (a restart of the daemon): record it. */
  | { readonly kind: 'adopt-companion'; readonly name: string; readonly buildId: string | undefined }
  /** Our companion left the kernel without us (rmmod by hand): drop the hold, do not insert it again. */
  | { readonly kind: 'companion-gone'; readonly name: string; readonly buildId: string | undefined }
  /** The kernel would refuse any companion now (lockdown, modules_disabled): say so, keep the files. */
  | { readonly kind: 'companion-blocked'; readonly name: string; readonly buildId: string | undefined; readonly code: FailureCode; readonly reason: string; readonly hint: string };

/**
 * One executor per step kind: a new kind of Step without its executor does not compile.
 * The executor performs the step's I/O; every decision was taken by plan().
 */
export type Executors<S extends { readonly kind: string }> = {
  readonly [K in S['kind']]: (step: Extract<S, { readonly kind: K }>) => Promise<void> | void;
};

/** Run `step` through its executor (the one cast lives here, the map's type guarantees it). */
export function runStep<S extends { readonly kind: string }>(executors: Executors<S>, step: S): Promise<void> | void {
  return (executors[step.kind as S['kind']] as (s: S) => Promise<void> | void)(step);
}

/** softdep lines for every loaded module that has a companion in the module tree, sorted. */
export function softdepContent(observation: Observation): string {
  const lines = [...observation.objects.values()]
    .filter((o) => o.name !== 'vmlinux' && o.companionModule !== undefined)
    .map((o) => `softdep ${o.name} post: ${o.name}-btf-extra`)
    .sort();
  return lines.length === 0 ? '' : `# Written by btf-extrad: load each module's -btf-extra companion after it.\n${lines.join('\n')}\n`;
}

function planObject(o: ObservedObject, rec: ObjectRecord | undefined, input: PlanInput, config: DaemonConfig, providers: readonly ExtrasProvider[]): Step | undefined {
  const policy = policyFor(config, o.name);
  const sameBuild = rec !== undefined && rec.buildId === o.buildId;
  const base = { name: o.name, policy, buildId: o.buildId };

  const wanted = policy === 'always' || (policy === 'on-demand' && (input.requested.has(o.name) || input.forced.has(o.name)));
  if (!wanted) {
    const reason = policy === 'never' ? 'policy never' : 'policy on-demand: not requested yet';
    if (rec?.state === 'skipped' && rec.policy === policy && sameBuild) return undefined;
    return { kind: 'skip', ...base, reason };
  }
  if (!o.hasBtf) {
    if (rec?.state === 'skipped' && sameBuild && rec.policy === policy) return undefined;
    return { kind: 'skip', ...base, reason: 'no BTF in /sys/kernel/btf for this object' };
  }
  // The sources of extras, in order: the first that proposes a step or says "settled" decides.
  const context = { o, rec, input, config, policy, sameBuild, forced: input.forced.has(o.name), running: input.running.has(o.name) };
  for (const provider of providers) {
    const p = provider.propose(context);
    if (p === 'settled') return undefined;
    if (p !== 'next') return p.step;
  }
  return undefined;
}

/**
 * The generated companion of one object, once its extras are settled. Inserted only when the
 * destination asks for the kernel, the extras are published (from the cache or the encoder) for
 * the loaded build, and the kernel takes modules; removed when the destination no longer wants it.
 * Distribution companions (loaded by modprobe, step 2/3 of planObject) are never ours to touch.
 */
/** Why the config no longer wants the object's generated companion in the kernel (undefined: it does). */
function companionUnwanted(name: string, config: DaemonConfig): string | undefined {
  if (config.destination === 'files') return 'destination: files';
  return policyFor(config, name) === 'never' ? 'policy never' : undefined;
}

function planCompanion(o: ObservedObject, rec: ObjectRecord | undefined, input: PlanInput, config: DaemonConfig): Step | undefined {
  // A job or a kernel operation for it is in flight: its outcome decides the next step.
  if (input.running.has(o.name)) return undefined;
  const kernelWanted = companionUnwanted(o.name, config) === undefined;
  const k = rec?.kernel;
  if (o.companionLoaded && o.companionOurs) {
    if (k?.state !== 'loaded') return { kind: 'adopt-companion', name: o.name, buildId: o.buildId };
    return undefined;
  }
  if (k?.state === 'loaded') return { kind: 'companion-gone', name: o.name, buildId: o.buildId };
  if (!kernelWanted || o.companionLoaded || rec === undefined || rec.state !== 'published' || rec.buildId !== o.buildId) return undefined;
  // Settled for this build (not-loaded, released): a regen (forced) clears it.
  if (k !== undefined && k.buildId === o.buildId) return undefined;
  const verdict = input.observation.moduleLoading;
  if (!verdict.allowed) return { kind: 'companion-blocked', name: o.name, buildId: o.buildId, code: verdict.code, reason: verdict.reason, hint: verdict.hint };
  return { kind: 'insert-companion', name: o.name, buildId: o.buildId, sign: verdict.sign };
}

/** Decide the steps that bring the published state in line with the host and the config. */
export function plan(input: PlanInput, config: DaemonConfig, providers: readonly ExtrasProvider[] = DEFAULT_PROVIDERS): Step[] {
  const steps: Step[] = [];
  for (const rec of input.records.values()) {
    if (input.observation.objects.has(rec.name)) continue;
    // The base is gone (only possible when nothing held it): its companion must not stay behind.
    if (rec.kernel?.state === 'loaded') steps.push({ kind: 'remove-companion', name: rec.name, reason: `${rec.name} unloaded`, then: 'forget' });
    else steps.push({ kind: 'forget', name: rec.name });
  }
  const names = [...input.observation.objects.keys()].sort((a, b) => (a === 'vmlinux' ? -1 : b === 'vmlinux' ? 1 : a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const o = input.observation.objects.get(name);
    if (o === undefined || isCompanionModule(name)) continue;
    const rec = input.records.get(name);
    const step = planObject(o, rec, input, config, providers);
    // Our companion out first when the config no longer wants it, whatever else happens to the object.
    const unwanted = o.companionLoaded && o.companionOurs && !input.running.has(name) ? companionUnwanted(o.name, config) : undefined;
    if (unwanted !== undefined) steps.push({ kind: 'remove-companion', name, reason: unwanted, then: 'not-loaded' });
    if (step === undefined) {
      const companion = unwanted === undefined ? planCompanion(o, rec, input, config) : undefined;
      if (companion !== undefined) steps.push(companion);
      continue;
    }
    if ((step.kind === 'generate' || step.kind === 'use-cache' || step.kind === 'load-companion') && rec !== undefined && rec.buildId !== o.buildId) {
      steps.push({ kind: 'withdraw-extras', name, from: rec.buildId, to: o.buildId });
    }
    steps.push(step);
  }
  if (config.companions.softdeps) {
    const content = softdepContent(input.observation);
    if (content !== input.softdepsWritten) steps.push({ kind: 'write-softdeps', content });
  }
  return steps;
}

/** merged/kernel timing: rebuilt after `debounceMs` of quiet, and never more than `maxStaleMs` late. */
export interface KernelViewTiming { readonly debounceMs: number; readonly maxStaleMs: number }

/**
 * How long to wait before rebuilding merged/kernel (0: now). `dirtySince` is the first change
 * the published view lacks, `lastChange` the latest; while jobs are `busy` the view waits for
 * them, but whatever happens it is rebuilt at most maxStaleMs after the first change (a
 * debounce alone, reset by every change, never fires under constant activity).
 */
export function kernelRebuildDelay(s: { readonly now: number; readonly dirtySince: number; readonly lastChange: number; readonly busy: boolean }, t: KernelViewTiming): number {
  const deadline = s.dirtySince + t.maxStaleMs;
  const quietAt = s.busy ? Number.POSITIVE_INFINITY : s.lastChange + t.debounceMs;
  return Math.max(0, Math.min(quietAt, deadline) - s.now);
}
