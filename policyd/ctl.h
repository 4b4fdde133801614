/* SPDX-License-Identifier: GPL-2.0-only */
/* One control-socket client: its frame reader and unsent reply bytes. */
#ifndef POLICYD_CTL_H
#define POLICYD_CTL_H

#include <stdbool.h>
#include <time.h>

#include "lib/proto.h"
#include "daemon.h"

struct client {
	struct ev_source src; /* first: epoll hands back its address */
	struct client *next;
	int fd;
	struct proto_reader rd;
	char *out;
	size_t out_len;
	size_t out_off;
	time_t last_active;
	/* Framing is lost: input is discarded, the error reply is flushed,
	 * then the write side is shut; the client closes (or times out). */
	bool closing;
	/* Set by 'monitor': the connection streams events (events.c) and
	 * its input is discarded. */
	struct subscriber *sub;
};

/* Queue @frame (@len bytes) for @c unless its unsent bytes would pass
 * @max_pending: then -ENOBUFS and nothing is queued. Sent from the loop. */
int ctl_client_push(struct daemon *d, struct client *c, const char *frame, size_t len,
		    size_t max_pending);

#endif
