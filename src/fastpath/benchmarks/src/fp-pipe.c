// SPDX-License-Identifier: MIT
/*
 * fp-pipe: round-trip latency between two processes ping-ponging one byte over two pipes
 * (wakeups, context switches, pipe read/write paths).
 *
 *   fp-pipe [-n ROUNDTRIPS] [-c CPU]    (default 20000 round trips, no pinning)
 *
 * -c CPU pins both processes to one CPU (a pure context-switch path, no cross-CPU wakeups).
 *
 * Prints one line: "fp-pipe roundtrips=N us_per_roundtrip=X".
 * Built statically by the fastpath lab and installed in its VM as /usr/bin/fp-pipe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void xfer(int rfd, int wfd, char *byte)
{
	if (wfd >= 0 && write(wfd, byte, 1) != 1) {
		perror("fp-pipe: write");
		exit(1);
	}
	if (rfd >= 0 && read(rfd, byte, 1) != 1) {
		perror("fp-pipe: read");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	long rounds = 20000, i;
	int ping[2], pong[2], opt, status;
	char byte = 'x', *end;
	double start, elapsed;
	pid_t child;

	while ((opt = getopt(argc, argv, "n:c:h")) != -1) {
		if (opt == 'c') {
			cpu_set_t set;
			long cpu = strtol(optarg, &end, 10);

			CPU_ZERO(&set);
			if (*optarg == '\0' || *end != '\0' || cpu < 0 || cpu >= CPU_SETSIZE) {
				fprintf(stderr, "fp-pipe: -c wants a CPU number, got '%s'\n", optarg);
				return 2;
			}
			CPU_SET(cpu, &set);
			if (sched_setaffinity(0, sizeof(set), &set)) {
				perror("fp-pipe: sched_setaffinity");
				return 1;
			}
		} else if (opt == 'n') {
			rounds = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || rounds <= 0) {
				fprintf(stderr, "fp-pipe: -n wants a positive integer, got '%s'\n", optarg);
				return 2;
			}
		} else {
			fprintf(stderr, "usage: fp-pipe [-n ROUNDTRIPS] [-c CPU]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (pipe(ping) || pipe(pong)) {
		perror("fp-pipe: pipe");
		return 1;
	}
	child = fork();
	if (child < 0) {
		perror("fp-pipe: fork");
		return 1;
	}
	if (child == 0) {
		/* Echo every byte back until the parent closes its end. */
		close(ping[1]);
		close(pong[0]);
		while (read(ping[0], &byte, 1) == 1)
			if (write(pong[1], &byte, 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(ping[0]);
	close(pong[1]);
	xfer(pong[0], ping[1], &byte);	/* warm up: one untimed round trip */
	start = now_us();
	for (i = 0; i < rounds; i++)
		xfer(pong[0], ping[1], &byte);
	elapsed = now_us() - start;
	close(ping[1]);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	printf("fp-pipe roundtrips=%ld us_per_roundtrip=%.3f\n", rounds, elapsed / rounds);
	return 0;
}
