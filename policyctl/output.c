// SPDX-License-Identifier: GPL-2.0-only
/*
 * policyctl's output: one-line errors on stderr, pretty JSON for programs,
 * aligned tables for people, and accessors that turn a missing or mistyped
 * key in a reply into "-" instead of a crash.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyctl.h"

void ctl_err(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One line, always: a message from the daemon must not break it. */
	for (char *p = line; *p; p++) {
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	}
	fflush(stdout);
	fprintf(stderr, "policyctl: %s\n", line);
}

int ctl_unexpected_reply(void)
{
	ctl_err("unexpected reply from policyd");
	return CTL_EXIT_FAIL;
}

json_t *out_string(const char *s)
{
	json_t *str;
	char *copy;

	str = json_string(s);
	if (str || !s)
		return str;
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++) {
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	}
	str = json_string(copy);
	free(copy);
	return str;
}

int out_json(const json_t *json)
{
	if (json_dumpf(json, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY) < 0) {
		ctl_err("cannot print JSON");
		return CTL_EXIT_FAIL;
	}
	putchar('\n');
	return CTL_EXIT_OK;
}

int out_finish(int status)
{
	int err = 0;

	if (fflush(stdout) == EOF)
		err = errno;
	else if (ferror(stdout))
		err = EIO;
	if (err) {
		ctl_err("cannot write output: %s", strerror(err));
		if (status == CTL_EXIT_OK)
			status = CTL_EXIT_FAIL;
	}
	return status;
}

const char *out_str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "-";
}

bool out_has_u64(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_integer(v) && json_integer_value(v) >= 0;
}

uint64_t out_u64(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	if (json_is_integer(v) && json_integer_value(v) >= 0)
		return (uint64_t)json_integer_value(v);
	if (json_is_real(v) && json_real_value(v) >= 0)
		return (uint64_t)json_real_value(v);
	return 0;
}

const char *out_num(const json_t *obj, const char *key, char *buf, size_t size)
{
	const json_t *v = json_object_get(obj, key);

	if (json_is_integer(v))
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, size, "%.0f", json_real_value(v));
	else
		snprintf(buf, size, "-");
	return buf;
}

const json_t *out_obj(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_object(v) ? v : NULL;
}

const json_t *out_arr(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_array(v) ? v : NULL;
}

char *out_join(const json_t *arr, const char *sep, size_t max_width)
{
	size_t n = json_array_size(arr), used = 0, size = 2, i;
	const json_t *v;
	char *s;

	json_array_foreach(arr, i, v) {
		const char *item = json_string_value(v);

		size += strlen(sep) + (item ? strlen(item) : 1);
	}
	/* Room for the "+N more" that may end it. */
	size += strlen(sep) + 32;
	s = malloc(size);
	if (!s)
		return NULL;
	strcpy(s, "-");
	for (i = 0; i < n; i++) {
		const char *item = json_string_value(json_array_get(arr, i));
		size_t need;

		if (!item)
			item = "-";
		need = (i ? strlen(sep) : 0) + strlen(item);
		if (i && used + need > max_width) {
			snprintf(s + used, size - used, "%s+%zu more", sep, n - i);
			break;
		}
		/* The first element is kept whole, however wide. */
		used += snprintf(s + used, size - used, "%s%s", i ? sep : "", item);
	}
	return s;
}

char *out_bytes_unit(uint64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB", "EB" };
	double v = (double)bytes;
	unsigned int u = 0;

	while (v >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, size, "%.1f %s", v, units[u]);
	return buf;
}

struct out_table {
	unsigned int ncols;
	enum out_align *align;
	char **cells; /* row-major; row 0 holds the headers */
	size_t nrows;
	size_t cap;
};

struct out_table *out_table_new(unsigned int ncols, const char *const *headers,
				const enum out_align *align)
{
	struct out_table *t;

	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ncols = ncols;
	t->align = calloc(ncols, sizeof(*t->align));
	if (!t->align)
		goto fail;
	memcpy(t->align, align, ncols * sizeof(*align));
	if (out_table_row(t, headers))
		goto fail;
	return t;
fail:
	out_table_free(t);
	return NULL;
}

int out_table_row(struct out_table *t, const char *const *cells)
{
	unsigned int i;

	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **grown = realloc(t->cells, cap * t->ncols * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		t->cells = grown;
		t->cap = cap;
	}
	for (i = 0; i < t->ncols; i++) {
		t->cells[t->nrows * t->ncols + i] = strdup(cells[i] ? cells[i] : "-");
		if (!t->cells[t->nrows * t->ncols + i]) {
			while (i--)
				free(t->cells[t->nrows * t->ncols + i]);
			return -ENOMEM;
		}
	}
	t->nrows++;
	return 0;
}

/* Width on a terminal: UTF-8 continuation bytes take no column. */
static size_t out_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	}
	return w;
}

void out_table_print(const struct out_table *t, const char *indent)
{
	size_t *width;
	unsigned int c;
	size_t r;

	width = calloc(t->ncols, sizeof(*width));
	if (!width)
		return;
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			size_t w = out_width(t->cells[r * t->ncols + c]);

			if (w > width[c])
				width[c] = w;
		}
	}
	for (r = 0; r < t->nrows; r++) {
		unsigned int ncells = t->ncols;

		/* Empty trailing cells print nothing, not trailing blanks. */
		while (ncells > 1 && !*t->cells[r * t->ncols + ncells - 1])
			ncells--;
		fputs(indent, stdout);
		for (c = 0; c < ncells; c++) {
			const char *cell = t->cells[r * t->ncols + c];
			size_t pad = width[c] - out_width(cell);
			bool last = c + 1 == ncells;

			if (c)
				fputs("  ", stdout);
			if (t->align[c] == OUT_RIGHT)
				printf("%*s", (int)pad, "");
			fputs(cell, stdout);
			if (t->align[c] == OUT_LEFT && !last)
				printf("%*s", (int)pad, "");
		}
		putchar('\n');
	}
	free(width);
}

void out_table_free(struct out_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->align);
	free(t);
}

int out_print_columns(const json_t *rows, const struct out_column *cols, size_t ncols)
{
	const char *headers[OUT_COLUMNS_MAX];
	enum out_align align[OUT_COLUMNS_MAX];
	char nums[OUT_COLUMNS_MAX][32];
	const char *cells[OUT_COLUMNS_MAX];
	struct out_table *t;
	const json_t *row;
	int err = -ENOMEM;
	size_t i;

	if (!json_array_size(rows) || ncols > OUT_COLUMNS_MAX)
		return 0;
	for (size_t c = 0; c < ncols; c++) {
		headers[c] = cols[c].header;
		align[c] = cols[c].number ? OUT_RIGHT : OUT_LEFT;
	}
	t = out_table_new(ncols, headers, align);
	if (!t)
		return -ENOMEM;
	json_array_foreach(rows, i, row) {
		for (size_t c = 0; c < ncols; c++)
			cells[c] = cols[c].number ?
					   out_num(row, cols[c].key, nums[c], sizeof(nums[c])) :
					   out_str(row, cols[c].key);
		if (out_table_row(t, cells))
			goto out;
	}
	putchar('\n');
	out_table_print(t, "");
	err = 0;
out:
	out_table_free(t);
	return err;
}
