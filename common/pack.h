/*
 * pack.h — package files: one version of one package in one
 * self-checking file, for moving versions between stores (a parent site
 * to a child site), like SMS's compressed package files.
 *
 * Format 1 (all integers big-endian; documented in pkgstage(1)):
 *
 *   8   magic "PKGDPACK"
 *   4   format version, 1
 *   4   flags, 0 (reserved; a reader refuses any other value)
 *   8   version (>= 1)
 *   8   base version (0: full package; else a delta against that version)
 *   1   L, length of the package name (1..64)
 *   L   package name (the name rule, name_valid() in path.h)
 *   1   manifest method: 0 stored, 1 zlib (RFC 1950), 2 the changes
 *       from the base version's manifest (mchanges.h: only in the
 *       stream of a site session, to a reader given that manifest;
 *       never in a file)
 *   8   manifest length (original bytes, <= STORE_MANIFEST_MAX)
 *   8   manifest stored length
 *   ..  the manifest (pkgmanifest(5), with package and version header
 *       lines equal to the fields above)
 *   4   S, signature length (0: unsigned; else PACK_SIG_MAX at most)
 *   S   Ed25519 signature of the exact manifest bytes (sign.h)
 *   8   C, number of contents (<= number of `f` entries)
 *   C times, in strictly increasing order of digest:
 *     32  SHA-256 of the original bytes
 *     8   original size (must equal the manifest's size for it)
 *     1   method: 0 stored, 1 zlib
 *     8   stored length
 *     ..  stored bytes
 *   8   trailer magic "PKGDEND\n"
 *   32  SHA-256 of every byte before the trailer magic
 *
 * Format 2 is format 1 with one more kind of content record, a recipe
 * (recipe.h): a large content of a delta rebuilt from a content of the
 * base version that the importing store has, plus the bytes that
 * version lacks:
 *
 *     32  SHA-256 of the original bytes
 *     8   original size (must equal the manifest's size for it)
 *     1   method: 2 recipe
 *     32  SHA-256 of the base content (a content of the base version,
 *         not this one)
 *     8   its size
 *     blocks, each:
 *       4   n, 1..PACK_RECIPE_BLOCK_MAX
 *       n   whole operations, as recipe.h encodes them on the wire
 *           (copy a range of the base content; insert bytes, zlib where
 *           that pays), in order, until they make the original size
 *     4   0 (the end of the blocks)
 *
 * A writer writes format 1 whenever no record is a recipe, so that such
 * a file stays readable by a release that knows only format 1.
 *
 * A full package holds every content its manifest names; a delta holds
 * every content its manifest names that the base version lacks (or
 * fewer, for a store that said which of them it has: pack_export_only(),
 * which writes no recipe;
 * an import checks at its end that every content is there).  An import
 * rebuilds a recipe's content from its own copy of the base content and
 * checks its size and SHA-256 before anything is visible.
 *
 * The reader treats every byte as hostile: every length and count is
 * bounded before anything is allocated, the manifest goes through the
 * one parser (manifest.h: paths checked there), a content must be named
 * by the manifest with the same size, and each content's digest is
 * checked at its end.  pack_reader_next() returns 0 only after the
 * trailing checksum matched and the file ended there.
 *
 * pack_export() and pack_import() are what pkgstage export and import
 * call; the reader alone is what the fuzz harness drives:
 *
 *   struct pack_reader *r;
 *   struct pack_content c;
 *   if (pack_reader_open_mem(data, size, "fuzz", &r) == -1) return 0;
 *   while ((rv = pack_reader_next(r, &c)) == 1)
 *           if (c.recipe)
 *                   pack_reader_rebuild(r, oldfd, outfd, ...);
 *           else while ((n = pack_reader_read(r, buf, sizeof(buf))) > 0)
 *                   ;
 *   pack_reader_close(r);
 */
#ifndef PKGDIST_PACK_H
#define PKGDIST_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "digest.h"
#include "manifest.h"

struct progress;
struct store;

#define PACK_MAGIC "PKGDPACK"
#define PACK_END_MAGIC "PKGDEND\n"
#define PACK_FORMAT_WHOLE 1 /* no recipe records */
#define PACK_FORMAT 2	    /* recipe records (method 2) */
#define PACK_SIG_MAX 1024
#define PACK_MANIFEST_CHANGES 2 /* manifest method: mchanges.h */
/* The longest block of a recipe record: the longest insertion fits. */
#define PACK_RECIPE_BLOCK_MAX ((uint32_t)320 << 10)

struct pack_info {
	uint32_t format;
	uint64_t version;
	uint64_t base; /* 0: full */
	char package[NAME_MAX_LEN + 1];
};

struct pack_content {
	unsigned char digest[DIGEST_LEN];
	uint64_t size;	      /* original bytes */
	bool zlib;	      /* stored form is a zlib stream */
	uint64_t stored_size; /* stored bytes (0 for a recipe) */
	bool recipe;	      /* rebuilt: pack_reader_rebuild() */
	unsigned char base_digest[DIGEST_LEN]; /* recipe: from this */
	uint64_t base_size;		       /* content, this size */
};

struct pack_reader;

/* Open a package file on fd (read from its current offset, not closed
 * by the reader) and read everything up to the first content: header,
 * manifest, signature.  name is used in messages ("FILE: truncated",
 * "FILE: bad magic").  -1 with err on any broken rule. */
int pack_reader_open_fd(int fd, const char *name, struct pack_reader **out);
/* The same over a buffer (not copied; must outlive the reader). */
int pack_reader_open_mem(const void *buf, size_t len, const char *name,
    struct pack_reader **out);

const struct pack_info *pack_reader_info(const struct pack_reader *r);
/* The parsed manifest (owned by the reader). */
const struct manifest *pack_reader_manifest(const struct pack_reader *r);
/* Its exact bytes, as signed (owned by the reader). */
const char *pack_reader_manifest_bytes(const struct pack_reader *r,
    size_t *len);
/* The signature (NULL, *len 0 if none). */
const unsigned char *pack_reader_signature(const struct pack_reader *r,
    size_t *len);

/*
 * Advance to the next content (skipping whatever of the current one was
 * not read, still checking it).  1: c describes it; 0: no more contents
 * and the trailer checksum matched with nothing after it; -1: err.
 */
int pack_reader_next(struct pack_reader *r, struct pack_content *c);
/* Original bytes of the current content; 0 at its end, where its size
 * and digest have been checked (mismatch: -1). */
ssize_t pack_reader_read(struct pack_reader *r, void *buf, size_t n);
/* Or its stored bytes as they are (for import, which keeps the stored
 * form); the digest is then checked by the consumer (store.h's
 * store_txn_put_stream). */
ssize_t pack_reader_read_raw(struct pack_reader *r, void *buf, size_t n);
/*
 * Rebuild the current content, a recipe, into outfd (at its offset) from
 * oldfd, the importer's copy of c.base_digest (c.base_size bytes; read
 * with pread), checking its size and SHA-256 as recipe_apply() does.
 * 0: made and checked; -1 with *drift: the bytes made are not the
 * content (the old copy is not c.base_digest, or the file lies), every
 * operation was read and the reader goes on; -1 without it: malformed
 * (the reader cannot go on) or an I/O error on outfd (what names it).
 * pack_reader_read() and _read_raw() refuse a recipe.
 */
int pack_reader_rebuild(struct pack_reader *r, int oldfd, int outfd,
    const char *what, bool *drift);
void pack_reader_close(struct pack_reader *r);

enum {
	/* A delta carries a large content that changed a little as a
	 * recipe from the base version's content at its path (format 2);
	 * else every content whole (format 1). */
	PACK_EXPORT_RECIPES = 1,
	/* A delta's manifest as the changes from the base version's
	 * (method 2), when that is smaller and rebuilds exactly: only for
	 * a reader that takes it (pack_import_opts.manifest_changes). */
	PACK_EXPORT_MANIFEST_CHANGES = 2
};

/* Write version of pkg (a delta against base when base != 0; base must
 * exist) as a package file to fd.  flags: PACK_EXPORT_*.  Progress may
 * be NULL. */
int pack_export(struct store *s, const char *pkg, uint64_t version,
    uint64_t base, unsigned flags, int fd, struct progress *p);

struct digestset_item;

/* The contents a package file of version of pkg holds (a delta against
 * base when base != 0): *v malloc'd, a sorted set (digestset.h). */
int pack_contents(struct store *s, const char *pkg, uint64_t version,
    uint64_t base, struct digestset_item **v, size_t *n);

/* As pack_export(), holding of those contents only the ones in the
 * sorted set only (n elements): for a store known to have the rest (a
 * child site that said what it lacks); its import checks that every
 * content is there. */
int pack_export_only(struct store *s, const char *pkg, uint64_t version,
    uint64_t base, const struct digestset_item *only, size_t nonly,
    unsigned flags, int fd, struct progress *p);

struct pack_import_opts {
	double wait;	   /* package lock timeout */
	const char *trust; /* public key file; NULL: no check */
	struct progress *progress;
	bool manifest_changes; /* take a manifest sent as the changes
				* from the base version's (a site
				* session): rebuilt from this store's */
	bool keep_contents;    /* a failed import keeps the contents
				* it checked (store_txn_keep_contents:
				* a site receive cut short) */
};

enum pack_import_result {
	PACK_IMPORTED,	      /* a new version */
	PACK_IMPORTED_OLDER,  /* a new version below the newest */
	PACK_ALREADY_PRESENT, /* the same version was there: no-op */
	/* Why a failed import failed (pack_import() returned -1): */
	PACK_FAILED,	/* the store or the system: the file
			 * may import later */
	PACK_REFUSED,	/* the file: damaged, hostile, not
			 * signed as STORE/trust or --trust
			 * wants, another content for a
			 * version present */
	PACK_NEEDS_BASE /* a delta against a version the
			 * store lacks */
};

/*
 * Import the package file on fd into s: everything is read and checked
 * (every content's digest, the trailer, a delta's base present, the
 * signature when opts->trust is set) before the version becomes
 * visible; on any failure nothing in the store has changed.  The same
 * version with the same manifest already present is a no-op
 * (PACK_ALREADY_PRESENT); the same version with another manifest is an
 * error.  STORE/trust applies (trust.h), and opts->trust besides.  On
 * failure *res says whose fault it was (PACK_FAILED, PACK_REFUSED,
 * PACK_NEEDS_BASE).  Takes the package's UPDATE lock.  *pkg_out (may be NULL)
 * receives the package name (static storage of the reader copied into
 * the caller's buffer of NAME_MAX_LEN + 1), *version_out the version.
 */
int pack_import(struct store *s, int fd, const char *name,
    const struct pack_import_opts *opts, enum pack_import_result *res,
    char pkg_out[NAME_MAX_LEN + 1], uint64_t *version_out);

#endif
