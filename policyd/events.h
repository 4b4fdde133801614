/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Events from the program's ring buffer to monitor/capture subscribers:
 * the daemon side of policyctl monitor and capture, and the unblock events
 * only the daemon can make.
 */
#ifndef POLICYD_EVENTS_H
#define POLICYD_EVENTS_H

#include <jansson.h>

#include "daemon.h"

struct client;

/* Open the pd_events ring buffer and put it into the epoll loop (after
 * maps_open() and the loop's set-up). 0 or -errno. */
int events_open(struct daemon *d);
void events_close(struct daemon *d);
/* The ring buffer is readable: pass records on (a bounded batch, so other
 * sources are served too; level-triggered epoll calls again). */
void events_consume(struct daemon *d);
/* Once a second: unblock events for blocks that ended, and a look at
 * pd_hosts after lost events. */
void events_tick(struct daemon *d);

/* The 'monitor' command: make @c a subscriber and return the reply (ok
 * with the subscription, or an error that leaves @c a normal client). */
json_t *events_subscribe(struct daemon *d, struct client *c, json_t *args);
/* @c is going away: forget its subscription, keep its drop count. */
void events_unsubscribe(struct daemon *d, struct client *c);

/* 'policyctl unblock' lifted @address's blocks in the policies named in
 * @policies (a JSON array of names): tell subscribers. */
void events_unblocked(struct daemon *d, const char *address, const json_t *policies);

/* The "events" object of status: received, lost, capped, dropped,
 * subscribers. NULL before events_open(). */
json_t *events_status(struct daemon *d);

#endif
