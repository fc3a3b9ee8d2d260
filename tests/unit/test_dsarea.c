/*
 * test_dsarea.c - PEBS-buffer discovery (agent/dsarea.c) end to end on
 * files laid out as the kernel lays them out: a kallsyms text, the 6.1
 * BTF fixture (tests/fixtures/kernel/btf-6.1-min), and a kcore of our
 * own making (an ELF core whose segments hold the kernel image, part of
 * the linear map and some vmalloc, with two CPUs' per-CPU areas,
 * __per_cpu_offset, x86_pmu and one PEBS buffer written where the
 * kernel has them).  Then each step broken in turn: the reason it gives.
 * The real kernel is the guest scenario's job (tests/sh/shim_vm.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vtier/util.h"
#include "dsarea.h"
#include "../test.h"

#define TEXT_VA		0xffffffff81000000ULL	/* _text */
#define TEXT_PA		0x1000000ULL
#define TEXT_OFF	0x10000ULL
#define RAM_VA		0xffff888004000000ULL	/* linear map of 64 MiB.. */
#define RAM_PA		0x4000000ULL
#define RAM_OFF		0x200000ULL
#define RAM_SIZE	(16 * MiB)
#define VMALLOC_VA	0xffffc90000000000ULL
#define VMALLOC_OFF	(RAM_OFF + RAM_SIZE)

#define PCPU_OFFSET	(TEXT_VA + 0x10000)		/* __per_cpu_offset */
#define X86_PMU		(TEXT_VA + 0x20000)
#define DEBUG_STORE	0x1000ULL			/* per-CPU symbols */
#define THIS_CPU_OFF	0x199e8ULL
#define HW_EVENTS	0x19c60ULL
#define AREA(cpu)	(RAM_VA + 0x100000 * (1 + (uint64_t)(cpu)))
#define PEBS_BUF	(RAM_VA + 0x800000)

static char dir[64];
static struct dsarea_paths paths;
static char p_kallsyms[128], p_btf[4096], p_kcore[128], p_cpus[128],
    p_kptr[128], p_lock[128];

static void
put_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write_all(fd, text, strlen(text)) < 0)
		abort();
	close(fd);
}

static void
put64(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* v (kernel virtual) to the fake kcore's file offset. */
static off_t
at(uint64_t v)
{
	if (v >= TEXT_VA)
		return (off_t)(TEXT_OFF + (v - TEXT_VA));
	if (v >= VMALLOC_VA)
		return (off_t)(VMALLOC_OFF + (v - VMALLOC_VA));
	return (off_t)(RAM_OFF + (v - RAM_VA));
}

static void
poke(int fd, uint64_t v, uint64_t val, int n)
{
	uint8_t b[8];

	put64(b, val, n);
	if (pwrite(fd, b, (size_t)n, at(v)) != n)
		abort();
}

static void
write_kcore(uint64_t pebs_buf, uint64_t cpu1_self, uint64_t bufsize)
{
	uint8_t h[64 + 4 * 56];
	struct { uint64_t va, pa, off, size; } seg[3] = {
		{ TEXT_VA, TEXT_PA, TEXT_OFF, MiB },
		{ RAM_VA, RAM_PA, RAM_OFF, RAM_SIZE },
		{ VMALLOC_VA, UINT64_MAX, VMALLOC_OFF, MiB },
	};
	int fd;

	memset(h, 0, sizeof(h));
	memcpy(h, "\177ELF\2\1\1", 7);
	put64(h + 16, 4, 2);			/* ET_CORE */
	put64(h + 18, 62, 2);			/* EM_X86_64 */
	put64(h + 20, 1, 4);
	put64(h + 32, 64, 8);			/* e_phoff */
	put64(h + 52, 64, 2);
	put64(h + 54, 56, 2);
	put64(h + 56, 4, 2);			/* a PT_NOTE and 3 PT_LOAD */
	put64(h + 64, 4, 4);			/* PT_NOTE */
	for (int i = 0; i < 3; i++) {
		uint8_t *p = h + 64 + 56 * (i + 1);

		put64(p, 1, 4);
		put64(p + 8, seg[i].off, 8);
		put64(p + 16, seg[i].va, 8);
		put64(p + 24, seg[i].pa, 8);
		put64(p + 32, seg[i].size, 8);
		put64(p + 40, seg[i].size, 8);
	}
	if ((fd = open(p_kcore, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0 ||
	    pwrite(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    ftruncate(fd, (off_t)(VMALLOC_OFF + MiB)) < 0)
		abort();
	for (int cpu = 0; cpu < 2; cpu++) {
		uint64_t off = AREA(cpu);	/* __per_cpu_start is 0 */

		poke(fd, PCPU_OFFSET + 8 * (uint64_t)cpu, off, 8);
		poke(fd, off + THIS_CPU_OFF, cpu == 1 ? cpu1_self : off, 8);
		poke(fd, off + HW_EVENTS + 2368, cpu == 0 ? pebs_buf : 0, 8);
	}
	poke(fd, X86_PMU + 384, bufsize, 4);
	close(fd);
}

static void
write_kallsyms(const char *text_addr, const char *skip)
{
	char buf[2048];
	size_t n = 0;
	static const char *const lines[] = {
		"0000000000000000 A __per_cpu_start",
		"0000000000001000 A cpu_debug_store",
		"00000000000199e8 A this_cpu_off",
		"0000000000019c60 A cpu_hw_events",
		"0000000000035000 A __per_cpu_end",
		"%s T _text",
		"ffffffff81010000 D __per_cpu_offset",
		"ffffffff81020000 D x86_pmu",
		"ffffffffc0401050 t x86_pmu\t[a_module]",
	};

	for (size_t i = 0; i < ARRAY_SIZE(lines); i++) {
		if (skip != NULL && strstr(lines[i], skip) != NULL)
			continue;
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, lines[i],
		    text_addr);
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\n");
	}
	put_file(p_kallsyms, buf);
}

static void
setup(void)
{
	const char *src = getenv("SRC");

	snprintf(dir, sizeof(dir), "/tmp/vtier-test-dsarea.%d", (int)getpid());
	if (mkdir(dir, 0700) < 0)
		abort();
	snprintf(p_kallsyms, sizeof(p_kallsyms), "%s/kallsyms", dir);
	snprintf(p_btf, sizeof(p_btf), "%s/tests/fixtures/kernel/btf-6.1-min",
	    src != NULL && *src ? src : ".");
	snprintf(p_kcore, sizeof(p_kcore), "%s/kcore", dir);
	snprintf(p_cpus, sizeof(p_cpus), "%s/possible", dir);
	snprintf(p_kptr, sizeof(p_kptr), "%s/kptr_restrict", dir);
	snprintf(p_lock, sizeof(p_lock), "%s/lockdown", dir);
	paths = (struct dsarea_paths){ p_kallsyms, p_btf, p_kcore, p_cpus,
	    p_kptr, p_lock };
	put_file(p_cpus, "0-1\n");
	put_file(p_kptr, "2\n");
	put_file(p_lock, "[none] integrity confidentiality\n");
	write_kallsyms("ffffffff81000000", NULL);
	write_kcore(PEBS_BUF, AREA(1), 64 * KiB);
}

static void
teardown(void)
{
	unlink(p_kallsyms);
	unlink(p_kcore);
	unlink(p_cpus);
	unlink(p_kptr);
	unlink(p_lock);
	rmdir(dir);
}

static void
test_found(void)
{
	struct dsarea_set s;
	struct dsarea_err e;
	struct dsarea *d;
	uint64_t v, gpa, val;

	setup();
	ASSERT_EQ(dsarea_discover(&paths, &s, &e), 0);
	ASSERT_EQ(s.ncpus, 2);
	ASSERT_EQ(s.nbuffers, 1);
	ASSERT_EQ(s.n, 3);
	ASSERT_EQ_U(s.r[0].gpa, RAM_PA + 0x100000 + DEBUG_STORE); /* CPU 0 */
	ASSERT_EQ_U(s.r[0].size, 4096);
	ASSERT_EQ_U(s.r[1].gpa, RAM_PA + 0x200000 + DEBUG_STORE); /* CPU 1 */
	ASSERT_EQ_U(s.r[2].gpa, RAM_PA + 0x800000);	/* CPU 0's buffer */
	ASSERT_EQ_U(s.r[2].size, 64 * KiB);
	ASSERT_EQ_U(s.bytes, 8 * KiB + 64 * KiB);
	dsarea_set_free(&s);

	/* the per-CPU translation the guest scenario checks from the host */
	ASSERT_EQ(dsarea_open(&d, &paths, &e), 0);
	ASSERT_EQ(dsarea_ncpus(d), 2);
	ASSERT_EQ(dsarea_cpu(d, 1), 1);
	ASSERT_EQ(dsarea_percpu(d, "this_cpu_off", 1, &v), 0);
	ASSERT_EQ_U(v, AREA(1) + THIS_CPU_OFF);
	ASSERT_EQ(dsarea_phys(d, v, 8, &gpa), 0);
	ASSERT_EQ_U(gpa, RAM_PA + 0x200000 + THIS_CPU_OFF);
	ASSERT_EQ(dsarea_read(d, v, &val, 8), 0);
	ASSERT_EQ_U(val, AREA(1));
	ASSERT_EQ(dsarea_percpu(d, "x86_pmu", 0, &v), -ENOENT);
	ASSERT_EQ(dsarea_percpu(d, "this_cpu_off", 2, &v), -ENOENT);
	dsarea_close(d);

	/* no PEBS event open: DS areas only, a page per CPU */
	write_kcore(0, AREA(1), 64 * KiB);
	ASSERT_EQ(dsarea_discover(&paths, &s, &e), 0);
	ASSERT_EQ(s.n, 2);
	ASSERT_EQ_U(s.bytes, 2 * 4096);
	ASSERT_EQ(s.nbuffers, 0);
	dsarea_set_free(&s);
	teardown();
}

/* Each step broken: the reason and the sentence it gives. */
static void
test_reasons(void)
{
	struct dsarea_set s;
	struct dsarea_err e;
	struct dsarea_paths p;

	setup();
	write_kallsyms("0000000000000000", NULL);	/* kptr_restrict = 2 */
	ASSERT_EQ(dsarea_discover(&paths, &s, &e), -EPERM);
	ASSERT_EQ(e.why, PROTO_PF_WHY_KALLSYMS);
	ASSERT_CONTAINS(e.msg, "shows no addresses (kernel.kptr_restrict = 2");
	write_kallsyms("ffffffff81000000", "D x86_pmu");
	ASSERT_EQ(dsarea_discover(&paths, &s, &e), -ENOENT);
	ASSERT_CONTAINS(e.msg, "symbol x86_pmu missing");
	write_kallsyms("ffffffff81000000", NULL);

	p = paths;
	p.btf = "/nonexistent/btf";
	ASSERT_EQ(dsarea_discover(&p, &s, &e), -ENOENT);
	ASSERT_EQ(e.why, PROTO_PF_WHY_BTF);
	ASSERT_CONTAINS(e.msg, "CONFIG_DEBUG_INFO_BTF");
	p = paths;
	p.btf = p_cpus;				/* not BTF at all */
	ASSERT_EQ(dsarea_discover(&p, &s, &e), -EINVAL);
	ASSERT_EQ(e.why, PROTO_PF_WHY_BTF);

	p = paths;
	p.kcore = "/nonexistent/kcore";
	ASSERT_EQ(dsarea_discover(&p, &s, &e), -ENOENT);
	ASSERT_EQ(e.why, PROTO_PF_WHY_KCORE);
	ASSERT_CONTAINS(e.msg, "CONFIG_PROC_KCORE");

	/* CPU 1's this_cpu_off does not read its offset back */
	write_kcore(PEBS_BUF, 0x1234, 64 * KiB);
	ASSERT_EQ(dsarea_discover(&paths, &s, &e), -EIO);
	ASSERT_EQ(e.why, PROTO_PF_WHY_LAYOUT);
	ASSERT_CONTAINS(e.msg, "CPU 1: this_cpu_off");
	/* a PEBS buffer in vmalloc space, or of an odd size */
	write_kcore(VMALLOC_VA, AREA(1), 64 * KiB);
	ASSERT_EQ(dsarea_discover(&paths, &s, &e), -ERANGE);
	ASSERT_CONTAINS(e.msg, "PEBS buffer at 0xffffc90000000000+65536");
	write_kcore(PEBS_BUF, AREA(1), 5000);
	ASSERT_EQ(dsarea_discover(&paths, &s, &e), -EINVAL);
	ASSERT_CONTAINS(e.msg, "pebs_buffer_size is 5000");
	/* more CPUs than __per_cpu_offset has readable entries for */
	write_kcore(PEBS_BUF, AREA(1), 64 * KiB);
	put_file(p_cpus, "0-1,3\n");
	ASSERT_EQ(dsarea_discover(&paths, &s, &e), -ERANGE);
	ASSERT_CONTAINS(e.msg, "CPU 3: this_cpu_off at 0x199e8");
	teardown();
}

int
main(void)
{
	RUN_TEST(test_found);
	RUN_TEST(test_reasons);
	TEST_EXIT();
}
