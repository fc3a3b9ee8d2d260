/*
 * proto.c - the agent <-> shim wire codec (see proto.h for the layout).
 *
 * Decoding an untrusted frame happens in three steps, each bounded by the
 * one before: the header is checked in a fixed order ending with the
 * payload size against the type's [min, max] from one table; the payload
 * is read field by field through a cursor that never passes the frame's
 * end, with every count bounded before it is used and checked to agree
 * exactly with the payload size; then the same validator the encoder
 * uses checks the decoded values.  Because every byte is either a value
 * or a field that must be zero, a frame that decodes has exactly one
 * encoding: re-encoding a decoded message gives back the same bytes.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vtier/proto.h"

/* Wire sizes of the parts, in bytes. */
#define HELLO_FIXED	10	/* agent_version, caps, nnodes */
#define HELLO_NODE	12	/* id, flags, mem_bytes */
#define WELCOME_FIXED	14	/* shim_version, budget, name_len */
#define WELCOME_CAPS	4	/* optional caps after the name */
#define BUDGET_LEN	8
#define PREFAULT_FIXED	2	/* nranges */
#define PREFAULT_RANGE	16	/* gpa, size */
#define PART_FIXED	6	/* flags, reason, nranges */
#define PFDONE_LEN	12	/* status, bytes_pinned */
#define STATS_NU64	13
#define STATS_LEN	(STATS_NU64 * 8 + 4)
#define PING_LEN	8
#define ERROR_FIXED	6	/* code, text_len */
#define BYE_LEN		4

static_assert(PROTO_HDR_LEN == 4 + 2 + 2 + 2 + 2 + 4 + 4 + 4,
    "header fields add up to the header");
static_assert(HELLO_FIXED == 4 + 4 + 2 && HELLO_NODE == 2 + 2 + 8, "HELLO");
static_assert(WELCOME_FIXED == 4 + 8 + 2, "WELCOME");
static_assert(PREFAULT_RANGE == 8 + 8, "PREFAULT range");
static_assert(PART_FIXED == 2 + 2 + 2, "PREFAULT_PART");
static_assert(PFDONE_LEN == 4 + 8, "PREFAULT_DONE");
static_assert(STATS_LEN == 108, "STATS");
static_assert(ERROR_FIXED == 4 + 2, "ERROR");
static_assert(PROTO_HDR_LEN + HELLO_FIXED + PROTO_MAX_NODES * HELLO_NODE
    <= PROTO_MAX_FRAME, "largest HELLO fits a frame");
static_assert(PROTO_HDR_LEN + PREFAULT_FIXED +
    PROTO_MAX_RANGES * PREFAULT_RANGE <= PROTO_MAX_FRAME,
    "largest PREFAULT fits a frame");
static_assert(PROTO_HDR_LEN + PART_FIXED +
    PROTO_MAX_RANGES * PREFAULT_RANGE <= PROTO_MAX_FRAME,
    "largest PREFAULT_PART fits a frame");
static_assert(PROTO_HDR_LEN + WELCOME_FIXED + PROTO_NAME_MAX + WELCOME_CAPS
    <= PROTO_MAX_FRAME, "largest WELCOME fits a frame");
static_assert(PROTO_HDR_LEN + ERROR_FIXED + PROTO_TEXT_MAX
    <= PROTO_MAX_FRAME, "largest ERROR fits a frame");
static_assert(PROTO_MAX_FRAME <= UINT16_MAX, "table sizes are u16");
static_assert(PROTO_MAX_NODES <= UINT16_MAX &&
    PROTO_MAX_RANGES <= UINT16_MAX, "counts are u16");
static_assert(PROTO_NAME_MAX <= UINT16_MAX && PROTO_TEXT_MAX <= UINT16_MAX,
    "text lengths are u16");

/* Payload size bounds per type, the one table both directions use. */
static const struct {
	const char *name;
	uint16_t min, max;
} types[PROTO_TYPE_MAX + 1] = {
	[PROTO_HELLO] = { "HELLO", HELLO_FIXED + HELLO_NODE,
	    HELLO_FIXED + PROTO_MAX_NODES * HELLO_NODE },
	[PROTO_WELCOME] = { "WELCOME", WELCOME_FIXED + 1,
	    WELCOME_FIXED + PROTO_NAME_MAX + WELCOME_CAPS },
	[PROTO_BUDGET] = { "BUDGET", BUDGET_LEN, BUDGET_LEN },
	[PROTO_PREFAULT] = { "PREFAULT", PREFAULT_FIXED + PREFAULT_RANGE,
	    PREFAULT_FIXED + PROTO_MAX_RANGES * PREFAULT_RANGE },
	[PROTO_PREFAULT_DONE] = { "PREFAULT_DONE", PFDONE_LEN, PFDONE_LEN },
	[PROTO_STATS] = { "STATS", STATS_LEN, STATS_LEN },
	[PROTO_PING] = { "PING", PING_LEN, PING_LEN },
	[PROTO_PONG] = { "PONG", PING_LEN, PING_LEN },
	[PROTO_ERROR] = { "ERROR", ERROR_FIXED, ERROR_FIXED + PROTO_TEXT_MAX },
	[PROTO_BYE] = { "BYE", BYE_LEN, BYE_LEN },
	[PROTO_PREFAULT_PART] = { "PREFAULT_PART", PART_FIXED + PREFAULT_RANGE,
	    PART_FIXED + PROTO_MAX_RANGES * PREFAULT_RANGE },
};

static int
type_known(uint32_t type)
{
	return type >= 1 && type <= PROTO_TYPE_MAX && types[type].name != NULL;
}

/*
 * Little-endian byte access.  The cursors check every access against the
 * end, so a size table mistake is a decode error, never an overrun.
 */
struct rd {
	const uint8_t *p;
	size_t len, off;
	int short_;
};

static const uint8_t *
rd_take(struct rd *r, size_t n)
{
	const uint8_t *q;

	if (r->short_ || r->len - r->off < n) {
		r->short_ = 1;
		return NULL;
	}
	q = r->p + r->off;
	r->off += n;
	return q;
}

static uint16_t
le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint16_t
rd_u16(struct rd *r)
{
	const uint8_t *p = rd_take(r, 2);

	return p ? le16(p) : 0;
}

static uint32_t
rd_u32(struct rd *r)
{
	const uint8_t *p = rd_take(r, 4);

	return p ? le32(p) : 0;
}

static uint64_t
rd_u64(struct rd *r)
{
	const uint8_t *p = rd_take(r, 8);

	return p ? le64(p) : 0;
}

/* n bytes into a NUL-terminated char array of size > n. */
static void
rd_text(struct rd *r, char *dst, size_t n)
{
	const uint8_t *p = rd_take(r, n);

	if (p != NULL)
		memcpy(dst, p, n);
	dst[p != NULL ? n : 0] = '\0';
}

struct wr {
	uint8_t *p;
	size_t len, off;
	int full;
};

static uint8_t *
wr_take(struct wr *w, size_t n)
{
	uint8_t *q;

	if (w->full || w->len - w->off < n) {
		w->full = 1;
		return NULL;
	}
	q = w->p + w->off;
	w->off += n;
	return q;
}

static void
wr_u16(struct wr *w, uint16_t v)
{
	uint8_t *p = wr_take(w, 2);

	if (p != NULL) {
		p[0] = (uint8_t)v;
		p[1] = (uint8_t)(v >> 8);
	}
}

static void
wr_u32(struct wr *w, uint32_t v)
{
	uint8_t *p = wr_take(w, 4);

	if (p != NULL) {
		p[0] = (uint8_t)v;
		p[1] = (uint8_t)(v >> 8);
		p[2] = (uint8_t)(v >> 16);
		p[3] = (uint8_t)(v >> 24);
	}
}

static void
wr_u64(struct wr *w, uint64_t v)
{
	wr_u32(w, (uint32_t)v);
	wr_u32(w, (uint32_t)(v >> 32));
}

static void
wr_bytes(struct wr *w, const void *src, size_t n)
{
	uint8_t *p = wr_take(w, n);

	if (p != NULL && n > 0)
		memcpy(p, src, n);
}

/* Printable ASCII only: what goes into logs, JSON and terminals. */
static int
printable(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/*
 * The semantic rules of proto.h, shared by encode (before writing) and
 * decode (after reading), so the two cannot drift apart.  Counts are
 * bounded here too because encode takes them from the caller.
 */
static int
msg_check(const struct proto_msg *m)
{
	const struct proto_hello *he = &m->u.hello;
	const struct proto_prefault *pf = &m->u.prefault;
	size_t i, j, n;
	uint64_t end = 0;

	switch (m->type) {
	case PROTO_HELLO:
		if (he->nnodes < 1 || he->nnodes > PROTO_MAX_NODES)
			return -EINVAL;
		for (i = 0; i < he->nnodes; i++) {
			if (he->nodes[i].id > PROTO_MAX_NODE_ID ||
			    (he->nodes[i].flags & ~PROTO_NODE_FLAGS) != 0)
				return -EINVAL;
			for (j = 0; j < i; j++)
				if (he->nodes[j].id == he->nodes[i].id)
					return -EINVAL;
		}
		return 0;
	case PROTO_WELCOME:
		n = strnlen(m->u.welcome.name, sizeof(m->u.welcome.name));
		if (n < 1 || n > PROTO_NAME_MAX ||
		    !printable(m->u.welcome.name, n))
			return -EINVAL;
		return 0;
	case PROTO_PREFAULT:
	case PROTO_PREFAULT_PART:
		if (pf->nranges < 1 || pf->nranges > PROTO_MAX_RANGES)
			return -EINVAL;
		if (m->type == PROTO_PREFAULT ?
		    pf->flags != 0 || pf->reason != 0 :
		    (pf->flags & ~PROTO_PF_FLAGS) != 0 ||
		    (pf->reason != 0 && !(pf->flags & PROTO_PF_FAST_NODE)))
			return -EINVAL;
		for (i = 0; i < pf->nranges; i++) {
			uint64_t gpa = pf->ranges[i].gpa;
			uint64_t size = pf->ranges[i].size;

			if (gpa % PROTO_PAGE_SIZE != 0 || size == 0 ||
			    size % PROTO_PAGE_SIZE != 0)
				return -EINVAL;
			if (size > UINT64_MAX - gpa ||
			    gpa + size > PROTO_GPA_LIMIT)
				return -EINVAL;
			if (i > 0 && gpa < end)	/* unsorted or overlapping */
				return -EINVAL;
			end = gpa + size;
		}
		return 0;
	case PROTO_PREFAULT_DONE:
		if (m->u.prefault_done.status > 0 ||
		    m->u.prefault_done.status < -4095)
			return -EINVAL;
		return 0;
	case PROTO_STATS:
		if ((m->u.stats.flags & ~PROTO_STATS_FLAGS) != 0)
			return -EINVAL;
		return 0;
	case PROTO_ERROR:
		n = strnlen(m->u.error.text, sizeof(m->u.error.text));
		if (m->u.error.code == 0 || n > PROTO_TEXT_MAX ||
		    !printable(m->u.error.text, n))
			return -EINVAL;
		return 0;
	case PROTO_BUDGET:
	case PROTO_PING:
	case PROTO_PONG:
	case PROTO_BYE:
		return 0;
	default:
		return -ENOMSG;
	}
}

static void
encode_payload(const struct proto_msg *m, struct wr *w)
{
	const struct proto_stats *st = &m->u.stats;
	size_t i, n;

	switch (m->type) {
	case PROTO_HELLO:
		wr_u32(w, m->u.hello.agent_version);
		wr_u32(w, m->u.hello.caps);
		wr_u16(w, m->u.hello.nnodes);
		for (i = 0; i < m->u.hello.nnodes; i++) {
			wr_u16(w, m->u.hello.nodes[i].id);
			wr_u16(w, m->u.hello.nodes[i].flags);
			wr_u64(w, m->u.hello.nodes[i].mem_bytes);
		}
		break;
	case PROTO_WELCOME:
		n = strnlen(m->u.welcome.name, PROTO_NAME_MAX);
		wr_u32(w, m->u.welcome.shim_version);
		wr_u64(w, m->u.welcome.budget);
		wr_u16(w, (uint16_t)n);
		wr_bytes(w, m->u.welcome.name, n);
		if (m->u.welcome.caps != 0)
			wr_u32(w, m->u.welcome.caps);
		break;
	case PROTO_BUDGET:
		wr_u64(w, m->u.budget.budget);
		break;
	case PROTO_PREFAULT:
	case PROTO_PREFAULT_PART:
		if (m->type == PROTO_PREFAULT_PART) {
			wr_u16(w, m->u.prefault.flags);
			wr_u16(w, m->u.prefault.reason);
		}
		wr_u16(w, m->u.prefault.nranges);
		for (i = 0; i < m->u.prefault.nranges; i++) {
			wr_u64(w, m->u.prefault.ranges[i].gpa);
			wr_u64(w, m->u.prefault.ranges[i].size);
		}
		break;
	case PROTO_PREFAULT_DONE:
		wr_u32(w, (uint32_t)m->u.prefault_done.status);
		wr_u64(w, m->u.prefault_done.bytes_pinned);
		break;
	case PROTO_STATS:
#define WR_STAT(f) wr_u64(w, st->f);
		PROTO_STATS_FIELDS(WR_STAT)
#undef WR_STAT
		wr_u32(w, st->flags);
		break;
	case PROTO_PING:
	case PROTO_PONG:
		wr_u64(w, m->u.ping.token);
		break;
	case PROTO_ERROR:
		n = strnlen(m->u.error.text, PROTO_TEXT_MAX);
		wr_u32(w, m->u.error.code);
		wr_u16(w, (uint16_t)n);
		wr_bytes(w, m->u.error.text, n);
		break;
	case PROTO_BYE:
		wr_u32(w, m->u.bye.reason);
		break;
	}
}

int
proto_encode(const struct proto_msg *m, uint32_t seq, uint8_t *buf,
    size_t len)
{
	struct wr w = { .p = buf, .len = len, .off = PROTO_HDR_LEN };
	size_t total;
	int r;

	if ((r = msg_check(m)) < 0)
		return r;
	if (len < PROTO_HDR_LEN)
		return -ENOSPC;
	encode_payload(m, &w);
	if (w.full)
		return -ENOSPC;
	total = w.off;
	/* Cannot fail after msg_check (see the static_asserts), but cheap. */
	if (total - PROTO_HDR_LEN < types[m->type].min ||
	    total - PROTO_HDR_LEN > types[m->type].max)
		return -EINVAL;

	w.off = 0;
	wr_u32(&w, PROTO_MAGIC);
	wr_u16(&w, PROTO_VERSION);
	wr_u16(&w, m->type);
	wr_u16(&w, 0);			/* flags */
	wr_u16(&w, 0);			/* reserved */
	wr_u32(&w, (uint32_t)total);
	wr_u32(&w, seq);
	wr_u32(&w, 0);			/* reserved2 */
	return (int)total;
}

int
proto_decode_header(const uint8_t *buf, size_t len, struct proto_hdr *h)
{
	size_t payload;

	if (len < PROTO_HDR_LEN)
		return -EAGAIN;
	h->magic = le32(buf + 0);
	h->version = le16(buf + 4);
	h->type = le16(buf + 6);
	h->flags = le16(buf + 8);
	h->reserved = le16(buf + 10);
	h->length = le32(buf + 12);
	h->seq = le32(buf + 16);
	h->reserved2 = le32(buf + 20);

	/*
	 * Version before the must-be-zero fields: a newer peer may use
	 * them, and it should hear "version" rather than "malformed".
	 */
	if (h->magic != PROTO_MAGIC)
		return -EILSEQ;
	if (h->version != PROTO_VERSION)
		return -EPROTONOSUPPORT;
	if (h->flags != 0 || h->reserved != 0 || h->reserved2 != 0)
		return -EPROTO;
	if (h->length < PROTO_HDR_LEN || h->length > PROTO_MAX_FRAME)
		return -EMSGSIZE;
	if (!type_known(h->type))
		return -ENOMSG;
	payload = h->length - PROTO_HDR_LEN;
	if (payload < types[h->type].min || payload > types[h->type].max)
		return -EBADMSG;
	return 0;
}

/*
 * Field by field into m, every count bounded before use; the cursor
 * flags any read past the payload, and the payload must be used exactly.
 */
static int
decode_payload(struct rd *r, struct proto_msg *m)
{
	struct proto_stats *st = &m->u.stats;
	size_t i, n;

	switch (m->type) {
	case PROTO_HELLO:
		m->u.hello.agent_version = rd_u32(r);
		m->u.hello.caps = rd_u32(r);
		n = rd_u16(r);
		if (n > PROTO_MAX_NODES || r->len - r->off != n * HELLO_NODE)
			return -EBADMSG;
		m->u.hello.nnodes = (uint16_t)n;
		for (i = 0; i < n; i++) {
			m->u.hello.nodes[i].id = rd_u16(r);
			m->u.hello.nodes[i].flags = rd_u16(r);
			m->u.hello.nodes[i].mem_bytes = rd_u64(r);
		}
		break;
	case PROTO_WELCOME:
		m->u.welcome.shim_version = rd_u32(r);
		m->u.welcome.budget = rd_u64(r);
		n = rd_u16(r);
		if (n > PROTO_NAME_MAX || (r->len - r->off != n &&
		    r->len - r->off != n + WELCOME_CAPS))
			return -EBADMSG;
		rd_text(r, m->u.welcome.name, n);
		/* An embedded NUL would hide the bytes after it. */
		if (strlen(m->u.welcome.name) != n)
			return -EINVAL;
		if (r->len - r->off == WELCOME_CAPS &&
		    (m->u.welcome.caps = rd_u32(r)) == 0)
			return -EINVAL;	/* 0 is written by leaving it out */
		break;
	case PROTO_BUDGET:
		m->u.budget.budget = rd_u64(r);
		break;
	case PROTO_PREFAULT:
	case PROTO_PREFAULT_PART:
		if (m->type == PROTO_PREFAULT_PART) {
			m->u.prefault.flags = rd_u16(r);
			m->u.prefault.reason = rd_u16(r);
		}
		n = rd_u16(r);
		if (n > PROTO_MAX_RANGES ||
		    r->len - r->off != n * PREFAULT_RANGE)
			return -EBADMSG;
		m->u.prefault.nranges = (uint16_t)n;
		for (i = 0; i < n; i++) {
			m->u.prefault.ranges[i].gpa = rd_u64(r);
			m->u.prefault.ranges[i].size = rd_u64(r);
		}
		break;
	case PROTO_PREFAULT_DONE:
		m->u.prefault_done.status = (int32_t)rd_u32(r);
		m->u.prefault_done.bytes_pinned = rd_u64(r);
		break;
	case PROTO_STATS:
#define RD_STAT(f) st->f = rd_u64(r);
		PROTO_STATS_FIELDS(RD_STAT)
#undef RD_STAT
		st->flags = rd_u32(r);
		break;
	case PROTO_PING:
	case PROTO_PONG:
		m->u.ping.token = rd_u64(r);
		break;
	case PROTO_ERROR:
		m->u.error.code = rd_u32(r);
		n = rd_u16(r);
		if (n > PROTO_TEXT_MAX || r->len - r->off != n)
			return -EBADMSG;
		rd_text(r, m->u.error.text, n);
		if (strlen(m->u.error.text) != n)
			return -EINVAL;
		break;
	case PROTO_BYE:
		m->u.bye.reason = rd_u32(r);
		break;
	default:
		return -ENOMSG;
	}
	if (r->short_ || r->off != r->len)
		return -EBADMSG;
	return 0;
}

int
proto_decode(const uint8_t *buf, size_t len, struct proto_msg *m)
{
	struct proto_hdr h;
	struct rd r;
	int ret;

	memset(m, 0, sizeof(*m));
	if ((ret = proto_decode_header(buf, len, &h)) < 0)
		return ret;
	if (len < h.length)
		return -EAGAIN;
	if (len > h.length)
		return -EMSGSIZE;
	m->type = h.type;
	m->seq = h.seq;
	r = (struct rd){ .p = buf + PROTO_HDR_LEN,
	    .len = h.length - PROTO_HDR_LEN };
	if ((ret = decode_payload(&r, m)) < 0)
		return ret;
	return msg_check(m);
}

int
proto_msg_equal(const struct proto_msg *a, const struct proto_msg *b)
{
	size_t i;

	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case PROTO_HELLO:
		if (a->u.hello.agent_version != b->u.hello.agent_version ||
		    a->u.hello.caps != b->u.hello.caps ||
		    a->u.hello.nnodes != b->u.hello.nnodes ||
		    a->u.hello.nnodes > PROTO_MAX_NODES)
			return 0;
		for (i = 0; i < a->u.hello.nnodes; i++)
			if (a->u.hello.nodes[i].id != b->u.hello.nodes[i].id ||
			    a->u.hello.nodes[i].flags !=
			    b->u.hello.nodes[i].flags ||
			    a->u.hello.nodes[i].mem_bytes !=
			    b->u.hello.nodes[i].mem_bytes)
				return 0;
		return 1;
	case PROTO_WELCOME:
		return a->u.welcome.shim_version == b->u.welcome.shim_version &&
		    a->u.welcome.budget == b->u.welcome.budget &&
		    a->u.welcome.caps == b->u.welcome.caps &&
		    strncmp(a->u.welcome.name, b->u.welcome.name,
			sizeof(a->u.welcome.name)) == 0;
	case PROTO_BUDGET:
		return a->u.budget.budget == b->u.budget.budget;
	case PROTO_PREFAULT:
	case PROTO_PREFAULT_PART:
		if (a->u.prefault.flags != b->u.prefault.flags ||
		    a->u.prefault.reason != b->u.prefault.reason ||
		    a->u.prefault.nranges != b->u.prefault.nranges ||
		    a->u.prefault.nranges > PROTO_MAX_RANGES)
			return 0;
		for (i = 0; i < a->u.prefault.nranges; i++)
			if (a->u.prefault.ranges[i].gpa !=
			    b->u.prefault.ranges[i].gpa ||
			    a->u.prefault.ranges[i].size !=
			    b->u.prefault.ranges[i].size)
				return 0;
		return 1;
	case PROTO_PREFAULT_DONE:
		return a->u.prefault_done.status == b->u.prefault_done.status &&
		    a->u.prefault_done.bytes_pinned ==
		    b->u.prefault_done.bytes_pinned;
	case PROTO_STATS:
#define EQ_STAT(f) if (a->u.stats.f != b->u.stats.f) return 0;
		PROTO_STATS_FIELDS(EQ_STAT)
#undef EQ_STAT
		return a->u.stats.flags == b->u.stats.flags;
	case PROTO_PING:
	case PROTO_PONG:
		return a->u.ping.token == b->u.ping.token;
	case PROTO_ERROR:
		return a->u.error.code == b->u.error.code &&
		    strncmp(a->u.error.text, b->u.error.text,
			sizeof(a->u.error.text)) == 0;
	case PROTO_BYE:
		return a->u.bye.reason == b->u.bye.reason;
	default:
		return 1;	/* same unknown type, no payload to compare */
	}
}

const char *
proto_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case -EAGAIN:
		return "incomplete frame";
	case -EILSEQ:
		return "bad magic (not a vtier stream)";
	case -EPROTONOSUPPORT:
		return "unsupported protocol version";
	case -EPROTO:
		return "nonzero flags or reserved field";
	case -EMSGSIZE:
		return "frame length out of range";
	case -ENOMSG:
		return "unknown message type";
	case -EBADMSG:
		return "payload size wrong for message type";
	case -EINVAL:
		return "invalid field value";
	case -ENOSPC:
		return "buffer too small";
	default:
		return err < 0 ? strerror(-err) : "unknown error";
	}
}

const char *
proto_type_name(uint16_t type)
{
	return type_known(type) ? types[type].name : "UNKNOWN";
}

const char *
proto_pf_reason_name(uint16_t reason)
{
	static const char *const names[] = {
		[PROTO_PF_WHY_NONE] = "none",
		[PROTO_PF_WHY_KALLSYMS] = "kallsyms",
		[PROTO_PF_WHY_BTF] = "btf",
		[PROTO_PF_WHY_KCORE] = "kcore",
		[PROTO_PF_WHY_LAYOUT] = "layout",
		[PROTO_PF_WHY_UNSUPPORTED] = "unsupported",
		[PROTO_PF_WHY_RANGES] = "ranges",
	};

	return reason < sizeof(names) / sizeof(names[0]) ? names[reason] :
	    "unknown";
}

void
proto_msg_init(struct proto_msg *m, uint16_t type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
}

void
proto_msg_budget(struct proto_msg *m, uint64_t budget)
{
	proto_msg_init(m, PROTO_BUDGET);
	m->u.budget.budget = budget;
}

void
proto_msg_ping(struct proto_msg *m, uint64_t token)
{
	proto_msg_init(m, PROTO_PING);
	m->u.ping.token = token;
}

void
proto_msg_pong(struct proto_msg *m, uint64_t token)
{
	proto_msg_init(m, PROTO_PONG);
	m->u.ping.token = token;
}

void
proto_msg_bye(struct proto_msg *m, uint32_t reason)
{
	proto_msg_init(m, PROTO_BYE);
	m->u.bye.reason = reason;
}

void
proto_msg_prefault_done(struct proto_msg *m, int32_t status,
    uint64_t bytes_pinned)
{
	proto_msg_init(m, PROTO_PREFAULT_DONE);
	m->u.prefault_done.status = status;
	m->u.prefault_done.bytes_pinned = bytes_pinned;
}

int
proto_msg_welcome(struct proto_msg *m, uint32_t shim_version,
    uint64_t budget, const char *name)
{
	size_t n = strnlen(name, PROTO_NAME_MAX + 1);

	proto_msg_init(m, PROTO_WELCOME);
	m->u.welcome.shim_version = shim_version;
	m->u.welcome.budget = budget;
	if (n < 1 || n > PROTO_NAME_MAX || !printable(name, n))
		return -EINVAL;
	memcpy(m->u.welcome.name, name, n);
	return 0;
}

void
proto_msg_error(struct proto_msg *m, uint32_t code, const char *fmt, ...)
{
	va_list ap;
	char *t = m->u.error.text;
	size_t i;

	proto_msg_init(m, PROTO_ERROR);
	m->u.error.code = code;
	va_start(ap, fmt);
	vsnprintf(t, sizeof(m->u.error.text), fmt, ap);
	va_end(ap);
	for (i = 0; t[i] != '\0'; i++)
		if (!printable(&t[i], 1))
			t[i] = '?';
}

int
proto_hello_add_node(struct proto_msg *m, uint16_t id, uint16_t flags,
    uint64_t mem_bytes)
{
	struct proto_hello *he = &m->u.hello;

	if (he->nnodes >= PROTO_MAX_NODES)
		return -ENOSPC;
	he->nodes[he->nnodes].id = id;
	he->nodes[he->nnodes].flags = flags;
	he->nodes[he->nnodes].mem_bytes = mem_bytes;
	he->nnodes++;
	return 0;
}

int
proto_prefault_add(struct proto_msg *m, uint64_t gpa, uint64_t size)
{
	struct proto_prefault *pf = &m->u.prefault;
	struct proto_range *last;

	if (pf->nranges > 0 && pf->nranges <= PROTO_MAX_RANGES) {
		last = &pf->ranges[pf->nranges - 1];
		if (last->gpa + last->size == gpa &&
		    last->size <= UINT64_MAX - size) {
			last->size += size;
			return 0;
		}
	}
	if (pf->nranges >= PROTO_MAX_RANGES)
		return -ENOSPC;
	pf->ranges[pf->nranges].gpa = gpa;
	pf->ranges[pf->nranges].size = size;
	pf->nranges++;
	return 0;
}

void
proto_rbuf_init(struct proto_rbuf *rb)
{
	rb->len = 0;
	rb->frame = 0;
	rb->err = 0;
}

size_t
proto_rbuf_want(const struct proto_rbuf *rb)
{
	if (rb->len < PROTO_HDR_LEN)
		return PROTO_HDR_LEN - rb->len;
	return rb->frame - rb->len;
}

int
proto_rbuf_feed(struct proto_rbuf *rb, const uint8_t *data, size_t len)
{
	struct proto_hdr h;
	size_t n, took = 0;
	int r;

	if (rb->err)
		return rb->err;
	while (took < len && (n = proto_rbuf_want(rb)) > 0) {
		n = n < len - took ? n : len - took;
		memcpy(rb->buf + rb->len, data + took, n);
		rb->len += n;
		took += n;
		/* The header is checked the moment it is complete. */
		if (rb->len == PROTO_HDR_LEN) {
			if ((r = proto_decode_header(rb->buf, rb->len, &h)) < 0)
				return rb->err = r;
			rb->frame = h.length;
		}
	}
	return (int)took;
}

int
proto_rbuf_next(struct proto_rbuf *rb, struct proto_msg *m)
{
	int r;

	if (rb->err)
		return rb->err;
	if (rb->len < PROTO_HDR_LEN || rb->len < rb->frame)
		return 0;
	r = proto_decode(rb->buf, rb->len, m);
	rb->len = 0;
	rb->frame = 0;
	return r < 0 ? r : 1;
}
