/**
 * Publishes under the runtime directory, every file replaced atomically:
 *   btf/<name>, btf/<name>-btf-extra   mirror of /sys/kernel/btf plus the extras (3-level chain)
 *   merged/<module>                     module + extras as one level split on vmlinux
 *   merged/vmlinux                      vmlinux + its extras, standalone
 *   merged/kernel                       vmlinux and every loaded module with extras, standalone, deduplicated
 *   status.json                         the DaemonStatus
 * Unloading removes an object's files; merged/kernel is rebuilt by the caller (it is the costly one).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-write.js';
import { ensureOwnDir } from './folders.js';
import type { DaemonStatus } from './api.js';
import type { BtfOps } from './btf-ops.js';

export const EXTRA_SUFFIX = '-btf-extra';

interface Entry {
  readonly objectBtf: Uint8Array;
  readonly extras: Uint8Array | undefined;
}

export interface PublisherLayout {
  readonly runtimeDir: string;
  readonly btfDir: string;
  readonly mergedDir: string;
  readonly statusFile: string;
  readonly controlSocket: string;
}

export function publisherLayout(runtimeDir: string): PublisherLayout {
  return {
    runtimeDir,
    btfDir: join(runtimeDir, 'btf'),
    mergedDir: join(runtimeDir, 'merged'),
    statusFile: join(runtimeDir, 'status.json'),
    controlSocket: join(runtimeDir, 'control.sock'),
  };
}

/** Names we write must be plain file names: the kernel's object names always are, but check. */
function checkName(name: string): void {
  if (!/^[A-Za-z0-9_.-]{1,120}$/.test(name) || name === '.' || name === '..' || name.endsWith(EXTRA_SUFFIX) || name === 'kernel') {
    throw new Error(`refusing to publish an object named ${JSON.stringify(name).slice(0, 130)}`);
  }
}

export class Publisher {
  readonly layout: PublisherLayout;
  private readonly entries = new Map<string, Entry>();
  private kernelDirty = false;
  /** vmlinux BTF, the base of every merged/<module> (known before vmlinux itself is published). */
  private vmlinux: Uint8Array | undefined;

  constructor(runtimeDir: string, private readonly ops: BtfOps, private readonly warn: (msg: string) => void = () => {}) {
    this.layout = publisherLayout(runtimeDir);
  }

  setVmlinux(bytes: Uint8Array): void { this.vmlinux = bytes; }

  /** merged/kernel exists (a first flush writes it even when nothing changed). */
  hasKernelView(): boolean { return existsSync(join(this.layout.mergedDir, 'kernel')); }

  /**
   * Before every write or delete: the runtime dir, btf/ and merged/ are real directories (made
   * when missing). A symlink planted at any of them is refused (FolderError), never followed.
   */
  private ownDirs(): void {
    const { runtimeDir, btfDir, mergedDir } = this.layout;
    ensureOwnDir(runtimeDir);
    ensureOwnDir(btfDir);
    ensureOwnDir(mergedDir);
  }

  get names(): string[] { return [...this.entries.keys()]; }
  has(name: string): boolean { return this.entries.has(name); }
  extrasOf(name: string): Uint8Array | undefined { return this.entries.get(name)?.extras; }
  /** merged/kernel is out of date (call rebuildKernel when things are quiet). */
  get kernelStale(): boolean { return this.kernelDirty; }

  /** Publish (or republish) one object, with or without extras. Returns the files written. */
  put(name: string, objectBtf: Uint8Array, extras: Uint8Array | undefined): string[] {
    checkName(name);
    this.ownDirs();
    const prev = this.entries.get(name);
    const { btfDir, mergedDir } = this.layout;
    const written: string[] = [];
    const vmlinux = name === 'vmlinux' ? objectBtf : this.vmlinux ?? this.entries.get('vmlinux')?.objectBtf;
    const extraFile = join(btfDir, `${name}${EXTRA_SUFFIX}`);
    const mergedFile = join(mergedDir, name);
    if (prev?.objectBtf !== objectBtf && !(prev && Buffer.compare(prev.objectBtf, objectBtf) === 0)) {
      // A new base (module replaced): old extras would not split on it. Drop them first so a
      // reader sees at worst the base without extras, never new base + old extras.
      if (prev?.extras) { rmSync(extraFile, { force: true }); rmSync(mergedFile, { force: true }); }
      writeFileAtomic(join(btfDir, name), objectBtf);
      written.push(join(btfDir, name));
    }
    if (extras) {
      writeFileAtomic(extraFile, extras);
      written.push(extraFile);
      if (this.ops.canMerge && vmlinux) {
        try {
          const merged = name === 'vmlinux'
            ? this.ops.flattenStandalone([objectBtf, extras])
            : this.ops.flattenOnto([vmlinux, objectBtf, extras]);
          writeFileAtomic(mergedFile, merged);
          written.push(mergedFile);
        } catch (e) {
          rmSync(mergedFile, { force: true });
          this.warn(`${name}: merged view not written: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    } else {
      rmSync(extraFile, { force: true });
      rmSync(mergedFile, { force: true });
    }
    this.entries.set(name, { objectBtf, extras });
    this.kernelDirty = true;
    return written;
  }

  /** Unpublish: the object and its extras disappear from btf/ and merged/. */
  remove(name: string): void {
    if (!this.entries.delete(name)) return;
    this.ownDirs();
    const { btfDir, mergedDir } = this.layout;
    // Extras and merged view first: a reader never finds extras whose base is gone.
    rmSync(join(mergedDir, name), { force: true });
    rmSync(join(btfDir, `${name}${EXTRA_SUFFIX}`), { force: true });
    rmSync(join(btfDir, name), { force: true });
    this.kernelDirty = true;
  }

  /**
   * Rebuild merged/kernel from everything published now (a snapshot: changes meanwhile mark it
   * stale again). Returns its size, or undefined when not built.
   */
  async rebuildKernel(): Promise<number | undefined> {
    this.kernelDirty = false;
    this.ownDirs();
    const file = join(this.layout.mergedDir, 'kernel');
    const vm = this.entries.get('vmlinux');
    if (!this.ops.canMerge || !vm) { rmSync(file, { force: true }); return undefined; }
    const base = vm.extras ? [vm.objectBtf, vm.extras] : [vm.objectBtf];
    const siblings: Uint8Array[][] = [];
    const names: string[] = [];
    for (const [name, e] of [...this.entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (name === 'vmlinux') continue;
      siblings.push(e.extras ? [e.objectBtf, e.extras] : [e.objectBtf]);
      names.push(name);
    }
    try {
      // Nothing to merge onto vmlinux: its own BTF is the view (a copy, not a worker and a dedup).
      const bytes = siblings.length === 0 && base.length === 1 ? vm.objectBtf : await this.ops.mergeSiblings(base, siblings, names);
      writeFileAtomic(file, bytes);
      return bytes.length;
    } catch (e) {
      // Abandoned because the daemon stops: the previous file stays, nothing to report.
      if (e instanceof Error && e.name === 'AbortError') return undefined;
      rmSync(file, { force: true });
      this.warn(`merged/kernel not written: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
  }

  writeStatus(status: DaemonStatus): void {
    ensureOwnDir(this.layout.runtimeDir);
    writeFileAtomic(this.layout.statusFile, `${JSON.stringify(status, null, 2)}\n`);
  }

  /**
   * Remove files left by an earlier run (or temp files) that belong to no object in `loaded`.
   * Files of loaded objects stay until their republication replaces them: readers see no gap.
   */
  sweep(loaded: ReadonlySet<string>): number {
    let removed = 0;
    this.ownDirs();
    const { btfDir, mergedDir } = this.layout;
    for (const dir of [btfDir, mergedDir]) {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const n = e.name;
        if (dir === mergedDir && n === 'kernel') continue;
        const base = n.endsWith(EXTRA_SUFFIX) ? n.slice(0, -EXTRA_SUFFIX.length) : n;
        if (!n.startsWith('.') && (loaded.has(base) || this.entries.has(base))) continue;
        // Only files and links are ours to remove; a directory is left alone and reported.
        if (e.isDirectory()) { this.warn(`${join(dir, n)}: a directory the daemon did not create; left alone`); continue; }
        rmSync(join(dir, n), { force: true });
        removed++;
      }
    }
    return removed;
  }
}
