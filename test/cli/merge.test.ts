/**
 * `btf-extra merge` in-process: --onto K on a 3-level chain (also written MODULE+EXTRA),
 * --standalone for one chain and for siblings, and every usage/input error's exit code.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KIND } from '../../src/btf/kinds.js';
import { mergeSiblings } from '../../src/btf/merge.js';
import { parseBtf } from '../../src/btf/parse.js';
import { writeBtf } from '../../src/btf/write.js';
import { main } from '../../src/cli/btf-extra.js';
import { extrasChain } from '../btf/merge-fixtures.js';
import { FIXTURE_MODULES, vmlinux, vmlinuxBytes } from '../btf/sample.js';
import { captureIo } from '../support/cli-io.js';
import { bpftoolDump, requireOk } from '../support/kernel-load.js';
import { fixture } from '../support/paths.js';

describe('btf-extra merge', () => {
  let dir: string;
  let vmPath: string, modPath: string, extraPath: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cli-merge-'));
    const { mod, extras } = extrasChain();
    vmPath = join(dir, 'vmlinux');
    modPath = join(dir, 'loop');
    extraPath = join(dir, 'loop-btf-extra');
    writeFileSync(vmPath, vmlinuxBytes());
    writeFileSync(modPath, writeBtf(mod));
    writeFileSync(extraPath, writeBtf(extras));
  });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    const io = captureIo();
    const code = await main(['merge', ...argv], io);
    return { code, out: io.stdout(), err: io.stderr() };
  }

  it('--onto 1 joins module + extras into one level on vmlinux (also as MODULE+EXTRA)', async function () {
    const out1 = join(dir, 'onto1');
    const r = await run(extraPath, '--base', vmPath, '--base', modPath, '--onto', '1', '-o', out1);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /onto1: \d+ types, \d+ bytes \(2 level\(s\) joined, split on .*vmlinux\)/);
    const vm = vmlinux();
    const { mod, extras } = extrasChain();
    const flat = parseBtf(readFileSync(out1), { base: vm });
    assert.equal(flat.types.length, mod.types.length + extras.types.length);
    assert.equal(flat.findByName('extra_counter', KIND.VAR).length, 1);
    const out2 = join(dir, 'onto1-chain');
    const r2 = await run('--base', vmPath, `${modPath}+${extraPath}`, '--onto', '1', '-o', out2);
    assert.equal(r2.code, 0, r2.err);
    assert.deepEqual(readFileSync(out2), readFileSync(out1));
    requireOk(this, bpftoolDump(out2, vmPath));
  });

  it('--onto 2 keeps vmlinux and the module as the base (the level itself, optionally deduplicated)', async () => {
    const out = join(dir, 'onto2');
    const r = await run(extraPath, '--base', vmPath, '--base', modPath, '--onto', '2', '--dedup', '-o', out);
    assert.equal(r.code, 0, r.err);
    const { mod, extras } = extrasChain();
    const back = parseBtf(readFileSync(out), { base: mod });
    // the extras' PTR to loop_device is the module's own: dedup drops it
    assert.equal(back.types.length, extras.types.length - 1);
  });

  it('--standalone flattens one chain; several FILEs merge as siblings', async () => {
    const sa = join(dir, 'standalone');
    const r = await run(`${modPath}+${extraPath}`, '--base', vmPath, '--standalone', '-o', sa);
    assert.equal(r.code, 0, r.err);
    const { extras } = extrasChain();
    const flat = parseBtf(readFileSync(sa));
    assert.equal(flat.nextId, extras.nextId);

    const sib = join(dir, 'siblings');
    const files = FIXTURE_MODULES.map((m) => fixture('kernel/btf', m));
    const r2 = await run('--standalone', '--base', vmPath, ...files, '-o', sib);
    assert.equal(r2.code, 0, r2.err);
    assert.match(r2.out, /5 siblings merged on .*vmlinux, standalone/);
    const vm = vmlinux();
    const expected = mergeSiblings(vm, FIXTURE_MODULES.map((m) => parseBtf(readFileSync(fixture('kernel/btf', m)), { base: vm })));
    assert.deepEqual(new Uint8Array(readFileSync(sib)), writeBtf(expected));
  });

  it('exits 2 on usage errors, writing nothing', async () => {
    const out = join(dir, 'never');
    const cases: [string[], RegExp][] = [
      [[extraPath, '--base', vmPath, '--onto', '1'], /missing -o/],
      [[extraPath, '--base', vmPath, '-o', out], /exactly one of --onto K and --standalone/],
      [[extraPath, '--base', vmPath, '--onto', '1', '--standalone', '-o', out], /exactly one of/],
      [[extraPath, '--base', vmPath, '--base', modPath, '--onto', '3', '-o', out], /the chain has 3 levels, so K must be 1\.\.2/],
      [[extraPath, '--base', vmPath, '--base', modPath, '--onto', '0', '-o', out], /K must be 1\.\.2/],
      [[extraPath, '--base', vmPath, '--onto', 'two', '-o', out], /--onto expects a level count/],
      [[modPath, extraPath, '--base', vmPath, '--onto', '1', '-o', out], /several FILEs \(siblings\) need --standalone/],
      [[modPath, extraPath, '--standalone', '-o', out], /siblings need their shared base/],
      [['--standalone', '-o', out], /expected at least one FILE/],
      [[`${modPath}+`, '--standalone', '-o', out], /empty part in chain/],
      [[extraPath, '--frobnicate', '-o', out], /Unknown option/],
    ];
    for (const [argv, msg] of cases) {
      const r = await run(...argv);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.err}`);
      assert.match(r.err, msg);
      assert.equal(r.err.split('\n').length, 2, 'one line');
    }
    assert.equal(existsSync(out), false);
  });

  it('exits 1 with a one-line error naming the file on unreadable or broken input', async () => {
    const out = join(dir, 'never2');
    const missing = join(dir, 'no-such-file');
    const r = await run(missing, '--standalone', '-o', out);
    assert.equal(r.code, 1);
    assert.match(r.err, /no-such-file: cannot read/);
    const broken = join(dir, 'broken');
    writeFileSync(broken, Buffer.from([0x9f, 0xeb, 1, 0, 24, 0, 0, 0]));
    const r2 = await run(broken, '--base', vmPath, '--onto', '1', '-o', out);
    assert.equal(r2.code, 1);
    assert.match(r2.err, /broken: BTF header \+0x0: .* too short/);
    assert.equal(r2.err.split('\n').length, 2);
    assert.equal(existsSync(out), false);
  });

  it('prints its usage on --help', async () => {
    const r = await run('--help');
    assert.equal(r.code, 0);
    assert.match(r.out, /--onto K +keep the first K levels/);
  });
});
