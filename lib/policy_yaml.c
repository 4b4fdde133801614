// SPDX-License-Identifier: GPL-2.0-only
/*
 * Policy YAML -> struct policy: the libyaml side. Events rather than the
 * document API, because only events show anchors and aliases, which the
 * language refuses; errors carry file:line:col from libyaml's marks.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "policy_reader.h"
#include "policy_value.h"

/* The language needs 5 levels (rules > rule > match > dport/src); room to grow. */
#define POLICY_MAX_DEPTH 16

static struct policy_pos pos_of(yaml_mark_t m)
{
	return (struct policy_pos){ .line = (unsigned int)m.line + 1,
				    .col = (unsigned int)m.column + 1 };
}

struct policy_pos policy_reader_pos(const struct policy_reader *r)
{
	return pos_of(r->ev.start_mark);
}

static const char *file_name(const struct policy_reader *r)
{
	return r->file ? r->file : "<policy>";
}

int policy_reader_fail(struct policy_reader *r, const struct policy_pos *pos, const char *fmt, ...)
{
	size_t size = sizeof(r->err->msg);
	va_list ap;
	int n;

	n = snprintf(r->err->msg, size, "%s:%u:%u: ", file_name(r), pos->line, pos->col);
	if (n < 0 || (size_t)n >= size)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(r->err->msg + n, size - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int policy_reader_nomem(struct policy_reader *r)
{
	snprintf(r->err->msg, sizeof(r->err->msg), "%s: out of memory", file_name(r));
	return -ENOMEM;
}

/* Position of byte @offset, counting columns in characters as libyaml does. */
static struct policy_pos pos_of_offset(const struct policy_reader *r, size_t offset)
{
	struct policy_pos pos = { 1, 1 };
	size_t i;

	for (i = 0; i < offset && i < r->len; i++) {
		unsigned char c = (unsigned char)r->text[i];

		if (c == '\n') {
			pos.line++;
			pos.col = 1;
		} else if ((c & 0xc0) != 0x80) {
			pos.col++;
		}
	}
	return pos;
}

static int yaml_failure(struct policy_reader *r)
{
	const yaml_parser_t *y = &r->parser;
	const char *problem = y->problem ? y->problem : "unknown error";
	struct policy_pos pos, ctx;

	switch (y->error) {
	case YAML_MEMORY_ERROR:
		return policy_reader_nomem(r);
	case YAML_READER_ERROR:
		/* The reader knows a byte offset, not a mark. */
		pos = pos_of_offset(r, y->problem_offset);
		if (y->problem_value >= 0)
			return policy_reader_fail(
				r, &pos, "invalid YAML: %s (found 0x%02x; expected UTF-8 text)",
				problem, (unsigned int)y->problem_value);
		return policy_reader_fail(r, &pos, "invalid YAML: %s (expected UTF-8 text)",
					  problem);
	default:
		pos = pos_of(y->problem_mark);
		if (y->context) {
			ctx = pos_of(y->context_mark);
			return policy_reader_fail(r, &pos, "invalid YAML: %s (%s at %u:%u)",
						  problem, y->context, ctx.line, ctx.col);
		}
		return policy_reader_fail(r, &pos, "invalid YAML: %s", problem);
	}
}

/* Advance to the next event, refusing the YAML features policies do not use. */
int policy_reader_next(struct policy_reader *r)
{
	struct policy_pos pos;
	yaml_char_t *anchor = NULL, *tag = NULL;

	if (r->have_ev) {
		yaml_event_delete(&r->ev);
		r->have_ev = false;
	}
	if (!yaml_parser_parse(&r->parser, &r->ev))
		return yaml_failure(r);
	r->have_ev = true;
	pos = policy_reader_pos(r);

	switch (r->ev.type) {
	case YAML_ALIAS_EVENT:
		return policy_reader_fail(
			r, &pos,
			"aliases are not supported (expected a value written out in full)");
	case YAML_SCALAR_EVENT:
		anchor = r->ev.data.scalar.anchor;
		tag = r->ev.data.scalar.tag;
		/* A "\0" escape would cut the value short of what was written. */
		if (memchr(r->ev.data.scalar.value, '\0', r->ev.data.scalar.length))
			return policy_reader_fail(r, &pos,
						  "value contains a NUL character (expected text)");
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = r->ev.data.sequence_start.anchor;
		tag = r->ev.data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = r->ev.data.mapping_start.anchor;
		tag = r->ev.data.mapping_start.tag;
		break;
	default:
		break;
	}
	if (anchor)
		return policy_reader_fail(
			r, &pos, "anchors are not supported (expected a value without &anchor)");
	if (tag)
		return policy_reader_fail(
			r, &pos, "tags are not supported (expected a value without a !tag)");
	return 0;
}

const char *policy_reader_scalar(const struct policy_reader *r)
{
	return (const char *)r->ev.data.scalar.value;
}

bool policy_reader_empty(const struct policy_reader *r)
{
	return r->ev.type == YAML_SCALAR_EVENT && !r->ev.data.scalar.length;
}

const char *policy_reader_describe(const struct policy_reader *r, char *buf, size_t size)
{
	char q[POLICY_VALUE_QUOTE_BUF];

	switch (r->ev.type) {
	case YAML_SEQUENCE_START_EVENT:
		return "a list";
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_SCALAR_EVENT:
		if (policy_reader_empty(r))
			return "empty";
		snprintf(buf, size, "'%s'",
			 policy_value_quote(policy_reader_scalar(r), q, sizeof(q)));
		return buf;
	default:
		return "not a value";
	}
}

int policy_reader_wrong_type(struct policy_reader *r, const char *what, const char *expected)
{
	struct policy_pos pos = policy_reader_pos(r);
	char d[POLICY_VALUE_QUOTE_BUF];

	return policy_reader_fail(r, &pos, "%s is %s (expected %s)", what,
				  policy_reader_describe(r, d, sizeof(d)), expected);
}

int policy_reader_want_scalar(struct policy_reader *r, const char *key, const char *expected,
			      const char **out)
{
	char what[64];

	*out = NULL;
	if (r->ev.type != YAML_SCALAR_EVENT || policy_reader_empty(r)) {
		snprintf(what, sizeof(what), "'%s'", key);
		return policy_reader_wrong_type(r, what, expected);
	}
	*out = policy_reader_scalar(r);
	return 0;
}

int policy_reader_choice(struct policy_reader *r, const char *key, const char *a, const char *b,
			 bool *is_b)
{
	struct policy_pos pos = policy_reader_pos(r);
	char expected[64], q[POLICY_VALUE_QUOTE_BUF];
	const char *s;
	int err;

	snprintf(expected, sizeof(expected), "%s or %s", a, b);
	err = policy_reader_want_scalar(r, key, expected, &s);
	if (err)
		return err;
	if (!strcmp(s, a) || !strcmp(s, b)) {
		*is_b = !strcmp(s, b);
		return 0;
	}
	return policy_reader_fail(r, &pos, "invalid %s '%s' (expected %s)", key,
				  policy_value_quote(s, q, sizeof(q)), expected);
}

int policy_reader_value_failed(struct policy_reader *r, const char *why)
{
	struct policy_pos pos = policy_reader_pos(r);

	return policy_reader_fail(r, &pos, "%s", why);
}

static void expected_keys(const struct policy_mapping *m, char *buf, size_t size)
{
	size_t used = 0, i;
	int n;

	buf[0] = '\0';
	for (i = 0; i < m->nkeys && used < size; i++) {
		if (!m->keys[i].read)
			continue;
		n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", m->keys[i].name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

int policy_reader_mapping(struct policy_reader *r, const struct policy_mapping *m, void *obj,
			  struct policy_pos *seen)
{
	char q[POLICY_VALUE_QUOTE_BUF], d[POLICY_VALUE_QUOTE_BUF], expected[256];
	struct policy_pos key;
	const struct policy_key *k;
	size_t i;
	int err;

	expected_keys(m, expected, sizeof(expected));
	for (;;) {
		err = policy_reader_next(r);
		if (err)
			return err;
		if (r->ev.type == YAML_MAPPING_END_EVENT)
			return 0;
		key = policy_reader_pos(r);
		if (r->ev.type != YAML_SCALAR_EVENT)
			return policy_reader_fail(r, &key, "key in %s is %s (expected %s)", m->what,
						  policy_reader_describe(r, d, sizeof(d)),
						  expected);
		for (i = 0; i < m->nkeys; i++) {
			if (!strcmp(m->keys[i].name, policy_reader_scalar(r)))
				break;
		}
		if (i == m->nkeys)
			return policy_reader_fail(
				r, &key, "unknown key '%s' in %s (expected %s)",
				policy_value_quote(policy_reader_scalar(r), q, sizeof(q)), m->what,
				expected);
		k = &m->keys[i];
		if (seen[i].line)
			return policy_reader_fail(r, &key,
						  "duplicate key '%s' in %s (first at %u:%u)",
						  k->name, m->what, seen[i].line, seen[i].col);
		seen[i] = key;
		err = policy_reader_next(r);
		if (!err)
			err = k->read(r, obj, &key);
		if (err)
			return err;
	}
}

static int read_document(struct policy_reader *r)
{
	static const struct policy_pos start = { 1, 1 };
	struct policy_pos pos;
	int err;

	err = policy_reader_next(r); /* STREAM_START */
	if (!err)
		err = policy_reader_next(r);
	if (err)
		return err;
	if (r->ev.type == YAML_DOCUMENT_START_EVENT) {
		err = policy_reader_next(r);
		if (err)
			return err;
	}
	if (r->ev.type == YAML_STREAM_END_EVENT || policy_reader_empty(r))
		return policy_reader_fail(
			r, &start,
			"empty policy (expected a mapping with policy, destinations, ...)");
	if (r->ev.type != YAML_MAPPING_START_EVENT)
		return policy_reader_wrong_type(r, "top level",
						"a mapping with policy, destinations, ...");

	err = policy_keys_read(r);
	if (err)
		return err;

	err = policy_reader_next(r); /* DOCUMENT_END */
	if (!err)
		err = policy_reader_next(r);
	if (err)
		return err;
	if (r->ev.type != YAML_STREAM_END_EVENT) {
		pos = policy_reader_pos(r);
		return policy_reader_fail(
			r, &pos, "more than one YAML document (expected one policy per file)");
	}
	return 0;
}

static void parser_open(struct policy_reader *r)
{
	yaml_parser_set_input_string(&r->parser, (const unsigned char *)r->text, r->len);
	/* The control protocol carries UTF-8: no UTF-16 by BOM either. */
	yaml_parser_set_encoding(&r->parser, YAML_UTF8_ENCODING);
}

/*
 * A whole pass of libyaml alone, so that a syntax error anywhere is reported
 * as such: streaming would otherwise judge a half-read construct first (a
 * mis-indented key reads as part of the value before it). It also bounds
 * nesting, where libyaml's cost is not: thousands of '[' take it quadratic
 * time, millions of '- ' a gigabyte, and the daemon reads untrusted text.
 */
static int check_syntax(struct policy_reader *r)
{
	unsigned int depth = 0;
	struct policy_pos pos;
	yaml_event_t ev;
	int err = 0;

	for (;;) {
		if (!yaml_parser_parse(&r->parser, &ev))
			return yaml_failure(r);
		switch (ev.type) {
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > POLICY_MAX_DEPTH) {
				pos = pos_of(ev.start_mark);
				err = policy_reader_fail(
					r, &pos,
					"lists and mappings nested more than %u deep (expected a policy)",
					POLICY_MAX_DEPTH);
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_STREAM_END_EVENT:
			yaml_event_delete(&ev);
			return 0;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (err)
			return err;
	}
}

int policy_parse(const char *filename, const char *text, size_t len, struct policy **out,
		 struct policy_error *err)
{
	static const struct policy_pos start = { 1, 1 };
	struct policy_error ignored;
	struct policy_reader r = { 0 };
	int ret;

	r.err = err ? err : &ignored;
	r.err->msg[0] = '\0';
	r.file = filename;
	r.text = text ? text : "";
	r.len = text ? len : 0;
	if (r.len > POLICY_TEXT_MAX)
		return policy_reader_fail(&r, &start, "policy is larger than %u MiB",
					  POLICY_TEXT_MAX >> 20);

	if (!yaml_parser_initialize(&r.parser))
		return policy_reader_nomem(&r);
	parser_open(&r);
	ret = check_syntax(&r);
	yaml_parser_delete(&r.parser);
	if (ret)
		return ret;

	r.p = calloc(1, sizeof(*r.p));
	if (!r.p)
		return policy_reader_nomem(&r);
	r.p->mode = POLICY_MODE_ENFORCE;
	r.p->default_verdict = PD_PASS;
	r.p->table_full_verdict = PD_PASS;
	if (!yaml_parser_initialize(&r.parser)) {
		free(r.p);
		return policy_reader_nomem(&r);
	}
	parser_open(&r);
	ret = read_document(&r);

	if (r.have_ev)
		yaml_event_delete(&r.ev);
	yaml_parser_delete(&r.parser);
	if (ret) {
		policy_free(r.p);
		return ret;
	}
	*out = r.p;
	return 0;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	free(p->dests);
	free(p->dest_pos);
	free(p->routes);
	for (size_t i = 0; i < p->nrules; i++)
		free(p->rules[i].srcs);
	free(p->rules);
	free(p);
}
