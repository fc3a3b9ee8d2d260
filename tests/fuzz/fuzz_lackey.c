/*
 * fuzz_lackey.c - libFuzzer target for vtier-sim's lackey converter
 * (agent/sim/lackey.c, lackey_line): valgrind's text, or any file given
 * in its place, decoded line by line as sim_lackey_main splits it.
 *
 * Each input runs twice: every data access a sample, and one in 3 with
 * instruction fetches and a 4 KiB 4-way LLC model in front.  Until the
 * first malformed access line (the converter stops there):
 *  1. every sample is valid (pid and address in the heat table's range,
 *     a load or a store) and none is earlier than the one before;
 *  2. only a line that starts like an access (an "I", " L", " S" or
 *     " M" and a space) is refused;
 *  3. a sample's address, written back as lackey writes it, decodes to
 *     the same address.
 *
 * Build and run: `make fuzz` (tests/sh/fuzz.sh); seeds in
 * tests/fuzz/corpus/lackey.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/sim/trace.c"
#include "../../agent/sim/llc.c"
#include "../../agent/sim/lackey.c"

static char line[8192 + 1];

/* Like an access: an instruction fetch or a data access and a space. */
static bool
access_like(const char *l, size_t len)
{
	return len >= 3 && ((l[0] == 'I' && l[1] == ' ') ||
	    (l[0] == ' ' && (l[1] == 'L' || l[1] == 'S' || l[1] == 'M') &&
	    l[2] == ' '));
}

/* Property 3: the address as lackey writes it decodes to itself. */
static void
again(const struct sample *s)
{
	struct lackey lk = { .every = 1, .rate = 1, .pid = s->pid };
	struct sample t;
	char l[64];
	int n = snprintf(l, sizeof(l), " %c %llx,8\n",
	    s->op == SAMPLE_OP_LOAD ? 'L' : 'S', (unsigned long long)s->addr);

	if (lackey_line(&lk, l, (size_t)n, &t) != 1 || t.addr != s->addr ||
	    t.op != s->op || t.pid != s->pid)
		abort();
}

static void
run(const uint8_t *data, size_t size, uint64_t every, bool instr,
    struct sim_llc *llc)
{
	struct lackey lk = { .every = every, .rate = 20000, .instr = instr,
	    .llc = llc };
	uint64_t prev = 0, n = 0;
	size_t at = 0;

	while (at < size) {
		/* getline's split: through the next '\n' or the end */
		const uint8_t *nl = memchr(data + at, '\n', size - at);
		size_t len = nl ? (size_t)(nl - (data + at)) + 1 : size - at;
		struct sample s;
		int rc;

		if (len >= sizeof(line))
			len = sizeof(line) - 1;	/* -max_len keeps inputs below */
		memcpy(line, data + at, len);
		line[len] = '\0';
		at += len;
		rc = lackey_line(&lk, line, len, &s);
		if (rc == -EINVAL) {
			if (!access_like(line, len))
				abort();
			break;
		}
		if (rc != 0 && rc != 1)
			abort();
		if (rc == 0)
			continue;
		if (!trace_sample_valid(&s) || (n > 0 && s.time_ns < prev))
			abort();
		again(&s);
		prev = s.time_ns;
		n++;
	}
	if (lk.samples != n || lk.accesses < n * every)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim_llc *llc;

	/* a fresh cache each time: an input's outcome is its own */
	if (sim_llc_create(&llc, 4096, 4) < 0)
		abort();
	run(data, size, 1, false, NULL);
	run(data, size, 3, true, llc);
	sim_llc_free(llc);
	return 0;
}
