/*
 * heat.h - the heat table: how often each (pid, page) was sampled,
 * decayed over time.  Pure code: no syscalls, no clocks (time is passed
 * in), so it is unit-tested directly and reused verbatim by vtier-sim.
 *
 * - Fixed capacity, chosen at creation.  The slot array starts small and
 *   doubles as entries come, up to capacity * 21/16 slots (load at most
 *   16/21), so memory and the policy's passes over the slots follow the
 *   pages actually tracked; it never shrinks.  Growing moves entries to
 *   other slots (heat_slots() indices are only valid until the next
 *   heat_record).
 * - Keyed (pid, page); a page is 4 KiB, or 2 MiB when the caller says
 *   the address is THP-backed.
 * - Counts halve every cooling period, lazily: an entry stores the epoch
 *   (1/32 of a cooling period) of its last sample, which its count
 *   refers to, and is brought up to date when touched.
 * - A count the page's silence since contradicts is not trusted
 *   (heat_live_at): how the policy sees a hot set move on.
 * - A log2-binned histogram of (decayed) heat, in 4 KiB-page units, is
 *   kept exact at all times.  Halving moves every count exactly one bin
 *   down, so an epoch change is a shift of the histogram.
 * - When full, a new page evicts a coldest entry (see heat_record).
 */
#ifndef VTIER_AGENT_HEAT_H
#define VTIER_AGENT_HEAT_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEAT_PAGE_SHIFT	12
#define HEAT_THP_SHIFT	21
#define HEAT_THP_PAGES	(1u << (HEAT_THP_SHIFT - HEAT_PAGE_SHIFT))
#define HEAT_COUNT_MAX	UINT16_MAX
/* bin 0: count 0; bin b >= 1: 2^(b-1) <= count < 2^b */
#define HEAT_NBINS	17
/* Epochs per cooling period (counts halve when the epoch crosses a multiple) */
#define HEAT_SUB_SHIFT	5

/*
 * Key layout: pid in bits 36..57, THP flag in bit 35, virtual page
 * number (addr >> 12, or the 2 MiB-aligned address >> 12) in bits 0..34.
 * User addresses must be below 2^47 (4-level paging user space); pid
 * must be 1..2^22-1 (the kernel's PID_MAX_LIMIT).  Key 0 means empty.
 */
#define HEAT_KEY_VPN_BITS	35
#define HEAT_KEY_THP		(1ULL << HEAT_KEY_VPN_BITS)
#define HEAT_KEY_PID_SHIFT	36
#define HEAT_PID_MAX		((1u << 22) - 1)
#define HEAT_ADDR_LIMIT		(1ULL << 47)

/* Entry flags */
#define HEAT_F_PINNED	0x01	/* migration said EACCES/EINVAL: do not retry */
#define HEAT_F_MISSING	0x02	/* move_pages said -ENOENT or -EFAULT: dropped
				   if it says so again (migrate.c) */

struct heat_entry {
	uint64_t key;		/* 0 = empty slot */
	uint16_t count;		/* heat as of epoch */
	uint16_t epoch;		/* epoch of count (last sample), mod 2^16 */
	int8_t node;		/* NUMA node, -1 = not known yet */
	uint8_t flags;		/* HEAT_F_* */
	uint16_t moved;		/* policy tick of the last migration, mod 2^16 */
};
static_assert(sizeof(struct heat_entry) == 16, "heat_entry must stay 16 bytes");

#define HEAT_MOVED_NEVER 0	/* ticks start at 1; see policy.h */

struct heat_stats {
	uint64_t records;	/* samples recorded */
	uint64_t inserts;	/* new entries */
	uint64_t evictions;	/* entries evicted to make room */
	uint64_t rejected;	/* samples with an address or pid out of range */
	uint64_t dropped;	/* entries removed by heat_drop* */
	uint64_t grows;		/* times the slot array doubled */
	uint64_t watched;	/* samples that left a page off the fast
				   nodes at the watch count (heat_set_watch) */
	uint64_t adopted;	/* 4 KiB pages entered by heat_adopt */
	uint64_t revived;	/* samples of pages (count >= 2) silent for
				   HEAT_STALE_K_MOVING to HEAT_STALE_K (see
				   the silence test) */
	uint64_t again[2];	/* samples that found a tracked page at live
				   count 0, 1, in 4 KiB pages (policy.c
				   "Pages sampled once") */
	uint64_t again_fast[2];	/* of those, the pages on a fast node (the
				   mask heat_set_watch was given last) */
	uint64_t on_fast;	/* samples that found their page on a fast
				   node (the same mask; policy.c "Shock") */
};

struct heat;

/* Build and take apart keys. */
uint64_t heat_key(uint32_t pid, uint64_t addr, bool thp);
static inline uint32_t heat_key_pid(uint64_t key) { return (uint32_t)(key >> HEAT_KEY_PID_SHIFT); }
static inline bool heat_key_thp(uint64_t key) { return (key & HEAT_KEY_THP) != 0; }
static inline uint64_t heat_key_addr(uint64_t key)
{
	return (key & ((1ULL << HEAT_KEY_VPN_BITS) - 1)) << HEAT_PAGE_SHIFT;
}
static inline uint32_t heat_key_npages(uint64_t key) { return heat_key_thp(key) ? HEAT_THP_PAGES : 1; }

/* Histogram bin of a count. */
static inline unsigned heat_bin(uint32_t count)
{
	return count ? 32u - (unsigned)__builtin_clz(count) : 0;
}

/*
 * Create a table for up to capacity entries with the given cooling period
 * (ns, > 0).  0 or -ENOMEM/-EINVAL.
 */
int heat_create(struct heat **hp, uint32_t capacity, uint64_t cooling_ns);
void heat_destroy(struct heat *h);

/* Forget everything (keeps capacity and cooling period). */
void heat_clear(struct heat *h);
/* Change the cooling period (on reload); counts are kept. */
void heat_set_cooling(struct heat *h, uint64_t cooling_ns);
void heat_set_cooling_samples(struct heat *h, uint64_t n);

/*
 * Watch for pages worth promoting: from now on every sample that leaves
 * an entry at min_count or more (0 counts as 1) while its node is not in
 * fast_mask (a node not known yet, -1, included) and it is not pinned
 * adds one to stats.watched.  The policy sets the count a page needs to
 * be promoted, and the caller runs a round early when it moves.  Off
 * (min_count above HEAT_COUNT_MAX) until called; heat_clear keeps it.
 * heat_watch_seen: such a sample came since the last heat_set_watch.
 */
void heat_set_watch(struct heat *h, uint64_t fast_mask, uint32_t min_count);
bool heat_watch_seen(const struct heat *h);

/*
 * Advance the table's clock to now_ns: if one or more cooling periods
 * have passed, the epoch moves on and the histogram shifts down.  Time
 * never goes backwards: an earlier now_ns is ignored.
 */
void heat_advance(struct heat *h, uint64_t now_ns);

/*
 * Count one sample of (pid, addr) at now_ns (calls heat_advance).  thp:
 * the address is backed by a transparent huge page; the entry is keyed
 * at 2 MiB.  When the table is full, the new page evicts the entry with
 * the lowest decayed count found within a bounded scan (HEAT_EVICT_SCAN
 * occupied slots from a clock hand that moves on): it looks first for an
 * entry in the lowest non-empty histogram bin and otherwise takes the
 * coldest it saw.  Returns the entry, or NULL if pid/addr are out of
 * range (counted in stats.rejected).
 */
#define HEAT_EVICT_SCAN 64
struct heat_entry *heat_record(struct heat *h, uint32_t pid, uint64_t addr,
    bool thp, uint64_t now_ns);

/* One sample for heat_record_batch: the arguments of one heat_record. */
struct heat_sample {
	uint32_t pid;
	bool thp;		/* addr is backed by a transparent huge page */
	uint64_t addr;
};

/*
 * Count n samples at now_ns, exactly as n calls of heat_record in order
 * would (same entries, histogram, evictions and stats), but faster on a
 * large table: keys and home slots are worked out some samples ahead
 * and their cache lines prefetched.  Returns how many were recorded
 * (rejected ones, counted in stats.rejected, excluded).
 */
size_t heat_record_batch(struct heat *h, const struct heat_sample *s, size_t n,
    uint64_t now_ns);

/* Find an entry (NULL if absent). */
struct heat_entry *heat_lookup(struct heat *h, uint64_t key);

/* The entry's count decayed to the table's current epoch. */
uint32_t heat_count(const struct heat *h, const struct heat_entry *e);
/*
 * The same for a count stored at epoch then, at epoch now (both from
 * heat_epoch(), mod 2^16): halved once per multiple of 2^HEAT_SUB_SHIFT
 * crossed in between, 0 from 16 halvings on.  For passes over
 * heat_slots().
 */
static inline uint32_t heat_decay_at(uint16_t count, uint16_t then, uint16_t now)
{
	uint16_t halvings = (uint16_t)(now - (then &
	    (uint16_t)~((1u << HEAT_SUB_SHIFT) - 1))) >> HEAT_SUB_SHIFT;

	return (uint32_t)count >> (halvings < 31 ? halvings : 31);
}

/*
 * Silence test.  A page whose count was c at its last sample, at epoch
 * then, was being sampled about c ln2 / P times per cooling period P
 * (a count decays to c ln2 / P per unit of time at a steady rate).
 * Silent since for at least (now - then - 1) epochs of P / 32, it would
 * have shown about c ln2 (now - then - 1) / 32 samples at that rate;
 * more than S expected and none seen (chance e^-S) means the rate has
 * dropped: the hot set has moved on.  heat_live_at returns 0 for such a
 * count and its decayed value otherwise; its k is ceil(32 S / ln 2),
 * the bound on c (now - then - 1).  The test uses the count as it was at
 * the last sample, not the decayed one: a halving in between does not
 * make the evidence of the silence weaker.  A long cooling period then
 * costs no agility: the counts of pages still in use keep a long memory,
 * those of pages left behind stop counting within a few of their own
 * inter-sample gaps.
 *
 * S is the table's setting (heat_set_stale), one of two: 6 while the hot
 * set stays put (a false alarm is an e^-6 event), 3 while it moves (the
 * policy tells them apart, see policy.c "Regime"), when waiting for six
 * missed samples keeps pages that left in the fast tier for twice as
 * long as needed.  To tell the regimes apart the table counts, in
 * stats.revived, samples of pages (count 2 or more) that had been silent
 * between 3 and 6 expected samples: pages the shorter bound would have
 * called gone, wrongly.
 */
#define HEAT_STALE_SAMPLES	6
#define HEAT_STALE_K		277	/* ceil(32 * 6 / ln 2) */
#define HEAT_STALE_K_MOVING	139	/* ceil(32 * 3 / ln 2) */
/*
 * A third setting, for a hot set that moves through a fast tier it does
 * not fit (policy.c "Tight"): a page of HEAT_TIGHT_MIN samples or more
 * is read gone after 1.5 expected samples missed, the others as while
 * moving.  For the plan only: a count restarts (heat_record) by the
 * moving bound still, so a live page that had a gap of 1.5 keeps its
 * count when it is sampled again.
 */
#define HEAT_STALE_K_TIGHT	70	/* ceil(32 * 1.5 / ln 2) */
#define HEAT_TIGHT_MIN		3
/* Pages with fewer samples than this are no evidence either way. */
#define HEAT_REVIVE_MIN		2

/* c * (age - 1), the silence in expected samples times 32 / ln 2. */
static inline uint64_t heat_silence(uint16_t count, uint16_t then, uint16_t now)
{
	uint16_t age = (uint16_t)(now - then);

	return age > 1 ? (uint64_t)count * (age - 1u) : 0;
}

/* The bound k means for a page of this count (HEAT_STALE_K_TIGHT). */
static inline uint32_t heat_bound(uint16_t count, uint32_t k)
{
	return k == HEAT_STALE_K_TIGHT && count < HEAT_TIGHT_MIN ?
	    HEAT_STALE_K_MOVING : k;
}

static inline uint32_t heat_live_at(uint16_t count, uint16_t then, uint16_t now,
    uint32_t k)
{
	if (heat_silence(count, then, now) > heat_bound(count, k))
		return 0;
	return heat_decay_at(count, then, now);
}

/*
 * Maybe gone: a page the silence bound k calls gone (count 0 with the
 * test) where the settled bound HEAT_STALE_K would not, and that still
 * has heat by decay.  Only while the hot set moves (k is then
 * HEAT_STALE_K_MOVING or HEAT_STALE_K_TIGHT): a page sampled several
 * times a cooling period has a gap of 3 expected samples every e^3 = 20
 * gaps (of 1.5 in 22% of them), so at any time a few per cent of a live
 * hot set reads so (a fifth with the tight bound).  Such a page is out
 * of the hot set (so the newcomers fit), but no page with no more than
 * one sample may take its place (policy.c "Maybe gone").
 */
static inline bool heat_maybe_gone(uint16_t count, uint16_t then,
    uint16_t now, uint32_t k)
{
	uint64_t x = heat_silence(count, then, now);

	return x > heat_bound(count, k) && x <= HEAT_STALE_K &&
	    heat_decay_at(count, then, now) != 0;
}

/*
 * The silence bound k heat_live_at is called with for this table, and
 * changing it (HEAT_STALE_K, HEAT_STALE_K_MOVING or HEAT_STALE_K_TIGHT;
 * HEAT_STALE_K at creation; heat_clear keeps it).  Counts already
 * restarted stay so.
 */
uint32_t heat_stale_k(const struct heat *h);
void heat_set_stale(struct heat *h, uint32_t k);

/* heat_count with the silence test: the heat the policy plans with. */
uint32_t heat_live_count(const struct heat *h, const struct heat_entry *e);

/*
 * Enter a page that was never sampled, known to sit on node, with count
 * 0: the coldest a page can be, so the policy moves it off the fast nodes
 * first when it needs room (agent/adopt.c finds such pages).  A sample
 * later makes it an ordinary entry.  Never evicts: -ENOSPC when the
 * table is full.  1 entered, 0 already tracked, -EINVAL (key 0, node
 * out of range) or -ENOSPC.
 */
int heat_adopt(struct heat *h, uint64_t key, int node);

/* Remove one entry (ENOENT/EFAULT from the migrator). 0 or -ENOENT. */
int heat_drop(struct heat *h, uint64_t key);
/* Remove every entry of a process; returns how many were removed. */
size_t heat_drop_pid(struct heat *h, uint32_t pid);

/*
 * Direct access for the policy's single pass: nslots slots, empty ones
 * have key 0.  Valid until the next heat_record/heat_drop*.
 */
const struct heat_entry *heat_slots(const struct heat *h, size_t *nslots);
struct heat_entry *heat_slots_mut(struct heat *h, size_t *nslots);

/*
 * Which slots hold an entry: bit i % 64 of word i / 64 is set iff slot i
 * of heat_slots() has a non-zero key; (nslots + 63) / 64 words, the bits
 * past nslots clear.  Kept by insertion and removal (never by the hit
 * path), so a pass over the entries can skip the empty slots, a quarter
 * to five eighths of them as the table doubles.  Valid as heat_slots().
 */
const uint64_t *heat_occupied(const struct heat *h);

/* Histogram of decayed heat: HEAT_NBINS bins of 4 KiB-page counts. */
const uint64_t *heat_hist(const struct heat *h);

size_t heat_size(const struct heat *h);		/* entries in use */
size_t heat_capacity(const struct heat *h);
size_t heat_mem_bytes(const struct heat *h);	/* all memory the table holds */
uint16_t heat_epoch(const struct heat *h);
const struct heat_stats *heat_stats(const struct heat *h);

#endif
