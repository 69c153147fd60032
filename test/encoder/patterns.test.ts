import { strict as assert } from 'node:assert';
import type { Btf } from '../../src/btf/btf.js';
import { KIND } from '../../src/btf/kinds.js';
import { validateBtf } from '../../src/btf/validate.js';
import { collectVariables, Dwarf } from '../../src/dwarf/index.js';
import { ElfFile } from '../../src/elf/index.js';
import { encodeObject } from '../../src/encoder/encode.js';
import { explainVariables } from '../../src/encoder/explain.js';
import { compileModule } from '../support/cc.js';
import { bpftoolDump, findVarWithLibbpf, loadIntoKernel, requireOk } from '../support/kernel-load.js';
import { lookupVariable } from '../../src/daemon/lookup.js';
import { fixture } from '../support/paths.js';
import { oracleFiles, varEntries } from './support.js';

const src = (f: string): string => fixture('encoder/patterns', f);

/** The type a VAR named `name` of `btf`'s own level points at. */
function varType(btf: Btf, name: string): number {
  const id = btf.findByName(name, KIND.VAR)[0];
  assert.ok(id !== undefined, `VAR ${name}`);
  return (btf.type(id) as { type: number }).type;
}

/** Kinds along `id`'s chain of modifiers/arrays down to the first struct/union/FWD/FUNC_PROTO (included). */
function path(btf: Btf, id: number): { kinds: string[]; end: number } {
  const kinds: string[] = [];
  for (let hops = 0; hops < 40; hops++) {
    const t = btf.type(id);
    kinds.push(String(t.kind));
    if (t.kind === KIND.ARRAY) { id = t.elemType; continue; }
    if (t.kind === KIND.CONST || t.kind === KIND.VOLATILE || t.kind === KIND.TYPEDEF || t.kind === KIND.PTR) { id = t.type; continue; }
    break;
  }
  return { kinds, end: id };
}

describe('encoder: types the chain has only as a FWD, invalid types, typedefs of function types (C built here)', function () {
  this.timeout(60_000);
  let base: Btf;
  let mod: string;

  before(function () {
    const b = requireOk(this, compileModule([src('base.c')], 'base.o'));
    mod = requireOk(this, compileModule([src('mod.c')], 'mod.ko'));
    base = encodeObject(b, { mode: 'full', vars: 'all' }).btf;
    const holder = base.findByName('holder', KIND.STRUCT);
    assert.equal(holder.length, 1);
    assert.deepEqual(base.findByName('uapi_definition', KIND.STRUCT), [], 'the base has struct uapi_definition only as a FWD');
    assert.equal(base.findByName('uapi_definition', KIND.FWD).length, 1);
  });

  it('carries the definition a variable needs when the chain has only a FWD, and reuses the rest', function () {
    const r = encodeObject(mod, { base });
    assert.deepEqual(validateBtf(r.btf), []);
    const btf = r.btf;
    const defs = path(btf, varType(btf, 'defs'));
    const end = btf.type(defs.end);
    assert.equal(end.kind, KIND.STRUCT, 'defs ends in the struct, not the base FWD');
    assert.equal((end as { size: number }).size, 16);
    assert.ok(defs.end >= base.nextId, 'the definition is in the extras');
    assert.equal(varType(btf, 'mod_holder'), base.findByName('holder', KIND.STRUCT)[0], 'struct holder reused from the base');
    assert.ok(varEntries(btf).includes('.rodata\tmod_ops'));
    const f = oracleFiles(btf);
    requireOk(this, bpftoolDump(f.flat, f.root));
    requireOk(this, loadIntoKernel(f.standalone));
  });

  it('leaves out a variable whose type cannot be valid BTF, names it and why; the others are published', function () {
    const r = encodeObject(mod, { base });
    assert.deepEqual(validateBtf(r.btf), []);
    assert.ok(!varEntries(r.btf).some((e) => e.endsWith('\ttoo_deep')));
    assert.deepEqual(varEntries(r.btf), ['.bss\tmod_holder', '.data\tdefs_ptr', '.rodata\tdefs', '.rodata\tmod_ops']);
    const out = r.selection.excluded.filter((e) => e.reason === 'invalid-type');
    assert.deepEqual(out.map((e) => e.candidate.name), ['too_deep']);
    assert.match(out[0]!.detail!, /resolve-depth/);
    const w = r.warnings.find((x) => /too_deep/.test(x.message));
    assert.ok(w, 'a warning names the variable');
    assert.match(w.message, /left out.*resolve-depth/);
    assert.equal(w.dieOffset, out[0]!.candidate.dieOffset);
    // vars --explain: the same rule and the same words, for the same DIE
    const elf = ElfFile.open(mod);
    const dwarf = Dwarf.fromElf(elf);
    const decisions = explainVariables(elf, dwarf, collectVariables(dwarf).variables, { base });
    const d = decisions.find((x) => x.variable.name === 'too_deep')!;
    assert.equal(d.reason, 'invalid-type');
    assert.equal(d.detail, out[0]!.detail);
    assert.equal(decisions.find((x) => x.variable.name === 'defs')!.reason, undefined);
    const f = oracleFiles(r.btf);
    requireOk(this, loadIntoKernel(f.standalone));
  });

  it('full mode: same rule, every other type and variable kept, kernel-valid', function () {
    const r = encodeObject(mod, { base, mode: 'full', vars: 'all' });
    assert.deepEqual(validateBtf(r.btf), []);
    assert.ok(varEntries(r.btf).includes('.rodata\tdefs'));
    requireOk(this, loadIntoKernel(oracleFiles(r.btf).standalone));
  });

  it('full mode keeps a typedef of a function type (sctp_state_fn_t) and what points at it', function () {
    const o = requireOk(this, compileModule([src('sctp_statefuns.c'), src('sctp_statetable.c')], 'sctp.ko'));
    for (const b of [undefined, base]) {
      const r = encodeObject(o, { base: b, mode: 'full' });
      const btf = r.btf;
      const td = btf.findByName('sctp_state_fn_t', KIND.TYPEDEF);
      assert.equal(td.length, 1);
      const proto = btf.type((btf.type(td[0]!) as { type: number }).type);
      assert.equal(proto.kind, KIND.FUNC_PROTO);
      assert.equal((proto as { params: unknown[] }).params.length, 6);
      const entry = btf.type(btf.findByName('sctp_sm_table_entry', KIND.STRUCT)[0]!) as { members: { type: number }[] };
      const fn = btf.type(entry.members[0]!.type) as { kind: number; type: number };
      assert.equal(fn.kind, KIND.PTR);
      assert.equal(fn.type, td[0]);
      assert.ok(btf.findByName('sctp_sf_bug', KIND.FUNC).length === 1);
      requireOk(this, loadIntoKernel(oracleFiles(btf).standalone));
    }
  });

  it('an alias (a data symbol at a variable\'s address with only declarations, like jiffies) gets a VAR of its declared type', function () {
    const o = requireOk(this, compileModule([src('alias.c')], 'alias.ko'));
    const r = encodeObject(o, { base });
    const btf = r.btf;
    assert.deepEqual(validateBtf(btf), []);
    assert.deepEqual(varEntries(btf), ['.data\tother_var', '.data\tticks', '.data\tticks_64']);
    // two DATASECs named .data: the variables, then the aliases (entries of one DATASEC may not overlap)
    const secs = btf.types.filter((t) => t.kind === KIND.DATASEC);
    assert.deepEqual(secs.map((t) => [btf.str(t.nameOff), (t as { vars: unknown[] }).vars.length]), [['.data', 2], ['.data', 1]]);
    const [ticks] = lookupVariable(btf, 'ticks', () => 'alias');
    const [ticks64] = lookupVariable(btf, 'ticks_64', () => 'alias');
    assert.deepEqual([ticks!.section, ticks!.offset, ticks!.size, ticks!.cType, ticks!.linkage], ['.data', ticks64!.offset, 8, 'volatile long unsigned int', 'global']);
    const sel = r.selection.sections.find((s) => s.aliases)!.vars[0]!;
    assert.equal(sel.aliasOf, 'ticks_64');
    const left = r.selection.excluded.filter((e) => e.candidate.name === 'defined_elsewhere').map((e) => e.reason);
    assert.deepEqual(left, ['declaration'], 'a declaration with no symbol here is no alias');
    const f = oracleFiles(btf);
    assert.equal(requireOk(this, findVarWithLibbpf('ticks', f.standalone)), String(btf.findByName('ticks', KIND.VAR)[0]!));
    requireOk(this, loadIntoKernel(f.standalone));
  });
});
