/*
 * cost.c - vtier-sim's cost model: what a replay's hits, misses and
 * migrations would cost in time, against the same accesses with every
 * page in the fast tier.  It owns the defaults (each with where it comes
 * from) and the arithmetic; it never looks at a trace or a policy.
 *
 * A sample stands for `accesses` memory accesses to its page (a PEBS
 * event samples one in `period` retired L3-miss loads, so each sample is
 * `period` loads that went to memory).  Each access costs fast_ns on the
 * fast tier and slow_ns on the slow one; each 4 KiB page migrated, either
 * way, costs migrate_ns (copy, unmap, TLB shootdown, remap), whoever
 * pays it: the migrating thread's time and the stalls it causes are
 * counted once, as time the program loses.
 *
 *   run time   = accesses * (hits * fast_ns + misses * slow_ns)
 *                + migrated_pages * migrate_ns
 *   slowdown   = run time / (accesses * samples * fast_ns)
 *
 * It is the memory-stall part of the run time only (compute overlaps or
 * adds, and would dilute every policy's slowdown alike), so a slowdown
 * of 1.5 means "the memory accesses took 1.5 times as long as on DRAM
 * alone", an upper bound on the program's own slowdown.  Sampling noise
 * is ignored: every sample of a page counts as the page's share of the
 * accesses.
 *
 * Defaults (all overridable with vtier-sim --cost):
 * - accesses 10007: the agent's default [sampler] period (config.c), the
 *   one HeMem shipped with (cuhk-mass/hemem src/pebs.h, SAMPLE_PERIOD
 *   10007, later 19997).  For lackey traces, make eval passes the
 *   converter's --every instead: one sample per N accesses (all data
 *   accesses, or the LLC model's misses with --llc).
 * - fast_ns 100: local DDR "sub-100 nanosecond round trip" (The Next
 *   Platform, "Just How Bad Is CXL Memory Latency?", 2022-12-05), rounded
 *   up to a loaded latency.
 * - slow_ns 250: 2.5 times local DRAM.  Three genuine CXL memory
 *   expansion cards show 2-5x the latency of local DRAM ("Exploring and
 *   Evaluating Real-world CXL: Use Cases and System Adoption",
 *   arXiv:2405.14209), and 4 CXL devices in 7 latency configurations
 *   span 140-410 ns (SupMario, "Dissecting CXL Memory Performance at
 *   Scale", arXiv:2409.14317).
 * - migrate_ns 10000 (10 us per 4 KiB page): Linux's page migration moves
 *   4 KiB pages at a small fraction of the memory bandwidth (Nimble, Yan
 *   et al., ASPLOS'19: "up to 95% under-utilization"; at 1 GB/s a page
 *   takes 4 us), and for a process running on several CPUs the TLB
 *   shootdown IPIs are most of a page's cost (Huang Ying, "migrate_pages:
 *   batch flushing TLB", Linux 6.3: batching them cut the IPIs 99.1% and
 *   raised the pages migrated per second 3.9x on a 2-socket Intel server).
 *   No single published figure fits every machine: README gives the
 *   eval's conclusions at 2 us and 50 us as well.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

void
sim_cost_defaults(struct sim_cost *c)
{
	c->accesses = 10007;
	c->fast_ns = 100;
	c->slow_ns = 250;
	c->migrate_ns = 10000;
}

double
sim_cost_time(const struct sim_cost *c, uint64_t samples, uint64_t hits,
    uint64_t migrated_pages)
{
	uint64_t misses = samples > hits ? samples - hits : 0;

	return (double)c->accesses * ((double)hits * c->fast_ns +
	    (double)misses * c->slow_ns) + (double)migrated_pages * c->migrate_ns;
}

double
sim_cost_slowdown(const struct sim_cost *c, uint64_t samples, uint64_t hits,
    uint64_t migrated_pages)
{
	double base = (double)c->accesses * (double)samples * c->fast_ns;

	if (samples == 0)
		return 1.0;
	return sim_cost_time(c, samples, hits, migrated_pages) / base;
}

/* One non-negative number of at most 1e12 for key; false if not. */
static bool
parse_num(const char *v, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(v, &end);
	return errno == 0 && end != v && *end == '\0' && *out >= 0 &&
	    *out <= 1e12;
}

int
sim_cost_parse(struct sim_cost *c, const char *spec, char *err, size_t errlen)
{
	char buf[256], *save = NULL;
	struct sim_cost n = *c;

	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "--cost: too long");
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *t = strtok_r(buf, ",", &save); t != NULL;
	    t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		double v;

		if (eq == NULL || !parse_num(eq + 1, &v)) {
			snprintf(err, errlen, "--cost %s: expected KEY=NUMBER "
			    "(accesses, fast, slow, migrate)", t);
			return -EINVAL;
		}
		*eq = '\0';
		if (strcmp(t, "accesses") == 0 && v >= 1 && v == floor(v))
			n.accesses = (uint64_t)v;
		else if (strcmp(t, "fast") == 0 && v > 0)
			n.fast_ns = v;
		else if (strcmp(t, "slow") == 0)
			n.slow_ns = v;
		else if (strcmp(t, "migrate") == 0)
			n.migrate_ns = v;
		else {
			snprintf(err, errlen, "--cost %s=%s: expected accesses "
			    "(a whole number >= 1), fast (ns > 0), slow or "
			    "migrate (ns)", t, eq + 1);
			return -EINVAL;
		}
	}
	*c = n;
	return 0;
}
