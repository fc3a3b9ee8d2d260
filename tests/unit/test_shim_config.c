/*
 * test_shim_config.c - hostshim.ini: defaults, the shipped file, a full
 * good file, print/load round trips, and every class of bad file
 * reported at its exact FILE:LINE; socket_owner's names and ids.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "../../hostshim/hostshim.h"
#include "../test.h"

static char errbuf[1024];
static char tmp[64];

static const char *
src_dir(void)
{
	const char *s = getenv("SRC");

	return s != NULL && *s != '\0' ? s : ".";
}

/* Write text to the temporary file tmp (removed by the caller). */
static void
write_tmp(const char *text)
{
	FILE *f;
	int fd;

	snprintf(tmp, sizeof(tmp), "/tmp/vtier-test-shimconf.XXXXXX");
	if ((fd = mkstemp(tmp)) < 0 || (f = fdopen(fd, "w")) == NULL)
		abort();
	fputs(text, f);
	fclose(f);
}

/* Load text; return the rc, errbuf holds the message. */
static int
load_text(const char *text, struct shim_config *cfg)
{
	int rc;

	write_tmp(text);
	rc = config_load(tmp, cfg, errbuf, sizeof(errbuf));
	unlink(tmp);
	return rc;
}

static void
test_defaults_and_shipped(void)
{
	struct shim_config cfg;
	char path[4096];

	config_defaults(&cfg);
	ASSERT_STREQ(cfg.control_socket, "/run/vtier/hostshim.sock");
	ASSERT_EQ(cfg.vsock_port, PROTO_VSOCK_PORT);
	ASSERT_EQ(cfg.listen_vsock, 1);
	ASSERT_EQ_U(cfg.handshake_ms, 5000);
	ASSERT_EQ_U(cfg.idle_ms, 60000);
	ASSERT_EQ_U(cfg.output_max, 64 * KiB);
	snprintf(path, sizeof(path), "%s/hostshim/hostshim.ini", src_dir());
	ASSERT_EQ(config_load(path, &cfg, errbuf, sizeof(errbuf)), 0);
	ASSERT_EQ(cfg.nvms, 0);
	ASSERT_EQ(cfg.max_per_vm, 8);
	config_free(&cfg);
}

static const char good[] =
	"\xef\xbb\xbf# a full file\n"
	"[shim]\n"
	"log_level = debug\n"
	"control_socket = /run/x/ctl.sock ; inline comment\n"
	"listen_vsock = no\n"
	"vsock_port = 9000\n"
	"handshake_timeout = 2s\n"
	"idle_timeout = 1m\n"
	"output_max = 128K\n"
	"max_connections = 600\n"
	"max_connections_per_vm = 20\n"
	"\n"
	"[vm web-1.a]\n"
	"   socket = /run/x/web1.sock\n"
	"serial = yes\n"
	"budget = 384M\n"
	"backing = /dev/shm/web1-node1:0@512M+1G\n"
	"backing = /dev/shm/web1-node0:0@0+512M\n"
	"prefault_cap = 256M\n"
	"[ vm   db_2 ]\n"
	"socket = /run/x/db2.sock\n"
	"socket_owner = 65000:65001\n"
	"socket_mode = 600\n"
	"budget = none\n"
	"backing = /dev/shm/w@ird:name:0x1000@0x100000000+0x2000\n";

static void
test_good(void)
{
	struct shim_config cfg;
	const struct vm_config *a, *b;

	ASSERT_EQ(load_text(good, &cfg), 0);
	ASSERT_EQ(cfg.log_level, LOG_LVL_DEBUG);
	ASSERT_STREQ(cfg.control_socket, "/run/x/ctl.sock");
	ASSERT_EQ(cfg.listen_vsock, 0);
	ASSERT_EQ(cfg.vsock_port, 9000);
	ASSERT_EQ_U(cfg.handshake_ms, 2000);
	ASSERT_EQ_U(cfg.idle_ms, 60000);
	ASSERT_EQ_U(cfg.output_max, 128 * KiB);
	ASSERT_EQ(cfg.max_connections, 600);
	ASSERT_EQ(cfg.max_per_vm, 20);
	ASSERT_EQ(cfg.nvms, 2);
	a = config_find_vm(&cfg, "web-1.a");
	b = config_find_vm(&cfg, "db_2");
	ASSERT_TRUE(a != NULL && b != NULL);
	ASSERT_STREQ(a->socket, "/run/x/web1.sock");
	ASSERT_EQ(a->serial, 1);
	ASSERT_EQ(a->cid, 0);
	ASSERT_EQ_U(a->budget, 384 * MiB);
	ASSERT_EQ_U(a->prefault_cap, 256 * MiB);
	ASSERT_EQ(a->nbacking, 2);
	/* sorted by GPA */
	ASSERT_STREQ(a->backing[0].path, "/dev/shm/web1-node0");
	ASSERT_EQ_U(a->backing[0].gpa, 0);
	ASSERT_EQ_U(a->backing[0].size, 512 * MiB);
	ASSERT_EQ(a->backing[0].line, 18);
	ASSERT_STREQ(a->backing[1].path, "/dev/shm/web1-node1");
	ASSERT_EQ_U(a->backing[1].gpa, 512 * MiB);
	/* socket_owner unset: the owner bind() gives it; mode 0660 */
	ASSERT_STREQ(a->socket_owner, "");
	ASSERT_EQ(a->socket_uid, (uid_t)-1);
	ASSERT_EQ(a->socket_gid, (gid_t)-1);
	ASSERT_EQ(a->socket_mode, 0660);
	ASSERT_STREQ(b->socket_owner, "65000:65001");
	ASSERT_EQ(b->socket_uid, 65000);
	ASSERT_EQ(b->socket_gid, 65001);
	ASSERT_EQ(b->socket_mode, 0600);
	ASSERT_EQ_U(b->budget, 0);
	ASSERT_EQ_U(b->prefault_cap, GiB);	/* the default */
	ASSERT_STREQ(b->backing[0].path, "/dev/shm/w@ird:name");
	ASSERT_EQ_U(b->backing[0].offset, 0x1000);
	ASSERT_EQ_U(b->backing[0].gpa, 4 * GiB);
	ASSERT_EQ_U(b->backing[0].size, 0x2000);
	ASSERT_TRUE(config_find_vm(&cfg, "nope") == NULL);
	config_free(&cfg);
}

/* What config_print writes loads back to the same configuration. */
static void
test_print_roundtrip(void)
{
	struct shim_config a, b;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	ASSERT_EQ(load_text(good, &a), 0);
	f = open_memstream(&text, &len);
	config_print(&a, f);
	fclose(f);
	ASSERT_EQ(load_text(text, &b), 0);
	ASSERT_EQ(a.nvms, b.nvms);
	ASSERT_EQ(a.log_level, b.log_level);
	ASSERT_EQ_U(a.handshake_ms, b.handshake_ms);
	ASSERT_EQ_U(a.output_max, b.output_max);
	for (size_t i = 0; i < a.nvms; i++) {
		ASSERT_STREQ(a.vms[i].name, b.vms[i].name);
		ASSERT_STREQ(a.vms[i].socket, b.vms[i].socket);
		ASSERT_EQ(a.vms[i].cid, b.vms[i].cid);
		ASSERT_EQ(a.vms[i].serial, b.vms[i].serial);
		ASSERT_STREQ(a.vms[i].socket_owner, b.vms[i].socket_owner);
		ASSERT_EQ(a.vms[i].socket_uid, b.vms[i].socket_uid);
		ASSERT_EQ(a.vms[i].socket_gid, b.vms[i].socket_gid);
		ASSERT_EQ(a.vms[i].socket_mode, b.vms[i].socket_mode);
		ASSERT_EQ_U(a.vms[i].budget, b.vms[i].budget);
		ASSERT_EQ_U(a.vms[i].prefault_cap, b.vms[i].prefault_cap);
		ASSERT_EQ(a.vms[i].nbacking, b.vms[i].nbacking);
		for (int k = 0; k < a.vms[i].nbacking; k++) {
			ASSERT_STREQ(a.vms[i].backing[k].path,
			    b.vms[i].backing[k].path);
			ASSERT_EQ_U(a.vms[i].backing[k].offset,
			    b.vms[i].backing[k].offset);
			ASSERT_EQ_U(a.vms[i].backing[k].gpa,
			    b.vms[i].backing[k].gpa);
			ASSERT_EQ_U(a.vms[i].backing[k].size,
			    b.vms[i].backing[k].size);
		}
	}
	free(text);
	config_free(&a);
	config_free(&b);
}

/* Each bad file: the error must name tmp:LINE and contain what. */
struct bad {
	const char *text;
	int line;
	const char *what;
};

static const struct bad bads[] = {
	{ "[shim]\nthis is not ini\n", 2, "syntax error" },
	{ "[shim]\n[shimmy]\nlog_level = info\n", 2, "unknown section" },
	{ "[shim]\n[vm]\nsocket = /x\n", 2, "no VM name" },
	{ "[vm bad/name]\nsocket = /x\n", 1, "bad VM name" },
	{ "[vm a]\nsocket = /a\n[vm a]\nsocket = /b\n", 3,
	    "duplicate section" },
	{ "[shim]\n[shim]\n", 2, "duplicate section" },
	{ "log_level = info\n[shim]\n", 1, "outside any section" },
	{ "[shim]\nloglevel = info\n", 2, "unknown key" },
	{ "[vm a]\nsocket = /a\ncolour = red\n", 3, "unknown key" },
	{ "[shim]\nvsock_port = 1\n\nvsock_port = 2\n", 4, "duplicate key" },
	{ "[shim]\nlog_level = loud\n", 2, "bad log level" },
	{ "[shim]\nlisten_vsock = maybe\n", 2, "bad boolean" },
	{ "[shim]\nhandshake_timeout = 50ms\n", 2, "out of range" },
	{ "[shim]\nidle_timeout = soon\n", 2, "bad duration" },
	{ "[shim]\noutput_max = 1K\n", 2, "out of range" },
	{ "[shim]\nvsock_port = 0\n", 2, "out of range" },
	{ "[shim]\ncontrol_socket = relative.sock\n", 2, "absolute path" },
	{ "[shim]\ncontrol_socket = /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaa.sock\n", 2, "at most 107" },
	{ "[vm a]\ncid = 2\n", 2, "out of range" },
	{ "[vm a]\ncid = 5x\n", 2, "bad number" },
	{ "[vm a]\nsocket = /a\nbudget = 0\n", 3, "zero budget" },
	{ "[vm a]\nsocket = /a\nbudget = lots\n", 3, "bad size" },
	{ "[vm a]\nsocket = /a\nbacking = /f:0+4K\n", 3, "no '@GPA+SIZE'" },
	{ "[vm a]\nsocket = /a\nbacking = /f@0+4K\n", 3, "no ':OFFSET'" },
	{ "[vm a]\nsocket = /a\nbacking = /f:0@4K\n", 3, "no '+SIZE'" },
	{ "[vm a]\nsocket = /a\nbacking = f:0@0+4K\n", 3, "absolute path" },
	{ "[vm a]\nsocket = /a\nbacking = /f:0@0+4Q\n", 3, "bad number" },
	{ "[vm a]\nsocket = /a\nbacking = /f:0@0+0\n", 3, "zero size" },
	{ "[vm a]\nsocket = /a\nbacking = /f:0@0x800+4K\n", 3,
	    "multiple of 4K" },
	{ "[vm a]\nsocket = /a\nbacking = /f:0@0xfffffffff000+8K\n"
	    "backing = /f:0@0xffffffffff000+8K\n", 4, "past 2^52" },
	{ "[vm a]\nsocket = /a\nbacking = /f:0@0+1M\n\n"
	    "backing = /g:0@512K+1M\n", 5, "overlaps" },
	{ "[vm a]\nsocket = /a\nbacking = /g:0@512K+1M\n"
	    "backing = /f:0@0+1M\n", 4, "overlaps" },
	{ "[shim]\n\n[vm lonely]\nbudget = 1G\n", 3, "no way to reach it" },
	{ "[vm a]\ncid = 9\nserial = yes\n", 3, "without a socket" },
	{ "[shim]\nlisten_vsock = no\n[vm a]\nbudget = 1G\ncid = 9\n", 5,
	    "listen_vsock = no" },
	{ "[vm a]\ncid = 9\n[vm b]\nsocket = /b\ncid = 9\n", 5,
	    "also VM a's" },
	{ "[vm a]\nsocket = /s\n[vm b]\nsocket = /s\n", 4, "also VM a's" },
	{ "[shim]\ncontrol_socket = /c\n[vm a]\nsocket = /c\n", 4,
	    "control_socket" },
	{ "[shim]\nmax_connections_per_vm = 50\nmax_connections = 10\n", 3,
	    "above max_connections" },
	{ "[shim] trailing\n", 1, "text after the section header" },
	{ "[vm a]\nsocket = /a\nsocket_owner = vtier-no-such-user:root\n", 3,
	    "[vm a] socket_owner: no such user 'vtier-no-such-user' (expected "
	    "USER, USER:GROUP or :GROUP, each a name or a number, e.g. "
	    "libvirt-qemu:kvm)" },
	{ "[vm a]\nsocket = /a\nsocket_owner = root:vtier-no-such-group\n",
	    3, "no such group 'vtier-no-such-group'" },
	{ "[vm a]\nsocket = /a\nsocket_owner = :vtier-no-such-group\n", 3,
	    "no such group" },
	{ "[vm a]\nsocket = /a\nsocket_owner = root:\n", 3,
	    "no group after ':' in 'root:'" },
	{ "[vm a]\nsocket = /a\nsocket_owner = 4294967295\n", 3,
	    "user id out of range: '4294967295'" },
	{ "[vm a]\nsocket = /a\nsocket_owner = 0:99999999999\n", 3,
	    "group id out of range" },
	{ "[vm a]\nsocket = /a\nsocket_mode = rw-rw----\n", 3,
	    "[vm a] socket_mode: bad mode 'rw-rw----' (expected an octal mode "
	    "from 0600 to 0777 without write for others, e.g. 0660)" },
	{ "[vm a]\nsocket = /a\nsocket_mode = 0680\n", 3, "bad mode" },
	{ "[vm a]\nsocket = /a\nsocket_mode = 00660\n", 3, "bad mode" },
	{ "[vm a]\nsocket = /a\nsocket_mode = 0440\n", 3, "out of range" },
	{ "[vm a]\nsocket = /a\nsocket_mode = 1660\n", 3, "out of range" },
	{ "[vm a]\nsocket = /a\nsocket_mode = 0662\n", 3,
	    "[vm a] socket_mode: '0662' lets any local user connect" },
	{ "[vm a]\ncid = 9\n\nsocket_owner = root\n", 4,
	    "[vm a] socket_owner: set without a socket (expected socket = "
	    "PATH" },
	{ "[vm a]\nsocket_mode = 0600\ncid = 9\n", 2,
	    "[vm a] socket_mode: set without a socket" },
	{ "[vm a]\nsocket = /a\nsocket_mode = 0600\nsocket_mode = 0640\n", 4,
	    "duplicate key" },
};

static void
test_bad_files(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(bads); i++) {
		struct shim_config cfg;
		char want[128];
		int rc;

		rc = load_text(bads[i].text, &cfg);
		config_free(&cfg);
		if (rc != -EINVAL)
			fprintf(stderr, "case %zu: %s\n", i, errbuf);
		ASSERT_EQ(rc, -EINVAL);
		snprintf(want, sizeof(want), "%s:%d: ", tmp, bads[i].line);
		if (strstr(errbuf, want) == NULL ||
		    strstr(errbuf, bads[i].what) == NULL)
			fprintf(stderr, "case %zu: want %s...%s, got: %s\n", i,
			    want, bads[i].what, errbuf);
		ASSERT_CONTAINS(errbuf, want);
		ASSERT_CONTAINS(errbuf, bads[i].what);
	}
}

/*
 * socket_owner: names resolve through the system's user database as
 * getpwnam() sees it, numbers are taken as they are, either side may
 * be left out.  -n prints what was written, and only with a socket.
 */
static void
test_socket_owner(void)
{
	static const char text[] =
		"[vm a]\nsocket = /a\nsocket_owner = root\n"
		"[vm b]\nsocket = /b\nsocket_owner = :root\nsocket_mode = 0750\n"
		"[vm c]\nsocket = /c\nsocket_owner = 0:65534\n"
		"[vm d]\ncid = 9\n";
	struct shim_config cfg;
	const struct vm_config *vc;
	struct passwd *pw;
	char *out = NULL, buf[256];
	size_t len = 0;
	FILE *f;

	ASSERT_EQ(load_text(text, &cfg), 0);
	vc = config_find_vm(&cfg, "a");
	ASSERT_EQ(vc->socket_uid, 0);
	ASSERT_EQ(vc->socket_gid, (gid_t)-1);
	vc = config_find_vm(&cfg, "b");
	ASSERT_EQ(vc->socket_uid, (uid_t)-1);
	ASSERT_EQ(vc->socket_gid, 0);
	ASSERT_EQ(vc->socket_mode, 0750);
	vc = config_find_vm(&cfg, "c");
	ASSERT_EQ(vc->socket_uid, 0);
	ASSERT_EQ(vc->socket_gid, 65534);
	f = open_memstream(&out, &len);
	config_print(&cfg, f);
	fclose(f);
	ASSERT_CONTAINS(out, "[vm a]\nsocket = /a\nserial = no\n"
	    "socket_owner = root\nsocket_mode = 0660\n");
	ASSERT_CONTAINS(out, "socket_owner = :root\nsocket_mode = 0750\n");
	/* no socket: neither key, or the printed file would not load */
	ASSERT_TRUE(strstr(strstr(out, "[vm d]"), "socket_") == NULL);
	free(out);
	config_free(&cfg);

	/* a user that has a name here: the same id as getpwnam says */
	if ((pw = getpwnam("nobody")) != NULL) {
		uid_t uid = pw->pw_uid;
		gid_t gid = pw->pw_gid;

		snprintf(buf, sizeof(buf), "[vm a]\nsocket = /a\n"
		    "socket_owner = nobody:%u\n", (unsigned)gid);
		ASSERT_EQ(load_text(buf, &cfg), 0);
		ASSERT_EQ(cfg.vms[0].socket_uid, uid);
		ASSERT_EQ(cfg.vms[0].socket_gid, gid);
		config_free(&cfg);
	}
}

/* A NUL inside the file (the table above stops at the first NUL). */
static void
test_nul_and_long_lines(void)
{
	static const char nul[] = "[shim]\nlog_level = in\0fo\n";
	struct shim_config cfg;
	char *big;
	FILE *f;
	int fd;

	snprintf(tmp, sizeof(tmp), "/tmp/vtier-test-shimconf.XXXXXX");
	fd = mkstemp(tmp);
	ASSERT_TRUE(fd >= 0);
	f = fdopen(fd, "w");
	fwrite(nul, 1, sizeof(nul) - 1, f);
	fclose(f);
	ASSERT_EQ(config_load(tmp, &cfg, errbuf, sizeof(errbuf)), -EINVAL);
	config_free(&cfg);
	unlink(tmp);
	ASSERT_CONTAINS(errbuf, ":2: NUL byte");

	big = malloc(20000);
	snprintf(big, 20000, "[shim]\n\n# %0*d\n", 10000, 7);
	ASSERT_EQ(load_text(big, &cfg), -EINVAL);
	config_free(&cfg);
	free(big);
	ASSERT_CONTAINS(errbuf, ":3: line too long");
}

static void
test_missing_and_many(void)
{
	struct shim_config cfg;
	char *text;
	size_t off = 0, cap = 17 * 64 + 64;

	ASSERT_EQ(config_load("/nonexistent/hostshim.ini", &cfg, errbuf,
	    sizeof(errbuf)), -ENOENT);
	config_free(&cfg);
	ASSERT_CONTAINS(errbuf, "/nonexistent/hostshim.ini: ");

	/* 16 backing ranges are fine, the 17th is one too many */
	text = malloc(cap);
	off += (size_t)snprintf(text + off, cap - off, "[vm a]\nsocket = /a\n");
	for (int i = 0; i < 17; i++)
		off += (size_t)snprintf(text + off, cap - off,
		    "backing = /f:0@%dM+1M\n", i);
	ASSERT_EQ(load_text(text, &cfg), -EINVAL);
	config_free(&cfg);
	ASSERT_CONTAINS(errbuf, ":19: [vm a] backing: more than 16");
	free(text);
}

/* backing = PATH:OFFSET@GPA+SIZE on its own: q35's RAM above 4 GiB. */
/* [libvirt]: off unless present; uri defaulted, checked, printed back. */
static void
test_libvirt_section(void)
{
	struct shim_config a, b;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	ASSERT_EQ(load_text("[shim]\n", &a), 0);
	ASSERT_EQ(a.libvirt, 0);
	config_free(&a);
	ASSERT_EQ(load_text("[libvirt]\n", &a), 0);
	ASSERT_EQ(a.libvirt, 1);
	ASSERT_STREQ(a.libvirt_uri, "qemu:///system");
	config_free(&a);
	ASSERT_EQ(load_text("[libvirt]\nuri = qemu+ssh://h/system?no_tty=1\n"
	    "[vm a]\ncid = 3\n", &a), 0);
	f = open_memstream(&text, &len);
	config_print(&a, f);
	fclose(f);
	ASSERT_CONTAINS(text, "[libvirt]\nuri = qemu+ssh://h/system?no_tty=1\n");
	ASSERT_EQ(load_text(text, &b), 0);
	ASSERT_EQ(b.libvirt, 1);
	ASSERT_STREQ(b.libvirt_uri, a.libvirt_uri);
	ASSERT_EQ(b.nvms, 1);
	free(text);
	config_free(&a);
	config_free(&b);
	ASSERT_EQ(load_text("[libvirt]\nuri = a b\n", &a), -EINVAL);
	config_free(&a);
	ASSERT_CONTAINS(errbuf, ":2: [libvirt] uri: blank or control "
	    "character in 'a b'");
	ASSERT_EQ(load_text("[libvirt]\n[libvirt]\n", &a), -EINVAL);
	config_free(&a);
	ASSERT_CONTAINS(errbuf, ":2: [libvirt]: duplicate section");
	ASSERT_EQ(load_text("[libvirt]\nsocket = /x\n", &a), -EINVAL);
	config_free(&a);
	ASSERT_CONTAINS(errbuf, "[libvirt] socket: unknown key (expected one "
	    "of uri)");
}

static void
test_backing_parser(void)
{
	struct backing b;
	char why[128];

	ASSERT_EQ(config_parse_backing("/dev/shm/r:2G@4G+6G", &b, why,
	    sizeof(why)), 0);
	ASSERT_EQ_U(b.offset, 2 * GiB);
	ASSERT_EQ_U(b.gpa, 4 * GiB);
	ASSERT_EQ_U(b.size, 6 * GiB);
	ASSERT_EQ(config_parse_backing("/f:0x7ffffffffffff000@0+8K", &b, why,
	    sizeof(why)), -EINVAL);
	ASSERT_CONTAINS(why, "largest offset");
	ASSERT_EQ(config_parse_backing("/f:0@0+0x10000000000000", &b, why,
	    sizeof(why)), 0);	/* 2^52 exactly: allowed */
	ASSERT_EQ(config_parse_backing("/f:0@4K+0x10000000000000", &b, why,
	    sizeof(why)), -EINVAL);
}

int
main(void)
{
	log_init("test_shim_config", LOG_LVL_ERR);
	RUN_TEST(test_defaults_and_shipped);
	RUN_TEST(test_good);
	RUN_TEST(test_print_roundtrip);
	RUN_TEST(test_bad_files);
	RUN_TEST(test_socket_owner);
	RUN_TEST(test_nul_and_long_lines);
	RUN_TEST(test_missing_and_many);
	RUN_TEST(test_backing_parser);
	RUN_TEST(test_libvirt_section);
	TEST_EXIT();
}
