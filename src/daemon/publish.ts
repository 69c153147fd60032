/**
 * Publishes under the runtime directory, every file replaced atomically:
 *   btf/<name>, btf/<name>-btf-extra   mirror of /sys/kernel/btf plus the extras (3-level chain)
 *   merged/<module>                     module + extras as one level split on vmlinux
 *   merged/vmlinux                      vmlinux + its extras, standalone
 *   merged/kernel                       vmlinux and every loaded module with extras, standalone: the kernel
 *                                       base and one part per module (deduplicated against the base), joined
 *   status.json                         the DaemonStatus
 * Unloading removes an object's files (and its part of merged/kernel); merged/kernel is rebuilt by the caller.
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

/** A module's part of merged/kernel, for the base chain and the bytes it was made from. */
interface Part extends Entry {
  readonly base: readonly Uint8Array[];
  readonly bytes: Promise<Uint8Array>;
}

const sameBytes = (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && Buffer.compare(a, b) === 0);

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
  /** merged/kernel's part of each module, made when it is published (or the base changes), kept until it changes. */
  private readonly parts = new Map<string, Part>();
  /** The kernel base chain (vmlinux [+ extras]) the parts are made on: the same array while its bytes stay. */
  private baseChain: readonly Uint8Array[] | undefined;
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
    // Start merged/kernel's parts now (off the event loop with a worker): the rebuild then only joins.
    if (this.ops.canMerge) {
      const base = this.kernelBase();
      if (base) for (const n of name === 'vmlinux' ? this.names : [name]) if (n !== 'vmlinux') void this.partOf(n, base).catch(() => {});
    }
    return written;
  }

  /** vmlinux [+ its extras], the base of merged/kernel; undefined before vmlinux is published. */
  private kernelBase(): readonly Uint8Array[] | undefined {
    const vm = this.entries.get('vmlinux');
    if (!vm) return undefined;
    const base = vm.extras ? [vm.objectBtf, vm.extras] : [vm.objectBtf];
    const prev = this.baseChain;
    if (prev && prev.length === base.length && prev.every((b, i) => sameBytes(b, base[i]))) return prev;
    this.baseChain = base;
    return base;
  }

  /** `name`'s part on `base`: the cached one while its inputs are the same, else made anew (a failed one is dropped). */
  private partOf(name: string, base: readonly Uint8Array[]): Promise<Uint8Array> {
    const e = this.entries.get(name)!;
    const prev = this.parts.get(name);
    if (prev && prev.base === base && sameBytes(prev.objectBtf, e.objectBtf) && sameBytes(prev.extras, e.extras)) return prev.bytes;
    const chain = e.extras ? [e.objectBtf, e.extras] : [e.objectBtf];
    const part: Part = { ...e, base, bytes: new Promise((resolve) => { resolve(this.ops.kernelPart(base, chain, name)); }) };
    this.parts.set(name, part);
    part.bytes.catch(() => { if (this.parts.get(name) === part) this.parts.delete(name); });
    return part.bytes;
  }

  /** Unpublish: the object and its extras disappear from btf/ and merged/. */
  remove(name: string): void {
    if (!this.entries.delete(name)) return;
    this.parts.delete(name);
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
   * stale again): the parts of modules unchanged since the last rebuild are reused, only new or
   * changed modules (all of them after the base changed) get a part made, then the parts are
   * joined in name order. Returns its size, or undefined when not built.
   */
  async rebuildKernel(): Promise<number | undefined> {
    this.kernelDirty = false;
    this.ownDirs();
    const file = join(this.layout.mergedDir, 'kernel');
    const vm = this.entries.get('vmlinux');
    const base = this.kernelBase();
    if (!this.ops.canMerge || !vm || !base) { rmSync(file, { force: true }); return undefined; }
    const names = this.names.filter((n) => n !== 'vmlinux').sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    try {
      // Nothing to merge onto vmlinux: its own BTF is the view (a copy, not a worker and a dedup).
      const bytes = names.length === 0 && base.length === 1 ? vm.objectBtf
        : await this.ops.joinKernel(base, await Promise.all(names.map((n) => this.partOf(n, base))));
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
