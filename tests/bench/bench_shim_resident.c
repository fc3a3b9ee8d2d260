/*
 * bench_shim_resident.c - what the shim's host residency figure costs
 * per refresh (hostshim/resident.c), beside a baseline measured in the
 * same run: a full mincore(2) walk of the same file (map it, one
 * mincore over the mapping, count).  The file: 1 GiB on /dev/shm, as a
 * guest's RAM after free page reporting: every other 2 MiB block
 * punched out, and in the rest a 4 KiB hole every 64 KiB (fragments the
 * guest did not report).  Measured: the whole file as 1 range (fstat
 * st_blocks) and as 16 ranges (SEEK_DATA/SEEK_HOLE), best of REPS, and
 * the figures checked against st_blocks.  Exits 0 either way: the
 * verdict is printed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "../../hostshim/hostshim.h"

#define SZ	(1024 * MiB)
#define PG	4096ULL
#define REPS	5

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
fill(int fd)
{
	static char buf[2 * MiB];

	memset(buf, 0x5a, sizeof(buf));
	for (uint64_t o = 0; o < SZ; o += sizeof(buf))
		if (pwrite(fd, buf, sizeof(buf), (off_t)o) != (ssize_t)sizeof(buf))
			return -1;
	for (uint64_t o = 0; o < SZ; o += 4 * MiB)
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		    (off_t)o, (off_t)(2 * MiB)) < 0)
			return -1;
	for (uint64_t o = 2 * MiB; o < SZ; o += 64 * 1024)
		if ((o / (2 * MiB)) % 2 == 1 && fallocate(fd,
		    FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)o,
		    (off_t)PG) < 0)
			return -1;
	return 0;
}

static uint64_t
by_mincore(int fd)
{
	static unsigned char vec[SZ / PG];
	uint64_t n = 0;
	void *p;

	if ((p = mmap(NULL, SZ, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED)
		return 0;
	if (mincore(p, SZ, vec) == 0)
		for (size_t i = 0; i < SZ / PG; i++)
			n += vec[i] & 1;
	munmap(p, SZ);
	return n * PG;
}

static uint64_t
by_ranges(int fd, int nr)
{
	uint64_t sum = 0, part = SZ / (uint64_t)nr, n;

	for (int i = 0; i < nr; i++) {
		if (resident_range(fd, (uint64_t)i * part, part, &n) < 0)
			return 0;
		sum += n;
	}
	return sum;
}

int
main(void)
{
	char path[64];
	double best[3] = { 1e9, 1e9, 1e9 }, t;
	uint64_t got[3] = { 0 }, blocks;
	struct stat st;
	int fd;

	log_init("bench_shim_resident", LOG_LVL_ERR);
	snprintf(path, sizeof(path), "/dev/shm/vtier-bench-res.%d", getpid());
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
	    ftruncate(fd, (off_t)SZ) < 0 || fill(fd) < 0) {
		perror(path);
		unlink(path);
		return 1;
	}
	fstat(fd, &st);
	blocks = (uint64_t)st.st_blocks * 512;
	for (int r = 0; r < REPS; r++) {
		t = now_s();
		got[0] = by_mincore(fd);
		best[0] = MIN(best[0], now_s() - t);
		t = now_s();
		got[1] = by_ranges(fd, 1);
		best[1] = MIN(best[1], now_s() - t);
		t = now_s();
		got[2] = by_ranges(fd, 16);
		best[2] = MIN(best[2], now_s() - t);
	}
	close(fd);
	unlink(path);
	printf("bench_shim_resident: 1 GiB tmpfs file, %llu MiB resident "
	    "(st_blocks), %llu extents\n", (unsigned long long)(blocks >> 20),
	    (unsigned long long)(SZ / (4 * MiB) * 32));
	printf("  baseline mincore walk     %9.3f ms  %llu MiB\n",
	    best[0] * 1e3, (unsigned long long)(got[0] >> 20));
	printf("  1 range (st_blocks)       %9.3f ms  %llu MiB  %.0fx faster\n",
	    best[1] * 1e3, (unsigned long long)(got[1] >> 20),
	    best[0] / best[1]);
	printf("  16 ranges (SEEK_DATA)     %9.3f ms  %llu MiB  %.1fx faster\n",
	    best[2] * 1e3, (unsigned long long)(got[2] >> 20),
	    best[0] / best[2]);
	printf("  verdict: %s\n", got[1] == blocks && got[2] == blocks &&
	    got[0] == blocks && best[2] < best[0] ? "ok (exact, cheaper than "
	    "mincore)" : "CHECK (figures differ, or not cheaper)");
	return 0;
}
