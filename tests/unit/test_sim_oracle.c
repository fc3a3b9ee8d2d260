/*
 * test_sim_oracle.c - the per-epoch oracle and the replay engine on
 * hand-made traces whose answers are known: top pages by count per
 * epoch, what the oracle's moves would cost, ties, empty and full
 * budgets, epoch boundaries, the starting placement (first appearance),
 * and that no static placement beats the oracle.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../test.h"
#include "sim/sim.h"

#define MS 1000000ULL

static struct sim_trace tr;
static struct sim_params par;

static void
reset(uint64_t budget_pages, uint64_t epoch_ms)
{
	sim_trace_free(&tr);
	memset(&par, 0, sizeof(par));
	config_defaults(&par.cfg);
	par.budget_pages = budget_pages;
	par.epoch_ns = epoch_ms * MS;
}

/* One sample of page p (pid 1) at t_ms. */
static void
add(uint64_t t_ns, uint32_t p)
{
	struct sample s = { .time_ns = t_ns, .pid = 1,
	    .addr = 0x10000000ULL + ((uint64_t)p << 12) };

	if (sim_trace_add(&tr, &s) < 0)
		abort();
}

/* Add a string of page letters, one sample each, 1 ms apart from t. */
static uint64_t
add_str(uint64_t t_ns, const char *pages)
{
	for (; *pages; pages++, t_ns += MS)
		add(t_ns, (uint32_t)(*pages - 'A'));
	return t_ns;
}

static void
test_one_epoch(void)
{
	struct sim_result o, ft;

	reset(2, 1000);
	/* first appearances D, C, B, A; counts A 5, B 3, C 2, D 1 */
	add_str(0, "DCBAAABAABC");
	ASSERT_EQ(tr.npages, 4);
	ASSERT_EQ(sim_oracle(&tr, &par, &o), 0);
	ASSERT_EQ(o.nep, 1);
	ASSERT_EQ(o.samples, 11);
	ASSERT_EQ(o.hits, 8);		/* A and B */
	ASSERT_EQ(o.ep[0].fast_pages, 2);
	ASSERT_EQ(o.promoted + o.demoted, 0);	/* the first placement is free */
	/* first-touch keeps the first two to appear, D and C */
	ASSERT_EQ(sim_run_policy(&tr, &par, &sim_policy_first_touch, &ft), 0);
	ASSERT_EQ(ft.hits, 3);
	ASSERT_EQ(ft.promoted + ft.demoted, 0);
	ASSERT_EQ(ft.ep[0].fast_pages, 2);
	sim_result_free(&o);
	sim_result_free(&ft);
}

static void
test_two_epochs(void)
{
	struct sim_result o;

	reset(2, 1000);
	add_str(0, "AAAABBBC");		/* epoch 0: A 4, B 3, C 1 */
	add_str(1000 * MS, "CCCCDDDA");	/* epoch 1: C 4, D 3, A 1 */
	ASSERT_EQ(sim_oracle(&tr, &par, &o), 0);
	ASSERT_EQ(o.nep, 2);
	ASSERT_EQ(o.ep[0].hits, 7);
	ASSERT_EQ(o.ep[1].hits, 7);
	ASSERT_EQ(o.ep[1].oracle_hits, 7);
	ASSERT_EQ(o.hits, 14);
	/* from {A, B} to {C, D}: two in, two out */
	ASSERT_EQ(o.ep[1].promoted, 2);
	ASSERT_EQ(o.ep[1].demoted, 2);
	ASSERT_EQ(o.promoted, 2);
	sim_result_free(&o);

	/* one page of the set stays: A 4 B 3 | A 2 C 3 -> {A,B} -> {C,A} */
	reset(2, 1000);
	add_str(0, "AAAABBB");
	add_str(1000 * MS, "AACCC");
	ASSERT_EQ(sim_oracle(&tr, &par, &o), 0);
	ASSERT_EQ(o.hits, 12);
	ASSERT_EQ(o.ep[1].promoted, 1);
	ASSERT_EQ(o.ep[1].demoted, 1);
	sim_result_free(&o);
}

static void
test_ties_and_budgets(void)
{
	struct sim_result o;

	/* equal counts: the lower page id (earlier first appearance) wins */
	reset(1, 1000);
	add_str(0, "XYZXYZ");
	add_str(1000 * MS, "XYZ");
	ASSERT_EQ(sim_oracle(&tr, &par, &o), 0);
	ASSERT_EQ(o.ep[0].hits, 2);
	ASSERT_EQ(o.ep[1].hits, 1);
	ASSERT_EQ(o.ep[1].promoted, 0);	/* X both times */
	sim_result_free(&o);

	reset(0, 1000);
	add_str(0, "ABCABC");
	ASSERT_EQ(sim_oracle(&tr, &par, &o), 0);
	ASSERT_EQ(o.hits, 0);
	ASSERT_EQ(o.ep[0].fast_pages, 0);
	sim_result_free(&o);

	par.budget_pages = 100;	/* more than the footprint */
	ASSERT_EQ(sim_oracle(&tr, &par, &o), 0);
	ASSERT_EQ(o.hits, 6);
	ASSERT_EQ(o.ep[0].fast_pages, 3);
	sim_result_free(&o);
}

static void
test_epoch_boundaries(void)
{
	struct sim_result o;

	reset(1, 1000);
	add(5 * MS, 0);			/* t0 = 5 ms */
	add(1004 * MS, 1);		/* still epoch 0 */
	add(1005 * MS, 1);		/* t0 + 1 s: epoch 1 */
	add(3005 * MS + 1, 0);		/* epoch 3; epoch 2 is empty */
	ASSERT_EQ(sim_nepochs(&tr, par.epoch_ns), 4);
	ASSERT_EQ(sim_oracle(&tr, &par, &o), 0);
	ASSERT_EQ(o.nep, 4);
	ASSERT_EQ(o.ep[0].samples, 2);
	ASSERT_EQ(o.ep[1].samples, 1);
	ASSERT_EQ(o.ep[2].samples, 0);
	ASSERT_EQ(o.ep[3].samples, 1);
	ASSERT_EQ(o.ep[0].hits, 1);	/* budget 1: one of the two */
	ASSERT_EQ(o.hits, 3);
	sim_result_free(&o);

	/* a trace spanning more epochs than the engine keeps: refused */
	reset(1, 1);
	add(0, 0);
	add(1000000ULL * 1000 * MS, 0);	/* 10^6 s in 1 ms epochs */
	ASSERT_EQ(sim_nepochs(&tr, par.epoch_ns), 0);
	ASSERT_EQ(sim_oracle(&tr, &par, &o), -E2BIG);
	ASSERT_EQ(sim_run_policy(&tr, &par, &sim_policy_first_touch, &o), -E2BIG);
}

/* A long idle gap does not make a 10 ms-period policy tick 10^9 times. */
static void
test_gap(void)
{
	struct sim_result r;
	clock_t c0 = clock();

	reset(1, 3600 * 1000);
	add_str(0, "ABAB");
	add_str(10000000ULL * 1000 * MS, "BABA");	/* 10^7 s later */
	ASSERT_EQ(sim_run_policy(&tr, &par, &sim_policy_hemem, &r), 0);
	ASSERT_EQ(r.samples, 8);
	ASSERT_LE((clock() - c0) / CLOCKS_PER_SEC, 5);
	sim_result_free(&r);
}

/* No placement fixed for an epoch does better than the oracle. */
static void
test_upper_bound(void)
{
	const struct sim_policy *static_pol = &sim_policy_first_touch;
	struct sim_result o, ft;
	uint64_t rng = 3, t = 0;

	reset(50, 100);
	for (int i = 0; i < 20000; i++) {
		uint64_t r = sim_rand(&rng);

		t += r % 1000000;
		/* skewed: page = min of two uniforms */
		add(t, (uint32_t)((r >> 20) % 400 < (r >> 40) % 400 ?
		    (r >> 20) % 400 : (r >> 40) % 400));
	}
	ASSERT_EQ(sim_oracle(&tr, &par, &o), 0);
	ASSERT_EQ(sim_run_policy(&tr, &par, static_pol, &ft), 0);
	ASSERT_EQ(o.nep, ft.nep);
	for (size_t e = 0; e < o.nep; e++) {
		ASSERT_EQ(o.ep[e].samples, ft.ep[e].samples);
		ASSERT_LE(ft.ep[e].hits, o.ep[e].hits);
	}
	ASSERT_TRUE(o.hits > ft.hits);
	sim_result_free(&o);
	sim_result_free(&ft);
}

int
main(void)
{
	RUN_TEST(test_one_epoch);
	RUN_TEST(test_two_epochs);
	RUN_TEST(test_ties_and_budgets);
	RUN_TEST(test_epoch_boundaries);
	RUN_TEST(test_gap);
	RUN_TEST(test_upper_bound);
	sim_trace_free(&tr);
	TEST_EXIT();
}
