/*
 * test_sim_trace.c - vtier-sim's trace files: the text reader's errors
 * name the line, the binary format round-trips exactly (and text ->
 * binary -> text gives the canonical text), the binary decoder refuses
 * every kind of bad record with its number and offset, and a loaded
 * trace numbers pages in order of first appearance.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test.h"
#include "heat.h"
#include "sim/sim.h"

static char tmpdir[] = "/tmp/vtier-simtrace.XXXXXX";

static const char *
tmp(const char *name)
{
	static char path[4][256];
	static int k;

	k = (k + 1) % 4;
	snprintf(path[k], sizeof(path[k]), "%s/%s", tmpdir, name);
	return path[k];
}

static void
put(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static size_t
get(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
	return n;
}

/* Read a whole text trace given as a string: last rc, samples, error. */
static int
read_all(const char *text, size_t len, struct sample *out, size_t max,
    size_t *n, char *err, size_t errlen)
{
	struct trace_reader *r;
	struct sample s;
	int rc;

	*n = 0;
	if ((rc = trace_open_mem(&r, text, len, "t.txt")) < 0)
		return rc;
	while ((rc = trace_read(r, &s)) == 1)
		if (*n < max)
			out[(*n)++] = s;
	snprintf(err, errlen, "%s", trace_error(r));
	/* an error is sticky */
	if (rc < 0 && trace_read(r, &s) != rc)
		rc = -999;
	trace_close(r);
	return rc;
}

static void
test_text_ok(void)
{
	static const char t[] =
	    "# a comment\n"
	    "100 42 0x7f0000001000\n"
	    "\n"
	    "100 42 7f0000002000 300 S\n"
	    "250\t7\t0x10 L\r\n"
	    "300 7 0x20";	/* no final newline */
	struct sample s[8];
	char err[256];
	size_t n;

	ASSERT_EQ(read_all(t, sizeof(t) - 1, s, 8, &n, err, sizeof(err)), 0);
	ASSERT_EQ(n, 4);
	ASSERT_EQ_U(s[0].addr, 0x7f0000001000ULL);
	ASSERT_EQ(s[1].weight, 300);
	ASSERT_EQ(s[1].op, SAMPLE_OP_STORE);
	ASSERT_EQ(s[2].op, SAMPLE_OP_LOAD);
	ASSERT_EQ_U(s[3].time_ns, 300);
}

/* A bad line: the message names the file and that line. */
static void
expect_line_error(const char *text, const char *where, const char *what)
{
	struct sample s[8];
	char err[256];
	size_t n;

	ASSERT_EQ(read_all(text, strlen(text), s, 8, &n, err, sizeof(err)),
	    -EINVAL);
	ASSERT_CONTAINS(err, where);
	ASSERT_CONTAINS(err, what);
}

static void
test_text_errors(void)
{
	char longline[400];

	expect_line_error("1 2 0x10\n2 2 0x10\nthree 2 0x10\n", "t.txt:3:",
	    "malformed sample");
	expect_line_error("# c\n\n1 2\n", "t.txt:3:", "malformed");
	expect_line_error("5 2 0x10\n4 2 0x10\n", "t.txt:2:", "before the previous");
	expect_line_error("1 4194304 0x10\n", "t.txt:1:", "pid 4194304 out of range");
	expect_line_error("1 2 0x800000000000\n", "t.txt:1:", "not a user address");
	expect_line_error("1 2 0x10 L S\n", "t.txt:1:", "malformed");
	memset(longline, '1', sizeof(longline) - 2);
	longline[sizeof(longline) - 2] = '\n';
	longline[sizeof(longline) - 1] = '\0';
	expect_line_error(longline, "t.txt:1:", "longer than 256");
	{
		static const char nul[] = "1 2 0x10\n2 2 0x1\0000\n";
		struct sample s[4];
		char err[256];
		size_t n;

		ASSERT_EQ(read_all(nul, sizeof(nul) - 1, s, 4, &n, err,
		    sizeof(err)), -EINVAL);
		ASSERT_CONTAINS(err, "t.txt:2:");
		ASSERT_CONTAINS(err, "NUL");
	}
}

/* Samples that exercise every field and both directions of address. */
static size_t
make_samples(struct sample *s, size_t n)
{
	uint64_t rng = 7, t = 1000;

	for (size_t i = 0; i < n; i++) {
		uint64_t r = sim_rand(&rng);

		memset(&s[i], 0, sizeof(s[i]));
		t += r % 3 == 0 ? 0 : (r >> 8) % 100000;
		s[i].time_ns = t;
		s[i].pid = i % 17 == 0 ? HEAT_PID_MAX : 1 + (uint32_t)(r >> 40) % 3;
		s[i].addr = i % 29 == 0 ? HEAT_ADDR_LIMIT - 8 :
		    (i % 31 == 0 ? 0 : (r >> 3) & 0x7fffffffffffULL);
		s[i].weight = i % 5 == 0 ? (uint32_t)(r >> 32) : 0;
		if (i % 23 == 0)
			s[i].weight = UINT32_MAX;
		s[i].op = (uint8_t)(r % 3);
	}
	s[0].time_ns = 0;	/* the smallest first time */
	return n;
}

static void
write_file(const char *path, enum trace_format fmt, const struct sample *s,
    size_t n)
{
	struct trace_writer *w;
	char err[256];

	if (trace_writer_open(&w, path, fmt, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	for (size_t i = 0; i < n; i++)
		if (trace_write(w, &s[i]) < 0)
			exit(1);
	if (trace_writer_close(w) < 0)
		exit(1);
}

static void
test_binary_round_trip(void)
{
	enum { N = 5000 };
	static struct sample s[N], back[N];
	struct trace_reader *r;
	struct sample x;
	char err[256];
	size_t n = 0;
	int rc;

	make_samples(s, N);
	write_file(tmp("rt.vtb"), TRACE_BINARY, s, N);
	ASSERT_EQ(trace_open(&r, tmp("rt.vtb"), err, sizeof(err)), 0);
	ASSERT_EQ(trace_reader_format(r), TRACE_BINARY);
	while ((rc = trace_read(r, &x)) == 1 && n < N)
		back[n++] = x;
	trace_close(r);
	ASSERT_EQ(rc, 0);
	ASSERT_EQ(n, N);
	for (size_t i = 0; i < N; i++) {
		ASSERT_EQ_U(back[i].time_ns, s[i].time_ns);
		ASSERT_EQ(back[i].pid, s[i].pid);
		ASSERT_EQ_U(back[i].addr, s[i].addr);
		ASSERT_EQ_U(back[i].weight, s[i].weight);
		ASSERT_EQ(back[i].op, s[i].op);
	}
}

/* Copy the trace at from into to, in fmt, through the reader and writer. */
static int
convert(const char *from, const char *to, enum trace_format fmt)
{
	struct trace_reader *r;
	struct trace_writer *w;
	struct sample x;
	char err[256];
	int rc;

	if (trace_open(&r, from, err, sizeof(err)) < 0)
		return -1;
	if (trace_writer_open(&w, to, fmt, err, sizeof(err)) < 0) {
		trace_close(r);
		return -1;
	}
	while ((rc = trace_read(r, &x)) == 1)
		if (trace_write(w, &x) < 0)
			rc = -1;
	trace_close(r);
	return trace_writer_close(w) < 0 ? -1 : rc;
}

/* text -> binary -> text is the canonical text; binary -> text -> binary is identical. */
static void
test_text_binary_text(void)
{
	enum { N = 3000 };
	static struct sample s[N];
	static char a[N * 64], b[N * 64], c[N * 16], d[N * 16];
	size_t na, nb, nc, nd;

	make_samples(s, N);
	write_file(tmp("a.txt"), TRACE_TEXT, s, N);
	ASSERT_EQ(convert(tmp("a.txt"), tmp("b.vtb"), TRACE_BINARY), 0);
	ASSERT_EQ(convert(tmp("b.vtb"), tmp("c.txt"), TRACE_TEXT), 0);
	ASSERT_EQ(convert(tmp("c.txt"), tmp("d.vtb"), TRACE_BINARY), 0);

	na = get(tmp("a.txt"), a, sizeof(a));
	nb = get(tmp("c.txt"), b, sizeof(b));
	ASSERT_EQ(na, nb);
	ASSERT_TRUE(memcmp(a, b, na) == 0);
	nc = get(tmp("b.vtb"), c, sizeof(c));
	nd = get(tmp("d.vtb"), d, sizeof(d));
	ASSERT_EQ(nc, nd);
	ASSERT_TRUE(memcmp(c, d, nc) == 0);
}

/* Decode bytes; expect the error to contain what. */
static void
expect_bin_error(const uint8_t *data, size_t len, const char *what)
{
	struct trace_reader *r;
	struct sample s;
	int rc;

	ASSERT_EQ(trace_open_mem(&r, data, len, "b.vtb"), 0);
	while ((rc = trace_read(r, &s)) == 1)
		;
	ASSERT_EQ(rc, -EINVAL);
	ASSERT_CONTAINS(trace_error(r), what);
	trace_close(r);
}

static size_t
hdr(uint8_t *b)
{
	memcpy(b, TRACE_MAGIC, 8);
	memset(b + 8, 0, 8);
	b[8] = TRACE_VERSION;
	return TRACE_HDR_LEN;
}

static void
test_binary_errors(void)
{
	uint8_t b[64];
	size_t n;

	n = hdr(b);
	expect_bin_error(b, 12, "header truncated");
	b[8] = 2;
	expect_bin_error(b, n, "version 2");
	b[8] = 1;
	b[14] = 1;
	expect_bin_error(b, n, "flags");
	n = hdr(b);
	/* a good record: tag pid, dt 5, pid 3, addr delta +8 (zigzag 16) */
	b[n++] = TRACE_TAG_PID;
	b[n++] = 5;
	b[n++] = 3;
	b[n++] = 16;
	{
		struct trace_reader *r;
		struct sample s;

		ASSERT_EQ(trace_open_mem(&r, b, n, "b.vtb"), 0);
		ASSERT_EQ(trace_read(r, &s), 1);
		ASSERT_EQ_U(s.time_ns, 5);
		ASSERT_EQ(s.pid, 3);
		ASSERT_EQ_U(s.addr, 8);
		ASSERT_EQ(trace_read(r, &s), 0);
		trace_close(r);
	}
	/* every proper prefix of a record is truncated; record 2, byte 20 */
	b[n++] = TRACE_TAG_WEIGHT;
	b[n++] = 0x81;
	b[n++] = 0x01;	/* dt 129 */
	b[n++] = 3;	/* addr -2 */
	b[n++] = 0x90;
	b[n++] = 0x03;	/* weight 400 */
	for (size_t cut = n - 5; cut < n; cut++) {
		expect_bin_error(b, cut, "record 2 at byte 20");
		expect_bin_error(b, cut, "truncated");
	}
	/* reserved tag bits */
	n = hdr(b);
	b[n++] = 0x10 | TRACE_TAG_PID;
	b[n++] = 1;
	b[n++] = 1;
	b[n++] = 0;
	expect_bin_error(b, n, "reserved tag bits");
	/* op 3 */
	b[TRACE_HDR_LEN] = TRACE_TAG_PID | 3 << TRACE_TAG_OP_SHIFT;
	expect_bin_error(b, n, "op 3");
	/* no pid in the first record */
	b[TRACE_HDR_LEN] = 0;
	expect_bin_error(b, n, "does not set a pid");
	/* pid 0, pid too large */
	n = hdr(b);
	b[n++] = TRACE_TAG_PID;
	b[n++] = 1;
	b[n++] = 0;
	b[n++] = 0;
	expect_bin_error(b, n, "pid 0 out of range");
	n = hdr(b);
	b[n++] = TRACE_TAG_PID;
	b[n++] = 1;
	b[n++] = 0x80;
	b[n++] = 0x80;
	b[n++] = 0x80;
	b[n++] = 0x02;	/* 2^22 */
	b[n++] = 0;
	expect_bin_error(b, n, "pid 4194304");
	/* an 11-byte varint, and a 10th byte above 1 */
	n = hdr(b);
	b[n++] = TRACE_TAG_PID;
	for (int i = 0; i < 10; i++)
		b[n++] = 0x80;
	b[n++] = 0;
	expect_bin_error(b, n, "longer than 64 bits");
	n = hdr(b);
	b[n++] = TRACE_TAG_PID;
	for (int i = 0; i < 9; i++)
		b[n++] = 0xff;
	b[n++] = 0x02;
	expect_bin_error(b, n, "longer than 64 bits");
	/* time overflow: 2^63 twice */
	n = hdr(b);
	for (int rec = 0; rec < 2; rec++) {
		b[n++] = rec == 0 ? TRACE_TAG_PID : 0;
		for (int i = 0; i < 9; i++)
			b[n++] = 0x80;
		b[n++] = 0x01;
		if (rec == 0)
			b[n++] = 1;
		b[n++] = 0;
	}
	expect_bin_error(b, n, "overflows");
	/* an address beyond 47 bits: delta 2^47 */
	n = hdr(b);
	b[n++] = TRACE_TAG_PID;
	b[n++] = 0;
	b[n++] = 1;
	{
		uint64_t z = HEAT_ADDR_LIMIT << 1;	/* zigzag of +2^47 */

		for (; z >= 0x80; z >>= 7)
			b[n++] = (uint8_t)(z | 0x80);
		b[n++] = (uint8_t)z;
	}
	expect_bin_error(b, n, "not a user address");
}

static void
test_load_ids(void)
{
	static const char t[] =
	    "1 5 0x1000\n2 5 0x1fff\n3 6 0x1000\n4 5 0x3000\n5 6 0x1008\n";
	struct sim_trace tr;
	char err[256];

	put(tmp("ids.txt"), t, sizeof(t) - 1);
	ASSERT_EQ(sim_trace_load(&tr, tmp("ids.txt"), err, sizeof(err)), 0);
	ASSERT_EQ(tr.nrec, 5);
	ASSERT_EQ(tr.npages, 3);
	ASSERT_EQ(tr.rec[0].page, 0);
	ASSERT_EQ(tr.rec[1].page, 0);	/* same 4 KiB page */
	ASSERT_EQ(tr.rec[2].page, 1);	/* other pid */
	ASSERT_EQ(tr.rec[3].page, 2);
	ASSERT_EQ(tr.rec[4].page, 1);
	ASSERT_EQ(sim_trace_find(&tr, heat_key(6, 0x1abc, false)), 1);
	ASSERT_EQ(sim_trace_find(&tr, heat_key(7, 0x1000, false)), -1);
	sim_trace_free(&tr);

	put(tmp("bad.txt"), "1 5 0x1000\n\n# x\n0 5 0x1000\n", 27);
	ASSERT_EQ(sim_trace_load(&tr, tmp("bad.txt"), err, sizeof(err)), -EINVAL);
	ASSERT_CONTAINS(err, "bad.txt:4:");
	ASSERT_EQ(sim_trace_load(&tr, tmp("missing"), err, sizeof(err)), -ENOENT);
	ASSERT_CONTAINS(err, "missing");
}

/* Many pages: the id hash grows and every key maps back. */
static void
test_many_pages(void)
{
	struct sim_trace tr;
	struct sample s;

	memset(&tr, 0, sizeof(tr));
	for (uint32_t i = 0; i < 100000; i++) {
		memset(&s, 0, sizeof(s));
		s.time_ns = i;
		s.pid = 1 + i % 3;
		s.addr = (uint64_t)(i * 7919u % 100000u) << 12;
		ASSERT_EQ(sim_trace_add(&tr, &s), 0);
	}
	ASSERT_EQ(tr.npages, 100000);
	for (uint32_t id = 0; id < tr.npages; id++)
		ASSERT_EQ(sim_trace_find(&tr, tr.key[id]), id);
	s.time_ns = 5;	/* backwards */
	ASSERT_EQ(sim_trace_add(&tr, &s), -EINVAL);
	sim_trace_free(&tr);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN_TEST(test_text_ok);
	RUN_TEST(test_text_errors);
	RUN_TEST(test_binary_round_trip);
	RUN_TEST(test_text_binary_text);
	RUN_TEST(test_binary_errors);
	RUN_TEST(test_load_ids);
	RUN_TEST(test_many_pages);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			return 1;
	}
	TEST_EXIT();
}
