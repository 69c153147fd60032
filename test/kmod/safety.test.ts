/**
 * Hazard 1: which companions may be loaded. The pure decision on hand-made export lists, then on
 * the real installed modules: loop exports nothing, crc7 and cordic export; over the whole 6.1
 * tree (../shared), the modules a companion can hold are exactly those with a __ksymtab entry.
 */
import { strict as assert } from 'node:assert';
import { readBtfFile } from '../../src/btf/parse.js';
import { pickHoldSymbol } from '../../src/kmod/bpf-hold.js';
import { readInstalledModule, type ExportedSymbol } from '../../src/kmod/installed-ko.js';
import { decideHold, describeHold } from '../../src/kmod/safety.js';
import { vmlinux } from '../btf/sample.js';
import { fixture, requireShared } from '../support/paths.js';
import { join } from 'node:path';
import { koFiles, need, realModulesDir, tmp } from './support.js';

const sym = (name: string, namespace = '', crc: bigint | undefined = 1n): ExportedSymbol => ({ name, namespace, crc, gplOnly: false });

describe('kmod safety (hazard 1)', () => {
  it('vmlinux is always safe: it never unloads', () => {
    const d = decideHold('vmlinux', []);
    assert.deepEqual(d, { safe: true, mechanism: 'never-unloads' });
    assert.match(describeHold('vmlinux', d), /never unloads/);
  });

  it('a module without exports cannot be held: not safe, with the reason', () => {
    const d = decideHold('loop', []);
    assert.equal(d.safe, false);
    assert.equal(!d.safe && d.reason, 'loop exports no symbol: the companion cannot hold it; not loaded, files still published');
  });

  it('a module with exports is held by importing one: un-namespaced first, then by name (deterministic)', () => {
    const d = decideHold('m', [sym('zeta'), sym('alpha', 'NS'), sym('beta')]);
    assert.deepEqual(d, { safe: true, mechanism: 'imports-export', import: { name: 'beta', namespace: '', crc: 1n } });
    assert.deepEqual(decideHold('m', [sym('beta'), sym('zeta')]), decideHold('m', [sym('zeta'), sym('beta')]));
    const ns = decideHold('m', [sym('only', 'CRYPTO_INTERNAL', 7n)]);
    assert.deepEqual(ns, { safe: true, mechanism: 'imports-export', import: { name: 'only', namespace: 'CRYPTO_INTERNAL', crc: 7n } });
    assert.match(describeHold('m', ns), /imports only \(namespace CRYPTO_INTERNAL\) from m: rmmod m is refused/);
    const long = 'x'.repeat(56);
    assert.equal(decideHold('m', [sym(long)]).safe, false, 'a name too long for struct modversion_info cannot carry its CRC');
    assert.deepEqual(decideHold('m', [sym(long), sym('zz')]), { safe: true, mechanism: 'imports-export', import: { name: 'zz', namespace: '', crc: 1n } });
  });

  it('without exports, a pinned program on a BTF VAR/FUNC of the base (exports still come first)', () => {
    const symbol = { id: 3393, name: 'cpu_loops_per_jiffy', kind: 'var', level: 'vmlinux' } as const;
    const d = decideHold('loop', [], symbol);
    assert.deepEqual(d, { safe: true, mechanism: 'pinned-program', symbol });
    assert.match(describeHold('loop', d), /pinned BPF program naming VAR cpu_loops_per_jiffy through loop's BTF holds loop: rmmod loop is refused while the pin exists/);
    const exported = decideHold('m', [sym('beta')], symbol);
    assert.equal(exported.safe && exported.mechanism, 'imports-export');
    assert.deepEqual(decideHold('vmlinux', [], symbol), { safe: true, mechanism: 'never-unloads' });
    // The real loop: no export, but its BTF chain has a VAR to pin on.
    const loop = decideHold('loop', readInstalledModule(fixture('kernel/debug/loop.ko')).exports,
      pickHoldSymbol(readBtfFile(fixture('kernel/btf/loop'), { base: vmlinux() })));
    assert.equal(loop.safe && loop.mechanism, 'pinned-program');
  });

  it('on the installed modules: loop holds nothing, crc7 and cordic export (names as readelf shows __ksymtab_*)', function () {
    assert.deepEqual(readInstalledModule(fixture('kernel/debug/loop.ko')).exports, []);
    for (const m of ['crc7', 'cordic']) {
      const path = fixture(`kernel/debug/${m}.ko`);
      const names = readInstalledModule(path).exports.map((e) => e.name).sort();
      const oracle = [...need(this, 'readelf', ['-sW', path]).matchAll(/NOTYPE\s+LOCAL\s+DEFAULT\s+\d+ __ksymtab_(\S+)\n/g)].map((x) => x[1]!).sort();
      assert.deepEqual(names, oracle, m);
      assert.ok(names.length > 0);
    }
    const crc7 = readInstalledModule(fixture('kernel/debug/crc7.ko'));
    assert.deepEqual(crc7.exports.map((e) => [e.name, e.namespace, e.gplOnly]).sort(), [['crc7_be', '', false], ['crc7_be_syndrome_table', '', false]]);
    assert.equal(decideHold('crc7', crc7.exports).safe, true);
  });

  it('reads compressed modules (.ko.gz in-process, .ko.xz and .ko.zst with their tools) as the plain one', function () {
    const path = fixture('kernel/debug/crc7.ko');
    const plain = readInstalledModule(path);
    for (const [tool, ext] of [['gzip', 'gz'], ['xz', 'xz'], ['zstd', 'zst']] as const) {
      const packed = join(tmp, `crc7.ko.${ext}`);
      need(this, 'sh', ['-c', `${tool} -c "$0" > "$1"`, path, packed]);
      const m = readInstalledModule(packed);
      assert.deepEqual({ ...m, file: '' }, { ...plain, file: '' }, ext);
    }
  });

  it('over the whole 6.1 tree: 276 of 1121 modules export a symbol a companion can import', function () {
    this.timeout(600_000);
    requireShared(this);
    const dir = realModulesDir();
    if (dir === undefined) this.skip();
    const files = koFiles(dir);
    assert.equal(files.length, 1121);
    let held = 0;
    let namespacedOnly = 0;
    for (const f of files) {
      const m = readInstalledModule(f);
      const d = decideHold('m', m.exports);
      if (d.safe) {
        held++;
        if (d.mechanism === 'imports-export' && d.import.namespace !== '') namespacedOnly++;
        assert.ok(m.exports.every((e) => e.crc !== undefined), `${f}: every export has a CRC (MODVERSIONS)`);
      }
    }
    assert.equal(held, 276);
    process.stderr.write(`      (${held} of ${files.length} modules can be held; ${namespacedOnly} only through a namespaced export)\n`);
  });
});
