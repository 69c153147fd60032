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

/**
 * The functions pahole 1.24 would encode, in DIE order. pahole marks a name "generated" after its
 * first FUNC, but the kernel build runs it with -j, where every thread has its own marks: the
 * shipped module BTF keeps both copies of a __weak function and its override, and both of two
 * same-named static functions. So for modules (ET_REL) every qualifying DIE is kept (identical
 * FUNCs are merged by the dedup afterwards), which reproduces the shipped module BTF exactly;
 * for vmlinux the first per name, which reproduces pahole 1.24 run single-threaded exactly (the
 * shipped vmlinux, built with -j, has 444 more FUNCs from that thread effect).
 */
export function encodableFunctions(elf: ElfFile, functions: readonly RawFunction[]): RawFunction[] {
  const names = new Set<string>();
  for (const s of elf.symbols) if (s.type === STT.FUNC && s.name !== '') names.add(s.name);
  const all = functions.filter((f) => f.argNames && names.has(f.name));
  if (elf.type !== ET.EXEC) return all;
  // vmlinux: pahole run single-threaded marks each name "generated" after its first FUNC
  const seen = new Set<string>();
  return all.filter((f) => !seen.has(f.name) && seen.add(f.name) !== undefined);
}
