/*
 * loop.c - the event loop on io_uring (see loop.h).
 *
 * Every watcher is a one-shot IORING_OP_POLL_ADD re-armed after its
 * callback runs.  One-shot rather than multishot because a regular trace
 * file is always "ready": re-arming after each bounded read lets timers
 * and signals interleave with a replay that never blocks.
 *
 * user_data encodes (generation << 32 | watcher index), so a completion
 * for a watcher that was removed (and its slot maybe reused) is
 * recognised by its stale generation and ignored.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <liburing.h>

#include "vtier/log.h"
#include "loop.h"

struct watcher {
	int fd;
	unsigned events;	/* poll mask */
	loop_fn fn;
	void *arg;
	uint32_t gen;
	bool active;
	bool armed;		/* a poll is in the ring for this slot */
	bool timer;		/* fd is our timerfd: read it, close it on del */
};

struct loop {
	struct io_uring ring;
	struct watcher *w;
	unsigned nw;		/* slots in use or used before */
	unsigned maxw;
	bool stop;
};

static inline uint64_t
ud_make(unsigned idx, uint32_t gen)
{
	return ((uint64_t)gen << 32) | idx;
}

int
loop_create(struct loop **lp, unsigned max_watchers)
{
	struct loop *l;
	int rc;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -ENOMEM;
	if ((l->w = calloc(max_watchers, sizeof(*l->w))) == NULL) {
		rc = -ENOMEM;
		goto err;
	}
	l->maxw = max_watchers;
	/* two entries per watcher: a poll and a possible poll removal */
	if ((rc = io_uring_queue_init(max_watchers * 2 + 8, &l->ring, 0)) < 0)
		goto err;
	*lp = l;
	return 0;
err:
	free(l->w);
	free(l);
	return rc;
}

void
loop_destroy(struct loop *l)
{
	if (l == NULL)
		return;
	for (unsigned i = 0; i < l->nw; i++)
		if (l->w[i].active && l->w[i].timer)
			close(l->w[i].fd);
	io_uring_queue_exit(&l->ring);
	free(l->w);
	free(l);
}

static struct io_uring_sqe *
get_sqe(struct loop *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);

	if (sqe == NULL) {
		/* the submission queue is full: flush it and try again */
		io_uring_submit(&l->ring);
		sqe = io_uring_get_sqe(&l->ring);
	}
	return sqe;
}

static int
arm(struct loop *l, unsigned idx)
{
	struct watcher *w = &l->w[idx];
	struct io_uring_sqe *sqe;

	if ((sqe = get_sqe(l)) == NULL)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, w->fd, w->events);
	io_uring_sqe_set_data64(sqe, ud_make(idx, w->gen));
	w->armed = true;
	return 0;
}

static int
add(struct loop *l, int fd, unsigned events, loop_fn fn, void *arg,
    bool timer)
{
	unsigned idx;
	int rc;

	for (idx = 0; idx < l->nw; idx++)
		if (!l->w[idx].active)
			break;
	if (idx == l->nw) {
		if (l->nw == l->maxw)
			return -ENOSPC;
		l->nw++;
	}
	l->w[idx].fd = fd;
	l->w[idx].events = events;
	l->w[idx].fn = fn;
	l->w[idx].arg = arg;
	l->w[idx].active = true;
	l->w[idx].timer = timer;
	l->w[idx].gen++;
	if ((rc = arm(l, idx)) < 0) {
		l->w[idx].active = false;
		return rc;
	}
	return (int)idx;
}

int
loop_add_fd(struct loop *l, int fd, loop_fn fn, void *arg)
{
	return add(l, fd, POLLIN, fn, arg, false);
}

int
loop_add_fd_events(struct loop *l, int fd, unsigned events, loop_fn fn,
    void *arg)
{
	return add(l, fd, events, fn, arg, false);
}

void
loop_del(struct loop *l, int id)
{
	struct watcher *w;
	struct io_uring_sqe *sqe;

	if (id < 0 || (unsigned)id >= l->nw || !l->w[id].active)
		return;
	w = &l->w[id];
	if (w->armed && (sqe = get_sqe(l)) != NULL) {
		io_uring_prep_poll_remove(sqe, ud_make((unsigned)id, w->gen));
		io_uring_sqe_set_data64(sqe, UINT64_MAX);
	}
	/* the ring holds its own file reference: closing the fd is safe */
	if (w->timer)
		close(w->fd);
	w->active = false;
	w->armed = false;
	w->gen++;
}

static struct timespec
ts_of(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ULL),
	    .tv_nsec = (long)(ns % 1000000000ULL) };

	return ts;
}

/* Set timer watcher id's timerfd: first expiry, period (0: once), flags. */
static int
watcher_settime(struct loop *l, int id, uint64_t value_ns,
    uint64_t interval_ns, int flags)
{
	struct itimerspec its = { .it_interval = ts_of(interval_ns),
	    .it_value = ts_of(value_ns) };

	if (id < 0 || (unsigned)id >= l->nw || !l->w[id].timer)
		return -EINVAL;
	if (timerfd_settime(l->w[id].fd, flags, &its, NULL) < 0)
		return -errno;
	return 0;
}

int
loop_timer_set(struct loop *l, int id, uint64_t interval_ns)
{
	return watcher_settime(l, id, interval_ns, interval_ns, 0);
}

int
loop_add_timer(struct loop *l, uint64_t interval_ns, loop_fn fn, void *arg)
{
	int fd, id, rc;

	if (interval_ns == 0)
		return -EINVAL;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if ((id = add(l, fd, POLLIN, fn, arg, true)) < 0) {
		close(fd);
		return id;
	}
	if ((rc = loop_timer_set(l, id, interval_ns)) < 0) {
		loop_del(l, id);
		return rc;
	}
	return id;
}

int
loop_add_alarm(struct loop *l, loop_fn fn, void *arg)
{
	int fd, id;

	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if ((id = add(l, fd, POLLIN, fn, arg, true)) < 0)
		close(fd);
	return id;
}

int
loop_alarm_at(struct loop *l, int id, uint64_t at_ns)
{
	return watcher_settime(l, id, at_ns, 0, TFD_TIMER_ABSTIME);
}

static void
dispatch(struct loop *l, uint64_t ud, int res)
{
	unsigned idx = (unsigned)(ud & 0xffffffffu);
	uint32_t gen = (uint32_t)(ud >> 32);
	struct watcher *w;
	bool keep;

	if (ud == UINT64_MAX || idx >= l->nw)
		return;		/* a poll removal's own completion */
	w = &l->w[idx];
	if (!w->active || w->gen != gen)
		return;		/* stale: the watcher was removed */
	w->armed = false;
	if (res < 0) {
		if (res == -ECANCELED)
			return;
		log_warnx("loop: poll on fd %d failed: %s", w->fd, strerror(-res));
		loop_del(l, (int)idx);
		return;
	}
	if (w->timer) {
		uint64_t expirations;

		if (read(w->fd, &expirations, sizeof(expirations)) < 0 &&
		    errno == EAGAIN) {
			arm(l, idx);
			return;
		}
	}
	keep = w->fn(w->arg, w->fd);
	/* the callback may have removed this watcher, or reused its slot */
	if (!w->active || w->gen != gen || w->armed)
		return;
	if (keep)
		arm(l, idx);
	else
		loop_del(l, (int)idx);
}

int
loop_run(struct loop *l)
{
	l->stop = false;
	while (!l->stop) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		int rc;

		rc = io_uring_submit_and_wait(&l->ring, 1);
		if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
			return rc;
		/*
		 * Copy completions out before dispatching: callbacks queue new
		 * submissions, and the ring must not be advanced under them.
		 */
		for (;;) {
			uint64_t ud[32];
			int res[32];
			unsigned k = 0;

			io_uring_for_each_cqe(&l->ring, head, cqe) {
				if (k == 32)
					break;
				ud[k] = io_uring_cqe_get_data64(cqe);
				res[k] = cqe->res;
				k++;
			}
			if (k == 0)
				break;
			io_uring_cq_advance(&l->ring, k);
			for (unsigned i = 0; i < k && !l->stop; i++)
				dispatch(l, ud[i], res[i]);
			n += k;
			if (l->stop)
				break;
		}
		(void)n;
	}
	return 0;
}

void
loop_stop(struct loop *l)
{
	l->stop = true;
}
