/*
 * worker.h - the agent's worker thread: runs one job at a time off the
 * event loop's thread, so that nothing slow (adoption's procfs walks,
 * placement queries, planning over the whole heat table, move_pages
 * calls) holds up the reading of samples.
 *
 * Ownership, not locking: what a job works on belongs to the job from
 * worker_submit() until worker_reap() says it is done; the loop's thread
 * does not touch it meanwhile and the job touches nothing else.  The
 * hand-over goes through a mutex (submit, finish), which orders every
 * write of one side before the other's reads, and an eventfd the loop
 * polls (worker_fd): readable once a job has finished.
 *
 * A job can be asked to end early (worker_cancel): it reads the flag
 * worker_cancel_flag() points at between bounded steps (one move_pages
 * call, one adoption chunk), so a stop or a new budget waits one step
 * at most.
 *
 * It never calls into the agent's stages: it runs the function given.
 */
#ifndef VTIER_AGENT_WORKER_H
#define VTIER_AGENT_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>

struct worker;
typedef void (*worker_fn)(void *arg);

/* Start the thread (all signals blocked in it).  0 or -errno. */
int worker_create(struct worker **wp);
/* Cancel and wait for a job in flight, end the thread.  NULL is a no-op. */
void worker_destroy(struct worker *w);

/* The eventfd the loop polls: readable when a job has finished. */
int worker_fd(const struct worker *w);

/* Hand fn(arg) to the thread.  -EBUSY while a job is not reaped yet. */
int worker_submit(struct worker *w, worker_fn fn, void *arg);
/* Submitted and not reaped yet (the loop thread's view). */
bool worker_busy(const struct worker *w);
/*
 * After worker_fd polled readable (or at any time): 1 if the job has
 * finished, and its data is the caller's again; 0 if it has not.
 */
int worker_reap(struct worker *w);
/* Block until the job in flight, if any, has finished; reap it. */
void worker_wait(struct worker *w);

/* Ask the job in flight to end at its next step; cleared by submit. */
void worker_cancel(struct worker *w);
/* What a job polls between steps (true: end now). */
const atomic_bool *worker_cancel_flag(const struct worker *w);

/* Whether flag (NULL: never) asks the job to end now. */
static inline bool
worker_cancelled(const atomic_bool *flag)
{
	return flag != NULL && atomic_load_explicit(flag, memory_order_relaxed);
}

#endif
