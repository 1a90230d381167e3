/*
 * changes.h — the change list: what turns one manifest into another.
 *
 * A change list (pkgmanifest(5)) has one line per path that
 * differs, sorted by path like a manifest:
 *
 *   A ENTRY   added: the path is only in the new manifest (its entry)
 *   D ENTRY   deleted: the path is only in the old manifest (old entry)
 *   M ENTRY   content or type changed (the new entry)
 *   P ENTRY   only mode or mtime changed (the new entry)
 *
 * For a path in both manifests: a different type, file digest or link
 * target is M; otherwise a different mode or mtime is P; otherwise there
 * is no change.  (A directory's size is always 0; a file's size differs
 * only with its digest, so size never decides alone — but a differing
 * size is still M, in case the digest is zero in a metadata-only scan.)
 *
 * This file owns computing the changes between two manifests (in memory
 * or streamed with constant memory from two manifest_readers), writing
 * change lines, parsing a change-list file (with manifest.h's entry
 * parser), and the --stat totals.  Entries are always manifest.h's
 * struct entry; nothing here re-implements the entry syntax.
 */
#ifndef PKGDIST_CHANGES_H
#define PKGDIST_CHANGES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "manifest.h"

enum change_kind {
	CHANGE_NONE = 0,
	CHANGE_ADD = 'A',
	CHANGE_DEL = 'D',
	CHANGE_MOD = 'M',
	CHANGE_PERM = 'P'
};

/*
 * One change between manifest `from` (old) and `to` (new).  from is NULL
 * for CHANGE_ADD, to is NULL for CHANGE_DEL; both are set for MOD and
 * PERM.  The pointers borrow the manifests' entries: valid as long as
 * the manifests (or, when streaming, only during the callback).
 */
struct change {
	char kind; /* enum change_kind */
	const struct entry *from;
	const struct entry *to;
};

/* The entry a change line shows: to, or from for a deletion. */
const struct entry *change_entry(const struct change *c);

/* How one path present in both manifests changed: CHANGE_MOD,
 * CHANGE_PERM or CHANGE_NONE (the rule above). */
int changes_classify(const struct entry *from, const struct entry *to);

/*
 * Called once per change, in path order.  Returning -1 (with err set)
 * stops the walk, which then returns -1 with that error.
 */
typedef int (*changes_fn)(const struct change *c, void *arg);

/*
 * Compare two complete, sorted manifests (as manifest_load or scan_tree
 * give them).  Returns the number of changes (0: identical apart from
 * the headers, which are not compared), or -1.  fn may be NULL to count.
 */
long long changes_compute(const struct manifest *from,
    const struct manifest *to, changes_fn fn, void *arg);

/*
 * The same, streaming: entries are read one at a time from two open
 * readers (manifest.h), so memory stays constant however long the
 * manifests are.  The entries given to fn are valid only during the
 * call.  A parse error in either input stops the walk: -1 with the
 * reader's "NAME:LINE: why" error (fn may already have been called for
 * earlier paths, so a caller that must write nothing on bad input
 * buffers or writes through atomic.h and aborts).
 */
long long changes_stream(struct manifest_reader *from,
    struct manifest_reader *to, changes_fn fn, void *arg);

/* A change list held in memory, borrowing the two manifests' entries. */
struct change_list {
	struct change *v;
	size_t n, cap;
};

void change_list_init(struct change_list *l);
void change_list_free(struct change_list *l);
/* changes_compute() into l (appended; l must be initialised). */
int changes_list(const struct manifest *from, const struct manifest *to,
    struct change_list *l);

/* Write one change line: "K " then the entry (entry_write), newline
 * included. */
int change_write(const struct change *c, FILE *fp);
/* The n change lines of v, as change_write() writes them, into *buf
 * (malloc'd, NUL-terminated; *len bytes without the NUL). */
int changes_write_mem(const struct change *v, size_t n, char **buf,
    size_t *len);

/*
 * A change-list file, parsed: each line "K ENTRY" with K one of A D M P
 * and ENTRY parsed by entry_parse(); paths strictly increasing (sorted,
 * no duplicate).  Only the entry the line shows is known (the new one,
 * or the old one for D).  Errors: "NAME:LINE: why"; nothing is kept.
 */
struct change_line {
	char kind;	/* enum change_kind, never NONE */
	struct entry e; /* owned */
};

struct change_file {
	struct change_line *v;
	size_t n, cap;
};

void change_file_init(struct change_file *cf);
void change_file_free(struct change_file *cf);
int change_file_load_buf(const char *buf, size_t len, const char *name,
    struct change_file *cf);
/* The same for change lines that follow line0 other lines in the file
 * name (a delta's header, mdelta.h): messages give the file's line. */
int change_file_load_lines(const char *buf, size_t len, const char *name,
    unsigned long line0, struct change_file *cf);

/*
 * Apply a parsed change list to base (complete and sorted), giving out
 * (header not set).  Entries are moved, not copied: base is emptied, and
 * each line of cf is left holding the entry it replaced (mdelta.h keeps
 * those to write the next delta).  Every line must fit base: A only for
 * a path base lacks, D only of the very entry base has, M or P only
 * where base's entry and the line's differ by that kind; and the result
 * must keep the one manifest rule a line can break (no path runs through
 * a file or link), checked for the changed paths only, so applying a
 * short list to a large manifest costs a merge and a few searches.  -1
 * with err ("'K PATH' does not apply to 'TO': why", or "entry 'PATH'
 * runs through 'FILE', ...") and *bad (may be NULL) the index of the
 * line at fault; out is then empty.  A DP's delta manifests (mdelta.h)
 * and pkgpush --serve (a change list from the client) both come here.
 */
int changes_apply(struct manifest *base, struct change_file *cf,
    struct manifest *out, const char *to, size_t *bad);

/*
 * --stat totals.  bytes is what a refresh transfers: the sizes of the
 * files (type `f`) of A and M changes.
 */
struct change_stat {
	uint64_t added, deleted, modified, perms;
	uint64_t bytes;
};

void change_stat_init(struct change_stat *s);
void change_stat_add(struct change_stat *s, const struct change *c);
/* The same from a parsed line (A/M count their entry's size). */
void change_stat_add_line(struct change_stat *s, const struct change_line *l);
/* Print the totals, one "KEY VALUE" line each, in this order:
 *   added N / deleted N / modified N / metadata N / bytes N */
int change_stat_write(const struct change_stat *s, FILE *fp);

#endif
