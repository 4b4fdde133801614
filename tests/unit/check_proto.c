// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for the control protocol codec (lib/proto.c): framing over real
 * socketpairs, partial delivery, hostile lengths, bad JSON, EOF, EINTR, and the
 * exact JSON of the message builders.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <check.h>

#include "lib/proto.h"

static int sv[2];

static void setup(void)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void teardown(void)
{
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	sv[0] = sv[1] = -1;
}

static void set_nonblock(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	ck_assert_int_ge(flags, 0);
	ck_assert_int_eq(fcntl(fd, F_SETFL, flags | O_NONBLOCK), 0);
}

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		ck_assert_int_gt(n, 0);
		p += n;
		len -= n;
	}
}

static void write_header(int fd, uint32_t len)
{
	uint8_t hdr[4] = { len >> 24, len >> 16, len >> 8, len };

	write_all(fd, hdr, sizeof(hdr));
}

/* Write a frame with @len in its header and @body (@blen bytes) after it. */
static void write_raw_frame(int fd, uint32_t len, const char *body, size_t blen)
{
	write_header(fd, len);
	if (blen)
		write_all(fd, body, blen);
}

/* Feed the reader on a non-blocking sv[1] and return its result. */
static int feed_once(struct proto_reader *r, json_t **out)
{
	*out = NULL;
	return proto_reader_feed(r, sv[1], out);
}

static char *dump(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	ck_assert_ptr_nonnull(s);
	return s;
}

START_TEST(test_roundtrip_blocking)
{
	json_t *req, *got = NULL;
	char *a, *b;

	req = proto_request("apply", json_pack("{s:s, s:s, s:b}", "file", "web.yaml", "text",
					       "policy: web\n\u00e9t\u00e9\n", "dry_run", 1));
	ck_assert_ptr_nonnull(req);
	ck_assert_int_eq(proto_send(sv[0], req), 0);
	ck_assert_int_eq(proto_recv(sv[1], &got), 0);
	ck_assert_ptr_nonnull(got);
	ck_assert(json_equal(req, got));
	a = dump(req);
	b = dump(got);
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
	json_decref(req);
	json_decref(got);
}
END_TEST

START_TEST(test_roundtrip_reader)
{
	struct proto_reader r;
	json_t *msg, *got;

	set_nonblock(sv[1]);
	proto_reader_init(&r);
	ck_assert_int_eq(feed_once(&r, &got), 0); /* nothing yet: EAGAIN */
	msg = proto_reply_ok(json_pack("{s:i}", "policies", 3));
	ck_assert_int_eq(proto_send(sv[0], msg), 0);
	ck_assert_int_eq(feed_once(&r, &got), 1);
	ck_assert(json_equal(msg, got));
	json_decref(got);
	ck_assert_int_eq(feed_once(&r, &got), 0);
	ck_assert_ptr_null(got);
	proto_reader_release(&r);
	json_decref(msg);
}
END_TEST

/* Two frames in one write: one per call, nothing lost between them. */
START_TEST(test_two_frames_one_write)
{
	json_t *m1, *m2, *got;
	struct proto_reader r;
	char *b1, *b2;
	size_t l1, l2;

	set_nonblock(sv[1]);
	m1 = proto_request("list", NULL);
	m2 = proto_request("show", json_pack("{s:s}", "policy", "web"));
	ck_assert_int_eq(proto_encode(m1, &b1, &l1), 0);
	ck_assert_int_eq(proto_encode(m2, &b2, &l2), 0);
	b1 = realloc(b1, l1 + l2);
	ck_assert_ptr_nonnull(b1);
	memcpy(b1 + l1, b2, l2);
	write_all(sv[0], b1, l1 + l2);

	proto_reader_init(&r);
	ck_assert_int_eq(feed_once(&r, &got), 1);
	ck_assert(json_equal(m1, got));
	json_decref(got);
	ck_assert_int_eq(feed_once(&r, &got), 1);
	ck_assert(json_equal(m2, got));
	json_decref(got);
	ck_assert_int_eq(feed_once(&r, &got), 0);
	proto_reader_release(&r);
	free(b1);
	free(b2);
	json_decref(m1);
	json_decref(m2);
}
END_TEST

/* Every byte boundary, in the header and in the body, is a valid place for a
 * read to stop. */
START_TEST(test_byte_by_byte)
{
	struct proto_reader r;
	json_t *msg, *got;
	size_t len, i;
	char *buf;

	set_nonblock(sv[1]);
	msg = proto_request("stats", json_pack("{s:s}", "target", "198.18.1.0/24"));
	ck_assert_int_eq(proto_encode(msg, &buf, &len), 0);
	proto_reader_init(&r);
	for (i = 0; i < len; i++) {
		write_all(sv[0], buf + i, 1);
		if (i + 1 < len) {
			ck_assert_int_eq(feed_once(&r, &got), 0);
			ck_assert_ptr_null(got);
		}
	}
	ck_assert_int_eq(feed_once(&r, &got), 1);
	ck_assert(json_equal(msg, got));
	json_decref(got);
	proto_reader_release(&r);
	free(buf);
	json_decref(msg);
}
END_TEST

START_TEST(test_oversized_length)
{
	static const uint32_t lens[] = { 0xffffffffu, PROTO_FRAME_MAX + 1 };
	struct proto_reader r;
	json_t *got;

	set_nonblock(sv[1]);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		proto_reader_init(&r);
		write_header(sv[0], lens[i]);
		ck_assert_int_eq(feed_once(&r, &got), -EMSGSIZE);
		ck_assert_ptr_null(got);
		ck_assert_ptr_null(r.buf); /* refused before any allocation */
		/* Called again by a careless caller: still refused, still nothing. */
		ck_assert_int_eq(feed_once(&r, &got), -EMSGSIZE);
		ck_assert_ptr_null(r.buf);
		proto_reader_release(&r);
	}
}
END_TEST

START_TEST(test_max_length_accepted)
{
	struct proto_reader r;
	json_t *got;

	set_nonblock(sv[1]);
	proto_reader_init(&r);
	write_header(sv[0], PROTO_FRAME_MAX);
	write_all(sv[0], "{\"a\"", 4);
	ck_assert_int_eq(feed_once(&r, &got), 0); /* legal: waits for the rest */
	ck_assert_uint_eq(r.got, 4);
	proto_reader_release(&r);
}
END_TEST

START_TEST(test_zero_length)
{
	struct proto_reader r;
	json_t *got;

	set_nonblock(sv[1]);
	proto_reader_init(&r);
	write_header(sv[0], 0);
	ck_assert_int_eq(feed_once(&r, &got), -EMSGSIZE);
	ck_assert_ptr_null(r.buf);
	proto_reader_release(&r);
}
END_TEST

/* Each is a complete frame whose payload is not a JSON object. */
static const struct {
	const char *body;
	size_t len;
} bad_frames[] = {
	{ "[1,2,3]", 7 },
	{ "42", 2 },
	{ "\"str\"", 5 },
	{ "null", 4 },
	{ "{not json", 9 },
	{ "{\"a\":1}{\"b\":2}", 14 },
	{ "{\"a\":1,\"a\":2}", 13 },
	{ "{\"a\":\"\xff\xfe\"}", 10 },
	{ "{\"a\":\"\xc3\"}", 9 },
	{ "{\"a\":\"x\"}\0\0", 11 },
	{ "\0\0\0\0", 4 },
	{ "{\"a\":\"\\u0000\"}", 14 },
	{ "\x89PNG\r\n\x1a\n", 8 },
};

START_TEST(test_bad_payload)
{
	struct proto_reader r;
	json_t *got, *ok;

	set_nonblock(sv[1]);
	proto_reader_init(&r);
	write_raw_frame(sv[0], bad_frames[_i].len, bad_frames[_i].body, bad_frames[_i].len);
	ck_assert_int_eq(feed_once(&r, &got), -EBADMSG);
	ck_assert_ptr_null(got);
	ck_assert_ptr_null(r.buf);

	/* The stream stays in step: the next frame is read normally. */
	ok = proto_request("status", NULL);
	ck_assert_int_eq(proto_send(sv[0], ok), 0);
	ck_assert_int_eq(feed_once(&r, &got), 1);
	ck_assert(json_equal(ok, got));
	json_decref(got);
	json_decref(ok);
	proto_reader_release(&r);
}
END_TEST

START_TEST(test_eof_at_boundary)
{
	struct proto_reader r;
	json_t *got;

	set_nonblock(sv[1]);
	proto_reader_init(&r);
	close(sv[0]);
	sv[0] = -1;
	ck_assert_int_eq(feed_once(&r, &got), -EPIPE);
	proto_reader_release(&r);
}
END_TEST

START_TEST(test_eof_mid_header)
{
	struct proto_reader r;
	json_t *got;

	set_nonblock(sv[1]);
	proto_reader_init(&r);
	write_all(sv[0], "\0\0", 2);
	ck_assert_int_eq(feed_once(&r, &got), 0);
	close(sv[0]);
	sv[0] = -1;
	ck_assert_int_eq(feed_once(&r, &got), -EPIPE);
	proto_reader_release(&r);
}
END_TEST

START_TEST(test_eof_mid_body)
{
	struct proto_reader r;
	json_t *got = NULL;

	set_nonblock(sv[1]);
	proto_reader_init(&r);
	write_raw_frame(sv[0], 20, "{\"version\":", 11);
	ck_assert_int_eq(feed_once(&r, &got), 0);
	close(sv[0]);
	sv[0] = -1;
	ck_assert_int_eq(feed_once(&r, &got), -EPIPE);
	ck_assert_ptr_null(got);
	proto_reader_release(&r);
	ck_assert_ptr_null(r.buf);

	/* The blocking helper says the same. */
	teardown();
	setup();
	write_raw_frame(sv[0], 20, "{\"version\":", 11);
	close(sv[0]);
	sv[0] = -1;
	ck_assert_int_eq(proto_recv(sv[1], &got), -EPIPE);
	ck_assert_ptr_null(got);
}
END_TEST

START_TEST(test_encode_exact)
{
	json_t *msg;
	size_t len;
	char *buf;
	static const char want[] =
		"{\"version\":1,\"command\":\"remove\",\"args\":{\"policy\":\"web\"}}";

	msg = proto_request("remove", json_pack("{s:s}", "policy", "web"));
	ck_assert_int_eq(proto_encode(msg, &buf, &len), 0);
	ck_assert_uint_eq(len, 4 + strlen(want));
	ck_assert_int_eq((uint8_t)buf[0], 0);
	ck_assert_int_eq((uint8_t)buf[1], 0);
	ck_assert_int_eq((uint8_t)buf[2], 0);
	ck_assert_int_eq((uint8_t)buf[3], strlen(want));
	ck_assert_int_eq(memcmp(buf + 4, want, strlen(want)), 0);
	free(buf);
	json_decref(msg);
}
END_TEST

START_TEST(test_encode_big_endian)
{
	json_t *msg;
	char *text, *buf;
	size_t len, tlen = 0x012345;
	uint32_t hdr;

	text = malloc(tlen + 1);
	ck_assert_ptr_nonnull(text);
	memset(text, 'x', tlen);
	text[tlen] = '\0';
	msg = json_pack("{s:s}", "t", text);
	ck_assert_int_eq(proto_encode(msg, &buf, &len), 0);
	hdr = (uint32_t)(uint8_t)buf[0] << 24 | (uint32_t)(uint8_t)buf[1] << 16 |
	      (uint32_t)(uint8_t)buf[2] << 8 | (uint8_t)buf[3];
	ck_assert_uint_eq(hdr, tlen + strlen("{\"t\":\"\"}"));
	ck_assert_uint_eq(len, 4 + hdr);
	free(buf);
	free(text);
	json_decref(msg);
}
END_TEST

START_TEST(test_encode_too_big)
{
	json_t *msg;
	char *text, *buf = NULL;
	size_t len = 0;

	/* The string alone is exactly the limit: with its quotes and key, over. */
	text = malloc(PROTO_FRAME_MAX + 1);
	ck_assert_ptr_nonnull(text);
	memset(text, 'a', PROTO_FRAME_MAX);
	text[PROTO_FRAME_MAX] = '\0';
	msg = json_object();
	ck_assert_int_eq(json_object_set_new(msg, "t", json_stringn_nocheck(text, PROTO_FRAME_MAX)),
			 0);
	free(text);
	ck_assert_int_eq(proto_encode(msg, &buf, &len), -EMSGSIZE);
	ck_assert_ptr_null(buf);
	ck_assert_int_eq(proto_send(sv[0], msg), -EMSGSIZE);
	json_decref(msg);
}
END_TEST

START_TEST(test_encode_not_object)
{
	json_t *arr = json_array();
	char *buf = NULL;
	size_t len;

	ck_assert_int_eq(proto_encode(arr, &buf, &len), -EINVAL);
	ck_assert_int_eq(proto_encode(NULL, &buf, &len), -EINVAL);
	ck_assert_ptr_null(buf);
	json_decref(arr);
}
END_TEST

static void assert_json(json_t *msg, const char *want)
{
	char *got;

	ck_assert_ptr_nonnull(msg);
	got = dump(msg);
	ck_assert_str_eq(got, want);
	free(got);
	json_decref(msg);
}

START_TEST(test_builders_exact)
{
	assert_json(proto_request("list", NULL),
		    "{\"version\":1,\"command\":\"list\",\"args\":{}}");
	assert_json(proto_request("stats", json_pack("{s:s}", "target", "web")),
		    "{\"version\":1,\"command\":\"stats\",\"args\":{\"target\":\"web\"}}");
	assert_json(proto_reply_ok(json_pack("{s:s,s:b}", "policy", "web", "created", 1)),
		    "{\"version\":1,\"ok\":true,\"result\":{\"policy\":\"web\",\"created\":true}}");
	assert_json(
		proto_reply_error("ENOENT", "no policy '%s'", "web"),
		"{\"version\":1,\"ok\":false,\"error\":{\"code\":\"ENOENT\",\"message\":\"no policy 'web'\"}}");
	assert_json(
		proto_reply_error("EINVAL", "%s:%u:%u: unknown key '%s'", "web.yaml", 3, 5, "x\"y"),
		"{\"version\":1,\"ok\":false,\"error\":{\"code\":\"EINVAL\",\"message\":\"web.yaml:3:5: unknown key 'x\\\"y'\"}}");
	/* A message quoting bytes that are not UTF-8 still makes a valid reply. */
	assert_json(
		proto_reply_error("EINVAL", "bad name '%s'", "a\xff"),
		"{\"version\":1,\"ok\":false,\"error\":{\"code\":\"EINVAL\",\"message\":\"bad name 'a?'\"}}");
	/* NULL result: the caller's allocation failed, and so does the reply. */
	ck_assert_ptr_null(proto_reply_ok(NULL));
}
END_TEST

struct writer {
	int fd;
	const char *buf;
	size_t len;
	unsigned int delay_ms;
	size_t chunk;
};

/* Deliver buf in chunks with pauses, from another thread. */
static void *writer_thread(void *arg)
{
	struct writer *w = arg;
	size_t off = 0;

	while (off < w->len) {
		size_t n = w->len - off < w->chunk ? w->len - off : w->chunk;
		ssize_t done;

		usleep(w->delay_ms * 1000);
		done = write(w->fd, w->buf + off, n);
		if (done <= 0)
			break;
		off += done;
	}
	return NULL;
}

/* proto_recv() on a non-blocking fd waits for slow data instead of failing. */
START_TEST(test_recv_nonblocking_slow)
{
	struct writer w = { .fd = sv[0], .delay_ms = 20, .chunk = 3 };
	json_t *msg, *got = NULL;
	pthread_t t;
	char *buf;
	size_t len;

	set_nonblock(sv[1]);
	msg = proto_reply_ok(json_pack("{s:s}", "policy", "web"));
	ck_assert_int_eq(proto_encode(msg, &buf, &len), 0);
	w.buf = buf;
	w.len = len;
	ck_assert_int_eq(pthread_create(&t, NULL, writer_thread, &w), 0);
	ck_assert_int_eq(proto_recv(sv[1], &got), 0);
	pthread_join(t, NULL);
	ck_assert(json_equal(msg, got));
	json_decref(got);
	json_decref(msg);
	free(buf);
}
END_TEST

struct reader {
	int fd;
	json_t *got;
	int err;
	unsigned int delay_ms;
};

static void *reader_thread(void *arg)
{
	struct reader *rd = arg;

	usleep(rd->delay_ms * 1000);
	rd->err = proto_recv(rd->fd, &rd->got);
	return NULL;
}

/* A frame far bigger than the socket buffer: send() returns short counts (or
 * EAGAIN on a non-blocking fd) and proto_send() carries on. */
static void big_send(bool nonblock)
{
	struct reader rd = { .fd = sv[1], .delay_ms = 50 };
	size_t tlen = 1u << 20;
	json_t *msg;
	pthread_t t;
	char *text;
	int sndbuf = 4096;

	ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	if (nonblock)
		set_nonblock(sv[0]);
	text = malloc(tlen + 1);
	ck_assert_ptr_nonnull(text);
	for (size_t i = 0; i < tlen; i++)
		text[i] = 'a' + i % 26;
	text[tlen] = '\0';
	msg = proto_request("apply", json_pack("{s:s}", "text", text));
	free(text);
	ck_assert_ptr_nonnull(msg);
	ck_assert_int_eq(pthread_create(&t, NULL, reader_thread, &rd), 0);
	ck_assert_int_eq(proto_send(sv[0], msg), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(rd.err, 0);
	ck_assert(json_equal(msg, rd.got));
	json_decref(rd.got);
	json_decref(msg);
}

START_TEST(test_send_partial_blocking)
{
	big_send(false);
}
END_TEST

START_TEST(test_send_partial_nonblocking)
{
	big_send(true);
}
END_TEST

/* A peer that went away is -EPIPE, and no SIGPIPE kills us (MSG_NOSIGNAL). */
START_TEST(test_send_closed_peer)
{
	json_t *msg = proto_request("list", NULL);

	close(sv[1]);
	sv[1] = -1;
	ck_assert_int_eq(proto_send(sv[0], msg), -EPIPE);
	json_decref(msg);
}
END_TEST

/* A receive timeout on a blocking socket ends the wait (the client relies on
 * it so a stuck daemon cannot hang it). */
START_TEST(test_recv_timeout)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 };
	json_t *got = NULL;

	ck_assert_int_eq(setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	write_all(sv[0], "\0\0\0\x10{", 5);
	ck_assert_int_eq(proto_recv(sv[1], &got), -ETIMEDOUT);
	ck_assert_ptr_null(got);
}
END_TEST

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	alarms++;
}

/* Signals without SA_RESTART interrupt read(): proto_recv() resumes. */
START_TEST(test_recv_eintr)
{
	struct itimerval it = { .it_interval = { 0, 10000 }, .it_value = { 0, 10000 } };
	struct itimerval off = { 0 };
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	struct writer w = { .fd = sv[0], .delay_ms = 40, .chunk = 16 };
	sigset_t block, prev;
	json_t *msg, *got = NULL;
	pthread_t t;
	size_t len;
	char *buf;
	int err;

	msg = proto_request("status", NULL);
	ck_assert_int_eq(proto_encode(msg, &buf, &len), 0);
	w.buf = buf;
	w.len = len;

	/* The writer thread must not take the signal: it is for the reader. */
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &block, &prev), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, writer_thread, &w), 0);
	ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &prev, NULL), 0);

	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART */
	ck_assert_int_eq(sigaction(SIGALRM, &sa, &old), 0);
	alarms = 0;
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	err = proto_recv(sv[1], &got);
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	pthread_join(t, NULL);

	ck_assert_int_eq(err, 0);
	ck_assert_int_gt(alarms, 0);
	ck_assert(json_equal(msg, got));
	json_decref(got);
	json_decref(msg);
	free(buf);
}
END_TEST

static Suite *proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc;

	tc = tcase_create("frames");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_roundtrip_blocking);
	tcase_add_test(tc, test_roundtrip_reader);
	tcase_add_test(tc, test_two_frames_one_write);
	tcase_add_test(tc, test_byte_by_byte);
	tcase_add_test(tc, test_oversized_length);
	tcase_add_test(tc, test_max_length_accepted);
	tcase_add_test(tc, test_zero_length);
	tcase_add_loop_test(tc, test_bad_payload, 0, sizeof(bad_frames) / sizeof(bad_frames[0]));
	tcase_add_test(tc, test_eof_at_boundary);
	tcase_add_test(tc, test_eof_mid_header);
	tcase_add_test(tc, test_eof_mid_body);
	suite_add_tcase(s, tc);

	tc = tcase_create("encode");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_encode_exact);
	tcase_add_test(tc, test_encode_big_endian);
	tcase_add_test(tc, test_encode_too_big);
	tcase_add_test(tc, test_encode_not_object);
	tcase_add_test(tc, test_builders_exact);
	suite_add_tcase(s, tc);

	tc = tcase_create("blocking");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_recv_nonblocking_slow);
	tcase_add_test(tc, test_send_partial_blocking);
	tcase_add_test(tc, test_send_partial_nonblocking);
	tcase_add_test(tc, test_send_closed_peer);
	tcase_add_test(tc, test_recv_timeout);
	tcase_add_test(tc, test_recv_eintr);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(proto_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
