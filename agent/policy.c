/*
 * policy.c - placement policy (see policy.h): from the heat table, the
 * budget and the fast-tier usage, one plan of demotions and promotions.
 *
 * The maths.  Only "managed" entries take part: tracked pages whose node
 * is in fast_mask or slow_mask and that are not pinned (a pinned page can
 * not move, so on a fast node it is as fixed as kernel memory).  With F
 * the bytes of managed pages on fast nodes, everything else on the fast
 * nodes is unmanaged, U = fast_used - F, and the managed hot pages may
 * fill C = budget - headroom - U (0 when that is negative, or when the
 * budget is below the headroom).  Order managed pages with a non-zero
 * decayed count hottest first; at equal count, below POLICY_AGE_COUNTS,
 * the more recently sampled first (see "Recency"); then those already on
 * a fast node first (they keep their place, no churn on ties).  The hot
 * set H is the longest run of that order that fits C: pass 1 builds a
 * per-bin histogram (and, for the exact step, a per-count one, and for
 * the lowest counts a per-age one) of managed pages; walking the bins
 * down gives the boundary bin where the cumulative size crosses C, and
 * walking the counts (and ages) of that bin gives the boundary group
 * (one count, one age, one side).  Pages of that group are admitted in
 * slot order while they fit, which only matters with 2 MiB pages.  T is
 * the count of the coldest page in H (HEAT_COUNT_MAX + 1 when H is
 * empty).
 *
 * Pass 2 collects, with H known, the coldest fast pages outside H (the
 * demotion candidates: past min_residence first, then recently moved
 * ones, each coldest first, and at equal count least recently sampled
 * first) and the hottest slow pages in H past min_residence (the
 * promotion candidates, at equal count most recently sampled first),
 * keeping only the best p->cap
 * of each with a streaming top-k, so the work is O(n) plus a sort of the
 * plan items.  Then:
 *  - over budget (fast_used > budget): first swap pairs, then demote
 *    candidates in that order until fast usage is at budget - headroom.
 *    The pages outside H on fast always cover both (H fits C, so
 *    F - hot_on_fast >= fast_used - (budget - headroom) + hot_off_fast)
 *    unless U alone exceeds the target; if U alone exceeds the budget,
 *    the budget is unattainable.  A swap pair is a promotion (hottest
 *    first) with the next candidates that free its size, under the same
 *    per-pair test as below, so fast usage does not grow; the pages it
 *    sends out are ones the forced demotions would take anyway.  Pairs
 *    get at most half of max_bytes, so the excess drains at half the
 *    rate or more while the hot set comes in.  Without them a round
 *    promoted only into the room left after the demotions, and a large
 *    excess drained at the kernel's copy rate (4-29 MiB/s in the TCG
 *    test bed on a loaded host) kept every hot page out for as long.
 *  - promote candidates hottest first into the room left below budget -
 *    headroom; when a page of count c does not fit, demote the next
 *    candidates that are past min_residence and colder than
 *    swap_limit(c) to make room: while the hot set stays put, c >>
 *    hysteresis and far enough below c that the difference is more than
 *    sampling noise (and a page of count 0 for one of count 2 or more
 *    where pages sampled once measurably come back); while it moves,
 *    any colder page, a page of count 0 only where pages sampled once
 *    measurably come back (see swap_limit and "Pages sampled once"),
 *    and, at the lowest counts,
 *    a page of the same count sampled a quarter of a cooling period
 *    longer ago ("Recency").
 *    Those are no hotter than any page in H (and, at equal count, less
 *    recent than the one coming in), so a promotion never displaces a
 *    hotter page, and a swap needs the page coming in to be clearly
 *    hotter (or, at equal low counts, more recent) than the one going
 *    out.  The test is per pair, not
 *    against T: right after the hot set moves, T is still low and a
 *    threshold T >> h would protect the leftovers of the old hot set
 *    from pages many times hotter.  As promotions go hottest first and
 *    demotions coldest first (each then by age), the first pair that
 *    fails ends the swaps.
 *  - counts are live counts (heat_live_at, with the table's silence
 *    bound): a page silent for much longer than its count says is normal
 *    has count 0 here.  A page only the moving bound calls gone (maybe
 *    gone) has count 0 for H but is a demotion candidate of count 1
 *    last sampled when it was ("Maybe gone").  Which bound, and how much
 *    evidence a swap needs, is the regime ("Regime" below), measured in
 *    pass 1 and decided for the next round.
 *  - demotions and promotions together stay within max_bytes, demotions
 *    first (the pairs' demotions, then their promotions, then the
 *    forced demotions: plan.swap_bytes and plan.nswap tell the migrator
 *    where the pairs end); a 2 MiB page that does not fit is skipped for
 *    smaller ones.
 *  - last, the promotion bar: the count at which a page off the fast
 *    nodes would be promoted by the next plan (promote_bar), which the
 *    caller hands to heat_set_watch to run that plan early.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "heat.h"
#include "policy.h"
#include "vtier/log.h"
#include "vtier/util.h"

#define PAGE_BYTES	(1ULL << HEAT_PAGE_SHIFT)
#define NCOUNTS		(HEAT_COUNT_MAX + 1)
/*
 * Sort keys: a 23-bit order in the top bits, the slot index below; the
 * order is a 17-bit count order above 6 bits of age order.
 */
#define KEY_SLOT_BITS	40
#define KEY_SLOT_MASK	((1ULL << KEY_SLOT_BITS) - 1)
#define AGE_BITS	6
#define KEY_COUNT_SHIFT	(KEY_SLOT_BITS + AGE_BITS)
#define NAGES		(POLICY_AGE_MAX + 1)
static_assert(NAGES == 1u << AGE_BITS, "ages fill their bits");
static_assert(POLICY_AGE_SWAP == (1u << HEAT_SUB_SHIFT) / 4,
    "POLICY_AGE_SWAP is a quarter of a cooling period");

enum side { FAST = 0, SLOW = 1, OTHER = 2 };

/* A rate of pages at count 0 against pages at count 1 ("Pages sampled once"). */
struct again_rate {
	uint64_t again[2];	/* decayed sums of samples finding them */
	uint64_t seen[2];	/* those heat stats counters at the last round */
	uint64_t exposure[2];	/* decayed sums of pages x epochs */
};

/* The share of samples on the fast nodes ("Shock"). */
struct shock {
	uint64_t all, fast;	/* decayed sums: samples, of which on fast */
	uint64_t all_seen;	/* heat stats.records at the last round */
	uint64_t fast_seen;	/* heat stats.on_fast at the last round */
	uint16_t until;		/* the epoch the held regime ends */
	bool on;		/* held: the hot set moves */
};

/*
 * Work space, allocated once by policy_plan_init: 2 * cap + 1 keys for
 * each streaming top-k (about 32 bytes per plan item), a per-count
 * histogram (1.5 MiB) and a per-age one of the lowest counts (6 KiB).
 * After the promotion keys are final, the upper half of their buffer
 * holds the running sums of swap bytes.
 */
struct policy_scratch {
	uint64_t *demote;	/* demotion candidate keys */
	uint64_t *promote;	/* promotion candidate keys, then prefix sums */
	uint64_t pages[3][NCOUNTS];	/* pass 1: pages per side and count */
	uint32_t pages_top;	/* counts below this may be non-zero in pages */
	/* pass 1: pages per side, count and age, of the lowest counts */
	uint64_t ages[3][POLICY_AGE_COUNTS][NAGES];
	/* The regime (see "Regime" below), kept from round to round */
	uint64_t revived;	/* decayed sum of revivals (heat stats) */
	uint64_t departed;	/* decayed sum of departures (pass 1) */
	uint64_t revived_seen;	/* stats.revived at the last round */
	uint16_t epoch;		/* the table's epoch at the last round */
	bool started;		/* epoch and revived_seen are set */
	/* Pages sampled once (see there), the same way */
	struct again_rate once;	/* every page at count 0 and 1 */
	struct again_rate room;	/* fast pages at 0, the others at 1 */
	uint32_t watched;	/* epochs from the first round, up to a period */
	struct shock shock;
	uint32_t calm;		/* 0, or 1 + epochs calm ("Steady"), capped */
};

int
policy_plan_init(struct plan *p, size_t cap)
{
	struct policy_scratch *s;

	memset(p, 0, sizeof(*p));
	if (cap == 0 || cap > SIZE_MAX / (4 * sizeof(uint64_t)))
		return -EINVAL;
	p->demote = calloc(cap, sizeof(*p->demote));
	p->promote = calloc(cap, sizeof(*p->promote));
	s = p->scratch = calloc(1, sizeof(*s));
	if (p->demote == NULL || p->promote == NULL || s == NULL)
		goto err;
	s->demote = calloc(2 * cap + 1, sizeof(*s->demote));
	s->promote = calloc(2 * cap + 1, sizeof(*s->promote));
	if (s->demote == NULL || s->promote == NULL)
		goto err;
	p->cap = cap;
	return 0;
err:
	policy_plan_free(p);
	return -ENOMEM;
}

void
policy_plan_free(struct plan *p)
{
	if (p->scratch != NULL) {
		free(p->scratch->demote);
		free(p->scratch->promote);
		free(p->scratch);
	}
	free(p->demote);
	free(p->promote);
	memset(p, 0, sizeof(*p));
}

/* In-place selection and sorting of sort keys (all distinct). */

static inline void
swap_u64(uint64_t *a, uint64_t *b)
{
	uint64_t t = *a;

	*a = *b;
	*b = t;
}

static void
insertion_sort(uint64_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		uint64_t x = v[i];
		size_t j = i;

		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/*
 * Hoare partition of v[0..n) (n >= 3) around the median of three; returns
 * m with v[0..m) <= pivot <= v[m..n), 0 < m < n.
 */
static size_t
partition(uint64_t *v, size_t n)
{
	size_t mid = n / 2, i = 0, j = n - 1;
	uint64_t pivot;

	if (v[mid] < v[0])
		swap_u64(&v[mid], &v[0]);
	if (v[n - 1] < v[0])
		swap_u64(&v[n - 1], &v[0]);
	if (v[n - 1] < v[mid])
		swap_u64(&v[n - 1], &v[mid]);
	pivot = v[mid];
	for (;;) {
		while (v[i] < pivot)
			i++;
		while (v[j] > pivot)
			j--;
		if (i >= j)
			return j + 1 < n ? j + 1 : j;
		swap_u64(&v[i++], &v[j--]);
	}
}

/* Put the k smallest of v[0..n) first (any order), k < n. */
static void
select_smallest(uint64_t *v, size_t n, size_t k)
{
	while (n > 16) {
		size_t m = partition(v, n);

		if (m == k)
			return;
		if (m > k) {
			n = m;
		} else {
			v += m;
			k -= m;
			n -= m;
		}
	}
	insertion_sort(v, n);
}

static void
sort_keys(uint64_t *v, size_t n)
{
	/* Recurse into the smaller side so the stack stays O(log n). */
	while (n > 16) {
		size_t m = partition(v, n);

		if (m < n - m) {
			sort_keys(v, m);
			v += m;
			n -= m;
		} else {
			sort_keys(v + m, n - m);
			n = m;
		}
	}
	insertion_sort(v, n);
}

/*
 * Streaming top-k: keep the k smallest keys seen in a buffer of 2k.  When
 * it fills, select the k smallest and drop the rest; the largest kept
 * becomes the cut below which a new key must fall.  O(1) amortized.
 */
struct topk {
	uint64_t *v;
	size_t n, k;
	uint64_t cut;
};

static inline void
topk_push(struct topk *t, uint64_t x)
{
	if (x >= t->cut)
		return;
	t->v[t->n++] = x;
	if (t->n == 2 * t->k) {
		select_smallest(t->v, t->n, t->k);
		t->n = t->k;
		t->cut = t->v[0];
		for (size_t i = 1; i < t->k; i++)
			if (t->v[i] > t->cut)
				t->cut = t->v[i];
	}
}

/* The k smallest, sorted; returns how many. */
static size_t
topk_finish(struct topk *t)
{
	if (t->n > t->k) {
		select_smallest(t->v, t->n, t->k);
		t->n = t->k;
	}
	sort_keys(t->v, t->n);
	return t->n;
}

/* Side of every int8_t node value (as an index), from the masks. */
static void
side_table(const struct policy_params *pp, uint8_t tab[256])
{
	for (int v = 0; v < 256; v++) {
		int node = (int8_t)v;
		uint64_t bit = node >= 0 && node < 64 ? 1ULL << node : 0;

		tab[v] = pp->fast_mask & bit ? FAST : pp->slow_mask & bit ? SLOW : OTHER;
	}
}

/* Written to compile to conditional moves: both passes are branch-bound. */
static inline enum side
side_of(const struct heat_entry *e, const uint8_t tab[256])
{
	enum side sd = (enum side)tab[(uint8_t)e->node];

	return e->flags & HEAT_F_PINNED ? OTHER : sd;
}

/*
 * Recency.  At the lowest counts a count says little: in a cooling
 * period a page with one sample may be a page of the hot set sampled
 * once so far or what is left of one that was hot a period or two ago.
 * Where the hot set moves, the last sample tells them apart, as LRU
 * would: ordering pages of equal count by the epoch of their last sample
 * (most recent first, POLICY_AGE_MAX epochs and more all alike) keeps
 * the newcomers in H and the leftovers out, and while it moves a page
 * of such a count may displace one of the same count last sampled at
 * least POLICY_AGE_SWAP epochs earlier (displaces), where one sample
 * pays for the two moves.  make eval at 25%: shift, drift and sparse
 * hit/oracle +0.007 / +0.011 / +0.010; sparse at 50% +0.014 from the
 * order alone.  Above POLICY_AGE_COUNTS a count has enough samples that
 * its decay already weighs their age.
 */
static inline uint32_t
age_of(const struct heat_entry *e, uint16_t epoch)
{
	uint16_t a = (uint16_t)(epoch - e->epoch);

	return a < POLICY_AGE_MAX ? a : POLICY_AGE_MAX;
}

static inline bool
recent(const struct heat_entry *e, uint16_t now_tick, uint16_t min_residence)
{
	return e->moved != HEAT_MOVED_NEVER &&
	    (uint16_t)(now_tick - e->moved) < min_residence;
}

/* The boundary group of H: count, age, side, and pages of it that may enter. */
struct boundary {
	uint32_t count;		/* 0: every page with heat fits */
	uint32_t age;		/* counts below POLICY_AGE_COUNTS only */
	enum side side;
	uint64_t allow;		/* pages */
	uint64_t used;		/* pages of the group admitted so far */
	uint32_t min_count;	/* below this a page is never hot */
	uint32_t min_count_thp;	/* nor a 2 MiB page below this one */
};

/* Is a page of count c, age a, on side sd in H?  Called in slot order. */
static inline bool
in_hot_set(struct boundary *bd, uint32_t c, uint32_t a, enum side sd,
    uint32_t np)
{
	if (c == 0 || c < (np == 1 ? bd->min_count : bd->min_count_thp))
		return false;
	if (bd->count == 0 || c > bd->count)
		return true;
	if (c < bd->count)
		return false;
	if (c < POLICY_AGE_COUNTS && a != bd->age)
		return a < bd->age;
	if (sd > bd->side)
		return false;
	if (sd < bd->side)
		return true;
	if (bd->used + np > bd->allow)
		return false;
	bd->used += np;
	return true;
}

/*
 * The first group of a run of groups that crosses what C leaves: true
 * with the boundary set, false with *cum past the run.
 */
static bool
cross(uint64_t *cum, uint64_t cap_pages, const uint64_t x[2], uint32_t c,
    uint32_t a, struct boundary *bd)
{
	for (int sd = FAST; sd <= SLOW; sd++) {
		if (*cum + x[sd] <= cap_pages) {
			*cum += x[sd];
			continue;
		}
		bd->count = c;
		bd->age = a;
		bd->side = (enum side)sd;
		bd->allow = cap_pages - *cum;
		return true;
	}
	return false;
}

/*
 * Walk bins, then counts of the boundary bin (and ages of the lowest
 * counts), down to where C is crossed.
 */
static void
find_boundary(const struct policy_scratch *s, const uint64_t bins[3][HEAT_NBINS],
    uint64_t cap_pages, struct boundary *bd)
{
	uint64_t cum = 0;

	memset(bd, 0, sizeof(*bd));
	for (unsigned b = HEAT_NBINS - 1; b >= 1; b--) {
		uint64_t in_bin = bins[FAST][b] + bins[SLOW][b];

		if (cum + in_bin <= cap_pages) {
			cum += in_bin;
			continue;
		}
		for (uint32_t c = (1u << b) - 1; c >= 1u << (b - 1); c--) {
			if (c >= POLICY_AGE_COUNTS) {
				uint64_t x[2] = { s->pages[FAST][c], s->pages[SLOW][c] };

				if (cross(&cum, cap_pages, x, c, 0, bd))
					return;
				continue;
			}
			for (uint32_t a = 0; a < NAGES; a++) {
				uint64_t x[2] = { s->ages[FAST][c][a], s->ages[SLOW][c][a] };

				if (cross(&cum, cap_pages, x, c, a, bd))
					return;
			}
		}
		fatalx("policy: histogram bin %u does not add up", b);
	}
}

static inline void
add_item(struct plan_item *it, const struct heat_entry *e, uint32_t heat)
{
	it->key = e->key;
	it->heat = heat;
	it->npages = heat_key_npages(e->key);
}

static inline uint64_t
key_bytes(uint64_t key)
{
	return (uint64_t)heat_key_npages(key) * PAGE_BYTES;
}

/* One planning round's state, shared by the steps below. */
struct round {
	const struct heat *h;
	const struct policy_params *pp;
	struct plan *p;
	struct policy_scratch *s;
	const struct heat_entry *slots;
	const uint64_t *occ;	/* heat_occupied: which slots to visit */
	size_t nslots;
	uint8_t side[256];	/* side of each node value */
	uint16_t epoch;
	uint32_t stale_k;	/* the table's silence bound (heat_stale_k) */
	uint32_t since;		/* epochs since the last round (0: none) */
	bool moving;		/* the swap rule's regime (swap_limit) */
	bool once_pays;		/* the last plan's plan.once_pays */
	bool room_pays;		/* the last plan's plan.room_pays */
	bool all_fit;		/* every page with heat fits H (boundary 0) */
	uint32_t gap;		/* the swap rule's cost bound (swap_limit) */
	uint64_t departed;	/* pass 1: pages that went silent since */
	uint64_t low[2];	/* pass 1: pages at live count 0 and 1 */
	uint64_t target;	/* budget - headroom (0 if negative) */
	uint64_t limit;		/* max_bytes, UINT64_MAX for none */
	uint64_t moved;		/* bytes planned so far */
	uint64_t fast_now;	/* fast usage after the planned demotions */
	size_t nd, np;		/* candidates found of each kind */
	size_t di;		/* demotion candidates used so far */
	size_t pi;		/* promotion candidates looked at so far */
	bool pending;		/* promotions left for a later round */
};

static inline const struct heat_entry *
slot_of(const struct round *r, uint64_t sort_key)
{
	return &r->slots[sort_key & KEY_SLOT_MASK];
}

/*
 * The passes visit the entries only, in slot order: a word of the
 * table's occupancy bitmap at a time, then its set bits.  The loops are
 * branch-free inside, so an empty slot (a quarter to five eighths of
 * them, as the table doubles) cost as much as an entry; now it costs a
 * bit.
 */
static inline size_t
occ_words(const struct round *r)
{
	return (r->nslots + 63) / 64;
}

/*
 * Pass 1: managed pages on fast, heat (and age) histograms of managed pages, and
 * departures for the regime: pages (of any side, HEAT_REVIVE_MIN samples
 * or more) whose silence crossed HEAT_STALE_K since the last round's
 * epoch.  Pinned and foreign entries land in the OTHER row and count-0
 * pages in column 0, both unused, so the loop needs no branches.
 */
static uint64_t
count_pass(struct round *r, uint64_t bins[3][HEAT_NBINS])
{
	/* Locals: the stores below could alias the round's fields. */
	uint64_t (*pages)[NCOUNTS] = r->s->pages, fast_pages = 0, dep = 0;
	uint64_t (*ages)[POLICY_AGE_COUNTS][NAGES] = r->s->ages;
	const struct heat_entry *slots = r->slots;
	const uint64_t *occ = r->occ;
	const uint8_t *side = r->side;
	uint16_t epoch = r->epoch;
	uint32_t k = r->stale_k, since = r->since;

	/*
	 * Clear what the last round wrote, not all 1.5 MiB: counts rarely
	 * reach more than a few thousand, and the whole array was a tenth of
	 * a round's time on a table of 100k slots.
	 */
	for (int sd = FAST; sd <= OTHER; sd++)
		memset(r->s->pages[sd], 0, r->s->pages_top * sizeof(uint64_t));
	memset(r->s->ages, 0, sizeof(r->s->ages));
	for (size_t w = 0; w < occ_words(r); w++) {
		for (uint64_t m = occ[w]; m != 0; m &= m - 1) {
			size_t i = w * 64 + (size_t)__builtin_ctzll(m);
			const struct heat_entry *e = &slots[i];
			enum side sd = side_of(e, side);
			uint64_t x = heat_silence(e->count, e->epoch, epoch);
			uint32_t c = x > heat_bound(e->count, k) ? 0 :
			    heat_decay_at(e->count, e->epoch, epoch);
			uint32_t n = heat_key_npages(e->key);

			/*
			 * At the last round's epoch the silence was
			 * x - count * since (or none): at most
			 * HEAT_STALE_K then, above it now.
			 */
			dep += (x > HEAT_STALE_K) &
			    (x <= HEAT_STALE_K + (uint64_t)e->count * since) &
			    (e->count >= HEAT_REVIVE_MIN);
			fast_pages += sd == FAST ? n : 0;
			/* the lowest counts by age only, summed below */
			*(c < POLICY_AGE_COUNTS ? &ages[sd][c][age_of(e, epoch)] :
			    &pages[sd][c]) += n;
			bins[sd][heat_bin(c)] += n;
		}
	}
	for (int sd = FAST; sd <= OTHER; sd++)
		for (uint32_t c = 0; c < POLICY_AGE_COUNTS; c++)
			for (uint32_t a = 0; a < NAGES; a++)
				pages[sd][c] += ages[sd][c][a];
	r->departed = dep;
	for (uint32_t c = 0; c < 2; c++)
		r->low[c] = pages[FAST][c] + pages[SLOW][c] + pages[OTHER][c];
	/* bin b holds counts below 2^b: the highest one used bounds them */
	r->s->pages_top = 0;
	for (unsigned b = HEAT_NBINS; b-- > 0 && r->s->pages_top == 0;)
		if (bins[FAST][b] | bins[SLOW][b] | bins[OTHER][b])
			r->s->pages_top = 1u << b;
	return fast_pages;
}

/*
 * Maybe gone.  While the hot set moves, a page is gone after 3 expected
 * samples of silence, and a page of a live hot set has such a gap in
 * e^-3 = 5% of its gaps: in a hot set sampled a few times a second a few
 * hundred pages read gone at any time, each until its next sample.  Out
 * of H they make room for the pages coming in, as the moving setting
 * means them to.  But as demotion candidates of count 0 they were the
 * first to go wherever a page sampled once came in (once_pays) or any
 * colder page could be displaced, and each came back a round or two
 * later.  In the test-bed guest (the demo: 8,192 hot pages at about 2.7
 * samples/s each, 57,000 cold ones at 0.04, the fast tier full of pages
 * sampled once) the regime reads moving for the whole 20 s phase after
 * the move, and hot on fast slid from 99.9% to 94.4-95.4% in the
 * phase's last seconds in 4 debug runs, to 91.2% in a CI run (whose demo
 * ended at 94.6%, under its 95% check).  So a page silent past the
 * moving bound and within the settled one, with heat left by decay
 * (heat_maybe_gone), is ordered and tested as a demotion candidate of
 * count 1 last sampled when it was: a page sampled once displaces it
 * only by Recency's rule, a page of count 2 or more as before.  Its
 * count stays 0 for H and for the plan's items, and vacate leaves it to
 * the policy's order.  Guest: 10 runs of the demo with it (3 beside a
 * busy core), 96.9-99.9% at the lowest in the phase's last 10 s.
 * vtier-sim on make eval's traces: no trace moved by more than 0.0010
 * of hit/oracle; drift at 25% migrates 843 MiB instead of 914 and shift
 * at 25% 752 instead of 812.
 */

/* Pass 2: H membership and the best cap candidates of each kind. */
static void
collect_pass(struct round *r, struct boundary *bd)
{
	struct plan *p = r->p;
	struct topk dk = { .v = r->s->demote, .k = p->cap, .cut = UINT64_MAX };
	struct topk pk = { .v = r->s->promote, .k = p->cap, .cut = UINT64_MAX };
	uint64_t hot_pages = 0, hot_fast_pages = 0;
	uint32_t t_min = UINT32_MAX;
	const struct heat_entry *slots = r->slots;
	const uint64_t *occ = r->occ;
	const uint8_t *side = r->side;
	uint16_t epoch = r->epoch, now = r->pp->now_tick;
	uint16_t min_res = r->pp->min_residence;
	uint32_t k = r->stale_k;
	struct boundary b = *bd;

	for (size_t w = 0; w < occ_words(r); w++) {
		for (uint64_t m = occ[w]; m != 0; m &= m - 1) {
			size_t i = w * 64 + (size_t)__builtin_ctzll(m);
			const struct heat_entry *e = &slots[i];
			enum side sd = side_of(e, side);
			uint32_t c, n, a;
			uint64_t rec, xp, xd;
			bool hot, mg;

			if (sd == OTHER)
				continue;
			c = heat_live_at(e->count, e->epoch, epoch, k);
			n = heat_key_npages(e->key);
			a = age_of(e, epoch);
			hot = in_hot_set(&b, c, a, sd, n);
			rec = recent(e, now, min_res);
			hot_pages += hot ? n : 0;
			hot_fast_pages += hot && sd == FAST ? n : 0;
			t_min = hot && c < t_min ? c : t_min;
			/*
			 * Smallest key first: hottest (then most recent)
			 * promotion, settled coldest (then least recent)
			 * demotion.
			 */
			xp = ((uint64_t)(HEAT_COUNT_MAX - c) << AGE_BITS | a) <<
			    KEY_SLOT_BITS | i;
			mg = heat_maybe_gone(e->count, e->epoch, epoch, k);
			xd = ((rec << 16 | (c | mg)) << AGE_BITS |
			    (POLICY_AGE_MAX - a)) << KEY_SLOT_BITS | i;
			topk_push(&pk, hot && sd == SLOW && !rec ? xp : UINT64_MAX);
			topk_push(&dk, !hot && sd == FAST ? xd : UINT64_MAX);
		}
	}
	r->nd = topk_finish(&dk);
	r->np = topk_finish(&pk);
	p->threshold = hot_pages ? t_min : HEAT_COUNT_MAX + 1;
	p->hot_bytes = hot_pages * PAGE_BYTES;
	p->hot_on_fast_bytes = hot_fast_pages * PAGE_BYTES;
}

static void
add_demotion(struct round *r, const struct heat_entry *e)
{
	struct plan *p = r->p;
	uint64_t b = key_bytes(e->key);

	add_item(&p->demote[p->ndemote++], e, heat_live_count(r->h, e));
	p->demote_bytes += b;
	r->moved += b;
	r->fast_now = r->fast_now > b ? r->fast_now - b : 0;
}

/* Over budget: demote candidates in order down to budget - headroom. */
static void
demote_forced(struct round *r)
{
	for (; r->di < r->nd && r->fast_now > r->target; r->di++) {
		const struct heat_entry *e = slot_of(r, r->s->demote[r->di]);
		uint64_t b = key_bytes(e->key);

		if (r->moved + b > r->limit) {
			if (b == PAGE_BYTES)
				break;
			continue;	/* a smaller page may still fit */
		}
		add_demotion(r, e);
	}
}

/*
 * Promote hottest first into the room below budget - headroom, swapping
 * out the next demotion candidates that are settled and colder than the
 * page coming in by the hysteresis factor (see the top).  prefix[k] is
 * the size of the first k settled candidates.
 */
/*
 * The heat below which a fast page may make room for a page of heat c.
 * While the hot set stays put: c >> hysteresis, and also low enough that
 * c - x > SWAP_Z sqrt(c + x), the difference of two Poisson counts at
 * SWAP_Z standard deviations.  Solving (c - x)^2 = z^2 (c + x) for its
 * smaller root x0 gives the bound: x < x0.  Few samples prove little (2
 * against 1 is noise, 20 against 10 is not), so the hysteresis factor
 * alone would let sampling noise churn pages whose true rates are alike.
 * While it moves (see "Regime"), any colder page: a page is worth more
 * the more recent its heat, and waiting for a clear difference kept the
 * tier full of pages sampled once or twice cooling periods ago while the
 * new hot set, pages sampled once or twice so far, stayed out (make
 * eval's sparse trace at 25%: hit/oracle 0.617, against tpp-scan's
 * 0.728; 0.686 now).  A page of count 1 displaces one of count 0 only
 * where the last plan measured that it pays ("Pages sampled once").
 * While it stays put, too, where every page with heat fits (the boundary
 * group at count 0) and the last plan measured that it pays: a fast page
 * of count 0 is then outside H, room held by a page with no sample for a
 * cooling period, and the noise test, there against churn between pages
 * whose rates are alike, has been answered by measuring those rates.
 * And a page of count 2 or more displaces one of count 0 where the last
 * plan measured that a page sampled once pays: sampled twice it is
 * hotter still, but 2 against 0 is within the noise bound, which asks
 * for 3.  On make eval's sparse trace (a window of pages sampled about
 * twice a cooling period sliding through a tier full of pages sampled
 * once by chance) the regime reads settled for the slide's first 18 s
 * and room_pays 1.1-1.4 for its first 9 (half the pages off the fast
 * tier at count 1 are such chance pages), while once_pays holds from
 * the first cooling period on (2.4): hit/oracle +0.011 / +0.012 at
 * 12.5 / 25%, procs +0.003 at 50% (47 -> 108 MiB) and -0.0007 at 25%
 * (90 -> 103 MiB), nothing else by more than 0.0001 (mix at 50%
 * moves 79 MiB instead of 70).  A stricter bar (3 or 4 times the rate)
 * kept sparse's loss: its early ratio is 2.4.  In both regimes the two
 * moves must be paid for (see "Paying for a move"): c - x >= gap.
 */
#define SWAP_Z		1.5

static inline uint32_t
swap_limit(const struct round *r, uint32_t c)
{
	uint32_t gap = MAX(r->gap, 1u), lim = c >= gap ? c - gap + 1 : 0;
	double z2 = SWAP_Z * SWAP_Z, b = 2.0 * c + z2, x0;

	if (r->moving)
		return c > 1 || r->once_pays ? lim : 0;
	x0 = (b - sqrt(b * b - 4.0 * ((double)c * c - z2 * c))) / 2;
	lim = MIN(lim, c >> MIN(r->pp->hysteresis, 31u));
	lim = x0 <= 0 ? 0 : MIN(lim, (uint32_t)ceil(x0));
	/* room outside H held by a page of count 0 (gap is 1 here) */
	if (r->all_fit && r->room_pays && c >= gap)
		lim = MAX(lim, 1u);
	/* a page of count 0, for a page sampled twice, where once pays */
	if (r->once_pays && c >= 2 && c >= gap)
		lim = MAX(lim, 1u);
	return lim;
}

/* Count and age of a promotion key, of a demotion key (bit 16: recent). */
static inline uint32_t
pkey_count(uint64_t key)
{
	return HEAT_COUNT_MAX - (uint32_t)(key >> KEY_COUNT_SHIFT);
}

static inline uint32_t
pkey_age(uint64_t key)
{
	return (uint32_t)(key >> KEY_SLOT_BITS) & POLICY_AGE_MAX;
}

static inline uint32_t
dkey_count(uint64_t key)
{
	return (uint32_t)(key >> KEY_COUNT_SHIFT);
}

static inline uint32_t
dkey_age(uint64_t key)
{
	return POLICY_AGE_MAX - ((uint32_t)(key >> KEY_SLOT_BITS) & POLICY_AGE_MAX);
}

/*
 * May the promotion of key pk (count c, swap_limit(r, c) = lim) make room
 * by demoting the candidate of key dk?  Colder than lim, or at the same
 * low count and last sampled POLICY_AGE_SWAP epochs before it
 * ("Recency") where any colder page may go (lim = c: the hot set moves,
 * one sample pays for the two moves, and for count 1 once_pays), so
 * that, over the candidates in their order, the ones a promotion may
 * displace are always the first ones.  A recently moved candidate (bit
 * 16 of its count) never.
 */
static inline bool
displaces(uint64_t pk, uint32_t lim, uint64_t dk)
{
	uint32_t c = pkey_count(pk), x = dkey_count(dk);

	if (x < lim)
		return true;
	return lim == c && x == c && c < POLICY_AGE_COUNTS &&
	    dkey_age(dk) >= pkey_age(pk) + POLICY_AGE_SWAP;
}

/*
 * Promotion candidates from r->pi on, while fast usage stays at or
 * below ceiling and the bytes planned within limit.  Returns how many of
 * the settled demotion candidates from r->di it used (the caller moves
 * r->di past them); r->pi ends at the first candidate not taken.
 */
static size_t
promote(struct round *r, uint64_t ceiling, uint64_t limit)
{
	struct plan *p = r->p;
	const uint64_t *dem = r->s->demote + r->di;
	uint64_t *prefix = r->s->promote + p->cap;	/* free upper half */
	size_t nswap = 0, si = 0, j;
	uint64_t first;
	uint32_t lim;

	if (r->pi >= r->np)
		return 0;
	/*
	 * Settled candidates come first and have bit 16 clear; those the
	 * first (hottest, most recent) promotion may displace come first
	 * among them.
	 */
	first = r->s->promote[r->pi];
	lim = swap_limit(r, pkey_count(first));
	prefix[0] = 0;
	while (r->di + nswap < r->nd && displaces(first, lim, dem[nswap])) {
		prefix[nswap + 1] = prefix[nswap] + key_bytes(slot_of(r, dem[nswap])->key);
		nswap++;
	}

	for (j = r->pi; j < r->np; j++) {
		const struct heat_entry *e = slot_of(r, r->s->promote[j]);
		uint64_t b = key_bytes(e->key), need;
		size_t k = si, lo, hi;

		need = r->fast_now + b > ceiling ? r->fast_now + b - ceiling : 0;
		if (need > prefix[nswap] - prefix[si])
			goto no_fit;
		/* The fewest next candidates that free need bytes. */
		for (lo = si, hi = nswap; lo < hi;) {
			size_t mid = lo + (hi - lo) / 2;

			if (prefix[mid] - prefix[si] >= need)
				hi = mid;
			else
				lo = mid + 1;
		}
		k = lo;
		/* The hottest page it displaces must be colder by the factor. */
		if (k > si && !displaces(r->s->promote[j],
		    swap_limit(r, pkey_count(r->s->promote[j])), dem[k - 1]))
			break;
		/* No cap check: there are at most cap demotion candidates. */
		if (r->moved + (prefix[k] - prefix[si]) + b > limit) {
			r->pending = true;
			goto no_fit;
		}
		for (; si < k; si++)
			add_demotion(r, slot_of(r, dem[si]));
		add_item(&p->promote[p->npromote++], e, heat_live_count(r->h, e));
		p->promote_bytes += b;
		r->moved += b;
		r->fast_now += b;
		continue;
no_fit:
		/* After a 4 KiB page nothing smaller can fit; after 2 MiB it may. */
		if (b == PAGE_BYTES)
			break;
	}
	r->pi = j;
	/* a full plan: the top-k may have dropped more candidates */
	r->pending |= p->npromote == p->cap;
	return si;
}

/*
 * The count a page off the fast nodes needs for the next round to
 * promote it, had that round the same table (heat_set_watch watches for
 * it): above T when the hot set fills the capacity, at least min_count,
 * and, with no room left, hot enough to displace the next settled
 * demotion candidate (swap_limit).  Promotions this plan had to leave
 * for later (rate limit, plan size) make min_count enough.  None
 * (HEAT_COUNT_MAX + 1) when nothing could make room.  An estimate: a
 * round it starts may still move nothing (the counts it saw have aged),
 * which costs that round and no more.
 */
static uint32_t
promote_bar(const struct round *r, const struct boundary *bd, size_t used)
{
	const struct plan *p = r->p;
	uint32_t lo = MAX(bd->min_count, 1u), x, hi;
	size_t i = r->di + used;

	if (bd->count != 0 && p->threshold <= HEAT_COUNT_MAX)
		lo = MAX(lo, p->threshold + 1);
	if (lo > HEAT_COUNT_MAX)
		return HEAT_COUNT_MAX + 1;
	if (r->pending || r->fast_now + PAGE_BYTES <= r->target)
		return lo;
	/*
	 * The page it would displace: the next settled candidate (bit 16 of
	 * its order clear), else, once hot enough to push the coldest page
	 * out of H, that page, of count T or more.
	 */
	if (i < r->nd && dkey_count(r->s->demote[i]) <= 0xffff)
		x = dkey_count(r->s->demote[i]);
	else if (p->threshold <= HEAT_COUNT_MAX)
		x = p->threshold;
	else
		return HEAT_COUNT_MAX + 1;	/* H empty: no capacity */
	if (swap_limit(r, HEAT_COUNT_MAX) <= x)
		return HEAT_COUNT_MAX + 1;
	/* swap_limit grows with c: the least c with swap_limit(c) > x */
	for (hi = HEAT_COUNT_MAX; lo < hi;) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (swap_limit(r, mid) > x)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* What a counter of the heat stats gained since it read seen. */
static inline uint64_t
stats_since(uint64_t now, uint64_t seen)
{
	return now >= seen ? now - seen : now;	/* heat_clear resets them */
}

/*
 * Pages sampled once.  While the hot set moves, a page of count 1 may
 * displace a fast page of count 0 (swap_limit) only where pages sampled
 * once are sampled again clearly more often than pages with no heat
 * left.  Where the hot set slides through pages that get a few samples
 * a cooling period each, a page sampled once is likely in it and one
 * with no heat left has likely fallen out (make eval's sparse trace);
 * where a small hot set sits among many pages each sampled now and then,
 * the two are alike, and one displacing the other churned the tier for
 * nothing (tinyhot at 50%: 211 MiB migrated instead of 17, same hits).
 * The heat table counts the samples that find a tracked page at live
 * count 0 and at 1 (stats.again), pass 1 the pages at each; a rate per
 * page is those samples over those pages times the epochs they were
 * there, both summed and halved every cooling period as the regime's
 * are.  A page sampled once pays when its rate is 2^hysteresis times the
 * other's (the factor the swap rule asks of counts while the hot set
 * stays put), on at least ONCE_MIN samples.  Decided for the next round.
 *
 * While the hot set stays put, the same comparison between the two
 * kinds of page a swap would exchange, fast pages at count 0 and the
 * others at count 1 (plan.room_pays; stats.again_fast), lets a page of H
 * take the place of a fast page with no heat left where every page with
 * heat fits (swap_limit).  Over every page, make eval's stationary traces
 * read 1.5-2.5 and procs at 50% churned (47 -> 502 MiB, hit -0.0016);
 * over these two kinds they read 0.8-1.3, and sparse, whose regime reads
 * settled for its first 27 s (a page of a few samples a period departs
 * after 6 expected samples of silence, 24 s), 1.3 rising to 3 as its
 * window slides off the pages first touched.
 *
 * Neither in the first cooling period the plan watches: rounds whose
 * span began in it are not counted.  Until counts have halved once,
 * count 1 says that a page is new rather than sampled once in a period,
 * and a page at count 0 has had no time to be sampled again: make eval's
 * scan trace read "pays" from its hot pages' second samples at its
 * start, and swapped scan pages for scan pages.
 */
#define ONCE_MIN	32

/*
 * Bring a of the samples counted in now[] (heat stats) and the pages in
 * low[] (pass 1) up to this round; does a page at count 1 pay?  warm:
 * start again from here.
 */
static bool
again_update(const struct round *r, struct again_rate *a,
    const uint64_t now[2], const uint64_t low[2], uint32_t halvings,
    bool warm)
{
	double hot, cold;

	for (int c = 0; c < 2; c++) {
		if (warm) {
			a->again[c] = a->exposure[c] = 0;
		} else {
			a->again[c] = (a->again[c] >> halvings) +
			    stats_since(now[c], a->seen[c]);
			a->exposure[c] = (a->exposure[c] >> halvings) +
			    low[c] * r->since;
		}
		a->seen[c] = now[c];
	}
	/* again[1] / exposure[1] >= 2^h again[0] / exposure[0] */
	hot = (double)a->again[1] * (double)a->exposure[0];
	cold = ldexp((double)a->again[0] * (double)a->exposure[1],
	    (int)MIN(r->pp->hysteresis, 31u));
	return a->again[1] >= ONCE_MIN && hot >= cold;
}

static void
once_update(struct round *r, uint32_t halvings)
{
	struct policy_scratch *s = r->s;
	const struct heat_stats *st = heat_stats(r->h);
	/* the kinds a swap exchanges: fast pages at 0, the others at 1 */
	const uint64_t room[2] = {
		st->again_fast[0], st->again[1] - st->again_fast[1]
	};
	const uint64_t room_low[2] = {
		s->pages[FAST][0], r->low[1] - s->pages[FAST][1]
	};
	bool warm = s->watched < (1u << HEAT_SUB_SHIFT);

	r->p->once_pays = again_update(r, &s->once, st->again, r->low,
	    halvings, warm);
	r->p->room_pays = again_update(r, &s->room, room, room_low,
	    halvings, warm);
	s->watched = MIN(s->watched + r->since, 1u << HEAT_SUB_SHIFT);
}

/*
 * Shock.  Departures show after 6 expected samples of silence, seconds
 * even for hot pages, and until then the regime reads settled; but where
 * the whole hot set moves at once the samples say so at the next round:
 * they stop finding their pages on the fast nodes.  The heat table counts
 * the samples that do (stats.on_fast).  A round whose share of them, on
 * at least SHOCK_MIN samples, is below half the share over the last
 * cooling period (summed and halved as the regime's sums are, on at
 * least SHOCK_PERIOD_MIN samples) holds the moving regime for SHOCK_HOLD
 * epochs, half a cooling period: by then the departures of pages
 * sampled 12 times a period or more have taken over.  Not in the first
 * cooling period the plan watches, as for pages sampled once: make
 * eval's LLC traces, a few seconds of bursts of misses, read a shock in
 * most of their rounds and lost 0.06-0.23 hit/oracle.  On shift, whose
 * hot set moves at once 3 times, it shows 0.25 s after each move (share
 * 0.23-0.43 against 0.87-0.90; at 25% hit/oracle 0.9413 -> 0.9485, at
 * 12.5% 0.9842 -> 0.9949); tinyhot and sqlite3 read a few, which moved
 * their hits by 0.0001 at most, and the rest of make eval none.  It
 * needs the order among count 0 kept ("Maybe gone", vacate.c in_pool):
 * before that, the guest's phase-change scenario lost up to 4.7 points
 * in the phase's last 2 s, where the regime still read moving.
 *
 * A shock's own departures are not counted in the regime's sums: the
 * pages of the hot set that moved go silent over the seconds after it,
 * each one a departure, and the shock already holds the setting for
 * them.  Counted, they outnumbered revivals for the next minute where
 * few pages revive (tinyhot, its 512 pages: 9 halvings of 8 s) and held
 * the moving setting long after the new hot set had settled.  On shift
 * at 12.5 / 25%: hit/oracle +0.0039 / +0.0006, migrated 315 -> 260 and
 * 755 -> 403 MiB; tinyhot the same hits or +0.0002, 72 -> 85 and 65 ->
 * 153 MiB (its settled phases swap pages sampled once more); no other
 * trace moved.
 *
 * The loop need not wait for the round to see it: policy_shock_now runs
 * the same test on the samples read so far, at each read of the sampler,
 * and the round it starts at once plans as moving itself.  Rounds over a
 * large table in the settled regime are spaced hundreds of ms apart
 * (policy_round_due), and the first one after a move read the shock on
 * a span mostly from before it: on tinyhot (65K slots) the shock showed
 * 150-300 ms after each move, now within a wake-up (hit/oracle +0.0012 /
 * +0.0010 at 12.5 / 25%, shift +0.0001, the rest of make eval the same).
 */
#define SHOCK_MIN		256
#define SHOCK_PERIOD_MIN	4096
#define SHOCK_HOLD		(1u << (HEAT_SUB_SHIFT - 1))

/*
 * The shock test: of the all samples since the last round, fast found
 * their page on the fast nodes, below half the share over the cooling
 * period before (k), on enough samples, after the first period watched.
 */
static bool
shock_seen(const struct shock *k, uint32_t watched, uint64_t all,
    uint64_t fast)
{
	return watched >= (1u << HEAT_SUB_SHIFT) && all >= SHOCK_MIN &&
	    k->all >= SHOCK_PERIOD_MIN &&
	    2.0 * (double)fast * (double)k->all < (double)k->fast * (double)all;
}

static void
shock_update(struct round *r, uint32_t halvings, bool first)
{
	struct shock *k = &r->s->shock;
	const struct heat_stats *st = heat_stats(r->h);
	uint64_t all = first ? 0 : stats_since(st->records, k->all_seen);
	uint64_t fast = first ? 0 : stats_since(st->on_fast, k->fast_seen);

	k->all_seen = st->records;
	k->fast_seen = st->on_fast;
	if (shock_seen(k, r->s->watched, all, fast)) {
		k->on = true;
		k->until = (uint16_t)(r->epoch + SHOCK_HOLD);
	} else if (k->on && (int16_t)(r->epoch - k->until) >= 0) {
		k->on = false;
	}
	k->all = (k->all >> halvings) + all;
	k->fast = (k->fast >> halvings) + fast;
}

/*
 * Tight.  While the hot set moves through a fast tier that does not hold
 * it (not every page with heat fits, and H's coldest page has
 * HEAT_TIGHT_MIN samples or more: pages that are more than chance are
 * left out), a slot is worth most to a page sampled recently.  A page of
 * HEAT_TIGHT_MIN samples or more then reads gone after 1.5 expected
 * samples of silence instead of 3 (heat_bound), and a newcomer takes its
 * slot.  A live page has such a gap in e^-1.5 = 22% of its gaps and
 * loses its slot until its next sample, but not its count: counts
 * restart by the moving bound still (heat_record), so it comes back at
 * the head of the promotions.  LRU, which TPP's lists are, keeps the
 * pages touched last in the same way.  Until the tier holds the hot set
 * again: the setting stays while H's coldest page has 2 samples or more,
 * as the pages it lets in with few samples so far would otherwise turn
 * it off and on at every round (twice the migration on make eval's drift
 * and shift at 12.5%).  make eval, vtier-sim, at 12.5%: drift hit/oracle
 * 0.9812 -> 1.0287, slowdown 1.400 -> 1.348 (372 -> 880 MiB), shift
 * 1.0147 -> 1.0401, 1.335 -> 1.306 (260 -> 374 MiB), xz-llc +0.0018,
 * xz's slowdown 1.048 -> 1.053 (2 -> 4 MiB; at 25% it engages on these
 * two only, by less), nothing else moved.  With 2 expected samples:
 * +0.031 and +0.017; with 1.25: +0.050 and +0.026 at twice the
 * migration.  The whole moving regime on 2 (no tight test) also lost
 * 0.0026 on drift at 25%, where the tier holds the window.
 */
static bool
tight(const struct round *r)
{
	uint32_t t = r->p->threshold;

	return !r->all_fit && t <= HEAT_COUNT_MAX &&
	    t >= (r->stale_k == HEAT_STALE_K_TIGHT ? 2u : HEAT_TIGHT_MIN);
}

/*
 * Steady.  A cooling period is a trade between agility and precision:
 * counts of a hot set that stays put are a sample of its rates, and
 * where many pages have rates alike, the ones just inside and just
 * outside H trade places on noise.  The swap rule's noise test asks for
 * 1.5 standard deviations per pair, but over a tier's boundary of
 * thousands of pairs some pass by chance in every round: on make eval's
 * procs at 25% the plan moved 150-220 pages a second for as long as the
 * trace ran, a fifth of them back within 16 s, while Memtis-like, whose
 * memory is longer, came to rest with more hits.  A stricter test does
 * not help: 2 or 2.5 deviations kept pages that should have come in
 * (zipf80 at 12.5% -0.011 / -0.025 of hit/oracle).  A longer period
 * does, where the hot set stays put, and costs where it moves (a fixed
 * 16 s: shift -0.025, sparse -0.091, drift -0.078 at 12.5%).  So the
 * period doubles (the heat clock, policy_heat_clock) only while the
 * regime has read calm for a whole cooling period: settled, no shock,
 * and revivals at least STEADY_RATIO times the departures (a stationary
 * workload revives about 20 times as often as it departs; where the hot
 * set moves, departures outnumber revivals) on at least STEADY_MIN of
 * them.  The margin keeps it off where the settled reading comes from
 * want of evidence: make eval's sparse window, sampled twice per
 * cooling period, reads settled for its first 25 s, with revivals 1.8
 * times the departures in its third period (-0.077 at 12.5% when the
 * period doubled on settled alone).  Back to the configured period at
 * the first round that reads otherwise.  make eval, vtier-sim, against
 * the configured period all along: geomean hit/oracle 0.8887 / 0.8985
 * / 0.9174 -> 0.8894 / 0.8992 / 0.9180 at 12.5 / 25 / 50%, slowdown
 * 1.4988 / 1.3627 / 1.2308 -> 1.4980 / 1.3619 / 1.2298; zipf80,
 * zipf99, mix, procs up to +0.0044, migrating 10-30% less (procs at
 * 25%: 103 -> 75 MiB, hit 0.8073 -> 0.8107), shift -0.0020 / -0.0009
 * at 12.5 / 25%, nothing else moved.  A ratio of 2 to 8, a factor of 2
 * to 4, a wait of 1 or 2 periods and a minimum of 32 to 256 all gave
 * +0.0005 to +0.0009 at each budget.
 */
#define STEADY_RATIO	4
#define STEADY_MIN	32
#define STEADY_WAIT	(1u << HEAT_SUB_SHIFT)	/* epochs: a period */

/*
 * Regime.  Two settings of the silence test and the swap rule, one for a
 * hot set that stays put (a page is gone after 6 expected samples
 * missed, a swap needs the difference at 1.5 standard deviations and the
 * hysteresis factor) and one for a hot set that moves (3, and any colder
 * page may make room): which wins is measured, as ARC
 * measures whether recency or frequency would have hit more.  Every page
 * that falls silent for 3 expected samples is a case where the two
 * settings part: the moving one calls it gone, the settled one waits.
 * Either it is sampled again before 6 (a revival, heat stats.revived:
 * the moving setting would have demoted a live page, a miss and two
 * migrations), or it stays silent past 6 (a departure, counted in pass
 * 1: the settled setting kept a dead page in the fast tier for 3 more of
 * its sample gaps, room a newcomer could have used).  A stationary
 * workload revives about e^3 = 20 times as often as it departs; where the
 * hot set moves, most such pages are gone for good.  Both are summed,
 * halved every cooling period as the counts are, and the moving setting
 * holds while departures outnumber revivals, or while a shock holds it
 * ("Shock" above).  Decided at the end of a round, for the next (the
 * table's silence bound changes between rounds only:
 * heat_set_stale(plan.stale_k)).
 */
static void
regime_update(struct round *r)
{
	struct policy_scratch *s = r->s;
	uint64_t rev = heat_stats(r->h)->revived;
	uint32_t halvings = ((s->epoch & ((1u << HEAT_SUB_SHIFT) - 1)) +
	    r->since) >> HEAT_SUB_SHIFT;
	bool first = !s->started, calm;

	if (first) {
		s->started = true;
		s->revived_seen = rev;
	}
	halvings = MIN(halvings, 63u);
	s->revived = (s->revived >> halvings) +
	    stats_since(rev, s->revived_seen);
	/* a shock's own departures are not counted ("Shock") */
	s->departed = (s->departed >> halvings) +
	    (s->shock.on ? 0 : r->departed);
	s->revived_seen = rev;
	once_update(r, halvings);
	shock_update(r, halvings, first);
	s->epoch = r->epoch;
	r->p->moving = s->departed > s->revived || s->shock.on;
	calm = !r->p->moving && s->revived >= STEADY_MIN &&
	    s->revived / STEADY_RATIO >= s->departed;
	if (!calm)
		s->calm = 0;
	else		/* 1 + the epochs since the first calm round */
		s->calm = s->calm == 0 ? 1 :
		    MIN(s->calm + r->since, 1u + STEADY_WAIT);
	r->p->steady = s->calm > STEADY_WAIT;
	r->p->tight = r->p->moving && tight(r);
	r->p->stale_k = !r->p->moving ? HEAT_STALE_K :
	    r->p->tight ? HEAT_STALE_K_TIGHT : HEAT_STALE_K_MOVING;
}

bool
policy_shock_now(const struct plan *p, const struct heat *h)
{
	const struct policy_scratch *s = p->scratch;
	const struct heat_stats *st = heat_stats(h);
	uint16_t since;

	if (s == NULL || !s->started || p->moving || s->shock.on)
		return false;
	since = (uint16_t)(heat_epoch(h) - s->epoch);
	/* as shock_update will see it, once_update has counted since */
	return shock_seen(&s->shock, MIN(s->watched + since,
	    1u << HEAT_SUB_SHIFT), stats_since(st->records, s->shock.all_seen),
	    stats_since(st->on_fast, s->shock.fast_seen));
}

int
policy_plan(const struct heat *h, const struct policy_params *pp,
    struct plan *p)
{
	struct round r = { .h = h, .pp = pp, .p = p, .s = p->scratch };
	uint64_t bins[3][HEAT_NBINS] = { { 0 } };
	uint64_t managed_fast, unmanaged, end;
	struct boundary bd;
	bool shock, moved;

	if (r.s == NULL || p->cap == 0 || (pp->fast_mask & pp->slow_mask) ||
	    pp->now_tick == 0 || pp->min_residence >= 32768)
		return -EINVAL;
	r.slots = heat_slots(h, &r.nslots);
	r.occ = heat_occupied(h);
	if (r.nslots > KEY_SLOT_MASK)
		return -EINVAL;
	side_table(pp, r.side);
	r.epoch = heat_epoch(h);
	r.stale_k = heat_stale_k(h);
	r.since = r.s->started ? (uint16_t)(r.epoch - r.s->epoch) : 0;
	/* a shock seen now: this round plans as the hot set moving */
	shock = policy_shock_now(p, h);
	if (shock)
		r.stale_k = HEAT_STALE_K_MOVING;
	r.moving = r.stale_k != HEAT_STALE_K;
	r.once_pays = p->once_pays;
	r.room_pays = p->room_pays;
	r.target = pp->budget > pp->headroom ? pp->budget - pp->headroom : 0;
	r.limit = pp->max_bytes ? pp->max_bytes : UINT64_MAX;
	r.fast_now = pp->fast_used;

	p->ndemote = p->npromote = p->nswap = 0;
	p->demote_bytes = p->promote_bytes = p->swap_bytes = 0;
	p->over_budget = pp->fast_used > pp->budget;
	p->unattainable = false;

	managed_fast = count_pass(&r, bins) * PAGE_BYTES;
	unmanaged = pp->fast_used > managed_fast ? pp->fast_used - managed_fast : 0;
	p->capacity = r.target > unmanaged ? r.target - unmanaged : 0;
	find_boundary(r.s, bins, p->capacity / PAGE_BYTES, &bd);
	/* the last round's regime, or a shock (see "Paying for a move") */
	moved = p->moving || shock;
	bd.min_count = MAX(pp->min_count, moved ? pp->pay_min : 0);
	bd.min_count_thp = MAX(pp->min_count, moved ? pp->pay_min_thp : 0);
	r.gap = moved ? pp->swap_gap : 0;
	r.all_fit = bd.count == 0;
	collect_pass(&r, &bd);

	if (p->over_budget) {
		/* swap pairs first (see the top), in half the bytes */
		r.di += promote(&r, MAX(r.target, r.fast_now),
		    r.limit == UINT64_MAX ? UINT64_MAX : r.limit / 2);
		p->nswap = p->npromote;
		p->swap_bytes = p->demote_bytes;
		demote_forced(&r);
		/* Even with every managed fast page gone it would stay over. */
		p->unattainable = unmanaged > pp->budget;
	}
	p->promote_bar = promote_bar(&r, &bd, promote(&r, r.target, r.limit));
	regime_update(&r);

	end = pp->fast_used + p->promote_bytes;
	end = end > p->demote_bytes ? end - p->demote_bytes : 0;
	p->shortfall = end > pp->budget ? end - pp->budget : 0;
	return 0;
}

/* A residence in whole policy intervals, rounded up. */
static uint16_t
ms_to_ticks(uint64_t ms, uint64_t interval_ms)
{
	uint64_t t = (ms + interval_ms - 1) / interval_ms;

	return (uint16_t)MIN(t, 32767);
}

/*
 * Paying for a move.  A migration costs about break_even accesses' worth
 * of the latency the fast tier saves (config.h; 10 us against 150 ns by
 * default), and a sample stands for sample_period accesses.  A page's
 * decayed count is its samples over the last cooling period, the best
 * guess of its samples over the next, so a promotion pays when the count
 * reaches break_even / period (pay_min, pay_min_thp for 512 pages), and
 * a swap, two moves for the difference of two pages, when the counts
 * differ by twice that (swap_gap, in swap_limit).  Waiting until a page
 * has already lost what its move would cost is the rent-or-buy rule: it
 * never pays more than twice what knowing the page's future would.  How
 * long a page stays hot decides which way to err, and the regime says
 * it: while the hot set stays put, a page hot now stays hot for much
 * longer than a cooling period and promote_min is enough; while it
 * moves, pages must pay first.  At the default period (10007) one sample
 * pays for a 4 KiB page, so this matters where a sample is one cache
 * miss, as on make eval's LLC-filtered traces (67 samples; geomean
 * slowdown 1.528 / 1.399 / 1.286 -> 1.517 / 1.381 / 1.253 at 12.5 /
 * 25 / 50%, hit/oracle -0.010 / -0.008 / -0.010, the README has the
 * traces; applied in both regimes, slowdown 1.508 / 1.380 / 1.231 but
 * hit/oracle -0.021 / -0.038 / -0.022).
 */
uint32_t
policy_pay_samples(const struct agent_config *cfg, uint64_t npages)
{
	uint64_t a = cfg->break_even * npages, p = MAX(cfg->sample_period, 1);

	return (uint32_t)MIN((a + p - 1) / p, (uint64_t)HEAT_COUNT_MAX);
}

void
policy_params_for_round(struct policy_params *pp,
    const struct agent_config *cfg, uint64_t budget, uint64_t headroom,
    uint64_t fast_used, uint64_t fast_mask, uint64_t slow_mask, uint16_t tick,
    uint64_t tokens)
{
	memset(pp, 0, sizeof(*pp));
	pp->budget = policy_demote_mark(budget, headroom);
	pp->headroom = headroom - headroom / 2;
	pp->fast_used = fast_used;
	pp->fast_mask = fast_mask;
	pp->slow_mask = slow_mask;
	pp->hysteresis = cfg->hysteresis;
	pp->min_count = cfg->promote_min;
	pp->pay_min = policy_pay_samples(cfg, 1);
	pp->pay_min_thp = policy_pay_samples(cfg, HEAT_THP_PAGES);
	pp->swap_gap = policy_pay_samples(cfg, 2);
	pp->now_tick = tick;
	pp->min_residence = ms_to_ticks(cfg->min_residence_ms,
	    cfg->interval_ms);
	/*
	 * To the policy max_bytes 0 means "no limit"; an empty bucket must
	 * plan no migration at all, and 1 byte fits no page.
	 */
	pp->max_bytes = tokens == UINT64_MAX ? 0 : MAX(tokens, 1);
}

void
policy_heat_clock(struct heat *h, const struct agent_config *cfg,
    uint64_t budget, bool steady)
{
	uint64_t x = steady ? POLICY_STEADY_X : 1;

	if (cfg->cooling_ms != 0) {
		heat_set_cooling_samples(h, 0);
		heat_set_cooling(h, cfg->cooling_ms * 1000000ULL * x);
		return;
	}
	heat_set_cooling_samples(h, POLICY_COOLING_SAMPLES * x *
	    MAX(budget / PAGE_BYTES, 1));
}

int
policy_heat_create(struct heat **hp, const struct agent_config *cfg,
    uint64_t budget)
{
	/* heat_create wants a period even when the sample clock runs it */
	uint64_t ms = cfg->cooling_ms ? cfg->cooling_ms : 2000;
	int rc;

	if ((rc = heat_create(hp, cfg->heat_capacity, ms * 1000000ULL)) == 0)
		policy_heat_clock(*hp, cfg, budget, false);
	return rc;
}

/* The least time between rounds over a table of nslots slots. */
static uint64_t
slot_spacing(size_t nslots, bool quick)
{
	return (uint64_t)nslots * (quick ? POLICY_ROUND_NS_PER_SLOT :
	    POLICY_ROUND_NS_PER_SLOT_SETTLED);
}

/* Early rounds only while that spacing is below half the interval iv. */
static bool
early_spacing(uint64_t spacing, uint64_t iv)
{
	return spacing < iv / 2;
}

bool
policy_round_due(const struct agent_config *cfg, uint64_t last_ns,
    uint64_t now_ns, size_t nslots, bool quick, uint64_t early_cost_ns)
{
	uint64_t iv = cfg->interval_ms * 1000000ULL;
	uint64_t floor = early_cost_ns ? iv / POLICY_EARLY_DIV : iv - iv / 2;
	uint64_t slots = slot_spacing(nslots, quick);

	if (last_ns == 0)
		return true;
	if (early_cost_ns == 0) {
		/* the timer's rounds allow half an interval of jitter */
		if (slots > iv)
			slots -= iv / 2;
	} else if (early_spacing(slots, iv) &&
	    early_cost_ns < UINT64_MAX / POLICY_EARLY_COST_X) {
		floor = MAX(floor, early_cost_ns * POLICY_EARLY_COST_X);
	} else {
		/* the per-slot spacing sets the pace: the timer keeps it */
		return false;
	}
	return now_ns - last_ns >= MAX(floor, slots);
}

bool
policy_early_possible(const struct agent_config *cfg, size_t nslots,
    bool quick, uint32_t promote_bar)
{
	return promote_bar <= HEAT_COUNT_MAX &&
	    early_spacing(slot_spacing(nslots, quick),
	    cfg->interval_ms * 1000000ULL);
}

bool
policy_pace_quick(const struct plan *p)
{
	return p->moving || p->over_budget;
}

uint64_t
policy_demote_mark(uint64_t budget, uint64_t headroom)
{
	return budget - MIN(budget, headroom / 2);
}

int64_t
policy_room(uint64_t budget, uint64_t headroom, uint64_t fast_used)
{
	uint64_t target = budget > headroom ? budget - headroom : 0;

	return (int64_t)MIN(target, (uint64_t)INT64_MAX) -
	    (int64_t)MIN(fast_used, (uint64_t)INT64_MAX);
}
