/*
 * sdnotify.h - the systemd service notification protocol (sd_notify(3))
 * for Type=notify units, without libsystemd.
 *
 * Each call sends one datagram to the AF_UNIX socket named by
 * $NOTIFY_SOCKET (a path, or an abstract name when it starts with '@').
 * Without $NOTIFY_SOCKET (not started by systemd) every call does
 * nothing and returns 0.  A failure is logged (log_warnx) and returned
 * as -errno; it must never stop a daemon.
 */
#ifndef VTIER_SDNOTIFY_H
#define VTIER_SDNOTIFY_H

/* Send state ("KEY=VALUE\n..."); 0, or -errno. */
int sdnotify_send(const char *state);
/* "READY=1": config loaded, sockets bound; also after a reload. */
int sdnotify_ready(void);
/* "RELOADING=1" with MONOTONIC_USEC=now, at the start of a reload. */
int sdnotify_reloading(void);
/* "STOPPING=1": the daemon has begun to shut down. */
int sdnotify_stopping(void);

#endif
