/*
 * kparse.c - decoders of the kernel's self-description (see kparse.h):
 * BTF, /proc/kallsyms lines, /proc/kcore's program headers.  Pure: no
 * system calls.
 *
 * BTF (include/uapi/linux/btf.h).  A 24-byte header (magic 0xeB9F in the
 * writer's byte order, version 1, flags, hdr_len, then the type and
 * string sections' offsets and lengths, relative to the header's end),
 * a type section of records and a string section of NUL-terminated
 * names, the first one empty.  Each record is a 12-byte btf_type (name
 * offset; info: vlen in bits 0-15, kind in 24-28, kind_flag in 31; a
 * size or a type id) followed by kind-specific data whose length follows
 * from the kind and vlen alone (the table in record_extra).  Type ids
 * are positions, from 1 (0 is void), so one pass indexes them; nothing
 * is trusted: every section must lie inside the blob, every record
 * inside the type section, the string section must end with a NUL (so
 * any name offset inside it gives a terminated string), and a kind
 * this code does not know stops the walk (its length is unknown).
 * Struct members are { name, type, offset }, the offset in bits; with
 * the struct's kind_flag, bits 24-31 are a bitfield's width.
 *
 * kallsyms (kernel/kallsyms.c s_show): "%px %c %s\n" for vmlinux
 * symbols, "%px %c %s\t[%s]\n" for a module's.  With kptr_restrict (or
 * without CAP_SYSLOG) every address reads 0.
 *
 * kcore (fs/proc/kcore.c): an ELF64 core file, a PT_NOTE then one
 * PT_LOAD per kcore_list entry, p_vaddr the kernel virtual address,
 * p_offset where its bytes are in the file, and p_paddr = __pa(addr)
 * for KCORE_RAM (the linear map of System RAM), __pa_symbol(addr) for
 * KCORE_TEXT (the kernel image), -1 for the rest (vmalloc, modules,
 * vmemmap).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtier/byteorder.h"
#include "vtier/util.h"
#include "kparse.h"

/* ------------------------------------------------------------ helpers */

#define le16 get_le16
#define le32 get_le32
#define le64 get_le64

static void __attribute__((format(printf, 3, 4)))
say(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------- BTF */

#define BTF_MAGIC		0xeB9F
#define BTF_HDR_MIN		24
#define BTF_TYPE_LEN		12
#define BTF_MAX_TYPE		0x000fffff	/* btf.h */

enum {
	KIND_INT = 1, KIND_PTR, KIND_ARRAY, KIND_STRUCT, KIND_UNION,
	KIND_ENUM, KIND_FWD, KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST,
	KIND_RESTRICT, KIND_FUNC, KIND_FUNC_PROTO, KIND_VAR, KIND_DATASEC,
	KIND_FLOAT, KIND_DECL_TAG, KIND_TYPE_TAG, KIND_ENUM64,
};

#define KERNEL_PTR_SIZE	8	/* x86-64 */
#define MAX_CHAIN	32	/* typedef/modifier/array links followed */
#define MAX_NEST	8	/* anonymous members looked into */
#define MAX_VISITS	(1u << 16)	/* members looked at per lookup: nested
					 * anonymous members fan out */

/* Bytes after the 12-byte record, or -1 for a kind not known here. */
static long
record_extra(unsigned kind, unsigned vlen)
{
	switch (kind) {
	case KIND_INT:
	case KIND_VAR:
	case KIND_DECL_TAG:
		return 4;
	case KIND_ARRAY:
		return 12;
	case KIND_STRUCT:
	case KIND_UNION:
	case KIND_DATASEC:
	case KIND_ENUM64:
		return 12L * vlen;
	case KIND_ENUM:
	case KIND_FUNC_PROTO:
		return 8L * vlen;
	case KIND_PTR:
	case KIND_FWD:
	case KIND_TYPEDEF:
	case KIND_VOLATILE:
	case KIND_CONST:
	case KIND_RESTRICT:
	case KIND_FUNC:
	case KIND_FLOAT:
	case KIND_TYPE_TAG:
		return 0;
	default:
		return -1;
	}
}

int
kparse_btf_open(struct kparse_btf *b, const uint8_t *data, size_t len,
    char *err, size_t errlen)
{
	uint32_t hdr_len, toff, tlen, soff, slen, off = 0, cap = 0;
	uint16_t magic;

	memset(b, 0, sizeof(*b));
	if (len < BTF_HDR_MIN) {
		say(err, errlen, "%zu bytes, shorter than a BTF header", len);
		return -EINVAL;
	}
	magic = le16(data);
	if (magic != BTF_MAGIC) {
		say(err, errlen, magic == 0x9FEB ? "BTF of the other byte "
		    "order" : "not BTF (magic 0x%04x)", magic);
		return magic == 0x9FEB ? -ENOTSUP : -EINVAL;
	}
	if (data[2] != 1) {
		say(err, errlen, "BTF version %u (1 is known)", data[2]);
		return -ENOTSUP;
	}
	hdr_len = le32(data + 4);
	toff = le32(data + 8);
	tlen = le32(data + 12);
	soff = le32(data + 16);
	slen = le32(data + 20);
	if (hdr_len < BTF_HDR_MIN || hdr_len > len ||
	    (uint64_t)hdr_len + toff + tlen > len ||
	    (uint64_t)hdr_len + soff + slen > len) {
		say(err, errlen, "BTF sections outside the %zu bytes", len);
		return -EINVAL;
	}
	b->types = data + hdr_len + toff;
	b->types_len = tlen;
	b->strs = (const char *)data + hdr_len + soff;
	b->strs_len = slen;
	if (slen == 0 || b->strs[0] != '\0' || b->strs[slen - 1] != '\0') {
		say(err, errlen, "BTF string section not NUL-bounded");
		return -EINVAL;
	}
	b->ntypes = 1;			/* id 0: void */
	while (off < tlen) {
		uint32_t info;
		long extra;

		if (tlen - off < BTF_TYPE_LEN)
			goto short_;
		info = le32(b->types + off + 4);
		extra = record_extra((info >> 24) & 0x1f, info & 0xffff);
		if (extra < 0) {
			say(err, errlen, "BTF kind %u at type %u is not known "
			    "here", (info >> 24) & 0x1f, b->ntypes);
			kparse_btf_close(b);
			return -ENOTSUP;
		}
		if ((uint64_t)tlen - off - BTF_TYPE_LEN < (uint64_t)extra)
			goto short_;
		if (b->ntypes > BTF_MAX_TYPE) {
			say(err, errlen, "more than %u BTF types", BTF_MAX_TYPE);
			kparse_btf_close(b);
			return -EINVAL;
		}
		if (b->ntypes >= cap) {
			uint32_t ncap = cap ? cap * 2 : 1024;
			uint32_t *p = realloc(b->off, ncap * sizeof(*p));

			if (p == NULL) {
				say(err, errlen, "out of memory");
				kparse_btf_close(b);
				return -ENOMEM;
			}
			b->off = p;
			cap = ncap;
		}
		b->off[b->ntypes++] = off;
		off += BTF_TYPE_LEN + (uint32_t)extra;
	}
	return 0;
short_:
	say(err, errlen, "BTF type %u runs past the type section", b->ntypes);
	kparse_btf_close(b);
	return -EINVAL;
}

void
kparse_btf_close(struct kparse_btf *b)
{
	free(b->off);
	memset(b, 0, sizeof(*b));
}

/* A record's fields; id must be 1..ntypes-1. */
static const uint8_t *
rec(const struct kparse_btf *b, uint32_t id)
{
	return b->types + b->off[id];
}

static unsigned
kind_of(const uint8_t *r)
{
	return (le32(r + 4) >> 24) & 0x1f;
}

static unsigned
vlen_of(const uint8_t *r)
{
	return le32(r + 4) & 0xffff;
}

/* The name at offset o, or NULL outside the string section. */
static const char *
str_at(const struct kparse_btf *b, uint32_t o)
{
	return o < b->strs_len ? b->strs + o : NULL;
}

/* Through typedefs and modifiers to the type itself; 0 if broken. */
static uint32_t
skip_mods(const struct kparse_btf *b, uint32_t id)
{
	for (int i = 0; i < MAX_CHAIN; i++) {
		const uint8_t *r;

		if (id == 0 || id >= b->ntypes)
			return 0;
		r = rec(b, id);
		switch (kind_of(r)) {
		case KIND_TYPEDEF:
		case KIND_VOLATILE:
		case KIND_CONST:
		case KIND_RESTRICT:
		case KIND_TYPE_TAG:
			id = le32(r + 8);
			break;
		default:
			return id;
		}
	}
	return 0;
}

/* The size in bytes of type id: 0, or -EINVAL for void or a loop. */
static int
type_size(const struct kparse_btf *b, uint32_t id, int depth,
    uint32_t *size)
{
	const uint8_t *r;
	uint32_t esz;
	int rc;

	if (depth > MAX_CHAIN || (id = skip_mods(b, id)) == 0)
		return -EINVAL;
	r = rec(b, id);
	switch (kind_of(r)) {
	case KIND_INT:
	case KIND_ENUM:
	case KIND_ENUM64:
	case KIND_STRUCT:
	case KIND_UNION:
	case KIND_FLOAT:
		*size = le32(r + 8);
		return 0;
	case KIND_PTR:
		*size = KERNEL_PTR_SIZE;
		return 0;
	case KIND_ARRAY:
		if ((rc = type_size(b, le32(r + 12), depth + 1, &esz)) < 0)
			return rc;
		if (esz != 0 && le32(r + 20) > UINT32_MAX / esz)
			return -EINVAL;
		*size = esz * le32(r + 20);
		return 0;
	default:
		return -EINVAL;
	}
}

/*
 * Member `name` of struct/union id, at *bits from the outermost struct:
 * 1 found (offset in *bits, size in *size), 0 not there, -EINVAL (a
 * bitfield, or not byte-aligned, or a type without a size), -E2BIG
 * (*visits used up: anonymous members nested too widely).
 */
static int
find_member(const struct kparse_btf *b, uint32_t id, const char *name,
    int depth, uint64_t base, unsigned *visits, uint64_t *bits,
    uint32_t *size)
{
	const uint8_t *r = rec(b, id);
	bool kflag = le32(r + 4) >> 31;
	unsigned n = vlen_of(r);

	for (unsigned i = 0; i < n; i++) {
		const uint8_t *m = r + BTF_TYPE_LEN + 12 * (size_t)i;
		const char *mname = str_at(b, le32(m));
		uint32_t mtype = le32(m + 4), moff = le32(m + 8);
		uint64_t at = base + (kflag ? (moff & 0xffffff) : moff);
		uint32_t inner;
		int rc;

		if ((*visits)-- == 0)
			return -E2BIG;
		if (mname == NULL)
			return -EINVAL;
		if (mname[0] == '\0') {
			/* anonymous struct or union: its members are ours */
			inner = skip_mods(b, mtype);
			if (inner == 0 || depth >= MAX_NEST ||
			    (kind_of(rec(b, inner)) != KIND_STRUCT &&
			    kind_of(rec(b, inner)) != KIND_UNION))
				continue;
			rc = find_member(b, inner, name, depth + 1, at, visits,
			    bits, size);
			if (rc != 0)
				return rc;
			continue;
		}
		if (strcmp(mname, name) != 0)
			continue;
		if ((kflag && (moff >> 24) != 0) || at % 8 != 0)
			return -EINVAL;
		if ((rc = type_size(b, mtype, 0, size)) < 0)
			return rc;
		*bits = at;
		return 1;
	}
	return 0;
}

/* Call fn for each STRUCT named sname; -ENOENT if there is none. */
static int
each_struct(const struct kparse_btf *b, const char *sname,
    int (*fn)(const struct kparse_btf *, uint32_t, void *), void *arg)
{
	int rc, found = 0;

	for (uint32_t id = 1; id < b->ntypes; id++) {
		const uint8_t *r = rec(b, id);
		const char *n;

		if (kind_of(r) != KIND_STRUCT ||
		    (n = str_at(b, le32(r))) == NULL || strcmp(n, sname) != 0)
			continue;
		found = 1;
		if ((rc = fn(b, id, arg)) < 0)
			return rc;
	}
	return found ? 0 : -ENOENT;
}

struct member_q {
	const char *member;
	unsigned visits;		/* all structs of the name together */
	bool have;
	uint64_t bits;
	uint32_t size;
	int why;		/* 0, or what failed: -ENOENT / -EINVAL */
};

static int
member_of(const struct kparse_btf *b, uint32_t id, void *arg)
{
	struct member_q *q = arg;
	uint64_t bits;
	uint32_t size;
	int rc;

	rc = find_member(b, id, q->member, 0, 0, &q->visits, &bits, &size);
	if (rc <= 0) {
		q->why = rc == 0 ? -ENOENT : rc;
		return q->why;
	}
	if (q->have && (bits != q->bits || size != q->size)) {
		q->why = -EINVAL;
		return -EINVAL;
	}
	q->have = true;
	q->bits = bits;
	q->size = size;
	return 0;
}

int
kparse_btf_member(const struct kparse_btf *b, const char *sname,
    const char *member, uint32_t *off, uint32_t *size, char *err,
    size_t errlen)
{
	struct member_q q = { .member = member, .visits = MAX_VISITS };
	int rc;

	rc = each_struct(b, sname, member_of, &q);
	if (rc == -ENOENT && q.why == 0) {
		say(err, errlen, "no struct %s in the BTF", sname);
		return -ENOENT;
	}
	if (rc < 0) {
		say(err, errlen, q.why == -ENOENT ? "struct %s has no member "
		    "%s" : q.why == -E2BIG ? "struct %s: anonymous members "
		    "nested too widely looking for %s" : "struct %s's member "
		    "%s is a bitfield, not byte-aligned, or differs between "
		    "copies", sname, member);
		return q.why == -ENOENT ? -ENOENT : -EINVAL;
	}
	if (q.bits / 8 > UINT32_MAX)
		return -EINVAL;
	*off = (uint32_t)(q.bits / 8);
	*size = q.size;
	return 0;
}

static int
size_of(const struct kparse_btf *b, uint32_t id, void *arg)
{
	uint32_t *sz = arg, s = le32(rec(b, id) + 8);

	if (*sz != UINT32_MAX && *sz != s)
		return -EINVAL;
	*sz = s;
	return 0;
}

int
kparse_btf_struct_size(const struct kparse_btf *b, const char *sname,
    uint32_t *size, char *err, size_t errlen)
{
	uint32_t sz = UINT32_MAX;
	int rc;

	if ((rc = each_struct(b, sname, size_of, &sz)) < 0) {
		say(err, errlen, rc == -ENOENT ? "no struct %s in the BTF" :
		    "copies of struct %s differ in size", sname);
		return rc;
	}
	*size = sz;
	return 0;
}

/* ----------------------------------------------------------- kallsyms */

#define KSYM_NAME_MAX	512	/* KSYM_NAME_LEN, Linux 6.1 */

int
kparse_kallsyms_line(const char *line, size_t len, struct kparse_sym *syms,
    size_t n)
{
	char hex[17];
	uint64_t addr;
	size_t i, name, nlen;
	int used = 0;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len == 0)
		return 0;
	/* "ADDR T NAME": 1-16 hex digits, single spaces around T */
	for (i = 0; i < len && i < sizeof(hex) && line[i] != ' '; i++)
		hex[i] = line[i];
	if (i == 0 || i == sizeof(hex) || len - i < 4 || line[i] != ' ' ||
	    line[i + 2] != ' ' || line[i + 1] <= ' ' || line[i + 1] > '~')
		return -EINVAL;
	hex[i] = '\0';
	if (hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X'))
		return -EINVAL;		/* parse_hex_u64 would take it */
	if (parse_hex_u64(hex, &addr) < 0)
		return -EINVAL;
	name = i + 3;
	for (nlen = 0; name + nlen < len && line[name + nlen] != '\t' &&
	    line[name + nlen] != ' '; nlen++)
		if ((unsigned char)line[name + nlen] < ' ')
			return -EINVAL;
	if (nlen == 0 || nlen > KSYM_NAME_MAX)
		return -EINVAL;
	if (name + nlen < len)
		return line[name + nlen] == '\t' && name + nlen + 1 < len &&
		    line[name + nlen + 1] == '[' ? 0 : -EINVAL; /* a module's */
	for (size_t k = 0; k < n; k++) {
		if (strlen(syms[k].name) != nlen ||
		    memcmp(syms[k].name, line + name, nlen) != 0)
			continue;
		syms[k].addr = addr;
		syms[k].seen++;
		used = 1;
	}
	return used;
}

/* -------------------------------------------------------------- kcore */

#define EHDR_LEN	64
#define PHDR_LEN	56
#define ET_CORE		4
#define EM_X86_64	62
#define PT_LOAD		1
#define PN_XNUM		0xffff
#define PHDRS_MAX	(1 << 20)	/* bytes of program headers */

int
kparse_kcore_open(struct kparse_kcore *k, const uint8_t *buf, size_t len,
    size_t *need, char *err, size_t errlen)
{
	uint64_t phoff, end;
	unsigned phnum;

	memset(k, 0, sizeof(*k));
	*need = EHDR_LEN;
	if (len < EHDR_LEN) {
		say(err, errlen, "%zu bytes: not yet an ELF header", len);
		return -EAGAIN;
	}
	if (memcmp(buf, "\177ELF", 4) != 0) {
		say(err, errlen, "not an ELF file");
		return -EINVAL;
	}
	if (buf[4] != 2 || buf[5] != 1 || le16(buf + 18) != EM_X86_64) {
		say(err, errlen, "not an x86-64 little-endian ELF64 core");
		return -ENOTSUP;
	}
	if (buf[6] != 1 || le16(buf + 16) != ET_CORE ||
	    le16(buf + 54) != PHDR_LEN) {
		say(err, errlen, "not an ELF core with 56-byte program headers");
		return -EINVAL;
	}
	phoff = le64(buf + 32);
	phnum = le16(buf + 56);
	if (phnum == 0 || phnum == PN_XNUM || phoff < EHDR_LEN ||
	    phoff > PHDRS_MAX || (uint64_t)phnum * PHDR_LEN > PHDRS_MAX) {
		say(err, errlen, "program headers: %u at %llu", phnum,
		    (unsigned long long)phoff);
		return -EINVAL;
	}
	end = phoff + (uint64_t)phnum * PHDR_LEN;
	if (end > len) {
		*need = (size_t)end;
		say(err, errlen, "program headers end at %llu",
		    (unsigned long long)end);
		return -EAGAIN;
	}
	if ((k->seg = calloc(MIN(phnum, KPARSE_MAX_SEGS),
	    sizeof(*k->seg))) == NULL) {
		say(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < phnum; i++) {
		const uint8_t *p = buf + phoff + (size_t)i * PHDR_LEN;
		struct kparse_seg *s;
		uint64_t memsz;

		if (le32(p) != PT_LOAD)
			continue;
		if (k->nseg == KPARSE_MAX_SEGS) {
			say(err, errlen, "more than %d segments",
			    KPARSE_MAX_SEGS);
			goto bad;
		}
		s = &k->seg[k->nseg];
		s->offset = le64(p + 8);
		s->vaddr = le64(p + 16);
		s->paddr = le64(p + 24);
		memsz = le64(p + 40);
		s->size = memsz;
		if (memsz == 0)
			continue;
		if (memsz - 1 > UINT64_MAX - s->vaddr ||
		    memsz > (uint64_t)INT64_MAX ||
		    s->offset > (uint64_t)INT64_MAX - memsz ||
		    (s->paddr != KPARSE_NO_PADDR &&
		    memsz - 1 > UINT64_MAX - 1 - s->paddr)) {
			say(err, errlen, "segment %u wraps", i);
			goto bad;
		}
		k->nseg++;
	}
	return 0;
bad:
	kparse_kcore_close(k);
	return -EINVAL;
}

void
kparse_kcore_close(struct kparse_kcore *k)
{
	free(k->seg);
	k->seg = NULL;
	k->nseg = 0;
}

/* The segment holding v..v+len (with a physical address if want_pa). */
static const struct kparse_seg *
seg_of(const struct kparse_kcore *k, uint64_t v, uint64_t len, bool want_pa)
{
	for (size_t i = 0; i < k->nseg; i++) {
		const struct kparse_seg *s = &k->seg[i];

		if (want_pa && s->paddr == KPARSE_NO_PADDR)
			continue;
		if (v >= s->vaddr && len <= s->size &&
		    v - s->vaddr <= s->size - len)
			return s;
	}
	return NULL;
}

int
kparse_kcore_offset(const struct kparse_kcore *k, uint64_t v, uint64_t len,
    uint64_t *off)
{
	const struct kparse_seg *s = seg_of(k, v, len, false);

	if (s == NULL)
		return -ERANGE;
	*off = s->offset + (v - s->vaddr);
	return 0;
}

int
kparse_kcore_phys(const struct kparse_kcore *k, uint64_t v, uint64_t len,
    uint64_t *phys)
{
	const struct kparse_seg *s = seg_of(k, v, len, true);

	if (s == NULL)
		return -ERANGE;
	*phys = s->paddr + (v - s->vaddr);
	return 0;
}
