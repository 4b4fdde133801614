// SPDX-License-Identifier: GPL-2.0-only
/*
 * "A.B.C.D:PORT" and "[IPv6]:PORT" to a socket address, with errors that
 * say which part is wrong.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostport.h"

int hostport_parse(const char *s, struct sockaddr_storage *ss, socklen_t *sslen, char *err,
		   size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *port;
	unsigned long v;
	size_t hlen;
	char *end;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':') {
			snprintf(err, errlen, "'%s': expected [IPv6]:PORT", s);
			return -EINVAL;
		}
		hlen = close - s - 1;
		if (hlen >= sizeof(host)) {
			snprintf(err, errlen, "'%s': not an IPv6 address in the brackets", s);
			return -EINVAL;
		}
		memcpy(host, s + 1, hlen);
		port = close + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			snprintf(err, errlen, "'%s': expected ADDR:PORT (e.g. 127.0.0.1:9101)", s);
			return -EINVAL;
		}
		if (strchr(s, ':') != colon) {
			snprintf(err, errlen, "'%s': an IPv6 address goes in brackets: [ADDR]:PORT",
				 s);
			return -EINVAL;
		}
		hlen = colon - s;
		if (hlen >= sizeof(host)) {
			snprintf(err, errlen, "'%s': not an IPv4 address before the port", s);
			return -EINVAL;
		}
		memcpy(host, s, hlen);
		port = colon + 1;
	}
	host[hlen] = '\0';

	errno = 0;
	v = strtoul(port, &end, 10);
	if (errno || *end || end == port || port[0] < '0' || port[0] > '9' || v < 1 || v > 65535) {
		snprintf(err, errlen, "'%s': the port must be a number from 1 to 65535", s);
		return -EINVAL;
	}
	if (s[0] == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
			snprintf(err, errlen, "'%s': '%s' is not an IPv6 address", s, host);
			return -EINVAL;
		}
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(v);
		*sslen = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (!host[0]) {
			snprintf(err, errlen,
				 "'%s': give an address (0.0.0.0 or [::] for every address)", s);
			return -EINVAL;
		}
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
			snprintf(err, errlen,
				 "'%s': '%s' is not an IPv4 address (names are not looked up)", s,
				 host);
			return -EINVAL;
		}
		sin->sin_family = AF_INET;
		sin->sin_port = htons(v);
		*sslen = sizeof(*sin);
	}
	return 0;
}
