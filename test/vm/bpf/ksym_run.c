// SPDX-License-Identifier: GPL-2.0
/*
 * ksym_run OBJECT.bpf.o [--repeat N] [--interval-ms MS]
 * Opens and loads OBJECT with libbpf (externs resolved against the kernel's BTF, modules included),
 * runs each BPF_PROG_TYPE_SYSCALL program with BPF_PROG_TEST_RUN, then prints every variable of the
 * object's .bss as "name=value" (unsigned, by its size), one per line. With --repeat it runs and
 * prints N times, sleeping MS between runs, keeping the programs loaded all along (for load/unload
 * ordering tests). Exit 0 on success; 1 (with libbpf's message on stderr) when loading fails.
 * Built statically so the guest needs no libbpf: see build.sh.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

static int print_bss(struct bpf_object *obj)
{
	struct bpf_map *map = NULL, *m;
	bpf_object__for_each_map(m, obj) {
		const char *name = bpf_map__name(m);
		size_t len = strlen(name);
		if (len >= 4 && strcmp(name + len - 4, ".bss") == 0)
			map = m;
	}
	if (!map) {
		fprintf(stderr, "ksym_run: the object has no .bss map\n");
		return -1;
	}
	size_t size = bpf_map__value_size(map);
	unsigned char *buf = calloc(1, size);
	int zero = 0;
	if (!buf || bpf_map_lookup_elem(bpf_map__fd(map), &zero, buf)) {
		fprintf(stderr, "ksym_run: reading .bss: %s\n", strerror(errno));
		free(buf);
		return -1;
	}
	const struct btf *btf = bpf_object__btf(obj);
	__s32 sec = btf__find_by_name_kind(btf, ".bss", BTF_KIND_DATASEC);
	if (sec < 0) {
		fprintf(stderr, "ksym_run: no .bss DATASEC in the object's BTF\n");
		free(buf);
		return -1;
	}
	const struct btf_type *t = btf__type_by_id(btf, sec);
	const struct btf_var_secinfo *vs = btf_var_secinfos(t);
	for (int i = 0; i < btf_vlen(t); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);
		unsigned long long v = 0;
		if (vs->size > sizeof(v) || vs->offset + vs->size > size)
			continue;
		memcpy(&v, buf + vs->offset, vs->size); /* little-endian host */
		printf("%s=%llu\n", btf__name_by_offset(btf, var->name_off), v);
	}
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	long repeat = 1, interval_ms = 1000;
	if (argc < 2) {
		fprintf(stderr, "usage: ksym_run OBJECT.bpf.o [--repeat N] [--interval-ms MS]\n");
		return 2;
	}
	for (int i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--repeat") == 0)
			repeat = strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--interval-ms") == 0)
			interval_ms = strtol(argv[i + 1], NULL, 10);
		else {
			fprintf(stderr, "ksym_run: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "ksym_run: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "ksym_run: load %s: %s\n", argv[1], strerror(errno));
		bpf_object__close(obj);
		return 1;
	}
	int rc = 0;
	for (long n = 0; n < repeat && rc == 0; n++) {
		struct bpf_program *prog;
		bpf_object__for_each_program(prog, obj) {
			LIBBPF_OPTS(bpf_test_run_opts, opts);
			if (bpf_prog_test_run_opts(bpf_program__fd(prog), &opts)) {
				fprintf(stderr, "ksym_run: run %s: %s\n", bpf_program__name(prog), strerror(errno));
				rc = 1;
			}
		}
		if (rc == 0)
			rc = print_bss(obj) ? 1 : 0;
		printf("--\n");
		fflush(stdout);
		if (n + 1 < repeat) {
			struct timespec ts = { interval_ms / 1000, (interval_ms % 1000) * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	bpf_object__close(obj);
	return rc;
}
