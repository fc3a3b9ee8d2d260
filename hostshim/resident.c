/*
 * resident.c - the host memory behind each VM's backing ranges: what an
 * operator compares with the VM's budget (README "Host memory behind the
 * budget").
 *
 * A range's residency is the bytes of its file window that hold memory
 * (RAM, or swap for tmpfs): the allocated extents, found with
 * lseek(SEEK_DATA) / lseek(SEEK_HOLE) (tmpfs, ext4, xfs, btrfs), or, for
 * a range that is its whole file, st_blocks (what du says), one fstat.
 * Both read the file's extent or page-cache index, never the pages, and
 * touch nothing: no mapping, no page walk of the file, no fault.  A file
 * system without SEEK_DATA (hugetlbfs) counts every byte of a partial
 * range as data; a whole-file range is still exact there.  A window with
 * more than RESIDENT_MAX_EXTENTS extents counts its remainder as resident
 * (an upper bound; free page reporting leaves extents of 2 MiB or more).
 *
 * Refreshed when the VMs are listed (vtierctl vms, metrics), at most
 * every RESIDENT_REFRESH_NS per VM: no cost while nobody asks, and a
 * bounded one when someone asks often.  It opens the backing files
 * read-only and closes them again; it never changes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "hostshim.h"

int
resident_range(int fd, uint64_t off, uint64_t len, uint64_t *bytes)
{
	uint64_t end = off + len, pos = off, n = 0;
	struct stat st;

	if (len == 0 || end < off)
		return len == 0 ? (*bytes = 0, 0) : -EINVAL;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (off == 0 && (uint64_t)st.st_size <= end) {
		*bytes = (uint64_t)st.st_blocks * 512;
		return 0;
	}
	end = MIN(end, (uint64_t)st.st_size);
	for (unsigned ext = 0; pos < end; ext++) {
		off_t d, h;

		if (ext == RESIDENT_MAX_EXTENTS) {
			n += end - pos;	/* an upper bound, said in the header */
			break;
		}
		if ((d = lseek(fd, (off_t)pos, SEEK_DATA)) < 0) {
			if (errno == ENXIO)	/* no data from pos on */
				break;
			return -errno;
		}
		if ((uint64_t)d >= end)
			break;
		if ((h = lseek(fd, d, SEEK_HOLE)) < 0)
			return -errno;
		n += MIN((uint64_t)h, end) - (uint64_t)d;
		pos = (uint64_t)h;
	}
	*bytes = n;
	return 0;
}

void
resident_refresh(struct vm *vm, uint64_t now)
{
	const struct vm_config *vc = &vm->cfg;
	uint64_t total = 0;
	bool known = false;

	if (vm->resident_ns != 0 && now - vm->resident_ns < RESIDENT_REFRESH_NS)
		return;
	vm->resident_ns = now;
	for (int i = 0; i < vc->nbacking; i++) {
		const struct backing *b = &vc->backing[i];
		int fd, rc;

		vm->resident[i] = RESIDENT_UNKNOWN;
		/* O_NOFOLLOW as prefault.c: the configured path, no link */
		if ((fd = open(b->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
			log_debug("VM %s: backing %s: %s", vc->name, b->path,
			    strerror(errno));
			continue;
		}
		rc = resident_range(fd, b->offset, b->size, &vm->resident[i]);
		close(fd);
		if (rc < 0) {
			vm->resident[i] = RESIDENT_UNKNOWN;
			log_debug("VM %s: backing %s: %s", vc->name, b->path,
			    strerror(-rc));
			continue;
		}
		total += vm->resident[i];
		known = true;
	}
	vm->resident_total = known ? total : RESIDENT_UNKNOWN;
}

void
resident_refresh_all(struct vmtab *t, uint64_t now)
{
	for (size_t i = 0; i < t->n; i++)
		resident_refresh(t->v[i], now);
}
