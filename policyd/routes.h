/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Routes over rtnetlink: find the route for or covering a destination,
 * install a route with the LWT BPF "out" encap, restore or delete it, list
 * the routes policyd owns, and watch route events. libnl 3.7 neither builds
 * nor parses BPF encaps, so requests get the encap attributes appended by
 * hand and dumps are parsed raw (SPEC §3).
 */
#ifndef POLICYD_ROUTES_H
#define POLICYD_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/prefix.h"

/* Route protocol number of the routes policyd owns ("policyd" in
 * /etc/iproute2/rt_protos.d/policyd.conf). */
#define RTPROT_POLICYD 241

#define ROUTE_ENCAP_NAME_MAX 64

/* RTAX_LOCK .. RTAX_FASTOPEN_NO_COOKIE of RTA_METRICS ("mtu", "advmss", ...).
 * RTAX_CC_ALGO ("congctl", a string) is not kept. */
#define ROUTE_METRICS_MAX 17

/* One unicast route, as much of it as policyd copies, restores and shows. */
struct route_info {
	struct prefix dst;
	uint32_t table; /* RT_TABLE_MAIN unless stated */
	uint8_t protocol; /* RTPROT_* */
	uint8_t scope; /* RT_SCOPE_* */
	uint8_t type; /* RTN_UNICAST, ... */
	uint8_t tos;
	bool has_priority;
	uint32_t priority; /* metric */
	bool has_realm;
	uint32_t realm; /* RTA_FLOW */
	int ifindex; /* 0: none */
	bool has_gw;
	struct prefix gw; /* full-length; may differ in family (RTA_VIA: IPv4 route via IPv6) */
	bool onlink; /* RTNH_F_ONLINK: the gateway is not checked against the connected routes */
	bool has_prefsrc;
	struct prefix prefsrc; /* RTA_PREFSRC ("src"), full-length: connected routes have one */
	uint32_t metrics_set; /* bit n: metrics[n] holds RTAX_n */
	uint32_t metrics[ROUTE_METRICS_MAX + 1];
	bool multipath; /* RTA_MULTIPATH present: not supported yet */
	bool has_encap; /* any lwtunnel encap */
	uint16_t encap_type;
	char encap_name[ROUTE_ENCAP_NAME_MAX]; /* LWT_BPF_PROG_NAME of a BPF out encap */
};

struct route_ctx;

/* Open a NETLINK_ROUTE socket. *@out is untouched on failure. */
int route_ctx_new(struct route_ctx **out);
void route_ctx_free(struct route_ctx *ctx);

/*
 * Look in the main table for the unicast route to exactly @dst (*@found set),
 * and the most specific unicast route strictly less specific that covers it
 * (*@cover_found set; a default route counts). Returns 0 or -errno.
 */
int route_lookup(struct route_ctx *ctx, const struct prefix *dst, struct route_info *exact,
		 bool *found, struct route_info *cover, bool *cover_found);

/*
 * The same lookup for many destinations: a snapshot of the main table (both
 * families), loaded with one dump each, searched in memory. The snapshot does
 * not follow later route changes. route_table_lookup() returns 0 or -EINVAL.
 */
struct route_table;

int route_table_load(struct route_ctx *ctx, struct route_table **out);
void route_table_free(struct route_table *t);
int route_table_lookup(const struct route_table *t, const struct prefix *dst,
		       struct route_info *exact, bool *found, struct route_info *cover,
		       bool *cover_found);

/*
 * Install @r with NLM_F_CREATE | NLM_F_REPLACE, protocol RTPROT_POLICYD, and
 * the LWT BPF out encap of @prog_fd named @prog_name (the name must change
 * whenever the program does: the kernel compares encaps by name only).
 * Returns 0 or -errno; @r must not be multipath (-EOPNOTSUPP).
 */
int route_install_bpf(struct route_ctx *ctx, const struct route_info *r, int prog_fd,
		      const char *prog_name);

/* Put @r back exactly as recorded (replacing what is there for r->dst). */
int route_restore(struct route_ctx *ctx, const struct route_info *r);

/* Delete the route for r->dst in r->table with protocol RTPROT_POLICYD.
 * A route already gone is success. */
int route_delete_owned(struct route_ctx *ctx, const struct route_info *r);

/* All routes in every table whose protocol is RTPROT_POLICYD, both
 * families. *@out is a new array (free()), *@n its length. */
int route_list_owned(struct route_ctx *ctx, struct route_info **out, size_t *n);

/* Resolve @dev to an ifindex; -ENODEV when there is no such interface. */
int route_ifindex(const char *dev, int *ifindex);

/*
 * Route events: a non-blocking socket subscribed to IPv4 and IPv6 route
 * changes (close() it when done). The daemon polls the fd;
 * route_monitor_drain() reads what is pending and calls @cb for each IPv4/IPv6
 * route added, changed (@deleted false) or deleted (@deleted true), cloned
 * entries excepted. Returns 0 or -errno. -ENOBUFS means events were lost (the
 * socket overran): the queue is then emptied without calling @cb, and the
 * caller must resynchronise from a dump (route_list_owned()).
 */
int route_monitor_open(int *fd);
int route_monitor_drain(int fd, void (*cb)(const struct route_info *r, bool deleted, void *arg),
			void *arg);

struct nlmsghdr;

/* Decode an RTM_NEWROUTE/RTM_DELROUTE message into @out. -EAFNOSUPPORT for a
 * family other than IPv4/IPv6, -EINVAL for a malformed message. */
int route_info_parse(const struct nlmsghdr *nlh, struct route_info *out);

/* State-file form of a route, and back. from_json() rejects anything
 * malformed with -EINVAL, leaving *@out untouched. */
json_t *route_info_to_json(const struct route_info *r);
int route_info_from_json(const json_t *j, struct route_info *out);

/* "10.0.0.0/24 via 192.168.50.2 dev eth1 proto static metric 100" */
void route_info_format(const struct route_info *r, char *buf, size_t size);

#endif
