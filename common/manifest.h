/*
 * manifest.h — the manifest: the one description of a tree that every
 * tool reads, writes and passes on (pkgmanifest(5)).
 *
 * This file owns the model (struct entry, struct manifest), the only
 * parser (manifest_reader, used by manifest_load), the only writer and
 * the rules of a whole manifest (order, no duplicate, no path through a
 * file or link); path.h owns the rules of one path and its escaping.  A
 * path in memory is always unescaped and already checked (path_check):
 * code that touches a DP or the store may rely on that and need not
 * check again.
 *
 * Order is byte order of the unescaped path (strcmp on unsigned bytes):
 * note that "a b" sorts before "a/b", so a directory's children are not
 * always contiguous with it.
 */
#ifndef PKGDIST_MANIFEST_H
#define PKGDIST_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "digest.h"
#include "path.h"

#define MANIFEST_MAGIC "pkgdist-manifest 1"

enum entry_type { ENTRY_FILE = 'f', ENTRY_DIR = 'd', ENTRY_LINK = 'l' };

struct entry {
	char type;     /* enum entry_type */
	unsigned mode; /* permission bits, 0 .. 07777 */
	uint64_t size; /* bytes; link: strlen(target); dir: 0 */
	int64_t mtime; /* whole seconds since the epoch */
	unsigned char digest[DIGEST_LEN]; /* files only; zero otherwise */
	char *path;			  /* unescaped, checked */
	char *target; /* links only, unescaped; NULL otherwise */
};

struct manifest {
	char *package;	  /* NULL when the header has none */
	uint64_t version; /* 0 when the header has none */
	struct entry *v;  /* sorted by path once complete */
	size_t n, cap;
};

void manifest_init(struct manifest *m);
void manifest_free(struct manifest *m);

/* Append a copy of e (its strings duplicated).  Order is not checked:
 * builders call manifest_sort() then manifest_check() when done. */
int manifest_add(struct manifest *m, const struct entry *e);
/* Set the header; pkg may be NULL. */
int manifest_set_header(struct manifest *m, const char *pkg, uint64_t version);
void manifest_sort(struct manifest *m);
/* Check every rule on an in-memory manifest (sorted, no duplicate, no
 * path through a file or link, link sizes); err names the entry. */
int manifest_check(const struct manifest *m);

/* Binary search; NULL if absent. */
const struct entry *manifest_find(const struct manifest *m, const char *path);

/* Parse the file at path ("-" is stdin) completely.  On any broken rule:
 * -1, err = "PATH:LINE: what is wrong", m left empty.  A full manifest
 * only: mdelta_load_path() also reads a delta file (a DP's state
 * manifest, mdelta.h) with its base. */
int manifest_load(const char *path, struct manifest *m);
/* The same from a buffer (package files, the remote protocol); name is
 * used in messages. */
int manifest_load_buf(const char *buf, size_t len, const char *name,
    struct manifest *m);

/* Write the manifest's exact bytes (header lines only when set). */
int manifest_write(const struct manifest *m, FILE *fp);
/* The same bytes in a malloc'd buffer (*buf, *len; *buf NULL on error):
 * what the remote protocol sends and what its digests cover. */
int manifest_write_mem(const struct manifest *m, char **buf, size_t *len);
/* Write it atomically as name under dirfd (atomic.h; mode may be
 * ATOMIC_MODE_USER for a file a user names). */
int manifest_save(const struct manifest *m, int dirfd, const char *name,
    unsigned mode);

/*
 * Streaming reader, for inputs too large to hold (pkgdiff diff of two
 * million-entry manifests runs in constant memory).  It checks every rule
 * as it goes, so an entry it returned is valid and in order relative to
 * those before it.
 */
struct manifest_reader;
/* fp is not closed by the reader; name is used in messages. */
int manifest_reader_open(FILE *fp, const char *name,
    struct manifest_reader **out);
/* Header values, valid after open: package (NULL if none), version (0). */
const char *manifest_reader_package(const struct manifest_reader *r);
uint64_t manifest_reader_version(const struct manifest_reader *r);
/* 1: *e is the next entry (owned by the reader, valid until the next
 * call); 0: end, every rule held; -1: err set ("NAME:LINE: why"). */
int manifest_reader_next(struct manifest_reader *r, const struct entry **e);
void manifest_reader_close(struct manifest_reader *r);

/*
 * One entry line, as in manifests and change lists.
 * entry_parse() takes the line without its newline; it fills e with
 * malloc'd strings (entry_free() releases them).
 */
int entry_parse(const char *line, size_t len, struct entry *e);
int entry_write(const struct entry *e, FILE *fp);
void entry_free(struct entry *e);
/* Same type and content (digest or target): what "unchanged" means for
 * a push.  Mode and mtime are not compared. */
bool entry_same_content(const struct entry *a, const struct entry *b);

#endif
