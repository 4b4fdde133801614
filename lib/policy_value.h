/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Internal to lib/ (the policy reader, and packet.c, which describes explain's
 * packets in the same words): the policy language's scalar values (names,
 * numbers, verdicts, protocols, ports, lengths, prefixes, devices, realms,
 * TCP flags, ICMP types, rates, bursts, masks, sizes, counts, durations) from
 * text. Each parser returns 0 or -EINVAL and writes "what is wrong (what was
 * expected)" into @why; the YAML reader adds "file:line:col: ".
 */
#ifndef POLICYD_POLICY_VALUE_H
#define POLICYD_POLICY_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bpf/policy_abi.h"
#include "prefix.h"

/* Longest value text quoted in a message, before it is cut with "...". */
#define POLICY_VALUE_QUOTE_MAX 64
/* Room for a quoted value: the text, "...", two quotes and the NUL. */
#define POLICY_VALUE_QUOTE_BUF (POLICY_VALUE_QUOTE_MAX + 8)

/* @s shortened and made printable for a message (no quotes added). */
const char *policy_value_quote(const char *s, char *buf, size_t size);

/* Plain decimal, no sign or leading zero: -EINVAL if not, -ERANGE above @max. */
int policy_value_u32(const char *s, uint32_t max, uint32_t *out);

/* Policy and rule names; @what is "policy" or "rule". */
int policy_value_name(const char *what, const char *s, char *out, char *why, size_t size);

/* "pass" or "drop" into an enum pd_verdict; @what names the key. */
int policy_value_verdict(const char *what, const char *s, uint8_t *out, char *why, size_t size);

int policy_value_proto(const char *s, uint8_t *out, char *why, size_t size);

/* IP protocol numbers the language gives a meaning to. */
#define POLICY_PROTO_ICMP 1
#define POLICY_PROTO_TCP 6
#define POLICY_PROTO_UDP 17
#define POLICY_PROTO_ICMPV6 58
#define POLICY_PROTO_SCTP 132

/* One dport or sport item: "80" or "8000-8080". */
int policy_value_port_range(const char *s, struct pd_port_range *out, char *why, size_t size);

/* One length item: "1500" or "64-1500" (IP packet lengths, 1-65535). */
int policy_value_length_range(const char *s, struct pd_port_range *out, char *why, size_t size);

/* Sort @r and merge overlapping or adjacent ranges in place; returns the new count. */
unsigned int policy_value_merge_ports(struct pd_port_range *r, unsigned int n);

/* A prefix or bare address, host bits refused with the corrected prefix. */
int policy_value_prefix(const char *s, struct prefix *out, char *why, size_t size);

/* A bare address (a full-length prefix), for 'via'. */
int policy_value_address(const char *s, struct prefix *out, char *why, size_t size);

/* An interface name as the kernel accepts it; @out holds IF_NAMESIZE bytes. */
int policy_value_dev(const char *s, char *out, char *why, size_t size);

int policy_value_realm(const char *s, uint32_t *out, char *why, size_t size);

/* A per-host mask: a prefix length 0-32 (@v6 false) or 0-128 (@v6 true). */
int policy_value_mask(bool v6, const char *s, uint8_t *out, char *why, size_t size);

/* One tcp-flags name ("syn") into its PD_TCP_* bit. */
int policy_value_tcp_flag(const char *s, uint8_t *out, char *why, size_t size);

/* The @i-th flag name in the language's order (syn, ack, fin, rst, psh, urg)
 * and its PD_TCP_* bit in *@bit; NULL past the last. */
const char *policy_value_tcp_flag_name(unsigned int i, uint8_t *bit);

/* An icmp-type number "0"-"255" (a name needs the rule's proto: see below). */
int policy_value_icmp_number(const char *s, uint8_t *out, char *why, size_t size);

/* An icmp-type name of @proto (POLICY_PROTO_ICMP or _ICMPV6); refusals list
 * that protocol's names. */
int policy_value_icmp_type(uint8_t proto, const char *s, uint8_t *out, char *why, size_t size);

/* The name of ICMP(v6) type @type of @proto, or NULL when it has none here. */
const char *policy_value_icmp_name(uint8_t proto, uint8_t type);

/* The quantities below (rates, bursts, sizes, counts, durations) are in policy_units.c. */

/*
 * A limit's rate: packets or bytes per second, minute or hour. The
 * numbers stay exact (a bit rate is bits / 8 bytes), so interval is computed
 * once, from them, with 128-bit math.
 */
struct policy_rate {
	uint8_t kind; /* PD_LIMIT_PACKETS or PD_LIMIT_BYTES */
	uint64_t num; /* packets, bytes or bits per unit */
	uint32_t den; /* 8 for a bit rate, else 1: num / den packets or bytes */
	uint32_t unit_s; /* 1, 60 or 3600 */
	uint64_t interval; /* pd_limit.interval */
	char text[32]; /* normalised: "20000/s", "10mbit/s", "64KiB/m" */
};

/* The largest bucket depth accepted, in 1/16 ns (834 days): the program adds
 * it to times that must not wrap. */
#define POLICY_LIMIT_MAX_DEPTH (1ull << 60)
/* Byte bursts: at least one full-size packet, at most 1 TiB. */
#define POLICY_BURST_MIN_BYTES 1500
#define POLICY_BURST_MAX_BYTES (1ull << 40)
/* The default burst of a packet rate, as nftables. */
#define POLICY_BURST_DEFAULT_PACKETS 5

/* "20000/s", "10mbit/s", "2MB/m", "64KiB/h". */
int policy_value_rate(const char *s, struct policy_rate *out, char *why, size_t size);

/* A burst for @rate: packets, or a size in bytes ("1500", "64kb", "2MiB"),
 * and the bucket depth it compiles to (pd_limit.burst). */
int policy_value_burst(const struct policy_rate *rate, const char *s, uint64_t *count,
		       uint64_t *depth, char *why, size_t size);

/* The burst of a limit without one: 5 packets, or one time unit's worth of bytes. */
int policy_value_default_burst(const struct policy_rate *rate, uint64_t *count, uint64_t *depth,
			       char *why, size_t size);

/* Durations are nanoseconds. */
#define POLICY_NS_PER_MS 1000000ull
#define POLICY_NS_PER_S 1000000000ull
#define POLICY_NS_PER_DAY (86400 * POLICY_NS_PER_S)

/* A size in bytes, as for a burst ("50GB", "64KiB", "1500"), and its text:
 * the number as written and the unit canonical ("50gb" -> "50GB", "1500" -> "1500B"). */
struct policy_size {
	uint64_t bytes;
	char text[32];
};

/* A size of at least 1 byte; @what names the key ("bytes"). */
int policy_value_size(const char *what, const char *s, struct policy_size *out, char *why,
		      size_t size);

/* A plain count of at least 1, up to 2^64 - 1; @what names the key and what is counted
 * ("drops"). */
int policy_value_count(const char *what, const char *s, uint64_t *out, char *why, size_t size);

/* A duration: a number and ms, s, m, h or d ("500ms", "10s", "5m"), into ns,
 * from 1ms to @max_ns; @what names the key ("within"). */
int policy_value_duration(const char *what, const char *s, uint64_t max_ns, uint64_t *ns, char *why,
			  size_t size);

/* A quota period: 1h, 1d, 7d or 30d (or the same in another unit: "24h"), into
 * ns, and its canonical name in *@name ("1d"). */
int policy_value_period(const char *s, uint64_t *ns, const char **name, char *why, size_t size);

#endif
