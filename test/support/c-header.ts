/** Compiling generated C headers in tests: gcc, and `clang -target bpf` with a BPF program. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OracleResult } from './kernel-load.js';

/** Compiles `header` (and a BPF program including it when given) with gcc and clang -target bpf. */
export function compileHeader(header: string, program?: string): OracleResult {
  const dir = mkdtempSync(join(tmpdir(), 'btf-extra-header-'));
  const h = join(dir, 'vmlinux.h');
  writeFileSync(h, header);
  const gcc = spawnSync('gcc', ['-fsyntax-only', '-Werror=implicit-int', '-x', 'c', h], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (gcc.error !== undefined) return { ok: false, skipReason: `gcc is not available (${gcc.error.message})` };
  if (gcc.status !== 0) return { ok: false, error: `gcc: ${gcc.stderr.split('\n').filter((l) => /error/.test(l)).slice(0, 5).join('\n')}` };
  const src = join(dir, 'prog.bpf.c');
  writeFileSync(src, program ?? '#include "vmlinux.h"\n');
  const clang = spawnSync('clang', ['-target', 'bpf', '-O2', '-g', '-c', src, '-o', join(dir, 'prog.o')], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (clang.error !== undefined) return { ok: false, skipReason: `clang is not available (${clang.error.message}); apt-get install clang` };
  if (clang.status !== 0) return { ok: false, error: `clang -target bpf: ${clang.stderr.split('\n').filter((l) => /error/.test(l)).slice(0, 5).join('\n')}` };
  return { ok: true, output: 'ok' };
}

/** A BPF program using kernel variables and an enumerator, as the issue asks. */
export const BPF_PROGRAM = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp/syscalls/sys_enter_getpid")
int probe(void *ctx)
{
	unsigned long now = jiffies;
	struct net *net = &init_net;
	unsigned int cpus = nr_cpu_ids;

	if (cpus > 0 && CRNG_READY == 2)
		bpf_printk("%lu %p %u", now, net, cpus);
	return 0;
}
`;

