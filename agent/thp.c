/*
 * thp.c - THP detection through pagemap and kpageflags (see thp.h).
 *
 * pagemap entry (Documentation/admin-guide/mm/pagemap.rst): bit 63 page
 * present, bits 0-54 the page frame number (zero without CAP_SYS_ADMIN).
 * kpageflags: one u64 of KPF_* bits per frame; KPF_THP is bit 22.
 * Pagemap files are cached per pid (pagemap.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vtier/log.h"
#include "pagemap.h"
#include "thp.h"

#define KPF_THP		22

struct thp {
	struct pagemap *pm;
	int kpageflags;
	bool no_pfns;		/* pagemap hides frame numbers from us */
};

int
thp_open(struct thp **tp, const char *procfs)
{
	struct thp *t;
	char path[300];

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/kpageflags", procfs);
	if ((t->kpageflags = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		int err = -errno;

		free(t);
		return err;
	}
	if (pagemap_open(&t->pm, procfs) < 0) {
		close(t->kpageflags);
		free(t);
		return -ENOMEM;
	}
	*tp = t;
	return 0;
}

void
thp_close(struct thp *t)
{
	if (t == NULL)
		return;
	pagemap_close(t->pm);
	close(t->kpageflags);
	free(t);
}

void
thp_forget(struct thp *t, uint32_t pid)
{
	if (t != NULL)
		pagemap_forget(t->pm, pid);
}

int
thp_check(struct thp *t, uint32_t pid, uint64_t addr)
{
	uint64_t pm;
	int rc;

	if ((rc = pagemap_read(t->pm, pid, addr, &pm, 1)) < 0)
		return rc;
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
