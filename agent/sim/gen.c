/*
 * gen.c - synthetic sample traces (vtier-sim gen KIND):
 *
 *   zipf   one process, page ranks drawn from Zipf(--skew)
 *   shift  a hot set (--hot pages, --hot-frac of the samples) that moves
 *          to other pages at each of --phases equal phases
 *   scan   a hot set mixed with a sequential scan over every other page
 *          (the scan takes 1 - --hot-frac of the samples, one page each)
 *   mix    --procs processes of --pages pages each, Zipf with the skews
 *          of --skews, samples shared equally or by the relative
 *          --weights (processes of different rates)
 *   slide  a hot window (--hot pages, --hot-frac of the samples, uniform
 *          within it) that slides gradually over the pages, its start
 *          moving --travel pages over the whole trace (gradual drift);
 *          the other samples are uniform over every page
 *
 * Samples come --rate per second of trace time, evenly spaced; a sample
 * is a store with probability --stores.  Page ranks are scattered over
 * each process's address range by a random permutation, so hot pages are
 * neither contiguous nor at low addresses.  Everything is reproducible
 * from --seed.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtier/util.h"
#include "sim.h"

#define BASE_ADDR	0x7f0000000000ULL
#define MAX_PAGES	(1u << 26)	/* 256 GiB of footprint per process */
#define MAX_PROCS	16

struct gen {
	const char *kind;
	uint64_t pages, samples, rate, seed, pid, hot, phases, procs, travel;
	double skew, hot_frac, stores;
	double skews[MAX_PROCS], weights[MAX_PROCS];
	size_t nskews, nweights;
	const char *out;
	bool binary;
	uint64_t rng;
};

/* One process's pages: rank -> page slot, and its Zipf table. */
struct proc {
	uint32_t *perm;
	double *cdf;		/* NULL: not Zipf */
};

static void
gen_usage(FILE *f)
{
	fprintf(f,
	    "usage: vtier-sim gen zipf|shift|scan|mix|slide [options]\n"
	    "  --pages N      footprint in 4 KiB pages (per process) [65536]\n"
	    "  --samples N    samples [1000000]\n"
	    "  --rate N       samples per second of trace time [20000]\n"
	    "  --seed N       [1]     --pid N  first pid [1000]\n"
	    "  --stores F     share of stores [0.25]\n"
	    "  --skew S       zipf: skew [0.99]\n"
	    "  --hot N        shift/scan/slide: hot pages [pages/8 | pages/16 | pages/8]\n"
	    "  --hot-frac F   shift/scan/slide: share of samples to the hot set\n"
	    "                 [0.9 | 0.7 | 0.9]\n"
	    "  --phases K     shift: phases [3]\n"
	    "  --travel N     slide: pages the window moves over the trace [pages/2]\n"
	    "  --procs P      mix: processes [4]\n"
	    "  --skews LIST   mix: skew per process [0.6,0.9,1.1,1.3]\n"
	    "  --weights LIST mix: relative share of the samples per process [equal]\n"
	    "  -o FILE        output [stdout]   --binary  binary format\n");
}

static void
shuffle(uint32_t *v, uint64_t n, uint64_t *rng)
{
	for (uint64_t i = 0; i < n; i++)
		v[i] = (uint32_t)i;
	for (uint64_t i = n - 1; i > 0; i--) {
		uint64_t j = sim_rand(rng) % (i + 1);
		uint32_t t = v[i];

		v[i] = v[j];
		v[j] = t;
	}
}

static double *
zipf_table(uint64_t n, double s)
{
	double *cdf = malloc(n * sizeof(*cdf)), sum = 0;

	if (cdf == NULL)
		return NULL;
	for (uint64_t i = 0; i < n; i++) {
		sum += 1.0 / pow((double)(i + 1), s);
		cdf[i] = sum;
	}
	for (uint64_t i = 0; i < n; i++)
		cdf[i] /= sum;
	return cdf;
}

static uint64_t
zipf_draw(const double *cdf, uint64_t n, uint64_t *rng)
{
	double u = sim_rand01(rng);
	uint64_t lo = 0, hi = n - 1;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Up to MAX_PROCS comma-separated numbers in [lo, hi] into v. */
static int
parse_list(const char *s, double *v, size_t *n, double lo, double hi)
{
	char buf[256], *save = NULL, *end;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", s);
	*n = 0;
	for (char *t = strtok_r(buf, ",", &save); t != NULL;
	    t = strtok_r(NULL, ",", &save)) {
		if (*n == MAX_PROCS)
			return -EINVAL;
		v[*n] = strtod(t, &end);
		if (*end != '\0' || !(v[*n] >= lo) || v[*n] > hi)
			return -EINVAL;
		(*n)++;
	}
	return *n ? 0 : -EINVAL;
}

static int
parse_opts(struct gen *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pages", required_argument, NULL, 'n' },
		{ "samples", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 'S' },
		{ "pid", required_argument, NULL, 'p' },
		{ "stores", required_argument, NULL, 'w' },
		{ "skew", required_argument, NULL, 'z' },
		{ "hot", required_argument, NULL, 'H' },
		{ "hot-frac", required_argument, NULL, 'f' },
		{ "phases", required_argument, NULL, 'P' },
		{ "procs", required_argument, NULL, 'c' },
		{ "skews", required_argument, NULL, 'Z' },
		{ "weights", required_argument, NULL, 'W' },
		{ "travel", required_argument, NULL, 'T' },
		{ "binary", no_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		uint64_t *u = NULL;
		double *d = NULL;

		switch (c) {
		case 'n': u = &g->pages; break;
		case 's': u = &g->samples; break;
		case 'r': u = &g->rate; break;
		case 'S': u = &g->seed; break;
		case 'p': u = &g->pid; break;
		case 'H': u = &g->hot; break;
		case 'P': u = &g->phases; break;
		case 'c': u = &g->procs; break;
		case 'T': u = &g->travel; break;
		case 'w': d = &g->stores; break;
		case 'z': d = &g->skew; break;
		case 'f': d = &g->hot_frac; break;
		case 'Z':
			if (parse_list(optarg, g->skews, &g->nskews, 0, 10) < 0) {
				fprintf(stderr, "vtier-sim gen: --skews %s: expected "
				    "up to %d numbers 0..10, comma-separated\n",
				    optarg, MAX_PROCS);
				return -EINVAL;
			}
			continue;
		case 'W':
			if (parse_list(optarg, g->weights, &g->nweights, 1e-6,
			    1e6) < 0) {
				fprintf(stderr, "vtier-sim gen: --weights %s: "
				    "expected up to %d numbers 1e-6..1e6, "
				    "comma-separated\n", optarg, MAX_PROCS);
				return -EINVAL;
			}
			continue;
		case 'o': g->out = optarg; continue;
		case 'b': g->binary = true; continue;
		case 'h': gen_usage(stdout); return 1;
		default: return -EINVAL;
		}
		if (u != NULL && parse_u64(optarg, u) < 0) {
			fprintf(stderr, "vtier-sim gen: %s: not a whole number\n",
			    optarg);
			return -EINVAL;
		}
		if (d != NULL) {
			*d = strtod(optarg, &end);
			if (*end != '\0' || !(*d >= 0) || *d > 10) {
				fprintf(stderr, "vtier-sim gen: %s: not a number "
				    "0..10\n", optarg);
				return -EINVAL;
			}
		}
	}
	if (optind != argc)
		return -EINVAL;
	return 0;
}

static int
check(const struct gen *g)
{
	const char *why = NULL;

	if (g->pages == 0 || g->pages > MAX_PAGES)
		why = "--pages must be 1..2^26";
	else if (g->samples == 0 || g->rate == 0 || g->rate > 1000000000)
		why = "--samples and --rate must be positive (rate at most 1e9)";
	else if (g->pid == 0 || g->pid + MAX_PROCS > (1u << 22))
		why = "--pid out of range";
	else if (g->hot_frac > 1 || g->stores > 1)
		why = "--hot-frac and --stores are shares, 0..1";
	else if ((strcmp(g->kind, "shift") == 0 || strcmp(g->kind, "scan") == 0 ||
	    strcmp(g->kind, "slide") == 0) && (g->hot == 0 || g->hot >= g->pages))
		why = "--hot must be 1..pages-1";
	else if (g->phases == 0 || g->phases > g->samples)
		why = "--phases must be 1..samples";
	else if (g->procs == 0 || g->procs > MAX_PROCS ||
	    (strcmp(g->kind, "mix") == 0 && g->nskews < g->procs))
		why = "--procs must be 1..16, with a skew each";
	else if (g->nweights != 0 && g->nweights < g->procs)
		why = "--weights needs a weight for each of --procs";
	else if (g->travel > MAX_PAGES)
		why = "--travel must be at most 2^26";
	if (why != NULL) {
		fprintf(stderr, "vtier-sim gen %s: %s\n", g->kind, why);
		return -EINVAL;
	}
	return 0;
}

static int
generate(struct gen *g, struct trace_writer *w)
{
	struct proc pr[MAX_PROCS];
	uint32_t *hotset = NULL;
	uint8_t *is_hot = NULL;
	bool mix = strcmp(g->kind, "mix") == 0, shift = strcmp(g->kind, "shift") == 0;
	bool zipf = mix || strcmp(g->kind, "zipf") == 0;
	bool slide = strcmp(g->kind, "slide") == 0;
	uint64_t nprocs = mix ? g->procs : 1, scan = 0;
	double wsum[MAX_PROCS], total = 0;
	int rc = -ENOMEM;

	/* running sums of the weights, for the draw of a process */
	for (uint64_t i = 0; i < nprocs && g->nweights; i++)
		wsum[i] = total += g->weights[i];

	memset(pr, 0, sizeof(pr));
	for (uint64_t i = 0; zipf && i < nprocs; i++) {
		if ((pr[i].perm = malloc(g->pages * sizeof(uint32_t))) == NULL)
			goto out;
		shuffle(pr[i].perm, g->pages, &g->rng);
		if ((pr[i].cdf = zipf_table(g->pages, mix ? g->skews[i] :
		    g->skew)) == NULL)
			goto out;
	}
	if (!zipf) {
		/* a shuffled list of page slots: its first g->hot are hot */
		hotset = malloc(g->pages * sizeof(*hotset));
		is_hot = calloc(g->pages, 1);
		if (hotset == NULL || is_hot == NULL)
			goto out;
		shuffle(hotset, g->pages, &g->rng);
		for (uint64_t i = 0; i < g->hot; i++)
			is_hot[hotset[i]] = 1;
	}

	for (uint64_t i = 0; i < g->samples; i++) {
		struct sample s = { .time_ns = i * 1000000000ULL / g->rate };
		uint64_t proc = 0, slot;

		if (nprocs > 1 && g->nweights == 0) {
			proc = sim_rand(&g->rng) % nprocs;
		} else if (nprocs > 1) {
			double u = sim_rand01(&g->rng) * total;

			while (proc + 1 < nprocs && wsum[proc] <= u)
				proc++;
		}
		if (zipf) {
			slot = pr[proc].perm[zipf_draw(pr[proc].cdf, g->pages,
			    &g->rng)];
		} else {
			if (shift && i > 0 && i * g->phases / g->samples !=
			    (i - 1) * g->phases / g->samples)
				shuffle(hotset, g->pages, &g->rng);
			if (slide) {
				/* the window's start moves on with the samples */
				uint64_t start = (uint64_t)((__uint128_t)i *
				    g->travel / g->samples);

				if (sim_rand01(&g->rng) < g->hot_frac)
					slot = hotset[(start + sim_rand(&g->rng) %
					    g->hot) % g->pages];
				else
					slot = sim_rand(&g->rng) % g->pages;
			} else if (sim_rand01(&g->rng) < g->hot_frac) {
				slot = hotset[sim_rand(&g->rng) % g->hot];
			} else if (shift) {
				slot = hotset[g->hot + sim_rand(&g->rng) %
				    (g->pages - g->hot)];
			} else {
				/* the scan: every other page, in address order */
				do {
					slot = scan++ % g->pages;
				} while (is_hot[slot]);
			}
		}
		s.pid = (uint32_t)(g->pid + proc);
		s.addr = BASE_ADDR + (slot << SIM_PAGE_SHIFT) +
		    (sim_rand(&g->rng) & (SIM_PAGE_SIZE - 8));
		s.op = sim_rand01(&g->rng) < g->stores ? SAMPLE_OP_STORE :
		    SAMPLE_OP_LOAD;
		if ((rc = trace_write(w, &s)) < 0)
			goto out;
	}
	rc = 0;
out:
	for (uint64_t i = 0; i < nprocs; i++) {
		free(pr[i].perm);
		free(pr[i].cdf);
	}
	free(hotset);
	free(is_hot);
	return rc;
}

int
sim_gen_main(int argc, char **argv)
{
	struct gen g = {
		.pages = 65536, .samples = 1000000, .rate = 20000, .seed = 1,
		.pid = 1000, .phases = 3, .procs = 4, .skew = 0.99,
		.stores = 0.25, .out = "-",
		.skews = { 0.6, 0.9, 1.1, 1.3 }, .nskews = 4,
	};
	struct trace_writer *w;
	char err[512];
	int rc;

	if (argc < 2 || (strcmp(argv[1], "zipf") != 0 &&
	    strcmp(argv[1], "shift") != 0 && strcmp(argv[1], "scan") != 0 &&
	    strcmp(argv[1], "mix") != 0 && strcmp(argv[1], "slide") != 0)) {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
		    strcmp(argv[1], "-h") == 0)) {
			gen_usage(stdout);
			return SIM_EXIT_OK;
		}
		gen_usage(stderr);
		return SIM_EXIT_USAGE;
	}
	g.kind = argv[1];
	g.hot = UINT64_MAX;	/* defaults depend on the kind */
	g.hot_frac = -1;
	g.travel = UINT64_MAX;
	if ((rc = parse_opts(&g, argc - 1, argv + 1)) != 0) {
		if (rc > 0)
			return SIM_EXIT_OK;
		gen_usage(stderr);
		return SIM_EXIT_USAGE;
	}
	if (g.hot == UINT64_MAX)
		g.hot = MAX(1, strcmp(g.kind, "scan") == 0 ? g.pages / 16 :
		    g.pages / 8);
	if (g.hot_frac < 0)
		g.hot_frac = strcmp(g.kind, "scan") == 0 ? 0.7 : 0.9;
	if (g.travel == UINT64_MAX)
		g.travel = g.pages / 2;
	if (check(&g) < 0)
		return SIM_EXIT_USAGE;
	g.rng = g.seed;
	if (trace_writer_open(&w, g.out, g.binary ? TRACE_BINARY : TRACE_TEXT,
	    err, sizeof(err)) < 0) {
		fprintf(stderr, "vtier-sim gen: %s\n", err);
		return SIM_EXIT_ERR;
	}
	rc = generate(&g, w);
	if (rc == 0)
		rc = trace_writer_close(w);
	else
		trace_writer_close(w);
	if (rc < 0) {
		fprintf(stderr, "vtier-sim gen: %s: %s\n", g.out, strerror(-rc));
		return SIM_EXIT_ERR;
	}
	return SIM_EXIT_OK;
}
