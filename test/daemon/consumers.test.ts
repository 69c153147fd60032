/**
 * README "Which file for which tool": each row checked by running the tool on the forms the daemon
 * publishes (made here by its own BtfOps from the encoder fixtures: base.btf -> mid.btf -> extras,
 * like vmlinux -> module -> module-btf-extra). A tool that is not installed skips with its reason.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dumpC } from '../../src/btf/dump-c.js';
import { parseBtf } from '../../src/btf/parse.js';
import { writeBtf } from '../../src/btf/write.js';
import { libraryBtfOps } from '../../src/daemon/btf-ops.js';
import { encodeObject } from '../../src/encoder/encode.js';
import { chainOf } from '../encoder/support.js';
import { bpftoolDump, findVarWithLibbpf, requireOk, type OracleResult } from '../support/kernel-load.js';
import { fixture } from '../support/paths.js';

const base = fixture('encoder/base.btf');
const mid = fixture('encoder/mid.btf');

/** Runs `cmd`; a missing command is a skip with the reason, a failure an error with its output. */
function run(cmd: string, args: readonly string[], env: Record<string, string> = {}): OracleResult & { status?: number | null } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  if (r.error !== undefined) return { ok: false, skipReason: `${cmd} is not installed (${r.error.message})` };
  if (r.status !== 0) return { ok: false, error: `${cmd} ${args.join(' ')}: exit ${r.status ?? r.signal}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`, status: r.status };
  return { ok: true, output: r.stdout };
}

function libbpfVersion(): number[] | undefined {
  const r = spawnSync('pkg-config', ['--modversion', 'libbpf'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split('.').map(Number) : undefined;
}
const atLeast = (v: number[], want: number[]): boolean => (v[0]! - want[0]! || v[1]! - want[1]!) >= 0;

describe('README: which file for which tool (each row run against the tool)', function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'btf-extra-consumers-'));
  const path = (n: string): string => join(dir, n);

  before(() => {
    const extras = encodeObject(fixture('encoder/vars-dwarf5.o'), { base: chainOf([base, mid]) }).btf;
    const chain = [readFileSync(base), readFileSync(mid), writeBtf(extras)];
    writeFileSync(path('extras'), chain[2]!); // btf/<m>-btf-extra: 3 levels
    writeFileSync(path('merged-m'), libraryBtfOps.flattenOnto(chain)); // merged/<m>: 2 levels
    writeFileSync(path('merged-standalone'), libraryBtfOps.flattenStandalone(chain)); // like merged/vmlinux, merged/kernel
  });

  it('bpftool: merged/<m> with -B vmlinux, or a standalone file; not the 3-level extras', function () {
    assert.match(requireOk(this, bpftoolDump(path('merged-m'), base)), /VAR 'ops_a'/);
    assert.match(requireOk(this, bpftoolDump(path('merged-standalone'))), /VAR 'ops_a'/);
    const deep = bpftoolDump(path('extras'), mid);
    assert.ok(!deep.ok && 'error' in deep, 'bpftool 7.1 takes one -B: the module BTF cannot be given as a split base');
  });

  it('libbpf before 1.7: merged/<m> on vmlinux and standalone files; the 3-level extras read wrong', function () {
    const v = libbpfVersion();
    if (v !== undefined && atLeast(v, [1, 7])) { process.stderr.write(`skipping: libbpf ${v.join('.')} is 1.7 or newer\n`); this.skip(); }
    const want = `ok ${parseBtf(readFileSync(path('merged-standalone'))).findByName('ops_a')[0]}`;
    assert.equal(requireOk(this, findVarWithLibbpf('ops_a', path('merged-m'), [base])), want);
    assert.equal(requireOk(this, findVarWithLibbpf('ops_a', path('merged-standalone'))), want);
    const deep = findVarWithLibbpf('ops_a', path('extras'), [base, mid]);
    assert.ok(!deep.ok, 'libbpf < 1.7 misreads the string offsets of a 3-level chain: the name is not found');
  });

  it('libbpf from 1.7: also the 3-level extras (btf__parse_split twice)', function () {
    const v = libbpfVersion();
    if (v === undefined || !atLeast(v, [1, 7])) {
      process.stderr.write(`skipping: the system libbpf is ${v?.join('.') ?? 'absent'}, not 1.7 or newer\n`);
      this.skip();
    }
    assert.match(requireOk(this, findVarWithLibbpf('ops_a', path('extras'), [base, mid])), /^ok \d+$/);
  });

  it('bpftrace: BPFTRACE_BTF=<standalone file> (merged/kernel, merged/vmlinux)', function () {
    const out = requireOk(this, run('bpftrace', ['-lv', 'struct shared_ops'], { BPFTRACE_BTF: path('merged-standalone') }));
    assert.match(out, /struct shared_ops \{[\s\S]*struct list_node link;/);
  });

  it('pahole: -F btf on a standalone file, or --btf_base vmlinux on merged/<m>', function () {
    assert.match(requireOk(this, run('pahole', ['-F', 'btf', '-C', 'shared_ops', path('merged-standalone')])), /struct shared_ops \{/);
    assert.match(requireOk(this, run('pahole', ['-F', 'btf', '--btf_base', base, '-C', 'shared_ops', path('merged-m')])), /struct shared_ops \{/);
  });

  it('drgn (0.0.22, Debian 12): reads DWARF only, none of the BTF files: give it the debuginfo', function () {
    const probe = 'import sys, drgn\np = drgn.Program()\ntry:\n    p.load_debug_info([sys.argv[1]])\n    print("loaded")\nexcept drgn.MissingDebugInfoError as e:\n    print("refused:", e)\n';
    const r = run('/usr/bin/python3', ['-c', probe, path('merged-standalone')]);
    if (!r.ok && 'error' in r && /No module named 'drgn'/.test(r.error)) requireOk(this, { ok: false, skipReason: 'python3-drgn is not installed' });
    assert.match(requireOk(this, r), /refused:[\s\S]*not an ELF file/);
  });

  it('BPF CO-RE: `btf-extra dump merged/vmlinux --format c` as vmlinux.h; clang -target bpf emits CO-RE relocations', function () {
    const header = dumpC(parseBtf(readFileSync(path('merged-standalone'))));
    writeFileSync(path('vmlinux.h'), header);
    writeFileSync(path('prog.bpf.c'), '#include "vmlinux.h"\n'
      // the fixture "kernel" lacks the uapi typedefs bpf_helper_defs.h uses (a real vmlinux.h has them)
      + 'typedef unsigned long long __u64; typedef unsigned int __u32; typedef unsigned short __u16; typedef unsigned char __u8;\n'
      + 'typedef long long __s64; typedef int __s32; typedef __u32 __be32; typedef __u16 __be16; typedef __u32 __wsum;\n'
      + '#include <bpf/bpf_helpers.h>\n#include <bpf/bpf_core_read.h>\n'
      + 'char LICENSE[] SEC("license") = "GPL";\nSEC("kprobe/x") int probe(struct shared_ops *o) { return BPF_CORE_READ(o, flags) ? 1 : 0; }\n');
    requireOk(this, run('clang', ['-target', 'bpf', '-O2', '-g', '-c', path('prog.bpf.c'), '-o', path('prog.o')]));
    // .BTF.ext header (little-endian words): magic/version/flags, hdr_len, func_info off/len, line_info off/len, core_relo off/len
    const hex = requireOk(this, run('readelf', ['-x', '.BTF.ext', path('prog.o')]));
    const words = [...hex.matchAll(/^ {2}0x[0-9a-f]+ ((?:[0-9a-f]{8} ?){1,4})/gm)].flatMap((m) => m[1]!.trim().split(' '))
      .map((w) => Buffer.from(w, 'hex').readUInt32LE(0));
    assert.ok(words[1]! >= 32 && words[7]! > 0, `CO-RE relocations recorded (hdr_len ${words[1]}, core_relo_len ${words[7]})`);
  });
});
