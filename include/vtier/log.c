/*
 * log.c - stderr logging for vtier programs (see log.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vtier/log.h"

_Atomic int log_level = LOG_LVL_INFO;
static const char *log_ident = "vtier";

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
log_init(const char *ident, int level)
{
	log_ident = ident;
	log_set_level(level);
}

void
log_set_level(int level)
{
	if (level < LOG_LVL_ERR)
		level = LOG_LVL_ERR;
	if (level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;
	log_level = level;
}

int
log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	if (strcmp(s, "warning") == 0)
		return LOG_LVL_WARN;
	return -1;
}

const char *
log_level_name(int level)
{
	if (level < 0 || level > LOG_LVL_DEBUG)
		return "?";
	return level_names[level];
}

static void
vlog(const char *tag, int with_errno, int saved_errno, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno)
		fprintf(stderr, "%s: %s%s: %s\n", log_ident, tag, msg,
		    strerror(saved_errno));
	else
		fprintf(stderr, "%s: %s%s\n", log_ident, tag, msg);
}

#define LOGFN(name, tag, with_errno)				\
void								\
name(const char *fmt, ...)					\
{								\
	int saved = errno;					\
	va_list ap;						\
								\
	va_start(ap, fmt);					\
	vlog(tag, with_errno, saved, fmt, ap);			\
	va_end(ap);						\
	errno = saved;						\
}

LOGFN(log_warn_, "warning: ", 1)
LOGFN(log_warnx_, "warning: ", 0)
LOGFN(log_info_, "", 0)
LOGFN(log_debug_, "debug: ", 0)
LOGFN(log_err_, "error: ", 0)

int
ratelimit_ok(struct ratelimit *rl, unsigned interval_s)
{
	struct timespec ts;
	long long now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	if (now < rl->next_ns) {
		rl->suppressed++;
		return 0;
	}
	if (rl->suppressed && log_level >= LOG_LVL_WARN)
		fprintf(stderr, "%s: (%u similar messages suppressed)\n",
		    log_ident, rl->suppressed);
	rl->suppressed = 0;
	rl->next_ns = now + (long long)interval_s * 1000000000LL;
	return 1;
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog("fatal: ", 1, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("fatal: ", 0, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
