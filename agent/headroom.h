/*
 * headroom.h - the headroom kept free below the budget, for
 * [budget] headroom = auto (the default): sized from the creep it
 * measures.
 *
 * Creep is what the fast nodes gained between two rounds that the
 * agent did not put there: new allocations of any process (the kernel
 * places them on the node with the CPUs), page cache, slab, page
 * tables.  A round leaves fast usage at U_after (read back, or for the
 * kernel estimated from what it moved); the next round finds U_start;
 * creep is U_start - U_after when that is positive (memory freed
 * meanwhile is not creep).  The headroom is twice the largest creep of
 * a recent interval (promotions stop at budget - headroom, forced
 * demotion starts at budget - headroom/2: a creep of headroom/2 per
 * interval never crosses the budget), the peak halving every
 * HEADROOM_HALF_LIFE_NS, at most HEADROOM_AUTO_MAX and 1/16 of the
 * budget.  Creep comes in bursts too: a process that starts and first
 * touches its memory puts all of it on the fast node in one interval
 * (hundreds of MiB in the guest's hostmem scenario).  No headroom a
 * budget can spare absorbs that, forced demotion brings it back, and a
 * headroom sized to it would keep the hot set out for minutes after
 * (it did: tests/vm/scenarios/hostmem.sh, 0% of the hot set on fast
 * with a cap of half the budget); the cap bounds what a burst costs,
 * and a burst counts as half the cap, the most a headroom could absorb,
 * so that it is forgotten at the same pace as any creep.
 *
 * It starts at 0, as no creep has been seen: until the first interval's
 * creep is measured the budget is held as it would be with any headroom
 * that creep outgrows, by forced demotion at the next round.  A guest
 * that never creeps (vtier-sim: no memory but the trace's) keeps none.
 *
 * Pure: the caller hands it usages and clocks (agent/main.c after each
 * round, vtier-sim's pol_vtier.c the same way).  It reads no file and
 * no clock.
 */
#ifndef VTIER_AGENT_HEADROOM_H
#define VTIER_AGENT_HEADROOM_H

#include <stdbool.h>
#include <stdint.h>

struct agent_config;

#define HEADROOM_AUTO_MAX	(64ULL << 20)	/* the fixed default until now */
#define HEADROOM_AUTO_SHARE	16		/* at most 1/16 of the budget */
#define HEADROOM_HALF_LIFE_NS	(60ULL * 1000000000ULL)

struct headroom {
	uint64_t peak;		/* the largest creep, at most half the cap,
				   decayed (bytes) */
	uint64_t peak_ns;	/* when peak was last set or halved */
	uint64_t last_after;	/* fast usage the last round left */
	uint64_t last_creep;	/* the last interval's creep */
	bool have_after;	/* last_after is known */
};

void headroom_init(struct headroom *h);

/*
 * A round ran at now_ns under budget: it found the fast nodes at
 * used_start and left them at used_after.  The creep since the round
 * before (last_creep) joins the peak, at most half the cap.
 */
void headroom_round(struct headroom *h, uint64_t budget,
    uint64_t used_start, uint64_t used_after, uint64_t now_ns);

/*
 * The headroom for a round at now_ns under budget: the configured one,
 * or with headroom = auto (CONFIG_HEADROOM_AUTO) twice the decayed
 * peak, at most min(HEADROOM_AUTO_MAX, budget / HEADROOM_AUTO_SHARE),
 * whole 4 KiB pages.
 */
uint64_t headroom_bytes(const struct headroom *h,
    const struct agent_config *cfg, uint64_t budget, uint64_t now_ns);

/* The peak creep as it stands at now_ns (halved for the time passed). */
uint64_t headroom_peak(const struct headroom *h, uint64_t now_ns);

#endif
