/* test_replay.c - the replay sampler: line format, files, FIFOs */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "config.h"
#include "sample.h"
#include "../test.h"

static void
test_parse_line(void)
{
	struct sample s;

	ASSERT_EQ(sample_parse_line("100 42 0x7f0000001000", &s), 1);
	ASSERT_EQ_U(s.time_ns, 100); ASSERT_EQ(s.pid, 42);
	ASSERT_EQ_U(s.addr, 0x7f0000001000ULL);
	ASSERT_EQ(s.weight, 0); ASSERT_EQ(s.op, SAMPLE_OP_UNKNOWN);
	ASSERT_EQ(sample_parse_line("1 2 abc 300 L", &s), 1);
	ASSERT_EQ_U(s.addr, 0xabc); ASSERT_EQ(s.weight, 300);
	ASSERT_EQ(s.op, SAMPLE_OP_LOAD);
	ASSERT_EQ(sample_parse_line("1\t2\t0x10 S\r\n", &s), 1);
	ASSERT_EQ(s.op, SAMPLE_OP_STORE); ASSERT_EQ(s.weight, 0);
	ASSERT_EQ(sample_parse_line("# comment", &s), 0);
	ASSERT_EQ(sample_parse_line("   # indented comment", &s), 0);
	ASSERT_EQ(sample_parse_line("", &s), 0);
	ASSERT_EQ(sample_parse_line("  \t ", &s), 0);
	/* malformed */
	ASSERT_EQ(sample_parse_line("1 2", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 0 0x10", &s), -EINVAL);	/* pid 0 */
	ASSERT_EQ(sample_parse_line("x 2 0x10", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0xzz", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0x10 L 5", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0x10 5 6", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0x10 5 L x", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 4294967296 0x10", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 -2 0x10", &s), -EINVAL);
}

/* A line of n bytes: "1 2 0x10" preceded by n - 8 leading zeros. */
static void
padded_line(char *buf, size_t n)
{
	memset(buf, '0', n - 8);
	memcpy(buf + n - 8, "1 2 0x10", 9);
}

/*
 * The edges of the format, each as the parser has always taken it: the
 * limits of every field, what counts as a blank, where a line ends.
 */
static void
test_parse_line_edges(void)
{
	struct sample s;
	char buf[300];

	/* time: any u64, decimal digits only, leading zeros allowed */
	ASSERT_EQ(sample_parse_line("18446744073709551615 1 0", &s), 1);
	ASSERT_EQ_U(s.time_ns, UINT64_MAX); ASSERT_EQ_U(s.addr, 0);
	ASSERT_EQ(sample_parse_line("18446744073709551616 1 0", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("99999999999999999999 1 0", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("0000000000000000000000007 1 0", &s), 1);
	ASSERT_EQ_U(s.time_ns, 7);
	ASSERT_EQ(sample_parse_line("0 1 0", &s), 1);
	ASSERT_EQ_U(s.time_ns, 0);
	ASSERT_EQ(sample_parse_line("+1 2 0x10", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("-1 2 0x10", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("0x1 2 0x10", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1a 2 0x10", &s), -EINVAL);
	/* pid: 1 to 2^32 - 1 */
	ASSERT_EQ(sample_parse_line("1 4294967295 0x10", &s), 1);
	ASSERT_EQ_U(s.pid, 4294967295U);
	ASSERT_EQ(sample_parse_line("1 000000000042 0x10", &s), 1);
	ASSERT_EQ(s.pid, 42);
	ASSERT_EQ(sample_parse_line("1 00 0x10", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 18446744073709551616 0x10", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 +2 0x10", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2x 0x10", &s), -EINVAL);
	/* addr: hex, 0x or 0X optional, either case, at most 2^64 - 1 */
	ASSERT_EQ(sample_parse_line("1 2 0xffffffffffffffff", &s), 1);
	ASSERT_EQ_U(s.addr, UINT64_MAX);
	ASSERT_EQ(sample_parse_line("1 2 FFFFFFFFFFFFFFFF", &s), 1);
	ASSERT_EQ_U(s.addr, UINT64_MAX);
	ASSERT_EQ(sample_parse_line("1 2 0x10000000000000000", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 10000000000000000", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0x000000000000000000001", &s), 1);
	ASSERT_EQ_U(s.addr, 1);
	ASSERT_EQ(sample_parse_line("1 2 0XAbCdEf", &s), 1);
	ASSERT_EQ_U(s.addr, 0xabcdef);
	ASSERT_EQ(sample_parse_line("1 2 0", &s), 1);
	ASSERT_EQ_U(s.addr, 0);
	ASSERT_EQ(sample_parse_line("1 2 0x", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0X", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0x L", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 x10", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 00x10", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0x0x10", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0xg", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 -0x10", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 +10", &s), -EINVAL);
	/* weight: 0 to 2^32 - 1, decimal */
	ASSERT_EQ(sample_parse_line("1 2 0x10 4294967295", &s), 1);
	ASSERT_EQ_U(s.weight, 4294967295U); ASSERT_EQ(s.op, SAMPLE_OP_UNKNOWN);
	ASSERT_EQ(sample_parse_line("1 2 0x10 0005 S", &s), 1);
	ASSERT_EQ(s.weight, 5); ASSERT_EQ(s.op, SAMPLE_OP_STORE);
	ASSERT_EQ(sample_parse_line("1 2 0x10 0", &s), 1);
	ASSERT_EQ(s.weight, 0);
	ASSERT_EQ(sample_parse_line("1 2 0x10 4294967296", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0x10 18446744073709551616", &s),
	    -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0x10 +5", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0x10 -5", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0x10 0x5", &s), -EINVAL);
	/* op: exactly L or S, last */
	ASSERT_EQ(sample_parse_line("1 2 0x10 l", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0x10 LS", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0x10 Load", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0x10 L S", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0x10 5 L S", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0x10 5 L 6 7", &s), -EINVAL);
	/* blanks are space, tab, CR and LF only; trailing garbage is an error */
	ASSERT_EQ(sample_parse_line(" \t\r\n1  \t2\r0x10\n5\tL \r\n", &s), 1);
	ASSERT_EQ_U(s.time_ns, 1); ASSERT_EQ(s.pid, 2);
	ASSERT_EQ_U(s.addr, 0x10); ASSERT_EQ(s.weight, 5);
	ASSERT_EQ(s.op, SAMPLE_OP_LOAD);
	ASSERT_EQ(sample_parse_line("1\v2 0x10", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0x10\f", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1,2,0x10", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0x10 # note", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0x10#", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0x10 L#", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1\xa0" "2 0x10", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("1 2 0x1\xff", &s), -EINVAL);
	ASSERT_EQ(sample_parse_line("\xff", &s), -EINVAL);
	/* comments and blank lines */
	ASSERT_EQ(sample_parse_line("#", &s), 0);
	ASSERT_EQ(sample_parse_line("#1 2 0x10", &s), 0);
	ASSERT_EQ(sample_parse_line("\r\n", &s), 0);
	ASSERT_EQ(sample_parse_line(" \r\t# x\xff", &s), 0);
	/* a sample sets every field; 0 and -EINVAL leave nothing to read */
	memset(&s, 0x5a, sizeof(s));
	ASSERT_EQ(sample_parse_line("1 2 3", &s), 1);
	ASSERT_EQ(s.weight, 0); ASSERT_EQ(s.op, 0); ASSERT_EQ(s.level, 0);
	memset(&s, 0x5a, sizeof(s));
	ASSERT_EQ(sample_parse_line("# x", &s), 0);
	ASSERT_EQ_U(s.time_ns, 0x5a5a5a5a5a5a5a5aULL);
	/* the string ends at its NUL */
	memcpy(buf, "1 2 0x10\0 junk", 15);
	ASSERT_EQ(sample_parse_line(buf, &s), 1);
	/* at most 256 bytes, blanks and comments included */
	padded_line(buf, 256);
	ASSERT_EQ(sample_parse_line(buf, &s), 1);
	ASSERT_EQ_U(s.time_ns, 1);
	padded_line(buf, 257);
	ASSERT_EQ(sample_parse_line(buf, &s), -EINVAL);
	memset(buf, ' ', 256);
	buf[256] = '\0';
	ASSERT_EQ(sample_parse_line(buf, &s), 0);
	memcpy(buf, "1 2 0x10", 8);
	ASSERT_EQ(sample_parse_line(buf, &s), 1);
	buf[256] = ' ';
	buf[257] = '\0';
	ASSERT_EQ(sample_parse_line(buf, &s), -EINVAL);
	memset(buf, ' ', 257);
	ASSERT_EQ(sample_parse_line(buf, &s), -EINVAL);
	buf[0] = '#';
	ASSERT_EQ(sample_parse_line(buf, &s), -EINVAL);
	buf[256] = '\0';
	ASSERT_EQ(sample_parse_line(buf, &s), 0);
	memset(buf, ' ', 256);
	buf[255] = '#';
	ASSERT_EQ(sample_parse_line(buf, &s), 0);
	buf[256] = 'x';
	buf[257] = '\0';
	ASSERT_EQ(sample_parse_line(buf, &s), -EINVAL);
}

/* A writer's "# lost N": counted; anything else like it is a comment. */
static void
test_parse_lost(void)
{
	struct sample s;
	uint64_t n = 7;

	ASSERT_EQ(sample_parse_lost("# lost 12", &n), 1);
	ASSERT_EQ_U(n, 12);
	ASSERT_EQ(sample_parse_lost("  # lost 4294967295 \r\n", &n), 1);
	ASSERT_EQ_U(n, 4294967295ULL);
	ASSERT_EQ(sample_parse_line("# lost 12", &s), 0);	/* a comment */
	n = 7;
	ASSERT_EQ(sample_parse_lost("# lost 4294967296", &n), 0);
	ASSERT_EQ(sample_parse_lost("# lost 0", &n), 0);
	ASSERT_EQ(sample_parse_lost("# lost", &n), 0);
	ASSERT_EQ(sample_parse_lost("# lost ", &n), 0);
	ASSERT_EQ(sample_parse_lost("# lost 12x", &n), 0);
	ASSERT_EQ(sample_parse_lost("# lost -1", &n), 0);
	ASSERT_EQ(sample_parse_lost("# lost 1 2", &n), 0);
	ASSERT_EQ(sample_parse_lost("#lost 12", &n), 0);
	ASSERT_EQ(sample_parse_lost("# lost 00000000001", &n), 0);
	ASSERT_EQ(sample_parse_lost("1 2 0x10", &n), 0);
	ASSERT_EQ_U(n, 7);

	/*
	 * A line longer than REPLAY_LINE_MAX (256) is malformed, blanks and
	 * all, whichever parser reads it (fuzz_trace found the two apart).
	 */
	{
		char line[300];

		memset(line, ' ', sizeof(line));
		memcpy(line, "# lost 5", 8);
		line[256] = '\0';
		ASSERT_EQ(sample_parse_lost(line, &n), 1);
		ASSERT_EQ(sample_parse_line(line, &s), 0);
		line[256] = ' ';
		line[257] = '\0';
		ASSERT_EQ(sample_parse_lost(line, &n), 0);
		ASSERT_EQ(sample_parse_line(line, &s), -EINVAL);
		memset(line, ' ', sizeof(line));
		memcpy(line + 249, "# lost 5", 9);
		ASSERT_EQ(sample_parse_lost(line, &n), 0);
		ASSERT_EQ(sample_parse_line(line, &s), -EINVAL);
		ASSERT_EQ_U(n, 5);
	}
}

struct got {
	uint64_t n, sum_addr;
};

static void
collect(void *arg, const struct sample *s)
{
	struct got *g = arg;

	g->n++;
	g->sum_addr += s->addr;
}

static void
test_file(void)
{
	char path[] = "/tmp/vtier-replay-XXXXXX";
	struct agent_config cfg;
	struct sampler s = { .ops = &sample_replay_ops };
	struct got g = { 0, 0 };
	char longline[600];
	int fd = mkstemp(path), rc, rounds = 0;
	FILE *f = fdopen(fd, "w");

	ASSERT_TRUE(f != NULL);
	memset(longline, '1', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	fprintf(f, "# a trace\n");				/* line 1 */
	fprintf(f, "1 10 0x1000\n");				/* 2 */
	fprintf(f, "garbage here\n");				/* 3: bad */
	fprintf(f, "2 10 0x2000 7 S\n");			/* 4 */
	fprintf(f, "%s\n", longline);				/* 5: bad, overlong */
	fprintf(f, "\n");					/* 6 */
	fprintf(f, "3 11 0x3000 L\n");				/* 7 */
	fprintf(f, "# lost 30\n");				/* 8 */
	fprintf(f, "# lost 12\n");				/* 9 */
	fprintf(f, "4 11 0x4000");				/* 10: no newline */
	fclose(f);

	config_defaults(&cfg);
	snprintf(cfg.replay, sizeof(cfg.replay), "%s", path);
	ASSERT_EQ(s.ops->open(&s, &cfg), 0);
	ASSERT_EQ(s.ops->nfds(&s), 1);
	ASSERT_TRUE(s.ops->fd(&s, 0) >= 0);
	while (!s.eof && rounds++ < 100) {
		rc = s.ops->read(&s, 0, collect, &g, 2);
		ASSERT_TRUE(rc >= 0);
	}
	ASSERT_TRUE(s.eof);
	ASSERT_EQ_U(g.n, 4);
	ASSERT_EQ_U(g.sum_addr, 0x1000 + 0x2000 + 0x3000 + 0x4000);
	ASSERT_EQ_U(s.stats.samples, 4);
	ASSERT_EQ_U(s.stats.bad_lines, 2);
	ASSERT_EQ_U(s.stats.last_bad_line, 5);
	ASSERT_EQ_U(s.stats.lost, 42);
	s.ops->close(&s);
	unlink(path);
}

/*
 * Where the sampler splits lines: a NUL ends what is parsed but not the
 * line, CR LF is a blank and a newline, a line of 256 bytes is the
 * longest taken (a longer one, comment or not, is malformed) and an
 * overlong last line without its newline is dropped uncounted.  Read in
 * pieces of every size from one byte up, and all at once.
 */
static void
test_file_edges(void)
{
	static const unsigned maxes[] = { 1, 2, 3, 5, 7, 11, 1000 };
	char path[] = "/tmp/vtier-replay-XXXXXX";
	struct agent_config cfg;
	char line[300];
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	ASSERT_TRUE(f != NULL);
	fwrite("5 12 0x5000\0xyz\n", 1, 16, f);			/* 1 */
	fwrite("\0garbage\n", 1, 9, f);				/* 2: blank */
	fprintf(f, "6 12 0x6000\r\n");				/* 3 */
	padded_line(line, 256);
	fprintf(f, "%s\n", line);				/* 4 */
	padded_line(line, 257);
	fprintf(f, "%s\n", line);				/* 5: bad */
	memset(line, 'c', 299);
	line[0] = '#';
	line[299] = '\0';
	fprintf(f, "%s\n", line);				/* 6: bad */
	fwrite("# lost 5\0 junk\n", 1, 15, f);			/* 7 */
	fprintf(f, "\r\n");					/* 8 */
	fprintf(f, "7 12 0x7000 3 S\n");			/* 9 */
	fprintf(f, "1 2 0x\n");					/* 10: bad */
	fprintf(f, "%s", line);					/* 11: dropped */
	fclose(f);

	config_defaults(&cfg);
	snprintf(cfg.replay, sizeof(cfg.replay), "%s", path);
	for (size_t m = 0; m < ARRAY_SIZE(maxes); m++) {
		struct sampler s = { .ops = &sample_replay_ops };
		struct got g = { 0, 0 };
		int rounds = 0;

		ASSERT_EQ(s.ops->open(&s, &cfg), 0);
		while (!s.eof && rounds++ < 10000)
			ASSERT_TRUE(s.ops->read(&s, 0, collect, &g, maxes[m]) >= 0);
		ASSERT_TRUE(s.eof);
		ASSERT_EQ_U(g.n, 4);
		ASSERT_EQ_U(g.sum_addr, 0x5000 + 0x6000 + 0x10 + 0x7000);
		ASSERT_EQ_U(s.stats.samples, 4);
		ASSERT_EQ_U(s.stats.bad_lines, 3);
		ASSERT_EQ_U(s.stats.last_bad_line, 10);
		ASSERT_EQ_U(s.stats.lost, 5);
		s.ops->close(&s);
	}
	unlink(path);
}

static void
test_missing_file(void)
{
	struct agent_config cfg;
	struct sampler s = { .ops = &sample_replay_ops };

	config_defaults(&cfg);
	snprintf(cfg.replay, sizeof(cfg.replay), "/nonexistent/trace");
	ASSERT_EQ(s.ops->open(&s, &cfg), -ENOENT);
	cfg.replay[0] = '\0';
	ASSERT_EQ(s.ops->open(&s, &cfg), -EINVAL);
}

/* A FIFO is followed across writers, split lines are joined, no EOF. */
static void
test_fifo(void)
{
	char path[] = "/tmp/vtier-fifo-XXXXXX";
	struct agent_config cfg;
	struct sampler s = { .ops = &sample_replay_ops };
	struct got g = { 0, 0 };
	int wfd, fd = mkstemp(path);

	close(fd);
	unlink(path);
	ASSERT_EQ(mkfifo(path, 0600), 0);
	config_defaults(&cfg);
	snprintf(cfg.replay, sizeof(cfg.replay), "%s", path);
	ASSERT_EQ(s.ops->open(&s, &cfg), 0);
	ASSERT_EQ(s.ops->read(&s, 0, collect, &g, 100), 0);	/* nothing yet */

	wfd = open(path, O_WRONLY);
	ASSERT_TRUE(wfd >= 0);
	ASSERT_EQ(write(wfd, "1 5 0x1000\n2 5 0x20", 19), 19);
	ASSERT_EQ(s.ops->read(&s, 0, collect, &g, 100), 1);
	ASSERT_EQ(write(wfd, "00\n", 3), 3);
	close(wfd);					/* writer goes away */
	ASSERT_EQ(s.ops->read(&s, 0, collect, &g, 100), 1);
	ASSERT_TRUE(!s.eof);
	wfd = open(path, O_WRONLY);			/* a new writer */
	ASSERT_EQ(write(wfd, "3 6 0x3000\n", 11), 11);
	close(wfd);
	ASSERT_EQ(s.ops->read(&s, 0, collect, &g, 100), 1);
	ASSERT_EQ_U(g.n, 3);
	ASSERT_EQ_U(g.sum_addr, 0x1000 + 0x2000 + 0x3000);
	ASSERT_TRUE(!s.eof);
	s.ops->close(&s);
	unlink(path);
}

int
main(void)
{
	log_init("test_replay", LOG_LVL_ERR);
	RUN_TEST(test_parse_line);
	RUN_TEST(test_parse_line_edges);
	RUN_TEST(test_parse_lost);
	RUN_TEST(test_file);
	RUN_TEST(test_file_edges);
	RUN_TEST(test_missing_file);
	RUN_TEST(test_fifo);
	TEST_EXIT();
}
