/*
 * compact.c - compaction of fast nodes for free page reporting (see
 * compact.h).
 *
 * /proc/buddyinfo: one line per zone, "Node N, zone NAME c0 c1 ... c10",
 * ck the free blocks of order k (mm/vmstat.c, frag_show_print).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "compact.h"

#define PAGE		4096ULL
#define MAX_ORDERS	16

struct node_state {
	uint64_t last_ns;	/* last compaction (0: never) */
	uint64_t spacing_ns;	/* until the next may come */
	uint64_t left;		/* bytes in small pieces it left */
};

struct compactor {
	char sysfs[256], procfs[256];
	uint64_t look_ns;	/* last read of buddyinfo (0: never) */
	char buf[16384];
	struct node_state node[64];
	struct compact_stats st;
};

int
compact_create(struct compactor **cp, const char *sysfs, const char *procfs)
{
	struct compactor *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	snprintf(c->sysfs, sizeof(c->sysfs), "%s", sysfs);
	snprintf(c->procfs, sizeof(c->procfs), "%s", procfs);
	for (int i = 0; i < 64; i++)
		c->node[i].spacing_ns = COMPACT_SPACING_NS;
	*cp = c;
	return 0;
}

void
compact_destroy(struct compactor *c)
{
	free(c);
}

const struct compact_stats *
compact_stats(const struct compactor *c)
{
	return &c->st;
}

/*
 * One line: "Node N, zone NAME c0 c1 ...".  Adds the free bytes of
 * orders below order to out[N] unless N is not in mask or NAME is DMA.
 */
static void
parse_line(const char *l, size_t len, uint64_t mask, int order,
    uint64_t out[64])
{
	char line[512], zone[32], *p, *end;
	unsigned long node;
	int n;

	if (len >= sizeof(line))
		return;
	memcpy(line, l, len);
	line[len] = '\0';
	if (sscanf(line, "Node %lu, zone %31s %n", &node, zone, &n) != 2 ||
	    node >= 64 || !(mask >> node & 1) || strcmp(zone, "DMA") == 0)
		return;
	p = line + n;
	for (int k = 0; k < order && k < MAX_ORDERS; k++) {
		unsigned long long c;

		errno = 0;
		c = strtoull(p, &end, 10);
		if (end == p || errno != 0 || c > (1ULL << 40))
			return;
		out[node] += (uint64_t)c * (PAGE << k);
		p = end;
	}
}

void
compact_parse_buddyinfo(const char *text, uint64_t mask, int order,
    uint64_t out[64])
{
	const char *p = text, *nl;

	memset(out, 0, 64 * sizeof(*out));
	while (*p != '\0') {
		nl = strchr(p, '\n');
		parse_line(p, nl ? (size_t)(nl - p) : strlen(p), mask, order,
		    out);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

static int
read_unreportable(struct compactor *c, uint64_t mask, int order,
    uint64_t out[64])
{
	char path[300];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/buddyinfo", c->procfs);
	if ((n = read_file(path, c->buf, sizeof(c->buf))) < 0)
		return (int)n;
	compact_parse_buddyinfo(c->buf, mask, order, out);
	return 0;
}

/* Compact one node: 0 or -errno. */
static int
compact_node(struct compactor *c, int node)
{
	char path[300];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/devices/system/node/node%d/compact",
	    c->sysfs, node);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (write_all(fd, "1\n", 2) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int
compact_step(struct compactor *c, uint64_t fast_mask, int order,
    uint64_t now)
{
	uint64_t before[64], after[64], total = 0;
	int rc, done = 0;

	if (order <= 0 || order >= MAX_ORDERS ||
	    (c->look_ns != 0 && now - c->look_ns < COMPACT_LOOK_NS))
		return 0;
	c->look_ns = now;
	if ((rc = read_unreportable(c, fast_mask, order, before)) < 0)
		return rc;
	for (int i = 0; i < 64; i++)
		total += before[i];
	c->st.unreportable = total;
	for (int i = 0; i < 64; i++) {
		struct node_state *ns = &c->node[i];
		uint64_t t, took, gain, spacing = ns->spacing_ns;

		/* what demotions freed since the last one: a fresh chance */
		if (before[i] >= ns->left + COMPACT_MIN_BYTES)
			spacing = COMPACT_SPACING_NS;
		if (!(fast_mask >> i & 1) || before[i] < COMPACT_MIN_BYTES ||
		    (ns->last_ns != 0 && now - ns->last_ns < spacing))
			continue;
		t = now_ns();
		if ((rc = compact_node(c, i)) < 0) {
			log_warn("compact node %d", i);
			ns->last_ns = now;
			ns->spacing_ns = COMPACT_SPACING_MAX_NS;
			continue;
		}
		took = now_ns() - t;
		ns->last_ns = now;
		done++;
		c->st.runs++;
		c->st.ns += took;
		c->st.max_ns = MAX(c->st.max_ns, took);
		ns->left = before[i];
		if (read_unreportable(c, 1ULL << i, order, after) < 0)
			continue;
		ns->left = after[i];
		gain = before[i] > after[i] ? before[i] - after[i] : 0;
		c->st.gained += gain;
		c->st.unreportable -= MIN(c->st.unreportable, gain);
		/* little gained: unmovable pages are in the way; wait longer */
		ns->spacing_ns = gain * 4 >= before[i] ? COMPACT_SPACING_NS :
		    MIN(ns->spacing_ns * 2, COMPACT_SPACING_MAX_NS);
		log_debug("compact node %d: %llu ms, free in pieces below "
		    "order %d: %llu -> %llu KiB", i,
		    (unsigned long long)(took / 1000000), order,
		    (unsigned long long)(before[i] >> 10),
		    (unsigned long long)(after[i] >> 10));
	}
	return done;
}
