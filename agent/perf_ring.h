/*
 * perf_ring.h - the perf ring-buffer reader shared by the pebs and ibs
 * samplers, and the per-CPU event sets both of them open.
 *
 * A ring is the mmap of one perf fd: a metadata page (struct
 * perf_event_mmap_page) followed by 2^n data pages.  The kernel writes
 * records at data_head and publishes it with a release store; we read it
 * with a load-acquire, consume records up to it and hand the space back
 * with a store-release of data_tail (tools/include/linux/ring_buffer.h).
 * Every record is untrusted input: its size is bounded by what the
 * kernel published and by the ring, each field by the record's size.
 *
 * A set opens a small table of events on every CPU (pid = -1, cpu = N).
 * A CPU's sampling events share one ring (PERF_EVENT_IOC_SET_OUTPUT) when
 * their sample layouts agree, so a sampler has about one fd per CPU; a
 * record's PERF_SAMPLE_IDENTIFIER tells which event wrote it.
 *
 * The last section declares the glue both hardware samplers share
 * (sample_pebs.c): enabling after the pre-fault handshake, adaptive
 * sampling periods and the per-level counters.
 */
#ifndef VTIER_AGENT_PERF_RING_H
#define VTIER_AGENT_PERF_RING_H

#include <linux/perf_event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sample.h"

#define PERF_RING_NAME_MAX	96
#define PERF_RING_MAX_EVENTS	4	/* events per CPU, leader included */
#define PERF_RING_NLEVELS	16	/* PERF_MEM_LVLNUM_* is 4 bits */
#define PERF_RING_RECORD_MAX	65535	/* perf_event_header.size is a u16 */

/*
 * Sample fields this reader parses.  Fields that need more of the attr
 * to size them (READ, BRANCH_STACK, REGS_*, STACK_USER, AUX) are not
 * supported: a ring refuses a sample_type that has them.
 */
#define PERF_RING_SAMPLE_SUPPORTED (PERF_SAMPLE_IDENTIFIER |		\
	PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |		\
	PERF_SAMPLE_ADDR | PERF_SAMPLE_ID | PERF_SAMPLE_STREAM_ID |	\
	PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD | PERF_SAMPLE_CALLCHAIN |	\
	PERF_SAMPLE_RAW | PERF_SAMPLE_WEIGHT | PERF_SAMPLE_DATA_SRC |	\
	PERF_SAMPLE_TRANSACTION | PERF_SAMPLE_PHYS_ADDR |		\
	PERF_SAMPLE_CGROUP | PERF_SAMPLE_DATA_PAGE_SIZE |		\
	PERF_SAMPLE_CODE_PAGE_SIZE | PERF_SAMPLE_WEIGHT_STRUCT)

/* One decoded PERF_RECORD_SAMPLE; a field not in sample_type reads 0. */
struct perf_ring_sample {
	uint64_t id;		/* IDENTIFIER, else ID */
	uint64_t ip;
	uint64_t time;
	uint64_t addr;
	uint64_t stream_id;
	uint64_t period;
	uint64_t weight;	/* WEIGHT, or WEIGHT_STRUCT's var1_dw */
	uint64_t data_src;
	uint64_t transaction;
	uint64_t phys_addr;
	uint64_t cgroup;
	uint64_t data_page_size;
	uint64_t code_page_size;
	uint32_t pid, tid;
	uint32_t cpu;
	uint16_t misc;		/* header.misc: cpumode and flags */
};

struct perf_ring_stats {
	uint64_t records;	/* records consumed, of any type */
	uint64_t samples;	/* PERF_RECORD_SAMPLE handed to the callback */
	uint64_t lost;		/* sum of PERF_RECORD_LOST's lost field */
	uint64_t lost_records;	/* PERF_RECORD_LOST records seen */
	uint64_t lost_samples;	/* PERF_RECORD_LOST_SAMPLES (hardware drops) */
	uint64_t throttle;	/* PERF_RECORD_THROTTLE */
	uint64_t unthrottle;	/* PERF_RECORD_UNTHROTTLE */
	uint64_t filtered;	/* samples dropped: not user mode, no pid, no address */
	uint64_t malformed;	/* records or ring states failing a bound check */
	uint64_t wrapped;	/* records copied out because they wrap the end */
	uint64_t loads, stores;	/* by data_src mem_op, else the event's role */
	uint64_t remote;	/* data_src mem_remote (or a remote mem_lvl) */
	uint64_t level[PERF_RING_NLEVELS];	/* by PERF_MEM_LVLNUM_*; [0] unknown */
};

struct perf_ring {
	int fd;				/* owned once mapped; -1 for memory rings */
	void *map;			/* the mmap, NULL for memory rings */
	size_t map_len;
	struct perf_event_mmap_page *meta;
	const unsigned char *data;	/* data area, data_size bytes */
	uint64_t data_size;		/* a power of two */
	uint64_t sample_type;
	bool user_only;			/* drop samples not taken in user mode */
	uint8_t default_op;		/* enum sample_op for unknown ids */
	int nids;
	uint64_t ids[PERF_RING_MAX_EVENTS];	/* event ids writing here */
	uint8_t id_op[PERF_RING_MAX_EVENTS];	/* ... and their roles */
	unsigned char *bounce;		/* copy of a record that wraps */
	struct perf_ring_stats stats;
};

/* perf_event_open(2): the fd, or -errno. */
int perf_ring_event_open(struct perf_event_attr *attr, pid_t pid, int cpu,
    int group_fd, unsigned long flags);

/*
 * Map 1 + data_pages pages of fd (data_pages a power of two) and parse
 * records as sample_type.  On success the ring owns fd (perf_ring_close
 * closes it); on failure fd is left to the caller.  0, -EINVAL (pages
 * not a power of two, unsupported sample_type) or -errno from mmap.
 */
int perf_ring_map(struct perf_ring *r, int fd, unsigned data_pages,
    uint64_t sample_type);

/*
 * A ring over caller memory: base holds a metadata page (its data_head
 * and data_tail are used) followed by data_size bytes (a power of two,
 * at least 8).  For tests and fuzzing; nothing is mapped or owned.
 */
int perf_ring_init_mem(struct perf_ring *r, void *base, size_t meta_size,
    uint64_t data_size, uint64_t sample_type);

/* Events writing into this ring (by PERF_EVENT_IOC_ID) and their role. */
int perf_ring_add_id(struct perf_ring *r, uint64_t id, uint8_t op);

/*
 * Consume records, handing up to max user-mode samples with an address
 * to fn.  Returns the number delivered (0: nothing ready).  A record
 * that fails a bound check makes the rest of what the kernel published
 * unreadable: it is dropped (stats.malformed) and the tail moves to the
 * head, so the reader can never loop or read past a record.
 */
int perf_ring_read(struct perf_ring *r, sample_fn fn, void *arg,
    unsigned max);

/* Unmap, close the fd, free the bounce buffer.  Safe on a zeroed ring. */
void perf_ring_close(struct perf_ring *r);

/*
 * Decode one PERF_RECORD_SAMPLE body (the bytes after the header, size
 * bytes) laid out for sample_type, in the order the kernel writes it
 * (perf_output_sample).  0, or -EINVAL if a field runs past size or the
 * sample_type has a field this reader cannot size.
 */
int perf_ring_parse_sample(uint64_t sample_type, const void *body,
    size_t size, struct perf_ring_sample *out);

/*
 * The memory level of a data_src: its PERF_MEM_LVLNUM_* (1..14), or,
 * from kernels and PMUs that fill only the older mem_lvl bits, the
 * level those bits name; 0 when unknown or N/A.  *remote is set when
 * the source is another node.
 */
uint8_t perf_ring_level(uint64_t data_src, bool *remote);

/* ---- per-CPU event sets ---- */

/* One event of a sampler's table. */
struct perf_ring_event {
	char name[PERF_RING_NAME_MAX];	/* libpfm string or a label */
	uint32_t type;
	uint64_t config, config1, config2;
	uint8_t precise_ip;		/* wanted; lowered on EINVAL/EOPNOTSUPP */
	uint8_t op;			/* enum sample_op of its samples */
	bool leader;			/* counting-only leader of the next event */
};

struct perf_ring_params {
	pid_t pid;			/* -1: system-wide (per CPU) */
	const int *cpus;		/* NULL: online CPUs (or cpus_file) */
	int ncpus;
	const char *cpus_file;		/* a PMU's "cpus" list (hybrid), or NULL */
	uint64_t sample_type;		/* wanted; PHYS_ADDR/WEIGHT_STRUCT may be dropped */
	uint64_t period;		/* initial sample_period */
	uint64_t period_min, period_max;	/* bounds for adaptation */
	unsigned period_align;		/* periods are multiples of this (IBS: 16) */
	int max_precise;		/* caps/max_precise; -1 unknown */
	bool exclude_kernel;
	bool exclude_guest;
	bool user_only;			/* drop samples not in user mode */
	unsigned data_pages;		/* per ring, a power of two */
	unsigned wakeup_events;		/* wake the poller every N samples */
};

struct perf_ring_set;

/*
 * Open ev[0..nev) on every CPU of p, disabled, and map their rings.  A
 * field the kernel refuses is dropped in this order: PHYS_ADDR (not
 * permitted), WEIGHT_STRUCT (-> WEIGHT), the monotonic clock, then
 * precise_ip steps down to 1.  CPUs of a hybrid part that do not have
 * the PMU (ENOENT) are skipped.  0 or -errno with a reason in err.
 */
int perf_ring_set_open(struct perf_ring_set **out,
    const struct perf_ring_event *ev, int nev,
    const struct perf_ring_params *p, char *err, size_t errlen);
void perf_ring_set_close(struct perf_ring_set *set);
int perf_ring_set_enable(struct perf_ring_set *set, bool on);
bool perf_ring_set_enabled(const struct perf_ring_set *set);
int perf_ring_set_nrings(const struct perf_ring_set *set);
int perf_ring_set_fd(const struct perf_ring_set *set, int i);
int perf_ring_set_read(struct perf_ring_set *set, int i, sample_fn fn,
    void *arg, unsigned max);
/* One ring's counters (NULL if i is out of range). */
const struct perf_ring_stats *perf_ring_set_ring_stats(
    const struct perf_ring_set *set, int i);
/* Sum of every ring's counters. */
void perf_ring_set_stats(const struct perf_ring_set *set,
    struct perf_ring_stats *sum);
/* PERF_EVENT_IOC_PERIOD on every sampling event; 0 or -errno. */
int perf_ring_set_period(struct perf_ring_set *set, uint64_t period);
uint64_t perf_ring_set_get_period(const struct perf_ring_set *set);
void perf_ring_set_bounds(const struct perf_ring_set *set, uint64_t *min,
    uint64_t *max);
/* The attr in effect after fallbacks (for logs and --probe). */
const struct perf_event_attr *perf_ring_set_attr(
    const struct perf_ring_set *set, int ev);
int perf_ring_set_ncpus(const struct perf_ring_set *set);

/*
 * The next sampling period given the agent's CPU fraction over the last
 * interval and its budget (both fractions of one CPU).  See perf_ring.c.
 */
uint64_t perf_ring_period_next(uint64_t cur, double cpu_frac, double budget,
    uint64_t min, uint64_t max, unsigned align);
/* PEBS: adaptation may raise the period this many times (sample_pebs.c;
 * vtier-sim models the same). */
#define HW_PERIOD_SPAN	256

/* The longest PEBS period for a configured one (saturating). */
static inline uint64_t
hw_period_max(uint64_t period)
{
	return period > UINT64_MAX / HW_PERIOD_SPAN ? UINT64_MAX :
	    period * HW_PERIOD_SPAN;
}

/* Online CPUs from a cpulist file ("0-3,8"): count, or -errno. */
int perf_ring_cpulist(const char *path, int *cpus, int max);

/* ---- the hardware samplers' shared glue (sample_pebs.c) ---- */

/* The sampler is pebs or ibs (s->ops is one of theirs and it is open). */
bool sample_hw_is(const struct sampler *s);
/* Events are open but not counting yet (waiting for PREFAULT_DONE). */
bool sample_hw_waiting(const struct sampler *s);
/* Start counting (after the pre-fault handshake).  0 or -errno. */
int sample_hw_enable(struct sampler *s);
/*
 * Adapt the period so the agent's own CPU time stays under budget (a
 * fraction of one CPU, [sampler] cpu_budget): call once per pace window
 * with the agent's CPU fraction over it (pace.h, pace.frac).  1 if the
 * period changed, 0 if not, -errno.
 */
int sample_hw_adapt(struct sampler *s, double cpu_frac, double budget);
uint64_t sample_hw_period(const struct sampler *s);
/* Counters including per-level counts; -EINVAL if not a hw sampler. */
int sample_hw_counters(const struct sampler *s, struct perf_ring_stats *out);

struct probe_table;
struct probe_cpu;
struct probe_pmu;
/*
 * sample_pebs.c / sample_ibs.c: the table and perf parameters they open
 * with on this machine (pmu NULL: the detected or forced libpfm PMU).
 * 0 or -errno with err.  Pure but for libpfm's encoding.
 */
int sample_pebs_plan(struct probe_table *t, struct perf_ring_params *pp,
    const struct probe_cpu *c, const struct probe_pmu *p, const char *pmu,
    const char *custom, uint64_t period, char *err, size_t errlen);
int sample_ibs_plan(struct probe_table *t, struct perf_ring_params *pp,
    const struct probe_cpu *c, const struct probe_pmu *p, const char *pmu,
    const char *custom, uint64_t period, char *err, size_t errlen);

/* The ops both hardware samplers share, and opening a planned table. */
int sample_hw_open_plan(struct sampler *s, struct probe_table *t,
    struct perf_ring_params *pp, bool enable_now);
int sample_hw_nfds(const struct sampler *s);
int sample_hw_fd(const struct sampler *s, int i);
int sample_hw_read(struct sampler *s, int i, sample_fn fn, void *arg,
    unsigned max);
void sample_hw_close(struct sampler *s);

#endif
