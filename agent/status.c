/*
 * status.c - what `vtierctl status` shows.  A client connects to the
 * agent's Unix status socket and receives one JSON document, then EOF.
 * The agent reads nothing from the client, so there is no request
 * parsing to get wrong.  The document's keys are a stable schema
 * (README "Status JSON"): keys are only ever added.  What the stages a
 * policy round owns hold is read from the agent's view of them (copied
 * after each round), never from the stages, which the worker may be
 * changing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "vtier/version.h"
#include "agent.h"
#include "chan.h"
#include "migrate.h"
#include "perf_ring.h"
#include "sampleq.h"

struct jbuf {
	char *p;
	size_t len, off;
	bool first;
};

static void __attribute__((format(printf, 2, 3)))
jput(struct jbuf *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (j->off >= j->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(j->p + j->off, j->len - j->off, fmt, ap);
	va_end(ap);
	j->off += n > 0 ? (size_t)n : 0;
}

static void
jkey(struct jbuf *j, const char *k)
{
	jput(j, "%s\n  \"%s\": ", j->first ? "" : ",", k);
	j->first = false;
}

static void
ju(struct jbuf *j, const char *k, uint64_t v)
{
	jkey(j, k);
	jput(j, "%llu", (unsigned long long)v);
}

/* Strings here are our own names and paths: escape the two that matter. */
static void
js(struct jbuf *j, const char *k, const char *v)
{
	jkey(j, k);
	jput(j, "\"");
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			jput(j, "\\%c", *v);
		else if ((unsigned char)*v >= 0x20)
			jput(j, "%c", *v);
	}
	jput(j, "\"");
}

/* The agent's user + system CPU time so far, in seconds. */
static double
cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static const char *
budget_source_name(enum budget_source s)
{
	switch (s) {
	case BUDGET_FROM_CONFIG: return "config";
	case BUDGET_FROM_TOPOLOGY: return "topology";
	case BUDGET_FROM_SHIM: return "shim";
	}
	return "?";
}

int
status_format(const struct agent *a, char *buf, size_t len)
{
	const struct agent_view *v = &a->view;
	const struct migrate_stats *ms = &v->ms;
	const struct sampler_stats *ss = &a->sampler.stats;
	struct jbuf j = { buf, len, 0, true };
	uint64_t now = now_ns();
	char nodes[128];

	jput(&j, "{");
	js(&j, "version", VTIER_VERSION);
	ju(&j, "pid", (uint64_t)getpid());
	ju(&j, "uptime_s", (now - a->start_ns) / 1000000000ULL);
	js(&j, "sampler", a->sampler.ops ? a->sampler.ops->name : "none");
	js(&j, "backend", config_backend_name(a->cfg.backend));
	ju(&j, "budget_bytes", a->budget);
	js(&j, "budget_source", budget_source_name(a->budget_source));
	ju(&j, "headroom_bytes", headroom_bytes(&a->headroom, &a->cfg,
	    a->budget, now));
	jkey(&j, "headroom_auto");
	jput(&j, "%s", a->cfg.headroom == CONFIG_HEADROOM_AUTO ? "true" :
	    "false");
	ju(&j, "creep_peak_bytes", headroom_peak(&a->headroom, now));
	ju(&j, "fast_used_bytes", a->fast_used);
	ju(&j, "fast_used_max_bytes", a->ctr.fast_used_max);
	ju(&j, "fast_total_bytes", topo_fast_total(&a->topo));
	format_nodelist(a->topo.fast_mask, nodes, sizeof(nodes));
	js(&j, "fast_nodes", nodes);
	format_nodelist(a->topo.slow_mask, nodes, sizeof(nodes));
	js(&j, "slow_nodes", nodes);
	ju(&j, "tracked_pages", v->tracked);
	ju(&j, "heat_capacity", v->capacity);
	ju(&j, "adopted_pages", v->adopted);
	ju(&j, "hot_set_bytes", v->hot_bytes);
	ju(&j, "hot_on_fast_bytes", v->hot_on_fast_bytes);
	ju(&j, "hot_threshold", v->threshold);
	jkey(&j, "hot_set_moving");
	jput(&j, "%s", v->moving ? "true" : "false");
	jkey(&j, "hot_set_tight");
	jput(&j, "%s", v->tight ? "true" : "false");
	jkey(&j, "hot_set_steady");
	jput(&j, "%s", v->steady ? "true" : "false");
	jkey(&j, "sampled_once_pays");
	jput(&j, "%s", v->once_pays ? "true" : "false");
	jkey(&j, "no_heat_gives_way");
	jput(&j, "%s", v->room_pays ? "true" : "false");
	ju(&j, "samples", ss->samples);
	jkey(&j, "samples_per_s");
	jput(&j, "%.1f", a->ctr.samples_per_s);
	ju(&j, "samples_ignored", a->ctr.samples_ignored);
	ju(&j, "lost_samples", ss->lost);
	ju(&j, "throttled", ss->throttled);
	ju(&j, "bad_trace_lines", ss->bad_lines);
	ju(&j, "last_bad_trace_line", ss->last_bad_line);
	ju(&j, "promoted_pages", ms->promoted_pages);
	ju(&j, "promoted_bytes", ms->promoted_bytes);
	ju(&j, "demoted_pages", ms->demoted_pages);
	ju(&j, "demoted_bytes", ms->demoted_bytes);
	ju(&j, "move_pages_calls", ms->calls);
	jkey(&j, "migration_errors");
	jput(&j, "{\"busy\": %llu, \"noent\": %llu, \"fault\": %llu, "
	    "\"nomem\": %llu, \"acces\": %llu, \"srch\": %llu, \"perm\": %llu, "
	    "\"other\": %llu}",
	    (unsigned long long)ms->err_busy, (unsigned long long)ms->err_noent,
	    (unsigned long long)ms->err_fault, (unsigned long long)ms->err_nomem,
	    (unsigned long long)ms->err_acces, (unsigned long long)ms->err_srch,
	    (unsigned long long)ms->err_perm, (unsigned long long)ms->err_other);
	ju(&j, "ticks", a->ctr.ticks);
	ju(&j, "over_budget_ticks", a->ctr.over_budget_ticks);
	ju(&j, "budget_rounds", a->ctr.budget_rounds);
	ju(&j, "early_rounds", a->ctr.early_rounds);
	ju(&j, "rounds_cancelled", a->ctr.rounds_cancelled);
	ju(&j, "rounds_cut", a->ctr.rounds_cut);
	ju(&j, "round_last_ms", a->ctr.round_last_ns / 1000000);
	ju(&j, "round_max_ms", a->ctr.round_max_ns / 1000000);
	ju(&j, "samples_queued_max", a->sq ? sampleq_high(a->sq) : 0);
	ju(&j, "sampler_pauses", a->ctr.sampler_pauses);
	ju(&j, "sampler_holds", a->ctr.sampler_holds);
	ju(&j, "sampler_waits", a->ctr.sampler_waits);
	jkey(&j, "sampler_read_space_seconds");
	jput(&j, "%.4f", (double)a->pace.space_ns / 1e9);
	jkey(&j, "cpu_budget");
	jput(&j, "%.4f", config_cpu_budget(&a->cfg));
	/* the PEBS/IBS period now, which the budget raises (0: replay) */
	ju(&j, "sample_period", sample_hw_period(&a->sampler));
	jkey(&j, "budget_unattainable");
	jput(&j, "%s", a->unattainable ? "true" : "false");
	ju(&j, "shortfall_bytes", a->shortfall);
	ju(&j, "managed_processes", v->managed);
	js(&j, "free_page_reporting", a->rep.available ? "yes" : "no");
	jkey(&j, "reporting_order");
	jput(&j, "%d", a->rep.order);
	ju(&j, "vacated_pages", v->vs.rewritten);
	ju(&j, "compactions", v->cs.runs);
	ju(&j, "compact_ms", v->cs.ns / 1000000);
	ju(&j, "unreportable_free_bytes", a->rep.available ?
	    v->cs.unreportable : 0);
	{
		struct chan_info ci;

		memset(&ci, 0, sizeof(ci));
		if (a->chan)
			chan_info(a->chan, &ci);
		js(&j, "shim_transport", config_shim_name(a->cfg.shim));
		js(&j, "shim_state", chan_state_name(ci.state));
		js(&j, "shim_vm", ci.vm);
		ju(&j, "shim_connects", ci.connects);
		ju(&j, "shim_bad_frames", ci.bad_frames);
		js(&j, "prefault", chan_prefault_name(ci.prefault));
		ju(&j, "prefault_pinned_bytes", ci.pinned_bytes);
		js(&j, "prefault_scope", pfset_scope_name(&a->pfset));
		js(&j, "prefault_reason", a->pfset.msg);
		ju(&j, "prefault_ranges", a->pfset.n);
	}
	jkey(&j, "cpu_seconds");
	jput(&j, "%.3f", cpu_seconds());
	jput(&j, "\n}\n");
	if (j.off >= len)
		return -ENOSPC;
	return (int)j.off;
}

void
status_serve(struct agent *a, int listenfd)
{
	char buf[8192];
	int fd, n;

	while ((fd = accept4(listenfd, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		/* 8 KiB fits any socket buffer: a slow client cannot block us */
		if ((n = status_format(a, buf, sizeof(buf))) > 0 &&
		    send(fd, buf, (size_t)n, MSG_NOSIGNAL) < 0)
			log_debug("status client went away: %s", strerror(errno));
		close(fd);
	}
}

void
status_log(const struct agent *a)
{
	const struct migrate_stats *ms = &a->view.ms;
	char used[32], budget[32];

	format_size(a->fast_used, used, sizeof(used));
	format_size(a->budget, budget, sizeof(budget));
	log_info("stats: fast %s / budget %s, tracked %zu, samples %llu "
	    "(%.0f/s), promoted %llu, demoted %llu pages, errors busy %llu "
	    "noent %llu nomem %llu%s", used, budget, a->view.tracked,
	    (unsigned long long)a->sampler.stats.samples, a->ctr.samples_per_s,
	    (unsigned long long)ms->promoted_pages,
	    (unsigned long long)ms->demoted_pages,
	    (unsigned long long)ms->err_busy, (unsigned long long)ms->err_noent,
	    (unsigned long long)ms->err_nomem,
	    a->unattainable ? ", BUDGET UNATTAINABLE" : "");
}
