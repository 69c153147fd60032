/**
 * README "which file for which tool", row BPF CO-RE (clang -target bpf, libbpf):
 *  - vmlinux.h: `bpftool btf dump file merged/kernel format c` (types of vmlinux and every loaded
 *    module; bpftool prints no variables) or `btf-extra dump merged/... --format c` (the same
 *    types plus `extern ... __ksym` declarations: issue 11 item 4);
 *  - CO-RE relocations: libbpf's `btf_custom_path` takes one standalone file and then looks at no
 *    module BTF, so merged/kernel (or merged/vmlinux); checked without a kernel through
 *    `bpftool gen min_core_btf`, which runs libbpf's relocation logic against the given file;
 *  - `extern ... __ksym`: libbpf resolves them in the running kernel's BTF only
 *    (/sys/kernel/btf/*, never btf_custom_path), so no published file serves them: the companion
 *    module does (docs/kmod.md, test/vm). Nothing here loads a program into the kernel.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/btf-extra.js';
import { captureIo } from '../support/cli-io.js';
import { bpftoolDump, bpftoolDumpC, requireOk } from '../support/kernel-load.js';
import { fixturePublished, requireRealPublished, type Published } from './published.js';
import { enumerators, runOk, runTool } from './tools.js';

const dir = mkdtempSync(join(tmpdir(), 'btfx-core-'));
let n = 0;

/** Compiles `body` after `#include "HEADER"` and libbpf's helpers with clang -target bpf; the object's path. */
function compileBpf(ctx: Mocha.Context, header: string, body: string): string {
  const base = join(dir, `${n++}`);
  writeFileSync(`${base}.h`, header);
  writeFileSync(`${base}.bpf.c`, `#include "${base}.h"\n#include <bpf/bpf_helpers.h>\n#include <bpf/bpf_core_read.h>\n${body}\nchar LICENSE[] SEC("license") = "GPL";\n`);
  const r = runTool(ctx, 'clang', ['-O2', '-g', '-target', 'bpf', '-D__TARGET_ARCH_x86', '-c', `${base}.bpf.c`, '-o', `${base}.bpf.o`]);
  if (/bpf\/bpf_helpers\.h' file not found/.test(r.stderr)) requireOk(ctx, { ok: false, skipReason: 'libbpf headers are not installed (apt-get install libbpf-dev)' });
  assert.equal(r.status, 0, `clang -target bpf: ${r.stderr.split('\n').filter((l) => /error/.test(l)).slice(0, 5).join('\n')}`);
  return `${base}.bpf.o`;
}

/** Names of the typed `__ksym` externs of a BPF object (extern VARs in its .ksyms DATASEC). */
function ksyms(ctx: Mocha.Context, object: string): Set<string> {
  const dump = requireOk(ctx, bpftoolDump(object));
  const section = /^\[\d+\] DATASEC '\.ksyms'[^\n]*\n((?:\t[^\n]*\n)*)/m.exec(dump)?.[1] ?? '';
  return new Set([...section.matchAll(/\(VAR '([^']+)'\)/g)].map((m) => m[1]!));
}

/** `btf-extra dump FILE --format c`, in process. */
async function ourHeader(file: string): Promise<string> {
  const io = captureIo();
  const code = await main(['dump', file, '--format', 'c'], io);
  assert.equal(code, 0, io.stderr());
  return io.stdout();
}

/** Every enumerator of btf/vmlinux's C header is in `header` (a vmlinux.h made from a merged view). */
function keepsEnumerators(ctx: Mocha.Context, header: string, vmlinux: string): void {
  const have = enumerators(header);
  const lost = [...enumerators(requireOk(ctx, bpftoolDumpC(vmlinux)))].filter((e) => !have.has(e));
  assert.deepEqual(lost, [], `${lost.length} enumerators of the vmlinux header missing: ${lost.slice(0, 6).join(', ')}`);
}

/** A CO-RE read of a module struct, and a typed __ksym of a module variable. */
const MODULE_PROGRAM = `
extern int max_loop __ksym;
int out;
SEC("kprobe/lo_release")
int probe(struct pt_regs *ctx)
{
	struct loop_device *lo = (void *)ctx->di;
	out = BPF_CORE_READ(lo, lo_number) + max_loop;
	return 0;
}`;

describe('consumers/BPF CO-RE', function () {
  let fx: Published;
  let header = '';
  before(async function () {
    fx = await fixturePublished();
    header = requireOk(this, bpftoolDumpC(fx.merged('kernel')));
  });

  it('vmlinux.h from bpftool\'s C dump of merged/kernel: a CO-RE program on a module struct compiles and relocates against merged/kernel only', function () {
    assert.doesNotMatch(header, /\bmax_loop;/, 'bpftool prints no variables');
    const object = compileBpf(this, header, MODULE_PROGRAM);
    assert.deepEqual([...ksyms(this, object)], ['max_loop']);
    const minimal = (target: string): string => {
      const out = join(dir, `${n++}.min.btf`);
      runOk(this, 'bpftool', ['gen', 'min_core_btf', target, out, object]);
      return requireOk(this, bpftoolDump(out));
    };
    assert.match(minimal(fx.merged('kernel')), /STRUCT 'loop_device' size=480 vlen=1\n\t'lo_number' type_id=\d+ bits_offset=0/);
    assert.doesNotMatch(minimal(fx.btf('vmlinux')), /loop_device/, 'vmlinux alone has no candidate');
    // A split file cannot be the target: libbpf parses it as standalone (btf__parse(path, NULL)).
    const split = runTool(this, 'bpftool', ['gen', 'min_core_btf', fx.merged('loop'), join(dir, `${n++}.min.btf`), object]);
    assert.notEqual(split.status, 0);
    assert.match(split.stderr, /failed parsing .* BTF file/);
  });

  it('bpftool\'s C dump of merged/kernel keeps every enumerator of vmlinux\'s', function () {
    keepsEnumerators(this, header, fx.btf('vmlinux'));
  });

  it('btf-extra dump merged/kernel --format c: a module variable is a typed __ksym without a declaration of the program\'s own', async function () {
    const ours = await ourHeader(fx.merged('kernel'));
    const object = compileBpf(this, ours, 'int out;\nSEC("syscall")\nint prog(void *ctx)\n{\n\tout = max_loop;\n\treturn 0;\n}');
    assert.deepEqual([...ksyms(this, object)], ['max_loop']);
  });

  describe('real vmlinux extras (../shared)', function () {
    let real: Published;
    before(async function () { real = await requireRealPublished(this); });

    it('bpftool\'s C dump of merged/vmlinux and merged/kernel keeps every enumerator of vmlinux\'s (CRNG_READY)', function () {
      for (const f of [real.merged('vmlinux'), real.merged('kernel')]) keepsEnumerators(this, requireOk(this, bpftoolDumpC(f)), real.btf('vmlinux'));
    });

    it('btf-extra dump merged/vmlinux --format c: init_net, jiffies, nr_cpu_ids as __ksym, and CRNG_READY', async function () {
      const ours = await ourHeader(real.merged('vmlinux'));
      const object = compileBpf(this, ours, `__u64 out;
SEC("syscall")
int prog(void *ctx)
{
	out = init_net.ns.inum + jiffies + nr_cpu_ids + CRNG_READY;
	return 0;
}`);
      assert.deepEqual([...ksyms(this, object)].sort(), ['init_net', 'jiffies', 'nr_cpu_ids']);
    });
  });
});
