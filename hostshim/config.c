/*
 * config.c - hostshim.ini: defaults, the parser (inih underneath), the
 * checks, and the printer that writes the effective config back out.
 *
 * Three kinds of section: one [shim] for the daemon, one [vm NAME] per
 * virtual machine written by hand, and [libvirt] (its presence turns on
 * finding VMs through libvirt, virt.c).  Every key lives in one table (section kind, name,
 * type, field, range); the parser and the printer both walk it.  The
 * caller parses into a fresh struct and swaps it in only on success
 * (STYLE.md 7): config_load() touches nothing but its arguments.
 *
 * Errors read "FILE:LINE: [section] key: what is wrong (expected ...)".
 * The file goes through inih line by line (vtier/inifile.h), which
 * counts the lines and hands each section header to header() at its own
 * line: that is where a [vm NAME] entry is created, so an empty or
 * misspelt section is reported where it is.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "vtier/inifile.h"
#include "vtier/log.h"
#include "vtier/util.h"
#include "hostshim.h"

#define CONFIG_FILE_MAX	(4 * 1024 * 1024)	/* thousands of VMs */
#define CONFIG_LINE_MAX	(PATH_MAX + 128)	/* "backing = " + a path */
#define SHOWN_MAX	INI_SHOWN_MAX

static_assert(SHIM_SOCK_MAX == sizeof(((struct sockaddr_un *)0)->sun_path),
    "socket paths must fit sun_path");
static_assert(sizeof(uid_t) == sizeof(uint32_t) &&
    sizeof(gid_t) == sizeof(uint32_t), "ids are 32 bits");

enum ktype {
	K_LOGLEVEL,	/* error|warn|info|debug, int */
	K_SOCK,		/* a Unix socket path, char[SHIM_SOCK_MAX] */
	K_BOOL,		/* yes/no, int */
	K_SIZE,		/* bytes with K/M/G/T, u64 */
	K_BUDGET,	/* "none" = 0, else a size > 0, u64 */
	K_DURATION,	/* ms, s, m, h -> ms, u64 */
	K_U32,		/* decimal, u32 */
	K_BACKING,	/* PATH:OFFSET@GPA+SIZE, repeatable */
	K_OWNER,	/* USER[:GROUP], char[SHIM_OWNER_MAX] + socket_uid/gid */
	K_MODE,		/* octal permission bits, u32 */
	K_URI,		/* a libvirt URI, char[SHIM_URI_MAX] */
};

enum kind { IN_NONE, IN_SHIM, IN_VM, IN_LIBVIRT };

struct key {
	enum kind in;
	const char *name;
	enum ktype type;
	size_t off;		/* in shim_config (IN_SHIM) or vm_config */
	uint64_t min, max;
	const char *help;	/* what a good value looks like */
};

#define S(f) offsetof(struct shim_config, f)
#define V(f) offsetof(struct vm_config, f)

static const struct key keys[] = {
	{ IN_SHIM, "log_level", K_LOGLEVEL, S(log_level), 0, 0,
	    "one of error, warn, info, debug" },
	{ IN_SHIM, "control_socket", K_SOCK, S(control_socket), 0, 0,
	    "an absolute path of at most 107 characters" },
	{ IN_SHIM, "listen_vsock", K_BOOL, S(listen_vsock), 0, 1,
	    "yes or no" },
	{ IN_SHIM, "vsock_port", K_U32, S(vsock_port), 1, UINT32_MAX - 1,
	    "a port number from 1 to 4294967294" },
	{ IN_SHIM, "handshake_timeout", K_DURATION, S(handshake_ms),
	    100, 600000, "a duration from 100ms to 10m, e.g. 5s" },
	{ IN_SHIM, "idle_timeout", K_DURATION, S(idle_ms), 1000, 3600000,
	    "a duration from 1s to 1h, e.g. 60s" },
	{ IN_SHIM, "output_max", K_SIZE, S(output_max), 2 * PROTO_MAX_FRAME,
	    64 * MiB, "a size from 8K to 64M" },
	{ IN_SHIM, "max_connections", K_U32, S(max_connections), 1, 65536,
	    "a whole number from 1 to 65536" },
	{ IN_SHIM, "max_connections_per_vm", K_U32, S(max_per_vm), 1, 65536,
	    "a whole number from 1 to 65536" },
	/* 1 is VMADDR_CID_LOCAL: a shim and agent in one machine over
	 * vsock_loopback (tests); 2 is the host itself */
	{ IN_VM, "cid", K_U32, V(cid), 1, UINT32_MAX - 1,
	    "a guest CID from 3 to 4294967294, or 1 for vsock loopback" },
	{ IN_VM, "socket", K_SOCK, V(socket), 0, 0,
	    "an absolute path of at most 107 characters" },
	{ IN_VM, "serial", K_BOOL, V(serial), 0, 1, "yes or no" },
	{ IN_VM, "socket_owner", K_OWNER, V(socket_owner), 0, 0,
	    "USER, USER:GROUP or :GROUP, each a name or a number, e.g. "
	    "libvirt-qemu:kvm" },
	/* owner rw at least (the VMM must connect); o+w is refused apart
	 * in set_value: any local user could speak for the VM */
	{ IN_VM, "socket_mode", K_MODE, V(socket_mode), 0600, 0777,
	    "an octal mode from 0600 to 0777 without write for others, e.g. "
	    "0660" },
	{ IN_VM, "budget", K_BUDGET, V(budget), 0, UINT64_MAX,
	    "none, or a size above 0 with an optional K, M, G or T suffix, "
	    "e.g. 4G" },
	{ IN_VM, "prefault_cap", K_SIZE, V(prefault_cap), 0, UINT64_MAX,
	    "a size with an optional K, M, G or T suffix, e.g. 1G; 0 refuses "
	    "every pre-fault" },
	{ IN_VM, "backing", K_BACKING, 0, 0, 0,
	    "PATH:OFFSET@GPA+SIZE, e.g. /dev/shm/vm1-node0:0@0+512M" },
	{ IN_LIBVIRT, "uri", K_URI, S(libvirt_uri), 0, 0,
	    "a libvirt URI of at most 255 printable characters, e.g. "
	    "qemu:///system" },
};

#define NKEYS ARRAY_SIZE(keys)

/* State of one config_load(). */
struct parse {
	struct ini_file f;		/* f.lineno: the line being handled */
	struct shim_config *cfg;
	enum kind in;			/* section of the lines being read */
	struct vm_config *vm;		/* IN_VM: the current VM */
	int shim_line;			/* of [shim], 0 = none yet */
	int shim_keys[NKEYS];		/* where each [shim] key was set */
	int libvirt_line;		/* of [libvirt], 0 = none */
	int libvirt_keys[NKEYS];
	int (*vm_keys)[NKEYS];		/* the same per VM, cfg->nvms rows */
	size_t vm_alloc;
};

void
config_defaults(struct shim_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = LOG_LVL_INFO;
	snprintf(cfg->control_socket, sizeof(cfg->control_socket), "%s",
	    SHIM_CONTROL_DEFAULT);
	cfg->listen_vsock = 1;
	cfg->vsock_port = PROTO_VSOCK_PORT;
	cfg->handshake_ms = 5000;
	cfg->idle_ms = 60000;
	cfg->output_max = 64 * KiB;
	cfg->max_connections = 1024;
	cfg->max_per_vm = 8;
	snprintf(cfg->libvirt_uri, sizeof(cfg->libvirt_uri), "%s",
	    SHIM_LIBVIRT_URI_DEFAULT);
}

static void
vm_defaults(struct vm_config *vc)
{
	memset(vc, 0, sizeof(*vc));
	vc->socket_uid = (uid_t)-1;
	vc->socket_gid = (gid_t)-1;
	vc->socket_mode = SHIM_SOCKET_MODE;
	vc->prefault_cap = 1 * GiB;
}

void
config_free(struct shim_config *cfg)
{
	free(cfg->vms);
	cfg->vms = NULL;
	cfg->nvms = 0;
}

const struct vm_config *
config_find_vm(const struct shim_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nvms; i++)
		if (strcmp(cfg->vms[i].name, name) == 0)
			return &cfg->vms[i];
	return NULL;
}

#define fail(p, line, rc, ...) ini_file_fail(&(p)->f, line, rc, __VA_ARGS__)
#define shown ini_shown

static const char *
section_name(const struct parse *p, char *buf, size_t len)
{
	if (p->in == IN_VM)
		snprintf(buf, len, "vm %s", p->vm->name);
	else if (p->in == IN_LIBVIRT)
		snprintf(buf, len, "libvirt");
	else
		snprintf(buf, len, "shim");
	return buf;
}

static int
fail_value(struct parse *p, const struct key *k, const char *value,
    const char *what)
{
	char cut[SHOWN_MAX + 4], sec[PROTO_NAME_MAX + 8];

	return fail(p, p->f.lineno, -EINVAL, "[%s] %s: %s '%s' (expected %s)",
	    section_name(p, sec, sizeof(sec)), k->name, what,
	    shown(value, cut, sizeof(cut)), k->help);
}

/* A number: 0x-prefixed hexadecimal, or decimal with a size suffix. */
static int
parse_num(const char *s, uint64_t *v)
{
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return parse_hex_u64(s, v);
	return parse_size(s, v);
}

/*
 * "PATH:OFFSET@GPA+SIZE".  Split at the last '@' (a path may hold '@'
 * and ':', the numbers never do), then the last ':' before it, then the
 * '+' after it.  Everything 4 KiB aligned, nothing wraps: the guest
 * side of the range is checked against PROTO_GPA_LIMIT, the file side
 * against the largest off_t.
 */
int
config_parse_backing(const char *s, struct backing *b, char *why,
    size_t whylen)
{
	char buf[CONFIG_LINE_MAX];
	char *at, *colon, *plus;

	memset(b, 0, sizeof(*b));
	if (strlen(s) >= sizeof(buf)) {
		snprintf(why, whylen, "too long");
		return -EINVAL;
	}
	strcpy(buf, s);
	if ((at = strrchr(buf, '@')) == NULL) {
		snprintf(why, whylen, "no '@GPA+SIZE' in");
		return -EINVAL;
	}
	*at = '\0';
	if ((colon = strrchr(buf, ':')) == NULL) {
		snprintf(why, whylen, "no ':OFFSET' after the path in");
		return -EINVAL;
	}
	*colon = '\0';
	if ((plus = strchr(at + 1, '+')) == NULL) {
		snprintf(why, whylen, "no '+SIZE' after the GPA in");
		return -EINVAL;
	}
	*plus = '\0';
	if (buf[0] != '/') {
		snprintf(why, whylen, "not an absolute path in");
		return -EINVAL;
	}
	for (const char *c = buf; *c; c++)
		if (iscntrl((unsigned char)*c)) {
			snprintf(why, whylen, "control character in");
			return -EINVAL;
		}
	if (strlen(buf) >= sizeof(b->path)) {
		snprintf(why, whylen, "path too long in");
		return -EINVAL;
	}
	if (parse_num(colon + 1, &b->offset) < 0 ||
	    parse_num(at + 1, &b->gpa) < 0 || parse_num(plus + 1, &b->size) < 0) {
		snprintf(why, whylen, "bad number in");
		return -EINVAL;
	}
	if (b->size == 0) {
		snprintf(why, whylen, "zero size in");
		return -EINVAL;
	}
	if (b->offset % PROTO_PAGE_SIZE || b->gpa % PROTO_PAGE_SIZE ||
	    b->size % PROTO_PAGE_SIZE) {
		snprintf(why, whylen, "offset, GPA or size not a multiple of "
		    "4K in");
		return -EINVAL;
	}
	if (b->size > PROTO_GPA_LIMIT || b->gpa > PROTO_GPA_LIMIT - b->size) {
		snprintf(why, whylen, "GPA range past 2^52 in");
		return -EINVAL;
	}
	if (b->offset > (uint64_t)INT64_MAX - b->size) {
		snprintf(why, whylen, "file range past the largest offset in");
		return -EINVAL;
	}
	strcpy(b->path, buf);
	return 0;
}

/*
 * One side of socket_owner: digits are the id itself (an id need not
 * have a name), anything else a name looked up through NSS at load, so
 * a user re-created with another id is seen at the next reload.
 * -ENOENT: no such name; -ERANGE: an id past 4294967294 ((uid_t)-1
 * means "leave" to chown).
 */
static int
lookup_id(const char *name, bool group, uint32_t *id)
{
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	char *buf = NULL, *nb;
	uint64_t v;
	int rc = ERANGE;

	if (name[strspn(name, "0123456789")] == '\0') {
		if (parse_u64(name, &v) < 0 || v > UINT32_MAX - 1)
			return -ERANGE;
		*id = (uint32_t)v;
		return 0;
	}
	/* a group with many members needs a large buffer */
	for (size_t len = 4096; rc == ERANGE && len <= 1 * MiB; len *= 4) {
		if ((nb = realloc(buf, len)) == NULL) {
			rc = ENOMEM;
			break;
		}
		buf = nb;
		rc = group ? getgrnam_r(name, &gr, buf, len, &grp) :
		    getpwnam_r(name, &pw, buf, len, &pwp);
	}
	free(buf);
	if (rc == ENOENT || rc == ESRCH || (rc == 0 &&
	    (group ? grp == NULL : pwp == NULL)))
		return -ENOENT;
	if (rc != 0)
		return -rc;
	*id = group ? gr.gr_gid : pw.pw_uid;
	return 0;
}

/*
 * socket_owner = USER, USER:GROUP or :GROUP, as chown(1) has them
 * (without its "USER:" for the user's login group).  A user name never
 * holds ':'.  Resolved here: an unknown name is an error at load, not
 * a socket that fails to open later.
 */
static int
set_owner(struct parse *p, const struct key *k, const char *value)
{
	char buf[SHIM_OWNER_MAX], what[96], *group = NULL, *colon;
	const char *bad = NULL;
	uint32_t uid = (uint32_t)-1, gid = (uint32_t)-1;
	int rc;

	if (strlen(value) >= sizeof(buf))
		return fail_value(p, k, value, "too long:");
	strcpy(buf, value);
	if ((colon = strchr(buf, ':')) != NULL) {
		*colon = '\0';
		group = colon + 1;
	}
	if (group != NULL && *group == '\0')
		return fail_value(p, k, value, "no group after ':' in");
	if (buf[0] == '\0' && group == NULL)
		return fail_value(p, k, value, "no user or group in");
	if (buf[0] != '\0' && (rc = lookup_id(buf, false, &uid)) < 0)
		bad = buf;
	else if (group != NULL && (rc = lookup_id(group, true, &gid)) < 0)
		bad = group;
	if (bad != NULL) {
		const char *kind = bad == buf ? "user" : "group";

		if (rc == -ENOENT)
			snprintf(what, sizeof(what), "no such %s", kind);
		else if (rc == -ERANGE)
			snprintf(what, sizeof(what), "%s id out of range:",
			    kind);
		else
			snprintf(what, sizeof(what), "%s looking up %s",
			    strerror(-rc), kind);
		return fail_value(p, k, bad, what);
	}
	p->vm->socket_uid = uid;
	p->vm->socket_gid = gid;
	memcpy(p->vm->socket_owner, value, strlen(value) + 1);
	return 0;
}

/* Field access through the table: the section kind picks the struct. */
static void *
field(struct parse *p, const struct key *k)
{
	return k->in == IN_VM ? (char *)p->vm + k->off :
	    (char *)p->cfg + k->off;
}

/* The numeric types: sizes, durations (to ms), plain numbers. */
static int
parse_number(enum ktype t, const char *value, uint64_t *v, const char **bad)
{
	switch (t) {
	case K_SIZE:
	case K_BUDGET:
		*bad = "bad size";
		return parse_size(value, v);
	case K_DURATION:
		*bad = "bad duration";
		return parse_duration_ms(value, v);
	default:
		*bad = "bad number";
		return parse_u64(value, v);
	}
}

static int
set_value(struct parse *p, const struct key *k, const char *value)
{
	char why[128], sec[PROTO_NAME_MAX + 8];
	const char *bad;
	void *f = field(p, k);
	uint64_t v = 0;
	int rc, b;

	switch (k->type) {
	case K_LOGLEVEL:
		if ((b = log_level_parse(value)) < 0)
			return fail_value(p, k, value, "bad log level");
		memcpy(f, &b, sizeof(b));
		return 0;
	case K_SOCK:
		if (value[0] != '/')
			return fail_value(p, k, value, "not an absolute path:");
		for (const char *c = value; *c; c++)
			if (iscntrl((unsigned char)*c))
				return fail_value(p, k, value,
				    "control character in");
		if (strlen(value) >= SHIM_SOCK_MAX)
			return fail(p, p->f.lineno, -EINVAL, "[%s] %s: %zu "
			    "characters long (expected at most %d, the limit "
			    "of a Unix socket path)",
			    section_name(p, sec, sizeof(sec)), k->name,
			    strlen(value), SHIM_SOCK_MAX - 1);
		memcpy(f, value, strlen(value) + 1);
		return 0;
	case K_BOOL:
		if (parse_bool(value, &b) < 0)
			return fail_value(p, k, value, "bad boolean");
		memcpy(f, &b, sizeof(b));
		return 0;
	case K_BUDGET:
		if (strcmp(value, "none") == 0) {
			p->vm->budget_line = p->f.lineno;
			break;		/* 0: not set */
		}
		/* FALLTHROUGH */
	case K_SIZE:
	case K_DURATION:
	case K_U32:
		if ((rc = parse_number(k->type, value, &v, &bad)) < 0)
			return fail_value(p, k, value, rc == -ERANGE ?
			    "too large:" : bad);
		if (k->type == K_BUDGET) {
			if (v == 0)
				return fail_value(p, k, value, "zero budget");
			p->vm->budget_line = p->f.lineno;
		}
		break;
	case K_BACKING:
		if (p->vm->nbacking == SHIM_MAX_BACKING)
			return fail(p, p->f.lineno, -EINVAL, "[%s] backing: more "
			    "than %d ranges (expected at most %d per VM)",
			    section_name(p, sec, sizeof(sec)),
			    SHIM_MAX_BACKING, SHIM_MAX_BACKING);
		if (config_parse_backing(value,
		    &p->vm->backing[p->vm->nbacking], why, sizeof(why)) < 0)
			return fail_value(p, k, value, why);
		p->vm->backing[p->vm->nbacking++].line = p->f.lineno;
		return 0;
	case K_OWNER:
		return set_owner(p, k, value);
	case K_URI:
		if (value[0] == '\0' || strlen(value) >= SHIM_URI_MAX)
			return fail_value(p, k, value, "empty or too long:");
		for (const char *c = value; *c; c++)
			if (!isgraph((unsigned char)*c))
				return fail_value(p, k, value,
				    "blank or control character in");
		memcpy(f, value, strlen(value) + 1);
		return 0;
	case K_MODE:
		/* octal digits only, as chmod(1) takes them: 660 or 0660 */
		if (value[0] == '\0' || strlen(value) > 4 ||
		    value[strspn(value, "01234567")] != '\0')
			return fail_value(p, k, value, "bad mode");
		v = strtoul(value, NULL, 8);
		if (v >= k->min && v <= k->max && (v & S_IWOTH)) {
			char cut[SHOWN_MAX + 4];

			return fail(p, p->f.lineno, -EINVAL, "[%s] %s: '%s' lets "
			    "any local user connect and speak for the VM "
			    "(expected %s)", section_name(p, sec, sizeof(sec)),
			    k->name, shown(value, cut, sizeof(cut)), k->help);
		}
		break;
	}
	if (v < k->min || v > k->max) {
		char cut[SHOWN_MAX + 4];

		return fail(p, p->f.lineno, -EINVAL, "[%s] %s: '%s' is out of "
		    "range (expected %s)", section_name(p, sec, sizeof(sec)),
		    k->name, shown(value, cut, sizeof(cut)), k->help);
	}
	if (k->type == K_U32 || k->type == K_MODE) {
		uint32_t v32 = (uint32_t)v;

		memcpy(f, &v32, sizeof(v32));
	} else {
		memcpy(f, &v, sizeof(v));
	}
	return 0;
}

/* inih calls this for every "key = value"; nonzero means accepted. */
static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	char cut[SHOWN_MAX + 4], sec[PROTO_NAME_MAX + 8], expect[256];
	int *lines;
	size_t off = 0;

	(void)section;	/* header() has set p->in and p->vm */
	if (p->f.err_rc != 0)
		return 0;
	if (p->in == IN_NONE) {
		fail(p, p->f.lineno, -EINVAL, "%s: key outside any section "
		    "(expected a [shim], [vm NAME] or [libvirt] line before "
		    "it)",
		    shown(name, cut, sizeof(cut)));
		return 0;
	}
	lines = p->in == IN_SHIM ? p->shim_keys : p->in == IN_LIBVIRT ?
	    p->libvirt_keys : p->vm_keys[p->vm - p->cfg->vms];
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];

		if (k->in != p->in || strcmp(k->name, name) != 0)
			continue;
		if (lines[i] != 0 && k->type != K_BACKING) {
			fail(p, p->f.lineno, -EINVAL, "[%s] %s: duplicate key "
			    "(expected once; first set on line %d)",
			    section_name(p, sec, sizeof(sec)), name, lines[i]);
			return 0;
		}
		lines[i] = p->f.lineno;
		return set_value(p, k, value) == 0;
	}
	for (size_t i = 0; i < NKEYS && off < sizeof(expect); i++)
		if (keys[i].in == p->in)
			off += (size_t)snprintf(expect + off,
			    sizeof(expect) - off, "%s%s", off ? ", " : "",
			    keys[i].name);
	fail(p, p->f.lineno, -EINVAL, "[%s] %s: unknown key (expected one of "
	    "%s)", section_name(p, sec, sizeof(sec)),
	    shown(name, cut, sizeof(cut)), expect);
	return 0;
}

/* VM names go into WELCOME, logs, JSON and socket names: keep them tame. */
static bool
name_ok(const char *s, size_t n)
{
	if (n < 1 || n > PROTO_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

static int
new_vm(struct parse *p, const char *name, size_t n)
{
	struct shim_config *cfg = p->cfg;
	char cut[SHOWN_MAX + 4], nm[PROTO_NAME_MAX + 1];

	if (!name_ok(name, n)) {
		char raw[CONFIG_LINE_MAX];

		snprintf(raw, sizeof(raw), "%.*s", (int)n, name);
		return fail(p, p->f.lineno, -EINVAL, "[vm %s]: bad VM name "
		    "(expected 1 to %d letters, digits, '.', '-' or '_')",
		    shown(raw, cut, sizeof(cut)), PROTO_NAME_MAX);
	}
	memcpy(nm, name, n);
	nm[n] = '\0';
	for (size_t i = 0; i < cfg->nvms; i++)
		if (strcmp(cfg->vms[i].name, nm) == 0)
			return fail(p, p->f.lineno, -EINVAL, "[vm %s]: duplicate "
			    "section (expected each VM once; first on line %d)",
			    nm, cfg->vms[i].line);
	if (cfg->nvms == SHIM_MAX_VMS)
		return fail(p, p->f.lineno, -EINVAL, "[vm %s]: more than %d VMs",
		    nm, SHIM_MAX_VMS);
	if (cfg->nvms == p->vm_alloc) {
		size_t na = p->vm_alloc ? p->vm_alloc * 2 : 16;
		struct vm_config *v = realloc(cfg->vms, na * sizeof(*v));
		int (*kl)[NKEYS];

		if (v == NULL)
			return fail(p, p->f.lineno, -ENOMEM, "out of memory");
		cfg->vms = v;
		kl = realloc(p->vm_keys, na * sizeof(*kl));
		if (kl == NULL)
			return fail(p, p->f.lineno, -ENOMEM, "out of memory");
		p->vm_keys = kl;
		p->vm_alloc = na;
	}
	p->vm = &cfg->vms[cfg->nvms];
	vm_defaults(p->vm);
	memcpy(p->vm->name, nm, n + 1);
	p->vm->line = p->f.lineno;
	memset(p->vm_keys[cfg->nvms], 0, sizeof(p->vm_keys[0]));
	cfg->nvms++;
	p->in = IN_VM;
	return 0;
}

/*
 * A section header, at its own line: "[shim]" or "[vm NAME]" (blanks
 * allowed inside the brackets); name is NULL when the line has no ']'.
 */
static void
header(void *arg, const char *name, size_t len)
{
	struct parse *p = arg;
	const char *s = name, *e = name + len;
	char cut[SHOWN_MAX + 4], raw[CONFIG_LINE_MAX];

	p->in = IN_NONE;	/* until this header proves good */
	if (name == NULL)
		return;		/* inih reports the syntax error */
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (e - s == 4 && memcmp(s, "shim", 4) == 0) {
		if (p->shim_line != 0) {
			fail(p, p->f.lineno, -EINVAL, "[shim]: duplicate "
			    "section (expected once; first on line %d)",
			    p->shim_line);
			return;
		}
		p->shim_line = p->f.lineno;
		p->in = IN_SHIM;
		return;
	}
	if (e - s == 7 && memcmp(s, "libvirt", 7) == 0) {
		if (p->libvirt_line != 0) {
			fail(p, p->f.lineno, -EINVAL, "[libvirt]: duplicate "
			    "section (expected once; first on line %d)",
			    p->libvirt_line);
			return;
		}
		p->libvirt_line = p->f.lineno;
		p->cfg->libvirt = 1;
		p->in = IN_LIBVIRT;
		return;
	}
	if (e - s >= 2 && memcmp(s, "vm", 2) == 0 &&
	    (e - s == 2 || s[2] == ' ' || s[2] == '\t')) {
		s += 2;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		if (s == e) {
			fail(p, p->f.lineno, -EINVAL, "[vm]: no VM name "
			    "(expected [vm NAME])");
			return;
		}
		new_vm(p, s, (size_t)(e - s));
		return;
	}
	snprintf(raw, sizeof(raw), "%.*s", (int)len, name);
	fail(p, p->f.lineno, -EINVAL, "[%s]: unknown section (expected [shim], "
	    "[vm NAME] or [libvirt])", shown(raw, cut, sizeof(cut)));
}

static size_t
key_index(enum kind in, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].in == in && strcmp(keys[i].name, name) == 0)
			return i;
	assert(0 && "no such key");
	return 0;
}

/* Where a VM key was set, 0 if it was not. */
static int
vm_key_line(const struct parse *p, size_t vi, const char *key)
{
	return p->vm_keys != NULL ? p->vm_keys[vi][key_index(IN_VM, key)] : 0;
}

/* Where a VM key was set, else its section header. */
static int
vm_line(const struct parse *p, size_t vi, const char *key)
{
	int l = vm_key_line(p, vi, key);

	return l != 0 ? l : p->cfg->vms[vi].line;
}

static int
cmp_backing(const void *a, const void *b)
{
	const struct backing *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/*
 * The rules between keys, once the whole file is in.  A rule broken by
 * two lines is reported at the later one (the line that broke it).
 */
static int
check_config(struct parse *p)
{
	static const char *const socket_keys[] = { "socket_owner",
	    "socket_mode" };
	struct shim_config *cfg = p->cfg;
	char a[32], b[32];

	if (cfg->max_per_vm > cfg->max_connections)
		return fail(p, MAX(p->shim_keys[key_index(IN_SHIM,
		    "max_connections_per_vm")], p->shim_keys[key_index(IN_SHIM,
		    "max_connections")]), -EINVAL, "[shim] "
		    "max_connections_per_vm: %u is above max_connections %u "
		    "(expected at most max_connections)", cfg->max_per_vm,
		    cfg->max_connections);
	for (size_t i = 0; i < cfg->nvms; i++) {
		struct vm_config *vc = &cfg->vms[i];

		if (vc->cid == 0 && vc->socket[0] == '\0')
			return fail(p, vc->line, -EINVAL, "[vm %s]: no way to "
			    "reach it (expected cid = the guest's vsock CID, "
			    "socket = PATH, or both)", vc->name);
		if (vc->serial && vc->socket[0] == '\0')
			return fail(p, vm_line(p, i, "serial"), -EINVAL,
			    "[vm %s] serial: yes without a socket (expected "
			    "socket = PATH the virtio-serial chardev connects "
			    "to)", vc->name);
		for (size_t k = 0; k < ARRAY_SIZE(socket_keys); k++) {
			int l = vm_key_line(p, i, socket_keys[k]);

			if (l != 0 && vc->socket[0] == '\0')
				return fail(p, l, -EINVAL, "[vm %s] %s: set "
				    "without a socket (expected socket = PATH "
				    "for it to apply to)", vc->name,
				    socket_keys[k]);
		}
		if (vc->cid == 2)
			return fail(p, vm_line(p, i, "cid"), -EINVAL, "[vm %s] "
			    "cid: 2 is out of range: it is the host (expected a "
			    "guest CID from 3 to 4294967294, or 1 for vsock "
			    "loopback)", vc->name);
		if (vc->cid != 0 && !cfg->listen_vsock)
			return fail(p, vm_line(p, i, "cid"), -EINVAL, "[vm %s] "
			    "cid: set, but [shim] listen_vsock = no (expected "
			    "listen_vsock = yes, or socket = PATH instead)",
			    vc->name);
		if (vc->socket[0] != '\0' &&
		    strcmp(vc->socket, cfg->control_socket) == 0)
			return fail(p, vm_line(p, i, "socket"), -EINVAL,
			    "[vm %s] socket: same path as [shim] "
			    "control_socket (expected a path of its own)",
			    vc->name);
		for (size_t j = 0; j < i; j++) {
			const struct vm_config *o = &cfg->vms[j];

			if (vc->cid != 0 && vc->cid == o->cid)
				return fail(p, vm_line(p, i, "cid"), -EINVAL,
				    "[vm %s] cid: %u is also VM %s's (expected "
				    "one CID per VM)", vc->name, vc->cid,
				    o->name);
			if (vc->socket[0] != '\0' &&
			    strcmp(vc->socket, o->socket) == 0)
				return fail(p, vm_line(p, i, "socket"), -EINVAL,
				    "[vm %s] socket: also VM %s's (expected a "
				    "socket per VM)", vc->name, o->name);
		}
		/* Sorted by GPA: translation walks them in order.  Sorting
		 * is stable enough here: equal GPAs are an overlap anyway. */
		qsort(vc->backing, (size_t)vc->nbacking, sizeof(vc->backing[0]),
		    cmp_backing);
		for (int j = 1; j < vc->nbacking; j++) {
			const struct backing *x = &vc->backing[j - 1];
			const struct backing *y = &vc->backing[j];

			if (y->gpa < x->gpa + x->size) {
				format_size(x->gpa, a, sizeof(a));
				format_size(y->gpa, b, sizeof(b));
				return fail(p, MAX(x->line, y->line), -EINVAL,
				    "[vm %s] backing: the range at GPA %s "
				    "overlaps the one at GPA %s (expected "
				    "disjoint guest ranges)", vc->name, b, a);
			}
		}
	}
	return 0;
}

/*
 * Parse into cfg, then check the rules between keys.  A failed load
 * leaves cfg for config_free() and nothing else touched.
 */
int
config_load(const char *path, struct shim_config *cfg, char *err,
    size_t errlen)
{
	struct parse p;
	int rc, saved_max;

	memset(&p, 0, sizeof(p));
	p.f.path = path;
	p.f.header = header;
	p.f.arg = &p;
	p.f.syntax_hint = "[shim], [vm NAME], [libvirt], key = value, or a "
	    "comment starting with # or ;";
	p.cfg = cfg;
	config_defaults(cfg);
	if ((rc = ini_file_open(&p.f, CONFIG_FILE_MAX, err, errlen)) < 0)
		return rc;
	saved_max = ini_max_line;
	ini_max_line = CONFIG_LINE_MAX;
	rc = ini_file_close(&p.f, ini_parse_stream(ini_file_reader, &p.f,
	    handler, &p));
	ini_max_line = saved_max;
	if (rc == 0)
		rc = check_config(&p);
	free(p.vm_keys);
	return rc;
}

/* Numbers in backing lines: sizes where they are round, else hex. */
static void
format_num(uint64_t v, char *buf, size_t len)
{
	if (v == 0 || v % MiB == 0)
		format_size(v, buf, len);
	else
		snprintf(buf, len, "0x%llx", (unsigned long long)v);
}

static void
print_key(const struct key *k, const void *base, FILE *out)
{
	const char *f = (const char *)base + k->off;
	char buf[64];
	uint64_t v;
	uint32_t v32;
	int n;

	switch (k->type) {
	case K_LOGLEVEL:
		memcpy(&n, f, sizeof(n));
		fprintf(out, "%s = %s\n", k->name, log_level_name(n));
		return;
	case K_SOCK:
	case K_OWNER:
	case K_URI:
		if (*f != '\0')
			fprintf(out, "%s = %s\n", k->name, f);
		return;
	case K_MODE:	/* only where it applies: with a socket */
		memcpy(&v32, f, sizeof(v32));
		if (((const struct vm_config *)base)->socket[0] != '\0')
			fprintf(out, "%s = %04o\n", k->name, v32);
		return;
	case K_BOOL:
		memcpy(&n, f, sizeof(n));
		fprintf(out, "%s = %s\n", k->name, n ? "yes" : "no");
		return;
	case K_BUDGET:
		memcpy(&v, f, sizeof(v));
		if (v == 0)
			fprintf(out, "%s = none\n", k->name);
		else {
			format_size(v, buf, sizeof(buf));
			fprintf(out, "%s = %s\n", k->name, buf);
		}
		return;
	case K_SIZE:
		memcpy(&v, f, sizeof(v));
		format_size(v, buf, sizeof(buf));
		fprintf(out, "%s = %s\n", k->name, buf);
		return;
	case K_DURATION:
		memcpy(&v, f, sizeof(v));
		ini_format_duration(v, buf, sizeof(buf));
		fprintf(out, "%s = %s\n", k->name, buf);
		return;
	case K_U32:
		memcpy(&v32, f, sizeof(v32));
		if (v32 != 0 || k->in == IN_SHIM)
			fprintf(out, "%s = %u\n", k->name, v32);
		return;
	case K_BACKING: {
		const struct vm_config *vc = base;
		char o[32], g[32], s[32];

		for (int i = 0; i < vc->nbacking; i++) {
			format_num(vc->backing[i].offset, o, sizeof(o));
			format_num(vc->backing[i].gpa, g, sizeof(g));
			format_num(vc->backing[i].size, s, sizeof(s));
			fprintf(out, "backing = %s:%s@%s+%s\n",
			    vc->backing[i].path, o, g, s);
		}
		return;
	}
	}
}

void
config_print(const struct shim_config *cfg, FILE *out)
{
	fprintf(out, "# vtier-hostshim effective configuration\n\n[shim]\n");
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].in == IN_SHIM)
			print_key(&keys[i], cfg, out);
	if (cfg->libvirt) {
		fprintf(out, "\n[libvirt]\n");
		for (size_t i = 0; i < NKEYS; i++)
			if (keys[i].in == IN_LIBVIRT)
				print_key(&keys[i], cfg, out);
	}
	for (size_t v = 0; v < cfg->nvms; v++) {
		fprintf(out, "\n[vm %s]\n", cfg->vms[v].name);
		for (size_t i = 0; i < NKEYS; i++)
			if (keys[i].in == IN_VM)
				print_key(&keys[i], &cfg->vms[v], out);
	}
}
