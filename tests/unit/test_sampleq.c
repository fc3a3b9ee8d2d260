/* test_sampleq.c - the queue of samples read while a round runs */
#include <errno.h>

#include "vtier/log.h"
#include "sampleq.h"
#include "../test.h"

struct seen {
	uint64_t n, sum, last_t;
	uint32_t pid;
	int order_ok;
	uint64_t next_addr;
};

static void
collect(void *arg, uint32_t pid, uint64_t addr, uint64_t t)
{
	struct seen *s = arg;

	if (addr != s->next_addr || t < s->last_t)
		s->order_ok = 0;
	s->next_addr = addr + 1;
	s->last_t = t;
	s->pid = pid;
	s->sum += t;
	s->n++;
}

/* Oldest first, each with the time of its batch; the queue empties. */
static void
test_order_and_times(void)
{
	struct sampleq *q;
	struct seen s = { .order_ok = 1 };

	ASSERT_EQ(sampleq_create(&q, 10000), 0);
	for (uint64_t i = 0; i < 5000; i++)
		ASSERT_EQ(sampleq_push(q, 42, i, 100 + i / 1000), 0);
	ASSERT_EQ_U(sampleq_len(q), 5000);
	ASSERT_EQ_U(sampleq_room(q), 5000);
	sampleq_drain(q, collect, &s);
	ASSERT_EQ_U(s.n, 5000);
	ASSERT_TRUE(s.order_ok);
	ASSERT_EQ(s.pid, 42);
	/* 1000 each at 100..104 */
	ASSERT_EQ_U(s.sum, 1000ULL * (100 + 101 + 102 + 103 + 104));
	ASSERT_EQ_U(sampleq_len(q), 0);
	ASSERT_EQ_U(sampleq_room(q), 10000);
	ASSERT_EQ_U(sampleq_high(q), 5000);
	/* and again after a drain, times going on */
	s = (struct seen){ .order_ok = 1 };
	for (uint64_t i = 0; i < 3; i++)
		ASSERT_EQ(sampleq_push(q, 7, i, 200), 0);
	sampleq_drain(q, collect, &s);
	ASSERT_EQ_U(s.n, 3);
	ASSERT_TRUE(s.order_ok);
	ASSERT_EQ_U(s.sum, 600);
	ASSERT_EQ_U(sampleq_high(q), 5000);
	sampleq_destroy(q);
}

/* Full at the bound, however the times fall; a drain makes room. */
static void
test_bound(void)
{
	struct sampleq *q;
	struct seen s = { .order_ok = 1 };

	ASSERT_EQ(sampleq_create(&q, 0), -EINVAL);
	ASSERT_EQ(sampleq_create(&q, 3000), 0);
	for (uint64_t i = 0; i < 3000; i++)	/* a new time each: worst case */
		ASSERT_EQ(sampleq_push(q, 1, i, i), 0);
	ASSERT_EQ(sampleq_push(q, 1, 3000, 3000), -ENOSPC);
	ASSERT_EQ_U(sampleq_room(q), 0);
	sampleq_drain(q, collect, &s);
	ASSERT_EQ_U(s.n, 3000);
	ASSERT_TRUE(s.order_ok);
	ASSERT_EQ(sampleq_push(q, 1, 0, 1), 0);
	sampleq_destroy(q);
	sampleq_destroy(NULL);
}

int
main(void)
{
	log_init("test_sampleq", LOG_LVL_ERR);
	RUN_TEST(test_order_and_times);
	RUN_TEST(test_bound);
	TEST_EXIT();
}
