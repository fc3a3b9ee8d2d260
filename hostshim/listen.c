/*
 * listen.c - where agent connections come in, and which VM each is.
 *
 * The shim identifies a VM by the transport, never by what the guest
 * says (DESIGN.md):
 *  - AF_VSOCK on CID_ANY:vsock_port: the peer CID from accept() (the
 *    host's vhost-vsock drops packets whose source CID is not the
 *    guest's).  A CID that is no configured VM is closed at once,
 *    counted, and logged at most every 10 s.
 *  - A Unix socket per VM ([vm] socket = PATH): whoever connects there
 *    is that VM.  QEMU's virtio-serial chardev connects as a client
 *    (server=off,reconnect=1), Firecracker / Cloud Hypervisor hybrid
 *    vsock connects to "<uds_path>_<port>" for a guest-initiated
 *    connection; both land here.  The socket is made with its owner
 *    ([vm] socket_owner, else the shim's) and mode ([vm] socket_mode,
 *    0660) in place before it listens (unix_listen_owned), so the VMM's
 *    user can connect and nobody else ever could.
 *  - A socket QEMU listens on (a libvirt channel in bind mode, virt.c,
 *    [vm] connect): the shim connects to it, and that connection is the
 *    VM's, as the socket's path is its alone.
 * A host without AF_VSOCK (no vsock / vhost-vsock module) is told once
 * and served over Unix sockets only; start-up never fails for it.
 * Connection limits (max_connections, max_connections_per_vm) are
 * enforced at accept: over them the connection is closed at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "vtier/log.h"
#include "vtier/unixsock.h"
#include "vtier/util.h"
#include "hostshim.h"

#define ACCEPT_BATCH	64	/* accepts per wakeup: others get a turn */

struct vm *
listen_vm_by_cid(const struct shim *sh, uint32_t cid)
{
	return budget_find_cid(&sh->vms, cid);
}

static void
on_accept(struct loop_src *src, uint32_t events)
{
	static struct ratelimit rl_cid, rl_lim, rl_err;
	struct listener *ls = src->arg;
	struct shim *sh = ls->sh;

	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct vm *vm = ls->vm;
		int fd;

		memset(&ss, 0, sizeof(ss));
		fd = accept4(src->fd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    ratelimit_ok(&rl_err, 10))
				log_warn("accept on %s", ls->via == VIA_VSOCK ?
				    "vsock" : ls->path);
			return;
		}
		sh->count.accepted++;
		if (ls->via == VIA_VSOCK) {
			uint32_t cid = ((struct sockaddr_vm *)&ss)->svm_cid;

			if ((vm = listen_vm_by_cid(sh, cid)) == NULL) {
				sh->count.unknown_cid++;
				if (ratelimit_ok(&rl_cid, 10))
					log_warnx("vsock: connection from CID "
					    "%u, which is no configured VM: "
					    "closed", cid);
				close(fd);
				continue;
			}
		}
		if (sh->nconns >= sh->cfg.max_connections ||
		    vm->nsessions >= sh->cfg.max_per_vm) {
			sh->count.over_limit++;
			if (ratelimit_ok(&rl_lim, 10))
				log_warnx("VM %s: connection refused: %s",
				    vm->cfg.name, sh->nconns >=
				    sh->cfg.max_connections ? "max_connections "
				    "reached" : "max_connections_per_vm reached");
			close(fd);
			continue;
		}
		conn_new(sh, fd, vm, ls->via);
	}
}

static int
add_listener(struct shim *sh, int fd, enum via via, struct vm *vm,
    const char *path, struct listener **out)
{
	struct listener *ls;
	int rc;

	if ((ls = calloc(1, sizeof(*ls))) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	ls->sh = sh;
	ls->via = via;
	ls->vm = vm;
	ls->src.fd = fd;
	ls->src.fn = on_accept;
	ls->src.arg = ls;
	if (path != NULL)
		snprintf(ls->path, sizeof(ls->path), "%s", path);
	if ((rc = loop_add(&sh->loop, &ls->src, EPOLLIN)) < 0) {
		close(fd);
		free(ls);
		return rc;
	}
	*out = ls;
	return 0;
}

int
listen_vsock_open(struct shim *sh)
{
	struct sockaddr_vm svm;
	int fd, rc;

	if (sh->vsock != NULL)
		return 0;
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto unavailable;
	}
	memset(&svm, 0, sizeof(svm));
	svm.svm_family = AF_VSOCK;
	svm.svm_cid = VMADDR_CID_ANY;
	svm.svm_port = sh->cfg.vsock_port;
	if (bind(fd, (struct sockaddr *)&svm, sizeof(svm)) < 0 ||
	    listen(fd, 128) < 0) {
		rc = -errno;
		close(fd);
		goto unavailable;
	}
	if ((rc = add_listener(sh, fd, VIA_VSOCK, NULL, NULL, &sh->vsock)) < 0)
		goto unavailable;
	sh->vsock->port = sh->cfg.vsock_port;
	sh->vsock_unavailable_logged = false;
	log_info("listening on vsock port %u", sh->cfg.vsock_port);
	return 0;
unavailable:
	if (!sh->vsock_unavailable_logged) {
		log_warnx("AF_VSOCK port %u: %s: serving Unix sockets only%s",
		    sh->cfg.vsock_port, strerror(-rc), rc == -EAFNOSUPPORT ?
		    " (no vsock support: load vhost_vsock)" : "");
		for (size_t i = 0; i < sh->vms.n; i++) {
			const struct vm_config *vc = &sh->vms.v[i]->cfg;

			if (vc->cid != 0)
				log_warnx("VM %s: cid %u unreachable without "
				    "vsock%s", vc->name, vc->cid,
				    vc->socket[0] ? "; its socket still serves" :
				    "");
		}
		sh->vsock_unavailable_logged = true;
	}
	return rc;
}

int
listen_vm_open(struct shim *sh, struct vm *vm)
{
	const struct vm_config *vc = &vm->cfg;
	int fd;

	if (vm->listener != NULL || vc->socket[0] == '\0' || vc->connect)
		return 0;
	if ((fd = unix_listen_owned(vc->socket, vc->socket_mode, vc->socket_uid,
	    vc->socket_gid, 128)) < 0) {
		log_warnx("VM %s: socket %s: %s%s", vc->name, vc->socket,
		    strerror(-fd), fd == -EADDRINUSE ?
		    " (another vtier-hostshim is serving it)" : fd == -EEXIST ?
		    " (a file that is not a socket is in the way)" :
		    fd == -EPERM && vc->socket_owner[0] != '\0' ?
		    " (socket_owner needs CAP_CHOWN)" : "");
		return fd;
	}
	return add_listener(sh, fd, vm->cfg.serial ? VIA_SERIAL : VIA_UNIX, vm,
	    vm->cfg.socket, &vm->listener);
}

int
listen_vm_connect(struct shim *sh, struct vm *vm)
{
	struct sockaddr_un sun;
	int fd, rc;

	if (!vm->cfg.connect || vm->cfg.socket[0] == '\0')
		return -EINVAL;
	if (sh->nconns >= sh->cfg.max_connections)
		return -EMFILE;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", vm->cfg.socket);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		return -errno;
	/* A Unix connect completes at once or fails (EAGAIN: backlog full,
	 * try again later like any other failure). */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	sh->count.accepted++;
	return conn_new(sh, fd, vm, VIA_SERIAL);
}

void
listen_close(struct shim *sh, struct listener *ls)
{
	if (ls == NULL)
		return;
	loop_del(&sh->loop, &ls->src);
	close(ls->src.fd);
	ls->src.fd = -1;
	if (ls->via != VIA_VSOCK)
		unlink(ls->path);
	if (ls->vm != NULL)
		ls->vm->listener = NULL;
	if (ls == sh->vsock)
		sh->vsock = NULL;
	free(ls);
}
