/*
 * vtierctl - status of a vtier agent, and of the host shim.
 *
 *   vtierctl [-s SOCKET] status [--json]
 *   vtierctl [-s SOCKET] metrics
 *   vtierctl [--shim SOCKET] vms [--json]
 *   vtierctl --shim SOCKET metrics
 *   vtierctl [--shim SOCKET] budget VM SIZE
 *
 * The agent answers a connection on its status socket with one JSON
 * document and closes.  --json prints it unchanged (a stable schema);
 * otherwise it is read into key/value pairs and shown as a table, or
 * with `metrics` as Prometheus text ("Prometheus text" below).
 *
 * The shim's control socket speaks framed requests (vtier/shimctl.h):
 * LIST returns the shim's JSON document (vms), SET_BUDGET changes a
 * VM's budget live (the shim pushes it to the VM's agent at once).
 * Exit: 0 done, 1 the daemon refused or could not be reached, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
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
	    "       vtierctl [-s SOCKET] metrics\n"
	    "       vtierctl [--shim SOCKET] vms [--json]\n"
	    "       vtierctl --shim SOCKET metrics\n"
	    "       vtierctl [--shim SOCKET] budget VM SIZE\n"
	    "  -s, --socket SOCKET  the agent's status socket (default %s,\n"
	    "                  or $VTIER_AGENT_SOCKET)\n"
	    "  -S, --shim SOCKET  the host shim's control socket (default %s,\n"
	    "                  or $VTIER_SHIM_SOCKET)\n"
	    "  status          the agent: budget, fast-node use, tracked pages,\n"
	    "                  samples, migrations and errors\n"
	    "  vms             the shim: each VM's transport, connection,\n"
	    "                  budget, pinned bytes and its agent's last stats\n"
	    "  metrics         the agent's status, or with --shim the\n"
	    "                  VMs', in Prometheus text format\n"
	    "  budget VM SIZE  the shim: set VM's budget now (e.g. 512M, 2G)\n"
	    "  -j, --json      the daemon's document, unchanged\n"
	    "  -V, --version   print the version\n",
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

/* Pairs [lo, hi) of d whose keys begin with pfx: the whole agent
 * document (pfx ""), or one VM of the shim's. */
struct span {
	const struct doc *d;
	int lo, hi;
	char pfx[32];
};

/* VM i of the shim's document, looked for from pair `from` on (its
 * pairs are contiguous): 0, or -1 when there is no VM i. */
static int
span_vm(const struct doc *d, int i, int from, struct span *s)
{
	size_t n;

	snprintf(s->pfx, sizeof(s->pfx), "vms.%d.", i);
	n = strlen(s->pfx);
	s->d = d;
	for (s->lo = from; s->lo < d->n &&
	    strncmp(d->p[s->lo].key, s->pfx, n) != 0; s->lo++)
		;
	for (s->hi = s->lo; s->hi < d->n &&
	    strncmp(d->p[s->hi].key, s->pfx, n) == 0; s->hi++)
		;
	return s->lo < s->hi ? 0 : -1;
}

/* The value of key within s (e.g. "stats.samples" of a VM), or "?". */
static const char *
span_get(const struct span *s, const char *key)
{
	char full[160];

	snprintf(full, sizeof(full), "%s%s", s->pfx, key);
	return get_in(s->d, s->lo, s->hi, full);
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

/* ----------------------------------------------------- Prometheus text */

/*
 * `vtierctl metrics`: a daemon's document in the Prometheus text format
 * 0.0.4, e.g. for node_exporter's textfile collector.  One table row per
 * metric family; its samples come from one key of the document:
 *   key "k"    k's value: a JSON number or, with `is`, 1 when the value
 *              is that string and 0 when it is another;
 *   key "k.*"  a sample per member of the object k, labelled
 *              labels[0]="member";
 *   key NULL   the value 1, labelled with the values of the keys
 *              labels[] (an info metric).
 * A key the document lacks (an older daemon, a VM without stats yet)
 * gives no sample; a family's HELP and TYPE come with its first sample,
 * so a family is printed once, whole, or not at all.  Counters end in
 * _total (tests/unit/test_vtierctl.c checks the tables).
 */
struct metric {
	const char *name;
	const char *type;		/* "counter" or "gauge" */
	const char *key;
	const char *is;
	const char *labels[3];
	const char *help;		/* no backslash, no newline */
};

#define COUNTER(n, k, h) \
	{ .name = n, .type = "counter", .key = k, .help = h }
#define GAUGE(n, k, h) \
	{ .name = n, .type = "gauge", .key = k, .help = h }

static const struct metric agent_metrics[] = {
	{ .name = "vtier_agent_info", .type = "gauge",
	  .labels = { "version", "sampler", "backend" },
	  .help = "The agent's version, sampler and migrator backend; "
	      "always 1." },
	GAUGE("vtier_agent_up", NULL,
	    "1: the agent answered on its status socket."),
	COUNTER("vtier_agent_samples_total", "samples",
	    "Memory-access samples the sampler delivered."),
	COUNTER("vtier_agent_lost_samples_total", "lost_samples",
	    "Samples the kernel dropped (PERF_RECORD_LOST)."),
	COUNTER("vtier_agent_throttled_total", "throttled",
	    "Times the kernel throttled the sampler."),
	COUNTER("vtier_agent_promoted_pages_total", "promoted_pages",
	    "Pages moved to the fast nodes."),
	COUNTER("vtier_agent_promoted_bytes_total", "promoted_bytes",
	    "Bytes moved to the fast nodes."),
	COUNTER("vtier_agent_demoted_pages_total", "demoted_pages",
	    "Pages moved to the slow nodes."),
	COUNTER("vtier_agent_demoted_bytes_total", "demoted_bytes",
	    "Bytes moved to the slow nodes."),
	{ .name = "vtier_agent_migration_errors_total", .type = "counter",
	  .key = "migration_errors.*", .labels = { "kind" },
	  .help = "Pages move_pages(2) failed to move, by error (busy: "
	      "EBUSY, noent: ENOENT, ...)." },
	GAUGE("vtier_agent_fast_used_bytes", "fast_used_bytes",
	    "Memory used on the fast nodes at the last policy round."),
	GAUGE("vtier_agent_budget_bytes", "budget_bytes",
	    "The fast-node budget in effect."),
	GAUGE("vtier_agent_headroom_bytes", "headroom_bytes",
	    "Kept free below the budget: [budget] headroom, or with "
	    "headroom = auto twice the largest recent creep."),
	GAUGE("vtier_agent_hot_set_bytes", "hot_set_bytes",
	    "Size of the hot set the policy chose."),
	GAUGE("vtier_agent_hot_on_fast_bytes", "hot_on_fast_bytes",
	    "Bytes of the hot set already on the fast nodes."),
	COUNTER("vtier_agent_rounds_total", "ticks",
	    "Policy rounds run."),
	COUNTER("vtier_agent_early_rounds_total", "early_rounds",
	    "Policy rounds samples started before the timer."),
	COUNTER("vtier_agent_budget_rounds_total", "budget_rounds",
	    "Policy rounds started between rounds by fast-node usage over "
	    "the budget."),
	COUNTER("vtier_agent_rounds_cancelled_total", "rounds_cancelled",
	    "Policy rounds ended early for a stop or a new budget."),
	COUNTER("vtier_agent_sampler_pauses_total", "sampler_pauses",
	    "Times the sampler was left unread: the queue of samples read "
	    "during a round was full."),
	COUNTER("vtier_agent_sampler_holds_total", "sampler_holds",
	    "Sampler reads left to the timer's tick: no early round could "
	    "come."),
	COUNTER("vtier_agent_sampler_waits_total", "sampler_waits",
	    "Sampler reads put off to space them within the CPU budget."),
	GAUGE("vtier_agent_sampler_read_space_seconds",
	    "sampler_read_space_seconds",
	    "Least time between sampler reads, for the CPU budget (0: at "
	    "each wake-up)."),
	GAUGE("vtier_agent_cpu_budget_ratio", "cpu_budget",
	    "The agent's CPU budget, a fraction of one CPU ([sampler] "
	    "cpu_budget)."),
	GAUGE("vtier_agent_sample_period", "sample_period",
	    "The PEBS or IBS sample period now, raised over the CPU budget "
	    "(0: a sampler without one)."),
	GAUGE("vtier_agent_tracked_pages", "tracked_pages",
	    "Pages in the heat table."),
	COUNTER("vtier_agent_adopted_pages_total", "adopted_pages",
	    "Untracked pages on the fast nodes taken into the heat table."),
	GAUGE("vtier_agent_managed_processes", "managed_processes",
	    "Processes whose pages the agent moves."),
	{ .name = "vtier_agent_budget_unattainable", .type = "gauge",
	  .key = "budget_unattainable", .is = "true",
	  .help = "1 when over budget with nothing movable left to demote." },
	GAUGE("vtier_agent_shortfall_bytes", "shortfall_bytes",
	    "Bytes still over budget when the budget is unattainable."),
	{ .name = "vtier_agent_shim_connected", .type = "gauge",
	  .key = "shim_state", .is = "up",
	  .help = "1 when connected to the host shim; 0 when not or none "
	      "is configured." },
	GAUGE("vtier_agent_prefault_pinned_bytes", "prefault_pinned_bytes",
	    "Bytes the host shim pinned for the agent's pre-fault set."),
	GAUGE("vtier_agent_prefault_ranges", "prefault_ranges",
	    "Guest-physical ranges of the pre-fault set."),
	{ .name = "vtier_agent_prefault_fast_node", .type = "gauge",
	  .key = "prefault_scope", .is = "fast-node",
	  .help = "1 when the pre-fault set is the fast nodes' memory (the "
	      "PEBS buffers were not found: prefault_reason says why)." },
	COUNTER("vtier_agent_cpu_seconds_total", "cpu_seconds",
	    "The agent's user and system CPU time."),
};

/* Per VM and backing range (backing.N.host_resident_bytes). */
static const struct metric shim_vm_resident =
	GAUGE("vtier_hostshim_vm_host_resident_bytes", NULL,
	    "Host memory (RAM or swap) behind a backing range of the VM "
	    "(range = its index in the VM's backing list), read at most "
	    "every 2 s; compare the sum with the budget.");

/* These two are counted over the VMs, not read from a key. */
static const struct metric shim_vms =
	GAUGE("vtier_hostshim_vms", NULL, "VMs the shim is configured for.");
static const struct metric shim_connected_vms =
	GAUGE("vtier_hostshim_connected_vms", NULL,
	    "VMs whose agent is connected.");

/* Each labelled vm="NAME"; stats.* are the agent's last STATS. */
static const struct metric shim_vm_metrics[] = {
	{ .name = "vtier_hostshim_vm_connected", .type = "gauge",
	  .key = "connected", .is = "true",
	  .help = "1 when the VM's agent is connected." },
	GAUGE("vtier_hostshim_vm_budget_bytes", "budget_bytes",
	    "The VM's fast-memory budget; 0: none set."),
	GAUGE("vtier_hostshim_vm_pinned_bytes", "pinned_bytes",
	    "Host memory pinned behind the VM's PEBS buffers."),
	/* vtier_hostshim_vm_host_resident_bytes{vm,range}: metrics_shim */
	GAUGE("vtier_hostshim_vm_prefault_ranges", "prefault_ranges",
	    "Guest-physical ranges of the pinned set."),
	{ .name = "vtier_hostshim_vm_prefault_fast_node", .type = "gauge",
	  .key = "prefault_scope", .is = "fast-node",
	  .help = "1 when the pinned set is the VM's fast-node memory (its "
	      "agent did not find the PEBS buffers)." },
	GAUGE("vtier_hostshim_vm_fast_used_bytes", "stats.fast_used_bytes",
	    "Fast-node memory in use, from the agent's last stats; no "
	    "sample before the first."),
	COUNTER("vtier_hostshim_vm_samples_total", "stats.samples",
	    "Samples the agent took, from its last stats; no sample before "
	    "the first."),
	COUNTER("vtier_hostshim_vm_promoted_bytes_total",
	    "stats.promoted_bytes",
	    "Bytes the agent promoted, from its last stats; no sample "
	    "before the first."),
	COUNTER("vtier_hostshim_vm_demoted_bytes_total", "stats.demoted_bytes",
	    "Bytes the agent demoted, from its last stats; no sample "
	    "before the first."),
};

#undef COUNTER
#undef GAUGE

struct label {
	const char *name, *value;
};

struct prom {
	FILE *f;
	const struct metric *head;	/* the family whose header is out */
};

static void
sample(struct prom *p, const struct metric *m, const struct label *l,
    int nl, const char *value)
{
	if (p->head != m) {
		fprintf(p->f, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help,
		    m->name, m->type);
		p->head = m;
	}
	fputs(m->name, p->f);
	for (int i = 0; i < nl; i++) {
		fprintf(p->f, "%c%s=\"", i ? ',' : '{', l[i].name);
		for (const char *v = l[i].value; *v; v++) {
			if (*v == '\\' || *v == '"')
				fprintf(p->f, "\\%c", *v);
			else if (*v == '\n')
				fputs("\\n", p->f);
			else
				fputc(*v, p->f);
		}
		fputc('"', p->f);
	}
	fprintf(p->f, "%s %s\n", nl ? "}" : "", value);
}

/* The sample value for m of the document's value v at key, or NULL. */
static const char *
value_of(const struct metric *m, const char *key, const char *v)
{
	char *end;

	if (m->is != NULL)
		return strcmp(v, m->is) == 0 ? "1" : "0";
	/* a JSON number, passed on as written (a double would round
	 * counters above 2^53); Prometheus reads it as a float */
	if (v[0] != '\0' && strspn(v, "0123456789+-.eE") == strlen(v)) {
		errno = 0;
		(void)strtod(v, &end);
		if (*end == '\0' && errno == 0)
			return v;
	}
	fprintf(stderr, "vtierctl: %s is '%s', not a number\n", key, v);
	return NULL;
}

/* m's samples from span s, each labelled l[0..nl) first (l has room
 * for 3 more).  0, or -EBADMSG for a value that is not a number. */
static int
metric_out(struct prom *p, const struct metric *m, const struct span *s,
    struct label *l, int nl)
{
	size_t n = m->key ? strlen(m->key) : 0, pn;
	const char *v;
	char pre[160];

	if (m->key == NULL) {
		for (int i = 0; i < 3 && m->labels[i] != NULL; i++)
			l[nl++] = (struct label){ m->labels[i],
			    span_get(s, m->labels[i]) };
		sample(p, m, l, nl, "1");
		return 0;
	}
	if (n >= 2 && strcmp(m->key + n - 2, ".*") == 0) {
		snprintf(pre, sizeof(pre), "%s%.*s", s->pfx, (int)(n - 1),
		    m->key);
		pn = strlen(pre);
		for (int i = s->lo; i < s->hi; i++) {
			const struct pair *q = &s->d->p[i];

			if (strncmp(q->key, pre, pn) != 0 ||
			    strchr(q->key + pn, '.') != NULL)
				continue;
			if ((v = value_of(m, q->key, q->val)) == NULL)
				return -EBADMSG;
			l[nl] = (struct label){ m->labels[0], q->key + pn };
			sample(p, m, l, nl + 1, v);
		}
		return 0;
	}
	v = span_get(s, m->key);
	if (strcmp(v, "?") == 0)
		return 0;
	if ((v = value_of(m, m->key, v)) == NULL)
		return -EBADMSG;
	sample(p, m, l, nl, v);
	return 0;
}

static int
metrics_agent(FILE *f, const struct doc *d)
{
	struct prom p = { f, NULL };
	struct span all = { d, 0, d->n, "" };
	struct label l[3];
	int rc;

	for (size_t i = 0; i < ARRAY_SIZE(agent_metrics); i++)
		if ((rc = metric_out(&p, &agent_metrics[i], &all, l, 0)) < 0)
			return rc;
	return 0;
}

static int
metrics_shim(FILE *f, const struct doc *d)
{
	struct prom p = { f, NULL };
	struct label l[4];
	struct span vm;
	int nvms = 0, nup = 0, rc;
	char n[16];

	for (int lo = 0; span_vm(d, nvms, lo, &vm) == 0; nvms++, lo = vm.hi)
		nup += strcmp(span_get(&vm, "connected"), "true") == 0;
	snprintf(n, sizeof(n), "%d", nvms);
	sample(&p, &shim_vms, NULL, 0, n);
	snprintf(n, sizeof(n), "%d", nup);
	sample(&p, &shim_connected_vms, NULL, 0, n);
	for (int v = 0, lo = 0; span_vm(d, v, lo, &vm) == 0; v++, lo = vm.hi) {
		l[0] = (struct label){ "vm", span_get(&vm, "name") };
		for (int r = 0; r < 64; r++) {
			char key[64], idx[16];
			const char *val;

			snprintf(key, sizeof(key),
			    "backing.%d.host_resident_bytes", r);
			val = span_get(&vm, key);
			if (strcmp(val, "?") == 0)
				break;
			if (strcmp(val, "null") == 0)
				continue;
			if ((val = value_of(&shim_vm_resident, key, val)) ==
			    NULL)
				return -EBADMSG;
			snprintf(idx, sizeof(idx), "%d", r);
			l[1] = (struct label){ "range", idx };
			sample(&p, &shim_vm_resident, l, 2, val);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(shim_vm_metrics); i++) {
		for (int v = 0, lo = 0; span_vm(d, v, lo, &vm) == 0;
		    v++, lo = vm.hi) {
			l[0] = (struct label){ "vm", span_get(&vm, "name") };
			if ((rc = metric_out(&p, &shim_vm_metrics[i], &vm, l,
			    1)) < 0)
				return rc;
		}
	}
	return 0;
}

/*
 * Build the whole text in memory, then write it: whoever redirects
 * stdout to a file gets all of it, or nothing and exit status 1.
 */
static int
print_metrics(int (*build)(FILE *, const struct doc *), const struct doc *d)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if ((f = open_memstream(&text, &len)) == NULL) {
		rc = -errno;
	} else {
		rc = build(f, d);
		if (fclose(f) != 0 && rc == 0)
			rc = -ENOMEM;
	}
	if (rc == 0 && (fwrite(text, 1, len, stdout) != len ||
	    fflush(stdout) != 0)) {
		fprintf(stderr, "vtierctl: writing the metrics: %s\n",
		    strerror(errno));
		rc = -EIO;
	} else if (rc < 0 && rc != -EBADMSG) {
		fprintf(stderr, "vtierctl: %s\n", strerror(-rc));
	}
	free(text);
	return rc < 0 ? 1 : 0;
}

static void
print_status(const struct doc *d)
{
	char a[32], b[32], c[32], pinned[32];
	const char *regime;
	bool moving;

	printf("vtier-agent %s (pid %s), up %s s\n", get(d, "version"),
	    get(d, "pid"), get(d, "uptime_s"));
	printf("  sampler            %s\n", get(d, "sampler"));
	printf("  migrator           %s\n", get(d, "backend"));
	printf("  budget             %s (from %s), headroom %s%s\n",
	    size_of(d, "budget_bytes", a, sizeof(a)), get(d, "budget_source"),
	    size_of(d, "headroom_bytes", b, sizeof(b)),
	    strcmp(get(d, "headroom_auto"), "true") == 0 ? " (auto)" : "");
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
	printf("  tracked pages      %s of %s (%s 4 KiB pages adopted)\n",
	    get(d, "tracked_pages"), get(d, "heat_capacity"),
	    get(d, "adopted_pages"));
	moving = strcmp(get(d, "hot_set_moving"), "true") == 0;
	if (moving)
		regime = strcmp(get(d, "hot_set_tight"), "true") == 0 ?
		    "moving, tight" : "moving";
	else
		regime = strcmp(get(d, "hot_set_steady"), "true") == 0 ?
		    "settled, steady" : "settled";
	printf("  hot set            %s, %s on fast (threshold %s samples, %s%s)\n",
	    size_of(d, "hot_set_bytes", a, sizeof(a)),
	    size_of(d, "hot_on_fast_bytes", b, sizeof(b)),
	    get(d, "hot_threshold"), regime,
	    moving && strcmp(get(d, "sampled_once_pays"), "true") == 0 ?
	    ", pages sampled once come in" :
	    !moving && strcmp(get(d, "no_heat_gives_way"), "true") == 0 ?
	    ", pages with no heat left give way" : "");
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
	printf("  policy rounds      %s (%s started over budget, %s of them "
	    "by the budget watch, %s early, %s cancelled, %s cut), last %s ms, "
	    "longest %s ms\n",
	    get(d, "ticks"), get(d, "over_budget_ticks"),
	    get(d, "budget_rounds"),
	    get(d, "early_rounds"), get(d, "rounds_cancelled"),
	    get(d, "rounds_cut"), get(d, "round_last_ms"),
	    get(d, "round_max_ms"));
	printf("  queued samples     at most %s while a round ran, sampler "
	    "paused %s times, read at a tick %s times\n",
	    get(d, "samples_queued_max"), get(d, "sampler_pauses"),
	    get(d, "sampler_holds"));
	printf("  sampler reads      at least %s s apart (0: at each wake-up) "
	    "for the CPU budget of %s CPU, put off %s times\n",
	    get(d, "sampler_read_space_seconds"), get(d, "cpu_budget"),
	    get(d, "sampler_waits"));
	if (strcmp(get(d, "prefault"), "none") != 0 ||
	    strcmp(get(d, "prefault_scope"), "none") != 0)
		printf("  pre-fault          %s: %s, %s range(s), %s pinned%s%s\n",
		    get(d, "prefault"), get(d, "prefault_scope"),
		    get(d, "prefault_ranges"), size_of(d, "prefault_pinned_bytes",
		    pinned, sizeof(pinned)), *get(d, "prefault_reason") ?
		    "\n                     fallback: " : "",
		    get(d, "prefault_reason"));
}

enum output { OUT_TABLE, OUT_JSON, OUT_METRICS };

static int
cmd_status(const char *sock, enum output out)
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
	if (out == OUT_JSON) {
		fputs(buf, stdout);
		return 0;
	}
	if (parse_object(buf, "", &d, 0) == NULL) {
		fprintf(stderr, "vtierctl: the agent's status could not be "
		    "read (%d bytes)\n", n);
		free(d.p);
		return 1;
	}
	if (out == OUT_METRICS) {
		n = print_metrics(metrics_agent, &d);
	} else {
		print_status(&d);
		n = 0;
	}
	free(d.p);
	return n;
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
	struct span vm;

	printf("vtier-hostshim %s (pid %s), up %s s: %s connection%s, vsock "
	    "%s\n", get(d, "version"), get(d, "pid"), get(d, "uptime_s"),
	    get(d, "connections"), strcmp(get(d, "connections"), "1") ?
	    "s" : "", strcmp(get(d, "vsock.listening"), "true") == 0 ?
	    "listening" : "off");
	if (strcmp(get(d, "libvirt.enabled"), "true") == 0)
		printf("libvirt %s: %s%s%s\n", get(d, "libvirt.uri"),
		    get(d, "libvirt.state"), strcmp(get(d, "libvirt.error"),
		    "null") ? ": " : "", strcmp(get(d, "libvirt.error"),
		    "null") ? get(d, "libvirt.error") : "");
	printf("%-16s %-7s %-12s %-5s %7s %9s %8s %9s %9s %9s %6s %-6s %7s "
	    "%9s %s\n", "VM", "SOURCE", "TRANSPORT", "AGENT", "BUDGET",
	    "FAST USED", "HOT SET", "SAMPLES/S", "PROMOTED", "DEMOTED", "LOST",
	    "UNATT", "PINNED", "HOST MEM", "SCOPE");
	for (int i = 0, lo = 0; span_vm(d, i, lo, &vm) == 0; i++, lo = vm.hi) {
		char a[16], b[16], c[16], e[16], h[16], f[48];

#define V(k) span_get(&vm, k)
		/* "fast-node:kcore": the fallback and why */
		snprintf(f, sizeof(f), "%s%s%s", or_dash(V("prefault_scope")),
		    strcmp(or_dash(V("prefault_reason")), "-") ? ":" : "",
		    strcmp(or_dash(V("prefault_reason")), "-") ?
		    V("prefault_reason") : "");
		printf("%-16s %-7s %-12s %-5s %7s %9s %8s %9s %9s %9s %6s %-6s "
		    "%7s %9s %s\n", V("name"), or_dash(V("source")), V("transport"),
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
		    "no" : "-", hsize(V("pinned_bytes"), e, sizeof(e)),
		    hsize(V("host_resident_bytes"), h, sizeof(h)), f);
		if (strcmp(V("error"), "null") != 0 && strcmp(V("error"), "?"))
			printf("  %s: error: %s\n", V("name"), V("error"));
		if (strcmp(V("prefault_note"), "null") != 0 &&
		    strcmp(V("prefault_note"), "?"))
			printf("  %s: no pre-fault: %s\n", V("name"),
			    V("prefault_note"));
#undef V
	}
	printf("dropped: %s malformed, %s wrong version, %s slow readers, "
	    "%s handshake and %s idle timeouts; refused: %s unknown CID, %s "
	    "over limit\n", get(d, "ends.malformed"), get(d, "ends.version"),
	    get(d, "ends.slow_reader"), get(d, "ends.handshake_timeout"),
	    get(d, "ends.idle_timeout"), get(d, "unknown_cid"),
	    get(d, "over_limit"));
}

static int
cmd_vms(const char *sock, enum output out)
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
	if (out == OUT_JSON) {
		fputs(payload, stdout);
		free(payload);
		return 0;
	}
	if (parse_object(payload, "", &d, 0) == NULL) {
		fprintf(stderr, "vtierctl: the shim's document could not be "
		    "read (%u bytes)\n", h.length);
		rc = 1;
	} else if (out == OUT_METRICS) {
		rc = print_metrics(metrics_shim, &d);
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
	int c, json = 0, nargs, shim_given = 0;
	enum output out;

	/* an empty variable means the default, for both */
	if (sock == NULL || *sock == '\0')
		sock = STATUS_SOCKET_DEFAULT;
	if (shim == NULL || *shim == '\0')
		shim = SHIM_SOCKET_DEFAULT;
	while ((c = getopt_long(argc, argv, "s:S:jhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'S': shim = optarg; shim_given = 1; break;
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
	out = json ? OUT_JSON : OUT_TABLE;
	if (strcmp(cmd, "status") == 0 && nargs == 0)
		return cmd_status(sock, out);
	if (strcmp(cmd, "vms") == 0 && nargs == 0)
		return cmd_vms(shim, out);
	/* metrics: the agent's, or the shim's when --shim names it */
	if (strcmp(cmd, "metrics") == 0 && nargs == 0 && !json)
		return shim_given ? cmd_vms(shim, OUT_METRICS) :
		    cmd_status(sock, OUT_METRICS);
	if (strcmp(cmd, "budget") == 0 && nargs == 2 && !json)
		return cmd_budget(shim, argv[optind + 1], argv[optind + 2]);
	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "vms") == 0 ||
	    strcmp(cmd, "metrics") == 0 || strcmp(cmd, "budget") == 0)
		fprintf(stderr, "vtierctl: wrong arguments for '%s'\n", cmd);
	else
		fprintf(stderr, "vtierctl: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
