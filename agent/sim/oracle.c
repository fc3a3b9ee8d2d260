/*
 * oracle.c - the per-epoch oracle: an upper bound on the fast-tier hit
 * ratio of any placement that is fixed within an epoch.
 *
 * For each epoch it counts the samples of every page, sorts the pages
 * seen by count (descending, ties by page id so the answer is
 * deterministic) and places the budget_pages first ones in the fast tier
 * for the whole epoch; its hits are the sum of their counts.  No page
 * is ever sampled on the slow tier for lack of a migration: moving is
 * free and instantaneous at the epoch boundary.  Its promoted/demoted
 * counts are what those boundary moves would cost (the set difference
 * between consecutive epochs; the first epoch's placement is free),
 * reported but never charged.
 *
 * The epoch length matters: with epochs so short that few pages are
 * sampled more than once, the oracle merely picks the pages that
 * happened to be sampled and is out of reach of anything causal.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

struct oracle {
	uint32_t *count;	/* per page, this epoch */
	uint32_t *seen;		/* pages sampled this epoch */
	size_t nseen;
	uint64_t *order;	/* count << 32 | ~page, for sorting */
	uint8_t *in;		/* per page: in the previous epoch's set */
	uint32_t *set;		/* that set */
	size_t nset;
	bool first;
};

static int
cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

static void
end_epoch(struct oracle *o, uint64_t k, struct sim_epoch *ep)
{
	size_t take, promoted = 0;
	uint64_t hits = 0;

	for (size_t i = 0; i < o->nseen; i++) {
		uint32_t p = o->seen[i];

		/* ~p: at equal counts the lower page id sorts first */
		o->order[i] = (uint64_t)o->count[p] << 32 | (uint32_t)~p;
	}
	take = o->nseen < k ? o->nseen : (size_t)k;
	if (take < o->nseen)
		qsort(o->order, o->nseen, sizeof(*o->order), cmp_desc);
	for (size_t i = 0; i < take; i++) {
		uint32_t p = ~(uint32_t)o->order[i];

		hits += o->order[i] >> 32;
		if (!o->in[p])
			promoted++;
		o->in[p] = 2;	/* in the new set */
	}
	ep->oracle_hits = ep->hits = hits;
	if (!o->first) {
		ep->promoted = promoted;
		ep->demoted = 0;
		for (size_t i = 0; i < o->nset; i++)
			if (o->in[o->set[i]] == 1)
				ep->demoted++;
	}
	o->first = false;
	/* the new set replaces the old */
	for (size_t i = 0; i < o->nset; i++)
		o->in[o->set[i]] = 0;
	o->nset = 0;
	for (size_t i = 0; i < take; i++) {
		uint32_t p = ~(uint32_t)o->order[i];

		o->in[p] = 1;
		o->set[o->nset++] = p;
	}
	ep->fast_pages = o->nset;
	for (size_t i = 0; i < o->nseen; i++)
		o->count[o->seen[i]] = 0;
	o->nseen = 0;
}

int
sim_oracle(const struct sim_trace *tr, const struct sim_params *par,
    struct sim_result *res)
{
	struct oracle o = { .first = true };
	uint64_t epoch_end;
	size_t e = 0;
	int rc = 0;

	memset(res, 0, sizeof(*res));
	res->agent_cpu = -1;
	res->policy = "oracle";
	if (tr->nrec == 0)
		return 0;
	if ((res->nep = sim_nepochs(tr, par->epoch_ns)) == 0)
		return -E2BIG;
	res->ep = calloc(res->nep, sizeof(*res->ep));
	o.count = calloc(tr->npages, sizeof(*o.count));
	o.seen = calloc(tr->npages, sizeof(*o.seen));
	o.order = calloc(tr->npages, sizeof(*o.order));
	o.in = calloc(tr->npages, sizeof(*o.in));
	o.set = calloc(tr->npages, sizeof(*o.set));
	if (res->ep == NULL || o.count == NULL || o.seen == NULL ||
	    o.order == NULL || o.in == NULL || o.set == NULL) {
		rc = -ENOMEM;
		sim_result_free(res);
		goto out;
	}
	epoch_end = tr->rec[0].time_ns + par->epoch_ns;
	for (size_t i = 0; i < tr->nrec; i++) {
		const struct sim_rec *r = &tr->rec[i];

		/* nep was sized from the span, so e stays in range */
		while (r->time_ns >= epoch_end && e + 1 < res->nep) {
			end_epoch(&o, par->budget_pages, &res->ep[e++]);
			epoch_end += par->epoch_ns;
		}
		res->ep[e].samples++;
		if (o.count[r->page]++ == 0)
			o.seen[o.nseen++] = r->page;
	}
	while (e < res->nep)
		end_epoch(&o, par->budget_pages, &res->ep[e++]);
	for (e = 0; e < res->nep; e++) {
		res->samples += res->ep[e].samples;
		res->hits += res->ep[e].hits;
		res->promoted += res->ep[e].promoted;
		res->demoted += res->ep[e].demoted;
	}
out:
	free(o.count);
	free(o.seen);
	free(o.order);
	free(o.in);
	free(o.set);
	return rc;
}
