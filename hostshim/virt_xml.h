/*
 * virt_xml.h - what the shim reads from libvirt, as plain data: a
 * domain's XML (name, UUID, vsock CID, the vtier channel, memory
 * backing, NUMA cells, vtier's metadata element) and QEMU's flat memory
 * map (`info mtree -f`).  Pure code over untrusted text: virt_xml.c
 * opens nothing and calls no libvirt function, so the unit tests and the
 * fuzzer feed it fixture text.  virt.c does the talking to libvirt.
 */
#ifndef VTIER_VIRT_XML_H
#define VTIER_VIRT_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vtier/proto.h"

/* vtier's element under <metadata>: <vtier:vm xmlns:vtier="VIRT_NS"> */
#define VIRT_NS		"http://vtier.dev/xmlns/domain/1"
#define VIRT_NS_PREFIX	"vtier"
#define VIRT_META_ELEM	"vm"
/* the virtio-serial channel the agent uses: <target name='org.vtier.0'> */
#define VIRT_CHANNEL	"org.vtier.0"

#define VIRT_XML_MAX	(4u * 1024 * 1024)	/* a domain's XML */
#define VIRT_MTREE_MAX	(4u * 1024 * 1024)	/* info mtree -f */
#define VIRT_MAX_CELLS	64
#define VIRT_UUID_LEN	36
#define VIRT_PATH_MAX	108		/* sun_path: socket paths */
#define VIRT_ERR_MAX	192
#define VIRT_REGION_MAX	64		/* a QEMU memory region's name */
#define VIRT_PREFAULT_CAP_DEFAULT	(1024ULL * 1024 * 1024)

enum virt_mem {
	VIRT_MEM_ANON,		/* no <source> or type='anonymous' */
	VIRT_MEM_FILE,		/* <source type='file'/> */
	VIRT_MEM_MEMFD,		/* <source type='memfd'/> */
};

struct virt_cell {
	uint32_t id;
	uint64_t bytes;
	int mem_access;		/* 1 shared, 0 private, -1 not said */
};

struct virt_meta {
	bool present;		/* the element is in <metadata> */
	uint64_t budget;	/* bytes, 0 = none */
	uint64_t prefault_cap;	/* bytes, 0 refuses every pre-fault */
	bool managed;		/* no: the shim leaves the domain alone */
	char error[VIRT_ERR_MAX];	/* malformed: what, "" = fine */
};

struct virt_domain {
	char name[PROTO_NAME_MAX + 1];
	char uuid[VIRT_UUID_LEN + 1];
	int id;			/* the running domain's id, -1: none */
	uint64_t memory;	/* <memory>, bytes */
	uint32_t cid;		/* <vsock><cid address>, 0 = none */
	char channel[VIRT_PATH_MAX];	/* the vtier channel's socket, "" */
	bool channel_connect;	/* mode='connect': QEMU connects to it */
	enum virt_mem mem;
	bool mem_shared;	/* <access mode='shared'/> */
	bool hugepages;		/* <hugepages/> */
	struct virt_cell cell[VIRT_MAX_CELLS];
	int ncells;
	bool has_dac;		/* <seclabel model='dac'><label>+U:+G */
	uint32_t dac_uid, dac_gid;	/* QEMU's user and group */
	struct virt_meta meta;
};

/*
 * Read a domain's XML (as virDomainGetXMLDesc gives it) into d.
 * -EINVAL when it is not a domain we can serve (malformed XML, no or a
 * bad name or UUID, a bad cell, two vtier channels): why says which.
 * Malformed vtier metadata is not an error here: d->meta.error says
 * what is wrong and the rest of d is good.
 */
int virt_xml_parse_domain(const char *xml, size_t len, struct virt_domain *d,
    char *why, size_t whylen);

/*
 * vtier's metadata element for virDomainSetMetadata (key VIRT_NS_PREFIX,
 * uri VIRT_NS), unprefixed as libvirt wants it: 0, or -ENOSPC.
 */
int virt_xml_format_meta(const struct virt_meta *m, char *buf, size_t len);

/* One guest-RAM range of QEMU's flat view, merged per region. */
struct virt_ram {
	char region[VIRT_REGION_MAX];	/* the memory backend's id */
	uint64_t gpa, size;
	uint64_t off;			/* offset in the region (its file) */
};

/*
 * Parse `info mtree -f` output: the RAM ranges of the flat view that
 * address space "memory" renders (the guest-physical map), each with its
 * region and offset in it.  Ranges of one region at the same GPA-offset
 * distance are merged across what lies between them (ROM, I/O holes
 * overlaid on the same backend).  Sorted by GPA.  -EINVAL when no such
 * view or a malformed line in it, -E2BIG when more than max ranges.
 */
int virt_xml_parse_mtree(const char *text, size_t len, struct virt_ram *r,
    size_t max, size_t *n, char *why, size_t whylen);

/*
 * The "return" of a QMP reply such as {"return": "/path", "id": "x"}: a
 * string (simple escapes only) or true/false (copied as "true"/"false").
 * -ENOENT for an {"error": ...} reply, -EINVAL for anything else.
 */
int virt_xml_qmp_return(const char *json, size_t len, char *buf,
    size_t buflen);

#endif
