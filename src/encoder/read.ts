/**
 * Reads an object for encoding without holding the parts the encoder never looks at in memory.
 * For large files (a 226 MB vmlinux) the whole-file buffer ElfFile wants is allocated zeroed
 * (the OS maps it lazily, so untouched pages cost no RSS) and only the ELF header, the section
 * header table and the sections the encoder reads are filled in: DWARF (.debug_*), their
 * relocations, the symbol table and string tables. Sections left out read as zeros; the
 * encoder never asks for them. The big DWARF sections are read into buffers of their own
 * (detached, see ElfFile.fromBytes) so that they can be released once the types are decoded:
 * the later phases then run without ~170 MB of vmlinux DWARF resident. Large files live in
 * SharedArrayBuffers so worker threads decode chunks of them without a copy. Small files are
 * read whole.
 */
import { FILE_LIMITS, withSafeFile, type SafeFile } from '../util/safe-file.js';

/** Files below this size are read whole. */
const SPARSE_THRESHOLD = 64 << 20;
const SHT_NOBITS = 8;
const SHT_SYMTAB = 2;
const SHT_STRTAB = 3;
const SHT_SYMTAB_SHNDX = 18;

/** DWARF sections at least this big are read into buffers of their own (releasable). */
const DETACH_THRESHOLD = 1 << 20;

/** A file image for ElfFile.fromBytes(bytes, name, sections). */
export interface ObjectImage {
  readonly bytes: Uint8Array;
  /** Section index -> its bytes, read apart from `bytes` (where that range stays zero). */
  readonly sections: Map<number, Uint8Array>;
}

/** The file's bytes, with only what the encoder needs actually read when it is large. Throws on I/O errors. */
export function readObjectForEncoding(path: string, sparseThreshold = SPARSE_THRESHOLD, detachThreshold = DETACH_THRESHOLD): ObjectImage {
  return withSafeFile(path, { maxBytes: FILE_LIMITS.elf }, (fd) => {
    const size = fd.size;
    const sections = new Map<number, Uint8Array>();
    if (size < sparseThreshold) {
      const whole = Buffer.alloc(size);
      readRange(fd, whole, 0, size);
      return { bytes: whole, sections };
    }
    const buf = Buffer.from(new SharedArrayBuffer(size));
    readRange(fd, buf, 0, Math.min(size, 64));
    // Only ELF64 little-endian is interpreted. Anything else is refused by ElfFile from its
    // header alone: reading the rest of a huge non-ELF file would only cost time and memory.
    if (buf[0] !== 0x7f || buf[1] !== 0x45 || buf[4] !== 2 || buf[5] !== 1) return { bytes: buf, sections };
    const shoff = Number(buf.readBigUInt64LE(0x28));
    const shentsize = buf.readUInt16LE(0x3a);
    const shnum = buf.readUInt16LE(0x3c);
    const shstrndx = buf.readUInt16LE(0x3e);
    if (shentsize !== 64 || shnum === 0 || shoff + shnum * 64 > size || shstrndx >= shnum) {
      readRange(fd, buf, 0, size);
      return { bytes: buf, sections };
    }
    readRange(fd, buf, shoff, shnum * 64);
    const sh = (i: number): { name: number; type: number; offset: number; size: number } => {
      const p = shoff + i * 64;
      return { name: buf.readUInt32LE(p), type: buf.readUInt32LE(p + 4), offset: Number(buf.readBigUInt64LE(p + 24)), size: Number(buf.readBigUInt64LE(p + 32)) };
    };
    const strtab = sh(shstrndx);
    readRange(fd, buf, strtab.offset, strtab.size);
    const nameOf = (off: number): string => {
      const start = strtab.offset + off;
      const end = buf.indexOf(0, start);
      return buf.toString('latin1', start, end < 0 ? start : end);
    };
    for (let i = 1; i < shnum; i++) {
      const s = sh(i);
      if (s.type === SHT_NOBITS || s.size === 0) continue;
      const name = nameOf(s.name);
      const wanted = name.startsWith('.debug_') || name.startsWith('.rela.debug_') || name.startsWith('.rel.debug_')
        || name === '__mcount_loc' || name === '.rela__mcount_loc' || name === '.BTF'
        || s.type === SHT_SYMTAB || s.type === SHT_STRTAB || s.type === SHT_SYMTAB_SHNDX;
      if (!wanted) continue;
      if (name.startsWith('.debug_') && s.size >= detachThreshold && s.offset + s.size <= size) {
        const own = Buffer.from(new SharedArrayBuffer(s.size));
        readRange(fd, own, 0, s.size, s.offset);
        sections.set(i, new Uint8Array(own.buffer, 0, s.size));
      } else readRange(fd, buf, s.offset, s.size);
    }
    return { bytes: buf, sections };
  });
}

/** Reads `length` bytes at file offset `fileOffset` (default: `offset`) into buf[offset...]. */
function readRange(file: SafeFile, buf: Buffer, offset: number, length: number, fileOffset = offset): void {
  const end = Math.min(buf.length, offset + length);
  if (end > offset) file.readAt(buf, offset, end - offset, fileOffset);
}

/**
 * A full garbage collection between phases of a large encode: V8 otherwise lets garbage from
 * the DWARF walk pile up to the heap limit before collecting, which for vmlinux adds ~60 MB to
 * the peak RSS. Obtained once through V8's flag API (no --expose-gc needed on the command line).
 * node:v8 and node:vm are loaded here, on first use, not at import: only large encodes need
 * them, and loading them costs every small encode's start-up a few milliseconds.
 */
let gcFn: (() => void) | undefined | null;
export function collectGarbage(): void {
  if (gcFn === undefined) {
    try {
      process.getBuiltinModule('node:v8').setFlagsFromString('--expose-gc');
      gcFn = process.getBuiltinModule('node:vm').runInNewContext('gc') as () => void;
    } catch {
      gcFn = null;
    }
  }
  gcFn?.();
}

/** Whether an object is large enough for collectGarbage() between phases to pay off. */
export function isLarge(bytes: Uint8Array): boolean { return bytes.length >= SPARSE_THRESHOLD; }
