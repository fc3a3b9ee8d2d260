/*
 * sample.h - the sampler interface: a small table of operations with
 * several backends (pebs, ibs, replay).  The event loop polls the fds a
 * sampler exposes and calls its read op when one is ready; the sampler
 * hands each decoded sample to a callback and never calls other stages.
 */
#ifndef VTIER_AGENT_SAMPLE_H
#define VTIER_AGENT_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>

struct agent_config;

enum sample_op {
	SAMPLE_OP_UNKNOWN = 0,
	SAMPLE_OP_LOAD,
	SAMPLE_OP_STORE,
};

struct sample {
	uint64_t time_ns;	/* trace or perf time */
	uint64_t addr;		/* virtual data address */
	uint32_t pid;
	uint32_t weight;	/* latency/weight, 0 if unknown */
	uint8_t op;		/* enum sample_op */
	uint8_t level;		/* PERF_MEM_LVLNUM_* of data_src, 0 if unknown */
};

typedef void (*sample_fn)(void *arg, const struct sample *s);

struct sampler_stats {
	uint64_t samples;	/* delivered to the callback */
	uint64_t lost;		/* PERF_RECORD_LOST counts */
	uint64_t throttled;	/* THROTTLE records */
	uint64_t bad_lines;	/* replay: malformed lines skipped */
	uint64_t last_bad_line;	/* replay: line number of the latest one */
};

struct sampler;

struct sampler_ops {
	const char *name;
	/* Open the source; -errno and a logged reason on failure. */
	int (*open)(struct sampler *s, const struct agent_config *cfg);
	/* Number of pollable fds and the i-th one. */
	int (*nfds)(const struct sampler *s);
	int (*fd)(const struct sampler *s, int i);
	/*
	 * Drain up to max samples that are ready on fd i.  Returns the number
	 * delivered (0: nothing ready now), or -errno.  Sets s->eof when a
	 * plain trace file has been read to its end (a FIFO never ends).
	 */
	int (*read)(struct sampler *s, int i, sample_fn fn, void *arg,
	    unsigned max);
	void (*close)(struct sampler *s);
};

struct sampler {
	const struct sampler_ops *ops;
	void *priv;
	bool eof;
	struct sampler_stats stats;
};

extern const struct sampler_ops sample_replay_ops;

/*
 * Parse one line of the text trace format into *out:
 *     time_ns pid addr_hex [weight] [L|S]
 * Blank lines and lines starting with '#' (after blanks) return 0 with
 * nothing filled (see sample_parse_lost for the one comment that counts);
 * a sample returns 1; a malformed line returns -EINVAL, nothing filled.
 * Shared by the replay sampler and vtier-sim.
 */
int sample_parse_line(const char *line, struct sample *out);

/*
 * A writer that could not keep up (a full FIFO) says how many samples it
 * dropped in a comment line of its own, "# lost N": N samples since its
 * previous such line (N decimal, 1 to 2^32 - 1).  1 with *n set for such
 * a line, 0 for any other (a line longer than sample_parse_line allows
 * included).  Older readers take it for a comment.
 */
int sample_parse_lost(const char *line, uint64_t *n);

/* Hardware samplers (sample_pebs.c, sample_ibs.c); see perf_ring.h. */
extern const struct sampler_ops sample_pebs_ops, sample_ibs_ops;

#endif
