/*
 * sample_ibs.c - the "ibs" sampler: AMD Instruction-Based Sampling of
 * ops, one ibs_op event per CPU, through the same rings and glue as
 * the pebs sampler (sample_pebs.c, perf_ring.c).
 *
 * The ibs_op PMU is not in libpfm4: its perf type is read from
 * /sys/bus/event_source/devices/ibs_op/type and its config is IbsOpCtl
 * bits, named by the PMU's format files.  What arch/x86/events/amd/ibs.c
 * does with our attr (checked in source):
 *
 * - perf_ibs_init refuses exclude_host and exclude_guest (-EINVAL) and,
 *   unless config2 bit 0 (format/swfilt, "filter in software") is set,
 *   also exclude_kernel/user/hv.  So exclude_guest is always 0 and
 *   exclude_kernel only with swfilt; without it the rings drop samples
 *   whose cpumode is not user (this also drops the host's samples of
 *   running guests when the agent runs on bare metal).
 * - A sample period must have its low 4 bits clear (IbsOpMaxCnt counts
 *   in units of 16), else -EINVAL; the maximum is 0xFFFF0, or 0x7FFFFF0
 *   with IBS_CAPS_OPCNTEXT.  Periods are rounded up to 16 and clamped.
 * - config bit 19 (format/cnt_ctl) counts dispatched ops rather than
 *   cycles: samples are then a uniform draw of executed ops.  Bit 16
 *   (format/l3missonly, IBS_CAPS_ZEN4) keeps only ops that missed L3:
 *   the same focus as PEBS's L3-miss loads, at far fewer samples.
 * - For PERF_SAMPLE_ADDR it stores IbsDcLinAd only when the op's linear
 *   address is valid (IbsOpData3.DcLinAddrValid); other ops, most of
 *   them, carry addr 0 and are dropped by the ring.  DATA_SRC gets
 *   mem_op LOAD/STORE from IbsOpData3 and, on loads, the level (with
 *   Zen 4 PERF_MEM_LVLNUM_CXL and PMEM for extended memory); WEIGHT
 *   (WEIGHT_STRUCT var1) is DcMissLat on load misses; PHYS_ADDR is
 *   IbsDcPhysAd when valid.
 * - IBS cannot be grouped with itself and has one op sampler per CPU:
 *   another IBS user on a CPU makes ours wait (the event just does not
 *   count there meanwhile).
 */
#include <errno.h>
#include <string.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "config.h"
#include "perf_ring.h"
#include "probe.h"
#include "sample.h"

#define IBS_DATA_PAGES	32
#define IBS_WAKEUP	64	/* as HW_WAKEUP, sample_pebs.c */
#define IBS_PERIOD_SPAN	256

int
sample_ibs_plan(struct probe_table *t, struct perf_ring_params *pp,
    const struct probe_cpu *c, const struct probe_pmu *p, const char *pmu,
    const char *custom, uint64_t period, char *err, size_t errlen)
{
	char core[32] = "";
	uint64_t max;
	bool forced;
	int rc;

	if (pmu == NULL) {
		if (probe_libpfm_core(core, sizeof(core), &forced) < 0 ||
		    strncmp(core, "amd64", 5) != 0)
			snprintf(core, sizeof(core), "ibs_op");
		pmu = core;
	}
	if ((rc = probe_table_build(t, pmu, c, p, c->guest, custom, err,
	    errlen)) < 0)
		return rc;
	if (t->source != SOURCE_IBS) {
		snprintf(err, errlen, "PMU %s is not AMD IBS", pmu);
		return -EINVAL;
	}
	max = (c->ibs_caps & PROBE_IBS_CAPS_OPCNTEXT) ?
	    PROBE_IBS_MAX_PERIOD_EXT : PROBE_IBS_MAX_PERIOD;
	memset(pp, 0, sizeof(*pp));
	pp->pid = -1;
	pp->sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
	    PERF_SAMPLE_ADDR | PERF_SAMPLE_CPU | PERF_SAMPLE_WEIGHT_STRUCT |
	    PERF_SAMPLE_DATA_SRC | PERF_SAMPLE_PHYS_ADDR;
	period = MAX(period, 16);
	period = MIN((period + 15) / 16 * 16, max);
	pp->period = period;
	pp->period_min = period;
	pp->period_max = period > max / IBS_PERIOD_SPAN ? max :
	    period * IBS_PERIOD_SPAN;
	pp->period_align = 16;
	pp->max_precise = -1;	/* ibs_op is sampled natively: precise_ip 0 */
	pp->exclude_kernel = (t->ev[0].config2 & PROBE_IBS_SWFILT) != 0;
	pp->exclude_guest = false;
	pp->user_only = true;
	pp->data_pages = IBS_DATA_PAGES;
	pp->wakeup_events = IBS_WAKEUP;
	return 0;
}

static int
ibs_open(struct sampler *s, const struct agent_config *cfg)
{
	struct probe_cpu c;
	struct probe_pmu p;
	struct probe_table t;
	struct perf_ring_params pp;
	char err[640];
	int rc;

	probe_cpu_read(&c);
	probe_pmu_read(&p, "/sys");
	if (p.ibs_op_type < 0) {
		if (c.vendor == PROBE_VENDOR_INTEL && p.cpu_type >= 0)
			snprintf(err, sizeof(err), "this is an Intel CPU: use "
			    "source = pebs (or auto)");
		else
			probe_no_pmu(&c, &p, err, sizeof(err));
		log_err("sampler ibs: %s", err);
		return -ENODEV;
	}
	if ((rc = sample_ibs_plan(&t, &pp, &c, &p, NULL, cfg->event,
	    cfg->sample_period, err, sizeof(err))) < 0) {
		log_err("sampler ibs: %s", err);
		return rc;
	}
	if (pp.period != cfg->sample_period)
		log_info("sampler ibs: period %llu rounded to %llu (IBS counts "
		    "in units of 16)", (unsigned long long)cfg->sample_period,
		    (unsigned long long)pp.period);
	/* IBS writes no buffer the host must pre-fault: enable now */
	return sample_hw_open_plan(s, &t, &pp, true);
}

const struct sampler_ops sample_ibs_ops = {
	.name = "ibs",
	.open = ibs_open,
	.nfds = sample_hw_nfds,
	.fd = sample_hw_fd,
	.read = sample_hw_read,
	.close = sample_hw_close,
};
