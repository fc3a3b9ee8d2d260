/*
 * util.h - small helpers shared by the agent, the shim and the tools:
 * strict number parsing, clocks, whole-file reads, a zeroed allocation.
 *
 * Every parser here accepts the whole string or fails with -EINVAL
 * (-ERANGE on overflow); none of them skips trailing junk.
 */
#ifndef VTIER_UTIL_H
#define VTIER_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define KiB (1024ULL)
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)

/* Decimal unsigned integer, no sign, no suffix. */
int parse_u64(const char *s, uint64_t *out);
/* Hexadecimal with or without 0x. */
int parse_hex_u64(const char *s, uint64_t *out);
/* Bytes: "4096", "64K", "512M", "2G", "1T" (binary units, optional "iB"/"B"). */
int parse_size(const char *s, uint64_t *out);
/* Duration to milliseconds: "250ms", "2s", "1m"; a bare number is ms. */
int parse_duration_ms(const char *s, uint64_t *out);
/* Boolean: yes/no, true/false, on/off, 1/0. */
int parse_bool(const char *s, int *out);
/* Node list "0", "0-2,4" into a 64-bit mask (nodes 0..63). */
int parse_nodelist(const char *s, uint64_t *mask);
/* Format a mask back into "0-2,4" form. */
void format_nodelist(uint64_t mask, char *buf, size_t len);
/* Format bytes with a binary unit, e.g. "512M", "1G", "12345". */
void format_size(uint64_t bytes, char *buf, size_t len);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);
/* The calling process's CPU time (all threads) in nanoseconds, 0 if unknown. */
uint64_t process_cpu_ns(void);
/* The calling thread's CPU time in nanoseconds, 0 if unknown. */
uint64_t thread_cpu_ns(void);

/*
 * Read a whole (small, sysfs/procfs) file into buf, NUL-terminated,
 * trailing newline kept.  Returns bytes read or -errno; -EFBIG if it
 * does not fit.
 */
ssize_t read_file(const char *path, char *buf, size_t len);

/* Write all of buf, retrying on EINTR and short writes. 0 or -errno. */
int write_all(int fd, const void *buf, size_t len);

/* qsort/bsearch order of two uint64_t. */
int cmp_u64(const void *a, const void *b);

/*
 * calloc whose pages are all written before it returns.  A large calloc
 * is fresh mmap'd memory that reads map to the shared zero page; the
 * first write to such a page then copies it and flushes the TLB of every
 * CPU the process runs on.  A table filled by probing (read a slot, then
 * write it) took both faults and a shootdown per 4 KiB page; written
 * first, each page takes one plain fault.  NULL (errno ENOMEM) on
 * overflow or no memory.
 */
void *calloc_touched(size_t n, size_t size);

#endif
