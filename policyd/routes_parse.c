// SPDX-License-Identifier: GPL-2.0-only
/*
 * struct route_info and its other forms: a raw rtnetlink route message
 * (decoded by hand: libnl 3.7 fails on BPF encaps, SPEC §3), the state file's
 * JSON, and iproute2-like text for replies and logs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>
#include <sys/socket.h>

#include <linux/lwtunnel.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "lib/log.h"
#include "policyd/routes.h"

static struct nla_policy route_attr_policy[RTA_MAX + 1] = {
	[RTA_TABLE] = { .type = NLA_U32 },	[RTA_PRIORITY] = { .type = NLA_U32 },
	[RTA_OIF] = { .type = NLA_U32 },	[RTA_FLOW] = { .type = NLA_U32 },
	[RTA_ENCAP_TYPE] = { .type = NLA_U16 }, [RTA_ENCAP] = { .type = NLA_NESTED },
	[RTA_METRICS] = { .type = NLA_NESTED },
};

_Static_assert(RTAX_FASTOPEN_NO_COOKIE == ROUTE_METRICS_MAX, "RTAX_* numbering");

/* Indexed by RTAX_*: JSON keys and iproute2 words. */
static const char *const metric_names[ROUTE_METRICS_MAX + 1] = {
	[RTAX_LOCK] = "lock",
	[RTAX_MTU] = "mtu",
	[RTAX_WINDOW] = "window",
	[RTAX_RTT] = "rtt",
	[RTAX_RTTVAR] = "rttvar",
	[RTAX_SSTHRESH] = "ssthresh",
	[RTAX_CWND] = "cwnd",
	[RTAX_ADVMSS] = "advmss",
	[RTAX_REORDERING] = "reordering",
	[RTAX_HOPLIMIT] = "hoplimit",
	[RTAX_INITCWND] = "initcwnd",
	[RTAX_FEATURES] = "features",
	[RTAX_RTO_MIN] = "rto_min",
	[RTAX_INITRWND] = "initrwnd",
	[RTAX_QUICKACK] = "quickack",
	[RTAX_FASTOPEN_NO_COOKIE] = "fastopen_no_cookie",
};

static struct nla_policy bpf_prog_policy[LWT_BPF_PROG_MAX + 1] = {
	[LWT_BPF_PROG_NAME] = { .type = NLA_STRING },
};

/* A full-length address of @family from @len bytes at @data. */
static int addr_from_bytes(uint8_t family, const void *data, size_t len, struct prefix *out)
{
	unsigned int bits = prefix_max_len(family);

	if (!bits || len != bits / 8)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->family = family;
	out->len = (uint8_t)bits;
	memcpy(out->addr, data, len);
	return 0;
}

/* RTA_VIA: struct rtvia, then an address of its own family. */
static int addr_from_via(const struct nlattr *a, struct prefix *out)
{
	const struct rtvia *via = nla_data(a);

	if ((size_t)nla_len(a) < sizeof(*via))
		return -EINVAL;
	if (via->rtvia_family > UINT8_MAX)
		return -EINVAL;
	return addr_from_bytes((uint8_t)via->rtvia_family, via->rtvia_addr,
			       (size_t)nla_len(a) - sizeof(*via), out);
}

/* RTA_METRICS: the u32 metrics (a congctl name is dropped). */
static int parse_metrics(struct nlattr *metrics, struct route_info *r)
{
	struct nlattr *a;
	int rem;

	nla_for_each_nested(a, metrics, rem)
	{
		int type = nla_type(a);

		if (type <= 0 || type > ROUTE_METRICS_MAX || !metric_names[type])
			continue;
		if (nla_len(a) < (int)sizeof(uint32_t))
			return -EINVAL;
		r->metrics[type] = nla_get_u32(a);
		r->metrics_set |= 1u << type;
	}
	return 0;
}

/* RTA_ENCAP of a BPF encap: the name of its "out" program, if any. */
static int parse_bpf_encap(struct nlattr *encap, char *name, size_t size)
{
	struct nlattr *hooks[LWT_BPF_MAX + 1], *prog[LWT_BPF_PROG_MAX + 1];

	if (nla_parse_nested(hooks, LWT_BPF_MAX, encap, NULL) < 0)
		return -EINVAL;
	if (!hooks[LWT_BPF_OUT])
		return 0;
	if (nla_parse_nested(prog, LWT_BPF_PROG_MAX, hooks[LWT_BPF_OUT], bpf_prog_policy) < 0)
		return -EINVAL;
	if (prog[LWT_BPF_PROG_NAME])
		nla_strlcpy(name, prog[LWT_BPF_PROG_NAME], size);
	return 0;
}

int route_info_parse(const struct nlmsghdr *nlh, struct route_info *out)
{
	struct nlattr *tb[RTA_MAX + 1];
	struct route_info r = { 0 };
	const struct rtmsg *rtm;
	uint8_t family;

	if (nlh->nlmsg_type != RTM_NEWROUTE && nlh->nlmsg_type != RTM_DELROUTE)
		return -EINVAL;
	if (!nlmsg_valid_hdr(nlh, sizeof(*rtm)))
		return -EINVAL;
	rtm = nlmsg_data(nlh);
	family = rtm->rtm_family;
	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	if (rtm->rtm_dst_len > prefix_max_len(family))
		return -EINVAL;
	if (nlmsg_parse((struct nlmsghdr *)nlh, sizeof(*rtm), tb, RTA_MAX, route_attr_policy) < 0)
		return -EINVAL;

	r.dst.family = family;
	r.dst.len = rtm->rtm_dst_len;
	if (tb[RTA_DST]) {
		if (addr_from_bytes(family, nla_data(tb[RTA_DST]), (size_t)nla_len(tb[RTA_DST]),
				    &r.dst))
			return -EINVAL;
		r.dst.len = rtm->rtm_dst_len;
	}
	r.table = tb[RTA_TABLE] ? nla_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	r.protocol = rtm->rtm_protocol;
	r.scope = rtm->rtm_scope;
	r.type = rtm->rtm_type;
	r.tos = rtm->rtm_tos;
	r.onlink = rtm->rtm_flags & RTNH_F_ONLINK;
	if (tb[RTA_PRIORITY]) {
		r.has_priority = true;
		r.priority = nla_get_u32(tb[RTA_PRIORITY]);
	}
	if (tb[RTA_FLOW]) {
		r.has_realm = true;
		r.realm = nla_get_u32(tb[RTA_FLOW]);
	}
	if (tb[RTA_OIF])
		r.ifindex = (int)nla_get_u32(tb[RTA_OIF]);
	if (tb[RTA_GATEWAY]) {
		if (addr_from_bytes(family, nla_data(tb[RTA_GATEWAY]),
				    (size_t)nla_len(tb[RTA_GATEWAY]), &r.gw))
			return -EINVAL;
		r.has_gw = true;
	} else if (tb[RTA_VIA]) {
		if (addr_from_via(tb[RTA_VIA], &r.gw))
			return -EINVAL;
		r.has_gw = true;
	}
	if (tb[RTA_PREFSRC]) {
		if (addr_from_bytes(family, nla_data(tb[RTA_PREFSRC]),
				    (size_t)nla_len(tb[RTA_PREFSRC]), &r.prefsrc))
			return -EINVAL;
		r.has_prefsrc = true;
	}
	if (tb[RTA_METRICS] && parse_metrics(tb[RTA_METRICS], &r))
		return -EINVAL;
	r.multipath = tb[RTA_MULTIPATH] != NULL;
	if (tb[RTA_ENCAP_TYPE]) {
		r.has_encap = true;
		r.encap_type = nla_get_u16(tb[RTA_ENCAP_TYPE]);
		if (r.encap_type == LWTUNNEL_ENCAP_BPF && tb[RTA_ENCAP] &&
		    parse_bpf_encap(tb[RTA_ENCAP], r.encap_name, sizeof(r.encap_name)))
			return -EINVAL;
	}
	*out = r;
	return 0;
}

/* --- JSON (the state file) --------------------------------------------- */

static int json_set_uint(json_t *obj, const char *key, uint64_t v)
{
	return json_object_set_new(obj, key, json_integer((json_int_t)v));
}

static int json_set_addr(json_t *obj, const char *key, const struct prefix *p, bool bare)
{
	char buf[PREFIX_STR_MAX];

	return json_object_set_new(obj, key, json_string(prefix_format(p, bare, buf, sizeof(buf))));
}

json_t *route_info_to_json(const struct route_info *r)
{
	char dev[IF_NAMESIZE];
	json_t *j;
	int err = 0;

	j = json_object();
	if (!j)
		return NULL;
	err |= json_set_addr(j, "dst", &r->dst, false);
	err |= json_set_uint(j, "table", r->table);
	err |= json_set_uint(j, "protocol", r->protocol);
	err |= json_set_uint(j, "scope", r->scope);
	err |= json_set_uint(j, "type", r->type);
	err |= json_set_uint(j, "tos", r->tos);
	if (r->has_priority)
		err |= json_set_uint(j, "priority", r->priority);
	if (r->has_realm)
		err |= json_set_uint(j, "realm", r->realm);
	err |= json_set_uint(j, "ifindex", (uint32_t)r->ifindex);
	/* For a reader of the state file only: the ifindex is what counts. */
	if (r->ifindex > 0 && if_indextoname((unsigned int)r->ifindex, dev))
		err |= json_object_set_new(j, "dev", json_string(dev));
	if (r->has_gw)
		err |= json_set_addr(j, "gateway", &r->gw, true);
	if (r->onlink)
		err |= json_object_set_new(j, "onlink", json_true());
	if (r->has_prefsrc)
		err |= json_set_addr(j, "prefsrc", &r->prefsrc, true);
	if (r->metrics_set) {
		json_t *m = json_object();

		for (int i = 1; i <= ROUTE_METRICS_MAX; i++)
			if (r->metrics_set & (1u << i) && metric_names[i])
				err |= json_set_uint(m, metric_names[i], r->metrics[i]);
		err |= json_object_set_new(j, "metrics", m);
	}
	if (r->multipath)
		err |= json_object_set_new(j, "multipath", json_true());
	if (r->has_encap) {
		err |= json_set_uint(j, "encap_type", r->encap_type);
		if (r->encap_name[0])
			err |= json_object_set_new(j, "encap_name", json_string(r->encap_name));
	}
	if (err) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* An unsigned integer member no larger than @max; absent or null leaves
 * *@present false. */
static int json_get_uint(const json_t *obj, const char *key, uint64_t max, bool *present,
			 uint64_t *v)
{
	const json_t *m = json_object_get(obj, key);
	json_int_t i;

	*present = false;
	if (!m || json_is_null(m))
		return 0;
	if (!json_is_integer(m))
		return -EINVAL;
	i = json_integer_value(m);
	if (i < 0 || (uint64_t)i > max)
		return -EINVAL;
	*present = true;
	*v = (uint64_t)i;
	return 0;
}

static int json_get_required_uint(const json_t *obj, const char *key, uint64_t max, uint64_t *v)
{
	bool present;
	int err;

	err = json_get_uint(obj, key, max, &present, v);
	return err ? err : present ? 0 : -EINVAL;
}

static int json_get_bool(const json_t *obj, const char *key, bool *v)
{
	const json_t *m = json_object_get(obj, key);

	*v = false;
	if (!m || json_is_null(m))
		return 0;
	if (!json_is_boolean(m))
		return -EINVAL;
	*v = json_is_true(m);
	return 0;
}

/* A full-length address; absent or null leaves *@present false. */
static int json_get_addr(const json_t *obj, const char *key, bool *present, struct prefix *p)
{
	const json_t *m = json_object_get(obj, key);

	*present = false;
	if (!m || json_is_null(m))
		return 0;
	if (!json_is_string(m) || prefix_parse(json_string_value(m), false, p) ||
	    p->len != prefix_max_len(p->family))
		return -EINVAL;
	*present = true;
	return 0;
}

static int json_get_metrics(const json_t *obj, struct route_info *r)
{
	const json_t *m = json_object_get(obj, "metrics"), *v;
	const char *key;

	if (!m || json_is_null(m))
		return 0;
	if (!json_is_object(m))
		return -EINVAL;
	json_object_foreach((json_t *)m, key, v) {
		int i;

		for (i = 1; i <= ROUTE_METRICS_MAX; i++)
			if (metric_names[i] && strcmp(key, metric_names[i]) == 0)
				break;
		if (i > ROUTE_METRICS_MAX || !json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > UINT32_MAX)
			return -EINVAL;
		r->metrics[i] = (uint32_t)json_integer_value(v);
		r->metrics_set |= 1u << i;
	}
	return 0;
}

int route_info_from_json(const json_t *j, struct route_info *out)
{
	struct route_info r = { 0 };
	const json_t *m;
	uint64_t v;
	bool present;

	if (!json_is_object(j))
		return -EINVAL;
	m = json_object_get(j, "dst");
	if (!json_is_string(m) || prefix_parse(json_string_value(m), false, &r.dst))
		return -EINVAL;
	if (json_get_required_uint(j, "table", UINT32_MAX, &v) || v == RT_TABLE_UNSPEC)
		return -EINVAL;
	r.table = (uint32_t)v;
	if (json_get_required_uint(j, "protocol", UINT8_MAX, &v))
		return -EINVAL;
	r.protocol = (uint8_t)v;
	if (json_get_required_uint(j, "scope", UINT8_MAX, &v))
		return -EINVAL;
	r.scope = (uint8_t)v;
	if (json_get_required_uint(j, "type", RTN_MAX, &v))
		return -EINVAL;
	r.type = (uint8_t)v;
	if (json_get_uint(j, "tos", UINT8_MAX, &present, &v))
		return -EINVAL;
	r.tos = present ? (uint8_t)v : 0;
	if (json_get_uint(j, "priority", UINT32_MAX, &r.has_priority, &v))
		return -EINVAL;
	r.priority = r.has_priority ? (uint32_t)v : 0;
	if (json_get_uint(j, "realm", UINT32_MAX, &r.has_realm, &v))
		return -EINVAL;
	r.realm = r.has_realm ? (uint32_t)v : 0;
	if (json_get_uint(j, "ifindex", INT32_MAX, &present, &v))
		return -EINVAL;
	r.ifindex = present ? (int)v : 0;
	m = json_object_get(j, "dev");
	if (m && !json_is_string(m) && !json_is_null(m))
		return -EINVAL;
	if (json_get_addr(j, "gateway", &r.has_gw, &r.gw) ||
	    json_get_addr(j, "prefsrc", &r.has_prefsrc, &r.prefsrc))
		return -EINVAL;
	if (r.has_prefsrc && r.prefsrc.family != r.dst.family)
		return -EINVAL;
	if (json_get_bool(j, "onlink", &r.onlink) || json_get_bool(j, "multipath", &r.multipath))
		return -EINVAL;
	if (json_get_metrics(j, &r))
		return -EINVAL;
	if (json_get_uint(j, "encap_type", UINT16_MAX, &r.has_encap, &v))
		return -EINVAL;
	r.encap_type = r.has_encap ? (uint16_t)v : 0;
	m = json_object_get(j, "encap_name");
	if (m && !json_is_null(m)) {
		if (!r.has_encap || !json_is_string(m) ||
		    json_string_length(m) >= sizeof(r.encap_name) ||
		    strlen(json_string_value(m)) != json_string_length(m))
			return -EINVAL;
		strcpy(r.encap_name, json_string_value(m));
	}
	*out = r;
	return 0;
}

/* --- iproute2-like text -------------------------------------------------- */

struct text {
	char *buf;
	size_t size, len;
};

static void __attribute__((format(printf, 2, 3))) text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->len >= t->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->len += (size_t)n;
}

static const char *proto_name(uint8_t proto, char *buf, size_t size)
{
	static const char *const names[] = {
		[RTPROT_REDIRECT] = "redirect", [RTPROT_KERNEL] = "kernel",
		[RTPROT_BOOT] = "boot",		[RTPROT_STATIC] = "static",
		[RTPROT_GATED] = "gated",	[RTPROT_RA] = "ra",
		[RTPROT_MRT] = "mrt",		[RTPROT_ZEBRA] = "zebra",
		[RTPROT_BIRD] = "bird",		[RTPROT_DNROUTED] = "dnrouted",
		[RTPROT_XORP] = "xorp",		[RTPROT_NTK] = "ntk",
		[RTPROT_DHCP] = "dhcp",		[RTPROT_KEEPALIVED] = "keepalived",
		[RTPROT_BABEL] = "babel",	[RTPROT_OPENR] = "openr",
		[RTPROT_BGP] = "bgp",		[RTPROT_ISIS] = "isis",
		[RTPROT_OSPF] = "ospf",		[RTPROT_RIP] = "rip",
		[RTPROT_EIGRP] = "eigrp",	[RTPROT_POLICYD] = "policyd",
	};

	if (proto < sizeof(names) / sizeof(names[0]) && names[proto])
		return names[proto];
	snprintf(buf, size, "%u", proto);
	return buf;
}

static const char *encap_name(uint16_t type, char *buf, size_t size)
{
	static const char *const names[] = {
		[LWTUNNEL_ENCAP_MPLS] = "mpls",
		[LWTUNNEL_ENCAP_IP] = "ip",
		[LWTUNNEL_ENCAP_ILA] = "ila",
		[LWTUNNEL_ENCAP_IP6] = "ip6",
		[LWTUNNEL_ENCAP_SEG6] = "seg6",
		[LWTUNNEL_ENCAP_BPF] = "bpf",
		[LWTUNNEL_ENCAP_SEG6_LOCAL] = "seg6local",
	};

	if (type < sizeof(names) / sizeof(names[0]) && names[type])
		return names[type];
	snprintf(buf, size, "%u", type);
	return buf;
}

static const char *type_name(uint8_t type, char *buf, size_t size)
{
	static const char *const names[] = {
		[RTN_UNSPEC] = "none",
		[RTN_LOCAL] = "local",
		[RTN_BROADCAST] = "broadcast",
		[RTN_ANYCAST] = "anycast",
		[RTN_MULTICAST] = "multicast",
		[RTN_BLACKHOLE] = "blackhole",
		[RTN_UNREACHABLE] = "unreachable",
		[RTN_PROHIBIT] = "prohibit",
		[RTN_THROW] = "throw",
		[RTN_NAT] = "nat",
		[RTN_XRESOLVE] = "xresolve",
	};

	if (type < sizeof(names) / sizeof(names[0]) && names[type])
		return names[type];
	snprintf(buf, size, "%u", type);
	return buf;
}

void route_info_format(const struct route_info *r, char *buf, size_t size)
{
	struct text t = { .buf = buf, .size = size };
	char pbuf[PREFIX_STR_MAX], nbuf[16], dev[IF_NAMESIZE];

	if (!size)
		return;
	buf[0] = '\0';
	if (r->type != RTN_UNICAST)
		text_add(&t, "%s ", type_name(r->type, nbuf, sizeof(nbuf)));
	if (r->dst.len)
		text_add(&t, "%s", prefix_format(&r->dst, false, pbuf, sizeof(pbuf)));
	else
		text_add(&t, "default");
	if (r->tos)
		text_add(&t, " tos 0x%02x", r->tos);
	if (r->has_encap) {
		text_add(&t, " encap %s", encap_name(r->encap_type, nbuf, sizeof(nbuf)));
		if (r->encap_name[0])
			text_add(&t, " out %s", r->encap_name);
	}
	if (r->has_gw)
		text_add(&t, " via %s%s",
			 r->gw.family == r->dst.family ? "" :
			 r->gw.family == AF_INET6      ? "inet6 " :
							 "inet ",
			 prefix_format(&r->gw, true, pbuf, sizeof(pbuf)));
	if (r->ifindex > 0) {
		if (if_indextoname((unsigned int)r->ifindex, dev))
			text_add(&t, " dev %s", dev);
		else
			text_add(&t, " dev if%d", r->ifindex);
	}
	if (r->multipath)
		text_add(&t, " multipath");
	if (r->table != RT_TABLE_MAIN) {
		if (r->table == RT_TABLE_LOCAL)
			text_add(&t, " table local");
		else if (r->table == RT_TABLE_DEFAULT)
			text_add(&t, " table default");
		else
			text_add(&t, " table %u", r->table);
	}
	if (r->protocol != RTPROT_BOOT)
		text_add(&t, " proto %s", proto_name(r->protocol, nbuf, sizeof(nbuf)));
	if (r->scope == RT_SCOPE_LINK)
		text_add(&t, " scope link");
	else if (r->scope == RT_SCOPE_HOST)
		text_add(&t, " scope host");
	else if (r->scope != RT_SCOPE_UNIVERSE)
		text_add(&t, " scope %u", r->scope);
	if (r->has_prefsrc)
		text_add(&t, " src %s", prefix_format(&r->prefsrc, true, pbuf, sizeof(pbuf)));
	if (r->has_priority)
		text_add(&t, " metric %u", r->priority);
	if (r->onlink)
		text_add(&t, " onlink");
	if (r->has_realm) {
		if (r->realm >> 16)
			text_add(&t, " realms %u/%u", r->realm >> 16, r->realm & 0xffff);
		else
			text_add(&t, " realm %u", r->realm);
	}
	for (int i = 1; i <= ROUTE_METRICS_MAX; i++) {
		if (i == RTAX_LOCK || !(r->metrics_set & (1u << i)) || !metric_names[i])
			continue;
		text_add(&t, " %s%s %u", metric_names[i],
			 (r->metrics_set & (1u << RTAX_LOCK)) &&
					 (r->metrics[RTAX_LOCK] & (1u << i)) ?
				 " lock" :
				 "",
			 r->metrics[i]);
	}
}
