/*
 * bench_sim.c - vtier-sim's throughput: samples replayed per second
 * under each policy, on a Zipf(0.99) trace of 2M samples over 256K pages
 * (1 GiB) at 20000 samples/s (105 s of trace time) and a 25% budget, and
 * the oracle.  The baseline beside them is the engine alone (first-touch:
 * the placement lookup and hit count, nothing else), measured in the
 * same run.  Best of two.  vtier's cost is mostly its policy rounds: every
 * 500 ms of trace time policy_plan and migrate_query walk the agent's
 * 1M-entry heat table, as the agent does; the per-sample part is
 * heat_record.  Target: vtier at 0.5M samples/s or more (`make eval`'s
 * traces of ~1M samples replay in about 2 s each).  Exits 0 either way:
 * the verdict is printed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "vtier/util.h"

#define NPAGES		(256u << 10)
#define NSAMPLES	(2u << 20)
#define RATE		20000		/* samples per second of trace time */
#define REPS		2
#define TARGET		5e5

static int
make_trace(struct sim_trace *tr)
{
	double *cdf = malloc(NPAGES * sizeof(*cdf)), sum = 0;
	uint32_t *perm = malloc(NPAGES * sizeof(*perm));
	uint64_t rng = 42;

	if (cdf == NULL || perm == NULL)
		return -1;
	for (uint32_t i = 0; i < NPAGES; i++) {
		sum += 1.0 / pow((double)i + 1, 0.99);
		cdf[i] = sum;
		perm[i] = i;
	}
	for (uint32_t i = NPAGES - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(sim_rand(&rng) % (i + 1)), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	memset(tr, 0, sizeof(*tr));
	for (uint32_t k = 0; k < NSAMPLES; k++) {
		double u = sim_rand01(&rng) * sum;
		uint32_t lo = 0, hi = NPAGES - 1;
		struct sample s;

		while (lo < hi) {
			uint32_t mid = (lo + hi) / 2;

			if (cdf[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		memset(&s, 0, sizeof(s));
		s.time_ns = (uint64_t)k * 1000000000ULL / RATE;
		s.pid = 1000;
		s.addr = 0x7f0000000000ULL + ((uint64_t)perm[lo] << 12);
		s.op = SAMPLE_OP_LOAD;
		if (sim_trace_add(tr, &s) < 0)
			return -1;
	}
	free(cdf);
	free(perm);
	return 0;
}

/* Best samples/s of REPS runs; pol NULL = the oracle. */
static double
measure(const struct sim_trace *tr, const struct sim_params *par,
    const struct sim_policy *pol, double *hit)
{
	double best = 0;

	for (int r = 0; r < REPS; r++) {
		struct sim_result res;
		uint64_t t0 = now_ns();
		double dt;
		int rc = pol ? sim_run_policy(tr, par, pol, &res) :
		    sim_oracle(tr, par, &res);

		dt = (double)(now_ns() - t0) * 1e-9;
		if (rc < 0) {
			fprintf(stderr, "bench: %s failed\n", pol ? pol->name : "oracle");
			exit(1);
		}
		*hit = (double)res.hits / (double)res.samples;
		sim_result_free(&res);
		if ((double)tr->nrec / dt > best)
			best = (double)tr->nrec / dt;
	}
	return best;
}

int
main(void)
{
	struct sim_trace tr;
	struct sim_params par;
	double base, rate, hit, vtier = 0;

	if (make_trace(&tr) < 0) {
		fprintf(stderr, "bench: out of memory\n");
		return 1;
	}
	memset(&par, 0, sizeof(par));
	config_defaults(&par.cfg);
	par.budget_pages = tr.npages / 4;
	par.epoch_ns = 10000000000ULL;
	par.headroom = par.budget_pages * SIM_PAGE_SIZE / 64;

	base = measure(&tr, &par, &sim_policy_first_touch, &hit);
	printf("bench sim engine alone (first-touch, baseline): %.2f M samples/s "
	    "(%zu samples, %u pages, hit %.4f)\n", base / 1e6, tr.nrec,
	    tr.npages, hit);
	for (size_t i = 0; sim_policies[i] != NULL; i++) {
		if (sim_policies[i] == &sim_policy_first_touch)
			continue;
		rate = measure(&tr, &par, sim_policies[i], &hit);
		if (sim_policies[i] == &sim_policy_vtier)
			vtier = rate;
		printf("bench sim %-6s %.2f M samples/s (%.1fx the engine alone; "
		    "hit %.4f)\n", sim_policies[i]->name, rate / 1e6, base / rate,
		    hit);
	}
	rate = measure(&tr, &par, NULL, &hit);
	printf("bench sim oracle %.2f M samples/s (hit %.4f)\n", rate / 1e6, hit);
	printf("bench sim verdict: vtier %.2f M samples/s, target >= %.1f M: %s\n",
	    vtier / 1e6, TARGET / 1e6, vtier >= TARGET ? "met" : "NOT met");
	sim_trace_free(&tr);
	return 0;
}
