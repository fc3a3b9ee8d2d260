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
 * Defaults (all overridable with vtier-sim --cost).  Each source below
 * was checked on 2026-12-04 against the text we could read; what was
 * confirmed, and where, is said with it; what was not is said too.
 * - accesses 10007: the agent's default [sampler] period (config.c).
 *   HeMem's src/pebs.h (cuhk-mass/hemem, both stored versions, commits
 *   a2b64d9 and 57fb561) defines SAMPLE_PERIOD 19997, with a
 *   "//#define SAMPLE_PERIOD 10007" line left commented out above it:
 *   10007 is a value HeMem's code carried, not (as this comment said
 *   before) confirmed as the one it shipped with; 19997 is what its
 *   pebs.h uses.  For lackey traces, make eval passes the converter's
 *   --every instead: one sample per N accesses (all data accesses, or
 *   the LLC model's misses with --llc).
 * - fast_ns 100: local DDR, "the sub-100 nanosecond roundtrip latency
 *   you'd expect from DDR memory that's attached directly the CPU"
 *   (Tobias Mann, "Just How Bad Is CXL Memory Latency?", The Next
 *   Platform, 2022-12-05; confirmed in the article's text), rounded up
 *   to a loaded latency.
 * - slow_ns 250: 2.5 times local DRAM, inside the range SupMario
 *   measured: "4 real CXL devices within 7 memory latency configurations
 *   ... sub-us memory latencies (140-410 ns)" (Liu, Hadian, Xu, Berger,
 *   Li, "Dissecting CXL Memory Performance at Scale: Analysis, Modeling,
 *   and Optimization", arXiv:2409.14317; confirmed in its abstract; the
 *   ASPLOS'25 version is "Systematic CXL Memory Characterization and
 *   Performance Analysis at Scale", named Melody).  "Exploring and
 *   Evaluating Real-world CXL: Use Cases and System Adoption"
 *   (arXiv:2405.14209; title and "three genuine CXL memory-expansion
 *   cards from different vendors" confirmed in its abstract) was cited
 *   here for "2-5x the latency of local DRAM": that figure appears only
 *   in a third-party summary of the paper (zerna.io), not in the text
 *   of it we could read, so it is not confirmed.
 * - migrate_ns 10000 (10 us per 4 KiB page): Linux's page migration moves
 *   4 KiB pages at a small fraction of the memory bandwidth (Yan,
 *   Lustig, Nellans, Bhattacharjee, "Nimble Page Management for Tiered
 *   Memory Systems", ASPLOS'19: "up to 95% under-utilization of
 *   available memory bandwidth", confirmed in its abstract; at 1 GB/s, a
 *   figure of ours, not Nimble's, a page takes 4 us), and for a process
 *   running on several CPUs the TLB shootdown IPIs are much of a page's
 *   cost (Huang Ying, "migrate_pages: batch flushing TLB", patch 8 of
 *   the series, lkml.kernel.org/r/20230213123444.155149-9-ying.huang@
 *   intel.com, applied by Andrew Morton: on a 2-socket Intel server
 *   running pmbench, batching cut the TLB flushing IPIs 99.1% and raised
 *   the pages migrated per second 291.7%, i.e. 3.9x; up to 78% on a
 *   128-core ARM64 server; confirmed in the commit message and the
 *   series' cover letters on linux-mm.  The kernel release it first
 *   shipped in is not confirmed from what we read: this comment said
 *   6.3; its last version was posted in February 2023, and 6.12 has it:
 *   tests/vm/scenarios/demoterate.sh counts ~120 shootdowns for 40,000
 *   pages there, against one per page on 6.1).
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

/*
 * Walk spec, "KEY=NUMBER[,KEY=NUMBER...]", calling set for each pair; set
 * refuses a key or value it does not take.  opt names the option in
 * errors, keys lists the keys, expect says what each takes.  0 or
 * -EINVAL with the message in err.
 */
static int
parse_spec(const char *opt, const char *spec, const char *keys,
    const char *expect, bool (*set)(void *ctx, const char *key, double v),
    void *ctx, char *err, size_t errlen)
{
	char buf[256], *save = NULL;

	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "%s: too long", opt);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *t = strtok_r(buf, ",", &save); t != NULL;
	    t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		double v;

		if (eq == NULL || !parse_num(eq + 1, &v)) {
			snprintf(err, errlen, "%s %s: expected KEY=NUMBER "
			    "(%s)", opt, t, keys);
			return -EINVAL;
		}
		*eq = '\0';
		if (!set(ctx, t, v)) {
			snprintf(err, errlen, "%s %s=%s: expected %s", opt, t,
			    eq + 1, expect);
			return -EINVAL;
		}
	}
	return 0;
}

static bool
set_cost(void *ctx, const char *key, double v)
{
	struct sim_cost *n = ctx;

	if (strcmp(key, "accesses") == 0 && v >= 1 && v == floor(v))
		n->accesses = (uint64_t)v;
	else if (strcmp(key, "fast") == 0 && v > 0)
		n->fast_ns = v;
	else if (strcmp(key, "slow") == 0)
		n->slow_ns = v;
	else if (strcmp(key, "migrate") == 0)
		n->migrate_ns = v;
	else
		return false;
	return true;
}

int
sim_cost_parse(struct sim_cost *c, const char *spec, char *err, size_t errlen)
{
	struct sim_cost n = *c;
	int rc;

	if ((rc = parse_spec("--cost", spec, "accesses, fast, slow, migrate",
	    "accesses (a whole number >= 1), fast (ns > 0), slow or migrate "
	    "(ns)", set_cost, &n, err, errlen)) < 0)
		return rc;
	*c = n;
	return 0;
}

/*
 * The agent's CPU per read at a wake-up, per sample and per tick
 * (--agent-cpu) has no published figure to default to: it is the
 * machine's (the context switch, the syscall) and the agent's.
 * bench_agent measures it; on AMD EPYC guests with a paravirtualized
 * kernel (2026-12-06/07, sqlite3's pattern, reads at every wake-up):
 * the loop thread took 0.36% of a CPU at 2k samples/s (20 ticks and 31
 * wake-ups a second) and 0.77-1.07% at 20k/s (312 wake-ups), and perf
 * put about 10 us of it per wake-up: so about 165 us a tick and 70-240
 * ns a sample.  All 0 unless given.
 */
static bool
set_cpu(void *ctx, const char *key, double v)
{
	struct sim_cpu *n = ctx;

	if (strcmp(key, "wakeup") == 0)
		n->wakeup_ns = v;
	else if (strcmp(key, "sample") == 0)
		n->sample_ns = v;
	else if (strcmp(key, "tick") == 0)
		n->tick_ns = v;
	else
		return false;
	return true;
}

int
sim_cpu_parse(struct sim_cpu *c, const char *spec, char *err, size_t errlen)
{
	struct sim_cpu n = *c;
	int rc;

	if ((rc = parse_spec("--agent-cpu", spec, "wakeup, sample, tick",
	    "wakeup, sample or tick (ns)", set_cpu, &n, err, errlen)) < 0)
		return rc;
	*c = n;
	return 0;
}
