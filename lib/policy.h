/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A policy as read from YAML (struct policy), and its compilation into the
 * map value the LWT_OUT program reads (struct pd_policy). Shared by policyd
 * and policyctl, so 'policyctl validate' runs exactly the daemon's compiler.
 */
#ifndef POLICYD_POLICY_H
#define POLICYD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

#include "../bpf/policy_abi.h"
#include "prefix.h"

/* Largest policy file accepted, by the compiler and so by the daemon. */
#define POLICY_TEXT_MAX (16u << 20)

struct policy_pos {
	unsigned int line; /* 1-based */
	unsigned int col; /* 1-based */
};

enum policy_mode {
	POLICY_MODE_ENFORCE = 0,
	POLICY_MODE_MONITOR,
};

struct policy_rule {
	char name[PD_NAME_MAX + 1];
	struct policy_pos pos; /* of the rule's mapping */
	bool has_proto;
	uint8_t proto;
	unsigned int ndport;
	struct pd_port_range dport[PD_MAX_PORT_RANGES];
	unsigned int nsport;
	struct pd_port_range sport[PD_MAX_PORT_RANGES];
	struct prefix *srcs; /* owned; nsrcs entries; NULL when no src */
	size_t nsrcs;
	unsigned int nlength;
	struct pd_port_range length[PD_MAX_LENGTH_RANGES];
	bool has_tcp_flags;
	uint8_t tcp_flags_mask;
	uint8_t tcp_flags_value;
	bool has_icmp_type;
	uint32_t icmp_types[8]; /* bitmap over the 256 types of the rule's proto */
	uint8_t action; /* enum pd_verdict */
	/* limit: (kind PD_LIMIT_NONE when absent). The rate as written, for
	 * show; interval/burst as compiled into struct pd_limit. */
	struct pd_limit limit;
	char limit_rate[32]; /* "20000/s", "10mbit/s" */
	uint64_t limit_burst; /* packets or bytes, as given or defaulted */
	struct policy_pos limit_pos;
	bool log; /* log: true: an event per match (rate-capped) */
};

struct policy_route {
	struct prefix to;
	bool has_via;
	struct prefix via; /* full-length prefix: an address */
	char dev[IF_NAMESIZE]; /* "" when not given */
	bool has_realm;
	uint32_t realm;
	struct policy_pos pos;
};

struct policy {
	char name[PD_NAME_MAX + 1];
	enum policy_mode mode;
	uint8_t default_verdict; /* enum pd_verdict */
	uint8_t table_full_verdict; /* enum pd_verdict, default pass */
	/* quota: and block: as compiled (bytes 0 / kind NONE when absent),
	 * with their text for show. */
	struct pd_quota quota;
	char quota_text[64]; /* "50GB per host per 1d" */
	struct pd_block block;
	char block_text[96]; /* "after 500 drops within 10s for 5m" */
	/* sample: one packet in sample_every (0: none), sample_snaplen bytes kept. */
	uint32_t sample_every;
	uint16_t sample_snaplen;
	struct prefix *dests;
	struct policy_pos *dest_pos;
	size_t ndests;
	struct policy_route *routes;
	size_t nroutes;
	struct policy_rule *rules;
	size_t nrules;
};

/* "file:line:col: message", ready to print. */
struct policy_error {
	char msg[512];
};

/*
 * Read and check one policy from @text (@len bytes, need not be
 * NUL-terminated). @filename is used in messages only. On success *@out owns a
 * new policy (free with policy_free()); on failure *@out is untouched, @err
 * holds the first error and -EINVAL (or -ENOMEM) is returned.
 */
int policy_parse(const char *filename, const char *text, size_t len, struct policy **out,
		 struct policy_error *err);

void policy_free(struct policy *p);

/*
 * Compile @p into the map value the program reads. Counter indices are the
 * caller's: @rule_counters[i] for rule i, @default_counter for the default
 * verdict. Returns 0, or -E2BIG with @err set when @p exceeds what the
 * program can hold.
 */
int policy_compile(const struct policy *p, const uint32_t *rule_counters, uint32_t default_counter,
		   struct pd_policy *out, struct policy_error *err);

/* Names for values, for messages and JSON: "tcp", "pass", ... */
const char *policy_verdict_name(uint8_t verdict);
const char *policy_reason_name(enum pd_reason reason);
/* Protocol name for a number ("tcp"), or NULL when it has none. */
const char *policy_proto_name(uint8_t proto);

/* Format @n port ranges as "80,443,8000-8080" into @buf (lengths likewise). */
void policy_format_ports(const struct pd_port_range *r, unsigned int n, char *buf, size_t size);
/* Format a tcp-flags condition as written: "syn" (SYN, ACK clear) or "syn,ack". */
void policy_format_tcp_flags(uint8_t mask, uint8_t value, char *buf, size_t size);
/* Format an icmp-type bitmap of @proto (1 or 58): names where known, numbers
 * otherwise, comma-separated: "echo-request,13". */
void policy_format_icmp_types(uint8_t proto, const uint32_t *bitmap, char *buf, size_t size);
/* Format rule @r's limit as "20000/s burst 500 per host mask 24" or
 * "10mbit/s burst 1250000 bytes" ("" without one): default masks are left out. */
void policy_format_limit(const struct policy_rule *r, char *buf, size_t size);

#endif
