/*
 * sample_replay.c - the "replay" sampler: samples read from a text trace,
 * a regular file read once or a FIFO followed live.  It stands in for the
 * PMU on machines without one (this build machine, VMs without a vPMU,
 * the test guest) and feeds tests and vtier-sim.
 *
 * Trace format, one sample per line:
 *
 *     time_ns pid addr_hex [weight] [L|S]
 *
 * Fields are separated by blanks; addr_hex may carry 0x; '#' starts a
 * comment line.  A malformed line is counted, its number remembered and
 * logged (rate-limited), and skipped: bad input never stops the agent.
 * One comment counts: "# lost N", a writer's samples dropped because the
 * FIFO was full (sample_parse_lost), added to the sampler's lost count as
 * PERF_RECORD_LOST is for the hardware samplers.
 *
 * A FIFO is opened read-write so that it never reports end-of-file when a
 * writer goes away: the agent keeps following it as writers come and go.
 * Its buffer stays the kernel's default (64 KiB, some 1800 lines): less
 * than one CPU's PEBS ring holds (sample_pebs.c), so the stand-in does not
 * make keeping up look easier than it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "config.h"
#include "sample.h"

#define REPLAY_LINE_MAX	256	/* longer lines are malformed by definition */
#define LOST_MAX	UINT32_MAX	/* most a "# lost N" line may say */

struct replay {
	int fd;
	bool fifo;
	char path[PATH_MAX];
	uint64_t lineno;
	bool skipping;		/* inside an overlong line: drop until '\n' */
	size_t len;		/* bytes of the current partial line in buf */
	char buf[REPLAY_LINE_MAX + 1];
};

/*
 * Parse one token list.  The caller's line is copied into a bounded local
 * buffer first, so a line is never parsed past its end and never longer
 * than REPLAY_LINE_MAX.
 */
int
sample_parse_line(const char *line, struct sample *out)
{
	char copy[REPLAY_LINE_MAX + 1], *tok[6], *save = NULL, *p;
	uint64_t t, pid, addr, weight = 0;
	size_t n = strlen(line);
	int ntok = 0;

	if (n > REPLAY_LINE_MAX)
		return -EINVAL;
	memcpy(copy, line, n + 1);
	p = copy + strspn(copy, " \t\r\n");
	if (*p == '\0' || *p == '#')
		return 0;
	for (char *s = strtok_r(p, " \t\r\n", &save); s != NULL;
	    s = strtok_r(NULL, " \t\r\n", &save)) {
		if (ntok == (int)ARRAY_SIZE(tok))
			return -EINVAL;
		tok[ntok++] = s;
	}
	if (ntok < 3 || ntok > 5)
		return -EINVAL;
	if (parse_u64(tok[0], &t) < 0 || parse_u64(tok[1], &pid) < 0 ||
	    parse_hex_u64(tok[2], &addr) < 0)
		return -EINVAL;
	if (pid == 0 || pid > UINT32_MAX)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	for (int i = 3; i < ntok; i++) {
		if (strcmp(tok[i], "L") == 0 || strcmp(tok[i], "S") == 0) {
			if (i != ntok - 1)	/* the op comes last */
				return -EINVAL;
			out->op = tok[i][0] == 'L' ? SAMPLE_OP_LOAD :
			    SAMPLE_OP_STORE;
		} else if (i == 3 && parse_u64(tok[i], &weight) == 0 &&
		    weight <= UINT32_MAX) {
			out->weight = (uint32_t)weight;
		} else {
			return -EINVAL;
		}
	}
	out->time_ns = t;
	out->pid = (uint32_t)pid;
	out->addr = addr;
	return 1;
}

int
sample_parse_lost(const char *line, uint64_t *n)
{
	const char *p = line + strspn(line, " \t");
	uint64_t v = 0;
	size_t digits = 0;

	if (strncmp(p, "# lost ", 7) != 0)
		return 0;
	for (p += 7; *p >= '0' && *p <= '9'; p++) {
		if (++digits > 10)
			return 0;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	p += strspn(p, " \t\r\n");
	if (digits == 0 || *p != '\0' || v == 0 || v > LOST_MAX)
		return 0;
	*n = v;
	return 1;
}

static int
replay_open(struct sampler *s, const struct agent_config *cfg)
{
	struct replay *r;
	struct stat st;
	int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC;

	if (cfg->replay[0] == '\0') {
		log_warnx("replay sampler: no trace given ([sampler] replay =)");
		return -EINVAL;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	snprintf(r->path, sizeof(r->path), "%s", cfg->replay);
	if (stat(r->path, &st) < 0) {
		int err = -errno;

		log_warn("replay sampler: %s", r->path);
		free(r);
		return err;
	}
	r->fifo = S_ISFIFO(st.st_mode);
	if (r->fifo)
		flags = O_RDWR | O_NONBLOCK | O_CLOEXEC;
	if ((r->fd = open(r->path, flags)) < 0) {
		int err = -errno;

		log_warn("replay sampler: open %s", r->path);
		free(r);
		return err;
	}
	s->priv = r;
	s->eof = false;
	log_info("sampler: replay from %s %s (stand-in for a PMU)", r->path,
	    r->fifo ? "(FIFO, followed live)" : "(file)");
	return 0;
}

static int
replay_nfds(const struct sampler *s)
{
	return s->priv ? 1 : 0;
}

static int
replay_fd(const struct sampler *s, int i)
{
	const struct replay *r = s->priv;

	return i == 0 && r ? r->fd : -1;
}

static void
bad_line(struct sampler *s, struct replay *r)
{
	static struct ratelimit rl;

	s->stats.bad_lines++;
	s->stats.last_bad_line = r->lineno;
	if (ratelimit_ok(&rl, 5))
		log_warnx("replay %s:%llu: malformed sample line skipped "
		    "(expected: time_ns pid addr_hex [weight] [L|S])", r->path,
		    (unsigned long long)r->lineno);
}

/* One complete line (without its '\n') sits in r->buf[0..len). */
static int
take_line(struct sampler *s, struct replay *r, sample_fn fn, void *arg)
{
	struct sample smp;
	int rc;

	r->lineno++;
	r->buf[r->len] = '\0';
	rc = sample_parse_line(r->buf, &smp);
	r->len = 0;
	if (rc < 0) {
		bad_line(s, r);
		return 0;
	}
	if (rc == 0) {
		uint64_t lost;

		if (sample_parse_lost(r->buf, &lost) == 1)
			s->stats.lost += lost;
		return 0;
	}
	s->stats.samples++;
	fn(arg, &smp);
	return 1;
}

/*
 * Read into the line buffer byte range by byte range.  Bytes are consumed
 * from a chunk read straight after the partial line; a line longer than
 * REPLAY_LINE_MAX switches to skipping mode until its newline.
 */
static int
replay_read(struct sampler *s, int i, sample_fn fn, void *arg, unsigned max)
{
	struct replay *r = s->priv;
	char chunk[16 * 1024];
	unsigned got = 0;

	if (i != 0 || r == NULL)
		return -EINVAL;
	while (got < max) {
		ssize_t n = read(r->fd, chunk,
		    MIN(sizeof(chunk), (size_t)(max - got) * 24 + 64));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		if (n == 0) {
			if (!r->fifo) {
				if (r->len > 0 && !r->skipping)
					got += (unsigned)take_line(s, r, fn, arg);
				s->eof = true;
			}
			break;
		}
		for (ssize_t k = 0; k < n; k++) {
			char c = chunk[k];

			if (c == '\n') {
				if (r->skipping) {
					r->skipping = false;
					r->lineno++;
					r->len = 0;
					bad_line(s, r);
				} else {
					got += (unsigned)take_line(s, r, fn, arg);
				}
			} else if (!r->skipping) {
				if (r->len >= REPLAY_LINE_MAX)
					r->skipping = true;
				else
					r->buf[r->len++] = c;
			}
		}
	}
	return (int)got;
}

static void
replay_close(struct sampler *s)
{
	struct replay *r = s->priv;

	if (r == NULL)
		return;
	close(r->fd);
	free(r);
	s->priv = NULL;
}

const struct sampler_ops sample_replay_ops = {
	.name = "replay",
	.open = replay_open,
	.nfds = replay_nfds,
	.fd = replay_fd,
	.read = replay_read,
	.close = replay_close,
};
