/*
 * test_policy.c - the placement policy: threshold fitting (exact within
 * the boundary bin, recent then fast pages first on ties), promotion into
 * room and by swapping, hysteresis, recency at the lowest counts, the
 * rates of pages sampled once and of room held by pages with no heat
 * left, pages maybe gone, the shock of samples leaving the fast tier,
 * paying for a move (break_even), minimum
 * residence, budget shrink, unattainable
 * budgets, max_bytes, THP sizes, unknown nodes, and a randomized check of
 * the plan's invariants against a brute-force hot set.
 */
#include <errno.h>

#include "vtier/util.h"
#include "config.h"
#include "heat.h"
#include "policy.h"
#include "../test.h"

#define PG 4096ULL
#define FASTN 0
#define SLOWN 1
#define NOW 100

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t
rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static uint64_t
rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* A tracked page with the given count (recorded count times). */
static struct heat_entry *
put(struct heat *h, uint64_t addr, bool thp, unsigned count, int node,
    uint16_t moved, uint8_t flags)
{
	struct heat_entry *e = NULL;

	for (unsigned i = 0; i < count; i++)
		e = heat_record(h, 1, addr, thp, 0);
	if (e == NULL)
		return NULL;
	e->node = (int8_t)node;
	e->moved = moved;
	e->flags = flags;
	return e;
}

static struct policy_params
params(uint64_t budget, uint64_t headroom, uint64_t fast_used)
{
	struct policy_params pp = {
		.budget = budget * PG,
		.headroom = headroom * PG,
		.fast_used = fast_used * PG,
		.fast_mask = 1ULL << FASTN | 1ULL << 2,
		.slow_mask = 1ULL << SLOWN | 1ULL << 3,
		.hysteresis = 1,
		.now_tick = NOW,
		.min_residence = 10,
		.max_bytes = 0,
	};

	return pp;
}

static bool
in_items(const struct plan_item *it, size_t n, uint64_t key)
{
	for (size_t i = 0; i < n; i++)
		if (it[i].key == key)
			return true;
	return false;
}

static bool
maybe_gone(const struct heat *h, const struct heat_entry *e)
{
	return heat_maybe_gone(e->count, e->epoch, heat_epoch(h),
	    heat_stale_k(h));
}

static uint64_t
key_of(uint64_t addr, bool thp)
{
	return heat_key(1, addr, thp);
}

static void
test_params(void)
{
	struct heat *h;
	struct plan p;
	struct policy_params pp = params(10, 0, 0);

	ASSERT_EQ(policy_plan_init(&p, 0), -EINVAL);
	ASSERT_EQ(heat_create(&h, 16, 1000), 0);
	ASSERT_EQ(policy_plan_init(&p, 8), 0);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.ndemote + p.npromote, 0);
	ASSERT_EQ(p.threshold, HEAT_COUNT_MAX + 1);
	pp.slow_mask |= pp.fast_mask;
	ASSERT_EQ(policy_plan(h, &pp, &p), -EINVAL);
	pp = params(10, 0, 0);
	pp.now_tick = 0;
	ASSERT_EQ(policy_plan(h, &pp, &p), -EINVAL);
	pp = params(10, 0, 0);
	pp.min_residence = 40000;
	ASSERT_EQ(policy_plan(h, &pp, &p), -EINVAL);
	policy_plan_free(&p);
	policy_plan_free(&p);	/* twice is harmless */
	heat_destroy(h);
}

/* A fast page (address 0) and a slow one (4 KiB on) of the given counts. */
static void
swap_pair(struct heat **h, struct plan *p, unsigned fast, unsigned slow)
{
	ASSERT_EQ(heat_create(h, 64, 1000000000ULL), 0);
	ASSERT_EQ(policy_plan_init(p, 16), 0);
	put(*h, 0 * PG, false, fast, FASTN, 0, 0);
	put(*h, 1 * PG, false, slow, SLOWN, 0, 0);
}

/*
 * A fast page (address 0) whose one sample has halved to count 0, not
 * stale, and a slow one (4 KiB on) sampled once since.
 */
static void
once_against_none(struct heat **h)
{
	ASSERT_EQ(heat_create(h, 64, 1000), 0);
	put(*h, 0 * PG, false, 1, FASTN, 0, 0);
	heat_advance(*h, 1000);
	put(*h, 1 * PG, false, 1, SLOWN, 0, 0);
}

/*
 * The slow page (4 KiB on) of h, of count 1, against the fast one
 * (address 0) that fills the tier: no swap while the hot set stays put,
 * nor while it moves unless once_pays; then the two change places.
 */
static void
once_gate(struct heat *h, struct plan *p, const struct policy_params *pp)
{
	ASSERT_EQ(policy_plan(h, pp, p), 0);
	ASSERT_EQ(p->threshold, 1);
	ASSERT_EQ(p->npromote + p->ndemote, 0);
	heat_set_stale(h, HEAT_STALE_K_MOVING);
	p->once_pays = false;
	ASSERT_EQ(policy_plan(h, pp, p), 0);
	ASSERT_EQ(p->npromote + p->ndemote, 0);
	p->once_pays = true;
	ASSERT_EQ(policy_plan(h, pp, p), 0);
	ASSERT_EQ(p->ndemote, 1);
	ASSERT_EQ_U(p->demote[0].key, key_of(0, false));
	ASSERT_EQ(p->npromote, 1);
	ASSERT_EQ_U(p->promote[0].key, key_of(PG, false));
}

/* 100 slow pages of counts 1..100: the hot set is the top that fits C. */
static void
test_threshold(void)
{
	struct heat *h;
	struct plan p;
	struct policy_params pp;

	ASSERT_EQ(heat_create(&h, 256, 1000), 0);
	ASSERT_EQ(policy_plan_init(&p, 256), 0);
	for (unsigned i = 0; i < 100; i++)
		put(h, i * PG, false, i + 1, SLOWN, 0, 0);

	pp = params(40, 10, 0);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ_U(p.capacity, 30 * PG);
	ASSERT_EQ(p.threshold, 71);	/* inside bin 7 (64..127) */
	ASSERT_EQ_U(p.hot_bytes, 30 * PG);
	ASSERT_EQ_U(p.hot_on_fast_bytes, 0);
	ASSERT_EQ(p.npromote, 30);
	ASSERT_EQ(p.ndemote, 0);
	ASSERT_EQ_U(p.promote_bytes, 30 * PG);
	for (unsigned i = 0; i < 30; i++) {
		ASSERT_EQ(p.promote[i].heat, 100 - i);
		ASSERT_EQ_U(p.promote[i].key, key_of((99 - i) * PG, false));
		ASSERT_EQ(p.promote[i].npages, 1);
	}
	ASSERT_TRUE(!p.over_budget);
	ASSERT_TRUE(!p.unattainable);

	/* Unmanaged fast memory shrinks the capacity. */
	pp = params(40, 10, 5);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ_U(p.capacity, 25 * PG);
	ASSERT_EQ(p.threshold, 76);
	ASSERT_EQ(p.npromote, 25);

	/* A budget that is not a whole number of pages rounds down. */
	pp = params(40, 10, 0);
	pp.budget += 100;
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.threshold, 71);

	/* Across bins: 40 pages reach down into bin 6 (32..63). */
	pp = params(40, 0, 0);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.threshold, 61);
	ASSERT_EQ(p.npromote, 40);
	pp = params(37, 0, 0);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.threshold, 64);

	/* Everything fits: T is the coldest page with any heat. */
	pp = params(1000, 0, 0);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.threshold, 1);
	ASSERT_EQ(p.npromote, 100);
	ASSERT_EQ_U(p.hot_bytes, 100 * PG);

	/* Items are bounded by cap: the hottest ten. */
	policy_plan_free(&p);
	ASSERT_EQ(policy_plan_init(&p, 10), 0);
	pp = params(40, 10, 0);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.npromote, 10);
	ASSERT_EQ(p.promote[0].heat, 100);
	ASSERT_EQ(p.promote[9].heat, 91);
	ASSERT_EQ(p.threshold, 71);
	policy_plan_free(&p);
	heat_destroy(h);
}

/* Equal counts: pages already on fast keep their place. */
static void
test_ties(void)
{
	struct heat *h;
	struct plan p;
	struct policy_params pp;

	ASSERT_EQ(heat_create(&h, 64, 1000), 0);
	ASSERT_EQ(policy_plan_init(&p, 64), 0);
	for (unsigned i = 0; i < 10; i++) {
		put(h, i * PG, false, 5, FASTN, 0, 0);
		put(h, (100 + i) * PG, false, 5, SLOWN, 0, 0);
	}
	pp = params(15, 0, 10);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.threshold, 5);
	ASSERT_EQ_U(p.hot_bytes, 15 * PG);
	ASSERT_EQ_U(p.hot_on_fast_bytes, 10 * PG);
	ASSERT_EQ(p.npromote, 5);
	ASSERT_EQ(p.ndemote, 0);

	/* Over budget: demote two of the tied fast pages, promote nothing. */
	pp = params(8, 0, 10);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_TRUE(p.over_budget);
	ASSERT_EQ_U(p.hot_on_fast_bytes, 8 * PG);
	ASSERT_EQ(p.ndemote, 2);
	ASSERT_EQ(p.npromote, 0);
	ASSERT_EQ_U(p.shortfall, 0);
	policy_plan_free(&p);
	heat_destroy(h);
}

static void
test_promote_room(void)
{
	struct heat *h;
	struct plan p;
	struct policy_params pp;

	ASSERT_EQ(heat_create(&h, 64, 1000), 0);
	ASSERT_EQ(policy_plan_init(&p, 64), 0);
	for (unsigned i = 0; i < 10; i++)
		put(h, i * PG, false, 10 + i, SLOWN, 0, 0);
	/* Room for 6: target 8 pages, 2 unmanaged. */
	pp = params(10, 2, 2);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.npromote, 6);
	ASSERT_EQ(p.ndemote, 0);
	ASSERT_EQ(p.promote[0].heat, 19);
	ASSERT_EQ(p.promote[5].heat, 14);
	ASSERT_EQ(p.threshold, 14);
	policy_plan_free(&p);
	heat_destroy(h);

	/*
	 * Swaps demote just enough: six fast pages that cooled to 0, one hot
	 * slow page, one page over budget - headroom: two go, one comes.
	 */
	ASSERT_EQ(heat_create(&h, 64, 1000), 0);
	ASSERT_EQ(policy_plan_init(&p, 64), 0);
	for (unsigned i = 0; i < 6; i++)
		put(h, i * PG, false, 3, FASTN, 0, 0);
	heat_advance(h, 1000);
	heat_advance(h, 5000);
	put(h, 10 * PG, false, 50, SLOWN, 0, 0);
	pp = params(6, 1, 6);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.threshold, 50);
	ASSERT_EQ(p.npromote, 1);
	ASSERT_EQ(p.ndemote, 2);
	ASSERT_EQ(p.demote[0].heat, 0);
	policy_plan_free(&p);
	heat_destroy(h);

	/* The swaps a promotion needs must fit the plan's cap too. */
	ASSERT_EQ(heat_create(&h, 64, 1000), 0);
	ASSERT_EQ(policy_plan_init(&p, 4), 0);
	for (unsigned i = 0; i < 10; i++)
		put(h, i * PG, false, 3, FASTN, 0, 0);
	heat_advance(h, 1000);
	heat_advance(h, 5000);
	for (unsigned i = 0; i < 4; i++)
		put(h, (20 + i) * PG, false, 50, SLOWN, 0, 0);
	pp = params(10, 3, 10);	/* first promotion needs 4 swaps, then 1 each */
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.ndemote, 4);
	ASSERT_EQ(p.npromote, 1);
	policy_plan_free(&p);
	heat_destroy(h);

	/*
	 * Full fast tier (inside the headroom band): each promotion swaps out
	 * cold fast pages, and usage ends at budget - headroom.
	 */
	ASSERT_EQ(heat_create(&h, 64, 1000), 0);
	ASSERT_EQ(policy_plan_init(&p, 64), 0);
	for (unsigned i = 0; i < 5; i++)
		put(h, i * PG, false, 2, FASTN, 0, 0);
	for (unsigned i = 0; i < 3; i++)
		put(h, (10 + i) * PG, false, 50, SLOWN, 0, 0);
	pp = params(5, 2, 5);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_TRUE(!p.over_budget);
	ASSERT_EQ(p.threshold, 50);
	ASSERT_EQ(p.npromote, 3);
	ASSERT_EQ(p.ndemote, 5);
	ASSERT_EQ_U(5 * PG - p.demote_bytes + p.promote_bytes, 3 * PG);
	policy_plan_free(&p);
	heat_destroy(h);
}

/* A swap needs the page coming in 2^h times as hot as the one going out. */
static void
test_hysteresis(void)
{
	struct heat *h;
	struct plan p;
	struct policy_params pp;

	ASSERT_EQ(heat_create(&h, 64, 1000), 0);
	ASSERT_EQ(policy_plan_init(&p, 64), 0);
	put(h, 0 * PG, false, 60, FASTN, 0, 0);
	put(h, 1 * PG, false, 60, FASTN, 0, 0);
	put(h, 2 * PG, false, 100, SLOWN, 0, 0);
	put(h, 3 * PG, false, 70, SLOWN, 0, 0);
	pp = params(2, 0, 2);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.threshold, 70);
	ASSERT_EQ(p.ndemote, 0);	/* 60 >= 100 >> 1 */
	ASSERT_EQ(p.npromote, 0);	/* so no room either */

	/*
	 * Without the factor, the noise test still applies (SWAP_Z = 1.5):
	 * 100 - 60 > 1.5 sqrt(160) but 70 - 60 <= 1.5 sqrt(130), so 100
	 * comes in and 70 does not.
	 */
	pp.hysteresis = 0;
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.ndemote, 1);
	ASSERT_EQ(p.npromote, 1);
	ASSERT_EQ(p.promote[0].heat, 100);
	ASSERT_EQ(p.demote[0].heat, 60);

	pp.hysteresis = 40;		/* c >> h = 0: only count 0 qualifies */
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.ndemote, 0);
	ASSERT_EQ(p.npromote, 0);
	heat_destroy(h);

	/* One or two samples against none are noise: nothing moves. */
	once_against_none(&h);
	pp = params(1, 0, 1);
	pp.hysteresis = 0;
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.threshold, 1);
	ASSERT_EQ(p.ndemote, 0);
	ASSERT_EQ(p.npromote, 0);
	put(h, 1 * PG, false, 1, SLOWN, 0, 0);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.ndemote, 0);	/* 2 - 0 <= 1.5 sqrt(2) */
	/* Three against none are not. */
	put(h, 1 * PG, false, 1, SLOWN, 0, 0);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.ndemote, 1);
	ASSERT_EQ(p.demote[0].heat, 0);
	ASSERT_EQ(p.npromote, 1);
	ASSERT_EQ(p.promote[0].heat, 3);
	heat_destroy(h);

	/*
	 * The test is per pair: a page far hotter than T displaces one that
	 * T >> h would protect, and exactly c >> h is not below it.
	 */
	ASSERT_EQ(heat_create(&h, 64, 1000), 0);
	put(h, 0 * PG, false, 10, FASTN, 0, 0);
	put(h, 1 * PG, false, 5, FASTN, 0, 0);
	put(h, 2 * PG, false, 40, SLOWN, 0, 0);
	pp = params(2, 0, 2);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	/* H = {40 slow, 10 fast}, T = 10; 5 is not below 10 >> 1 but below 40 >> 1. */
	ASSERT_EQ(p.threshold, 10);
	ASSERT_EQ(p.ndemote, 1);
	ASSERT_EQ(p.demote[0].heat, 5);
	ASSERT_EQ(p.npromote, 1);
	ASSERT_EQ(p.promote[0].heat, 40);
	pp.hysteresis = 3;		/* 40 >> 3 = 5: exactly, not below */
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.ndemote, 0);
	ASSERT_EQ(p.npromote, 0);
	pp.hysteresis = 2;		/* 40 >> 2 = 10 */
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.ndemote, 1);
	ASSERT_EQ(p.npromote, 1);
	policy_plan_free(&p);
	heat_destroy(h);
}

/*
 * While the hot set moves (the table's silence bound is the moving one),
 * any colder page makes room, as far as the cost of the two moves allows
 * (swap_gap, applied while the last plan saw it move), and a page sampled
 * once displaces one with no heat left where the last plan measured that
 * this pays (plan.once_pays); while it stays put, the same pairs are
 * noise.
 */
static void
test_moving_swaps(void)
{
	struct heat *h;
	struct plan p;
	struct policy_params pp;

	/* One sample against a page whose heat has decayed to 0. */
	once_against_none(&h);
	ASSERT_EQ(policy_plan_init(&p, 64), 0);
	pp = params(1, 0, 1);
	pp.min_count = 1;
	once_gate(h, &p, &pp);
	ASSERT_EQ(p.demote[0].heat, 0);
	ASSERT_EQ(p.promote[0].heat, 1);
	/* with promote_min 2 the page is not hot at all */
	pp.min_count = 2;
	p.once_pays = true;
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.npromote + p.ndemote, 0);
	policy_plan_free(&p);
	heat_destroy(h);

	/* 3 against 2: neither the factor nor the noise bound allow it. */
	swap_pair(&h, &p, 2, 3);
	pp = params(1, 0, 1);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.npromote + p.ndemote, 0);
	heat_set_stale(h, HEAT_STALE_K_MOVING);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.ndemote, 1);
	ASSERT_EQ(p.demote[0].heat, 2);
	ASSERT_EQ(p.npromote, 1);
	ASSERT_EQ(p.promote[0].heat, 3);
	/* equal counts sampled alike never swap */
	put(h, 0 * PG, false, 1, FASTN, 0, 0);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.npromote + p.ndemote, 0);
	/* the two moves must pay: a gap of 2 needs 5 against 3 */
	pp.swap_gap = 2;
	p.moving = true;
	put(h, 1 * PG, false, 1, SLOWN, 0, 0);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.npromote + p.ndemote, 0);
	p.moving = true;
	put(h, 1 * PG, false, 1, SLOWN, 0, 0);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.ndemote, 1);
	ASSERT_EQ(p.demote[0].heat, 3);
	ASSERT_EQ(p.npromote, 1);
	ASSERT_EQ(p.promote[0].heat, 5);
	policy_plan_free(&p);
	heat_destroy(h);
}

/*
 * Pages of equal count, one on each side, a fast one sampled at epoch 0
 * and a slow one age epochs later, in one cooling period (32 epochs of
 * 100 ns); the tier holds one page.
 */
static void
equal_apart(struct heat **h, struct plan *p, unsigned count, unsigned age)
{
	ASSERT_EQ(heat_create(h, 64, 3200), 0);
	ASSERT_EQ(policy_plan_init(p, 16), 0);
	put(*h, 0 * PG, false, count, FASTN, 0, 0);
	heat_advance(*h, age * 100);
	put(*h, 1 * PG, false, count, SLOWN, 0, 0);
}

/*
 * Recency: at equal counts below POLICY_AGE_COUNTS the page sampled last
 * is in H; while the hot set moves it displaces one of the same count
 * sampled POLICY_AGE_SWAP epochs or more before it, where one sample
 * pays for the swap (and for count 1 where once_pays).  Over budget, of
 * equal counts the page sampled least recently goes first.
 */
static void
test_recency(void)
{
	struct heat *h;
	struct plan p;
	struct policy_params pp = params(1, 0, 1);

	/* In H (settled: no swap); moving, the recent page comes in. */
	equal_apart(&h, &p, 1, POLICY_AGE_SWAP);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ_U(p.hot_bytes, PG);
	ASSERT_EQ_U(p.hot_on_fast_bytes, 0);
	once_gate(h, &p, &pp);
	ASSERT_EQ(p.demote[0].heat, 1);
	ASSERT_EQ(p.promote[0].heat, 1);
	/* Not where the two moves need a difference of 2 samples. */
	pp.swap_gap = 2;
	p.once_pays = p.moving = true;
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.npromote + p.ndemote, 0);
	policy_plan_free(&p);
	heat_destroy(h);

	/* One epoch short of POLICY_AGE_SWAP: in H, no swap. */
	pp = params(1, 0, 1);
	equal_apart(&h, &p, 2, POLICY_AGE_SWAP - 1);
	heat_set_stale(h, HEAT_STALE_K_MOVING);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ_U(p.hot_on_fast_bytes, 0);
	ASSERT_EQ(p.npromote + p.ndemote, 0);
	policy_plan_free(&p);
	heat_destroy(h);
	/* Count 2 needs no once_pays. */
	equal_apart(&h, &p, 2, POLICY_AGE_SWAP);
	heat_set_stale(h, HEAT_STALE_K_MOVING);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.ndemote, 1);
	ASSERT_EQ(p.npromote, 1);
	ASSERT_EQ(p.promote[0].heat, 2);
	policy_plan_free(&p);
	heat_destroy(h);
	/* At POLICY_AGE_COUNTS the fast page keeps its place. */
	equal_apart(&h, &p, POLICY_AGE_COUNTS, 20);
	heat_set_stale(h, HEAT_STALE_K_MOVING);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ_U(p.hot_on_fast_bytes, PG);
	ASSERT_EQ(p.npromote + p.ndemote, 0);
	policy_plan_free(&p);
	heat_destroy(h);

	/* Over budget by a page: of two fast pages of count 1, the older. */
	for (unsigned older = 0; older < 2; older++) {
		ASSERT_EQ(heat_create(&h, 64, 3200), 0);
		ASSERT_EQ(policy_plan_init(&p, 16), 0);
		put(h, older * PG, false, 1, FASTN, 0, 0);
		heat_advance(h, 300);
		put(h, (1 - older) * PG, false, 1, FASTN, 0, 0);
		pp = params(1, 0, 2);
		ASSERT_EQ(policy_plan(h, &pp, &p), 0);
		ASSERT_TRUE(p.over_budget);
		ASSERT_EQ(p.ndemote, 1);
		ASSERT_EQ_U(p.demote[0].key, key_of(older * PG, false));
		policy_plan_free(&p);
		heat_destroy(h);
	}
}

/*
 * plan.once_pays and plan.room_pays.  Tracked pages for 10 epochs: 80 on
 * the slow node at live count 1 (from 100 on), slow0 pages on the slow
 * node and fast0 on the fast one at live count 0 (from 200 and from 0);
 * then the first again[0] of the fast ones, again[1] of those at 1 and
 * again[2] of the slow ones at 0 sampled.  A page sampled once pays when
 * its rate is 2^hysteresis times the other's, on at least ONCE_MIN (32)
 * samples: once_pays over every page, room_pays over the two kinds a
 * swap exchanges, fast pages at 0 and the others at 1.  Rounds whose
 * span began in the first cooling period the plan watches are not
 * counted: warm plans once at the table's start, otherwise the first
 * plan is the one at epoch 33 and the samples at 43 fall in its first
 * period.
 */
struct again_case {
	unsigned fast0, slow0;
	unsigned again[3];
	bool warm;
};

static void
again_after(const struct again_case *k, bool *once, bool *room)
{
	struct heat *h;
	struct plan p;
	struct policy_params pp = params(1000, 0, 0);
	uint64_t ep = 100;	/* ns per epoch */
	static const unsigned base[3] = { 0, 100, 200 };

	ASSERT_EQ(heat_create(&h, 1024, 32 * ep), 0);
	ASSERT_EQ(policy_plan_init(&p, 64), 0);
	heat_set_watch(h, pp.fast_mask, 1);
	if (k->warm)
		ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	for (unsigned i = 0; i < k->fast0; i++)
		put(h, i * PG, false, 1, FASTN, 0, 0);
	for (unsigned i = 0; i < k->slow0; i++)
		put(h, (200 + i) * PG, false, 1, SLOWN, 0, 0);
	heat_advance(h, 33 * ep);	/* halved to 0 */
	for (unsigned i = 0; i < 80; i++)
		put(h, (100 + i) * PG, false, 1, SLOWN, 0, 0);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_TRUE(!p.once_pays && !p.room_pays);	/* no samples yet */
	heat_advance(h, 38 * ep);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	for (unsigned g = 0; g < 3; g++)
		for (unsigned i = 0; i < k->again[g]; i++)
			heat_record(h, 1, (base[g] + i) * PG, false, 43 * ep);
	ASSERT_EQ_U(heat_stats(h)->again[0], k->again[0] + k->again[2]);
	ASSERT_EQ_U(heat_stats(h)->again[1], k->again[1]);
	ASSERT_EQ_U(heat_stats(h)->again_fast[0], k->again[0]);
	ASSERT_EQ_U(heat_stats(h)->again_fast[1], 0);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	*once = p.once_pays;
	*room = p.room_pays;
	policy_plan_free(&p);
	heat_destroy(h);
}

/* once_pays of 80 slow pages at 0 sampled again0 times, 80 at 1 again1. */
static bool
once_after(unsigned again0, unsigned again1, bool warm)
{
	struct again_case k = { 0, 80, { 0, again1, again0 }, warm };
	bool once, room;

	again_after(&k, &once, &room);
	return once;
}

static void
test_once_pays(void)
{
	ASSERT_TRUE(once_after(0, 40, true));
	ASSERT_TRUE(!once_after(0, 40, false));	/* first period: not counted */
	/* 40 / (400 + 250) against 2 * 10 / (400 + 350) */
	ASSERT_TRUE(once_after(10, 40, true));
	/* alike: 40 / (400 + 400) against 2 * 40 / (400 + 200) */
	ASSERT_TRUE(!once_after(40, 40, true));
	ASSERT_TRUE(!once_after(25, 40, true));
	ASSERT_TRUE(!once_after(0, 20, true));	/* too few samples */
}

static void
test_room_pays(void)
{
	struct again_case k = { 80, 80, { 0, 40, 0 }, true };
	bool once, room;

	again_after(&k, &once, &room);
	ASSERT_TRUE(room && once);
	/*
	 * Slow pages at count 0 sampled as often as those at 1: over every
	 * page the two kinds are alike, but the fast ones a swap would
	 * push out have had no sample.
	 */
	k.again[2] = 80;
	again_after(&k, &once, &room);
	ASSERT_TRUE(room && !once);
	/* The fast pages at count 0 sampled as often: no room to take. */
	k.again[0] = 40;
	k.again[2] = 0;
	again_after(&k, &once, &room);
	ASSERT_TRUE(!room);
	k.again[0] = 0;
	k.again[1] = 20;	/* too few samples */
	again_after(&k, &once, &room);
	ASSERT_TRUE(!room);
	k.again[1] = 40;	/* the first period is not counted */
	k.warm = false;
	again_after(&k, &once, &room);
	ASSERT_TRUE(!room && !once);
}

/* A round while the hot set stays put, the last plan's rates as given. */
static void
settled_round(struct heat *h, const struct policy_params *pp,
    struct plan *p, bool once_pays, bool room_pays)
{
	p->once_pays = once_pays;
	p->room_pays = room_pays;
	ASSERT_EQ(policy_plan(h, pp, p), 0);
	ASSERT_TRUE(!p->moving);
}

/* once_against_none's slow page came in for its fast one, alone. */
static void
assert_swapped(const struct plan *p)
{
	ASSERT_EQ(p->ndemote, 1);
	ASSERT_EQ_U(p->demote[0].key, key_of(0, false));
	ASSERT_EQ(p->npromote, 1);
	ASSERT_EQ_U(p->promote[0].key, key_of(PG, false));
}

/*
 * While the hot set stays put, a page of count 2 displaces a fast page
 * of count 0 where plan.once_pays; not without it (2 against 0 is within
 * the noise bound), and a page of count 1 not either way.
 */
static void
test_settled_twice(void)
{
	struct heat *h;
	struct plan p;
	struct policy_params pp = params(1, 0, 1);

	once_against_none(&h);
	ASSERT_EQ(policy_plan_init(&p, 64), 0);
	settled_round(h, &pp, &p, true, false);
	ASSERT_EQ(p.npromote + p.ndemote, 0);	/* count 1 */
	put(h, 1 * PG, false, 1, SLOWN, 0, 0);	/* count 2 */
	settled_round(h, &pp, &p, false, false);
	ASSERT_EQ(p.npromote + p.ndemote, 0);
	settled_round(h, &pp, &p, true, false);
	assert_swapped(&p);
	policy_plan_free(&p);
	heat_destroy(h);
}

/*
 * While the hot set stays put, a page of H displaces a fast page of
 * count 0 where every page with heat fits and plan.room_pays; not where
 * a page with heat is left out of H.
 */
static void
test_settled_room(void)
{
	struct heat *h;
	struct plan p;
	struct policy_params pp = params(1, 0, 1);

	once_against_none(&h);
	ASSERT_EQ(policy_plan_init(&p, 64), 0);
	settled_round(h, &pp, &p, false, false);
	ASSERT_EQ(p.threshold, 1);
	ASSERT_EQ(p.npromote + p.ndemote, 0);
	settled_round(h, &pp, &p, false, true);
	assert_swapped(&p);
	/* A second page sampled once does not fit: H leaves it out. */
	put(h, 2 * PG, false, 1, SLOWN, 0, 0);
	settled_round(h, &pp, &p, false, true);
	ASSERT_EQ(p.threshold, 1);
	ASSERT_EQ(p.npromote + p.ndemote, 0);
	policy_plan_free(&p);
	heat_destroy(h);
}

/*
 * Maybe gone: while the hot set moves, a fast page of count 30 silent
 * for 6 epochs (150 of 32 / ln 2 expected samples: past the moving
 * bound, 139, within the settled one, 277) is out of H, and it takes the
 * place of a page of count 1 last sampled when it was: a page sampled
 * once may not displace it even where once_pays, unless sampled
 * POLICY_AGE_SWAP epochs after it (Recency); a page of count 2 may.
 * Silent past the settled bound it is gone, and a page sampled once
 * takes its place.  32 epochs of 100 ns; the tier holds one page.
 */
static void
maybe_gone_at(unsigned age, unsigned slow, bool swaps)
{
	struct heat *h;
	struct plan p;
	struct policy_params pp = params(1, 0, 1);
	const struct heat_entry *e;

	ASSERT_EQ(heat_create(&h, 64, 3200), 0);
	ASSERT_EQ(policy_plan_init(&p, 16), 0);
	e = put(h, 0 * PG, false, 30, FASTN, 0, 0);
	heat_advance(h, age * 100);
	put(h, 1 * PG, false, slow, SLOWN, 0, 0);
	heat_set_stale(h, HEAT_STALE_K_MOVING);
	ASSERT_EQ(heat_live_count(h, e), 0);
	ASSERT_EQ(maybe_gone(h, e), age <= 10);
	p.once_pays = true;
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.threshold, slow);
	if (!swaps) {
		ASSERT_EQ(p.npromote + p.ndemote, 0);
	} else {
		ASSERT_EQ(p.ndemote, 1);
		ASSERT_EQ_U(p.demote[0].key, key_of(0, false));
		ASSERT_EQ(p.npromote, 1);
		ASSERT_EQ_U(p.promote[0].key, key_of(PG, false));
	}
	heat_set_stale(h, HEAT_STALE_K);
	ASSERT_TRUE(!maybe_gone(h, e));
	policy_plan_free(&p);
	heat_destroy(h);
}

static void
test_maybe_gone(void)
{
	maybe_gone_at(6, 1, false);
	maybe_gone_at(7, 1, false);
	maybe_gone_at(9, 1, true);	/* sampled 9 epochs after it */
	maybe_gone_at(6, 2, true);
	maybe_gone_at(12, 1, true);	/* 330: gone */
}

static void
test_min_residence(void)
{
	struct heat *h;
	struct plan p;
	struct policy_params pp;

	/* A recently moved cold fast page is not swapped out. */
	ASSERT_EQ(heat_create(&h, 64, 1000), 0);
	ASSERT_EQ(policy_plan_init(&p, 64), 0);
	put(h, 0 * PG, false, 1, FASTN, NOW - 3, 0);
	put(h, 1 * PG, false, 10, SLOWN, 0, 0);
	pp = params(1, 0, 1);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.threshold, 10);
	ASSERT_EQ(p.ndemote, 0);
	ASSERT_EQ(p.npromote, 0);
	pp.now_tick = NOW + 7;		/* resident 10 ticks now */
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.ndemote, 1);
	ASSERT_EQ(p.npromote, 1);
	policy_plan_free(&p);
	heat_destroy(h);

	/* A recently moved slow page is not promoted; tick arithmetic wraps. */
	ASSERT_EQ(heat_create(&h, 64, 1000), 0);
	ASSERT_EQ(policy_plan_init(&p, 64), 0);
	put(h, 0 * PG, false, 20, SLOWN, 3, 0);		/* age 1 */
	put(h, 1 * PG, false, 19, SLOWN, 65533, 0);	/* age 7 across 0 */
	put(h, 2 * PG, false, 18, SLOWN, 65530, 0);	/* age 10 */
	put(h, 3 * PG, false, 17, SLOWN, HEAT_MOVED_NEVER, 0);
	pp = params(100, 0, 0);
	pp.now_tick = 4;
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.npromote, 2);
	ASSERT_EQ_U(p.promote[0].key, key_of(2 * PG, false));
	ASSERT_EQ_U(p.promote[1].key, key_of(3 * PG, false));
	policy_plan_free(&p);
	heat_destroy(h);

	/* Over budget ignores residence, but takes settled pages first. */
	ASSERT_EQ(heat_create(&h, 64, 1000), 0);
	ASSERT_EQ(policy_plan_init(&p, 64), 0);
	put(h, 0 * PG, false, 1, FASTN, NOW - 3, 0);	/* recent, coldest */
	put(h, 1 * PG, false, 3, FASTN, 0, 0);
	put(h, 2 * PG, false, 20, FASTN, 0, 0);
	put(h, 3 * PG, false, 30, SLOWN, 0, 0);
	/*
	 * H = {30 slow, 20 fast}: one must go, and 30 comes in as a swap
	 * pair with the settled 3 (fast usage unchanged), then the forced
	 * demotion takes the recent 1.
	 */
	pp = params(2, 0, 3);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.ndemote, 2);
	ASSERT_EQ_U(p.demote[0].key, key_of(1 * PG, false));
	ASSERT_EQ_U(p.demote[1].key, key_of(0 * PG, false));
	ASSERT_EQ(p.npromote, 1);
	ASSERT_EQ_U(p.promote[0].key, key_of(3 * PG, false));
	ASSERT_EQ(p.nswap, 1);
	ASSERT_EQ_U(p.swap_bytes, PG);
	ASSERT_EQ_U(p.shortfall, 0);
	pp = params(1, 0, 3);		/* H = {30 slow}: two must go */
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.ndemote, 3);
	ASSERT_EQ_U(p.demote[0].key, key_of(1 * PG, false));
	ASSERT_EQ_U(p.demote[1].key, key_of(2 * PG, false));
	ASSERT_EQ_U(p.demote[2].key, key_of(0 * PG, false));
	ASSERT_EQ(p.npromote, 1);
	ASSERT_EQ(p.nswap, 1);
	ASSERT_EQ_U(p.shortfall, 0);
	/* With bytes for one move only, the pair does not fit half of it. */
	pp.max_bytes = PG;
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.ndemote, 1);
	ASSERT_EQ_U(p.demote[0].key, key_of(1 * PG, false));
	ASSERT_EQ(p.npromote, 0);
	ASSERT_EQ(p.nswap, 0);
	/* Four: the pair takes two, the forced demotions the other two. */
	pp.max_bytes = 4 * PG;
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.nswap, 1);
	ASSERT_EQ(p.npromote, 1);
	ASSERT_EQ(p.ndemote, 3);
	pp.max_bytes = 0;
	pp = params(0, 0, 3);		/* all three, the recent one last */
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.ndemote, 3);
	ASSERT_EQ_U(p.demote[2].key, key_of(0 * PG, false));
	policy_plan_free(&p);
	heat_destroy(h);
}

/* The budget shrinks: demote coldest first down to budget - headroom. */
static void
test_budget_shrink(void)
{
	struct heat *h;
	struct plan p;
	struct policy_params pp;

	ASSERT_EQ(heat_create(&h, 64, 1000), 0);
	ASSERT_EQ(policy_plan_init(&p, 64), 0);
	for (unsigned i = 0; i < 20; i++)
		put(h, i * PG, false, i + 1, FASTN, 0, 0);
	pp = params(10, 2, 20);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_TRUE(p.over_budget);
	ASSERT_TRUE(!p.unattainable);
	ASSERT_EQ(p.ndemote, 12);
	for (unsigned i = 0; i < 12; i++)
		ASSERT_EQ(p.demote[i].heat, i + 1);
	ASSERT_EQ_U(p.demote_bytes, 12 * PG);
	ASSERT_EQ(p.npromote, 0);
	ASSERT_EQ_U(p.shortfall, 0);
	ASSERT_EQ(p.threshold, 13);

	/* With unmanaged memory on fast, more goes. */
	pp = params(10, 2, 25);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.ndemote, 17);
	ASSERT_EQ(p.demote[16].heat, 17);
	ASSERT_EQ(p.threshold, 18);

	/* Budget below the headroom: capacity 0, everything managed goes. */
	pp = params(2, 4, 20);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ_U(p.capacity, 0);
	ASSERT_EQ(p.ndemote, 20);
	ASSERT_EQ(p.threshold, HEAT_COUNT_MAX + 1);
	ASSERT_EQ_U(p.hot_bytes, 0);
	ASSERT_TRUE(!p.unattainable);

	/* Budget 0 is valid: demote everything. */
	pp = params(0, 0, 20);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.ndemote, 20);
	ASSERT_EQ_U(p.shortfall, 0);
	policy_plan_free(&p);
	heat_destroy(h);
}

static void
test_unattainable(void)
{
	struct heat *h;
	struct plan p;
	struct policy_params pp;

	ASSERT_EQ(heat_create(&h, 64, 1000), 0);
	ASSERT_EQ(policy_plan_init(&p, 64), 0);
	/* Nothing tracked at all. */
	pp = params(5, 1, 10);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_TRUE(p.over_budget);
	ASSERT_TRUE(p.unattainable);
	ASSERT_EQ_U(p.shortfall, 5 * PG);
	ASSERT_EQ(p.ndemote, 0);

	/* Only pinned pages on fast. */
	for (unsigned i = 0; i < 3; i++)
		put(h, i * PG, false, 1, FASTN, 0, HEAT_F_PINNED);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_TRUE(p.unattainable);
	ASSERT_EQ_U(p.shortfall, 5 * PG);
	ASSERT_EQ(p.ndemote, 0);

	/* Two movable pages: they go, still 3 pages short. */
	put(h, 10 * PG, false, 1, FASTN, 0, 0);
	put(h, 11 * PG, false, 7, FASTN, NOW - 1, 0);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_TRUE(p.unattainable);
	ASSERT_EQ(p.ndemote, 2);
	ASSERT_EQ_U(p.shortfall, 3 * PG);

	/* Within reach: not unattainable. */
	pp = params(8, 1, 10);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_TRUE(p.over_budget);
	ASSERT_TRUE(!p.unattainable);
	ASSERT_EQ(p.ndemote, 2);
	ASSERT_EQ_U(p.shortfall, 0);
	policy_plan_free(&p);
	heat_destroy(h);
}

static void
test_max_bytes(void)
{
	struct heat *h;
	struct plan p;
	struct policy_params pp;

	/* Forced demotions cut at max_bytes, the rest is shortfall. */
	ASSERT_EQ(heat_create(&h, 64, 1000), 0);
	ASSERT_EQ(policy_plan_init(&p, 64), 0);
	for (unsigned i = 0; i < 20; i++)
		put(h, i * PG, false, 1 + i, FASTN, 0, 0);
	pp = params(10, 0, 20);
	pp.max_bytes = 4 * PG;
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.ndemote, 4);
	ASSERT_EQ(p.demote[3].heat, 4);
	ASSERT_EQ_U(p.shortfall, 6 * PG);
	ASSERT_TRUE(!p.unattainable);
	policy_plan_free(&p);
	heat_destroy(h);

	/* Promotions alone. */
	ASSERT_EQ(heat_create(&h, 64, 1000), 0);
	ASSERT_EQ(policy_plan_init(&p, 64), 0);
	for (unsigned i = 0; i < 10; i++)
		put(h, i * PG, false, 10 + i, SLOWN, 0, 0);
	pp = params(100, 0, 0);
	pp.max_bytes = 3 * PG + 10;
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.npromote, 3);
	ASSERT_EQ(p.promote[2].heat, 17);
	policy_plan_free(&p);
	heat_destroy(h);

	/* Swaps count both ways; demotions come first in the budget. */
	ASSERT_EQ(heat_create(&h, 64, 1000), 0);
	ASSERT_EQ(policy_plan_init(&p, 64), 0);
	for (unsigned i = 0; i < 5; i++) {
		put(h, i * PG, false, 2, FASTN, 0, 0);
		put(h, (10 + i) * PG, false, 50, SLOWN, 0, 0);
	}
	pp = params(5, 0, 5);
	pp.max_bytes = 5 * PG;
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.ndemote, 2);
	ASSERT_EQ(p.npromote, 2);
	ASSERT_LE(p.demote_bytes + p.promote_bytes, pp.max_bytes);
	policy_plan_free(&p);
	heat_destroy(h);

	/* A 2 MiB page that does not fit max_bytes is passed over. */
	ASSERT_EQ(heat_create(&h, 64, 1000), 0);
	ASSERT_EQ(policy_plan_init(&p, 64), 0);
	put(h, 0, true, 1, FASTN, 0, 0);
	for (unsigned i = 0; i < 10; i++)
		put(h, (1024 + i) * PG, false, 2, FASTN, 0, 0);
	pp = params(0, 0, 522);
	pp.max_bytes = 10 * PG;
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.ndemote, 10);
	ASSERT_EQ_U(p.demote_bytes, 10 * PG);
	ASSERT_TRUE(!in_items(p.demote, p.ndemote, key_of(0, true)));
	policy_plan_free(&p);
	heat_destroy(h);
}

static void
test_thp(void)
{
	struct heat *h;
	struct plan p;
	struct policy_params pp;

	/* A hot THP counts 512 pages of the hot set. */
	ASSERT_EQ(heat_create(&h, 256, 1000), 0);
	ASSERT_EQ(policy_plan_init(&p, 256), 0);
	put(h, 0, true, 10, SLOWN, 0, 0);
	for (unsigned i = 0; i < 100; i++)
		put(h, (1024 + i) * PG, false, 5, SLOWN, 0, 0);
	pp = params(600, 0, 0);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ_U(p.hot_bytes, 600 * PG);
	ASSERT_EQ(p.threshold, 5);
	ASSERT_EQ(p.npromote, 89);
	ASSERT_EQ(p.promote[0].npages, HEAT_THP_PAGES);
	ASSERT_EQ_U(p.promote[0].key, key_of(0, true));
	ASSERT_EQ_U(p.promote_bytes, 600 * PG);

	/* It does not fit: the hot set stops there. */
	pp = params(100, 0, 0);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ_U(p.hot_bytes, 0);
	ASSERT_EQ(p.threshold, HEAT_COUNT_MAX + 1);
	ASSERT_EQ(p.npromote, 0);
	policy_plan_free(&p);
	heat_destroy(h);

	/* A THP that has no room is passed over for smaller pages. */
	ASSERT_EQ(heat_create(&h, 1024, 1000), 0);
	ASSERT_EQ(policy_plan_init(&p, 64), 0);
	put(h, 0, true, 20, SLOWN, 0, 0);
	for (unsigned i = 0; i < 10; i++)
		put(h, (1024 + i) * PG, false, 10, SLOWN, 0, 0);
	for (unsigned i = 0; i < 500; i++)
		put(h, (2048 + i) * PG, false, 1, FASTN, 0, 0);
	pp = params(600, 0, 500);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.threshold, 1);
	ASSERT_EQ(p.npromote, 10);
	ASSERT_EQ(p.promote[0].npages, 1);
	ASSERT_EQ(p.ndemote, 0);
	/* Same with max_bytes as the limit. */
	pp = params(2000, 0, 500);
	pp.max_bytes = 100 * PG;
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.npromote, 10);
	ASSERT_EQ(p.promote[0].npages, 1);
	policy_plan_free(&p);
	heat_destroy(h);

	/* A cold THP on fast: demoting it frees 2 MiB. */
	ASSERT_EQ(heat_create(&h, 64, 1000), 0);
	ASSERT_EQ(policy_plan_init(&p, 64), 0);
	put(h, 0, true, 1, FASTN, 0, 0);
	for (unsigned i = 0; i < 10; i++)
		put(h, (1024 + i) * PG, false, 3, FASTN, 0, 0);
	pp = params(100, 0, 522);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.ndemote, 1);
	ASSERT_EQ(p.demote[0].npages, HEAT_THP_PAGES);
	ASSERT_EQ_U(p.demote_bytes, 2 * 1024 * 1024);
	ASSERT_EQ_U(p.hot_on_fast_bytes, 10 * PG);
	policy_plan_free(&p);
	heat_destroy(h);
}

static void
test_unknown_nodes(void)
{
	struct heat *h;
	struct plan p;
	struct policy_params pp;

	ASSERT_EQ(heat_create(&h, 64, 1000), 0);
	ASSERT_EQ(policy_plan_init(&p, 64), 0);
	put(h, 0 * PG, false, 100, -1, 0, 0);
	put(h, 1 * PG, false, 100, 5, 0, 0);
	put(h, 2 * PG, false, 1, 7, 0, 0);
	put(h, 3 * PG, false, 10, SLOWN, 0, 0);
	put(h, 4 * PG, false, 50, SLOWN, 0, HEAT_F_PINNED);
	pp = params(3, 0, 3);	/* 3 pages on fast, none tracked there */
	pp.budget = 5 * PG;
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ_U(p.capacity, 2 * PG);
	ASSERT_EQ_U(p.hot_bytes, 1 * PG);
	ASSERT_EQ(p.threshold, 10);
	ASSERT_EQ(p.ndemote, 0);
	ASSERT_EQ(p.npromote, 1);
	ASSERT_EQ_U(p.promote[0].key, key_of(3 * PG, false));
	policy_plan_free(&p);
	heat_destroy(h);
}

/*
 * Brute-force order of the hot set: count desc, below POLICY_AGE_COUNTS
 * age asc (the age of counts above is 0), fast first, slot order.
 */
struct bf {
	uint32_t count;
	int fast;
	size_t slot;
	uint32_t npages;
	uint32_t age;
};

static uint32_t
bf_age(const struct heat *h, const struct heat_entry *e, uint32_t count)
{
	uint16_t a = (uint16_t)(heat_epoch(h) - e->epoch);

	if (count >= POLICY_AGE_COUNTS)
		return 0;
	return a < POLICY_AGE_MAX ? a : POLICY_AGE_MAX;
}

static int
bf_cmp(const void *a, const void *b)
{
	const struct bf *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (x->age != y->age)
		return x->age < y->age ? -1 : 1;
	if (x->fast != y->fast)
		return x->fast ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static bool
is_fast(uint64_t mask, int node)
{
	return node >= 0 && node < 64 && (mask >> node & 1);
}

/*
 * While the hot set moves, may a plan not over budget demote the page of
 * item d for the hottest promotion?  Colder (count 0 for count 1 only
 * with once_pays), or as cold, below POLICY_AGE_COUNTS, and sampled
 * POLICY_AGE_SWAP epochs before it (a swap gap of 1).
 */
static bool
moving_may(struct heat *h, const struct plan *p, bool once,
    const struct plan_item *d)
{
	uint32_t c = p->promote[0].heat, lim = c > 1 || once ? c : 0;
	const struct heat_entry *pe = heat_lookup(h, p->promote[0].key);
	const struct heat_entry *de = heat_lookup(h, d->key);

	if (d->heat < lim)
		return true;
	return lim == c && d->heat == c && c < POLICY_AGE_COUNTS &&
	    bf_age(h, de, c) >= bf_age(h, pe, c) + POLICY_AGE_SWAP;
}

/* Randomized: the invariants of every plan, against a brute-force hot set. */
static void
test_random_plans(void)
{
	for (int round = 0; round < 400; round++) {
		uint32_t cap = 20 + (uint32_t)rnd_below(round % 4 ? 200 : 3000);
		size_t plan_cap = 1 + rnd_below(round % 3 ? 40 : 2000);
		struct heat *h;
		struct plan p;
		struct policy_params pp;
		const struct heat_entry *s;
		struct bf *all;
		bool *hot;
		size_t n, na = 0;
		uint64_t t = 0, fast_bytes = 0, hot_pages = 0, hot_fast = 0;
		uint64_t unmanaged, target, end, promotable = 0, cpages;
		uint32_t tmin = UINT32_MAX, dthr;
		bool moving = rnd_below(2), once = rnd_below(2);

		ASSERT_EQ(heat_create(&h, cap, 100), 0);
		ASSERT_EQ(policy_plan_init(&p, plan_cap), 0);
		for (int phase = 0; phase < 3; phase++) {
			uint32_t m = (uint32_t)rnd_below(cap);

			for (uint32_t i = 0; i < m; i++) {
				uint64_t pg = rnd_below(cap);
				unsigned reps = 1 + (unsigned)(rnd_below(4) ?
				    rnd_below(4) : rnd_below(300));

				for (unsigned r = 0; r < reps; r++)
					heat_record(h, 1 + (uint32_t)(pg % 3),
					    pg << 21, pg % 11 == 0, t);
			}
			t += rnd_below(4) * 100;
			heat_advance(h, t);
		}
		s = heat_slots_mut(h, &n);
		for (size_t i = 0; i < n; i++) {
			struct heat_entry *e = (struct heat_entry *)&s[i];
			static const int nodes[] = { -1, 0, 1, 2, 3, 4, 1, 0 };

			if (e->key == 0)
				continue;
			e->node = (int8_t)nodes[rnd_below(8)];
			e->flags = rnd_below(20) == 0 ? HEAT_F_PINNED : 0;
			e->moved = rnd_below(2) ? HEAT_MOVED_NEVER :
			    (uint16_t)(NOW - rnd_below(30));
		}
		if (moving)
			heat_set_stale(h, HEAT_STALE_K_MOVING);
		p.once_pays = once;
		p.room_pays = rnd_below(2);
		pp = params(0, 0, 0);
		pp.hysteresis = (unsigned)rnd_below(4);
		pp.min_residence = (uint16_t)rnd_below(20);
		if (rnd_below(2))
			pp.max_bytes = rnd_below(4000) * PG;

		/* Brute force: managed entries, their order, the hot set. */
		all = calloc(n, sizeof(*all));
		hot = calloc(n, sizeof(*hot));
		for (size_t i = 0; i < n; i++) {
			bool f = is_fast(pp.fast_mask, s[i].node);
			bool sl = is_fast(pp.slow_mask, s[i].node);

			if (s[i].key == 0 || (s[i].flags & HEAT_F_PINNED) || (!f && !sl))
				continue;
			if (f)
				fast_bytes += heat_key_npages(s[i].key) * PG;
			if (heat_live_count(h, &s[i]) == 0)
				continue;
			all[na].count = heat_live_count(h, &s[i]);
			all[na].fast = f;
			all[na].slot = i;
			all[na].npages = heat_key_npages(s[i].key);
			all[na].age = bf_age(h, &s[i], all[na].count);
			na++;
		}
		qsort(all, na, sizeof(*all), bf_cmp);
		pp.fast_used = fast_bytes + rnd_below(600) * PG;
		pp.budget = rnd_below(pp.fast_used / PG * 3 / 2 + 600) * PG +
		    rnd_below(2) * rnd_below(PG);
		pp.headroom = rnd_below(50) * PG;

		ASSERT_EQ(policy_plan(h, &pp, &p), 0);

		unmanaged = pp.fast_used - fast_bytes;
		target = pp.budget > pp.headroom ? pp.budget - pp.headroom : 0;
		ASSERT_EQ_U(p.capacity, target > unmanaged ? target - unmanaged : 0);
		cpages = p.capacity / PG;
		{
			uint64_t cum = 0, used = 0;
			size_t i = 0;

			/* Whole groups while they fit, then the boundary group greedily. */
			while (i < na) {
				size_t j = i;
				uint64_t g = 0;

				while (j < na && all[j].count == all[i].count &&
				    all[j].age == all[i].age &&
				    all[j].fast == all[i].fast)
					g += all[j++].npages;
				if (cum + g <= cpages) {
					for (size_t k = i; k < j; k++)
						hot[all[k].slot] = true;
					cum += g;
					i = j;
					continue;
				}
				for (size_t k = i; k < j; k++) {
					if (used + all[k].npages <= cpages - cum) {
						used += all[k].npages;
						hot[all[k].slot] = true;
					}
				}
				break;
			}
		}
		for (size_t i = 0; i < na; i++) {
			if (!hot[all[i].slot])
				continue;
			hot_pages += all[i].npages;
			if (all[i].fast)
				hot_fast += all[i].npages;
			else if (!(s[all[i].slot].moved != HEAT_MOVED_NEVER &&
			    (uint16_t)(NOW - s[all[i].slot].moved) < pp.min_residence))
				promotable += all[i].npages * PG;
			if (all[i].count < tmin)
				tmin = all[i].count;
		}
		ASSERT_EQ_U(p.hot_bytes, hot_pages * PG);
		ASSERT_LE(p.hot_bytes, p.capacity);
		ASSERT_EQ_U(p.hot_on_fast_bytes, hot_fast * PG);
		ASSERT_EQ(p.threshold, hot_pages ? tmin : HEAT_COUNT_MAX + 1);
		/* A swap needs the hottest page coming in >> h (or min_count). */
		dthr = p.npromote == 0 ? 0 : pp.hysteresis >= 32 ? 0 :
		    p.promote[0].heat >> pp.hysteresis;
		if (dthr < pp.min_count)
			dthr = pp.min_count;
		if (dthr == 0)
			dthr = 1;

		/* Item lists. */
		ASSERT_LE(p.ndemote, plan_cap);
		ASSERT_LE(p.npromote, plan_cap);
		{
			uint64_t db = 0, pb = 0;
			uint32_t maxd = 0, minp = UINT32_MAX;

			for (size_t i = 0; i < p.ndemote; i++) {
				const struct plan_item *it = &p.demote[i];
				struct heat_entry *e = heat_lookup(h, it->key);
				bool rec;

				ASSERT_TRUE(e != NULL);
				ASSERT_EQ(it->heat, heat_live_count(h, e));
				ASSERT_EQ(it->npages, heat_key_npages(it->key));
				ASSERT_TRUE(is_fast(pp.fast_mask, e->node));
				ASSERT_TRUE(!(e->flags & HEAT_F_PINNED));
				ASSERT_TRUE(!hot[e - s]);
				ASSERT_TRUE(!in_items(p.promote, p.npromote, it->key));
				ASSERT_TRUE(!in_items(p.demote, i, it->key));
				rec = e->moved != HEAT_MOVED_NEVER &&
				    (uint16_t)(NOW - e->moved) < pp.min_residence;
				if (!p.over_budget) {
					/* Swaps only: settled pages colder than c >> h. */
					ASSERT_TRUE(!rec);
					if (moving)
						ASSERT_TRUE(moving_may(h, &p, once, it));
					else
						ASSERT_TRUE(it->heat < dthr);
				}
				db += it->npages * PG;
				if (it->heat > maxd)
					maxd = it->heat;
			}
			for (size_t i = 0; i < p.npromote; i++) {
				const struct plan_item *it = &p.promote[i];
				struct heat_entry *e = heat_lookup(h, it->key);

				ASSERT_TRUE(e != NULL);
				ASSERT_EQ(it->heat, heat_live_count(h, e));
				ASSERT_TRUE(is_fast(pp.slow_mask, e->node));
				ASSERT_TRUE(!(e->flags & HEAT_F_PINNED));
				ASSERT_TRUE(hot[e - s]);
				ASSERT_TRUE(e->moved == HEAT_MOVED_NEVER ||
				    (uint16_t)(NOW - e->moved) >= pp.min_residence);
				ASSERT_TRUE(!in_items(p.promote, i, it->key));
				if (i > 0)
					ASSERT_LE(it->heat, p.promote[i - 1].heat);
				pb += it->npages * PG;
				if (it->heat < minp)
					minp = it->heat;
			}
			ASSERT_EQ_U(p.demote_bytes, db);
			ASSERT_EQ_U(p.promote_bytes, pb);
			if (p.ndemote && p.npromote)
				ASSERT_LE(maxd, minp);

			/*
			 * Best candidates first: a 4 KiB page left out is never
			 * hotter than a promoted one, nor (settled first, then
			 * coldest) ahead of a demoted one.
			 */
			for (size_t i = 0; i < n; i++) {
				const struct heat_entry *e = &s[i];
				bool rec = e->moved != HEAT_MOVED_NEVER &&
				    (uint16_t)(NOW - e->moved) < pp.min_residence;
				uint32_t c = heat_live_count(h, e);

				if (e->key == 0 || heat_key_thp(e->key) ||
				    (e->flags & HEAT_F_PINNED))
					continue;
				if (hot[i] && !rec && is_fast(pp.slow_mask, e->node) &&
				    !in_items(p.promote, p.npromote, e->key) && p.npromote)
					ASSERT_GE(minp, c);
				if (!hot[i] && is_fast(pp.fast_mask, e->node) &&
				    !in_items(p.demote, p.ndemote, e->key)) {
					for (size_t j = 0; j < p.ndemote; j++) {
						const struct heat_entry *d =
						    heat_lookup(h, p.demote[j].key);
						bool drec = d->moved != HEAT_MOVED_NEVER &&
						    (uint16_t)(NOW - d->moved) < pp.min_residence;

						/* maybe gone: ordered as count 1 */
						ASSERT_LE((int)drec << 16 | (int)(p.demote[j].heat |
						    maybe_gone(h, d)), (int)rec << 16 |
						    (int)(c | maybe_gone(h, e)));
					}
				}
			}
		}

		/* Budget arithmetic. */
		ASSERT_LE(p.demote_bytes, pp.fast_used);
		end = pp.fast_used - p.demote_bytes + p.promote_bytes;
		/*
		 * Promotions fill the room below the target, or over budget
		 * come in as swap pairs: the first nswap promotions for the
		 * first swap_bytes of demotions (usage does not grow).
		 */
		{
			uint64_t pairs_in = 0, floor;

			for (size_t i = 0; i < p.nswap; i++)
				pairs_in += p.promote[i].npages * PG;
			ASSERT_TRUE(p.over_budget || (p.nswap == 0 &&
			    p.swap_bytes == 0));
			ASSERT_LE(p.nswap, p.npromote);
			ASSERT_LE(p.swap_bytes, p.demote_bytes);
			ASSERT_LE(pairs_in, p.swap_bytes);
			floor = pp.fast_used - p.demote_bytes + pairs_in;
			ASSERT_LE(end, target > floor ? target : floor);
			if (p.over_budget)
				ASSERT_LE(end, pp.fast_used);
		}
		if (pp.max_bytes)
			ASSERT_LE(p.demote_bytes + p.promote_bytes, pp.max_bytes);
		ASSERT_EQ(p.over_budget, pp.fast_used > pp.budget);
		ASSERT_EQ(p.unattainable, p.over_budget && unmanaged > pp.budget);
		ASSERT_EQ_U(p.shortfall, end > pp.budget ? end - pp.budget : 0);
		if (p.over_budget && !pp.max_bytes && p.ndemote < plan_cap &&
		    unmanaged <= target)
			ASSERT_LE(pp.fast_used - p.demote_bytes, target);
		/* Room for every promotable hot page and no limit: all go. */
		if (!p.over_budget && !pp.max_bytes && target >= pp.fast_used &&
		    target - pp.fast_used >= promotable && plan_cap >= n)
			ASSERT_EQ_U(p.promote_bytes, promotable);

		free(all);
		free(hot);
		policy_plan_free(&p);
		heat_destroy(h);
	}
}

/* promote_min: a page sampled fewer times than min_count is never hot. */
static void
test_min_count(void)
{
	struct heat *h;
	struct plan p;
	struct policy_params pp = params(100, 0, 0);

	ASSERT_EQ(heat_create(&h, 64, 1000000000ULL), 0);
	ASSERT_EQ(policy_plan_init(&p, 16), 0);
	put(h, 1 * PG, false, 1, SLOWN, 0, 0);
	put(h, 2 * PG, false, 2, SLOWN, 0, 0);
	put(h, 3 * PG, false, 5, SLOWN, 0, 0);
	pp.min_count = 2;
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.npromote, 2);
	ASSERT_TRUE(!in_items(p.promote, p.npromote, key_of(1 * PG, false)));
	ASSERT_EQ(p.threshold, 2);
	pp.min_count = 0;	/* 0 behaves as 1: every sampled page */
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.npromote, 3);
	pp.min_count = 6;
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.npromote, 0);
	ASSERT_EQ(p.hot_bytes, 0);
	policy_plan_free(&p);
	heat_destroy(h);
}

/*
 * promote_bar: the count a slow page needs for the next plan to promote
 * it.  At that count it is promoted, one below it is not, and the heat
 * table's watch sees the sample that gets it there.
 */
static void
test_promote_bar(void)
{
	struct heat *h;
	struct plan p;
	struct policy_params pp;
	struct heat_entry *c;

	ASSERT_EQ(heat_create(&h, 64, 1000000000ULL), 0);
	ASSERT_EQ(policy_plan_init(&p, 16), 0);
	put(h, 0 * PG, false, 10, FASTN, 0, 0);
	put(h, 1 * PG, false, 3, FASTN, 0, 0);
	c = put(h, 2 * PG, false, 4, SLOWN, 0, 0);
	pp = params(2, 0, 2);
	pp.min_count = 2;
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	/*
	 * H = {10, 4}, T = 4; 3 is not below swap_limit(4) = 1.  It is below
	 * swap_limit(8) = 4 (8 - 3 > 1.5 sqrt(11), 3 < 8 >> 1) and not below
	 * swap_limit(7) = 3.
	 */
	ASSERT_EQ(p.threshold, 4);
	ASSERT_EQ(p.ndemote + p.npromote, 0);
	ASSERT_EQ(p.promote_bar, 8);
	heat_set_watch(h, pp.fast_mask, p.promote_bar);
	for (int i = 0; i < 3; i++)
		put(h, 2 * PG, false, 1, SLOWN, 0, 0);	/* 7 */
	ASSERT_EQ(heat_stats(h)->watched, 0);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.npromote, 0);
	put(h, 2 * PG, false, 1, SLOWN, 0, 0);		/* 8 */
	ASSERT_EQ(heat_stats(h)->watched, 1);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.npromote, 1);
	ASSERT_EQ(p.promote[0].heat, 8);
	ASSERT_EQ(p.demote[0].heat, 3);

	/* Room left after the plan: min_count is enough. */
	c->node = FASTN;			/* as if the plan ran */
	pp = params(4, 0, 2);
	pp.min_count = 2;
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.npromote + p.ndemote, 0);
	ASSERT_EQ(p.promote_bar, 2);

	/*
	 * No candidate off H on fast: a page must first push the coldest
	 * hot page (count T = 8) out; swap_limit(c) > 8 needs c >= 18
	 * (18 >> 1 = 9, and 18 - 8 > 1.5 sqrt(26)).
	 */
	pp = params(2, 0, 2);
	pp.min_count = 2;
	put(h, 1 * PG, false, 1, SLOWN, 0, 0);	/* 3 + 1, now slow */
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.threshold, 8);
	ASSERT_EQ(p.npromote + p.ndemote, 0);
	ASSERT_EQ(p.promote_bar, 18);

	/* A plan cut short by the rate limit: min_count again. */
	pp = params(3, 0, 2);
	pp.min_count = 2;
	pp.max_bytes = 1;
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.npromote, 0);
	ASSERT_EQ(p.promote_bar, 2);

	/* Capacity 0: nothing can come in. */
	pp = params(0, 0, 2);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.promote_bar, HEAT_COUNT_MAX + 1);
	policy_plan_free(&p);
	heat_destroy(h);
}

/*
 * The regime: pages that stay silent past 6 expected samples (departures)
 * switch the next rounds to the moving setting (silence bound 3 samples,
 * any colder page may make room); revivals outnumbering them
 * switch back.  The swap rule follows the table's bound
 * (test_moving_swaps).
 */
/*
 * The regime tests' start: a table of 32-epoch periods (ep ns an epoch)
 * with n pages of count 4 on the slow node, planned once at epoch 1.
 */
static void
regime_start(struct heat **h, struct plan *p, const struct policy_params *pp,
    int n, uint64_t ep)
{
	ASSERT_EQ(heat_create(h, 1024, 32 * ep), 0);
	ASSERT_EQ(policy_plan_init(p, 256), 0);
	for (int i = 0; i < n; i++)
		put(*h, (uint64_t)i * PG, false, 4, SLOWN, 0, 0);
	heat_advance(*h, 1 * ep);
	ASSERT_EQ(policy_plan(*h, pp, p), 0);
}

static void
test_regime(void)
{
	struct heat *h;
	struct plan p;
	struct policy_params pp = params(100, 0, 0);
	uint64_t ep = 100;	/* ns per epoch */

	regime_start(&h, &p, &pp, 20, ep);
	ASSERT_TRUE(!p.moving);
	ASSERT_EQ_U(p.stale_k, HEAT_STALE_K);
	/* 4 * 69 = 276: not yet */
	heat_advance(h, 70 * ep);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_TRUE(!p.moving);
	/* 4 * 70 = 280: all 20 crossed since the last round */
	heat_advance(h, 71 * ep);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_TRUE(p.moving);
	ASSERT_EQ_U(p.stale_k, HEAT_STALE_K_MOVING);
	heat_set_stale(h, p.stale_k);
	/* counted once: still 20 departures (no halving since) */
	heat_advance(h, 80 * ep);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_TRUE(p.moving);

	/* 30 pages come back after 4 * 40 = 160 (a revival each) */
	for (int i = 0; i < 30; i++)
		put(h, (uint64_t)(100 + i) * PG, false, 4, SLOWN, 0, 0);
	for (int i = 0; i < 30; i++)
		heat_record(h, 1, (uint64_t)(100 + i) * PG, false, 121 * ep);
	ASSERT_EQ_U(heat_stats(h)->revived, 30);
	/* departures halved once (epoch 96 crossed): 10 against 30 */
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_TRUE(!p.moving);
	ASSERT_EQ_U(p.stale_k, HEAT_STALE_K);
	heat_set_stale(h, p.stale_k);
	policy_plan_free(&p);
	heat_destroy(h);
}

/*
 * Shock: 64 fast pages (from 0) and 64 slow ones (from 1 GiB) sampled
 * every 2 epochs, fast_pct% of 512 samples on the fast ones, then a plan.
 * Before it, policy_shock_now says what the plan will find (the loop's
 * test at each read of the sampler).
 */
static void
shock_round(struct heat *h, struct plan *p, const struct policy_params *pp,
    uint64_t epoch, unsigned fast_pct)
{
	uint64_t t = epoch * 100;	/* 100 ns per epoch */
	bool now, before;

	for (unsigned i = 0; i < 512; i++) {
		bool fast = i % 100 < fast_pct;
		uint64_t addr = (fast ? 0 : 1ULL << 30) + (i % 64) * PG;
		struct heat_entry *e = heat_record(h, 1, addr, false, t);

		ASSERT_TRUE(e != NULL);
		e->node = fast ? FASTN : SLOWN;
	}
	heat_advance(h, t);
	now = policy_shock_now(p, h);
	before = p->moving;
	ASSERT_EQ(policy_plan(h, pp, p), 0);
	/* a shock now: this plan holds the regime moving; else it did so */
	ASSERT_TRUE(!now || (p->moving && !before));
	ASSERT_TRUE(now || before || !p->moving);
	ASSERT_TRUE(!policy_shock_now(p, h));	/* no sample since */
	heat_set_watch(h, pp->fast_mask, p->promote_bar);
	heat_set_stale(h, p->stale_k);
}

/*
 * The samples stop finding their pages on the fast nodes: below half
 * the share of the last cooling period, the regime moves at once, for
 * SHOCK_HOLD (16) epochs; not in the first cooling period.
 */
static void
shock_at(uint64_t budget, uint32_t moving_k)
{
	struct heat *h;
	struct plan p;
	struct policy_params pp = params(budget, 0, MIN(budget, 128));
	uint64_t ep;

	ASSERT_EQ(heat_create(&h, 1024, 32 * 100), 0);
	ASSERT_EQ(policy_plan_init(&p, 256), 0);
	heat_set_watch(h, pp.fast_mask, 1);
	for (ep = 0; ep <= 18; ep += 2)
		shock_round(h, &p, &pp, ep, 100);
	shock_round(h, &p, &pp, 20, 10);	/* the first period */
	ASSERT_TRUE(!p.moving);
	for (ep = 22; ep <= 60; ep += 2)
		shock_round(h, &p, &pp, ep, 90);
	ASSERT_TRUE(!p.moving);
	shock_round(h, &p, &pp, 62, 50);	/* 0.5 against 0.9: not half */
	ASSERT_TRUE(!p.moving);
	shock_round(h, &p, &pp, 64, 30);	/* 0.3: below half */
	ASSERT_TRUE(p.moving);
	ASSERT_EQ(p.tight, moving_k == HEAT_STALE_K_TIGHT);
	for (ep = 66; ep < 64 + 16; ep += 2) {
		ASSERT_EQ_U(p.stale_k, moving_k);
		shock_round(h, &p, &pp, ep, 75);
		ASSERT_TRUE(p.moving);
	}
	shock_round(h, &p, &pp, 80, 75);	/* held 16 epochs */
	ASSERT_TRUE(!p.moving && !p.tight);
	ASSERT_EQ_U(p.stale_k, HEAT_STALE_K);
	policy_plan_free(&p);
	heat_destroy(h);
}

/*
 * 64 pages sampled 8 times a round.  Where the budget holds them all the
 * moving regime reads them with the moving bound; where it holds 40 (H's
 * coldest page well above HEAT_TIGHT_MIN), with the tight one (policy.c
 * "Tight") until the regime ends.
 */
static void
test_shock(void)
{
	shock_at(1000, HEAT_STALE_K_MOVING);
	shock_at(40, HEAT_STALE_K_TIGHT);
}

/*
 * Steady (policy.c): 100 pages of count 4 sampled again after 49 epochs
 * of silence (196: between the moving and the settled bound) are 100
 * revivals and no departure.  The regime reads calm from that round on
 * and steady once it has for a cooling period (32 epochs); the heat
 * clock then runs at twice the period.  Departures end it at once.
 */
static void
test_steady(void)
{
	struct heat *h, *c;
	struct plan p;
	struct policy_params pp = params(1000, 0, 0);
	struct agent_config cfg;
	uint64_t ep = 100;	/* ns per epoch */

	regime_start(&h, &p, &pp, 100, ep);
	ASSERT_TRUE(!p.moving && !p.steady);	/* no evidence yet */
	for (int i = 0; i < 100; i++)
		heat_record(h, 1, (uint64_t)i * PG, false, 50 * ep);
	ASSERT_EQ_U(heat_stats(h)->revived, 100);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_TRUE(!p.moving && !p.steady);	/* calm from here */
	heat_advance(h, 81 * ep);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_TRUE(!p.steady);			/* 31 epochs */
	heat_advance(h, 82 * ep);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);	/* 32; 50 revivals left */
	ASSERT_TRUE(!p.moving && p.steady);
	ASSERT_EQ_U(p.stale_k, HEAT_STALE_K);

	/* 300 pages go silent past 6 expected samples: moving, not steady */
	for (int i = 0; i < 300; i++)
		put(h, (uint64_t)(1000 + i) * PG, false, 4, SLOWN, 0, 0);
	heat_advance(h, 160 * ep);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_TRUE(p.moving && !p.steady);
	policy_plan_free(&p);
	heat_destroy(h);

	/* The clock: a period of 1 ms, 2 ms while steady */
	config_defaults(&cfg);
	cfg.cooling_ms = 1;
	ASSERT_EQ(policy_heat_create(&c, &cfg, 1000 * PG), 0);
	heat_advance(c, 1000000);
	heat_advance(c, 2000000);
	ASSERT_EQ_U(heat_epoch(c), 32);
	policy_heat_clock(c, &cfg, 1000 * PG, true);
	heat_advance(c, 4000000);
	ASSERT_EQ_U(heat_epoch(c), 64);
	policy_heat_clock(c, &cfg, 1000 * PG, false);
	heat_advance(c, 5000000);
	ASSERT_EQ_U(heat_epoch(c), 96);
	heat_destroy(c);
}

/*
 * Paying for a move: from [policy] break_even and [sampler] period, the
 * samples a page needs, and they apply while the last plan saw the hot
 * set move (plan.moving), not while it stays put.
 */
static void
test_pay(void)
{
	struct agent_config cfg;
	struct heat *h;
	struct plan p;
	struct policy_params pp;

	config_defaults(&cfg);
	ASSERT_EQ_U(cfg.break_even, 67);
	policy_params_for_round(&pp, &cfg, 100 * PG, 0, 0, 1, 2, 1, UINT64_MAX);
	/* a sample is 10007 accesses: one pays for a 4 KiB page */
	ASSERT_EQ_U(pp.min_count, 1);
	ASSERT_EQ_U(pp.pay_min, 1);
	ASSERT_EQ_U(pp.pay_min_thp, 4);		/* 512 * 67 / 10007 = 3.4 */
	ASSERT_EQ_U(pp.swap_gap, 1);
	cfg.sample_period = 20;
	policy_params_for_round(&pp, &cfg, 100 * PG, 0, 0, 1, 2, 1, UINT64_MAX);
	ASSERT_EQ_U(pp.pay_min, 4);
	ASSERT_EQ_U(pp.swap_gap, 7);
	cfg.sample_period = 1;
	policy_params_for_round(&pp, &cfg, 100 * PG, 0, 0, 1, 2, 1, UINT64_MAX);
	ASSERT_EQ_U(pp.pay_min, 67);
	ASSERT_EQ_U(pp.pay_min_thp, 34304);
	ASSERT_EQ_U(pp.swap_gap, 134);
	cfg.sample_period = 1;
	cfg.break_even = 1000000;	/* more than any count: capped */
	policy_params_for_round(&pp, &cfg, 100 * PG, 0, 0, 1, 2, 1, UINT64_MAX);
	ASSERT_EQ_U(pp.pay_min_thp, HEAT_COUNT_MAX);
	cfg.break_even = 0;		/* off */
	policy_params_for_round(&pp, &cfg, 100 * PG, 0, 0, 1, 2, 1, UINT64_MAX);
	ASSERT_EQ_U(pp.pay_min + pp.pay_min_thp + pp.swap_gap, 0);

	/* Room for both: moving, only the page that pays comes in. */
	ASSERT_EQ(heat_create(&h, 64, 1000000000ULL), 0);
	ASSERT_EQ(policy_plan_init(&p, 16), 0);
	put(h, 1 * PG, false, 10, SLOWN, 0, 0);
	put(h, 2 * PG, false, 70, SLOWN, 0, 0);
	pp = params(100, 0, 0);
	pp.min_count = 2;
	pp.pay_min = 67;
	pp.swap_gap = 134;
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_TRUE(!p.moving);
	ASSERT_EQ(p.npromote, 2);
	p.moving = true;	/* as a last plan that saw it move */
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.npromote, 1);
	ASSERT_EQ_U(p.promote[0].key, key_of(2 * PG, false));
	ASSERT_EQ_U(p.promote_bar, 67);
	policy_plan_free(&p);
	heat_destroy(h);

	/*
	 * A swap is two moves for one page's gain.  20 against 5 passes the
	 * hysteresis (5 < 20 >> 1) and the noise bound (swap_limit(20) = 10);
	 * with a gap of 20 it needs x < 1 while the hot set moves.
	 */
	swap_pair(&h, &p, 5, 20);
	pp = params(1, 0, 1);
	pp.min_count = 2;
	pp.pay_min = 2;
	pp.swap_gap = 20;
	p.moving = true;
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.npromote + p.ndemote, 0);
	ASSERT_TRUE(!p.moving);
	ASSERT_EQ(policy_plan(h, &pp, &p), 0);
	ASSERT_EQ(p.npromote, 1);
	ASSERT_EQ(p.ndemote, 1);
	policy_plan_free(&p);
	heat_destroy(h);
}

/*
 * policy_round_due: every interval (half of it allowed as jitter), no
 * sooner than 0.5 us per slot; early rounds from interval / 50, and no
 * sooner than 200 times the last round's cost, while the slots space
 * rounds less than half an interval.
 */
static void
test_round_due(void)
{
	struct agent_config cfg;
	const uint64_t ms = 1000000;

	config_defaults(&cfg);
	cfg.interval_ms = 50;
	ASSERT_TRUE(policy_round_due(&cfg, 0, 1, 64, true, 0));	/* first */
	ASSERT_TRUE(!policy_round_due(&cfg, 100 * ms, 124 * ms, 64, true, 0));
	ASSERT_TRUE(policy_round_due(&cfg, 100 * ms, 125 * ms, 64, true, 0));
	ASSERT_TRUE(!policy_round_due(&cfg, 100 * ms, 101 * ms - 1, 64, true, 1));
	ASSERT_TRUE(policy_round_due(&cfg, 100 * ms, 101 * ms, 64, true, 1));
	/* 1M slots: 524 ms apart, 499 ms with the timer's jitter */
	ASSERT_TRUE(!policy_round_due(&cfg, 100 * ms, 598 * ms, 1 << 20, true, 0));
	ASSERT_TRUE(policy_round_due(&cfg, 100 * ms, 600 * ms, 1 << 20, true, 0));
	/* early rounds only while the slots space rounds < interval / 2 */
	ASSERT_TRUE(!policy_round_due(&cfg, 100 * ms, 2000 * ms, 1 << 20, true, 1));
	ASSERT_TRUE(policy_round_due(&cfg, 100 * ms, 125 * ms, 49000, true, 1));
	ASSERT_TRUE(!policy_round_due(&cfg, 100 * ms, 2000 * ms, 50000, true, 1));
	/* early rounds: 200 times the last one's cost apart */
	ASSERT_TRUE(!policy_round_due(&cfg, 100 * ms, 139 * ms, 64, true, ms / 5));
	ASSERT_TRUE(policy_round_due(&cfg, 100 * ms, 140 * ms, 64, true, ms / 5));
	ASSERT_TRUE(!policy_round_due(&cfg, 100 * ms, 499 * ms, 64, true, 2 * ms));
	ASSERT_TRUE(policy_round_due(&cfg, 100 * ms, 500 * ms, 64, true, 2 * ms));
	ASSERT_TRUE(!policy_round_due(&cfg, 100 * ms, UINT64_MAX, 64, true, UINT64_MAX));
	/* not quick: 5 us per slot; a small table still every interval */
	ASSERT_TRUE(!policy_round_due(&cfg, 100 * ms, 124 * ms, 64, false, 0));
	ASSERT_TRUE(policy_round_due(&cfg, 100 * ms, 125 * ms, 64, false, 0));
	/* 1M slots: 5243 ms apart, 5218 ms with the timer's jitter */
	ASSERT_TRUE(!policy_round_due(&cfg, 100 * ms, 5317 * ms, 1 << 20, false, 0));
	ASSERT_TRUE(policy_round_due(&cfg, 100 * ms, 5318 * ms, 1 << 20, false, 0));
	/* early rounds: 4000 slots space them 20 ms, 10000 slots 50 ms: none */
	ASSERT_TRUE(!policy_round_due(&cfg, 100 * ms, 119 * ms, 4000, false, 1));
	ASSERT_TRUE(policy_round_due(&cfg, 100 * ms, 120 * ms, 4000, false, 1));
	ASSERT_TRUE(!policy_round_due(&cfg, 100 * ms, 2000 * ms, 10000, false, 1));
}

/*
 * policy_early_possible: false only where no early round could be due
 * at any time (the agent then reads its samplers at the timer's ticks);
 * true where one can, given a watch.
 */
static void
test_early_possible(void)
{
	static const size_t slots[] = { 0, 64, 4000, 4999, 5000, 10000, 49999,
	    50000, 1 << 20 };
	static const uint64_t costs[] = { 1, 1000, 100000, 1000000 };
	struct agent_config cfg;
	const uint64_t ms = 1000000;

	config_defaults(&cfg);
	for (unsigned iv = 10; iv <= 1000; iv *= 10) {
		cfg.interval_ms = iv;
		for (size_t i = 0; i < ARRAY_SIZE(slots); i++) {
			for (int q = 0; q < 2; q++) {
				bool any = false;

				for (size_t c = 0; c < ARRAY_SIZE(costs); c++)
					for (uint64_t t = 0; t <= 4000; t++)
						any |= policy_round_due(&cfg,
						    100 * ms, 100 * ms + t * ms / 4,
						    slots[i], q, costs[c]);
				ASSERT_EQ(policy_early_possible(&cfg, slots[i], q,
				    1), any);
				ASSERT_TRUE(!policy_early_possible(&cfg,
				    slots[i], q, HEAT_COUNT_MAX + 1));
			}
		}
	}
	cfg.interval_ms = 50;
	ASSERT_TRUE(policy_early_possible(&cfg, 4999, false, HEAT_COUNT_MAX));
	ASSERT_TRUE(!policy_early_possible(&cfg, 5000, false, 1));
	ASSERT_TRUE(policy_early_possible(&cfg, 49999, true, 1));
	ASSERT_TRUE(!policy_early_possible(&cfg, 50000, true, 1));
}

int
main(void)
{
	RUN_TEST(test_params);
	RUN_TEST(test_min_count);
	RUN_TEST(test_pay);
	RUN_TEST(test_early_possible);
	RUN_TEST(test_threshold);
	RUN_TEST(test_ties);
	RUN_TEST(test_promote_room);
	RUN_TEST(test_hysteresis);
	RUN_TEST(test_moving_swaps);
	RUN_TEST(test_once_pays);
	RUN_TEST(test_room_pays);
	RUN_TEST(test_settled_room);
	RUN_TEST(test_settled_twice);
	RUN_TEST(test_maybe_gone);
	RUN_TEST(test_recency);
	RUN_TEST(test_min_residence);
	RUN_TEST(test_budget_shrink);
	RUN_TEST(test_unattainable);
	RUN_TEST(test_max_bytes);
	RUN_TEST(test_thp);
	RUN_TEST(test_unknown_nodes);
	RUN_TEST(test_random_plans);
	RUN_TEST(test_promote_bar);
	RUN_TEST(test_regime);
	RUN_TEST(test_steady);
	RUN_TEST(test_shock);
	RUN_TEST(test_round_due);
	TEST_EXIT();
}
