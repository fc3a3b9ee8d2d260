/*
 * policy.h - placement policy: from the heat table, the budget and the
 * current fast-tier usage, decide what to demote and what to promote.
 * Pure code (no syscalls, no clocks); the loop calls it once per tick and
 * vtier-sim calls the same function.
 *
 * The maths (the paragraph in policy.c says it in full):
 * - capacity for managed hot pages C = budget - headroom - unmanaged,
 *   where unmanaged = fast_used - (bytes of tracked entries on fast nodes);
 * - the hot set is the hottest tracked pages that fit C: the histogram
 *   gives the bin where the cumulative size crosses C, and that boundary
 *   bin is resolved exactly by selecting on decayed counts; the count of
 *   the coldest page admitted is the threshold T; at equal counts
 *   below POLICY_AGE_COUNTS the page sampled more recently comes first
 *   (ages in epochs, POLICY_AGE_MAX and older alike), then pages on
 *   the fast nodes;
 * - hysteresis: while the hot set stays put, a promotion of a page of
 *   heat c may displace only fast pages colder than c >> hysteresis and
 *   by more than sampling noise (see swap_limit in policy.c), so a swap
 *   needs the page coming in 2^hysteresis times as hot as the one going
 *   out, except that where every page with heat fits the capacity, a
 *   fast page of count 0 may go for any page of H where plan.room_pays
 *   says that pays; while it moves, any colder page (a page of count 0
 *   for one of count 1 only where plan.once_pays says that pays), and a
 *   page of the same count below POLICY_AGE_COUNTS last sampled at
 *   least POLICY_AGE_SWAP epochs earlier (where one sample pays for a
 *   swap);
 * - while the hot set moves, a promotion must pay for itself: a page's
 *   decayed count is the samples it had over the last cooling period,
 *   and so the samples it is expected to have over the next one on the
 *   fast tier; times the accesses a sample stands for (the sampler's
 *   period) and the latency each saves, that must exceed what moving it
 *   costs.  So a page needs pay_min samples (pay_min_thp for 2 MiB), and
 *   a swap, two moves for one page's gain, a difference of swap_gap
 *   ("Paying for a move" in policy.c); while it stays put, min_count;
 * - a page moved less than min_residence ticks ago is not moved again,
 *   except to get back under the budget;
 * - over budget (fast_used > budget): swap pairs first (a hot slow page
 *   for at least as much of the coldest fast memory, in half of
 *   max_bytes at most: usage does not grow), then demote the coldest
 *   fast pages down to budget - headroom;
 * - then promote the hottest slow pages of the hot set into the room
 *   left, demoting colder candidates to make room, coldest first, never
 *   promoting a page colder than the one it displaces;
 * - the plan never exceeds max_bytes of migration in total (demotions
 *   first) and never leaves fast usage above budget - headroom by
 *   promoting;
 * - over budget with nothing left to demote: unattainable, with the
 *   shortfall in bytes;
 * - regime: pages that fall silent for 3 expected samples either come
 *   back before 6 (revivals, counted by the heat table) or not
 *   (departures, counted by the plan); while departures outnumber
 *   revivals (decayed sums) the hot set is moving, and the next rounds
 *   call a page gone after 3 expected samples instead of 6 and swap for
 *   any colder page instead of one colder by hysteresis and noise
 *   (plan.moving, plan.stale_k for heat_set_stale).
 */
#ifndef VTIER_AGENT_POLICY_H
#define VTIER_AGENT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct heat;

/* Recency at equal counts (policy.c "Recency"), ages in table epochs. */
#define POLICY_AGE_COUNTS	4	/* counts below this are ordered by age */
#define POLICY_AGE_MAX		63	/* older ages are alike */
#define POLICY_AGE_SWAP		8	/* a quarter of a cooling period */

struct policy_params {
	uint64_t budget;	/* bytes of fast-tier memory the guest may use */
	uint64_t headroom;	/* bytes kept free below the budget */
	uint64_t fast_used;	/* bytes in use on the fast nodes now */
	uint64_t fast_mask;	/* which heat_entry.node values are fast */
	uint64_t slow_mask;	/* which are slow (others are ignored) */
	unsigned hysteresis;	/* settled: a swap needs heat in > out << this */
	uint32_t min_count;	/* decayed count a hot page needs (0 = 1) */
	/* While the hot set moves (the last plan's plan.moving): */
	uint32_t pay_min;	/* count a 4 KiB page needs to pay its move */
	uint32_t pay_min_thp;	/* the same for a 2 MiB page */
	uint32_t swap_gap;	/* a swap needs heat in - heat out >= this */
	uint16_t now_tick;	/* policy tick, mod 2^16, never 0 (see below) */
	uint16_t min_residence;	/* ticks a moved page stays put */
	uint64_t max_bytes;	/* migration allowed this round, 0 = no limit */
};

/*
 * Ticks: the loop counts policy rounds starting at 1 and skips 0 when
 * wrapping, so heat_entry.moved == HEAT_MOVED_NEVER means "never moved".
 * Residence is (now_tick - moved) mod 2^16, so min_residence must be
 * below 32768 ticks.
 */

struct plan_item {
	uint64_t key;		/* heat key: pid, address, THP flag */
	uint32_t heat;		/* decayed count when planned */
	uint32_t npages;	/* 1 or HEAT_THP_PAGES */
};

struct plan {
	/* Demotions first, coldest first (settled pages before recently moved). */
	struct plan_item *demote;
	size_t ndemote;
	/* Then promotions, hottest first. */
	struct plan_item *promote;
	size_t npromote;
	size_t cap;		/* allocated length of each array */
	/*
	 * Over budget, the plan starts with swap pairs: the first nswap
	 * promotions come in for the first swap_bytes of demotions (fast
	 * usage does not grow), before the rest of the demotions.  The
	 * migrator interleaves the two so that a round its deadline cuts
	 * still brings hot pages in.  0 and 0 otherwise.
	 */
	size_t nswap;
	uint64_t swap_bytes;

	uint64_t demote_bytes;
	uint64_t promote_bytes;
	uint32_t threshold;	/* T: decayed count of the coldest hot page
				   (HEAT_COUNT_MAX + 1 when none is hot) */
	uint64_t hot_bytes;	/* size of the hot set (fits the capacity) */
	uint64_t hot_on_fast_bytes;	/* of which already on a fast node */
	uint64_t capacity;	/* C above */
	bool over_budget;	/* fast_used > budget at planning time */
	bool unattainable;	/* over budget and nothing movable remains */
	uint64_t shortfall;	/* bytes still over budget after the plan */
	uint32_t promote_bar;	/* count a page off the fast nodes needs to
				   be promoted next round (for heat_set_watch) */
	bool moving;		/* the hot set moves (policy.c "Regime") */
	bool tight;		/* ... through a tier that does not hold it
				   (policy.c "Tight") */
	bool steady;		/* it has stayed put for a cooling period:
				   the heat clock runs at POLICY_STEADY_X
				   times the period (policy.c "Steady") */
	bool once_pays;		/* while it moves, a page sampled once may
				   displace one with no heat left (policy.c
				   "Pages sampled once") */
	bool room_pays;		/* while it stays put and every page with
				   heat fits, a page of H may displace a
				   fast page with no heat left (the same) */
	uint32_t stale_k;	/* the silence bound for the next round: the
				   caller hands it to heat_set_stale */

	struct policy_scratch *scratch;	/* policy.c's work space, sized by cap */
};

/*
 * Allocate arrays for up to cap items each, and the work space (about
 * 32 bytes per item plus 1.5 MiB).  0, -EINVAL (cap 0) or -ENOMEM.
 */
int policy_plan_init(struct plan *p, size_t cap);
void policy_plan_free(struct plan *p);

/*
 * Compute a plan.  Items are bounded by p->cap each (and by max_bytes);
 * whatever does not fit waits for the next round.  Returns 0, or -EINVAL
 * for impossible parameters: fast_mask and slow_mask overlapping,
 * now_tick 0, min_residence >= 32768, p not initialized (budget 0 is
 * valid: demote everything).
 */
int policy_plan(const struct heat *h, const struct policy_params *pp,
    struct plan *p);

struct agent_config;

/*
 * The parameters of one round as the agent runs it, from its settings:
 * agent/main.c and vtier-sim both build them here, so the simulator
 * measures what ships.  budget is the effective budget, headroom the
 * round's (headroom_bytes: the configured one, or with headroom = auto
 * the one the creep asks for), fast_used what the fast nodes hold now,
 * tick the round's tick and tokens what the migration rate limit allows
 * this round (UINT64_MAX: no limit).
 *
 * Watermarks: promotions fill to budget - headroom; forced demotion
 * starts at budget - headroom/2 (pp->budget) and goes back down to
 * budget - headroom.  Memory the agent does not manage (page tables,
 * caches, other processes) creeps up between rounds; the half headroom
 * absorbs that creep before it crosses the budget.
 */
void policy_params_for_round(struct policy_params *pp,
    const struct agent_config *cfg, uint64_t budget, uint64_t headroom,
    uint64_t fast_used, uint64_t fast_mask, uint64_t slow_mask, uint16_t tick,
    uint64_t tokens);

/*
 * Samples a page must be expected to have for npages 4 KiB moves to pay
 * ("Paying for a move" in policy.c): break_even accesses per page moved,
 * a sample standing for sample_period accesses, rounded up, at most
 * HEAT_COUNT_MAX.  The PEBS and IBS samplers raise their period to stay
 * in their CPU budget (perf_ring_period_next); with the configured one
 * this asks for as many samples or more.
 */
uint32_t policy_pay_samples(const struct agent_config *cfg, uint64_t npages);

/* Bytes a round may add to the fast nodes: budget - headroom - fast_used. */
int64_t policy_room(uint64_t budget, uint64_t headroom, uint64_t fast_used);

/*
 * The fast usage above which a round demotes by force: budget -
 * headroom/2 (policy_params_for_round's pp->budget).  The loop's budget
 * watch and the round's adoption wake test against it too.
 */
uint64_t policy_demote_mark(uint64_t budget, uint64_t headroom);

/*
 * The heat clock (cooling = auto): counts halve every
 * POLICY_COOLING_SAMPLES samples per 4 KiB page of the budget, not on a
 * wall clock.  How many samples it takes to tell a page in the hot set
 * from one just outside grows with the number of pages competing for the
 * budget, and a clock of samples does not age anything while the sample
 * stream stalls (a starved workload, a throttled sampler), so silence is
 * measured in samples the page missed, not in seconds.  The price: with
 * pages sampled less than about once a second that memory is tens of
 * seconds long, and a hot set that moves is followed slowly (the TCG
 * guest's restart scenario), so the default is a duration (the wall
 * clock).  Either period is POLICY_STEADY_X times as long while the last
 * plan read steady (plan.steady).  Called every round: the budget, the
 * regime and, after a reload, the setting can change.
 */
#define POLICY_COOLING_SAMPLES	12
#define POLICY_STEADY_X		2
void policy_heat_clock(struct heat *h, const struct agent_config *cfg,
    uint64_t budget, bool steady);
/* heat_create for these settings, its clock set (0 or -errno). */
int policy_heat_create(struct heat **hp, const struct agent_config *cfg,
    uint64_t budget);

/*
 * Whether a round is due at now_ns, the last one at last_ns (0: none
 * yet), for a heat table of nslots slots; quick: the last plan saw the
 * hot set move (plan.moving) or fast usage over the budget
 * (plan.over_budget).  Rounds come every interval, but a round passes
 * over every slot (the table grows with the pages tracked: 21/16 to 8/3
 * slots per page), so rounds are also spaced per slot: when quick,
 * POLICY_ROUND_NS_PER_SLOT apart (1M tracked pages plan about every
 * 0.7 s; at the ~20 ns per slot a round costs, POLICY_SLOT_COST_NS,
 * that is near 4% of one CPU), otherwise ten times as far,
 * POLICY_ROUND_NS_PER_SLOT_SETTLED (about 0.4%; 1M pages every 7 s).  A
 * few thousand pages plan every interval either way.  Where the hot set
 * stays, a round finds what the last one found, give or take a few
 * pages; where it moves, how soon a round follows is what the policy
 * wins or loses (make eval, vtier alone: spacing every round 5 us per
 * slot cost 0.0072 / 0.0083 / 0.0030 of geomean hit/oracle at 12.5 / 25
 * / 50%, spacing only the settled ones 0.0010 / 0.0003 / 0.0000, no trace
 * more than 0.0065; bench_agent at 20k samples/s: 4.4 rounds a second
 * instead of 20).  Over the budget the operator's limit is not met, and
 * rounds keep the quick pace until it is.  Half an interval of timer
 * jitter is allowed for.
 *
 * early_cost_ns: 0 for the timer's rounds.  Otherwise samples just
 * showed a page the last plan would now promote (plan.promote_bar,
 * watched by heat_set_watch), and early_cost_ns is what the last round
 * took (at least 1 ns): its worker's time, not the wait for the worker
 * thread to wake (round.h work_ns).  Such an early round may come as soon
 * as interval / POLICY_EARLY_DIV after the last one, but no sooner than
 * the per-slot spacing and POLICY_EARLY_COST_X times the last round's
 * cost (at most about 1/200 of the time goes to them): a page that turns
 * hot waits for the next batch of samples, not for the timer, and the
 * sampler's own wake-ups carry it.  Only while the per-slot spacing is
 * below half an interval: beyond, the timer's rounds already come as
 * often as the CPU bound allows, and early ones would only add planning.
 * 1/200, not 1/20 as before: at 20k samples/s three rounds in five were
 * early ones (bench_agent: a trickle of cold samples bringing pages into
 * free room), and make eval's hit ratios moved by 0.0001 at most when
 * early rounds were kept 5 us per slot apart, ten times the timer's
 * spacing: the timer's rounds catch what they would, a little later.
 * interval / 50 (1 ms), not / 5 as before: on a small table the cost
 * bound is the tighter one (2,048 slots: about 60 us of work, 12 ms),
 * and where a new page turns hot every 50 ms and takes a quarter of the
 * samples (sqlite3's pattern), the 10 ms floor cost hits that the 1/200
 * bound alone does not: make eval, vtier alone, +0.0068 / +0.0058 /
 * +0.0039 of hit/oracle on sqlite3 at 12.5 / 25 / 50% and up to +0.048
 * on the LLC traces, no other trace moved; interval / 500 moves nothing
 * more.  bench_agent
 * with BENCH_AGENT_PATTERN=fresh at 20k/s: 803-948 early rounds in 15 s
 * against 603-719, the round worker 0.31-0.38% of a CPU against
 * 0.26-0.28%.  Until then the cost also held the wait for the worker
 * thread to wake, 40 of the 100 us such a round took on a 2-CPU
 * machine, which spaced early rounds 20 ms apart.
 */
#define POLICY_ROUND_NS_PER_SLOT	500
#define POLICY_ROUND_NS_PER_SLOT_SETTLED	5000
#define POLICY_EARLY_DIV		50
#define POLICY_EARLY_COST_X		200
/* A round's cost per slot, plan and placement query (make bench): the
 * simulator's stand-in for the last round's worker time.  The agent took
 * 29 ns a slot on a 2,048-slot table (bench_agent, fresh pattern); 29
 * here moves make eval by 0.0001 at most. */
#define POLICY_SLOT_COST_NS		20
bool policy_round_due(const struct agent_config *cfg, uint64_t last_ns,
    uint64_t now_ns, size_t nslots, bool quick, uint64_t early_cost_ns);
/*
 * Whether the samples since the last plan p show a shock (policy.c
 * "Shock"): the whole hot set moved, seen before any page has fallen
 * silent for long.  The loop checks it at each read of the sampler and
 * plans at once, whatever the spacing of rounds; the round that plans
 * then takes the hot set as moving.  Only while the regime reads settled;
 * pure, on the table's counters since the last plan (h not owned by a
 * round elsewhere).
 */
bool policy_shock_now(const struct plan *p, const struct heat *h);

/*
 * Whether samples could start an early round (policy_round_due with an
 * early_cost_ns) before the next timer round: the last plan watches for
 * a page (promote_bar at most HEAT_COUNT_MAX) and the per-slot spacing
 * of a table of nslots slots is below half an interval.  Neither changes
 * between rounds but for the timer's housekeeping (heat_advance, pids
 * that exit), so while it is false the samples have no use before the
 * next tick, and the agent reads them then (main.c, sampler holds).
 */
bool policy_early_possible(const struct agent_config *cfg, size_t nslots,
    bool quick, uint32_t promote_bar);
/* policy_round_due's quick for the rounds after plan p. */
bool policy_pace_quick(const struct plan *p);

#endif
