/*
 * vtierctl - status of a vtier agent, and of the host shim.
 *
 *   vtierctl [-s SOCKET] status [--json]
 *   vtierctl [--shim SOCKET] vms [--json]
 *   vtierctl [--shim SOCKET] budget VM SIZE
 *
 * The agent answers a connection on its status socket with one JSON
 * document and closes.  --json prints it unchanged (a stable schema);
 * otherwise it is read into key/value pairs and shown as a table.
 *
 * The shim's control socket speaks framed requests (vtier/shimctl.h):
 * LIST returns the shim's JSON document (vms), SET_BUDGET changes a
 * VM's budget live (the shim pushes it to the VM's agent at once).
 * Exit: 0 done, 1 the daemon refused or could not be reached, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "vtier/shimctl.h"
#include "vtier/util.h"
#include "vtier/version.h"

#define STATUS_SOCKET_DEFAULT	"/run/vtier/agent.sock"
#define SHIM_SOCKET_DEFAULT	"/run/vtier/hostshim.sock"
#define DOC_MAX			(64 * 1024)
#define MAX_PAIRS		(1 << 20)
#define IO_TIMEOUT_S		10

struct pair {
	char key[128];
	char val[256];
};

/* Key/value pairs in document order; nested keys joined with '.'. */
struct doc {
	struct pair *p;
	int n, cap;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: vtierctl [-s SOCKET] status [--json]\n"
	    "       vtierctl [--shim SOCKET] vms [--json]\n"
	    "       vtierctl [--shim SOCKET] budget VM SIZE\n"
	    "  -s SOCKET       the agent's status socket (default %s,\n"
	    "                  or $VTIER_AGENT_SOCKET)\n"
	    "  -S, --shim SOCKET  the host shim's control socket (default %s,\n"
	    "                  or $VTIER_SHIM_SOCKET)\n"
	    "  status          the agent: budget, fast-node use, tracked pages,\n"
	    "                  samples, migrations and errors\n"
	    "  vms             the shim: each VM's transport, connection,\n"
	    "                  budget, pinned bytes and its agent's last stats\n"
	    "  budget VM SIZE  the shim: set VM's budget now (e.g. 512M, 2G)\n"
	    "  --json          the daemon's document, unchanged\n",
	    STATUS_SOCKET_DEFAULT, SHIM_SOCKET_DEFAULT);
}

static int
fetch(const char *path, char *buf, size_t len)
{
	struct sockaddr_un sun;
	size_t off = 0;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	/* an agent that is stuck (not dead) must not hang vtierctl */
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	for (;;) {
		ssize_t n = read(fd, buf + off, len - 1 - off);

		if (n < 0 && errno == EAGAIN && off == 0) {
			close(fd);
			return -ETIMEDOUT;
		}

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
		if (off == len - 1)
			break;
	}
	close(fd);
	buf[off] = '\0';
	return (int)off;
}

/*
 * A small reader for the daemons' JSON: objects, arrays, strings,
 * numbers, booleans and null.  Nested keys are joined with '.', array
 * elements are numbered ("vms.0.name").  Anything else, or anything too
 * long or too deep, ends the parse with an error.
 */
static const char *
skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
		s++;
	return s;
}

static const char *
read_string(const char *s, char *out, size_t len)
{
	size_t n = 0;

	if (*s++ != '"')
		return NULL;
	while (*s && *s != '"') {
		if (*s == '\\' && s[1])
			s++;
		if (n + 1 >= len)
			return NULL;
		out[n++] = *s++;
	}
	if (*s != '"')
		return NULL;
	out[n] = '\0';
	return s + 1;
}

static struct pair *
add_pair(struct doc *d, const char *key)
{
	struct pair *p;

	if (d->n == d->cap) {
		int cap = d->cap ? d->cap * 2 : 128;

		if (cap > MAX_PAIRS ||
		    (p = realloc(d->p, (size_t)cap * sizeof(*p))) == NULL)
			return NULL;
		d->p = p;
		d->cap = cap;
	}
	p = &d->p[d->n++];
	snprintf(p->key, sizeof(p->key), "%s", key);
	return p;
}

static const char *parse_value(const char *s, const char *key, struct doc *d,
    int depth);

static const char *
parse_object(const char *s, const char *prefix, struct doc *d, int depth)
{
	if (depth > 6 || *(s = skip_ws(s)) != '{')
		return NULL;
	s = skip_ws(s + 1);
	if (*s == '}')
		return s + 1;
	for (;;) {
		char key[128], full[128];

		if ((s = read_string(skip_ws(s), key, sizeof(key))) == NULL)
			return NULL;
		s = skip_ws(s);
		if (*s++ != ':')
			return NULL;
		if (snprintf(full, sizeof(full), "%s%s%s", prefix,
		    *prefix ? "." : "", key) >= (int)sizeof(full))
			return NULL;
		if ((s = parse_value(s, full, d, depth)) == NULL)
			return NULL;
		s = skip_ws(s);
		if (*s == '}')
			return s + 1;
		if (*s++ != ',')
			return NULL;
	}
}

static const char *
parse_array(const char *s, const char *prefix, struct doc *d, int depth)
{
	if (depth > 6 || *(s = skip_ws(s)) != '[')
		return NULL;
	s = skip_ws(s + 1);
	if (*s == ']')
		return s + 1;
	for (int i = 0;; i++) {
		char full[128];

		if (snprintf(full, sizeof(full), "%s.%d", prefix, i) >=
		    (int)sizeof(full))
			return NULL;
		if ((s = parse_value(s, full, d, depth)) == NULL)
			return NULL;
		s = skip_ws(s);
		if (*s == ']')
			return s + 1;
		if (*s++ != ',')
			return NULL;
	}
}

static const char *
parse_value(const char *s, const char *key, struct doc *d, int depth)
{
	struct pair *p;
	size_t n;

	s = skip_ws(s);
	if (*s == '{')
		return parse_object(s, key, d, depth + 1);
	if (*s == '[')
		return parse_array(s, key, d, depth + 1);
	if ((p = add_pair(d, key)) == NULL)
		return NULL;
	if (*s == '"')
		return read_string(s, p->val, sizeof(p->val));
	n = strcspn(s, ",}] \n\t\r");
	if (n == 0 || n >= sizeof(p->val))
		return NULL;
	memcpy(p->val, s, n);
	p->val[n] = '\0';
	return s + n;
}

/* The value of key among pairs [lo, hi), or "?". */
static const char *
get_in(const struct doc *d, int lo, int hi, const char *key)
{
	for (int i = lo; i < hi; i++)
		if (strcmp(d->p[i].key, key) == 0)
			return d->p[i].val;
	return "?";
}

static const char *
get(const struct doc *d, const char *key)
{
	return get_in(d, 0, d->n, key);
}

static const char *
size_of(const struct doc *d, const char *key, char *buf, size_t len)
{
	uint64_t v;

	if (parse_u64(get(d, key), &v) < 0)
		return "?";
	if (v >= 10 * GiB)
		snprintf(buf, len, "%.1f GiB", (double)v / (double)GiB);
	else if (v >= 10 * MiB)
		snprintf(buf, len, "%.1f MiB", (double)v / (double)MiB);
	else
		snprintf(buf, len, "%.1f KiB", (double)v / (double)KiB);
	return buf;
}

static void
print_status(const struct doc *d)
{
	char a[32], b[32], c[32];

	printf("vtier-agent %s (pid %s), up %s s\n", get(d, "version"),
	    get(d, "pid"), get(d, "uptime_s"));
	printf("  sampler            %s\n", get(d, "sampler"));
	printf("  migrator           %s\n", get(d, "backend"));
	printf("  budget             %s (from %s), headroom %s\n",
	    size_of(d, "budget_bytes", a, sizeof(a)), get(d, "budget_source"),
	    size_of(d, "headroom_bytes", b, sizeof(b)));
	printf("  fast nodes used    %s of %s (highest %s); fast %s, slow %s\n",
	    size_of(d, "fast_used_bytes", a, sizeof(a)),
	    size_of(d, "fast_total_bytes", b, sizeof(b)),
	    size_of(d, "fast_used_max_bytes", c, sizeof(c)),
	    get(d, "fast_nodes"), get(d, "slow_nodes"));
	printf("  budget state       %s", strcmp(get(d, "budget_unattainable"),
	    "true") == 0 ? "UNATTAINABLE" : "ok");
	if (strcmp(get(d, "budget_unattainable"), "true") == 0)
		printf(" (%s over, nothing movable left)",
		    size_of(d, "shortfall_bytes", a, sizeof(a)));
	printf("\n");
	printf("  tracked pages      %s of %s\n", get(d, "tracked_pages"),
	    get(d, "heat_capacity"));
	printf("  hot set            %s, %s on fast (threshold %s samples)\n",
	    size_of(d, "hot_set_bytes", a, sizeof(a)),
	    size_of(d, "hot_on_fast_bytes", b, sizeof(b)),
	    get(d, "hot_threshold"));
	printf("  samples            %s (%s/s), lost %s, ignored %s, "
	    "bad trace lines %s\n", get(d, "samples"), get(d, "samples_per_s"),
	    get(d, "lost_samples"), get(d, "samples_ignored"),
	    get(d, "bad_trace_lines"));
	printf("  promoted           %s pages (%s)\n", get(d, "promoted_pages"),
	    size_of(d, "promoted_bytes", a, sizeof(a)));
	printf("  demoted            %s pages (%s)\n", get(d, "demoted_pages"),
	    size_of(d, "demoted_bytes", a, sizeof(a)));
	printf("  migration errors   busy %s, noent %s, fault %s, nomem %s, "
	    "acces %s, srch %s, perm %s, other %s\n",
	    get(d, "migration_errors.busy"), get(d, "migration_errors.noent"),
	    get(d, "migration_errors.fault"), get(d, "migration_errors.nomem"),
	    get(d, "migration_errors.acces"), get(d, "migration_errors.srch"),
	    get(d, "migration_errors.perm"), get(d, "migration_errors.other"));
	printf("  managed processes  %s\n", get(d, "managed_processes"));
	printf("  policy rounds      %s (%s started over budget)\n",
	    get(d, "ticks"), get(d, "over_budget_ticks"));
}

static int
cmd_status(const char *sock, int json)
{
	static char buf[DOC_MAX];
	struct doc d = { 0 };
	int n;

	if ((n = fetch(sock, buf, sizeof(buf))) < 0) {
		fprintf(stderr, "vtierctl: cannot reach the agent at %s: %s%s\n",
		    sock, strerror(-n), n == -ENOENT || n == -ECONNREFUSED ?
		    " (is vtier-agent running?)" : "");
		return 1;
	}
	if (json) {
		fputs(buf, stdout);
		return 0;
	}
	if (parse_object(buf, "", &d, 0) == NULL) {
		fprintf(stderr, "vtierctl: the agent's status could not be "
		    "read (%d bytes)\n", n);
		free(d.p);
		return 1;
	}
	print_status(&d);
	free(d.p);
	return 0;
}

/* ------------------------------------------------------- the host shim */

static int
read_full(int fd, uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = read(fd, buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		off += (size_t)n;
	}
	return 0;
}

/*
 * One request, one reply.  The reply's header is checked before its
 * payload is read; the payload buffer grows as bytes arrive (never
 * sized from the header alone) and is NUL-terminated for the caller.
 */
static int
shim_call(const char *path, const struct shimctl_req *req,
    struct shimctl_hdr *h, char **payload)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	uint8_t frame[SHIMCTL_REQ_MAX], hdr[SHIMCTL_HDR_LEN];
	struct sockaddr_un sun;
	char *p = NULL;
	size_t have = 0, cap = 0;
	int fd, n, rc;

	*payload = NULL;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	if ((n = shimctl_encode_request(req, frame, sizeof(frame))) < 0)
		return n;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		rc = -errno;
		goto out;
	}
	if ((rc = write_all(fd, frame, (size_t)n)) < 0 ||
	    (rc = read_full(fd, hdr, sizeof(hdr))) < 0)
		goto out;
	if ((rc = shimctl_decode_header(hdr, sizeof(hdr), h)) < 0)
		goto out;
	if (h->type != SHIMCTL_OK && h->type != SHIMCTL_ERROR &&
	    h->type != SHIMCTL_DOC) {
		rc = -EBADMSG;
		goto out;
	}
	while (have < h->length) {
		size_t chunk = MIN((size_t)h->length - have, (size_t)65536);

		if (have + chunk + 1 > cap) {
			size_t ncap = MAX(cap * 2, have + chunk + 1);
			char *np = realloc(p, ncap);

			if (np == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			p = np;
			cap = ncap;
		}
		if ((rc = read_full(fd, (uint8_t *)p + have, chunk)) < 0)
			goto out;
		have += chunk;
	}
	if (p == NULL && (p = malloc(1)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	p[have] = '\0';
	*payload = p;
	p = NULL;
	rc = 0;
out:
	free(p);
	close(fd);
	return rc;
}

static void
shim_unreachable(const char *sock, int rc)
{
	fprintf(stderr, "vtierctl: cannot reach the host shim at %s: %s%s\n",
	    sock, strerror(-rc), rc == -ENOENT || rc == -ECONNREFUSED ?
	    " (is vtier-hostshim running? --shim or VTIER_SHIM_SOCKET names "
	    "its socket)" : "");
}

/* The text of an OK/ERROR reply; exit status 0 or 1. */
static int
shim_status_reply(const struct shimctl_hdr *h, const char *payload)
{
	char text[SHIMCTL_TEXT_MAX + 1];
	int32_t err;

	if (shimctl_decode_status(h->type, (const uint8_t *)payload,
	    h->length, &err, text, sizeof(text)) < 0) {
		fprintf(stderr, "vtierctl: unexpected reply from the shim\n");
		return 1;
	}
	if (h->type == SHIMCTL_ERROR) {
		fprintf(stderr, "vtierctl: %s\n", text);
		return 1;
	}
	if (text[0] != '\0')
		printf("%s\n", text);
	return 0;
}

static int
cmd_budget(const char *sock, const char *vm, const char *size)
{
	struct shimctl_req req = { .type = SHIMCTL_SET_BUDGET };
	struct shimctl_hdr h;
	char *payload;
	int rc;

	if (parse_size(size, &req.budget) < 0 || req.budget == 0) {
		fprintf(stderr, "vtierctl: bad budget '%s' (expected a size "
		    "above 0 with an optional K, M, G or T suffix, e.g. "
		    "512M)\n", size);
		return 2;
	}
	if (strlen(vm) > PROTO_NAME_MAX || vm[0] == '\0') {
		fprintf(stderr, "vtierctl: no VM named '%.*s...' (VM names are "
		    "1 to %d characters)\n", 32, vm, PROTO_NAME_MAX);
		return 1;
	}
	snprintf(req.vm, sizeof(req.vm), "%s", vm);
	if ((rc = shim_call(sock, &req, &h, &payload)) < 0) {
		shim_unreachable(sock, rc);
		return 1;
	}
	rc = h.type == SHIMCTL_DOC ? 1 : shim_status_reply(&h, payload);
	free(payload);
	return rc;
}

/* Compact sizes for the table: 512M, 1.5G, 12K, 100B. */
static const char *
hsize(const char *v, char *buf, size_t len)
{
	uint64_t n;

	if (parse_u64(v, &n) < 0)
		return "-";
	if (n >= GiB)
		snprintf(buf, len, n % GiB ? "%.1fG" : "%.0fG",
		    (double)n / (double)GiB);
	else if (n >= MiB)
		snprintf(buf, len, n % MiB ? "%.1fM" : "%.0fM",
		    (double)n / (double)MiB);
	else if (n >= KiB)
		snprintf(buf, len, n % KiB ? "%.1fK" : "%.0fK",
		    (double)n / (double)KiB);
	else
		snprintf(buf, len, "%lluB", (unsigned long long)n);
	return buf;
}

static const char *
or_dash(const char *v)
{
	return strcmp(v, "?") == 0 || strcmp(v, "null") == 0 ? "-" : v;
}

static void
print_vms(const struct doc *d)
{
	char pfx[32], key[160];
	int lo = 0;

	printf("vtier-hostshim %s (pid %s), up %s s: %s connection%s, vsock "
	    "%s\n", get(d, "version"), get(d, "pid"), get(d, "uptime_s"),
	    get(d, "connections"), strcmp(get(d, "connections"), "1") ?
	    "s" : "", strcmp(get(d, "vsock.listening"), "true") == 0 ?
	    "listening" : "off");
	printf("%-16s %-12s %-5s %7s %9s %8s %9s %9s %9s %6s %-6s %7s\n",
	    "VM", "TRANSPORT", "AGENT", "BUDGET", "FAST USED", "HOT SET",
	    "SAMPLES/S", "PROMOTED", "DEMOTED", "LOST", "UNATT", "PINNED");
	for (int i = 0;; i++) {
		char a[16], b[16], c[16], e[16];
		int hi;

		/* VM i's pairs are contiguous: [lo, hi) */
		snprintf(pfx, sizeof(pfx), "vms.%d.", i);
		while (lo < d->n && strncmp(d->p[lo].key, pfx,
		    strlen(pfx)) != 0)
			lo++;
		if (lo == d->n)
			break;
		for (hi = lo; hi < d->n && strncmp(d->p[hi].key, pfx,
		    strlen(pfx)) == 0; hi++)
			;
#define V(k) (snprintf(key, sizeof(key), "%s%s", pfx, k), \
	get_in(d, lo, hi, key))
		printf("%-16s %-12s %-5s %7s %9s %8s %9s %9s %9s %6s %-6s %7s\n",
		    V("name"), V("transport"),
		    strcmp(V("connected"), "true") == 0 ? "up" : "-",
		    strcmp(V("budget_bytes"), "0") == 0 ? "none" :
		    hsize(V("budget_bytes"), a, sizeof(a)),
		    hsize(V("stats.fast_used_bytes"), b, sizeof(b)),
		    hsize(V("stats.hot_set_bytes"), c, sizeof(c)),
		    or_dash(V("stats.samples_per_s")),
		    or_dash(V("stats.promoted_pages")),
		    or_dash(V("stats.demoted_pages")),
		    or_dash(V("stats.lost_samples")),
		    strcmp(V("stats.budget_unattainable"), "true") == 0 ? "YES" :
		    strcmp(V("stats.budget_unattainable"), "false") == 0 ?
		    "no" : "-", hsize(V("pinned_bytes"), e, sizeof(e)));
#undef V
		lo = hi;
	}
	printf("dropped: %s malformed, %s wrong version, %s slow readers, "
	    "%s handshake and %s idle timeouts; refused: %s unknown CID, %s "
	    "over limit\n", get(d, "ends.malformed"), get(d, "ends.version"),
	    get(d, "ends.slow_reader"), get(d, "ends.handshake_timeout"),
	    get(d, "ends.idle_timeout"), get(d, "unknown_cid"),
	    get(d, "over_limit"));
}

static int
cmd_vms(const char *sock, int json)
{
	struct shimctl_req req = { .type = SHIMCTL_LIST };
	struct shimctl_hdr h;
	struct doc d = { 0 };
	char *payload;
	int rc;

	if ((rc = shim_call(sock, &req, &h, &payload)) < 0) {
		shim_unreachable(sock, rc);
		return 1;
	}
	if (h.type != SHIMCTL_DOC) {
		rc = shim_status_reply(&h, payload);
		free(payload);
		return rc ? rc : 1;
	}
	if (json) {
		fputs(payload, stdout);
		free(payload);
		return 0;
	}
	if (parse_object(payload, "", &d, 0) == NULL) {
		fprintf(stderr, "vtierctl: the shim's document could not be "
		    "read (%u bytes)\n", h.length);
		rc = 1;
	} else {
		print_vms(&d);
		rc = 0;
	}
	free(d.p);
	free(payload);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "shim", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = getenv("VTIER_AGENT_SOCKET");
	const char *shim = getenv("VTIER_SHIM_SOCKET");
	const char *cmd;
	int c, json = 0, nargs;

	if (sock == NULL)
		sock = STATUS_SOCKET_DEFAULT;
	if (shim == NULL || *shim == '\0')
		shim = SHIM_SOCKET_DEFAULT;
	while ((c = getopt_long(argc, argv, "s:S:jhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'S': shim = optarg; break;
		case 'j': json = 1; break;
		case 'V': printf("vtierctl %s\n", VTIER_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	nargs = argc - optind - 1;
	if (strcmp(cmd, "status") == 0 && nargs == 0)
		return cmd_status(sock, json);
	if (strcmp(cmd, "vms") == 0 && nargs == 0)
		return cmd_vms(shim, json);
	if (strcmp(cmd, "budget") == 0 && nargs == 2 && !json)
		return cmd_budget(shim, argv[optind + 1], argv[optind + 2]);
	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "vms") == 0 ||
	    strcmp(cmd, "budget") == 0)
		fprintf(stderr, "vtierctl: wrong arguments for '%s'\n", cmd);
	else
		fprintf(stderr, "vtierctl: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
