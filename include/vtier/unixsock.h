/*
 * unixsock.h - a Unix stream socket to listen on, for the daemons'
 * sockets (the shim's control and VM sockets; the agent's status
 * socket can use it too).
 */
#ifndef VTIER_UNIXSOCK_H
#define VTIER_UNIXSOCK_H

#include <sys/types.h>

/*
 * Bind path (its directory made if missing, one level), chmod it to mode,
 * listen; the fd is non-blocking and close-on-exec.  A stale socket file
 * (connecting to it is refused) is replaced; a live one is -EADDRINUSE
 * (another daemon serves it); a file that is not a socket is left alone
 * (-EEXIST); a path too long for sun_path is -ENAMETOOLONG.  The umask
 * is narrowed around bind() so the socket never exists with a wider mode.
 * Returns the fd or -errno.
 */
int unix_listen(const char *path, unsigned mode, int backlog);
/*
 * The same, owned by uid:gid ((uid_t)-1 or (gid_t)-1: left as bind()
 * made it).  The owner is changed before listen(), so nobody connects
 * while the socket still has its first owner; changing it needs
 * CAP_CHOWN (-EPERM without).
 */
int unix_listen_owned(const char *path, unsigned mode, uid_t uid, gid_t gid,
    int backlog);

#endif
