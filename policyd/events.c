// SPDX-License-Identifier: GPL-2.0-only
/*
 * Events: drain the program's pd_events ring buffer in the epoll loop and
 * pass each record, as a JSON frame, to the monitor/capture clients that
 * want it; each has a bounded queue, so a slow one loses events (counted)
 * and never slows the daemon. Also makes the unblock events: blocks seen in
 * the stream are tracked until they end (expiry or 'policyctl unblock').
 */
#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/event_codec.h"
#include "lib/log.h"
#include "lib/proto.h"
#include "ctl.h"
#include "events.h"
#include "policy.skel.h"

/* Records handled per wake-up: a flood must not starve the control socket
 * (epoll is level-triggered and comes back for the rest). */
#define EVENTS_BATCH 4096
/* Bytes of frames waiting for one subscriber; beyond, its events are
 * dropped and counted. About 2,000 drop events, or 200 full samples. */
#define SUB_QUEUE_MAX (512u << 10)
/* After lost events, look for blocks we missed at most this often. */
#define RESYNC_INTERVAL_S 10

struct block_entry {
	uint32_t slot;
	uint8_t family;
	uint8_t addr[16];
	uint64_t until_ns; /* monotonic */
};

struct subscriber {
	struct subscriber *next;
	struct client *c;
	unsigned int types; /* EVENT_TYPE_BIT()s */
	bool data; /* samples with their bytes (capture) */
	bool has_prefix;
	struct prefix pfx;
	char policy[PD_NAME_MAX + 1]; /* "" or the only policy wanted */
	char target[PREFIX_STR_MAX];
	int pid;
	time_t since;
	uint64_t sent;
	uint64_t dropped;
	uint64_t unreported; /* dropped since the last event it got */
};

struct events {
	struct ev_source src; /* EV_EVENTS: epoll hands back its address */
	struct ring_buffer *rb;
	struct subscriber *subs;
	unsigned int nsubs;
	uint64_t received;
	uint64_t malformed;
	uint64_t dropped_gone; /* dropped for subscribers since gone */
	unsigned int batch;
	int64_t mono_to_wall; /* add to CLOCK_MONOTONIC ns for wall-clock ns */
	void *blocks; /* tsearch tree of struct block_entry */
	size_t nblocks;
	uint64_t lost_seen;
	bool resync_due;
	time_t last_resync;
};

static void update_clock_offset(struct events *e)
{
	uint64_t mono = clock_ns(CLOCK_MONOTONIC);

	e->mono_to_wall = (int64_t)(clock_ns(CLOCK_REALTIME) - mono);
}

static const struct applied_policy *policy_by_slot(const struct daemon *d, uint32_t slot)
{
	for (size_t i = 0; i < d->set.n; i++)
		if (d->set.v[i]->slot == slot)
			return d->set.v[i];
	return NULL;
}

/* --- subscribers ---------------------------------------------------------------- */

static bool sub_wants(const struct subscriber *s, const struct pd_event *ev,
		      const struct applied_policy *ap)
{
	if (!(s->types & EVENT_TYPE_BIT(ev->type)))
		return false;
	if (s->policy[0] && (!ap || strcmp(ap->pol->name, s->policy)))
		return false;
	if (s->has_prefix) {
		struct prefix host = { .family = ev->family, .len = prefix_max_len(ev->family) };

		memcpy(host.addr, ev->daddr, sizeof(host.addr));
		if (!prefix_contains(&s->pfx, &host))
			return false;
	}
	return true;
}

/* Who decided, by name: the rule, "default" for the default verdict, or
 * none (a blocked host, a quota, an unknown index). */
static const char *rule_name(const struct applied_policy *ap, const struct pd_event *ev)
{
	if (!ap)
		return NULL;
	if (ev->rule != PD_EV_RULE_NONE && ev->rule < ap->pol->nrules)
		return ap->pol->rules[ev->rule].name;
	if (ev->reason == PD_REASON_DEFAULT &&
	    (ev->type == PD_EV_DROP || ev->verdict == PD_DROP || (ev->flags & PD_EVF_WOULD_DROP)))
		return "default";
	return NULL;
}

/* One event's frame in one of its two forms (with or without packet
 * bytes), made on first need and shared by the subscribers that want it. */
struct frame {
	json_t *obj;
	char *buf;
	size_t len;
	bool failed;
};

static int frame_get(struct frame *f, const void *rec, size_t size, struct event_meta *m, bool data)
{
	if (f->failed)
		return -EINVAL;
	if (!f->obj) {
		m->data = data;
		f->obj = event_to_json(rec, size, m);
		if (!f->obj || proto_encode(f->obj, &f->buf, &f->len)) {
			f->failed = true;
			return -EINVAL;
		}
	}
	return 0;
}

static void frame_release(struct frame *f)
{
	json_decref(f->obj);
	free(f->buf);
}

/* Queue @f for @s, telling it first how many it missed. */
static int sub_push(struct daemon *d, struct subscriber *s, struct frame *f)
{
	char *buf;
	size_t len;
	int err;

	if (!s->unreported)
		return ctl_client_push(d, s->c, f->buf, f->len, SUB_QUEUE_MAX);
	json_object_set_new(f->obj, "lost", json_integer((json_int_t)s->unreported));
	err = proto_encode(f->obj, &buf, &len);
	json_object_del(f->obj, "lost");
	if (err)
		return err;
	err = ctl_client_push(d, s->c, buf, len, SUB_QUEUE_MAX);
	free(buf);
	return err;
}

static void dispatch(struct daemon *d, const void *rec, size_t size, const char *cause)
{
	struct events *e = d->events;
	const struct pd_event *ev = rec;
	const struct applied_policy *ap = policy_by_slot(d, ev->slot);
	struct event_meta m = {
		.policy = ap ? ap->pol->name : NULL,
		.rule = rule_name(ap, ev),
		.wall_ns = ev->time_ns + e->mono_to_wall,
		.until_wall_ns = ev->until_ns + e->mono_to_wall,
		.cause = cause,
	};
	struct frame plain = {}, full = {};

	for (struct subscriber *s = e->subs; s; s = s->next) {
		bool data = s->data && ev->type == PD_EV_SAMPLE;
		struct frame *f = data ? &full : &plain;

		if (!sub_wants(s, ev, ap))
			continue;
		if (frame_get(f, rec, size, &m, data)) {
			/* A record we cannot read (or no memory): nobody gets it. */
			e->malformed++;
			break;
		}
		if (sub_push(d, s, f)) {
			s->dropped++;
			s->unreported++;
		} else {
			s->sent++;
			s->unreported = 0;
		}
	}
	frame_release(&plain);
	frame_release(&full);
}

static bool policy_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > PD_NAME_MAX || !strchr("abcdefghijklmnopqrstuvwxyz0123456789", s[0]))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* Does applied policy @ap fall under the subscription's target? */
static bool policy_in_target(const struct subscriber *s, const struct applied_policy *ap)
{
	if (s->policy[0])
		return !strcmp(ap->pol->name, s->policy);
	if (!s->has_prefix)
		return true;
	for (size_t i = 0; i < ap->pol->ndests; i++)
		if (prefix_overlaps(&ap->pol->dests[i], &s->pfx))
			return true;
	return false;
}

json_t *events_subscribe(struct daemon *d, struct client *c, json_t *args)
{
	struct events *e = d->events;
	const char *target = NULL;
	json_t *types = NULL, *sampling;
	int data = 0;
	struct subscriber *s;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	char bad[40];

	if (!e || !e->rb)
		return proto_reply_error("EOPNOTSUPP", "events are off");
	if (c->sub)
		return proto_reply_error("EINVAL", "this connection is already monitoring");
	if (args &&
	    json_unpack(args, "{s?s, s?o, s?b}", "target", &target, "types", &types, "data", &data))
		return proto_reply_error("EINVAL", "monitor takes args {target, types, data}");
	s = calloc(1, sizeof(*s));
	if (!s)
		return proto_reply_error("ENOMEM", "out of memory");
	s->types = EVENT_TYPES_ALL;
	if (types && event_types_from_json(types, &s->types, bad, sizeof(bad))) {
		free(s);
		return proto_reply_error(
			"EINVAL",
			"unknown event type '%s' (expected drop, block, unblock, log, sample)",
			bad);
	}
	if (target) {
		if (prefix_parse(target, false, &s->pfx) == 0) {
			s->has_prefix = true;
		} else if (!strpbrk(target, ".:/") && policy_name_ok(target)) {
			if (!policy_set_find(&d->set, target)) {
				free(s);
				return proto_reply_error("ENOENT",
							 "no policy named '%s' is applied", target);
			}
			snprintf(s->policy, sizeof(s->policy), "%s", target);
		} else {
			free(s);
			return proto_reply_error(
				"EINVAL",
				"invalid target '%.64s' (expected a prefix, an address or a policy name)",
				target);
		}
		snprintf(s->target, sizeof(s->target), "%s", target);
	}
	s->data = data;
	s->c = c;
	s->since = time(NULL);
	s->pid = getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) ? 0 : cred.pid;
	/* Which policies under the target sample: capture warns when none. */
	sampling = json_array();
	for (size_t i = 0; i < d->set.n; i++)
		if (d->set.v[i]->pol->sample_every && policy_in_target(s, d->set.v[i]))
			json_array_append_new(sampling, json_string(d->set.v[i]->pol->name));
	s->next = e->subs;
	e->subs = s;
	e->nsubs++;
	c->sub = s;
	pr_debug("pid %d monitors %s", s->pid, s->target[0] ? s->target : "everything");
	return proto_reply_ok(json_pack("{s:s?, s:o, s:b, s:o, s:I}", "target",
					s->target[0] ? s->target : NULL, "types",
					event_types_to_json(s->types), "data", s->data, "sampling",
					sampling, "queue_bytes", (json_int_t)SUB_QUEUE_MAX));
}

void events_unsubscribe(struct daemon *d, struct client *c)
{
	struct events *e = d->events;

	if (!e || !c->sub)
		return;
	for (struct subscriber **pp = &e->subs; *pp; pp = &(*pp)->next) {
		struct subscriber *s = *pp;

		if (s != c->sub)
			continue;
		*pp = s->next;
		e->nsubs--;
		e->dropped_gone += s->dropped;
		if (s->dropped)
			pr_info("monitor client pid %d gone; %llu events were dropped for it",
				s->pid, (unsigned long long)s->dropped);
		free(s);
		break;
	}
	c->sub = NULL;
}

/* --- blocks and their ends ---------------------------------------------------- */

static int block_cmp(const void *a, const void *b)
{
	const struct block_entry *x = a, *y = b;

	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

static void emit_unblock(struct daemon *d, const struct block_entry *b, uint64_t when,
			 const char *cause)
{
	struct pd_event ev = {
		.time_ns = when,
		.type = PD_EV_UNBLOCK,
		.family = b->family,
		.rule = PD_EV_RULE_NONE,
		.slot = b->slot,
	};

	memcpy(ev.daddr, b->addr, sizeof(ev.daddr));
	if (d->events->subs)
		dispatch(d, &ev, sizeof(ev), cause);
}

/* Start tracking a block (or move its end). */
static void block_track(struct daemon *d, uint32_t slot, uint8_t family, const uint8_t *addr,
			uint64_t until)
{
	struct events *e = d->events;
	struct block_entry key = { .slot = slot, .family = family, .until_ns = until }, *b;
	void *node;

	memcpy(key.addr, addr, sizeof(key.addr));
	node = tfind(&key, &e->blocks, block_cmp);
	if (node) {
		(*(struct block_entry **)node)->until_ns = until;
		return;
	}
	/* pd_hosts holds no more blocks than this: an entry beyond it is
	 * stale, and leaving it out bounds the memory. */
	if (e->nblocks >= d->opts.hosts)
		return;
	b = malloc(sizeof(*b));
	if (!b)
		return;
	*b = key;
	if (!tsearch(b, &e->blocks, block_cmp)) {
		free(b);
		return;
	}
	e->nblocks++;
}

static void block_forget(struct events *e, struct block_entry *b)
{
	if (tdelete(b, &e->blocks, block_cmp)) {
		e->nblocks--;
		free(b);
	}
}

/* A block event: a block of the same host that ended before this one
 * began gets its unblock first, so the stream tells both. */
static void block_seen(struct daemon *d, const struct pd_event *ev)
{
	struct block_entry key = { .slot = ev->slot, .family = ev->family };
	void *node;

	memcpy(key.addr, ev->daddr, sizeof(key.addr));
	node = tfind(&key, &d->events->blocks, block_cmp);
	if (node) {
		const struct block_entry *old = *(struct block_entry **)node;

		if (old->until_ns <= ev->time_ns)
			emit_unblock(d, old, old->until_ns, "expired");
	}
	block_track(d, ev->slot, ev->family, ev->daddr, ev->until_ns);
}

struct expired {
	struct block_entry **v;
	size_t n, cap;
	uint64_t now;
};

static void collect_expired(const void *node, VISIT which, void *arg)
{
	struct block_entry *b = *(struct block_entry *const *)node;
	struct expired *x = arg;

	if ((which != postorder && which != leaf) || b->until_ns > x->now)
		return;
	if (x->n == x->cap) {
		size_t ncap = x->cap ? x->cap * 2 : 64;
		void *tmp = realloc(x->v, ncap * sizeof(*x->v));

		if (!tmp)
			return; /* the rest waits for the next second */
		x->v = tmp;
		x->cap = ncap;
	}
	x->v[x->n++] = b;
}

/* Blocks whose end has passed: ended, unless pd_hosts says the host is
 * blocked again (a block event we have not read yet, or lost). */
static void blocks_expire(struct daemon *d, uint64_t now)
{
	struct events *e = d->events;
	struct expired x = { .now = now };

	if (!e->nblocks)
		return;
	twalk_r(e->blocks, collect_expired, &x);
	for (size_t i = 0; i < x.n; i++) {
		struct block_entry *b = x.v[i];
		struct pd_hosts_key k = { .slot = b->slot, .family = b->family };
		struct pd_host_state st;

		memcpy(k.addr, b->addr, sizeof(k.addr));
		if (set_table_find(&d->hosts, &k, &st) == 0 && st.blocked_until > now) {
			b->until_ns = st.blocked_until;
			continue;
		}
		/* A removed policy's blocks went with it: nothing to say. */
		if (policy_by_slot(d, b->slot))
			emit_unblock(d, b, b->until_ns, "expired");
		block_forget(e, b);
	}
	free(x.v);
}

/* Walk pd_hosts for blocks the stream did not tell us about (lost events,
 * or blocks from before this daemon started), so their ends are told. */
static void blocks_resync(struct daemon *d, uint64_t now)
{
	struct pd_host_state st;
	struct pd_hosts_key next;
	size_t found = 0, pos = 0;

	while (set_table_next(&d->hosts, &pos, &next, &st)) {
		if (st.blocked_until <= now)
			continue;
		block_track(d, next.slot, next.family, next.addr, st.blocked_until);
		found++;
	}
	pr_debug("events: %zu blocked hosts in pd_hosts, %zu tracked", found, d->events->nblocks);
}

void events_unblocked(struct daemon *d, const char *address, const json_t *policies)
{
	struct events *e = d->events;
	struct prefix addr;
	const json_t *name;
	size_t i;

	if (!e || prefix_parse(address, false, &addr))
		return;
	update_clock_offset(e);
	json_array_foreach(policies, i, name) {
		const struct applied_policy *ap =
			policy_set_find(&d->set, json_string_value(name) ?: "");
		struct block_entry key = { .family = addr.family };
		void *node;

		if (!ap)
			continue;
		key.slot = ap->slot;
		memcpy(key.addr, addr.addr, sizeof(key.addr));
		emit_unblock(d, &key, clock_ns(CLOCK_MONOTONIC), "unblocked");
		node = tfind(&key, &e->blocks, block_cmp);
		if (node)
			block_forget(e, *(struct block_entry **)node);
	}
}

/* --- the ring buffer -------------------------------------------------------------- */

static int on_record(void *ctx, void *data, size_t size)
{
	struct daemon *d = ctx;
	struct events *e = d->events;
	const struct pd_event *ev = data;

	e->received++;
	if (size < sizeof(*ev) || ev->type == PD_EV_UNBLOCK || !event_type_name(ev->type)) {
		e->malformed++;
	} else {
		if (ev->type == PD_EV_BLOCK)
			block_seen(d, ev);
		if (e->subs)
			dispatch(d, data, size, NULL);
	}
	/* Stop after a batch: the record is consumed all the same. */
	return ++e->batch >= EVENTS_BATCH ? -ECANCELED : 0;
}

void events_consume(struct daemon *d)
{
	struct events *e = d->events;
	int err;

	if (!e || !e->rb)
		return;
	e->batch = 0;
	update_clock_offset(e);
	err = ring_buffer__consume(e->rb);
	if (err < 0 && err != -ECANCELED)
		pr_warn("reading the event ring buffer: %s", strerror(-err));
}

void events_tick(struct daemon *d)
{
	struct events *e = d->events;
	struct pd_misc_stats ms;
	uint64_t now = clock_ns(CLOCK_MONOTONIC);

	if (!e)
		return;
	update_clock_offset(e);
	if (maps_read_misc_stats(d, &ms) == 0 && ms.events_lost > e->lost_seen) {
		e->lost_seen = ms.events_lost;
		e->resync_due = true;
	}
	if (e->resync_due && time(NULL) - e->last_resync >= RESYNC_INTERVAL_S) {
		e->resync_due = false;
		e->last_resync = time(NULL);
		blocks_resync(d, now);
	}
	blocks_expire(d, now);
}

int events_open(struct daemon *d)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct pd_misc_stats ms;
	struct events *e;
	int err;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->src.type = EV_EVENTS;
	/* Blocks from before this start end too: look for them at once. */
	e->resync_due = true;
	d->events = e;
	if (maps_read_misc_stats(d, &ms) == 0)
		e->lost_seen = ms.events_lost;
	e->rb = ring_buffer__new(bpf_map__fd(d->skel->maps.pd_events), on_record, d, NULL);
	if (!e->rb) {
		err = -errno;
		pr_err("cannot read the %s ring buffer: %s", PD_MAP_EVENTS, strerror(-err));
		return err;
	}
	ev.data.ptr = &e->src;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(e->rb), &ev)) {
		err = -errno;
		pr_err("epoll: %s", strerror(-err));
		return err;
	}
	return 0;
}

void events_close(struct daemon *d)
{
	struct events *e = d->events;

	if (!e)
		return;
	/* Subscribers are clients: ctl_close() has dropped them already. */
	ring_buffer__free(e->rb);
	tdestroy(e->blocks, free);
	free(e);
	d->events = NULL;
}

json_t *events_status(struct daemon *d)
{
	struct events *e = d->events;
	struct pd_misc_stats ms;
	uint64_t dropped;
	json_t *subs;

	if (!e)
		return NULL;
	if (maps_read_misc_stats(d, &ms))
		memset(&ms, 0, sizeof(ms));
	dropped = e->dropped_gone;
	subs = json_array();
	for (const struct subscriber *s = e->subs; s; s = s->next) {
		char since[32];
		struct tm tm;

		dropped += s->dropped;
		gmtime_r(&s->since, &tm);
		strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_array_append_new(
			subs,
			json_pack("{s:i, s:s?, s:o, s:b, s:s, s:I, s:I, s:I}", "pid", s->pid,
				  "target", s->target[0] ? s->target : NULL, "types",
				  event_types_to_json(s->types), "data", s->data, "since", since,
				  "sent", (json_int_t)s->sent, "dropped", (json_int_t)s->dropped,
				  "queued", (json_int_t)(s->c->out_len - s->c->out_off)));
	}
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "received", (json_int_t)e->received,
			 "lost", (json_int_t)ms.events_lost, "capped", (json_int_t)ms.events_capped,
			 "malformed", (json_int_t)e->malformed, "dropped", (json_int_t)dropped,
			 "blocks_tracked", (json_int_t)e->nblocks, "subscribers", subs);
}
