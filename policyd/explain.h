/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * 'explain': which policy and rule decide a packet, and the state they
 * read, from the loaded program itself (BPF_PROG_TEST_RUN in its
 * no-side-effects explain mode), never from a second copy of the rules.
 */
#ifndef POLICYD_EXPLAIN_H
#define POLICYD_EXPLAIN_H

#include <stddef.h>

#include <jansson.h>

struct daemon;

/*
 * Explain the packet @args describes ({address, proto, dport, src, sport,
 * len, tcp_flags, icmp_type}, all strings, all but address optional; as
 * lib/packet.h). 0 with *@result a new object; or -EINVAL (bad args),
 * -EOPNOTSUPP (explain off or unsupported), -errno, with @err set.
 * Changes no state: reads maps only.
 */
int explain_packet(struct daemon *d, json_t *args, json_t **result, char *err, size_t errlen);

#endif
