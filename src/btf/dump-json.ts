/**
 * JSON dump in the shape of `bpftool -j btf dump file F [-B BASE]` (same keys, same order, one
 * object per own type), except that unsigned 32-bit ENUM values print as unsigned (bpftool 7.1
 * sign-extends values >= 2^31 to 64 bits). 64-bit values are written as exact integer literals.
 */
import type { Btf } from './btf.js';
import { bpftoolName } from './dump-raw.js';
import { KIND, KIND_NAME } from './kinds.js';
import type { BtfType } from './types.js';

const INT_ENCODING: Readonly<Record<number, string>> = { 0: '(none)', 1: 'SIGNED', 2: 'CHAR', 4: 'BOOL' };
const LINKAGE: readonly string[] = ['static', 'global', 'extern'];

const str = (s: string): string => JSON.stringify(s);

export function dumpJsonType(btf: Btf, id: number, t: BtfType): string {
  const name = (off: number): string => str(bpftoolName(btf, off));
  let s = `{"id":${id},"kind":${str(KIND_NAME[t.kind])},"name":${name(t.nameOff)}`;
  switch (t.kind) {
    case KIND.INT:
      s += `,"size":${t.size},"bits_offset":${t.bitOffset},"nr_bits":${t.bits},"encoding":${str(INT_ENCODING[t.encoding & 0x0f] ?? 'UNKN')}`;
      break;
    case KIND.PTR: case KIND.CONST: case KIND.VOLATILE: case KIND.RESTRICT: case KIND.TYPEDEF: case KIND.TYPE_TAG:
      s += `,"type_id":${t.type}`;
      break;
    case KIND.ARRAY:
      s += `,"type_id":${t.elemType},"index_type_id":${t.indexType},"nr_elems":${t.nelems}`;
      break;
    case KIND.STRUCT: case KIND.UNION:
      s += `,"size":${t.size},"vlen":${t.members.length},"members":[${t.members.map((m) => {
        const bitSize = t.kflag ? m.offset >>> 24 : 0;
        return `{"name":${name(m.nameOff)},"type_id":${m.type},"bits_offset":${t.kflag ? m.offset & 0xffffff : m.offset}${bitSize ? `,"bitfield_size":${bitSize}` : ''}}`;
      }).join(',')}]`;
      break;
    case KIND.ENUM:
      s += `,"encoding":${str(t.kflag ? 'SIGNED' : 'UNSIGNED')},"size":${t.size},"vlen":${t.values.length},"values":[${t.values.map((v) =>
        `{"name":${name(v.nameOff)},"val":${t.kflag ? v.value | 0 : v.value >>> 0}}`).join(',')}]`;
      break;
    case KIND.ENUM64:
      s += `,"encoding":${str(t.kflag ? 'SIGNED' : 'UNSIGNED')},"size":${t.size},"vlen":${t.values.length},"values":[${t.values.map((v) =>
        `{"name":${name(v.nameOff)},"val":${t.kflag ? BigInt.asIntN(64, v.value) : BigInt.asUintN(64, v.value)}}`).join(',')}]`;
      break;
    case KIND.FWD:
      s += `,"fwd_kind":${str(t.kflag ? 'union' : 'struct')}`;
      break;
    case KIND.FUNC:
      s += `,"type_id":${t.type},"linkage":${str(LINKAGE[t.linkage] ?? '(unknown)')}`;
      break;
    case KIND.FUNC_PROTO:
      s += `,"ret_type_id":${t.returnType},"vlen":${t.params.length},"params":[${t.params.map((p) => `{"name":${name(p.nameOff)},"type_id":${p.type}}`).join(',')}]`;
      break;
    case KIND.VAR:
      s += `,"type_id":${t.type},"linkage":${str(LINKAGE[t.linkage] ?? '(unknown)')}`;
      break;
    case KIND.DATASEC:
      s += `,"size":${t.size},"vlen":${t.vars.length},"vars":[${t.vars.map((v) => `{"type_id":${v.type},"offset":${v.offset},"size":${v.size}}`).join(',')}]`;
      break;
    case KIND.FLOAT:
      s += `,"size":${t.size}`;
      break;
    case KIND.DECL_TAG:
      s += `,"type_id":${t.type},"component_idx":${t.componentIdx}`;
      break;
  }
  return `${s}}`;
}

/** `{"types":[...]}` for the own level, one line. */
export function dumpJson(btf: Btf): string {
  const parts = new Array<string>(btf.types.length);
  for (let i = 0; i < btf.types.length; i++) parts[i] = dumpJsonType(btf, btf.startId + i, btf.types[i]!);
  return `{"types":[${parts.join(',')}]}\n`;
}
