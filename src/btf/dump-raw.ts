/**
 * `bpftool btf dump file F [-B BASE]` text, byte for byte (bpftool 7.1): one "[id] KIND 'name' ..."
 * line per own type of the level, members on tab-indented lines. Names print as bpftool's
 * btf_str does: "(anon)" for offset 0, "(invalid)" for an offset no table holds.
 *
 * The text is assembled as bytes (names copied straight from the string tables, numbers
 * formatted by hand), like bpftool's printf, instead of as 200k JS strings: the vmlinux dump
 * is ~10 MB and string building dominated its cost.
 */
import type { Btf } from './btf.js';
import { KIND, KIND_NAME, encodeType, encodedSize, recordSize, type Kind } from './kinds.js';
import { typeWords } from './write.js';
import type { BtfType, StrOff } from './types.js';

const INT_ENCODING: Readonly<Record<number, string>> = { 0: '(none)', 1: 'SIGNED', 2: 'CHAR', 4: 'BOOL' };
const FUNC_LINKAGE_NAME: readonly string[] = ['static', 'global', 'extern'];
const VAR_LINKAGE_NAME: readonly string[] = ['static', 'global', 'extern'];

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** bpftool's btf_str. */
export function bpftoolName(btf: Btf, off: StrOff): string {
  if (off === 0) return '(anon)';
  if (off >= btf.strings.end) return '(invalid)';
  try { return btf.str(off); } catch { return '(invalid)'; }
}

/** Growable byte buffer with ASCII/number writers. */
class Out {
  buf: Uint8Array;
  len = 0;

  constructor(capacity: number) { this.buf = new Uint8Array(capacity); }

  grow(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }

  /** ASCII text (all fixed strings and numbers here are ASCII). */
  ascii(s: string): void {
    this.grow(s.length);
    const b = this.buf;
    let p = this.len;
    for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
    this.len = p;
  }

  /** Unsigned decimal of a non-negative safe integer. */
  num(v: number): void {
    this.grow(21);
    const b = this.buf;
    if (v < 0) { b[this.len++] = 0x2d; v = -v; }
    if (v < 10) { b[this.len++] = 0x30 + v; return; }
    let digits = 1;
    for (let x = v; x >= 10; x = Math.floor(x / 10)) digits++;
    let p = this.len + digits;
    this.len = p;
    for (let x = v; x > 0; x = Math.floor(x / 10)) b[--p] = 0x30 + (x % 10);
  }

  byte(c: number): void { this.grow(1); this.buf[this.len++] = c; }
}

/** Writes bpftool's btf_str(off) between quotes: the raw bytes of the string. */
function name(out: Out, btf: Btf, off: StrOff): void {
  out.byte(0x27);
  if (off === 0) out.ascii('(anon)');
  else if (off < 0 || off >= btf.strings.end) out.ascii('(invalid)');
  else {
    const table = btf.levelOfStr(off).strings;
    const bytes = table.backing();
    const limit = table.length;
    let i = off - table.start;
    out.grow(limit - i < 256 ? limit - i : 256);
    // Copy up to the NUL (names are short: a byte loop beats indexOf + subarray + set).
    for (; i < limit; i++) {
      const c = bytes[i]!;
      if (c === 0) break;
      if (out.len === out.buf.length) out.grow(1);
      out.buf[out.len++] = c;
    }
  }
  out.byte(0x27);
}

/** One record (at word `p` of `W`), as bpftool prints it. */
function dumpType(out: Out, btf: Btf, id: number, W: Uint32Array, p: number): void {
  const info = W[p + 1]!;
  const kind = ((info >>> 24) & 0x1f) as Kind;
  const kflag = (info & 0x80000000) !== 0;
  const vlen = info & 0xffff;
  const st = W[p + 2]!;
  out.byte(0x5b); out.num(id); out.ascii('] '); out.ascii(KIND_NAME[kind] ?? 'UNKNOWN'); out.byte(0x20);
  name(out, btf, W[p]!);
  let q = p + 3;
  switch (kind) {
    case KIND.INT: {
      const data = W[q]!;
      out.ascii(' size='); out.num(st);
      out.ascii(' bits_offset='); out.num((data >>> 16) & 0xff);
      out.ascii(' nr_bits='); out.num(data & 0xff);
      out.ascii(' encoding='); out.ascii(INT_ENCODING[(data >>> 24) & 0x0f] ?? 'UNKN');
      break;
    }
    case KIND.PTR: case KIND.CONST: case KIND.VOLATILE: case KIND.RESTRICT: case KIND.TYPEDEF: case KIND.TYPE_TAG:
      out.ascii(' type_id='); out.num(st);
      break;
    case KIND.ARRAY:
      out.ascii(' type_id='); out.num(W[q]!);
      out.ascii(' index_type_id='); out.num(W[q + 1]!);
      out.ascii(' nr_elems='); out.num(W[q + 2]!);
      break;
    case KIND.STRUCT: case KIND.UNION:
      out.ascii(' size='); out.num(st); out.ascii(' vlen='); out.num(vlen);
      for (let i = 0; i < vlen; i++, q += 3) {
        const off = W[q + 2]!;
        const bitSize = kflag ? off >>> 24 : 0;
        out.ascii('\n\t'); name(out, btf, W[q]!);
        out.ascii(' type_id='); out.num(W[q + 1]!);
        out.ascii(' bits_offset='); out.num(kflag ? off & 0xffffff : off);
        if (bitSize !== 0) { out.ascii(' bitfield_size='); out.num(bitSize); }
      }
      break;
    case KIND.ENUM:
      out.ascii(kflag ? ' encoding=SIGNED size=' : ' encoding=UNSIGNED size='); out.num(st);
      out.ascii(' vlen='); out.num(vlen);
      for (let i = 0; i < vlen; i++, q += 2) {
        out.ascii('\n\t'); name(out, btf, W[q]!);
        out.ascii(' val='); out.num(kflag ? W[q + 1]! | 0 : W[q + 1]!);
      }
      break;
    case KIND.ENUM64:
      out.ascii(kflag ? ' encoding=SIGNED size=' : ' encoding=UNSIGNED size='); out.num(st);
      out.ascii(' vlen='); out.num(vlen);
      for (let i = 0; i < vlen; i++, q += 3) {
        out.ascii('\n\t'); name(out, btf, W[q]!);
        const u = (BigInt(W[q + 2]!) << 32n) | BigInt(W[q + 1]!);
        out.ascii(kflag ? ` val=${BigInt.asIntN(64, u)}LL` : ` val=${u}ULL`);
      }
      break;
    case KIND.FWD:
      out.ascii(kflag ? ' fwd_kind=union' : ' fwd_kind=struct');
      break;
    case KIND.FUNC:
      out.ascii(' type_id='); out.num(st);
      out.ascii(' linkage='); out.ascii(FUNC_LINKAGE_NAME[vlen] ?? '(unknown)');
      break;
    case KIND.FUNC_PROTO:
      out.ascii(' ret_type_id='); out.num(st); out.ascii(' vlen='); out.num(vlen);
      for (let i = 0; i < vlen; i++, q += 2) {
        out.ascii('\n\t'); name(out, btf, W[q]!);
        out.ascii(' type_id='); out.num(W[q + 1]!);
      }
      break;
    case KIND.VAR:
      out.ascii(' type_id='); out.num(st);
      out.ascii(', linkage='); out.ascii(VAR_LINKAGE_NAME[W[q]!] ?? '(unknown)');
      break;
    case KIND.DATASEC:
      out.ascii(' size='); out.num(st); out.ascii(' vlen='); out.num(vlen);
      for (let i = 0; i < vlen; i++, q += 3) {
        const v = W[q]!;
        out.ascii('\n\ttype_id='); out.num(v);
        out.ascii(' offset='); out.num(W[q + 1]!);
        out.ascii(' size='); out.num(W[q + 2]!);
        const vk = btf.kindOf(v);
        if (vk !== undefined) { out.ascii(' ('); out.ascii(KIND_NAME[vk]); out.byte(0x20); name(out, btf, btf.nameOffOf(v)!); out.byte(0x29); }
      }
      break;
    case KIND.FLOAT:
      out.ascii(' size='); out.num(st);
      break;
    case KIND.DECL_TAG:
      out.ascii(' type_id='); out.num(st);
      out.ascii(' component_idx='); out.num(W[q]! | 0);
      break;
  }
  out.byte(0x0a);
}

/** The dump as bytes (what bpftool writes), for writing to a file or stdout without re-encoding. */
export function dumpRawBytes(btf: Btf): Uint8Array {
  const W = typeWords(btf);
  const out = new Out(Math.max(256, W.length * 8));
  for (let i = 0, p = 0; p < W.length; i++) {
    dumpType(out, btf, btf.startId + i, W, p);
    const info = W[p + 1]!;
    p += recordSize(((info >>> 24) & 0x1f) as Exclude<Kind, 0>, info & 0xffff) >>> 2;
  }
  return out.buf.subarray(0, out.len);
}

/** One type's dump text (without the trailing newline). */
export function dumpRawType(btf: Btf, id: number, t: BtfType): string {
  const W = new Uint32Array(encodedSize(t) >>> 2);
  encodeType(t, W, 0);
  const out = new Out(256);
  dumpType(out, btf, id, W, 0);
  return utf8.decode(out.buf.subarray(0, out.len - 1));
}

/** The whole dump of `btf`'s own level (what bpftool prints with the base given by -B). */
export function dumpRaw(btf: Btf): string {
  return utf8.decode(dumpRawBytes(btf));
}
