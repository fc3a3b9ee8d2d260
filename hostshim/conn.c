/*
 * conn.c - the socket side of an agent connection: non-blocking reads
 * fed to the session, the session's output written as the socket takes
 * it.  The protocol itself is session.c's.
 *
 * Fairness: one read of at most READ_MAX bytes per connection per loop
 * turn (epoll is level-triggered, so the rest waits its turn), output
 * written without blocking, EPOLLOUT armed only while output is pending.
 * A peer that does not read is cut off by the session's output cap; a
 * session that ends with something to say (ERROR, BYE) gets one
 * non-blocking write, never a wait.
 *
 * Closing happens in the middle of a loop turn; the struct is freed
 * only after it (conn_reap), so a later event of the same epoll batch
 * for it finds fd -1 and is skipped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "hostshim.h"

#define READ_MAX (16 * 1024)

static const char *
via_name(enum via v)
{
	switch (v) {
	case VIA_VSOCK: return "vsock";
	case VIA_UNIX: return "unix";
	case VIA_SERIAL: return "serial";
	}
	return "?";
}

static void
mark_dirty(void *arg)
{
	struct conn *c = arg;
	struct shim *sh = c->sh;

	if (c->dirty || c->closed)
		return;
	c->dirty = true;
	c->dnext = sh->dirty;
	sh->dirty = c;
}

/* Write what the socket takes.  0, or -errno when the peer is gone. */
static int
flush(struct conn *c)
{
	const uint8_t *p;
	size_t len;
	ssize_t n;

	for (;;) {
		p = session_output(c->s, &len);
		if (len == 0)
			break;
		n = send(c->src.fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		session_consumed(c->s, (size_t)n);
	}
	loop_mod(&c->sh->loop, &c->src, EPOLLIN | (len > 0 ? EPOLLOUT : 0));
	return 0;
}

/*
 * After anything that may have moved the session on: write, and close
 * when it has ended (a CLOSING session's last words get one try).
 */
static void
settle(struct conn *c)
{
	if (c->closed)
		return;
	if (c->s->st == SESS_DEAD) {
		conn_close(c, c->s->end);
		return;
	}
	if (flush(c) < 0) {
		conn_close(c, END_IO);
		return;
	}
	if (c->s->st == SESS_CLOSING)
		conn_close(c, c->s->end);
}

static void
on_io(struct loop_src *src, uint32_t events)
{
	struct conn *c = src->arg;
	uint8_t buf[READ_MAX];
	ssize_t n;

	if (events & EPOLLOUT) {
		if (flush(c) < 0) {
			conn_close(c, END_IO);
			return;
		}
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	n = recv(src->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n > 0)
		session_input(c->s, buf, (size_t)n, now_ns());
	else if (n == 0)
		session_close(c->s, END_EOF);
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		session_close(c->s, END_IO);
	settle(c);
}

int
conn_new(struct shim *sh, int fd, struct vm *vm, enum via via)
{
	struct session_limits lim = {
		.handshake_ns = sh->cfg.handshake_ms * 1000000ULL,
		.idle_ns = sh->cfg.idle_ms * 1000000ULL,
		.output_max = (size_t)sh->cfg.output_max,
	};
	struct conn *c;
	int rc;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	if ((rc = session_new(&c->s, vm, via == VIA_SERIAL, &lim,
	    now_ns())) < 0) {
		close(fd);
		free(c);
		return rc;
	}
	c->sh = sh;
	c->via = via;
	c->s->on_output = mark_dirty;
	c->s->arg = c;
	c->src.fd = fd;
	c->src.fn = on_io;
	c->src.arg = c;
	if ((rc = loop_add(&sh->loop, &c->src, EPOLLIN)) < 0) {
		session_free(c->s);
		close(fd);
		free(c);
		return rc;
	}
	c->next = sh->conns;
	if (sh->conns != NULL)
		sh->conns->prev = c;
	sh->conns = c;
	sh->nconns++;
	log_debug("VM %s: %s connection %d accepted", vm->cfg.name,
	    via_name(via), fd);
	return 0;
}

void
conn_close(struct conn *c, enum session_end why)
{
	struct shim *sh = c->sh;

	if (c->closed)
		return;
	session_close(c->s, why);
	sh->count.ends[c->s->end]++;
	log_debug("VM %s: %s connection %d closed: %s", c->s->vm->cfg.name,
	    via_name(c->via), c->src.fd, session_end_name(c->s->end));
	loop_del(&sh->loop, &c->src);
	close(c->src.fd);
	c->src.fd = -1;
	session_free(c->s);
	c->s = NULL;
	c->closed = true;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		sh->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	sh->nconns--;
	c->gnext = sh->dead;
	sh->dead = c;
}

void
conn_flush_dirty(struct shim *sh)
{
	while (sh->dirty != NULL) {
		struct conn *c = sh->dirty;

		sh->dirty = c->dnext;
		c->dnext = NULL;
		c->dirty = false;
		settle(c);
	}
}

void
conn_tick_all(struct shim *sh, uint64_t now)
{
	struct conn *c, *next;

	for (c = sh->conns; c != NULL; c = next) {
		next = c->next;
		if (session_tick(c->s, now) < 0)
			settle(c);
	}
}

void
conn_reap(struct shim *sh)
{
	conn_flush_dirty(sh);
	while (sh->dead != NULL) {
		struct conn *c = sh->dead;

		sh->dead = c->gnext;
		free(c);
	}
}

void
conn_close_vm(struct shim *sh, struct vm *vm, uint32_t reason)
{
	struct conn *c, *next;

	for (c = sh->conns; c != NULL; c = next) {
		next = c->next;
		if (vm != NULL && c->s->vm != vm)
			continue;
		session_bye(c->s, reason);
		settle(c);
		if (!c->closed)
			conn_close(c, END_SHUTDOWN);
	}
}
