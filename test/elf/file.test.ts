import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { deflateSync } from 'node:zlib';
import { ElfError, ElfFile, ET, R_X86_64, SHF, SHN, SHT, STT, type ElfErrorCode } from '../../src/elf/index.js';
import { collectVariables, Dwarf } from '../../src/dwarf/index.js';
import { fixture } from '../support/paths.js';
import { buildElf, cat, le, rel, rela } from './builder.js';

function expectElfError(fn: () => unknown, code: ElfErrorCode, file: string, offset?: number): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ElfError, `expected ElfError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.startsWith(`${file}: `), `message names the file: ${e.message}`);
    assert.match(e.message, /\+0x[0-9a-f]+/, `message names an offset: ${e.message}`);
    if (offset !== undefined) assert.equal(e.offset, offset, e.message);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
}

const minimal = (): Uint8Array => buildElf({ sections: [{ name: '.data', data: Uint8Array.from([1, 2, 3, 4]), flags: BigInt(SHF.ALLOC | SHF.WRITE) }] });

describe('ElfFile: header and sections', () => {
  it('reads the section table of a built object and hands out views', () => {
    const bytes = minimal();
    const elf = ElfFile.fromBytes(bytes, 'mini.o');
    assert.equal(elf.type, ET.REL);
    assert.deepEqual(elf.sections.map((s) => s.name), ['', '.data', '.shstrtab']);
    const data = elf.sectionData(elf.section('.data')!);
    assert.deepEqual([...data], [1, 2, 3, 4]);
    assert.equal(data.buffer, bytes.buffer, 'a view, not a copy');
    assert.equal(elf.section('.nope'), undefined);
    assert.throws(() => elf.requireSection('.nope'), (e: unknown) => e instanceof ElfError && e.code === 'no-such-section' && e.message === 'mini.o: .nope: no .nope section');
  });

  it('refuses wrong magic, class, endianness, machine and type with their codes', () => {
    const patched = (at: number, v: number[]): Uint8Array => { const b = minimal(); b.set(v, at); return b; };
    expectElfError(() => ElfFile.fromBytes(patched(0, [0x7f, 0x45, 0x4c, 0x47]), 'x'), 'bad-magic', 'x', 0);
    expectElfError(() => ElfFile.fromBytes(Uint8Array.from([1, 2]), 'x'), 'bad-magic', 'x', 0);
    expectElfError(() => ElfFile.fromBytes(patched(4, [1]), 'x'), 'unsupported-class', 'x', 4);
    expectElfError(() => ElfFile.fromBytes(patched(5, [2]), 'x'), 'unsupported-endianness', 'x', 5);
    expectElfError(() => ElfFile.fromBytes(patched(18, [183, 0]), 'x'), 'unsupported-machine', 'x', 18);
    expectElfError(() => ElfFile.fromBytes(patched(16, [3, 0]), 'x'), 'unsupported-type', 'x', 16);
  });

  it('refuses truncated headers and section tables', () => {
    const b = minimal();
    expectElfError(() => ElfFile.fromBytes(b.subarray(0, 40), 'cut'), 'truncated', 'cut');
    expectElfError(() => ElfFile.fromBytes(b.subarray(0, b.length - 10), 'cut'), 'truncated', 'cut');
    const badEnt = minimal(); badEnt.set([32, 0], 0x3a);
    expectElfError(() => ElfFile.fromBytes(badEnt, 'ent'), 'bad-section-header', 'ent', 0x3a);
    const badStrndx = minimal(); badStrndx.set([9, 0], 0x3e);
    expectElfError(() => ElfFile.fromBytes(badStrndx, 'ndx'), 'bad-section-index', 'ndx', 0x3e);
  });

  it('refuses section data past the end of the file and names outside .shstrtab', () => {
    const past = buildElf({ sections: [{ name: '.big', data: new Uint8Array(4), size: 1 << 20 }] });
    expectElfError(() => ElfFile.fromBytes(past, 'past.o'), 'section-out-of-bounds', 'past.o');
    const b = minimal();
    const shoff = Number(new DataView(b.buffer).getBigUint64(0x28, true));
    b.set(le(0xffff, 4), shoff + 64); // section 1's sh_name
    expectElfError(() => ElfFile.fromBytes(b, 'name.o'), 'bad-string-offset', 'name.o', shoff + 64);
  });

  it('reports an unreadable path as io', () => {
    assert.throws(() => ElfFile.open('/nonexistent/x.ko'), (e: unknown) => e instanceof ElfError && e.code === 'io' && e.message.startsWith('/nonexistent/x.ko: '));
  });
});

describe('ElfFile: symbols, notes, compressed sections', () => {
  it('reads symbols with name, value, size, type, bind and section', () => {
    const elf = ElfFile.fromBytes(buildElf({
      sections: [{ name: '.data', data: new Uint8Array(16) }],
      symbols: [{ name: 'counter', value: 8n, size: 4n, type: STT.OBJECT, bind: 1, shndx: '.data' }],
    }), 'sym.o');
    const s = elf.symbols[1]!;
    assert.deepEqual({ n: s.name, v: s.value, z: s.size, t: s.type, b: s.bind, x: s.shndx }, { n: 'counter', v: 8n, z: 4n, t: STT.OBJECT, b: 1, x: 1 });
    assert.equal(elf.symbols[0]!.name, '');
  });

  it('extended numbering: section count and .shstrtab index in section 0, symbol sections through SHT_SYMTAB_SHNDX', () => {
    const bytes = Buffer.from(buildElf({
      sections: [
        { name: '.data', data: new Uint8Array(16), flags: BigInt(SHF.ALLOC | SHF.WRITE) },
        { name: '.symtab_shndx', type: SHT.SYMTAB_SHNDX, data: cat(le(0, 4), le(1, 4)), link: '.symtab', entsize: 4 },
      ],
      symbols: [{ name: 'far', value: 8n, size: 8n, type: STT.OBJECT, shndx: SHN.XINDEX }],
    }));
    // what a linker writes once there are 0xff00 sections or more: the real values move to section 0
    const shoff = Number(bytes.readBigUInt64LE(0x28));
    const count = bytes.readUInt16LE(0x3c);
    const shstrndx = bytes.readUInt16LE(0x3e);
    bytes.writeUInt16LE(0, 0x3c);
    bytes.writeBigUInt64LE(BigInt(count), shoff + 32);
    bytes.writeUInt16LE(SHN.XINDEX, 0x3e);
    bytes.writeUInt32LE(shstrndx, shoff + 40);
    const elf = ElfFile.fromBytes(bytes, 'x.o');
    assert.equal(elf.sections.length, count);
    assert.equal(elf.section('.data')!.index, 1);
    const far = elf.symbols.find((sym) => sym.name === 'far')!;
    assert.equal(far.shndx, 1, 'SHN_XINDEX resolved through .symtab_shndx');
    assert.equal(far.value, 8n);
  });

  it('refuses a symbol table with a bad entry size or a name outside .strtab', () => {
    const good = buildElf({ sections: [{ name: '.data', data: new Uint8Array(4) }], symbols: [{ name: 'x', shndx: '.data' }] });
    const elf = ElfFile.fromBytes(good, 's.o');
    const symtab = elf.section('.symtab')!;
    const shoff = Number(new DataView(good.buffer).getBigUint64(0x28, true));
    const badEnt = new Uint8Array(good);
    badEnt.set(le(16, 8), shoff + symtab.index * 64 + 56);
    expectElfError(() => ElfFile.fromBytes(badEnt, 's.o').symbols, 'bad-section-header', 's.o');
    const badName = new Uint8Array(good);
    badName.set(le(0x7777, 4), symtab.offset + 24);
    expectElfError(() => ElfFile.fromBytes(badName, 's.o').symbols, 'bad-string-offset', 's.o', 24);
  });

  it('a note whose descriptor runs past its section -> truncated', () => {
    const note = cat(le(4, 4), le(64, 4), le(3, 4), Buffer.from('GNU\0'), [1, 2]);
    const elf = ElfFile.fromBytes(buildElf({ sections: [{ name: '.note.gnu.build-id', type: SHT.NOTE, data: note }] }), 'n.o');
    expectElfError(() => elf.buildId, 'truncated', 'n.o', 16);
  });

  it('finds the GNU build id in notes', () => {
    const note = cat(le(4, 4), le(4, 4), le(3, 4), Buffer.from('GNU\0'), [0xde, 0xad, 0xbe, 0xef]);
    const elf = ElfFile.fromBytes(buildElf({ sections: [{ name: '.note.gnu.build-id', type: SHT.NOTE, data: note }] }), 'n.o');
    assert.equal(elf.buildId, 'deadbeef');
    assert.equal(ElfFile.fromBytes(minimal()).buildId, undefined);
  });

  it('inflates zlib SHF_COMPRESSED sections once, and refuses other types and bad streams', () => {
    const payload = Buffer.from('hello compressed world');
    const chdr = (type: number, size: number): Uint8Array => cat(le(type, 4), le(0, 4), le(size, 8), le(1, 8));
    const mk = (data: Uint8Array): ElfFile => ElfFile.fromBytes(buildElf({ sections: [{ name: '.debug_str', flags: BigInt(SHF.COMPRESSED), data }] }), 'z.o');
    const ok = mk(cat(chdr(1, payload.length), deflateSync(payload)));
    const sec = ok.section('.debug_str')!;
    assert.equal(Buffer.from(ok.sectionData(sec)).toString(), payload.toString());
    assert.equal(ok.sectionData(sec), ok.sectionData(sec), 'cached');
    assert.equal(ok.dataSize(sec), payload.length);
    expectElfError(() => { const e = mk(cat(chdr(2, payload.length), deflateSync(payload))); e.sectionData(e.section('.debug_str')!); }, 'unsupported-compression', 'z.o');
    expectElfError(() => { const e = mk(cat(chdr(1, payload.length), Uint8Array.from([1, 2, 3]))); e.sectionData(e.section('.debug_str')!); }, 'bad-compression', 'z.o');
    expectElfError(() => { const e = mk(cat(chdr(1, 5), deflateSync(payload))); e.sectionData(e.section('.debug_str')!); }, 'bad-compression', 'z.o');
    expectElfError(() => { const e = mk(Uint8Array.from([1, 0, 0])); e.sectionData(e.section('.debug_str')!); }, 'truncated', 'z.o');
  });
});

describe('ElfFile: relocations', () => {
  const withRelocs = (relocs: Uint8Array, type = SHT.RELA, targetSize = 16): ElfFile => ElfFile.fromBytes(buildElf({
    sections: [
      { name: '.debug_info', data: new Uint8Array(targetSize).fill(0) },
      { name: '.data', data: new Uint8Array(64) },
      { name: type === SHT.RELA ? '.rela.debug_info' : '.rel.debug_info', type, data: relocs, link: '.symtab', info: '.debug_info', entsize: type === SHT.RELA ? 24 : 16 },
    ],
    symbols: [{ name: '.data', type: STT.SECTION, shndx: '.data' }, { name: 'g', value: 32n, type: STT.OBJECT, bind: 1, shndx: '.data' }],
  }), 'r.o');

  it('indexes RELA relocations by target offset with symbol, type and addend', () => {
    const elf = withRelocs(rela([[0, 1, R_X86_64._32, 0x10], [4, 2, R_X86_64._64, 8], [12, 1, R_X86_64.PC32, 4]]));
    const r = elf.relocationsFor(elf.section('.debug_info')!)!;
    assert.equal(r.size, 3);
    assert.deepEqual({ ...r.get(0), symbol: r.get(0)!.symbol.name }, { offset: 0, type: R_X86_64._32, symbol: '.data', addend: 0x10n });
    assert.equal(r.valueAt(4), 40n, 'S + A');
    assert.equal(r.valueAt(12, 12n), 4n - 12n, 'S + A - P');
    assert.equal(r.get(8), undefined);
    assert.deepEqual([...r].map((x) => x.offset), [0, 4, 12]);
    assert.equal(elf.relocationsFor(elf.section('.data')!), undefined);
  });

  it('takes REL addends from the target field', () => {
    const elf = ElfFile.fromBytes(buildElf({
      sections: [
        { name: '.debug_info', data: cat(le(0x20, 4), le(0, 4)) },
        { name: '.rel.debug_info', type: SHT.REL, data: rel([[0, 1, R_X86_64._32]]), link: '.symtab', info: '.debug_info', entsize: 16 },
      ],
      symbols: [{ name: 's', value: 2n, shndx: '.debug_info' }],
    }), 'rel.o');
    assert.equal(elf.relocationsFor(1)!.valueAt(0), 0x22n);
  });

  it('applies R_X86_64_32, _32S, _64 and PC32 with the psABI extension of REL implicit addends', () => {
    // RELA: the four types the kernel's .rela.debug_* use, with their widths
    const a = withRelocs(rela([[0, 2, R_X86_64._32, 1], [4, 2, R_X86_64._32S, -8], [8, 2, R_X86_64._64, 0], [12, 2, R_X86_64.PC32, 0]]), SHT.RELA, 16);
    const r = a.relocationsFor(1)!;
    assert.deepEqual([0, 4, 8, 12].map((o) => r.valueAt(o, 12n)), [33n, 24n, 32n, 32n - 12n]);
    assert.deepEqual([...r].map((x) => x.type), [R_X86_64._32, R_X86_64._32S, R_X86_64._64, R_X86_64.PC32]);
    // REL: the stored field is the addend; _32 zero-extends it, _32S and PC32 sign-extend it
    const field = cat(le(0xfffffff0, 4), le(0xfffffff0, 4), le(0xfffffff0, 4), le(0, 4), le(-2n, 8));
    const b = ElfFile.fromBytes(buildElf({
      sections: [
        { name: '.debug_info', data: field },
        { name: '.rel.debug_info', type: SHT.REL, data: rel([[0, 1, R_X86_64._32], [4, 1, R_X86_64._32S], [8, 1, R_X86_64.PC32], [16, 1, R_X86_64._64]]), link: '.symtab', info: '.debug_info', entsize: 16 },
      ],
      symbols: [{ name: 's', value: 0x100n, shndx: '.debug_info' }],
    }), 'rel.o');
    const rb = b.relocationsFor(1)!;
    assert.deepEqual([0, 4, 16].map((o) => rb.get(o)!.addend), [0xfffffff0n, -16n, -2n]);
    assert.equal(rb.valueAt(8, 8n), 0x100n - 16n - 8n, 'PC32: S + A - P with a negative implicit addend');
  });

  it('refuses relocations outside the section, duplicates, bad symbols and unknown types', () => {
    expectElfError(() => { const e = withRelocs(rela([[14, 1, R_X86_64._32, 0]])); e.relocationsFor(1); }, 'relocation-out-of-section', 'r.o', 0);
    expectElfError(() => { const e = withRelocs(rela([[0, 1, R_X86_64._32, 0], [0, 2, R_X86_64._32, 0]])); e.relocationsFor(1); }, 'duplicate-relocation', 'r.o', 24);
    expectElfError(() => { const e = withRelocs(rela([[0, 99, R_X86_64._32, 0]])); e.relocationsFor(1); }, 'bad-symbol-index', 'r.o', 0);
    expectElfError(() => { const e = withRelocs(rela([[0, 1, 37, 0]])); e.relocationsFor(1); }, 'unsupported-relocation', 'r.o', 0);
    expectElfError(() => { const e = withRelocs(rela([[0, 1, R_X86_64._32, 0]]).subarray(0, 20)); e.relocationsFor(1); }, 'bad-section-header', 'r.o', 0);
    expectElfError(() => { const e = withRelocs(cat(rela([[0, 1, R_X86_64._32, 0]]), new Uint8Array(4))); e.relocationsFor(1); }, 'bad-section-header', 'r.o', 24);
    const badEntsize = ElfFile.fromBytes(buildElf({
      sections: [
        { name: '.debug_info', data: new Uint8Array(16) },
        { name: '.rela.debug_info', type: SHT.RELA, data: rela([[0, 1, R_X86_64._32, 0]]), link: '.symtab', info: '.debug_info', entsize: 16 },
      ],
      symbols: [{ name: 's', shndx: '.debug_info' }],
    }), 'r.o');
    expectElfError(() => badEntsize.relocationsFor(1), 'bad-section-header', 'r.o', 0);
    const badLink = ElfFile.fromBytes(buildElf({
      sections: [
        { name: '.debug_info', data: new Uint8Array(16) },
        { name: '.rela.debug_info', type: SHT.RELA, data: rela([[0, 1, R_X86_64._32, 0]]), link: '.debug_info', info: '.debug_info', entsize: 24 },
      ],
      symbols: [{ name: 's', shndx: '.debug_info' }],
    }), 'r.o');
    expectElfError(() => badLink.relocationsFor(1), 'bad-section-index', 'r.o', 0);
    expectElfError(() => { const e = withRelocs(rela([[0, 1, R_X86_64._32, 0], [4, 1, R_X86_64._64, 1n << 60n]])); e.relocationsFor(1); }, 'unsupported-relocation', 'r.o', 24);
  });
});

describe('ElfFile: real objects', () => {
  it('reads a kernel module: sections, symbols, build id and .rela.debug_info like readelf', () => {
    const path = fixture('kernel/debug/tcp_bbr.ko');
    const elf = ElfFile.open(path);
    assert.equal(elf.type, ET.REL);
    const ids = readFileSync(fixture('kernel/build-ids.tsv'), 'utf8');
    assert.ok(elf.buildId && ids.includes(elf.buildId), `build id ${elf.buildId} listed in build-ids.tsv`);
    const info = elf.section('.debug_info')!;
    const relocs = elf.relocationsFor(info)!;
    const readelf = execFileSync('readelf', ['-rW', path], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const block = readelf.split(/\n(?=Relocation section)/).find((b) => b.startsWith("Relocation section '.rela.debug_info'"))!;
    const expected = Number(/contains (\d+) entr/.exec(block)![1]);
    assert.equal(relocs.size, expected);
    const syms = execFileSync('readelf', ['-sW', path], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const objects = syms.split('\n').filter((l) => / OBJECT /.test(l)).length;
    assert.equal(elf.symbols.filter((s) => s.type === STT.OBJECT).length, objects);
  });

  it('reads every symbol of every committed object exactly as readelf -sW prints it', () => {
    const TYPES: Record<string, number> = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4, COMMON: 5, TLS: 6 };
    const BINDS: Record<string, number> = { LOCAL: 0, GLOBAL: 1, WEAK: 2 };
    const NDX: Record<string, number> = { UND: 0, ABS: 0xfff1, COM: 0xfff2 };
    const objects = ['cordic', 'crc7', 'tcp_bbr', 'loop'].map((m) => `kernel/debug/${m}.ko`)
      .concat(['vars-dwarf4.o', 'vars-dwarf5.o', 'vars-gz.o', 'two-units.o', 'vars-dwarf4.exec', 'vars-dwarf5.exec'].map((f) => `elf/${f}`));
    for (const f of objects) {
      const path = fixture(f);
      const ours = ElfFile.open(path).symbols;
      const lines = execFileSync('readelf', ['-sW', path], { encoding: 'utf8', maxBuffer: 1 << 26 }).split('\n');
      const start = lines.findIndex((l) => l.startsWith("Symbol table '.symtab'"));
      const rows = lines.slice(start + 2).filter((l) => /^\s*\d+:/.test(l)).map((l) => l.trim().split(/\s+/));
      assert.equal(ours.length, rows.length, `${f}: symbol count`);
      rows.forEach(([num, value, size, type, bind, , ndx, name], i) => {
        const sym = ours[i]!;
        const where = `${f} symbol ${num}`;
        assert.equal(sym.index, Number(num!.slice(0, -1)), where);
        assert.equal(sym.value, BigInt(`0x${value}`), where);
        assert.equal(sym.size, BigInt(size!.startsWith('0x') ? size! : Number(size)), where);
        assert.equal(sym.type, TYPES[type!], where);
        assert.equal(sym.bind, BINDS[bind!], where);
        assert.equal(sym.shndx, NDX[ndx!] ?? Number(ndx), where);
        // readelf shows a section symbol by its section's name
        if (sym.type !== STT.SECTION) assert.equal(sym.name, name ?? '', where);
      });
    }
  });

  it('maps ET_EXEC addresses to sections', () => {
    const elf = ElfFile.open(fixture('elf/vars-dwarf5.exec'));
    assert.equal(elf.type, ET.EXEC);
    const sym = elf.symbols.find((s) => s.name === 'global_counter')!;
    const sec = elf.sectionContaining(sym.value)!;
    assert.equal(sec.index, sym.shndx);
    assert.equal(sec.name, '.data');
    assert.match(elf.buildId ?? '', /^[0-9a-f]{40}$/);
  });

  it('reads -gz compressed debug sections of a compiled object', () => {
    const elf = ElfFile.open(fixture('elf/vars-gz.o'));
    const sec = elf.section('.debug_info')!;
    assert.ok((sec.flags & BigInt(SHF.COMPRESSED)) !== 0n);
    const plain = ElfFile.open(fixture('elf/vars-dwarf5.o'));
    assert.deepEqual(Buffer.from(elf.sectionData(sec)), Buffer.from(plain.sectionData(plain.section('.debug_info')!)));
  });
});

const summary = (elf: ElfFile): string[] => collectVariables(Dwarf.fromElf(elf)).variables
  .map((v) => `${v.name} ${v.sectionName} ${v.offset} ${v.size} ${v.cType}`);

describe('ElfFile.open(path, { shared: true })', () => {
  it('reads into a SharedArrayBuffer and decodes exactly as the plain read does', () => {
    for (const f of ['kernel/debug/tcp_bbr.ko', 'elf/vars-gz.o', 'elf/vars-dwarf5.exec']) {
      const shared = ElfFile.open(fixture(f), { shared: true });
      assert.ok(shared.bytes.buffer instanceof SharedArrayBuffer);
      const plain = ElfFile.open(fixture(f));
      assert.deepEqual(summary(shared), summary(plain), f);
      assert.equal(shared.buildId, plain.buildId);
    }
  });

  it('hands the bytes to a worker thread without copying the file', async () => {
    const elf = ElfFile.open(fixture('kernel/debug/loop.ko'), { shared: true });
    const elfUrl = new URL('../../src/elf/index.js', import.meta.url).href;
    const dwarfUrl = new URL('../../src/dwarf/index.js', import.meta.url).href;
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      (async () => {
        const { ElfFile } = await import(workerData.elfUrl);
        const { Dwarf, collectVariables } = await import(workerData.dwarfUrl);
        workerData.bytes[0] = workerData.bytes[0]; // same memory, no copy
        const n = collectVariables(Dwarf.fromElf(ElfFile.fromBytes(workerData.bytes, 'loop.ko'))).variables.length;
        parentPort.postMessage(n);
      })().catch((e) => parentPort.postMessage(String(e)));`;
    const n = await new Promise<unknown>((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: { bytes: elf.bytes, elfUrl, dwarfUrl } });
      w.once('message', (m) => { resolve(m); void w.terminate(); });
      w.once('error', reject);
    });
    assert.equal(n, 1 + 46 + 7);
  });
});

describe('ElfFile.fromBytes(bytes, name, detached)', () => {
  it('reads detached sections from their own buffers and refuses them once released', () => {
    const whole = readFileSync(fixture('kernel/debug/loop.ko'));
    const probe = ElfFile.fromBytes(whole, 'loop.ko');
    const info = probe.section('.debug_info')!;
    const image = new Uint8Array(whole);
    const own = image.slice(info.offset, info.offset + info.size);
    image.fill(0, info.offset, info.offset + info.size);
    const elf = ElfFile.fromBytes(image, 'loop.ko', new Map([[info.index, own]]));
    assert.equal(elf.sectionData(info), own);
    assert.equal(collectVariables(Dwarf.fromElf(elf)).variables.length, collectVariables(Dwarf.fromElf(probe)).variables.length);
    elf.releaseSections();
    assert.equal(elf.detachedSections.size, 0);
    assert.throws(() => elf.sectionData(info), (e: unknown) => e instanceof ElfError && e.code === 'released-section' && /loop\.ko/.test(e.message));
    assert.ok(elf.sectionData(elf.section('.symtab')!).length > 0, 'the rest of the file stays readable');
  });
});

describe('ElfFile.open(path): lazy section loading', () => {
  it('reads a section only when asked for it, and gives the same bytes as a full read', () => {
    const path = fixture('kernel/debug/tcp_bbr.ko');
    const elf = ElfFile.open(path);
    const full = readFileSync(path);
    const text = elf.section('.text')!;
    const view = (): Buffer => Buffer.from(elf.bytes.subarray(text.offset, text.offset + text.size));
    assert.ok(view().every((b) => b === 0), 'not read yet');
    assert.deepEqual(Buffer.from(elf.sectionData(text)), full.subarray(text.offset, text.offset + text.size));
    assert.deepEqual(view(), full.subarray(text.offset, text.offset + text.size));
  });

  it('refuses to read more of a file that changed since it was opened', () => {
    const dir = mkdtempSync(join(tmpdir(), 'btf-extra-elf-'));
    try {
      const copy = join(dir, 'm.ko');
      copyFileSync(fixture('kernel/debug/crc7.ko'), copy);
      const elf = ElfFile.open(copy);
      appendFileSync(copy, Buffer.alloc(16));
      assert.throws(() => elf.sectionData(elf.section('.debug_info')!),
        (e: unknown) => e instanceof ElfError && e.code === 'io' && e.message === `${copy}: file changed while it was being read`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
