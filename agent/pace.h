/*
 * pace.h - how often the agent reads its sampler, so that it stays
 * within its CPU budget.
 *
 * A sampler wakes the agent every 64 samples (PEBS and IBS; the replay
 * FIFO at each write), and each wake-up costs the event loop a switch
 * into the agent and back: at 20k samples/s, 312 a second, 0.7-1.0% of
 * a CPU for the loop thread alone on a small heat table, where the
 * agent reads at each wake-up for early rounds (main.c, sampler holds;
 * bench_agent, BENCH_AGENT_PATTERN=fresh: over the 1% budget in most
 * runs).  Over the budget the agent first reads less often, leaving
 * the samples in the sampler's buffer a little longer: they still all
 * reach the heat table, and an early round comes up to one spacing
 * later.  Only when the spacing is at its longest does the PEBS
 * period rise, which loses samples (perf_ring_period_next).
 *
 * Every PACE_WINDOW_NS the agent's CPU over the window (all threads, the
 * round worker up to half the budget: pace_charge) is compared with the
 * budget: over it, reads are spaced twice the sampler's own wake-up gap
 * apart at first, then further each window by the CPU over the budget
 * (PACE_STEP to 2 times), up to cap (at or over the interval: read at
 * the ticks); under PACE_LOW of it, the
 * spacing shrinks by PACE_STEP, and ends once it would skip no wake-up.
 * One step a window either way, so a noisy window (a round's migration
 * burst also costs CPU) moves it one step and the next ones bring it
 * back: it wanders around the spacing at which the CPU sits between
 * PACE_LOW and the budget.
 *
 * Pure: the caller hands it the clocks and applies the spacing (main.c,
 * the sampler's alarm).  It reads no clock and touches no fd.
 */
#ifndef VTIER_AGENT_PACE_H
#define VTIER_AGENT_PACE_H

#include <stdbool.h>
#include <stdint.h>

#define PACE_WINDOW_NS	1000000000ULL	/* CPU measured over 1 s */
/*
 * The longest interval samples are held for, and so the longest
 * spacing: a PEBS ring holds 2048 records a CPU (100 ms at 20k/s on one
 * CPU), the replay FIFO 1 MiB.
 */
#define HOLD_MAX_MS	50
#define PACE_MIN_NS	1000000ULL	/* no spacing below 1 ms */
#define PACE_LOW	0.8		/* shrink under 80% of the budget */
#define PACE_STEP	1.25

struct pace {
	uint64_t space_ns;	/* least time between reads of a sampler
				   fd; 0: at each of its wake-ups */
	uint64_t wake_gap_ns;	/* the sampler's wake-up gap while unspaced
				   (moving average), 0: not seen yet */
	uint64_t cpu_ns, wall_ns;	/* the window's start, 0: none yet */
	double frac;		/* the CPU fraction of the last window */
	bool window_ended;	/* the last pace_tick closed a window: frac
				   is new (the PEBS/IBS period adapts) */
	uint64_t read_ns;	/* the sampler's last read (pace_read), 0: none */
};

/* The longest spacing for an interval: the interval, or HOLD_MAX_MS. */
static inline uint64_t
pace_cap_ns(uint64_t interval_ms)
{
	return (interval_ms < HOLD_MAX_MS ? interval_ms : HOLD_MAX_MS) *
	    1000000ULL;
}

/*
 * Whether the timer's ticks read the sampler rather than its wake-ups:
 * only while the interval is at most HOLD_MAX_MS, and then once the
 * spacing reaches the interval or no early round can come
 * (policy_early_possible).
 */
static inline bool
pace_at_ticks(const struct pace *p, uint64_t interval_ms, bool early_possible)
{
	if (interval_ms > HOLD_MAX_MS)
		return false;
	return p->space_ns >= interval_ms * 1000000ULL || !early_possible;
}

/*
 * Whether spacing the reads can save no more CPU: the spacing is at its
 * longest, or the ticks read the sampler (pace_at_ticks).  Only then may
 * a PEBS or IBS period rise for the budget.
 */
static inline bool
pace_at_cap(const struct pace *p, uint64_t interval_ms, bool early_possible)
{
	return p->space_ns >= pace_cap_ns(interval_ms) ||
	    pace_at_ticks(p, interval_ms, early_possible);
}

/*
 * The CPU fraction a PEBS or IBS period follows when a window ends: the
 * window's, but never over the budget while spacing the reads can still
 * save (spent false: pace_at_cap not yet), so that the period rises
 * only after the spacing.
 */
static inline double
pace_period_frac(const struct pace *p, bool spent, double budget)
{
	return spent || p->frac <= budget ? p->frac : budget;
}

/*
 * A read of the sampler at now: unspaced, the gap since the last read
 * is a wake-up gap (pace_woke), and 0 is returned; spaced, the time the
 * next read is due.
 */
uint64_t pace_read(struct pace *p, uint64_t now_ns);

/*
 * The CPU the budget's levers answer for: the event loop thread's (reads,
 * samples, ticks), plus the rest of the process's, the round worker's,
 * up to half the budget, on average: the allowance not used by one tick
 * is kept for the next ones, up to a window's (PACE_WINDOW_NS), since a
 * round is a lump in one tick (a 64K-slot table: 1.3 ms every 330 ms,
 * 0.4% of a CPU), and an allowance of a tick's half budget (250 us at
 * 1%) took 0.08% of it.  Policy rounds are spaced by the heat table's
 * size, not by the budget (policy_round_due): on a large table whose hot
 * set moves they alone may take several times the budget, and spacing
 * reads further or raising a PEBS period there would cost promptness
 * and samples without making a round cheaper.  While the rounds take
 * less than half the budget this is the whole process's CPU.
 */
struct pace_charge {
	uint64_t loop_ns, proc_ns, wall_ns;	/* the last reading, 0: none */
	uint64_t credit_ns;	/* the rounds' allowance not yet used */
	uint64_t charged_ns;	/* the clock handed to pace_tick and the
				   hardware samplers' period */
};

/*
 * At a tick: the loop thread's and the process's CPU clocks, the
 * monotonic clock and the budget; the charged clock so far.  A clock
 * that steps back restarts the reading and charges nothing.
 */
uint64_t pace_charge(struct pace_charge *c, uint64_t loop_ns, uint64_t proc_ns,
    uint64_t wall_ns, double budget);

/* A wake-up gap seen while reads were not spaced. */
void pace_woke(struct pace *p, uint64_t gap_ns);
/*
 * At a tick: the process's CPU clock and the monotonic clock, the budget
 * (a fraction of one CPU) and the largest spacing (cap_ns).  True when
 * a window ended and the spacing changed; p->window_ended when a window
 * ended.
 */
bool pace_tick(struct pace *p, uint64_t cpu_ns, uint64_t wall_ns,
    double budget, uint64_t cap_ns);

#endif
