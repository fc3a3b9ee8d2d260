/*
 * trace.c - sample trace files: the agent's text format and vtier-sim's
 * compact binary one (layout in sim.h), read and written as streams.
 *
 * Both readers treat the file as untrusted input.  Text: a line is at
 * most 256 characters (the replay sampler's limit, so what the sim
 * accepts the agent accepts too), contains no NUL byte and is parsed by
 * the agent's own sample_parse_line.  Binary: the header is checked
 * whole (magic, version, flags = 0) before any record; every varint is
 * bounded at 10 bytes and its last byte checked; reserved tag bits must
 * be zero; time must not overflow.  Both formats then check each sample
 * against the heat table's key space (pid 1..2^22-1, address below
 * 2^47) and time order, and an error names the line (text) or record
 * number and byte offset (binary): a trace is data, so the simulator
 * stops at the first bad sample instead of skipping it as the agent does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vtier/util.h"
#include "heat.h"
#include "sim.h"

#define BUF_SIZE	(64 * 1024)
#define LINE_MAX_LEN	256	/* = REPLAY_LINE_MAX in sample_replay.c */
#define VARINT_MAX	10

struct trace_reader {
	int fd;			/* -1: bytes in memory */
	bool own_fd;
	char name[256];
	enum trace_format fmt;
	const uint8_t *p, *end;	/* unread bytes */
	uint8_t *buf;		/* read buffer (fd only) */
	bool eof;		/* nothing more to read from the source */
	uint64_t line;		/* text: lines read; binary: records read */
	uint64_t off;		/* binary: file offset of p */
	uint64_t prev_time, prev_addr;
	uint32_t prev_pid;
	bool have_prev;
	int rc;			/* sticky error */
	char err[400];
};

struct trace_writer {
	int fd;
	bool own_fd;
	enum trace_format fmt;
	uint8_t buf[BUF_SIZE];
	size_t len;
	uint64_t prev_time, prev_addr;
	uint32_t prev_pid;
	bool have_prev;
	int rc;			/* first error */
};

bool
trace_sample_valid(const struct sample *s)
{
	return s->pid >= 1 && s->pid <= HEAT_PID_MAX &&
	    s->addr < HEAT_ADDR_LIMIT && s->op <= SAMPLE_OP_STORE;
}

/* ---- reading ---- */

static int
fail(struct trace_reader *r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct trace_reader *r, int rc, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->fmt == TRACE_TEXT)
		n = snprintf(r->err, sizeof(r->err), "%s:%llu: ", r->name,
		    (unsigned long long)r->line);
	else
		n = snprintf(r->err, sizeof(r->err), "%s: record %llu at byte "
		    "%llu: ", r->name, (unsigned long long)r->line + 1,
		    (unsigned long long)r->off);
	if (n < 0 || (size_t)n >= sizeof(r->err))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(r->err + n, sizeof(r->err) - (size_t)n, fmt, ap);
	va_end(ap);
	r->rc = rc;
	return rc;
}

/* Move the unread bytes to the front and read more.  0 or -errno. */
static int
fill(struct trace_reader *r)
{
	size_t left = (size_t)(r->end - r->p);
	ssize_t n;

	if (r->fd < 0 || r->eof) {
		r->eof = true;
		return 0;
	}
	memmove(r->buf, r->p, left);
	r->p = r->buf;
	r->end = r->buf + left;
	do {
		n = read(r->fd, r->buf + left, BUF_SIZE - left);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		r->eof = true;
	r->end += n;
	return 0;
}

/* At least n unread bytes, unless the source ends first.  0 or -errno. */
static int
need(struct trace_reader *r, size_t n)
{
	int rc;

	while ((size_t)(r->end - r->p) < n && !r->eof)
		if ((rc = fill(r)) < 0)
			return rc;
	return 0;
}

static int
check_header(struct trace_reader *r, char *err, size_t errlen)
{
	uint32_t version, flags;
	int rc;

	if ((rc = need(r, TRACE_HDR_LEN)) < 0) {
		snprintf(err, errlen, "%s: %s", r->name, strerror(-rc));
		return rc;
	}
	if ((size_t)(r->end - r->p) < TRACE_MAGIC_LEN ||
	    memcmp(r->p, TRACE_MAGIC, TRACE_MAGIC_LEN) != 0) {
		r->fmt = TRACE_TEXT;
		return 0;
	}
	r->fmt = TRACE_BINARY;
	if ((size_t)(r->end - r->p) < TRACE_HDR_LEN) {
		snprintf(err, errlen, "%s: binary trace header truncated "
		    "(%zu of %d bytes)", r->name, (size_t)(r->end - r->p),
		    TRACE_HDR_LEN);
		return -EINVAL;
	}
	version = (uint32_t)r->p[8] | (uint32_t)r->p[9] << 8 |
	    (uint32_t)r->p[10] << 16 | (uint32_t)r->p[11] << 24;
	flags = (uint32_t)r->p[12] | (uint32_t)r->p[13] << 8 |
	    (uint32_t)r->p[14] << 16 | (uint32_t)r->p[15] << 24;
	if (version != TRACE_VERSION) {
		snprintf(err, errlen, "%s: binary trace version %u (this "
		    "vtier-sim reads version %d)", r->name, version,
		    TRACE_VERSION);
		return -EINVAL;
	}
	if (flags != 0) {
		snprintf(err, errlen, "%s: binary trace header flags 0x%x "
		    "(expected 0)", r->name, flags);
		return -EINVAL;
	}
	r->p += TRACE_HDR_LEN;
	r->off = TRACE_HDR_LEN;
	return 0;
}

static int
reader_new(struct trace_reader **rp, const char *name)
{
	struct trace_reader *r;

	*rp = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	r->fd = -1;
	snprintf(r->name, sizeof(r->name), "%s", name);
	*rp = r;
	return 0;
}

int
trace_open(struct trace_reader **rp, const char *path, char *err,
    size_t errlen)
{
	struct trace_reader *r;
	int rc;

	if ((rc = reader_new(&r, strcmp(path, "-") == 0 ? "(stdin)" : path)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if ((r->buf = malloc(BUF_SIZE)) == NULL) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		goto err;
	}
	r->p = r->end = r->buf;
	if (strcmp(path, "-") == 0) {
		r->fd = 0;
	} else if ((r->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		goto err;
	} else {
		r->own_fd = true;
	}
	if ((rc = check_header(r, err, errlen)) < 0)
		goto err;
	*rp = r;
	return 0;
err:
	trace_close(r);
	return rc;
}

int
trace_open_mem(struct trace_reader **rp, const void *data, size_t len,
    const char *name)
{
	struct trace_reader *r;
	char err[64];
	int rc;

	if ((rc = reader_new(&r, name)) < 0)
		return rc;
	r->p = data;
	r->end = r->p + len;
	r->eof = true;
	if ((rc = check_header(r, err, sizeof(err))) < 0) {
		/* Keep the message: the reader reports it on the first read. */
		snprintf(r->err, sizeof(r->err), "%s", err);
		r->rc = rc;
	}
	*rp = r;
	return 0;
}

/* Order and range checks shared by both formats. */
static int
check_sample(struct trace_reader *r, const struct sample *s)
{
	if (s->pid == 0 || s->pid > HEAT_PID_MAX)
		return fail(r, -EINVAL, "pid %u out of range 1..%u",
		    s->pid, HEAT_PID_MAX);
	if (s->addr >= HEAT_ADDR_LIMIT)
		return fail(r, -EINVAL, "address 0x%llx is not a user address "
		    "(at most 47 bits)", (unsigned long long)s->addr);
	if (r->have_prev && s->time_ns < r->prev_time)
		return fail(r, -EINVAL, "time %llu is before the previous "
		    "sample's %llu (samples must be in time order)",
		    (unsigned long long)s->time_ns,
		    (unsigned long long)r->prev_time);
	r->prev_time = s->time_ns;
	r->have_prev = true;
	return 0;
}

static int
read_text(struct trace_reader *r, struct sample *s)
{
	char line[LINE_MAX_LEN + 1];
	const uint8_t *nl;
	size_t len;
	int rc;

	for (;;) {
		nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
		if (nl == NULL) {
			if ((size_t)(r->end - r->p) > LINE_MAX_LEN) {
				r->line++;
				return fail(r, -EINVAL, "line longer than %d "
				    "characters", LINE_MAX_LEN);
			}
			if (!r->eof) {
				if ((rc = fill(r)) < 0)
					return fail(r, rc, "read: %s", strerror(-rc));
				continue;
			}
			if (r->p == r->end)
				return 0;
			nl = r->end;	/* a last line without a newline */
		}
		len = (size_t)(nl - r->p);
		r->line++;
		if (len > LINE_MAX_LEN)
			return fail(r, -EINVAL, "line longer than %d characters",
			    LINE_MAX_LEN);
		if (memchr(r->p, '\0', len) != NULL)
			return fail(r, -EINVAL, "NUL byte in a text trace "
			    "(a binary file?)");
		memcpy(line, r->p, len);
		line[len] = '\0';
		r->p = nl < r->end ? nl + 1 : r->end;
		rc = sample_parse_line(line, s);
		if (rc == 0)
			continue;
		if (rc < 0)
			return fail(r, -EINVAL, "malformed sample (expected: "
			    "time_ns pid addr_hex [weight] [L|S])");
		if ((rc = check_sample(r, s)) < 0)
			return rc;
		return 1;
	}
}

/* LEB128: 0, -1 truncated, -2 longer than 64 bits. */
static int
get_uvarint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	uint64_t x = 0;

	for (int i = 0; i < VARINT_MAX; i++) {
		uint8_t b;

		if (p == end)
			return -1;
		b = *p++;
		if (i == VARINT_MAX - 1 && b > 1)
			return -2;
		x |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*pp = p;
			*v = x;
			return 0;
		}
	}
	return -2;
}

static int
varint_fail(struct trace_reader *r, int vr, const char *what)
{
	return fail(r, -EINVAL, "%s: %s", what, vr == -1 ? "truncated record" :
	    "varint longer than 64 bits");
}

static int
read_binary(struct trace_reader *r, struct sample *s)
{
	const uint8_t *p;
	uint64_t dt, pid, delta, weight = 0;
	uint8_t tag;
	int rc, vr;

	if ((rc = need(r, TRACE_REC_MAX)) < 0)
		return fail(r, rc, "read: %s", strerror(-rc));
	if (r->p == r->end)
		return 0;
	p = r->p;
	tag = *p++;
	if (tag & TRACE_TAG_RESERVED)
		return fail(r, -EINVAL, "reserved tag bits set (0x%02x)", tag);
	if ((tag >> TRACE_TAG_OP_SHIFT & 3) > SAMPLE_OP_STORE)
		return fail(r, -EINVAL, "op 3 in tag 0x%02x", tag);
	if ((vr = get_uvarint(&p, r->end, &dt)) < 0)
		return varint_fail(r, vr, "time");
	if (r->have_prev && dt > UINT64_MAX - r->prev_time)
		return fail(r, -EINVAL, "time overflows 64 bits");
	if (tag & TRACE_TAG_PID) {
		if ((vr = get_uvarint(&p, r->end, &pid)) < 0)
			return varint_fail(r, vr, "pid");
		if (pid == 0 || pid > HEAT_PID_MAX)
			return fail(r, -EINVAL, "pid %llu out of range 1..%u",
			    (unsigned long long)pid, HEAT_PID_MAX);
	} else if (!r->have_prev) {
		return fail(r, -EINVAL, "first record does not set a pid");
	} else {
		pid = r->prev_pid;
	}
	if ((vr = get_uvarint(&p, r->end, &delta)) < 0)
		return varint_fail(r, vr, "address");
	if ((tag & TRACE_TAG_WEIGHT) &&
	    (vr = get_uvarint(&p, r->end, &weight)) < 0)
		return varint_fail(r, vr, "weight");
	if (weight > UINT32_MAX)
		return fail(r, -EINVAL, "weight %llu above 2^32-1",
		    (unsigned long long)weight);

	memset(s, 0, sizeof(*s));
	s->time_ns = r->have_prev ? r->prev_time + dt : dt;
	s->pid = (uint32_t)pid;
	/* zigzag: the delta's sign is in bit 0 */
	s->addr = r->prev_addr + ((delta >> 1) ^ (0 - (delta & 1)));
	s->weight = (uint32_t)weight;
	s->op = (uint8_t)(tag >> TRACE_TAG_OP_SHIFT & 3);
	if ((rc = check_sample(r, s)) < 0)
		return rc;
	r->prev_pid = s->pid;
	r->prev_addr = s->addr;
	r->line++;
	r->off += (uint64_t)(p - r->p);
	r->p = p;
	return 1;
}

int
trace_read(struct trace_reader *r, struct sample *s)
{
	if (r->rc < 0)
		return r->rc;
	return r->fmt == TRACE_TEXT ? read_text(r, s) : read_binary(r, s);
}

const char *
trace_error(const struct trace_reader *r)
{
	return r->err;
}

enum trace_format
trace_reader_format(const struct trace_reader *r)
{
	return r->fmt;
}

void
trace_close(struct trace_reader *r)
{
	if (r == NULL)
		return;
	if (r->own_fd)
		close(r->fd);
	free(r->buf);
	free(r);
}

/* ---- writing ---- */

static int
flush(struct trace_writer *w)
{
	int rc;

	if (w->len == 0 || w->rc < 0)
		return w->rc;
	if ((rc = write_all(w->fd, w->buf, w->len)) < 0)
		w->rc = rc;
	w->len = 0;
	return w->rc;
}

int
trace_writer_open(struct trace_writer **wp, const char *path,
    enum trace_format fmt, char *err, size_t errlen)
{
	struct trace_writer *w;
	int rc;

	*wp = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
		return -ENOMEM;
	}
	w->fmt = fmt;
	if (strcmp(path, "-") == 0) {
		w->fd = 1;
	} else if ((w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		free(w);
		return rc;
	} else {
		w->own_fd = true;
	}
	if (fmt == TRACE_BINARY) {
		memcpy(w->buf, TRACE_MAGIC, TRACE_MAGIC_LEN);
		w->buf[8] = TRACE_VERSION;	/* u32le version, u32le flags 0 */
		w->len = TRACE_HDR_LEN;
	}
	*wp = w;
	return 0;
}

static uint8_t *
put_uvarint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

int
trace_write(struct trace_writer *w, const struct sample *s)
{
	uint8_t *p, *tag;
	uint64_t delta;
	int n;

	if (w->rc < 0)
		return w->rc;
	if (!trace_sample_valid(s) || (w->have_prev && s->time_ns < w->prev_time))
		return -EINVAL;
	if (sizeof(w->buf) - w->len < LINE_MAX_LEN + TRACE_REC_MAX && flush(w) < 0)
		return w->rc;
	if (w->fmt == TRACE_TEXT) {
		n = snprintf((char *)w->buf + w->len, sizeof(w->buf) - w->len,
		    "%llu %u 0x%llx", (unsigned long long)s->time_ns, s->pid,
		    (unsigned long long)s->addr);
		if (s->weight)
			n += snprintf((char *)w->buf + w->len + n,
			    sizeof(w->buf) - w->len - (size_t)n, " %u", s->weight);
		if (s->op != SAMPLE_OP_UNKNOWN)
			n += snprintf((char *)w->buf + w->len + n,
			    sizeof(w->buf) - w->len - (size_t)n, " %c",
			    s->op == SAMPLE_OP_LOAD ? 'L' : 'S');
		w->len += (size_t)n;
		w->buf[w->len++] = '\n';
	} else {
		p = w->buf + w->len;
		tag = p++;
		*tag = (uint8_t)(s->op << TRACE_TAG_OP_SHIFT);
		p = put_uvarint(p, w->have_prev ? s->time_ns - w->prev_time :
		    s->time_ns);
		if (!w->have_prev || s->pid != w->prev_pid) {
			*tag |= TRACE_TAG_PID;
			p = put_uvarint(p, s->pid);
		}
		delta = s->addr - w->prev_addr;
		/* zigzag: small negative deltas stay short */
		p = put_uvarint(p, delta << 1 ^ (0 - (delta >> 63)));
		if (s->weight) {
			*tag |= TRACE_TAG_WEIGHT;
			p = put_uvarint(p, s->weight);
		}
		w->len = (size_t)(p - w->buf);
	}
	w->prev_time = s->time_ns;
	w->prev_pid = s->pid;
	w->prev_addr = s->addr;
	w->have_prev = true;
	return 0;
}

int
trace_writer_close(struct trace_writer *w)
{
	int rc;

	if (w == NULL)
		return 0;
	rc = flush(w);
	if (w->own_fd && close(w->fd) < 0 && rc == 0)
		rc = -errno;
	free(w);
	return rc;
}
