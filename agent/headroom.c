/*
 * headroom.c - the headroom that follows the creep (see headroom.h).
 * Owns the creep measurement and the auto headroom; never reads a
 * file or a clock, never moves a page (the round's watermarks take its
 * figure: policy_params_for_round, policy_room).
 */
#include <math.h>
#include <string.h>

#include "vtier/util.h"
#include "config.h"
#include "headroom.h"

#define PAGE	4096ULL

void
headroom_init(struct headroom *h)
{
	memset(h, 0, sizeof(*h));
}

uint64_t
headroom_peak(const struct headroom *h, uint64_t now_ns)
{
	uint64_t dt = now_ns > h->peak_ns ? now_ns - h->peak_ns : 0;

	if (h->peak == 0)
		return 0;
	if (dt >= 64 * HEADROOM_HALF_LIFE_NS)
		return 0;
	return (uint64_t)((double)h->peak *
	    exp2(-(double)dt / (double)HEADROOM_HALF_LIFE_NS));
}

/* The most headroom = auto keeps under budget. */
static uint64_t
auto_cap(uint64_t budget)
{
	return MIN(HEADROOM_AUTO_MAX, budget / HEADROOM_AUTO_SHARE) / PAGE *
	    PAGE;
}

void
headroom_round(struct headroom *h, uint64_t budget, uint64_t used_start,
    uint64_t used_after, uint64_t now_ns)
{
	uint64_t creep = 0, p;

	if (h->have_after && used_start > h->last_after)
		creep = used_start - h->last_after;
	h->last_creep = creep;
	h->last_after = used_after;
	h->have_after = true;
	/* a burst counts as the most a headroom could absorb */
	creep = MIN(creep, auto_cap(budget) / 2);
	p = headroom_peak(h, now_ns);
	if (creep >= p) {
		h->peak = creep;
		h->peak_ns = now_ns;
	}
}

uint64_t
headroom_bytes(const struct headroom *h, const struct agent_config *cfg,
    uint64_t budget, uint64_t now_ns)
{
	uint64_t cap = auto_cap(budget), v;

	if (cfg->headroom != CONFIG_HEADROOM_AUTO)
		return cfg->headroom;
	if ((v = headroom_peak(h, now_ns)) >= cap / 2)
		return cap;
	return MIN((2 * v + PAGE - 1) / PAGE * PAGE, cap);
}
