#!/usr/bin/env node
// Entry point of the daemon: builds the real I/O edges (host reader, encoder child processes, cache,
// publisher, watchers, logger, systemd notifier, control socket) and hands them to the core.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { libraryBtfOps, libraryVariableFinder } from '../daemon/btf-ops.js';
import { loadConfig, type DaemonConfig } from '../daemon/config.js';
import { startControlServer, type ControlServer } from '../daemon/control/server.js';
import { KernelWorker } from '../daemon/merge-worker.js';
import type { KernelPort } from '../daemon/companions.js';
import { holdModule, perlRunner, releaseHold } from '../kmod/bpf-hold.js';
import { Daemon } from '../daemon/core.js';
import { fileStores } from '../daemon/stores.js';
import type { DebuginfodLookup } from '../daemon/debuginfo.js';
import { debuginfodUrls, queryDebuginfod } from '../daemon/debuginfod.js';
import { WarmEncoderPool } from '../daemon/encoder.js';
import { chokidarWatch } from '../daemon/fswatch.js';
import { createLogger, detectLogStyle, type DaemonLogger } from '../daemon/logger.js';
import { systemdNotifier } from '../daemon/notify.js';
import { ProcModulesPoller } from '../daemon/watch/poller.js';
import type { ModuleWatcher } from '../daemon/watch/types.js';
import { UeventWatcher, commandSource, streamSource, UDEVADM_MONITOR } from '../daemon/watch/uevent.js';
import { runDemo } from '../demo/run.js';
import { readElfBuildId } from '../host/elf-build-id.js';
import { HOST_DEFAULTS, hostPaths } from '../host/paths.js';
import { fsHostReader, liveModulesOrNone, type HostReader } from '../host/reader.js';
import type { Readable } from 'node:stream';

const usage = `Usage: btf-extrad [--root DIR] [--config FILE] [--once] [--demo [--demo-dir DIR]] [--foreground]

Keeps every loaded kernel module's -btf-extra companion loaded and publishes the merged BTF view
under the runtime directory (default ${HOST_DEFAULTS.runtimeDir}): btf/, merged/, status.json, control.sock.
  --root DIR            treat DIR as / for every host path (tests, demo)
  --config FILE         configuration file (default ${HOST_DEFAULTS.configFile} under the root)
  --once                reconcile once (wait for every job), write the outputs, and exit
  --foreground          stay in the foreground (the default; accepted for service managers)
  --demo                build a demo root from the bundled fixtures (./.demo), load and unload
                        modules in it, and keep the daemon and its control socket up
  --demo-dir DIR        where the demo root goes (default ./.demo)
  --uevent-command CMD  command printing udevadm-style module uevents (default under / only:
                        "${UDEVADM_MONITOR.join(' ')}")
  --modprobe CMD        command that loads a companion (default under / only: modprobe)
  --insmod CMD, --rmmod CMD
                        commands that insert/remove generated companions (destination kernel or
                        both; default under / only: insmod, rmmod)
  --log-level LEVEL     debug|info|warning|error (default info)
  -h, --help            this text
`;

/** How long a stop may take before the process exits anyway. */
const STOP_GRACE_MS = 5000;

/** Package version and a digest of the bundled encoder: a new encoder build misses the cache. */
export function versions(): { version: string; encoderVersion: string } {
  let dir = dirname(fileURLToPath(import.meta.url));
  let version = '0.0.0';
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) { version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version?: string }).version ?? version; break; }
    dir = dirname(dir);
  }
  const h = createHash('sha256').update(version);
  const encDir = fileURLToPath(new URL('../encoder/', import.meta.url));
  try {
    for (const f of readdirSync(encDir).filter((n) => n.endsWith('.js')).sort()) h.update(f).update(readFileSync(join(encDir, f)));
  } catch { /* encoder not built: version only */ }
  return { version, encoderVersion: `${version}+${h.digest('hex').slice(0, 12)}` };
}

export interface DaemonSetup {
  readonly root: string;
  readonly configFile?: string | undefined;
  readonly logger: DaemonLogger;
  readonly ueventCommand?: readonly string[] | undefined;
  /** An already-open uevent stream (the demo's). */
  readonly ueventStream?: Readable | undefined;
  readonly modprobeCommand?: readonly string[] | undefined;
  readonly insmodCommand?: readonly string[] | undefined;
  readonly rmmodCommand?: readonly string[] | undefined;
  readonly env?: NodeJS.ProcessEnv;
  readonly fileWatch?: boolean;
  /** Aborted when the daemon is asked to stop: abandons a merged/kernel rebuild in flight. */
  readonly stopSignal?: AbortSignal | undefined;
}

function runCommand(argv: readonly string[], extra: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const [cmd, ...args] = argv;
    if (cmd === undefined) { reject(new Error('empty command')); return; }
    const child = spawn(cmd, [...args, extra], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => { err = (err + d).slice(-2048); });
    child.on('error', (e) => reject(e));
    child.on('close', (code) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`${cmd} ${extra} exited ${code}${err.trim() ? `: ${err.trim().split('\n').pop() ?? ''}` : ''}`));
    });
  });
}

/** Build a Daemon with the real edges for `root`. */
export async function createDaemon(s: DaemonSetup): Promise<Daemon> {
  const paths = hostPaths(s.root);
  const host = fsHostReader(paths, { warn: (m) => s.logger.warn(m) });
  const onRealHost = paths.root === '/';
  const env = s.env ?? process.env;
  const explicit = s.configFile !== undefined;
  const configFile = s.configFile !== undefined ? resolve(s.configFile) : paths.defaultConfigFile;
  const load = (): ReturnType<typeof loadConfig> => loadConfig(configFile, explicit);
  const loaded = await load();
  const { version, encoderVersion } = versions();
  const ueventCommand = s.ueventCommand ?? (onRealHost ? UDEVADM_MONITOR : undefined);
  const modprobeCommand = s.modprobeCommand ?? (onRealHost ? ['modprobe'] : undefined);
  const insmodCommand = s.insmodCommand ?? (onRealHost ? ['insmod'] : undefined);
  const rmmodCommand = s.rmmodCommand ?? (onRealHost ? ['rmmod'] : undefined);
  // Generated companions reach the kernel only through these (and only under / unless a test injects them).
  const kernel: KernelPort | undefined = insmodCommand && rmmodCommand ? {
    insmod: (file) => runCommand(insmodCommand, file),
    rmmod: (module) => runCommand(rmmodCommand, module),
    hold: async (module, btfId, pinPath) => { await holdModule(perlRunner(), { module, btfId, pinPath }); },
    unhold: async (pinPath) => { releaseHold(pinPath); },
  } : undefined;
  const watchers = (config: DaemonConfig, h: HostReader): ModuleWatcher[] => {
    const list: ModuleWatcher[] = [];
    if (s.ueventStream) list.push(new UeventWatcher(streamSource(s.ueventStream), 50));
    else if (config.watch.uevents && ueventCommand) list.push(new UeventWatcher(commandSource(ueventCommand)));
    list.push(new ProcModulesPoller(() => liveModulesOrNone(h), config.watch.pollIntervalMs));
    return list;
  };
  const debuginfod = (config: DaemonConfig, cacheDir: string): DebuginfodLookup | undefined => {
    // Under an injected root the host's DEBUGINFOD_URLS does not apply: only configured servers.
    const denv = onRealHost ? env : {};
    const urls = debuginfodUrls(config.debuginfo.debuginfodUrls, denv);
    if (urls.length === 0) return undefined;
    return async (buildId) => {
      const r = await queryDebuginfod(buildId, urls, cacheDir, { timeoutMs: config.debuginfo.debuginfodTimeoutMs, env: denv });
      return { path: r.hit?.path, reasons: r.attempts.map((a) => a.reason) };
    };
  };
  // merged/kernel's parts and joins: one long-lived worker, terminated when the daemon stops.
  const kernelWorker = new KernelWorker({ signal: s.stopSignal });
  // Warm children kept idle: as many as may run at once (jobs.concurrency, re-read after a reload).
  const encoder = new WarmEncoderPool({ maxIdle: () => daemon.currentConfig.jobs.concurrency });
  const daemon: Daemon = new Daemon({
    host, loaded,
    stores: fileStores,
    loadConfig: load,
    encoder,
    btf: { ...libraryBtfOps, kernelPart: (base, chain, name) => kernelWorker.kernelPart(base, chain, name), joinKernel: (base, parts) => kernelWorker.joinKernel(base, parts) },
    variableFinder: libraryVariableFinder,
    logger: s.logger,
    notifier: systemdNotifier(env),
    version, encoderVersion,
    readBuildId: readElfBuildId,
    watchers,
    modprobe: modprobeCommand ? (m) => runCommand(modprobeCommand, m) : undefined,
    kernel,
    debuginfod,
    fileWatch: s.fileWatch === false ? undefined : chokidarWatch,
  });
  return daemon;
}

/** Start the control socket for a running daemon (group from the config). */
export async function startControl(daemon: Daemon): Promise<ControlServer> {
  const group = daemon.currentConfig.control.group;
  return startControlServer(daemon.controlSocket, daemon, group !== null ? { group } : {});
}

/**
 * Resolves on SIGTERM/SIGINT; SIGHUP reloads the config. Installed before the daemon starts (the
 * getter yields it once it exists), so a stop during start-up is still a clean stop.
 */
function untilSignal(daemon: () => Daemon | undefined, log: DaemonLogger): Promise<string> {
  return new Promise((resolvePromise) => {
    const onHup = (): void => {
      const d = daemon();
      if (!d) { log.info('SIGHUP during start-up: the configuration being started with stays'); return; }
      log.info('SIGHUP: reloading the configuration');
      void d.reload().catch(() => { /* logged */ });
    };
    const done = (sig: string): void => {
      process.off('SIGHUP', onHup);
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      resolvePromise(sig);
    };
    const onTerm = (): void => done('SIGTERM');
    const onInt = (): void => done('SIGINT');
    process.on('SIGHUP', onHup);
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
}

export async function main(argv: readonly string[]): Promise<number> {
  let opts;
  try {
    opts = parseArgs({
      args: [...argv],
      options: {
        root: { type: 'string' }, config: { type: 'string' }, once: { type: 'boolean' }, foreground: { type: 'boolean' },
        demo: { type: 'boolean' }, 'demo-dir': { type: 'string' }, 'uevent-command': { type: 'string' },
        modprobe: { type: 'string' }, insmod: { type: 'string' }, rmmod: { type: 'string' }, 'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
      strict: true, allowPositionals: false,
    }).values;
  } catch (e) {
    process.stderr.write(`btf-extrad: ${e instanceof Error ? e.message : String(e)}\n${usage}`);
    return 2;
  }
  if (opts.help) { process.stdout.write(usage); return 0; }
  const level = opts['log-level'] ?? 'info';
  if (!['debug', 'info', 'notice', 'warning', 'error'].includes(level)) { process.stderr.write(`btf-extrad: --log-level: unknown level ${level}\n`); return 2; }
  const logger = createLogger(detectLogStyle(), { level });
  const split = (s: string | undefined): string[] | undefined => (s === undefined ? undefined : s.split(/\s+/).filter((x) => x !== ''));

  if (opts.demo) {
    return runDemo({ dir: resolve(opts['demo-dir'] ?? '.demo'), logger, createDaemon, startControl, untilSignal: (d) => untilSignal(() => d, logger) });
  }

  let daemon: Daemon | undefined;
  let stopRequested: string | undefined;
  const stopAll = new AbortController();
  const signalled = untilSignal(() => daemon, logger).then((sig) => {
    stopRequested = sig;
    stopAll.abort();
    // A stop that hangs (a blocked file read, a stuck child) must not keep the process alive.
    setTimeout(() => {
      logger.error(`${sig}: not stopped after ${STOP_GRACE_MS / 1000} s, exiting`);
      process.exit(1);
    }, STOP_GRACE_MS).unref();
    return sig;
  });
  logger.debug(`starting (pid ${process.pid}); signals handled`);
  try {
    daemon = await createDaemon({
      root: opts.root ?? '/', configFile: opts.config, logger,
      ueventCommand: split(opts['uevent-command']), modprobeCommand: split(opts.modprobe),
      insmodCommand: split(opts.insmod), rmmodCommand: split(opts.rmmod),
      fileWatch: !opts.once, stopSignal: stopAll.signal,
    });
    await daemon.start({ announceReady: false });
  } catch (e) {
    // Daemon.start stopped whatever it had started; exit even if something still holds the loop.
    logger.error(`cannot start: ${e instanceof Error ? e.message : String(e)}`);
    await logger.close();
    setTimeout(() => process.exit(1), STOP_GRACE_MS).unref();
    return 1;
  }
  const started = daemon;
  if (opts.once) {
    // A signal meanwhile abandons the jobs (stop) instead of waiting for them.
    await Promise.race([started.settle().then(() => started.flushKernel()), signalled]);
    if (stopRequested) logger.info(`${stopRequested}: stopping`);
    await started.stop();
    // Helpers kept warm for a next job (the kernel worker) have nothing left to do.
    stopAll.abort();
    logger.info(`done: ${started.statusLine()}`);
    await logger.close();
    return 0;
  }
  let control: ControlServer | undefined;
  if (stopRequested === undefined) {
    try {
      control = await startControl(started);
      logger.info(`control socket ${started.controlSocket}`);
    } catch (e) {
      logger.error(`control socket unavailable: ${e instanceof Error ? e.message : String(e)}`);
    }
    // READY only now: a unit ordered after btf-extrad (or a script run by systemctl start) finds the socket.
    started.announceReady();
  }
  const sig = await signalled;
  logger.info(`${sig}: stopping`);
  await control?.close();
  await started.stop();
  logger.info('stopped');
  await logger.close();
  return 0;
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
