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
import { KIND, KIND_NAME } from './kinds.js';
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

function dumpType(out: Out, btf: Btf, id: number, t: BtfType): void {
  out.byte(0x5b); out.num(id); out.ascii('] '); out.ascii(KIND_NAME[t.kind]); out.byte(0x20);
  name(out, btf, t.nameOff);
  switch (t.kind) {
    case KIND.INT:
      out.ascii(' size='); out.num(t.size);
      out.ascii(' bits_offset='); out.num(t.bitOffset);
      out.ascii(' nr_bits='); out.num(t.bits);
      out.ascii(' encoding='); out.ascii(INT_ENCODING[t.encoding & 0x0f] ?? 'UNKN');
      break;
    case KIND.PTR: case KIND.CONST: case KIND.VOLATILE: case KIND.RESTRICT: case KIND.TYPEDEF: case KIND.TYPE_TAG:
      out.ascii(' type_id='); out.num(t.type);
      break;
    case KIND.ARRAY:
      out.ascii(' type_id='); out.num(t.elemType);
      out.ascii(' index_type_id='); out.num(t.indexType);
      out.ascii(' nr_elems='); out.num(t.nelems);
      break;
    case KIND.STRUCT: case KIND.UNION:
      out.ascii(' size='); out.num(t.size); out.ascii(' vlen='); out.num(t.members.length);
      for (const m of t.members) {
        const bitSize = t.kflag ? m.offset >>> 24 : 0;
        out.ascii('\n\t'); name(out, btf, m.nameOff);
        out.ascii(' type_id='); out.num(m.type);
        out.ascii(' bits_offset='); out.num(t.kflag ? m.offset & 0xffffff : m.offset);
        if (bitSize !== 0) { out.ascii(' bitfield_size='); out.num(bitSize); }
      }
      break;
    case KIND.ENUM:
      out.ascii(t.kflag ? ' encoding=SIGNED size=' : ' encoding=UNSIGNED size='); out.num(t.size);
      out.ascii(' vlen='); out.num(t.values.length);
      for (const v of t.values) {
        out.ascii('\n\t'); name(out, btf, v.nameOff);
        out.ascii(' val='); out.num(t.kflag ? v.value | 0 : v.value >>> 0);
      }
      break;
    case KIND.ENUM64:
      out.ascii(t.kflag ? ' encoding=SIGNED size=' : ' encoding=UNSIGNED size='); out.num(t.size);
      out.ascii(' vlen='); out.num(t.values.length);
      for (const v of t.values) {
        out.ascii('\n\t'); name(out, btf, v.nameOff);
        out.ascii(t.kflag ? ` val=${BigInt.asIntN(64, v.value)}LL` : ` val=${BigInt.asUintN(64, v.value)}ULL`);
      }
      break;
    case KIND.FWD:
      out.ascii(t.kflag ? ' fwd_kind=union' : ' fwd_kind=struct');
      break;
    case KIND.FUNC:
      out.ascii(' type_id='); out.num(t.type);
      out.ascii(' linkage='); out.ascii(FUNC_LINKAGE_NAME[t.linkage] ?? '(unknown)');
      break;
    case KIND.FUNC_PROTO:
      out.ascii(' ret_type_id='); out.num(t.returnType); out.ascii(' vlen='); out.num(t.params.length);
      for (const p of t.params) {
        out.ascii('\n\t'); name(out, btf, p.nameOff);
        out.ascii(' type_id='); out.num(p.type);
      }
      break;
    case KIND.VAR:
      out.ascii(' type_id='); out.num(t.type);
      out.ascii(', linkage='); out.ascii(VAR_LINKAGE_NAME[t.linkage] ?? '(unknown)');
      break;
    case KIND.DATASEC:
      out.ascii(' size='); out.num(t.size); out.ascii(' vlen='); out.num(t.vars.length);
      for (const v of t.vars) {
        out.ascii('\n\ttype_id='); out.num(v.type);
        out.ascii(' offset='); out.num(v.offset);
        out.ascii(' size='); out.num(v.size);
        const vt = btf.tryType(v.type);
        if (vt !== undefined) { out.ascii(' ('); out.ascii(KIND_NAME[vt.kind]); out.byte(0x20); name(out, btf, vt.nameOff); out.byte(0x29); }
      }
      break;
    case KIND.FLOAT:
      out.ascii(' size='); out.num(t.size);
      break;
    case KIND.DECL_TAG:
      out.ascii(' type_id='); out.num(t.type);
      out.ascii(' component_idx='); out.num(t.componentIdx);
      break;
  }
  out.byte(0x0a);
}

/** The dump as bytes (what bpftool writes), for writing to a file or stdout without re-encoding. */
export function dumpRawBytes(btf: Btf): Uint8Array {
  const out = new Out(Math.max(256, btf.types.length * 96));
  for (let i = 0; i < btf.types.length; i++) dumpType(out, btf, btf.startId + i, btf.types[i]!);
  return out.buf.subarray(0, out.len);
}

/** One type's dump text (without the trailing newline). */
export function dumpRawType(btf: Btf, id: number, t: BtfType): string {
  const out = new Out(256);
  dumpType(out, btf, id, t);
  return utf8.decode(out.buf.subarray(0, out.len - 1));
}

/** The whole dump of `btf`'s own level (what bpftool prints with the base given by -B). */
export function dumpRaw(btf: Btf): string {
  return utf8.decode(dumpRawBytes(btf));
}
