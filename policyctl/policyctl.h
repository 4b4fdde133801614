/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * policyctl's internal interfaces: the command context, the daemon client,
 * the output helpers (tables for people, JSON for programs) and the commands.
 */
#ifndef POLICYCTL_H
#define POLICYCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#ifndef POLICYD_VERSION
#define POLICYD_VERSION "0.1"
#endif

/* Exit status (SPEC §5). Commands return one of these, having printed any
 * error themselves. */
enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAIL = 1, /* reported by the daemon or the compiler */
	CTL_EXIT_USAGE = 2,
	CTL_EXIT_UNREACHABLE = 3,
};

/* How long to wait for a reply before declaring the daemon unreachable. */
#define CTL_TIMEOUT_S 60

/* Command-specific options (bit flags in struct ctl_command.options). */
#define CTL_OPT_DRY_RUN (1u << 0)
#define CTL_OPT_DIFF (1u << 1)
#define CTL_OPT_CONFIRM (1u << 2)
#define CTL_OPT_REALMS (1u << 3)
#define CTL_OPT_TOP (1u << 8) /* stats --top N */
/* explain's packet options (high bits: other commands' options take the low ones). */
#define CTL_OPT_SRC (1u << 16)
#define CTL_OPT_SPORT (1u << 17)
#define CTL_OPT_LEN (1u << 18)
#define CTL_OPT_TCP_FLAGS (1u << 19)
#define CTL_OPT_ICMP_TYPE (1u << 20)
#define CTL_OPT_PACKET \
	(CTL_OPT_SRC | CTL_OPT_SPORT | CTL_OPT_LEN | CTL_OPT_TCP_FLAGS | CTL_OPT_ICMP_TYPE)
/* monitor and capture (cmd_monitor.c) */
#define CTL_OPT_TYPE (1u << 24)
#define CTL_OPT_COUNT (1u << 25)
#define CTL_OPT_DURATION (1u << 26)
#define CTL_OPT_WRITE (1u << 27)

/* The most hosts stats --top lists (the daemon's limit too: a /16's worth
 * keeps the reply well under the protocol's 64 MiB frame). */
#define CTL_TOP_MAX 65536u

/* The longest --confirm window: a rollback a day later surprises everyone. */
#define CTL_CONFIRM_MAX_S 86400

struct ctl {
	const char *socket_path;
	bool json;
	bool dry_run;
	bool diff;
	unsigned int confirm_s; /* apply --confirm, in seconds; 0 = none */
	bool realms; /* stats --realms */
	unsigned int top; /* stats --top N; 0: not given */
	/* explain: the packet's options as given (NULL: the default) */
	const char *src, *sport, *len, *tcp_flags, *icmp_type;
	/* monitor --type, capture --count, --duration, -w: as given, or NULL */
	const char *types, *count, *duration, *write;
};

/* --- client.c ---------------------------------------------------------------- */

/*
 * Send @command with @args (stolen; NULL for none) to the daemon and wait for
 * the reply. On success *@result is a new reference to the reply's result,
 * which is always an object. Otherwise the error is printed and the exit
 * status returned.
 */
int ctl_call(const struct ctl *ctl, const char *command, json_t *args, json_t **result);

/*
 * As ctl_call(), for a command whose connection then streams frames
 * (monitor): on success *@fd is the connection, non-blocking, for the
 * caller to read with proto_reader_feed() and close.
 */
int ctl_open_stream(const struct ctl *ctl, const char *command, json_t *args, json_t **result,
		    int *fd);

/* --- output.c ---------------------------------------------------------------- */

/* "policyctl: " + message, one line on stderr. */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The reply was not what a command expects: say so, return CTL_EXIT_FAIL. */
int ctl_unexpected_reply(void);

/* A JSON string of @s; bytes that are not UTF-8 (a file name, say) become
 * '?'. NULL only on ENOMEM. */
json_t *out_string(const char *s);

/* Print @json pretty, as one document, to stdout. */
int out_json(const json_t *json);

/* Flush stdout and report a write error (a full disk, a closed pipe). */
int out_finish(int status);

/* Tolerant accessors: "-" (or 0 / false) when a key is missing or has another
 * type, so an older or newer daemon never crashes the client. */
const char *out_str(const json_t *obj, const char *key);
bool out_has_u64(const json_t *obj, const char *key);
uint64_t out_u64(const json_t *obj, const char *key);
/* A number as text ("1234"), or "-" when missing. */
const char *out_num(const json_t *obj, const char *key, char *buf, size_t size);
/* An object (array) member, or NULL when missing or of another type: every
 * jansson accessor takes NULL as empty, so callers need no check. */
const json_t *out_obj(const json_t *obj, const char *key);
const json_t *out_arr(const json_t *obj, const char *key);
/* Join an array of strings with @sep, adding elements while the text stays
 * within @max_width, then "+N more" ("a,b,+3 more"); "-" for none. Returns a
 * new string (caller frees), or NULL on ENOMEM. */
char *out_join(const json_t *arr, const char *sep, size_t max_width);
/* "117.7 MB" (SI units, as ip(8) prints them). */
char *out_bytes_unit(uint64_t bytes, char *buf, size_t size);

/* An aligned text table: columns, then rows of cells, then print. */
enum out_align { OUT_LEFT, OUT_RIGHT };

struct out_table;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* A table with one column per entry of the @headers array; a compile error
 * when @align has another length (a literal count once went stale). */
#define out_table_of(headers, align)                                             \
	((void)sizeof(char[1 - 2 * (ARRAY_SIZE(headers) != ARRAY_SIZE(align))]), \
	 out_table_new(ARRAY_SIZE(headers), headers, align))
struct out_table *out_table_new(unsigned int ncols, const char *const *headers,
				const enum out_align *align);
/* Append a row of @ncols cells (copied). Returns 0 or -ENOMEM. */
int out_table_row(struct out_table *t, const char *const *cells);
/* Print with two spaces between columns, each line starting with @indent. */
void out_table_print(const struct out_table *t, const char *indent);
void out_table_free(struct out_table *t);

/* A column of a table printed straight from a JSON array of objects. */
struct out_column {
	const char *header;
	const char *key;
	bool number; /* an integer, right-aligned; else a string */
};
#define OUT_COLUMNS_MAX 16

/* Print @rows (objects) after a blank line as a table of @ncols (at most
 * OUT_COLUMNS_MAX) columns, "-" where a row lacks a key; nothing for an
 * empty array. Returns 0 or -ENOMEM. */
int out_print_columns(const json_t *rows, const struct out_column *cols, size_t ncols);

/* --- cmd_stats.c -------------------------------------------------------------- */

/* Check the syntax of a stats/reset target (a prefix, an address or a policy
 * name); prints the error and returns CTL_EXIT_USAGE when it is bad. */
int ctl_check_target(const char *arg);

/* --- the commands (cmd_*.c) ---------------------------------------------------- */

typedef int (*ctl_cmd_fn)(const struct ctl *ctl, int argc, char **argv);

int cmd_apply(const struct ctl *ctl, int argc, char **argv);
int cmd_confirm(const struct ctl *ctl, int argc, char **argv);
int cmd_validate(const struct ctl *ctl, int argc, char **argv);
int cmd_remove(const struct ctl *ctl, int argc, char **argv);
int cmd_list(const struct ctl *ctl, int argc, char **argv);
int cmd_show(const struct ctl *ctl, int argc, char **argv);
int cmd_stats(const struct ctl *ctl, int argc, char **argv);
int cmd_reset(const struct ctl *ctl, int argc, char **argv);
int cmd_status(const struct ctl *ctl, int argc, char **argv);
int cmd_unblock(const struct ctl *ctl, int argc, char **argv);
int cmd_routes(const struct ctl *ctl, int argc, char **argv);
int cmd_monitor(const struct ctl *ctl, int argc, char **argv);
int cmd_capture(const struct ctl *ctl, int argc, char **argv);
int cmd_explain(const struct ctl *ctl, int argc, char **argv);

#endif
