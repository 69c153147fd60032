import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Btf } from '../../src/btf/btf.js';
import { BtfBuilder } from '../../src/btf/builder.js';
import { cTypeName, dumpC } from '../../src/btf/dump-c.js';
import { KIND } from '../../src/btf/kinds.js';
import { readBtfFile } from '../../src/btf/parse.js';
import { writeBtf } from '../../src/btf/write.js';
import { fixture, kernelDir, requireShared } from '../support/paths.js';
import { allKinds, threeLevels, vmlinux, vmlinuxBytes } from './sample.js';

/** `_Static_assert`s on sizeof/offsetof of every uniquely named struct/union: layout, not just syntax. */
function layoutAsserts(btf: Btf): string {
  const count = new Map<string, number>();
  const all = btf.chain().flatMap((l) => l.types.map((t, i) => ({ t, id: l.startId + i })));
  for (const { t } of all) if ((t.kind === KIND.STRUCT || t.kind === KIND.UNION) && t.nameOff) count.set(btf.str(t.nameOff), (count.get(btf.str(t.nameOff)) ?? 0) + 1);
  let out = '';
  for (const { t } of all) {
    if ((t.kind !== KIND.STRUCT && t.kind !== KIND.UNION) || !t.nameOff) continue;
    const n = btf.str(t.nameOff);
    if (count.get(n) !== 1) continue;
    const kw = t.kind === KIND.STRUCT ? 'struct' : 'union';
    out += `_Static_assert(sizeof(${kw} ${n}) == ${t.size}, "sizeof ${n}");\n`;
    for (const m of t.members) {
      if (!m.nameOff || (t.kflag && m.offset >>> 24)) continue;
      out += `_Static_assert(__builtin_offsetof(${kw} ${n}, ${btf.str(m.nameOff)}) * 8 == ${t.kflag ? m.offset & 0xffffff : m.offset}, "offset ${n}.${btf.str(m.nameOff)}");\n`;
    }
  }
  return out;
}

const KSYM_MACROS = '#ifndef __ksym\n#define __ksym __attribute__((section(".ksyms")))\n#endif\n#ifndef __weak\n#define __weak __attribute__((weak))\n#endif\n\n';

describe('btf/dump-c', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'btfcore-c-')); });
  after(() => { rmSync(dir, { recursive: true }); });

  const compile = (name: string, text: string): void => {
    const p = join(dir, `${name}.c`);
    writeFileSync(p, text);
    const r = spawnSync('gcc', ['-fsyntax-only', '-Werror=implicit-int', p], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${name} does not compile:\n${r.stderr.split('\n').slice(0, 10).join('\n')}`);
  };

  it('every-kind sample: bpftool format c order and text, plus the variables', () => {
    const btf = allKinds();
    const p = join(dir, 'all.btf');
    writeFileSync(p, writeBtf(btf));
    const theirs = execFileSync('bpftool', ['btf', 'dump', 'file', p, 'format', 'c'], { encoding: 'utf8' });
    const ours = dumpC(btf);
    const varBlock = `${KSYM_MACROS}/* DATASEC .data */\nextern volatile int counter __ksym;\nextern point_t origin __ksym;\n\n`;
    assert.ok(ours.includes(varBlock), ours);
    assert.equal(ours.replace(varBlock, ''), theirs);
    compile('all', ours + layoutAsserts(btf));
  });

  it('vmlinux: compiles with gcc and every unique struct has the BTF size and member offsets', function () {
    this.timeout(120000);
    const v = vmlinux();
    const text = dumpC(v);
    assert.ok(text.includes('struct task_struct {'));
    compile('vmlinux', text + layoutAsserts(v));
  });

  it('vmlinux: identical to bpftool format c, plus the variables block', function () {
    this.timeout(120000);
    const p = join(dir, 'vmlinux');
    writeFileSync(p, vmlinuxBytes());
    const theirs = execFileSync('bpftool', ['btf', 'dump', 'file', p, 'format', 'c'], { encoding: 'utf8', maxBuffer: 1 << 30 });
    const ours = dumpC(vmlinux());
    const start = ours.indexOf(KSYM_MACROS);
    const end = ours.indexOf('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop');
    assert.ok(start > 0 && end > start);
    assert.match(ours.slice(start, end), /^extern struct irq_stack irq_stack_backing_store __ksym;$/m);
    const withoutVars = ours.slice(0, start) + ours.slice(end);
    if (withoutVars !== theirs) {
      const a = withoutVars.split('\n');
      const b = theirs.split('\n');
      const i = a.findIndex((l, k) => l !== b[k]);
      assert.fail(`line ${i + 1} differs: ours ${JSON.stringify(a[i])}, bpftool ${JSON.stringify(b[i])}`);
    }
  });

  it('a module split on vmlinux: its types and the vmlinux types they need compile', () => {
    const m = readBtfFile(fixture('kernel/btf/virtio_net'), { base: vmlinux() });
    const text = dumpC(m);
    assert.ok(text.includes('struct virtnet_info {'));
    assert.match(text, /^struct net_device(;| \{)$/m, 'declares the vmlinux types it needs');
    assert.match(text, /^struct virtio_device \{$/m);
    compile('virtio_net', text);
  });

  it('wholeChain: a fixture module on vmlinux is identical to bpftool -B format c, plus variables', function () {
    this.timeout(120000);
    const vp = join(dir, 'vmlinux');
    writeFileSync(vp, vmlinuxBytes());
    const mp = fixture('kernel/btf/tcp_bbr');
    const theirs = execFileSync('bpftool', ['btf', 'dump', 'file', mp, '-B', vp, 'format', 'c'], { encoding: 'utf8', maxBuffer: 1 << 30 });
    const ours = dumpC(readBtfFile(mp, { base: vmlinux() }), { wholeChain: true });
    const start = ours.indexOf(KSYM_MACROS);
    const end = ours.indexOf('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop');
    assert.ok(start > 0 && end > start);
    assert.ok(ours.slice(0, start) + ours.slice(end) === theirs, 'differs from bpftool');
  });

  it('every 25th of the 1121 shared modules: its C dump compiles (shared)', function () {
    requireShared(this);
    this.timeout(300000);
    const v = readBtfFile(join(kernelDir, 'btf/vmlinux'));
    const mdir = join(kernelDir, 'btf/modules');
    const names = readdirSync(mdir).sort().filter((_, i) => i % 25 === 0);
    for (const n of names) compile(`mod-${n}`, dumpC(readBtfFile(join(mdir, n), { base: v })));
  });

  it('variables of a split level become extern declarations', () => {
    const { top } = threeLevels();
    const text = dumpC(top);
    // above the chain's root: a module's variables, weak (the module may not be loaded)
    assert.match(text, /\/\* DATASEC \.data \*\/\nextern struct mid_s top_var __ksym __weak;\nextern int a __ksym __weak;\n/);
    assert.match(text, /struct mid_s \{\n\tstruct base_s \*p;\n\};/);
    compile('top', text);
  });

  it('a prototype reaching itself through a pointer (valid BTF C cannot spell) is cut, not expanded 2^depth times', function () {
    this.timeout(10_000); // before the cut: ordering, emission and cTypeName each ran for hours
    const b = new BtfBuilder();
    const int = b.addInt('int', 4, 1);
    const proto = b.addFuncProto(int);
    b.addParam('x', proto + 1);
    b.addParam('y', proto + 1);
    const ptr = b.addPtr(proto);
    const t = b.addTypedef('t', ptr);
    b.addVar('v', t, 1);
    b.addDatasec('.data', 8);
    b.addVarInfo(t + 1, 0, 8);
    const btf = b.finish();
    const text = dumpC(btf);
    assert.match(text, /^typedef int \(\*t\)\(void \/\* looping prototype \*\/ \*x, void \/\* looping prototype \*\/ \*y\);$/m);
    compile('proto-loop', text);
    assert.equal(cTypeName(btf, ptr), 'int (*)(void /* looping prototype */ *, void /* looping prototype */ *)');
  });

  it('an anonymous struct reaching itself (by value: invalid; through a pointer: valid) is cut, not expanded', function () {
    this.timeout(10_000); // before the cut: alignment 3^64 steps, inline definitions 2^64
    for (const viaPtr of [false, true]) {
      const b = new BtfBuilder();
      b.addInt('int', 4, 1);
      const anon = b.addStruct('', 16);
      const member = viaPtr ? anon + 1 : anon;
      b.addField('x', member, 0);
      b.addField('y', member, 64);
      if (viaPtr) b.addPtr(anon);
      const v = b.addVar('v', anon, 1);
      b.addDatasec('.data', 16);
      b.addVarInfo(v, 0, 16);
      const text = dumpC(b.finish());
      const field = viaPtr ? 'void /* looping anonymous type */ *' : 'void /* looping anonymous type */ ';
      assert.ok(text.includes(`extern struct {\n\t${field}x;\n\t${field}y;\n} v __ksym;`), text);
      if (viaPtr) compile('anon-loop', text);
    }
  });

  it('duplicate names get ___N, loops through pointers get forward declarations, packed structs are marked', () => {
    const b = new BtfBuilder();
    const int = b.addInt('int', 4, 1);
    const char = b.addInt('char', 1, 2);
    const s1 = b.addStruct('dup', 4); b.addField('a', int, 0);
    const s2 = b.addStruct('dup', 8); b.addField('b', int, 0); b.addField('c', int, 32);
    const pn = b.addPtr(b.nextId + 1);
    b.addStruct('node', 16);
    b.addField('next', pn, 0); b.addField('v', int, 64);
    const packed = b.addStruct('pk', 5); b.addField('c', char, 0); b.addField('i', int, 8);
    const e1 = b.addEnum('e1', 4); b.addEnumValue('SAME', 1);
    const e2 = b.addEnum('e2', 4); b.addEnumValue('SAME', 2);
    const holder = b.addStruct('holder', 40);
    b.addField('x', s1, 0); b.addField('y', s2, 64); b.addField('p', packed, 128); b.addField('e', e1, 192); b.addField('f', e2, 224); b.addField('n', pn, 256);
    const btf = b.finish();
    const text = dumpC(btf);
    assert.match(text, /struct dup \{\n\tint a;\n\};/);
    assert.match(text, /struct dup___2 \{\n\tint b;\n\tint c;\n\};/);
    assert.match(text, /\tSAME___2 = 2,/);
    assert.match(text, /struct pk \{\n\tchar c;\n\tint i;\n\} __attribute__\(\(packed\)\);/);
    assert.match(text, /struct node \{\n\tstruct node \*next;/);
    assert.ok(holder > 0);
    compile('dups', text + layoutAsserts(btf).replace(/.*\bdup\b.*\n/g, ''));
  });

  it('cTypeName spells types as C does', () => {
    const b = new BtfBuilder();
    const int = b.addInt('int', 4, 1);
    const char = b.addInt('char', 1, 2);
    const cc = b.addConst(char);
    const pcc = b.addPtr(cc);
    const arr = b.addArray(pcc, int, 4);
    const s = b.addStruct('foo', 4); b.addField('a', int, 0);
    const ps = b.addPtr(s);
    const proto = b.addFuncProto(int); b.addParam('fmt', pcc); b.addParam('', 0);
    const pf = b.addPtr(proto);
    const cp = b.addConst(ps);
    const anon = b.addStruct('', 4); b.addField('x', int, 0);
    const arrOfArr = b.addArray(arr, int, 2);
    const parr = b.addPtr(arr);
    const td = b.addTypedef('foo_t', s);
    const btf = b.finish();
    const spell = (id: number): string => cTypeName(btf, id);
    assert.equal(spell(0), 'void');
    assert.equal(spell(int), 'int');
    assert.equal(spell(arr), 'const char *[4]');
    assert.equal(spell(ps), 'struct foo *');
    assert.equal(spell(pf), 'int (*)(const char *, ...)');
    assert.equal(spell(cp), 'struct foo * const');
    assert.equal(spell(anon), 'struct {...}');
    assert.equal(spell(arrOfArr), 'const char *[2][4]');
    assert.equal(spell(parr), 'const char *(*)[4]');
    assert.equal(spell(td), 'foo_t');
  });
});
