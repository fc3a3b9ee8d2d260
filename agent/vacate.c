/*
 * vacate.c - demotion victims by 2 MiB physical block (see vacate.h).
 *
 * A ranking: the pool's keys, sorted by (pid, key) so that pagemap is
 * read a window of WINDOW pages at a time; each page's frame gives its
 * block (frame >> 9); the pages sorted by (block, key) give each block's
 * pool pages; one kpageflags read per block (512 u64) gives its used
 * pages; the blocks sorted by rank give the order, a list of keys, which
 * the rounds until the next ranking walk with a cursor.
 *
 * The rank of a block: (other used pages, pool pages, block number),
 * smallest first.  Blocks demoting would empty come first (other = 0),
 * the cheapest first; a block already half emptied by an earlier round
 * is cheaper than a full one, so a round finishes what the last began.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "heat.h"
#include "pagemap.h"
#include "policy.h"
#include "vacate.h"

#define BLOCK_SHIFT	(HEAT_THP_SHIFT - HEAT_PAGE_SHIFT)
#define BLOCK_PAGES	(1u << BLOCK_SHIFT)
#define KPF_BUDDY	10	/* include/uapi/linux/kernel-page-flags.h */
#define WINDOW		512	/* pagemap entries per read */
#define BLOCK_BITS	40	/* of the block number in a rank */

struct pent {
	uint64_t block;		/* frame >> BLOCK_SHIFT */
	uint64_t key;
};

struct blk {
	uint64_t rank;		/* other << 52 | pool pages << 40 | block */
	size_t first, n;	/* its pages in ents[] */
};

struct vacate {
	int kpageflags;
	struct pagemap *pm;
	bool off;		/* no frame numbers: said once, nothing more */

	uint64_t *order;	/* the ranking: keys, best first */
	size_t norder, cursor;
	uint64_t refreshed_ns;	/* when it was made (0: never) */

	/* scratch, kept between rankings */
	uint64_t *keys;
	struct pent *ents;
	struct blk *blks;
	size_t keys_cap, ents_cap, blks_cap, order_cap;
	struct plan_item *tail;
	size_t tail_cap;
	uint64_t win[WINDOW];
	uint64_t flags[BLOCK_PAGES];

	struct vacate_stats st;
};

int
vacate_create(struct vacate **vp, const char *procfs)
{
	struct vacate *v;
	char path[300];
	int rc;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/kpageflags", procfs);
	if ((v->kpageflags = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = -errno;
		goto err;
	}
	if ((rc = pagemap_open(&v->pm, procfs)) < 0)
		goto err;
	*vp = v;
	return 0;
err:
	if (v->kpageflags >= 0)
		close(v->kpageflags);
	free(v);
	return rc;
}

void
vacate_destroy(struct vacate *v)
{
	if (v == NULL)
		return;
	pagemap_close(v->pm);
	close(v->kpageflags);
	free(v->order);
	free(v->keys);
	free(v->ents);
	free(v->blks);
	free(v->tail);
	free(v);
}

const struct vacate_stats *
vacate_stats(const struct vacate *v)
{
	return &v->st;
}

/* Room for want elements of size in *p (capacity *cap).  0 or -ENOMEM. */
static int
reserve(void *pp, size_t *cap, size_t want, size_t size)
{
	void **p = pp, *np;

	if (want <= *cap)
		return 0;
	want = MAX(want, *cap * 2);
	if ((np = realloc(*p, want * size)) == NULL)
		return -ENOMEM;
	*p = np;
	*cap = want;
	return 0;
}

static inline uint64_t
key_bytes(uint64_t key)
{
	return (uint64_t)heat_key_npages(key) << HEAT_PAGE_SHIFT;
}

/*
 * In the pool: on a fast node, movable (not pinned), heat 0 with the
 * silence test (what the policy plans with), past min_residence, and
 * none the policy would keep in the order it demotes count 0 by
 * (policy.c "Recency", "Maybe gone"): not maybe gone (the policy orders
 * those with the pages of count 1), and not sampled in the last
 * POLICY_AGE_SWAP epochs (a page whose count restarted at 1 and halved
 * to 0 since, often a live hot page: the policy demotes it last among
 * count 0).  Pages adopted or renormalized at count 0 stay in: their
 * age is no sample's.
 */
static bool
in_pool(const struct heat_entry *e, const struct policy_params *pp,
    uint16_t epoch, uint32_t stale_k)
{
	if (e->key == 0 || (e->flags & HEAT_F_PINNED) || e->node < 0 ||
	    e->node >= 64 || !(pp->fast_mask >> e->node & 1))
		return false;
	if (heat_live_at(e->count, e->epoch, epoch, stale_k) != 0 ||
	    heat_maybe_gone(e->count, e->epoch, epoch, stale_k) ||
	    (e->count != 0 && (uint16_t)(epoch - e->epoch) < POLICY_AGE_SWAP))
		return false;
	return e->moved == HEAT_MOVED_NEVER ||
	    (uint16_t)(pp->now_tick - e->moved) >= pp->min_residence;
}

static int
cmp_pent(const void *a, const void *b)
{
	const struct pent *x = a, *y = b;

	if (x->block != y->block)
		return x->block < y->block ? -1 : 1;
	return cmp_u64(&x->key, &y->key);
}

static int
cmp_blk(const void *a, const void *b)
{
	return cmp_u64(&((const struct blk *)a)->rank,
	    &((const struct blk *)b)->rank);
}

/*
 * The frames of keys[0..n) (sorted) into ents; returns how many are
 * present, or -EPERM when pagemap hides frame numbers.
 */
static long
read_frames(struct vacate *v, size_t n)
{
	size_t ne = 0, i, j;

	for (i = 0; i < n; i = j) {
		uint32_t pid = heat_key_pid(v->keys[i]);
		uint64_t wlo = 1, whi = 0;

		for (j = i; j < n && heat_key_pid(v->keys[j]) == pid; j++)
			;
		for (size_t m = i; m < j; m++) {
			uint64_t vpn = heat_key_addr(v->keys[m]) >> HEAT_PAGE_SHIFT;
			uint64_t pm, last = vpn;

			if (vpn < wlo || vpn >= whi) {
				/* up to the last key this window can serve */
				for (size_t q = m + 1; q < j; q++) {
					uint64_t x = heat_key_addr(v->keys[q]) >>
					    HEAT_PAGE_SHIFT;

					if (x < vpn || x >= vpn + WINDOW)
						break;
					last = x;
				}
				if (pagemap_read(v->pm, pid, vpn << HEAT_PAGE_SHIFT,
				    v->win, last - vpn + 1) < 0)
					break;	/* gone: its pages are not ranked */
				wlo = vpn;
				whi = last + 1;
			}
			pm = v->win[vpn - wlo];
			if (!(pm & PAGEMAP_PRESENT) || (pm & PAGEMAP_SWAPPED))
				continue;
			if ((pm & PAGEMAP_PFN_MASK) == 0)
				return -EPERM;
			v->ents[ne].block = (pm & PAGEMAP_PFN_MASK) >> BLOCK_SHIFT;
			v->ents[ne++].key = v->keys[m];
		}
	}
	return (long)ne;
}

/* Used pages of a block per kpageflags, or -1 if it cannot be read. */
static int
block_used(struct vacate *v, uint64_t block)
{
	int used = 0;

	if (pread(v->kpageflags, v->flags, sizeof(v->flags),
	    (off_t)(block << BLOCK_SHIFT) * 8) != (ssize_t)sizeof(v->flags))
		return -1;
	for (unsigned i = 0; i < BLOCK_PAGES; i++)
		used += v->flags[i] != 0 && !(v->flags[i] & (1ULL << KPF_BUDDY));
	return used;
}

/* Rank the pool (see the top).  0, -EPERM or -ENOMEM. */
static int
refresh(struct vacate *v, struct heat *h, const struct policy_params *pp,
    uint64_t now)
{
	const struct heat_entry *s;
	size_t nslots, n = 0, nb = 0, flagged = 0, i, j;
	uint64_t pool = 0, empty = 0, t = now_ns();
	uint16_t epoch = heat_epoch(h);
	uint32_t k = heat_stale_k(h);
	long ne;

	if (reserve(&v->keys, &v->keys_cap, MIN(heat_size(h) + 1,
	    VACATE_POOL_MAX), sizeof(*v->keys)) < 0)
		return -ENOMEM;
	s = heat_slots(h, &nslots);
	for (i = 0; i < nslots && n < v->keys_cap; i++)
		if (in_pool(&s[i], pp, epoch, k))
			v->keys[n++] = s[i].key;
	qsort(v->keys, n, sizeof(*v->keys), cmp_u64);
	if (reserve(&v->ents, &v->ents_cap, n + 1, sizeof(*v->ents)) < 0)
		return -ENOMEM;
	if ((ne = read_frames(v, n)) < 0)
		return (int)ne;
	qsort(v->ents, (size_t)ne, sizeof(*v->ents), cmp_pent);

	if (reserve(&v->blks, &v->blks_cap, (size_t)ne + 1,
	    sizeof(*v->blks)) < 0 ||
	    reserve(&v->order, &v->order_cap, (size_t)ne + 1,
	    sizeof(*v->order)) < 0)
		return -ENOMEM;
	for (i = 0; i < (size_t)ne; i = j) {
		uint64_t block = v->ents[i].block, pages = 0, other;
		int used = -1;

		for (j = i; j < (size_t)ne && v->ents[j].block == block; j++)
			pages += heat_key_npages(v->ents[j].key);
		pages = MIN(pages, BLOCK_PAGES);
		if (flagged < VACATE_FLAG_BLOCKS) {
			used = block_used(v, block);
			flagged++;
		}
		/* unknown: as if every page not in the pool were used */
		other = used < 0 ? BLOCK_PAGES - pages :
		    (uint64_t)used > pages ? (uint64_t)used - pages : 0;
		empty += other == 0;
		pool += pages;
		v->blks[nb++] = (struct blk){ .first = i, .n = j - i,
		    .rank = other << 52 | pages << BLOCK_BITS |
		    (block & ((1ULL << BLOCK_BITS) - 1)) };
	}
	qsort(v->blks, nb, sizeof(*v->blks), cmp_blk);
	v->norder = 0;
	for (i = 0; i < nb; i++)
		for (j = 0; j < v->blks[i].n; j++)
			v->order[v->norder++] = v->ents[v->blks[i].first + j].key;
	v->cursor = 0;
	v->refreshed_ns = now;
	v->st.refreshes++;
	v->st.pool_pages = pool;
	v->st.blocks = nb;
	v->st.blocks_empty = empty;
	v->st.refresh_last_ns = now_ns() - t;
	v->st.refresh_max_ns = MAX(v->st.refresh_max_ns, v->st.refresh_last_ns);
	return 0;
}

/* Whether key is among the sorted keys[0..n). */
static bool
chosen(const uint64_t *keys, size_t n, uint64_t key)
{
	return bsearch(&key, keys, n, sizeof(*keys), cmp_u64) != NULL;
}

int
vacate_plan(struct vacate *v, struct heat *h, const struct policy_params *pp,
    struct plan *p, uint64_t now_ns)
{
	uint16_t epoch = heat_epoch(h);
	uint32_t sk = heat_stale_k(h);
	uint64_t want = 0, got = 0;
	size_t k, ntail, m = 0, room;
	int rc;

	if (v->off)
		return -EPERM;
	/* the prefix the policy filled with settled heat-0 pages */
	for (k = 0; k < p->ndemote; k++) {
		const struct plan_item *it = &p->demote[k];
		const struct heat_entry *e = heat_lookup(h, it->key);

		if (it->heat != 0 || e == NULL || !in_pool(e, pp, epoch, sk))
			break;
		want += key_bytes(it->key);
	}
	if (k == 0)
		return 0;
	if (v->refreshed_ns == 0 || now_ns - v->refreshed_ns >= VACATE_REFRESH_NS ||
	    (v->cursor >= v->norder &&
	    now_ns - v->refreshed_ns >= VACATE_MIN_REFRESH_NS)) {
		if ((rc = refresh(v, h, pp, now_ns)) == -EPERM) {
			log_warnx("vacate: /proc/PID/pagemap shows no frame "
			    "numbers (no CAP_SYS_ADMIN): demotions are not "
			    "chosen by physical block, and what they free "
			    "may not go back to the host");
			v->off = true;
			return rc;
		}
		if (rc < 0)
			return 0;	/* out of memory: the policy's plan */
	}
	ntail = p->ndemote - k;
	room = p->cap - ntail;
	if (reserve(&v->tail, &v->tail_cap, ntail + 1, sizeof(*v->tail)) < 0 ||
	    reserve(&v->keys, &v->keys_cap, room + k + 1, sizeof(*v->keys)) < 0)
		return 0;
	memcpy(v->tail, &p->demote[k], ntail * sizeof(*v->tail));
	/* the prefix's keys, to fill what the ranking cannot (below) */
	for (size_t i = 0; i < k; i++)
		v->keys[room + i] = p->demote[i].key;

	for (; v->cursor < v->norder && got < want && m < room; v->cursor++) {
		uint64_t key = v->order[v->cursor], b = key_bytes(key);
		const struct heat_entry *e = heat_lookup(h, key);

		if (e == NULL || !in_pool(e, pp, epoch, sk) || got + b > want)
			continue;	/* gone, or a THP that does not fit */
		p->demote[m].key = key;
		p->demote[m].heat = 0;
		p->demote[m++].npages = heat_key_npages(key);
		got += b;
	}
	v->st.rewritten += got >> HEAT_PAGE_SHIFT;
	/* short of what the policy asked (the ranking is a second old):
	 * the policy's own pages that were not chosen make up the rest */
	if (got < want) {
		for (size_t i = 0; i < m; i++)
			v->keys[i] = p->demote[i].key;
		qsort(v->keys, m, sizeof(*v->keys), cmp_u64);
		for (size_t i = 0; i < k && got < want && m < room; i++) {
			uint64_t key = v->keys[room + i], b = key_bytes(key);

			if (chosen(v->keys, m, key) || got + b > want)
				continue;
			p->demote[m].key = key;
			p->demote[m].heat = 0;
			p->demote[m++].npages = heat_key_npages(key);
			got += b;
		}
	}
	memcpy(&p->demote[m], v->tail, ntail * sizeof(*v->tail));
	p->ndemote = m + ntail;
	p->demote_bytes = p->demote_bytes - want + got;
	return 0;
}
