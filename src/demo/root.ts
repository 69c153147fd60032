/**
 * Builds injected roots (a directory that the daemon treats as /) from real kernel fixtures, and
 * "loads"/"unloads" modules in them the way the kernel would show it: /sys/kernel/btf/<m>,
 * /sys/module/<m>/notes/.note.gnu.build-id (raw ELF note bytes), a /proc/modules line, the debug
 * file in the Debian layout, and a uevent block for the watcher. Used by the demo, the tests and
 * the benchmark, so all three exercise the same layout.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { parseBtf } from '../btf/parse.js';
import { KIND } from '../btf/kinds.js';
import { encodeBuildIdNote } from '../host/notes.js';
import { HOST_DEFAULTS, hostPaths, type HostPaths } from '../host/paths.js';

export const DEMO_RELEASE = '6.1.0-56-cloud-amd64';
/** Build id of the Debian 6.1.0-56-cloud-amd64 vmlinux (from the shared data's README). */
export const DEMO_VMLINUX_BUILD_ID = '3b43fad5034874490492495d552c0af6a5fab235';

export interface FixtureModule {
  readonly name: string;
  /** Path under /lib/modules/<rel>/kernel/ as shipped (file name may use '-'). */
  readonly relPath: string;
  readonly buildId: string;
  readonly btfFile: string;
  /** Unstripped debug .ko, when the fixture set has one. */
  readonly debugFile: string | undefined;
}

export interface FixtureSet {
  readonly release: string;
  readonly vmlinuxBtf: Uint8Array;
  readonly vmlinuxBuildId: string;
  readonly modules: ReadonlyMap<string, FixtureModule>;
}

const kallsymsMemo = new WeakMap<Uint8Array, string>();

/**
 * A /proc/kallsyms as a process without CAP_SYSLOG reads it (addresses 0), listing vmlinux's
 * per-CPU variables as x86_64 does (type A, at their section offset). Enough for the daemon's
 * companion checks; module symbols are left out (a name kallsyms lacks resolves to nothing).
 */
function vmlinuxKallsyms(vmlinuxBtf: Uint8Array): string {
  const memo = kallsymsMemo.get(vmlinuxBtf);
  if (memo !== undefined) return memo;
  const btf = parseBtf(vmlinuxBtf, { source: 'vmlinux' });
  const lines: string[] = [];
  for (let id = btf.startId; id < btf.nextId; id++) {
    if (btf.kindOf(id) !== KIND.DATASEC) continue;
    const sec = btf.type(id);
    if (sec.kind !== KIND.DATASEC || btf.str(sec.nameOff) !== '.data..percpu') continue;
    for (const v of sec.vars) lines.push(`${v.offset.toString(16).padStart(16, '0')} A ${btf.str(btf.nameOffOf(v.type)!)}\n`);
  }
  const text = lines.join('');
  kallsymsMemo.set(vmlinuxBtf, text);
  return text;
}

function loadTsv(tsv: string): Map<string, { relPath: string; buildId: string }> {
  const out = new Map<string, { relPath: string; buildId: string }>();
  for (const line of readFileSync(tsv, 'utf8').split('\n').slice(1)) {
    const [name, relPath, buildId] = line.split('\t');
    if (name && relPath && buildId) out.set(name, { relPath, buildId });
  }
  return out;
}

/** Where the repository's test/fixtures/kernel is, from this module's location (dist/ or any outDir). */
export function findFixturesDir(start = dirname(fileURLToPath(import.meta.url))): string {
  let dir = start;
  for (;;) {
    const cand = join(dir, 'test/fixtures/kernel');
    if (existsSync(join(cand, 'btf/vmlinux.gz'))) return cand;
    const up = dirname(dir);
    if (up === dir) throw new Error(`test/fixtures/kernel not found above ${start}`);
    dir = up;
  }
}

/** The committed fixtures: vmlinux BTF, 5 module BTFs, 4 debug modules. */
export function committedFixtures(dir = findFixturesDir()): FixtureSet {
  const ids = loadTsv(join(dir, 'build-ids.tsv'));
  const modules = new Map<string, FixtureModule>();
  for (const [name, { relPath, buildId }] of ids) {
    const debug = join(dir, 'debug', relPath.split('/').pop() ?? '');
    modules.set(name, { name, relPath, buildId, btfFile: join(dir, 'btf', name), debugFile: existsSync(debug) ? debug : undefined });
  }
  return { release: DEMO_RELEASE, vmlinuxBtf: gunzipSync(readFileSync(join(dir, 'btf/vmlinux.gz'))), vmlinuxBuildId: DEMO_VMLINUX_BUILD_ID, modules };
}

/** The shared data set (../shared/kernel/debian-...): 1121 module BTFs, 11 debug modules. */
export function sharedFixtures(kernelDir: string): FixtureSet {
  const ids = loadTsv(join(kernelDir, 'meta/build-ids.tsv'));
  const modules = new Map<string, FixtureModule>();
  for (const [name, { relPath, buildId }] of ids) {
    const debug = join(kernelDir, 'debug', relPath.split('/').pop() ?? '');
    modules.set(name, { name, relPath, buildId, btfFile: join(kernelDir, 'btf/modules', name), debugFile: existsSync(debug) ? debug : undefined });
  }
  return { release: DEMO_RELEASE, vmlinuxBtf: readFileSync(join(kernelDir, 'btf/vmlinux')), vmlinuxBuildId: DEMO_VMLINUX_BUILD_ID, modules };
}

export interface LoadOptions {
  /** Put the debug file in the Debian layout (default: when the fixture has one). */
  readonly debug?: boolean;
  /** Report this build id instead of the real one (mismatch tests). */
  readonly buildId?: string;
  /** Where to put the debug file instead of the Debian layout (relative to the root). */
  readonly debugPath?: string;
}

export class InjectedRoot {
  readonly paths: HostPaths;
  /** Feed this to the daemon's uevent watcher (streamSource). */
  readonly uevents = new PassThrough();
  private seq = 1000;
  private tmpSeq = 0;
  private readonly loaded: string[] = [];

  private constructor(readonly dir: string, readonly fixtures: FixtureSet) {
    this.paths = hostPaths(dir);
  }

  /** A fresh root with the kernel (vmlinux BTF, notes, release), no modules loaded. */
  static create(dir: string, fixtures: FixtureSet, opts: { vmlinuxDebug?: string } = {}): InjectedRoot {
    const r = new InjectedRoot(resolve(dir), fixtures);
    const p = r.paths;
    mkdirSync(dirname(p.osRelease), { recursive: true });
    writeFileSync(p.osRelease, `${fixtures.release}\n`);
    writeFileSync(p.procModules, '');
    mkdirSync(p.sysBtfDir, { recursive: true });
    writeFileSync(p.sysBtf('vmlinux'), fixtures.vmlinuxBtf);
    writeFileSync(p.kernelNotes, encodeBuildIdNote(fixtures.vmlinuxBuildId));
    mkdirSync(dirname(p.osReleaseFile), { recursive: true });
    writeFileSync(p.osReleaseFile, 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n');
    mkdirSync(p.moduleTree(fixtures.release), { recursive: true });
    mkdirSync(dirname(p.procKallsyms), { recursive: true });
    writeFileSync(p.procKallsyms, vmlinuxKallsyms(fixtures.vmlinuxBtf));
    if (opts.vmlinuxDebug) r.placeFile(opts.vmlinuxDebug, p.vmlinuxDebugCandidates(HOST_DEFAULTS.debugDir, fixtures.release)[0] ?? '');
    return r;
  }

  /**
   * Replace a kernel-side file in one step, as the kernel shows /proc/modules and sysfs files:
   * a daemon in another process polling it must never read a truncated or half-written one.
   * The temporary file lives outside the watched directories so no listing ever shows it.
   */
  private replaceKernelFile(file: string, data: string | Uint8Array): void {
    const tmpDir = join(this.dir, '.kernel-tmp');
    mkdirSync(tmpDir, { recursive: true });
    const tmp = join(tmpDir, `${basename(file)}.${++this.tmpSeq}`);
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  }

  private placeFile(src: string, dest: string): void {
    mkdirSync(dirname(dest), { recursive: true });
    try { rmSync(dest, { force: true }); } catch { /* none */ }
    copyFileSync(src, dest);
  }

  /** Debian-layout debug path of a module under this root. */
  debugPathOf(name: string): string {
    const m = this.module(name);
    return join(this.paths.moduleDebugDir(HOST_DEFAULTS.debugDir, this.fixtures.release), 'kernel', m.relPath);
  }

  module(name: string): FixtureModule {
    const m = this.fixtures.modules.get(name);
    if (!m) throw new Error(`no fixture module ${name}`);
    return m;
  }

  /** Install the debug file of a module (e.g. later than the load, to test debuginfo watching). */
  installDebug(name: string, at?: string): string {
    const m = this.module(name);
    if (!m.debugFile) throw new Error(`fixture ${name} has no debug file`);
    const dest = at !== undefined ? join(this.dir, at) : this.debugPathOf(name);
    this.placeFile(m.debugFile, dest);
    return dest;
  }

  get loadedModules(): readonly string[] { return this.loaded; }

  /** "Load" a module: kernel files, /proc/modules line, debug file; returns the uevent block fed. */
  load(name: string, opts: LoadOptions = {}): string {
    const m = this.module(name);
    if ((opts.debug ?? m.debugFile !== undefined) && m.debugFile) this.installDebug(name, opts.debugPath);
    this.writeModulesDep();
    return this.loadRaw(name, readFileSync(m.btfFile), opts.buildId ?? m.buildId);
  }

  /** "Load" a module that is not a fixture (benchmarks: hundreds of modules) from its BTF bytes. */
  loadRaw(name: string, btf: Uint8Array, buildId: string, opts: { feed?: boolean } = {}): string {
    const p = this.paths;
    this.replaceKernelFile(p.sysBtf(name), btf);
    const note = p.moduleBuildIdNote(name);
    mkdirSync(dirname(note), { recursive: true });
    this.replaceKernelFile(note, encodeBuildIdNote(buildId));
    if (!this.loaded.includes(name)) this.loaded.push(name);
    this.writeProcModules();
    return opts.feed === false ? '' : this.feed('add', name);
  }

  unload(name: string): string {
    const p = this.paths;
    rmSync(p.sysBtf(name), { force: true });
    rmSync(join(this.dir, 'sys/module', name), { recursive: true, force: true });
    const i = this.loaded.indexOf(name);
    if (i >= 0) this.loaded.splice(i, 1);
    this.writeProcModules();
    return this.feed('remove', name);
  }

  /** Put a `<name>-btf-extra.ko` companion into /lib/modules/<rel>/extra/. */
  addCompanionModule(name: string): string {
    const file = join(this.paths.moduleTree(this.fixtures.release), 'extra', `${name.replace(/_/g, '-')}-btf-extra.ko`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, 'companion placeholder');
    return file;
  }

  /** Show a companion module as loaded (what a successful modprobe does). */
  loadCompanion(name: string, extras: Uint8Array): void {
    const comp = `${name}_btf_extra`;
    this.replaceKernelFile(this.paths.sysBtf(comp), extras);
    if (!this.loaded.includes(comp)) this.loaded.push(comp);
    this.writeProcModules();
    this.feed('add', comp);
  }

  /** modules.dep lists every fixture module (as a real module tree lists every shipped module). */
  private writeModulesDep(): void {
    const file = join(this.paths.moduleTree(this.fixtures.release), 'modules.dep');
    if (existsSync(file)) return;
    const lines = [...this.fixtures.modules.values()].map((m) => `kernel/${m.relPath}:\n`);
    writeFileSync(file, lines.join(''));
  }

  private writeProcModules(): void {
    const lines = this.loaded.map((n, i) => `${n} ${16384 + i * 4096} 0 - Live 0xffffffffc${(0x1000000 + i * 0x10000).toString(16)}\n`);
    this.replaceKernelFile(this.paths.procModules, lines.join(''));
  }

  /** The uevent block of a load or unload, also written to `uevents` (and returned for other transports). */
  feed(action: 'add' | 'remove', name: string): string {
    const seq = ++this.seq;
    const block = `KERNEL[${(seq / 100).toFixed(6)}] ${action}      /module/${name} (module)\nACTION=${action}\nDEVPATH=/module/${name}\nSUBSYSTEM=module\nSEQNUM=${seq}\n\n`;
    this.uevents.write(block);
    return block;
  }
}
