import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BtfError, type BtfErrorCode } from '../../src/btf/errors.js';
import { ElfFile, SHT } from '../../src/elf/index.js';
import { KIND } from '../../src/btf/kinds.js';
import { parseBtf, parseHeader, readBtfChain, readBtfFile } from '../../src/btf/parse.js';
import { writeBtf } from '../../src/btf/write.js';
import { fixture } from '../support/paths.js';
import { allKinds, threeLevels, vmlinux, vmlinuxBytes } from './sample.js';

function expectCode(fn: () => unknown, code: BtfErrorCode, re?: RegExp): BtfError {
  try { fn(); } catch (e) {
    assert.ok(e instanceof BtfError, `expected BtfError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    assert.ok(!e.message.includes('\n'));
    return e;
  }
  assert.fail(`expected BtfError ${code}`);
}

/** A minimal valid standalone BTF (one INT 'int') to corrupt. */
function small(): Uint8Array { return writeBtf(allKinds()); }
function setU32(b: Uint8Array, off: number, v: number): Uint8Array {
  const c = b.slice();
  new DataView(c.buffer).setUint32(off, v, true);
  return c;
}

describe('btf/parse', () => {
  it('reads vmlinux: 95246 types, names and kinds right', () => {
    const v = vmlinux();
    assert.equal(v.startId, 1);
    assert.equal(v.types.length, 95246);
    assert.equal(v.nextId, 95247);
    const [ts] = v.findByName('task_struct', KIND.STRUCT);
    assert.ok(ts !== undefined);
    const t = v.type(ts);
    assert.equal(t.kind, KIND.STRUCT);
    if (t.kind === KIND.STRUCT) assert.ok(t.members.length > 100);
    const pcpu = v.findByName('.data..percpu', KIND.DATASEC);
    assert.equal(pcpu.length, 1);
  });

  it('reads a split module on vmlinux with cumulative ids and string offsets', () => {
    const v = vmlinux();
    const m = readBtfFile(fixture('kernel/btf/crc7'), { base: v });
    assert.equal(m.startId, v.nextId);
    assert.equal(m.startStrOff, v.strings.length);
    const [f] = m.findByName('crc7_be', KIND.FUNC);
    assert.ok(f !== undefined && f >= m.startId);
    const func = m.type(f);
    assert.equal(func.kind, KIND.FUNC);
    // the prototype's parameter types resolve into vmlinux
    if (func.kind !== KIND.FUNC) return;
    const proto = m.type(func.type);
    assert.equal(proto.kind, KIND.FUNC_PROTO);
    if (proto.kind === KIND.FUNC_PROTO) assert.deepEqual(proto.params.map((p) => m.str(p.nameOff)), ['crc', 'buffer', 'len']);
    assert.equal(m.levelOf(1), v);
    assert.equal(m.levelOf(f), m);
  });

  it('reads every kind with kind_flag semantics', () => {
    const btf = parseBtf(small());
    const kinds = new Set(btf.types.map((t) => t.kind));
    for (let k = 1; k <= 19; k++) assert.ok(kinds.has(k as never), `kind ${k} missing`);
    const point = btf.type(btf.findByName('point')[0]!);
    assert.ok(point.kind === KIND.STRUCT && point.kflag);
    if (point.kind === KIND.STRUCT) assert.equal(point.members[2]!.offset, (3 << 24) | 64);
    const delta = btf.type(btf.findByName('delta')[0]!);
    assert.ok(delta.kind === KIND.ENUM && delta.kflag && delta.values[0]!.value === -1);
    const color = btf.type(btf.findByName('color')[0]!);
    assert.ok(color.kind === KIND.ENUM && !color.kflag && color.values[1]!.value === 0xfffffffe);
    const either = btf.type(btf.findByName('either')[0]!);
    assert.ok(either.kind === KIND.FWD && either.kflag);
    const sbig = btf.type(btf.findByName('sbig')[0]!);
    assert.ok(sbig.kind === KIND.ENUM64 && sbig.values[0]!.value === -5n);
    const big = btf.type(btf.findByName('big')[0]!);
    assert.ok(big.kind === KIND.ENUM64 && big.values[0]!.value === 0xffffffff00000001n);
    const tag = btf.type(btf.findByName('param_tag')[0]!);
    assert.ok(tag.kind === KIND.DECL_TAG && tag.componentIdx === 0);
    const tag2 = btf.type(btf.findByName('tagged')[0]!);
    assert.ok(tag2.kind === KIND.DECL_TAG && tag2.componentIdx === -1);
  });

  it('reads split on split (3 levels) from bytes, names right at every level', () => {
    const { base, mid, top } = threeLevels();
    const b = parseBtf(writeBtf(base));
    const m = parseBtf(writeBtf(mid), { base: b });
    const t = parseBtf(writeBtf(top), { base: m });
    assert.equal(t.startId, mid.nextId);
    assert.equal(t.startStrOff, b.strings.length + m.strings.length);
    assert.deepEqual(t.chain(), [b, m, t]);
    assert.deepEqual(t.types.map((x) => t.str(x.nameOff)), ['top_var', 'a', '.data']);
    assert.deepEqual(t.findByName('int').map((id) => t.type(id).kind), [KIND.INT, KIND.TYPEDEF]);
    assert.equal(t.nameOf(m.startId + 1), 'mid_s');
  });

  it('reads the .BTF section of an ELF object', () => {
    const m = readBtfFile(fixture('kernel/debug/cordic.ko'), { base: vmlinux() });
    assert.ok(m.findByName('cordic_calc_iq', KIND.FUNC).length === 1);
  });

  it('readBtfChain reads root first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'btfcore-'));
    try {
      const { base, mid, top } = threeLevels();
      writeFileSync(join(dir, 'b'), writeBtf(base));
      writeFileSync(join(dir, 'm'), writeBtf(mid));
      writeFileSync(join(dir, 't'), writeBtf(top));
      const t = readBtfChain([join(dir, 'b'), join(dir, 'm'), join(dir, 't')]);
      assert.equal(t.depth, 2);
      assert.equal(t.source, join(dir, 't'));
      assert.equal(t.nameOf(t.startId), 'top_var');
      // the same chain read on a base already in memory: same ids, same bytes
      const onBase = readBtfChain([join(dir, 'm'), join(dir, 't')], readBtfFile(join(dir, 'b')));
      assert.equal(onBase.depth, 2);
      assert.equal(onBase.startId, t.startId);
      assert.deepEqual(writeBtf(onBase), writeBtf(t));
      expectCode(() => readBtfChain([]), 'bad-chain');
      expectCode(() => readBtfFile(join(dir, 'missing')), 'io', /missing: cannot read/);
      writeFileSync(join(dir, 'elf'), Buffer.from('\x7fELF\x02\x01\x01'));
      expectCode(() => readBtfFile(join(dir, 'elf')), 'bad-elf', /elf: ELF header \+0x0: .*need 64 bytes/);
    } finally { rmSync(dir, { recursive: true }); }
  });

  it('reads gzip-compressed files; a corrupt gzip stream is an io error naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'btfcore-'));
    try {
      const v = readBtfFile(fixture('kernel/btf/vmlinux.gz'));
      assert.deepEqual(writeBtf(v), vmlinuxBytes());
      const gz = gzipSync(writeBtf(threeLevels().base));
      writeFileSync(join(dir, 'cut.gz'), gz.subarray(0, gz.length - 9));
      expectCode(() => readBtfFile(join(dir, 'cut.gz')), 'io', /cut\.gz: cannot decompress gzip/);
    } finally { rmSync(dir, { recursive: true }); }
  });

  it('an ELF file without .BTF is a bad-elf error', () => {
    const noBtf = readFileSync(fixture('kernel/debug/cordic.ko'));
    const dir = mkdtempSync(join(tmpdir(), 'btfcore-'));
    try {
      // rename ".BTF" in the section name table to ".XTF"
      const copy = Buffer.from(noBtf);
      let i = copy.indexOf('\0.BTF\0');
      assert.ok(i > 0);
      copy[i + 2] = 'X'.charCodeAt(0);
      while ((i = copy.indexOf('\0.BTF\0', i + 1)) > 0) copy[i + 2] = 'X'.charCodeAt(0);
      writeFileSync(join(dir, 'x.ko'), copy);
      expectCode(() => readBtfFile(join(dir, 'x.ko')), 'bad-elf', /no \.BTF section/);
      // .BTF turned into SHT_NOBITS (as objcopy --only-keep-debug leaves allocated sections)
      const nobits = Buffer.from(noBtf);
      const index = ElfFile.fromBytes(nobits, 'cordic.ko').section('.BTF')!.index;
      nobits.writeUInt32LE(SHT.NOBITS, Number(nobits.readBigUInt64LE(0x28)) + index * 64 + 4);
      writeFileSync(join(dir, 'nobits.ko'), nobits);
      expectCode(() => readBtfFile(join(dir, 'nobits.ko')), 'bad-elf', /nobits\.ko: \.BTF: .*NOBITS/);
    } finally { rmSync(dir, { recursive: true }); }
  });

  describe('bad input: typed errors naming the offset', () => {
    it('truncated header', () => {
      expectCode(() => parseBtf(new Uint8Array(0)), 'truncated');
      expectCode(() => parseBtf(small().subarray(0, 20)), 'truncated', /BTF header \+0x0/);
    });
    it('bad magic, big-endian, version, flags', () => {
      expectCode(() => parseBtf(new Uint8Array(24)), 'bad-magic');
      const b = small();
      const be = b.slice(); be[0] = 0xeb; be[1] = 0x9f;
      expectCode(() => parseBtf(be), 'bad-magic', /big-endian/);
      const v = b.slice(); v[2] = 2;
      expectCode(() => parseBtf(v), 'bad-version');
      const f = b.slice(); f[3] = 1;
      expectCode(() => parseBtf(f), 'bad-flags');
    });
    it('hdr_len too small, past the end, or with non-zero extra bytes', () => {
      expectCode(() => parseBtf(setU32(small(), 4, 16)), 'bad-header');
      expectCode(() => parseBtf(setU32(small(), 4, 1 << 30)), 'truncated');
      // A 32-byte header: zero extra bytes are fine, non-zero are not.
      const b = small();
      const long = new Uint8Array(b.length + 8);
      long.set(b.subarray(0, 24)); long.set(b.subarray(24), 32);
      new DataView(long.buffer).setUint32(4, 32, true);
      assert.equal(parseBtf(long).types.length, allKinds().types.length);
      long[30] = 1;
      expectCode(() => parseBtf(long), 'bad-header', /\+0x1e/);
    });
    it('sections out of bounds, overlapping, with gaps, misaligned', () => {
      const b = small();
      const typeLen = new DataView(b.buffer).getUint32(12, true);
      expectCode(() => parseBtf(setU32(b, 12, typeLen + 4096)), 'section-out-of-bounds');
      expectCode(() => parseBtf(setU32(b, 20, 1 << 20)), 'section-out-of-bounds');
      expectCode(() => parseBtf(setU32(b, 16, typeLen + 4)), 'section-out-of-bounds');
      expectCode(() => parseBtf(setU32(setU32(b, 16, typeLen - 4), 20, b.length - 24 - typeLen + 4)), 'section-overlap');
      expectCode(() => parseBtf(setU32(b, 12, typeLen - 12)), 'section-gap');
      expectCode(() => parseBtf(setU32(b, 8, 2)), 'bad-header', /aligned/);
      const extra = new Uint8Array(b.length + 4); extra.set(b);
      expectCode(() => parseBtf(extra), 'section-gap', /after the last section/);
    });
    it('string section without NUL end or leading ""', () => {
      const b = small();
      const noNul = b.slice(); noNul[noNul.length - 1] = 0x41;
      expectCode(() => parseBtf(noNul), 'bad-string-section', /end with NUL/);
      const typeLen = new DataView(b.buffer).getUint32(12, true);
      const lead = b.slice(); lead[24 + typeLen] = 0x41;
      expectCode(() => parseBtf(lead), 'bad-string-section', /start with the empty string/);
      const empty = setU32(b.slice(0, 24 + typeLen), 20, 0);
      expectCode(() => parseBtf(empty), 'bad-string-section');
    });
    it('a kind of 0 or 20+ is bad-kind with the type id and offset', () => {
      const b = small();
      const k20 = b.slice(); k20[24 + 4 + 3] = 20;   // first type's info high byte
      const e = expectCode(() => parseBtf(k20), 'bad-kind', /BTF types \+0x0: type \[1\]: kind 20/);
      assert.equal(e.details['id'], 1);
      const k0 = b.slice(); k0[24 + 4 + 3] = 0;
      expectCode(() => parseBtf(k0), 'bad-kind', /kind 0/);
      const k31 = b.slice(); k31[24 + 4 + 3] = 0x1f;
      expectCode(() => parseBtf(k31), 'bad-kind');
    });
    it('reserved info bits and unrepresentable records are bad-type-info', () => {
      const b = small();
      const r = b.slice(); r[24 + 4 + 2] = 1;        // info bit 16
      expectCode(() => parseBtf(r), 'bad-type-info', /reserved bits/);
      const vl = b.slice(); vl[24 + 4] = 1;          // vlen 1 on an INT
      expectCode(() => parseBtf(vl), 'bad-type-info', /vlen 1/);
      const ib = b.slice(); ib[24 + 12 + 1] = 1;     // INT data bits 8-15
      expectCode(() => parseBtf(ib), 'bad-type-info', /INT data/);
    });
    it('a record running past the type section is truncated', () => {
      const b = small();
      const big = b.slice(); big[24 + 4 + 3] = KIND.STRUCT; big[24 + 4] = 0xff; big[24 + 5] = 0xff;
      expectCode(() => parseBtf(big), 'truncated', /type \[1\]: record needs/);
      const typeLen = new DataView(b.buffer).getUint32(12, true);
      // cut the type section mid-header: 6 bytes left
      const cut = new Uint8Array(24 + 6 + 1);
      cut.set(b.subarray(0, 24 + 6));
      new DataView(cut.buffer).setUint32(12, 6, true);
      new DataView(cut.buffer).setUint32(16, 6, true);
      new DataView(cut.buffer).setUint32(20, 1, true);
      expectCode(() => parseBtf(cut), 'truncated', /a type header needs 12/);
      assert.ok(typeLen > 0);
    });
    it('string and type lookups outside the chain are typed errors', () => {
      const btf = parseBtf(small());
      expectCode(() => btf.str(btf.strings.end), 'bad-string-offset');
      expectCode(() => btf.str(-1), 'bad-string-offset');
      expectCode(() => btf.type(btf.nextId), 'bad-type-id', /does not exist/);
      expectCode(() => btf.type(0), 'bad-type-id');
      expectCode(() => btf.levelOf(btf.nextId + 5), 'bad-type-id');
      assert.equal(btf.tryType(btf.nextId), undefined);
    });
    it('a corrupted vmlinux header never escapes as a raw error', () => {
      const raw = vmlinuxBytes();
      for (let off = 0; off < 24; off++) {
        for (const v of [0, 0x7f, 0xff]) {
          const c = raw.slice(0, 4096); c[off] = v;
          try { parseBtf(c); } catch (e) { assert.ok(e instanceof BtfError, `byte ${off}=${v}: ${String(e)}`); }
        }
      }
    });
  });

  it('parseHeader reports the layout', () => {
    const h = parseHeader(vmlinuxBytes());
    assert.equal(h.hdrLen, 24);
    assert.equal(h.typeOff, 0);
    assert.equal(h.strOff, h.typeLen);
  });
});
