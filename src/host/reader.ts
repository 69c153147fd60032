/**
 * Everything the daemon reads from the host, under the injected root: loaded modules, build ids,
 * kernel BTF, kernel-provided extras, companion modules in the module tree, the distro.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readLoadedModules } from './modules.js';
import { buildIdFromNotes } from './notes.js';
import { readOsRelease, type OsRelease } from './os-release.js';
import type { HostPaths } from './paths.js';
import { readKernelRelease } from './release.js';

export interface HostReader {
  readonly paths: HostPaths;
  kernelRelease(): Promise<string>;
  loadedModules(): Promise<string[]>;
  /** GNU build id of a loaded object (vmlinux: /sys/kernel/notes), undefined when unreadable. */
  buildId(object: string): Promise<string | undefined>;
  hasBtf(object: string): boolean;
  readBtf(object: string): Uint8Array | undefined;
  /** Path of extras the kernel provides for `object`, if any. */
  kernelExtras(object: string): string | undefined;
  /** `<name>-btf-extra.ko*` companions in /lib/modules/<rel>/ (extra/, updates/): base name -> path. */
  companionModules(release: string): Map<string, string>;
  osRelease(): Promise<OsRelease>;
}

const COMPANION_FILE = /^(.+?)[-_]btf[-_]extra\.ko(\.(xz|zst|gz))?$/;

export function fsHostReader(paths: HostPaths): HostReader {
  return {
    paths,
    kernelRelease: () => readKernelRelease(paths.osRelease),
    loadedModules: () => readLoadedModules(paths.procModules),
    async buildId(object) {
      const file = object === 'vmlinux' ? paths.kernelNotes : paths.moduleBuildIdNote(object);
      try { return buildIdFromNotes(await readFile(file), file); } catch { return undefined; }
    },
    hasBtf: (o) => existsSync(paths.sysBtf(o)),
    readBtf(o) {
      try { return readFileSync(paths.sysBtf(o)); } catch { return undefined; }
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
  };
}
