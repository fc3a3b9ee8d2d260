/*
 * sampleq.h - samples read while a policy round has the heat table: a
 * bounded queue of (pid, address) with the time their batch was read,
 * folded into the table once the round hands it back.
 *
 * The loop's thread owns it.  It grows by doubling up to the bound given
 * at creation and keeps its high-water memory; when it cannot take a
 * whole sampler batch (sampleq_room), the loop stops reading the
 * sampler until the round is over, so samples wait (or are dropped and
 * counted) where they come from, never silently here.  Pure code.
 */
#ifndef VTIER_AGENT_SAMPLEQ_H
#define VTIER_AGENT_SAMPLEQ_H

#include <stddef.h>
#include <stdint.h>

struct sampleq;

/* A queue of at most max samples.  0, -EINVAL (max 0) or -ENOMEM. */
int sampleq_create(struct sampleq **qp, size_t max);
void sampleq_destroy(struct sampleq *q);

/* Append one sample read at t_ns.  0, -ENOSPC (full) or -ENOMEM. */
int sampleq_push(struct sampleq *q, uint32_t pid, uint64_t addr,
    uint64_t t_ns);
/* Samples that may still be pushed (the bound minus those queued). */
size_t sampleq_room(const struct sampleq *q);
size_t sampleq_len(const struct sampleq *q);
/* The most ever queued at once (for status: how far behind rounds ran). */
size_t sampleq_high(const struct sampleq *q);

/* Hand every queued sample to fn, oldest first, and empty the queue. */
typedef void (*sampleq_fn)(void *arg, uint32_t pid, uint64_t addr,
    uint64_t t_ns);
void sampleq_drain(struct sampleq *q, sampleq_fn fn, void *arg);

#endif
