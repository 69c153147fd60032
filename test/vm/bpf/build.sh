#!/usr/bin/env bash
# Builds the BPF test programs for the in-VM proof (not run on the host):
#   ksym_vmlinux.bpf.o, ksym_loop.bpf.o, ksym_crc7.bpf.o  clang -target bpf (Debian: clang, libbpf-dev)
#   ksym_run                              gcc, statically linked against libbpf.a, libelf.a, libz.a
#                                         (Debian: gcc, libbpf-dev, libelf-dev, zlib1g-dev), so the
#                                         guest needs no libbpf
# Usage: test/vm/bpf/build.sh [OUTDIR]   (default: beside this script). The .bpf.o files are committed;
# rerun this after editing a .bpf.c and commit them again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
mkdir -p "$out"
for p in ksym_vmlinux ksym_loop ksym_crc7; do
  clang -O2 -g -Wall -Werror -target bpf -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu \
    -c "$here/$p.bpf.c" -o "$out/$p.bpf.o"
done
gcc -O2 -Wall -Werror -static -o "$out/ksym_run" "$here/ksym_run.c" -lbpf -lelf -lz
