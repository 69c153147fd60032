/**
 * Everything the daemon reads from the host, under the injected root: loaded modules, build ids,
 * kernel BTF, kernel-provided extras, companion modules in the module tree, the distro.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { FILE_LIMITS, readRegularFile, readRegularFileSync, SafeFileError } from '../util/safe-file.js';
import { join } from 'node:path';
import { readLiveModules, readLoadedModules, type ProcModule } from './modules.js';
import type { HostFormatError } from './errors.js';
import { buildIdFromNotes } from './notes.js';
import { readOsRelease, type OsRelease } from './os-release.js';
import type { HostPaths } from './paths.js';
import { readKernelRelease } from './release.js';

export interface HostReader {
  readonly paths: HostPaths;
  kernelRelease(): Promise<string>;
  loadedModules(): Promise<string[]>;
  /** The Live modules with size and address (the poller tells a reloaded module by them). */
  liveModules(): Promise<ProcModule[]>;
  /** GNU build id of a loaded object (vmlinux: /sys/kernel/notes), undefined when unreadable. */
  buildId(object: string): Promise<string | undefined>;
  hasBtf(object: string): boolean;
  readBtf(object: string): Uint8Array | undefined;
  /** Path of extras the kernel provides for `object`, if any. */
  kernelExtras(object: string): string | undefined;
  /** `<name>-btf-extra.ko*` companions in /lib/modules/<rel>/ (extra/, updates/): base name -> path. */
  companionModules(release: string): Map<string, string>;
  osRelease(): Promise<OsRelease>;
  /** Module name -> path under /lib/modules/<rel>/ from modules.dep (compression suffix kept). */
  modulePaths(release: string): ReadonlyMap<string, string>;
  /** What decides whether the kernel accepts a module we insert (files absent: the permissive value). */
  moduleLoading(): ModuleLoadingState;
  /** /proc/kallsyms, undefined when unreadable. */
  kallsyms(): string | undefined;
}

export interface ModuleLoadingState {
  /** The active lockdown mode (`none`, `integrity`, `confidentiality`); undefined without the LSM. */
  readonly lockdown: string | undefined;
  /** Only signed modules load (module.sig_enforce=1, or a kernel built with MODULE_SIG_FORCE). */
  readonly sigEnforce: boolean;
  /** kernel.modules_disabled=1: no module loads until reboot. */
  readonly modulesDisabled: boolean;
}

/** The bracketed word of /sys/kernel/security/lockdown (`none [integrity] confidentiality`). */
export function parseLockdown(text: string): string | undefined {
  return /\[([a-z]+)\]/.exec(text)?.[1];
}

/** modules.dep: "kernel/drivers/block/loop.ko.xz: dep dep" per line; names fold '-' to '_'. */
export function parseModulesDep(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const path = line.slice(0, colon).trim();
    const m = /([^/]+)\.ko(\.(xz|zst|gz))?$/.exec(path);
    if (m && m[1] !== undefined) out.set(m[1].replace(/-/g, '_'), path);
  }
  return out;
}

/**
 * Loaded modules for the daemon: a kernel built without loadable modules has no /proc/modules,
 * which means "no modules" (only vmlinux), not an error. Other failures still throw.
 */
export async function loadedModulesOrNone(host: HostReader): Promise<string[]> {
  return orNone(() => host.loadedModules());
}

/** As liveModules(), [] when /proc/modules does not exist. */
export async function liveModulesOrNone(host: HostReader): Promise<ProcModule[]> {
  return orNone(() => host.liveModules());
}

async function orNone<T>(read: () => Promise<T[]>): Promise<T[]> {
  try { return await read(); } catch (e) {
    if (e instanceof SafeFileError && e.code === 'missing') return [];
    throw e;
  }
}

const COMPANION_FILE = /^(.+?)[-_]btf[-_]extra\.ko(\.(xz|zst|gz))?$/;

/** Distinct malformed /proc/modules lines remembered (each is warned about once). */
const MAX_WARNED_LINES = 1000;

export interface HostReaderOptions {
  /** Where warnings go (a malformed /proc/modules line: skipped, reported once per distinct line). */
  readonly warn?: ((msg: string) => void) | undefined;
}

export function fsHostReader(paths: HostPaths, opts: HostReaderOptions = {}): HostReader {
  const warnedLines = new Set<string>();
  const onMalformed = (e: HostFormatError): void => {
    const line = String(e.details['line'] ?? e.message);
    if (warnedLines.has(line) || warnedLines.size >= MAX_WARNED_LINES) return;
    warnedLines.add(line);
    opts.warn?.(`${e.message}: line skipped`);
  };
  let depCache: { file: string; mtimeMs: number; size: number; map: Map<string, string> } | undefined;
  return {
    paths,
    kernelRelease: () => readKernelRelease(paths.osRelease),
    loadedModules: () => readLoadedModules(paths.procModules, onMalformed),
    liveModules: () => readLiveModules(paths.procModules, onMalformed),
    async buildId(object) {
      const file = object === 'vmlinux' ? paths.kernelNotes : paths.moduleBuildIdNote(object);
      try { return buildIdFromNotes(await readRegularFile(file, { maxBytes: FILE_LIMITS.text }), file); } catch { return undefined; }
    },
    hasBtf: (o) => existsSync(paths.sysBtf(o)),
    readBtf(o) {
      // A FIFO or device planted there is refused (undefined), never read.
      try { return readRegularFileSync(paths.sysBtf(o), { maxBytes: FILE_LIMITS.btf }); } catch { return undefined; }
    },
    kernelExtras(o) {
      for (const p of [paths.sysBtfExtra(o), paths.sysBtfCompanion(o)]) if (existsSync(p)) return p;
      return undefined;
    },
    companionModules(release) {
      const out = new Map<string, string>();
      const walk = (dir: string, depth: number): void => {
        if (depth > 6) return;
        let ents;
        try { ents = readdirSync(dir, { withFileTypes: true }); } catch { return; }
        for (const e of ents) {
          const full = join(dir, e.name);
          if (e.isDirectory()) walk(full, depth + 1);
          else {
            const m = COMPANION_FILE.exec(e.name);
            if (m && m[1] !== undefined) {
              const base = m[1].replace(/-/g, '_');
              if (!out.has(base)) out.set(base, full);
            }
          }
        }
      };
      for (const sub of ['updates', 'extra']) walk(join(paths.moduleTree(release), sub), 0);
      return out;
    },
    osRelease: () => readOsRelease(paths.osReleaseFile),
    modulePaths(release) {
      const file = join(paths.moduleTree(release), 'modules.dep');
      let st;
      try { st = statSync(file); } catch { return new Map(); }
      if (!depCache || depCache.file !== file || depCache.mtimeMs !== st.mtimeMs || depCache.size !== st.size) {
        let map = new Map<string, string>();
        try { map = parseModulesDep(readRegularFileSync(file, { maxBytes: FILE_LIMITS.text }).toString('utf8')); } catch { /* unreadable: empty */ }
        depCache = { file, mtimeMs: st.mtimeMs, size: st.size, map };
      }
      return depCache.map;
    },
    moduleLoading() {
      const text = (file: string): string | undefined => {
        try { return readRegularFileSync(file, { maxBytes: FILE_LIMITS.text }).toString('utf8').trim(); } catch { return undefined; }
      };
      const lockdown = text(paths.lockdown);
      return {
        lockdown: lockdown === undefined ? undefined : parseLockdown(lockdown),
        sigEnforce: text(paths.moduleSigEnforce) === 'Y',
        modulesDisabled: text(paths.modulesDisabled) === '1',
      };
    },
    kallsyms() {
      try { return readRegularFileSync(paths.procKallsyms, { maxBytes: FILE_LIMITS.symbols }).toString('utf8'); } catch { return undefined; }
    },
  };
}
