/*
 * test_config.c - agent.ini: defaults, the shipped file, every class of
 * bad file reported at its exact FILE:LINE, print/load round trips and
 * the parse-into-fresh-then-swap reload pattern.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "config.h"
#include "../test.h"

static char errbuf[1024];

static const char *
src_dir(void)
{
	const char *s = getenv("SRC");

	return s != NULL && *s != '\0' ? s : ".";
}

static void
fixture(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/tests/fixtures/ini/%s", src_dir(), name);
}

/* Write text to a fresh temporary file; the caller unlinks path. */
static int
write_temp(char *path, size_t len, const char *text, size_t textlen)
{
	int fd;

	snprintf(path, len, "/tmp/vtier-test-config.XXXXXX");
	if ((fd = mkstemp(path)) < 0)
		return -errno;
	if (write_all(fd, text, textlen) < 0) {
		close(fd);
		unlink(path);
		return -EIO;
	}
	close(fd);
	return 0;
}

/* Field-by-field equality; returns the name of the first difference. */
static const char *
config_diff(const struct agent_config *a, const struct agent_config *b)
{
#define SAME(f) if (a->f != b->f) return #f
#define SAME_STR(f) if (strcmp(a->f, b->f) != 0) return #f
	SAME(log_level);
	SAME_STR(status_socket);
	SAME(budget);
	SAME(headroom);
	SAME(source);
	SAME(sample_period);
	SAME_STR(event);
	SAME_STR(replay);
	SAME(prefault);
	SAME(cpu_budget);
	SAME(heat_capacity);
	SAME(cooling_ms);
	SAME(thp);
	SAME(adopt);
	SAME(interval_ms);
	SAME(hysteresis);
	SAME(min_residence_ms);
	SAME(backend);
	SAME(rate_bytes);
	SAME(pages_per_call);
	SAME(fast_nodes);
	SAME(slow_nodes);
	SAME(ninclude);
	for (int i = 0; i < a->ninclude; i++)
		SAME_STR(include[i]);
	SAME(nexclude);
	for (int i = 0; i < a->nexclude; i++)
		SAME_STR(exclude[i]);
	SAME(min_rss);
	return NULL;
#undef SAME
#undef SAME_STR
}

static void
test_defaults(void)
{
	struct agent_config c;

	config_defaults(&c);
	ASSERT_EQ(c.log_level, LOG_LVL_INFO);
	ASSERT_STREQ(c.status_socket, "/run/vtier/agent.sock");
	ASSERT_EQ_U(c.budget, 0);
	ASSERT_EQ_U(c.headroom, CONFIG_HEADROOM_AUTO);
	ASSERT_EQ(c.source, SOURCE_AUTO);
	ASSERT_EQ_U(c.sample_period, 10007);
	ASSERT_STREQ(c.event, "");
	ASSERT_STREQ(c.replay, "");
	ASSERT_EQ(c.prefault, PREFAULT_AUTO);
	ASSERT_EQ_U(c.cpu_budget, 100);		/* 1% */
	ASSERT_EQ_U(c.heat_capacity, 1048576);
	ASSERT_EQ_U(c.cooling_ms, 8000);
	ASSERT_EQ(c.thp, 1);
	ASSERT_EQ(c.adopt, 1);
	ASSERT_EQ_U(c.interval_ms, 50);
	ASSERT_EQ_U(c.hysteresis, 1);
	ASSERT_EQ_U(c.min_residence_ms, 0);
	ASSERT_EQ(c.backend, BACKEND_MOVE_PAGES);
	ASSERT_EQ_U(c.rate_bytes, 256 * MiB);
	ASSERT_EQ_U(c.pages_per_call, 1024);
	ASSERT_EQ_U(c.fast_nodes, 0);
	ASSERT_EQ_U(c.slow_nodes, 0);
	ASSERT_EQ(c.ninclude, 0);
	ASSERT_EQ(c.nexclude, 0);
	ASSERT_EQ_U(c.min_rss, 0);
	ASSERT_EQ(config_validate(&c, errbuf, sizeof(errbuf)), 0);
	ASSERT_STREQ(errbuf, "");
	ASSERT_STREQ(config_source_name(SOURCE_REPLAY), "replay");
	ASSERT_STREQ(config_backend_name(BACKEND_SIM), "sim");
	ASSERT_STREQ(config_prefault_name(PREFAULT_NEVER), "never");
	ASSERT_STREQ(config_source_name((enum sampler_source)42), "?");
}

/* The shipped agent.ini loads and means exactly the defaults. */
static void
test_shipped(void)
{
	struct agent_config c, d;
	char path[PATH_MAX];
	const char *diff;

	snprintf(path, sizeof(path), "%s/agent.ini", src_dir());
	ASSERT_EQ(config_load(path, &c, errbuf, sizeof(errbuf)), 0);
	ASSERT_STREQ(errbuf, "");
	config_defaults(&d);
	diff = config_diff(&c, &d);
	ASSERT_STREQ(diff ? diff : "", "");
}

static void
test_good_full(void)
{
	struct agent_config c;
	char path[PATH_MAX];

	fixture("good-full.ini", path, sizeof(path));
	ASSERT_EQ(config_load(path, &c, errbuf, sizeof(errbuf)), 0);
	ASSERT_EQ(c.log_level, LOG_LVL_DEBUG);
	ASSERT_STREQ(c.status_socket, "/tmp/vtier-test.sock");
	ASSERT_EQ_U(c.budget, 2 * GiB);
	ASSERT_EQ_U(c.headroom, 128 * MiB);	/* " ; comment" stripped */
	ASSERT_EQ(c.source, SOURCE_REPLAY);
	ASSERT_EQ_U(c.sample_period, 2003);
	ASSERT_STREQ(c.event, "MEM_LOAD_RETIRED:L3_MISS");
	ASSERT_STREQ(c.replay, "/tmp/trace.txt");
	ASSERT_EQ(c.prefault, PREFAULT_NEVER);
	ASSERT_EQ_U(c.cpu_budget, 250);		/* 2.5% */
	ASSERT_EQ_U(c.heat_capacity, 65536);
	ASSERT_EQ_U(c.cooling_ms, 1000);
	ASSERT_EQ(c.thp, 0);
	ASSERT_EQ(c.adopt, 0);
	ASSERT_EQ_U(c.interval_ms, 250);
	ASSERT_EQ_U(c.hysteresis, 2);
	ASSERT_EQ_U(c.break_even, 0);
	ASSERT_EQ_U(c.min_residence_ms, 60000);
	ASSERT_EQ(c.backend, BACKEND_SIM);
	ASSERT_EQ_U(c.rate_bytes, GiB);
	ASSERT_EQ_U(c.pages_per_call, 512);
	/* an indented section and keys are read as such, not as
	 * continuation lines of the key above */
	ASSERT_EQ_U(c.fast_nodes, 0x3);
	ASSERT_EQ_U(c.slow_nodes, 0xc);
	ASSERT_EQ(c.ninclude, 3);
	ASSERT_STREQ(c.include[0], "postgres");
	ASSERT_STREQ(c.include[1], "redis-server");
	ASSERT_STREQ(c.include[2], "memcached");
	ASSERT_EQ(c.nexclude, 1);
	ASSERT_STREQ(c.exclude[0], "sshd");
	ASSERT_EQ_U(c.min_rss, 16 * MiB);
}

/* snprintf for messages that may be cut short. */
static void __attribute__((format(printf, 3, 4)))
msgf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* Load a fixture that must fail at line, with a message containing what. */
static int
load_bad(const char *name, int line, const char *what, char *msg,
    size_t msglen)
{
	struct agent_config c;
	char path[PATH_MAX], prefix[PATH_MAX + 32];
	int rc;

	fixture(name, path, sizeof(path));
	rc = config_load(path, &c, errbuf, sizeof(errbuf));
	snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	if (rc != -EINVAL) {
		msgf(msg, msglen, "%s: rc %d, err \"%s\"", name, rc, errbuf);
		return -1;
	}
	if (strncmp(errbuf, prefix, strlen(prefix)) != 0 ||
	    strstr(errbuf, what) == NULL) {
		msgf(msg, msglen, "%s: want \"%s...%s...\", got \"%s\"",
		    name, prefix, what, errbuf);
		return -1;
	}
	/* the message without its location, for exact comparisons */
	msgf(msg, msglen, "%s", errbuf + strlen(prefix));
	return 0;
}

#define ASSERT_BAD(name, line, what) do {				\
	char m_[1024];							\
	if (load_bad(name, line, what, m_, sizeof(m_)) < 0)		\
		FAIL_("%s", m_);					\
} while (0)

#define ASSERT_BAD_EXACT(name, line, text) do {				\
	char m_[1024];							\
	if (load_bad(name, line, "", m_, sizeof(m_)) < 0)		\
		FAIL_("%s", m_);					\
	ASSERT_STREQ(m_, text);						\
} while (0)

static void
test_bad_files(void)
{
	ASSERT_BAD_EXACT("bad-unknown-section.ini", 5,
	    "[bugdet]: unknown section (expected one of agent, budget, "
	    "sampler, heat, policy, migrate, nodes, shim, processes)");
	ASSERT_BAD_EXACT("bad-unknown-key.ini", 6,
	    "[budget] headroom_bytes: unknown key (expected one of dram, "
	    "headroom)");
	ASSERT_BAD_EXACT("bad-size.ini", 4,
	    "[budget] headroom: bad size '64X' (expected auto or a size in "
	    "bytes with an optional K, M, G or T suffix, e.g. 64M)");
	ASSERT_BAD_EXACT("bad-duration.ini", 6,
	    "[policy] min_residence: bad duration '5 seconds' (expected a "
	    "duration with an ms, s, m or h suffix, e.g. 500ms or 5s)");
	ASSERT_BAD_EXACT("bad-enum.ini", 3,
	    "[sampler] source: bad value 'perf' (expected one of auto, "
	    "pebs, ibs, replay)");
	ASSERT_BAD_EXACT("bad-range.ini", 4,
	    "[migrate] pages_per_call: 0 is out of range (expected 1 to "
	    "65536)");
	ASSERT_BAD_EXACT("bad-nodes-overlap.ini", 4,
	    "[nodes] slow: node 1 both fast and slow (expected lists that "
	    "do not overlap)");
	ASSERT_BAD_EXACT("bad-replay-nopath.ini", 5,
	    "[sampler] source: source = replay without a trace (expected "
	    "replay = PATH of a trace file or FIFO)");
	ASSERT_BAD_EXACT("bad-headroom.ini", 3,
	    "[budget] dram: headroom 512M is not below dram 512M (expected "
	    "headroom < dram, headroom = auto, or dram = auto)");
	ASSERT_BAD_EXACT("bad-syntax.ini", 3,
	    "syntax error (expected [section], key = value, or a comment "
	    "starting with # or ;)");
	ASSERT_BAD_EXACT("bad-duplicate.ini", 6,
	    "[budget] dram: duplicate key (expected once; first set on "
	    "line 2)");
	ASSERT_BAD_EXACT("bad-outside-section.ini", 2,
	    "dram: key outside any section (expected a [section] line "
	    "before it)");
	ASSERT_BAD("bad-procs.ini", 3, "[processes] exclude: "
	    "'a-very-long-command-name' is 24 characters long");
	ASSERT_BAD_EXACT("bad-residence.ini", 3,
	    "[policy] interval: min_residence 1h is more than 32767 "
	    "intervals of 100ms (expected at most 3276700ms)");
}

/* Bad values written on the fly: line numbers count comments and blanks. */
static void
test_bad_values(void)
{
	static const struct {
		const char *text;
		int line;
		const char *what;
	} cases[] = {
		{ "[budget]\ndram = 0\n", 2, "[budget] dram: 0 bytes" },
		{ "[budget]\ndram = 99999999999999T\n", 2,
		    "[budget] dram: too large:" },
		{ "[budget]\ndram = -1G\n", 2, "bad size '-1G'" },
		{ "[budget]\ndram = 4 G\n", 2, "bad size '4 G'" },
		{ "[budget]\ndram = 4G # not a comment\n", 2,
		    "bad size '4G # not a comment'" },
		{ "[budget]\nheadroom = automatic\n", 2,
		    "[budget] headroom: bad size 'automatic' (expected auto or a "
		    "size in bytes" },
		{ "[budget]\nheadroom = 99999999999999T\n", 2,
		    "[budget] headroom: too large:" },
		{ "[agent]\nlog_level = loud\n", 2,
		    "[agent] log_level: bad log level 'loud' (expected one "
		    "of error, warn, info, debug)" },
		{ "[agent]\n\nstatus_socket =\n", 3,
		    "[agent] status_socket: empty" },
		{ "[agent]\nstatus_socket = /run/"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n", 2,
		    "[agent] status_socket: 116 characters long (expected at "
		    "most 107)" },
		{ "[sampler]\nperiod = 0\n", 2,
		    "[sampler] period: 0 is out of range (expected 1 to " },
		{ "[sampler]\nperiod = 1.5\n", 2, "bad number '1.5'" },
		{ "[sampler]\nprefault = sometimes\n", 2,
		    "(expected one of auto, always, never)" },
		{ "[sampler]\ncpu_budget = 1\n", 2,
		    "[sampler] cpu_budget: bad percentage '1' (expected a "
		    "percentage from 0.1% to 100%, at most two decimals, e.g. "
		    "1% or 0.5%)" },
		{ "[sampler]\ncpu_budget = 0%\n", 2,
		    "[sampler] cpu_budget: 0% is out of range (expected 0.1% "
		    "to 100%)" },
		{ "[sampler]\ncpu_budget = 0.09%\n", 2,
		    "[sampler] cpu_budget: 0.09% is out of range" },
		{ "[sampler]\ncpu_budget = 100.01%\n", 2,
		    "[sampler] cpu_budget: 100.01% is out of range" },
		{ "[sampler]\ncpu_budget = 0.125%\n", 2,
		    "bad percentage '0.125%'" },
		{ "[sampler]\ncpu_budget = 1.%\n", 2, "bad percentage '1.%'" },
		{ "[sampler]\ncpu_budget = .5%\n", 2, "bad percentage '.5%'" },
		{ "[sampler]\ncpu_budget = -1%\n", 2, "bad percentage '-1%'" },
		{ "[sampler]\ncpu_budget = 1%%\n", 2, "bad percentage '1%%'" },
		{ "[sampler]\ncpu_budget = 1 %\n", 2, "bad percentage '1 %'" },
		{ "[sampler]\ncpu_budget = 1234567890%\n", 2,
		    "too large: '1234567890%'" },
		{ "[heat]\npages = 1000\n", 2,
		    "[heat] pages: 1000 is out of range (expected 1024 to "
		    "67108864)" },
		{ "[heat]\npages = 67108865\n", 2, "out of range" },
		{ "[heat]\ncooling = 0\n", 2,
		    "[heat] cooling: 0ms is out of range (expected auto, or 10ms to "
		    "1h)" },
		{ "[heat]\nthp = maybe\n", 2,
		    "[heat] thp: bad boolean 'maybe' (expected yes or no)" },
		{ "[heat]\nadopt = 2\n", 2,
		    "[heat] adopt: bad boolean '2' (expected yes or no)" },
		{ "[policy]\ninterval = 5ms\n", 2,
		    "[policy] interval: 5ms is out of range (expected 10ms to "
		    "1m)" },
		{ "[policy]\ninterval = 61s\n", 2, "out of range" },
		{ "[policy]\nbreak_even = 1000000001\n", 2,
		    "[policy] break_even: 1000000001 is out of range (expected "
		    "0 to 1000000000)" },
		{ "[policy]\nbreak_even = -1\n", 2, "bad number '-1'" },
		{ "[migrate]\nsim_call_time = 20ms\n", 2,
		    "[migrate] sim_call_time: sim_call_time with backend = "
		    "move_pages (expected backend = sim: it stands in for a "
		    "slow kernel in tests)" },
		{ "[migrate]\nbackend = sim\nsim_call_time = 11s\n", 3,
		    "[migrate] sim_call_time: 11s is out of range" },
		{ "[policy]\ninterval = 2x\n", 2, "bad duration '2x'" },
		{ "[policy]\nhysteresis = 9\n", 2,
		    "[policy] hysteresis: 9 is out of range (expected 0 to "
		    "8)" },
		{ "[migrate]\nbackend = fast\n", 2,
		    "(expected one of move_pages, sim)" },
		{ "[migrate]\npages_per_call = 65537\n", 2, "out of range" },
		{ "[nodes]\nfast = 64\n", 2,
		    "[nodes] fast: node out of range in '64'" },
		{ "[nodes]\nslow = 0-\n", 2, "bad node list '0-'" },
		{ "[nodes]\nslow = 0, 1\n", 2, "bad node list '0, 1'" },
		{ "[processes]\ninclude = a b c d e f g h i j k l m n o p q r "
		    "s t u v w x y z A B C D E F G\n", 2,
		    "[processes] include: more than 32 names" },
		{ "[agent]\n[budget] junk\n", 2,
		    "text after the section header" },
		{ "[agent]\n[budget\n", 2, "syntax error" },
		{ "\n\n[Agent]\nlog_level = info\n", 3,
		    "[Agent]: unknown section" },
		{ "[nodes]\n", 0, NULL },	/* an empty section is fine */
		{ "[nodes]\nfast = 0\nslow = auto\n", 0, NULL },
		{ "[budget]\nheadroom = 0\ndram = 1\n", 0, NULL },
		{ "[policy]\ninterval = 10ms\nmin_residence = 327670ms\n", 0,
		    NULL },
		{ "[policy]\ninterval = 10ms\nmin_residence = 327671ms\n", 3,
		    "[policy] min_residence: min_residence 327671ms is more "
		    "than 32767 intervals of 10ms" },
		{ "\xef\xbb\xbf[agent]\r\nlog_level = warn\r\n", 0, NULL },
		{ "\xef\xbb\xbf[agnet]\nlog_level = warn\n", 1,
		    "[agnet]: unknown section" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct agent_config c;
		char path[64], prefix[128];
		int rc;

		ASSERT_EQ(write_temp(path, sizeof(path), cases[i].text,
		    strlen(cases[i].text)), 0);
		rc = config_load(path, &c, errbuf, sizeof(errbuf));
		unlink(path);
		if (cases[i].what == NULL) {
			if (rc != 0)
				FAIL_("case %zu: rc %d: %s", i, rc, errbuf);
			continue;
		}
		snprintf(prefix, sizeof(prefix), "%s:%d: ", path,
		    cases[i].line);
		if (rc != -EINVAL || strncmp(errbuf, prefix,
		    strlen(prefix)) != 0 || strstr(errbuf, cases[i].what) ==
		    NULL)
			FAIL_("case %zu: rc %d, want \"%s...%s\", got \"%s\"",
			    i, rc, prefix, cases[i].what, errbuf);
	}
}

/* Things inih alone would get wrong: long lines, NUL bytes, indentation. */
static void
test_reader(void)
{
	struct agent_config c;
	char path[64], want[256];
	const char *indented = "[sampler]\nperiod = 7\n  \tprefault = never\n";
	char *text;
	size_t n = 0;
	int rc;

	/* a replay path of PATH_MAX - 1 characters fits on one line */
	text = malloc(3 * PATH_MAX);
	ASSERT_TRUE(text != NULL);
	n = (size_t)sprintf(text, "# long\n[sampler]\nreplay = /");
	memset(text + n, 'p', PATH_MAX - 2);
	n += PATH_MAX - 2;
	n += (size_t)sprintf(text + n, "\nsource = replay\n");
	ASSERT_EQ(write_temp(path, sizeof(path), text, n), 0);
	rc = config_load(path, &c, errbuf, sizeof(errbuf));
	unlink(path);
	if (rc != 0) {
		free(text);
		FAIL_("long replay path: %d %s", rc, errbuf);
	}
	ASSERT_EQ(strlen(c.replay), PATH_MAX - 1);

	/* one more character is a clean error at the right line, not a
	 * line split in two */
	n = (size_t)sprintf(text, "# long\n\n[sampler]\nreplay = /");
	memset(text + n, 'p', PATH_MAX + 200);
	n += PATH_MAX + 200;
	n += (size_t)sprintf(text + n, "\nsource = replay\n");
	ASSERT_EQ(write_temp(path, sizeof(path), text, n), 0);
	rc = config_load(path, &c, errbuf, sizeof(errbuf));
	unlink(path);
	free(text);
	ASSERT_EQ(rc, -EINVAL);
	snprintf(want, sizeof(want), "%s:4: line too long", path);
	ASSERT_CONTAINS(errbuf, want);

	/* a replay path just over PATH_MAX - 1 fits the line but not the
	 * field */
	{
		char t2[PATH_MAX + 64];

		n = (size_t)sprintf(t2, "[sampler]\nreplay = /");
		memset(t2 + n, 'q', PATH_MAX);
		n += PATH_MAX;
		t2[n++] = '\n';
		ASSERT_EQ(write_temp(path, sizeof(path), t2, n), 0);
		rc = config_load(path, &c, errbuf, sizeof(errbuf));
		unlink(path);
		ASSERT_EQ(rc, -EINVAL);
		snprintf(want, sizeof(want), "%s:2: [sampler] replay: %d "
		    "characters long (expected at most %d)", path,
		    PATH_MAX + 1, PATH_MAX - 1);
		ASSERT_STREQ(errbuf, want);
	}

	/* NUL byte */
	ASSERT_EQ(write_temp(path, sizeof(path), "[agent]\nlog_level = i\0nfo\n",
	    26), 0);
	rc = config_load(path, &c, errbuf, sizeof(errbuf));
	unlink(path);
	ASSERT_EQ(rc, -EINVAL);
	snprintf(want, sizeof(want), "%s:2: NUL byte in line", path);
	ASSERT_CONTAINS(errbuf, want);

	/* an indented key is a key, not a continuation of "period" */
	ASSERT_EQ(write_temp(path, sizeof(path), indented, strlen(indented)),
	    0);
	rc = config_load(path, &c, errbuf, sizeof(errbuf));
	unlink(path);
	ASSERT_EQ(rc, 0);
	ASSERT_EQ_U(c.sample_period, 7);
	ASSERT_EQ(c.prefault, PREFAULT_NEVER);

	/* an empty file is all defaults */
	ASSERT_EQ(write_temp(path, sizeof(path), "", 0), 0);
	rc = config_load(path, &c, errbuf, sizeof(errbuf));
	unlink(path);
	ASSERT_EQ(rc, 0);
}

static void
test_file_errors(void)
{
	struct agent_config c;
	char want[PATH_MAX + 64];

	ASSERT_EQ(config_load("/nonexistent/agent.ini", &c, errbuf,
	    sizeof(errbuf)), -ENOENT);
	ASSERT_STREQ(errbuf, "/nonexistent/agent.ini: No such file or "
	    "directory");
	ASSERT_EQ(config_load("/tmp", &c, errbuf, sizeof(errbuf)), -EISDIR);
	ASSERT_STREQ(errbuf, "/tmp: Is a directory");
	/* a tiny error buffer is truncated, never overrun */
	ASSERT_EQ(config_load("/nonexistent/agent.ini", &c, want, 8),
	    -ENOENT);
	ASSERT_STREQ(want, "/nonexi");
	ASSERT_EQ(config_load("/nonexistent/agent.ini", &c, NULL, 0),
	    -ENOENT);
}

/* config_print writes what config_load reads back to the same struct. */
static int
round_trip(const struct agent_config *in, struct agent_config *out,
    char *text, size_t textlen)
{
	char path[64];
	FILE *f;
	int fd, rc;

	snprintf(path, sizeof(path), "/tmp/vtier-test-print.XXXXXX");
	if ((fd = mkstemp(path)) < 0)
		return -errno;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(path);
		return -errno;
	}
	config_print(in, f);
	fclose(f);
	if (text != NULL && read_file(path, text, textlen) < 0)
		text[0] = '\0';
	rc = config_load(path, out, errbuf, sizeof(errbuf));
	unlink(path);
	return rc;
}

static void
test_print_round_trip(void)
{
	struct agent_config a, b;
	char path[PATH_MAX], text[16384];
	const char *diff;

	config_defaults(&a);
	ASSERT_EQ(round_trip(&a, &b, text, sizeof(text)), 0);
	diff = config_diff(&a, &b);
	ASSERT_STREQ(diff ? diff : "", "");
	ASSERT_CONTAINS(text, "\n[budget]\ndram = auto\nheadroom = auto\n");
	ASSERT_CONTAINS(text, "\n[nodes]\nfast = auto\nslow = auto\n");
	ASSERT_CONTAINS(text, "cooling = 8s\n");
	ASSERT_CONTAINS(text, "interval = 50ms\n");
	ASSERT_CONTAINS(text, "cpu_budget = 1%\n");

	fixture("good-full.ini", path, sizeof(path));
	ASSERT_EQ(config_load(path, &a, errbuf, sizeof(errbuf)), 0);
	ASSERT_EQ(round_trip(&a, &b, text, sizeof(text)), 0);
	diff = config_diff(&a, &b);
	ASSERT_STREQ(diff ? diff : "", "");
	ASSERT_CONTAINS(text, "include = postgres,redis-server,memcached\n");
	ASSERT_CONTAINS(text, "min_residence = 1m\n");
	ASSERT_CONTAINS(text, "cpu_budget = 2.5%\n");
	ASSERT_CONTAINS(text, "fast = 0-1\nslow = 2-3\n");

	/* extremes: every field at a limit */
	config_defaults(&a);
	a.log_level = LOG_LVL_ERR;
	a.budget = 12345;	/* no unit fits: printed in bytes */
	a.headroom = 4095;
	a.source = SOURCE_IBS;
	a.sample_period = INT64_MAX;
	memset(a.event, 'e', sizeof(a.event) - 1);
	a.event[sizeof(a.event) - 1] = '\0';
	memset(a.replay, 'r', sizeof(a.replay) - 1);
	a.replay[0] = '/';
	a.replay[sizeof(a.replay) - 1] = '\0';
	memset(a.status_socket, 's', sizeof(a.status_socket) - 1);
	a.status_socket[sizeof(a.status_socket) - 1] = '\0';
	a.prefault = PREFAULT_ALWAYS;
	a.cpu_budget = 10;	/* 0.1% */
	a.heat_capacity = 1u << 26;
	a.cooling_ms = 3600 * 1000;
	a.thp = 0;
	a.adopt = 0;
	a.interval_ms = 60 * 1000 - 1;
	a.hysteresis = 8;
	a.min_residence_ms = 1;
	a.rate_bytes = 0;
	a.pages_per_call = 65536;
	a.fast_nodes = 0x5555555555555555ULL;
	a.slow_nodes = 0xaaaaaaaaaaaaaaaaULL;
	for (int i = 0; i < CONFIG_MAX_PROCS; i++) {
		snprintf(a.include[i], sizeof(a.include[i]),
		    "proc-%010u", (unsigned)i);
		snprintf(a.exclude[i], sizeof(a.exclude[i]), "x%d", i);
	}
	a.ninclude = a.nexclude = CONFIG_MAX_PROCS;
	a.min_rss = 3 * 1024 * GiB;
	ASSERT_EQ(config_validate(&a, errbuf, sizeof(errbuf)), 0);
	ASSERT_EQ(round_trip(&a, &b, text, sizeof(text)), 0);
	diff = config_diff(&a, &b);
	ASSERT_STREQ(diff ? diff : "", "");
	ASSERT_CONTAINS(text, "cpu_budget = 0.1%\n");
	/* headroom: auto, 0 (none, not auto) and a size */
	for (int i = 0; i < 3; i++) {
		config_defaults(&a);
		a.budget = 64 * MiB;	/* auto is no size: never above it */
		a.headroom = i == 0 ? CONFIG_HEADROOM_AUTO : i == 1 ? 0 : 8 * MiB;
		ASSERT_EQ(config_validate(&a, errbuf, sizeof(errbuf)), 0);
		ASSERT_EQ(round_trip(&a, &b, text, sizeof(text)), 0);
		ASSERT_EQ_U(b.headroom, a.headroom);
		ASSERT_CONTAINS(text, i == 0 ? "headroom = auto\n" :
		    i == 1 ? "headroom = 0\n" : "headroom = 8M\n");
	}
	/* percentages with two decimals, and one with a zero in them */
	for (uint32_t v = 1205; v <= 1234; v += 29) {
		config_defaults(&a);
		a.cpu_budget = v;
		ASSERT_EQ(round_trip(&a, &b, text, sizeof(text)), 0);
		ASSERT_EQ_U(b.cpu_budget, v);
		ASSERT_CONTAINS(text, v == 1205 ? "cpu_budget = 12.05%\n" :
		    "cpu_budget = 12.34%\n");
	}
}

/* config_validate on structs built by code: no file, no line. */
static void
test_validate(void)
{
	struct agent_config c;

	config_defaults(&c);
	c.budget = 64 * MiB;
	c.headroom = 64 * MiB;
	ASSERT_EQ(config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
	ASSERT_STREQ(errbuf, "[budget] dram: headroom 64M is not below dram "
	    "64M (expected headroom < dram, headroom = auto, or dram = auto)");

	config_defaults(&c);
	c.pages_per_call = 0;
	ASSERT_EQ(config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
	ASSERT_STREQ(errbuf, "[migrate] pages_per_call: 0 is out of range "
	    "(expected 1 to 65536)");

	config_defaults(&c);
	c.source = (enum sampler_source)7;
	ASSERT_EQ(config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
	ASSERT_CONTAINS(errbuf, "[sampler] source: 7 is out of range");

	config_defaults(&c);
	c.source = SOURCE_REPLAY;
	ASSERT_EQ(config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
	ASSERT_CONTAINS(errbuf, "[sampler] source: source = replay without");

	config_defaults(&c);
	c.status_socket[0] = '\0';
	ASSERT_EQ(config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
	ASSERT_CONTAINS(errbuf, "[agent] status_socket: empty");

	config_defaults(&c);
	c.ninclude = 1;
	c.include[0][0] = '\0';
	ASSERT_EQ(config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
	ASSERT_CONTAINS(errbuf, "[processes] include: name 1 is empty");

	config_defaults(&c);
	c.fast_nodes = 1;
	c.slow_nodes = 3;
	ASSERT_EQ(config_validate(&c, errbuf, sizeof(errbuf)), -EINVAL);
	ASSERT_CONTAINS(errbuf, "node 0 both fast and slow");
}

/*
 * The reload pattern (STYLE.md 7): parse into a fresh struct, swap only
 * on success.  A failed load never touches the running config.
 */
static void
test_reload(void)
{
	struct agent_config running, fresh, before;
	char good[PATH_MAX], bad[PATH_MAX];
	const char *diff;

	fixture("good-full.ini", good, sizeof(good));
	fixture("bad-headroom.ini", bad, sizeof(bad));
	ASSERT_EQ(config_load(good, &running, errbuf, sizeof(errbuf)), 0);
	before = running;

	/* SIGHUP with a broken file: refused, old config kept */
	if (config_load(bad, &fresh, errbuf, sizeof(errbuf)) == 0)
		running = fresh;
	ASSERT_CONTAINS(errbuf, "bad-headroom.ini:3: ");
	ASSERT_TRUE(memcmp(&running, &before, sizeof(running)) == 0);

	/* SIGHUP with a good file: swapped in */
	snprintf(good, sizeof(good), "%s/agent.ini", src_dir());
	if (config_load(good, &fresh, errbuf, sizeof(errbuf)) == 0)
		running = fresh;
	ASSERT_STREQ(errbuf, "");
	config_defaults(&before);
	diff = config_diff(&running, &before);
	ASSERT_STREQ(diff ? diff : "", "");
}

int
main(void)
{
	log_init("test_config", LOG_LVL_WARN);
	RUN_TEST(test_defaults);
	RUN_TEST(test_shipped);
	RUN_TEST(test_good_full);
	RUN_TEST(test_bad_files);
	RUN_TEST(test_bad_values);
	RUN_TEST(test_reader);
	RUN_TEST(test_file_errors);
	RUN_TEST(test_print_round_trip);
	RUN_TEST(test_validate);
	RUN_TEST(test_reload);
	TEST_EXIT();
}
