/*
 * dsarea.c - find the guest-physical pages of every CPU's DS area and
 * PEBS buffer (see dsarea.h for what they are and why).  This file owns
 * the reading: /proc/kallsyms, /sys/kernel/btf/vmlinux, /proc/kcore and
 * the possible-CPU list; kparse.c decodes them.  It never writes.
 *
 * The steps, each checked, each failure one PROTO_PF_WHY_* and one
 * sentence:
 *
 *  1. kallsyms: __per_cpu_offset, __per_cpu_start/_end, _text, x86_pmu
 *     and the per-CPU variables cpu_debug_store, cpu_hw_events and
 *     this_cpu_off, each exactly once.  _text reading 0 means the
 *     addresses are hidden (kernel.kptr_restrict 2, or 1 without
 *     CAP_SYSLOG; kallsyms_show_value checks the opener's credentials).
 *     A per-CPU symbol must lie in [__per_cpu_start, __per_cpu_end): its
 *     address on CPU n is then sym + __per_cpu_offset[n] (per_cpu_ptr),
 *     whether the section is linked at 0 (x86-64 before 6.15) or not.
 *  2. BTF: cpu_hw_events.ds_pebs_vaddr (a pointer, 8 bytes),
 *     x86_pmu.pebs_buffer_size (an int) and sizeof(struct debug_store)
 *     <= 4096 (it is page aligned: DEFINE_PER_CPU_PAGE_ALIGNED).
 *  3. kcore: opened (CAP_SYS_RAWIO; refused under lockdown
 *     confidentiality), its program headers read.
 *  4. The arithmetic, on every possible CPU: __per_cpu_offset[n] read
 *     through kcore, and per_cpu(this_cpu_off, n), which setup_per_cpu_
 *     areas() sets to that same offset, must read it back.
 *  5. dsarea_find: the DS area of CPU n is the page at cpu_debug_store +
 *     offset, which must be page aligned and in the linear map (a
 *     segment with a physical address: the per-CPU first chunk is
 *     memblock memory unless percpu_alloc=page); a nonzero
 *     ds_pebs_vaddr is a buffer of pebs_buffer_size bytes (a multiple of
 *     4 KiB up to 1 MiB), page aligned, physically contiguous (one
 *     high-order allocation, so one linear-map segment).
 *
 * The BTS buffer (ds_bts_vaddr) is left out: PEBS never writes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "dsarea.h"
#include "kparse.h"
#include "perf_ring.h"

#define PAGE		4096ULL
#define MAX_CPUS	8192		/* Debian's NR_CPUS */
#define BTF_MAX		(64 * MiB)	/* 6.1's vmlinux BTF: 4.3 MiB */
#define PEBS_BUF_MAX	MiB		/* 64 KiB in every kernel so far */
#define CAP_SYS_RAWIO	17
#define CAP_SYSLOG	34

enum sym {
	S_PER_CPU_OFFSET, S_PER_CPU_START, S_PER_CPU_END, S_TEXT, S_X86_PMU,
	S_DEBUG_STORE, S_HW_EVENTS, S_THIS_CPU_OFF, S_N,
};

static const char *const sym_names[S_N] = {
	[S_PER_CPU_OFFSET] = "__per_cpu_offset",
	[S_PER_CPU_START] = "__per_cpu_start",
	[S_PER_CPU_END] = "__per_cpu_end",
	[S_TEXT] = "_text",
	[S_X86_PMU] = "x86_pmu",
	[S_DEBUG_STORE] = "cpu_debug_store",
	[S_HW_EVENTS] = "cpu_hw_events",
	[S_THIS_CPU_OFF] = "this_cpu_off",
};

struct dsarea {
	uint64_t sym[S_N];
	uint32_t pebs_vaddr_off;	/* in struct cpu_hw_events */
	uint32_t pebs_size_off;		/* in struct x86_pmu */
	uint32_t pebs_size_len;		/* 4 (an int) */
	int kcore;			/* fd */
	struct kparse_kcore k;
	int *cpu;			/* possible CPUs */
	uint64_t *off;			/* their __per_cpu_offset */
	int ncpu;
};

static const struct dsarea_paths real = {
	.kallsyms = "/proc/kallsyms",
	.btf = "/sys/kernel/btf/vmlinux",
	.kcore = "/proc/kcore",
	.cpus = "/sys/devices/system/cpu/possible",
	.kptr_restrict = "/proc/sys/kernel/kptr_restrict",
	.lockdown = "/sys/kernel/security/lockdown",
};

/* The caller's paths, the real ones where it gave none. */
static struct dsarea_paths
paths_or_real(const struct dsarea_paths *p)
{
	struct dsarea_paths r = real;

	if (p == NULL)
		return r;
#define TAKE(m) if (p->m != NULL) r.m = p->m
	TAKE(kallsyms);
	TAKE(btf);
	TAKE(kcore);
	TAKE(cpus);
	TAKE(kptr_restrict);
	TAKE(lockdown);
#undef TAKE
	return r;
}

static int __attribute__((format(printf, 4, 5)))
fail(struct dsarea_err *e, uint16_t why, int rc, const char *fmt, ...)
{
	va_list ap;

	e->why = why;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return rc;
}

/* Is capability bit `cap` in our effective set?  -1: cannot tell. */
static int
have_cap(int cap)
{
	char buf[4096], *p;
	uint64_t eff;

	if (read_file("/proc/self/status", buf, sizeof(buf)) < 0 ||
	    (p = strstr(buf, "CapEff:")) == NULL)
		return -1;
	p += 7;
	p += strspn(p, " \t");
	p[strcspn(p, "\n")] = '\0';
	if (parse_hex_u64(p, &eff) < 0)
		return -1;
	return (eff >> cap) & 1;
}

/* Step 1: the symbols, each once, with addresses shown. */
static int
read_kallsyms(struct dsarea *d, const struct dsarea_paths *p,
    struct dsarea_err *e)
{
	struct kparse_sym s[S_N];
	const char *path = p->kallsyms;
	char *line = NULL, kr[32] = "?";
	size_t cap = 0, lineno = 0;
	ssize_t n;
	FILE *f;
	int rc = 0;

	for (int i = 0; i < S_N; i++)
		s[i] = (struct kparse_sym){ .name = sym_names[i] };
	if ((f = fopen(path, "re")) == NULL)
		return fail(e, PROTO_PF_WHY_KALLSYMS, -errno, "cannot open %s: "
		    "%s", path, strerror(errno));
	while ((n = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (kparse_kallsyms_line(line, (size_t)n, s, S_N) < 0) {
			rc = fail(e, PROTO_PF_WHY_KALLSYMS, -EINVAL, "%s line "
			    "%zu is not 'ADDR TYPE NAME'", path, lineno);
			goto out;
		}
	}
	for (int i = 0; i < S_N; i++) {
		if (s[i].seen != 1) {
			rc = fail(e, PROTO_PF_WHY_KALLSYMS, -ENOENT, "%s: symbol "
			    "%s %s", path, s[i].name, s[i].seen ? "appears more "
			    "than once" : "missing (a kernel without "
			    "CONFIG_KALLSYMS_ALL, or not x86-64 Linux)");
			goto out;
		}
		d->sym[i] = s[i].addr;
	}
	if (d->sym[S_TEXT] == 0) {
		read_file(p->kptr_restrict, kr, sizeof(kr));
		kr[strcspn(kr, "\n")] = '\0';
		rc = fail(e, PROTO_PF_WHY_KALLSYMS, -EPERM, "%s shows no "
		    "addresses (kernel.kptr_restrict = %s%s)", path, kr,
		    have_cap(CAP_SYSLOG) == 0 ? "; the agent lacks CAP_SYSLOG" :
		    "");
		goto out;
	}
	for (int i = S_DEBUG_STORE; i <= S_THIS_CPU_OFF; i++) {
		if (d->sym[i] < d->sym[S_PER_CPU_START] ||
		    d->sym[i] >= d->sym[S_PER_CPU_END]) {
			rc = fail(e, PROTO_PF_WHY_LAYOUT, -ERANGE, "%s at 0x%llx "
			    "is not a per-CPU variable", sym_names[i],
			    (unsigned long long)d->sym[i]);
			goto out;
		}
	}
out:
	free(line);
	fclose(f);
	return rc;
}

/* Step 2: the struct layouts from the kernel's BTF. */
static int
read_btf(struct dsarea *d, const struct dsarea_paths *p, struct dsarea_err *e)
{
	const char *path = p->btf;
	struct kparse_btf b = { 0 };
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	uint32_t size;
	char err[160];
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return fail(e, PROTO_PF_WHY_BTF, -errno, "%s: %s (a kernel "
		    "without CONFIG_DEBUG_INFO_BTF)", path, strerror(errno));
	for (;;) {
		ssize_t n;

		if (len == cap) {
			uint8_t *nb;

			if (cap == BTF_MAX) {
				rc = fail(e, PROTO_PF_WHY_BTF, -EFBIG, "%s: more "
				    "than %llu MiB", path,
				    (unsigned long long)(BTF_MAX / MiB));
				goto out;
			}
			cap = cap ? MIN(cap * 2, (size_t)BTF_MAX) : 1 << 20;
			if ((nb = realloc(buf, cap)) == NULL) {
				rc = fail(e, PROTO_PF_WHY_BTF, -ENOMEM, "out of "
				    "memory");
				goto out;
			}
			buf = nb;
		}
		if ((n = read(fd, buf + len, cap - len)) < 0) {
			if (errno == EINTR)
				continue;
			rc = fail(e, PROTO_PF_WHY_BTF, -errno, "%s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if ((rc = kparse_btf_open(&b, buf, len, err, sizeof(err))) < 0)
		goto bad;
	if ((rc = kparse_btf_member(&b, "cpu_hw_events", "ds_pebs_vaddr",
	    &d->pebs_vaddr_off, &size, err, sizeof(err))) < 0)
		goto bad;
	rc = -EINVAL;
	snprintf(err, sizeof(err), "cpu_hw_events.ds_pebs_vaddr is %u bytes, "
	    "not a pointer", size);
	if (size != 8)
		goto bad;
	if ((rc = kparse_btf_member(&b, "x86_pmu", "pebs_buffer_size",
	    &d->pebs_size_off, &d->pebs_size_len, err, sizeof(err))) < 0)
		goto bad;
	rc = -EINVAL;
	snprintf(err, sizeof(err), "x86_pmu.pebs_buffer_size is %u bytes",
	    d->pebs_size_len);
	if (d->pebs_size_len != 4 && d->pebs_size_len != 8)
		goto bad;
	if ((rc = kparse_btf_struct_size(&b, "debug_store", &size, err,
	    sizeof(err))) < 0)
		goto bad;
	rc = -EINVAL;
	snprintf(err, sizeof(err), "struct debug_store is %u bytes, more "
	    "than a page", size);
	if (size > PAGE)
		goto bad;
	rc = 0;
	goto out;
bad:
	rc = fail(e, PROTO_PF_WHY_BTF, rc, "%s: %s", path, err);
out:
	kparse_btf_close(&b);
	free(buf);
	close(fd);
	return rc;
}

/* Step 3: /proc/kcore and its program headers. */
static int
open_kcore(struct dsarea *d, const struct dsarea_paths *p,
    struct dsarea_err *e)
{
	const char *path = p->kcore;
	uint8_t *buf = NULL;
	size_t len = 4096, need = 0;
	char err[160], lock[128] = "";
	ssize_t n;
	int rc;

	if ((d->kcore = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = -errno;
		if (rc == -EPERM && read_file(p->lockdown, lock,
		    sizeof(lock)) > 0 && strstr(lock, "[confidentiality]"))
			return fail(e, PROTO_PF_WHY_KCORE, rc, "%s: kernel "
			    "lockdown (confidentiality) forbids it", path);
		return fail(e, PROTO_PF_WHY_KCORE, rc, "%s: %s%s", path,
		    strerror(-rc), rc == -EPERM && have_cap(CAP_SYS_RAWIO) ==
		    0 ? " (the agent lacks CAP_SYS_RAWIO)" : rc == -ENOENT ?
		    " (a kernel without CONFIG_PROC_KCORE)" : "");
	}
	for (;;) {
		uint8_t *nb = realloc(buf, len);

		if (nb == NULL) {
			rc = fail(e, PROTO_PF_WHY_KCORE, -ENOMEM, "out of memory");
			goto out;
		}
		buf = nb;
		if ((n = pread(d->kcore, buf, len, 0)) < 0) {
			rc = fail(e, PROTO_PF_WHY_KCORE, -errno, "%s: %s", path,
			    strerror(errno));
			goto out;
		}
		rc = kparse_kcore_open(&d->k, buf, (size_t)n, &need, err,
		    sizeof(err));
		if (rc != -EAGAIN || (size_t)n < len || need <= len)
			break;
		len = need;		/* bounded by kparse: 1 MiB */
	}
	if (rc < 0)
		rc = fail(e, PROTO_PF_WHY_KCORE, rc, "%s: %s", path, err);
out:
	free(buf);
	return rc;
}

int
dsarea_read(const struct dsarea *d, uint64_t vaddr, void *buf, size_t len)
{
	uint64_t off;
	ssize_t n;

	if (kparse_kcore_offset(&d->k, vaddr, len, &off) < 0)
		return -ERANGE;
	n = pread(d->kcore, buf, len, (off_t)off);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int
dsarea_phys(const struct dsarea *d, uint64_t vaddr, uint64_t len,
    uint64_t *gpa)
{
	return kparse_kcore_phys(&d->k, vaddr, len, gpa);
}

/* Step 4: every possible CPU's offset, checked against this_cpu_off. */
static int
read_offsets(struct dsarea *d, const struct dsarea_paths *p,
    struct dsarea_err *e)
{
	const char *path = p->cpus;
	uint64_t self;
	int n, rc;

	if ((d->cpu = calloc(MAX_CPUS, sizeof(*d->cpu))) == NULL)
		return fail(e, PROTO_PF_WHY_LAYOUT, -ENOMEM, "out of memory");
	if ((n = perf_ring_cpulist(path, d->cpu, MAX_CPUS)) <= 0)
		return fail(e, PROTO_PF_WHY_LAYOUT, n < 0 ? n : -ENOENT,
		    "possible CPUs (%s): %s", path, strerror(n < 0 ? -n :
		    ENOENT));
	d->ncpu = n;
	if ((d->off = calloc((size_t)n, sizeof(*d->off))) == NULL)
		return fail(e, PROTO_PF_WHY_LAYOUT, -ENOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		uint64_t a = d->sym[S_PER_CPU_OFFSET] + 8 * (uint64_t)d->cpu[i];

		if ((rc = dsarea_read(d, a, &d->off[i], 8)) < 0)
			return fail(e, PROTO_PF_WHY_LAYOUT, rc, "__per_cpu_offset"
			    "[%d] at 0x%llx: %s", d->cpu[i],
			    (unsigned long long)a, strerror(-rc));
		a = d->sym[S_THIS_CPU_OFF] + d->off[i];
		if ((rc = dsarea_read(d, a, &self, 8)) < 0)
			return fail(e, PROTO_PF_WHY_LAYOUT, rc, "CPU %d: "
			    "this_cpu_off at 0x%llx: %s", d->cpu[i],
			    (unsigned long long)a, strerror(-rc));
		if (self != d->off[i])
			return fail(e, PROTO_PF_WHY_LAYOUT, -EIO, "CPU %d: "
			    "this_cpu_off at 0x%llx reads 0x%llx, not its "
			    "__per_cpu_offset 0x%llx", d->cpu[i],
			    (unsigned long long)a, (unsigned long long)self,
			    (unsigned long long)d->off[i]);
	}
	return 0;
}

int
dsarea_open(struct dsarea **dp, const struct dsarea_paths *paths,
    struct dsarea_err *e)
{
	struct dsarea_paths pp = paths_or_real(paths), *p = &pp;
	struct dsarea *d;
	int rc;

	*dp = NULL;
	e->why = PROTO_PF_WHY_NONE;
	e->msg[0] = '\0';
#if !defined(__x86_64__)
	return fail(e, PROTO_PF_WHY_UNSUPPORTED, -ENOTSUP, "the PEBS buffers "
	    "are found on x86-64 guests only");
#endif
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return fail(e, PROTO_PF_WHY_LAYOUT, -ENOMEM, "out of memory");
	d->kcore = -1;
	if ((rc = read_kallsyms(d, p, e)) < 0 || (rc = read_btf(d, p, e)) < 0 ||
	    (rc = open_kcore(d, p, e)) < 0 || (rc = read_offsets(d, p, e)) < 0)
		goto err;
	*dp = d;
	return 0;
err:
	dsarea_close(d);
	return rc;
}

void
dsarea_close(struct dsarea *d)
{
	if (d == NULL)
		return;
	if (d->kcore >= 0)
		close(d->kcore);
	kparse_kcore_close(&d->k);
	free(d->cpu);
	free(d->off);
	free(d);
}

int
dsarea_ncpus(const struct dsarea *d)
{
	return d->ncpu;
}

int
dsarea_cpu(const struct dsarea *d, int i)
{
	return i >= 0 && i < d->ncpu ? d->cpu[i] : -1;
}

int
dsarea_percpu(const struct dsarea *d, const char *sym, int cpu,
    uint64_t *vaddr)
{
	for (int s = S_DEBUG_STORE; s <= S_THIS_CPU_OFF; s++) {
		if (strcmp(sym, sym_names[s]) != 0)
			continue;
		for (int i = 0; i < d->ncpu; i++) {
			if (d->cpu[i] == cpu) {
				*vaddr = d->sym[s] + d->off[i];
				return 0;
			}
		}
	}
	return -ENOENT;
}

static int
cmp_range(const void *a, const void *b)
{
	const struct proto_range *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/* Sort, refuse overlaps, merge neighbours, add up. */
static int
merge(struct dsarea_set *s, struct dsarea_err *e)
{
	size_t n = 0;

	qsort(s->r, s->n, sizeof(*s->r), cmp_range);
	s->bytes = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct proto_range *last = n ? &s->r[n - 1] : NULL;

		if (last != NULL && s->r[i].gpa < last->gpa + last->size)
			return fail(e, PROTO_PF_WHY_LAYOUT, -EINVAL, "GPA 0x%llx "
			    "found twice (two CPUs' areas overlap)",
			    (unsigned long long)s->r[i].gpa);
		if (last != NULL && s->r[i].gpa == last->gpa + last->size)
			last->size += s->r[i].size;
		else
			s->r[n++] = s->r[i];
		s->bytes += s->r[i].size;
	}
	s->n = n;
	return 0;
}

/* One CPU's ranges (1 or 2) appended to s; room was made for them. */
static int
cpu_ranges(const struct dsarea *d, int i, uint64_t bufsize,
    struct dsarea_set *s, struct dsarea_err *e)
{
	uint64_t ds = d->sym[S_DEBUG_STORE] + d->off[i], gpa, buf;
	uint64_t at = d->sym[S_HW_EVENTS] + d->off[i] + d->pebs_vaddr_off;
	int cpu = d->cpu[i], rc;

	if (ds % PAGE != 0 || dsarea_phys(d, ds, PAGE, &gpa) < 0)
		return fail(e, PROTO_PF_WHY_LAYOUT, -ERANGE, "CPU %d: DS area "
		    "at 0x%llx is not a page of the linear map (percpu_alloc="
		    "page?)", cpu, (unsigned long long)ds);
	s->r[s->n++] = (struct proto_range){ gpa, PAGE };
	if ((rc = dsarea_read(d, at, &buf, 8)) < 0)
		return fail(e, PROTO_PF_WHY_LAYOUT, rc, "CPU %d: "
		    "cpu_hw_events.ds_pebs_vaddr at 0x%llx: %s", cpu,
		    (unsigned long long)at, strerror(-rc));
	if (buf == 0)
		return 0;		/* no PEBS buffer now */
	if (bufsize == 0 || bufsize % PAGE != 0 || bufsize > PEBS_BUF_MAX)
		return fail(e, PROTO_PF_WHY_LAYOUT, -EINVAL, "x86_pmu."
		    "pebs_buffer_size is %llu bytes",
		    (unsigned long long)bufsize);
	if (buf % PAGE != 0 || dsarea_phys(d, buf, bufsize, &gpa) < 0)
		return fail(e, PROTO_PF_WHY_LAYOUT, -ERANGE, "CPU %d: PEBS "
		    "buffer at 0x%llx+%llu is not in the linear map", cpu,
		    (unsigned long long)buf, (unsigned long long)bufsize);
	s->r[s->n++] = (struct proto_range){ gpa, bufsize };
	s->nbuffers++;
	return 0;
}

int
dsarea_find(struct dsarea *d, struct dsarea_set *s, struct dsarea_err *e)
{
	uint64_t bufsize = 0;	/* an int or a long: its low bytes */
	int rc;

	memset(s, 0, sizeof(*s));
	e->why = PROTO_PF_WHY_NONE;
	e->msg[0] = '\0';
	if ((rc = dsarea_read(d, d->sym[S_X86_PMU] + d->pebs_size_off,
	    &bufsize, d->pebs_size_len)) < 0)
		return fail(e, PROTO_PF_WHY_LAYOUT, rc, "x86_pmu at 0x%llx: %s",
		    (unsigned long long)d->sym[S_X86_PMU], strerror(-rc));
	if ((s->r = calloc(2 * (size_t)d->ncpu, sizeof(*s->r))) == NULL)
		return fail(e, PROTO_PF_WHY_LAYOUT, -ENOMEM, "out of memory");
	for (int i = 0; i < d->ncpu; i++)
		if ((rc = cpu_ranges(d, i, bufsize, s, e)) < 0)
			goto err;
	s->ncpus = (unsigned)d->ncpu;
	if ((rc = merge(s, e)) < 0)
		goto err;
	return 0;
err:
	dsarea_set_free(s);
	return rc;
}

void
dsarea_set_free(struct dsarea_set *s)
{
	free(s->r);
	memset(s, 0, sizeof(*s));
}

int
dsarea_discover(const struct dsarea_paths *p, struct dsarea_set *s,
    struct dsarea_err *e)
{
	struct dsarea *d;
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = dsarea_open(&d, p, e)) < 0)
		return rc;
	rc = dsarea_find(d, s, e);
	dsarea_close(d);
	return rc;
}
