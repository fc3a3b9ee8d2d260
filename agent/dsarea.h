/*
 * dsarea.h - where the CPUs write PEBS records, as guest-physical pages,
 * found on a stock kernel without a module or a BPF program (issue 17).
 *
 * Linux (arch/x86/events/intel/ds.c) gives every CPU a DS management
 * area, the page-aligned per-CPU variable cpu_debug_store, and, while a
 * PEBS event is open, a PEBS buffer of x86_pmu.pebs_buffer_size bytes
 * (64 KiB in 6.1) from dsalloc_pages(), whose linear-map address is
 * cpu_hw_events.ds_pebs_vaddr.  The CPU writes both through aliases in
 * the cpu_entry_area (arch/x86/mm/cpu_entry_area.c), which map the same
 * physical pages.  dsarea finds them from the kernel's own description:
 * symbol addresses and __per_cpu_offset from /proc/kallsyms, struct
 * layouts from the BTF in /sys/kernel/btf/vmlinux, the memory through
 * /proc/kcore and linear-map virtual to physical through kcore's program
 * headers (kparse.c decodes all three).  Every step is checked; the
 * first that fails says which and why (PROTO_PF_WHY_* and a sentence),
 * and the caller falls back to the fast nodes' memory.  (Not a BPF
 * program: it would still need the virtual-to-physical step kcore's
 * headers give, plus libbpf, a BPF build step and CAP_BPF; README,
 * "What is pinned".)
 *
 * It reads files (the syscalls live here, the decoding in kparse.c) and
 * never writes anything, never opens a perf event, never pins.
 */
#ifndef VTIER_AGENT_DSAREA_H
#define VTIER_AGENT_DSAREA_H

#include <stddef.h>
#include <stdint.h>

#include "vtier/proto.h"

/* Where to read from; NULL members: the real files. */
struct dsarea_paths {
	const char *kallsyms;		/* /proc/kallsyms */
	const char *btf;		/* /sys/kernel/btf/vmlinux */
	const char *kcore;		/* /proc/kcore */
	const char *cpus;		/* /sys/devices/system/cpu/possible */
	const char *kptr_restrict;	/* /proc/sys/kernel/kptr_restrict */
	const char *lockdown;		/* /sys/kernel/security/lockdown */
};

/* Why discovery failed: the step, and a sentence for the log. */
struct dsarea_err {
	uint16_t why;			/* enum proto_pf_reason */
	char msg[256];
};

/* What the CPUs write to: sorted, disjoint, page-aligned ranges. */
struct dsarea_set {
	struct proto_range *r;
	size_t n;
	uint64_t bytes;
	unsigned ncpus;			/* possible CPUs: DS areas */
	unsigned nbuffers;		/* PEBS buffers allocated now */
};

struct dsarea;

/*
 * Read kallsyms, the BTF and kcore's headers, and check the per-CPU
 * arithmetic on every possible CPU (per_cpu(this_cpu_off, cpu) must read
 * __per_cpu_offset[cpu]).  0, or -errno with e filled.
 */
int dsarea_open(struct dsarea **dp, const struct dsarea_paths *paths,
    struct dsarea_err *e);
void dsarea_close(struct dsarea *d);

/*
 * Every possible CPU's DS area and its PEBS buffer if one is allocated
 * now (PEBS events open), merged into ranges.  0 or -errno with e.
 */
int dsarea_find(struct dsarea *d, struct dsarea_set *set,
    struct dsarea_err *e);
void dsarea_set_free(struct dsarea_set *set);

/* dsarea_open + dsarea_find + dsarea_close. */
int dsarea_discover(const struct dsarea_paths *paths, struct dsarea_set *set,
    struct dsarea_err *e);

/* The possible CPUs dsarea_open read: their count and the i-th. */
int dsarea_ncpus(const struct dsarea *d);
int dsarea_cpu(const struct dsarea *d, int i);
/*
 * Per-CPU variable sym ("this_cpu_off", "cpu_debug_store",
 * "cpu_hw_events") of CPU cpu: its kernel virtual address.  -ENOENT.
 */
int dsarea_percpu(const struct dsarea *d, const char *sym, int cpu,
    uint64_t *vaddr);
/* len bytes of kernel memory at vaddr, through kcore.  0 or -errno. */
int dsarea_read(const struct dsarea *d, uint64_t vaddr, void *buf,
    size_t len);
/* The guest-physical address of vaddr..vaddr+len (one segment). */
int dsarea_phys(const struct dsarea *d, uint64_t vaddr, uint64_t len,
    uint64_t *gpa);

#endif
