/*
 * loop.h - the agent's one event loop, on io_uring.  loop.c is the only
 * file that includes liburing.h.
 *
 * Watchers are fds polled for input (sampler fds, the signalfd, timerfds,
 * the status socket).  A watcher's callback runs once per readiness and
 * returns whether to keep watching; removal is safe from any callback.
 */
#ifndef VTIER_AGENT_LOOP_H
#define VTIER_AGENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;

/* Return true to keep polling the fd, false to stop watching it. */
typedef bool (*loop_fn)(void *arg, int fd);

int loop_create(struct loop **lp, unsigned max_watchers);
void loop_destroy(struct loop *l);

/* Watch fd for POLLIN.  Returns a watcher id >= 0 or -errno. */
int loop_add_fd(struct loop *l, int fd, loop_fn fn, void *arg);
/* The same for other poll events (POLLOUT for a connect in progress). */
int loop_add_fd_events(struct loop *l, int fd, unsigned events, loop_fn fn,
    void *arg);
/* Stop watching (the caller still owns and closes the fd). */
void loop_del(struct loop *l, int id);

/*
 * A periodic timer (timerfd, CLOCK_MONOTONIC) calling fn every
 * interval_ns.  Returns a watcher id or -errno.  loop_timer_set changes
 * the interval.
 */
int loop_add_timer(struct loop *l, uint64_t interval_ns, loop_fn fn, void *arg);
int loop_timer_set(struct loop *l, int id, uint64_t interval_ns);
/*
 * A one-shot timer, created disarmed: loop_alarm_at arms it to call fn
 * once at at_ns (CLOCK_MONOTONIC, now_ns's clock; a time already past
 * fires at once), or disarms it (0).  Re-arming replaces the time.
 */
int loop_add_alarm(struct loop *l, loop_fn fn, void *arg);
int loop_alarm_at(struct loop *l, int id, uint64_t at_ns);

/* Run until loop_stop().  0, or -errno if io_uring fails. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif
