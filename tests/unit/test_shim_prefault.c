/*
 * test_shim_prefault.c - GPA -> backing file offset translation (q35 and
 * NUMA layouts), request checking (ranges outside the VM, gaps, the
 * cap), and real pinning of tmpfs files: exactly the requested pages
 * become resident (mincore) and locked (VmLck), a repeated request
 * keeps its pins, a new one replaces them, release unlocks everything,
 * and a request that fails touches nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "../../hostshim/hostshim.h"
#include "../test.h"

static char node0[64], node1[64];

static void
add_backing(struct vm_config *vc, const char *path, uint64_t off,
    uint64_t gpa, uint64_t size)
{
	struct backing *b = &vc->backing[vc->nbacking++];

	snprintf(b->path, sizeof(b->path), "%s", path);
	b->offset = off;
	b->gpa = gpa;
	b->size = size;
}

static void
req_init(struct proto_prefault *r)
{
	memset(r, 0, sizeof(*r));
}

static void
req_add(struct proto_prefault *r, uint64_t gpa, uint64_t size)
{
	r->ranges[r->nranges].gpa = gpa;
	r->ranges[r->nranges].size = size;
	r->nranges++;
}

/* prefault_plan of r into plan (whose segments from before are freed). */
static int
plan_req(const struct vm_config *vc, const struct proto_prefault *r,
    struct pf_plan *plan, char *why)
{
	prefault_plan_free(plan);
	return prefault_plan(vc, r->ranges, r->nranges, plan, why, 160);
}

/* q35 with 6 GiB in one file: 2 GiB below 4G, the rest from 4G on. */
static void
test_translate_q35(void)
{
	struct vm_config vc;
	uint64_t off, avail;
	int idx;

	memset(&vc, 0, sizeof(vc));
	add_backing(&vc, "/dev/shm/ram", 0, 0, 2 * GiB);
	add_backing(&vc, "/dev/shm/ram", 2 * GiB, 4 * GiB, 4 * GiB);
	ASSERT_EQ(prefault_translate(&vc, 0x1000, &idx, &off, &avail), 0);
	ASSERT_EQ(idx, 0);
	ASSERT_EQ_U(off, 0x1000);
	ASSERT_EQ_U(avail, 2 * GiB - 0x1000);
	ASSERT_EQ(prefault_translate(&vc, 4 * GiB, &idx, &off, &avail), 0);
	ASSERT_EQ(idx, 1);
	ASSERT_EQ_U(off, 2 * GiB);
	ASSERT_EQ(prefault_translate(&vc, 8 * GiB - 4096, &idx, &off, &avail),
	    0);
	ASSERT_EQ_U(off, 6 * GiB - 4096);
	ASSERT_EQ_U(avail, 4096);
	/* the PCI hole and past the end are nobody's RAM */
	ASSERT_EQ(prefault_translate(&vc, 3 * GiB, &idx, &off, &avail),
	    -ERANGE);
	ASSERT_EQ(prefault_translate(&vc, 2 * GiB, &idx, &off, &avail),
	    -ERANGE);
	ASSERT_EQ(prefault_translate(&vc, 8 * GiB, &idx, &off, &avail),
	    -ERANGE);
}

/* Two NUMA nodes, each its own file: a range across both is cut in two. */
static void
test_plan_numa(void)
{
	struct vm_config vc;
	struct proto_prefault r;
	struct pf_plan plan = { 0 };
	char why[160];

	memset(&vc, 0, sizeof(vc));
	snprintf(vc.name, sizeof(vc.name), "numa");
	add_backing(&vc, "/n0", 0, 0, 8 * MiB);
	add_backing(&vc, "/n1", 0, 8 * MiB, 16 * MiB);
	vc.prefault_cap = 4 * MiB;

	req_init(&r);
	req_add(&r, 1 * MiB, 1 * MiB);
	req_add(&r, 7 * MiB, 2 * MiB);
	ASSERT_EQ(plan_req(&vc, &r, &plan, why), 0);
	ASSERT_EQ(plan.nseg, 3);
	ASSERT_EQ_U(plan.total, 3 * MiB);
	ASSERT_EQ(plan.seg[0].backing, 0);
	ASSERT_EQ_U(plan.seg[0].off, 1 * MiB);
	ASSERT_EQ_U(plan.seg[0].len, 1 * MiB);
	ASSERT_EQ(plan.seg[1].backing, 0);
	ASSERT_EQ_U(plan.seg[1].off, 7 * MiB);
	ASSERT_EQ_U(plan.seg[1].len, 1 * MiB);
	ASSERT_EQ(plan.seg[2].backing, 1);
	ASSERT_EQ_U(plan.seg[2].gpa, 8 * MiB);
	ASSERT_EQ_U(plan.seg[2].off, 0);
	ASSERT_EQ_U(plan.seg[2].len, 1 * MiB);

	/* partly past the end */
	req_init(&r);
	req_add(&r, 23 * MiB, 2 * MiB);
	ASSERT_EQ(plan_req(&vc, &r, &plan, why), -ERANGE);
	ASSERT_EQ(plan.nseg, 0);
	ASSERT_CONTAINS(why, "0x1700000+0x200000 is not inside");

	/* over the cap, though inside */
	req_init(&r);
	req_add(&r, 0, 2 * MiB);
	req_add(&r, 10 * MiB, 3 * MiB);
	ASSERT_EQ(plan_req(&vc, &r, &plan, why), -E2BIG);
	ASSERT_CONTAINS(why, "5M asked for, prefault_cap is 4M");

	/* no backing configured at all */
	vc.nbacking = 0;
	req_init(&r);
	req_add(&r, 0, 4096);
	ASSERT_EQ(plan_req(&vc, &r, &plan, why), -ENOENT);
	prefault_plan_free(&plan);
}

/* A hole between two backing ranges is not the VM's memory either. */
static void
test_plan_gap(void)
{
	struct vm_config vc;
	struct proto_prefault r;
	struct pf_plan plan = { 0 };
	char why[160];

	memset(&vc, 0, sizeof(vc));
	add_backing(&vc, "/a", 0, 0, 1 * MiB);
	add_backing(&vc, "/b", 0, 2 * MiB, 1 * MiB);
	vc.prefault_cap = GiB;
	req_init(&r);
	req_add(&r, 512 * KiB, 2 * MiB);
	ASSERT_EQ(plan_req(&vc, &r, &plan, why), -ERANGE);
	req_init(&r);
	req_add(&r, 2 * MiB, 1 * MiB);
	ASSERT_EQ(plan_req(&vc, &r, &plan, why), 0);
	ASSERT_EQ(plan.nseg, 1);
	ASSERT_EQ(plan.seg[0].backing, 1);
	prefault_plan_free(&plan);
}

static void
make_file(char *path, size_t len, const char *tag, uint64_t size)
{
	int fd;

	snprintf(path, len, "/dev/shm/vtier-test-pf-%s.%d", tag, (int)getpid());
	unlink(path);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		abort();
	close(fd);
}

/* Resident pages of a file as a bitmap string, one char per 256 KiB. */
static void
residency(const char *path, uint64_t size, char *out)
{
	unsigned char *vec = malloc(size / 4096);
	int fd = open(path, O_RDONLY);
	void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	size_t chunk = 256 * KiB / 4096;

	close(fd);
	if (p == MAP_FAILED || vec == NULL || mincore(p, size, vec) < 0)
		abort();
	for (size_t i = 0; i < size / 4096 / chunk; i++) {
		int n = 0;

		for (size_t k = 0; k < chunk; k++)
			n += vec[i * chunk + k] & 1;
		out[i] = n == 0 ? '.' : n == (int)chunk ? '#' : '?';
	}
	out[size / 4096 / chunk] = '\0';
	munmap(p, size);
	free(vec);
}

static uint64_t
vmlck(void)
{
	char buf[8192], *p;

	if (read_file("/proc/self/status", buf, sizeof(buf)) < 0 ||
	    (p = strstr(buf, "VmLck:")) == NULL)
		return UINT64_MAX;
	return strtoull(p + 6, NULL, 10) * 1024;
}

static void
pin(struct vm *vm, struct proto_prefault *r, int want)
{
	struct pf_plan plan = { 0 };
	char why[160];
	int rc;

	if (plan_req(&vm->cfg, r, &plan, why) < 0)
		abort();
	rc = prefault_start(vm, &plan);
	prefault_plan_free(&plan);
	if (rc != want)
		fprintf(stderr, "prefault_start: %d, wanted %d\n", rc, want);
	if (rc == 0)
		prefault_finish(vm);
}

static void
test_pin_real(void)
{
	struct shim_config cfg;
	struct vmtab tab;
	struct vm_config *vc;
	struct proto_prefault r;
	struct vm *vm;
	uint64_t lck0 = vmlck();
	char a[64], b[64];

	make_file(node0, sizeof(node0), "n0", 4 * MiB);
	make_file(node1, sizeof(node1), "n1", 4 * MiB);
	config_defaults(&cfg);
	vc = calloc(1, sizeof(*vc));
	snprintf(vc->name, sizeof(vc->name), "pinme");
	add_backing(vc, node0, 0, 0, 4 * MiB);
	add_backing(vc, node1, 0, 4 * MiB, 4 * MiB);
	vc->prefault_cap = 8 * MiB;
	cfg.vms = vc;
	cfg.nvms = 1;
	ASSERT_EQ(budget_init(&tab, &cfg), 0);
	vm = tab.v[0];

	residency(node0, 4 * MiB, a);
	ASSERT_STREQ(a, "................");

	/* 256K at 1M, and 512K across the node boundary at 3.75M */
	req_init(&r);
	req_add(&r, 1 * MiB, 256 * KiB);
	req_add(&r, 4 * MiB - 256 * KiB, 512 * KiB);
	pin(vm, &r, 0);
	ASSERT_EQ_U(vm->pinned, 768 * KiB);
	ASSERT_EQ(vm->npins, 3);
	ASSERT_EQ(vm->pf_status, 0);
	residency(node0, 4 * MiB, a);
	residency(node1, 4 * MiB, b);
	ASSERT_STREQ(a, "....#..........#");
	ASSERT_STREQ(b, "#...............");
	ASSERT_EQ_U(vmlck() - lck0, 768 * KiB);

	/* the same request again: carried over, nothing new */
	pin(vm, &r, 0);
	ASSERT_EQ_U(vm->pinned, 768 * KiB);
	ASSERT_EQ_U(vmlck() - lck0, 768 * KiB);

	/* a new set replaces the old one */
	req_init(&r);
	req_add(&r, 6 * MiB, 1 * MiB);
	pin(vm, &r, 0);
	ASSERT_EQ_U(vm->pinned, 1 * MiB);
	ASSERT_EQ(vm->npins, 1);
	ASSERT_EQ_U(vmlck() - lck0, 1 * MiB);
	residency(node1, 4 * MiB, b);
	ASSERT_STREQ(b, "#.......####....");

	prefault_release(vm);
	ASSERT_EQ_U(vm->pinned, 0);
	ASSERT_EQ_U(vmlck(), lck0);

	/* a backing file that has gone: an error, nothing pinned, the old
	 * set (here: none) kept */
	unlink(node1);
	req_init(&r);
	req_add(&r, 0, 64 * KiB);
	req_add(&r, 5 * MiB, 64 * KiB);
	pin(vm, &r, -ENOENT);
	ASSERT_EQ_U(vm->pinned, 0);
	ASSERT_TRUE(vm->job == NULL);
	ASSERT_EQ_U(vmlck(), lck0);

	/* a backing file smaller than configured */
	make_file(node1, sizeof(node1), "n1", 1 * MiB);
	req_init(&r);
	req_add(&r, 6 * MiB, 64 * KiB);
	pin(vm, &r, -ERANGE);
	ASSERT_EQ_U(vmlck(), lck0);

	budget_free(&tab);
	config_free(&cfg);
	unlink(node0);
	unlink(node1);
}

/* The work comes in steps: the loop stays free between them. */
static void
test_steps(void)
{
	struct shim_config cfg;
	struct vmtab tab;
	struct vm_config *vc;
	struct proto_prefault r;
	struct pf_plan plan = { 0 };
	struct vm *vm;
	char why[160];
	int steps = 0;

	make_file(node0, sizeof(node0), "steps", 8 * MiB);
	config_defaults(&cfg);
	vc = calloc(1, sizeof(*vc));
	snprintf(vc->name, sizeof(vc->name), "steps");
	add_backing(vc, node0, 0, 0, 8 * MiB);
	vc->prefault_cap = 8 * MiB;
	cfg.vms = vc;
	cfg.nvms = 1;
	ASSERT_EQ(budget_init(&tab, &cfg), 0);
	vm = tab.v[0];
	req_init(&r);
	req_add(&r, 0, 8 * MiB);
	ASSERT_EQ(plan_req(&vm->cfg, &r, &plan, why), 0);
	ASSERT_EQ(prefault_start(vm, &plan), 0);
	ASSERT_EQ(prefault_start(vm, &plan), -EBUSY);
	prefault_plan_free(&plan);
	while (prefault_step(vm, 1 * MiB) == 1)
		steps++;
	ASSERT_EQ(steps, 7);
	ASSERT_EQ_U(vm->pinned, 8 * MiB);
	/* removal of the VM (budget_free) releases the pins */
	budget_free(&tab);
	config_free(&cfg);
	unlink(node0);
}

int
main(void)
{
	log_init("test_shim_prefault", LOG_LVL_ERR);
	RUN_TEST(test_translate_q35);
	RUN_TEST(test_plan_numa);
	RUN_TEST(test_plan_gap);
	RUN_TEST(test_pin_real);
	RUN_TEST(test_steps);
	TEST_EXIT();
}
