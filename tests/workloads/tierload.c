/*
 * tierload - the test bed's workload: a footprint larger than the DRAM
 * budget, first-touched on the slow node, then a hot/cold access pattern
 * whose hot set moves between phases.
 *
 * With -C, a cold region as well: first touched on the fast node and
 * never accessed again until the final check (never sampled), as most of
 * a VM's memory is.  The agent must find it without samples (adoption)
 * to make room for the hot set.  With -I the process is idle: it holds
 * its memory for the phases' time without touching it (no samples at
 * all), as an idle service does.
 *
 * It is also the stand-in for the PMU: 1 in N of its own accesses is
 * written as a sample line ("time_ns pid addr") to the agent's replay
 * FIFO, which is what PEBS would report.  Writes never block and are at
 * most PIPE_BUF bytes, so each is whole or not at all (several writers may
 * share the FIFO); the samples of a write the full FIFO refused are
 * dropped, counted, and reported to the agent in a "# lost N" line at the
 * head of the next write that goes through, as the kernel reports
 * PERF_RECORD_LOST.  Every page's data is summed as it is written; at the
 * end every page is re-read and checked, so a page corrupted or lost by a
 * migration is caught.
 *
 * With -U PCT:SECS the last phase is held past its time until the hot set
 * is PCT% on the fast node or SECS more seconds have passed, so a test
 * asserts where tiering ends, not how fast it gets there on a loaded
 * machine; the time it took is printed ("held N.N s").
 *
 * Progress lines (stdout), one per --report seconds:
 *   tierload: t=3.0 phase=0 hot_on_fast=87.5% accesses=... samples=... dropped=...
 * and at the end:
 *   tierload: done hot_on_fast=98.2% accesses=... samples=... dropped=... data_ok=yes|no
 * (samples: all it took, dropped: of which the FIFO refused).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <numaif.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define WORDS (PAGE / sizeof(uint64_t))

struct opts {
	unsigned long footprint_mib, hot_mib, phases, report_ms, sample_every;
	unsigned long cold_mib;
	double phase_s, hot_frac;
	double hold_pct, hold_s;	/* -U: hold the last phase */
	unsigned write_every;
	int slow, fast, thp, idle;
	const char *fifo;
};

static volatile sig_atomic_t stop;

/* The sample lines waiting for a write to the FIFO. */
struct out {
	int fd;
	char buf[PIPE_BUF];	/* one write: whole or refused, never torn */
	size_t off;
	uint64_t nbuf;		/* samples in buf */
	uint64_t in_buf;	/* lost samples its "# lost" line reports */
	uint64_t lost;		/* dropped and not yet reported */
	uint64_t dropped;	/* dropped in all */
};

/* Write buf; on refusal its samples are lost, reported later. */
static int
out_flush(struct out *o)
{
	int rc = 0;

	if (o->off == 0)
		return 0;
	if (write(o->fd, o->buf, o->off) == (ssize_t)o->off) {
		o->lost -= o->in_buf;
	} else {
		o->lost += o->nbuf;
		o->dropped += o->nbuf;
		rc = -1;
	}
	o->off = 0;
	o->nbuf = o->in_buf = 0;
	return rc;
}

static void
out_sample(struct out *o, uint64_t t, int pid, const void *addr)
{
	if (o->off == 0 && o->lost > 0) {
		o->off = (size_t)snprintf(o->buf, sizeof(o->buf),
		    "# lost %llu\n", (unsigned long long)o->lost);
		o->in_buf = o->lost;
	}
	o->off += (size_t)snprintf(o->buf + o->off, sizeof(o->buf) - o->off,
	    "%llu %d %p\n", (unsigned long long)t, pid, addr);
	o->nbuf++;
	if (o->off > sizeof(o->buf) - 64)
		(void)out_flush(o);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t
rng_next(uint64_t *s)
{
	/* xorshift64*: fast, good enough to pick pages */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static uint64_t
pattern(size_t page, size_t word)
{
	uint64_t x = (uint64_t)page * 0x9e3779b97f4a7c15ULL + word;

	x ^= x >> 31;
	return x * 0xbf58476d1ce4e5b9ULL;
}

static double
hot_on_fast(char *base, size_t first, size_t n, size_t npages, int fast)
{
	void **pages = malloc(n * sizeof(*pages));
	int *status = malloc(n * sizeof(*status));
	size_t on = 0;

	if (pages == NULL || status == NULL) {
		free(pages);
		free(status);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		pages[i] = base + ((first + i) % npages) * PAGE;
	if (move_pages(0, n, pages, NULL, status, 0) < 0) {
		perror("tierload: move_pages query");
		n = 0;
	}
	for (size_t i = 0; i < n; i++)
		on += status[i] == fast;
	free(pages);
	free(status);
	return n ? 100.0 * (double)on / (double)n : 0;
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/*
 * Map n pages first touched on node (4 KiB pages unless thp: one THP
 * moves 512 pages at a time) and write them with the pattern of pages
 * id0.., keeping each page's sum in *expect.  NULL on failure.
 */
static char *
map_region(size_t n, int node, int thp, size_t id0, uint64_t **expect)
{
	unsigned long nodemask = 1UL << node;
	char *base = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	*expect = calloc(n, sizeof(**expect));
	if (base == MAP_FAILED || *expect == NULL)
		return NULL;
	madvise(base, n * PAGE, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	/* first touch on node, then drop the policy again */
	if (set_mempolicy(MPOL_BIND, &nodemask, sizeof(nodemask) * 8) < 0)
		perror("tierload: set_mempolicy (first touch stays local)");
	for (size_t i = 0; i < n; i++) {
		uint64_t *w = (uint64_t *)(base + i * PAGE), s = 0;

		for (size_t j = 0; j < WORDS; j++) {
			w[j] = pattern(id0 + i, j);
			s += w[j];
		}
		(*expect)[i] = s;
	}
	set_mempolicy(MPOL_DEFAULT, NULL, 0);
	return base;
}

/* Re-read n pages against their sums; returns how many differ. */
static int
verify(const char *base, size_t n, const uint64_t *expect, const char *what)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		const uint64_t *w = (const uint64_t *)(base + i * PAGE);
		uint64_t s = 0;

		for (size_t j = 0; j < WORDS; j++)
			s += w[j];
		if (s != expect[i] && bad++ < 5)
			fprintf(stderr, "tierload: %s page %zu corrupt: sum %llx "
			    "expected %llx\n", what, i, (unsigned long long)s,
			    (unsigned long long)expect[i]);
	}
	return bad;
}

/*
 * -U: whether the last phase goes on past its end: until the hot set is
 * hold_pct% on the fast node (looked at twice a second at most) or
 * hold_s seconds have passed.
 */
static int
holding(const struct opts *o, unsigned long ph, uint64_t now, uint64_t end,
    char *base, size_t first, size_t nhot, size_t npages)
{
	static uint64_t next_look;

	if (o->hold_pct <= 0 || ph + 1 != o->phases || stop)
		return 0;
	if (now >= end + (uint64_t)(o->hold_s * 1e9))
		return 0;
	if (now < next_look)
		return 1;
	next_look = now + 500000000ULL;
	return hot_on_fast(base, first, nhot, npages, o->fast) < o->hold_pct;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: tierload [-f MiB] [-H MiB] [-P phases] [-s secs/phase]\n"
	    "                [-o FIFO] [-n 1-in-N] [-w 1-in-W writes]\n"
	    "                [-h hot fraction] [-S slow node] [-F fast node]\n"
	    "                [-r report ms] [-T (allow THP)]\n"
	    "                [-C MiB cold on the fast node] [-I (idle)]\n"
	    "                [-U PCT:SECS (hold the last phase until PCT%% of\n"
	    "                 the hot set is on the fast node, SECS at most)]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct opts o = { 256, 32, 1, 1000, 64, 0, 20.0, 0.9, 0, 0, 16, 1, 0,
	    0, 0, NULL };
	uint64_t seed = 0x1234567 ^ (uint64_t)getpid(), t0, next_report;
	uint64_t accesses = 0, samples = 0, sink = 0;
	uint64_t *expect, *cold_expect = NULL;
	size_t npages, nhot, ncold;
	char *base, *cold = NULL;
	int c, bad = 0, me = (int)getpid();
	static struct out out = { .fd = -1 };

	while ((c = getopt(argc, argv, "f:H:P:s:o:n:w:h:S:F:r:TC:IU:")) != -1) {
		switch (c) {
		case 'f': o.footprint_mib = strtoul(optarg, NULL, 0); break;
		case 'H': o.hot_mib = strtoul(optarg, NULL, 0); break;
		case 'P': o.phases = strtoul(optarg, NULL, 0); break;
		case 's': o.phase_s = atof(optarg); break;
		case 'o': o.fifo = optarg; break;
		case 'n': o.sample_every = strtoul(optarg, NULL, 0); break;
		case 'w': o.write_every = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'h': o.hot_frac = atof(optarg); break;
		case 'S': o.slow = atoi(optarg); break;
		case 'F': o.fast = atoi(optarg); break;
		case 'r': o.report_ms = strtoul(optarg, NULL, 0); break;
		case 'T': o.thp = 1; break;
		case 'C': o.cold_mib = strtoul(optarg, NULL, 0); break;
		case 'I': o.idle = 1; break;
		case 'U':
			if (sscanf(optarg, "%lf:%lf", &o.hold_pct, &o.hold_s) != 2 ||
			    o.hold_pct <= 0 || o.hold_pct > 100 || o.hold_s <= 0)
				usage();
			break;
		default: usage();
		}
	}
	if (o.footprint_mib == 0 || o.hot_mib == 0 || o.hot_mib > o.footprint_mib ||
	    o.phases == 0 || o.sample_every == 0 || o.write_every == 0)
		usage();
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	npages = o.footprint_mib * (1024 * 1024 / PAGE);
	nhot = o.hot_mib * (1024 * 1024 / PAGE);
	if ((base = map_region(npages, o.slow, o.thp, 0, &expect)) == NULL) {
		perror("tierload: allocation");
		return 1;
	}
	/* the cold region: first touch on the fast node, then left alone */
	ncold = o.cold_mib * (1024 * 1024 / PAGE);
	if (ncold) {
		cold = map_region(ncold, o.fast, o.thp, npages, &cold_expect);
		if (cold == NULL) {
			perror("tierload: cold allocation");
			return 1;
		}
		printf("tierload: cold %lu MiB first touched on node %d: "
		    "%.1f%% there\n", o.cold_mib, o.fast,
		    hot_on_fast(cold, 0, ncold, ncold, o.fast));
	}
	printf("tierload: pid %d footprint %lu MiB (%zu pages) hot %lu MiB, "
	    "first touch on node %d: %.1f%% there\n", getpid(), o.footprint_mib,
	    npages, o.hot_mib, o.slow,
	    hot_on_fast(base, 0, npages, npages, o.slow));
	fflush(stdout);
	if (o.fifo && (out.fd = open(o.fifo, O_WRONLY | O_NONBLOCK)) < 0) {
		fprintf(stderr, "tierload: %s: %s\n", o.fifo, strerror(errno));
		return 1;
	}

	t0 = now_ns();
	next_report = t0 + o.report_ms * 1000000ULL;
	if (o.idle) {
		uint64_t end = t0 + (uint64_t)(o.phase_s * 1e9) * o.phases;

		while (!stop && now_ns() < end)
			usleep(100000);
	}
	for (unsigned long ph = 0; ph < o.phases && !stop && !o.idle; ph++) {
		size_t first = (ph * nhot) % npages;
		uint64_t end = now_ns() + (uint64_t)(o.phase_s * 1e9);

		while (!stop) {
			for (int k = 0; k < 4096; k++) {
				uint64_t r = rng_next(&seed);
				size_t pg, word = (r >> 40) % WORDS;
				uint64_t *w;

				if ((double)(r & 0xffffff) / 16777216.0 < o.hot_frac)
					pg = (first + (r >> 24) % nhot) % npages;
				else
					pg = (r >> 24) % npages;
				w = (uint64_t *)(base + pg * PAGE);
				if (accesses % o.write_every == 0) {
					w[word] += 1;
					expect[pg] += 1;
				} else {
					sink += *(volatile uint64_t *)&w[word];
				}
				if (out.fd >= 0 && accesses % o.sample_every == 0) {
					out_sample(&out, now_ns(), me, &w[word]);
					samples++;
				}
				accesses++;
			}
			uint64_t now = now_ns();
			if (now >= next_report) {
				printf("tierload: t=%.1f phase=%lu hot_on_fast=%.1f%% "
				    "accesses=%llu samples=%llu dropped=%llu\n",
				    (double)(now - t0) / 1e9, ph,
				    hot_on_fast(base, first, nhot, npages, o.fast),
				    (unsigned long long)accesses,
				    (unsigned long long)samples,
				    (unsigned long long)out.dropped);
				fflush(stdout);
				next_report = now + o.report_ms * 1000000ULL;
			}
			if (now >= end && !holding(&o, ph, now, end, base, first,
			    nhot, npages))
				break;
		}
		if (ph + 1 == o.phases || stop) {
			uint64_t now = now_ns();

			printf("tierload: phase %lu end hot_on_fast=%.1f%%", ph,
			    hot_on_fast(base, first, nhot, npages, o.fast));
			if (o.hold_pct > 0)
				printf(" held %.1f s", now > end ?
				    (double)(now - end) / 1e9 : 0.0);
			printf("\n");
		}
	}
	if (out.fd >= 0) {
		/* the last lines, and what was lost, for up to 2 s */
		(void)out_flush(&out);
		for (int i = 0; i < 200 && out.lost > 0; i++) {
			usleep(10000);
			out.off = (size_t)snprintf(out.buf, sizeof(out.buf),
			    "# lost %llu\n", (unsigned long long)out.lost);
			out.in_buf = out.lost;
			if (write(out.fd, out.buf, out.off) == (ssize_t)out.off)
				out.lost = 0;
			out.off = 0;
		}
		close(out.fd);
	}

	/* verify every page */
	bad = verify(base, npages, expect, "footprint");
	bad += verify(cold, ncold, cold_expect, "cold");
	if (ncold)
		printf("tierload: cold on fast at the end %.1f%%\n",
		    hot_on_fast(cold, 0, ncold, ncold, o.fast));
	{
		size_t last = ((o.phases - 1) * nhot) % npages;

		printf("tierload: done hot_on_fast=%.1f%% accesses=%llu "
		    "samples=%llu dropped=%llu data_ok=%s (sink %llx)\n",
		    hot_on_fast(base, last, nhot, npages, o.fast),
		    (unsigned long long)accesses, (unsigned long long)samples,
		    (unsigned long long)out.dropped, bad ? "no" : "yes",
		    (unsigned long long)(sink & 0xf));
	}
	return bad ? 1 : 0;
}
