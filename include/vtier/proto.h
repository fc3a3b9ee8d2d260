/*
 * proto.h - the agent <-> host shim wire protocol (shared by both sides).
 *
 * A byte stream (AF_VSOCK, virtio-serial, Unix socket) carries frames.
 * Every frame is a fixed 24-byte header followed by a payload whose size
 * is exact or bounded per message type.  All integers are little-endian
 * and are read and written one byte at a time: no struct is ever laid
 * over a buffer, there are no bitfields and no padding on the wire.
 *
 * Header (24 bytes):
 *
 *   off size field      value
 *    0   4   magic      PROTO_MAGIC: the bytes 'V' 'T' 'I' 'R' on the wire
 *    4   2   version    PROTO_VERSION (1)
 *    6   2   type       enum proto_type
 *    8   2   flags      0 (no flags are defined in version 1)
 *   10   2   reserved   0
 *   12   4   length     whole frame, header included: [24, PROTO_MAX_FRAME]
 *   16   4   sequence   sender's counter, echoed by nobody, for logs only
 *   20   4   reserved2  0
 *
 * Payloads (offsets from the end of the header; "n" is the count field):
 *
 *   type              dir  size          layout
 *   1  HELLO          a>s  10+12n, n 1-64  u32 agent_version, u32 caps,
 *                                       u16 nnodes, nnodes x { u16 id,
 *                                       u16 flags, u64 mem_bytes }
 *   2  WELCOME        s>a  14+n or     u32 shim_version, u64 budget,
 *                          18+n, n 1-64  u16 name_len, name (printable),
 *                                       [u32 caps]
 *   3  BUDGET         s>a  8             u64 budget
 *   4  PREFAULT       a>s  2+16n, n 1-64   u16 nranges, nranges x
 *                                       { u64 gpa, u64 size }
 *   5  PREFAULT_DONE  s>a  12            i32 status, u64 bytes_pinned
 *   6  STATS          a>s  108           13 x u64 (PROTO_STATS_FIELDS
 *                                       order), u32 flags
 *   7  PING           any  8             u64 token
 *   8  PONG           any  8             u64 token (the PING's)
 *   9  ERROR          any  6+n, n 0-200    u32 code, u16 text_len, text
 *   10 BYE            any  4             u32 reason
 *   11 PREFAULT_PART  a>s  6+16n, n 1-64   u16 flags, u16 reason,
 *                                       u16 nranges, nranges x
 *                                       { u64 gpa, u64 size }
 *
 * Semantic rules checked on decode and on encode (one validator):
 *   HELLO     node ids <= PROTO_MAX_NODE_ID and unique; node flags only
 *             PROTO_NODE_*; capability bits not known here are accepted
 *             (capabilities are negotiated by intersection).
 *   WELCOME   name 1-64 bytes of printable ASCII (0x20-0x7e); caps, when
 *             there, any bits but not 0 (absent means 0: an encoder
 *             writes the field only when caps != 0).
 *   PREFAULT  gpa and size 4 KiB aligned, size > 0, gpa + size neither
 *             wraps nor passes PROTO_GPA_LIMIT, ranges sorted by gpa and
 *             not overlapping (so the sizes add up to what gets pinned).
 *   PREFAULT_PART  ranges as PREFAULT; flags only PROTO_PF_*; reason 0
 *             unless PROTO_PF_FAST_NODE (unknown reasons are accepted and
 *             shown as numbers).
 *   PREFAULT_DONE  status 0 or -errno (-4095..-1).
 *   STATS     flags only PROTO_STATS_*.
 *   ERROR     code != 0; text printable ASCII.
 *
 * Decoding checks, in this fixed order, and the error for each:
 *   fewer bytes than a header / than the frame   -EAGAIN  (need more)
 *   magic                                        -EILSEQ  (not a vtier stream)
 *   version                                      -EPROTONOSUPPORT
 *   flags, reserved, reserved2 not zero          -EPROTO
 *   length outside [24, PROTO_MAX_FRAME]         -EMSGSIZE
 *   type unknown                                 -ENOMSG
 *   payload size outside the type's [min, max]   -EBADMSG
 *   count disagrees with the payload size        -EBADMSG
 *   a field value breaks a rule above            -EINVAL
 * Everything down to the type's payload size is in the header, so a
 * stream reader refuses such a frame before it buffers any of its body.
 * Any error but -EAGAIN means a broken or incompatible peer: drop the
 * connection; after -EPROTONOSUPPORT first send an ERROR with
 * PROTO_ERR_VERSION saying which version this side speaks.  (New message
 * types are to be negotiated with a capability bit in HELLO, so a peer
 * never sends a type the other side did not ask for.)
 *
 * Capabilities: the agent offers PROTO_CAP_* in HELLO.  A shim that knows
 * PROTO_CAP_PREFAULT_PARTS answers with the bits it shares in WELCOME's
 * caps; an older shim ignores the bits it does not know and sends a
 * WELCOME without caps, and an agent that did not offer the bit never
 * gets the field.  So old peers on either side keep working.
 *
 * Pre-fault sets.  A PREFAULT replaces what is pinned for the VM with its
 * ranges, at most PROTO_MAX_RANGES of them.  With PROTO_CAP_PREFAULT_PARTS
 * in WELCOME's caps the agent may send one set as several PREFAULT_PART
 * frames instead, the last one with PROTO_PF_LAST; the set (up to
 * PROTO_MAX_SET_RANGES ranges, sorted and disjoint across all its frames)
 * replaces the pinned set as one PREFAULT would, and the shim answers the
 * last frame with one PREFAULT_DONE, or one ERROR for the whole set.
 * The last frame's flags and reason say what the set is: with
 * PROTO_PF_FAST_NODE a fallback to the fast nodes' memory, reason saying
 * why the PEBS buffers could not be found; without it, the PEBS buffers.
 *
 * Every function returns 0 (or a length) or -errno; nothing allocates,
 * logs or keeps state outside its arguments.
 */
#ifndef VTIER_PROTO_H
#define VTIER_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_MAGIC		0x52495456u	/* "VTIR" in wire order */
#define PROTO_VERSION		1
#define PROTO_HDR_LEN		24
#define PROTO_VSOCK_PORT	7340	/* the shim's default AF_VSOCK port */
#define PROTO_MAX_FRAME		4096

#define PROTO_MAX_NODES		64
#define PROTO_MAX_NODE_ID	1023	/* Linux MAX_NUMNODES is <= 1024 */
#define PROTO_MAX_RANGES	64	/* per PREFAULT or PREFAULT_PART frame */
#define PROTO_MAX_SET_RANGES	16384	/* per set of PREFAULT_PART frames */
#define PROTO_NAME_MAX		64
#define PROTO_TEXT_MAX		200
#define PROTO_PAGE_SIZE		4096ULL
/* x86-64 and arm64 guest-physical addresses are at most 52 bits. */
#define PROTO_GPA_LIMIT		(1ULL << 52)

/* Software versions in HELLO/WELCOME: major << 16 | minor << 8 | patch. */
#define PROTO_SW_VERSION(maj, min, pat) \
	((uint32_t)(maj) << 16 | (uint32_t)(min) << 8 | (uint32_t)(pat))

enum proto_type {
	PROTO_HELLO = 1,
	PROTO_WELCOME = 2,
	PROTO_BUDGET = 3,
	PROTO_PREFAULT = 4,
	PROTO_PREFAULT_DONE = 5,
	PROTO_STATS = 6,
	PROTO_PING = 7,
	PROTO_PONG = 8,
	PROTO_ERROR = 9,
	PROTO_BYE = 10,
	PROTO_PREFAULT_PART = 11,	/* with PROTO_CAP_PREFAULT_PARTS */
	PROTO_TYPE_MAX = PROTO_PREFAULT_PART,
};

/* HELLO capabilities (agent side). */
#define PROTO_CAP_PREFAULT	(1u << 0)	/* will ask for PREFAULT */
#define PROTO_CAP_STATS		(1u << 1)	/* sends STATS */
#define PROTO_CAP_PEBS		(1u << 2)	/* samples with guest PEBS */
#define PROTO_CAP_IBS		(1u << 3)	/* samples with AMD IBS */
/* Agent: may send sets as PREFAULT_PART; shim (WELCOME): takes them. */
#define PROTO_CAP_PREFAULT_PARTS (1u << 4)

/* PREFAULT_PART flags. */
#define PROTO_PF_LAST		(1u << 0)	/* the set's last frame */
#define PROTO_PF_FAST_NODE	(1u << 1)	/* fast-node fallback, not the
						 * PEBS buffers */
#define PROTO_PF_FLAGS		(PROTO_PF_LAST | PROTO_PF_FAST_NODE)

/* PREFAULT_PART reason: why the agent fell back to the fast nodes. */
enum proto_pf_reason {
	PROTO_PF_WHY_NONE = 0,
	PROTO_PF_WHY_KALLSYMS = 1,	/* /proc/kallsyms hides addresses
					 * (kptr_restrict, CAP_SYSLOG) or
					 * lacks a symbol */
	PROTO_PF_WHY_BTF = 2,		/* no kernel BTF, or a struct member
					 * not as expected */
	PROTO_PF_WHY_KCORE = 3,		/* /proc/kcore unreadable (lockdown,
					 * CAP_SYS_RAWIO) */
	PROTO_PF_WHY_LAYOUT = 4,	/* an address failed a check */
	PROTO_PF_WHY_UNSUPPORTED = 5,	/* not an x86-64 guest */
	PROTO_PF_WHY_RANGES = 6,	/* more ranges than the shim takes */
};
/* HELLO per-node flags. */
#define PROTO_NODE_HAS_CPU	(1u << 0)
#define PROTO_NODE_FAST		(1u << 1)
#define PROTO_NODE_FLAGS	(PROTO_NODE_HAS_CPU | PROTO_NODE_FAST)

/* STATS flags. */
#define PROTO_STATS_BUDGET_UNATTAINABLE	(1u << 0) /* cannot get under budget */
#define PROTO_STATS_NO_PMU		(1u << 1) /* sampler is a fallback */
#define PROTO_STATS_FLAGS \
	(PROTO_STATS_BUDGET_UNATTAINABLE | PROTO_STATS_NO_PMU)

/* ERROR codes; unknown nonzero codes are accepted and shown as numbers. */
enum proto_err_code {
	PROTO_ERR_VERSION = 1,		/* unsupported protocol version */
	PROTO_ERR_MALFORMED = 2,	/* a frame failed to decode */
	PROTO_ERR_UNEXPECTED = 3,	/* valid message, wrong state/direction */
	PROTO_ERR_INTERNAL = 4,		/* the sender failed, not the message */
	PROTO_ERR_REFUSED = 5,		/* valid request outside what is allowed
					 * (e.g. PREFAULT outside the VM's
					 * memory or over its cap) */
};

/* BYE reasons; any value is accepted. */
enum proto_bye_reason {
	PROTO_BYE_SHUTDOWN = 1,		/* going away, do not expect a reconnect */
	PROTO_BYE_RESTART = 2,		/* restarting, reconnect */
	PROTO_BYE_ERROR = 3,		/* closing after an ERROR */
};

struct proto_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint16_t flags;
	uint16_t reserved;
	uint32_t length;
	uint32_t seq;
	uint32_t reserved2;
};

struct proto_node {
	uint16_t id;
	uint16_t flags;			/* PROTO_NODE_* */
	uint64_t mem_bytes;
};

struct proto_hello {
	uint32_t agent_version;		/* PROTO_SW_VERSION() */
	uint32_t caps;			/* PROTO_CAP_* */
	uint16_t nnodes;
	struct proto_node nodes[PROTO_MAX_NODES];
};

struct proto_welcome {
	uint32_t shim_version;
	uint64_t budget;		/* bytes of fast memory */
	char name[PROTO_NAME_MAX + 1];	/* NUL-terminated */
	uint32_t caps;			/* PROTO_CAP_* shared; 0: none/absent */
};

struct proto_budget {
	uint64_t budget;
};

struct proto_range {
	uint64_t gpa;
	uint64_t size;
};

/* PREFAULT and PREFAULT_PART (flags and reason are 0 in a PREFAULT). */
struct proto_prefault {
	uint16_t flags;			/* PROTO_PF_* */
	uint16_t reason;		/* enum proto_pf_reason */
	uint16_t nranges;
	struct proto_range ranges[PROTO_MAX_RANGES];
};

struct proto_prefault_done {
	int32_t status;			/* 0 or -errno */
	uint64_t bytes_pinned;
};

/* The STATS counters, in wire order: X(name) per u64. */
#define PROTO_STATS_FIELDS(X)						\
	X(fast_used)		/* bytes on fast nodes */		\
	X(slow_used)		/* bytes on slow nodes */		\
	X(budget)		/* the budget in force */		\
	X(hot_set_bytes)						\
	X(samples)		/* total since start */			\
	X(samples_per_s_milli)	/* recent rate x 1000 */		\
	X(lost_samples)							\
	X(promoted_pages)						\
	X(demoted_pages)						\
	X(promoted_bytes)						\
	X(demoted_bytes)						\
	X(migration_errors)						\
	X(uptime_ms)

struct proto_stats {
#define PROTO_STATS_MEMBER_(f) uint64_t f;
	PROTO_STATS_FIELDS(PROTO_STATS_MEMBER_)
#undef PROTO_STATS_MEMBER_
	uint32_t flags;			/* PROTO_STATS_* */
};

struct proto_ping {			/* PING and PONG */
	uint64_t token;
};

struct proto_error {
	uint32_t code;			/* enum proto_err_code */
	char text[PROTO_TEXT_MAX + 1];	/* NUL-terminated */
};

struct proto_bye {
	uint32_t reason;		/* enum proto_bye_reason */
};

struct proto_msg {
	uint16_t type;			/* enum proto_type */
	uint32_t seq;			/* set by decode; encode takes its own */
	union {
		struct proto_hello hello;
		struct proto_welcome welcome;
		struct proto_budget budget;
		struct proto_prefault prefault;	/* and PREFAULT_PART */
		struct proto_prefault_done prefault_done;
		struct proto_stats stats;
		struct proto_ping ping;		/* PING and PONG */
		struct proto_error error;
		struct proto_bye bye;
	} u;
};

/*
 * Encode m as one frame with sequence number seq into buf.  Returns the
 * frame length, or -ENOMSG (unknown type), -EINVAL (a field breaks a
 * rule), -ENOSPC (buf too small; PROTO_MAX_FRAME always suffices).
 */
int proto_encode(const struct proto_msg *m, uint32_t seq, uint8_t *buf,
    size_t len);

/*
 * Decode and check the header at buf, in the order listed above, up to
 * and including the type's payload size bounds.  h is filled whenever
 * len >= PROTO_HDR_LEN, even on error (to log the peer's version).
 */
int proto_decode_header(const uint8_t *buf, size_t len, struct proto_hdr *h);

/*
 * Decode the complete frame of exactly len bytes at buf into m (zeroed
 * first).  0, -EAGAIN if len is short of the frame, -EMSGSIZE if longer,
 * or the errors listed above.
 */
int proto_decode(const uint8_t *buf, size_t len, struct proto_msg *m);

/* Same type and payload (seq is not compared): 1 or 0. */
int proto_msg_equal(const struct proto_msg *a, const struct proto_msg *b);

/* Short reason for a proto_* error, for logs; never NULL. */
const char *proto_strerror(int err);
/* "HELLO" ... "PREFAULT_PART", or "UNKNOWN". */
const char *proto_type_name(uint16_t type);
/* "kallsyms", "btf", ... for a PREFAULT_PART reason; "none"; "unknown". */
const char *proto_pf_reason_name(uint16_t reason);

/* Builders: zero m and fill it in. */
void proto_msg_init(struct proto_msg *m, uint16_t type);
void proto_msg_budget(struct proto_msg *m, uint64_t budget);
void proto_msg_ping(struct proto_msg *m, uint64_t token);
void proto_msg_pong(struct proto_msg *m, uint64_t token);
void proto_msg_bye(struct proto_msg *m, uint32_t reason);
void proto_msg_prefault_done(struct proto_msg *m, int32_t status,
    uint64_t bytes_pinned);
/* -EINVAL unless name is 1..PROTO_NAME_MAX printable ASCII bytes. */
int proto_msg_welcome(struct proto_msg *m, uint32_t shim_version,
    uint64_t budget, const char *name);
/* Text is formatted, truncated to PROTO_TEXT_MAX, non-printables -> '?'. */
void proto_msg_error(struct proto_msg *m, uint32_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Append to an existing HELLO: 0 or -ENOSPC. */
int proto_hello_add_node(struct proto_msg *m, uint16_t id, uint16_t flags,
    uint64_t mem_bytes);
/*
 * Append a range to an existing PREFAULT or PREFAULT_PART, merging it
 * into the previous range when contiguous: 0 or -ENOSPC.  Rules are
 * checked at encode.
 */
int proto_prefault_add(struct proto_msg *m, uint64_t gpa, uint64_t size);

/*
 * Stream reassembly for non-blocking readers.  The buffer holds at most
 * one frame: feed takes bytes only up to the end of the current header,
 * checks the header the moment its 24 bytes are in (so a bad magic,
 * version or length is refused before any of the body is buffered), then
 * takes bytes up to the end of that frame and no further.
 *
 *	while (n > 0) {
 *		int k = proto_rbuf_feed(rb, p, n);
 *		if (k < 0) goto drop;
 *		p += k, n -= k;
 *		while ((r = proto_rbuf_next(rb, &m)) == 1)
 *			handle(&m);
 *		if (r < 0) goto drop;
 *	}
 *
 * A header error sticks: every later call returns it.  A complete frame
 * is consumed by proto_rbuf_next whether or not its payload decodes.
 */
struct proto_rbuf {
	uint8_t buf[PROTO_MAX_FRAME];
	size_t len;			/* bytes held */
	size_t frame;			/* current frame's length, once known */
	int err;			/* sticky header error, or 0 */
};

void proto_rbuf_init(struct proto_rbuf *rb);
/* Bytes taken from data (0..len, at most one frame's worth) or -errno. */
int proto_rbuf_feed(struct proto_rbuf *rb, const uint8_t *data, size_t len);
/* 1: a message was decoded into m and consumed; 0: need more; <0: bad. */
int proto_rbuf_next(struct proto_rbuf *rb, struct proto_msg *m);
/* Bytes still missing from the current header or frame (> 0 unless full). */
size_t proto_rbuf_want(const struct proto_rbuf *rb);

#endif
