/*
 * pol_hemem.c - a HeMem-like baseline (Raybuck et al., "HeMem: Scalable
 * Tiered Memory Management for Big Data Applications and Real NVM",
 * SOSP'21), after the authors' code, cuhk-mass/hemem src/pebs.h and
 * src/pebs.c:
 *
 *   HOT_READ_THRESHOLD      4   loads sampled before a page is hot
 *   HOT_WRITE_THRESHOLD     4   stores sampled before a page is hot
 *   PEBS_COOLING_THRESHOLD  10  when one page's count passes it, every
 *                               count halves (a global clock, applied
 *                               lazily per page)
 *   PEBS_KSWAPD_INTERVAL    10 ms between migration rounds
 *   PEBS_KSWAPD_MIGRATE_RATE 10 GiB per round (no limit in practice)
 *
 * (Later forks such as Colloid's raise the thresholds to 8 reads and a
 * cooling threshold of 18; this module keeps the original's.)
 *
 * Pages live on four FIFO lists, hot and cold for each tier; a new page
 * joins its tier's cold list.  A sample updates the page's counts and
 * moves it between its tier's lists.  Each round: after a cooling, pages
 * on the hot lists that cooled below both thresholds go to the cold lists
 * (HeMem's partial_cool_peek_and_move, here whole at once); then hot slow
 * pages are promoted oldest-hot first into free fast frames, and when
 * there are none, the oldest cold fast page is demoted to make one; with
 * no cold fast page left the round ends.  HeMem keeps no free headroom.
 * Samples of unknown type count as reads.
 */
#include <errno.h>
#include <stdlib.h>

#include "sim.h"

#define HOT_READ_THRESHOLD	4
#define HOT_WRITE_THRESHOLD	4
#define COOLING_THRESHOLD	10
#define KSWAPD_INTERVAL_NS	10000000ULL
#define MIGRATE_BYTES		(10ULL << 30)

#define NIL		UINT32_MAX
enum { DRAM_HOT, DRAM_COLD, NVM_HOT, NVM_COLD, NLISTS };

struct hpage {
	uint32_t prev, next;
	uint32_t clock;		/* global clock the counts refer to */
	uint16_t reads, writes;
	uint8_t list;		/* which list, NLISTS = none */
	uint8_t hot;
};

struct list {
	uint32_t head, tail;
	size_t n;
};

struct hemem {
	struct hpage *pg;
	struct list l[NLISTS];
	uint32_t clock;
	bool need_cool;
};

static void
list_del(struct hemem *h, uint32_t p)
{
	struct hpage *x = &h->pg[p];
	struct list *l = &h->l[x->list];

	if (x->prev != NIL)
		h->pg[x->prev].next = x->next;
	else
		l->head = x->next;
	if (x->next != NIL)
		h->pg[x->next].prev = x->prev;
	else
		l->tail = x->prev;
	l->n--;
	x->list = NLISTS;
}

static void
list_add_tail(struct hemem *h, int which, uint32_t p)
{
	struct hpage *x = &h->pg[p];
	struct list *l = &h->l[which];

	x->list = (uint8_t)which;
	x->next = NIL;
	x->prev = l->tail;
	if (l->tail != NIL)
		h->pg[l->tail].next = p;
	else
		l->head = p;
	l->tail = p;
	l->n++;
}

static uint32_t
list_pop(struct hemem *h, int which)
{
	uint32_t p = h->l[which].head;

	if (p != NIL)
		list_del(h, p);
	return p;
}

/* Counts brought up to the global clock. */
static void
cool_counts(struct hemem *h, struct hpage *x)
{
	uint32_t age = h->clock - x->clock;

	x->reads = age >= 16 ? 0 : (uint16_t)(x->reads >> age);
	x->writes = age >= 16 ? 0 : (uint16_t)(x->writes >> age);
	x->clock = h->clock;
}

static bool
is_hot(const struct hpage *x)
{
	return x->reads >= HOT_READ_THRESHOLD || x->writes >= HOT_WRITE_THRESHOLD;
}

static int
list_for(bool fast, bool hot)
{
	return fast ? (hot ? DRAM_HOT : DRAM_COLD) : (hot ? NVM_HOT : NVM_COLD);
}

static int
hm_init(struct sim_run *run, void **state, uint64_t *tick_ns)
{
	struct hemem *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -ENOMEM;
	if ((h->pg = calloc(run->tr->npages, sizeof(*h->pg))) == NULL) {
		free(h);
		return -ENOMEM;
	}
	for (int i = 0; i < NLISTS; i++)
		h->l[i].head = h->l[i].tail = NIL;
	for (uint32_t p = 0; p < run->tr->npages; p++)
		h->pg[p].list = NLISTS;
	*state = h;
	*tick_ns = KSWAPD_INTERVAL_NS;
	return 0;
}

static void
hm_fini(void *state)
{
	struct hemem *h = state;

	free(h->pg);
	free(h);
}

static void
hm_touch(void *state, struct sim_run *run, uint32_t page)
{
	struct hemem *h = state;

	h->pg[page].clock = h->clock;
	list_add_tail(h, list_for(sim_is_fast(run, page), false), page);
}

static void
hm_access(void *state, struct sim_run *run, const struct sim_rec *r)
{
	struct hemem *h = state;
	struct hpage *x = &h->pg[r->page];
	bool hot;

	cool_counts(h, x);
	if (r->op == SAMPLE_OP_STORE) {
		if (x->writes < UINT16_MAX)
			x->writes++;
	} else if (x->reads < UINT16_MAX) {
		x->reads++;
	}
	hot = is_hot(x);
	if (hot != x->hot) {
		x->hot = hot;
		list_del(h, r->page);
		list_add_tail(h, list_for(sim_is_fast(run, r->page), hot), r->page);
	}
	if (x->reads > COOLING_THRESHOLD || x->writes > COOLING_THRESHOLD) {
		h->clock++;
		h->need_cool = true;
	}
}

/* Move pages of a hot list that cooled to the matching cold list. */
static void
cool_list(struct hemem *h, int hot_list, int cold_list)
{
	uint32_t p = h->l[hot_list].head;

	while (p != NIL) {
		uint32_t next = h->pg[p].next;

		cool_counts(h, &h->pg[p]);
		if (!is_hot(&h->pg[p])) {
			h->pg[p].hot = 0;
			list_del(h, p);
			list_add_tail(h, cold_list, p);
		}
		p = next;
	}
}

static int
hm_tick(void *state, struct sim_run *run, uint64_t now)
{
	struct hemem *h = state;
	uint64_t moved = 0;

	(void)now;
	if (h->need_cool) {
		cool_list(h, DRAM_HOT, DRAM_COLD);
		cool_list(h, NVM_HOT, NVM_COLD);
		h->need_cool = false;
	}
	while (moved < MIGRATE_BYTES) {
		uint32_t p = list_pop(h, NVM_HOT), cp;

		if (p == NIL)
			break;
		if (run->fast_pages >= run->cap_pages) {
			/* no free DRAM frame: demote the oldest cold DRAM page */
			if ((cp = list_pop(h, DRAM_COLD)) == NIL) {
				list_add_tail(h, NVM_HOT, p);
				break;
			}
			sim_migrate(run, cp, false);
			list_add_tail(h, NVM_COLD, cp);
			moved += SIM_PAGE_SIZE;
		}
		sim_migrate(run, p, true);
		list_add_tail(h, DRAM_HOT, p);
		moved += SIM_PAGE_SIZE;
	}
	return 0;
}

const struct sim_policy sim_policy_hemem = {
	.name = "hemem",
	.init = hm_init,
	.touch = hm_touch,
	.access = hm_access,
	.tick = hm_tick,
	.fini = hm_fini,
};
