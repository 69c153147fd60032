/**
 * The BPF test programs of the in-VM proof (test/vm/bpf): never run on the host. Checked here: the
 * committed objects carry the __ksym externs the proof needs (extern VARs in .ksyms, read with
 * bpftool), and, where clang/gcc/libbpf-dev are installed, build.sh rebuilds them (and the statically
 * linked loader) from the sources with the same externs.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bpftoolDump, requireOk } from '../support/kernel-load.js';
import { repoRoot } from '../support/paths.js';

const dir = join(repoRoot, 'test/vm/bpf');
const WANT: Record<string, string[]> = {
  ksym_vmlinux: ['init_net', 'jiffies_64', 'nr_cpu_ids'],
  ksym_loop: ['max_loop'],
  ksym_crc7: ['crc7_be_syndrome_table'],
};

/** Names of the extern VARs in the object's .ksyms DATASEC (bpftool: our ELF reader is x86-64 only, BPF objects are EM_BPF). */
function ksyms(ctx: Mocha.Context, path: string): string[] {
  const dump = requireOk(ctx, bpftoolDump(path));
  const externs = new Set([...dump.matchAll(/^\[\d+\] VAR '([^']+)' type_id=\d+, linkage=extern$/gm)].map((m) => m[1]!));
  const section = /^\[\d+\] DATASEC '\.ksyms'[^\n]*\n((?:\t[^\n]*\n)*)/m.exec(dump)?.[1] ?? '';
  const inSection = [...section.matchAll(/\(VAR '([^']+)'\)/g)].map((m) => m[1]!);
  assert.ok(inSection.every((n) => externs.has(n)), 'every .ksyms entry is an extern VAR');
  return inSection.sort();
}

describe('vm BPF test programs', () => {
  for (const [prog, externs] of Object.entries(WANT)) {
    it(`committed ${prog}.bpf.o: a syscall program with typed __ksym externs ${externs.join(', ')}`, function () {
      const path = join(dir, `${prog}.bpf.o`);
      assert.deepEqual(ksyms(this, path), externs);
      const sections = spawnSync('readelf', ['-SW', path], { encoding: 'utf8' }).stdout;
      assert.match(sections, / syscall\s+PROGBITS/, 'SEC("syscall") program');
      assert.match(sections, / \.BTF\.ext\s+PROGBITS/, 'CO-RE relocations');
    });
  }

  it('build.sh rebuilds the objects and a static ksym_run from source', function () {
    this.timeout(120_000);
    const out = mkdtempSync(join(tmpdir(), 'vm-bpf-'));
    const r = spawnSync(join(dir, 'build.sh'), [out], { encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) {
      const why = `${r.stderr}`.split('\n').find((l) => l.trim() !== '') ?? `exit ${r.status}`;
      if (/not found|No such file|cannot find -l/.test(why)) {
        process.stderr.write(`skipping: cannot build the BPF programs (install clang gcc libbpf-dev libelf-dev zlib1g-dev): ${why}\n`);
        this.skip();
      }
      assert.fail(`build.sh failed: ${r.stderr}`);
    }
    for (const [prog, externs] of Object.entries(WANT)) assert.deepEqual(ksyms(this, join(out, `${prog}.bpf.o`)), externs, prog);
    assert.ok(existsSync(join(out, 'ksym_run')));
    const file = spawnSync('readelf', ['-lW', join(out, 'ksym_run')], { encoding: 'utf8' });
    if (file.error === undefined) assert.doesNotMatch(file.stdout, /INTERP/, 'statically linked: no program interpreter');
  });
});
