/*
 * test_proto.c - the agent <-> shim wire codec: every type round trips,
 * golden bytes pin the format, every malformed class gets its own error
 * in the documented order, and the stream reader copes with any split
 * of the bytes and refuses a bad header before the body arrives.
 *
 * Frames for the negative tests are written by hand here (fr_*), not by
 * proto_encode, so a bug shared by encoder and decoder cannot hide.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vtier/proto.h"
#include "vtier/util.h"
#include "../test.h"

/* A frame under construction: header fields, then payload bytes. */
struct fr {
	uint8_t b[PROTO_MAX_FRAME + 64];
	size_t len;
};

static void
put(struct fr *f, uint64_t v, int nbytes)
{
	int i;

	for (i = 0; i < nbytes; i++)
		f->b[f->len++] = (uint8_t)(v >> (8 * i));
}

static void
set_le(struct fr *f, size_t off, uint64_t v, int nbytes)
{
	int i;

	for (i = 0; i < nbytes; i++)
		f->b[off + (size_t)i] = (uint8_t)(v >> (8 * i));
}

/* Start a well-formed header of the given type; fr_end fixes the length. */
static void
fr_start(struct fr *f, uint16_t type)
{
	f->len = 0;
	put(f, PROTO_MAGIC, 4);
	put(f, PROTO_VERSION, 2);
	put(f, type, 2);
	put(f, 0, 2);
	put(f, 0, 2);
	put(f, 0, 4);		/* length, set by fr_end */
	put(f, 99, 4);
	put(f, 0, 4);
}

static void
fr_end(struct fr *f)
{
	set_le(f, 12, f->len, 4);
}

static int
fr_decode(const struct fr *f)
{
	struct proto_msg m;

	return proto_decode(f->b, f->len, &m);
}

/* A valid frame of each kind, written by hand. */
static void
fr_budget(struct fr *f)
{
	fr_start(f, PROTO_BUDGET);
	put(f, 1ULL << 30, 8);
	fr_end(f);
}

static void
fr_hello(struct fr *f, unsigned nnodes_field, unsigned nnodes_data)
{
	unsigned i;

	fr_start(f, PROTO_HELLO);
	put(f, PROTO_SW_VERSION(0, 1, 0), 4);
	put(f, PROTO_CAP_PREFAULT, 4);
	put(f, nnodes_field, 2);
	for (i = 0; i < nnodes_data; i++) {
		put(f, i, 2);
		put(f, i == 0 ? PROTO_NODE_HAS_CPU | PROTO_NODE_FAST : 0, 2);
		put(f, 512 * 1024 * 1024ULL, 8);
	}
	fr_end(f);
}

static void
fr_prefault(struct fr *f, unsigned nfield, unsigned ndata)
{
	unsigned i;

	fr_start(f, PROTO_PREFAULT);
	put(f, nfield, 2);
	for (i = 0; i < ndata; i++) {
		put(f, (uint64_t)i * 0x10000000ULL, 8);	/* 256 MiB apart */
		put(f, 0x8000000ULL, 8);		/* 128 MiB */
	}
	fr_end(f);
}

static void
fr_welcome(struct fr *f, const char *name, size_t n)
{
	fr_start(f, PROTO_WELCOME);
	put(f, PROTO_SW_VERSION(0, 1, 0), 4);
	put(f, 1ULL << 30, 8);
	put(f, n, 2);
	memcpy(f->b + f->len, name, n);
	f->len += n;
	fr_end(f);
}

static void
fr_part(struct fr *f, unsigned flags, unsigned reason, unsigned n)
{
	unsigned i;

	fr_start(f, PROTO_PREFAULT_PART);
	put(f, flags, 2);
	put(f, reason, 2);
	put(f, n, 2);
	for (i = 0; i < n; i++) {
		put(f, 0x1000 + (uint64_t)i * 0x2000, 8);
		put(f, 0x1000, 8);
	}
	fr_end(f);
}

static void
fr_error(struct fr *f, uint32_t code, const char *text, size_t n)
{
	fr_start(f, PROTO_ERROR);
	put(f, code, 4);
	put(f, n, 2);
	memcpy(f->b + f->len, text, n);
	f->len += n;
	fr_end(f);
}

static void
hex(const char *s, uint8_t *out, size_t *len)
{
	size_t n = 0;
	unsigned v;

	while (*s) {
		if (*s == ' ' || *s == '\n') {
			s++;
			continue;
		}
		sscanf(s, "%2x", &v);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	*len = n;
}

/* One of each type, with values that fill every field. */
static int
sample_msgs(struct proto_msg *ms)
{
	struct proto_msg *m = ms;

	proto_msg_init(m, PROTO_HELLO);
	m->u.hello.agent_version = PROTO_SW_VERSION(1, 2, 3);
	m->u.hello.caps = PROTO_CAP_PREFAULT | PROTO_CAP_STATS | (1u << 31);
	proto_hello_add_node(m, 0, PROTO_NODE_HAS_CPU | PROTO_NODE_FAST,
	    512ULL << 20);
	proto_hello_add_node(m, 1, 0, 1ULL << 30);
	proto_hello_add_node(m, PROTO_MAX_NODE_ID, 0, UINT64_MAX);
	m++;
	proto_msg_welcome(m, PROTO_SW_VERSION(0, 1, 0), 768ULL << 20,
	    "vm-042 web frontend ~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./");
	m++;
	proto_msg_budget(m, UINT64_MAX);
	m++;
	proto_msg_init(m, PROTO_PREFAULT);
	proto_prefault_add(m, 0, 128ULL << 20);
	proto_prefault_add(m, 256ULL << 20, 4096);
	proto_prefault_add(m, PROTO_GPA_LIMIT - 4096, 4096);
	m++;
	proto_msg_prefault_done(m, -ENOMEM, 12345 * 4096ULL);
	m++;
	proto_msg_init(m, PROTO_STATS);
	m->u.stats.fast_used = 1;
	m->u.stats.slow_used = 2;
	m->u.stats.budget = 3;
	m->u.stats.hot_set_bytes = 4;
	m->u.stats.samples = 5;
	m->u.stats.samples_per_s_milli = 6;
	m->u.stats.lost_samples = 7;
	m->u.stats.promoted_pages = 8;
	m->u.stats.demoted_pages = 9;
	m->u.stats.promoted_bytes = 10;
	m->u.stats.demoted_bytes = 11;
	m->u.stats.migration_errors = 12;
	m->u.stats.uptime_ms = UINT64_MAX;
	m->u.stats.flags = PROTO_STATS_FLAGS;
	m++;
	proto_msg_ping(m, 0x0123456789abcdefULL);
	m++;
	proto_msg_pong(m, 0xfedcba9876543210ULL);
	m++;
	proto_msg_error(m, PROTO_ERR_VERSION, "unsupported version %d, "
	    "this side speaks %d", 2, PROTO_VERSION);
	m++;
	proto_msg_bye(m, PROTO_BYE_RESTART);
	m++;
	proto_msg_init(m, PROTO_PREFAULT_PART);
	m->u.prefault.flags = PROTO_PF_LAST | PROTO_PF_FAST_NODE;
	m->u.prefault.reason = PROTO_PF_WHY_KALLSYMS;
	proto_prefault_add(m, 0x1000, 4096);
	proto_prefault_add(m, 0x3000, 16 * 4096);
	m++;
	return (int)(m - ms);
}

static void
test_roundtrip_every_type(void)
{
	struct proto_msg ms[16], out;
	uint8_t buf[PROTO_MAX_FRAME];
	int i, n, len, seen = 0;

	n = sample_msgs(ms);
	ASSERT_EQ(n, PROTO_TYPE_MAX);
	for (i = 0; i < n; i++) {
		len = proto_encode(&ms[i], 1000u + (uint32_t)i, buf, sizeof(buf));
		if (len < 0)
			FAIL_("encode %s: %s", proto_type_name(ms[i].type),
			    proto_strerror(len));
		ASSERT_EQ(proto_decode(buf, (size_t)len, &out), 0);
		ASSERT_EQ(out.type, ms[i].type);
		ASSERT_EQ(out.seq, 1000 + i);
		ASSERT_TRUE(proto_msg_equal(&ms[i], &out));
		/* And the header says what it should. */
		ASSERT_EQ(buf[12] | buf[13] << 8, len);
		seen |= 1 << ms[i].type;
	}
	ASSERT_EQ(seen, ((1 << (PROTO_TYPE_MAX + 1)) - 1) & ~1);
	/* proto_msg_equal does look at the payload. */
	out = ms[3];
	out.u.prefault.ranges[1].size += 4096;
	ASSERT_TRUE(!proto_msg_equal(&ms[3], &out));
}

/* The largest legal messages of the counted types still round trip. */
static void
test_roundtrip_max_counts(void)
{
	struct proto_msg m, out;
	uint8_t buf[PROTO_MAX_FRAME];
	char text[PROTO_TEXT_MAX + 1];
	int i, len;

	proto_msg_init(&m, PROTO_HELLO);
	for (i = 0; i < PROTO_MAX_NODES; i++)
		ASSERT_EQ(proto_hello_add_node(&m, (uint16_t)(i * 7), 0, 1), 0);
	ASSERT_EQ(proto_hello_add_node(&m, 999, 0, 1), -ENOSPC);
	len = proto_encode(&m, 1, buf, sizeof(buf));
	ASSERT_EQ(len, PROTO_HDR_LEN + 10 + 12 * PROTO_MAX_NODES);
	ASSERT_EQ(proto_decode(buf, (size_t)len, &out), 0);
	ASSERT_TRUE(proto_msg_equal(&m, &out));

	proto_msg_init(&m, PROTO_PREFAULT);
	for (i = 0; i < PROTO_MAX_RANGES; i++)	/* gaps: no merging */
		ASSERT_EQ(proto_prefault_add(&m, (uint64_t)i * 8192, 4096), 0);
	ASSERT_EQ(proto_prefault_add(&m, 1ULL << 40, 4096), -ENOSPC);
	len = proto_encode(&m, 1, buf, sizeof(buf));
	ASSERT_EQ(len, PROTO_HDR_LEN + 2 + 16 * PROTO_MAX_RANGES);
	ASSERT_EQ(proto_decode(buf, (size_t)len, &out), 0);
	ASSERT_TRUE(proto_msg_equal(&m, &out));

	memset(text, 'x', PROTO_TEXT_MAX);
	text[PROTO_TEXT_MAX] = '\0';
	proto_msg_error(&m, 77, "%s and more that is cut off", text);
	ASSERT_EQ(strlen(m.u.error.text), PROTO_TEXT_MAX);
	len = proto_encode(&m, 1, buf, sizeof(buf));
	ASSERT_EQ(len, PROTO_HDR_LEN + 6 + PROTO_TEXT_MAX);
	ASSERT_EQ(proto_decode(buf, (size_t)len, &out), 0);
	ASSERT_TRUE(proto_msg_equal(&m, &out));

	/* An empty ERROR text is fine. */
	proto_msg_error(&m, 5, "%s", "");
	len = proto_encode(&m, 1, buf, sizeof(buf));
	ASSERT_EQ(len, PROTO_HDR_LEN + 6);
	ASSERT_EQ(proto_decode(buf, (size_t)len, &out), 0);
}

/* The wire format, pinned: change these bytes only with PROTO_VERSION. */
static void
test_golden_frames(void)
{
	static const char budget_hex[] =
	    "56544952 0100 0300 0000 0000 20000000 07000000 00000000"
	    " 0000004001000000";
	static const char prefault_hex[] =
	    "56544952 0100 0400 0000 0000 3a000000 2a000000 00000000"
	    " 0200"
	    " 0000000000000000 0000002000000000"
	    " 0000000001000000 0000000000010000";
	static const char hello_hex[] =
	    "56544952 0100 0100 0000 0000 2e000000 01000000 00000000"
	    " 00010000 03000000 0100"
	    " 0000 0300 0000002000000000";
	uint8_t want[256], got[PROTO_MAX_FRAME];
	size_t wlen;
	struct proto_msg m, out;
	int len;

	hex(budget_hex, want, &wlen);
	proto_msg_budget(&m, 5 * (1ULL << 30));	/* 0x140000000 */
	len = proto_encode(&m, 7, got, sizeof(got));
	ASSERT_EQ(len, 32);
	ASSERT_EQ(wlen, 32);
	ASSERT_TRUE(memcmp(got, want, wlen) == 0);
	ASSERT_EQ(memcmp(got, "VTIR", 4), 0);
	ASSERT_EQ(proto_decode(want, wlen, &out), 0);
	ASSERT_EQ_U(out.u.budget.budget, 5 * (1ULL << 30));
	ASSERT_EQ(out.seq, 7);

	/* Counted: two ranges, the second at 4 GiB. */
	hex(prefault_hex, want, &wlen);
	proto_msg_init(&m, PROTO_PREFAULT);
	proto_prefault_add(&m, 0, 512ULL << 20);
	proto_prefault_add(&m, 4ULL << 30, 1ULL << 40);
	len = proto_encode(&m, 42, got, sizeof(got));
	ASSERT_EQ(len, 58);
	ASSERT_EQ(wlen, 58);
	ASSERT_TRUE(memcmp(got, want, wlen) == 0);

	hex(hello_hex, want, &wlen);
	proto_msg_init(&m, PROTO_HELLO);
	m.u.hello.agent_version = PROTO_SW_VERSION(0, 1, 0);
	m.u.hello.caps = PROTO_CAP_PREFAULT | PROTO_CAP_STATS;
	proto_hello_add_node(&m, 0, PROTO_NODE_HAS_CPU | PROTO_NODE_FAST,
	    512ULL << 20);
	len = proto_encode(&m, 1, got, sizeof(got));
	ASSERT_EQ(len, 46);
	ASSERT_EQ(wlen, 46);
	ASSERT_TRUE(memcmp(got, want, wlen) == 0);
}

static void
test_encode_errors(void)
{
	struct proto_msg m;
	uint8_t buf[PROTO_MAX_FRAME];

	proto_msg_budget(&m, 1);
	ASSERT_EQ(proto_encode(&m, 0, buf, 31), -ENOSPC);
	ASSERT_EQ(proto_encode(&m, 0, buf, 3), -ENOSPC);
	ASSERT_EQ(proto_encode(&m, 0, buf, 32), 32);

	proto_msg_init(&m, 0);
	ASSERT_EQ(proto_encode(&m, 0, buf, sizeof(buf)), -ENOMSG);
	proto_msg_init(&m, PROTO_TYPE_MAX + 1);
	ASSERT_EQ(proto_encode(&m, 0, buf, sizeof(buf)), -ENOMSG);

	/* The validator is shared with decode: a sample of its rules. */
	proto_msg_init(&m, PROTO_HELLO);
	ASSERT_EQ(proto_encode(&m, 0, buf, sizeof(buf)), -EINVAL);
	m.u.hello.nnodes = PROTO_MAX_NODES + 1;
	ASSERT_EQ(proto_encode(&m, 0, buf, sizeof(buf)), -EINVAL);
	proto_msg_init(&m, PROTO_PREFAULT);
	proto_prefault_add(&m, 100, 4096);
	ASSERT_EQ(proto_encode(&m, 0, buf, sizeof(buf)), -EINVAL);
	proto_msg_init(&m, PROTO_WELCOME);
	ASSERT_EQ(proto_encode(&m, 0, buf, sizeof(buf)), -EINVAL);
	memset(m.u.welcome.name, 'a', sizeof(m.u.welcome.name));	/* no NUL */
	ASSERT_EQ(proto_encode(&m, 0, buf, sizeof(buf)), -EINVAL);
	ASSERT_EQ(proto_msg_welcome(&m, 1, 1, ""), -EINVAL);
	ASSERT_EQ(proto_msg_welcome(&m, 1, 1, "tab\there"), -EINVAL);
	ASSERT_EQ(proto_msg_welcome(&m, 1, 1,
	    "0123456789012345678901234567890123456789012345678901234567890123"),
	    0);
	ASSERT_EQ(proto_msg_welcome(&m, 1, 1,
	    "01234567890123456789012345678901234567890123456789012345678901234"),
	    -EINVAL);
	proto_msg_error(&m, 0, "zero code");
	ASSERT_EQ(proto_encode(&m, 0, buf, sizeof(buf)), -EINVAL);
}

static void
test_error_builder_sanitises(void)
{
	struct proto_msg m;

	proto_msg_error(&m, PROTO_ERR_MALFORMED, "bad\n\x01name \xff%s", "!");
	ASSERT_STREQ(m.u.error.text, "bad??name ?!");
}

static void
test_prefault_add_merges(void)
{
	struct proto_msg m;

	/* Four 128 MiB memory blocks of one node become one range. */
	proto_msg_init(&m, PROTO_PREFAULT);
	ASSERT_EQ(proto_prefault_add(&m, 0, 128ULL << 20), 0);
	ASSERT_EQ(proto_prefault_add(&m, 128ULL << 20, 128ULL << 20), 0);
	ASSERT_EQ(proto_prefault_add(&m, 256ULL << 20, 256ULL << 20), 0);
	ASSERT_EQ(proto_prefault_add(&m, 1ULL << 30, 4096), 0);
	ASSERT_EQ(m.u.prefault.nranges, 2);
	ASSERT_EQ_U(m.u.prefault.ranges[0].size, 512ULL << 20);
	ASSERT_EQ_U(m.u.prefault.ranges[1].gpa, 1ULL << 30);
}

static void
test_short_buffer(void)
{
	struct fr f;
	struct proto_hdr h;
	struct proto_msg m;
	size_t n;

	fr_budget(&f);
	for (n = 0; n < PROTO_HDR_LEN; n++)
		ASSERT_EQ(proto_decode_header(f.b, n, &h), -EAGAIN);
	ASSERT_EQ(proto_decode_header(f.b, PROTO_HDR_LEN, &h), 0);
	ASSERT_EQ(h.length, 32);
	for (n = 0; n < f.len; n++)
		ASSERT_EQ(proto_decode(f.b, n, &m), -EAGAIN);
	ASSERT_EQ(proto_decode(f.b, f.len, &m), 0);
	/* Trailing bytes are the caller's mistake, not a second frame. */
	ASSERT_EQ(proto_decode(f.b, f.len + 1, &m), -EMSGSIZE);
}

static void
test_frame_length_bounds(void)
{
	struct fr f;
	static const uint32_t bad[] = { 0, 1, PROTO_HDR_LEN - 1,
	    PROTO_MAX_FRAME + 1, 0x10000, UINT32_MAX };
	size_t i;

	fr_budget(&f);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		set_le(&f, 12, bad[i], 4);
		ASSERT_EQ(fr_decode(&f), -EMSGSIZE);
	}
	/* In range but not this type's size: the type table's error. */
	set_le(&f, 12, PROTO_MAX_FRAME, 4);
	ASSERT_EQ(fr_decode(&f), -EBADMSG);
	set_le(&f, 12, PROTO_HDR_LEN, 4);
	ASSERT_EQ(fr_decode(&f), -EBADMSG);
}

static void
test_bad_magic_version_reserved(void)
{
	struct fr f;
	struct proto_hdr h;

	fr_budget(&f);
	f.b[0] ^= 0x20;				/* "vTIR" */
	ASSERT_EQ(fr_decode(&f), -EILSEQ);
	fr_budget(&f);
	set_le(&f, 0, 0x56544952, 4);		/* byte-swapped magic */
	ASSERT_EQ(fr_decode(&f), -EILSEQ);

	fr_budget(&f);
	set_le(&f, 4, 2, 2);
	ASSERT_EQ(proto_decode_header(f.b, f.len, &h), -EPROTONOSUPPORT);
	ASSERT_EQ(h.version, 2);		/* for the ERROR reply */
	set_le(&f, 4, 0, 2);
	ASSERT_EQ(fr_decode(&f), -EPROTONOSUPPORT);
	set_le(&f, 4, 0x0100, 2);		/* big-endian 1 */
	ASSERT_EQ(fr_decode(&f), -EPROTONOSUPPORT);

	fr_budget(&f);
	set_le(&f, 8, 1, 2);			/* flags */
	ASSERT_EQ(fr_decode(&f), -EPROTO);
	fr_budget(&f);
	set_le(&f, 8, 0x8000, 2);
	ASSERT_EQ(fr_decode(&f), -EPROTO);
	fr_budget(&f);
	set_le(&f, 10, 1, 2);			/* reserved */
	ASSERT_EQ(fr_decode(&f), -EPROTO);
	fr_budget(&f);
	set_le(&f, 20, 0x80000000u, 4);		/* reserved2 */
	ASSERT_EQ(fr_decode(&f), -EPROTO);
	/* Any sequence number is fine. */
	fr_budget(&f);
	set_le(&f, 16, UINT32_MAX, 4);
	ASSERT_EQ(fr_decode(&f), 0);
}

static void
test_unknown_type(void)
{
	struct fr f;
	static const uint16_t bad[] = { 0, PROTO_TYPE_MAX + 1, 0x100, 0xffff };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		fr_budget(&f);
		set_le(&f, 6, bad[i], 2);
		ASSERT_EQ(fr_decode(&f), -ENOMSG);
	}
	ASSERT_STREQ(proto_type_name(0), "UNKNOWN");
	ASSERT_STREQ(proto_type_name(PROTO_TYPE_MAX + 1), "UNKNOWN");
	ASSERT_STREQ(proto_type_name(PROTO_PREFAULT_DONE), "PREFAULT_DONE");
	ASSERT_STREQ(proto_type_name(PROTO_HELLO), "HELLO");
	ASSERT_STREQ(proto_type_name(PROTO_BYE), "BYE");
}

/* The checks come in the documented order: the first failure wins. */
static void
test_check_order(void)
{
	struct fr f;

	fr_budget(&f);
	f.b[0] = 0;
	set_le(&f, 4, 9, 2);
	set_le(&f, 8, 1, 2);
	set_le(&f, 12, 1, 4);
	set_le(&f, 6, 0xffff, 2);
	ASSERT_EQ(fr_decode(&f), -EILSEQ);
	f.b[0] = 'V';
	ASSERT_EQ(fr_decode(&f), -EPROTONOSUPPORT);
	set_le(&f, 4, PROTO_VERSION, 2);
	ASSERT_EQ(fr_decode(&f), -EPROTO);
	set_le(&f, 8, 0, 2);
	ASSERT_EQ(fr_decode(&f), -EMSGSIZE);
	set_le(&f, 12, 40, 4);
	ASSERT_EQ(fr_decode(&f), -ENOMSG);
	set_le(&f, 6, PROTO_BUDGET, 2);
	ASSERT_EQ(fr_decode(&f), -EBADMSG);	/* 16-byte BUDGET payload */
	set_le(&f, 12, 32, 4);
	ASSERT_EQ(fr_decode(&f), 0);
}

/* Every fixed-size type refuses one byte less and one byte more. */
static void
test_fixed_sizes(void)
{
	static const struct { uint16_t type; size_t size; } fixed[] = {
		{ PROTO_BUDGET, 8 }, { PROTO_PREFAULT_DONE, 12 },
		{ PROTO_STATS, 108 }, { PROTO_PING, 8 }, { PROTO_PONG, 8 },
		{ PROTO_BYE, 4 },
	};
	struct fr f;
	size_t i, sz;

	for (i = 0; i < ARRAY_SIZE(fixed); i++) {
		for (sz = fixed[i].size - 1; sz <= fixed[i].size + 1; sz++) {
			fr_start(&f, fixed[i].type);
			memset(f.b + f.len, 0, sz);
			f.len += sz;
			fr_end(&f);
			if (sz == fixed[i].size)
				ASSERT_EQ(fr_decode(&f), 0);
			else
				ASSERT_EQ(fr_decode(&f), -EBADMSG);
		}
	}
	/* Zero-length payloads too. */
	fr_start(&f, PROTO_PING);
	fr_end(&f);
	ASSERT_EQ(fr_decode(&f), -EBADMSG);
}

static void
test_count_vs_length(void)
{
	struct fr f;
	struct proto_msg m;

	fr_hello(&f, 2, 2);
	ASSERT_EQ(proto_decode(f.b, f.len, &m), 0);
	ASSERT_EQ(m.u.hello.nnodes, 2);
	ASSERT_EQ(m.u.hello.nodes[0].flags,
	    PROTO_NODE_HAS_CPU | PROTO_NODE_FAST);
	ASSERT_EQ_U(m.u.hello.nodes[1].mem_bytes, 512 * 1024 * 1024ULL);
	fr_hello(&f, 2, 1);
	ASSERT_EQ(fr_decode(&f), -EBADMSG);
	fr_hello(&f, 1, 2);
	ASSERT_EQ(fr_decode(&f), -EBADMSG);
	fr_hello(&f, 0xffff, 3);
	ASSERT_EQ(fr_decode(&f), -EBADMSG);
	fr_hello(&f, 0, 0);			/* below HELLO's minimum */
	ASSERT_EQ(fr_decode(&f), -EBADMSG);
	fr_hello(&f, 0, 1);			/* size fine, count zero */
	ASSERT_EQ(fr_decode(&f), -EBADMSG);
	fr_hello(&f, 65, 65);			/* over the maximum */
	ASSERT_EQ(fr_decode(&f), -EBADMSG);

	fr_prefault(&f, 3, 3);
	ASSERT_EQ(proto_decode(f.b, f.len, &m), 0);
	ASSERT_EQ(m.u.prefault.nranges, 3);
	ASSERT_EQ_U(m.u.prefault.ranges[2].gpa, 0x20000000ULL);
	fr_prefault(&f, 1, 2);
	ASSERT_EQ(fr_decode(&f), -EBADMSG);
	fr_prefault(&f, 3, 2);
	ASSERT_EQ(fr_decode(&f), -EBADMSG);
	fr_prefault(&f, 2, 2);			/* a stray byte at the end */
	f.b[f.len++] = 0;
	fr_end(&f);
	ASSERT_EQ(fr_decode(&f), -EBADMSG);

	fr_welcome(&f, "vm1", 3);
	ASSERT_EQ(proto_decode(f.b, f.len, &m), 0);
	ASSERT_STREQ(m.u.welcome.name, "vm1");
	ASSERT_EQ_U(m.u.welcome.budget, 1ULL << 30);
	fr_welcome(&f, "vm1", 3);
	set_le(&f, PROTO_HDR_LEN + 12, 4, 2);	/* name_len 4, 3 bytes */
	ASSERT_EQ(fr_decode(&f), -EBADMSG);
	set_le(&f, PROTO_HDR_LEN + 12, 2, 2);
	ASSERT_EQ(fr_decode(&f), -EBADMSG);
	fr_welcome(&f, "", 0);			/* empty name: below min */
	ASSERT_EQ(fr_decode(&f), -EBADMSG);

	fr_error(&f, 1, "oops", 4);
	ASSERT_EQ(proto_decode(f.b, f.len, &m), 0);
	ASSERT_STREQ(m.u.error.text, "oops");
	set_le(&f, PROTO_HDR_LEN + 4, 5, 2);
	ASSERT_EQ(fr_decode(&f), -EBADMSG);
	set_le(&f, PROTO_HDR_LEN + 4, 0xffff, 2);
	ASSERT_EQ(fr_decode(&f), -EBADMSG);
}

static void
test_too_many_ranges(void)
{
	struct fr f;

	fr_prefault(&f, PROTO_MAX_RANGES, PROTO_MAX_RANGES);
	ASSERT_EQ(fr_decode(&f), 0);
	/* 65 ranges: the header's length is already over PREFAULT's max. */
	fr_prefault(&f, PROTO_MAX_RANGES + 1, PROTO_MAX_RANGES + 1);
	ASSERT_EQ(fr_decode(&f), -EBADMSG);
	/* A count of 65 in a frame that holds 64. */
	fr_prefault(&f, PROTO_MAX_RANGES + 1, PROTO_MAX_RANGES);
	ASSERT_EQ(fr_decode(&f), -EBADMSG);
	fr_prefault(&f, 0, 0);
	ASSERT_EQ(fr_decode(&f), -EBADMSG);
}

/* Rewrite range i of a 3-range PREFAULT. */
static void
prefault_with(struct fr *f, unsigned i, uint64_t gpa, uint64_t size)
{
	size_t off = PROTO_HDR_LEN + 2 + 16 * (size_t)i;

	fr_prefault(f, 3, 3);
	set_le(f, off, gpa, 8);
	set_le(f, off + 8, size, 8);
}

static void
test_range_rules(void)
{
	struct fr f;

	prefault_with(&f, 0, 0x1000, 0x1000);
	ASSERT_EQ(fr_decode(&f), 0);
	/* Unaligned address or size, empty range. */
	prefault_with(&f, 0, 0x1001, 0x1000);
	ASSERT_EQ(fr_decode(&f), -EINVAL);
	prefault_with(&f, 1, 0x10000800, 0x1000);
	ASSERT_EQ(fr_decode(&f), -EINVAL);
	prefault_with(&f, 0, 0x1000, 0x1800);
	ASSERT_EQ(fr_decode(&f), -EINVAL);
	prefault_with(&f, 0, 0x1000, 0);
	ASSERT_EQ(fr_decode(&f), -EINVAL);
	/* gpa + size wraps, or passes the 52-bit limit. */
	prefault_with(&f, 2, 0xfffffffffffff000ULL, 0x1000);
	ASSERT_EQ(fr_decode(&f), -EINVAL);
	prefault_with(&f, 2, 0x30000000, 0xfffffffffffff000ULL);
	ASSERT_EQ(fr_decode(&f), -EINVAL);
	prefault_with(&f, 2, PROTO_GPA_LIMIT - 0x1000, 0x2000);
	ASSERT_EQ(fr_decode(&f), -EINVAL);
	prefault_with(&f, 2, PROTO_GPA_LIMIT - 0x1000, 0x1000);
	ASSERT_EQ(fr_decode(&f), 0);
	/* Overlapping and out-of-order ranges; touching ones are fine. */
	prefault_with(&f, 0, 0, 0x10000000 + 0x1000);
	ASSERT_EQ(fr_decode(&f), -EINVAL);
	prefault_with(&f, 0, 0, 0x10000000);
	ASSERT_EQ(fr_decode(&f), 0);
	prefault_with(&f, 2, 0x8000000, 0x1000);
	ASSERT_EQ(fr_decode(&f), -EINVAL);
}

/*
 * WELCOME's caps are there only when not 0, so a WELCOME to an agent that
 * offered nothing new is the old frame, byte for byte; an old agent's
 * decoder (exact size) never sees the field.
 */
static void
test_welcome_caps(void)
{
	struct proto_msg m, out;
	uint8_t a[PROTO_MAX_FRAME], b[PROTO_MAX_FRAME];
	struct fr f;
	int na, nb;

	ASSERT_EQ(proto_msg_welcome(&m, PROTO_SW_VERSION(0, 1, 0), 1ULL << 30,
	    "vm1"), 0);
	na = proto_encode(&m, 1, a, sizeof(a));
	ASSERT_EQ(na, PROTO_HDR_LEN + 14 + 3);
	fr_welcome(&f, "vm1", 3);		/* written by hand, no caps */
	set_le(&f, 16, 1, 4);			/* seq 1 */
	ASSERT_EQ((size_t)na, f.len);
	ASSERT_TRUE(memcmp(a, f.b, f.len) == 0);
	ASSERT_EQ(proto_decode(a, (size_t)na, &out), 0);
	ASSERT_EQ(out.u.welcome.caps, 0);

	m.u.welcome.caps = PROTO_CAP_PREFAULT_PARTS | (1u << 30);
	nb = proto_encode(&m, 1, b, sizeof(b));
	ASSERT_EQ(nb, na + 4);
	ASSERT_EQ(proto_decode(b, (size_t)nb, &out), 0);
	ASSERT_EQ(out.u.welcome.caps, PROTO_CAP_PREFAULT_PARTS | (1u << 30));
	ASSERT_TRUE(memcmp(a + PROTO_HDR_LEN, b + PROTO_HDR_LEN,
	    (size_t)na - PROTO_HDR_LEN) == 0);	/* the caps only follow */
	/* A caps field of 0 has a shorter encoding: refused. */
	memset(b + na, 0, 4);
	ASSERT_EQ(proto_decode(b, (size_t)nb, &out), -EINVAL);
	/* Neither 1-3 nor 5 trailing bytes. */
	fr_welcome(&f, "vm1", 3);
	f.b[f.len++] = 1;
	fr_end(&f);
	ASSERT_EQ(fr_decode(&f), -EBADMSG);
	fr_welcome(&f, "vm1", 3);
	memset(f.b + f.len, 1, 5);
	f.len += 5;
	fr_end(&f);
	ASSERT_EQ(fr_decode(&f), -EBADMSG);
}

static void
test_part_rules(void)
{
	struct proto_msg m;
	struct fr f;
	uint8_t buf[PROTO_MAX_FRAME];

	fr_part(&f, PROTO_PF_LAST, 0, 2);
	ASSERT_EQ(proto_decode(f.b, f.len, &m), 0);
	ASSERT_EQ(m.type, PROTO_PREFAULT_PART);
	ASSERT_EQ(m.u.prefault.flags, PROTO_PF_LAST);
	ASSERT_EQ(m.u.prefault.nranges, 2);
	ASSERT_EQ_U(m.u.prefault.ranges[1].gpa, 0x3000);
	fr_part(&f, 0, 0, PROTO_MAX_RANGES);	/* a middle part, full */
	ASSERT_EQ(fr_decode(&f), 0);
	fr_part(&f, PROTO_PF_LAST | PROTO_PF_FAST_NODE, PROTO_PF_WHY_KCORE, 1);
	ASSERT_EQ(proto_decode(f.b, f.len, &m), 0);
	ASSERT_EQ(m.u.prefault.reason, PROTO_PF_WHY_KCORE);
	fr_part(&f, PROTO_PF_FAST_NODE, 999, 1);	/* unknown reason: kept */
	ASSERT_EQ(fr_decode(&f), 0);
	ASSERT_STREQ(proto_pf_reason_name(999), "unknown");
	ASSERT_STREQ(proto_pf_reason_name(PROTO_PF_WHY_KALLSYMS), "kallsyms");
	/* A reason without FAST_NODE, flags not defined, no range. */
	fr_part(&f, PROTO_PF_LAST, PROTO_PF_WHY_BTF, 1);
	ASSERT_EQ(fr_decode(&f), -EINVAL);
	fr_part(&f, 1u << 2, 0, 1);
	ASSERT_EQ(fr_decode(&f), -EINVAL);
	fr_part(&f, PROTO_PF_LAST, 0, 0);
	ASSERT_EQ(fr_decode(&f), -EBADMSG);
	fr_part(&f, 0, 0, 2);			/* count says 3, 2 ranges */
	set_le(&f, PROTO_HDR_LEN + 4, 3, 2);
	ASSERT_EQ(fr_decode(&f), -EBADMSG);
	/* Ranges follow PREFAULT's rules. */
	fr_part(&f, 0, 0, 2);
	set_le(&f, PROTO_HDR_LEN + 6 + 16, 0x1000, 8);	/* overlaps the 1st */
	ASSERT_EQ(fr_decode(&f), -EINVAL);
	/* A PREFAULT has no flags or reason: the encoder refuses them. */
	proto_msg_init(&m, PROTO_PREFAULT);
	proto_prefault_add(&m, 0, 4096);
	m.u.prefault.flags = PROTO_PF_LAST;
	ASSERT_EQ(proto_encode(&m, 1, buf, sizeof(buf)), -EINVAL);
	m.u.prefault.flags = 0;
	m.u.prefault.reason = 1;
	ASSERT_EQ(proto_encode(&m, 1, buf, sizeof(buf)), -EINVAL);
}

static void
test_text_rules(void)
{
	struct fr f;
	static const char *bad[] = { "a\x07", "a\x7f", "\x80z", "a\nb",
	    "\x1f" };
	size_t i;

	fr_welcome(&f, "a b~", 4);
	ASSERT_EQ(fr_decode(&f), 0);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		fr_welcome(&f, bad[i], strlen(bad[i]));
		ASSERT_EQ(fr_decode(&f), -EINVAL);
		fr_error(&f, 1, bad[i], strlen(bad[i]));
		ASSERT_EQ(fr_decode(&f), -EINVAL);
	}
	fr_welcome(&f, "ab\0cd", 5);		/* embedded NUL */
	ASSERT_EQ(fr_decode(&f), -EINVAL);
	fr_error(&f, 1, "ab\0", 3);
	ASSERT_EQ(fr_decode(&f), -EINVAL);
	fr_error(&f, 0, "code zero", 9);
	ASSERT_EQ(fr_decode(&f), -EINVAL);
	fr_error(&f, 0xdeadbeef, "", 0);	/* unknown code: shown as is */
	ASSERT_EQ(fr_decode(&f), 0);
}

static void
test_value_rules(void)
{
	struct fr f;
	struct proto_msg m;

	fr_hello(&f, 2, 2);
	set_le(&f, PROTO_HDR_LEN + 10 + 12 + 2, 4, 2);	/* node 1 flags */
	ASSERT_EQ(fr_decode(&f), -EINVAL);
	fr_hello(&f, 2, 2);
	set_le(&f, PROTO_HDR_LEN + 10 + 12, 0, 2);	/* duplicate id 0 */
	ASSERT_EQ(fr_decode(&f), -EINVAL);
	fr_hello(&f, 2, 2);
	set_le(&f, PROTO_HDR_LEN + 10 + 12, PROTO_MAX_NODE_ID + 1, 2);
	ASSERT_EQ(fr_decode(&f), -EINVAL);
	fr_hello(&f, 2, 2);
	set_le(&f, PROTO_HDR_LEN + 4, 0xffffffff, 4);	/* caps: any bits */
	ASSERT_EQ(fr_decode(&f), 0);

	fr_start(&f, PROTO_PREFAULT_DONE);
	put(&f, (uint32_t)-ENOSPC, 4);
	put(&f, 4096, 8);
	fr_end(&f);
	ASSERT_EQ(proto_decode(f.b, f.len, &m), 0);
	ASSERT_EQ(m.u.prefault_done.status, -ENOSPC);
	set_le(&f, PROTO_HDR_LEN, 1, 4);
	ASSERT_EQ(fr_decode(&f), -EINVAL);
	set_le(&f, PROTO_HDR_LEN, (uint32_t)-4096, 4);
	ASSERT_EQ(fr_decode(&f), -EINVAL);
	set_le(&f, PROTO_HDR_LEN, (uint32_t)-4095, 4);
	ASSERT_EQ(fr_decode(&f), 0);

	fr_start(&f, PROTO_STATS);
	memset(f.b + f.len, 0, 108);
	f.len += 108;
	fr_end(&f);
	set_le(&f, PROTO_HDR_LEN + 104, PROTO_STATS_BUDGET_UNATTAINABLE, 4);
	ASSERT_EQ(proto_decode(f.b, f.len, &m), 0);
	ASSERT_EQ(m.u.stats.flags, PROTO_STATS_BUDGET_UNATTAINABLE);
	set_le(&f, PROTO_HDR_LEN + 104, 1u << 7, 4);
	ASSERT_EQ(fr_decode(&f), -EINVAL);
}

static void
test_strerror_distinct(void)
{
	static const int errs[] = { -EAGAIN, -EILSEQ, -EPROTONOSUPPORT,
	    -EPROTO, -EMSGSIZE, -ENOMSG, -EBADMSG, -EINVAL, -ENOSPC };
	size_t i, j;

	for (i = 0; i < ARRAY_SIZE(errs); i++) {
		ASSERT_TRUE(proto_strerror(errs[i]) != NULL);
		for (j = 0; j < i; j++)
			ASSERT_TRUE(strcmp(proto_strerror(errs[i]),
			    proto_strerror(errs[j])) != 0);
	}
	ASSERT_STREQ(proto_strerror(-EILSEQ), "bad magic (not a vtier stream)");
	ASSERT_TRUE(proto_strerror(-ENOENT) != NULL);
	ASSERT_TRUE(proto_strerror(12345) != NULL);
}

/* Encode a few messages back to back into one stream. */
static size_t
stream_of(struct proto_msg *ms, int n, uint8_t *buf, size_t len)
{
	size_t off = 0;
	int i, k;

	for (i = 0; i < n; i++) {
		k = proto_encode(&ms[i], (uint32_t)i, buf + off, len - off);
		if (k < 0)
			return 0;
		off += (size_t)k;
	}
	return off;
}

static void
test_rbuf_byte_at_a_time(void)
{
	static struct proto_rbuf rb;
	struct proto_msg ms[16], out;
	uint8_t s[8 * PROTO_MAX_FRAME];
	size_t len, i;
	int n, got = 0, r;

	n = sample_msgs(ms);
	len = stream_of(ms, n, s, sizeof(s));
	ASSERT_TRUE(len > 0);
	proto_rbuf_init(&rb);
	for (i = 0; i < len; i++) {
		ASSERT_EQ(proto_rbuf_feed(&rb, s + i, 1), 1);
		r = proto_rbuf_next(&rb, &out);
		ASSERT_GE(r, 0);
		if (r == 1) {
			ASSERT_TRUE(got < n);
			ASSERT_TRUE(proto_msg_equal(&ms[got], &out));
			ASSERT_EQ(out.seq, got);
			got++;
		}
	}
	ASSERT_EQ(got, n);
	ASSERT_EQ(rb.len, 0);
	ASSERT_EQ(proto_rbuf_want(&rb), PROTO_HDR_LEN);
}

static void
test_rbuf_two_frames_one_feed(void)
{
	static struct proto_rbuf rb;
	struct proto_msg ms[2], out;
	uint8_t s[2 * PROTO_MAX_FRAME];
	size_t len, off = 0;
	int k, got = 0, r;

	proto_msg_ping(&ms[0], 1);
	proto_msg_budget(&ms[1], 2);
	len = stream_of(ms, 2, s, sizeof(s));
	ASSERT_EQ(len, 64);
	proto_rbuf_init(&rb);
	/* The usage loop from proto.h, with everything in one read. */
	while (off < len) {
		k = proto_rbuf_feed(&rb, s + off, len - off);
		ASSERT_GE(k, 0);
		ASSERT_EQ(k, 32);		/* one frame's worth at a time */
		off += (size_t)k;
		while ((r = proto_rbuf_next(&rb, &out)) == 1) {
			ASSERT_TRUE(proto_msg_equal(&ms[got], &out));
			got++;
		}
		ASSERT_EQ(r, 0);
	}
	ASSERT_EQ(got, 2);
	/* A full frame not yet taken: feed takes nothing more. */
	proto_rbuf_init(&rb);
	ASSERT_EQ(proto_rbuf_feed(&rb, s, len), 32);
	ASSERT_EQ(proto_rbuf_feed(&rb, s + 32, len - 32), 0);
	ASSERT_EQ(proto_rbuf_want(&rb), 0);
	ASSERT_EQ(proto_rbuf_next(&rb, &out), 1);
	ASSERT_EQ(out.type, PROTO_PING);
	ASSERT_EQ(proto_rbuf_feed(&rb, s + 32, len - 32), 32);
	ASSERT_EQ(proto_rbuf_next(&rb, &out), 1);
	ASSERT_EQ(out.type, PROTO_BUDGET);
	ASSERT_EQ(proto_rbuf_next(&rb, &out), 0);
}

static void
test_rbuf_bad_header_before_body(void)
{
	static struct proto_rbuf rb;
	struct proto_msg m;
	struct fr f;

	/* A header claiming 1 MiB: refused at its 24th byte. */
	fr_budget(&f);
	set_le(&f, 12, 1 << 20, 4);
	proto_rbuf_init(&rb);
	ASSERT_EQ(proto_rbuf_feed(&rb, f.b, PROTO_HDR_LEN - 1),
	    PROTO_HDR_LEN - 1);
	ASSERT_EQ(proto_rbuf_next(&rb, &m), 0);
	ASSERT_EQ(proto_rbuf_feed(&rb, f.b + PROTO_HDR_LEN - 1, 5), -EMSGSIZE);
	ASSERT_EQ(rb.len, PROTO_HDR_LEN);	/* nothing of the body */
	/* Sticky. */
	ASSERT_EQ(proto_rbuf_feed(&rb, f.b, 1), -EMSGSIZE);
	ASSERT_EQ(proto_rbuf_next(&rb, &m), -EMSGSIZE);
	ASSERT_EQ(rb.len, PROTO_HDR_LEN);

	/* The same for the other header classes, all in one feed. */
	fr_budget(&f);
	f.b[3] = 0;
	proto_rbuf_init(&rb);
	ASSERT_EQ(proto_rbuf_feed(&rb, f.b, f.len), -EILSEQ);
	ASSERT_EQ(rb.len, PROTO_HDR_LEN);
	fr_budget(&f);
	set_le(&f, 4, 7, 2);
	proto_rbuf_init(&rb);
	ASSERT_EQ(proto_rbuf_feed(&rb, f.b, f.len), -EPROTONOSUPPORT);
	fr_budget(&f);
	set_le(&f, 10, 1, 2);
	proto_rbuf_init(&rb);
	ASSERT_EQ(proto_rbuf_feed(&rb, f.b, f.len), -EPROTO);
	fr_budget(&f);
	set_le(&f, 6, 999, 2);
	proto_rbuf_init(&rb);
	ASSERT_EQ(proto_rbuf_feed(&rb, f.b, f.len), -ENOMSG);
	fr_hello(&f, 65, 65);
	proto_rbuf_init(&rb);
	ASSERT_EQ(proto_rbuf_feed(&rb, f.b, f.len), -EBADMSG);
	ASSERT_EQ(rb.len, PROTO_HDR_LEN);
}

static void
test_rbuf_bad_payload(void)
{
	static struct proto_rbuf rb;
	struct proto_msg m;
	struct fr f;

	prefault_with(&f, 1, 0x10000001, 0x1000);
	proto_rbuf_init(&rb);
	ASSERT_EQ(proto_rbuf_feed(&rb, f.b, f.len), (int)f.len);
	ASSERT_EQ(proto_rbuf_next(&rb, &m), -EINVAL);
	ASSERT_EQ(rb.len, 0);			/* consumed all the same */
}

int
main(void)
{
	RUN_TEST(test_roundtrip_every_type);
	RUN_TEST(test_roundtrip_max_counts);
	RUN_TEST(test_golden_frames);
	RUN_TEST(test_encode_errors);
	RUN_TEST(test_error_builder_sanitises);
	RUN_TEST(test_prefault_add_merges);
	RUN_TEST(test_short_buffer);
	RUN_TEST(test_frame_length_bounds);
	RUN_TEST(test_bad_magic_version_reserved);
	RUN_TEST(test_unknown_type);
	RUN_TEST(test_check_order);
	RUN_TEST(test_fixed_sizes);
	RUN_TEST(test_count_vs_length);
	RUN_TEST(test_too_many_ranges);
	RUN_TEST(test_range_rules);
	RUN_TEST(test_welcome_caps);
	RUN_TEST(test_part_rules);
	RUN_TEST(test_text_rules);
	RUN_TEST(test_value_rules);
	RUN_TEST(test_strerror_distinct);
	RUN_TEST(test_rbuf_byte_at_a_time);
	RUN_TEST(test_rbuf_two_frames_one_feed);
	RUN_TEST(test_rbuf_bad_header_before_body);
	RUN_TEST(test_rbuf_bad_payload);
	TEST_EXIT();
}
