/* test_loop.c - the io_uring event loop: fds, timers, alarms, removal */
#include <errno.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "loop.h"
#include "../test.h"

struct ctx {
	struct loop *l;
	int pipe_r, pipe_w;
	int reads, ticks, fast_ticks;
	int fast_id;
};

static bool
on_pipe(void *arg, int fd)
{
	struct ctx *c = arg;
	char b;

	if (read(fd, &b, 1) == 1)
		c->reads++;
	return true;
}

static bool
on_fast(void *arg, int fd)
{
	struct ctx *c = arg;

	(void)fd;
	if (++c->fast_ticks == 3)
		return false;		/* stop watching: the timer is removed */
	return true;
}

static bool
on_tick(void *arg, int fd)
{
	struct ctx *c = arg;

	(void)fd;
	c->ticks++;
	if (c->ticks <= 3) {
		if (write(c->pipe_w, "x", 1) != 1)
			abort();
	}
	if (c->ticks == 10)
		loop_stop(c->l);
	return true;
}

static void
test_loop_basic(void)
{
	struct ctx c = { 0 };
	int p[2];
	uint64_t t0;

	ASSERT_EQ(pipe(p), 0);
	c.pipe_r = p[0];
	c.pipe_w = p[1];
	ASSERT_EQ(loop_create(&c.l, 8), 0);
	ASSERT_TRUE(loop_add_fd(c.l, c.pipe_r, on_pipe, &c) >= 0);
	c.fast_id = loop_add_timer(c.l, 2000000, on_fast, &c);
	ASSERT_TRUE(c.fast_id >= 0);
	ASSERT_TRUE(loop_add_timer(c.l, 5000000, on_tick, &c) >= 0);
	t0 = now_ns();
	ASSERT_EQ(loop_run(c.l), 0);
	ASSERT_EQ(c.ticks, 10);
	ASSERT_EQ(c.reads, 3);
	ASSERT_EQ(c.fast_ticks, 3);		/* removed after its 3rd call */
	ASSERT_TRUE(now_ns() - t0 >= 45000000ULL);
	loop_destroy(c.l);
	close(p[0]);
	close(p[1]);
}

static void
test_loop_limits(void)
{
	struct loop *l;
	int p[2], id;

	ASSERT_EQ(pipe(p), 0);
	ASSERT_EQ(loop_create(&l, 2), 0);
	ASSERT_TRUE(loop_add_fd(l, p[0], on_pipe, NULL) >= 0);
	id = loop_add_fd(l, p[0], on_pipe, NULL);
	ASSERT_TRUE(id >= 0);
	ASSERT_EQ(loop_add_fd(l, p[0], on_pipe, NULL), -ENOSPC);
	loop_del(l, id);
	ASSERT_TRUE(loop_add_fd(l, p[0], on_pipe, NULL) >= 0);	/* slot reused */
	ASSERT_EQ(loop_add_timer(l, 0, on_tick, NULL), -EINVAL);
	loop_destroy(l);
	close(p[0]);
	close(p[1]);
}

struct alarm_ctx {
	struct loop *l;
	int id, rings, stops, rc;
	uint64_t t0, at[3];
};

static bool
on_alarm(void *arg, int fd)
{
	struct alarm_ctx *c = arg;

	(void)fd;
	if (c->rings < 3)
		c->at[c->rings] = now_ns() - c->t0;
	if (++c->rings == 1)	/* once more, at a time already past */
		c->rc |= loop_alarm_at(c->l, c->id, 1);
	return true;
}

static bool
on_stop(void *arg, int fd)
{
	struct alarm_ctx *c = arg;

	(void)fd;
	if (++c->stops == 1) {
		/* armed, then disarmed: it must not ring */
		c->rc |= loop_alarm_at(c->l, c->id, now_ns() + 2000000);
		c->rc |= loop_alarm_at(c->l, c->id, 0);
	} else {
		loop_stop(c->l);
	}
	return true;
}

/* A one-shot alarm: re-arming replaces its time, 0 disarms it. */
static void
test_loop_alarm(void)
{
	struct alarm_ctx c = { 0 };

	ASSERT_EQ(loop_create(&c.l, 4), 0);
	c.id = loop_add_alarm(c.l, on_alarm, &c);
	ASSERT_TRUE(c.id >= 0);
	c.t0 = now_ns();
	ASSERT_EQ(loop_alarm_at(c.l, c.id, c.t0 + 3000000), 0);
	ASSERT_EQ(loop_alarm_at(c.l, c.id, c.t0 + 8000000), 0);
	ASSERT_TRUE(loop_add_timer(c.l, 30000000, on_stop, &c) >= 0);
	ASSERT_EQ(loop_run(c.l), 0);
	ASSERT_EQ(c.rc, 0);
	ASSERT_EQ(c.stops, 2);
	ASSERT_EQ(c.rings, 2);		/* the replaced time, then the past one */
	ASSERT_TRUE(c.at[0] >= 8000000);
	ASSERT_TRUE(c.at[1] >= c.at[0]);
	ASSERT_EQ(loop_alarm_at(c.l, 99, 1), -EINVAL);	/* no such watcher */
	loop_destroy(c.l);
}

int
main(void)
{
	log_init("test_loop", LOG_LVL_WARN);
	RUN_TEST(test_loop_basic);
	RUN_TEST(test_loop_limits);
	RUN_TEST(test_loop_alarm);
	TEST_EXIT();
}
