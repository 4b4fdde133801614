/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control protocol (SPEC §6): frames of a 4-byte big-endian length then
 * a UTF-8 JSON object. Requests {"version":1,"command":C,"args":{...}};
 * replies {"version":1,"ok":true,"result":...} or
 * {"version":1,"ok":false,"error":{"code":"EINVAL","message":"..."}}.
 */
#ifndef POLICYD_PROTO_H
#define POLICYD_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define PROTO_VERSION 1
#define PROTO_FRAME_MAX (64u << 20)
#define PROTO_DEFAULT_SOCKET "/run/policyd/policyd.sock"

/* Incremental reader for one frame from a non-blocking fd. */
struct proto_reader {
	uint8_t hdr[4];
	size_t hdr_got;
	uint32_t len;
	char *buf;
	size_t got;
};

void proto_reader_init(struct proto_reader *r);
void proto_reader_release(struct proto_reader *r);

/*
 * Read what @fd has. Returns 1 with *@out a new JSON object (caller owns it)
 * when a whole frame has arrived, 0 when more bytes are needed (EAGAIN),
 * -EPIPE at end of stream, -EMSGSIZE for a frame over PROTO_FRAME_MAX or of
 * length 0 (nothing is allocated for it), -EBADMSG for a frame that is not a
 * JSON object (the stream stays usable), -ENOMEM, -errno on read errors.
 */
int proto_reader_feed(struct proto_reader *r, int fd, json_t **out);

/*
 * Encode @msg as one frame into a new buffer (*@buf, *@len; caller frees).
 * Returns 0, -EINVAL for a NULL or non-object @msg, -EMSGSIZE or -ENOMEM.
 */
int proto_encode(const json_t *msg, char **buf, size_t *len);

/* Blocking helpers for the client: send one frame; receive one frame.
 * Both return 0 or -errno (-EINVAL as proto_encode(); -ETIMEDOUT when
 * SO_SNDTIMEO/SO_RCVTIMEO expires; proto_recv as proto_reader_feed()). */
int proto_send(int fd, const json_t *msg);
int proto_recv(int fd, json_t **out);

/* Build messages. Each returns a new reference, or NULL on ENOMEM.
 * proto_request() and proto_reply_ok() steal the reference to @args/@result;
 * a NULL @result (the caller's failed allocation) gives NULL. */
json_t *proto_request(const char *command, json_t *args);
json_t *proto_reply_ok(json_t *result);
json_t *proto_reply_error(const char *code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
