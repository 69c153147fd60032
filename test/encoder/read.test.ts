import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { writeBtf } from '../../src/btf/write.js';
import { encodeObject } from '../../src/encoder/encode.js';
import { readObjectForEncoding } from '../../src/encoder/read.js';
import { ElfError, ElfFile } from '../../src/elf/index.js';
import { fixture } from '../support/paths.js';

describe('encoder/read', () => {
  it('a sparse read keeps every byte the encoder uses and leaves code/data sections unread', () => {
    const path = fixture('kernel/debug/loop.ko');
    const whole = new Uint8Array(readFileSync(path));
    const sparse = readObjectForEncoding(path, 0);
    assert.equal(sparse.bytes.length, whole.length);
    assert.ok(sparse.bytes.buffer instanceof SharedArrayBuffer, 'large files are shared with worker threads');
    assert.deepEqual(writeBtf(encodeObject(path, {}, sparse).btf), writeBtf(encodeObject(path, {}, whole).btf));
    // .text (at file offset 0xb0 in loop.ko, 0x3e19 bytes) was not read
    assert.ok(whole.subarray(0xb0, 0xb0 + 0x3e19).some((b) => b !== 0));
    assert.ok(sparse.bytes.subarray(0xb0, 0xb0 + 0x3e19).every((b) => b === 0));
  });

  it('reads the big DWARF sections into buffers of their own, which the encoder releases after decoding', () => {
    const path = fixture('kernel/debug/loop.ko');
    const whole = new Uint8Array(readFileSync(path));
    const image = readObjectForEncoding(path, 0, 0);
    const elf = ElfFile.fromBytes(image.bytes, path, image.sections);
    assert.ok(image.sections.has(elf.section('.debug_info')!.index));
    assert.ok(!image.sections.has(elf.section('.rela.debug_info')!.index), 'relocations stay in the image');
    for (const [index, data] of image.sections) {
      const sec = elf.sectionByIndex(index)!;
      assert.ok(sec.name.startsWith('.debug_'));
      assert.ok(Buffer.from(data).equals(whole.subarray(sec.offset, sec.offset + sec.size)), `${sec.name} read whole`);
      assert.ok(image.bytes.subarray(sec.offset, sec.offset + sec.size).every((b) => b === 0), `${sec.name} not in the file image`);
    }
    // encodeObject reads the file itself and releases the DWARF once decoded; given an image it
    // does not own, it releases nothing: the output is the same either way.
    const fromImage = encodeObject(path, { mode: 'full' }, image);
    assert.deepEqual(writeBtf(fromImage.btf), writeBtf(encodeObject(path, { mode: 'full' }).btf));
    assert.ok(elf.sectionData(elf.section('.debug_info')!).length > 0);
    elf.releaseSections();
    assert.equal(elf.detachedSections.size, 0);
    assert.throws(() => elf.sectionData(elf.section('.debug_info')!), (e: unknown) => e instanceof ElfError && e.code === 'released-section');
  });

  it('reads small files whole', () => {
    const path = fixture('encoder/vars-dwarf5.o');
    const image = readObjectForEncoding(path);
    assert.ok(Buffer.from(image.bytes).equals(readFileSync(path)));
    assert.equal(image.sections.size, 0);
  });
});
