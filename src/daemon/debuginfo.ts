/**
 * Finds the debug file of a loaded object and checks it is the right one. Search order: each
 * debug root's distribution layouts (Debian/Ubuntu boot/vmlinux-<rel> and
 * lib/modules/<rel>/kernel/**.ko; Fedora lib/modules/<rel>/vmlinux and **.ko.debug), then its
 * .build-id/xx/rest.debug, then debuginfod. A candidate whose GNU build id differs from the
 * loaded object's is refused (and named in the reason if nothing better turns up).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { HostPaths } from '../host/paths.js';
import type { OsRelease } from '../host/os-release.js';
import { normalizeModuleName } from './glob.js';

export type DebuginfoResult =
  | { readonly kind: 'found'; readonly path: string; readonly via: 'local' | 'build-id' | 'debuginfod' }
  | { readonly kind: 'missing'; readonly reason: string; readonly hint: string; readonly code: 'no-debuginfo' | 'build-id-mismatch' };

/** Looks a build id up in debuginfod (daemonedge's client behind this narrow shape). */
export type DebuginfodLookup = (buildId: string) => Promise<{ path?: string | undefined; reasons: readonly string[] }>;

export interface DebuginfoFinderOptions {
  readonly paths: HostPaths;
  readonly release: string;
  /** Host-absolute debug roots from the config. */
  readonly debugDirs: readonly string[];
  readonly readBuildId: (file: string) => Promise<string | undefined>;
  readonly debuginfod?: DebuginfodLookup | undefined;
  readonly os: OsRelease;
  /** Module name -> path under /lib/modules/<rel>/ (modules.dep), for direct layout lookups. */
  readonly modulePath?: ((name: string) => string | undefined) | undefined;
}

/** What to install for the kernel's debug info on this distribution. */
export function installHint(os: OsRelease, release: string): string {
  const family = [os.id, ...os.idLike];
  if (os.id === 'ubuntu') return `apt-get install linux-image-${release}-dbgsym (from the ddebs.ubuntu.com repository), or set debuginfo.debuginfodUrls`;
  if (family.includes('debian')) return `apt-get install linux-image-${release}-dbg, or set debuginfo.debuginfodUrls`;
  if (family.some((x) => x === 'fedora' || x === 'rhel' || x === 'centos')) return `dnf debuginfo-install kernel-${release}, or set debuginfo.debuginfodUrls`;
  if (family.some((x) => x === 'suse' || x === 'opensuse')) return `zypper install kernel-default-debuginfo (for ${release}), or set debuginfo.debuginfodUrls`;
  if (family.includes('arch')) return `enable debuginfod (DEBUGINFOD_URLS=https://debuginfod.archlinux.org) for ${release}`;
  return `install the debug info package of kernel ${release}, or set debuginfo.debuginfodUrls`;
}

const DEBUG_SUFFIXES = ['.ko.debug', '.ko'] as const;

function isRegularFile(file: string): boolean {
  try { return statSync(file).isFile(); } catch { return false; }
}

export class DebuginfoFinder {
  /** normalized module name -> debug files (all roots, in root order). */
  private index: Map<string, string[]> | undefined;
  private indexedAt = 0;

  constructor(private readonly o: DebuginfoFinderOptions) {}

  /** Forget the module index (debug directories changed). */
  invalidate(): void { this.index = undefined; }

  /** Directories worth watching for new debuginfo. */
  watchDirs(): string[] {
    return this.o.debugDirs.map((d) => this.o.paths.under(d));
  }

  private buildIndex(): Map<string, string[]> {
    const index = new Map<string, string[]>();
    const walk = (dir: string, depth: number): void => {
      if (depth > 12) return;
      let ents;
      try { ents = readdirSync(dir, { withFileTypes: true }); } catch { return; }
      for (const e of ents) {
        const full = join(dir, e.name);
        if (e.isDirectory()) { walk(full, depth + 1); continue; }
        if (!e.isFile() && !e.isSymbolicLink()) continue;
        const suffix = DEBUG_SUFFIXES.find((s) => e.name.endsWith(s));
        if (!suffix) continue;
        const name = normalizeModuleName(e.name.slice(0, -suffix.length));
        const list = index.get(name) ?? [];
        list.push(full);
        index.set(name, list);
      }
    };
    for (const d of this.o.debugDirs) walk(this.o.paths.moduleDebugDir(d, this.o.release), 0);
    return index;
  }

  private localCandidates(name: string): string[] {
    if (name === 'vmlinux') return this.o.debugDirs.flatMap((d) => this.o.paths.vmlinuxDebugCandidates(d, this.o.release));
    const key = normalizeModuleName(name);
    // modules.dep names the shipped path: the debug file sits at the same path under each debug root.
    const rel = this.o.modulePath?.(key)?.replace(/\.(xz|zst|gz)$/, '');
    const direct = rel === undefined ? [] : this.o.debugDirs.flatMap((d) => {
      const f = join(this.o.paths.moduleDebugDir(d, this.o.release), rel);
      return [f, `${f}.debug`];
    }).filter((f) => existsSync(f));
    // A miss on an index older than 200 ms rebuilds it: files may have arrived unwatched.
    if (this.index === undefined || (!this.index.has(key) && Date.now() - this.indexedAt > 200)) {
      this.index = this.buildIndex();
      this.indexedAt = Date.now();
    }
    return [...new Set([...direct, ...(this.index.get(key) ?? [])])];
  }

  async find(name: string, buildId: string | undefined): Promise<DebuginfoResult> {
    const hint = installHint(this.o.os, this.o.release);
    const refused: string[] = [];
    let mismatched = false;
    const check = async (file: string): Promise<boolean> => {
      if (!isRegularFile(file)) {
        // A FIFO or device (e.g. a link to /dev/zero) is never handed to the encoder: it would block or never end.
        if (existsSync(file)) refused.push(`${this.o.paths.hostView(file)}: not a regular file`);
        return false;
      }
      if (buildId === undefined) return true; // nothing to check against (no notes): trust the layout
      let id: string | undefined;
      try { id = await this.o.readBuildId(file); } catch (e) {
        refused.push(`${this.o.paths.hostView(file)}: ${e instanceof Error ? e.message : String(e)}`);
        return false;
      }
      if (id === buildId) return true;
      mismatched = true;
      refused.push(`${this.o.paths.hostView(file)} has build id ${id ?? '(none)'}, loaded ${name} has ${buildId}`);
      return false;
    };
    for (const file of this.localCandidates(name)) if (await check(file)) return { kind: 'found', path: file, via: 'local' };
    if (buildId !== undefined) {
      for (const d of this.o.debugDirs) {
        const file = this.o.paths.buildIdDebug(d, buildId);
        if (await check(file)) return { kind: 'found', path: file, via: 'build-id' };
      }
      if (this.o.debuginfod) {
        const r = await this.o.debuginfod(buildId);
        if (r.path !== undefined) return { kind: 'found', path: r.path, via: 'debuginfod' };
        refused.push(...r.reasons);
      }
    }
    const reason = refused.length > 0
      ? `no matching debuginfo: ${refused.join('; ')}`
      : `no debuginfo for ${name} (build id ${buildId ?? 'unknown'}) under ${this.o.debugDirs.join(', ')}${this.o.debuginfod ? ' or from debuginfod' : ''}`;
    return { kind: 'missing', reason, hint, code: mismatched ? 'build-id-mismatch' : 'no-debuginfo' };
  }
}
