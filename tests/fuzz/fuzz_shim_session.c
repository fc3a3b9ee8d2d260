/*
 * fuzz_shim_session.c - libFuzzer target for the host shim's untrusted
 * inputs: the per-connection session state machine fed bytes as if from
 * a guest (hostshim/session.c, with the real pre-fault path against a
 * small tmpfs file), and the control-socket codec (shimctl.c).
 *
 * Input: byte 0 picks the mode (bit 0 serial port, bit 1 small output
 * cap, bit 2 never drain output, bit 7 the control codec instead); the
 * rest is cut into chunks by a generator seeded from the input, and
 * between chunks time moves on, the budget changes or the pre-fault job
 * runs, also picked from the input.  After every step:
 *
 *  1. Everything the shim queued decodes as whole, valid frames of the
 *     types a shim sends (never HELLO, PREFAULT, PREFAULT_PART or
 *     STATS), the first of them WELCOME, ERROR or BYE, and the backlog
 *     never passes output_max.
 *  2. The state only moves forward to CLOSING/DEAD; once there, input is
 *     refused and nothing more is queued; the session holds no claim on
 *     a pre-fault job.
 *  3. The VM table agrees: nup is 1 exactly while the session is UP, and
 *     the pinned bytes never pass prefault_cap.
 * After the input the session is freed and the VM table must be empty
 * of it (no session, no UP count).
 *
 * Control mode: whatever shimctl_decode_request accepts re-encodes to
 * the same bytes; status replies decode to printable, terminated text.
 *
 * Build with `make build/fuzz/fuzz_shim_session` (clang, libFuzzer; the
 * shared sources and hostshim's but main.c), run:
 *   build/fuzz/fuzz_shim_session -max_total_time=60 \
 *       -dict=tests/fuzz/shim_session.dict DIR tests/fuzz/corpus/shim_session
 * -DFUZZ_STANDALONE (any compiler, the same sources) gives a main that
 * replays files, or with --gen DIR writes the seed corpus.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vtier/log.h"
#include "vtier/shimctl.h"
#include "vtier/util.h"
#include "../../hostshim/hostshim.h"
#include "../tools/shim_hello.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "fuzz_shim_session: %s:%d: CHECK(%s) "	\
		    "failed\n", __FILE__, __LINE__, #c);		\
		abort();						\
	}								\
} while (0)

#define SEC 1000000000ULL
#define RAM (1 * MiB)		/* the VM's memory: GPA 0..1M */

static char backing[64];
static struct shim_config cfg;

static void
remove_backing(void)
{
	unlink(backing);
}

static void
init_once(void)
{
	struct vm_config *vc;
	int fd;

	if (cfg.vms != NULL)
		return;
	log_init("fuzz_shim_session", LOG_LVL_ERR);
	snprintf(backing, sizeof(backing), "/dev/shm/vtier-fuzz-shim.%d",
	    (int)getpid());
	fd = open(backing, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && ftruncate(fd, RAM) == 0);
	close(fd);
	atexit(remove_backing);
	config_defaults(&cfg);
	vc = calloc(1, sizeof(*vc));
	CHECK(vc != NULL);
	snprintf(vc->name, sizeof(vc->name), "fuzzvm");
	snprintf(vc->socket, sizeof(vc->socket), "/nonexistent");
	vc->budget = 512 * MiB;
	vc->prefault_cap = RAM / 2;
	snprintf(vc->backing[0].path, sizeof(vc->backing[0].path), "%s",
	    backing);
	vc->backing[0].size = RAM / 2;
	snprintf(vc->backing[1].path, sizeof(vc->backing[1].path), "%s",
	    backing);
	vc->backing[1].offset = RAM / 2;
	vc->backing[1].gpa = RAM / 2;
	vc->backing[1].size = RAM / 2;
	vc->nbacking = 2;
	cfg.vms = vc;
	cfg.nvms = 1;
}

static uint32_t
next_rand(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

struct run {
	struct session *s;
	struct vm *vm;
	bool any_out;		/* a frame has been sent */
	size_t max;
};

/* Property 1 on the backlog; drain says whether to consume it. */
static void
check_output(struct run *r, bool drain)
{
	const uint8_t *p;
	size_t len, off = 0;

	p = session_output(r->s, &len);
	CHECK(len <= r->max);
	while (off < len) {
		struct proto_hdr h;
		struct proto_msg m;

		CHECK(proto_decode_header(p + off, len - off, &h) == 0);
		CHECK(h.length <= len - off);
		CHECK(proto_decode(p + off, h.length, &m) == 0);
		CHECK(m.type != PROTO_HELLO && m.type != PROTO_PREFAULT &&
		    m.type != PROTO_STATS && m.type != PROTO_PREFAULT_PART);
		if (!r->any_out)	/* never BUDGET etc. before WELCOME */
			CHECK(m.type == PROTO_WELCOME || m.type == PROTO_ERROR ||
			    m.type == PROTO_BYE);
		r->any_out = true;
		off += h.length;
	}
	if (drain)
		session_consumed(r->s, len);
}

/* Properties 2 and 3 after a step; prev is the state before it. */
static void
check_state(struct run *r, enum session_state prev)
{
	CHECK(r->s->st >= prev || (prev == SESS_UP && r->s->st == SESS_HELLO &&
	    r->s->serial));
	CHECK(r->vm->nup == (r->s->st == SESS_UP ? 1u : 0u));
	CHECK(r->vm->nsessions == 1);
	CHECK(r->vm->pinned <= r->vm->cfg.prefault_cap);
	if (r->s->st >= SESS_CLOSING) {
		CHECK(!r->s->pf_waiting);
		CHECK(r->s->end != END_NONE);
	}
}

static void
fuzz_session(const uint8_t *d, size_t n, uint8_t mode)
{
	const struct session_limits lim = {
		.handshake_ns = 5 * SEC, .idle_ns = 60 * SEC,
		.output_max = (mode & 2) ? 2 * PROTO_MAX_FRAME : 64 * 1024,
	};
	struct vmtab tab;
	struct run r = { .max = lim.output_max };
	uint32_t rs = 0x9e3779b9u ^ (uint32_t)n;
	uint64_t now = 0;
	size_t off = 0;

	init_once();
	CHECK(budget_init(&tab, &cfg) == 0);
	r.vm = tab.v[0];
	CHECK(session_new(&r.s, r.vm, mode & 1, &lim, now) == 0);
	for (size_t i = 0; i < n && i < 16; i++)
		rs = rs * 31 + d[i];
	while (off < n) {
		enum session_state prev = r.s->st;
		size_t before, after, chunk;
		uint32_t op = next_rand(&rs) % 16;

		session_output(r.s, &before);
		if (op < 10) {		/* bytes from the guest */
			int rc;

			chunk = 1 + next_rand(&rs) % 512;
			chunk = MIN(chunk, n - off);
			rc = session_input(r.s, d + off, chunk, now);
			off += chunk;
			if (prev >= SESS_CLOSING) {
				CHECK(rc == -EPIPE);
				session_output(r.s, &after);
				CHECK(after == before);
			}
			CHECK(rc == 0 || r.s->st >= SESS_CLOSING);
		} else if (op < 12) {	/* time passes */
			now += (uint64_t)(next_rand(&rs) % 40) * SEC;
			if (session_tick(r.s, now) < 0)
				CHECK(r.s->st >= SESS_CLOSING);
		} else if (op == 12) {	/* the operator sets a budget */
			budget_set(r.vm, (uint64_t)(next_rand(&rs) % 4) * GiB,
			    true);
			session_push_budget(r.vm);
		} else if (op == 13) {	/* the loop works on the pre-fault */
			prefault_step(r.vm, 64 * KiB);
			session_prefault_done(r.vm);
		} else if (op == 14) {	/* the shim goes away */
			session_bye(r.s, PROTO_BYE_RESTART);
		} else {
			now += next_rand(&rs) % 1000;
		}
		if (prev >= SESS_CLOSING) {
			session_output(r.s, &after);
			CHECK(after <= before);
		}
		check_state(&r, prev);
		check_output(&r, !(mode & 4));
	}
	prefault_finish(r.vm);
	session_prefault_done(r.vm);
	check_output(&r, true);
	check_state(&r, r.s->st);
	session_free(r.s);
	CHECK(r.vm->nsessions == 0 && r.vm->nup == 0 &&
	    r.vm->sessions == NULL);
	CHECK(r.vm->job == NULL);
	budget_free(&tab);	/* releases the pins */
}

/* Control codec: canonical requests, well-formed status texts. */
static void
fuzz_ctl(const uint8_t *d, size_t n)
{
	struct shimctl_req r;
	struct shimctl_hdr h;
	uint8_t out[SHIMCTL_REQ_MAX];
	char text[64];
	int32_t err;

	if (shimctl_decode_request(d, n, &r) == 0) {
		int k = shimctl_encode_request(&r, out, sizeof(out));

		CHECK(k >= 0 && (size_t)k == n && memcmp(out, d, n) == 0);
	}
	if (shimctl_decode_header(d, n, &h) == 0 &&
	    n >= SHIMCTL_HDR_LEN &&
	    shimctl_decode_status(h.type, d + SHIMCTL_HDR_LEN,
	    MIN(n - SHIMCTL_HDR_LEN, (size_t)h.length), &err, text,
	    sizeof(text)) == 0) {
		CHECK(strlen(text) < sizeof(text));
		for (size_t i = 0; text[i]; i++)
			CHECK(text[i] >= 0x20 && text[i] <= 0x7e);
		CHECK(err <= 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 0x80)
		fuzz_ctl(data + 1, size - 1);
	else
		fuzz_session(data + 1, size - 1, data[0]);
	return 0;
}

#ifdef FUZZ_STANDALONE
static size_t
frame(const struct proto_msg *m, uint8_t *buf)
{
	int n = proto_encode(m, 0, buf, PROTO_MAX_FRAME);

	CHECK(n > 0);
	return (size_t)n;
}

static void
put(const char *dir, const char *name, const uint8_t *b, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	CHECK((f = fopen(path, "wb")) != NULL);
	CHECK(fwrite(b, 1, n, f) == n);
	fclose(f);
}

/* The seed corpus: conversations a real agent has, and control frames. */
static void
gen(const char *dir)
{
	static uint8_t b[16384];
	struct proto_msg m;
	struct shimctl_req r = { .type = SHIMCTL_SET_BUDGET, .budget = GiB };
	size_t n;

	b[0] = 0;
	shim_test_hello(&m);
	n = 1 + frame(&m, b + 1);
	put(dir, "hello", b, n);
	proto_msg_init(&m, PROTO_STATS);
	m.u.stats.fast_used = 100 * MiB;
	n += frame(&m, b + n);
	proto_msg_ping(&m, 7);
	n += frame(&m, b + n);
	put(dir, "hello-stats-ping", b, n);
	proto_msg_init(&m, PROTO_PREFAULT);
	proto_prefault_add(&m, 0, 64 * KiB);
	proto_prefault_add(&m, RAM / 2 - 8 * KiB, 16 * KiB);
	n += frame(&m, b + n);
	proto_msg_bye(&m, PROTO_BYE_SHUTDOWN);
	n += frame(&m, b + n);
	put(dir, "hello-prefault-bye", b, n);
	b[0] = 0;			/* a set in PREFAULT_PART frames */
	shim_test_hello(&m);
	m.u.hello.caps |= PROTO_CAP_PREFAULT_PARTS;
	n = 1 + frame(&m, b + 1);
	proto_msg_init(&m, PROTO_PREFAULT_PART);
	proto_prefault_add(&m, 0, 4 * KiB);
	proto_prefault_add(&m, 64 * KiB, 4 * KiB);
	n += frame(&m, b + n);
	proto_msg_init(&m, PROTO_PREFAULT_PART);
	m.u.prefault.flags = PROTO_PF_LAST | PROTO_PF_FAST_NODE;
	m.u.prefault.reason = PROTO_PF_WHY_KALLSYMS;
	proto_prefault_add(&m, 68 * KiB, 60 * KiB);
	n += frame(&m, b + n);
	put(dir, "hello-parts", b, n);
	b[0] = 1;			/* serial, HELLO twice */
	shim_test_hello(&m);
	n = 1 + frame(&m, b + 1);
	n += frame(&m, b + n);
	put(dir, "serial-hello-twice", b, n);
	b[0] = 6;			/* small cap, never read: PING flood */
	n = 1 + frame(&m, b + 1);
	proto_msg_ping(&m, 1);
	while (n + 32 < sizeof(b) / 2)
		n += frame(&m, b + n);
	put(dir, "ping-flood", b, n);
	b[0] = 0;			/* a newer version */
	shim_test_hello(&m);
	n = 1 + frame(&m, b + 1);
	b[5] = 2;
	put(dir, "version-2", b, n);
	b[0] = 0x80;
	snprintf(r.vm, sizeof(r.vm), "fuzzvm");
	n = 1 + (size_t)shimctl_encode_request(&r, b + 1, sizeof(b) - 1);
	put(dir, "ctl-set-budget", b, n);
	n = 1 + (size_t)shimctl_encode_status(SHIMCTL_ERROR, -ENOENT,
	    "no VM", b + 1, sizeof(b) - 1);
	put(dir, "ctl-error", b, n);
}

int
main(int argc, char **argv)
{
	static uint8_t buf[1 << 20];

	if (argc == 3 && strcmp(argv[1], "--gen") == 0) {
		gen(argv[2]);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		size_t n;

		if (f == NULL) {
			perror(argv[i]);
			return 1;
		}
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
		printf("%s: ok\n", argv[i]);
	}
	return 0;
}
#endif
