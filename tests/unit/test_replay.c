/* test_replay.c - the replay sampler: line format, files, FIFOs */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vtier/log.h"
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
	RUN_TEST(test_parse_lost);
	RUN_TEST(test_file);
	RUN_TEST(test_missing_file);
	RUN_TEST(test_fifo);
	TEST_EXIT();
}
