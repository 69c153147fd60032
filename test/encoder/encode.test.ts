import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { Btf } from '../../src/btf/btf.js';
import { KIND } from '../../src/btf/kinds.js';
import { dumpRaw } from '../../src/btf/dump-raw.js';
import { parseBtf } from '../../src/btf/parse.js';
import { validateBtf } from '../../src/btf/validate.js';
import { writeBtf } from '../../src/btf/write.js';
import { encodeObject } from '../../src/encoder/encode.js';
import { EncoderError } from '../../src/encoder/errors.js';
import { collectVariables, Dwarf, DW_AT, DW_FORM } from '../../src/dwarf/index.js';
import { ElfFile } from '../../src/elf/index.js';
import { fixture } from '../support/paths.js';
import { bpftoolDump, dedupWithLibbpf, loadIntoKernel, requireOk } from '../support/kernel-load.js';
import { chainOf, oracleFiles, tmpFile, typeCount, varEntries } from './support.js';

const dir = (f: string): string => fixture('encoder', f);
const v5 = dir('vars-dwarf5.o');
const v4 = dir('vars-dwarf4.o');
const base = [dir('base.btf')];
const chain3 = [dir('base.btf'), dir('mid.btf')];

/** What the fixture C sources define at file scope and the rules keep (see vars_a.c, vars_b.c). */
const EXPECTED = [
  '.bss\taligned_var', '.bss\tatomic_int', '.bss\tcounters', '.bss\tfnptr_array', '.bss\thandle_ptr', '.bss\thandler', '.bss\thead_a',
  '.bss\thead_b', '.bss\tjiffies_like', '.bss\topaque_ptr', '.bss\tops_b', '.bss\trestricted', '.bss\tsame_name_static_a',
  '.bss\tubig128', '.bss\tvoid_ptr', '.bss\tzero_at_bss_start',
  '.data\tbig128', '.data\tbitfields', '.data\tcolor', '.data\tdeclared_only', '.data\tf32', '.data\tf64', '.data\tf80',
  '.data\tglobal_int', '.data\tgrid', '.data\thandle_b', '.data\tnest', '.data\tnest_ptr', '.data\tnum', '.data\tops_a', '.data\tops_ptr',
  '.data\tpacked', '.data\tsame_name', '.data\tsame_name', '.data\tstatic_counter', '.data\ttiny', '.data\twide', '.data\tyes',
  '.data..percpu\tpercpu_counter', '.data..percpu\tpercpu_list',
  '.rodata\tgreeting', '.rodata\tnames', '__param\tparam_like',
];

describe('encoder/encode on the C fixtures', function () {
  this.timeout(60_000);

  it('keeps every file-level variable of every shape, and only those', () => {
    const r = encodeObject(v5);
    assert.deepEqual(varEntries(r.btf), EXPECTED);
    const reasons = new Map(r.selection.excluded.map((e) => [e.candidate.name, e.reason]));
    assert.equal(reasons.get('__UNIQUE_ID_license123'), 'reserved-prefix');
    assert.equal(reasons.get('declared_only'), 'declaration', 'the extern in vars_a.c is a declaration; the definition in vars_b.c is kept');
    assert.deepEqual(validateBtf(r.btf), []);
    assert.equal(r.btf.base, undefined);
  });

  it('converts like pahole: bitfields, enums, floats, flattened arrays, fake ints, FWD, varargs', () => {
    const btf = encodeObject(v5).btf;
    const dump = dumpRaw(btf);
    assert.match(dump, /STRUCT 'bits' size=8 vlen=6\n\t'a' type_id=\d+ bits_offset=0 bitfield_size=3\n\t'b' type_id=\d+ bits_offset=3 bitfield_size=5\n\t'c' type_id=\d+ bits_offset=8 bitfield_size=7\n\t'd' type_id=\d+ bits_offset=15 bitfield_size=40/);
    assert.match(dump, /ENUM 'color' encoding=SIGNED size=4 vlen=3/);
    assert.match(dump, /'BLUE' val=-3/);
    assert.match(dump, /ENUM64 'wide' encoding=UNSIGNED size=8 vlen=2/);
    assert.match(dump, /ENUM 'tiny' encoding=UNSIGNED size=1 vlen=2/);
    assert.match(dump, /FLOAT 'long double' size=16/);
    assert.match(dump, /INT '__int128' size=16 bits_offset=0 nr_bits=128 encoding=SIGNED/);
    assert.match(dump, /INT '_Bool' size=1 bits_offset=0 nr_bits=8 encoding=BOOL/);
    assert.match(dump, /FWD 'opaque' fwd_kind=struct/);
    const grid = btf.findByName('grid', KIND.VAR)[0]!;
    const arr = btf.type((btf.type(grid) as { type: number }).type);
    assert.equal(arr.kind, KIND.ARRAY);
    if (arr.kind === KIND.ARRAY) {
      assert.equal(arr.nelems, 24, 'int grid[2][3][4] is one array of 24');
      assert.equal(btf.nameOf(arr.indexType), 'int');
    }
    assert.match(dump, /'flex' type_id=(\d+) bits_offset=512/);
    assert.match(dump, /FUNC_PROTO '\(anon\)' ret_type_id=\d+ vlen=3\n\t'\(anon\)' type_id=\d+\n\t'\(anon\)' type_id=\d+\n\t'\(anon\)' type_id=0/, 'varargs');
    // _Atomic is transparent: atomic_int is a plain int
    const atomic = btf.type(btf.findByName('atomic_int', KIND.VAR)[0]!) as { type: number };
    assert.equal(btf.nameOf(atomic.type), 'int');
    // one copy of the types both CUs define
    assert.equal(btf.findByName('shared_ops', KIND.STRUCT).length, 1);
    assert.equal(btf.findByName('list_node', KIND.STRUCT).length, 1);
  });

  it('gives the same BTF for DWARF 4 and DWARF 5', () => {
    assert.deepEqual(writeBtf(encodeObject(v4).btf), writeBtf(encodeObject(v5).btf));
  });

  it('is deterministic: same input, same bytes', () => {
    const a = writeBtf(encodeObject(v5, { base: chainOf(chain3) }).btf);
    const b = writeBtf(encodeObject(v5, { base: chainOf(chain3) }).btf);
    assert.deepEqual(a, b);
  });

  it('reuses chain types and leaves out what the last level describes (3-level chain)', () => {
    const chain = chainOf(chain3)!;
    const r = encodeObject(v5, { base: chain });
    const btf = r.btf;
    assert.equal(btf.base, chain);
    assert.deepEqual(validateBtf(btf), []);
    // percpu_list is in mid.btf's DATASEC; percpu_counter is only in the root: still encoded
    assert.ok(!varEntries(btf).includes('.data..percpu\tpercpu_list'));
    assert.ok(varEntries(btf).includes('.data..percpu\tpercpu_counter'));
    assert.equal(r.selection.excluded.find((e) => e.candidate.name === 'percpu_list')?.reason, 'in-base');
    // the chain's struct shared_ops, list_node, int, enum color are reused, not re-emitted
    for (const [name, kind] of [['shared_ops', KIND.STRUCT], ['list_node', KIND.STRUCT], ['int', KIND.INT], ['color', KIND.ENUM]] as const) {
      assert.equal(btf.findByName(name, kind).filter((id) => id >= btf.startId).length, 0, `${name} is not duplicated`);
    }
    const opsA = btf.type(btf.findByName('ops_a', KIND.VAR)[0]!) as { type: number };
    assert.ok(opsA.type < chain.chain()[1]!.startId, 'ops_a points into base.btf');
  });

  it('leaves nothing libbpf dedup would remove (no duplicate of a chain type)', function () {
    const r = encodeObject(v5, { base: chainOf(base) });
    const f = oracleFiles(r.btf);
    const out = tmpFile('dedup.btf', new Uint8Array());
    const res = requireOk(this, dedupWithLibbpf(out, f.top, [f.root]));
    assert.equal(Number(res.split(' ')[1]), r.btf.nextId - 1, 'libbpf dedup keeps every type');
    assert.ok(typeCount(r.btf) > 0);
  });

  it('passes bpftool (flattened onto the root) and loads into the kernel (standalone)', function () {
    const r = encodeObject(v5, { base: chainOf(chain3) });
    const f = oracleFiles(r.btf);
    const dump = requireOk(this, bpftoolDump(f.flat, f.root));
    assert.match(dump, /VAR 'ops_a'/);
    requireOk(this, loadIntoKernel(f.standalone));
  });

  it('--vars percpu and none; full mode adds functions and every type', () => {
    const pc = encodeObject(v5, { vars: 'percpu' });
    assert.deepEqual(varEntries(pc.btf), ['.data..percpu\tpercpu_counter', '.data..percpu\tpercpu_list']);
    const none = encodeObject(v5, { vars: 'none', base: chainOf(base) });
    assert.equal(none.btf.types.length, 0);
    const full = encodeObject(v5, { mode: 'full' });
    assert.deepEqual(validateBtf(full.btf), []);
    assert.deepEqual(varEntries(full.btf), ['.data..percpu\tpercpu_counter', '.data..percpu\tpercpu_list']);
    const fns = full.btf.types.filter((t) => t.kind === KIND.FUNC).map((t) => full.btf.str(t.nameOff)).sort();
    // functions with an STT_FUNC symbol and named parameters, as pahole 1.24
    assert.deepEqual(fns, ['use_a', 'use_b']);
    assert.ok(full.btf.findByName('aligned_s', KIND.STRUCT).length === 1);
  });

  it('refuses objects without DWARF and unreadable files with EncoderError codes', () => {
    assert.throws(() => encodeObject(dir('nope.o')), (e: unknown) => e instanceof EncoderError && e.code === 'bad-object');
    assert.throws(() => encodeObject('x.o', {}, new Uint8Array([1, 2, 3])), (e: unknown) => e instanceof EncoderError && e.code === 'bad-object');
    const stripped = readFileSync(fixture('kernel/btf/cordic')); // raw BTF, not ELF
    assert.throws(() => encodeObject('cordic.btf', {}, stripped), (e: unknown) => e instanceof EncoderError && e.code === 'bad-object' && /cordic\.btf/.test(e.message));
  });

  it('bad DWARF: a truncated unit list or an undecodable unit is skipped with a warning, the rest encoded', () => {
    const bytes = new Uint8Array(readFileSync(v5));
    const elf = ElfFile.fromBytes(bytes, 'v5');
    const info = elf.section('.debug_info')!;
    const second = Dwarf.fromElf(elf).unitOffsets()[1]!;
    // 1. the second unit's length runs past the section
    const truncated = bytes.slice();
    new DataView(truncated.buffer).setUint32(info.offset + second, 0x7ffffff0, true);
    const r1 = encodeObject('truncated.o', {}, truncated);
    assert.ok(r1.warnings.some((w) => /unit list ends early/.test(w.message)), 'warned');
    assert.ok(varEntries(r1.btf).includes('.data	ops_a'), 'unit 1 (vars_a.c) still encoded');
    assert.ok(!varEntries(r1.btf).includes('.bss	ops_b'), 'unit 2 (vars_b.c) dropped');
    assert.deepEqual(validateBtf(r1.btf), []);
    // 2. the second unit's root DIE has an abbreviation code that does not exist
    const badAbbrev = bytes.slice();
    badAbbrev[info.offset + second + 12] = 0x7f;
    const r2 = encodeObject('abbrev.o', {}, badAbbrev);
    const w = r2.warnings.find((x) => /compile unit skipped/.test(x.message));
    assert.ok(w, 'warned');
    assert.equal(w.dieOffset, second, 'the warning names the unit offset');
    assert.ok(varEntries(r2.btf).includes('.data	ops_a'));
    assert.deepEqual(validateBtf(r2.btf), []);
  });

  it('bad DWARF: a dangling type reference skips that variable with a warning naming its DIE', () => {
    const bytes = new Uint8Array(readFileSync(v5));
    const elf = ElfFile.fromBytes(bytes, 'v5');
    const dwarf = Dwarf.fromElf(elf);
    const info = elf.section('.debug_info')!;
    const target = collectVariables(dwarf, { types: false }).variables.find((v) => v.name === 'global_int')!;
    const c = dwarf.dieAt(target.dieOffset);
    const i = c.abbrev!.attrs.indexOf(DW_AT.type);
    assert.ok(i >= 0 && c.abbrev!.forms[i] === DW_FORM.ref4 && c.abbrev!.fixedOffsets[i]! >= 0, 'fixture layout');
    const patched = bytes.slice();
    new DataView(patched.buffer).setUint32(info.offset + target.dieOffset + 1 + c.abbrev!.fixedOffsets[i]!, 0x7ffffff0, true);
    const r = encodeObject('dangling.o', {}, patched);
    const w = r.warnings.find((x) => x.dieOffset === target.dieOffset);
    assert.ok(w && /reference/.test(w.message), 'warned with the DIE offset');
    assert.ok(!varEntries(r.btf).includes('.data\tglobal_int'));
    assert.ok(varEntries(r.btf).includes('.data\tops_a'));
    assert.deepEqual(validateBtf(r.btf), []);
  });

  it('bad DWARF: an unknown form in a unit\'s abbreviations skips that unit with a warning', () => {
    const bytes = new Uint8Array(readFileSync(v5));
    const elf = ElfFile.fromBytes(bytes, 'v5');
    const abbrev = elf.section('.debug_abbrev')!;
    const patched = bytes.slice();
    // first abbreviation of the first table: code, tag, children flag, then (attribute, form) pairs
    patched[abbrev.offset + 4] = 0x7f;
    const r = encodeObject('form.o', {}, patched);
    assert.ok(r.warnings.some((w) => /compile unit skipped/.test(w.message) && /form/.test(w.message)), 'warned');
    assert.ok(varEntries(r.btf).includes('.bss\tops_b'), 'the other unit is still encoded');
    assert.deepEqual(validateBtf(r.btf), []);
  });

  it('never lets a base FWD stand in for a struct used by value', () => {
    // base: FWD nested, typedef nested_t -> FWD nested (what a CU without the definition gives)
    const base = new Btf();
    const fwd = base.addType({ kind: KIND.FWD, nameOff: base.addStr('nested'), kflag: false });
    base.addType({ kind: KIND.TYPEDEF, nameOff: base.addStr('nested_t'), kflag: false, type: fwd });
    const r = encodeObject(v5, { base });
    assert.deepEqual(validateBtf(r.btf), []);
    const btf = r.btf;
    const sizeOf = (id: number): number | undefined => {
      for (let hops = 0; hops < 10; hops++) {
        const t = btf.type(id);
        if (t.kind === KIND.STRUCT) return t.size;
        if (t.kind === KIND.TYPEDEF || t.kind === KIND.CONST || t.kind === KIND.VOLATILE) { id = t.type; continue; }
        return undefined;
      }
      return undefined;
    };
    const nest = btf.type(btf.findByName('nest', KIND.VAR)[0]!) as { type: number };
    assert.equal(sizeOf(nest.type), 64, 'struct nested is emitted, not the base FWD');
    const ptr = btf.type((btf.type(btf.findByName('nest_ptr', KIND.VAR)[0]!) as { type: number }).type) as { kind: number; type: number };
    assert.equal(ptr.kind, KIND.PTR);
    assert.equal(sizeOf(ptr.type), 64, 'nested_t resolves to the full struct');
  });

  it('round-trips through the BTF reader', () => {
    const r = encodeObject(v5, { base: chainOf(chain3) });
    const back = parseBtf(writeBtf(r.btf), { base: chainOf(chain3) });
    assert.deepEqual(varEntries(back), varEntries(r.btf));
  });
});
