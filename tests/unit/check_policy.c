// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the policy reader and compiler (lib/policy_*.c): every key
 * and value form, and every error with its exact message. The corpus is
 * tests/unit/policies/{good,bad}/ under $SRCDIR (default "."); each bad file
 * opens with "# expect: FILE:LINE:COL: message".
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/policy.h"

#define CORPUS "tests/unit/policies"
#define EXPECT_TAG "# expect: "

static const char *srcdir(void)
{
	const char *dir = getenv("SRCDIR");

	return dir && *dir ? dir : ".";
}

/* The whole file at @path (relative to the source tree), NUL-terminated. */
static char *slurp(const char *path, size_t *len)
{
	char full[4096];
	char *buf = NULL;
	long size;
	FILE *f;

	snprintf(full, sizeof(full), "%s/%s", srcdir(), path);
	f = fopen(full, "rb");
	ck_assert_msg(f, "cannot open %s: %s", full, strerror(errno));
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	ck_assert_int_ge(size, 0);
	rewind(f);
	buf = malloc((size_t)size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
	buf[size] = '\0';
	fclose(f);
	*len = (size_t)size;
	return buf;
}

/* Sorted names of the *.yaml files in CORPUS/@sub, for loop tests. */
struct corpus {
	char **names;
	size_t n;
};

static struct corpus bad_corpus, good_corpus;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void corpus_load(struct corpus *c, const char *sub)
{
	char dir[4096];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s/%s", srcdir(), CORPUS, sub);
	d = opendir(dir);
	if (!d) {
		fprintf(stderr, "check_policy: cannot open %s: %s\n", dir, strerror(errno));
		return;
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n < 6 || strcmp(de->d_name + n - 5, ".yaml"))
			continue;
		c->names = realloc(c->names, (c->n + 1) * sizeof(*c->names));
		if (!c->names)
			abort();
		c->names[c->n++] = strdup(de->d_name);
	}
	closedir(d);
	if (c->n)
		qsort(c->names, c->n, sizeof(*c->names), cmp_str);
}

static void corpus_free(struct corpus *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->names[i]);
	free(c->names);
	c->names = NULL;
	c->n = 0;
}

static struct policy *parse_text(const char *text)
{
	struct policy_error err = { .msg = "" };
	struct policy *p = NULL;
	int ret;

	ret = policy_parse("t.yaml", text, strlen(text), &p, &err);
	ck_assert_msg(ret == 0, "parse failed (%d): %s", ret, err.msg);
	ck_assert_ptr_nonnull(p);
	return p;
}

static struct policy *parse_file(const char *path)
{
	struct policy_error err = { .msg = "" };
	struct policy *p = NULL;
	const char *base;
	size_t len;
	char *text;
	int ret;

	text = slurp(path, &len);
	base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	ret = policy_parse(base, text, len, &p, &err);
	free(text);
	ck_assert_msg(ret == 0, "%s: parse failed (%d): %s", path, ret, err.msg);
	return p;
}

/* @text must fail with exactly @expect, leaving the out pointer alone. */
static void expect_error(const char *text, size_t len, const char *expect)
{
	struct policy_error err = { .msg = "" };
	struct policy sentinel, *p = &sentinel;
	int ret;

	ret = policy_parse("t.yaml", text, len, &p, &err);
	ck_assert_int_eq(ret, -EINVAL);
	ck_assert_ptr_eq(p, &sentinel);
	ck_assert_str_eq(err.msg, expect);
}

static const char *fmt_prefix(const struct prefix *p, char *buf)
{
	return prefix_format(p, false, buf, PREFIX_STR_MAX);
}

static const char *fmt_ports(const struct policy_rule *r, char *buf, size_t size)
{
	policy_format_ports(r->dport, r->ndport, buf, size);
	return buf;
}

/* --- the corpus ------------------------------------------------------------- */

START_TEST(test_bad_corpus)
{
	const char *name = bad_corpus.names[_i];
	struct policy_error err = { .msg = "" };
	struct policy sentinel, *p = &sentinel;
	char path[512], expect[512];
	const char *nl;
	size_t len;
	char *text;
	int ret;

	snprintf(path, sizeof(path), "%s/bad/%s", CORPUS, name);
	text = slurp(path, &len);
	nl = strchr(text, '\n');
	ck_assert_msg(!strncmp(text, EXPECT_TAG, strlen(EXPECT_TAG)) && nl,
		      "%s: first line is not '" EXPECT_TAG "...'", name);
	snprintf(expect, sizeof(expect), "%.*s", (int)(nl - text - strlen(EXPECT_TAG)),
		 text + strlen(EXPECT_TAG));

	ret = policy_parse(name, text, len, &p, &err);
	free(text);
	ck_assert_msg(ret == -EINVAL, "%s: expected -EINVAL, got %d", name, ret);
	ck_assert_ptr_eq(p, &sentinel);
	ck_assert_msg(!strcmp(err.msg, expect), "%s:\n  expected: %s\n  got:      %s", name, expect,
		      err.msg);
}
END_TEST

START_TEST(test_corpus_present)
{
	/* A missing corpus would make the loop tests pass vacuously. */
	ck_assert_uint_ge(bad_corpus.n, 100);
	ck_assert_uint_ge(good_corpus.n, 10);
}
END_TEST

START_TEST(test_good_corpus)
{
	uint32_t counters[PD_MAX_RULES];
	struct policy_error err;
	struct pd_policy *out;
	struct policy *p;
	char path[512];
	size_t i;

	snprintf(path, sizeof(path), "%s/good/%s", CORPUS, good_corpus.names[_i]);
	p = parse_file(path);
	for (i = 0; i < PD_MAX_RULES; i++)
		counters[i] = (uint32_t)i;
	out = malloc(sizeof(*out));
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(policy_compile(p, counters, 64, out, &err), 0);
	ck_assert_uint_eq(out->nrules, p->nrules);
	free(out);
	policy_free(p);
}
END_TEST

/* --- every key and value form ----------------------------------------------- */

START_TEST(test_web_example)
{
	struct policy *p = parse_file("policies/web.yaml");
	char buf[PREFIX_STR_MAX], ports[128];
	bool v4 = false, v6 = false;
	size_t i;

	ck_assert_str_eq(p->name, "web");
	ck_assert_int_eq(p->mode, POLICY_MODE_ENFORCE);
	ck_assert_uint_ge(p->ndests, 2);
	for (i = 0; i < p->ndests; i++) {
		struct prefix v4net, v6net;

		ck_assert_int_eq(prefix_parse("198.18.0.0/15", false, &v4net), 0);
		ck_assert_int_eq(prefix_parse("2001:db8::/32", false, &v6net), 0);
		ck_assert_msg(prefix_contains(&v4net, &p->dests[i]) ||
				      prefix_contains(&v6net, &p->dests[i]),
			      "%s is not a test address", fmt_prefix(&p->dests[i], buf));
		v4 |= p->dests[i].family == AF_INET;
		v6 |= p->dests[i].family == AF_INET6;
	}
	ck_assert(v4 && v6);
	ck_assert_uint_ge(p->nroutes, 1);
	ck_assert_uint_ge(p->nrules, 3);
	ck_assert_str_eq(p->rules[0].name, "web");
	ck_assert_str_eq(fmt_ports(&p->rules[0], ports, sizeof(ports)), "80,443,8000-8080");
	policy_free(p);
}
END_TEST

START_TEST(test_minimal_defaults)
{
	struct policy *p = parse_file(CORPUS "/good/minimal.yaml");
	char buf[PREFIX_STR_MAX];

	ck_assert_str_eq(p->name, "min");
	ck_assert_int_eq(p->mode, POLICY_MODE_ENFORCE);
	ck_assert_uint_eq(p->default_verdict, PD_PASS);
	ck_assert_uint_eq(p->ndests, 1);
	ck_assert_str_eq(fmt_prefix(&p->dests[0], buf), "198.18.0.0/15");
	ck_assert_uint_eq(p->dest_pos[0].line, 5);
	ck_assert_uint_eq(p->dest_pos[0].col, 5);
	ck_assert_uint_eq(p->nroutes, 0);
	ck_assert_uint_eq(p->nrules, 0);
	policy_free(p);
}
END_TEST

static void assert_same_policy(const struct policy *a, const struct policy *b)
{
	size_t i;

	ck_assert_str_eq(a->name, b->name);
	ck_assert_int_eq(a->mode, b->mode);
	ck_assert_uint_eq(a->default_verdict, b->default_verdict);
	ck_assert_uint_eq(a->ndests, b->ndests);
	for (i = 0; i < a->ndests; i++)
		ck_assert(prefix_equal(&a->dests[i], &b->dests[i]));
	ck_assert_uint_eq(a->nroutes, b->nroutes);
	for (i = 0; i < a->nroutes; i++) {
		const struct policy_route *x = &a->routes[i], *y = &b->routes[i];

		ck_assert(prefix_equal(&x->to, &y->to));
		ck_assert_int_eq(x->has_via, y->has_via);
		ck_assert(!x->has_via || prefix_equal(&x->via, &y->via));
		ck_assert_str_eq(x->dev, y->dev);
		ck_assert_int_eq(x->has_realm, y->has_realm);
		ck_assert_uint_eq(x->realm, y->realm);
	}
	ck_assert_uint_eq(a->nrules, b->nrules);
	for (i = 0; i < a->nrules; i++) {
		const struct policy_rule *x = &a->rules[i], *y = &b->rules[i];

		ck_assert_str_eq(x->name, y->name);
		ck_assert_int_eq(x->has_proto, y->has_proto);
		ck_assert_uint_eq(x->proto, y->proto);
		ck_assert_uint_eq(x->ndport, y->ndport);
		ck_assert_mem_eq(x->dport, y->dport, x->ndport * sizeof(x->dport[0]));
		ck_assert_uint_eq(x->nsport, y->nsport);
		ck_assert_mem_eq(x->sport, y->sport, x->nsport * sizeof(x->sport[0]));
		ck_assert_uint_eq(x->nsrcs, y->nsrcs);
		for (size_t j = 0; j < x->nsrcs; j++)
			ck_assert(prefix_equal(&x->srcs[j], &y->srcs[j]));
		ck_assert_uint_eq(x->nlength, y->nlength);
		ck_assert_mem_eq(x->length, y->length, x->nlength * sizeof(x->length[0]));
		ck_assert_int_eq(x->has_tcp_flags, y->has_tcp_flags);
		ck_assert_uint_eq(x->tcp_flags_mask, y->tcp_flags_mask);
		ck_assert_uint_eq(x->tcp_flags_value, y->tcp_flags_value);
		ck_assert_int_eq(x->has_icmp_type, y->has_icmp_type);
		ck_assert_mem_eq(x->icmp_types, y->icmp_types, sizeof(x->icmp_types));
		ck_assert_uint_eq(x->action, y->action);
	}
}

START_TEST(test_flow_equals_block)
{
	struct policy *block = parse_file(CORPUS "/good/block.yaml");
	struct policy *flow = parse_file(CORPUS "/good/flow.yaml");
	char buf[PREFIX_STR_MAX], ports[64];

	assert_same_policy(block, flow);
	/* And what they both say: */
	ck_assert_str_eq(block->name, "styles");
	ck_assert_uint_eq(block->default_verdict, PD_DROP);
	ck_assert_str_eq(fmt_prefix(&block->dests[1], buf), "2001:db8:1::/48");
	ck_assert_str_eq(fmt_prefix(&block->routes[0].via, buf), "198.18.0.1/32");
	ck_assert_str_eq(block->routes[0].dev, "eth1");
	ck_assert(block->routes[0].has_realm);
	ck_assert_uint_eq(block->routes[0].realm, 7);
	ck_assert_uint_eq(block->nrules, 3);
	ck_assert_str_eq(block->rules[0].name, "dns");
	ck_assert(block->rules[0].has_proto);
	ck_assert_uint_eq(block->rules[0].proto, 17);
	ck_assert_str_eq(fmt_ports(&block->rules[0], ports, sizeof(ports)), "53");
	ck_assert_uint_eq(block->rules[0].action, PD_PASS);
	ck_assert_str_eq(fmt_ports(&block->rules[1], ports, sizeof(ports)), "80,443,8000-8080");
	ck_assert(!block->rules[2].has_proto);
	ck_assert_uint_eq(block->rules[2].ndport, 0);
	ck_assert_uint_eq(block->rules[2].action, PD_DROP);
	/* Positions are those of each file. */
	ck_assert_uint_eq(block->rules[1].pos.line, 18);
	ck_assert_uint_eq(block->rules[1].pos.col, 5);
	ck_assert_uint_eq(flow->rules[1].pos.line, 7);
	ck_assert_uint_eq(flow->rules[1].pos.col, 12);
	policy_free(block);
	policy_free(flow);
}
END_TEST

START_TEST(test_protocols)
{
	static const struct {
		const char *rule;
		uint8_t proto;
	} want[] = {
		{ "tcp", 6 },	 { "udp", 17 },	 { "icmp", 1 },		 { "icmpv6", 58 },
		{ "sctp", 132 }, { "gre", 47 },	 { "esp", 50 },		 { "ah", 51 },
		{ "zero", 0 },	 { "max", 255 }, { "sctp-number", 132 },
	};
	struct policy *p = parse_file(CORPUS "/good/protocols.yaml");
	size_t i;

	ck_assert_uint_eq(p->nrules, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < p->nrules; i++) {
		ck_assert_str_eq(p->rules[i].name, want[i].rule);
		ck_assert(p->rules[i].has_proto);
		ck_assert_uint_eq(p->rules[i].proto, want[i].proto);
	}
	ck_assert_uint_eq(p->rules[10].ndport, 1);
	policy_free(p);
}
END_TEST

START_TEST(test_ports_merged)
{
	struct policy *p = parse_file(CORPUS "/good/ports.yaml");
	char ports[256];

	ck_assert_str_eq(fmt_ports(&p->rules[0], ports, sizeof(ports)),
			 "1-2,80-91,443,1000-2000,65535");
	ck_assert_uint_eq(p->rules[0].ndport, 5);
	/* dport without proto: no proto condition (the program tries TCP, UDP, SCTP). */
	ck_assert(!p->rules[1].has_proto);
	ck_assert_str_eq(fmt_ports(&p->rules[1], ports, sizeof(ports)), "5060-5061");
	ck_assert_uint_eq(p->rules[2].ndport, PD_MAX_PORT_RANGES);
	ck_assert_uint_eq(p->rules[2].dport[15].lo, 31);
	ck_assert_uint_eq(p->rules[2].dport[15].hi, 33);
	policy_free(p);
}
END_TEST

START_TEST(test_empty_and_null_lists)
{
	struct policy *p = parse_file(CORPUS "/good/empty-lists.yaml");

	ck_assert_uint_eq(p->nroutes, 0);
	ck_assert_uint_eq(p->nrules, 2);
	ck_assert(!p->rules[0].has_proto);
	ck_assert_uint_eq(p->rules[0].ndport, 0);
	ck_assert_uint_eq(p->rules[0].action, PD_PASS);
	ck_assert(!p->rules[1].has_proto);
	ck_assert_uint_eq(p->rules[1].action, PD_DROP);
	policy_free(p);

	p = parse_file(CORPUS "/good/null-lists.yaml");
	ck_assert_uint_eq(p->nroutes, 0);
	ck_assert_uint_eq(p->nrules, 0);
	policy_free(p);
}
END_TEST

START_TEST(test_quoted_values)
{
	struct policy *p = parse_file(CORPUS "/good/quoted.yaml");
	char ports[64];

	ck_assert_str_eq(p->name, "quoted");
	ck_assert_uint_eq(p->ndests, 2);
	ck_assert_uint_eq(p->rules[0].proto, 17);
	ck_assert_str_eq(fmt_ports(&p->rules[0], ports, sizeof(ports)), "53");
	ck_assert_uint_eq(p->rules[0].action, PD_DROP);
	policy_free(p);
}
END_TEST

START_TEST(test_routes)
{
	struct policy *p = parse_file(CORPUS "/good/routes.yaml");
	const struct policy_route *r = p->routes;
	char buf[PREFIX_STR_MAX];

	ck_assert_uint_eq(p->default_verdict, PD_PASS);
	ck_assert_uint_eq(p->nroutes, 5);
	ck_assert_str_eq(fmt_prefix(&r[0].to, buf), "198.18.8.0/22");
	ck_assert(r[0].has_via);
	ck_assert_str_eq(r[0].dev, "");
	ck_assert(!r[0].has_realm);
	ck_assert_uint_eq(r[0].pos.line, 12);
	ck_assert_uint_eq(r[0].pos.col, 5);
	ck_assert(!r[1].has_via);
	ck_assert_str_eq(r[1].dev, "abcdefghijklmno");
	ck_assert_str_eq(fmt_prefix(&r[2].to, buf), "198.18.10.7/32");
	ck_assert_uint_eq(r[2].via.family, AF_INET6);
	ck_assert_uint_eq(r[2].via.len, 128);
	ck_assert_str_eq(prefix_format(&r[2].via, true, buf, sizeof(buf)), "fe80::1");
	ck_assert(r[2].has_realm);
	ck_assert_uint_eq(r[2].realm, 65535);
	ck_assert_str_eq(fmt_prefix(&r[3].to, buf), "2001:db8:8:1::/64");
	ck_assert_str_eq(r[4].dev, "lo");
	policy_free(p);
}
END_TEST

static const char *fmt_ranges(const struct pd_port_range *r, unsigned int n, char *buf, size_t size)
{
	policy_format_ports(r, n, buf, size);
	return buf;
}

START_TEST(test_sport)
{
	struct policy *p = parse_file(CORPUS "/good/sport.yaml");
	const struct policy_rule *r = p->rules;
	char buf[256];

	ck_assert_uint_eq(p->nrules, 4);
	ck_assert(r[0].has_proto);
	ck_assert_uint_eq(r[0].proto, 6);
	ck_assert_uint_eq(r[0].ndport, 0);
	ck_assert_str_eq(fmt_ranges(r[0].sport, r[0].nsport, buf, sizeof(buf)), "1024-65535");
	ck_assert_uint_eq(r[1].proto, 17);
	ck_assert_str_eq(fmt_ranges(r[1].sport, r[1].nsport, buf, sizeof(buf)),
			 "1,52-53,5000-5400");
	ck_assert(!r[2].has_proto);
	ck_assert_str_eq(fmt_ranges(r[2].sport, r[2].nsport, buf, sizeof(buf)), "123");
	ck_assert_uint_eq(r[3].nsport, PD_MAX_PORT_RANGES);
	ck_assert_uint_eq(r[3].sport[15].lo, 31);
	ck_assert_uint_eq(r[3].sport[15].hi, 32);
	ck_assert_str_eq(fmt_ranges(r[3].dport, r[3].ndport, buf, sizeof(buf)), "36412");
	ck_assert_uint_eq(r[3].action, PD_DROP);
	/* Only what was written: */
	ck_assert_uint_eq(r[0].nsrcs + r[0].nlength, 0);
	ck_assert(!r[0].has_tcp_flags && !r[0].has_icmp_type);
	policy_free(p);
}
END_TEST

START_TEST(test_src)
{
	static const char *const list[] = { "198.18.128.0/17", "2001:db8:ff::/48", "198.19.7.7/32",
					    "2001:db8::1/128", "0.0.0.0/0" };
	struct policy *p = parse_file(CORPUS "/good/src.yaml");
	const struct policy_rule *r = p->rules;
	char buf[PREFIX_STR_MAX];
	size_t i;

	ck_assert_uint_eq(p->nrules, 3);
	ck_assert_uint_eq(r[0].nsrcs, 1);
	ck_assert_str_eq(fmt_prefix(&r[0].srcs[0], buf), "198.19.0.0/16");
	ck_assert(!r[0].has_proto);
	ck_assert_uint_eq(r[1].nsrcs, 5);
	for (i = 0; i < 5; i++)
		ck_assert_str_eq(fmt_prefix(&r[1].srcs[i], buf), list[i]);
	ck_assert_uint_eq(r[1].srcs[1].family, AF_INET6);
	ck_assert_uint_eq(r[1].proto, 17);
	ck_assert_uint_eq(r[1].ndport, 1);
	ck_assert_uint_eq(r[2].nsrcs, 1);
	ck_assert_str_eq(fmt_prefix(&r[2].srcs[0], buf), "198.19.0.0/16");
	ck_assert_uint_eq(r[2].action, PD_DROP);
	policy_free(p);
}
END_TEST

START_TEST(test_length)
{
	struct policy *p = parse_file(CORPUS "/good/length.yaml");
	const struct policy_rule *r = p->rules;
	char buf[256];

	ck_assert_uint_eq(p->nrules, 3);
	ck_assert_str_eq(fmt_ranges(r[0].length, r[0].nlength, buf, sizeof(buf)), "1-64");
	ck_assert_str_eq(fmt_ranges(r[1].length, r[1].nlength, buf, sizeof(buf)), "84");
	ck_assert_uint_eq(r[1].proto, 1);
	ck_assert_uint_eq(r[2].nlength, PD_MAX_LENGTH_RANGES);
	ck_assert_str_eq(fmt_ranges(r[2].length, r[2].nlength, buf, sizeof(buf)),
			 "20,40-100,1500-9001,65535");
	policy_free(p);
}
END_TEST

START_TEST(test_tcp_flags)
{
	static const struct {
		const char *rule;
		uint8_t mask, value;
		const char *text;
	} want[] = {
		{ "syn", PD_TCP_SYN | PD_TCP_ACK, PD_TCP_SYN, "syn" },
		{ "syn-ack", PD_TCP_SYN | PD_TCP_ACK, PD_TCP_SYN | PD_TCP_ACK, "syn,ack" },
		{ "ack-syn", PD_TCP_SYN | PD_TCP_ACK, PD_TCP_SYN | PD_TCP_ACK, "syn,ack" },
		{ "rst", PD_TCP_RST, PD_TCP_RST, "rst" },
		{ "syn-fin", PD_TCP_SYN | PD_TCP_FIN | PD_TCP_ACK, PD_TCP_SYN | PD_TCP_FIN,
		  "syn,fin" },
		{ "all", 0x3f, 0x3f, "syn,ack,fin,rst,psh,urg" },
	};
	struct policy *p = parse_file(CORPUS "/good/tcp-flags.yaml");
	char buf[64];
	size_t i;

	ck_assert_uint_eq(p->nrules, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < p->nrules; i++) {
		const struct policy_rule *r = &p->rules[i];

		ck_assert_str_eq(r->name, want[i].rule);
		ck_assert(r->has_tcp_flags);
		ck_assert_uint_eq(r->tcp_flags_mask, want[i].mask);
		ck_assert_uint_eq(r->tcp_flags_value, want[i].value);
		policy_format_tcp_flags(r->tcp_flags_mask, r->tcp_flags_value, buf, sizeof(buf));
		ck_assert_str_eq(buf, want[i].text);
	}
	ck_assert(!p->rules[2].has_proto);
	ck_assert_uint_eq(p->rules[4].ndport, 1);
	policy_free(p);
}
END_TEST

static bool icmp_bit(const uint32_t *bitmap, unsigned int t)
{
	return bitmap[t / 32] & (1u << (t % 32));
}

/* @r's bitmap holds exactly the @n types of @types. */
static void assert_icmp_types(const struct policy_rule *r, const unsigned int *types, size_t n)
{
	unsigned int t, count = 0;
	size_t i;

	ck_assert(r->has_icmp_type);
	for (i = 0; i < n; i++)
		ck_assert_msg(icmp_bit(r->icmp_types, types[i]), "%s: type %u missing", r->name,
			      types[i]);
	for (t = 0; t < 256; t++)
		count += icmp_bit(r->icmp_types, t);
	ck_assert_uint_eq(count, n);
}

START_TEST(test_icmp_types)
{
	static const unsigned int v4[] = { 0, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14 };
	static const unsigned int v6[] = { 1, 2, 3, 4, 128, 129, 133, 134, 135, 136, 137 };
	static const unsigned int numbers[] = { 0, 13, 42, 255 };
	static const unsigned int one[] = { 128 };
	static const unsigned int mixed[] = { 0, 8, 99 };
	struct policy *p = parse_file(CORPUS "/good/icmp-type.yaml");
	const struct policy_rule *r = p->rules;
	char buf[512];

	ck_assert_uint_eq(p->nrules, 5);
	assert_icmp_types(&r[0], v4, 11);
	assert_icmp_types(&r[1], v6, 11);
	ck_assert_uint_eq(r[1].proto, 58);
	assert_icmp_types(&r[2], numbers, 4);
	assert_icmp_types(&r[3], one, 1);
	assert_icmp_types(&r[4], mixed, 3);
	ck_assert_uint_eq(r[4].nlength, 1);

	policy_format_icmp_types(r[0].proto, r[0].icmp_types, buf, sizeof(buf));
	ck_assert_str_eq(
		buf,
		"echo-reply,destination-unreachable,source-quench,redirect,echo-request,router-advertisement,router-solicitation,time-exceeded,parameter-problem,timestamp-request,timestamp-reply");
	policy_format_icmp_types(r[1].proto, r[1].icmp_types, buf, sizeof(buf));
	ck_assert_str_eq(
		buf,
		"destination-unreachable,packet-too-big,time-exceeded,parameter-problem,echo-request,echo-reply,router-solicitation,router-advertisement,neighbor-solicitation,neighbor-advertisement,redirect");
	policy_format_icmp_types(r[2].proto, r[2].icmp_types, buf, sizeof(buf));
	ck_assert_str_eq(buf, "echo-reply,timestamp-request,42,255");
	policy_format_icmp_types(r[3].proto, r[3].icmp_types, buf, sizeof(buf));
	ck_assert_str_eq(buf, "echo-request");
	/* Another proto has no names: numbers only. */
	policy_format_icmp_types(6, r[4].icmp_types, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0,8,99");
	/* Too small: cut, but always terminated. */
	policy_format_icmp_types(r[4].proto, r[4].icmp_types, buf, 14);
	ck_assert_str_eq(buf, "echo-reply,ec");
	policy_format_icmp_types(r[4].proto, r[4].icmp_types, buf, 1);
	ck_assert_str_eq(buf, "");
	policy_free(p);
}
END_TEST

START_TEST(test_monitor)
{
	struct policy *p = parse_file(CORPUS "/good/monitor.yaml");
	uint32_t counters[1] = { 9 };
	struct policy_error err;
	struct pd_policy *out;

	ck_assert_int_eq(p->mode, POLICY_MODE_MONITOR);
	ck_assert_uint_eq(p->default_verdict, PD_DROP);
	out = malloc(sizeof(*out));
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(policy_compile(p, counters, 10, out, &err), 0);
	ck_assert_uint_eq(out->flags, PD_POLICY_ACTIVE | PD_POLICY_MONITOR);
	/* The verdicts stay what the policy says: the program turns drops into would-drops. */
	ck_assert_uint_eq(out->default_verdict, PD_DROP);
	ck_assert_uint_eq(out->rules[0].action, PD_PASS);
	policy_free(p);

	/* The example shipped with the sources. */
	p = parse_file("policies/monitor.yaml");
	ck_assert_int_eq(p->mode, POLICY_MODE_MONITOR);
	ck_assert_uint_eq(p->default_verdict, PD_DROP);
	ck_assert_uint_ge(p->nrules, 3);
	policy_free(p);

	p = parse_text("policy: web\nmode: enforce\ndestinations: [198.18.0.0/24]\n");
	ck_assert_int_eq(p->mode, POLICY_MODE_ENFORCE);
	ck_assert_int_eq(policy_compile(p, counters, 10, out, &err), 0);
	ck_assert_uint_eq(out->flags, PD_POLICY_ACTIVE);
	free(out);
	policy_free(p);
}
END_TEST

/* A policy whose rules hold @n src prefixes in all, split over two rules. */
static char *many_srcs(size_t n)
{
	size_t size = 128 + n * 40, used, i;
	char *text = malloc(size);

	ck_assert_ptr_nonnull(text);
	used = (size_t)snprintf(text, size,
				"policy: big\ndestinations: [198.18.0.0/24]\nrules:\n"
				"  - name: a\n    match:\n      src:\n");
	for (i = 0; i < n; i++) {
		if (i == n / 2)
			used += (size_t)snprintf(text + used, size - used,
						 "  - name: b\n    match:\n      src:\n");
		used += (size_t)snprintf(text + used, size - used, "        - 2001:db8::%zx:%zx\n",
					 i >> 16, i & 0xffff);
	}
	return text;
}

START_TEST(test_src_limit)
{
	struct policy_error err;
	struct policy *p = NULL;
	char expect[128];
	char *text;

	text = many_srcs(PD_MAX_SRCS);
	ck_assert_int_eq(policy_parse("t.yaml", text, strlen(text), &p, &err), 0);
	ck_assert_uint_eq(p->rules[0].nsrcs + p->rules[1].nsrcs, PD_MAX_SRCS);
	policy_free(p);
	free(text);

	/* 6 lines of header: item i of the second rule is on line i + 10. */
	text = many_srcs(PD_MAX_SRCS + 1);
	snprintf(expect, sizeof(expect),
		 "t.yaml:%u:11: too many src prefixes (expected at most %u in a policy's rules)",
		 PD_MAX_SRCS + 1 + 9, PD_MAX_SRCS);
	expect_error(text, strlen(text), expect);
	free(text);
}
END_TEST

START_TEST(test_max_rules)
{
	struct policy *p = parse_file(CORPUS "/good/max-rules.yaml");

	ck_assert_uint_eq(p->nrules, PD_MAX_RULES);
	ck_assert_str_eq(p->rules[63].name, "rule-63");
	ck_assert_uint_eq(p->rules[63].dport[0].lo, 1063);
	ck_assert_uint_eq(p->rules[63].action, PD_DROP);
	policy_free(p);
}
END_TEST

START_TEST(test_not_nul_terminated)
{
	static const char text[] = "policy: web\ndestinations: [198.18.0.0/24]\ntrailing: junk";
	struct policy_error err;
	struct policy *p = NULL;

	/* @len ends before "trailing": the reader must not look past it. */
	ck_assert_int_eq(
		policy_parse("t.yaml", text, strlen(text) - strlen("trailing: junk"), &p, &err), 0);
	ck_assert_str_eq(p->name, "web");
	policy_free(p);
}
END_TEST

START_TEST(test_crlf)
{
	struct policy *p = parse_text("policy: web\r\ndestinations:\r\n  - 198.18.0.0/24\r\n");

	ck_assert_uint_eq(p->dest_pos[0].line, 3);
	ck_assert_uint_eq(p->dest_pos[0].col, 5);
	policy_free(p);
}
END_TEST

/* --- errors that a corpus file cannot hold well ---------------------------- */

START_TEST(test_size_limit)
{
	static const char head[] = "policy: big\ndestinations: [198.18.0.0/24]\n#";
	size_t size = POLICY_TEXT_MAX + 1;
	struct policy_error err;
	struct policy *p = NULL;
	char *text;

	text = malloc(size);
	ck_assert_ptr_nonnull(text);
	memset(text, 'x', size);
	memcpy(text, head, strlen(head));
	expect_error(text, size, "t.yaml:1:1: policy is larger than 16 MiB");

	/* Exactly the limit is fine. */
	text[size - 2] = '\n';
	ck_assert_int_eq(policy_parse("t.yaml", text, size - 1, &p, &err), 0);
	ck_assert_str_eq(p->name, "big");
	policy_free(p);
	free(text);
}
END_TEST

START_TEST(test_nul_byte)
{
	static const char text[] = "policy: web\ndestinations: [198.18.0.0/24]\nrules: [\0]\n";

	expect_error(
		text, sizeof(text) - 1,
		"t.yaml:3:9: invalid YAML: control characters are not allowed (found 0x00; expected UTF-8 text)");
	expect_error(
		"\0", 1,
		"t.yaml:1:1: invalid YAML: control characters are not allowed (found 0x00; expected UTF-8 text)");
}
END_TEST

START_TEST(test_invalid_utf8)
{
	static const char bad_lead[] =
		"policy: web\ndestinations: [198.18.0.0/24] # caf\xc3\xa9\xff\n";
	static const char bad_trail[] = "policy: web\ndestinations: [198.18.0.0/24] # caf\xe9!\n";
	static const char cut[] = "policy: web\ndestinations: [198.18.0.0/24]\n# \xc3";
	static const char utf16[] = "\xff\xfep\0o\0";
	static const char overlong[] = "policy: w\xc0\xafx\n";

	/* Columns count characters, as libyaml's marks do: the "é" before 0xff is one. */
	expect_error(
		bad_lead, strlen(bad_lead),
		"t.yaml:2:37: invalid YAML: invalid leading UTF-8 octet (found 0xff; expected UTF-8 text)");
	/* libyaml points at the octet that breaks the sequence, the '!'. */
	expect_error(
		bad_trail, strlen(bad_trail),
		"t.yaml:2:37: invalid YAML: invalid trailing UTF-8 octet (found 0x21; expected UTF-8 text)");
	expect_error(
		cut, strlen(cut),
		"t.yaml:3:3: invalid YAML: incomplete UTF-8 octet sequence (expected UTF-8 text)");
	expect_error(
		utf16, sizeof(utf16) - 1,
		"t.yaml:1:1: invalid YAML: invalid leading UTF-8 octet (found 0xff; expected UTF-8 text)");
	expect_error(
		overlong, strlen(overlong),
		"t.yaml:1:10: invalid YAML: invalid length of a UTF-8 sequence (expected UTF-8 text)");
}
END_TEST

START_TEST(test_empty_text)
{
	struct policy_error err;
	struct policy *p = NULL;

	expect_error(
		"", 0,
		"t.yaml:1:1: empty policy (expected a mapping with policy, destinations, ...)");
	ck_assert_int_eq(policy_parse("t.yaml", NULL, 0, &p, &err), -EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_str_eq(
		err.msg,
		"t.yaml:1:1: empty policy (expected a mapping with policy, destinations, ...)");
	/* No error buffer: still no crash, still the error code. */
	ck_assert_int_eq(policy_parse("t.yaml", "x: [", 4, &p, NULL), -EINVAL);
	ck_assert_ptr_null(p);
}
END_TEST

START_TEST(test_long_value_quoted_short)
{
	char text[600], expect[512], name[301];

	memset(name, 'n', 300);
	name[300] = '\0';
	name[10] = '\n'; /* a double-quoted "\n" escape is a control character */
	snprintf(text, sizeof(text), "policy: \"%.10s\\n%s\"\ndestinations: [198.18.0.0/24]\n",
		 name, name + 11);
	snprintf(
		expect, sizeof(expect),
		"t.yaml:1:9: invalid policy name '%.10s?%.53s...' (expected [a-z0-9][a-z0-9_-]{0,31})",
		name, name + 11);
	expect_error(text, strlen(text), expect);
}
END_TEST

START_TEST(test_deep_nesting)
{
	size_t size = POLICY_TEXT_MAX, i;
	char *text = malloc(size);

	/* libyaml alone would take hours on this, or a gigabyte on "- - - ...". */
	ck_assert_ptr_nonnull(text);
	memset(text, '[', size);
	expect_error(
		text, size,
		"t.yaml:1:17: lists and mappings nested more than 16 deep (expected a policy)");
	for (i = 0; i + 1 < size; i += 2)
		memcpy(text + i, "- ", 2);
	expect_error(
		text, size,
		"t.yaml:1:33: lists and mappings nested more than 16 deep (expected a policy)");
	free(text);
}
END_TEST

/* 2001:db8::N/128 for N in [0, @n), one per line, under "destinations:". */
static char *many_destinations(size_t n, const char *extra)
{
	size_t size = 64 + n * 32 + strlen(extra), used;
	char *text = malloc(size);
	size_t i;

	ck_assert_ptr_nonnull(text);
	used = (size_t)snprintf(text, size, "policy: big\ndestinations:\n");
	for (i = 0; i < n; i++)
		used += (size_t)snprintf(text + used, size - used, "  - 2001:db8::%zx:%zx\n",
					 i >> 16, i & 0xffff);
	snprintf(text + used, size - used, "%s", extra);
	return text;
}

START_TEST(test_destination_limit)
{
	struct policy_error err;
	struct policy *p = NULL;
	char expect[128];
	char *text;

	text = many_destinations(PD_MAX_DESTS,
				 "routes: [ { to: \"2001:db8::3:ffff\", dev: eth1 } ]\n");
	ck_assert_int_eq(policy_parse("t.yaml", text, strlen(text), &p, &err), 0);
	ck_assert_uint_eq(p->ndests, PD_MAX_DESTS);
	ck_assert_uint_eq(p->nroutes, 1);
	policy_free(p);
	free(text);

	text = many_destinations(PD_MAX_DESTS + 1, "");
	snprintf(expect, sizeof(expect), "t.yaml:%u:5: too many destinations (expected at most %u)",
		 PD_MAX_DESTS + 3, PD_MAX_DESTS);
	expect_error(text, strlen(text), expect);
	free(text);

	/* A duplicate far from its original is still found, and reported once. */
	text = many_destinations(100000, "  - 2001:db8::0:2a\n  - 2001:db8::0:7\n");
	expect_error(text, strlen(text),
		     "t.yaml:100003:5: duplicate destination '2001:db8::2a/128' (first at 45:5)");
	free(text);
}
END_TEST

/* --- the compiler ------------------------------------------------------------ */

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		if (b[i])
			return false;
	}
	return true;
}

START_TEST(test_compile)
{
	struct policy *p = parse_file(CORPUS "/good/block.yaml");
	uint32_t counters[3] = { 1000, 1001, 1002 };
	struct policy_error err;
	struct pd_policy *out;
	unsigned int i;

	out = malloc(sizeof(*out));
	ck_assert_ptr_nonnull(out);
	memset(out, 0xa5, sizeof(*out)); /* garbage the compiler must clear */
	ck_assert_int_eq(policy_compile(p, counters, 77, out, &err), 0);

	ck_assert_uint_eq(out->flags, PD_POLICY_ACTIVE);
	ck_assert_uint_eq(out->default_counter, 77);
	ck_assert_uint_eq(out->default_verdict, PD_DROP);
	ck_assert_uint_eq(out->nrules, 3);
	ck_assert(!out->pad && !out->pad2 && !out->pad3);

	ck_assert_uint_eq(out->rules[0].counter, 1000);
	ck_assert_uint_eq(out->rules[0].match, PD_MATCH_PROTO | PD_MATCH_DPORT);
	ck_assert_uint_eq(out->rules[0].proto, 17);
	ck_assert_uint_eq(out->rules[0].action, PD_PASS);
	ck_assert_uint_eq(out->rules[0].ndport, 1);
	ck_assert_uint_eq(out->rules[0].dport[0].lo, 53);
	ck_assert_uint_eq(out->rules[0].dport[0].hi, 53);

	ck_assert_uint_eq(out->rules[1].counter, 1001);
	ck_assert_uint_eq(out->rules[1].ndport, 3);
	ck_assert_uint_eq(out->rules[1].dport[2].lo, 8000);
	ck_assert_uint_eq(out->rules[1].dport[2].hi, 8080);

	ck_assert_uint_eq(out->rules[2].counter, 1002);
	ck_assert_uint_eq(out->rules[2].match, 0);
	ck_assert_uint_eq(out->rules[2].proto, 0);
	ck_assert_uint_eq(out->rules[2].action, PD_DROP);

	for (i = 0; i < 3; i++) {
		const struct pd_rule *r = &out->rules[i];

		ck_assert_uint_eq(r->flags, 0);
		ck_assert(all_zero(&r->dport[r->ndport],
				   (PD_MAX_PORT_RANGES - r->ndport) * sizeof(r->dport[0])));
	}
	ck_assert(all_zero(&out->rules[3], (PD_MAX_RULES - 3) * sizeof(out->rules[0])));
	free(out);
	policy_free(p);
}
END_TEST

START_TEST(test_compile_dport_only)
{
	struct policy *p = parse_file(CORPUS "/good/ports.yaml");
	uint32_t counters[3] = { 5, 6, 7 };
	struct policy_error err;
	struct pd_policy *out;

	out = malloc(sizeof(*out));
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(policy_compile(p, counters, 4, out, &err), 0);
	ck_assert_uint_eq(out->rules[1].match, PD_MATCH_DPORT);
	ck_assert_uint_eq(out->rules[1].ndport, 1);
	ck_assert_uint_eq(out->rules[2].ndport, PD_MAX_PORT_RANGES);
	ck_assert_uint_eq(out->rules[2].proto, 132);
	ck_assert_uint_eq(out->rules[2].action, PD_DROP);
	free(out);
	policy_free(p);
}
END_TEST

START_TEST(test_compile_matches)
{
	struct policy *p = parse_file(CORPUS "/good/all-matches.yaml");
	uint32_t counters[2] = { 20, 21 };
	struct policy_error err;
	struct pd_policy *out;
	const struct pd_rule *r;

	out = malloc(sizeof(*out));
	ck_assert_ptr_nonnull(out);
	memset(out, 0xa5, sizeof(*out));
	ck_assert_int_eq(policy_compile(p, counters, 22, out, &err), 0);
	ck_assert_uint_eq(out->flags, PD_POLICY_ACTIVE);
	ck_assert_uint_eq(out->nrules, 2);

	r = &out->rules[0];
	ck_assert_uint_eq(r->match, PD_MATCH_PROTO | PD_MATCH_DPORT | PD_MATCH_SPORT |
					    PD_MATCH_SRC | PD_MATCH_LENGTH | PD_MATCH_TCP_FLAGS);
	ck_assert_uint_eq(r->counter, 20);
	ck_assert_uint_eq(r->action, PD_DROP);
	ck_assert_uint_eq(r->proto, 6);
	ck_assert_uint_eq(r->ndport, 1);
	ck_assert_uint_eq(r->dport[0].lo, 443);
	ck_assert_uint_eq(r->nsport, 1);
	ck_assert_uint_eq(r->sport[0].lo, 1024);
	ck_assert_uint_eq(r->sport[0].hi, 65535);
	ck_assert_uint_eq(r->nlength, 1);
	ck_assert_uint_eq(r->length[0].lo, 40);
	ck_assert_uint_eq(r->length[0].hi, 1500);
	ck_assert_uint_eq(r->tcp_flags_mask, PD_TCP_SYN | PD_TCP_ACK);
	ck_assert_uint_eq(r->tcp_flags_value, PD_TCP_SYN);
	ck_assert(all_zero(r->icmp_types, sizeof(r->icmp_types)));
	ck_assert_uint_eq(r->flags, 0);
	ck_assert(all_zero(&r->sport[1], (PD_MAX_PORT_RANGES - 1) * sizeof(r->sport[0])));
	ck_assert(all_zero(&r->length[1], (PD_MAX_LENGTH_RANGES - 1) * sizeof(r->length[0])));
	ck_assert_uint_eq(p->rules[0].nsrcs, 2);

	r = &out->rules[1];
	ck_assert_uint_eq(r->match,
			  PD_MATCH_PROTO | PD_MATCH_SRC | PD_MATCH_LENGTH | PD_MATCH_ICMP_TYPE);
	ck_assert_uint_eq(r->counter, 21);
	ck_assert_uint_eq(r->proto, 1);
	ck_assert_uint_eq(r->icmp_types[0], 1u << 8);
	ck_assert(all_zero(&r->icmp_types[1], 7 * sizeof(r->icmp_types[0])));
	ck_assert_uint_eq(r->ndport + r->nsport, 0);
	ck_assert_uint_eq(r->tcp_flags_mask | r->tcp_flags_value, 0);
	ck_assert(all_zero(r->sport, sizeof(r->sport)));
	ck_assert(all_zero(&out->rules[2], (PD_MAX_RULES - 2) * sizeof(out->rules[0])));
	free(out);
	policy_free(p);
}
END_TEST

START_TEST(test_compile_too_big)
{
	static uint32_t counters[PD_MAX_RULES + 1];
	struct policy_rule rules[PD_MAX_RULES + 1];
	struct policy p = { .name = "huge", .rules = rules };
	struct policy_error err = { .msg = "" };
	struct pd_policy *out;

	memset(rules, 0, sizeof(rules));
	out = malloc(sizeof(*out));
	ck_assert_ptr_nonnull(out);

	p.nrules = PD_MAX_RULES + 1;
	ck_assert_int_eq(policy_compile(&p, counters, 0, out, &err), -E2BIG);
	ck_assert_str_eq(err.msg, "policy 'huge' has 65 rules (expected at most 64)");

	p.nrules = 2;
	strcpy(rules[1].name, "ports");
	rules[1].ndport = PD_MAX_PORT_RANGES + 1;
	ck_assert_int_eq(policy_compile(&p, counters, 0, out, &err), -E2BIG);
	ck_assert_str_eq(err.msg,
			 "rule 'ports' of policy 'huge' has 17 port ranges (expected at most 16)");

	rules[1].ndport = PD_MAX_PORT_RANGES;
	rules[1].nsport = PD_MAX_PORT_RANGES + 1;
	ck_assert_int_eq(policy_compile(&p, counters, 0, out, &err), -E2BIG);
	ck_assert_str_eq(
		err.msg,
		"rule 'ports' of policy 'huge' has 17 source port ranges (expected at most 16)");

	rules[1].nsport = PD_MAX_PORT_RANGES;
	rules[1].nlength = PD_MAX_LENGTH_RANGES + 1;
	ck_assert_int_eq(policy_compile(&p, counters, 0, out, &err), -E2BIG);
	ck_assert_str_eq(err.msg,
			 "rule 'ports' of policy 'huge' has 5 length ranges (expected at most 4)");

	/* The srcs themselves are not read: only their count. */
	rules[1].nlength = PD_MAX_LENGTH_RANGES;
	rules[0].nsrcs = PD_MAX_SRCS;
	rules[1].nsrcs = 1;
	ck_assert_int_eq(policy_compile(&p, counters, 0, out, &err), -E2BIG);
	ck_assert_str_eq(err.msg, "policy 'huge' has 65537 src prefixes (expected at most 65536)");

	rules[1].nsrcs = 0;
	ck_assert_int_eq(policy_compile(&p, counters, 0, out, &err), 0);
	ck_assert_uint_eq(out->nrules, 2);
	ck_assert_uint_eq(out->rules[0].match, PD_MATCH_SRC);
	ck_assert_uint_eq(out->rules[1].match, PD_MATCH_DPORT | PD_MATCH_SPORT | PD_MATCH_LENGTH);
	free(out);
}
END_TEST

START_TEST(test_names)
{
	char buf[64];
	int i, named = 0;

	ck_assert_str_eq(policy_verdict_name(PD_PASS), "pass");
	ck_assert_str_eq(policy_verdict_name(PD_DROP), "drop");
	ck_assert_str_eq(policy_reason_name(PD_REASON_RULE), "rule");
	ck_assert_str_eq(policy_reason_name(PD_REASON_DEFAULT), "default");
	ck_assert_str_eq(policy_reason_name(PD_REASON_LIMIT), "limit");
	ck_assert_str_eq(policy_reason_name(PD_REASON_QUOTA), "quota");
	ck_assert_str_eq(policy_reason_name(PD_REASON_BLOCKED), "blocked");
	ck_assert_str_eq(policy_reason_name(PD_REASON_TABLE_FULL), "table-full");
	ck_assert_ptr_nonnull(policy_reason_name(PD_REASON_MAX));

	ck_assert_str_eq(policy_proto_name(1), "icmp");
	ck_assert_str_eq(policy_proto_name(6), "tcp");
	ck_assert_str_eq(policy_proto_name(17), "udp");
	ck_assert_str_eq(policy_proto_name(47), "gre");
	ck_assert_str_eq(policy_proto_name(50), "esp");
	ck_assert_str_eq(policy_proto_name(51), "ah");
	ck_assert_str_eq(policy_proto_name(58), "icmpv6");
	ck_assert_str_eq(policy_proto_name(132), "sctp");
	for (i = 0; i < 256; i++)
		named += policy_proto_name((uint8_t)i) != NULL;
	ck_assert_int_eq(named, 8);

	{
		const struct pd_port_range r[] = { { 80, 80 }, { 443, 443 }, { 8000, 8080 } };

		policy_format_ports(r, 3, buf, sizeof(buf));
		ck_assert_str_eq(buf, "80,443,8000-8080");
		policy_format_ports(r, 0, buf, sizeof(buf));
		ck_assert_str_eq(buf, "");
		/* Too small: cut, but always terminated. */
		policy_format_ports(r, 3, buf, 8);
		ck_assert_str_eq(buf, "80,443,");
		policy_format_ports(r, 3, buf, 1);
		ck_assert_str_eq(buf, "");
	}

	policy_format_tcp_flags(PD_TCP_SYN | PD_TCP_ACK, PD_TCP_SYN, buf, sizeof(buf));
	ck_assert_str_eq(buf, "syn");
	policy_format_tcp_flags(PD_TCP_SYN | PD_TCP_ACK, PD_TCP_SYN | PD_TCP_ACK, buf, sizeof(buf));
	ck_assert_str_eq(buf, "syn,ack");
	policy_format_tcp_flags(PD_TCP_FIN | PD_TCP_URG | PD_TCP_PSH,
				PD_TCP_FIN | PD_TCP_URG | PD_TCP_PSH, buf, sizeof(buf));
	ck_assert_str_eq(buf, "fin,psh,urg");
	/* Not from the language, but shown as it is: a flag required clear. */
	policy_format_tcp_flags(PD_TCP_ACK | PD_TCP_RST, PD_TCP_RST, buf, sizeof(buf));
	ck_assert_str_eq(buf, "!ack,rst");
	policy_format_tcp_flags(0, 0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
	policy_format_tcp_flags(0x3f, 0x3f, buf, 10);
	ck_assert_str_eq(buf, "syn,ack,f");
	policy_format_tcp_flags(0x3f, 0x3f, buf, 0); /* no room: buf untouched, no crash */
}
END_TEST

/* --- limit and table-full ---------------------------------------------------- */

/* A policy with one pass rule, "limit: { rate: @rate[, burst: @burst]@more }". */
static struct policy *parse_limit(const char *rate, const char *burst, const char *more)
{
	char text[512];

	snprintf(text, sizeof(text),
		 "policy: l\ndestinations: [198.18.0.0/24]\nrules:\n"
		 "  - name: r\n    limit: { rate: \"%s\"%s%s%s%s }\n",
		 rate, burst ? ", burst: \"" : "", burst ? burst : "", burst ? "\"" : "", more);
	return parse_text(text);
}

/* The depth the program is given, computed independently of lib/. */
static uint64_t depth_of(uint64_t interval, uint64_t count)
{
	return (uint64_t)(((unsigned __int128)interval * count) >> PD_INTERVAL_SHIFT);
}

START_TEST(test_limit_rates)
{
	static const struct {
		const char *rate, *burst;
		const char *text; /* normalised */
		uint8_t kind;
		uint64_t interval, count;
	} want[] = {
		/* Packets: interval = 16 * 256 * 1e9 * seconds per unit / N; burst 5 by default. */
		{ "20000/s", NULL, "20000/s", PD_LIMIT_PACKETS, 204800000, 5 },
		{ "20000/s", "500", "20000/s", PD_LIMIT_PACKETS, 204800000, 500 },
		{ "300/m", NULL, "300/m", PD_LIMIT_PACKETS, 819200000000, 5 },
		{ "7200/h", "1", "7200/h", PD_LIMIT_PACKETS, 2048000000000, 1 },
		{ "1/s", NULL, "1/s", PD_LIMIT_PACKETS, 4096000000000, 5 },
		{ "1/m", NULL, "1/m", PD_LIMIT_PACKETS, 245760000000000, 5 },
		/* The slowest and fastest rates there are. */
		{ "53/h", NULL, "53/h", PD_LIMIT_PACKETS, 278218867924528, 5 },
		{ "4096000000000/s", "18446744073709551615", "4096000000000/s", PD_LIMIT_PACKETS, 1,
		  18446744073709551615ull },
		/* Bit rates are / 8, exactly; the prefix letter in either case. */
		{ "1bit/s", "1500", "1bit/s", PD_LIMIT_BYTES, 32768000000000, 1500 },
		{ "1000bit/m", "1500", "1000bit/m", PD_LIMIT_BYTES, 1966080000000, 1500 },
		{ "10kbit/s", "1500", "10kbit/s", PD_LIMIT_BYTES, 3276800000, 1500 },
		{ "10Kbit/s", "2k", "10kbit/s", PD_LIMIT_BYTES, 3276800000, 2000 },
		{ "10mbit/s", NULL, "10mbit/s", PD_LIMIT_BYTES, 3276800, 1250000 },
		{ "10Mbit/s", "64kb", "10mbit/s", PD_LIMIT_BYTES, 3276800, 64000 },
		{ "1gbit/s", NULL, "1gbit/s", PD_LIMIT_BYTES, 32768, 125000000 },
		{ "1Gbit/m", NULL, "1gbit/m", PD_LIMIT_BYTES, 1966080, 125000000 },
		{ "2tbit/s", "64MiB", "2tbit/s", PD_LIMIT_BYTES, 16, 67108864 },
		{ "32Tbit/s", "1TiB", "32tbit/s", PD_LIMIT_BYTES, 1, 1099511627776 },
		/* Bytes, SI and binary; the default burst is one time unit's worth. */
		{ "2000B/s", NULL, "2000B/s", PD_LIMIT_BYTES, 2048000000, 2000 },
		{ "64kB/s", NULL, "64kB/s", PD_LIMIT_BYTES, 64000000, 64000 },
		{ "64KB/s", NULL, "64kB/s", PD_LIMIT_BYTES, 64000000, 64000 },
		{ "2MB/s", NULL, "2MB/s", PD_LIMIT_BYTES, 2048000, 2000000 },
		{ "1GB/m", NULL, "1GB/m", PD_LIMIT_BYTES, 245760, 1000000000 },
		{ "1TB/h", "1TiB", "1TB/h", PD_LIMIT_BYTES, 14745, 1099511627776 },
		{ "64KiB/s", NULL, "64KiB/s", PD_LIMIT_BYTES, 62500000, 65536 },
		{ "1MiB/s", "2MiB", "1MiB/s", PD_LIMIT_BYTES, 3906250, 2097152 },
		{ "1GiB/m", "1500", "1GiB/m", PD_LIMIT_BYTES, 228881, 1500 },
		{ "1TiB/h", "1G", "1TiB/h", PD_LIMIT_BYTES, 13411, 1000000000 },
	};
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct policy *p = parse_limit(want[i].rate, want[i].burst, "");
		const struct policy_rule *r = &p->rules[0];

		ck_assert_msg(r->limit.kind == want[i].kind, "%s: kind %u", want[i].rate,
			      r->limit.kind);
		ck_assert_str_eq(r->limit_rate, want[i].text);
		ck_assert_msg(r->limit.interval == want[i].interval, "%s: interval %llu",
			      want[i].rate, (unsigned long long)r->limit.interval);
		ck_assert_msg(r->limit_burst == want[i].count, "%s: burst %llu", want[i].rate,
			      (unsigned long long)r->limit_burst);
		ck_assert_uint_eq(r->limit.burst, depth_of(want[i].interval, want[i].count));
		ck_assert_uint_eq(r->limit.per_host, 0);
		ck_assert_uint_eq(r->limit.mask4, 32);
		ck_assert_uint_eq(r->limit.mask6, 64);
		ck_assert_uint_eq(r->limit.pad, 0);
		ck_assert_uint_eq(r->limit_pos.line, 5);
		ck_assert_uint_eq(r->limit_pos.col, 5);
		policy_free(p);
	}
}
END_TEST

START_TEST(test_limit_exact)
{
	struct policy *p;

	/* The brief's worked examples, as numbers. */
	p = parse_limit("20000/s", NULL, "");
	ck_assert_uint_eq(p->rules[0].limit.interval, 204800000);
	ck_assert_uint_eq(p->rules[0].limit.burst, 4000000);
	policy_free(p);
	p = parse_limit("10mbit/s", NULL, "");
	ck_assert_uint_eq(p->rules[0].limit.interval, 3276800);
	ck_assert_uint_eq(p->rules[0].limit_burst, 1250000);
	ck_assert_uint_eq(p->rules[0].limit.burst, 16000000000ull);
	policy_free(p);
	/* One second's worth of burst is one second of bucket: 16e9 time units. */
	p = parse_limit("2MB/s", NULL, "");
	ck_assert_uint_eq(p->rules[0].limit.burst, 16000000000ull);
	policy_free(p);
	/* A full-size packet of the smallest byte burst conforms: cost == depth. */
	p = parse_limit("10mbit/s", "1500", "");
	ck_assert_uint_eq((p->rules[0].limit.interval * 1500) >> PD_INTERVAL_SHIFT,
			  p->rules[0].limit.burst);
	policy_free(p);
}
END_TEST

START_TEST(test_limit_bursts)
{
	static const struct {
		const char *burst;
		uint64_t bytes;
	} want[] = {
		{ "1500", 1500 },
		{ "1500B", 1500 },
		{ "1500b", 1500 },
		{ "64k", 64000 },
		{ "64K", 64000 },
		{ "64kb", 64000 },
		{ "64kB", 64000 },
		{ "64KB", 64000 },
		{ "2M", 2000000 },
		{ "2mb", 2000000 },
		{ "2MB", 2000000 },
		{ "1G", 1000000000 },
		{ "1GB", 1000000000 },
		{ "1T", 1000000000000 },
		{ "1TB", 1000000000000 },
		{ "64KiB", 65536 },
		{ "64kib", 65536 },
		{ "2MiB", 2097152 },
		{ "1GiB", 1073741824 },
		{ "1TiB", 1099511627776 },
		{ "1099511627776", 1099511627776 },
	};
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct policy *p = parse_limit("100MB/s", want[i].burst, "");

		ck_assert_msg(p->rules[0].limit_burst == want[i].bytes, "%s: %llu", want[i].burst,
			      (unsigned long long)p->rules[0].limit_burst);
		ck_assert_uint_eq(p->rules[0].limit.burst, depth_of(40960, want[i].bytes));
		policy_free(p);
	}
}
END_TEST

START_TEST(test_limit_per_host)
{
	struct policy *p;
	char buf[128];

	p = parse_limit("20000/s", "500", ", per: host, mask: 24");
	ck_assert_uint_eq(p->rules[0].limit.per_host, 1);
	ck_assert_uint_eq(p->rules[0].limit.mask4, 24);
	ck_assert_uint_eq(p->rules[0].limit.mask6, 64);
	policy_format_limit(&p->rules[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "20000/s burst 500 per host mask 24");
	policy_free(p);

	p = parse_limit("10mbit/s", NULL, ", per: host");
	ck_assert_uint_eq(p->rules[0].limit.per_host, 1);
	ck_assert_uint_eq(p->rules[0].limit.mask4, 32);
	ck_assert_uint_eq(p->rules[0].limit.mask6, 64);
	policy_format_limit(&p->rules[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "10mbit/s burst 1250000 bytes per host");
	policy_free(p);

	/* The bounds of both masks; mask before per is fine. */
	p = parse_limit("5/s", NULL, ", mask6: 128, mask: 0, per: host");
	ck_assert_uint_eq(p->rules[0].limit.mask4, 0);
	ck_assert_uint_eq(p->rules[0].limit.mask6, 128);
	policy_format_limit(&p->rules[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "5/s burst 5 per host mask 0 mask6 128");
	policy_free(p);

	p = parse_limit("5/s", NULL, ", per: host, mask: 32, mask6: 0");
	ck_assert_uint_eq(p->rules[0].limit.mask4, 32);
	ck_assert_uint_eq(p->rules[0].limit.mask6, 0);
	policy_format_limit(&p->rules[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "5/s burst 5 per host mask6 0");
	policy_free(p);

	p = parse_limit("2MB/s", "64KiB", ", per: rule");
	ck_assert_uint_eq(p->rules[0].limit.per_host, 0);
	policy_format_limit(&p->rules[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "2MB/s burst 65536 bytes");
	/* Too small: cut, but always terminated. */
	policy_format_limit(&p->rules[0], buf, 6);
	ck_assert_str_eq(buf, "2MB/s");
	policy_format_limit(&p->rules[0], buf, 1);
	ck_assert_str_eq(buf, "");
	policy_free(p);

	/* No limit: nothing to show. */
	p = parse_text("policy: l\ndestinations: [198.18.0.0/24]\nrules: [ { name: r } ]\n");
	ck_assert_uint_eq(p->rules[0].limit.kind, PD_LIMIT_NONE);
	ck_assert_uint_eq(p->table_full_verdict, PD_PASS);
	strcpy(buf, "junk");
	policy_format_limit(&p->rules[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
	policy_free(p);
}
END_TEST

START_TEST(test_limit_corpus)
{
	struct policy *p = parse_file(CORPUS "/good/limit.yaml");
	uint32_t counters[6] = { 30, 31, 32, 33, 34, 35 };
	const struct policy_rule *r = p->rules;
	struct policy_error err;
	struct pd_policy *out;
	char buf[128];
	size_t i;

	ck_assert_uint_eq(p->table_full_verdict, PD_DROP);
	ck_assert_uint_eq(p->nrules, 6);
	policy_format_limit(&r[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "20000/s burst 500 per host mask 24 mask6 56");
	ck_assert_uint_eq(r[0].limit_pos.line, 9);
	ck_assert_uint_eq(r[0].limit_pos.col, 5);
	policy_format_limit(&r[1], buf, sizeof(buf));
	ck_assert_str_eq(buf, "10mbit/s burst 64000 bytes");
	ck_assert_uint_eq(r[1].limit_pos.line, 17);
	ck_assert_uint_eq(r[1].limit_pos.col, 5);
	policy_format_limit(&r[2], buf, sizeof(buf));
	ck_assert_str_eq(buf, "100/s burst 5");
	policy_format_limit(&r[3], buf, sizeof(buf));
	ck_assert_str_eq(buf, "2MB/m burst 2000000 bytes per host");
	ck_assert_uint_eq(r[3].limit.interval, 122880000);
	policy_format_limit(&r[4], buf, sizeof(buf));
	ck_assert_str_eq(buf, "1gbit/s burst 125000000 bytes");
	ck_assert_uint_eq(r[5].limit.kind, PD_LIMIT_NONE);
	ck_assert_uint_eq(r[5].action, PD_DROP);

	out = malloc(sizeof(*out));
	ck_assert_ptr_nonnull(out);
	memset(out, 0xa5, sizeof(*out));
	ck_assert_int_eq(policy_compile(p, counters, 36, out, &err), 0);
	ck_assert_uint_eq(out->table_full_verdict, PD_DROP);
	ck_assert(!out->pad && !out->pad2 && !out->pad3);
	for (i = 0; i < p->nrules; i++) {
		const struct pd_limit *c = &out->rules[i].limit;

		ck_assert_uint_eq(c->kind, r[i].limit.kind);
		ck_assert_uint_eq(c->per_host, r[i].limit.per_host);
		ck_assert_uint_eq(c->mask4, r[i].limit.mask4);
		ck_assert_uint_eq(c->mask6, r[i].limit.mask6);
		ck_assert_uint_eq(c->pad, 0);
		ck_assert_uint_eq(c->interval, r[i].limit.interval);
		ck_assert_uint_eq(c->burst, r[i].limit.burst);
	}
	ck_assert_uint_eq(out->rules[0].limit.kind, PD_LIMIT_PACKETS);
	ck_assert_uint_eq(out->rules[0].limit.per_host, 1);
	ck_assert_uint_eq(out->rules[0].limit.mask4, 24);
	ck_assert_uint_eq(out->rules[0].limit.mask6, 56);
	ck_assert_uint_eq(out->rules[0].limit.interval, 204800000);
	ck_assert_uint_eq(out->rules[0].limit.burst, depth_of(204800000, 500));
	ck_assert_uint_eq(out->rules[1].limit.kind, PD_LIMIT_BYTES);
	ck_assert_uint_eq(out->rules[1].limit.burst, depth_of(3276800, 64000));
	/* A rule without a limit compiles to all zeros, not defaults. */
	ck_assert(all_zero(&out->rules[5].limit, sizeof(out->rules[5].limit)));
	policy_free(p);

	/* table-full: pass written out; the default is pass too (test_limit_per_host). */
	p = parse_file(CORPUS "/good/table-full-pass.yaml");
	ck_assert_uint_eq(p->table_full_verdict, PD_PASS);
	ck_assert_int_eq(policy_compile(p, counters, 36, out, &err), 0);
	ck_assert_uint_eq(out->table_full_verdict, PD_PASS);
	ck_assert_uint_eq(out->rules[0].limit.mask4, 0);
	ck_assert_uint_eq(out->rules[0].limit.mask6, 128);
	ck_assert_uint_eq(out->rules[0].limit.interval, 278218867924528);
	free(out);
	policy_free(p);

	/* The example shipped with the sources: per-server limits, IPv6 servers by address. */
	p = parse_file("policies/ddos-guard.yaml");
	ck_assert_uint_eq(p->table_full_verdict, PD_PASS);
	ck_assert_uint_ge(p->nrules, 3);
	for (i = 0; i < p->nrules; i++) {
		ck_assert_uint_eq(p->rules[i].action, PD_PASS);
		ck_assert_uint_ne(p->rules[i].limit.kind, PD_LIMIT_NONE);
		ck_assert_uint_eq(p->rules[i].limit.per_host, 1);
	}
	policy_format_limit(&p->rules[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "200/s burst 400 per host mask6 128");
	policy_free(p);
}
END_TEST

START_TEST(test_limit_errors)
{
	static const char head[] =
		"policy: l\ndestinations: [198.18.0.0/24]\nrules:\n  - name: r\n";
	static const struct {
		const char *rule; /* after head */
		const char *expect;
	} bad[] = {
		/* The corpus has the rest; these are the ones whose numbers are worked out. */
		{ "    limit: { rate: 4096000000001/s }\n",
		  "t.yaml:5:20: rate '4096000000001/s' is too fast (expected at most 4096000000000 packets per second)" },
		{ "    limit: { rate: 32000000000001B/s }\n",
		  "t.yaml:5:20: rate '32000000000001B/s' is too fast (expected at most 4096000000000 bytes per second)" },
		/* 1/h is the slowest packet rate there is: only bits get slower. */
		{ "    limit: { rate: 1bit/h, burst: 1500 }\n",
		  "t.yaml:5:20: rate '1bit/h' is too slow (expected at least 1 byte per 17592 seconds)" },
		{ "    limit: { rate: 4096000000000/s, burst: 18446744073709551616 }\n",
		  "t.yaml:5:44: burst 18446744073709551616 is too large for rate '4096000000000/s' (expected at most 18446744073709551615 packets)" },
		{ "    limit: { rate: 1/m, burst: 1200960 }\n",
		  "t.yaml:5:32: burst 1200960 is too large for rate '1/m' (expected at most 1200959 packets)" },
		{ "    limit: { rate: 1TB/s, burst: 1099511627777 }\n",
		  "t.yaml:5:34: burst '1099511627777' is out of range (expected at most 1TiB)" },
		{ "    limit: { rate: 1500B/s, burst: 1499 }\n",
		  "t.yaml:5:36: burst '1499' is smaller than one full-size packet (expected at least 1500 bytes)" },
		{ "    limit: { rate: 1499B/s }\n",
		  "t.yaml:5:20: rate '1499B/s' gives a default burst of 1499 bytes, smaller than one full-size packet (expected a burst of at least 1500 bytes)" },
		{ "    limit: { rate: 11999bit/s }\n",
		  "t.yaml:5:20: rate '11999bit/s' gives a default burst of 1499 bytes, smaller than one full-size packet (expected a burst of at least 1500 bytes)" },
		{ "    limit: { rate: 1099511627777B/s }\n",
		  "t.yaml:5:20: rate '1099511627777B/s' gives a default burst of 1099511627777 bytes, more than 1TiB (expected a burst of at most 1TiB)" },
		{ "    limit: { rate: 18446744073709551616/s }\n",
		  "t.yaml:5:20: rate '18446744073709551616/s' is too fast (expected at most 4096000000000 packets per second)" },
		{ "    limit: { rate: 18446744073709551615kB/s }\n",
		  "t.yaml:5:20: rate '18446744073709551615kB/s' is too fast (expected at most 4096000000000 bytes per second)" },
		{ "    action: drop\n    match: { proto: udp }\n    limit: { rate: 1/s }\n",
		  "t.yaml:7:5: 'limit' needs action pass (a drop rule drops every packet it matches)" },
	};
	char text[512];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", head, bad[i].rule);
		expect_error(text, strlen(text), bad[i].expect);
	}
}
END_TEST

/* --- quota and block --------------------------------------------------------- */

#define NS_PER_S 1000000000ull
#define NS_PER_DAY (86400 * NS_PER_S)

/* A policy with "quota: { @quota }" and/or "block: { @block }" (NULL: absent). */
static struct policy *parse_qb(const char *quota, const char *block)
{
	char text[512];

	snprintf(text, sizeof(text), "policy: q\ndestinations: [198.18.0.0/24]\n%s%s%s%s%s%s",
		 quota ? "quota: { " : "", quota ? quota : "", quota ? " }\n" : "",
		 block ? "block: { " : "", block ? block : "", block ? " }\n" : "");
	return parse_text(text);
}

START_TEST(test_quota_forms)
{
	static const struct {
		const char *quota;
		uint64_t bytes, period_ns;
		uint8_t per_host;
		const char *text;
	} want[] = {
		{ "bytes: 50GB, per: host, period: 1d", 50000000000ull, NS_PER_DAY, 1,
		  "50GB per host per 1d" },
		{ "bytes: 50GB, period: 1d", 50000000000ull, NS_PER_DAY, 0,
		  "50GB per policy per 1d" },
		{ "bytes: 50gb, per: policy, period: 1d", 50000000000ull, NS_PER_DAY, 0,
		  "50GB per policy per 1d" },
		{ "bytes: 50G, period: 1h", 50000000000ull, 3600 * NS_PER_S, 0,
		  "50GB per policy per 1h" },
		{ "bytes: 1, period: 7d", 1, 7 * NS_PER_DAY, 0, "1B per policy per 7d" },
		{ "bytes: 1500B, period: 30d", 1500, 30 * NS_PER_DAY, 0,
		  "1500B per policy per 30d" },
		{ "bytes: 64k, period: 1d", 64000, NS_PER_DAY, 0, "64kB per policy per 1d" },
		{ "bytes: 64KB, period: 1d", 64000, NS_PER_DAY, 0, "64kB per policy per 1d" },
		{ "bytes: 2M, period: 1d", 2000000, NS_PER_DAY, 0, "2MB per policy per 1d" },
		{ "bytes: 3TB, period: 1d", 3000000000000ull, NS_PER_DAY, 0,
		  "3TB per policy per 1d" },
		{ "bytes: 64KiB, period: 1d", 65536, NS_PER_DAY, 0, "64KiB per policy per 1d" },
		{ "bytes: 2mib, period: 1d", 2097152, NS_PER_DAY, 0, "2MiB per policy per 1d" },
		{ "bytes: 5GiB, period: 1d", 5368709120ull, NS_PER_DAY, 0,
		  "5GiB per policy per 1d" },
		{ "bytes: 1TiB, period: 1d", 1099511627776ull, NS_PER_DAY, 0,
		  "1TiB per policy per 1d" },
		/* The largest sizes there are. */
		{ "bytes: 18446744073709551615, period: 1d", 18446744073709551615ull, NS_PER_DAY, 0,
		  "18446744073709551615B per policy per 1d" },
		{ "bytes: 16777215TiB, period: 1d", 16777215ull << 40, NS_PER_DAY, 0,
		  "16777215TiB per policy per 1d" },
		/* The four periods in other units, shown as the four. */
		{ "bytes: 1GB, period: 60m", 1000000000, 3600 * NS_PER_S, 0,
		  "1GB per policy per 1h" },
		{ "bytes: 1GB, period: 3600000ms", 1000000000, 3600 * NS_PER_S, 0,
		  "1GB per policy per 1h" },
		{ "bytes: 1GB, period: 24h", 1000000000, NS_PER_DAY, 0, "1GB per policy per 1d" },
		{ "bytes: 1GB, period: 86400s", 1000000000, NS_PER_DAY, 0,
		  "1GB per policy per 1d" },
		{ "bytes: 1GB, period: 168h", 1000000000, 7 * NS_PER_DAY, 0,
		  "1GB per policy per 7d" },
		{ "bytes: 1GB, period: 43200m", 1000000000, 30 * NS_PER_DAY, 0,
		  "1GB per policy per 30d" },
	};
	size_t i;

	ck_assert_uint_eq(NS_PER_DAY, 86400000000000ull);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct policy *p = parse_qb(want[i].quota, NULL);

		ck_assert_msg(p->quota.bytes == want[i].bytes, "%s: bytes %llu", want[i].quota,
			      (unsigned long long)p->quota.bytes);
		ck_assert_msg(p->quota.period_ns == want[i].period_ns, "%s: period %llu",
			      want[i].quota, (unsigned long long)p->quota.period_ns);
		ck_assert_uint_eq(p->quota.per_host, want[i].per_host);
		ck_assert(all_zero(p->quota.pad, sizeof(p->quota.pad)));
		ck_assert_str_eq(p->quota_text, want[i].text);
		ck_assert_uint_eq(p->block.kind, PD_BLOCK_NONE);
		ck_assert_str_eq(p->block_text, "");
		policy_free(p);
	}
}
END_TEST

START_TEST(test_block_forms)
{
	static const struct {
		const char *block;
		uint8_t kind;
		uint64_t threshold, window_ns, duration_ns;
		const char *text;
	} want[] = {
		{ "after: { drops: 500, within: 10s }, for: 5m", PD_BLOCK_DROPS, 500, 10 * NS_PER_S,
		  300 * NS_PER_S, "after 500 drops within 10s for 5m" },
		{ "for: 5m, after: { within: 10s, drops: 500 }", PD_BLOCK_DROPS, 500, 10 * NS_PER_S,
		  300 * NS_PER_S, "after 500 drops within 10s for 5m" },
		{ "after: { packets: 1, within: 1ms }, for: 1ms", PD_BLOCK_PACKETS, 1, 1000000,
		  1000000, "after 1 packets within 1ms for 1ms" },
		{ "after: { packets: 18446744073709551615, within: 500ms }, for: 1h",
		  PD_BLOCK_PACKETS, 18446744073709551615ull, 500000000, 3600 * NS_PER_S,
		  "after 18446744073709551615 packets within 500ms for 1h" },
		{ "after: { bytes: 10MB, within: 1m }, for: 1d", PD_BLOCK_BYTES, 10000000,
		  60 * NS_PER_S, NS_PER_DAY, "after 10MB within 1m for 1d" },
		{ "after: { bytes: 10mb, within: 1m }, for: 1d", PD_BLOCK_BYTES, 10000000,
		  60 * NS_PER_S, NS_PER_DAY, "after 10MB within 1m for 1d" },
		{ "after: { bytes: 1500, within: 1s }, for: 7d", PD_BLOCK_BYTES, 1500, NS_PER_S,
		  7 * NS_PER_DAY, "after 1500B within 1s for 7d" },
		{ "after: { bytes: 1GiB, within: 1h }, for: 90s", PD_BLOCK_BYTES, 1073741824,
		  3600 * NS_PER_S, 90 * NS_PER_S, "after 1GiB within 1h for 90s" },
		/* The bounds: within up to 1d, for up to 30d, in any unit. */
		{ "after: { drops: 1, within: 1d }, for: 30d", PD_BLOCK_DROPS, 1, NS_PER_DAY,
		  30 * NS_PER_DAY, "after 1 drops within 1d for 30d" },
		{ "after: { drops: 1, within: 86400000ms }, for: 2592000000ms", PD_BLOCK_DROPS, 1,
		  NS_PER_DAY, 30 * NS_PER_DAY, "after 1 drops within 86400000ms for 2592000000ms" },
		{ "after: { drops: 1, within: 24h }, for: 720h", PD_BLOCK_DROPS, 1, NS_PER_DAY,
		  30 * NS_PER_DAY, "after 1 drops within 24h for 720h" },
		{ "after: { drops: 1, within: 1440m }, for: 2592000s", PD_BLOCK_DROPS, 1,
		  NS_PER_DAY, 30 * NS_PER_DAY, "after 1 drops within 1440m for 2592000s" },
	};
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct policy *p = parse_qb(NULL, want[i].block);

		ck_assert_msg(p->block.kind == want[i].kind, "%s: kind %u", want[i].block,
			      p->block.kind);
		ck_assert_msg(p->block.threshold == want[i].threshold, "%s: threshold %llu",
			      want[i].block, (unsigned long long)p->block.threshold);
		ck_assert_msg(p->block.window_ns == want[i].window_ns, "%s: window %llu",
			      want[i].block, (unsigned long long)p->block.window_ns);
		ck_assert_msg(p->block.duration_ns == want[i].duration_ns, "%s: duration %llu",
			      want[i].block, (unsigned long long)p->block.duration_ns);
		ck_assert(all_zero(p->block.pad, sizeof(p->block.pad)));
		ck_assert_str_eq(p->block_text, want[i].text);
		ck_assert_uint_eq(p->quota.bytes, 0);
		ck_assert_str_eq(p->quota_text, "");
		policy_free(p);
	}
}
END_TEST

START_TEST(test_quota_block_errors)
{
	static const struct {
		const char *quota, *block;
		const char *expect;
	} bad[] = {
		/* One past each bound; the corpus has the rest. */
		{ "bytes: 18446744073709551616B, period: 1d", NULL,
		  "t.yaml:3:17: bytes '18446744073709551616B' is out of range (expected at most 18446744073709551615 bytes)" },
		{ "bytes: 16777216TiB, period: 1d", NULL,
		  "t.yaml:3:17: bytes '16777216TiB' is out of range (expected at most 18446744073709551615 bytes)" },
		{ "bytes: 18446744073709551616GB, period: 1d", NULL,
		  "t.yaml:3:17: bytes '18446744073709551616GB' is out of range (expected at most 18446744073709551615 bytes)" },
		{ "bytes: 1GB, period: 3599s", NULL,
		  "t.yaml:3:30: invalid period '3599s' (expected 1h, 1d, 7d or 30d)" },
		{ "bytes: 1GB, period: 31d", NULL,
		  "t.yaml:3:30: invalid period '31d' (expected 1h, 1d, 7d or 30d)" },
		{ NULL, "after: { drops: 1, within: 86400001ms }, for: 5m",
		  "t.yaml:3:37: within '86400001ms' is too long (expected at most 1d)" },
		{ NULL, "after: { drops: 1, within: 10s }, for: 2592000001ms",
		  "t.yaml:3:49: for '2592000001ms' is too long (expected at most 30d)" },
		{ NULL, "after: { drops: 1, within: 10s }, for: 721h",
		  "t.yaml:3:49: for '721h' is too long (expected at most 30d)" },
		/* 2^64 ns is 213503.98 days: the product overflows, the number does not. */
		{ NULL, "after: { drops: 1, within: 10s }, for: 213504d",
		  "t.yaml:3:49: for '213504d' is too long (expected at most 30d)" },
		{ NULL, "after: { drops: 1, within: 10s }, for: 18446744073710ms",
		  "t.yaml:3:49: for '18446744073710ms' is too long (expected at most 30d)" },
		{ NULL, "after: { drops: 1, within: 10s }, for: 0d",
		  "t.yaml:3:49: for '0d' is zero (expected a duration of 1ms to 30d)" },
		{ NULL, "after: { packets: 18446744073709551616, within: 10s }, for: 5m",
		  "t.yaml:3:28: packets '18446744073709551616' is out of range (expected at most 18446744073709551615)" },
		{ NULL, "after: { bytes: 5, packets: 5, within: 10s }, for: 5m",
		  "t.yaml:3:29: after has both 'bytes' (at 3:19) and 'packets' (expected exactly one of drops, packets or bytes)" },
		{ NULL, "after: { drops: 5, bytes: 5, within: 10s }, for: 5m",
		  "t.yaml:3:29: after has both 'drops' (at 3:19) and 'bytes' (expected exactly one of drops, packets or bytes)" },
		/* The first mistake in the file is the one reported. */
		{ NULL, "after: { drops: 0, within: 0s }, for: 0s",
		  "t.yaml:3:26: drops '0' is zero (expected at least 1)" },
		{ "bytes: 0, period: 2d", NULL,
		  "t.yaml:3:17: bytes '0' is zero (expected at least 1 byte)" },
	};
	char text[512];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
			 "policy: q\ndestinations: [198.18.0.0/24]\n%s%s%s%s%s%s",
			 bad[i].quota ? "quota: { " : "", bad[i].quota ? bad[i].quota : "",
			 bad[i].quota ? " }\n" : "", bad[i].block ? "block: { " : "",
			 bad[i].block ? bad[i].block : "", bad[i].block ? " }\n" : "");
		expect_error(text, strlen(text), bad[i].expect);
	}
}
END_TEST

/* sample: and log: compile into the fields the program reads; snaplen defaults. */
START_TEST(test_sample_log_corpus)
{
	uint32_t counters[2] = { 40, 41 };
	struct policy_error err;
	struct pd_policy *out;
	struct policy *p;

	out = malloc(sizeof(*out));
	ck_assert_ptr_nonnull(out);

	p = parse_file(CORPUS "/good/sample-log.yaml");
	memset(out, 0xa5, sizeof(*out));
	ck_assert_int_eq(policy_compile(p, counters, 42, out, &err), 0);
	ck_assert_uint_eq(out->sample_every, 1000);
	ck_assert_uint_eq(out->sample_snaplen, PD_SNAPLEN_MAX);
	ck_assert_uint_eq(out->rules[0].flags, PD_RULE_LOG);
	ck_assert_uint_eq(out->rules[1].flags, 0);
	ck_assert(!out->pad && !out->pad2 && !out->pad3);
	policy_free(p);

	p = parse_file(CORPUS "/good/sample-default-snaplen.yaml");
	ck_assert_int_eq(policy_compile(p, counters, 42, out, &err), 0);
	ck_assert_uint_eq(out->sample_every, 1);
	ck_assert_uint_eq(out->sample_snaplen, PD_DEFAULT_SNAPLEN);
	policy_free(p);

	/* No sample: nothing sampled. */
	p = parse_file(CORPUS "/good/minimal.yaml");
	ck_assert_int_eq(policy_compile(p, counters, 42, out, &err), 0);
	ck_assert_uint_eq(out->sample_every, 0);
	ck_assert_uint_eq(out->sample_snaplen, 0);
	policy_free(p);
	free(out);
}
END_TEST

START_TEST(test_quota_block_corpus)
{
	uint32_t counters[2] = { 40, 41 };
	struct policy_error err;
	struct pd_policy *out;
	struct policy *p;

	out = malloc(sizeof(*out));
	ck_assert_ptr_nonnull(out);

	/* SPEC's example, compiled: the numbers the program reads. */
	p = parse_file(CORPUS "/good/quota-block.yaml");
	ck_assert_str_eq(p->quota_text, "50GB per host per 1d");
	ck_assert_str_eq(p->block_text, "after 500 drops within 10s for 5m");
	memset(out, 0xa5, sizeof(*out)); /* garbage the compiler must clear */
	ck_assert_int_eq(policy_compile(p, counters, 42, out, &err), 0);
	ck_assert_uint_eq(out->quota.bytes, 50000000000ull);
	ck_assert_uint_eq(out->quota.period_ns, 86400000000000ull);
	ck_assert_uint_eq(out->quota.per_host, 1);
	ck_assert(all_zero(out->quota.pad, sizeof(out->quota.pad)));
	ck_assert_uint_eq(out->block.kind, PD_BLOCK_DROPS);
	ck_assert_uint_eq(out->block.threshold, 500);
	ck_assert_uint_eq(out->block.window_ns, 10000000000ull);
	ck_assert_uint_eq(out->block.duration_ns, 300000000000ull);
	ck_assert(all_zero(out->block.pad, sizeof(out->block.pad)));
	ck_assert(!out->pad && !out->pad2 && !out->pad3);
	ck_assert_uint_eq(out->nrules, 2);
	ck_assert_uint_eq(out->rules[1].action, PD_DROP);
	policy_free(p);

	p = parse_file(CORPUS "/good/quota-block-flow.yaml");
	ck_assert_str_eq(p->quota_text, "2TiB per policy per 30d");
	ck_assert_str_eq(p->block_text, "after 20000 packets within 500ms for 1h");
	ck_assert_int_eq(policy_compile(p, counters, 42, out, &err), 0);
	ck_assert_uint_eq(out->quota.bytes, 2199023255552ull);
	ck_assert_uint_eq(out->quota.period_ns, 2592000000000000ull);
	ck_assert_uint_eq(out->quota.per_host, 0);
	ck_assert_uint_eq(out->block.kind, PD_BLOCK_PACKETS);
	ck_assert_uint_eq(out->block.threshold, 20000);
	ck_assert_uint_eq(out->block.window_ns, 500000000);
	ck_assert_uint_eq(out->block.duration_ns, 3600000000000ull);
	policy_free(p);

	p = parse_file(CORPUS "/good/block-bytes.yaml");
	ck_assert_str_eq(p->quota_text, "1500B per policy per 1h");
	ck_assert_str_eq(p->block_text, "after 64KiB within 1d for 30d");
	ck_assert_int_eq(policy_compile(p, counters, 42, out, &err), 0);
	ck_assert_uint_eq(out->quota.bytes, 1500);
	ck_assert_uint_eq(out->quota.period_ns, 3600000000000ull);
	ck_assert_uint_eq(out->block.kind, PD_BLOCK_BYTES);
	ck_assert_uint_eq(out->block.threshold, 65536);
	ck_assert_uint_eq(out->block.window_ns, 86400000000000ull);
	ck_assert_uint_eq(out->block.duration_ns, 2592000000000000ull);
	policy_free(p);

	/* Without them: all zero, over the garbage. */
	p = parse_file(CORPUS "/good/minimal.yaml");
	ck_assert_str_eq(p->quota_text, "");
	ck_assert_str_eq(p->block_text, "");
	memset(out, 0xa5, sizeof(*out));
	ck_assert_int_eq(policy_compile(p, counters, 42, out, &err), 0);
	ck_assert(all_zero(&out->quota, sizeof(out->quota)));
	ck_assert(all_zero(&out->block, sizeof(out->block)));
	policy_free(p);

	/* The examples shipped with the sources. */
	p = parse_file("policies/transit-quota.yaml");
	ck_assert_uint_eq(p->quota.per_host, 1);
	ck_assert_uint_eq(p->quota.period_ns, 30 * NS_PER_DAY);
	ck_assert_uint_ne(p->quota.bytes, 0);
	ck_assert_uint_eq(p->block.kind, PD_BLOCK_NONE);
	policy_free(p);
	p = parse_file("policies/ddos-guard.yaml");
	ck_assert_str_eq(p->block_text, "after 500 drops within 10s for 5m");
	ck_assert_uint_eq(p->quota.bytes, 0);
	ck_assert_int_eq(policy_compile(p, counters, 42, out, &err), 0);
	ck_assert_uint_eq(out->block.kind, PD_BLOCK_DROPS);
	ck_assert_uint_eq(out->block.threshold, 500);
	ck_assert_uint_eq(out->block.window_ns, 10 * NS_PER_S);
	ck_assert_uint_eq(out->block.duration_ns, 300 * NS_PER_S);
	policy_free(p);
	free(out);
}
END_TEST

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc;

	tc = tcase_create("corpus");
	tcase_add_test(tc, test_corpus_present);
	tcase_add_loop_test(tc, test_bad_corpus, 0, (int)bad_corpus.n);
	tcase_add_loop_test(tc, test_good_corpus, 0, (int)good_corpus.n);
	suite_add_tcase(s, tc);

	tc = tcase_create("keys");
	tcase_add_test(tc, test_web_example);
	tcase_add_test(tc, test_minimal_defaults);
	tcase_add_test(tc, test_flow_equals_block);
	tcase_add_test(tc, test_protocols);
	tcase_add_test(tc, test_ports_merged);
	tcase_add_test(tc, test_empty_and_null_lists);
	tcase_add_test(tc, test_quoted_values);
	tcase_add_test(tc, test_routes);
	tcase_add_test(tc, test_sport);
	tcase_add_test(tc, test_src);
	tcase_add_test(tc, test_length);
	tcase_add_test(tc, test_tcp_flags);
	tcase_add_test(tc, test_icmp_types);
	tcase_add_test(tc, test_monitor);
	tcase_add_test(tc, test_max_rules);
	tcase_add_test(tc, test_not_nul_terminated);
	tcase_add_test(tc, test_crlf);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	/* 16 MiB and 262,144 prefixes take a while under valgrind. */
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_size_limit);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_invalid_utf8);
	tcase_add_test(tc, test_empty_text);
	tcase_add_test(tc, test_long_value_quoted_short);
	tcase_add_test(tc, test_deep_nesting);
	tcase_add_test(tc, test_destination_limit);
	tcase_add_test(tc, test_src_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("compile");
	tcase_add_test(tc, test_compile);
	tcase_add_test(tc, test_compile_dport_only);
	tcase_add_test(tc, test_compile_matches);
	tcase_add_test(tc, test_compile_too_big);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("limit");
	tcase_add_test(tc, test_limit_rates);
	tcase_add_test(tc, test_limit_exact);
	tcase_add_test(tc, test_limit_bursts);
	tcase_add_test(tc, test_limit_per_host);
	tcase_add_test(tc, test_limit_corpus);
	tcase_add_test(tc, test_limit_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("quota-block");
	tcase_add_test(tc, test_quota_forms);
	tcase_add_test(tc, test_block_forms);
	tcase_add_test(tc, test_quota_block_errors);
	tcase_add_test(tc, test_quota_block_corpus);
	tcase_add_test(tc, test_sample_log_corpus);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	corpus_load(&bad_corpus, "bad");
	corpus_load(&good_corpus, "good");
	sr = srunner_create(policy_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	corpus_free(&bad_corpus);
	corpus_free(&good_corpus);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
