/*
 * prefault.c - pin the host memory behind a guest's PEBS buffers.
 *
 * The agent sends a set of guest-physical ranges (one PREFAULT, or
 * PREFAULT_PART frames gathered by session.c).  Each range must lie
 * wholly inside the VM's configured backing ranges ("backing =
 * PATH:OFFSET@GPA+SIZE", the files a QEMU memory-backend-file/memfd with
 * share=on uses) and the request must be within the VM's prefault_cap;
 * otherwise it is refused before anything is opened (prefault_plan is
 * pure).  An accepted request is translated GPA -> file offset, each
 * piece's file window is mapped MAP_SHARED, populated with
 * MADV_POPULATE_WRITE and mlock()ed, in chunks so that the one event
 * loop keeps serving other VMs while gigabytes are pinned.  The
 * mappings are kept: a PREFAULT replaces the VM's pinned set (windows
 * already pinned stay, the rest are released once the new set is
 * complete), and the set is released on BYE, when the VM is removed or
 * its backing changes on reload, and at exit.
 *
 * What this does and does not do, honestly:
 *  - Locked pages of the backing file stay resident: the host does not
 *    reclaim or swap them (tmpfs/shmem pages are swappable otherwise).
 *    KSM merges only anonymous private memory marked MADV_MERGEABLE, so
 *    a share=on backend is never KSM-merged in the first place; the pin
 *    adds nothing there.  mlock does not stop page migration: with
 *    vm.compact_unevictable_allowed = 1 (the default) compaction may
 *    still move a locked page, which zaps its EPT entry.  Set it to 0 on
 *    hosts that rely on this (main.c warns when it is 1).
 *  - It does not create EPT entries.  Only the VMM process can pre-fault
 *    the guest's EPT (KVM_PRE_FAULT_MEMORY is a vCPU ioctl on the VMM's
 *    own vCPU fds).  What keeps the PEBS area present is this pin plus
 *    the guest kernel zeroing the buffer when it allocates it (ds.c,
 *    dsalloc_pages): the guest's own writes build the EPT entries, and
 *    the pin stops the host from tearing them down by reclaim.
 *  - Upstream KVM exposes guest PEBS only with EPT-friendly PEBS (Ice
 *    Lake server and later, vmx_pebs_supported()), which needs no help.
 *    The pin is for KVMs that allow guest PEBS on older CPUs, and a
 *    cheap safety margin elsewhere.
 *  - Each pinned window is its own mapping, and mlock keeps it a VMA of
 *    its own: a set of a few pages per vCPU costs the shim about one
 *    mapping per range (vm.max_map_count, 65530 by default, bounds them
 *    all; a set has at most PROTO_MAX_SET_RANGES).
 *  - mlock needs CAP_IPC_LOCK or a large enough RLIMIT_MEMLOCK
 *    (LimitMEMLOCK=infinity under systemd); otherwise PREFAULT_DONE
 *    carries -EPERM/-ENOMEM and nothing stays pinned.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "hostshim.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23		/* Linux 5.14 */
#endif

#define PF_CHUNK	(16 * MiB)	/* populate + mlock per call */

/*
 * mlock and munlock as system calls: AddressSanitizer intercepts the
 * libc functions and turns them into no-ops (its shadow memory cannot be
 * locked), which would make the sanitizer build test nothing.
 */
static int
lock(void *addr, size_t len)
{
	return (int)syscall(SYS_mlock, addr, len);
}

static void
unlock(void *addr, size_t len)
{
	syscall(SYS_munlock, addr, len);
}

struct pf_job {
	struct pin *pins;		/* the new set, in plan order */
	bool *reused;			/* pins[i] is one of vm->pins */
	size_t npins;
	bool *kept;			/* vm->pins[i] is in the new set */
	size_t cur;			/* first pin not done */
	uint64_t start_ns;
};

static bool populate_unsupported;	/* kernel before 5.14: mlock faults */
static size_t njobs;			/* jobs of all VMs, for the loop */

int
prefault_translate(const struct vm_config *vc, uint64_t gpa, int *idx,
    uint64_t *off, uint64_t *avail)
{
	for (int i = 0; i < vc->nbacking; i++) {
		const struct backing *b = &vc->backing[i];

		if (gpa >= b->gpa && gpa - b->gpa < b->size) {
			*idx = i;
			*off = b->offset + (gpa - b->gpa);
			*avail = b->size - (gpa - b->gpa);
			return 0;
		}
	}
	return -ERANGE;
}

int
prefault_plan(const struct vm_config *vc, const struct proto_range *r,
    size_t n, struct pf_plan *plan, char *why, size_t whylen)
{
	char a[32], b[32];
	size_t room;

	plan->seg = NULL;
	plan->nseg = 0;
	plan->total = 0;
	if (vc->nbacking == 0) {
		snprintf(why, whylen, "no backing memory configured for VM %s",
		    vc->name);
		return -ENOENT;
	}
	if (n == 0 || n > PROTO_MAX_SET_RANGES) {
		snprintf(why, whylen, "%zu ranges (1 to %d)", n,
		    PROTO_MAX_SET_RANGES);
		return -EINVAL;		/* session.c never lets this by */
	}
	room = n + (size_t)vc->nbacking;
	if ((plan->seg = calloc(room, sizeof(*plan->seg))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t gpa = r[i].gpa, left = r[i].size;

		plan->total += left;	/* < 16384 * 2^52: no overflow */
		while (left > 0) {
			struct pf_seg *sg;
			uint64_t off, avail;
			int idx;

			if (prefault_translate(vc, gpa, &idx, &off, &avail) < 0 ||
			    plan->nseg == room) {
				snprintf(why, whylen, "GPA 0x%llx+0x%llx is not "
				    "inside the VM's memory",
				    (unsigned long long)r[i].gpa,
				    (unsigned long long)r[i].size);
				plan->nseg = 0;
				return -ERANGE;
			}
			sg = &plan->seg[plan->nseg++];
			sg->backing = idx;
			sg->gpa = gpa;
			sg->off = off;
			sg->len = MIN(left, avail);
			gpa += sg->len;
			left -= sg->len;
		}
	}
	if (plan->total > vc->prefault_cap) {
		format_size(plan->total, a, sizeof(a));
		format_size(vc->prefault_cap, b, sizeof(b));
		snprintf(why, whylen, "%s asked for, prefault_cap is %s", a, b);
		plan->nseg = 0;
		return -E2BIG;
	}
	return 0;
}

void
prefault_plan_free(struct pf_plan *plan)
{
	free(plan->seg);
	plan->seg = NULL;
	plan->nseg = 0;
}

static void
unpin(struct pin *p)
{
	if (p->addr == NULL)
		return;
	/* munmap alone unlocks; munlock first says what we mean. */
	unlock(p->addr, p->done);
	munmap(p->addr, p->len);
	p->addr = NULL;
	p->done = 0;
}

static void
job_free(struct pf_job *j)
{
	if (j == NULL)
		return;
	free(j->pins);
	free(j->reused);
	free(j->kept);
	free(j);
}

/* Map one segment's file window.  Nothing is faulted in yet. */
static int
map_seg(const struct backing *b, const struct pf_seg *sg, struct pin *p)
{
	struct stat st;
	uint64_t off = sg->off, stop = sg->off + sg->len, align;
	void *addr;
	int fd, rc;

	if ((fd = open(b->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		rc = -errno;
		log_warnx("pre-fault: %s: %s", b->path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("pre-fault: %s is not a regular file", b->path);
		rc = -EINVAL;
		goto out;
	}
	/* hugetlbfs maps whole huge pages (its st_blksize); tmpfs 4 KiB */
	align = (uint64_t)st.st_blksize;
	if (align > PROTO_PAGE_SIZE && align <= GiB && (align & (align - 1)) == 0) {
		off = off / align * align;
		stop = (stop + align - 1) / align * align;
	}
	if ((uint64_t)st.st_size < stop) {
		log_warnx("pre-fault: %s is %lld bytes, smaller than its "
		    "configured range (to 0x%llx)", b->path,
		    (long long)st.st_size, (unsigned long long)stop);
		rc = -ERANGE;
		goto out;
	}
	addr = mmap(NULL, stop - off, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    (off_t)off);
	if (addr == MAP_FAILED) {
		rc = -errno;
		log_warnx("pre-fault: mmap %s: %s", b->path, strerror(-rc));
		goto out;
	}
	snprintf(p->path, sizeof(p->path), "%s", b->path);
	p->off = off;
	p->len = stop - off;
	p->addr = addr;
	p->done = 0;
	rc = 0;
out:
	close(fd);
	return rc;
}

int
prefault_start(struct vm *vm, const struct pf_plan *plan)
{
	struct pf_job *j;
	int rc = -ENOMEM;

	if (vm->job != NULL)
		return -EBUSY;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return -ENOMEM;
	if ((j->pins = calloc(MAX(plan->nseg, 1), sizeof(*j->pins))) == NULL ||
	    (j->reused = calloc(MAX(plan->nseg, 1), sizeof(bool))) == NULL ||
	    (j->kept = calloc(MAX(vm->npins, 1), sizeof(bool))) == NULL)
		goto err;
	for (size_t i = 0; i < plan->nseg; i++) {
		const struct pf_seg *sg = &plan->seg[i];
		const struct backing *b = &vm->cfg.backing[sg->backing];
		size_t k;

		/* Already pinned exactly so: carried over, not touched. */
		for (k = 0; k < vm->npins; k++)
			if (!j->kept[k] && vm->pins[k].off == sg->off &&
			    vm->pins[k].len == sg->len &&
			    vm->pins[k].done == vm->pins[k].len &&
			    strcmp(vm->pins[k].path, b->path) == 0)
				break;
		if (k < vm->npins) {
			j->pins[i] = vm->pins[k];
			j->reused[i] = true;
			j->kept[k] = true;
		} else if ((rc = map_seg(b, sg, &j->pins[i])) < 0) {
			goto err;
		}
		j->npins = i + 1;
	}
	j->start_ns = now_ns();
	vm->job = j;
	njobs++;
	return 0;
err:
	for (size_t i = 0; i < j->npins; i++)
		if (!j->reused[i])
			unpin(&j->pins[i]);
	job_free(j);
	return rc;
}

/*
 * The job is over: swap the sets (or drop the new one).  The outcome is
 * left in vm (pf_status, pinned) for whoever asked (session.c).
 */
static void
job_end(struct vm *vm, int status)
{
	struct pf_job *j = vm->job;
	uint64_t total = 0, ms;
	char b[32];

	vm->job = NULL;
	njobs--;
	if (status == 0) {
		for (size_t k = 0; k < vm->npins; k++)
			if (!j->kept[k])
				unpin(&vm->pins[k]);
		free(vm->pins);
		vm->pins = j->pins;
		vm->npins = j->npins;
		j->pins = NULL;
		for (size_t i = 0; i < vm->npins; i++)
			total += vm->pins[i].done;
		vm->pinned = total;
		vm->pf_count++;
		ms = (now_ns() - j->start_ns) / 1000000ULL;
		format_size(total, b, sizeof(b));
		log_info("VM %s: pre-fault done: %s pinned in %zu range%s "
		    "(%llu ms)", vm->cfg.name, b, vm->npins,
		    vm->npins == 1 ? "" : "s", (unsigned long long)ms);
	} else {
		for (size_t i = 0; i < j->npins; i++)
			if (!j->reused[i])
				unpin(&j->pins[i]);
		log_warnx("VM %s: pre-fault failed: %s%s", vm->cfg.name,
		    strerror(-status), status == -EPERM || status == -ENOMEM ||
		    status == -EAGAIN ? " (mlock needs CAP_IPC_LOCK or "
		    "LimitMEMLOCK=infinity)" : "");
	}
	vm->pf_status = status;
	vm->resident_ns = 0;	/* it populated pages: read afresh */
	job_free(j);
}

int
prefault_step(struct vm *vm, uint64_t max_bytes)
{
	struct pf_job *j = vm->job;

	if (j == NULL)
		return 0;
	while (j->cur < j->npins && max_bytes > 0) {
		struct pin *p = &j->pins[j->cur];
		uint64_t n = MIN(MIN(p->len - p->done, max_bytes), PF_CHUNK);
		char *addr = (char *)p->addr + p->done;

		if (n == 0) {
			j->cur++;
			continue;
		}
		if (!populate_unsupported &&
		    madvise(addr, n, MADV_POPULATE_WRITE) < 0) {
			if (errno != EINVAL) {
				job_end(vm, -errno);
				return 0;
			}
			/* Before Linux 5.14: mlock below faults the pages in
			 * (read faults, which on shmem allocate them too). */
			populate_unsupported = true;
			log_info("pre-fault: no MADV_POPULATE_WRITE in this "
			    "kernel; mlock faults the pages in");
		}
		if (lock(addr, n) < 0) {
			job_end(vm, -errno);
			return 0;
		}
		p->done += n;
		max_bytes -= n;
		if (p->done == p->len)
			j->cur++;
	}
	if (j->cur < j->npins)
		return 1;
	job_end(vm, 0);
	return 0;
}

size_t
prefault_jobs(void)
{
	return njobs;
}

void
prefault_finish(struct vm *vm)
{
	while (prefault_step(vm, UINT64_MAX) == 1)
		;
}

void
prefault_release(struct vm *vm)
{
	if (vm->job != NULL)
		job_end(vm, -ECANCELED);
	for (size_t k = 0; k < vm->npins; k++)
		unpin(&vm->pins[k]);
	free(vm->pins);
	vm->pins = NULL;
	vm->npins = 0;
	vm->pinned = 0;
}
