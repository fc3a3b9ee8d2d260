/*
 * test_shim_resident.c - the host memory behind backing ranges, on real
 * tmpfs files (/dev/shm, where VM memory lives): a file with scattered
 * 4 KiB pages, whole 2 MiB blocks and punched holes (what QEMU does with
 * reported free pages) read as 1 range and as 16 agrees with st_blocks
 * (what du says), a partial window counts exactly its pages, a refresh
 * comes at most every RESIDENT_REFRESH_NS, and a missing file is unknown,
 * not zero.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "../../hostshim/hostshim.h"
#include "../test.h"

#define PG	4096ULL
#define FILE_SZ	(64 * MiB)
#define SEC	1000000000ULL

static char path[64];

static int
make_file(void)
{
	char page[PG];
	int fd;

	snprintf(path, sizeof(path), "/dev/shm/vtier-test-res.%d", getpid());
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return -1;
	if (ftruncate(fd, (off_t)FILE_SZ) < 0)
		goto err;
	memset(page, 0x5a, sizeof(page));
	/* every 3rd page of the first 16 MiB, every 7th of the next 16 */
	for (uint64_t o = 0; o < 16 * MiB; o += 3 * PG)
		if (pwrite(fd, page, PG, (off_t)o) != (ssize_t)PG)
			goto err;
	for (uint64_t o = 16 * MiB; o < 32 * MiB; o += 7 * PG)
		if (pwrite(fd, page, PG, (off_t)o) != (ssize_t)PG)
			goto err;
	/* 32..48 MiB written whole, then 2 MiB blocks punched out of it */
	for (uint64_t o = 32 * MiB; o < 48 * MiB; o += PG)
		if (pwrite(fd, page, PG, (off_t)o) != (ssize_t)PG)
			goto err;
	for (uint64_t o = 32 * MiB; o < 48 * MiB; o += 6 * MiB)
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		    (off_t)o, (off_t)(2 * MiB)) < 0)
			goto err;
	return fd;
err:
	close(fd);
	unlink(path);
	return -1;
}

static uint64_t
blocks_bytes(int fd)
{
	struct stat st;

	return fstat(fd, &st) < 0 ? 0 : (uint64_t)st.st_blocks * 512;
}

/* within 1% of each other */
static int
close_to(uint64_t a, uint64_t b)
{
	uint64_t d = a > b ? a - b : b - a;

	return d * 100 <= MAX(a, b);
}

static void
test_ranges(void)
{
	uint64_t whole, sum = 0, n;
	int fd = make_file();

	ASSERT_TRUE(fd >= 0);
	if (fd < 0)
		return;
	/* one range, the whole file: st_blocks itself */
	ASSERT_EQ(resident_range(fd, 0, FILE_SZ, &whole), 0);
	ASSERT_EQ_U(whole, blocks_bytes(fd));
	ASSERT_TRUE(whole > 16 * MiB && whole < 32 * MiB);
	/* sixteen ranges of 4 MiB: their extents add up to it */
	for (int i = 0; i < 16; i++) {
		ASSERT_EQ(resident_range(fd, (uint64_t)i * 4 * MiB, 4 * MiB,
		    &n), 0);
		sum += n;
	}
	ASSERT_TRUE(close_to(sum, blocks_bytes(fd)));
	/* a window counts exactly its pages: every 3rd of 8 MiB = 683 */
	ASSERT_EQ(resident_range(fd, PG, 8 * MiB, &n), 0);
	ASSERT_EQ_U(n, 682 * PG);
	/* the punched 2 MiB at 32 MiB, and the written page after it */
	ASSERT_EQ(resident_range(fd, 32 * MiB, 2 * MiB + PG, &n), 0);
	ASSERT_EQ_U(n, PG);
	/* an empty window, one past the end */
	ASSERT_EQ(resident_range(fd, 48 * MiB, 16 * MiB, &n), 0);
	ASSERT_EQ_U(n, 0);
	ASSERT_EQ(resident_range(fd, FILE_SZ, 4 * MiB, &n), 0);
	ASSERT_EQ_U(n, 0);
	close(fd);
	unlink(path);
}

static void
test_refresh(void)
{
	struct shim_config cfg;
	struct vm_config vc;
	struct vmtab tab;
	struct vm *vm;
	char page[PG];
	uint64_t t = 10 * SEC, before;
	int fd = make_file();

	ASSERT_TRUE(fd >= 0);
	if (fd < 0)
		return;
	memset(&vc, 0, sizeof(vc));
	snprintf(vc.name, sizeof(vc.name), "r");
	for (int i = 0; i < 16; i++) {
		struct backing *b = &vc.backing[vc.nbacking++];

		snprintf(b->path, sizeof(b->path), "%s", path);
		b->offset = (uint64_t)i * 4 * MiB;
		b->gpa = b->offset;
		b->size = 4 * MiB;
	}
	config_defaults(&cfg);
	cfg.vms = &vc;
	cfg.nvms = 1;
	ASSERT_EQ(budget_init(&tab, &cfg), 0);
	vm = tab.v[0];
	ASSERT_EQ_U(vm->resident_total, RESIDENT_UNKNOWN);
	resident_refresh_all(&tab, t);
	ASSERT_TRUE(close_to(vm->resident_total, blocks_bytes(fd)));
	ASSERT_EQ_U(vm->resident[4], 147 * PG);
	ASSERT_EQ_U(vm->resident[8], 2 * MiB);
	before = vm->resident_total;
	/* 1 MiB more: not seen before RESIDENT_REFRESH_NS has passed */
	memset(page, 1, sizeof(page));
	for (uint64_t o = 48 * MiB; o < 49 * MiB; o += PG)
		ASSERT_EQ(pwrite(fd, page, PG, (off_t)o), (ssize_t)PG);
	resident_refresh(vm, t + RESIDENT_REFRESH_NS - 1);
	ASSERT_EQ_U(vm->resident_total, before);
	resident_refresh(vm, t + RESIDENT_REFRESH_NS);
	ASSERT_EQ_U(vm->resident_total, before + 1 * MiB);
	ASSERT_EQ_U(vm->resident[12], 1 * MiB);
	/* the file gone: unknown, not 0 */
	unlink(path);
	close(fd);
	resident_refresh(vm, t + 3 * RESIDENT_REFRESH_NS);
	ASSERT_EQ_U(vm->resident[0], RESIDENT_UNKNOWN);
	ASSERT_EQ_U(vm->resident_total, RESIDENT_UNKNOWN);
	budget_free(&tab);
}

int
main(void)
{
	log_init("test_shim_resident", LOG_LVL_ERR);
	RUN_TEST(test_ranges);
	RUN_TEST(test_refresh);
	TEST_EXIT();
}
