/*
 * hostshim.h - vtier-hostshim's private header: its modules, and the one
 * context struct that owns them (one header per daemon, as OpenBSD's
 * ntpd.h; one concern per .c file):
 *
 *   config.c    hostshim.ini -> struct shim_config: parse, check, print
 *   budget.c    the VM table: budget, sessions, last stats, pins; reload
 *   session.c   one connection's protocol state machine (no sockets)
 *   prefault.c  GPA -> backing file offset; map, populate, mlock; release
 *   resident.c  host memory behind each backing range (SEEK_DATA/HOLE)
 *   listen.c    AF_VSOCK and per-VM Unix listeners; accept; which VM
 *   conn.c      a connection's socket I/O around its session
 *   ctl.c       the control socket vtierctl talks to
 *   virt.c      [libvirt]: domains as VMs, followed live (virt_none.c
 *               when built without libvirt; virt_xml.c reads the XML)
 *   loop.c      the epoll loop
 *   main.c      options, start-up, signals, reload, reverse teardown
 *
 * Every function returns 0 (or a count) or -errno unless it says
 * otherwise.  Nothing here is thread-safe: one loop owns everything.
 */
#ifndef VTIER_HOSTSHIM_H
#define VTIER_HOSTSHIM_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "vtier/proto.h"

#define SHIM_CONFIG_DEFAULT	"/etc/vtier/hostshim.ini"
#define SHIM_CONTROL_DEFAULT	"/run/vtier/hostshim.sock"
#define SHIM_EXIT_CONFIG	2	/* bad options or config file */

#define SHIM_MAX_VMS		4096
#define SHIM_MAX_BACKING	16	/* backing = lines per VM */
#define SHIM_SOCK_MAX		108	/* sizeof(sockaddr_un.sun_path) */
#define SHIM_OWNER_MAX		256	/* "USER:GROUP" as written */
#define SHIM_SOCKET_MODE	0660	/* [vm] socket_mode's default */
#define SHIM_TICK_MS		50	/* timers are checked this often */
#define SHIM_URI_MAX		256	/* [libvirt] uri */
#define SHIM_LIBVIRT_URI_DEFAULT "qemu:///system"
#define SHIM_NOTE_MAX		192	/* a VM's error or pre-fault note */

/* ------------------------------------------------------------ config.c */

/* "backing = PATH:OFFSET@GPA+SIZE": PATH at OFFSET holds GPA..GPA+SIZE. */
struct backing {
	char path[PATH_MAX];
	uint64_t offset;	/* byte offset in the file */
	uint64_t gpa;		/* guest-physical address of that byte */
	uint64_t size;
	int line;		/* where it was set, 0 if not from a file */
};

struct vm_config {
	char name[PROTO_NAME_MAX + 1];
	uint32_t cid;			/* AF_VSOCK guest CID, 0 = none */
	char socket[SHIM_SOCK_MAX];	/* Unix socket we listen on, "" = none */
	int serial;			/* socket is a QEMU virtio-serial chardev */
	int connect;			/* we connect to socket (QEMU listens:
					 * a libvirt channel in bind mode) */
	char socket_owner[SHIM_OWNER_MAX];	/* as written, "" = not set */
	uid_t socket_uid;		/* its owner, (uid_t)-1: bind()'s (ours) */
	gid_t socket_gid;		/* its group, (gid_t)-1: bind()'s */
	uint32_t socket_mode;		/* 0600..0777, never o+w */
	uint64_t budget;		/* bytes, 0 = not set (the agent decides) */
	uint64_t prefault_cap;		/* most bytes one PREFAULT may pin */
	struct backing backing[SHIM_MAX_BACKING];	/* sorted by gpa */
	int nbacking;
	int line;			/* of the [vm NAME] header */
	int budget_line;
};

struct shim_config {
	int log_level;
	char control_socket[SHIM_SOCK_MAX];
	int listen_vsock;
	uint32_t vsock_port;
	uint64_t handshake_ms;		/* HELLO must arrive within this */
	uint64_t idle_ms;		/* silence after which a session ends */
	uint64_t output_max;		/* per-connection output backlog cap */
	uint32_t max_connections;	/* all VMs together */
	uint32_t max_per_vm;
	int libvirt;			/* a [libvirt] section is there */
	char libvirt_uri[SHIM_URI_MAX];
	struct vm_config *vms;		/* nvms of them, in file order */
	size_t nvms;
};

void config_defaults(struct shim_config *cfg);
/*
 * Parse path into cfg (which the caller frees with config_free, also on
 * error) and check it.  On error err holds "FILE:LINE: what is wrong".
 */
int config_load(const char *path, struct shim_config *cfg, char *err,
    size_t errlen);
void config_free(struct shim_config *cfg);
/* The effective configuration, as an ini file config_load accepts. */
void config_print(const struct shim_config *cfg, FILE *out);
/* "PATH:OFFSET@GPA+SIZE" into b (path, offset, gpa, size): 0 or -EINVAL. */
int config_parse_backing(const char *s, struct backing *b, char *why,
    size_t whylen);
const struct vm_config *config_find_vm(const struct shim_config *cfg,
    const char *name);

/* ------------------------------------------------------------ budget.c */

struct session;
struct listener;
struct pf_job;

/* One pinned window of a backing file. */
struct pin {
	char path[PATH_MAX];
	uint64_t off, len;		/* file window, page aligned */
	void *addr;			/* its MAP_SHARED mapping, or NULL */
	uint64_t done;			/* bytes populated and locked */
};

/* What changed for a VM on reload (vm.changed). */
#define VM_NEW		(1u << 0)
#define VM_BUDGET	(1u << 1)
#define VM_SOCKET	(1u << 2)	/* socket path, serial, owner or mode */
#define VM_CID		(1u << 3)
#define VM_BACKING	(1u << 4)	/* backing ranges: pins released */
#define VM_REMOVED	(1u << 5)

/* What a pre-fault set is, from how the agent sent it. */
enum pf_scope {
	PF_SCOPE_UNSAID = 0,		/* a plain PREFAULT (an older agent) */
	PF_SCOPE_PEBS,			/* PREFAULT_PART: the PEBS buffers */
	PF_SCOPE_FAST_NODE,		/* PREFAULT_PART with PROTO_PF_FAST_NODE */
};

struct pf_what {
	enum pf_scope scope;
	uint16_t reason;
	size_t nranges;
};

/* Why a session ended (counted per VM and in total). */
enum session_end {
	END_NONE = 0,
	END_EOF,		/* the peer closed */
	END_BYE,		/* the peer said BYE */
	END_MALFORMED,		/* a frame failed to decode */
	END_VERSION,		/* protocol version refused */
	END_UNEXPECTED,		/* a message before HELLO */
	END_SLOW,		/* output backlog over output_max */
	END_HANDSHAKE,		/* no HELLO within handshake_timeout */
	END_IDLE,		/* silent for idle_timeout */
	END_IO,			/* read/write error */
	END_SHUTDOWN,		/* the shim exits or the VM was removed */
	END_NMAX,
};

struct vm {
	struct vm_config cfg;
	uint64_t budget;		/* in force: the file's, or vtierctl's */
	bool budget_from_ctl;		/* last set by vtierctl, not the file */
	unsigned changed;		/* VM_* from the last budget_sync */

	struct session *sessions;	/* every connection of this VM */
	unsigned nsessions;
	unsigned nup;			/* of them past HELLO */
	struct listener *listener;	/* its Unix socket, if any */

	/* From the agent: the last HELLO and STATS. */
	uint32_t agent_version, agent_caps;
	uint16_t nnodes;
	bool have_stats;
	struct proto_stats stats;
	uint64_t stats_ns;

	/* Pre-fault: the pinned set, and the job replacing it. */
	struct pin *pins;
	size_t npins;
	uint64_t pinned;		/* bytes locked (sum of pins[].done) */
	struct pf_job *job;
	int pf_status;			/* last result: 0 or -errno */
	/* What the pinned set is, as the agent said (session.c) */
	enum pf_scope pf_scope;
	uint16_t pf_reason;		/* enum proto_pf_reason (fast-node) */
	size_t pf_ranges;		/* ranges the agent asked for */
	struct pf_what pf_next;		/* of the job under way */
	uint64_t pf_count;		/* PREFAULT_DONE with status 0 sent */
	uint64_t pf_refused;		/* refused with ERROR */

	/* Host memory behind each backing range (resident.c). */
	uint64_t resident[SHIM_MAX_BACKING];	/* RESIDENT_UNKNOWN: not read */
	uint64_t resident_total;	/* RESIDENT_UNKNOWN: none read */
	uint64_t resident_ns;		/* when (0: never, or backing changed) */

	uint64_t connects;		/* WELCOMEs sent */
	uint64_t ends[END_NMAX];

	/* Where it came from: hostshim.ini, or a libvirt domain (virt.c). */
	bool from_libvirt;
	char uuid[40];			/* libvirt: the domain's UUID */
	char error[SHIM_NOTE_MAX];	/* shown in vms: a clash, bad metadata */
	char prefault_note[SHIM_NOTE_MAX];	/* libvirt: why no backing */
	uint64_t retry_ns;		/* connect = yes: next attempt */
};

struct vmtab {
	struct vm **v;
	size_t n;
};

/* Build the VM table of cfg.  Every VM is VM_NEW. */
int budget_init(struct vmtab *t, const struct shim_config *cfg);
/*
 * Make t match cfg (a reload): VMs are matched by name.  Changed ones get
 * their VM_* bits in vm->changed and keep their sessions and pins; a
 * changed file budget replaces the one in force (VM_BUDGET: the caller
 * pushes it, session_push_budget), a changed backing releases the pins
 * and cancels a job (VM_BACKING: the caller tells the asker,
 * session_prefault_done).  Removed VMs are moved to *gone (the caller
 * closes their sessions and listener, then budget_vm_free()s them).
 */
int budget_sync(struct vmtab *t, const struct shim_config *cfg,
    struct vm ***gone, size_t *ngone);
void budget_free(struct vmtab *t);
/* A VM that is in no config file (a libvirt domain): VM_NEW, at the end. */
int budget_add(struct vmtab *t, const struct vm_config *vc, struct vm **vp);
/* Take vm out of t (its sessions and listener already closed) and free it. */
void budget_remove(struct vmtab *t, struct vm *vm);
void budget_vm_free(struct vm *vm);
struct vm *budget_find(const struct vmtab *t, const char *name);
struct vm *budget_find_cid(const struct vmtab *t, uint32_t cid);
/* Set vm's budget; the caller pushes it (session_push_budget). */
void budget_set(struct vm *vm, uint64_t bytes, bool from_ctl);
/* Sessions of vm that reached WELCOME. */
bool budget_connected(const struct vm *vm);
void budget_attach(struct vm *vm, struct session *s);
void budget_detach(struct vm *vm, struct session *s);
void budget_store_stats(struct vm *vm, const struct proto_stats *st,
    uint64_t now);

/* ----------------------------------------------------------- session.c */

enum session_state {
	SESS_HELLO,		/* waiting for HELLO */
	SESS_UP,		/* WELCOME sent */
	SESS_CLOSING,		/* write what is queued (best effort), close */
	SESS_DEAD,		/* close now */
};

struct session_limits {
	uint64_t handshake_ns;
	uint64_t idle_ns;
	size_t output_max;
};

/*
 * One connection's protocol: bytes in (session_input), frames out
 * (session_output/session_consumed), time (session_tick).  It never
 * touches a socket, so tests and the fuzzer drive it directly.
 */
struct session {
	struct vm *vm;			/* identified by the transport */
	struct session *vm_next, *vm_prev;	/* vm->sessions list */
	bool serial;			/* a virtio-serial port, not an agent */
	enum session_state st;
	enum session_end end;		/* why, once CLOSING or DEAD */
	struct session_limits lim;
	struct proto_rbuf rb;

	uint8_t *out;			/* queued output: out[outoff..outlen) */
	size_t outoff, outlen, outcap;
	uint32_t seq;

	uint64_t start_ns;		/* connection, or serial back to HELLO */
	uint64_t rx_ns;			/* last byte from the peer */
	uint64_t ping_ns;		/* our PING in flight since, or 0 */
	bool pf_waiting;		/* its PREFAULT is vm->job */
	uint32_t caps;			/* PROTO_CAP_* in its WELCOME */
	/* A set coming in PREFAULT_PART frames: sorted, merged, bounded
	 * by PROTO_MAX_SET_RANGES; set_bad: refused, the rest is ignored */
	struct proto_range *set;
	size_t nset, setcap;
	bool set_bad;

	uint64_t frames_in, frames_out;
	void (*on_output)(void *arg);	/* output went from none to some */
	void *arg;
};

int session_new(struct session **sp, struct vm *vm, bool serial,
    const struct session_limits *lim, uint64_t now);
/* Detaches from the VM (and from a pre-fault job it waits for). */
void session_free(struct session *s);
/*
 * Bytes from the peer.  0: carry on.  -errno: the session is over (its
 * state is CLOSING or DEAD, s->end says why); nothing more is taken.
 */
int session_input(struct session *s, const uint8_t *p, size_t n,
    uint64_t now);
/* The connection is over (EOF, I/O error): why, unless already ended. */
void session_close(struct session *s, enum session_end why);
/* Timeouts and keep-alive PINGs.  0, or -errno as session_input. */
int session_tick(struct session *s, uint64_t now);
/* Queued output, and how much of it the socket took. */
const uint8_t *session_output(const struct session *s, size_t *len);
void session_consumed(struct session *s, size_t n);
/* Queue BUDGET on each session of vm past WELCOME (none if not set). */
void session_push_budget(struct vm *vm);
/* BYE(reason), then CLOSING with end = END_SHUTDOWN. */
void session_bye(struct session *s, uint32_t reason);
/*
 * After vm's pre-fault job ended (prefault_step, _finish, _release): the
 * session that asked for it, if still there, hears PREFAULT_DONE with
 * vm->pf_status and vm->pinned.  Nothing while the job runs.
 */
void session_prefault_done(struct vm *vm);
/* Earliest time session_tick has something to do, or UINT64_MAX. */
uint64_t session_deadline(const struct session *s);
const char *session_state_name(enum session_state st);
const char *session_end_name(enum session_end e);

/* ---------------------------------------------------------- prefault.c */

/* One piece of a request inside one backing range. */
struct pf_seg {
	int backing;			/* index in vm_config.backing */
	uint64_t gpa, off, len;		/* GPA, file offset, bytes */
};

/* Ranges are sorted and disjoint, as are backings: each backing
 * boundary splits at most one range, so seg has n + nbacking room. */
struct pf_plan {
	struct pf_seg *seg;
	size_t nseg;
	uint64_t total;			/* bytes requested */
};

/*
 * The backing range holding gpa: its index, the file offset of gpa and
 * the bytes from gpa to the range's end.  -ERANGE if none holds it.
 */
int prefault_translate(const struct vm_config *vc, uint64_t gpa, int *idx,
    uint64_t *off, uint64_t *avail);
/*
 * Check a set of n ranges (sorted, disjoint, page aligned: what the
 * decoder and session.c let by) against the VM's configuration and cut
 * it into segments: -ENOENT no backing configured, -ERANGE a range not
 * wholly inside the VM's memory, -E2BIG more than prefault_cap, -ENOMEM.
 * why says which.  Nothing is opened or touched; prefault_plan_free
 * frees the segments (also after an error).
 */
int prefault_plan(const struct vm_config *vc, const struct proto_range *r,
    size_t n, struct pf_plan *plan, char *why, size_t whylen);
void prefault_plan_free(struct pf_plan *plan);
/*
 * Start replacing vm's pinned set with plan's segments.  Files are
 * opened and mapped here; the populating and locking happen in
 * prefault_step.  -EBUSY while a job runs; other -errno: nothing changed.
 * When the job ends its outcome is in vm->pf_status and vm->pinned; this
 * module tells nobody (the caller runs session_prefault_done).
 */
int prefault_start(struct vm *vm, const struct pf_plan *plan);
/* Work up to max_bytes on vm's job: 1 more to do, 0 done (or no job). */
int prefault_step(struct vm *vm, uint64_t max_bytes);
/* Run vm's job to its end (tests, shutdown of a job). */
void prefault_finish(struct vm *vm);
/* Jobs under way, all VMs together (the loop polls while any are). */
size_t prefault_jobs(void);
/* Unlock and unmap everything vm has pinned; cancel its job
 * (pf_status -ECANCELED). */
void prefault_release(struct vm *vm);

/* ---------------------------------------------------------- resident.c */

#define RESIDENT_REFRESH_NS	(2ULL * 1000000000ULL)	/* per VM, at most */
#define RESIDENT_MAX_EXTENTS	65536	/* per range and refresh */
#define RESIDENT_UNKNOWN	UINT64_MAX

/*
 * Bytes of fd's window [off, off + len) that hold host memory: st_blocks
 * when the window is the whole file, else its SEEK_DATA extents.  0 or
 * -errno.
 */
int resident_range(int fd, uint64_t off, uint64_t len, uint64_t *bytes);
/* vm's resident[] and resident_total, unless read less than
 * RESIDENT_REFRESH_NS before now.  A file that cannot be read is
 * RESIDENT_UNKNOWN (logged at debug level). */
void resident_refresh(struct vm *vm, uint64_t now);
void resident_refresh_all(struct vmtab *t, uint64_t now);

/* -------------------------------------------------------------- loop.c */

struct loop_src;
typedef void (*loop_fn)(struct loop_src *src, uint32_t events);

/* Embedded in whatever owns the fd; fd < 0 means closed (skipped). */
struct loop_src {
	int fd;
	uint32_t events;
	loop_fn fn;
	void *arg;
};

struct loop {
	int epfd;
};

int loop_init(struct loop *l);
void loop_fini(struct loop *l);
int loop_add(struct loop *l, struct loop_src *s, uint32_t events);
int loop_mod(struct loop *l, struct loop_src *s, uint32_t events);
void loop_del(struct loop *l, struct loop_src *s);
/* Wait up to timeout_ms, run the callbacks of what is ready. */
int loop_wait(struct loop *l, int timeout_ms);

/* ----------------------------------------------------- the shim (main) */

enum via {
	VIA_VSOCK,
	VIA_UNIX,
	VIA_SERIAL,
};

struct conn;
struct ctl;
struct virt;

struct shim_counters {
	uint64_t accepted;
	uint64_t unknown_cid;		/* vsock peers that are no VM of ours */
	uint64_t over_limit;		/* refused: max_connections(_per_vm) */
	uint64_t ends[END_NMAX];
	uint64_t ctl_requests;
	uint64_t ctl_bad;
};

struct shim {
	const char *config_path;
	struct shim_config cfg;
	struct vmtab vms;
	struct loop loop;
	struct loop_src sigsrc;
	struct listener *vsock;		/* NULL: off or unavailable */
	bool vsock_unavailable_logged;
	struct ctl *ctl;
	struct virt *virt;		/* [libvirt], NULL: off */

	struct conn *conns;		/* every connection */
	unsigned nconns;
	struct conn *dirty;		/* connections with output to write */
	struct conn *dead;		/* closed, freed after the loop turn */

	struct shim_counters count;
	uint64_t start_ns;
	bool quit, reload;
	int exit_code;
};

/* ------------------------------------------------------------ listen.c */

struct listener {
	struct loop_src src;
	struct shim *sh;
	enum via via;
	struct vm *vm;			/* Unix: the VM whose socket this is */
	char path[SHIM_SOCK_MAX];	/* Unix: unlinked on close */
	uint32_t port;			/* vsock */
};

/* AF_VSOCK on CID_ANY:port; -EAFNOSUPPORT etc. when there is no vsock
 * (logged once per start or reload, with the VMs that need it). */
int listen_vsock_open(struct shim *sh);
/* The VM's Unix socket, if it has one not yet open; failures logged. */
int listen_vm_open(struct shim *sh, struct vm *vm);
/* Close (and unlink a Unix socket); NULL is fine. */
void listen_close(struct shim *sh, struct listener *ls);
/* Which of our VMs a vsock peer is; NULL for a stranger. */
struct vm *listen_vm_by_cid(const struct shim *sh, uint32_t cid);
/* connect = yes: connect to the VM's socket (QEMU is its server) and
 * start a serial session on it; -errno when QEMU is not there (yet). */
int listen_vm_connect(struct shim *sh, struct vm *vm);

/* -------------------------------------------------------------- conn.c */

struct conn {
	struct loop_src src;
	struct shim *sh;
	struct session *s;
	enum via via;
	struct conn *next, *prev;	/* sh->conns */
	struct conn *dnext;		/* sh->dirty */
	struct conn *gnext;		/* sh->dead */
	bool dirty, closed;
};

/* A connection accepted for vm: takes fd (closed on error). */
int conn_new(struct shim *sh, int fd, struct vm *vm, enum via via);
void conn_close(struct conn *c, enum session_end why);
/* Write what sessions queued (after budget pushes, ticks, prefaults). */
void conn_flush_dirty(struct shim *sh);
void conn_tick_all(struct shim *sh, uint64_t now);
/* Free what conn_close left for after the loop turn. */
void conn_reap(struct shim *sh);
/* Say BYE(reason) on each of vm's connections (all when vm is NULL),
 * write it out (best effort) and close them. */
void conn_close_vm(struct shim *sh, struct vm *vm, uint32_t reason);

/* --------------------------------------------------------------- ctl.c */

int ctl_open(struct shim *sh);
void ctl_close(struct shim *sh);
void ctl_tick(struct shim *sh, uint64_t now);
/* The JSON document of `vtierctl vms --json`, malloc'd into *doc. */
int ctl_format_vms(const struct shim *sh, char **doc, size_t *len);

/* -------------------------------------------------------------- virt.c */

/*
 * [libvirt]: connect to cfg.libvirt_uri and serve its running domains
 * that have the vtier channel or a vsock CID as VMs (vm->from_libvirt).
 * Failure to reach libvirt is not fatal: it retries with backoff, and
 * keeps its VMs while libvirt is away.  -ENOTSUP when built without
 * libvirt (virt_none.c), which start-up reports.
 */
int virt_open(struct shim *sh);
/* Built with libvirt (VIRT=1)?  Without, [libvirt] is a config error. */
bool virt_supported(void);
void virt_close(struct shim *sh);
/* After a reload: [libvirt] added, removed or changed; ini VMs changed. */
void virt_reload(struct shim *sh);
/* Each loop turn: libvirt's timers, events, reconnects, channels. */
void virt_dispatch(struct shim *sh, uint64_t now);
/* How long the loop may sleep for libvirt's sake, in ms (-1: forever). */
int virt_timeout_ms(const struct shim *sh, uint64_t now);
/* vtierctl budget on a libvirt VM: written to the domain's metadata
 * (live and persistent), then in force.  why says what failed. */
int virt_set_budget(struct shim *sh, struct vm *vm, uint64_t bytes, char *why,
    size_t whylen);
/* "off", "connecting", "connected" or "reconnecting", for vms. */
const char *virt_state(const struct shim *sh);
/* Why the last connection attempt failed, or NULL. */
const char *virt_last_error(const struct shim *sh);

#endif
