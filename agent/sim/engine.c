/*
 * engine.c - the replay engine (see sim.h): one pass over a trace in
 * memory under one policy, with the trace's timestamps as the clock.
 *
 * Events at equal times go in this order: an epoch that ends at t is
 * closed first (so a policy round at t counts in the next epoch), then
 * policy ticks due at or before t, then the sample at t.  Ticks fall at
 * t0 + k * period, t0 being the first sample's time.  A gap in the trace
 * longer than GAP_TICKS periods is cut short: the ticks in between would
 * see no new sample, and a hostile trace must not make the engine spin
 * for 2^64 ns.
 *
 * Placement at the start: every page of the trace exists from t0 and
 * the first budget_pages of them in order of first appearance sit in the
 * fast tier, the rest in the slow tier: what first-touch allocation gives
 * when nothing migrates.  A page's first sample is not its allocation
 * (samples are a sparse window on a running program whose pages were
 * placed before they were sampled), so no policy gets a hit for the
 * mere fact of keeping fast frames free.  The first-touch policy (below)
 * never moves anything, which makes it the floor.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define GAP_TICKS	10000		/* ticks replayed in one idle gap */
#define MAX_EPOCHS	(16u << 20)	/* per run; bounds memory */

static uint64_t
add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

size_t
sim_nepochs(const struct sim_trace *tr, uint64_t epoch_ns)
{
	uint64_t span;

	if (tr->nrec == 0 || epoch_ns == 0)
		return 0;
	span = tr->rec[tr->nrec - 1].time_ns - tr->rec[0].time_ns;
	return span / epoch_ns >= MAX_EPOCHS ? 0 : (size_t)(span / epoch_ns) + 1;
}

void
sim_migrate(struct sim_run *run, uint32_t page, bool to_fast)
{
	if (sim_is_fast(run, page) == to_fast)
		return;
	run->fast[page] = to_fast;
	if (to_fast) {
		run->fast_pages++;
		run->promoted++;
	} else {
		run->fast_pages--;
		run->demoted++;
	}
}

static void
close_epoch(struct sim_run *run, struct sim_epoch *ep, uint64_t *prom0,
    uint64_t *dem0)
{
	ep->promoted = run->promoted - *prom0;
	ep->demoted = run->demoted - *dem0;
	ep->fast_pages = run->fast_pages;
	*prom0 = run->promoted;
	*dem0 = run->demoted;
}

int
sim_run_policy(const struct sim_trace *tr, const struct sim_params *par,
    const struct sim_policy *pol, struct sim_result *res)
{
	struct sim_run run;
	uint64_t tick_ns = 0, next_tick, epoch_end, prom0 = 0, dem0 = 0;
	size_t e = 0;
	void *st = NULL;
	int rc;

	memset(res, 0, sizeof(*res));
	memset(&run, 0, sizeof(run));
	res->policy = pol->name;
	res->agent_cpu = run.agent_cpu = -1;
	if (tr->nrec == 0)
		return 0;
	if ((res->nep = sim_nepochs(tr, par->epoch_ns)) == 0)
		return -E2BIG;
	run.tr = tr;
	run.par = par;
	run.cap_pages = par->budget_pages;
	run.t0 = tr->rec[0].time_ns;
	res->ep = calloc(res->nep, sizeof(*res->ep));
	run.fast = calloc(tr->npages, 1);
	if (res->ep == NULL || run.fast == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	/* page ids are in order of first appearance */
	for (uint32_t p = 0; p < tr->npages && run.fast_pages < run.cap_pages; p++) {
		run.fast[p] = 1;
		run.fast_pages++;
	}
	if ((rc = pol->init(&run, &st, &tick_ns)) < 0)
		goto out;
	for (uint32_t p = 0; p < tr->npages && pol->touch; p++)
		pol->touch(st, &run, p);
	next_tick = tick_ns ? add_sat(run.t0, tick_ns) : UINT64_MAX;
	epoch_end = add_sat(run.t0, par->epoch_ns);

	for (size_t i = 0; i < tr->nrec; i++) {
		const struct sim_rec *r = &tr->rec[i];
		struct sim_epoch *ep;
		unsigned gap = 0;

		for (;;) {
			if (r->time_ns >= epoch_end && e + 1 < res->nep &&
			    epoch_end <= next_tick) {
				close_epoch(&run, &res->ep[e++], &prom0, &dem0);
				epoch_end = add_sat(epoch_end, par->epoch_ns);
			} else if (r->time_ns >= next_tick && next_tick != UINT64_MAX) {
				if ((rc = pol->tick(st, &run, next_tick)) < 0)
					goto out;
				if (++gap == GAP_TICKS && r->time_ns - next_tick >
				    tick_ns) {
					/* skip to the last tick before the sample */
					next_tick += (r->time_ns - next_tick) /
					    tick_ns * tick_ns;
					gap = 0;
					continue;
				}
				next_tick = add_sat(next_tick, tick_ns);
			} else {
				break;
			}
		}
		ep = &res->ep[e];
		ep->samples++;
		ep->hits += run.fast[r->page];
		if (pol->access)
			pol->access(st, &run, r);
	}
	/* the last epoch, and any the trace ended inside */
	while (e < res->nep)
		close_epoch(&run, &res->ep[e++], &prom0, &dem0);
	for (e = 0; e < res->nep; e++) {
		res->samples += res->ep[e].samples;
		res->hits += res->ep[e].hits;
	}
	res->promoted = run.promoted;
	res->demoted = run.demoted;
	res->agent_cpu = run.agent_cpu;
	res->sampler_waits = run.sampler_waits;
	res->samples_skipped = run.samples_skipped;
	rc = 0;
out:
	if (st != NULL && pol->fini)
		pol->fini(st);
	free(run.fast);
	if (rc < 0)
		sim_result_free(res);
	return rc;
}

void
sim_result_free(struct sim_result *res)
{
	free(res->ep);
	res->ep = NULL;
	res->nep = 0;
}

/* ---- first-touch: the floor, nothing ever moves ---- */

static int
ft_init(struct sim_run *run, void **state, uint64_t *tick_ns)
{
	*state = run;	/* no state of its own; non-NULL for symmetry */
	*tick_ns = 0;
	return 0;
}

const struct sim_policy sim_policy_first_touch = {
	.name = "first-touch",
	.init = ft_init,
};

const struct sim_policy *const sim_policies[] = {
	&sim_policy_vtier,
	&sim_policy_hemem,
	&sim_policy_memtis,
	&sim_policy_tpp,
	&sim_policy_tpp_scan,
	&sim_policy_first_touch,
	NULL,
};

const struct sim_policy *
sim_policy_find(const char *name)
{
	for (size_t i = 0; sim_policies[i] != NULL; i++)
		if (strcmp(sim_policies[i]->name, name) == 0)
			return sim_policies[i];
	return NULL;
}
