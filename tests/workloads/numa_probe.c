/*
 * numa_probe - prove that the guest test bed is a real two-node NUMA
 * machine on which move_pages works across the nodes.
 *
 * Run inside the guest (statically linked: the initramfs has no libc):
 *
 *   numa_probe [-s MiB] [-b batch] [-t on|off|default]
 *
 * It prints the topology libnuma sees, maps a buffer (64 MiB by default),
 * binds it to node 1 and first-touches it there, checks with
 * move_pages(nodes = NULL) that every page is on node 1, moves the pages
 * to node 0 with move_pages in bounded batches (as the agent's migrator
 * does), checks placement again and that the data survived, and prints one
 * result line:
 *
 *   numa_probe: PASS ...        exit 0
 *   numa_probe: FAIL <why>      exit 1
 *
 * -t off sets MADV_NOHUGEPAGE so the move is done base page by base page;
 * with THP (the Debian kernel default is "always") moving one base page
 * moves its whole 2 MiB folio, and the other pages then already report
 * node 0, which the checks accept.
 *
 * kernel.numa_balancing is 0 while the probe runs (put back at exit).
 * NUMA balancing's scanner (kernel/sched/fair.c, task_numa_work, once the
 * task has had a second of CPU) maps the pages PROT_NONE for hinting
 * faults, and on 6.1 move_pages cannot see such a page: follow_page()
 * refuses it (mm/gup.c: gup_can_follow_protnone() is true only with
 * FOLL_FORCE, since 474098edac26; d74943a2f3cd "mm/gup: reintroduce
 * FOLL_NUMA as FOLL_HONOR_NUMA_FAULT" undid that in 6.5 and did not
 * apply to 6.1.y).  A THP then says -EFAULT (follow_pmd_mask ->
 * no_page_table, FOLL_DUMP) and a base page -ENOENT, to the move
 * (add_page_for_migration) and to the query (do_pages_stat_array) alike,
 * until the page is touched; waiting does not help.  The touch's hinting
 * fault moves a page to node 0, the CPU's node, and so would pass off a
 * failed move as a good one.  Pages the query does not place on node 0
 * are asked again, untouched, for up to 2 s (a THP being migrated by
 * someone else also says -EFAULT for that moment), and the probe fails
 * if any are left.
 *
 * Build: gcc -O2 -static -o numa_probe numa_probe.c -lnuma
 */
#define _GNU_SOURCE
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SRC_NODE 1
#define DST_NODE 0
#define NUMA_BALANCING "/proc/sys/kernel/numa_balancing"
#define REQUERY_S 2.0

static char balancing_was[16];	/* what to put back; "" for nothing */

static int fail(const char *why)
{
	printf("numa_probe: FAIL %s\n", why);
	fflush(stdout);
	return 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A value per 8-byte word that depends on its index, so a page that came
 * back from the wrong place (or zeroed) is noticed. */
static uint64_t pattern(size_t i)
{
	uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ULL;

	return x ^ (x >> 29);
}

static uint64_t checksum(const uint64_t *w, size_t n)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum = (sum ^ w[i]) * 0x100000001b3ULL;
	return sum;
}

static void balancing_restore(void)
{
	FILE *f = fopen(NUMA_BALANCING, "w");

	if (f == NULL || fprintf(f, "%s\n", balancing_was) < 0 ||
	    fclose(f) != 0)
		printf("numa_probe: could not put kernel.numa_balancing back "
		       "to %s\n", balancing_was);
}

/* kernel.numa_balancing to 0 until exit (see the top of the file). */
static void balancing_off(void)
{
	FILE *f = fopen(NUMA_BALANCING, "r");
	char was[sizeof(balancing_was)] = "";

	if (f == NULL || fgets(was, sizeof(was), f) == NULL) {
		printf("numa_probe: no %s: no NUMA balancing to turn off\n",
		       NUMA_BALANCING);
		if (f)
			fclose(f);
		return;
	}
	fclose(f);
	if (atoi(was) == 0)
		return;
	f = fopen(NUMA_BALANCING, "w");
	if (f == NULL || fputs("0\n", f) < 0 || fclose(f) != 0) {
		printf("numa_probe: could not set kernel.numa_balancing to 0 "
		       "(%s): a NUMA scan may hide pages from move_pages\n",
		       strerror(errno));
		return;
	}
	was[strcspn(was, "\n")] = '\0';
	memcpy(balancing_was, was, sizeof(was));
	atexit(balancing_restore);
	printf("numa_probe: kernel.numa_balancing %s -> 0 for the probe\n",
	       was);
}

/* One line: how many status[] values are node 0, node 1, -errno. */
static void print_statuses(const char *what, const int *status, size_t n)
{
	size_t node0 = 0, node1 = 0, fault = 0, noent = 0, other = 0;

	for (size_t i = 0; i < n; i++) {
		if (status[i] == DST_NODE)
			node0++;
		else if (status[i] == SRC_NODE)
			node1++;
		else if (status[i] == -EFAULT)
			fault++;
		else if (status[i] == -ENOENT)
			noent++;
		else
			other++;
	}
	printf("numa_probe: %s: node %d %zu, node %d %zu, -EFAULT %zu, "
	       "-ENOENT %zu, other %zu\n", what, DST_NODE, node0, SRC_NODE,
	       node1, fault, noent, other);
}

/* Ask where each page is (nodes = NULL: query only).  Counts pages on
 * `want`; prints the first few outliers unless quiet. */
static size_t count_on_node(void **pages, int *status, size_t n, int want,
			    int quiet)
{
	size_t on = 0, shown = quiet ? 5 : 0;

	if (move_pages(0, n, pages, NULL, status, 0) < 0) {
		perror("numa_probe: move_pages(query)");
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (status[i] == want) {
			on++;
		} else if (shown++ < 5) {
			printf("numa_probe:   page %zu at %p: status %d\n",
			       i, pages[i], status[i]);
		}
	}
	return on;
}

static void print_smaps_thp(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "AnonHugePages:", 14) == 0)
			printf("numa_probe: %s", line);
	fclose(f);
}

int main(int argc, char **argv)
{
	size_t mib = 64, batch = 1024;
	const char *thp = "default";
	int opt;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "s:b:t:")) != -1) {
		switch (opt) {
		case 's': mib = strtoul(optarg, NULL, 0); break;
		case 'b': batch = strtoul(optarg, NULL, 0); break;
		case 't': thp = optarg; break;
		default:
			fprintf(stderr,
				"usage: numa_probe [-s MiB] [-b batch] [-t on|off|default]\n");
			return 2;
		}
	}
	if (mib == 0 || batch == 0)
		return fail("size and batch must be > 0");
	balancing_off();

	if (numa_available() < 0)
		return fail("numa_available() < 0: kernel has no NUMA");
	int maxnode = numa_max_node();
	printf("numa_probe: numa_max_node=%d configured_nodes=%d cpus=%d\n",
	       maxnode, numa_num_configured_nodes(),
	       numa_num_configured_cpus());
	for (int n = 0; n <= maxnode; n++) {
		long long freeb = 0;
		long long size = numa_node_size64(n, &freeb);
		printf("numa_probe: node%d size=%lld MiB free=%lld MiB\n",
		       n, size >> 20, freeb >> 20);
	}
	if (maxnode < 1)
		return fail("need at least two NUMA nodes");

	long pgsz = sysconf(_SC_PAGESIZE);
	size_t len = mib << 20;
	size_t npages = len / (size_t)pgsz;
	size_t nwords = len / sizeof(uint64_t);

	uint64_t *buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return fail("mmap");
	if (strcmp(thp, "off") == 0)
		madvise(buf, len, MADV_NOHUGEPAGE);
	else if (strcmp(thp, "on") == 0)
		madvise(buf, len, MADV_HUGEPAGE);

	/* Bind before the first touch, so the kernel allocates the pages on
	 * node 1 (the CPU-less node: this is how data ends up in CXL). */
	unsigned long mask = 1UL << SRC_NODE;
	if (mbind(buf, len, MPOL_BIND, &mask, sizeof(mask) * 8, 0) != 0) {
		perror("numa_probe: mbind");
		return fail("mbind to node 1");
	}
	for (size_t i = 0; i < nwords; i++)
		buf[i] = pattern(i);
	uint64_t sum_before = checksum(buf, nwords);
	print_smaps_thp();

	void **pages = calloc(npages, sizeof(*pages));
	int *nodes = calloc(npages, sizeof(*nodes));
	int *status = calloc(npages, sizeof(*status));
	if (!pages || !nodes || !status)
		return fail("calloc");
	for (size_t i = 0; i < npages; i++) {
		pages[i] = (char *)buf + i * (size_t)pgsz;
		nodes[i] = DST_NODE;
	}

	size_t on1 = count_on_node(pages, status, npages, SRC_NODE, 0);
	printf("numa_probe: after first touch: %zu/%zu pages on node %d\n",
	       on1, npages, SRC_NODE);
	if (on1 != npages)
		return fail("first touch did not place every page on node 1");

	/* move_pages honours the cpuset, not the VMA policy, so the bind
	 * would not stop the move; drop it anyway so that nothing later
	 * (a fault, khugepaged) is steered back to node 1. */
	if (mbind(buf, len, MPOL_DEFAULT, NULL, 0, 0) != 0) {
		perror("numa_probe: mbind(MPOL_DEFAULT)");
		return fail("mbind reset");
	}

	/* Move in bounded batches, as the agent does: each call returns the
	 * number of pages not moved, and status[] says why per page. */
	double t0 = now_s();
	size_t calls = 0, busy_retries = 0;
	long notmoved_total = 0;
	for (size_t off = 0; off < npages; off += batch) {
		size_t n = npages - off < batch ? npages - off : batch;
		for (int attempt = 0;; attempt++) {
			long r = move_pages(0, n, pages + off, nodes + off,
					    status + off, MPOL_MF_MOVE);
			calls++;
			if (r < 0) {
				perror("numa_probe: move_pages");
				return fail("move_pages returned an error");
			}
			int busy = 0;
			for (size_t i = off; i < off + n; i++)
				if (status[i] == -EBUSY)
					busy = 1;
			if (!busy || attempt >= 10) {
				notmoved_total += r;
				break;
			}
			busy_retries++;
			usleep(1000);
		}
	}
	double dt = now_s() - t0;

	/* status[] of the move: node id on success, -errno per page. */
	size_t bad = 0;
	for (size_t i = 0; i < npages; i++)
		if (status[i] != DST_NODE && bad++ < 5)
			printf("numa_probe:   move status page %zu: %d (%s)\n",
			       i, status[i],
			       status[i] < 0 ? strerror(-status[i]) : "node");
	printf("numa_probe: moved %zu pages in %zu calls (batch %zu, "
	       "%zu EBUSY retries, %ld not moved), %.3f s, %.1f MiB/s\n",
	       npages, calls, batch, busy_retries, notmoved_total, dt,
	       dt > 0 ? (double)mib / dt : 0.0);
	print_statuses("move statuses", status, npages);

	size_t on0 = count_on_node(pages, status, npages, DST_NODE, 0);
	printf("numa_probe: after move: %zu/%zu pages on node %d\n",
	       on0, npages, DST_NODE);
	if (on0 != npages) {
		/* Ask again without touching: a read would fault them to
		 * node 0 if NUMA balancing were still on. */
		size_t missing = npages - on0;
		double t1 = now_s();
		int asked = 0;

		while (on0 != npages && now_s() - t1 < REQUERY_S) {
			usleep(100000);
			on0 = count_on_node(pages, status, npages, DST_NODE, 1);
			asked++;
		}
		printf("numa_probe: re-queried %d times over %.1f s, pages "
		       "untouched: %zu/%zu on node %d (%zu were not)\n",
		       asked, now_s() - t1, on0, npages, DST_NODE, missing);
		print_statuses("after re-query", status, npages);
	}
	uint64_t sum_after = checksum(buf, nwords);
	size_t wrong = 0;
	for (size_t i = 0; i < nwords; i++)
		if (buf[i] != pattern(i))
			wrong++;
	printf("numa_probe: checksum before=%016llx after=%016llx "
	       "wrong_words=%zu\n", (unsigned long long)sum_before,
	       (unsigned long long)sum_after, wrong);
	print_smaps_thp();

	if (on0 != npages)
		return fail("not every page reached node 0");
	if (sum_after != sum_before || wrong != 0)
		return fail("data changed across the move");
	printf("numa_probe: PASS %zu MiB node%d->node%d, %zu pages, thp=%s\n",
	       mib, SRC_NODE, DST_NODE, npages, thp);
	munmap(buf, len);
	return 0;
}
