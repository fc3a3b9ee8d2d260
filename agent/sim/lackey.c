/*
 * lackey.c - vtier-sim lackey: turn the memory trace of
 * `valgrind --tool=lackey --trace-mem=yes` into a sample trace, so real
 * programs' access streams can be replayed.
 *
 * Lackey writes one line per access: "I  ADDR,SIZE" for an instruction
 * fetch, " L ADDR,SIZE" a load, " S ADDR,SIZE" a store and " M ADDR,SIZE"
 * a modify (load and store: one store sample here), ADDR in hex without
 * 0x, interleaved with valgrind's own "==PID== ..." lines.  Data accesses
 * are kept (instruction fetches only with --instr, a PMU's data-address
 * events do not see them); every --every-th one becomes a sample, as a
 * PEBS event with that sample period would.  The pid is the one in
 * valgrind's "==PID==" lines unless --pid is given.
 *
 * Time: sample k is at k / --rate seconds.  A real program's accesses run
 * at ~1 per ns, but a PMU delivers thousands, not billions, of samples a
 * second; fixing the sample rate (default 20000/s) stretches the program
 * so the policies see samples at the pace a sampler would deliver them.
 *
 * What PEBS sees (--llc SIZE[,WAYS]): the accesses first go through a
 * model of the last-level cache (llc.c; an access that spans two lines
 * looks up both and misses if either does), and only those that miss
 * it are sampled, one in --every, as the L3-miss load event vtier uses
 * samples one in its period.  Stores are filtered the same way (a store
 * that misses is a read for ownership from memory), so every sample is
 * memory traffic; the agent's default event table also samples retired
 * stores that hit, which this leaves out.
 *
 * Any other line (valgrind's messages, the program's own output if it
 * shares the stream) is skipped and counted; a line that starts like an
 * access but does not parse stops the conversion with its line number.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtier/util.h"
#include "heat.h"
#include "sim.h"

static void
lackey_usage(FILE *f)
{
	fprintf(f,
	    "usage: vtier-sim lackey [options] [IN]    (IN: lackey's output, - = stdin)\n"
	    "  --every N   keep one data access in N [20]\n"
	    "  --rate N    samples per second of trace time [20000]\n"
	    "  --pid P     pid to record [from valgrind's ==PID== lines]\n"
	    "  --instr     count instruction fetches as accesses too\n"
	    "  --llc SIZE[,WAYS]  sample only accesses that miss a last-level\n"
	    "              cache of SIZE bytes, WAYS-way LRU [16], 64-byte lines\n"
	    "  -o FILE     output [stdout]    --binary  binary format\n"
	    "example:\n"
	    "  valgrind --tool=lackey --trace-mem=yes --log-fd=9 PROG 9>&1 >/dev/null |\n"
	    "      vtier-sim lackey --binary -o prog.vtb\n");
}

/* "==1234==" at the start of a line: its pid, or 0. */
static uint32_t
banner_pid(const char *line)
{
	uint64_t pid = 0;
	const char *p = line + 2;

	if (strncmp(line, "==", 2) != 0)
		return 0;
	while (*p >= '0' && *p <= '9' && pid <= HEAT_PID_MAX)
		pid = pid * 10 + (uint64_t)(*p++ - '0');
	if (strncmp(p, "==", 2) != 0 || pid == 0 || pid > HEAT_PID_MAX)
		return 0;
	return (uint32_t)pid;
}

/* "ADDR,SIZE" after the access letter; 0 or -EINVAL. */
static int
parse_access(const char *s, uint64_t *addr, uint64_t *size)
{
	char buf[40];
	const char *comma;

	while (*s == ' ')
		s++;
	comma = strchr(s, ',');
	if (comma == NULL || (size_t)(comma - s) >= sizeof(buf) || comma == s)
		return -EINVAL;
	memcpy(buf, s, (size_t)(comma - s));
	buf[comma - s] = '\0';
	if (parse_hex_u64(buf, addr) < 0)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(comma + 1, "\r\n"),
	    comma + 1);
	if (parse_u64(buf, size) < 0 || *size == 0)
		return -EINVAL;
	return 0;
}

/* Whether an access of size bytes at addr misses the cache (both its lines). */
static bool
llc_miss(struct sim_llc *llc, uint64_t addr, uint64_t size)
{
	uint64_t last = addr + size - 1 < addr ? UINT64_MAX : addr + size - 1;
	bool hit = sim_llc_access(llc, addr);

	if (last / SIM_LLC_LINE != addr / SIM_LLC_LINE)
		hit &= sim_llc_access(llc, last);
	return !hit;
}

/* The conversion's settings and counts, line to line. */
struct lackey {
	uint64_t every, rate, pid;	/* --every, --rate, --pid (0: banner) */
	bool instr;			/* --instr */
	struct sim_llc *llc;		/* --llc, or NULL */
	bool no_banner;			/* an access before any ==PID==: pid 1 */
	char kind;			/* the last access line's letter */
	uint64_t accesses, samples, skipped, beyond;
};

/*
 * One line of lackey's output, len bytes (NUL-terminated): 1 with its
 * sample in *s, 0 for none (another line, an access not kept), -EINVAL
 * for a line that starts like an access but does not parse (lk->kind
 * its letter).  The decoder of the untrusted text (fuzz_lackey).
 */
static int
lackey_line(struct lackey *lk, const char *line, size_t len, struct sample *s)
{
	uint64_t addr, size;
	uint32_t bp;
	char kind;

	if (lk->pid == 0 && (bp = banner_pid(line)) != 0) {
		lk->pid = bp;
		return 0;
	}
	if (len >= 3 && line[0] == 'I' && line[1] == ' ')
		kind = 'I';
	else if (len >= 3 && line[0] == ' ' && line[1] != '\0' &&
	    strchr("LSM", line[1]) && line[2] == ' ')
		kind = line[1];
	else {
		lk->skipped++;
		return 0;
	}
	lk->kind = kind;
	if (parse_access(line + 2, &addr, &size) < 0)
		return -EINVAL;
	if (kind == 'I' && !lk->instr)
		return 0;
	if (lk->llc != NULL && !llc_miss(lk->llc, addr, size))
		return 0;
	if (++lk->accesses % lk->every != 0)
		return 0;
	if (addr >= HEAT_ADDR_LIMIT) {
		lk->beyond++;	/* not a user address: no PMU reports it */
		return 0;
	}
	if (lk->pid == 0) {
		/* no banner before the first access: keep one pid */
		lk->no_banner = true;
		lk->pid = 1;
	}
	memset(s, 0, sizeof(*s));
	s->time_ns = lk->samples * 1000000000ULL / lk->rate;
	s->pid = (uint32_t)lk->pid;
	s->addr = addr;
	s->op = kind == 'L' || kind == 'I' ? SAMPLE_OP_LOAD : SAMPLE_OP_STORE;
	lk->samples++;
	return 1;
}

int
sim_lackey_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "every", required_argument, NULL, 'e' },
		{ "rate", required_argument, NULL, 'r' },
		{ "pid", required_argument, NULL, 'p' },
		{ "instr", no_argument, NULL, 'i' },
		{ "llc", required_argument, NULL, 'l' },
		{ "binary", no_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct lackey lk = { .every = 20, .rate = 20000 };
	uint64_t lineno = 0, llc_size = 0;
	unsigned llc_ways = 0;
	const char *in = "-", *out = "-";
	bool binary = false;
	struct trace_writer *w = NULL;
	char *line = NULL, err[512];
	size_t cap = 0;
	ssize_t len;
	FILE *f = stdin;
	int c, rc = 0, ex = SIM_EXIT_ERR;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (parse_u64(optarg, &lk.every) < 0 || lk.every == 0)
				goto usage;
			break;
		case 'r':
			if (parse_u64(optarg, &lk.rate) < 0 || lk.rate == 0 ||
			    lk.rate > 1000000000)
				goto usage;
			break;
		case 'p':
			if (parse_u64(optarg, &lk.pid) < 0 || lk.pid == 0 ||
			    lk.pid > HEAT_PID_MAX)
				goto usage;
			break;
		case 'i': lk.instr = true; break;
		case 'l':
			if (sim_llc_parse(optarg, &llc_size, &llc_ways) < 0) {
				fprintf(stderr, "vtier-sim lackey: --llc %s: expected "
				    "SIZE[,WAYS], WAYS 1..%d, SIZE a multiple of 64 "
				    "* WAYS up to 4G\n", optarg, SIM_LLC_WAYS_MAX);
				return SIM_EXIT_USAGE;
			}
			break;
		case 'b': binary = true; break;
		case 'o': out = optarg; break;
		case 'h': lackey_usage(stdout); return SIM_EXIT_OK;
		default: goto usage;
		}
	}
	if (argc - optind > 1)
		goto usage;
	if (argc - optind == 1)
		in = argv[optind];
	if (llc_size != 0 &&
	    (rc = sim_llc_create(&lk.llc, llc_size, llc_ways)) < 0) {
		fprintf(stderr, "vtier-sim lackey: --llc: %s\n", strerror(-rc));
		return SIM_EXIT_ERR;
	}
	if (strcmp(in, "-") != 0 && (f = fopen(in, "r")) == NULL) {
		fprintf(stderr, "vtier-sim lackey: %s: %s\n", in, strerror(errno));
		sim_llc_free(lk.llc);
		return SIM_EXIT_ERR;
	}
	if (trace_writer_open(&w, out, binary ? TRACE_BINARY : TRACE_TEXT, err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "vtier-sim lackey: %s\n", err);
		goto out;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		struct sample s;

		lineno++;
		rc = lackey_line(&lk, line, (size_t)len, &s);
		if (rc == -EINVAL) {
			fprintf(stderr, "vtier-sim lackey: %s:%llu: malformed "
			    "access line (expected \"%c ADDR,SIZE\")\n",
			    strcmp(in, "-") == 0 ? "(stdin)" : in,
			    (unsigned long long)lineno, lk.kind);
			ex = SIM_EXIT_TRACE;
			goto out;
		}
		if (rc == 1 && (rc = trace_write(w, &s)) < 0)
			break;
		rc = 0;
	}
	if (rc == 0 && ferror(f))
		rc = -EIO;
	if (rc == 0)
		rc = trace_writer_close(w);
	w = NULL;
	if (rc < 0) {
		fprintf(stderr, "vtier-sim lackey: %s: %s\n", out, strerror(-rc));
		goto out;
	}
	if (lk.no_banner)
		fprintf(stderr, "vtier-sim lackey: no ==PID== line before the "
		    "first access and no --pid: pid 1\n");
	fprintf(stderr, "vtier-sim lackey: %llu lines, %llu accesses, %llu "
	    "samples (1 in %llu), %llu other lines skipped, %llu kernel "
	    "addresses dropped\n", (unsigned long long)lineno,
	    (unsigned long long)lk.accesses, (unsigned long long)lk.samples,
	    (unsigned long long)lk.every, (unsigned long long)lk.skipped,
	    (unsigned long long)lk.beyond);
	if (lk.llc != NULL) {
		uint64_t looked, missed;
		char sz[32];

		sim_llc_stats(lk.llc, &looked, &missed);
		format_size(llc_size, sz, sizeof(sz));
		fprintf(stderr, "vtier-sim lackey: LLC %s, %u-way: %llu line "
		    "lookups, %llu misses (%.2f%%); the accesses above are "
		    "those that missed\n", sz, llc_ways,
		    (unsigned long long)looked, (unsigned long long)missed,
		    looked ? 100.0 * (double)missed / (double)looked : 0.0);
	}
	ex = SIM_EXIT_OK;
out:
	trace_writer_close(w);
	sim_llc_free(lk.llc);
	free(line);
	if (f != stdin)
		fclose(f);
	return ex;
usage:
	lackey_usage(stderr);
	return SIM_EXIT_USAGE;
}
