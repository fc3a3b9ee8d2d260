/*
 * fuzz_proto.c - libFuzzer target for the agent <-> shim wire codec.
 *
 * Each input is used four ways, and any broken property aborts:
 *
 *  1. As one frame: proto_decode.  Whatever decodes must re-encode to the
 *     very same bytes (the encoding is canonical) and decode again to an
 *     equal message.
 *  2. As a stream, through proto_rbuf_feed/next, split three ways (all at
 *     once, one byte at a time, and pseudo-random chunks derived from the
 *     input).  The three must yield the same messages and errors in the
 *     same order; every frame the reader completes must decode the same
 *     way through proto_decode; a header error must come with exactly a
 *     header buffered (nothing of the body) and must stick.
 *  3. As a struct proto_msg (raw bytes, type forced into range): whatever
 *     proto_encode accepts must decode back to an equal message.
 *  4. proto_strerror/proto_type_name on values from the input, never NULL.
 *
 * Build and run (clang 14, libclang-rt-14-dev provides libFuzzer):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -fno-sanitize-recover=all -Iinclude \
 *       include/vtier/proto.c tests/fuzz/fuzz_proto.c -o build/fuzz_proto
 *   mkdir -p build/fuzz-corpus
 *   build/fuzz_proto -max_total_time=120 -max_len=8192 \
 *       -dict=tests/fuzz/proto.dict build/fuzz-corpus tests/fuzz/corpus/proto
 *
 * Without libFuzzer (any compiler), -DFUZZ_STANDALONE gives a main that
 * replays files (a regression run over the seed corpus or a crash file)
 * or, with --gen DIR, writes the seed corpus:
 *
 *   gcc -std=gnu11 -DFUZZ_STANDALONE -fsanitize=address,undefined -Iinclude \
 *       include/vtier/proto.c tests/fuzz/fuzz_proto.c -o build/fuzz_proto_replay
 *   build/fuzz_proto_replay tests/fuzz/corpus/proto/[0-9s]*
 *   build/fuzz_proto_replay --gen tests/fuzz/corpus/proto
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtier/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "fuzz_proto: %s:%d: CHECK(%s) failed\n",	\
		    __FILE__, __LINE__, #c);				\
		abort();						\
	}								\
} while (0)

/* Property 1: decoded means canonical and stable. */
static void
roundtrip(const uint8_t *frame, size_t len, const struct proto_msg *m)
{
	uint8_t out[PROTO_MAX_FRAME];
	struct proto_msg again;
	int n;

	n = proto_encode(m, m->seq, out, sizeof(out));
	CHECK(n >= 0);
	CHECK((size_t)n == len);
	CHECK(memcmp(out, frame, len) == 0);
	CHECK(proto_decode(out, (size_t)n, &again) == 0);
	CHECK(again.seq == m->seq);
	CHECK(proto_msg_equal(m, &again));
	CHECK(proto_msg_equal(&again, m));
}

/* What a stream read yields: a message, or an error and where. */
struct ev {
	int rc;			/* 1 or -errno */
	int sticky;		/* from feed (header) rather than next */
	struct proto_msg m;
};

#define MAX_EV 1024
static struct ev evs[3][MAX_EV];
static struct proto_rbuf rb;

enum split { ALL, BYTES, CHUNKS };

static size_t
chunk_len(enum split how, size_t left, uint32_t *state)
{
	switch (how) {
	case ALL:
		return left;
	case BYTES:
		return 1;
	default:
		*state = *state * 1103515245u + 12345u;
		return 1 + (*state >> 16) % (left < 64 ? left : 64);
	}
}

static size_t
read_stream(const uint8_t *d, size_t n, enum split how, struct ev *ev)
{
	uint8_t frame[PROTO_MAX_FRAME];
	struct proto_hdr h;
	size_t off = 0, nev = 0, chunk, flen;
	uint32_t state = (uint32_t)n * 2654435761u;
	int k, r;

	proto_rbuf_init(&rb);
	while (off < n && nev < MAX_EV) {	/* same cut-off for every split */
		chunk = chunk_len(how, n - off, &state);
		k = proto_rbuf_feed(&rb, d + off, chunk);
		if (k < 0) {
			/* Refused with the header, and nothing more, held. */
			CHECK(rb.len == PROTO_HDR_LEN);
			CHECK(proto_decode_header(rb.buf, rb.len, &h) == k);
			CHECK(k != -EAGAIN);
			CHECK(proto_rbuf_feed(&rb, d, n) == k);
			CHECK(proto_rbuf_next(&rb, &ev[nev].m) == k);
			ev[nev].rc = k;
			ev[nev].sticky = 1;
			return nev + 1;
		}
		CHECK((size_t)k <= chunk);
		off += (size_t)k;
		/* Keep a copy of a complete frame before next consumes it. */
		flen = 0;
		if (rb.len >= PROTO_HDR_LEN && proto_rbuf_want(&rb) == 0) {
			flen = rb.len;
			memcpy(frame, rb.buf, flen);
		}
		r = proto_rbuf_next(&rb, &ev[nev].m);
		if (r == 0) {
			/* Progress: either bytes were taken or none were given. */
			CHECK(k > 0 || chunk == 0);
			CHECK(flen == 0);
			continue;
		}
		CHECK(flen > 0);
		CHECK(rb.len == 0);
		if (r == 1) {
			struct proto_msg direct;

			CHECK(proto_decode(frame, flen, &direct) == 0);
			CHECK(proto_msg_equal(&direct, &ev[nev].m));
			CHECK(direct.seq == ev[nev].m.seq);
			roundtrip(frame, flen, &ev[nev].m);
		} else {
			struct proto_msg direct;

			CHECK(r != -EAGAIN);
			CHECK(proto_decode(frame, flen, &direct) == r);
		}
		ev[nev].rc = r;
		ev[nev].sticky = 0;
		nev++;
	}
	return nev;
}

static void
fuzz_stream(const uint8_t *data, size_t size)
{
	size_t n[3], i;
	int s;

	for (s = ALL; s <= CHUNKS; s++)
		n[s] = read_stream(data, size, (enum split)s, evs[s]);
	for (s = BYTES; s <= CHUNKS; s++) {
		CHECK(n[s] == n[ALL]);
		for (i = 0; i < n[ALL]; i++) {
			CHECK(evs[s][i].rc == evs[ALL][i].rc);
			CHECK(evs[s][i].sticky == evs[ALL][i].sticky);
			if (evs[ALL][i].rc == 1) {
				CHECK(evs[s][i].m.seq == evs[ALL][i].m.seq);
				CHECK(proto_msg_equal(&evs[s][i].m,
				    &evs[ALL][i].m));
			}
		}
	}
}

/* Property 3: what the encoder accepts, the decoder accepts equal. */
static void
fuzz_encode(const uint8_t *data, size_t size)
{
	static struct proto_msg m, back;
	uint8_t out[PROTO_MAX_FRAME], out2[PROTO_MAX_FRAME];
	size_t cap;
	int n, n2;

	if (size < 2)
		return;
	memset(&m, 0, sizeof(m));
	memcpy(&m, data + 2, size - 2 < sizeof(m) ? size - 2 : sizeof(m));
	m.type = (uint16_t)(data[0] % (PROTO_TYPE_MAX + 2));
	/* Small output buffers too: -ENOSPC, never an overrun. */
	cap = data[1] & 1 ? sizeof(out) : (size_t)data[1] * 8;
	n = proto_encode(&m, 0x5eed, out, cap);
	if (n < 0) {
		CHECK(n == -EINVAL || n == -ENOMSG || n == -ENOSPC);
		return;
	}
	CHECK((size_t)n <= cap && n >= PROTO_HDR_LEN && n <= PROTO_MAX_FRAME);
	CHECK(proto_decode(out, (size_t)n, &back) == 0);
	CHECK(back.seq == 0x5eed);
	CHECK(proto_msg_equal(&m, &back));
	n2 = proto_encode(&back, 0x5eed, out2, sizeof(out2));
	CHECK(n2 == n && memcmp(out, out2, (size_t)n) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_msg m;
	struct proto_hdr h;
	int r;

	/* Property 1, and the header agreeing with the full decode. */
	r = proto_decode(data, size, &m);
	if (r == 0)
		roundtrip(data, size, &m);
	if (proto_decode_header(data, size, &h) < 0)
		CHECK(r == proto_decode_header(data, size, &h));

	fuzz_stream(data, size);
	fuzz_encode(data, size);

	/* Property 4. */
	CHECK(proto_strerror(size >= 4 ? -(int)(data[3] % 140) : r) != NULL);
	CHECK(proto_type_name(size >= 2 ? (uint16_t)(data[0] | data[1] << 8)
	    : 0) != NULL);
	return 0;
}

#ifdef FUZZ_STANDALONE
/* Seed corpus: one valid frame per type, plus a stream of several. */
static int
write_file(const char *dir, const char *name, const uint8_t *b, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(b, 1, n, f) != n) {
		perror(path);
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

static int
gen(const char *dir)
{
	struct proto_msg ms[PROTO_TYPE_MAX], *m = ms;
	uint8_t stream[PROTO_TYPE_MAX * PROTO_MAX_FRAME], buf[PROTO_MAX_FRAME];
	size_t off = 0;
	char name[64];
	int i, n;

	proto_msg_init(m, PROTO_HELLO);
	m->u.hello.agent_version = PROTO_SW_VERSION(0, 1, 0);
	m->u.hello.caps = PROTO_CAP_PREFAULT | PROTO_CAP_STATS;
	proto_hello_add_node(m, 0, PROTO_NODE_HAS_CPU | PROTO_NODE_FAST,
	    512ULL << 20);
	proto_hello_add_node(m++, 1, 0, 1ULL << 30);
	proto_msg_welcome(m++, PROTO_SW_VERSION(0, 1, 0), 384ULL << 20, "vm0");
	proto_msg_budget(m++, 256ULL << 20);
	proto_msg_init(m, PROTO_PREFAULT);
	proto_prefault_add(m, 0, 512ULL << 20);
	proto_prefault_add(m++, 4ULL << 30, 1ULL << 30);
	proto_msg_prefault_done(m++, 0, 1536ULL << 20);
	proto_msg_init(m, PROTO_STATS);
	m->u.stats.fast_used = 300ULL << 20;
	m->u.stats.budget = 256ULL << 20;
	m->u.stats.flags = PROTO_STATS_BUDGET_UNATTAINABLE;
	m++;
	proto_msg_ping(m++, 1);
	proto_msg_pong(m++, 1);
	proto_msg_error(m++, PROTO_ERR_VERSION, "this side speaks version %d",
	    PROTO_VERSION);
	proto_msg_bye(m++, PROTO_BYE_SHUTDOWN);
	proto_msg_init(m, PROTO_PREFAULT_PART);
	m->u.prefault.flags = PROTO_PF_LAST;
	proto_prefault_add(m, 0x101000, 4096);
	proto_prefault_add(m++, 0x201000, 4096);

	for (i = 0; i < PROTO_TYPE_MAX; i++) {
		n = proto_encode(&ms[i], (uint32_t)i, buf, sizeof(buf));
		if (n < 0) {
			fprintf(stderr, "encode %s: %s\n",
			    proto_type_name(ms[i].type), proto_strerror(n));
			return 1;
		}
		snprintf(name, sizeof(name), "%02d-%s", ms[i].type,
		    proto_type_name(ms[i].type));
		if (write_file(dir, name, buf, (size_t)n) < 0)
			return 1;
		memcpy(stream + off, buf, (size_t)n);
		off += (size_t)n;
	}
	return write_file(dir, "stream-all-types", stream, off) < 0;
}

int
main(int argc, char **argv)
{
	static uint8_t buf[1 << 20];
	size_t n;
	FILE *f;
	int i;

	if (argc == 3 && strcmp(argv[1], "--gen") == 0)
		return gen(argv[2]);
	for (i = 1; i < argc; i++) {
		if ((f = fopen(argv[i], "rb")) == NULL) {
			perror(argv[i]);
			return 1;
		}
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
	}
	printf("fuzz_proto: %d inputs ok\n", argc - 1);
	return 0;
}
#endif
