/*
 * test_pebs_encode.c - the default event table of every CPU model, as
 * libpfm4 encodes it with LIBPFM_FORCE_PMU (read at pfm_initialize, so
 * each model resets libpfm), the IBS table, the samplers' perf
 * parameters, EPT-friendly PEBS by model and the adaptive period.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vtier/log.h"
#include "perf_ring.h"
#include "probe.h"
#include "probe_report.h"
#include "../test.h"

static struct probe_cpu intel;		/* an Intel CPU, bare metal */
static struct probe_cpu amd;		/* an AMD Zen 4 */
static struct probe_pmu nopmu;		/* nothing in sysfs */

static void
setup(void)
{
	memset(&intel, 0, sizeof(intel));
	intel.vendor = PROBE_VENDOR_INTEL;
	snprintf(intel.vendor_id, sizeof(intel.vendor_id), "GenuineIntel");
	intel.family = 6;
	intel.model = 0x55;
	memset(&amd, 0, sizeof(amd));
	amd.vendor = PROBE_VENDOR_AMD;
	snprintf(amd.vendor_id, sizeof(amd.vendor_id), "AuthenticAMD");
	amd.family = 0x19;
	amd.model = 0x11;
	memset(&nopmu, 0, sizeof(nopmu));
	nopmu.cpu_type = nopmu.max_precise = nopmu.ibs_op_type = -1;
}

/* Make libpfm see only this model (pfm_initialize reads the variable). */
static int
force(const char *pmu)
{
	char name[32];
	bool forced;

	setenv("LIBPFM_FORCE_PMU", pmu, 1);
	probe_libpfm_reset();
	if (probe_libpfm_core(name, sizeof(name), &forced) < 0)
		return -1;
	return forced && strcmp(name, pmu) == 0 ? 0 : -1;
}

static int
build(struct probe_table *t, const char *pmu, bool guest)
{
	char err[256];
	int rc = probe_table_build(t, pmu, &intel, &nopmu, guest, NULL, err,
	    sizeof(err));

	if (rc < 0)
		fprintf(stderr, "    build %s: %s\n", pmu, err);
	return rc;
}

#define ASSERT_EV(e, typ, cfg, cfg1, prec, opv) do {			\
	ASSERT_EQ_U((e).type, (typ));					\
	ASSERT_EQ_U((e).config, (cfg));					\
	ASSERT_EQ_U((e).config1, (cfg1));				\
	ASSERT_EQ_U((e).config2, 0);					\
	ASSERT_EQ((e).precise_ip, (prec));				\
	ASSERT_EQ((e).op, (opv));					\
} while (0)

/* Loads that missed L3 and all stores: skx, clx, and every guest table. */
#define ASSERT_L3_STORES(t, pmu) do {					\
	ASSERT_EQ((t).n, 2);						\
	ASSERT_EQ((t).source, SOURCE_PEBS);				\
	ASSERT_STREQ((t).ev[0].name, pmu "::MEM_LOAD_RETIRED:L3_MISS");	\
	ASSERT_EV((t).ev[0], PERF_TYPE_RAW, 0x20d1, 0, 2, SAMPLE_OP_LOAD); \
	ASSERT_TRUE(!(t).ev[0].leader);					\
	ASSERT_STREQ((t).ev[1].name, pmu "::MEM_INST_RETIRED:ALL_STORES"); \
	ASSERT_EV((t).ev[1], PERF_TYPE_RAW, 0x82d0, 0, 2, SAMPLE_OP_STORE); \
	ASSERT_TRUE(!(t).ldlat);					\
} while (0)

static void
test_force_pmu(void)
{
	char name[32];
	bool forced;

	ASSERT_EQ(force("skx"), 0);
	ASSERT_EQ(probe_libpfm_core(name, sizeof(name), &forced), 0);
	ASSERT_STREQ(name, "skx");
	ASSERT_TRUE(forced);
	/* a second model after pfm_terminate/pfm_initialize */
	ASSERT_EQ(force("icx"), 0);
	ASSERT_EQ(probe_libpfm_core(name, sizeof(name), &forced), 0);
	ASSERT_STREQ(name, "icx");
	/* unknown names are reported, not guessed */
	setenv("LIBPFM_FORCE_PMU", "no_such_pmu", 1);
	probe_libpfm_reset();
	ASSERT_EQ(probe_libpfm_core(name, sizeof(name), &forced), -ENOENT);
	ASSERT_TRUE(forced);
	ASSERT_STREQ(name, "");
}

static void
test_skx_clx(void)
{
	struct probe_table t;

	ASSERT_EQ(force("skx"), 0);
	ASSERT_EQ(build(&t, "skx", false), 0);
	ASSERT_L3_STORES(t, "skx");
	ASSERT_EQ(build(&t, "skx", true), 0);
	ASSERT_L3_STORES(t, "skx");
	ASSERT_EQ(force("clx"), 0);
	ASSERT_EQ(build(&t, "clx", false), 0);
	ASSERT_L3_STORES(t, "clx");
	ASSERT_EQ(build(&t, "clx", true), 0);
	ASSERT_L3_STORES(t, "clx");
}

static void
test_icx(void)
{
	struct probe_table t;

	ASSERT_EQ(force("icx"), 0);
	/* bare metal: load latency, ldlat=64 in config1 */
	ASSERT_EQ(build(&t, "icx", false), 0);
	ASSERT_EQ(t.n, 2);
	ASSERT_TRUE(t.ldlat);
	ASSERT_STREQ(t.ev[0].name, "icx::MEM_TRANS_RETIRED:LOAD_LATENCY:ldlat=64");
	ASSERT_EV(t.ev[0], PERF_TYPE_RAW, 0x1cd, 0x40, 2, SAMPLE_OP_LOAD);
	ASSERT_EV(t.ev[1], PERF_TYPE_RAW, 0x82d0, 0, 2, SAMPLE_OP_STORE);
	/* guest: no load-latency MSR under stock KVM */
	ASSERT_EQ(build(&t, "icx", true), 0);
	ASSERT_L3_STORES(t, "icx");
}

static void
test_spr(void)
{
	struct probe_table t;

	ASSERT_EQ(force("spr"), 0);
	ASSERT_EQ(build(&t, "spr", false), 0);
	ASSERT_EQ(t.n, 3);
	ASSERT_TRUE(t.ldlat);
	/* mem-loads-aux leads the load-latency event, counting only */
	ASSERT_STREQ(t.ev[0].name, "mem-loads-aux");
	ASSERT_TRUE(t.ev[0].leader);
	ASSERT_EV(t.ev[0], PERF_TYPE_RAW, 0x8203, 0, 0, SAMPLE_OP_LOAD);
	ASSERT_STREQ(t.ev[1].name, "spr::MEM_TRANS_RETIRED:LOAD_LATENCY:ldlat=64");
	ASSERT_TRUE(!t.ev[1].leader);
	ASSERT_EV(t.ev[1], PERF_TYPE_RAW, 0x1cd, 0x40, 2, SAMPLE_OP_LOAD);
	ASSERT_STREQ(t.ev[2].name, "spr::MEM_INST_RETIRED:ALL_STORES");
	ASSERT_EV(t.ev[2], PERF_TYPE_RAW, 0x82d0, 0, 2, SAMPLE_OP_STORE);
	for (int i = 0; i < t.n; i++)	/* STORE_SAMPLE encodes wrongly */
		ASSERT_NE(t.ev[i].config, 0x3cd);
	ASSERT_EQ(build(&t, "spr", true), 0);
	ASSERT_L3_STORES(t, "spr");
}

static void
test_older_and_client(void)
{
	struct probe_table t;

	ASSERT_EQ(force("hsw_ep"), 0);
	ASSERT_EQ(build(&t, "hsw_ep", false), 0);
	ASSERT_EQ(t.n, 2);
	ASSERT_STREQ(t.ev[0].name, "hsw_ep::MEM_LOAD_UOPS_RETIRED:L3_MISS");
	ASSERT_EV(t.ev[0], PERF_TYPE_RAW, 0x20d1, 0, 2, SAMPLE_OP_LOAD);
	ASSERT_STREQ(t.ev[1].name, "hsw_ep::MEM_UOPS_RETIRED:ALL_STORES");
	ASSERT_EV(t.ev[1], PERF_TYPE_RAW, 0x82d0, 0, 2, SAMPLE_OP_STORE);
	ASSERT_EQ(force("bdw"), 0);
	ASSERT_EQ(build(&t, "bdw", true), 0);
	ASSERT_EV(t.ev[0], PERF_TYPE_RAW, 0x20d1, 0, 2, SAMPLE_OP_LOAD);
	ASSERT_EQ(force("skl"), 0);
	ASSERT_EQ(build(&t, "skl", false), 0);
	ASSERT_L3_STORES(t, "skl");
	ASSERT_EQ(force("icl"), 0);
	ASSERT_EQ(build(&t, "icl", false), 0);
	ASSERT_EV(t.ev[0], PERF_TYPE_RAW, 0x1cd, 0x40, 2, SAMPLE_OP_LOAD);
	ASSERT_EQ(build(&t, "icl", true), 0);
	ASSERT_L3_STORES(t, "icl");
}

static void
test_raw_fallback(void)
{
	struct probe_table t;
	struct probe_pmu p = nopmu;
	char err[256];

	/* no libpfm model: raw encodings on the cpu PMU's type */
	ASSERT_EQ(probe_table_build(&t, "", &intel, &p, true, NULL, err,
	    sizeof(err)), 0);
	ASSERT_STREQ(t.pmu, "raw");
	ASSERT_EQ(t.n, 2);
	ASSERT_EV(t.ev[0], PERF_TYPE_RAW, 0x20d1, 0, 2, SAMPLE_OP_LOAD);
	ASSERT_EV(t.ev[1], PERF_TYPE_RAW, 0x82d0, 0, 2, SAMPLE_OP_STORE);
	p.cpu_type = 8;		/* cpu_core on a hybrid part */
	ASSERT_EQ(probe_table_build(&t, "ix86arch", &intel, &p, false, NULL,
	    err, sizeof(err)), 0);
	ASSERT_EV(t.ev[0], 8, 0x20d1, 0, 2, SAMPLE_OP_LOAD);
	/* a libpfm model without a default table */
	ASSERT_EQ(probe_table_build(&t, "knl", &intel, &p, false, NULL, err,
	    sizeof(err)), -ENOTSUP);
	ASSERT_CONTAINS(err, "event =");
}

static void
test_custom(void)
{
	struct probe_table t;
	char err[256];

	ASSERT_EQ(force("spr"), 0);
	/* a load-latency event gets its aux leader on spr */
	ASSERT_EQ(probe_table_build(&t, "spr", &intel, &nopmu, true,
	    "MEM_TRANS_RETIRED:LOAD_LATENCY:ldlat=128, "
	    "MEM_INST_RETIRED:ALL_STORES", err, sizeof(err)), 0);
	ASSERT_TRUE(t.custom);
	ASSERT_EQ(t.n, 3);
	ASSERT_TRUE(t.ev[0].leader);
	ASSERT_EQ_U(t.ev[0].config, 0x8203);
	ASSERT_EV(t.ev[1], PERF_TYPE_RAW, 0x1cd, 0x80, 2, SAMPLE_OP_UNKNOWN);
	ASSERT_EV(t.ev[2], PERF_TYPE_RAW, 0x82d0, 0, 2, SAMPLE_OP_UNKNOWN);
	/* a precise level in the string is kept */
	ASSERT_EQ(probe_table_build(&t, "spr", &intel, &nopmu, true,
	    "MEM_LOAD_RETIRED:L3_MISS:precise=1", err, sizeof(err)), 0);
	ASSERT_EQ(t.n, 1);
	ASSERT_EV(t.ev[0], PERF_TYPE_RAW, 0x20d1, 0, 1, SAMPLE_OP_UNKNOWN);
	/* qualified names pass as they are */
	ASSERT_EQ(probe_table_build(&t, "spr", &intel, &nopmu, false,
	    "spr::MEM_LOAD_RETIRED:L3_MISS", err, sizeof(err)), 0);
	ASSERT_STREQ(t.ev[0].name, "spr::MEM_LOAD_RETIRED:L3_MISS");
	ASSERT_EQ(probe_table_build(&t, "spr", &intel, &nopmu, true,
	    "NO_SUCH_EVENT", err, sizeof(err)), -EINVAL);
	ASSERT_CONTAINS(err, "spr::NO_SUCH_EVENT");
	ASSERT_EQ(probe_table_build(&t, "spr", &intel, &nopmu, true,
	    "a,b,c,d,e", err, sizeof(err)), -EINVAL);
	ASSERT_EQ(probe_table_build(&t, "spr", &intel, &nopmu, true, " , ",
	    err, sizeof(err)), -EINVAL);
}

static void
test_amd_ibs(void)
{
	struct probe_table t;
	struct probe_pmu p = nopmu;
	struct probe_cpu zen3 = amd;
	char err[256];

	ASSERT_EQ(force("amd64_fam19h_zen4"), 0);
	/* the kernel's ibs_op PMU decides: type and format files */
	p.ibs_op_type = 11;
	p.ibs_l3missonly = p.ibs_cnt_ctl = p.ibs_swfilt = true;
	ASSERT_EQ(probe_table_build(&t, "amd64_fam19h_zen4", &amd, &p, true,
	    NULL, err, sizeof(err)), 0);
	ASSERT_EQ(t.source, SOURCE_IBS);
	ASSERT_EQ(t.n, 1);
	ASSERT_STREQ(t.ev[0].name, "ibs_op/cnt_ctl=1,l3missonly=1/");
	ASSERT_EQ_U(t.ev[0].type, 11);
	ASSERT_EQ_U(t.ev[0].config, 0x90000);	/* bits 19 and 16 */
	ASSERT_EQ_U(t.ev[0].config1, 0);
	ASSERT_EQ_U(t.ev[0].config2, 1);	/* swfilt */
	ASSERT_EQ(t.ev[0].precise_ip, 0);
	/* a Zen 3 kernel: no l3missonly format, no swfilt */
	p.ibs_l3missonly = p.ibs_swfilt = false;
	ASSERT_EQ(probe_table_build(&t, "amd64_fam19h_zen3", &amd, &p, false,
	    NULL, err, sizeof(err)), 0);
	ASSERT_EQ_U(t.ev[0].config, 0x80000);
	ASSERT_EQ_U(t.ev[0].config2, 0);
	/* no ibs_op here: the model decides, the type is unknown */
	ASSERT_EQ(probe_table_build(&t, "amd64_fam19h_zen4", &amd, &nopmu,
	    true, NULL, err, sizeof(err)), 0);
	ASSERT_EQ_U(t.ev[0].type, UINT32_MAX);
	ASSERT_EQ_U(t.ev[0].config, 0x90000);
	ASSERT_EQ(probe_table_build(&t, "amd64_fam19h_zen3", &amd, &nopmu,
	    true, NULL, err, sizeof(err)), 0);
	ASSERT_EQ_U(t.ev[0].config, 0x80000);
	/* by CPU: family 0x19 model 0x11 is Zen 4, 0x01 Zen 3 */
	ASSERT_EQ(probe_table_build(&t, "", &amd, &nopmu, true, NULL, err,
	    sizeof(err)), 0);
	ASSERT_EQ_U(t.ev[0].config, 0x90000);
	zen3.model = 0x01;
	ASSERT_EQ(probe_table_build(&t, "", &zen3, &nopmu, true, NULL, err,
	    sizeof(err)), 0);
	ASSERT_EQ_U(t.ev[0].config, 0x80000);
	zen3.ibs_caps = PROBE_IBS_CAPS_ZEN4 | 1;	/* CPUID says otherwise */
	ASSERT_EQ(probe_table_build(&t, "", &zen3, &nopmu, true, NULL, err,
	    sizeof(err)), 0);
	ASSERT_EQ_U(t.ev[0].config, 0x90000);
	/* event = for IBS: raw IbsOpCtl bits */
	ASSERT_EQ(probe_table_build(&t, "ibs_op", &amd, &p, true,
	    "ibs_op:0x10000", err, sizeof(err)), 0);
	ASSERT_EQ_U(t.ev[0].config, 0x10000);
	ASSERT_EQ(probe_table_build(&t, "ibs_op", &amd, &p, true,
	    "MEM_LOAD_RETIRED:L3_MISS", err, sizeof(err)), -EINVAL);
	ASSERT_CONTAINS(err, "ibs_op:0xCONFIG");
	ASSERT_EQ(probe_table_build(&t, "ibs_op", &amd, &p, true,
	    "ibs_op:zz", err, sizeof(err)), -EINVAL);
}

static void
test_plans(void)
{
	struct probe_table t;
	struct perf_ring_params pp;
	struct probe_cpu c = intel;
	struct probe_pmu p = nopmu;
	char err[256];

	ASSERT_EQ(force("skx"), 0);
	p.cpu_type = 4;
	p.max_precise = 3;
	snprintf(p.cpu_dir, sizeof(p.cpu_dir), "cpu");
	c.guest = true;
	ASSERT_EQ(sample_pebs_plan(&t, &pp, &c, &p, NULL, NULL, 10007, err,
	    sizeof(err)), 0);
	ASSERT_STREQ(t.pmu, "skx");
	ASSERT_EQ(pp.pid, -1);
	ASSERT_EQ_U(pp.sample_type, PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
	    PERF_SAMPLE_ADDR | PERF_SAMPLE_CPU | PERF_SAMPLE_WEIGHT_STRUCT |
	    PERF_SAMPLE_DATA_SRC | PERF_SAMPLE_PHYS_ADDR);
	ASSERT_EQ_U(pp.period, 10007);
	ASSERT_EQ_U(pp.period_min, 10007);
	ASSERT_EQ(pp.max_precise, 3);
	ASSERT_TRUE(pp.exclude_kernel);
	ASSERT_TRUE(!pp.exclude_guest);		/* in a guest: cleared */
	ASSERT_TRUE(pp.user_only);
	ASSERT_TRUE(pp.cpus_file == NULL);
	c.guest = false;
	snprintf(p.cpu_dir, sizeof(p.cpu_dir), "cpu_core");
	ASSERT_EQ(sample_pebs_plan(&t, &pp, &c, &p, NULL, NULL, 10007, err,
	    sizeof(err)), 0);
	ASSERT_TRUE(pp.exclude_guest);		/* bare metal: kept */
	ASSERT_STREQ(pp.cpus_file,
	    "/sys/bus/event_source/devices/cpu_core/cpus");
	/* an AMD PMU is not a PEBS plan */
	ASSERT_EQ(sample_pebs_plan(&t, &pp, &c, &p, "amd64_fam19h_zen4",
	    NULL, 10007, err, sizeof(err)), -EINVAL);

	p = nopmu;
	p.ibs_op_type = 11;
	p.ibs_cnt_ctl = true;
	ASSERT_EQ(sample_ibs_plan(&t, &pp, &amd, &p, "ibs_op", NULL, 10007,
	    err, sizeof(err)), 0);
	ASSERT_EQ_U(pp.period, 10016);		/* a multiple of 16 */
	ASSERT_EQ(pp.period_align, 16);
	ASSERT_TRUE(!pp.exclude_guest);		/* ibs_op refuses it */
	ASSERT_TRUE(!pp.exclude_kernel);	/* no swfilt */
	ASSERT_EQ_U(pp.period_max, 0xFFFF0);
	ASSERT_EQ(sample_ibs_plan(&t, &pp, &amd, &p, "ibs_op", NULL, 1, err,
	    sizeof(err)), 0);
	ASSERT_EQ_U(pp.period, 16);
	ASSERT_EQ(sample_ibs_plan(&t, &pp, &amd, &p, "ibs_op", NULL,
	    5000000, err, sizeof(err)), 0);
	ASSERT_EQ_U(pp.period, 0xFFFF0);
	p.ibs_swfilt = true;
	amd.ibs_caps = 1 | PROBE_IBS_CAPS_OPCNTEXT;
	ASSERT_EQ(sample_ibs_plan(&t, &pp, &amd, &p, "ibs_op", NULL,
	    5000000, err, sizeof(err)), 0);
	ASSERT_EQ_U(pp.period, 5000000);
	ASSERT_EQ_U(pp.period_max, 0x7FFFFF0);
	ASSERT_TRUE(pp.exclude_kernel);
	amd.ibs_caps = 0;
}

static void
test_ept_friendly(void)
{
	static const struct { unsigned model, stepping; bool ept; } m[] = {
		{ 0x55, 4, false }, { 0x55, 7, false },	/* skx, clx */
		{ 0x6a, 6, true }, { 0x6c, 1, true },	/* icx */
		{ 0x8f, 8, true }, { 0xcf, 2, true },	/* spr, emr */
		{ 0xad, 1, true },			/* gnr */
		{ 0x7e, 5, false }, { 0x97, 2, false },	/* icl, adl */
	};
	struct probe_cpu c = intel;

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		c.model = m[i].model;
		c.stepping = m[i].stepping;
		ASSERT_EQ(probe_ept_friendly_pebs(&c), m[i].ept);
	}
	c.model = 0x55;
	c.stepping = 7;
	ASSERT_STREQ(probe_cpu_name(&c), "Cascade Lake");
	c.model = 0x6a;
	ASSERT_STREQ(probe_cpu_name(&c), "Ice Lake server");
	ASSERT_TRUE(!probe_ept_friendly_pebs(&amd));
	ASSERT_STREQ(probe_cpu_name(&amd), "Zen 4");
}

static void
test_no_pmu_message(void)
{
	struct probe_cpu c = amd;
	struct probe_pmu p = nopmu;
	char why[512];

	c.guest = true;
	snprintf(c.hv_vendor, sizeof(c.hv_vendor), "KVMKVMKVM");
	probe_no_pmu(&c, &p, why, sizeof(why));
	ASSERT_CONTAINS(why, "no usable PMU: no 'cpu' or 'ibs_op' PMU");
	ASSERT_CONTAINS(why, "hypervisor (KVMKVMKVM)");
	ASSERT_CONTAINS(why, "; use source=replay or enable the vPMU (QEMU "
	    "-cpu host,pmu=on / libvirt <pmu state='on'/>)");
	p.cpu_type = 4;		/* AMD with core counters but no IBS */
	probe_no_pmu(&c, &p, why, sizeof(why));
	ASSERT_CONTAINS(why, "no 'ibs_op' PMU");
	c = intel;
	c.guest = true;
	p.max_precise = 0;
	snprintf(p.cpu_dir, sizeof(p.cpu_dir), "cpu");
	probe_no_pmu(&c, &p, why, sizeof(why));
	ASSERT_CONTAINS(why, "no PEBS (caps/max_precise is 0)");
}

static void
test_period_next(void)
{
	/* over budget: grow by cpu/budget, at least a unit, at most 4x */
	ASSERT_EQ_U(perf_ring_period_next(1000, 0.02, 0.01, 100, 100000, 1),
	    2000);
	ASSERT_EQ_U(perf_ring_period_next(1000, 0.5, 0.01, 100, 100000, 1),
	    4000);
	ASSERT_EQ_U(perf_ring_period_next(1000, 0.0125, 0.01, 100, 100000,
	    1), 1250);
	ASSERT_EQ_U(perf_ring_period_next(1000, 0.01001, 0.01, 100, 100000,
	    1), 1001);
	ASSERT_EQ_U(perf_ring_period_next(60000, 1.0, 0.01, 100, 100000, 1),
	    100000);
	/* under 80% of the budget: a step of 1.25 down, not below min */
	ASSERT_EQ_U(perf_ring_period_next(1000, 0.001, 0.01, 100, 100000, 1),
	    800);
	ASSERT_EQ_U(perf_ring_period_next(1000, 0.0079, 0.01, 100, 100000,
	    1), 800);
	ASSERT_EQ_U(perf_ring_period_next(110, 0.0, 0.01, 100, 100000, 1),
	    100);
	/* in between: unchanged */
	ASSERT_EQ_U(perf_ring_period_next(1000, 0.0081, 0.01, 100, 100000,
	    1), 1000);
	ASSERT_EQ_U(perf_ring_period_next(1000, 0.01, 0.01, 100, 100000, 1),
	    1000);
	/* IBS: multiples of 16 */
	ASSERT_EQ_U(perf_ring_period_next(10016, 0.02, 0.01, 10016, 0xFFFF0,
	    16), 20032);
	ASSERT_EQ_U(perf_ring_period_next(10016, 0.011, 0.01, 10016, 0xFFFF0,
	    16), 11024);
	ASSERT_EQ_U(perf_ring_period_next(10016, 0.01001, 0.01, 10016,
	    0xFFFF0, 16), 10032);
	ASSERT_EQ_U(perf_ring_period_next(0xFFF00, 1.0, 0.01, 16, 0xFFFF0,
	    16), 0xFFFF0);
	/* nonsense in: the period stays within bounds */
	ASSERT_EQ_U(perf_ring_period_next(1000, -1.0, 0.01, 100, 100000, 1),
	    1000);
	ASSERT_EQ_U(perf_ring_period_next(1000, 0.5, 0.0, 100, 100000, 1),
	    1000);
	ASSERT_EQ_U(perf_ring_period_next(1, 0.5, 0.01, 0, 0, 0), 1);
}

/* The last line of an output that ends with a newline. */
static const char *
last_line(const char *buf)
{
	size_t n = strlen(buf);

	if (n == 0)
		return buf;
	n--;
	while (n > 0 && buf[n - 1] != '\n')
		n--;
	return buf + n;
}

static void
check_verdict(const char *buf, int rc)
{
	const char *last = last_line(buf);

	if (rc == 0) {
		ASSERT_TRUE(strncmp(last, "probe: sampler=pebs ready\n", 26) == 0 ||
		    strncmp(last, "probe: sampler=ibs ready\n", 25) == 0);
	} else {
		ASSERT_EQ(rc, PROBE_EXIT_NO_PMU);
		ASSERT_TRUE(strncmp(last, "probe: no usable PMU: ", 22) == 0);
		ASSERT_CONTAINS(last, "; use source=replay or enable the vPMU "
		    "(QEMU -cpu host,pmu=on / libvirt <pmu state='on'/>)\n");
	}
}

static void
test_probe_run(void)
{
	enum sampler_source src;
	char *buf = NULL, why[640];
	size_t len = 0;
	FILE *f;
	int rc, picked;

	/* a forced model's table is printed on any machine */
	setenv("LIBPFM_FORCE_PMU", "skx", 1);
	probe_libpfm_reset();
	ASSERT_TRUE((f = open_memstream(&buf, &len)) != NULL);
	rc = probe_report_run(f, true);
	fclose(f);
	ASSERT_CONTAINS(buf, "probe: libpfm: core PMU skx (forced by "
	    "LIBPFM_FORCE_PMU)\n");
	ASSERT_CONTAINS(buf, "probe:   loads  skx::MEM_LOAD_RETIRED:L3_MISS"
	    "                type=4 config=0x20d1 config1=0 config2=0 "
	    "precise_ip=2\n");
	ASSERT_CONTAINS(buf, "probe:   stores skx::MEM_INST_RETIRED:ALL_STORES"
	    "             type=4 config=0x82d0 config1=0 config2=0 "
	    "precise_ip=2\n");
	ASSERT_CONTAINS(buf, "probe: dry run: nothing opened\n");
	check_verdict(buf, rc);
	/* the dry-run verdict is source = auto's choice */
	picked = probe_pick(&src, why, sizeof(why));
	ASSERT_EQ(picked == 0, rc == 0);
	if (picked < 0)
		ASSERT_CONTAINS(buf, why);
	free(buf);
	buf = NULL;

	/* this machine as it is, opening for real where there is a PMU */
	unsetenv("LIBPFM_FORCE_PMU");
	probe_libpfm_reset();
	ASSERT_TRUE((f = open_memstream(&buf, &len)) != NULL);
	rc = probe_report_run(f, false);
	fclose(f);
	ASSERT_TRUE(strncmp(buf, "probe: cpu: ", 12) == 0);
	ASSERT_TRUE(strstr(buf, "dry run") == NULL);
	check_verdict(buf, rc);
	if (picked < 0)
		ASSERT_EQ(rc, PROBE_EXIT_NO_PMU);
	free(buf);
}

static void
test_cpuid(void)
{
	struct probe_cpu c;

#if defined(__x86_64__) || defined(__i386__)
	ASSERT_EQ(probe_cpu_read(&c), 0);
	ASSERT_EQ(strlen(c.vendor_id), 12);
	ASSERT_TRUE(c.family >= 6);
	if (c.guest)
		ASSERT_TRUE(strlen(c.hv_vendor) <= 12);
#else
	ASSERT_EQ(probe_cpu_read(&c), -ENOTSUP);
#endif
}

int
main(void)
{
	log_init("test_pebs_encode", LOG_LVL_WARN);
	setup();
	RUN_TEST(test_force_pmu);
	RUN_TEST(test_skx_clx);
	RUN_TEST(test_icx);
	RUN_TEST(test_spr);
	RUN_TEST(test_older_and_client);
	RUN_TEST(test_raw_fallback);
	RUN_TEST(test_custom);
	RUN_TEST(test_amd_ibs);
	RUN_TEST(test_plans);
	RUN_TEST(test_ept_friendly);
	RUN_TEST(test_no_pmu_message);
	RUN_TEST(test_period_next);
	RUN_TEST(test_cpuid);
	RUN_TEST(test_probe_run);
	probe_libpfm_reset();
	TEST_EXIT();
}
