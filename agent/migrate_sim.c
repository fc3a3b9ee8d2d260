/*
 * migrate_sim.c - the "sim" migrator backend: a whole machine's page
 * placement kept in memory, for unit tests and vtier-sim.  It answers
 * the backend's move op as move_pages(2) would.
 *
 * - Placement is a hash of 4 KiB pages, (pid, page) -> node: open
 *   addressing with linear probing, doubled when half full.
 * - A page the sim has not seen is first-touched on the first-touch node
 *   (default: the lowest slow node, else node 0) the first time anything
 *   asks about it: a page that was sampled has been touched.
 * - A THP (the caller says the address spans 512 pages) is one folio:
 *   touching or moving it touches or moves all 512 base pages, with one
 *   status for the address, as the kernel does.
 * - Faults are injected per page: its next n moves (queries are not
 *   affected) report the given status.  -EAGAIN stands for the kernel
 *   failing to migrate a page it had isolated: the page stays, its
 *   status is left unwritten and it counts in the return value.  Apart
 *   from those, its next n queries can report a status (as 6.1 says
 *   -EFAULT for a THP that NUMA balancing mapped PROT_NONE).
 * - A killed pid fails every later call with -ESRCH, and its pages are
 *   freed, as an exited process's are.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vtier/util.h"
#include "heat.h"
#include "migrate.h"
#include "migrate_int.h"
#include "topo.h"

struct sim_page {
	uint64_t key;		/* pid << 36 | vpn; 0 = empty slot */
	uint16_t inj_n;		/* moves left that report inj_err */
	int16_t inj_err;
	uint8_t qinj_n;		/* queries left that report qinj_err */
	int8_t qinj_err;
	int8_t node;
	uint8_t pad;
};
static_assert(sizeof(struct sim_page) == 16, "sim_page: 4 to a cache line");

struct sim {
	struct sim_page *tab;
	size_t cap;		/* power of two */
	size_t used;
	uint64_t pages_on[TOPO_MAX_NODES];
	int first_touch;
	uint64_t call_ns;	/* each call takes this long (a slow kernel) */
	uint32_t *killed;	/* few: a plain array */
	size_t nkilled, killed_cap;
};

#define SIM_CAP_MIN 1024

static uint64_t
sim_key(uint32_t pid, uint64_t vpn)
{
	return (uint64_t)pid << HEAT_KEY_PID_SHIFT | vpn;
}

static size_t
sim_hash(uint64_t key, size_t cap)
{
	/* splitmix64's finaliser: vpns are dense, spread them out */
	key ^= key >> 30;
	key *= 0xbf58476d1ce4e5b9ULL;
	key ^= key >> 27;
	key *= 0x94d049bb133111ebULL;
	key ^= key >> 31;
	return (size_t)key & (cap - 1);
}

static struct sim_page *
sim_find(struct sim *s, uint64_t key)
{
	size_t i = sim_hash(key, s->cap);

	while (s->tab[i].key != 0) {
		if (s->tab[i].key == key)
			return &s->tab[i];
		i = (i + 1) & (s->cap - 1);
	}
	return NULL;
}

/* Put p into a table known to have room and not to hold p->key. */
static void
sim_place(struct sim_page *tab, size_t cap, const struct sim_page *p)
{
	size_t i = sim_hash(p->key, cap);

	while (tab[i].key != 0)
		i = (i + 1) & (cap - 1);
	tab[i] = *p;
}

/* Rebuild into cap slots, leaving out the pages of pid (0: none). */
static int
sim_rehash(struct sim *s, size_t cap, uint32_t drop_pid)
{
	struct sim_page *tab;
	size_t used = 0;

	tab = calloc_touched(cap, sizeof(*tab));
	if (tab == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap; i++) {
		const struct sim_page *p = &s->tab[i];

		if (p->key == 0)
			continue;
		if (drop_pid != 0 && heat_key_pid(p->key) == drop_pid) {
			s->pages_on[p->node]--;
			continue;
		}
		sim_place(tab, cap, p);
		used++;
	}
	free(s->tab);
	s->tab = tab;
	s->cap = cap;
	s->used = used;
	return 0;
}

/* The page, first-touching it if new; NULL only when out of memory. */
static struct sim_page *
sim_touch(struct sim *s, uint64_t key)
{
	struct sim_page *p, np;

	p = sim_find(s, key);
	if (p != NULL)
		return p;
	if ((s->used + 1) * 2 > s->cap && sim_rehash(s, s->cap * 2, 0) < 0)
		return NULL;
	memset(&np, 0, sizeof(np));
	np.key = key;
	np.node = (int8_t)s->first_touch;
	sim_place(s->tab, s->cap, &np);
	s->used++;
	s->pages_on[np.node]++;
	return sim_find(s, key);
}

/* Touch every base page of a folio; the head page, or NULL. */
static struct sim_page *
sim_touch_folio(struct sim *s, uint32_t pid, uint64_t vpn, uint32_t npages)
{
	/* Tail pages first: inserting may rehash and move the head. */
	for (uint32_t i = 1; i < npages; i++)
		if (sim_touch(s, sim_key(pid, vpn + i)) == NULL)
			return NULL;
	return sim_touch(s, sim_key(pid, vpn));
}

static void
sim_set_node(struct sim *s, struct sim_page *p, int node)
{
	s->pages_on[p->node]--;
	p->node = (int8_t)node;
	s->pages_on[node]++;
}

static bool
sim_killed(const struct sim *s, uint32_t pid)
{
	for (size_t i = 0; i < s->nkilled; i++)
		if (s->killed[i] == pid)
			return true;
	return false;
}

static int
sim_open(struct migrator *m, const struct topo *t)
{
	struct sim *s;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->tab = calloc(SIM_CAP_MIN, sizeof(*s->tab));
	if (s->tab == NULL)
		goto err;
	s->cap = SIM_CAP_MIN;
	/* New memory lands on the slow node, as on a machine whose DRAM is full. */
	s->first_touch = t->slow_mask ? __builtin_ctzll(t->slow_mask) : 0;
	m->be = s;
	return 0;
err:
	free(s);
	return -ENOMEM;
}

static void
sim_close(struct migrator *m)
{
	struct sim *s = m->be;

	if (s == NULL)
		return;
	free(s->tab);
	free(s->killed);
	free(s);
	m->be = NULL;
}

static long
sim_move(struct migrator *m, uint32_t pid, size_t n, void **pages,
    const uint32_t *npages, const int *nodes, int *status)
{
	struct sim *s = m->be;
	long failed = 0;

	if (pid == 0 || pid > HEAT_PID_MAX)
		return -EINVAL;
	if (s->call_ns > 0) {
		struct timespec ts = { (time_t)(s->call_ns / 1000000000ULL),
		    (long)(s->call_ns % 1000000000ULL) };

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	if (sim_killed(s, pid))
		return -ESRCH;
	/* The kernel checks each node as it reaches it; up front is enough. */
	for (size_t i = 0; nodes != NULL && i < n; i++)
		if (nodes[i] < 0 || nodes[i] >= TOPO_MAX_NODES ||
		    !(m->online_mask & (1ULL << nodes[i])))
			return -ENODEV;

	for (size_t i = 0; i < n; i++) {
		uint64_t addr = (uint64_t)(uintptr_t)pages[i];
		uint64_t vpn = addr >> HEAT_PAGE_SHIFT;
		uint32_t np = npages[i] ? npages[i] : 1;
		struct sim_page *p;

		if (addr >= HEAT_ADDR_LIMIT ||
		    vpn + np > HEAT_ADDR_LIMIT >> HEAT_PAGE_SHIFT) {
			status[i] = -EFAULT;
			continue;
		}
		p = sim_touch_folio(s, pid, vpn, np);
		if (p == NULL)
			return -ENOMEM;
		if (nodes == NULL) {
			if (p->qinj_n > 0) {
				p->qinj_n--;
				status[i] = p->qinj_err;
			} else {
				status[i] = p->node;
			}
			continue;
		}
		if (p->inj_n > 0) {
			p->inj_n--;
			if (p->inj_err == -EAGAIN)
				failed++;
			else
				status[i] = p->inj_err;
			continue;
		}
		for (uint32_t j = 0; j < np; j++) {
			/* The head is found again: no insert happens in between. */
			struct sim_page *q = sim_find(s, sim_key(pid, vpn + j));

			sim_set_node(s, q, nodes[i]);
		}
		status[i] = nodes[i];
	}
	return failed;
}

static int
sim_fast_used(const struct migrator *m, uint64_t *bytes)
{
	const struct sim *s = m->be;
	uint64_t pages = 0;

	for (int n = 0; n < TOPO_MAX_NODES; n++)
		if (m->fast_mask & (1ULL << n))
			pages += s->pages_on[n];
	*bytes = pages << HEAT_PAGE_SHIFT;
	return 0;
}

const struct migrate_ops migrate_sim_ops = {
	.name = "sim",
	.open = sim_open,
	.close = sim_close,
	.move = sim_move,
	.fast_used = sim_fast_used,
};

/* ---- controls ---- */

int
migrate_sim_first_touch(struct migrator *m, int node)
{
	struct sim *s = m->be;

	if (m->backend != BACKEND_SIM)
		return -ENOTSUP;
	if (node < 0 || node >= TOPO_MAX_NODES)
		return -EINVAL;
	s->first_touch = node;
	return 0;
}

int
migrate_sim_call_time(struct migrator *m, uint64_t ns)
{
	struct sim *s = m->be;

	if (m->backend != BACKEND_SIM)
		return -ENOTSUP;
	s->call_ns = ns;
	return 0;
}

int
migrate_sim_kill(struct migrator *m, uint32_t pid)
{
	struct sim *s = m->be;
	uint32_t *k;
	int rc;

	if (m->backend != BACKEND_SIM)
		return -ENOTSUP;
	if (pid == 0 || pid > HEAT_PID_MAX)
		return -EINVAL;
	if (sim_killed(s, pid))
		return 0;
	if (s->nkilled == s->killed_cap) {
		size_t ncap = s->killed_cap ? s->killed_cap * 2 : 16;

		k = reallocarray(s->killed, ncap, sizeof(*k));
		if (k == NULL)
			return -ENOMEM;
		s->killed = k;
		s->killed_cap = ncap;
	}
	/* Free its memory first, so a failure leaves the pid alive. */
	rc = sim_rehash(s, s->cap, pid);
	if (rc < 0)
		return rc;
	s->killed[s->nkilled++] = pid;
	return 0;
}

/* Injections for moves (err >= -32768, n <= 65535) or queries (-128, 255). */
static int
inject(struct migrator *m, uint32_t pid, uint64_t addr, int err, unsigned n,
    bool query)
{
	struct sim *s = m->be;
	struct sim_page *p;

	if (m->backend != BACKEND_SIM)
		return -ENOTSUP;
	if (pid == 0 || pid > HEAT_PID_MAX || err >= 0 ||
	    err < (query ? INT8_MIN : INT16_MIN) ||
	    n > (query ? UINT8_MAX : UINT16_MAX) || addr >= HEAT_ADDR_LIMIT)
		return -EINVAL;
	p = sim_touch(s, sim_key(pid, addr >> HEAT_PAGE_SHIFT));
	if (p == NULL)
		return -ENOMEM;
	if (query) {
		p->qinj_err = (int8_t)err;
		p->qinj_n = (uint8_t)n;
	} else {
		p->inj_err = (int16_t)err;
		p->inj_n = (uint16_t)n;
	}
	return 0;
}

int
migrate_sim_inject(struct migrator *m, uint32_t pid, uint64_t addr, int err,
    unsigned n)
{
	return inject(m, pid, addr, err, n, false);
}

int
migrate_sim_inject_query(struct migrator *m, uint32_t pid, uint64_t addr,
    int err, unsigned n)
{
	return inject(m, pid, addr, err, n, true);
}

int
migrate_sim_node(struct migrator *m, uint32_t pid, uint64_t addr)
{
	struct sim *s = m->be;
	struct sim_page *p;

	if (m->backend != BACKEND_SIM)
		return -ENOTSUP;
	if (pid == 0 || pid > HEAT_PID_MAX)
		return -EINVAL;
	if (sim_killed(s, pid))
		return -ESRCH;
	if (addr >= HEAT_ADDR_LIMIT)
		return -EFAULT;
	p = sim_touch(s, sim_key(pid, addr >> HEAT_PAGE_SHIFT));
	if (p == NULL)
		return -ENOMEM;
	return p->node;
}
