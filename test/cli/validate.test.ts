import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/btf-extra.js';
import { BtfBuilder } from '../../src/btf/builder.js';
import { writeBtf } from '../../src/btf/write.js';
import { fixture } from '../support/paths.js';
import { captureIo } from '../support/cli-io.js';
import { threeLevels, vmlinuxBytes } from '../btf/sample.js';

describe('btf-extra validate', () => {
  let dir: string;
  let vmlinux: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'btfcore-cli-validate-'));
    vmlinux = join(dir, 'vmlinux');
    writeFileSync(vmlinux, vmlinuxBytes());
  });
  after(() => { rmSync(dir, { recursive: true }); });

  const run = async (...args: string[]): Promise<{ code: number; out: string }> => {
    const io = captureIo();
    const code = await main(['validate', ...args], io);
    return { code, out: io.stdout() };
  };

  it('a valid module on vmlinux: exit 0', async () => {
    const m = fixture('kernel/btf/loop');
    const r = await run(m, '--base', vmlinux);
    assert.equal(r.code, 0);
    assert.match(r.out, /loop: valid \(\d+ types, ids 95247\.\.\d+\)\n$/);
  });

  it('problems: exit 1, one line each naming the file, type id, kind and rule', async () => {
    const { base, mid } = threeLevels();
    const b = new BtfBuilder({ base: mid });
    const v1 = b.addVar('one', 1, 1);
    const v2 = b.addVar('two', 1, 2);
    b.addDatasec('.data', 8);
    b.addVarInfo(v1, 0, 4);
    b.addVarInfo(v2, 2, 4);
    const paths = ['base', 'mid', 'bad'].map((n) => join(dir, n));
    [base, mid, b.finish()].forEach((l, i) => writeFileSync(paths[i]!, writeBtf(l)));
    const r = await run(paths[2]!, '--base', paths[0]!, '--base', paths[1]!);
    assert.equal(r.code, 1);
    const lines = r.out.trimEnd().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, new RegExp(`^${paths[2]}: \\[${v2}\\] VAR: var-linkage: VAR 'two': linkage 2`));
    assert.match(lines[1]!, new RegExp(`^${paths[2]}: \\[${v2 + 1}\\] DATASEC: datasec-overlap: `));
  });

  it('--all-levels checks the bases too', async () => {
    const { base, mid, top } = threeLevels();
    const paths = ['b', 'm', 't'].map((n) => join(dir, n));
    [base, mid, top].forEach((l, i) => writeFileSync(paths[i]!, writeBtf(l)));
    const r = await run(paths[2]!, '--base', paths[0]!, '--base', paths[1]!, '--all-levels');
    assert.equal(r.code, 0);
    assert.equal(r.out.trimEnd().split('\n').length, 3);
  });

  it('unreadable BTF: exit 1 with the parse error and its offset', async () => {
    const p = join(dir, 'trunc');
    writeFileSync(p, writeBtf(threeLevels().base).subarray(0, 30));
    const r = await run(p);
    assert.equal(r.code, 1);
    assert.match(r.out, /trunc: BTF header \+0x8: type section \[0, \+\d+\) runs past the 6 data bytes \(section-out-of-bounds\)\n$/);
    assert.equal((await run()).code, 2);
  });

  it('a split module given without its base: exit 1 with a hint', async () => {
    const r = await run(fixture('kernel/btf/crc7'));
    assert.equal(r.code, 1);
    assert.match(r.out, /crc7: BTF strings \+0x0: .*split BTF\? give its base chain\) \(bad-string-section\)\n$/);
  });
});
