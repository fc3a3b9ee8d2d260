/*
 * migrate.h - the migrator: carries out a plan with move_pages(2).
 *
 * Two backends behind one small table of operations: "move_pages" (real,
 * libnuma's numa_move_pages) and "sim" (placement kept in memory, for
 * tests and vtier-sim).  The migrator groups a plan's items per process,
 * bounds every call to pages_per_call pages, spends a token bucket of
 * bytes per second, and reads every status[] value:
 *
 *   node     moved (or already there): entry's node and moved tick set
 *   -EBUSY   left as is, retried in a later round
 *   -ENOENT  page not present (freed, never touched), or (6.1) a base
 *            page NUMA balancing mapped PROT_NONE,
 *   -EFAULT  address not mapped, or (6.1) such a THP: for either, node
 *            forgotten (-1), entry dropped if the next move or query
 *            says -ENOENT or -EFAULT again (see migrate.c)
 *   -ENOMEM  target node full: no more promotions this round
 *   -EACCES  page shared by several processes: marked HEAT_F_PINNED
 *   other    counted, marked HEAT_F_PINNED
 *
 * A whole call failing with -ESRCH (process gone) drops the process from
 * the heat table; -EPERM is logged and the process skipped.
 */
#ifndef VTIER_AGENT_MIGRATE_H
#define VTIER_AGENT_MIGRATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct heat;
struct plan;
struct topo;

/* Token bucket of bytes: rate per second, burst = one second's worth. */
struct tbucket {
	uint64_t rate;		/* bytes per second, 0 = unlimited */
	uint64_t tokens;	/* bytes available now */
	uint64_t last_ns;	/* time of the last refill */
};

void tbucket_init(struct tbucket *tb, uint64_t rate, uint64_t now_ns);
/* Add what accrued since the last refill, capped at the burst. */
void tbucket_refill(struct tbucket *tb, uint64_t now_ns);
/* Bytes that may be spent now (UINT64_MAX when unlimited). */
uint64_t tbucket_avail(const struct tbucket *tb);
/* Spend n bytes (never below zero). */
void tbucket_take(struct tbucket *tb, uint64_t n);

struct migrate_stats {
	uint64_t promoted_pages, promoted_bytes;
	uint64_t demoted_pages, demoted_bytes;
	uint64_t calls;		/* move_pages calls, query calls included */
	uint64_t queried;	/* pages whose node was looked up */
	uint64_t err_busy, err_noent, err_fault, err_nomem, err_acces;
	uint64_t err_srch, err_perm, err_other;
};

/* Outcome of one migrate_execute round. */
struct migrate_round {
	uint64_t promoted_bytes;
	uint64_t demoted_bytes;
	size_t failed;		/* items not moved for any reason */
	bool nomem;		/* a target node was full */
	bool out_of_tokens;	/* the rate limit cut the round short */
	bool cancelled;		/* the cancel flag ended it early */
	bool cut;		/* the deadline ended it early */
};

struct migrator;

/*
 * Open a migrator for the backend.  The topology gives the fast and slow
 * masks and free memory for choosing target nodes (the node in the mask
 * with the most free memory).  0 or -errno.
 */
int migrate_open(struct migrator **mp, enum migrate_backend backend,
    const struct topo *t, uint32_t pages_per_call, uint64_t rate_bytes,
    uint64_t now_ns);
void migrate_close(struct migrator *m);

/* New limits on reload. */
void migrate_set_limits(struct migrator *m, uint32_t pages_per_call,
    uint64_t rate_bytes);

/*
 * A flag that, once set, ends migrate_execute and migrate_query before
 * their next move_pages call (NULL: never).  A round on the worker
 * thread is cancelled this way for a stop or a new budget, so it waits
 * one call of at most pages_per_call pages.
 */
void migrate_set_cancel(struct migrator *m, const atomic_bool *flag);

/*
 * No move_pages call of migrate_execute starts after deadline_ns
 * (CLOCK_MONOTONIC, 0: none): the rest of the plan waits for the next
 * round, planned afresh.  The agent bounds a round's migration this way,
 * so a slow kernel makes more, shorter rounds, not one long one.
 */
void migrate_set_deadline(struct migrator *m, uint64_t deadline_ns);

/* Refill the bucket to now and return the bytes that may move now. */
uint64_t migrate_budget_bytes(struct migrator *m, uint64_t now_ns);

/*
 * Look up the node of up to max entries whose node is -1 (move_pages
 * with nodes = NULL), dropping entries whose pages are gone (-ENOENT or
 * -EFAULT twice in a row).  Returns the number resolved, or -errno.
 */
int migrate_query(struct migrator *m, struct heat *h, size_t max);

/*
 * Carry out a plan: demotions first, then promotions while fast usage
 * stays within room + bytes demoted this round (room: bytes that may be
 * added to the fast nodes before reaching budget - headroom; negative
 * when over), all within the token bucket.  tick is stored in moved
 * entries.  0 or -errno (only for failures of the migrator itself).
 */
int migrate_execute(struct migrator *m, struct heat *h, const struct plan *p,
    const struct topo *t, int64_t room, uint16_t tick, uint64_t now_ns,
    struct migrate_round *r);

const struct migrate_stats *migrate_stats(const struct migrator *m);
enum migrate_backend migrate_backend(const struct migrator *m);

/*
 * Bytes of tracked pages the backend holds on fast nodes.  Only the sim
 * backend knows (it is the whole "machine"); the real backend returns
 * -ENOTSUP and the agent reads sysfs instead.
 */
int migrate_fast_used(const struct migrator *m, uint64_t *bytes);

/* Sim backend controls (tests and vtier-sim); -ENOTSUP on the real one. */
int migrate_sim_first_touch(struct migrator *m, int node);
/* Make every later call take ns, as a kernel copying pages would. */
int migrate_sim_call_time(struct migrator *m, uint64_t ns);
/* Make every later call for pid fail with -ESRCH, as if it exited. */
int migrate_sim_kill(struct migrator *m, uint32_t pid);
/* Make the next n (<= 65535) moves of the page at (pid, addr) return err. */
int migrate_sim_inject(struct migrator *m, uint32_t pid, uint64_t addr,
    int err, unsigned n);
/*
 * Make its next n (<= 255) queries (nodes = NULL) say err (>= -128), as
 * 6.1 says -EFAULT for a THP NUMA balancing mapped PROT_NONE; moves are
 * not affected, nor is an injection of migrate_sim_inject.
 */
int migrate_sim_inject_query(struct migrator *m, uint32_t pid,
    uint64_t addr, int err, unsigned n);
/* Where the sim holds a page (first-touching it if new), or -errno. */
int migrate_sim_node(struct migrator *m, uint32_t pid, uint64_t addr);

#endif
