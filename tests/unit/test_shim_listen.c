/*
 * test_shim_listen.c - where connections come in: Unix listeners (mode,
 * a live socket refused, a stale one replaced, a file that is not a
 * socket left alone; an owner given before it listens), a VM identified by its vsock CID (strangers get
 * NULL), and the AF_VSOCK listener opening or saying once that it
 * cannot.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/unixsock.h"
#include "vtier/util.h"
#include "../../hostshim/hostshim.h"
#include "../test.h"

static char dir[64];

static void
test_unix_listener(void)
{
	char path[128], sub[128];
	struct stat st;
	FILE *f;
	int fd, fd2;

	snprintf(dir, sizeof(dir), "/tmp/vtier-test-listen.XXXXXX");
	ASSERT_TRUE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/a.sock", dir);
	fd = unix_listen(path, 0600, 8);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_TRUE(S_ISSOCK(st.st_mode));
	ASSERT_EQ(st.st_mode & 0777, 0600);
	/* live: refused, untouched */
	ASSERT_EQ(unix_listen(path, 0600, 8), -EADDRINUSE);
	ASSERT_EQ(stat(path, &st), 0);
	/* stale (its owner gone): replaced */
	close(fd);
	fd2 = unix_listen(path, 0660, 8);
	ASSERT_GE(fd2, 0);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_EQ(st.st_mode & 0777, 0660);
	close(fd2);
	unlink(path);
	/* not a socket: left alone */
	f = fopen(path, "w");
	fputs("keep me", f);
	fclose(f);
	ASSERT_EQ(unix_listen(path, 0600, 8), -EEXIST);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_TRUE(S_ISREG(st.st_mode));
	unlink(path);
	/* the parent directory is made when missing */
	snprintf(sub, sizeof(sub), "%s/run/b.sock", dir);
	fd = unix_listen(sub, 0600, 8);
	ASSERT_GE(fd, 0);
	close(fd);
	unlink(sub);
	snprintf(sub, sizeof(sub), "%s/run", dir);
	rmdir(sub);
	/* longer than sun_path */
	memset(sub, 'x', sizeof(sub) - 1);
	sub[0] = '/';
	sub[sizeof(sub) - 1] = '\0';
	ASSERT_EQ(unix_listen(sub, 0600, 8), -ENAMETOOLONG);
	rmdir(dir);
}

/* socket_owner's socket: as root, owned as asked (either side alone
 * too); without CAP_CHOWN, -EPERM and no socket file left behind. */
static void
test_unix_listener_owned(void)
{
	char path[128];
	struct stat st;
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/vtier-test-listen.XXXXXX");
	ASSERT_TRUE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/o.sock", dir);
	fd = unix_listen_owned(path, 0640, 65000, 65001, 8);
	if (geteuid() != 0) {
		ASSERT_EQ(fd, -EPERM);
		ASSERT_EQ(lstat(path, &st), -1);
		rmdir(dir);
		return;
	}
	ASSERT_GE(fd, 0);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_TRUE(S_ISSOCK(st.st_mode));
	ASSERT_EQ(st.st_uid, 65000);
	ASSERT_EQ(st.st_gid, 65001);
	ASSERT_EQ(st.st_mode & 0777, 0640);
	close(fd);
	fd = unix_listen_owned(path, 0660, (uid_t)-1, 65001, 8);	/* stale */
	ASSERT_GE(fd, 0);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_EQ(st.st_uid, 0);
	ASSERT_EQ(st.st_gid, 65001);
	ASSERT_EQ(st.st_mode & 0777, 0660);
	close(fd);
	unlink(path);
	rmdir(dir);
}

static void
test_cid_and_vsock(void)
{
	static struct shim sh;
	struct vm_config *vc;
	int rc;

	config_defaults(&sh.cfg);
	vc = calloc(2, sizeof(*vc));
	snprintf(vc[0].name, sizeof(vc[0].name), "five");
	vc[0].cid = 5;
	snprintf(vc[1].name, sizeof(vc[1].name), "sock");
	snprintf(vc[1].socket, sizeof(vc[1].socket), "/x");
	sh.cfg.vms = vc;
	sh.cfg.nvms = 2;
	sh.cfg.vsock_port = 40000 + (uint32_t)getpid() % 20000;
	ASSERT_EQ(budget_init(&sh.vms, &sh.cfg), 0);
	ASSERT_TRUE(listen_vm_by_cid(&sh, 5) == sh.vms.v[0]);
	ASSERT_TRUE(listen_vm_by_cid(&sh, 9) == NULL);
	ASSERT_TRUE(listen_vm_by_cid(&sh, 0) == NULL);	/* "no CID" */

	ASSERT_EQ(loop_init(&sh.loop), 0);
	rc = listen_vsock_open(&sh);
	if (rc == 0) {
		ASSERT_TRUE(sh.vsock != NULL);
		ASSERT_EQ(sh.vsock->port, sh.cfg.vsock_port);
		ASSERT_EQ(listen_vsock_open(&sh), 0);	/* already open */
		listen_close(&sh, sh.vsock);
		ASSERT_TRUE(sh.vsock == NULL);
	} else {
		/* no vsock here: said once, and start-up goes on */
		ASSERT_TRUE(sh.vsock == NULL);
		ASSERT_TRUE(sh.vsock_unavailable_logged);
	}
	loop_fini(&sh.loop);
	budget_free(&sh.vms);
	config_free(&sh.cfg);
}

int
main(void)
{
	log_init("test_shim_listen", LOG_LVL_ERR);
	RUN_TEST(test_unix_listener);
	RUN_TEST(test_unix_listener_owned);
	RUN_TEST(test_cid_and_vsock);
	TEST_EXIT();
}
