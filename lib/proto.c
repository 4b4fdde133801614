// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control protocol's codec (SPEC §6): length-prefixed JSON frames over a
 * stream socket. The reader is incremental so the daemon's event loop never
 * blocks on a slow client; the blocking helpers serve policyctl.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto.h"

void proto_reader_init(struct proto_reader *r)
{
	memset(r, 0, sizeof(*r));
}

void proto_reader_release(struct proto_reader *r)
{
	free(r->buf);
	proto_reader_init(r);
}

/* Read what @fd has into @dst: bytes read, 0 at end of stream, -EAGAIN when
 * nothing is there yet, or another -errno. */
static ssize_t proto_read_some(int fd, void *dst, size_t len)
{
	ssize_t n;

	do {
		n = read(fd, dst, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

/* The frame in @r->buf is complete: decode it and make @r ready for the next
 * frame. A bad frame leaves the stream in step, so the peer can be told. */
static int proto_reader_finish(struct proto_reader *r, json_t **out)
{
	json_error_t jerr;
	json_t *msg;

	/* Duplicate keys would make a request mean two things. */
	msg = json_loadb(r->buf, r->len, JSON_REJECT_DUPLICATES, &jerr);
	proto_reader_release(r);
	if (!msg)
		return -EBADMSG;
	if (!json_is_object(msg)) {
		json_decref(msg);
		return -EBADMSG;
	}
	*out = msg;
	return 1;
}

int proto_reader_feed(struct proto_reader *r, int fd, json_t **out)
{
	ssize_t n;

	while (r->hdr_got < sizeof(r->hdr)) {
		n = proto_read_some(fd, r->hdr + r->hdr_got, sizeof(r->hdr) - r->hdr_got);
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return n;
		if (n == 0)
			return -EPIPE;
		r->hdr_got += n;
		if (r->hdr_got < sizeof(r->hdr))
			continue;
		r->len = (uint32_t)r->hdr[0] << 24 | (uint32_t)r->hdr[1] << 16 |
			 (uint32_t)r->hdr[2] << 8 | r->hdr[3];
	}
	/* Checked before anything is allocated (and again if called after the
	 * error): a hostile length costs nothing. */
	if (r->len == 0 || r->len > PROTO_FRAME_MAX)
		return -EMSGSIZE;
	if (!r->buf) {
		r->buf = malloc(r->len);
		if (!r->buf)
			return -ENOMEM;
		r->got = 0;
	}
	while (r->got < r->len) {
		n = proto_read_some(fd, r->buf + r->got, r->len - r->got);
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return n;
		if (n == 0)
			return -EPIPE;
		r->got += n;
	}
	return proto_reader_finish(r, out);
}

int proto_encode(const json_t *msg, char **buf, size_t *len)
{
	size_t jlen;
	char *json;
	char *frame;

	/* Frames carry objects only; json_dumps() would fail on a scalar anyway,
	 * and that is not an allocation failure. */
	if (!json_is_object(msg))
		return -EINVAL;
	json = json_dumps(msg, JSON_COMPACT);
	if (!json)
		return -ENOMEM;
	jlen = strlen(json);
	if (jlen > PROTO_FRAME_MAX) {
		free(json);
		return -EMSGSIZE;
	}
	frame = malloc(4 + jlen);
	if (!frame) {
		free(json);
		return -ENOMEM;
	}
	frame[0] = (char)(jlen >> 24);
	frame[1] = (char)(jlen >> 16);
	frame[2] = (char)(jlen >> 8);
	frame[3] = (char)jlen;
	memcpy(frame + 4, json, jlen);
	free(json);
	*buf = frame;
	*len = 4 + jlen;
	return 0;
}

/*
 * @fd returned EAGAIN. On a non-blocking fd, wait until it is ready for
 * @events; on a blocking one EAGAIN means SO_RCVTIMEO/SO_SNDTIMEO expired.
 */
static int proto_wait(int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int flags;
	int err;

	flags = fcntl(fd, F_GETFL);
	if (flags < 0)
		return -errno;
	if (!(flags & O_NONBLOCK))
		return -ETIMEDOUT;
	for (;;) {
		/* Errors and hang-ups wake poll too; the next read or send reports them. */
		if (poll(&pfd, 1, -1) >= 0)
			return 0;
		err = -errno;
		if (err != -EINTR)
			return err;
	}
}

int proto_send(int fd, const json_t *msg)
{
	size_t len, off = 0;
	char *buf = NULL;
	ssize_t n;
	int err;

	err = proto_encode(msg, &buf, &len);
	if (err)
		return err;
	while (off < len) {
		/* MSG_NOSIGNAL: a peer that went away is an error, not a SIGPIPE. */
		n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n >= 0) {
			off += n;
			continue;
		}
		err = -errno;
		if (err == -EINTR)
			continue;
		if (err != -EAGAIN && err != -EWOULDBLOCK)
			goto out;
		err = proto_wait(fd, POLLOUT);
		if (err)
			goto out;
	}
	err = 0;
out:
	free(buf);
	return err;
}

int proto_recv(int fd, json_t **out)
{
	struct proto_reader r;
	int err;

	proto_reader_init(&r);
	for (;;) {
		err = proto_reader_feed(&r, fd, out);
		if (err)
			break;
		err = proto_wait(fd, POLLIN);
		if (err)
			break;
	}
	proto_reader_release(&r);
	return err < 0 ? err : 0;
}

json_t *proto_request(const char *command, json_t *args)
{
	json_t *msg;

	if (!args)
		args = json_object();
	msg = json_object();
	if (!msg || !args || json_object_set_new(msg, "version", json_integer(PROTO_VERSION)) ||
	    json_object_set_new(msg, "command", json_string(command))) {
		json_decref(args);
		json_decref(msg);
		return NULL;
	}
	if (json_object_set_new(msg, "args", args)) {
		json_decref(msg);
		return NULL;
	}
	return msg;
}

json_t *proto_reply_ok(json_t *result)
{
	json_t *msg;

	msg = json_object();
	if (!msg || json_object_set_new(msg, "version", json_integer(PROTO_VERSION)) ||
	    json_object_set_new(msg, "ok", json_true())) {
		json_decref(result);
		json_decref(msg);
		return NULL;
	}
	/* A NULL @result is the caller's failed allocation: pass it on. */
	if (json_object_set_new(msg, "result", result)) {
		json_decref(msg);
		return NULL;
	}
	return msg;
}

/* A JSON string of @s, with bytes that are not valid UTF-8 replaced by '?':
 * messages quote user input (file names, keys), and an error about bad input
 * must still reach the user. */
static json_t *proto_string_lossy(const char *s)
{
	json_t *str;
	char *copy;
	size_t i;

	str = json_string(s);
	if (str)
		return str;
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (i = 0; copy[i]; i++) {
		if ((unsigned char)copy[i] >= 0x80)
			copy[i] = '?';
	}
	str = json_string(copy);
	free(copy);
	return str;
}

json_t *proto_reply_error(const char *code, const char *fmt, ...)
{
	json_t *msg = NULL, *error = NULL;
	char *text = NULL;
	bool built = false;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	error = json_object();
	msg = json_object();
	if (!error || !msg || json_object_set_new(error, "code", json_string(code)) ||
	    json_object_set_new(error, "message", proto_string_lossy(text)) ||
	    json_object_set_new(msg, "version", json_integer(PROTO_VERSION)) ||
	    json_object_set_new(msg, "ok", json_false()))
		goto out;
	/* json_object_set_new() steals @error even when it fails. */
	built = json_object_set_new(msg, "error", error) == 0;
	error = NULL;
out:
	free(text);
	json_decref(error);
	if (!built) {
		json_decref(msg);
		return NULL;
	}
	return msg;
}
