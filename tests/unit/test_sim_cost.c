/*
 * test_sim_cost.c - vtier-sim's cost model: the defaults cost.c cites,
 * run time and slowdown on numbers worked out by hand, and --cost
 * specifications good and bad (a bad one changes nothing).
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "../test.h"
#include "sim/sim.h"

/* Equal to within a millionth of b. */
#define ASSERT_NEAR(a, b) ASSERT_TRUE(fabs((a) - (b)) <= 1e-6 * fabs(b) + 1e-9)

static void
test_defaults(void)
{
	struct sim_cost c;

	sim_cost_defaults(&c);
	ASSERT_EQ(c.accesses, 10007);
	ASSERT_NEAR(c.fast_ns, 100.0);
	ASSERT_NEAR(c.slow_ns, 250.0);
	ASSERT_NEAR(c.migrate_ns, 10000.0);
}

static void
test_arithmetic(void)
{
	struct sim_cost c = { .accesses = 2, .fast_ns = 100, .slow_ns = 300,
	    .migrate_ns = 1000 };

	/* 10 samples, 6 hits: 2 * (6 * 100 + 4 * 300) = 3600, + 3 pages */
	ASSERT_NEAR(sim_cost_time(&c, 10, 6, 3), 6600.0);
	/* against 2 * 10 * 100 = 2000 */
	ASSERT_NEAR(sim_cost_slowdown(&c, 10, 6, 3), 3.3);
	/* all hits and no migration: exactly 1; all misses: the latency ratio */
	ASSERT_NEAR(sim_cost_slowdown(&c, 10, 10, 0), 1.0);
	ASSERT_NEAR(sim_cost_slowdown(&c, 10, 0, 0), 3.0);
	/* nothing sampled: 1, whatever moved */
	ASSERT_NEAR(sim_cost_slowdown(&c, 0, 0, 5), 1.0);
	/* hits above samples (never from the engine) count no misses */
	ASSERT_NEAR(sim_cost_time(&c, 1, 2, 0), 400.0);
}

static void
test_parse(void)
{
	struct sim_cost c, d;
	char err[256];

	sim_cost_defaults(&c);
	ASSERT_EQ(sim_cost_parse(&c, "accesses=20,migrate=2000", err,
	    sizeof(err)), 0);
	ASSERT_EQ(c.accesses, 20);
	ASSERT_NEAR(c.migrate_ns, 2000.0);
	ASSERT_NEAR(c.fast_ns, 100.0);
	ASSERT_EQ(sim_cost_parse(&c, "fast=80.5,slow=0", err, sizeof(err)), 0);
	ASSERT_NEAR(c.fast_ns, 80.5);
	ASSERT_NEAR(c.slow_ns, 0.0);

	d = c;
	ASSERT_EQ(sim_cost_parse(&c, "slow=200,bogus=1", err, sizeof(err)),
	    -EINVAL);
	ASSERT_CONTAINS(err, "bogus=1");
	ASSERT_TRUE(memcmp(&c, &d, sizeof(c)) == 0);	/* unchanged */
	ASSERT_EQ(sim_cost_parse(&c, "fast=0", err, sizeof(err)), -EINVAL);
	ASSERT_EQ(sim_cost_parse(&c, "accesses=1.5", err, sizeof(err)), -EINVAL);
	ASSERT_EQ(sim_cost_parse(&c, "accesses=0", err, sizeof(err)), -EINVAL);
	ASSERT_EQ(sim_cost_parse(&c, "slow=-1", err, sizeof(err)), -EINVAL);
	ASSERT_EQ(sim_cost_parse(&c, "slow", err, sizeof(err)), -EINVAL);
	ASSERT_CONTAINS(err, "KEY=NUMBER");
	ASSERT_EQ(sim_cost_parse(&c, "slow=1e13", err, sizeof(err)), -EINVAL);
	ASSERT_EQ(sim_cost_parse(&c, "migrate=5x", err, sizeof(err)), -EINVAL);
	ASSERT_TRUE(memcmp(&c, &d, sizeof(c)) == 0);
}

int
main(void)
{
	RUN_TEST(test_defaults);
	RUN_TEST(test_arithmetic);
	RUN_TEST(test_parse);
	TEST_EXIT();
}
