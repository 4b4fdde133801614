// SPDX-License-Identifier: GPL-2.0-only
/*
 * policyctl: the command line. Parses global options (anywhere on the line)
 * and the command's own, checks the argument count, prints help, and hands
 * over to the command (cmd_*.c). Usage errors exit 2.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/proto.h"
#include "policyctl.h"

struct ctl_command {
	const char *name;
	const char *args; /* usage after the name */
	const char *summary; /* for the command list */
	const char *description; /* one line, for COMMAND --help */
	const char *option_help; /* lines for the command's own options, or NULL */
	const char *json_help; /* what --json prints, when not the daemon's result */
	bool offline; /* never talks to the daemon: no --socket */
	unsigned int options; /* CTL_OPT_* it accepts */
	int min_args;
	int max_args; /* -1: any number */
	ctl_cmd_fn run;
};

static const struct ctl_command commands[] = {
	{
		.name = "apply",
		.args = "FILE [--dry-run] [--diff] [--confirm DURATION]",
		.summary = "compile a policy file and install it",
		.description =
			"Compile FILE here, then have policyd install it atomically, replacing the policy of that name.",
		.option_help =
			"      --dry-run      compile, check and list the changes on the daemon, change\n"
			"                     nothing\n"
			"      --diff         also list what changes: mode, default, destinations, rules,\n"
			"                     and which counters and buckets are kept, new or released\n"
			"      --confirm DURATION\n"
			"                     roll back to the previous version (or remove a new policy)\n"
			"                     unless 'policyctl confirm' arrives within DURATION:\n"
			"                     seconds (90), or 60s, 5m, 1h; at most 24h\n",
		.options = CTL_OPT_DRY_RUN | CTL_OPT_DIFF | CTL_OPT_CONFIRM,
		.min_args = 1,
		.max_args = 1,
		.run = cmd_apply,
	},
	{
		.name = "confirm",
		.args = "[POLICY]",
		.summary = "keep what 'apply --confirm' applied",
		.description =
			"Confirm POLICY, or every policy, applied with 'apply --confirm': cancel its rollback.",
		.max_args = 1,
		.run = cmd_confirm,
	},
	{
		.name = "validate",
		.args = "FILE...",
		.summary = "compile policy files offline (no daemon needed)",
		.description =
			"Parse and compile each FILE with policyd's own compiler; nothing is sent to policyd.",
		.json_help = "print one JSON array of {file, ok, policy, error}",
		.offline = true,
		.min_args = 1,
		.max_args = -1,
		.run = cmd_validate,
	},
	{
		.name = "remove",
		.args = "POLICY",
		.summary = "remove a policy, restore or delete its routes",
		.description =
			"Remove POLICY: routes it replaced are restored, routes it added are deleted.",
		.min_args = 1,
		.max_args = 1,
		.run = cmd_remove,
	},
	{
		.name = "list",
		.args = "",
		.summary = "applied policies, their destinations and routes",
		.description =
			"List the applied policies with their mode, default, destinations and routes.",
		.run = cmd_list,
	},
	{
		.name = "show",
		.args = "POLICY",
		.summary = "a policy's applied source and compiled summary",
		.description = "Show POLICY as applied: its source text and its compiled rules.",
		.min_args = 1,
		.max_args = 1,
		.run = cmd_show,
	},
	{
		.name = "stats",
		.args = "[PREFIX|ADDRESS|POLICY] [--top N] [--realms]",
		.summary = "counters: totals, drop reasons, rules, hosts, lengths",
		.description =
			"Show the counters of the policies covering PREFIX or ADDRESS, of POLICY, or of all, and the busiest destination hosts with their rates.",
		.option_help =
			"      --top N        list the N busiest hosts (by packets) and only them\n"
			"                     (default: the 10 busiest, then hosts with a bucket,\n"
			"                     a block or quota use)\n"
			"      --realms       also the 64-bit counters of every route realm\n",
		.options = CTL_OPT_REALMS | CTL_OPT_TOP,
		.max_args = 1,
		.run = cmd_stats,
	},
	{
		.name = "reset",
		.args = "[PREFIX|ADDRESS|POLICY]",
		.summary = "zero counters (rate-limit buckets stay)",
		.description =
			"Zero the counters of the policies covering PREFIX or ADDRESS, of POLICY, or of all: packets, bytes, verdicts, drop reasons, histogram, and the per-host counters of the hosts covered. Rate-limit buckets are left as they are.",
		.max_args = 1,
		.run = cmd_reset,
	},
	{
		.name = "unblock",
		.args = "ADDRESS",
		.summary = "lift the block of a host at once",
		.description =
			"Lift at once the blocks (block: in a policy) that hold ADDRESS, in every policy; its block window starts over.",
		.min_args = 1,
		.max_args = 1,
		.run = cmd_unblock,
	},
	{
		.name = "explain",
		.args = "ADDRESS [PROTO [DPORT]] [--src ADDR] [--len N]",
		.summary = "which policy and rule decide a packet, and why",
		.description =
			"Run policyd's program on a packet to ADDRESS, without changing any state, and show the policy, prefix and rule that decide it, the limit's bucket level, the quota, the block and the verdict. PROTO: tcp, udp, sctp, icmp, icmpv6, another name or 0-255 (default: icmp, icmpv6 for IPv6, echo-request); DPORT: with tcp, udp, sctp (default 0).",
		.option_help =
			"      --src ADDR     source address (default 0.0.0.0, or :: for IPv6)\n"
			"      --sport PORT   source port (default 40000)\n"
			"      --len N        IP packet length in bytes (default 100; at least the\n"
			"                     headers, at most 3000)\n"
			"      --tcp-flags FLAGS\n"
			"                     TCP flags, as syn,ack, or none (default syn)\n"
			"      --icmp-type TYPE\n"
			"                     ICMP(v6) type name or number (default echo-request)\n",
		.options = CTL_OPT_PACKET,
		.min_args = 1,
		.max_args = 3,
		.run = cmd_explain,
	},
	{
		.name = "monitor",
		.args = "[PREFIX|ADDRESS|POLICY] [--type TYPES] [--count N] [--duration T]",
		.summary = "live events: drops, blocks, logs, samples",
		.description =
			"Print policyd's events as they happen, one line each (or one JSON object per line with --json): drops, blocks and unblocks, log: true matches, sampled packets, for destinations inside PREFIX or ADDRESS, of POLICY, or all. Ends on Ctrl-C (exit 0) or when policyd goes away (exit 3).",
		.option_help =
			"      --type TYPES   only these, comma-separated: drop, block (with unblock),\n"
			"                     unblock, log, sample, or all (the default)\n"
			"      --count N      end after N events\n"
			"      --duration T   end after T (10s, 5m, 1h)\n",
		.json_help = "print one JSON object per event and line",
		.options = CTL_OPT_TYPE | CTL_OPT_COUNT | CTL_OPT_DURATION,
		.max_args = 1,
		.run = cmd_monitor,
	},
	{
		.name = "capture",
		.args = "PREFIX|ADDRESS|POLICY -w FILE [--count N] [--duration T]",
		.summary = "write sampled packets to a pcap file",
		.description =
			"Write the packets that policies sample (sample: in a policy) towards PREFIX or ADDRESS, or of POLICY, to FILE in pcap format (raw IP), until Ctrl-C, --count or --duration; then print how many were written and lost.",
		.option_help =
			"  -w, --write FILE   the pcap file to write ('-': standard output)\n"
			"      --count N      end after N packets\n"
			"      --duration T   end after T (10s, 5m, 1h)\n",
		.json_help = "print the summary as one JSON document {file, packets, lost}",
		.options = CTL_OPT_WRITE | CTL_OPT_COUNT | CTL_OPT_DURATION,
		.min_args = 1,
		.max_args = 1,
		.run = cmd_capture,
	},
	{
		.name = "routes",
		.args = "",
		.summary = "the routes policies own, and whether each is in place",
		.description =
			"List every route the applied policies own (replaced or added), with the route as installed and whether the kernel still has it with policyd's program.",
		.run = cmd_routes,
	},
	{
		.name = "status",
		.args = "",
		.summary = "daemon, BPF program, map fill levels",
		.description =
			"Show the daemon, its BPF program, the live generation and how full the maps are.",
		.run = cmd_status,
	},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char socket_option_help[] =
	"      --socket PATH  policyd's control socket\n"
	"                     (default: $POLICYD_SOCKET, else " PROTO_DEFAULT_SOCKET ")\n";

static void usage_overall(void)
{
	size_t i;

	printf("Usage: policyctl [--json] [--socket PATH] COMMAND [ARGS...]\n"
	       "Control policyd, the per-destination packet filter for Linux routers.\n"
	       "\n"
	       "Commands:\n");
	for (i = 0; i < NCOMMANDS; i++) {
		char left[96];

		snprintf(left, sizeof(left), "%s %s", commands[i].name, commands[i].args);
		/* A long synopsis gets a line of its own, the columns stay aligned. */
		if (strlen(left) > 30)
			printf("  %s\n  %-30s %s\n", left, "", commands[i].summary);
		else
			printf("  %-30s %s\n", left, commands[i].summary);
	}
	printf("  %-30s %s\n", "help [COMMAND]", "this help, or a command's");
	printf("\n"
	       "Options (before or after the command):\n"
	       "      --json         print the result as one JSON document\n"
	       "%s"
	       "  -h, --help         show this help; 'policyctl COMMAND --help' for a command's\n"
	       "      --version      print the version and exit\n"
	       "\n"
	       "Exit status: 0 success, 1 failure reported by policyd or the compiler,\n"
	       "2 usage error, 3 policyd not reachable.\n",
	       socket_option_help);
}

static void usage_command(const struct ctl_command *cmd)
{
	printf("Usage: policyctl %s%s%s\n"
	       "%s\n"
	       "\n"
	       "Options:\n"
	       "%s"
	       "      --json         %s\n"
	       "%s"
	       "  -h, --help         show this help\n",
	       cmd->name, *cmd->args ? " " : "", cmd->args, cmd->description,
	       cmd->option_help ? cmd->option_help : "",
	       cmd->json_help ? cmd->json_help : "print policyd's result as one JSON document",
	       cmd->offline ? "" : socket_option_help);
}

static const struct ctl_command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++) {
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	}
	return NULL;
}

/* "help [COMMAND]" */
static int run_help(int argc, char **argv)
{
	const struct ctl_command *cmd;

	if (argc == 0 || !strcmp(argv[0], "help")) {
		usage_overall();
		return CTL_EXIT_OK;
	}
	if (argc > 1) {
		ctl_err("unexpected argument '%s' (usage: policyctl help [COMMAND])", argv[1]);
		return CTL_EXIT_USAGE;
	}
	cmd = find_command(argv[0]);
	if (!cmd) {
		ctl_err("unknown command '%s' (try 'policyctl --help')", argv[0]);
		return CTL_EXIT_USAGE;
	}
	usage_command(cmd);
	return CTL_EXIT_OK;
}

enum {
	OPT_JSON = 0x100,
	OPT_SOCKET,
	OPT_VERSION,
	OPT_DRY_RUN,
	OPT_DIFF,
	OPT_CONFIRM,
	OPT_REALMS,
	OPT_TOP,
	OPT_SRC,
	OPT_SPORT,
	OPT_LEN,
	OPT_TCP_FLAGS,
	OPT_ICMP_TYPE,
	OPT_TYPE,
	OPT_COUNT,
	OPT_DURATION,
};

static const struct option long_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "diff", no_argument, NULL, OPT_DIFF },
	{ "confirm", required_argument, NULL, OPT_CONFIRM },
	{ "realms", no_argument, NULL, OPT_REALMS },
	{ "top", required_argument, NULL, OPT_TOP },
	{ "src", required_argument, NULL, OPT_SRC },
	{ "sport", required_argument, NULL, OPT_SPORT },
	{ "len", required_argument, NULL, OPT_LEN },
	{ "tcp-flags", required_argument, NULL, OPT_TCP_FLAGS },
	{ "icmp-type", required_argument, NULL, OPT_ICMP_TYPE },
	{ "type", required_argument, NULL, OPT_TYPE },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "write", required_argument, NULL, 'w' },
	{ NULL, 0, NULL, 0 },
};

static const char *long_option_name(int val)
{
	const struct option *o;

	for (o = long_options; o->name; o++) {
		if (o->val == val)
			return o->name;
	}
	return "?";
}

/* The name of the lowest option bit in @opts. */
static const char *option_name(unsigned int opts)
{
	switch (opts & -opts) {
	case CTL_OPT_DRY_RUN:
		return "--dry-run";
	case CTL_OPT_DIFF:
		return "--diff";
	case CTL_OPT_CONFIRM:
		return "--confirm";
	case CTL_OPT_REALMS:
		return "--realms";
	case CTL_OPT_TOP:
		return "--top";
	case CTL_OPT_SRC:
		return "--src";
	case CTL_OPT_SPORT:
		return "--sport";
	case CTL_OPT_LEN:
		return "--len";
	case CTL_OPT_TCP_FLAGS:
		return "--tcp-flags";
	case CTL_OPT_ICMP_TYPE:
		return "--icmp-type";
	case CTL_OPT_TYPE:
		return "--type";
	case CTL_OPT_COUNT:
		return "--count";
	case CTL_OPT_DURATION:
		return "--duration";
	case CTL_OPT_WRITE:
		return "-w";
	default:
		return "?";
	}
}

/*
 * A --confirm duration: whole seconds ("90"), or a number and a unit s, m or
 * h ("60s", "5m", "1h"). Returns 0 with *@seconds set, -EDOM for zero,
 * -ERANGE over CTL_CONFIRM_MAX_S, -EINVAL for anything else (an empty string,
 * a sign, a fraction, another unit).
 */
static int parse_duration(const char *s, unsigned int *seconds)
{
	unsigned long long n = 0, unit = 1;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		/* Saturate: the range check below still sees "too long". */
		if (n <= CTL_CONFIRM_MAX_S)
			n = n * 10 + (unsigned int)(*p - '0');
	}
	if (*p) {
		if (p[1])
			return -EINVAL;
		switch (*p) {
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		default:
			return -EINVAL;
		}
	}
	if (n == 0)
		return -EDOM;
	if (n > CTL_CONFIRM_MAX_S || n * unit > CTL_CONFIRM_MAX_S)
		return -ERANGE;
	*seconds = (unsigned int)(n * unit);
	return 0;
}

/* Parse the whole line. Returns the exit status to stop with, or -1 to run
 * @*cmd with the positional arguments left in @args/@nargs. */
static int parse_line(int argc, char **argv, struct ctl *ctl, const struct ctl_command **cmd,
		      char **args, int *nargs)
{
	const char *command = NULL;
	unsigned int given = 0;
	bool help = false, version = false;
	int c, err, n = 0;

	opterr = 0;
	/* '-': options and operands in order, whatever POSIXLY_CORRECT says, so
	 * global options work on either side of the command. */
	while ((c = getopt_long(argc, argv, "-:hw:", long_options, NULL)) != -1) {
		switch (c) {
		case 1:
			if (!command)
				command = optarg;
			else
				args[n++] = optarg;
			break;
		case OPT_JSON:
			ctl->json = true;
			break;
		case OPT_SOCKET:
			if (!*optarg) {
				ctl_err("option '--socket' needs a path");
				return CTL_EXIT_USAGE;
			}
			ctl->socket_path = optarg;
			break;
		case 'h':
			help = true;
			break;
		case OPT_VERSION:
			version = true;
			break;
		case OPT_TYPE:
			ctl->types = optarg;
			given |= CTL_OPT_TYPE;
			break;
		case OPT_COUNT:
			ctl->count = optarg;
			given |= CTL_OPT_COUNT;
			break;
		case OPT_DURATION:
			ctl->duration = optarg;
			given |= CTL_OPT_DURATION;
			break;
		case 'w':
			ctl->write = optarg;
			given |= CTL_OPT_WRITE;
			break;
		case OPT_DRY_RUN:
			ctl->dry_run = true;
			given |= CTL_OPT_DRY_RUN;
			break;
		case OPT_DIFF:
			ctl->diff = true;
			given |= CTL_OPT_DIFF;
			break;
		case OPT_REALMS:
			ctl->realms = true;
			given |= CTL_OPT_REALMS;
			break;
		case OPT_TOP: {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' || *end || errno || v == 0 ||
			    v > CTL_TOP_MAX) {
				ctl_err("option '--top': '%s' is not a number of hosts from 1 to %u",
					optarg, CTL_TOP_MAX);
				return CTL_EXIT_USAGE;
			}
			ctl->top = (unsigned int)v;
			given |= CTL_OPT_TOP;
			break;
		}
		case OPT_SRC:
			ctl->src = optarg;
			given |= CTL_OPT_SRC;
			break;
		case OPT_SPORT:
			ctl->sport = optarg;
			given |= CTL_OPT_SPORT;
			break;
		case OPT_LEN:
			ctl->len = optarg;
			given |= CTL_OPT_LEN;
			break;
		case OPT_TCP_FLAGS:
			ctl->tcp_flags = optarg;
			given |= CTL_OPT_TCP_FLAGS;
			break;
		case OPT_ICMP_TYPE:
			ctl->icmp_type = optarg;
			given |= CTL_OPT_ICMP_TYPE;
			break;
		case OPT_CONFIRM:
			err = parse_duration(optarg, &ctl->confirm_s);
			if (err == -EDOM) {
				ctl_err("option '--confirm': duration '%s' is zero (the shortest is 1s)",
					optarg);
				return CTL_EXIT_USAGE;
			}
			if (err == -ERANGE) {
				ctl_err("option '--confirm': duration '%s' is longer than the limit of 24h",
					optarg);
				return CTL_EXIT_USAGE;
			}
			if (err) {
				ctl_err("option '--confirm': invalid duration '%s' (expected seconds, as 90, or a number with a unit: 60s, 5m, 1h)",
					optarg);
				return CTL_EXIT_USAGE;
			}
			given |= CTL_OPT_CONFIRM;
			break;
		case ':':
			ctl_err("option '%s' needs an argument (try 'policyctl --help')",
				argv[optind - 1]);
			return CTL_EXIT_USAGE;
		default:
			/* getopt leaves in optopt the short option it did not know, the
			 * long option given an argument it takes none, or 0. */
			if (optopt >= OPT_JSON)
				ctl_err("option '--%s' takes no argument",
					long_option_name(optopt));
			else if (optopt)
				ctl_err("unknown option '-%c' (try 'policyctl --help')", optopt);
			else
				ctl_err("unknown option '%s' (try 'policyctl --help')",
					argv[optind - 1]);
			return CTL_EXIT_USAGE;
		}
	}
	/* After "--", everything is an operand (a file named "-x", say). */
	for (; optind < argc; optind++) {
		if (!command)
			command = argv[optind];
		else
			args[n++] = argv[optind];
	}

	if (version) {
		printf("policyctl %s (control protocol %d)\n", POLICYD_VERSION, PROTO_VERSION);
		return CTL_EXIT_OK;
	}
	if (!command) {
		if (help) {
			usage_overall();
			return CTL_EXIT_OK;
		}
		ctl_err("missing command (try 'policyctl --help')");
		return CTL_EXIT_USAGE;
	}
	if (!strcmp(command, "help")) {
		if (help) {
			usage_overall();
			return CTL_EXIT_OK;
		}
		return run_help(n, args);
	}
	*cmd = find_command(command);
	if (!*cmd) {
		ctl_err("unknown command '%s' (try 'policyctl --help')", command);
		return CTL_EXIT_USAGE;
	}
	if (help) {
		usage_command(*cmd);
		return CTL_EXIT_OK;
	}
	if (given & ~(*cmd)->options) {
		ctl_err("option '%s' does not apply to '%s' (try 'policyctl %s --help')",
			option_name(given & ~(*cmd)->options), command, command);
		return CTL_EXIT_USAGE;
	}
	if ((given & CTL_OPT_DRY_RUN) && (given & CTL_OPT_CONFIRM)) {
		ctl_err("options '--dry-run' and '--confirm' exclude each other: a dry run changes nothing to roll back");
		return CTL_EXIT_USAGE;
	}
	if (n < (*cmd)->min_args) {
		ctl_err("missing argument (usage: policyctl %s %s)", command, (*cmd)->args);
		return CTL_EXIT_USAGE;
	}
	if ((*cmd)->max_args >= 0 && n > (*cmd)->max_args) {
		ctl_err("unexpected argument '%s' (usage: policyctl %s%s%s)",
			args[(*cmd)->max_args], command, *(*cmd)->args ? " " : "", (*cmd)->args);
		return CTL_EXIT_USAGE;
	}
	*nargs = n;
	return -1;
}

int main(int argc, char **argv)
{
	struct ctl ctl = { .socket_path = PROTO_DEFAULT_SOCKET };
	const struct ctl_command *cmd = NULL;
	const char *env = getenv("POLICYD_SOCKET");
	char **args;
	int status, nargs = 0;

	/* The shared library logs through this; its messages must name us. */
	log_init("policyctl", LOG_LEVEL_WARN);
	if (env && *env)
		ctl.socket_path = env;
	/* Operands are at most every argument: no counting pass needed. */
	args = calloc(argc + 1, sizeof(*args));
	if (!args) {
		ctl_err("out of memory");
		return CTL_EXIT_FAIL;
	}
	status = parse_line(argc, argv, &ctl, &cmd, args, &nargs);
	if (status < 0)
		status = cmd->run(&ctl, nargs, args);
	free(args);
	return out_finish(status);
}
