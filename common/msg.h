/*
 * msg.h — messages to the user, for cmd/ only.
 *
 * Every message goes to stderr as "TOOL: what: why".  As in sbase, a
 * format that ends in ':' gets strerror(errno) appended.  msg_liberr()
 * prints the core's last error (err.h).  msg_close_stdout() is called
 * by every tool before exit so that a full disk or a closed pipe on
 * stdout becomes a non-zero exit instead of silent loss.
 */
#ifndef PKGDIST_MSG_H
#define PKGDIST_MSG_H

#include <stdnoreturn.h>

/* Remember the tool name (basename of argv0) for every message. */
void msg_init(const char *argv0);
const char *msg_progname(void);

void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "TOOL: " + the core's last error (err_get()). */
void msg_liberr(void);

noreturn void msg_die(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Flush and close stdout; on failure print why and return -1. */
int msg_close_stdout(void);

#endif
