/*
 * test_shim_ctl.c - the vtierctl <-> shim control codec
 * (include/vtier/shimctl.c): round trips, each header and payload check,
 * and the shim's JSON document for `vtierctl vms --json`.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vtier/log.h"
#include "vtier/shimctl.h"
#include "vtier/util.h"
#include "../../hostshim/hostshim.h"
#include "../test.h"

static void
test_request_roundtrip(void)
{
	struct shimctl_req r = { .type = SHIMCTL_SET_BUDGET, .budget = GiB };
	struct shimctl_req d;
	uint8_t buf[SHIMCTL_REQ_MAX];
	int n;

	snprintf(r.vm, sizeof(r.vm), "web1");
	n = shimctl_encode_request(&r, buf, sizeof(buf));
	ASSERT_EQ(n, SHIMCTL_HDR_LEN + 10 + 4);
	ASSERT_EQ(shimctl_decode_request(buf, (size_t)n, &d), 0);
	ASSERT_EQ(d.type, SHIMCTL_SET_BUDGET);
	ASSERT_EQ_U(d.budget, GiB);
	ASSERT_STREQ(d.vm, "web1");
	/* short and long frames */
	ASSERT_EQ(shimctl_decode_request(buf, (size_t)n - 1, &d), -EAGAIN);
	ASSERT_EQ(shimctl_decode_request(buf, 5, &d), -EAGAIN);

	/* the longest name fits SHIMCTL_REQ_MAX exactly */
	memset(r.vm, 'x', PROTO_NAME_MAX);
	r.vm[PROTO_NAME_MAX] = '\0';
	ASSERT_EQ(shimctl_encode_request(&r, buf, sizeof(buf)),
	    SHIMCTL_REQ_MAX);
	ASSERT_EQ(shimctl_decode_request(buf, SHIMCTL_REQ_MAX, &d), 0);

	r.type = SHIMCTL_LIST;
	ASSERT_EQ(shimctl_encode_request(&r, buf, sizeof(buf)),
	    SHIMCTL_HDR_LEN);
	ASSERT_EQ(shimctl_decode_request(buf, SHIMCTL_HDR_LEN, &d), 0);
	ASSERT_EQ(d.type, SHIMCTL_LIST);
}

static void
test_request_refused(void)
{
	struct shimctl_req r = { .type = SHIMCTL_SET_BUDGET, .budget = MiB };
	struct shimctl_req d;
	uint8_t buf[SHIMCTL_REQ_MAX], bad[SHIMCTL_REQ_MAX];
	int n;

	snprintf(r.vm, sizeof(r.vm), "vm");
	n = shimctl_encode_request(&r, buf, sizeof(buf));
	ASSERT_GE(n, 0);

	memcpy(bad, buf, (size_t)n);
	bad[0] ^= 1;
	ASSERT_EQ(shimctl_decode_request(bad, (size_t)n, &d), -EILSEQ);
	memcpy(bad, buf, (size_t)n);
	bad[4] = 9;
	ASSERT_EQ(shimctl_decode_request(bad, (size_t)n, &d),
	    -EPROTONOSUPPORT);
	memcpy(bad, buf, (size_t)n);
	bad[6] = 77;
	ASSERT_EQ(shimctl_decode_request(bad, (size_t)n, &d), -ENOMSG);
	memcpy(bad, buf, (size_t)n);
	bad[6] = SHIMCTL_DOC;	/* a reply type is no request */
	ASSERT_EQ(shimctl_decode_request(bad, (size_t)n, &d), -ENOMSG);
	memcpy(bad, buf, (size_t)n);
	bad[8] = 200;		/* length over SET_BUDGET's bound */
	ASSERT_EQ(shimctl_decode_request(bad, (size_t)n, &d), -EMSGSIZE);
	memcpy(bad, buf, (size_t)n);
	bad[SHIMCTL_HDR_LEN + 8] = 3;	/* name_len disagrees */
	ASSERT_EQ(shimctl_decode_request(bad, (size_t)n, &d), -EBADMSG);
	memcpy(bad, buf, (size_t)n);
	bad[SHIMCTL_HDR_LEN + 10] = '\n';
	ASSERT_EQ(shimctl_decode_request(bad, (size_t)n, &d), -EINVAL);
	memcpy(bad, buf, (size_t)n);
	memset(bad + SHIMCTL_HDR_LEN, 0, 8);	/* budget 0 */
	ASSERT_EQ(shimctl_decode_request(bad, (size_t)n, &d), -EINVAL);

	/* the encoder keeps the same rules */
	r.budget = 0;
	ASSERT_EQ(shimctl_encode_request(&r, buf, sizeof(buf)), -EINVAL);
	r.budget = 1;
	r.vm[0] = '\0';
	ASSERT_EQ(shimctl_encode_request(&r, buf, sizeof(buf)), -EINVAL);
	snprintf(r.vm, sizeof(r.vm), "ok");
	ASSERT_EQ(shimctl_encode_request(&r, buf, 10), -ENOSPC);
}

static void
test_status_replies(void)
{
	uint8_t buf[SHIMCTL_HDR_LEN + 4 + SHIMCTL_TEXT_MAX];
	char text[64], big[2000];
	struct shimctl_hdr h;
	int32_t err;
	int n;

	n = shimctl_encode_status(SHIMCTL_ERROR, -ENOENT, "no VM named 'x'\n",
	    buf, sizeof(buf));
	ASSERT_GE(n, 0);
	ASSERT_EQ(shimctl_decode_header(buf, (size_t)n, &h), 0);
	ASSERT_EQ(h.type, SHIMCTL_ERROR);
	ASSERT_EQ(h.length, (size_t)n - SHIMCTL_HDR_LEN);
	ASSERT_EQ(shimctl_decode_status(h.type, buf + SHIMCTL_HDR_LEN, h.length,
	    &err, text, sizeof(text)), 0);
	ASSERT_EQ(err, -ENOENT);
	ASSERT_STREQ(text, "no VM named 'x'?");	/* newline made printable */

	n = shimctl_encode_status(SHIMCTL_OK, 0, "fine", buf, sizeof(buf));
	ASSERT_EQ(shimctl_decode_header(buf, (size_t)n, &h), 0);
	ASSERT_EQ(shimctl_decode_status(h.type, buf + SHIMCTL_HDR_LEN, h.length,
	    &err, text, sizeof(text)), 0);
	ASSERT_EQ(err, 0);
	ASSERT_STREQ(text, "fine");

	/* long texts are cut at SHIMCTL_TEXT_MAX, and a small text buffer
	 * gets a NUL-terminated prefix */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	n = shimctl_encode_status(SHIMCTL_OK, 0, big, buf, sizeof(buf));
	ASSERT_EQ(n, SHIMCTL_HDR_LEN + SHIMCTL_TEXT_MAX);
	ASSERT_EQ(shimctl_decode_status(SHIMCTL_OK, buf + SHIMCTL_HDR_LEN,
	    SHIMCTL_TEXT_MAX, &err, text, sizeof(text)), 0);
	ASSERT_EQ(strlen(text), sizeof(text) - 1);

	/* a positive errno, a short ERROR, a control byte */
	buf[SHIMCTL_HDR_LEN] = 5;
	memset(buf + SHIMCTL_HDR_LEN + 1, 0, 3);
	ASSERT_EQ(shimctl_decode_status(SHIMCTL_ERROR, buf + SHIMCTL_HDR_LEN, 4,
	    &err, text, sizeof(text)), -EINVAL);
	ASSERT_EQ(shimctl_decode_status(SHIMCTL_ERROR, buf, 3, &err, text,
	    sizeof(text)), -EBADMSG);
	ASSERT_EQ(shimctl_decode_status(SHIMCTL_OK, (const uint8_t *)"a\x01", 2,
	    &err, text, sizeof(text)), -EINVAL);
	ASSERT_EQ(shimctl_decode_status(SHIMCTL_DOC, buf, 0, &err, text,
	    sizeof(text)), -ENOMSG);

	/* a document header may announce up to SHIMCTL_DOC_MAX, no more */
	shimctl_put_header(buf, SHIMCTL_DOC, SHIMCTL_DOC_MAX);
	ASSERT_EQ(shimctl_decode_header(buf, SHIMCTL_HDR_LEN, &h), 0);
	shimctl_put_header(buf, SHIMCTL_DOC, SHIMCTL_DOC_MAX + 1);
	ASSERT_EQ(shimctl_decode_header(buf, SHIMCTL_HDR_LEN, &h), -EMSGSIZE);
}

/* The JSON of `vtierctl vms --json`: keys present, stats when known. */
static void
test_document(void)
{
	static struct shim sh;
	struct vm_config *vc;
	struct proto_stats st;
	char *doc;
	size_t len;

	config_defaults(&sh.cfg);
	vc = calloc(2, sizeof(*vc));
	snprintf(vc[0].name, sizeof(vc[0].name), "alpha");
	vc[0].cid = 42;
	vc[0].budget = 512 * MiB;
	snprintf(vc[1].name, sizeof(vc[1].name), "beta");
	snprintf(vc[1].socket, sizeof(vc[1].socket), "/run/a \"quoted\" path");
	vc[1].serial = 1;
	sh.cfg.vms = vc;
	sh.cfg.nvms = 2;
	ASSERT_EQ(budget_init(&sh.vms, &sh.cfg), 0);
	memset(&st, 0, sizeof(st));
	st.fast_used = 123 * MiB;
	st.samples_per_s_milli = 1500;
	st.flags = PROTO_STATS_BUDGET_UNATTAINABLE;
	budget_store_stats(sh.vms.v[0], &st, now_ns());
	budget_set(sh.vms.v[0], GiB, true);

	ASSERT_EQ(ctl_format_vms(&sh, &doc, &len), 0);
	ASSERT_EQ(strlen(doc), len);
	ASSERT_CONTAINS(doc, "\"name\": \"alpha\"");
	ASSERT_CONTAINS(doc, "\"transport\": \"vsock\"");
	ASSERT_CONTAINS(doc, "\"cid\": 42");
	ASSERT_CONTAINS(doc, "\"budget_bytes\": 1073741824");
	ASSERT_CONTAINS(doc, "\"budget_source\": \"vtierctl\"");
	ASSERT_CONTAINS(doc, "\"fast_used_bytes\": 128974848");
	ASSERT_CONTAINS(doc, "\"samples_per_s\": 1.500");
	ASSERT_CONTAINS(doc, "\"budget_unattainable\": true");
	ASSERT_CONTAINS(doc, "\"transport\": \"serial\"");
	ASSERT_CONTAINS(doc, "\"socket\": \"/run/a \\\"quoted\\\" path\"");
	ASSERT_CONTAINS(doc, "\"stats\": null");
	ASSERT_CONTAINS(doc, "\"budget_source\": \"none\"");
	ASSERT_CONTAINS(doc, "\"connected\": false");
	ASSERT_CONTAINS(doc, "\"pinned_bytes\": 0");
	free(doc);
	budget_free(&sh.vms);
	config_free(&sh.cfg);
}

int
main(void)
{
	log_init("test_shim_ctl", LOG_LVL_ERR);
	RUN_TEST(test_request_roundtrip);
	RUN_TEST(test_request_refused);
	RUN_TEST(test_status_replies);
	RUN_TEST(test_document);
	TEST_EXIT();
}
