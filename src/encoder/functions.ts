/**
 * Which functions full mode encodes: pahole 1.24 writes a FUNC only for functions ftrace can
 * attach to, i.e. whose entry address is in the `__mcount_loc` table. In relocatable objects
 * the table's entries are relocations (section symbol + addend); in executables they are
 * absolute addresses. Without a readable table (e.g. an --only-keep-debug vmlinux, where it is
 * NOBITS) every function with an address is kept.
 */
import type { ElfFile } from '../elf/index.js';
import { ET, SHT } from '../elf/index.js';
import type { RawFunction } from './walk.js';

export function mcountAddresses(elf: ElfFile): Set<string> | undefined {
  const sec = elf.section('__mcount_loc');
  if (sec === undefined || sec.type !== SHT.PROGBITS) return undefined;
  const out = new Set<string>();
  if (elf.type === ET.REL) {
    const relocs = elf.relocationsFor(sec.index);
    if (relocs === undefined) return out;
    for (const r of relocs) out.add(`${r.symbol.shndx}:${r.symbol.value + r.addend}`);
    return out;
  }
  const data = elf.sectionData(sec);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let p = 0; p + 8 <= data.length; p += 8) {
    const addr = view.getBigUint64(p, true);
    const s = elf.sectionContaining(addr);
    if (s) out.add(`${s.index}:${addr - s.addr}`);
  }
  return out;
}

/** The functions (one per definition DIE) pahole 1.24 would encode, in DIE order. */
export function mcountFunctions(elf: ElfFile, functions: readonly RawFunction[]): RawFunction[] {
  const mcount = mcountAddresses(elf);
  return functions.filter((f) => f.address !== undefined
    && (mcount === undefined || mcount.has(`${f.address.sectionIndex}:${f.address.offset}`)));
}
