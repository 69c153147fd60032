/**
 * Builds a BTF level in the manner of libbpf's btf__add_* API: each add returns the new type's
 * absolute id (void = 0), strings reuse any ancestor's copy, and "member" calls (addField,
 * addEnumValue, addParam, addVarInfo) extend the type added last. Starts empty, standalone or on
 * top of any base chain. Records are checked only as far as the encoding needs (field widths);
 * whether the result is valid BTF is validate.ts's question.
 */
import { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { BTF_MAX_VLEN, KIND } from './kinds.js';
import type { BtfType, StrOff, TypeId } from './types.js';

export type FwdKind = 'struct' | 'union' | 'enum';

const U32_MAX = 0xffffffff;

export class BtfBuilder {
  readonly btf: Btf;

  constructor(opts: { base?: Btf | undefined; source?: string | undefined } = {}) {
    this.btf = new Btf({ base: opts.base, source: opts.source });
  }

  /** Id the next add will return. */
  get nextId(): TypeId { return this.btf.nextId; }

  addStr(s: string): StrOff { return this.btf.addStr(s); }

  /** Raw append of a record with absolute ids and string offsets. */
  addType(t: BtfType): TypeId { return this.btf.addType(t); }

  addInt(name: string, byteSize: number, encoding = 0, bits = byteSize * 8, bitOffset = 0): TypeId {
    u32(byteSize, 'INT size');
    if (bits > 255 || bitOffset > 255 || encoding > 15) throw misuse(`INT bits ${bits}/offset ${bitOffset}/encoding ${encoding} out of range`);
    return this.add({ kind: KIND.INT, nameOff: this.addStr(name), kflag: false, size: byteSize, encoding, bitOffset, bits });
  }

  addPtr(ref: TypeId): TypeId { return this.ref(KIND.PTR, '', ref); }
  addTypedef(name: string, ref: TypeId): TypeId { return this.ref(KIND.TYPEDEF, name, ref); }
  addVolatile(ref: TypeId): TypeId { return this.ref(KIND.VOLATILE, '', ref); }
  addConst(ref: TypeId): TypeId { return this.ref(KIND.CONST, '', ref); }
  addRestrict(ref: TypeId): TypeId { return this.ref(KIND.RESTRICT, '', ref); }
  addTypeTag(value: string, ref: TypeId): TypeId { return this.ref(KIND.TYPE_TAG, value, ref); }

  addArray(elem: TypeId, index: TypeId, nelems: number): TypeId {
    u32(elem, 'element type'); u32(index, 'index type'); u32(nelems, 'nelems');
    return this.add({ kind: KIND.ARRAY, nameOff: 0, kflag: false, elemType: elem, indexType: index, nelems });
  }

  addStruct(name: string, size: number): TypeId {
    u32(size, 'struct size');
    return this.add({ kind: KIND.STRUCT, nameOff: this.addStr(name), kflag: false, size, members: [] });
  }

  addUnion(name: string, size: number): TypeId {
    u32(size, 'union size');
    return this.add({ kind: KIND.UNION, nameOff: this.addStr(name), kflag: false, size, members: [] });
  }

  /** Adds a member to the last struct/union; a bitfield (or non-byte-aligned field) sets kind_flag, as libbpf does. */
  addField(name: string, type: TypeId, bitOffset: number, bitfieldSize = 0): void {
    const t = this.last('addField');
    if (t.kind !== KIND.STRUCT && t.kind !== KIND.UNION) throw misuse('addField: last type is not a struct or union');
    const isBitfield = bitfieldSize !== 0 || bitOffset % 8 !== 0;
    if (isBitfield && (bitfieldSize > 255 || bitOffset >= 1 << 24)) throw misuse(`addField: bitfield ${bitfieldSize} at ${bitOffset} does not fit the encoding`);
    u32(bitOffset, 'member bit offset');
    vlen(t.members.length);
    t.members.push({ nameOff: this.addStr(name), type, offset: (bitOffset | (bitfieldSize << 24)) >>> 0 });
    if (isBitfield) t.kflag = true;
  }

  /** ENUM of `size` bytes; `signed` sets kind_flag (also set by the first negative value). */
  addEnum(name: string, size = 4, signed = false): TypeId {
    return this.add({ kind: KIND.ENUM, nameOff: this.addStr(name), kflag: signed, size, values: [] });
  }

  addEnumValue(name: string, value: number): void {
    const t = this.last('addEnumValue');
    if (t.kind !== KIND.ENUM) throw misuse('addEnumValue: last type is not an ENUM');
    if (!Number.isInteger(value) || value < -0x80000000 || value > U32_MAX) throw misuse(`addEnumValue: ${value} does not fit 32 bits`);
    vlen(t.values.length);
    if (value < 0) t.kflag = true;
    t.values.push({ nameOff: this.addStr(name), value });
  }

  addEnum64(name: string, size = 8, signed = false): TypeId {
    return this.add({ kind: KIND.ENUM64, nameOff: this.addStr(name), kflag: signed, size, values: [] });
  }

  addEnum64Value(name: string, value: bigint): void {
    const t = this.last('addEnum64Value');
    if (t.kind !== KIND.ENUM64) throw misuse('addEnum64Value: last type is not an ENUM64');
    if (value < -(1n << 63n) || value >= 1n << 64n) throw misuse(`addEnum64Value: ${value} does not fit 64 bits`);
    vlen(t.values.length);
    if (value < 0n) t.kflag = true;
    t.values.push({ nameOff: this.addStr(name), value });
  }

  /** Forward declaration; an enum forward is an ENUM with no values (as libbpf encodes it). */
  addFwd(name: string, kind: FwdKind): TypeId {
    if (kind === 'enum') return this.add({ kind: KIND.ENUM, nameOff: this.addStr(name), kflag: false, size: 4, values: [] });
    return this.add({ kind: KIND.FWD, nameOff: this.addStr(name), kflag: kind === 'union' });
  }

  addFunc(name: string, proto: TypeId, linkage = 0): TypeId {
    if (linkage < 0 || linkage > 2) throw misuse(`addFunc: linkage ${linkage}`);
    u32(proto, 'function prototype');
    return this.add({ kind: KIND.FUNC, nameOff: this.addStr(name), kflag: false, type: proto, linkage });
  }

  addFuncProto(ret: TypeId): TypeId {
    u32(ret, 'return type');
    return this.add({ kind: KIND.FUNC_PROTO, nameOff: 0, kflag: false, returnType: ret, params: [] });
  }

  /** Adds a parameter to the last FUNC_PROTO; ('', 0) marks varargs. */
  addParam(name: string, type: TypeId): void {
    const t = this.last('addParam');
    if (t.kind !== KIND.FUNC_PROTO) throw misuse('addParam: last type is not a FUNC_PROTO');
    u32(type, 'parameter type');
    vlen(t.params.length);
    t.params.push({ nameOff: this.addStr(name), type });
  }

  addVar(name: string, type: TypeId, linkage = 0): TypeId {
    u32(type, 'variable type'); u32(linkage, 'linkage');
    return this.add({ kind: KIND.VAR, nameOff: this.addStr(name), kflag: false, type, linkage });
  }

  addDatasec(name: string, size = 0): TypeId {
    u32(size, 'DATASEC size');
    return this.add({ kind: KIND.DATASEC, nameOff: this.addStr(name), kflag: false, size, vars: [] });
  }

  /** Adds a variable to the last DATASEC (entries are kept in call order: sort before adding). */
  addVarInfo(varId: TypeId, offset: number, size: number): void {
    const t = this.last('addVarInfo');
    if (t.kind !== KIND.DATASEC) throw misuse('addVarInfo: last type is not a DATASEC');
    u32(varId, 'variable id'); u32(offset, 'offset'); u32(size, 'size');
    vlen(t.vars.length);
    t.vars.push({ type: varId, offset, size });
  }

  addDeclTag(value: string, ref: TypeId, componentIdx = -1): TypeId {
    if (!Number.isInteger(componentIdx) || componentIdx < -1 || componentIdx > 0x7fffffff) throw misuse(`addDeclTag: component index ${componentIdx}`);
    u32(ref, 'tagged type');
    return this.add({ kind: KIND.DECL_TAG, nameOff: this.addStr(value), kflag: false, type: ref, componentIdx });
  }

  addFloat(name: string, size: number): TypeId {
    u32(size, 'FLOAT size');
    return this.add({ kind: KIND.FLOAT, nameOff: this.addStr(name), kflag: false, size });
  }

  /** The level built so far (the builder stays usable; further adds extend the same level). */
  finish(): Btf { return this.btf; }

  private ref(kind: typeof KIND.PTR | typeof KIND.TYPEDEF | typeof KIND.VOLATILE | typeof KIND.CONST | typeof KIND.RESTRICT | typeof KIND.TYPE_TAG,
    name: string, ref: TypeId): TypeId {
    u32(ref, 'referenced type');
    return this.add({ kind, nameOff: name === '' ? 0 : this.addStr(name), kflag: false, type: ref });
  }

  private add(t: BtfType): TypeId { return this.btf.addType(t); }

  private last(op: string): BtfType {
    const t = this.btf.types[this.btf.types.length - 1];
    if (t === undefined) throw misuse(`${op}: no type added yet on this level`);
    return t;
  }
}

function misuse(what: string): BtfError { return new BtfError('builder-misuse', what); }
function u32(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > U32_MAX) throw new BtfError('too-large', `${what} ${v} does not fit a u32`);
}
function vlen(n: number): void {
  if (n >= BTF_MAX_VLEN) throw new BtfError('too-large', `more than ${BTF_MAX_VLEN} entries in one type`);
}
