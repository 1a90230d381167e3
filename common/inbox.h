/*
 * inbox.h — STORE/incoming/, the inbox of a child site (SPEC.md "Child
 * sites"): package files a parent wrote there (pkgpush --site, a
 * directory target) or someone carried there, imported by "pkgstage
 * import --incoming", which pkgdist-cron runs.
 *
 * A file whose name starts with '.' is one being written (atomic.h's
 * temporary names, a copy in progress) and is never looked at; so are
 * incoming/bad/ and the run lock incoming/.lock.  Every other entry is
 * hostile until shown otherwise:
 *
 *   - its name must be made of the characters of a package name
 *     (manifest.h name_valid()) and end in ".pkg", at most
 *     INBOX_NAME_MAX bytes: anything else (a space, a newline, bytes
 *     that are not ASCII) is moved aside, never opened;
 *   - it must be a regular file (not a link, a directory, a fifo, a
 *     device), opened without following a link;
 *   - its header must read as a package file (pack.h).
 *
 * An entry that fails, a file whose import the file itself fails
 * (damaged contents, a hostile manifest, a signature STORE/trust or
 * --trust refuses: PACK_REFUSED), is moved to incoming/bad/ under its
 * own name, with incoming/bad/NAME.why saying why (written first, so no
 * file is in bad/ without its reason once both are there).
 *
 * The rest is imported lowest version first within a package.  A delta
 * whose base version the store lacks waits, and is imported in the same
 * run as soon as its base is in (every pass over the files that imported
 * something is followed by another, so arrival in any order ends with
 * every version in, and the run always ends: each pass takes one file
 * out or is the last).  An imported file (or one whose version was there
 * already, or older than the newest) is removed, if the name still
 * holds the file that was imported.  A failure of the store or the
 * system (a full disk, a lock that stays taken, a trust file that cannot
 * be read) leaves the file where it is for the next run.
 *
 * One run at a time: the whole run holds incoming/.lock, so two runs at
 * once never import one file twice (the second waits, then finds what
 * the first left).  Each import takes the package's lock (pack_import()),
 * so a run and a parent's push or a "pkgstage add" of the same package
 * take turns.
 *
 * Functions return 0 or -1 with err.h set; nothing prints: what happens
 * to each file is told to the caller's report function.
 */
#ifndef PKGDIST_INBOX_H
#define PKGDIST_INBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manifest.h"

struct store;

#define INBOX_BAD_DIR "bad" /* under STORE_INCOMING */
#define INBOX_LOCK ".lock"  /* under STORE_INCOMING */
#define INBOX_NAME_MAX 200

enum inbox_state {
	INBOX_READY, /* would be imported now */
	INBOX_WAITS, /* a delta whose base the store lacks */
	INBOX_BAD    /* would be moved to bad/ (why) */
};

struct inbox_file {
	char *name;			/* under incoming/, as it is */
	char package[NAME_MAX_LEN + 1]; /* "" when not readable */
	uint64_t version;		/* 0 when not readable */
	uint64_t base;			/* 0: whole */
	int64_t mtime;			/* seconds since the epoch */
	enum inbox_state state;
	char *why; /* INBOX_BAD: why, else NULL */
};

/* What the inbox holds now, sorted by package, version and name (files
 * that would go to bad/ first): *v malloc'd, inbox_files_free().  No
 * incoming/ is an empty inbox. */
int inbox_list(struct store *s, struct inbox_file **v, size_t *n);
void inbox_files_free(struct inbox_file *v, size_t n);

enum inbox_event_kind {
	INBOX_IMPORTED,	   /* a new version (newest or not) */
	INBOX_WAS_PRESENT, /* that version was in the store already */
	INBOX_WAITING,	   /* left, waiting for f->base */
	INBOX_MOVED_BAD,   /* moved to bad/, why */
	INBOX_TROUBLE	   /* left for the next run, why */
};

struct inbox_event {
	enum inbox_event_kind kind;
	const struct inbox_file *f; /* package and version as imported */
	const char *why;	    /* MOVED_BAD, TROUBLE */
};

struct inbox_opts {
	double wait;	   /* for incoming/.lock and each
			    * package lock */
	const char *trust; /* --trust KEY.pub, or NULL */
	void (*report)(void *arg, const struct inbox_event *ev);
	void *arg;
};

struct inbox_result {
	size_t imported, present, waiting, bad, trouble;
};

/* Import what the inbox holds (above).  -1 with err when the run could
 * not start or go on (incoming/ unreadable, its lock taken past
 * o->wait); a file's own trouble is an event and counted. */
int inbox_import(struct store *s, const struct inbox_opts *o,
    struct inbox_result *r);

#endif
