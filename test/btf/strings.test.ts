import assert from 'node:assert/strict';
import { BtfError } from '../../src/btf/errors.js';
import { StringTable } from '../../src/btf/strings.js';

describe('btf/strings', () => {
  it('standalone table starts with "" and dedups adds', () => {
    const t = StringTable.empty(0);
    assert.equal(t.add(''), 0);
    const a = t.add('abc');
    assert.equal(a, 1);
    assert.equal(t.add('abc'), 1);
    assert.equal(t.add('de'), 5);
    assert.deepEqual([...t.bytes()], [0, 97, 98, 99, 0, 100, 101, 0]);
    assert.equal(t.get(5), 'de');
    assert.equal(t.get(2), 'bc'); // inside a string: the suffix, like C
    assert.ok(t.isStart(5) && !t.isStart(2) && t.isStart(0));
  });

  it('offsets are absolute from the level start', () => {
    const t = new StringTable(100, new Uint8Array([0x78, 0, 0x79, 0x7a, 0]));
    assert.equal(t.get(100), 'x');
    assert.equal(t.get(102), 'yz');
    assert.equal(t.find('yz'), 102);
    assert.equal(t.find('q'), undefined);
    assert.equal(t.add('q'), 105);
    assert.equal(t.end, 107);
    assert.throws(() => t.get(99), (e: unknown) => e instanceof BtfError && e.code === 'bad-string-offset');
    assert.throws(() => t.get(107), (e: unknown) => e instanceof BtfError && e.code === 'bad-string-offset');
  });

  it('unique: true while built by add/appendNew from empty, false for wrapped bytes; appendNew copies bytes', () => {
    const t = StringTable.empty(0);
    assert.ok(t.unique);
    t.add('abc');
    assert.equal(t.appendNew(new TextEncoder().encode('de')), 5);
    assert.ok(t.unique);
    assert.deepEqual([...t.bytes()], [0, 97, 98, 99, 0, 100, 101, 0]);
    assert.equal(t.get(5), 'de');
    assert.equal(t.find('de'), 5, 'the index knows appended strings');
    assert.equal(t.add('de'), 5, 'and add does not append them again');
    assert.ok(!new StringTable(0, new Uint8Array([0, 0x61, 0, 0x61, 0])).unique, 'bytes may repeat a string');
    assert.ok(new StringTable(7, new Uint8Array(0)).unique);
  });

  it('find and add answer alike before and after the index is built (whole strings, first occurrence)', () => {
    const bytes = new TextEncoder().encode('\0abc\0bc\0x\0abc\0\0y\0');
    const answers = (t: StringTable): (number | undefined)[] => ['abc', 'bc', 'c', 'x', 'y', '', 'zz'].map((s) => t.find(s));
    const fresh = answers(new StringTable(10, bytes));
    assert.deepEqual(fresh, [11, 15, undefined, 18, 25, 10, undefined]);
    const t = new StringTable(10, bytes);
    for (let i = 0; i < 70; i++) assert.deepEqual(answers(t), fresh, `round ${i}`);
    const u = new StringTable(10, bytes);
    assert.equal(u.add('abc'), 11);
    assert.equal(u.add('new'), 27);
    assert.equal(u.find('new'), 27, 'an appended string is found by the search too');
    assert.equal(u.add('new'), 27);
    assert.equal(u.add('n\u00e9'), 31, 'non-ASCII goes through the index');
    assert.equal(u.find('new'), 27);
    const standalone = new StringTable(0, new TextEncoder().encode('\0a\0'));
    assert.equal(standalone.find(''), 0);
    assert.equal(new StringTable(0, new TextEncoder().encode('a\0')).find('a'), 0, 'a string at the table\'s start');
  });

  it('does not write into the bytes it wraps', () => {
    const backing = new Uint8Array([0, 0x61, 0, 0xee, 0xee]);
    const t = new StringTable(0, backing.subarray(0, 3));
    t.add('b');
    assert.deepEqual([...backing], [0, 0x61, 0, 0xee, 0xee]);
    assert.deepEqual([...t.bytes()], [0, 0x61, 0, 0x62, 0]);
  });

  it('non-ASCII strings decode as UTF-8', () => {
    const t = StringTable.empty(0);
    const off = t.add('héllo');
    const off2 = t.add('w');
    assert.equal(t.get(off), 'héllo');
    assert.equal(t.get(off2), 'w');
    const parsed = new StringTable(0, t.bytes().slice());
    assert.equal(parsed.get(off2), 'w');
    assert.equal(parsed.find('héllo'), off);
  });

  it('rejects NUL inside a string', () => {
    assert.throws(() => StringTable.empty(0).add('a\0b'), (e: unknown) => e instanceof BtfError && e.code === 'builder-misuse');
  });
});
