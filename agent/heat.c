/*
 * heat.c - the heat table (see heat.h): an open-addressing hash table of
 * 16-byte entries with linear probing and backward-shift deletion, lazily
 * halved counts and an exact log2 histogram of decayed heat.
 *
 * Layout: capacity * 21/16 slots (load factor at most 16/21, 0.76), not
 * a power of two; a key's home slot is the multiply-high of its mixed hash and the
 * slot count, which spreads a 64-bit hash evenly over any range without a
 * division.  Deletion shifts the rest of the probe run back, so there are
 * no tombstones and lookups never slow down with churn.  A bitmap of the
 * occupied slots, changed where a slot is filled or emptied, lets passes
 * over the entries skip the empty slots.
 *
 * Epochs: the clock runs in epochs of cooling / 2^HEAT_SUB_SHIFT, and
 * counts halve when the epoch crosses a multiple of 2^HEAT_SUB_SHIFT
 * (every cooling period, at the same instant for every entry, which keeps
 * the histogram exact).  An entry's count refers to its own epoch (mod
 * 2^16, the epoch of its last sample); its value now is count halved once
 * per multiple crossed since, zero from 16 halvings on.  The fine epoch
 * is what tells how long a page has been silent (heat_live_at).  To keep the
 * differences meaningful across the 2^16 wrap, every entry older than 17
 * cooling periods is rewritten to (count 0, epoch now) whenever the epoch
 * crosses a multiple of 2^14 or jumps that far at once: between two such
 * passes no entry can age past 2^14 + 17 * 2^HEAT_SUB_SHIFT epochs, so no
 * limit on idle time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "heat.h"
#include "vtier/util.h"

/* Entries older than this many epochs (17 halvings) count zero. */
#define DECAY_LIMIT	(17u << HEAT_SUB_SHIFT)
/* The epoch-normalizing pass runs when the epoch crosses this multiple. */
#define RENORM_SHIFT	14
#define SUB_EPOCHS	(1u << HEAT_SUB_SHIFT)

/* Slots a table starts with; it doubles up to its full size as it fills. */
#define INITIAL_SLOTS	64

/* Words of the occupancy bitmap for n slots. */
#define OCC_WORDS(n)	(((n) + 63) / 64)

struct heat {
	struct heat_entry *slots;
	uint64_t *occ;		/* bit i: slots[i] holds an entry (heat_occupied) */
	size_t nslots;
	size_t max_slots;	/* capacity * 21/16: the size it grows to */
	size_t capacity;
	size_t size;
	size_t hand;		/* eviction clock hand (slot index) */

	uint64_t next_epoch_ns;	/* the epoch moves on at this time (0: unset) */
	__uint128_t epoch_start;	/* when the current epoch began, in ns / SUB_EPOCHS */
	uint64_t cooling_ns;	/* an epoch lasts cooling_ns / SUB_EPOCHS */
	uint64_t epoch_abs;	/* epochs since the start, not wrapped */
	bool started;		/* epoch_start_ns is set */
	uint64_t sub_samples;	/* sample clock: samples per epoch (0: time) */
	uint64_t since;		/* samples recorded in the current epoch */
	uint64_t watch_fast;	/* heat_set_watch: nodes not watched */
	uint32_t watch_min;	/* count that makes a sample watched */
	uint64_t watch_base;	/* stats.watched when the watch was set */
	uint32_t stale_k;	/* the silence test's bound (heat_set_stale) */

	uint64_t hist[HEAT_NBINS];	/* 4 KiB pages per bin of decayed heat */
	struct heat_stats stats;
};

uint64_t
heat_key(uint32_t pid, uint64_t addr, bool thp)
{
	if (pid == 0 || pid > HEAT_PID_MAX || addr >= HEAT_ADDR_LIMIT)
		return 0;
	if (thp)
		addr &= ~((1ULL << HEAT_THP_SHIFT) - 1);
	return (uint64_t)pid << HEAT_KEY_PID_SHIFT | (thp ? HEAT_KEY_THP : 0) |
	    addr >> HEAT_PAGE_SHIFT;
}

/* splitmix64's finalizer: every key bit reaches the high bits used below. */
static inline uint64_t
mix(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static inline size_t
home(const struct heat *h, uint64_t key)
{
	return (size_t)(((__uint128_t)mix(key) * h->nslots) >> 64);
}

static inline uint16_t
cur_epoch(const struct heat *h)
{
	return (uint16_t)h->epoch_abs;
}

static inline void
occ_set(struct heat *h, size_t i)
{
	h->occ[i / 64] |= 1ULL << (i % 64);
}

static inline void
occ_clear(struct heat *h, size_t i)
{
	h->occ[i / 64] &= ~(1ULL << (i % 64));
}

uint32_t
heat_count(const struct heat *h, const struct heat_entry *e)
{
	return heat_decay_at(e->count, e->epoch, cur_epoch(h));
}

uint32_t
heat_live_count(const struct heat *h, const struct heat_entry *e)
{
	uint16_t now = cur_epoch(h);

	return heat_live_at(e->count, e->epoch, now, h->stale_k);
}

uint32_t
heat_stale_k(const struct heat *h)
{
	return h->stale_k;
}

void
heat_set_stale(struct heat *h, uint32_t k)
{
	h->stale_k = k;
}

int
heat_create(struct heat **hp, uint32_t capacity, uint64_t cooling_ns)
{
	struct heat *h = NULL;
	int rc;

	*hp = NULL;
	if (capacity == 0 || cooling_ns == 0)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		rc = -ENOMEM;
		goto err;
	}
	h->capacity = capacity;
	/* Rounded up; always at least capacity + 1, so a probe ends. */
	/*
	 * 16/21 full at most: with the occupancy bitmap, 21.2 bytes per page
	 * of a full table (bench_heat), where 3/4 gave 21.5; the probes at
	 * full load grow by about 4%, within bench_heat's noise.
	 */
	h->max_slots = ((size_t)capacity * 21 + 15) / 16;
	h->nslots = h->max_slots < INITIAL_SLOTS ? h->max_slots : INITIAL_SLOTS;
	h->slots = calloc(h->nslots, sizeof(*h->slots));
	h->occ = calloc(OCC_WORDS(h->nslots), sizeof(*h->occ));
	if (h->slots == NULL || h->occ == NULL) {
		rc = -ENOMEM;
		goto err;
	}
	h->cooling_ns = cooling_ns;
	h->watch_min = UINT32_MAX;	/* counts stop at HEAT_COUNT_MAX: off */
	h->stale_k = HEAT_STALE_K;
	*hp = h;
	return 0;
err:
	if (h != NULL) {
		free(h->slots);
		free(h->occ);
	}
	free(h);
	return rc;
}

void
heat_destroy(struct heat *h)
{
	if (h == NULL)
		return;
	free(h->slots);
	free(h->occ);
	free(h);
}

void
heat_clear(struct heat *h)
{
	memset(h->slots, 0, h->nslots * sizeof(*h->slots));
	memset(h->occ, 0, OCC_WORDS(h->nslots) * sizeof(*h->occ));
	h->size = 0;
	h->hand = 0;
	h->since = 0;
	h->next_epoch_ns = 0;
	h->epoch_start = 0;
	h->epoch_abs = 0;
	h->started = false;
	memset(h->hist, 0, sizeof(h->hist));
	memset(&h->stats, 0, sizeof(h->stats));
}

static inline __uint128_t
MIN_U128(__uint128_t a, __uint128_t b)
{
	return a < b ? a : b;
}

/* The first ns at or after t (in ns / SUB_EPOCHS), saturated. */
static uint64_t
ceil_ns(__uint128_t t)
{
	__uint128_t ns = (t + SUB_EPOCHS - 1) / SUB_EPOCHS;

	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

void
heat_set_cooling(struct heat *h, uint64_t cooling_ns)
{
	if (cooling_ns == 0)
		return;
	h->cooling_ns = cooling_ns;
	if (h->sub_samples != 0)
		return;
	/* The current epoch keeps its start; the new length runs from it. */
	if (h->started)
		h->next_epoch_ns = ceil_ns(h->epoch_start + cooling_ns);
}

/* Rewrite entries that count zero so their epochs never wrap (see top). */
static void
renormalize(struct heat *h, bool all)
{
	uint16_t now = cur_epoch(h);

	for (size_t i = 0; i < h->nslots; i++) {
		struct heat_entry *e = &h->slots[i];

		if (e->key == 0)
			continue;
		if (all || (uint16_t)(now - e->epoch) >= DECAY_LIMIT) {
			e->count = 0;
			e->epoch = now;
		}
	}
}

/* Counts halved n times: each bin moves down n. */
static void
shift_hist(struct heat *h, uint64_t n)
{
	uint64_t zero = 0;

	if (n >= HEAT_NBINS)
		n = HEAT_NBINS - 1;
	for (unsigned b = 0; b <= n; b++)
		zero += h->hist[b];
	h->hist[0] = zero;
	for (unsigned b = 1; b < HEAT_NBINS; b++)
		h->hist[b] = b + n < HEAT_NBINS ? h->hist[b + n] : 0;
}

/* n epochs on, by either clock: halve what crossed a period, keep epochs sane. */
static void
move_epochs(struct heat *h, uint64_t n)
{
	uint64_t old = h->epoch_abs, halvings;

	h->epoch_abs += n;
	halvings = (h->epoch_abs >> HEAT_SUB_SHIFT) - (old >> HEAT_SUB_SHIFT);
	if (halvings)
		shift_hist(h, halvings);
	if (n >= DECAY_LIMIT)
		renormalize(h, true);
	else if ((old >> RENORM_SHIFT) != (h->epoch_abs >> RENORM_SHIFT))
		renormalize(h, false);
}

/* The rare part of heat_advance: the first call, or an epoch change. */
static void
advance_epoch(struct heat *h, uint64_t now_ns)
{
	__uint128_t now = (__uint128_t)now_ns * SUB_EPOCHS;
	uint64_t n;

	if (h->sub_samples != 0) {	/* the sample clock runs the epochs */
		h->next_epoch_ns = UINT64_MAX;
		return;
	}
	if (!h->started) {
		h->started = true;
		h->epoch_start = now;
		h->next_epoch_ns = ceil_ns(now + h->cooling_ns);
		return;
	}
	n = (uint64_t)MIN_U128((now - h->epoch_start) / h->cooling_ns,
	    (__uint128_t)UINT64_MAX >> 1);
	if (n == 0)		/* only at the saturated end of time */
		return;
	h->epoch_start += (__uint128_t)n * h->cooling_ns;
	h->next_epoch_ns = ceil_ns(h->epoch_start + h->cooling_ns);
	move_epochs(h, n);
}

/* The sample clock's epoch is over: one epoch on. */
static __attribute__((noinline)) void
sample_epoch(struct heat *h)
{
	h->since = 0;
	move_epochs(h, 1);
}

void
heat_set_cooling_samples(struct heat *h, uint64_t n)
{
	if (n == 0) {
		if (h->sub_samples == 0)
			return;
		/* back to the time clock, which starts again at the next call */
		h->sub_samples = 0;
		h->started = false;
		h->next_epoch_ns = 0;
		return;
	}
	h->sub_samples = n >> HEAT_SUB_SHIFT ? n >> HEAT_SUB_SHIFT : 1;
	h->next_epoch_ns = UINT64_MAX;
	if (h->since >= h->sub_samples)
		sample_epoch(h);
}

void
heat_set_watch(struct heat *h, uint64_t fast_mask, uint32_t min_count)
{
	h->watch_fast = fast_mask;
	h->watch_min = min_count ? min_count : 1;
	h->watch_base = h->stats.watched;
}

bool
heat_watch_seen(const struct heat *h)
{
	return h->stats.watched != h->watch_base;
}

void
heat_advance(struct heat *h, uint64_t now_ns)
{
	/* An earlier time than the current epoch's end changes nothing. */
	if (now_ns >= h->next_epoch_ns)
		advance_epoch(h, now_ns);
}

/* Empty slot i, shifting later entries of its probe run back into it. */
static void
remove_at(struct heat *h, size_t i)
{
	size_t n = h->nslots, j = i;

	for (;;) {
		struct heat_entry *e;
		size_t k, dist_home, dist_hole;

		if (++j == n)
			j = 0;
		e = &h->slots[j];
		if (e->key == 0)
			break;
		/* e may fill the hole unless its home lies after the hole. */
		k = home(h, e->key);
		dist_home = j >= k ? j - k : j + n - k;
		dist_hole = j >= i ? j - i : j + n - i;
		if (dist_home >= dist_hole) {
			h->slots[i] = *e;
			i = j;
		}
	}
	memset(&h->slots[i], 0, sizeof(h->slots[i]));
	occ_clear(h, i);
}

/* Take an entry out: histogram, slot, size. */
static void
unlink_entry(struct heat *h, size_t i)
{
	const struct heat_entry *e = &h->slots[i];

	h->hist[heat_bin(heat_count(h, e))] -= heat_key_npages(e->key);
	remove_at(h, i);
	h->size--;
}

/*
 * Evict one entry to make room: scan up to HEAT_EVICT_SCAN occupied slots
 * from the clock hand, stop at the first one in the lowest non-empty bin
 * (nothing colder exists), else take the coldest seen.
 */
static void
evict_one(struct heat *h)
{
	size_t scan = h->size < HEAT_EVICT_SCAN ? h->size : HEAT_EVICT_SCAN;
	size_t i = h->hand, victim = SIZE_MAX, seen = 0;
	unsigned lowest = 0;
	uint32_t best = UINT32_MAX;

	while (lowest < HEAT_NBINS - 1 && h->hist[lowest] == 0)
		lowest++;
	while (seen < scan) {
		const struct heat_entry *e = &h->slots[i];

		if (e->key != 0) {
			uint32_t c = heat_count(h, e);

			seen++;
			if (c < best) {
				best = c;
				victim = i;
				if (heat_bin(c) <= lowest)
					break;
			}
		}
		if (++i == h->nslots)
			i = 0;
	}
	/* Next scan starts after the victim, which may now hold a shifted entry. */
	h->hand = victim + 1 == h->nslots ? 0 : victim + 1;
	unlink_entry(h, victim);
	h->stats.evictions++;
}

/* The first empty slot of key's probe run (the table has one). */
static size_t
free_slot(const struct heat *h, uint64_t key)
{
	size_t i;

	for (i = home(h, key); h->slots[i].key != 0;)
		if (++i == h->nslots)
			i = 0;
	return i;
}

/*
 * Double the slot array (up to max_slots) and put every entry back from
 * its new home.  Entries, counts, epochs and the histogram are unchanged;
 * slot indices are not.  -ENOMEM leaves the table as it was.
 */
static int
grow(struct heat *h)
{
	size_t n = h->nslots * 2 < h->max_slots ? h->nslots * 2 : h->max_slots;
	struct heat_entry *ns = calloc_touched(n, sizeof(*ns)), *old = h->slots;
	uint64_t *occ = calloc(OCC_WORDS(n), sizeof(*occ));
	size_t on = h->nslots;

	if (ns == NULL || occ == NULL) {
		free(ns);
		free(occ);
		return -ENOMEM;
	}
	free(h->occ);
	h->slots = ns;
	h->occ = occ;
	h->nslots = n;
	for (size_t j = 0; j < on; j++) {
		if (old[j].key != 0) {
			size_t i = free_slot(h, old[j].key);

			ns[i] = old[j];
			occ_set(h, i);
		}
	}
	free(old);
	h->hand = 0;
	h->stats.grows++;
	return 0;
}

/* Is e on a node of heat_set_watch's fast_mask (-1, not known yet: no)? */
static inline bool
on_fast(const struct heat *h, const struct heat_entry *e)
{
	uint8_t n = (uint8_t)e->node;

	return n < 64 && (h->watch_fast >> n & 1);
}

/*
 * A sample left e at its count: count it in stats.on_fast if e is on a
 * fast node, else in stats.watched if that is the watch count or more
 * and it is movable.
 */
static inline void
note_watch(struct heat *h, const struct heat_entry *e)
{
	bool fast = on_fast(h, e);

	h->stats.on_fast += fast;
	h->stats.watched += e->count >= h->watch_min &&
	    !(e->flags & HEAT_F_PINNED) && !fast;
}

/*
 * Room for one more entry: grow the slot array while it may (load at most
 * 3/4 before the last doubling, 16/21 after it), and evict when the table is full (or no memory to grow leaves a
 * single empty slot).  evict false: -ENOSPC instead of evicting.  Returns
 * 1 when entries moved (probe again), 0 when nothing moved, or -ENOSPC.
 */
static int
make_room(struct heat *h, bool evict)
{
	if (h->size == h->capacity)
		goto full;
	if (h->nslots < h->max_slots && (h->size + 1) * 4 > h->nslots * 3) {
		if (grow(h) == 0)
			return 1;
		if (h->size + 2 > h->nslots)
			goto full;	/* one slot must stay empty */
	}
	return 0;
full:
	if (!evict)
		return -ENOSPC;
	evict_one(h);
	return 1;
}

/* Fill empty slot i with a new entry of count c (at the current epoch). */
static struct heat_entry *
fill_slot(struct heat *h, size_t i, uint64_t key, uint16_t c, int8_t node)
{
	struct heat_entry *e = &h->slots[i];

	e->key = key;
	e->count = c;
	e->epoch = cur_epoch(h);
	e->node = node;
	e->flags = 0;
	e->moved = HEAT_MOVED_NEVER;
	occ_set(h, i);
	h->size++;
	h->hist[heat_bin(c)] += heat_key_npages(key);
	return e;
}

/* A new key whose probe ended at empty slot i. Kept out of the hit path. */
static __attribute__((noinline)) struct heat_entry *
insert_new(struct heat *h, uint64_t key, size_t i)
{
	struct heat_entry *e;

	/* The new key is not in the table yet, so it cannot be the victim. */
	if (make_room(h, true) > 0)
		i = free_slot(h, key);
	e = fill_slot(h, i, key, 1, -1);
	h->stats.inserts++;
	note_watch(h, e);
	return e;
}

/*
 * Count one sample of key (not 0) whose probe starts at its home slot i;
 * the table's clock is already up to date.  The body of heat_record and
 * heat_record_batch, inlined into both so the hit path has no call.
 */
static inline __attribute__((always_inline)) struct heat_entry *
record_key(struct heat *h, uint64_t key, size_t i)
{
	struct heat_entry *e;
	uint32_t c, lc, nc, np;
	uint64_t x;
	uint16_t now;

	h->stats.records++;
	if (h->sub_samples != 0 && ++h->since >= h->sub_samples)
		sample_epoch(h);
	for (;;) {
		e = &h->slots[i];
		if (e->key == key)
			break;
		if (e->key == 0)
			return insert_new(h, key, i);
		if (++i == h->nslots)
			i = 0;
	}

	now = cur_epoch(h);
	c = heat_decay_at(e->count, e->epoch, now);
	/*
	 * A count the silence test rejects is not revived by one new sample:
	 * the page starts again from that sample.  A page the shorter bound
	 * would have called gone came back: count it (branch-free).
	 */
	x = heat_silence(e->count, e->epoch, now);
	h->stats.revived += (x > HEAT_STALE_K_MOVING) & (x <= HEAT_STALE_K) &
	    (e->count >= HEAT_REVIVE_MIN);
	/* the live count, restarted by the moving bound at the shortest */
	lc = x > MAX(h->stale_k, HEAT_STALE_K_MOVING) ? 0 : c;
	nc = lc < HEAT_COUNT_MAX ? lc + 1 : HEAT_COUNT_MAX;
	/*
	 * The histogram already holds the decayed count c.  Samples of
	 * pages at live count 0 and 1 are counted for the policy
	 * (stats.again, again_fast).  All but those of a silent page of
	 * decayed count 1 move the page to another bin anyway, so the
	 * branch is taken hardly more often than before.
	 */
	if (heat_bin(nc) != heat_bin(c) || lc < 2) {
		np = heat_key_npages(key);
		h->hist[heat_bin(c)] -= np;
		h->hist[heat_bin(nc)] += np;
		if (lc < 2) {
			h->stats.again[lc] += np;
			if (on_fast(h, e))
				h->stats.again_fast[lc] += np;
		}
	}
	e->count = (uint16_t)nc;
	e->epoch = now;
	note_watch(h, e);
	return e;
}

struct heat_entry *
heat_record(struct heat *h, uint32_t pid, uint64_t addr, bool thp,
    uint64_t now_ns)
{
	uint64_t key = heat_key(pid, addr, thp);

	if (now_ns >= h->next_epoch_ns)
		advance_epoch(h, now_ns);
	if (key == 0) {
		h->stats.rejected++;
		return NULL;
	}
	return record_key(h, key, home(h, key));
}

/*
 * Samples heat_record_batch looks ahead: enough to cover a memory miss
 * at a few tens of ns per sample, few enough to stay in L1.  A power of
 * two (ring index).
 */
#define BATCH_AHEAD	16
static_assert((BATCH_AHEAD & (BATCH_AHEAD - 1)) == 0, "BATCH_AHEAD: a power of two");

/* Key and home slot of sample s, its slot's cache line on its way in. */
static inline void
look_ahead(const struct heat *h, const struct heat_sample *s, uint64_t *key,
    size_t *slot)
{
	*key = heat_key(s->pid, s->addr, s->thp);
	*slot = home(h, *key);
	__builtin_prefetch(&h->slots[*slot], 1, 3);
}

/*
 * A window of BATCH_AHEAD keys and home slots runs ahead of the sample
 * being recorded, so each sample's line was requested ~BATCH_AHEAD
 * samples earlier.  Only the work done ahead is a pure function of the
 * sample (the key, and the home slot, fixed by the slot count); probing
 * and every change to the table still happen one sample at a time in
 * order, so inserts and evictions in between cannot make it differ from
 * heat_record, at worst a prefetched line has gone stale.
 */
size_t
heat_record_batch(struct heat *h, const struct heat_sample *s, size_t n,
    uint64_t now_ns)
{
	uint64_t keys[BATCH_AHEAD];
	size_t slots[BATCH_AHEAD], recorded = 0, k, ns;

	if (n == 0)
		return 0;
	/*
	 * heat_record would check the clock on every sample, but with one
	 * now_ns only the first check can change anything: afterwards now_ns
	 * lies inside the current epoch (or time has saturated).
	 */
	if (now_ns >= h->next_epoch_ns)
		advance_epoch(h, now_ns);
	for (k = 0; k < n && k < BATCH_AHEAD; k++)
		look_ahead(h, &s[k], &keys[k], &slots[k]);
	ns = h->nslots;
	for (k = 0; k < n; k++) {
		size_t r = k & (BATCH_AHEAD - 1), i = slots[r];
		uint64_t key = keys[r];

		/* The array grew: home slots worked out before are stale. */
		if (__builtin_expect(h->nslots != ns, 0) && key != 0)
			i = home(h, key);

		if (k + BATCH_AHEAD < n)
			look_ahead(h, &s[k + BATCH_AHEAD], &keys[r], &slots[r]);
		if (key == 0) {
			h->stats.rejected++;
			continue;
		}
		record_key(h, key, i);
		recorded++;
	}
	return recorded;
}

static size_t
find_slot(const struct heat *h, uint64_t key)
{
	size_t i;

	if (key == 0)
		return SIZE_MAX;
	for (i = home(h, key); h->slots[i].key != 0;) {
		if (h->slots[i].key == key)
			return i;
		if (++i == h->nslots)
			i = 0;
	}
	return SIZE_MAX;
}

struct heat_entry *
heat_lookup(struct heat *h, uint64_t key)
{
	size_t i = find_slot(h, key);

	return i == SIZE_MAX ? NULL : &h->slots[i];
}

int
heat_adopt(struct heat *h, uint64_t key, int node)
{
	int rc;

	if (key == 0 || node < 0 || node > INT8_MAX)
		return -EINVAL;
	if (find_slot(h, key) != SIZE_MAX)
		return 0;
	if ((rc = make_room(h, false)) < 0)
		return rc;
	fill_slot(h, free_slot(h, key), key, 0, (int8_t)node);
	h->stats.adopted += heat_key_npages(key);
	return 1;
}

int
heat_drop(struct heat *h, uint64_t key)
{
	size_t i = find_slot(h, key);

	if (i == SIZE_MAX)
		return -ENOENT;
	unlink_entry(h, i);
	h->stats.dropped++;
	return 0;
}

size_t
heat_drop_pid(struct heat *h, uint32_t pid)
{
	size_t removed = 0, i = 0;

	/*
	 * A removal pulls later entries back into slot i, so look at i again.
	 * Entries only ever move backwards into the hole, and those that wrap
	 * from the front of the array to its end land on slots still ahead.
	 */
	while (i < h->nslots) {
		const struct heat_entry *e = &h->slots[i];

		if (e->key != 0 && heat_key_pid(e->key) == pid) {
			unlink_entry(h, i);
			removed++;
			continue;
		}
		i++;
	}
	h->stats.dropped += removed;
	return removed;
}

const struct heat_entry *
heat_slots(const struct heat *h, size_t *nslots)
{
	*nslots = h->nslots;
	return h->slots;
}

struct heat_entry *
heat_slots_mut(struct heat *h, size_t *nslots)
{
	*nslots = h->nslots;
	return h->slots;
}

const uint64_t *
heat_occupied(const struct heat *h)
{
	return h->occ;
}

const uint64_t *
heat_hist(const struct heat *h)
{
	return h->hist;
}

size_t
heat_size(const struct heat *h)
{
	return h->size;
}

size_t
heat_capacity(const struct heat *h)
{
	return h->capacity;
}

size_t
heat_mem_bytes(const struct heat *h)
{
	return sizeof(*h) + h->nslots * sizeof(*h->slots) +
	    OCC_WORDS(h->nslots) * sizeof(*h->occ);
}

uint16_t
heat_epoch(const struct heat *h)
{
	return cur_epoch(h);
}

const struct heat_stats *
heat_stats(const struct heat *h)
{
	return &h->stats;
}
