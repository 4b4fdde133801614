/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private to lib/policy_*.c: the YAML event reader (policy_yaml.c) and the
 * policy language's keys (policy_keys*.c) meet here. The reader walks libyaml
 * events and positions errors; the keys give each event a meaning.
 */
#ifndef POLICYD_POLICY_READER_H
#define POLICYD_POLICY_READER_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

#include "policy.h"
#include "policy_value.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* An icmp-type item: its number, or its name to look up in the rule's proto. */
struct policy_icmp_item {
	struct policy_pos pos;
	bool named;
	uint8_t type; /* when !named */
	char text[POLICY_VALUE_QUOTE_BUF]; /* as written, quoted for messages */
};

struct policy_reader {
	/* The YAML side (policy_yaml.c). */
	const char *file;
	const char *text;
	size_t len;
	yaml_parser_t parser;
	yaml_event_t ev; /* the current event, valid when have_ev */
	bool have_ev;
	struct policy_error *err;

	/* The policy being built and policy_keys*.c's scratch, which
	 * policy_keys_read() frees before it returns. */
	struct policy *p;
	size_t dests_cap;
	size_t routes_cap;
	struct policy_pos *route_to_pos; /* beside p->routes, for the late check */
	struct policy_pos rule_name_pos[PD_MAX_RULES];
	struct pd_port_range *ports; /* one dport/sport/length's items before merging */
	size_t nports;
	size_t ports_cap;
	struct policy_pos *src_pos; /* beside the current rule's srcs, for duplicates */
	size_t src_pos_cap;
	size_t nsrcs; /* src prefixes in all rules so far (PD_MAX_SRCS) */
	struct policy_icmp_item *icmp; /* one icmp-type's items, named once proto is known */
	size_t nicmp;
	size_t icmp_cap;
};

struct policy_key {
	const char *name;
	/* Reads the value (the current event) and leaves its last event current. */
	int (*read)(struct policy_reader *r, void *obj, const struct policy_pos *key);
};

/* The keys of one kind of mapping; @what names it in messages ("rule"). */
struct policy_mapping {
	const char *what;
	const struct policy_key *keys;
	size_t nkeys;
};

/* Advance to the next event, refusing anchors, aliases, tags and NUL bytes. */
int policy_reader_next(struct policy_reader *r);

/* Set "file:line:col: <fmt>" in r->err; returns -EINVAL. */
int policy_reader_fail(struct policy_reader *r, const struct policy_pos *pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Set "file: out of memory"; returns -ENOMEM. */
int policy_reader_nomem(struct policy_reader *r);

/* The current event: its position, its scalar text, whether it is an empty scalar. */
struct policy_pos policy_reader_pos(const struct policy_reader *r);
const char *policy_reader_scalar(const struct policy_reader *r);
bool policy_reader_empty(const struct policy_reader *r);

/* The current node for a message: "a list", "a mapping", "empty" or 'text'. */
const char *policy_reader_describe(const struct policy_reader *r, char *buf, size_t size);

/* "WHAT is <current node> (expected EXPECTED)" at the current event. */
int policy_reader_wrong_type(struct policy_reader *r, const char *what, const char *expected);

/* The current event as a non-empty scalar, or an error naming @key. */
int policy_reader_want_scalar(struct policy_reader *r, const char *key, const char *expected,
			      const char **out);

/* The current event as one of two words, @a or @b, for @key: *@is_b says which. */
int policy_reader_choice(struct policy_reader *r, const char *key, const char *a, const char *b,
			 bool *is_b);

/* A policy_value_*() complaint, positioned at the current event. */
int policy_reader_value_failed(struct policy_reader *r, const char *why);

/*
 * Read the mapping whose MAPPING_START is current, dispatching each key to
 * @m. @seen (m->nkeys entries, zeroed) gets each key's position, so the
 * caller can check required keys; line 0 means absent.
 */
int policy_reader_mapping(struct policy_reader *r, const struct policy_mapping *m, void *obj,
			  struct policy_pos *seen);

/* policy_keys.c: read the top-level mapping (the current event) into r->p
 * and check what spans keys. */
int policy_keys_read(struct policy_reader *r);

/*
 * policy_keys.c: the repeat that comes first in the file among @n prefixes,
 * the first at @base and each @stride bytes after the one before (a prefix
 * array, or the first member of an array of structs): *@dup is its index,
 * *@first that of the original. Returns 1 when found, 0, or -ENOMEM.
 */
int policy_keys_find_duplicate(const void *base, size_t n, size_t stride, size_t *dup,
			       size_t *first);

/* policy_keys_rule.c: the top level's 'rules', a key reader. */
int policy_keys_rules(struct policy_reader *r, void *obj, const struct policy_pos *key);

/* policy_keys_state.c: a rule's 'limit' into @rule, @key its position; the
 * top level's 'quota' and 'block', key readers. */
int policy_keys_limit(struct policy_reader *r, struct policy_rule *rule,
		      const struct policy_pos *key);
int policy_keys_quota(struct policy_reader *r, void *obj, const struct policy_pos *key);
int policy_keys_block(struct policy_reader *r, void *obj, const struct policy_pos *key);
int policy_keys_sample(struct policy_reader *r, void *obj, const struct policy_pos *key);

#endif
