/*
 * migrate_int.h - private to migrate.c and migrate_sim.c: the migrator
 * itself and the table of operations a backend provides.
 */
#ifndef VTIER_AGENT_MIGRATE_INT_H
#define VTIER_AGENT_MIGRATE_INT_H

#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "migrate.h"
#include "policy.h"

struct topo;

/*
 * status[] starts as this before every call: the kernel leaves the
 * status of pages it gave up on unwritten (see migrate.c), so "still
 * unset" is how the caller finds them.
 */
#define MIGRATE_ST_UNSET INT_MIN

struct migrate_ops {
	const char *name;
	/* Set up m->be.  0 or -errno. */
	int (*open)(struct migrator *m, const struct topo *t);
	void (*close)(struct migrator *m);
	/*
	 * move_pages(2) for one process: n addresses, all to nodes[i], or
	 * nodes NULL to ask where they are.  npages[i] is how many base
	 * pages the caller believes pages[i] spans (1, or 512 for a THP):
	 * the kernel knows this itself, the sim needs telling.  Returns the
	 * number of pages not migrated (>= 0; their status may be left
	 * unset) or -errno when the whole call failed.
	 */
	long (*move)(struct migrator *m, uint32_t pid, size_t n, void **pages,
	    const uint32_t *npages, const int *nodes, int *status);
	/* Bytes on fast nodes, or -ENOTSUP. */
	int (*fast_used)(const struct migrator *m, uint64_t *bytes);
};

extern const struct migrate_ops migrate_sim_ops;

struct migrator {
	const struct migrate_ops *ops;
	enum migrate_backend backend;
	void *be;			/* backend state */

	uint32_t pages_per_call;
	struct tbucket tb;
	struct migrate_stats st;

	/* Copied from the topology at open and on every execute. */
	uint64_t online_mask;
	uint64_t fast_mask;
	uint64_t slow_mask;

	/* Set: end the round before the next call (migrate_set_cancel). */
	const atomic_bool *cancel;
	/* No call starts after this time (0: none; migrate_set_deadline). */
	uint64_t deadline_ns;

	/* Where migrate_query's scan of the heat slots resumes. */
	size_t query_hand;

	/* Scratch, grown on demand, kept between rounds. */
	struct plan_item *items;	/* taken items, by pid, in plan order */
	size_t items_cap;
	uint64_t *order;		/* pid << 32 | plan index, to sort them */
	size_t order_cap;
	void **pages;			/* one call's worth (pages_per_call) */
	uint32_t *npages;
	int *nodes;
	int *status;
	int *where;			/* what a verifying query said */
	size_t call_cap;
	uint32_t *skip;			/* pids skipped for the rest of a round */
	size_t nskip, skip_cap;
};

#endif
