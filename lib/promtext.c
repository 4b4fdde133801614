// SPDX-License-Identifier: GPL-2.0-only
/*
 * Prometheus text exposition into a growing buffer. Label values and HELP
 * text are escaped as the format requires; everything else (names, types)
 * is the caller's constant text.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promtext.h"

void promtext_init(struct promtext *t)
{
	memset(t, 0, sizeof(*t));
}

void promtext_free(struct promtext *t)
{
	free(t->buf);
	promtext_init(t);
}

char *promtext_take(struct promtext *t, size_t *len)
{
	char *buf = t->buf;

	if (t->err || !buf) {
		promtext_free(t);
		return NULL;
	}
	*len = t->len;
	promtext_init(t);
	return buf;
}

/* Room for @more bytes and a NUL. */
static int reserve(struct promtext *t, size_t more)
{
	size_t cap = t->cap ? t->cap : 4096;
	char *buf;

	if (t->err)
		return t->err;
	if (t->len + more + 1 <= t->cap)
		return 0;
	while (cap < t->len + more + 1)
		cap *= 2;
	buf = realloc(t->buf, cap);
	if (!buf) {
		t->err = -ENOMEM;
		return t->err;
	}
	t->buf = buf;
	t->cap = cap;
	return 0;
}

static void append(struct promtext *t, const char *s, size_t n)
{
	if (reserve(t, n))
		return;
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

void promtext_printf(struct promtext *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->err = t->err ?: -EINVAL;
		return;
	}
	if (reserve(t, n))
		return;
	va_start(ap, fmt);
	vsnprintf(t->buf + t->len, n + 1, fmt, ap);
	va_end(ap);
	t->len += n;
}

/* @v with backslash and newline escaped, and double quote too when @quote. */
static void append_escaped(struct promtext *t, const char *v, int quote)
{
	for (const char *p = v; *p; p++) {
		if (*p == '\\')
			append(t, "\\\\", 2);
		else if (*p == '\n')
			append(t, "\\n", 2);
		else if (*p == '"' && quote)
			append(t, "\\\"", 2);
		else
			append(t, p, 1);
	}
}

void promtext_label_value(struct promtext *t, const char *v)
{
	append_escaped(t, v, 1);
}

void promtext_family(struct promtext *t, const char *name, const char *type, const char *help)
{
	promtext_printf(t, "# HELP %s ", name);
	append_escaped(t, help, 0);
	promtext_printf(t, "\n# TYPE %s %s\n", name, type);
}

void promtext_sample(struct promtext *t, const char *name, uint64_t value, ...)
{
	const char *label;
	va_list ap;
	int n = 0;

	append(t, name, strlen(name));
	va_start(ap, value);
	while ((label = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);

		promtext_printf(t, "%s%s=\"", n++ ? "," : "{", label);
		promtext_label_value(t, v ? v : "");
		append(t, "\"", 1);
	}
	va_end(ap);
	promtext_printf(t, "%s %" PRIu64 "\n", n ? "}" : "", value);
}
