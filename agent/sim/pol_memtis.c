/*
 * pol_memtis.c - a Memtis-like baseline (Lee et al., "MEMTIS: Efficient
 * Memory Tiering with Dynamic Page Classification and Page Size
 * Determination", SOSP'23), after the artifact, cosmoss-jigu/memtis
 * (linux/mm/htmm_core.c, htmm_migrater.c) and its default knobs:
 *
 *   htmm_adaptation_period       100000 samples between threshold fits
 *   htmm_cooling_period         2000000 samples between coolings
 *   htmm_thres_hot                    1 lowest hot bin
 *   htmm_promotion_period_in_ms     500
 *   htmm_demotion_period_in_ms      500
 *   promotion watermark 3% and demotion watermark 2% of the fast tier
 *   (get_memcg_promotion/demotion_watermark; their 50-100 MB floors are
 *   for servers and are left out at these sizes)
 *
 * Per page: an access count; its hotness bin is get_idx(count) =
 * floor(log2(count + 1)), at most 15, and a 16-bin histogram of pages per
 * bin is kept.  Threshold fit (__adjust_active_threshold): walk the bins
 * from the hottest while the pages fit the fast tier minus the promotion
 * watermark; the hot threshold is the lowest bin that fits whole (at
 * least 1).  It only rises between coolings; right after a cooling it
 * may drop by one.  The warm threshold is one bin lower when the hot set
 * fills less than 75% of that capacity.  Cooling halves every count.
 *
 * Every 500 ms (kmigraterd): if fast usage plus the hot slow pages plus
 * the promotion watermark exceed the fast tier (or, with nothing to
 * promote, usage plus the demotion watermark does), demote the excess:
 * fast pages below the warm threshold, least recently sampled first
 * (the inactive LRU); if that frees less than the hot slow pages need,
 * the warm threshold rises to the hot one.  Then promote hot slow pages,
 * hottest first, into the room below the promotion watermark.  Huge-page
 * splitting is off (the sim sees 4 KiB pages only).
 */
#include <errno.h>
#include <stdlib.h>

#include "sim.h"

#define ADAPTATION_PERIOD	100000
#define COOLING_PERIOD		2000000
#define THRES_HOT		1
#define PERIOD_NS		500000000ULL
#define NBINS			16

struct mpage {
	uint32_t count;
	uint64_t last;		/* time of the last sample (LRU order) */
};

struct memtis {
	struct mpage *pg;
	uint64_t hist[NBINS];
	uint64_t nr_sampled;
	unsigned active, warm;	/* hot and warm thresholds (bins) */
	bool cooled;
	uint32_t *cand;		/* scratch: page ids */
};

static unsigned
get_idx(uint32_t count)
{
	uint64_t n = (uint64_t)count + 1;
	unsigned idx = 0;

	while (n >>= 1)
		idx++;
	return idx > NBINS - 1 ? NBINS - 1 : idx;
}

static int
mt_init(struct sim_run *run, void **state, uint64_t *tick_ns)
{
	struct memtis *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return -ENOMEM;
	m->pg = calloc(run->tr->npages, sizeof(*m->pg));
	m->cand = calloc(run->tr->npages, sizeof(*m->cand));
	if (m->pg == NULL || m->cand == NULL) {
		free(m->pg);
		free(m->cand);
		free(m);
		return -ENOMEM;
	}
	m->active = m->warm = THRES_HOT;
	*state = m;
	*tick_ns = PERIOD_NS;
	return 0;
}

static void
mt_fini(void *state)
{
	struct memtis *m = state;

	free(m->pg);
	free(m->cand);
	free(m);
}

static void
mt_touch(void *state, struct sim_run *run, uint32_t page)
{
	struct memtis *m = state;

	(void)run;
	m->hist[0]++;		/* count 0 until its first sample is counted */
	(void)page;
}

static uint64_t
promo_wmark(const struct sim_run *run)
{
	return run->cap_pages * 3 / 100;
}

static uint64_t
demo_wmark(const struct sim_run *run)
{
	return run->cap_pages * 2 / 100;
}

static void
adjust_threshold(struct memtis *m, const struct sim_run *run)
{
	uint64_t max = run->cap_pages - promo_wmark(run), active = 0;
	int idx;
	bool need_warm;

	for (idx = NBINS - 1; idx >= 0; idx--) {
		if (active + m->hist[idx] > max)
			break;
		active += m->hist[idx];
	}
	if (idx != NBINS - 1)
		idx++;
	if (idx < THRES_HOT)
		idx = THRES_HOT;
	need_warm = active < max * 75 / 100;
	if (m->cooled) {
		if ((unsigned)idx < m->active && m->active > 1)
			m->active--;
		m->cooled = false;
	} else if ((unsigned)idx > m->active) {
		m->active = (unsigned)idx;
	}
	m->warm = need_warm ? m->active - 1 : m->active;
}

static void
cooling(struct memtis *m, const struct sim_run *run)
{
	for (unsigned b = 0; b < NBINS; b++)
		m->hist[b] = 0;
	for (uint32_t p = 0; p < run->tr->npages; p++) {
		m->pg[p].count >>= 1;
		m->hist[get_idx(m->pg[p].count)]++;
	}
	m->cooled = true;
}

static void
mt_access(void *state, struct sim_run *run, const struct sim_rec *r)
{
	struct memtis *m = state;
	struct mpage *x = &m->pg[r->page];
	unsigned before = get_idx(x->count);

	if (x->count < UINT32_MAX)
		x->count++;
	x->last = r->time_ns;
	m->hist[before]--;
	m->hist[get_idx(x->count)]++;
	m->nr_sampled++;
	if (m->nr_sampled % COOLING_PERIOD == 0)
		cooling(m, run);
	else if (m->nr_sampled % ADAPTATION_PERIOD == 0)
		adjust_threshold(m, run);
}

static struct memtis *sort_ctx;

/* Least recently sampled first. */
static int
cmp_lru(const void *a, const void *b)
{
	uint64_t x = sort_ctx->pg[*(const uint32_t *)a].last;
	uint64_t y = sort_ctx->pg[*(const uint32_t *)b].last;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* Hottest first, then most recently sampled. */
static int
cmp_hot(const void *a, const void *b)
{
	const struct mpage *x = &sort_ctx->pg[*(const uint32_t *)a];
	const struct mpage *y = &sort_ctx->pg[*(const uint32_t *)b];

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->last > y->last ? -1 : x->last < y->last ? 1 : 0;
}

static int
mt_tick(void *state, struct sim_run *run, uint64_t now)
{
	struct memtis *m = state;
	uint64_t need = 0, exceeded = 0, freed = 0, room;
	size_t n = 0;

	(void)now;
	/* hot pages on the slow tier: the lower tier's active list */
	for (uint32_t p = 0; p < run->tr->npages; p++)
		if (!sim_is_fast(run, p) &&
		    get_idx(m->pg[p].count) >= m->active)
			need++;

	/* demotion (need_toptier_demotion, demote_node) */
	if (need) {
		if (run->fast_pages + need + promo_wmark(run) > run->cap_pages)
			exceeded = run->fast_pages + need + promo_wmark(run) -
			    run->cap_pages;
	} else if (run->fast_pages + demo_wmark(run) > run->cap_pages) {
		exceeded = run->fast_pages + promo_wmark(run) - run->cap_pages;
	}
	if (exceeded) {
		for (uint32_t p = 0; p < run->tr->npages; p++)
			if (sim_is_fast(run, p) &&
			    get_idx(m->pg[p].count) < m->warm)
				m->cand[n++] = p;
		sort_ctx = m;
		qsort(m->cand, n, sizeof(*m->cand), cmp_lru);
		for (size_t i = 0; i < n && freed < exceeded; i++, freed++)
			sim_migrate(run, m->cand[i], false);
		if (need && freed < (need < exceeded ? need : exceeded))
			m->warm = m->active;
	}

	/* promotion (promotion_available, promote_node) */
	if (need == 0 || run->fast_pages + promo_wmark(run) >= run->cap_pages)
		return 0;
	room = run->cap_pages - promo_wmark(run) - run->fast_pages;
	n = 0;
	for (uint32_t p = 0; p < run->tr->npages; p++)
		if (!sim_is_fast(run, p) &&
		    get_idx(m->pg[p].count) >= m->active)
			m->cand[n++] = p;
	sort_ctx = m;
	if (n > room)
		qsort(m->cand, n, sizeof(*m->cand), cmp_hot);
	for (size_t i = 0; i < n && i < room; i++)
		sim_migrate(run, m->cand[i], true);
	return 0;
}

const struct sim_policy sim_policy_memtis = {
	.name = "memtis",
	.init = mt_init,
	.touch = mt_touch,
	.access = mt_access,
	.tick = mt_tick,
	.fini = mt_fini,
};
