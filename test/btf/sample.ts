/**
 * Hand-built BTF used across the BTF tests: one level with every kind and kind_flag case
 * (bitfields, signed enums, union forward, varargs, decl/type tags), written so that it is
 * also valid for the kernel, and a 3-level chain (base -> mid -> top) for split-on-split tests.
 */
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import type { Btf } from '../../src/btf/btf.js';
import { BtfBuilder } from '../../src/btf/builder.js';
import { parseBtf } from '../../src/btf/parse.js';
import { fixture } from '../support/paths.js';

/** Standalone BTF with all 19 kinds; returns the builder's level. */
export function allKinds(): Btf {
  const b = new BtfBuilder();
  const int = b.addInt('int', 4, 1);                        // 1
  const uchar = b.addInt('unsigned char', 1, 0);            // 2
  const char = b.addInt('char', 1, 2);                      // 3
  const bool = b.addInt('_Bool', 1, 4);                     // 4
  const ptrVoid = b.addPtr(0);                              // 5
  const arr = b.addArray(char, int, 16);                    // 6
  const s = b.addStruct('point', 12);                       // 7
  b.addField('x', int, 0);
  b.addField('y', int, 32);
  b.addField('flags', uchar, 64, 3);
  b.addField('on', bool, 67, 1);
  const u = b.addUnion('value', 8);                         // 8
  b.addField('i', int, 0);
  b.addField('p', ptrVoid, 0);
  const e = b.addEnum('color', 4);                          // 9
  b.addEnumValue('RED', 0);
  b.addEnumValue('BLUE', 0xfffffffe);
  const se = b.addEnum('delta', 4);                         // 10
  b.addEnumValue('MINUS', -1);
  b.addEnumValue('PLUS', 1);
  b.addFwd('opaque', 'struct');                             // 11
  b.addFwd('either', 'union');                              // 12
  const td = b.addTypedef('point_t', s);                    // 13
  const vol = b.addVolatile(int);                           // 14
  const cst = b.addConst(char);                             // 15
  const cstPtr = b.addPtr(cst);                             // 16
  b.addRestrict(cstPtr);                                    // 17
  const proto = b.addFuncProto(int);                        // 18
  b.addParam('fmt', cstPtr);
  b.addParam('', 0);
  const func = b.addFunc('printk_like', proto, 1);          // 19
  const v1 = b.addVar('counter', vol, 1);                   // 20
  const v2 = b.addVar('origin', td, 0);                     // 21
  b.addDatasec('.data', 24);                                // 22
  b.addVarInfo(v1, 0, 4);
  b.addVarInfo(v2, 4, 12);
  b.addFloat('double', 8);                                  // 23
  b.addDeclTag('tagged', func, -1);                         // 24
  b.addDeclTag('param_tag', func, 0);                       // 25
  const tt = b.addTypeTag('user', int);                     // 26
  b.addPtr(tt);                                             // 27
  b.addEnum64('big', 8);                                    // 28
  b.addEnum64Value('HUGE', 0xffffffff00000001n);
  b.addEnum64Value('ONE', 1n);
  b.addEnum64('sbig', 8, true);                             // 29
  b.addEnum64Value('NEG', -5n);
  b.addTypedef('union_value_t', u);                         // 30
  b.addTypedef('color_t', e);                               // 31
  b.addTypedef('delta_t', se);                              // 32
  b.addTypedef('name_t', arr);                              // 33
  return b.finish();
}

/** vmlinux BTF from the committed fixture (gzip). Parsed once per process. */
let vmlinuxCache: Btf | undefined;
let vmlinuxBytesCache: Uint8Array | undefined;
export function vmlinuxBytes(): Uint8Array {
  // A plain Uint8Array: Buffer#slice would hand out views and let one test corrupt another's bytes.
  vmlinuxBytesCache ??= new Uint8Array(gunzipSync(readFileSync(fixture('kernel/btf/vmlinux.gz'))));
  return vmlinuxBytesCache;
}
export function vmlinux(): Btf {
  vmlinuxCache ??= parseBtf(vmlinuxBytes(), { source: 'vmlinux' });
  return vmlinuxCache;
}

export const FIXTURE_MODULES = ['cordic', 'crc7', 'loop', 'tcp_bbr', 'virtio_net'] as const;

/** A 3-level chain built in code: base (standalone) -> mid (split) -> top (split on mid). */
export function threeLevels(): { base: Btf; mid: Btf; top: Btf } {
  const bb = new BtfBuilder();
  const int = bb.addInt('int', 4, 1);
  bb.addStruct('base_s', 4);
  bb.addField('a', int, 0);
  const base = bb.finish();
  const mb = new BtfBuilder({ base });
  const ptr = mb.addPtr(2);
  mb.addStruct('mid_s', 8);
  mb.addField('p', ptr, 0);
  mb.addTypedef('int', int); // name reused from base: no new string
  const mid = mb.finish();
  const tb = new BtfBuilder({ base: mid });
  const v = tb.addVar('top_var', 4, 1);
  const v2 = tb.addVar('a', int, 0); // 'a' lives in base strings
  tb.addDatasec('.data', 16);
  tb.addVarInfo(v, 0, 8);
  tb.addVarInfo(v2, 8, 4);
  const top = tb.finish();
  return { base, mid, top };
}
