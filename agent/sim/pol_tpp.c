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
 */
#include <errno.h>
#include <stdlib.h>

#include "migrate.h"
#include "sim.h"

#define HOT_THRESHOLD_NS	1000000000ULL
#define PROMOTE_RATE_BYTES	(65536ULL << 20)
#define DEMOTE_SCALE		200	/* in 1/10000 of the fast tier */

#define NIL	UINT32_MAX

struct tpp {
	uint64_t *last;		/* per page: time of the previous sample + 1 (0: none) */
	uint32_t *prev, *next;	/* LRU of fast pages, head = least recent */
	uint32_t head, tail;
	struct tbucket tb;
	uint64_t wmark;		/* pages kept free on the fast tier */
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

static void
tpp_fini(void *state)
{
	struct tpp *t = state;

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

static void
tpp_access(void *state, struct sim_run *run, const struct sim_rec *r)
{
	struct tpp *t = state;
	uint64_t last = t->last[r->page];
	uint32_t p = r->page;

	t->last[p] = r->time_ns + 1;
	if (sim_is_fast(run, p)) {
		lru_del(t, p);
		lru_add(t, p);
		return;
	}
	if (last == 0 || r->time_ns - (last - 1) > HOT_THRESHOLD_NS)
		return;
	tbucket_refill(&t->tb, r->time_ns);
	if (run->fast_pages >= run->cap_pages ||
	    tbucket_avail(&t->tb) < SIM_PAGE_SIZE)
		return;
	tbucket_take(&t->tb, SIM_PAGE_SIZE);
	sim_migrate(run, p, true);
	lru_add(t, p);
	reclaim(t, run);
}

const struct sim_policy sim_policy_tpp = {
	.name = "tpp",
	.init = tpp_init,
	.touch = tpp_touch,
	.access = tpp_access,
	.tick = NULL,
	.fini = tpp_fini,
};
