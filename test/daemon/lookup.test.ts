import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Btf } from '../../src/btf/btf.js';
import { BtfBuilder } from '../../src/btf/builder.js';
import { VAR_LINKAGE } from '../../src/btf/kinds.js';
import { parseBtf, readBtfFile } from '../../src/btf/parse.js';
import { datasecPlacements, lookupVariable } from '../../src/daemon/lookup.js';
import { fixture } from '../support/paths.js';

/** Object name of a type id: the level's source name (what the daemon does per published file). */
const byLevel = (btf: Btf) => (id: number): string => btf.levelOf(id).source ?? '?';

/** A standalone level with the shapes lookups must spell: static/global, arrays, pointers, fn pointers. */
function smallBtf(): Btf {
  const b = new BtfBuilder({ source: 'small' });
  const int = b.addInt('int', 4, 1);
  const char = b.addInt('char', 1, 2);
  const names = b.addArray(b.addPtr(b.addConst(char)), int, 4);
  const proto = b.addFuncProto(int);
  b.addParam('', int);
  const hook = b.addPtr(proto);
  const ops = b.addStruct('tcp_congestion_ops', 16);
  b.addField('ssthresh', hook, 0);
  b.addField('flags', int, 64);
  const counter = b.addVar('counter', int, VAR_LINKAGE.STATIC);
  const namesVar = b.addVar('names', names, VAR_LINKAGE.GLOBAL_ALLOCATED);
  const hookVar = b.addVar('hook', hook, VAR_LINKAGE.STATIC);
  const opsVar = b.addVar('bbr_ops', ops, VAR_LINKAGE.GLOBAL_ALLOCATED);
  b.addVar('orphan', int, VAR_LINKAGE.STATIC);
  b.addDatasec('.data', 64);
  b.addVarInfo(counter, 8, 4);
  b.addVarInfo(hookVar, 16, 8);
  b.addVarInfo(opsVar, 32, 16);
  b.addDatasec('.rodata', 32);
  b.addVarInfo(namesVar, 0, 32);
  return b.btf;
}

describe('lookupVariable', () => {
  it('finds a static VAR in its DATASEC with section, offset, size and C type', () => {
    const btf = smallBtf();
    const [hit, ...rest] = lookupVariable(btf, 'counter', () => 'mod');
    assert.deepEqual(rest, []);
    assert.deepEqual(hit, {
      variable: 'counter', object: 'mod', cType: 'int', section: '.data', offset: 8, size: 4, linkage: 'static',
      btfId: btf.findByName('counter')[0],
    });
  });
  it('spells arrays of pointers, function pointers and structs, and global linkage', () => {
    const btf = smallBtf();
    const one = (n: string) => lookupVariable(btf, n, () => 'mod')[0];
    assert.equal(one('names')?.cType, 'const char *[4]');
    assert.equal(one('names')?.linkage, 'global');
    assert.equal(one('names')?.section, '.rodata');
    assert.equal(one('hook')?.cType, 'int (*)(int)');
    assert.equal(one('bbr_ops')?.cType, 'struct tcp_congestion_ops');
    assert.deepEqual([one('bbr_ops')?.offset, one('bbr_ops')?.size], [32, 16]);
  });
  it('reports a VAR no DATASEC places with section "" and offset -1', () => {
    const hit = lookupVariable(smallBtf(), 'orphan', () => 'mod')[0];
    assert.deepEqual([hit?.section, hit?.offset, hit?.size, hit?.linkage], ['', -1, 0, 'static']);
  });
  it('returns nothing for unknown names and for non-VAR types of that name', () => {
    const btf = smallBtf();
    assert.deepEqual(lookupVariable(btf, 'nope', () => 'x'), []);
    assert.deepEqual(lookupVariable(btf, 'tcp_congestion_ops', () => 'x'), []);
    assert.deepEqual(lookupVariable(btf, 'int', () => 'x'), []);
  });
  it('keeps the DATASEC index up to date when the level grows', () => {
    const b = new BtfBuilder();
    const int = b.addInt('int', 4, 1);
    const v1 = b.addVar('a', int, 0);
    b.addDatasec('.bss', 4);
    b.addVarInfo(v1, 0, 4);
    assert.equal(datasecPlacements(b.btf).size, 1);
    const v2 = b.addVar('b', int, 0);
    b.addDatasec('.data', 4);
    b.addVarInfo(v2, 0, 4);
    assert.equal(lookupVariable(b.btf, 'b', () => 'x')[0]?.section, '.data');
  });

  describe('on the real fixture chain vmlinux -> loop -> extras', () => {
    let vmlinux: Btf;
    let loop: Btf;
    before(() => {
      vmlinux = parseBtf(gunzipSync(readFileSync(fixture('kernel/btf/vmlinux.gz'))), { source: 'vmlinux' });
      loop = readBtfFile(fixture('kernel/btf/loop'), { base: vmlinux });
    });

    // Expected values read off `bpftool btf dump file vmlinux` (VAR and DATASEC '.data..percpu' lines).
    it('finds per-CPU variables of vmlinux through a module level', () => {
      const hits = lookupVariable(loop, 'runqueues', (id) => basename(loop.levelOf(id).source ?? '?'));
      assert.deepEqual(hits, [{
        variable: 'runqueues', object: 'vmlinux', cType: 'struct rq', section: '.data..percpu', offset: 203136, size: 3264, linkage: 'global', btfId: 38003,
      }]);
      const cur = lookupVariable(loop, 'current_task', byLevel(loop))[0];
      assert.deepEqual([cur?.cType, cur?.offset, cur?.size, cur?.btfId], ['struct task_struct *', 129920, 8, 36419]);
    });

    it('finds an extras VAR split on the module and names every object that has the name', () => {
      const b = new BtfBuilder({ base: loop, source: 'loop-btf-extra' });
      const int = vmlinux.findByName('int')[0] ?? 0;
      const maxLoop = b.addVar('max_loop', int, VAR_LINKAGE.STATIC);
      const cpuNumber = b.addVar('cpu_number', int, VAR_LINKAGE.STATIC); // same name as a vmlinux per-CPU var
      b.addDatasec('.data', 32);
      b.addVarInfo(maxLoop, 4, 4);
      b.addVarInfo(cpuNumber, 12, 4);
      const extras = b.btf;
      const hits = lookupVariable(extras, 'max_loop', byLevel(extras));
      assert.deepEqual(hits, [{ variable: 'max_loop', object: 'loop-btf-extra', cType: 'int', section: '.data', offset: 4, size: 4, linkage: 'static', btfId: maxLoop }]);
      const both = lookupVariable(extras, 'cpu_number', byLevel(extras));
      assert.deepEqual(both.map((h) => [h.object, h.section, h.offset, h.linkage]),
        [['vmlinux', '.data..percpu', 102752, 'global'], ['loop-btf-extra', '.data', 12, 'static']]);
    });
  });
});
