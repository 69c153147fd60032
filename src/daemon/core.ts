/**
 * The daemon core: keeps an in-memory record per loaded object, turns host observations into
 * steps with plan(), and executes them through narrow edges (host reader, encoder, cache,
 * publisher, debuginfo finder, logger, notifier, clock). It implements the control handlers.
 * All I/O edges are passed in; the entry point (src/cli/btf-extrad.ts) builds the real ones.
 */
import { join } from 'node:path';
import { safeName } from '../util/errors.js';
import { loadedModulesOrNone, type HostReader } from '../host/reader.js';
import type { CompanionStatus, ControlHandlers, DaemonStatus, ExtrasSource, LookupHit, ObjectState, ObjectStatus } from './api.js';
import { Companions, companionStatus, type KernelPort } from './companions.js';
import { CompanionBuilder } from './companion-worker.js';
import type { BtfOps, PublishedChain, VariableFinder } from './btf-ops.js';
import { extrasCacheKey, type CacheKey, type ExtrasCache } from './cache.js';
import { policyFor, type DaemonConfig, type LoadedConfig, type Policy } from './config.js';
import { ControlError } from './control/protocol.js';
import { DebuginfoFinder, type DebuginfodLookup } from './debuginfo.js';
import { EncodeFailed, type ExtrasEncoder } from './encoder.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { JobFailed, failureCodeOf, type FailureCode } from './failure.js';
import type { FileWatch, FileWatchFactory } from './fswatch.js';
import type { DaemonLogger } from './logger.js';
import { nullNotifier, type Notifier } from './notify.js';
import { COMPANION_SUFFIX, isCompanionModule, moduleLoadingVerdict, plan, kernelRebuildDelay, runStep, type Executors, type ObjectRecord, type Observation, type ObservedObject, type Step } from './plan.js';
import { prepareDaemonFolders } from './folders.js';
import type { ExtrasProvider } from './providers.js';
import type { Publisher } from './publish.js';
import type { DaemonStores, StoresFactory } from './stores.js';
import type { ModuleEvent, ModuleWatcher } from './watch/types.js';

export interface DaemonDeps {
  readonly host: HostReader;
  /** The cache, the publisher and the few files the core writes (stores.ts; the entry point passes fileStores). */
  readonly stores: StoresFactory;
  readonly loaded: LoadedConfig;
  /** Re-read the config (SIGHUP, file change, control reload); throws ConfigError when invalid. */
  readonly loadConfig: () => Promise<LoadedConfig>;
  readonly encoder: ExtrasEncoder;
  readonly btf: BtfOps;
  readonly logger: DaemonLogger;
  readonly notifier?: Notifier;
  /** Time and timers (default: the system clock; tests pass a fake one). */
  readonly clock?: Clock;
  readonly version: string;
  readonly encoderVersion: string;
  readonly readBuildId: (file: string) => Promise<string | undefined>;
  /** Module watchers in preference order for a config (e.g. uevents, then the poller). */
  readonly watchers: (config: DaemonConfig, host: HostReader) => ModuleWatcher[];
  /** modprobe a companion (`loop-btf-extra`); undefined: companions are never loaded. */
  readonly modprobe?: ((module: string) => Promise<void>) | undefined;
  /** Sources of extras in the order plan() asks them (default: providers.ts DEFAULT_PROVIDERS). */
  readonly providers?: readonly ExtrasProvider[] | undefined;
  /** insmod/rmmod/bpf for generated companions (destination kernel/both); undefined: never inserted. */
  readonly kernel?: KernelPort | undefined;
  readonly debuginfod?: ((config: DaemonConfig, cacheDir: string) => DebuginfodLookup | undefined) | undefined;
  readonly fileWatch?: FileWatchFactory | undefined;
  readonly variableFinder?: VariableFinder | undefined;
  /** Quiet time before merged/kernel is rebuilt after a change. */
  readonly kernelRebuildDelayMs?: number;
  /** merged/kernel is rebuilt at most this long after the first change it lacks (default 10 s). */
  readonly kernelMaxStaleMs?: number;
  /**
   * While uevents drive the daemon, re-read /proc/modules this often anyway (default 60 s): a
   * netlink buffer overrun drops events silently, and a resync costs one small read per interval.
   */
  readonly ueventResyncMs?: number;
}

interface Rec extends ObjectRecord {
  reason?: string | undefined;
  code?: FailureCode | undefined;
  hint?: string | undefined;
  source?: ExtrasSource | undefined;
  debuginfo?: string | undefined;
  vars?: number | undefined;
  bytes?: number | undefined;
  timings?: Record<string, number> | undefined;
  kernelStatus?: CompanionStatus | undefined;
  /** Why the cache entry of build `cacheRejected` was discarded (kept on the record once regenerated). */
  cacheRejectReason?: string | undefined;
  since: string;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** How a job ended: `next-source` asks plan() for the next provider (a rejected cache entry). */
type JobEnd = 'done' | 'next-source';

interface Job {
  readonly abort: AbortController;
  readonly done: Promise<void>;
}

/** Counting semaphore for encoder slots. */
class Slots {
  private waiters: (() => void)[] = [];
  constructor(private free: number) {}
  setSize(n: number, old: number): void { this.free += n - old; this.drain(); }
  acquire(signal: AbortSignal): Promise<void> {
    if (this.free > 0) { this.free--; return Promise.resolve(); }
    return new Promise((resolve, reject) => {
      const w = (): void => { signal.removeEventListener('abort', onAbort); resolve(); };
      const onAbort = (): void => { this.waiters = this.waiters.filter((x) => x !== w); reject(new EncodeFailed('aborted while queued', 'aborted')); };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(w);
    });
  }
  release(): void { this.free++; this.drain(); }
  private drain(): void {
    while (this.free > 0 && this.waiters.length > 0) { this.free--; this.waiters.shift()?.(); }
  }
}

/**
 * Under constant activity merged/kernel is rebuilt at least every kernelMaxStaleMs, but never
 * more often than every this many rebuild durations: a view that takes 3 s to merge (hundreds of
 * modules) would otherwise take a core from the encoders for good during a boot.
 */
const KERNEL_REBUILD_SHARE = 4;

const MODULE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Record states that need nothing more for the same build (unless forced or retried). */
const SETTLED: ReadonlySet<ObjectState> = new Set<ObjectState>(['published', 'kernel-provided', 'companion-loaded', 'skipped', 'no-debuginfo', 'failed']);

const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class Daemon implements ControlHandlers {
  private config: DaemonConfig;
  private configFile: string | undefined;
  private kernelRelease = '';
  private readonly records = new Map<string, Rec>();
  private readonly requested = new Set<string>();
  private forced = new Set<string>();
  private retry = new Set<string>();
  private softdepsWritten = '';
  private readonly buildIds = new Map<string, string | undefined>();
  private readonly jobs = new Map<string, Job>();
  private slots: Slots;
  private cache!: ExtrasCache;
  private publisher!: Publisher;
  private stores!: DaemonStores;
  private finder!: DebuginfoFinder;
  private companions!: Companions;
  private readonly companionBuilder = new CompanionBuilder();
  /** Kernel operations (insert, remove, release) run one at a time, off the reconcile pass. */
  private kernelQueue: Promise<void> = Promise.resolve();
  private readonly kernelPending = new Map<string, number>();
  private watcher: ModuleWatcher | undefined;
  private fileWatches: FileWatch[] = [];
  private debugWatch: FileWatch | undefined;
  private loaded = new Set<string>();
  private reconciling: Promise<void> | undefined;
  private reconcileAgain = false;
  private kernelTimer: TimerHandle | undefined;
  private kernelDirtySince = 0;
  private kernelLastChange = 0;
  /** How long the last merged/kernel rebuild took. */
  private lastKernelRebuildMs = 0;
  private kernelBuild: Promise<void> | undefined;
  private vmlinuxBtf: Uint8Array | undefined;
  private readonly warnedNames = new Set<string>();
  private statusTimer: TimerHandle | undefined;
  private debugTimer: TimerHandle | undefined;
  private resyncTimer: TimerHandle | undefined;
  private resyncFound = 0;
  private watcherRestart: TimerHandle | undefined;
  private watcherBackoffMs = 0;
  private lastWatcherError = Number.NEGATIVE_INFINITY;
  private stopping = false;
  private foldersOwned = false;
  private readonly startedAt: string;
  private readonly clock: Clock;
  private readonly now: () => number;
  private readonly notifier: Notifier;
  readonly runtimeDir: string;
  readonly cacheDir: string;
  /** Counters for tests and benchmarks. */
  readonly stats = { encodes: 0, cacheHits: 0, cacheCorrupt: 0, reconciles: 0, kernelRebuilds: 0 };

  constructor(private readonly deps: DaemonDeps) {
    this.config = deps.loaded.config;
    this.configFile = deps.loaded.file;
    this.clock = deps.clock ?? systemClock;
    this.now = () => this.clock.now();
    this.notifier = deps.notifier ?? nullNotifier;
    this.startedAt = new Date(this.now()).toISOString();
    this.slots = new Slots(this.config.jobs.concurrency);
    this.runtimeDir = deps.host.paths.under(this.config.runtimeDir);
    this.cacheDir = deps.host.paths.under(this.config.cacheDir);
  }

  get log(): DaemonLogger { return this.deps.logger; }
  get controlSocket(): string { return this.publisher.layout.controlSocket; }
  get currentConfig(): DaemonConfig { return this.config; }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Watch, list, reconcile once and write status.json. READY goes to systemd at the end unless
   * `announceReady: false` (the entry point announces it itself once the control socket is up, so
   * units ordered after this one can talk to it).
   */
  async start(opts: { readonly announceReady?: boolean } = {}): Promise<void> {
    try {
      await this.startUp(opts);
    } catch (e) {
      // Whatever had started (watcher children, timers, encoders) stops: the caller exits.
      await this.stop().catch(() => {});
      throw e;
    }
  }

  private async startUp(opts: { readonly announceReady?: boolean }): Promise<void> {
    const { host } = this.deps;
    this.kernelRelease = await host.kernelRelease();
    prepareDaemonFolders({ paths: host.paths, runtimeDir: this.runtimeDir, cacheDir: this.cacheDir, debugDirs: this.config.debuginfo.paths, log: this.log });
    this.foldersOwned = true;
    this.stores = this.deps.stores({ runtimeDir: this.runtimeDir, cacheDir: this.cacheDir, btf: this.deps.btf, warn: (m) => this.log.warn(m) });
    this.cache = this.stores.cache;
    const pruned = this.cache.pruneReleases(this.kernelRelease);
    if (pruned.length > 0) this.log.info(`cache: removed entries of kernels ${pruned.join(', ')}`);
    this.publisher = this.stores.publisher;
    this.companions = new Companions({
      host, cacheDir: this.cacheDir, release: this.kernelRelease, port: this.deps.kernel,
      signKey: this.config.companions.signKey, signCert: this.config.companions.signCert, builder: this.companionBuilder,
    });
    const vmlinux = this.readBtf('vmlinux');
    if (vmlinux) this.publisher.setVmlinux(vmlinux);
    this.finder = await this.makeFinder();
    this.cleanTemp();
    // Monitor first, then list, then reconcile: no load between the two can be missed.
    await this.startWatcher();
    this.log.info(`btf-extrad ${this.deps.version}: kernel ${this.kernelRelease}, root ${host.paths.root}, runtime ${this.runtimeDir}, config ${this.configFile ?? '(built-in defaults)'}, watching modules by ${this.watcher?.kind ?? 'nothing'}`);
    this.loaded = new Set(await loadedModulesOrNone(host));
    const swept = this.publisher.sweep(new Set(['vmlinux', ...this.loaded]));
    if (swept > 0) this.log.info(`removed ${swept} published file(s) of objects no longer loaded`);
    await this.reconcile();
    this.watchFiles();
    this.startResync();
    this.writeStatusNow();
    if (opts.announceReady !== false) this.announceReady();
  }

  /** Tell systemd the service is up (READY=1 with the state counts). */
  announceReady(): void {
    this.notifier.ready(this.statusLine());
  }

  /** Stop watchers, abandon jobs (children killed, temp files removed); published files stay whole. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.notifier.stopping();
    this.notifier.stop();
    for (const t of [this.kernelTimer, this.statusTimer, this.debugTimer, this.resyncTimer, this.watcherRestart]) t?.cancel();
    await this.watcher?.stop();
    await Promise.all([...this.fileWatches, ...(this.debugWatch ? [this.debugWatch] : [])].map((w) => w.close()));
    this.fileWatches = [];
    this.debugWatch = undefined;
    for (const job of this.jobs.values()) job.abort.abort();
    await Promise.allSettled([...this.jobs.values()].map((j) => j.done));
    await this.deps.encoder.close?.();
    // A kernel operation in flight (an insmod) finishes; none starts after this (see onKernelQueue).
    await this.kernelQueue.catch(() => {});
    await this.companionBuilder.close();
    if (this.reconciling) await this.reconciling.catch(() => {});
    // A merged/kernel rebuild in flight finishes (its file is written atomically either way).
    if (this.kernelBuild) await this.kernelBuild.catch(() => {});
    this.cleanTemp();
    try { this.writeStatusNow(); } catch { /* runtime dir gone */ }
  }

  private cleanTemp(): void {
    // Only in a cache dir prepareDaemonFolders accepted as ours: a refused start (cacheDir: /tmp)
    // also stops, and must not delete <cacheDir>/tmp of someone else.
    if (!this.foldersOwned) return;
    this.stores.clearTemp();
  }

  private async makeFinder(): Promise<DebuginfoFinder> {
    return new DebuginfoFinder({
      paths: this.deps.host.paths,
      release: this.kernelRelease,
      debugDirs: this.config.debuginfo.paths,
      readBuildId: this.deps.readBuildId,
      debuginfod: this.deps.debuginfod?.(this.config, join(this.cacheDir, 'debuginfod')),
      os: await this.deps.host.osRelease(),
      modulePath: (name) => this.deps.host.modulePaths(this.kernelRelease).get(name),
    });
  }

  private async startWatcher(): Promise<void> {
    for (const w of this.deps.watchers(this.config, this.deps.host)) {
      try {
        await w.start((e) => this.onModuleEvent(e), (err) => this.onWatcherError(w, err));
        if (this.stopping) { await w.stop(); return; }
        this.watcher = w;
        return;
      } catch (e) {
        this.log.warn(`module watcher ${w.kind} unavailable: ${errText(e)}; trying the next one`);
        await w.stop().catch(() => {});
      }
    }
    this.log.error('no module watcher could start: loads and unloads are only seen on reload');
  }

  /** Safety net under uevents (the poller needs none): a periodic reconcile from /proc/modules. */
  private startResync(): void {
    this.resyncTimer = this.clock.after(this.deps.ueventResyncMs ?? 60_000, () => {
      this.startResync();
      // The poller re-reads /proc/modules itself; with uevents (or no watcher at all) resync.
      if (this.watcher?.kind === 'poll' || this.reconciling || this.stopping) return;
      this.resyncFound = 0;
      void this.reconcile().then(() => {
        if (this.resyncFound > 0) this.log.info(`resync: ${this.resyncFound} module load(s)/unload(s) found in /proc/modules before their uevent`);
      });
    }, { background: true });
  }

  /**
   * A watcher failed (a malformed /proc/modules read, udevadm exiting...): reconcile now from
   * /proc/modules, and start the watchers again, in preference order, after a backoff that
   * doubles while failures keep coming (1 s .. 60 s) and resets after a quiet minute. Never a
   * permanent fallback: the preferred watcher comes back as soon as it starts again.
   */
  private onWatcherError(w: ModuleWatcher, err: Error): void {
    if (this.stopping || this.watcher !== w) return;
    const now = this.now();
    this.watcherBackoffMs = now - this.lastWatcherError > 60_000 ? 1000 : Math.min(this.watcherBackoffMs * 2, 60_000);
    this.lastWatcherError = now;
    this.log.warn(`module watcher ${w.kind} failed: ${err.message}; restarting it in ${this.watcherBackoffMs / 1000} s`);
    this.watcher = undefined;
    void w.stop().catch(() => {});
    this.requestReconcile();
    this.watcherRestart?.cancel();
    this.watcherRestart = this.clock.after(this.watcherBackoffMs, () => {
      this.watcherRestart = undefined;
      if (this.stopping) return;
      void this.startWatcher().then(() => {
        this.log.info(`module watcher restarted: ${this.watcher?.kind ?? 'none'}`);
        this.requestReconcile();
      });
    });
  }

  private onModuleEvent(e: ModuleEvent): void {
    if (isCompanionModule(e.name)) {
      // Our own companion: only its base object's record cares (companion-loaded or not).
      this.requestReconcile();
      return;
    }
    this.log.debug(`uevent ${e.action} ${e.name}`);
    this.buildIds.delete(e.name);
    if (e.action === 'remove') this.loaded.delete(e.name); else this.loaded.add(e.name);
    this.requestReconcile();
  }

  private watchFiles(): void {
    const fw = this.deps.fileWatch;
    if (!fw) return;
    this.watchDebugDirs();
    const cfg = this.configFile ?? this.deps.host.paths.defaultConfigFile;
    this.fileWatches.push(fw([cfg], () => { void this.reload().catch(() => { /* logged in reload */ }); }, { depth: 0 }));
  }

  /** (Re)watch the configured debug roots (called again when a reload changes them). */
  private watchDebugDirs(): void {
    const fw = this.deps.fileWatch;
    void this.debugWatch?.close();
    this.debugWatch = fw && this.config.debuginfo.watch && !this.stopping ? fw(this.finder.watchDirs(), () => this.onDebuginfoChange()) : undefined;
  }

  /** New or changed debuginfo: forget the index and retry objects that lacked it (debounced). */
  private onDebuginfoChange(): void {
    if (this.debugTimer) return;
    this.debugTimer = this.clock.after(300, () => {
      this.debugTimer = undefined;
      this.finder.invalidate();
      for (const r of this.records.values()) if (r.state === 'no-debuginfo' || r.state === 'failed') this.retry.add(r.name);
      if (this.retry.size > 0) this.log.info(`debuginfo changed: retrying ${[...this.retry].join(', ')}`);
      this.requestReconcile();
    });
  }

  // ---------------------------------------------------------------- reconcile

  /** Coalesce: many events in a burst cause one reconcile (plus one more if events arrive during it). */
  requestReconcile(): void {
    if (this.stopping) return;
    if (this.reconciling) { this.reconcileAgain = true; return; }
    void this.reconcile();
  }

  /** One observe -> plan -> execute pass (serialised). Resolves when steps ran (not when jobs end). */
  reconcile(): Promise<void> {
    if (this.reconciling) { this.reconcileAgain = true; return this.reconciling; }
    this.reconciling = (async () => {
      try {
        do {
          this.reconcileAgain = false;
          await this.reconcileOnce();
        } while (this.reconcileAgain && !this.stopping);
      } catch (e) {
        this.log.error(`reconcile failed: ${errText(e)}`);
      } finally {
        this.reconciling = undefined;
      }
    })();
    return this.reconciling;
  }

  private async observe(): Promise<Observation> {
    const { host } = this.deps;
    const modules = await loadedModulesOrNone(host);
    const seen = this.loaded;
    this.loaded = new Set(modules);
    // Changes no event announced (counted for the resync message; normally none).
    for (const m of modules) if (!seen.has(m)) this.resyncFound++;
    for (const m of seen) if (!this.loaded.has(m)) this.resyncFound++;
    const tree = host.companionModules(this.kernelRelease);
    const objects = new Map<string, ObservedObject>();
    for (const name of ['vmlinux', ...modules]) {
      if (isCompanionModule(name)) continue;
      // Kernel module names are [A-Za-z0-9_-]; anything else would be joined into host paths: ignore it.
      if (!MODULE_NAME.test(name)) {
        if (!this.warnedNames.has(name)) { this.warnedNames.add(name); this.log.warn(`ignoring a module with an impossible name: ${safeName(name)}`); }
        continue;
      }
      if (!this.buildIds.has(name)) this.buildIds.set(name, await host.buildId(name));
      const companionLoaded = this.loaded.has(`${name}${COMPANION_SUFFIX}`);
      const buildId = this.buildIds.get(name);
      objects.set(name, {
        name,
        buildId,
        cached: this.needsWork(name, buildId) && this.cacheHas(name, buildId),
        hasBtf: host.hasBtf(name),
        kernelExtras: host.kernelExtras(name),
        companionModule: name === 'vmlinux' ? undefined : tree.get(name),
        companionLoaded,
        companionOurs: companionLoaded && this.companions.isOurs(name),
      });
    }
    for (const n of [...this.buildIds.keys()]) if (!objects.has(n)) this.buildIds.delete(n);
    const c = this.config.companions;
    const moduleLoading = this.config.destination === 'files'
      ? { allowed: false as const, code: 'companion-refused' as const, reason: 'destination: files', hint: '' }
      : moduleLoadingVerdict(host.moduleLoading(), c.signKey !== null && c.signCert !== null);
    return { objects, moduleLoading };
  }

  /** Whether plan() may still look for extras for this object (only then is the cache looked up). */
  private needsWork(name: string, buildId: string | undefined): boolean {
    const r = this.records.get(name);
    if (this.jobs.has(name)) return false;
    if (r === undefined || r.buildId !== buildId || this.forced.has(name) || this.retry.has(name)) return true;
    return !SETTLED.has(r.state);
  }

  /** The cache key of an object's extras now (its BTF and vmlinux's are the chain they split on). */
  private cacheKeyOf(name: string, buildId: string | undefined): { key: CacheKey; chain: Uint8Array[]; objectBtf: Uint8Array } | undefined {
    const objectBtf = this.readBtf(name);
    const vmlinux = this.readBtf('vmlinux');
    if (!objectBtf || !vmlinux) return undefined;
    const chain = name === 'vmlinux' ? [vmlinux] : [vmlinux, objectBtf];
    return { key: extrasCacheKey({ release: this.kernelRelease, name, buildId, chain, encoderVersion: this.deps.encoderVersion, vars: this.config.vars }), chain, objectBtf };
  }

  private cacheHas(name: string, buildId: string | undefined): boolean {
    const k = this.cacheKeyOf(name, buildId);
    return k !== undefined && this.cache.has(k.key);
  }

  private async reconcileOnce(): Promise<void> {
    this.stats.reconciles++;
    // What the daemon knows is taken before the host is read: a job or kernel operation that ends
    // while observe() awaits then still counts as running, never as done against an older view.
    const records = new Map(this.records);
    const running = new Set([...this.jobs.keys(), ...this.kernelPending.keys()]);
    const observation = await this.observe();
    const steps = plan({
      observation, records, requested: this.requested,
      forced: this.forced, retry: this.retry, softdepsWritten: this.softdepsWritten, running,
    }, this.config, this.deps.providers);
    this.forced = new Set();
    this.retry = new Set();
    for (const n of [...this.requested]) if (!observation.objects.has(n)) this.requested.delete(n);
    // Mirror every object with BTF (objects with a step get theirs from the step).
    const stepped = new Set(steps.map((s) => ('name' in s ? s.name : '')));
    for (const o of observation.objects.values()) {
      if (o.hasBtf && !stepped.has(o.name) && !this.publisher.has(o.name)) {
        const btf = this.readBtf(o.name);
        if (btf) this.publisher.put(o.name, btf, undefined);
      }
    }
    for (const step of steps) {
      try {
        await runStep(this.executors, step);
      } catch (e) {
        const name = 'name' in step ? step.name : 'softdeps';
        this.log.error(`${name}: ${step.kind} failed: ${errText(e)}`);
        if ('name' in step && step.kind !== 'forget') this.setRecord(step.name, { state: 'failed', reason: errText(e) });
      }
    }
    if (this.publisher.kernelStale) this.scheduleKernel();
    this.scheduleStatus();
  }

  private setRecord(name: string, patch: Partial<Mutable<Rec>>): Rec {
    const prev = this.records.get(name);
    const changed = prev === undefined || (patch.state !== undefined && patch.state !== prev.state);
    const base: Rec = prev ?? { name, state: 'queued', policy: policyFor(this.config, name), buildId: undefined, companionTried: false, since: '' };
    const next: Rec = { ...base, ...patch, since: changed ? new Date(this.now()).toISOString() : base.since };
    this.records.set(name, next);
    this.scheduleStatus();
    return next;
  }

  /** One executor per step kind (the type makes a missing one a compile error). */
  private readonly executors: Executors<Step> = {
    'forget': (step) => {
      this.jobs.get(step.name)?.abort.abort();
      this.records.delete(step.name);
      this.requested.delete(step.name);
      this.publisher.remove(step.name);
      this.log.decision({ object: step.name, action: 'unpublish', reason: 'unloaded' });
    },
    'write-softdeps': (step) => {
      const file = this.deps.host.paths.softdepFile;
      this.stores.writeSoftdeps(file, step.content);
      this.softdepsWritten = step.content;
      this.log.decision({ object: 'modprobe.d', action: step.content === '' ? 'remove softdeps' : 'write softdeps', reason: this.deps.host.paths.hostView(file) });
    },
    'skip': (step) => {
      this.jobs.get(step.name)?.abort.abort();
      const btf = this.readBtf(step.name);
      if (btf) this.publisher.put(step.name, btf, undefined); else this.publisher.remove(step.name);
      this.records.delete(step.name);
      this.setRecord(step.name, { state: 'skipped', policy: step.policy, reason: step.reason, buildId: step.buildId });
      this.log.decision({ object: step.name, action: 'skip', reason: step.reason });
    },
    'use-kernel': (step) => {
      const t0 = this.now();
      const btf = this.readBtf(step.name);
      const extras = this.stores.readKernelExtras(step.path);
      if (btf) this.publisher.put(step.name, btf, extras);
      this.records.delete(step.name);
      this.setRecord(step.name, { state: 'kernel-provided', policy: step.policy, buildId: step.buildId, source: 'kernel', bytes: extras.length, vars: this.countVars(step.name, extras, btf), reason: undefined });
      this.log.decision({ object: step.name, action: 'use kernel-provided extras', reason: this.deps.host.paths.hostView(step.path), ms: this.now() - t0 });
    },
    'companion-present': (step) => {
      this.companionPresent(step.name, step.policy, step.buildId, this.now(), false);
    },
    'withdraw-extras': (step) => {
      // The object was replaced in place (a new build id without an unload seen in between): mirror
      // its new BTF now instead of showing the old build's extras (they would not split on it).
      if (!this.publisher.has(step.name)) return;
      const btf = this.readBtf(step.name);
      if (btf) this.publisher.put(step.name, btf, undefined); else this.publisher.remove(step.name);
      this.log.decision({ object: step.name, action: 'withdraw extras', reason: `build id changed from ${step.from ?? 'unknown'} to ${step.to ?? 'unknown'}` });
    },
    'load-companion': async (step) => {
      const t0 = this.now();
      this.setRecord(step.name, { state: 'queued', policy: step.policy, buildId: step.buildId, companionTried: true });
      let err: string | undefined;
      if (!this.deps.modprobe) err = 'modprobe disabled';
      else {
        try { await this.deps.modprobe(`${step.name}-btf-extra`); } catch (e) { err = errText(e); }
      }
      if (err === undefined) {
        const now = new Set(await loadedModulesOrNone(this.deps.host));
        if (now.has(`${step.name}${COMPANION_SUFFIX}`)) { this.companionPresent(step.name, step.policy, step.buildId, t0, true); return; }
        err = `modprobe ${step.name}-btf-extra succeeded but ${step.name}${COMPANION_SUFFIX} did not appear`;
      }
      // companionTried is set: the next plan() passes on to the cache and the encoder.
      this.log.decision({ object: step.name, action: 'companion not loaded, trying the next source', reason: err, ms: this.now() - t0 });
      this.requestReconcile();
    },
    'use-cache': (step) => {
      this.startJob(step.name, step.policy, step.buildId, false, (signal) => this.serveFromCache(step.name, step.buildId, signal));
    },
    'generate': (step) => {
      this.startJob(step.name, step.policy, step.buildId, step.bypassCache, (signal) => this.generate(step.name, step.buildId, signal));
    },
    'insert-companion': (step) => { void this.onKernelQueue(step.name, async () => {
      const t0 = this.now();
      const vmlinux = this.readBtf('vmlinux');
      const objectBtf = this.readBtf(step.name);
      const extras = this.publisher.extrasOf(step.name);
      if (!vmlinux || !objectBtf || !extras) {
        this.setKernel(step.name, step.buildId, { state: 'not-loaded', module: `${step.name}${COMPANION_SUFFIX}`, code: 'btf-unreadable', reason: 'the object\'s BTF or its published extras are not readable' });
        return;
      }
      const outcome = await this.companions.insert(step.name, { vmlinux, objectBtf, extras }, step.sign);
      this.setKernel(step.name, step.buildId, companionStatus(outcome));
      if (outcome.state === 'loaded') {
        // destination kernel: the kernel carries the extras now; the files keep only the object's BTF.
        if (this.config.destination === 'kernel') this.publisher.put(step.name, objectBtf, undefined);
        this.log.decision({ object: step.name, action: 'inserted companion', reason: `${outcome.module}, ${outcome.variables} variables; ${outcome.hold}`, ms: this.now() - t0 });
      } else {
        this.log.decision({ object: step.name, action: 'companion not inserted', reason: `${outcome.reason} [${outcome.code}]`, ms: this.now() - t0 });
      }
    }); },
    'remove-companion': (step) => { void this.onKernelQueue(step.name, async () => {
      const module = `${step.name}${COMPANION_SUFFIX}`;
      const r = await this.companions.remove(step.name, { baseGone: step.then === 'forget' });
      if (!r.ok) {
        // Still in the kernel (a BPF program uses it) and still held: try again on the next reconcile.
        this.setKernel(step.name, this.records.get(step.name)?.kernel?.buildId, { state: 'loaded', module, code: r.code, reason: r.reason });
        this.log.decision({ object: step.name, action: 'companion not removed', reason: `${r.reason} [${r.code}]` });
        return;
      }
      this.log.decision({ object: step.name, action: 'removed companion', reason: step.reason });
      if (step.then === 'forget') { this.executors.forget({ kind: 'forget', name: step.name }); return; }
      this.setKernel(step.name, undefined, { state: 'not-loaded', module, reason: `removed: ${step.reason}` });
    }); },
    'adopt-companion': (step) => {
      const module = `${step.name}${COMPANION_SUFFIX}`;
      this.setKernel(step.name, step.buildId, { state: 'loaded', module, btf: this.deps.host.paths.hostView(this.deps.host.paths.sysBtf(module)), hold: 'inserted before this daemon started' });
      this.log.decision({ object: step.name, action: 'companion already loaded', reason: module });
    },
    'companion-gone': (step) => { void this.onKernelQueue(step.name, async () => {
      await this.companions.dropHold(step.name);
      const module = `${step.name}${COMPANION_SUFFIX}`;
      this.setKernel(step.name, step.buildId, { state: 'not-loaded', module, reason: `${module} was removed outside the daemon; btf-extra regen ${step.name} inserts it again` });
      this.log.decision({ object: step.name, action: 'companion gone', reason: `${module} removed outside the daemon; its hold dropped` });
    }); },
    'companion-blocked': (step) => {
      this.setKernel(step.name, step.buildId, { state: 'not-loaded', module: `${step.name}${COMPANION_SUFFIX}`, code: step.code, reason: step.reason, hint: step.hint });
      this.log.decision({ object: step.name, action: 'companion not inserted', reason: `${step.reason} [${step.code}]` });
    },
  };

  /**
   * Queue a kernel operation for `name`: one at a time (holds, insmod and rmmod never interleave),
   * and outside the reconcile pass, so start-up (READY) and reloads do not wait for a companion
   * build. plan() sees the object as running meanwhile, so nothing is planned twice.
   */
  private onKernelQueue(name: string, op: () => Promise<void>): Promise<void> {
    this.kernelPending.set(name, (this.kernelPending.get(name) ?? 0) + 1);
    const run = this.kernelQueue.then(async () => {
      if (this.stopping) return;
      try { await op(); } catch (e) { this.log.error(`${name}: kernel operation failed: ${errText(e)}`); }
    }).finally(() => {
      const n = (this.kernelPending.get(name) ?? 1) - 1;
      if (n > 0) this.kernelPending.set(name, n); else this.kernelPending.delete(name);
      this.scheduleStatus();
      this.requestReconcile();
    });
    this.kernelQueue = run;
    return run;
  }

  private setKernel(name: string, buildId: string | undefined, status: CompanionStatus): void {
    this.setRecord(name, { kernel: { state: status.state, buildId }, kernelStatus: status });
  }

  private companionPresent(name: string, policy: Policy, buildId: string | undefined, t0: number, byUs: boolean): void {
    const btf = this.readBtf(name);
    const extras = this.readBtf(`${name}${COMPANION_SUFFIX}`);
    if (btf) this.publisher.put(name, btf, extras);
    const prev = this.records.get(name);
    this.setRecord(name, {
      state: 'companion-loaded', policy, buildId, source: 'companion-module', reason: undefined,
      companionTried: byUs || (prev?.companionTried ?? false), bytes: extras?.length, vars: extras ? this.countVars(name, extras, btf) : undefined,
    });
    this.log.decision({ object: name, action: byUs ? 'loaded companion module' : 'companion module present', reason: `${name}-btf-extra`, ms: this.now() - t0 });
  }

  /**
   * BTF of a loaded object. vmlinux's (MBs, never changes while the kernel runs) is read once and
   * the same bytes object is reused, so its parse and digest are memoised; modules are re-read.
   */
  private readBtf(name: string): Uint8Array | undefined {
    if (name !== 'vmlinux') return this.deps.host.readBtf(name);
    this.vmlinuxBtf ??= this.deps.host.readBtf('vmlinux');
    return this.vmlinuxBtf;
  }

  private countVars(name: string, extras: Uint8Array, btf: Uint8Array | undefined): number | undefined {
    try {
      const vm = name === 'vmlinux' ? btf : this.readBtf('vmlinux');
      if (!vm || !btf) return undefined;
      return this.deps.btf.inspect(extras, name === 'vmlinux' ? [vm] : [vm, btf]).vars;
    } catch { return undefined; }
  }

  // ---------------------------------------------------------------- generation

  /**
   * Run one object's job (cache or encoder) with its abort controller; a failure settles as
   * `failed` with its code. When it ends, plan() runs again if the job asked to fall back to the
   * next source, or if companions wait for the extras (destination kernel/both).
   */
  private startJob(name: string, policy: Policy, buildId: string | undefined, regen: boolean, run: (signal: AbortSignal) => Promise<JobEnd>): void {
    this.jobs.get(name)?.abort.abort();
    const abort = new AbortController();
    // A regen also retries a companion that was not inserted (or was released).
    const retryKernel = regen && this.records.get(name)?.kernel?.state !== 'loaded' ? { kernel: undefined, kernelStatus: undefined } : {};
    this.setRecord(name, { state: 'queued', policy, buildId, reason: undefined, hint: undefined, code: undefined, ...retryKernel });
    let next = false;
    const done = run(abort.signal)
      .then((end) => { next = end === 'next-source'; })
      .catch((e: unknown) => {
        if (abort.signal.aborted) return;
        this.setRecord(name, { state: 'failed', reason: errText(e), code: failureCodeOf(e) });
        this.log.decision({ object: name, action: 'failed', reason: `${errText(e)} [${failureCodeOf(e)}]` });
      })
      .finally(() => {
        if (this.jobs.get(name)?.abort === abort) this.jobs.delete(name);
        if (this.publisher.kernelStale) this.scheduleKernel();
        this.scheduleStatus();
        if (!abort.signal.aborted && (next || this.config.destination !== 'files')) this.requestReconcile();
      });
    this.jobs.set(name, { abort, done });
  }

  /**
   * The local cache's step: a hit reaches the kernel like a fresh encode (the full validator on
   * its chain, and the VAR count recorded when it was stored: a consistent header proves nothing
   * by itself). A bad entry is deleted and remembered for this build, and plan() moves on.
   */
  private async serveFromCache(name: string, buildId: string | undefined, signal: AbortSignal): Promise<JobEnd> {
    const start = this.now();
    const k = this.cacheKeyOf(name, buildId);
    if (k === undefined) throw new JobFailed('btf-unreadable', `BTF of ${name} or vmlinux is not readable`);
    const hit = this.cache.get(k.key);
    let discarded: string;
    if (hit.kind === 'hit') {
      let vars: number | undefined;
      try {
        vars = this.deps.btf.inspect(hit.bytes, k.chain).vars;
        if (hit.meta.vars !== undefined && hit.meta.vars !== vars) throw new Error(`${vars} VARs, the entry recorded ${hit.meta.vars}`);
      } catch (e) { vars = undefined; discarded = `payload rejected: ${errText(e)}`; }
      if (vars !== undefined) {
        if (signal.aborted) return 'done';
        const t = this.now();
        this.publisher.put(name, k.objectBtf, hit.bytes);
        this.stats.cacheHits++;
        this.setRecord(name, { state: 'published', source: 'cache', vars, bytes: hit.bytes.length, debuginfo: hit.meta.debuginfo, timings: { cache: t - start, publish: this.now() - t }, reason: undefined, hint: undefined, code: undefined, cacheRejected: undefined });
        this.log.decision({ object: name, action: 'publish', reason: 'cache hit', ms: this.now() - start });
        return 'done';
      }
      this.cache.remove(k.key);
    } else {
      discarded = hit.kind === 'corrupt' ? hit.reason : 'the entry vanished or its folder is not the daemon\'s';
    }
    this.stats.cacheCorrupt++;
    this.log.warn(`${name}: discard cache entry (${discarded!}); regenerating [cache-invalid]`);
    // Kept on the record (published or not) so status shows the entry was bad.
    const reason = `cache entry discarded: ${discarded!}`;
    this.setRecord(name, { cacheRejected: buildId, cacheRejectReason: reason, code: 'cache-invalid', reason });
    return 'next-source';
  }

  /** The encoder's step: find the debug file, encode in a warm child, validate, publish, cache. */
  private async generate(name: string, buildId: string | undefined, signal: AbortSignal): Promise<JobEnd> {
    const { host, btf: ops } = this.deps;
    const timings: Record<string, number> = {};
    let t = this.now();
    const lap = (k: string): void => { const n = this.now(); timings[k] = (timings[k] ?? 0) + (n - t); t = n; };
    const start = t;
    const k = this.cacheKeyOf(name, buildId);
    if (k === undefined) throw new JobFailed('btf-unreadable', `BTF of ${name} or vmlinux is not readable`);
    const { key, chain, objectBtf } = k;
    lap('read');
    const prev = this.records.get(name);
    const cacheNote = prev?.cacheRejected !== undefined && prev.cacheRejected === buildId ? { code: 'cache-invalid' as const, reason: prev.cacheRejectReason } : {};

    const found = await this.finder.find(name, buildId);
    lap('find');
    if (signal.aborted) return 'done';
    if (found.kind === 'missing') {
      this.publisher.put(name, objectBtf, undefined);
      this.setRecord(name, { state: 'no-debuginfo', reason: found.reason, hint: found.hint, code: found.code, timings, source: undefined, vars: undefined, bytes: undefined });
      this.log.decision({ object: name, action: 'no debuginfo', reason: `${found.reason}; ${found.hint}`, ms: this.now() - start });
      return 'done';
    }

    await this.slots.acquire(signal);
    let bytes: Uint8Array;
    try {
      if (signal.aborted) return 'done';
      lap('queue');
      this.setRecord(name, { state: 'generating', debuginfo: found.path });
      this.stats.encodes++;
      bytes = await this.deps.encoder.encode({
        debugFile: found.path,
        bases: name === 'vmlinux' ? [host.paths.sysBtf('vmlinux')] : [host.paths.sysBtf('vmlinux'), host.paths.sysBtf(name)],
        vars: this.config.vars,
        timeoutMs: this.config.jobs.timeoutSeconds * 1000, memoryMB: this.config.jobs.memoryMB, signal,
      });
    } catch (e) {
      if (signal.aborted || (e instanceof EncodeFailed && e.aborted)) return 'done';
      throw e;
    } finally {
      this.slots.release();
    }
    lap('encode');
    if (signal.aborted) return 'done';
    let vars: number;
    try { vars = ops.inspect(bytes, chain).vars; } catch (e) { throw new JobFailed('invalid-output', `encoder output is not valid BTF: ${errText(e)}`); }
    // Publish first (readers wait for it), then cache (its fsyncs hit the disk, not the latency).
    this.publisher.put(name, objectBtf, bytes);
    lap('publish');
    this.setRecord(name, { state: 'published', source: 'encoder', vars, bytes: bytes.length, debuginfo: found.path, timings, reason: undefined, hint: undefined, code: undefined, cacheRejected: undefined, ...cacheNote });
    this.log.decision({ object: name, action: 'publish', reason: `encoded from ${host.paths.hostView(found.path)}${found.via === 'local' ? '' : ` (via ${found.via})`}, ${vars} vars`, ms: this.now() - start });
    try {
      this.cache.put(key, bytes, { vars, debuginfo: found.path });
      this.cache.prune(key);
    } catch (e) {
      this.log.warn(`${name}: extras not cached: ${errText(e)}`);
    }
    lap('cache');
    return 'done';
  }

  // ---------------------------------------------------------------- merged/kernel and status

  private scheduleKernel(): void {
    if (this.stopping) return;
    const now = this.now();
    if (this.kernelDirtySince === 0) this.kernelDirtySince = now;
    this.kernelLastChange = now;
    this.armKernelTimer();
  }

  /** (Re)arm the merged/kernel timer for the delay plan's kernelRebuildDelay gives now. */
  private armKernelTimer(): void {
    this.kernelTimer?.cancel();
    const delay = (): number => kernelRebuildDelay({
      now: this.now(), dirtySince: this.kernelDirtySince, lastChange: this.kernelLastChange,
      busy: [...this.records.values()].some((r) => r.state === 'generating' || r.state === 'queued'),
    }, { debounceMs: this.deps.kernelRebuildDelayMs ?? 500, maxStaleMs: Math.max(this.deps.kernelMaxStaleMs ?? 10_000, KERNEL_REBUILD_SHARE * this.lastKernelRebuildMs) });
    this.kernelTimer = this.clock.after(delay(), () => {
      this.kernelTimer = undefined;
      if (this.stopping) return;
      if (delay() > 0) { this.armKernelTimer(); return; }
      void this.rebuildKernelNow();
    });
  }

  /** Rebuild merged/kernel now (tests, benchmarks, and the debounced timer); one at a time. */
  rebuildKernelNow(): Promise<void> {
    if (this.kernelBuild) {
      // One is running on an older snapshot: run once more after it.
      this.kernelBuild = this.kernelBuild.then(() => this.rebuildKernelOnce());
      return this.kernelBuild;
    }
    const p = this.rebuildKernelOnce().finally(() => { if (this.kernelBuild === p) this.kernelBuild = undefined; });
    this.kernelBuild = p;
    return p;
  }

  /** Bring merged/kernel up to date: wait for a build in flight, rebuild only if still stale. */
  async flushKernel(): Promise<void> {
    this.kernelTimer?.cancel();
    this.kernelTimer = undefined;
    if (this.kernelBuild) await this.kernelBuild.catch(() => {});
    if (this.publisher.kernelStale || !this.publisher.hasKernelView()) await this.rebuildKernelNow();
  }

  private async rebuildKernelOnce(): Promise<void> {
    if (this.stopping) return; // a rebuild chained behind one in flight: not worth a stop's wait
    this.kernelDirtySince = 0;
    const t0 = this.now();
    const objects = this.publisher.names.length;
    try {
      const size = await this.publisher.rebuildKernel();
      this.lastKernelRebuildMs = this.now() - t0;
      this.stats.kernelRebuilds++;
      if (size !== undefined) this.log.decision({ object: 'kernel', action: 'merged view rebuilt', reason: `${objects} objects, ${size} bytes`, ms: this.now() - t0 });
    } catch (e) {
      this.log.warn(`merged/kernel not rebuilt: ${errText(e)}`);
    }
    if (this.publisher.kernelStale && !this.stopping) this.scheduleKernel();
    this.scheduleStatus();
  }

  private scheduleStatus(): void {
    if (this.statusTimer || this.stopping) return;
    this.statusTimer = this.clock.after(20, () => {
      this.statusTimer = undefined;
      try { this.writeStatusNow(); } catch (e) { this.log.warn(`status.json not written: ${errText(e)}`); }
    });
  }

  private writeStatusNow(): void {
    this.publisher.writeStatus(this.status());
    this.notifier.status(this.statusLine());
  }

  statusLine(): string {
    const counts = new Map<ObjectState, number>();
    for (const r of this.records.values()) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
    return [...counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([s, n]) => `${n} ${s}`).join(', ') || 'no objects';
  }

  // ---------------------------------------------------------------- control handlers

  status(): DaemonStatus {
    const objects: ObjectStatus[] = [...this.records.values()]
      .sort((a, b) => (a.name === 'vmlinux' ? -1 : b.name === 'vmlinux' ? 1 : a.name < b.name ? -1 : 1))
      .map((r) => {
        const o: Mutable<ObjectStatus> = { name: r.name, state: r.state, policy: r.policy, since: r.since };
        if (r.reason !== undefined) o.reason = r.reason;
        if (r.code !== undefined) o.code = r.code;
        if (r.hint !== undefined) o.hint = r.hint;
        if (r.source !== undefined) o.source = r.source;
        if (r.buildId !== undefined) o.buildId = r.buildId;
        if (r.debuginfo !== undefined) o.debuginfo = this.deps.host.paths.hostView(r.debuginfo);
        if (r.vars !== undefined) o.vars = r.vars;
        if (r.bytes !== undefined) o.bytes = r.bytes;
        if (r.timings !== undefined) o.timings = r.timings;
        if (r.kernelStatus !== undefined) o.kernel = r.kernelStatus;
        return o;
      });
    const l = this.publisher.layout;
    return {
      version: this.deps.version,
      pid: process.pid,
      root: this.deps.host.paths.root,
      kernelRelease: this.kernelRelease,
      startedAt: this.startedAt,
      updatedAt: new Date(this.now()).toISOString(),
      published: {
        runtimeDir: l.runtimeDir, btf: l.btfDir, merged: l.mergedDir,
        kernel: join(l.mergedDir, 'kernel'), status: l.statusFile, controlSocket: l.controlSocket,
      },
      objects,
    };
  }

  /** Resolves when every job of `names` (or all jobs) has ended. */
  async settle(names?: readonly string[]): Promise<void> {
    for (;;) {
      if (this.reconciling) await this.reconciling;
      const pending = [...this.jobs].filter(([n]) => names === undefined || names.includes(n)).map(([, j]) => j.done);
      const kernel = [...this.kernelPending.keys()].some((n) => names === undefined || names.includes(n));
      if (pending.length === 0 && !kernel && !this.reconciling) return;
      await Promise.allSettled([...pending, this.kernelQueue]);
    }
  }

  async regen(target: { readonly names: readonly string[] } | { readonly all: true }): Promise<readonly ObjectStatus[]> {
    const loaded = new Set(['vmlinux', ...this.loaded].filter((n) => !isCompanionModule(n)));
    let names: string[];
    if ('all' in target) {
      names = [...loaded].filter((n) => policyFor(this.config, n) !== 'never');
    } else {
      const unknown = target.names.filter((n) => !loaded.has(n.replace(/-/g, '_')) && !loaded.has(n));
      if (unknown.length > 0) throw new ControlError('bad-request', `not loaded: ${unknown.map((n) => safeName(n)).join(', ')}`);
      names = target.names.map((n) => (loaded.has(n) ? n : n.replace(/-/g, '_')));
      const never = names.filter((n) => policyFor(this.config, n) === 'never');
      if (never.length > 0) throw new ControlError('bad-request', `policy never for ${never.join(', ')} (change the config to regenerate)`);
    }
    for (const n of names) {
      this.forced.add(n);
      if (policyFor(this.config, n) === 'on-demand') this.requested.add(n);
    }
    this.log.info(`regen requested: ${names.join(', ') || '(nothing)'}`);
    await this.reconcile();
    await this.settle(names);
    const wanted = new Set(names);
    return this.status().objects.filter((o) => wanted.has(o.name));
  }

  async lookup(variable: string): Promise<readonly LookupHit[]> {
    // On-demand objects are generated first so the whole merged view is searched.
    let asked = false;
    for (const n of ['vmlinux', ...this.loaded]) {
      if (!isCompanionModule(n) && policyFor(this.config, n) === 'on-demand' && !this.requested.has(n)) { this.requested.add(n); asked = true; }
    }
    if (asked) { await this.reconcile(); await this.settle(); }
    const finder = this.deps.variableFinder;
    if (!finder) throw new ControlError('internal', 'lookup is not available in this build');
    const vmlinux = this.readBtf('vmlinux');
    if (!vmlinux) return [];
    const chains: PublishedChain[] = [];
    for (const name of this.publisher.names) {
      const objectBtf = this.readBtf(name);
      if (objectBtf) chains.push({ name, objectBtf, vmlinux, extras: this.publisher.extrasOf(name) });
    }
    return finder.find(variable, chains);
  }

  async release(names: readonly string[]): Promise<readonly ObjectStatus[]> {
    const canonical = names.map((n) => n.replace(/-/g, '_'));
    const unknown = canonical.filter((n) => this.records.get(n)?.kernel?.state !== 'loaded');
    if (unknown.length > 0) throw new ControlError('bad-request', `no generated companion loaded for ${unknown.map((n) => safeName(n)).join(', ')}`);
    await this.reconciling?.catch(() => {});
    const failed: string[] = [];
    for (const name of canonical) {
      await this.onKernelQueue(name, async () => {
        const r = await this.companions.remove(name);
        const module = `${name}${COMPANION_SUFFIX}`;
        if (!r.ok) { failed.push(r.reason); return; }
        this.setKernel(name, this.records.get(name)?.buildId, { state: 'released', module, reason: `released on request: not inserted again until ${name} loads again or btf-extra regen ${name}` });
        this.log.decision({ object: name, action: 'released companion', reason: `${module} removed, hold dropped` });
      });
    }
    if (failed.length > 0) throw new ControlError('bad-request', failed.join('; '));
    const wanted = new Set(canonical);
    return this.status().objects.filter((o) => wanted.has(o.name));
  }

  async reload(): Promise<void> {
    let next: LoadedConfig;
    try {
      next = await this.deps.loadConfig();
    } catch (e) {
      this.log.error(`config not reloaded, keeping the previous one: ${errText(e)}`);
      throw new ControlError('reload-failed', errText(e));
    }
    const old = this.config;
    const onRestart = [
      next.config.runtimeDir !== old.runtimeDir && 'runtimeDir',
      next.config.cacheDir !== old.cacheDir && 'cacheDir',
      next.config.control.group !== old.control.group && 'control.group',
      JSON.stringify(next.config.watch) !== JSON.stringify(old.watch) && 'watch',
    ].filter((x): x is string => typeof x === 'string');
    if (onRestart.length > 0) this.log.warn(`${onRestart.join(', ')}: changes take effect on restart`);
    this.config = { ...next.config, runtimeDir: old.runtimeDir, cacheDir: old.cacheDir };
    this.configFile = next.file;
    this.slots.setSize(this.config.jobs.concurrency, old.jobs.concurrency);
    if (JSON.stringify(old.debuginfo) !== JSON.stringify(this.config.debuginfo)) {
      this.finder = await this.makeFinder();
      if (this.fileWatches.length > 0) this.watchDebugDirs();
      for (const r of this.records.values()) if (r.state === 'no-debuginfo') this.retry.add(r.name);
    }
    if (old.vars !== this.config.vars) {
      for (const r of this.records.values()) if (r.state === 'published' && r.source !== 'kernel') this.forced.add(r.name);
    }
    this.log.info(`config reloaded from ${next.file ?? '(built-in defaults)'}`);
    await this.reconcile();
  }
}
