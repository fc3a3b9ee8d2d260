/*
 * test_heat.c - the heat table: keys, counts, lazy decay, the exact
 * histogram (against a brute-force recount and a reference model), cold
 * eviction, backward-shift deletion under drop and drop_pid, and the
 * batch path against one-by-one recording.
 */
#include <errno.h>

#include "heat.h"
#include "../test.h"

#define PG 4096ULL
#define THP (2ULL << 20)

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

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
	return rnd() % n;
}

/*
 * Recount the histogram from the slots; check size, the occupancy bitmap
 * and that every entry is found.
 */
static int
check_table(struct heat *h)
{
	uint64_t hist[HEAT_NBINS] = { 0 };
	const uint64_t *got = heat_hist(h);
	const struct heat_entry *s;
	const uint64_t *occ;
	size_t n, used = 0;

	s = heat_slots(h, &n);
	occ = heat_occupied(h);
	for (size_t i = 0; i < (n + 63) / 64 * 64; i++) {
		bool set = occ[i / 64] >> (i % 64) & 1;

		if (set != (i < n && s[i].key != 0)) {
			fprintf(stderr, "slot %zu: occupancy bit %d, key %#llx\n",
			    i, set, i < n ? (unsigned long long)s[i].key : 0ULL);
			return -1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i].key == 0)
			continue;
		used++;
		hist[heat_bin(heat_count(h, &s[i]))] += heat_key_npages(s[i].key);
		if (heat_lookup(h, s[i].key) != &s[i]) {
			fprintf(stderr, "slot %zu key %#llx not found by lookup\n",
			    i, (unsigned long long)s[i].key);
			return -1;
		}
	}
	if (used != heat_size(h)) {
		fprintf(stderr, "size %zu, %zu slots used\n", heat_size(h), used);
		return -1;
	}
	for (unsigned b = 0; b < HEAT_NBINS; b++) {
		if (hist[b] != got[b]) {
			fprintf(stderr, "bin %u: table %llu, recount %llu\n", b,
			    (unsigned long long)got[b], (unsigned long long)hist[b]);
			return -1;
		}
	}
	return 0;
}

static void
test_key(void)
{
	uint64_t k;
	struct heat *h;
	const struct heat_stats *st;

	k = heat_key(1234, 0x7f0012345678ULL, false);
	ASSERT_EQ_U(heat_key_pid(k), 1234);
	ASSERT_TRUE(!heat_key_thp(k));
	ASSERT_EQ_U(heat_key_addr(k), 0x7f0012345000ULL);
	ASSERT_EQ_U(heat_key_npages(k), 1);

	k = heat_key(HEAT_PID_MAX, 0x7f0012345678ULL, true);
	ASSERT_EQ_U(heat_key_pid(k), HEAT_PID_MAX);
	ASSERT_TRUE(heat_key_thp(k));
	ASSERT_EQ_U(heat_key_addr(k), 0x7f0012200000ULL);
	ASSERT_EQ_U(heat_key_npages(k), 512);
	/* Every 4 KiB address in a 2 MiB page gives the same THP key. */
	ASSERT_EQ_U(heat_key(HEAT_PID_MAX, 0x7f0012200000ULL, true), k);
	ASSERT_EQ_U(heat_key(HEAT_PID_MAX, 0x7f00123fffffULL, true), k);
	ASSERT_NE(heat_key(HEAT_PID_MAX, 0x7f0012200000ULL, false), k);

	ASSERT_EQ_U(heat_key_addr(heat_key(1, HEAT_ADDR_LIMIT - 1, false)),
	    HEAT_ADDR_LIMIT - PG);
	ASSERT_EQ_U(heat_key(1, HEAT_ADDR_LIMIT, false), 0);
	ASSERT_EQ_U(heat_key(1, UINT64_MAX, true), 0);
	ASSERT_EQ_U(heat_key(0, 0x1000, false), 0);
	ASSERT_EQ_U(heat_key(HEAT_PID_MAX + 1, 0x1000, false), 0);
	ASSERT_NE(heat_key(1, 0, false), 0);

	ASSERT_EQ(heat_create(&h, 16, 1000), 0);
	ASSERT_TRUE(heat_record(h, 0, 0x1000, false, 0) == NULL);
	ASSERT_TRUE(heat_record(h, HEAT_PID_MAX + 1, 0x1000, false, 0) == NULL);
	ASSERT_TRUE(heat_record(h, 1, HEAT_ADDR_LIMIT, true, 0) == NULL);
	st = heat_stats(h);
	ASSERT_EQ(st->rejected, 3);
	ASSERT_EQ(st->records, 0);
	ASSERT_EQ(heat_size(h), 0);
	ASSERT_TRUE(heat_lookup(h, 0) == NULL);
	heat_destroy(h);
}

static void
test_create(void)
{
	struct heat *h;

	ASSERT_EQ(heat_create(&h, 0, 1000), -EINVAL);
	ASSERT_EQ(heat_create(&h, 10, 0), -EINVAL);
	ASSERT_EQ(heat_create(&h, 1 << 20, 1000), 0);
	ASSERT_EQ(heat_capacity(h), 1 << 20);
	/* the slot array starts small and grows with the pages tracked */
	ASSERT_LE(heat_mem_bytes(h), 4096);
	for (uint32_t i = 0; i < (1u << 20); i++)
		heat_record(h, 1, (uint64_t)i << 12, false, 0);
	ASSERT_EQ(heat_size(h), 1u << 20);
	ASSERT_EQ(heat_stats(h)->evictions, 0);
	ASSERT_LE(heat_mem_bytes(h), 32 * heat_capacity(h));
	ASSERT_GE(heat_mem_bytes(h), 16 * (((1 << 20) * 21 + 15) / 16));
	/* full, at most issue 18's 21.3 bytes a page, the bitmap included */
	ASSERT_LE(heat_mem_bytes(h) * 10, 213 * (size_t)heat_size(h));
	ASSERT_EQ(check_table(h), 0);
	heat_record(h, 1, 1ULL << 40, false, 0);	/* full: evicts, no growth */
	ASSERT_EQ(heat_stats(h)->evictions, 1);
	ASSERT_EQ(heat_size(h), 1u << 20);
	heat_destroy(h);
	heat_destroy(NULL);
}

/* Growing keeps every entry findable, counts and histogram exact. */
static void
test_grow(void)
{
	struct heat *h;
	size_t n, used;
	const struct heat_entry *s;

	ASSERT_EQ(heat_create(&h, 5000, 1000), 0);
	for (int round = 0; round < 3; round++) {
		for (uint32_t i = 0; i < 5000; i++)
			for (uint32_t j = 0; j <= i % 3; j++)
				heat_record(h, 1 + i % 7, (uint64_t)i << 12, false,
				    0);
		ASSERT_EQ(check_table(h), 0);
		ASSERT_EQ(heat_size(h), 5000);
	}
	s = heat_slots(h, &n);
	ASSERT_EQ(n, (5000 * 21 + 15) / 16);
	used = 0;
	for (size_t i = 0; i < n; i++)
		used += s[i].key != 0;
	ASSERT_EQ(used, 5000);
	for (uint32_t i = 0; i < 5000; i++)
		ASSERT_EQ(heat_count(h, heat_lookup(h, heat_key(1 + i % 7,
		    (uint64_t)i << 12, false))), 3 * (i % 3 + 1));
	ASSERT_GE(heat_stats(h)->grows, 6);	/* 64 -> 6667 slots */
	ASSERT_EQ(heat_stats(h)->evictions, 0);
	/* clear keeps the grown array */
	heat_clear(h);
	ASSERT_EQ(heat_size(h), 0);
	ASSERT_EQ(check_table(h), 0);
	heat_destroy(h);
}

static void
test_record_counts(void)
{
	struct heat *h;
	struct heat_entry *e;
	uint64_t key = heat_key(7, 0x5000, false);

	ASSERT_EQ(heat_create(&h, 100, 1000), 0);
	for (int i = 0; i < 5; i++)
		ASSERT_TRUE(heat_record(h, 7, 0x5abc, false, 10) != NULL);
	e = heat_lookup(h, key);
	ASSERT_TRUE(e != NULL);
	ASSERT_EQ(heat_count(h, e), 5);
	ASSERT_EQ(e->node, -1);
	ASSERT_EQ(e->flags, 0);
	ASSERT_EQ(e->moved, HEAT_MOVED_NEVER);
	ASSERT_EQ(heat_size(h), 1);
	ASSERT_EQ(heat_stats(h)->records, 5);
	ASSERT_EQ(heat_stats(h)->inserts, 1);
	ASSERT_EQ(heat_hist(h)[heat_bin(5)], 1);

	/* THP: two addresses in one 2 MiB page, counted as 512 pages. */
	heat_record(h, 7, 0x200000, true, 10);
	e = heat_record(h, 7, 0x3ff000, true, 10);
	ASSERT_EQ(heat_count(h, e), 2);
	ASSERT_EQ(heat_size(h), 2);
	ASSERT_EQ(heat_hist(h)[2], 512);
	ASSERT_EQ(check_table(h), 0);
	heat_destroy(h);
}

#define SUB	(1u << HEAT_SUB_SHIFT)	/* epochs per cooling period */

static void
test_decay(void)
{
	struct heat *h;
	struct heat_entry *e, *f;
	uint64_t t = 5000, key = heat_key(1, 0x1000, false);

	ASSERT_EQ(heat_create(&h, 64, 1000), 0);
	for (int i = 0; i < 40; i++)
		heat_record(h, 1, 0x1000, false, t);
	f = heat_record(h, 1, 0x2000, false, t);
	e = heat_lookup(h, key);
	ASSERT_EQ(heat_count(h, e), 40);
	ASSERT_EQ(heat_epoch(h), 0);

	heat_advance(h, t + 999);		/* not yet a period */
	ASSERT_EQ(heat_epoch(h), SUB - 1);	/* 999 * 32 / 1000 */
	ASSERT_EQ(heat_count(h, e), 40);
	heat_advance(h, t + 1000);
	ASSERT_EQ(heat_epoch(h), SUB);
	ASSERT_EQ(heat_count(h, e), 20);
	ASSERT_EQ(heat_count(h, f), 0);	/* 1 halves to 0 */
	ASSERT_EQ(heat_hist(h)[0], 1);
	ASSERT_EQ(heat_hist(h)[heat_bin(20)], 1);
	ASSERT_EQ(check_table(h), 0);

	heat_advance(h, t + 500);		/* time going back is ignored */
	ASSERT_EQ(heat_epoch(h), SUB);

	heat_advance(h, t + 3500);		/* two more periods at once */
	ASSERT_EQ(heat_epoch(h), 3 * SUB + SUB / 2);
	ASSERT_EQ(heat_count(h, e), 5);
	ASSERT_EQ(check_table(h), 0);

	/*
	 * Touched again at 3.6 periods, stored there.  Silent for 115
	 * epochs with a count of 40 (the silence test: 40 * 114 > 277), the
	 * old count is not caught up but dropped: it starts again at 1.
	 */
	heat_record(h, 1, 0x1000, false, t + 3600);
	ASSERT_EQ(e->epoch, 3600 * SUB / 1000);
	ASSERT_EQ(heat_count(h, e), 1);
	ASSERT_EQ(check_table(h), 0);

	/* Many epochs at once: everything reaches bin 0. */
	heat_advance(h, t + 3600 + 40 * 1000);
	ASSERT_EQ(heat_count(h, e), 0);
	ASSERT_EQ(heat_hist(h)[0], 2);
	ASSERT_EQ(check_table(h), 0);
	e = heat_record(h, 1, 0x1000, false, t + 50000);
	ASSERT_EQ(heat_count(h, e), 1);
	ASSERT_EQ(check_table(h), 0);

	/* Cooling period change on reload keeps counts. */
	heat_set_cooling(h, 100);
	ASSERT_EQ(heat_count(h, e), 1);
	heat_destroy(h);
}

/*
 * The silence bound is the table's setting, and revivals (samples of a
 * page silent for 3 to 6 expected samples, count 2 or more) are counted
 * whatever the setting.
 */
static void
test_revived(void)
{
	struct heat *h;
	struct heat_entry *e;
	uint64_t t = 0;

	ASSERT_EQ(heat_create(&h, 64, 3200), 0);	/* epochs of 100 ns */
	ASSERT_EQ_U(heat_stale_k(h), HEAT_STALE_K);
	for (int i = 0; i < 10; i++) {
		heat_record(h, 1, 0x1000, false, t);
		heat_record(h, 1, 0x2000, false, t);
		heat_record(h, 1, 0x3000, false, t);
	}
	heat_record(h, 1, 0x4000, false, t);
	/* 10 * (5 - 1) = 40: a normal gap */
	heat_record(h, 1, 0x2000, false, t + 5 * 100);
	ASSERT_EQ_U(heat_stats(h)->revived, 0);
	/* 10 * 19 = 190: stale for the moving bound only */
	heat_advance(h, t + 20 * 100);
	e = heat_lookup(h, heat_key(1, 0x1000, false));
	ASSERT_EQ(heat_live_count(h, e), 10);
	heat_set_stale(h, HEAT_STALE_K_MOVING);
	ASSERT_EQ_U(heat_stale_k(h), HEAT_STALE_K_MOVING);
	ASSERT_EQ(heat_live_count(h, e), 0);
	heat_set_stale(h, HEAT_STALE_K);
	e = heat_record(h, 1, 0x1000, false, t + 20 * 100);
	ASSERT_EQ_U(heat_stats(h)->revived, 1);
	ASSERT_EQ(heat_live_count(h, e), 11);
	/* 10 * 39 = 390: gone for both, not a revival, starts again */
	e = heat_record(h, 1, 0x3000, false, t + 40 * 100);
	ASSERT_EQ_U(heat_stats(h)->revived, 1);
	ASSERT_EQ(heat_live_count(h, e), 1);
	/* one sample is no evidence: 1 * 199 is in the band, not counted */
	heat_record(h, 1, 0x4000, false, t + 200 * 100);
	ASSERT_EQ_U(heat_stats(h)->revived, 1);
	/* with the moving bound the same revival is counted, and restarts */
	for (int i = 0; i < 10; i++)
		heat_record(h, 1, 0x5000, false, t + 200 * 100);
	heat_set_stale(h, HEAT_STALE_K_MOVING);
	e = heat_record(h, 1, 0x5000, false, t + 220 * 100);
	ASSERT_EQ_U(heat_stats(h)->revived, 2);
	ASSERT_EQ(heat_live_count(h, e), 1);
	heat_clear(h);
	ASSERT_EQ_U(heat_stale_k(h), HEAT_STALE_K_MOVING);	/* kept */
	ASSERT_EQ(check_table(h), 0);
	heat_destroy(h);
}

/*
 * The tight bound (policy.c "Tight"): a page of HEAT_TIGHT_MIN samples
 * or more reads gone after 1.5 expected samples, the others after 3; a
 * sample restarts a count only past the moving bound.
 */
static void
test_tight(void)
{
	struct heat *h;
	struct heat_entry *e;

	ASSERT_EQ(heat_create(&h, 64, 3200), 0);	/* epochs of 100 ns */
	heat_set_stale(h, HEAT_STALE_K_TIGHT);
	ASSERT_EQ_U(heat_stale_k(h), HEAT_STALE_K_TIGHT);
	for (int i = 0; i < 10; i++)
		heat_record(h, 1, 0x1000, false, 0);
	/* 10 * 7 = 70: live; 10 * 8 = 80: gone for the plan, maybe gone */
	heat_advance(h, 8 * 100);
	e = heat_lookup(h, heat_key(1, 0x1000, false));
	ASSERT_EQ(heat_live_count(h, e), 10);
	heat_advance(h, 9 * 100);
	ASSERT_EQ(heat_live_count(h, e), 0);
	ASSERT_TRUE(heat_maybe_gone(e->count, e->epoch, heat_epoch(h),
	    HEAT_STALE_K_TIGHT));
	ASSERT_TRUE(!heat_maybe_gone(e->count, e->epoch, heat_epoch(h),
	    HEAT_STALE_K_MOVING));
	ASSERT_EQ(heat_live_at(e->count, e->epoch, heat_epoch(h),
	    HEAT_STALE_K_MOVING), 10);
	/* below HEAT_TIGHT_MIN, the moving bound: 2 * 39 = 78 is live */
	ASSERT_EQ(heat_live_at(2, 0, 40, HEAT_STALE_K_TIGHT), 1);	/* halved */
	ASSERT_EQ(heat_live_at(2, 0, 71, HEAT_STALE_K_TIGHT), 0);
	ASSERT_EQ(heat_live_at(3, 0, 24, HEAT_STALE_K_TIGHT), 3);
	ASSERT_EQ(heat_live_at(3, 0, 25, HEAT_STALE_K_TIGHT), 0);
	/* its next sample keeps the count: 10 * 12 = 120 is within 139 */
	e = heat_record(h, 1, 0x1000, false, 13 * 100);
	ASSERT_EQ(heat_live_count(h, e), 11);
	/* past the moving bound it starts again: 11 * 13 = 143 */
	e = heat_record(h, 1, 0x1000, false, 27 * 100);
	ASSERT_EQ(heat_live_count(h, e), 1);
	ASSERT_EQ(check_table(h), 0);
	heat_destroy(h);
}

/* The silence test: a busy page that stops goes to 0, a rare one does not. */
static void
test_live(void)
{
	struct heat *h;
	struct heat_entry *busy, *rare;
	uint64_t t = 0;

	ASSERT_EQ(heat_create(&h, 64, 3200), 0);	/* epochs of 100 ns */
	for (int i = 0; i < 100; i++)
		busy = heat_record(h, 1, 0x1000, false, t);
	for (int i = 0; i < 3; i++)
		rare = heat_record(h, 1, 0x2000, false, t);
	ASSERT_EQ(heat_live_count(h, busy), 100);
	/* 100 * (age - 1) > 277 from age 4 on: 3 epochs is still normal */
	heat_advance(h, t + 3 * 100);
	ASSERT_EQ(heat_epoch(h), 3);
	ASSERT_EQ(heat_live_count(h, busy), 100);
	heat_advance(h, t + 4 * 100);
	ASSERT_EQ(heat_count(h, busy), 100);	/* the count itself stays */
	ASSERT_EQ(heat_live_count(h, busy), 0);
	ASSERT_EQ(heat_live_count(h, rare), 3);
	/* a halving in between does not make the silence count for less */
	heat_advance(h, t + 40 * 100);
	ASSERT_EQ(heat_count(h, busy), 50);
	ASSERT_EQ(heat_live_count(h, busy), 0);
	/* one sample does not revive the old count: it starts from there */
	busy = heat_record(h, 1, 0x1000, false, t + 40 * 100);
	ASSERT_EQ(heat_live_count(h, busy), 1);
	ASSERT_EQ(check_table(h), 0);
	/* 3 * (age - 1) never passes 277 before the count has halved away */
	for (uint64_t ep = 41; ep < 32 * 20; ep++) {
		heat_advance(h, t + ep * 100);
		ASSERT_EQ(heat_live_count(h, rare), heat_count(h, rare));
	}
	ASSERT_EQ(heat_count(h, rare), 0);
	ASSERT_EQ(heat_live_at(HEAT_COUNT_MAX, 0, 65535, HEAT_STALE_K), 0);	/* no overflow */
	ASSERT_EQ(heat_live_at(7, 10, 10, HEAT_STALE_K), 7);
	ASSERT_EQ(heat_live_at(7, 10, 11, HEAT_STALE_K), 7);
	heat_destroy(h);
}

/* cooling = auto: epochs counted in samples, the wall clock ignored. */
static void
test_sample_clock(void)
{
	struct heat *h;
	struct heat_entry *e = NULL;

	ASSERT_EQ(heat_create(&h, 64, 1000), 0);
	heat_set_cooling_samples(h, 64);	/* 2 samples per epoch */
	heat_advance(h, 1000000);		/* time does nothing now */
	ASSERT_EQ(heat_epoch(h), 0);
	for (int i = 0; i < 63; i++)
		e = heat_record(h, 1, 0x1000, false, 5000000 + i);
	ASSERT_EQ(heat_epoch(h), 31);
	ASSERT_EQ(heat_count(h, e), 63);
	e = heat_record(h, 1, 0x1000, false, 0);	/* the 64th: halved */
	ASSERT_EQ(heat_epoch(h), 32);
	ASSERT_EQ(heat_count(h, e), 32);		/* 63 >> 1, + 1 */
	ASSERT_EQ(check_table(h), 0);
	/* a smaller period takes effect at once: 1 sample per epoch */
	heat_set_cooling_samples(h, 32);
	e = heat_record(h, 1, 0x1000, false, 0);
	ASSERT_EQ(heat_epoch(h), 33);
	ASSERT_EQ(check_table(h), 0);
	/* a silent page is stale after as many samples as its count says */
	for (int i = 0; i < 2 * 40; i++)
		heat_record(h, 1, 0x2000, false, 0);
	ASSERT_EQ(heat_live_count(h, e), 0);
	ASSERT_NE(heat_count(h, e), 0);
	/* back to the wall clock, which starts again at the next call */
	heat_set_cooling_samples(h, 0);
	heat_advance(h, 10000000);
	ASSERT_EQ(heat_epoch(h), 113);
	heat_advance(h, 10000000 + 1000);
	ASSERT_EQ(heat_epoch(h), 113 + 32);
	ASSERT_EQ(check_table(h), 0);
	heat_destroy(h);
}

/*
 * heat_set_watch: samples that leave a page off the fast nodes (or of
 * unknown node) at the watch count, pinned pages excepted; batch and
 * one-by-one count alike; off until set.  Samples of pages on the fast
 * nodes count in stats.on_fast, whatever their count.
 */
static void
test_watch(void)
{
	struct heat *h;
	struct heat_entry *e;
	struct heat_sample s[4] = {
		{ .pid = 1, .addr = 0x1000 }, { .pid = 1, .addr = 0x2000 },
		{ .pid = 1, .addr = 0x1000 }, { .pid = 1, .addr = 0x3000 },
	};

	ASSERT_EQ(heat_create(&h, 64, 1000000000ULL), 0);
	for (int i = 0; i < 5; i++)
		heat_record(h, 1, 0x1000, false, 0);
	ASSERT_EQ(heat_stats(h)->watched, 0);		/* off */
	heat_set_watch(h, 1u << 0, 3);			/* node 0 fast */
	e = heat_record(h, 1, 0x1000, false, 0);	/* 6, node -1 */
	ASSERT_EQ(heat_stats(h)->watched, 1);
	ASSERT_EQ(heat_stats(h)->on_fast, 0);
	e->node = 0;
	heat_record(h, 1, 0x1000, false, 0);		/* on fast: no */
	ASSERT_EQ(heat_stats(h)->watched, 1);
	ASSERT_EQ(heat_stats(h)->on_fast, 1);		/* but counted */
	e->node = 1;
	heat_record(h, 1, 0x1000, false, 0);		/* slow: yes */
	ASSERT_EQ(heat_stats(h)->watched, 2);
	ASSERT_EQ(heat_stats(h)->on_fast, 1);
	e->flags |= HEAT_F_PINNED;
	heat_record(h, 1, 0x1000, false, 0);		/* pinned: no */
	ASSERT_EQ(heat_stats(h)->watched, 2);
	e->flags = 0;
	heat_record(h, 1, 0x2000, false, 0);		/* new, count 1 < 3 */
	heat_record(h, 1, 0x2000, false, 0);		/* 2 < 3 */
	ASSERT_EQ(heat_stats(h)->watched, 2);
	heat_record(h, 1, 0x2000, false, 0);		/* 3 */
	ASSERT_EQ(heat_stats(h)->watched, 3);
	/* the batch path counts the same: 0x1000 twice, 0x2000; not 0x3000 */
	ASSERT_EQ(heat_record_batch(h, s, 4, 0), 4);
	ASSERT_EQ(heat_stats(h)->watched, 6);
	/* min 1 (0 means 1): a new page's first sample counts */
	heat_set_watch(h, 1u << 0, 0);
	heat_record(h, 1, 0x4000, false, 0);
	ASSERT_EQ(heat_stats(h)->watched, 7);
	heat_set_watch(h, 1u << 0, HEAT_COUNT_MAX + 1);	/* off again */
	heat_record(h, 1, 0x4000, false, 0);
	ASSERT_EQ(heat_stats(h)->watched, 7);
	ASSERT_EQ(heat_stats(h)->on_fast, 1);
	ASSERT_EQ(check_table(h), 0);
	heat_destroy(h);
}

/*
 * heat_adopt: count 0 at the node given, bin 0, no duplicate, not a
 * sample (no watch, no insert); a sample later counts from 1; never
 * evicts: a full table says -ENOSPC.
 */
static void
test_adopt(void)
{
	struct heat *h;
	struct heat_entry *e;
	uint64_t k = heat_key(7, 0x5000, false), t = heat_key(7, 0x200000, true);

	ASSERT_EQ(heat_create(&h, 1024, 1000000000ULL), 0);
	heat_set_watch(h, 1u << 0, 0);
	ASSERT_EQ(heat_adopt(h, 0, 0), -EINVAL);
	ASSERT_EQ(heat_adopt(h, k, -1), -EINVAL);
	ASSERT_EQ(heat_adopt(h, k, 128), -EINVAL);
	ASSERT_EQ(heat_adopt(h, k, 1), 1);
	ASSERT_EQ(heat_adopt(h, k, 1), 0);
	ASSERT_EQ(heat_adopt(h, t, 2), 1);
	ASSERT_EQ_U(heat_size(h), 2);
	ASSERT_EQ_U(heat_hist(h)[0], 1 + HEAT_THP_PAGES);
	ASSERT_EQ_U(heat_stats(h)->adopted, 1 + HEAT_THP_PAGES);
	ASSERT_EQ_U(heat_stats(h)->inserts, 0);
	ASSERT_TRUE(!heat_watch_seen(h));
	e = heat_lookup(h, k);
	ASSERT_TRUE(e != NULL);
	ASSERT_EQ(e->count, 0);
	ASSERT_EQ(e->node, 1);
	ASSERT_EQ(e->moved, HEAT_MOVED_NEVER);
	ASSERT_EQ_U(heat_live_count(h, e), 0);
	ASSERT_EQ(heat_lookup(h, t)->node, 2);
	/* a sample: an ordinary entry, its node kept */
	e = heat_record(h, 7, 0x5000, false, 0);
	ASSERT_EQ(e->count, 1);
	ASSERT_EQ(e->node, 1);
	ASSERT_EQ_U(heat_hist(h)[1], 1);
	ASSERT_EQ(check_table(h), 0);
	/* fill: adoption stops at capacity, sampled pages still evict */
	for (uint64_t a = 1; heat_size(h) < heat_capacity(h); a++)
		ASSERT_EQ(heat_adopt(h, heat_key(8, a << 12, false), 0), 1);
	ASSERT_EQ(heat_adopt(h, heat_key(9, 0x1000, false), 0), -ENOSPC);
	ASSERT_EQ_U(heat_stats(h)->evictions, 0);
	ASSERT_TRUE(heat_record(h, 9, 0x1000, false, 0) != NULL);
	ASSERT_EQ_U(heat_stats(h)->evictions, 1);
	ASSERT_EQ(heat_lookup(h, k)->count, 1);	/* a count-0 entry went */
	ASSERT_EQ(check_table(h), 0);
	heat_destroy(h);
}

/* An entry left alone for more than 2^16 epochs must not come back hot. */
static void
test_epoch_wrap(void)
{
	struct heat *h;
	struct heat_entry *e;
	uint64_t t = 0;

	ASSERT_EQ(heat_create(&h, 64, 10), 0);
	for (int i = 0; i < 300; i++)
		heat_record(h, 1, 0x1000, false, 0);
	for (int i = 0; i < 3; i++)
		heat_record(h, 2, 0x1000, false, 0);
	/* One epoch at a time through 65536 + 5 epochs; pid 2 touched early. */
	for (uint32_t ep = 1; ep <= 65536 + 5; ep++) {
		t += 10;
		heat_advance(h, t);
		if (ep == 3)
			heat_record(h, 2, 0x1000, false, t);
	}
	e = heat_lookup(h, heat_key(1, 0x1000, false));
	ASSERT_TRUE(e != NULL);
	ASSERT_EQ(heat_count(h, e), 0);
	e = heat_lookup(h, heat_key(2, 0x1000, false));
	ASSERT_EQ(heat_count(h, e), 0);
	ASSERT_EQ(heat_hist(h)[0], 2);
	ASSERT_EQ(check_table(h), 0);

	/* Steps of 7 epochs, and a jump of exactly 2^16. */
	for (int i = 0; i < 200; i++)
		heat_record(h, 3, 0x1000, false, t);
	for (int i = 0; i < 10000; i++) {
		t += 70;
		heat_advance(h, t);
	}
	e = heat_lookup(h, heat_key(3, 0x1000, false));
	ASSERT_EQ(heat_count(h, e), 0);
	for (int i = 0; i < 200; i++)
		heat_record(h, 3, 0x1000, false, t);
	t += 65536ULL * 10;
	heat_advance(h, t);
	ASSERT_EQ(heat_count(h, e), 0);
	ASSERT_EQ(check_table(h), 0);
	heat_destroy(h);
}

static void
test_saturation(void)
{
	struct heat *h;
	struct heat_entry *e = NULL;

	ASSERT_EQ(heat_create(&h, 8, 1000), 0);
	for (int i = 0; i < 70000; i++)
		e = heat_record(h, 1, 0x1000, false, 0);
	ASSERT_EQ(heat_count(h, e), HEAT_COUNT_MAX);
	ASSERT_EQ(heat_hist(h)[HEAT_NBINS - 1], 1);
	ASSERT_EQ(check_table(h), 0);
	heat_advance(h, 1000);
	ASSERT_EQ(heat_count(h, e), HEAT_COUNT_MAX >> 1);
	ASSERT_EQ(heat_hist(h)[HEAT_NBINS - 2], 1);
	ASSERT_EQ(check_table(h), 0);
	heat_destroy(h);
}

static void
test_drop_clear(void)
{
	struct heat *h;
	uint64_t key;

	ASSERT_EQ(heat_create(&h, 100, 1000), 0);
	for (uint64_t a = 0; a < 50; a++)
		heat_record(h, 1 + (uint32_t)(a % 3), a * PG, a % 5 == 0, 0);
	key = heat_key(2, 1 * PG, false);
	ASSERT_TRUE(heat_lookup(h, key) != NULL);
	ASSERT_EQ(heat_drop(h, key), 0);
	ASSERT_TRUE(heat_lookup(h, key) == NULL);
	ASSERT_EQ(heat_drop(h, key), -ENOENT);
	ASSERT_EQ(heat_drop(h, 0), -ENOENT);
	ASSERT_EQ(heat_stats(h)->dropped, 1);
	ASSERT_EQ(check_table(h), 0);

	heat_clear(h);
	ASSERT_EQ(heat_size(h), 0);
	ASSERT_EQ(heat_capacity(h), 100);
	for (unsigned b = 0; b < HEAT_NBINS; b++)
		ASSERT_EQ(heat_hist(h)[b], 0);
	ASSERT_TRUE(heat_lookup(h, heat_key(1, 0, false)) == NULL);
	ASSERT_TRUE(heat_record(h, 1, 0, false, 0) != NULL);
	ASSERT_EQ(heat_size(h), 1);
	ASSERT_EQ(check_table(h), 0);
	heat_destroy(h);
}

/* Eviction never takes a hot entry while cold ones are around. */
static void
test_evict_cold(void)
{
	struct heat *h;
	struct heat_entry *e;

	/* Small table: the scan sees everything, the one cold entry goes. */
	ASSERT_EQ(heat_create(&h, 32, 1000), 0);
	for (uint64_t a = 0; a < 32; a++)
		for (int i = 0; i < (a == 17 ? 1 : 10); i++)
			heat_record(h, 1, a * PG, false, 0);
	ASSERT_EQ(heat_size(h), 32);
	e = heat_record(h, 2, 0, false, 0);
	ASSERT_TRUE(e != NULL);
	ASSERT_EQ(heat_count(h, e), 1);
	ASSERT_EQ(heat_size(h), 32);
	ASSERT_EQ(heat_stats(h)->evictions, 1);
	ASSERT_TRUE(heat_lookup(h, heat_key(1, 17 * PG, false)) == NULL);
	ASSERT_TRUE(heat_lookup(h, heat_key(2, 0, false)) != NULL);
	ASSERT_EQ(check_table(h), 0);
	heat_destroy(h);

	/* Large table, half hot half cold: 300 inserts evict no hot entry. */
	ASSERT_EQ(heat_create(&h, 2000, 1000), 0);
	for (uint64_t a = 0; a < 2000; a++)
		for (int i = 0; i < (a % 2 ? 1 : 50); i++)
			heat_record(h, 1, a * PG, false, 0);
	for (uint64_t a = 0; a < 300; a++)
		ASSERT_TRUE(heat_record(h, 2, a * PG, false, 0) != NULL);
	ASSERT_EQ(heat_stats(h)->evictions, 300);
	for (uint64_t a = 0; a < 2000; a += 2) {
		e = heat_lookup(h, heat_key(1, a * PG, false));
		ASSERT_TRUE(e != NULL);
		ASSERT_EQ(heat_count(h, e), 50);
	}
	ASSERT_EQ(check_table(h), 0);
	heat_destroy(h);

	/*
	 * No entry of the lowest bin within reach: the coldest seen goes.
	 * One count-1 entry, the rest alternate counts 2 (bin 2) and 9
	 * (bin 4); every eviction must take a count-1 or count-2 entry.
	 */
	ASSERT_EQ(heat_create(&h, 1000, 1000), 0);
	for (uint64_t a = 0; a < 1000; a++) {
		int n = a == 500 ? 1 : a % 2 ? 2 : 9;

		for (int i = 0; i < n; i++)
			heat_record(h, 1, a * PG, false, 0);
	}
	for (uint64_t a = 0; a < 50; a++) {
		heat_record(h, 2, a * PG, false, 0);
		/* Keep the newcomers hot so they are not the victims. */
		for (int i = 0; i < 20; i++)
			heat_record(h, 2, a * PG, false, 0);
	}
	for (uint64_t a = 0; a < 1000; a += 2)
		if (a != 500)
			ASSERT_TRUE(heat_lookup(h, heat_key(1, a * PG, false)) != NULL);
	ASSERT_EQ(check_table(h), 0);
	heat_destroy(h);
}

/* drop_pid removes exactly that pid, and every other entry is still found. */
static void
test_drop_pid(void)
{
	for (int round = 0; round < 200; round++) {
		uint32_t cap = 8 + (uint32_t)rnd_below(round < 100 ? 24 : 3000);
		uint64_t *keys;
		uint32_t *counts;
		size_t nkeys = 0, want, live;
		struct heat *h;
		uint32_t victim = 1 + (uint32_t)rnd_below(4);

		ASSERT_EQ(heat_create(&h, cap, 1000), 0);
		keys = calloc(cap, sizeof(*keys));
		counts = calloc(cap, sizeof(*counts));
		/* Fill completely: the longest probe runs, wrapping at the end. */
		while (nkeys < cap) {
			uint32_t pid = 1 + (uint32_t)rnd_below(4);
			uint64_t addr = rnd_below(1 << 20) * PG;
			bool thp = rnd_below(8) == 0;
			uint64_t key = heat_key(pid, addr, thp);
			struct heat_entry *e;

			if (heat_lookup(h, key) != NULL)
				continue;
			e = heat_record(h, pid, addr, thp, 0);
			for (uint32_t i = 0, n = (uint32_t)rnd_below(5); i < n; i++)
				heat_record(h, pid, addr, thp, 0);
			keys[nkeys] = key;
			counts[nkeys++] = heat_count(h, e);
		}
		ASSERT_EQ(heat_stats(h)->evictions, 0);
		want = 0;
		for (size_t i = 0; i < nkeys; i++)
			want += heat_key_pid(keys[i]) == victim;
		ASSERT_EQ(heat_drop_pid(h, victim), want);
		ASSERT_EQ(heat_size(h), cap - want);
		live = 0;
		for (size_t i = 0; i < nkeys; i++) {
			struct heat_entry *e = heat_lookup(h, keys[i]);

			if (heat_key_pid(keys[i]) == victim) {
				ASSERT_TRUE(e == NULL);
				continue;
			}
			ASSERT_TRUE(e != NULL);
			ASSERT_EQ(heat_count(h, e), counts[i]);
			live++;
		}
		ASSERT_EQ(live, heat_size(h));
		ASSERT_EQ(check_table(h), 0);
		ASSERT_EQ(heat_drop_pid(h, victim), 0);
		free(keys);
		free(counts);
		heat_destroy(h);
	}
}

/*
 * Reference model: every key's exact decayed count, kept in step with
 * the table (evictions are learned by looking for the missing key).
 */
struct model_entry {
	uint64_t key;
	uint32_t count;
	uint64_t epoch;		/* absolute */
};

struct model {
	struct model_entry *e;
	size_t n;
	uint64_t epoch;
};

static uint32_t
model_count(const struct model *m, const struct model_entry *me)
{
	/* counts halve as the epoch crosses multiples of 2^HEAT_SUB_SHIFT */
	uint64_t age = (m->epoch >> HEAT_SUB_SHIFT) - (me->epoch >> HEAT_SUB_SHIFT);

	return age >= 16 ? 0 : me->count >> age;
}

static struct model_entry *
model_find(struct model *m, uint64_t key)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->e[i].key == key)
			return &m->e[i];
	return NULL;
}

static void
model_remove(struct model *m, size_t i)
{
	m->e[i] = m->e[--m->n];
}

/* Random operations of every kind; the table must match the model. */
static void
test_hist_random(void)
{
	for (int round = 0; round < 20; round++) {
		uint32_t cap = 50 + (uint32_t)rnd_below(400);
		struct model m = { .e = calloc(cap + 1, sizeof(*m.e)) };
		uint64_t t = 1000, ev = 0, evictions = 0, cool = 100;
		uint16_t last_epoch = 0;
		struct heat *h;

		ASSERT_EQ(heat_create(&h, cap, cool), 0);
		heat_advance(h, t);
		for (int op = 0; op < 20000; op++) {
			uint64_t r = rnd_below(10000);

			if (r < 9300) {
				/* Keys from a pool twice the capacity, a few THP. */
				uint32_t pid = 1 + (uint32_t)rnd_below(6);
				uint64_t pg = rnd_below(cap / 3 + 1);
				bool thp = pg % 7 == 0;
				uint64_t key = heat_key(pid, pg * THP, thp);
				struct model_entry *me;
				struct heat_entry *e;

				t += rnd_below(4);
				e = heat_record(h, pid, pg * THP, thp, t);
				ASSERT_TRUE(e != NULL);
				m.epoch += (uint16_t)(heat_epoch(h) - last_epoch);
				last_epoch = heat_epoch(h);
				if (heat_stats(h)->evictions != ev) {
					ev = heat_stats(h)->evictions;
					evictions++;
					for (size_t i = 0; i < m.n; i++) {
						if (heat_lookup(h, m.e[i].key) == NULL) {
							model_remove(&m, i);
							break;
						}
					}
				}
				me = model_find(&m, key);
				if (me == NULL) {
					me = &m.e[m.n++];
					me->key = key;
					me->count = 0;
					me->epoch = m.epoch;
				}
				me->count = model_count(&m, me);
				me->count += me->count < HEAT_COUNT_MAX;
				me->epoch = m.epoch;
				ASSERT_EQ(heat_count(h, e), me->count);
			} else if (r < 9700) {
				t += rnd_below(r < 9650 ? 150 : 5000);
				heat_advance(h, t);
				m.epoch += (uint16_t)(heat_epoch(h) - last_epoch);
				last_epoch = heat_epoch(h);
			} else if (r < 9960) {
				if (m.n == 0)
					continue;
				size_t i = rnd_below(m.n);

				ASSERT_EQ(heat_drop(h, m.e[i].key), 0);
				model_remove(&m, i);
			} else if (r < 9995) {
				uint32_t pid = 1 + (uint32_t)rnd_below(6);
				size_t want = 0;

				for (size_t i = 0; i < m.n;) {
					if (heat_key_pid(m.e[i].key) == pid) {
						model_remove(&m, i);
						want++;
					} else {
						i++;
					}
				}
				ASSERT_EQ(heat_drop_pid(h, pid), want);
			} else {
				heat_clear(h);
				ASSERT_EQ(heat_stats(h)->evictions, 0);
				ev = 0;
				m.n = 0;
				m.epoch = 0;	/* halvings are aligned to the table's epochs */
				heat_advance(h, t);
				last_epoch = heat_epoch(h);
			}
			ASSERT_EQ(heat_size(h), m.n);
			if (op % 97 == 0 || r >= 9300) {
				for (size_t i = 0; i < m.n; i++) {
					struct heat_entry *e = heat_lookup(h, m.e[i].key);

					ASSERT_TRUE(e != NULL);
					ASSERT_EQ(heat_count(h, e), model_count(&m, &m.e[i]));
				}
				ASSERT_EQ(check_table(h), 0);
			}
		}
		ASSERT_GE(evictions, 1);
		free(m.e);
		heat_destroy(h);
	}
}

/* Every slot, the histogram, the stats, the clock: a and b must agree. */
static int
same_state(const struct heat *a, const struct heat *b)
{
	const struct heat_entry *sa, *sb;
	const struct heat_stats *ta = heat_stats(a), *tb = heat_stats(b);
	size_t na, nb;

	sa = heat_slots(a, &na);
	sb = heat_slots(b, &nb);
	if (na != nb || heat_size(a) != heat_size(b) ||
	    heat_epoch(a) != heat_epoch(b)) {
		fprintf(stderr, "slots %zu/%zu size %zu/%zu epoch %u/%u\n", na,
		    nb, heat_size(a), heat_size(b), heat_epoch(a), heat_epoch(b));
		return -1;
	}
	for (size_t i = 0; i < na; i++) {
		if (memcmp(&sa[i], &sb[i], sizeof(sa[i])) != 0) {
			fprintf(stderr, "slot %zu: key %#llx count %u epoch %u vs "
			    "key %#llx count %u epoch %u\n", i,
			    (unsigned long long)sa[i].key, sa[i].count, sa[i].epoch,
			    (unsigned long long)sb[i].key, sb[i].count, sb[i].epoch);
			return -1;
		}
	}
	for (unsigned k = 0; k < HEAT_NBINS; k++) {
		if (heat_hist(a)[k] != heat_hist(b)[k]) {
			fprintf(stderr, "bin %u: %llu vs %llu\n", k,
			    (unsigned long long)heat_hist(a)[k],
			    (unsigned long long)heat_hist(b)[k]);
			return -1;
		}
	}
	if (ta->records != tb->records || ta->inserts != tb->inserts ||
	    ta->evictions != tb->evictions || ta->rejected != tb->rejected ||
	    ta->dropped != tb->dropped) {
		fprintf(stderr, "stats records %llu/%llu inserts %llu/%llu "
		    "evictions %llu/%llu rejected %llu/%llu dropped %llu/%llu\n",
		    (unsigned long long)ta->records, (unsigned long long)tb->records,
		    (unsigned long long)ta->inserts, (unsigned long long)tb->inserts,
		    (unsigned long long)ta->evictions,
		    (unsigned long long)tb->evictions,
		    (unsigned long long)ta->rejected, (unsigned long long)tb->rejected,
		    (unsigned long long)ta->dropped, (unsigned long long)tb->dropped);
		return -1;
	}
	return 0;
}

/* A random sample: a pool of pages larger than the table, some THP, some out of range. */
static struct heat_sample
random_sample(uint32_t cap)
{
	struct heat_sample s = {
		.pid = 1 + (uint32_t)rnd_below(4),
		.addr = rnd_below(cap * 2) * PG + rnd_below(PG),
		.thp = rnd_below(8) == 0,
	};

	switch (rnd_below(40)) {
	case 0:
		s.pid = 0;
		break;
	case 1:
		s.pid = HEAT_PID_MAX + 1 + (uint32_t)rnd_below(100);
		break;
	case 2:
		s.addr = HEAT_ADDR_LIMIT + rnd_below(1ULL << 30);
		break;
	}
	return s;
}

/*
 * heat_record_batch against heat_record one sample at a time, on two
 * tables fed the same random sequence: batches of 0 to ~5 look-ahead
 * windows, time that stays, moves on across epochs, jumps far or goes
 * back, tables that fill and evict, THP keys, rejected samples and a
 * few drops in between.  The tables must stay identical.
 */
static void
test_record_batch(void)
{
	struct heat_sample b[80];
	uint64_t evictions = 0, rejected = 0, thp = 0;

	for (int round = 0; round < 60; round++) {
		uint32_t cap = 8 + (uint32_t)rnd_below(round < 30 ? 40 : 600);
		uint64_t t = rnd_below(1000), cool = 50 + rnd_below(200);
		struct heat *one, *bat;

		ASSERT_EQ(heat_create(&one, cap, cool), 0);
		ASSERT_EQ(heat_create(&bat, cap, cool), 0);
		for (int batch = 0; batch < 400; batch++) {
			size_t n = rnd_below(sizeof(b) / sizeof(b[0]) + 1), got = 0;
			uint64_t now, r = rnd_below(100);

			if (r < 60)
				t += rnd_below(cool / 4);
			else if (r < 90)
				t += rnd_below(3 * cool);
			else if (r < 95)
				t += rnd_below(40 * cool);
			now = r >= 97 && t > 100 ? t - rnd_below(100) : t;
			for (size_t k = 0; k < n; k++) {
				b[k] = random_sample(cap);
				thp += b[k].thp;
				if (heat_record(one, b[k].pid, b[k].addr, b[k].thp,
				    now) != NULL)
					got++;
			}
			ASSERT_EQ(heat_record_batch(bat, b, n, now), got);
			if (rnd_below(10) == 0 && heat_size(one) != 0) {
				size_t ns, i;
				const struct heat_entry *sl = heat_slots(one, &ns);

				for (i = rnd_below(ns); sl[i].key == 0;)
					i = (i + 1) % ns;
				ASSERT_EQ(heat_drop(bat, sl[i].key), 0);
				ASSERT_EQ(heat_drop(one, sl[i].key), 0);
			}
			ASSERT_EQ(same_state(one, bat), 0);
		}
		ASSERT_EQ(check_table(bat), 0);
		evictions += heat_stats(bat)->evictions;
		rejected += heat_stats(bat)->rejected;
		heat_destroy(one);
		heat_destroy(bat);
	}
	/* The sequence did reach every case. */
	ASSERT_GE(evictions, 1000);
	ASSERT_GE(rejected, 1000);
	ASSERT_GE(thp, 1000);
}

int
main(void)
{
	RUN_TEST(test_key);
	RUN_TEST(test_create);
	RUN_TEST(test_grow);
	RUN_TEST(test_record_counts);
	RUN_TEST(test_decay);
	RUN_TEST(test_live);
	RUN_TEST(test_tight);
	RUN_TEST(test_revived);
	RUN_TEST(test_sample_clock);
	RUN_TEST(test_watch);
	RUN_TEST(test_adopt);
	RUN_TEST(test_epoch_wrap);
	RUN_TEST(test_saturation);
	RUN_TEST(test_drop_clear);
	RUN_TEST(test_evict_cold);
	RUN_TEST(test_drop_pid);
	RUN_TEST(test_hist_random);
	RUN_TEST(test_record_batch);
	TEST_EXIT();
}
