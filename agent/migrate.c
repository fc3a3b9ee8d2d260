/*
 * migrate.c - the migrator (see migrate.h): carries out a plan as
 * batched, rate-limited move_pages(2) calls and folds every status back
 * into the heat table.  The "move_pages" backend (libnuma) is here, the
 * "sim" backend in migrate_sim.c.
 *
 * A round: demotions first (they make the room promotions need), then
 * promotions.  A plan made over budget starts with swap pairs (policy.h:
 * nswap, swap_bytes): their demotions and promotions go in turns of one
 * call's worth each, promotions only into what really left (fast usage
 * does not grow), so a round its deadline cuts still brought hot pages
 * in; then the rest of the demotions, then the rest of the promotions
 * into room + bytes demoted - bytes promoted.  Items are taken in plan
 * order while the token bucket and those limits allow; the first item
 * that does not fit ends the phase, so a later, smaller item never jumps
 * a hotter or colder one the policy ranked first.  The taken items are
 * grouped by pid, in plan order within each process (a round its
 * deadline cuts short has moved the plan's first items: the policy's
 * ranking, or vacate.c's whole physical blocks), and sent per process in
 * calls of at most pages_per_call base pages (a THP counts 512, as that
 * is what the kernel copies; one THP alone may exceed a smaller limit),
 * so no process sits in one long call.
 *
 * Token accounting: the bucket is charged with the bytes of every page
 * handed to the kernel in a call that got as far as the pages, moved or
 * not.  A failed move costs the kernel nearly what a good one does
 * (isolation, unmapping, TLB shootdowns), and charging attempts keeps a
 * plan full of pages that keep failing from turning into a busy loop of
 * syscalls.  Calls that fail before touching a page (the process is gone
 * or not ours: -ESRCH, -EPERM, -EINVAL) cost nothing.  Only pages that
 * really moved count as promoted/demoted bytes.
 *
 * What the kernel does when a move fails (mm/migrate.c, do_pages_move):
 * pages it could not even isolate get a per-page status (-EBUSY, -ENOENT,
 * -EFAULT, -EACCES...) and the call goes on; but when migrating a batch
 * it had isolated fails, it stops, returns the count of pages not moved
 * (or -ENOMEM for the whole call when the target is full) and leaves the
 * status of that batch and of every later page unwritten.  So status[]
 * starts as MIGRATE_ST_UNSET, and if any are still unset afterwards one
 * query call (nodes = NULL) says where those pages really are.
 *
 * -EFAULT and -ENOENT, from a move or a query, do not always mean "not
 * mapped" and "not present".  On 6.1 with NUMA balancing, a page its
 * scanner mapped PROT_NONE for a hinting fault says -EFAULT (a THP) or
 * -ENOENT (a base page) until it is touched, however long one waits:
 * follow_page() refuses such an entry (mm/gup.c: follow_pmd_mask ->
 * no_page_table under FOLL_DUMP, follow_page_pte -> no_page; 6.5's
 * d74943a2f3cd "mm/gup: reintroduce FOLL_NUMA as FOLL_HONOR_NUMA_FAULT"
 * undid that, and did not apply to 6.1.y).  The scan marks every THP,
 * and the base pages of a multi-threaded process, or not on the node
 * its thread runs on.  So the first -EFAULT or -ENOENT only forgets the
 * page's node (-1, so migrate_query asks again next round) and marks it
 * HEAT_F_MISSING; a second one with no node learnt in between drops the
 * entry.  A page in use is touched, and found, by then; one really gone
 * costs one more query.
 */
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "heat.h"
#include "migrate.h"
#include "migrate_int.h"
#include "policy.h"
#include "topo.h"
#include "worker.h"

#define NSEC_PER_SEC 1000000000ULL

/* ---- token bucket ---- */

void
tbucket_init(struct tbucket *tb, uint64_t rate, uint64_t now_ns)
{
	tb->rate = rate;
	/* Start full: the first round may use a whole second's worth. */
	tb->tokens = rate;
	tb->last_ns = now_ns;
}

void
tbucket_refill(struct tbucket *tb, uint64_t now_ns)
{
	unsigned __int128 add;
	uint64_t elapsed;

	if (tb->rate == 0 || now_ns <= tb->last_ns)
		return;
	if (tb->tokens >= tb->rate) {
		tb->tokens = tb->rate;
		tb->last_ns = now_ns;
		return;
	}
	elapsed = now_ns - tb->last_ns;
	add = (unsigned __int128)elapsed * tb->rate / NSEC_PER_SEC;
	if (add >= tb->rate - tb->tokens) {
		tb->tokens = tb->rate;
		tb->last_ns = now_ns;
		return;
	}
	tb->tokens += (uint64_t)add;
	/*
	 * Move the clock on only by the time those whole bytes took (rounded
	 * up, so never past now): the fraction of a byte left over stays
	 * owed instead of being lost, however often the caller refills.
	 */
	tb->last_ns += (uint64_t)((add * NSEC_PER_SEC + tb->rate - 1) / tb->rate);
}

uint64_t
tbucket_avail(const struct tbucket *tb)
{
	return tb->rate == 0 ? UINT64_MAX : tb->tokens;
}

void
tbucket_take(struct tbucket *tb, uint64_t n)
{
	if (tb->rate == 0)
		return;
	tb->tokens = n >= tb->tokens ? 0 : tb->tokens - n;
}

/* ---- libnuma's error reporting ---- */

/*
 * libnuma reports through these two weak symbols, by default printing to
 * stderr on its own and exiting if numa_exit_on_error/warn are set; ours
 * send it into the log instead, rate-limited since a failing call tends
 * to repeat every round.
 */
void
numa_warn(int num, char *fmt, ...)
{
	static struct ratelimit rl;
	char msg[256];
	size_t len;
	va_list ap;

	if (log_level < LOG_LVL_WARN || !ratelimit_ok(&rl, 10))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	len = strlen(msg);
	while (len > 0 && msg[len - 1] == '\n')
		msg[--len] = '\0';
	log_warnx("libnuma: %s (warning %d)", msg, num);
}

void
numa_error(char *where)
{
	static struct ratelimit rl;
	int saved = errno;	/* ratelimit_ok may print, and so clobber it */

	if (log_level < LOG_LVL_WARN || !ratelimit_ok(&rl, 10))
		return;
	errno = saved;
	log_warn("libnuma: %s", where);
}

/* ---- the move_pages backend ---- */

static int
mp_open(struct migrator *m, const struct topo *t)
{
	(void)m;
	(void)t;
	/* numa_move_pages is a bare syscall, but no NUMA means no tiering. */
	if (numa_available() < 0)
		return -ENOSYS;
	return 0;
}

static void
mp_close(struct migrator *m)
{
	(void)m;
}

static long
mp_move(struct migrator *m, uint32_t pid, size_t n, void **pages,
    const uint32_t *npages, const int *nodes, int *status)
{
	long rc;

	(void)m;
	(void)npages;
	rc = numa_move_pages((int)pid, n, pages, nodes, status, MPOL_MF_MOVE);
	if (rc < 0)
		return errno ? -errno : -EIO;
	return rc;
}

static int
mp_fast_used(const struct migrator *m, uint64_t *bytes)
{
	(void)m;
	(void)bytes;
	return -ENOTSUP;
}

static const struct migrate_ops mp_ops = {
	.name = "move_pages",
	.open = mp_open,
	.close = mp_close,
	.move = mp_move,
	.fast_used = mp_fast_used,
};

/* ---- scratch ---- */

/*
 * Room for want elements of size bytes in p, which holds *cap: the array
 * (moved, perhaps) or NULL, leaving p as it was, when out of memory.
 */
static void *
grow(void *p, size_t *cap, size_t want, size_t size)
{
	size_t ncap = *cap ? *cap : 64;
	void *np;

	if (want <= *cap && p != NULL)
		return p;
	while (ncap < want)
		ncap *= 2;
	np = reallocarray(p, ncap, size);
	if (np == NULL)
		return NULL;
	*cap = ncap;
	return np;
}

/* Make the per-call arrays hold pages_per_call entries. */
static int
reserve_call(struct migrator *m)
{
	size_t want = m->pages_per_call;
	void **pages;
	uint32_t *npages;
	int *nodes, *status, *where;

	if (want <= m->call_cap)
		return 0;
	/* Grown one by one; call_cap moves only once all have room. */
	pages = reallocarray(m->pages, want, sizeof(*pages));
	if (pages == NULL)
		goto err;
	m->pages = pages;
	npages = reallocarray(m->npages, want, sizeof(*npages));
	if (npages == NULL)
		goto err;
	m->npages = npages;
	nodes = reallocarray(m->nodes, want, sizeof(*nodes));
	if (nodes == NULL)
		goto err;
	m->nodes = nodes;
	status = reallocarray(m->status, want, sizeof(*status));
	if (status == NULL)
		goto err;
	m->status = status;
	where = reallocarray(m->where, want, sizeof(*where));
	if (where == NULL)
		goto err;
	m->where = where;
	m->call_cap = want;
	return 0;
err:
	return -ENOMEM;
}

static bool
pid_skipped(const struct migrator *m, uint32_t pid)
{
	for (size_t i = 0; i < m->nskip; i++)
		if (m->skip[i] == pid)
			return true;
	return false;
}

static void
skip_pid(struct migrator *m, uint32_t pid)
{
	uint32_t *skip;

	/*
	 * Items are sorted by pid, so a pid is only met again in the other
	 * phase; if the list cannot grow, that phase merely retries it.
	 */
	if (pid_skipped(m, pid))
		return;
	skip = grow(m->skip, &m->skip_cap, m->nskip + 1, sizeof(*m->skip));
	if (skip == NULL)
		return;
	m->skip = skip;
	m->skip[m->nskip++] = pid;
}

static int
cmp_item(const void *a, const void *b)
{
	uint64_t ka = ((const struct plan_item *)a)->key;
	uint64_t kb = ((const struct plan_item *)b)->key;
	uint32_t pa = heat_key_pid(ka), pb = heat_key_pid(kb);
	uint64_t aa = heat_key_addr(ka), ab = heat_key_addr(kb);

	if (pa != pb)
		return pa < pb ? -1 : 1;
	if (aa != ab)
		return aa < ab ? -1 : 1;
	return 0;
}

/* One backend call, counted; status[] starts unset. */
static long
call(struct migrator *m, uint32_t pid, size_t n, const int *nodes,
    int *status)
{
	for (size_t i = 0; i < n; i++)
		status[i] = MIGRATE_ST_UNSET;
	m->st.calls++;
	return m->ops->move(m, pid, n, m->pages, m->npages, nodes, status);
}

/* ---- open / close / limits ---- */

int
migrate_open(struct migrator **mp, enum migrate_backend backend,
    const struct topo *t, uint32_t pages_per_call, uint64_t rate_bytes,
    uint64_t now_ns)
{
	struct migrator *m;
	int rc;

	*mp = NULL;
	if (pages_per_call == 0)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	m->backend = backend;
	switch (backend) {
	case BACKEND_MOVE_PAGES:
		m->ops = &mp_ops;
		break;
	case BACKEND_SIM:
		m->ops = &migrate_sim_ops;
		break;
	default:
		rc = -EINVAL;
		goto err;
	}
	m->pages_per_call = pages_per_call;
	tbucket_init(&m->tb, rate_bytes, now_ns);
	m->online_mask = t->online_mask;
	m->fast_mask = t->fast_mask;
	m->slow_mask = t->slow_mask;
	rc = m->ops->open(m, t);
	if (rc < 0)
		goto err;
	*mp = m;
	return 0;
err:
	free(m);
	return rc;
}

void
migrate_close(struct migrator *m)
{
	if (m == NULL)
		return;
	m->ops->close(m);
	free(m->items);
	free(m->order);
	free(m->pages);
	free(m->npages);
	free(m->nodes);
	free(m->status);
	free(m->where);
	free(m->skip);
	free(m);
}

void
migrate_set_limits(struct migrator *m, uint32_t pages_per_call,
    uint64_t rate_bytes)
{
	/* 0 is refused by config validation; keep the old value if it slips by. */
	if (pages_per_call > 0)
		m->pages_per_call = pages_per_call;
	if (rate_bytes == m->tb.rate)
		return;
	/* From unlimited: start with a full burst, as at open. */
	if (m->tb.rate == 0 || m->tb.tokens > rate_bytes)
		m->tb.tokens = rate_bytes;
	m->tb.rate = rate_bytes;
}

void
migrate_set_cancel(struct migrator *m, const atomic_bool *flag)
{
	m->cancel = flag;
}

static bool
cancelled(const struct migrator *m)
{
	return worker_cancelled(m->cancel);
}

void
migrate_set_deadline(struct migrator *m, uint64_t deadline_ns)
{
	m->deadline_ns = deadline_ns;
}

static bool
past_deadline(const struct migrator *m)
{
	return m->deadline_ns != 0 && now_ns() >= m->deadline_ns;
}

uint64_t
migrate_budget_bytes(struct migrator *m, uint64_t now_ns)
{
	tbucket_refill(&m->tb, now_ns);
	return tbucket_avail(&m->tb);
}

const struct migrate_stats *
migrate_stats(const struct migrator *m)
{
	return &m->st;
}

enum migrate_backend
migrate_backend(const struct migrator *m)
{
	return m->backend;
}

int
migrate_fast_used(const struct migrator *m, uint64_t *bytes)
{
	return m->ops->fast_used(m, bytes);
}

/* ---- execute ---- */

struct phase {
	bool promote;
	int target;		/* node every page of the phase goes to */
	uint16_t tick;
	struct migrate_round *r;
	size_t moved;		/* items that moved, all calls */
	size_t pos;		/* next plan item to look at */
	bool stop;		/* no more calls this phase */
};

/* Internal status: not moved through no fault of the page's; retried later. */
#define ST_NOT_TRIED (INT_MIN + 1)
/* where[i] when nothing new was learnt about the page's node. */
#define WHERE_NONE INT_MIN

static int
valid_node(int node)
{
	return node >= 0 && node < TOPO_MAX_NODES;
}

/*
 * Some statuses are still unset after a move: ask where those pages are.
 * One already on the target moved; one elsewhere did not, for the reason
 * the call gave (unset_err), and where[] records its node; one that
 * vanished (or hides: see the top of the file) gets the query's
 * -ENOENT/-EFAULT, taken by apply_status as a move's.  If even the query
 * fails, the node is forgotten (-1) so that migrate_query looks again.
 * The whole chunk is queried: a page-table walk per page is cheap next
 * to the move, and it keeps pages[] as it is.
 */
static void
verify_unset(struct migrator *m, uint32_t pid, size_t n, int target,
    int unset_err)
{
	long rc;

	rc = call(m, pid, n, NULL, m->where);
	if (rc >= 0)
		m->st.queried += n;
	for (size_t i = 0; i < n; i++) {
		int q = rc < 0 ? -1 : m->where[i];

		m->where[i] = WHERE_NONE;
		if (m->status[i] != MIGRATE_ST_UNSET)
			continue;
		if (q == target) {
			m->status[i] = target;
		} else if (q == -ENOENT || q == -EFAULT) {
			m->status[i] = q;
		} else {
			m->status[i] = unset_err;
			m->where[i] = valid_node(q) ? q : -1;
		}
	}
}

/* A node learnt for the entry (-1: forgotten); a known one clears MISSING. */
static void
set_node(struct heat_entry *e, int node)
{
	e->node = (int8_t)node;
	if (node >= 0)
		e->flags &= (uint8_t)~HEAT_F_MISSING;
}

/*
 * -EFAULT or -ENOENT (s) for the page of key, tracked as e (NULL: not
 * tracked): counted, then see the top of the file.
 */
static void
missing_status(struct migrator *m, struct heat *h, struct heat_entry *e,
    uint64_t key, int s)
{
	if (s == -ENOENT)
		m->st.err_noent++;
	else
		m->st.err_fault++;
	if (e == NULL)
		return;
	if (e->flags & HEAT_F_MISSING) {
		heat_drop(h, key);
		return;
	}
	e->flags |= HEAT_F_MISSING;
	e->node = -1;
}

/* Fold one page's status into the heat table, the stats and the round. */
static void
apply_status(struct migrator *m, struct heat *h, const struct plan_item *it,
    int s, int where, struct phase *ph)
{
	static struct ratelimit rl;
	struct heat_entry *e = heat_lookup(h, it->key);
	uint64_t npages = heat_key_npages(it->key);
	uint64_t bytes = npages << HEAT_PAGE_SHIFT;

	if (s == ph->target) {
		if (e != NULL) {
			set_node(e, s);
			e->moved = ph->tick;
		}
		ph->moved++;
		if (ph->promote) {
			m->st.promoted_pages += npages;
			m->st.promoted_bytes += bytes;
			ph->r->promoted_bytes += bytes;
		} else {
			m->st.demoted_pages += npages;
			m->st.demoted_bytes += bytes;
			ph->r->demoted_bytes += bytes;
		}
		return;
	}
	if (e != NULL && where != WHERE_NONE)
		set_node(e, where);
	switch (s) {
	case ST_NOT_TRIED:
		break;
	case -EBUSY:
		m->st.err_busy++;
		break;
	case -ENOENT:
	case -EFAULT:
		missing_status(m, h, e, it->key, s);
		break;
	case -ENOMEM:
		m->st.err_nomem++;
		ph->r->nomem = true;
		ph->stop = true;
		break;
	case -EACCES:
		m->st.err_acces++;
		if (e != NULL)
			e->flags |= HEAT_F_PINNED;
		break;
	default:
		m->st.err_other++;
		if (valid_node(s)) {
			/* Reported success elsewhere: believe where it says. */
			if (e != NULL)
				set_node(e, s);
			break;
		}
		/* -EINVAL and the like: this page will not move; stop trying. */
		if (e != NULL)
			e->flags |= HEAT_F_PINNED;
		if (ratelimit_ok(&rl, 10))
			log_warnx("move_pages: pid %u page 0x%llx: status %d",
			    heat_key_pid(it->key),
			    (unsigned long long)heat_key_addr(it->key), s);
		break;
	}
}

/* One move_pages call for n items of one process. */
static void
move_chunk(struct migrator *m, struct heat *h, uint32_t pid,
    const struct plan_item *it, size_t n, struct phase *ph)
{
	static struct ratelimit rl_perm, rl_other;
	uint64_t bytes = 0;
	bool unset = false;
	int unset_err;
	long rc;

	for (size_t i = 0; i < n; i++) {
		m->pages[i] = (void *)(uintptr_t)heat_key_addr(it[i].key);
		m->npages[i] = heat_key_npages(it[i].key);
		m->nodes[i] = ph->target;
		m->where[i] = WHERE_NONE;
		bytes += (uint64_t)m->npages[i] << HEAT_PAGE_SHIFT;
	}
	rc = call(m, pid, n, m->nodes, m->status);
	switch (rc) {
	case -ESRCH:
		m->st.err_srch++;
		heat_drop_pid(h, pid);
		skip_pid(m, pid);
		return;
	case -EPERM:
		m->st.err_perm++;
		if (ratelimit_ok(&rl_perm, 10))
			log_warnx("move_pages: pid %u: not permitted; skipped "
			    "this round", pid);
		skip_pid(m, pid);
		return;
	case -EINVAL:
		/* An exiting process (a zombie has no mm) says -EINVAL until reaped. */
		m->st.err_other++;
		log_debug("move_pages: pid %u: invalid (exiting?); skipped", pid);
		skip_pid(m, pid);
		return;
	}
	tbucket_take(&m->tb, bytes);
	if (rc == -ENOMEM) {
		ph->r->nomem = true;
		ph->stop = true;
		unset_err = -ENOMEM;
	} else if (rc < 0) {
		/* -ENODEV, -EACCES (cpuset): the target is unusable for all. */
		m->st.err_other++;
		if (ratelimit_ok(&rl_other, 10))
			log_warnx("move_pages: pid %u to node %d: %s", pid,
			    ph->target, strerror((int)-rc));
		ph->stop = true;
		unset_err = ST_NOT_TRIED;
	} else {
		unset_err = -EBUSY;
	}
	for (size_t i = 0; i < n; i++)
		if (m->status[i] == MIGRATE_ST_UNSET)
			unset = true;
	if (unset)
		verify_unset(m, pid, n, ph->target, unset_err);
	for (size_t i = 0; i < n; i++)
		apply_status(m, h, &it[i], m->status[i], m->where[i], ph);
}

/*
 * Take plan items from ph->pos up to end in order while the bucket and
 * limit (bytes this call may move) allow, then move them per process in
 * bounded calls.  ph->pos ends past the items looked at; a stopped phase
 * takes nothing more.
 */
static int
run_phase(struct migrator *m, struct heat *h, const struct plan_item *plan,
    size_t end_item, int64_t limit, struct phase *ph)
{
	struct plan_item *items;
	uint64_t *order, avail, taken_bytes = 0;
	size_t ntaken = 0, i, j, n;
	int rc;

	if (ph->stop || ph->pos >= end_item)
		return 0;
	n = end_item - ph->pos;
	if (ph->target < 0) {
		log_debug("migrate: no %s node; %zu items left",
		    ph->promote ? "fast" : "slow", n);
		ph->stop = true;
		return 0;
	}
	items = grow(m->items, &m->items_cap, n, sizeof(*m->items));
	if (items == NULL) {
		rc = -ENOMEM;
		goto err;
	}
	m->items = items;
	order = grow(m->order, &m->order_cap, n, sizeof(*m->order));
	if (order == NULL) {
		rc = -ENOMEM;
		goto err;
	}
	m->order = order;
	avail = tbucket_avail(&m->tb);
	for (i = ph->pos; i < end_item; i++) {
		const struct plan_item *it = &plan[i];
		const struct heat_entry *e = heat_lookup(h, it->key);
		uint64_t bytes = (uint64_t)heat_key_npages(it->key) << HEAT_PAGE_SHIFT;

		/* Dropped or pinned since planning (an earlier status said so). */
		if (e == NULL || (e->flags & HEAT_F_PINNED))
			continue;
		if (bytes > avail - taken_bytes) {
			ph->r->out_of_tokens = true;
			break;
		}
		if (limit < 0 || taken_bytes + bytes > (uint64_t)limit)
			break;
		/* a plan holds at most its cap (<= 2^20) items of each kind */
		m->order[ntaken++] = (uint64_t)heat_key_pid(it->key) << 32 | i;
		taken_bytes += bytes;
	}
	ph->pos = i;
	if (ntaken > 1)
		qsort(m->order, ntaken, sizeof(*m->order), cmp_u64);
	for (i = 0; i < ntaken; i++)
		m->items[i] = plan[m->order[i] & UINT32_MAX];

	for (i = 0; i < ntaken && !ph->stop; i = j) {
		uint32_t pid = heat_key_pid(m->items[i].key);
		size_t k, end;

		for (j = i; j < ntaken && heat_key_pid(m->items[j].key) == pid; j++)
			;
		for (k = i; k < j && !ph->stop && !pid_skipped(m, pid); k = end) {
			uint64_t pages = 0;

			/* At most pages_per_call base pages, at least one item. */
			for (end = k; end < j; end++) {
				uint32_t np = heat_key_npages(m->items[end].key);

				if (end > k && pages + np > m->pages_per_call)
					break;
				pages += np;
			}
			if (cancelled(m)) {
				ph->r->cancelled = true;
				ph->stop = true;
				break;
			}
			if (past_deadline(m)) {
				ph->r->cut = true;
				ph->stop = true;
				break;
			}
			move_chunk(m, h, pid, &m->items[k], end - k, ph);
		}
	}
	return 0;
err:
	return rc;
}

/*
 * What promotions may add now: room + demoted - promoted, and for swap
 * pairs, over budget (room < 0), demoted - promoted: fast usage does not
 * grow.  Negative when nothing may come in (run_phase then takes none).
 */
static int64_t
promote_limit(const struct migrate_round *r, int64_t room, bool pairs)
{
	int64_t in, out;

	if (pairs && room < 0)
		room = 0;
	in = r->demoted_bytes > (uint64_t)INT64_MAX ? INT64_MAX :
	    (int64_t)r->demoted_bytes;
	out = r->promoted_bytes > (uint64_t)INT64_MAX ? INT64_MAX :
	    (int64_t)r->promoted_bytes;
	in = room > INT64_MAX - in ? INT64_MAX : room + in;
	return in - out;	/* >= -2^63 + 1: both are bounded above */
}

int
migrate_execute(struct migrator *m, struct heat *h, const struct plan *p,
    const struct topo *t, int64_t room, uint16_t tick, uint64_t now_ns,
    struct migrate_round *r)
{
	struct phase dp, pp;
	uint64_t dtaken = 0, turn;
	bool promoting = false;
	int rc;

	memset(r, 0, sizeof(*r));
	m->nskip = 0;
	m->online_mask = t->online_mask;
	m->fast_mask = t->fast_mask;
	m->slow_mask = t->slow_mask;
	tbucket_refill(&m->tb, now_ns);
	rc = reserve_call(m);
	if (rc < 0)
		goto err;

	dp = (struct phase){ .promote = false, .tick = tick, .r = r,
	    .target = topo_pick(t, t->slow_mask) };
	pp = (struct phase){ .promote = true, .tick = tick, .r = r,
	    .target = topo_pick(t, t->fast_mask) };

	/*
	 * Swap pairs in turns: a call's worth of their demotions, then the
	 * promotions what really left makes room for.  A full slow node
	 * (-ENOMEM) stops only demotions: promoting frees slow memory, it
	 * does not need any.
	 */
	turn = (uint64_t)MAX(m->pages_per_call, 1u) << HEAT_PAGE_SHIFT;
	while ((dtaken < p->swap_bytes || pp.pos < p->nswap) &&
	    !r->cancelled && !r->cut) {
		size_t d0 = dp.pos, p0 = pp.pos;

		if (dtaken < p->swap_bytes && !dp.stop) {
			rc = run_phase(m, h, p->demote, p->ndemote,
			    (int64_t)MIN(p->swap_bytes - dtaken, turn), &dp);
			if (rc < 0)
				goto err;
			for (size_t i = d0; i < dp.pos; i++)
				dtaken += (uint64_t)p->demote[i].npages << HEAT_PAGE_SHIFT;
			if (r->cancelled || r->cut)
				break;
		}
		promoting = true;
		rc = run_phase(m, h, p->promote, p->nswap,
		    promote_limit(r, room, true), &pp);
		if (rc < 0)
			goto err;
		if ((dp.pos == d0 && pp.pos == p0) || pp.stop)
			break;
	}

	/*
	 * The rest: demotions (they make the room), then promotions from the
	 * first pair not taken (hotter than the rest).
	 */
	if (!r->cancelled && !r->cut &&
	    (rc = run_phase(m, h, p->demote, p->ndemote, INT64_MAX, &dp)) < 0)
		goto err;
	if (!r->cancelled && !r->cut) {
		promoting = true;
		rc = run_phase(m, h, p->promote, p->npromote,
		    promote_limit(r, room, false), &pp);
		if (rc < 0)
			goto err;
	}
	/* items not moved: of every phase that ran */
	r->failed = p->ndemote - dp.moved +
	    (promoting ? p->npromote - pp.moved : 0);
	return 0;
err:
	return rc;
}

/* ---- query ---- */

/* Ask where n pages of one process are.  Resolved count or -errno. */
static int
query_chunk(struct migrator *m, struct heat *h, uint32_t pid,
    const struct plan_item *it, size_t n)
{
	static struct ratelimit rl;
	int resolved = 0;
	long rc;

	for (size_t i = 0; i < n; i++) {
		m->pages[i] = (void *)(uintptr_t)heat_key_addr(it[i].key);
		m->npages[i] = heat_key_npages(it[i].key);
	}
	rc = call(m, pid, n, NULL, m->status);
	if (rc < 0) {
		if (rc == -ESRCH) {
			m->st.err_srch++;
			heat_drop_pid(h, pid);
		} else if (rc == -EINVAL) {
			/* A zombie: dropped once reaped, when this turns -ESRCH. */
			m->st.err_other++;
			log_debug("move_pages: query pid %u: invalid (exiting?)", pid);
		} else {
			if (rc == -EPERM)
				m->st.err_perm++;
			else
				m->st.err_other++;
			if (ratelimit_ok(&rl, 10))
				log_warnx("move_pages: query pid %u: %s", pid,
				    strerror((int)-rc));
		}
		return (int)rc;
	}
	m->st.queried += n;
	for (size_t i = 0; i < n; i++) {
		int s = m->status[i];
		struct heat_entry *e;

		if (valid_node(s)) {
			e = heat_lookup(h, it[i].key);
			if (e != NULL) {
				set_node(e, s);
				resolved++;
			}
		} else if (s == -ENOENT || s == -EFAULT) {
			missing_status(m, h, heat_lookup(h, it[i].key),
			    it[i].key, s);
		} else {
			/* Left unknown; the scan moves on, so it cannot starve others. */
			m->st.err_other++;
		}
	}
	return resolved;
}

int
migrate_query(struct migrator *m, struct heat *h, size_t max)
{
	const struct heat_entry *slots;
	const uint64_t *occ;
	struct plan_item *items;
	size_t nslots, nw, w0, hand, n = 0, i, j, k, cnt;
	int resolved = 0, rc;

	slots = heat_slots(h, &nslots);
	occ = heat_occupied(h);
	if (nslots == 0 || max == 0)
		return 0;
	rc = reserve_call(m);
	if (rc < 0)
		goto err;
	/*
	 * Scan from where the last query stopped, so that entries the kernel
	 * cannot place do not hold the front of the table for ever: the
	 * entries (the occupancy bitmap's set bits) from the hand's slot to
	 * the end, then from the start back to the hand.
	 */
	if (m->query_hand >= nslots)
		m->query_hand = 0;
	hand = m->query_hand;
	nw = (nslots + 63) / 64;
	w0 = hand / 64;
	for (size_t pass = 0; pass <= nw && n < max; pass++) {
		size_t w = (w0 + pass) % nw;
		uint64_t bits = occ[w];

		if (pass == 0)
			bits &= ~0ULL << (hand % 64);
		else if (pass == nw)
			bits &= (1ULL << (hand % 64)) - 1;
		for (; bits != 0 && n < max; bits &= bits - 1) {
			i = w * 64 + (size_t)__builtin_ctzll(bits);
			if (slots[i].node >= 0)
				continue;
			items = grow(m->items, &m->items_cap, n + 1,
			    sizeof(*m->items));
			if (items == NULL) {
				rc = -ENOMEM;
				goto err;
			}
			m->items = items;
			m->items[n].key = slots[i].key;
			m->items[n].heat = 0;
			m->items[n].npages = heat_key_npages(slots[i].key);
			n++;
			/* a full batch: the next query starts after it */
			if (n == max)
				m->query_hand = i + 1 == nslots ? 0 : i + 1;
		}
	}
	if (n > 1)
		qsort(m->items, n, sizeof(*m->items), cmp_item);

	for (i = 0; i < n; i = j) {
		uint32_t pid = heat_key_pid(m->items[i].key);

		for (j = i; j < n && heat_key_pid(m->items[j].key) == pid; j++)
			;
		/* A query costs no copying: count addresses, not pages. */
		for (k = i; k < j && !cancelled(m); k += cnt) {
			cnt = MIN(j - k, (size_t)m->pages_per_call);
			rc = query_chunk(m, h, pid, &m->items[k], cnt);
			if (rc < 0)
				break;
			resolved += rc;
		}
	}
	return resolved;
err:
	return rc;
}
