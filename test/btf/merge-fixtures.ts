/**
 * The 3-level chain the merge tests (library and CLI) share: the committed vmlinux fixture ->
 * the real `loop` module BTF -> an extras level built here whose VARs and DATASEC reference types
 * at every level (vmlinux's int and list_head, the module's loop_device, and a struct of its own).
 */
import { readFileSync } from 'node:fs';
import type { Btf } from '../../src/btf/btf.js';
import { BtfBuilder } from '../../src/btf/builder.js';
import { KIND } from '../../src/btf/kinds.js';
import { parseBtf } from '../../src/btf/parse.js';
import { fixture } from '../support/paths.js';
import { vmlinux } from './sample.js';

export interface ExtrasChain {
  vm: Btf;
  mod: Btf;
  extras: Btf;
  /** VAR name -> name of its type (struct/int name, or 'extra_stats'). */
  vars: ReadonlyMap<string, string>;
}

function only(btf: Btf, name: string, kind: number): number {
  const ids = btf.findByName(name, kind as never);
  if (ids.length === 0) throw new Error(`fixture lacks ${name}`);
  return ids[0]!;
}

export function loopModule(vm: Btf = vmlinux()): Btf {
  return parseBtf(readFileSync(fixture('kernel/btf/loop')), { base: vm, source: 'loop' });
}

/** Builds the extras level on `mod` (default: the loop fixture on the vmlinux fixture). */
export function extrasChain(mod: Btf = loopModule()): ExtrasChain {
  const vm = mod.base!;
  const int = only(vm, 'int', KIND.INT);
  const listHead = only(vm, 'list_head', KIND.STRUCT);
  const loopDev = only(mod, 'loop_device', KIND.STRUCT);
  if (loopDev < mod.startId) throw new Error('loop_device should be a module type');
  const b = new BtfBuilder({ base: mod, source: 'loop-btf-extra' });
  const devPtr = b.addPtr(loopDev);
  const stats = b.addStruct('extra_stats', 16);
  b.addField('hits', int, 0);
  b.addField('dev', devPtr, 64);
  const vCounter = b.addVar('extra_counter', int, 1);
  const vList = b.addVar('extra_list', listHead, 0);
  const vDev = b.addVar('extra_dev', loopDev, 0);
  const vStats = b.addVar('extra_stats_v', stats, 1);
  b.addDatasec('.bss', 16 + 480 + 16 + 8);
  b.addVarInfo(vList, 0, 16);
  b.addVarInfo(vDev, 16, 480);
  b.addVarInfo(vStats, 496, 16);
  b.addVarInfo(vCounter, 512, 4);
  const vars = new Map([
    ['extra_counter', 'int'], ['extra_list', 'list_head'], ['extra_dev', 'loop_device'], ['extra_stats_v', 'extra_stats'],
  ]);
  return { vm, mod, extras: b.finish(), vars };
}
