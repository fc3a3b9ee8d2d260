/*
 * bench_heat.c - the heat table and the policy at 1M tracked pages, each
 * beside a naive baseline measured in the same run:
 *   heat_record   vs a chained hash of malloc'd nodes (same mixer, same
 *                 lazy decay, no histogram), Zipf(0.99) and uniform keys,
 *                 one sample at a time and through heat_record_batch in
 *                 batches of BATCH (the agent's path; building each
 *                 batch's heat_sample array is timed with it);
 *   memory        bytes per tracked page of both;
 *   policy_plan   vs "qsort every managed page by heat, take the top that
 *                 fits, promote/demote from that order".
 * Best of a few repetitions.  Targets: <= 50 ns/sample on the batch path
 * for both key mixes (one-by-one heat_record is reported beside it), <=
 * 32 B/page, <= 50 ms per plan.  Exits 0 either way: the verdict is
 * printed.
 */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heat.h"
#include "policy.h"
#include "vtier/util.h"

#define NPAGES		(1u << 20)	/* tracked pages */
#define NSAMPLES	(8u << 20)	/* samples per timed run */
#define NPIDS		8
#define BASE_ADDR	0x7f0000000000ULL
#define SAMPLE_NS	100		/* fake time between samples */
#define COOLING_NS	(2000000ULL * SAMPLE_NS)	/* an epoch per 2M samples */
#define REPS		3
#define PLAN_CAP	32768
#define PG		4096ULL
#define BATCH		256		/* samples per heat_record_batch call */

static uint64_t rng_state = 0x853c49e6748fea9bULL;

static uint64_t
rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Page index -> (pid, address): each pid has a contiguous region. */
static inline uint32_t
page_pid(uint32_t i)
{
	return 1000 + i % NPIDS;
}

static inline uint64_t
page_addr(uint32_t i)
{
	return BASE_ADDR + (uint64_t)(i / NPIDS) * PG;
}

/* Zipf(s) over NPAGES ranks, ranks scattered over pages by a permutation. */
static void
gen_zipf(uint32_t *out, size_t n, double s)
{
	double *cdf = malloc(NPAGES * sizeof(*cdf)), sum = 0;
	uint32_t *perm = malloc(NPAGES * sizeof(*perm));

	if (cdf == NULL || perm == NULL) {
		perror("malloc");
		exit(1);
	}
	for (uint32_t i = 0; i < NPAGES; i++) {
		sum += 1.0 / pow((double)i + 1, s);
		cdf[i] = sum;
		perm[i] = i;
	}
	for (uint32_t i = NPAGES - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(rnd() % (i + 1)), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	for (size_t k = 0; k < n; k++) {
		double u = (double)(rnd() >> 11) * 0x1.0p-53 * sum;
		uint32_t lo = 0, hi = NPAGES - 1;

		while (lo < hi) {
			uint32_t mid = (lo + hi) / 2;

			if (cdf[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		out[k] = perm[lo];
	}
	free(cdf);
	free(perm);
}

static void
gen_uniform(uint32_t *out, size_t n)
{
	for (size_t k = 0; k < n; k++)
		out[k] = (uint32_t)(rnd() % NPAGES);
}

/*
 * Baseline: separate chaining, one malloc'd node per page, power-of-two
 * bucket array, same key, mixer and lazy decay as the heat table.
 */
struct cnode {
	uint64_t key;
	uint16_t count, epoch;
	int8_t node;
	uint8_t flags;
	uint16_t moved;
	struct cnode *next;
};

struct chash {
	struct cnode **b;
	size_t mask;
	size_t n;
	uint64_t cooling_ns, start_ns;
	uint16_t epoch;
};

static inline uint64_t
mix(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static struct chash *
chash_create(size_t cap, uint64_t cooling_ns)
{
	struct chash *c = calloc(1, sizeof(*c));
	size_t nb = 1;

	while (nb < cap)
		nb <<= 1;
	c->b = calloc(nb, sizeof(*c->b));
	c->mask = nb - 1;
	c->cooling_ns = cooling_ns;
	return c;
}

static void
chash_destroy(struct chash *c)
{
	for (size_t i = 0; i <= c->mask; i++) {
		for (struct cnode *n = c->b[i], *next; n != NULL; n = next) {
			next = n->next;
			free(n);
		}
	}
	free(c->b);
	free(c);
}

__attribute__((noinline)) static struct cnode *
chash_record(struct chash *c, uint32_t pid, uint64_t addr, uint64_t now_ns)
{
	uint64_t key = heat_key(pid, addr, false);
	struct cnode **head, *n;
	uint16_t age;
	uint32_t cnt;

	if (now_ns - c->start_ns >= c->cooling_ns) {
		uint64_t k = (now_ns - c->start_ns) / c->cooling_ns;

		c->start_ns += k * c->cooling_ns;
		c->epoch = (uint16_t)(c->epoch + k);
	}
	head = &c->b[mix(key) & c->mask];
	for (n = *head; n != NULL; n = n->next)
		if (n->key == key)
			break;
	if (n == NULL) {
		n = calloc(1, sizeof(*n));
		n->key = key;
		n->epoch = c->epoch;
		n->node = -1;
		n->next = *head;
		*head = n;
		c->n++;
	}
	age = (uint16_t)(c->epoch - n->epoch);
	cnt = age >= 16 ? 0 : (uint32_t)n->count >> age;
	n->count = (uint16_t)(cnt < HEAT_COUNT_MAX ? cnt + 1 : cnt);
	n->epoch = c->epoch;
	return n;
}

static size_t
chash_mem_bytes(const struct chash *c)
{
	/* Bucket array plus each node's usable size and its malloc header. */
	struct cnode *probe = malloc(sizeof(*probe));
	size_t per = malloc_usable_size(probe) + sizeof(size_t);

	free(probe);
	return sizeof(*c) + (c->mask + 1) * sizeof(*c->b) + c->n * per;
}

static volatile uint64_t sink;

static double
run_heat(struct heat *h, const uint32_t *s, size_t n, uint64_t *t)
{
	uint64_t t0 = now_ns();
	uint64_t acc = 0;

	for (size_t k = 0; k < n; k++) {
		struct heat_entry *e;

		*t += SAMPLE_NS;
		e = heat_record(h, page_pid(s[k]), page_addr(s[k]), false, *t);
		acc += e->count;
	}
	sink = acc;
	return (double)(now_ns() - t0) / (double)n;
}

/* The same samples in batches; a batch shares the time of its last sample. */
static double
run_heat_batch(struct heat *h, const uint32_t *s, size_t n, uint64_t *t)
{
	struct heat_sample b[BATCH];
	uint64_t t0 = now_ns();
	size_t recorded = 0;

	for (size_t k = 0; k < n; k += BATCH) {
		size_t m = n - k < BATCH ? n - k : BATCH;

		for (size_t j = 0; j < m; j++)
			b[j] = (struct heat_sample){ .pid = page_pid(s[k + j]),
			    .addr = page_addr(s[k + j]), .thp = false };
		*t += m * SAMPLE_NS;
		recorded += heat_record_batch(h, b, m, *t);
	}
	sink = recorded;
	if (recorded != n)
		fprintf(stderr, "bench: batch recorded %zu of %zu\n", recorded, n);
	return (double)(now_ns() - t0) / (double)n;
}

static double
run_chash(struct chash *c, const uint32_t *s, size_t n, uint64_t *t)
{
	uint64_t t0 = now_ns();
	uint64_t acc = 0;

	for (size_t k = 0; k < n; k++) {
		struct cnode *e;

		*t += SAMPLE_NS;
		e = chash_record(c, page_pid(s[k]), page_addr(s[k]), *t);
		acc += e->count;
	}
	sink = acc;
	return (double)(now_ns() - t0) / (double)n;
}

/* Insert every page once, in a random order (the same for both tables). */
static void
fill(struct heat *h, struct heat *hb, struct chash *c, uint64_t *t)
{
	uint64_t t0 = *t;

	uint32_t *order = malloc(NPAGES * sizeof(*order));

	for (uint32_t i = 0; i < NPAGES; i++)
		order[i] = i;
	for (uint32_t i = NPAGES - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(rnd() % (i + 1)), x = order[i];

		order[i] = order[j];
		order[j] = x;
	}
	if (h != NULL)
		run_heat(h, order, NPAGES, t);
	if (hb != NULL) {
		*t = t0;
		run_heat_batch(hb, order, NPAGES, t);
	}
	if (c != NULL) {
		*t = t0;
		run_chash(c, order, NPAGES, t);
	}
	free(order);
}

static void
check_full(const struct heat *h)
{
	if (heat_size(h) != NPAGES || heat_stats(h)->evictions != 0)
		fprintf(stderr, "bench: unexpected table size %zu\n", heat_size(h));
}

/*
 * One by one and batched, each on its own table filled the same way,
 * against one baseline.  The target is for the batch path, which the
 * agent uses, whatever the key mix.
 */
static void
bench_record(const char *mix_name, const uint32_t *samples, struct heat **keep)
{
	double best_h = 1e9, best_b = 1e9, best_c = 1e9;

	for (int r = 0; r < REPS; r++) {
		struct heat *h, *hb;
		struct chash *c;
		uint64_t th = 0, tb, tc;
		double x;

		if (heat_create(&h, NPAGES, COOLING_NS) != 0 ||
		    heat_create(&hb, NPAGES, COOLING_NS) != 0) {
			fprintf(stderr, "heat_create failed\n");
			exit(1);
		}
		c = chash_create(NPAGES, COOLING_NS);
		fill(h, hb, c, &th);
		tb = tc = th;
		x = run_heat(h, samples, NSAMPLES, &th);
		if (x < best_h)
			best_h = x;
		x = run_heat_batch(hb, samples, NSAMPLES, &tb);
		if (x < best_b)
			best_b = x;
		x = run_chash(c, samples, NSAMPLES, &tc);
		if (x < best_c)
			best_c = x;
		check_full(h);
		check_full(hb);
		if (r == REPS - 1 && keep != NULL) {
			*keep = hb;
			hb = NULL;
		}
		heat_destroy(h);
		heat_destroy(hb);
		chash_destroy(c);
	}
	printf("bench heat_record (%s, 1M tracked pages): %.1f ns/sample "
	    "(baseline chained-hash %.1f ns/sample, ratio %.2f) one by one, "
	    "no target\n", mix_name, best_h, best_c, best_h / best_c);
	printf("bench heat_record_batch (%s, 1M tracked pages, %u per call): "
	    "%.1f ns/sample (baseline chained-hash %.1f ns/sample, ratio %.2f) "
	    "target <= 50: %s\n", mix_name, BATCH, best_b, best_c,
	    best_b / best_c, best_b <= 50 ? "met" : "MISSED");
}

static void
bench_mem(void)
{
	struct heat *h;
	struct chash *c;
	uint64_t t = 0;
	double bh, bc;

	if (heat_create(&h, NPAGES, COOLING_NS) != 0)
		exit(1);
	c = chash_create(NPAGES, COOLING_NS);
	fill(h, NULL, c, &t);	/* the table grows with the pages: measure it full */
	bh = (double)heat_mem_bytes(h) / (double)heat_size(h);
	bc = (double)chash_mem_bytes(c) / (double)c->n;
	printf("bench heat_mem: %.1f B/page (baseline chained-hash %.1f B/page, "
	    "ratio %.2f) target <= 32: %s\n", bh, bc, bh / bc,
	    bh <= 32 ? "met" : "MISSED");
	heat_destroy(h);
	chash_destroy(c);
}

/* Half the pages on each node, some recently moved, a few pinned. */
static void
place(struct heat *h)
{
	size_t n;
	struct heat_entry *s = heat_slots_mut(h, &n);

	for (size_t k = 0; k < n; k++) {
		if (s[k].key == 0)
			continue;
		s[k].node = (int8_t)(rnd() & 1);
		s[k].moved = rnd() % 4 ? HEAT_MOVED_NEVER :
		    (uint16_t)(995 + rnd() % 10);
		s[k].flags = rnd() % 100 ? 0 : HEAT_F_PINNED;
	}
}

/* Baseline plan: sort every managed page, take the top that fits. */
struct nrec {
	uint32_t count;
	uint32_t slot;
	int fast;
};

static int
nrec_cmp(const void *a, const void *b)
{
	const struct nrec *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return y->fast - x->fast;
}

static size_t
naive_plan(const struct heat *h, const struct policy_params *pp,
    struct nrec *all, struct plan_item *dem, struct plan_item *pro, size_t cap)
{
	size_t n, na = 0, nd = 0, np = 0, i;
	const struct heat_entry *s = heat_slots(h, &n);
	uint64_t fast = 0, cum = 0, cpages, target, unmanaged;

	for (size_t k = 0; k < n; k++) {
		bool f, sl;

		if (s[k].key == 0 || (s[k].flags & HEAT_F_PINNED) || s[k].node < 0)
			continue;
		f = pp->fast_mask >> s[k].node & 1;
		sl = pp->slow_mask >> s[k].node & 1;
		if (!f && !sl)
			continue;
		if (f)
			fast += heat_key_npages(s[k].key);
		all[na++] = (struct nrec){ heat_count(h, &s[k]), (uint32_t)k, f };
	}
	qsort(all, na, sizeof(*all), nrec_cmp);
	unmanaged = pp->fast_used - fast * PG;
	target = pp->budget - pp->headroom;
	cpages = target > unmanaged ? (target - unmanaged) / PG : 0;
	for (i = 0; i < na; i++) {
		uint32_t np_ = heat_key_npages(s[all[i].slot].key);

		if (all[i].count == 0 || cum + np_ > cpages)
			break;
		cum += np_;
		if (!all[i].fast && np < cap)
			pro[np++] = (struct plan_item){ s[all[i].slot].key,
			    all[i].count, np_ };
	}
	for (size_t j = na; j > i && nd < cap; j--)
		if (all[j - 1].fast)
			dem[nd++] = (struct plan_item){ s[all[j - 1].slot].key,
			    all[j - 1].count, 1 };
	return nd + np;
}

static void
bench_plan(struct heat *h, const char *what, int64_t budget_delta)
{
	struct policy_params pp = {
		.fast_mask = 1, .slow_mask = 2, .hysteresis = 1,
		.now_tick = 1000, .min_residence = 10,
	};
	struct plan p;
	struct nrec *all = malloc(NPAGES * sizeof(*all));
	struct plan_item *dem = malloc(PLAN_CAP * sizeof(*dem));
	struct plan_item *pro = malloc(PLAN_CAP * sizeof(*pro));
	const struct heat_entry *s;
	size_t n, naive_items = 0;
	uint64_t fast = 0;
	double best_p = 1e9, best_n = 1e9;

	if (all == NULL || dem == NULL || pro == NULL ||
	    policy_plan_init(&p, PLAN_CAP) != 0) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	s = heat_slots(h, &n);
	for (size_t k = 0; k < n; k++)
		fast += s[k].key != 0 && s[k].node == 0 &&
		    !(s[k].flags & HEAT_F_PINNED);
	pp.fast_used = fast * PG + 256 * 1024 * 1024;	/* some unmanaged */
	pp.budget = (uint64_t)((int64_t)pp.fast_used + budget_delta);
	pp.headroom = 64 * 1024 * 1024;

	for (int r = 0; r < 5; r++) {
		uint64_t t0 = now_ns();
		double x;

		if (policy_plan(h, &pp, &p) != 0) {
			fprintf(stderr, "policy_plan failed\n");
			exit(1);
		}
		x = (double)(now_ns() - t0) * 1e-6;
		if (x < best_p)
			best_p = x;
		t0 = now_ns();
		naive_items = naive_plan(h, &pp, all, dem, pro, PLAN_CAP);
		x = (double)(now_ns() - t0) * 1e-6;
		if (x < best_n)
			best_n = x;
	}
	printf("bench policy_plan (1M tracked pages, %s: %zu demote + %zu "
	    "promote, T=%u): %.1f ms (baseline qsort-all %.1f ms, %zu items, "
	    "ratio %.2f) target <= 50: %s\n", what, p.ndemote, p.npromote,
	    p.threshold, best_p, best_n, naive_items, best_p / best_n,
	    best_p <= 50 ? "met" : "MISSED");
	policy_plan_free(&p);
	free(all);
	free(dem);
	free(pro);
}

int
main(void)
{
	uint32_t *samples = malloc(NSAMPLES * sizeof(*samples));
	struct heat *h = NULL;

	if (samples == NULL) {
		perror("malloc");
		return 1;
	}
	gen_zipf(samples, NSAMPLES, 0.99);
	bench_record("zipf 0.99", samples, &h);
	gen_uniform(samples, NSAMPLES);
	bench_record("uniform", samples, NULL);
	free(samples);
	bench_mem();
	place(h);
	bench_plan(h, "room", 256 * 1024 * 1024);
	bench_plan(h, "swaps", 0);
	bench_plan(h, "over budget", -512 * 1024 * 1024);
	heat_destroy(h);
	return 0;
}
