/*
 * test_sdnotify.c - include/vtier/sdnotify.c against a real AF_UNIX
 * datagram socket, as systemd's manager listens: a path socket and an
 * abstract one ('@'), the messages byte for byte, the no-op without
 * $NOTIFY_SOCKET, and the refused addresses.
 */
#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/sdnotify.h"
#include "../test.h"

static char path[108];

/* A datagram socket bound to name ('@' = abstract), or -errno. */
static int
listen_dgram(const char *name)
{
	struct sockaddr_un sun;
	size_t n = strlen(name);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, name, n);
	if (name[0] == '@')
		sun.sun_path[0] = '\0';
	if (bind(fd, (struct sockaddr *)&sun, len) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* The next datagram, NUL-terminated; its length, or -errno. */
static int
recv_msg(int fd, char *buf, size_t len)
{
	ssize_t n = recv(fd, buf, len - 1, MSG_DONTWAIT);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return (int)n;
}

static void
test_path_socket(void)
{
	char buf[256];
	int fd;

	snprintf(path, sizeof(path), "/tmp/vtier-test-notify.%d", (int)getpid());
	unlink(path);
	fd = listen_dgram(path);
	ASSERT_GE(fd, 0);
	setenv("NOTIFY_SOCKET", path, 1);
	ASSERT_EQ(sdnotify_ready(), 0);
	ASSERT_EQ(recv_msg(fd, buf, sizeof(buf)), 8);
	ASSERT_STREQ(buf, "READY=1\n");
	ASSERT_EQ(sdnotify_stopping(), 0);
	ASSERT_EQ(recv_msg(fd, buf, sizeof(buf)), 11);
	ASSERT_STREQ(buf, "STOPPING=1\n");
	ASSERT_EQ(sdnotify_send("STATUS=x\nERRNO=5"), 0);
	recv_msg(fd, buf, sizeof(buf));
	ASSERT_STREQ(buf, "STATUS=x\nERRNO=5");
	ASSERT_EQ(recv_msg(fd, buf, sizeof(buf)), -EAGAIN);
	close(fd);
	unlink(path);
	/* nobody listening: an error, returned and logged, not fatal */
	ASSERT_EQ(sdnotify_ready(), -ENOENT);
	unsetenv("NOTIFY_SOCKET");
}

static void
test_abstract_socket(void)
{
	char name[64], buf[256];
	int fd;

	snprintf(name, sizeof(name), "@vtier-test-notify/%d", (int)getpid());
	fd = listen_dgram(name);
	ASSERT_GE(fd, 0);
	setenv("NOTIFY_SOCKET", name, 1);
	ASSERT_EQ(sdnotify_ready(), 0);
	ASSERT_EQ(recv_msg(fd, buf, sizeof(buf)), 8);
	ASSERT_STREQ(buf, "READY=1\n");
	/* the abstract name is exact: no trailing NUL in the address */
	name[strlen(name) - 1] ^= 1;
	setenv("NOTIFY_SOCKET", name, 1);
	ASSERT_EQ(sdnotify_ready(), -ECONNREFUSED);
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

static void
test_reloading(void)
{
	struct timespec ts;
	unsigned long long before, after, usec = 0;
	char name[64], buf[256], *p;
	int fd;

	snprintf(name, sizeof(name), "@vtier-test-reload/%d", (int)getpid());
	fd = listen_dgram(name);
	ASSERT_GE(fd, 0);
	setenv("NOTIFY_SOCKET", name, 1);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	before = (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL;
	ASSERT_EQ(sdnotify_reloading(), 0);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	after = (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL;
	ASSERT_GE(recv_msg(fd, buf, sizeof(buf)), 0);
	ASSERT_TRUE(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
	usec = strtoull(buf + 27, &p, 10);
	ASSERT_STREQ(p, "\n");
	ASSERT_TRUE(usec >= before && usec <= after);
	/* and READY=1 after it, as the daemons send when the reload is done */
	ASSERT_EQ(sdnotify_ready(), 0);
	recv_msg(fd, buf, sizeof(buf));
	ASSERT_STREQ(buf, "READY=1\n");
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

static void
test_unset_and_bad(void)
{
	char lng[200];

	unsetenv("NOTIFY_SOCKET");
	ASSERT_EQ(sdnotify_ready(), 0);
	ASSERT_EQ(sdnotify_reloading(), 0);
	ASSERT_EQ(sdnotify_stopping(), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	ASSERT_EQ(sdnotify_ready(), 0);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	ASSERT_EQ(sdnotify_ready(), -EAFNOSUPPORT);
	setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
	ASSERT_EQ(sdnotify_ready(), -EAFNOSUPPORT);
	setenv("NOTIFY_SOCKET", "@", 1);
	ASSERT_EQ(sdnotify_ready(), -EINVAL);
	memset(lng, 'x', sizeof(lng) - 1);
	lng[0] = '/';
	lng[sizeof(lng) - 1] = '\0';
	setenv("NOTIFY_SOCKET", lng, 1);
	ASSERT_EQ(sdnotify_ready(), -ENAMETOOLONG);
	unsetenv("NOTIFY_SOCKET");
}

int
main(void)
{
	log_init("test_sdnotify", LOG_LVL_ERR);	/* expected failures: quiet */
	RUN_TEST(test_path_socket);
	RUN_TEST(test_abstract_socket);
	RUN_TEST(test_reloading);
	RUN_TEST(test_unset_and_bad);
	unlink(path);
	TEST_EXIT();
}
