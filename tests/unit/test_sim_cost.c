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

/* --agent-cpu: the same form, its own keys, nothing priced by default. */
static void
test_cpu_parse(void)
{
	struct sim_cpu c, d;
	char err[256], big[300];

	memset(&c, 0, sizeof(c));
	ASSERT_EQ(sim_cpu_parse(&c, "wakeup=10000,sample=150.5", err,
	    sizeof(err)), 0);
	ASSERT_NEAR(c.wakeup_ns, 10000.0);
	ASSERT_NEAR(c.sample_ns, 150.5);
	ASSERT_NEAR(c.tick_ns, 0.0);
	ASSERT_EQ(sim_cpu_parse(&c, "tick=165000", err, sizeof(err)), 0);
	ASSERT_NEAR(c.tick_ns, 165000.0);
	ASSERT_NEAR(c.wakeup_ns, 10000.0);

	d = c;
	ASSERT_EQ(sim_cpu_parse(&c, "wakeup=1,accesses=2", err, sizeof(err)),
	    -EINVAL);
	ASSERT_STREQ(err, "--agent-cpu accesses=2: expected wakeup, sample "
	    "or tick (ns)");
	ASSERT_EQ(sim_cpu_parse(&c, "wakeup", err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "--agent-cpu wakeup: expected KEY=NUMBER (wakeup, "
	    "sample, tick)");
	ASSERT_EQ(sim_cpu_parse(&c, "sample=-1", err, sizeof(err)), -EINVAL);
	ASSERT_EQ(sim_cpu_parse(&c, "tick=2e12", err, sizeof(err)), -EINVAL);
	memset(big, 'w', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ASSERT_EQ(sim_cpu_parse(&c, big, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "--agent-cpu: too long");
	ASSERT_TRUE(memcmp(&c, &d, sizeof(c)) == 0);	/* unchanged */
}

int
main(void)
{
	RUN_TEST(test_defaults);
	RUN_TEST(test_arithmetic);
	RUN_TEST(test_parse);
	RUN_TEST(test_cpu_parse);
	TEST_EXIT();
}
