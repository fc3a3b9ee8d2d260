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
#define REPLAY_PIPE_BYTES	(1 << 20)	/* a FIFO's buffer, asked for */

struct replay {
	int fd;
	bool fifo;
	char path[PATH_MAX];
	uint64_t lineno;
	bool skipping;		/* inside an overlong line: drop until '\n' */
	size_t len;		/* bytes of the current partial line in buf */
	char buf[REPLAY_LINE_MAX + 1];
};

/* The field separators; any other byte belongs to a field. */
static inline bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* What may follow a field: a blank or the end of the line. */
static inline bool
field_ends(char c)
{
	return c == '\0' || is_blank(c);
}

/*
 * A decimal field at p, digits only, at most 2^64 - 1 (leading zeros do
 * not count); the byte after it, NULL if it is not one.
 */
static inline const char *
scan_dec(const char *p, uint64_t *out)
{
	uint64_t v = 0;
	unsigned d;

	if ((d = (unsigned)(unsigned char)*p - '0') > 9)
		return NULL;
	do {
		/* exact: v * 10 + d fits; the test is off v's dependency chain */
		if (v >= UINT64_MAX / 10 &&
		    (v > UINT64_MAX / 10 || d > UINT64_MAX % 10))
			return NULL;
		v = v * 10 + d;
	} while ((d = (unsigned)(unsigned char)*++p - '0') <= 9);
	if (!field_ends(*p))
		return NULL;
	*out = v;
	return p;
}

/* As scan_dec for a hex field with an optional 0x or 0X. */
static inline const char *
scan_hex(const char *p, uint64_t *out)
{
	uint64_t v = 0;
	const char *digits;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	for (digits = p;; p++) {
		unsigned c = (unsigned char)*p, d;

		if (c - '0' <= 9)
			d = c - '0';
		else if ((c | 0x20) - 'a' <= 5)
			d = (c | 0x20) - 'a' + 10;
		else
			break;
		if (v >> 60)
			return NULL;
		v = v << 4 | d;
	}
	if (p == digits || !field_ends(*p))
		return NULL;
	*out = v;
	return p;
}

static inline const char *
skip_blanks(const char *p)
{
	while (is_blank(*p))
		p++;
	return p;
}

/*
 * One pass over the line, field by field, with no copy: blanks are space,
 * tab, CR and LF; the line ends at its NUL and is at most REPLAY_LINE_MAX
 * bytes, whatever it holds (a longer comment is malformed too).  The
 * fields are time_ns and pid in decimal (pid 1 to 2^32 - 1), addr in hex,
 * then at most a decimal weight (below 2^32) and an op, L or S, in that
 * order.  *out is written only for a sample.
 */
int
sample_parse_line(const char *line, struct sample *out)
{
	const char *p = skip_blanks(line), *q;
	uint64_t t, pid, addr, weight = 0;
	uint8_t op = SAMPLE_OP_UNKNOWN;

	if (*p == '\0')
		return p - line > REPLAY_LINE_MAX ? -EINVAL : 0;
	if (*p == '#') {
		size_t used = (size_t)(p - line);

		return used > REPLAY_LINE_MAX ||
		    strnlen(p, REPLAY_LINE_MAX + 1 - used) >
		    REPLAY_LINE_MAX - used ? -EINVAL : 0;
	}
	if ((p = scan_dec(p, &t)) == NULL ||
	    (p = scan_dec(skip_blanks(p), &pid)) == NULL ||
	    pid == 0 || pid > UINT32_MAX ||
	    (p = scan_hex(skip_blanks(p), &addr)) == NULL)
		return -EINVAL;
	p = skip_blanks(p);
	if (*p != '\0' && (q = scan_dec(p, &weight)) != NULL) {
		if (weight > UINT32_MAX)
			return -EINVAL;
		p = skip_blanks(q);
	}
	if ((*p == 'L' || *p == 'S') && field_ends(p[1])) {
		op = *p == 'L' ? SAMPLE_OP_LOAD : SAMPLE_OP_STORE;
		p = skip_blanks(p + 1);
	}
	if (*p != '\0' || p - line > REPLAY_LINE_MAX)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->time_ns = t;
	out->pid = (uint32_t)pid;
	out->addr = addr;
	out->weight = (uint32_t)weight;
	out->op = op;
	return 1;
}

int
sample_parse_lost(const char *line, uint64_t *n)
{
	const char *p = line + strspn(line, " \t");
	uint64_t v = 0;
	size_t digits = 0;

	/* longer than a line may be: malformed to sample_parse_line too */
	if (strnlen(line, REPLAY_LINE_MAX + 1) > REPLAY_LINE_MAX ||
	    strncmp(p, "# lost ", 7) != 0)
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
	/*
	 * Without atime: each read of a FIFO on a disk file system dirties
	 * its inode (3.5% of the agent's CPU at 20,000 samples/s, ext4).
	 * Only the owner or CAP_FOWNER may ask; anyone else reads with it.
	 */
	if ((r->fd = open(r->path, flags | O_NOATIME)) < 0 && errno == EPERM)
		r->fd = open(r->path, flags);
	if (r->fd < 0) {
		int err = -errno;

		log_warn("replay sampler: open %s", r->path);
		free(r);
		return err;
	}
	/*
	 * Room for what a writer sends between the agent's reads, up to an
	 * interval while no early round can come (main.c, sampler holds):
	 * 1 MiB, fs.pipe-max-size's default, is 25k lines of 40 bytes.
	 */
	if (r->fifo && fcntl(r->fd, F_SETPIPE_SZ, REPLAY_PIPE_BYTES) < 0)
		log_debug("replay sampler: %s: pipe size: %s", r->path,
		    strerror(errno));
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

/* One complete line, NUL-terminated in place of its '\n'. */
static int
take_line(struct sampler *s, struct replay *r, const char *line,
    sample_fn fn, void *arg)
{
	struct sample smp;
	int rc;

	r->lineno++;
	r->len = 0;
	rc = sample_parse_line(line, &smp);
	if (rc < 0) {
		bad_line(s, r);
		return 0;
	}
	if (rc == 0) {
		uint64_t lost;

		if (sample_parse_lost(line, &lost) == 1)
			s->stats.lost += lost;
		return 0;
	}
	s->stats.samples++;
	fn(arg, &smp);
	return 1;
}

/*
 * Split a chunk into lines.  A line that lies whole in the chunk is parsed
 * where it is, its '\n' overwritten with a NUL; a line cut by the chunk's
 * end is kept in r->buf until its '\n' arrives.  A line longer than
 * REPLAY_LINE_MAX is malformed: skipped to its newline and counted there
 * (a file's last line without a newline is dropped then, uncounted).
 */
static unsigned
take_chunk(struct sampler *s, struct replay *r, char *chunk, size_t n,
    sample_fn fn, void *arg)
{
	char *p = chunk, *end = chunk + n, *nl;
	unsigned got = 0;

	while (p < end) {
		size_t len, room;

		nl = memchr(p, '\n', (size_t)(end - p));
		len = (size_t)((nl != NULL ? nl : end) - p);
		if (nl != NULL && r->len == 0 && !r->skipping &&
		    len <= REPLAY_LINE_MAX) {
			*nl = '\0';
			got += (unsigned)take_line(s, r, p, fn, arg);
			p = nl + 1;
			continue;
		}
		if (!r->skipping) {
			room = REPLAY_LINE_MAX - r->len;
			if (len > room) {
				r->skipping = true;
			} else {
				memcpy(r->buf + r->len, p, len);
				r->len += len;
			}
		}
		if (nl == NULL)
			break;
		p = nl + 1;
		if (r->skipping) {
			r->skipping = false;
			r->lineno++;
			r->len = 0;
			bad_line(s, r);
		} else {
			r->buf[r->len] = '\0';
			got += (unsigned)take_line(s, r, r->buf, fn, arg);
		}
	}
	return got;
}

static int
replay_read(struct sampler *s, int i, sample_fn fn, void *arg, unsigned max)
{
	struct replay *r = s->priv;
	char chunk[16 * 1024];
	unsigned got = 0;

	if (i != 0 || r == NULL)
		return -EINVAL;
	while (got < max) {
		size_t want = MIN(sizeof(chunk), (size_t)(max - got) * 24 + 64);
		ssize_t n = read(r->fd, chunk, want);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		if (n == 0) {
			if (!r->fifo) {
				if (r->len > 0 && !r->skipping) {
					r->buf[r->len] = '\0';
					got += (unsigned)take_line(s, r, r->buf,
					    fn, arg);
				}
				s->eof = true;
			}
			break;
		}
		got += take_chunk(s, r, chunk, (size_t)n, fn, arg);
		/*
		 * A FIFO read shorter than asked emptied the pipe: do not ask
		 * again only to hear EAGAIN (a system call per wake-up, half
		 * the reads at 20,000 samples/s).  What came since keeps the
		 * fd readable, and the loop's one-shot poll, re-armed after
		 * this, fires again at once.
		 */
		if (r->fifo && (size_t)n < want)
			break;
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
