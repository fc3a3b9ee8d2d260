/*
 * worker.c - the agent's worker thread (see worker.h).
 *
 * States, under mu: posted (a job waits for the thread), done (the job
 * ran; the loop has not reaped it), quit (the thread ends once idle).
 * busy is the loop thread's own: from submit to reap.  The thread writes
 * the eventfd under the mutex, after it has set done, so a loop that
 * sees the fd readable and takes the mutex sees done set, and a reap
 * that sees done set finds the count there to clear.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vtier/log.h"
#include "worker.h"

struct worker {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	worker_fn fn;		/* the posted job (under mu) */
	void *arg;
	bool posted, done, quit;	/* under mu */
	bool busy;		/* loop thread only */
	atomic_bool cancel;
	int efd;
};

static void *
run(void *p)
{
	struct worker *w = p;
	const uint64_t one = 1;

	for (;;) {
		worker_fn fn;
		void *arg;

		pthread_mutex_lock(&w->mu);
		while (!w->posted && !w->quit)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->posted) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		fn = w->fn;
		arg = w->arg;
		w->posted = false;
		pthread_mutex_unlock(&w->mu);

		fn(arg);

		pthread_mutex_lock(&w->mu);
		w->done = true;
		/* under mu: whoever sees done finds the count there to clear */
		if (write(w->efd, &one, sizeof(one)) < 0)
			log_warn("worker: eventfd write");
		pthread_mutex_unlock(&w->mu);
	}
	return NULL;
}

int
worker_create(struct worker **wp)
{
	sigset_t all, old;
	struct worker *w;
	int rc;

	*wp = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -ENOMEM;
	atomic_init(&w->cancel, false);
	if ((w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		rc = -errno;
		free(w);
		return rc;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	/* signals are the loop's (signalfd): the thread takes none */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&w->th, NULL, run, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		close(w->efd);
		free(w);
		return rc;
	}
	*wp = w;
	return 0;
}

void
worker_destroy(struct worker *w)
{
	if (w == NULL)
		return;
	worker_cancel(w);
	worker_wait(w);
	pthread_mutex_lock(&w->mu);
	w->quit = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	close(w->efd);
	free(w);
}

int
worker_fd(const struct worker *w)
{
	return w->efd;
}

int
worker_submit(struct worker *w, worker_fn fn, void *arg)
{
	if (w->busy)
		return -EBUSY;
	atomic_store(&w->cancel, false);
	pthread_mutex_lock(&w->mu);
	w->fn = fn;
	w->arg = arg;
	w->posted = true;
	pthread_mutex_unlock(&w->mu);
	/* after the unlock: woken under mu, the thread would block on it */
	pthread_cond_signal(&w->cv);
	w->busy = true;
	return 0;
}

bool
worker_busy(const struct worker *w)
{
	return w->busy;
}

int
worker_reap(struct worker *w)
{
	uint64_t n;
	bool done;

	if (!w->busy)
		return 0;
	pthread_mutex_lock(&w->mu);
	done = w->done;
	w->done = false;
	/* the job's one write: clear it so the fd polls idle again */
	if (done)
		while (read(w->efd, &n, sizeof(n)) < 0 && errno == EINTR)
			;
	pthread_mutex_unlock(&w->mu);
	if (!done)
		return 0;
	w->busy = false;
	return 1;
}

void
worker_wait(struct worker *w)
{
	while (w->busy && worker_reap(w) == 0) {
		struct pollfd pfd = { .fd = w->efd, .events = POLLIN };

		(void)poll(&pfd, 1, 1000);
	}
}

void
worker_cancel(struct worker *w)
{
	atomic_store(&w->cancel, true);
}

const atomic_bool *
worker_cancel_flag(const struct worker *w)
{
	return &w->cancel;
}
