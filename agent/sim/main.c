/*
 * main.c - vtier-sim: replay a sample trace through vtier's heat table,
 * policy and sim migrator, and through the published baselines, against
 * the per-epoch oracle; plus the trace tools (convert, gen, lackey).
 *
 *   vtier-sim --trace FILE --budget SIZE|PCT% [--policy NAME] [--epoch MS]
 *             [--csv OUT] [--headroom auto|SIZE|PCT%] [--cost SPEC]
 *             [--agent-cpu SPEC]
 *
 * stdout carries exactly one summary line per policy,
 *   policy=NAME hit=0.xxxx oracle=0.xxxx ratio=0.xxxx migrated_mib=N slowdown=x.xxxx
 * (ratio = hit / oracle; migrated = pages promoted plus demoted;
 * slowdown = the cost model's run time against all-fast memory, cost.c;
 * the oracle's moves are free), with " agent_cpu=x.xxxx% sampler_waits=N"
 * after vtier's when --agent-cpu prices the agent's CPU, and nothing
 * else; --csv writes the
 * per-epoch records.  Exit codes: 0, 1
 * (I/O or memory), 2 (usage), 3 (malformed trace, the message names the
 * file and line or record).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "vtier/version.h"
#include "sim.h"

#define EPOCH_MS_DEFAULT	10000

static void
usage(FILE *f)
{
	struct sim_cost c;

	sim_cost_defaults(&c);
	fprintf(f,
	    "usage: vtier-sim --trace FILE --budget SIZE|PCT%% [--policy NAME]\n"
	    "                 [--epoch MS] [--csv OUT] [--headroom auto|SIZE|PCT%%]\n"
	    "                 [--config AGENT_INI] [--cost SPEC] [--agent-cpu SPEC]\n"
	    "       vtier-sim convert [--to text|binary] IN OUT\n"
	    "       vtier-sim gen zipf|shift|scan|mix|slide [options]  (gen --help)\n"
	    "       vtier-sim lackey [options] [IN]               (lackey --help)\n"
	    "\n"
	    "  --trace FILE     text (time_ns pid addr_hex [weight] [L|S]) or\n"
	    "                   binary trace, told apart by its first bytes; - = stdin\n"
	    "  --budget B       fast-tier budget: bytes (512M, 1G) or a percentage\n"
	    "                   of the trace's footprint (25%%)\n"
	    "  --policy NAME    vtier, hemem, memtis, tpp, tpp-scan, first-touch,\n"
	    "                   oracle, or all (default); several separated by\n"
	    "                   commas\n"
	    "  --epoch MS       epoch of the oracle and of the per-epoch records\n"
	    "                   (default %d ms; 500ms, 10s also accepted)\n"
	    "  --csv OUT        per-epoch records: hit ratio, oracle, migration,\n"
	    "                   fast usage\n"
	    "  --headroom H     vtier's headroom: auto, or fixed in bytes or %% of\n"
	    "                   the budget (default: the agent's auto, following the\n"
	    "                   creep, none here; a fixed [budget] headroom is\n"
	    "                   taken at most 1/64 of the budget)\n"
	    "  --config FILE    vtier's settings from an agent.ini ([heat], [policy],\n"
	    "                   [migrate], [budget] headroom); default: the built-in\n"
	    "                   defaults, as an empty agent.ini gives\n"
	    "  --cost SPEC      the cost model behind slowdown=: any of\n"
	    "                   accesses=N (per sample) [%llu], fast=NS [%.0f],\n"
	    "                   slow=NS [%.0f], migrate=NS (per 4 KiB page) [%.0f]\n"
	    "  --agent-cpu SPEC the agent's CPU, for vtier: wakeup=NS (a read of\n"
	    "                   the sampler at a wake-up), sample=NS, tick=NS;\n"
	    "                   its reads are then spaced within [sampler]\n"
	    "                   cpu_budget as the agent spaces them [all 0: not\n"
	    "                   priced]\n"
	    "  -v               log the agent's messages (twice: debug)\n"
	    "Exit: 0 ok, 1 error, 2 usage, 3 malformed trace.\n",
	    EPOCH_MS_DEFAULT, (unsigned long long)c.accesses, c.fast_ns,
	    c.slow_ns, c.migrate_ns);
}

/* "25%", "12.5%" (of base) or a size; false if neither. */
static bool
parse_amount(const char *s, uint64_t base, uint64_t *out)
{
	size_t n = strlen(s);
	char *end;
	double pct;

	if (n > 1 && s[n - 1] == '%') {
		errno = 0;
		pct = strtod(s, &end);
		if (errno != 0 || end != s + n - 1 || !(pct >= 0) || pct > 1e6 ||
		    strspn(s, "0123456789.") != n - 1)
			return false;
		*out = (uint64_t)floor((double)base * pct / 100.0);
		return true;
	}
	return parse_size(s, out) == 0;
}

struct opts {
	const char *trace, *budget, *policy, *csv, *headroom, *config;
	uint64_t epoch_ms;
	struct sim_cost cost;
	struct sim_cpu cpu;
};

/* Migrated pages the cost model charges: none for the oracle's free moves. */
static uint64_t
charged(const struct sim_result *r, const struct sim_result *oracle,
    uint64_t promoted, uint64_t demoted)
{
	return strcmp(r->policy, oracle->policy) == 0 ? 0 : promoted + demoted;
}

static int
write_csv(const char *path, const struct sim_result *res, size_t nres,
    const struct sim_result *oracle, uint64_t epoch_ms,
    const struct sim_cost *cost)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		fprintf(stderr, "vtier-sim: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	fprintf(f, "policy,epoch,start_ms,samples,hits,hit_ratio,oracle_hits,"
	    "oracle_ratio,promoted_pages,demoted_pages,migrated_bytes,"
	    "fast_bytes,slowdown\n");
	for (size_t i = 0; i < nres; i++) {
		for (size_t e = 0; e < res[i].nep; e++) {
			const struct sim_epoch *ep = &res[i].ep[e];
			uint64_t oh = oracle->ep[e].hits;
			double n = ep->samples ? (double)ep->samples : 1.0;

			fprintf(f, "%s,%zu,%llu,%llu,%llu,%.6f,%llu,%.6f,%llu,%llu,"
			    "%llu,%llu,%.6f\n", res[i].policy, e,
			    (unsigned long long)(e * epoch_ms),
			    (unsigned long long)ep->samples,
			    (unsigned long long)ep->hits, (double)ep->hits / n,
			    (unsigned long long)oh, (double)oh / n,
			    (unsigned long long)ep->promoted,
			    (unsigned long long)ep->demoted,
			    (unsigned long long)((ep->promoted + ep->demoted) *
			    SIM_PAGE_SIZE),
			    (unsigned long long)(ep->fast_pages * SIM_PAGE_SIZE),
			    sim_cost_slowdown(cost, ep->samples, ep->hits,
			    charged(&res[i], oracle, ep->promoted, ep->demoted)));
		}
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "vtier-sim: %s: %s\n", path, strerror(errno));
		return -EIO;
	}
	return 0;
}

static void
summary(const struct sim_result *r, const struct sim_result *oracle,
    const struct sim_cost *cost)
{
	double n = r->samples ? (double)r->samples : 1.0;
	double hit = (double)r->hits / n, ohit = (double)oracle->hits / n;
	uint64_t bytes = (r->promoted + r->demoted) * SIM_PAGE_SIZE;

	printf("policy=%s hit=%.4f oracle=%.4f ratio=%.4f migrated_mib=%llu "
	    "slowdown=%.4f", r->policy, hit, ohit,
	    oracle->hits ? hit / ohit : 1.0,
	    (unsigned long long)((bytes + MiB / 2) / MiB),
	    sim_cost_slowdown(cost, r->samples, r->hits,
	    charged(r, oracle, r->promoted, r->demoted)));
	if (r->agent_cpu >= 0)
		printf(" agent_cpu=%.4f%% sampler_waits=%llu samples_skipped=%llu",
		    r->agent_cpu * 100, (unsigned long long)r->sampler_waits,
		    (unsigned long long)r->samples_skipped);
	printf("\n");
}

/* The policies named in spec, in report order; oracle last.  -EINVAL. */
static int
select_policies(const char *spec, const struct sim_policy **sel, size_t *n,
    bool *oracle)
{
	char buf[256], *save = NULL;

	*n = 0;
	*oracle = false;
	if (strcmp(spec, "all") == 0) {
		for (size_t i = 0; sim_policies[i] != NULL; i++)
			sel[(*n)++] = sim_policies[i];
		*oracle = true;
		return 0;
	}
	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *t = strtok_r(buf, ",", &save); t != NULL;
	    t = strtok_r(NULL, ",", &save)) {
		const struct sim_policy *p = sim_policy_find(t);
		bool dup = false;

		if (strcmp(t, "oracle") == 0) {
			*oracle = true;
			continue;
		}
		if (p == NULL) {
			fprintf(stderr, "vtier-sim: unknown policy '%s' (vtier, "
			    "hemem, memtis, tpp, tpp-scan, first-touch, oracle, "
			    "all)\n", t);
			return -EINVAL;
		}
		for (size_t i = 0; i < *n; i++)
			dup |= sel[i] == p;
		if (!dup)
			sel[(*n)++] = p;
	}
	return *n || *oracle ? 0 : -EINVAL;
}

static int
run_sim(const struct opts *o)
{
	const struct sim_policy *sel[8];
	struct sim_result res[8], oracle;
	struct sim_params par;
	struct sim_trace tr;
	char err[512], b1[32], b2[32];
	uint64_t footprint, budget, span;
	size_t nsel = 0, ndone = 0;
	bool want_oracle;
	int rc, ex = SIM_EXIT_ERR;

	memset(&oracle, 0, sizeof(oracle));
	if (select_policies(o->policy, sel, &nsel, &want_oracle) < 0)
		return SIM_EXIT_USAGE;
	if ((rc = sim_trace_load(&tr, o->trace, err, sizeof(err))) < 0) {
		fprintf(stderr, "vtier-sim: %s\n", err);
		return rc == -EINVAL ? SIM_EXIT_TRACE : SIM_EXIT_ERR;
	}
	if (tr.nrec == 0) {
		fprintf(stderr, "vtier-sim: %s: no samples\n", o->trace);
		ex = SIM_EXIT_TRACE;
		goto out;
	}
	footprint = (uint64_t)tr.npages * SIM_PAGE_SIZE;
	if (!parse_amount(o->budget, footprint, &budget)) {
		fprintf(stderr, "vtier-sim: --budget %s: expected a size (512M) "
		    "or a percentage of the footprint (25%%)\n", o->budget);
		ex = SIM_EXIT_USAGE;
		goto out;
	}
	memset(&par, 0, sizeof(par));
	config_defaults(&par.cfg);
	if (o->config != NULL &&
	    config_load(o->config, &par.cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "vtier-sim: %s\n", err);
		ex = SIM_EXIT_USAGE;
		goto out;
	}
	par.budget_pages = budget / SIM_PAGE_SIZE;
	par.cost = o->cost;
	par.cpu = o->cpu;
	par.epoch_ns = o->epoch_ms * 1000000ULL;
	par.headroom = par.cfg.headroom == CONFIG_HEADROOM_AUTO ?
	    CONFIG_HEADROOM_AUTO :
	    MIN(par.cfg.headroom, par.budget_pages * SIM_PAGE_SIZE / 64);
	if (o->headroom != NULL && strcmp(o->headroom, "auto") == 0) {
		par.headroom = CONFIG_HEADROOM_AUTO;
	} else if (o->headroom != NULL &&
	    !parse_amount(o->headroom, par.budget_pages * SIM_PAGE_SIZE,
	    &par.headroom)) {
		fprintf(stderr, "vtier-sim: --headroom %s: expected auto, a size "
		    "or a percentage of the budget\n", o->headroom);
		ex = SIM_EXIT_USAGE;
		goto out;
	}
	span = tr.rec[tr.nrec - 1].time_ns - tr.rec[0].time_ns;
	if (sim_nepochs(&tr, par.epoch_ns) == 0) {
		fprintf(stderr, "vtier-sim: the trace spans %.0f s: too many "
		    "epochs of %llu ms; give a longer --epoch\n", (double)span / 1e9,
		    (unsigned long long)o->epoch_ms);
		ex = SIM_EXIT_USAGE;
		goto out;
	}
	format_size(footprint, b1, sizeof(b1));
	format_size(par.budget_pages * SIM_PAGE_SIZE, b2, sizeof(b2));
	fprintf(stderr, "vtier-sim: %s: %zu samples, %u pages (%s) over %.1f s; "
	    "budget %s (%llu pages), epoch %llu ms\n", o->trace, tr.nrec,
	    tr.npages, b1, (double)span / 1e9, b2,
	    (unsigned long long)par.budget_pages,
	    (unsigned long long)o->epoch_ms);

	if ((rc = sim_oracle(&tr, &par, &oracle)) < 0) {
		fprintf(stderr, "vtier-sim: oracle: %s\n", strerror(-rc));
		goto out;
	}
	for (ndone = 0; ndone < nsel; ndone++) {
		if ((rc = sim_run_policy(&tr, &par, sel[ndone], &res[ndone])) < 0) {
			fprintf(stderr, "vtier-sim: policy %s: %s\n",
			    sel[ndone]->name, strerror(-rc));
			goto out;
		}
		for (size_t e = 0; e < res[ndone].nep; e++)
			res[ndone].ep[e].oracle_hits = oracle.ep[e].hits;
	}
	if (o->csv != NULL) {
		if (want_oracle)
			res[ndone++] = oracle;
		rc = write_csv(o->csv, res, ndone, &oracle, o->epoch_ms,
		    &par.cost);
		if (want_oracle)
			ndone--;
		if (rc < 0)
			goto out;
	}
	for (size_t i = 0; i < ndone; i++)
		summary(&res[i], &oracle, &par.cost);
	if (want_oracle)
		summary(&oracle, &oracle, &par.cost);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "vtier-sim: stdout: %s\n", strerror(errno));
		goto out;
	}
	ex = SIM_EXIT_OK;
out:
	for (size_t i = 0; i < ndone; i++)
		sim_result_free(&res[i]);
	sim_result_free(&oracle);
	sim_trace_free(&tr);
	return ex;
}

/* vtier-sim convert [--to text|binary] IN OUT */
static int
convert_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct trace_reader *r = NULL;
	struct trace_writer *w = NULL;
	enum trace_format to;
	const char *to_s = NULL;
	struct sample s;
	char err[512];
	int c, rc, ex = SIM_EXIT_ERR;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 't': to_s = optarg; break;
		case 'h':
			printf("usage: vtier-sim convert [--to text|binary] IN OUT\n"
			    "  default: to the other format than IN's; - = stdin/stdout\n");
			return SIM_EXIT_OK;
		default: return SIM_EXIT_USAGE;
		}
	}
	if (argc - optind != 2 || (to_s != NULL && strcmp(to_s, "text") != 0 &&
	    strcmp(to_s, "binary") != 0)) {
		fprintf(stderr, "usage: vtier-sim convert [--to text|binary] IN OUT\n");
		return SIM_EXIT_USAGE;
	}
	if ((rc = trace_open(&r, argv[optind], err, sizeof(err))) < 0) {
		fprintf(stderr, "vtier-sim: %s\n", err);
		return rc == -EINVAL ? SIM_EXIT_TRACE : SIM_EXIT_ERR;
	}
	if (to_s != NULL)
		to = strcmp(to_s, "text") == 0 ? TRACE_TEXT : TRACE_BINARY;
	else
		to = trace_reader_format(r) == TRACE_TEXT ? TRACE_BINARY : TRACE_TEXT;
	if (trace_writer_open(&w, argv[optind + 1], to, err, sizeof(err)) < 0) {
		fprintf(stderr, "vtier-sim: %s\n", err);
		goto out;
	}
	while ((rc = trace_read(r, &s)) == 1) {
		if ((rc = trace_write(w, &s)) < 0) {
			fprintf(stderr, "vtier-sim: %s: %s\n", argv[optind + 1],
			    strerror(-rc));
			goto out;
		}
	}
	if (rc < 0) {
		fprintf(stderr, "vtier-sim: %s\n", trace_error(r));
		ex = rc == -EINVAL ? SIM_EXIT_TRACE : SIM_EXIT_ERR;
		goto out;
	}
	rc = trace_writer_close(w);
	w = NULL;
	if (rc < 0) {
		fprintf(stderr, "vtier-sim: %s: %s\n", argv[optind + 1],
		    strerror(-rc));
		goto out;
	}
	ex = SIM_EXIT_OK;
out:
	trace_writer_close(w);
	trace_close(r);
	return ex;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "trace", required_argument, NULL, 't' },
		{ "budget", required_argument, NULL, 'b' },
		{ "policy", required_argument, NULL, 'p' },
		{ "epoch", required_argument, NULL, 'e' },
		{ "csv", required_argument, NULL, 'c' },
		{ "headroom", required_argument, NULL, 'H' },
		{ "config", required_argument, NULL, 'C' },
		{ "cost", required_argument, NULL, 'k' },
		{ "agent-cpu", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .policy = "all", .epoch_ms = EPOCH_MS_DEFAULT };
	char err[256];
	int c, verbose = 0;

	sim_cost_defaults(&o.cost);
	log_init("vtier-sim", LOG_LVL_ERR);
	if (argc >= 2 && strcmp(argv[1], "convert") == 0)
		return convert_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "gen") == 0)
		return sim_gen_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "lackey") == 0)
		return sim_lackey_main(argc - 1, argv + 1);
	while ((c = getopt_long(argc, argv, "vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 't': o.trace = optarg; break;
		case 'b': o.budget = optarg; break;
		case 'p': o.policy = optarg; break;
		case 'c': o.csv = optarg; break;
		case 'H': o.headroom = optarg; break;
		case 'C': o.config = optarg; break;
		case 'k':
			if (sim_cost_parse(&o.cost, optarg, err, sizeof(err)) < 0) {
				fprintf(stderr, "vtier-sim: %s\n", err);
				return SIM_EXIT_USAGE;
			}
			break;
		case 'a':
			if (sim_cpu_parse(&o.cpu, optarg, err, sizeof(err)) < 0) {
				fprintf(stderr, "vtier-sim: %s\n", err);
				return SIM_EXIT_USAGE;
			}
			break;
		case 'e':
			if (parse_duration_ms(optarg, &o.epoch_ms) < 0 ||
			    o.epoch_ms == 0 || o.epoch_ms > 1000ULL * 86400 * 365) {
				fprintf(stderr, "vtier-sim: --epoch %s: expected a "
				    "duration, 1 ms to a year\n", optarg);
				return SIM_EXIT_USAGE;
			}
			break;
		case 'v': verbose++; break;
		case 'V': printf("vtier-sim %s\n", VTIER_VERSION); return SIM_EXIT_OK;
		case 'h': usage(stdout); return SIM_EXIT_OK;
		default: usage(stderr); return SIM_EXIT_USAGE;
		}
	}
	if (optind != argc || o.trace == NULL || o.budget == NULL) {
		usage(stderr);
		return SIM_EXIT_USAGE;
	}
	log_set_level(verbose >= 2 ? LOG_LVL_DEBUG : verbose ? LOG_LVL_INFO :
	    LOG_LVL_ERR);
	return run_sim(&o);
}
