// SPDX-License-Identifier: GPL-2.0-only
/*
 * The daemon's clocks: the program stamps with CLOCK_MONOTONIC (and its
 * coarse variant); people read wall-clock time. One conversion for every
 * command that shows a kernel time.
 */
#include <time.h>

#include "daemon.h"

uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * In nanoseconds throughout, so two calls for the same @t agree to the
 * second (a conversion through time(NULL) in whole seconds moves by one as
 * the wall clock ticks).
 */
void clock_to_iso(clockid_t id, uint64_t t, char *buf, size_t size)
{
	int64_t wall_ns = (int64_t)clock_ns(CLOCK_REALTIME) + (int64_t)(t - clock_ns(id));
	time_t wall = (time_t)(wall_ns / 1000000000ll);
	struct tm tm;

	gmtime_r(&wall, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
