// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy language's quantities, from text: rates and bursts of a limit,
 * sizes, counts and durations of a quota or block. Numbers are exact (128-bit
 * math, no floating point) and every refusal says what was expected.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "policy_value.h"

#define NAMES_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* --- limits: rates and bursts -------------------------------------------------- */

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
