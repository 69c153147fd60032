/**
 * `bpftool btf dump file F [-B BASE]` text, byte for byte (bpftool 7.1): one "[id] KIND 'name' ..."
 * line per own type of the level, members on tab-indented lines. Names print as bpftool's
 * btf_str does: "(anon)" for offset 0, "(invalid)" for an offset no table holds.
 */
import type { Btf } from './btf.js';
import { KIND, KIND_NAME } from './kinds.js';
import type { BtfType, StrOff } from './types.js';

const INT_ENCODING: Readonly<Record<number, string>> = { 0: '(none)', 1: 'SIGNED', 2: 'CHAR', 4: 'BOOL' };
const FUNC_LINKAGE_NAME: readonly string[] = ['static', 'global', 'extern'];
const VAR_LINKAGE_NAME: readonly string[] = ['static', 'global', 'extern'];

/** bpftool's btf_str. */
export function bpftoolName(btf: Btf, off: StrOff): string {
  if (off === 0) return '(anon)';
  if (off >= btf.strings.end) return '(invalid)';
  try { return btf.str(off); } catch { return '(invalid)'; }
}

export function dumpRawType(btf: Btf, id: number, t: BtfType): string {
  const name = (off: StrOff): string => bpftoolName(btf, off);
  let s = `[${id}] ${KIND_NAME[t.kind]} '${name(t.nameOff)}'`;
  switch (t.kind) {
    case KIND.INT:
      s += ` size=${t.size} bits_offset=${t.bitOffset} nr_bits=${t.bits} encoding=${INT_ENCODING[t.encoding & 0x0f] ?? 'UNKN'}`;
      break;
    case KIND.PTR: case KIND.CONST: case KIND.VOLATILE: case KIND.RESTRICT: case KIND.TYPEDEF: case KIND.TYPE_TAG:
      s += ` type_id=${t.type}`;
      break;
    case KIND.ARRAY:
      s += ` type_id=${t.elemType} index_type_id=${t.indexType} nr_elems=${t.nelems}`;
      break;
    case KIND.STRUCT: case KIND.UNION:
      s += ` size=${t.size} vlen=${t.members.length}`;
      for (const m of t.members) {
        const bitOff = t.kflag ? m.offset & 0xffffff : m.offset;
        const bitSize = t.kflag ? m.offset >>> 24 : 0;
        s += `\n\t'${name(m.nameOff)}' type_id=${m.type} bits_offset=${bitOff}`;
        if (bitSize !== 0) s += ` bitfield_size=${bitSize}`;
      }
      break;
    case KIND.ENUM:
      s += ` encoding=${t.kflag ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`;
      for (const v of t.values) s += `\n\t'${name(v.nameOff)}' val=${t.kflag ? v.value | 0 : v.value >>> 0}`;
      break;
    case KIND.ENUM64:
      s += ` encoding=${t.kflag ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`;
      for (const v of t.values) {
        s += t.kflag ? `\n\t'${name(v.nameOff)}' val=${BigInt.asIntN(64, v.value)}LL` : `\n\t'${name(v.nameOff)}' val=${BigInt.asUintN(64, v.value)}ULL`;
      }
      break;
    case KIND.FWD:
      s += ` fwd_kind=${t.kflag ? 'union' : 'struct'}`;
      break;
    case KIND.FUNC:
      s += ` type_id=${t.type} linkage=${FUNC_LINKAGE_NAME[t.linkage] ?? '(unknown)'}`;
      break;
    case KIND.FUNC_PROTO:
      s += ` ret_type_id=${t.returnType} vlen=${t.params.length}`;
      for (const p of t.params) s += `\n\t'${name(p.nameOff)}' type_id=${p.type}`;
      break;
    case KIND.VAR:
      s += ` type_id=${t.type}, linkage=${VAR_LINKAGE_NAME[t.linkage] ?? '(unknown)'}`;
      break;
    case KIND.DATASEC:
      s += ` size=${t.size} vlen=${t.vars.length}`;
      for (const v of t.vars) {
        s += `\n\ttype_id=${v.type} offset=${v.offset} size=${v.size}`;
        const vt = btf.tryType(v.type);
        if (vt !== undefined) s += ` (${KIND_NAME[vt.kind]} '${name(vt.nameOff)}')`;
      }
      break;
    case KIND.FLOAT:
      s += ` size=${t.size}`;
      break;
    case KIND.DECL_TAG:
      s += ` type_id=${t.type} component_idx=${t.componentIdx}`;
      break;
  }
  return s;
}

/** The whole dump of `btf`'s own level (what bpftool prints with the base given by -B). */
export function dumpRaw(btf: Btf): string {
  const parts: string[] = new Array<string>(btf.types.length);
  for (let i = 0; i < btf.types.length; i++) parts[i] = dumpRawType(btf, btf.startId + i, btf.types[i]!);
  return parts.length === 0 ? '' : `${parts.join('\n')}\n`;
}
