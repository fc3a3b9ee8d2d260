/*
 * probe_report.h - `vtier-agent --probe [--dry-run]` (probe_report.c).
 */
#ifndef VTIER_AGENT_PROBE_REPORT_H
#define VTIER_AGENT_PROBE_REPORT_H

#include <stdbool.h>
#include <stdio.h>

/*
 * Print what this machine can sample with and the events it would
 * open; dry_run opens nothing.  The last line is the verdict ("probe:
 * sampler=pebs ready", "probe: sampler=ibs ready" or "probe: no usable
 * PMU: ...").  0 when a hardware sampler is usable, PROBE_EXIT_NO_PMU
 * (3) when not.
 */
int probe_report_run(FILE *out, bool dry_run);

#endif
