/*
 * sample_pebs.c - the "pebs" sampler: Intel PEBS memory-access samples
 * through perf_event_open, one set of events per CPU (pid = -1), and
 * the glue both hardware samplers (pebs, ibs) share: enabling after the
 * pre-fault handshake, adaptive periods, counters.
 *
 * The events come from probe.c's table for this CPU model (or the
 * operator's [sampler] event =); the set and ring reading from
 * perf_ring.c.  Samples are user-mode only, carry the data address, the
 * pid, the time on CLOCK_MONOTONIC, the load latency where the event
 * gives one and the data source's memory level.
 *
 * Order at start: open every event disabled (this already makes the
 * kernel allocate the per-CPU PEBS buffers in DS, on the CPU's node),
 * then enable them at once unless the buffers must be pre-faulted by the
 * host first (CPUs before Ice Lake server, DESIGN.md): then they stay
 * disabled until main calls sample_hw_enable() on PREFAULT_DONE.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "config.h"
#include "perf_ring.h"
#include "probe.h"
#include "sample.h"

#define HW_DATA_PAGES	32	/* 128 KiB of records per CPU ring */
/*
 * Wake the loop every 64 samples per event.  Fewer reacts sooner (in
 * vtier-sim 16 lifts sqlite3's hit from 0.967 to 0.977 and changes no
 * other trace) but costs the reader about 3x the CPU per sample
 * (bench_wakeup), which the CPU budget pays for with a longer period.
 */
#define HW_WAKEUP	64

/* What a hardware sampler keeps in s->priv. */
struct hw {
	struct perf_ring_set *set;
	struct probe_table table;
};

bool
sample_hw_is(const struct sampler *s)
{
	return s != NULL && s->priv != NULL && (s->ops == &sample_pebs_ops ||
	    s->ops == &sample_ibs_ops);
}

bool
sample_hw_waiting(const struct sampler *s)
{
	const struct hw *hw;

	if (!sample_hw_is(s))
		return false;
	hw = s->priv;
	return !perf_ring_set_enabled(hw->set);
}

int
sample_hw_enable(struct sampler *s)
{
	struct hw *hw;
	int rc;

	if (!sample_hw_is(s))
		return -EINVAL;
	hw = s->priv;
	if (perf_ring_set_enabled(hw->set))
		return 0;
	if ((rc = perf_ring_set_enable(hw->set, true)) < 0) {
		log_warnx("sampler %s: enable: %s", s->ops->name,
		    strerror(-rc));
		return rc;
	}
	log_info("sampler %s: sampling enabled", s->ops->name);
	return 0;
}

int
sample_hw_adapt(struct sampler *s, double cpu_frac, double budget)
{
	static struct ratelimit rl;
	struct hw *hw;
	uint64_t cur, next, min, max;
	int rc;

	if (!sample_hw_is(s))
		return -EINVAL;
	hw = s->priv;
	cur = perf_ring_set_get_period(hw->set);
	perf_ring_set_bounds(hw->set, &min, &max);
	next = perf_ring_period_next(cur, cpu_frac, budget, min, max,
	    s->ops == &sample_ibs_ops ? 16 : 1);
	if (next == cur)
		return 0;
	if ((rc = perf_ring_set_period(hw->set, next)) < 0) {
		log_warnx("sampler %s: period %llu: %s", s->ops->name,
		    (unsigned long long)next, strerror(-rc));
		return rc;
	}
	if (ratelimit_ok(&rl, 10))
		log_info("sampler %s: period %llu -> %llu (agent CPU %.2f%%, "
		    "budget %.2f%%)", s->ops->name, (unsigned long long)cur,
		    (unsigned long long)next, cpu_frac * 100, budget * 100);
	return 1;
}

uint64_t
sample_hw_period(const struct sampler *s)
{
	if (!sample_hw_is(s))
		return 0;
	return perf_ring_set_get_period(((const struct hw *)s->priv)->set);
}

int
sample_hw_counters(const struct sampler *s, struct perf_ring_stats *out)
{
	if (!sample_hw_is(s))
		return -EINVAL;
	perf_ring_set_stats(((const struct hw *)s->priv)->set, out);
	return 0;
}

/* Take over an open set as the sampler's state. */
static int
hw_attach(struct sampler *s, struct perf_ring_set *set,
    const struct probe_table *t, bool enable_now)
{
	struct hw *hw;
	int rc;

	if ((hw = calloc(1, sizeof(*hw))) == NULL) {
		perf_ring_set_close(set);
		return -ENOMEM;
	}
	hw->set = set;
	hw->table = *t;
	s->priv = hw;
	s->eof = false;
	if (enable_now && (rc = sample_hw_enable(s)) < 0) {
		perf_ring_set_close(set);
		free(hw);
		s->priv = NULL;
		return rc;
	}
	return 0;
}

static void
hw_log_open(const struct sampler *s, const struct probe_table *t,
    const struct perf_ring_set *set)
{
	for (int i = 0; i < t->n; i++) {
		const struct perf_event_attr *a = perf_ring_set_attr(set, i);

		log_info("sampler %s: %s%s: type %u config %#llx config1 %#llx "
		    "precise_ip %u sample_type %#llx", s->ops->name,
		    t->ev[i].name, t->ev[i].leader ? " (group leader)" : "",
		    a->type, (unsigned long long)a->config,
		    (unsigned long long)a->config1, a->precise_ip,
		    (unsigned long long)a->sample_type);
	}
	log_info("sampler %s: %s; %d CPUs, %d rings, period %llu", s->ops->name,
	    t->note, perf_ring_set_ncpus(set), perf_ring_set_nrings(set),
	    (unsigned long long)perf_ring_set_get_period(set));
}

int
sample_hw_open_plan(struct sampler *s, struct probe_table *t,
    struct perf_ring_params *pp, bool enable_now)
{
	struct perf_ring_set *set;
	char err[512];
	int rc;

	if ((rc = perf_ring_set_open(&set, t->ev, t->n, pp, err,
	    sizeof(err))) < 0) {
		log_err("sampler %s: %s", s->ops->name, err);
		return rc;
	}
	if ((rc = hw_attach(s, set, t, enable_now)) < 0)
		return rc;
	hw_log_open(s, t, set);
	return 0;
}

int
sample_hw_nfds(const struct sampler *s)
{
	const struct hw *hw = s->priv;

	return hw != NULL ? perf_ring_set_nrings(hw->set) : 0;
}

int
sample_hw_fd(const struct sampler *s, int i)
{
	const struct hw *hw = s->priv;

	return hw != NULL ? perf_ring_set_fd(hw->set, i) : -1;
}

int
sample_hw_read(struct sampler *s, int i, sample_fn fn, void *arg,
    unsigned max)
{
	struct hw *hw = s->priv;
	const struct perf_ring_stats *rs;
	struct perf_ring_stats before;
	int rc;

	if (hw == NULL || (rs = perf_ring_set_ring_stats(hw->set, i)) == NULL)
		return -EINVAL;
	before = *rs;
	rc = perf_ring_set_read(hw->set, i, fn, arg, max);
	s->stats.samples += rs->samples - before.samples;
	s->stats.lost += (rs->lost - before.lost) +
	    (rs->lost_samples - before.lost_samples);
	s->stats.throttled += rs->throttle - before.throttle;
	if (rs->malformed != before.malformed) {
		static struct ratelimit rl;

		if (ratelimit_ok(&rl, 10))
			log_warnx("sampler %s: %llu malformed perf records "
			    "dropped so far", s->ops->name,
			    (unsigned long long)rs->malformed);
	}
	return rc;
}

void
sample_hw_close(struct sampler *s)
{
	struct hw *hw = s->priv;

	if (hw == NULL)
		return;
	perf_ring_set_close(hw->set);
	free(hw);
	s->priv = NULL;
}

/*
 * The attr choices for PEBS:
 *
 * - sample_type TID|TIME|ADDR|CPU|WEIGHT_STRUCT|DATA_SRC|PHYS_ADDR (the
 *   set adds IDENTIFIER; PHYS_ADDR and WEIGHT_STRUCT are dropped if the
 *   kernel refuses them).
 * - precise_ip 2, lowered to caps/max_precise and further on EINVAL or
 *   EOPNOTSUPP.  Not 3 even where max_precise is 3: precise 3 asks for
 *   precise distribution, which ties an event to the one PDIR/PDIST
 *   counter, and our loads and stores events would then multiplex.  Any
 *   precise_ip >= 1 gives the PEBS data address.
 * - exclude_kernel: only user pages are tiered.
 * - exclude_guest.  libpfm sets it by default.  On bare metal we keep
 *   it: with KVM guests running, PEBS would otherwise also count while a
 *   vCPU thread runs guest code and charge guest-virtual addresses to
 *   the VMM process, whose heat they would corrupt.  In a guest we clear
 *   it: there "guest" means a nested guest of this guest, which is
 *   nothing of ours either way, while exclude_guest asks the guest
 *   kernel for host-only counting through the VM-entry/exit MSR lists
 *   (and on AMD the HostOnly bit, which counts nothing unless the
 *   guest itself has SVM enabled), machinery a vPMU need not emulate
 *   faithfully.  Clearing it keeps the event plain.
 */
int
sample_pebs_plan(struct probe_table *t, struct perf_ring_params *pp,
    const struct probe_cpu *c, const struct probe_pmu *p, const char *pmu,
    const char *custom, uint64_t period, char *err, size_t errlen)
{
	char core[32] = "";
	bool forced;
	int rc;

	if (pmu == NULL) {
		if (probe_libpfm_core(core, sizeof(core), &forced) < 0)
			core[0] = '\0';
		pmu = core;
	}
	if ((rc = probe_table_build(t, pmu, c, p, c->guest, custom, err,
	    errlen)) < 0)
		return rc;
	if (t->source != SOURCE_PEBS) {
		snprintf(err, errlen, "PMU %s is not an Intel PEBS PMU", pmu);
		return -EINVAL;
	}
	memset(pp, 0, sizeof(*pp));
	pp->pid = -1;
	if (strcmp(p->cpu_dir, "cpu_core") == 0)	/* hybrid: P-cores */
		pp->cpus_file = "/sys/bus/event_source/devices/cpu_core/cpus";
	pp->sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
	    PERF_SAMPLE_ADDR | PERF_SAMPLE_CPU | PERF_SAMPLE_WEIGHT_STRUCT |
	    PERF_SAMPLE_DATA_SRC | PERF_SAMPLE_PHYS_ADDR;
	pp->period = period ? period : 1;
	pp->period_min = pp->period;
	pp->period_max = hw_period_max(pp->period);
	pp->period_align = 1;
	pp->max_precise = p->max_precise;
	pp->exclude_kernel = true;
	pp->exclude_guest = !c->guest;
	pp->user_only = true;
	pp->data_pages = HW_DATA_PAGES;
	pp->wakeup_events = HW_WAKEUP;
	return 0;
}

static int
pebs_open(struct sampler *s, const struct agent_config *cfg)
{
	struct probe_cpu c;
	struct probe_pmu p;
	struct probe_table t;
	struct perf_ring_params pp;
	struct perf_ring_set *set;
	char err[640];
	bool wait;
	int rc;

	probe_cpu_read(&c);
	probe_pmu_read(&p, "/sys");
	if (c.vendor == PROBE_VENDOR_AMD && p.ibs_op_type >= 0) {
		log_err("sampler pebs: this is an AMD CPU: use source = ibs "
		    "(or auto)");
		return -ENODEV;
	}
	if (c.vendor != PROBE_VENDOR_INTEL || p.cpu_type < 0 ||
	    p.max_precise == 0) {
		probe_no_pmu(&c, &p, err, sizeof(err));
		log_err("sampler pebs: %s", err);
		return -ENODEV;
	}
	if ((rc = sample_pebs_plan(&t, &pp, &c, &p, NULL, cfg->event,
	    cfg->sample_period, err, sizeof(err))) < 0) {
		log_err("sampler pebs: %s", err);
		return rc;
	}
	rc = perf_ring_set_open(&set, t.ev, t.n, &pp, err, sizeof(err));
	if (rc < 0 && t.ldlat && !t.custom) {
		/*
		 * Probe, don't assume: load latency can be refused (no aux
		 * leader support, a hypervisor without the threshold MSR).
		 * Retired L3-miss loads need neither.
		 */
		log_warnx("sampler pebs: %s: using retired L3-miss loads "
		    "instead", err);
		if ((rc = probe_table_build(&t, t.pmu, &c, &p, true, NULL, err,
		    sizeof(err))) == 0)
			rc = perf_ring_set_open(&set, t.ev, t.n, &pp, err,
			    sizeof(err));
	}
	if (rc < 0) {
		log_err("sampler pebs: %s", err);
		return rc;
	}
	/* PEBS buffers exist now (events are open); enable after pre-fault */
	wait = cfg->prefault == PREFAULT_ALWAYS ||
	    (cfg->prefault == PREFAULT_AUTO && c.guest &&
	    !probe_ept_friendly_pebs(&c));
	if (wait && cfg->shim == SHIM_NONE) {
		log_warnx("sampler pebs: the PEBS buffers should be pre-faulted "
		    "by the host (%s) but no shim is configured: enabling "
		    "without", cfg->prefault == PREFAULT_ALWAYS ?
		    "prefault = always" : "CPU without EPT-friendly PEBS");
		wait = false;
	}
	if ((rc = hw_attach(s, set, &t, !wait)) < 0)
		return rc;
	hw_log_open(s, &t, set);
	if (wait)
		log_info("sampler pebs: events open, waiting for the host "
		    "shim's PREFAULT_DONE before enabling");
	return 0;
}

const struct sampler_ops sample_pebs_ops = {
	.name = "pebs",
	.open = pebs_open,
	.nfds = sample_hw_nfds,
	.fd = sample_hw_fd,
	.read = sample_hw_read,
	.close = sample_hw_close,
};

