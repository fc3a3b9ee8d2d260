/*
 * round.h - one policy round: measure the fast nodes, adopt untracked
 * pages, look up unknown placements, plan, migrate.  The wiring of the
 * stages for one round, run on the worker thread (worker.h) while the
 * loop's thread keeps reading samples.
 *
 * A round owns what it is handed (the heat table, the plan, the
 * migrator, the adopter and, through it, the process table and THP
 * detection) from round_run's start to its end, and its own copies of
 * the settings and the topology; it touches nothing else of the agent.
 * The loop fills the inputs before handing it over and reads the
 * outputs once the worker gives it back.
 */
#ifndef VTIER_AGENT_ROUND_H
#define VTIER_AGENT_ROUND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "migrate.h"
#include "reporting.h"
#include "topo.h"

struct adopter;
struct compactor;
struct heat;
struct plan;
struct vacate;

struct round {
	/* the stages, the round's while it runs */
	struct heat *heat;
	struct plan *plan;
	struct migrator *mig;
	struct adopter *adopt;		/* NULL: no adoption */
	struct vacate *vacate;		/* NULL: demotions as planned */
	struct compactor *compact;	/* NULL: no compaction */
	struct topo topo;		/* its own copy: usage is refreshed */
	const atomic_bool *cancel;	/* true: end at the next step */

	/* inputs */
	struct agent_config cfg;	/* its own copy: a reload may come */
	uint64_t budget;
	uint64_t headroom;		/* this round's (headroom_bytes) */
	uint16_t tick;
	uint64_t start_ns;

	/* the round's own, from one round to the next */
	struct reporting rep;		/* free page reporting, as last probed */
	uint64_t probe_ns;		/* when (0: never) */

	/* outputs */
	int err;			/* -errno: fast usage unknown, no plan */
	bool cancelled;			/* ended early (stop, new budget) */
	bool planned;			/* plan is this round's */
	bool adopt_looked;		/* adoption has nothing more to find (or is off) */
	uint64_t fast_used;		/* at the start of the round */
	uint64_t fast_used_after;	/* estimated after its moves */
	struct migrate_round mr;
	uint64_t cost_ns;		/* how long it took, from start_ns */
	uint64_t work_ns;		/* of which the worker's: without the
					   wait for its thread to wake */
	bool probed;			/* rep was probed again */
	uint64_t adopt_ns, query_ns, plan_ns, migrate_ns;	/* of which */
	uint64_t vacate_ns;		/* of plan_ns: choosing blocks */
	uint64_t compact_ns;		/* compacting fast nodes */
};

/* Run one round on r (a worker_fn).  Never fails: errors are in r->err. */
void round_run(void *r);

/*
 * The fast nodes' usage, as a round measures it first: the migrator's
 * own count where it keeps one (the sim backend), else the nodes'
 * meminfo, refreshed in t.  0 or -errno.  The loop's budget watch reads
 * it too, between rounds, with its own topology.
 */
int round_fast_used(const struct migrator *m, struct topo *t, uint64_t *used);

#endif
