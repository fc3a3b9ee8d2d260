/* test_worker.c - the worker thread: hand-over, eventfd, cancel, stop */
#include <errno.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "vtier/log.h"
#include "worker.h"
#include "../test.h"

struct job {
	const atomic_bool *cancel;
	int steps, done_steps;	/* steps of 10 ms, cancel polled between */
	int data;		/* written by the job, read after reap */
};

static void
run_job(void *arg)
{
	struct job *j = arg;
	struct timespec ts = { 0, 10 * 1000000L };

	for (j->done_steps = 0; j->done_steps < j->steps; j->done_steps++) {
		if (atomic_load(j->cancel))
			break;
		nanosleep(&ts, NULL);
	}
	j->data = 42;
}

static int
readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

/* The fd turns readable when the job is done, and idle after the reap. */
static void
test_handover(void)
{
	struct worker *w;
	struct job j = { .steps = 5 };

	ASSERT_EQ(worker_create(&w), 0);
	j.cancel = worker_cancel_flag(w);
	ASSERT_TRUE(!worker_busy(w));
	ASSERT_EQ(worker_reap(w), 0);
	ASSERT_EQ(worker_submit(w, run_job, &j), 0);
	ASSERT_TRUE(worker_busy(w));
	ASSERT_EQ(worker_submit(w, run_job, &j), -EBUSY);
	ASSERT_TRUE(readable(worker_fd(w), 5000));
	ASSERT_EQ(worker_reap(w), 1);
	ASSERT_TRUE(!worker_busy(w));
	ASSERT_EQ(j.data, 42);
	ASSERT_EQ(j.done_steps, 5);
	ASSERT_TRUE(!readable(worker_fd(w), 0));
	ASSERT_EQ(worker_reap(w), 0);
	/* again: the thread serves job after job */
	j.data = 0;
	ASSERT_EQ(worker_submit(w, run_job, &j), 0);
	worker_wait(w);
	ASSERT_TRUE(!worker_busy(w));
	ASSERT_EQ(j.data, 42);
	ASSERT_TRUE(!readable(worker_fd(w), 0));
	worker_destroy(w);
}

/* Cancel ends a long job at its next step; submit clears the flag. */
static void
test_cancel(void)
{
	struct worker *w;
	struct job j = { .steps = 100000 };	/* 1000 s uncancelled */

	ASSERT_EQ(worker_create(&w), 0);
	j.cancel = worker_cancel_flag(w);
	ASSERT_EQ(worker_submit(w, run_job, &j), 0);
	usleep(30000);
	worker_cancel(w);
	worker_wait(w);
	ASSERT_TRUE(j.done_steps < 100000);
	ASSERT_EQ(j.data, 42);
	j.steps = 3;
	ASSERT_EQ(worker_submit(w, run_job, &j), 0);
	worker_wait(w);
	ASSERT_EQ(j.done_steps, 3);
	worker_destroy(w);
}

/* Destroying with a job in flight cancels it and waits for it. */
static void
test_destroy_busy(void)
{
	struct worker *w;
	struct job j = { .steps = 100000 };

	ASSERT_EQ(worker_create(&w), 0);
	j.cancel = worker_cancel_flag(w);
	ASSERT_EQ(worker_submit(w, run_job, &j), 0);
	usleep(20000);
	worker_destroy(w);
	ASSERT_EQ(j.data, 42);
	ASSERT_TRUE(j.done_steps < 100000);
	worker_destroy(NULL);
}

int
main(void)
{
	log_init("test_worker", LOG_LVL_ERR);
	RUN_TEST(test_handover);
	RUN_TEST(test_cancel);
	RUN_TEST(test_destroy_busy);
	TEST_EXIT();
}
