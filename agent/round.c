/*
 * round.c - one policy round (see round.h): what the agent's timer used
 * to run inline, now on the worker thread.  Between its stages, and
 * inside adoption and migration between bounded steps, it looks at the
 * cancel flag: a stop or a new budget ends it within one step.
 */
#include <errno.h>
#include <string.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "adopt.h"
#include "compact.h"
#include "heat.h"
#include "policy.h"
#include "round.h"
#include "vacate.h"
#include "worker.h"

#define QUERY_BATCH	65536	/* unknown placements looked up per round */
/*
 * A round's move_pages calls stop after this long, or after twice what
 * the round spent before them (adoption, queries, the plan) if that is
 * longer, so migration keeps at least two thirds of a slow round; the
 * rest of its plan is planned again next round, with the samples read
 * meanwhile.  Under TCG with a host core busy, a second's worth of the
 * default rate took 6-7 s to copy: one plan that old, and samples
 * queued that long.
 */
#define ROUND_MIGRATE_NS	1000000000ULL


int
round_fast_used(const struct migrator *m, struct topo *t, uint64_t *used)
{
	int rc;

	if (migrate_fast_used(m, used) == 0)
		return 0;
	if ((rc = topo_refresh(t)) < 0)
		return rc;
	*used = topo_fast_used(t);
	return 0;
}

void
round_run(void *arg)
{
	struct round *r = arg;
	struct policy_params pp;
	uint64_t used = 0, now = r->start_ns, t, t0 = now_ns();
	int64_t room;
	int rc;

	r->err = 0;
	r->cancelled = r->planned = r->probed = false;
	r->adopt_ns = r->query_ns = r->plan_ns = r->migrate_ns = 0;
	r->vacate_ns = r->compact_ns = 0;
	memset(&r->mr, 0, sizeof(r->mr));
	policy_heat_clock(r->heat, &r->cfg, r->budget, r->plan->steady);
	heat_advance(r->heat, now);
	if ((rc = round_fast_used(r->mig, &r->topo, &used)) < 0) {
		r->err = rc;
		goto out;
	}
	r->fast_used = r->fast_used_after = used;
	/* a balloon device can come (a module loaded) or go at any time */
	if (r->probe_ns == 0 || now - r->probe_ns >= REPORTING_PROBE_NS) {
		reporting_probe(r->topo.root, &r->rep);
		r->probe_ns = now;
		r->probed = true;
	}
	t = now_ns();
	if (r->adopt != NULL && r->cfg.adopt) {
		/*
		 * Over the budget where the last plan was not: memory the
		 * agent did not move came (a process's new pages land on the
		 * node of its CPU), and until a pass finds it the plan can
		 * only demote tracked pages, the hot set last.  In the
		 * test-bed guest 48 MiB first touched on node 0 by an idle
		 * process took node 0 over its budget for 9.9 s and all of
		 * the hot set off it for 8 s, until the pass 10 s after the
		 * last idle one (tests/vm/scenarios/creep.sh).
		 */
		if (used > policy_demote_mark(r->budget, r->headroom) &&
		    !r->plan->over_budget)
			adopt_wake(r->adopt);
		adopt_set_cancel(r->adopt, r->cancel);
		(void)adopt_step(r->adopt, r->heat, r->topo.fast_mask, now);
	}
	r->adopt_ns = now_ns() - t;
	r->adopt_looked = r->adopt == NULL || !r->cfg.adopt ||
	    adopt_settled(r->adopt);
	if (worker_cancelled(r->cancel))
		goto out;
	migrate_set_cancel(r->mig, r->cancel);
	t = now_ns();
	if ((rc = migrate_query(r->mig, r->heat, QUERY_BATCH)) < 0)
		log_warnx("placement query: %s", strerror(-rc));
	r->query_ns = now_ns() - t;
	if (worker_cancelled(r->cancel))
		goto out;

	policy_params_for_round(&pp, &r->cfg, r->budget, r->headroom, used,
	    r->topo.fast_mask, r->topo.slow_mask, r->tick,
	    migrate_budget_bytes(r->mig, now));
	t = now_ns();
	if ((rc = policy_plan(r->heat, &pp, r->plan)) < 0) {
		log_warnx("policy: %s", strerror(-rc));
		goto out;
	}
	r->planned = true;
	/* freed memory reaches the host in whole blocks only: choose them */
	if (r->vacate != NULL && r->cfg.vacate && r->rep.available &&
	    r->plan->ndemote > 0) {
		uint64_t tv = now_ns();

		(void)vacate_plan(r->vacate, r->heat, &pp, r->plan, now);
		r->vacate_ns = now_ns() - tv;
	}
	r->plan_ns = now_ns() - t;
	room = policy_room(r->budget, r->headroom, used);
	t = now_ns();
	migrate_set_deadline(r->mig, t + MAX(ROUND_MIGRATE_NS,
	    2 * (t - r->start_ns)));
	if ((rc = migrate_execute(r->mig, r->heat, r->plan, &r->topo, room,
	    r->tick, now, &r->mr)) < 0)
		log_warnx("migrate: %s", strerror(-rc));
	r->migrate_ns = now_ns() - t;
	heat_set_watch(r->heat, r->topo.fast_mask, r->plan->promote_bar);
	heat_set_stale(r->heat, r->plan->stale_k);

	/* usage after the round: exact for sim, estimated for the kernel */
	if (migrate_fast_used(r->mig, &used) < 0)
		used = r->fast_used + r->mr.promoted_bytes -
		    MIN(r->fast_used + r->mr.promoted_bytes,
		    r->mr.demoted_bytes);
	r->fast_used_after = used;
	migrate_set_deadline(r->mig, 0);
	if (r->compact != NULL && r->cfg.compact && r->rep.available &&
	    !worker_cancelled(r->cancel)) {
		t = now_ns();
		if ((rc = compact_step(r->compact, r->topo.fast_mask,
		    r->rep.order, t)) < 0)
			log_warnx("compaction: /proc/buddyinfo: %s",
			    strerror(-rc));
		r->compact_ns = now_ns() - t;
	}
out:
	r->cancelled = worker_cancelled(r->cancel);
	t = now_ns();
	r->cost_ns = t - r->start_ns;
	r->work_ns = t - t0;
}
