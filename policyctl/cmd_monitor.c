// SPDX-License-Identifier: GPL-2.0-only
/*
 * 'monitor' and 'capture': subscribe to policyd's event stream, then print
 * each event as a line (or a JSON object per line), or write the sampled
 * packets to a pcap file with libpcap. Both end on Ctrl-C, --count,
 * --duration, or when policyd goes away.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "lib/event_codec.h"
#include "lib/policy_value.h"
#include "lib/proto.h"
#include "policyctl.h"

/* The longest --duration: a year (a capture for longer is a service). */
#define CTL_DURATION_MAX_NS (365ull * 86400 * 1000000000ull)

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

/* Ctrl-C and SIGTERM end the stream cleanly: poll() returns EINTR. */
static void catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Called for each event; returns 0 to go on (the event counts towards
 * --count), -1 to go on (it does not), or an exit status + 2 (> 1) to stop
 * with that failure. */
typedef int (*event_fn)(const json_t *ev, void *arg);
/* Called when the events that have come are handled (the socket has no
 * more for now): output goes out then, in one write per burst. Returns 0
 * or an exit status + 2. */
typedef int (*drained_fn)(void *arg);

struct stream {
	int fd;
	uint64_t count; /* stop after this many events; 0: no limit */
	uint64_t duration_ns; /* stop after this long; 0: no limit */
	uint64_t seen;
	uint64_t lost; /* events policyd dropped for this client */
};

/* Read events until a stop: Ctrl-C, the count, the duration (exit 0), or
 * the stream's end (policyd went away: exit 3). */
static int stream_run(const struct ctl *ctl, struct stream *st, event_fn fn, drained_fn drained,
		      void *arg)
{
	uint64_t deadline = st->duration_ns ? now_ns() + st->duration_ns : 0;
	struct proto_reader rd;
	int status = CTL_EXIT_OK, r;

	proto_reader_init(&rd);
	for (;;) {
		struct pollfd pfd = { .fd = st->fd, .events = POLLIN };
		int timeout = -1, n;

		if (stop_signal)
			break;
		if (deadline) {
			uint64_t now = now_ns();

			if (now >= deadline)
				break;
			timeout = (int)((deadline - now + 999999) / 1000000);
		}
		n = poll(&pfd, 1, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ctl_err("poll: %s", strerror(errno));
			status = CTL_EXIT_FAIL;
			break;
		}
		for (;;) {
			json_t *ev = NULL;
			int err = proto_reader_feed(&rd, st->fd, &ev);

			if (err == 0) {
				r = drained(arg);
				if (r > 1) {
					status = r - 2;
					goto out;
				}
				break;
			}
			if (err == -EPIPE || err == -ECONNRESET) {
				ctl_err("policyd at %s went away: the event stream ended",
					ctl->socket_path);
				status = CTL_EXIT_UNREACHABLE;
				goto out;
			}
			if (err == -EBADMSG || err == -EMSGSIZE) {
				status = ctl_unexpected_reply();
				goto out;
			}
			if (err < 0) {
				ctl_err("cannot read from policyd at %s: %s", ctl->socket_path,
					strerror(-err));
				status = err == -ENOMEM ? CTL_EXIT_FAIL : CTL_EXIT_UNREACHABLE;
				goto out;
			}
			st->lost += json_integer_value(json_object_get(ev, "lost"));
			r = fn(ev, arg);
			json_decref(ev);
			if (r > 1) {
				status = r - 2;
				goto out;
			}
			if (r == 0 && st->count && ++st->seen >= st->count)
				goto out;
			/* A stream that never pauses still ends on time. */
			if (stop_signal || (deadline && now_ns() >= deadline))
				goto out;
		}
	}
out:
	proto_reader_release(&rd);
	/* What was written is flushed whatever ended the stream. */
	r = drained(arg);
	if (r > 1 && status == CTL_EXIT_OK)
		status = r - 2;
	return status;
}

/* --- options ------------------------------------------------------------------ */

static int parse_types(const struct ctl *ctl, unsigned int *mask)
{
	char bad[40];

	*mask = EVENT_TYPES_ALL;
	if (!ctl->types)
		return CTL_EXIT_OK;
	if (event_types_parse(ctl->types, mask, bad, sizeof(bad))) {
		ctl_err("option '--type': unknown event type '%s' (expected a list of drop, block, unblock, log, sample, or all)",
			bad);
		return CTL_EXIT_USAGE;
	}
	return CTL_EXIT_OK;
}

static int parse_limits(const struct ctl *ctl, struct stream *st)
{
	char why[256];

	if (ctl->count) {
		char *end;
		unsigned long long v;

		errno = 0;
		v = strtoull(ctl->count, &end, 10);
		if (ctl->count[0] < '0' || ctl->count[0] > '9' || *end || errno || v == 0) {
			ctl_err("option '--count': '%s' is not a number of events of at least 1",
				ctl->count);
			return CTL_EXIT_USAGE;
		}
		st->count = v;
	}
	if (ctl->duration && policy_value_duration("--duration", ctl->duration, CTL_DURATION_MAX_NS,
						   &st->duration_ns, why, sizeof(why))) {
		ctl_err("%s", why);
		return CTL_EXIT_USAGE;
	}
	return CTL_EXIT_OK;
}

/* Subscribe: the monitor request, its reply checked; *@fd streams. */
static int subscribe(const struct ctl *ctl, const char *target, unsigned int types, bool data,
		     json_t **result, int *fd)
{
	json_t *args = json_pack("{s:o, s:b}", "types", event_types_to_json(types), "data", data);

	if (args && target)
		json_object_set_new(args, "target", json_string(target));
	if (!args) {
		ctl_err("out of memory");
		return CTL_EXIT_FAIL;
	}
	catch_stop_signals();
	return ctl_open_stream(ctl, "monitor", args, result, fd);
}

/* --- monitor ------------------------------------------------------------------ */

static int print_event(const json_t *ev, void *arg)
{
	const struct ctl *ctl = arg;
	json_int_t lost = json_integer_value(json_object_get(ev, "lost"));
	char line[512];

	if (ctl->json) {
		if (json_dumpf(ev, stdout, JSON_COMPACT) == 0)
			putchar('\n');
	} else {
		if (lost)
			printf("-- %" JSON_INTEGER_FORMAT
			       " events lost here: this monitor read too slowly\n",
			       lost);
		event_format_line(ev, line, sizeof(line));
		puts(line);
	}
	return 0;
}

/* Events reach a pipe as they come, not when stdio's buffer fills. */
static int flush_output(void *arg)
{
	if (fflush(stdout) || ferror(stdout)) {
		ctl_err("cannot write the output: %s", strerror(errno));
		return CTL_EXIT_FAIL + 2;
	}
	return 0;
}

int cmd_monitor(const struct ctl *ctl, int argc, char **argv)
{
	const char *target = argc ? argv[0] : NULL;
	struct stream st = { .fd = -1 };
	unsigned int types;
	json_t *res = NULL;
	int status;

	if (target && (status = ctl_check_target(target)) != CTL_EXIT_OK)
		return status;
	status = parse_types(ctl, &types);
	if (status == CTL_EXIT_OK)
		status = parse_limits(ctl, &st);
	if (status != CTL_EXIT_OK)
		return status;
	status = subscribe(ctl, target, types, false, &res, &st.fd);
	if (status != CTL_EXIT_OK)
		return status;
	json_decref(res);
	status = stream_run(ctl, &st, print_event, flush_output, (void *)ctl);
	close(st.fd);
	if (st.lost)
		ctl_err("%" PRIu64 " events were lost: this monitor read too slowly", st.lost);
	return status;
}

/* --- capture ------------------------------------------------------------------- */

struct capture {
	pcap_dumper_t *dumper;
	const char *path;
	uint64_t packets;
};

static int write_packet(const json_t *ev, void *arg)
{
	struct capture *cap = arg;
	const char *b64 = json_string_value(json_object_get(ev, "data"));
	uint64_t t = (uint64_t)json_integer_value(json_object_get(ev, "time_ns"));
	json_int_t len = json_integer_value(json_object_get(ev, "length"));
	uint8_t data[PD_SNAPLEN_MAX];
	struct pcap_pkthdr hdr;
	size_t caplen;

	/* A sample without bytes (the program could not read them) is no
	 * packet to write; anything else is a reply we do not understand. */
	if (!b64 || event_base64_decode(b64, data, sizeof(data), &caplen))
		return ctl_unexpected_reply() + 2;
	if (!caplen)
		return -1;
	hdr.ts.tv_sec = (time_t)(t / 1000000000ull);
	hdr.ts.tv_usec = (suseconds_t)(t % 1000000000ull / 1000);
	hdr.caplen = (bpf_u_int32)caplen;
	/* The packet's own length: what it was on the wire before the cut. */
	hdr.len = len > (json_int_t)caplen ? (bpf_u_int32)len : (bpf_u_int32)caplen;
	pcap_dump((u_char *)cap->dumper, &hdr, data);
	cap->packets++;
	return 0;
}

/* Packets reach the file as they come: a reader of a pipe ('-w -') or of
 * the growing file sees whole packets. */
static int flush_packets(void *arg)
{
	struct capture *cap = arg;

	if (pcap_dump_flush(cap->dumper)) {
		ctl_err("cannot write %s: %s", cap->path, strerror(errno));
		return CTL_EXIT_FAIL + 2;
	}
	return 0;
}

static void warn_no_sampling(const json_t *res, const char *target)
{
	if (json_array_size(json_object_get(res, "sampling")))
		return;
	ctl_err("warning: no policy applied under %s samples packets (a policy needs 'sample:'); nothing is captured until one does",
		target);
}

int cmd_capture(const struct ctl *ctl, int argc, char **argv)
{
	const char *target = argv[0];
	struct stream st = { .fd = -1 };
	struct capture cap = { .path = ctl->write };
	bool to_stdout = ctl->write && !strcmp(ctl->write, "-");
	pcap_t *pcap = NULL;
	json_t *res = NULL;
	int status;

	status = ctl_check_target(target);
	if (status == CTL_EXIT_OK)
		status = parse_limits(ctl, &st);
	if (status != CTL_EXIT_OK)
		return status;
	if (!ctl->write) {
		ctl_err("capture needs -w FILE (or -w - for standard output)");
		return CTL_EXIT_USAGE;
	}
	status = subscribe(ctl, target, EVENT_TYPE_BIT(PD_EV_SAMPLE), true, &res, &st.fd);
	if (status != CTL_EXIT_OK)
		return status;
	warn_no_sampling(res, target);
	json_decref(res);
	res = NULL;

	/* Raw IP: the samples start at the IP header, IPv4 or IPv6. */
	pcap = pcap_open_dead(DLT_RAW, 65535);
	if (!pcap) {
		ctl_err("out of memory");
		status = CTL_EXIT_FAIL;
		goto out;
	}
	/* libpcap takes "-" for standard output. */
	cap.dumper = pcap_dump_open(pcap, ctl->write);
	if (!cap.dumper) {
		ctl_err("cannot write %s: %s", ctl->write, pcap_geterr(pcap));
		status = CTL_EXIT_FAIL;
		goto out;
	}
	status = stream_run(ctl, &st, write_packet, flush_packets, &cap);
	pcap_dump_close(cap.dumper);
	if (ctl->json && !to_stdout) {
		res = json_pack("{s:s, s:I, s:I}", "file", ctl->write, "packets",
				(json_int_t)cap.packets, "lost", (json_int_t)st.lost);
		if (res)
			out_json(res);
	} else {
		fprintf(stderr, "policyctl: %" PRIu64 " packets written to %s, %" PRIu64 " lost\n",
			cap.packets, to_stdout ? "standard output" : ctl->write, st.lost);
	}
out:
	json_decref(res);
	if (pcap)
		pcap_close(pcap);
	close(st.fd);
	return status;
}
