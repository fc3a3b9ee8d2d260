/*
 * chan.h - the agent's channel to the host shim: budget in, stats out,
 * and the pre-fault handshake before PEBS is enabled.
 *
 * Transports: AF_VSOCK to the host (CID 2), a virtio-serial port, or a
 * Unix socket.  The channel never blocks: connects are non-blocking, the
 * loop polls chan_fd() for chan_events(), and everything time-driven
 * (reconnect with exponential backoff, HELLO retries, STATS, pre-fault
 * timeout) happens in chan_tick().  While the shim is away the agent
 * keeps the last budget it was given.
 */
#ifndef VTIER_AGENT_CHAN_H
#define VTIER_AGENT_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vtier/proto.h"
#include "config.h"

enum chan_state {
	CHAN_OFF = 0,		/* transport = none */
	CHAN_DOWN,		/* not connected; retried after a backoff */
	CHAN_CONNECTING,	/* non-blocking connect under way */
	CHAN_HELLO,		/* HELLO sent, waiting for WELCOME */
	CHAN_UP,		/* WELCOME received */
};

enum chan_prefault {
	CHAN_PF_NONE = 0,	/* not asked */
	CHAN_PF_WAITING,	/* PREFAULT sent */
	CHAN_PF_DONE,		/* PREFAULT_DONE with status 0 */
	CHAN_PF_FAILED,		/* PREFAULT_DONE with an error, or ERROR */
	CHAN_PF_TIMEOUT,	/* no answer within the timeout */
};

/* What a chan_io/chan_tick call brought in. */
struct chan_event {
	bool budget;		/* a new budget: budget_bytes */
	uint64_t budget_bytes;
	bool prefault;		/* the pre-fault step finished (any outcome) */
};

struct chan_info {
	enum shim_transport transport;
	enum chan_state state;
	enum chan_prefault prefault;
	char vm[PROTO_NAME_MAX + 1];	/* as the shim named us */
	uint64_t connects;		/* WELCOMEs received */
	uint64_t bad_frames;		/* malformed frames from the shim */
	uint64_t pinned_bytes;		/* from PREFAULT_DONE */
	int32_t prefault_status;
	uint32_t shim_caps;		/* PROTO_CAP_* in the last WELCOME */
};

struct chan;

/*
 * hello: the HELLO to send on every (re)connect (vNUMA layout and
 * capabilities).  Nothing is connected yet.  0 or -errno.
 */
int chan_open(struct chan **cp, const struct agent_config *cfg,
    const struct proto_msg *hello);
/* Says BYE when up, closes. */
void chan_close(struct chan *c);

/* The fd to poll and the poll events it needs, or -1 when none. */
int chan_fd(const struct chan *c);
unsigned chan_events(const struct chan *c);
/* Changes whenever a new fd is opened (fd numbers get reused). */
uint64_t chan_fd_gen(const struct chan *c);

/* The fd is ready: finish a connect, read and handle messages. */
void chan_io(struct chan *c, uint64_t now_ns, struct chan_event *ev);

/* Timers: connect when due, retry HELLO, send STATS, pre-fault timeout. */
void chan_tick(struct chan *c, uint64_t now_ns, const struct proto_stats *st,
    struct chan_event *ev);

/*
 * Ask the shim to pin these n guest-physical ranges (sorted, disjoint)
 * in place of what it pins for us now: one PREFAULT, or, when the shim
 * offered PROTO_CAP_PREFAULT_PARTS, PREFAULT_PART frames carrying flags
 * (PROTO_PF_FAST_NODE) and reason, sent as the shim reads them.
 * -ENOTCONN if not up; -E2BIG more than one PREFAULT holds for a shim
 * without parts; -ENOMEM.
 */
int chan_prefault(struct chan *c, const struct proto_range *r, size_t n,
    uint16_t flags, uint16_t reason, uint64_t now_ns);

void chan_info(const struct chan *c, struct chan_info *out);
const char *chan_state_name(enum chan_state s);
const char *chan_prefault_name(enum chan_prefault p);

#endif
