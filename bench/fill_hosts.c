// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fill policyd's per-host table for bench/hosts.sh: one BPF_PROG_TEST_RUN of
 * the daemon's pinned program per destination host, COUNT hosts from FIRST up,
 * spread over the CPUs (test_run counts on the caller's CPU, and each CPU of
 * the table's per-CPU LRU holds its share of the entries).
 * Usage: fill_hosts PINNED-PROG FIRST-IPV4 COUNT
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <sys/wait.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

struct frame {
	struct ethhdr eth;
	struct iphdr ip;
	struct udphdr udp;
	char payload[72]; /* a 100-byte IP packet */
} __attribute__((packed));

/* Run the program once for each host i of [@from, @to) on this CPU. */
static int fill(int prog, uint32_t first, uint32_t from, uint32_t to)
{
	struct frame f = {};

	f.eth.h_proto = htons(ETH_P_IP);
	f.ip.version = 4;
	f.ip.ihl = 5;
	f.ip.ttl = 64;
	f.ip.protocol = IPPROTO_UDP;
	f.ip.tot_len = htons(sizeof(f) - sizeof(f.eth));
	f.ip.saddr = htonl(0xc6120002); /* 198.18.0.2 */
	f.udp.source = htons(40000);
	f.udp.dest = htons(7000);
	f.udp.len = htons(sizeof(f.udp) + sizeof(f.payload));
	for (uint32_t i = from; i < to; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = &f, .data_size_in = sizeof(f),
			    .repeat = 1);

		f.ip.daddr = htonl(first + i);
		if (bpf_prog_test_run_opts(prog, &opts)) {
			fprintf(stderr, "fill_hosts: test_run: %s\n", strerror(errno));
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct in_addr first;
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned long count;
	int prog, failed = 0;

	if (argc != 4 || inet_pton(AF_INET, argv[2], &first) != 1) {
		fprintf(stderr, "usage: fill_hosts PINNED-PROG FIRST-IPV4 COUNT\n");
		return 2;
	}
	count = strtoul(argv[3], NULL, 10);
	prog = bpf_obj_get(argv[1]);
	if (prog < 0) {
		fprintf(stderr, "fill_hosts: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (ncpus < 1)
		ncpus = 1;
	for (long cpu = 0; cpu < ncpus; cpu++) {
		uint32_t from = count * cpu / ncpus, to = count * (cpu + 1) / ncpus;
		pid_t pid = fork();

		if (pid < 0) {
			perror("fill_hosts: fork");
			return 1;
		}
		if (pid == 0) {
			cpu_set_t set;

			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			if (sched_setaffinity(0, sizeof(set), &set))
				perror("fill_hosts: sched_setaffinity");
			_exit(fill(prog, ntohl(first.s_addr), from, to));
		}
	}
	for (long cpu = 0; cpu < ncpus; cpu++) {
		int status;

		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			failed = 1;
	}
	return failed;
}
