/*
 * reporting.c - free page reporting, as sysfs shows it (see reporting.h).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtier/util.h"
#include "reporting.h"

bool
reporting_features_ok(const char *features)
{
	/* one character per feature bit, bit 0 first, as the driver has them */
	return strlen(features) > REPORTING_FEATURE_BIT &&
	    strspn(features, "01\n") == strlen(features) &&
	    features[REPORTING_FEATURE_BIT] == '1';
}

void
reporting_probe(const char *root, struct reporting *r)
{
	char path[4096], buf[128];
	struct dirent *de;
	DIR *d;

	memset(r, 0, sizeof(*r));
	r->order = -1;
	snprintf(path, sizeof(path),
	    "%s/module/page_reporting/parameters/page_reporting_order", root);
	if (read_file(path, buf, sizeof(buf)) > 0) {
		char *end;
		long v = strtol(buf, &end, 10);

		r->order = end != buf && (*end == '\n' || *end == '\0') &&
		    v >= 0 && v < 64 ? (int)v : -1;
	}
	snprintf(path, sizeof(path), "%s/bus/virtio/drivers/virtio_balloon",
	    root);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "virtio", 6) != 0 ||
		    strlen(de->d_name) >= sizeof(r->device))
			continue;
		snprintf(path, sizeof(path), "%s/bus/virtio/devices/%s/features",
		    root, de->d_name);
		if (read_file(path, buf, sizeof(buf)) > 0 &&
		    reporting_features_ok(buf)) {
			r->available = true;
			snprintf(r->device, sizeof(r->device), "%s", de->d_name);
			break;
		}
	}
	closedir(d);
}
