/*
 * sim.h - vtier-sim's private header: trace files (text and binary), a
 * trace loaded into memory with dense page ids, the replay engine and the
 * placement policies it compares (vtier's own, the published baselines,
 * first-touch and the per-epoch oracle), and the cost model that prices
 * their hits, misses and migrations.
 *
 * The engine is "the machine": it keeps which pages sit in the fast tier
 * (at the start, the first budget-worth of pages in order of first
 * appearance, as first-touch allocation leaves them), counts a hit for
 * every sample whose page is fast when it is accessed, and lets a policy
 * migrate pages.  Time is the trace's own:
 * policies run at their periods of trace time, never the wall clock.
 */
#ifndef VTIER_SIM_H
#define VTIER_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "sample.h"

#define SIM_PAGE_SHIFT	12
#define SIM_PAGE_SIZE	(1ULL << SIM_PAGE_SHIFT)

/* Exit codes of vtier-sim. */
#define SIM_EXIT_OK	0
#define SIM_EXIT_ERR	1	/* I/O, memory */
#define SIM_EXIT_USAGE	2	/* bad options */
#define SIM_EXIT_TRACE	3	/* malformed trace (the message names the line) */

/* ---- trace files (trace.c) ---- */

/*
 * Binary format, little-endian: a 16-byte header, "VTTRACE1", u32
 * version (1), u32 flags (0; anything else is refused), then one record
 * per sample:
 *     u8  tag: bit 0 pid differs from the previous record's, bit 1 a
 *             weight follows, bits 2-3 op (0 unknown, 1 load, 2 store),
 *             bits 4-7 zero
 *     varint  time - previous time (the first record: time itself)
 *     [varint pid]
 *     zigzag varint  addr - previous addr (mod 2^64)
 *     [varint weight]
 * Varints are LEB128, at most 10 bytes.  A typical record takes 4 to 7
 * bytes against 30 or so in text.  Time never goes backwards in either
 * format (the binary one cannot say so).
 */
#define TRACE_MAGIC		"VTTRACE1"
#define TRACE_MAGIC_LEN		8
#define TRACE_HDR_LEN		16
#define TRACE_VERSION		1
#define TRACE_TAG_PID		0x01
#define TRACE_TAG_WEIGHT	0x02
#define TRACE_TAG_OP_SHIFT	2
#define TRACE_TAG_RESERVED	0xf0
#define TRACE_REC_MAX		(1 + 10 + 5 + 10 + 5)	/* longest record */

enum trace_format {
	TRACE_TEXT = 0,
	TRACE_BINARY,
};

struct trace_reader;
struct trace_writer;

/*
 * Open a trace for reading ("-" = standard input); the format is told
 * by the first bytes.  0 or -errno (the message is in err).
 */
int trace_open(struct trace_reader **rp, const char *path, char *err,
    size_t errlen);
/* The same over bytes in memory (tests, fuzzing); name is for messages. */
int trace_open_mem(struct trace_reader **rp, const void *data, size_t len,
    const char *name);
/*
 * Next sample: 1, 0 at the end, -EINVAL for a malformed sample or
 * record (trace_error() says where: "FILE:LINE: ..." or "FILE: record N
 * at byte B: ..."), -errno for a read error.  After an error every
 * later call returns the same error.
 */
int trace_read(struct trace_reader *r, struct sample *s);
const char *trace_error(const struct trace_reader *r);
enum trace_format trace_reader_format(const struct trace_reader *r);
void trace_close(struct trace_reader *r);

/* Create path ("-" = standard output) in fmt.  0 or -errno, err set. */
int trace_writer_open(struct trace_writer **wp, const char *path,
    enum trace_format fmt, char *err, size_t errlen);
/* Append one sample; -EINVAL when its time is before the previous one's. */
int trace_write(struct trace_writer *w, const struct sample *s);
/* Flush and close; 0 or the first error met while writing. */
int trace_writer_close(struct trace_writer *w);

/* Validate one sample against the heat table's key space (see heat.h). */
bool trace_sample_valid(const struct sample *s);

/* ---- a trace in memory (trace.c) ---- */

struct sim_rec {
	uint64_t time_ns;
	uint32_t page;		/* dense page id */
	uint8_t op;		/* enum sample_op */
};

struct sim_trace {
	struct sim_rec *rec;
	size_t nrec, rec_cap;
	uint64_t *key;		/* page id -> heat key (pid, 4 KiB page) */
	uint32_t npages, key_cap;
	uint32_t *map;		/* open addressing on key: id + 1, 0 = empty */
	size_t map_cap;		/* power of two */
};

/* Read a whole trace; 0, -EINVAL (malformed, err says where) or -errno. */
int sim_trace_load(struct sim_trace *t, const char *path, char *err,
    size_t errlen);
/* Append one sample (valid, in time order); 0 or -ENOMEM/-EINVAL. */
int sim_trace_add(struct sim_trace *t, const struct sample *s);
/* Dense id of a heat key, or -1. */
int64_t sim_trace_find(const struct sim_trace *t, uint64_t key);
void sim_trace_free(struct sim_trace *t);

/* ---- the cost model (cost.c) ---- */

struct sim_cost {
	uint64_t accesses;	/* memory accesses one sample stands for */
	double fast_ns;		/* one access to the fast tier */
	double slow_ns;		/* one access to the slow tier */
	double migrate_ns;	/* one 4 KiB page migrated, either way */
};

/*
 * The agent's own CPU, for vtier alone (--agent-cpu): what one read of
 * the sampler at a wake-up, one sample and one tick of its timer cost
 * it, in ns (a round costs POLICY_SLOT_COST_NS a slot).  All 0 (the
 * default): not modelled, the agent reads at every wake-up, as if its
 * CPU budget were never reached.
 */
struct sim_cpu {
	double wakeup_ns;
	double sample_ns;
	double tick_ns;		/* one tick of the timer, beyond its round */
};

/* The published figures cost.c cites. */
void sim_cost_defaults(struct sim_cost *c);
/* Estimated run time (ns) of samples with hits and migrated pages. */
double sim_cost_time(const struct sim_cost *c, uint64_t samples, uint64_t hits,
    uint64_t migrated_pages);
/* That time over the same accesses all on the fast tier (1 for none). */
double sim_cost_slowdown(const struct sim_cost *c, uint64_t samples,
    uint64_t hits, uint64_t migrated_pages);
/*
 * Change c from "accesses=N,fast=NS,slow=NS,migrate=NS" (any of them);
 * 0, or -EINVAL with the message in err and c unchanged.
 */
int sim_cost_parse(struct sim_cost *c, const char *spec, char *err,
    size_t errlen);
/* The same for "wakeup=NS,sample=NS,tick=NS" (any of them). */
int sim_cpu_parse(struct sim_cpu *c, const char *spec, char *err,
    size_t errlen);

/* ---- the engine (engine.c) ---- */

struct sim_params {
	uint64_t budget_pages;	/* fast-tier capacity, 4 KiB pages */
	uint64_t epoch_ns;	/* reporting and oracle epoch */
	uint64_t headroom;	/* bytes vtier keeps free below the budget
				   (CONFIG_HEADROOM_AUTO: follows the creep) */
	struct sim_cost cost;	/* what hits, misses and migrations cost */
	struct sim_cpu cpu;	/* what the agent's reads cost it (vtier) */
	struct agent_config cfg;	/* vtier's settings (config_defaults) */
};

struct sim_epoch {
	uint64_t samples;
	uint64_t hits;		/* samples whose page was fast */
	uint64_t oracle_hits;
	uint64_t promoted;	/* pages moved to the fast tier */
	uint64_t demoted;	/* pages moved to the slow tier */
	uint64_t fast_pages;	/* in the fast tier at the end of the epoch */
};

struct sim_result {
	const char *policy;
	uint64_t samples, hits;
	uint64_t promoted, demoted;	/* pages, whole run */
	double agent_cpu;	/* the modelled agent's CPU, a fraction of one
				   (vtier with --agent-cpu; < 0: none) */
	uint64_t sampler_waits;	/* its reads put off for the budget */
	uint64_t samples_skipped;	/* trace samples its longer PEBS
				   period would not have taken */
	struct sim_epoch *ep;
	size_t nep;
};

/* One replay: the machine's state as policies see it. */
struct sim_run {
	const struct sim_trace *tr;
	const struct sim_params *par;
	uint8_t *fast;		/* per page: 1 = fast tier */
	uint64_t fast_pages;
	uint64_t cap_pages;	/* = par->budget_pages */
	uint64_t promoted, demoted;
	uint64_t t0;		/* time of the first sample */
	double agent_cpu;	/* the policy's modelled CPU (< 0: none) */
	uint64_t sampler_waits;
	uint64_t samples_skipped;
};

static inline bool
sim_is_fast(const struct sim_run *run, uint32_t page)
{
	return run->fast[page] != 0;
}

/* Move a touched page to the other tier (a no-op if it is there). */
void sim_migrate(struct sim_run *run, uint32_t page, bool to_fast);

struct sim_policy {
	const char *name;
	/* Set up; *tick_ns: period of tick (0: never).  0 or -errno. */
	int (*init)(struct sim_run *run, void **state, uint64_t *tick_ns);
	/* Each page once, after init, in id order, placed already. */
	void (*touch)(void *state, struct sim_run *run, uint32_t page);
	/* A sample, after the engine counted its hit or miss. */
	void (*access)(void *state, struct sim_run *run, const struct sim_rec *r);
	/* Periodic work at now_ns.  0 or -errno (ends the run). */
	int (*tick)(void *state, struct sim_run *run, uint64_t now_ns);
	void (*fini)(void *state);
};

extern const struct sim_policy sim_policy_vtier;
extern const struct sim_policy sim_policy_hemem;
extern const struct sim_policy sim_policy_memtis;
extern const struct sim_policy sim_policy_tpp;
extern const struct sim_policy sim_policy_tpp_scan;
extern const struct sim_policy sim_policy_first_touch;

/* Every policy in report order; NULL-terminated. */
extern const struct sim_policy *const sim_policies[];
const struct sim_policy *sim_policy_find(const char *name);

/* Number of epochs the trace spans (at least 1 when it has samples). */
size_t sim_nepochs(const struct sim_trace *tr, uint64_t epoch_ns);

/* Replay tr under pol into res (res->ep allocated).  0 or -errno. */
int sim_run_policy(const struct sim_trace *tr, const struct sim_params *par,
    const struct sim_policy *pol, struct sim_result *res);
void sim_result_free(struct sim_result *res);

/*
 * The oracle (oracle.c): per epoch, the budget_pages pages with the most
 * samples in that epoch sit in the fast tier for the whole epoch, moved
 * there for free.  res->hits is its hit count; promoted/demoted count the
 * pages its placement changes between epochs would move (not charged).
 */
int sim_oracle(const struct sim_trace *tr, const struct sim_params *par,
    struct sim_result *res);

/* ---- the last-level cache model (llc.c) ---- */

#define SIM_LLC_LINE		64
#define SIM_LLC_WAYS_DEFAULT	16
#define SIM_LLC_WAYS_MAX	64
#define SIM_LLC_LINES_MAX	(1ULL << 26)	/* 4 GiB of cache */

struct sim_llc;

/*
 * A cache of size bytes (a multiple of 64 * ways, at most 4 GiB) with
 * ways lines per set (1..64), empty.  0, -EINVAL or -ENOMEM.
 */
int sim_llc_create(struct sim_llc **cp, uint64_t size, unsigned ways);
void sim_llc_free(struct sim_llc *c);
/* An access to addr's line: true on a hit; the line is most recent now. */
bool sim_llc_access(struct sim_llc *c, uint64_t addr);
void sim_llc_stats(const struct sim_llc *c, uint64_t *accesses,
    uint64_t *misses);
/* "SIZE[,WAYS]" (WAYS default 16) into what sim_llc_create takes; -EINVAL. */
int sim_llc_parse(const char *spec, uint64_t *size, unsigned *ways);

/* ---- trace generators (gen.c) and the lackey converter (lackey.c) ---- */

int sim_gen_main(int argc, char **argv);
int sim_lackey_main(int argc, char **argv);

/* Deterministic pseudo-random numbers (splitmix64). */
static inline uint64_t
sim_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double
sim_rand01(uint64_t *state)
{
	return (double)(sim_rand(state) >> 11) * 0x1.0p-53;
}

#endif
