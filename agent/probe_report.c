/*
 * probe_report.c - `vtier-agent --probe [--dry-run]`: what this machine
 * can sample with, said plainly.  It puts together the probe's facts
 * (probe.c: CPUID, sysfs PMUs, libpfm, the event tables), the plan each
 * hardware sampler would open with (sample_pebs.c, sample_ibs.c) and,
 * unless --dry-run, a trial open of that plan on one CPU.
 *
 * It sits above both: the probe knows the hardware, the samplers use the
 * probe, and only this report uses all of them.  It prints and opens
 * (then closes) perf events; it never keeps a sampler open.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vtier/util.h"
#include "perf_ring.h"
#include "probe.h"
#include "probe_report.h"

static const char *
yesno(bool b)
{
	return b ? "yes" : "no";
}

static void
print_params(FILE *out, const struct perf_ring_params *pp)
{
	static const struct { uint64_t bit; const char *name; } st[] = {
		{ PERF_SAMPLE_TID, "TID" }, { PERF_SAMPLE_TIME, "TIME" },
		{ PERF_SAMPLE_ADDR, "ADDR" }, { PERF_SAMPLE_CPU, "CPU" },
		{ PERF_SAMPLE_WEIGHT, "WEIGHT" },
		{ PERF_SAMPLE_WEIGHT_STRUCT, "WEIGHT_STRUCT" },
		{ PERF_SAMPLE_DATA_SRC, "DATA_SRC" },
		{ PERF_SAMPLE_PHYS_ADDR, "PHYS_ADDR (if permitted)" },
	};

	fprintf(out, "probe:   sample_type IDENTIFIER");
	for (size_t i = 0; i < ARRAY_SIZE(st); i++)
		if (pp->sample_type & st[i].bit)
			fprintf(out, "|%s", st[i].name);
	fprintf(out, "\nprobe:   period %llu (adaptive up to %llu%s), "
	    "exclude_kernel %d, exclude_guest %d, per CPU (pid -1)\n",
	    (unsigned long long)pp->period,
	    (unsigned long long)pp->period_max,
	    pp->period_align > 1 ? ", multiples of 16" : "",
	    pp->exclude_kernel, pp->exclude_guest);
}

/* Open the plan on one CPU and close it again: does the kernel take it? */
static int
try_open(struct probe_table *t, struct perf_ring_params *pp, char *err,
    size_t errlen, FILE *out)
{
	struct perf_ring_set *set;
	const struct perf_event_attr *a;
	int cpus[8], n, rc;

	/* the first CPU of the list is enough to see what the kernel takes */
	n = perf_ring_cpulist(pp->cpus_file ? pp->cpus_file :
	    "/sys/devices/system/cpu/online", cpus, (int)ARRAY_SIZE(cpus));
	if (n <= 0 && n != -E2BIG)
		cpus[0] = 0;
	n = 1;
	pp->cpus = cpus;
	pp->ncpus = n;
	pp->data_pages = 1;
	rc = perf_ring_set_open(&set, t->ev, t->n, pp, err, errlen);
	pp->cpus = NULL;
	pp->ncpus = 0;
	if (rc < 0)
		return rc;
	a = perf_ring_set_attr(set, t->ev[0].leader ? 1 : 0);
	fprintf(out, "probe: opened on cpu %d: precise_ip %u, sample_type "
	    "%#llx\n", cpus[0], a->precise_ip,
	    (unsigned long long)a->sample_type);
	perf_ring_set_close(set);
	return 0;
}

int
probe_report_run(FILE *out, bool dry_run)
{
	struct probe_cpu c;
	struct probe_pmu p;
	struct probe_table t, alt;
	struct perf_ring_params pp;
	enum sampler_source src = SOURCE_AUTO;
	char core[32] = "", why[640], err[512];
	const char *force = getenv("LIBPFM_FORCE_PMU");
	bool forced = false, have_table = false;
	int rc;

	if (probe_cpu_read(&c) < 0)
		fprintf(out, "probe: cpu: unknown (no CPUID on this "
		    "architecture)\n");
	else
		fprintf(out, "probe: cpu: %s family %#x model %#x stepping %u"
		    "%s%s%s\n", c.vendor_id, c.family, c.model, c.stepping,
		    probe_cpu_name(&c)[0] ? " (" : "", probe_cpu_name(&c),
		    probe_cpu_name(&c)[0] ? ")" : "");
	if (c.guest)
		fprintf(out, "probe: guest: yes (hypervisor \"%s\")\n",
		    c.hv_vendor);
	else
		fprintf(out, "probe: guest: no\n");

	probe_pmu_read(&p, "/sys");
	if (p.cpu_type >= 0)
		fprintf(out, "probe: pmu: %s (perf type %d), pmu_name %s, "
		    "max_precise %d%s\n", p.cpu_dir, p.cpu_type,
		    p.pmu_name[0] ? p.pmu_name : "unknown", p.max_precise,
		    p.max_precise < 0 ? " (caps/max_precise absent)" : "");
	else
		fprintf(out, "probe: pmu: none (no cpu or cpu_core in /sys"
		    PROBE_SYSFS_PMUS ")\n");
	if (c.vendor == PROBE_VENDOR_INTEL) {
		fprintf(out, "probe: pebs: CPUID DS %s, DTES64 %s, PDCM %s, "
		    "arch perfmon v%u with %u counters; PEBS format unknown "
		    "(IA32_PERF_CAPABILITIES is an MSR, not readable here)\n",
		    yesno(c.ds), yesno(c.dtes64), yesno(c.pdcm), c.perfmon_version,
		    c.perfmon_counters);
		fprintf(out, "probe: ept-friendly pebs: %s (Ice Lake server "
		    "and later: family 6 models 0x6a 0x6c 0x8f 0xcf 0xad 0xae "
		    "0xaf 0xb6 0xdd)\n", yesno(probe_ept_friendly_pebs(&c)));
		fprintf(out, "probe: prefault: %s\n", !c.guest ? "not needed "
		    "(bare metal)" : probe_ept_friendly_pebs(&c) ? "not needed"
		    : "needed before PEBS is enabled (prefault = auto asks "
		    "the host shim)");
	} else if (c.vendor == PROBE_VENDOR_AMD) {
		if (p.ibs_op_type >= 0)
			fprintf(out, "probe: ibs: ibs_op PMU (perf type %d), "
			    "l3missonly %s, cnt_ctl %s, swfilt %s\n",
			    p.ibs_op_type, yesno(p.ibs_l3missonly),
			    yesno(p.ibs_cnt_ctl), yesno(p.ibs_swfilt));
		else
			fprintf(out, "probe: ibs: no ibs_op PMU; CPUID IBS %s, "
			    "IBS caps %#x, Zen 4 or later %s\n", yesno(c.ibs),
			    c.ibs_caps, yesno(probe_amd_zen4(&c)));
		fprintf(out, "probe: prefault: not needed (IBS writes no "
		    "memory buffer)\n");
	}

	rc = probe_libpfm_core(core, sizeof(core), &forced);
	if (rc == 0)
		fprintf(out, "probe: libpfm: core PMU %s%s\n", core, forced ?
		    " (forced by LIBPFM_FORCE_PMU)" : "");
	else if (forced)
		fprintf(out, "probe: libpfm: LIBPFM_FORCE_PMU=%s is not a "
		    "core PMU libpfm 4 knows\n", force);
	else
		fprintf(out, "probe: libpfm: no core PMU model for this CPU\n");

	/* the table: the forced model's, else what this CPU would use */
	if ((core[0] && probe_amd_pmu(core)) ||
	    (core[0] == '\0' && c.vendor == PROBE_VENDOR_AMD)) {
		rc = sample_ibs_plan(&t, &pp, &c, &p, core[0] ? core : "ibs_op",
		    NULL, 10007, err, sizeof(err));
		have_table = true;
	} else if (core[0] || c.vendor == PROBE_VENDOR_INTEL) {
		rc = sample_pebs_plan(&t, &pp, &c, &p, core, NULL, 10007, err,
		    sizeof(err));
		have_table = true;
	}
	if (have_table && rc < 0) {
		fprintf(out, "probe: events: none: %s\n", err);
	} else if (have_table) {
		fprintf(out, "probe: events (%s, %s, %s): %s\n",
		    t.source == SOURCE_IBS ? "ibs" : "pebs", t.pmu,
		    t.guest ? "guest" : "bare metal", t.note);
		probe_table_print(out, &t, "probe:   ");
		print_params(out, &pp);
		if (t.source == SOURCE_PEBS && probe_table_build(&alt, core,
		    &c, &p, !t.guest, NULL, err, sizeof(err)) == 0 &&
		    alt.ldlat != t.ldlat) {
			fprintf(out, "probe: events %s: %s\n", t.guest ?
			    "on bare metal instead" : "in a guest instead",
			    alt.note);
			probe_table_print(out, &alt, "probe:   ");
		}
	}

	if (dry_run)
		fprintf(out, "probe: dry run: nothing opened\n");
	if (probe_pick(&src, why, sizeof(why)) < 0) {
		fprintf(out, "probe: %s\n", why);
		return PROBE_EXIT_NO_PMU;
	}
	fprintf(out, "probe: found %s\n", why);
	if (!dry_run) {
		rc = src == SOURCE_IBS ?
		    sample_ibs_plan(&t, &pp, &c, &p, NULL, NULL, 10007, err,
		    sizeof(err)) :
		    sample_pebs_plan(&t, &pp, &c, &p, NULL, NULL, 10007, err,
		    sizeof(err));
		if (rc == 0)
			rc = try_open(&t, &pp, err, sizeof(err), out);
		if (rc < 0) {
			fprintf(out, "probe: no usable PMU: %s; use "
			    "source=replay or enable the vPMU (" PROBE_VPMU_HINT
			    ")\n", err);
			return PROBE_EXIT_NO_PMU;
		}
	}
	fprintf(out, "probe: sampler=%s ready\n", src == SOURCE_IBS ? "ibs" :
	    "pebs");
	return 0;
}
