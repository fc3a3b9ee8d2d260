/*
 * fuzz_shim_virt_xml.c - the shim's readers of what libvirt hands it
 * (hostshim/virt_xml.c), on arbitrary bytes: a domain's XML (whose
 * <metadata> anyone who may edit the domain writes), QEMU's flat memory
 * map and QMP replies.  Byte 0 picks the reader (0-3 domain XML, 4-5
 * the map, 6-7 a QMP reply), the rest is the text, in an exact-size
 * copy (ASan catches a read one past the end).  Checked after each:
 *  - domain: on success the name is 1-64 of [A-Za-z0-9._-], the UUID 36
 *    characters, the channel path empty or absolute and terminated, at
 *    most VIRT_MAX_CELLS cells, a CID 0 or >= 3; bad metadata leaves
 *    the defaults (no budget, managed) with a terminated error text;
 *    what virt_xml_format_meta writes from the result parses back to
 *    the same values.
 *  - map: ranges sorted, disjoint, non-empty, no more than the room, no
 *    wrap; a smaller room fails with -E2BIG or gives the same ranges.
 *  - QMP: the output is terminated within the buffer.
 * Seeds: tests/fuzz/corpus/shim_virt_xml (the fixtures of
 * tests/fixtures/libvirt behind their mode byte).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../hostshim/virt_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_domain(const char *t, size_t n)
{
	static struct virt_domain d, e;
	char why[VIRT_ERR_MAX], meta[512], doc[1024];
	size_t k;

	if (virt_xml_parse_domain(t, n, &d, why, sizeof(why)) < 0) {
		if (memchr(why, '\0', sizeof(why)) == NULL)
			abort();
		return;
	}
	k = strlen(d.name);
	if (k < 1 || k > PROTO_NAME_MAX || strlen(d.uuid) != VIRT_UUID_LEN)
		abort();
	for (size_t i = 0; i < k; i++)
		if (!isalnum((unsigned char)d.name[i]) &&
		    !strchr("._-", d.name[i]))
			abort();
	if (memchr(d.channel, '\0', sizeof(d.channel)) == NULL ||
	    (d.channel[0] != '\0' && d.channel[0] != '/'))
		abort();
	if (d.ncells < 0 || d.ncells > VIRT_MAX_CELLS || d.cid == 1 ||
	    d.cid == 2)
		abort();
	if (memchr(d.meta.error, '\0', sizeof(d.meta.error)) == NULL)
		abort();
	if (d.meta.error[0] != '\0' && (d.meta.budget != 0 ||
	    !d.meta.managed || d.meta.prefault_cap != VIRT_PREFAULT_CAP_DEFAULT))
		abort();
	/* round trip of the metadata the shim would write */
	if (virt_xml_format_meta(&d.meta, meta, sizeof(meta)) < 0)
		abort();
	snprintf(doc, sizeof(doc), "<domain><name>x</name><uuid>%s</uuid>"
	    "<metadata>%.*s xmlns='%s'%s</metadata></domain>", d.uuid, 3, meta,
	    VIRT_NS, meta + 3);
	if (virt_xml_parse_domain(doc, strlen(doc), &e, why, sizeof(why)) < 0 ||
	    e.meta.error[0] != '\0' || e.meta.budget != d.meta.budget ||
	    e.meta.managed != d.meta.managed ||
	    e.meta.prefault_cap != d.meta.prefault_cap)
		abort();
}

static void
check_mtree(const char *t, size_t n)
{
	struct virt_ram r[16], s[16];
	char why[VIRT_ERR_MAX];
	size_t k, j;
	int rc;

	if (virt_xml_parse_mtree(t, n, r, 16, &k, why, sizeof(why)) < 0)
		return;
	if (k > 16)
		abort();
	for (size_t i = 0; i < k; i++) {
		if (r[i].size == 0 || r[i].gpa + r[i].size < r[i].gpa ||
		    r[i].off + r[i].size < r[i].off ||
		    memchr(r[i].region, '\0', sizeof(r[i].region)) == NULL ||
		    r[i].region[0] == '\0')
			abort();
		if (i > 0 && r[i].gpa < r[i - 1].gpa + r[i - 1].size)
			abort();
	}
	rc = virt_xml_parse_mtree(t, n, s, 4, &j, why, sizeof(why));
	if (rc == 0 && (j != k || memcmp(r, s, j * sizeof(r[0])) != 0))
		abort();
	if (rc < 0 && rc != -E2BIG)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *t, buf[64];
	size_t n;

	if (size < 1)
		return 0;
	n = size - 1;
	if ((t = malloc(n ? n : 1)) == NULL)
		abort();
	memcpy(t, data + 1, n);
	switch (data[0] & 7) {
	case 0: case 1: case 2: case 3:
		check_domain(t, n);
		break;
	case 4: case 5:
		check_mtree(t, n);
		break;
	default:
		if (virt_xml_qmp_return(t, n, buf, sizeof(buf)) == 0 &&
		    memchr(buf, '\0', sizeof(buf)) == NULL)
			abort();
		break;
	}
	free(t);
	return 0;
}
