import assert from 'node:assert/strict';
import { BtfBuilder } from '../../src/btf/builder.js';
import { BtfError } from '../../src/btf/errors.js';
import { KIND } from '../../src/btf/kinds.js';
import { allKinds, threeLevels, vmlinux } from './sample.js';

const isCode = (code: string) => (e: unknown): boolean => e instanceof BtfError && e.code === code;

describe('btf/builder', () => {
  it('returns consecutive ids from 1 standalone', () => {
    const b = new BtfBuilder();
    assert.equal(b.addInt('int', 4, 1), 1);
    assert.equal(b.addPtr(1), 2);
    assert.equal(b.addConst(0), 3);
    const btf = b.finish();
    assert.equal(btf.types.length, 3);
    assert.equal(btf.nameOf(1), 'int');
  });

  it('starts on top of a base chain and reuses ancestor strings', () => {
    const v = vmlinux();
    const b = new BtfBuilder({ base: v });
    const before = b.btf.strings.length;
    const id = b.addStruct('task_struct', 8);
    assert.equal(id, v.nextId);
    b.addField('pid', 1, 0);
    assert.equal(b.btf.strings.length, before, 'names found in vmlinux add no string');
    const t = b.btf.type(id);
    assert.equal(t.nameOff, v.findStr('task_struct'));
    const fresh = b.addVar('btf_extra_unique_name', 1, 1);
    assert.equal(b.btf.nameOf(fresh), 'btf_extra_unique_name');
    assert.ok(b.btf.type(fresh).nameOff >= v.strings.end);
  });

  it('3 levels: every level continues ids and string offsets', () => {
    const { base, mid, top } = threeLevels();
    assert.equal(mid.startId, base.nextId);
    assert.equal(top.startId, mid.nextId);
    assert.equal(top.startStrOff, mid.strings.end);
    const a = top.type(top.startId + 1);
    assert.ok(a.kind === KIND.VAR);
    assert.ok(a.nameOff < base.strings.end, "'a' reuses the base's string");
    assert.equal(mid.strings.length, 'mid_s\0p\0'.length);
  });

  it('bitfields set kind_flag and encode size << 24 | offset', () => {
    const b = new BtfBuilder();
    const int = b.addInt('int', 4, 1);
    const s = b.addStruct('s', 4);
    b.addField('a', int, 0);
    let t = b.btf.type(s);
    assert.ok(t.kind === KIND.STRUCT && !t.kflag);
    b.addField('b', int, 4, 3);
    t = b.btf.type(s);
    assert.ok(t.kind === KIND.STRUCT && t.kflag);
    if (t.kind === KIND.STRUCT) assert.equal(t.members[1]!.offset, (3 << 24) | 4);
    assert.throws(() => b.addField('c', int, 1 << 24, 1), isCode('builder-misuse'));
  });

  it('enums: negative values make them signed; enum forwards are empty ENUMs', () => {
    const b = new BtfBuilder();
    const e = b.addEnum('e', 4);
    b.addEnumValue('A', 1);
    assert.ok(!b.btf.type(e).kflag);
    b.addEnumValue('B', -2);
    assert.ok(b.btf.type(e).kflag);
    assert.throws(() => b.addEnumValue('C', 2 ** 32), isCode('builder-misuse'));
    const f = b.addFwd('later', 'enum');
    const ft = b.btf.type(f);
    assert.ok(ft.kind === KIND.ENUM && ft.values.length === 0 && ft.size === 4);
    const u = b.btf.type(b.addFwd('u', 'union'));
    assert.ok(u.kind === KIND.FWD && u.kflag);
    const e64 = b.addEnum64('e64');
    b.addEnum64Value('X', -1n);
    assert.ok(b.btf.type(e64).kflag);
  });

  it('member calls need the right kind added last', () => {
    const b = new BtfBuilder();
    assert.throws(() => b.addField('x', 0, 0), isCode('builder-misuse'));
    b.addInt('int', 4, 1);
    assert.throws(() => b.addField('x', 1, 0), isCode('builder-misuse'));
    assert.throws(() => b.addParam('x', 1), isCode('builder-misuse'));
    assert.throws(() => b.addVarInfo(1, 0, 4), isCode('builder-misuse'));
    assert.throws(() => b.addEnumValue('x', 1), isCode('builder-misuse'));
    assert.throws(() => b.addEnum64Value('x', 1n), isCode('builder-misuse'));
    assert.throws(() => b.addPtr(-1), isCode('too-large'));
    assert.throws(() => b.addArray(1, 1, 2 ** 32), isCode('too-large'));
    assert.throws(() => b.addFunc('f', 1, 3), isCode('builder-misuse'));
    assert.throws(() => b.addDeclTag('t', 1, -2), isCode('builder-misuse'));
  });

  it('addType appends raw records and keeps name lookups current', () => {
    const b = new BtfBuilder();
    b.addInt('int', 4, 1);
    assert.deepEqual(b.btf.findByName('int'), [1]);
    const id = b.addType({ kind: KIND.TYPEDEF, nameOff: b.addStr('myint'), kflag: false, type: 1 });
    assert.deepEqual(b.btf.findByName('myint', KIND.TYPEDEF), [id]);
    assert.deepEqual(b.btf.findByName('myint', KIND.STRUCT), []);
  });

  it('the sample has 33 types of all 19 kinds', () => {
    const btf = allKinds();
    assert.equal(btf.types.length, 33);
    assert.equal(new Set(btf.types.map((t) => t.kind)).size, 19);
  });
});
