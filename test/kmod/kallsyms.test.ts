/**
 * Hazard 3: the kernel finds a __ksym's address by name. Which variables a companion keeps: the
 * pure kallsyms rule, and the BTF builder leaving out duplicated and ambiguous names (with their
 * DATASEC entries, and a DATASEC left empty).
 */
import { strict as assert } from 'node:assert';
import { BtfBuilder } from '../../src/btf/builder.js';
import { KIND } from '../../src/btf/kinds.js';
import { validateBtf } from '../../src/btf/validate.js';
import { buildCompanionBtf } from '../../src/kmod/companion-btf.js';
import { KmodError } from '../../src/kmod/errors.js';
import { nameResolvesTo, parseKallsyms } from '../../src/kmod/kallsyms.js';
import { vmlinux } from '../btf/sample.js';

const KALLSYMS = [
  'ffffffff81000000 T _text',
  'ffffffff82a0c000 D jiffies_64',
  'ffffffff82b00010 d debug',
  'ffffffff82b00020 d debug',
  'ffffffffc0a01000 d max_loop\t[loop]',
  'ffffffffc0b01000 d verbose\t[crc7]',
  'ffffffffc0a01010 d verbose\t[loop]',
  'ffffffffc0a01020 d debug\t[loop]',
  'garbage',
].join('\n');

describe('kmod kallsyms (hazard 3: addresses by name)', () => {
  const index = parseKallsyms(KALLSYMS);

  it('parses owners: vmlinux as "", modules from [MODULE]', () => {
    assert.deepEqual(index.get('debug'), ['', '', 'loop']);
    assert.deepEqual(index.get('max_loop'), ['loop']);
    assert.equal(index.get('garbage'), undefined);
  });

  it('vmlinux: exactly one vmlinux symbol of the name, or none anywhere', () => {
    assert.equal(nameResolvesTo(index, 'jiffies_64', 'vmlinux'), true);
    assert.equal(nameResolvesTo(index, 'init_data_gone', 'vmlinux'), true, 'absent: a program fails to load, cleanly');
    assert.equal(nameResolvesTo(index, 'debug', 'vmlinux'), false, 'two vmlinux statics');
    assert.equal(nameResolvesTo(index, 'max_loop', 'vmlinux'), false, 'only a module has it');
  });

  it('a module: its own symbol only (none while not loaded), never vmlinux\'s or another module\'s', () => {
    assert.equal(nameResolvesTo(index, 'max_loop', 'loop'), true);
    assert.equal(nameResolvesTo(index, 'not_loaded_yet', 'loop'), true);
    assert.equal(nameResolvesTo(index, 'verbose', 'loop'), false, 'crc7 has one too');
    assert.equal(nameResolvesTo(index, 'debug', 'loop'), false, 'vmlinux is searched first');
    assert.equal(nameResolvesTo(index, 'max_loop', 'crc7'), false, 'belongs to loop');
  });

  it('the companion BTF leaves out duplicated names and names the kernel would resolve elsewhere', () => {
    const vm = vmlinux();
    const int = vm.findByName('int', KIND.INT)[0]!;
    const b = new BtfBuilder({ base: vm, source: 'extras' });
    const a1 = b.addVar('twice', int, 0);
    const a2 = b.addVar('twice', int, 0);
    const ok = b.addVar('unique_one', int, 0);
    const amb = b.addVar('debug', int, 0);
    b.addDatasec('.data', 16);
    b.addVarInfo(a1, 0, 4);
    b.addVarInfo(ok, 4, 4);
    b.addVarInfo(a2, 8, 4);
    b.addVarInfo(amb, 12, 4);
    b.addDatasec('.bss', 4);
    b.addVarInfo(a2, 0, 4);
    const extras = b.finish();
    const r = buildCompanionBtf(vm, extras, { resolvesByName: (n) => nameResolvesTo(index, n, 'vmlinux') });
    assert.deepEqual(r.dropped, [{ name: 'twice', reason: 'duplicate-name' }, { name: 'twice', reason: 'duplicate-name' }, { name: 'debug', reason: 'ambiguous-address' }]);
    assert.equal(r.variables, 1);
    assert.deepEqual(validateBtf(r.btf), []);
    const own = r.btf.types;
    assert.deepEqual(own.filter((t) => t.kind === KIND.VAR).map((t) => r.btf.str(t.nameOff)), ['unique_one']);
    const secs = own.filter((t) => t.kind === KIND.DATASEC);
    assert.equal(secs.length, 1, '.bss held only dropped variables: left out');
    assert.equal(r.datasecs, 1);
    assert.deepEqual(secs[0]!.kind === KIND.DATASEC && secs[0]!.vars.map((v) => v.offset), [4]);
    // Without kallsyms, only the duplicates go.
    assert.equal(buildCompanionBtf(vm, extras).variables, 2);
    // Nothing left: no companion.
    assert.throws(() => buildCompanionBtf(vm, extras, { resolvesByName: () => false }),
      (e: unknown) => e instanceof KmodError && e.code === 'no-variables' && /ambiguous by name/.test(e.message));
  });
});
