/**
 * The loader's view of `struct module`, read from vmlinux BTF: `.gnu.linkonce.this_module` must be
 * exactly sizeof(struct module), and `name` (char[MODULE_NAME_LEN]) is where a module without
 * `name=` in .modinfo is named. Taking both from the running kernel's BTF means no kernel headers.
 */
import type { Btf } from '../btf/btf.js';
import { KIND } from '../btf/kinds.js';
import type { TypeId } from '../btf/types.js';
import { KmodError } from './errors.js';

export interface StructModuleLayout {
  /** sizeof(struct module). */
  readonly size: number;
  /** Byte offset of `name`. */
  readonly nameOffset: number;
  /** Length of the `name` array (MODULE_NAME_LEN, 56 on 64-bit). */
  readonly nameLength: number;
}

function skipTypedefs(btf: Btf, id: TypeId): TypeId {
  for (let n = 0; n < 32 && id !== 0; n++) {
    const t = btf.type(id);
    if (t.kind !== KIND.TYPEDEF && t.kind !== KIND.CONST && t.kind !== KIND.VOLATILE && t.kind !== KIND.TYPE_TAG) return id;
    id = t.type;
  }
  return id;
}

export function structModuleLayout(vmlinux: Btf): StructModuleLayout {
  const file = vmlinux.source;
  const ids = vmlinux.findByName('module', KIND.STRUCT);
  const id = ids.find((i) => { const t = vmlinux.type(i); return t.kind === KIND.STRUCT && t.size > 0; });
  if (id === undefined) throw new KmodError('no-struct-module', 'vmlinux BTF has no struct module (is this a vmlinux BTF?)', { file });
  const mod = vmlinux.type(id);
  if (mod.kind !== KIND.STRUCT) throw new KmodError('no-struct-module', 'struct module is not a struct', { file });
  const name = mod.members.find((m) => vmlinux.str(m.nameOff) === 'name');
  if (name === undefined) throw new KmodError('no-struct-module', `struct module [${id}] has no member 'name'`, { file }, { id });
  const bitOffset = mod.kflag ? name.offset & 0xffffff : name.offset;
  const arr = vmlinux.type(skipTypedefs(vmlinux, name.type));
  const bad = (why: string): KmodError => new KmodError('bad-struct-module', `struct module [${id}] member 'name': ${why}`, { file }, { id });
  if (arr.kind !== KIND.ARRAY) throw bad('is not an array');
  const elem = vmlinux.type(skipTypedefs(vmlinux, arr.elemType));
  if (elem.kind !== KIND.INT || elem.size !== 1) throw bad('is not an array of char');
  if (bitOffset % 8 !== 0) throw bad(`bit offset ${bitOffset} is not byte aligned`);
  const nameOffset = bitOffset / 8;
  if (arr.nelems < 2 || nameOffset + arr.nelems > mod.size) throw bad(`char[${arr.nelems}] at byte ${nameOffset} does not fit in ${mod.size} bytes`);
  return { size: mod.size, nameOffset, nameLength: arr.nelems };
}
