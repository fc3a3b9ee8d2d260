/*
 * guest_migrate.c - migration throughput inside the two-node test guest
 * (tests/bench/guest.sh boots it; make bench runs that).  A buffer
 * first-touched on the slow node (node 1, memory only) is moved to the
 * fast node (node 0) by three methods, each timed in the same run:
 *
 *   vtier               the agent's migrator: heat entries for every page,
 *                       a plan promoting all of them, migrate_execute on the
 *                       move_pages backend (1024 pages a call, no rate
 *                       limit); pages left behind (-EBUSY) go into another
 *                       round, as the agent would do next tick;
 *   numa_migrate_pages  libnuma's migrate_pages(2) from node 1 to node 0 for
 *                       the whole process, what numactl's `migratepages`
 *                       does;
 *   move_pages per page one move_pages(2) call per 4 KiB page.
 *
 * Between timed moves every page goes back to node 1 (not timed).  After
 * each move every base page must be on node 0 (move_pages with nodes =
 * NULL) and every word of the buffer must hold its pattern; otherwise the
 * program prints FAIL and exits 1.  Rounds interleave the methods, the
 * best of REPS rounds counts.  A 4 KiB-page run (MADV_NOHUGEPAGE) always,
 * a THP run (MADV_HUGEPAGE) with -H; pages/s are 4 KiB pages in both.
 * Under TCG the absolute numbers mean nothing; the ratios are the result.
 *
 * Exit: 0 measured, 1 FAIL, 2 usage, 77 skip (fewer than two nodes).
 */
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "heat.h"
#include "migrate.h"
#include "policy.h"
#include "thp.h"
#include "topo.h"
#include "vtier/log.h"
#include "vtier/util.h"

#define PG		4096ULL
#define HPG		(2 * MiB)
#define PAGES_PER_CALL	1024	/* the agent's default ([migrate] pages_per_call) */
#define MAX_ROUNDS	8	/* retry rounds for pages a move left behind */
#define PLACE_ROUNDS	16
#define NSEC		1e9

enum method { M_VTIER, M_NMP, M_PERPAGE, M_COUNT };

static const char *const method_name[M_COUNT] = {
	"vtier", "numa_migrate_pages", "move_pages per page",
};

struct bench {
	char *raw;		/* the mapping */
	size_t raw_len;
	char *buf;		/* the measured buffer, 2 MiB-aligned */
	size_t bytes;
	size_t npages;		/* 4 KiB pages in buf */
	bool thp;
	void **pages;		/* every base page of buf */
	void **todo;		/* pages to (re)try */
	int *status;
	int *nodes;		/* PAGES_PER_CALL copies of one node */
	struct topo topo;
	int fast, slow;
};

struct vt {
	struct heat *h;
	struct plan plan;
	struct migrator *m;
	struct thp *thp;	/* THP run only */
};

struct result {
	double best;		/* seconds, best round */
	unsigned max_rounds;	/* most retry rounds a move needed */
	uint64_t busy;		/* -EBUSY (or "not moved") seen, all rounds */
	long thp_min;		/* least AnonHugePages right after a move */
};

static bool verbose;
static uint32_t vtier_ppc = PAGES_PER_CALL;	/* -p */

static uint64_t
pattern(size_t word)
{
	uint64_t z = (uint64_t)word * 0x9e3779b97f4a7c15ULL + 0x5eed;

	z ^= z >> 31;
	return z * 0xbf58476d1ce4e5b9ULL;
}

static void
fill(struct bench *b)
{
	uint64_t *w = (uint64_t *)(void *)b->buf;

	for (size_t i = 0; i < b->bytes / sizeof(*w); i++)
		w[i] = pattern(i);
}

/* Index of the first page whose data is not what fill() wrote, or -1. */
static long
bad_page(const struct bench *b)
{
	const uint64_t *w = (const uint64_t *)(const void *)b->buf;

	for (size_t i = 0; i < b->bytes / sizeof(*w); i++)
		if (w[i] != pattern(i))
			return (long)(i * sizeof(*w) / PG);
	return -1;
}

/* AnonHugePages of the mapping that holds buf, bytes, or -errno. */
static long
thp_bytes(const void *buf)
{
	uintptr_t a = (uintptr_t)buf;
	unsigned long lo, hi, kb;
	bool in = false;
	char line[256];
	long rc = -ENOENT;
	FILE *f;

	f = fopen("/proc/self/smaps", "re");
	if (f == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = a >= lo && a < hi;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %lu kB", &kb) == 1) {
			rc = (long)(kb * 1024);
			break;
		}
	}
	fclose(f);
	return rc;
}

/* Where every base page is, into b->status.  0 or -errno. */
static int
query(struct bench *b)
{
	if (move_pages(0, b->npages, b->pages, NULL, b->status, 0) < 0)
		return -errno;
	return 0;
}

/*
 * Ask where every page is and list those not on node in b->todo (their
 * statuses stay in b->status).  Their number, or -errno.
 */
static long
off_node(struct bench *b, int node)
{
	size_t n = 0;
	int rc;

	rc = query(b);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < b->npages; i++)
		if (b->status[i] != node)
			b->todo[n++] = b->pages[i];
	return (long)n;
}

/* Move n pages of todo to node in calls of PAGES_PER_CALL.  0 or -errno. */
static int
move_list(struct bench *b, size_t n, int node)
{
	for (size_t k = 0; k < n; k += PAGES_PER_CALL) {
		size_t c = MIN(n - k, (size_t)PAGES_PER_CALL);

		for (size_t i = 0; i < c; i++)
			b->nodes[i] = node;
		/* > 0: some not moved; the caller's next query finds them */
		if (move_pages(0, c, &b->todo[k], b->nodes, b->status,
		    MPOL_MF_MOVE) < 0)
			return -errno;
	}
	return 0;
}

/* Untimed: bring every page of b to node.  0, -EAGAIN or -errno. */
static int
place_all(struct bench *b, int node)
{
	for (int round = 0; round < PLACE_ROUNDS; round++) {
		long n = off_node(b, node);
		int rc;

		if (n <= 0)
			return (int)n;
		rc = move_list(b, (size_t)n, node);
		if (rc < 0)
			return rc;
	}
	return -EAGAIN;
}

/*
 * Map and first-touch the buffer on the slow node: MPOL_BIND while
 * writing it, MPOL_DEFAULT again before anything else is allocated.
 */
static int
setup_buffer(struct bench *b, size_t bytes, bool thp)
{
	unsigned long mask = 1UL << b->slow;
	int rc;

	b->thp = thp;
	b->bytes = bytes;
	b->npages = bytes / PG;
	b->raw_len = bytes + HPG;
	b->raw = mmap(NULL, b->raw_len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->raw == MAP_FAILED) {
		b->raw = NULL;
		return -errno;
	}
	b->buf = (char *)(((uintptr_t)b->raw + HPG - 1) & ~(uintptr_t)(HPG - 1));
	if (madvise(b->buf, bytes, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) < 0)
		return -errno;
	b->pages = calloc(b->npages, sizeof(*b->pages));
	b->todo = calloc(b->npages, sizeof(*b->todo));
	b->status = calloc(b->npages, sizeof(*b->status));
	b->nodes = calloc(PAGES_PER_CALL, sizeof(*b->nodes));
	if (b->pages == NULL || b->todo == NULL || b->status == NULL ||
	    b->nodes == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < b->npages; i++)
		b->pages[i] = b->buf + i * PG;
	if (set_mempolicy(MPOL_BIND, &mask, sizeof(mask) * 8) < 0)
		return -errno;
	fill(b);
	rc = set_mempolicy(MPOL_DEFAULT, NULL, 0) < 0 ? -errno : 0;
	return rc;
}

static void
free_buffer(struct bench *b)
{
	if (b->raw != NULL)
		munmap(b->raw, b->raw_len);
	free(b->pages);
	free(b->todo);
	free(b->status);
	free(b->nodes);
	b->raw = NULL;
	b->pages = b->todo = NULL;
	b->status = b->nodes = NULL;
}

/* ---- the three methods: move all of b to the fast node, timed ---- */

/*
 * Heat entries and the plan are what the agent holds before a round; they
 * are built untimed.  THP-backed 2 MiB ranges become one THP entry, as the
 * agent's thp_check makes them.
 */
static int
vtier_plan(struct bench *b, struct vt *v)
{
	uint32_t pid = (uint32_t)getpid();
	uint64_t now = now_ns();
	size_t off = 0, n = 0;

	heat_clear(v->h);
	v->plan.promote_bytes = 0;
	while (off < b->bytes) {
		uint64_t addr = (uint64_t)(uintptr_t)(b->buf + off);
		struct heat_entry *e;
		bool thp = false;

		if (v->thp != NULL && off % HPG == 0 && off + HPG <= b->bytes)
			thp = thp_check(v->thp, pid, addr) == 1;
		e = heat_record(v->h, pid, addr, thp, now);
		if (e == NULL || n >= v->plan.cap)
			return -EINVAL;
		e->node = (int8_t)b->slow;
		e->moved = HEAT_MOVED_NEVER;
		v->plan.promote[n] = (struct plan_item){
			.key = e->key,
			.heat = 1,
			.npages = heat_key_npages(e->key),
		};
		v->plan.promote_bytes += (uint64_t)heat_key_npages(e->key) * PG;
		off += heat_key_npages(e->key) * PG;
		n++;
	}
	v->plan.npromote = n;
	v->plan.ndemote = 0;
	v->plan.demote_bytes = 0;
	return 0;
}

static int
run_vtier(struct bench *b, struct vt *v, uint16_t tick, uint64_t *ns,
    unsigned *rounds, uint64_t *busy)
{
	uint64_t busy0 = migrate_stats(v->m)->err_busy, t0;
	struct migrate_round r;
	int rc;

	rc = vtier_plan(b, v);
	if (rc < 0)
		return rc;
	t0 = now_ns();
	for (*rounds = 0; *rounds < MAX_ROUNDS && v->plan.npromote > 0;) {
		size_t keep = 0;

		rc = migrate_execute(v->m, v->h, &v->plan, &b->topo,
		    (int64_t)b->bytes * 2, tick, now_ns(), &r);
		if (rc < 0)
			return rc;
		++*rounds;
		if (r.failed == 0)
			break;
		/* What did not reach the fast node waits for the next round. */
		for (size_t i = 0; i < v->plan.npromote; i++) {
			const struct heat_entry *e =
			    heat_lookup(v->h, v->plan.promote[i].key);

			if (e != NULL && e->node != b->fast &&
			    !(e->flags & HEAT_F_PINNED))
				v->plan.promote[keep++] = v->plan.promote[i];
		}
		v->plan.npromote = keep;
	}
	*ns = now_ns() - t0;
	*busy = migrate_stats(v->m)->err_busy - busy0;
	return 0;
}

static int
run_nmp(struct bench *b, struct bitmask *from, struct bitmask *to,
    uint64_t *ns, unsigned *rounds, uint64_t *busy)
{
	uint64_t t0 = now_ns();
	int rc;

	*busy = 0;
	(void)b;
	for (*rounds = 0; *rounds < MAX_ROUNDS;) {
		/* pages of the process that could not be moved, or -1 */
		rc = numa_migrate_pages(getpid(), from, to);
		if (rc < 0)
			return -errno;
		++*rounds;
		if (rc == 0)
			break;
		*busy += (uint64_t)rc;
	}
	*ns = now_ns() - t0;
	return 0;
}

static int
run_perpage(struct bench *b, uint64_t *ns, unsigned *rounds, uint64_t *busy)
{
	uint64_t t0 = now_ns();
	size_t n = b->npages, left;
	int node = b->fast;

	memcpy(b->todo, b->pages, n * sizeof(*b->todo));
	*busy = 0;
	for (*rounds = 0; *rounds < MAX_ROUNDS && n > 0; ++*rounds) {
		left = 0;
		for (size_t i = 0; i < n; i++) {
			int st;

			if (move_pages(0, 1, &b->todo[i], &node, &st,
			    MPOL_MF_MOVE) < 0)
				return -errno;
			if (st != node)
				b->todo[left++] = b->todo[i];
		}
		*busy += left;
		n = left;
	}
	*ns = now_ns() - t0;
	return 0;
}

/* Everything on the fast node, data intact; prints FAIL and -EIO if not. */
static int
verify(struct bench *b, const char *what, int rep)
{
	long off, bad;

	off = off_node(b, b->fast);
	if (off < 0) {
		printf("FAIL guest_migrate%s: %s round %d: query: %s\n",
		    b->thp ? " (THP)" : "", what, rep, strerror((int)-off));
		return -EIO;
	}
	if (off > 0) {
		size_t i = (size_t)((char *)b->todo[0] - b->buf) / PG;

		printf("FAIL guest_migrate%s: %s round %d: %ld of %zu pages "
		    "not on node %d (first: page %zu status %d)\n",
		    b->thp ? " (THP)" : "", what, rep, off, b->npages, b->fast,
		    i, b->status[i]);
		return -EIO;
	}
	bad = bad_page(b);
	if (bad >= 0) {
		printf("FAIL guest_migrate%s: %s round %d: data of page %ld "
		    "changed\n", b->thp ? " (THP)" : "", what, rep, bad);
		return -EIO;
	}
	return 0;
}

/* CPU seconds of this process so far: user, system. */
static void
cpu_times(double *user, double *sys)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	*sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double
pps(const struct bench *b, const struct result *r)
{
	return r->best > 0 ? (double)b->npages / r->best : 0;
}

/* One run (4 KiB or THP): REPS rounds of the three methods.  0 or -errno. */
static int
run(struct bench *b, size_t bytes, bool thp, int reps)
{
	struct result res[M_COUNT];
	struct bitmask *from = NULL, *to = NULL;
	struct vt v = { 0 };
	long thp_before = -1;
	const char *tag = thp ? " (THP)" : "";
	int rc;

	memset(res, 0, sizeof(res));
	for (int i = 0; i < M_COUNT; i++)
		res[i].thp_min = -1;
	rc = setup_buffer(b, bytes, thp);
	if (rc < 0) {
		printf("FAIL guest_migrate%s: buffer: %s\n", tag, strerror(-rc));
		goto err;
	}
	rc = heat_create(&v.h, (uint32_t)b->npages, 3600 * (uint64_t)NSEC);
	if (rc == 0)
		rc = policy_plan_init(&v.plan, b->npages);
	if (rc == 0)
		rc = migrate_open(&v.m, BACKEND_MOVE_PAGES, &b->topo,
		    vtier_ppc, 0, now_ns());
	if (rc == 0 && thp)
		rc = thp_open(&v.thp, "/proc");
	if (rc < 0) {
		printf("FAIL guest_migrate%s: migrator set-up: %s\n", tag,
		    strerror(-rc));
		goto err;
	}
	from = numa_allocate_nodemask();
	to = numa_allocate_nodemask();
	if (from == NULL || to == NULL) {
		rc = -ENOMEM;
		goto err;
	}
	numa_bitmask_setbit(from, (unsigned)b->slow);
	numa_bitmask_setbit(to, (unsigned)b->fast);

	for (int rep = 1; rep <= reps; rep++) {
		for (int mth = 0; mth < M_COUNT; mth++) {
			struct result *r = &res[mth];
			unsigned rounds = 0;
			uint64_t ns = 0, busy = 0;
			double u0, s0, u1, s1;
			long tb;

			rc = place_all(b, b->slow);
			if (rc < 0) {
				printf("FAIL guest_migrate%s: pages back to node "
				    "%d: %s\n", tag, b->slow, strerror(-rc));
				goto err;
			}
			if (thp) {
				tb = thp_bytes(b->buf);
				if (thp_before < 0 || tb < thp_before)
					thp_before = tb;
			}
			cpu_times(&u0, &s0);
			switch (mth) {
			case M_VTIER:
				rc = run_vtier(b, &v, (uint16_t)rep, &ns,
				    &rounds, &busy);
				break;
			case M_NMP:
				rc = run_nmp(b, from, to, &ns, &rounds, &busy);
				break;
			default:
				rc = run_perpage(b, &ns, &rounds, &busy);
				break;
			}
			cpu_times(&u1, &s1);
			if (rc < 0) {
				printf("FAIL guest_migrate%s: %s: %s\n", tag,
				    method_name[mth], strerror(-rc));
				goto err;
			}
			rc = verify(b, method_name[mth], rep);
			if (rc < 0)
				goto err;
			if (r->best == 0 || ns / NSEC < r->best)
				r->best = ns / NSEC;
			r->max_rounds = MAX(r->max_rounds, rounds);
			r->busy += busy;
			if (thp) {
				tb = thp_bytes(b->buf);
				if (r->thp_min < 0 || tb < r->thp_min)
					r->thp_min = tb;
			}
			if (verbose)
				printf("guest_migrate%s: round %d %-19s %8.3f s "
				    "%9.0f pages/s (user %.3f s, sys %.3f s), %u "
				    "round(s), %llu not moved at first\n", tag,
				    rep, method_name[mth], ns / NSEC,
				    (double)b->npages / (ns / NSEC), u1 - u0,
				    s1 - s0, rounds, (unsigned long long)busy);
		}
	}

	printf("bench guest_migrate%s: %zu MiB (%zu 4 KiB pages) node %d -> "
	    "node %d, best of %d; TCG emulation makes absolute numbers "
	    "meaningless, only the ratios matter\n", tag, (size_t)(bytes / MiB),
	    b->npages, b->slow, b->fast, reps);
	printf("bench guest_migrate%s: vtier %.0f pages/s, numa_migrate_pages "
	    "%.0f pages/s (ratio %.2f), move_pages per page %.0f pages/s "
	    "(ratio %.2f)\n", tag, pps(b, &res[M_VTIER]), pps(b, &res[M_NMP]),
	    pps(b, &res[M_VTIER]) / pps(b, &res[M_NMP]),
	    pps(b, &res[M_PERPAGE]),
	    pps(b, &res[M_VTIER]) / pps(b, &res[M_PERPAGE]));
	for (int mth = 0; mth < M_COUNT; mth++) {
		printf("bench guest_migrate%s:   %-19s %7.3f s best, %.0f MiB/s, "
		    "up to %u round(s), %llu page(s) not moved at first",
		    tag, method_name[mth], res[mth].best,
		    (double)bytes / MiB / res[mth].best, res[mth].max_rounds,
		    (unsigned long long)res[mth].busy);
		if (thp)
			printf(", %ld MiB huge after", res[mth].thp_min / (long)MiB);
		printf("\n");
	}
	if (thp)
		printf("bench guest_migrate (THP): %ld of %zu MiB THP-backed on "
		    "node %d before the moves (least seen)\n",
		    thp_before / (long)MiB, (size_t)(bytes / MiB), b->slow);
	rc = 0;
err:
	numa_bitmask_free(from);
	numa_bitmask_free(to);
	thp_close(v.thp);
	migrate_close(v.m);
	if (v.plan.promote != NULL)
		policy_plan_free(&v.plan);
	heat_destroy(v.h);
	free_buffer(b);
	return rc;
}

static void
usage(void)
{
	fprintf(stderr, "usage: guest_migrate [-Hv] [-m MiB] [-p pages] "
	    "[-r reps]\n"
	    "  -m MiB   buffer size (default 128)\n"
	    "  -p pages vtier's pages_per_call (default 1024, the agent's)\n"
	    "  -r reps  rounds of the three methods, best counts (default 3)\n"
	    "  -H       also a THP run (MADV_HUGEPAGE)\n"
	    "  -v       a line per timed move\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static struct bench b;
	uint64_t mib = 128, reps = 3, ppc;
	bool thp = false;
	char buf[64];
	int c, rc;

	while ((c = getopt(argc, argv, "Hm:p:r:v")) != -1) {
		switch (c) {
		case 'H':
			thp = true;
			break;
		case 'm':
			if (parse_u64(optarg, &mib) < 0 || mib == 0 ||
			    mib > 4096 || mib % 2)
				usage();
			break;
		case 'p':
			if (parse_u64(optarg, &ppc) < 0 || ppc == 0 ||
			    ppc > (1u << 20))
				usage();
			vtier_ppc = (uint32_t)ppc;
			break;
		case 'r':
			if (parse_u64(optarg, &reps) < 0 || reps == 0 ||
			    reps > 100)
				usage();
			break;
		case 'v':
			verbose = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	log_init("guest_migrate", LOG_LVL_WARN);

	if (numa_available() < 0 || numa_max_node() < 1) {
		printf("skip guest_migrate: needs two NUMA nodes\n");
		return 77;
	}
	rc = topo_load(&b.topo, "/sys", 0, 0);
	if (rc < 0) {
		printf("FAIL guest_migrate: topology: %s\n", strerror(-rc));
		return 1;
	}
	b.fast = topo_pick(&b.topo, b.topo.fast_mask);
	b.slow = topo_pick(&b.topo, b.topo.slow_mask);
	if (b.fast < 0 || b.slow < 0) {
		printf("skip guest_migrate: needs a fast and a slow node\n");
		return 77;
	}
	if (b.topo.node[b.fast].free < mib * MiB + 32 * MiB ||
	    b.topo.node[b.slow].free < mib * MiB + 32 * MiB) {
		printf("FAIL guest_migrate: %llu MiB does not fit: node %d has "
		    "%llu MiB free, node %d %llu MiB\n",
		    (unsigned long long)mib, b.fast,
		    (unsigned long long)(b.topo.node[b.fast].free / MiB), b.slow,
		    (unsigned long long)(b.topo.node[b.slow].free / MiB));
		return 1;
	}
	/* The kernel's own balancing would move pages between our timings. */
	if (read_file("/proc/sys/kernel/numa_balancing", buf, sizeof(buf)) > 0 &&
	    buf[0] != '0')
		printf("guest_migrate: warning: kernel.numa_balancing is %c; "
		    "set it to 0 for a clean measurement\n", buf[0]);

	if (run(&b, mib * MiB, false, (int)reps) < 0)
		return 1;
	if (thp) {
		if (read_file("/sys/kernel/mm/transparent_hugepage/enabled",
		    buf, sizeof(buf)) > 0 && strstr(buf, "[never]") != NULL)
			printf("guest_migrate: THP disabled in this kernel; "
			    "no THP run\n");
		else if (run(&b, mib * MiB, true, (int)reps) < 0)
			return 1;
	}
	return 0;
}
