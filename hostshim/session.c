/*
 * session.c - one agent connection's protocol, as a state machine that
 * never touches a socket: bytes in, frames out, time passing.  conn.c
 * does the I/O; tests and the fuzzer feed it bytes directly.
 *
 *   HELLO --HELLO/WELCOME--> UP --BYE, EOF, timeout--> DEAD
 *     |                       |
 *     +--anything else, a malformed frame, a wrong version--> CLOSING
 *
 * HELLO must come first, within handshake_timeout.  Then BUDGET is
 * pushed whenever the VM's budget changes, STATS are stored in the VM
 * table, PING gets PONG, PREFAULT gets PREFAULT_DONE (after the pinning
 * job, prefault.c) or ERROR (refused: nothing touched), and so does a
 * set sent as PREFAULT_PART frames (with PROTO_CAP_PREFAULT_PARTS, which
 * WELCOME echoes when the agent offered it) at its last frame; BYE ends
 * it and releases the VM's pins.  A repeated HELLO gets a fresh WELCOME: over
 * virtio-serial the agent cannot tell a shim restart from silence, so it
 * says HELLO again.
 *
 * Anything malformed ends the session: an ERROR is queued for the peer
 * (conn.c writes it without waiting) and the state goes CLOSING.  A peer
 * that does not read its output is cut off (DEAD) the moment its backlog
 * would pass output_max.  Input is bounded by proto_rbuf (one frame,
 * header checked before the body is buffered).  Once CLOSING or DEAD a
 * session takes no input and queues no output.
 *
 * Time: a stream connection without HELLO after handshake_timeout, or
 * silent for idle_timeout after WELCOME, is dead; at half the idle time
 * the shim PINGs, so a live agent always answers in time.  A serial port
 * is QEMU's connection, not the agent's: silence there means the agent
 * is gone (the session waits for HELLO again), never that the port is.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "vtier/version.h"
#include "hostshim.h"

#define SHIM_PROTO_VERSION PROTO_SW_VERSION(VTIER_VERSION_MAJOR, \
	VTIER_VERSION_MINOR, VTIER_VERSION_PATCH)
/* What this shim takes beyond version 1's messages (WELCOME's caps). */
#define SHIM_CAPS	PROTO_CAP_PREFAULT_PARTS

const char *
session_state_name(enum session_state st)
{
	static const char *const names[] = {
		"hello", "up", "closing", "dead",
	};

	return (unsigned)st < ARRAY_SIZE(names) ? names[st] : "?";
}

const char *
session_end_name(enum session_end e)
{
	static const char *const names[END_NMAX] = {
		[END_NONE] = "none", [END_EOF] = "eof", [END_BYE] = "bye",
		[END_MALFORMED] = "malformed", [END_VERSION] = "version",
		[END_UNEXPECTED] = "unexpected", [END_SLOW] = "slow_reader",
		[END_HANDSHAKE] = "handshake_timeout",
		[END_IDLE] = "idle_timeout", [END_IO] = "io_error",
		[END_SHUTDOWN] = "shutdown",
	};

	return (unsigned)e < END_NMAX ? names[e] : "?";
}

int
session_new(struct session **sp, struct vm *vm, bool serial,
    const struct session_limits *lim, uint64_t now)
{
	struct session *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	s->vm = vm;
	s->serial = serial;
	s->st = SESS_HELLO;
	s->lim = *lim;
	proto_rbuf_init(&s->rb);
	s->start_ns = s->rx_ns = now;
	budget_attach(vm, s);
	*sp = s;
	return 0;
}

static void
set_state(struct session *s, enum session_state st)
{
	if (s->st == SESS_UP && st != SESS_UP)
		s->vm->nup--;
	else if (s->st != SESS_UP && st == SESS_UP)
		s->vm->nup++;
	s->st = st;
}

/*
 * The end of the session: the first reason sticks.  A pre-fault under
 * way finishes anyway (the pins belong to the VM), unheard.
 */
static int
end(struct session *s, enum session_end why, bool flush)
{
	if (s->st >= SESS_CLOSING)
		return -EPIPE;
	s->end = why;
	s->vm->ends[why]++;
	s->pf_waiting = false;		/* nobody hears the job's end */
	set_state(s, flush && s->outlen > s->outoff ? SESS_CLOSING :
	    SESS_DEAD);
	return -EPIPE;
}

void
session_free(struct session *s)
{
	if (s == NULL)
		return;
	if (s->st < SESS_CLOSING)
		end(s, END_SHUTDOWN, false);
	set_state(s, SESS_DEAD);
	budget_detach(s->vm, s);
	free(s->set);
	free(s->out);
	free(s);
}

/*
 * Queue one frame.  The backlog is bounded by output_max: a peer that
 * does not read is cut off rather than buffered for.
 */
static int
queue(struct session *s, const struct proto_msg *m)
{
	uint8_t frame[PROTO_MAX_FRAME];
	size_t pending = s->outlen - s->outoff;
	int n;

	if (s->st >= SESS_CLOSING)
		return -EPIPE;
	if ((n = proto_encode(m, s->seq, frame, sizeof(frame))) < 0) {
		log_warnx("VM %s: cannot encode %s: %s", s->vm->cfg.name,
		    proto_type_name(m->type), proto_strerror(n));
		return n;
	}
	if (pending + (size_t)n > s->lim.output_max) {
		static struct ratelimit rl;

		if (ratelimit_ok(&rl, 10))
			log_warnx("VM %s: the peer does not read (%zu bytes "
			    "queued): dropping the connection",
			    s->vm->cfg.name, pending);
		end(s, END_SLOW, false);
		return -ENOBUFS;
	}
	if (s->outoff > 0) {		/* keep the backlog at the front */
		memmove(s->out, s->out + s->outoff, pending);
		s->outoff = 0;
		s->outlen = pending;
	}
	if (s->outlen + (size_t)n > s->outcap) {
		size_t cap = MAX(s->outcap * 2, MAX(s->outlen + (size_t)n,
		    (size_t)512));
		uint8_t *p;

		cap = MIN(cap, MAX(s->lim.output_max, s->outlen + (size_t)n));
		if ((p = realloc(s->out, cap)) == NULL) {
			end(s, END_IO, false);
			return -ENOMEM;
		}
		s->out = p;
		s->outcap = cap;
	}
	memcpy(s->out + s->outlen, frame, (size_t)n);
	s->outlen += (size_t)n;
	s->seq++;
	s->frames_out++;
	if (pending == 0 && s->on_output != NULL)
		s->on_output(s->arg);
	return 0;
}

static void __attribute__((format(printf, 3, 4)))
send_error(struct session *s, uint32_t code, const char *fmt, ...)
{
	struct proto_msg m;
	char text[PROTO_TEXT_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	proto_msg_error(&m, code, "%s", text);
	queue(s, &m);
}

static void
send_welcome(struct session *s)
{
	struct proto_msg m;

	/* Names were checked by config.c; a failure here is a bug. */
	if (proto_msg_welcome(&m, SHIM_PROTO_VERSION, s->vm->budget,
	    s->vm->cfg.name) < 0) {
		end(s, END_IO, false);
		return;
	}
	m.u.welcome.caps = s->caps;	/* 0: the old WELCOME, no field */
	queue(s, &m);
}

/* Forget a set that was coming in PREFAULT_PART frames. */
static void
set_reset(struct session *s)
{
	s->nset = 0;
	s->set_bad = false;
}

static void
on_hello(struct session *s, const struct proto_msg *m)
{
	struct vm *vm = s->vm;
	const struct proto_hello *h = &m->u.hello;
	char b[32];

	vm->agent_version = h->agent_version;
	vm->agent_caps = h->caps;
	vm->nnodes = h->nnodes;
	s->caps = h->caps & SHIM_CAPS;	/* negotiated by intersection */
	set_reset(s);
	if (s->st == SESS_UP) {
		log_debug("VM %s: HELLO again: WELCOME again", vm->cfg.name);
	} else {
		format_size(vm->budget, b, sizeof(b));
		log_info("VM %s: agent %u.%u.%u connected (%u node%s), budget "
		    "%s", vm->cfg.name, h->agent_version >> 16,
		    (h->agent_version >> 8) & 0xff, h->agent_version & 0xff,
		    h->nnodes, h->nnodes == 1 ? "" : "s",
		    vm->budget ? b : "not set");
		set_state(s, SESS_UP);
	}
	vm->connects++;
	send_welcome(s);
}

static void
refuse(struct session *s, int rc, const char *why)
{
	static struct ratelimit rl;

	s->vm->pf_refused++;
	s->vm->pf_status = rc;
	if (ratelimit_ok(&rl, 10))
		log_warnx("VM %s: pre-fault refused: %s", s->vm->cfg.name, why);
	send_error(s, PROTO_ERR_REFUSED, "pre-fault refused: %s", why);
}

/* A whole set: replace the VM's pinned set with these n ranges. */
static void
prefault_set(struct session *s, const struct proto_range *r, size_t n,
    const struct pf_what *what)
{
	struct vm *vm = s->vm;
	struct pf_plan plan;
	struct proto_msg m;
	char why[160];
	int rc;

	if (s->pf_waiting || vm->job != NULL) {
		send_error(s, PROTO_ERR_UNEXPECTED, "a pre-fault of this VM is "
		    "already under way");
		return;
	}
	if ((rc = prefault_plan(&vm->cfg, r, n, &plan, why,
	    sizeof(why))) < 0) {
		prefault_plan_free(&plan);
		refuse(s, rc, why);
		return;
	}
	rc = prefault_start(vm, &plan);
	prefault_plan_free(&plan);
	if (rc < 0) {
		vm->pf_status = rc;
		proto_msg_prefault_done(&m, rc, 0);
		queue(s, &m);
		return;
	}
	vm->pf_next = *what;
	s->pf_waiting = true;
}

static void
on_prefault(struct session *s, const struct proto_msg *m)
{
	const struct pf_what what = { PF_SCOPE_UNSAID, 0,
	    m->u.prefault.nranges };

	if (s->nset > 0 || s->set_bad) {
		set_reset(s);
		send_error(s, PROTO_ERR_UNEXPECTED, "PREFAULT in the middle of "
		    "a set of PREFAULT_PART: the set is dropped");
		return;
	}
	prefault_set(s, m->u.prefault.ranges, m->u.prefault.nranges, &what);
}

/*
 * A PREFAULT_PART: its ranges join the set (sorted and disjoint across
 * frames, as the decoder checks them within one; contiguous ones merged;
 * at most PROTO_MAX_SET_RANGES, the array growing only as ranges come),
 * and the last frame hands the set on.  A set that breaks a rule gets
 * one ERROR; its remaining frames are ignored up to its last.
 */
static void
on_part(struct session *s, const struct proto_msg *m)
{
	const struct proto_prefault *pf = &m->u.prefault;
	struct pf_what what;
	char why[96];

	if (!(s->caps & PROTO_CAP_PREFAULT_PARTS)) {
		send_error(s, PROTO_ERR_UNEXPECTED, "PREFAULT_PART needs "
		    "PROTO_CAP_PREFAULT_PARTS in HELLO");
		return;
	}
	for (size_t i = 0; i < pf->nranges && !s->set_bad; i++) {
		const struct proto_range *r = &pf->ranges[i];
		struct proto_range *last = s->nset ? &s->set[s->nset - 1] : NULL;

		if (last != NULL && r->gpa < last->gpa + last->size) {
			snprintf(why, sizeof(why), "ranges of a set out of "
			    "order at GPA 0x%llx", (unsigned long long)r->gpa);
			goto bad;
		}
		if (last != NULL && r->gpa == last->gpa + last->size) {
			last->size += r->size;	/* < 2 * 2^52 */
			continue;
		}
		if (s->nset == PROTO_MAX_SET_RANGES) {
			snprintf(why, sizeof(why), "a set of more than %d ranges",
			    PROTO_MAX_SET_RANGES);
			goto bad;
		}
		if (s->nset == s->setcap) {
			size_t cap = MIN(MAX(s->setcap * 2, (size_t)64),
			    (size_t)PROTO_MAX_SET_RANGES);
			struct proto_range *p = realloc(s->set, cap * sizeof(*p));

			if (p == NULL) {
				snprintf(why, sizeof(why), "out of memory");
				goto bad;
			}
			s->set = p;
			s->setcap = cap;
		}
		s->set[s->nset++] = *r;
		continue;
bad:
		refuse(s, -EINVAL, why);
		s->set_bad = true;
	}
	if (!(pf->flags & PROTO_PF_LAST))
		return;
	if (!s->set_bad) {
		what.scope = pf->flags & PROTO_PF_FAST_NODE ?
		    PF_SCOPE_FAST_NODE : PF_SCOPE_PEBS;
		what.reason = pf->reason;
		what.nranges = s->nset;
		prefault_set(s, s->set, s->nset, &what);
	}
	set_reset(s);
}

static void
handle(struct session *s, const struct proto_msg *m, uint64_t now)
{
	static struct ratelimit rl_err, rl_dir;
	struct proto_msg r;

	if (s->st == SESS_HELLO && m->type != PROTO_HELLO &&
	    m->type != PROTO_BYE) {
		send_error(s, PROTO_ERR_UNEXPECTED, "expected HELLO first, "
		    "got %s", proto_type_name(m->type));
		end(s, END_UNEXPECTED, true);
		return;
	}
	switch (m->type) {
	case PROTO_HELLO:
		on_hello(s, m);
		break;
	case PROTO_STATS:
		budget_store_stats(s->vm, &m->u.stats, now);
		break;
	case PROTO_PING:
		proto_msg_pong(&r, m->u.ping.token);
		queue(s, &r);
		break;
	case PROTO_PONG:
		break;		/* any frame counts as alive */
	case PROTO_PREFAULT:
		on_prefault(s, m);
		break;
	case PROTO_PREFAULT_PART:
		on_part(s, m);
		break;
	case PROTO_ERROR:
		if (ratelimit_ok(&rl_err, 10))
			log_warnx("VM %s: agent says error %u: %s",
			    s->vm->cfg.name, m->u.error.code, m->u.error.text);
		break;
	case PROTO_BYE:
		log_info("VM %s: agent said BYE (reason %u)%s", s->vm->cfg.name,
		    m->u.bye.reason, s->vm->npins ? ": pins released" : "");
		prefault_release(s->vm);
		session_prefault_done(s->vm);	/* a job cancelled */
		end(s, END_BYE, false);
		break;
	default:	/* WELCOME, BUDGET, PREFAULT_DONE: ours to send */
		if (ratelimit_ok(&rl_dir, 10))
			log_warnx("VM %s: agent sent %s, a shim-to-agent "
			    "message", s->vm->cfg.name,
			    proto_type_name(m->type));
		send_error(s, PROTO_ERR_UNEXPECTED, "%s goes from the shim to "
		    "the agent", proto_type_name(m->type));
		break;
	}
}

/* A frame that does not decode: say why (best effort), then close. */
static int
bad_frame(struct session *s, int err)
{
	static struct ratelimit rl;
	struct proto_hdr h;

	if (err == -EPROTONOSUPPORT) {
		proto_decode_header(s->rb.buf, s->rb.len, &h);
		if (ratelimit_ok(&rl, 10))
			log_warnx("VM %s: agent speaks protocol version %u, we "
			    "speak %u: refused", s->vm->cfg.name, h.version,
			    PROTO_VERSION);
		send_error(s, PROTO_ERR_VERSION, "protocol version %u is not "
		    "supported: vtier-hostshim %s speaks version %u",
		    h.version, VTIER_VERSION, PROTO_VERSION);
		return end(s, END_VERSION, true);
	}
	if (ratelimit_ok(&rl, 10))
		log_warnx("VM %s: malformed frame (%s): dropping the connection",
		    s->vm->cfg.name, proto_strerror(err));
	send_error(s, PROTO_ERR_MALFORMED, "malformed frame: %s",
	    proto_strerror(err));
	return end(s, END_MALFORMED, true);
}

int
session_input(struct session *s, const uint8_t *p, size_t n, uint64_t now)
{
	struct proto_msg m;
	int k, r = 0;

	if (s->st >= SESS_CLOSING)
		return -EPIPE;
	while (n > 0) {
		if ((k = proto_rbuf_feed(&s->rb, p, n)) < 0)
			return bad_frame(s, k);
		p += k;
		n -= (size_t)k;
		while ((r = proto_rbuf_next(&s->rb, &m)) == 1) {
			s->frames_in++;
			s->rx_ns = now;
			s->ping_ns = 0;
			handle(s, &m, now);
			if (s->st >= SESS_CLOSING)
				return -EPIPE;
		}
		if (r < 0)
			return bad_frame(s, r);
	}
	return 0;
}

void
session_close(struct session *s, enum session_end why)
{
	end(s, why, false);
}

int
session_tick(struct session *s, uint64_t now)
{
	struct proto_msg m;

	if (s->st >= SESS_CLOSING)
		return -EPIPE;
	if (s->st == SESS_HELLO) {
		if (!s->serial && now - s->start_ns >= s->lim.handshake_ns)
			return end(s, END_HANDSHAKE, false);
		return 0;
	}
	if (now - s->rx_ns >= s->lim.idle_ns) {
		if (!s->serial)
			return end(s, END_IDLE, false);
		log_info("VM %s: no word from the agent over the serial port "
		    "for %llu s: waiting for its HELLO", s->vm->cfg.name,
		    (unsigned long long)(s->lim.idle_ns / 1000000000ULL));
		s->vm->ends[END_IDLE]++;
		set_state(s, SESS_HELLO);
		s->start_ns = now;
		s->ping_ns = 0;
		return 0;
	}
	if (s->ping_ns == 0 && now - s->rx_ns >= s->lim.idle_ns / 2) {
		proto_msg_ping(&m, s->frames_out);	/* not our clock */
		s->ping_ns = now;
		queue(s, &m);
		if (s->st >= SESS_CLOSING)
			return -EPIPE;
	}
	return 0;
}

uint64_t
session_deadline(const struct session *s)
{
	switch (s->st) {
	case SESS_HELLO:
		return s->serial ? UINT64_MAX :
		    s->start_ns + s->lim.handshake_ns;
	case SESS_UP:
		return s->ping_ns == 0 ? s->rx_ns + s->lim.idle_ns / 2 :
		    s->rx_ns + s->lim.idle_ns;
	default:
		return UINT64_MAX;
	}
}

const uint8_t *
session_output(const struct session *s, size_t *len)
{
	*len = s->outlen - s->outoff;
	return s->out != NULL ? s->out + s->outoff : NULL;
}

void
session_consumed(struct session *s, size_t n)
{
	n = MIN(n, s->outlen - s->outoff);
	s->outoff += n;
	if (s->outoff == s->outlen)
		s->outoff = s->outlen = 0;
}

static void
send_budget(struct session *s)
{
	struct proto_msg m;

	/* 0 means "not set"; a BUDGET of 0 bytes would be a real limit. */
	if (s->st != SESS_UP || s->vm->budget == 0)
		return;
	proto_msg_budget(&m, s->vm->budget);
	queue(s, &m);
}

void
session_push_budget(struct vm *vm)
{
	for (struct session *s = vm->sessions; s != NULL; s = s->vm_next)
		send_budget(s);
}

void
session_bye(struct session *s, uint32_t reason)
{
	struct proto_msg m;

	if (s->st >= SESS_CLOSING)
		return;
	proto_msg_bye(&m, reason);
	queue(s, &m);
	end(s, END_SHUTDOWN, true);
}

void
session_prefault_done(struct vm *vm)
{
	struct proto_msg m;

	if (vm->job != NULL)
		return;		/* still under way */
	if (vm->pf_status == 0 && vm->pf_next.nranges > 0) {
		vm->pf_scope = vm->pf_next.scope;
		vm->pf_reason = vm->pf_next.reason;
		vm->pf_ranges = vm->pf_next.nranges;
	}
	vm->pf_next.nranges = 0;
	for (struct session *s = vm->sessions; s != NULL; s = s->vm_next) {
		if (!s->pf_waiting)
			continue;
		s->pf_waiting = false;
		proto_msg_prefault_done(&m, vm->pf_status,
		    vm->pf_status == 0 ? vm->pinned : 0);
		queue(s, &m);
	}
}
