/*
 * test_vacate.c - demotions chosen by 2 MiB physical block (agent/
 * vacate.c) on this process's own pages, their frames read from the real
 * /proc/self/pagemap and /proc/kpageflags: a plan demoting every other
 * page of 16 MiB of cold memory is rewritten to as many pages in fewer
 * physical blocks, demoting the same bytes, every page once and every
 * one cold and on a fast node (none maybe gone, none sampled in the last
 * POLICY_AGE_SWAP epochs), the rest of the plan untouched.  Skipped
 * (77) without the frame numbers (not root).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vtier/util.h"
#include "heat.h"
#include "pagemap.h"
#include "policy.h"
#include "vacate.h"
#include "../test.h"

#define PG	4096ULL
#define NPG	4096		/* 16 MiB */
#define NDEM	1024		/* every other page of the first 8 MiB */
#define EPOCH_NS	(1000000000ULL >> HEAT_SUB_SHIFT)

/* Distinct 2 MiB physical blocks of the plan's first n items. */
static size_t
blocks_of(int pm, const struct plan_item *it, size_t n)
{
	uint64_t b[NDEM];
	size_t nb = 0;

	for (size_t i = 0; i < n && i < NDEM; i++) {
		uint64_t e = 0;

		if (pread(pm, &e, 8, (off_t)(heat_key_addr(it[i].key) / PG * 8)) != 8)
			return 0;
		b[i] = (e & PAGEMAP_PFN_MASK) >> 9;
	}
	qsort(b, n, sizeof(*b), cmp_u64);
	for (size_t i = 0; i < n; i++)
		nb += i == 0 || b[i] != b[i - 1];
	return nb;
}

static void
test_blocks(void)
{
	struct heat *h;
	struct vacate *v;
	struct plan p = { 0 };
	struct policy_params pp = { .fast_mask = 1, .slow_mask = 2,
	    .now_tick = 100, .min_residence = 8 };
	uint64_t keys[NDEM + 1], e = 0;
	size_t before, after;
	char *mem;
	int pm;

	mem = mmap(NULL, NPG * PG, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(mem != MAP_FAILED);
	madvise(mem, NPG * PG, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < NPG; i++)
		mem[i * PG] = (char)i;
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ASSERT_TRUE(pm >= 0);
	if (pread(pm, &e, 8, (off_t)((uintptr_t)mem / PG * 8)) != 8 ||
	    (e & PAGEMAP_PFN_MASK) == 0) {
		printf("  skip: no page frame numbers (not root)\n");
		exit(TEST_SKIP);
	}
	ASSERT_EQ(heat_create(&h, 16384, 1000000000ULL), 0);
	heat_advance(h, 0);	/* epoch 0 at time 0 */
	for (size_t i = 0; i < NPG; i++)
		ASSERT_EQ(heat_adopt(h, heat_key((uint32_t)getpid(),
		    (uintptr_t)mem + i * PG, false), 0), 1);
	/*
	 * The upper 8 MiB, never vacate's to choose (the policy orders them):
	 * 4 MiB of pages of count 30 last sampled at epoch 27, at epoch 33
	 * silent for 6 epochs, maybe gone while the hot set moves (heat.h);
	 * 4 MiB of pages sampled once at epoch 31, whose count of 1 halved
	 * to 0 at epoch 32: count 0, but sampled 2 epochs ago, younger than
	 * the adopted pages below (policy.c "Recency").
	 */
	for (size_t i = NPG / 2; i < NPG; i++) {
		bool maybe_gone = i < 3 * NPG / 4;

		for (int k = 0; k < (maybe_gone ? 30 : 1); k++)
			ASSERT_TRUE(heat_record(h, (uint32_t)getpid(),
			    (uintptr_t)mem + i * PG, false,
			    (maybe_gone ? 27 : 31) * EPOCH_NS) != NULL);
	}
	heat_advance(h, 33 * EPOCH_NS);
	heat_set_stale(h, HEAT_STALE_K_MOVING);
	ASSERT_TRUE(heat_maybe_gone(30, 27, heat_epoch(h), HEAT_STALE_K_MOVING));
	ASSERT_EQ_U(heat_live_at(1, 31, heat_epoch(h), HEAT_STALE_K_MOVING), 0);
	ASSERT_TRUE(!heat_maybe_gone(1, 31, heat_epoch(h), HEAT_STALE_K_MOVING));
	p.cap = 2 * NDEM;
	p.demote = calloc(p.cap, sizeof(*p.demote));
	ASSERT_TRUE(p.demote != NULL);
	for (size_t i = 0; i < NDEM; i++) {
		p.demote[i].key = heat_key((uint32_t)getpid(),
		    (uintptr_t)mem + 2 * i * PG, false);
		p.demote[i].npages = 1;
	}
	/* a warm page after the cold ones: it stays, last */
	p.demote[NDEM] = (struct plan_item){ .key = heat_key(
	    (uint32_t)getpid(), (uintptr_t)mem + PG, false), .heat = 7,
	    .npages = 1 };
	p.ndemote = NDEM + 1;
	p.demote_bytes = (NDEM + 1) * PG;
	before = blocks_of(pm, p.demote, NDEM);

	ASSERT_EQ(vacate_create(&v, "/proc"), 0);
	ASSERT_EQ(vacate_plan(v, h, &pp, &p, 1000000000ULL), 0);
	after = blocks_of(pm, p.demote, NDEM);
	printf("  %d cold pages demoted: in %zu physical blocks as planned, "
	    "%zu as vacate chose\n", NDEM, before, after);
	ASSERT_EQ_U(p.ndemote, NDEM + 1);
	ASSERT_EQ_U(p.demote_bytes, (NDEM + 1) * PG);
	ASSERT_EQ_U(p.demote[NDEM].heat, 7);
	ASSERT_TRUE(after > 0 && after <= before);
	ASSERT_TRUE(after <= NDEM / 512 + 2 || after < before);
	for (size_t i = 0; i < NDEM; i++) {
		uint64_t a = heat_key_addr(p.demote[i].key);

		keys[i] = p.demote[i].key;
		ASSERT_EQ_U(p.demote[i].heat, 0);
		ASSERT_TRUE(a >= (uintptr_t)mem && a < (uintptr_t)mem + NPG / 2 * PG);
	}
	qsort(keys, NDEM, sizeof(*keys), cmp_u64);
	for (size_t i = 1; i < NDEM; i++)
		ASSERT_TRUE(keys[i] != keys[i - 1]);
	ASSERT_TRUE(vacate_stats(v)->rewritten == NDEM);
	vacate_destroy(v);
	heat_destroy(h);
	free(p.demote);
	close(pm);
	munmap(mem, NPG * PG);
}

int
main(void)
{
	RUN_TEST(test_blocks);
	TEST_EXIT();
}
