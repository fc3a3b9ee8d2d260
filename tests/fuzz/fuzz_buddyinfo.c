/*
 * fuzz_buddyinfo.c - compact.c's reader of /proc/buddyinfo text
 * (compact_parse_buddyinfo) on arbitrary bytes.  The first byte picks
 * the node mask, the second the order, the rest is the text.  It may not
 * read past the text's NUL; a node outside the mask gets 0; the same
 * input gives the same result; no node's figure exceeds what the
 * orders below the limit can hold (2^40 blocks each, checked there).
 */
#include <stdlib.h>
#include <string.h>

#include "compact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t a[64], b[64], mask;
	int order;
	char *t;

	if (size < 2)
		return 0;
	mask = (uint64_t)data[0] * 0x0101010101010101ULL;
	order = data[1] % 13;
	/* an exact-size copy: ASan catches a read one past the NUL */
	if ((t = malloc(size - 1)) == NULL)
		abort();
	memcpy(t, data + 2, size - 2);
	t[size - 2] = '\0';
	compact_parse_buddyinfo(t, mask, order, a);
	compact_parse_buddyinfo(t, mask, order, b);
	if (memcmp(a, b, sizeof(a)) != 0)
		abort();
	for (int i = 0; i < 64; i++)
		if ((!(mask >> i & 1) && a[i] != 0) || (order == 0 && a[i] != 0))
			abort();
	free(t);
	return 0;
}
