/*
 * unixsock.c - listening Unix stream sockets (see unixsock.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vtier/unixsock.h"

/*
 * A stale socket file (connecting is refused) is replaced; a live one
 * means another daemon serves it: -EADDRINUSE rather than a silent
 * takeover.  Anything there that is not a socket is left alone
 * (-EEXIST).  The umask is narrowed around bind() so the socket never
 * exists with a wider mode than asked for, and the owner and mode are
 * set before listen(): until then a connect() is refused, so nobody
 * gets in under the owner or mode bind() left.  The owner is changed by
 * path: fchown() on the socket would change sockfs's inode, not the
 * file bind() made; lchown(), as a symbolic link put there since bind()
 * must not make us give away whatever it points to.
 */
int
unix_listen_owned(const char *path, unsigned mode, uid_t uid, gid_t gid,
    int backlog)
{
	struct sockaddr_un sun;
	char dir[sizeof(sun.sun_path)], *slash;
	struct stat st;
	mode_t old;
	bool bound = false;
	int fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			close(fd);
			return -EEXIST;
		}
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 ||
		    errno == EAGAIN) {	/* live, with a full backlog */
			close(fd);
			return -EADDRINUSE;
		}
		close(fd);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
		if (fd < 0)
			return -errno;
		unlink(path);
	}
	old = umask(~mode & 0777);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0)
		goto err;
	bound = true;
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    lchown(path, uid, gid) < 0)
		goto err;
	if (chmod(path, mode) < 0 || listen(fd, backlog) < 0)
		goto err;
	return fd;
err:
	rc = -errno;
	if (bound)		/* ours, and never listening: not left behind */
		unlink(path);
	close(fd);
	return rc;
}

int
unix_listen(const char *path, unsigned mode, int backlog)
{
	return unix_listen_owned(path, mode, (uid_t)-1, (gid_t)-1, backlog);
}
