/*
 * pol_vtier.c - vtier's own policy in the simulator: the agent's heat
 * table, policy_plan and migrator (sim backend) used verbatim, wired the
 * way agent/main.c's on_sample and on_tick wire them (the round's
 * parameters and watermarks from policy_params_for_round), with the
 * agent's default settings (config_defaults: cooling 8 s, interval
 * 50 ms, hysteresis 1, promote_min 1, min_residence 0, rate 256 MiB/s,
 * 1024 pages per call, 1M tracked pages; vtier-sim --config changes
 * them), rounds spaced by policy_round_due as the agent spaces them,
 * and one at once, at a read or a tick, on a shock (policy_shock_now).
 *
 * The headroom: the agent's default, auto, follows the creep of memory
 * it does not manage (headroom.c), fed here from the sim migrator's
 * usage before and after each round as main.c feeds it; a trace has no
 * such memory, so it stays at 0.  A fixed [budget] headroom cannot be
 * taken as is: 64 MiB is more than a whole budget on most test traces,
 * and the agent refuses a headroom at or above the budget, so the
 * simulator takes the smaller of it and 1/64 of the budget (64 MiB is
 * 1/64 of a 4 GiB budget).  vtier-sim --headroom overrides either.
 *
 * The policy is told the machine the cost model stands for, as its
 * operator would set it: [sampler] period = the accesses a sample stands
 * for, [policy] break_even = the migration cost over the latency an
 * access saves, rounded up (0, no limit, when the slow tier is no
 * slower).  These two override the --config file's.
 *
 * The agent's CPU budget ([sampler] cpu_budget) is run only when the
 * agent's CPU is priced (vtier-sim --agent-cpu wakeup=NS,sample=NS,
 * tick=NS): then clocks of its own charge each sample, each read of the
 * sampler at a wake-up and each tick to the loop thread, each round
 * (POLICY_SLOT_COST_NS a slot) to the worker, and pace.c spaces the reads
 * against the budget on them with the calls main.c makes (pace_charge,
 * pace_tick, pace_read, pace_at_ticks): a read puts the next off
 * until the spacing has passed (the alarm: the first sample after it),
 * and while no early round can come, or the spacing reaches the
 * interval, the ticks read the sampler and wake-ups cost nothing.
 * Once the spacing saves no more (at its longest, or the ticks read),
 * the PEBS period rises as main.c on_tick raises it, on the pace's
 * window (perf_ring_period_next, up to HW_PERIOD_SPAN times): a period
 * k times the trace's takes 1 in k of its samples, and the others never
 * reach the agent (samples_skipped).  The pay rule keeps the configured
 * period, as the agent's does.  Unpriced, the agent reads at every
 * wake-up, as if its budget were never reached.
 *
 * The "machine" is the sim migrator: node 0 fast (with CPUs), node 1
 * slow.  Each page is first-touched on the node the engine placed it on,
 * and after every round the pages the plan named are looked up again and
 * the engine's placement mirrors them, so hit counting is the same code
 * for every policy.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vtier/util.h"
#include "headroom.h"
#include "heat.h"
#include "migrate.h"
#include "pace.h"
#include "perf_ring.h"
#include "policy.h"
#include "topo.h"
#include "sim.h"

#define QUERY_BATCH	65536	/* as in main.c */
#define FAST_NODE	0
#define SLOW_NODE	1

struct vtier {
	struct agent_config cfg;
	struct topo topo;
	struct heat *heat;
	struct plan plan;
	struct migrator *mig;
	uint16_t tick;
	uint64_t budget;	/* bytes */
	struct headroom hr;	/* the creep (none here), headroom = auto */
	uint64_t round_ns;	/* the last round (0: none) */
	unsigned since_wake;	/* samples since the sampler's last wake-up */
	int err;		/* a round run from vt_access failed */

	/* the agent's CPU, priced (--agent-cpu) */
	bool priced;
	struct sim_cpu cpu;	/* what a read, a sample, a tick cost */
	double cpu_ns;		/* the modelled loop thread's CPU clock */
	double round_cpu_ns;	/* the modelled round worker's */
	struct pace_charge charge;
	struct pace pace;
	uint64_t alarm_ns;	/* spaced: the next read (0: not spaced) */
	uint64_t waits;		/* reads put off (status sampler_waits) */
	uint64_t period_base;	/* the trace's: [sampler] period, at least 1 */
	uint64_t period;	/* the PEBS period now (accesses a sample) */
	uint64_t thin;		/* accesses since the last sample taken */
	uint64_t skipped;	/* trace samples the period did not take */
};

/* Two nodes, as a guest with a CXL node sees them. */
static void
make_topo(struct topo *t, uint64_t total)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->root, sizeof(t->root), "(vtier-sim)");
	for (int i = 0; i < 2; i++) {
		t->node[i].id = i;
		t->node[i].online = true;
		t->node[i].has_cpu = i == FAST_NODE;
		t->node[i].total = total;
		t->node[i].free = total;
	}
	t->online_mask = 3;
	t->fast_mask = 1ULL << FAST_NODE;
	t->slow_mask = 1ULL << SLOW_NODE;
}

static void
vt_fini(void *state)
{
	struct vtier *v = state;

	migrate_close(v->mig);
	policy_plan_free(&v->plan);
	heat_destroy(v->heat);
	free(v);
}

static int
vt_init(struct sim_run *run, void **state, uint64_t *tick_ns)
{
	const struct sim_cost *c = &run->par->cost;
	struct vtier *v;
	double gain;
	size_t cap;
	int rc;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		return -ENOMEM;
	v->cfg = run->par->cfg;
	v->cfg.headroom = run->par->headroom;
	v->cfg.sample_period = c->accesses;
	gain = c->slow_ns - c->fast_ns;
	v->cfg.break_even = gain > 0 ?
	    (uint32_t)MIN(ceil(c->migrate_ns / gain), 1e9) : 0;
	v->budget = run->par->budget_pages * SIM_PAGE_SIZE;
	v->cpu = run->par->cpu;
	v->priced = v->cpu.wakeup_ns > 0 || v->cpu.sample_ns > 0 ||
	    v->cpu.tick_ns > 0;
	v->period = v->period_base = MAX(v->cfg.sample_period, 1);
	make_topo(&v->topo, (uint64_t)run->tr->npages * SIM_PAGE_SIZE);
	if ((rc = policy_heat_create(&v->heat, &v->cfg, v->budget)) < 0)
		goto err;
	/* main.c's sizing: a round moves at most rate * interval bytes */
	cap = (size_t)MIN(v->cfg.rate_bytes / 4096 * v->cfg.interval_ms / 500,
	    1ULL << 20);
	if ((rc = policy_plan_init(&v->plan, MAX(cap, 4096))) < 0)
		goto err;
	if ((rc = migrate_open(&v->mig, BACKEND_SIM, &v->topo,
	    v->cfg.pages_per_call, v->cfg.rate_bytes, run->t0)) < 0)
		goto err;
	*tick_ns = v->cfg.interval_ms * 1000000ULL;
	*state = v;
	return 0;
err:
	vt_fini(v);
	return rc;
}

static uint32_t
key_pid(const struct sim_run *run, uint32_t page)
{
	return heat_key_pid(run->tr->key[page]);
}

static uint64_t
key_addr(const struct sim_run *run, uint32_t page)
{
	return heat_key_addr(run->tr->key[page]);
}

static void
vt_touch(void *state, struct sim_run *run, uint32_t page)
{
	struct vtier *v = state;

	migrate_sim_first_touch(v->mig, sim_is_fast(run, page) ? FAST_NODE :
	    SLOW_NODE);
	migrate_sim_node(v->mig, key_pid(run, page), key_addr(run, page));
}

/* Make the engine's placement agree with the migrator's for plan items. */
static void
mirror(struct vtier *v, struct sim_run *run, const struct plan_item *it,
    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int64_t page = sim_trace_find(run->tr, it[i].key);
		int node;

		if (page < 0)
			continue;
		node = migrate_sim_node(v->mig, heat_key_pid(it[i].key),
		    heat_key_addr(it[i].key));
		if (node >= 0)
			sim_migrate(run, (uint32_t)page, node == FAST_NODE);
	}
}

/* agent/main.c run_round(), minus what has no meaning here (shim, procs). */
static int
vt_round(struct vtier *v, struct sim_run *run, uint64_t now)
{
	struct policy_params pp;
	struct migrate_round r;
	uint64_t used = 0, after = 0, headroom;
	int64_t room;
	int rc;

	v->round_ns = now;
	if (v->priced) {
		size_t nslots;

		(void)heat_slots(v->heat, &nslots);
		v->round_cpu_ns += (double)nslots * POLICY_SLOT_COST_NS;
	}
	policy_heat_clock(v->heat, &v->cfg, v->budget, v->plan.steady);
	if ((rc = migrate_fast_used(v->mig, &used)) < 0)
		return rc;
	if ((rc = migrate_query(v->mig, v->heat, QUERY_BATCH)) < 0)
		return rc;

	headroom = headroom_bytes(&v->hr, &v->cfg, v->budget, now);
	policy_params_for_round(&pp, &v->cfg, v->budget, headroom, used,
	    v->topo.fast_mask, v->topo.slow_mask, v->tick,
	    migrate_budget_bytes(v->mig, now));
	if ((rc = policy_plan(v->heat, &pp, &v->plan)) < 0)
		return rc;

	room = policy_room(v->budget, headroom, used);
	memset(&r, 0, sizeof(r));
	if ((rc = migrate_execute(v->mig, v->heat, &v->plan, &v->topo, room,
	    v->tick, now, &r)) < 0)
		return rc;
	if ((rc = migrate_fast_used(v->mig, &after)) < 0)
		return rc;
	headroom_round(&v->hr, v->budget, used, after, now);
	heat_set_watch(v->heat, v->topo.fast_mask, v->plan.promote_bar);
	heat_set_stale(v->heat, v->plan.stale_k);
	mirror(v, run, v->plan.demote, v->plan.ndemote);
	mirror(v, run, v->plan.promote, v->plan.npromote);
	return 0;
}

/*
 * on_sample without THP detection (the sim backend has none), and
 * on_sampler_fd's early round: the PEBS sampler wakes the agent every
 * SIM_WAKEUP samples (sample_pebs.c's HW_WAKEUP, one CPU).  The agent
 * also spaces early rounds by 200 times the time the last round's worker
 * took; the simulator has no wall clock, and models that cost as
 * POLICY_SLOT_COST_NS per slot.
 */
#define SIM_WAKEUP	64

static void
vt_access(void *state, struct sim_run *run, const struct sim_rec *r)
{
	struct vtier *v = state;
	size_t nslots;

	if (v->period > v->period_base) {
		/* a longer period: 1 in period / period_base taken */
		v->thin += v->period_base;
		if (v->thin < v->period) {
			run->samples_skipped = ++v->skipped;
			return;
		}
		v->thin -= v->period;
	}
	heat_record(v->heat, key_pid(run, r->page), key_addr(run, r->page),
	    false, r->time_ns);
	v->cpu_ns += v->cpu.sample_ns;
	if (v->err < 0)
		return;
	if (v->priced && v->alarm_ns != 0) {
		/* spaced: unread until the alarm, which reads at once */
		if (r->time_ns < v->alarm_ns)
			return;
		v->since_wake = SIM_WAKEUP - 1;
	}
	if (++v->since_wake < SIM_WAKEUP)
		return;
	v->since_wake = 0;
	(void)heat_slots(v->heat, &nslots);
	if (v->priced) {
		/* main.c hold_samplers: the ticks read it, no wake-up paid */
		if (pace_at_ticks(&v->pace, v->cfg.interval_ms,
		    policy_early_possible(&v->cfg, nslots,
		    policy_pace_quick(&v->plan), v->plan.promote_bar))) {
			v->alarm_ns = 0;
			return;
		}
		/* a read: its cost, then main.c pace_hold's spacing */
		v->cpu_ns += v->cpu.wakeup_ns;
		if ((v->alarm_ns = pace_read(&v->pace, r->time_ns)) != 0)
			v->waits++;
	}
	/* main.c early_round: a shock, or a page the last plan would take */
	if (policy_shock_now(&v->plan, v->heat) ||
	    (heat_watch_seen(v->heat) &&
	    policy_round_due(&v->cfg, v->round_ns, r->time_ns, nslots,
	    policy_pace_quick(&v->plan),
	    MAX((uint64_t)nslots * POLICY_SLOT_COST_NS, 1))))
		v->err = vt_round(v, run, r->time_ns);
}

/* agent/main.c on_tick: a round when one is due. */
static int
vt_tick(void *state, struct sim_run *run, uint64_t now)
{
	struct vtier *v = state;
	size_t nslots;

	if (v->err < 0)
		return v->err;
	if (++v->tick == 0)
		v->tick = 1;
	heat_advance(v->heat, now);
	(void)heat_slots(v->heat, &nslots);
	if (v->priced) {
		double budget = config_cpu_budget(&v->cfg);
		bool spent;

		/* main.c on_tick: the tick's cost, the charged clock, the
		 * window (pace_samplers), then the period (pace_spent) */
		v->cpu_ns += v->cpu.tick_ns;
		spent = pace_at_cap(&v->pace, v->cfg.interval_ms,
		    policy_early_possible(&v->cfg, nslots,
		    policy_pace_quick(&v->plan), v->plan.promote_bar));
		(void)pace_tick(&v->pace, pace_charge(&v->charge,
		    (uint64_t)v->cpu_ns, (uint64_t)(v->cpu_ns + v->round_cpu_ns),
		    now, budget), now, budget, pace_cap_ns(v->cfg.interval_ms));
		if (v->pace.window_ended)
			v->period = perf_ring_period_next(v->period,
			    pace_period_frac(&v->pace, spent, budget), budget,
			    v->period_base, hw_period_max(v->period_base), 1);
		if (now > run->t0)
			run->agent_cpu = (v->cpu_ns + v->round_cpu_ns) /
			    (double)(now - run->t0);
		run->sampler_waits = v->waits;
	}
	/* main.c shock_round, then the timer's round */
	if (!policy_shock_now(&v->plan, v->heat) &&
	    !policy_round_due(&v->cfg, v->round_ns, now, nslots,
	    policy_pace_quick(&v->plan), 0))
		return 0;
	return vt_round(v, run, now);
}

const struct sim_policy sim_policy_vtier = {
	.name = "vtier",
	.init = vt_init,
	.touch = vt_touch,
	.access = vt_access,
	.tick = vt_tick,
	.fini = vt_fini,
};
