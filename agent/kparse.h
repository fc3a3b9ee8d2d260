/*
 * kparse.h - decoders of what the running kernel says about itself:
 * raw BTF (/sys/kernel/btf/vmlinux: struct member offsets and sizes),
 * /proc/kallsyms lines (symbol addresses), and /proc/kcore's ELF header
 * and program headers (which kernel virtual addresses are readable
 * where, and the physical address behind each linear-map segment).
 *
 * Pure code: bytes in, answers out; no file is opened here (dsarea.c
 * does the reading).  Every input is treated as untrusted: lengths and
 * counts are bounded before use, and a malformed input is an error with
 * a reason, never a crash (tests/fuzz/fuzz_kparse.c).  x86-64 only in
 * what it accepts (little-endian BTF, ELFCLASS64 EM_X86_64 cores),
 * which is what the PEBS discovery needs.
 *
 * Every function returns 0 or -errno unless it says otherwise; err, when
 * given, gets a short reason.
 */
#ifndef VTIER_AGENT_KPARSE_H
#define VTIER_AGENT_KPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- BTF ---- */

struct kparse_btf {
	const uint8_t *types;		/* the type section (not owned) */
	uint32_t types_len;
	const char *strs;		/* the string section (not owned) */
	uint32_t strs_len;
	uint32_t *off;			/* off[id]: type id's offset in types */
	uint32_t ntypes;		/* ids 1..ntypes-1; 0 is void */
};

/*
 * Index the BTF blob data[0..len) (kept by the caller while b is used):
 * header checked (magic 0xeB9F native little-endian, version 1, sections
 * inside the blob), every type record walked once and bounded.
 * -EINVAL (malformed), -ENOTSUP (another byte order or version, a kind
 * this code does not know), -ENOMEM.
 */
int kparse_btf_open(struct kparse_btf *b, const uint8_t *data, size_t len,
    char *err, size_t errlen);
void kparse_btf_close(struct kparse_btf *b);

/*
 * Byte offset and size of member `member` of `struct sname`, looking
 * into anonymous struct/union members.  Every struct of that name (BTF
 * may hold several) must agree.  -ENOENT no such struct or member,
 * -EINVAL a bitfield or a member not at a byte offset, or disagreement.
 */
int kparse_btf_member(const struct kparse_btf *b, const char *sname,
    const char *member, uint32_t *off, uint32_t *size, char *err,
    size_t errlen);
/* Size of `struct sname` (all of that name agreeing).  -ENOENT/-EINVAL. */
int kparse_btf_struct_size(const struct kparse_btf *b, const char *sname,
    uint32_t *size, char *err, size_t errlen);

/* ---- /proc/kallsyms ---- */

/* A symbol looked for: name in, address and how often seen out. */
struct kparse_sym {
	const char *name;
	uint64_t addr;
	unsigned seen;			/* 0: absent; > 1: ambiguous */
};

/*
 * One line of /proc/kallsyms, "ADDR TYPE NAME[\t[MODULE]]" (len bytes,
 * no newline needed): a vmlinux symbol (no module) whose name is one of
 * syms[0..n) records its address.  1 a line used, 0 a line skipped (a
 * module's, blank, another name), -EINVAL malformed.
 */
int kparse_kallsyms_line(const char *line, size_t len,
    struct kparse_sym *syms, size_t n);

/* ---- /proc/kcore ---- */

#define KPARSE_NO_PADDR	UINT64_MAX	/* a segment with no physical address */
#define KPARSE_MAX_SEGS	4096		/* program headers taken */

struct kparse_seg {
	uint64_t vaddr, paddr, size;	/* paddr KPARSE_NO_PADDR: vmalloc etc. */
	uint64_t offset;		/* where vaddr is in the file */
};

struct kparse_kcore {
	struct kparse_seg *seg;
	size_t nseg;
};

/*
 * The ELF header and program headers at buf[0..len), the start of
 * /proc/kcore.  -EAGAIN with *need set when the program headers end past
 * len (read that much and call again); -EINVAL malformed; -ENOTSUP not
 * an x86-64 little-endian core; -ENOMEM.  PT_LOAD segments are kept.
 */
int kparse_kcore_open(struct kparse_kcore *k, const uint8_t *buf, size_t len,
    size_t *need, char *err, size_t errlen);
void kparse_kcore_close(struct kparse_kcore *k);

/* v..v+len inside one PT_LOAD segment: its file offset.  -ERANGE. */
int kparse_kcore_offset(const struct kparse_kcore *k, uint64_t v,
    uint64_t len, uint64_t *off);
/*
 * v..v+len inside one segment that has a physical address (linear map
 * or kernel text; kcore gives vmalloc and vmemmap none): the physical
 * address of v.  -ERANGE.
 */
int kparse_kcore_phys(const struct kparse_kcore *k, uint64_t v, uint64_t len,
    uint64_t *phys);

#endif
