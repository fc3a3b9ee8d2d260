/*
 * reporting.h - does memory the guest frees go back to the host?
 *
 * Only through free page reporting: a virtio-balloon device that offers
 * VIRTIO_BALLOON_F_REPORTING (feature bit 5), bound to the virtio_balloon
 * driver, reports free blocks of page_reporting_order pages to the host,
 * which discards them (QEMU punches them out of a file backing, madvises
 * them away from anonymous memory).  Without it the host keeps backing
 * every page the guest ever touched, whatever the budget.  Read from
 * sysfs:
 *   bus/virtio/drivers/virtio_balloon/virtioN   a bound device
 *   bus/virtio/devices/virtioN/features          '0'/'1' per feature bit
 *   module/page_reporting/parameters/page_reporting_order
 * The sysfs root is a parameter, for fixture trees in tests.
 *
 * Reads only; it never loads a module or writes a parameter.
 */
#ifndef VTIER_AGENT_REPORTING_H
#define VTIER_AGENT_REPORTING_H

#include <stdbool.h>

#define REPORTING_FEATURE_BIT	5	/* VIRTIO_BALLOON_F_REPORTING */
#define REPORTING_PROBE_NS	(10ULL * 1000000000ULL)	/* rounds probe again */

struct reporting {
	bool available;		/* a bound balloon device reports free pages */
	int order;		/* page_reporting_order; -1: not known */
	char device[32];	/* its virtio device, e.g. "virtio1" ("" none) */
};

/* What root (e.g. "/sys") shows now.  Never fails: unknown is "no". */
void reporting_probe(const char *root, struct reporting *r);

/* The features file of a virtio device offers free page reporting. */
bool reporting_features_ok(const char *features);

#endif
