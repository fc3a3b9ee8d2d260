/*
 * pol_tpp.c - a TPP / NUMA-balancing-tiering-like baseline (Maruf et
 * al., "TPP: Transparent Page Placement for CXL-Enabled Tiered-Memory",
 * ASPLOS'23; Linux memory tiering mode, kernel.numa_balancing = 2):
 *
 *   promotion: a slow page is promoted when it is accessed a second time
 *     within the hot threshold of its previous access: TPP promotes pages
 *     found on the active LRU (referenced twice); upstream treats a page
 *     whose NUMA hint fault comes within sysctl_numa_balancing_hot_threshold
 *     (default MSEC_PER_SEC = 1000 ms, kernel/sched/fair.c) as hot.  Here
 *     a sample stands for the hint fault.
 *   promotion rate limit: numa_balancing_promote_rate_limit_MBps, default
 *     65536 MB/s, as a token bucket.
 *   demotion: reclaim keeps free fast memory at the demotion watermark,
 *     demote_scale_factor = 2% of the node (TPP's default), demoting the
 *     least recently used pages first (here: least recently sampled);
 *     a promotion needs a free fast frame and fails without one.
 *
 * Reclaim is modelled as running at once (kswapd woken when free memory
 * drops below the watermark); allocation itself never waits for it, so a
 * first touch may fill the fast tier to the budget before reclaim makes
 * the 2% room again.
 *
 * "tpp" takes every sample for a hint fault: a slow page may be promoted
 * at any of its samples, whatever the accesses one stands for.  The
 * kernel gives a page at most one hint fault per pass of its NUMA
 * scanner, and "tpp-scan" models that, promotion and demotion as above:
 *
 *   scanner (task_numa_work, kernel/sched/fair.c; change_prot_numa,
 *     mm/mprotect.c change_pte_range): every SCAN_PERIOD_NS each process
 *     marks the next numa_balancing_scan_size_mb = 256 MB of its pages
 *     PROT_NONE, in address order, wrapping, recording the time; in
 *     tiering mode pages on the fast tier are skipped, as are pages still
 *     marked from a pass before (their time is kept), and neither counts,
 *     up to 8 times the size in address space (virtpages).  The period
 *     is numa_balancing_scan_period_min_ms, 1000 ms, throughout: the
 *     kernel starts there and backs off towards 60 s, so this is the most
 *     hint faults it would give.
 *   hint fault: the first access to a marked page unmarks it; a page on
 *     the slow tier is promoted if that came within the hot threshold of
 *     the scan (should_numa_migrate_memory, numa_hint_fault_latency).  A
 *     sample stands for --cost accesses: the first access after the scan
 *     came about (time of the sample - scan) / accesses after the scan.
 *
 * Neither model charges the scan or the faults in the cost model, and
 * the sample that promotes a page counts as a miss, as it does for
 * every policy.
 */
#include <errno.h>
#include <stdlib.h>

#include "vtier/util.h"
#include "heat.h"
#include "migrate.h"
#include "sim.h"

#define HOT_THRESHOLD_NS	1000000000ULL
#define PROMOTE_RATE_BYTES	(65536ULL << 20)
#define DEMOTE_SCALE		200	/* in 1/10000 of the fast tier */
#define SCAN_PERIOD_NS		1000000000ULL
#define SCAN_PAGES		((256u << 20) / SIM_PAGE_SIZE)
#define SCAN_VIRT		8	/* address space a pass may cover, x */

#define NIL	UINT32_MAX

struct tpp {
	/* per page, time + 1 (0: none): of the previous sample, or for
	 * tpp-scan of the scan that marked it */
	uint64_t *last;
	uint32_t *prev, *next;	/* LRU of fast pages, head = least recent */
	uint32_t head, tail;
	struct tbucket tb;
	uint64_t wmark;		/* pages kept free on the fast tier */
	/* tpp-scan: pages by (pid, address), one run per process */
	uint32_t *order;
	struct scanner *sc;
	size_t nsc;
	uint64_t accesses;	/* per sample, at least 1 */
};

struct scanner {
	size_t start, len;	/* its pages: order[start .. start + len) */
	size_t cur;		/* next to look at, from start */
};

static void
lru_del(struct tpp *t, uint32_t p)
{
	if (t->prev[p] != NIL)
		t->next[t->prev[p]] = t->next[p];
	else
		t->head = t->next[p];
	if (t->next[p] != NIL)
		t->prev[t->next[p]] = t->prev[p];
	else
		t->tail = t->prev[p];
	t->prev[p] = t->next[p] = NIL;
}

static void
lru_add(struct tpp *t, uint32_t p)
{
	t->next[p] = NIL;
	t->prev[p] = t->tail;
	if (t->tail != NIL)
		t->next[t->tail] = p;
	else
		t->head = p;
	t->tail = p;
}

/* kswapd: demote least recently used pages until the watermark is free. */
static void
reclaim(struct tpp *t, struct sim_run *run)
{
	while (run->fast_pages + t->wmark > run->cap_pages && t->head != NIL) {
		uint32_t p = t->head;

		lru_del(t, p);
		sim_migrate(run, p, false);
	}
}

static int
cmp_key(const void *a, const void *b, void *keys)
{
	uint64_t x = ((const uint64_t *)keys)[*(const uint32_t *)a];
	uint64_t y = ((const uint64_t *)keys)[*(const uint32_t *)b];

	return x < y ? -1 : x > y;
}

/* tpp-scan's scanners: the pages in key order, a run per pid. */
static int
scan_init(struct tpp *t, const struct sim_run *run)
{
	const uint64_t *key = run->tr->key;
	uint32_t n = run->tr->npages;

	if ((t->order = calloc((size_t)n + 1, sizeof(*t->order))) == NULL ||
	    (t->sc = calloc((size_t)n + 1, sizeof(*t->sc))) == NULL)
		return -ENOMEM;
	for (uint32_t p = 0; p < n; p++)
		t->order[p] = p;
	qsort_r(t->order, n, sizeof(*t->order), cmp_key, (void *)key);
	for (uint32_t i = 0; i < n; i++) {
		if (i == 0 || heat_key_pid(key[t->order[i]]) !=
		    heat_key_pid(key[t->order[i - 1]]))
			t->sc[t->nsc++].start = i;
		t->sc[t->nsc - 1].len++;
	}
	t->accesses = run->par->cost.accesses ? run->par->cost.accesses : 1;
	return 0;
}

static void tpp_fini(void *state);

static int
tpp_init(struct sim_run *run, void **state, uint64_t *tick_ns)
{
	struct tpp *t;
	uint32_t n = run->tr->npages;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	t->last = calloc(n, sizeof(*t->last));
	t->prev = calloc((size_t)n + 1, sizeof(*t->prev));
	t->next = calloc((size_t)n + 1, sizeof(*t->next));
	if (t->last == NULL || t->prev == NULL || t->next == NULL) {
		free(t->last);
		free(t->prev);
		free(t->next);
		free(t);
		return -ENOMEM;
	}
	for (uint32_t p = 0; p < n; p++)
		t->prev[p] = t->next[p] = NIL;
	t->head = t->tail = NIL;
	t->wmark = run->cap_pages * DEMOTE_SCALE / 10000;
	/* the kernel's watermarks are never zero pages */
	if (t->wmark == 0 && run->cap_pages > 1)
		t->wmark = 1;
	tbucket_init(&t->tb, PROMOTE_RATE_BYTES, run->t0);
	*state = t;
	*tick_ns = 0;
	return 0;
}

static int
tpp_scan_init(struct sim_run *run, void **state, uint64_t *tick_ns)
{
	int rc;

	if ((rc = tpp_init(run, state, tick_ns)) < 0)
		return rc;
	if ((rc = scan_init(*state, run)) < 0) {
		tpp_fini(*state);
		return rc;
	}
	*tick_ns = SCAN_PERIOD_NS;
	return 0;
}

/* Each process's scanner marks its next 256 MB of unmarked slow pages. */
static int
tpp_scan_tick(void *state, struct sim_run *run, uint64_t now_ns)
{
	struct tpp *t = state;

	for (size_t i = 0; i < t->nsc; i++) {
		struct scanner *s = &t->sc[i];
		size_t look = MIN(s->len, (size_t)SCAN_PAGES * SCAN_VIRT);
		uint32_t marked = 0;

		for (size_t k = 0; k < look && marked < SCAN_PAGES; k++) {
			uint32_t p = t->order[s->start + s->cur];

			s->cur = s->cur + 1 == s->len ? 0 : s->cur + 1;
			if (sim_is_fast(run, p) || t->last[p] != 0)
				continue;
			t->last[p] = now_ns + 1;
			marked++;
		}
	}
	return 0;
}

static void
tpp_fini(void *state)
{
	struct tpp *t = state;

	free(t->order);
	free(t->sc);
	free(t->last);
	free(t->prev);
	free(t->next);
	free(t);
}

static void
tpp_touch(void *state, struct sim_run *run, uint32_t page)
{
	struct tpp *t = state;

	if (sim_is_fast(run, page)) {
		lru_add(t, page);
		reclaim(t, run);
	}
}

/* A sample of a fast page makes it the most recent; false for a slow one. */
static bool
fast_touch(struct tpp *t, const struct sim_run *run, uint32_t p)
{
	if (!sim_is_fast(run, p))
		return false;
	lru_del(t, p);
	lru_add(t, p);
	return true;
}

/* A hint fault found a slow page hot: promoted if the rate and a free
 * fast frame allow. */
static void
promote(struct tpp *t, struct sim_run *run, const struct sim_rec *r)
{
	uint32_t p = r->page;

	tbucket_refill(&t->tb, r->time_ns);
	if (run->fast_pages >= run->cap_pages ||
	    tbucket_avail(&t->tb) < SIM_PAGE_SIZE)
		return;
	tbucket_take(&t->tb, SIM_PAGE_SIZE);
	sim_migrate(run, p, true);
	lru_add(t, p);
	reclaim(t, run);
}

static void
tpp_access(void *state, struct sim_run *run, const struct sim_rec *r)
{
	struct tpp *t = state;
	uint64_t last = t->last[r->page];
	uint32_t p = r->page;

	t->last[p] = r->time_ns + 1;
	if (fast_touch(t, run, p))
		return;
	if (last == 0 || r->time_ns - (last - 1) > HOT_THRESHOLD_NS)
		return;
	promote(t, run, r);
}

/* tpp-scan: a hint fault only on a page the scanner marked. */
static void
tpp_scan_access(void *state, struct sim_run *run, const struct sim_rec *r)
{
	struct tpp *t = state;
	uint64_t marked = t->last[r->page];
	uint32_t p = r->page;

	if (fast_touch(t, run, p))
		return;
	if (marked == 0)
		return;
	t->last[p] = 0;
	if ((r->time_ns - (marked - 1)) / t->accesses > HOT_THRESHOLD_NS)
		return;
	promote(t, run, r);
}

const struct sim_policy sim_policy_tpp = {
	.name = "tpp",
	.init = tpp_init,
	.touch = tpp_touch,
	.access = tpp_access,
	.tick = NULL,
	.fini = tpp_fini,
};

const struct sim_policy sim_policy_tpp_scan = {
	.name = "tpp-scan",
	.init = tpp_scan_init,
	.touch = tpp_touch,
	.access = tpp_scan_access,
	.tick = tpp_scan_tick,
	.fini = tpp_fini,
};
