// SPDX-License-Identifier: GPL-2.0-only
/*
 * The daemon's rtnetlink conversation: acked route requests built by hand
 * (libnl 3.7 cannot express a BPF encap), raw route dumps instead of libnl's
 * route cache (which a single BPF-encap route breaks), and the route monitor.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/socket.h>

#include <linux/lwtunnel.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "lib/log.h"
#include "policyd/routes.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* Dumps interrupted by concurrent route changes are retried this often. */
#define ROUTE_DUMP_TRIES 5

/* Big enough for any single route notification; a bigger one is treated as
 * an overrun (the caller resynchronises). */
#define ROUTE_MONITOR_BUF 65536

#define ROUTE_MONITOR_RCVBUF (4 << 20)

struct route_ctx {
	struct nl_sock *sk;
	bool broken; /* replies may be left unread: reconnect before the next request */
	/* The reply to the request in flight. */
	bool done;
	int kernel_err; /* negative errno from NLMSG_ERROR, 0 if none */
	char extack[256]; /* NLMSGERR_ATTR_MSG, if the kernel sent one */
};

/* libnl reports its own failures as NLE_* codes; the rest of policyd speaks
 * errno. */
static int nlerr_to_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case NLE_INTR:
		return -EINTR;
	case NLE_BAD_SOCK:
		return -EBADF;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_RANGE:
		return -ERANGE;
	case NLE_MSGSIZE:
		return -EMSGSIZE;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:
		return -EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_PROTO_MISMATCH:
		return -EPROTONOSUPPORT;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_PERM:
		return -EPERM;
	case NLE_NODEV:
		return -ENODEV;
	case NLE_DUMP_INTR:
		return -EAGAIN;
	default:
		return -EIO;
	}
}

static int route_sock_open(struct route_ctx *ctx)
{
	int one = 1, fd, err;

	ctx->sk = nl_socket_alloc();
	if (!ctx->sk)
		return -ENOMEM;
	err = nl_connect(ctx->sk, NETLINK_ROUTE);
	if (err < 0) {
		pr_err("cannot open an rtnetlink socket: %s", nl_geterror(err));
		nl_socket_free(ctx->sk);
		ctx->sk = NULL;
		return nlerr_to_errno(err);
	}
	/* Dump replies come in multi-page chunks: size the reads by peeking. */
	nl_socket_enable_msg_peek(ctx->sk);
	fd = nl_socket_get_fd(ctx->sk);
	/* Best effort: the kernel explains most EINVALs only in the extended
	 * ack, and echoing our whole request back in errors is useless. */
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	ctx->broken = false;
	return 0;
}

int route_ctx_new(struct route_ctx **out)
{
	struct route_ctx *ctx;
	int err;

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	err = route_sock_open(ctx);
	if (err) {
		free(ctx);
		return err;
	}
	*out = ctx;
	return 0;
}

void route_ctx_free(struct route_ctx *ctx)
{
	if (!ctx)
		return;
	nl_socket_free(ctx->sk);
	free(ctx);
}

/* --- one request, its replies ------------------------------------------- */

/* NLMSGERR_ATTR_MSG of an NLMSG_ERROR, into @buf ("" if none). */
static void extack_message(const struct nlmsghdr *nlh, char *buf, size_t size)
{
	const struct nlmsgerr *e = nlmsg_data(nlh);
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t off = sizeof(*e);

	buf[0] = '\0';
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	/* Unless capped, the offending request is echoed before the TLVs. */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
		if (e->msg.nlmsg_len < NLMSG_HDRLEN || e->msg.nlmsg_len > nlh->nlmsg_len)
			return;
		off += NLMSG_ALIGN(e->msg.nlmsg_len - NLMSG_HDRLEN);
	}
	if (nlh->nlmsg_len < NLMSG_HDRLEN + off)
		return;
	if (nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)((char *)nlmsg_data(nlh) + off),
		      (int)(nlh->nlmsg_len - NLMSG_HDRLEN - off), NULL) < 0)
		return;
	if (tb[NLMSGERR_ATTR_MSG])
		nla_strlcpy(buf, tb[NLMSGERR_ATTR_MSG], size);
}

static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct route_ctx *ctx = arg;
	const struct nlmsghdr *nlh = (const void *)((const char *)e - NLMSG_HDRLEN);

	ctx->kernel_err = e->error < 0 ? e->error : -EIO;
	ctx->done = true;
	extack_message(nlh, ctx->extack, sizeof(ctx->extack));
	return NL_STOP;
}

static int on_done(struct nl_msg *msg, void *arg)
{
	struct route_ctx *ctx = arg;

	ctx->done = true;
	return NL_STOP;
}

/* A dump in progress: each route goes to @visit; an error from it stops the
 * dump. */
struct route_dump {
	int (*visit)(const struct route_info *r, void *arg);
	void *arg;
	int err;
};

static int on_dump_msg(struct nl_msg *msg, void *arg)
{
	struct route_dump *dump = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct route_info r;
	int err;

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return NL_SKIP;
	err = route_info_parse(nlh, &r);
	if (err) {
		/* One odd route must not hide the others (libnl's cache fails
		 * whole dumps this way). */
		if (err != -EAFNOSUPPORT)
			pr_warn("skipping a route message that cannot be decoded");
		return NL_SKIP;
	}
	if (((const struct rtmsg *)nlmsg_data(nlh))->rtm_flags & RTM_F_CLONED)
		return NL_SKIP;
	err = dump->visit(&r, dump->arg);
	if (err) {
		dump->err = err;
		return NL_STOP;
	}
	return NL_OK;
}

/*
 * Send @msg and read its replies: the ack, or with @dump the routes up to the
 * end of the dump. Kernel errors come back as -errno, logged with @what and the
 * extended ack message (ESRCH and ENOENT silently if @missing_ok). An
 * interrupted dump returns -EAGAIN.
 */
static int route_talk(struct route_ctx *ctx, struct nl_msg *msg, struct route_dump *dump,
		      const char *what, bool missing_ok)
{
	bool interrupted = false;
	struct nl_cb *cb;
	int err, ret;

	if (ctx->broken) {
		nl_socket_free(ctx->sk);
		ctx->sk = NULL;
		err = route_sock_open(ctx);
		if (err)
			return err;
	}
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb)
		return -ENOMEM;
	ctx->done = false;
	ctx->kernel_err = 0;
	ctx->extack[0] = '\0';
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, ctx);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_done, ctx);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, on_done, ctx);
	if (dump)
		nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_dump_msg, dump);

	err = nl_send_auto(ctx->sk, msg);
	if (err < 0) {
		pr_err("%s: cannot send the netlink request: %s", what, nl_geterror(err));
		ctx->broken = true;
		err = nlerr_to_errno(err);
		goto out;
	}
	for (;;) {
		ret = nl_recvmsgs_report(ctx->sk, cb);
		if (ret == -NLE_DUMP_INTR)
			interrupted = true;
		if (ctx->done || (dump && dump->err))
			break;
		if (ret == -NLE_DUMP_INTR)
			continue;
		if (ret <= 0) {
			pr_err("%s: netlink: %s", what,
			       ret ? nl_geterror(ret) : "the socket closed without a reply");
			ctx->broken = true;
			err = ret ? nlerr_to_errno(ret) : -EIO;
			goto out;
		}
	}
	if (dump && dump->err) {
		ctx->broken = !ctx->done; /* the rest of the dump is still queued */
		err = dump->err;
	} else if (ctx->kernel_err) {
		err = ctx->kernel_err;
		if (!(missing_ok && (err == -ESRCH || err == -ENOENT))) {
			if (ctx->extack[0])
				pr_err("%s: %s (%s)", what, strerror(-err), ctx->extack);
			else
				pr_err("%s: %s", what, strerror(-err));
		}
	} else {
		err = interrupted ? -EAGAIN : 0;
	}
out:
	nl_cb_put(cb);
	return err;
}

/* --- dumps ----------------------------------------------------------------- */

/*
 * Every IPv4 or IPv6 route of every table to @visit, cloned entries excepted.
 * @reset is called before each attempt (a dump interrupted by concurrent
 * changes is restarted).
 */
static int route_dump(struct route_ctx *ctx, uint8_t family,
		      int (*visit)(const struct route_info *r, void *arg), void (*reset)(void *arg),
		      void *arg)
{
	struct rtmsg rtm = { .rtm_family = family };
	struct route_dump dump = { .visit = visit, .arg = arg };
	struct nl_msg *msg;
	int err = -EAGAIN;

	for (int i = 0; i < ROUTE_DUMP_TRIES && err == -EAGAIN; i++) {
		msg = nlmsg_alloc_simple(RTM_GETROUTE, NLM_F_DUMP);
		if (!msg)
			return -ENOMEM;
		if (nlmsg_append(msg, &rtm, sizeof(rtm), NLMSG_ALIGNTO) < 0) {
			nlmsg_free(msg);
			return -ENOMEM;
		}
		reset(arg);
		dump.err = 0;
		err = route_talk(ctx, msg, &dump, "route dump", false);
		nlmsg_free(msg);
	}
	if (err == -EAGAIN)
		pr_err("route dump: interrupted by route changes %d times in a row",
		       ROUTE_DUMP_TRIES);
	return err;
}

/* Routes collected from dumps. */
struct route_table {
	struct route_info *v;
	size_t n, cap;
	size_t kept; /* what a restarted dump must not discard (earlier families) */
	bool main_unicast; /* route_table_load(): else route_list_owned() */
};

static void route_table_reset(void *arg)
{
	struct route_table *t = arg;

	t->n = t->kept;
}

static int route_table_visit(const struct route_info *r, void *arg)
{
	struct route_table *t = arg;

	if (t->main_unicast ? r->table != RT_TABLE_MAIN || r->type != RTN_UNICAST :
			      r->protocol != RTPROT_POLICYD)
		return 0;
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		struct route_info *v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = *r;
	return 0;
}

/* Dump @families (AF_INET, AF_INET6 or AF_UNSPEC for both) into @t. */
static int route_table_fill(struct route_ctx *ctx, uint8_t families, struct route_table *t)
{
	int err = 0;

	if (families != AF_INET6)
		err = route_dump(ctx, AF_INET, route_table_visit, route_table_reset, t);
	t->kept = t->n;
	if (!err && families != AF_INET)
		err = route_dump(ctx, AF_INET6, route_table_visit, route_table_reset, t);
	return err;
}

static int prefix_key_cmp(const struct prefix *a, const struct prefix *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return memcmp(a->addr, b->addr, sizeof(a->addr));
}

/* Among routes for the same prefix, the kernel uses the lowest metric, and
 * tos 0 is the one that applies to all traffic. */
static bool route_preferred(const struct route_info *a, const struct route_info *b)
{
	uint32_t ma = a->has_priority ? a->priority : 0;
	uint32_t mb = b->has_priority ? b->priority : 0;

	if (ma != mb)
		return ma < mb;
	return a->tos == 0 && b->tos != 0;
}

/* By prefix, then the preferred route of a prefix first. */
static int route_table_cmp(const void *pa, const void *pb)
{
	const struct route_info *a = pa, *b = pb;
	int c = prefix_key_cmp(&a->dst, &b->dst);

	if (c)
		return c;
	return route_preferred(a, b) ? -1 : route_preferred(b, a) ? 1 : 0;
}

/* The preferred route for exactly @p (host bits clear), or NULL. */
static const struct route_info *route_table_find(const struct route_table *t,
						 const struct prefix *p)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (prefix_key_cmp(&t->v[mid].dst, p) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->n && prefix_key_cmp(&t->v[lo].dst, p) == 0 ? &t->v[lo] : NULL;
}

int route_table_load(struct route_ctx *ctx, struct route_table **out)
{
	struct route_table *t;
	int err;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->main_unicast = true;
	err = route_table_fill(ctx, AF_UNSPEC, t);
	if (err) {
		route_table_free(t);
		return err;
	}
	/* Route dumps leave host bits clear, so keys compare bytewise. */
	if (t->n)
		qsort(t->v, t->n, sizeof(*t->v), route_table_cmp);
	*out = t;
	return 0;
}

void route_table_free(struct route_table *t)
{
	if (!t)
		return;
	free(t->v);
	free(t);
}

int route_table_lookup(const struct route_table *t, const struct prefix *dst,
		       struct route_info *exact, bool *found, struct route_info *cover,
		       bool *cover_found)
{
	unsigned int max = prefix_max_len(dst->family);
	const struct route_info *r;
	struct prefix p = { .family = dst->family };

	if (!max || dst->len > max)
		return -EINVAL;
	*found = false;
	*cover_found = false;
	/* Shorten @p one bit at a time: each step clears one more host bit. */
	memcpy(p.addr, dst->addr, max / 8);
	for (int len = (int)max; len >= 0; len--) {
		if (len < (int)max)
			p.addr[len / 8] &= (uint8_t) ~(0x80u >> (len % 8));
		if (len > dst->len)
			continue;
		p.len = (uint8_t)len;
		r = route_table_find(t, &p);
		if (!r)
			continue;
		if (len == dst->len) {
			*exact = *r;
			*found = true;
		} else {
			*cover = *r;
			*cover_found = true;
			break;
		}
	}
	return 0;
}

int route_lookup(struct route_ctx *ctx, const struct prefix *dst, struct route_info *exact,
		 bool *found, struct route_info *cover, bool *cover_found)
{
	struct route_table t = { .main_unicast = true };
	int err;

	if (!prefix_max_len(dst->family) || dst->len > prefix_max_len(dst->family))
		return -EINVAL;
	err = route_table_fill(ctx, dst->family, &t);
	if (!err) {
		if (t.n)
			qsort(t.v, t.n, sizeof(*t.v), route_table_cmp);
		err = route_table_lookup(&t, dst, exact, found, cover, cover_found);
	}
	free(t.v);
	return err;
}

int route_list_owned(struct route_ctx *ctx, struct route_info **out, size_t *n)
{
	struct route_table t = { 0 };
	int err;

	err = route_table_fill(ctx, AF_UNSPEC, &t);
	if (err) {
		free(t.v);
		return err;
	}
	/* Never NULL, so that free() and a zero-length loop both work. */
	if (!t.v) {
		t.v = malloc(sizeof(*t.v));
		if (!t.v)
			return -ENOMEM;
	}
	*out = t.v;
	*n = t.n;
	return 0;
}

/* --- changes --------------------------------------------------------------- */

static int put_addr(struct nl_msg *msg, int attr, const struct prefix *p)
{
	return nla_put(msg, attr, (int)prefix_max_len(p->family) / 8, p->addr);
}

/* RTA_GATEWAY, or RTA_VIA for a gateway of the other family. */
static int put_gateway(struct nl_msg *msg, const struct route_info *r)
{
	struct {
		struct rtvia via;
		uint8_t addr[16];
	} via;
	size_t alen = prefix_max_len(r->gw.family) / 8;

	if (!alen)
		return -EINVAL;
	if (r->gw.family == r->dst.family)
		return put_addr(msg, RTA_GATEWAY, &r->gw) < 0 ? -EMSGSIZE : 0;
	via.via.rtvia_family = r->gw.family;
	memcpy(via.via.rtvia_addr, r->gw.addr, alen);
	return nla_put(msg, RTA_VIA, (int)(sizeof(via.via) + alen), &via) < 0 ? -EMSGSIZE : 0;
}

/* RTA_ENCAP_TYPE, then RTA_ENCAP ▸ LWT_BPF_OUT ▸ {LWT_BPF_PROG_FD, _NAME}.
 * No LWT_BPF_XMIT_HEADROOM: it would lower the route's MTU (SPEC §3). */
static int put_bpf_encap(struct nl_msg *msg, int prog_fd, const char *prog_name)
{
	struct nlattr *encap, *out;

	if (nla_put_u16(msg, RTA_ENCAP_TYPE, LWTUNNEL_ENCAP_BPF) < 0)
		return -EMSGSIZE;
	encap = nla_nest_start(msg, RTA_ENCAP);
	if (!encap)
		return -EMSGSIZE;
	out = nla_nest_start(msg, LWT_BPF_OUT);
	if (!out)
		return -EMSGSIZE;
	if (nla_put_u32(msg, LWT_BPF_PROG_FD, (uint32_t)prog_fd) < 0 ||
	    nla_put_string(msg, LWT_BPF_PROG_NAME, prog_name) < 0)
		return -EMSGSIZE;
	nla_nest_end(msg, out);
	nla_nest_end(msg, encap);
	return 0;
}

/* RTM_NEWROUTE (create or replace) for @r with @protocol; the caller may
 * append an encap. */
static int route_new_msg(const struct route_info *r, uint8_t protocol, struct nl_msg **out)
{
	struct rtmsg rtm = {
		.rtm_family = r->dst.family,
		.rtm_dst_len = r->dst.len,
		.rtm_tos = r->tos,
		/* Tables past 255 only fit in RTA_TABLE. */
		.rtm_table = r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC,
		.rtm_protocol = protocol,
		.rtm_scope = r->scope,
		.rtm_type = r->type,
		.rtm_flags = r->onlink ? RTNH_F_ONLINK : 0,
	};
	struct nl_msg *msg;
	int err = -EMSGSIZE;

	if (!prefix_max_len(r->dst.family) || r->dst.len > prefix_max_len(r->dst.family) ||
	    (r->has_prefsrc && r->prefsrc.family != r->dst.family))
		return -EINVAL;
	msg = nlmsg_alloc_simple(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
	if (!msg)
		return -ENOMEM;
	if (nlmsg_append(msg, &rtm, sizeof(rtm), NLMSG_ALIGNTO) < 0)
		goto fail;
	if (r->dst.len && put_addr(msg, RTA_DST, &r->dst) < 0)
		goto fail;
	if (nla_put_u32(msg, RTA_TABLE, r->table) < 0)
		goto fail;
	if (r->has_priority && nla_put_u32(msg, RTA_PRIORITY, r->priority) < 0)
		goto fail;
	if (r->has_realm && nla_put_u32(msg, RTA_FLOW, r->realm) < 0)
		goto fail;
	if (r->ifindex > 0 && nla_put_u32(msg, RTA_OIF, (uint32_t)r->ifindex) < 0)
		goto fail;
	if (r->has_prefsrc && put_addr(msg, RTA_PREFSRC, &r->prefsrc) < 0)
		goto fail;
	if (r->has_gw) {
		err = put_gateway(msg, r);
		if (err)
			goto fail;
	}
	if (r->metrics_set) {
		struct nlattr *metrics = nla_nest_start(msg, RTA_METRICS);

		if (!metrics)
			goto fail;
		for (int i = 1; i <= ROUTE_METRICS_MAX; i++)
			if ((r->metrics_set & (1u << i)) && nla_put_u32(msg, i, r->metrics[i]) < 0)
				goto fail;
		nla_nest_end(msg, metrics);
	}
	*out = msg;
	return 0;
fail:
	nlmsg_free(msg);
	return err < 0 ? err : -EMSGSIZE;
}

int route_install_bpf(struct route_ctx *ctx, const struct route_info *r, int prog_fd,
		      const char *prog_name)
{
	char what[PREFIX_STR_MAX + 32], pbuf[PREFIX_STR_MAX];
	struct nl_msg *msg;
	size_t name_len = prog_name ? strlen(prog_name) : 0;
	int err;

	snprintf(what, sizeof(what), "install route %s",
		 prefix_format(&r->dst, false, pbuf, sizeof(pbuf)));
	/* A name that does not fit in route_info could never be compared. */
	if (prog_fd < 0 || !name_len || name_len >= ROUTE_ENCAP_NAME_MAX) {
		pr_err("%s: invalid program fd or name", what);
		return -EINVAL;
	}
	if (r->multipath) {
		pr_err("%s: multipath routes are not supported yet", what);
		return -EOPNOTSUPP;
	}
	/* Our own encap is replaced; anyone else's would be lost. */
	if (r->has_encap &&
	    !(r->encap_type == LWTUNNEL_ENCAP_BPF && r->protocol == RTPROT_POLICYD)) {
		pr_err("%s: the route has an encap of its own", what);
		return -EOPNOTSUPP;
	}
	err = route_new_msg(r, RTPROT_POLICYD, &msg);
	if (err)
		return err;
	err = put_bpf_encap(msg, prog_fd, prog_name);
	if (!err)
		err = route_talk(ctx, msg, NULL, what, false);
	nlmsg_free(msg);
	return err;
}

int route_restore(struct route_ctx *ctx, const struct route_info *r)
{
	char what[PREFIX_STR_MAX + 32], pbuf[PREFIX_STR_MAX];
	struct nl_msg *msg;
	int err;

	snprintf(what, sizeof(what), "restore route %s",
		 prefix_format(&r->dst, false, pbuf, sizeof(pbuf)));
	if (r->multipath || r->has_encap) {
		pr_err("%s: %s routes cannot be restored", what,
		       r->multipath ? "multipath" : "encap");
		return -EOPNOTSUPP;
	}
	err = route_new_msg(r, r->protocol, &msg);
	if (err)
		return err;
	err = route_talk(ctx, msg, NULL, what, false);
	nlmsg_free(msg);
	return err;
}

int route_delete_owned(struct route_ctx *ctx, const struct route_info *r)
{
	struct rtmsg rtm = {
		.rtm_family = r->dst.family,
		.rtm_dst_len = r->dst.len,
		.rtm_tos = r->tos,
		.rtm_table = r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC,
		.rtm_protocol = RTPROT_POLICYD,
		/* Match whatever scope the route was given. */
		.rtm_scope = RT_SCOPE_NOWHERE,
	};
	char what[PREFIX_STR_MAX + 32], pbuf[PREFIX_STR_MAX];
	struct nl_msg *msg;
	int err = -EMSGSIZE;

	if (!prefix_max_len(r->dst.family) || r->dst.len > prefix_max_len(r->dst.family))
		return -EINVAL;
	snprintf(what, sizeof(what), "delete route %s",
		 prefix_format(&r->dst, false, pbuf, sizeof(pbuf)));
	msg = nlmsg_alloc_simple(RTM_DELROUTE, 0);
	if (!msg)
		return -ENOMEM;
	if (nlmsg_append(msg, &rtm, sizeof(rtm), NLMSG_ALIGNTO) < 0 ||
	    (r->dst.len && put_addr(msg, RTA_DST, &r->dst) < 0) ||
	    nla_put_u32(msg, RTA_TABLE, r->table) < 0 ||
	    (r->has_priority && nla_put_u32(msg, RTA_PRIORITY, r->priority) < 0))
		goto out;
	err = route_talk(ctx, msg, NULL, what, true);
	if (err == -ESRCH || err == -ENOENT)
		err = 0;
out:
	nlmsg_free(msg);
	return err;
}

int route_ifindex(const char *dev, int *ifindex)
{
	unsigned int i = dev ? if_nametoindex(dev) : 0;

	if (!i)
		return -ENODEV;
	*ifindex = (int)i;
	return 0;
}

/* --- route events ---------------------------------------------------------- */

int route_monitor_open(int *fd)
{
	static const int groups[] = { RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE };
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int s, err, size = ROUTE_MONITOR_RCVBUF;

	/* A plain socket rather than an nl_sock: the daemon owns and polls the
	 * fd, and drains it with a fixed buffer. */
	s = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0) {
		err = -errno;
		pr_err("cannot open the route monitor socket: %s", strerror(-err));
		return err;
	}
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		pr_err("cannot bind the route monitor socket: %s", strerror(-err));
		goto fail;
	}
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (setsockopt(s, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &groups[i],
			       sizeof(groups[i])) < 0) {
			err = -errno;
			pr_err("cannot subscribe to route events: %s", strerror(-err));
			goto fail;
		}
	}
	/* A burst of route changes should not overrun us; past rmem_max only
	 * with CAP_NET_ADMIN, and a smaller buffer still works. */
	if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(s, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	*fd = s;
	return 0;
fail:
	close(s);
	return err;
}

int route_monitor_drain(int fd, void (*cb)(const struct route_info *r, bool deleted, void *arg),
			void *arg)
{
	uint32_t buf[ROUTE_MONITOR_BUF / sizeof(uint32_t)]; /* aligned for nlmsghdr */
	bool overrun = false;

	for (;;) {
		struct sockaddr_nl sa;
		socklen_t salen = sizeof(sa);
		struct nlmsghdr *nlh;
		struct route_info r;
		ssize_t n;
		int len;

		n = recvfrom(fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&sa, &salen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == ENOBUFS) {
				overrun = true;
				continue;
			}
			n = -errno;
			pr_err("route monitor: %s", strerror((int)-n));
			return (int)n;
		}
		if ((size_t)n > sizeof(buf))
			overrun = true;
		/* After an overrun the caller re-reads everything: what is
		 * queued now is stale or will be in the dump. */
		if (overrun || sa.nl_pid != 0)
			continue;
		len = (int)n;
		for (nlh = (struct nlmsghdr *)buf; nlmsg_ok(nlh, len);
		     nlh = nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_type == NLMSG_OVERRUN) {
				overrun = true;
				break;
			}
			if (nlh->nlmsg_type != RTM_NEWROUTE && nlh->nlmsg_type != RTM_DELROUTE)
				continue;
			if (route_info_parse(nlh, &r))
				continue;
			if (((const struct rtmsg *)nlmsg_data(nlh))->rtm_flags & RTM_F_CLONED)
				continue;
			cb(&r, nlh->nlmsg_type == RTM_DELROUTE, arg);
		}
	}
	return overrun ? -ENOBUFS : 0;
}
