/*
 * shimctl.c - the vtierctl <-> shim control codec (see shimctl.h).
 * Field by field, every length bounded before use; shared by both ends
 * so the two cannot drift apart.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vtier/byteorder.h"
#include "vtier/shimctl.h"

static_assert(SHIMCTL_HDR_LEN == 4 + 2 + 2 + 4, "header fields");
static_assert(SHIMCTL_REQ_MAX == SHIMCTL_HDR_LEN + 8 + 2 + PROTO_NAME_MAX,
    "largest request is SET_BUDGET with a longest name");

static int
printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/* The most payload each type may carry. */
static int
max_payload(uint16_t type, uint32_t *max)
{
	switch (type) {
	case SHIMCTL_LIST:
		*max = 0;
		return 0;
	case SHIMCTL_SET_BUDGET:
		*max = 8 + 2 + PROTO_NAME_MAX;
		return 0;
	case SHIMCTL_OK:
		*max = SHIMCTL_TEXT_MAX;
		return 0;
	case SHIMCTL_ERROR:
		*max = 4 + SHIMCTL_TEXT_MAX;
		return 0;
	case SHIMCTL_DOC:
		*max = SHIMCTL_DOC_MAX;
		return 0;
	default:
		return -ENOMSG;
	}
}

int
shimctl_decode_header(const uint8_t *buf, size_t len, struct shimctl_hdr *h)
{
	uint32_t max;

	if (len < SHIMCTL_HDR_LEN)
		return -EAGAIN;
	h->magic = get_le32(buf);
	h->version = get_le16(buf + 4);
	h->type = get_le16(buf + 6);
	h->length = get_le32(buf + 8);
	if (h->magic != SHIMCTL_MAGIC)
		return -EILSEQ;
	if (h->version != SHIMCTL_VERSION)
		return -EPROTONOSUPPORT;
	if (max_payload(h->type, &max) < 0)
		return -ENOMSG;
	if (h->length > max)
		return -EMSGSIZE;
	return 0;
}

void
shimctl_put_header(uint8_t *buf, uint16_t type, uint32_t len)
{
	put_le32(buf, SHIMCTL_MAGIC);
	put_le16(buf + 4, SHIMCTL_VERSION);
	put_le16(buf + 6, type);
	put_le32(buf + 8, len);
}

int
shimctl_decode_request(const uint8_t *buf, size_t len, struct shimctl_req *r)
{
	struct shimctl_hdr h;
	const uint8_t *p = buf + SHIMCTL_HDR_LEN;
	size_t n;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = shimctl_decode_header(buf, len, &h)) < 0)
		return rc;
	if (h.type != SHIMCTL_LIST && h.type != SHIMCTL_SET_BUDGET)
		return -ENOMSG;
	if (len != SHIMCTL_HDR_LEN + (size_t)h.length)
		return len < SHIMCTL_HDR_LEN + (size_t)h.length ? -EAGAIN :
		    -EMSGSIZE;
	r->type = h.type;
	if (h.type == SHIMCTL_LIST)
		return 0;
	if (h.length < 8 + 2)
		return -EBADMSG;
	r->budget = get_le64(p);
	n = get_le16(p + 8);
	if (n < 1 || n > PROTO_NAME_MAX || h.length != 8 + 2 + n)
		return -EBADMSG;
	memcpy(r->vm, p + 10, n);
	r->vm[n] = '\0';
	if (!printable(r->vm, n) || r->budget == 0)
		return -EINVAL;
	return 0;
}

int
shimctl_encode_request(const struct shimctl_req *r, uint8_t *buf, size_t len)
{
	size_t n;

	switch (r->type) {
	case SHIMCTL_LIST:
		if (len < SHIMCTL_HDR_LEN)
			return -ENOSPC;
		shimctl_put_header(buf, SHIMCTL_LIST, 0);
		return SHIMCTL_HDR_LEN;
	case SHIMCTL_SET_BUDGET:
		n = strnlen(r->vm, sizeof(r->vm));
		if (n < 1 || n > PROTO_NAME_MAX || !printable(r->vm, n) ||
		    r->budget == 0)
			return -EINVAL;
		if (len < SHIMCTL_HDR_LEN + 10 + n)
			return -ENOSPC;
		shimctl_put_header(buf, SHIMCTL_SET_BUDGET, (uint32_t)(10 + n));
		put_le64(buf + SHIMCTL_HDR_LEN, r->budget);
		put_le16(buf + SHIMCTL_HDR_LEN + 8, (uint16_t)n);
		memcpy(buf + SHIMCTL_HDR_LEN + 10, r->vm, n);
		return (int)(SHIMCTL_HDR_LEN + 10 + n);
	default:
		return -EINVAL;
	}
}

int
shimctl_encode_status(uint16_t type, int32_t err, const char *text,
    uint8_t *buf, size_t len)
{
	size_t n = strnlen(text, SHIMCTL_TEXT_MAX), off = SHIMCTL_HDR_LEN;

	if (type != SHIMCTL_OK && type != SHIMCTL_ERROR)
		return -EINVAL;
	if (len < SHIMCTL_HDR_LEN + 4 + n)
		return -ENOSPC;
	if (type == SHIMCTL_ERROR) {
		put_le32(buf + off, (uint32_t)err);
		off += 4;
	}
	for (size_t i = 0; i < n; i++)
		buf[off + i] = printable(&text[i], 1) ? (uint8_t)text[i] : '?';
	off += n;
	shimctl_put_header(buf, type, (uint32_t)(off - SHIMCTL_HDR_LEN));
	return (int)off;
}

int
shimctl_decode_status(uint16_t type, const uint8_t *p, size_t len,
    int32_t *err, char *text, size_t textlen)
{
	*err = 0;
	if (textlen > 0)
		text[0] = '\0';
	if (type == SHIMCTL_ERROR) {
		if (len < 4)
			return -EBADMSG;
		*err = (int32_t)get_le32(p);
		p += 4;
		len -= 4;
		if (*err >= 0 || *err < -4095)
			return -EINVAL;
	} else if (type != SHIMCTL_OK) {
		return -ENOMSG;
	}
	if (len > SHIMCTL_TEXT_MAX)
		return -EBADMSG;
	if (!printable((const char *)p, len))
		return -EINVAL;
	if (textlen > 0) {
		size_t n = len < textlen - 1 ? len : textlen - 1;

		memcpy(text, p, n);
		text[n] = '\0';
	}
	return 0;
}
