/*
 * peakrss — run a command and report what it cost.
 *
 *	peakrss OUTFILE COMMAND [ARG]...
 *
 * Runs COMMAND (its stdin, stdout and stderr are ours), waits for it with
 * wait4() and appends one line to OUTFILE:
 *
 *	WALL_SECONDS MAXRSS_KIB WRITTEN_BYTES STATUS
 *
 * MAXRSS is the largest resident set of the command or of any descendant
 * it waited for (getrusage semantics); WRITTEN is ru_oublock * 512, the
 * bytes the command and its waited-for descendants caused to be written
 * to storage (the kernel's write_bytes accounting, counted when a page
 * is dirtied, so it is there even before writeback).  STATUS is the exit
 * status, or 128 + signal.  peakrss exits with STATUS too.
 */
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char *argv[])
{
	struct timespec t0, t1;
	struct rusage ru;
	pid_t pid;
	int st, code;
	FILE *fp;

	if (argc < 3) {
		fprintf(stderr, "usage: peakrss OUTFILE COMMAND [ARG]...\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid == -1) {
		fprintf(stderr, "peakrss: fork: %s\n", strerror(errno));
		return 2;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "peakrss: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	while (wait4(pid, &st, 0, &ru) == -1) {
		if (errno != EINTR) {
			fprintf(stderr, "peakrss: wait4: %s\n", strerror(errno));
			return 2;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if ((fp = fopen(argv[1], "a")) == NULL) {
		fprintf(stderr, "peakrss: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	fprintf(fp, "%.3f %ld %lld %d\n",
	    (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	    ru.ru_maxrss, (long long)ru.ru_oublock * 512, code);
	if (fclose(fp) == EOF)
		return 2;
	return code;
}
