/*
 * test_kparse.c - the BTF, kallsyms and kcore decoders (agent/kparse.c)
 * on fixture files from Debian's 6.1 kernel in the test-bed guest
 * (tests/fixtures/kernel: the start of its /proc/kcore, lines of its
 * /proc/kallsyms with kptr_restrict 0 and 2, and a small BTF blob with
 * its struct layouts, made by mkbtf.py), and on hand-broken copies.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vtier/util.h"
#include "kparse.h"
#include "../test.h"

static uint8_t *
fixture(const char *name, size_t *len)
{
	char path[4096];
	const char *src = getenv("SRC");
	uint8_t *buf = malloc(1 << 16);
	ssize_t n;

	snprintf(path, sizeof(path), "%s/tests/fixtures/kernel/%s",
	    src != NULL && *src ? src : ".", name);
	if (buf == NULL || (n = read_file(path, (char *)buf, 1 << 16)) < 0) {
		fprintf(stderr, "fixture %s: cannot read\n", path);
		exit(1);
	}
	*len = (size_t)n;
	return buf;
}

static void
test_btf_members(void)
{
	struct kparse_btf b;
	size_t len;
	uint8_t *d = fixture("btf-6.1-min", &len);
	uint32_t off, size;
	char err[160];

	ASSERT_EQ(kparse_btf_open(&b, d, len, err, sizeof(err)), 0);
	ASSERT_EQ(b.ntypes, 26);		/* void + 25 records */
	ASSERT_EQ(kparse_btf_member(&b, "cpu_hw_events", "ds_pebs_vaddr", &off,
	    &size, err, sizeof(err)), 0);
	ASSERT_EQ(off, 2368);
	ASSERT_EQ(size, 8);			/* a pointer */
	ASSERT_EQ(kparse_btf_member(&b, "x86_pmu", "pebs_buffer_size", &off,
	    &size, err, sizeof(err)), 0);
	ASSERT_EQ(off, 384);
	ASSERT_EQ(size, 4);
	/* through a typedef and a const, in an anonymous union */
	ASSERT_EQ(kparse_btf_member(&b, "cpu_hw_events", "anon_a", &off,
	    &size, err, sizeof(err)), 0);
	ASSERT_EQ(off, 8);
	ASSERT_EQ(size, 8);
	/* an array of 48 u64 */
	ASSERT_EQ(kparse_btf_member(&b, "debug_store", "pebs_event_reset", &off,
	    &size, err, sizeof(err)), 0);
	ASSERT_EQ(off, 64);
	ASSERT_EQ(size, 384);
	ASSERT_EQ(kparse_btf_struct_size(&b, "debug_store", &size, err,
	    sizeof(err)), 0);		/* two copies, agreeing */
	ASSERT_EQ(size, 4096);
	/* what must fail, and say why */
	ASSERT_EQ(kparse_btf_member(&b, "x86_pmu", "pebs", &off, &size, err,
	    sizeof(err)), -EINVAL);
	ASSERT_CONTAINS(err, "bitfield");
	ASSERT_EQ(kparse_btf_member(&b, "cpu_hw_events", "pebs_vaddr", &off,
	    &size, err, sizeof(err)), -ENOENT);
	ASSERT_CONTAINS(err, "has no member pebs_vaddr");
	ASSERT_EQ(kparse_btf_member(&b, "fwd_only", "x", &off, &size, err,
	    sizeof(err)), -ENOENT);		/* a FWD is not a struct */
	ASSERT_CONTAINS(err, "no struct fwd_only");
	ASSERT_EQ(kparse_btf_member(&b, "dup_struct", "x", &off, &size, err,
	    sizeof(err)), -EINVAL);
	ASSERT_CONTAINS(err, "differs");
	kparse_btf_close(&b);
	free(d);
}

static void
test_btf_broken(void)
{
	struct kparse_btf b;
	size_t len;
	uint8_t *d = fixture("btf-6.1-min", &len), *c = malloc(len);
	char err[160];

	memcpy(c, d, len);
	ASSERT_EQ(kparse_btf_open(&b, c, 10, err, sizeof(err)), -EINVAL);
	c[0] = 0xeb, c[1] = 0x9f;		/* big-endian magic */
	ASSERT_EQ(kparse_btf_open(&b, c, len, err, sizeof(err)), -ENOTSUP);
	memcpy(c, d, len);
	c[2] = 2;				/* version 2 */
	ASSERT_EQ(kparse_btf_open(&b, c, len, err, sizeof(err)), -ENOTSUP);
	memcpy(c, d, len);
	/* the string section one byte past the end */
	ASSERT_EQ(kparse_btf_open(&b, c, len - 1, err, sizeof(err)), -EINVAL);
	ASSERT_CONTAINS(err, "outside");
	/* the string section not ending with NUL */
	c[len - 1] = 'x';
	ASSERT_EQ(kparse_btf_open(&b, c, len, err, sizeof(err)), -EINVAL);
	memcpy(c, d, len);
	/* the first record's kind set to 31: unknown, the walk stops */
	c[24 + 7] = 31;
	ASSERT_EQ(kparse_btf_open(&b, c, len, err, sizeof(err)), -ENOTSUP);
	ASSERT_CONTAINS(err, "kind 31");
	memcpy(c, d, len);
	/* the first record (an INT) claims a struct's 65535 members */
	c[24 + 4] = 0xff, c[24 + 5] = 0xff, c[24 + 7] = 4;
	ASSERT_EQ(kparse_btf_open(&b, c, len, err, sizeof(err)), -EINVAL);
	ASSERT_CONTAINS(err, "runs past");
	free(c);
	free(d);
}

static struct kparse_sym wanted[] = {
	{ .name = "cpu_debug_store" }, { .name = "__per_cpu_offset" },
	{ .name = "this_cpu_off" }, { .name = "x86_pmu" },
	{ .name = "_text" }, { .name = "vring_del_virtqueue" },
	{ .name = "no_such_symbol" },
};

/* Feed a fixture line by line; the number of lines used. */
static int
feed_lines(const char *text, size_t len)
{
	int used = 0, rc;

	for (size_t i = 0; i < ARRAY_SIZE(wanted); i++)
		wanted[i].addr = 0, wanted[i].seen = 0;
	for (size_t off = 0; off < len; ) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t l = nl ? (size_t)(nl - (text + off)) : len - off;

		if ((rc = kparse_kallsyms_line(text + off, l, wanted,
		    ARRAY_SIZE(wanted))) < 0)
			return rc;
		used += rc;
		off += l + 1;
	}
	return used;
}

static void
test_kallsyms(void)
{
	size_t len;
	uint8_t *d = fixture("kallsyms-6.1", &len);

	ASSERT_EQ(feed_lines((char *)d, len), 5);
	ASSERT_EQ_U(wanted[0].addr, 0x1000);		/* per-CPU: offsets */
	ASSERT_EQ(wanted[0].seen, 1);
	ASSERT_EQ_U(wanted[1].addr, 0xffffffff8241cb60ULL);
	ASSERT_EQ_U(wanted[2].addr, 0x199e8);
	ASSERT_EQ_U(wanted[3].addr, 0xffffffff82c36fa0ULL);
	ASSERT_EQ_U(wanted[4].addr, 0xffffffff81000000ULL);
	ASSERT_EQ(wanted[5].seen, 0);		/* a module's: not vmlinux */
	ASSERT_EQ(wanted[6].seen, 0);
	free(d);

	/* kptr_restrict = 2: every address reads 0 */
	d = fixture("kallsyms-6.1-kptr2", &len);
	ASSERT_EQ(feed_lines((char *)d, len), 5);
	ASSERT_EQ_U(wanted[4].addr, 0);
	free(d);
}

static void
test_kallsyms_lines(void)
{
	struct kparse_sym s[] = { { .name = "abc" } };
	static const char *bad[] = {
		"ffffffff81000000 T", "ffffffff81000000  T abc", "T abc",
		"xffffffff81000000 T abc", "ffffffff81000000 T abc def",
		"10000000000000000 T abc", "ffffffff81000000 T ab\001c",
		"ffffffff81000000 T abc\tnomodule", "ffffffff81000000\tT abc",
	};

	ASSERT_EQ(kparse_kallsyms_line("ffff T abc\n", 11, s, 1), 1);
	ASSERT_EQ_U(s[0].addr, 0xffff);
	ASSERT_EQ(kparse_kallsyms_line("0 A abc", 7, s, 1), 1);
	ASSERT_EQ(s[0].seen, 2);			/* the caller decides */
	ASSERT_EQ(kparse_kallsyms_line("1 t abc\t[mod]", 13, s, 1), 0);
	ASSERT_EQ(kparse_kallsyms_line("1 t abcd", 8, s, 1), 0);
	ASSERT_EQ(kparse_kallsyms_line("", 0, s, 1), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (kparse_kallsyms_line(bad[i], strlen(bad[i]), s, 1) !=
		    -EINVAL)
			FAIL_("line %zu \"%s\" not refused", i, bad[i]);
}

static void
test_kcore(void)
{
	struct kparse_kcore k;
	size_t len, need;
	uint8_t *d = fixture("kcore-6.1-head", &len), *c;
	uint64_t phys, off;
	char err[160];

	ASSERT_EQ(kparse_kcore_open(&k, d, 40, &need, err, sizeof(err)),
	    -EAGAIN);
	ASSERT_EQ(need, 64);
	ASSERT_EQ(kparse_kcore_open(&k, d, 100, &need, err, sizeof(err)),
	    -EAGAIN);
	ASSERT_EQ(need, len);			/* 64 + 8 x 56 */
	ASSERT_EQ(kparse_kcore_open(&k, d, len, &need, err, sizeof(err)), 0);
	ASSERT_EQ(k.nseg, 7);			/* all but the PT_NOTE */
	/* the linear map: System RAM from 1 MiB, page_offset_base below */
	ASSERT_EQ(kparse_kcore_phys(&k, 0xffff888000100000ULL + 0x1234000,
	    4096, &phys), 0);
	ASSERT_EQ_U(phys, 0x100000 + 0x1234000);
	/* the kernel image (text, data: __per_cpu_offset, x86_pmu) */
	ASSERT_EQ(kparse_kcore_phys(&k, 0xffffffff8241cb60ULL, 8, &phys), 0);
	ASSERT_EQ_U(phys, 0x1000000 + 0x141cb60);
	ASSERT_EQ(kparse_kcore_offset(&k, 0xffffffff8241cb60ULL, 8, &off), 0);
	ASSERT_EQ_U(off, 0x7fff81004000ULL + 0x141cb60);
	/* vmalloc is readable but has no physical address */
	ASSERT_EQ(kparse_kcore_offset(&k, 0xffffc90000001000ULL, 8, &off), 0);
	ASSERT_EQ(kparse_kcore_phys(&k, 0xffffc90000001000ULL, 8, &phys),
	    -ERANGE);
	/* across a segment's end, in the hole below 1 MiB's segment */
	ASSERT_EQ(kparse_kcore_phys(&k, 0xffff888000100000ULL + 0x5fee0000 -
	    4096, 8192, &phys), -ERANGE);
	ASSERT_EQ(kparse_kcore_phys(&k, 0xffff88800009f000ULL, 4096, &phys),
	    -ERANGE);
	kparse_kcore_close(&k);

	c = malloc(len);
	memcpy(c, d, len);
	c[18] = 183;				/* EM_AARCH64 */
	ASSERT_EQ(kparse_kcore_open(&k, c, len, &need, err, sizeof(err)),
	    -ENOTSUP);
	memcpy(c, d, len);
	c[16] = 2;				/* ET_EXEC */
	ASSERT_EQ(kparse_kcore_open(&k, c, len, &need, err, sizeof(err)),
	    -EINVAL);
	memcpy(c, d, len);
	memset(c + 64 + 56 + 40, 0xff, 8);	/* a segment that wraps */
	ASSERT_EQ(kparse_kcore_open(&k, c, len, &need, err, sizeof(err)),
	    -EINVAL);
	ASSERT_CONTAINS(err, "wraps");
	free(c);
	free(d);
}

int
main(void)
{
	RUN_TEST(test_btf_members);
	RUN_TEST(test_btf_broken);
	RUN_TEST(test_kallsyms);
	RUN_TEST(test_kallsyms_lines);
	RUN_TEST(test_kcore);
	TEST_EXIT();
}
