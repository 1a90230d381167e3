/*
 * retryrun.h — the retry engine: what "pkgretry run" does with a
 * store's queue (retryjob.h owns the job file; this owns the policy).
 *
 * Per job, in the order the jobs were queued: take the job's run lock
 * without waiting (a job another run holds is skipped), load it again,
 * skip it when not due, give it up when past its attempts, judge
 * whether it can still succeed and is still needed (retryrun_judge()),
 * run the pkgdist tool it names from the directory pkgretry lives in
 * (child.h: its own process group, a time limit, SIGTERM then SIGKILL),
 * as the store's owner, and record the outcome under the short writer
 * lock, only if the job file is still the one it ran (a newer job
 * queued meanwhile is left alone).  The job file is removed only after
 * success, so a crash loses no job.
 *
 * Trust: the queue (STORE/retry) and every job file and STORE/retry/
 * config must belong to the store directory's owner and be closed to
 * group and others; the jobs run as that owner:
 * as they are when the owner runs pkgretry, dropped to the owner when
 * root does, refused for any other account.
 *
 * The pure parts (settings, judging a job, the transitions after a
 * failed run) take no lock and touch no file, for unit tests.  Nothing
 * here prints: the caller is told through struct retryrun_hooks.
 * Functions return 0 on success, -1 with err.h set, unless they say.
 */
#ifndef PKGDIST_RETRYRUN_H
#define PKGDIST_RETRYRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "child.h"
#include "retryjob.h"
#include "store.h"

#define RETRYRUN_MAX_ATTEMPTS 10
#define RETRYRUN_BACKOFF_BASE 60
#define RETRYRUN_BACKOFF_CAP 3600
/* A job's time limit: twice pkgpush's longest wait for a DP's lock (an
 * hour), so a push that waited its hour still has one to copy; then
 * SIGTERM to its process group, and SIGKILL after the grace period. */
#define RETRYRUN_TIMEOUT 7200
#define RETRYRUN_GRACE 30
/* STORE/retry/config, and its largest size. */
#define RETRYRUN_CONFIG "config"
#define RETRYRUN_CONFIG_MAX 4096
/* The most of a job's last stderr line that is kept as its error. */
#define RETRYRUN_LAST_MAX 1024
#define RETRYRUN_WHY_MAX (RETRYRUN_LAST_MAX + 256)

struct retryrun_opts {
	bool now;		/* every job, due or not */
	unsigned max_attempts;	/* then failed/ */
	int64_t base, cap;	/* backoff, seconds */
	int64_t timeout, grace; /* a job's time limit, then SIGKILL */
	bool set_max, set_backoff, set_timeout; /* given on the command line */
};

/* The defaults above. */
void retryrun_opts_init(struct retryrun_opts *o);

/* Seconds, or a number followed by s, m or h (1 s to ten years). */
int retryrun_parse_duration(const char *s, size_t len, int64_t *out);
/* BASE[:CAP] into *base, *cap (a cap below base is raised to it; no
 * cap: *cap unchanged).  TIME[:GRACE] likewise. */
int retryrun_parse_backoff(const char *s, int64_t *base, int64_t *cap);
int retryrun_parse_timeout(const char *s, int64_t *timeout, int64_t *grace);

/*
 * STORE/retry/config's bytes: "max-attempts N", "backoff BASE[:CAP]"
 * and "timeout TIME[:GRACE]" lines, '#' comments and blank lines;
 * anything else is an error "config:LINE: ...".  What o says was given
 * on the command line (set_*) is kept.
 */
int retryrun_config_parse(const char *buf, size_t len, struct retryrun_opts *o);

/* What a judge needs to know about the store for one job. */
struct retryrun_facts {
	bool dp_listed;	      /* the job's DP is in the DP list */
	bool version_present; /* the store has the job's version */
	const struct store_holding *holdings; /* the package's */
	size_t nholdings;
};

enum retryrun_verdict {
	RETRYRUN_RUN,	     /* run it */
	RETRYRUN_IMPOSSIBLE, /* waiting cannot cure it: to failed/ */
	RETRYRUN_SUPERSEDED  /* needless: dropped unrun */
};

/*
 * Can job j still succeed, is it still needed?  Only a pkgpush job
 * naming a package is judged (a pkgstage job with --version N is there
 * to make version N): its DP must be in the list, its version in the
 * store; a DP that holds the version or a newer one supersedes it,
 * except for --rollback (never) and --verify (only a newer version: the
 * repair is for a DP that holds the version but drifted).  why gets the
 * reason for anything but RETRYRUN_RUN.
 */
enum retryrun_verdict retryrun_judge(const struct retryjob *j,
    const struct retryrun_facts *f, char *why, size_t len);

/* How one run of a job's command ended. */
struct retryrun_exit {
	int status;	      /* wait status (unset for CHILD_LEFT) */
	enum child_stop stop; /* against the time limit */
	const char *last;     /* its last line on stderr, or "" */
};

/*
 * After a failed run (anything but exit 0 by itself): j->error becomes
 * the cause (the last line, and how it ended: "exit 1", "timed out
 * after 2h: stopped by SIGTERM"), j->attempts counts it; then either
 * j->next is put back by the backoff from now (returns 0), or, past
 * o->max_attempts, j->reason and j->failed are set for failed/ (returns
 * 1).  -1 only when memory runs out.
 */
int retryrun_after_failure(const struct retryrun_opts *o, struct retryjob *j,
    const struct retryrun_exit *e, int64_t now);

/* Give j up: j->reason a copy of reason, j->failed now. */
int retryrun_give_up(struct retryjob *j, const char *reason, int64_t now);

/* What happened to one job, for the caller to say. */
enum retryrun_event {
	RETRYRUN_SKIPPED, /* not due, held by another run, gone */
	RETRYRUN_DROPPED, /* superseded: removed unrun (why) */
	RETRYRUN_DONE,	  /* ran and succeeded: removed */
	RETRYRUN_AGAIN,	  /* ran and failed: next attempt put back */
	RETRYRUN_FAILED,  /* moved to failed/ (j->reason) */
	RETRYRUN_TROUBLE  /* could not deal with the job (why) */
};

struct retryrun_result {
	enum retryrun_event event;
	bool replaced;	       /* a newer job was queued meanwhile: kept */
	int64_t now;	       /* when the outcome was recorded */
	unsigned max_attempts; /* in force (the store's config applied) */
	char why[RETRYRUN_WHY_MAX];
};

/* How the engine tells the caller (each may be NULL). */
struct retryrun_hooks {
	/* The job's command is about to run. */
	void (*start)(void *arg, const struct retryjob *j);
	/* What the command writes to stderr, as it comes. */
	void (*output)(void *arg, const char *buf, size_t n);
	/* A job was dealt with (j is the job as recorded; for SKIPPED and
	 * TROUBLE it may be only partly loaded: use name). */
	void (*end)(void *arg, const char *name, const struct retryjob *j,
	    const struct retryrun_result *r);
};

/*
 * Run the jobs of store (an absolute path) that are due, all with
 * o->now, in the order they were queued, the tools taken from exedir.
 * The store's STORE/retry/config applies where o has no set_*.  *failed:
 * some job failed again or moved to failed/; *trouble: some job could
 * not be dealt with.  -1: the queue could not be opened or is not
 * trusted, or the jobs could not be run as the owner (nothing ran).
 */
int retryrun_run(const char *store, const char *exedir,
    const struct retryrun_opts *o, const struct retryrun_hooks *h, void *arg,
    bool *failed, bool *trouble);

/* The directory this program was started from (/proc/self/exe). */
int retryrun_exedir(char *buf, size_t len);

/* The uid that owns the store directory: job files must have it. */
int retryrun_store_owner(const char *store, uid_t *uid);

/*
 * Open STORE/retry (retryjob_opendir(), created with create) and
 * failed/ (-1 when missing and not create); locksdir (may be NULL)
 * gets .locks/.  Every fd is -1 when not opened; the caller closes.
 */
int retryrun_open_queue(const char *store, bool create, int *dirfd,
    int *faileddir, int *locksdir);

/*
 * Every job of store's queue, then every one in failed/, each in id
 * order: each(arg, j, in_failed) for a job that loads, bad(arg, message)
 * for one that does not (not the owner's, broken: it is left where it
 * is) and *trouble set.  No queue yet: nothing, 0.  -1: the queue
 * cannot be opened (nothing listed).
 */
int retryrun_list(const char *store,
    void (*each)(void *arg, const struct retryjob *j, bool in_failed),
    void (*bad)(void *arg, const char *msg), void *arg, bool *trouble);

/*
 * Remove job id ("failed/ID" for one in failed/) under the writer lock;
 * *from_failed says where it was.  No such job: -1 with err_errno()
 * ENOENT.
 */
int retryrun_drop(const char *store, const char *id, bool *from_failed);

#endif
