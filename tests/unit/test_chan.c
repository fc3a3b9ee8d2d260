/*
 * test_chan.c - the agent's channel (agent/chan.c) against a shim played
 * by this test over a real Unix socket: the pre-fault set goes out as
 * PREFAULT_PART frames when the shim's WELCOME offers
 * PROTO_CAP_PREFAULT_PARTS, as one PREFAULT to a shim that does not (an
 * older shim: its WELCOME has no caps), and a set larger than the
 * socket takes at once trickles out as the shim reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/proto.h"
#include "vtier/unixsock.h"
#include "vtier/util.h"
#include "chan.h"
#include "config.h"
#include "../test.h"

static char sock_path[108];
static int lfd = -1;

/* The agent's channel, connected to our listener and past WELCOME. */
static struct chan *
up(uint32_t shim_caps, int *sfd)
{
	struct agent_config cfg;
	struct proto_msg hello, m;
	struct proto_rbuf rb;
	struct chan_event ev;
	struct chan_info ci;
	struct chan *c;
	uint8_t buf[PROTO_MAX_FRAME];
	int n, fd;

	config_defaults(&cfg);
	cfg.shim = SHIM_UNIX;
	snprintf(cfg.shim_address, sizeof(cfg.shim_address), "%s", sock_path);
	proto_msg_init(&hello, PROTO_HELLO);
	hello.u.hello.caps = PROTO_CAP_PREFAULT | PROTO_CAP_PREFAULT_PARTS;
	proto_hello_add_node(&hello, 0, PROTO_NODE_HAS_CPU | PROTO_NODE_FAST,
	    GiB);
	if (chan_open(&c, &cfg, &hello) < 0)
		abort();
	chan_tick(c, now_ns(), NULL, &ev);		/* connects */
	if ((fd = accept(lfd, NULL, NULL)) < 0)
		abort();
	chan_io(c, now_ns(), &ev);			/* HELLO out */
	proto_rbuf_init(&rb);
	do {
		if ((n = (int)read(fd, buf, sizeof(buf))) <= 0 ||
		    proto_rbuf_feed(&rb, buf, (size_t)n) != n)
			abort();
	} while (proto_rbuf_next(&rb, &m) != 1);
	if (m.type != PROTO_HELLO ||
	    !(m.u.hello.caps & PROTO_CAP_PREFAULT_PARTS))
		abort();
	proto_msg_welcome(&m, 1, GiB, "vm1");
	m.u.welcome.caps = shim_caps;
	if ((n = proto_encode(&m, 0, buf, sizeof(buf))) < 0 ||
	    write(fd, buf, (size_t)n) != n)
		abort();
	chan_io(c, now_ns(), &ev);
	chan_info(c, &ci);
	if (ci.state != CHAN_UP || ci.shim_caps != shim_caps)
		abort();
	fcntl(fd, F_SETFL, O_NONBLOCK);
	*sfd = fd;
	return c;
}

/*
 * Read what the agent sent, driving its channel whenever the socket is
 * drained, until a frame completes a set (PREFAULT, or PREFAULT_PART
 * with PROTO_PF_LAST) or nothing moves.  The frames into out.
 */
static int
collect(struct chan *c, int fd, struct proto_msg *out, int max)
{
	struct proto_rbuf rb;
	struct chan_event ev;
	uint8_t buf[1024];
	int n = 0, idle = 0;

	proto_rbuf_init(&rb);
	while (n < max && idle < 50) {
		ssize_t k = read(fd, buf, sizeof(buf));
		size_t off = 0;

		if (k <= 0) {
			chan_io(c, now_ns(), &ev);	/* writable again */
			idle++;
			continue;
		}
		idle = 0;
		while (off < (size_t)k) {
			int f = proto_rbuf_feed(&rb, buf + off, (size_t)k - off);

			if (f < 0)
				return -1;
			off += (size_t)f;
			while (n < max && proto_rbuf_next(&rb, &out[n]) == 1) {
				if (out[n].type == PROTO_PREFAULT ||
				    (out[n].type == PROTO_PREFAULT_PART &&
				    (out[n].u.prefault.flags & PROTO_PF_LAST)))
					return n + 1;
				n++;
			}
		}
	}
	return n;
}

static struct proto_range r[2000];

static void
test_parts(void)
{
	static struct proto_msg out[64];
	struct chan *c;
	int fd, sndbuf = 4096, n;
	size_t got = 0;

	c = up(PROTO_CAP_PREFAULT_PARTS, &fd);
	/* a small socket buffer: 2000 ranges (500 KiB of frames) trickle */
	setsockopt(chan_fd(c), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	ASSERT_EQ(chan_prefault(c, r, 2000, PROTO_PF_FAST_NODE,
	    PROTO_PF_WHY_KCORE, now_ns()), 0);
	ASSERT_TRUE(chan_events(c) & POLLOUT);	/* more to write */
	n = collect(c, fd, out, 64);
	ASSERT_EQ(n, 32);			/* 31 x 64 + 16 */
	for (int i = 0; i < n; i++) {
		ASSERT_EQ(out[i].type, PROTO_PREFAULT_PART);
		ASSERT_EQ(out[i].u.prefault.reason, PROTO_PF_WHY_KCORE);
		ASSERT_EQ(out[i].u.prefault.flags, PROTO_PF_FAST_NODE |
		    (i == n - 1 ? PROTO_PF_LAST : 0));
		for (int k = 0; k < out[i].u.prefault.nranges; k++, got++)
			ASSERT_EQ_U(out[i].u.prefault.ranges[k].gpa, r[got].gpa);
	}
	ASSERT_EQ(got, 2000);
	ASSERT_EQ(chan_events(c) & POLLOUT, 0);	/* all out */
	chan_close(c);
	close(fd);
}

/* A shim that offers nothing new: one PREFAULT, as version 1 had it. */
static void
test_old_shim(void)
{
	struct proto_msg out[4];
	struct chan_info ci;
	struct chan *c;
	int fd;

	c = up(0, &fd);
	ASSERT_EQ(chan_prefault(c, r, PROTO_MAX_RANGES + 1, 0, 0, now_ns()),
	    -E2BIG);
	ASSERT_EQ(chan_prefault(c, r, 3, PROTO_PF_FAST_NODE, 1, now_ns()), 0);
	ASSERT_EQ(collect(c, fd, out, 4), 1);
	ASSERT_EQ(out[0].type, PROTO_PREFAULT);
	ASSERT_EQ(out[0].u.prefault.nranges, 3);
	ASSERT_EQ(out[0].u.prefault.flags, 0);
	chan_info(c, &ci);
	ASSERT_EQ(ci.prefault, CHAN_PF_WAITING);
	chan_close(c);
	close(fd);
}

int
main(void)
{
	log_init("test_chan", LOG_LVL_ERR);
	signal(SIGPIPE, SIG_IGN);	/* as the agent: BYE to a closed peer */
	snprintf(sock_path, sizeof(sock_path), "/tmp/vtier-test-chan.%d",
	    (int)getpid());
	if ((lfd = unix_listen(sock_path, 0600, 4)) < 0) {
		fprintf(stderr, "listen %s: %s\n", sock_path, strerror(-lfd));
		return 1;
	}
	for (int i = 0; i < 2000; i++)		/* a page every other page */
		r[i] = (struct proto_range){ (uint64_t)i * 8192, 4096 };
	RUN_TEST(test_parts);
	RUN_TEST(test_old_shim);
	close(lfd);
	unlink(sock_path);
	TEST_EXIT();
}
