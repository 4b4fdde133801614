/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Events as they travel from the daemon to policyctl monitor/capture: type
 * names and filters, a ring-buffer record as a JSON object, that object as
 * one readable line, and the base64 codec that carries sampled packets.
 */
#ifndef POLICYD_EVENT_CODEC_H
#define POLICYD_EVENT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "../bpf/policy_abi.h"

/* A set of event types: bit t for enum pd_event_type t. */
#define EVENT_TYPE_BIT(t) (1u << (t))
#define EVENT_TYPES_ALL                                                                         \
	(EVENT_TYPE_BIT(PD_EV_DROP) | EVENT_TYPE_BIT(PD_EV_BLOCK) | EVENT_TYPE_BIT(PD_EV_LOG) | \
	 EVENT_TYPE_BIT(PD_EV_SAMPLE) | EVENT_TYPE_BIT(PD_EV_UNBLOCK))

/* "drop", "block", "log", "sample", "unblock"; NULL for another value. */
const char *event_type_name(unsigned int type);

/*
 * A comma-separated list of type names ("drop,block") into *@mask; "block"
 * also selects "unblock" (a block's two ends), "all" selects every type.
 * Returns 0, or -EINVAL with the first bad word (quoted, cut short) in @bad.
 */
int event_types_parse(const char *list, unsigned int *mask, char *bad, size_t badlen);

/* The same from a JSON array of names (the monitor request's "types"). */
int event_types_from_json(const json_t *arr, unsigned int *mask, char *bad, size_t badlen);
/* @mask as a new JSON array of names, in type order; NULL on ENOMEM. */
json_t *event_types_to_json(unsigned int mask);

/* Characters base64 needs for @n bytes (padded, without the NUL). */
size_t event_base64_len(size_t n);
/* RFC 4648 base64 of @n bytes at @in; @out holds event_base64_len(n) + 1. */
void event_base64_encode(const uint8_t *in, size_t n, char *out);
/* Decode padded base64 @in into @out (at most @size bytes); *@len is the
 * byte count. Returns 0, -EINVAL for text that is not base64, -ENOSPC when
 * @out is too small. */
int event_base64_decode(const char *in, uint8_t *out, size_t size, size_t *len);

/* What the daemon adds to a record: names and times it alone knows. */
struct event_meta {
	const char *policy; /* NULL: the slot holds no applied policy */
	const char *rule; /* NULL: no rule decided (blocked host, quota, ...) */
	uint64_t wall_ns; /* the event's time_ns on the wall clock (ns since 1970) */
	uint64_t until_wall_ns; /* PD_EV_BLOCK: the block's end, likewise */
	const char *cause; /* PD_EV_UNBLOCK: "expired" or "unblocked" */
	bool data; /* PD_EV_SAMPLE: include the packet bytes (base64) */
};

/*
 * A record of @size bytes (struct pd_event, or struct pd_sample_event for
 * PD_EV_SAMPLE) as a new JSON object, or NULL when the record is too short,
 * of an unknown type or family, or on ENOMEM. Keys: time, time_ns, type,
 * policy, rule, verdict, reason (drops and would-drops), would_drop, family,
 * proto, src, dst, sport/dport (when the packet has ports), icmp_type,
 * length, packets; block: until, until_ns; unblock: cause (no src);
 * sample: caplen, and data when @m->data.
 */
json_t *event_to_json(const void *rec, size_t size, const struct event_meta *m);

/* An event object (as event_to_json() makes it) as one line of text for
 * people, without the newline, local time: "07:21:03.412 drop ...". */
void event_format_line(const json_t *ev, char *buf, size_t size);

#endif
