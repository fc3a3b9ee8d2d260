/*
 * proc.c - managed-process filter and exit tracking (see proc.h).
 *
 * An open-addressing table of pids.  Unmanaged verdicts are cached too,
 * so a busy unmanaged process costs one lookup per sample; they are
 * re-examined after PROC_RECHECK_NS because a process's RSS grows (and
 * its name can change at exec).  Deletion uses tombstones; the table is
 * rebuilt in place when tombstones pile up.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "config.h"
#include "proc.h"

#define PROC_RECHECK_NS (10ULL * 1000000000ULL)

enum { SLOT_EMPTY = 0, SLOT_USED, SLOT_TOMB };

struct pslot {
	uint32_t pid;
	uint8_t state;
	bool managed;
	int pidfd;		/* managed only, else -1 */
	uint64_t checked_ns;
};

struct procs {
	char procfs[256];
	struct pslot slot[PROC_TABLE_SLOTS];
	size_t used, tombs, managed;
	const struct agent_config *cfg;
	uint32_t self;
	struct pollfd pfd[PROC_TABLE_SLOTS];
	uint32_t pfd_slot[PROC_TABLE_SLOTS];
};

static inline unsigned
pid_hash(uint32_t pid)
{
	return (pid * 2654435761u) & (PROC_TABLE_SLOTS - 1);
}

int
proc_create(struct procs **pp, const char *procfs)
{
	struct procs *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	snprintf(p->procfs, sizeof(p->procfs), "%s", procfs);
	p->self = (uint32_t)getpid();
	*pp = p;
	return 0;
}

static void
slot_clear(struct procs *p, struct pslot *s)
{
	if (s->managed) {
		close(s->pidfd);
		p->managed--;
	}
	s->state = SLOT_TOMB;
	s->managed = false;
	s->pidfd = -1;
	p->used--;
	p->tombs++;
}

void
proc_destroy(struct procs *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < PROC_TABLE_SLOTS; i++)
		if (p->slot[i].state == SLOT_USED && p->slot[i].managed)
			close(p->slot[i].pidfd);
	free(p);
}

/* Drop every cached verdict; keep pidfds of processes still managed. */
void
proc_set_config(struct procs *p, const struct agent_config *cfg)
{
	p->cfg = cfg;
	for (size_t i = 0; i < PROC_TABLE_SLOTS; i++)
		p->slot[i].checked_ns = 0;
}

static bool
name_in(const char (*list)[CONFIG_COMM_LEN], int n, const char *comm)
{
	for (int i = 0; i < n; i++)
		if (strcmp(list[i], comm) == 0)
			return true;
	return false;
}

/* Decide from procfs; false for kernel threads and vanished pids. */
static bool
examine(struct procs *p, uint32_t pid)
{
	const struct agent_config *cfg = p->cfg;
	char path[300], buf[256];
	unsigned long long size, rss;
	ssize_t n;

	if (pid == p->self)
		return false;
	snprintf(path, sizeof(path), "%s/%u/comm", p->procfs, pid);
	if ((n = read_file(path, buf, sizeof(buf))) <= 0)
		return false;
	buf[strcspn(buf, "\n")] = '\0';
	if (cfg != NULL) {
		if (cfg->ninclude > 0 &&
		    !name_in(cfg->include, cfg->ninclude, buf))
			return false;
		if (name_in(cfg->exclude, cfg->nexclude, buf))
			return false;
	}
	snprintf(path, sizeof(path), "%s/%u/statm", p->procfs, pid);
	if (read_file(path, buf, sizeof(buf)) <= 0 ||
	    sscanf(buf, "%llu %llu", &size, &rss) != 2)
		return false;
	if (size == 0)
		return false;	/* kernel thread: no user memory */
	if (cfg != NULL && rss * (unsigned long long)sysconf(_SC_PAGESIZE) <
	    cfg->min_rss)
		return false;
	return true;
}

static struct pslot *
find(struct procs *p, uint32_t pid, bool insert)
{
	unsigned h = pid_hash(pid);
	struct pslot *tomb = NULL;

	for (unsigned i = 0; i < PROC_TABLE_SLOTS; i++) {
		struct pslot *s = &p->slot[(h + i) & (PROC_TABLE_SLOTS - 1)];

		if (s->state == SLOT_EMPTY) {
			if (!insert)
				return NULL;
			return tomb ? tomb : s;
		}
		if (s->state == SLOT_TOMB) {
			if (tomb == NULL)
				tomb = s;
		} else if (s->pid == pid) {
			return s;
		}
	}
	return insert ? tomb : NULL;
}

/* Re-insert every live slot: clears the tombstones. */
static void
rebuild(struct procs *p)
{
	struct pslot *old = malloc(sizeof(p->slot));

	if (old == NULL)
		return;		/* try again on a later insert */
	memcpy(old, p->slot, sizeof(p->slot));
	memset(p->slot, 0, sizeof(p->slot));
	for (size_t i = 0; i < PROC_TABLE_SLOTS; i++)
		if (old[i].state == SLOT_USED)
			*find(p, old[i].pid, true) = old[i];
	p->tombs = 0;
	free(old);
}

bool
proc_managed(struct procs *p, uint32_t pid)
{
	struct pslot *s = find(p, pid, false);
	uint64_t now;
	bool managed;

	if (s != NULL && s->state == SLOT_USED) {
		if (s->managed)
			return true;
		now = now_ns();
		if (now - s->checked_ns < PROC_RECHECK_NS)
			return false;
		/* re-examine below, reusing the slot */
		slot_clear(p, s);
	} else {
		now = now_ns();
	}
	if (p->tombs > PROC_TABLE_SLOTS / 4)
		rebuild(p);
	if (p->used + p->tombs >= PROC_TABLE_SLOTS * 3 / 4) {
		static struct ratelimit rl;

		if (ratelimit_ok(&rl, 60))
			log_warnx("process table full (%d pids): new processes "
			    "are not managed (their samples ignored, their "
			    "pages not adopted)", PROC_TABLE_SLOTS * 3 / 4);
		return false;
	}
	managed = examine(p, pid);
	s = find(p, pid, true);
	if (s->state == SLOT_TOMB)
		p->tombs--;
	memset(s, 0, sizeof(*s));
	s->pid = pid;
	s->state = SLOT_USED;
	s->pidfd = -1;
	s->checked_ns = now;
	p->used++;
	if (managed) {
		int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);

		if (fd < 0) {
			/* gone already (or no pidfd support): not managed */
			if (errno != ESRCH)
				log_warn("pidfd_open %u", pid);
			return false;
		}
		s->pidfd = fd;
		s->managed = true;
		p->managed++;
		log_debug("managing pid %u", pid);
	}
	return s->managed;
}

/*
 * A pidfd polls readable once its process has exited (zombie or reaped),
 * so one poll() over every managed pidfd finds all exits at once.
 */
size_t
proc_reap(struct procs *p, void (*fn)(void *arg, uint32_t pid), void *arg)
{
	size_t n = 0, k = 0;

	for (size_t i = 0; i < PROC_TABLE_SLOTS; i++) {
		struct pslot *s = &p->slot[i];

		if (s->state != SLOT_USED || !s->managed)
			continue;
		p->pfd[k].fd = s->pidfd;
		p->pfd[k].events = POLLIN;
		p->pfd[k].revents = 0;
		p->pfd_slot[k++] = (uint32_t)i;
	}
	if (k == 0 || poll(p->pfd, (nfds_t)k, 0) <= 0)
		return 0;
	for (size_t j = 0; j < k; j++) {
		struct pslot *s = &p->slot[p->pfd_slot[j]];

		if (!(p->pfd[j].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		log_debug("pid %u exited", s->pid);
		fn(arg, s->pid);
		slot_clear(p, s);
		n++;
	}
	return n;
}

void
proc_forget(struct procs *p, uint32_t pid)
{
	struct pslot *s = find(p, pid, false);

	if (s != NULL && s->state == SLOT_USED)
		slot_clear(p, s);
}

size_t
proc_count_managed(const struct procs *p)
{
	return p->managed;
}

uint32_t
proc_next_managed(const struct procs *p, uint32_t after)
{
	uint32_t best = 0;

	for (size_t i = 0; i < PROC_TABLE_SLOTS; i++) {
		const struct pslot *s = &p->slot[i];

		if (s->state == SLOT_USED && s->managed && s->pid > after &&
		    (best == 0 || s->pid < best))
			best = s->pid;
	}
	return best;
}

size_t
proc_scan(struct procs *p)
{
	DIR *d = opendir(p->procfs);
	struct dirent *de;

	if (d == NULL)
		return p->managed;
	while ((de = readdir(d)) != NULL) {
		uint64_t pid;

		if (parse_u64(de->d_name, &pid) == 0 && pid > 0 &&
		    pid <= UINT32_MAX)
			(void)proc_managed(p, (uint32_t)pid);
	}
	closedir(d);
	return p->managed;
}
