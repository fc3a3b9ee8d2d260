/*
 * loop.c - the shim's one event loop, on epoll (level-triggered).
 *
 * A source is a struct loop_src embedded in whatever owns the fd
 * (listener, connection, control client, the signalfd); epoll hands the
 * pointer back.  Owners that close a source during a turn set its fd to
 * -1 and free it only after the turn (conn.c, ctl.c), so a later event
 * of the same batch finds a closed source and is skipped.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "vtier/util.h"
#include "hostshim.h"

#define LOOP_BATCH 64

int
loop_init(struct loop *l)
{
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return -errno;
	return 0;
}

void
loop_fini(struct loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

int
loop_add(struct loop *l, struct loop_src *s, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = s };

	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, s->fd, &ev) < 0)
		return -errno;
	s->events = events;
	return 0;
}

int
loop_mod(struct loop *l, struct loop_src *s, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = s };

	if (s->events == events)
		return 0;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, s->fd, &ev) < 0)
		return -errno;
	s->events = events;
	return 0;
}

void
loop_del(struct loop *l, struct loop_src *s)
{
	if (s->fd >= 0)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->fd, NULL);
}

int
loop_wait(struct loop *l, int timeout_ms)
{
	struct epoll_event ev[LOOP_BATCH];
	int n;

	if ((n = epoll_wait(l->epfd, ev, LOOP_BATCH, timeout_ms)) < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct loop_src *s = ev[i].data.ptr;

		if (s->fd >= 0)
			s->fn(s, ev[i].events);
	}
	return n;
}
