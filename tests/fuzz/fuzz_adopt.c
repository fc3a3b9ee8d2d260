/*
 * fuzz_adopt.c - the adopter's parser of /proc/PID/maps and numa_maps
 * text (kernel output, but read from a process that may be changing it)
 * on arbitrary bytes.  The input is the maps text, a NUL, the numa_maps
 * text.  It may not read past either; what it returns is page-aligned,
 * in order, not overlapping, below 2^47; the count does not depend on the
 * room given, and a smaller room gets a prefix of the same ranges.
 */
#include <stdlib.h>
#include <string.h>

#include "adopt.h"
#include "heat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *maps = (const char *)data, *numa, *nul;
	struct adopt_vma v[64], w[4];
	size_t mlen, nlen, n, k;
	char *m, *u;
	uint64_t fast = size ? (uint64_t)data[0] * 0x0101010101010101ULL : 1;

	nul = memchr(data, '\0', size);
	mlen = nul ? (size_t)(nul - maps) : size;
	numa = nul ? nul + 1 : maps;
	nlen = nul ? size - mlen - 1 : size;
	/* exact-size copies: ASan catches a read one past the end */
	m = malloc(mlen ? mlen : 1);
	u = malloc(nlen ? nlen : 1);
	if (m == NULL || u == NULL)
		abort();
	memcpy(m, maps, mlen);
	memcpy(u, numa, nlen);
	n = adopt_parse_vmas(m, mlen, u, nlen, fast, v, 64);
	if (adopt_parse_vmas(m, mlen, u, nlen, fast, NULL, 0) != n)
		abort();
	k = adopt_parse_vmas(m, mlen, u, nlen, fast, w, 4);
	if (k != n || memcmp(w, v, sizeof(w[0]) * (n < 4 ? n : 4)) != 0)
		abort();
	for (size_t i = 0; i < n && i < 64; i++) {
		if (v[i].start >= v[i].end || v[i].end > HEAT_ADDR_LIMIT ||
		    (v[i].start | v[i].end) % 4096 != 0 ||
		    (i > 0 && v[i].start < v[i - 1].end))
			abort();
	}
	free(m);
	free(u);
	return 0;
}
