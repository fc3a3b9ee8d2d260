/*
 * pfset.h - what the agent asks the host shim to pin before PEBS is
 * enabled: exactly the PEBS buffers when dsarea.c finds them, else the
 * fast nodes' memory (topo.c), which holds them too, with the reason.
 */
#ifndef VTIER_AGENT_PFSET_H
#define VTIER_AGENT_PFSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vtier/proto.h"
#include "dsarea.h"
#include "topo.h"

struct pfset {
	struct proto_range *r;		/* sorted, disjoint, page aligned */
	size_t n;
	uint64_t bytes;
	bool fast_node;			/* the fallback, not the buffers */
	uint16_t why;			/* its PROTO_PF_WHY_*, else 0 */
	char msg[320];			/* and the sentence, else "" */
	unsigned ncpus, nbuffers;	/* what dsarea found */
};

/*
 * Build s (freed first): the PEBS buffers (paths: NULL for the real
 * files), or the fast nodes' ranges when discovery fails or when it
 * found more ranges than max_ranges (a shim that takes one PREFAULT).
 * Logs one line saying which and, for the fallback, why.  0, or -ENOENT
 * when there is nothing to ask for (s->n == 0, logged).
 */
int pfset_build(struct pfset *s, const struct topo *t,
    const struct dsarea_paths *paths, size_t max_ranges);
void pfset_free(struct pfset *s);
/* "pebs-buffers", "fast-node", or "none" before anything was built. */
const char *pfset_scope_name(const struct pfset *s);

#endif
