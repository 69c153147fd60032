/** The ET_REL writer against readelf and our own reader: headers, section placement, symbol order. */
import { strict as assert } from 'node:assert';
import { ElfFile, ET, SHF, SHN, SHT, STB, STT } from '../../src/elf/index.js';
import { writeRelocatable } from '../../src/kmod/elf-writer.js';
import { need, tmpFile } from './support.js';

describe('kmod ELF writer', () => {
  const sections = [
    { name: '.a', type: SHT.PROGBITS, flags: BigInt(SHF.ALLOC), data: Buffer.from('abc'), align: 1 },
    { name: '.b', type: SHT.PROGBITS, flags: BigInt(SHF.ALLOC | SHF.WRITE), data: new Uint8Array(100), align: 64 },
  ];
  const symbols = [
    { name: 'global_one', section: '.b', value: 8n, size: 4n, type: STT.OBJECT, bind: STB.GLOBAL },
    { name: 'local_one', section: '.a', value: 1n, size: 0n, type: STT.NOTYPE, bind: STB.LOCAL },
    { name: 'imported', value: 0n, size: 0n, type: STT.NOTYPE, bind: STB.GLOBAL },
  ];

  it('writes a relocatable x86-64 object our reader and readelf agree on', function () {
    const bytes = writeRelocatable(sections, symbols);
    const elf = ElfFile.fromBytes(bytes, 'w.o');
    assert.equal(elf.type, ET.REL);
    assert.deepEqual(elf.sections.map((s) => s.name), ['', '.a', '.b', '.symtab', '.strtab', '.shstrtab']);
    const b = elf.requireSection('.b');
    assert.equal(b.offset % 64, 0);
    assert.equal(b.size, 100);
    assert.equal(Buffer.from(elf.sectionData(elf.requireSection('.a'))).toString(), 'abc');
    assert.deepEqual(elf.symbols.map((s) => [s.name, s.bind, s.shndx]), [
      ['', STB.LOCAL, SHN.UNDEF], ['local_one', STB.LOCAL, 1], ['global_one', STB.GLOBAL, 2], ['imported', STB.GLOBAL, SHN.UNDEF],
    ]);
    assert.equal(elf.requireSection('.symtab').info, 2, 'sh_info = first global');
    const path = tmpFile('w.o', bytes);
    const header = need(this, 'readelf', ['-hW', path]);
    assert.match(header, /Type:\s+REL \(Relocatable file\)/);
    assert.match(header, /Machine:\s+Advanced Micro Devices X86-64/);
    const syms = need(this, 'readelf', ['-sW', path]);
    assert.match(syms, /4 OBJECT\s+GLOBAL DEFAULT\s+2 global_one/);
    assert.match(syms, /NOTYPE\s+GLOBAL DEFAULT\s+UND imported/);
    assert.match(need(this, 'readelf', ['-SW', path]), /\.b\s+PROGBITS\s+0+ [0-9a-f]+ 000064 00\s+WA\s+0\s+0\s+64/);
    assert.deepEqual(writeRelocatable(sections, symbols), bytes, 'deterministic');
  });

  it('refuses a symbol in a section it was not given, and a section given twice', () => {
    assert.throws(() => writeRelocatable(sections, [{ ...symbols[0]!, section: '.nope' }]), /names no section \.nope/);
    assert.throws(() => writeRelocatable([sections[0]!, sections[0]!], []), /given twice/);
  });
});
