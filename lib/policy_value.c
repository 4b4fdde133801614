// SPDX-License-Identifier: GPL-2.0-only
/*
 * Scalar values of the policy language, from text. Strict on purpose: plain
 * decimal numbers only, no silent clamping, and every refusal says what was
 * expected, so the reader can prefix a position and pass it on.
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

/* --- limits: rates, bursts, masks ---------------------------------------------- */

/* 1/(16 * 256) ns per second: an interval is this times seconds per unit over the rate. */
#define INTERVAL_PER_SECOND 4096000000000ull
/* Intervals are below this (pd_limit.interval's contract with the program). */
#define INTERVAL_MAX (1ull << 56)

/*
 * Leading decimal digits of @s into *@out, *@end past them: -EINVAL when
 * none or a leading zero, -ERANGE above 2^64 - 1 (*@end still past them).
 */
static int parse_digits(const char *s, size_t *end, uint64_t *out)
{
	unsigned __int128 v = 0;
	bool big = false;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		v = v * 10 + (unsigned int)(s[i] - '0');
		if (v > UINT64_MAX) {
			big = true;
			v = UINT64_MAX;
		}
	}
	*end = i;
	if (!i || (s[0] == '0' && i > 1))
		return -EINVAL;
	*out = (uint64_t)v;
	return big ? -ERANGE : 0;
}

struct rate_unit {
	const char *name; /* as accepted; a bit unit's prefix letter in any case */
	const char *canon; /* as shown */
	uint64_t mult;
	uint32_t den;
};

static const struct rate_unit rate_units[] = {
	{ "bit", "bit", 1, 8 },
	{ "kbit", "kbit", 1000ull, 8 },
	{ "mbit", "mbit", 1000000ull, 8 },
	{ "gbit", "gbit", 1000000000ull, 8 },
	{ "tbit", "tbit", 1000000000000ull, 8 },
	{ "B", "B", 1, 1 },
	{ "kB", "kB", 1000ull, 1 },
	{ "KB", "kB", 1000ull, 1 },
	{ "MB", "MB", 1000000ull, 1 },
	{ "GB", "GB", 1000000000ull, 1 },
	{ "TB", "TB", 1000000000000ull, 1 },
	{ "KiB", "KiB", 1ull << 10, 1 },
	{ "MiB", "MiB", 1ull << 20, 1 },
	{ "GiB", "GiB", 1ull << 30, 1 },
	{ "TiB", "TiB", 1ull << 40, 1 },
};

static const struct rate_unit *find_rate_unit(const char *u, size_t n)
{
	size_t i;

	for (i = 0; i < NAMES_SIZE(rate_units); i++) {
		const char *name = rate_units[i].name;

		if (strlen(name) != n)
			continue;
		/* "Mbit" is "mbit"; "MB" and "mB" stay apart (mB would be millibytes). */
		if (n == 4 && !strcmp(name + 1, "bit")) {
			if (!strncmp(u + 1, "bit", 3) && (u[0] | 0x20) == name[0])
				return &rate_units[i];
		} else if (!strncmp(u, name, n)) {
			return &rate_units[i];
		}
	}
	return NULL;
}

int policy_value_rate(const char *s, struct policy_rate *out, char *why, size_t size)
{
	char q[POLICY_VALUE_QUOTE_BUF], uq[POLICY_VALUE_QUOTE_BUF], utext[16];
	const struct rate_unit *unit = NULL;
	struct policy_rate r = { 0 };
	unsigned __int128 num, interval;
	const char *slash, *noun;
	uint64_t n = 0;
	size_t end, ulen;
	int err;

	policy_value_quote(s, q, sizeof(q));
	err = parse_digits(s, &end, &n);
	slash = strchr(s + end, '/');
	/* A unit is letters: "1.5MB/s" or "20000 /s" is not a number and a unit. */
	if (err == -EINVAL || !slash ||
	    (slash != s + end && !((s[end] | 0x20) >= 'a' && (s[end] | 0x20) <= 'z'))) {
		snprintf(
			why, size,
			"invalid rate '%s' (expected a number, a unit and /s, /m or /h, such as 20000/s, 10mbit/s or 2MB/m)",
			q);
		return -EINVAL;
	}
	ulen = (size_t)(slash - (s + end));
	if (ulen) {
		unit = find_rate_unit(s + end, ulen);
		if (!unit) {
			snprintf(utext, sizeof(utext), "%.*s", (int)ulen, s + end);
			snprintf(
				why, size,
				"unknown unit '%s' in rate '%s' (expected none for packets, or bit, kbit, mbit, gbit, tbit, B, kB, MB, GB, TB, KiB, MiB, GiB or TiB)",
				policy_value_quote(utext, uq, sizeof(uq)), q);
			return -EINVAL;
		}
	}
	if (!strcmp(slash, "/s")) {
		r.unit_s = 1;
	} else if (!strcmp(slash, "/m")) {
		r.unit_s = 60;
	} else if (!strcmp(slash, "/h")) {
		r.unit_s = 3600;
	} else {
		snprintf(why, size, "invalid time unit in rate '%s' (expected /s, /m or /h)", q);
		return -EINVAL;
	}
	r.kind = unit ? PD_LIMIT_BYTES : PD_LIMIT_PACKETS;
	noun = unit ? "byte" : "packet";
	if (!err && !n) {
		snprintf(why, size, "rate '%s' is zero (expected at least 1)", q);
		return -EINVAL;
	}
	num = (unsigned __int128)n * (unit ? unit->mult : 1);
	r.den = unit ? unit->den : 1;
	interval = err ? 0 : (unsigned __int128)INTERVAL_PER_SECOND * r.unit_s * r.den / num;
	if (num > UINT64_MAX || !interval) {
		snprintf(why, size, "rate '%s' is too fast (expected at most %llu %ss per second)",
			 q, INTERVAL_PER_SECOND, noun);
		return -EINVAL;
	}
	if (interval >= INTERVAL_MAX) {
		snprintf(why, size,
			 "rate '%s' is too slow (expected at least 1 %s per %llu seconds)", q, noun,
			 (INTERVAL_MAX - 1) / INTERVAL_PER_SECOND);
		return -EINVAL;
	}
	r.num = (uint64_t)num;
	r.interval = (uint64_t)interval;
	snprintf(r.text, sizeof(r.text), "%llu%s%s", (unsigned long long)n, unit ? unit->canon : "",
		 slash);
	*out = r;
	return 0;
}

/*
 * A size: digits, then nothing or B (bytes), k/M/G/T (x1000, any case, an
 * optional B: sizes are bytes, so "kb" is 1000 bytes) or Ki/Mi/Gi/Ti and B
 * (x1024). *@unit says whether one was written. -EINVAL or -ERANGE.
 */
static int parse_size(const char *s, uint64_t *out, bool *unit, const char **canon)
{
	static const char prefixes[] = "kmgt";
	static const char *const si[] = { "kB", "MB", "GB", "TB" };
	static const char *const binary[] = { "KiB", "MiB", "GiB", "TiB" };
	unsigned __int128 v;
	uint64_t n, base = 1000, mult = 1;
	const char *p, *u;
	size_t end;
	int err;

	err = parse_digits(s, &end, &n);
	if (err == -EINVAL)
		return err;
	u = s + end;
	*unit = *u != '\0';
	p = *u ? strchr(prefixes, *u | 0x20) : NULL;
	if (p) {
		u++;
		if (*u == 'i') {
			base = 1024;
			u++;
			if (*u != 'B' && *u != 'b')
				return -EINVAL;
		}
		for (size_t i = 0; i <= (size_t)(p - prefixes); i++)
			mult *= base;
	}
	if (canon)
		*canon = !p ? "B" : (base == 1024 ? binary : si)[p - prefixes];
	if (*u == 'B' || *u == 'b')
		u++;
	if (*u)
		return -EINVAL;
	if (err)
		return err;
	v = (unsigned __int128)n * mult;
	if (v > UINT64_MAX)
		return -ERANGE;
	*out = (uint64_t)v;
	return 0;
}

/* The bucket depth of @count packets or bytes at @rate, or -ERANGE past the
 * maximum; *@max_count is the largest count that fits, for messages. */
static int burst_depth(const struct policy_rate *rate, uint64_t count, uint64_t *depth,
		       uint64_t *max_count)
{
	unsigned __int128 d = ((unsigned __int128)rate->interval * count) >> PD_INTERVAL_SHIFT;
	unsigned __int128 max = (((unsigned __int128)POLICY_LIMIT_MAX_DEPTH << PD_INTERVAL_SHIFT) |
				 ((1u << PD_INTERVAL_SHIFT) - 1)) /
				rate->interval;

	*max_count = max > UINT64_MAX ? UINT64_MAX : (uint64_t)max;
	if (d > POLICY_LIMIT_MAX_DEPTH)
		return -ERANGE;
	*depth = (uint64_t)d;
	return 0;
}

int policy_value_burst(const struct policy_rate *rate, const char *s, uint64_t *count,
		       uint64_t *depth, char *why, size_t size)
{
	char q[POLICY_VALUE_QUOTE_BUF], rq[POLICY_VALUE_QUOTE_BUF];
	uint64_t n = 0, max;
	bool unit = false;
	int err;

	policy_value_quote(s, q, sizeof(q));
	policy_value_quote(rate->text, rq, sizeof(rq));
	err = parse_size(s, &n, &unit, NULL);
	if (rate->kind == PD_LIMIT_PACKETS) {
		if (err == -EINVAL) {
			snprintf(why, size, "invalid burst '%s' (expected a number of packets)", q);
			return -EINVAL;
		}
		if (unit) {
			snprintf(
				why, size,
				"burst '%s' is a size, but rate '%s' counts packets (expected a number of packets)",
				q, rq);
			return -EINVAL;
		}
		if (!err && !n) {
			snprintf(why, size, "burst 0 is not allowed (expected at least 1 packet)");
			return -EINVAL;
		}
		/* Computed before the test: max is in the message either way. */
		if (burst_depth(rate, err ? UINT64_MAX : n, depth, &max) || err) {
			snprintf(
				why, size,
				"burst %s is too large for rate '%s' (expected at most %llu packets)",
				q, rq, (unsigned long long)max);
			return -EINVAL;
		}
		*count = n;
		return 0;
	}
	if (err == -EINVAL) {
		snprintf(why, size,
			 "invalid burst '%s' (expected a size in bytes such as 1500, 64kB or 2MiB)",
			 q);
		return -EINVAL;
	}
	if (err || n > POLICY_BURST_MAX_BYTES) {
		snprintf(why, size, "burst '%s' is out of range (expected at most 1TiB)", q);
		return -EINVAL;
	}
	if (n < POLICY_BURST_MIN_BYTES) {
		snprintf(
			why, size,
			"burst '%s' is smaller than one full-size packet (expected at least %u bytes)",
			q, POLICY_BURST_MIN_BYTES);
		return -EINVAL;
	}
	if (burst_depth(rate, n, depth, &max)) {
		snprintf(why, size,
			 "burst '%s' is too large for rate '%s' (expected at most %llu bytes)", q,
			 rq, (unsigned long long)max);
		return -EINVAL;
	}
	*count = n;
	return 0;
}

int policy_value_default_burst(const struct policy_rate *rate, uint64_t *count, uint64_t *depth,
			       char *why, size_t size)
{
	char rq[POLICY_VALUE_QUOTE_BUF];
	uint64_t n, max;

	policy_value_quote(rate->text, rq, sizeof(rq));
	n = rate->kind == PD_LIMIT_PACKETS ? POLICY_BURST_DEFAULT_PACKETS : rate->num / rate->den;
	if (rate->kind == PD_LIMIT_BYTES && n < POLICY_BURST_MIN_BYTES) {
		snprintf(
			why, size,
			"rate '%s' gives a default burst of %llu bytes, smaller than one full-size packet (expected a burst of at least %u bytes)",
			rq, (unsigned long long)n, POLICY_BURST_MIN_BYTES);
		return -EINVAL;
	}
	if (rate->kind == PD_LIMIT_BYTES && n > POLICY_BURST_MAX_BYTES) {
		snprintf(
			why, size,
			"rate '%s' gives a default burst of %llu bytes, more than 1TiB (expected a burst of at most 1TiB)",
			rq, (unsigned long long)n);
		return -EINVAL;
	}
	/* A unit's worth at an interval below 2^56 stays far below the maximum depth. */
	if (burst_depth(rate, n, depth, &max)) {
		snprintf(why, size, "rate '%s' gives a default burst too large (expected a burst)",
			 rq);
		return -EINVAL;
	}
	*count = n;
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

/* --- quotas and blocks: sizes, counts, durations -------------------------------- */

int policy_value_size(const char *what, const char *s, struct policy_size *out, char *why,
		      size_t size)
{
	char q[POLICY_VALUE_QUOTE_BUF];
	const char *canon = "B";
	uint64_t n = 0;
	bool unit;
	size_t digits;
	int err;

	policy_value_quote(s, q, sizeof(q));
	err = parse_size(s, &n, &unit, &canon);
	if (err == -EINVAL) {
		snprintf(why, size,
			 "invalid %s '%s' (expected a size in bytes such as 50GB, 64KiB or 1500)",
			 what, q);
		return -EINVAL;
	}
	if (err) {
		snprintf(why, size, "%s '%s' is out of range (expected at most %llu bytes)", what,
			 q, (unsigned long long)UINT64_MAX);
		return -EINVAL;
	}
	if (!n) {
		snprintf(why, size, "%s '%s' is zero (expected at least 1 byte)", what, q);
		return -EINVAL;
	}
	out->bytes = n;
	/* The number as written (it fits: it passed parse_digits), the unit canonical. */
	digits = strspn(s, "0123456789");
	snprintf(out->text, sizeof(out->text), "%.*s%s", (int)digits, s, canon);
	return 0;
}

int policy_value_count(const char *what, const char *s, uint64_t *out, char *why, size_t size)
{
	char q[POLICY_VALUE_QUOTE_BUF];
	uint64_t n = 0;
	size_t end;
	int err;

	policy_value_quote(s, q, sizeof(q));
	err = parse_digits(s, &end, &n);
	if (err == -EINVAL || s[end]) {
		snprintf(why, size, "invalid %s '%s' (expected a number of %s)", what, q, what);
		return -EINVAL;
	}
	if (err) {
		snprintf(why, size, "%s '%s' is out of range (expected at most %llu)", what, q,
			 (unsigned long long)UINT64_MAX);
		return -EINVAL;
	}
	if (!n) {
		snprintf(why, size, "%s '%s' is zero (expected at least 1)", what, q);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

struct duration_unit {
	const char *name;
	uint64_t ns;
};

/* Largest first, so a maximum is shown in the largest unit that says it exactly. */
static const struct duration_unit duration_units[] = {
	{ "d", POLICY_NS_PER_DAY }, { "h", 3600 * POLICY_NS_PER_S }, { "m", 60 * POLICY_NS_PER_S },
	{ "s", POLICY_NS_PER_S },   { "ms", POLICY_NS_PER_MS },
};

/* Digits and a unit into *@ns: -EINVAL when not that, -ERANGE past 2^64 - 1 ns. 0 is 0. */
static int parse_duration(const char *s, uint64_t *ns)
{
	unsigned __int128 v;
	uint64_t n = 0;
	size_t end, i;
	int err;

	err = parse_digits(s, &end, &n);
	if (err == -EINVAL)
		return err;
	for (i = 0; i < NAMES_SIZE(duration_units); i++) {
		if (!strcmp(s + end, duration_units[i].name))
			break;
	}
	if (i == NAMES_SIZE(duration_units))
		return -EINVAL;
	if (err)
		return err;
	v = (unsigned __int128)n * duration_units[i].ns;
	if (v > UINT64_MAX)
		return -ERANGE;
	*ns = (uint64_t)v;
	return 0;
}

/* @ns (a whole number of milliseconds) in the largest unit that says it exactly: "5m". */
static void format_duration(uint64_t ns, char *buf, size_t size)
{
	size_t i;

	for (i = 0; i + 1 < NAMES_SIZE(duration_units); i++) {
		if (!(ns % duration_units[i].ns))
			break;
	}
	snprintf(buf, size, "%llu%s", (unsigned long long)(ns / duration_units[i].ns),
		 duration_units[i].name);
}

int policy_value_duration(const char *what, const char *s, uint64_t max_ns, uint64_t *ns, char *why,
			  size_t size)
{
	char q[POLICY_VALUE_QUOTE_BUF], max[32];
	uint64_t v = 0;
	int err;

	policy_value_quote(s, q, sizeof(q));
	format_duration(max_ns, max, sizeof(max));
	err = parse_duration(s, &v);
	if (err == -EINVAL) {
		snprintf(
			why, size,
			"invalid %s '%s' (expected a duration: a number and ms, s, m, h or d, such as 500ms, 10s or 5m)",
			what, q);
		return -EINVAL;
	}
	if (err || v > max_ns) {
		snprintf(why, size, "%s '%s' is too long (expected at most %s)", what, q, max);
		return -EINVAL;
	}
	if (!v) {
		snprintf(why, size, "%s '%s' is zero (expected a duration of 1ms to %s)", what, q,
			 max);
		return -EINVAL;
	}
	*ns = v;
	return 0;
}

int policy_value_period(const char *s, uint64_t *ns, const char **name, char *why, size_t size)
{
	static const struct duration_unit periods[] = {
		{ "1h", 3600 * POLICY_NS_PER_S },
		{ "1d", POLICY_NS_PER_DAY },
		{ "7d", 7 * POLICY_NS_PER_DAY },
		{ "30d", 30 * POLICY_NS_PER_DAY },
	};
	char q[POLICY_VALUE_QUOTE_BUF];
	uint64_t v = 0;
	size_t i;

	/* Any spelling of the four: "24h" is the period "1d". */
	if (!parse_duration(s, &v)) {
		for (i = 0; i < NAMES_SIZE(periods); i++) {
			if (periods[i].ns == v) {
				*ns = v;
				*name = periods[i].name;
				return 0;
			}
		}
	}
	snprintf(why, size, "invalid period '%s' (expected 1h, 1d, 7d or 30d)",
		 policy_value_quote(s, q, sizeof(q)));
	return -EINVAL;
}
