/*
 * compact.h - compact a fast node when its free memory lies in pieces
 * too small to report to the host.
 *
 * Free page reporting (reporting.h) returns only free blocks of
 * page_reporting_order (2 MiB).  vacate.c demotes whole blocks, but what
 * else allocates meanwhile (the agent itself, short-lived processes,
 * page tables) takes the pages freed last, in the blocks being emptied,
 * and a few such pages keep a 2 MiB block from being reported.  The
 * kernel's compaction (/sys/devices/system/node/nodeN/compact: a full,
 * synchronous compaction of the node) moves movable pages together and
 * leaves the free ones in whole blocks.
 *
 * Every COMPACT_LOOK_NS at most, a node is compacted when its free
 * memory in pieces below the
 * reporting order (from /proc/buddyinfo; the DMA zone is left out: it
 * is smaller than the free memory reporting needs, 32 blocks above the
 * low watermark, and is never reported) is at least COMPACT_MIN_BYTES,
 * and at most once every COMPACT_SPACING_NS; a compaction that gained
 * less than a quarter of what it was called for doubles the node's
 * spacing (up to COMPACT_SPACING_MAX_NS: unmovable pages are in the
 * way), a fruitful one resets it, and so does COMPACT_MIN_BYTES more in
 * small pieces than the last compaction left (a budget shrink's
 * demotions: new free memory to join).
 *
 * The round's, on the worker thread (the write blocks while the kernel
 * compacts).  It writes nothing but the compact files.
 */
#ifndef VTIER_AGENT_COMPACT_H
#define VTIER_AGENT_COMPACT_H

#include <stddef.h>
#include <stdint.h>

#define COMPACT_LOOK_NS		1000000000ULL	/* buddyinfo read at most */
#define COMPACT_MIN_BYTES	(8ULL << 20)
#define COMPACT_SPACING_NS	(5ULL * 1000000000ULL)
#define COMPACT_SPACING_MAX_NS	(80ULL * 1000000000ULL)

struct compactor;

struct compact_stats {
	uint64_t runs;		/* compactions asked for */
	uint64_t ns;		/* time they took, in all */
	uint64_t max_ns;	/* the longest */
	uint64_t gained;	/* bytes they made reportable, in all */
	uint64_t unreportable;	/* fast nodes' free bytes in small pieces,
				   at the last look */
};

/* sysfs and procfs roots ("/sys", "/proc").  0 or -ENOMEM. */
int compact_create(struct compactor **cp, const char *sysfs,
    const char *procfs);
void compact_destroy(struct compactor *c);

/*
 * Look at the fast nodes of fast_mask for free page reporting of order
 * (0..10) at now (ns), and compact those that need it.  Returns the nodes
 * compacted (>= 0) or -errno when buddyinfo cannot be read.
 */
int compact_step(struct compactor *c, uint64_t fast_mask, int order,
    uint64_t now);

const struct compact_stats *compact_stats(const struct compactor *c);

/*
 * Free bytes in pieces below order on each node of mask, from the text
 * of /proc/buddyinfo (DMA zones left out) into out[node] (nodes 0..63).
 * Lines that do not parse are skipped.  Pure: tested and fuzzed.
 */
void compact_parse_buddyinfo(const char *text, uint64_t mask, int order,
    uint64_t out[64]);

#endif
