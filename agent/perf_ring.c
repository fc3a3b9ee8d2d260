/*
 * perf_ring.c - read perf ring buffers, and open the per-CPU event sets
 * the pebs and ibs samplers are made of.
 *
 * Reading a ring (the contract of kernel/events/ring_buffer.c):
 *
 *     kernel                          user (here)
 *     if (LOAD ->data_tail) {         LOAD-ACQUIRE ->data_head
 *         STORE $data                 LOAD $data
 *         STORE-RELEASE ->data_head   STORE-RELEASE ->data_tail
 *     }
 *
 * The acquire makes the records the kernel wrote before publishing the
 * head visible to us; the release keeps our reads of a record before
 * the kernel can see its space as free.  The ring is mapped writable,
 * so the kernel never overwrites what we have not consumed: when full,
 * it drops records and later writes a PERF_RECORD_LOST saying how many.
 *
 * Records are 8-byte aligned and at most 64 KiB (a u16 size); one can
 * straddle the end of the data area, in which case it is copied into a
 * bounce buffer so the parser always sees it contiguous.  Bounds, in
 * order: head - tail within the ring; header available; header.size at
 * least a header, a multiple of 8 and within what was published; then
 * each field within header.size.  Failing the first three leaves no way
 * to find the next record: everything up to the head is dropped.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "perf_ring.h"

/* The level numbers DESIGN.md relies on, checked against the kernel's. */
static_assert(PERF_MEM_LVLNUM_CXL == 0x09, "PERF_MEM_LVLNUM_CXL");
static_assert(PERF_MEM_LVLNUM_RAM == 0x0d, "PERF_MEM_LVLNUM_RAM");
static_assert(PERF_MEM_LVLNUM_PMEM == 0x0e, "PERF_MEM_LVLNUM_PMEM");
static_assert(PERF_MEM_LVLNUM_NA == 0x0f, "PERF_MEM_LVLNUM_NA");
static_assert(PERF_MEM_LVLNUM_SHIFT == 33 && PERF_MEM_REMOTE_SHIFT == 37,
    "data_src layout");
static_assert(sizeof(struct perf_event_header) == 8, "perf_event_header");

/* Newer than some uapi headers (Linux 6.8: uncached). */
#ifndef PERF_MEM_LVLNUM_UNC
#define PERF_MEM_LVLNUM_UNC	0x08
#endif

#define BOUNCE_MAX	(PERF_RING_RECORD_MAX + 1)

int
perf_ring_event_open(struct perf_event_attr *attr, pid_t pid, int cpu,
    int group_fd, unsigned long flags)
{
	long fd = syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);

	return fd < 0 ? -errno : (int)fd;
}

static int
check_sample_type(uint64_t st)
{
	if (st & ~(uint64_t)PERF_RING_SAMPLE_SUPPORTED)
		return -EINVAL;
	if ((st & PERF_SAMPLE_WEIGHT) && (st & PERF_SAMPLE_WEIGHT_STRUCT))
		return -EINVAL;
	return 0;
}

int
perf_ring_init_mem(struct perf_ring *r, void *base, size_t meta_size,
    uint64_t data_size, uint64_t sample_type)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	if (data_size < 8 || (data_size & (data_size - 1)) != 0 ||
	    meta_size < sizeof(struct perf_event_mmap_page) ||
	    check_sample_type(sample_type) < 0)
		return -EINVAL;
	r->meta = base;
	r->data = (const unsigned char *)base + meta_size;
	r->data_size = data_size;
	r->sample_type = sample_type;
	return 0;
}

int
perf_ring_map(struct perf_ring *r, int fd, unsigned data_pages,
    uint64_t sample_type)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len;
	void *m;
	int rc;

	if (data_pages == 0 || (data_pages & (data_pages - 1)) != 0 ||
	    page <= 0 || data_pages > (1u << 20))
		return -EINVAL;
	len = ((size_t)data_pages + 1) * (size_t)page;
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	if ((rc = perf_ring_init_mem(r, m, (size_t)page,
	    (uint64_t)data_pages * (uint64_t)page, sample_type)) < 0) {
		munmap(m, len);
		return rc;
	}
	r->fd = fd;
	r->map = m;
	r->map_len = len;
	return 0;
}

int
perf_ring_add_id(struct perf_ring *r, uint64_t id, uint8_t op)
{
	if (r->nids >= PERF_RING_MAX_EVENTS)
		return -ENOSPC;
	r->ids[r->nids] = id;
	r->id_op[r->nids] = op;
	r->nids++;
	return 0;
}

void
perf_ring_close(struct perf_ring *r)
{
	if (r->map != NULL)
		munmap(r->map, r->map_len);
	if (r->fd >= 0 && r->map != NULL)
		close(r->fd);
	free(r->bounce);
	r->map = NULL;
	r->bounce = NULL;
	r->meta = NULL;
	r->fd = -1;
}

/* A bounded cursor over one record body. */
struct cur {
	const unsigned char *p;
	size_t left;
};

static int
get_u64(struct cur *c, uint64_t *v)
{
	if (c->left < 8)
		return -EINVAL;
	memcpy(v, c->p, 8);
	c->p += 8;
	c->left -= 8;
	return 0;
}

static int
get_u32x2(struct cur *c, uint32_t *a, uint32_t *b)
{
	if (c->left < 8)
		return -EINVAL;
	memcpy(a, c->p, 4);
	memcpy(b, c->p + 4, 4);
	c->p += 8;
	c->left -= 8;
	return 0;
}

static int
skip(struct cur *c, uint64_t n)
{
	if (n > c->left)
		return -EINVAL;
	c->p += n;
	c->left -= (size_t)n;
	return 0;
}

/*
 * The layout of PERF_RECORD_SAMPLE, in the order perf_output_sample()
 * (kernel/events/core.c) writes it.  The uapi comment in perf_event.h
 * lists the same order but omits CGROUP (after PHYS_ADDR) and, in older
 * headers, places AUX before the page sizes; the code is the authority.
 *
 *     IDENTIFIER IP TID(pid,tid) TIME ADDR ID STREAM_ID CPU(cpu,res)
 *     PERIOD [READ] CALLCHAIN(nr, ips[nr]) RAW(u32 size, data[size])
 *     [BRANCH_STACK] [REGS_USER] [STACK_USER] WEIGHT|WEIGHT_STRUCT
 *     DATA_SRC TRANSACTION [REGS_INTR] PHYS_ADDR CGROUP DATA_PAGE_SIZE
 *     CODE_PAGE_SIZE [AUX]
 *
 * Bracketed fields need more of the attr to size them and are refused.
 * WEIGHT_STRUCT is one u64 whose low 32 bits (var1_dw) are the latency.
 */
int
perf_ring_parse_sample(uint64_t st, const void *body, size_t size,
    struct perf_ring_sample *out)
{
	struct cur c = { body, size };
	uint64_t v;

	memset(out, 0, sizeof(*out));
	if (check_sample_type(st) < 0)
		return -EINVAL;
	if ((st & PERF_SAMPLE_IDENTIFIER) && get_u64(&c, &out->id) < 0)
		return -EINVAL;
	if ((st & PERF_SAMPLE_IP) && get_u64(&c, &out->ip) < 0)
		return -EINVAL;
	if ((st & PERF_SAMPLE_TID) && get_u32x2(&c, &out->pid, &out->tid) < 0)
		return -EINVAL;
	if ((st & PERF_SAMPLE_TIME) && get_u64(&c, &out->time) < 0)
		return -EINVAL;
	if ((st & PERF_SAMPLE_ADDR) && get_u64(&c, &out->addr) < 0)
		return -EINVAL;
	if (st & PERF_SAMPLE_ID) {
		if (get_u64(&c, &v) < 0)
			return -EINVAL;
		if (!(st & PERF_SAMPLE_IDENTIFIER))
			out->id = v;
	}
	if ((st & PERF_SAMPLE_STREAM_ID) && get_u64(&c, &out->stream_id) < 0)
		return -EINVAL;
	if (st & PERF_SAMPLE_CPU) {
		uint32_t res;

		if (get_u32x2(&c, &out->cpu, &res) < 0)
			return -EINVAL;
	}
	if ((st & PERF_SAMPLE_PERIOD) && get_u64(&c, &out->period) < 0)
		return -EINVAL;
	if (st & PERF_SAMPLE_CALLCHAIN) {
		/* nr is the kernel's word, bounded by what is left */
		if (get_u64(&c, &v) < 0 || v > c.left / 8 ||
		    skip(&c, v * 8) < 0)
			return -EINVAL;
	}
	if (st & PERF_SAMPLE_RAW) {
		uint32_t n;

		if (c.left < 4)
			return -EINVAL;
		memcpy(&n, c.p, 4);
		if (skip(&c, 4) < 0 || skip(&c, n) < 0)
			return -EINVAL;
	}
	if (st & (PERF_SAMPLE_WEIGHT | PERF_SAMPLE_WEIGHT_STRUCT)) {
		if (get_u64(&c, &v) < 0)
			return -EINVAL;
		out->weight = (st & PERF_SAMPLE_WEIGHT_STRUCT) ?
		    (v & 0xffffffffULL) : v;
	}
	if ((st & PERF_SAMPLE_DATA_SRC) && get_u64(&c, &out->data_src) < 0)
		return -EINVAL;
	if ((st & PERF_SAMPLE_TRANSACTION) &&
	    get_u64(&c, &out->transaction) < 0)
		return -EINVAL;
	if ((st & PERF_SAMPLE_PHYS_ADDR) && get_u64(&c, &out->phys_addr) < 0)
		return -EINVAL;
	if ((st & PERF_SAMPLE_CGROUP) && get_u64(&c, &out->cgroup) < 0)
		return -EINVAL;
	if ((st & PERF_SAMPLE_DATA_PAGE_SIZE) &&
	    get_u64(&c, &out->data_page_size) < 0)
		return -EINVAL;
	if ((st & PERF_SAMPLE_CODE_PAGE_SIZE) &&
	    get_u64(&c, &out->code_page_size) < 0)
		return -EINVAL;
	return 0;
}

/*
 * mem_lvl_num when the PMU driver filled it; otherwise the level the
 * older mem_lvl bit mask names (PEBS on older kernels, some models).
 */
uint8_t
perf_ring_level(uint64_t data_src, bool *remote)
{
	unsigned num = (unsigned)(data_src >> PERF_MEM_LVLNUM_SHIFT) & 0xf;
	unsigned lvl = (unsigned)(data_src >> PERF_MEM_LVL_SHIFT) & 0x3fff;
	bool rem = (data_src >> PERF_MEM_REMOTE_SHIFT) & PERF_MEM_REMOTE_REMOTE;

	if (num != 0 && num != PERF_MEM_LVLNUM_NA) {
		*remote = rem;
		return (uint8_t)num;
	}
	if (lvl & (PERF_MEM_LVL_REM_RAM1 | PERF_MEM_LVL_REM_RAM2 |
	    PERF_MEM_LVL_REM_CCE1 | PERF_MEM_LVL_REM_CCE2))
		rem = true;
	*remote = rem;
	if (lvl & (PERF_MEM_LVL_LOC_RAM | PERF_MEM_LVL_REM_RAM1 |
	    PERF_MEM_LVL_REM_RAM2))
		return PERF_MEM_LVLNUM_RAM;
	if (lvl & (PERF_MEM_LVL_REM_CCE1 | PERF_MEM_LVL_REM_CCE2))
		return PERF_MEM_LVLNUM_ANY_CACHE;
	if (lvl & PERF_MEM_LVL_L3)
		return PERF_MEM_LVLNUM_L3;
	if (lvl & PERF_MEM_LVL_L2)
		return PERF_MEM_LVLNUM_L2;
	if (lvl & PERF_MEM_LVL_LFB)
		return PERF_MEM_LVLNUM_LFB;
	if (lvl & PERF_MEM_LVL_L1)
		return PERF_MEM_LVLNUM_L1;
	if (lvl & PERF_MEM_LVL_IO)
		return PERF_MEM_LVLNUM_IO;
	if (lvl & PERF_MEM_LVL_UNC)
		return PERF_MEM_LVLNUM_UNC;
	return 0;
}

/* Copy n bytes at ring position pos (n <= data_size), wrapping. */
static void
ring_copy(const struct perf_ring *r, uint64_t pos, void *dst, size_t n)
{
	uint64_t off = pos & (r->data_size - 1);
	size_t first = (size_t)MIN((uint64_t)n, r->data_size - off);

	memcpy(dst, r->data + off, first);
	if (n > first)
		memcpy((unsigned char *)dst + first, r->data, n - first);
}

static uint8_t
id_op(const struct perf_ring *r, uint64_t id)
{
	for (int i = 0; i < r->nids; i++)
		if (r->ids[i] == id)
			return r->id_op[i];
	return r->default_op;
}

/* One PERF_RECORD_SAMPLE body: 1 if delivered, 0 if dropped. */
static int
take_sample(struct perf_ring *r, uint16_t misc, const unsigned char *body,
    size_t len, sample_fn fn, void *arg)
{
	struct perf_ring_sample ps;
	struct sample s;
	unsigned mem_op;
	bool remote = false;

	if (perf_ring_parse_sample(r->sample_type, body, len, &ps) < 0) {
		r->stats.malformed++;
		return 0;
	}
	ps.misc = misc;
	if ((r->user_only &&
	    (misc & PERF_RECORD_MISC_CPUMODE_MASK) != PERF_RECORD_MISC_USER) ||
	    ps.pid == 0 || ps.pid == UINT32_MAX || ps.addr == 0) {
		r->stats.filtered++;
		return 0;
	}
	memset(&s, 0, sizeof(s));
	s.time_ns = ps.time;
	s.addr = ps.addr;
	s.pid = ps.pid;
	s.weight = (uint32_t)MIN(ps.weight, (uint64_t)UINT32_MAX);
	mem_op = (unsigned)(ps.data_src >> PERF_MEM_OP_SHIFT) & 0x1f;
	if (mem_op & PERF_MEM_OP_LOAD)
		s.op = SAMPLE_OP_LOAD;
	else if (mem_op & PERF_MEM_OP_STORE)
		s.op = SAMPLE_OP_STORE;
	else
		s.op = id_op(r, ps.id);
	if (r->sample_type & PERF_SAMPLE_DATA_SRC)
		s.level = perf_ring_level(ps.data_src, &remote);
	r->stats.level[s.level & (PERF_RING_NLEVELS - 1)]++;
	if (remote)
		r->stats.remote++;
	if (s.op == SAMPLE_OP_LOAD)
		r->stats.loads++;
	else if (s.op == SAMPLE_OP_STORE)
		r->stats.stores++;
	r->stats.samples++;
	fn(arg, &s);
	return 1;
}

static void
take_other(struct perf_ring *r, uint32_t type, const unsigned char *body,
    size_t len)
{
	struct cur c = { body, len };
	uint64_t id, n;

	switch (type) {
	case PERF_RECORD_LOST:		/* u64 id, lost; [sample_id] */
		if (get_u64(&c, &id) < 0 || get_u64(&c, &n) < 0) {
			r->stats.malformed++;
			return;
		}
		r->stats.lost += n;
		r->stats.lost_records++;
		break;
	case PERF_RECORD_LOST_SAMPLES:	/* u64 lost; [sample_id] */
		if (get_u64(&c, &n) < 0) {
			r->stats.malformed++;
			return;
		}
		r->stats.lost_samples += n;
		break;
	case PERF_RECORD_THROTTLE:
		r->stats.throttle++;
		break;
	case PERF_RECORD_UNTHROTTLE:
		r->stats.unthrottle++;
		break;
	default:
		break;
	}
}

int
perf_ring_read(struct perf_ring *r, sample_fn fn, void *arg, unsigned max)
{
	struct perf_event_header h;
	uint64_t head, tail;
	unsigned got = 0;

	if (r->meta == NULL)
		return -EINVAL;
	head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
	tail = __atomic_load_n(&r->meta->data_tail, __ATOMIC_RELAXED);
	if (head - tail > r->data_size) {
		/* a head behind the tail or beyond a full ring: nothing to trust */
		r->stats.malformed++;
		tail = head;
		goto out;
	}
	while (tail != head && got < max) {
		uint64_t avail = head - tail, off;
		const unsigned char *rec;

		if (avail < sizeof(h)) {
			r->stats.malformed++;
			tail = head;
			break;
		}
		ring_copy(r, tail, &h, sizeof(h));
		if (h.size < sizeof(h) || (h.size & 7) != 0 || h.size > avail) {
			r->stats.malformed++;
			tail = head;
			break;
		}
		off = tail & (r->data_size - 1);
		if (off + h.size <= r->data_size) {
			rec = r->data + off;
		} else {
			if (r->bounce == NULL &&
			    (r->bounce = malloc(BOUNCE_MAX)) == NULL)
				break;	/* retry on the next read */
			ring_copy(r, tail, r->bounce, h.size);
			rec = r->bounce;
			r->stats.wrapped++;
		}
		r->stats.records++;
		if (h.type == PERF_RECORD_SAMPLE)
			got += (unsigned)take_sample(r, h.misc, rec + sizeof(h),
			    h.size - sizeof(h), fn, arg);
		else
			take_other(r, h.type, rec + sizeof(h),
			    h.size - sizeof(h));
		tail += h.size;
	}
out:
	__atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
	return (int)got;
}


/* ---- per-CPU event sets ---- */

#define CPUS_MAX	8192

struct set_cpu {
	int cpu;
	int fd[PERF_RING_MAX_EVENTS];		/* per event, -1 if not open */
	bool ring_fd[PERF_RING_MAX_EVENTS];	/* fd[k] belongs to a ring */
};

struct perf_ring_set {
	int nev;
	struct perf_ring_event ev[PERF_RING_MAX_EVENTS];
	struct perf_event_attr attr[PERF_RING_MAX_EVENTS];	/* as opened */
	int ncpu;
	struct set_cpu *cpu;
	int nrings;
	struct perf_ring *ring;
	uint64_t period, period_min, period_max;
	unsigned align;
	bool enabled;
};

static_assert(sizeof(struct perf_ring_stats) % sizeof(uint64_t) == 0,
    "perf_ring_stats holds only u64 counters");

int
perf_ring_cpulist(const char *path, int *cpus, int max)
{
	char buf[4096], *p, *end;
	ssize_t len;
	int n = 0;

	if ((len = read_file(path, buf, sizeof(buf))) < 0)
		return (int)len;
	for (p = buf; *p != '\0' && *p != '\n';) {
		unsigned long a, b;

		errno = 0;
		a = strtoul(p, &end, 10);
		if (end == p || errno != 0 || a > INT_MAX || *p == '-')
			return -EINVAL;
		b = a;
		p = end;
		if (*p == '-') {
			p++;
			b = strtoul(p, &end, 10);
			if (end == p || errno != 0 || b < a || b > INT_MAX)
				return -EINVAL;
			p = end;
		}
		for (unsigned long c = a; c <= b; c++) {
			if (n >= max)
				return -E2BIG;
			cpus[n++] = (int)c;
		}
		if (*p == ',')
			p++;
		else if (*p != '\0' && *p != '\n')
			return -EINVAL;
	}
	return n;
}

static void
build_attr(struct perf_event_attr *a, const struct perf_ring_event *e,
    const struct perf_ring_params *p)
{
	memset(a, 0, sizeof(*a));
	a->size = sizeof(*a);	/* libpfm leaves it to us; the kernel needs it */
	a->type = e->type;
	a->config = e->config;
	a->config1 = e->config1;
	a->config2 = e->config2;
	a->disabled = 1;
	a->exclude_kernel = p->exclude_kernel;
	a->exclude_hv = p->exclude_kernel;
	a->exclude_guest = p->exclude_guest;
	if (e->leader)
		return;		/* counting only: no period, no samples */
	a->sample_period = p->period;
	a->sample_type = p->sample_type | PERF_SAMPLE_IDENTIFIER;
	a->precise_ip = e->precise_ip;
	if (p->max_precise >= 0 && a->precise_ip > p->max_precise)
		a->precise_ip = (unsigned)p->max_precise & 3;
	a->wakeup_events = p->wakeup_events ? p->wakeup_events : 1;
	/* sample times on the agent's clock (now_ns) */
	a->use_clockid = 1;
	a->clockid = CLOCK_MONOTONIC;
}

/*
 * Open with the attr relaxed step by step while the kernel refuses it:
 * the refusal of an optional field (PHYS_ADDR needs perfmon capability,
 * WEIGHT_STRUCT needs 5.12, a PMU may refuse a clockid) or of a precise
 * level the PMU cannot give (EINVAL or EOPNOTSUPP) is not fatal; a
 * precise event is never taken below 1 (0 would not be PEBS).  The
 * relaxed attr stays for the other CPUs.
 */
static int
open_relaxed(struct perf_event_attr *a, const char *name, pid_t pid,
    int cpu, int group)
{
	int fd;

	for (;;) {
		fd = perf_ring_event_open(a, pid, cpu, group,
		    PERF_FLAG_FD_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (fd != -EINVAL && fd != -EOPNOTSUPP && fd != -EACCES &&
		    fd != -EPERM)
			return fd;
		if (a->sample_type & PERF_SAMPLE_PHYS_ADDR) {
			log_debug("%s: PHYS_ADDR refused (%s): going without",
			    name, strerror(-fd));
			a->sample_type &= ~(uint64_t)PERF_SAMPLE_PHYS_ADDR;
			continue;
		}
		if (fd == -EACCES || fd == -EPERM)
			return fd;
		if (a->sample_type & PERF_SAMPLE_WEIGHT_STRUCT) {
			log_debug("%s: WEIGHT_STRUCT refused: WEIGHT", name);
			a->sample_type &= ~(uint64_t)PERF_SAMPLE_WEIGHT_STRUCT;
			a->sample_type |= PERF_SAMPLE_WEIGHT;
			continue;
		}
		if (a->use_clockid) {
			log_debug("%s: clockid refused: perf clock", name);
			a->use_clockid = 0;
			a->clockid = 0;
			continue;
		}
		if (a->precise_ip > 1) {
			log_debug("%s: precise_ip %u refused: trying %u", name,
			    a->precise_ip, a->precise_ip - 1);
			a->precise_ip--;
			continue;
		}
		return fd;
	}
}

static int
map_ring(struct perf_ring *r, int fd, unsigned pages, uint64_t st,
    bool user_only)
{
	int rc;

	for (;;) {
		if ((rc = perf_ring_map(r, fd, pages, st)) == 0)
			break;
		/* perf_event_mlock_kb or RLIMIT_MEMLOCK: try a smaller ring */
		if ((rc != -EPERM && rc != -ENOMEM) || pages == 1)
			return rc;
		pages /= 2;
	}
	r->user_only = user_only;
	return 0;
}

static void
close_cpu(struct set_cpu *c, int nev)
{
	for (int k = nev - 1; k >= 0; k--) {
		if (c->fd[k] >= 0 && !c->ring_fd[k])
			close(c->fd[k]);
		c->fd[k] = -1;
		c->ring_fd[k] = false;
	}
}

/* Open every event on one CPU; its rings are appended to the set. */
static int
open_cpu(struct perf_ring_set *set, int ci, const struct perf_ring_params *p,
    char *err, size_t errlen)
{
	struct set_cpu *c = &set->cpu[ci];
	int first_ring = set->nrings, leader = -1, rc = 0;

	for (int k = 0; k < set->nev; k++) {
		struct perf_event_attr *a = &set->attr[k];
		const struct perf_ring_event *e = &set->ev[k];
		int fd, target = -1;
		uint64_t id;

		fd = open_relaxed(a, e->name, p->pid, c->cpu, leader);
		if (fd < 0) {
			snprintf(err, errlen, "%s (type %u config %#llx "
			    "config1 %#llx precise %u) on cpu %d: %s", e->name,
			    a->type, (unsigned long long)a->config,
			    (unsigned long long)a->config1, a->precise_ip,
			    c->cpu, strerror(-fd));
			rc = fd;
			goto err;
		}
		c->fd[k] = fd;
		leader = e->leader ? fd : -1;
		if (e->leader)
			continue;
		/* share a ring of this CPU that parses the same layout */
		for (int i = first_ring; i < set->nrings; i++)
			if (set->ring[i].sample_type == a->sample_type &&
			    ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT,
			    set->ring[i].fd) == 0) {
				target = i;
				break;
			}
		if (target < 0) {
			target = set->nrings;
			rc = map_ring(&set->ring[target], fd, p->data_pages,
			    a->sample_type, p->user_only);
			if (rc < 0) {
				snprintf(err, errlen, "mmap of the %s ring on "
				    "cpu %d: %s", e->name, c->cpu,
				    strerror(-rc));
				goto err;
			}
			set->nrings++;
			c->ring_fd[k] = true;
		}
		if (ioctl(fd, PERF_EVENT_IOC_ID, &id) == 0)
			perf_ring_add_id(&set->ring[target], id, e->op);
	}
	return 0;
err:
	while (set->nrings > first_ring)	/* closes the rings' fds */
		perf_ring_close(&set->ring[--set->nrings]);
	close_cpu(c, set->nev);
	return rc;
}

static uint64_t
align_up(uint64_t v, unsigned align)
{
	if (align <= 1)
		return v;
	if (v > UINT64_MAX - align)
		return UINT64_MAX / align * align;
	return (v + align - 1) / align * align;
}

int
perf_ring_set_open(struct perf_ring_set **out,
    const struct perf_ring_event *ev, int nev,
    const struct perf_ring_params *p, char *err, size_t errlen)
{
	struct perf_ring_set *set = NULL;
	int *cpus = NULL, ncpus, nsamp = 0, opened = 0, rc;

	*out = NULL;
	snprintf(err, errlen, "invalid event set");
	if (nev <= 0 || nev > PERF_RING_MAX_EVENTS || p->data_pages == 0 ||
	    check_sample_type(p->sample_type | PERF_SAMPLE_IDENTIFIER) < 0 ||
	    p->period == 0)
		return -EINVAL;
	for (int k = 0; k < nev; k++) {
		if (!ev[k].leader)
			nsamp++;
		else if (k == nev - 1 || ev[k + 1].leader)
			return -EINVAL;	/* a leader leads the next event */
	}
	if (nsamp == 0)
		return -EINVAL;
	if ((cpus = calloc(CPUS_MAX, sizeof(*cpus))) == NULL)
		return -ENOMEM;
	if (p->cpus != NULL) {
		ncpus = MIN(p->ncpus, CPUS_MAX);
		memcpy(cpus, p->cpus, (size_t)ncpus * sizeof(*cpus));
	} else {
		const char *f = p->cpus_file ? p->cpus_file :
		    "/sys/devices/system/cpu/online";

		if ((ncpus = perf_ring_cpulist(f, cpus, CPUS_MAX)) < 0) {
			snprintf(err, errlen, "CPU list %s: %s", f,
			    strerror(-ncpus));
			rc = ncpus;
			goto fail;
		}
	}
	rc = -ENOMEM;
	snprintf(err, errlen, "out of memory");
	if (ncpus <= 0 || (set = calloc(1, sizeof(*set))) == NULL ||
	    (set->cpu = calloc((size_t)ncpus, sizeof(*set->cpu))) == NULL ||
	    (set->ring = calloc((size_t)ncpus * (size_t)nsamp,
	    sizeof(*set->ring))) == NULL)
		goto fail;
	set->nev = nev;
	set->ncpu = ncpus;
	set->align = p->period_align ? p->period_align : 1;
	set->period = align_up(p->period, set->align);
	set->period_min = align_up(p->period_min ? p->period_min : set->period,
	    set->align);
	set->period_max = p->period_max ? p->period_max / set->align *
	    set->align : set->period;
	set->period_max = MAX(set->period_max, set->period);
	set->period_min = MIN(set->period_min, set->period);
	for (int k = 0; k < nev; k++) {
		struct perf_ring_params pk = *p;

		set->ev[k] = ev[k];
		set->ev[k].name[PERF_RING_NAME_MAX - 1] = '\0';
		pk.period = set->period;
		build_attr(&set->attr[k], &set->ev[k], &pk);
	}
	for (int ci = 0; ci < ncpus; ci++) {
		set->cpu[ci].cpu = cpus[ci];
		for (int k = 0; k < PERF_RING_MAX_EVENTS; k++)
			set->cpu[ci].fd[k] = -1;
	}
	for (int ci = 0; ci < ncpus; ci++) {
		rc = open_cpu(set, ci, p, err, errlen);
		if (rc == 0) {
			opened++;
			continue;
		}
		/* a CPU without this PMU (hybrid) or gone offline */
		if (opened > 0 && (rc == -ENOENT || rc == -ENODEV)) {
			log_warnx("perf: %s: cpu skipped", err);
			continue;
		}
		goto fail;
	}
	free(cpus);
	err[0] = '\0';
	*out = set;
	return 0;
fail:
	free(cpus);
	perf_ring_set_close(set);
	return rc;
}

void
perf_ring_set_close(struct perf_ring_set *set)
{
	if (set == NULL)
		return;
	if (set->enabled)
		perf_ring_set_enable(set, false);
	for (int i = 0; i < set->nrings; i++)
		perf_ring_close(&set->ring[i]);
	for (int ci = 0; set->cpu != NULL && ci < set->ncpu; ci++)
		close_cpu(&set->cpu[ci], set->nev);
	free(set->ring);
	free(set->cpu);
	free(set);
}

int
perf_ring_set_enable(struct perf_ring_set *set, bool on)
{
	unsigned long req = on ? PERF_EVENT_IOC_ENABLE : PERF_EVENT_IOC_DISABLE;
	int rc = 0;

	for (int ci = 0; ci < set->ncpu; ci++)
		for (int k = 0; k < set->nev; k++) {
			int fd = set->cpu[ci].fd[on ? k : set->nev - 1 - k];

			if (fd >= 0 && ioctl(fd, req, 0) < 0 && rc == 0)
				rc = -errno;
		}
	set->enabled = on && rc == 0;
	return rc;
}

bool
perf_ring_set_enabled(const struct perf_ring_set *set)
{
	return set->enabled;
}

int
perf_ring_set_nrings(const struct perf_ring_set *set)
{
	return set->nrings;
}

int
perf_ring_set_fd(const struct perf_ring_set *set, int i)
{
	return i >= 0 && i < set->nrings ? set->ring[i].fd : -1;
}

int
perf_ring_set_read(struct perf_ring_set *set, int i, sample_fn fn, void *arg,
    unsigned max)
{
	if (i < 0 || i >= set->nrings)
		return -EINVAL;
	return perf_ring_read(&set->ring[i], fn, arg, max);
}

void
perf_ring_set_stats(const struct perf_ring_set *set,
    struct perf_ring_stats *sum)
{
	uint64_t acc[sizeof(*sum) / sizeof(uint64_t)] = { 0 };

	for (int i = 0; i < set->nrings; i++) {
		uint64_t one[ARRAY_SIZE(acc)];

		memcpy(one, &set->ring[i].stats, sizeof(one));
		for (size_t j = 0; j < ARRAY_SIZE(acc); j++)
			acc[j] += one[j];
	}
	memcpy(sum, acc, sizeof(*sum));
}

const struct perf_ring_stats *
perf_ring_set_ring_stats(const struct perf_ring_set *set, int i)
{
	return i >= 0 && i < set->nrings ? &set->ring[i].stats : NULL;
}

int
perf_ring_set_period(struct perf_ring_set *set, uint64_t period)
{
	uint64_t v = align_up(period, set->align);

	v = MIN(MAX(v, set->period_min), set->period_max);
	for (int ci = 0; ci < set->ncpu; ci++)
		for (int k = 0; k < set->nev; k++) {
			int fd = set->cpu[ci].fd[k];

			if (fd >= 0 && !set->ev[k].leader &&
			    ioctl(fd, PERF_EVENT_IOC_PERIOD, &v) < 0)
				return -errno;
		}
	set->period = v;
	for (int k = 0; k < set->nev; k++)
		if (!set->ev[k].leader)
			set->attr[k].sample_period = v;
	return 0;
}

uint64_t
perf_ring_set_get_period(const struct perf_ring_set *set)
{
	return set->period;
}

void
perf_ring_set_bounds(const struct perf_ring_set *set, uint64_t *min,
    uint64_t *max)
{
	*min = set->period_min;
	*max = set->period_max;
}

const struct perf_event_attr *
perf_ring_set_attr(const struct perf_ring_set *set, int ev)
{
	return ev >= 0 && ev < set->nev ? &set->attr[ev] : NULL;
}

int
perf_ring_set_ncpus(const struct perf_ring_set *set)
{
	int n = 0;

	for (int ci = 0; ci < set->ncpu; ci++)
		for (int k = 0; k < set->nev; k++)
			if (set->cpu[ci].fd[k] >= 0) {
				n++;
				break;
			}
	return n;
}

/*
 * Adaptive period, once per pace window (1 s; main.c on_tick).  The
 * agent's sampling cost (reading rings, the heat table) grows with the
 * sample rate, i.e. as 1/period; its ticks and rounds do not.  Over
 * budget, the period grows by cpu_frac/budget (at least by align, at
 * most 4 times): were all of the cost the samples', that would bring it
 * back to the budget in one step, and as part of it is not, a window
 * over the budget takes a step in proportion to how far over it is.
 * Under PERIOD_LOW of the budget the period shrinks by PERIOD_STEP
 * (never below min): that adds at most a quarter to the cost, to under
 * the budget, so the two rules cannot chase each other.  In between it
 * stays.  Results are multiples of align (IBS: 16) within [min, max].
 *
 * Until now a step was at least 1.25 times and the period came down
 * only under a quarter of the budget, once per 50 ms tick: a tick holds
 * a round's CPU or none, and the period rose at every tick with a round
 * and stayed.  vtier-sim, which models this code
 * (--agent-cpu wakeup=10000,sample=150,tick=165000, make eval's
 * traces): 48-56% of every synthetic trace's samples went unsampled at
 * modelled CPU 0.87-0.88% on the stationary ones; on the window with
 * these steps, 18-23% at 0.96%.
 */
#define PERIOD_LOW	0.8	/* shrink under 80% of the budget */
#define PERIOD_STEP	1.25

uint64_t
perf_ring_period_next(uint64_t cur, double cpu_frac, double budget,
    uint64_t min, uint64_t max, unsigned align)
{
	uint64_t next = cur;

	if (align == 0)
		align = 1;
	if (budget > 0 && cpu_frac == cpu_frac && cpu_frac >= 0) {
		if (cpu_frac > budget) {
			double f = cpu_frac / budget;

			f = f > 4.0 ? 4.0 : f;
			next = (double)cur * f >= (double)max ? max :
			    MAX((uint64_t)((double)cur * f), cur + align);
		} else if (cpu_frac < budget * PERIOD_LOW) {
			next = (uint64_t)((double)cur / PERIOD_STEP);
		}
	}
	min = align_up(MAX(min, 1), align);
	max = MAX(max / align * align, min);
	next = align_up(next, align);
	return MIN(MAX(next, min), max);
}
