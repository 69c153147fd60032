import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dumpJson } from '../../src/btf/dump-json.js';
import { readBtfFile } from '../../src/btf/parse.js';
import { writeBtf } from '../../src/btf/write.js';
import { fixture } from '../support/paths.js';
import { FIXTURE_MODULES, allKinds, vmlinux, vmlinuxBytes } from './sample.js';

/** Parses with every "val" kept as an exact decimal string (values reach 2^64). */
function parseExact(text: string): { types: { kind: string; values?: { val: string }[] }[] } {
  return JSON.parse(text.replace(/"val":(-?\d+)/g, '"val":"$1"')) as never;
}

/** bpftool 7.1 sign-extends unsigned 32-bit ENUM values >= 2^31 to 64 bits: undo that. */
function fixBpftoolEnums(doc: ReturnType<typeof parseExact>): ReturnType<typeof parseExact> {
  for (const t of doc.types) {
    if (t.kind !== 'ENUM' || !t.values) continue;
    for (const v of t.values) if (BigInt(v.val) >= 1n << 32n) v.val = String(BigInt.asUintN(32, BigInt(v.val)));
  }
  return doc;
}

describe('btf/dump-json', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'btfcore-json-')); });
  after(() => { rmSync(dir, { recursive: true }); });
  const bpftoolJson = (args: string[]): ReturnType<typeof parseExact> =>
    fixBpftoolEnums(parseExact(execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', ...args], { encoding: 'utf8', maxBuffer: 1 << 30 })));

  it('every kind: same objects as bpftool -j', () => {
    const p = join(dir, 'all');
    writeFileSync(p, writeBtf(allKinds()));
    const ours = dumpJson(allKinds());
    assert.deepEqual(parseExact(ours), bpftoolJson([p]));
    assert.match(ours, /"name":"BLUE","val":4294967294/);
    assert.match(ours, /"name":"HUGE","val":18446744069414584321/);
    assert.ok(ours.endsWith(']}\n'));
  });

  it('fixture modules: byte-identical to bpftool -j (no enum values that bpftool mis-prints)', () => {
    const vp = join(dir, 'vmlinux');
    writeFileSync(vp, vmlinuxBytes());
    for (const m of FIXTURE_MODULES) {
      const mp = fixture('kernel/btf', m);
      const theirs = execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', mp, '-B', vp], { encoding: 'utf8' });
      assert.equal(dumpJson(readBtfFile(mp, { base: vmlinux() })), theirs, m);
    }
  });

  it('vmlinux and a split module: same objects as bpftool -j', function () {
    this.timeout(60000);
    const vp = join(dir, 'vmlinux');
    writeFileSync(vp, vmlinuxBytes());
    assert.deepEqual(parseExact(dumpJson(vmlinux())), bpftoolJson([vp]));
    const mp = fixture('kernel/btf/virtio_net');
    assert.deepEqual(parseExact(dumpJson(readBtfFile(mp, { base: vmlinux() }))), bpftoolJson([mp, '-B', vp]));
  });
});
