// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy language's stateful keys (SPEC §4): a rule's limit, the
 * policy's quota and block, each a mapping whose keys are checked together
 * once read (burst against rate, masks without per: host, one threshold).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "policy_reader.h"
#include "policy_value.h"

/* --- limit ------------------------------------------------------------------ */

enum { LIMIT_RATE, LIMIT_BURST, LIMIT_PER, LIMIT_MASK, LIMIT_MASK6 };

/* One limit being read: the burst waits for the rate, which may follow it. */
struct limit_state {
	bool has_rate;
	struct policy_rate rate;
	struct policy_pos rate_pos; /* of the values */
	struct policy_pos burst_pos;
	char *burst; /* as written; owned */
	bool per_host;
	uint8_t mask4;
	uint8_t mask6;
};

static int read_limit_rate(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct limit_state *ls = obj;
	char why[sizeof(r->err->msg)];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "rate", "a rate such as 20000/s or 10mbit/s", &s);
	if (err)
		return err;
	if (policy_value_rate(s, &ls->rate, why, sizeof(why)))
		return policy_reader_value_failed(r, why);
	ls->rate_pos = policy_reader_pos(r);
	ls->has_rate = true;
	return 0;
}

static int read_limit_burst(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct limit_state *ls = obj;
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "burst", "a number of packets or a size in bytes", &s);
	if (err)
		return err;
	ls->burst = strdup(s);
	if (!ls->burst)
		return policy_reader_nomem(r);
	ls->burst_pos = policy_reader_pos(r);
	return 0;
}

static int read_limit_per(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct limit_state *ls = obj;

	return policy_reader_choice(r, "per", "rule", "host", &ls->per_host);
}

static int read_mask_value(struct policy_reader *r, bool v6, uint8_t *out)
{
	char why[sizeof(r->err->msg)];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, v6 ? "mask6" : "mask",
					v6 ? "a prefix length 0-128" : "a prefix length 0-32", &s);
	if (err)
		return err;
	if (policy_value_mask(v6, s, out, why, sizeof(why)))
		return policy_reader_value_failed(r, why);
	return 0;
}

static int read_limit_mask(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	return read_mask_value(r, false, &((struct limit_state *)obj)->mask4);
}

static int read_limit_mask6(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	return read_mask_value(r, true, &((struct limit_state *)obj)->mask6);
}

static const struct policy_key limit_keys[] = {
	[LIMIT_RATE] = { "rate", read_limit_rate },
	[LIMIT_BURST] = { "burst", read_limit_burst },
	[LIMIT_PER] = { "per", read_limit_per },
	[LIMIT_MASK] = { "mask", read_limit_mask },
	[LIMIT_MASK6] = { "mask6", read_limit_mask6 },
};

static const struct policy_mapping limit_spec = { "limit", limit_keys, ARRAY_SIZE(limit_keys) };

/* What spans the limit's keys, once all are read: the burst, masks without per: host. */
static int check_limit(struct policy_reader *r, struct limit_state *ls,
		       const struct policy_pos *seen, const struct policy_pos *pos,
		       struct policy_rule *rule)
{
	char why[sizeof(r->err->msg)];
	const struct policy_pos *mask = NULL;
	uint64_t count, depth;
	int err;

	if (!ls->has_rate)
		return policy_reader_fail(
			r, pos,
			"missing key 'rate' in limit (expected a rate such as 20000/s or 10mbit/s)");
	if (ls->burst) {
		err = policy_value_burst(&ls->rate, ls->burst, &count, &depth, why, sizeof(why));
		if (err)
			return policy_reader_fail(r, &ls->burst_pos, "%s", why);
	} else {
		err = policy_value_default_burst(&ls->rate, &count, &depth, why, sizeof(why));
		if (err)
			return policy_reader_fail(r, &ls->rate_pos, "%s", why);
	}
	/* The earlier of the two in the file, so the first mistake is the one reported. */
	if (seen[LIMIT_MASK].line)
		mask = &seen[LIMIT_MASK];
	if (seen[LIMIT_MASK6].line &&
	    (!mask || seen[LIMIT_MASK6].line < mask->line ||
	     (seen[LIMIT_MASK6].line == mask->line && seen[LIMIT_MASK6].col < mask->col)))
		mask = &seen[LIMIT_MASK6];
	if (mask && !ls->per_host)
		return policy_reader_fail(r, mask, "'%s' needs per: host (%s)",
					  mask == &seen[LIMIT_MASK] ? "mask" : "mask6",
					  seen[LIMIT_PER].line ?
						  "found per: rule" :
						  "expected 'per: host' in the same limit");

	rule->limit = (struct pd_limit){
		.kind = ls->rate.kind,
		.per_host = ls->per_host,
		.mask4 = ls->mask4,
		.mask6 = ls->mask6,
		.interval = ls->rate.interval,
		.burst = depth,
	};
	snprintf(rule->limit_rate, sizeof(rule->limit_rate), "%s", ls->rate.text);
	rule->limit_burst = count;
	return 0;
}

int policy_keys_limit(struct policy_reader *r, struct policy_rule *rule,
		      const struct policy_pos *key)
{
	struct policy_pos seen[ARRAY_SIZE(limit_keys)] = { 0 };
	struct limit_state ls = { .mask4 = 32, .mask6 = 64 };
	struct policy_pos pos = policy_reader_pos(r);
	int err;

	if (r->ev.type != YAML_MAPPING_START_EVENT)
		return policy_reader_wrong_type(r, "'limit'",
						"a mapping with rate, burst, per, mask, mask6");
	err = policy_reader_mapping(r, &limit_spec, &ls, seen);
	if (!err)
		err = check_limit(r, &ls, seen, &pos, rule);
	if (!err)
		rule->limit_pos = *key;
	free(ls.burst);
	return err;
}

/* --- quota ------------------------------------------------------------------ */

enum { QUOTA_BYTES, QUOTA_PER, QUOTA_PERIOD };

struct quota_state {
	struct policy_size size;
	bool per_host;
	uint64_t period_ns;
	const char *period; /* canonical: "1d" */
};

static int read_quota_bytes(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct quota_state *qs = obj;
	char why[sizeof(r->err->msg)];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "bytes", "a size such as 50GB", &s);
	if (err)
		return err;
	if (policy_value_size("bytes", s, &qs->size, why, sizeof(why)))
		return policy_reader_value_failed(r, why);
	return 0;
}

static int read_quota_per(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct quota_state *qs = obj;
	bool per_policy;
	int err;

	err = policy_reader_choice(r, "per", "host", "policy", &per_policy);
	if (!err)
		qs->per_host = !per_policy;
	return err;
}

static int read_quota_period(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct quota_state *qs = obj;
	char why[sizeof(r->err->msg)];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "period", "1h, 1d, 7d or 30d", &s);
	if (err)
		return err;
	if (policy_value_period(s, &qs->period_ns, &qs->period, why, sizeof(why)))
		return policy_reader_value_failed(r, why);
	return 0;
}

static const struct policy_key quota_keys[] = {
	[QUOTA_BYTES] = { "bytes", read_quota_bytes },
	[QUOTA_PER] = { "per", read_quota_per },
	[QUOTA_PERIOD] = { "period", read_quota_period },
};

static const struct policy_mapping quota_spec = { "quota", quota_keys, ARRAY_SIZE(quota_keys) };

int policy_keys_quota(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct policy_pos seen[ARRAY_SIZE(quota_keys)] = { 0 };
	struct policy_pos pos = policy_reader_pos(r);
	struct quota_state qs = { 0 };
	struct policy *p = r->p;
	int err;

	if (r->ev.type != YAML_MAPPING_START_EVENT)
		return policy_reader_wrong_type(r, "'quota'", "a mapping with bytes, per, period");
	err = policy_reader_mapping(r, &quota_spec, &qs, seen);
	if (err)
		return err;
	if (!seen[QUOTA_BYTES].line)
		return policy_reader_fail(
			r, &pos, "missing key 'bytes' in quota (expected a size such as 50GB)");
	/* A budget that never resets is a cap for life: not what a quota is for. */
	if (!seen[QUOTA_PERIOD].line)
		return policy_reader_fail(
			r, &pos,
			"missing key 'period' in quota (expected 1h, 1d, 7d or 30d: quotas with no period are not supported)");
	p->quota = (struct pd_quota){
		.bytes = qs.size.bytes,
		.period_ns = qs.period_ns,
		.per_host = qs.per_host,
	};
	snprintf(p->quota_text, sizeof(p->quota_text), "%s per %s per %s", qs.size.text,
		 qs.per_host ? "host" : "policy", qs.period);
	return 0;
}

/* --- block ------------------------------------------------------------------ */

enum { AFTER_DROPS, AFTER_PACKETS, AFTER_BYTES, AFTER_WITHIN };
enum { BLOCK_AFTER, BLOCK_FOR };

/* The longest window and block (brief5: within <= 1d, for <= 30d). */
#define BLOCK_MAX_WINDOW_NS POLICY_NS_PER_DAY
#define BLOCK_MAX_DURATION_NS (30 * POLICY_NS_PER_DAY)

struct block_state {
	uint8_t kind; /* enum pd_block_kind */
	struct policy_pos kind_pos; /* of the key that set it */
	uint64_t threshold;
	char threshold_text[32]; /* "500 drops", "10MB" */
	uint64_t window_ns;
	/* As written: a valid one has no leading zero and is at most 30d, so
	 * "2592000000ms" is the longest. */
	char within[16];
	uint64_t duration_ns;
	char duration[16];
};

static const char *const block_kind_names[] = {
	[PD_BLOCK_DROPS] = "drops",
	[PD_BLOCK_PACKETS] = "packets",
	[PD_BLOCK_BYTES] = "bytes",
};

/* One of drops, packets, bytes: exactly one per after. */
static int read_after_threshold(struct policy_reader *r, struct block_state *bs, uint8_t kind,
				const struct policy_pos *key)
{
	const char *name = block_kind_names[kind];
	char why[sizeof(r->err->msg)], expected[32];
	struct policy_size size;
	const char *s;
	int err;

	if (bs->kind != PD_BLOCK_NONE)
		return policy_reader_fail(
			r, key,
			"after has both '%s' (at %u:%u) and '%s' (expected exactly one of drops, packets or bytes)",
			block_kind_names[bs->kind], bs->kind_pos.line, bs->kind_pos.col, name);
	snprintf(expected, sizeof(expected), "a number of %s", name);
	err = policy_reader_want_scalar(
		r, name, kind == PD_BLOCK_BYTES ? "a size such as 10MB" : expected, &s);
	if (err)
		return err;
	if (kind == PD_BLOCK_BYTES) {
		if (policy_value_size(name, s, &size, why, sizeof(why)))
			return policy_reader_value_failed(r, why);
		bs->threshold = size.bytes;
		snprintf(bs->threshold_text, sizeof(bs->threshold_text), "%s", size.text);
	} else {
		if (policy_value_count(name, s, &bs->threshold, why, sizeof(why)))
			return policy_reader_value_failed(r, why);
		snprintf(bs->threshold_text, sizeof(bs->threshold_text), "%llu %s",
			 (unsigned long long)bs->threshold, name);
	}
	bs->kind = kind;
	bs->kind_pos = *key;
	return 0;
}

static int read_after_drops(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	return read_after_threshold(r, obj, PD_BLOCK_DROPS, key);
}

static int read_after_packets(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	return read_after_threshold(r, obj, PD_BLOCK_PACKETS, key);
}

static int read_after_bytes(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	return read_after_threshold(r, obj, PD_BLOCK_BYTES, key);
}

static int read_after_within(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct block_state *bs = obj;
	char why[sizeof(r->err->msg)];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "within", "a duration such as 10s", &s);
	if (err)
		return err;
	if (policy_value_duration("within", s, BLOCK_MAX_WINDOW_NS, &bs->window_ns, why,
				  sizeof(why)))
		return policy_reader_value_failed(r, why);
	snprintf(bs->within, sizeof(bs->within), "%s", s);
	return 0;
}

static const struct policy_key after_keys[] = {
	[AFTER_DROPS] = { "drops", read_after_drops },
	[AFTER_PACKETS] = { "packets", read_after_packets },
	[AFTER_BYTES] = { "bytes", read_after_bytes },
	[AFTER_WITHIN] = { "within", read_after_within },
};

static const struct policy_mapping after_spec = { "after", after_keys, ARRAY_SIZE(after_keys) };

static int read_block_after(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct policy_pos seen[ARRAY_SIZE(after_keys)] = { 0 };
	struct policy_pos pos = policy_reader_pos(r);
	struct block_state *bs = obj;
	int err;

	if (r->ev.type != YAML_MAPPING_START_EVENT)
		return policy_reader_wrong_type(
			r, "'after'", "a mapping with one of drops, packets or bytes, and within");
	err = policy_reader_mapping(r, &after_spec, bs, seen);
	if (err)
		return err;
	if (bs->kind == PD_BLOCK_NONE)
		return policy_reader_fail(
			r, &pos,
			"missing key 'drops', 'packets' or 'bytes' in after (expected exactly one of them)");
	if (!seen[AFTER_WITHIN].line)
		return policy_reader_fail(
			r, &pos, "missing key 'within' in after (expected a duration such as 10s)");
	return 0;
}

static int read_block_for(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct block_state *bs = obj;
	char why[sizeof(r->err->msg)];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, "for", "a duration such as 5m", &s);
	if (err)
		return err;
	if (policy_value_duration("for", s, BLOCK_MAX_DURATION_NS, &bs->duration_ns, why,
				  sizeof(why)))
		return policy_reader_value_failed(r, why);
	snprintf(bs->duration, sizeof(bs->duration), "%s", s);
	return 0;
}

static const struct policy_key block_keys[] = {
	[BLOCK_AFTER] = { "after", read_block_after },
	[BLOCK_FOR] = { "for", read_block_for },
};

static const struct policy_mapping block_spec = { "block", block_keys, ARRAY_SIZE(block_keys) };

int policy_keys_block(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct policy_pos seen[ARRAY_SIZE(block_keys)] = { 0 };
	struct policy_pos pos = policy_reader_pos(r);
	struct block_state bs = { 0 };
	struct policy *p = r->p;
	int err;

	if (r->ev.type != YAML_MAPPING_START_EVENT)
		return policy_reader_wrong_type(r, "'block'", "a mapping with after, for");
	err = policy_reader_mapping(r, &block_spec, &bs, seen);
	if (err)
		return err;
	if (!seen[BLOCK_AFTER].line)
		return policy_reader_fail(
			r, &pos,
			"missing key 'after' in block (expected a mapping such as { drops: 500, within: 10s })");
	if (!seen[BLOCK_FOR].line)
		return policy_reader_fail(
			r, &pos, "missing key 'for' in block (expected a duration such as 5m)");
	p->block = (struct pd_block){
		.threshold = bs.threshold,
		.window_ns = bs.window_ns,
		.duration_ns = bs.duration_ns,
		.kind = bs.kind,
	};
	snprintf(p->block_text, sizeof(p->block_text), "after %s within %s for %s",
		 bs.threshold_text, bs.within, bs.duration);
	return 0;
}

/* --- sample ----------------------------------------------------------------- */

enum { SAMPLE_EVERY, SAMPLE_SNAPLEN };

struct sample_state {
	uint64_t every;
	uint64_t snaplen;
};

/* A count of @what in 1..@max, into *@out. */
static int read_bounded_count(struct policy_reader *r, const char *what, const char *expected,
			      uint64_t max, uint64_t *out)
{
	struct policy_pos pos = policy_reader_pos(r);
	char why[sizeof(r->err->msg)];
	const char *s;
	int err;

	err = policy_reader_want_scalar(r, what, expected, &s);
	if (err)
		return err;
	if (policy_value_count(what, s, out, why, sizeof(why)))
		return policy_reader_value_failed(r, why);
	if (*out > max)
		return policy_reader_fail(r, &pos, "%s %s is out of range (expected at most %llu)",
					  what, s, (unsigned long long)max);
	return 0;
}

static int read_sample_every(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	return read_bounded_count(r, "every", "a number N: one packet in N is sampled", UINT32_MAX,
				  &((struct sample_state *)obj)->every);
}

static int read_sample_snaplen(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	return read_bounded_count(r, "snaplen", "a number of bytes", PD_SNAPLEN_MAX,
				  &((struct sample_state *)obj)->snaplen);
}

static const struct policy_key sample_keys[] = {
	[SAMPLE_EVERY] = { "every", read_sample_every },
	[SAMPLE_SNAPLEN] = { "snaplen", read_sample_snaplen },
};

static const struct policy_mapping sample_spec = { "sample", sample_keys, ARRAY_SIZE(sample_keys) };

int policy_keys_sample(struct policy_reader *r, void *obj, const struct policy_pos *key)
{
	struct policy_pos seen[ARRAY_SIZE(sample_keys)] = { 0 };
	struct policy_pos pos = policy_reader_pos(r);
	struct sample_state ss = { .snaplen = PD_DEFAULT_SNAPLEN };
	struct policy *p = r->p;
	int err;

	if (r->ev.type != YAML_MAPPING_START_EVENT)
		return policy_reader_wrong_type(r, "'sample'", "a mapping with every, snaplen");
	err = policy_reader_mapping(r, &sample_spec, &ss, seen);
	if (err)
		return err;
	if (!seen[SAMPLE_EVERY].line)
		return policy_reader_fail(
			r, &pos, "missing key 'every' in sample (expected a number such as 1000)");
	p->sample_every = (uint32_t)ss.every;
	p->sample_snaplen = (uint16_t)ss.snaplen;
	return 0;
}
