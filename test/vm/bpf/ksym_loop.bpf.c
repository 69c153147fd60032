// SPDX-License-Identifier: GPL-2.0
/*
 * Reads loop's static `max_loop` through a typed __ksym extern: it resolves only when
 * loop_btf_extra is loaded (and loop itself, whose kallsyms entry gives the address).
 * After `modprobe loop max_loop=13` it reads 13.
 */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

extern const int max_loop __ksym;

int max_loop_value;
__u32 ran;

SEC("syscall")
int read_max_loop(void *ctx)
{
	max_loop_value = max_loop;
	ran = 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
