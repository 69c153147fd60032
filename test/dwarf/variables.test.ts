import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ElfFile, STT, type ElfSymbol } from '../../src/elf/index.js';
import { collectVariables, Dwarf, type StaticVariable, type VariableScan } from '../../src/dwarf/index.js';
import { fixture, haveShared, kernelDir, requireShared } from '../support/paths.js';
import { vmlinuxDebug } from '../support/vmlinux-debug.js';

interface Counts { cus: number; cu_def_ext: number; cu_def_static: number; cu_decl: number; fn_static: number; unique_names: number; no_name: number }

function readCounts(path: string): Map<string, Counts> {
  const out = new Map<string, Counts>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const [name, ...kv] = line.trim().split(/\s+/);
    if (!name || kv.length === 0) continue;
    out.set(name, Object.fromEntries(kv.map((p) => { const [k, v] = p.split('='); return [k, Number(v)]; })) as unknown as Counts);
  }
  return out;
}

function countsOf(scan: VariableScan): Counts {
  const file = scan.variables.filter((v) => v.scope === 'file');
  return {
    cus: scan.units,
    cu_def_ext: file.filter((v) => v.linkage === 'external').length,
    cu_def_static: file.filter((v) => v.linkage === 'static').length,
    cu_decl: scan.declarations,
    fn_static: scan.variables.filter((v) => v.scope === 'function').length,
    unique_names: new Set(file.map((v) => v.name)).size,
    no_name: scan.variables.filter((v) => v.name === '').length,
  };
}

/**
 * Every file-scope variable with same-named STT_OBJECT symbols must sit in one of those
 * symbols' section at its offset (static names repeat across units, so any of them may be
 * the match); a unique symbol must also agree on the size. Returns how many were checked.
 */
function crossCheckSymbols(elf: ElfFile, vars: readonly StaticVariable[]): number {
  const byName = new Map<string, ElfSymbol[]>();
  for (const s of elf.symbols) if (s.type === STT.OBJECT) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  let checked = 0;
  for (const v of vars) {
    const syms = v.scope === 'file' ? byName.get(v.name) : undefined;
    if (!syms) continue;
    const offsetOf = (sym: ElfSymbol): bigint => (elf.type === 1 ? sym.value : sym.value - elf.sections[sym.shndx]!.addr);
    const match = syms.find((sym) => sym.shndx === v.sectionIndex && offsetOf(sym) === v.offset);
    assert.ok(match, `${v.name}: ${v.sectionName}+0x${v.offset.toString(16)} is not where any same-named symbol is (${
      syms.map((sym) => `${elf.sections[sym.shndx]?.name}+0x${offsetOf(sym).toString(16)}`).join(', ')})`);
    // a flexible array member's initialiser makes the symbol larger than the type (init_struct_pid)
    if (syms.length === 1 && v.size !== undefined && match.size !== 0n) assert.ok(BigInt(v.size) <= match.size, `${v.name}: size ${v.size} > ${match.size}`);
    checked++;
  }
  return checked;
}

const fixtureCounts = readCounts(fixture('kernel/dwarf-variable-counts.txt'));

describe('collectVariables: committed kernel modules equal elfutils counts', () => {
  for (const name of ['cordic', 'crc7', 'tcp_bbr', 'loop']) {
    it(`${name}.ko: counts and symbol table agree`, () => {
      const elf = ElfFile.open(fixture(`kernel/debug/${name}.ko`));
      const scan = collectVariables(Dwarf.fromElf(elf));
      assert.deepEqual(countsOf(scan), fixtureCounts.get(name));
      const fileVars = scan.variables.filter((v) => v.scope === 'file' && v.sectionName !== undefined).length;
      const checked = crossCheckSymbols(elf, scan.variables);
      assert.ok(checked >= fileVars * 0.8, `checked ${checked} of ${fileVars} against symbols`);
      for (const v of scan.variables) {
        // unrelocated addresses (discarded sections) have no section; everything else is in a real one
        if (v.sectionName === undefined) assert.ok(v.name.startsWith('__UNIQUE_ID___addressable_'), v.name);
        else assert.ok(!v.sectionName.startsWith('.debug'), `${v.name} in ${v.sectionName}`);
        assert.ok(v.cType.length > 0 && !v.cType.includes('?'), `${v.name}: ${v.cType}`);
      }
    });
  }

  it('tcp_bbr.ko: names, sections, offsets, sizes and C types of known variables', () => {
    const scan = collectVariables(Dwarf.fromElf(ElfFile.open(fixture('kernel/debug/tcp_bbr.ko'))));
    const get = (n: string): StaticVariable => scan.variables.find((v) => v.name === n)!;
    const ops = get('tcp_bbr_cong_ops');
    assert.deepEqual([ops.linkage, ops.scope, ops.sectionName, ops.offset, ops.size, ops.cType],
      ['static', 'file', '.data..read_mostly', 0n, 192, 'struct tcp_congestion_ops']);
    const gain = get('bbr_pacing_gain');
    assert.deepEqual([gain.sectionName, gain.size, gain.cType], ['.rodata', 32, 'const int [8]']);
    const mod = get('__this_module');
    assert.deepEqual([mod.linkage, mod.cType, mod.size], ['external', 'struct module', 896]);
    assert.ok(mod.declarationOffset !== undefined, 'definition through DW_AT_specification');
    const fnStatic = scan.variables.find((v) => v.scope === 'function')!;
    assert.deepEqual([fnStatic.name, fnStatic.function, fnStatic.cType], ['__already_done', 'bbr_update_gains', 'bool']);
  });
});

describe('collectVariables: incomplete DWARF types', () => {
  it('falls back to the symbol size when the DWARF type has no size (tentative definition)', () => {
    for (const obj of ['elf/vars-dwarf5.o', 'elf/vars-dwarf4.exec']) {
      const scan = collectVariables(Dwarf.fromElf(ElfFile.open(fixture(obj))));
      const t = scan.variables.find((v) => v.name === 'tentative_array')!;
      assert.deepEqual([t.size, t.symbolSize, t.cType, t.sectionName], [undefined, 12n, 'int []', '.data'], obj);
      assert.ok(scan.variables.filter((v) => v.size !== undefined).every((v) => v.symbolSize === undefined));
    }
  });
});

describe('collectVariables: compiled C fixtures', () => {
  const expected: Record<string, [string, string, string, number, string]> = {
    // name: [linkage, scope, section, size, C type]
    global_counter: ['external', 'file', '.data', 4, 'int'],
    file_static: ['static', 'file', '.bss', 4, 'int'],
    names: ['external', 'file', '.data.rel.ro', 32, 'const char *const [4]'],
    name_ptrs: ['external', 'file', '.bss', 32, 'const char *[4]'],
    origin: ['static', 'file', '.data', 8, 'struct point'],
    shared_union: ['external', 'file', '.bss', 4, 'union both'],
    current_color: ['external', 'file', '.data', 4, 'enum color'],
    packed_flags: ['external', 'file', '.data', 8, 'struct flags'],
    long_counter: ['external', 'file', '.data', 8, 'ulong_t'],
    callback: ['external', 'file', '.bss', 8, 'int (*)(void)'],
    volatile_flag: ['external', 'file', '.bss', 4, 'volatile int'],
    const_ptr: ['external', 'file', '.rodata', 8, 'char *const'],
    matrix: ['external', 'file', '.bss', 48, 'int [3][4]'],
    lookup: ['static', 'file', '.rodata', 32, 'const int [8]'],
    declared_then_defined: ['external', 'file', '.data', 4, 'int'],
    calls: ['static', 'function', '.bss', 4, 'int'],
    tag: ['static', 'function', '.rodata', 4, 'const char [4]'],
  };
  const objects = ['vars-dwarf5.o', 'vars-dwarf4.o', 'vars-gz.o', 'two-units.o', 'vars-dwarf5.exec', 'vars-dwarf4.exec'];
  for (const obj of objects) {
    it(`${obj}: every variable, with section, size and C type; offsets match symbols`, () => {
      const elf = ElfFile.open(fixture(`elf/${obj}`));
      const scan = collectVariables(Dwarf.fromElf(elf));
      const seen = new Map(scan.variables.map((v) => [v.name, v]));
      for (const [name, [linkage, scope, section, size, ctype]] of Object.entries(expected)) {
        const v = seen.get(name);
        assert.ok(v, `${name} found`);
        // ld merges .data.rel.ro.local into .data.rel.ro in the executables
        const sec = obj.endsWith('.o') && name === 'names' ? '.data.rel.ro.local' : section;
        assert.deepEqual([v.linkage, v.scope, v.sectionName, v.size, v.cType], [linkage, scope, sec, size, ctype], name);
      }
      assert.equal(seen.has('only_declared'), obj === 'two-units.o' || obj.endsWith('.exec'), 'only_declared is defined only in other.c');
      assert.equal(scan.declarations >= 1, true);
      assert.ok(crossCheckSymbols(elf, scan.variables) >= 10);
      const fnStatic = seen.get('calls')!;
      const sym = elf.symbols.find((s) => /^calls\.\d+$/.test(s.name))!;
      assert.equal(fnStatic.offset, elf.type === 1 ? sym.value : sym.value - elf.sections[sym.shndx]!.addr);
    });
  }

  it('DWARF 4 and DWARF 5 objects describe the same variables', () => {
    const key = (obj: string): string[] => collectVariables(Dwarf.fromElf(ElfFile.open(fixture(`elf/${obj}`)))).variables
      .map((v) => `${v.name} ${v.linkage} ${v.scope} ${v.sectionName} ${v.offset} ${v.size} ${v.cType}`).sort();
    assert.deepEqual(key('vars-dwarf4.o'), key('vars-dwarf5.o'));
    assert.deepEqual(key('vars-dwarf4.exec'), key('vars-dwarf5.exec'));
  });

  it('can leave out function statics and type work', () => {
    const d = Dwarf.fromElf(ElfFile.open(fixture('elf/vars-dwarf5.o')));
    const scan = collectVariables(d, { functionStatics: false, types: false });
    assert.ok(scan.variables.every((v) => v.scope === 'file' && v.cType === '' && v.size === undefined));
    assert.ok(scan.variables.length > 10);
  });
});

describe('collectVariables: all 11 shared debug modules (needs ../shared)', function () {
  before(function () { requireShared(this); });
  const counts = haveShared ? readCounts(resolve(kernelDir, 'meta/dwarf-variable-counts.txt')) : new Map<string, Counts>();
  const names = ['cordic', 'crc7', 'tcp_bbr', 'loop', 'virtio_net', 'nf_conntrack', 'nf_tables', 'kvm', 'kvm-intel', 'btrfs', 'xfs'];
  for (const name of names) {
    it(`${name}.ko equals elfutils and its symbol table`, () => {
      const elf = ElfFile.open(resolve(kernelDir, `debug/${name}.ko`));
      const scan = collectVariables(Dwarf.fromElf(elf));
      assert.deepEqual(countsOf(scan), counts.get(name));
      const fileVars = scan.variables.filter((v) => v.scope === 'file' && v.sectionName !== undefined).length;
      const checked = crossCheckSymbols(elf, scan.variables);
      assert.ok(checked >= fileVars * 0.8, `checked ${checked} of ${fileVars} against symbols`);
    });
  }
});

describe('collectVariables: slim vmlinux (shared, or BTF_EXTRA_VMLINUX_DEBUG)', function () {
  this.timeout(300_000);
  let path: string | undefined;
  before(function () {
    path = vmlinuxDebug();
    if (path === undefined) {
      process.stderr.write('skipping vmlinux variable counts: no ../shared and BTF_EXTRA_VMLINUX_DEBUG not set\n');
      this.skip();
    }
  });
  it('3,900 external + 30,925 static file-level definitions, 8,825 function statics; symbols agree', () => {
    const elf = ElfFile.open(path!);
    const scan = collectVariables(Dwarf.fromElf(elf));
    const c = countsOf(scan);
    assert.deepEqual([c.cus, c.cu_def_ext, c.cu_def_static, c.fn_static], [2172, 3900, 30925, 8825]);
    // Variables in sections the link discarded (.discard.addressable, .exit.call, built-in
    // .modinfo: __UNIQUE_ID_*, __exitcall_*) keep address 0, which in vmlinux lies in
    // .data..percpu (linked at 0). No symbol exists for them; consumers filter them (pahole's rule).
    const objects = new Set(elf.symbols.filter((s) => s.type === STT.OBJECT).map((s) => s.name));
    const noSymbol = scan.variables.filter((v) => v.scope === 'file' && !objects.has(v.name));
    const odd = noSymbol.filter((v) => !(v.address === 0n && v.sectionName === '.data..percpu'));
    assert.deepEqual(odd.map((v) => v.name), [], 'only variables at address 0 lack a symbol');
    const checked = crossCheckSymbols(elf, scan.variables);
    assert.equal(checked, c.cu_def_ext + c.cu_def_static - noSymbol.length, 'every other file-level variable sits where its symbol is');
  });
});

describe('C type spelling agrees with gdb (needs gdb)', function () {
  const haveGdb = spawnSync('gdb', ['--version']).status === 0;
  before(function () {
    if (!haveGdb) { process.stderr.write('skipping gdb cross-check: gdb not installed\n'); this.skip(); }
  });
  for (const obj of ['elf/vars-dwarf5.exec', 'elf/vars-dwarf4.o', 'kernel/debug/tcp_bbr.ko', 'kernel/debug/loop.ko']) {
    it(`${obj}: every uniquely named file-scope variable`, () => {
      const path = fixture(obj);
      const vars = collectVariables(Dwarf.fromElf(ElfFile.open(path))).variables.filter((v) => v.scope === 'file');
      const count = new Map<string, number>();
      for (const v of vars) count.set(v.name, (count.get(v.name) ?? 0) + 1);
      const uniq = vars.filter((v) => count.get(v.name) === 1);
      const out = execFileSync('gdb', ['-batch', '-nx', ...uniq.flatMap((v) => ['-ex', `whatis ${v.name}`]), path], { encoding: 'utf8' });
      const gdb = out.split('\n').filter((l) => l.startsWith('type = ')).map((l) => l.slice(7));
      assert.equal(gdb.length, uniq.length);
      // gdb spaces declarators differently ("char * const"); compare without blanks
      const squash = (t: string): string => t.replace(/ /g, '');
      assert.deepEqual(uniq.map((v) => `${v.name}: ${squash(v.cType)}`), uniq.map((v, i) => `${v.name}: ${squash(gdb[i]!)}`));
    });
  }
});
