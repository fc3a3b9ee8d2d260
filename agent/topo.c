/*
 * topo.c - the NUMA topology from sysfs: which nodes are online, which
 * have CPUs (fast: DRAM) and which have none (slow: how CXL memory shows
 * up in a guest), each node's memory use, and each node's guest-physical
 * ranges (memory blocks) for the pre-fault handshake.
 *
 * Everything is read under a root directory, "/sys" in production and a
 * fixture tree in tests.  topo_load() builds the whole picture in a local
 * struct and copies it out only on success, so a failed reload keeps the
 * caller's topology.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "topo.h"

#define NODE_DIR	"devices/system/node"
#define MEMORY_DIR	"devices/system/memory"
#define MEMINFO_MAX	8192	/* a node's meminfo is about 1.3 KiB */
#define SYSFS_TEXT_MAX	4097	/* a sysfs attribute is at most a page */

/* snprintf into a path buffer; -ENAMETOOLONG instead of truncating. */
static int __attribute__((format(printf, 3, 4)))
path_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* Read a small sysfs file and strip the trailing newline and blanks. */
static int
read_trimmed(const char *path, char *buf, size_t len)
{
	ssize_t n = read_file(path, buf, len);

	if (n < 0)
		return (int)n;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' ||
	    buf[n - 1] == '\t'))
		buf[--n] = '\0';
	return (int)n;
}

/*
 * nodeN/meminfo, e.g.
 *
 *     Node 0 MemTotal:       16303856 kB
 *     Node 0 MemFree:        14925448 kB
 *     Node 0 MemUsed:         1378408 kB
 *     ...
 *     Node 0 HugePages_Total:     0
 *
 * Each line is "Node", the node id, "Key:", a number and, for sizes,
 * "kB".  Only MemTotal and MemFree are required; MemUsed, when the kernel
 * does not print it, is total - free.  Those three must carry the node's
 * own id and "kB"; every other line is skipped unread, so new keys in
 * later kernels change nothing.  kB values become bytes, checked for
 * overflow.
 */
static int
parse_meminfo(const char *text, int node, struct topo_node *n)
{
	static const char *const want[] = { "MemTotal:", "MemFree:",
	    "MemUsed:" };
	uint64_t val[3];
	bool seen[3] = { false, false, false };
	const char *line = text;

	while (*line != '\0') {
		char copy[128], *tok[6], *save = NULL, *s;
		size_t len = strcspn(line, "\n");
		int ntok = 0, k;
		uint64_t id, v;

		if (len < sizeof(copy)) {
			memcpy(copy, line, len);
			copy[len] = '\0';
			for (s = strtok_r(copy, " \t", &save); s != NULL &&
			    ntok < 6; s = strtok_r(NULL, " \t", &save))
				tok[ntok++] = s;
		}
		line += len + (line[len] == '\n');
		if (ntok < 3 || strcmp(tok[0], "Node") != 0)
			continue;
		for (k = 0; k < 3; k++)
			if (strcmp(tok[2], want[k]) == 0)
				break;
		if (k == 3)
			continue;
		if (ntok != 5 || strcmp(tok[4], "kB") != 0 ||
		    parse_u64(tok[1], &id) < 0 || id != (uint64_t)node ||
		    parse_u64(tok[3], &v) < 0 || seen[k])
			return -EINVAL;
		if (v > UINT64_MAX / 1024)
			return -ERANGE;
		val[k] = v * 1024;
		seen[k] = true;
	}
	if (!seen[0] || !seen[1] || val[1] > val[0])
		return -EINVAL;
	n->total = val[0];
	n->free = val[1];
	n->used = seen[2] ? val[2] : val[0] - val[1];
	return 0;
}

static int
read_meminfo(const char *root, int node, struct topo_node *n)
{
	char path[PATH_MAX], *buf;
	ssize_t len;
	int rc;

	if ((rc = path_fmt(path, sizeof(path), "%s/" NODE_DIR "/node%d/meminfo",
	    root, node)) < 0)
		return rc;
	if ((buf = malloc(MEMINFO_MAX)) == NULL)
		return -ENOMEM;
	if ((len = read_file(path, buf, MEMINFO_MAX)) < 0) {
		rc = (int)len;
		log_warnx("topo: %s: %s", path, strerror(-rc));
		goto err;
	}
	if ((rc = parse_meminfo(buf, node, n)) < 0) {
		log_warnx("topo: %s: no valid MemTotal/MemFree lines for "
		    "node %d", path, node);
		goto err;
	}
	free(buf);
	return 0;
err:
	free(buf);
	return rc;
}

/*
 * One online node: its directory must exist (a node listed online whose
 * directory is missing is not used), its cpulist says whether it has
 * CPUs (an empty or blank list: memory-only), its meminfo the sizes.
 * Returns 1 if the node is usable, 0 if its directory is missing.
 */
static int
read_node(const char *root, int node, struct topo_node *n)
{
	char path[PATH_MAX], buf[SYSFS_TEXT_MAX];
	struct stat st;
	int rc;

	if ((rc = path_fmt(path, sizeof(path), "%s/" NODE_DIR "/node%d", root,
	    node)) < 0)
		return rc;
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_warnx("topo: node %d is listed online but %s is missing; "
		    "not using it", node, path);
		return 0;
	}
	if ((rc = path_fmt(path, sizeof(path), "%s/" NODE_DIR
	    "/node%d/cpulist", root, node)) < 0)
		return rc;
	if ((rc = read_trimmed(path, buf, sizeof(buf))) < 0) {
		log_warnx("topo: %s: %s", path, strerror(-rc));
		return rc;
	}
	n->id = node;
	n->has_cpu = buf[strspn(buf, " \t\n")] != '\0';
	if ((rc = read_meminfo(root, node, n)) < 0)
		return rc;
	n->online = true;
	return 1;
}

int
topo_count(uint64_t mask)
{
	return __builtin_popcountll(mask);
}

/*
 * Fast and slow tiers.  "auto" (a zero mask) means nodes with CPUs for
 * fast and online nodes without CPUs for slow, each leaving out the nodes
 * the other list names explicitly.  Explicit lists must name online
 * nodes and not overlap; there must be at least one fast node.
 */
static int
classify(struct topo *t, uint64_t fast, uint64_t slow)
{
	uint64_t cpu = 0;
	char a[256], b[256];

	for (int i = 0; i < TOPO_MAX_NODES; i++)
		if (t->node[i].online && t->node[i].has_cpu)
			cpu |= 1ULL << i;
	format_nodelist(t->online_mask, b, sizeof(b));
	if (fast & ~t->online_mask) {
		format_nodelist(fast & ~t->online_mask, a, sizeof(a));
		log_warnx("topo: fast node(s) %s not online (online: %s)", a,
		    b);
		return -EINVAL;
	}
	if (slow & ~t->online_mask) {
		format_nodelist(slow & ~t->online_mask, a, sizeof(a));
		log_warnx("topo: slow node(s) %s not online (online: %s)", a,
		    b);
		return -EINVAL;
	}
	if (fast & slow) {
		format_nodelist(fast & slow, a, sizeof(a));
		log_warnx("topo: node(s) %s both fast and slow", a);
		return -EINVAL;
	}
	t->fast_mask = fast ? fast : cpu & ~slow;
	t->slow_mask = slow ? slow : t->online_mask & ~cpu & ~t->fast_mask;
	if (t->fast_mask == 0) {
		log_warnx("topo: no fast node (online: %s; none with CPUs)", b);
		return -EINVAL;
	}
	return 0;
}

int
topo_load(struct topo *t, const char *root, uint64_t fast, uint64_t slow)
{
	struct topo *nt;
	char path[PATH_MAX], buf[SYSFS_TEXT_MAX];
	uint64_t listed;
	int rc;

	if ((nt = calloc(1, sizeof(*nt))) == NULL)
		return -ENOMEM;
	if ((rc = path_fmt(nt->root, sizeof(nt->root), "%s", root)) < 0 ||
	    (rc = path_fmt(path, sizeof(path), "%s/" NODE_DIR "/online",
	    root)) < 0)
		goto err;
	for (int i = 0; i < TOPO_MAX_NODES; i++)
		nt->node[i].id = i;

	/* node/online: "0-1", the kernel's list format */
	if ((rc = read_trimmed(path, buf, sizeof(buf))) < 0) {
		if (rc != -ENOENT)
			log_warnx("topo: %s: %s", path, strerror(-rc));
		goto err;
	}
	if ((rc = parse_nodelist(buf, &listed)) < 0) {
		log_warnx("topo: %s: cannot parse \"%s\" (node ids 0 to %d)",
		    path, buf, TOPO_MAX_NODES - 1);
		goto err;
	}
	for (int i = 0; i < TOPO_MAX_NODES; i++) {
		if (!(listed & (1ULL << i)))
			continue;
		if ((rc = read_node(root, i, &nt->node[i])) < 0)
			goto err;
		if (rc == 1)
			nt->online_mask |= 1ULL << i;
	}
	if ((rc = classify(nt, fast, slow)) < 0)
		goto err;
	memcpy(t, nt, sizeof(*t));
	free(nt);
	return 0;
err:
	free(nt);
	return rc;
}

int
topo_refresh(struct topo *t)
{
	struct topo_node fresh[TOPO_MAX_NODES];
	int rc;

	for (int i = 0; i < TOPO_MAX_NODES; i++) {
		if (!(t->online_mask & (1ULL << i)))
			continue;
		fresh[i] = t->node[i];
		if ((rc = read_meminfo(t->root, i, &fresh[i])) < 0)
			return rc;
	}
	/* all or nothing: never half an update */
	for (int i = 0; i < TOPO_MAX_NODES; i++)
		if (t->online_mask & (1ULL << i))
			t->node[i] = fresh[i];
	return 0;
}

uint64_t
topo_fast_used(const struct topo *t)
{
	uint64_t sum = 0;

	for (int i = 0; i < TOPO_MAX_NODES; i++)
		if (t->fast_mask & (1ULL << i))
			sum += t->node[i].used;
	return sum;
}

uint64_t
topo_fast_total(const struct topo *t)
{
	uint64_t sum = 0;

	for (int i = 0; i < TOPO_MAX_NODES; i++)
		if (t->fast_mask & (1ULL << i))
			sum += t->node[i].total;
	return sum;
}

/* Offline nodes in the mask are never picked; ties go to the lowest id. */
int
topo_pick(const struct topo *t, uint64_t mask)
{
	int best = -1;

	for (int i = 0; i < TOPO_MAX_NODES; i++) {
		if (!(mask & (1ULL << i)) || !t->node[i].online)
			continue;
		if (best < 0 || t->node[i].free > t->node[best].free)
			best = i;
	}
	return best;
}

/*
 * One devices/system/memory/memoryN directory: is it an online block of
 * node?  Membership is the memoryN/node<K> entry (a symlink in sysfs, a
 * plain directory in some fixtures), looked at without following it.
 * phys_index is the block number in hex.  Returns 1 and sets *index for
 * an online block of node, 0 for any other block, or -errno.
 */
static int
read_block(const char *dir, const char *name, int node, uint64_t *index)
{
	char path[PATH_MAX], buf[64];
	struct stat st;
	int rc;

	if ((rc = path_fmt(path, sizeof(path), "%s/%s/node%d", dir, name,
	    node)) < 0)
		return rc;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if ((rc = path_fmt(path, sizeof(path), "%s/%s/state", dir, name)) < 0)
		return rc;
	if ((rc = read_trimmed(path, buf, sizeof(buf))) < 0)
		return rc;
	if (strcmp(buf, "online") != 0)
		return 0;
	if ((rc = path_fmt(path, sizeof(path), "%s/%s/phys_index", dir,
	    name)) < 0)
		return rc;
	if ((rc = read_trimmed(path, buf, sizeof(buf))) < 0)
		return rc;
	if ((rc = parse_hex_u64(buf, index)) < 0)
		return rc;
	return 1;
}

/* "memory" followed by digits only (not memory_tiering and the like). */
static bool
is_block_name(const char *name)
{
	if (strncmp(name, "memory", 6) != 0 || name[6] == '\0')
		return false;
	return strspn(name + 6, "0123456789") == strlen(name + 6);
}

/*
 * Memory blocks: block_size_bytes is the block size in hex ("8000000" =
 * 128 MiB); block N covers [N * size, (N + 1) * size).  The node's
 * online blocks are gathered (in directory order), sorted, and runs of
 * consecutive block numbers merged into ranges.
 */
int
topo_node_ranges(const struct topo *t, int node, struct topo_range *r,
    size_t max)
{
	char dir[PATH_MAX], path[PATH_MAX], buf[64];
	uint64_t bs, *idx = NULL, limit;
	size_t n = 0, cap = 0, nr = 0;
	struct dirent *de;
	DIR *d = NULL;
	int rc;

	if (node < 0 || node >= TOPO_MAX_NODES)
		return -EINVAL;
	if ((rc = path_fmt(dir, sizeof(dir), "%s/" MEMORY_DIR, t->root)) < 0 ||
	    (rc = path_fmt(path, sizeof(path), "%s/block_size_bytes", dir)) < 0)
		return rc;
	if ((rc = read_trimmed(path, buf, sizeof(buf))) < 0)
		return rc;
	if ((rc = parse_hex_u64(buf, &bs)) < 0)
		return rc;
	if (bs == 0)
		return -EINVAL;
	limit = UINT64_MAX / bs;	/* block numbers whose end fits */
	if ((d = opendir(dir)) == NULL)
		return -errno;
	while ((errno = 0, de = readdir(d)) != NULL) {
		uint64_t i;

		if (!is_block_name(de->d_name))
			continue;
		if ((rc = read_block(dir, de->d_name, node, &i)) < 0)
			goto err;
		if (rc == 0)
			continue;
		if (i >= limit) {
			rc = -ERANGE;
			goto err;
		}
		if (n == cap) {
			uint64_t *grown;

			cap = cap ? cap * 2 : 64;
			if ((grown = realloc(idx, cap * sizeof(*idx))) == NULL) {
				rc = -ENOMEM;
				goto err;
			}
			idx = grown;
		}
		idx[n++] = i;
	}
	if (errno != 0) {
		rc = -errno;
		goto err;
	}
	closedir(d);
	d = NULL;

	if (n > 0)
		qsort(idx, n, sizeof(*idx), cmp_u64);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && idx[i] == idx[i - 1])
			continue;	/* a block seen twice: count it once */
		if (i > 0 && idx[i] == idx[i - 1] + 1) {
			if (r != NULL)
				r[nr - 1].size += bs;
			continue;
		}
		if (r != NULL && nr == max) {
			rc = -ENOSPC;
			goto err;
		}
		if (r != NULL) {
			r[nr].start = idx[i] * bs;
			r[nr].size = bs;
		}
		nr++;
	}
	free(idx);
	return (int)nr;
err:
	if (d != NULL)
		closedir(d);
	free(idx);
	return rc;
}
