// SPDX-License-Identifier: MIT
/*
 * fp-syscall: cost of a minimal system call (getppid) in a tight loop.
 *
 *   fp-syscall [-n ITERS]      (default 1000000)
 *
 * Prints one line: "fp-syscall iterations=N ns_per_call=X".
 * Built statically by the fastpath lab and installed in its VM as /usr/bin/fp-syscall.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static long parse_count(const char *arg)
{
	char *end;
	long n = strtol(arg, &end, 10);

	if (*arg == '\0' || *end != '\0' || n <= 0) {
		fprintf(stderr, "fp-syscall: -n wants a positive integer, got '%s'\n", arg);
		exit(2);
	}
	return n;
}

int main(int argc, char **argv)
{
	long iters = 1000000, i;
	double start, elapsed;
	int opt;

	while ((opt = getopt(argc, argv, "n:h")) != -1) {
		if (opt == 'n') {
			iters = parse_count(optarg);
		} else {
			fprintf(stderr, "usage: fp-syscall [-n ITERS]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	/* Touch the path once so the first call's page faults are not timed. */
	syscall(SYS_getppid);
	start = now_ns();
	for (i = 0; i < iters; i++)
		syscall(SYS_getppid);
	elapsed = now_ns() - start;
	printf("fp-syscall iterations=%ld ns_per_call=%.2f\n", iters, elapsed / iters);
	return 0;
}
