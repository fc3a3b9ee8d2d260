/*
 * test_sim_policies.c - each policy's defining behaviour, seen from the
 * outside: a probe sample alone in its 1 ms epoch tells whether its page
 * sat in the fast tier at that moment.
 *
 *   hemem   hot after 4 sampled loads (or 4 stores, counted apart),
 *           promoted within a 10 ms round, the oldest cold fast page
 *           demoted for it; all counts halve when one passes 10
 *   memtis  the hot threshold is fitted to the fast tier from the
 *           histogram after 100000 samples; promotion stops 3% short
 *   tpp     promote on a second access within 1 s, never after a longer
 *           gap; 2% of the fast tier kept free by demoting the least
 *           recently sampled page
 *   tpp-scan promote at the first access after the scanner marked the
 *           page (every 1 s, a page still marked keeps its time) if it
 *           came within 1 s of the mark; one chance per mark
 *   vtier   hot slow pages promoted by the agent's own code, under the
 *           budget minus headroom and within the agent's rate limit;
 *           early rounds at the sampler's wake-ups
 *   first-touch never moves a page
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "sim/sim.h"

#define MS 1000000ULL

static struct sim_trace tr;
static struct sim_params par;
static struct sim_result res;

static void
reset(uint64_t budget_pages)
{
	sim_trace_free(&tr);
	sim_result_free(&res);
	memset(&par, 0, sizeof(par));
	config_defaults(&par.cfg);
	par.budget_pages = budget_pages;
	par.epoch_ns = 1 * MS;
	par.headroom = budget_pages * 4096 / 64;
}

static void
add_op(uint64_t t_ns, uint32_t p, uint8_t op)
{
	struct sample s = { .time_ns = t_ns, .pid = 7, .op = op,
	    .addr = 0x7f0000000000ULL + ((uint64_t)p << 12) + 64 };

	if (sim_trace_add(&tr, &s) < 0)
		abort();
}

static void
add(uint64_t t_ns, uint32_t p)
{
	add_op(t_ns, p, SAMPLE_OP_LOAD);
}

/* First appearance of pages 0..n-1 in order, 1 ms apart from t: ids = pages. */
static uint64_t
touch_all(uint64_t t, uint32_t n)
{
	for (uint32_t p = 0; p < n; p++, t += MS)
		add(t, p);
	return t;
}

static int
run(const struct sim_policy *pol)
{
	sim_result_free(&res);
	return sim_run_policy(&tr, &par, pol, &res);
}

/* Was the sample at t_ns a hit?  (It must be alone in its epoch.) */
static int
hit_at(uint64_t t_ns)
{
	const struct sim_epoch *ep = &res.ep[(t_ns - tr.rec[0].time_ns) / par.epoch_ns];

	if (ep->samples != 1)
		return -1;
	return (int)ep->hits;
}

static void
test_hemem_threshold(void)
{
	uint64_t t;

	reset(2);
	t = touch_all(0, 3);		/* A, B fast; C slow; one load each */
	t += 50 * MS;
	for (int i = 0; i < 2; i++, t += 10 * MS)
		add(t, 2);		/* three loads: not hot */
	t += 50 * MS;			/* five rounds pass */
	add(t, 2);			/* the fourth load misses... */
	ASSERT_EQ(run(&sim_policy_hemem), 0);
	ASSERT_EQ(hit_at(t), 0);
	t += 20 * MS;			/* ...and makes it hot: promoted */
	add(t, 2);
	add(t + 1 * MS, 0);		/* A, the oldest cold page, went down */
	add(t + 2 * MS, 1);
	ASSERT_EQ(run(&sim_policy_hemem), 0);
	ASSERT_EQ(hit_at(t), 1);
	ASSERT_EQ(hit_at(t + 1 * MS), 0);
	ASSERT_EQ(hit_at(t + 2 * MS), 1);
	ASSERT_EQ(res.promoted, 1);
	ASSERT_EQ(res.demoted, 1);
}

static void
test_hemem_writes(void)
{
	uint64_t t;

	/* loads and stores count apart: 2 + 2 is not hot, 4 stores are */
	reset(2);
	t = touch_all(0, 4);		/* C, D slow */
	add_op(t += 10 * MS, 2, SAMPLE_OP_STORE);
	add_op(t += 10 * MS, 2, SAMPLE_OP_STORE);
	add_op(t += 10 * MS, 2, SAMPLE_OP_LOAD);	/* C: 2 loads, 2 stores */
	for (int i = 0; i < 4; i++)
		add_op(t += 10 * MS, 3, SAMPLE_OP_STORE);	/* D: 4 stores */
	t += 50 * MS;
	add_op(t, 2, SAMPLE_OP_STORE);	/* C: 3 stores now, still slow */
	add_op(t + 1 * MS, 3, SAMPLE_OP_LOAD);
	ASSERT_EQ(run(&sim_policy_hemem), 0);
	ASSERT_EQ(hit_at(t), 0);
	ASSERT_EQ(hit_at(t + 1 * MS), 1);
}

static void
test_hemem_cooling(void)
{
	uint64_t t;

	reset(2);
	t = touch_all(0, 3);
	for (int i = 0; i < 2; i++)
		add(t += 10 * MS, 2);	/* C: 3 loads, with touch_all's */
	for (int i = 0; i < 11; i++)
		add(t += 5 * MS, 0);	/* A passes 10: every count halves */
	add(t += 50 * MS, 2);		/* C: 1 + 1, not 4 */
	t += 50 * MS;
	add(t, 2);
	ASSERT_EQ(run(&sim_policy_hemem), 0);
	ASSERT_EQ(hit_at(t), 0);
	ASSERT_EQ(res.promoted, 0);
}

static void
test_memtis_fit(void)
{
	enum { PAGES = 1000, FAST = 100, HOT0 = 500, NHOT = 50 };
	uint64_t t, n = 0;

	reset(FAST);
	t = touch_all(0, PAGES);
	/* 100000+ samples: hot pages 30 times as often as the others */
	while (n < 110000) {
		for (uint32_t p = 0; p < PAGES; p++) {
			int k = p >= HOT0 && p < HOT0 + NHOT ? 30 : 1;

			for (int j = 0; j < k; j++, n++)
				add(t += 50000, p);	/* 50 us apart */
		}
	}
	t += 2000 * MS;			/* four 500 ms rounds */
	for (uint32_t p = HOT0; p < HOT0 + NHOT; p++)
		add(t += MS, p);
	ASSERT_EQ(run(&sim_policy_memtis), 0);
	t -= NHOT * MS;
	for (uint32_t i = 1; i <= NHOT; i++)
		ASSERT_EQ(hit_at(t + i * MS), 1);
	/* promotion leaves the 3% promotion watermark free */
	ASSERT_LE(res.ep[res.nep - 1].fast_pages, FAST - FAST * 3 / 100);
	ASSERT_TRUE(res.promoted >= NHOT);
}

static void
test_tpp(void)
{
	uint64_t t, t0;

	reset(100);			/* watermark: 2 pages */
	t = touch_all(0, 200);		/* 0..99 fast, 100..199 slow */
	t0 = t += 2000 * MS;		/* every last access > 1 s ago */
	/* reclaim at start: the two least recent (0, 1) went down */
	add(t += MS, 0);
	add(t += MS, 2);
	/* every fast page but 50 sampled again: 50 is least recent */
	for (uint32_t p = 3; p < 100; p++)
		if (p != 50)
			add(t += MS, p);
	add(t += 10 * MS, 150);		/* > 1 s after its first access */
	add(t += 1500 * MS, 150);	/* 1.5 s later: too late, no promotion */
	add(t += 900 * MS, 150);	/* 0.9 s later: promoted now */
	add(t + 1 * MS, 150);
	add(t + 2 * MS, 50);		/* demoted to keep 2% free */
	add(t + 3 * MS, 51);
	ASSERT_EQ(run(&sim_policy_tpp), 0);
	ASSERT_EQ(hit_at(t0 + MS), 0);		/* page 0 */
	ASSERT_EQ(hit_at(t0 + 2 * MS), 1);	/* page 2 */
	ASSERT_EQ(hit_at(t - 900 * MS), 0);
	ASSERT_EQ(hit_at(t), 0);	/* the promoting access itself */
	ASSERT_EQ(hit_at(t + 1 * MS), 1);
	ASSERT_EQ(hit_at(t + 2 * MS), 0);
	ASSERT_EQ(hit_at(t + 3 * MS), 1);
	ASSERT_EQ(res.promoted, 1);
	ASSERT_EQ(res.demoted, 3);	/* 0 and 1 at the start, then 50 */
	ASSERT_EQ(res.ep[res.nep - 1].fast_pages, 98);
}

static void
test_tpp_scan(void)
{
	reset(100);			/* one sample, one access */
	(void)touch_all(0, 200);	/* 0..99 fast, 100..199 slow */
	/* the scan at 1 s marks every slow page */
	add(1500 * MS, 150);		/* 0.5 s after: promoted */
	add(1501 * MS, 150);
	add(2100 * MS, 180);		/* 1.1 s after the mark: not hot */
	add(2200 * MS, 180);		/* unmarked: no fault, as tpp would */
	add(2300 * MS, 180);
	add(3500 * MS, 160);		/* marked at 1 s, kept: 2.5 s, not hot */
	add(3501 * MS, 160);
	add(4200 * MS, 160);		/* marked again at 4 s: promoted */
	add(4201 * MS, 160);
	ASSERT_EQ(run(&sim_policy_tpp_scan), 0);
	ASSERT_EQ(hit_at(1500 * MS), 0);
	ASSERT_EQ(hit_at(1501 * MS), 1);
	ASSERT_EQ(hit_at(2300 * MS), 0);
	ASSERT_EQ(hit_at(3501 * MS), 0);
	ASSERT_EQ(hit_at(4200 * MS), 0);
	ASSERT_EQ(hit_at(4201 * MS), 1);
	ASSERT_EQ(res.promoted, 2);
	/* a sample of 10 accesses: the first came ~1/10 as long after the
	 * mark, 110 ms for 180 at 2.1 s, which promotes it */
	par.cost.accesses = 10;
	ASSERT_EQ(run(&sim_policy_tpp_scan), 0);
	ASSERT_EQ(hit_at(2200 * MS), 1);
	/* the same samples under tpp: 180's second sample promotes it */
	par.cost.accesses = 0;
	ASSERT_EQ(run(&sim_policy_tpp), 0);
	ASSERT_EQ(hit_at(2300 * MS), 1);
}

/* 64 hot slow pages, sampled 4 times a second each for 4 s. */
static uint64_t
vtier_trace(void)
{
	uint64_t t = touch_all(0, 1024);

	for (int round = 0; round < 16; round++)
		for (uint32_t p = 900; p < 964; p++)
			add(t += 250 * MS / 64, p);
	return t;
}

/* vtier_trace, then each hot page once more: all of them hits. */
static void
vtier_hot_in(void)
{
	uint64_t t = vtier_trace() + 1000 * MS;

	for (uint32_t p = 900; p < 964; p++)
		add(t + (p - 899) * MS, p);
	ASSERT_EQ(run(&sim_policy_vtier), 0);
	for (uint32_t p = 900; p < 964; p++)
		ASSERT_EQ(hit_at(t + (p - 899) * MS), 1);
	ASSERT_EQ(res.promoted, 64);
}

static void
test_vtier(void)
{
	uint64_t t;

	reset(256);
	vtier_hot_in();
	/* cold pages made room; usage stays at budget - headroom or below */
	ASSERT_TRUE(res.demoted >= 64);
	ASSERT_LE(res.ep[res.nep - 1].fast_pages, 256 - 4);

	/*
	 * The agent's default headroom, auto: a trace has no memory the
	 * agent does not manage, no creep, so none is kept: the hot pages
	 * take the place of as many cold ones, the budget stays full.
	 */
	reset(256);
	par.headroom = CONFIG_HEADROOM_AUTO;
	vtier_hot_in();
	ASSERT_EQ(res.demoted, 64);
	ASSERT_EQ_U(res.ep[res.nep - 1].fast_pages, 256);

	/* the agent's rate limit: 16 pages a second, a second's burst */
	reset(256);
	par.cfg.rate_bytes = 16 * 4096;
	t = vtier_trace();
	add(t + MS, 0);
	ASSERT_EQ(run(&sim_policy_vtier), 0);
	/* demotions and promotions share the bucket: ~5 s of it at most */
	ASSERT_LE(res.promoted + res.demoted, 16 * 6);
	ASSERT_TRUE(res.promoted > 0);
}

/*
 * Early rounds: with the timer every 5 s, the first round (at 5 s) leaves
 * the pages touched once where they are and asks a slow page for heat 5
 * (enough to displace a fast page of heat 1).  A slow page sampled every
 * ms from 6.1 s has it at its 5th sample and is promoted at the sampler's
 * next wake-up (every 64 samples; interval / 50 = 100 ms after the last
 * round has long passed), long before the timer's second round.
 */
static void
test_vtier_early(void)
{
	uint64_t t;

	reset(256);
	par.cfg.interval_ms = 5000;
	touch_all(0, 1024);			/* 1024 samples: 16 wake-ups */
	t = 6100 * MS;
	for (uint32_t k = 1; k <= 128; k++)
		add(t + k * MS, 900);
	ASSERT_EQ(run(&sim_policy_vtier), 0);
	ASSERT_EQ(hit_at(t + 5 * MS), 0);
	ASSERT_EQ(hit_at(t + 64 * MS), 0);	/* the wake-up's last sample */
	ASSERT_EQ(hit_at(t + 65 * MS), 1);
	ASSERT_EQ(hit_at(t + 128 * MS), 1);
	ASSERT_EQ(res.promoted, 1);
}

/*
 * The agent's CPU priced (--agent-cpu): a small table, so early rounds
 * stay possible, and 20,000 samples a second for 10 s, a new page turning
 * hot every 50 ms (sqlite3's pattern).  Unpriced the agent reads at every
 * wake-up; priced at 100 us a read (312 reads a second: 3% of a CPU) it
 * spaces its reads within the 1% budget (pace.c): the modelled CPU over
 * the run, the first seconds' climb to the spacing included, ends near
 * the budget (1.17% here), and the new pages come in no sooner than they
 * did (hits 124,810 against 127,491).
 * Priced at 1 ns a read it stays under and plans exactly as unpriced.
 */
static uint64_t
fresh_trace(void)
{
	uint64_t t = touch_all(0, 1024), end = t + 10000 * MS;
	uint32_t k = 0;

	for (uint64_t now = t; now < end; now += 50000, k++) {
		uint32_t hot = 1024 + (uint32_t)((now - t) / (50 * MS));

		add(now, k % 4 == 0 ? hot : (k * 7919) % 1024);
	}
	return end;
}

static void
test_vtier_budget(void)
{
	uint64_t hits, promoted, demoted;

	reset(512);
	fresh_trace();
	ASSERT_EQ(run(&sim_policy_vtier), 0);
	ASSERT_TRUE(res.agent_cpu < 0);		/* not priced */
	ASSERT_EQ(res.sampler_waits, 0);
	hits = res.hits;
	promoted = res.promoted;
	demoted = res.demoted;
	ASSERT_TRUE(promoted >= 60);		/* the fresh pages came in */

	par.cpu.wakeup_ns = 1;
	ASSERT_EQ(run(&sim_policy_vtier), 0);
	ASSERT_TRUE(res.agent_cpu > 0 && res.agent_cpu < 0.01);	/* rounds */
	ASSERT_EQ(res.sampler_waits, 0);
	ASSERT_EQ(res.hits, hits);
	ASSERT_EQ(res.promoted, promoted);
	ASSERT_EQ(res.demoted, demoted);

	par.cpu.wakeup_ns = 100000;
	ASSERT_EQ(run(&sim_policy_vtier), 0);
	ASSERT_TRUE(res.sampler_waits > 0);
	ASSERT_TRUE(res.agent_cpu > 0.005 && res.agent_cpu < 0.015);
	ASSERT_LE(res.hits, hits);
	ASSERT_TRUE(res.promoted > 0);
	ASSERT_EQ(res.samples_skipped, 0);	/* spacing the reads did it */
}

/*
 * Samples that alone cost twice the budget (1 us each at 20,000 a
 * second): spacing the reads cannot help, and once it is at its longest
 * the PEBS period rises, as the agent raises it, until the samples the
 * agent still sees fit; the others never reach it (samples_skipped).
 */
static void
test_vtier_period(void)
{
	reset(512);
	fresh_trace();
	par.cpu.sample_ns = 1000;
	ASSERT_EQ(run(&sim_policy_vtier), 0);
	ASSERT_TRUE(res.samples_skipped > 40000);	/* of 200,000 */
	ASSERT_TRUE(res.samples_skipped < 160000);
	ASSERT_TRUE(res.agent_cpu < 0.015);
	ASSERT_TRUE(res.promoted > 0);
	/* unpriced, every sample reaches the agent */
	memset(&par.cpu, 0, sizeof(par.cpu));
	ASSERT_EQ(run(&sim_policy_vtier), 0);
	ASSERT_EQ(res.samples_skipped, 0);
}

static void
test_first_touch(void)
{
	reset(256);
	vtier_trace();
	ASSERT_EQ(run(&sim_policy_first_touch), 0);
	ASSERT_EQ(res.promoted + res.demoted, 0);
	ASSERT_EQ(res.ep[res.nep - 1].fast_pages, 256);
}

static void
test_policy_names(void)
{
	ASSERT_TRUE(sim_policy_find("vtier") == &sim_policy_vtier);
	ASSERT_TRUE(sim_policy_find("first-touch") == &sim_policy_first_touch);
	ASSERT_TRUE(sim_policy_find("tpp-scan") == &sim_policy_tpp_scan);
	ASSERT_TRUE(sim_policy_find("oracle") == NULL);
	ASSERT_TRUE(sim_policy_find("nope") == NULL);
}

int
main(void)
{
	RUN_TEST(test_hemem_threshold);
	RUN_TEST(test_hemem_writes);
	RUN_TEST(test_hemem_cooling);
	RUN_TEST(test_memtis_fit);
	RUN_TEST(test_tpp);
	RUN_TEST(test_tpp_scan);
	RUN_TEST(test_vtier);
	RUN_TEST(test_vtier_early);
	RUN_TEST(test_vtier_budget);
	RUN_TEST(test_vtier_period);
	RUN_TEST(test_first_touch);
	RUN_TEST(test_policy_names);
	sim_trace_free(&tr);
	sim_result_free(&res);
	TEST_EXIT();
}
