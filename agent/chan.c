/*
 * chan.c - the channel to the host shim (see chan.h).
 *
 * One connection at a time.  Frames are built with the shared codec
 * (include/vtier/proto.c) into a bounded output buffer and read back
 * through proto_rbuf, which checks each header before it buffers a body.
 * A malformed frame from the shim drops the connection (and a reconnect
 * follows); it never stops the agent.
 *
 * A virtio-serial port is not a connection: the guest's writes are lost
 * while no host program has the other end open, and a shim that restarts
 * appears without any event in the guest.  So over serial a HELLO that
 * gets no WELCOME within the timeout is simply sent again, and a port
 * that reports hang-up (read returns 0) is closed and reopened with the
 * same backoff as a refused socket.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "chan.h"

#define BACKOFF_MIN_NS	(250ULL * 1000000ULL)
#define BACKOFF_MAX_NS	(30ULL * 1000000000ULL)
#define OUT_MAX		(4 * PROTO_MAX_FRAME)

struct chan {
	enum shim_transport tr;
	char address[PATH_MAX];
	uint64_t stats_ns, timeout_ns;
	struct proto_msg hello;

	int fd;
	uint64_t fd_gen;
	enum chan_state st;
	uint64_t next_try_ns, backoff_ns;
	uint64_t hello_ns;		/* when HELLO was last sent */
	uint64_t stats_sent_ns;
	uint32_t seq;
	bool failing;			/* last attempt failed: quieter logs */

	struct proto_rbuf rb;
	uint8_t out[OUT_MAX];
	size_t outlen;

	enum chan_prefault pf;
	uint64_t pf_deadline_ns;
	/* A set going out as PREFAULT_PART frames: r[sent..n) still to go */
	struct proto_range *pf_r;
	size_t pf_n, pf_sent;
	uint16_t pf_flags, pf_reason;

	struct chan_info info;
};

const char *
chan_state_name(enum chan_state s)
{
	static const char *const names[] = {
		"off", "down", "connecting", "hello", "up",
	};

	return (unsigned)s < ARRAY_SIZE(names) ? names[s] : "?";
}

const char *
chan_prefault_name(enum chan_prefault p)
{
	static const char *const names[] = {
		"none", "waiting", "done", "failed", "timeout",
	};

	return (unsigned)p < ARRAY_SIZE(names) ? names[p] : "?";
}

int
chan_open(struct chan **cp, const struct agent_config *cfg,
    const struct proto_msg *hello)
{
	struct chan *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	c->tr = cfg->shim;
	snprintf(c->address, sizeof(c->address), "%s", cfg->shim_address);
	c->stats_ns = cfg->shim_stats_ms * 1000000ULL;
	c->timeout_ns = cfg->shim_timeout_ms * 1000000ULL;
	c->hello = *hello;
	c->fd = -1;
	c->st = c->tr == SHIM_NONE ? CHAN_OFF : CHAN_DOWN;
	c->backoff_ns = BACKOFF_MIN_NS;
	c->info.transport = c->tr;
	*cp = c;
	return 0;
}

static void
drop_parts(struct chan *c)
{
	free(c->pf_r);
	c->pf_r = NULL;
	c->pf_n = c->pf_sent = 0;
}

static void
go_down(struct chan *c, uint64_t now, const char *why)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->st == CHAN_UP || !c->failing)
		log_warnx("shim (%s %s): %s; retrying in %llu ms",
		    config_shim_name(c->tr), c->address, why,
		    (unsigned long long)(c->backoff_ns / 1000000ULL));
	else
		log_debug("shim: %s", why);
	c->failing = true;
	c->st = CHAN_DOWN;
	c->next_try_ns = now + c->backoff_ns;
	c->backoff_ns = MIN(c->backoff_ns * 2, BACKOFF_MAX_NS);
	c->outlen = 0;
	proto_rbuf_init(&c->rb);
	if (c->pf == CHAN_PF_WAITING)
		c->pf = CHAN_PF_NONE;	/* asked again on the next WELCOME */
	drop_parts(c);
}

static int
flush(struct chan *c)
{
	while (c->outlen > 0) {
		ssize_t n = write(c->fd, c->out, c->outlen);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		memmove(c->out, c->out + n, c->outlen - (size_t)n);
		c->outlen -= (size_t)n;
	}
	return 0;
}

/* Queue one message; a shim that stops reading gets disconnected. */
static int
send_msg(struct chan *c, const struct proto_msg *m, uint64_t now)
{
	int n;

	if (c->fd < 0)
		return -ENOTCONN;
	if (OUT_MAX - c->outlen < PROTO_MAX_FRAME) {
		go_down(c, now, "the shim is not reading");
		return -ENOBUFS;
	}
	n = proto_encode(m, c->seq++, c->out + c->outlen, OUT_MAX - c->outlen);
	if (n < 0) {
		log_warnx("shim: cannot encode %s: %s", proto_type_name(m->type),
		    proto_strerror(n));
		return n;
	}
	c->outlen += (size_t)n;
	if ((n = flush(c)) < 0) {
		go_down(c, now, strerror(-n));
		return n;
	}
	return 0;
}

static void
send_hello(struct chan *c, uint64_t now)
{
	c->st = CHAN_HELLO;
	c->hello_ns = now;
	send_msg(c, &c->hello, now);
}

/* Find a virtio-serial port by name: /sys/class/virtio-ports/vportNpM/name. */
static int
serial_path(const char *name, char *path, size_t len)
{
	DIR *d;
	struct dirent *de;
	int rc = -ENOENT;

	if (name[0] == '/') {
		snprintf(path, len, "%s", name);
		return 0;
	}
	if ((d = opendir("/sys/class/virtio-ports")) == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		char p[PATH_MAX], buf[128];

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/sys/class/virtio-ports/%s/name",
		    de->d_name);
		if (read_file(p, buf, sizeof(buf)) <= 0)
			continue;
		buf[strcspn(buf, "\n")] = '\0';
		if (strcmp(buf, name) == 0) {
			snprintf(path, len, "/dev/%s", de->d_name);
			rc = 0;
			break;
		}
	}
	closedir(d);
	return rc;
}

/* "PORT" or "CID:PORT"; empty = host CID, the default port. */
static int
vsock_addr(const char *s, struct sockaddr_vm *svm)
{
	char cid[32];
	const char *colon = strchr(s, ':');
	uint64_t v;

	memset(svm, 0, sizeof(*svm));
	svm->svm_family = AF_VSOCK;
	svm->svm_cid = VMADDR_CID_HOST;
	svm->svm_port = PROTO_VSOCK_PORT;
	if (*s == '\0')
		return 0;
	if (colon != NULL) {
		if ((size_t)(colon - s) >= sizeof(cid))
			return -EINVAL;
		memcpy(cid, s, (size_t)(colon - s));
		cid[colon - s] = '\0';
		if (parse_u64(cid, &v) < 0 || v > UINT32_MAX)
			return -EINVAL;
		svm->svm_cid = (unsigned)v;
		s = colon + 1;
	}
	if (parse_u64(s, &v) < 0 || v > UINT32_MAX)
		return -EINVAL;
	svm->svm_port = (unsigned)v;
	return 0;
}

static void
try_connect(struct chan *c, uint64_t now)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	char path[PATH_MAX];
	int fd, rc;

	memset(&ss, 0, sizeof(ss));
	switch (c->tr) {
	case SHIM_NONE:
		return;
	case SHIM_SERIAL:
		if ((rc = serial_path(c->address, path, sizeof(path))) < 0) {
			go_down(c, now, "virtio-serial port not found");
			return;
		}
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			go_down(c, now, strerror(errno));
			return;
		}
		c->fd = fd;
		c->fd_gen++;
		send_hello(c, now);
		return;
	case SHIM_UNIX: {
		struct sockaddr_un *sun = (struct sockaddr_un *)&ss;

		sun->sun_family = AF_UNIX;
		if (strlen(c->address) >= sizeof(sun->sun_path)) {
			go_down(c, now, "socket path too long");
			return;
		}
		strcpy(sun->sun_path, c->address);
		sl = sizeof(*sun);
		break;
	}
	case SHIM_VSOCK:
		if (vsock_addr(c->address, (struct sockaddr_vm *)&ss) < 0) {
			go_down(c, now, "bad vsock address (expected PORT or "
			    "CID:PORT)");
			return;
		}
		sl = sizeof(struct sockaddr_vm);
		break;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		go_down(c, now, strerror(errno));
		return;
	}
	c->fd = fd;
	c->fd_gen++;
	if (connect(fd, (struct sockaddr *)&ss, sl) == 0) {
		send_hello(c, now);
	} else if (errno == EINPROGRESS || errno == EAGAIN) {
		c->st = CHAN_CONNECTING;
		c->hello_ns = now;	/* connect timeout runs from here */
	} else {
		go_down(c, now, strerror(errno));
	}
}

static void
handle(struct chan *c, const struct proto_msg *m, uint64_t now,
    struct chan_event *ev)
{
	static struct ratelimit rl;
	struct proto_msg r;
	char b[32];

	switch (m->type) {
	case PROTO_WELCOME:
		c->st = CHAN_UP;
		c->failing = false;
		c->backoff_ns = BACKOFF_MIN_NS;
		c->stats_sent_ns = 0;
		c->info.connects++;
		snprintf(c->info.vm, sizeof(c->info.vm), "%s", m->u.welcome.name);
		c->info.shim_caps = m->u.welcome.caps;
		format_size(m->u.welcome.budget, b, sizeof(b));
		log_info("shim: connected over %s as VM '%s', budget %s",
		    config_shim_name(c->tr), c->info.vm,
		    m->u.welcome.budget ? b : "not set");
		if (m->u.welcome.budget) {
			ev->budget = true;
			ev->budget_bytes = m->u.welcome.budget;
		}
		break;
	case PROTO_BUDGET:
		if (c->st != CHAN_UP)
			break;
		ev->budget = true;
		ev->budget_bytes = m->u.budget.budget;
		break;
	case PROTO_PREFAULT_DONE:
		if (c->pf != CHAN_PF_WAITING)
			break;
		c->info.prefault_status = m->u.prefault_done.status;
		c->info.pinned_bytes = m->u.prefault_done.bytes_pinned;
		c->pf = m->u.prefault_done.status == 0 ? CHAN_PF_DONE :
		    CHAN_PF_FAILED;
		format_size(c->info.pinned_bytes, b, sizeof(b));
		if (c->pf == CHAN_PF_DONE)
			log_info("shim: pre-fault done, %s pinned on the host", b);
		else
			log_warnx("shim: pre-fault failed: %s",
			    strerror(-m->u.prefault_done.status));
		ev->prefault = true;
		break;
	case PROTO_PING:
		proto_msg_pong(&r, m->u.ping.token);
		send_msg(c, &r, now);
		break;
	case PROTO_PONG:
		break;
	case PROTO_ERROR:
		log_warnx("shim says error %u: %s", m->u.error.code,
		    m->u.error.text);
		if (c->pf == CHAN_PF_WAITING) {
			c->pf = CHAN_PF_FAILED;
			ev->prefault = true;
		}
		if (m->u.error.code == PROTO_ERR_VERSION) {
			c->backoff_ns = BACKOFF_MAX_NS;
			go_down(c, now, "protocol version refused by the shim");
		}
		break;
	case PROTO_BYE:
		if (m->u.bye.reason == PROTO_BYE_SHUTDOWN)
			c->backoff_ns = BACKOFF_MAX_NS / 4;
		go_down(c, now, "the shim said BYE");
		break;
	default:
		if (ratelimit_ok(&rl, 10))
			log_warnx("shim: unexpected %s ignored",
			    proto_type_name(m->type));
		break;
	}
}

/*
 * The next PREFAULT_PART frames of a set, as long as the output buffer
 * keeps room for a frame of anything else (PONG, STATS): a large set
 * goes out as fast as the shim reads, never making it look like a shim
 * that does not read.
 */
static void
pump_parts(struct chan *c, uint64_t now)
{
	struct proto_msg m;

	while (c->pf_r != NULL && c->fd >= 0 &&
	    OUT_MAX - c->outlen >= 2 * PROTO_MAX_FRAME) {
		size_t k = MIN(c->pf_n - c->pf_sent, (size_t)PROTO_MAX_RANGES);

		proto_msg_init(&m, PROTO_PREFAULT_PART);
		m.u.prefault.reason = c->pf_reason;
		m.u.prefault.flags = c->pf_flags;
		if (c->pf_sent + k == c->pf_n)
			m.u.prefault.flags |= PROTO_PF_LAST;
		for (size_t i = 0; i < k; i++)
			m.u.prefault.ranges[i] = c->pf_r[c->pf_sent + i];
		m.u.prefault.nranges = (uint16_t)k;
		if (send_msg(c, &m, now) < 0)
			return;		/* down, or a bug: logged */
		c->pf_sent += k;
		if (c->pf_sent == c->pf_n)
			drop_parts(c);
	}
}

void
chan_io(struct chan *c, uint64_t now, struct chan_event *ev)
{
	uint8_t buf[PROTO_MAX_FRAME];
	struct proto_msg m;
	int rc;

	memset(ev, 0, sizeof(*ev));
	if (c->fd < 0)
		return;
	if (c->st == CHAN_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err != 0) {
			go_down(c, now, strerror(err));
			return;
		}
		send_hello(c, now);
		return;
	}
	if (c->outlen > 0 && (rc = flush(c)) < 0) {	/* POLLOUT */
		go_down(c, now, strerror(-rc));
		return;
	}
	pump_parts(c, now);
	for (int rounds = 0; rounds < 16 && c->fd >= 0; rounds++) {
		ssize_t n = read(c->fd, buf, sizeof(buf));
		size_t off = 0;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				go_down(c, now, strerror(errno));
			return;
		}
		if (n == 0) {
			go_down(c, now, c->tr == SHIM_SERIAL ?
			    "the host end of the port is closed" :
			    "the shim closed the connection");
			return;
		}
		while (off < (size_t)n && c->fd >= 0) {
			int k = proto_rbuf_feed(&c->rb, buf + off, (size_t)n - off);
			int r = 0;

			if (k < 0)
				goto bad;
			off += (size_t)k;
			while (c->fd >= 0 && (r = proto_rbuf_next(&c->rb, &m)) == 1)
				handle(c, &m, now, ev);
			if (c->fd >= 0 && r < 0) {
				k = r;
				goto bad;
			}
			continue;
bad:
			c->info.bad_frames++;
			log_warnx("shim: malformed frame (%s): reconnecting",
			    proto_strerror(k));
			go_down(c, now, "malformed frame");
			return;
		}
	}
}

void
chan_tick(struct chan *c, uint64_t now, const struct proto_stats *st,
    struct chan_event *ev)
{
	struct proto_msg m;

	memset(ev, 0, sizeof(*ev));
	switch (c->st) {
	case CHAN_OFF:
		return;
	case CHAN_DOWN:
		if (now >= c->next_try_ns)
			try_connect(c, now);
		break;
	case CHAN_CONNECTING:
		if (now - c->hello_ns > c->timeout_ns)
			go_down(c, now, "connect timed out");
		break;
	case CHAN_HELLO:
		if (now - c->hello_ns <= c->timeout_ns)
			break;
		if (c->tr == SHIM_SERIAL) {
			/* nobody may have been listening: say it again */
			log_debug("shim: no WELCOME yet, HELLO again");
			send_hello(c, now);
		} else {
			go_down(c, now, "no WELCOME within the timeout");
		}
		break;
	case CHAN_UP:
		if (st != NULL && (c->stats_sent_ns == 0 ||
		    now - c->stats_sent_ns >= c->stats_ns)) {
			proto_msg_init(&m, PROTO_STATS);
			m.u.stats = *st;
			c->stats_sent_ns = now;
			send_msg(c, &m, now);
		}
		break;
	}
	if (c->pf == CHAN_PF_WAITING && now > c->pf_deadline_ns) {
		c->pf = CHAN_PF_TIMEOUT;
		log_warnx("shim: no PREFAULT_DONE within %llu ms: going on "
		    "without the host pinning the PEBS buffer",
		    (unsigned long long)(c->timeout_ns / 1000000ULL));
		ev->prefault = true;
	}
	if (c->fd >= 0 && c->outlen > 0) {
		int rc = flush(c);

		if (rc < 0)
			go_down(c, now, strerror(-rc));
	}
	pump_parts(c, now);
}

int
chan_prefault(struct chan *c, const struct proto_range *r, size_t n,
    uint16_t flags, uint16_t reason, uint64_t now)
{
	struct proto_msg m;
	int rc;

	if (c->st != CHAN_UP)
		return -ENOTCONN;
	if (n == 0)
		return -EINVAL;
	drop_parts(c);			/* a set half sent is replaced */
	if (c->info.shim_caps & PROTO_CAP_PREFAULT_PARTS) {
		if ((c->pf_r = malloc(n * sizeof(*r))) == NULL)
			return -ENOMEM;
		memcpy(c->pf_r, r, n * sizeof(*r));
		c->pf_n = n;
		c->pf_flags = flags;
		c->pf_reason = reason;
	} else {
		/* an older shim: one PREFAULT, no flags (it shows "unknown") */
		if (n > PROTO_MAX_RANGES)
			return -E2BIG;
		proto_msg_init(&m, PROTO_PREFAULT);
		for (size_t i = 0; i < n; i++)
			if ((rc = proto_prefault_add(&m, r[i].gpa,
			    r[i].size)) < 0)
				return rc;
		if ((rc = send_msg(c, &m, now)) < 0)
			return rc;
	}
	c->pf = CHAN_PF_WAITING;
	c->pf_deadline_ns = now + c->timeout_ns;
	pump_parts(c, now);
	return c->fd >= 0 ? 0 : -ENOTCONN;
}

int
chan_fd(const struct chan *c)
{
	return c->fd;
}

uint64_t
chan_fd_gen(const struct chan *c)
{
	return c->fd_gen;
}

unsigned
chan_events(const struct chan *c)
{
	if (c->st == CHAN_CONNECTING)
		return POLLOUT;
	/* writable again: the rest of the output, and of a set */
	return POLLIN | (c->outlen > 0 || c->pf_r != NULL ? POLLOUT : 0);
}

void
chan_info(const struct chan *c, struct chan_info *out)
{
	*out = c->info;
	out->state = c->st;
	out->prefault = c->pf;
}

void
chan_close(struct chan *c)
{
	struct proto_msg m;

	if (c == NULL)
		return;
	if (c->st == CHAN_UP) {
		proto_msg_bye(&m, PROTO_BYE_SHUTDOWN);
		send_msg(c, &m, now_ns());
	}
	if (c->fd >= 0)
		close(c->fd);
	drop_parts(c);
	free(c);
}
