/**
 * Test helper: builds small ELF64 LE x86-64 files in memory from a list of sections
 * (plus .shstrtab, and .symtab/.strtab from a symbol list), so tests can make valid and
 * deliberately broken objects without a compiler.
 */
export interface SectionSpec {
  name: string;
  type?: number;          // default SHT_PROGBITS (1)
  flags?: bigint;
  addr?: bigint;
  data?: Uint8Array;
  /** sh_size override (e.g. NOBITS, or to lie about the size). */
  size?: number;
  link?: number | string; // index or section name
  info?: number | string;
  entsize?: number;
}

export interface SymbolSpec {
  name: string;
  value?: bigint;
  size?: bigint;
  type?: number;   // STT_*
  bind?: number;   // STB_*
  shndx?: number | string;
}

export interface ElfSpec {
  type?: number;    // e_type, default ET_REL
  sections: SectionSpec[];
  /** When given, a .symtab (+ .strtab) is appended with a null symbol first. */
  symbols?: SymbolSpec[];
}

export function cat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export function le(value: number | bigint, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let v = BigInt.asUintN(size * 8, BigInt(value));
  for (let i = 0; i < size; i++) { out[i] = Number(v & 0xffn); v >>= 8n; }
  return out;
}

/** RELA entries: [offset, symbol index, type, addend]. */
export function rela(entries: [number, number, number, number | bigint][]): Uint8Array {
  return cat(...entries.map(([off, sym, type, addend]) =>
    cat(le(off, 8), le((BigInt(sym) << 32n) | BigInt(type), 8), le(addend, 8))));
}

/** REL entries: [offset, symbol index, type]. */
export function rel(entries: [number, number, number][]): Uint8Array {
  return cat(...entries.map(([off, sym, type]) => cat(le(off, 8), le((BigInt(sym) << 32n) | BigInt(type), 8))));
}

export function buildElf(spec: ElfSpec): Uint8Array {
  const sections: SectionSpec[] = [...spec.sections];
  if (spec.symbols) {
    const strs: number[] = [0];
    const symBytes: Uint8Array[] = [new Uint8Array(24)];
    const index = (x: number | string | undefined): number => {
      if (x === undefined) return 0;
      if (typeof x === 'number') return x;
      const i = sections.findIndex((s) => s.name === x);
      if (i < 0) throw new Error(`no section ${x}`);
      return i + 1;
    };
    for (const s of spec.symbols) {
      const nameOff = strs.length;
      strs.push(...Buffer.from(s.name), 0);
      symBytes.push(cat(le(nameOff, 4), [((s.bind ?? 0) << 4) | (s.type ?? 0), 0], le(index(s.shndx), 2),
        le(s.value ?? 0n, 8), le(s.size ?? 0n, 8)));
    }
    sections.push({ name: '.symtab', type: 2, data: cat(...symBytes), link: '.strtab', info: 1, entsize: 24 });
    sections.push({ name: '.strtab', type: 3, data: Uint8Array.from(strs) });
  }
  const shstr: number[] = [0];
  const nameOffs = sections.map((s) => { const o = shstr.length; shstr.push(...Buffer.from(s.name), 0); return o; });
  const shstrOff = shstr.length;
  shstr.push(...Buffer.from('.shstrtab'), 0);
  const all: (SectionSpec & { nameOff: number })[] = [
    ...sections.map((s, i) => ({ ...s, nameOff: nameOffs[i]! })),
    { name: '.shstrtab', type: 3, data: Uint8Array.from(shstr), nameOff: shstrOff },
  ];
  const resolve = (x: number | string | undefined): number => {
    if (x === undefined) return 0;
    if (typeof x === 'number') return x;
    const i = all.findIndex((s) => s.name === x);
    if (i < 0) throw new Error(`no section ${x}`);
    return i + 1;
  };
  const chunks: Uint8Array[] = [];
  let off = 64;
  const offsets: number[] = [];
  for (const s of all) {
    const pad = (8 - (off % 8)) % 8;
    chunks.push(new Uint8Array(pad));
    off += pad;
    offsets.push(off);
    const d = s.type === 8 ? new Uint8Array(0) : (s.data ?? new Uint8Array(0));
    chunks.push(d);
    off += d.length;
  }
  const pad = (8 - (off % 8)) % 8;
  chunks.push(new Uint8Array(pad));
  off += pad;
  const shoff = off;
  const headers: Uint8Array[] = [new Uint8Array(64)];
  all.forEach((s, i) => {
    const size = s.size ?? s.data?.length ?? 0;
    headers.push(cat(le(s.nameOff, 4), le(s.type ?? 1, 4), le(s.flags ?? 0n, 8), le(s.addr ?? 0n, 8),
      le(offsets[i]!, 8), le(size, 8), le(resolve(s.link), 4), le(resolve(s.info), 4), le(1, 8), le(s.entsize ?? 0, 8)));
  });
  const ehdr = cat([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], new Uint8Array(8), le(spec.type ?? 1, 2), le(62, 2), le(1, 4),
    le(0, 8), le(0, 8), le(shoff, 8), le(0, 4), le(64, 2), le(0, 2), le(0, 2), le(64, 2), le(all.length + 1, 2), le(all.length, 2));
  return cat(ehdr, ...chunks, ...headers);
}
