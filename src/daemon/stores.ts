/**
 * The daemon's stores as a port: the extras cache, the publisher of the runtime directory, the
 * softdep file, the cache's temp folder and kernel-provided extras files. The entry point builds the
 * file-backed ones (`fileStores`); the core only calls them, so it touches no file itself.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-write.js';
import { FILE_LIMITS, readRegularFileSync } from '../util/safe-file.js';
import type { BtfOps } from './btf-ops.js';
import { ExtrasCache } from './cache.js';
import { Publisher } from './publish.js';

export interface DaemonStores {
  readonly cache: ExtrasCache;
  readonly publisher: Publisher;
  /** Write the softdep file atomically, or remove it when `content` is empty. */
  writeSoftdeps(file: string, content: string): void;
  /** Remove the cache's temp folder (outputs of jobs a stop or a crash abandoned). */
  clearTemp(): void;
  /** The bytes of a kernel-provided extras file (bounded, regular files only). */
  readKernelExtras(path: string): Uint8Array;
}

export interface StoresContext {
  readonly runtimeDir: string;
  readonly cacheDir: string;
  readonly btf: BtfOps;
  readonly warn: (msg: string) => void;
}

/** Built once the daemon's folders are prepared (their ownership checked): Daemon.start calls it. */
export type StoresFactory = (c: StoresContext) => DaemonStores;

export const fileStores: StoresFactory = (c) => ({
  cache: new ExtrasCache(join(c.cacheDir, 'extras')),
  publisher: new Publisher(c.runtimeDir, c.btf, c.warn),
  writeSoftdeps(file, content) {
    if (content === '') rmSync(file, { force: true }); else writeFileAtomic(file, content);
  },
  clearTemp() { rmSync(join(c.cacheDir, 'tmp'), { recursive: true, force: true }); },
  readKernelExtras: (path) => readRegularFileSync(path, { maxBytes: FILE_LIMITS.btf }),
});
