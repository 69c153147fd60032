import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { main } from '../../src/cli/btf-extra.js';
import { parseBtf } from '../../src/btf/parse.js';
import { KIND } from '../../src/btf/kinds.js';
import { fixture } from '../support/paths.js';
import { captureIo } from '../support/cli-io.js';

describe('btf-extra vars', () => {
  it('lists every variable of a module as a table, sorted by section and offset', async () => {
    const io = captureIo();
    assert.equal(await main(['vars', fixture('kernel/debug/tcp_bbr.ko')], io), 0);
    const lines = io.stdout().trimEnd().split('\n');
    assert.match(lines[0]!, /^NAME\s+LINKAGE\s+SCOPE\s+SECTION\s+OFFSET\s+SIZE\s+TYPE$/);
    assert.equal(lines.length - 1, 1 + 19 + 1, 'file-level external + static + function statics (elfutils counts)');
    const ops = lines.find((l) => l.startsWith('tcp_bbr_cong_ops '))!;
    assert.deepEqual(ops.split(/\s{2,}/), ['tcp_bbr_cong_ops', 'static', 'file', '.data..read_mostly', '0x0', '192', 'struct tcp_congestion_ops']);
    assert.ok(lines.some((l) => l.startsWith('bbr_update_gains::__already_done ')));
    const keys = lines.slice(1).map((l) => l.split(/\s{2,}/)).map((c) => [c[3]!, BigInt(c[4]!)] as const);
    for (let i = 1; i < keys.length; i++) {
      const [s0, o0] = keys[i - 1]!;
      const [s1, o1] = keys[i]!;
      assert.ok(s0 < s1 || (s0 === s1 && o0 <= o1), `order at line ${i}`);
    }
  });

  it('--json gives machine-readable records; the same input gives the same bytes', async () => {
    const run = async (): Promise<string> => { const io = captureIo(); assert.equal(await main(['vars', '--json', fixture('elf/vars-dwarf5.exec')], io), 0); return io.stdout(); };
    const text = await run();
    assert.equal(await run(), text);
    const doc = JSON.parse(text) as { units: number; variables: { name: string; linkage: string; scope: string; section: string; offset: number; size: number; type: string; function?: string }[] };
    assert.equal(doc.units, 2);
    const cb = doc.variables.find((v) => v.name === 'callback')!;
    assert.deepEqual({ ...cb, die: undefined }, { name: 'callback', linkage: 'external', scope: 'file', section: '.bss', offset: 0x38, size: 8, type: 'int (*)(void)', die: undefined });
    assert.equal(doc.variables.find((v) => v.name === 'calls')!.function, 'use');
  });

  it('--file-only leaves out function statics', async () => {
    const io = captureIo();
    assert.equal(await main(['vars', '--file-only', '--json', fixture('kernel/debug/loop.ko')], io), 0);
    const doc = JSON.parse(io.stdout()) as { variables: { scope: string }[] };
    assert.equal(doc.variables.length, 47);
    assert.ok(doc.variables.every((v) => v.scope === 'file'));
  });

  it('a hostile name (control characters in .debug_str) stays on one escaped table line', async () => {
    const bytes = readFileSync(fixture('elf/vars-dwarf5.o'));
    const at = bytes.indexOf('global_counter\0');
    assert.ok(at > 0);
    bytes[at + 6] = 0x0a; // "global\ncounter"
    const dir = mkdtempSync(join(tmpdir(), 'vars-'));
    try {
      writeFileSync(join(dir, 'hostile.o'), bytes);
      const plain = captureIo();
      assert.equal(await main(['vars', fixture('elf/vars-dwarf5.o')], plain), 0);
      const io = captureIo();
      assert.equal(await main(['vars', join(dir, 'hostile.o')], io), 0);
      const lines = io.stdout().trimEnd().split('\n');
      assert.equal(lines.length, plain.stdout().trimEnd().split('\n').length);
      assert.ok(lines.some((l) => l.startsWith('global\\x0acounter ')), io.stdout());
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('usage errors exit 2; unreadable or non-ELF input exits 1 with a one-line error', async () => {
    let io = captureIo();
    assert.equal(await main(['vars'], io), 2);
    assert.match(io.stderr(), /^btf-extra vars: expected exactly one OBJECT/);
    io = captureIo();
    assert.equal(await main(['vars', '--bogus', 'x'], io), 2);
    io = captureIo();
    assert.equal(await main(['vars', fixture('elf/vars.c')], io), 1);
    assert.match(io.stderr(), /^btf-extra vars: .*vars\.c: ELF header \+0x0: not an ELF file \(bad magic\)\n$/);
    io = captureIo();
    assert.equal(await main(['vars', '/nonexistent.ko'], io), 1);
    assert.match(io.stderr(), /^btf-extra vars: \/nonexistent\.ko: cannot read/);
  });

  describe('--explain', () => {
    let dir: string;
    let vmlinux: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'vars-explain-'));
      vmlinux = join(dir, 'vmlinux');
      writeFileSync(vmlinux, gunzipSync(readFileSync(fixture('kernel/btf/vmlinux.gz'))));
    });
    after(() => { rmSync(dir, { recursive: true, force: true }); });

    it('keeps exactly the variables `encode` writes as VARs, and names a rule for every other one', async () => {
      const ko = fixture('kernel/debug/loop.ko');
      const bases = ['--base', vmlinux, '--base', fixture('kernel/btf/loop')];
      const io = captureIo();
      assert.equal(await main(['vars', ko, '--explain', '--json', ...bases], io), 0, io.stderr());
      const doc = JSON.parse(io.stdout()) as { variables: { name: string; encoder: { kept: boolean; rule?: string } }[] };
      const kept = doc.variables.filter((v) => v.encoder.kept).map((v) => v.name).sort();
      const left = doc.variables.filter((v) => !v.encoder.kept);
      assert.ok(left.every((v) => typeof v.encoder.rule === 'string' && v.encoder.rule.length > 0));
      assert.ok(left.some((v) => v.encoder.rule === 'reserved-prefix' && v.name.startsWith('__UNIQUE_ID')));
      assert.ok(left.some((v) => v.encoder.rule === 'function-local'));

      const out = join(dir, 'loop-btf-extra');
      const enc = captureIo();
      assert.equal(await main(['encode', ko, ...bases, '-o', out, '--quiet'], enc), 0, enc.stderr());
      const base = parseBtf(readFileSync(vmlinux));
      const mod = parseBtf(readFileSync(fixture('kernel/btf/loop')), { base });
      const extras = parseBtf(readFileSync(out), { base: mod });
      const encoded = extras.types.filter((t) => t.kind === KIND.VAR).map((t) => extras.str(t.nameOff)).sort();
      assert.deepEqual(kept, encoded);
    });

    it('adds an ENCODER column to the table', async () => {
      const io = captureIo();
      assert.equal(await main(['vars', fixture('kernel/debug/cordic.ko'), '--explain', '--base', vmlinux], io), 0, io.stderr());
      const [header, ...rows] = io.stdout().trimEnd().split('\n');
      assert.match(header!, /\bENCODER$/);
      assert.ok(rows.some((r) => /\skept$/.test(r)));
    });

    it('--base, --mode and --vars without --explain, or bad values, are usage errors', async () => {
      for (const argv of [['--base', vmlinux], ['--explain', '--mode', 'odd'], ['--explain', '--vars', 'some']]) {
        const io = captureIo();
        assert.equal(await main(['vars', fixture('kernel/debug/cordic.ko'), ...argv], io), 2, argv.join(' '));
        assert.match(io.stderr(), /^btf-extra vars: .*\n$/);
      }
    });
  });
});
