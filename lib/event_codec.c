// SPDX-License-Identifier: GPL-2.0-only
/*
 * Event codec: ring-buffer records into the JSON objects the daemon streams
 * to monitor/capture clients, those objects into readable lines, and base64
 * for sampled packet bytes (jansson has none). Pure: no daemon state.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "event_codec.h"
#include "policy.h"

static const char *const type_names[] = {
	[PD_EV_DROP] = "drop",	   [PD_EV_BLOCK] = "block",	[PD_EV_LOG] = "log",
	[PD_EV_SAMPLE] = "sample", [PD_EV_UNBLOCK] = "unblock",
};

const char *event_type_name(unsigned int type)
{
	if (type >= sizeof(type_names) / sizeof(type_names[0]))
		return NULL;
	return type_names[type];
}

/* One name ([@s, @s + @len)) into its bits; 0 when unknown. */
static unsigned int type_word_mask(const char *s, size_t len)
{
	if (len == 3 && !strncmp(s, "all", 3))
		return EVENT_TYPES_ALL;
	for (unsigned int t = 0; t < sizeof(type_names) / sizeof(type_names[0]); t++) {
		if (!type_names[t] || strlen(type_names[t]) != len ||
		    strncmp(type_names[t], s, len))
			continue;
		/* A block has two ends: asking for blocks means both. */
		if (t == PD_EV_BLOCK)
			return EVENT_TYPE_BIT(PD_EV_BLOCK) | EVENT_TYPE_BIT(PD_EV_UNBLOCK);
		return EVENT_TYPE_BIT(t);
	}
	return 0;
}

static void bad_word(const char *s, size_t len, char *bad, size_t badlen)
{
	if (badlen)
		snprintf(bad, badlen, "%.*s", (int)(len > 32 ? 32 : len), s);
}

int event_types_parse(const char *list, unsigned int *mask, char *bad, size_t badlen)
{
	unsigned int m = 0;
	const char *p = list;

	for (;;) {
		size_t len = strcspn(p, ",");
		unsigned int bits = type_word_mask(p, len);

		if (!bits) {
			bad_word(p, len, bad, badlen);
			return -EINVAL;
		}
		m |= bits;
		if (!p[len])
			break;
		p += len + 1;
	}
	*mask = m;
	return 0;
}

int event_types_from_json(const json_t *arr, unsigned int *mask, char *bad, size_t badlen)
{
	unsigned int m = 0;
	const json_t *v;
	size_t i;

	if (!json_is_array(arr) || !json_array_size(arr)) {
		bad_word("(not a list of names)", 21, bad, badlen);
		return -EINVAL;
	}
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		unsigned int bits = s ? type_word_mask(s, strlen(s)) : 0;

		if (!bits) {
			bad_word(s ? s : "(not a string)", s ? strlen(s) : 14, bad, badlen);
			return -EINVAL;
		}
		m |= bits;
	}
	*mask = m;
	return 0;
}

json_t *event_types_to_json(unsigned int mask)
{
	json_t *a = json_array();

	for (unsigned int t = 0; a && t < sizeof(type_names) / sizeof(type_names[0]); t++) {
		if (!(mask & EVENT_TYPE_BIT(t)) || !type_names[t])
			continue;
		if (json_array_append_new(a, json_string(type_names[t]))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* --- base64 (RFC 4648 §4, padded) --------------------------------------------- */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t event_base64_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

void event_base64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t i;

	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		*out++ = b64_alphabet[v >> 18];
		*out++ = b64_alphabet[v >> 12 & 63];
		*out++ = b64_alphabet[v >> 6 & 63];
		*out++ = b64_alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		*out++ = b64_alphabet[v >> 18];
		*out++ = b64_alphabet[v >> 12 & 63];
		*out++ = '=';
		*out++ = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		*out++ = b64_alphabet[v >> 18];
		*out++ = b64_alphabet[v >> 12 & 63];
		*out++ = b64_alphabet[v >> 6 & 63];
		*out++ = '=';
	}
	*out = '\0';
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64_alphabet, c) : NULL;

	return p ? (int)(p - b64_alphabet) : -1;
}

int event_base64_decode(const char *in, uint8_t *out, size_t size, size_t *len)
{
	size_t n = strlen(in), o = 0;

	if (n % 4)
		return -EINVAL;
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pad = 0;

		for (int j = 0; j < 4; j++) {
			/* '=' only as the last one or two characters. */
			if (in[i + j] == '=' && i + 4 == n && j >= 2 &&
			    (j == 3 || in[i + 3] == '=')) {
				v[j] = 0;
				pad++;
				continue;
			}
			v[j] = b64_value(in[i + j]);
			if (v[j] < 0)
				return -EINVAL;
		}
		if (o + 3 - pad > size)
			return -ENOSPC;
		out[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[o++] = (uint8_t)(v[1] << 4 | v[2] >> 2);
		if (pad < 1)
			out[o++] = (uint8_t)(v[2] << 6 | v[3]);
	}
	*len = o;
	return 0;
}

/* --- records into JSON ---------------------------------------------------------- */

/* ns since 1970 as "2026-11-28T07:21:03.412Z". */
static void iso_ms(uint64_t ns, char *buf, size_t size)
{
	time_t s = (time_t)(ns / 1000000000ull);
	struct tm tm;
	char day[32];

	gmtime_r(&s, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03uZ", day, (unsigned int)(ns % 1000000000ull / 1000000));
}

static json_t *addr_json(uint8_t family, const uint8_t *addr)
{
	char buf[INET6_ADDRSTRLEN];

	if (!inet_ntop(family, addr, buf, sizeof(buf)))
		return NULL;
	return json_string(buf);
}

static json_t *proto_json(uint8_t proto)
{
	const char *name = policy_proto_name(proto);
	char num[4];

	if (name)
		return json_string(name);
	snprintf(num, sizeof(num), "%u", proto);
	return json_string(num);
}

/* Sets @key only when @v was made: a failed allocation leaves the key out,
 * which json_object_set_new() reports (and the caller checks once). */
static int set(json_t *o, const char *key, json_t *v)
{
	return json_object_set_new(o, key, v);
}

static int set_sample(json_t *o, const struct pd_sample_event *se, bool data)
{
	char *b64;
	int err;

	err = set(o, "caplen", json_integer(se->caplen));
	if (err || !data)
		return err;
	b64 = malloc(event_base64_len(se->caplen) + 1);
	if (!b64)
		return -1;
	event_base64_encode(se->data, se->caplen, b64);
	err = set(o, "data", json_string(b64));
	free(b64);
	return err;
}

json_t *event_to_json(const void *rec, size_t size, const struct event_meta *m)
{
	const struct pd_event *ev = rec;
	const struct pd_sample_event *se = rec;
	const size_t data_off = offsetof(struct pd_sample_event, data);
	char when[40];
	bool drop;
	json_t *o;
	int err = 0;

	if (size < sizeof(*ev) || !event_type_name(ev->type))
		return NULL;
	if (ev->family != AF_INET && ev->family != AF_INET6)
		return NULL;
	if (ev->type == PD_EV_SAMPLE &&
	    (size < data_off || se->caplen > PD_SNAPLEN_MAX || se->caplen > size - data_off))
		return NULL;
	o = json_object();
	if (!o)
		return NULL;
	iso_ms(m->wall_ns, when, sizeof(when));
	err |= set(o, "time", json_string(when));
	err |= set(o, "time_ns", json_integer((json_int_t)m->wall_ns));
	err |= set(o, "type", json_string(event_type_name(ev->type)));
	err |= set(o, "policy", m->policy ? json_string(m->policy) : json_null());
	if (ev->type == PD_EV_UNBLOCK) {
		err |= set(o, "family", json_integer(ev->family == AF_INET ? 4 : 6));
		err |= set(o, "dst", addr_json(ev->family, ev->daddr));
		err |= set(o, "cause", json_string(m->cause ? m->cause : "expired"));
		goto out;
	}
	err |= set(o, "rule", m->rule ? json_string(m->rule) : json_null());
	/* A drop event is a drop or a would-drop; a log or sample event
	 * carries whatever the packet got. */
	drop = ev->type == PD_EV_DROP || ev->verdict == PD_DROP || (ev->flags & PD_EVF_WOULD_DROP);
	if (ev->type != PD_EV_BLOCK)
		err |= set(o, "verdict", json_string(policy_verdict_name(ev->verdict)));
	if (drop && ev->type != PD_EV_BLOCK)
		err |= set(o, "reason", json_string(policy_reason_name(ev->reason)));
	if (ev->flags & PD_EVF_WOULD_DROP)
		err |= set(o, "would_drop", json_true());
	err |= set(o, "family", json_integer(ev->family == AF_INET ? 4 : 6));
	/* A block event tells the host and the packet that tipped it, which
	 * the program does not parse again: no protocol then. */
	if (ev->type != PD_EV_BLOCK || ev->proto)
		err |= set(o, "proto", proto_json(ev->proto));
	err |= set(o, "src", addr_json(ev->family, ev->saddr));
	err |= set(o, "dst", addr_json(ev->family, ev->daddr));
	if (ev->flags & PD_EVF_PORTS) {
		err |= set(o, "sport", json_integer(ev->sport));
		err |= set(o, "dport", json_integer(ev->dport));
	}
	if (ev->flags & PD_EVF_ICMP)
		err |= set(o, "icmp_type", json_integer(ev->icmp_type));
	err |= set(o, "length", json_integer(ev->len));
	err |= set(o, "packets", json_integer(ev->packets));
	if (ev->type == PD_EV_BLOCK) {
		iso_ms(m->until_wall_ns, when, sizeof(when));
		err |= set(o, "until", json_string(when));
		err |= set(o, "until_ns", json_integer((json_int_t)m->until_wall_ns));
	}
	if (ev->type == PD_EV_SAMPLE)
		err |= set_sample(o, se, m->data);
out:
	if (err) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* --- JSON into a line ---------------------------------------------------------- */

struct line {
	char *buf;
	size_t size, len;
};

static void __attribute__((format(printf, 2, 3))) line_add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->len + 1 >= l->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, l->size - l->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len = (size_t)n < l->size - l->len ? l->len + n : l->size - 1;
}

static const char *str_of(const json_t *ev, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(ev, key));

	return s ? s : dflt;
}

/* Local "07:21:03.412" of ns since 1970. */
static void local_ms(uint64_t ns, char *buf, size_t size)
{
	time_t s = (time_t)(ns / 1000000000ull);
	struct tm tm;
	char hms[16];

	localtime_r(&s, &tm);
	strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03u", hms, (unsigned int)(ns % 1000000000ull / 1000000));
}

/* "198.18.0.2:5353", "[2001:db8::2]:5353" or the bare address. */
static void endpoint(const json_t *ev, const char *addr_key, const char *port_key, char *buf,
		     size_t size)
{
	const char *addr = str_of(ev, addr_key, "?");
	const json_t *port = json_object_get(ev, port_key);

	if (!json_is_integer(port))
		snprintf(buf, size, "%s", addr);
	else if (strchr(addr, ':'))
		snprintf(buf, size, "[%s]:%" JSON_INTEGER_FORMAT, addr, json_integer_value(port));
	else
		snprintf(buf, size, "%s:%" JSON_INTEGER_FORMAT, addr, json_integer_value(port));
}

void event_format_line(const json_t *ev, char *buf, size_t size)
{
	struct line l = { .buf = buf, .size = size };
	const char *type = str_of(ev, "type", "?"), *rule = str_of(ev, "rule", NULL);
	char when[32], who[80], what[64], src[64], dst[64];

	if (!size)
		return;
	buf[0] = '\0';
	local_ms((uint64_t)json_integer_value(json_object_get(ev, "time_ns")), when, sizeof(when));
	snprintf(who, sizeof(who), "%s%s%s", str_of(ev, "policy", "?"), rule ? "/" : "",
		 rule ? rule : "");
	if (!strcmp(type, "block")) {
		char until[32];

		local_ms((uint64_t)json_integer_value(json_object_get(ev, "until_ns")), until,
			 sizeof(until));
		snprintf(what, sizeof(what), "until %s", until);
	} else if (!strcmp(type, "unblock")) {
		snprintf(what, sizeof(what), "%s", str_of(ev, "cause", "?"));
	} else if (json_is_true(json_object_get(ev, "would_drop"))) {
		snprintf(what, sizeof(what), "would-drop (%s)", str_of(ev, "reason", "?"));
	} else if (json_object_get(ev, "reason")) {
		snprintf(what, sizeof(what), "%s (%s)", str_of(ev, "verdict", "?"),
			 str_of(ev, "reason", "?"));
	} else {
		snprintf(what, sizeof(what), "%s", str_of(ev, "verdict", "?"));
	}
	line_add(&l, "%s %-7s %-24s %-20s", when, type, who, what);
	if (!strcmp(type, "unblock")) {
		line_add(&l, " %s", str_of(ev, "dst", "?"));
		return;
	}
	endpoint(ev, "src", "sport", src, sizeof(src));
	endpoint(ev, "dst", "dport", dst, sizeof(dst));
	if (json_object_get(ev, "proto"))
		line_add(&l, " %s", str_of(ev, "proto", "?"));
	line_add(&l, " %s > %s", src, dst);
	if (json_is_integer(json_object_get(ev, "icmp_type")))
		line_add(&l, " type %" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(ev, "icmp_type")));
	line_add(&l, " len %" JSON_INTEGER_FORMAT,
		 json_integer_value(json_object_get(ev, "length")));
	if (json_is_integer(json_object_get(ev, "caplen")))
		line_add(&l, " caplen %" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(ev, "caplen")));
	if (json_integer_value(json_object_get(ev, "packets")) > 1)
		line_add(&l, " (%" JSON_INTEGER_FORMAT " packets)",
			 json_integer_value(json_object_get(ev, "packets")));
}
