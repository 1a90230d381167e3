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

#include <stdint.h>
#include <stdio.h>
#include <stdnoreturn.h>

/* Remember the tool name (basename of argv0) for every message. */
void msg_init(const char *argv0);
const char *msg_progname(void);

void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "TOOL: " + the core's last error (err_get()). */
void msg_liberr(void);

/*
 * Write s to fp as one line's text: control bytes (a newline, a
 * carriage return, an escape, DEL) as \ooo, all else as it is.  Every
 * message goes out so (a name with a newline cannot forge a line), and
 * the tools print texts from records (a DP's last error) with it.
 */
void msg_put_text(const char *s, FILE *fp);

noreturn void msg_die(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * The number value of option opt (as the user spelt it: "-j", "--keep"),
 * from min to max.  On a bad value print which option and value are wrong
 * and why ("--keep '0': want a whole number from 1 to 1000", then ": "
 * and why when it is not NULL: what the number means) and return -1;
 * the caller then prints the usage and exits 2.
 */
int msg_num_opt(const char *opt, const char *arg, uint64_t min, uint64_t max,
    const char *why, uint64_t *out);
/* Flush and close stdout; on failure print why and return -1. */
int msg_close_stdout(void);

#endif
