/*
 * ctl.c - the control socket: vtierctl lists the VMs and sets budgets.
 *
 * A Unix socket of mode 0600 (root's vtierctl only), speaking the framed
 * protocol of include/vtier/shimctl.h: explicit lengths, the header
 * checked before the body is read, requests bounded by SHIMCTL_REQ_MAX,
 * one request at a time per client (the next is not read until the
 * reply is written).  A malformed request gets an ERROR and the client
 * is closed; an idle client is closed after CTL_IDLE.  At most
 * CTL_CLIENTS_MAX clients; more are turned away at accept.
 *
 *   LIST          -> DOC, the JSON document of `vtierctl vms --json`
 *   SET_BUDGET    -> OK (the new budget is queued on every session of
 *                    the VM and written before the reply), or ERROR
 *                    -ENOENT for a VM the shim does not know.  For a
 *                    libvirt VM the budget is first written to the
 *                    domain's metadata (virt.c); ERROR if that fails.
 *
 * The document's keys are a stable schema: keys are added, never
 * renamed (README "vtierctl vms --json").
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/shimctl.h"
#include "vtier/unixsock.h"
#include "vtier/util.h"
#include "vtier/version.h"
#include "hostshim.h"

#define CTL_CLIENTS_MAX	16
#define CTL_IDLE_NS	(5ULL * 1000000000ULL)

struct ctl_client {
	struct loop_src src;
	struct ctl *ctl;
	uint8_t in[SHIMCTL_REQ_MAX];
	size_t inlen;
	uint8_t *out;
	size_t outlen, outoff;
	bool closing;			/* close once out is written */
	uint64_t last_ns;
	struct ctl_client *next, *prev, *gnext;
};

struct ctl {
	struct shim *sh;
	struct loop_src src;
	char path[SHIM_SOCK_MAX];
	struct ctl_client *clients, *dead;
	unsigned n;
};

/* ------------------------------------------------------------ the JSON */

struct jbuf {
	char *p;
	size_t len, cap;
	bool err;
	bool first;		/* no member yet in the current object */
};

static void __attribute__((format(printf, 2, 3)))
jput(struct jbuf *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (j->err)
		return;
	for (;;) {
		size_t room = j->cap - j->len;

		va_start(ap, fmt);
		n = vsnprintf(j->p + j->len, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			j->err = true;
			return;
		}
		if ((size_t)n < room) {
			j->len += (size_t)n;
			return;
		}
		if (j->cap * 2 > SHIMCTL_DOC_MAX) {
			j->err = true;
			return;
		}
		char *np = realloc(j->p, j->cap * 2);

		if (np == NULL) {
			j->err = true;
			return;
		}
		j->p = np;
		j->cap *= 2;
	}
}

static void
jkey(struct jbuf *j, const char *k, int depth)
{
	jput(j, "%s\n%*s\"%s\": ", j->first ? "" : ",", depth * 2, "", k);
	j->first = false;
}

static void
jopen(struct jbuf *j, const char *k, int depth, char brace)
{
	if (k != NULL)
		jkey(j, k, depth);
	jput(j, "%c", brace);
	j->first = true;
}

static void
jclose(struct jbuf *j, int depth, char brace)
{
	jput(j, "\n%*s%c", depth * 2, "", brace);
	j->first = false;
}

static void
ju(struct jbuf *j, const char *k, int depth, uint64_t v)
{
	jkey(j, k, depth);
	jput(j, "%llu", (unsigned long long)v);
}

/* A count, or null where it is not known. */
static void
jun(struct jbuf *j, const char *k, int depth, uint64_t v)
{
	jkey(j, k, depth);
	if (v == RESIDENT_UNKNOWN)
		jput(j, "null");
	else
		jput(j, "%llu", (unsigned long long)v);
}

static void
jb(struct jbuf *j, const char *k, int depth, bool v)
{
	jkey(j, k, depth);
	jput(j, "%s", v ? "true" : "false");
}

/* Strings are our names, paths and texts: escape what JSON needs. */
static void
js(struct jbuf *j, const char *k, int depth, const char *v)
{
	jkey(j, k, depth);
	if (v == NULL) {
		jput(j, "null");
		return;
	}
	jput(j, "\"");
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			jput(j, "\\%c", *v);
		else if ((unsigned char)*v < 0x20)
			jput(j, "\\u%04x", (unsigned char)*v);
		else
			jput(j, "%c", *v);
	}
	jput(j, "\"");
}

static void
jends(struct jbuf *j, const uint64_t *ends, int depth)
{
	jopen(j, "ends", depth, '{');
	for (int e = END_EOF; e < END_NMAX; e++)
		ju(j, session_end_name((enum session_end)e), depth + 1, ends[e]);
	jclose(j, depth, '}');
}

static const char *
transport(const struct vm_config *vc)
{
	if (vc->cid != 0 && vc->socket[0] != '\0')
		return vc->serial ? "vsock+serial" : "vsock+unix";
	if (vc->cid != 0)
		return "vsock";
	return vc->serial ? "serial" : "unix";
}

static void
jstats(struct jbuf *j, const struct vm *vm, uint64_t now, int d)
{
	const struct proto_stats *st = &vm->stats;

	if (!vm->have_stats) {
		jkey(j, "stats", d);
		jput(j, "null");
		return;
	}
	jopen(j, "stats", d, '{');
	ju(j, "age_ms", d + 1, (now - vm->stats_ns) / 1000000ULL);
	ju(j, "fast_used_bytes", d + 1, st->fast_used);
	ju(j, "slow_used_bytes", d + 1, st->slow_used);
	ju(j, "budget_bytes", d + 1, st->budget);
	ju(j, "hot_set_bytes", d + 1, st->hot_set_bytes);
	ju(j, "samples", d + 1, st->samples);
	jkey(j, "samples_per_s", d + 1);
	jput(j, "%llu.%03llu",
	    (unsigned long long)(st->samples_per_s_milli / 1000),
	    (unsigned long long)(st->samples_per_s_milli % 1000));
	ju(j, "lost_samples", d + 1, st->lost_samples);
	ju(j, "promoted_pages", d + 1, st->promoted_pages);
	ju(j, "demoted_pages", d + 1, st->demoted_pages);
	ju(j, "promoted_bytes", d + 1, st->promoted_bytes);
	ju(j, "demoted_bytes", d + 1, st->demoted_bytes);
	ju(j, "migration_errors", d + 1, st->migration_errors);
	ju(j, "uptime_ms", d + 1, st->uptime_ms);
	jb(j, "budget_unattainable", d + 1,
	    st->flags & PROTO_STATS_BUDGET_UNATTAINABLE);
	jb(j, "no_pmu", d + 1, st->flags & PROTO_STATS_NO_PMU);
	jclose(j, d, '}');
}

/* The memory behind the guest: hostshim.ini's backing, or libvirt's. */
static void
jbacking(struct jbuf *j, const struct vm *vm, int d)
{
	jkey(j, "backing", d);
	jput(j, "[");
	j->first = true;
	for (int i = 0; i < vm->cfg.nbacking; i++) {
		const struct backing *b = &vm->cfg.backing[i];

		jput(j, "%s\n%*s", i ? "," : "", (d + 1) * 2, "");
		jopen(j, NULL, d + 1, '{');
		js(j, "path", d + 2, b->path);
		ju(j, "offset", d + 2, b->offset);
		ju(j, "gpa", d + 2, b->gpa);
		ju(j, "size", d + 2, b->size);
		jun(j, "host_resident_bytes", d + 2, vm->resident[i]);
		jclose(j, d + 1, '}');
	}
	if (vm->cfg.nbacking > 0)
		jput(j, "\n%*s", d * 2, "");
	jput(j, "]");
	j->first = false;
}

/* What is pinned: "none", or what the agent said the set is. */
static const char *
scope_name(const struct vm *vm)
{
	if (vm->npins == 0)
		return "none";
	switch (vm->pf_scope) {
	case PF_SCOPE_PEBS:
		return "pebs-buffers";
	case PF_SCOPE_FAST_NODE:
		return "fast-node";
	default:
		return "unknown";	/* a plain PREFAULT: an older agent */
	}
}

static void
jvm(struct jbuf *j, const struct vm *vm, uint64_t now)
{
	const struct vm_config *vc = &vm->cfg;
	char ver[32];
	const int d = 2;

	jopen(j, NULL, 0, '{');
	js(j, "name", d, vc->name);
	js(j, "transport", d, transport(vc));
	jkey(j, "cid", d);
	if (vc->cid != 0)
		jput(j, "%u", vc->cid);
	else
		jput(j, "null");
	js(j, "socket", d, vc->socket[0] ? vc->socket : NULL);
	jb(j, "listening", d, vm->listener != NULL);
	jb(j, "connected", d, budget_connected(vm));
	ju(j, "sessions", d, vm->nsessions);
	ju(j, "sessions_up", d, vm->nup);
	snprintf(ver, sizeof(ver), "%u.%u.%u", vm->agent_version >> 16,
	    (vm->agent_version >> 8) & 0xff, vm->agent_version & 0xff);
	js(j, "agent_version", d, vm->connects ? ver : NULL);
	ju(j, "budget_bytes", d, vm->budget);
	js(j, "budget_source", d, vm->budget == 0 ? "none" :
	    vm->from_libvirt ? "libvirt" :
	    vm->budget_from_ctl ? "vtierctl" : "config");
	js(j, "source", d, vm->from_libvirt ? "libvirt" : "ini");
	js(j, "uuid", d, vm->uuid[0] ? vm->uuid : NULL);
	js(j, "error", d, vm->error[0] ? vm->error : NULL);
	jbacking(j, vm, d);
	js(j, "prefault_note", d, vm->prefault_note[0] ? vm->prefault_note :
	    NULL);
	jun(j, "host_resident_bytes", d, vc->nbacking > 0 ?
	    vm->resident_total : RESIDENT_UNKNOWN);
	ju(j, "pinned_bytes", d, vm->pinned);
	ju(j, "prefault_cap_bytes", d, vc->prefault_cap);
	js(j, "prefault", d, vm->job != NULL ? "running" :
	    vm->pf_count == 0 && vm->pf_status == 0 ? "none" :
	    vm->pf_status == 0 ? "done" : "failed");
	js(j, "prefault_error", d, vm->pf_status != 0 ?
	    strerror(-vm->pf_status) : NULL);
	js(j, "prefault_scope", d, scope_name(vm));
	js(j, "prefault_reason", d, vm->npins > 0 &&
	    vm->pf_scope == PF_SCOPE_FAST_NODE ?
	    proto_pf_reason_name(vm->pf_reason) : NULL);
	ju(j, "prefault_ranges", d, vm->npins > 0 ? vm->pf_ranges : 0);
	ju(j, "prefaults", d, vm->pf_count);
	ju(j, "prefaults_refused", d, vm->pf_refused);
	ju(j, "connects", d, vm->connects);
	jstats(j, vm, now, d);
	jends(j, vm->ends, d);
	jclose(j, 1, '}');
}

int
ctl_format_vms(const struct shim *sh, char **doc, size_t *len)
{
	struct jbuf j = { .cap = 4096 };
	uint64_t now = now_ns();

	if ((j.p = malloc(j.cap)) == NULL)
		return -ENOMEM;
	jopen(&j, NULL, 0, '{');
	js(&j, "version", 1, VTIER_VERSION);
	ju(&j, "pid", 1, (uint64_t)getpid());
	ju(&j, "uptime_s", 1, (now - sh->start_ns) / 1000000000ULL);
	js(&j, "control_socket", 1, sh->cfg.control_socket);
	jopen(&j, "vsock", 1, '{');
	jb(&j, "enabled", 2, sh->cfg.listen_vsock);
	jb(&j, "listening", 2, sh->vsock != NULL);
	ju(&j, "port", 2, sh->cfg.vsock_port);
	jclose(&j, 1, '}');
	jopen(&j, "libvirt", 1, '{');
	jb(&j, "enabled", 2, sh->cfg.libvirt);
	js(&j, "uri", 2, sh->cfg.libvirt ? sh->cfg.libvirt_uri : NULL);
	js(&j, "state", 2, virt_state(sh));
	js(&j, "error", 2, virt_last_error(sh));
	jclose(&j, 1, '}');
	ju(&j, "connections", 1, sh->nconns);
	ju(&j, "accepted", 1, sh->count.accepted);
	ju(&j, "unknown_cid", 1, sh->count.unknown_cid);
	ju(&j, "over_limit", 1, sh->count.over_limit);
	jends(&j, sh->count.ends, 1);
	jkey(&j, "vms", 1);
	jput(&j, "[");
	j.first = true;
	for (size_t i = 0; i < sh->vms.n; i++) {
		jput(&j, "%s\n  ", i ? "," : "");
		jvm(&j, sh->vms.v[i], now);
	}
	jput(&j, "%s]", sh->vms.n ? "\n  " : "");
	j.first = false;
	jclose(&j, 0, '}');
	jput(&j, "\n");
	if (j.err) {
		free(j.p);
		return -ENOMEM;
	}
	*doc = j.p;
	*len = j.len;
	return 0;
}

/* ----------------------------------------------------------- the server */

static void
client_close(struct ctl_client *c)
{
	struct ctl *ctl = c->ctl;

	if (c->src.fd < 0)
		return;
	loop_del(&ctl->sh->loop, &c->src);
	close(c->src.fd);
	c->src.fd = -1;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ctl->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	ctl->n--;
	c->gnext = ctl->dead;
	ctl->dead = c;
}

/* Write what the socket takes; read again only when all is out. */
static void
client_flush(struct ctl_client *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->src.fd, c->out + c->outoff,
		    c->outlen - c->outoff, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			client_close(c);
			return;
		}
		c->outoff += (size_t)n;
	}
	if (c->outoff < c->outlen) {
		loop_mod(&c->ctl->sh->loop, &c->src, EPOLLOUT);
		return;
	}
	free(c->out);
	c->out = NULL;
	c->outlen = c->outoff = 0;
	if (c->closing)
		client_close(c);
	else
		loop_mod(&c->ctl->sh->loop, &c->src, EPOLLIN);
}

static void
reply_status(struct ctl_client *c, uint16_t type, int err, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void
reply_status(struct ctl_client *c, uint16_t type, int err, const char *fmt,
    ...)
{
	char text[SHIMCTL_TEXT_MAX + 1];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if ((c->out = malloc(SHIMCTL_HDR_LEN + 4 + SHIMCTL_TEXT_MAX)) == NULL) {
		c->closing = true;
		return;
	}
	n = shimctl_encode_status(type, err, text, c->out,
	    SHIMCTL_HDR_LEN + 4 + SHIMCTL_TEXT_MAX);
	c->outlen = n > 0 ? (size_t)n : 0;
	c->outoff = 0;
}

static void
do_list(struct ctl_client *c)
{
	char *doc;
	size_t len;

	/* the host memory behind each VM, if not read in the last 2 s */
	resident_refresh_all(&c->ctl->sh->vms, now_ns());
	if (ctl_format_vms(c->ctl->sh, &doc, &len) < 0) {
		reply_status(c, SHIMCTL_ERROR, -ENOMEM, "out of memory");
		return;
	}
	if ((c->out = malloc(SHIMCTL_HDR_LEN + len)) == NULL) {
		free(doc);
		reply_status(c, SHIMCTL_ERROR, -ENOMEM, "out of memory");
		return;
	}
	shimctl_put_header(c->out, SHIMCTL_DOC, (uint32_t)len);
	memcpy(c->out + SHIMCTL_HDR_LEN, doc, len);
	c->outlen = SHIMCTL_HDR_LEN + len;
	c->outoff = 0;
	free(doc);
}

static void
do_set_budget(struct ctl_client *c, const struct shimctl_req *r)
{
	struct shim *sh = c->ctl->sh;
	struct vm *vm = budget_find(&sh->vms, r->vm);
	char known[256], b[32];
	size_t off = 0;

	if (vm == NULL) {
		known[0] = '\0';
		for (size_t i = 0; i < sh->vms.n && off < sizeof(known); i++)
			off += (size_t)snprintf(known + off, sizeof(known) - off,
			    "%s%s", i ? ", " : "", sh->vms.v[i]->cfg.name);
		reply_status(c, SHIMCTL_ERROR, -ENOENT, "no VM named '%s' "
		    "(known: %s)", r->vm, sh->vms.n ? known : "none");
		return;
	}
	format_size(r->budget, b, sizeof(b));
	if (vm->from_libvirt) {
		char why[SHIM_NOTE_MAX];
		int rc;

		if ((rc = virt_set_budget(sh, vm, r->budget, why,
		    sizeof(why))) < 0) {
			reply_status(c, SHIMCTL_ERROR, rc, "VM %s: budget not "
			    "set: %s", vm->cfg.name, why);
			return;
		}
		conn_flush_dirty(sh);
		reply_status(c, SHIMCTL_OK, 0, "VM %s: budget %s %s, sent to "
		    "%u connected session%s", vm->cfg.name, b, why, vm->nup,
		    vm->nup == 1 ? "" : "s");
		return;
	}
	budget_set(vm, r->budget, true);
	session_push_budget(vm);
	conn_flush_dirty(sh);		/* on the wire before we answer */
	reply_status(c, SHIMCTL_OK, 0, "VM %s: budget %s, sent to %u "
	    "connected session%s", vm->cfg.name, b, vm->nup,
	    vm->nup == 1 ? "" : "s");
}

static void
on_client(struct loop_src *src, uint32_t events)
{
	struct ctl_client *c = src->arg;
	struct shim *sh = c->ctl->sh;
	struct shimctl_hdr h;
	struct shimctl_req r;
	size_t want;
	ssize_t n;
	int rc;

	c->last_ns = now_ns();
	if (c->out != NULL) {
		client_flush(c);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	/* The header first; then exactly the body it announces (a request
	 * header was checked, so that is at most SHIMCTL_REQ_MAX). */
	want = SHIMCTL_HDR_LEN;
	if (c->inlen >= SHIMCTL_HDR_LEN &&
	    shimctl_decode_header(c->in, c->inlen, &h) == 0 &&
	    SHIMCTL_HDR_LEN + (size_t)h.length <= sizeof(c->in))
		want = SHIMCTL_HDR_LEN + h.length;
	if (want <= c->inlen) {		/* cannot happen: closed below */
		client_close(c);
		return;
	}
	n = recv(src->fd, c->in + c->inlen, want - c->inlen, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		client_close(c);
		return;
	}
	if (n < 0)
		return;
	c->inlen += (size_t)n;
	if (c->inlen < SHIMCTL_HDR_LEN)
		return;
	if ((rc = shimctl_decode_header(c->in, c->inlen, &h)) == 0 &&
	    h.type != SHIMCTL_LIST && h.type != SHIMCTL_SET_BUDGET)
		rc = -ENOMSG;
	if (rc == 0 && c->inlen < SHIMCTL_HDR_LEN + h.length)
		return;		/* the header bounds it by SHIMCTL_REQ_MAX */
	if (rc == 0)
		rc = shimctl_decode_request(c->in, c->inlen, &r);
	c->inlen = 0;
	sh->count.ctl_requests++;
	if (rc < 0) {
		sh->count.ctl_bad++;
		reply_status(c, SHIMCTL_ERROR, rc, "malformed request: %s",
		    strerror(-rc));
		c->closing = true;
	} else if (r.type == SHIMCTL_LIST) {
		do_list(c);
	} else {
		do_set_budget(c, &r);
	}
	client_flush(c);
}

static void
on_accept(struct loop_src *src, uint32_t events)
{
	struct ctl *ctl = src->arg;
	struct ctl_client *c;
	int fd;

	(void)events;
	while ((fd = accept4(src->fd, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (ctl->n >= CTL_CLIENTS_MAX ||
		    (c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->ctl = ctl;
		c->src.fd = fd;
		c->src.fn = on_client;
		c->src.arg = c;
		c->last_ns = now_ns();
		if (loop_add(&ctl->sh->loop, &c->src, EPOLLIN) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = ctl->clients;
		if (ctl->clients != NULL)
			ctl->clients->prev = c;
		ctl->clients = c;
		ctl->n++;
	}
}

int
ctl_open(struct shim *sh)
{
	struct ctl *ctl;
	int fd, rc;

	if ((ctl = calloc(1, sizeof(*ctl))) == NULL)
		return -ENOMEM;
	if ((fd = unix_listen(sh->cfg.control_socket, 0600, 16)) < 0) {
		free(ctl);
		return fd;
	}
	ctl->sh = sh;
	snprintf(ctl->path, sizeof(ctl->path), "%s", sh->cfg.control_socket);
	ctl->src.fd = fd;
	ctl->src.fn = on_accept;
	ctl->src.arg = ctl;
	if ((rc = loop_add(&sh->loop, &ctl->src, EPOLLIN)) < 0) {
		close(fd);
		unlink(ctl->path);
		free(ctl);
		return rc;
	}
	sh->ctl = ctl;
	return 0;
}

static void
reap(struct ctl *ctl)
{
	while (ctl->dead != NULL) {
		struct ctl_client *c = ctl->dead;

		ctl->dead = c->gnext;
		free(c->out);
		free(c);
	}
}

void
ctl_tick(struct shim *sh, uint64_t now)
{
	struct ctl *ctl = sh->ctl;
	struct ctl_client *c, *next;

	if (ctl == NULL)
		return;
	for (c = ctl->clients; c != NULL; c = next) {
		next = c->next;
		if (now - c->last_ns > CTL_IDLE_NS)
			client_close(c);
	}
	reap(ctl);
}

void
ctl_close(struct shim *sh)
{
	struct ctl *ctl = sh->ctl;

	if (ctl == NULL)
		return;
	while (ctl->clients != NULL)
		client_close(ctl->clients);
	reap(ctl);
	loop_del(&sh->loop, &ctl->src);
	close(ctl->src.fd);
	unlink(ctl->path);
	free(ctl);
	sh->ctl = NULL;
}
