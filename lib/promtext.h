/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Prometheus text exposition (format 0.0.4) into a growing buffer: metric
 * families with HELP and TYPE, samples with escaped label values. Pure code,
 * unit-tested; policyd/metrics.c fills it from the maps.
 */
#ifndef POLICYD_PROMTEXT_H
#define POLICYD_PROMTEXT_H

#include <stddef.h>
#include <stdint.h>

#define PROMTEXT_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* A text being built. Allocation failures are sticky in @err (-ENOMEM):
 * callers write everything, then check once. */
struct promtext {
	char *buf;
	size_t len;
	size_t cap;
	int err;
};

void promtext_init(struct promtext *t);
void promtext_free(struct promtext *t);
/* The text (NUL-terminated, *@len bytes without the NUL), handed to the
 * caller (free()); NULL and @t freed when building failed. */
char *promtext_take(struct promtext *t, size_t *len);

void promtext_printf(struct promtext *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append @v as a label value: backslash, double quote and newline escaped. */
void promtext_label_value(struct promtext *t, const char *v);
/* The HELP and TYPE lines that open a family (@type: counter, gauge, ...). */
void promtext_family(struct promtext *t, const char *name, const char *type, const char *help);
/* One sample: name{label="value",...} value. The labels are pairs of name
 * and value strings, ended by NULL. */
void promtext_sample(struct promtext *t, const char *name, uint64_t value, ...)
	__attribute__((sentinel));

#endif
