/*
 * test_perf_ring.c - the perf ring reader: the sample parser and level
 * decoder on hand-made records, a ring in plain memory with records
 * that wrap, are cut short or lie about their size, and then REAL
 * software events on this host (PERF_COUNT_SW_PAGE_FAULTS, period 1):
 * first-touch faults of a fresh buffer, a one-page ring forced to wrap
 * and to lose records, samples fed into the heat table, and a per-CPU
 * system-wide set driven through the hardware samplers' glue.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "heat.h"
#include "perf_ring.h"
#include "probe.h"
#include "../test.h"

#define PAGE	4096

/* ---- hand-made records ---- */

struct rec {
	unsigned char b[512];
	size_t n;
};

static void
put64(struct rec *r, uint64_t v)
{
	memcpy(r->b + r->n, &v, 8);
	r->n += 8;
}

static void
put32x2(struct rec *r, uint32_t a, uint32_t b)
{
	memcpy(r->b + r->n, &a, 4);
	memcpy(r->b + r->n + 4, &b, 4);
	r->n += 8;
}

#define ALL_FIXED (PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP |		\
	PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_ADDR |		\
	PERF_SAMPLE_ID | PERF_SAMPLE_STREAM_ID | PERF_SAMPLE_CPU |	\
	PERF_SAMPLE_PERIOD | PERF_SAMPLE_CALLCHAIN | PERF_SAMPLE_RAW |	\
	PERF_SAMPLE_WEIGHT_STRUCT | PERF_SAMPLE_DATA_SRC |		\
	PERF_SAMPLE_TRANSACTION | PERF_SAMPLE_PHYS_ADDR |		\
	PERF_SAMPLE_CGROUP | PERF_SAMPLE_DATA_PAGE_SIZE |		\
	PERF_SAMPLE_CODE_PAGE_SIZE)

/* A body for ALL_FIXED, in the kernel's order, with distinct values. */
static void
body_all(struct rec *r, uint64_t callchain_nr, uint32_t raw_size)
{
	r->n = 0;
	put64(r, 0x1d);			/* IDENTIFIER */
	put64(r, 0x401000);		/* IP */
	put32x2(r, 42, 43);		/* TID */
	put64(r, 123456789);		/* TIME */
	put64(r, 0x7f0000001234);	/* ADDR */
	put64(r, 0x1d);			/* ID */
	put64(r, 77);			/* STREAM_ID */
	put32x2(r, 3, 0);		/* CPU */
	put64(r, 10007);		/* PERIOD */
	put64(r, callchain_nr);		/* CALLCHAIN */
	for (uint64_t i = 0; i < callchain_nr && i < 4; i++)
		put64(r, 0xffffffff81000000ULL + i);
	memcpy(r->b + r->n, &raw_size, 4);	/* RAW */
	r->n += 4;
	memset(r->b + r->n, 0xab, 4);
	r->n += 4;
	put64(r, 0x0005000000000123ULL);	/* WEIGHT_STRUCT: var1 0x123 */
	put64(r, ((uint64_t)PERF_MEM_LVLNUM_CXL << PERF_MEM_LVLNUM_SHIFT) |
	    ((uint64_t)PERF_MEM_OP_LOAD << PERF_MEM_OP_SHIFT));	/* DATA_SRC */
	put64(r, 0);			/* TRANSACTION */
	put64(r, 0x123456000);		/* PHYS_ADDR */
	put64(r, 9);			/* CGROUP */
	put64(r, 4096);			/* DATA_PAGE_SIZE */
	put64(r, 2 << 20);		/* CODE_PAGE_SIZE */
}

static void
test_parse(void)
{
	struct perf_ring_sample s;
	struct rec r;

	body_all(&r, 2, 4);
	ASSERT_EQ(perf_ring_parse_sample(ALL_FIXED, r.b, r.n, &s), 0);
	ASSERT_EQ_U(s.id, 0x1d);
	ASSERT_EQ_U(s.ip, 0x401000);
	ASSERT_EQ(s.pid, 42);
	ASSERT_EQ(s.tid, 43);
	ASSERT_EQ_U(s.time, 123456789);
	ASSERT_EQ_U(s.addr, 0x7f0000001234ULL);
	ASSERT_EQ_U(s.stream_id, 77);
	ASSERT_EQ(s.cpu, 3);
	ASSERT_EQ_U(s.period, 10007);
	ASSERT_EQ_U(s.weight, 0x123);
	ASSERT_EQ_U(s.phys_addr, 0x123456000);
	ASSERT_EQ_U(s.cgroup, 9);
	ASSERT_EQ_U(s.data_page_size, 4096);
	ASSERT_EQ_U(s.code_page_size, 2 << 20);
	/* every shorter body is refused, never read past */
	for (size_t n = 0; n < r.n; n++)
		ASSERT_EQ(perf_ring_parse_sample(ALL_FIXED, r.b, n, &s),
		    -EINVAL);
	/* a callchain or raw size that points past the record */
	body_all(&r, 1ULL << 60, 4);
	ASSERT_EQ(perf_ring_parse_sample(ALL_FIXED, r.b, r.n, &s), -EINVAL);
	body_all(&r, 2, 0xfffffff0u);
	ASSERT_EQ(perf_ring_parse_sample(ALL_FIXED, r.b, r.n, &s), -EINVAL);
	/* WEIGHT is the whole u64 */
	r.n = 0;
	put64(&r, 0x0005000000000123ULL);
	ASSERT_EQ(perf_ring_parse_sample(PERF_SAMPLE_WEIGHT, r.b, r.n, &s), 0);
	ASSERT_EQ_U(s.weight, 0x0005000000000123ULL);
	/* fields this reader cannot size are refused outright */
	ASSERT_EQ(perf_ring_parse_sample(PERF_SAMPLE_READ, r.b, r.n, &s),
	    -EINVAL);
	ASSERT_EQ(perf_ring_parse_sample(PERF_SAMPLE_REGS_USER, r.b, r.n, &s),
	    -EINVAL);
	ASSERT_EQ(perf_ring_parse_sample(PERF_SAMPLE_WEIGHT |
	    PERF_SAMPLE_WEIGHT_STRUCT, r.b, r.n, &s), -EINVAL);
}

#define LVLNUM(x)	((uint64_t)(x) << PERF_MEM_LVLNUM_SHIFT)
#define LVL(x)		((uint64_t)(x) << PERF_MEM_LVL_SHIFT)
#define REMOTE		((uint64_t)PERF_MEM_REMOTE_REMOTE << PERF_MEM_REMOTE_SHIFT)

static void
test_level(void)
{
	bool rem;

	ASSERT_EQ(perf_ring_level(LVLNUM(PERF_MEM_LVLNUM_RAM), &rem), 0xd);
	ASSERT_TRUE(!rem);
	ASSERT_EQ(perf_ring_level(LVLNUM(PERF_MEM_LVLNUM_CXL), &rem), 9);
	ASSERT_EQ(perf_ring_level(LVLNUM(PERF_MEM_LVLNUM_PMEM), &rem), 0xe);
	ASSERT_EQ(perf_ring_level(LVLNUM(PERF_MEM_LVLNUM_RAM) | REMOTE, &rem),
	    0xd);
	ASSERT_TRUE(rem);
	ASSERT_EQ(perf_ring_level(LVLNUM(PERF_MEM_LVLNUM_L3), &rem), 3);
	/* only the older mem_lvl bits */
	ASSERT_EQ(perf_ring_level(LVL(PERF_MEM_LVL_LOC_RAM | PERF_MEM_LVL_HIT),
	    &rem), PERF_MEM_LVLNUM_RAM);
	ASSERT_TRUE(!rem);
	ASSERT_EQ(perf_ring_level(LVL(PERF_MEM_LVL_REM_RAM1), &rem),
	    PERF_MEM_LVLNUM_RAM);
	ASSERT_TRUE(rem);
	ASSERT_EQ(perf_ring_level(LVL(PERF_MEM_LVL_L1 | PERF_MEM_LVL_HIT),
	    &rem), PERF_MEM_LVLNUM_L1);
	/* not available: unknown */
	ASSERT_EQ(perf_ring_level(LVLNUM(PERF_MEM_LVLNUM_NA) |
	    LVL(PERF_MEM_LVL_NA), &rem), 0);
	ASSERT_EQ(perf_ring_level(0, &rem), 0);
}

/* ---- a ring in plain memory ---- */

struct got {
	uint64_t n;
	uint64_t addr_sum;
	uint32_t last_pid;
	uint8_t last_op, last_level;
	uint32_t last_weight;
};

static void
collect(void *arg, const struct sample *s)
{
	struct got *g = arg;

	g->n++;
	g->addr_sum += s->addr;
	g->last_pid = s->pid;
	g->last_op = s->op;
	g->last_level = s->level;
	g->last_weight = s->weight;
}

#define MEM_ST (PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID |		\
	PERF_SAMPLE_ADDR | PERF_SAMPLE_WEIGHT_STRUCT | PERF_SAMPLE_DATA_SRC)
#define MEM_REC	48	/* header + 5 u64 */

struct memring {
	unsigned char *base;
	struct perf_event_mmap_page *meta;
	unsigned char *data;
	uint64_t size;
	uint64_t head;
};

static void
mr_put(struct memring *m, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		m->data[(m->head + i) & (m->size - 1)] =
		    ((const unsigned char *)p)[i];
	m->head += n;
}

static void
mr_sample(struct memring *m, uint16_t misc, uint32_t pid, uint64_t addr,
    uint64_t data_src)
{
	struct perf_event_header h = { PERF_RECORD_SAMPLE, misc, MEM_REC };
	uint64_t v[5] = { 7, (uint64_t)pid | ((uint64_t)pid << 32), addr,
	    250, data_src };

	mr_put(m, &h, sizeof(h));
	mr_put(m, v, sizeof(v));
}

static void
mr_publish(struct memring *m)
{
	__atomic_store_n(&m->meta->data_head, m->head, __ATOMIC_RELEASE);
}

static void
test_mem_ring(void)
{
	struct memring m;
	struct perf_ring r;
	struct got g;
	uint64_t dsrc = LVLNUM(PERF_MEM_LVLNUM_CXL) |
	    ((uint64_t)PERF_MEM_OP_STORE << PERF_MEM_OP_SHIFT);

	memset(&m, 0, sizeof(m));
	m.size = 256;
	m.base = aligned_alloc(PAGE, 2 * PAGE);	/* a multiple of the alignment */
	ASSERT_TRUE(m.base != NULL);
	memset(m.base, 0, PAGE + m.size);
	m.meta = (void *)m.base;
	m.data = m.base + PAGE;
	ASSERT_EQ(perf_ring_init_mem(&r, m.base, PAGE, m.size, MEM_ST), 0);
	ASSERT_EQ(perf_ring_init_mem(&r, m.base, PAGE, 100, MEM_ST), -EINVAL);
	ASSERT_EQ(perf_ring_init_mem(&r, m.base, PAGE, m.size,
	    MEM_ST | PERF_SAMPLE_READ), -EINVAL);
	ASSERT_EQ(perf_ring_init_mem(&r, m.base, PAGE, m.size, MEM_ST), 0);
	r.user_only = true;

	/* 4 records of 48 bytes; max bounds what one read delivers */
	for (int i = 0; i < 4; i++)
		mr_sample(&m, PERF_RECORD_MISC_USER, 100 + i, 0x1000 * (i + 1),
		    dsrc);
	mr_publish(&m);
	memset(&g, 0, sizeof(g));
	ASSERT_EQ(perf_ring_read(&r, collect, &g, 2), 2);
	ASSERT_EQ_U(m.meta->data_tail, 2 * MEM_REC);	/* at a record edge */
	ASSERT_EQ(perf_ring_read(&r, collect, &g, 100), 2);
	/* two more: the second spans bytes 240..288 of a 256-byte ring */
	for (int i = 4; i < 6; i++)
		mr_sample(&m, PERF_RECORD_MISC_USER, 100 + i, 0x1000 * (i + 1),
		    dsrc);
	mr_publish(&m);
	ASSERT_EQ(perf_ring_read(&r, collect, &g, 100), 2);
	ASSERT_EQ_U(m.meta->data_tail, m.head);
	ASSERT_EQ(g.n, 6);
	ASSERT_EQ_U(g.addr_sum, 0x1000 * 21);
	ASSERT_EQ(g.last_pid, 105);
	ASSERT_EQ(g.last_op, SAMPLE_OP_STORE);
	ASSERT_EQ(g.last_level, PERF_MEM_LVLNUM_CXL);
	ASSERT_EQ(g.last_weight, 250);
	ASSERT_EQ_U(r.stats.wrapped, 1);
	ASSERT_EQ_U(r.stats.level[PERF_MEM_LVLNUM_CXL], 6);
	ASSERT_EQ_U(r.stats.stores, 6);
	ASSERT_EQ(perf_ring_read(&r, collect, &g, 100), 0);

	/* unknown mem_op: the event's role, by identifier */
	ASSERT_EQ(perf_ring_add_id(&r, 7, SAMPLE_OP_LOAD), 0);
	mr_sample(&m, PERF_RECORD_MISC_USER, 9, 0x5000, 0);
	/* dropped: kernel mode, pid 0, address 0 */
	mr_sample(&m, PERF_RECORD_MISC_KERNEL, 9, 0x5000, 0);
	mr_sample(&m, PERF_RECORD_MISC_USER, 0, 0x5000, 0);
	mr_sample(&m, PERF_RECORD_MISC_USER, 9, 0, 0);
	mr_publish(&m);
	memset(&g, 0, sizeof(g));
	ASSERT_EQ(perf_ring_read(&r, collect, &g, 100), 1);
	ASSERT_EQ(g.last_op, SAMPLE_OP_LOAD);
	ASSERT_EQ(g.last_level, 0);
	ASSERT_EQ_U(r.stats.filtered, 3);

	/* LOST, LOST_SAMPLES, THROTTLE, UNTHROTTLE and an unknown type */
	{
		struct perf_event_header h = { PERF_RECORD_LOST, 0, 24 };
		uint64_t v[2] = { 7, 1234 };
		struct perf_event_header ls = { PERF_RECORD_LOST_SAMPLES, 0, 16 };
		uint64_t nls = 5;
		struct perf_event_header t = { PERF_RECORD_THROTTLE, 0, 32 };
		struct perf_event_header u = { PERF_RECORD_UNTHROTTLE, 0, 32 };
		struct perf_event_header x = { 99, 0, 16 };
		uint64_t z[3] = { 0, 0, 0 };

		mr_put(&m, &h, sizeof(h));
		mr_put(&m, v, sizeof(v));
		mr_put(&m, &ls, sizeof(ls));
		mr_put(&m, &nls, sizeof(nls));
		mr_put(&m, &t, sizeof(t));
		mr_put(&m, z, sizeof(z));
		mr_put(&m, &u, sizeof(u));
		mr_put(&m, z, sizeof(z));
		mr_put(&m, &x, sizeof(x));
		mr_put(&m, z, 8);
		mr_publish(&m);
		ASSERT_EQ(perf_ring_read(&r, collect, &g, 100), 0);
		ASSERT_EQ_U(r.stats.lost, 1234);
		ASSERT_EQ_U(r.stats.lost_records, 1);
		ASSERT_EQ_U(r.stats.lost_samples, 5);
		ASSERT_EQ_U(r.stats.throttle, 1);
		ASSERT_EQ_U(r.stats.unthrottle, 1);
		ASSERT_EQ_U(r.stats.malformed, 0);
		/* a LOST record too short for its fields */
		h.size = 16;
		mr_put(&m, &h, sizeof(h));
		mr_put(&m, v, 8);
		mr_publish(&m);
		ASSERT_EQ(perf_ring_read(&r, collect, &g, 100), 0);
		ASSERT_EQ_U(r.stats.malformed, 1);
		ASSERT_EQ_U(m.meta->data_tail, m.head);
	}

	/* a sample whose body is shorter than its sample_type: skipped */
	{
		struct perf_event_header h = { PERF_RECORD_SAMPLE,
		    PERF_RECORD_MISC_USER, 24 };
		uint64_t v[2] = { 7, 9 };

		mr_put(&m, &h, sizeof(h));
		mr_put(&m, v, sizeof(v));
		mr_sample(&m, PERF_RECORD_MISC_USER, 9, 0x6000, 0);
		mr_publish(&m);
		ASSERT_EQ(perf_ring_read(&r, collect, &g, 100), 1);
		ASSERT_EQ_U(r.stats.malformed, 2);
	}

	/* headers that cannot be right: size 0, odd, beyond the head */
	{
		static const uint16_t bad[] = { 0, 4, 12, 200 };

		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			struct perf_event_header h = { PERF_RECORD_SAMPLE,
			    PERF_RECORD_MISC_USER, bad[i] };
			uint64_t before = r.stats.malformed;

			mr_put(&m, &h, sizeof(h));
			mr_sample(&m, PERF_RECORD_MISC_USER, 9, 0x7000, 0);
			mr_publish(&m);
			/* everything up to the head is dropped */
			ASSERT_EQ(perf_ring_read(&r, collect, &g, 100), 0);
			ASSERT_EQ_U(r.stats.malformed, before + 1);
			ASSERT_EQ_U(m.meta->data_tail, m.head);
		}
	}

	/* a head more than a ring ahead, or behind the tail */
	m.head += m.size + 8;
	mr_publish(&m);
	ASSERT_EQ(perf_ring_read(&r, collect, &g, 100), 0);
	ASSERT_EQ_U(m.meta->data_tail, m.head);
	m.head -= 64;
	mr_publish(&m);
	ASSERT_EQ(perf_ring_read(&r, collect, &g, 100), 0);
	ASSERT_EQ_U(m.meta->data_tail, m.head);
	ASSERT_EQ_U(r.stats.malformed, 8);
	/* ... and the ring still reads what comes next */
	mr_sample(&m, PERF_RECORD_MISC_USER, 9, 0x8000, 0);
	mr_publish(&m);
	ASSERT_EQ(perf_ring_read(&r, collect, &g, 100), 1);
	perf_ring_close(&r);
	free(m.base);
}

/* ---- real software events ---- */

static int
sw_open(struct perf_ring *r, uint64_t st, unsigned pages, bool enabled)
{
	struct perf_event_attr a;
	int fd, rc;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_PAGE_FAULTS;
	a.sample_period = 1;
	a.sample_type = st;
	a.disabled = !enabled;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	a.wakeup_events = 1;
	fd = perf_ring_event_open(&a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "    perf_event_open: %s\n", strerror(-fd));
		return fd;
	}
	if ((rc = perf_ring_map(r, fd, pages, st)) < 0) {
		fprintf(stderr, "    perf_ring_map: %s\n", strerror(-rc));
		close(fd);
		return rc;
	}
	return 0;
}

/* A fresh anonymous buffer whose pages fault one by one (no THP). */
static unsigned char *
fresh(size_t pages)
{
	unsigned char *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, pages * PAGE, MADV_NOHUGEPAGE);
	return p;
}

static void
touch(unsigned char *p, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		((volatile unsigned char *)p)[i * PAGE] = 1;
}

struct inbuf {
	const unsigned char *lo, *hi;
	uint32_t pid;
	uint64_t in, out, other_pid;
	uint64_t loads, stores, unknown;
	unsigned char *seen;	/* per page */
	uint64_t dup;
	struct heat *heat;
};

static void
count_in(void *arg, const struct sample *s)
{
	struct inbuf *b = arg;

	if (s->pid != b->pid) {
		b->other_pid++;
		return;
	}
	if (s->addr < (uintptr_t)b->lo || s->addr >= (uintptr_t)b->hi) {
		b->out++;
		return;
	}
	b->in++;
	b->loads += s->op == SAMPLE_OP_LOAD;
	b->stores += s->op == SAMPLE_OP_STORE;
	b->unknown += s->op == SAMPLE_OP_UNKNOWN;
	if (b->seen != NULL && b->seen[(s->addr - (uintptr_t)b->lo) / PAGE]++)
		b->dup++;
	if (b->heat != NULL)
		heat_record(b->heat, s->pid, s->addr, false, s->time_ns);
}

static bool no_perf;

#define FULL_ST (PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP |		\
	PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_ADDR |		\
	PERF_SAMPLE_ID | PERF_SAMPLE_STREAM_ID | PERF_SAMPLE_CPU |	\
	PERF_SAMPLE_PERIOD | PERF_SAMPLE_CALLCHAIN | PERF_SAMPLE_RAW |	\
	PERF_SAMPLE_WEIGHT | PERF_SAMPLE_DATA_SRC |			\
	PERF_SAMPLE_TRANSACTION | PERF_SAMPLE_PHYS_ADDR |		\
	PERF_SAMPLE_CGROUP | PERF_SAMPLE_DATA_PAGE_SIZE |		\
	PERF_SAMPLE_CODE_PAGE_SIZE)

/* Every first touch of N fresh pages is one sample in the buffer. */
static void
first_touch(uint64_t st, const char *what)
{
	enum { N = 200 };
	struct perf_ring r;
	struct inbuf b;
	unsigned char *buf = fresh(N), seen[N];
	int rc;

	ASSERT_TRUE(buf != NULL);
	if ((rc = sw_open(&r, st, 64, false)) < 0) {
		if (rc == -ENOSYS)
			no_perf = true;
		munmap(buf, N * PAGE);
		FAIL_("%s: cannot open a software perf event: %s", what,
		    strerror(-rc));
	}
	r.user_only = true;
	ioctl(r.fd, PERF_EVENT_IOC_ENABLE, 0);
	touch(buf, 0, N);
	ioctl(r.fd, PERF_EVENT_IOC_DISABLE, 0);
	memset(&b, 0, sizeof(b));
	memset(seen, 0, sizeof(seen));
	b.lo = buf;
	b.hi = buf + N * PAGE;
	b.pid = (uint32_t)getpid();
	b.seen = seen;
	while (perf_ring_read(&r, count_in, &b, 64) > 0)
		;
	ASSERT_EQ_U(b.in, N);
	ASSERT_EQ_U(b.dup, 0);
	ASSERT_EQ_U(b.other_pid, 0);
	ASSERT_EQ_U(r.stats.lost, 0);
	ASSERT_EQ_U(r.stats.malformed, 0);
	ASSERT_EQ_U(r.stats.filtered, 0);
	perf_ring_close(&r);
	munmap(buf, N * PAGE);
}

static void
test_first_touch(void)
{
	first_touch(PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_ADDR,
	    "TID|TIME|ADDR");
	if (test_current_failed)
		return;
	/* every field the reader parses, callchain and raw included */
	first_touch(FULL_ST, "every parsed field");
}

/*
 * A one-page ring read in small bites: records wrap, none is lost.  The
 * ring holds 85 records; a bite of 16 pages leaves room for the page
 * faults a sanitizer's shadow memory adds per touched page (ThreadSanitizer:
 * one or two more, which overflowed bites of 32).
 */
static void
test_wrap(void)
{
	enum { N = 512, BITE = 16 };
	/* 48-byte records do not divide 4096: some straddle the end */
	const uint64_t st = PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
	    PERF_SAMPLE_ADDR | PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD;
	struct perf_ring r;
	struct inbuf b;
	unsigned char *buf = fresh(N);

	ASSERT_TRUE(buf != NULL);
	ASSERT_EQ(sw_open(&r, st, 1, true), 0);
	memset(&b, 0, sizeof(b));
	b.lo = buf;
	b.hi = buf + N * PAGE;
	b.pid = (uint32_t)getpid();
	for (size_t i = 0; i < N; i += BITE) {
		touch(buf, i, i + BITE);
		while (perf_ring_read(&r, count_in, &b, 1000) > 0)
			;
	}
	ioctl(r.fd, PERF_EVENT_IOC_DISABLE, 0);
	while (perf_ring_read(&r, count_in, &b, 1000) > 0)
		;
	ASSERT_EQ_U(b.in, N);
	ASSERT_TRUE(r.stats.wrapped > 0);
	ASSERT_EQ_U(r.stats.lost, 0);
	ASSERT_EQ_U(r.stats.malformed, 0);
	perf_ring_close(&r);
	munmap(buf, N * PAGE);
}

/* A one-page ring left unread: the kernel drops records and says so. */
static void
test_lost(void)
{
	enum { N = 1000 };
	const uint64_t st = PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
	    PERF_SAMPLE_ADDR;
	struct perf_ring r;
	struct inbuf b;
	unsigned char *buf = fresh(N), *more = fresh(1);

	ASSERT_TRUE(buf != NULL && more != NULL);
	ASSERT_EQ(sw_open(&r, st, 1, true), 0);
	touch(buf, 0, N);		/* 32 KiB of records into 4 KiB */
	memset(&b, 0, sizeof(b));
	b.lo = buf;
	b.hi = buf + N * PAGE;
	b.pid = (uint32_t)getpid();
	while (perf_ring_read(&r, count_in, &b, 1000) > 0)
		;
	/* PERF_RECORD_LOST is written with the next record that fits */
	touch(more, 0, 1);
	ioctl(r.fd, PERF_EVENT_IOC_DISABLE, 0);
	while (perf_ring_read(&r, count_in, &b, 1000) > 0)
		;
	ASSERT_TRUE(b.in > 0);
	ASSERT_TRUE(b.in < N);
	ASSERT_TRUE(r.stats.lost > 0);
	ASSERT_TRUE(r.stats.lost_records > 0);
	ASSERT_GE(b.in + r.stats.lost, N);
	ASSERT_EQ_U(r.stats.malformed, 0);
	perf_ring_close(&r);
	munmap(buf, N * PAGE);
	munmap(more, PAGE);
}

/* From the ring through the callback into the heat table. */
static void
test_heat_end_to_end(void)
{
	enum { N = 300 };
	const uint64_t st = PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
	    PERF_SAMPLE_ADDR | PERF_SAMPLE_DATA_SRC | PERF_SAMPLE_WEIGHT_STRUCT;
	struct perf_ring r;
	struct inbuf b;
	struct heat *h;
	unsigned char *buf = fresh(N);
	uint32_t pid = (uint32_t)getpid();

	ASSERT_TRUE(buf != NULL);
	ASSERT_EQ(heat_create(&h, 4096, 3600 * 1000000000ULL), 0);
	ASSERT_EQ(sw_open(&r, st, 64, true), 0);
	r.user_only = true;
	touch(buf, 0, N);
	ioctl(r.fd, PERF_EVENT_IOC_DISABLE, 0);
	memset(&b, 0, sizeof(b));
	b.lo = buf;
	b.hi = buf + N * PAGE;
	b.pid = pid;
	b.heat = h;
	while (perf_ring_read(&r, count_in, &b, 100) > 0)
		;
	ASSERT_EQ_U(b.in, N);
	for (size_t i = 0; i < N; i++) {
		struct heat_entry *e = heat_lookup(h, heat_key(pid,
		    (uintptr_t)buf + i * PAGE, false));

		ASSERT_TRUE(e != NULL);
		ASSERT_EQ(heat_count(h, e), 1);
	}
	ASSERT_GE(heat_size(h), N);
	/* software events have no memory level */
	ASSERT_EQ_U(r.stats.level[0], r.stats.samples);
	perf_ring_close(&r);
	heat_destroy(h);
	munmap(buf, N * PAGE);
}

static void
sw_event(struct perf_ring_event *e, uint8_t op)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "page-faults");
	e->type = PERF_TYPE_SOFTWARE;
	e->config = PERF_COUNT_SW_PAGE_FAULTS;
	e->op = op;
}

static void
sw_params(struct perf_ring_params *p)
{
	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
	    PERF_SAMPLE_ADDR | PERF_SAMPLE_CPU | PERF_SAMPLE_WEIGHT_STRUCT |
	    PERF_SAMPLE_DATA_SRC | PERF_SAMPLE_PHYS_ADDR;
	p->period = 1;
	p->period_max = 64;
	p->max_precise = -1;
	p->exclude_kernel = true;
	p->user_only = true;
	p->data_pages = 64;
	p->wakeup_events = 1;
}

/*
 * Per CPU, system-wide (pid -1), two events sharing each CPU's ring by
 * SET_OUTPUT, told apart by their identifiers: every first touch of our
 * buffer arrives once as a "load" (page-faults) and once as a "store"
 * (minor-faults).  Not the same software event twice: the kernel's
 * do_perf_sw_event() hands one perf_sample_data to every matching
 * event, and the id filled for the first is written for all of them
 * (checked on 6.18).  PEBS events each get their own.  The same holds
 * across processes: while another process has a page-fault event on a
 * CPU (a test running alongside), some of our samples carry its id and
 * come out with an unknown op; never the other of our two ids.
 */
static void
test_set_system_wide(void)
{
	enum { N = 256 };
	struct perf_ring_event ev[2];
	struct perf_ring_params p;
	struct perf_ring_set *set;
	struct perf_ring_stats st;
	struct inbuf b;
	unsigned char *buf = fresh(N);
	char err[256];
	int cpus[64], ncpu;

	ASSERT_TRUE(buf != NULL);
	ncpu = perf_ring_cpulist("/sys/devices/system/cpu/online", cpus, 64);
	ASSERT_TRUE(ncpu > 0);
	sw_event(&ev[0], SAMPLE_OP_LOAD);
	sw_event(&ev[1], SAMPLE_OP_STORE);
	ev[1].config = PERF_COUNT_SW_PAGE_FAULTS_MIN;
	sw_params(&p);
	if (perf_ring_set_open(&set, ev, 2, &p, err, sizeof(err)) < 0)
		FAIL_("set: %s", err);
	ASSERT_EQ(perf_ring_set_ncpus(set), ncpu);
	ASSERT_EQ(perf_ring_set_nrings(set), ncpu);	/* shared rings */
	ASSERT_TRUE(!perf_ring_set_enabled(set));
	ASSERT_EQ(perf_ring_set_enable(set, true), 0);
	touch(buf, 0, N);
	ASSERT_EQ(perf_ring_set_enable(set, false), 0);
	memset(&b, 0, sizeof(b));
	b.lo = buf;
	b.hi = buf + N * PAGE;
	b.pid = (uint32_t)getpid();
	for (int i = 0; i < perf_ring_set_nrings(set); i++)
		while (perf_ring_set_read(set, i, count_in, &b, 1000) > 0)
			;
	perf_ring_set_stats(set, &st);
	ASSERT_EQ_U(st.malformed, 0);
	if (st.lost == 0) {
		ASSERT_EQ_U(b.in, 2 * N);
		ASSERT_EQ_U(b.loads + b.stores + b.unknown, 2 * N);
		ASSERT_LE(b.loads, N);
		ASSERT_LE(b.stores, N);
		if (b.unknown == 0) {
			ASSERT_EQ_U(b.loads, N);
			ASSERT_EQ_U(b.stores, N);
		}
	} else {
		ASSERT_GE(b.in + st.lost, 2 * N);
	}
	/* the monotonic clock was accepted, PHYS_ADDR too (we are root) */
	ASSERT_TRUE(perf_ring_set_attr(set, 0)->use_clockid);
	ASSERT_EQ(perf_ring_set_read(set, perf_ring_set_nrings(set), count_in,
	    &b, 1), -EINVAL);
	/* PERF_EVENT_IOC_PERIOD on every event, within the bounds */
	ASSERT_EQ(perf_ring_set_period(set, 8), 0);
	ASSERT_EQ_U(perf_ring_set_get_period(set), 8);
	ASSERT_EQ(perf_ring_set_period(set, 1000), 0);
	ASSERT_EQ_U(perf_ring_set_get_period(set), 64);
	perf_ring_set_close(set);
	munmap(buf, N * PAGE);

	/* refused tables */
	ev[0].leader = true;
	ASSERT_EQ(perf_ring_set_open(&set, ev, 1, &p, err, sizeof(err)),
	    -EINVAL);
	ev[0].leader = false;
	p.sample_type |= PERF_SAMPLE_READ;
	ASSERT_EQ(perf_ring_set_open(&set, ev, 1, &p, err, sizeof(err)),
	    -EINVAL);
}

/*
 * The hardware samplers' glue on a software-event table: opened
 * disabled (waiting for the pre-fault), nothing arrives; enabled, the
 * ops read the samples; adapt moves the period both ways.
 */
static void
test_sampler_glue(void)
{
	enum { N = 128 };
	struct sampler s;
	struct probe_table t;
	struct perf_ring_params p;
	struct perf_ring_stats st;
	struct inbuf b;
	unsigned char *buf = fresh(2 * N);

	ASSERT_TRUE(buf != NULL);
	memset(&s, 0, sizeof(s));
	memset(&t, 0, sizeof(t));
	s.ops = &sample_pebs_ops;
	t.source = SOURCE_PEBS;
	t.n = 1;
	sw_event(&t.ev[0], SAMPLE_OP_LOAD);
	snprintf(t.note, sizeof(t.note), "test: page faults");
	sw_params(&p);
	ASSERT_TRUE(!sample_hw_is(&s));
	ASSERT_EQ(sample_hw_open_plan(&s, &t, &p, false), 0);
	ASSERT_TRUE(sample_hw_is(&s));
	ASSERT_TRUE(sample_hw_waiting(&s));
	memset(&b, 0, sizeof(b));
	b.lo = buf;
	b.hi = buf + 2 * N * PAGE;
	b.pid = (uint32_t)getpid();
	touch(buf, 0, N);		/* not counted: not enabled yet */
	ASSERT_EQ(sample_hw_enable(&s), 0);
	ASSERT_TRUE(!sample_hw_waiting(&s));
	touch(buf, N, 2 * N);
	for (int i = 0; i < s.ops->nfds(&s); i++) {
		ASSERT_TRUE(s.ops->fd(&s, i) >= 0);
		while (s.ops->read(&s, i, count_in, &b, 1000) > 0)
			;
	}
	ASSERT_EQ_U(b.in, N);
	ASSERT_EQ_U(b.loads + b.unknown, N);	/* see test_set_system_wide */
	ASSERT_GE(s.stats.samples, N);
	ASSERT_EQ(sample_hw_counters(&s, &st), 0);
	ASSERT_EQ_U(st.samples, s.stats.samples);
	/* 5% of a CPU against 1%: the period grows 4x; idle: a step down */
	ASSERT_EQ_U(sample_hw_period(&s), 1);
	ASSERT_EQ(sample_hw_adapt(&s, 0.05, 0.01), 1);
	ASSERT_EQ_U(sample_hw_period(&s), 4);
	ASSERT_EQ(sample_hw_adapt(&s, 0.009, 0.01), 0);	/* 80-100%: stays */
	ASSERT_EQ(sample_hw_adapt(&s, 0.0, 0.01), 1);
	ASSERT_EQ_U(sample_hw_period(&s), 3);
	ASSERT_EQ(sample_hw_adapt(&s, 0.05, 0.5), 1);	/* well under 50% */
	ASSERT_EQ_U(sample_hw_period(&s), 2);
	s.ops->close(&s);
	ASSERT_TRUE(s.priv == NULL);
	ASSERT_TRUE(!sample_hw_is(&s));
	ASSERT_EQ(sample_hw_adapt(&s, 0.05, 0.01), -EINVAL);
	munmap(buf, 2 * N * PAGE);
}

static void
test_cpulist(void)
{
	char path[] = "/tmp/vtier-cpulist-XXXXXX";
	int fd = mkstemp(path), cpus[16];

	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(write(fd, "0-2,5,7-8\n", 10), 10);
	close(fd);
	ASSERT_EQ(perf_ring_cpulist(path, cpus, 16), 6);
	ASSERT_EQ(cpus[0], 0);
	ASSERT_EQ(cpus[2], 2);
	ASSERT_EQ(cpus[3], 5);
	ASSERT_EQ(cpus[5], 8);
	ASSERT_EQ(perf_ring_cpulist(path, cpus, 4), -E2BIG);
	fd = open(path, O_WRONLY | O_TRUNC);
	ASSERT_EQ(write(fd, "3-1\n", 4), 4);
	close(fd);
	ASSERT_EQ(perf_ring_cpulist(path, cpus, 16), -EINVAL);
	unlink(path);
	ASSERT_EQ(perf_ring_cpulist("/nonexistent/online", cpus, 16), -ENOENT);
}

int
main(void)
{
	log_init("test_perf_ring", LOG_LVL_WARN);
	RUN_TEST(test_parse);
	RUN_TEST(test_level);
	RUN_TEST(test_mem_ring);
	RUN_TEST(test_cpulist);
	RUN_TEST(test_first_touch);
	if (no_perf) {
		fprintf(stderr, "skip: this kernel has no perf events\n");
		return TEST_SKIP;
	}
	RUN_TEST(test_wrap);
	RUN_TEST(test_lost);
	RUN_TEST(test_heat_end_to_end);
	RUN_TEST(test_set_system_wide);
	RUN_TEST(test_sampler_glue);
	TEST_EXIT();
}
