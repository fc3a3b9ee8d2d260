/*
 * test_move_pages.c - the migrator's real backend against this kernel:
 * move_pages(2) through libnuma on pages of this process and of a child.
 * Everything here works on a single-node machine; the one part that
 * needs a second node says "skip" and is left out (the binary still
 * passes on what it could test).
 *
 * What the kernel says (checked on 6.x, mm/migrate.c):
 *   page written                 -> its node (0 here)
 *   page never faulted           -> -ENOENT
 *   page only read (zero page)   -> -EFAULT, as unmapped memory (where
 *                                   the kernel maps the zero page at
 *                                   all: zeropage.h)
 *   range munmap'd               -> -EFAULT
 *   pid exited, not yet reaped   -> whole call -EINVAL (a zombie has no mm)
 *   pid exited and reaped        -> whole call -ESRCH
 *   target node does not exist   -> whole call -ENODEV
 *   page already on the target   -> status = the target, nothing copied
 * An -ENOENT or -EFAULT page is dropped at the second such status in a
 * row (6.1 says them for a page NUMA balancing mapped PROT_NONE too: see
 * migrate.c).
 */
#include <errno.h>
#include <numa.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test.h"
#include "heat.h"
#include "migrate.h"
#include "policy.h"
#include "topo.h"
#include "vtier/log.h"
#include "zeropage.h"
#include "vtier/util.h"

#define PG 4096ULL
#define SEC 1000000000ULL
#define NOW (100 * SEC)
#define TICK 3

static struct topo topo;
static struct migrator *m;
static struct heat *h;
static struct plan plan;
static struct plan_item dem[64], pro[64];
static struct migrate_round rnd;
static uint32_t self;

static int
setup(uint32_t ppc)
{
	int rc;

	rc = topo_load(&topo, "/sys", 0, 0);
	if (rc < 0)
		return rc;
	rc = migrate_open(&m, BACKEND_MOVE_PAGES, &topo, ppc, 0, NOW);
	if (rc < 0)
		return rc;
	rc = heat_create(&h, 4096, SEC);
	if (rc < 0)
		return rc;
	memset(&plan, 0, sizeof(plan));
	plan.demote = dem;
	plan.promote = pro;
	plan.cap = ARRAY_SIZE(dem);
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

static char *
map(size_t pages)
{
	void *p = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static uint64_t
ua(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static struct heat_entry *
lookup(uint32_t pid, const void *p)
{
	return heat_lookup(h, heat_key(pid, ua(p), false));
}

static void
add_item(bool promote, uint32_t pid, uint64_t addr, bool thp)
{
	struct plan_item it = {
		.key = heat_key(pid, addr, thp),
		.heat = 1,
		.npages = thp ? HEAT_THP_PAGES : 1,
	};

	if (promote)
		pro[plan.npromote++] = it;
	else
		dem[plan.ndemote++] = it;
}

static void
test_query_touched(void)
{
	char *buf;

	ASSERT_EQ(setup(4), 0);
	buf = map(16);
	ASSERT_TRUE(buf != NULL);
	for (int i = 0; i < 16; i++) {
		buf[i * PG] = 1;
		ASSERT_TRUE(heat_record(h, self, ua(buf + i * PG), false, NOW) != NULL);
	}
	ASSERT_EQ(migrate_query(m, h, 100), 16);
	for (int i = 0; i < 16; i++)
		ASSERT_EQ(lookup(self, buf + i * PG)->node, 0);
	ASSERT_EQ_U(migrate_stats(m)->queried, 16);
	ASSERT_EQ_U(migrate_stats(m)->calls, 4);
	munmap(buf, 16 * PG);
	teardown();
}

static void
test_query_untouched_dropped(void)
{
	char *buf;

	ASSERT_EQ(setup(16), 0);
	buf = map(4);
	ASSERT_TRUE(buf != NULL);
	buf[0] = 1;
	buf[2 * PG] = 1;
	for (int i = 0; i < 4; i++)
		ASSERT_TRUE(heat_record(h, self, ua(buf + i * PG), false, NOW) != NULL);
	ASSERT_EQ(migrate_query(m, h, 100), 2);
	ASSERT_EQ_U(migrate_stats(m)->err_noent, 2);
	ASSERT_EQ(lookup(self, buf + PG)->node, -1);	/* kept, once */
	ASSERT_EQ(lookup(self, buf + 3 * PG)->node, -1);
	ASSERT_EQ(lookup(self, buf)->node, 0);
	ASSERT_EQ_U(heat_size(h), 4);
	ASSERT_EQ(migrate_query(m, h, 100), 0);
	ASSERT_EQ_U(migrate_stats(m)->err_noent, 4);
	ASSERT_TRUE(lookup(self, buf + PG) == NULL);
	ASSERT_TRUE(lookup(self, buf + 3 * PG) == NULL);
	ASSERT_EQ_U(heat_size(h), 2);
	munmap(buf, 4 * PG);
	teardown();
}

static void
test_query_unmapped_dropped(void)
{
	char *buf;

	ASSERT_EQ(setup(16), 0);
	buf = map(4);
	ASSERT_TRUE(buf != NULL);
	for (int i = 0; i < 4; i++) {
		buf[i * PG] = 1;
		ASSERT_TRUE(heat_record(h, self, ua(buf + i * PG), false, NOW) != NULL);
	}
	ASSERT_EQ(munmap(buf, 4 * PG), 0);
	ASSERT_EQ(migrate_query(m, h, 100), 0);
	ASSERT_EQ_U(migrate_stats(m)->err_fault, 4);
	ASSERT_EQ_U(heat_size(h), 4);		/* kept, once */
	ASSERT_EQ(migrate_query(m, h, 100), 0);
	ASSERT_EQ_U(migrate_stats(m)->err_fault, 8);
	ASSERT_EQ_U(migrate_stats(m)->err_noent, 0);
	ASSERT_EQ_U(heat_size(h), 0);
	teardown();
}

/* A page only ever read maps the shared zero page: the kernel says -EFAULT. */
static void
test_query_zero_page(void)
{
	volatile char *buf;
	char c;

	if (!zero_page_mapped()) {
		fprintf(stderr, "  skip test_query_zero_page: this kernel gives "
		    "read faults pages of their own\n");
		return;
	}
	ASSERT_EQ(setup(16), 0);
	buf = map(1);
	ASSERT_TRUE(buf != NULL);
	c = buf[0];
	(void)c;
	ASSERT_TRUE(heat_record(h, self, ua((const void *)buf), false, NOW) != NULL);
	ASSERT_EQ(migrate_query(m, h, 100), 0);
	ASSERT_EQ(migrate_query(m, h, 100), 0);
	ASSERT_EQ_U(migrate_stats(m)->err_fault, 2);
	ASSERT_EQ_U(heat_size(h), 0);
	munmap((void *)buf, PG);
	teardown();
}

static void
test_exited_child(void)
{
	const struct migrate_stats *st;
	siginfo_t si;
	char *buf;
	pid_t c;

	ASSERT_EQ(setup(16), 0);
	buf = map(4);
	ASSERT_TRUE(buf != NULL);
	memset(buf, 1, 4 * PG);
	c = fork();
	ASSERT_TRUE(c >= 0);
	if (c == 0)
		_exit(0);
	/* The child's pages (same addresses, copied on write) and ours. */
	for (int i = 0; i < 4; i++)
		ASSERT_TRUE(heat_record(h, (uint32_t)c, ua(buf + i * PG), false, NOW) != NULL);
	ASSERT_TRUE(heat_record(h, self, ua(buf), false, NOW) != NULL);

	/* Exited but not reaped: a zombie, -EINVAL, its entries stay. */
	memset(&si, 0, sizeof(si));
	ASSERT_EQ(waitid(P_PID, (id_t)c, &si, WEXITED | WNOWAIT), 0);
	ASSERT_EQ(migrate_query(m, h, 100), 1);
	st = migrate_stats(m);
	ASSERT_EQ_U(st->err_other, 1);
	ASSERT_EQ_U(st->err_srch, 0);
	ASSERT_EQ_U(heat_size(h), 5);

	/* Reaped: -ESRCH, and the process leaves the heat table. */
	ASSERT_EQ(waitpid(c, NULL, 0), c);
	ASSERT_EQ(migrate_query(m, h, 100), 0);
	ASSERT_EQ_U(st->err_srch, 1);
	ASSERT_EQ_U(heat_size(h), 1);
	ASSERT_TRUE(lookup((uint32_t)c, buf) == NULL);

	/* The same from migrate_execute. */
	for (int i = 0; i < 4; i++) {
		ASSERT_TRUE(heat_record(h, (uint32_t)c, ua(buf + i * PG), false, NOW) != NULL);
		add_item(true, (uint32_t)c, ua(buf + i * PG), false);
	}
	ASSERT_EQ(migrate_execute(m, h, &plan, &topo, 1 << 30, TICK, NOW, &rnd), 0);
	ASSERT_EQ_U(st->err_srch, 2);
	ASSERT_EQ(rnd.failed, 4);
	ASSERT_EQ_U(heat_size(h), 1);
	munmap(buf, 4 * PG);
	teardown();
}

/*
 * Moving to the node a page is on (node 0, the only one here) succeeds
 * as a no-op: status 0.  Pages gone in between are dropped as in a query
 * (-EFAULT: at the second, the query's).
 */
static void
test_move_to_node0(void)
{
	const struct migrate_stats *st;
	char *buf, *raw, *thp;
	struct heat_entry *e;

	ASSERT_EQ(setup(4), 0);
	ASSERT_TRUE(topo.fast_mask & 1);
	buf = map(12);
	ASSERT_TRUE(buf != NULL);
	for (int i = 0; i < 10; i++) {
		if (i != 8)		/* page 8 never faulted */
			buf[i * PG] = 1;
		ASSERT_TRUE(heat_record(h, self, ua(buf + i * PG), false, NOW) != NULL);
		add_item(true, self, ua(buf + i * PG), false);
	}
	ASSERT_EQ(munmap(buf + 9 * PG, PG), 0);	/* page 9 unmapped */

	/* A THP-sized key (whether or not the kernel gave us a huge page). */
	raw = map(1024);
	ASSERT_TRUE(raw != NULL);
	thp = (char *)((ua(raw) + (2 * MiB - 1)) & ~(2 * MiB - 1));
	madvise(thp, 2 * MiB, MADV_HUGEPAGE);
	memset(thp, 1, 2 * MiB);
	ASSERT_TRUE(heat_record(h, self, ua(thp), true, NOW) != NULL);
	add_item(true, self, ua(thp), true);

	ASSERT_EQ(migrate_execute(m, h, &plan, &topo, 1 << 30, TICK, NOW, &rnd), 0);
	st = migrate_stats(m);
	ASSERT_EQ_U(rnd.promoted_bytes, 8 * PG + 2 * MiB);
	ASSERT_EQ_U(st->promoted_pages, 8 + 512);
	ASSERT_EQ(rnd.failed, 2);
	ASSERT_EQ_U(st->err_noent, 1);
	ASSERT_EQ_U(st->err_fault, 1);
	e = lookup(self, buf + 8 * PG);		/* kept, once */
	ASSERT_TRUE(e != NULL && e->node == -1);
	e = lookup(self, buf + 9 * PG);
	ASSERT_TRUE(e != NULL && e->node == -1);
	for (int i = 0; i < 8; i++) {
		e = lookup(self, buf + i * PG);
		ASSERT_TRUE(e != NULL);
		ASSERT_EQ(e->node, 0);
		ASSERT_EQ(e->moved, TICK);
	}
	e = heat_lookup(h, heat_key(self, ua(thp), true));
	ASSERT_TRUE(e != NULL && e->node == 0);
	/* The THP alone (512 > 4), then 10 small pages in calls of 4. */
	ASSERT_EQ_U(st->calls, 1 + 3);
	ASSERT_EQ(migrate_query(m, h, 100), 0);
	ASSERT_EQ_U(st->err_fault, 2);
	ASSERT_TRUE(lookup(self, buf + 9 * PG) == NULL);
	munmap(buf, 9 * PG);
	munmap(raw, 1024 * PG);
	teardown();
}

/*
 * A topology that names a node the kernel does not have: the whole call
 * fails with -ENODEV, no status is written, the migrator asks where the
 * pages are and finds nothing moved.
 */
static void
test_move_missing_node(void)
{
	const struct migrate_stats *st;
	int ghost = numa_max_node() + 1;
	char *buf;

	ASSERT_TRUE(ghost < TOPO_MAX_NODES);
	ASSERT_EQ(setup(16), 0);
	topo.node[ghost].id = ghost;
	topo.node[ghost].online = true;
	topo.node[ghost].free = 1ULL << 40;
	topo.online_mask |= 1ULL << ghost;
	topo.slow_mask = 1ULL << ghost;
	buf = map(3);
	ASSERT_TRUE(buf != NULL);
	for (int i = 0; i < 3; i++) {
		struct heat_entry *e;

		buf[i * PG] = 1;
		e = heat_record(h, self, ua(buf + i * PG), false, NOW);
		ASSERT_TRUE(e != NULL);
		e->node = 0;
		add_item(false, self, ua(buf + i * PG), false);
	}
	ASSERT_EQ(migrate_execute(m, h, &plan, &topo, 0, TICK, NOW, &rnd), 0);
	st = migrate_stats(m);
	ASSERT_EQ_U(st->calls, 2);		/* the move, then the query */
	ASSERT_EQ_U(st->err_other, 1);
	ASSERT_EQ_U(rnd.demoted_bytes, 0);
	ASSERT_EQ(rnd.failed, 3);
	for (int i = 0; i < 3; i++) {
		struct heat_entry *e = lookup(self, buf + i * PG);

		ASSERT_TRUE(e != NULL);
		ASSERT_EQ(e->node, 0);
		ASSERT_EQ(e->flags & HEAT_F_PINNED, 0);
		ASSERT_EQ(e->moved, HEAT_MOVED_NEVER);
	}
	munmap(buf, 3 * PG);
	teardown();
}

/*
 * The only part that needs two nodes (the QEMU test bed has them): a real
 * demotion to the slow node and a promotion back, checked by querying.
 */
static void
test_two_nodes(void)
{
	char *buf;
	int slow;

	ASSERT_EQ(setup(16), 0);
	slow = topo_pick(&topo, topo.slow_mask);
	if (slow < 0)
		slow = 1;	/* two nodes with CPUs: call node 1 slow */
	topo.fast_mask = 1;
	topo.slow_mask = 1ULL << slow;
	buf = map(8);
	ASSERT_TRUE(buf != NULL);
	for (int i = 0; i < 8; i++) {
		buf[i * PG] = 1;
		ASSERT_TRUE(heat_record(h, self, ua(buf + i * PG), false, NOW) != NULL);
		add_item(false, self, ua(buf + i * PG), false);
		add_item(true, self, ua(buf + i * PG), false);
	}
	plan.npromote = 0;
	ASSERT_EQ(migrate_execute(m, h, &plan, &topo, 0, TICK, NOW, &rnd), 0);
	ASSERT_EQ_U(rnd.demoted_bytes, 8 * PG);
	for (int i = 0; i < 8; i++)
		lookup(self, buf + i * PG)->node = -1;
	ASSERT_EQ(migrate_query(m, h, 100), 8);
	for (int i = 0; i < 8; i++)
		ASSERT_EQ(lookup(self, buf + i * PG)->node, slow);

	plan.ndemote = 0;
	plan.npromote = 8;
	ASSERT_EQ(migrate_execute(m, h, &plan, &topo, 1 << 30, TICK + 1, NOW, &rnd), 0);
	ASSERT_EQ_U(rnd.promoted_bytes, 8 * PG);
	for (int i = 0; i < 8; i++)
		lookup(self, buf + i * PG)->node = -1;
	ASSERT_EQ(migrate_query(m, h, 100), 8);
	for (int i = 0; i < 8; i++)
		ASSERT_EQ(lookup(self, buf + i * PG)->node, 0);
	munmap(buf, 8 * PG);
	teardown();
}

int
main(void)
{
	log_init("test_move_pages", LOG_LVL_WARN);
	if (numa_available() < 0) {
		fprintf(stderr, "skip: no NUMA support in this kernel\n");
		return TEST_SKIP;
	}
	self = (uint32_t)getpid();
	RUN_TEST(test_query_touched);
	RUN_TEST(test_query_untouched_dropped);
	RUN_TEST(test_query_unmapped_dropped);
	RUN_TEST(test_query_zero_page);
	RUN_TEST(test_exited_child);
	RUN_TEST(test_move_to_node0);
	RUN_TEST(test_move_missing_node);
	if (numa_max_node() >= 1)
		RUN_TEST(test_two_nodes);
	else
		fprintf(stderr, "  skip test_two_nodes: needs 2 NUMA nodes, "
		    "this machine has 1\n");
	TEST_EXIT();
}
