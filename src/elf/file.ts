/**
 * ElfFile: a read-only view of one ELF64 little-endian x86-64 object (ET_REL or ET_EXEC).
 *
 * The file is read once into one Buffer; sections are handed out as `subarray` views
 * (only SHF_COMPRESSED sections are inflated, once, and cached). Symbols, notes and
 * relocations are parsed on first use. Relocations are never applied to bytes: a reader
 * asks `relocationsFor(section)` and uses the relocated values for the fields it reads.
 *
 * API: ElfFile.open(path) | ElfFile.fromBytes(bytes, name); .type, .sections,
 * .section(name), .sectionData(sec), .symbols, .buildId, .relocationsFor(sec),
 * .sectionContaining(addr). Errors: ElfError with a closed `code`.
 */
import { fstatSync } from 'node:fs';
import { FILE_LIMITS, SafeFile, SafeFileError, withSafeFile } from '../util/safe-file.js';
import { inflateSync } from 'node:zlib';
import { ByteCursor } from '../util/cursor.js';
import { safeName } from '../util/errors.js';
import {
  CHDR_SIZE, EHDR_SIZE, ELF_MAGIC, ELFCLASS64, ELFCOMPRESS, ELFDATA2LSB, EM_X86_64, ET, NT_GNU_BUILD_ID,
  R_X86_64, REL_SIZE, RELA_SIZE, relocFieldSize, SHDR_SIZE, SHF, SHN, SHT, SYM_SIZE,
} from './constants.js';
import { ElfError, type ElfErrorCode } from './errors.js';
import { Relocations } from './relocations.js';
import type { ElfSection, ElfSymbol } from './types.js';

export type { ElfSection, ElfSymbol } from './types.js';

/** NUL-terminated string at `off` of a string table (undefined when out of range or unterminated). */
function cstrAt(table: Buffer, off: number): string | undefined {
  if (off < 0 || off >= table.length) return undefined;
  const end = table.indexOf(0, off);
  if (end < 0) return undefined;
  return table.toString('utf8', off, end);
}

/** A Buffer over the same memory (Buffer decoding works on SharedArrayBuffer views; TextDecoder refuses them). */
function asBuffer(b: Uint8Array): Buffer { return Buffer.from(b.buffer, b.byteOffset, b.byteLength); }

/**
 * Open `path` for lazy reading: a zero-filled file-sized array (not resident until written)
 * with the ELF header, section header table and .shstrtab read in; `load` reads more ranges.
 * Each load re-opens the file and checks that its size and mtime have not changed.
 */
function lazyFile(path: string): { bytes: Uint8Array; load: (offset: number, size: number) => void } {
  const ioError = (what: string): ElfError => new ElfError('io', what, { file: path });
  const open = (): SafeFile => {
    try {
      return SafeFile.open(path, { maxBytes: FILE_LIMITS.elf });
    } catch (e) {
      throw e instanceof SafeFileError ? new ElfError('io', `cannot read: ${e.reason}`, { file: path }, { fileCode: e.code }) : e;
    }
  };
  const first = open();
  const stamp = { size: first.size, mtimeMs: fstatSync(first.fd).mtimeMs };
  first.close();
  const size = stamp.size;
  const bytes = new Uint8Array(size);
  const load = (offset: number, length: number): void => {
    const start = Math.max(0, Math.min(offset, size));
    const end = Math.max(start, Math.min(offset + length, size));
    if (end === start) return;
    const f = open();
    try {
      const st = fstatSync(f.fd);
      if (st.size !== stamp.size || st.mtimeMs !== stamp.mtimeMs) throw ioError('file changed while it was being read');
      const n = f.readAt(bytes, start, end - start, start);
      if (n < end - start) throw ioError(`short read at 0x${(start + n).toString(16)}`);
    } catch (e) {
      if (e instanceof ElfError) throw e;
      throw ioError(`cannot read: ${e instanceof SafeFileError ? e.reason : (e as Error).message}`);
    } finally {
      f.close();
    }
  };
  // Header, section table and section-name table: what the constructor parses.
  load(0, EHDR_SIZE);
  const dv = new DataView(bytes.buffer);
  if (size >= EHDR_SIZE && bytes[4] === ELFCLASS64 && bytes[5] === ELFDATA2LSB) {
    const shoff = Number(dv.getBigUint64(0x28, true));
    let shnum = dv.getUint16(0x3c, true);
    let shstrndx = dv.getUint16(0x3e, true);
    if (shoff > 0 && shoff < size) {
      load(shoff, SHDR_SIZE);
      if (shnum === 0 && shoff + SHDR_SIZE <= size) shnum = Number(dv.getBigUint64(shoff + 32, true));
      if (shstrndx === SHN.XINDEX && shoff + SHDR_SIZE <= size) shstrndx = dv.getUint32(shoff + 40, true);
      load(shoff, Math.min(shnum, (size - shoff) / SHDR_SIZE) * SHDR_SIZE);
      const h = shoff + shstrndx * SHDR_SIZE;
      if (shstrndx < shnum && h + SHDR_SIZE <= size) {
        load(Number(dv.getBigUint64(h + 24, true)), Number(dv.getBigUint64(h + 32, true)));
      }
    }
  }
  return { bytes, load };
}

function readShared(path: string): Uint8Array {
  return withSafeFile(path, { maxBytes: FILE_LIMITS.elf }, (f) => {
    const bytes = new Uint8Array(new SharedArrayBuffer(f.size));
    const n = f.readAt(bytes, 0, f.size, 0);
    if (n < f.size) throw new Error(`short read at ${n} of ${f.size} bytes`);
    return bytes;
  });
}

/** What `ElfFile.symbolsWhere` selects (every given condition must hold). */
export interface SymbolFilter {
  readonly types?: ReadonlySet<number>;
  readonly sections?: ReadonlySet<number>;
  readonly want?: (shndx: number, value: bigint) => boolean;
}
function matches(f: SymbolFilter, type: number, shndx: number): boolean {
  return (f.types === undefined || f.types.has(type)) && (f.sections === undefined || f.sections.has(shndx));
}

export class ElfFile {
  /** Name used in error messages (usually the path). */
  readonly name: string;
  /**
   * The whole file. For `open(path)` (not shared) only the ELF header, the section table,
   * .shstrtab and the sections asked for through `sectionData()` have been read; the rest
   * reads as zeros and takes no memory (the zero-filled allocation is not resident).
   */
  readonly bytes: Uint8Array;
  /** Reads [offset, offset + size) of the file into `bytes` (lazy open), once per section. */
  private readonly load: ((offset: number, size: number) => void) | undefined;
  private readonly loaded = new Set<number>();
  /** e_type (ET.REL or ET.EXEC). */
  readonly type: number;
  readonly machine: number;
  readonly sections: readonly ElfSection[];
  private readonly byName = new Map<string, ElfSection>();
  private readonly dataCache = new Map<number, Uint8Array>();
  /** Sections whose bytes live in their own buffers (see fromBytes), by index; dropped by releaseSections(). */
  private readonly detached: Map<number, Uint8Array>;
  private readonly released = new Set<number>();
  private readonly relocCache = new Map<number, Relocations | null>();
  private symbolsCache: readonly ElfSymbol[] | undefined;
  private relocSectionsByTarget: Map<number, ElfSection[]> | undefined;

  /**
   * Read `path` once into memory. With `shared: true` the bytes live in a SharedArrayBuffer,
   * so worker threads can be handed `elf.bytes` and call `ElfFile.fromBytes(bytes, name)`
   * without copying the file again.
   */
  static open(path: string, options: { shared?: boolean } = {}): ElfFile {
    if (options.shared) {
      let buf: Uint8Array;
      try {
        buf = readShared(path);
      } catch (e) {
        throw new ElfError('io', `cannot read: ${e instanceof SafeFileError ? e.reason : (e as Error).message}`, { file: path });
      }
      return new ElfFile(buf, path);
    }
    const { bytes, load } = lazyFile(path);
    return new ElfFile(bytes, path, load);
  }

  /**
   * An ELF file already in memory (every byte available). A Buffer is viewed as a plain
   * Uint8Array (faster subarray). `detached` holds the raw bytes of some sections (by index) in
   * buffers of their own, which `releaseSections()` can give back to the allocator while the
   * rest of the file stays in use.
   */
  static fromBytes(bytes: Uint8Array, name = '<memory>', detached?: ReadonlyMap<number, Uint8Array>): ElfFile {
    const plain = Buffer.isBuffer(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes;
    return new ElfFile(plain, name, undefined, detached);
  }

  private constructor(bytes: Uint8Array, name: string, load?: (offset: number, size: number) => void, detached?: ReadonlyMap<number, Uint8Array>) {
    this.name = name;
    this.bytes = bytes;
    this.load = load;
    this.detached = new Map(detached);
    const c = this.cursor(bytes, 'ELF header');
    if (ELF_MAGIC.some((b, i) => bytes[i] !== b)) {
      throw this.error('bad-magic', 'ELF header', 0, 'not an ELF file (bad magic)');
    }
    c.need(EHDR_SIZE, 'ELF header');
    if (bytes[4] !== ELFCLASS64) throw this.error('unsupported-class', 'ELF header', 4, `ELF class ${bytes[4]} is not ELF64`);
    if (bytes[5] !== ELFDATA2LSB) {
      throw this.error('unsupported-endianness', 'ELF header', 5, `ELF data encoding ${bytes[5]} is not little-endian`);
    }
    c.seek(16);
    this.type = c.u16();
    this.machine = c.u16();
    if (this.machine !== EM_X86_64) {
      throw this.error('unsupported-machine', 'ELF header', 18, `machine ${this.machine} is not x86-64 (${EM_X86_64})`);
    }
    if (this.type !== ET.REL && this.type !== ET.EXEC) {
      throw this.error('unsupported-type', 'ELF header', 16, `ELF type ${this.type} is neither ET_REL nor ET_EXEC`);
    }
    c.seek(0x28);
    const shoff = c.u64n('e_shoff');
    c.seek(0x3a);
    const shentsize = c.u16();
    let shnum = c.u16();
    let shstrndx = c.u16();
    if (shoff === 0) { this.sections = []; return; }
    if (shentsize !== SHDR_SIZE) {
      throw this.error('bad-section-header', 'ELF header', 0x3a, `e_shentsize ${shentsize} is not ${SHDR_SIZE}`);
    }
    if (shoff + SHDR_SIZE > bytes.length) {
      throw this.error('truncated', 'section headers', shoff, `section header table at 0x${shoff.toString(16)} is past the end of the file (${bytes.length} bytes)`);
    }
    const sh0 = this.cursor(bytes, 'section headers').seek(shoff);
    if (shnum === 0) { sh0.seek(shoff + 32); shnum = sh0.u64n('sh_size'); }
    if (shstrndx === SHN.XINDEX) { sh0.seek(shoff + 40); shstrndx = sh0.u32(); }
    if (shoff + shnum * SHDR_SIZE > bytes.length) {
      throw this.error('truncated', 'section headers', shoff, `${shnum} section headers at 0x${shoff.toString(16)} run past the end of the file (${bytes.length} bytes)`);
    }
    const raw: Omit<ElfSection, 'name'>[] = [];
    const nameOffs: number[] = [];
    for (let i = 0; i < shnum; i++) {
      const h = this.cursor(bytes, 'section headers').seek(shoff + i * SHDR_SIZE);
      nameOffs.push(h.u32());
      const type = h.u32();
      const flags = h.u64();
      const addr = h.u64();
      const offset = h.u64n('sh_offset');
      const size = h.u64n('sh_size');
      const link = h.u32();
      const info = h.u32();
      const addralign = h.u64();
      const entsize = h.u64n('sh_entsize');
      if (type !== SHT.NOBITS && type !== SHT.NULL && offset + size > bytes.length) {
        throw this.error('section-out-of-bounds', 'section headers', shoff + i * SHDR_SIZE,
          `section ${i} data [0x${offset.toString(16)}, +0x${size.toString(16)}) is past the end of the file (${bytes.length} bytes)`);
      }
      raw.push({ index: i, type, flags, addr, offset, size, link, info, addralign, entsize });
    }
    let strtab: Uint8Array = new Uint8Array(0);
    if (shnum > 0) {
      const s = raw[shstrndx];
      if (!s) throw this.error('bad-section-index', 'ELF header', 0x3e, `e_shstrndx ${shstrndx} names no section (${shnum} sections)`);
      strtab = bytes.subarray(s.offset, s.offset + s.size);
    }
    const strBuf = asBuffer(strtab);
    this.sections = raw.map((r, i) => {
      const name = nameOffs[i] === 0 && r.type === SHT.NULL ? '' : cstrAt(strBuf, nameOffs[i]!);
      if (name === undefined) {
        throw this.error('bad-string-offset', 'section headers', shoff + i * SHDR_SIZE, `section ${i} name offset ${nameOffs[i]} is outside .shstrtab`);
      }
      return { ...r, name };
    });
    for (const s of this.sections) if (!this.byName.has(s.name)) this.byName.set(s.name, s);
  }

  /** First section with this name. */
  section(name: string): ElfSection | undefined { return this.byName.get(name); }

  sectionByIndex(index: number): ElfSection | undefined { return this.sections[index]; }

  /** Like `section`, but an ElfError('no-such-section') when absent. */
  requireSection(name: string): ElfSection {
    const s = this.byName.get(name);
    if (!s) throw this.error('no-such-section', name, undefined, `no ${safeName(name)} section`);
    return s;
  }

  /**
   * The section's bytes: a view into the file, or (SHF_COMPRESSED) the inflated bytes,
   * computed once. SHT_NOBITS sections have no bytes (empty array).
   */
  sectionData(sec: ElfSection): Uint8Array {
    if (sec.type === SHT.NOBITS || sec.type === SHT.NULL) return new Uint8Array(0);
    if (this.released.has(sec.index)) {
      throw this.error('released-section', sec.name, 0, 'section data was released after use (releaseSections)');
    }
    if (this.load !== undefined && !this.loaded.has(sec.index)) {
      this.load(sec.offset, sec.size);
      this.loaded.add(sec.index);
    }
    const raw = this.detached.get(sec.index) ?? this.bytes.subarray(sec.offset, sec.offset + sec.size);
    if ((sec.flags & BigInt(SHF.COMPRESSED)) === 0n) return raw;
    const cached = this.dataCache.get(sec.index);
    if (cached) return cached;
    const c = this.cursor(raw, sec.name, sec.offset);
    c.need(CHDR_SIZE, 'compression header');
    const chType = c.u32();
    c.u32();
    const chSize = c.u64n('ch_size');
    if (chType !== ELFCOMPRESS.ZLIB) {
      throw this.error('unsupported-compression', sec.name, 0, `compression type ${chType} is not zlib (${ELFCOMPRESS.ZLIB})`);
    }
    let out: Uint8Array;
    try {
      out = inflateSync(raw.subarray(CHDR_SIZE), { maxOutputLength: Math.max(1, chSize) });
    } catch (e) {
      throw this.error('bad-compression', sec.name, CHDR_SIZE, `zlib data does not inflate to ${chSize} bytes: ${(e as Error).message}`);
    }
    if (out.length !== chSize) {
      throw this.error('bad-compression', sec.name, CHDR_SIZE, `inflated to ${out.length} bytes, header says ${chSize}`);
    }
    this.dataCache.set(sec.index, out);
    return out;
  }

  /** The sections held in buffers of their own (see fromBytes), by index. */
  get detachedSections(): ReadonlyMap<number, Uint8Array> { return this.detached; }

  /**
   * Forgets the detached sections (and inflated copies of them): once no other reference to
   * their bytes remains, their memory goes back. A later sectionData() on one is an error.
   */
  releaseSections(): void {
    for (const index of this.detached.keys()) { this.released.add(index); this.dataCache.delete(index); }
    this.detached.clear();
  }

  /** Uncompressed size of a section (ch_size for SHF_COMPRESSED). */
  dataSize(sec: ElfSection): number {
    if ((sec.flags & BigInt(SHF.COMPRESSED)) === 0n) return sec.type === SHT.NOBITS ? 0 : sec.size;
    return this.sectionData(sec).length;
  }

  /** The static symbol table (.symtab), or [] if there is none. */
  get symbols(): readonly ElfSymbol[] {
    if (!this.symbolsCache) this.symbolsCache = this.readSymbols();
    return this.symbolsCache;
  }

  /**
   * Symbols of one of `types` (STT_*) in one of `sections` for which `want(shndx, value)` holds
   * (each filter optional), decoding only those: a cheap lookup in a large table (vmlinux:
   * ~150,000 symbols) when only a few are needed.
   */
  symbolsWhere(filter: SymbolFilter): ElfSymbol[] {
    if (this.symbolsCache) return this.symbolsCache.filter((s) => matches(filter, s.type, s.shndx) && (!filter.want || filter.want(s.shndx, s.value)));
    return this.readSymbols(filter);
  }

  private readSymbols(filter?: SymbolFilter): ElfSymbol[] {
    const symtab = this.sections.find((s) => s.type === SHT.SYMTAB);
    if (!symtab) return [];
    if (symtab.entsize !== SYM_SIZE) {
      throw this.error('bad-section-header', symtab.name, 0, `sh_entsize ${symtab.entsize} is not ${SYM_SIZE}`);
    }
    const strSec = this.sections[symtab.link];
    if (!strSec) throw this.error('bad-section-index', symtab.name, 0, `sh_link ${symtab.link} names no section`);
    const strs = asBuffer(this.sectionData(strSec));
    const shndxSec = this.sections.find((s) => s.type === SHT.SYMTAB_SHNDX && s.link === symtab.index);
    const shndxData = shndxSec ? this.cursor(this.sectionData(shndxSec), shndxSec.name) : undefined;
    const data = this.sectionData(symtab);
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const n = Math.floor(data.length / SYM_SIZE);
    const out: ElfSymbol[] = [];
    for (let i = 0; i < n; i++) {
      const at = i * SYM_SIZE;
      const info = dv.getUint8(at + 4);
      let shndx = dv.getUint16(at + 6, true);
      if (shndx === SHN.XINDEX && shndxData) { shndxData.seek(i * 4); shndx = shndxData.u32(); }
      if (filter && !matches(filter, info & 0xf, shndx)) continue;
      const value = dv.getBigUint64(at + 8, true);
      if (filter?.want && !filter.want(shndx, value)) continue;
      const nameOff = dv.getUint32(at, true);
      const name = cstrAt(strs, nameOff);
      if (name === undefined) {
        throw this.error('bad-string-offset', symtab.name, at, `symbol ${i} name offset ${nameOff} is outside ${safeName(strSec.name)}`);
      }
      out.push({ index: i, name, value, size: dv.getBigUint64(at + 16, true), type: info & 0xf, bind: info >> 4, other: dv.getUint8(at + 5), shndx });
    }
    return out;
  }

  /** GNU build id (lower-case hex) from the first NT_GNU_BUILD_ID note, if any. */
  get buildId(): string | undefined {
    for (const sec of this.sections) {
      if (sec.type !== SHT.NOTE) continue;
      const c = this.cursor(this.sectionData(sec), sec.name);
      while (c.remaining >= 12) {
        const namesz = c.u32();
        const descsz = c.u32();
        const type = c.u32();
        const name = c.bytesView(namesz, 'note name');
        c.skip((4 - (namesz % 4)) % 4, 'note name padding');
        const desc = c.bytesView(descsz, 'note descriptor');
        if (c.remaining > 0) c.skip(Math.min(c.remaining, (4 - (descsz % 4)) % 4), 'note padding');
        if (type === NT_GNU_BUILD_ID && namesz === 4 && name[0] === 0x47 && name[1] === 0x4e && name[2] === 0x55 && name[3] === 0) {
          return Buffer.from(desc.buffer, desc.byteOffset, desc.byteLength).toString('hex');
        }
      }
    }
    return undefined;
  }

  /**
   * All RELA/REL relocations that patch section `target` (by index), merged, or undefined
   * if none do. Parsed once per target. Checks: symbol index in range, type known, field
   * inside the target section, at most one relocation per offset.
   */
  relocationsFor(target: number | ElfSection): Relocations | undefined {
    const index = typeof target === 'number' ? target : target.index;
    const cached = this.relocCache.get(index);
    if (cached !== undefined) return cached ?? undefined;
    if (!this.relocSectionsByTarget) {
      this.relocSectionsByTarget = new Map();
      for (const s of this.sections) {
        if (s.type !== SHT.RELA && s.type !== SHT.REL) continue;
        const list = this.relocSectionsByTarget.get(s.info) ?? [];
        list.push(s);
        this.relocSectionsByTarget.set(s.info, list);
      }
    }
    const relSecs = this.relocSectionsByTarget.get(index);
    if (!relSecs) { this.relocCache.set(index, null); return undefined; }
    const targetSec = this.sections[index];
    if (!targetSec) throw this.error('bad-section-index', relSecs[0]!.name, 0, `sh_info ${index} names no section`);
    const targetSize = this.dataSize(targetSec);
    const symbols = this.symbols;
    let total = 0;
    for (const rs of relSecs) total += Math.floor(this.dataSize(rs) / (rs.type === SHT.RELA ? RELA_SIZE : REL_SIZE));
    const arrays = {
      offsets: new Float64Array(total), types: new Uint32Array(total),
      symbols: new Uint32Array(total), addends: new Float64Array(total),
    };
    // where each entry came from, for error messages
    const origin: { sec: ElfSection; first: number; entSize: number }[] = [];
    let k = 0;
    for (const rs of relSecs) {
      const isRela = rs.type === SHT.RELA;
      const entSize = isRela ? RELA_SIZE : REL_SIZE;
      // Symbols are read from the one SHT_SYMTAB; a table linked elsewhere (.dynsym) would be misread.
      const linked = this.sections[rs.link];
      if (linked === undefined || linked.type !== SHT.SYMTAB) {
        throw this.error('bad-section-index', rs.name, 0, `sh_link ${rs.link} is not the symbol table`);
      }
      // A wrong entry size or a partial last entry means the table is not what we think it is.
      if (rs.entsize !== entSize) throw this.error('bad-section-header', rs.name, 0, `sh_entsize ${rs.entsize} is not ${entSize}`);
      const data = this.sectionData(rs);
      if (data.length % entSize !== 0) {
        throw this.error('bad-section-header', rs.name, data.length - (data.length % entSize), `size ${data.length} is not a multiple of ${entSize}`);
      }
      const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
      const n = Math.floor(data.length / entSize);
      origin.push({ sec: rs, first: k, entSize });
      const targetData = isRela ? undefined : this.sectionData(targetSec);
      const tv = targetData ? new DataView(targetData.buffer, targetData.byteOffset, targetData.byteLength) : undefined;
      for (let i = 0; i < n; i++, k++) {
        const at = i * entSize;
        const offset = dv.getUint32(at, true) + dv.getUint32(at + 4, true) * 0x100000000;
        const type = dv.getUint32(at + 8, true);
        const symIndex = dv.getUint32(at + 12, true);
        const width = relocFieldSize(type);
        if (width < 0) throw this.error('unsupported-relocation', rs.name, at, `relocation type ${type} is not supported`);
        if (offset + width > targetSize) {
          throw this.error('relocation-out-of-section', rs.name, at,
            `relocation at 0x${offset.toString(16)} (${width} bytes) is outside ${safeName(targetSec.name)} (0x${targetSize.toString(16)} bytes)`);
        }
        if (symIndex >= symbols.length) throw this.error('bad-symbol-index', rs.name, at, `symbol index ${symIndex} is past the symbol table (${symbols.length})`);
        let addend: number;
        if (isRela) addend = dv.getInt32(at + 20, true) * 0x100000000 + dv.getUint32(at + 16, true);
        // REL: the implicit addend is the field itself, read as the type reads its result (psABI):
        // R_X86_64_32 is zero-extended, _32S/PC32/PLT32 sign-extended.
        else if (width === 8) addend = tv!.getInt32(offset + 4, true) * 0x100000000 + tv!.getUint32(offset, true);
        else if (width === 4) addend = type === R_X86_64._32 ? tv!.getUint32(offset, true) : tv!.getInt32(offset, true);
        else addend = 0;
        // Kept as doubles (a module has ~10^5 entries): refuse what a double cannot hold exactly.
        if (!Number.isSafeInteger(addend)) throw this.error('unsupported-relocation', rs.name, at, `addend ${addend} is beyond 2^53`);
        arrays.offsets[k] = offset;
        arrays.types[k] = type;
        arrays.symbols[k] = symIndex;
        arrays.addends[k] = addend;
      }
    }
    const relocs = new Relocations(index, arrays, symbols, (offset) => {
      // report the second entry (in file order) that patches `offset`
      let seen = 0;
      for (const o of origin) {
        const end = o === origin[origin.length - 1] ? total : origin[origin.indexOf(o) + 1]!.first;
        for (let j = o.first; j < end; j++) {
          if (arrays.offsets[j] === offset && ++seen === 2) {
            throw this.error('duplicate-relocation', o.sec.name, (j - o.first) * o.entSize,
              `second relocation for offset 0x${offset.toString(16)} of ${safeName(targetSec.name)}`);
          }
        }
      }
      throw this.error('duplicate-relocation', relSecs[0]!.name, 0, `two relocations for offset 0x${offset.toString(16)} of ${safeName(targetSec.name)}`);
    });
    this.relocCache.set(index, relocs);
    return relocs;
  }

  /** The SHF_ALLOC section (not NOBITS-empty) whose [addr, addr+size) holds `addr` (ET_EXEC lookups). */
  sectionContaining(addr: bigint): ElfSection | undefined {
    if (!this.allocSorted) {
      this.allocSorted = this.sections
        .filter((s) => (s.flags & BigInt(SHF.ALLOC)) !== 0n && s.size > 0)
        .sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : a.index - b.index));
    }
    const list = this.allocSorted;
    let lo = 0;
    let hi = list.length - 1;
    let best: ElfSection | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = list[mid]!;
      if (s.addr <= addr) { best = s; lo = mid + 1; } else hi = mid - 1;
    }
    if (best && addr < best.addr + BigInt(best.size)) return best;
    // overlapping ranges (TLS, .percpu at 0): fall back to a linear scan
    return list.find((s) => s.addr <= addr && addr < s.addr + BigInt(s.size));
  }
  private allocSorted: ElfSection[] | undefined;

  /** An ElfError located in this file. */
  error(code: ElfErrorCode, section: string, offset: number | undefined, what: string): ElfError {
    return new ElfError(code, what, { file: this.name, section, offset });
  }

  private cursor(bytes: Uint8Array, section: string, base = 0): ByteCursor {
    return new ByteCursor(bytes, (what, off, needed, avail) =>
      this.error('truncated', section, off, `${what}: need ${needed} bytes, ${avail} available`), base);
  }
}
