/*
 * main.c - vtier-agent: start-up, wiring and teardown.
 *
 * The stages (sampler -> heat -> policy -> migrator) never call each
 * other: the loop calls back here and this file passes data along.
 * The loop's thread reads samples; each policy round (round.c) runs on
 * the worker thread with the stages it needs handed over, and samples
 * read meanwhile wait in a queue (sampleq.c) until the round is back.
 * Start-up order: config, topology, heat table, migrator, sampler,
 * process filter, status socket, signals, loop, worker.  Teardown is the
 * reverse.
 * systemd (Type=notify) hears READY=1 once all of that is up, RELOADING=1
 * and READY=1 around a SIGHUP reload, and STOPPING=1 when the loop ends.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/sdnotify.h"
#include "vtier/unixsock.h"
#include "vtier/util.h"
#include "vtier/version.h"
#include "adopt.h"
#include "agent.h"
#include "chan.h"
#include "compact.h"
#include "heat.h"
#include "loop.h"
#include "migrate.h"
#include "perf_ring.h"
#include "probe.h"
#include "probe_report.h"
#include "proc.h"
#include "sampleq.h"
#include "thp.h"
#include "vacate.h"
#include "worker.h"

#define EXIT_CONFIG	2
#define SAMPLE_BATCH	4096	/* samples per sampler callback */
/* samples read while a round runs: 2 MiB, seconds of a busy sampler */
#define QUEUE_MAX	(32 * SAMPLE_BATCH)
#define EOF_IDLE_TICKS	3	/* --exit-on-eof: empty plans before exiting */
#define EOF_MAX_TICKS	2000	/* ... and a bound, whatever happens */
/*
 * How long plans must say "unattainable" before the agent does.  Free
 * page reporting takes up to 32 free blocks (64 MiB at order 9) off the
 * free lists while the host discards them, and compaction takes free
 * pages too, and the node's used memory counts them meanwhile: a bigcold
 * run in the test bed (Linux 6.12 guest) read 154 MiB on node 0 for a
 * moment with nothing of a managed process left there, 64-93 MiB around it.
 */
#define UNATTAINABLE_HOLD_NS	(5 * 1000000000ULL)

static uint64_t batch_now;	/* clock for the samples of one read batch */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: vtier-agent [-n] [-d] [-c FILE] [--sysfs DIR] [--probe [--dry-run]]\n"
	    "                   [--exit-on-eof] [--dump-heat FILE]\n"
	    "       vtier-agent -V | --version | -h | --help\n"
	    "  -c FILE         configuration (default " CONFIG_PATH_DEFAULT ")\n"
	    "  -n              check the configuration, print it, exit\n"
	    "  -d              debug logging (kept across SIGHUP reloads)\n"
	    "  -V, --version   print the version\n"
	    "  -h, --help      print this help\n"
	    "  --probe         report the CPU, its PMU and the sampler vtier\n"
	    "                  would use; exit 0 if usable, 3 if not\n"
	    "  --dry-run       with --probe: print the event table, open nothing\n"
	    "  --sysfs DIR     read NUMA topology below DIR instead of /sys\n"
	    "  --exit-on-eof   with a replayed trace file: exit once it is read\n"
	    "                  and plans are empty; print the status JSON\n"
	    "  --dump-heat FILE at exit, write the heat table to FILE, one\n"
	    "                  tracked page per line: pid addr node heat size\n");
}

static void
update_budget(struct agent *a)
{
	if (a->budget_source == BUDGET_FROM_SHIM)
		return;
	if (a->cfg.budget != 0) {
		a->budget = a->cfg.budget;
		a->budget_source = BUDGET_FROM_CONFIG;
	} else {
		a->budget = topo_fast_total(&a->topo);
		a->budget_source = BUDGET_FROM_TOPOLOGY;
	}
}

static void
flush_batch(struct agent *a)
{
	heat_record_batch(a->heat, a->batch, a->nbatch, batch_now);
	a->nbatch = 0;
}

/* Whether a round has the stages (heat table, process table...) now. */
static bool
round_busy(const struct agent *a)
{
	return a->worker != NULL && worker_busy(a->worker);
}

/* One sample into the heat table: the loop's thread, the table its own. */
static void
record_sample(struct agent *a, uint32_t pid, uint64_t addr)
{
	uint64_t inserts;
	struct heat_entry *e;

	if (a->procs != NULL && !proc_managed(a->procs, pid)) {
		a->ctr.samples_ignored++;
		return;
	}
	if (a->thp == NULL) {
		/* batched: heat_record_batch prefetches slots ahead */
		struct heat_sample *hs = &a->batch[a->nbatch++];

		hs->pid = pid;
		hs->thp = false;
		hs->addr = addr;
		if (a->nbatch == SAMPLE_BATCH)
			flush_batch(a);
		return;
	}
	/* a page already known to be in a THP counts for its 2 MiB entry */
	if (heat_lookup(a->heat, heat_key(pid, addr, true)) != NULL) {
		heat_record(a->heat, pid, addr, true, batch_now);
		return;
	}
	inserts = heat_stats(a->heat)->inserts;
	e = heat_record(a->heat, pid, addr, false, batch_now);
	if (e != NULL && heat_stats(a->heat)->inserts != inserts &&
	    thp_check(a->thp, pid, addr) == 1) {
		heat_drop(a->heat, e->key);
		heat_record(a->heat, pid, addr, true, batch_now);
	}
}

/*
 * The sampler's callback.  While a round has the heat table the sample
 * waits in the queue; read_samples made sure a whole batch fits.
 */
static void
on_sample(void *arg, const struct sample *s)
{
	struct agent *a = arg;

	if (round_busy(a)) {
		if (sampleq_push(a->sq, s->pid, s->addr, batch_now) < 0)
			a->ctr.samples_ignored++;	/* out of memory */
		return;
	}
	record_sample(a, s->pid, s->addr);
}

/* A queued sample, once the round is back, at the time it was read. */
static void
on_queued_sample(void *arg, uint32_t pid, uint64_t addr, uint64_t t)
{
	struct agent *a = arg;

	if (t != batch_now) {
		flush_batch(a);
		batch_now = t;
	}
	record_sample(a, pid, addr);
}

static void
on_exit_pid(void *arg, uint32_t pid)
{
	struct agent *a = arg;

	heat_drop_pid(a->heat, pid);
	thp_forget(a->thp, pid);
}

static void start_round(struct agent *a, uint64_t now);

/*
 * A batch of samples from the sampler's fd i into the heat table, or
 * into the queue while a round runs.  -ENOBUFS, reading nothing, when
 * the queue cannot take a whole batch.
 */
static int
read_samples(struct agent *a, int i)
{
	int rc;

	if (round_busy(a) && sampleq_room(a->sq) < SAMPLE_BATCH)
		return -ENOBUFS;
	batch_now = now_ns();
	rc = a->sampler.ops->read(&a->sampler, i, on_sample, a, SAMPLE_BATCH);
	if (!round_busy(a))
		flush_batch(a);
	return rc;
}

/*
 * A shock (policy_shock_now): the samples since the last round stopped
 * finding their pages on the fast nodes, so the whole hot set moved.
 * Plan at once, not at the rounds' spacing, which over a large table in
 * the settled regime is hundreds of ms (policy_round_due; vtier-sim on
 * make eval's tinyhot: the first round after a move came 150-300 ms
 * late).  One round per shock: that round takes the hot set as moving,
 * and policy_shock_now says no while it does.
 */
static bool
shock_round(struct agent *a)
{
	if (round_busy(a) || !policy_shock_now(&a->plan, a->heat))
		return false;
	a->ctr.early_rounds++;
	log_debug("round: the samples left the fast nodes: planning now");
	start_round(a, now_ns());
	return true;
}

/*
 * The budget watch.  Only a round reads the fast nodes' usage, and rounds
 * are spaced by the heat table's size: 5 us a slot while the hot set
 * stays put, about 5 s on a table of a million pages.  Memory the agent
 * does not move (a process's new pages, which the kernel puts on the
 * node of its CPU, the page cache) can take the fast nodes over the
 * budget in between, and the host's memory behind them with it, for as
 * long.  So every BUDGET_WATCH_TICKS ticks (200 ms at the default
 * interval) with no round running the loop reads the usage as a round
 * does (round_fast_used: a meminfo read per node, about 10 us) and, over
 * the mark where a round demotes by force (the budget less half the
 * headroom, policy_demote_mark), plans at once.  The round it starts
 * also wakes adoption (round.c), which finds the pages that came.  Not
 * while the last plan was over budget already: its rounds come at the
 * quick pace (policy_pace_quick), and a budget that cannot be met must
 * not start a round at every tick.  Counted in budget_rounds.
 */
#define BUDGET_WATCH_TICKS	4

static bool
budget_round(struct agent *a, uint64_t now)
{
	uint64_t used;

	if (round_busy(a) || a->plan.over_budget ||
	    a->tick % BUDGET_WATCH_TICKS != 0 ||
	    round_fast_used(a->mig, &a->topo, &used) < 0 ||
	    used <= policy_demote_mark(a->budget, headroom_bytes(&a->headroom,
	    &a->cfg, a->budget, now)))
		return false;
	a->ctr.budget_rounds++;
	log_debug("round: the fast nodes hold %llu MiB, over the budget's "
	    "%llu MiB less half the headroom: planning now",
	    (unsigned long long)(used >> 20), (unsigned long long)(a->budget >> 20));
	start_round(a, now);
	return true;
}

/* A page the last plan would now promote: do not wait for the timer. */
static void
early_round(struct agent *a)
{
	size_t nslots;
	uint64_t now;

	if (round_busy(a) || shock_round(a) || !heat_watch_seen(a->heat))
		return;
	now = now_ns();
	(void)heat_slots(a->heat, &nslots);
	if (policy_round_due(&a->cfg, a->round_ns, now, nslots,
	    a->view.quick, MAX(a->round_cost_ns, 1))) {
		a->ctr.early_rounds++;
		start_round(a, now);
	}
}

/*
 * Read what waits in the sampler's buffers (at most a batch per fd).
 * Before a timer round: after the agent was held up (a busy or starved
 * guest), the timer and the sampler's fds come due together, and a round
 * planned before the samples are read would take every page for silent
 * over the time the agent was away.  Errors and the end of a trace are
 * the fd watcher's to report.
 */
static void
drain_samplers(struct agent *a)
{
	for (int i = 0; i < a->sampler.ops->nfds(&a->sampler) &&
	    !a->sampler.eof; i++)
		if (a->sample_state[i] != SW_DONE)
			(void)read_samples(a, i);
}

/*
 * Sampler holds.  A sampler wakes the agent every 64 samples (the PEBS
 * and IBS wake-up; a FIFO's writer at each write), and a wake-up costs
 * a switch into the agent and back: at 20k samples/s the switches were
 * about a third of the event loop's CPU (perf record -e cpu-clock,
 * bench_agent).  Between rounds, samples read at once serve one end: an
 * early round (early_round).  While none can come
 * (policy_early_possible), a read leaves the fd unwatched, and the
 * timer reads it at its next tick, before the heat table ages, as a
 * round does when it starts (drain_samplers); a round or a tick after
 * which an early round could come watches it again.  What the table
 * holds when a round plans is the same, and vtier-sim, which reads
 * every sample at once, plans as the agent does; a sample waits up to
 * an interval in the sampler's buffer (the PEBS ring holds 2048 records
 * per CPU, 100 ms at 20k/s on one CPU; the replay FIFO is enlarged to
 * 1 MiB).  So only while the interval is at most HOLD_MAX_MS (the
 * default is 50 ms), and a plain trace file, which never sleeps the
 * loop, is not held.
 *
 * Over the agent's CPU budget, reads are spaced apart as well (pace.h):
 * after a read the fd is left unwatched until the spacing has passed
 * (pace_hold, the alarm), and at a spacing of the interval or more the
 * timer's ticks read it, as above.  vtier-sim runs the same spacing on a
 * CPU clock of its own only when told what a wake-up and a sample cost
 * (--agent-cpu); otherwise it reads at every wake-up.
 */
#define HELD_BATCHES	4	/* batches a tick reads before watching again */

static bool on_sampler_fd(void *arg, int fd);

/* The heat table's slots; while a round owns it, as the last view saw. */
static size_t
table_slots(struct agent *a)
{
	size_t nslots = a->view.nslots;

	if (!round_busy(a))
		(void)heat_slots(a->heat, &nslots);
	return nslots;
}

static bool
hold_samplers(struct agent *a)
{
	return a->sampler_sleeps && pace_at_ticks(&a->pace, a->cfg.interval_ms,
	    policy_early_possible(&a->cfg, table_slots(a), a->view.quick,
	    a->view.promote_bar));
}

/*
 * After a read of the sampler's fd i: while reads are spaced (pace.h),
 * leave it unwatched until the spacing has passed, the alarm set for
 * it; true when held.  Unspaced, the gap since the last wake-up is what
 * a spacing starts from (pace_read).
 */
static bool
pace_hold(struct agent *a, int i)
{
	uint64_t at = pace_read(&a->pace, now_ns());

	if (at == 0)
		return false;
	if (a->alarm_ns == 0 || at < a->alarm_ns) {
		if (loop_alarm_at(a->loop, a->alarm, at) < 0)
			return false;
		a->alarm_ns = at;
	}
	a->sample_state[i] = SW_SPACED;
	a->sample_watch[i] = -1;
	a->ctr.sampler_waits++;
	return true;
}

/* Watch the sampler's fd i again; false (logged) when the loop cannot. */
static bool
watch_sampler(struct agent *a, int i)
{
	int rc = loop_add_fd(a->loop, a->sampler.ops->fd(&a->sampler, i),
	    on_sampler_fd, a);

	if (rc < 0) {
		log_warnx("loop: cannot watch sampler fd %d again: %s", i,
		    strerror(-rc));
		return false;
	}
	a->sample_watch[i] = rc;
	a->sample_state[i] = SW_WATCHED;
	return true;
}

/*
 * What a read of the sampler's fd i returned (rc): true while it is to
 * be read again, else its new state (paused until the round is back,
 * or done after an error or the end of a trace), the fd unwatched.
 */
static bool
sampler_read_ok(struct agent *a, int i, int rc)
{
	if (rc == -ENOBUFS) {
		/* unwatched until the round is back (resume_samplers) */
		a->sample_state[i] = SW_PAUSED;
		a->ctr.sampler_pauses++;
	} else if (rc < 0) {
		log_warnx("sampler %s: read: %s", a->sampler.ops->name,
		    strerror(-rc));
		a->sample_state[i] = SW_DONE;
	} else if (a->sampler.eof) {
		log_info("sampler: end of trace after %llu samples "
		    "(%llu malformed lines)",
		    (unsigned long long)a->sampler.stats.samples,
		    (unsigned long long)a->sampler.stats.bad_lines);
		a->sample_state[i] = SW_DONE;
	} else {
		return true;
	}
	a->sample_watch[i] = -1;
	return false;
}

static bool
on_sampler_fd(void *arg, int fd)
{
	struct agent *a = arg;
	int i, n = a->sampler.ops->nfds(&a->sampler);

	for (i = 0; i < n; i++)
		if (a->sampler.ops->fd(&a->sampler, i) == fd)
			break;
	if (i == n)
		return true;
	if (!sampler_read_ok(a, i, read_samples(a, i)))
		return false;
	early_round(a);
	if (hold_samplers(a)) {
		a->sample_state[i] = SW_HELD;
		a->sample_watch[i] = -1;
		return false;
	}
	return !pace_hold(a, i);
}

/*
 * The spacing of reads has passed: the spaced sampler fds watched again,
 * or left to the ticks if no early round can now come.
 */
static bool
on_alarm(void *arg, int fd)
{
	struct agent *a = arg;
	bool hold = hold_samplers(a);

	(void)fd;
	a->alarm_ns = 0;
	for (int i = 0; i < a->nsample_watch; i++) {
		if (a->sample_state[i] != SW_SPACED)
			continue;
		if (hold)
			a->sample_state[i] = SW_HELD;
		else
			(void)watch_sampler(a, i);
	}
	return true;
}

/*
 * The timer's read of the held samplers: up to HELD_BATCHES batches
 * each, and the fd watched again when it had more, or when an early
 * round could now come.
 */
static void
read_held_samplers(struct agent *a)
{
	bool hold = hold_samplers(a);

	for (int i = 0; i < a->nsample_watch; i++) {
		int rc, k = 0;

		if (a->sample_state[i] != SW_HELD)
			continue;
		a->ctr.sampler_holds++;
		do
			rc = read_samples(a, i);
		while (rc == SAMPLE_BATCH && ++k < HELD_BATCHES);
		if (sampler_read_ok(a, i, rc) &&
		    (!hold || rc == SAMPLE_BATCH))
			(void)watch_sampler(a, i);
	}
}

/*
 * After a round: the sampler fds paused while the queue was full, and
 * the held ones if an early round could now come, watched again.
 */
static void
resume_samplers(struct agent *a)
{
	bool hold = hold_samplers(a);

	for (int i = 0; i < a->nsample_watch; i++)
		if (a->sample_state[i] == SW_PAUSED ||
		    (a->sample_state[i] == SW_HELD && !hold))
			(void)watch_sampler(a, i);
}

/*
 * Whether what the guest frees goes back to the host: said when it is
 * first known and when it changes, and warned about once while the
 * budget is below the fast nodes' size and nothing returns freed memory
 * (the budget then saves the host nothing).
 */
static void
note_reporting(struct agent *a, const struct reporting *rep)
{
	bool changed = !a->rep_noted || rep->available != a->rep.available ||
	    rep->order != a->rep.order;
	char b[32];

	a->rep = *rep;
	a->rep_noted = true;
	if (rep->available) {
		if (changed)
			log_info("free page reporting: %s reports free blocks "
			    "of %llu KiB to the host (page_reporting_order %d)%s",
			    rep->device, rep->order >= 0 ? 4ULL << rep->order :
			    0ULL, rep->order, a->cfg.vacate && a->vacate ?
			    "; demotions empty whole 2 MiB blocks ([migrate] "
			    "vacate)" : "");
		a->rep_warned = false;
		return;
	}
	if (changed && a->rep_warned)
		log_info("free page reporting: gone");
	/* the sim backend's memory is not the guest's: nothing to say */
	if (a->cfg.backend == BACKEND_MOVE_PAGES && !a->rep_warned &&
	    a->budget < topo_fast_total(&a->topo)) {
		format_size(a->budget, b, sizeof(b));
		log_warnx("free page reporting: none (no virtio-balloon device "
		    "with free page reporting bound to virtio_balloon): the "
		    "budget of %s keeps this guest's fast nodes in bounds, but "
		    "the host keeps backing every page the guest has touched; "
		    "give the VM QEMU -device virtio-balloon-pci,"
		    "free-page-reporting=on (libvirt: <memballoon "
		    "model='virtio' freePageReporting='on'/>) and load "
		    "virtio_balloon", b);
		a->rep_warned = true;
	}
}

/*
 * The plan says the budget cannot be met: over it, and nothing of a
 * managed process left to demote.  Not while adoption may still find
 * cold pages on the fast nodes (adopt_settled: no pass running, the last
 * one found nothing): until then they are simply not known yet; and only
 * once every plan for UNATTAINABLE_HOLD_NS has said so (free blocks
 * being reported to the host count as used for a moment).  The warning
 * says what was counted.
 */
static void
note_unattainable(struct agent *a, const struct plan *p, bool looked,
    uint64_t now)
{
	char b[32], s[32], u[32], t[32];
	const struct heat_entry *e;
	size_t n, on_fast = 0, pinned = 0;

	if (p->unattainable && !looked)
		return;
	if (!p->unattainable)
		a->unattainable_since = 0;
	else if (a->unattainable_since == 0)
		a->unattainable_since = MAX(now, 1);
	if (p->unattainable && !a->unattainable &&
	    now - a->unattainable_since < UNATTAINABLE_HOLD_NS)
		return;
	if (p->unattainable && !a->unattainable) {
		e = heat_slots(a->heat, &n);
		for (size_t i = 0; i < n; i++) {
			if (e[i].key == 0 || e[i].node < 0 ||
			    !(a->topo.fast_mask >> e[i].node & 1))
				continue;
			on_fast += heat_key_npages(e[i].key);
			if (e[i].flags & HEAT_F_PINNED)
				pinned += heat_key_npages(e[i].key);
		}
		format_size(a->budget, b, sizeof(b));
		format_size(p->shortfall, s, sizeof(s));
		format_size(a->fast_used, u, sizeof(u));
		format_size((uint64_t)on_fast << HEAT_PAGE_SHIFT, t, sizeof(t));
		log_warnx("budget %s unattainable for %llu s: the fast nodes "
		    "use %s, %s over it after demoting what could be; of "
		    "that, %s is "
		    "pages the agent tracks (%zu of them cannot move: shared "
		    "or refused by the kernel) in %zu managed processes, the "
		    "rest belongs to the kernel, caches and unmanaged "
		    "processes", b,
		    (unsigned long long)((now - a->unattainable_since) /
		    1000000000ULL), u, s, t, pinned,
		    a->procs ? proc_count_managed(a->procs) : 0);
	} else if (!p->unattainable && a->unattainable) {
		log_info("budget attainable again");
	}
	a->unattainable = p->unattainable;
	a->shortfall = p->shortfall;
}

static bool on_chan_fd(void *arg, int fd);

static void
enable_hw(struct agent *a, const char *when)
{
	int rc = sample_hw_enable(&a->sampler);

	if (rc < 0)
		log_warnx("sampler %s: enable: %s", a->sampler.ops->name,
		    strerror(-rc));
	else
		log_info("sampler %s: enabled %s", a->sampler.ops->name, when);
}

/* Poll the channel's current fd for what it needs now. */
static void
chan_rewatch(struct agent *a)
{
	int fd = chan_fd(a->chan);
	unsigned ev = fd >= 0 ? chan_events(a->chan) : 0;
	uint64_t gen = chan_fd_gen(a->chan);

	if (fd == a->chan_wfd && ev == a->chan_wev && gen == a->chan_wgen)
		return;
	if (a->chan_watch >= 0)
		loop_del(a->loop, a->chan_watch);
	a->chan_watch = -1;
	a->chan_wfd = fd;
	a->chan_wev = ev;
	a->chan_wgen = gen;
	if (fd >= 0 && (a->chan_watch = loop_add_fd_events(a->loop, fd, ev,
	    on_chan_fd, a)) < 0)
		log_warnx("loop: cannot watch the shim channel: %s",
		    strerror(-a->chan_watch));
}

/*
 * The pre-fault step, once per WELCOME (a new shim pins nothing): the
 * events are open (disabled), so the kernel has reserved the DS buffers;
 * pfset finds them, or falls back to the fast nodes' memory, and the
 * shim pins that set in place of whatever it pinned for us before.
 */
static void
request_prefault(struct agent *a, uint64_t now)
{
	struct chan_info ci;
	int rc;

	chan_info(a->chan, &ci);
	a->prefault_connects = ci.connects;
	if (pfset_build(&a->pfset, &a->topo, NULL, ci.shim_caps &
	    PROTO_CAP_PREFAULT_PARTS ? PROTO_MAX_SET_RANGES :
	    PROTO_MAX_RANGES) < 0) {
		log_warnx("pre-fault: nothing to ask for: skipped");
		return;
	}
	if ((rc = chan_prefault(a->chan, a->pfset.r, a->pfset.n,
	    a->pfset.fast_node ? PROTO_PF_FAST_NODE : 0, a->pfset.why,
	    now)) < 0)
		log_warnx("pre-fault: %s", strerror(-rc));
}

static void
chan_events_apply(struct agent *a, const struct chan_event *ev, uint64_t now)
{
	struct chan_info ci;
	char b[32];

	if (ev->budget && (a->budget != ev->budget_bytes ||
	    a->budget_source != BUDGET_FROM_SHIM)) {
		format_size(ev->budget_bytes, b, sizeof(b));
		log_info("budget %s from the host shim", b);
		a->budget = ev->budget_bytes;
		a->budget_source = BUDGET_FROM_SHIM;
		/* a round planned for the old budget stops at its next call */
		if (round_busy(a)) {
			worker_cancel(a->worker);
			a->round_pending = true;
		}
	}
	chan_info(a->chan, &ci);
	if (ci.state == CHAN_UP && a->prefault_wanted &&
	    a->prefault_connects != ci.connects)
		request_prefault(a, now);
	/* enable PEBS whatever the pre-fault outcome: it was asked for */
	if (ev->prefault && sample_hw_waiting(&a->sampler))
		enable_hw(a, "after the pre-fault step");
}

static bool
on_chan_fd(void *arg, int fd)
{
	struct agent *a = arg;
	struct chan_event ev;
	uint64_t now = now_ns();

	(void)fd;
	chan_io(a->chan, now, &ev);
	chan_events_apply(a, &ev, now);
	chan_rewatch(a);
	return true;
}

static void
fill_stats(const struct agent *a, struct proto_stats *st)
{
	const struct migrate_stats *ms = &a->view.ms;
	uint64_t now = now_ns();

	memset(st, 0, sizeof(*st));
	st->fast_used = a->fast_used;
	st->budget = a->budget;
	st->hot_set_bytes = a->view.hot_bytes;
	st->samples = a->sampler.stats.samples;
	st->samples_per_s_milli = (uint64_t)(a->ctr.samples_per_s * 1000.0);
	st->lost_samples = a->sampler.stats.lost;
	st->promoted_pages = ms->promoted_pages;
	st->demoted_pages = ms->demoted_pages;
	st->promoted_bytes = ms->promoted_bytes;
	st->demoted_bytes = ms->demoted_bytes;
	st->migration_errors = ms->err_busy + ms->err_noent + ms->err_fault +
	    ms->err_nomem + ms->err_acces + ms->err_srch + ms->err_perm +
	    ms->err_other;
	st->uptime_ms = (now - a->start_ns) / 1000000ULL;
	if (a->unattainable)
		st->flags |= PROTO_STATS_BUDGET_UNATTAINABLE;
	if (!sample_hw_is(&a->sampler))
		st->flags |= PROTO_STATS_NO_PMU;
}

static void
chan_run_tick(struct agent *a, uint64_t now)
{
	struct proto_stats st;
	struct chan_event ev;

	if (a->chan == NULL)
		return;
	fill_stats(a, &st);
	chan_tick(a->chan, now, &st, &ev);
	chan_events_apply(a, &ev, now);
	chan_rewatch(a);
}

/* Copy what status and STATS show while the loop's thread has the stages. */
static void
view_update(struct agent *a)
{
	struct agent_view *v = &a->view;

	v->ms = *migrate_stats(a->mig);
	v->tracked = heat_size(a->heat);
	v->capacity = heat_capacity(a->heat);
	(void)heat_slots(a->heat, &v->nslots);
	v->adopted = heat_stats(a->heat)->adopted;
	v->hot_bytes = a->plan.hot_bytes;
	v->hot_on_fast_bytes = a->plan.hot_on_fast_bytes;
	v->threshold = a->plan.threshold;
	v->moving = a->plan.moving;
	v->tight = a->plan.tight;
	v->steady = a->plan.steady;
	v->once_pays = a->plan.once_pays;
	v->room_pays = a->plan.room_pays;
	v->quick = policy_pace_quick(&a->plan);
	v->promote_bar = a->plan.promote_bar;
	v->managed = a->procs ? proc_count_managed(a->procs) : 0;
	if (a->vacate != NULL)
		v->vs = *vacate_stats(a->vacate);
	if (a->compact != NULL)
		v->cs = *compact_stats(a->compact);
}

/* Settings a reload changes in stages a round may have had. */
static void
apply_stage_settings(struct agent *a)
{
	migrate_set_limits(a->mig, a->cfg.pages_per_call, a->cfg.rate_bytes);
	if (a->cfg.backend == BACKEND_SIM)
		(void)migrate_sim_call_time(a->mig, a->cfg.sim_call_ms * 1000000ULL);
	if (a->procs)
		proc_set_config(a->procs, &a->cfg);
	a->reload_pending = false;
}

static void finish_round(struct agent *a);

/*
 * Start a policy round: read what waits in the samplers first (after
 * the agent was held up, the timer and the sampler fds come due
 * together, and a round planned before the samples are read would take
 * every page for silent), then hand the stages to the worker.  While
 * one runs, a round that comes due waits for it (round_pending).
 */
static void
start_round(struct agent *a, uint64_t now)
{
	struct round *r = &a->round;

	if (round_busy(a)) {
		a->round_pending = true;
		return;
	}
	a->round_pending = false;
	drain_samplers(a);
	now = MAX(now, now_ns());
	a->round_ns = now;
	a->ctr.ticks++;
	r->cfg = a->cfg;
	r->budget = a->budget;
	r->headroom = headroom_bytes(&a->headroom, &a->cfg, a->budget, now);
	r->tick = a->tick;
	r->start_ns = now;
	if (a->worker == NULL || worker_submit(a->worker, round_run, r) < 0) {
		round_run(r);
		finish_round(a);
	}
}

/*
 * The round is back: its results, the samples queued meanwhile into the
 * heat table, the sampler fds watched again, and the next round at once
 * if one came due meanwhile (or the budget changed).
 */
static void
finish_round(struct agent *a)
{
	const struct round *r = &a->round;
	uint64_t used = r->fast_used_after;
	char b[32];

	a->round_cost_ns = MAX(r->work_ns, 1);
	a->ctr.round_last_ns = r->cost_ns;
	a->ctr.round_max_ns = MAX(a->ctr.round_max_ns, r->cost_ns);
	if (r->cancelled)
		a->ctr.rounds_cancelled++;
	if (r->mr.cut)
		a->ctr.rounds_cut++;
	if (r->err == 0)
		headroom_round(&a->headroom, r->budget, r->fast_used,
		    r->fast_used_after, r->start_ns);
	if (r->err < 0) {
		log_warnx("fast-node usage unknown (%s): skipped a round",
		    strerror(-r->err));
	} else if (r->planned) {
		a->fast_used = r->fast_used;
		if (a->plan.over_budget)
			a->ctr.over_budget_ticks++;
		note_unattainable(a, &a->plan, r->adopt_looked, now_ns());
		a->ctr.fast_used_max = MAX(a->ctr.fast_used_max, used);
		if (r->mr.promoted_bytes || r->mr.demoted_bytes)
			log_debug("round %llu: fast %llu -> %llu (creep %llu, "
			    "headroom %llu), promoted %llu, "
			    "demoted %llu bytes, threshold %u, %llu ms (adopt "
			    "%llu, query %llu, plan %llu of which vacate %llu, "
			    "migrate %llu, compact %llu)%s%s",
			    (unsigned long long)a->ctr.ticks,
			    (unsigned long long)r->fast_used,
			    (unsigned long long)used,
			    (unsigned long long)a->headroom.last_creep,
			    (unsigned long long)r->headroom,
			    (unsigned long long)r->mr.promoted_bytes,
			    (unsigned long long)r->mr.demoted_bytes,
			    a->plan.threshold,
			    (unsigned long long)(r->cost_ns / 1000000),
			    (unsigned long long)(r->adopt_ns / 1000000),
			    (unsigned long long)(r->query_ns / 1000000),
			    (unsigned long long)(r->plan_ns / 1000000),
			    (unsigned long long)(r->vacate_ns / 1000000),
			    (unsigned long long)(r->migrate_ns / 1000000),
			    (unsigned long long)(r->compact_ns / 1000000),
			    r->cancelled ? " (cancelled)" : "",
			    r->mr.cut ? " (cut)" : "");
	} else {
		a->fast_used = r->fast_used;
	}
	note_reporting(a, &r->rep);
	sampleq_drain(a->sq, on_queued_sample, a);
	flush_batch(a);
	if (a->reload_pending)
		apply_stage_settings(a);
	view_update(a);
	resume_samplers(a);

	if (a->exit_on_eof && a->sampler.eof) {
		bool idle = r->mr.promoted_bytes == 0 && r->mr.demoted_bytes == 0;

		a->idle_after_eof = idle ? a->idle_after_eof + 1 : 0;
		if (a->idle_after_eof >= EOF_IDLE_TICKS ||
		    ++a->ticks_after_eof > EOF_MAX_TICKS) {
			log_info("trace done and placement settled: exiting");
			loop_stop(a->loop);
			return;
		}
	}
	if (a->round_pending && a->worker != NULL) {
		if (r->cancelled) {
			format_size(a->budget, b, sizeof(b));
			log_debug("round cancelled: planning again for %s", b);
		}
		start_round(a, now_ns());
	} else {
		early_round(a);
	}
}

static bool
on_worker_fd(void *arg, int fd)
{
	struct agent *a = arg;

	(void)fd;
	if (worker_reap(a->worker) == 1)
		finish_round(a);
	return true;
}

/*
 * Whether spacing the reads can save no more CPU: they come at the
 * ticks or the longest spacing already, or the sampler is never spaced.
 * Only then may a PEBS or IBS period rise for the budget.
 */
static bool
pace_spent(struct agent *a)
{
	return !a->sampler_sleeps || pace_at_cap(&a->pace, a->cfg.interval_ms,
	    policy_early_possible(&a->cfg, table_slots(a), a->view.quick,
	    a->view.promote_bar));
}

/*
 * Space the sampler's reads against the CPU budget (pace.h): a sampler
 * that sleeps the loop only, and no further apart than the samples may
 * wait in its buffer (HOLD_MAX_MS).  cpu_ns: the CPU the budget counts
 * (pace_charge).
 */
static void
pace_samplers(struct agent *a, uint64_t now, uint64_t cpu_ns)
{
	static struct ratelimit rl;
	char how[48];
	bool info;

	if (!a->sampler_sleeps ||
	    !pace_tick(&a->pace, cpu_ns, now, config_cpu_budget(&a->cfg),
	    pace_cap_ns(a->cfg.interval_ms)))
		return;
	/* a line every 10 s at most; each change at -d */
	info = ratelimit_ok(&rl, 10);
	if (!info && log_level < LOG_LVL_DEBUG)
		return;
	if (a->pace.space_ns == 0)
		snprintf(how, sizeof(how), "at each wake-up");
	else if (hold_samplers(a))
		snprintf(how, sizeof(how), "at the timer's ticks");
	else
		snprintf(how, sizeof(how), "%.1f ms apart",
		    (double)a->pace.space_ns / 1e6);
#define PACE_LOG "sampler: read %s (agent CPU %.2f%% over the last second, " \
	"budget %.2f%%)", how, a->pace.frac * 100, config_cpu_budget(&a->cfg) * 100
	if (info)
		log_info(PACE_LOG);
	else
		log_debug(PACE_LOG);
#undef PACE_LOG
}

/* The timer: housekeeping, and a policy round when one is due. */
static bool
on_tick(void *arg, int fd)
{
	struct agent *a = arg;
	uint64_t now = now_ns(), cpu_ns = 0;
	double budget = config_cpu_budget(&a->cfg);
	bool spent = false;

	(void)fd;
	if (++a->tick == 0)
		a->tick = 1;
	/* one reading of the CPU clocks for the period and the spacing */
	if (a->sampler_sleeps || sample_hw_is(&a->sampler))
		cpu_ns = pace_charge(&a->charge, thread_cpu_ns(),
		    process_cpu_ns(), now, budget);
	read_held_samplers(a);
	if (!round_busy(a)) {
		heat_advance(a->heat, now);
		if (a->procs != NULL)
			proc_reap(a->procs, on_exit_pid, a);
	}
	chan_run_tick(a, now);
	if (sample_hw_is(&a->sampler)) {
		/* a shim that never answers must not keep PEBS off for good */
		if (sample_hw_waiting(&a->sampler) && now - a->start_ns >
		    3 * a->cfg.shim_timeout_ms * 1000000ULL)
			enable_hw(a, "without the pre-fault step (no shim)");
		spent = pace_spent(a);
	}
	pace_samplers(a, now, cpu_ns);
	/*
	 * The period rises only once spacing reads saves no more (spent: so
	 * it was as the window closed), and it follows the CPU of the pace's
	 * window, not of a tick: a tick's holds a round's lump or none, and
	 * taken tick by tick the period rose at every tick with a round and
	 * never came back (vtier-sim, whose model of it is this code: on
	 * make eval's zipf99 at 25% half the samples went).
	 */
	if (sample_hw_is(&a->sampler) && a->pace.window_ended)
		sample_hw_adapt(&a->sampler,
		    pace_period_frac(&a->pace, spent, budget), budget);
	if (now - a->rate_ns >= 1000000000ULL) {
		a->ctr.samples_per_s = (double)(a->sampler.stats.samples -
		    a->rate_samples) * 1e9 / (double)(now - a->rate_ns);
		a->rate_ns = now;
		a->rate_samples = a->sampler.stats.samples;
	}
	if (!shock_round(a) && !budget_round(a, now) &&
	    policy_round_due(&a->cfg, a->round_ns, now, table_slots(a),
	    a->view.quick, 0))
		start_round(a, now);
	return true;
}

/* What paying for a move takes with these settings (policy.c). */
static void
log_pay(const struct agent_config *cfg)
{
	if (cfg->break_even == 0) {
		log_info("policy: break_even = 0: moves are not priced");
		return;
	}
	log_info("policy: while the hot set moves, a page is promoted once "
	    "its samples pay for the move: %u (%u for 2 MiB; break_even %u "
	    "accesses, a sample per %llu)", policy_pay_samples(cfg, 1),
	    policy_pay_samples(cfg, HEAT_THP_PAGES), cfg->break_even,
	    (unsigned long long)cfg->sample_period);
}

/*
 * SIGHUP: parse the file into a fresh struct and validate it; on error
 * keep running on the old one.  Settings that shape what was opened at
 * start (sampler, backend, heat capacity, nodes, status socket) need a
 * restart: they are kept and the difference is logged.
 */
static void
reload(struct agent *a)
{
	struct agent_config fresh;
	uint64_t budget = a->budget;
	char err[512];

	if (config_load(a->config_path, &fresh, err, sizeof(err)) < 0) {
		log_warnx("reload failed, keeping the running config: %s", err);
		return;
	}
#define KEEP(field, what) do {						\
	if (memcmp(&fresh.field, &a->cfg.field, sizeof(fresh.field)) != 0) { \
		log_warnx("reload: %s changed; it takes effect at restart", what); \
		memcpy(&fresh.field, &a->cfg.field, sizeof(fresh.field)); \
	}								\
} while (0)
	KEEP(source, "[sampler] source");
	KEEP(replay, "[sampler] replay");
	KEEP(event, "[sampler] event");
	KEEP(sample_period, "[sampler] period");
	KEEP(backend, "[migrate] backend");
	KEEP(heat_capacity, "[heat] pages");
	KEEP(status_socket, "[agent] status_socket");
	KEEP(fast_nodes, "[nodes] fast");
	KEEP(slow_nodes, "[nodes] slow");
	KEEP(shim, "[shim] transport");
	KEEP(shim_address, "[shim] address");
	KEEP(shim_stats_ms, "[shim] stats_interval");
	KEEP(shim_timeout_ms, "[shim] timeout");
	KEEP(prefault, "[sampler] prefault");
	KEEP(thp, "[heat] thp");
#undef KEEP
	a->cfg = fresh;
	log_set_level(a->debug ? LOG_LVL_DEBUG : a->cfg.log_level);
	/* the heat clock follows at the next round, which sets it each time */
	if (round_busy(a))
		a->reload_pending = true;
	else
		apply_stage_settings(a);
	loop_timer_set(a->loop, a->tick_timer, a->cfg.interval_ms * 1000000ULL);
	update_budget(a);
	/* a round planned for the old budget stops at its next call */
	if (a->budget != budget && round_busy(a)) {
		worker_cancel(a->worker);
		a->round_pending = true;
	}
	log_info("reloaded %s", a->config_path);
	log_pay(&a->cfg);
}

static bool
on_signal(void *arg, int fd)
{
	struct agent *a = arg;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("signal %u: exiting", si.ssi_signo);
			/* a round in flight ends at its next move_pages call */
			if (round_busy(a))
				worker_cancel(a->worker);
			loop_stop(a->loop);
			break;
		case SIGHUP:
			sdnotify_reloading();
			reload(a);
			sdnotify_ready();
			break;
		case SIGUSR1:
			status_log(a);
			break;
		}
	}
	return true;
}

static bool
on_status(void *arg, int fd)
{
	status_serve(arg, fd);
	return true;
}

/* Competing kernel tiering would undo our placement: say so. */
static void
check_kernel_tiering(void)
{
	char buf[64];

	if (read_file("/proc/sys/kernel/numa_balancing", buf, sizeof(buf)) > 0 &&
	    atoi(buf) != 0)
		log_warnx("kernel.numa_balancing is %d: the kernel %s behind "
		    "vtier's back; set it to 0", atoi(buf), atoi(buf) & 2 ?
		    "promotes pages to the fast node (memory tiering mode)" :
		    "moves pages to the node of the CPU that touches them");
	if (read_file("/sys/kernel/mm/numa/demotion_enabled", buf,
	    sizeof(buf)) > 0 && strncmp(buf, "true", 4) == 0)
		log_warnx("/sys/kernel/mm/numa/demotion_enabled is true: "
		    "reclaim demotes pages behind vtier's back; set it to false");
}

static int
open_sampler(struct agent *a)
{
	int rc;

	enum sampler_source src = a->cfg.source;
	char why[640];

	if (src == SOURCE_AUTO) {
		if (probe_pick(&src, why, sizeof(why)) < 0) {
			log_err("sampler: source=auto: %s", why);
			return -ENODEV;
		}
		log_info("sampler: source=auto: %s", why);
	}
	switch (src) {
	case SOURCE_REPLAY:
		a->sampler.ops = &sample_replay_ops;
		break;
	case SOURCE_PEBS:
		a->sampler.ops = &sample_pebs_ops;
		break;
	case SOURCE_IBS:
		a->sampler.ops = &sample_ibs_ops;
		break;
	case SOURCE_AUTO:
		return -EINVAL;
	}
	if ((rc = a->sampler.ops->open(&a->sampler, &a->cfg)) < 0)
		a->sampler.ops = NULL;
	return rc;
}

static void
dump_heat(const struct agent *a, const char *path)
{
	const struct heat_entry *e;
	size_t n;
	FILE *f;

	if ((f = fopen(path, "w")) == NULL) {
		log_warn("--dump-heat %s", path);
		return;
	}
	e = heat_slots(a->heat, &n);
	for (size_t i = 0; i < n; i++)
		if (e[i].key != 0)
			fprintf(f, "%u 0x%llx %d %u %s\n", heat_key_pid(e[i].key),
			    (unsigned long long)heat_key_addr(e[i].key),
			    e[i].node, heat_count(a->heat, &e[i]),
			    heat_key_thp(e[i].key) ? "2M" : "4K");
	fclose(f);
}

static void
build_hello(const struct agent *a, struct proto_msg *m)
{
	proto_msg_init(m, PROTO_HELLO);
	m->u.hello.agent_version = PROTO_SW_VERSION(VTIER_VERSION_MAJOR,
	    VTIER_VERSION_MINOR, VTIER_VERSION_PATCH);
	m->u.hello.caps = PROTO_CAP_STATS;
	if (a->cfg.prefault != PREFAULT_NEVER)
		m->u.hello.caps |= PROTO_CAP_PREFAULT |
		    PROTO_CAP_PREFAULT_PARTS;
	for (int i = 0; i < TOPO_MAX_NODES; i++) {
		const struct topo_node *n = &a->topo.node[i];
		uint16_t flags = 0;

		if (!(a->topo.online_mask & (1ULL << i)))
			continue;
		if (n->has_cpu)
			flags |= PROTO_NODE_HAS_CPU;
		if (a->topo.fast_mask & (1ULL << i))
			flags |= PROTO_NODE_FAST;
		if (proto_hello_add_node(m, (uint16_t)i, flags, n->total) < 0)
			break;
	}
}

static int
setup_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static int
start(struct agent *a, const char *sysfs)
{
	char err[512];
	int rc, nfds;
	size_t cap;

	if ((rc = topo_load(&a->topo, sysfs, a->cfg.fast_nodes,
	    a->cfg.slow_nodes)) < 0) {
		log_err("topology from %s: %s", sysfs, strerror(-rc));
		return rc;
	}
	if (a->topo.slow_mask == 0)
		log_warnx("no slow (memory-only) node: nothing to tier, the "
		    "agent only watches the budget");
	update_budget(a);
	if ((rc = policy_heat_create(&a->heat, &a->cfg, a->budget)) < 0) {
		log_err("heat table of %u pages: %s", a->cfg.heat_capacity,
		    strerror(-rc));
		return rc;
	}
	/* a round moves at most rate * interval bytes; twice that in items */
	cap = (size_t)MIN(a->cfg.rate_bytes / 4096 * a->cfg.interval_ms / 500,
	    1ULL << 20);
	if ((rc = policy_plan_init(&a->plan, MAX(cap, 4096))) < 0)
		return rc;
	if ((rc = migrate_open(&a->mig, a->cfg.backend, &a->topo,
	    a->cfg.pages_per_call, a->cfg.rate_bytes, now_ns())) < 0) {
		log_err("migrator %s: %s", config_backend_name(a->cfg.backend),
		    strerror(-rc));
		return rc;
	}
	apply_stage_settings(a);
	if ((rc = open_sampler(a)) < 0)
		return rc;
	if (a->cfg.backend == BACKEND_MOVE_PAGES) {
		if ((rc = proc_create(&a->procs, "/proc")) < 0)
			return rc;
		apply_stage_settings(a);
		check_kernel_tiering();
		if (a->cfg.thp && (rc = thp_open(&a->thp, "/proc")) < 0)
			log_warnx("THP detection unavailable (/proc/kpageflags: "
			    "%s): pages are tracked at 4 KiB", strerror(-rc));
		if ((rc = adopt_create(&a->adopt, "/proc", a->procs, a->thp,
		    ADOPT_PAGES_PER_S, now_ns() + ADOPT_GRACE_NS)) < 0)
			return rc;
		if ((rc = vacate_create(&a->vacate, "/proc")) < 0)
			log_warnx("vacate: /proc/kpageflags: %s: demotions are "
			    "not chosen by physical block, and what they free "
			    "may not go back to the host", strerror(-rc));
		if ((rc = compact_create(&a->compact, sysfs, "/proc")) < 0)
			return rc;
	}
	/* a stale socket of a killed agent is replaced, a live one refused */
	if ((a->statusfd = unix_listen(a->cfg.status_socket, 0660, 16)) < 0) {
		rc = a->statusfd;
		log_err("status socket %s: %s%s", a->cfg.status_socket,
		    strerror(-rc), rc == -EADDRINUSE ?
		    " (another vtier-agent is running)" : rc == -EEXIST ?
		    " (a file that is not a socket is in the way)" : "");
		return rc;
	}
	if ((a->sigfd = setup_signals()) < 0) {
		log_err("signalfd: %s", strerror(-a->sigfd));
		return a->sigfd;
	}
	/* sampler fds, signals, status, timer, channel, and some spare */
	if ((rc = loop_create(&a->loop, (unsigned)a->sampler.ops->nfds(
	    &a->sampler) + 16)) < 0) {
		log_err("io_uring: %s", strerror(-rc));
		return rc;
	}
	nfds = a->sampler.ops->nfds(&a->sampler);
	for (int i = 0; i < nfds && i < (int)ARRAY_SIZE(a->sample_watch); i++) {
		rc = loop_add_fd(a->loop, a->sampler.ops->fd(&a->sampler, i),
		    on_sampler_fd, a);
		if (rc < 0)
			return rc;
		a->sample_watch[a->nsample_watch++] = rc;
	}
	if (nfds > 0) {
		struct stat st;

		a->sampler_sleeps = fstat(a->sampler.ops->fd(&a->sampler, 0),
		    &st) == 0 && !S_ISREG(st.st_mode);
	}
	if ((rc = loop_add_fd(a->loop, a->sigfd, on_signal, a)) < 0 ||
	    (rc = loop_add_fd(a->loop, a->statusfd, on_status, a)) < 0)
		return rc;
	rc = loop_add_timer(a->loop, a->cfg.interval_ms * 1000000ULL, on_tick, a);
	if (rc < 0)
		return rc;
	a->tick_timer = rc;
	if ((a->alarm = loop_add_alarm(a->loop, on_alarm, a)) < 0)
		return a->alarm;
	/* the round's stages and copies; the worker that runs it */
	a->round.heat = a->heat;
	a->round.plan = &a->plan;
	a->round.mig = a->mig;
	a->round.adopt = a->adopt;
	a->round.vacate = a->vacate;
	a->round.compact = a->compact;
	a->round.topo = a->topo;
	reporting_probe(a->topo.root, &a->round.rep);
	a->round.probe_ns = now_ns();
	if ((rc = sampleq_create(&a->sq, QUEUE_MAX)) < 0)
		return rc;
	if ((rc = worker_create(&a->worker)) < 0) {
		log_warnx("worker thread: %s: policy rounds run on the loop's "
		    "thread, and samples wait while they do", strerror(-rc));
	} else {
		a->round.cancel = worker_cancel_flag(a->worker);
		if ((rc = loop_add_fd(a->loop, worker_fd(a->worker),
		    on_worker_fd, a)) < 0)
			return rc;
		a->worker_watch = rc;
	}
	view_update(a);
	note_reporting(a, &a->round.rep);
	if (a->cfg.shim != SHIM_NONE) {
		struct proto_msg hello;

		build_hello(a, &hello);
		if ((rc = chan_open(&a->chan, &a->cfg, &hello)) < 0)
			return rc;
		/* hardware samplers ask per CPU model (issue 5); tests force it */
		a->prefault_wanted = a->cfg.prefault == PREFAULT_ALWAYS ||
		    sample_hw_waiting(&a->sampler);
		chan_run_tick(a, now_ns());
	}
	format_size(a->budget, err, sizeof(err));
	log_info("vtier-agent %s: budget %s (%s), sampler %s, backend %s",
	    VTIER_VERSION, err, a->budget_source == BUDGET_FROM_CONFIG ?
	    "from config" : "all fast memory", a->sampler.ops->name,
	    config_backend_name(a->cfg.backend));
	log_pay(&a->cfg);
	return 0;
}

/* At exit: the round in flight back (cancelled), the queue in the table. */
static void
settle(struct agent *a)
{
	if (round_busy(a)) {
		worker_cancel(a->worker);
		worker_wait(a->worker);
	}
	if (a->sq != NULL)
		sampleq_drain(a->sq, on_queued_sample, a);
	flush_batch(a);
	view_update(a);
}

static void
stop(struct agent *a)
{
	worker_destroy(a->worker);
	sampleq_destroy(a->sq);
	chan_close(a->chan);
	pfset_free(&a->pfset);
	loop_destroy(a->loop);
	if (a->sigfd > 0)
		close(a->sigfd);
	if (a->statusfd > 0) {
		close(a->statusfd);
		unlink(a->cfg.status_socket);
	}
	compact_destroy(a->compact);
	vacate_destroy(a->vacate);
	adopt_destroy(a->adopt);
	thp_close(a->thp);
	proc_destroy(a->procs);
	if (a->sampler.ops)
		a->sampler.ops->close(&a->sampler);
	migrate_close(a->mig);
	policy_plan_free(&a->plan);
	heat_destroy(a->heat);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "sysfs", required_argument, NULL, 'S' },
		{ "exit-on-eof", no_argument, NULL, 'E' },
		{ "dump-heat", required_argument, NULL, 'D' },
		{ "probe", no_argument, NULL, 'P' },
		{ "dry-run", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static struct agent agent;
	struct agent *a = &agent;
	const char *sysfs = "/sys";
	bool check = false, probe = false, dry_run = false;
	char err[512];
	int c, rc;

	a->config_path = CONFIG_PATH_DEFAULT;
	a->sigfd = a->statusfd = -1;
	a->chan_watch = a->chan_wfd = -1;
	while ((c = getopt_long(argc, argv, "c:ndhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': a->config_path = optarg; break;
		case 'n': check = true; break;
		case 'd': a->debug = true; break;
		case 'S': sysfs = optarg; break;
		case 'E': a->exit_on_eof = true; break;
		case 'P': probe = true; break;
		case 'R': dry_run = true; break;
		case 'D': a->dump_heat = optarg; break;
		case 'V': printf("vtier-agent %s\n", VTIER_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_CONFIG;
		}
	}
	if (optind != argc || (dry_run && !probe)) {
		usage(stderr);
		return EXIT_CONFIG;
	}
	if (probe) {
		/* no config needed: what this machine's PMU allows, exit 0 or 3 */
		log_init("vtier-agent", LOG_LVL_WARN);
		return probe_report_run(stdout, dry_run);
	}
	log_init("vtier-agent", LOG_LVL_INFO);
	if (config_load(a->config_path, &a->cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "vtier-agent: %s\n", err);
		return EXIT_CONFIG;
	}
	if (check) {
		config_print(&a->cfg, stdout);
		return 0;
	}
	log_set_level(a->debug ? LOG_LVL_DEBUG : a->cfg.log_level);

	/* many pidfds and perf fds: lift the soft fd limit to the hard one */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	a->start_ns = a->rate_ns = now_ns();
	if ((rc = start(a, sysfs)) < 0) {
		stop(a);
		return 1;
	}
	sdnotify_ready();	/* config loaded, sockets bound */
	if ((rc = loop_run(a->loop)) < 0) {
		log_err("event loop: %s", strerror(-rc));
		a->exit_code = 1;
	}
	sdnotify_stopping();
	settle(a);
	status_log(a);
	if (a->exit_on_eof) {
		char buf[8192];

		if (status_format(a, buf, sizeof(buf)) > 0)
			fputs(buf, stdout);
	}
	if (a->dump_heat)
		dump_heat(a, a->dump_heat);
	stop(a);
	return a->exit_code;
}
