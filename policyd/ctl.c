// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control socket: a Unix stream socket made with a lock and a umask
 * (mode 0660, group --group), peers checked with SO_PEERCRED, non-blocking
 * clients with their own frame reader and output buffer, so a slow, stuck or
 * hostile client never blocks the daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/proto.h"
#include "daemon.h"
#include "ctl.h"
#include "events.h"

/* A client that keeps a frame half-sent, or leaves a reply unread, this long
 * is dropped. */
#define CLIENT_TIMEOUT_S 30
/* A monitor client may idle for ever while there is nothing to send; one
 * that takes none of its queued events this long is dropped. */
#define STREAM_STALL_S 60
/* Unsent stream bytes at which a push writes at once. */
#define STREAM_SEND_AT (64u << 10)
#define CLIENTS_MAX 64

static gid_t ctl_gid;
static bool ctl_has_group;
static char ctl_group[64];

static int resolve_group(const char *name, bool required)
{
	struct group *gr = getgrnam(name);

	if (!gr) {
		if (required) {
			pr_err("no group named '%s'", name);
			return -ENOENT;
		}
		return 0;
	}
	ctl_gid = gr->gr_gid;
	ctl_has_group = true;
	snprintf(ctl_group, sizeof(ctl_group), "%s", name);
	return 0;
}

static int socket_dir_prepare(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	if (strlen(path) >= sizeof(dir))
		return -ENAMETOOLONG;
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

int ctl_listen(struct daemon *d)
{
	const char *path = d->opts.socket_path;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char lock[PATH_MAX];
	mode_t old_umask;
	int fd = -1, err;

	err = resolve_group(d->opts.group ? d->opts.group : "policyd", d->opts.group != NULL);
	if (err)
		return err;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		pr_err("socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	err = socket_dir_prepare(path);
	if (err) {
		pr_err("cannot create the directory of %s: %s", path, strerror(-err));
		return err;
	}
	/* The lock, not the socket file, says whether another daemon serves
	 * this path: only its holder may remove a stale socket. */
	snprintf(lock, sizeof(lock), "%s.lock", path);
	d->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (d->lock_fd < 0) {
		err = -errno;
		pr_err("cannot open %s: %s", lock, strerror(-err));
		return err;
	}
	if (flock(d->lock_fd, LOCK_EX | LOCK_NB)) {
		err = -errno;
		pr_err("another policyd is serving %s (%s is locked)", path, lock);
		return err == -EWOULDBLOCK ? -EADDRINUSE : err;
	}
	if (unlink(path) && errno != ENOENT) {
		err = -errno;
		pr_err("cannot remove the stale socket %s: %s", path, strerror(-err));
		return err;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strcpy(sun.sun_path, path);
	old_umask = umask(0117);
	err = bind(fd, (struct sockaddr *)&sun, sizeof(sun)) ? -errno : 0;
	umask(old_umask);
	if (!err && chmod(path, 0660))
		err = -errno;
	if (!err && ctl_has_group && chown(path, 0, ctl_gid))
		err = -errno;
	if (!err && listen(fd, 64))
		err = -errno;
	if (err) {
		pr_err("cannot listen on %s: %s", path, strerror(-err));
		close(fd);
		return err;
	}
	d->listen_fd = fd;
	return 0;
}

static void client_free(struct daemon *d, struct client *c)
{
	struct client **pp;

	events_unsubscribe(d, c);
	for (pp = &d->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	proto_reader_release(&c->rd);
	free(c->out);
	free(c);
	d->nclients--;
}

void ctl_close(struct daemon *d)
{
	while (d->clients)
		client_free(d, d->clients);
	if (d->listen_fd >= 0) {
		close(d->listen_fd);
		unlink(d->opts.socket_path);
		d->listen_fd = -1;
	}
	if (d->lock_fd >= 0) {
		close(d->lock_fd);
		d->lock_fd = -1;
	}
}

static bool peer_allowed(const struct ucred *cred)
{
	struct passwd *pw;
	gid_t groups[256];
	int ngroups = 256;

	if (cred->uid == 0)
		return true;
	if (!ctl_has_group)
		return false;
	if (cred->gid == ctl_gid)
		return true;
	pw = getpwuid(cred->uid);
	if (!pw || getgrouplist(pw->pw_name, pw->pw_gid, groups, &ngroups) < 0)
		return false;
	for (int i = 0; i < ngroups; i++)
		if (groups[i] == ctl_gid)
			return true;
	return false;
}

static int client_watch(struct daemon *d, struct client *c)
{
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLRDHUP | (c->out_len > c->out_off ? EPOLLOUT : 0),
		.data.ptr = &c->src,
	};

	return epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev) ? -errno : 0;
}

/* Send what fits now; the rest waits for EPOLLOUT. */
static int client_flush(struct daemon *d, struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0)
			return -errno;
		c->out_off += n;
		c->last_active = time(NULL);
	}
	if (c->out_off == c->out_len) {
		free(c->out);
		c->out = NULL;
		c->out_len = c->out_off = 0;
		/* Closing at once would reset a peer with unread input
		 * before it reads the error: end our side only. */
		if (c->closing)
			shutdown(c->fd, SHUT_WR);
	}
	return client_watch(d, c);
}

static int client_queue(struct daemon *d, struct client *c, json_t *reply)
{
	char *buf;
	size_t len;
	int err;

	err = proto_encode(reply, &buf, &len);
	json_decref(reply);
	if (err)
		return err;
	if (!c->out) {
		c->out = buf;
		c->out_len = len;
		c->out_off = 0;
	} else {
		char *tmp = realloc(c->out, c->out_len + len);

		if (!tmp) {
			free(buf);
			return -ENOMEM;
		}
		memcpy(tmp + c->out_len, buf, len);
		c->out = tmp;
		c->out_len += len;
		free(buf);
	}
	return client_flush(d, c);
}

void ctl_accept(struct daemon *d)
{
	for (;;) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
		struct client *c;
		int fd;

		fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				pr_warn("accept: %s", strerror(errno));
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
			close(fd);
			continue;
		}
		if (!peer_allowed(&cred)) {
			char *buf;
			size_t blen;
			json_t *r = proto_reply_error(
				"EPERM",
				"permission denied: uid %u is neither root nor in the policyd group",
				(unsigned int)cred.uid);

			pr_warn("refused a control connection from uid %u pid %d",
				(unsigned int)cred.uid, (int)cred.pid);
			/* Best effort, never blocking: the socket is fresh. */
			if (r && proto_encode(r, &buf, &blen) == 0) {
				if (send(fd, buf, blen, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
					pr_debug("cannot tell uid %u: %s", (unsigned int)cred.uid,
						 strerror(errno));
				free(buf);
			}
			json_decref(r);
			close(fd);
			continue;
		}
		if (d->nclients >= CLIENTS_MAX) {
			pr_warn("too many control connections (%d); refusing pid %d", CLIENTS_MAX,
				(int)cred.pid);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->src.type = EV_CLIENT;
		c->fd = fd;
		c->last_active = time(NULL);
		proto_reader_init(&c->rd);
		ev.data.ptr = &c->src;
		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			pr_warn("epoll: %s", strerror(errno));
			proto_reader_release(&c->rd);
			close(fd);
			free(c);
			continue;
		}
		c->next = d->clients;
		d->clients = c;
		d->nclients++;
	}
}

static json_t *handle_request(struct daemon *d, struct client *c, json_t *req)
{
	json_t *version = json_object_get(req, "version");
	json_t *command = json_object_get(req, "command");
	json_t *args = json_object_get(req, "args");

	if (!json_is_integer(version) || json_integer_value(version) != PROTO_VERSION)
		return proto_reply_error(
			"EPROTO", "unsupported protocol version (this daemon speaks version %d)",
			PROTO_VERSION);
	if (!json_is_string(command))
		return proto_reply_error("EPROTO", "request has no command");
	if (args && !json_is_object(args))
		return proto_reply_error("EPROTO", "args must be an object");
	/* The one command that outlives its reply: the connection streams. */
	if (!strcmp(json_string_value(command), "monitor"))
		return events_subscribe(d, c, args);
	return cmd_dispatch(d, json_string_value(command), args);
}

/* Read and drop what a closing client sends; 0 until it hangs up. */
static int client_discard(struct client *c)
{
	char buf[4096];

	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return n == 0 ? -EPIPE : -errno;
	}
}

void ctl_client_event(struct daemon *d, struct client *c, uint32_t events)
{
	int err = 0;

	if (events & EPOLLOUT) {
		err = client_flush(d, c);
		if (err)
			goto drop;
	}
	if (c->closing || c->sub) {
		err = client_discard(c);
		if (err)
			goto drop;
		return;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		for (;;) {
			json_t *req = NULL, *reply;

			err = proto_reader_feed(&c->rd, c->fd, &req);
			if (err == 0)
				break;
			c->last_active = time(NULL);
			if (err == -EMSGSIZE || err == -EBADMSG) {
				/* Framing is lost: say why, then hang up. */
				reply = proto_reply_error(
					"EPROTO", "%s",
					err == -EMSGSIZE ? "frame length is zero or over 64 MiB" :
							   "frame is not a JSON object");
				c->closing = true;
				err = client_queue(d, c, reply);
				if (!err)
					err = client_discard(c);
				if (err)
					goto drop;
				return;
			}
			if (err < 0)
				goto drop;
			reply = handle_request(d, c, req);
			json_decref(req);
			if (!reply) {
				err = -ENOMEM;
				goto drop;
			}
			err = client_queue(d, c, reply);
			if (err)
				goto drop;
			if (c->sub)
				return; /* streaming now: more input is discarded */
		}
	}
	return;
drop:
	if (err && err != -EPIPE)
		pr_debug("control client dropped: %s", strerror(-err));
	client_free(d, c);
}

void ctl_tick(struct daemon *d)
{
	time_t now = time(NULL);
	struct client *c = d->clients, *next;

	for (; c; c = next) {
		next = c->next;
		if (c->sub) {
			if (c->out_len == c->out_off)
				c->last_active = now; /* nothing to send: not stalled */
			else if (now - c->last_active >= STREAM_STALL_S) {
				pr_warn("monitor client took no events for %ds; closed",
					STREAM_STALL_S);
				client_free(d, c);
			}
			continue;
		}
		if (now - c->last_active >= CLIENT_TIMEOUT_S) {
			pr_warn("control client idle for %ds; closed", CLIENT_TIMEOUT_S);
			client_free(d, c);
		}
	}
}

int ctl_client_push(struct daemon *d, struct client *c, const char *frame, size_t len,
		    size_t max_pending)
{
	size_t pending = c->out_len - c->out_off;
	bool armed = pending > 0; /* client_watch() asked for EPOLLOUT */
	char *tmp;

	if (c->closing)
		return -EPIPE;
	if (pending + len > max_pending)
		return -ENOBUFS;
	/* Sent bytes at the front go before they outgrow what is unsent:
	 * the buffer stays within twice the bound. */
	if (c->out_off && c->out_off >= pending) {
		memmove(c->out, c->out + c->out_off, pending);
		c->out_len = pending;
		c->out_off = 0;
	}
	tmp = realloc(c->out, c->out_len + len);
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp + c->out_len, frame, len);
	c->out = tmp;
	c->out_len += len;
	pending += len;
	/* A burst of events leaves in few writes: most wait for EPOLLOUT,
	 * but a large backlog goes now, so a batch from the ring buffer
	 * cannot fill the queue of a client that keeps up. Errors are left
	 * to the loop (EPOLLERR/EPOLLHUP), which may free the client. */
	while (pending >= STREAM_SEND_AT) {
		ssize_t n = send(c->fd, c->out + c->out_off, pending, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n <= 0)
			break;
		c->out_off += n;
		pending -= n;
		c->last_active = time(NULL);
	}
	return armed || !pending ? 0 : client_watch(d, c);
}
