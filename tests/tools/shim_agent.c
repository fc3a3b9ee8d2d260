/*
 * shim_agent.c - a scriptable stand-in for the vtier agent's channel, to
 * test vtier-hostshim over its Unix sockets.  It speaks the real
 * protocol through the shared codec (include/vtier/proto.c).
 *
 *   shim_agent [-t SECS] hello SOCK [NAME BUDGET]
 *       HELLO, wait for WELCOME, print "WELCOME NAME BUDGET"; with NAME
 *       and BUDGET given, exit 1 unless they match.
 *   shim_agent [-t SECS] watch SOCK [--until-budget N] [--welcomes K]
 *           [--until-bye] [--reconnect]
 *       Connect and HELLO, then print every message as it arrives,
 *       "MS TYPE ..." with MS the CLOCK_REALTIME in milliseconds; answer
 *       PING.  --reconnect: connect again 100 ms after the shim goes.
 *       Exit 0 once a WELCOME or BUDGET carried N, K WELCOMEs came (1 by
 *       default) and, with --until-bye, a BYE came.
 *   shim_agent [-t SECS] prefault SOCK GPA+SIZE[,GPA+SIZE...]
 *       Print "DONE STATUS BYTES" or "ERROR CODE TEXT".
 *   shim_agent [-t SECS] bye SOCK
 *   shim_agent [-t SECS] stats SOCK FAST_USED HOT_SET SAMPLES_PER_S_MILLI
 *           PROMOTED DEMOTED LOST FLAGS
 *       Send STATS, then PING and wait for the PONG (so it was handled).
 *   shim_agent [-t SECS] version SOCK
 *       A HELLO claiming protocol version 2: print the ERROR, expect EOF.
 *   shim_agent [-t SECS] raw SOCK HEX
 *       Send bytes, print what comes back until EOF: "EOF" or "OPEN".
 *   shim_agent mincore FILE
 *       "resident PAGES" then each resident run as "OFFSET+LENGTH" (hex).
 *   shim_agent [-t SECS] storm DIR NVMS NCONN
 *       NCONN concurrent connections to DIR/vmI.sock (I < NVMS) in one
 *       epoll loop: 6/10 well-behaved, 2/10 slow (dribbling HELLO a byte
 *       every 10 ms), 1/10 hostile (garbage, an oversized length, half
 *       open, a frame cut short), 1/10 flooding PINGs without ever
 *       reading.  Every well-behaved and slow one must get WELCOME with
 *       name vmI and budget (64 + I) MiB; every hostile one and flooder
 *       must be closed by the shim.  Prints the timings.
 * Exit: 0 as expected, 1 not, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vtier/proto.h"
#include "vtier/util.h"
#include "shim_hello.h"

static int timeout_s = 10;
static uint32_t seq;

static uint64_t
real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
connect_unix(const char *path, bool nonblock)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int
send_msg(int fd, const struct proto_msg *m)
{
	uint8_t buf[PROTO_MAX_FRAME];
	int n = proto_encode(m, seq++, buf, sizeof(buf));

	if (n < 0)
		return n;
	return write_all(fd, buf, (size_t)n);
}

/*
 * Wait for the next message: 1 and m, 0 on EOF, -ETIMEDOUT, or a
 * decode error.  rb holds partial frames between calls.
 */
static int
recv_msg(int fd, struct proto_rbuf *rb, struct proto_msg *m, int ms)
{
	uint8_t buf[PROTO_MAX_FRAME];
	int r;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		size_t off = 0;

		if ((r = proto_rbuf_next(rb, m)) != 0)
			return r;
		if (poll(&pfd, 1, ms) == 0)
			return -ETIMEDOUT;
		n = read(fd, buf, sizeof(buf) < proto_rbuf_want(rb) ?
		    sizeof(buf) : proto_rbuf_want(rb));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == ECONNRESET ? 0 : -errno;
		if (n == 0)
			return 0;
		while (off < (size_t)n) {
			int k = proto_rbuf_feed(rb, buf + off, (size_t)n - off);

			if (k < 0)
				return k;
			off += (size_t)k;
		}
	}
}

static void
print_msg(const struct proto_msg *m)
{
	switch (m->type) {
	case PROTO_WELCOME:
		printf("WELCOME %s %llu\n", m->u.welcome.name,
		    (unsigned long long)m->u.welcome.budget);
		break;
	case PROTO_BUDGET:
		printf("BUDGET %llu\n", (unsigned long long)m->u.budget.budget);
		break;
	case PROTO_PREFAULT_DONE:
		printf("DONE %d %llu\n", m->u.prefault_done.status,
		    (unsigned long long)m->u.prefault_done.bytes_pinned);
		break;
	case PROTO_ERROR:
		printf("ERROR %u %s\n", m->u.error.code, m->u.error.text);
		break;
	case PROTO_BYE:
		printf("BYE %u\n", m->u.bye.reason);
		break;
	case PROTO_PING:
	case PROTO_PONG:
		printf("%s %llu\n", proto_type_name(m->type),
		    (unsigned long long)m->u.ping.token);
		break;
	default:
		printf("%s\n", proto_type_name(m->type));
		break;
	}
	fflush(stdout);
}

/* Connect, HELLO, WELCOME: the fd, or -errno (printed). */
static int
handshake(const char *sock, struct proto_rbuf *rb, struct proto_msg *w)
{
	struct proto_msg m;
	int fd, r;

	if ((fd = connect_unix(sock, false)) < 0) {
		fprintf(stderr, "shim_agent: connect %s: %s\n", sock,
		    strerror(-fd));
		return fd;
	}
	shim_test_hello(&m);
	proto_rbuf_init(rb);
	if ((r = send_msg(fd, &m)) < 0 ||
	    (r = recv_msg(fd, rb, w, timeout_s * 1000)) <= 0 ||
	    w->type != PROTO_WELCOME) {
		fprintf(stderr, "shim_agent: no WELCOME (%s)\n", r == 0 ?
		    "EOF" : r < 0 ? proto_strerror(r) :
		    proto_type_name(w->type));
		if (r == 1)
			print_msg(w);
		close(fd);
		return r < 0 ? r : -EPROTO;
	}
	return fd;
}

static int
cmd_hello(int argc, char **argv)
{
	struct proto_rbuf rb;
	struct proto_msg w;
	uint64_t want;
	int fd;

	if (argc != 1 && argc != 3)
		return 2;
	if ((fd = handshake(argv[0], &rb, &w)) < 0)
		return 1;
	print_msg(&w);
	close(fd);
	if (argc == 3) {
		if (parse_size(argv[2], &want) < 0)
			return 2;
		if (strcmp(w.u.welcome.name, argv[1]) != 0 ||
		    w.u.welcome.budget != want) {
			fprintf(stderr, "shim_agent: expected %s %llu\n",
			    argv[1], (unsigned long long)want);
			return 1;
		}
	}
	return 0;
}

static int
cmd_watch(int argc, char **argv)
{
	uint64_t until = 0, deadline = real_ms() + (uint64_t)timeout_s * 1000;
	int welcomes = 1, seen = 0, fd = -1;
	bool reconnect = false, hit = false, until_bye = false, bye = false;
	struct proto_rbuf rb;
	struct proto_msg m;

	if (argc < 1)
		return 2;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--until-budget") == 0 && i + 1 < argc) {
			if (parse_size(argv[++i], &until) < 0)
				return 2;
		} else if (strcmp(argv[i], "--welcomes") == 0 && i + 1 < argc) {
			welcomes = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--reconnect") == 0) {
			reconnect = true;
		} else if (strcmp(argv[i], "--until-bye") == 0) {
			until_bye = true;
		} else {
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (real_ms() < deadline) {
		int r;

		if (fd < 0) {
			if ((fd = connect_unix(argv[0], false)) < 0) {
				if (!reconnect)
					break;
				usleep(100000);
				continue;
			}
			proto_rbuf_init(&rb);
			shim_test_hello(&m);
			send_msg(fd, &m);
		}
		r = recv_msg(fd, &rb, &m, 100);
		if (r == -ETIMEDOUT)
			continue;
		if (r <= 0) {
			printf("%llu %s\n", (unsigned long long)real_ms(),
			    r == 0 ? "EOF" : proto_strerror(r));
			close(fd);
			fd = -1;
			if (!reconnect)
				break;
			usleep(100000);
			continue;
		}
		printf("%llu ", (unsigned long long)real_ms());
		print_msg(&m);
		if (m.type == PROTO_PING) {
			struct proto_msg p;

			proto_msg_pong(&p, m.u.ping.token);
			send_msg(fd, &p);
		}
		if (m.type == PROTO_WELCOME) {
			seen++;
			if (until != 0 && m.u.welcome.budget == until)
				hit = true;
		}
		if (m.type == PROTO_BUDGET && until != 0 &&
		    m.u.budget.budget == until)
			hit = true;
		if (m.type == PROTO_BYE)
			bye = true;
		if ((until == 0 || hit) && seen >= welcomes &&
		    (!until_bye || bye))
			break;
	}
	if (fd >= 0)
		close(fd);
	return (until == 0 || hit) && seen >= welcomes &&
	    (!until_bye || bye) ? 0 : 1;
}

static int
parse_ranges(const char *s, struct proto_msg *m)
{
	char buf[4096], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", s);
	proto_msg_init(m, PROTO_PREFAULT);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		char *plus = strchr(tok, '+');
		uint64_t gpa, size;

		if (plus == NULL)
			return -EINVAL;
		*plus = '\0';
		if (parse_size(tok, &gpa) < 0 && parse_hex_u64(tok, &gpa) < 0)
			return -EINVAL;
		if (parse_size(plus + 1, &size) < 0 &&
		    parse_hex_u64(plus + 1, &size) < 0)
			return -EINVAL;
		/* no merging: the request goes out as written */
		if (m->u.prefault.nranges >= PROTO_MAX_RANGES)
			return -ENOSPC;
		m->u.prefault.ranges[m->u.prefault.nranges].gpa = gpa;
		m->u.prefault.ranges[m->u.prefault.nranges].size = size;
		m->u.prefault.nranges++;
	}
	return 0;
}

/* Send m after the handshake; print the first reply of a type in want. */
static int
request(const char *sock, const struct proto_msg *req, uint16_t want1,
    uint16_t want2)
{
	struct proto_rbuf rb;
	struct proto_msg m;
	int fd, r;

	if ((fd = handshake(sock, &rb, &m)) < 0)
		return 1;
	if ((r = send_msg(fd, req)) < 0) {
		fprintf(stderr, "shim_agent: send: %s\n", strerror(-r));
		close(fd);
		return 1;
	}
	for (;;) {
		r = recv_msg(fd, &rb, &m, timeout_s * 1000);
		if (r <= 0) {
			fprintf(stderr, "shim_agent: no reply: %s\n", r == 0 ?
			    "EOF" : proto_strerror(r));
			close(fd);
			return 1;
		}
		if (m.type == want1 || m.type == want2)
			break;
	}
	print_msg(&m);
	close(fd);
	return 0;
}

static int
cmd_prefault(int argc, char **argv)
{
	struct proto_msg m;

	if (argc != 2 || parse_ranges(argv[1], &m) < 0)
		return 2;
	return request(argv[0], &m, PROTO_PREFAULT_DONE, PROTO_ERROR);
}

static int
cmd_stats(int argc, char **argv)
{
	struct proto_rbuf rb;
	struct proto_msg m;
	uint64_t v[7];
	int fd, r;

	if (argc != 8)
		return 2;
	for (int i = 0; i < 7; i++)
		if (parse_u64(argv[i + 1], &v[i]) < 0)
			return 2;
	if ((fd = handshake(argv[0], &rb, &m)) < 0)
		return 1;
	proto_msg_init(&m, PROTO_STATS);
	m.u.stats.fast_used = v[0];
	m.u.stats.hot_set_bytes = v[1];
	m.u.stats.samples_per_s_milli = v[2];
	m.u.stats.promoted_pages = v[3];
	m.u.stats.demoted_pages = v[4];
	m.u.stats.lost_samples = v[5];
	m.u.stats.flags = (uint32_t)v[6];
	m.u.stats.samples = 1000;
	m.u.stats.uptime_ms = 5000;
	send_msg(fd, &m);
	proto_msg_ping(&m, 42);
	send_msg(fd, &m);
	do {
		r = recv_msg(fd, &rb, &m, timeout_s * 1000);
	} while (r == 1 && m.type != PROTO_PONG);
	close(fd);
	return r == 1 ? 0 : 1;
}

static int
cmd_bye(int argc, char **argv)
{
	struct proto_rbuf rb;
	struct proto_msg m;
	int fd, r;

	if (argc != 1)
		return 2;
	if ((fd = handshake(argv[0], &rb, &m)) < 0)
		return 1;
	proto_msg_bye(&m, PROTO_BYE_SHUTDOWN);
	send_msg(fd, &m);
	do {	/* the shim closes after BYE */
		r = recv_msg(fd, &rb, &m, timeout_s * 1000);
	} while (r == 1);
	close(fd);
	return r == 0 ? 0 : 1;
}

static int
cmd_version(int argc, char **argv)
{
	uint8_t buf[PROTO_MAX_FRAME];
	struct proto_rbuf rb;
	struct proto_msg m;
	int fd, n, r;

	if (argc != 1)
		return 2;
	if ((fd = connect_unix(argv[0], false)) < 0)
		return 1;
	shim_test_hello(&m);
	n = proto_encode(&m, 0, buf, sizeof(buf));
	buf[4] = 2;		/* a future protocol version */
	write_all(fd, buf, (size_t)n);
	/* Our reader would refuse nothing here: the shim answers in v1. */
	proto_rbuf_init(&rb);
	r = recv_msg(fd, &rb, &m, timeout_s * 1000);
	if (r != 1) {
		fprintf(stderr, "shim_agent: no ERROR\n");
		close(fd);
		return 1;
	}
	print_msg(&m);
	r = recv_msg(fd, &rb, &m, timeout_s * 1000);
	close(fd);
	printf("%s\n", r == 0 ? "EOF" : "OPEN");
	return 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
cmd_raw(int argc, char **argv)
{
	uint8_t buf[8192];
	size_t n = 0, len;
	struct proto_rbuf rb;
	struct proto_msg m;
	int fd, r;

	if (argc != 2 || (len = strlen(argv[1])) % 2 != 0 ||
	    len / 2 > sizeof(buf))
		return 2;
	for (size_t i = 0; i < len; i += 2) {
		int hi = hexval(argv[1][i]), lo = hexval(argv[1][i + 1]);

		if (hi < 0 || lo < 0)
			return 2;
		buf[n++] = (uint8_t)(hi << 4 | lo);
	}
	if ((fd = connect_unix(argv[0], false)) < 0)
		return 1;
	write_all(fd, buf, n);
	proto_rbuf_init(&rb);
	while ((r = recv_msg(fd, &rb, &m, timeout_s * 1000)) == 1)
		print_msg(&m);
	close(fd);
	printf("%s\n", r == 0 ? "EOF" : r == -ETIMEDOUT ? "OPEN" :
	    proto_strerror(r));
	return 0;
}

static int
cmd_mincore(int argc, char **argv)
{
	unsigned char *vec;
	struct stat st;
	size_t pages, run = 0, resident = 0;
	void *p;
	int fd;

	if (argc != 1)
		return 2;
	if ((fd = open(argv[0], O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(fd, &st) < 0) {
		perror(argv[0]);
		return 1;
	}
	pages = (size_t)st.st_size / 4096;
	if (pages == 0) {
		printf("resident 0\n");
		return 0;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED || (vec = malloc(pages)) == NULL ||
	    mincore(p, (size_t)st.st_size, vec) < 0) {
		perror("mincore");
		return 1;
	}
	for (size_t i = 0; i < pages; i++)
		resident += vec[i] & 1;
	printf("resident %zu\n", resident);
	for (size_t i = 0; i <= pages; i++) {
		if (i < pages && (vec[i] & 1)) {
			run++;
			continue;
		}
		if (run > 0)
			printf("0x%zx+0x%zx\n", (i - run) * 4096, run * 4096);
		run = 0;
	}
	free(vec);
	munmap(p, (size_t)st.st_size);
	close(fd);
	return 0;
}

/* ---------------------------------------------------------------- storm */

enum cls { GOOD, SLOW, HOSTILE, FLOOD, NCLS };
static const char *const cls_name[NCLS] = {
	"well-behaved", "slow", "hostile", "flooders",
};
enum hostile { GARBAGE, OVERSIZE, HALF_OPEN, CUT_SHORT, NHOSTILE };
static const char *const hostile_name[NHOSTILE] = {
	"garbage", "oversized length", "half-open", "frame cut short",
};

struct sc {
	int fd;
	int vm;
	enum cls cls;
	enum hostile how;
	uint64_t t0, t_end;		/* connect, WELCOME or closed (ns) */
	uint8_t out[PROTO_MAX_FRAME];
	size_t outlen, sent;
	uint64_t next_ns;		/* slow: next byte */
	uint64_t flooded;		/* flood: bytes written */
	struct proto_rbuf rb;
	bool done, ok, in_only;
	char why[96];
};

static void
finish(struct sc *c, bool ok, const char *why)
{
	if (c->done)
		return;
	c->done = true;
	c->ok = ok;
	c->t_end = now_ns();
	snprintf(c->why, sizeof(c->why), "%s", why);
}

static void
storm_read(struct sc *c)
{
	uint8_t buf[PROTO_MAX_FRAME];
	struct proto_msg m;
	ssize_t n;
	int r;

	n = read(c->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {		/* the shim closed it */
		finish(c, c->cls == HOSTILE || c->cls == FLOOD,
		    "closed before WELCOME");
		return;
	}
	if (c->cls == HOSTILE)
		return;		/* whatever it says (an ERROR) */
	for (size_t off = 0; off < (size_t)n;) {
		int k = proto_rbuf_feed(&c->rb, buf + off, (size_t)n - off);

		if (k < 0) {
			finish(c, false, "shim sent a bad frame");
			return;
		}
		off += (size_t)k;
		while ((r = proto_rbuf_next(&c->rb, &m)) == 1) {
			char want[16];

			if (m.type != PROTO_WELCOME || c->done)
				continue;
			snprintf(want, sizeof(want), "vm%d", c->vm);
			if (strcmp(m.u.welcome.name, want) != 0 ||
			    m.u.welcome.budget != (64ULL + (unsigned)c->vm) * MiB)
				finish(c, false, "wrong name or budget");
			else
				finish(c, true, "WELCOME");
		}
		if (r < 0) {
			finish(c, false, "shim sent a bad frame");
			return;
		}
	}
}

static void
storm_write(struct sc *c, uint64_t now)
{
	ssize_t n;

	if (c->cls == FLOOD && c->sent == c->outlen) {
		struct proto_msg m;

		/* a fresh batch of PINGs after the HELLO */
		c->outlen = 0;
		for (int i = 0; i < 64; i++) {
			proto_msg_ping(&m, (uint64_t)i);
			c->outlen += (size_t)proto_encode(&m, 0,
			    c->out + c->outlen, sizeof(c->out) - c->outlen);
		}
		c->sent = 0;
	}
	if (c->sent == c->outlen)
		return;
	if (c->cls == SLOW) {
		if (now < c->next_ns)
			return;
		n = write(c->fd, c->out + c->sent, 1);
		c->next_ns = now + 10 * 1000000ULL;
	} else {
		n = send(c->fd, c->out + c->sent, c->outlen - c->sent,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		finish(c, c->cls == FLOOD || c->cls == HOSTILE,
		    "closed by the shim");
		return;
	}
	c->sent += (size_t)n;
	if (c->cls == FLOOD) {
		c->flooded += (size_t)n;
		if (c->flooded > 64 * MiB)
			finish(c, false, "never dropped");
	}
}

static void
storm_prepare(struct sc *c)
{
	struct proto_msg m;
	int n;

	shim_test_hello(&m);
	n = proto_encode(&m, 0, c->out, sizeof(c->out));
	c->outlen = (size_t)n;
	proto_rbuf_init(&c->rb);
	if (c->cls != HOSTILE)
		return;
	switch (c->how) {
	case GARBAGE:
		for (size_t i = 0; i < 256; i++)
			c->out[i] = (uint8_t)(i * 131 + 7);
		c->outlen = 256;
		break;
	case OVERSIZE:		/* a real header with length 2 GiB */
		c->out[12] = 0;
		c->out[13] = 0;
		c->out[14] = 0;
		c->out[15] = 0x80;
		c->outlen = PROTO_HDR_LEN;
		break;
	case HALF_OPEN:
		c->outlen = 0;
		break;
	case CUT_SHORT:		/* the header and half of the body */
		c->outlen = (size_t)n / 2 + PROTO_HDR_LEN / 2;
		break;
	default:
		break;
	}
}

static void
pct(const char *what, uint64_t *v, size_t n)
{
	if (n == 0)
		return;
	qsort(v, n, sizeof(*v), cmp_u64);
	printf("storm: %s: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", what,
	    (double)v[n / 2] / 1e6, (double)v[(n * 99) / 100 < n ?
	    (n * 99) / 100 : n - 1] / 1e6, (double)v[n - 1] / 1e6);
}

static int
cmd_storm(int argc, char **argv)
{
	int nvms, nconn, ep, failed = 0;
	int total[NCLS] = { 0 }, ok[NCLS] = { 0 };
	int htotal[NHOSTILE] = { 0 }, hok[NHOSTILE] = { 0 };
	uint64_t start, connected_ns, deadline, *lat, flood_bytes = 0;
	size_t nlat = 0, nslow = 0;
	struct rlimit rl;
	struct sc *cs;
	char path[PATH_MAX];

	if (argc != 3 || (nvms = atoi(argv[1])) < 1 ||
	    (nconn = atoi(argv[2])) < 1)
		return 2;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	cs = calloc((size_t)nconn, sizeof(*cs));
	lat = calloc((size_t)nconn, sizeof(*lat));
	if (cs == NULL || lat == NULL || (ep = epoll_create1(0)) < 0)
		return 1;
	start = now_ns();
	for (int i = 0; i < nconn; i++) {
		struct sc *c = &cs[i];
		struct epoll_event ev = { .data.ptr = c };
		int k = i % 10;

		c->vm = i % nvms;
		c->cls = k < 6 ? GOOD : k < 8 ? SLOW : k == 8 ? HOSTILE : FLOOD;
		c->how = (enum hostile)((i / 10) % NHOSTILE);
		total[c->cls]++;
		if (c->cls == HOSTILE)
			htotal[c->how]++;
		storm_prepare(c);
		snprintf(path, sizeof(path), "%s/vm%d.sock", argv[0], c->vm);
		c->t0 = now_ns();
		for (int tries = 0; (c->fd = connect_unix(path, true)) ==
		    -EAGAIN && tries < 1000; tries++)
			usleep(1000);	/* listen backlog full: retry */
		if (c->fd < 0) {
			finish(c, false, "connect failed");
			fprintf(stderr, "storm: connect %s: %s\n", path,
			    strerror(-c->fd));
			continue;
		}
		/* dribblers write on their clock, not on EPOLLOUT */
		ev.events = c->cls == SLOW ? EPOLLIN : c->cls == FLOOD ?
		    EPOLLOUT : EPOLLIN | EPOLLOUT;
		c->in_only = c->cls == SLOW;
		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	}
	connected_ns = now_ns() - start;
	deadline = start + (uint64_t)timeout_s * 1000000000ULL;
	for (;;) {
		struct epoll_event evs[256];
		int n, left = 0;
		uint64_t now;

		for (int i = 0; i < nconn; i++)
			left += !cs[i].done;
		if (left == 0 || now_ns() > deadline)
			break;
		n = epoll_wait(ep, evs, 256, 5);
		now = now_ns();
		for (int i = 0; i < n; i++) {
			struct sc *c = evs[i].data.ptr;

			if (c->done)
				continue;
			if (evs[i].events & EPOLLOUT)
				storm_write(c, now);
			if (c->done)
				continue;
			if (c->cls == FLOOD && (evs[i].events & EPOLLHUP)) {
				finish(c, true, "closed by the shim");
				continue;
			}
			if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
			    c->cls != FLOOD)
				storm_read(c);
		}
		for (int i = 0; i < nconn; i++) {	/* dribblers' clock */
			struct sc *c = &cs[i];

			if (!c->done && c->cls == SLOW)
				storm_write(c, now);
			if (!c->done && !c->in_only && c->sent == c->outlen &&
			    c->cls != FLOOD && c->fd >= 0) {
				struct epoll_event ev = { .events = EPOLLIN,
				    .data.ptr = c };

				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				c->in_only = true;
			}
		}
	}
	for (int i = 0; i < nconn; i++) {
		struct sc *c = &cs[i];

		if (!c->done)
			finish(c, false, "timed out");
		ok[c->cls] += c->ok;
		if (c->cls == HOSTILE)
			hok[c->how] += c->ok;
		if (!c->ok) {
			failed++;
			if (failed <= 10)
				fprintf(stderr, "storm: connection %d (%s, vm%d):"
				    " %s\n", i, cls_name[c->cls], c->vm, c->why);
		}
		if (c->cls == GOOD && c->ok)
			lat[nlat++] = c->t_end - c->t0;
		if (c->cls == FLOOD)
			flood_bytes += c->flooded;
	}
	printf("storm: %d connections over %d VMs: %d well-behaved, %d slow, "
	    "%d hostile, %d flooders\n", nconn, nvms, total[GOOD],
	    total[SLOW], total[HOSTILE], total[FLOOD]);
	printf("storm: all %d connects issued in %.1f ms\n", nconn,
	    (double)connected_ns / 1e6);
	for (int k = 0; k < NCLS; k++)
		printf("storm: %s: %d/%d %s\n", cls_name[k], ok[k], total[k],
		    k == GOOD || k == SLOW ? "got WELCOME with their budget" :
		    "closed by the shim");
	pct("well-behaved connect -> WELCOME", lat, nlat);
	for (int i = 0; i < nconn; i++)
		if (cs[i].cls == SLOW && cs[i].ok)
			lat[nslow++] = cs[i].t_end - cs[i].t0;
	pct("slow (dribbled HELLO) connect -> WELCOME", lat, nslow);
	for (int h = 0; h < NHOSTILE; h++) {
		nlat = 0;
		for (int i = 0; i < nconn; i++)
			if (cs[i].cls == HOSTILE && (int)cs[i].how == h && cs[i].ok)
				lat[nlat++] = cs[i].t_end - cs[i].t0;
		qsort(lat, nlat, sizeof(*lat), cmp_u64);
		printf("storm: hostile %s: %d/%d closed, after %.1f ms at "
		    "most\n", hostile_name[h], hok[h], htotal[h], nlat ?
		    (double)lat[nlat - 1] / 1e6 : 0.0);
	}
	printf("storm: flooders wrote %.1f KiB each on average before the "
	    "shim dropped them\n", total[FLOOD] ? (double)flood_bytes /
	    total[FLOOD] / 1024 : 0.0);
	printf("storm: done in %.1f ms, %d failure%s\n",
	    (double)(now_ns() - start) / 1e6, failed, failed == 1 ? "" : "s");
	for (int i = 0; i < nconn; i++)
		if (cs[i].fd >= 0)
			close(cs[i].fd);
	free(cs);
	free(lat);
	close(ep);
	return failed ? 1 : 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: shim_agent [-t SECS] hello|watch|prefault|bye|"
	    "stats|version|raw|storm ... (see tests/tools/shim_agent.c)\n"
	    "       shim_agent mincore FILE\n");
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "hello", cmd_hello }, { "watch", cmd_watch },
		{ "prefault", cmd_prefault }, { "bye", cmd_bye },
		{ "stats", cmd_stats }, { "version", cmd_version },
		{ "raw", cmd_raw }, { "mincore", cmd_mincore },
		{ "storm", cmd_storm },
	};
	int i = 1, rc;

	signal(SIGPIPE, SIG_IGN);
	if (argc > 2 && strcmp(argv[1], "-t") == 0) {
		timeout_s = atoi(argv[2]);
		i = 3;
	}
	if (i >= argc) {
		usage();
		return 2;
	}
	for (size_t k = 0; k < ARRAY_SIZE(cmds); k++) {
		if (strcmp(argv[i], cmds[k].name) != 0)
			continue;
		rc = cmds[k].fn(argc - i - 1, argv + i + 1);
		if (rc == 2)
			usage();
		return rc;
	}
	usage();
	return 2;
}
