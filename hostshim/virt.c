/*
 * virt.c - [libvirt]: the shim finds its VMs through libvirt.  It owns
 * the connection to libvirt (its URI, reconnecting with backoff), the
 * glue that runs libvirt's events on the shim's one epoll loop, and the
 * VMs made from running domains (vm->from_libvirt).  It never parses
 * XML itself (virt_xml.c does, pure) and never speaks the agent
 * protocol (session.c, through budget.c and listen.c).
 *
 * A running domain is a VM when its XML has the vtier channel (a
 * <channel type='unix'> whose <target type='virtio' name='org.vtier.0'/>)
 * or a <vsock> CID, unless vtier's metadata says <vtier:managed>no.
 * From the domain: its name and UUID; the transport (the channel's
 * socket: in bind mode QEMU listens and the shim connects, in connect
 * mode the shim listens and QEMU connects; the vsock CID); the budget
 * and prefault_cap from vtier's metadata element, read at start and on
 * every metadata-change event; and the memory behind the guest, from
 * QEMU's own flat view (`info mtree -f` through libvirt's monitor
 * passthrough) and each backend's mem-path and share properties
 * (qom-get), so pre-fault needs nothing written by hand.  Where that
 * cannot be exact (anonymous or memfd memory, share=off, a hugetlbfs
 * directory whose file QEMU unlinked) the VM gets no backing and its
 * prefault_note says why; PREFAULT is then refused.  QEMU's answer is
 * taken only for a regular file owned by QEMU's user (the domain's DAC
 * label), so a QEMU that lies cannot point the shim at another file.
 *
 * Events: lifecycle (started, stopped, migrated, defined, undefined...)
 * and metadata change only name a domain (its UUID) in a pending list;
 * virt_dispatch() then looks the domain up and makes the VM table match
 * it (added, changed, or dropped: BYE, connections closed, pins
 * released).  Nothing is done inside libvirt's callbacks.  When the
 * connection closes (libvirtd restarted) the VMs stay as they are, and
 * the shim reconnects after 1, 2, 4 ... 30 s; once back, every running
 * domain is looked at again and VMs of domains gone meanwhile dropped.
 *
 * A name, CID or socket a hostshim.ini [vm] also has: the file wins, the
 * domain is not served, and the [vm] carries the error (vms shows it).
 *
 * libvirt's event loop is process-wide (virEventRegisterImpl can be
 * called once): its handles and timers live in the file-scope `ev`, on
 * the loop virt_open() was given.  libvirt calls no thread of ours.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include <libvirt/libvirt.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "hostshim.h"
#include "virt_xml.h"

#define BACKOFF_MIN_MS	1000
#define BACKOFF_MAX_MS	30000
#define CHANNEL_RETRY_NS (1000ULL * 1000000ULL)	/* reconnect a channel */
#define KEEPALIVE_S	5
#define KEEPALIVE_COUNT	3
#define MAX_RAM		(2 * SHIM_MAX_BACKING)

enum virt_conn { VIRT_DOWN, VIRT_UP };

struct virt {
	struct shim *sh;
	char uri[SHIM_URI_MAX];
	virConnectPtr conn;
	enum virt_conn st;
	int cb_life, cb_meta;		/* event callback ids, -1: none */
	bool lost;			/* the close callback fired */
	bool resync;			/* look at every running domain */
	uint64_t retry_ns;		/* next connection attempt */
	unsigned backoff_ms;
	uint64_t connects;		/* connections made */
	char (*pend)[VIRT_UUID_LEN + 1];	/* domains events named */
	size_t npend, cappend;
	char error[SHIM_NOTE_MAX];	/* why the last attempt failed */
};

/* ---------------------------------------------- libvirt's event loop */

struct vhandle {
	struct loop_src src;		/* src.fd = libvirt's fd, -1: removed */
	int watch, fd;
	virEventHandleCallback cb;
	void *opaque;
	virFreeCallback ff;
	struct vhandle *next;
};

struct vtimer {
	int id;
	int ms;				/* -1 off, 0 every turn, else period */
	uint64_t due;
	bool gone;
	virEventTimeoutCallback cb;
	void *opaque;
	virFreeCallback ff;
	struct vtimer *next;
};

static struct {
	struct loop *loop;
	struct vhandle *handles;
	struct vtimer *timers;
	int next_id;
	bool registered;
} ev;

static uint32_t
to_epoll(int vev)
{
	return (vev & VIR_EVENT_HANDLE_READABLE ? EPOLLIN : 0) |
	    (vev & VIR_EVENT_HANDLE_WRITABLE ? EPOLLOUT : 0);
}

static void
on_handle(struct loop_src *src, uint32_t events)
{
	struct vhandle *h = src->arg;
	int vev = (events & EPOLLIN ? VIR_EVENT_HANDLE_READABLE : 0) |
	    (events & EPOLLOUT ? VIR_EVENT_HANDLE_WRITABLE : 0) |
	    (events & EPOLLERR ? VIR_EVENT_HANDLE_ERROR : 0) |
	    (events & EPOLLHUP ? VIR_EVENT_HANDLE_HANGUP : 0);

	h->cb(h->watch, h->fd, vev, h->opaque);
}

static int
ev_add_handle(int fd, int vev, virEventHandleCallback cb, void *opaque,
    virFreeCallback ff)
{
	struct vhandle *h;

	if (ev.loop == NULL || (h = calloc(1, sizeof(*h))) == NULL)
		return -1;
	h->watch = ++ev.next_id;
	h->fd = fd;
	h->cb = cb;
	h->opaque = opaque;
	h->ff = ff;
	h->src.fd = fd;
	h->src.fn = on_handle;
	h->src.arg = h;
	if (loop_add(ev.loop, &h->src, to_epoll(vev)) < 0) {
		free(h);
		return -1;
	}
	h->next = ev.handles;
	ev.handles = h;
	return h->watch;
}

static struct vhandle *
find_handle(int watch)
{
	for (struct vhandle *h = ev.handles; h != NULL; h = h->next)
		if (h->watch == watch && h->src.fd >= 0)
			return h;
	return NULL;
}

static void
ev_update_handle(int watch, int vev)
{
	struct vhandle *h = find_handle(watch);

	if (h != NULL)
		loop_mod(ev.loop, &h->src, to_epoll(vev));
}

/* Freed (and ff called) at the next reap, never inside libvirt's call. */
static int
ev_remove_handle(int watch)
{
	struct vhandle *h = find_handle(watch);

	if (h == NULL)
		return -1;
	loop_del(ev.loop, &h->src);
	h->src.fd = -1;
	return 0;
}

static int
ev_add_timeout(int ms, virEventTimeoutCallback cb, void *opaque,
    virFreeCallback ff)
{
	struct vtimer *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -1;
	t->id = ++ev.next_id;
	t->ms = ms;
	t->due = now_ns() + (ms > 0 ? (uint64_t)ms * 1000000ULL : 0);
	t->cb = cb;
	t->opaque = opaque;
	t->ff = ff;
	t->next = ev.timers;
	ev.timers = t;
	return t->id;
}

static struct vtimer *
find_timer(int id)
{
	for (struct vtimer *t = ev.timers; t != NULL; t = t->next)
		if (t->id == id && !t->gone)
			return t;
	return NULL;
}

static void
ev_update_timeout(int id, int ms)
{
	struct vtimer *t = find_timer(id);

	if (t == NULL)
		return;
	t->ms = ms;
	t->due = now_ns() + (ms > 0 ? (uint64_t)ms * 1000000ULL : 0);
}

static int
ev_remove_timeout(int id)
{
	struct vtimer *t = find_timer(id);

	if (t == NULL)
		return -1;
	t->gone = true;
	return 0;
}

/* Free removed handles and timers, calling their free callbacks. */
static void
ev_reap(void)
{
	struct vhandle **hp = &ev.handles;
	struct vtimer **tp = &ev.timers;

	while (*hp != NULL) {
		struct vhandle *h = *hp;

		if (h->src.fd >= 0) {
			hp = &h->next;
			continue;
		}
		*hp = h->next;
		if (h->ff != NULL)
			h->ff(h->opaque);
		free(h);
	}
	while (*tp != NULL) {
		struct vtimer *t = *tp;

		if (!t->gone) {
			tp = &t->next;
			continue;
		}
		*tp = t->next;
		if (t->ff != NULL)
			t->ff(t->opaque);
		free(t);
	}
}

/* Due timers; a callback may add or remove timers as it runs. */
static void
ev_run_timers(uint64_t now)
{
	int last = ev.next_id;

	for (struct vtimer *t = ev.timers; t != NULL; t = t->next) {
		if (t->gone || t->ms < 0 || t->id > last || t->due > now)
			continue;
		t->due = now + (uint64_t)t->ms * 1000000ULL;
		t->cb(t->id, t->opaque);
	}
}

static void
quiet_errors(void *opaque, virErrorPtr err)
{
	(void)opaque;
	log_debug("libvirt: %s", err != NULL && err->message != NULL ?
	    err->message : "error");
}

/* libvirt's last error as text (for logs, notes, replies). */
static const char *
verr(void)
{
	const char *m = virGetLastErrorMessage();

	return m != NULL ? m : "unknown libvirt error";
}

/* ---------------------------------------------------------- pending */

static void
pend_add(struct virt *v, const char *uuid)
{
	for (size_t i = 0; i < v->npend; i++)
		if (strcmp(v->pend[i], uuid) == 0)
			return;
	if (v->npend == v->cappend) {
		size_t nc = v->cappend ? v->cappend * 2 : 16;
		void *np = realloc(v->pend, nc * sizeof(*v->pend));

		if (np == NULL) {
			v->resync = true;	/* look at them all instead */
			return;
		}
		v->pend = np;
		v->cappend = nc;
	}
	snprintf(v->pend[v->npend++], sizeof(v->pend[0]), "%s", uuid);
}

static void
pend_dom(struct virt *v, virDomainPtr dom)
{
	char uuid[VIR_UUID_STRING_BUFLEN];

	if (virDomainGetUUIDString(dom, uuid) == 0)
		pend_add(v, uuid);
	else
		v->resync = true;
}

static int
on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail,
    void *opaque)
{
	(void)conn;
	log_debug("libvirt: domain %s: lifecycle event %d (detail %d)",
	    virDomainGetName(dom), event, detail);
	pend_dom(opaque, dom);
	return 0;
}

static void
on_metadata(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri,
    void *opaque)
{
	(void)conn;
	if (type != VIR_DOMAIN_METADATA_ELEMENT ||
	    (nsuri != NULL && strcmp(nsuri, VIRT_NS) != 0))
		return;
	log_debug("libvirt: domain %s: vtier metadata changed",
	    virDomainGetName(dom));
	pend_dom(opaque, dom);
}

static void
on_close(virConnectPtr conn, int reason, void *opaque)
{
	struct virt *v = opaque;

	(void)conn;
	log_warnx("libvirt: connection to %s closed (reason %d): keeping "
	    "its VMs, reconnecting", v->uri, reason);
	v->lost = true;
}

/* ------------------------------------------------------------ the VMs */

static struct vm *
find_uuid(const struct shim *sh, const char *uuid)
{
	for (size_t i = 0; i < sh->vms.n; i++)
		if (sh->vms.v[i]->from_libvirt &&
		    strcmp(sh->vms.v[i]->uuid, uuid) == 0)
			return sh->vms.v[i];
	return NULL;
}

static void
drop(struct shim *sh, struct vm *vm, const char *why)
{
	log_info("VM %s: %s: BYE to %u session%s, %s", vm->cfg.name, why,
	    vm->nsessions, vm->nsessions == 1 ? "" : "s", vm->npins ?
	    "pins released" : "nothing was pinned");
	/* a [vm] that clashed with this domain is fine again */
	for (size_t i = 0; i < sh->vms.n; i++)
		if (!sh->vms.v[i]->from_libvirt &&
		    strcmp(sh->vms.v[i]->uuid, vm->uuid) == 0) {
			sh->vms.v[i]->uuid[0] = '\0';
			sh->vms.v[i]->error[0] = '\0';
		}
	conn_close_vm(sh, vm, PROTO_BYE_SHUTDOWN);
	listen_close(sh, vm->listener);
	budget_remove(&sh->vms, vm);
}

/* A hostshim.ini VM with the same name, CID or socket, or NULL. */
static struct vm *
clash(const struct shim *sh, const struct vm_config *vc, const char **what)
{
	for (size_t i = 0; i < sh->vms.n; i++) {
		const struct vm *o = sh->vms.v[i];

		if (o->from_libvirt)
			continue;
		*what = strcmp(o->cfg.name, vc->name) == 0 ? "name" :
		    vc->cid != 0 && o->cfg.cid == vc->cid ? "vsock CID" :
		    vc->socket[0] != '\0' &&
		    strcmp(o->cfg.socket, vc->socket) == 0 ? "socket" : NULL;
		if (*what != NULL)
			return (struct vm *)o;
	}
	return NULL;
}

/* The domain's mem-path, share or offset property, through QMP qom-get. */
static int
qom_get(virDomainPtr dom, const char *obj, const char *prop, char *buf,
    size_t len)
{
	char cmd[256], *out = NULL;
	int rc;

	snprintf(cmd, sizeof(cmd), "{\"execute\":\"qom-get\",\"arguments\":"
	    "{\"path\":\"/objects/%s\",\"property\":\"%s\"}}", obj, prop);
	if (virDomainQemuMonitorCommand(dom, cmd, &out, 0) < 0)
		return -EIO;
	rc = virt_xml_qmp_return(out, strlen(out), buf, len);
	free(out);
	return rc;
}

static bool
tame(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' ||
		    *s == '_'))
			return false;
	return true;
}

/*
 * The VM's backing ranges from QEMU's memory map: 0 (vc->backing set),
 * -EAGAIN the map could not be read now (note says; tried again at the
 * domain's next event), other -errno: not exact, note says why.
 */
static int
read_backing(virDomainPtr dom, const struct virt_domain *d,
    struct vm_config *vc, char *note, size_t len)
{
	struct virt_ram ram[MAX_RAM];
	char *out = NULL, why[160], path[PATH_MAX], share[16], off[32];
	size_t n;
	int rc;

	vc->nbacking = 0;
	if (virDomainQemuMonitorCommand(dom, "info mtree -f", &out,
	    VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP) < 0) {
		snprintf(note, len, "memory map not read: %s", verr());
		return -EAGAIN;
	}
	rc = virt_xml_parse_mtree(out, strlen(out), ram, ARRAY_SIZE(ram), &n,
	    why, sizeof(why));
	free(out);
	if (rc < 0) {
		snprintf(note, len, "QEMU's memory map: %s", why);
		return rc;
	}
	if (n > SHIM_MAX_BACKING) {
		snprintf(note, len, "%zu RAM ranges in QEMU's memory map (at "
		    "most %d)", n, SHIM_MAX_BACKING);
		return -E2BIG;
	}
	for (size_t i = 0; i < n; i++) {
		struct backing *b = &vc->backing[i];
		uint64_t boff = 0;
		struct stat st;

		if (!tame(ram[i].region)) {
			snprintf(note, len, "memory region '%.40s' is no "
			    "backend id", ram[i].region);
			return -EINVAL;
		}
		if ((rc = qom_get(dom, ram[i].region, "mem-path", path,
		    sizeof(path))) < 0) {
			snprintf(note, len, "memory backend %.40s has no file "
			    "(anonymous or memfd memory: the shim cannot map "
			    "it; use <memoryBacking><source type='file'/>"
			    "<access mode='shared'/>)", ram[i].region);
			return -ENOENT;
		}
		if (qom_get(dom, ram[i].region, "share", share,
		    sizeof(share)) < 0 || strcmp(share, "true") != 0) {
			snprintf(note, len, "memory backend %.40s is not shared "
			    "(share=off: the shim's mapping would not be the "
			    "guest's memory; use <access mode='shared'/>)",
			    ram[i].region);
			return -EPERM;
		}
		/* QEMU 8.1+ memory-backend-file has "offset"; before, 0 */
		if (qom_get(dom, ram[i].region, "offset", off, sizeof(off)) == 0 &&
		    parse_u64(off, &boff) < 0)
			boff = 0;
		if (stat(path, &st) < 0)
			st.st_mode = 0;
		if (!S_ISREG(st.st_mode)) {
			snprintf(note, len, "memory backend %.32s: %.64s is %s",
			    ram[i].region, path, S_ISDIR(st.st_mode) ?
			    "a directory (hugetlbfs: QEMU unlinked its file)" :
			    "no file the shim can open");
			return -ENOENT;
		}
		/* QEMU's answer is believed only for a file of QEMU's own
		 * user (libvirt makes it so): a QEMU that lies cannot have
		 * the shim map and lock someone else's file */
		if (d->has_dac && st.st_uid != d->dac_uid) {
			snprintf(note, len, "memory backend %.32s: %.64s is owned "
			    "by uid %u, not by QEMU's user %u", ram[i].region,
			    path, (unsigned)st.st_uid, d->dac_uid);
			return -EPERM;
		}
		if (ram[i].gpa % PROTO_PAGE_SIZE || ram[i].size % PROTO_PAGE_SIZE ||
		    (ram[i].off + boff) % PROTO_PAGE_SIZE ||
		    ram[i].gpa + ram[i].size > PROTO_GPA_LIMIT) {
			snprintf(note, len, "memory backend %.40s: range at GPA "
			    "0x%llx not 4K aligned", ram[i].region,
			    (unsigned long long)ram[i].gpa);
			return -EINVAL;
		}
		snprintf(b->path, sizeof(b->path), "%s", path);
		b->offset = ram[i].off + boff;
		b->gpa = ram[i].gpa;
		b->size = ram[i].size;
		b->line = 0;
	}
	vc->nbacking = (int)n;
	note[0] = '\0';
	return 0;
}

/* The VM's config from the domain; meta: the metadata in force. */
static void
domain_config(const struct virt_domain *d, const struct virt_meta *meta,
    struct vm_config *vc)
{
	memset(vc, 0, sizeof(*vc));
	snprintf(vc->name, sizeof(vc->name), "%s", d->name);
	vc->cid = d->cid;
	if (d->channel[0] != '\0') {
		snprintf(vc->socket, sizeof(vc->socket), "%s", d->channel);
		vc->serial = 1;
		vc->connect = !d->channel_connect;
	}
	vc->socket_uid = d->has_dac ? d->dac_uid : (uid_t)-1;
	vc->socket_gid = d->has_dac ? d->dac_gid : (gid_t)-1;
	vc->socket_mode = SHIM_SOCKET_MODE;
	vc->budget = meta->budget;
	vc->prefault_cap = meta->prefault_cap;
}

/* Make the VM table match one running domain. */
static void
apply(struct virt *v, virDomainPtr dom, const struct virt_domain *d)
{
	struct shim *sh = v->sh;
	struct vm *vm = find_uuid(sh, d->uuid), *o;
	struct virt_meta meta = d->meta;
	struct vm_config vc;
	const char *what;
	char b[32];

	if (!d->meta.managed || (d->cid == 0 && d->channel[0] == '\0')) {
		if (vm != NULL)
			drop(sh, vm, !d->meta.managed ? "libvirt metadata says "
			    "managed = no" : "no vtier channel or vsock any more");
		return;
	}
	if (d->meta.error[0] != '\0') {
		static struct ratelimit rl;

		if (ratelimit_ok(&rl, 10))
			log_warnx("VM %s: vtier metadata: %s; %s", d->name,
			    d->meta.error, vm != NULL ? "keeping the last good "
			    "values" : "budget not set");
		meta.budget = vm != NULL ? vm->budget : 0;
		meta.prefault_cap = vm != NULL ? vm->cfg.prefault_cap :
		    VIRT_PREFAULT_CAP_DEFAULT;
	}
	domain_config(d, &meta, &vc);
	if ((o = clash(sh, &vc, &what)) != NULL) {
		if (vm != NULL)		/* first: drop() clears o's error */
			drop(sh, vm, "clashes with hostshim.ini");
		if (strcmp(o->uuid, d->uuid) != 0)
			log_warnx("VM %s: libvirt domain %s (%s) has the same %s: "
			    "served from hostshim.ini, the domain's settings are "
			    "ignored", o->cfg.name, d->name, d->uuid, what);
		snprintf(o->uuid, sizeof(o->uuid), "%s", d->uuid);
		snprintf(o->error, sizeof(o->error), "libvirt domain %s (%s) "
		    "has the same %s: its libvirt settings are ignored (remove "
		    "one)", d->name, d->uuid, what);
		return;
	}
	if (vm == NULL) {
		char note[SHIM_NOTE_MAX];

		read_backing(dom, d, &vc, note, sizeof(note));
		if (budget_add(&sh->vms, &vc, &vm) < 0) {
			log_warnx("VM %s: out of memory", d->name);
			return;
		}
		vm->from_libvirt = true;
		snprintf(vm->uuid, sizeof(vm->uuid), "%s", d->uuid);
		snprintf(vm->prefault_note, sizeof(vm->prefault_note), "%s",
		    note);
		format_size(vm->budget, b, sizeof(b));
		log_info("VM %s: libvirt domain %s: %s%s%s, budget %s, %d "
		    "backing range%s%s%s", vm->cfg.name, d->uuid,
		    vc.socket[0] ? vc.connect ? "channel (QEMU listens) " :
		    "channel (QEMU connects) " : "", vc.socket[0] ? vc.socket :
		    "", vc.cid ? " vsock" : "", vm->budget ? b : "not set",
		    vc.nbacking, vc.nbacking == 1 ? "" : "s",
		    note[0] ? ": " : "", note);
		listen_vm_open(sh, vm);
	} else {
		bool reopen = strcmp(vc.socket, vm->cfg.socket) != 0 ||
		    vc.connect != vm->cfg.connect;

		if (vc.cid != vm->cfg.cid || reopen)
			conn_close_vm(sh, vm, PROTO_BYE_RESTART);
		if (reopen)
			listen_close(sh, vm->listener);
		/* the memory map: kept, or read again if it was not yet */
		vc.nbacking = vm->cfg.nbacking;
		memcpy(vc.backing, vm->cfg.backing, sizeof(vc.backing));
		if (vc.nbacking == 0 && strncmp(vm->prefault_note,
		    "memory map not read", 19) == 0)
			read_backing(dom, d, &vc, vm->prefault_note,
			    sizeof(vm->prefault_note));
		vm->cfg = vc;
		if (reopen)
			listen_vm_open(sh, vm);
		if (meta.budget != vm->budget) {
			budget_set(vm, meta.budget, false);
			session_push_budget(vm);
		}
	}
	snprintf(vm->error, sizeof(vm->error), "%s%.170s", d->meta.error[0] ?
	    "vtier metadata: " : "", d->meta.error);
}

/* Look at one domain again: added, changed or dropped. */
static void
refresh(struct virt *v, const char *uuid)
{
	struct shim *sh = v->sh;
	struct virt_domain *d;
	virDomainPtr dom;
	struct vm *vm;
	char *xml, why[VIRT_ERR_MAX];

	dom = virDomainLookupByUUIDString(v->conn, uuid);
	vm = find_uuid(sh, uuid);
	if (dom == NULL || virDomainIsActive(dom) != 1) {
		if (vm != NULL)
			drop(sh, vm, "libvirt domain stopped or gone");
		if (dom != NULL)
			virDomainFree(dom);
		return;
	}
	if ((xml = virDomainGetXMLDesc(dom, 0)) == NULL) {
		log_warnx("libvirt: domain %s: no XML: %s", uuid, verr());
		virDomainFree(dom);
		return;
	}
	if ((d = malloc(sizeof(*d))) != NULL) {
		if (virt_xml_parse_domain(xml, strlen(xml), d, why,
		    sizeof(why)) == 0) {
			apply(v, dom, d);
		} else {
			static struct ratelimit rl;

			if (ratelimit_ok(&rl, 10))
				log_warnx("libvirt: domain %s: %s: not served",
				    uuid, why);
			if (vm != NULL)
				drop(sh, vm, "its domain XML is not usable");
		}
		free(d);
	}
	free(xml);
	virDomainFree(dom);
}

/* Every running domain; VMs of domains no longer running dropped. */
static void
resync(struct virt *v)
{
	struct shim *sh = v->sh;
	virDomainPtr *doms = NULL;
	char (*seen)[VIRT_UUID_LEN + 1] = NULL;
	int n;

	v->resync = false;
	if ((n = virConnectListAllDomains(v->conn, &doms,
	    VIR_CONNECT_LIST_DOMAINS_ACTIVE)) < 0) {
		log_warnx("libvirt: listing domains: %s", verr());
		v->resync = true;
		return;
	}
	seen = calloc((size_t)n + 1, sizeof(*seen));
	for (int i = 0; i < n; i++) {
		char uuid[VIR_UUID_STRING_BUFLEN];

		if (virDomainGetUUIDString(doms[i], uuid) == 0) {
			if (seen != NULL)
				snprintf(seen[i], sizeof(seen[i]), "%s", uuid);
			refresh(v, uuid);
		}
		virDomainFree(doms[i]);
	}
	free(doms);
	if (seen == NULL)
		return;
	for (size_t i = 0; i < sh->vms.n; ) {
		struct vm *vm = sh->vms.v[i];
		bool found = !vm->from_libvirt;

		for (int k = 0; k < n && !found; k++)
			found = strcmp(seen[k], vm->uuid) == 0;
		if (!found)
			drop(sh, vm, "libvirt domain no longer running");
		else
			i++;
	}
	free(seen);
}

/* ------------------------------------------------------- the connection */

static void
disconnect(struct virt *v)
{
	if (v->conn == NULL)
		return;
	if (v->cb_life >= 0)
		virConnectDomainEventDeregisterAny(v->conn, v->cb_life);
	if (v->cb_meta >= 0)
		virConnectDomainEventDeregisterAny(v->conn, v->cb_meta);
	virConnectUnregisterCloseCallback(v->conn, on_close);
	virConnectClose(v->conn);
	v->conn = NULL;
	v->cb_life = v->cb_meta = -1;
	v->st = VIRT_DOWN;
	v->npend = 0;
}

static void
try_connect(struct virt *v, uint64_t now)
{
	if ((v->conn = virConnectOpen(v->uri)) == NULL)
		goto fail;
	if (virConnectRegisterCloseCallback(v->conn, on_close, v, NULL) < 0 ||
	    virConnectSetKeepAlive(v->conn, KEEPALIVE_S, KEEPALIVE_COUNT) < 0)
		goto fail;
	v->cb_life = virConnectDomainEventRegisterAny(v->conn, NULL,
	    VIR_DOMAIN_EVENT_ID_LIFECYCLE,
	    VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), v, NULL);
	v->cb_meta = virConnectDomainEventRegisterAny(v->conn, NULL,
	    VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
	    VIR_DOMAIN_EVENT_CALLBACK(on_metadata), v, NULL);
	if (v->cb_life < 0 || v->cb_meta < 0)
		goto fail;
	v->st = VIRT_UP;
	v->lost = false;
	v->connects++;
	v->backoff_ms = BACKOFF_MIN_MS;
	v->error[0] = '\0';
	log_info("libvirt: connected to %s%s", v->uri, v->connects > 1 ?
	    " again" : "");
	resync(v);
	return;
fail:
	snprintf(v->error, sizeof(v->error), "%s", verr());
	if (v->connects > 0 || v->backoff_ms == BACKOFF_MIN_MS)
		log_warnx("libvirt: %s: %s: retrying in %u s", v->uri, v->error,
		    v->backoff_ms / 1000);
	disconnect(v);
	v->retry_ns = now + (uint64_t)v->backoff_ms * 1000000ULL;
	v->backoff_ms = MIN(v->backoff_ms * 2, BACKOFF_MAX_MS);
}

/* Channels QEMU listens on: connect while the VM has no session. */
static void
connect_channels(struct shim *sh, uint64_t now)
{
	for (size_t i = 0; i < sh->vms.n; i++) {
		struct vm *vm = sh->vms.v[i];
		int rc;

		if (!vm->from_libvirt || !vm->cfg.connect ||
		    vm->nsessions > 0 || now < vm->retry_ns)
			continue;
		vm->retry_ns = now + CHANNEL_RETRY_NS;
		if ((rc = listen_vm_connect(sh, vm)) < 0)
			log_debug("VM %s: channel %s: %s", vm->cfg.name,
			    vm->cfg.socket, strerror(-rc));
		else
			log_info("VM %s: connected to its channel %s",
			    vm->cfg.name, vm->cfg.socket);
	}
}

bool
virt_supported(void)
{
	return true;
}

int
virt_open(struct shim *sh)
{
	struct virt *v;

	if (!sh->cfg.libvirt)
		return 0;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return -ENOMEM;
	v->sh = sh;
	snprintf(v->uri, sizeof(v->uri), "%s", sh->cfg.libvirt_uri);
	v->cb_life = v->cb_meta = -1;
	v->backoff_ms = BACKOFF_MIN_MS;
	ev.loop = &sh->loop;
	if (!ev.registered) {
		virSetErrorFunc(NULL, quiet_errors);
		virEventRegisterImpl(ev_add_handle, ev_update_handle,
		    ev_remove_handle, ev_add_timeout, ev_update_timeout,
		    ev_remove_timeout);
		ev.registered = true;
	}
	sh->virt = v;
	try_connect(v, now_ns());
	return 0;
}

void
virt_close(struct shim *sh)
{
	struct virt *v = sh->virt;

	if (v == NULL)
		return;
	disconnect(v);
	ev_reap();
	free(v->pend);
	free(v);
	sh->virt = NULL;
}

void
virt_reload(struct shim *sh)
{
	struct virt *v = sh->virt;

	if (v != NULL && (!sh->cfg.libvirt ||
	    strcmp(v->uri, sh->cfg.libvirt_uri) != 0)) {
		log_info("libvirt: [libvirt] %s: dropping its VMs",
		    sh->cfg.libvirt ? "uri changed" : "removed");
		for (size_t i = sh->vms.n; i-- > 0; )
			if (sh->vms.v[i]->from_libvirt)
				drop(sh, sh->vms.v[i], "libvirt configuration "
				    "changed");
		virt_close(sh);
		v = NULL;
	}
	if (v == NULL) {
		if (virt_open(sh) < 0)
			log_warnx("libvirt: out of memory");
		return;
	}
	/* the ini VMs changed: clashes may have come or gone */
	for (size_t i = 0; i < sh->vms.n; i++)
		if (!sh->vms.v[i]->from_libvirt) {
			sh->vms.v[i]->uuid[0] = '\0';
			sh->vms.v[i]->error[0] = '\0';
		}
	v->resync = true;
}

void
virt_dispatch(struct shim *sh, uint64_t now)
{
	struct virt *v = sh->virt;

	if (v == NULL)
		return;
	ev_run_timers(now);
	ev_reap();
	if (v->lost) {
		disconnect(v);
		ev_reap();
		v->lost = false;
		v->retry_ns = now + (uint64_t)v->backoff_ms * 1000000ULL;
	}
	if (v->st == VIRT_DOWN && now >= v->retry_ns)
		try_connect(v, now);
	if (v->st == VIRT_UP) {
		if (v->resync)
			resync(v);
		while (v->npend > 0 && v->st == VIRT_UP) {
			char uuid[VIRT_UUID_LEN + 1];

			memcpy(uuid, v->pend[--v->npend], sizeof(uuid));
			refresh(v, uuid);
		}
	}
	connect_channels(sh, now);
	conn_flush_dirty(sh);
}

int
virt_timeout_ms(const struct shim *sh, uint64_t now)
{
	const struct virt *v = sh->virt;
	uint64_t due = UINT64_MAX;

	if (v == NULL)
		return -1;
	if (v->lost || v->resync || v->npend > 0)
		return 0;
	for (const struct vtimer *t = ev.timers; t != NULL; t = t->next)
		if (!t->gone && t->ms >= 0)
			due = MIN(due, t->due);
	if (v->st == VIRT_DOWN)
		due = MIN(due, v->retry_ns);
	if (due == UINT64_MAX)
		return -1;
	return due <= now ? 0 : (int)MIN((due - now + 999999) / 1000000,
	    (uint64_t)60000);
}

int
virt_set_budget(struct shim *sh, struct vm *vm, uint64_t bytes, char *why,
    size_t whylen)
{
	struct virt *v = sh->virt;
	struct virt_meta m = {
		.present = true, .budget = bytes,
		.prefault_cap = vm->cfg.prefault_cap, .managed = true,
	};
	char xml[512];
	virDomainPtr dom;
	unsigned flags = VIR_DOMAIN_AFFECT_LIVE;
	int rc = 0;

	if (v == NULL || v->st != VIRT_UP) {
		snprintf(why, whylen, "libvirt is not connected (%s)",
		    v != NULL && v->error[0] ? v->error : "reconnecting");
		return -ENOTCONN;
	}
	if (virt_xml_format_meta(&m, xml, sizeof(xml)) < 0)
		return -ENOSPC;
	if ((dom = virDomainLookupByUUIDString(v->conn, vm->uuid)) == NULL) {
		snprintf(why, whylen, "domain %s: %s", vm->uuid, verr());
		return -ENOENT;
	}
	if (virDomainIsPersistent(dom) == 1)
		flags |= VIR_DOMAIN_AFFECT_CONFIG;
	if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml,
	    VIRT_NS_PREFIX, VIRT_NS, flags) < 0) {
		snprintf(why, whylen, "writing the domain's metadata: %s",
		    verr());
		rc = -EIO;
	} else {
		snprintf(why, whylen, "written to the domain's metadata (%s)",
		    flags & VIR_DOMAIN_AFFECT_CONFIG ? "live and persistent" :
		    "live: the domain is transient");
		vm->error[0] = '\0';
		budget_set(vm, bytes, true);
		session_push_budget(vm);
	}
	virDomainFree(dom);
	return rc;
}

const char *
virt_last_error(const struct shim *sh)
{
	return sh->virt != NULL && sh->virt->error[0] ? sh->virt->error : NULL;
}

const char *
virt_state(const struct shim *sh)
{
	const struct virt *v = sh->virt;

	if (v == NULL)
		return "off";
	return v->st == VIRT_UP ? "connected" : v->connects > 0 ?
	    "reconnecting" : "connecting";
}
