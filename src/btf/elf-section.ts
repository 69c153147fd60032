/**
 * Finds the `.BTF` section of an ELF64 little-endian file with a minimal section-header walk.
 * Stop-gap until src/elf lands; only what readBtfFile needs (no relocations, no compression:
 * .BTF is never compressed or relocated).
 */
import { BtfError } from './errors.js';

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

/** A view of the named section's bytes (default `.BTF`); 'bad-elf' when unreadable or absent. */
export function elfSection(bytes: Uint8Array, file: string | undefined, name = '.BTF'): Uint8Array {
  const fail = (what: string, offset?: number): never => {
    throw new BtfError('bad-elf', what, { file, section: 'ELF', offset });
  };
  if (bytes.length < 64) fail('ELF header truncated', 0);
  if (bytes[4] !== 2) fail('not ELF64 (only 64-bit ELF is supported)', 4);
  if (bytes[5] !== 1) fail('not little-endian ELF', 5);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shentsize = dv.getUint16(0x3a, true);
  const shnum = dv.getUint16(0x3c, true);
  const shstrndx = dv.getUint16(0x3e, true);
  if (shnum === 0) fail('no section headers', 0x3c);
  if (shentsize < 64) fail(`section header size ${shentsize} < 64`, 0x3a);
  if (shoff > bytes.length || shoff + shnum * shentsize > bytes.length) fail('section headers past the end of the file', 0x28);
  const header = (i: number): { name: number; offset: number; size: number; type: number; at: number } => {
    const at = shoff + i * shentsize;
    return {
      at, name: dv.getUint32(at, true), type: dv.getUint32(at + 4, true),
      offset: Number(dv.getBigUint64(at + 24, true)), size: Number(dv.getBigUint64(at + 32, true)),
    };
  };
  if (shstrndx >= shnum) fail(`section name table index ${shstrndx} out of range`, 0x3e);
  const strtab = header(shstrndx);
  if (strtab.offset + strtab.size > bytes.length) fail('section name table past the end of the file', strtab.at);
  const names = bytes.subarray(strtab.offset, strtab.offset + strtab.size);
  const want = new TextEncoder().encode(name);
  for (let i = 0; i < shnum; i++) {
    const sh = header(i);
    if (sh.name + want.length >= names.length) continue;
    let match = names[sh.name + want.length] === 0;
    for (let k = 0; match && k < want.length; k++) match = names[sh.name + k] === want[k];
    if (!match) continue;
    if (sh.type === 8 /* SHT_NOBITS */) fail(`${name} has no bytes (NOBITS)`, sh.at);
    if (sh.offset + sh.size > bytes.length) fail(`${name} section past the end of the file`, sh.at);
    return bytes.subarray(sh.offset, sh.offset + sh.size);
  }
  return fail(`no ${name} section`);
}
