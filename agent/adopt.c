/*
 * adopt.c - adopt untracked pages on the fast nodes (see adopt.h).
 *
 * A pass visits managed pids in increasing order.  For each it reads
 * /proc/PID/maps and /proc/PID/numa_maps once and keeps the private
 * mappings numa_maps shows with pages on a fast node (adopt_parse_vmas);
 * then it walks them a chunk at a time, never across a 2 MiB boundary, so
 * a chunk lies in at most one THP, and leaves a mapping early once it
 * has found as many pages on fast as numa_maps counted there:
 *  - a region tracked as a THP is skipped whole;
 *  - pagemap (Documentation/admin-guide/mm/pagemap.rst, read through
 *    pagemap.c; the adopter's file is closed when it leaves a pid) gives,
 *    per page, bit 63 present, bit 61 file page or shared anonymous, bit
 *    56 mapped exclusively, bits 0-54 the page frame (0 without
 *    CAP_SYS_ADMIN).
 *    Only present, anonymous, exclusive pages are considered: a page
 *    cache page or one shared after fork is one move_pages refuses to
 *    move for a single process (-EACCES), and adopting it would only
 *    pin an entry;
 *  - of those, only pages the table does not track are asked about:
 *    move_pages(pid, n, pages, NULL, status) returns each one's node
 *    (a tracked page's node is in its entry), so a later pass over
 *    pages already known costs the pagemap read and the lookups;
 *  - a page on a fast node is adopted; if its frame is part of a THP, as
 *    one 2 MiB entry, which covers the rest of the chunk.
 * The kernel's answers race with the process (unmapped, faulted,
 * migrated in between): an adopted page that has gone is dropped by the
 * migrator when it tries to move it (-ENOENT/-EFAULT), as for a sampled
 * one.
 */
#include <errno.h>
#include <fcntl.h>
#include <numa.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "adopt.h"
#include "heat.h"
#include "pagemap.h"
#include "proc.h"
#include "thp.h"
#include "worker.h"

#define PAGE		4096ULL
#define CHUNK		HEAT_THP_PAGES		/* pages per pagemap read */
#define THP_BYTES	(1ULL << HEAT_THP_SHIFT)
#define FILE_MAX	(64u << 20)		/* maps/numa_maps larger: skipped */
#define TEXT_KEEP	(1u << 20)		/* text buffers kept between pids */
/* with PAGEMAP_FILE clear: an anonymous page move_pages can move alone */
#define MOVABLE		(PAGEMAP_PRESENT | PAGEMAP_EXCLUSIVE)

struct text {
	char *buf;
	size_t len, cap;
};

struct adopter {
	char procfs[256];
	struct procs *procs;
	struct thp *thp;
	struct pagemap *pagemap;	/* adoption's own cache */
	uint64_t pages_per_s;
	uint64_t next_ns;	/* the next pass starts no sooner */
	uint64_t first_ns;	/* nor before this (created with it) */
	uint64_t last_ns;	/* the last step */
	uint64_t pass_adopted;
	bool settled;		/* see adopt_settled */
	const atomic_bool *cancel;

	/* the process being walked (pid 0: between passes) */
	uint32_t pid;
	struct adopt_vma *vma;
	size_t nvma, vma_cap, vi;
	uint64_t addr;		/* next address to walk */
	uint64_t seen;		/* pages of this mapping found on fast */

	struct text maps, numa;
	uint64_t pm[CHUNK];
	void *pages[CHUNK];
	int status[CHUNK];
	uint64_t pfn[CHUNK];
	struct adopt_stats st;
};

int
adopt_create(struct adopter **ap, const char *procfs, struct procs *procs,
    struct thp *thp, uint64_t pages_per_s, uint64_t first_ns)
{
	struct adopter *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -ENOMEM;
	if (pagemap_open(&a->pagemap, procfs) < 0) {
		free(a);
		return -ENOMEM;
	}
	snprintf(a->procfs, sizeof(a->procfs), "%s", procfs);
	a->procs = procs;
	a->thp = thp;
	a->pages_per_s = pages_per_s;
	a->next_ns = a->first_ns = first_ns;
	*ap = a;
	return 0;
}

void
adopt_destroy(struct adopter *a)
{
	if (a == NULL)
		return;
	pagemap_close(a->pagemap);
	free(a->vma);
	free(a->maps.buf);
	free(a->numa.buf);
	free(a);
}

const struct adopt_stats *
adopt_stats(const struct adopter *a)
{
	return &a->st;
}

bool
adopt_settled(const struct adopter *a)
{
	return a->pid == 0 && a->settled;
}

void
adopt_set_cancel(struct adopter *a, const atomic_bool *flag)
{
	a->cancel = flag;
}

static bool
cancelled(const struct adopter *a)
{
	return worker_cancelled(a->cancel);
}

/* Parsing: bounded by end, no NUL needed (the fuzzer passes none). */

static bool
next_line(const char **p, const char *end, const char **ls, const char **le)
{
	const char *nl;

	if (*p >= end)
		return false;
	*ls = *p;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	*le = nl ? nl : end;
	*p = nl ? nl + 1 : end;
	return true;
}

/* 1 to 16 hex digits. */
static bool
get_hex(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;

	for (; *p < end && *p - s < 17; (*p)++) {
		char c = **p;
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			break;
		x = x << 4 | d;
	}
	*v = x;
	return *p > s && *p - s <= 16;
}

/* 1 to 19 decimal digits. */
static bool
get_dec(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;

	for (; *p < end && **p >= '0' && **p <= '9' && *p - s < 20; (*p)++)
		x = x * 10 + (uint64_t)(**p - '0');
	*v = x;
	return *p > s && *p - s <= 19;
}

/* A maps line: "start-end perms ...": range and whether it is private. */
static bool
maps_line(const char *p, const char *end, uint64_t *start, uint64_t *stop,
    bool *private)
{
	if (!get_hex(&p, end, start) || p >= end || *p++ != '-' ||
	    !get_hex(&p, end, stop) || end - p < 5 || *p != ' ')
		return false;
	*private = p[4] == 'p';
	return true;
}

/* numa_maps' counts of one mapping */
struct numa_counts {
	uint64_t start;
	uint64_t fast, all;	/* pages on fast nodes, on any node */
	bool base_pages;	/* kernelpagesize_kB=4 (or not said) */
};

/* Token at p (up to end) starts with the literal s: skip past it. */
static bool
skip_lit(const char **p, const char *end, const char *s)
{
	size_t n = strlen(s);

	if ((size_t)(end - *p) < n || memcmp(*p, s, n) != 0)
		return false;
	*p += n;
	return true;
}

/*
 * A numa_maps line: "start policy ... N<node>=<pages> ...
 * kernelpagesize_kB=<n>".  Counts are summed without overflow: a line
 * claiming more pages than fit is as good as sparse-proof.
 */
static bool
numa_line(const char *p, const char *end, uint64_t fast_mask,
    struct numa_counts *nc)
{
	memset(nc, 0, sizeof(*nc));
	nc->base_pages = true;
	if (!get_hex(&p, end, &nc->start) || p >= end || *p != ' ')
		return false;
	while ((p = memchr(p, ' ', (size_t)(end - p))) != NULL) {
		uint64_t node, n;

		p++;
		if (skip_lit(&p, end, "kernelpagesize_kB=")) {
			nc->base_pages = get_dec(&p, end, &n) && n == 4;
			continue;
		}
		if (end - p < 2 || p[0] != 'N' || p[1] < '0' || p[1] > '9')
			continue;
		p++;
		if (!get_dec(&p, end, &node) || p >= end || *p != '=')
			continue;
		p++;
		if (!get_dec(&p, end, &n))
			continue;
		nc->all = n > UINT64_MAX - nc->all ? UINT64_MAX : nc->all + n;
		if (node < 64 && (fast_mask >> node & 1))
			nc->fast = n > UINT64_MAX - nc->fast ? UINT64_MAX :
			    nc->fast + n;
	}
	return true;
}

size_t
adopt_parse_vmas(const char *maps, size_t maps_len, const char *numa,
    size_t numa_len, uint64_t fast_mask, struct adopt_vma *out, size_t cap)
{
	const char *mp = maps, *mend = maps + maps_len;
	const char *np = numa, *nend = numa + numa_len, *ls, *le;
	struct numa_counts nc = { 0 };
	uint64_t prev_end = 0;
	bool have = false;
	size_t n = 0;

	while (next_line(&mp, mend, &ls, &le)) {
		uint64_t start, stop;
		bool private;

		if (!maps_line(ls, le, &start, &stop, &private))
			continue;
		/* numa_maps lists the same mappings, in the same order */
		while (!have || nc.start < start) {
			if (!next_line(&np, nend, &ls, &le))
				break;
			have = numa_line(ls, le, fast_mask, &nc);
		}
		if (!have || nc.start != start || nc.fast == 0 || !private ||
		    !nc.base_pages)
			continue;
		if (start >= stop || stop > HEAT_ADDR_LIMIT ||
		    (start | stop) % PAGE != 0 || start < prev_end ||
		    (stop - start) / PAGE / ADOPT_SPARSE > nc.all)
			continue;
		if (n < cap) {
			out[n].start = start;
			out[n].end = stop;
			out[n].fast = nc.fast;
		}
		n++;
		prev_end = stop;
	}
	return n;
}

/* Read a whole procfs file into t.  0 or -errno. */
static int
slurp(const char *path, struct text *t)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	ssize_t r;

	if (fd < 0)
		return -errno;
	t->len = 0;
	for (;;) {
		if (t->cap - t->len < 4096) {
			size_t ncap = t->cap ? t->cap * 2 : 65536;
			char *nb;

			if (ncap > FILE_MAX) {
				rc = -EFBIG;
				break;
			}
			if ((nb = realloc(t->buf, ncap)) == NULL) {
				rc = -ENOMEM;
				break;
			}
			t->buf = nb;
			t->cap = ncap;
		}
		if ((r = read(fd, t->buf + t->len, t->cap - t->len)) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		t->len += (size_t)r;
	}
	close(fd);
	return rc;
}

/* Free a text buffer grown past TEXT_KEEP (it is read again next pass). */
static void
text_trim(struct text *t)
{
	if (t->cap > TEXT_KEEP) {
		free(t->buf);
		memset(t, 0, sizeof(*t));
	}
}

static void
leave_pid(struct adopter *a)
{
	if (a->pid != 0)
		pagemap_forget(a->pagemap, a->pid);
	a->nvma = a->vi = 0;
}

/*
 * Set up the walk of pid: its mappings.  0 or -errno.  Its pagemap is
 * opened by the first read (scan_chunk).
 */
static int
enter_pid(struct adopter *a, uint32_t pid, uint64_t fast_mask)
{
	char path[300];
	size_t n;
	int rc;

	snprintf(path, sizeof(path), "%s/%u/maps", a->procfs, pid);
	if ((rc = slurp(path, &a->maps)) < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/%u/numa_maps", a->procfs, pid);
	if ((rc = slurp(path, &a->numa)) < 0)
		return rc;
	n = adopt_parse_vmas(a->maps.buf, a->maps.len, a->numa.buf,
	    a->numa.len, fast_mask, a->vma, a->vma_cap);
	if (n > a->vma_cap) {
		struct adopt_vma *v = realloc(a->vma, n * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		a->vma = v;
		a->vma_cap = n;
		n = adopt_parse_vmas(a->maps.buf, a->maps.len, a->numa.buf,
		    a->numa.len, fast_mask, a->vma, a->vma_cap);
		n = n < a->vma_cap ? n : a->vma_cap;
	}
	/* a process with a great many mappings: do not keep its text */
	text_trim(&a->maps);
	text_trim(&a->numa);
	a->nvma = n;
	a->vi = 0;
	a->addr = 0;
	a->seen = 0;
	return 0;
}

/* Move on to the next managed pid after the current one (0: pass over). */
static void
next_pid(struct adopter *a, uint64_t fast_mask)
{
	int rc;

	leave_pid(a);
	while ((a->pid = proc_next_managed(a->procs, a->pid)) != 0) {
		if ((rc = enter_pid(a, a->pid, fast_mask)) == 0)
			return;
		leave_pid(a);
		if (rc == -ENOMEM)
			log_warnx("adopt: pid %u: out of memory", a->pid);
		else
			log_debug("adopt: pid %u skipped: %s", a->pid,
			    strerror(-rc));
	}
}

static inline bool
on_fast(int node, uint64_t fast_mask)
{
	return node >= 0 && node < 64 && (fast_mask >> node & 1);
}

/* The table holds as much as adoption may fill. */
static bool
table_full(const struct heat *h)
{
	return heat_size(h) * ADOPT_FILL_DEN >= heat_capacity(h) * ADOPT_FILL_NUM;
}

/*
 * Adopt what is untracked on fast in the n pages at addr (one 2 MiB
 * region at most), adding the 4 KiB pages adopted to *adopted.  0,
 * -ESRCH (the process went away) or another -errno of opening its pagemap
 * (skip it), -ENOSPC (the table is full enough) or -ENOMEM (move_pages).
 */
static int
scan_chunk(struct adopter *a, struct heat *h, uint64_t fast_mask,
    uint64_t addr, size_t n, uint64_t *adopted)
{
	const struct heat_entry *e;
	size_t k = 0;
	int thp = -1, rc;

	/* tracked as a THP: so is the whole chunk (one 2 MiB region) */
	if ((e = heat_lookup(h, heat_key(a->pid, addr, true))) != NULL) {
		a->seen += on_fast(e->node, fast_mask) ? n : 0;
		return 0;
	}
	if ((rc = pagemap_read(a->pagemap, a->pid, addr, a->pm, n)) < 0)
		/* not -ENOMEM, which ends the pass: a process to skip */
		return rc == -ENOMEM ? -ESRCH : rc;
	/* the kernel is asked only about pages the table does not know */
	for (size_t i = 0; i < n; i++) {
		uint64_t pm = a->pm[i], va = addr + i * PAGE;

		if ((pm & (MOVABLE | PAGEMAP_FILE)) != MOVABLE)
			continue;
		if ((e = heat_lookup(h, heat_key(a->pid, va, false))) != NULL) {
			a->seen += on_fast(e->node, fast_mask);
			continue;
		}
		a->pages[k] = (void *)(uintptr_t)va;
		a->pfn[k++] = pm & PAGEMAP_PFN_MASK;
	}
	if (k == 0)
		return 0;
	if (numa_move_pages((int)a->pid, k, a->pages, NULL, a->status, 0) < 0)
		return errno == ENOMEM ? -ENOMEM : -ESRCH;
	a->st.queried += k;
	for (size_t j = 0; j < k; j++) {
		uint64_t va = (uintptr_t)a->pages[j], key;
		int node = a->status[j];

		if (!on_fast(node, fast_mask))
			continue;
		a->seen++;
		/* ask whether the region is a THP once, for its first page */
		if (thp < 0)
			thp = a->thp != NULL && a->pfn[j] != 0 &&
			    thp_frame(a->thp, a->pfn[j]) == 1;
		key = heat_key(a->pid, va, thp);
		if (key == 0)
			continue;
		if (table_full(h))
			return -ENOSPC;
		if ((rc = heat_adopt(h, key, node)) == -ENOSPC)
			return rc;
		if (rc > 0)
			*adopted += heat_key_npages(key);
		if (thp) {
			a->seen += k - j - 1;
			break;
		}
	}
	return 0;
}

/* End the pass; the next waits ADOPT_IDLE_NS unless this one paid. */
static void
end_pass(struct adopter *a, uint64_t now_ns, bool finished)
{
	static struct ratelimit rl;

	if (finished && a->pass_adopted && ratelimit_ok(&rl, 60))
		log_info("adopt: a pass took in %llu untracked pages (%llu MiB) "
		    "on the fast nodes (%llu in all)",
		    (unsigned long long)a->pass_adopted,
		    (unsigned long long)(a->pass_adopted >> 8),
		    (unsigned long long)a->st.adopted);
	leave_pid(a);
	a->pid = 0;
	a->st.passes += finished;
	/* a full table (or no memory) ends passes early: nothing more to do */
	a->settled = !finished || a->pass_adopted == 0;
	a->next_ns = now_ns + (finished && a->pass_adopted ? 0 : ADOPT_IDLE_NS);
}

void
adopt_wake(struct adopter *a)
{
	if (a->pid == 0)
		a->next_ns = MIN(a->next_ns, a->first_ns);
}

long
adopt_step(struct adopter *a, struct heat *h, uint64_t fast_mask,
    uint64_t now_ns)
{
	uint64_t dt = a->last_ns && now_ns > a->last_ns ? now_ns - a->last_ns : 0;
	uint64_t allow, adopted = 0;
	int rc = 0;

	a->last_ns = now_ns;
	if (a->pid == 0 && now_ns < a->next_ns)
		return 0;
	if (table_full(h)) {
		end_pass(a, now_ns, false);
		return 0;
	}
	/* at most a second's worth; the first step gets a 20th of one */
	dt = dt == 0 ? 50000000ULL : MIN(dt, 1000000000ULL);
	allow = MAX(a->pages_per_s * dt / 1000000000ULL, 1);
	if (a->pid == 0) {
		/* idle processes are never sampled: find them here */
		a->pass_adopted = 0;
		a->settled = false;
		(void)proc_scan(a->procs);
		next_pid(a, fast_mask);
	}
	while (allow > 0 && a->pid != 0 && !table_full(h) && !cancelled(a)) {
		const struct adopt_vma *v;
		uint64_t end;
		size_t n;

		if (a->vi >= a->nvma) {
			/* reading a process's mappings counts as a chunk */
			allow -= MIN(allow, CHUNK);
			next_pid(a, fast_mask);
			continue;
		}
		v = &a->vma[a->vi];
		a->addr = MAX(a->addr, v->start);
		/* past its end, or every page numa_maps saw on fast found */
		if (a->addr >= v->end || a->seen >= v->fast) {
			a->addr = v->end;
			a->seen = 0;
			a->vi++;
			continue;
		}
		end = MIN(v->end, (a->addr & ~(THP_BYTES - 1)) + THP_BYTES);
		n = (size_t)MIN((end - a->addr) / PAGE, allow);
		rc = scan_chunk(a, h, fast_mask, a->addr, n, &adopted);
		a->st.walked += n;
		allow -= n;
		a->addr += n * PAGE;
		if (rc == -ENOSPC || rc == -ENOMEM)
			break;
		if (rc < 0) {
			log_debug("adopt: pid %u skipped: %s", a->pid,
			    strerror(-rc));
			next_pid(a, fast_mask);
		}
	}
	a->st.adopted += adopted;
	a->pass_adopted += adopted;
	if (rc == -ENOMEM)
		log_warnx("adopt: move_pages: out of memory");
	if (a->pid == 0)
		end_pass(a, now_ns, true);
	else if (rc == -ENOSPC || rc == -ENOMEM || table_full(h))
		end_pass(a, now_ns, false);
	return (long)adopted;
}
