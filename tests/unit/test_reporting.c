/*
 * test_reporting.c - free page reporting as sysfs shows it (agent/
 * reporting.c), on fixture trees built in a temporary directory: a
 * virtio_balloon device with feature 5 is "yes" with its order; one
 * without the feature, no driver directory, a bound device that is not
 * virtio, a features file of junk are "no"; the order is -1 without the
 * page_reporting module.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reporting.h"
#include "../test.h"

static char root[64];

static void
put(const char *rel, const char *text)
{
	char path[256], dir[256], *s;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	for (s = dir + strlen(root) + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		mkdir(dir, 0755);
		*s = '/';
	}
	if (text == NULL) {		/* a directory */
		mkdir(path, 0755);
		return;
	}
	if ((f = fopen(path, "w")) != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

static void
clean(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
}

static void
fresh(void)
{
	clean();
	snprintf(root, sizeof(root), "/tmp/vtier-test-rep.XXXXXX");
	if (mkdtemp(root) == NULL)
		abort();
}

static void
test_features(void)
{
	ASSERT_TRUE(reporting_features_ok("0000010000\n"));
	ASSERT_TRUE(reporting_features_ok("111111"));
	ASSERT_TRUE(!reporting_features_ok("11111"));	/* too short */
	ASSERT_TRUE(!reporting_features_ok("1111101111\n"));
	ASSERT_TRUE(!reporting_features_ok("00000x0000"));
	ASSERT_TRUE(!reporting_features_ok(""));
}

static void
test_probe(void)
{
	struct reporting r;

	/* nothing at all: no, order unknown */
	fresh();
	reporting_probe(root, &r);
	ASSERT_TRUE(!r.available);
	ASSERT_EQ(r.order, -1);
	ASSERT_STREQ(r.device, "");

	/* a balloon with reporting bound to the driver */
	put("module/page_reporting/parameters/page_reporting_order", "9\n");
	put("bus/virtio/drivers/virtio_balloon/bind", "");
	put("bus/virtio/drivers/virtio_balloon/virtio3", NULL);
	put("bus/virtio/devices/virtio3/features",
	    "0100010000000000000000000000000000000000000000000000000000000000\n");
	reporting_probe(root, &r);
	ASSERT_TRUE(r.available);
	ASSERT_EQ(r.order, 9);
	ASSERT_STREQ(r.device, "virtio3");

	/* the device without the feature (an old QEMU, or the option off) */
	put("bus/virtio/devices/virtio3/features", "0100000000\n");
	reporting_probe(root, &r);
	ASSERT_TRUE(!r.available);
	ASSERT_EQ(r.order, 9);

	/* a junk order is unknown, not 0 */
	put("module/page_reporting/parameters/page_reporting_order", "x\n");
	put("bus/virtio/devices/virtio3/features", "0000011\n");
	reporting_probe(root, &r);
	ASSERT_TRUE(r.available);
	ASSERT_EQ(r.order, -1);
	put("module/page_reporting/parameters/page_reporting_order", "5\n");
	reporting_probe(root, &r);
	ASSERT_EQ(r.order, 5);
	clean();
}

int
main(void)
{
	RUN_TEST(test_features);
	RUN_TEST(test_probe);
	TEST_EXIT();
}
