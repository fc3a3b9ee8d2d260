/*
 * sampleq.c - the queue of samples read while a round runs (see
 * sampleq.h).  Samples of one sampler read share its time, so times are
 * kept per run of equal times (a segment), not per sample: 16 bytes a
 * sample plus 16 a read.
 */
#include <errno.h>
#include <stdlib.h>

#include "sampleq.h"

struct item {
	uint64_t addr;
	uint32_t pid;
};

struct segment {
	size_t end;		/* items [previous end, end) were read at t */
	uint64_t t;
};

struct sampleq {
	struct item *it;
	size_t n, cap, max, high;
	struct segment *seg;
	size_t nseg, segcap;
};

int
sampleq_create(struct sampleq **qp, size_t max)
{
	struct sampleq *q;

	*qp = NULL;
	if (max == 0)
		return -EINVAL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return -ENOMEM;
	q->max = max;
	*qp = q;
	return 0;
}

void
sampleq_destroy(struct sampleq *q)
{
	if (q == NULL)
		return;
	free(q->it);
	free(q->seg);
	free(q);
}

/* Room for one more of size bytes in *p holding *cap (doubling, to max). */
static int
grow(void **p, size_t *cap, size_t size, size_t max)
{
	size_t ncap = *cap ? *cap * 2 : 1024;
	void *np;

	if (ncap > max)
		ncap = max;
	if (ncap <= *cap)
		return -ENOSPC;
	if ((np = reallocarray(*p, ncap, size)) == NULL)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

int
sampleq_push(struct sampleq *q, uint32_t pid, uint64_t addr, uint64_t t_ns)
{
	int rc;

	if (q->n == q->max)
		return -ENOSPC;
	if (q->n == q->cap &&
	    (rc = grow((void **)&q->it, &q->cap, sizeof(*q->it), q->max)) < 0)
		return rc;
	if (q->nseg == 0 || q->seg[q->nseg - 1].t != t_ns) {
		/* at most one segment per item: max bounds both arrays */
		if (q->nseg == q->segcap && (rc = grow((void **)&q->seg,
		    &q->segcap, sizeof(*q->seg), q->max)) < 0)
			return rc;
		q->seg[q->nseg++].t = t_ns;
	}
	q->it[q->n].pid = pid;
	q->it[q->n].addr = addr;
	q->n++;
	q->seg[q->nseg - 1].end = q->n;
	if (q->n > q->high)
		q->high = q->n;
	return 0;
}

size_t
sampleq_room(const struct sampleq *q)
{
	return q->max - q->n;
}

size_t
sampleq_len(const struct sampleq *q)
{
	return q->n;
}

size_t
sampleq_high(const struct sampleq *q)
{
	return q->high;
}

void
sampleq_drain(struct sampleq *q, sampleq_fn fn, void *arg)
{
	size_t i = 0;

	for (size_t s = 0; s < q->nseg; s++)
		for (; i < q->seg[s].end; i++)
			fn(arg, q->it[i].pid, q->it[i].addr, q->seg[s].t);
	q->n = 0;
	q->nseg = 0;
}
