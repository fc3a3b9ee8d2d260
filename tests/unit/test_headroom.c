/* test_headroom.c - the headroom that follows the creep (headroom = auto) */
#include "vtier/log.h"
#include "vtier/util.h"
#include "config.h"
#include "headroom.h"
#include "../test.h"

#define S	1000000000ULL

/* No creep seen, none kept; a fixed headroom is the configured one. */
static void
test_headroom_none(void)
{
	struct agent_config cfg;
	struct headroom h;

	config_defaults(&cfg);
	ASSERT_EQ_U(cfg.headroom, CONFIG_HEADROOM_AUTO);
	headroom_init(&h);
	ASSERT_EQ_U(headroom_bytes(&h, &cfg, 4 * GiB, 0), 0);
	/* rounds that leave usage where the next one finds it */
	for (uint64_t t = 0; t < 100; t++)
		headroom_round(&h, 4 * GiB, 3 * GiB + t * MiB, 3 * GiB + (t + 1) * MiB,
		    t * S / 20);
	ASSERT_EQ_U(h.last_creep, 0);
	ASSERT_EQ_U(headroom_bytes(&h, &cfg, 4 * GiB, 5 * S), 0);
	/* memory freed between rounds is not creep */
	headroom_round(&h, 4 * GiB, 2 * GiB, 2 * GiB, 6 * S);
	ASSERT_EQ_U(headroom_bytes(&h, &cfg, 4 * GiB, 6 * S), 0);
	cfg.headroom = 8 * MiB;
	ASSERT_EQ_U(headroom_bytes(&h, &cfg, 4 * GiB, 6 * S), 8 * MiB);
	cfg.headroom = 0;
	headroom_round(&h, 4 * GiB, 3 * GiB, 3 * GiB, 7 * S);	/* 1 GiB of creep */
	ASSERT_EQ_U(headroom_bytes(&h, &cfg, 4 * GiB, 7 * S), 0);
}

/*
 * Creep between rounds: the headroom is twice the largest, at once,
 * then halves each HEADROOM_HALF_LIFE_NS unless creep comes back; a
 * smaller creep meanwhile does not lower it.
 */
static void
test_headroom_follows(void)
{
	struct agent_config cfg;
	struct headroom h;
	uint64_t half = HEADROOM_HALF_LIFE_NS, t = 10 * S;

	config_defaults(&cfg);
	headroom_init(&h);
	headroom_round(&h, 4 * GiB, 1 * GiB, 1 * GiB, t);
	/* 3 MiB appeared since the last round left 1 GiB */
	headroom_round(&h, 4 * GiB, 1 * GiB + 3 * MiB, 1 * GiB, t + S / 20);
	ASSERT_EQ_U(h.last_creep, 3 * MiB);
	ASSERT_EQ_U(headroom_bytes(&h, &cfg, 4 * GiB, t + S / 20), 6 * MiB);
	/* 1 MiB a round after that: the peak decays, not replaced */
	headroom_round(&h, 4 * GiB, 1 * GiB + 1 * MiB, 1 * GiB, t + half);
	ASSERT_EQ_U(h.last_creep, 1 * MiB);
	ASSERT_TRUE(headroom_bytes(&h, &cfg, 4 * GiB, t + half + S / 20) >=
	    3 * MiB - 4096);
	ASSERT_TRUE(headroom_bytes(&h, &cfg, 4 * GiB, t + half + S / 20) <=
	    3 * MiB + 4096);
	/* two half-lives on: a quarter, as whole pages */
	ASSERT_EQ_U(headroom_bytes(&h, &cfg, 4 * GiB, t + S / 20 + 2 * half),
	    3 * MiB / 2);
	ASSERT_EQ_U(headroom_bytes(&h, &cfg, 4 * GiB, t + S / 20 + 3 * half) %
	    4096, 0);
	/* long after, none: a tiny creep then counts again in full */
	ASSERT_EQ_U(headroom_bytes(&h, &cfg, 4 * GiB, t + 100 * half), 0);
	ASSERT_EQ_U(headroom_peak(&h, t + 100 * half), 0);
	headroom_round(&h, 4 * GiB, 1 * GiB + 100, 1 * GiB, t + 100 * half);
	ASSERT_EQ_U(headroom_bytes(&h, &cfg, 4 * GiB, t + 100 * half), 4096);
	/* a clock that goes back (a restarted sim) decays nothing */
	ASSERT_EQ_U(headroom_peak(&h, 0), 100);
}

/* At most HEADROOM_AUTO_MAX, and at most 1/16 of a small budget. */
static void
test_headroom_cap(void)
{
	struct agent_config cfg;
	struct headroom h;

	config_defaults(&cfg);
	headroom_init(&h);
	headroom_round(&h, 4 * GiB, 0, 0, 0);
	headroom_round(&h, 4 * GiB, 512 * MiB, 512 * MiB, S);	/* a burst */
	ASSERT_EQ_U(headroom_bytes(&h, &cfg, 4 * GiB, S), HEADROOM_AUTO_MAX);
	ASSERT_EQ_U(headroom_bytes(&h, &cfg, 96 * MiB, S), 6 * MiB);
	ASSERT_EQ_U(headroom_bytes(&h, &cfg, 16 * 4096 + 4095, S), 4096);
	ASSERT_EQ_U(headroom_bytes(&h, &cfg, 16 * 4096 - 1, S), 0);
	ASSERT_EQ_U(headroom_bytes(&h, &cfg, 0, S), 0);
	headroom_init(&h);
	headroom_round(&h, 4 * GiB, 0, 0, 0);
	headroom_round(&h, 4 * GiB, 20 * MiB, 0, S);	/* under half the cap */
	ASSERT_EQ_U(headroom_bytes(&h, &cfg, 640 * MiB, S), 40 * MiB);
	ASSERT_EQ_U(headroom_bytes(&h, &cfg, 4 * GiB, S), 40 * MiB);
	ASSERT_EQ_U(headroom_bytes(&h, &cfg, 320 * MiB, S), 20 * MiB);

	/*
	 * A burst under a small budget (the guest's hostmem scenario: 200
	 * MiB first touched, a budget of 96 MiB) counts as half the cap:
	 * the cap at once, half of it a half-life later, not minutes of
	 * the cap while 200 MiB decays.
	 */
	headroom_init(&h);
	headroom_round(&h, 96 * MiB, 40 * MiB, 40 * MiB, 0);
	headroom_round(&h, 96 * MiB, 240 * MiB, 90 * MiB, S);
	ASSERT_EQ_U(h.last_creep, 200 * MiB);
	ASSERT_EQ_U(headroom_peak(&h, S), 3 * MiB);
	ASSERT_EQ_U(headroom_bytes(&h, &cfg, 96 * MiB, S), 6 * MiB);
	ASSERT_EQ_U(headroom_bytes(&h, &cfg, 96 * MiB,
	    S + HEADROOM_HALF_LIFE_NS), 3 * MiB);
}

int
main(void)
{
	log_init("test_headroom", LOG_LVL_WARN);
	RUN_TEST(test_headroom_none);
	RUN_TEST(test_headroom_follows);
	RUN_TEST(test_headroom_cap);
	TEST_EXIT();
}
