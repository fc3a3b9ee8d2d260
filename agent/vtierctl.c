/*
 * vtierctl - status of a vtier agent (and, later, the host shim).
 *
 *   vtierctl [-s SOCKET] status [--json]
 *
 * The agent answers a connection on its status socket with one JSON
 * document and closes.  --json prints it unchanged (a stable schema);
 * otherwise it is read into key/value pairs and shown as a table.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vtier/util.h"
#include "vtier/version.h"

#define STATUS_SOCKET_DEFAULT	"/run/vtier/agent.sock"
#define DOC_MAX			(64 * 1024)
#define MAX_PAIRS		128

struct pair {
	char key[64];
	char val[256];
};

struct doc {
	struct pair p[MAX_PAIRS];
	int n;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: vtierctl [-s SOCKET] status [--json]\n"
	    "  -s SOCKET   the agent's status socket (default %s)\n"
	    "  status      budget, fast-node use, tracked pages, samples,\n"
	    "              migrations and errors; --json: the raw document\n",
	    STATUS_SOCKET_DEFAULT);
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
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	for (;;) {
		ssize_t n = read(fd, buf + off, len - 1 - off);

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
 * A small reader for the agent's JSON: objects of strings, numbers,
 * booleans and nested objects (keys joined with '.').  Anything else,
 * or anything too long, ends the parse with an error.
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

static const char *
parse_object(const char *s, const char *prefix, struct doc *d, int depth)
{
	if (depth > 4 || *(s = skip_ws(s)) != '{')
		return NULL;
	s = skip_ws(s + 1);
	if (*s == '}')
		return s + 1;
	for (;;) {
		char key[64], full[64];

		if ((s = read_string(skip_ws(s), key, sizeof(key))) == NULL)
			return NULL;
		s = skip_ws(s);
		if (*s++ != ':')
			return NULL;
		s = skip_ws(s);
		if (snprintf(full, sizeof(full), "%s%s%s", prefix,
		    *prefix ? "." : "", key) >= (int)sizeof(full))
			return NULL;
		if (*s == '{') {
			if ((s = parse_object(s, full, d, depth + 1)) == NULL)
				return NULL;
		} else {
			struct pair *p;
			size_t n;

			if (d->n == MAX_PAIRS)
				return NULL;
			p = &d->p[d->n++];
			snprintf(p->key, sizeof(p->key), "%s", full);
			if (*s == '"') {
				if ((s = read_string(s, p->val,
				    sizeof(p->val))) == NULL)
					return NULL;
			} else {
				n = strcspn(s, ",} \n\t\r");
				if (n == 0 || n >= sizeof(p->val))
					return NULL;
				memcpy(p->val, s, n);
				p->val[n] = '\0';
				s += n;
			}
		}
		s = skip_ws(s);
		if (*s == '}')
			return s + 1;
		if (*s++ != ',')
			return NULL;
	}
}

static const char *
get(const struct doc *d, const char *key)
{
	for (int i = 0; i < d->n; i++)
		if (strcmp(d->p[i].key, key) == 0)
			return d->p[i].val;
	return "?";
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
	static struct doc d;
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
		return 1;
	}
	print_status(&d);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = getenv("VTIER_AGENT_SOCKET");
	int c, json = 0;

	if (sock == NULL)
		sock = STATUS_SOCKET_DEFAULT;
	while ((c = getopt_long(argc, argv, "s:jhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
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
	if (strcmp(argv[optind], "status") == 0 && optind + 1 == argc)
		return cmd_status(sock, json);
	fprintf(stderr, "vtierctl: unknown command '%s'\n", argv[optind]);
	usage(stderr);
	return 2;
}
