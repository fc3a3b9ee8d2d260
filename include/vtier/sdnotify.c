/*
 * sdnotify.c - sd_notify(3) without libsystemd (see sdnotify.h).
 *
 * The protocol: a datagram of newline-separated KEY=VALUE lines sent to
 * the AF_UNIX socket in $NOTIFY_SOCKET.  A name starting with '@' is in
 * the abstract namespace: the '@' becomes a NUL byte and the address
 * length counts no terminator.  A path is sent with its terminating NUL,
 * as libsystemd does.  Other forms (systemd 254's "vsock:" addresses)
 * are refused with -EAFNOSUPPORT.  The socket is opened per message:
 * messages are rare (start, reload, stop), and no fd has to outlive a
 * fork or survive the daemon's teardown.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/sdnotify.h"
#include "vtier/util.h"

static int
notify_addr(const char *name, struct sockaddr_un *sun, socklen_t *len)
{
	size_t n = strlen(name);

	if (name[0] != '/' && name[0] != '@')
		return -EAFNOSUPPORT;
	if (n < 2 || n >= sizeof(sun->sun_path))
		return n < 2 ? -EINVAL : -ENAMETOOLONG;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, name, n);
	if (name[0] == '@') {
		sun->sun_path[0] = '\0';
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	return 0;
}

int
sdnotify_send(const char *state)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	size_t n = strlen(state);
	ssize_t sent;
	int fd, rc;

	if (name == NULL || name[0] == '\0')
		return 0;
	if ((rc = notify_addr(name, &sun, &len)) < 0)
		goto err;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		rc = -errno;
		goto err;
	}
	sent = sendto(fd, state, n, MSG_NOSIGNAL, (struct sockaddr *)&sun, len);
	rc = sent < 0 ? -errno : (size_t)sent != n ? -EMSGSIZE : 0;
	close(fd);
	if (rc == 0)
		return 0;
err:
	log_warnx("sd_notify %.*s to NOTIFY_SOCKET %s: %s",
	    (int)strcspn(state, "\n"), state, name, strerror(-rc));
	return rc;
}

int
sdnotify_ready(void)
{
	return sdnotify_send("READY=1\n");
}

int
sdnotify_reloading(void)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu\n",
	    (unsigned long long)(now_ns() / 1000));
	return sdnotify_send(buf);
}

int
sdnotify_stopping(void)
{
	return sdnotify_send("STOPPING=1\n");
}
