// SPDX-License-Identifier: GPL-2.0-only
/*
 * IPv4/IPv6 prefixes: text <-> struct prefix with inet_pton/inet_ntop, and the
 * containment tests the compiler, the daemon and policyctl all rely on.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "prefix.h"

unsigned int prefix_max_len(uint8_t family)
{
	switch (family) {
	case AF_INET:
		return 32;
	case AF_INET6:
		return 128;
	default:
		return 0;
	}
}

/* Are the first @len bits of @a and @b equal? */
static bool bits_equal(const uint8_t *a, const uint8_t *b, unsigned int len)
{
	unsigned int bytes = len / 8, rest = len % 8;
	uint8_t mask;

	if (memcmp(a, b, bytes))
		return false;
	if (!rest)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return !((a[bytes] ^ b[bytes]) & mask);
}

/* Clear every bit after the first @len; report whether any was set. */
static bool clear_host_bits(uint8_t *addr, unsigned int len)
{
	bool had = false;
	unsigned int i;

	for (i = len / 8; i < 16; i++) {
		uint8_t keep = 0;

		if (i == len / 8 && len % 8)
			keep = (uint8_t)(0xff << (8 - len % 8));
		if (addr[i] & (uint8_t)~keep)
			had = true;
		addr[i] &= keep;
	}
	return had;
}

/* A prefix length: 1-3 decimal digits, no sign, no leading zero. */
static int parse_len(const char *s, unsigned int max, unsigned int *out)
{
	size_t n = strlen(s);
	unsigned int v = 0;
	size_t i;

	if (!n || n > 3 || (n > 1 && s[0] == '0'))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned int)(s[i] - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int prefix_parse(const char *s, bool allow_host_bits, struct prefix *out)
{
	char addr_text[INET6_ADDRSTRLEN];
	struct prefix p = { 0 };
	const char *slash;
	unsigned int len;
	size_t alen;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (!alen || alen >= sizeof(addr_text))
		return -EINVAL;
	memcpy(addr_text, s, alen);
	addr_text[alen] = '\0';

	p.family = strchr(addr_text, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(p.family, addr_text, p.addr) != 1)
		return -EINVAL;

	len = prefix_max_len(p.family);
	if (slash && parse_len(slash + 1, len, &len))
		return -EINVAL;
	p.len = (uint8_t)len;
	if (clear_host_bits(p.addr, len) && !allow_host_bits)
		return -EINVAL;
	*out = p;
	return 0;
}

char *prefix_format(const struct prefix *p, bool bare_host, char *buf, size_t size)
{
	char addr_text[INET6_ADDRSTRLEN];

	if (!size)
		return buf;
	if (!inet_ntop(p->family, p->addr, addr_text, sizeof(addr_text))) {
		snprintf(buf, size, "?");
		return buf;
	}
	if (bare_host && p->len == prefix_max_len(p->family))
		snprintf(buf, size, "%s", addr_text);
	else
		snprintf(buf, size, "%s/%u", addr_text, p->len);
	return buf;
}

bool prefix_contains(const struct prefix *outer, const struct prefix *inner)
{
	unsigned int max = prefix_max_len(outer->family);

	if (!max || outer->family != inner->family || outer->len > inner->len || inner->len > max)
		return false;
	return bits_equal(outer->addr, inner->addr, outer->len);
}

bool prefix_overlaps(const struct prefix *a, const struct prefix *b)
{
	return prefix_contains(a, b) || prefix_contains(b, a);
}

bool prefix_equal(const struct prefix *a, const struct prefix *b)
{
	/* Bits past the length do not count, so compare as containment. */
	return a->len == b->len && prefix_contains(a, b);
}
