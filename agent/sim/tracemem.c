/*
 * tracemem.c - a whole trace in memory, for replaying it once per policy:
 * 16 bytes per sample (time, dense page id, op) and 12 per distinct page
 * (its heat key and a slot of the key -> id hash).  Dense ids let the
 * engine and the baselines keep per-page state in plain arrays.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heat.h"
#include "sim.h"

static size_t
slot_of(uint64_t key, size_t cap)
{
	/* splitmix64's finalizer: page numbers are dense, spread them */
	key = (key ^ (key >> 30)) * 0xbf58476d1ce4e5b9ULL;
	key = (key ^ (key >> 27)) * 0x94d049bb133111ebULL;
	return (size_t)(key ^ (key >> 31)) & (cap - 1);
}

int64_t
sim_trace_find(const struct sim_trace *t, uint64_t key)
{
	size_t i;

	if (t->map_cap == 0)
		return -1;
	for (i = slot_of(key, t->map_cap); t->map[i] != 0;
	    i = (i + 1) & (t->map_cap - 1))
		if (t->key[t->map[i] - 1] == key)
			return t->map[i] - 1;
	return -1;
}

/* Double the hash (or create it); kept at most half full. */
static int
grow_map(struct sim_trace *t)
{
	size_t cap = t->map_cap ? t->map_cap * 2 : 4096;
	uint32_t *map = calloc(cap, sizeof(*map));

	if (map == NULL)
		return -ENOMEM;
	for (uint32_t id = 0; id < t->npages; id++) {
		size_t i = slot_of(t->key[id], cap);

		while (map[i] != 0)
			i = (i + 1) & (cap - 1);
		map[i] = id + 1;
	}
	free(t->map);
	t->map = map;
	t->map_cap = cap;
	return 0;
}

/* The page's id, adding it if new; -errno. */
static int64_t
page_id(struct sim_trace *t, uint64_t key)
{
	int64_t id = sim_trace_find(t, key);
	size_t i;

	if (id >= 0)
		return id;
	if (t->npages == UINT32_MAX - 1)
		return -EOVERFLOW;
	if (t->npages == t->key_cap) {
		uint32_t cap = t->key_cap ? t->key_cap * 2 : 4096;
		uint64_t *k;

		if (t->key_cap > UINT32_MAX / 2)
			cap = UINT32_MAX;
		if ((k = reallocarray(t->key, cap, sizeof(*k))) == NULL)
			return -ENOMEM;
		t->key = k;
		t->key_cap = cap;
	}
	if (((size_t)t->npages + 1) * 2 > t->map_cap && grow_map(t) < 0)
		return -ENOMEM;
	t->key[t->npages] = key;
	for (i = slot_of(key, t->map_cap); t->map[i] != 0;
	    i = (i + 1) & (t->map_cap - 1))
		;
	t->map[i] = t->npages + 1;
	return t->npages++;
}

int
sim_trace_add(struct sim_trace *t, const struct sample *s)
{
	struct sim_rec *r;
	int64_t id;

	if (!trace_sample_valid(s) ||
	    (t->nrec > 0 && s->time_ns < t->rec[t->nrec - 1].time_ns))
		return -EINVAL;
	if (t->nrec == t->rec_cap) {
		size_t cap = t->rec_cap ? t->rec_cap * 2 : 65536;

		if ((r = reallocarray(t->rec, cap, sizeof(*r))) == NULL)
			return -ENOMEM;
		t->rec = r;
		t->rec_cap = cap;
	}
	if ((id = page_id(t, heat_key(s->pid, s->addr, false))) < 0)
		return (int)id;
	r = &t->rec[t->nrec++];
	r->time_ns = s->time_ns;
	r->page = (uint32_t)id;
	r->op = s->op;
	return 0;
}

int
sim_trace_load(struct sim_trace *t, const char *path, char *err,
    size_t errlen)
{
	struct trace_reader *r;
	struct sample s;
	int rc;

	memset(t, 0, sizeof(*t));
	if ((rc = trace_open(&r, path, err, errlen)) < 0)
		return rc;
	while ((rc = trace_read(r, &s)) == 1) {
		if ((rc = sim_trace_add(t, &s)) < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(-rc));
			break;
		}
	}
	if (rc < 0 && rc != -ENOMEM && rc != -EOVERFLOW)
		snprintf(err, errlen, "%s", trace_error(r));
	trace_close(r);
	if (rc < 0)
		sim_trace_free(t);
	return rc;
}

void
sim_trace_free(struct sim_trace *t)
{
	free(t->rec);
	free(t->key);
	free(t->map);
	memset(t, 0, sizeof(*t));
}
