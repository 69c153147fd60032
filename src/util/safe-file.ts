/**
 * Opening files this program did not create (CLI inputs, kernel files under --root, debug files,
 * cache entries) without trusting what sits at the path:
 * - O_NONBLOCK, so opening a FIFO never waits for a writer (a blocked open holds the event loop or
 *   a thread-pool thread forever);
 * - fstat on the open descriptor, so a FIFO, device (/dev/zero), socket or directory is refused
 *   before any read, whatever a symlink pointed at;
 * - O_NOFOLLOW where a symlink itself is not acceptable (the daemon's own files);
 * - a size ceiling per kind of file, and reads bounded by it even when fstat reports 0 (procfs).
 * Every refusal is a SafeFileError naming the file, with a closed code.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { constants as bufferConstants } from 'node:buffer';
import { FormatError } from './errors.js';

export const SAFE_FILE_ERROR_CODES = [
  'missing',      // nothing at the path (ENOENT, ENOTDIR)
  'not-regular',  // a FIFO, device, socket or directory where a regular file was expected
  'symlink',      // a symbolic link where none is accepted (O_NOFOLLOW)
  'too-large',    // more bytes than the ceiling for this kind of file
  'io',           // any other open, stat or read failure
] as const;
export type SafeFileErrorCode = (typeof SAFE_FILE_ERROR_CODES)[number];

export class SafeFileError extends FormatError<SafeFileErrorCode> {
  /** The message without the file name (for callers that wrap it in their own format's error). */
  readonly reason: string;
  constructor(code: SafeFileErrorCode, what: string, file: string, details: Record<string, unknown> = {}) {
    super(code, what, { file }, details);
    this.name = 'SafeFileError';
    this.reason = what;
  }
}

const MiB = 1024 * 1024;

/** Ceilings per kind of input (bytes). Far above any real file, far below what hurts the host. */
export const FILE_LIMITS = {
  /** Raw BTF (vmlinux BTF is ~6 MB; a merged view of a whole kernel a few tens of MB). */
  btf: 512 * MiB,
  /** ELF objects (a debug vmlinux is 0.2-1 GB): what one buffer can hold. */
  elf: bufferConstants.MAX_LENGTH,
  /** Small kernel text files (/proc/modules, osrelease, notes, modules.dep, os-release). */
  text: 16 * MiB,
  /** A daemon cache entry (header + extras BTF). */
  cacheEntry: 512 * MiB,
  /** Config files, batch lists. */
  config: 16 * MiB,
  /** A symbol list such as /proc/kallsyms (~10-20 MB with every module's symbols). */
  symbols: 256 * MiB,
} as const;

export interface SafeOpenOptions {
  /** Largest acceptable file; larger is 'too-large' (checked on fstat and while reading). */
  readonly maxBytes: number;
  /** Refuse a symlink at the last path component (the daemon's own files). */
  readonly noFollow?: boolean;
}

function describeType(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file';
}

function openFlags(noFollow: boolean | undefined): number {
  return constants.O_RDONLY | constants.O_NONBLOCK | (noFollow ? constants.O_NOFOLLOW : 0);
}

function openError(path: string, e: unknown, noFollow: boolean | undefined): SafeFileError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new SafeFileError('missing', 'no such file', path);
  if (code === 'ELOOP' && noFollow) return new SafeFileError('symlink', 'is a symbolic link; refusing to follow it', path);
  return new SafeFileError('io', `cannot open: ${(e as Error).message}`, path);
}

function checkStat(path: string, st: Stats, maxBytes: number): void {
  if (!st.isFile()) throw new SafeFileError('not-regular', `${describeType(st)}, not a regular file; refusing to read it`, path);
  if (st.size > maxBytes) throw tooLarge(path, st.size, maxBytes);
}

function tooLarge(path: string, size: number, maxBytes: number): SafeFileError {
  return new SafeFileError('too-large', `${size > maxBytes ? `${size} bytes` : 'more bytes than expected'}, larger than the ${maxBytes}-byte limit for this input`, path, { size, maxBytes });
}

/** An open regular file (sync): its size at open time and bounded positional reads. */
export class SafeFile {
  private constructor(readonly path: string, readonly fd: number, readonly size: number, private readonly maxBytes: number) {}

  static open(path: string, opts: SafeOpenOptions): SafeFile {
    let fd: number;
    try { fd = openSync(path, openFlags(opts.noFollow)); } catch (e) { throw openError(path, e, opts.noFollow); }
    try {
      const st = fstatSync(fd);
      checkStat(path, st, opts.maxBytes);
      return new SafeFile(path, fd, st.size, opts.maxBytes);
    } catch (e) {
      closeSync(fd);
      throw e instanceof SafeFileError ? e : new SafeFileError('io', `cannot stat: ${(e as Error).message}`, path);
    }
  }

  /** Fill `buf[offset, offset+length)` from file offset `position`; returns the bytes read (short at EOF). */
  readAt(buf: Uint8Array, offset: number, length: number, position: number): number {
    let done = 0;
    while (done < length) {
      let n: number;
      try { n = readSync(this.fd, buf, offset + done, Math.min(length - done, 1 << 30), position + done); } catch (e) {
        throw new SafeFileError('io', `cannot read at offset ${position + done}: ${(e as Error).message}`, this.path);
      }
      if (n <= 0) break;
      done += n;
    }
    return done;
  }

  /**
   * The whole file, at most `maxBytes`: reads past the fstat size too (procfs and sysfs files
   * report 0 or 4096), and refuses a file that grows past the ceiling while being read.
   */
  readAll(): Buffer {
    const chunks: Buffer[] = [];
    let total = 0;
    let chunk = Buffer.allocUnsafe(Math.min(Math.max(this.size + 1, 4096), this.maxBytes + 1));
    for (;;) {
      const n = this.readAt(chunk, 0, chunk.length, total);
      total += n;
      if (total > this.maxBytes) throw tooLarge(this.path, total, this.maxBytes);
      if (n === 0) break;
      chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n));
      // A regular file with a size ends at it; procfs and sysfs files report 0 and may read short
      // before their end (seq_file hands out a page or a record at a time): read until 0.
      if (n < chunk.length && this.size > 0 && total >= this.size) break;
      chunk = Buffer.allocUnsafe(Math.min(64 * 1024, this.maxBytes + 1 - total));
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  }

  close(): void { closeSync(this.fd); }
}

/** Run `use` on an open regular file, closing it after. */
export function withSafeFile<T>(path: string, opts: SafeOpenOptions, use: (f: SafeFile) => T): T {
  const f = SafeFile.open(path, opts);
  try { return use(f); } finally { f.close(); }
}

/** The whole of a regular file (sync), bounded by `maxBytes`. */
export function readRegularFileSync(path: string, opts: SafeOpenOptions): Buffer {
  return withSafeFile(path, opts, (f) => f.readAll());
}

/** Async open of a regular file (no thread-pool thread ever waits on a FIFO). */
export async function openRegular(path: string, opts: SafeOpenOptions): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try { fh = await open(path, openFlags(opts.noFollow)); } catch (e) { throw openError(path, e, opts.noFollow); }
  try {
    const st = await fh.stat();
    checkStat(path, st, opts.maxBytes);
    return { fh, size: st.size };
  } catch (e) {
    await fh.close();
    throw e instanceof SafeFileError ? e : new SafeFileError('io', `cannot stat: ${(e as Error).message}`, path);
  }
}

/** The whole of a regular file (async), bounded by `maxBytes` even when fstat reports 0. */
export async function readRegularFile(path: string, opts: SafeOpenOptions): Promise<Buffer> {
  const { fh, size } = await openRegular(path, opts);
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const want = Math.min(Math.max(size + 1 - total, 64 * 1024), opts.maxBytes + 1 - total);
      const buf = Buffer.allocUnsafe(want);
      let n: number;
      try { n = (await fh.read(buf, 0, want, total)).bytesRead; } catch (e) {
        throw new SafeFileError('io', `cannot read at offset ${total}: ${(e as Error).message}`, path);
      }
      total += n;
      if (total > opts.maxBytes) throw tooLarge(path, total, opts.maxBytes);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
    }
    return Buffer.concat(chunks, total);
  } finally {
    await fh.close();
  }
}
