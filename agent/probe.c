/*
 * probe.c - capability probing and the default event tables.
 *
 * What decides which sampler can run is read, never assumed: CPUID for
 * the vendor, model, hypervisor and PEBS/IBS prerequisites, and sysfs
 * (/sys/bus/event_source/devices) for what the kernel actually drives:
 * a "cpu" (or, on hybrid parts, "cpu_core") PMU with caps/max_precise
 * > 0 for PEBS, an "ibs_op" PMU for IBS.  The PEBS record format lives
 * in IA32_PERF_CAPABILITIES, an MSR: it is not visible from user space,
 * and a guest could not trust it anyway, so it is reported as unknown.
 *
 * The default events per model (libpfm4 names, encodings asserted in
 * tests/unit/test_pebs_encode.c):
 *
 *   hsw, hsw_ep, bdw, bdw_ep
 *       MEM_LOAD_UOPS_RETIRED:L3_MISS  0x20d1   MEM_UOPS_RETIRED:ALL_STORES 0x82d0
 *   skl, skx, clx
 *       MEM_LOAD_RETIRED:L3_MISS       0x20d1   MEM_INST_RETIRED:ALL_STORES 0x82d0
 *   icl, icx  bare metal:
 *       MEM_TRANS_RETIRED:LOAD_LATENCY:ldlat=64  config 0x1cd config1 0x40,
 *       MEM_INST_RETIRED:ALL_STORES 0x82d0
 *             guest: as skx
 *   spr (Sapphire/Emerald Rapids)  bare metal:
 *       mem-loads-aux 0x8203 (counting group leader; without it the
 *       kernel refuses load latency with -ENODATA), then the load-latency
 *       event as icx, then MEM_INST_RETIRED:ALL_STORES 0x82d0
 *             guest: as skx
 *   no libpfm model (e.g. Granite Rapids with libpfm 4.13): raw 0x20d1
 *       and 0x82d0 on the cpu PMU's type, the same encodings since Haswell
 *   AMD (amd64_fam17h_*, amd64_fam19h_*): one IBS op event on the ibs_op
 *       PMU, cnt_ctl (config:19, count ops not cycles: a uniform sample of
 *       executed ops) and on Zen 4+ l3missonly (config:16)
 *
 * Why guests get the L3-miss loads: stock KVM does not virtualise the
 * load-latency threshold MSR (MSR_PEBS_LD_LAT_THRESHOLD) nor adaptive
 * PEBS, so a load-latency event in a guest may open and then filter
 * nothing or sample nothing; MEM_LOAD_RETIRED.L3_MISS needs neither and
 * is exactly the traffic that tiering cares about.  The stores event is
 * MEM_INST_RETIRED.ALL_STORES everywhere: spr::MEM_TRANS_RETIRED:
 * STORE_SAMPLE encodes wrongly in libpfm 4.13 (0x3cd, not 0x2cd).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "vtier/log.h"
#include "vtier/util.h"
#include "probe.h"

/* after <linux/perf_event.h> (via probe.h): libpfm then skips its copy */
#include <perfmon/pfmlib_perf_event.h>


/* ---- CPUID ---- */

int
probe_cpu_read(struct probe_cpu *c)
{
	memset(c, 0, sizeof(*c));
#if defined(__x86_64__) || defined(__i386__)
	unsigned a, b, cx, d, max, maxext, base;

	if (__get_cpuid(0, &max, &b, &cx, &d) == 0)
		return -ENOTSUP;
	memcpy(c->vendor_id, &b, 4);
	memcpy(c->vendor_id + 4, &d, 4);
	memcpy(c->vendor_id + 8, &cx, 4);
	if (strcmp(c->vendor_id, "GenuineIntel") == 0)
		c->vendor = PROBE_VENDOR_INTEL;
	else if (strcmp(c->vendor_id, "AuthenticAMD") == 0)
		c->vendor = PROBE_VENDOR_AMD;
	if (max >= 1) {
		__cpuid(1, a, b, cx, d);
		base = (a >> 8) & 0xf;
		c->family = base == 0xf ? base + ((a >> 20) & 0xff) : base;
		c->model = (a >> 4) & 0xf;
		if (base == 0x6 || base == 0xf)
			c->model |= ((a >> 16) & 0xf) << 4;
		c->stepping = a & 0xf;
		c->guest = (cx >> 31) & 1;
		c->dtes64 = (cx >> 2) & 1;
		c->pdcm = (cx >> 15) & 1;
		c->ds = (d >> 21) & 1;
	}
	if (c->guest) {
		__cpuid(0x40000000, a, b, cx, d);
		memcpy(c->hv_vendor, &b, 4);
		memcpy(c->hv_vendor + 4, &cx, 4);
		memcpy(c->hv_vendor + 8, &d, 4);
		for (int i = 0; i < 12; i++)	/* keep it printable */
			if (c->hv_vendor[i] != '\0' &&
			    (c->hv_vendor[i] < 0x20 || c->hv_vendor[i] > 0x7e))
				c->hv_vendor[i] = '?';
	}
	if (c->vendor == PROBE_VENDOR_INTEL && max >= 0xa) {
		__cpuid_count(0xa, 0, a, b, cx, d);
		c->perfmon_version = a & 0xff;
		c->perfmon_counters = (a >> 8) & 0xff;
	}
	maxext = __get_cpuid_max(0x80000000, NULL);
	if (c->vendor == PROBE_VENDOR_AMD && maxext >= 0x80000001) {
		__cpuid(0x80000001, a, b, cx, d);
		c->ibs = (cx >> 10) & 1;
		if (c->ibs && maxext >= 0x8000001b) {
			__cpuid(0x8000001b, a, b, cx, d);
			c->ibs_caps = (a & 1) ? a : 0;	/* bit 0: caps valid */
		}
	}
	return 0;
#else
	return -ENOTSUP;
#endif
}

/* ---- sysfs ---- */

static int
read_int(const char *path, int *v)
{
	char buf[64], *end;
	long x;

	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -ENOENT;
	errno = 0;
	x = strtol(buf, &end, 10);
	if (end == buf || errno != 0 || x < INT_MIN || x > INT_MAX ||
	    (*end != '\0' && *end != '\n'))
		return -EINVAL;
	*v = (int)x;
	return 0;
}

static bool
exists(const char *dir, const char *name)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

void
probe_pmu_read(struct probe_pmu *p, const char *root)
{
	static const char *const cpu_dirs[] = { "cpu", "cpu_core" };
	char dir[PATH_MAX], path[PATH_MAX + 64];
	int v;

	memset(p, 0, sizeof(*p));
	p->cpu_type = p->max_precise = p->ibs_op_type = -1;
	for (size_t i = 0; i < ARRAY_SIZE(cpu_dirs); i++) {
		snprintf(dir, sizeof(dir), "%s" PROBE_SYSFS_PMUS "/%s", root,
		    cpu_dirs[i]);
		snprintf(path, sizeof(path), "%s/type", dir);
		if (read_int(path, &v) < 0)
			continue;
		snprintf(p->cpu_dir, sizeof(p->cpu_dir), "%s", cpu_dirs[i]);
		p->cpu_type = v;
		snprintf(path, sizeof(path), "%s/caps/max_precise", dir);
		if (read_int(path, &v) == 0)
			p->max_precise = v;
		snprintf(path, sizeof(path), "%s/caps/pmu_name", dir);
		if (read_file(path, p->pmu_name, sizeof(p->pmu_name)) > 0)
			p->pmu_name[strcspn(p->pmu_name, "\n")] = '\0';
		p->mem_loads_aux = exists(dir, "events/mem-loads-aux");
		break;
	}
	snprintf(dir, sizeof(dir), "%s" PROBE_SYSFS_PMUS "/ibs_op", root);
	snprintf(path, sizeof(path), "%s/type", dir);
	if (read_int(path, &v) == 0) {
		p->ibs_op_type = v;
		p->ibs_l3missonly = exists(dir, "format/l3missonly");
		p->ibs_cnt_ctl = exists(dir, "format/cnt_ctl");
		p->ibs_swfilt = exists(dir, "format/swfilt");
	}
}

/* ---- models ---- */

struct intel_cpu {
	unsigned model;
	const char *name;
	bool ept_pebs;	/* EPT-friendly PEBS: x86_pmu.pebs_ept in the kernel */
};

/* Family 6 models; ept_pebs as intel_pmu_init()/intel_ds_init() set it. */
static const struct intel_cpu intel_cpus[] = {
	{ 0x3c, "Haswell", false }, { 0x45, "Haswell", false },
	{ 0x46, "Haswell", false }, { 0x3f, "Haswell server", false },
	{ 0x3d, "Broadwell", false }, { 0x47, "Broadwell", false },
	{ 0x4f, "Broadwell server", false }, { 0x56, "Broadwell-DE", false },
	{ 0x4e, "Skylake", false }, { 0x5e, "Skylake", false },
	{ 0x8e, "Kaby/Coffee/Comet Lake", false },
	{ 0x9e, "Kaby/Coffee Lake", false }, { 0xa5, "Comet Lake", false },
	{ 0xa6, "Comet Lake", false }, { 0x7d, "Ice Lake", false },
	{ 0x7e, "Ice Lake", false }, { 0x8c, "Tiger Lake", false },
	{ 0x8d, "Tiger Lake", false }, { 0xa7, "Rocket Lake", false },
	{ 0x97, "Alder Lake", false }, { 0x9a, "Alder Lake", false },
	{ 0xb7, "Raptor Lake", false }, { 0xba, "Raptor Lake", false },
	{ 0xbf, "Raptor Lake", false }, { 0xaa, "Meteor Lake", false },
	{ 0xac, "Meteor Lake", false },
	{ 0x6a, "Ice Lake server", true }, { 0x6c, "Ice Lake-D", true },
	{ 0x8f, "Sapphire Rapids", true }, { 0xcf, "Emerald Rapids", true },
	{ 0xad, "Granite Rapids", true }, { 0xae, "Granite Rapids-D", true },
	{ 0xaf, "Sierra Forest", true }, { 0xb6, "Grand Ridge", true },
	{ 0xdd, "Clearwater Forest", true },
};

static const struct intel_cpu *
intel_cpu(const struct probe_cpu *c)
{
	if (c->vendor != PROBE_VENDOR_INTEL || c->family != 6)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(intel_cpus); i++)
		if (intel_cpus[i].model == c->model)
			return &intel_cpus[i];
	return NULL;
}

/*
 * Zen 4 and later have l3missonly (IBS_CAPS_ZEN4).  The kernel's
 * ibs_op/format/l3missonly is the truth where the PMU exists; without
 * it, CPUID 0x8000001B bit 11, then the family/model: family 0x19
 * models 0x10-0x1f (Genoa), 0x60-0x7f (Raphael, Phoenix), 0xa0-0xaf
 * (Bergamo, Siena) are Zen 4; family 0x1a is Zen 5.  Zen 3 (0x19 models
 * 0x00-0x0f, 0x20-0x5f) and earlier have no l3missonly.
 */
bool
probe_amd_zen4(const struct probe_cpu *c)
{
	if (c->vendor != PROBE_VENDOR_AMD)
		return false;
	if (c->ibs_caps & PROBE_IBS_CAPS_ZEN4)
		return true;
	if (c->family == 0x19)
		return (c->model >= 0x10 && c->model <= 0x1f) ||
		    (c->model >= 0x60 && c->model <= 0x7f) ||
		    (c->model >= 0xa0 && c->model <= 0xaf);
	return c->family >= 0x1a;
}

const char *
probe_cpu_name(const struct probe_cpu *c)
{
	const struct intel_cpu *ic = intel_cpu(c);

	if (c->vendor == PROBE_VENDOR_INTEL && c->family == 6 &&
	    c->model == 0x55)
		return c->stepping <= 4 ? "Skylake server" :
		    c->stepping <= 7 ? "Cascade Lake" : "Cooper Lake";
	if (ic != NULL)
		return ic->name;
	if (c->vendor == PROBE_VENDOR_AMD) {
		if (c->family == 0x17)
			return c->model < 0x30 ? "Zen/Zen+" : "Zen 2";
		if (c->family == 0x19)
			return probe_amd_zen4(c) ? "Zen 4" : "Zen 3";
		if (c->family == 0x1a)
			return "Zen 5";
	}
	return "";
}

/*
 * Ice Lake server (SDM 20.9.5) and later write PEBS records without
 * faulting on EPT violations, so KVM can leave the guest's buffer to the
 * normal EPT machinery; upstream KVM offers guest PEBS only there
 * (vmx_pebs_supported: x86_pmu.pebs_ept).  Models from the table, and
 * any Intel family after 6 (architectural PEBS).
 */
bool
probe_ept_friendly_pebs(const struct probe_cpu *c)
{
	const struct intel_cpu *ic;

	if (c->vendor != PROBE_VENDOR_INTEL)
		return false;
	if (c->family > 6)
		return true;
	ic = intel_cpu(c);
	return ic != NULL && ic->ept_pebs;
}

bool
probe_prefault_needed(void)
{
	struct probe_cpu c;

	if (probe_cpu_read(&c) < 0)
		return false;
	return c.vendor == PROBE_VENDOR_INTEL && !probe_ept_friendly_pebs(&c);
}

/* ---- libpfm ---- */

/* libpfm's state is process-wide; this mirrors whether it is set up. */
static bool pfm_ready;

int
probe_libpfm_init(void)
{
	int rc;

	if (pfm_ready)
		return 0;
	if ((rc = pfm_initialize()) != PFM_SUCCESS) {
		log_warnx("libpfm: pfm_initialize: %s", pfm_strerror(rc));
		return -EIO;
	}
	pfm_ready = true;
	return 0;
}

void
probe_libpfm_reset(void)
{
	if (pfm_ready)
		pfm_terminate();
	pfm_ready = false;
}

int
probe_libpfm_core(char *name, size_t len, bool *forced)
{
	const char *force = getenv("LIBPFM_FORCE_PMU");
	char generic[32] = "";

	name[0] = '\0';
	*forced = force != NULL && force[0] != '\0';
	if (probe_libpfm_init() < 0)
		return -EIO;
	for (int i = PFM_PMU_NONE + 1; i < PFM_PMU_MAX; i++) {
		pfm_pmu_info_t info;

		memset(&info, 0, sizeof(info));
		info.size = sizeof(info);
		if (pfm_get_pmu_info((pfm_pmu_t)i, &info) != PFM_SUCCESS ||
		    !info.is_present || info.type != PFM_PMU_TYPE_CORE ||
		    info.name == NULL)
			continue;
		if (*forced) {
			if (strcmp(info.name, force) == 0) {
				snprintf(name, len, "%s", info.name);
				return 0;
			}
			continue;
		}
		if (strcmp(info.name, "ix86arch") == 0) {
			snprintf(generic, sizeof(generic), "%s", info.name);
			continue;
		}
		snprintf(name, len, "%s", info.name);
		return 0;
	}
	if (!*forced && generic[0] != '\0') {
		snprintf(name, len, "%s", generic);
		return 0;
	}
	return -ENOENT;
}

/* ---- tables ---- */

struct intel_model {
	const char *pmu[4];	/* libpfm PMU names sharing these events */
	const char *loads;	/* retired loads that missed L3 */
	const char *stores;	/* all retired stores */
	const char *ldlat;	/* load latency, bare metal only, or NULL */
	bool aux;		/* ldlat needs the mem-loads-aux leader */
};

static const struct intel_model intel_models[] = {
	{ { "hsw", "hsw_ep", "bdw", "bdw_ep" },
	    "MEM_LOAD_UOPS_RETIRED:L3_MISS", "MEM_UOPS_RETIRED:ALL_STORES",
	    NULL, false },
	{ { "skl", "skx", "clx", NULL },
	    "MEM_LOAD_RETIRED:L3_MISS", "MEM_INST_RETIRED:ALL_STORES",
	    NULL, false },
	{ { "icl", "icx", NULL, NULL },
	    "MEM_LOAD_RETIRED:L3_MISS", "MEM_INST_RETIRED:ALL_STORES",
	    "MEM_TRANS_RETIRED:LOAD_LATENCY:ldlat=64", false },
	{ { "spr", NULL, NULL, NULL },
	    "MEM_LOAD_RETIRED:L3_MISS", "MEM_INST_RETIRED:ALL_STORES",
	    "MEM_TRANS_RETIRED:LOAD_LATENCY:ldlat=64", true },
};

static const struct intel_model *
find_model(const char *pmu)
{
	for (size_t i = 0; i < ARRAY_SIZE(intel_models); i++)
		for (size_t j = 0; j < ARRAY_SIZE(intel_models[i].pmu) &&
		    intel_models[i].pmu[j] != NULL; j++)
			if (strcmp(intel_models[i].pmu[j], pmu) == 0)
				return &intel_models[i];
	return NULL;
}

bool
probe_amd_pmu(const char *pmu)
{
	return strncmp(pmu, "amd64", 5) == 0 || strcmp(pmu, "ibs_op") == 0;
}

#define PRECISE_WANTED	2	/* data address and exact IP; see sample_pebs.c */

/*
 * One libpfm string into e.  Unqualified names get "pmu::" so that the
 * encoding is that model's even if libpfm marks other PMUs present.
 * A precise level written in the string (":precise=N") is kept.
 */
static int
encode(struct perf_ring_event *e, const char *pmu, const char *event,
    uint8_t op, char *err, size_t errlen)
{
	struct perf_event_attr attr;
	pfm_perf_encode_arg_t arg;
	char name[PERF_RING_NAME_MAX];
	int rc;

	if (pmu[0] != '\0' && strstr(event, "::") == NULL)
		rc = snprintf(name, sizeof(name), "%s::%s", pmu, event);
	else
		rc = snprintf(name, sizeof(name), "%s", event);
	if (rc < 0 || (size_t)rc >= sizeof(name)) {
		snprintf(err, errlen, "event name too long: %s", event);
		return -ENAMETOOLONG;
	}
	if (probe_libpfm_init() < 0) {
		snprintf(err, errlen, "libpfm could not be initialised");
		return -EIO;
	}
	memset(&attr, 0, sizeof(attr));
	memset(&arg, 0, sizeof(arg));
	arg.attr = &attr;
	arg.size = sizeof(arg);
	rc = pfm_get_os_event_encoding(name, PFM_PLM3, PFM_OS_PERF_EVENT_EXT,
	    &arg);
	if (rc != PFM_SUCCESS) {
		snprintf(err, errlen, "libpfm: %s: %s", name, pfm_strerror(rc));
		return -EINVAL;
	}
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->type = attr.type;
	e->config = attr.config;
	e->config1 = attr.config1;
	e->config2 = attr.config2;
	e->precise_ip = attr.precise_ip ? (uint8_t)attr.precise_ip :
	    PRECISE_WANTED;
	e->op = op;
	return 0;
}

static void
aux_leader(struct perf_ring_event *e, uint32_t type)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "mem-loads-aux");
	e->type = type;
	e->config = PROBE_MEM_LOADS_AUX;
	e->leader = true;
	e->op = SAMPLE_OP_LOAD;
}

static void
raw_event(struct perf_ring_event *e, uint32_t type, uint64_t config,
    const char *what, uint8_t op)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "raw %#llx (%s)",
	    (unsigned long long)config, what);
	e->type = type;
	e->config = config;
	e->precise_ip = PRECISE_WANTED;
	e->op = op;
}

/* A load-latency event (MEM_TRANS_RETIRED.LOAD_LATENCY, event 0xcd umask 1). */
static bool
is_ldlat(const struct perf_ring_event *e)
{
	return (e->config & 0xffff) == 0x01cd;
}

static int
intel_custom(struct probe_table *t, const char *pmu, const struct probe_pmu *p,
    const char *custom, char *err, size_t errlen)
{
	char buf[512], *save = NULL;
	bool need_aux = p->mem_loads_aux || strcmp(pmu, "spr") == 0;
	int rc;

	if (strlen(custom) >= sizeof(buf)) {
		snprintf(err, errlen, "[sampler] event is too long");
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", custom);
	for (char *s = strtok_r(buf, ",", &save); s != NULL;
	    s = strtok_r(NULL, ",", &save)) {
		struct perf_ring_event e;

		s += strspn(s, " \t");
		s[strcspn(s, " \t")] = '\0';
		if (*s == '\0')
			continue;
		if ((rc = encode(&e, pmu, s, SAMPLE_OP_UNKNOWN, err,
		    errlen)) < 0)
			return rc;
		if (need_aux && is_ldlat(&e)) {
			if (t->n >= PERF_RING_MAX_EVENTS - 1)
				goto full;
			aux_leader(&t->ev[t->n++], e.type);
			t->ldlat = true;
		}
		if (t->n >= PERF_RING_MAX_EVENTS)
			goto full;
		t->ev[t->n++] = e;
	}
	if (t->n == 0) {
		snprintf(err, errlen, "[sampler] event names no event");
		return -EINVAL;
	}
	snprintf(t->note, sizeof(t->note), "from [sampler] event =");
	return 0;
full:
	snprintf(err, errlen, "[sampler] event: at most %d events per CPU "
	    "(an aux leader counts)", PERF_RING_MAX_EVENTS);
	return -E2BIG;
}

static int
intel_table(struct probe_table *t, const char *pmu, const struct probe_pmu *p,
    bool guest, const char *custom, char *err, size_t errlen)
{
	const struct intel_model *m = find_model(pmu);
	int rc;

	t->source = SOURCE_PEBS;
	if (custom != NULL && custom[0] != '\0') {
		snprintf(t->pmu, sizeof(t->pmu), "%s", pmu[0] ? pmu : "raw");
		t->custom = true;
		return intel_custom(t, pmu, p, custom, err, errlen);
	}
	if (m == NULL) {
		uint32_t type = p->cpu_type >= 0 ? (uint32_t)p->cpu_type :
		    PERF_TYPE_RAW;

		if (pmu[0] != '\0' && strcmp(pmu, "ix86arch") != 0) {
			snprintf(err, errlen, "no default events for the "
			    "libpfm PMU %s: set [sampler] event =", pmu);
			return -ENOTSUP;
		}
		snprintf(t->pmu, sizeof(t->pmu), "raw");
		raw_event(&t->ev[0], type, 0x20d1, "MEM_LOAD_RETIRED.L3_MISS",
		    SAMPLE_OP_LOAD);
		raw_event(&t->ev[1], type, 0x82d0,
		    "MEM_INST_RETIRED.ALL_STORES", SAMPLE_OP_STORE);
		t->n = 2;
		snprintf(t->note, sizeof(t->note), "libpfm has no model for "
		    "this CPU: raw encodings, valid from Haswell to Granite "
		    "Rapids");
		return 0;
	}
	snprintf(t->pmu, sizeof(t->pmu), "%s", pmu);
	if (m->ldlat != NULL && !guest) {
		struct perf_ring_event ld;

		if ((rc = encode(&ld, pmu, m->ldlat, SAMPLE_OP_LOAD, err,
		    errlen)) < 0)
			return rc;
		if (m->aux)
			aux_leader(&t->ev[t->n++], ld.type);
		t->ev[t->n++] = ld;
		t->ldlat = true;
		snprintf(t->note, sizeof(t->note), "bare metal: loads of at "
		    "least 64 cycles with their latency%s, all stores",
		    m->aux ? " (mem-loads-aux leads them)" : "");
	} else {
		if ((rc = encode(&t->ev[t->n++], pmu, m->loads,
		    SAMPLE_OP_LOAD, err, errlen)) < 0)
			return rc;
		snprintf(t->note, sizeof(t->note), "%sretired loads that "
		    "missed L3, all stores", m->ldlat != NULL ? "guest (no "
		    "load-latency MSR under stock KVM): " : "");
	}
	return encode(&t->ev[t->n++], pmu, m->stores, SAMPLE_OP_STORE, err,
	    errlen);
}

static int
ibs_table(struct probe_table *t, const char *pmu, const struct probe_cpu *c,
    const struct probe_pmu *p, const char *custom, char *err, size_t errlen)
{
	struct perf_ring_event *e = &t->ev[0];
	char attrs[32];
	bool l3, cnt;

	t->source = SOURCE_IBS;
	snprintf(t->pmu, sizeof(t->pmu), "ibs_op");
	memset(e, 0, sizeof(*e));
	e->type = p->ibs_op_type >= 0 ? (uint32_t)p->ibs_op_type : UINT32_MAX;
	e->op = SAMPLE_OP_UNKNOWN;	/* each sample's data_src says */
	if (p->ibs_op_type >= 0) {
		l3 = p->ibs_l3missonly;
		cnt = p->ibs_cnt_ctl;
	} else if (strstr(pmu, "zen4") != NULL) {
		l3 = cnt = true;
	} else if (strncmp(pmu, "amd64_fam1", 10) == 0) {
		l3 = false;		/* zen1-3, fam16h/17h names */
		cnt = true;
	} else {
		l3 = probe_amd_zen4(c);
		cnt = c->family >= 0x10;
	}
	if (custom != NULL && custom[0] != '\0') {
		char *end;

		t->custom = true;
		if (strcmp(custom, "ibs_op") != 0) {
			if (strncmp(custom, "ibs_op:", 7) != 0)
				goto bad;
			errno = 0;
			e->config = strtoull(custom + 7, &end, 16);
			if (end == custom + 7 || *end != '\0' || errno != 0)
				goto bad;
			l3 = (e->config & PROBE_IBS_L3MISSONLY) != 0;
			cnt = (e->config & PROBE_IBS_CNT_CTL) != 0;
		}
	}
	e->config |= (l3 ? PROBE_IBS_L3MISSONLY : 0) |
	    (cnt ? PROBE_IBS_CNT_CTL : 0);
	e->config2 = p->ibs_swfilt ? PROBE_IBS_SWFILT : 0;
	attrs[0] = '\0';
	if (cnt)
		snprintf(attrs, sizeof(attrs), "cnt_ctl=1");
	if (l3)
		snprintf(attrs + strlen(attrs), sizeof(attrs) - strlen(attrs),
		    "%sl3missonly=1", attrs[0] ? "," : "");
	if (attrs[0] != '\0')
		snprintf(e->name, sizeof(e->name), "ibs_op/%s/", attrs);
	else
		snprintf(e->name, sizeof(e->name), "ibs_op");
	t->n = 1;
	snprintf(t->note, sizeof(t->note), "IBS op sampling%s%s%s",
	    cnt ? ", counting ops" : ", counting cycles",
	    l3 ? ", only ops that missed L3 (Zen 4+)" : "",
	    p->ibs_swfilt ? "" : "; kernel samples dropped in user space "
	    "(no swfilt)");
	return 0;
bad:
	snprintf(err, errlen, "[sampler] event for source = ibs must be "
	    "\"ibs_op\" or \"ibs_op:0xCONFIG\", not \"%s\"", custom);
	return -EINVAL;
}

int
probe_table_build(struct probe_table *t, const char *pmu,
    const struct probe_cpu *c, const struct probe_pmu *p, bool guest,
    const char *custom, char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	t->guest = guest;
	if (probe_amd_pmu(pmu) || (pmu[0] == '\0' &&
	    c->vendor == PROBE_VENDOR_AMD))
		return ibs_table(t, pmu, c, p, custom, err, errlen);
	if (pmu[0] == '\0' && c->vendor != PROBE_VENDOR_INTEL) {
		snprintf(err, errlen, "no event table for CPU vendor \"%s\"",
		    c->vendor_id);
		return -ENOTSUP;
	}
	return intel_table(t, pmu, p, guest, custom, err, errlen);
}

static const char *
op_name(const struct perf_ring_event *e)
{
	if (e->leader)
		return "leader";
	return e->op == SAMPLE_OP_LOAD ? "loads" :
	    e->op == SAMPLE_OP_STORE ? "stores" : "any";
}

void
probe_table_print(FILE *out, const struct probe_table *t, const char *prefix)
{
	for (int i = 0; i < t->n; i++) {
		const struct perf_ring_event *e = &t->ev[i];
		char type[16];

		if (e->type == UINT32_MAX)
			snprintf(type, sizeof(type), "?");
		else
			snprintf(type, sizeof(type), "%u", e->type);
		fprintf(out, "%s%-6s %-44s type=%s config=%#llx config1=%#llx "
		    "config2=%#llx precise_ip=%u\n", prefix, op_name(e),
		    e->name, type, (unsigned long long)e->config,
		    (unsigned long long)e->config1,
		    (unsigned long long)e->config2, e->precise_ip);
	}
}

/* ---- verdicts ---- */

void
probe_no_pmu(const struct probe_cpu *c, const struct probe_pmu *p,
    char *why, size_t len)
{
	char reason[320];
	const char *hv = c->hv_vendor[0] ? c->hv_vendor : "unknown";

	if (p->cpu_type < 0 && p->ibs_op_type < 0) {
		if (c->guest)
			snprintf(reason, sizeof(reason), "no 'cpu' or 'ibs_op' "
			    "PMU in /sys" PROBE_SYSFS_PMUS ": the hypervisor "
			    "(%s) exposes no vPMU to this guest", hv);
		else
			snprintf(reason, sizeof(reason), "no 'cpu' or 'ibs_op' "
			    "PMU in /sys" PROBE_SYSFS_PMUS ": the kernel drives "
			    "no hardware PMU on this CPU");
	} else if (c->vendor == PROBE_VENDOR_INTEL) {
		snprintf(reason, sizeof(reason), "the %s PMU%s%s offers no "
		    "PEBS (caps/max_precise is 0)%s", p->cpu_dir,
		    p->pmu_name[0] ? " " : "", p->pmu_name, c->guest ?
		    "; KVM gives guests PEBS only on Ice Lake server and "
		    "later hosts" : "");
	} else if (c->vendor == PROBE_VENDOR_AMD) {
		snprintf(reason, sizeof(reason), "no 'ibs_op' PMU (AMD IBS)%s",
		    c->guest ? ": stock KVM does not virtualise IBS, only the "
		    "core counters" : ": IBS is absent or disabled");
	} else {
		snprintf(reason, sizeof(reason), "CPU vendor \"%s\" has "
		    "neither Intel PEBS nor AMD IBS", c->vendor_id);
	}
	snprintf(why, len, "no usable PMU: %s; use source=replay or enable "
	    "the vPMU (" PROBE_VPMU_HINT ")", reason);
}

int
probe_pick(enum sampler_source *out, char *why, size_t len)
{
	struct probe_cpu c;
	struct probe_pmu p;

	probe_cpu_read(&c);
	probe_pmu_read(&p, "/sys");
	/* max_precise -1: a kernel without caps/; PEBS may still be there */
	if (c.vendor == PROBE_VENDOR_INTEL && p.cpu_type >= 0 &&
	    p.max_precise != 0) {
		*out = SOURCE_PEBS;
		snprintf(why, len, "Intel PEBS (%s PMU %s, max_precise %d)",
		    p.cpu_dir, p.pmu_name[0] ? p.pmu_name : "?", p.max_precise);
		return 0;
	}
	if (p.ibs_op_type >= 0) {
		*out = SOURCE_IBS;
		snprintf(why, len, "AMD IBS (ibs_op type %d%s)", p.ibs_op_type,
		    p.ibs_l3missonly ? ", l3missonly" : "");
		return 0;
	}
	probe_no_pmu(&c, &p, why, len);
	return -ENODEV;
}
