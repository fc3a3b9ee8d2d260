/*
 * pfset.c - the set of guest-physical ranges the agent asks the host
 * shim to pin (see pfset.h).  First choice: exactly the DS areas and
 * PEBS buffers (dsarea.c); the fallback: the fast nodes' memory blocks
 * from sysfs (topo.c), where the kernel allocates the buffers (on the
 * CPU's node, dsalloc_pages), with the step that failed in one log line.
 * It decides and logs; it never talks to the shim.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "pfset.h"

void
pfset_free(struct pfset *s)
{
	free(s->r);
	memset(s, 0, sizeof(*s));
}

const char *
pfset_scope_name(const struct pfset *s)
{
	if (s->fast_node)
		return "fast-node";
	return s->n > 0 ? "pebs-buffers" : "none";
}

/* The fast nodes' memory blocks, contiguous ones merged, up to max. */
static int
fast_ranges(struct pfset *s, const struct topo *t, size_t max)
{
	struct topo_range *tr = NULL;
	size_t cap = 0;
	int rc = 0;

	for (int node = 0; node < TOPO_MAX_NODES; node++) {
		int k;

		if (!(t->fast_mask & (1ULL << node)))
			continue;
		if ((k = topo_node_ranges(t, node, NULL, 0)) < 0) {
			log_warnx("pre-fault: ranges of node %d: %s", node,
			    strerror(-k));
			continue;
		}
		if (k == 0)
			continue;
		if ((size_t)k > cap) {
			struct topo_range *p = realloc(tr, (size_t)k * sizeof(*p));

			if (p == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			tr = p;
			cap = (size_t)k;
		}
		if ((k = topo_node_ranges(t, node, tr, cap)) < 0) {
			log_warnx("pre-fault: ranges of node %d: %s", node,
			    strerror(-k));
			continue;
		}
		for (int i = 0; i < k; i++) {
			struct proto_range *p;

			if (s->n == max) {
				log_warnx("pre-fault: more than %zu ranges of "
				    "fast memory: the rest is not asked for",
				    max);
				goto out;
			}
			if ((p = realloc(s->r, (s->n + 1) * sizeof(*p))) == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			s->r = p;
			s->r[s->n++] = (struct proto_range){ tr[i].start,
			    tr[i].size };
			s->bytes += tr[i].size;
		}
	}
out:
	free(tr);
	return rc;
}

int
pfset_build(struct pfset *s, const struct topo *t,
    const struct dsarea_paths *paths, size_t max_ranges)
{
	struct dsarea_set ds;
	struct dsarea_err e;
	char b[32];
	int rc;

	pfset_free(s);
	if (dsarea_discover(paths, &ds, &e) == 0 && ds.n > max_ranges) {
		e.why = PROTO_PF_WHY_RANGES;
		snprintf(e.msg, sizeof(e.msg), "%zu ranges, and the shim takes "
		    "%zu in one PREFAULT (it does not offer "
		    "PROTO_CAP_PREFAULT_PARTS)", ds.n, max_ranges);
		dsarea_set_free(&ds);
	} else if (e.why == PROTO_PF_WHY_NONE) {
		s->r = ds.r;
		s->n = ds.n;
		s->bytes = ds.bytes;
		s->ncpus = ds.ncpus;
		s->nbuffers = ds.nbuffers;
		format_size(s->bytes, b, sizeof(b));
		log_info("pre-fault: the PEBS buffers are %zu range%s, %s (the "
		    "DS areas of %u CPUs, %u PEBS buffer%s allocated)", s->n,
		    s->n == 1 ? "" : "s", b, s->ncpus, s->nbuffers,
		    s->nbuffers == 1 ? "" : "s");
		return 0;
	}
	s->fast_node = true;
	s->why = e.why;
	snprintf(s->msg, sizeof(s->msg), "%s: %s",
	    proto_pf_reason_name(e.why), e.msg);
	if ((rc = fast_ranges(s, t, max_ranges)) < 0)
		log_warnx("pre-fault: fast-node ranges: %s", strerror(-rc));
	format_size(s->bytes, b, sizeof(b));
	log_warnx("pre-fault: PEBS buffers not found (%s): asking for the fast "
	    "nodes' memory instead, %zu range%s, %s", s->msg, s->n,
	    s->n == 1 ? "" : "s", b);
	return s->n > 0 ? 0 : -ENOENT;
}
