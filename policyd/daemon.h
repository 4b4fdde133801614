/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon's state: options, the loaded program and its maps, the set of
 * applied policies with the routes they own. One thread owns all of it.
 */
#ifndef POLICYD_DAEMON_H
#define POLICYD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "lib/policy.h"
#include "lib/prefix.h"
#include "routes.h"

#define POLICYD_VERSION "0.1"

struct daemon_opts {
	const char *socket_path;
	const char *bpffs_dir;
	const char *state_dir;
	const char *group; /* NULL: "policyd" if it exists, else root only */
	unsigned int hosts; /* capacity of the per-host bucket table */
	const char *metrics; /* ADDR:PORT of the metrics endpoint; NULL: none */
	unsigned int metrics_top; /* per-host series for this many hosts */
	bool foreground;
};

/* A route a policy owns: added by policyd, or an original it wrapped. */
struct owned_route {
	struct prefix dst;
	bool replaced; /* true: @original is restored on removal */
	struct route_info original;
	struct route_info installed; /* as installed (without the encap) */
};

/* One applied policy: its source, its compiled form's stable indices, its
 * routes. The slot and counter indices keep counters across re-apply. */
struct applied_policy {
	struct policy *pol;
	char *source;
	char *file;
	time_t applied;
	uint32_t slot;
	uint32_t default_counter;
	uint32_t *rule_counters; /* pol->nrules entries */
	struct owned_route *routes;
	size_t nroutes;
};

struct policy_set {
	struct applied_policy **v;
	size_t n;
};

/* A policy applied with --confirm: what to go back to, and when. */
struct pending_rollback {
	char policy[PD_NAME_MAX + 1];
	time_t deadline; /* wall clock */
	char *file; /* the version to go back to; NULL: remove the policy */
	char *source;
};

struct apply_opts {
	bool dry_run;
	bool diff; /* add what changes to the result (always with dry_run) */
	unsigned int confirm; /* seconds; 0: no confirmation needed */
};

struct policy_bpf;
struct client;

/* What an epoll event is about: epoll's data.ptr points at one of these. */
enum ev_type {
	EV_SIGNAL,
	EV_LISTEN,
	EV_TIMER,
	EV_RTMON,
	EV_CLIENT,
	EV_METRICS, /* metrics.c: libmicrohttpd's epoll fd */
	EV_EVENTS, /* events.c: the pd_events ring buffer */
};

struct ev_source {
	enum ev_type type;
};

/*
 * A table of sets of ways shared with the program (pd_host_buckets, pd_hosts),
 * mapped: each way a 24-byte key, free when its first word is 0, being taken
 * while it is PD_BUCKET_BUSY, then its value. Ways are read in place and freed
 * by compare-and-swap, never written whole.
 */
struct set_table {
	uint8_t *base;
	size_t len; /* bytes mapped */
	size_t sets, ways, way_size;
	uint64_t seed; /* pd_host_seed's: what a key's set is chosen by */
};

/* The key and value of the way after *@pos (start with 0) that holds one,
 * as they were at one moment; false at the end. */
bool set_table_next(const struct set_table *t, size_t *pos, void *key, void *val);
/* The value of @key, from its set, into @val; 0 or -ENOENT. */
int set_table_find(const struct set_table *t, const void *key, void *val);
/* The value of the way at @pos, in place. */
void *set_table_val(const struct set_table *t, size_t pos);
/* Free the way at @pos if it still holds @key; true if it did. */
bool set_table_free(struct set_table *t, size_t pos, const void *key);

struct daemon {
	struct daemon_opts opts;
	struct policy_bpf *skel;
	/* pd_host_buckets and pd_hosts, mapped (see the ABI). */
	struct set_table buckets, hosts;
	int prog_fd;
	uint32_t prog_id;
	char route_name[64]; /* LWT_BPF_PROG_NAME: changes with the program */
	int ncpus;
	uint32_t epoch; /* pd_config.epoch; the live generation is epoch % 2 */
	struct policy_set set;
	/* Which generation-independent indices are taken. */
	uint8_t slot_used[PD_MAX_POLICIES];
	uint8_t counter_used[PD_MAX_RULE_COUNTERS];
	struct route_ctx *rt;
	int epfd;
	int sig_fd;
	int listen_fd;
	int lock_fd;
	int timer_fd;
	int rtmon_fd;
	bool routes_dirty; /* a route event touched an owned route */
	struct pending_rollback *pending;
	size_t npending;
	struct client *clients;
	unsigned int nclients;
	struct hoststats *hoststats; /* hoststats.c: per-host rate snapshots */
	struct metrics *metrics; /* metrics.c; NULL without --metrics */
	struct events *events; /* events.c: ring buffer, subscribers, blocks */
	uint64_t applies_ok, applies_failed; /* since start, for metrics */
	time_t started;
	bool stop;
};

/* maps.c: the program and its maps. */
int maps_open(struct daemon *d);
void maps_close(struct daemon *d);
/* Write @set as the next generation, flip to it, wait for packets using
 * the old one to finish, clear the old one. All or nothing. */
int maps_commit(struct daemon *d, const struct policy_set *set, const struct policy_set *old);
/* Zero a counter entry before handing it to a new rule or policy (a rule's
 * counters and its per-rule bucket, which then starts full). */
int maps_zero_policy_stats(struct daemon *d, uint32_t slot);
int maps_zero_policy_quota(struct daemon *d, uint32_t slot);
int maps_zero_rule_stats(struct daemon *d, uint32_t counter);
/* Zero only the counters of a rule (policyctl reset): its bucket stays. */
int maps_zero_counters(struct daemon *d, uint32_t counter);
/* Free the ways of per-host buckets that are full again (equivalent to
 * absent) or whose rule counter is no longer in use. Returns how many. */
size_t maps_gc_host_buckets(struct daemon *d);
/* The per-host bucket of @key: its TAT, or -ENOENT (a full bucket). */
int maps_host_bucket(struct daemon *d, const struct pd_host_key *key, uint64_t *tat);
/* Now in the program's time unit (1/16 ns of CLOCK_MONOTONIC). */
uint64_t maps_now(void);
/* Tokens (packets or bytes) left in a bucket whose TAT is @tat. */
uint64_t maps_bucket_available(const struct pd_limit *l, uint64_t tat, uint64_t now);
int maps_read_rule_bucket(struct daemon *d, uint32_t counter, uint64_t *tat);
/* Sum a per-CPU entry over CPUs. */
int maps_read_policy_stats(struct daemon *d, uint32_t slot, struct pd_policy_stats *out);
int maps_read_rule_stats(struct daemon *d, uint32_t counter, struct pd_counters *out);
int maps_read_misc_stats(struct daemon *d, struct pd_misc_stats *out);
json_t *maps_status(struct daemon *d);

/* apply.c: the policy set (its routes: owned.c). */
int policy_set_apply(struct daemon *d, const char *file, const char *text, size_t len,
		     const struct apply_opts *opts, json_t **result, char *err, size_t errlen);
int policy_set_remove(struct daemon *d, const char *name, json_t **result, char *err,
		      size_t errlen);
struct applied_policy *policy_set_find(const struct policy_set *set, const char *name);
/* Restore the saved state at start-up (or on SIGHUP): recompile every
 * saved policy, commit, reconcile routes. */
int policy_set_restore(struct daemon *d);
/* Re-install owned routes that are missing or changed. */
void policy_set_reconcile_routes(struct daemon *d);
void policy_set_release(struct policy_set *set);
void applied_policy_free(struct applied_policy *ap);
size_t policy_set_ndests(const struct policy_set *set);
/* @pol's destinations as a JSON array of prefix strings. */
json_t *policy_dests_json(const struct policy *pol);

/* state.c: the state directory. Written atomically (temporary file,
 * fsync, rename). */
int state_save(struct daemon *d, const struct policy_set *set);
/* *@out is a new JSON document, or NULL when there is no state yet. */
int state_load(struct daemon *d, json_t **out);

/* ctl.c: the control socket. */
int ctl_listen(struct daemon *d);
void ctl_close(struct daemon *d);
void ctl_accept(struct daemon *d);
void ctl_client_event(struct daemon *d, struct client *c, uint32_t events);
void ctl_tick(struct daemon *d);

/* commands.c: one function per command. */
json_t *cmd_dispatch(struct daemon *d, const char *command, json_t *args);

/* hosts.c: per-host state (pd_hosts) and per-policy quota use. */
size_t hosts_gc(struct daemon *d);
int hosts_unblock(struct daemon *d, const char *address, json_t **result, char *err, size_t errlen);
/* Append rows for the hosts with state inside @pfx, or of policy @target. */
void hosts_stats(struct daemon *d, const struct prefix *pfx, const char *target, json_t *hosts);
/* @ap's quota and its use, or NULL when it has none. */
json_t *hosts_policy_quota(struct daemon *d, const struct applied_policy *ap);
/* Hosts blocked now, per policy slot: @blocked has PD_MAX_POLICIES entries. */
void hosts_count_blocked(struct daemon *d, uint32_t *blocked);

/* diff.c: what applying @new over @old (NULL: none) changes. */
json_t *policy_diff(const struct policy *old, const struct policy *new);

/* confirm.c: rollbacks pending confirmation. */
int confirm_arm(struct daemon *d, const char *policy, const char *prev_file,
		const char *prev_source, unsigned int seconds);
bool confirm_clear(struct daemon *d, const char *policy);
void confirm_tick(struct daemon *d);
/* Confirm @policy, or all when NULL; names confirmed are appended to @out.
 * -ENOENT when nothing (or not @policy) is pending. */
int confirm_names(struct daemon *d, const char *policy, json_t *out);
json_t *confirm_state_json(const struct daemon *d);
void confirm_restore(struct daemon *d, json_t *state);
void confirm_release(struct daemon *d);

/* clock.c: @id's clock now, in ns; a time @t of @id's clock as wall-clock
 * ISO 8601 ("2026-11-28T08:30:00Z"). */
uint64_t clock_ns(clockid_t id);
void clock_to_iso(clockid_t id, uint64_t t, char *buf, size_t size);

/* stats.c */
/* @top: how many of the busiest hosts to list, at most STATS_TOP_MAX (a
 * reply stays well under the 64 MiB frame); 0: the default (and the hosts
 * with per-host state). */
#define STATS_TOP_MAX 65536
int stats_collect(struct daemon *d, const char *target, size_t top, json_t **result, char *err,
		  size_t errlen);
/* The per-host table's fill for status: {ipv4: {present, capacity,
 * evicted}, ipv6: {...}}. */
json_t *stats_hosts_fill(struct daemon *d);
/* Every route realm's counters, summed over CPUs: [{realm, packets, ...}]. */
json_t *stats_realms(struct daemon *d);
/* Zero the counters of the policies @target selects (as stats), and the
 * per-host counters of the hosts it covers. */
int stats_reset(struct daemon *d, const char *target, json_t **result, char *err, size_t errlen);

#endif
