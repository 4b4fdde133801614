/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * IPv4/IPv6 prefixes: parsing, formatting, containment. Shared by the
 * compiler, the daemon (routes, stats selection) and policyctl.
 */
#ifndef POLICYD_PREFIX_H
#define POLICYD_PREFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct prefix {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t len; /* prefix length in bits */
	uint8_t addr[16]; /* network byte order; IPv4 in the first 4 bytes */
};

/* Longest text prefix_format() writes, with the NUL. */
#define PREFIX_STR_MAX 50

/*
 * Parse "10.0.0.0/24", "2001:db8::/64", or a bare address (full length).
 * Host bits set beyond the length are an error (-EINVAL) unless @allow_host_bits,
 * in which case they are cleared. Returns 0 or -EINVAL.
 */
int prefix_parse(const char *s, bool allow_host_bits, struct prefix *out);

/* "10.0.0.0/24"; a full-length prefix is printed as a bare address when
 * @bare_host. Returns @buf. */
char *prefix_format(const struct prefix *p, bool bare_host, char *buf, size_t size);

/* Maximum prefix length of @family: 32 or 128. */
unsigned int prefix_max_len(uint8_t family);

/* Does @outer contain @inner (same family, outer->len <= inner->len, same
 * leading bits)? */
bool prefix_contains(const struct prefix *outer, const struct prefix *inner);

/* Do @a and @b share an address? (one contains the other) */
bool prefix_overlaps(const struct prefix *a, const struct prefix *b);

bool prefix_equal(const struct prefix *a, const struct prefix *b);

#endif
