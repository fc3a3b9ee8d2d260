/*
 * test_shim_session.c - the shim's per-connection state machine, driven
 * without sockets: bytes in, frames out, time passing.  HELLO/WELCOME,
 * BUDGET pushes, STATS stored, PING/PONG, version mismatch, malformed
 * input, timeouts, the output cap, and PREFAULT in and out of range
 * (against a real tmpfs backing file).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "../../hostshim/hostshim.h"
#include "../tools/shim_hello.h"
#include "../test.h"

#define SEC 1000000000ULL

static struct shim_config cfg;
static struct vmtab tab;
static struct vm *vm;
static char backing_path[64];
static const struct session_limits lim = {
	.handshake_ns = 5 * SEC, .idle_ns = 60 * SEC, .output_max = 64 * 1024,
};

/* One VM "guest1": 4 MiB of RAM in a tmpfs file, GPA 0, cap 2 MiB. */
static void
setup(uint64_t budget)
{
	struct vm_config *vc;
	int fd;

	snprintf(backing_path, sizeof(backing_path),
	    "/dev/shm/vtier-test-session.%d", (int)getpid());
	unlink(backing_path);
	fd = open(backing_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 4 * MiB) < 0)
		abort();
	close(fd);
	config_defaults(&cfg);
	vc = calloc(1, sizeof(*vc));
	snprintf(vc->name, sizeof(vc->name), "guest1");
	snprintf(vc->socket, sizeof(vc->socket), "/tmp/none.sock");
	vc->budget = budget;
	vc->prefault_cap = 2 * MiB;
	snprintf(vc->backing[0].path, sizeof(vc->backing[0].path), "%s",
	    backing_path);
	vc->backing[0].size = 4 * MiB;
	vc->nbacking = 1;
	cfg.vms = vc;
	cfg.nvms = 1;
	if (budget_init(&tab, &cfg) < 0)
		abort();
	vm = tab.v[0];
}

static void
teardown(void)
{
	budget_free(&tab);
	config_free(&cfg);
	unlink(backing_path);
}

static size_t
encode(const struct proto_msg *m, uint8_t *buf)
{
	int n = proto_encode(m, 0, buf, PROTO_MAX_FRAME);

	if (n < 0)
		abort();
	return (size_t)n;
}

static int
feed(struct session *s, const struct proto_msg *m, uint64_t now)
{
	uint8_t buf[PROTO_MAX_FRAME];

	return session_input(s, buf, encode(m, buf), now);
}

/*
 * Take all queued output and decode it: every byte must belong to a
 * valid frame.  Returns the number of messages, -1 if anything is off.
 */
static int
drain(struct session *s, struct proto_msg *out, int max)
{
	const uint8_t *p;
	size_t len, off = 0;
	int n = 0;

	p = session_output(s, &len);
	while (off < len) {
		struct proto_hdr h;

		if (proto_decode_header(p + off, len - off, &h) < 0 ||
		    h.length > len - off || n == max ||
		    proto_decode(p + off, h.length, &out[n]) < 0)
			return -1;
		off += h.length;
		n++;
	}
	session_consumed(s, len);
	return n;
}

/* A session past HELLO (offering caps beyond the test HELLO's); its
 * WELCOME in *w. */
static struct session *
up_session_caps(uint64_t now, uint32_t caps, struct proto_msg *w)
{
	struct session *s;
	struct proto_msg m, out[4];

	if (session_new(&s, vm, false, &lim, now) < 0)
		abort();
	shim_test_hello(&m);
	m.u.hello.caps |= caps;
	if (feed(s, &m, now) != 0 || drain(s, out, 4) != 1)
		abort();
	*w = out[0];
	return s;
}

static struct session *
up_session(uint64_t now)
{
	struct proto_msg w;

	return up_session_caps(now, 0, &w);
}

static void
test_hello_welcome(void)
{
	struct session *s;
	struct proto_msg m, out[4];

	setup(512 * MiB);
	ASSERT_EQ(session_new(&s, vm, false, &lim, 0), 0);
	ASSERT_EQ(s->st, SESS_HELLO);
	ASSERT_EQ(vm->nsessions, 1);
	shim_test_hello(&m);
	ASSERT_EQ(feed(s, &m, 1), 0);
	ASSERT_EQ(drain(s, out, 4), 1);
	ASSERT_EQ(out[0].type, PROTO_WELCOME);
	ASSERT_STREQ(out[0].u.welcome.name, "guest1");
	ASSERT_EQ_U(out[0].u.welcome.budget, 512 * MiB);
	ASSERT_EQ(s->st, SESS_UP);
	ASSERT_EQ(vm->nup, 1);
	ASSERT_TRUE(budget_connected(vm));
	ASSERT_EQ(vm->agent_version, PROTO_SW_VERSION(0, 1, 0));
	ASSERT_EQ(vm->nnodes, 2);
	session_free(s);
	ASSERT_EQ(vm->nup, 0);
	ASSERT_EQ(vm->nsessions, 0);
	teardown();
}

/* A HELLO dribbled one byte at a time, then a second HELLO: WELCOMEs. */
static void
test_hello_bytewise_and_again(void)
{
	uint8_t buf[PROTO_MAX_FRAME];
	struct session *s;
	struct proto_msg m, out[4];
	size_t n;

	setup(0);
	ASSERT_EQ(session_new(&s, vm, true, &lim, 0), 0);
	shim_test_hello(&m);
	n = encode(&m, buf);
	for (size_t i = 0; i < n; i++) {
		ASSERT_EQ(session_input(s, buf + i, 1, i), 0);
		ASSERT_EQ(drain(s, out, 4), i + 1 < n ? 0 : 1);
	}
	ASSERT_EQ(out[0].type, PROTO_WELCOME);
	ASSERT_EQ_U(out[0].u.welcome.budget, 0);	/* not set */
	ASSERT_EQ(session_input(s, buf, n, 100), 0);
	ASSERT_EQ(drain(s, out, 4), 1);
	ASSERT_EQ(out[0].type, PROTO_WELCOME);
	ASSERT_EQ(vm->nup, 1);
	ASSERT_EQ(vm->connects, 2);
	session_free(s);
	teardown();
}

static void
test_budget_push(void)
{
	struct session *a, *b, *waiting;
	struct proto_msg out[4];

	setup(256 * MiB);
	a = up_session(0);
	b = up_session(0);
	ASSERT_EQ(session_new(&waiting, vm, false, &lim, 0), 0);
	budget_set(vm, GiB, true);
	session_push_budget(vm);
	ASSERT_EQ(drain(a, out, 4), 1);
	ASSERT_EQ(out[0].type, PROTO_BUDGET);
	ASSERT_EQ_U(out[0].u.budget.budget, GiB);
	ASSERT_EQ(drain(b, out, 4), 1);
	ASSERT_EQ_U(out[0].u.budget.budget, GiB);
	ASSERT_EQ(drain(waiting, out, 4), 0);	/* no BUDGET before WELCOME */
	ASSERT_TRUE(vm->budget_from_ctl);
	/* "not set" is never pushed as a budget of 0 bytes */
	budget_set(vm, 0, false);
	session_push_budget(vm);
	ASSERT_EQ(drain(a, out, 4), 0);
	session_free(a);
	session_free(b);
	session_free(waiting);
	teardown();
}

static void
test_stats_stored_and_ping(void)
{
	struct session *s;
	struct proto_msg m, out[4];

	setup(GiB);
	s = up_session(0);
	proto_msg_init(&m, PROTO_STATS);
	m.u.stats.fast_used = 300 * MiB;
	m.u.stats.hot_set_bytes = 200 * MiB;
	m.u.stats.samples_per_s_milli = 12345;
	m.u.stats.flags = PROTO_STATS_BUDGET_UNATTAINABLE;
	ASSERT_EQ(feed(s, &m, 7 * SEC), 0);
	ASSERT_EQ(drain(s, out, 4), 0);		/* STATS gets no reply */
	ASSERT_TRUE(vm->have_stats);
	ASSERT_EQ_U(vm->stats.fast_used, 300 * MiB);
	ASSERT_EQ_U(vm->stats.hot_set_bytes, 200 * MiB);
	ASSERT_EQ_U(vm->stats.samples_per_s_milli, 12345);
	ASSERT_EQ(vm->stats.flags, PROTO_STATS_BUDGET_UNATTAINABLE);
	ASSERT_EQ_U(vm->stats_ns, 7 * SEC);
	proto_msg_ping(&m, 0xdeadbeefcafeULL);
	ASSERT_EQ(feed(s, &m, 8 * SEC), 0);
	ASSERT_EQ(drain(s, out, 4), 1);
	ASSERT_EQ(out[0].type, PROTO_PONG);
	ASSERT_EQ_U(out[0].u.ping.token, 0xdeadbeefcafeULL);
	session_free(s);
	teardown();
}

/* A newer agent: ERROR (VERSION) in our version, then the end. */
static void
test_version_mismatch(void)
{
	uint8_t buf[PROTO_MAX_FRAME];
	struct session *s;
	struct proto_msg m, out[4];
	size_t n;

	setup(GiB);
	ASSERT_EQ(session_new(&s, vm, false, &lim, 0), 0);
	shim_test_hello(&m);
	n = encode(&m, buf);
	buf[4] = 2;
	ASSERT_EQ(session_input(s, buf, n, 1), -EPIPE);
	ASSERT_EQ(s->st, SESS_CLOSING);
	ASSERT_EQ(s->end, END_VERSION);
	ASSERT_EQ(drain(s, out, 4), 1);
	ASSERT_EQ(out[0].type, PROTO_ERROR);
	ASSERT_EQ(out[0].u.error.code, PROTO_ERR_VERSION);
	ASSERT_CONTAINS(out[0].u.error.text, "version 2");
	ASSERT_CONTAINS(out[0].u.error.text, "speaks version 1");
	ASSERT_EQ(vm->ends[END_VERSION], 1);
	/* nothing more in, nothing more out */
	ASSERT_EQ(session_input(s, buf, n, 2), -EPIPE);
	ASSERT_EQ(drain(s, out, 4), 0);
	ASSERT_EQ(vm->nup, 0);
	session_free(s);
	teardown();
}

static void
test_malformed_drops(void)
{
	static const uint8_t garbage[] = "GET / HTTP/1.0\r\n\r\n and then some";
	uint8_t buf[PROTO_MAX_FRAME];
	struct session *s;
	struct proto_msg m, out[4];
	size_t n;

	setup(GiB);
	/* garbage: bad magic, refused at the header */
	s = up_session(0);
	ASSERT_EQ(vm->nup, 1);
	ASSERT_EQ(session_input(s, garbage, sizeof(garbage), 1), -EPIPE);
	ASSERT_EQ(s->end, END_MALFORMED);
	ASSERT_EQ(vm->nup, 0);
	ASSERT_EQ(drain(s, out, 4), 1);
	ASSERT_EQ(out[0].type, PROTO_ERROR);
	ASSERT_EQ(out[0].u.error.code, PROTO_ERR_MALFORMED);
	session_free(s);

	/* an oversized length: refused with 24 bytes buffered */
	ASSERT_EQ(session_new(&s, vm, false, &lim, 0), 0);
	shim_test_hello(&m);
	n = encode(&m, buf);
	buf[14] = 0x10;			/* length += 1 MiB */
	ASSERT_EQ(session_input(s, buf, n, 1), -EPIPE);
	ASSERT_EQ(s->end, END_MALFORMED);
	ASSERT_EQ(s->rb.len, PROTO_HDR_LEN);
	session_free(s);

	/* a bad field value (HELLO with a duplicate node id) */
	s = up_session(0);
	/* proto_encode refuses it: patch a good frame instead */
	shim_test_hello(&m);
	n = encode(&m, buf);
	buf[PROTO_HDR_LEN + 10 + 12] = 0;	/* second node's id -> 0 */
	ASSERT_EQ(session_input(s, buf, n, 1), -EPIPE);
	ASSERT_EQ(s->end, END_MALFORMED);
	ASSERT_EQ(vm->ends[END_MALFORMED], 3);
	session_free(s);
	teardown();
}

/* Anything but HELLO first is refused; wrong-direction types later are
 * answered with ERROR and the session goes on. */
static void
test_unexpected(void)
{
	struct session *s;
	struct proto_msg m, out[4];

	setup(GiB);
	ASSERT_EQ(session_new(&s, vm, false, &lim, 0), 0);
	proto_msg_ping(&m, 1);
	ASSERT_EQ(feed(s, &m, 1), -EPIPE);
	ASSERT_EQ(s->end, END_UNEXPECTED);
	ASSERT_EQ(drain(s, out, 4), 1);
	ASSERT_EQ(out[0].u.error.code, PROTO_ERR_UNEXPECTED);
	session_free(s);

	s = up_session(0);
	proto_msg_budget(&m, GiB);
	ASSERT_EQ(feed(s, &m, 1), 0);
	ASSERT_EQ(drain(s, out, 4), 1);
	ASSERT_EQ(out[0].type, PROTO_ERROR);
	ASSERT_EQ(out[0].u.error.code, PROTO_ERR_UNEXPECTED);
	ASSERT_EQ(s->st, SESS_UP);
	/* an ERROR from the agent is logged, nothing else */
	proto_msg_error(&m, 77, "agent trouble");
	ASSERT_EQ(feed(s, &m, 2), 0);
	ASSERT_EQ(drain(s, out, 4), 0);
	ASSERT_EQ(s->st, SESS_UP);
	session_free(s);
	teardown();
}

static void
test_timeouts(void)
{
	struct session *s;
	struct proto_msg m, out[4];

	setup(GiB);
	/* no HELLO within the handshake time */
	ASSERT_EQ(session_new(&s, vm, false, &lim, 10 * SEC), 0);
	ASSERT_EQ_U(session_deadline(s), 15 * SEC);
	ASSERT_EQ(session_tick(s, 14 * SEC), 0);
	ASSERT_EQ(session_tick(s, 15 * SEC), -EPIPE);
	ASSERT_EQ(s->st, SESS_DEAD);
	ASSERT_EQ(s->end, END_HANDSHAKE);
	session_free(s);

	/* a serial port waits for HELLO as long as it takes */
	ASSERT_EQ(session_new(&s, vm, true, &lim, 0), 0);
	ASSERT_EQ(session_tick(s, 3600 * SEC), 0);
	ASSERT_EQ(s->st, SESS_HELLO);
	session_free(s);

	/* idle: PING at half time, closed at full time */
	s = up_session(0);
	ASSERT_EQ(session_tick(s, 29 * SEC), 0);
	ASSERT_EQ(drain(s, out, 4), 0);
	ASSERT_EQ(session_tick(s, 30 * SEC), 0);
	ASSERT_EQ(drain(s, out, 4), 1);
	ASSERT_EQ(out[0].type, PROTO_PING);
	ASSERT_EQ(session_tick(s, 31 * SEC), 0);
	ASSERT_EQ(drain(s, out, 4), 0);		/* one PING in flight */
	ASSERT_EQ(session_tick(s, 60 * SEC), -EPIPE);
	ASSERT_EQ(s->end, END_IDLE);
	session_free(s);

	/* the PONG keeps it alive */
	s = up_session(0);
	ASSERT_EQ(session_tick(s, 30 * SEC), 0);
	ASSERT_EQ(drain(s, out, 4), 1);
	proto_msg_pong(&m, out[0].u.ping.token);
	ASSERT_EQ(feed(s, &m, 31 * SEC), 0);
	ASSERT_EQ(session_tick(s, 60 * SEC), 0);
	ASSERT_EQ(s->st, SESS_UP);
	session_free(s);

	/* a silent agent over serial: back to waiting for HELLO */
	{
		struct session *p;

		ASSERT_EQ(session_new(&p, vm, true, &lim, 0), 0);
		shim_test_hello(&m);
		ASSERT_EQ(feed(p, &m, 0), 0);
		ASSERT_EQ(vm->nup, 1);
		ASSERT_EQ(session_tick(p, 60 * SEC), 0);
		ASSERT_EQ(p->st, SESS_HELLO);
		ASSERT_EQ(vm->nup, 0);
		ASSERT_EQ(feed(p, &m, 61 * SEC), 0);
		ASSERT_EQ(p->st, SESS_UP);
		session_free(p);
	}
	teardown();
}

/* A peer that never reads: dropped once its backlog passes the cap. */
static void
test_output_cap(void)
{
	const struct session_limits small = {
		.handshake_ns = 5 * SEC, .idle_ns = 60 * SEC,
		.output_max = 8192,
	};
	uint8_t buf[PROTO_MAX_FRAME];
	struct session *s;
	struct proto_msg m;
	size_t n, len;
	int i, rc = 0;

	setup(GiB);
	ASSERT_EQ(session_new(&s, vm, false, &small, 0), 0);
	shim_test_hello(&m);
	ASSERT_EQ(feed(s, &m, 0), 0);
	proto_msg_ping(&m, 5);
	n = encode(&m, buf);
	for (i = 0; i < 1000 && rc == 0; i++)
		rc = session_input(s, buf, n, 1);
	ASSERT_EQ(rc, -EPIPE);
	ASSERT_EQ(s->st, SESS_DEAD);
	ASSERT_EQ(s->end, END_SLOW);
	session_output(s, &len);
	ASSERT_LE(len, 8192);
	ASSERT_GE(len, 8192 - 32);
	ASSERT_EQ(vm->ends[END_SLOW], 1);
	session_free(s);
	teardown();
}

static size_t
resident(void)
{
	unsigned char vec[1024];
	size_t pages = 4 * MiB / 4096, r = 0;
	int fd = open(backing_path, O_RDONLY);
	void *p = mmap(NULL, 4 * MiB, PROT_READ, MAP_SHARED, fd, 0);

	close(fd);
	if (p == MAP_FAILED || mincore(p, 4 * MiB, vec) < 0)
		abort();
	for (size_t i = 0; i < pages; i++)
		r += vec[i] & 1;
	munmap(p, 4 * MiB);
	return r * 4096;
}

static void
test_prefault(void)
{
	struct session *s, *t;
	struct proto_msg m, out[4];

	setup(GiB);
	s = up_session(0);

	/* outside the VM's 4 MiB: refused, nothing touched */
	proto_msg_init(&m, PROTO_PREFAULT);
	proto_prefault_add(&m, 3 * MiB, 2 * MiB);
	ASSERT_EQ(feed(s, &m, 1), 0);
	ASSERT_EQ(drain(s, out, 4), 1);
	ASSERT_EQ(out[0].type, PROTO_ERROR);
	ASSERT_EQ(out[0].u.error.code, PROTO_ERR_REFUSED);
	ASSERT_CONTAINS(out[0].u.error.text, "not inside");
	ASSERT_TRUE(vm->job == NULL);
	ASSERT_EQ_U(resident(), 0);

	/* inside, but over the 2 MiB cap */
	proto_msg_init(&m, PROTO_PREFAULT);
	proto_prefault_add(&m, 0, 3 * MiB);
	ASSERT_EQ(feed(s, &m, 1), 0);
	ASSERT_EQ(drain(s, out, 4), 1);
	ASSERT_EQ(out[0].u.error.code, PROTO_ERR_REFUSED);
	ASSERT_CONTAINS(out[0].u.error.text, "prefault_cap");
	ASSERT_EQ_U(resident(), 0);
	ASSERT_EQ(vm->pf_refused, 2);

	/* in range: a job; a second PREFAULT meanwhile is refused */
	proto_msg_init(&m, PROTO_PREFAULT);
	proto_prefault_add(&m, 1 * MiB, 256 * KiB);
	proto_prefault_add(&m, 3 * MiB, 64 * KiB);
	ASSERT_EQ(feed(s, &m, 1), 0);
	ASSERT_EQ(drain(s, out, 4), 0);
	ASSERT_TRUE(vm->job != NULL);
	t = up_session(0);
	ASSERT_EQ(feed(t, &m, 1), 0);
	ASSERT_EQ(drain(t, out, 4), 1);
	ASSERT_EQ(out[0].u.error.code, PROTO_ERR_UNEXPECTED);
	prefault_finish(vm);
	session_prefault_done(vm);
	ASSERT_EQ(drain(s, out, 4), 1);
	ASSERT_EQ(out[0].type, PROTO_PREFAULT_DONE);
	ASSERT_EQ(out[0].u.prefault_done.status, 0);
	ASSERT_EQ_U(out[0].u.prefault_done.bytes_pinned, 320 * KiB);
	ASSERT_EQ_U(vm->pinned, 320 * KiB);
	ASSERT_EQ_U(resident(), 320 * KiB);

	/* BYE releases the pins and ends the session */
	proto_msg_bye(&m, PROTO_BYE_SHUTDOWN);
	ASSERT_EQ(feed(s, &m, 2), -EPIPE);
	ASSERT_EQ(s->end, END_BYE);
	ASSERT_EQ_U(vm->pinned, 0);
	ASSERT_EQ(vm->npins, 0);
	session_free(s);

	/* the asker leaves mid-job: the job finishes unheard */
	proto_msg_init(&m, PROTO_PREFAULT);
	proto_prefault_add(&m, 0, 64 * KiB);
	ASSERT_EQ(feed(t, &m, 3), 0);
	ASSERT_TRUE(vm->job != NULL);
	session_free(t);
	prefault_finish(vm);
	ASSERT_EQ_U(vm->pinned, 64 * KiB);
	teardown();
}

/* An agent that offers PROTO_CAP_PREFAULT_PARTS, up. */
static struct session *
parts_session(uint64_t now)
{
	struct proto_msg w;
	struct session *s = up_session_caps(now,
	    PROTO_CAP_PREFAULT_PARTS | (1u << 20), &w);

	/* the shared bits only: an unknown offer is not echoed */
	if (w.type != PROTO_WELCOME || w.u.welcome.caps !=
	    PROTO_CAP_PREFAULT_PARTS)
		abort();
	return s;
}

static void
part(struct proto_msg *m, uint16_t flags, uint16_t reason)
{
	proto_msg_init(m, PROTO_PREFAULT_PART);
	m->u.prefault.flags = flags;
	m->u.prefault.reason = reason;
}

/*
 * A set in PREFAULT_PART frames: pinned as one at the last frame, with
 * what it is kept for `vtierctl vms`; 300 ranges (more than a PREFAULT
 * holds) of 4 KiB each, every other page.
 */
static void
test_prefault_parts(void)
{
	struct session *s, *old;
	struct proto_msg m, out[4];
	uint64_t gpa = 0;

	setup(GiB);
	/* an agent that did not offer the bit: plain WELCOME, no parts */
	old = up_session(0);
	part(&m, PROTO_PF_LAST, 0);
	proto_prefault_add(&m, 0, 4096);
	ASSERT_EQ(feed(old, &m, 1), 0);
	ASSERT_EQ(drain(old, out, 4), 1);
	ASSERT_EQ(out[0].type, PROTO_ERROR);
	ASSERT_EQ(out[0].u.error.code, PROTO_ERR_UNEXPECTED);
	ASSERT_TRUE(vm->job == NULL);
	session_free(old);

	s = parts_session(0);
	for (int f = 0; f < 5; f++) {
		part(&m, f == 4 ? PROTO_PF_LAST : 0, 0);
		for (int i = 0; i < 60; i++, gpa += 8192)
			ASSERT_EQ(proto_prefault_add(&m, gpa, 4096), 0);
		ASSERT_EQ(feed(s, &m, 1), 0);
		ASSERT_EQ(drain(s, out, 4), 0);
		ASSERT_TRUE((vm->job != NULL) == (f == 4));
	}
	prefault_finish(vm);
	session_prefault_done(vm);
	ASSERT_EQ(drain(s, out, 4), 1);
	ASSERT_EQ(out[0].type, PROTO_PREFAULT_DONE);
	ASSERT_EQ(out[0].u.prefault_done.status, 0);
	ASSERT_EQ_U(out[0].u.prefault_done.bytes_pinned, 300 * 4096);
	ASSERT_EQ(vm->npins, 300);
	ASSERT_EQ(vm->pf_scope, PF_SCOPE_PEBS);
	ASSERT_EQ(vm->pf_ranges, 300);

	/* contiguous across frames: merged; the fallback and its reason */
	part(&m, 0, 0);
	proto_prefault_add(&m, 0, 64 * KiB);
	ASSERT_EQ(feed(s, &m, 2), 0);
	part(&m, PROTO_PF_LAST | PROTO_PF_FAST_NODE, PROTO_PF_WHY_KCORE);
	proto_prefault_add(&m, 64 * KiB, 64 * KiB);
	ASSERT_EQ(feed(s, &m, 2), 0);
	prefault_finish(vm);
	session_prefault_done(vm);
	ASSERT_EQ(drain(s, out, 4), 1);
	ASSERT_EQ_U(out[0].u.prefault_done.bytes_pinned, 128 * KiB);
	ASSERT_EQ(vm->pf_scope, PF_SCOPE_FAST_NODE);
	ASSERT_EQ(vm->pf_reason, PROTO_PF_WHY_KCORE);
	ASSERT_EQ(vm->pf_ranges, 1);

	/* out of order across frames: one ERROR, the rest ignored */
	part(&m, 0, 0);
	proto_prefault_add(&m, 1 * MiB, 4096);
	ASSERT_EQ(feed(s, &m, 3), 0);
	part(&m, 0, 0);
	proto_prefault_add(&m, 512 * KiB, 4096);
	ASSERT_EQ(feed(s, &m, 3), 0);
	ASSERT_EQ(drain(s, out, 4), 1);
	ASSERT_EQ(out[0].u.error.code, PROTO_ERR_REFUSED);
	ASSERT_CONTAINS(out[0].u.error.text, "out of order");
	part(&m, PROTO_PF_LAST, 0);
	proto_prefault_add(&m, 2 * MiB, 4096);
	ASSERT_EQ(feed(s, &m, 3), 0);
	ASSERT_EQ(drain(s, out, 4), 0);
	ASSERT_TRUE(vm->job == NULL);
	ASSERT_EQ_U(vm->pinned, 128 * KiB);	/* untouched */

	/* a plain PREFAULT in the middle of a set drops the set */
	part(&m, 0, 0);
	proto_prefault_add(&m, 0, 4096);
	ASSERT_EQ(feed(s, &m, 4), 0);
	proto_msg_init(&m, PROTO_PREFAULT);
	proto_prefault_add(&m, 0, 4096);
	ASSERT_EQ(feed(s, &m, 4), 0);
	ASSERT_EQ(drain(s, out, 4), 1);
	ASSERT_EQ(out[0].u.error.code, PROTO_ERR_UNEXPECTED);
	ASSERT_EQ(s->nset, 0);

	/* more than PROTO_MAX_SET_RANGES: refused, nothing pinned anew */
	gpa = 0;
	for (int f = 0; gpa < (uint64_t)(PROTO_MAX_SET_RANGES + 64) * 8192;
	    f++) {
		part(&m, 0, 0);
		for (int i = 0; i < PROTO_MAX_RANGES; i++, gpa += 8192)
			proto_prefault_add(&m, gpa, 4096);
		ASSERT_EQ(feed(s, &m, 5), 0);
	}
	ASSERT_EQ(drain(s, out, 4), 1);
	ASSERT_CONTAINS(out[0].u.error.text, "more than 16384 ranges");
	ASSERT_TRUE(s->setcap <= PROTO_MAX_SET_RANGES);
	part(&m, PROTO_PF_LAST, 0);
	proto_prefault_add(&m, gpa, 4096);
	ASSERT_EQ(feed(s, &m, 5), 0);
	ASSERT_EQ(drain(s, out, 4), 0);
	ASSERT_TRUE(vm->job == NULL);
	ASSERT_EQ(vm->pf_ranges, 1);
	session_free(s);
	teardown();
}

/* The shim says BYE (shutdown, VM removed): queued, then CLOSING. */
static void
test_shim_bye(void)
{
	struct session *s;
	struct proto_msg m, out[4];

	setup(GiB);
	s = up_session(0);
	session_bye(s, PROTO_BYE_RESTART);
	ASSERT_EQ(s->st, SESS_CLOSING);
	ASSERT_EQ(s->end, END_SHUTDOWN);
	ASSERT_EQ(drain(s, out, 4), 1);
	ASSERT_EQ(out[0].type, PROTO_BYE);
	ASSERT_EQ(out[0].u.bye.reason, PROTO_BYE_RESTART);
	shim_test_hello(&m);
	ASSERT_EQ(feed(s, &m, 1), -EPIPE);
	ASSERT_EQ(drain(s, out, 4), 0);
	session_free(s);
	teardown();
}

int
main(void)
{
	log_init("test_shim_session", LOG_LVL_ERR);
	RUN_TEST(test_hello_welcome);
	RUN_TEST(test_hello_bytewise_and_again);
	RUN_TEST(test_budget_push);
	RUN_TEST(test_stats_stored_and_ping);
	RUN_TEST(test_version_mismatch);
	RUN_TEST(test_malformed_drops);
	RUN_TEST(test_unexpected);
	RUN_TEST(test_timeouts);
	RUN_TEST(test_output_cap);
	RUN_TEST(test_prefault);
	RUN_TEST(test_prefault_parts);
	RUN_TEST(test_shim_bye);
	TEST_EXIT();
}
