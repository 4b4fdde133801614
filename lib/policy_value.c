// SPDX-License-Identifier: GPL-2.0-only
/*
 * Scalar values of the policy language, from text: names, verdicts,
 * protocols, ports and lengths, prefixes, devices, realms, masks, TCP flags and
 * ICMP types (quantities with units are in policy_units.c). Strict on purpose:
 * plain decimal numbers only, no silent clamping, and every refusal says what
 * was expected, so the reader can prefix a position and pass it on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>

#include "policy.h"
#include "policy_value.h"

const char *policy_value_quote(const char *s, char *buf, size_t size)
{
	size_t n = strlen(s), i;
	bool cut = false;

	if (!size)
		return buf;
	if (n > POLICY_VALUE_QUOTE_MAX) {
		n = POLICY_VALUE_QUOTE_MAX;
		/* Do not cut a UTF-8 sequence in half. */
		while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		cut = true;
	}
	if (n > size - 1)
		n = size - 1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	buf[n] = '\0';
	if (cut && n + 4 <= size)
		memcpy(buf + n, "...", 4);
	return buf;
}

int policy_value_u32(const char *s, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!s[0] || (s[0] == '0' && s[1]))
		return -EINVAL;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
	}
	for (i = 0; s[i]; i++) {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > max)
			return -ERANGE;
	}
	*out = (uint32_t)v;
	return 0;
}

static bool name_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	return !first && (c == '_' || c == '-');
}

int policy_value_name(const char *what, const char *s, char *out, char *why, size_t size)
{
	char q[POLICY_VALUE_QUOTE_BUF];
	size_t n = strlen(s), i;

	for (i = 0; i < n; i++) {
		if (!name_char(s[i], i == 0))
			break;
	}
	if (!n || i < n || n > PD_NAME_MAX) {
		snprintf(why, size, "invalid %s name '%s' (expected [a-z0-9][a-z0-9_-]{0,31})",
			 what, policy_value_quote(s, q, sizeof(q)));
		return -EINVAL;
	}
	memcpy(out, s, n + 1);
	return 0;
}

int policy_value_verdict(const char *what, const char *s, uint8_t *out, char *why, size_t size)
{
	char q[POLICY_VALUE_QUOTE_BUF];

	if (!strcmp(s, "pass")) {
		*out = PD_PASS;
		return 0;
	}
	if (!strcmp(s, "drop")) {
		*out = PD_DROP;
		return 0;
	}
	snprintf(why, size, "invalid %s '%s' (expected pass or drop)", what,
		 policy_value_quote(s, q, sizeof(q)));
	return -EINVAL;
}

int policy_value_proto(const char *s, uint8_t *out, char *why, size_t size)
{
	char q[POLICY_VALUE_QUOTE_BUF];
	uint32_t v;
	int err;
	int i;

	for (i = 0; i < 256; i++) {
		const char *name = policy_proto_name((uint8_t)i);

		if (name && !strcmp(name, s)) {
			*out = (uint8_t)i;
			return 0;
		}
	}
	err = policy_value_u32(s, 255, &v);
	if (!err) {
		*out = (uint8_t)v;
		return 0;
	}
	policy_value_quote(s, q, sizeof(q));
	if (err == -ERANGE)
		snprintf(why, size, "proto %s is out of range (expected 0-255)", q);
	else
		snprintf(
			why, size,
			"invalid proto '%s' (expected tcp, udp, icmp, icmpv6, sctp, gre, esp, ah or a number 0-255)",
			q);
	return -EINVAL;
}

/*
 * The two kinds of ranges in a match: ports (dport, sport), 1-65535 with 0
 * refused (no packet has port 0 worth a rule: a typo), and IP packet
 * lengths, 0-65535 (SPEC writes "length: 0-1500"; no packet is shorter than
 * its header, so a 0 bound is harmless).
 */
struct range_kind {
	const char *noun; /* "port" */
	const char *example; /* "8000-8080" */
	const char *span; /* "1-65535" */
	uint32_t min;
};

static const struct range_kind port_kind = { "port", "8000-8080", "1-65535", 1 };
static const struct range_kind length_kind = { "length", "0-1500", "0-65535", 0 };

/* One number of a range item; @item is the whole item, for messages. */
static int parse_bound(const struct range_kind *k, const char *s, const char *item, uint16_t *out,
		       char *why, size_t size)
{
	char q[POLICY_VALUE_QUOTE_BUF];
	uint32_t v;
	int err;

	err = policy_value_u32(s, 65535, &v);
	if (err == -ERANGE) {
		snprintf(why, size, "%s %s is out of range (expected %s)", k->noun,
			 policy_value_quote(s, q, sizeof(q)), k->span);
		return -EINVAL;
	}
	if (err) {
		snprintf(why, size, "invalid %s '%s' (expected a %s %s or a range such as %s)",
			 k->noun, policy_value_quote(item, q, sizeof(q)), k->noun, k->span,
			 k->example);
		return -EINVAL;
	}
	if (v < k->min) {
		snprintf(why, size, "%s 0 is not allowed (expected %s)", k->noun, k->span);
		return -EINVAL;
	}
	*out = (uint16_t)v;
	return 0;
}

static int parse_range(const struct range_kind *k, const char *s, struct pd_port_range *out,
		       char *why, size_t size)
{
	char q[POLICY_VALUE_QUOTE_BUF];
	char lo_text[16], hi_text[16];
	struct pd_port_range r;
	const char *dash;
	size_t n;
	int err;

	dash = strchr(s, '-');
	if (!dash) {
		err = parse_bound(k, s, s, &r.lo, why, size);
		if (err)
			return err;
		r.hi = r.lo;
		*out = r;
		return 0;
	}
	/* Longer halves are never valid numbers: let parse_bound() say so. */
	n = (size_t)(dash - s);
	snprintf(lo_text, sizeof(lo_text), "%.*s", (int)(n < sizeof(lo_text) ? n : 0), s);
	snprintf(hi_text, sizeof(hi_text), "%s",
		 strlen(dash + 1) < sizeof(hi_text) ? dash + 1 : "");
	err = parse_bound(k, lo_text, s, &r.lo, why, size);
	if (!err)
		err = parse_bound(k, hi_text, s, &r.hi, why, size);
	if (err)
		return err;
	if (r.lo > r.hi) {
		snprintf(why, size,
			 "%s range '%s' is reversed (expected low-high with low <= high)", k->noun,
			 policy_value_quote(s, q, sizeof(q)));
		return -EINVAL;
	}
	*out = r;
	return 0;
}

int policy_value_port_range(const char *s, struct pd_port_range *out, char *why, size_t size)
{
	return parse_range(&port_kind, s, out, why, size);
}

int policy_value_length_range(const char *s, struct pd_port_range *out, char *why, size_t size)
{
	return parse_range(&length_kind, s, out, why, size);
}

static int cmp_range(const void *a, const void *b)
{
	const struct pd_port_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

unsigned int policy_value_merge_ports(struct pd_port_range *r, unsigned int n)
{
	unsigned int i, out = 0;

	if (!n)
		return 0;
	qsort(r, n, sizeof(*r), cmp_range);
	for (i = 1; i < n; i++) {
		if ((uint32_t)r[i].lo <= (uint32_t)r[out].hi + 1) {
			if (r[i].hi > r[out].hi)
				r[out].hi = r[i].hi;
		} else {
			r[++out] = r[i];
		}
	}
	return out + 1;
}

int policy_value_prefix(const char *s, struct prefix *out, char *why, size_t size)
{
	char q[POLICY_VALUE_QUOTE_BUF];
	char fixed[PREFIX_STR_MAX];
	struct prefix p;

	if (!prefix_parse(s, false, &p)) {
		*out = p;
		return 0;
	}
	policy_value_quote(s, q, sizeof(q));
	if (!prefix_parse(s, true, &p))
		snprintf(why, size, "prefix '%s' has host bits set (expected %s)", q,
			 prefix_format(&p, false, fixed, sizeof(fixed)));
	else
		snprintf(
			why, size,
			"invalid prefix '%s' (expected an IPv4 or IPv6 prefix such as 198.18.0.0/24 or 2001:db8::/64)",
			q);
	return -EINVAL;
}

int policy_value_address(const char *s, struct prefix *out, char *why, size_t size)
{
	char q[POLICY_VALUE_QUOTE_BUF];
	struct prefix p;

	if (!strchr(s, '/') && !prefix_parse(s, false, &p)) {
		*out = p;
		return 0;
	}
	snprintf(why, size, "invalid via '%s' (expected an IPv4 or IPv6 address)",
		 policy_value_quote(s, q, sizeof(q)));
	return -EINVAL;
}

int policy_value_dev(const char *s, char *out, char *why, size_t size)
{
	char q[POLICY_VALUE_QUOTE_BUF];
	size_t n = strlen(s), i;
	bool ok = n > 0 && n < IF_NAMESIZE && strcmp(s, ".") && strcmp(s, "..");

	/* The kernel's dev_valid_name(): no '/', ':' or white space. */
	for (i = 0; ok && i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '/' || c == ':' || c <= ' ' || c == 0x7f)
			ok = false;
	}
	if (!ok) {
		snprintf(
			why, size,
			"invalid dev '%s' (expected an interface name of 1-15 characters without '/', ':' or spaces)",
			policy_value_quote(s, q, sizeof(q)));
		return -EINVAL;
	}
	memcpy(out, s, n + 1);
	return 0;
}

int policy_value_realm(const char *s, uint32_t *out, char *why, size_t size)
{
	char q[POLICY_VALUE_QUOTE_BUF];
	uint32_t v;
	int err;

	/* RTA_FLOW holds a 16-bit realm and 0 means none, as in iproute2. */
	err = policy_value_u32(s, 65535, &v);
	policy_value_quote(s, q, sizeof(q));
	if (err == -ERANGE || (!err && !v)) {
		snprintf(why, size, "realm %s is out of range (expected 1-65535)", q);
		return -EINVAL;
	}
	if (err) {
		snprintf(why, size, "invalid realm '%s' (expected a number 1-65535)", q);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int policy_value_mask(bool v6, const char *s, uint8_t *out, char *why, size_t size)
{
	const char *key = v6 ? "mask6" : "mask";
	unsigned int max = v6 ? 128 : 32;
	char q[POLICY_VALUE_QUOTE_BUF];
	uint32_t v;
	int err;

	err = policy_value_u32(s, max, &v);
	policy_value_quote(s, q, sizeof(q));
	if (err == -ERANGE) {
		snprintf(why, size, "%s %s is longer than an %s address (expected 0-%u)", key, q,
			 v6 ? "IPv6" : "IPv4", max);
		return -EINVAL;
	}
	if (err) {
		snprintf(why, size, "invalid %s '%s' (expected a prefix length 0-%u)", key, q, max);
		return -EINVAL;
	}
	*out = (uint8_t)v;
	return 0;
}

/* --- tcp-flags and icmp-type -------------------------------------------------- */

struct named_value {
	const char *name;
	uint8_t value;
};

/* In the order messages and formatted rules list them. */
static const struct named_value tcp_flags[] = {
	{ "syn", PD_TCP_SYN }, { "ack", PD_TCP_ACK }, { "fin", PD_TCP_FIN },
	{ "rst", PD_TCP_RST }, { "psh", PD_TCP_PSH }, { "urg", PD_TCP_URG },
};

static const struct named_value icmp_types[] = {
	{ "echo-reply", 0 },	       { "destination-unreachable", 3 },
	{ "source-quench", 4 },	       { "redirect", 5 },
	{ "echo-request", 8 },	       { "router-advertisement", 9 },
	{ "router-solicitation", 10 }, { "time-exceeded", 11 },
	{ "parameter-problem", 12 },   { "timestamp-request", 13 },
	{ "timestamp-reply", 14 },
};

static const struct named_value icmpv6_types[] = {
	{ "destination-unreachable", 1 },
	{ "packet-too-big", 2 },
	{ "time-exceeded", 3 },
	{ "parameter-problem", 4 },
	{ "echo-request", 128 },
	{ "echo-reply", 129 },
	{ "router-solicitation", 133 },
	{ "router-advertisement", 134 },
	{ "neighbor-solicitation", 135 },
	{ "neighbor-advertisement", 136 },
	{ "redirect", 137 },
};

#define NAMES_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The names of @v, separated by ", " but @last before the last one, into @buf. */
static void list_names(const struct named_value *v, size_t n, const char *last, char *buf,
		       size_t size)
{
	size_t used = 0, i;
	int len;

	buf[0] = '\0';
	for (i = 0; i < n && used < size; i++) {
		len = snprintf(buf + used, size - used, "%s%s",
			       !i ? "" : (i + 1 == n ? last : ", "), v[i].name);
		if (len < 0)
			break;
		used += (size_t)len;
	}
}

int policy_value_tcp_flag(const char *s, uint8_t *out, char *why, size_t size)
{
	char q[POLICY_VALUE_QUOTE_BUF], names[128];
	size_t i;

	for (i = 0; i < NAMES_SIZE(tcp_flags); i++) {
		if (!strcmp(tcp_flags[i].name, s)) {
			*out = tcp_flags[i].value;
			return 0;
		}
	}
	list_names(tcp_flags, NAMES_SIZE(tcp_flags), " or ", names, sizeof(names));
	snprintf(why, size, "invalid tcp flag '%s' (expected %s)",
		 policy_value_quote(s, q, sizeof(q)), names);
	return -EINVAL;
}

const char *policy_value_tcp_flag_name(unsigned int i, uint8_t *bit)
{
	if (i >= NAMES_SIZE(tcp_flags))
		return NULL;
	*bit = tcp_flags[i].value;
	return tcp_flags[i].name;
}

static const struct named_value *icmp_table(uint8_t proto, size_t *n)
{
	if (proto == POLICY_PROTO_ICMP) {
		*n = NAMES_SIZE(icmp_types);
		return icmp_types;
	}
	if (proto == POLICY_PROTO_ICMPV6) {
		*n = NAMES_SIZE(icmpv6_types);
		return icmpv6_types;
	}
	*n = 0;
	return NULL;
}

const char *policy_value_icmp_name(uint8_t proto, uint8_t type)
{
	const struct named_value *v;
	size_t n, i;

	v = icmp_table(proto, &n);
	for (i = 0; i < n; i++) {
		if (v[i].value == type)
			return v[i].name;
	}
	return NULL;
}

int policy_value_icmp_number(const char *s, uint8_t *out, char *why, size_t size)
{
	char q[POLICY_VALUE_QUOTE_BUF];
	uint32_t v;
	int err;

	err = policy_value_u32(s, 255, &v);
	if (!err) {
		*out = (uint8_t)v;
		return 0;
	}
	policy_value_quote(s, q, sizeof(q));
	if (err == -ERANGE)
		snprintf(why, size, "icmp type %s is out of range (expected 0-255)", q);
	else
		snprintf(why, size,
			 "invalid icmp type '%s' (expected a type name or a number 0-255)", q);
	return -EINVAL;
}

int policy_value_icmp_type(uint8_t proto, const char *s, uint8_t *out, char *why, size_t size)
{
	char q[POLICY_VALUE_QUOTE_BUF], names[512];
	const struct named_value *v;
	size_t n, i;

	v = icmp_table(proto, &n);
	for (i = 0; i < n; i++) {
		if (!strcmp(v[i].name, s)) {
			*out = v[i].value;
			return 0;
		}
	}
	list_names(v, n, ", ", names, sizeof(names));
	snprintf(why, size, "unknown %s type '%s' (expected %s, or a number 0-255)",
		 proto == POLICY_PROTO_ICMPV6 ? "icmpv6" : "icmp",
		 policy_value_quote(s, q, sizeof(q)), names);
	return -EINVAL;
}
