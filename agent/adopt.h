/*
 * adopt.h - take pages on the fast nodes that were never sampled into the
 * heat table.
 *
 * The agent learns of a page when a sample names it.  A page of a managed
 * process that sits on a fast node and was never sampled (cold memory
 * first touched there; a page an agent promoted before it was restarted)
 * would count as unmanaged: it would shrink the room left for hot pages
 * and never be demoted; so would every page of an idle process, which no
 * sample ever names.  Each pass first looks at every process in procfs
 * under the [processes] filter (proc_scan), then walks the private
 * mappings of managed processes that hold pages on fast nodes
 * (/proc/PID/maps and numa_maps), reads which of their pages are present, anonymous and
 * mapped by that process only (/proc/PID/pagemap: the pages move_pages
 * can move), asks the kernel where those are (move_pages with no target
 * node) and enters each one on a fast node that is not tracked with
 * count 0 (heat_adopt): the coldest a page can be, demoted first when the
 * hot set needs room or the budget shrinks.  A sample later makes it an
 * ordinary page.
 *
 * Paced: a step walks at most pages_per_s pages of address space per
 * second since the last step, resuming where the last one stopped.  A
 * pass over every managed process that adopted pages is followed by the
 * next at once, one that adopted none by the next after ADOPT_IDLE_NS.
 * The first pass starts no sooner than the time given at creation (the
 * agent: ADOPT_GRACE_NS after start, by when the pages in use have been
 * sampled; one a restarted agent demotes too soon comes back when it is).
 * Adoption stops at ADOPT_FILL of the heat table's capacity, so sampled
 * pages always find room without evicting.
 *
 * Real backend only: it reads procfs and calls move_pages.
 */
#ifndef VTIER_AGENT_ADOPT_H
#define VTIER_AGENT_ADOPT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct heat;
struct procs;
struct thp;
struct adopter;

#define ADOPT_IDLE_NS	(10ULL * 1000000000ULL)
#define ADOPT_GRACE_NS	(2ULL * 1000000000ULL)
/* The agent's pace: 512 MiB of mappings with fast pages a second */
#define ADOPT_PAGES_PER_S	131072
#define ADOPT_FILL_NUM	7	/* adopt while size < capacity * 7/8 */
#define ADOPT_FILL_DEN	8

struct adopt_stats {
	uint64_t passes;	/* passes over every managed process finished */
	uint64_t walked;	/* pages of address space walked */
	uint64_t queried;	/* present pages whose node was asked */
	uint64_t adopted;	/* 4 KiB pages entered into the heat table */
};

/*
 * procfs root ("/proc"); procs gives the managed pids; thp (may be NULL)
 * tells THP-backed pages, adopted as one 2 MiB entry.  0 or -ENOMEM.
 */
int adopt_create(struct adopter **ap, const char *procfs, struct procs *procs,
    struct thp *thp, uint64_t pages_per_s, uint64_t first_ns);
void adopt_destroy(struct adopter *a);

/*
 * One step at now_ns: walk what the pace allows and adopt untracked pages
 * on nodes of fast_mask into h.  Returns 4 KiB pages adopted (>= 0).
 * Processes that exit or deny access are skipped, never fatal.
 */
long adopt_step(struct adopter *a, struct heat *h, uint64_t fast_mask,
    uint64_t now_ns);

/*
 * A flag that, once set, ends adopt_step before its next chunk (NULL:
 * never); the walk resumes there at the next step.
 */
void adopt_set_cancel(struct adopter *a, const atomic_bool *flag);

const struct adopt_stats *adopt_stats(const struct adopter *a);

/*
 * Start the next pass at the next step, not ADOPT_IDLE_NS after one that
 * adopted nothing (but not before the first pass's time): the fast nodes
 * just went over the budget, and memory the agent did not move, a
 * process's new pages among it, is what a pass finds.  No effect while
 * a pass runs.
 */
void adopt_wake(struct adopter *a);

/*
 * Adoption has nothing more to find for now: no pass is running and the
 * last one adopted nothing (or ended at a full table).  Until then an
 * over-budget fast node may still hold cold pages it has not reached.
 */
bool adopt_settled(const struct adopter *a);

/*
 * The mappings worth walking, from the text of /proc/PID/maps and
 * /proc/PID/numa_maps: private ones of 4 KiB pages (not hugetlbfs) that
 * numa_maps says hold pages on a node of fast_mask, in address order,
 * page-aligned, below 2^47, and not sparse: a mapping spanning more than
 * ADOPT_SPARSE times the pages it holds (sanitizer shadow memory, address
 * space reserved for a heap) would cost a pagemap entry per page of
 * nothing.  Lines that do not parse are skipped.  Writes at most cap
 * mappings to out and returns how many there are in all.  Pure: fuzzed.
 */
#define ADOPT_SPARSE	64
struct adopt_vma {
	uint64_t start, end;
	uint64_t fast;		/* its pages on fast nodes, per numa_maps */
};
size_t adopt_parse_vmas(const char *maps, size_t maps_len, const char *numa,
    size_t numa_len, uint64_t fast_mask, struct adopt_vma *out, size_t cap);

#endif
