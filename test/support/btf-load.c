/*
 * Test oracle built on the system libbpf (compiled on demand by kernel-load.ts):
 *   btf-load load FILE              parse FILE as standalone raw BTF, load it with BPF_BTF_LOAD
 *   btf-load parse FILE [BASE]...   parse a chain (BASEs root first, FILE last) with btf__parse_split
 *   btf-load dedup OUT FILE [BASE]... run btf__dedup on FILE's level and write its raw bytes to OUT
 *   btf-load find-var NAME FILE [BASE]...  btf__find_by_name_kind(NAME, BTF_KIND_VAR): prints "ok <id>"
 * Prints one line: "ok <type count>" or "error <errno> <what>" (plus libbpf's own log on stderr).
 * Exit codes: 0 ok, 1 error, 2 refused for lack of privilege or of bpf() (EPERM/EACCES/ENOSYS), 3 usage.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static int fail(int err, const char *what)
{
	if (err < 0)
		err = -err;
	printf("error %d %s: %s\n", err, what, strerror(err));
	return (err == EPERM || err == EACCES || err == ENOSYS) ? 2 : 1;
}

/* argv[0] is the top file, argv[1..n-1] the bases root first. */
static struct btf *parse_chain(int n, char **files, int *err)
{
	struct btf *base = NULL, *btf = NULL;
	int i;

	for (i = 1; i <= n; i++) {
		const char *path = i < n ? files[i] : files[0];

		btf = base ? btf__parse_split(path, base) : btf__parse_raw(path);
		*err = libbpf_get_error(btf);
		if (*err) {
			fprintf(stderr, "btf-load: cannot parse %s\n", path);
			return NULL;
		}
		base = btf;
	}
	return btf;
}

int main(int argc, char **argv)
{
	struct btf *btf;
	int err = 0;

	libbpf_set_print(print_libbpf);
	if (argc >= 3 && strcmp(argv[1], "load") == 0) {
		btf = btf__parse_raw(argv[2]);
		err = libbpf_get_error(btf);
		if (err)
			return fail(err, "parse");
		err = btf__load_into_kernel(btf);
		if (err)
			return fail(errno ? errno : err, "BPF_BTF_LOAD");
		printf("ok %u\n", btf__type_cnt(btf) - 1);
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "parse") == 0) {
		btf = parse_chain(argc - 2, argv + 2, &err);
		if (!btf)
			return fail(err, "parse");
		printf("ok %u\n", btf__type_cnt(btf) - 1);
		return 0;
	}
	if (argc >= 4 && strcmp(argv[1], "dedup") == 0) {
		const void *raw;
		__u32 size;
		FILE *f;

		btf = parse_chain(argc - 3, argv + 3, &err);
		if (!btf)
			return fail(err, "parse");
		err = btf__dedup(btf, NULL);
		if (err)
			return fail(err, "btf__dedup");
		raw = btf__raw_data(btf, &size);
		f = fopen(argv[2], "wb");
		if (!f || fwrite(raw, 1, size, f) != size || fclose(f))
			return fail(errno, "write");
		printf("ok %u\n", btf__type_cnt(btf) - 1);
		return 0;
	}
	if (argc >= 4 && strcmp(argv[1], "find-var") == 0) {
		__s32 id;

		btf = parse_chain(argc - 3, argv + 3, &err);
		if (!btf)
			return fail(err, "parse");
		id = btf__find_by_name_kind(btf, argv[2], BTF_KIND_VAR);
		if (id < 0)
			return fail(id, "btf__find_by_name_kind");
		printf("ok %d\n", id);
		return 0;
	}
	fprintf(stderr, "usage: btf-load load FILE | parse FILE [BASE]... | dedup OUT FILE [BASE]... | find-var NAME FILE [BASE]...\n");
	return 3;
}
