/*
 * probe.h - what this machine can sample memory accesses with: the CPU
 * (CPUID), whether it is a guest, the perf PMUs the kernel offers in
 * sysfs, and the default event table per PMU model.  It backs
 * `vtier-agent --probe [--dry-run]` (probe_report.c), source = auto and
 * the pebs/ibs samplers' choice of events.  It never calls a sampler.
 *
 * Event names go through libpfm4 (pfm_get_os_event_encoding with
 * PFM_OS_PERF_EVENT_EXT), always qualified with the PMU ("skx::..."), so
 * the encoding comes from the model asked for even when libpfm has
 * more than one PMU marked present.  LIBPFM_FORCE_PMU=skx|clx|icx|spr|
 * amd64_fam19h_zen4|... makes libpfm (at pfm_initialize) and this module
 * use that model on any machine; --probe then prints its table.
 */
#ifndef VTIER_AGENT_PROBE_H
#define VTIER_AGENT_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "perf_ring.h"

#define PROBE_EXIT_NO_PMU	3	/* --probe: no hardware sampler */
#define PROBE_SYSFS_PMUS	"/bus/event_source/devices"
#define PROBE_VPMU_HINT	"QEMU -cpu host,pmu=on / libvirt <pmu state='on'/>"

enum probe_vendor {
	PROBE_VENDOR_OTHER = 0,
	PROBE_VENDOR_INTEL,
	PROBE_VENDOR_AMD,
};

/* CPUID facts. */
struct probe_cpu {
	enum probe_vendor vendor;
	char vendor_id[13];		/* "GenuineIntel", "AuthenticAMD" */
	unsigned family, model, stepping;	/* display values */
	bool guest;			/* CPUID.1:ECX[31] hypervisor */
	char hv_vendor[13];		/* CPUID 0x40000000, "" on bare metal */
	bool ds, dtes64, pdcm;		/* CPUID.1: EDX[21], ECX[2], ECX[15] */
	unsigned perfmon_version;	/* CPUID.0xA:EAX[7:0], 0: no arch perfmon */
	unsigned perfmon_counters;	/* CPUID.0xA:EAX[15:8] */
	bool ibs;			/* CPUID 0x80000001:ECX[10] */
	uint32_t ibs_caps;		/* CPUID 0x8000001B:EAX, 0 if absent */
};

/* IBS capability bits of CPUID 0x8000001B:EAX (arch/x86/include/asm/perf_event.h). */
#define PROBE_IBS_CAPS_OPCNT	(1u << 4)	/* cnt_ctl: count ops, not cycles */
#define PROBE_IBS_CAPS_OPCNTEXT	(1u << 6)	/* 7 more MaxCnt bits */
#define PROBE_IBS_CAPS_ZEN4	(1u << 11)	/* l3missonly, finer data_src */

/* IbsOpCtl bits as the ibs_op PMU's format files name them. */
#define PROBE_IBS_L3MISSONLY	(1ULL << 16)	/* format/l3missonly: config:16 */
#define PROBE_IBS_CNT_CTL	(1ULL << 19)	/* format/cnt_ctl: config:19 */
#define PROBE_IBS_SWFILT	(1ULL << 0)	/* format/swfilt: config2:0 */
#define PROBE_IBS_MAX_PERIOD	0xFFFF0ULL	/* IbsOpMaxCnt << 4 */
#define PROBE_IBS_MAX_PERIOD_EXT 0x7FFFFF0ULL	/* with OPCNTEXT */

/* The mem-loads-aux event SPR/ADL P-core load latency needs as leader. */
#define PROBE_MEM_LOADS_AUX	0x8203ULL

/* What the kernel exposes under /sys/bus/event_source/devices. */
struct probe_pmu {
	char cpu_dir[16];		/* "cpu", "cpu_core" (hybrid) or "" */
	int cpu_type;			/* its perf type, -1 if absent */
	char pmu_name[32];		/* caps/pmu_name, "" if absent */
	int max_precise;		/* caps/max_precise, -1 if absent */
	bool mem_loads_aux;		/* events/mem-loads-aux exists */
	int ibs_op_type;		/* ibs_op/type, -1 if absent */
	bool ibs_l3missonly;		/* ibs_op/format/l3missonly */
	bool ibs_cnt_ctl;		/* ibs_op/format/cnt_ctl */
	bool ibs_swfilt;		/* ibs_op/format/swfilt */
};

/* The events a hardware sampler opens on each CPU. */
struct probe_table {
	enum sampler_source source;	/* SOURCE_PEBS or SOURCE_IBS */
	char pmu[32];			/* libpfm PMU, "ibs_op" or "raw" */
	bool guest;			/* chosen for a guest */
	bool custom;			/* from [sampler] event = */
	bool ldlat;			/* uses load latency (bare-metal choice) */
	int n;
	struct perf_ring_event ev[PERF_RING_MAX_EVENTS];
	char note[200];			/* why these events */
};

/* Read CPUID (x86 only; -ENOTSUP elsewhere). */
int probe_cpu_read(struct probe_cpu *c);
/* Read the PMUs below root (normally "/sys"); absent ones stay -1/"". */
void probe_pmu_read(struct probe_pmu *p, const char *root);

/* Ice Lake server and later write PEBS records EPT-friendly (SDM 20.9.5). */
bool probe_ept_friendly_pebs(const struct probe_cpu *c);
/* This CPU is Intel and lacks EPT-friendly PEBS: pre-fault the buffers. */
bool probe_prefault_needed(void);
/* "Zen 4", "Ice Lake server", ... or "" when unknown. */
const char *probe_cpu_name(const struct probe_cpu *c);
/* AMD Zen 4 or later (l3missonly): IBS caps, else family/model. */
bool probe_amd_zen4(const struct probe_cpu *c);
/* A libpfm AMD core PMU ("amd64_...") or "ibs_op". */
bool probe_amd_pmu(const char *pmu);

/*
 * libpfm: pfm_initialize once (it reads LIBPFM_FORCE_PMU then).  0 or
 * -EIO.  probe_libpfm_reset() calls pfm_terminate so that the next init
 * reads the environment again (tests switch models with it).
 */
int probe_libpfm_init(void);
void probe_libpfm_reset(void);
/*
 * The libpfm core PMU to take events from: LIBPFM_FORCE_PMU if set,
 * else the first present model-specific core PMU (not the generic
 * ix86arch).  0, or -ENOENT with name "".  *forced says which.
 */
int probe_libpfm_core(char *name, size_t len, bool *forced);

/*
 * The default table for a PMU model (see probe.c for the table and
 * why), or the operator's event string custom (comma-separated libpfm
 * strings; for IBS "ibs_op" or "ibs_op:0xCONFIG").  pmu is a libpfm PMU
 * name ("skx", "amd64_fam19h_zen4"), "ibs_op" or "" (Intel raw
 * fallback).  guest picks the guest variant.  0 or -errno with err.
 */
int probe_table_build(struct probe_table *t, const char *pmu,
    const struct probe_cpu *c, const struct probe_pmu *p, bool guest,
    const char *custom, char *err, size_t errlen);

/* One line per event: name, type, config, config1, config2, precise. */
void probe_table_print(FILE *out, const struct probe_table *t,
    const char *prefix);

/*
 * No usable PMU: "no usable PMU: <reason>; use source=replay or enable
 * the vPMU (<hint>)" into why.  The reason is the first thing missing.
 */
void probe_no_pmu(const struct probe_cpu *c, const struct probe_pmu *p,
    char *why, size_t len);

/*
 * source = auto: pebs if Intel PEBS is there, else ibs if an ibs_op PMU
 * is there; 0 with *out set and a short description in why, or -ENODEV
 * with the no-usable-PMU message in why.
 */
int probe_pick(enum sampler_source *out, char *why, size_t len);

#endif
