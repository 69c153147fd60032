/**
 * One hand-made broken BTF per validation rule (standalone unless the case says otherwise).
 * Each case starts from a small valid level and breaks exactly one thing; `rule` is what
 * validateBtf must report and `id` the type it must name (when the rule is about a type).
 */
import type { Btf } from '../../src/btf/btf.js';
import { BtfBuilder } from '../../src/btf/builder.js';
import { KIND } from '../../src/btf/kinds.js';
import type { ValidationRule } from '../../src/btf/validate.js';

export interface BrokenCase {
  rule: ValidationRule; what: string; id?: number; build: () => Btf;
  /** Our rule is stricter than (recent) kernels, which load this BTF: no kernel cross-check. */
  stricterThanKernel?: string;
}

/** int (1), struct s { int a; int b; } (2): what most cases extend. */
function base(): BtfBuilder {
  const b = new BtfBuilder();
  b.addInt('int', 4, 1);
  b.addStruct('s', 8);
  b.addField('a', 1, 0);
  b.addField('b', 1, 32);
  return b;
}

/** Appends a raw record and returns the builder's level. */
function withType(t: Parameters<BtfBuilder['addType']>[0], prep?: (b: BtfBuilder) => void): () => Btf {
  return () => { const b = base(); prep?.(b); b.addType(t); return b.finish(); };
}

export const BROKEN_CASES: readonly BrokenCase[] = [
  { rule: 'no-types', what: 'standalone level without types', build: () => new BtfBuilder().finish() },
  { rule: 'name-offset', what: 'struct name offset past the strings', id: 3,
    build: withType({ kind: KIND.STRUCT, nameOff: 1 << 20, kflag: false, size: 4, members: [] }) },
  { rule: 'name-offset', what: 'member name offset past the strings', id: 2,
    build: () => { const b = base(); const s = b.btf.type(2); if (s.kind === KIND.STRUCT) s.members[0]!.nameOff = 9999; return b.finish(); } },
  { rule: 'name-not-string-start', what: 'typedef name offset inside a string', id: 3, stricterThanKernel: 'the kernel accepts any offset inside the table',
    build: () => { const b = base(); const off = b.addStr('counter_t'); b.addType({ kind: KIND.TYPEDEF, nameOff: off + 2, kflag: false, type: 1 }); return b.finish(); } },
  { rule: 'name', what: 'typedef without a name', id: 3, build: withType({ kind: KIND.TYPEDEF, nameOff: 0, kflag: false, type: 1 }) },
  { rule: 'name', what: 'struct named with a space', id: 3, build: () => { const b = base(); b.addStruct('bad name', 4); return b.finish(); } },
  { rule: 'name', what: 'named pointer', id: 3, build: () => { const b = base(); b.addType({ kind: KIND.PTR, nameOff: b.addStr('p'), kflag: false, type: 1 }); return b.finish(); } },
  { rule: 'name', what: 'enumerator with a dot', id: 3, stricterThanKernel: 'Linux 6.1 rejects it; later kernels accept dots', build: () => { const b = base(); b.addEnum('e', 4); b.addEnumValue('A.B', 1); return b.finish(); } },
  { rule: 'name', what: 'FUNC name of 128 characters', id: 4, stricterThanKernel: 'KSYM_NAME_LEN is 512 since Linux 6.1; we keep the older 128',
    build: () => { const b = base(); const p = b.addFuncProto(0); b.addFunc('f'.repeat(128), p, 0); return b.finish(); } },
  { rule: 'kind-flag', what: 'kind_flag on a PTR', id: 3, build: withType({ kind: KIND.PTR, nameOff: 0, kflag: true, type: 1 }) },
  { rule: 'int-encoding', what: 'INT encoding SIGNED|CHAR', id: 3, build: () => { const b = base(); b.addInt('weird', 4, 3); return b.finish(); } },
  { rule: 'int-bits', what: 'INT of 33 bits in 4 bytes', id: 3, build: () => { const b = base(); b.addInt('wide', 4, 0, 33); return b.finish(); } },
  { rule: 'type-id', what: 'typedef of a type id past the end', id: 3, build: () => { const b = base(); b.addTypedef('t', 77); return b.finish(); } },
  { rule: 'type-id', what: 'DATASEC entry id past the end', id: 3,
    build: () => { const b = base(); b.addDatasec('.data', 8); b.addVarInfo(500, 0, 4); return b.finish(); } },
  { rule: 'void-ref', what: 'VAR of void', id: 3, build: () => { const b = base(); b.addVar('v', 0, 1); return b.finish(); } },
  { rule: 'array-index', what: 'ARRAY indexed by a struct', id: 3, build: () => { const b = base(); b.addArray(1, 2, 4); return b.finish(); } },
  { rule: 'array-elem', what: 'ARRAY of a FUNC_PROTO', id: 4, build: () => { const b = base(); const p = b.addFuncProto(0); b.addArray(p, 1, 4); return b.finish(); } },
  { rule: 'array-size', what: 'ARRAY of 2^31 ints', id: 3, build: () => { const b = base(); b.addArray(1, 1, 0x80000000); return b.finish(); } },
  { rule: 'member-type', what: 'member of FWD type', id: 4,
    build: () => { const b = base(); const f = b.addFwd('later', 'struct'); b.addStruct('m', 8); b.addField('x', f, 0); return b.finish(); } },
  { rule: 'member-offset', what: 'members out of order', id: 3,
    build: () => { const b = base(); b.addStruct('m', 8); b.addField('x', 1, 32); b.addField('y', 1, 0); return b.finish(); } },
  { rule: 'member-offset', what: 'union member at a non-zero offset', id: 3,
    build: () => { const b = base(); b.addUnion('u', 8); b.addField('x', 1, 32); return b.finish(); } },
  { rule: 'member-alignment', what: 'struct member at bit 4 without kind_flag', id: 3,
    build: withType({ kind: KIND.STRUCT, nameOff: 0, kflag: false, size: 8, members: [{ nameOff: 0, type: 2, offset: 4 }] }) },
  { rule: 'member-bitfield', what: 'bitfield of 40 bits in an int', id: 3,
    build: () => { const b = base(); b.addStruct('m', 8); b.addField('x', 1, 0, 40); return b.finish(); } },
  { rule: 'member-size', what: 'int member past the struct end', id: 3,
    build: () => { const b = base(); b.addStruct('m', 4); b.addField('x', 1, 0); b.addField('y', 1, 16); return b.finish(); } },
  { rule: 'enum-size', what: 'ENUM of 3 bytes', id: 3, build: () => { const b = base(); b.addEnum('e', 3); b.addEnumValue('A', 0); return b.finish(); } },
  { rule: 'float-size', what: 'FLOAT of 6 bytes', id: 3, build: () => { const b = base(); b.addFloat('f6', 6); return b.finish(); } },
  { rule: 'func-linkage', what: 'extern FUNC', id: 4, build: () => { const b = base(); const p = b.addFuncProto(1); b.addFunc('f', p, 2); return b.finish(); } },
  { rule: 'func-proto', what: 'FUNC pointing at an INT', id: 3, build: () => { const b = base(); b.addFunc('f', 1, 0); return b.finish(); } },
  { rule: 'func-arg-name', what: 'FUNC with an unnamed parameter', id: 4,
    build: () => { const b = base(); const p = b.addFuncProto(1); b.addParam('', 1); b.addFunc('f', p, 0); return b.finish(); } },
  { rule: 'proto-return', what: 'FUNC_PROTO returning a FWD', id: 4,
    build: () => { const b = base(); const f = b.addFwd('later', 'struct'); b.addFuncProto(f); return b.finish(); } },
  { rule: 'proto-arg', what: 'varargs marker not last', id: 3,
    build: () => { const b = base(); b.addFuncProto(1); b.addParam('', 0); b.addParam('x', 1); return b.finish(); } },
  { rule: 'var-linkage', what: 'extern VAR', id: 3, build: () => { const b = base(); b.addVar('v', 1, 2); return b.finish(); } },
  { rule: 'var-type', what: 'VAR of a FWD', id: 4, build: () => { const b = base(); const f = b.addFwd('later', 'struct'); b.addVar('v', f, 1); return b.finish(); } },
  { rule: 'datasec-size', what: 'DATASEC of size 0', id: 3, build: () => { const b = base(); b.addDatasec('.data', 0); return b.finish(); } },
  { rule: 'datasec-var', what: 'DATASEC entry pointing at an INT', id: 3,
    build: () => { const b = base(); b.addDatasec('.data', 8); b.addVarInfo(1, 0, 4); return b.finish(); } },
  { rule: 'datasec-overlap', what: 'overlapping DATASEC entries', id: 5,
    build: () => { const b = base(); const v1 = b.addVar('a1', 1, 1); const v2 = b.addVar('a2', 1, 1); b.addDatasec('.data', 16); b.addVarInfo(v1, 0, 4); b.addVarInfo(v2, 2, 4); return b.finish(); } },
  { rule: 'datasec-overlap', what: 'unsorted DATASEC entries', id: 5,
    build: () => { const b = base(); const v1 = b.addVar('a1', 1, 1); const v2 = b.addVar('a2', 1, 1); b.addDatasec('.data', 16); b.addVarInfo(v1, 8, 4); b.addVarInfo(v2, 0, 4); return b.finish(); } },
  { rule: 'datasec-bounds', what: 'DATASEC entry past the section end', id: 4,
    build: () => { const b = base(); const v1 = b.addVar('a1', 1, 1); b.addDatasec('.data', 6); b.addVarInfo(v1, 4, 4); return b.finish(); } },
  { rule: 'datasec-entry-size', what: 'DATASEC entry smaller than its struct', id: 4,
    build: () => { const b = base(); const v1 = b.addVar('a1', 2, 1); b.addDatasec('.data', 16); b.addVarInfo(v1, 0, 4); return b.finish(); } },
  { rule: 'decl-tag-value', what: 'DECL_TAG with an empty value', id: 3, build: withType({ kind: KIND.DECL_TAG, nameOff: 0, kflag: false, type: 2, componentIdx: -1 }) },
  { rule: 'decl-tag-target', what: 'DECL_TAG on an INT', id: 3, build: () => { const b = base(); b.addDeclTag('t', 1, -1); return b.finish(); } },
  { rule: 'decl-tag-component', what: 'DECL_TAG on member #5 of a 2-member struct', id: 3, build: () => { const b = base(); b.addDeclTag('t', 2, 5); return b.finish(); } },
  { rule: 'ref-target', what: 'CONST of a VAR', id: 4, build: () => { const b = base(); const v = b.addVar('v', 1, 1); b.addConst(v); return b.finish(); } },
  { rule: 'ref-target', what: 'PTR to a later FUNC', id: 2,
    build: () => { const b = new BtfBuilder(); b.addInt('int', 4, 1); b.addPtr(4); const p = b.addFuncProto(1); b.addFunc('f', p, 0); return b.finish(); } },
  { rule: 'ref-target', what: 'PTR to a DATASEC', id: 4,
    build: () => { const b = base(); b.addDatasec('.bss', 4); b.addPtr(3); return b.finish(); } },
  { rule: 'type-tag-order', what: 'TYPE_TAG after CONST', id: 3,
    build: () => { const b = base(); b.addConst(4); b.addTypeTag('user', 1); return b.finish(); } },
  { rule: 'modifier-chain', what: 'CONST -> VOLATILE -> CONST cycle', id: 3,
    build: () => { const b = base(); b.addConst(4); b.addVolatile(3); return b.finish(); } },
  { rule: 'loop', what: 'struct containing itself by value', id: 3,
    build: () => { const b = base(); b.addStruct('self', 8); b.addField('me', 3, 0); return b.finish(); } },
  { rule: 'loop', what: 'struct a contains typedef b of struct a', id: 3,
    build: () => { const b = base(); b.addStruct('a', 8); b.addField('x', 4, 0); b.addTypedef('b', 3); return b.finish(); } },
  { rule: 'loop', what: 'PTR -> CONST -> same PTR', id: 3,
    build: () => { const b = base(); b.addPtr(4); b.addConst(3); return b.finish(); } },
  // Each typedef refers to the next id, so resolving the first one nests 40 deep (as in the kernel).
  { rule: 'resolve-depth', what: '40 typedefs each referring forward to the next', id: 3,
    build: () => { const b = base(); for (let i = 0; i < 40; i++) b.addTypedef(`t${i}`, i === 39 ? 1 : 4 + i); return b.finish(); } },
  // 33 structs each holding the next by value: one more than the kernel's 32-deep resolve stack.
  { rule: 'resolve-depth', what: '33 nested structs', id: 2, build: () => nestedStructs(33) },
];

/** `n` structs s0..s(n-1), each containing the next by value, the last an int (ids 2..n+1). */
export function nestedStructs(n: number): Btf {
  const b = new BtfBuilder();
  b.addInt('int', 4, 1);
  for (let i = 0; i < n; i++) { b.addStruct(`s${i}`, 4); b.addField('m', i === n - 1 ? 1 : 3 + i, 0); }
  return b.finish();
}
