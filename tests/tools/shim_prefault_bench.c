/*
 * shim_prefault_bench.c - how fast the shim pins guest memory: the real
 * prefault.c path (map MAP_SHARED, MADV_POPULATE_WRITE, mlock) on a
 * tmpfs file, as the event loop drives it (16 MiB per loop turn).
 *
 *   shim_prefault_bench [SIZE]      (default 1G; the file is on /dev/shm)
 *
 * Three figures, each in GiB/s, with the longest single loop turn (how
 * long other VMs wait at most while a pin is under way):
 *   cold     the file is all holes: pages are allocated and zeroed
 *   warm     the pages exist (a running guest's memory): fault + lock
 *   repeat   the same request again: the pins are kept (time only)
 * Needs CAP_IPC_LOCK or RLIMIT_MEMLOCK of SIZE.  Exit 0, 1 on error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "../../hostshim/hostshim.h"

#define TURN (16 * MiB)		/* main.c's PF_TURN_BYTES */

static int
run(struct vm *vm, uint64_t size, const char *what)
{
	struct proto_prefault req = { .nranges = 1 };
	struct pf_plan plan;
	uint64_t t0, t1, worst = 0, turns = 0;
	char why[160];
	int rc;

	req.ranges[0].gpa = 0;
	req.ranges[0].size = size;
	if ((rc = prefault_plan(&vm->cfg, req.ranges, req.nranges, &plan, why,
	    sizeof(why))) < 0) {
		fprintf(stderr, "plan: %s\n", why);
		prefault_plan_free(&plan);
		return rc;
	}
	t0 = now_ns();
	rc = prefault_start(vm, &plan);
	prefault_plan_free(&plan);
	if (rc < 0) {
		fprintf(stderr, "start: %s\n", strerror(-rc));
		return rc;
	}
	for (;;) {
		uint64_t s = now_ns();
		int more = prefault_step(vm, TURN);

		worst = MAX(worst, now_ns() - s);
		turns++;
		if (!more)
			break;
	}
	t1 = now_ns();
	if (vm->pf_status != 0 || vm->pinned != size) {
		fprintf(stderr, "%s: pinning failed: %s\n", what,
		    strerror(-vm->pf_status));
		return -EIO;
	}
	if (strcmp(what, "repeat") == 0) {
		printf("prefault %-6s pins kept, nothing touched (%.3f ms)\n",
		    what, (double)(t1 - t0) / 1e6);
		return 0;
	}
	printf("prefault %-6s %6.2f GiB/s  (%llu MiB in %.1f ms, %llu turns, "
	    "longest turn %.1f ms)\n", what,
	    (double)size / (double)GiB / ((double)(t1 - t0) / 1e9),
	    (unsigned long long)(size / MiB), (double)(t1 - t0) / 1e6,
	    (unsigned long long)turns, (double)worst / 1e6);
	return 0;
}

int
main(int argc, char **argv)
{
	struct shim_config cfg;
	struct vm_config *vc;
	struct vmtab tab;
	char path[64];
	uint64_t size = GiB;
	int fd, rc = 1;

	log_init("shim_prefault_bench", LOG_LVL_WARN);
	if (argc > 1 && (parse_size(argv[1], &size) < 0 || size == 0 ||
	    size % (2 * MiB) != 0)) {
		fprintf(stderr, "usage: shim_prefault_bench [SIZE, a multiple "
		    "of 2M]\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/dev/shm/vtier-bench-pf.%d",
	    (int)getpid());
	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600)) < 0 ||
	    ftruncate(fd, (off_t)size) < 0) {
		perror(path);
		return 1;
	}
	close(fd);
	config_defaults(&cfg);
	if ((vc = calloc(1, sizeof(*vc))) == NULL)
		goto out;
	snprintf(vc->name, sizeof(vc->name), "bench");
	snprintf(vc->backing[0].path, sizeof(vc->backing[0].path), "%s", path);
	vc->backing[0].size = size;
	vc->nbacking = 1;
	vc->prefault_cap = size;
	cfg.vms = vc;
	cfg.nvms = 1;
	if (budget_init(&tab, &cfg) < 0)
		goto out;
	if (run(tab.v[0], size, "cold") == 0) {
		prefault_release(tab.v[0]);
		if (run(tab.v[0], size, "warm") == 0 &&
		    run(tab.v[0], size, "repeat") == 0)
			rc = 0;
	}
	budget_free(&tab);
out:
	config_free(&cfg);
	unlink(path);
	return rc;
}
