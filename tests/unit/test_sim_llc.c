/*
 * test_sim_llc.c - the last-level cache model behind vtier-sim lackey
 * --llc: hits and misses of a set-associative LRU cache worked out by
 * hand (line size, set index, least recently used way replaced, capacity
 * of a set and of the cache), and the SIZE[,WAYS] specification.
 */
#include <errno.h>
#include <string.h>

#include "../test.h"
#include "sim/sim.h"

static void
test_lru_in_a_set(void)
{
	struct sim_llc *c;
	uint64_t acc, miss;

	/* 2 sets of 2 ways: lines 0, 2, 4 share set 0 */
	ASSERT_EQ(sim_llc_create(&c, 4 * SIM_LLC_LINE, 2), 0);
	ASSERT_TRUE(!sim_llc_access(c, 0));		/* line 0: cold */
	ASSERT_TRUE(sim_llc_access(c, 63));		/* same line */
	ASSERT_TRUE(!sim_llc_access(c, 2 * 64));	/* line 2, set 0 */
	ASSERT_TRUE(!sim_llc_access(c, 64));		/* line 1, set 1 */
	ASSERT_TRUE(sim_llc_access(c, 0));		/* line 0 most recent now */
	ASSERT_TRUE(!sim_llc_access(c, 4 * 64));	/* line 4 evicts line 2 */
	ASSERT_TRUE(sim_llc_access(c, 0));
	ASSERT_TRUE(!sim_llc_access(c, 2 * 64));	/* line 2 was the LRU one */
	ASSERT_TRUE(!sim_llc_access(c, 4 * 64));	/* and took line 4's place */
	ASSERT_TRUE(sim_llc_access(c, 64));		/* set 1 untouched */
	sim_llc_stats(c, &acc, &miss);
	ASSERT_EQ(acc, 10);
	ASSERT_EQ(miss, 6);
	sim_llc_free(c);
}

static void
test_capacity(void)
{
	struct sim_llc *c;
	uint64_t acc, miss;

	/* 64 KiB, 16 ways: a 64 KiB sweep fits, a 128 KiB one never hits */
	ASSERT_EQ(sim_llc_create(&c, 64 << 10, 16), 0);
	for (int r = 0; r < 3; r++)
		for (uint64_t a = 0; a < (64 << 10); a += 64)
			(void)sim_llc_access(c, 0x10000000 + a);
	sim_llc_stats(c, &acc, &miss);
	ASSERT_EQ(acc, 3 * 1024);
	ASSERT_EQ(miss, 1024);
	sim_llc_free(c);

	ASSERT_EQ(sim_llc_create(&c, 64 << 10, 16), 0);
	for (int r = 0; r < 3; r++)
		for (uint64_t a = 0; a < (128 << 10); a += 64)
			(void)sim_llc_access(c, a);
	sim_llc_stats(c, &acc, &miss);
	ASSERT_EQ(miss, acc);
	sim_llc_free(c);

	/* direct mapped: two lines of one set take turns */
	ASSERT_EQ(sim_llc_create(&c, 2 * SIM_LLC_LINE, 1), 0);
	ASSERT_TRUE(!sim_llc_access(c, 0));
	ASSERT_TRUE(!sim_llc_access(c, 128));
	ASSERT_TRUE(!sim_llc_access(c, 0));
	ASSERT_TRUE(!sim_llc_access(c, 64));
	ASSERT_TRUE(sim_llc_access(c, 0));
	sim_llc_free(c);
}

static void
test_spec(void)
{
	struct sim_llc *c;
	uint64_t size;
	unsigned ways;

	ASSERT_EQ(sim_llc_parse("64K", &size, &ways), 0);
	ASSERT_EQ(size, 64 << 10);
	ASSERT_EQ(ways, SIM_LLC_WAYS_DEFAULT);
	ASSERT_EQ(sim_llc_parse("30M,12", &size, &ways), 0);
	ASSERT_EQ(size, 30 << 20);
	ASSERT_EQ(ways, 12);
	ASSERT_EQ(sim_llc_parse("1M,0", &size, &ways), -EINVAL);
	ASSERT_EQ(sim_llc_parse("1M,65", &size, &ways), -EINVAL);
	ASSERT_EQ(sim_llc_parse("1M,x", &size, &ways), -EINVAL);
	ASSERT_EQ(sim_llc_parse("100,1", &size, &ways), -EINVAL);	/* not lines */
	ASSERT_EQ(sim_llc_parse("192,2", &size, &ways), -EINVAL);	/* 3 lines, 2 ways */
	ASSERT_EQ(sim_llc_parse("0", &size, &ways), -EINVAL);
	ASSERT_EQ(sim_llc_parse("5G", &size, &ways), -EINVAL);
	ASSERT_EQ(sim_llc_parse("", &size, &ways), -EINVAL);
	ASSERT_EQ(sim_llc_create(&c, 192, 2), -EINVAL);
	ASSERT_EQ(sim_llc_create(&c, 128, 0), -EINVAL);
	ASSERT_TRUE(c == NULL);
}

int
main(void)
{
	RUN_TEST(test_lru_in_a_set);
	RUN_TEST(test_capacity);
	RUN_TEST(test_spec);
	TEST_EXIT();
}
