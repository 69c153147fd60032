/**
 * The daemon's own folders (runtimeDir, cacheDir and the subfolders it makes in them) and the
 * rules that keep it from writing or deleting anywhere else:
 * - config paths are resolved inside --root (HostPaths.under clamps `..`); an existing part of
 *   the path that resolves outside the root (a symlink out) is refused;
 * - its own folders are real directories: a symlink there is refused, never followed;
 * - it deletes only inside folders it created and recognises: runtimeDir and cacheDir carry a
 *   marker file; a folder without one is adopted only when everything in it is something the
 *   daemon writes (an upgrade from a version without markers), else refused (cacheDir: /tmp);
 * - at start-up, the temp files its atomic writes leave when killed are removed (only those of
 *   processes that no longer run, only in its folders).
 */
import { lstatSync, mkdirSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import type { HostPaths } from '../host/paths.js';
import { FormatError } from '../util/errors.js';

export const FOLDER_ERROR_CODES = [
  'outside-root',    // the path resolves outside --root (a symlink on the way leads out)
  'symlink',         // one of the daemon's own folders is a symbolic link
  'not-a-directory', // something other than a directory sits where its folder goes
  'foreign-content', // the folder holds files the daemon did not create (and no marker)
] as const;
export type FolderErrorCode = (typeof FOLDER_ERROR_CODES)[number];

export class FolderError extends FormatError<FolderErrorCode> {
  constructor(code: FolderErrorCode, what: string, dir: string) {
    super(code, what, { file: dir });
    this.name = 'FolderError';
  }
}

/** Marks a folder as the daemon's: only inside such folders does it delete anything. */
export const OWNER_MARKER = '.btf-extrad-owned';
const MARKER_TEXT = 'This directory belongs to btf-extrad, which deletes files in it. Do not keep other files here.\n';

/** `.<name>.tmp-<pid>-<random>`: what writeFileAtomic (and the debuginfod download) leave when killed. */
const ATOMIC_TEMP = /^\.[^/]*\.tmp-(\d+)-[a-z0-9]+$/;
/** `.ctl-<pid>-<random>`: the control socket's bind name before its rename. */
const CONTROL_TEMP = /^\.ctl-(\d+)-[a-z0-9]+$/;

/** What the daemon puts directly in each of its folders (anything else there is foreign). */
const RUNTIME_ENTRIES = new Set(['btf', 'merged', 'status.json', 'control.sock', OWNER_MARKER]);
const CACHE_ENTRIES = new Set(['extras', 'tmp', 'debuginfod', OWNER_MARKER]);

export interface FolderLog {
  info(msg: string): void;
  warn(msg: string): void;
}

/** A process of this id still runs (its temp files may be in use). */
function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

export function isStaleTemp(name: string): boolean {
  const m = ATOMIC_TEMP.exec(name) ?? CONTROL_TEMP.exec(name);
  return m !== null && !alive(Number(m[1]));
}

function lstatOrUndefined(path: string): ReturnType<typeof lstatSync> | undefined {
  try { return lstatSync(path); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Refuse a symlink or a non-directory at `dir`; true when it exists. */
export function checkOwnDir(dir: string): boolean {
  const st = lstatOrUndefined(dir);
  if (st === undefined) return false;
  if (st.isSymbolicLink()) throw new FolderError('symlink', 'is a symbolic link; the daemon\'s folders must be real directories (not following it)', dir);
  if (!st.isDirectory()) throw new FolderError('not-a-directory', 'is not a directory', dir);
  return true;
}

/** `dir` as a real directory: created when missing (its parent must be one already, or is made). */
export function ensureOwnDir(dir: string): void {
  if (checkOwnDir(dir)) return;
  mkdirSync(dirname(dir), { recursive: true });
  try { mkdirSync(dir, { mode: 0o755 }); } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  checkOwnDir(dir);
}

/** The deepest existing ancestor of `path` (or `path` itself). */
function existingAncestor(path: string): string {
  let p = path;
  while (lstatOrUndefined(p) === undefined && dirname(p) !== p) p = dirname(p);
  return p;
}

/** Refuse `path` when what exists of it resolves outside the root (a symlink on the way leads out). */
export function checkInsideRoot(paths: HostPaths, path: string, what: string): void {
  const root = realpathSync(paths.root);
  let real: string;
  try { real = realpathSync(existingAncestor(path)); } catch { return; /* a dangling link: nothing there to reach */ }
  const rel = relative(root, real);
  if (rel.startsWith('..') || rel.startsWith('/')) {
    throw new FolderError('outside-root', `${what} resolves to ${real}, outside the root ${paths.root}`, path);
  }
}

/**
 * Make `dir` (runtimeDir or cacheDir) the daemon's. With the marker it is; an empty or new one
 * gets it. Without a marker, only the default location is adopted, and only when everything in it
 * has a name the daemon writes (a folder of a version before markers): a configured folder that
 * already holds anything (cacheDir: /tmp holding a tmp/ of someone else's) is refused.
 */
function claim(dir: string, known: ReadonlySet<string>, what: string, isDefault: boolean): void {
  ensureOwnDir(dir);
  const names = readdirSync(dir);
  if (names.includes(OWNER_MARKER)) return;
  const foreign = isDefault ? names.filter((n) => !known.has(n) && !ATOMIC_TEMP.test(n) && !CONTROL_TEMP.test(n)) : names;
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 3).map((n) => JSON.stringify(n)).join(', ');
    throw new FolderError('foreign-content', `${what} holds files btf-extrad did not create (${shown}${foreign.length > 3 ? ', ...' : ''}) and no ${OWNER_MARKER} marker; give it a directory of its own`, dir);
  }
  writeFileSync(join(dir, OWNER_MARKER), MARKER_TEXT);
}

/** Remove stale temp files directly in `dir` (not below); returns how many. */
function sweepTemp(dir: string, only?: string): number {
  let names: string[];
  try { names = readdirSync(dir); } catch { return 0; }
  let removed = 0;
  for (const n of names) {
    if (!isStaleTemp(n) || (only !== undefined && !n.startsWith(`.${only}.tmp-`))) continue;
    const st = lstatOrUndefined(join(dir, n));
    if (st === undefined || st.isDirectory()) continue;
    rmSync(join(dir, n), { force: true });
    removed++;
  }
  return removed;
}

/** Subfolders of `dir` that are real directories (symlinks are neither entered nor removed). */
function realSubdirs(dir: string): string[] {
  try { return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(dir, d.name)); } catch { return []; }
}

export interface DaemonFolders {
  readonly paths: HostPaths;
  /** Both already resolved under the root (HostPaths.under). */
  readonly runtimeDir: string;
  readonly cacheDir: string;
  /** Host-absolute debug roots from the config. */
  readonly debugDirs: readonly string[];
  readonly log: FolderLog;
}

/**
 * Start-up checks and cleanup; throws FolderError (start-up fails with that one line) when a
 * folder is not safe to write or delete in.
 */
export function prepareDaemonFolders(f: DaemonFolders): void {
  const { paths } = f;
  // The folder itself first (the clearest message for a planted link), then where its path leads.
  checkOwnDir(f.runtimeDir);
  checkOwnDir(f.cacheDir);
  checkInsideRoot(paths, f.runtimeDir, 'runtimeDir');
  checkInsideRoot(paths, f.cacheDir, 'cacheDir');
  for (const d of f.debugDirs) checkInsideRoot(paths, paths.under(d), `debuginfo path ${d}`);
  claim(f.runtimeDir, RUNTIME_ENTRIES, 'runtimeDir', f.runtimeDir === paths.defaultRuntimeDir);
  claim(f.cacheDir, CACHE_ENTRIES, 'cacheDir', f.cacheDir === paths.defaultCacheDir);
  for (const sub of ['btf', 'merged']) checkOwnDir(join(f.runtimeDir, sub));
  for (const sub of ['extras', 'tmp', 'debuginfod']) checkOwnDir(join(f.cacheDir, sub));

  let removed = sweepTemp(f.runtimeDir) + sweepTemp(join(f.runtimeDir, 'btf')) + sweepTemp(join(f.runtimeDir, 'merged'));
  // Cache entries: extras/<release>/<object>/; debuginfod downloads: debuginfod/<build id>/.
  for (const rel of realSubdirs(join(f.cacheDir, 'extras'))) for (const obj of realSubdirs(rel)) removed += sweepTemp(obj);
  for (const id of realSubdirs(join(f.cacheDir, 'debuginfod'))) removed += sweepTemp(id);
  // The softdep file's directory is shared with other packages: only our own file's temps.
  removed += sweepTemp(dirname(paths.softdepFile), basename(paths.softdepFile));
  if (removed > 0) f.log.info(`removed ${removed} temp file(s) left by an earlier run`);
}
