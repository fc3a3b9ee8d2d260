/*
 * test_compact.c - compact.c's reading of /proc/buddyinfo: free memory
 * in pieces below the reporting order per node of a mask, the DMA zone
 * left out, zones of a node added, junk lines skipped, and a compaction
 * step on a fixture tree: a node with enough small free pieces has its
 * compact file written, one with few does not, and the spacing holds
 * off the next, unless more free memory in small pieces came since.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compact.h"
#include "../test.h"

#define KiB 1024ULL
#define SEC 1000000000ULL

static const char *info =
    "Node 0, zone      DMA      1      1      1      0      2      1      1      0      1      1      3 \n"
    "Node 0, zone    DMA32    372    220    120     44     20      6      2      1      0      1     10 \n"
    "Node 0, zone   Normal   1000      0      0      0      0      0      0      0      0      0      0 \n"
    "Node 1, zone   Normal   3071   1700    830    341    121     35      9      3      1      0    200 \n"
    "garbage line\n"
    "Node 2, zone   Normal   x 1 2\n";

static void
test_parse(void)
{
	uint64_t out[64];
	uint64_t n0 = (372 + 1000) * 4 + 220 * 8 + 120 * 16 + 44 * 32 +
	    20 * 64 + 6 * 128 + 2 * 256 + 1 * 512 + 0 * 1024;

	compact_parse_buddyinfo(info, 0x3, 9, out);
	ASSERT_EQ_U(out[0], n0 * KiB);
	ASSERT_EQ_U(out[1], (3071ULL * 4 + 1700 * 8 + 830 * 16 + 341 * 32 +
	    121 * 64 + 35 * 128 + 9 * 256 + 3 * 512 + 1 * 1024) * KiB);
	ASSERT_EQ_U(out[2], 0);
	/* only node 1 asked for; order 1: the 4 KiB pieces only */
	compact_parse_buddyinfo(info, 0x2, 1, out);
	ASSERT_EQ_U(out[0], 0);
	ASSERT_EQ_U(out[1], 3071ULL * 4 * KiB);
	/* order 0: nothing is too small */
	compact_parse_buddyinfo(info, 0x3, 0, out);
	ASSERT_EQ_U(out[0] + out[1], 0);
	/* a line cut short counts what it has, up to the cut */
	compact_parse_buddyinfo("Node 1, zone Normal 10 1", 0x2, 9, out);
	ASSERT_EQ_U(out[1], 48 * KiB);
}

static char root[64];

static void
put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

static long
size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) < 0 ? -1 : (long)st.st_size;
}

static void
test_step(void)
{
	struct compactor *c;
	char p0[160], p1[160], bi[160], cmd[256];
	uint64_t t = 100 * SEC;

	snprintf(root, sizeof(root), "/tmp/vtier-test-cmp.XXXXXX");
	ASSERT_TRUE(mkdtemp(root) != NULL);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/devices/system/node/node0 "
	    "%s/devices/system/node/node1", root, root);
	ASSERT_EQ(system(cmd), 0);
	snprintf(p0, sizeof(p0), "%s/devices/system/node/node0/compact", root);
	snprintf(p1, sizeof(p1), "%s/devices/system/node/node1/compact", root);
	snprintf(bi, sizeof(bi), "%s/buddyinfo", root);
	put(p0, "");
	put(p1, "");
	/* node 0: ~9 MiB in small pieces; node 1: 12 KiB */
	put(bi, "Node 0, zone Normal 2304 0 0 0 0 0 0 0 0 0 0\n"
	    "Node 1, zone Normal 3 0 0 0 0 0 0 0 0 0 0\n");
	ASSERT_EQ(compact_create(&c, root, root), 0);
	ASSERT_EQ(compact_step(c, 0x3, 9, t), 1);
	ASSERT_EQ(size_of(p0), 2);	/* "1\n" */
	ASSERT_EQ(size_of(p1), 0);
	ASSERT_EQ_U(compact_stats(c)->runs, 1);
	/* not again before COMPACT_LOOK_NS, nor before the node's spacing */
	put(p0, "");
	ASSERT_EQ(compact_step(c, 0x3, 9, t + 1), 0);
	ASSERT_EQ(compact_step(c, 0x3, 9, t + COMPACT_LOOK_NS), 0);
	ASSERT_EQ(size_of(p0), 0);
	/* nothing was gained (the fixture does not change): the spacing
	 * doubled, so COMPACT_SPACING_NS later is still too early */
	ASSERT_EQ(compact_step(c, 0x3, 9, t + COMPACT_SPACING_NS), 0);
	ASSERT_EQ(compact_step(c, 0x3, 9, t + 2 * COMPACT_SPACING_NS), 1);
	ASSERT_EQ(size_of(p0), 2);
	/* spacing doubled again; but 8 MiB more in small pieces than the
	 * last compaction left (a budget shrink's demotions) is a fresh
	 * chance at the base spacing */
	put(p0, "");
	ASSERT_EQ(compact_step(c, 0x3, 9, t + 3 * COMPACT_SPACING_NS), 0);
	put(bi, "Node 0, zone Normal 4608 0 0 0 0 0 0 0 0 0 0\n");
	ASSERT_EQ(compact_step(c, 0x3, 9, t + 3 * COMPACT_SPACING_NS +
	    COMPACT_LOOK_NS), 1);
	ASSERT_EQ(size_of(p0), 2);
	/* not a fast node: never */
	put(p0, "");
	ASSERT_EQ(compact_step(c, 0x2, 9, t + 100 * SEC), 0);
	ASSERT_EQ(size_of(p0), 0);
	compact_destroy(c);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	ASSERT_EQ(system(cmd), 0);
}

int
main(void)
{
	RUN_TEST(test_parse);
	RUN_TEST(test_step);
	TEST_EXIT();
}
