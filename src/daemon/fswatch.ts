/**
 * File watching for real filesystems (config file, debuginfo directories) through chokidar 5.
 * Not for /sys or /proc: inotify sees nothing there (see watch/ for modules).
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';

export interface FileWatch { close(): Promise<void> }
export type FileWatchFactory = (paths: readonly string[], onChange: (path: string) => void, opts?: { depth?: number }) => FileWatch;

/** Watch `paths` (a missing path is watched through its nearest existing parent, so creation counts). */
export const chokidarWatch: FileWatchFactory = (paths, onChange, opts = {}) => {
  const depth = opts.depth ?? 10;
  const watchers = new Set<FSWatcher>();
  const full = (p: string): void => {
    const w = watch(p, { ignoreInitial: true, depth, followSymlinks: false, ignorePermissionErrors: true, awaitWriteFinish: { stabilityThreshold: 200, pollInterval: 50 } });
    w.on('all', (_event, path) => onChange(path));
    w.on('error', () => { /* unreadable subtrees are skipped */ });
    watchers.add(w);
  };
  for (const p of paths) {
    if (existsSync(p)) { full(p); continue; }
    // Missing: watch the nearest existing parent just deep enough to see `p` appear, then switch.
    let t = p;
    let climbed = 0;
    while (!existsSync(t) && dirname(t) !== t) { t = dirname(t); climbed++; }
    const w = watch(t, { ignoreInitial: true, depth: climbed, ignorePermissionErrors: true });
    w.on('all', (_event, path) => {
      if (!(path === p || p.startsWith(`${path}/`)) || !existsSync(p)) return;
      watchers.delete(w);
      void w.close();
      full(p);
      onChange(p);
    });
    w.on('error', () => {});
    watchers.add(w);
  }
  return { close: async () => { await Promise.all([...watchers].map((w) => w.close())); watchers.clear(); } };
};
