/*
 * pagemap.c - /proc/PID/pagemap reads (see pagemap.h).  The open files
 * are kept in a small direct-mapped table by pid: a process the agent
 * works on is read many times, and opening procfs files is most of the
 * cost of a small read.  A read that comes back short means the process
 * exited (or the pid was reused): the file is closed and, once, opened
 * afresh.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pagemap.h"

#define CACHE	64

struct pagemap {
	char procfs[256];
	struct { uint32_t pid; int fd; } cache[CACHE];
};

int
pagemap_open(struct pagemap **pp, const char *procfs)
{
	struct pagemap *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	snprintf(p->procfs, sizeof(p->procfs), "%s", procfs);
	for (int i = 0; i < CACHE; i++)
		p->cache[i].fd = -1;
	*pp = p;
	return 0;
}

void
pagemap_close(struct pagemap *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < CACHE; i++)
		if (p->cache[i].fd >= 0)
			close(p->cache[i].fd);
	free(p);
}

static unsigned
slot(uint32_t pid)
{
	return (pid * 2654435761u) % CACHE;
}

static int
pid_fd(struct pagemap *p, uint32_t pid)
{
	unsigned i = slot(pid);
	char path[300];

	if (p->cache[i].fd >= 0 && p->cache[i].pid == pid)
		return p->cache[i].fd;
	if (p->cache[i].fd >= 0)
		close(p->cache[i].fd);
	p->cache[i].fd = -1;
	snprintf(path, sizeof(path), "%s/%u/pagemap", p->procfs, pid);
	if ((p->cache[i].fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	p->cache[i].pid = pid;
	return p->cache[i].fd;
}

void
pagemap_forget(struct pagemap *p, uint32_t pid)
{
	unsigned i = slot(pid);

	if (p != NULL && p->cache[i].fd >= 0 && p->cache[i].pid == pid) {
		close(p->cache[i].fd);
		p->cache[i].fd = -1;
	}
}

int
pagemap_read(struct pagemap *p, uint32_t pid, uint64_t addr, uint64_t *out,
    size_t n)
{
	size_t want = n * sizeof(*out);

	for (int tries = 0; tries < 2; tries++) {
		int fd = pid_fd(p, pid);

		if (fd < 0)
			return fd;
		if (pread(fd, out, want, (off_t)((addr >> 12) * 8)) ==
		    (ssize_t)want)
			return 0;
		/* gone, or a cached file of an earlier process of that pid */
		pagemap_forget(p, pid);
	}
	return -ESRCH;
}
