/*
 * topo.h - NUMA topology from sysfs: which nodes are fast (DRAM, have
 * CPUs) and which are slow (memory-only: how CXL memory appears), and
 * how much memory each holds and uses.
 *
 * The sysfs root is a parameter so tests run against fixture trees
 * (tests/fixtures/topo-*); production passes "/sys".
 */
#ifndef VTIER_AGENT_TOPO_H
#define VTIER_AGENT_TOPO_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOPO_MAX_NODES 64

struct topo_node {
	int id;
	bool online;		/* listed in node/online and its dir exists */
	bool has_cpu;		/* nodeN/cpulist not empty */
	uint64_t total;		/* MemTotal, bytes */
	uint64_t free;		/* MemFree, bytes */
	uint64_t used;		/* MemUsed (or total - free), bytes */
};

struct topo {
	char root[PATH_MAX];	/* "/sys" or a fixture tree */
	struct topo_node node[TOPO_MAX_NODES];	/* indexed by node id */
	uint64_t online_mask;
	uint64_t fast_mask;	/* nodes the budget applies to */
	uint64_t slow_mask;	/* where demoted pages go */
};

/*
 * Read root/devices/system/node/{online,nodeN/cpulist,nodeN/meminfo}.
 * fast/slow: masks from the config, 0 = auto (fast = nodes with CPUs,
 * slow = online nodes without).  Fails with -ENOENT if sysfs has no node
 * directory, -EINVAL if the overrides name offline nodes or overlap, or
 * if there is no fast node.  A topology with no slow node is valid (the
 * agent then has nothing to tier and says so).
 */
int topo_load(struct topo *t, const char *root, uint64_t fast, uint64_t slow);

/* Re-read every online node's meminfo (total/free/used). 0 or -errno. */
int topo_refresh(struct topo *t);

/* Sums over fast_mask. */
uint64_t topo_fast_used(const struct topo *t);
uint64_t topo_fast_total(const struct topo *t);

/* The node in mask with the most free memory, or -1 if mask is empty. */
int topo_pick(const struct topo *t, uint64_t mask);

/* Number of nodes in a mask. */
int topo_count(uint64_t mask);

/* A guest-physical address range: [start, start + size). */
struct topo_range {
	uint64_t start, size;
};

/*
 * The guest-physical ranges of node's online memory, from
 * root/devices/system/memory (block_size_bytes; each memoryN's
 * phys_index, state and nodeK link), contiguous blocks merged, in
 * address order.  Returns the number of ranges, -ENOSPC if there are
 * more than max (r may be NULL to count only), -ENOENT if sysfs has no
 * memory blocks, -EINVAL for a node id out of range.  For the pre-fault
 * handshake: the ranges that can hold the PEBS buffers.
 */
int topo_node_ranges(const struct topo *t, int node, struct topo_range *r,
    size_t max);

#endif
