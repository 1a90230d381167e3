/*
 * retryjob.h — the retry job: one command to run again later (F3).
 *
 * A job is a plain text file in STORE/retry/, named by its id.  It holds
 * the complete command to run again, so a retry does exactly what the
 * original command would have done for that DP (the original options,
 * --refresh-existing and --inplace included, with the target narrowed to
 * the DP by "--only DP" and the version fixed by "--version N").
 * pkgpush queues one job per (package, DP) that failed; "pkgretry add --
 * COMMAND..." queues any pkgdist command; pkgretry runs them.
 *
 * The file (pkgretry(1)), fields in this order, each exactly once except
 * "arg" (one line per argument, at least one), '\n' after every line:
 *
 *   pkgdist-retry 1
 *   id office97@dp2
 *   created 1700000000
 *   attempts 0
 *   next 1700000000
 *   package office97          ("-" when the command names none)
 *   dp dp2                    ("-" when none)
 *   version 7                 (0 when none)
 *   dir /root                 (working directory of the original command)
 *   error pkgpush:\040dp2:\040...   (last error, escaped; "-" if none)
 *   arg pkgpush
 *   arg -s
 *   arg /var/lib/pkgdist
 *   ...
 *
 * A job in STORE/retry/failed/ has two more lines before the first arg:
 * "failed TIME" and "reason TEXT" (escaped).  Text values (dir, error,
 * reason, arg) are escaped with path_escape() (manifest.h: space,
 * backslash, bytes below 0x21 and 0x7f as \ooo), so spaces, newlines and
 * any other byte but NUL survive, and an empty argument is written as
 * "arg" followed by one space and nothing.
 *
 * Ids: "PKG@DP" for a job on one DP, "PKG+TOOL" for a command on a
 * package that names no DP ("office97+pkgstage"), else "cmd-" and 16 hex
 * digits of the SHA-256 of the argv.  An id is also the file name, so a
 * newer job for the same pair is renamed over the older one: never two
 * jobs for one pair.
 *
 * The parser treats every job file as hostile: size, argument count and
 * lengths are bounded, every field is checked, numbers are plain decimal
 * without overflow, the id must be the file name and match the package
 * and DP, and argv[0] must be the bare name of a pkgdist tool
 * (retryjob_tool_valid()): never a path, never another program.
 *
 * Locking (lock.h), under STORE/retry/: ".lock" is held briefly by every
 * writer of a job file (queue, update after a run, drop, move to
 * failed/); ".locks/ID" is held by the pkgretry run that runs job ID for
 * the whole run, taken with timeout 0 so a second run skips the job.
 * While pkgretry runs a job it sets PKGDIST_RETRY_JOB=ID in the child's
 * environment; retryjob_queue() of that same id then writes nothing (the
 * running pkgretry records the outcome, so attempts keep counting).
 *
 * All functions return 0 on success, -1 with err.h set on failure, and
 * never print.
 */
#ifndef PKGDIST_RETRYJOB_H
#define PKGDIST_RETRYJOB_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define RETRYJOB_MAGIC "pkgdist-retry 1"
#define RETRYJOB_DIR "retry"	     /* under the store */
#define RETRYJOB_FAILED_DIR "failed" /* under RETRYJOB_DIR */
#define RETRYJOB_LOCK ".lock"	     /* short writer lock */
#define RETRYJOB_LOCKS_DIR ".locks"  /* per-job run locks */
#define RETRYJOB_ENV "PKGDIST_RETRY_JOB"

#define RETRYJOB_MAX_BYTES (256u * 1024) /* whole file */
#define RETRYJOB_MAX_ARGS 256
#define RETRYJOB_ARG_MAX 4096  /* one argument, unescaped */
#define RETRYJOB_TEXT_MAX 4096 /* error, reason, dir, unescaped */
#define RETRYJOB_ID_MAX 140    /* "PKG@DP": 64 + 1 + 64, + slack */

struct retryjob {
	char id[RETRYJOB_ID_MAX + 1];
	int64_t created;   /* seconds since the epoch (fault_now()) */
	unsigned attempts; /* runs that failed so far */
	int64_t next;	   /* due at or after this time */
	char *package;	   /* NULL when none */
	char *dp;	   /* NULL when none */
	uint64_t version;  /* 0 when none */
	char *dir;	   /* absolute working directory */
	char *error;	   /* last error; NULL when none */
	int64_t failed;	   /* failed/ jobs: when; 0 otherwise */
	char *reason;	   /* failed/ jobs: why; NULL otherwise */
	int argc;
	char **argv; /* argc strings + NULL; argv[0] a tool name */
};

void retryjob_init(struct retryjob *j);
void retryjob_free(struct retryjob *j);

/* True when name is one of the programs a job may run: "pkgdiff",
 * "pkgstage", "pkgpush", "pkgdist-update". */
bool retryjob_tool_valid(const char *name);

/* True when s is a well-formed id (the characters of name_valid() plus
 * '@' and '+', not starting with '.', at most RETRYJOB_ID_MAX bytes). */
bool retryjob_id_valid(const char *s);

/*
 * Fill j for a new job: argv copied (argv[0] reduced to its basename and
 * checked with retryjob_tool_valid()), created = next = fault_now(),
 * attempts 0, dir = getcwd().  package, dp may be NULL, version 0 and
 * error NULL when unknown.  When package and dp are both NULL they are
 * guessed from argv (retryjob_guess()).  The id follows from them.
 */
int retryjob_make(struct retryjob *j, const char *package, const char *dp,
    uint64_t version, int argc, char *const argv[], const char *error);

/*
 * What a command names, for "pkgretry add": for pkgpush, its package
 * operand, the DP when exactly one is named by --only or --dp (and no
 * --group/--all/--refresh-existing without --only), and --version; for
 * "pkgstage add" and pkgdist-update, the package.
 * Outputs are malloc'd or NULL / 0 when not named.  A package operand
 * that is not a valid name is an error: no job for it could succeed.
 */
int retryjob_guess(int argc, char *const argv[], char **package, char **dp,
    uint64_t *version);

/*
 * The argv a pkgpush retry runs for one DP, built from the options as
 * getopt_long() parses argv with shortopts and longopts (pkgpush's own
 * tables), never by matching the words: "pkgpush", then every option in
 * its one full spelling ("--only" for "--onl" or "--only=X", "-j" for a
 * short one), each value a word of its own, options whose getopt value
 * is in drop (0-terminated: pkgpush's --only and --version) left out;
 * then "--version N", "--only DP", "--" and the operands.  A word getopt
 * refuses is an error.  getopt's state is reset (optind 0) before and
 * after, and it prints nothing.  *out is a malloc'd NULL-terminated
 * vector of malloc'd strings (retryjob_argv_free()).
 */
int retryjob_pkgpush_argv(int argc, char *const argv[], const char *shortopts,
    const struct option *longopts, const int *drop, const char *dp,
    uint64_t version, int *outc, char ***out);
void retryjob_argv_free(int argc, char **argv);

/*
 * Is j's command one a retry job may carry, in the store at path store?
 * Each tool has a fixed list of options (exact spellings: no
 * abbreviation, no -o, no pkgpush --serve) and, for pkgstage and
 * pkgdiff, of subcommands (pkgstage add and import; pkgdiff diff, scan,
 * verify); a -s/--store value must name that same store (a relative one
 * from j->dir).  0 yes; -1 with the reason ("option '-o' is not one a
 * retry job of pkgdiff may carry: refused").
 */
int retryjob_command_check(const struct retryjob *j, const char *store);

/* Write a command as a person reads it: shell words (quoted where a
 * shell would need it), its program by its bare name, bytes a terminal
 * would act on as \ooo; no newline.  Errors are the stream's. */
void retryjob_show_command(int argc, char *const argv[], FILE *fp);

/* Parse a job file's bytes; name is the file name (it must equal the
 * id) and is used in messages ("NAME: line N: what is wrong").  failed
 * says whether the file is in failed/ (then "failed"/"reason" are required,
 * else forbidden). */
int retryjob_parse(const char *buf, size_t len, const char *name, bool failed,
    struct retryjob *j);
/* Write j's exact bytes. */
int retryjob_write(const struct retryjob *j, FILE *fp);

/*
 * Open STORE/retry (created, with failed/ and .locks/, when create is
 * set); *dirfd gets an O_DIRECTORY descriptor.  A missing directory
 * without create: -1 with err_errno() ENOENT.
 */
int retryjob_opendir(const char *store, bool create, int *dirfd);

/* Take / release the short writer lock (.lock, waits up to 30 s). */
int retryjob_lock(int dirfd);
void retryjob_unlock(int fd);

/* Take job id's run lock (.locks/ID) without waiting: -1 with
 * err_errno() EWOULDBLOCK when another run holds it.  Released with
 * retryjob_unlock(). */
int retryjob_run_lock(int locksdir, const char *id);

/*
 * Load job name from dirfd (the retry dir or failed/), refusing a file
 * that is not a regular file (O_NOFOLLOW), not owned by uid, or writable
 * by group or others; buf/len (may be NULL) get the raw bytes, malloc'd,
 * so a caller can see later whether the file was replaced.
 */
int retryjob_load(int dirfd, const char *name, uid_t uid, bool failed,
    struct retryjob *j, char **buf, size_t *len);

/* Write j as j->id under dirfd, atomically (atomic.h, mode 0644).  The
 * caller holds the writer lock.  Written by root in a directory another
 * account owns, the file is that account's (as are the directories
 * retryjob_opendir() makes and the lock files): job files are trusted
 * only when the store's owner owns them. */
int retryjob_save(int dirfd, const struct retryjob *j);

/* The names in dirfd that are job ids (dot files, temporaries and other
 * names skipped), sorted; *names is a malloc'd vector of malloc'd
 * strings. */
int retryjob_names(int dirfd, char ***names, size_t *n);
void retryjob_names_free(char **names, size_t n);

/*
 * Queue a command: what pkgpush does for a DP that failed, and
 * "pkgretry add".  Build the job (retryjob_make(); package, dp, version
 * NULL/0: guessed from argv), check it carries only what a job may
 * (retryjob_command_check()), then under the writer lock write it over
 * any older job of the same id; *queued says whether it did.  Nothing is
 * written
 * (*queued false, return 0) when PKGDIST_RETRY_JOB names this id: the
 * job being run is the one that failed again, and the pkgretry running
 * it records the outcome, so the caller must not say a retry was queued
 * (its last line is then the cause, which pkgretry records).  *id (may
 * be NULL) gets the job's id for the caller's message; it must hold
 * RETRYJOB_ID_MAX + 1 bytes.
 */
int retryjob_queue(const char *store, const char *package, const char *dp,
    uint64_t version, int argc, char *const argv[], const char *error, char *id,
    bool *queued);

/* True when this process is pkgretry running the job of package on dp
 * (PKGDIST_RETRY_JOB is "PACKAGE@DP"): what it would queue for that DP
 * is that job, and it says nothing about a retry. */
bool retryjob_running(const char *package, const char *dp);

/* Seconds to wait after the attempts-th failure: base * 2^(attempts-1),
 * at most cap (attempts 0: 0). */
int64_t retryjob_backoff(int64_t base, int64_t cap, unsigned attempts);

#endif
