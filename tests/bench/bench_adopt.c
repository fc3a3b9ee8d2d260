/*
 * bench_adopt.c - the adopter on a real process: a child holding 1 GiB of
 * written anonymous 4 KiB pages (node 0 is "fast"), beside a baseline
 * measured in the same run:
 *   adopt pass    a full pass that adopts every page into an empty 1M
 *                 table, and one over a table that already tracks them
 *                 all (what every later pass costs);
 *   baseline      the obvious way: ask move_pages for the node of every
 *                 page of the mapping (512 a call) and heat_adopt those
 *                 on fast, with no pagemap filter.
 * CPU time per page walked, best of a few repetitions, and what a pass
 * costs at the agent's pace (ADOPT_PAGES_PER_S).  Target: a pass at that
 * pace takes <= 5% of one CPU.  Exits 0 either way: the verdict is
 * printed.
 */
#include <numa.h>
#include <numaif.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "adopt.h"
#include "config.h"
#include "heat.h"
#include "proc.h"

#define MIB	1024ULL
#define NPAGES	(MIB * 256)		/* 1 GiB of 4 KiB pages */
#define PG	4096ULL
#define REPS	3
#define SEC	1000000000ULL
#define CHUNK	512

static double
cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A child with NPAGES written pages; their address through a pipe. */
static pid_t
spawn(uintptr_t *base)
{
	int fds[2];
	pid_t pid;

	if (pipe(fds) < 0 || (pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		char *p;
		uintptr_t a;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		p = mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		a = (uintptr_t)p;
		if (p == MAP_FAILED)
			_exit(1);
		madvise(p, NPAGES * PG, MADV_NOHUGEPAGE);
		for (size_t i = 0; i < NPAGES; i++)
			p[i * PG] = 1;
		if (write(fds[1], &a, sizeof(a)) != sizeof(a))
			_exit(1);
		for (;;)
			pause();
	}
	close(fds[1]);
	if (read(fds[0], base, sizeof(*base)) != sizeof(*base))
		pid = -1;
	close(fds[0]);
	return pid;
}

/* One whole pass, unpaced; returns CPU seconds, *walked pages walked. */
static double
adopt_pass(struct procs *procs, struct heat *h, uint64_t *walked)
{
	struct adopter *a;
	uint64_t now = SEC, passes;
	double t0;

	if (adopt_create(&a, "/proc", procs, NULL, UINT32_MAX, 0) != 0)
		exit(1);
	t0 = cpu_s();
	passes = adopt_stats(a)->passes;
	while (adopt_stats(a)->passes == passes)
		(void)adopt_step(a, h, 1, now += SEC);
	t0 = cpu_s() - t0;
	*walked = adopt_stats(a)->walked;
	adopt_destroy(a);
	return t0;
}

/* The baseline: query every page of the mapping, adopt those on fast. */
static double
naive_pass(pid_t pid, uintptr_t base, struct heat *h)
{
	static void *pages[CHUNK];
	static int status[CHUNK];
	double t0 = cpu_s();

	for (size_t i = 0; i < NPAGES; i += CHUNK) {
		for (size_t j = 0; j < CHUNK; j++)
			pages[j] = (void *)(base + (i + j) * PG);
		if (numa_move_pages(pid, CHUNK, pages, NULL, status, 0) < 0)
			exit(1);
		for (size_t j = 0; j < CHUNK; j++)
			if (status[j] == 0)
				(void)heat_adopt(h, heat_key((uint32_t)pid,
				    (uintptr_t)pages[j], false), 0);
	}
	return cpu_s() - t0;
}

int
main(void)
{
	double best_a = 1e9, best_t = 1e9, best_n = 1e9, x, cpu;
	uint64_t walked = 0, w;
	struct agent_config cfg;
	struct procs *procs;
	struct heat *h;
	uintptr_t base;
	pid_t pid = spawn(&base);

	/* the child only (the bench itself is never managed) */
	config_defaults(&cfg);
	snprintf(cfg.include[0], sizeof(cfg.include[0]), "bench_adopt");
	cfg.ninclude = 1;
	if (pid < 0 || proc_create(&procs, "/proc") != 0)
		return 1;
	proc_set_config(procs, &cfg);
	if (!proc_managed(procs, (uint32_t)pid)) {
		fprintf(stderr, "bench_adopt: no child\n");
		return 1;
	}
	for (int r = 0; r < REPS; r++) {
		if (heat_create(&h, 1u << 20, SEC) != 0)
			return 1;
		x = adopt_pass(procs, h, &w);
		best_a = x < best_a ? x : best_a;
		walked = w;
		if (heat_size(h) < NPAGES) {
			fprintf(stderr, "bench_adopt: adopted %zu of %llu\n",
			    heat_size(h), NPAGES);
			return 1;
		}
		x = adopt_pass(procs, h, &w);	/* all tracked now */
		best_t = x < best_t ? x : best_t;
		heat_destroy(h);
		if (heat_create(&h, 1u << 20, SEC) != 0)
			return 1;
		x = naive_pass(pid, base, h);
		best_n = x < best_n ? x : best_n;
		heat_destroy(h);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	proc_destroy(procs);

	/* the child's own pages besides the 1 GiB are walked too: per page */
	cpu = best_a / (double)walked * ADOPT_PAGES_PER_S * 100;
	printf("bench adopt pass (1 GiB, 262144 pages on fast, empty table): "
	    "%.0f ns/page walked (baseline query-every-page %.0f ns/page, "
	    "ratio %.2f)\n", best_a * 1e9 / (double)walked,
	    best_n * 1e9 / NPAGES, best_a / (double)walked / (best_n / NPAGES));
	printf("bench adopt pass (1 GiB, every page tracked already): %.0f "
	    "ns/page walked (baseline %.0f ns/page, ratio %.2f)\n",
	    best_t * 1e9 / (double)walked, best_n * 1e9 / NPAGES,
	    best_t / (double)walked / (best_n / NPAGES));
	printf("bench adopt pace (%u pages/s of mappings): %.1f%% of a CPU "
	    "while a pass runs, target <= 5%%: %s\n", ADOPT_PAGES_PER_S, cpu,
	    cpu <= 5 ? "met" : "MISSED");
	return 0;
}
