// SPDX-License-Identifier: GPL-2.0
/*
 * Reads vmlinux variables that the distribution's vmlinux BTF lacks (only per-CPU ones are in
 * it), through typed __ksym externs: they resolve only when vmlinux_btf_extra is loaded.
 * Run by ksym_run (test_run of a BPF_PROG_TYPE_SYSCALL program); results are the .bss globals.
 * No vmlinux.h: the two structs are declared with preserve_access_index, so field offsets are
 * relocated (CO-RE) against the running kernel's BTF.
 */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

struct ns_common { unsigned int inum; } __attribute__((preserve_access_index));
struct net { struct ns_common ns; } __attribute__((preserve_access_index));

extern struct net init_net __ksym;
extern const unsigned int nr_cpu_ids __ksym;
extern const __u64 jiffies_64 __ksym;

__u32 init_net_ns_inum;
__u32 nr_cpus;
__u64 jiffies64;
__u32 ran;

SEC("syscall")
int read_vmlinux_vars(void *ctx)
{
	init_net_ns_inum = init_net.ns.inum;
	nr_cpus = nr_cpu_ids;
	jiffies64 = jiffies_64;
	ran = 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
