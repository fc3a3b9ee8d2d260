/*
 * util.c - strict parsers and small I/O helpers (see util.h).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "vtier/util.h"

int
parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

int
parse_hex_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	int n = 0;

	if (s == NULL)
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (; *s; s++, n++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return -EINVAL;
		if (v >> 60)
			return -ERANGE;
		v = (v << 4) | (uint64_t)d;
	}
	if (n == 0)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Split "123abc" into its leading digits and the suffix. */
static int
split_number(const char *s, uint64_t *num, const char **suffix)
{
	char digits[32];
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	if (n == 0 || n >= sizeof(digits))
		return n == 0 ? -EINVAL : -ERANGE;
	memcpy(digits, s, n);
	digits[n] = '\0';
	*suffix = s + n;
	return parse_u64(digits, num);
}

static int
mul_check(uint64_t a, uint64_t b, uint64_t *out)
{
	if (b != 0 && a > UINT64_MAX / b)
		return -ERANGE;
	*out = a * b;
	return 0;
}

struct unit {
	const char *sfx;
	uint64_t mul;
};

/* A number followed by one of the table's suffixes ("" = no suffix). */
static int
parse_with_units(const char *s, const struct unit *units, size_t n,
    int (*cmp)(const char *, const char *), uint64_t *out)
{
	const char *sfx;
	uint64_t v;
	int rc;

	if (s == NULL)
		return -EINVAL;
	if ((rc = split_number(s, &v, &sfx)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (cmp(sfx, units[i].sfx) == 0)
			return mul_check(v, units[i].mul, out);
	return -EINVAL;
}

int
parse_size(const char *s, uint64_t *out)
{
	static const struct unit units[] = {
		{ "", 1 }, { "B", 1 },
		{ "K", KiB }, { "KB", KiB }, { "KiB", KiB },
		{ "M", MiB }, { "MB", MiB }, { "MiB", MiB },
		{ "G", GiB }, { "GB", GiB }, { "GiB", GiB },
		{ "T", 1024 * GiB }, { "TB", 1024 * GiB }, { "TiB", 1024 * GiB },
	};

	return parse_with_units(s, units, ARRAY_SIZE(units), strcasecmp, out);
}

int
parse_duration_ms(const char *s, uint64_t *out)
{
	static const struct unit units[] = {
		{ "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "min", 60000 }, { "h", 3600000 },
	};

	return parse_with_units(s, units, ARRAY_SIZE(units), strcmp, out);
}

int
parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}

int
parse_nodelist(const char *s, uint64_t *mask)
{
	uint64_t m = 0;
	const char *p = s;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	for (;;) {
		uint64_t a, b;
		const char *sfx;
		char part[32];
		size_t n = strcspn(p, ",");

		if (n == 0 || n >= sizeof(part))
			return -EINVAL;
		memcpy(part, p, n);
		part[n] = '\0';
		if (split_number(part, &a, &sfx) < 0)
			return -EINVAL;
		b = a;
		if (*sfx == '-') {
			const char *end;

			if (split_number(sfx + 1, &b, &end) < 0 || *end != '\0')
				return -EINVAL;
		} else if (*sfx != '\0') {
			return -EINVAL;
		}
		if (a > b || b > 63)
			return -ERANGE;
		for (uint64_t i = a; i <= b; i++)
			m |= 1ULL << i;
		if (p[n] == '\0')
			break;
		p += n + 1;
	}
	*mask = m;
	return 0;
}

void
format_nodelist(uint64_t mask, char *buf, size_t len)
{
	size_t off = 0;
	int i = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	while (i < 64) {
		int j;

		if (!(mask & (1ULL << i))) {
			i++;
			continue;
		}
		j = i;
		while (j + 1 < 64 && (mask & (1ULL << (j + 1))))
			j++;
		if (off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%d",
			    off ? "," : "", i);
		if (j > i && off < len)
			off += (size_t)snprintf(buf + off, len - off, "-%d", j);
		i = j + 1;
	}
}

void
format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	uint64_t v = bytes;
	int u = -1;

	while (u < 3 && v >= 1024 && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%llu", (unsigned long long)v);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)v, units[u]);
}

uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t
process_cpu_ns(void)
{
	return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

uint64_t
thread_cpu_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

ssize_t
read_file(const char *path, char *buf, size_t len)
{
	size_t off = 0;
	int fd, err;

	if (len == 0)
		return -EINVAL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, buf + off, len - 1 - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			close(fd);
			return err;
		}
		if (n == 0)
			break;
		off += (size_t)n;
		if (off == len - 1) {
			char c;

			n = read(fd, &c, 1);
			close(fd);
			buf[off] = '\0';
			return n > 0 ? -EFBIG : (ssize_t)off;
		}
	}
	close(fd);
	buf[off] = '\0';
	return (ssize_t)off;
}

int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void *
calloc_touched(size_t n, size_t size)
{
	size_t bytes;
	void *p;

	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	bytes = n * size;
	if ((p = malloc(bytes != 0 ? bytes : 1)) != NULL)
		memset(p, 0, bytes);
	return p;
}

int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}
