/**
 * File watching for real filesystems (config file, debuginfo directories) through chokidar 5.
 * Not for /sys or /proc: inotify sees nothing there (see watch/ for modules).
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { watch } from 'chokidar';

export interface FileWatch { close(): Promise<void> }
export type FileWatchFactory = (paths: readonly string[], onChange: (path: string) => void, opts?: { depth?: number }) => FileWatch;

/** Watch `paths` (a missing path is watched through its nearest existing parent, so creation counts). */
export const chokidarWatch: FileWatchFactory = (paths, onChange, opts = {}) => {
  const watchers = paths.map((p) => {
    // A missing path is watched from its nearest existing parent, only as deep as needed to see it appear.
    let t = p;
    let climbed = 0;
    while (!existsSync(t) && dirname(t) !== t) { t = dirname(t); climbed++; }
    const depth = climbed > 0 ? climbed : opts.depth ?? 10;
    const w = watch(t, { ignoreInitial: true, depth, ignorePermissionErrors: true, awaitWriteFinish: { stabilityThreshold: 200, pollInterval: 50 } });
    w.on('all', (_event, path) => { if (path === p || path.startsWith(`${p}/`) || p.startsWith(`${path}/`)) onChange(path); });
    w.on('error', () => { /* unreadable subtrees are skipped */ });
    return w;
  });
  return { close: async () => { await Promise.all(watchers.map((w) => w.close())); } };
};
