/*
 * config.h - the agent's configuration (agent.ini), parsed with inih.
 *
 * config_load() parses into a fresh struct and validates it; the caller
 * swaps it in only on success, so a bad reload keeps the running config.
 * Every key, its default and its unit is documented in the shipped
 * agent.ini; config_print() writes the effective config in that format.
 */
#ifndef VTIER_AGENT_CONFIG_H
#define VTIER_AGENT_CONFIG_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_PATH_DEFAULT	"/etc/vtier/agent.ini"
#define CONFIG_MAX_PROCS	32	/* names in include/exclude lists */
#define CONFIG_COMM_LEN		16	/* TASK_COMM_LEN, with the NUL */
/* headroom = auto: sized from the creep measured (agent/headroom.h) */
#define CONFIG_HEADROOM_AUTO	UINT64_MAX

enum sampler_source {
	SOURCE_AUTO = 0,	/* pebs, then ibs, else fail with a clear message */
	SOURCE_PEBS,
	SOURCE_IBS,
	SOURCE_REPLAY,		/* trace file or FIFO: the stand-in for a PMU */
};

enum migrate_backend {
	BACKEND_MOVE_PAGES = 0,	/* real: move_pages(2) through libnuma */
	BACKEND_SIM,		/* placement kept in memory (tests, simulator) */
};

enum shim_transport {
	SHIM_NONE = 0,		/* no host shim: the budget comes from [budget] */
	SHIM_VSOCK,		/* AF_VSOCK to the host (CID 2) */
	SHIM_SERIAL,		/* a virtio-serial port, by name or device path */
	SHIM_UNIX,		/* a Unix socket (tests, hybrid-vsock hosts) */
};

enum prefault_mode {
	PREFAULT_AUTO = 0,
	PREFAULT_ALWAYS,
	PREFAULT_NEVER,
};

struct agent_config {
	/* [agent] */
	int log_level;				/* log_level = info */
	char status_socket[108];		/* status_socket = /run/vtier/agent.sock */

	/* [budget] */
	uint64_t budget;			/* dram = auto (0: all fast-node memory) */
	uint64_t headroom;			/* headroom = auto
						   (CONFIG_HEADROOM_AUTO) */

	/* [sampler] */
	enum sampler_source source;		/* source = auto */
	uint64_t sample_period;			/* period = 10007 */
	uint32_t cpu_budget;			/* cpu_budget = 1% (hundredths of a
						   percent of one CPU) */
	char event[256];			/* event = (empty: built-in table) */
	char replay[PATH_MAX];			/* replay = (file or FIFO path) */
	enum prefault_mode prefault;		/* prefault = auto */

	/* [heat] */
	uint32_t heat_capacity;			/* pages = 1048576 (tracked entries) */
	uint64_t cooling_ms;			/* cooling = 8s (0: auto, the sample clock) */
	int thp;				/* thp = yes */
	int adopt;				/* adopt = yes */

	/* [policy] */
	uint64_t interval_ms;			/* interval = 50ms */
	uint32_t hysteresis;			/* hysteresis = 1 (factors of 2) */
	uint32_t promote_min;			/* promote_min = 1 (samples) */
	uint32_t break_even;			/* break_even = 67 (accesses, 0: off) */
	uint64_t min_residence_ms;		/* min_residence = 0 */

	/* [migrate] */
	enum migrate_backend backend;		/* backend = move_pages */
	uint64_t rate_bytes;			/* rate = 256M (bytes per second) */
	uint32_t pages_per_call;		/* pages_per_call = 1024 */
	uint64_t sim_call_ms;			/* sim_call_time = 0 (sim backend) */
	int vacate;				/* vacate = yes (whole 2 MiB blocks) */
	int compact;				/* compact = yes (fast nodes) */

	/* [nodes] 0 = auto: fast = nodes with CPUs, slow = memory-only nodes */
	uint64_t fast_nodes;			/* fast = auto */
	uint64_t slow_nodes;			/* slow = auto */

	/* [shim] the host shim: budget in, stats out, pre-fault handshake */
	enum shim_transport shim;		/* transport = none */
	char shim_address[PATH_MAX];		/* address = (per transport) */
	uint64_t shim_stats_ms;			/* stats_interval = 5s */
	uint64_t shim_timeout_ms;		/* timeout = 5s */

	/* [processes] empty include list = every process */
	char include[CONFIG_MAX_PROCS][CONFIG_COMM_LEN];	/* include = */
	int ninclude;
	char exclude[CONFIG_MAX_PROCS][CONFIG_COMM_LEN];	/* exclude = */
	int nexclude;
	uint64_t min_rss;			/* min_rss = 0 */
};

/* Fill with the documented defaults. */
void config_defaults(struct agent_config *cfg);

/*
 * Parse path into *cfg (defaults first, then the file), then validate.
 * On error returns -EINVAL (or -errno if the file cannot be read) and
 * writes "FILE:LINE: what is wrong" (or "FILE: ...") into err.
 */
int config_load(const char *path, struct agent_config *cfg,
    char *err, size_t errlen);

/* Cross-field checks (headroom < budget, ...). 0 or -EINVAL with err set. */
int config_validate(const struct agent_config *cfg, char *err, size_t errlen);

/* Write the effective config as an ini file. */
void config_print(const struct agent_config *cfg, FILE *out);

const char *config_source_name(enum sampler_source s);
/* [sampler] cpu_budget as a fraction of one CPU (0.01 for 1%). */
double config_cpu_budget(const struct agent_config *cfg);
const char *config_backend_name(enum migrate_backend b);
const char *config_prefault_name(enum prefault_mode p);
const char *config_shim_name(enum shim_transport t);

#endif
