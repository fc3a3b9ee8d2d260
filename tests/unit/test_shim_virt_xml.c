/*
 * test_shim_virt_xml.c - hostshim/virt_xml.c on fixture text
 * (tests/fixtures/libvirt/, laid out as libvirt's own dumpxml gives it):
 * domains with NUMA cells and file memory, without NUMA (vsock), with
 * memfd, with hugepages and four cells; vtier's metadata good, absent,
 * unprefixed and malformed (a per-VM error, the rest of the domain
 * read); bad names, CIDs, channels, truncated XML and an external
 * entity (never fetched); QEMU's flat view (q35 with two NUMA backends,
 * one 5 GiB backend split at 4 GiB) and QMP replies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtier/util.h"
#include "../../hostshim/virt_xml.h"
#include "../test.h"

static char why[VIRT_ERR_MAX];
static struct virt_domain dom;

static const char *
src_dir(void)
{
	const char *s = getenv("SRC");

	return s != NULL && *s != '\0' ? s : ".";
}

/* A fixture's text, malloc'd; *len its length. */
static char *
fixture(const char *name, size_t *len)
{
	char path[4096];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/tests/fixtures/libvirt/%s", src_dir(),
	    name);
	if ((f = fopen(path, "r")) == NULL) {
		perror(path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n)
		exit(1);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int
parse(const char *name)
{
	size_t len;
	char *x = fixture(name, &len);
	int rc;

	why[0] = '\0';
	rc = virt_xml_parse_domain(x, len, &dom, why, sizeof(why));
	free(x);
	return rc;
}

static void
test_numa_file(void)
{
	ASSERT_EQ(parse("numa-file.xml"), 0);
	ASSERT_STREQ(dom.name, "web1");
	ASSERT_STREQ(dom.uuid, "4bb72aa4-7bf0-4456-95a1-31adbf9483e8");
	ASSERT_EQ(dom.id, 7);
	ASSERT_EQ_U(dom.memory, 1536 * MiB);
	ASSERT_EQ(dom.mem, VIRT_MEM_FILE);
	ASSERT_TRUE(dom.mem_shared);
	ASSERT_TRUE(!dom.hugepages);
	ASSERT_EQ(dom.ncells, 2);
	ASSERT_EQ_U(dom.cell[0].bytes, 512 * MiB);
	ASSERT_EQ_U(dom.cell[1].bytes, 1 * GiB);
	ASSERT_EQ(dom.cell[1].mem_access, 1);
	ASSERT_EQ(dom.cid, 0);
	/* the guest agent's channel is not ours */
	ASSERT_STREQ(dom.channel, "/var/lib/libvirt/qemu/channel/target/"
	    "domain-7-web1/org.vtier.0");
	ASSERT_TRUE(!dom.channel_connect);
	ASSERT_TRUE(dom.has_dac);
	ASSERT_EQ(dom.dac_uid, 64055);
	ASSERT_EQ(dom.dac_gid, 108);
	ASSERT_TRUE(dom.meta.present);
	ASSERT_STREQ(dom.meta.error, "");
	ASSERT_EQ_U(dom.meta.budget, 384 * MiB);
	ASSERT_EQ_U(dom.meta.prefault_cap, 512 * MiB);
	ASSERT_TRUE(dom.meta.managed);
}

static void
test_nonuma_vsock(void)
{
	ASSERT_EQ(parse("nonuma-vsock.xml"), 0);
	ASSERT_STREQ(dom.name, "db2");
	ASSERT_EQ(dom.cid, 5);
	ASSERT_EQ(dom.ncells, 0);
	ASSERT_EQ(dom.mem, VIRT_MEM_ANON);
	ASSERT_TRUE(!dom.mem_shared);
	ASSERT_EQ_U(dom.memory, 6 * GiB);
	ASSERT_STREQ(dom.channel, "");
	ASSERT_TRUE(!dom.has_dac);
	/* no metadata: the defaults */
	ASSERT_TRUE(!dom.meta.present);
	ASSERT_EQ_U(dom.meta.budget, 0);
	ASSERT_EQ_U(dom.meta.prefault_cap, VIRT_PREFAULT_CAP_DEFAULT);
	ASSERT_TRUE(dom.meta.managed);
}

static void
test_memfd_unprefixed(void)
{
	ASSERT_EQ(parse("memfd.xml"), 0);
	ASSERT_STREQ(dom.name, "app.4_x");
	ASSERT_EQ(dom.id, -1);		/* not running */
	ASSERT_EQ(dom.mem, VIRT_MEM_MEMFD);
	ASSERT_TRUE(dom.mem_shared);
	/* bind mode, no path yet: libvirt makes one at start */
	ASSERT_STREQ(dom.channel, "");
	/* children without a prefix, as virsh metadata --set leaves them */
	ASSERT_STREQ(dom.meta.error, "");
	ASSERT_EQ_U(dom.meta.budget, 1 * GiB);
	ASSERT_EQ_U(dom.meta.prefault_cap, 0);
}

static void
test_hugepages_cells(void)
{
	ASSERT_EQ(parse("hugepages-4cells.xml"), 0);
	ASSERT_TRUE(dom.hugepages);
	ASSERT_EQ(dom.mem, VIRT_MEM_ANON);
	ASSERT_EQ(dom.ncells, 4);
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(dom.cell[i].id, i);
		ASSERT_EQ_U(dom.cell[i].bytes, 16 * GiB);
	}
	ASSERT_EQ(dom.cell[0].mem_access, -1);
	ASSERT_EQ(dom.cell[1].mem_access, 0);
	ASSERT_STREQ(dom.channel, "/run/vtier/big.serial");
	ASSERT_TRUE(dom.channel_connect);
}

static void
test_bad_metadata(void)
{
	static const struct { const char *file, *want; } bad[] = {
		{ "meta-bad-budget.xml", "budget>: bad value 'lots'" },
		{ "meta-unknown.xml", "unknown element <vtier:budgett>" },
		{ "meta-twice.xml", "<vtier:budget> given twice" },
		{ "meta-bad-managed.xml", "managed>: bad value 'maybe'" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		/* the domain is read; only the metadata is in error */
		ASSERT_EQ(parse(bad[i].file), 0);
		ASSERT_STREQ(dom.name, "bad1");
		ASSERT_EQ(dom.cid, 9);
		ASSERT_TRUE(dom.meta.present);
		if (strstr(dom.meta.error, bad[i].want) == NULL)
			FAIL_("%s: error '%s' lacks '%s'", bad[i].file,
			    dom.meta.error, bad[i].want);
		/* and the values fall back to the defaults */
		ASSERT_EQ_U(dom.meta.budget, 0);
		ASSERT_TRUE(dom.meta.managed);
	}
	ASSERT_EQ(parse("meta-unmanaged.xml"), 0);
	ASSERT_STREQ(dom.meta.error, "");
	ASSERT_TRUE(!dom.meta.managed);
}

static void
test_bad_domains(void)
{
	static const struct { const char *file, *want; } bad[] = {
		{ "bad-name.xml", "domain name my vm" },
		{ "bad-cid.xml", "not a guest CID" },
		{ "bad-channel-type.xml", "not <channel type='unix'>" },
		{ "bad-truncated.xml", "not well-formed" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ASSERT_EQ(parse(bad[i].file), -EINVAL);
		if (strstr(why, bad[i].want) == NULL)
			FAIL_("%s: '%s' lacks '%s'", bad[i].file, why,
			    bad[i].want);
	}
	/* an external entity is never fetched nor expanded: the name is
	 * empty (or the parse fails), never the host's /etc/passwd */
	if (parse("bad-entity.xml") == 0)
		ASSERT_TRUE(strstr(dom.name, "root") == NULL);
	else
		ASSERT_TRUE(strstr(why, "root:") == NULL);
}

static void
test_inline(void)
{
	static const char *const bad[] = {
		"", "<domain/>", "<notdomain><name>x</name></notdomain>",
		"<domain><name>x</name></domain>",	/* no uuid */
		"<domain><name>x</name><uuid>nope</uuid></domain>",
		"<domain><name>x</name><uuid>a8098c1a-f86e-11da-bd1a-"
		    "00112444be1e</uuid><memory unit='PiB'>1</memory></domain>",
		"<domain><name>x</name><uuid>a8098c1a-f86e-11da-bd1a-"
		    "00112444be1e</uuid><cpu><numa><cell id='0'/></numa></cpu>"
		    "</domain>",
		"<domain><name>x</name><uuid>a8098c1a-f86e-11da-bd1a-"
		    "00112444be1e</uuid><devices><channel type='unix'><target "
		    "type='virtio' name='org.vtier.0'/></channel><channel "
		    "type='unix'><target type='virtio' name='org.vtier.0'/>"
		    "</channel></devices></domain>",
	};
	const char *two = "<domain><name>x</name><uuid>a8098c1a-f86e-11da-"
	    "bd1a-00112444be1e</uuid><metadata><v:vm xmlns:v='" VIRT_NS "'/>"
	    "<v:vm xmlns:v='" VIRT_NS "'/></metadata></domain>";

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ASSERT_EQ(virt_xml_parse_domain(bad[i], strlen(bad[i]), &dom,
		    why, sizeof(why)), -EINVAL);
	ASSERT_EQ(virt_xml_parse_domain(two, strlen(two), &dom, why,
	    sizeof(why)), 0);
	ASSERT_TRUE(strstr(dom.meta.error, "given twice") != NULL);
}

static void
test_format_meta(void)
{
	struct virt_meta m = { .present = true, .budget = 120 * MiB,
	    .prefault_cap = GiB, .managed = true };
	char buf[512], doc[1024];

	ASSERT_EQ(virt_xml_format_meta(&m, buf, sizeof(buf)), 0);
	ASSERT_STREQ(buf, "<vm><budget>120M</budget><prefault_cap>1G"
	    "</prefault_cap><managed>yes</managed></vm>");
	ASSERT_EQ(virt_xml_format_meta(&m, buf, 20), -ENOSPC);
	/* what libvirt makes of it reads back the same */
	snprintf(doc, sizeof(doc), "<domain><name>x</name><uuid>a8098c1a-"
	    "f86e-11da-bd1a-00112444be1e</uuid><metadata><vtier:vm "
	    "xmlns:vtier='%s'><budget>120M</budget><prefault_cap>1G"
	    "</prefault_cap><managed>yes</managed></vtier:vm></metadata>"
	    "</domain>", VIRT_NS);
	ASSERT_EQ(virt_xml_parse_domain(doc, strlen(doc), &dom, why,
	    sizeof(why)), 0);
	ASSERT_STREQ(dom.meta.error, "");
	ASSERT_EQ_U(dom.meta.budget, m.budget);
	m.budget = 0;
	ASSERT_EQ(virt_xml_format_meta(&m, buf, sizeof(buf)), 0);
	ASSERT_TRUE(strstr(buf, "<budget>none</budget>") != NULL);
}

static void
test_mtree(void)
{
	struct virt_ram r[8];
	size_t len, n;
	char *t;

	t = fixture("mtree-q35-2cells.txt", &len);
	ASSERT_EQ(virt_xml_parse_mtree(t, len, r, ARRAY_SIZE(r), &n, why,
	    sizeof(why)), 0);
	/* ram-node0 around the VGA/BIOS hole is one mapping of it */
	ASSERT_EQ(n, 2);
	ASSERT_STREQ(r[0].region, "ram-node0");
	ASSERT_EQ_U(r[0].gpa, 0);
	ASSERT_EQ_U(r[0].size, 512 * MiB);
	ASSERT_EQ_U(r[0].off, 0);
	ASSERT_STREQ(r[1].region, "ram-node1");
	ASSERT_EQ_U(r[1].gpa, 512 * MiB);
	ASSERT_EQ_U(r[1].size, 1 * GiB);
	ASSERT_EQ_U(r[1].off, 0);
	/* too many for the room given */
	ASSERT_EQ(virt_xml_parse_mtree(t, len, r, 1, &n, why, sizeof(why)),
	    -E2BIG);
	free(t);

	t = fixture("mtree-q35-5g.txt", &len);
	ASSERT_EQ(virt_xml_parse_mtree(t, len, r, ARRAY_SIZE(r), &n, why,
	    sizeof(why)), 0);
	/* q35: 2 GiB below 4 GiB, the rest from 4 GiB at offset 2 GiB */
	ASSERT_EQ(n, 2);
	ASSERT_STREQ(r[0].region, "pc.ram");
	ASSERT_EQ_U(r[0].gpa, 0);
	ASSERT_EQ_U(r[0].size, 2 * GiB);
	ASSERT_EQ_U(r[1].gpa, 4 * GiB);
	ASSERT_EQ_U(r[1].size, 3 * GiB);
	ASSERT_EQ_U(r[1].off, 2 * GiB);
	free(t);
}

static void
test_mtree_bad(void)
{
	static const char *const bad[] = {
		"",
		"FlatView #0\n AS \"I/O\", root: io\n"
		    "  0000000000000000-0000000000000007 (prio 0, i/o): dma\n",
		"FlatView #0\n AS \"memory\", root: system\n"
		    "  00000000000-zz (prio 0, ram): x\n",
		"FlatView #0\n AS \"memory\", root: system\n"
		    "  0000000000001000-0000000000000fff (prio 0, ram): x\n",
		"FlatView #0\n AS \"memory\", root: system\n"
		    "  0000000000000000-0000000000000fff (prio 0, ram): \n",
		"FlatView #0\n AS \"memory\", root: system\n"
		    "  0000000000000000-0000000000001fff (prio 0, ram): a\n"
		    "  0000000000001000-0000000000002fff (prio 0, ram): b\n",
		"FlatView #0\n AS \"memory\", root: system\n"
		    "  0000000000000000-ffffffffffffffff (prio 0, ram): a\n",
	};
	const char *ok = "FlatView #0\n AS \"memory\", root: system\n"
	    " Root memory region: system\n"
	    "  0000000000000000-0000000000000fff (prio 0, ram): a KVM\n"
	    "  0000000000001000-0000000000001fff (prio 0, rom): b\n"
	    "  0000000000002000-0000000000002fff (prio 0, ram): a @0000000000002000\n"
	    "  0000000000003000-0000000000003fff (prio 0, ram): a @0000000000000000\n"
	    "FlatView #1\n AS \"I/O\", root: io\n"
	    "  0000000000009000-0000000000009fff (prio 0, ram): c\n";
	struct virt_ram r[4];
	size_t n;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ASSERT_EQ(virt_xml_parse_mtree(bad[i], strlen(bad[i]), r,
		    ARRAY_SIZE(r), &n, why, sizeof(why)), -EINVAL);
	ASSERT_EQ(virt_xml_parse_mtree(ok, strlen(ok), r, ARRAY_SIZE(r), &n,
	    why, sizeof(why)), 0);
	/* a merged over the ROM; the alias at another offset apart; the
	 * other address space's RAM not taken */
	ASSERT_EQ(n, 2);
	ASSERT_EQ_U(r[0].size, 0x3000);
	ASSERT_EQ_U(r[1].gpa, 0x3000);
	ASSERT_EQ_U(r[1].off, 0);
}

static void
test_qmp(void)
{
	char buf[64];
	const char *s;

	s = "{\"return\": \"/var/lib/libvirt/qemu/ram/1-x/ram-node0\", "
	    "\"id\": \"libvirt-12\"}";
	ASSERT_EQ(virt_xml_qmp_return(s, strlen(s), buf, sizeof(buf)), 0);
	ASSERT_STREQ(buf, "/var/lib/libvirt/qemu/ram/1-x/ram-node0");
	s = "{\"id\":\"libvirt-3\",\"return\":true}";
	ASSERT_EQ(virt_xml_qmp_return(s, strlen(s), buf, sizeof(buf)), 0);
	ASSERT_STREQ(buf, "true");
	s = "{\"id\":{\"a\":[1,\"}\"]},\"return\":\"a\\\"b\\/c\"}";
	ASSERT_EQ(virt_xml_qmp_return(s, strlen(s), buf, sizeof(buf)), 0);
	ASSERT_STREQ(buf, "a\"b/c");
	s = "{\"id\":\"libvirt-4\",\"error\":{\"class\":\"GenericError\","
	    "\"desc\":\"Property 'memory-backend-memfd.mem-path' not found\"}}";
	ASSERT_EQ(virt_xml_qmp_return(s, strlen(s), buf, sizeof(buf)), -ENOENT);
	s = "{\"return\": {}}";
	ASSERT_EQ(virt_xml_qmp_return(s, strlen(s), buf, sizeof(buf)), -EINVAL);
	s = "{\"return\": \"\\u0041\"}";
	ASSERT_EQ(virt_xml_qmp_return(s, strlen(s), buf, sizeof(buf)), -EINVAL);
	s = "{\"return\": \"0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890\"}";
	ASSERT_EQ(virt_xml_qmp_return(s, strlen(s), buf, sizeof(buf)),
	    -ENAMETOOLONG);
	s = "{\"return\": \"unterminated";
	ASSERT_EQ(virt_xml_qmp_return(s, strlen(s), buf, sizeof(buf)), -EINVAL);
	s = "[\"return\"]";
	ASSERT_EQ(virt_xml_qmp_return(s, strlen(s), buf, sizeof(buf)), -EINVAL);
}

int
main(void)
{
	RUN_TEST(test_numa_file);
	RUN_TEST(test_nonuma_vsock);
	RUN_TEST(test_memfd_unprefixed);
	RUN_TEST(test_hugepages_cells);
	RUN_TEST(test_bad_metadata);
	RUN_TEST(test_bad_domains);
	RUN_TEST(test_inline);
	RUN_TEST(test_format_meta);
	RUN_TEST(test_mtree);
	RUN_TEST(test_mtree_bad);
	RUN_TEST(test_qmp);
	TEST_EXIT();
}
