/*
 * fuzz_perf_ring.c - the perf ring reader on arbitrary ring contents.
 * Kernel records are still untrusted input (STYLE.md 5): whatever the
 * data area and data_head hold, perf_ring_read must stay inside the ring
 * and every record, and perf_ring_parse_sample inside its body.
 *
 * Input: byte 0 picks the sample_type, bytes 1..8 the data_head, the
 * rest fills a 4 KiB data area.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>

#include "perf_ring.h"

static void
sink(void *arg, const struct sample *s)
{
	(void)arg;
	(void)s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t types[] = {
		PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_ADDR,
		PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
		    PERF_SAMPLE_ADDR | PERF_SAMPLE_CPU | PERF_SAMPLE_WEIGHT |
		    PERF_SAMPLE_DATA_SRC,
		PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
		    PERF_SAMPLE_ADDR | PERF_SAMPLE_CPU |
		    PERF_SAMPLE_WEIGHT_STRUCT | PERF_SAMPLE_DATA_SRC |
		    PERF_SAMPLE_PHYS_ADDR,
		PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_ADDR |
		    PERF_SAMPLE_ID | PERF_SAMPLE_PERIOD,
	};
	static uint8_t *mem;
	struct perf_event_mmap_page *meta;
	struct perf_ring_sample ps;
	struct perf_ring r;
	uint64_t st, head;
	size_t n;

	if (size < 9)
		return 0;
	if (mem == NULL && (mem = aligned_alloc(4096, 8192)) == NULL)
		abort();
	st = types[data[0] % (sizeof(types) / sizeof(types[0]))];
	memcpy(&head, data + 1, 8);
	data += 9;
	size -= 9;
	/* the parser on its own, on a body of exactly the input's size */
	perf_ring_parse_sample(st, data, size, &ps);

	memset(mem, 0, 8192);
	n = size < 4096 ? size : 4096;
	memcpy(mem + 4096, data, n);
	memset(&r, 0, sizeof(r));
	if (perf_ring_init_mem(&r, mem, 4096, 4096, st) < 0)
		return 0;
	meta = (struct perf_event_mmap_page *)mem;
	/* a head anywhere up to twice around the ring, wrapping included */
	meta->data_head = head % (3 * 4096);
	meta->data_tail = 0;
	for (int i = 0; i < 4; i++)
		if (perf_ring_read(&r, sink, NULL, 64) <= 0)
			break;
	perf_ring_close(&r);
	return 0;
}
