/*
 * test_topo.c - topology from sysfs: the 2-, 3- and 4-node fixture trees
 * (tests/fixtures/topo-*), tier overrides, topo_pick, memory-block ranges,
 * odd trees built on the fly (blank cpulist, no MemUsed, a node listed
 * but missing, offline and unordered blocks), and this machine's /sys.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "topo.h"
#include "../test.h"

#define KB 1024ULL

static const char *
fixture(const char *name)
{
	static char path[PATH_MAX];
	const char *src = getenv("SRC");

	snprintf(path, sizeof(path), "%s/tests/fixtures/%s",
	    src != NULL && *src != '\0' ? src : ".", name);
	return path;
}

/* ---- temporary sysfs trees ---- */

static char tmproot[64];

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

static void
tree_remove(void)
{
	if (tmproot[0] != '\0')
		nftw(tmproot, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	tmproot[0] = '\0';
}

static int
tree_new(void)
{
	tree_remove();
	snprintf(tmproot, sizeof(tmproot), "/tmp/vtier-test-topo.XXXXXX");
	return mkdtemp(tmproot) != NULL ? 0 : -errno;
}

/* Create tmproot/REL (parents too) with the given contents. */
static int __attribute__((format(printf, 2, 3)))
tree_file(const char *text, const char *fmt, ...)
{
	char path[PATH_MAX], *p;
	va_list ap;
	FILE *f;

	p = path + snprintf(path, sizeof(path), "%s/", tmproot);
	va_start(ap, fmt);
	vsnprintf(p, sizeof(path) - (size_t)(p - path), fmt, ap);
	va_end(ap);
	for (p = strchr(p, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (text == NULL)	/* a directory */
		return mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
	if ((f = fopen(path, "w")) == NULL)
		return -errno;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -errno;
}

static int
tree_meminfo(int node, uint64_t total_kb, uint64_t free_kb, bool with_used)
{
	char text[512];
	int n;

	n = snprintf(text, sizeof(text),
	    "Node %d MemTotal:       %8llu kB\n"
	    "Node %d MemFree:        %8llu kB\n", node,
	    (unsigned long long)total_kb, node, (unsigned long long)free_kb);
	if (with_used)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
		    "Node %d MemUsed:        %8llu kB\n", node,
		    (unsigned long long)(total_kb - free_kb));
	snprintf(text + n, sizeof(text) - (size_t)n,
	    "Node %d Active:               0 kB\n"
	    "Node %d HugePages_Total:     0\n", node, node);
	return tree_file(text, "devices/system/node/node%d/meminfo", node);
}

/* ---- the fixtures ---- */

static void
test_2node(void)
{
	struct topo t;

	ASSERT_EQ(topo_load(&t, fixture("topo-2node"), 0, 0), 0);
	ASSERT_STREQ(t.root, fixture("topo-2node"));
	ASSERT_EQ_U(t.online_mask, 0x3);
	ASSERT_EQ_U(t.fast_mask, 0x1);
	ASSERT_EQ_U(t.slow_mask, 0x2);
	ASSERT_TRUE(t.node[0].online && t.node[0].has_cpu);
	ASSERT_TRUE(t.node[1].online && !t.node[1].has_cpu);
	ASSERT_TRUE(!t.node[2].online);
	ASSERT_EQ(t.node[1].id, 1);
	ASSERT_EQ_U(t.node[0].total, 478412 * KB);
	ASSERT_EQ_U(t.node[0].free, 402644 * KB);
	ASSERT_EQ_U(t.node[0].used, 75768 * KB);
	ASSERT_EQ_U(t.node[1].total, 1031168 * KB);
	ASSERT_EQ_U(t.node[1].free, 1019280 * KB);
	ASSERT_EQ_U(t.node[1].used, 11888 * KB);
	ASSERT_EQ_U(topo_fast_total(&t), 478412 * KB);
	ASSERT_EQ_U(topo_fast_used(&t), 75768 * KB);
	ASSERT_EQ(topo_pick(&t, t.fast_mask), 0);
	ASSERT_EQ(topo_pick(&t, t.slow_mask), 1);
	ASSERT_EQ(topo_pick(&t, 0x3), 1);	/* node 1 has more free */
	ASSERT_EQ(topo_pick(&t, 0), -1);
	ASSERT_EQ(topo_pick(&t, 0x4), -1);	/* offline only */
	ASSERT_EQ(topo_count(t.online_mask), 2);
	ASSERT_EQ(topo_count(0), 0);
	ASSERT_EQ(topo_count(~0ULL), 64);
	ASSERT_EQ(topo_refresh(&t), 0);
	ASSERT_EQ_U(t.node[1].used, 11888 * KB);
}

/* Two DRAM nodes with CPUs and one CXL node. */
static void
test_3node(void)
{
	struct topo t;

	ASSERT_EQ(topo_load(&t, fixture("topo-3node"), 0, 0), 0);
	ASSERT_EQ_U(t.online_mask, 0x7);
	ASSERT_EQ_U(t.fast_mask, 0x3);
	ASSERT_EQ_U(t.slow_mask, 0x4);
	ASSERT_EQ_U(topo_fast_total(&t), (8131200 + 8257536) * KB);
	ASSERT_EQ_U(topo_fast_used(&t), (2888320 + 917504) * KB);
	ASSERT_EQ_U(t.node[2].used, 262144 * KB);
	ASSERT_EQ(topo_pick(&t, t.fast_mask), 1);
	ASSERT_EQ(topo_pick(&t, t.slow_mask), 2);
	ASSERT_EQ(topo_count(t.fast_mask), 2);

	/* only node 0 is budgeted: node 1 is then neither fast nor slow */
	ASSERT_EQ(topo_load(&t, fixture("topo-3node"), 0x1, 0), 0);
	ASSERT_EQ_U(t.fast_mask, 0x1);
	ASSERT_EQ_U(t.slow_mask, 0x4);
	ASSERT_EQ_U(topo_fast_used(&t), 2888320 * KB);
}

/* Two nodes with CPUs, two memory-only nodes; overrides. */
static void
test_4node(void)
{
	struct topo t, before;
	const char *root = fixture("topo-4node");

	ASSERT_EQ(topo_load(&t, root, 0, 0), 0);
	ASSERT_EQ_U(t.online_mask, 0xf);
	ASSERT_EQ_U(t.fast_mask, 0x3);
	ASSERT_EQ_U(t.slow_mask, 0xc);
	ASSERT_EQ_U(topo_fast_total(&t), (3997696 + 4128768) * KB);
	ASSERT_EQ_U(topo_fast_used(&t), (2949120 + 983040) * KB);
	ASSERT_EQ(topo_pick(&t, t.slow_mask), 3);
	ASSERT_EQ(topo_pick(&t, t.fast_mask), 1);
	ASSERT_EQ(topo_pick(&t, 0xf), 3);

	/* valid overrides */
	ASSERT_EQ(topo_load(&t, root, 0, 0x8), 0);
	ASSERT_EQ_U(t.fast_mask, 0x3);
	ASSERT_EQ_U(t.slow_mask, 0x8);
	ASSERT_EQ(topo_load(&t, root, 0x1, 0x2), 0);	/* a CPU node as slow */
	ASSERT_EQ_U(t.fast_mask, 0x1);
	ASSERT_EQ_U(t.slow_mask, 0x2);
	ASSERT_EQ(topo_load(&t, root, 0x0, 0x2), 0);	/* fast auto leaves it */
	ASSERT_EQ_U(t.fast_mask, 0x1);
	ASSERT_EQ_U(t.slow_mask, 0x2);
	ASSERT_EQ(topo_load(&t, root, 0x7, 0), 0);	/* CXL node as fast */
	ASSERT_EQ_U(t.fast_mask, 0x7);
	ASSERT_EQ_U(t.slow_mask, 0x8);
	ASSERT_EQ(topo_load(&t, root, 0x3, 0xc), 0);
	ASSERT_EQ_U(t.fast_mask, 0x3);
	ASSERT_EQ_U(t.slow_mask, 0xc);

	/* bad overrides fail and leave the caller's topology alone */
	before = t;
	ASSERT_EQ(topo_load(&t, root, 0x3, 0x6), -EINVAL);	/* overlap */
	ASSERT_EQ(topo_load(&t, root, 0x11, 0), -EINVAL);	/* node 4 offline */
	ASSERT_EQ(topo_load(&t, root, 0, 1ULL << 63), -EINVAL);
	ASSERT_EQ(topo_load(&t, root, 0, 0x3), -EINVAL);	/* no fast left */
	ASSERT_TRUE(memcmp(&t, &before, sizeof(t)) == 0);
}

static void
test_ranges_2node(void)
{
	struct topo t;
	struct topo_range r[4];

	ASSERT_EQ(topo_load(&t, fixture("topo-2node"), 0, 0), 0);
	ASSERT_EQ(topo_node_ranges(&t, 0, r, ARRAY_SIZE(r)), 1);
	ASSERT_EQ_U(r[0].start, 0);
	ASSERT_EQ_U(r[0].size, 512 * MiB);
	ASSERT_EQ(topo_node_ranges(&t, 1, r, ARRAY_SIZE(r)), 1);
	ASSERT_EQ_U(r[0].start, 512 * MiB);
	ASSERT_EQ_U(r[0].size, GiB);
	ASSERT_EQ(topo_node_ranges(&t, 1, NULL, 0), 1);	/* count only */
	ASSERT_EQ(topo_node_ranges(&t, 1, r, 0), -ENOSPC);
	ASSERT_EQ(topo_node_ranges(&t, 2, r, ARRAY_SIZE(r)), 0);
	ASSERT_EQ(topo_node_ranges(&t, -1, r, ARRAY_SIZE(r)), -EINVAL);
	ASSERT_EQ(topo_node_ranges(&t, TOPO_MAX_NODES, r, ARRAY_SIZE(r)),
	    -EINVAL);

	/* the 3-node fixture has no memory blocks */
	ASSERT_EQ(topo_load(&t, fixture("topo-3node"), 0, 0), 0);
	ASSERT_EQ(topo_node_ranges(&t, 0, r, ARRAY_SIZE(r)), -ENOENT);
}

static void
test_missing(void)
{
	struct topo t;

	memset(&t, 0x5a, sizeof(t));
	ASSERT_EQ(topo_load(&t, "/nonexistent", 0, 0), -ENOENT);
	ASSERT_EQ(topo_load(&t, fixture("ini"), 0, 0), -ENOENT);
	ASSERT_EQ(t.online_mask, 0x5a5a5a5a5a5a5a5aLL);
}

/* ---- trees built here ---- */

static void
test_odd_tree(void)
{
	struct topo t;
	struct topo_range r[8];
	int rc;

	ASSERT_EQ(tree_new(), 0);
	ASSERT_EQ(tree_file("0-2\n", "devices/system/node/online"), 0);
	/* node 0: blank cpulist = memory-only, meminfo without MemUsed */
	ASSERT_EQ(tree_file(" \t\n", "devices/system/node/node0/cpulist"), 0);
	ASSERT_EQ(tree_meminfo(0, 2048, 1024, false), 0);
	/* node 1: CPUs; node 2: listed online, directory missing */
	ASSERT_EQ(tree_file("0-3,8\n", "devices/system/node/node1/cpulist"), 0);
	ASSERT_EQ(tree_meminfo(1, 4096, 1000, true), 0);
	ASSERT_EQ(topo_load(&t, tmproot, 0, 0), 0);
	ASSERT_EQ_U(t.online_mask, 0x3);
	ASSERT_EQ_U(t.fast_mask, 0x2);
	ASSERT_EQ_U(t.slow_mask, 0x1);
	ASSERT_EQ_U(t.node[0].used, 1024 * KB);
	ASSERT_EQ_U(t.node[1].used, 3096 * KB);
	ASSERT_EQ(topo_load(&t, tmproot, 0x4, 0), -EINVAL);

	/* refresh sees new numbers, and a broken meminfo changes nothing */
	ASSERT_EQ(tree_meminfo(1, 4096, 96, true), 0);
	ASSERT_EQ(topo_refresh(&t), 0);
	ASSERT_EQ_U(topo_fast_used(&t), 4000 * KB);
	ASSERT_EQ(tree_meminfo(0, 2048, 2000, false), 0);
	ASSERT_EQ(tree_file("Node 1 MemTotal: 4096\n",
	    "devices/system/node/node1/meminfo"), 0);
	ASSERT_EQ(topo_refresh(&t), -EINVAL);
	ASSERT_EQ_U(t.node[0].free, 1024 * KB);
	ASSERT_EQ_U(topo_fast_used(&t), 4000 * KB);

	/* bad meminfo variants: wrong node id, missing MemFree, junk */
	ASSERT_EQ(tree_file("Node 0 MemTotal: 4096 kB\nNode 0 MemFree: 1 kB\n",
	    "devices/system/node/node1/meminfo"), 0);
	ASSERT_EQ(topo_load(&t, tmproot, 0, 0), -EINVAL);
	ASSERT_EQ(tree_file("Node 1 MemTotal: 4096 kB\n",
	    "devices/system/node/node1/meminfo"), 0);
	ASSERT_EQ(topo_load(&t, tmproot, 0, 0), -EINVAL);
	ASSERT_EQ(tree_file("Node 1 MemTotal: 4096 kB\nNode 1 MemFree: 1 kB "
	    "extra\n", "devices/system/node/node1/meminfo"), 0);
	ASSERT_EQ(topo_load(&t, tmproot, 0, 0), -EINVAL);
	ASSERT_EQ(tree_file("Node 1 MemTotal: 18014398509481984 kB\n"
	    "Node 1 MemFree: 1 kB\n", "devices/system/node/node1/meminfo"), 0);
	ASSERT_EQ(topo_load(&t, tmproot, 0, 0), -ERANGE);

	/* no node with CPUs: no fast node */
	ASSERT_EQ(tree_meminfo(1, 4096, 1000, true), 0);
	ASSERT_EQ(tree_file("\n", "devices/system/node/node1/cpulist"), 0);
	ASSERT_EQ(topo_load(&t, tmproot, 0, 0), -EINVAL);
	ASSERT_EQ(topo_load(&t, tmproot, 0x2, 0), 0);	/* unless told */
	ASSERT_EQ_U(t.slow_mask, 0x1);

	/* a bad online list */
	ASSERT_EQ(tree_file("0-64\n", "devices/system/node/online"), 0);
	ASSERT_TRUE(topo_load(&t, tmproot, 0, 0) < 0);
	ASSERT_EQ(tree_file("0-2\n", "devices/system/node/online"), 0);

	/*
	 * Memory blocks of 1 MiB: node 0 owns 5, 1, 2, 7 (created out of
	 * order, 7 linked by a plain directory) and 3 (offline); node 1
	 * owns 0.  So node 0 is [1M, 3M) + [5M, 6M) + [7M, 8M).
	 */
	ASSERT_EQ(tree_file("100000\n", "devices/system/memory/block_size_bytes"),
	    0);
	{
		static const struct { int block, node; const char *state; }
		    b[] = {
			{ 5, 0, "online" }, { 1, 0, "online" },
			{ 2, 0, "online" }, { 7, 0, "online" },
			{ 3, 0, "offline" }, { 0, 1, "online" },
		};

		for (size_t i = 0; i < ARRAY_SIZE(b); i++) {
			char txt[32], link[PATH_MAX];

			snprintf(txt, sizeof(txt), "%08x\n", b[i].block);
			ASSERT_EQ(tree_file(txt, "devices/system/memory/"
			    "memory%d/phys_index", b[i].block), 0);
			snprintf(txt, sizeof(txt), "%s\n", b[i].state);
			ASSERT_EQ(tree_file(txt, "devices/system/memory/"
			    "memory%d/state", b[i].block), 0);
			if (b[i].block == 7) {
				ASSERT_EQ(tree_file(NULL, "devices/system/"
				    "memory/memory7/node0"), 0);
				continue;
			}
			snprintf(link, sizeof(link), "%s/devices/system/memory/"
			    "memory%d/node%d", tmproot, b[i].block, b[i].node);
			snprintf(txt, sizeof(txt), "../../node/node%d",
			    b[i].node);
			ASSERT_EQ(symlink(txt, link), 0);
		}
	}
	/* not blocks: ignored */
	ASSERT_EQ(tree_file("1\n", "devices/system/memory/auto_online_blocks"),
	    0);
	ASSERT_EQ(tree_file(NULL, "devices/system/memory/memory_x"), 0);
	ASSERT_EQ(topo_load(&t, tmproot, 0x2, 0), 0);
	rc = topo_node_ranges(&t, 0, r, ARRAY_SIZE(r));
	ASSERT_EQ(rc, 3);
	ASSERT_EQ_U(r[0].start, 1 * MiB);
	ASSERT_EQ_U(r[0].size, 2 * MiB);
	ASSERT_EQ_U(r[1].start, 5 * MiB);
	ASSERT_EQ_U(r[1].size, 1 * MiB);
	ASSERT_EQ_U(r[2].start, 7 * MiB);
	ASSERT_EQ_U(r[2].size, 1 * MiB);
	ASSERT_EQ(topo_node_ranges(&t, 0, r, 2), -ENOSPC);
	ASSERT_EQ(topo_node_ranges(&t, 0, NULL, 0), 3);
	ASSERT_EQ(topo_node_ranges(&t, 1, r, ARRAY_SIZE(r)), 1);
	ASSERT_EQ_U(r[0].start, 0);
	ASSERT_EQ_U(r[0].size, 1 * MiB);

	/* a bad block */
	ASSERT_EQ(tree_file("zz\n", "devices/system/memory/memory5/phys_index"),
	    0);
	ASSERT_EQ(topo_node_ranges(&t, 0, r, ARRAY_SIZE(r)), -EINVAL);
	ASSERT_EQ(tree_file("0\n", "devices/system/memory/block_size_bytes"),
	    0);
	ASSERT_EQ(topo_node_ranges(&t, 1, r, ARRAY_SIZE(r)), -EINVAL);
	tree_remove();
}

/*
 * This machine's /sys.  The build machine has one node with CPUs and no
 * slow node; elsewhere the checks are what holds for any machine.
 */
static void
test_real_sys(void)
{
	struct topo t;
	struct topo_range r[64];
	char online[256];
	uint64_t mask, sum = 0;
	int rc, n;

	if (read_file("/sys/devices/system/node/online", online,
	    sizeof(online)) < 0) {
		ASSERT_EQ(topo_load(&t, "/sys", 0, 0), -ENOENT);
		return;
	}
	online[strcspn(online, "\n")] = '\0';
	ASSERT_EQ(parse_nodelist(online, &mask), 0);
	rc = topo_load(&t, "/sys", 0, 0);
	ASSERT_EQ(rc, 0);
	ASSERT_EQ_U(t.online_mask, mask);
	if (mask == 0x1) {
		ASSERT_EQ_U(t.fast_mask, 0x1);
		ASSERT_EQ_U(t.slow_mask, 0);
	}
	ASSERT_TRUE(t.fast_mask != 0);
	ASSERT_EQ_U((t.fast_mask | t.slow_mask) & ~t.online_mask, 0);
	ASSERT_EQ_U(t.fast_mask & t.slow_mask, 0);
	ASSERT_TRUE(topo_fast_total(&t) > 0);
	ASSERT_TRUE(topo_fast_used(&t) <= topo_fast_total(&t));
	ASSERT_EQ(topo_refresh(&t), 0);
	ASSERT_TRUE(topo_pick(&t, t.fast_mask) >= 0);

	/* the first fast node's blocks hold at least its MemTotal */
	n = topo_node_ranges(&t, __builtin_ctzll(t.fast_mask), r,
	    ARRAY_SIZE(r));
	if (n == -ENOENT)
		return;		/* no memory hotplug sysfs */
	ASSERT_TRUE(n >= 1);
	for (int i = 0; i < n; i++) {
		sum += r[i].size;
		if (i > 0)
			ASSERT_TRUE(r[i].start > r[i - 1].start + r[i - 1].size);
	}
	ASSERT_TRUE(sum >= t.node[__builtin_ctzll(t.fast_mask)].total);
}

int
main(void)
{
	log_init("test_topo", LOG_LVL_ERR);
	RUN_TEST(test_2node);
	RUN_TEST(test_3node);
	RUN_TEST(test_4node);
	RUN_TEST(test_ranges_2node);
	RUN_TEST(test_missing);
	RUN_TEST(test_odd_tree);
	RUN_TEST(test_real_sys);
	tree_remove();
	TEST_EXIT();
}
