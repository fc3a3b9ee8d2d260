/*
 * pagemap.h - reading /proc/PID/pagemap: one u64 per page of a process's
 * address space (Documentation/admin-guide/mm/pagemap.rst), through a
 * small cache of open pagemap files per pid.
 *
 * Each user owns its own cache (THP detection on the loop's thread, the
 * vacate step and adoption on the round's): nothing here is shared or
 * locked.  It reads, it never changes anything.
 */
#ifndef VTIER_AGENT_PAGEMAP_H
#define VTIER_AGENT_PAGEMAP_H

#include <stddef.h>
#include <stdint.h>

#define PAGEMAP_PRESENT		(1ULL << 63)
#define PAGEMAP_SWAPPED		(1ULL << 62)
#define PAGEMAP_FILE		(1ULL << 61)	/* file page or shared anonymous */
#define PAGEMAP_EXCLUSIVE	(1ULL << 56)	/* mapped by this process only */
#define PAGEMAP_PFN_MASK	((1ULL << 55) - 1)	/* 0 without CAP_SYS_ADMIN */

struct pagemap;

/* procfs root ("/proc").  0 or -ENOMEM. */
int pagemap_open(struct pagemap **pp, const char *procfs);
void pagemap_close(struct pagemap *p);

/*
 * The n entries of pid's pages from the one holding addr on.  0, or
 * -ENOENT (no such process) or another -errno of open(2), or -ESRCH
 * (it went away, or the range ends beyond its address space).
 */
int pagemap_read(struct pagemap *p, uint32_t pid, uint64_t addr,
    uint64_t *out, size_t n);

/* The process exited: close its cached file. */
void pagemap_forget(struct pagemap *p, uint32_t pid);

#endif
