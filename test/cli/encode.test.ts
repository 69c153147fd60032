import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/btf-extra.js';
import { parseBatch } from '../../src/cli/commands/encode.js';
import { Btf } from '../../src/btf/btf.js';
import { KIND } from '../../src/btf/kinds.js';
import { parseBtf } from '../../src/btf/parse.js';
import { checkEncoded, checkTypeLimit } from '../../src/encoder/output.js';
import { EncoderError } from '../../src/encoder/errors.js';
import { captureIo } from '../support/cli-io.js';
import { fixture } from '../support/paths.js';
import { chainOf, tmp, varEntries } from '../encoder/support.js';

const obj = fixture('encoder/vars-dwarf5.o');
const baseArgs = ['--base', fixture('encoder/base.btf'), '--base', fixture('encoder/mid.btf')];

describe('cli/encode', function () {
  this.timeout(60_000);

  it('writes extras split on the last --base (the daemon contract) and exits 0', async () => {
    const out = join(tmp, 'cli-extras.btf');
    const io = captureIo();
    const code = await main(['encode', obj, ...baseArgs, '--vars', 'all', '-o', out], io);
    assert.equal(code, 0, io.stderr());
    const btf = parseBtf(readFileSync(out), { base: chainOf([fixture('encoder/base.btf'), fixture('encoder/mid.btf')]) });
    assert.ok(varEntries(btf).includes('.data\tops_a'));
  });

  it('runs as a child process, as the daemon does', () => {
    // the compiled entry beside this compiled test (dist/ or a .build/ dir)
    const entry = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/btf-extra.js');
    const out = join(tmp, 'child.btf');
    const r = spawnSync(process.execPath, [entry, 'encode', obj, ...baseArgs, '--vars', 'all', '-o', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(readFileSync(out).length > 24);
  });

  it('--explain lists every variable, kept or with the rule that leaves it out', async () => {
    const io = captureIo();
    assert.equal(await main(['encode', obj, ...baseArgs, '--explain'], io), 0);
    const out = io.stdout();
    assert.match(out, /^\.data\t\+0x[0-9a-f]+\t40\tops_a\tkept$/m);
    assert.match(out, /\t__UNIQUE_ID_license123\treserved-prefix: /);
    assert.match(out, /\tpercpu_list\tin-base: already described by the base BTF/);
    assert.match(out, /\tlocal_static_a\tfunction-local|declared_only\tdeclaration/);
  });

  it('--jobs N: the same bytes for any N; --timings says how the work was cut', async () => {
    const outs: Buffer[] = [];
    for (const jobs of ['1', '3']) {
      const out = join(tmp, `cli-jobs${jobs}.btf`);
      const io = captureIo();
      assert.equal(await main(['encode', obj, '--mode', 'full', '--jobs', jobs, '--timings', '-o', out], io), 0, io.stderr());
      assert.match(io.stderr(), /1 chunk\(s\) on 1 thread\(s\)/, 'a small object is one chunk on one thread');
      outs.push(readFileSync(out));
    }
    assert.ok(outs[0]!.equals(outs[1]!));
  });

  it('--mode full and --vars percpu', async () => {
    const out = join(tmp, 'cli-full.btf');
    assert.equal(await main(['encode', obj, '--mode', 'full', '-o', out], captureIo()), 0);
    const btf = parseBtf(readFileSync(out));
    assert.ok(btf.types.some((t) => t.kind === KIND.FUNC));
    assert.deepEqual(varEntries(btf), ['.data..percpu\tpercpu_counter', '.data..percpu\tpercpu_list']);
  });

  it('--batch encodes every line of LIST in one process, reporting each', async () => {
    const list = join(tmp, 'jobs.txt');
    const o1 = join(tmp, 'b1.btf');
    const o2 = join(tmp, 'b2.btf');
    writeFileSync(list, `# object out bases...\n${obj} ${o1} ${fixture('encoder/base.btf')}\n\n${fixture('encoder/vars-dwarf4.o')} ${o2}\n`);
    const io = captureIo();
    assert.equal(await main(['encode', '--batch', list], io), 0, io.stderr());
    assert.equal(io.stdout().split('\n').filter((l) => l.startsWith('ok ')).length, 2);
    assert.ok(existsSync(o1) && existsSync(o2));
    // a batch job writes the same bytes as the same job run alone
    const alone = join(tmp, 'alone.btf');
    assert.equal(await main(['encode', obj, '--base', fixture('encoder/base.btf'), '-o', alone], captureIo()), 0);
    assert.deepEqual(readFileSync(o1), readFileSync(alone));
    // a failing job does not stop the others, and the exit status says so
    writeFileSync(list, `${fixture('encoder/missing.o')} ${join(tmp, 'x.btf')}\n${obj} ${o1}\n`);
    const io2 = captureIo();
    assert.equal(await main(['encode', '--batch', list], io2), 1);
    assert.match(io2.stdout(), /^ok .*vars-dwarf5\.o/m);
    assert.match(io2.stderr(), /missing\.o/);
  });

  it('usage errors exit 2; bad input exits 1 with one line', async () => {
    for (const args of [['encode'], ['encode', obj, '--mode', 'half'], ['encode', obj, '--vars', 'some'], ['encode', '--batch', 'x', obj], ['encode', obj, '--bogus'],
      ['encode', obj, '--jobs', '0'], ['encode', obj, '-j', '1.5'], ['encode', obj, '--jobs', 'many']]) {
      const io = captureIo();
      assert.equal(await main(args, io), 2, args.join(' '));
    }
    const io = captureIo();
    assert.equal(await main(['encode', fixture('encoder/nope.o'), '-o', join(tmp, 'n.btf')], io), 1);
    assert.equal(io.stderr().trim().split('\n').length, 1);
    const io2 = captureIo();
    assert.equal(await main(['encode', obj, '--base', fixture('encoder/vars_a.c'), '-o', join(tmp, 'n.btf')], io2), 1);
    assert.match(io2.stderr(), /vars_a\.c/);
    assert.ok(!existsSync(join(tmp, 'n.btf')), 'nothing written on error');
  });

  it('error code too-many-types past the kernel\'s 0xfffff ids', () => {
    assert.doesNotThrow(() => checkTypeLimit(0xfffff, 'vmlinux'));
    assert.throws(() => checkTypeLimit(0x100000, 'vmlinux'), (e: unknown) => e instanceof EncoderError && e.code === 'too-many-types' && /vmlinux/.test(e.message));
  });

  it('error codes: no-debug-info, bad-base, bad-batch, invalid-output', async () => {
    const { encodeObject } = await import('../../src/encoder/encode.js');
    const { readBaseChain } = await import('../../src/encoder/chain.js');
    // an ELF without .debug_info: strip a copy of the fixture
    const stripped = join(tmp, 'stripped.o');
    const r = spawnSync('objcopy', ['--strip-debug', obj, stripped]);
    if (r.status === 0) {
      assert.throws(() => encodeObject(stripped), (e: unknown) => e instanceof EncoderError && e.code === 'no-debug-info');
    }
    assert.throws(() => readBaseChain([fixture('encoder/vars_a.c')]), (e: unknown) => e instanceof EncoderError && e.code === 'bad-base');
    assert.throws(() => readBaseChain([join(tmp, 'absent.btf')]), (e: unknown) => e instanceof EncoderError && e.code === 'bad-base');
    assert.throws(() => parseBatch('only-one-field\n'), (e: unknown) => e instanceof EncoderError && e.code === 'bad-batch');
    assert.deepEqual(parseBatch('# c\n a.ko a.btf v m \n'), [{ object: 'a.ko', out: 'a.btf', bases: ['v', 'm'] }]);
    // a level with a DATASEC whose entries overlap is refused before anything is written
    const bad = new Btf();
    const int = bad.addType({ kind: KIND.INT, nameOff: bad.addStr('int'), kflag: false, size: 4, encoding: 1, bitOffset: 0, bits: 32 });
    const v1 = bad.addType({ kind: KIND.VAR, nameOff: bad.addStr('a'), kflag: false, type: int, linkage: 1 });
    const v2 = bad.addType({ kind: KIND.VAR, nameOff: bad.addStr('b'), kflag: false, type: int, linkage: 1 });
    bad.addType({ kind: KIND.DATASEC, nameOff: bad.addStr('.data'), kflag: false, size: 8, vars: [{ type: v1, offset: 0, size: 4 }, { type: v2, offset: 2, size: 4 }] });
    assert.throws(() => checkEncoded(bad, 'x.ko'), (e: unknown) => e instanceof EncoderError && e.code === 'invalid-output' && /x\.ko/.test(e.message));
  });
});
