/*
 * pace.c - the spacing of the agent's sampler reads against its CPU
 * budget (see pace.h).  Pure arithmetic on the times it is handed.
 */
#include "vtier/util.h"
#include "pace.h"

void
pace_woke(struct pace *p, uint64_t gap_ns)
{
	/* an eighth of each new gap: one late wake-up moves it little */
	p->wake_gap_ns = p->wake_gap_ns == 0 ? gap_ns :
	    p->wake_gap_ns - p->wake_gap_ns / 8 + gap_ns / 8;
}

uint64_t
pace_charge(struct pace_charge *c, uint64_t loop_ns, uint64_t proc_ns,
    uint64_t wall_ns, double budget)
{
	uint64_t loop, other, take;

	if (c->wall_ns != 0 && wall_ns > c->wall_ns && loop_ns >= c->loop_ns &&
	    proc_ns >= c->proc_ns) {
		loop = loop_ns - c->loop_ns;
		other = proc_ns - c->proc_ns > loop ? proc_ns - c->proc_ns - loop :
		    0;
		take = other;
		if (budget > 0) {
			double credit = (double)c->credit_ns + budget / 2 *
			    (double)(wall_ns - c->wall_ns);
			double cap = budget / 2 * (double)PACE_WINDOW_NS;

			c->credit_ns = (uint64_t)MIN(credit, cap);
			take = MIN(other, c->credit_ns);
			c->credit_ns -= take;
		}
		c->charged_ns += loop + take;
	}
	c->loop_ns = loop_ns;
	c->proc_ns = proc_ns;
	c->wall_ns = wall_ns;
	return c->charged_ns;
}

uint64_t
pace_read(struct pace *p, uint64_t now_ns)
{
	uint64_t last = p->read_ns;

	p->read_ns = now_ns;
	if (p->space_ns != 0)
		return now_ns + p->space_ns;
	if (last != 0 && now_ns > last)
		pace_woke(p, now_ns - last);
	return 0;
}

/* The least spacing worth an alarm: it skips at least one wake-up. */
static uint64_t
least_space(const struct pace *p)
{
	return MAX(2 * p->wake_gap_ns, PACE_MIN_NS);
}

bool
pace_tick(struct pace *p, uint64_t cpu_ns, uint64_t wall_ns, double budget,
    uint64_t cap_ns)
{
	uint64_t old = p->space_ns, next = old;
	double f;

	p->window_ended = false;
	if (p->wall_ns == 0 || wall_ns < p->wall_ns || cpu_ns < p->cpu_ns) {
		p->cpu_ns = cpu_ns;
		p->wall_ns = wall_ns;
		return false;
	}
	if (wall_ns - p->wall_ns < PACE_WINDOW_NS)
		return false;
	p->frac = (double)(cpu_ns - p->cpu_ns) / (double)(wall_ns - p->wall_ns);
	p->cpu_ns = cpu_ns;
	p->wall_ns = wall_ns;
	p->window_ended = true;
	if (budget <= 0)
		return false;
	if (p->frac > budget) {
		f = p->frac / budget;
		f = f < PACE_STEP ? PACE_STEP : f > 2 ? 2 : f;
		if (old == 0)
			next = least_space(p);
		else if ((double)old * f >= (double)cap_ns)
			next = cap_ns;
		else
			next = (uint64_t)((double)old * f);
		next = MIN(next, cap_ns);
	} else if (p->frac < budget * PACE_LOW && old > 0) {
		next = (uint64_t)((double)old / PACE_STEP);
		if (next < least_space(p))
			next = 0;
	}
	p->space_ns = next;
	return next != old;
}
