/*
 * config.c - agent.ini: defaults, the parser (inih underneath), the
 * checks, and the printer that writes the effective config back out.
 *
 * Every key lives in one table (section, name, type, field, range); the
 * parser, config_validate() and config_print() all walk that table, so a
 * key cannot be parsed one way and printed another.  config_load() fills
 * the caller's struct and never touches anything else: the caller parses
 * into a fresh struct and swaps it in only on success (STYLE.md 7).
 *
 * Errors read "FILE:LINE: [section] key: what is wrong (expected ...)".
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "heat.h"

#include "vtier/inifile.h"
#include "vtier/log.h"
#include "vtier/util.h"
#include "config.h"

#define CONFIG_FILE_MAX	(1024 * 1024)	/* agent.ini is a few KiB */
#define CONFIG_LINE_MAX	(PATH_MAX + 128)	/* "replay = " + a whole path */
#define RESIDENCE_TICKS_MAX 32767	/* policy.h: residence is mod 2^16 */

enum ktype {
	K_LOGLEVEL,	/* error|warn|info|debug, int */
	K_STRING,	/* char[size], may be empty */
	K_PATH,		/* char[size], must not be empty */
	K_SIZE,		/* bytes with K/M/G/T */
	K_SIZE_AUTO,	/* "auto" = 0, else a size > 0 */
	K_SIZE_OR_AUTO,	/* "auto" = UINT64_MAX, else a size (0 too) */
	K_DURATION,	/* milliseconds from ms/s/m */
	K_DURATION_AUTO,	/* "auto" = 0, else a duration */
	K_COUNT,	/* plain decimal */
	K_PERCENT,	/* "1%", "0.25%": hundredths of a percent */
	K_BOOL,		/* yes/no, stored in an int */
	K_ENUM,		/* one of names[], stored in an enum */
	K_NODES,	/* "auto" = 0, else a node list mask */
	K_PROCS,	/* command names, count at off2 */
};

struct key {
	const char *section;
	const char *name;
	enum ktype type;
	size_t off;		/* offset of the field in agent_config */
	size_t size;		/* sizeof the field */
	size_t off2;		/* K_PROCS: offset of the count */
	uint64_t min, max;	/* numeric range, inclusive */
	const char *const *names;	/* K_ENUM: value names, by enum value */
};

#define FIELD(f) offsetof(struct agent_config, f), \
	sizeof(((struct agent_config *)0)->f)

static const char *const source_names[] = {
	[SOURCE_AUTO] = "auto", [SOURCE_PEBS] = "pebs",
	[SOURCE_IBS] = "ibs", [SOURCE_REPLAY] = "replay", NULL,
};
static const char *const backend_names[] = {
	[BACKEND_MOVE_PAGES] = "move_pages", [BACKEND_SIM] = "sim", NULL,
};
static const char *const prefault_names[] = {
	[PREFAULT_AUTO] = "auto", [PREFAULT_ALWAYS] = "always",
	[PREFAULT_NEVER] = "never", NULL,
};

static const char *const shim_names[] = {
	[SHIM_NONE] = "none", [SHIM_VSOCK] = "vsock",
	[SHIM_SERIAL] = "serial", [SHIM_UNIX] = "unix", NULL,
};

static const char *const sections[] = {
	"agent", "budget", "sampler", "heat", "policy", "migrate", "nodes",
	"shim", "processes",
};

/* In the order config_print() writes them, sections kept together. */
static const struct key keys[] = {
	{ "agent", "log_level", K_LOGLEVEL, FIELD(log_level), 0,
	    LOG_LVL_ERR, LOG_LVL_DEBUG, NULL },
	{ "agent", "status_socket", K_PATH, FIELD(status_socket), 0,
	    0, 0, NULL },
	{ "budget", "dram", K_SIZE_AUTO, FIELD(budget), 0,
	    0, UINT64_MAX, NULL },
	{ "budget", "headroom", K_SIZE_OR_AUTO, FIELD(headroom), 0,
	    0, UINT64_MAX - 1, NULL },
	{ "sampler", "source", K_ENUM, FIELD(source), 0,
	    0, SOURCE_REPLAY, source_names },
	{ "sampler", "period", K_COUNT, FIELD(sample_period), 0,
	    1, INT64_MAX, NULL },
	{ "sampler", "cpu_budget", K_PERCENT, FIELD(cpu_budget), 0,
	    10, 10000, NULL },
	{ "sampler", "event", K_STRING, FIELD(event), 0, 0, 0, NULL },
	{ "sampler", "replay", K_STRING, FIELD(replay), 0, 0, 0, NULL },
	{ "sampler", "prefault", K_ENUM, FIELD(prefault), 0,
	    0, PREFAULT_NEVER, prefault_names },
	{ "heat", "pages", K_COUNT, FIELD(heat_capacity), 0,
	    1024, 1u << 26, NULL },
	{ "heat", "cooling", K_DURATION_AUTO, FIELD(cooling_ms), 0,
	    10, 3600 * 1000, NULL },
	{ "heat", "thp", K_BOOL, FIELD(thp), 0, 0, 1, NULL },
	{ "heat", "adopt", K_BOOL, FIELD(adopt), 0, 0, 1, NULL },
	{ "policy", "interval", K_DURATION, FIELD(interval_ms), 0,
	    10, 60 * 1000, NULL },
	{ "policy", "hysteresis", K_COUNT, FIELD(hysteresis), 0,
	    0, 8, NULL },
	{ "policy", "promote_min", K_COUNT, FIELD(promote_min), 0,
	    1, HEAT_COUNT_MAX, NULL },
	{ "policy", "break_even", K_COUNT, FIELD(break_even), 0,
	    0, 1000000000, NULL },
	{ "policy", "min_residence", K_DURATION, FIELD(min_residence_ms), 0,
	    0, UINT64_MAX, NULL },
	{ "migrate", "backend", K_ENUM, FIELD(backend), 0,
	    0, BACKEND_SIM, backend_names },
	{ "migrate", "rate", K_SIZE, FIELD(rate_bytes), 0,
	    0, UINT64_MAX, NULL },
	{ "migrate", "pages_per_call", K_COUNT, FIELD(pages_per_call), 0,
	    1, 65536, NULL },
	{ "migrate", "sim_call_time", K_DURATION, FIELD(sim_call_ms), 0,
	    0, 10 * 1000, NULL },
	{ "migrate", "vacate", K_BOOL, FIELD(vacate), 0, 0, 1, NULL },
	{ "migrate", "compact", K_BOOL, FIELD(compact), 0, 0, 1, NULL },
	{ "nodes", "fast", K_NODES, FIELD(fast_nodes), 0, 0, 0, NULL },
	{ "nodes", "slow", K_NODES, FIELD(slow_nodes), 0, 0, 0, NULL },
	{ "shim", "transport", K_ENUM, FIELD(shim), 0,
	    0, SHIM_UNIX, shim_names },
	{ "shim", "address", K_STRING, FIELD(shim_address), 0, 0, 0, NULL },
	{ "shim", "stats_interval", K_DURATION, FIELD(shim_stats_ms), 0,
	    100, 3600 * 1000, NULL },
	{ "shim", "timeout", K_DURATION, FIELD(shim_timeout_ms), 0,
	    100, 600 * 1000, NULL },
	{ "processes", "include", K_PROCS, FIELD(include),
	    offsetof(struct agent_config, ninclude), 0, 0, NULL },
	{ "processes", "exclude", K_PROCS, FIELD(exclude),
	    offsetof(struct agent_config, nexclude), 0, 0, NULL },
	{ "processes", "min_rss", K_SIZE, FIELD(min_rss), 0,
	    0, UINT64_MAX, NULL },
};

#define NKEYS ARRAY_SIZE(keys)

static_assert(sizeof(((struct agent_config *)0)->status_socket) <=
    sizeof(((struct sockaddr_un *)0)->sun_path),
    "status_socket must fit sun_path");

/* State of one config_load(): the file in memory, the line count, errors. */
struct parse {
	struct ini_file f;	/* f.lineno: the line being handled */
	struct agent_config *cfg;
	int section_line;	/* line of the last [section] header */
	int key_line[NKEYS];	/* where each key was set, 0 = not set */
};

void
config_defaults(struct agent_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = LOG_LVL_INFO;
	snprintf(cfg->status_socket, sizeof(cfg->status_socket), "%s",
	    "/run/vtier/agent.sock");
	cfg->budget = 0;
	cfg->headroom = CONFIG_HEADROOM_AUTO;
	cfg->source = SOURCE_AUTO;
	cfg->sample_period = 10007;
	cfg->prefault = PREFAULT_AUTO;
	cfg->cpu_budget = 100;		/* 1% of one CPU */
	cfg->heat_capacity = 1048576;
	cfg->cooling_ms = 8000;	/* 0 = auto: the sample clock */
	cfg->thp = 1;
	cfg->adopt = 1;
	cfg->interval_ms = 50;
	cfg->hysteresis = 1;
	cfg->promote_min = 1;
	/* 10 us per 4 KiB page migrated / (250 - 100) ns saved per access:
	 * the figures agent/sim/cost.c cites */
	cfg->break_even = 67;
	cfg->min_residence_ms = 0;
	cfg->backend = BACKEND_MOVE_PAGES;
	cfg->rate_bytes = 256 * MiB;
	cfg->pages_per_call = 1024;
	cfg->vacate = 1;
	cfg->compact = 1;
	cfg->fast_nodes = 0;
	cfg->slow_nodes = 0;
	cfg->min_rss = 0;
	cfg->shim = SHIM_NONE;
	cfg->shim_stats_ms = 5000;
	cfg->shim_timeout_ms = 5000;
}

static const char *
enum_name(const char *const *names, size_t n, int v)
{
	if (v < 0 || (size_t)v >= n || names[v] == NULL)
		return "?";
	return names[v];
}

const char *
config_source_name(enum sampler_source s)
{
	return enum_name(source_names, ARRAY_SIZE(source_names) - 1, (int)s);
}

double
config_cpu_budget(const struct agent_config *cfg)
{
	return (double)cfg->cpu_budget / 10000;
}

const char *
config_backend_name(enum migrate_backend b)
{
	return enum_name(backend_names, ARRAY_SIZE(backend_names) - 1, (int)b);
}

const char *
config_prefault_name(enum prefault_mode p)
{
	return enum_name(prefault_names, ARRAY_SIZE(prefault_names) - 1,
	    (int)p);
}

const char *
config_shim_name(enum shim_transport t)
{
	return enum_name(shim_names, ARRAY_SIZE(shim_names) - 1, (int)t);
}

/* Fields are reached through the table; integers are 4 or 8 bytes wide. */
static void
store_uint(struct agent_config *cfg, size_t off, size_t size, uint64_t v)
{
	char *field = (char *)cfg + off;

	if (size == sizeof(uint64_t)) {
		memcpy(field, &v, sizeof(v));
	} else {
		uint32_t v32 = (uint32_t)v;

		memcpy(field, &v32, sizeof(v32));
	}
}

static uint64_t
load_uint(const struct agent_config *cfg, size_t off, size_t size)
{
	const char *field = (const char *)cfg + off;

	if (size == sizeof(uint64_t)) {
		uint64_t v;

		memcpy(&v, field, sizeof(v));
		return v;
	} else {
		uint32_t v32;

		memcpy(&v32, field, sizeof(v32));
		return v32;
	}
}

static int
load_int(const struct agent_config *cfg, size_t off)
{
	int v;

	memcpy(&v, (const char *)cfg + off, sizeof(v));
	return v;
}


/* A number of the key's type in the unit an operator writes it in. */
static void
format_number(const struct key *k, uint64_t v, char *buf, size_t len)
{
	if (k->type == K_DURATION || k->type == K_DURATION_AUTO)
		ini_format_duration(v, buf, len);
	else if (k->type == K_SIZE || k->type == K_SIZE_AUTO ||
	    k->type == K_SIZE_OR_AUTO)
		format_size(v, buf, len);
	else if (k->type == K_PERCENT && v % 100 == 0)
		snprintf(buf, len, "%llu%%", (unsigned long long)(v / 100));
	else if (k->type == K_PERCENT)
		snprintf(buf, len, "%llu.%.*llu%%", (unsigned long long)(v / 100),
		    v % 10 ? 2 : 1, (unsigned long long)(v % 10 ? v % 100 :
		    v % 100 / 10));
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

/* What a good value looks like, for the "(expected ...)" part. */
static void
describe(const struct key *k, char *buf, size_t len)
{
	char lo[32], hi[32];
	size_t off;

	switch (k->type) {
	case K_LOGLEVEL:
		snprintf(buf, len, "one of error, warn, info, debug");
		return;
	case K_STRING:
	case K_PATH:
		snprintf(buf, len, "%sat most %zu characters",
		    k->type == K_PATH ? "a non-empty path of " : "",
		    k->size - 1);
		return;
	case K_SIZE_AUTO:
	case K_SIZE_OR_AUTO:
		snprintf(buf, len, "auto or a size in bytes with an optional "
		    "K, M, G or T suffix, e.g. %s",
		    k->type == K_SIZE_AUTO ? "4G" : "64M");
		return;
	case K_SIZE:
		snprintf(buf, len, "a size in bytes with an optional K, M, G "
		    "or T suffix, e.g. 64M");
		return;
	case K_DURATION:
	case K_DURATION_AUTO:
		ini_format_duration(k->min, lo, sizeof(lo));
		ini_format_duration(k->max, hi, sizeof(hi));
		if (k->type == K_DURATION_AUTO)
			snprintf(buf, len, "auto or a duration from %s to %s "
			    "with an ms, s, m or h suffix, e.g. 2s", lo, hi);
		else if (k->max == UINT64_MAX)
			snprintf(buf, len, "a duration with an ms, s, m or h "
			    "suffix, e.g. 500ms or 5s");
		else
			snprintf(buf, len, "a duration from %s to %s with an "
			    "ms, s, m or h suffix, e.g. 500ms or 2s", lo, hi);
		return;
	case K_COUNT:
		snprintf(buf, len, "a whole number from %llu to %llu",
		    (unsigned long long)k->min, (unsigned long long)k->max);
		return;
	case K_PERCENT:
		format_number(k, k->min, lo, sizeof(lo));
		format_number(k, k->max, hi, sizeof(hi));
		snprintf(buf, len, "a percentage from %s to %s, at most two "
		    "decimals, e.g. 1%% or 0.5%%", lo, hi);
		return;
	case K_BOOL:
		snprintf(buf, len, "yes or no");
		return;
	case K_ENUM:
		off = (size_t)snprintf(buf, len, "one of");
		for (size_t i = 0; k->names[i] != NULL && off < len; i++)
			off += (size_t)snprintf(buf + off, len - off, "%s %s",
			    i ? "," : "", k->names[i]);
		return;
	case K_NODES:
		snprintf(buf, len, "auto or a node list such as 0 or 0-1,3, "
		    "nodes 0 to 63");
		return;
	case K_PROCS:
		snprintf(buf, len, "up to %d command names separated by "
		    "commas or spaces, each at most %d characters",
		    CONFIG_MAX_PROCS, CONFIG_COMM_LEN - 1);
		return;
	}
	snprintf(buf, len, "?");
}

/*
 * "1%", "0.5%", "12.25%" -> hundredths of a percent (100, 50, 1225).
 * The sign is required, so that "1" cannot be read as 1% by one reader
 * and as a whole CPU by another.  -EINVAL, or -ERANGE past 10^9 %.
 */
static int
parse_percent(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	int digits = 0, decimals = 0;

	for (; isdigit((unsigned char)*s); s++, digits++) {
		if (digits == 9)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	v *= 100;
	if (*s == '.') {
		for (s++; isdigit((unsigned char)*s); s++, decimals++) {
			if (decimals == 2)
				return -EINVAL;
			v += (uint64_t)(*s - '0') * (decimals ? 1 : 10);
		}
		if (decimals == 0)
			return -EINVAL;
	}
	if (digits == 0 || s[0] != '%' || s[1] != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

/* The first error wins (see inifile.h): "FILE:LINE: message". */
#define fail(p, line, rc, ...) ini_file_fail(&(p)->f, line, rc, __VA_ARGS__)


static int
fail_value(struct parse *p, const struct key *k, const char *value,
    const char *what)
{
	char expect[256], cut[INI_SHOWN_MAX + 4];

	describe(k, expect, sizeof(expect));
	return fail(p, p->f.lineno, -EINVAL, "[%s] %s: %s '%s' (expected %s)",
	    k->section, k->name, what, ini_shown(value, cut, sizeof(cut)), expect);
}

static int
fail_range(struct parse *p, const struct key *k, int line, uint64_t v)
{
	char val[32], lo[32], hi[32];

	format_number(k, v, val, sizeof(val));
	format_number(k, k->min, lo, sizeof(lo));
	format_number(k, k->max, hi, sizeof(hi));
	return fail(p, line, -EINVAL, "[%s] %s: %s is out of range "
	    "(expected %s%s to %s)", k->section, k->name, val,
	    k->type == K_DURATION_AUTO ? "auto, or " : "", lo, hi);
}

/*
 * Command-name lists: names separated by any run of commas and blanks.
 * A name is what /proc/PID/comm shows, so at most 15 bytes; control
 * characters cannot be typed into a comm by accident and are refused.
 */
static int
parse_procs(struct parse *p, const struct key *k, const char *value)
{
	char (*names)[CONFIG_COMM_LEN] =
	    (void *)((char *)p->cfg + k->off);
	const char *s = value;
	int n = 0;

	while (*s != '\0') {
		size_t len;

		s += strspn(s, ", \t");
		if (*s == '\0')
			break;
		len = strcspn(s, ", \t");
		if (len >= CONFIG_COMM_LEN) {
			char name[CONFIG_COMM_LEN * 2];

			snprintf(name, sizeof(name), "%.*s", (int)MIN(len,
			    sizeof(name) - 1), s);
			return fail(p, p->f.lineno, -EINVAL, "[%s] %s: '%s' is "
			    "%zu characters long (expected command names of "
			    "at most %d characters, as in /proc/PID/comm)",
			    k->section, k->name, name, len,
			    CONFIG_COMM_LEN - 1);
		}
		for (size_t i = 0; i < len; i++)
			if (iscntrl((unsigned char)s[i]))
				return fail_value(p, k, value,
				    "control character in");
		if (n == CONFIG_MAX_PROCS)
			return fail(p, p->f.lineno, -EINVAL, "[%s] %s: more than "
			    "%d names (expected at most %d)", k->section,
			    k->name, CONFIG_MAX_PROCS, CONFIG_MAX_PROCS);
		memcpy(names[n], s, len);
		names[n][len] = '\0';
		n++;
		s += len;
	}
	memcpy((char *)p->cfg + k->off2, &n, sizeof(n));
	return 0;
}

/*
 * One "key = value": convert by the key's type, check the key's range,
 * store.  Cross-field rules wait for check_config(), once the whole file
 * is in.
 */
static int
set_value(struct parse *p, const struct key *k, const char *value)
{
	char *field = (char *)p->cfg + k->off;
	uint64_t v = 0;
	int rc = 0, b, lvl;
	bool is_auto = false;	/* "auto" stored as 0, outside the range */

	switch (k->type) {
	case K_LOGLEVEL:
		if ((lvl = log_level_parse(value)) < 0)
			return fail_value(p, k, value, "bad log level");
		memcpy(field, &lvl, sizeof(lvl));
		return 0;
	case K_STRING:
	case K_PATH:
		for (const char *c = value; *c; c++)
			if (iscntrl((unsigned char)*c))
				return fail_value(p, k, value,
				    "control character in");
		if (k->type == K_PATH && *value == '\0')
			return fail(p, p->f.lineno, -EINVAL, "[%s] %s: empty "
			    "(expected a path)", k->section, k->name);
		if (strlen(value) >= k->size)
			return fail(p, p->f.lineno, -EINVAL, "[%s] %s: %zu "
			    "characters long (expected at most %zu)",
			    k->section, k->name, strlen(value), k->size - 1);
		memcpy(field, value, strlen(value) + 1);
		return 0;
	case K_SIZE_AUTO:
		if (strcmp(value, "auto") == 0)
			break;
		if ((rc = parse_size(value, &v)) < 0)
			return fail_value(p, k, value, rc == -ERANGE ?
			    "too large:" : "bad size");
		if (v == 0)
			return fail(p, p->f.lineno, -EINVAL, "[%s] %s: 0 bytes "
			    "(expected auto, or a size above 0)", k->section,
			    k->name);
		break;
	case K_SIZE_OR_AUTO:
		if (strcmp(value, "auto") == 0) {
			store_uint(p->cfg, k->off, k->size, UINT64_MAX);
			return 0;
		}
		/* FALLTHROUGH */
	case K_SIZE:
		if ((rc = parse_size(value, &v)) < 0)
			return fail_value(p, k, value, rc == -ERANGE ?
			    "too large:" : "bad size");
		break;
	case K_DURATION_AUTO:
		if ((is_auto = strcmp(value, "auto") == 0))
			break;
		/* FALLTHROUGH */
	case K_DURATION:
		if ((rc = parse_duration_ms(value, &v)) < 0)
			return fail_value(p, k, value, rc == -ERANGE ?
			    "too large:" : "bad duration");
		break;
	case K_COUNT:
		if ((rc = parse_u64(value, &v)) < 0)
			return fail_value(p, k, value, rc == -ERANGE ?
			    "too large:" : "bad number");
		break;
	case K_PERCENT:
		if ((rc = parse_percent(value, &v)) < 0)
			return fail_value(p, k, value, rc == -ERANGE ?
			    "too large:" : "bad percentage");
		break;
	case K_BOOL:
		if (parse_bool(value, &b) < 0)
			return fail_value(p, k, value, "bad boolean");
		memcpy(field, &b, sizeof(b));
		return 0;
	case K_ENUM:
		for (int i = 0; k->names[i] != NULL; i++) {
			if (strcmp(value, k->names[i]) == 0) {
				memcpy(field, &i, sizeof(i));
				return 0;
			}
		}
		return fail_value(p, k, value, "bad value");
	case K_NODES:
		if (strcmp(value, "auto") == 0)
			break;
		if ((rc = parse_nodelist(value, &v)) < 0)
			return fail_value(p, k, value, rc == -ERANGE ?
			    "node out of range in" : "bad node list");
		break;
	case K_PROCS:
		return parse_procs(p, k, value);
	}
	/* 0ms is not auto: only the word is */
	if (k->type != K_NODES && !is_auto && (v < k->min || v > k->max))
		return fail_range(p, k, p->f.lineno, v);
	store_uint(p->cfg, k->off, k->size, v);
	return 0;
}

static bool
section_known(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++)
		if (strcmp(name, sections[i]) == 0)
			return true;
	return false;
}

static int
fail_section(struct parse *p, int line, const char *name)
{
	char cut[INI_SHOWN_MAX + 4];

	return fail(p, line, -EINVAL, "[%s]: unknown section (expected one "
	    "of agent, budget, sampler, heat, policy, migrate, nodes, "
	    "shim, processes)", ini_shown(name, cut, sizeof(cut)));
}

/* inih calls this for every "key = value"; nonzero means accepted. */
static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	char expect[256], cut[INI_SHOWN_MAX + 4];
	size_t off = 0;

	if (p->f.err_rc != 0)
		return 0;	/* the first error is the one reported */
	if (*section == '\0') {
		fail(p, p->f.lineno, -EINVAL, "%s: key outside any section "
		    "(expected a [section] line before it)",
		    ini_shown(name, cut, sizeof(cut)));
		return 0;
	}
	if (!section_known(section)) {
		fail_section(p, p->section_line ? p->section_line : p->f.lineno,
		    section);
		return 0;
	}
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];

		if (strcmp(k->section, section) != 0 ||
		    strcmp(k->name, name) != 0)
			continue;
		if (p->key_line[i] != 0) {
			fail(p, p->f.lineno, -EINVAL, "[%s] %s: duplicate key "
			    "(expected once; first set on line %d)",
			    section, name, p->key_line[i]);
			return 0;
		}
		p->key_line[i] = p->f.lineno;
		return set_value(p, k, value) == 0;
	}
	expect[0] = '\0';
	for (size_t i = 0; i < NKEYS && off < sizeof(expect); i++)
		if (strcmp(keys[i].section, section) == 0)
			off += (size_t)snprintf(expect + off,
			    sizeof(expect) - off, "%s%s", off ? ", " : "",
			    keys[i].name);
	fail(p, p->f.lineno, -EINVAL, "[%s] %s: unknown key (expected one of "
	    "%s)", section, ini_shown(name, cut, sizeof(cut)), expect);
	return 0;
}

/*
 * Each "[section]" line, at its own line (ini_file_reader): an unknown
 * section is reported there even when it holds no keys.
 */
static void
on_header(void *arg, const char *name, size_t len)
{
	struct parse *p = arg;
	char sec[64];

	p->section_line = p->f.lineno;
	if (name == NULL)
		return;		/* no ']': inih reports the syntax error */
	snprintf(sec, sizeof(sec), "%.*s", (int)len, name);
	if (!section_known(sec))
		fail_section(p, p->f.lineno, sec);
}

static size_t
key_index(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			break;
	return i;
}

/*
 * A rule between two keys of one section is reported at the later of
 * their lines (the line that made the pair wrong), naming that key; the
 * first key when neither came from a file.
 */
static int
blame(const struct parse *p, const char *a, const char *b,
    const char **name)
{
	int la = p->key_line[key_index(a)], lb = p->key_line[key_index(b)];

	*name = lb > la ? b : a;
	return MAX(la, lb);
}

/*
 * Everything a parsed file can still get wrong: each key's own range
 * (for structs built by code rather than by the parser) and the rules
 * between keys.  p->key_line says where each key came from.
 */
static int
check_config(struct parse *p)
{
	const struct agent_config *cfg = p->cfg;
	char a[256], b[32], c[32];
	const char *name;
	int line;

	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		uint64_t v;
		int n;

		switch (k->type) {
		case K_LOGLEVEL:
		case K_ENUM:
		case K_BOOL:
			n = load_int(cfg, k->off);
			if (n < (int)k->min || n > (int)k->max)
				return fail(p, p->key_line[i], -EINVAL,
				    "[%s] %s: %d is out of range", k->section,
				    k->name, n);
			break;
		case K_STRING:
		case K_PATH:
			n = (int)strnlen((const char *)cfg + k->off, k->size);
			if ((size_t)n == k->size || (n == 0 && k->type == K_PATH))
				return fail(p, p->key_line[i], -EINVAL,
				    "[%s] %s: %s (expected 1 to %zu "
				    "characters)", k->section, k->name,
				    n ? "too long" : "empty", k->size - 1);
			break;
		case K_SIZE:
		case K_SIZE_AUTO:
		case K_SIZE_OR_AUTO:
		case K_DURATION:
		case K_DURATION_AUTO:
		case K_COUNT:
		case K_PERCENT:
			v = load_uint(cfg, k->off, k->size);
			if (v == 0 && k->type == K_DURATION_AUTO)
				break;
			if (v == UINT64_MAX && k->type == K_SIZE_OR_AUTO)
				break;
			if (v < k->min || v > k->max)
				return fail_range(p, k, p->key_line[i], v);
			break;
		case K_NODES:
			break;
		case K_PROCS:
			n = load_int(cfg, k->off2);
			if (n < 0 || n > CONFIG_MAX_PROCS)
				return fail(p, p->key_line[i], -EINVAL,
				    "[%s] %s: %d names (expected at most %d)",
				    k->section, k->name, n, CONFIG_MAX_PROCS);
			for (int j = 0; j < n; j++) {
				const char *s = (const char *)cfg + k->off +
				    (size_t)j * CONFIG_COMM_LEN;
				size_t len = strnlen(s, CONFIG_COMM_LEN);

				if (len == 0 || len == CONFIG_COMM_LEN)
					return fail(p, p->key_line[i], -EINVAL,
					    "[%s] %s: name %d is %s", k->section,
					    k->name, j + 1, len ? "too long" :
					    "empty");
			}
			break;
		}
	}

	if (cfg->budget != 0 && cfg->headroom != CONFIG_HEADROOM_AUTO &&
	    cfg->headroom >= cfg->budget) {
		line = blame(p, "dram", "headroom", &name);
		format_size(cfg->headroom, a, sizeof(a));
		format_size(cfg->budget, b, sizeof(b));
		return fail(p, line, -EINVAL, "[budget] %s: headroom %s is not "
		    "below dram %s (expected headroom < dram, headroom = auto, "
		    "or dram = auto)",
		    name, a, b);
	}
	if (cfg->source == SOURCE_REPLAY && cfg->replay[0] == '\0') {
		line = blame(p, "source", "replay", &name);
		return fail(p, line, -EINVAL, "[sampler] %s: source = replay "
		    "without a trace (expected replay = PATH of a trace file "
		    "or FIFO)", name);
	}
	if ((cfg->shim == SHIM_UNIX || cfg->shim == SHIM_SERIAL) &&
	    cfg->shim_address[0] == '\0') {
		line = blame(p, "transport", "address", &name);
		return fail(p, line, -EINVAL, "[shim] %s: transport = %s "
		    "without an address (expected address = %s)", name,
		    config_shim_name(cfg->shim), cfg->shim == SHIM_UNIX ?
		    "PATH of the shim's socket" :
		    "the port's name, e.g. vtier.ctl, or a /dev path");
	}
	if (cfg->fast_nodes & cfg->slow_nodes) {
		line = blame(p, "fast", "slow", &name);
		format_nodelist(cfg->fast_nodes & cfg->slow_nodes, a,
		    sizeof(a));
		return fail(p, line, -EINVAL, "[nodes] %s: node %s both fast "
		    "and slow (expected lists that do not overlap)", name, a);
	}
	if (cfg->sim_call_ms != 0 && cfg->backend != BACKEND_SIM) {
		line = blame(p, "sim_call_time", "backend", &name);
		return fail(p, line, -EINVAL, "[migrate] %s: sim_call_time "
		    "with backend = %s (expected backend = sim: it stands in "
		    "for a slow kernel in tests)", name,
		    config_backend_name(cfg->backend));
	}
	if (cfg->min_residence_ms >
	    (uint64_t)RESIDENCE_TICKS_MAX * cfg->interval_ms) {
		line = blame(p, "min_residence", "interval", &name);
		ini_format_duration(cfg->min_residence_ms, a, sizeof(a));
		ini_format_duration(cfg->interval_ms, b, sizeof(b));
		ini_format_duration((uint64_t)RESIDENCE_TICKS_MAX *
		    cfg->interval_ms, c, sizeof(c));
		return fail(p, line, -EINVAL, "[policy] %s: min_residence %s "
		    "is more than %d intervals of %s (expected at most %s)",
		    name, a, RESIDENCE_TICKS_MAX, b, c);
	}
	return 0;
}

int
config_validate(const struct agent_config *cfg, char *err, size_t errlen)
{
	struct parse p;

	memset(&p, 0, sizeof(p));
	p.cfg = (struct agent_config *)cfg;	/* only read by check_config */
	p.f.err = err;
	p.f.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	return check_config(&p);
}

/*
 * The whole file is read first (bounded: a config is a few KiB), then fed
 * to inih line by line (include/vtier/inifile.h), so every error names
 * its line; whichever error comes first in the file wins.  Then the rules
 * between keys (check_config).
 */
int
config_load(const char *path, struct agent_config *cfg, char *err,
    size_t errlen)
{
	struct parse p;
	int rc, saved_max;

	memset(&p, 0, sizeof(p));
	p.f.path = path;
	p.f.header = on_header;
	p.f.arg = &p;
	p.cfg = cfg;
	config_defaults(cfg);
	if ((rc = ini_file_open(&p.f, CONFIG_FILE_MAX, err, errlen)) < 0)
		return rc;
	/* Debian's inih sizes its line buffer at run time; make room for a
	 * path.  The reader still checks what it is given. */
	saved_max = ini_max_line;
	ini_max_line = CONFIG_LINE_MAX;
	rc = ini_file_close(&p.f, ini_parse_stream(ini_file_reader, &p.f,
	    handler, &p));
	ini_max_line = saved_max;
	if (rc < 0)
		return rc;
	return check_config(&p);
}

/* One key's value as config_load() reads it back. */
static void
format_value(const struct agent_config *cfg, const struct key *k, char *buf,
    size_t len)
{
	const char *field = (const char *)cfg + k->off;
	uint64_t v;
	size_t off = 0;
	int n;

	switch (k->type) {
	case K_LOGLEVEL:
		snprintf(buf, len, "%s", log_level_name(load_int(cfg, k->off)));
		return;
	case K_STRING:
	case K_PATH:
		snprintf(buf, len, "%.*s", (int)strnlen(field, k->size), field);
		return;
	case K_SIZE_AUTO:
	case K_SIZE_OR_AUTO:
	case K_DURATION_AUTO:
	case K_NODES:
		v = load_uint(cfg, k->off, k->size);
		if (v == (k->type == K_SIZE_OR_AUTO ? UINT64_MAX : 0))
			snprintf(buf, len, "auto");
		else if (k->type == K_DURATION_AUTO)
			ini_format_duration(v, buf, len);
		else if (k->type == K_NODES)
			format_nodelist(v, buf, len);
		else
			format_size(v, buf, len);
		return;
	case K_SIZE:
	case K_DURATION:
	case K_COUNT:
	case K_PERCENT:
		format_number(k, load_uint(cfg, k->off, k->size), buf, len);
		return;
	case K_BOOL:
		snprintf(buf, len, "%s", load_int(cfg, k->off) ? "yes" : "no");
		return;
	case K_ENUM:
		n = load_int(cfg, k->off);
		snprintf(buf, len, "%s", n >= 0 && (uint64_t)n <= k->max ?
		    k->names[n] : "?");
		return;
	case K_PROCS:
		/* commas only: a blank before a ';' would start a comment */
		buf[0] = '\0';
		n = MIN(load_int(cfg, k->off2), CONFIG_MAX_PROCS);
		for (int j = 0; j < n && off < len; j++) {
			const char *name = field + (size_t)j * CONFIG_COMM_LEN;

			off += (size_t)snprintf(buf + off, len - off, "%s%.*s",
			    j ? "," : "", (int)strnlen(name, CONFIG_COMM_LEN),
			    name);
		}
		return;
	}
	snprintf(buf, len, "?");
}

void
config_print(const struct agent_config *cfg, FILE *out)
{
	const char *section = NULL;
	char val[CONFIG_LINE_MAX];	/* a value can be a whole path */

	fprintf(out, "# vtier-agent effective configuration\n");
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];

		if (section == NULL || strcmp(section, k->section) != 0) {
			section = k->section;
			fprintf(out, "\n[%s]\n", section);
		}
		format_value(cfg, k, val, sizeof(val));
		if (val[0] == '\0')
			fprintf(out, "%s =\n", k->name);
		else
			fprintf(out, "%s = %s\n", k->name, val);
	}
}
