/*
 * llc.c - a last-level cache model for vtier-sim lackey --llc: set
 * associative, 64-byte lines, least recently used replacement within a
 * set, a line's set its line number modulo the number of sets.  It says
 * whether an access hit; it never reads or writes a trace.
 *
 * What it stands for: PEBS samples retired loads that missed the L3
 * (MEM_LOAD_RETIRED.L3_MISS, the event vtier uses, probe.c), so a
 * tiering policy only ever sees the accesses the caches did not absorb.
 * Real LLCs hash addresses over slices and do not quite do LRU; the
 * model is the textbook cache, which is enough to take the cache hits
 * out of an access stream.
 *
 * Each set keeps its tags most recently used first (line number + 1, 0
 * for an empty way), so a lookup is a scan of at most `ways` words and
 * an update a memmove within the set.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtier/util.h"
#include "sim.h"

struct sim_llc {
	uint64_t nsets;
	unsigned ways;
	uint64_t *tag;		/* nsets * ways, most recent first per set */
	uint64_t accesses, misses;
};

int
sim_llc_create(struct sim_llc **cp, uint64_t size, unsigned ways)
{
	struct sim_llc *c;
	uint64_t lines = size / SIM_LLC_LINE;

	*cp = NULL;
	if (ways == 0 || ways > SIM_LLC_WAYS_MAX || size % SIM_LLC_LINE != 0 ||
	    lines == 0 || lines % ways != 0 || lines > SIM_LLC_LINES_MAX)
		return -EINVAL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	c->ways = ways;
	c->nsets = lines / ways;
	if ((c->tag = calloc(lines, sizeof(*c->tag))) == NULL) {
		free(c);
		return -ENOMEM;
	}
	*cp = c;
	return 0;
}

void
sim_llc_free(struct sim_llc *c)
{
	if (c == NULL)
		return;
	free(c->tag);
	free(c);
}

bool
sim_llc_access(struct sim_llc *c, uint64_t addr)
{
	uint64_t line = addr / SIM_LLC_LINE, want = line + 1;
	uint64_t *set = c->tag + (line % c->nsets) * c->ways;
	bool hit;
	unsigned i;

	c->accesses++;
	for (i = 0; i < c->ways && set[i] != want; i++)
		;
	if (!(hit = i < c->ways)) {	/* the least recent way makes room */
		c->misses++;
		i = c->ways - 1;
	}
	memmove(set + 1, set, i * sizeof(*set));
	set[0] = want;
	return hit;
}

void
sim_llc_stats(const struct sim_llc *c, uint64_t *accesses, uint64_t *misses)
{
	*accesses = c->accesses;
	*misses = c->misses;
}

int
sim_llc_parse(const char *spec, uint64_t *size, unsigned *ways)
{
	char buf[64], *comma;
	uint64_t w = SIM_LLC_WAYS_DEFAULT;

	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", spec);
	if ((comma = strchr(buf, ',')) != NULL) {
		*comma = '\0';
		if (parse_u64(comma + 1, &w) < 0 || w == 0 ||
		    w > SIM_LLC_WAYS_MAX)
			return -EINVAL;
	}
	if (parse_size(buf, size) < 0 || *size == 0 ||
	    *size % (SIM_LLC_LINE * w) != 0 ||
	    *size / SIM_LLC_LINE > SIM_LLC_LINES_MAX)
		return -EINVAL;
	*ways = (unsigned)w;
	return 0;
}
