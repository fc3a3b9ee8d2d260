/*
 * test_adopt.c - the adopter against this kernel: a child process maps
 * memory of every kind, and the adopter must take in exactly its private
 * anonymous pages that are present (on node 0, the only node here and the
 * "fast" one for the test), at the pace it is given, across the child
 * exiting mid-pass.  The parser of maps/numa_maps is tested on
 * hand-written text.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test.h"
#include "adopt.h"
#include "config.h"
#include "heat.h"
#include "proc.h"
#include "thp.h"
#include "zeropage.h"

#define PG	4096ULL
#define SEC	1000000000ULL
#define THP	(2ULL << 20)

static void
test_parse(void)
{
	const char maps[] =
	    "1000-3000 rw-p 00000000 00:00 0\n"			/* fast */
	    "3000-4000 rw-s 00000000 00:01 7 /dev/zero\n"		/* shared */
	    "5000-6000 rw-p 00000000 00:00 0\n"			/* slow only */
	    "7000-8000 r--p 00000000 08:01 9 /usr/bin/x\n"	/* no pages */
	    "garbage\n"
	    "9000-a000 rw-p 00000000 00:00 0\n"			/* changed */
	    "b000-b800 rw-p 00000000 00:00 0\n"			/* unaligned */
	    "c000-d000 rw-p 00000000 00:00 0 [heap]\n"		/* N0 and N1 */
	    "10000000-50000000 rw-p 00000000 00:00 0\n"		/* sparse */
	    "60000000-60400000 rw-p 00000000 00:0f 3 /huge/x\n"	/* hugetlbfs */
	    "800000000000-800000001000 rw-p 00000000 00:00 0\n"	/* >= 2^47 */
	    "e000";						/* cut short */
	const char numa[] =
	    "1000 default anon=2 dirty=2 N0=2 kernelpagesize_kB=4\n"
	    "3000 default file=/dev/zero dirty=1 N0=1 kernelpagesize_kB=4\n"
	    "5000 default anon=1 dirty=1 N1=1 kernelpagesize_kB=4\n"
	    "7000 default file=/usr/bin/x\n"
	    "8800 default anon=1 N0=1\n"
	    "b000 default anon=1 N0=1\n"
	    "c000 default heap anon=3 dirty=3 N1=2 N0=1 kernelpagesize_kB=4\n"
	    "10000000 default anon=4095 dirty=4095 N0=4094 N1=1 kernelpagesize_kB=4\n"
	    "60000000 default file=/huge/x huge dirty=2 N0=2 kernelpagesize_kB=2048\n"
	    "800000000000 default anon=1 N0=1\n"
	    "e000 default anon=1 N0=1";
	struct adopt_vma v[4];
	size_t n;

	n = adopt_parse_vmas(maps, strlen(maps), numa, strlen(numa), 1, v, 4);
	ASSERT_EQ_U(n, 2);
	ASSERT_EQ_U(v[0].start, 0x1000);
	ASSERT_EQ_U(v[0].end, 0x3000);
	ASSERT_EQ_U(v[0].fast, 2);
	ASSERT_EQ_U(v[1].start, 0xc000);
	ASSERT_EQ_U(v[1].end, 0xd000);
	ASSERT_EQ_U(v[1].fast, 1);
	/* node 1 fast instead: 5000 and c000 */
	n = adopt_parse_vmas(maps, strlen(maps), numa, strlen(numa), 2, v, 4);
	ASSERT_EQ_U(n, 2);
	ASSERT_EQ_U(v[0].start, 0x5000);
	ASSERT_EQ_U(v[1].start, 0xc000);
	ASSERT_EQ_U(v[1].fast, 2);
	/* 1 GiB holding 4096 pages is 1/64 of it: just dense enough */
	ASSERT_EQ_U(adopt_parse_vmas("10000000-50000000 rw-p 0 0:0 0\n", 31,
	    "10000000 default N1=4000 N0=96\n", 31, 1, v, 4), 1);
	ASSERT_EQ_U(v[0].fast, 96);
	/* cap 1: the count of all, the first written */
	n = adopt_parse_vmas(maps, strlen(maps), numa, strlen(numa), 3, v, 1);
	ASSERT_EQ_U(n, 3);
	ASSERT_EQ_U(v[0].start, 0x1000);
	/* nothing, and nothing past the ends */
	ASSERT_EQ_U(adopt_parse_vmas(maps, strlen(maps), numa, 0, 1, v, 4), 0);
	ASSERT_EQ_U(adopt_parse_vmas(maps, 0, numa, strlen(numa), 1, v, 4), 0);
	ASSERT_EQ_U(adopt_parse_vmas("1000-2000 rw-p", 14, "1000 x N0=1", 9,
	    1, v, 4), 0);		/* "N0=1" cut off */
	ASSERT_EQ_U(adopt_parse_vmas("1000-2000 rw-p", 14, "1000 x N0=1", 11,
	    1, v, 4), 1);
}

/* The child's memory, reported through a pipe. */
struct layout {
	uintptr_t anon;		/* 1024 pages, the first 600 written */
	uintptr_t huge;		/* 4 MiB, 2 MiB-aligned, MADV_HUGEPAGE, written */
	uintptr_t shared;	/* 256 pages MAP_SHARED, written */
	uintptr_t zero;		/* 256 pages only read: the zero page */
};

/*
 * The child: a fresh exec of this binary, so that none of its pages is
 * shared copy-on-write with the parent (those turn exclusive when the
 * parent writes its copy, and would be adopted late).
 */
static int
child_main(int fd)
{
	char *a = mmap(NULL, 1024 * PG, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *h = mmap(NULL, 3 * THP, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *s = mmap(NULL, 256 * PG, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char *z = mmap(NULL, 256 * PG, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile char sink = 0;
	struct layout m;

	if (a == MAP_FAILED || h == MAP_FAILED || s == MAP_FAILED ||
	    z == MAP_FAILED)
		return 1;
	madvise(a, 1024 * PG, MADV_NOHUGEPAGE);
	h = (char *)(((uintptr_t)h + THP - 1) & ~(THP - 1));
	madvise(h, 2 * THP, MADV_HUGEPAGE);
	for (size_t i = 0; i < 600; i++)
		a[i * PG] = 1;
	for (size_t i = 0; i < 2 * THP / PG; i++)
		h[i * PG] = 1;
	for (size_t i = 0; i < 256; i++) {
		s[i * PG] = 1;
		sink += z[i * PG];
	}
	/* resolve what the loop below calls before the parent looks */
	(void)syscall(SYS_getpid);
	m.anon = (uintptr_t)a;
	m.huge = (uintptr_t)h;
	m.shared = (uintptr_t)s;
	m.zero = (uintptr_t)z;
	if (write(fd, &m, sizeof(m)) != sizeof(m))
		return 1;
	for (;;)
		(void)syscall(SYS_pause);
}

static pid_t
spawn(struct layout *l)
{
	char arg[16], exe[4096];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int fds[2];
	pid_t pid;

	/* the binary's own path, so the child's comm is "test_adopt" */
	if (len <= 0 || pipe(fds) < 0 || (pid = fork()) < 0)
		return -1;
	exe[len] = '\0';
	if (pid == 0) {
		/* a failed assertion returns early: never outlive the test */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fds[0]);
		snprintf(arg, sizeof(arg), "%d", fds[1]);
		execl(exe, "test_adopt", "--child", arg, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	if (read(fds[0], l, sizeof(*l)) != sizeof(*l)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(fds[0]);
	return pid;
}

static void
reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/*
 * The processes the adopter may manage: the children only (comm
 * test_adopt; the test itself is never managed, as the agent never
 * manages itself), whatever else runs on this machine.
 */
static struct agent_config children_only;

static int
open_procs(struct procs **pp)
{
	int rc = proc_create(pp, "/proc");

	config_defaults(&children_only);
	snprintf(children_only.include[0], sizeof(children_only.include[0]),
	    "test_adopt");
	children_only.ninclude = 1;
	if (rc == 0)
		proc_set_config(*pp, &children_only);
	return rc;
}

static const struct heat_entry *
entry(struct heat *h, pid_t pid, uintptr_t addr, bool thp)
{
	return heat_lookup(h, heat_key((uint32_t)pid, addr, thp));
}

/* Run steps 1 s apart until a pass ends; each walks at most pps pages. */
static void
run_pass(struct adopter *a, struct heat *h, uint64_t *now, uint64_t pps,
    int *nsteps)
{
	uint64_t passes = adopt_stats(a)->passes;
	int steps = 0;

	while (adopt_stats(a)->passes == passes && steps < 100000) {
		uint64_t walked = adopt_stats(a)->walked;

		*now += SEC;
		ASSERT_TRUE(adopt_step(a, h, 1, *now) >= 0);
		ASSERT_LE(adopt_stats(a)->walked - walked, pps);
		steps++;
	}
	if (nsteps != NULL)
		*nsteps = steps;
}

static void
test_child(void)
{
	struct procs *procs;
	struct thp *thp = NULL;
	struct adopter *a;
	struct heat *h;
	struct layout l;
	uint64_t now = 10 * SEC, sum = 0;
	const struct heat_entry *s;
	size_t n;
	pid_t pid = spawn(&l);
	bool huge, zero;
	int steps;

	ASSERT_TRUE(pid > 0);
	ASSERT_EQ(open_procs(&procs), 0);
	ASSERT_TRUE(proc_managed(procs, (uint32_t)pid));
	(void)thp_open(&thp, "/proc");	/* root only; 4 KiB without */
	ASSERT_EQ(heat_create(&h, 65536, SEC), 0);
	/* a page sampled already keeps its count */
	ASSERT_TRUE(heat_record(h, (uint32_t)pid, l.anon + 5 * PG, false, 0) != NULL);
	ASSERT_EQ(adopt_create(&a, "/proc", procs, thp, 256, now + SEC), 0);
	adopt_wake(a);		/* woken: still not before its time */
	ASSERT_EQ(adopt_step(a, h, 1, now), 0);		/* not yet */
	ASSERT_EQ_U(adopt_stats(a)->walked, 0);
	ASSERT_TRUE(!adopt_settled(a));		/* it has not looked */

	now += SEC;
	ASSERT_TRUE(adopt_step(a, h, 1, now) >= 0);
	ASSERT_TRUE(!adopt_settled(a));		/* mid-pass */
	run_pass(a, h, &now, 256, &steps);
	ASSERT_TRUE(!adopt_settled(a));		/* it adopted: it looks again */
	ASSERT_TRUE(steps > 4);		/* 1624+ pages at 256 a step */
	ASSERT_EQ(entry(h, pid, l.anon + 5 * PG, false)->count, 1);
	for (size_t i = 0; i < 1024; i++) {
		s = entry(h, pid, l.anon + i * PG, false);
		if (i >= 600 || i == 5) {
			ASSERT_TRUE(i == 5 || s == NULL);
			continue;
		}
		ASSERT_TRUE(s != NULL);
		ASSERT_EQ(s->count, 0);
		ASSERT_EQ(s->node, 0);
	}
	huge = thp != NULL && thp_check(thp, (uint32_t)pid, l.huge) == 1;
	fprintf(stderr, "  huge pages: %s\n", huge ? "THP" : "4 KiB (no THP here)");
	for (size_t i = 0; i < 2 * THP / PG; i++) {
		uintptr_t va = l.huge + i * PG;

		if (huge) {
			ASSERT_TRUE(entry(h, pid, va, false) == NULL);
			ASSERT_TRUE(entry(h, pid, va, true) != NULL);
		} else {
			ASSERT_TRUE(entry(h, pid, va, false) != NULL);
		}
	}
	zero = zero_page_mapped();
	if (!zero)
		fprintf(stderr, "  skip the zero-page checks: this kernel gives "
		    "read faults pages of their own\n");
	for (size_t i = 0; i < 256; i++) {
		ASSERT_TRUE(entry(h, pid, l.shared + i * PG, false) == NULL);
		ASSERT_TRUE(!zero || entry(h, pid, l.zero + i * PG, false) == NULL);
	}
	/* every entry but the sampled one was adopted */
	s = heat_slots(h, &n);
	for (size_t i = 0; i < n; i++)
		if (s[i].key != 0 && s[i].count == 0)
			sum += heat_key_npages(s[i].key);
	ASSERT_EQ_U(sum, heat_stats(h)->adopted);
	ASSERT_EQ_U(sum, adopt_stats(a)->adopted);
	ASSERT_GE(sum, 599 + 2 * THP / PG);

	/* it adopted: the next pass starts at once, adopts nothing, idles */
	sum = adopt_stats(a)->adopted;
	run_pass(a, h, &now, 256, NULL);
	ASSERT_EQ_U(adopt_stats(a)->adopted, sum);
	ASSERT_TRUE(adopt_settled(a));		/* found nothing more */
	n = (size_t)adopt_stats(a)->walked;
	now += ADOPT_IDLE_NS - 2 * SEC;
	ASSERT_EQ(adopt_step(a, h, 1, now), 0);
	ASSERT_EQ_U(adopt_stats(a)->walked, n);

	/* woken (the fast nodes went over the budget): a pass at once */
	adopt_wake(a);
	ASSERT_EQ(adopt_step(a, h, 1, now), 0);
	ASSERT_TRUE(adopt_stats(a)->walked > n);
	run_pass(a, h, &now, 256, NULL);
	ASSERT_EQ_U(adopt_stats(a)->adopted, sum);
	ASSERT_TRUE(adopt_settled(a));
	n = (size_t)adopt_stats(a)->walked;
	now += ADOPT_IDLE_NS - 2 * SEC;
	ASSERT_EQ(adopt_step(a, h, 1, now), 0);
	ASSERT_EQ_U(adopt_stats(a)->walked, n);

	/* the child exits mid-pass (reaped: its pid is gone) */
	heat_drop_pid(h, (uint32_t)pid);
	now += SEC;
	while (heat_size(h) == 0 && adopt_stats(a)->walked < n + 100000) {
		now += SEC;
		ASSERT_TRUE(adopt_step(a, h, 1, now) >= 0);
	}
	ASSERT_TRUE(heat_size(h) > 0);
	n = heat_size(h);
	reap(pid);
	run_pass(a, h, &now, 256, NULL);
	ASSERT_EQ_U(heat_size(h), n);

	adopt_destroy(a);
	heat_destroy(h);
	thp_close(thp);
	proc_destroy(procs);
}

/*
 * A process never sampled (never passed to proc_managed) is found in
 * procfs at the start of a pass, under the [processes] filter.
 */
static void
test_discover(void)
{
	struct procs *procs;
	struct adopter *a;
	struct heat *h;
	struct layout l;
	uint64_t now = SEC;
	pid_t pid = spawn(&l);
	const struct heat_entry *s;
	size_t n;

	ASSERT_TRUE(pid > 0);
	ASSERT_EQ(open_procs(&procs), 0);
	ASSERT_EQ_U(proc_count_managed(procs), 0);
	ASSERT_EQ(heat_create(&h, 65536, SEC), 0);
	ASSERT_EQ(adopt_create(&a, "/proc", procs, NULL, 1 << 20, 0), 0);
	ASSERT_TRUE(adopt_step(a, h, 1, now) > 0);
	ASSERT_EQ_U(proc_count_managed(procs), 1);
	ASSERT_TRUE(entry(h, pid, l.anon, false) != NULL);
	s = heat_slots(h, &n);
	for (size_t i = 0; i < n; i++)
		if (s[i].key != 0)
			ASSERT_EQ_U(heat_key_pid(s[i].key), (uint64_t)pid);
	reap(pid);
	adopt_destroy(a);
	heat_destroy(h);
	proc_destroy(procs);
}

/* Adoption fills at most 7/8 of the table and then idles. */
static void
test_fill(void)
{
	struct procs *procs;
	struct adopter *a;
	struct heat *h;
	struct layout l;
	uint64_t now = SEC;
	pid_t pid = spawn(&l);

	ASSERT_TRUE(pid > 0);
	ASSERT_EQ(open_procs(&procs), 0);
	ASSERT_TRUE(proc_managed(procs, (uint32_t)pid));
	ASSERT_EQ(heat_create(&h, 1024, SEC), 0);
	ASSERT_EQ(adopt_create(&a, "/proc", procs, NULL, 1 << 20, 0), 0);
	ASSERT_TRUE(adopt_step(a, h, 1, now) > 0);
	ASSERT_EQ_U(heat_size(h), 1024 * ADOPT_FILL_NUM / ADOPT_FILL_DEN);
	/* counted up to the page that filled it, mid-chunk */
	ASSERT_EQ_U(adopt_stats(a)->adopted, heat_stats(h)->adopted);
	ASSERT_EQ(adopt_step(a, h, 1, now + SEC), 0);	/* idle */
	ASSERT_TRUE(adopt_settled(a));		/* a full table: nothing to do */
	/* no fast node: nothing */
	heat_clear(h);
	now += ADOPT_IDLE_NS + SEC;
	ASSERT_EQ(adopt_step(a, h, 2, now), 0);
	ASSERT_EQ_U(heat_size(h), 0);
	reap(pid);
	adopt_destroy(a);
	heat_destroy(h);
	proc_destroy(procs);
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--child") == 0)
		return child_main(atoi(argv[2]));
	RUN_TEST(test_parse);
	RUN_TEST(test_child);
	RUN_TEST(test_discover);
	RUN_TEST(test_fill);
	TEST_EXIT();
}
