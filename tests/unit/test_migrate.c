/*
 * test_migrate.c - the migrator on its sim backend: token bucket
 * arithmetic, plan execution (order, targets, rate and room limits, call
 * bounds, THP), every status move_pages can report (injected), killed
 * processes, node queries and fast-tier usage.
 *
 * Topology used throughout: node 0 fast (CPUs), nodes 1 and 2 slow with
 * node 2 the freer, so demotions go to node 2 while new pages are
 * first-touched on node 1 (the lowest slow node): the two are told apart.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "../test.h"
#include "heat.h"
#include "migrate.h"
#include "policy.h"
#include "topo.h"
#include "vtier/log.h"
#include "vtier/util.h"

#define PG 4096ULL
#define SEC 1000000000ULL
#define BASE 0x10000000ULL	/* first test address */
#define NOW (100 * SEC)
#define TICK 7

static struct topo topo;
static struct migrator *m;
static struct heat *h;
static struct plan plan;
static struct plan_item dem[64], pro[64];
static struct migrate_round rnd;

static void
topo_make(struct topo *t)
{
	static const uint64_t free_gib[3] = { 1, 2, 3 };

	memset(t, 0, sizeof(*t));
	snprintf(t->root, sizeof(t->root), "(test)");
	for (int i = 0; i < 3; i++) {
		t->node[i].id = i;
		t->node[i].online = true;
		t->node[i].has_cpu = i == 0;
		t->node[i].total = 8 * GiB;
		t->node[i].free = free_gib[i] * GiB;
		t->node[i].used = t->node[i].total - t->node[i].free;
	}
	t->online_mask = 7;
	t->fast_mask = 1;
	t->slow_mask = 6;
}

/* Fresh migrator, heat table and empty plan; 0 or -errno. */
static int
setup(uint32_t ppc, uint64_t rate)
{
	int rc;

	topo_make(&topo);
	rc = migrate_open(&m, BACKEND_SIM, &topo, ppc, rate, NOW);
	if (rc < 0)
		return rc;
	rc = heat_create(&h, 4096, SEC);
	if (rc < 0)
		return rc;
	memset(&plan, 0, sizeof(plan));
	plan.demote = dem;
	plan.promote = pro;
	plan.cap = ARRAY_SIZE(dem);
	memset(&rnd, 0, sizeof(rnd));
	return 0;
}

static void
teardown(void)
{
	migrate_close(m);
	heat_destroy(h);
	m = NULL;
	h = NULL;
}

static uint64_t
addr_of(int i)
{
	return BASE + (uint64_t)i * PG;
}

/* A page the sim holds on node, tracked in heat with its node known. */
static struct heat_entry *
track(uint32_t pid, uint64_t addr, int node)
{
	struct heat_entry *e;

	if (migrate_sim_first_touch(m, node) < 0 ||
	    migrate_sim_node(m, pid, addr) != node ||
	    migrate_sim_first_touch(m, 1) < 0)
		return NULL;
	e = heat_record(h, pid, addr, false, NOW);
	if (e != NULL)
		e->node = (int8_t)node;
	return e;
}

static void
add_item(bool promote, uint32_t pid, uint64_t addr, bool thp)
{
	struct plan_item it = {
		.key = heat_key(pid, addr, thp),
		.heat = 1,
		.npages = thp ? HEAT_THP_PAGES : 1,
	};

	if (promote) {
		pro[plan.npromote++] = it;
		plan.promote_bytes += (uint64_t)it.npages * PG;
	} else {
		dem[plan.ndemote++] = it;
		plan.demote_bytes += (uint64_t)it.npages * PG;
	}
}

static int
node_of(uint32_t pid, uint64_t addr)
{
	struct heat_entry *e = heat_lookup(h, heat_key(pid, addr, false));

	return e ? e->node : -100;
}

static int
execute(int64_t room)
{
	return migrate_execute(m, h, &plan, &topo, room, TICK, NOW, &rnd);
}

/* ---- token bucket ---- */

static void
test_tbucket_refill_cap(void)
{
	struct tbucket tb;

	tbucket_init(&tb, 1000, 0);
	ASSERT_EQ_U(tbucket_avail(&tb), 1000);	/* starts with a full burst */
	tbucket_take(&tb, 600);
	ASSERT_EQ_U(tbucket_avail(&tb), 400);
	tbucket_take(&tb, 5000);		/* never below zero */
	ASSERT_EQ_U(tbucket_avail(&tb), 0);
	tbucket_refill(&tb, SEC / 2);
	ASSERT_EQ_U(tbucket_avail(&tb), 500);
	tbucket_refill(&tb, SEC / 4);		/* time going back: ignored */
	ASSERT_EQ_U(tbucket_avail(&tb), 500);
	tbucket_refill(&tb, SEC / 2 + SEC / 4);
	ASSERT_EQ_U(tbucket_avail(&tb), 750);
	tbucket_refill(&tb, 100 * SEC);		/* capped at one second's worth */
	ASSERT_EQ_U(tbucket_avail(&tb), 1000);
	ASSERT_EQ_U(tb.last_ns, 100 * SEC);
}

static void
test_tbucket_fractions(void)
{
	struct tbucket tb;

	/*
	 * 3 bytes a second refilled every millisecond: the fractions are
	 * kept, and rounding only ever errs late (by under 1 ns a refill),
	 * never giving more than the rate.
	 */
	tbucket_init(&tb, 3, 0);
	tbucket_take(&tb, 3);
	for (uint64_t t = 1; t <= 1000; t++) {
		tbucket_refill(&tb, t * 1000000);
		ASSERT_LE(tbucket_avail(&tb), t * 3 / 1000);
	}
	ASSERT_GE(tbucket_avail(&tb), 2);
	tbucket_refill(&tb, SEC + 1000);
	ASSERT_EQ_U(tbucket_avail(&tb), 3);

	/* Full, so the clock restarted at the last refill. */
	ASSERT_EQ_U(tb.last_ns, SEC + 1000);
	tbucket_take(&tb, 3);
	tbucket_refill(&tb, SEC + 1000 + SEC / 3);
	ASSERT_EQ_U(tbucket_avail(&tb), 0);
	tbucket_refill(&tb, SEC + 1000 + SEC / 3 + 1);
	ASSERT_EQ_U(tbucket_avail(&tb), 1);
	tbucket_refill(&tb, SEC + 1000 + 2 * SEC / 3 + 2);
	ASSERT_EQ_U(tbucket_avail(&tb), 2);

	/* Huge rates and gaps do not overflow. */
	tbucket_init(&tb, UINT64_MAX / 2, 0);
	tbucket_take(&tb, UINT64_MAX);
	tbucket_refill(&tb, SEC / 2);
	ASSERT_EQ_U(tbucket_avail(&tb), UINT64_MAX / 4);
	tbucket_refill(&tb, UINT64_MAX);
	ASSERT_EQ_U(tbucket_avail(&tb), UINT64_MAX / 2);
}

static void
test_tbucket_unlimited(void)
{
	struct tbucket tb;

	tbucket_init(&tb, 0, 5);
	ASSERT_EQ_U(tbucket_avail(&tb), UINT64_MAX);
	tbucket_take(&tb, 1ULL << 40);
	ASSERT_EQ_U(tbucket_avail(&tb), UINT64_MAX);
	tbucket_refill(&tb, 10 * SEC);
	ASSERT_EQ_U(tbucket_avail(&tb), UINT64_MAX);
}

static void
test_set_limits(void)
{
	ASSERT_EQ(setup(16, 10 * PG), 0);
	ASSERT_EQ_U(migrate_budget_bytes(m, NOW), 10 * PG);
	migrate_set_limits(m, 16, 4 * PG);	/* lower: tokens capped */
	ASSERT_EQ_U(migrate_budget_bytes(m, NOW), 4 * PG);
	migrate_set_limits(m, 16, 0);		/* unlimited */
	ASSERT_EQ_U(migrate_budget_bytes(m, NOW), UINT64_MAX);
	migrate_set_limits(m, 16, 8 * PG);	/* from unlimited: full burst */
	ASSERT_EQ_U(migrate_budget_bytes(m, NOW), 8 * PG);
	ASSERT_EQ(migrate_backend(m), BACKEND_SIM);
	teardown();
}

/* ---- execute ---- */

static void
test_execute_moves(void)
{
	uint64_t used;

	ASSERT_EQ(setup(16, 0), 0);
	/* pid 100: pages 0-1 on the fast node, 2-4 on slow node 1 */
	for (int i = 0; i < 5; i++)
		ASSERT_TRUE(track(100, addr_of(i), i < 2 ? 0 : 1) != NULL);
	ASSERT_EQ(migrate_fast_used(m, &used), 0);
	ASSERT_EQ_U(used, 2 * PG);

	add_item(false, 100, addr_of(1), false);
	add_item(false, 100, addr_of(0), false);
	add_item(true, 100, addr_of(4), false);
	add_item(true, 100, addr_of(2), false);
	add_item(true, 100, addr_of(3), false);
	ASSERT_EQ(execute(0), 0);

	/*
	 * Demoted to node 2 (most free slow), promoted to node 0.  Room 0:
	 * promotions only fill what the demotions freed (2 pages), so the
	 * first two in plan order (addr 4, then 2) move, addr 3 stays.
	 */
	static const int want[5] = { 2, 2, 0, 1, 0 };
	for (int i = 0; i < 5; i++) {
		struct heat_entry *e = heat_lookup(h, heat_key(100, addr_of(i), false));

		ASSERT_EQ(migrate_sim_node(m, 100, addr_of(i)), want[i]);
		ASSERT_TRUE(e != NULL);
		ASSERT_EQ(e->node, want[i]);
		ASSERT_EQ(e->moved, i == 3 ? HEAT_MOVED_NEVER : TICK);
	}
	ASSERT_EQ_U(rnd.demoted_bytes, 2 * PG);
	ASSERT_EQ_U(rnd.promoted_bytes, 2 * PG);
	ASSERT_EQ(rnd.failed, 1);
	ASSERT_TRUE(!rnd.out_of_tokens && !rnd.nomem);

	const struct migrate_stats *st = migrate_stats(m);
	ASSERT_EQ_U(st->demoted_pages, 2);
	ASSERT_EQ_U(st->promoted_pages, 2);
	ASSERT_EQ_U(st->promoted_bytes, 2 * PG);
	ASSERT_EQ_U(st->calls, 2);	/* one per phase: one pid, fits a call */
	ASSERT_EQ(migrate_fast_used(m, &used), 0);
	ASSERT_EQ_U(used, 2 * PG);
	teardown();
}

static void
test_rate_limit_demotions_first(void)
{
	ASSERT_EQ(setup(16, 3 * PG), 0);
	for (int i = 0; i < 4; i++)
		ASSERT_TRUE(track(1, addr_of(i), i < 2 ? 0 : 1) != NULL);
	add_item(false, 1, addr_of(0), false);
	add_item(false, 1, addr_of(1), false);
	add_item(true, 1, addr_of(2), false);
	add_item(true, 1, addr_of(3), false);
	ASSERT_EQ(execute(1 << 30), 0);
	ASSERT_EQ_U(rnd.demoted_bytes, 2 * PG);
	ASSERT_EQ_U(rnd.promoted_bytes, 1 * PG);
	ASSERT_TRUE(rnd.out_of_tokens);
	ASSERT_EQ(rnd.failed, 1);
	ASSERT_EQ(node_of(1, addr_of(2)), 0);
	ASSERT_EQ(node_of(1, addr_of(3)), 1);
	ASSERT_EQ_U(migrate_budget_bytes(m, NOW), 0);

	/* A third of a second later, one more page's worth has accrued. */
	plan.ndemote = 0;
	plan.promote[0] = plan.promote[1];
	plan.npromote = 1;
	ASSERT_EQ_U(migrate_budget_bytes(m, NOW + SEC / 3 + 1), 1 * PG);
	ASSERT_EQ(migrate_execute(m, h, &plan, &topo, 1 << 30, TICK + 1,
	    NOW + SEC / 3 + 1, &rnd), 0);
	ASSERT_EQ_U(rnd.promoted_bytes, PG);
	ASSERT_TRUE(!rnd.out_of_tokens);
	ASSERT_EQ(node_of(1, addr_of(3)), 0);
	teardown();
}

static void
test_room_limits_promotions(void)
{
	ASSERT_EQ(setup(16, 0), 0);
	for (int i = 0; i < 6; i++)
		ASSERT_TRUE(track(1, addr_of(i), i < 2 ? 0 : 1) != NULL);
	for (int i = 2; i < 6; i++)
		add_item(true, 1, addr_of(i), false);

	ASSERT_EQ(execute(PG), 0);		/* room for one page */
	ASSERT_EQ_U(rnd.promoted_bytes, PG);
	ASSERT_EQ(rnd.failed, 3);
	ASSERT_TRUE(!rnd.out_of_tokens);

	/* Over budget by one page, two demoted: one promotion fits. */
	plan.promote[0] = plan.promote[1];
	plan.promote[1] = plan.promote[2];
	plan.promote[2] = plan.promote[3];
	plan.npromote = 3;
	add_item(false, 1, addr_of(0), false);
	add_item(false, 1, addr_of(1), false);
	ASSERT_EQ(execute(-(int64_t)PG), 0);
	ASSERT_EQ_U(rnd.demoted_bytes, 2 * PG);
	ASSERT_EQ_U(rnd.promoted_bytes, PG);
	ASSERT_EQ(node_of(1, addr_of(3)), 0);
	ASSERT_EQ(node_of(1, addr_of(4)), 1);

	/* Far over budget: no promotion at all. */
	plan.ndemote = 0;
	ASSERT_EQ(execute(-(int64_t)GiB), 0);
	ASSERT_EQ_U(rnd.promoted_bytes, 0);
	ASSERT_EQ(rnd.failed, 3);
	teardown();
}

static void
test_status_busy_retried(void)
{
	const struct migrate_stats *st;

	ASSERT_EQ(setup(16, 0), 0);
	ASSERT_TRUE(track(1, addr_of(0), 1) != NULL);
	ASSERT_TRUE(track(1, addr_of(1), 1) != NULL);
	ASSERT_EQ(migrate_sim_inject(m, 1, addr_of(0), -EBUSY, 1), 0);
	add_item(true, 1, addr_of(0), false);
	add_item(true, 1, addr_of(1), false);
	ASSERT_EQ(execute(1 << 30), 0);
	st = migrate_stats(m);
	ASSERT_EQ_U(st->err_busy, 1);
	ASSERT_EQ(rnd.failed, 1);
	ASSERT_EQ_U(rnd.promoted_bytes, PG);
	ASSERT_EQ(node_of(1, addr_of(0)), 1);	/* kept, where it was */
	ASSERT_EQ(node_of(1, addr_of(1)), 0);

	ASSERT_EQ(execute(1 << 30), 0);		/* next round it moves */
	ASSERT_EQ(node_of(1, addr_of(0)), 0);
	ASSERT_EQ(rnd.failed, 0);
	ASSERT_EQ(migrate_sim_node(m, 1, addr_of(0)), 0);
	teardown();
}

/*
 * -ENOENT and -EFAULT only forget the entry's node (6.1 says them for a
 * page NUMA balancing mapped PROT_NONE) until one comes again.
 */
static void
test_status_noent_fault_twice(void)
{
	const struct migrate_stats *st;

	ASSERT_EQ(setup(16, 0), 0);
	for (int i = 0; i < 3; i++) {
		ASSERT_TRUE(track(1, addr_of(i), 0) != NULL);
		add_item(false, 1, addr_of(i), false);
	}
	ASSERT_EQ(migrate_sim_inject(m, 1, addr_of(0), -ENOENT, 2), 0);
	ASSERT_EQ(migrate_sim_inject(m, 1, addr_of(2), -EFAULT, 2), 0);
	ASSERT_EQ(execute(0), 0);
	st = migrate_stats(m);
	ASSERT_EQ_U(st->err_noent, 1);
	ASSERT_EQ_U(st->err_fault, 1);
	ASSERT_EQ(node_of(1, addr_of(0)), -1);	/* kept, node to be asked */
	ASSERT_EQ(node_of(1, addr_of(2)), -1);
	ASSERT_EQ(node_of(1, addr_of(1)), 2);
	ASSERT_EQ(rnd.failed, 2);
	ASSERT_EQ_U(rnd.demoted_bytes, PG);
	ASSERT_EQ_U(heat_size(h), 3);

	/* The same plan again: the second in a row drops them. */
	ASSERT_EQ(execute(0), 0);
	ASSERT_EQ_U(st->err_noent, 2);
	ASSERT_EQ_U(st->err_fault, 2);
	ASSERT_TRUE(heat_lookup(h, heat_key(1, addr_of(0), false)) == NULL);
	ASSERT_TRUE(heat_lookup(h, heat_key(1, addr_of(2), false)) == NULL);
	ASSERT_EQ_U(heat_size(h), 1);
	teardown();
}

static void
test_status_nomem_stops_promotions(void)
{
	const struct migrate_stats *st;

	ASSERT_EQ(setup(1, 0), 0);		/* one page per call: count calls */
	for (int i = 0; i < 4; i++) {
		ASSERT_TRUE(track(1, addr_of(i), 1) != NULL);
		add_item(true, 1, addr_of(i), false);
	}
	ASSERT_TRUE(track(1, addr_of(10), 0) != NULL);
	add_item(false, 1, addr_of(10), false);
	ASSERT_EQ(migrate_sim_inject(m, 1, addr_of(1), -ENOMEM, 1), 0);
	ASSERT_EQ(execute(1 << 30), 0);
	st = migrate_stats(m);
	ASSERT_TRUE(rnd.nomem);
	ASSERT_EQ_U(st->err_nomem, 1);
	ASSERT_EQ_U(st->calls, 3);		/* demote, promote 0, promote 1 */
	ASSERT_EQ_U(rnd.demoted_bytes, PG);
	ASSERT_EQ_U(rnd.promoted_bytes, PG);
	ASSERT_EQ(rnd.failed, 3);
	ASSERT_EQ(node_of(1, addr_of(0)), 0);
	for (int i = 1; i < 4; i++) {
		ASSERT_EQ(node_of(1, addr_of(i)), 1);	/* kept: full is not their fault */
		ASSERT_EQ(migrate_sim_node(m, 1, addr_of(i)), 1);
	}
	teardown();
}

static void
test_status_acces_pinned(void)
{
	const struct migrate_stats *st;
	struct heat_entry *e;

	ASSERT_EQ(setup(16, 0), 0);
	ASSERT_TRUE(track(1, addr_of(0), 1) != NULL);
	ASSERT_TRUE(track(1, addr_of(1), 1) != NULL);
	ASSERT_EQ(migrate_sim_inject(m, 1, addr_of(0), -EACCES, 1), 0);
	ASSERT_EQ(migrate_sim_inject(m, 1, addr_of(1), -EINVAL, 1), 0);
	add_item(true, 1, addr_of(0), false);
	add_item(true, 1, addr_of(1), false);
	ASSERT_EQ(execute(1 << 30), 0);
	st = migrate_stats(m);
	ASSERT_EQ_U(st->err_acces, 1);
	ASSERT_EQ_U(st->err_other, 1);
	e = heat_lookup(h, heat_key(1, addr_of(0), false));
	ASSERT_TRUE(e != NULL && (e->flags & HEAT_F_PINNED));
	e = heat_lookup(h, heat_key(1, addr_of(1), false));
	ASSERT_TRUE(e != NULL && (e->flags & HEAT_F_PINNED));
	ASSERT_EQ(rnd.failed, 2);

	/* Pinned items are not tried again, and cost no tokens or calls. */
	ASSERT_EQ(execute(1 << 30), 0);
	ASSERT_EQ_U(st->calls, 1);
	ASSERT_EQ(rnd.failed, 2);
	ASSERT_EQ(node_of(1, addr_of(0)), 1);
	teardown();
}

/*
 * -EAGAIN in the sim stands for the kernel giving up on a page it had
 * isolated: status left unset, return value > 0.  The migrator must ask
 * where the page is rather than trust anything.
 */
static void
test_unset_status_verified(void)
{
	const struct migrate_stats *st;

	ASSERT_EQ(setup(16, 0), 0);
	for (int i = 0; i < 3; i++) {
		ASSERT_TRUE(track(1, addr_of(i), 1) != NULL);
		add_item(true, 1, addr_of(i), false);
	}
	ASSERT_EQ(migrate_sim_inject(m, 1, addr_of(1), -EAGAIN, 1), 0);
	ASSERT_EQ(execute(1 << 30), 0);
	st = migrate_stats(m);
	ASSERT_EQ_U(st->calls, 2);		/* the move and one verifying query */
	ASSERT_EQ_U(st->queried, 3);
	ASSERT_EQ_U(st->err_busy, 1);
	ASSERT_EQ_U(rnd.promoted_bytes, 2 * PG);
	ASSERT_EQ(node_of(1, addr_of(0)), 0);
	ASSERT_EQ(node_of(1, addr_of(1)), 1);
	ASSERT_EQ(node_of(1, addr_of(2)), 0);
	teardown();
}

/*
 * A move that leaves a status unset and a verifying query that says
 * -EFAULT (6.1: a THP mapped PROT_NONE by NUMA balancing): the entry is
 * kept, its node forgotten, and migrate_query places it once the query
 * sees it again.
 */
static void
test_unset_fault_kept(void)
{
	const struct migrate_stats *st;

	ASSERT_EQ(setup(16, 0), 0);
	for (int i = 0; i < 2; i++) {
		ASSERT_TRUE(track(1, addr_of(i), 1) != NULL);
		add_item(true, 1, addr_of(i), false);
	}
	ASSERT_EQ(migrate_sim_inject(m, 1, addr_of(1), -EAGAIN, 1), 0);
	ASSERT_EQ(migrate_sim_inject_query(m, 1, addr_of(1), -EFAULT, 1), 0);
	ASSERT_EQ(execute(1 << 30), 0);
	st = migrate_stats(m);
	ASSERT_EQ_U(st->calls, 2);		/* the move and its query */
	ASSERT_EQ_U(st->err_fault, 1);
	ASSERT_EQ_U(rnd.promoted_bytes, PG);
	ASSERT_EQ(rnd.failed, 1);
	ASSERT_EQ(node_of(1, addr_of(0)), 0);
	ASSERT_EQ(node_of(1, addr_of(1)), -1);	/* kept, to be asked */

	ASSERT_EQ(migrate_query(m, h, 100), 1);
	ASSERT_EQ(node_of(1, addr_of(1)), 1);
	ASSERT_EQ_U(st->err_fault, 1);
	teardown();
}

/*
 * migrate_query: a first -EFAULT keeps the entry, unknown; a second in a
 * row drops it; a node learnt in between starts the count again.
 */
static void
test_query_fault_twice_dropped(void)
{
	const struct migrate_stats *st;
	struct heat_entry *e;

	ASSERT_EQ(setup(16, 0), 0);
	for (int i = 0; i < 3; i++)
		ASSERT_TRUE(heat_record(h, 1, addr_of(i), false, NOW) != NULL);
	ASSERT_EQ(migrate_sim_inject_query(m, 1, addr_of(1), -EFAULT, 1), 0);
	ASSERT_EQ(migrate_sim_inject_query(m, 1, addr_of(2), -EFAULT, 2), 0);
	ASSERT_EQ(migrate_query(m, h, 100), 1);
	st = migrate_stats(m);
	ASSERT_EQ_U(st->err_fault, 2);
	ASSERT_EQ_U(heat_size(h), 3);
	ASSERT_EQ(node_of(1, addr_of(0)), 1);
	ASSERT_EQ(node_of(1, addr_of(1)), -1);
	ASSERT_EQ(node_of(1, addr_of(2)), -1);

	ASSERT_EQ(migrate_query(m, h, 100), 1);	/* page 1 seen again */
	ASSERT_EQ_U(st->err_fault, 3);
	ASSERT_EQ(node_of(1, addr_of(1)), 1);
	ASSERT_TRUE(heat_lookup(h, heat_key(1, addr_of(2), false)) == NULL);
	ASSERT_EQ_U(heat_size(h), 2);

	/* Placed in between: one more -EFAULT is a first one again. */
	e = heat_lookup(h, heat_key(1, addr_of(1), false));
	ASSERT_TRUE(e != NULL);
	e->node = -1;
	ASSERT_EQ(migrate_sim_inject_query(m, 1, addr_of(1), -EFAULT, 1), 0);
	ASSERT_EQ(migrate_query(m, h, 100), 0);
	ASSERT_EQ(node_of(1, addr_of(1)), -1);
	ASSERT_EQ(migrate_query(m, h, 100), 1);
	ASSERT_EQ(node_of(1, addr_of(1)), 1);
	ASSERT_EQ_U(st->err_fault, 4);
	teardown();
}

static void
test_killed_pid_dropped(void)
{
	const struct migrate_stats *st;

	ASSERT_EQ(setup(2, 0), 0);
	for (int i = 0; i < 6; i++) {
		ASSERT_TRUE(track(10, addr_of(i), 1) != NULL);
		add_item(true, 10, addr_of(i), false);
	}
	ASSERT_TRUE(track(20, addr_of(0), 1) != NULL);
	ASSERT_TRUE(track(20, addr_of(1), 0) != NULL);
	add_item(true, 20, addr_of(0), false);
	add_item(false, 20, addr_of(1), false);
	ASSERT_EQ(migrate_sim_kill(m, 20), 0);
	ASSERT_EQ(migrate_sim_node(m, 20, addr_of(0)), -ESRCH);

	ASSERT_EQ(execute(1 << 30), 0);
	st = migrate_stats(m);
	/* Dead in the demotion phase: its promotion is not even tried. */
	ASSERT_EQ_U(st->err_srch, 1);
	ASSERT_EQ_U(st->calls, 1 + 3);
	ASSERT_TRUE(heat_lookup(h, heat_key(20, addr_of(0), false)) == NULL);
	ASSERT_TRUE(heat_lookup(h, heat_key(20, addr_of(1), false)) == NULL);
	for (int i = 0; i < 6; i++)
		ASSERT_EQ(node_of(10, addr_of(i)), 0);
	ASSERT_EQ(rnd.failed, 2);
	teardown();
}

static void
test_calls_bounded(void)
{
	const struct migrate_stats *st;

	ASSERT_EQ(setup(4, 0), 0);
	/* Interleaved pids in the plan: grouped per pid all the same. */
	for (int i = 0; i < 10; i++) {
		ASSERT_TRUE(track(1, addr_of(i), 1) != NULL);
		add_item(true, 1, addr_of(i), false);
		if (i < 3) {
			ASSERT_TRUE(track(2, addr_of(i), 1) != NULL);
			add_item(true, 2, addr_of(i), false);
		}
	}
	ASSERT_EQ(execute(1 << 30), 0);
	st = migrate_stats(m);
	ASSERT_EQ_U(st->calls, 3 + 1);		/* ceil(10 / 4) + ceil(3 / 4) */
	ASSERT_EQ_U(st->promoted_pages, 13);
	ASSERT_EQ(rnd.failed, 0);
	teardown();

	/* A THP counts 512 pages: it goes alone, the small pages after it. */
	ASSERT_EQ(setup(4, 0), 0);
	ASSERT_TRUE(heat_record(h, 3, 0, true, NOW) != NULL);
	add_item(true, 3, 0, true);
	for (int i = 0; i < 2; i++) {
		ASSERT_TRUE(track(3, addr_of(i), 1) != NULL);
		add_item(true, 3, addr_of(i), false);
	}
	ASSERT_EQ(execute(1 << 30), 0);
	ASSERT_EQ_U(migrate_stats(m)->calls, 2);
	ASSERT_EQ_U(migrate_stats(m)->promoted_pages, 512 + 2);
	teardown();
}

/* A set cancel flag: no more calls, in execute and in query alike. */
static void
test_cancel(void)
{
	atomic_bool cancel;

	atomic_init(&cancel, true);
	ASSERT_EQ(setup(4, 0), 0);
	for (int i = 0; i < 10; i++) {
		ASSERT_TRUE(track(1, addr_of(i), 1) != NULL);
		add_item(true, 1, addr_of(i), false);
	}
	ASSERT_TRUE(track(1, addr_of(20), 0) != NULL);
	add_item(false, 1, addr_of(20), false);
	ASSERT_TRUE(heat_record(h, 1, addr_of(30), false, NOW) != NULL);
	migrate_set_cancel(m, &cancel);
	ASSERT_EQ(execute(1 << 30), 0);
	ASSERT_TRUE(rnd.cancelled);
	ASSERT_EQ_U(migrate_stats(m)->calls, 0);
	ASSERT_EQ(migrate_query(m, h, 100), 0);
	ASSERT_EQ_U(migrate_stats(m)->calls, 0);
	/* cleared: the same plan runs whole */
	atomic_store(&cancel, false);
	ASSERT_EQ(execute(1 << 30), 0);
	ASSERT_TRUE(!rnd.cancelled);
	ASSERT_EQ_U(migrate_stats(m)->demoted_pages, 1);
	ASSERT_EQ_U(migrate_stats(m)->promoted_pages, 10);
	ASSERT_EQ(migrate_query(m, h, 100), 1);
	migrate_set_cancel(m, NULL);
	teardown();

	/* a deadline passed: no call of execute starts, the round is cut */
	ASSERT_EQ(setup(4, 0), 0);
	for (int i = 0; i < 10; i++) {
		ASSERT_TRUE(track(1, addr_of(i), 1) != NULL);
		add_item(true, 1, addr_of(i), false);
	}
	migrate_set_deadline(m, 1);
	ASSERT_EQ(execute(1 << 30), 0);
	ASSERT_TRUE(rnd.cut && !rnd.cancelled);
	ASSERT_EQ_U(migrate_stats(m)->calls, 0);
	migrate_set_deadline(m, now_ns() + 3600 * SEC);
	ASSERT_EQ(execute(1 << 30), 0);
	ASSERT_TRUE(!rnd.cut);
	ASSERT_EQ_U(migrate_stats(m)->promoted_pages, 10);
	teardown();
}

/*
 * Swap pairs (a plan made over budget): their demotions and promotions
 * go in turns of one call each, promotions only into what really left.
 */
static void
test_swap_pairs(void)
{
	/* 12 fast pages to demote, 8 of them the pairs'; 10 slow, 8 pairs */
	for (int run = 0; run < 2; run++) {
		ASSERT_EQ(setup(4, run == 0 ? 8 * PG : 0), 0);
		for (int i = 0; i < 12; i++) {
			ASSERT_TRUE(track(1, addr_of(i), 0) != NULL);
			add_item(false, 1, addr_of(i), false);
		}
		for (int i = 0; i < 10; i++) {
			ASSERT_TRUE(track(1, addr_of(100 + i), 1) != NULL);
			add_item(true, 1, addr_of(100 + i), false);
		}
		plan.nswap = 8;
		plan.swap_bytes = 8 * PG;
		if (run == 0) {
			/*
			 * Eight pages' worth of tokens: four out, four in (all
			 * demotions first would have brought none in).
			 */
			ASSERT_EQ(execute(-4 * (int64_t)PG), 0);
			ASSERT_TRUE(rnd.out_of_tokens);
			ASSERT_EQ_U(rnd.demoted_bytes, 4 * PG);
			ASSERT_EQ_U(rnd.promoted_bytes, 4 * PG);
			for (int i = 0; i < 5; i++) {
				ASSERT_EQ(node_of(1, addr_of(i)), i < 4 ? 2 : 0);
				ASSERT_EQ(node_of(1, addr_of(100 + i)), i < 4 ? 0 : 1);
			}
			ASSERT_EQ(rnd.failed, 8 + 6);
		} else {
			/*
			 * No limit; one busy demotion: 3 out, 3 in; 4 out, 4 in;
			 * the last pair waits (usage must not grow), then the
			 * other demotions, and no room for the rest.
			 */
			ASSERT_EQ(migrate_sim_inject(m, 1, addr_of(1), -EBUSY, 1), 0);
			ASSERT_EQ(execute(-4 * (int64_t)PG), 0);
			ASSERT_TRUE(!rnd.out_of_tokens && !rnd.cut);
			ASSERT_EQ_U(rnd.demoted_bytes, 11 * PG);
			ASSERT_EQ_U(rnd.promoted_bytes, 7 * PG);
			ASSERT_EQ(node_of(1, addr_of(1)), 0);
			ASSERT_EQ(node_of(1, addr_of(106)), 0);
			ASSERT_EQ(node_of(1, addr_of(107)), 1);
			ASSERT_EQ(rnd.failed, 1 + 3);
		}
		teardown();
	}
}

static void
test_thp_moves_512(void)
{
	uint64_t thp = 2 * 1024 * 1024 * 5ULL, used;
	struct heat_entry *e;

	ASSERT_EQ(setup(16, 1 * MiB), 0);
	e = heat_record(h, 5, thp + 12345, true, NOW);
	ASSERT_TRUE(e != NULL && heat_key_thp(e->key));
	add_item(true, 5, thp, true);

	/* 2 MiB does not fit a 1 MiB bucket: nothing moves. */
	ASSERT_EQ(execute(1 << 30), 0);
	ASSERT_TRUE(rnd.out_of_tokens);
	ASSERT_EQ_U(migrate_stats(m)->calls, 0);

	migrate_set_limits(m, 16, 0);
	ASSERT_EQ(execute(1 << 30), 0);
	ASSERT_EQ_U(rnd.promoted_bytes, 2 * MiB);
	ASSERT_EQ_U(migrate_stats(m)->promoted_pages, 512);
	for (int i = 0; i < 512; i++)
		ASSERT_EQ(migrate_sim_node(m, 5, thp + (uint64_t)i * PG), 0);
	ASSERT_EQ(migrate_sim_node(m, 5, thp + 512 * PG), 1);	/* next folio */
	e = heat_lookup(h, heat_key(5, thp, true));
	ASSERT_TRUE(e != NULL);
	ASSERT_EQ(e->node, 0);
	ASSERT_EQ(migrate_fast_used(m, &used), 0);
	ASSERT_EQ_U(used, 2 * MiB);
	teardown();
}

static void
test_dropped_items_skipped(void)
{
	ASSERT_EQ(setup(16, 2 * PG), 0);
	/* Planned, then dropped before execution: no call, no tokens. */
	add_item(true, 1, addr_of(0), false);
	ASSERT_TRUE(track(1, addr_of(1), 1) != NULL);
	ASSERT_TRUE(track(1, addr_of(2), 1) != NULL);
	add_item(true, 1, addr_of(1), false);
	add_item(true, 1, addr_of(2), false);
	ASSERT_EQ(execute(1 << 30), 0);
	ASSERT_EQ_U(rnd.promoted_bytes, 2 * PG);
	ASSERT_TRUE(!rnd.out_of_tokens);
	ASSERT_EQ(rnd.failed, 1);
	teardown();
}

static void
test_no_target_node(void)
{
	ASSERT_EQ(setup(16, 0), 0);
	ASSERT_TRUE(track(1, addr_of(0), 0) != NULL);
	add_item(false, 1, addr_of(0), false);
	topo.slow_mask = 0;		/* nothing to demote to */
	ASSERT_EQ(execute(0), 0);
	ASSERT_EQ(rnd.failed, 1);
	ASSERT_EQ_U(migrate_stats(m)->calls, 0);
	ASSERT_EQ(node_of(1, addr_of(0)), 0);
	teardown();
}

/* ---- query ---- */

static void
test_query_resolves(void)
{
	const struct migrate_stats *st;
	int n;

	ASSERT_EQ(setup(2, 0), 0);
	/* Five unknown pages of pid 1; three of pid 2 (to be killed). */
	for (int i = 0; i < 5; i++)
		ASSERT_TRUE(heat_record(h, 1, addr_of(i), false, NOW) != NULL);
	for (int i = 0; i < 3; i++)
		ASSERT_TRUE(heat_record(h, 2, addr_of(i), false, NOW) != NULL);
	ASSERT_EQ(migrate_sim_first_touch(m, 7), 0);	/* any node will do */

	ASSERT_EQ(migrate_sim_node(m, 1, addr_of(4)), 7);
	ASSERT_EQ(migrate_sim_kill(m, 2), 0);

	/* Bounded by max; the scan resumes where it stopped. */
	n = migrate_query(m, h, 3);
	ASSERT_GE(n, 0);
	ASSERT_LE(n, 3);
	n += migrate_query(m, h, 100);
	ASSERT_EQ(n, 5);
	st = migrate_stats(m);
	ASSERT_EQ_U(st->err_srch, 1);
	ASSERT_TRUE(heat_lookup(h, heat_key(2, addr_of(0), false)) == NULL);
	ASSERT_EQ_U(heat_size(h), 5);
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(node_of(1, addr_of(i)), 7);
	ASSERT_EQ_U(st->queried, 5);

	/* Nothing unknown left: no calls. */
	uint64_t calls = st->calls;
	ASSERT_EQ(migrate_query(m, h, 100), 0);
	ASSERT_EQ_U(st->calls, calls);
	teardown();
}

/* Batches of max across many bitmap words: every entry exactly once. */
static void
test_query_batches(void)
{
	int n, total = 0;

	ASSERT_EQ(setup(2, 0), 0);
	for (int i = 0; i < 200; i++)
		ASSERT_TRUE(heat_record(h, 1, addr_of(i), false, NOW) != NULL);
	for (int call = 0; call < 6; call++) {
		n = migrate_query(m, h, 30);
		ASSERT_EQ(n, 30);
		total += n;
	}
	ASSERT_EQ(migrate_query(m, h, 30), 20);	/* the rest, wrapping */
	ASSERT_EQ(migrate_query(m, h, 30), 0);
	ASSERT_EQ(total + 20, 200);
	ASSERT_EQ_U(migrate_stats(m)->queried, 200);
	for (int i = 0; i < 200; i++)
		ASSERT_GE(node_of(1, addr_of(i)), 0);
	teardown();
}

static void
test_query_chunks(void)
{
	ASSERT_EQ(setup(4, 0), 0);
	for (int i = 0; i < 9; i++)
		ASSERT_TRUE(heat_record(h, 1, addr_of(i), false, NOW) != NULL);
	ASSERT_EQ(migrate_query(m, h, 100), 9);
	ASSERT_EQ_U(migrate_stats(m)->calls, 3);	/* 4 + 4 + 1 */
	ASSERT_EQ(node_of(1, addr_of(8)), 1);		/* first touch: lowest slow */
	teardown();
}

static void
test_fast_used_and_controls(void)
{
	struct migrator *real;
	uint64_t used;

	ASSERT_EQ(setup(16, 0), 0);
	ASSERT_EQ(migrate_fast_used(m, &used), 0);
	ASSERT_EQ_U(used, 0);
	ASSERT_TRUE(track(1, addr_of(0), 0) != NULL);
	ASSERT_TRUE(track(2, addr_of(0), 0) != NULL);
	ASSERT_TRUE(track(2, addr_of(1), 2) != NULL);
	ASSERT_EQ(migrate_fast_used(m, &used), 0);
	ASSERT_EQ_U(used, 2 * PG);
	ASSERT_EQ(migrate_sim_kill(m, 2), 0);		/* its memory is freed */
	ASSERT_EQ(migrate_fast_used(m, &used), 0);
	ASSERT_EQ_U(used, PG);
	ASSERT_EQ(migrate_sim_kill(m, 2), 0);		/* twice is fine */

	ASSERT_EQ(migrate_sim_first_touch(m, TOPO_MAX_NODES), -EINVAL);
	ASSERT_EQ(migrate_sim_inject(m, 1, 0, 5, 1), -EINVAL);
	ASSERT_EQ(migrate_sim_inject(m, 1, 0, -EBUSY, 65536), -EINVAL);
	ASSERT_EQ(migrate_sim_inject_query(m, 1, 0, -EFAULT, 256), -EINVAL);
	ASSERT_EQ(migrate_sim_inject_query(m, 1, 0, -129, 1), -EINVAL);
	ASSERT_EQ(migrate_sim_inject_query(m, 0, 0, -EFAULT, 1), -EINVAL);
	ASSERT_EQ(migrate_sim_node(m, 0, 0), -EINVAL);
	ASSERT_EQ(migrate_sim_node(m, 1, HEAT_ADDR_LIMIT), -EFAULT);
	teardown();

	/* The real backend has none of this. */
	topo_make(&topo);
	ASSERT_EQ(migrate_open(&real, BACKEND_SIM, &topo, 0, 0, 0), -EINVAL);
	if (migrate_open(&real, BACKEND_MOVE_PAGES, &topo, 16, 0, 0) == 0) {
		ASSERT_EQ(migrate_backend(real), BACKEND_MOVE_PAGES);
		ASSERT_EQ(migrate_fast_used(real, &used), -ENOTSUP);
		ASSERT_EQ(migrate_sim_kill(real, 1), -ENOTSUP);
		ASSERT_EQ(migrate_sim_node(real, 1, 0), -ENOTSUP);
		ASSERT_EQ(migrate_sim_inject(real, 1, 0, -EBUSY, 1), -ENOTSUP);
		ASSERT_EQ(migrate_sim_inject_query(real, 1, 0, -EFAULT, 1),
		    -ENOTSUP);
		ASSERT_EQ(migrate_sim_first_touch(real, 0), -ENOTSUP);
		ASSERT_EQ(migrate_sim_call_time(real, 1000), -ENOTSUP);
		migrate_close(real);
	}
}

/* Many pages: the sim's table grows and keeps every placement. */
static void
test_sim_grows(void)
{
	uint64_t used;

	ASSERT_EQ(setup(1024, 0), 0);
	ASSERT_EQ(migrate_sim_first_touch(m, 0), 0);
	for (int i = 0; i < 20000; i++)
		ASSERT_EQ(migrate_sim_node(m, 1 + (uint32_t)(i % 3), addr_of(i)), 0);
	ASSERT_EQ(migrate_fast_used(m, &used), 0);
	ASSERT_EQ_U(used, 20000 * PG);
	ASSERT_EQ(migrate_sim_kill(m, 2), 0);
	ASSERT_EQ(migrate_fast_used(m, &used), 0);
	ASSERT_EQ_U(used, (20000 - 6667) * PG);
	ASSERT_EQ(migrate_sim_node(m, 1, addr_of(19998)), 0);
	teardown();
}

int
main(void)
{
	log_init("test_migrate", LOG_LVL_WARN);
	RUN_TEST(test_tbucket_refill_cap);
	RUN_TEST(test_tbucket_fractions);
	RUN_TEST(test_tbucket_unlimited);
	RUN_TEST(test_set_limits);
	RUN_TEST(test_execute_moves);
	RUN_TEST(test_rate_limit_demotions_first);
	RUN_TEST(test_room_limits_promotions);
	RUN_TEST(test_status_busy_retried);
	RUN_TEST(test_status_noent_fault_twice);
	RUN_TEST(test_status_nomem_stops_promotions);
	RUN_TEST(test_status_acces_pinned);
	RUN_TEST(test_unset_status_verified);
	RUN_TEST(test_unset_fault_kept);
	RUN_TEST(test_killed_pid_dropped);
	RUN_TEST(test_calls_bounded);
	RUN_TEST(test_cancel);
	RUN_TEST(test_swap_pairs);
	RUN_TEST(test_thp_moves_512);
	RUN_TEST(test_dropped_items_skipped);
	RUN_TEST(test_no_target_node);
	RUN_TEST(test_query_resolves);
	RUN_TEST(test_query_batches);
	RUN_TEST(test_query_chunks);
	RUN_TEST(test_query_fault_twice_dropped);
	RUN_TEST(test_fast_used_and_controls);
	RUN_TEST(test_sim_grows);
	TEST_EXIT();
}
