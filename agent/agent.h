/*
 * agent.h - the agent's one context struct.  It owns every stage; the
 * stages never call each other, main.c wires them (DESIGN.md "Data flow").
 */
#ifndef VTIER_AGENT_AGENT_H
#define VTIER_AGENT_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "compact.h"
#include "config.h"
#include "headroom.h"
#include "heat.h"
#include "migrate.h"
#include "pace.h"
#include "pfset.h"
#include "policy.h"
#include "reporting.h"
#include "round.h"
#include "sample.h"
#include "topo.h"
#include "vacate.h"

struct heat;
struct loop;
struct migrator;
struct procs;
struct chan;
struct thp;
struct adopter;
struct worker;
struct sampleq;

enum budget_source {
	BUDGET_FROM_CONFIG = 0,	/* [budget] dram = SIZE */
	BUDGET_FROM_TOPOLOGY,	/* dram = auto: all fast-node memory */
	BUDGET_FROM_SHIM,	/* set by the host shim */
};

struct agent_counters {
	uint64_t ticks;			/* policy rounds */
	uint64_t early_rounds;		/* of which samples started (a page, a shock) */
	uint64_t samples_ignored;	/* pid not managed */
	uint64_t over_budget_ticks;	/* ticks that started over budget */
	uint64_t budget_rounds;		/* started by the budget watch */
	uint64_t fast_used_max;		/* highest fast usage seen after a round */
	uint64_t rounds_cancelled;	/* ended early: a stop or a new budget */
	uint64_t rounds_cut;		/* migration cut at ROUND_MIGRATE_NS */
	uint64_t round_last_ns;		/* how long the last round took */
	uint64_t round_max_ns;		/* ... and the longest */
	uint64_t sampler_pauses;	/* sampler left unread: the queue was full */
	uint64_t sampler_holds;		/* sampler fds read at a tick, held
					   there: no early round could come */
	uint64_t sampler_waits;		/* sampler fds left unread for the
					   CPU budget's spacing (pace.h) */
	double samples_per_s;		/* over the last second or so */
};

/*
 * What status and STATS show of the stages a round owns while it runs:
 * copied whenever the loop's thread has them (at start, after each
 * round), so they are never read while the worker writes them.
 */
struct agent_view {
	struct migrate_stats ms;
	size_t tracked, capacity, nslots;
	uint64_t adopted;
	uint64_t hot_bytes, hot_on_fast_bytes;
	uint32_t threshold;
	bool moving;		/* the policy's regime (policy.c) */
	bool tight;		/* plan.tight of the last plan */
	bool steady;		/* plan.steady of the last plan */
	bool once_pays;		/* plan.once_pays of the last plan */
	bool room_pays;		/* plan.room_pays of the last plan */
	bool quick;		/* policy_pace_quick of the last plan */
	uint32_t promote_bar;	/* the last plan's (heat_set_watch) */
	size_t managed;
	struct vacate_stats vs;
	struct compact_stats cs;
};

/* A sampler fd's watch in the loop. */
enum sample_watch_state {
	SW_WATCHED = 0,
	SW_PAUSED,		/* left unread until the round ends */
	SW_HELD,		/* read at the timer's ticks: no early round
				   can come (policy_early_possible) */
	SW_SPACED,		/* watched again at the alarm: reads spaced
				   for the CPU budget (pace_hold) */
	SW_DONE,		/* end of trace or a read error: not again */
};

struct agent {
	const char *config_path;
	bool debug;			/* -d: debug logging whatever the ini says */
	struct agent_config cfg;
	struct topo topo;
	struct heat *heat;
	struct plan plan;
	struct migrator *mig;
	struct sampler sampler;
	struct procs *procs;		/* real backend only */
	struct thp *thp;		/* THP detection, real backend only */
	struct adopter *adopt;		/* untracked fast pages, real backend only */
	struct vacate *vacate;		/* demotions by block, real backend only */
	struct compactor *compact;	/* fast nodes' compaction, likewise */
	struct loop *loop;
	struct chan *chan;		/* NULL: [shim] transport = none */
	int chan_watch;			/* loop watcher of the channel's fd */
	int chan_wfd;
	unsigned chan_wev;
	uint64_t chan_wgen;
	bool prefault_wanted;		/* ask the shim before enabling PEBS */
	uint64_t prefault_connects;	/* the WELCOME it last asked after */
	struct pfset pfset;		/* what it asked to be pinned */

	int sigfd;
	int statusfd;
	int tick_timer;			/* loop watcher ids */
	int alarm;			/* spaced sampler reads' alarm */
	uint64_t alarm_ns;		/* when it rings, 0: not armed */
	struct pace pace;		/* the spacing of sampler reads */
	struct pace_charge charge;	/* the CPU the budget answers for */
	struct heat_sample batch[4096];	/* SAMPLE_BATCH samples for the heat table */
	size_t nbatch;
	int sample_watch[1024];		/* one per CPU ring at most */
	uint8_t sample_state[1024];	/* enum sample_watch_state */
	int nsample_watch;

	/*
	 * The policy round runs on the worker thread (round.h): from
	 * start_round to its reap the heat table, plan, migrator, adopter,
	 * process table and THP detection are the round's, and samples read
	 * meanwhile wait in sq.
	 */
	struct worker *worker;		/* NULL: rounds run inline */
	int worker_watch;
	struct round round;
	struct sampleq *sq;
	bool round_pending;		/* due (or a new budget) while one ran */
	bool reload_pending;		/* a reload's stage settings wait */
	struct agent_view view;

	struct reporting rep;		/* free page reporting, as last probed */
	bool rep_noted;			/* rep has been logged once */
	bool rep_warned;		/* "nothing returns freed memory" said */

	uint64_t budget;		/* effective budget in bytes */
	enum budget_source budget_source;
	uint64_t fast_used;		/* at the last tick */
	struct headroom headroom;	/* the creep, for headroom = auto */
	uint16_t tick;			/* policy tick, mod 2^16, never 0 */
	bool unattainable;
	uint64_t unattainable_since;	/* first plan of the current run of
					   unattainable ones, 0: none */
	uint64_t shortfall;
	uint64_t start_ns;
	uint64_t rate_ns, rate_samples;	/* samples/s window */
	uint64_t round_ns;		/* when the last policy round ran (0: none) */
	uint64_t round_cost_ns;		/* its worker's time (migration
					   included; round.h work_ns) */
	struct agent_counters ctr;

	bool sampler_sleeps;		/* its fds are waited on (not a plain
					   trace file): held between ticks */
	/* --exit-on-eof: end once a replayed file is done and plans are empty */
	bool exit_on_eof;
	unsigned idle_after_eof;
	unsigned ticks_after_eof;
	const char *dump_heat;		/* --dump-heat FILE: the table at exit */
	int exit_code;
};

/* status.c: the status socket and its JSON document. */
/* Format the status JSON into buf; returns its length or -ENOSPC. */
int status_format(const struct agent *a, char *buf, size_t len);
/* Accept one client on the listening socket, send the JSON, close. */
void status_serve(struct agent *a, int listenfd);
void status_log(const struct agent *a);

#endif
