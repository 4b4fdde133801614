// SPDX-License-Identifier: GPL-2.0-only
/*
 * 'explain': build the packet described, run the loaded program on it with
 * BPF_PROG_TEST_RUN in explain mode (pd_config.explain_key in cb[0..1]: no
 * counter, bucket, quota, block or cache entry is touched), then name what
 * it reports and add the live state it read: bucket level, quota, block.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/log.h"
#include "lib/packet.h"
#include "daemon.h"
#include "explain.h"
#include "policy.skel.h"

/* What the program reports (see PD_EXPLAIN_* in bpf/policy_abi.h). */
struct explain_out {
	uint32_t slot;
	uint32_t rule; /* index in the policy, or PD_EV_RULE_NONE */
	uint8_t verdict; /* as the policy decides it */
	uint8_t reason;
	uint32_t flags; /* PD_EXPLAIN_F_* */
	uint32_t counter;
	int retval; /* BPF_OK or BPF_DROP: what the kernel would do */
};

static int read_explain_key(struct daemon *d, uint64_t *key)
{
	struct pd_config cfg;
	__u32 zero = 0;

	if (bpf_map__lookup_elem(d->skel->maps.pd_config, &zero, sizeof(zero), &cfg, sizeof(cfg),
				 0))
		return -errno;
	*key = cfg.explain_key;
	return 0;
}

/* cb[4] goes in as this and comes back 0 from a program that explained:
 * a program without explain support leaves cb[] as it was. */
#define EXPLAIN_CB4_SENTINEL 0xffffffffu

/* Did the program answer, and within the ABI's ranges? */
static bool explain_out_valid(const struct __sk_buff *out)
{
	if (out->cb[4] != 0)
		return false;
	if (out->cb[0] != PD_SLOT_NONE && out->cb[0] >= PD_MAX_POLICIES)
		return false;
	if (out->cb[1] != PD_EV_RULE_NONE && out->cb[1] >= PD_MAX_RULES)
		return false;
	return (out->cb[2] & 0xff) <= PD_DROP && (out->cb[2] >> 8 & 0xff) < PD_REASON_MAX;
}

static int explain_run(struct daemon *d, const struct packet_spec *spec, uint64_t key,
		       struct explain_out *res, char *err, size_t errlen)
{
	/* data_out is unused, but valgrind checks the pointer the kernel would
	 * accept as NULL. */
	uint8_t data[PACKET_BUF_MAX], data_out[PACKET_BUF_MAX];
	struct __sk_buff ctx_in = {}, ctx_out = {};
	int len, ret;

	len = packet_build(spec, data, sizeof(data));
	if (len < 0) {
		snprintf(err, errlen, "cannot build the packet: %s", strerror(-len));
		return len;
	}
	ctx_in.cb[0] = (uint32_t)key;
	ctx_in.cb[1] = (uint32_t)(key >> 32);
	ctx_in.cb[4] = EXPLAIN_CB4_SENTINEL;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = data, .data_size_in = (__u32)len,
		    .data_out = data_out, .data_size_out = sizeof(data_out), .ctx_in = &ctx_in,
		    .ctx_size_in = sizeof(ctx_in), .ctx_out = &ctx_out,
		    .ctx_size_out = sizeof(ctx_out), .repeat = 1);
	if (bpf_prog_test_run_opts(d->prog_fd, &opts)) {
		ret = -errno;
		snprintf(err, errlen, "cannot run the program on the packet: %s", strerror(-ret));
		pr_warn("explain: BPF_PROG_TEST_RUN failed: %s", strerror(-ret));
		return ret;
	}
	if (!explain_out_valid(&ctx_out)) {
		snprintf(
			err, errlen,
			"the loaded program gave no explanation (a program without explain support?)");
		return -EOPNOTSUPP;
	}
	res->slot = ctx_out.cb[0];
	res->rule = ctx_out.cb[1];
	res->verdict = ctx_out.cb[2] & 0xff;
	res->reason = ctx_out.cb[2] >> 8 & 0xff;
	res->flags = ctx_out.cb[2] >> 16;
	res->counter = ctx_out.cb[3];
	res->retval = (int)opts.retval;
	return 0;
}

static const struct applied_policy *policy_by_slot(const struct daemon *d, uint32_t slot)
{
	for (size_t i = 0; i < d->set.n; i++)
		if (d->set.v[i]->slot == slot)
			return d->set.v[i];
	return NULL;
}

/* The policy's most specific destination holding @addr: the one that won
 * the program's longest-prefix match. */
static const struct prefix *matched_dest(const struct policy *pol, const struct prefix *addr)
{
	const struct prefix *best = NULL;

	for (size_t i = 0; i < pol->ndests; i++)
		if (prefix_contains(&pol->dests[i], addr) &&
		    (!best || pol->dests[i].len > best->len))
			best = &pol->dests[i];
	return best;
}

/* "proto tcp dport 80,443 src 198.18.0.0/16": what the rule tests. */
static void match_summary(const struct policy_rule *r, char *buf, size_t size)
{
	char item[1200], pnum[8], pbuf[PREFIX_STR_MAX];
	const char *pname = policy_proto_name(r->proto);
	size_t used = 0;

#define ADD(...)                                                                                  \
	do {                                                                                      \
		if (used < size)                                                                  \
			used += (size_t)snprintf(buf + used, size - used, "%s", used ? " " : ""); \
		if (used < size)                                                                  \
			used += (size_t)snprintf(buf + used, size - used, __VA_ARGS__);           \
	} while (0)

	buf[0] = '\0';
	if (r->has_proto) {
		if (!pname) {
			snprintf(pnum, sizeof(pnum), "%u", r->proto);
			pname = pnum;
		}
		ADD("proto %s", pname);
	}
	if (r->ndport) {
		policy_format_ports(r->dport, r->ndport, item, sizeof(item));
		ADD("dport %s", item);
	}
	if (r->nsport) {
		policy_format_ports(r->sport, r->nsport, item, sizeof(item));
		ADD("sport %s", item);
	}
	if (r->nsrcs) {
		size_t n = 0;

		/* Cut where the buffer ends: a rule may list thousands. */
		for (size_t i = 0; i < r->nsrcs && n < sizeof(item); i++)
			n += (size_t)snprintf(
				item + n, sizeof(item) - n, "%s%s", i ? "," : "",
				prefix_format(&r->srcs[i], false, pbuf, sizeof(pbuf)));
		ADD("src %s", item);
	}
	if (r->nlength) {
		policy_format_ports(r->length, r->nlength, item, sizeof(item));
		ADD("length %s", item);
	}
	if (r->has_tcp_flags) {
		policy_format_tcp_flags(r->tcp_flags_mask, r->tcp_flags_value, item, sizeof(item));
		ADD("tcp-flags %s", item);
	}
	if (r->has_icmp_type) {
		policy_format_icmp_types(r->proto, r->icmp_types, item, sizeof(item));
		ADD("icmp-type %s", item);
	}
	if (!used)
		snprintf(buf, size, "any packet");
#undef ADD
}

/* The rule's limit and the level of the bucket this packet would draw from. */
static json_t *limit_json(struct daemon *d, const struct policy_rule *r, uint32_t counter,
			  const struct prefix *dst, uint32_t flags)
{
	const struct pd_limit *l = &r->limit;
	json_t *j = json_pack("{s:s, s:I, s:s, s:s, s:b}", "rate", r->limit_rate, "burst",
			      (json_int_t)r->limit_burst, "per", l->per_host ? "host" : "rule",
			      "unit", l->kind == PD_LIMIT_BYTES ? "bytes" : "packets", "over",
			      !!(flags & PD_EXPLAIN_F_LIMIT_OVER));
	uint64_t tat = 0, now = maps_now();
	char buf[PREFIX_STR_MAX];

	if (l->per_host) {
		struct pd_host_key key = { .counter = counter, .family = dst->family };
		struct prefix group = *dst;

		/* The bucket's key: the host masked to the rule's group. */
		group.len = dst->family == AF_INET ? l->mask4 : l->mask6;
		for (unsigned int bit = group.len; bit < 128; bit++)
			group.addr[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
		memcpy(key.addr, group.addr, sizeof(key.addr));
		json_object_set_new(j, "bucket",
				    json_string(prefix_format(&group, false, buf, sizeof(buf))));
		if (maps_host_bucket(d, &key, &tat))
			json_object_set_new(j, "new_bucket", json_true());
		/* The program, explaining, tells whether the key's set has a
		 * way to give. */
		json_object_set_new(j, "table_full", json_boolean(flags & PD_EXPLAIN_F_TABLE_FULL));
	} else if (maps_read_rule_bucket(d, counter, &tat)) {
		return j;
	}
	json_object_set_new(j, "available", json_integer(maps_bucket_available(l, tat, now)));
	return j;
}

/* The host's entry in pd_hosts (quota use, block), if it has one. */
static bool host_state(struct daemon *d, uint32_t slot, const struct prefix *dst,
		       struct pd_host_state *st)
{
	struct pd_hosts_key key = { .slot = slot, .family = dst->family };

	memcpy(key.addr, dst->addr, sizeof(key.addr));
	return set_table_find(&d->hosts, &key, st) == 0;
}

static json_t *quota_json(struct daemon *d, const struct applied_policy *ap,
			  const struct pd_host_state *st, uint32_t flags)
{
	const struct pd_quota *q = &ap->pol->quota;
	uint64_t period = clock_ns(CLOCK_TAI) / q->period_ns, used = 0;
	struct pd_policy_quota pq;

	if (q->per_host) {
		if (st && st->quota_period == period)
			used = st->quota_used;
	} else if (bpf_map__lookup_elem(d->skel->maps.pd_policy_quota, &ap->slot, sizeof(ap->slot),
					&pq, sizeof(pq), 0) == 0 &&
		   pq.period == period) {
		used = pq.used;
	}
	return json_pack("{s:s, s:s, s:I, s:I, s:b}", "quota", ap->pol->quota_text, "per",
			 q->per_host ? "host" : "policy", "bytes", (json_int_t)q->bytes, "used",
			 (json_int_t)used, "over", !!(flags & PD_EXPLAIN_F_QUOTA));
}

static json_t *block_json(const struct applied_policy *ap, const struct pd_host_state *st,
			  uint32_t flags)
{
	uint64_t mono = clock_ns(CLOCK_MONOTONIC);
	bool blocked = st && st->blocked_until > mono;
	json_t *j = json_pack("{s:s, s:b, s:I}", "block", ap->pol->block_text, "blocked",
			      blocked || (flags & PD_EXPLAIN_F_BLOCKED), "blocks",
			      (json_int_t)(st ? st->blocks : 0));
	char until[32];

	if (blocked) {
		clock_to_iso(CLOCK_MONOTONIC, st->blocked_until, until, sizeof(until));
		json_object_set_new(j, "blocked_until", json_string(until));
	}
	if (st && !blocked && ap->pol->block.window_ns &&
	    mono - st->window_start < ap->pol->block.window_ns)
		json_object_set_new(j, "window_count", json_integer((json_int_t)st->window_count));
	return j;
}

static json_t *packet_json(const struct packet_spec *s)
{
	char text[256], src[PREFIX_STR_MAX], dst[PREFIX_STR_MAX];
	const char *pname = policy_proto_name(s->proto);
	json_t *j;

	packet_format(s, text, sizeof(text));
	j = json_pack("{s:s, s:s, s:s, s:I, s:I}", "summary", text, "src",
		      prefix_format(&s->src, true, src, sizeof(src)), "dst",
		      prefix_format(&s->dst, true, dst, sizeof(dst)), "proto", (json_int_t)s->proto,
		      "length", (json_int_t)s->len);
	if (pname)
		json_object_set_new(j, "proto_name", json_string(pname));
	if (s->ports) {
		json_object_set_new(j, "sport", json_integer(s->sport));
		json_object_set_new(j, "dport", json_integer(s->dport));
	}
	if (s->proto == 6)
		json_object_set_new(j, "tcp_flags", json_integer(s->tcp_flags));
	if (s->icmp)
		json_object_set_new(j, "icmp_type", json_integer(s->icmp_type));
	return j;
}

/* Name what the program reported and add the live state it read. */
static int explain_json(struct daemon *d, const struct packet_spec *spec,
			const struct explain_out *o, json_t *res, char *err, size_t errlen)
{
	const struct applied_policy *ap = policy_by_slot(d, o->slot);
	const struct policy_rule *r = NULL;
	const struct prefix *dest;
	struct pd_host_state st;
	bool has_st;
	char buf[2048];

	if (!ap) {
		snprintf(err, errlen,
			 "the program names policy slot %u, which no applied policy holds",
			 o->slot);
		return -EIO;
	}
	if (o->rule != PD_EV_RULE_NONE) {
		if (o->rule >= ap->pol->nrules) {
			snprintf(err, errlen,
				 "the program names rule %u of policy %s, which has %zu", o->rule,
				 ap->pol->name, ap->pol->nrules);
			return -EIO;
		}
		r = &ap->pol->rules[o->rule];
	}
	dest = matched_dest(ap->pol, &spec->dst);
	json_object_set_new(res, "covered", json_true());
	json_object_set_new(res, "policy", json_string(ap->pol->name));
	json_object_set_new(
		res, "mode",
		json_string(ap->pol->mode == POLICY_MODE_MONITOR ? "monitor" : "enforce"));
	if (dest)
		json_object_set_new(res, "prefix",
				    json_string(prefix_format(dest, false, buf, sizeof(buf))));
	json_object_set_new(res, "counter", json_integer(o->counter));
	if (r) {
		match_summary(r, buf, sizeof(buf));
		json_object_set_new(res, "rule",
				    json_pack("{s:s, s:I, s:s, s:s}", "name", r->name, "index",
					      (json_int_t)o->rule, "match", buf, "action",
					      policy_verdict_name(r->action)));
		if (r->limit.kind != PD_LIMIT_NONE && r->action == PD_PASS) {
			json_object_set_new(res, "limit",
					    limit_json(d, r, o->counter, &spec->dst, o->flags));
		}
	} else {
		/* The default verdict, or a blocked host that no rule was asked
		 * about: both count under the rule name 'default' in stats. */
		json_object_set_new(
			res, "rule",
			json_pack("{s:s, s:n, s:s, s:s}", "name", "default", "index", "match",
				  o->reason == PD_REASON_BLOCKED ?
					  "none asked: the host is blocked" :
					  "no rule matches",
				  "action",
				  policy_verdict_name(o->reason == PD_REASON_BLOCKED ?
							      PD_DROP :
							      ap->pol->default_verdict)));
	}
	has_st = (ap->pol->quota.bytes || ap->pol->block.kind) &&
		 host_state(d, o->slot, &spec->dst, &st);
	if (ap->pol->quota.bytes && ap->pol->quota.period_ns)
		json_object_set_new(res, "quota", quota_json(d, ap, has_st ? &st : NULL, o->flags));
	if (ap->pol->block.kind)
		json_object_set_new(res, "block", block_json(ap, has_st ? &st : NULL, o->flags));
	json_object_set_new(res, "verdict", json_string(policy_verdict_name(o->verdict)));
	json_object_set_new(res, "reason",
			    o->verdict == PD_DROP ? json_string(policy_reason_name(o->reason)) :
						    json_null());
	json_object_set_new(res, "would_drop", json_boolean(o->flags & PD_EXPLAIN_F_WOULD_DROP));
	json_object_set_new(res, "table_full", json_boolean(o->flags & PD_EXPLAIN_F_TABLE_FULL));
	json_object_set_new(res, "kernel", json_string(o->retval == BPF_DROP ? "drop" : "pass"));
	return 0;
}

int explain_packet(struct daemon *d, json_t *args, json_t **result, char *err, size_t errlen)
{
	struct packet_args a = {};
	struct packet_spec spec;
	struct explain_out o = {};
	uint64_t key = 0;
	char addr[PREFIX_STR_MAX];
	json_t *res;
	int ret;

	if (!json_is_object(args) ||
	    json_unpack(args, "{s:s, s?s, s?s, s?s, s?s, s?s, s?s, s?s}", "address", &a.address,
			"proto", &a.proto, "dport", &a.dport, "src", &a.src, "sport", &a.sport,
			"len", &a.len, "tcp_flags", &a.tcp_flags, "icmp_type", &a.icmp_type)) {
		snprintf(
			err, errlen,
			"explain needs args {address, proto, dport, src, sport, len, tcp_flags, icmp_type} (strings)");
		return -EINVAL;
	}
	if (packet_spec_parse(&a, &spec, err, errlen))
		return -EINVAL;
	ret = read_explain_key(d, &key);
	if (ret) {
		snprintf(err, errlen, "cannot read %s: %s", PD_MAP_CONFIG, strerror(-ret));
		return ret;
	}
	if (!key) {
		snprintf(
			err, errlen,
			"explain is off: %s holds no explain key (a program without explain support?)",
			PD_MAP_CONFIG);
		return -EOPNOTSUPP;
	}
	ret = explain_run(d, &spec, key, &o, err, errlen);
	if (ret)
		return ret;
	res = json_pack("{s:o}", "packet", packet_json(&spec));
	if (!res)
		return -ENOMEM;
	if (o.slot == PD_SLOT_NONE) {
		json_object_set_new(res, "covered", json_false());
		json_object_set_new(res, "verdict", json_string("pass"));
		json_object_set_new(res, "kernel",
				    json_string(o.retval == BPF_DROP ? "drop" : "pass"));
		json_object_set_new(
			res, "message",
			json_sprintf("no policy covers %s: passes untouched",
				     prefix_format(&spec.dst, true, addr, sizeof(addr))));
	} else {
		ret = explain_json(d, &spec, &o, res, err, errlen);
		if (ret) {
			json_decref(res);
			return ret;
		}
	}
	*result = res;
	return 0;
}
