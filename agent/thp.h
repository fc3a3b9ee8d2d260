/*
 * thp.h - is a sampled address backed by a transparent huge page?
 *
 * move_pages(2) moves a whole THP when asked for any of its base pages,
 * so the agent tracks THP-backed memory as one 2 MiB entry.  The answer
 * comes from /proc/PID/pagemap (the page frame) and /proc/kpageflags
 * (KPF_THP), both root-only; it is asked once per new heat entry.
 */
#ifndef VTIER_AGENT_THP_H
#define VTIER_AGENT_THP_H

#include <stdint.h>

struct thp;

/* procfs root ("/proc").  0 or -errno (e.g. no kpageflags: not root). */
int thp_open(struct thp **tp, const char *procfs);
void thp_close(struct thp *t);

/* 1: addr of pid is in a THP, 0: it is not (or not present), -errno. */
int thp_check(struct thp *t, uint32_t pid, uint64_t addr);

/*
 * 1: the page frame pfn (from pagemap) is part of a THP, 0: it is not,
 * -errno.  For callers that read pagemap themselves.
 */
int thp_frame(struct thp *t, uint64_t pfn);

/* The process exited: close its cached pagemap. */
void thp_forget(struct thp *t, uint32_t pid);

#endif
