// SPDX-License-Identifier: GPL-2.0
/*
 * Reads crc7's crc7_be_syndrome_table through a typed __ksym extern: it resolves only when
 * crc7_btf_extra is loaded (and crc7 itself, whose kallsyms entry gives the address). crc7 exports
 * a symbol, so its companion holds it: on Linux 6.1 the kind of module a companion can be loaded for.
 * The table is the CRC7 (polynomial 0x09, shifted left by one) of each byte: entry 1 is 0x12.
 */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

extern const __u8 crc7_be_syndrome_table[256] __ksym;

__u32 syndrome_1;
__u32 syndrome_255;
__u32 ran;

SEC("syscall")
int read_crc7_table(void *ctx)
{
	syndrome_1 = crc7_be_syndrome_table[1];
	syndrome_255 = crc7_be_syndrome_table[255];
	ran = 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
