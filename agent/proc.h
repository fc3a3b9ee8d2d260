/*
 * proc.h - which processes the agent manages.  A sample's pid, and every
 * pid in procfs when the adopter starts a pass (proc_scan), is checked
 * once against [processes] (command name include/exclude lists, minimum
 * RSS) and the answer cached.  Managed processes are held by a pidfd, so
 * an exit is noticed exactly (never confused with a reused pid) by
 * proc_reap(), which the loop calls every tick.
 *
 * Used with the real migrator only; the sim backend's pids are not
 * processes of this machine.
 */
#ifndef VTIER_AGENT_PROC_H
#define VTIER_AGENT_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agent_config;
struct procs;

#define PROC_TABLE_SLOTS 8192	/* pids remembered at once (power of two) */

/* procfs root is a parameter for tests ("/proc" in production). */
int proc_create(struct procs **pp, const char *procfs);
void proc_destroy(struct procs *p);

/* New config on reload: forget cached verdicts. */
void proc_set_config(struct procs *p, const struct agent_config *cfg);

/* Is pid managed?  Reads /proc/PID/{comm,statm} on first sight only. */
bool proc_managed(struct procs *p, uint32_t pid);

/*
 * Find managed processes that have exited; for each, call fn (the agent
 * drops its heat entries) and forget it.  Returns how many exited.
 */
size_t proc_reap(struct procs *p, void (*fn)(void *arg, uint32_t pid),
    void *arg);

/* Forget a pid (the migrator saw ESRCH); its pidfd is closed. */
void proc_forget(struct procs *p, uint32_t pid);

size_t proc_count_managed(const struct procs *p);

/*
 * Look at every process in procfs (proc_managed on each, so verdicts are
 * cached and rechecked as for sampled pids): processes that were never
 * sampled, idle ones, become managed too.  Returns how many are managed.
 */
size_t proc_scan(struct procs *p);

/* The lowest managed pid above after, or 0 when there is none. */
uint32_t proc_next_managed(const struct procs *p, uint32_t after);

#endif
