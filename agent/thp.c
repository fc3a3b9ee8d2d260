/*
 * thp.c - THP detection through pagemap and kpageflags (see thp.h).
 *
 * pagemap entry (Documentation/admin-guide/mm/pagemap.rst): bit 63 page
 * present, bits 0-54 the page frame number (zero without CAP_SYS_ADMIN).
 * kpageflags: one u64 of KPF_* bits per frame; KPF_THP is bit 22.
 * Pagemap fds are cached per pid in a small direct-mapped table.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vtier/log.h"
#include "thp.h"

#define KPF_THP		22
#define CACHE		64

struct thp {
	char procfs[256];
	int kpageflags;
	struct { uint32_t pid; int fd; } cache[CACHE];
	bool no_pfns;		/* pagemap hides frame numbers from us */
};

int
thp_open(struct thp **tp, const char *procfs)
{
	struct thp *t;
	char path[300];

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	snprintf(t->procfs, sizeof(t->procfs), "%s", procfs);
	snprintf(path, sizeof(path), "%s/kpageflags", procfs);
	if ((t->kpageflags = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		int err = -errno;

		free(t);
		return err;
	}
	for (int i = 0; i < CACHE; i++)
		t->cache[i].fd = -1;
	*tp = t;
	return 0;
}

void
thp_close(struct thp *t)
{
	if (t == NULL)
		return;
	for (int i = 0; i < CACHE; i++)
		if (t->cache[i].fd >= 0)
			close(t->cache[i].fd);
	close(t->kpageflags);
	free(t);
}

static int
pagemap_fd(struct thp *t, uint32_t pid)
{
	unsigned i = (pid * 2654435761u) % CACHE;
	char path[300];

	if (t->cache[i].fd >= 0 && t->cache[i].pid == pid)
		return t->cache[i].fd;
	if (t->cache[i].fd >= 0)
		close(t->cache[i].fd);
	t->cache[i].fd = -1;
	snprintf(path, sizeof(path), "%s/%u/pagemap", t->procfs, pid);
	if ((t->cache[i].fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	t->cache[i].pid = pid;
	return t->cache[i].fd;
}

void
thp_forget(struct thp *t, uint32_t pid)
{
	unsigned i = (pid * 2654435761u) % CACHE;

	if (t != NULL && t->cache[i].fd >= 0 && t->cache[i].pid == pid) {
		close(t->cache[i].fd);
		t->cache[i].fd = -1;
	}
}

int
thp_check(struct thp *t, uint32_t pid, uint64_t addr)
{
	uint64_t pm;
	int fd = pagemap_fd(t, pid);

	if (fd < 0)
		return fd;
	if (pread(fd, &pm, sizeof(pm), (off_t)((addr >> 12) * 8)) !=
	    (ssize_t)sizeof(pm)) {
		thp_forget(t, pid);	/* gone, or reused: reopen next time */
		return -ESRCH;
	}
	if (!(pm & PAGEMAP_PRESENT))
		return 0;
	if ((pm & PAGEMAP_PFN_MASK) == 0) {
		/*
		 * A present page with frame number 0: the kernel hides frame
		 * numbers from readers without CAP_SYS_ADMIN (pagemap_read),
		 * so no page will ever look huge.  Say so once.
		 */
		if (!t->no_pfns)
			log_warnx("THP detection is off: /proc/PID/pagemap shows "
			    "no frame numbers without CAP_SYS_ADMIN; huge pages "
			    "are tracked as 4 KiB pages ([heat] thp = no "
			    "silences this)");
		t->no_pfns = true;
		return 0;
	}
	return thp_frame(t, pm & PAGEMAP_PFN_MASK);
}

int
thp_frame(struct thp *t, uint64_t pfn)
{
	uint64_t flags;

	if (pread(t->kpageflags, &flags, sizeof(flags), (off_t)(pfn * 8)) !=
	    (ssize_t)sizeof(flags))
		return -EIO;
	return (int)((flags >> KPF_THP) & 1);
}
