/*
 * main.c - vtier-hostshim: options, start-up, the loop, signals, reload,
 * and teardown in the reverse order of start-up.
 *
 *   vtier-hostshim [-d] [-c FILE]     run in the foreground, log to stderr
 *   vtier-hostshim -n [-c FILE]       check FILE, print the effective config
 *
 * Signals arrive through a signalfd: SIGTERM/SIGINT exit (every agent
 * hears BYE first; pins are released), SIGHUP reloads, SIGUSR1 logs the
 * counters.  Reload parses the file into a fresh struct and checks it;
 * on error the running config stays and the error (FILE:LINE) is
 * logged.  Otherwise VMs are added (listeners opened), removed (BYE,
 * connections closed, listener closed, pins released) or changed (a
 * changed budget is pushed at once; changed backing releases the pins;
 * a changed CID closes the VM's sessions so they come back under the
 * new identity; a changed socket, serial, socket_owner or socket_mode
 * closes the VM's listening socket and makes it anew, while its
 * connections stay).  control_socket takes effect at restart only; the
 * limits (timeouts, output_max) apply to connections made after.
 * systemd (Type=notify) hears READY=1 once the control socket and the
 * listeners are open, RELOADING=1 and READY=1 around a reload, and
 * STOPPING=1 when the loop ends.  With [libvirt], VMs also come and go
 * with libvirt's domains (virt.c); a reload keeps them.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/sdnotify.h"
#include "vtier/util.h"
#include "vtier/version.h"
#include "hostshim.h"

#define PF_TURN_BYTES	(16 * MiB)	/* pre-fault work per loop turn */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: vtier-hostshim [-dnVh] [-c FILE]\n"
	    "  -c, --config FILE  configuration (default %s)\n"
	    "  -n, --check        check the configuration, print it, exit (0, or 2)\n"
	    "  -d, --debug        debug logging\n"
	    "  -V, --version      print the version\n"
	    "  -h, --help         print this help\n"
	    "Runs in the foreground and logs to stderr.  SIGHUP reloads,\n"
	    "SIGTERM exits, SIGUSR1 logs the counters.\n",
	    SHIM_CONFIG_DEFAULT);
}

static void
log_counters(const struct shim *sh)
{
	size_t up = 0;
	uint64_t pinned = 0;

	for (size_t i = 0; i < sh->vms.n; i++) {
		up += budget_connected(sh->vms.v[i]);
		pinned += sh->vms.v[i]->pinned;
	}
	log_info("stats: %zu VMs, %zu connected, %u connections, %llu "
	    "accepted, %llu unknown CID, %llu over limit, %llu malformed, "
	    "%llu version, %llu slow readers, %llu timeouts, %llu MiB pinned",
	    sh->vms.n, up, sh->nconns,
	    (unsigned long long)sh->count.accepted,
	    (unsigned long long)sh->count.unknown_cid,
	    (unsigned long long)sh->count.over_limit,
	    (unsigned long long)sh->count.ends[END_MALFORMED],
	    (unsigned long long)sh->count.ends[END_VERSION],
	    (unsigned long long)sh->count.ends[END_SLOW],
	    (unsigned long long)(sh->count.ends[END_HANDSHAKE] +
	    sh->count.ends[END_IDLE]),
	    (unsigned long long)(pinned / MiB));
}

static void
on_signal(struct loop_src *src, uint32_t events)
{
	struct shim *sh = src->arg;
	struct signalfd_siginfo si;

	(void)events;
	while (read(src->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("signal %u: exiting", si.ssi_signo);
			sh->quit = true;
			break;
		case SIGHUP:
			sh->reload = true;
			break;
		case SIGUSR1:
			log_counters(sh);
			break;
		}
	}
}

static int
setup_signals(struct shim *sh)
{
	sigset_t set;
	int fd, rc;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	if ((fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return -errno;
	sh->sigsrc.fd = fd;
	sh->sigsrc.fn = on_signal;
	sh->sigsrc.arg = sh;
	if ((rc = loop_add(&sh->loop, &sh->sigsrc, EPOLLIN)) < 0) {
		close(fd);
		sh->sigsrc.fd = -1;
		return rc;
	}
	return 0;
}

/*
 * What pinning needs from the host, said once at start: the right to
 * lock (CAP_IPC_LOCK or RLIMIT_MEMLOCK), and compaction leaving locked
 * pages where they are.
 */
static void
check_host(const struct shim *sh)
{
	char buf[4096], *cap;
	uint64_t capeff = 0, want = 0;
	struct rlimit rl;

	for (size_t i = 0; i < sh->cfg.nvms; i++)
		if (sh->cfg.vms[i].nbacking > 0)
			want += sh->cfg.vms[i].prefault_cap;
	if (want == 0)
		return;
	if (read_file("/proc/self/status", buf, sizeof(buf)) > 0 &&
	    (cap = strstr(buf, "CapEff:")) != NULL)
		parse_hex_u64(strtok(cap + 7, " \t\n"), &capeff);
	if (!(capeff & (1ULL << 14)) && getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
		log_warnx("pre-fault: no CAP_IPC_LOCK and RLIMIT_MEMLOCK is "
		    "%llu KiB: pinning will fail beyond it (run with "
		    "LimitMEMLOCK=infinity or CAP_IPC_LOCK)",
		    (unsigned long long)(rl.rlim_cur / 1024));
	if (read_file("/proc/sys/vm/compact_unevictable_allowed", buf,
	    sizeof(buf)) > 0 && buf[0] == '1')
		log_info("pre-fault: vm.compact_unevictable_allowed = 1: "
		    "compaction may still move pinned pages (and zap their "
		    "EPT entries); set it to 0 where that matters");
}

static void
open_listeners(struct shim *sh)
{
	for (size_t i = 0; i < sh->vms.n; i++)
		listen_vm_open(sh, sh->vms.v[i]);
	if (sh->cfg.listen_vsock)
		listen_vsock_open(sh);
}

static void
reload(struct shim *sh)
{
	struct shim_config fresh, old;
	struct vm **gone;
	size_t ngone, added = 0;
	char err[1024];
	int rc;

	if (config_load(sh->config_path, &fresh, err, sizeof(err)) < 0) {
		log_warnx("reload failed, keeping the running config: %s", err);
		config_free(&fresh);
		return;
	}
	if (strcmp(fresh.control_socket, sh->cfg.control_socket) != 0) {
		log_warnx("reload: [shim] control_socket changed; it takes "
		    "effect at restart");
		memcpy(fresh.control_socket, sh->cfg.control_socket,
		    sizeof(fresh.control_socket));
	}
	if ((rc = budget_sync(&sh->vms, &fresh, &gone, &ngone)) < 0) {
		log_warnx("reload failed, keeping the running config: %s",
		    strerror(-rc));
		config_free(&fresh);
		return;
	}
	old = sh->cfg;
	sh->cfg = fresh;
	log_set_level(sh->cfg.log_level);

	for (size_t i = 0; i < ngone; i++) {
		struct vm *vm = gone[i];

		log_info("VM %s: removed from the config: BYE to %u "
		    "session%s, %s", vm->cfg.name, vm->nsessions,
		    vm->nsessions == 1 ? "" : "s", vm->npins ?
		    "pins released" : "nothing was pinned");
		conn_close_vm(sh, vm, PROTO_BYE_SHUTDOWN);
		listen_close(sh, vm->listener);
		budget_vm_free(vm);
	}
	free(gone);
	for (size_t i = 0; i < sh->vms.n; i++) {
		struct vm *vm = sh->vms.v[i];

		if (vm->changed & VM_NEW)
			added++;
		if (vm->changed & VM_SOCKET)
			listen_close(sh, vm->listener);
		if (vm->changed & VM_CID)
			conn_close_vm(sh, vm, PROTO_BYE_RESTART);
		if (vm->changed & VM_BUDGET)
			session_push_budget(vm);
		if (vm->changed & VM_BACKING) {
			log_info("VM %s: backing changed: pins released",
			    vm->cfg.name);
			session_prefault_done(vm);	/* a job cancelled */
		}
		listen_vm_open(sh, vm);
	}
	if (sh->vsock != NULL && (!sh->cfg.listen_vsock ||
	    sh->vsock->port != sh->cfg.vsock_port))
		listen_close(sh, sh->vsock);
	if (sh->cfg.listen_vsock && sh->vsock == NULL) {
		sh->vsock_unavailable_logged = false;
		listen_vsock_open(sh);
	}
	config_free(&old);
	virt_reload(sh);
	log_info("reloaded %s: %zu VM%s, %zu added, %zu removed",
	    sh->config_path, sh->vms.n, sh->vms.n == 1 ? "" : "s", added,
	    ngone);
}

/* Pre-fault jobs share each turn's work; true if any is left. */
static bool
step_jobs(struct shim *sh)
{
	size_t njobs = prefault_jobs();
	bool more = false;

	if (njobs == 0)
		return false;
	for (size_t i = 0; i < sh->vms.n; i++) {
		struct vm *vm = sh->vms.v[i];

		if (vm->job == NULL)
			continue;
		if (prefault_step(vm, PF_TURN_BYTES / njobs) == 1)
			more = true;
		else
			session_prefault_done(vm);
	}
	return more;
}

static int
run(struct shim *sh)
{
	uint64_t tick_ns = SHIM_TICK_MS * 1000000ULL;
	uint64_t next = now_ns() + tick_ns, now;
	bool busy = false;
	int rc, timeout;

	while (!sh->quit) {
		if (sh->reload) {
			sh->reload = false;
			sdnotify_reloading();
			reload(sh);
			conn_reap(sh);
			sdnotify_ready();
		}
		now = now_ns();
		timeout = busy ? 0 : now >= next ? 0 :
		    (int)((next - now + 999999) / 1000000);
		if ((rc = virt_timeout_ms(sh, now)) >= 0)
			timeout = MIN(timeout, rc);
		if ((rc = loop_wait(&sh->loop, timeout)) < 0) {
			log_err("epoll: %s", strerror(-rc));
			return rc;
		}
		busy = step_jobs(sh);
		now = now_ns();
		virt_dispatch(sh, now);
		if (now >= next) {
			conn_tick_all(sh, now);
			ctl_tick(sh, now);
			next = now + tick_ns;
		}
		conn_reap(sh);
	}
	return 0;
}

static int
start(struct shim *sh)
{
	char b[32];
	int rc;

	if ((rc = loop_init(&sh->loop)) < 0) {
		log_err("epoll: %s", strerror(-rc));
		return rc;
	}
	if ((rc = setup_signals(sh)) < 0) {
		log_err("signalfd: %s", strerror(-rc));
		return rc;
	}
	if ((rc = budget_init(&sh->vms, &sh->cfg)) < 0) {
		log_err("VM table: %s", strerror(-rc));
		return rc;
	}
	check_host(sh);
	if ((rc = ctl_open(sh)) < 0) {
		log_err("control socket %s: %s%s", sh->cfg.control_socket,
		    strerror(-rc), rc == -EADDRINUSE ?
		    " (another vtier-hostshim is running)" : "");
		return rc;
	}
	open_listeners(sh);
	if ((rc = virt_open(sh)) < 0)
		return rc;
	format_size(sh->cfg.output_max, b, sizeof(b));
	log_info("vtier-hostshim %s: %zu VM%s, control socket %s, vsock %s",
	    VTIER_VERSION, sh->vms.n, sh->vms.n == 1 ? "" : "s",
	    sh->cfg.control_socket, sh->vsock != NULL ? "on" : "off");
	return 0;
}

/* The reverse of start(): agents hear BYE before anything closes. */
static void
stop(struct shim *sh)
{
	conn_close_vm(sh, NULL, PROTO_BYE_RESTART);
	conn_reap(sh);
	virt_close(sh);
	listen_close(sh, sh->vsock);
	for (size_t i = 0; i < sh->vms.n; i++)
		listen_close(sh, sh->vms.v[i]->listener);
	ctl_close(sh);
	budget_free(&sh->vms);		/* releases every pin */
	if (sh->sigsrc.fd >= 0) {
		loop_del(&sh->loop, &sh->sigsrc);
		close(sh->sigsrc.fd);
		sh->sigsrc.fd = -1;
	}
	loop_fini(&sh->loop);
	config_free(&sh->cfg);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'n' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static struct shim shim;
	struct shim *sh = &shim;
	bool check = false, debug = false;
	struct rlimit rl;
	char err[1024];
	int c, rc;

	sh->config_path = SHIM_CONFIG_DEFAULT;
	sh->sigsrc.fd = -1;
	sh->loop.epfd = -1;
	while ((c = getopt_long(argc, argv, "c:ndhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': sh->config_path = optarg; break;
		case 'n': check = true; break;
		case 'd': debug = true; break;
		case 'V': printf("vtier-hostshim %s\n", VTIER_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return SHIM_EXIT_CONFIG;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return SHIM_EXIT_CONFIG;
	}
	log_init("vtier-hostshim", LOG_LVL_INFO);
	if (config_load(sh->config_path, &sh->cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "vtier-hostshim: %s\n", err);
		config_free(&sh->cfg);
		return SHIM_EXIT_CONFIG;
	}
	if (sh->cfg.libvirt && !virt_supported()) {
		fprintf(stderr, "vtier-hostshim: %s: [libvirt]: this "
		    "vtier-hostshim was built without libvirt support (make "
		    "VIRT=1 with libvirt-dev installed)\n", sh->config_path);
		config_free(&sh->cfg);
		return SHIM_EXIT_CONFIG;
	}
	if (check) {
		config_print(&sh->cfg, stdout);
		config_free(&sh->cfg);
		return 0;
	}
	log_set_level(debug ? LOG_LVL_DEBUG : sh->cfg.log_level);

	/* one fd per connection: lift the soft limit to the hard one */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)sh->cfg.max_connections + 64)
		log_warnx("max_connections %u is near the open file limit %llu",
		    sh->cfg.max_connections, (unsigned long long)rl.rlim_cur);

	sh->start_ns = now_ns();
	if ((rc = start(sh)) == 0) {
		sdnotify_ready();	/* config loaded, sockets bound */
		if (run(sh) < 0)
			sh->exit_code = 1;
		sdnotify_stopping();
	}
	if (rc < 0)
		sh->exit_code = 1;
	stop(sh);
	return sh->exit_code;
}
