/*
 * fuzz_trace.c - the replay trace line parser (samples and "# lost N"
 * lines) and the agent's ini parser on arbitrary bytes.  Neither may read
 * past its input or crash; a line that parses must round-trip through the
 * text format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "sample.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[1024], again[128], path[64], err[512];
	struct agent_config cfg;
	struct sample s, t;
	uint64_t lost, again_lost;
	static int fd = -1;
	size_t n = size < sizeof(line) - 1 ? size : sizeof(line) - 1;

	memcpy(line, data, n);
	line[n] = '\0';
	if (sample_parse_line(line, &s) == 1) {
		snprintf(again, sizeof(again), "%llu %u 0x%llx %u %s",
		    (unsigned long long)s.time_ns, s.pid,
		    (unsigned long long)s.addr, s.weight,
		    s.op == SAMPLE_OP_STORE ? "S" : "L");
		if (sample_parse_line(again, &t) != 1 || t.addr != s.addr ||
		    t.pid != s.pid || t.time_ns != s.time_ns ||
		    t.weight != s.weight)
			abort();
	}

	if (sample_parse_lost(line, &lost) == 1) {
		snprintf(again, sizeof(again), "# lost %llu",
		    (unsigned long long)lost);
		if (lost == 0 || lost > UINT32_MAX ||
		    sample_parse_lost(again, &again_lost) != 1 ||
		    again_lost != lost || sample_parse_line(line, &t) != 0)
			abort();
	}

	/* the same bytes as an agent.ini */
	if (fd < 0 && (fd = memfd_create("fuzz.ini", 0)) < 0)
		abort();
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (config_load(path, &cfg, err, sizeof(err)) == 0 &&
	    config_validate(&cfg, err, sizeof(err)) != 0)
		abort();	/* a loaded config is a valid one */
	return 0;
}
