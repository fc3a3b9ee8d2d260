/*
 * vsock_ping - check that AF_VSOCK works inside the guest over
 * vsock_loopback (CID 1, VMADDR_CID_LOCAL): a listener and a client in one
 * process exchange one message each way.
 *
 *   vsock_ping [port]      (default port 7000)
 *
 * Prints "vsock_ping: PASS ..." and exits 0, or "vsock_ping: FAIL ..." and
 * exits 1.  Also prints the local CID (IOCTL_VM_SOCKETS_GET_LOCAL_CID):
 * 1 on this test bed, where only vsock_loopback has an address (no
 * virtio-vsock device, so no guest CID and no way to reach the host, CID 2).
 *
 * Build: gcc -O2 -static -o vsock_ping vsock_ping.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef VMADDR_CID_LOCAL
#define VMADDR_CID_LOCAL 1
#endif

static int fail(const char *what)
{
	printf("vsock_ping: FAIL %s: %s\n", what, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	unsigned int port = argc > 1 ? (unsigned int)strtoul(argv[1], NULL, 0) : 7000;
	struct sockaddr_vm a = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
		.svm_port = port,
	};
	char buf[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	int dev = open("/dev/vsock", O_RDONLY | O_CLOEXEC);
	if (dev >= 0) {
		unsigned int cid = 0;
		if (ioctl(dev, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) == 0)
			printf("vsock_ping: local CID %u%s\n", cid,
			       cid == VMADDR_CID_ANY ? " (none: no vsock device)" : "");
		close(dev);
	}

	int l = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		return fail("socket(AF_VSOCK)");
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) != 0)
		return fail("bind");
	if (listen(l, 1) != 0)
		return fail("listen");

	int c = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		return fail("socket(client)");
	a.svm_cid = VMADDR_CID_LOCAL;
	if (connect(c, (struct sockaddr *)&a, sizeof(a)) != 0)
		return fail("connect to CID 1");
	int s = accept(l, NULL, NULL);
	if (s < 0)
		return fail("accept");

	if (write(c, "ping", 4) != 4)
		return fail("write ping");
	ssize_t n = read(s, buf, sizeof(buf));
	if (n != 4 || memcmp(buf, "ping", 4) != 0)
		return fail("read ping");
	if (write(s, "pong", 4) != 4)
		return fail("write pong");
	n = read(c, buf, sizeof(buf));
	if (n != 4 || memcmp(buf, "pong", 4) != 0)
		return fail("read pong");

	close(s);
	close(c);
	close(l);
	printf("vsock_ping: PASS ping/pong over vsock_loopback (CID 1, port %u)\n",
	       port);
	return 0;
}
