/**
 * Reads raw BTF bytes (or the .BTF section of an ELF file) into a Btf level, standalone or split
 * on a base chain of any depth. Header and section layout are checked as strictly as the kernel
 * does (btf_parse_hdr / btf_check_sec_info); records are decoded by kinds.ts. Semantic rules
 * (names, references, sizes) are validate.ts's job, so a parsed level can still be invalid.
 *
 * Speed: the type section is copied once into an aligned Uint32Array; records are only indexed
 * here and become objects when first used (Btf.types).
 */
import { gunzipSync } from 'node:zlib';
import { Btf, type RawTypes } from './btf.js';
import { BtfError } from './errors.js';
import { elfFileSection, elfSection, isElf } from './elf-section.js';
import { BTF_HEADER_LEN, BTF_MAGIC, BTF_VERSION, INFO_MASK, MAX_KIND, recordSize, unrepresentable, type Kind } from './kinds.js';
import { StringTable } from './strings.js';
import { FILE_LIMITS, SafeFileError, withSafeFile } from '../util/safe-file.js';

export interface ParseOptions {
  base?: Btf | undefined;
  source?: string | undefined;
}

export interface BtfHeader {
  magic: number; version: number; flags: number; hdrLen: number;
  typeOff: number; typeLen: number; strOff: number; strLen: number;
}

const littleEndianHost = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Checks and returns the header of raw BTF `bytes`. */
export function parseHeader(bytes: Uint8Array, file?: string): BtfHeader {
  const where = (offset: number): { file: string | undefined; section: string; offset: number } => ({ file, section: 'BTF header', offset });
  if (bytes.length < 2) throw new BtfError('truncated', `${bytes.length} bytes: too short for a BTF header`, where(0));
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint16(0, true);
  if (magic !== BTF_MAGIC) {
    const why = magic === 0x9feb ? 'big-endian BTF is not supported' : 'not BTF';
    throw new BtfError('bad-magic', `magic 0x${magic.toString(16)} (${why})`, where(0));
  }
  if (bytes.length < BTF_HEADER_LEN) throw new BtfError('truncated', `${bytes.length} bytes: too short for the 24-byte BTF header`, where(0));
  const h: BtfHeader = {
    magic, version: bytes[2]!, flags: bytes[3]!, hdrLen: dv.getUint32(4, true),
    typeOff: dv.getUint32(8, true), typeLen: dv.getUint32(12, true), strOff: dv.getUint32(16, true), strLen: dv.getUint32(20, true),
  };
  if (h.version !== BTF_VERSION) throw new BtfError('bad-version', `version ${h.version}, expected ${BTF_VERSION}`, where(2));
  if (h.flags !== 0) throw new BtfError('bad-flags', `flags 0x${h.flags.toString(16)}, expected 0`, where(3));
  if (h.hdrLen < BTF_HEADER_LEN) throw new BtfError('bad-header', `hdr_len ${h.hdrLen} < ${BTF_HEADER_LEN}`, where(4));
  if (h.hdrLen > bytes.length) throw new BtfError('truncated', `hdr_len ${h.hdrLen} past the end of the data (${bytes.length} bytes)`, where(4));
  for (let i = BTF_HEADER_LEN; i < h.hdrLen; i++) {
    if (bytes[i] !== 0) throw new BtfError('bad-header', `unsupported header field: non-zero byte in the header's extra ${h.hdrLen - BTF_HEADER_LEN} bytes`, where(i));
  }
  const dataLen = bytes.length - h.hdrLen;
  if (h.typeOff % 4 !== 0) throw new BtfError('bad-header', `type section offset ${h.typeOff} is not 4-byte aligned`, where(8));
  if (h.typeOff > dataLen || h.typeLen > dataLen - h.typeOff) {
    throw new BtfError('section-out-of-bounds', `type section [${h.typeOff}, +${h.typeLen}) runs past the ${dataLen} data bytes`, where(8));
  }
  if (h.strOff > dataLen || h.strLen > dataLen - h.strOff) {
    throw new BtfError('section-out-of-bounds', `string section [${h.strOff}, +${h.strLen}) runs past the ${dataLen} data bytes`, where(16));
  }
  // Sorted by offset, the sections must tile the data exactly (kernel btf_check_sec_info).
  const secs = [{ name: 'type', off: h.typeOff, len: h.typeLen, at: 8 }, { name: 'string', off: h.strOff, len: h.strLen, at: 16 }]
    .sort((a, b) => a.off - b.off || a.len - b.len);
  let expected = 0;
  for (const s of secs) {
    if (s.off < expected) throw new BtfError('section-overlap', `${s.name} section at ${s.off} overlaps the previous section (ends at ${expected})`, where(s.at));
    if (s.off > expected) throw new BtfError('section-gap', `gap of ${s.off - expected} bytes before the ${s.name} section`, where(s.at));
    expected = s.off + s.len;
  }
  if (expected !== dataLen) throw new BtfError('section-gap', `${dataLen - expected} bytes after the last section`, where(h.hdrLen + expected));
  if (h.strOff + h.strLen !== dataLen && h.strLen > 0) throw new BtfError('section-gap', 'string section is not the last section', where(16));
  return h;
}

/** Parses raw BTF bytes into a level (split on `opts.base` when given). The bytes are not copied for strings: keep them unchanged. */
export function parseBtf(bytes: Uint8Array, opts: ParseOptions = {}): Btf {
  const file = opts.source;
  const h = parseHeader(bytes, file);
  const base = opts.base;
  const strStart = h.hdrLen + h.strOff;
  const strBytes = bytes.subarray(strStart, strStart + h.strLen);
  const strWhere = { file, section: 'BTF strings', offset: 0 };
  if (h.strLen > 0 || base === undefined) {
    if (h.strLen === 0) throw new BtfError('bad-string-section', 'standalone BTF has an empty string section (needs at least "")', strWhere);
    if (strBytes[h.strLen - 1] !== 0) throw new BtfError('bad-string-section', 'string section does not end with NUL', { ...strWhere, offset: h.strLen - 1 });
    if (base === undefined && strBytes[0] !== 0) {
      throw new BtfError('bad-string-section', 'standalone string section does not start with the empty string (split BTF? give its base chain)', strWhere);
    }
  }
  const startStrOff = base ? base.strings.end : 0;
  const strings = new StringTable(startStrOff, strBytes);
  const raw = parseTypes(bytes.subarray(h.hdrLen + h.typeOff, h.hdrLen + h.typeOff + h.typeLen), base ? base.nextId : 1, file);
  return new Btf({ base, source: file, raw, strings });
}

/**
 * Walks the type section: checks every record header (kind, reserved bits, length, fields the
 * model cannot hold) and records where each record starts. No objects are made here: Btf builds
 * them from the words on demand.
 */
function parseTypes(sec: Uint8Array, startId: number, file: string | undefined): RawTypes {
  const nWords = sec.length >>> 2;
  // Copied, not viewed: the section need not be 4-byte aligned in its buffer (a .BTF inside an
  // ELF file, a pooled Buffer), and the level must not change when the caller reuses its bytes.
  const words = new Uint32Array(nWords);
  new Uint8Array(words.buffer).set(sec.subarray(0, nWords * 4));
  if (!littleEndianHost) {
    const dv = new DataView(sec.buffer, sec.byteOffset, sec.byteLength);
    for (let i = 0; i < nWords; i++) words[i] = dv.getUint32(i * 4, true);
  }
  // Every record is at least 3 words: this bounds the count.
  let offs = new Uint32Array(Math.ceil(nWords / 3) + 1);
  let n = 0;
  let p = 0;
  const where = (word: number): { file: string | undefined; section: string; offset: number } => ({ file, section: 'BTF types', offset: word * 4 });
  while (p * 4 < sec.length) {
    const id = startId + n;
    if (p + 3 > nWords) throw new BtfError('truncated', `type [${id}]: ${sec.length - p * 4} bytes left, a type header needs 12`, where(p), { id });
    const info = words[p + 1]!;
    const kind = (info >>> 24) & 0x1f;
    if (kind === 0 || kind > MAX_KIND) throw new BtfError('bad-kind', `type [${id}]: kind ${kind} is not a BTF kind (1..${MAX_KIND})`, where(p), { id, kind });
    if ((info & ~INFO_MASK) !== 0) {
      throw new BtfError('bad-type-info', `type [${id}]: info 0x${info.toString(16)} has reserved bits set`, where(p), { id });
    }
    const vlen = info & 0xffff;
    const size = recordSize(kind as Exclude<Kind, 0>, vlen);
    if (p * 4 + size > sec.length) {
      throw new BtfError('truncated', `type [${id}]: record needs ${size} bytes, ${sec.length - p * 4} left`, where(p), { id });
    }
    const why = unrepresentable(words, p, kind as Exclude<Kind, 0>, vlen);
    if (why !== undefined) throw new BtfError('bad-type-info', `type [${id}]: ${why}`, where(p), { id });
    if (n === offs.length) { const grown = new Uint32Array(offs.length * 2); grown.set(offs); offs = grown; }
    offs[n++] = p;
    p += size >>> 2;
  }
  return { words, offs: offs.subarray(0, n) };
}

/**
 * Raw BTF bytes of a file: the file itself, or its .BTF section when it is an ELF object;
 * gzip-compressed files (e.g. a saved vmlinux BTF) are decompressed first. Only a regular file
 * is read (a FIFO or /dev/zero is refused before any read); its first bytes decide what it is,
 * so a huge file that is none of the three is refused without being read, and an ELF object
 * is read only as far as its headers and .BTF section.
 */
export function readBtfBytes(path: string): Uint8Array {
  try {
    return withSafeFile(path, { maxBytes: FILE_LIMITS.elf }, (f) => {
      const head = new Uint8Array(4);
      const got = f.readAt(head, 0, head.length, 0);
      if (got === 4 && isElf(head)) return elfFileSection(path);
      const gzip = got >= 2 && head[0] === 0x1f && head[1] === 0x8b;
      const btf = got >= 2 && head[0] === (BTF_MAGIC & 0xff) && head[1] === BTF_MAGIC >> 8;
      if (!gzip && !btf) {
        throw new BtfError('bad-magic', `neither BTF (magic 0x${BTF_MAGIC.toString(16)}), an ELF object nor gzip (${f.size} bytes)`, { file: path, offset: 0 });
      }
      if (f.size > FILE_LIMITS.btf) throw new BtfError('io', `${f.size} bytes, larger than the ${FILE_LIMITS.btf}-byte limit for BTF`, { file: path });
      const bytes = f.readAll();
      if (!gzip) return bytes;
      let raw: Uint8Array;
      try {
        raw = gunzipSync(bytes, { maxOutputLength: FILE_LIMITS.btf });
      } catch (e) {
        throw new BtfError('io', `cannot decompress gzip: ${e instanceof Error ? e.message : String(e)}`, { file: path });
      }
      return isElf(raw) ? elfSection(raw, path) : raw;
    });
  } catch (e) {
    if (e instanceof SafeFileError) throw new BtfError('io', `cannot read: ${e.reason}`, { file: path }, { fileCode: e.code });
    throw e;
  }
}

/** Reads a raw BTF file or an ELF file's .BTF section. */
export function readBtfFile(path: string, opts: { base?: Btf | undefined } = {}): Btf {
  return parseBtf(readBtfBytes(path), { base: opts.base, source: path });
}

/**
 * Reads a chain, root first (each file split on the previous one, the first on `base` when
 * given, else standalone); returns the last level.
 */
export function readBtfChain(paths: readonly string[], base?: Btf): Btf {
  if (paths.length === 0) throw new BtfError('bad-chain', 'empty BTF chain');
  let btf: Btf | undefined = base;
  for (const p of paths) btf = readBtfFile(p, { base: btf });
  return btf!;
}
