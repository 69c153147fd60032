import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/btf-extra.js';
import { writeBtf } from '../../src/btf/write.js';
import { fixture } from '../support/paths.js';
import { captureIo } from '../support/cli-io.js';
import { threeLevels, vmlinuxBytes } from '../btf/sample.js';

describe('btf-extra dump', () => {
  let dir: string;
  let vmlinux: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'btfcore-cli-dump-'));
    vmlinux = join(dir, 'vmlinux');
    writeFileSync(vmlinux, vmlinuxBytes());
  });
  after(() => { rmSync(dir, { recursive: true }); });

  const run = async (...args: string[]): Promise<{ code: number; out: string; err: string }> => {
    const io = captureIo();
    const code = await main(['dump', ...args], io);
    return { code, out: io.stdout(), err: io.stderr() };
  };

  it('raw output of a module on vmlinux is bpftool\'s, byte for byte', async () => {
    const m = fixture('kernel/btf/tcp_bbr');
    const r = await run(m, '--base', vmlinux);
    assert.equal(r.code, 0);
    assert.equal(r.out, execFileSync('bpftool', ['btf', 'dump', 'file', m, '-B', vmlinux], { encoding: 'utf8' }));
  });

  it('reads the .BTF of an ELF module', async () => {
    const r = await run(fixture('kernel/debug/crc7.ko'), '--base', vmlinux, '--format', 'json');
    assert.equal(r.code, 0);
    const doc = JSON.parse(r.out) as { types: { name: string; kind: string }[] };
    assert.ok(doc.types.some((t) => t.name === 'crc7_be' && t.kind === 'FUNC'));
  });

  it('--base repeats root first for a 3-level chain; C output declares the variables', async () => {
    const { base, mid, top } = threeLevels();
    const paths = ['base', 'mid', 'top'].map((n) => join(dir, n));
    [base, mid, top].forEach((b, i) => writeFileSync(paths[i]!, writeBtf(b)));
    const raw = await run(paths[2]!, '--base', paths[0]!, '--base', paths[1]!);
    assert.equal(raw.code, 0);
    assert.match(raw.out, /^\[6\] VAR 'top_var' type_id=4, linkage=global$/m);
    const c = await run(paths[2]!, '--base', paths[0]!, '--base', paths[1]!, '--format', 'c');
    assert.match(c.out, /^extern struct mid_s top_var __ksym __weak;$/m);
    assert.doesNotMatch(c.out, /^struct base_s \{$/m, 'only the level and what it needs');
    const whole = await run(paths[2]!, '--base', paths[0]!, '--base', paths[1]!, '--format', 'c', '--whole-chain');
    assert.match(whole.out, /^struct base_s \{$/m);
  });

  it('usage errors exit 2, bad files exit 1 with one line naming file and offset', async () => {
    assert.equal((await run()).code, 2);
    assert.equal((await run(vmlinux, '--format', 'xml')).code, 2);
    assert.equal((await run(vmlinux, '--bogus')).code, 2);
    assert.equal((await run(vmlinux, '--whole-chain')).code, 2, '--whole-chain needs --format c');
    const bad = join(dir, 'bad');
    const bytes = writeBtf(threeLevels().base);
    bytes[24 + 4 + 3] = 25; // kind 25
    writeFileSync(bad, bytes);
    const r = await run(bad);
    assert.equal(r.code, 1);
    assert.equal(r.err, `btf-extra dump: ${bad}: BTF types +0x0: type [1]: kind 25 is not a BTF kind (1..19)\n`);
    const help = captureIo();
    assert.equal(await main(['dump', '--help'], help), 0);
    assert.match(help.stdout(), /--format FORMAT/);
  });
});
