/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Listening addresses given on the command line (policyd --metrics):
 * "A.B.C.D:PORT" or "[IPv6]:PORT", numeric only, so a typo is an error at
 * start rather than a name lookup.
 */
#ifndef POLICYD_HOSTPORT_H
#define POLICYD_HOSTPORT_H

#include <stddef.h>
#include <sys/socket.h>

/* Parse @s into @ss/@sslen (port 1-65535). On error, -EINVAL and a
 * sentence for the user in @err naming what is wrong. */
int hostport_parse(const char *s, struct sockaddr_storage *ss, socklen_t *sslen, char *err,
		   size_t errlen);

#endif
