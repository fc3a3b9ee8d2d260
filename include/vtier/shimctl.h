/*
 * shimctl.h - the control protocol between vtierctl and vtier-hostshim
 * (the shim's control socket, a Unix stream socket of mode 0600).
 *
 * Binary frames with explicit lengths, like the agent protocol: a 12-byte
 * header, then a payload whose size the header states and whose bounds
 * depend on the type.  Little-endian, read and written byte by byte.
 *
 *   off size field
 *    0   4   magic    SHIMCTL_MAGIC: the bytes 'V' 'T' 'S' 'C'
 *    4   2   version  SHIMCTL_VERSION (1)
 *    6   2   type     enum shimctl_type
 *    8   4   length   payload bytes (the header not included)
 *
 *   type            dir   payload
 *   1    LIST       c>s   empty
 *   2    SET_BUDGET c>s   u64 bytes (> 0), u16 name_len (1-64), name
 *   129  OK         s>c   text, 0-1024 printable bytes
 *   130  ERROR      s>c   i32 -errno, text, 0-1024 printable bytes
 *   131  DOC        s>c   a JSON document, 1 byte to SHIMCTL_DOC_MAX
 *
 * The client sends requests one at a time and reads one reply to each;
 * the shim closes a connection after a malformed request (with an
 * ERROR) or when it has been idle for a few seconds.  Requests are
 * small, so a shim never buffers more than SHIMCTL_REQ_MAX of one.
 *
 * Decoding checks, in this order: fewer bytes than the header -EAGAIN;
 * magic -EILSEQ; version -EPROTONOSUPPORT; type -ENOMSG; length over
 * the type's bound -EMSGSIZE; then, on the whole frame, the payload's
 * fields -EBADMSG (sizes) or -EINVAL (values).
 */
#ifndef VTIER_SHIMCTL_H
#define VTIER_SHIMCTL_H

#include <stddef.h>
#include <stdint.h>

#include "vtier/proto.h"

#define SHIMCTL_MAGIC		0x43535456u	/* "VTSC" in wire order */
#define SHIMCTL_VERSION		1
#define SHIMCTL_HDR_LEN		12
#define SHIMCTL_TEXT_MAX	1024
#define SHIMCTL_REQ_MAX		(SHIMCTL_HDR_LEN + 8 + 2 + PROTO_NAME_MAX)
#define SHIMCTL_DOC_MAX		(16u * 1024 * 1024)

enum shimctl_type {
	SHIMCTL_LIST = 1,
	SHIMCTL_SET_BUDGET = 2,
	SHIMCTL_OK = 129,
	SHIMCTL_ERROR = 130,
	SHIMCTL_DOC = 131,
};

struct shimctl_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t length;		/* payload */
};

struct shimctl_req {
	uint16_t type;			/* LIST or SET_BUDGET */
	uint64_t budget;
	char vm[PROTO_NAME_MAX + 1];	/* NUL-terminated */
};

/* Header at buf: 0 or an error above.  h is filled when len >= 12. */
int shimctl_decode_header(const uint8_t *buf, size_t len,
    struct shimctl_hdr *h);
/* Write a header for type with a payload of len bytes (12 bytes). */
void shimctl_put_header(uint8_t *buf, uint16_t type, uint32_t len);

/* A whole request frame of exactly len bytes: 0 or -errno. */
int shimctl_decode_request(const uint8_t *buf, size_t len,
    struct shimctl_req *r);
/* The frame for r into buf: its length, -EINVAL, or -ENOSPC. */
int shimctl_encode_request(const struct shimctl_req *r, uint8_t *buf,
    size_t len);

/*
 * OK or ERROR reply: the frame into buf (SHIMCTL_HDR_LEN + 4 +
 * SHIMCTL_TEXT_MAX always suffices); text is cut to SHIMCTL_TEXT_MAX and
 * non-printables become '?'.  Returns the frame length.
 */
int shimctl_encode_status(uint16_t type, int32_t err, const char *text,
    uint8_t *buf, size_t len);
/*
 * The payload of an OK or ERROR reply (after its header): the status and
 * the text, NUL-terminated into text[textlen].  0 or -EBADMSG/-EINVAL.
 */
int shimctl_decode_status(uint16_t type, const uint8_t *p, size_t len,
    int32_t *err, char *text, size_t textlen);

#endif
