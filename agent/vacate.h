/*
 * vacate.h - demote whole 2 MiB physical blocks, so that the memory
 * demotions free on the fast nodes can go back to the host.
 *
 * A budget saves host memory only if what the guest frees is returned:
 * free page reporting (virtio_balloon) tells the host about free blocks
 * of page_reporting_order, 2 MiB (pageblock order) on x86, and nothing
 * smaller.  The policy demotes the coldest pages, and among equally cold
 * ones (the many pages nobody samples, which adoption enters at heat 0)
 * it takes them in heat-table slot order: scattered over physical
 * memory.  Demoting half of a 240 MiB cold region that way leaves every
 * one of its blocks half used, and not one byte can be reported.
 *
 * vacate_plan rewrites the part of a plan that demotes settled pages of
 * heat 0 (past min_residence; the policy puts them first) with as many
 * bytes of such pages chosen block by block.  The pool is every such page
 * the heat table holds on the fast nodes but those the policy orders
 * after the others (maybe gone, or sampled in the last POLICY_AGE_SWAP
 * epochs: policy.c "Recency", "Maybe gone"); each page's frame comes from
 * /proc/PID/pagemap and each block's other pages from /proc/kpageflags:
 *  - blocks demoting would empty (no used page but pool pages) first,
 *    those with the fewest pool pages first: the most blocks freed for
 *    the bytes moved;
 *  - then the others, those with the fewest other used pages first.
 * A page is in use for this count when kpageflags shows a flag and not
 * KPF_BUDDY (a free page shows none; the first page of a free block
 * shows BUDDY, and UPTODATE too once reported, as PG_reported is that
 * bit); kernel pages that carry no flag look free, so a block can turn
 * out not to be emptied, never the other way round.
 *
 * The ranking is made at most every VACATE_REFRESH_NS (and when it runs
 * out, at most every VACATE_MIN_REFRESH_NS) and walked between, skipping
 * pages that are no longer in the pool.  Only the choice among pages of
 * equal heat changes: the bytes demoted, their heat and every other part
 * of the plan stay as the policy made them.
 *
 * The round's, on the worker thread: it reads procfs, it never changes
 * anything but the plan it is given.  Real backend only.
 */
#ifndef VTIER_AGENT_VACATE_H
#define VTIER_AGENT_VACATE_H

#include <stdint.h>

struct heat;
struct plan;
struct policy_params;
struct vacate;

#define VACATE_REFRESH_NS	1000000000ULL
#define VACATE_MIN_REFRESH_NS	200000000ULL
#define VACATE_POOL_MAX		(1u << 18)	/* pages ranked at most (1 GiB) */
#define VACATE_FLAG_BLOCKS	4096	/* blocks whose kpageflags are read */

struct vacate_stats {
	uint64_t refreshes;	/* rankings made */
	uint64_t rewritten;	/* 4 KiB pages of demotions it chose */
	uint64_t pool_pages;	/* heat-0 pages on fast at the last ranking */
	uint64_t blocks;	/* blocks holding them */
	uint64_t blocks_empty;	/* of which demoting them would empty */
	uint64_t refresh_last_ns, refresh_max_ns;	/* a ranking's cost */
};

/* procfs root ("/proc").  0, -ENOMEM, or -errno opening kpageflags. */
int vacate_create(struct vacate **vp, const char *procfs);
void vacate_destroy(struct vacate *v);

/*
 * Rewrite p's settled heat-0 demotions (see above) for the round of pp
 * at now_ns.  0 (the plan may be unchanged), or -EPERM once pagemap
 * shows no frame numbers (no CAP_SYS_ADMIN): it is off from then on and
 * has said so.
 */
int vacate_plan(struct vacate *v, struct heat *h,
    const struct policy_params *pp, struct plan *p, uint64_t now_ns);

const struct vacate_stats *vacate_stats(const struct vacate *v);

#endif
