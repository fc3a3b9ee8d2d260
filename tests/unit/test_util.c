/* test_util.c - strict parsers and helpers of include/vtier/util.c */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "vtier/util.h"
#include "../test.h"

static void
test_parse_size(void)
{
	uint64_t v;

	ASSERT_EQ(parse_size("4096", &v), 0); ASSERT_EQ_U(v, 4096);
	ASSERT_EQ(parse_size("64K", &v), 0); ASSERT_EQ_U(v, 65536);
	ASSERT_EQ(parse_size("512M", &v), 0); ASSERT_EQ_U(v, 512 * MiB);
	ASSERT_EQ(parse_size("2G", &v), 0); ASSERT_EQ_U(v, 2 * GiB);
	ASSERT_EQ(parse_size("2GiB", &v), 0); ASSERT_EQ_U(v, 2 * GiB);
	ASSERT_EQ(parse_size("1t", &v), 0); ASSERT_EQ_U(v, 1024 * GiB);
	ASSERT_EQ(parse_size("", &v), -EINVAL);
	ASSERT_EQ(parse_size("M", &v), -EINVAL);
	ASSERT_EQ(parse_size("12X", &v), -EINVAL);
	ASSERT_EQ(parse_size("-1", &v), -EINVAL);
	ASSERT_EQ(parse_size("1 G", &v), -EINVAL);
	ASSERT_EQ(parse_size("99999999999999999999", &v), -ERANGE);
	ASSERT_EQ(parse_size("99999999999T", &v), -ERANGE);
}

static void
test_parse_duration(void)
{
	uint64_t v;

	ASSERT_EQ(parse_duration_ms("250", &v), 0); ASSERT_EQ_U(v, 250);
	ASSERT_EQ(parse_duration_ms("250ms", &v), 0); ASSERT_EQ_U(v, 250);
	ASSERT_EQ(parse_duration_ms("2s", &v), 0); ASSERT_EQ_U(v, 2000);
	ASSERT_EQ(parse_duration_ms("1m", &v), 0); ASSERT_EQ_U(v, 60000);
	ASSERT_EQ(parse_duration_ms("1.5s", &v), -EINVAL);
	ASSERT_EQ(parse_duration_ms("s", &v), -EINVAL);
}

static void
test_parse_misc(void)
{
	uint64_t v, m;
	int b;
	char buf[64];

	ASSERT_EQ(parse_u64("18446744073709551615", &v), 0);
	ASSERT_EQ_U(v, UINT64_MAX);
	ASSERT_EQ(parse_u64("18446744073709551616", &v), -ERANGE);
	ASSERT_EQ(parse_u64("12a", &v), -EINVAL);
	ASSERT_EQ(parse_hex_u64("0x7f00dead", &v), 0); ASSERT_EQ_U(v, 0x7f00dead);
	ASSERT_EQ(parse_hex_u64("7F00", &v), 0); ASSERT_EQ_U(v, 0x7f00);
	ASSERT_EQ(parse_hex_u64("0x", &v), -EINVAL);
	ASSERT_EQ(parse_hex_u64("0xg", &v), -EINVAL);
	ASSERT_EQ(parse_hex_u64("0x10000000000000000", &v), -ERANGE);
	ASSERT_EQ(parse_bool("yes", &b), 0); ASSERT_EQ(b, 1);
	ASSERT_EQ(parse_bool("Off", &b), 0); ASSERT_EQ(b, 0);
	ASSERT_EQ(parse_bool("maybe", &b), -EINVAL);
	ASSERT_EQ(parse_nodelist("0-2,4", &m), 0); ASSERT_EQ_U(m, 0x17);
	ASSERT_EQ(parse_nodelist("63", &m), 0); ASSERT_EQ_U(m, 1ULL << 63);
	ASSERT_EQ(parse_nodelist("64", &m), -ERANGE);
	ASSERT_EQ(parse_nodelist("2-1", &m), -ERANGE);
	ASSERT_EQ(parse_nodelist("1,", &m), -EINVAL);
	ASSERT_EQ(parse_nodelist("a", &m), -EINVAL);
	format_nodelist(0x17, buf, sizeof(buf)); ASSERT_STREQ(buf, "0-2,4");
	format_nodelist(0, buf, sizeof(buf)); ASSERT_STREQ(buf, "");
	format_size(512 * MiB, buf, sizeof(buf)); ASSERT_STREQ(buf, "512M");
	format_size(1000, buf, sizeof(buf)); ASSERT_STREQ(buf, "1000");
}

static void
test_read_file(void)
{
	char buf[8];
	FILE *f = fopen("/tmp/vtier-test-read-file", "w");

	ASSERT_TRUE(f != NULL);
	fputs("1234567", f);
	fclose(f);
	ASSERT_EQ(read_file("/tmp/vtier-test-read-file", buf, sizeof(buf)), 7);
	ASSERT_STREQ(buf, "1234567");
	f = fopen("/tmp/vtier-test-read-file", "w");
	fputs("12345678", f);
	fclose(f);
	ASSERT_EQ(read_file("/tmp/vtier-test-read-file", buf, sizeof(buf)), -EFBIG);
	ASSERT_EQ(read_file("/nonexistent/x", buf, sizeof(buf)), -ENOENT);
	remove("/tmp/vtier-test-read-file");
}

static void
test_calloc_touched(void)
{
	size_t n = 3 * 1024 * 1024 / sizeof(uint64_t);	/* mmap'd by malloc */
	uint64_t *v = calloc_touched(n, sizeof(*v)), or = 0;

	ASSERT_TRUE(v != NULL);
	for (size_t i = 0; i < n; i++)
		or |= v[i];
	ASSERT_EQ_U(or, 0);
	free(v);
	errno = 0;
	ASSERT_TRUE(calloc_touched(SIZE_MAX / 2, 4) == NULL);
	ASSERT_EQ(errno, ENOMEM);
	v = calloc_touched(0, 8);
	ASSERT_TRUE(v != NULL);
	free(v);
}

int
main(void)
{
	RUN_TEST(test_parse_size);
	RUN_TEST(test_parse_duration);
	RUN_TEST(test_parse_misc);
	RUN_TEST(test_read_file);
	RUN_TEST(test_calloc_touched);
	TEST_EXIT();
}
