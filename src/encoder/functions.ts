/**
 * Which functions full mode encodes, as pahole 1.24 decides (btf_encoder.c, cu__encode_btf): a
 * CU-level DW_TAG_subprogram that is not a declaration, whose parameters all have names, and whose
 * name is an STT_FUNC symbol of the object (so `foo.isra.0` clones and inlined-only functions are
 * out). (pahole 1.22 dropped the older
 * __mcount_loc filter; `mcountAddresses` stays for callers that want the ftrace view.)
 */
import type { ElfFile } from '../elf/index.js';
import { ET, SHT, STT } from '../elf/index.js';
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

/*
 * The functions pahole 1.24 would encode, in DIE order: those functionQualifies() accepts, then
 * firstPerName(). pahole marks a name "generated" after its first FUNC, but the kernel build runs
 * it with -j, where every thread has its own marks: the shipped module BTF keeps both copies of a
 * __weak function and its override, and both of two same-named static functions. So for modules
 * (ET_REL) every qualifying DIE is kept (identical FUNCs are merged by the dedup afterwards),
 * which reproduces the shipped module BTF exactly; for vmlinux the first per name, which
 * reproduces pahole 1.24 run single-threaded exactly (the shipped vmlinux, built with -j, has 444
 * more FUNCs from that thread effect). The two steps are apart because chunks (chunks.ts) are
 * decoded separately: the first per name is only known once they are joined.
 */

/** Names of the object's STT_FUNC symbols. */
export function functionSymbolNames(elf: ElfFile): Set<string> {
  const names = new Set<string>();
  // Only the FUNC symbols, and not cached in the ElfFile: vmlinux has ~150k symbols.
  for (const s of elf.symbolsWhere({ types: FUNC_ONLY })) if (s.name !== '') names.add(s.name);
  return names;
}

/** Whether pahole would encode the function at all: named parameters and a FUNC symbol (`names`) of its name. */
export function functionQualifies(names: ReadonlySet<string>): (fn: RawFunction) => boolean {
  return (f) => f.argNames && names.has(f.name);
}

/** For vmlinux, the first of each name in DIE order (pahole run single-threaded); every one for modules. */
export function firstPerName<T extends { readonly name: string }>(elf: ElfFile, list: readonly T[]): T[] {
  if (elf.type !== ET.EXEC) return [...list];
  const seen = new Set<string>();
  return list.filter(({ name }) => !seen.has(name) && seen.add(name) !== undefined);
}

const FUNC_ONLY: ReadonlySet<number> = new Set([STT.FUNC]);
