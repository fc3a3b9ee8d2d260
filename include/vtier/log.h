/*
 * log.h - logging shared by every vtier program.
 *
 * Daemons run in the foreground under systemd and log to stderr, one line
 * per message, prefixed with the level.  The level is checked before any
 * formatting happens, so log_debug() on a hot path costs one compare.
 */
#ifndef VTIER_LOG_H
#define VTIER_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LVL_ERR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

/*
 * Current level; only log.c writes it (through log_init/log_set_level).
 * Atomic: the agent's worker thread logs while a reload may change it.
 */
extern _Atomic int log_level;

/* Set the program name printed before each line and the level. */
void log_init(const char *ident, int level);
void log_set_level(int level);
/* "error", "warn", "info", "debug" -> level, or -1. */
int log_level_parse(const char *s);
const char *log_level_name(int level);

/* log_warn appends ": strerror(errno)"; the others print the text as is. */
void log_warn_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_warn(...)  do { if (log_level >= LOG_LVL_WARN) log_warn_(__VA_ARGS__); } while (0)
#define log_warnx(...) do { if (log_level >= LOG_LVL_WARN) log_warnx_(__VA_ARGS__); } while (0)
#define log_info(...)  do { if (log_level >= LOG_LVL_INFO) log_info_(__VA_ARGS__); } while (0)
#define log_debug(...) do { if (log_level >= LOG_LVL_DEBUG) log_debug_(__VA_ARGS__); } while (0)
#define log_err(...)   log_err_(__VA_ARGS__)

/*
 * Rate limit for hot paths: at most one message per interval per call
 * site.  Usage:  static struct ratelimit rl; if (ratelimit_ok(&rl, 10)) ...
 */
struct ratelimit {
	long long next_ns;
	unsigned suppressed;
};
int ratelimit_ok(struct ratelimit *rl, unsigned interval_s);

/* Start-up failures and broken invariants only. fatal adds strerror(errno). */
__attribute__((noreturn, format(printf, 1, 2))) void fatal(const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2))) void fatalx(const char *fmt, ...);

#endif
