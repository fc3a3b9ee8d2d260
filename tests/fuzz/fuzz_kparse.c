/*
 * fuzz_kparse.c - the decoders of the kernel's self-description
 * (agent/kparse.c) on arbitrary bytes.  Byte 0 picks what the rest is:
 *
 *   0  a BTF blob: indexed, then the members PEBS discovery reads and a
 *      few others looked up.  A member found lies at a byte offset and
 *      has a size; a struct size agrees with itself on a second call.
 *   1  /proc/kallsyms text, line by line, looking for a fixed set of
 *      names: a malformed line is an error, never a crash, and a symbol
 *      is never "seen" more times than there are lines.
 *   2  the start of /proc/kcore: the ELF and program headers, then
 *      translations of addresses taken from the input.  A segment never
 *      wraps; an offset or a physical address found lies inside its
 *      segment; -EAGAIN only ever asks for more than it was given.
 *
 * Every copy is exact-size, so AddressSanitizer sees a read one byte
 * past the end.  Seeds: tests/fuzz/corpus/kparse/ (the fixtures of
 * tests/fixtures/kernel with the mode byte in front).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void
fuzz_btf(const uint8_t *d, size_t n)
{
	static const char *const q[][2] = {
		{ "cpu_hw_events", "ds_pebs_vaddr" },
		{ "x86_pmu", "pebs_buffer_size" },
		{ "debug_store", "pebs_index" },
		{ "cpu_hw_events", "anon_a" },
		{ "", "" },
	};
	struct kparse_btf b;
	uint32_t off, size, s1, s2;
	char err[128];

	if (kparse_btf_open(&b, d, n, err, sizeof(err)) < 0)
		return;
	CHECK(b.ntypes >= 1);
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		int rc = kparse_btf_member(&b, q[i][0], q[i][1], &off, &size,
		    err, sizeof(err));

		CHECK(rc == 0 || rc == -ENOENT || rc == -EINVAL);
		CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	}
	if (kparse_btf_struct_size(&b, "debug_store", &s1, err,
	    sizeof(err)) == 0) {
		CHECK(kparse_btf_struct_size(&b, "debug_store", &s2, err,
		    sizeof(err)) == 0);
		CHECK(s1 == s2);
	}
	kparse_btf_close(&b);
}

static void
fuzz_kallsyms(const uint8_t *d, size_t n)
{
	struct kparse_sym syms[] = {
		{ .name = "cpu_debug_store" }, { .name = "__per_cpu_offset" },
		{ .name = "x86_pmu" }, { .name = "_text" },
	};
	size_t lines = 0;

	for (size_t off = 0; off < n; ) {
		const uint8_t *nl = memchr(d + off, '\n', n - off);
		size_t l = nl ? (size_t)(nl - (d + off)) : n - off;
		char *line = malloc(l ? l : 1);
		int rc;

		CHECK(line != NULL);
		memcpy(line, d + off, l);
		rc = kparse_kallsyms_line(line, l, syms, 4);
		CHECK(rc == 0 || rc == 1 || rc == -EINVAL);
		free(line);
		lines++;
		off += l + 1;
	}
	for (size_t i = 0; i < 4; i++)
		CHECK(syms[i].seen <= lines);
}

static uint64_t
take64(const uint8_t *d, size_t n, size_t at)
{
	uint64_t v = 0;

	for (size_t i = 0; i < 8; i++)
		v = v << 8 | (at + i < n ? d[at + i] : 0);
	return v;
}

static void
fuzz_kcore(const uint8_t *d, size_t n)
{
	struct kparse_kcore k;
	size_t need;
	char err[128];
	int rc;

	rc = kparse_kcore_open(&k, d, n, &need, err, sizeof(err));
	if (rc == -EAGAIN)
		CHECK(need > n);
	if (rc < 0)
		return;
	for (size_t i = 0; i < k.nseg; i++) {
		const struct kparse_seg *s = &k.seg[i];

		CHECK(s->size > 0 && s->size - 1 <= UINT64_MAX - s->vaddr);
	}
	/* addresses: each segment's start and end, and some from the input */
	for (size_t i = 0; i < k.nseg + 8; i++) {
		uint64_t v = i < k.nseg ? k.seg[i].vaddr + k.seg[i].size - 4096 :
		    take64(d, n, (i - k.nseg) * 8);
		uint64_t len = i % 3 == 0 ? 1 : 4096, off, pa;

		if (kparse_kcore_offset(&k, v, len, &off) == 0)
			CHECK(off <= (uint64_t)INT64_MAX);
		if (kparse_kcore_phys(&k, v, len, &pa) == 0)
			CHECK(pa != KPARSE_NO_PADDR && len - 1 <= UINT64_MAX - pa);
	}
	kparse_kcore_close(&k);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *d;

	if (size < 1)
		return 0;
	if ((d = malloc(size - 1 ? size - 1 : 1)) == NULL)
		abort();
	memcpy(d, data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		fuzz_btf(d, size - 1);
		break;
	case 1:
		fuzz_kallsyms(d, size - 1);
		break;
	default:
		fuzz_kcore(d, size - 1);
		break;
	}
	free(d);
	return 0;
}
