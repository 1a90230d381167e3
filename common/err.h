/*
 * err.h — how the core reports failure.
 *
 * Core functions never print and never exit.  A function that fails returns
 * -1 (or NULL) after calling err_set() or err_sys(), which leave a one-line
 * description in a per-thread buffer, worded "what: why" in git's style:
 * lowercase, no final period, the subject first
 * ("cannot open 'dps': No such file or directory").  Callers that add
 * context wrap it with err_prefix() ("dp2: " + the message).  Only cmd/
 * prints it, through msg.h, and chooses the exit code.
 *
 * The buffer is thread-local because pkgpush and pkgdiff work in threads;
 * passing an error object through every call would add noise to every
 * signature without adding information.
 */
#ifndef PKGDIST_ERR_H
#define PKGDIST_ERR_H

/* Set the message; returns -1 so that "return err_set(...)" reads well.
 * Clears the saved errno. */
int err_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* As err_set, then append ": " and strerror(errno); errno is saved for
 * err_errno() and left unchanged for the caller. */
int err_sys(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* As err_set, but err_errno() then returns errnum: for failures that are
 * no failed system call yet must be told apart (a busy lock). */
int err_code(int errnum, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* An allocation failed: the one wording, "out of memory", with ENOMEM
 * for err_errno(); returns -1. */
int err_nomem(void);

/* Put fmt's text in front of the current message; returns -1. */
int err_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The current message ("" if none). */
const char *err_get(void);

/* errno saved by the last err_sys() on this thread, 0 if the last error
 * was not a system error.  pkgpush uses it to tell ENOSPC from EIO. */
int err_errno(void);

/*
 * A failure kept aside: its message and err_errno().  For clean-up that
 * may fail in turn (and set an error of its own) after the failure worth
 * reporting, and for handing a worker thread's failure to the thread
 * that reports it (the message buffer is per thread).  Start it empty
 * (ERR_SAVED_INIT, or all zero).
 */
struct err_saved {
	char *msg; /* NULL: nothing saved */
	int errnum;
};
#define ERR_SAVED_INIT \
	{ \
		NULL, 0 \
	}

/* Keep the current error in s, which must be empty.  With no memory to
 * copy it, s holds "out of memory" (and the errno). */
void err_save(struct err_saved *s);

/* Make the error saved in s current again and empty s; returns -1.  An
 * empty s leaves the current error as it is. */
int err_restore(struct err_saved *s);

/* Empty s without restoring it. */
void err_drop(struct err_saved *s);

/*
 * For the static analyzer (make lint) only: it cannot see into err.c, so
 * without this it assumes "return err_set(...)" may return 0 and reports
 * impossible paths past every failure.  The build never defines this.
 */
#if defined(__clang_analyzer__) && !defined(PKGDIST_ERR_C)
#define err_set(...) (err_set(__VA_ARGS__), -1)
#define err_sys(...) (err_sys(__VA_ARGS__), -1)
#define err_code(...) (err_code(__VA_ARGS__), -1)
#define err_prefix(...) (err_prefix(__VA_ARGS__), -1)
#define err_nomem() (err_nomem(), -1)
#endif

#endif
