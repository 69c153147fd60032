import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Btf } from '../../src/btf/btf.js';
import { dumpRaw } from '../../src/btf/dump-raw.js';
import { parseBtf, readBtfFile } from '../../src/btf/parse.js';
import { writeBtf } from '../../src/btf/write.js';
import { fixture, kernelDir, requireShared } from '../support/paths.js';
import { FIXTURE_MODULES, allKinds, threeLevels, vmlinux, vmlinuxBytes } from './sample.js';

function bpftool(args: string[]): string {
  return execFileSync('bpftool', args, { encoding: 'utf8', maxBuffer: 1 << 30 });
}

/** Compares line by line first so a failure names the first differing line. */
function sameText(ours: string, theirs: string, what: string): void {
  if (ours === theirs) return;
  const a = ours.split('\n');
  const b = theirs.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) assert.fail(`${what}: line ${i + 1} differs:\n  ours:    ${a[i]}\n  bpftool: ${b[i]}`);
  }
  assert.fail(`${what}: texts differ`);
}

describe('btf/dump-raw', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'btfcore-dump-')); });
  after(() => { rmSync(dir, { recursive: true }); });

  const write = (name: string, btf: Btf): string => {
    const p = join(dir, name);
    writeFileSync(p, writeBtf(btf));
    return p;
  };

  it('vmlinux: identical to bpftool', () => {
    const p = join(dir, 'vmlinux');
    writeFileSync(p, vmlinuxBytes());
    sameText(dumpRaw(vmlinux()), bpftool(['btf', 'dump', 'file', p]), 'vmlinux');
  });

  it('fixture modules with -B vmlinux: identical to bpftool', () => {
    const vp = join(dir, 'vmlinux');
    writeFileSync(vp, vmlinuxBytes());
    for (const m of FIXTURE_MODULES) {
      const f = fixture('kernel/btf', m);
      sameText(dumpRaw(readBtfFile(f, { base: vmlinux() })), bpftool(['btf', 'dump', 'file', f, '-B', vp]), m);
    }
  });

  it('every kind and kind_flag case: identical to bpftool', () => {
    const p = write('all', allKinds());
    const ours = dumpRaw(parseBtf(readFileSync(p)));
    sameText(ours, bpftool(['btf', 'dump', 'file', p]), 'all kinds');
    assert.match(ours, /DECL_TAG 'param_tag' type_id=19 component_idx=0/);
    assert.match(ours, /'NEG' val=-5LL/);
  });

  it('odd names: anonymous, empty string at a non-zero offset, offset inside a string', () => {
    const btf = allKinds();
    const t = btf.types[0]!;
    t.nameOff = btf.findStr('int')! + 1; // "nt"
    const p = write('odd', btf);
    sameText(dumpRaw(parseBtf(readFileSync(p))), bpftool(['btf', 'dump', 'file', p]), 'odd names');
  });

  it('2-level split of a built chain: identical to bpftool -B', () => {
    const { base, mid } = threeLevels();
    const bp = write('base', base);
    const mp = write('mid', mid);
    sameText(dumpRaw(mid), bpftool(['btf', 'dump', 'file', mp, '-B', bp]), 'mid');
    sameText(dumpRaw(base), bpftool(['btf', 'dump', 'file', bp]), 'base');
  });

  it('vmlinux + all 1121 modules: identical to bpftool (shared, one batched bpftool run)', function () {
    requireShared(this);
    this.timeout(300000);
    const vp = join(kernelDir, 'btf/vmlinux');
    const v = readBtfFile(vp);
    sameText(dumpRaw(v), bpftool(['btf', 'dump', 'file', vp]), 'vmlinux');
    const mdir = join(kernelDir, 'btf/modules');
    const names = readdirSync(mdir).sort();
    // One bpftool process with the base parsed once: `bpftool -B vmlinux batch file CMDS`.
    const cmds = join(dir, 'cmds');
    writeFileSync(cmds, names.map((n) => `btf dump file ${join(mdir, n)}\n`).join(''));
    // bpftool 7.1 ends batch mode with a spurious "reading batch file failed" (exit 255) after the
    // last command; the comparison below proves every dump was printed in full.
    const run = spawnSync('bpftool', ['-B', vp, 'batch', 'file', cmds], { encoding: 'utf8', maxBuffer: 1 << 30 });
    assert.ok(run.status === 0 || /reading batch file failed/.test(run.stderr), run.stderr);
    const theirs = run.stdout;
    let pos = 0;
    for (const n of names) {
      const ours = dumpRaw(readBtfFile(join(mdir, n), { base: v }));
      sameText(ours, theirs.slice(pos, pos + ours.length), n);
      pos += ours.length;
    }
    assert.equal(pos, theirs.length, 'bpftool printed more than our dumps');
  });
});
