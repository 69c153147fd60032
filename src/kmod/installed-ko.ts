/**
 * What a companion takes from an installed kernel module (.ko) built for the running kernel:
 * `.modinfo` (vermagic, name), `__versions` (the CRC of `module_layout`, which the loader checks
 * under MODVERSIONS) and the symbols the module exports with their CRCs (`__ksymtab*` +
 * `__kcrctab*`), which a companion can import to hold its base module.
 *
 * 6.1 layout (x86-64, CONFIG_HAVE_ARCH_PREL32_RELOCATIONS): a `__ksymtab`/`__ksymtab_gpl` entry is
 * 12 bytes {value, name, namespace}, each a PC32 relocation (the stored bytes are 0) against a
 * symbol; name and namespace point into `__ksymtab_strings`. `__kcrctab`/`__kcrctab_gpl` hold one
 * u32 CRC per entry, in the same order (the kernel indexes both tables by the symbol's position).
 * Compressed modules (.ko.gz/.xz/.zst) are read decompressed.
 */
import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { ElfError, ElfFile, SHT, type ElfSection } from '../elf/index.js';
import { safeName } from '../util/errors.js';
import { KmodError } from './errors.js';
import { FILE_LIMITS, readRegularFileSync } from '../util/safe-file.js';

/** struct modversion_info: unsigned long crc; char name[MODULE_NAME_LEN = 64 - sizeof(long)]. */
export const MODVERSION_INFO_SIZE = 64;
export const MODULE_NAME_LEN = 56;
/** struct kernel_symbol with PREL32 relocations: three s32 offsets. */
const KERNEL_SYMBOL_SIZE = 12;

export interface ModVersion { readonly name: string; readonly crc: bigint }

export interface ExportedSymbol {
  readonly name: string;
  /** CRC from __kcrctab*; undefined when the module was built without MODVERSIONS. */
  readonly crc: bigint | undefined;
  /** Symbol namespace ('' = none): an importer needs `import_ns=` for a namespaced one. */
  readonly namespace: string;
  readonly gplOnly: boolean;
}

export interface InstalledModule {
  readonly file: string;
  /** `.modinfo` entries in file order (key, value); a key may repeat (alias=, parm=). */
  readonly modinfo: readonly (readonly [string, string])[];
  readonly versions: readonly ModVersion[];
  readonly exports: readonly ExportedSymbol[];
  /** Size of its `.gnu.linkonce.this_module` (= sizeof(struct module) of the kernel it was built for). */
  readonly thisModuleSize: number | undefined;
}

/** First value of `key` in .modinfo. */
export function modinfoValue(m: InstalledModule, key: string): string | undefined {
  return m.modinfo.find(([k]) => k === key)?.[1];
}

/** The value the loader compares with its own (check_modinfo: same_magic). */
export function vermagicOf(m: InstalledModule): string {
  const v = modinfoValue(m, 'vermagic');
  if (v === undefined || v === '') throw new KmodError('no-vermagic', 'no vermagic= in .modinfo', { file: m.file, section: '.modinfo' });
  return v;
}

/** module_layout's entry of __versions (check_modstruct_version needs its CRC). */
export function moduleLayoutVersion(m: InstalledModule): ModVersion {
  const v = m.versions.find((e) => e.name === 'module_layout');
  if (v === undefined) {
    throw new KmodError('no-module-layout', `no module_layout entry in __versions (${m.versions.length} entries; kernel built without MODVERSIONS?)`,
      { file: m.file, section: '__versions' });
  }
  return v;
}

/** Compressed module formats distributions ship (.ko.gz, .ko.xz: Debian 13, .ko.zst: Ubuntu, Fedora), by magic. */
const COMPRESSED = [
  { magic: [0x1f, 0x8b], tool: 'gzip' },
  { magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], tool: 'xz' },
  { magic: [0x28, 0xb5, 0x2f, 0xfd], tool: 'zstd' },
] as const;

/** The module's ELF bytes: the file itself, or decompressed (gzip in-process; xz/zstd by their tools). */
function moduleBytes(path: string): Uint8Array {
  let raw: Buffer;
  try {
    raw = readRegularFileSync(path, { maxBytes: FILE_LIMITS.elf });
  } catch (e) {
    throw new KmodError('bad-ko', `cannot read: ${(e as Error).message}`, { file: path });
  }
  const format = COMPRESSED.find((c) => c.magic.every((b, i) => raw[i] === b));
  if (format === undefined) return raw;
  if (format.tool === 'gzip') {
    try { return gunzipSync(raw); } catch (e) { throw new KmodError('bad-ko', `cannot decompress gzip: ${(e as Error).message}`, { file: path }); }
  }
  const r = spawnSync(format.tool, ['-dc'], { input: raw, maxBuffer: 1 << 30, timeout: 120_000 });
  if (r.error !== undefined || r.status !== 0) {
    const why = r.error !== undefined ? `${format.tool} is not available (${r.error.message})` : `${format.tool} -dc failed: ${r.stderr.toString().trim().split('\n')[0] ?? ''}`;
    throw new KmodError('bad-ko', `cannot decompress: ${why}`, { file: path });
  }
  return r.stdout;
}

export function readInstalledModule(path: string): InstalledModule {
  try {
    return parseInstalledModule(ElfFile.fromBytes(moduleBytes(path), path));
  } catch (e) {
    if (e instanceof ElfError) throw new KmodError('bad-ko', e.message, {}, { file: path, elfCode: e.code });
    throw e;
  }
}

export function parseInstalledModule(elf: ElfFile): InstalledModule {
  const thisModule = elf.section('.gnu.linkonce.this_module');
  return {
    file: elf.name, modinfo: readModinfo(elf), versions: readVersions(elf), exports: readExports(elf),
    thisModuleSize: thisModule === undefined ? undefined : thisModule.size,
  };
}

function text(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8');
}

/** NUL-separated `key=value` strings, zero padding skipped (as the loader's next_string does). */
function readModinfo(elf: ElfFile): [string, string][] {
  const sec = elf.section('.modinfo');
  if (sec === undefined) return [];
  const data = elf.sectionData(sec);
  const out: [string, string][] = [];
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) { at++; continue; }
    let end = data.indexOf(0, at);
    if (end < 0) end = data.length;
    const s = text(data, at, end);
    const eq = s.indexOf('=');
    if (eq > 0) out.push([s.slice(0, eq), s.slice(eq + 1)]);
    at = end + 1;
  }
  return out;
}

function readVersions(elf: ElfFile): ModVersion[] {
  const sec = elf.section('__versions');
  if (sec === undefined) return [];
  const data = elf.sectionData(sec);
  if (data.length % MODVERSION_INFO_SIZE !== 0) {
    throw elf.error('bad-section-header', '__versions', 0, `size ${data.length} is not a multiple of ${MODVERSION_INFO_SIZE} (struct modversion_info)`);
  }
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: ModVersion[] = [];
  for (let at = 0; at < data.length; at += MODVERSION_INFO_SIZE) {
    const nameStart = at + 8;
    let nameEnd = data.indexOf(0, nameStart);
    if (nameEnd < 0 || nameEnd > at + MODVERSION_INFO_SIZE) nameEnd = at + MODVERSION_INFO_SIZE;
    out.push({ crc: dv.getBigUint64(at, true), name: text(data, nameStart, nameEnd) });
  }
  return out;
}

function exportsError(elf: ElfFile, section: string, offset: number, what: string): KmodError {
  return new KmodError('bad-exports', what, { file: elf.name, section, offset });
}

/** The C string a PC32 field of `table` points at (symbol + addend), in the symbol's section. */
function stringAt(elf: ElfFile, table: ElfSection, offset: number, optional = false): string {
  const rel = elf.relocationsFor(table)?.get(offset);
  if (rel === undefined && optional) return '';
  if (rel === undefined) throw exportsError(elf, table.name, offset, 'no relocation for the symbol entry\'s string field');
  const target = elf.sectionByIndex(rel.symbol.shndx);
  if (target === undefined || target.type === SHT.NOBITS) {
    throw exportsError(elf, table.name, offset, `string field points at ${safeName(rel.symbol.name)}, which is in no section with bytes`);
  }
  const data = elf.sectionData(target);
  const start = Number(rel.symbol.value + rel.addend);
  const end = start >= 0 && start < data.length ? data.indexOf(0, start) : -1;
  if (end < 0) throw exportsError(elf, table.name, offset, `string at ${safeName(target.name)} +0x${start.toString(16)} is outside the section or unterminated`);
  return text(data, start, end);
}

function readExports(elf: ElfFile): ExportedSymbol[] {
  const out: ExportedSymbol[] = [];
  for (const [symtab, crctab, gplOnly] of [['__ksymtab', '__kcrctab', false], ['__ksymtab_gpl', '__kcrctab_gpl', true]] as const) {
    const table = elf.section(symtab);
    if (table === undefined) continue;
    const size = elf.dataSize(table);
    if (size % KERNEL_SYMBOL_SIZE !== 0) throw exportsError(elf, symtab, 0, `size ${size} is not a multiple of ${KERNEL_SYMBOL_SIZE} (struct kernel_symbol)`);
    const n = size / KERNEL_SYMBOL_SIZE;
    const crcSec = elf.section(crctab);
    let crcs: DataView | undefined;
    if (crcSec !== undefined) {
      const c = elf.sectionData(crcSec);
      if (c.length !== n * 4) throw exportsError(elf, crctab, 0, `${c.length} bytes for ${n} exported symbols (4 each)`);
      crcs = new DataView(c.buffer, c.byteOffset, c.byteLength);
    }
    for (let i = 0; i < n; i++) {
      const at = i * KERNEL_SYMBOL_SIZE;
      out.push({
        name: stringAt(elf, table, at + 4),
        namespace: stringAt(elf, table, at + 8, true), // NULL (no relocation) = no namespace
        crc: crcs === undefined ? undefined : BigInt(crcs.getUint32(i * 4, true)),
        gplOnly,
      });
    }
  }
  return out;
}
