// SPDX-License-Identifier: GPL-2.0-only
/*
 * policyctl's side of the control socket: connect, send one request, wait
 * (bounded) for one reply, and turn every way that can fail into one error
 * line and the exit status SPEC §5 gives it.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/proto.h"
#include "policyctl.h"

/* Connect to the daemon. Returns the fd, or -(exit status) with the error
 * printed. */
static int ctl_connect(const struct ctl *ctl)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CTL_TIMEOUT_S };
	int fd, err;

	if (strlen(ctl->socket_path) >= sizeof(sa.sun_path)) {
		ctl_err("socket path too long (max %zu bytes): %s", sizeof(sa.sun_path) - 1,
			ctl->socket_path);
		return -CTL_EXIT_USAGE;
	}
	strcpy(sa.sun_path, ctl->socket_path);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		ctl_err("cannot create a socket: %s", strerror(err));
		return -CTL_EXIT_FAIL;
	}
	/* A stuck daemon must not hang the client (nor a shell script) forever;
	 * the send timeout also bounds connect() to a daemon whose backlog is full. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv))) {
		err = errno;
		ctl_err("cannot set a socket timeout: %s", strerror(err));
		close(fd);
		return -CTL_EXIT_FAIL;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		if (err == EAGAIN || err == EINPROGRESS)
			ctl_err("cannot reach policyd at %s: no answer within %d s",
				ctl->socket_path, CTL_TIMEOUT_S);
		else
			ctl_err("cannot reach policyd at %s: %s", ctl->socket_path, strerror(err));
		close(fd);
		return -CTL_EXIT_UNREACHABLE;
	}
	return fd;
}

/* Print why no reply arrived; return the exit status. */
static int ctl_recv_failed(const struct ctl *ctl, int err)
{
	switch (err) {
	case -EPIPE:
	case -ECONNRESET:
		ctl_err("policyd at %s closed the connection without a reply", ctl->socket_path);
		return CTL_EXIT_UNREACHABLE;
	case -ETIMEDOUT:
		ctl_err("no reply from policyd at %s within %d s", ctl->socket_path, CTL_TIMEOUT_S);
		return CTL_EXIT_UNREACHABLE;
	case -EMSGSIZE:
	case -EBADMSG:
		return ctl_unexpected_reply();
	case -ENOMEM:
		ctl_err("out of memory");
		return CTL_EXIT_FAIL;
	default:
		ctl_err("cannot read from policyd at %s: %s", ctl->socket_path, strerror(-err));
		return CTL_EXIT_UNREACHABLE;
	}
}

/* Check a reply's envelope; on success *@result is its result (borrowed). */
static int ctl_check_reply(const json_t *reply, json_t **result)
{
	const json_t *version = json_object_get(reply, "version");
	const json_t *ok = json_object_get(reply, "ok");
	const json_t *error;
	const char *message, *code;

	if (json_is_integer(version) && json_integer_value(version) != PROTO_VERSION) {
		ctl_err("policyd speaks protocol version %" JSON_INTEGER_FORMAT
			", policyctl speaks %d",
			json_integer_value(version), PROTO_VERSION);
		return CTL_EXIT_FAIL;
	}
	if (!json_is_boolean(ok))
		return ctl_unexpected_reply();
	if (json_is_false(ok)) {
		error = json_object_get(reply, "error");
		message = json_string_value(json_object_get(error, "message"));
		code = json_string_value(json_object_get(error, "code"));
		if (message && *message)
			ctl_err("%s", message);
		else if (code)
			ctl_err("policyd reported an error (%s)", code);
		else
			return ctl_unexpected_reply();
		return CTL_EXIT_FAIL;
	}
	*result = json_object_get(reply, "result");
	if (!json_is_object(*result))
		return ctl_unexpected_reply();
	return CTL_EXIT_OK;
}

/* One request and its reply; with @keep_fd, the connection stays open for
 * what follows the reply (and is handed over on success). */
static int ctl_exchange(const struct ctl *ctl, const char *command, json_t *args, json_t **result,
			int *keep_fd)
{
	json_t *req, *reply = NULL, *res = NULL;
	int status, fd = -1, err;

	req = proto_request(command, args);
	if (!req) {
		ctl_err("out of memory");
		return CTL_EXIT_FAIL;
	}
	fd = ctl_connect(ctl);
	if (fd < 0) {
		status = -fd;
		fd = -1;
		goto out;
	}
	err = proto_send(fd, req);
	if (err == -EMSGSIZE) {
		ctl_err("request larger than the protocol's %u MiB limit", PROTO_FRAME_MAX >> 20);
		status = CTL_EXIT_FAIL;
		goto out;
	}
	if (err == -ETIMEDOUT) {
		ctl_err("policyd at %s did not take the request within %d s", ctl->socket_path,
			CTL_TIMEOUT_S);
		status = CTL_EXIT_UNREACHABLE;
		goto out;
	}
	/* On EPIPE/ECONNRESET the daemon may have refused the request with an
	 * error reply before closing: read it, it says more than "broken pipe". */
	if (err && err != -EPIPE && err != -ECONNRESET) {
		ctl_err("cannot send to policyd at %s: %s", ctl->socket_path, strerror(-err));
		status = CTL_EXIT_UNREACHABLE;
		goto out;
	}
	err = proto_recv(fd, &reply);
	if (err) {
		status = ctl_recv_failed(ctl, err);
		goto out;
	}
	status = ctl_check_reply(reply, &res);
	if (status == CTL_EXIT_OK)
		*result = json_incref(res);
	if (status == CTL_EXIT_OK && keep_fd) {
		/* A stream has no end to wait for: no timeout, no blocking. */
		struct timeval none = { 0 };

		if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none)) ||
		    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)) {
			ctl_err("cannot set up the stream: %s", strerror(errno));
			json_decref(*result);
			*result = NULL;
			status = CTL_EXIT_FAIL;
			goto out;
		}
		*keep_fd = fd;
		fd = -1;
	}
out:
	if (fd >= 0)
		close(fd);
	json_decref(reply);
	json_decref(req);
	return status;
}

int ctl_call(const struct ctl *ctl, const char *command, json_t *args, json_t **result)
{
	return ctl_exchange(ctl, command, args, result, NULL);
}

int ctl_open_stream(const struct ctl *ctl, const char *command, json_t *args, json_t **result,
		    int *fd)
{
	return ctl_exchange(ctl, command, args, result, fd);
}
