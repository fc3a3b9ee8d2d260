/* test_pace.c - spacing the sampler's reads against the CPU budget */
#include "vtier/log.h"
#include "vtier/util.h"
#include "pace.h"
#include "../test.h"

#define MS	1000000ULL
#define S	1000000000ULL

/* One window of wall time w at CPU fraction frac from (cpu, wall). */
static bool
window(struct pace *p, uint64_t *cpu, uint64_t *wall, double frac,
    uint64_t cap)
{
	*cpu += (uint64_t)(frac * (double)S);
	*wall += S;
	return pace_tick(p, *cpu, *wall, 0.01, cap);
}

/*
 * Over the budget the spacing starts at two wake-up gaps and grows a
 * step a window, by how far over (1.25 to 2 times), up to the cap.
 */
static void
test_pace_grows(void)
{
	static const struct { double frac; uint64_t space; } up[] = {
		{ 0.0101, 8000000 }, { 0.1, 16000000 }, { 0.015, 24000000 },
		{ 0.0101, 30000000 }, { 0.02, 50 * MS }, { 0.1, 50 * MS },
	};
	struct pace p = { 0 };
	uint64_t cpu = 5 * S, wall = 100 * S;

	ASSERT_TRUE(!pace_tick(&p, cpu, wall, 0.01, 50 * MS));	/* start */
	for (int i = 0; i < 8; i++)
		pace_woke(&p, 3200000);
	ASSERT_EQ(p.wake_gap_ns, 3200000);
	/* within a window: nothing yet */
	ASSERT_TRUE(!pace_tick(&p, cpu + S, wall + S / 2, 0.01, 50 * MS));
	ASSERT_TRUE(!p.window_ended);
	ASSERT_TRUE(window(&p, &cpu, &wall, 0.012, 50 * MS));
	ASSERT_TRUE(p.window_ended);	/* the period adapts on it */
	ASSERT_EQ(p.space_ns, 6400000);
	for (size_t i = 0; i < ARRAY_SIZE(up); i++) {
		ASSERT_EQ(window(&p, &cpu, &wall, up[i].frac, 50 * MS),
		    i + 1 < ARRAY_SIZE(up));
		ASSERT_EQ(p.space_ns, up[i].space);
	}
	ASSERT_TRUE(p.frac > 0.099 && p.frac < 0.101);
}

/*
 * Between 80% of the budget and the budget it stays; under, it shrinks
 * a step a window until it would skip no wake-up; over, it grows again.
 */
static void
test_pace_relaxes(void)
{
	static const uint64_t down[] = { 3200000, 2560000, 2048000, 1638400,
	    1310720, 1048576, 0 };
	struct pace p = { 0 };
	uint64_t cpu = 0, wall = S;

	pace_woke(&p, 400000);		/* 0.4 ms gaps: PACE_MIN_NS counts */
	ASSERT_TRUE(!pace_tick(&p, cpu, wall, 0.01, 50 * MS));
	ASSERT_TRUE(!window(&p, &cpu, &wall, 0.005, 50 * MS));
	ASSERT_TRUE(!window(&p, &cpu, &wall, 0.01, 50 * MS));	/* at it */
	ASSERT_EQ(p.space_ns, 0);
	ASSERT_TRUE(window(&p, &cpu, &wall, 0.02, 50 * MS));
	ASSERT_EQ(p.space_ns, PACE_MIN_NS);
	for (int i = 0; i < 6; i++)
		ASSERT_TRUE(window(&p, &cpu, &wall, 0.0112, 50 * MS));
	ASSERT_EQ(p.space_ns, 3814696);	/* 1.25^6 ms, truncated */
	ASSERT_TRUE(!window(&p, &cpu, &wall, 0.0081, 50 * MS));
	ASSERT_TRUE(p.window_ended);	/* ended, no change */
	ASSERT_TRUE(!window(&p, &cpu, &wall, 0.0099, 50 * MS));
	ASSERT_TRUE(window(&p, &cpu, &wall, 0.0079, 50 * MS));
	ASSERT_EQ(p.space_ns, 3051756);
	ASSERT_TRUE(window(&p, &cpu, &wall, 0.011, 50 * MS));
	ASSERT_EQ(p.space_ns, 3814695);
	p.space_ns = 4 * MS;
	for (size_t i = 0; i < ARRAY_SIZE(down); i++) {
		ASSERT_TRUE(window(&p, &cpu, &wall, 0, 50 * MS));
		ASSERT_EQ(p.space_ns, down[i]);
	}
	ASSERT_TRUE(!window(&p, &cpu, &wall, 0, 50 * MS));
}

/* A clock that steps back, or no budget, changes nothing. */
static void
test_pace_clocks(void)
{
	struct pace p = { 0 };

	ASSERT_TRUE(!pace_tick(&p, 10 * S, 10 * S, 0.01, 50 * MS));
	ASSERT_TRUE(!pace_tick(&p, 9 * S, 12 * S, 0.01, 50 * MS));
	ASSERT_TRUE(!pace_tick(&p, 10 * S, 14 * S, 0, 50 * MS));
	ASSERT_EQ(p.space_ns, 0);
	/* the cap below the least spacing: the cap */
	pace_woke(&p, 30 * MS);
	ASSERT_TRUE(pace_tick(&p, 12 * S, 16 * S, 0.01, 50 * MS));
	ASSERT_EQ(p.space_ns, 50 * MS);
}

/*
 * The charged clock: the loop thread's CPU, plus the rest of the process's
 * up to half the budget.  1% budget, 50 ms ticks: 250 us of the worker a
 * tick, and what earlier ticks left.
 */
static void
test_pace_charge(void)
{
	struct pace_charge c = { 0 };
	uint64_t loop = 5 * S, proc = 7 * S, wall = 100 * S;

	ASSERT_EQ(pace_charge(&c, loop, proc, wall, 0.01), 0);	/* first */
	/* rounds cheap: the whole process, 200 + 100 us (150 us left) */
	loop += 200000, proc += 300000, wall += 50 * MS;
	ASSERT_EQ(pace_charge(&c, loop, proc, wall, 0.01), 300000);
	/* rounds at 4% (2 ms a tick): the 150 us left and this tick's 250 */
	loop += 200000, proc += 2200000, wall += 50 * MS;
	ASSERT_EQ(pace_charge(&c, loop, proc, wall, 0.01), 900000);
	/* and from then on 250 us a tick, half the budget */
	loop += 200000, proc += 2200000, wall += 50 * MS;
	ASSERT_EQ(pace_charge(&c, loop, proc, wall, 0.01), 1350000);
	/* a process clock below the loop's (read apart): no rounds */
	loop += 400000, proc += 300000, wall += 50 * MS;
	ASSERT_EQ(pace_charge(&c, loop, proc, wall, 0.01), 1750000);
	/* clocks that step back charge nothing and restart the reading */
	ASSERT_EQ(pace_charge(&c, loop - 1, proc, wall + 50 * MS, 0.01),
	    1750000);
	ASSERT_EQ(pace_charge(&c, loop + 100000, proc + 100000, wall,
	    0.01), 1750000);
	/* no budget: everything counts */
	ASSERT_EQ(pace_charge(&c, loop + 200000, proc + 5100000,
	    wall + 50 * MS, 0), 1750000 + 5000000);
}

/*
 * A round is a lump: 1.3 ms in one tick every 330 ms (a 64K-slot table,
 * 0.4% of a CPU) counts whole, from the allowance the ticks between kept;
 * the allowance keeps at most a window's, 5 ms at 1%.
 */
static void
test_pace_charge_lumps(void)
{
	struct pace_charge c = { 0 };
	uint64_t loop = S, proc = S, wall = S, want = 0;

	(void)pace_charge(&c, loop, proc, wall, 0.01);
	for (int r = 0; r < 10; r++) {
		for (int t = 0; t < 6; t++) {
			loop += 300000, proc += 300000, wall += 50 * MS;
			want += 300000;
			ASSERT_EQ(pace_charge(&c, loop, proc, wall, 0.01), want);
		}
		loop += 300000, proc += 300000 + 1300000, wall += 30 * MS;
		want += 300000 + 1300000;
		ASSERT_EQ(pace_charge(&c, loop, proc, wall, 0.01), want);
	}
	/* 10 s idle: 5 ms kept, not 50: a 20 ms round counts 5 of it */
	wall += 10 * S;
	(void)pace_charge(&c, loop, proc, wall, 0.01);
	proc += 20 * MS, wall += 50 * MS;
	ASSERT_EQ(pace_charge(&c, loop, proc, wall, 0.01),
	    want + 5 * MS);
}

/* A read: unspaced, a wake-up gap seen; spaced, the next read's time. */
static void
test_pace_read(void)
{
	struct pace p = { 0 };

	ASSERT_EQ(pace_read(&p, 10 * MS), 0);	/* first: no gap yet */
	ASSERT_EQ(p.wake_gap_ns, 0);
	ASSERT_EQ(pace_read(&p, 13 * MS), 0);
	ASSERT_EQ(p.wake_gap_ns, 3 * MS);
	ASSERT_EQ(pace_read(&p, 13 * MS), 0);	/* no time passed: no gap */
	ASSERT_EQ(p.wake_gap_ns, 3 * MS);
	p.space_ns = 20 * MS;
	ASSERT_EQ(pace_read(&p, 40 * MS), 60 * MS);
	ASSERT_EQ(p.wake_gap_ns, 3 * MS);	/* spaced: not a wake-up gap */
	ASSERT_EQ(p.read_ns, 40 * MS);
}

/* The ticks read once the spacing reaches the interval, or no early round. */
static void
test_pace_ticks(void)
{
	struct pace p = { 0 };

	ASSERT_EQ(pace_cap_ns(50), 50 * MS);
	ASSERT_EQ(pace_cap_ns(20), 20 * MS);
	ASSERT_EQ(pace_cap_ns(250), (uint64_t)HOLD_MAX_MS * MS);
	ASSERT_TRUE(!pace_at_ticks(&p, 50, true));
	ASSERT_TRUE(pace_at_ticks(&p, 50, false));
	ASSERT_TRUE(!pace_at_ticks(&p, 250, false));	/* over HOLD_MAX_MS */
	p.space_ns = 49 * MS;
	ASSERT_TRUE(!pace_at_ticks(&p, 50, true));
	p.space_ns = 50 * MS;
	ASSERT_TRUE(pace_at_ticks(&p, 50, true));
	ASSERT_TRUE(!pace_at_ticks(&p, 250, true));
	/* spacing can save no more: at its cap, or read at the ticks */
	ASSERT_TRUE(pace_at_cap(&p, 250, true));	/* HOLD_MAX_MS */
	p.space_ns = 49 * MS;
	ASSERT_TRUE(!pace_at_cap(&p, 250, true));
	ASSERT_TRUE(pace_at_cap(&p, 50, false));
	/* the period follows the window, over the budget only when spent */
	p.frac = 0.02;
	ASSERT_TRUE(pace_period_frac(&p, true, 0.01) == 0.02);
	ASSERT_TRUE(pace_period_frac(&p, false, 0.01) == 0.01);
	p.frac = 0.005;
	ASSERT_TRUE(pace_period_frac(&p, false, 0.01) == 0.005);
}

int
main(void)
{
	log_init("test_pace", LOG_LVL_WARN);
	RUN_TEST(test_pace_grows);
	RUN_TEST(test_pace_relaxes);
	RUN_TEST(test_pace_clocks);
	RUN_TEST(test_pace_charge);
	RUN_TEST(test_pace_charge_lumps);
	RUN_TEST(test_pace_read);
	RUN_TEST(test_pace_ticks);
	TEST_EXIT();
}
