/**
 * The `.BTF` section of an ELF file, through src/elf's reader; ELF errors become BtfError
 * 'bad-elf' so BTF callers handle one error type.
 */
import { ElfError, ElfFile, SHT } from '../elf/index.js';
import { BtfError } from './errors.js';

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

/** A view of the named section's bytes (default `.BTF`); 'bad-elf' when unreadable or absent. */
export function elfSection(bytes: Uint8Array, file: string | undefined, name = '.BTF'): Uint8Array {
  return sectionOf(() => ElfFile.fromBytes(bytes, file ?? '<memory>'), file, name);
}

/** As elfSection, from a file on disk: only its headers and that section are read. */
export function elfFileSection(path: string, name = '.BTF'): Uint8Array {
  return sectionOf(() => ElfFile.open(path), path, name);
}

function sectionOf(openElf: () => ElfFile, file: string | undefined, name: string): Uint8Array {
  try {
    const elf = openElf();
    const sec = elf.section(name);
    if (sec === undefined) throw new BtfError('bad-elf', `no ${name} section`, { file, section: 'ELF' });
    if (sec.type === SHT.NOBITS) throw new BtfError('bad-elf', `${name} has no bytes (NOBITS)`, { file, section: name });
    return elf.sectionData(sec);
  } catch (e) {
    // The ELF message already names the file and offset.
    if (e instanceof ElfError) throw new BtfError('bad-elf', e.message, {}, { file, elfCode: e.code });
    throw e;
  }
}
