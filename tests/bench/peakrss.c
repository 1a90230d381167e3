/*
 * peakrss — run a command and report what it cost.
 *
 *	peakrss OUTFILE COMMAND [ARG]...
 *
 * Runs COMMAND (its stdin, stdout and stderr are ours), waits for it with
 * wait4() and appends one line to OUTFILE:
 *
 *	WALL_SECONDS MAXRSS_KIB WRITTEN_BYTES STATUS WCHAR RCHAR CPU_SECONDS
 *
 * MAXRSS is the largest resident set of the command or of any descendant
 * it waited for (getrusage semantics); WRITTEN is ru_oublock * 512, the
 * bytes the command and its waited-for descendants caused to be written
 * to storage (the kernel's write_bytes accounting, counted when a page
 * is dirtied, so it is there even before writeback).  STATUS is the exit
 * status, or 128 + signal.  peakrss exits with STATUS too.
 *
 * WCHAR and RCHAR are the bytes the command and its waited-for
 * descendants passed to write(2) and read(2) (and their kin: pwrite,
 * writev, copy_file_range, sendfile), from /proc/PID/io, read while the
 * command is a zombie (waitid WNOWAIT): the kernel adds a reaped
 * child's counts to its parent's there, so the chain `timeout TOOL`
 * still counts TOOL.  This is the tool's own account of what it wrote,
 * whatever the file system then did with it; -1 where /proc is missing.
 * CPU_SECONDS is user + system time of the command and its waited-for
 * descendants (divided by WALL: how many cores it kept busy).
 */
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
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
	siginfo_t si;
	char path[64], line[128];
	long long v, wchar = -1, rchar = -1;
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
	/* Read its I/O counts before it is reaped. */
	while (waitid(P_PID, pid, &si, WEXITED | WNOWAIT) == -1) {
		if (errno != EINTR) {
			fprintf(stderr, "peakrss: waitid: %s\n",
			    strerror(errno));
			return 2;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	snprintf(path, sizeof(path), "/proc/%ld/io", (long)pid);
	if ((fp = fopen(path, "r")) != NULL) {
		while (fgets(line, sizeof(line), fp) != NULL) {
			if (sscanf(line, "wchar: %lld", &v) == 1)
				wchar = v;
			else if (sscanf(line, "rchar: %lld", &v) == 1)
				rchar = v;
		}
		fclose(fp);
	}
	while (wait4(pid, &st, 0, &ru) == -1) {
		if (errno != EINTR) {
			fprintf(stderr, "peakrss: wait4: %s\n",
			    strerror(errno));
			return 2;
		}
	}
	code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if ((fp = fopen(argv[1], "a")) == NULL) {
		fprintf(stderr, "peakrss: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	fprintf(fp, "%.3f %ld %lld %d %lld %lld %.3f\n",
	    (double)(t1.tv_sec - t0.tv_sec) +
		(double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	    ru.ru_maxrss, (long long)ru.ru_oublock * 512, code, wchar, rchar,
	    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	if (fclose(fp) == EOF)
		return 2;
	return code;
}
