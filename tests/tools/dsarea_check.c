/*
 * dsarea_check.c - the translation check, guest side (tests/sh/
 * shim_vm.sh): for every possible CPU, the guest-physical address
 * dsarea.c computes for the per-CPU variable this_cpu_off and the value
 * the guest reads there through /proc/kcore; the host then reads the
 * same GPA from the VM's backing file and must find the same value.
 * this_cpu_off holds the CPU's own per-CPU offset, so the values differ
 * from CPU to CPU and a translation that hit the wrong page would show.
 * Then the DS areas and PEBS buffers dsarea_find reports.
 *
 *   dsarea_check        lines "cpu N this_cpu_off gpa 0x.. value 0x..",
 *                       "cpu N cpu_debug_store gpa 0x..", "set ..."
 *   dsarea_check -d CAP  the same with capability number CAP dropped
 *                       from the effective set first (the agent's unit
 *                       keeps CAP_SYSLOG 34 and CAP_SYS_RAWIO 17 for
 *                       this: without either, discovery must fail at
 *                       kallsyms or kcore and say which capability)
 * Exit 0, or 1 with "failed: REASON: SENTENCE".
 */
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vtier/proto.h"
#include "dsarea.h"

/* Drop capability cap from our effective set (no libcap: the raw calls). */
static int
drop_cap(int cap)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct c[2];

	if (cap < 0 || cap >= 64 || syscall(SYS_capget, &h, c) < 0)
		return -1;
	c[cap / 32].effective &= ~(1u << (cap % 32));
	return (int)syscall(SYS_capset, &h, c);
}

int
main(int argc, char **argv)
{
	struct dsarea_set set;
	struct dsarea_err e;
	struct dsarea *d;
	int rc = 1;

	if (argc == 3 && argv[1][0] == '-' && argv[1][1] == 'd' &&
	    drop_cap(atoi(argv[2])) < 0) {
		perror("failed: capset");
		return 1;
	}
	if (dsarea_open(&d, NULL, &e) < 0) {
		printf("failed: %s: %s\n", proto_pf_reason_name(e.why), e.msg);
		return 1;
	}
	for (int i = 0; i < dsarea_ncpus(d); i++) {
		int cpu = dsarea_cpu(d, i);
		uint64_t va, gpa, val;

		if (dsarea_percpu(d, "this_cpu_off", cpu, &va) < 0 ||
		    dsarea_phys(d, va, 8, &gpa) < 0 ||
		    dsarea_read(d, va, &val, 8) < 0) {
			printf("failed: cpu %d: this_cpu_off not readable\n", cpu);
			goto out;
		}
		printf("cpu %d this_cpu_off va 0x%llx gpa 0x%llx value 0x%llx\n",
		    cpu, (unsigned long long)va, (unsigned long long)gpa,
		    (unsigned long long)val);
		if (dsarea_percpu(d, "cpu_debug_store", cpu, &va) < 0 ||
		    dsarea_phys(d, va, 4096, &gpa) < 0) {
			printf("failed: cpu %d: cpu_debug_store\n", cpu);
			goto out;
		}
		printf("cpu %d cpu_debug_store va 0x%llx gpa 0x%llx\n", cpu,
		    (unsigned long long)va, (unsigned long long)gpa);
	}
	if (dsarea_find(d, &set, &e) < 0) {
		printf("failed: %s: %s\n", proto_pf_reason_name(e.why), e.msg);
		goto out;
	}
	printf("set %zu ranges %llu bytes cpus %u buffers %u\n", set.n,
	    (unsigned long long)set.bytes, set.ncpus, set.nbuffers);
	for (size_t i = 0; i < set.n; i++)
		printf("range 0x%llx+0x%llx\n",
		    (unsigned long long)set.r[i].gpa,
		    (unsigned long long)set.r[i].size);
	dsarea_set_free(&set);
	rc = 0;
out:
	dsarea_close(d);
	return rc;
}
