import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { writeBtf } from '../../src/btf/write.js';
import { encodeObject } from '../../src/encoder/encode.js';
import { readObjectForEncoding } from '../../src/encoder/read.js';
import { fixture } from '../support/paths.js';

describe('encoder/read', () => {
  it('a sparse read keeps every byte the encoder uses and leaves code/data sections unread', () => {
    const path = fixture('kernel/debug/loop.ko');
    const whole = new Uint8Array(readFileSync(path));
    const sparse = readObjectForEncoding(path, 0);
    assert.equal(sparse.length, whole.length);
    assert.deepEqual(writeBtf(encodeObject(path, {}, sparse).btf), writeBtf(encodeObject(path, {}, whole).btf));
    // .text (at file offset 0xb0 in loop.ko, 0x3e19 bytes) was not read
    assert.ok(whole.subarray(0xb0, 0xb0 + 0x3e19).some((b) => b !== 0));
    assert.ok(sparse.subarray(0xb0, 0xb0 + 0x3e19).every((b) => b === 0));
  });

  it('reads small files whole', () => {
    const path = fixture('encoder/vars-dwarf5.o');
    assert.ok(Buffer.from(readObjectForEncoding(path)).equals(readFileSync(path)));
  });
});
