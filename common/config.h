/*
 * config.h — the site settings, STORE/config: what every tool that opens
 * the store reads (store_open() loads it), so that cron, retry jobs and
 * a child site need no environment of their own.
 *
 * Plain text, one setting a line; a line whose first non-blank byte is
 * '#' is a comment (a '#' later in a line is part of it); blank lines
 * are ignored.  A setting is a keyword and its words, separated by
 * spaces or tabs:
 *
 *   ssh CMD...                  the command that opens a connection to a
 *                               remote DP ($PKGDIST_SSH overrides it)
 *   remote-pkgpush PATH         the program started there with --serve
 *                               ($PKGDIST_REMOTE_PKGPUSH overrides it)
 *   ssh-timeout SECONDS         how long a remote peer may stay silent
 *                               ($PKGDIST_SSH_TIMEOUT overrides it)
 *   mount NAME|GROUP            that DP (every member of GROUP) is only
 *                               written when its TARGET is a mount point
 *   bwlimit TARGET RATE [HH:MM-HH:MM]
 *                               bytes per second to a remote DP or child
 *                               site NAME, the members of GROUP, or (*)
 *                               all of them together; RATE with K, M or G
 *                               (powers of 1024); with a window only then
 *                               (local time, [from, to), may run past
 *                               midnight)
 *
 * ssh, remote-pkgpush and ssh-timeout may be given once each.  Two
 * bwlimit lines for one TARGET must not both apply at any minute (one
 * without a window and one with a window may: the window is the more
 * specific).  Anything else (an unknown keyword, a missing or extra
 * word, a bad name, rate or window, a control character, a NUL byte) is
 * an error "FILE:LINE: what is wrong", and the whole file is refused:
 * there is no partial configuration.  A missing file is an empty one.
 *
 * Calling: store_config() gives the store's; the getters below apply the
 * environment's overrides.  Nothing here prints.  The parser is fuzzed
 * through config_load_buf().
 */
#ifndef PKGDIST_CONFIG_H
#define PKGDIST_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "manifest.h"

/* The file's name in the store directory. */
#define CONFIG_FILE "config"
/* Largest file accepted (bytes), and most bwlimit lines. */
#define CONFIG_MAX_SIZE (1024u * 1024)
#define CONFIG_BWLIMIT_MAX 1000

/* The environment variables that override a line. */
#define CONFIG_SSH_ENV "PKGDIST_SSH"
#define CONFIG_REMOTE_PKGPUSH_ENV "PKGDIST_REMOTE_PKGPUSH"
/* and PROTO_TIMEOUT_ENV (proto.h), which parses the timeout too */

/* The largest rate a bwlimit line may give (bytes per second). */
#define CONFIG_RATE_MAX ((uint64_t)1 << 48)

struct config_bwlimit {
	char target[NAME_MAX_LEN + 1]; /* a NAME or GROUP, or "*" */
	uint64_t rate;		       /* bytes per second, >= 1 */
	bool window;		       /* only from .. to */
	unsigned from, to;	       /* minutes after local midnight, to
					* 1440 at most; from > to runs past
					* midnight */
	unsigned line;
};

struct config {
	char *path;	      /* the file, for messages */
	char *ssh;	      /* the ssh line's words as written, or NULL */
	char *remote_pkgpush; /* or NULL */
	double ssh_timeout;   /* seconds; 0: no line */
	unsigned ssh_line, remote_pkgpush_line, ssh_timeout_line;
	char **mount; /* the mount lines' NAME|GROUP, file order */
	size_t nmount;
	struct config_bwlimit *bwlimit; /* file order */
	size_t nbwlimit;
};

void config_init(struct config *c);
void config_free(struct config *c);

/*
 * Parse the file name under dirfd (shown as shown in messages): 0 with c
 * filled (a missing file: empty, no error), or -1 with err "SHOWN:LINE:
 * what is wrong" (or "cannot open 'SHOWN': ...") and c left empty.
 */
int config_load(int dirfd, const char *name, const char *shown,
    struct config *c);
/* Parse DIR/config only to check it, for code that reads the store's
 * directory without store_open() (pkgretry run, before its jobs): 0, or
 * -1 with err as config_load(). */
int config_check(const char *dir);
/* The same from a buffer; the fuzzing entry point. */
int config_load_buf(const char *buf, size_t len, const char *shown,
    struct config *c);

/*
 * The settings in effect: the environment variable when it is set and
 * not empty, else the line, else the default ("ssh", "pkgpush").  c may
 * be NULL (no file).  The returned string lives as long as c or the
 * environment.
 */
const char *config_ssh(const struct config *c);
const char *config_remote_pkgpush(const struct config *c);
/* Seconds ($PKGDIST_SSH_TIMEOUT, the line, else dflt); -1 with err when
 * the variable is not a number of seconds above 0 (proto.h's rule, which
 * the line follows too). */
int config_ssh_timeout(const struct config *c, double dflt, double *secs);

/* Parse a rate: decimal digits, optionally followed by K, M or G
 * (powers of 1024), from 1 to CONFIG_RATE_MAX; -1 with err ("'4X' is
 * not a rate: ...") otherwise. */
int config_parse_rate(const char *s, uint64_t *rate);

/*
 * Variables of the environment that override a line with another value
 * (what a retry job run from cron will not have): for each, var is the
 * variable and line the setting to add to STORE/config to make it
 * permanent ("ssh ssh -i KEY"), malloc'd.  Words are compared, not
 * spacing.  Returns the count (at most CONFIG_ENV_MAX) or -1 (ENOMEM).
 */
#define CONFIG_ENV_MAX 3
struct config_env_override {
	const char *var;
	char *line;
};
int config_env_overrides(const struct config *c,
    struct config_env_override out[CONFIG_ENV_MAX]);
void config_env_overrides_free(struct config_env_override *v, size_t n);

/* True when a mount line names the DP name or its group. */
bool config_mount_required(const struct config *c, const char *name,
    const char *group);

/*
 * The bwlimit line for a target NAME in GROUP at time t (local time),
 * the most specific that applies: a line naming NAME, else one naming
 * GROUP, else a "*" line; at each of these a line whose window holds t
 * before one without a window.  NULL when none applies (no cap).  name
 * "*" (group NULL) asks for the total's line only.
 */
const struct config_bwlimit *config_bwlimit_find(const struct config *c,
    const char *name, const char *group, time_t t);

#endif
