/*
 * fuzz_simtrace.c - libFuzzer target for vtier-sim's trace readers
 * (agent/sim/trace.c): the binary decoder and the text reader, on
 * untrusted bytes.
 *
 * Each input is read as a trace (the format told by its first bytes)
 * until its end or its first error, and:
 *  1. every sample read is valid (pid and address in the heat table's
 *     range, time never going backwards), and an error comes with a
 *     message that names the file;
 *  2. the samples read, written back in binary and read again, are the
 *     same samples (and the same again through text), so the encoding
 *     round-trips whatever the decoder accepted.
 *
 * Build and run: `make fuzz` (tests/sh/fuzz.sh); seeds in
 * tests/fuzz/corpus/simtrace.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../agent/sim/trace.c"

#define MAX_SAMPLES 4096

static struct sample got[MAX_SAMPLES], again[MAX_SAMPLES];

static size_t
read_mem(const uint8_t *data, size_t size, struct sample *out, int *last)
{
	struct trace_reader *r;
	struct sample s;
	size_t n = 0;
	int rc;

	if (trace_open_mem(&r, data, size, "fuzz") < 0)
		abort();
	while (n < MAX_SAMPLES && (rc = trace_read(r, &s)) == 1) {
		if (!trace_sample_valid(&s) ||
		    (n > 0 && s.time_ns < out[n - 1].time_ns))
			abort();
		out[n++] = s;
	}
	if (n == MAX_SAMPLES)
		rc = 0;
	if (rc < 0 && (rc != -EINVAL || strstr(trace_error(r), "fuzz") == NULL))
		abort();
	*last = rc;
	trace_close(r);
	return n;
}

/* Write n samples in fmt to a memory file and read them back. */
static void
round_trip(const struct sample *s, size_t n, enum trace_format fmt)
{
	struct trace_writer *w;
	char path[] = "/tmp/fuzz-simtrace.XXXXXX", err[128];
	static uint8_t buf[MAX_SAMPLES * 64 + 64];
	size_t len;
	FILE *f;
	int fd = mkstemp(path), last;

	if (fd < 0)
		abort();
	close(fd);
	if (trace_writer_open(&w, path, fmt, err, sizeof(err)) < 0)
		abort();
	for (size_t i = 0; i < n; i++)
		if (trace_write(w, &s[i]) < 0)
			abort();
	if (trace_writer_close(w) < 0 || (f = fopen(path, "r")) == NULL)
		abort();
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	unlink(path);
	if (read_mem(buf, len, again, &last) != n || last != 0)
		abort();
	for (size_t i = 0; i < n; i++)
		if (again[i].time_ns != s[i].time_ns || again[i].pid != s[i].pid ||
		    again[i].addr != s[i].addr || again[i].weight != s[i].weight ||
		    again[i].op != s[i].op)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int last;
	size_t n = read_mem(data, size, got, &last);

	round_trip(got, n, TRACE_BINARY);
	round_trip(got, n, TRACE_TEXT);
	return 0;
}
