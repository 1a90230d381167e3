/*
 * mdelta.h — a manifest kept as a delta against a full "base" manifest
 * (pkgmanifest(5), DELTA FILES), as a DP keeps its state manifests, so a
 * refresh writes state in proportion to what changed instead of the
 * whole manifest (16 MB for a 100,000-file package) every time.
 *
 * A delta file:
 *
 *   pkgdist-manifest-delta 1
 *   base NAME SHA256        the base file, in the same directory, and
 *                           the SHA-256 of its bytes
 *   changes N               how many change lines follow (a file cut
 *                           short at a line end is still refused)
 *   package NAME            optional: the result's header, as in a
 *   version N               manifest
 *   K ENTRY                 N change lines (changes.h), sorted by path
 *
 * The manifest it stands for is the base with the change lines applied:
 * the lines are changes_compute(base, result).  A base is a full
 * manifest named "base.N.K" (N the version it describes, K a number that
 * makes the name new): never a tree's manifest, never rewritten, so a
 * delta's base cannot change or vanish under it while a kept manifest
 * names it (mdelta_gc() removes only bases no file names).
 *
 * One loader: mdelta_load_at() reads a full manifest, a delta or a
 * pointer (every DP
 * reader goes through it: dp_state_read(), rollback, --verify, --status,
 * --serve), and mdelta_load_path() hands a delta a user names to it, so
 * `pkgdiff verify DP/.pkgdist/PKG/vN.K.manifest DP/PKG` works.  A DP is
 * hostile input: files are opened relative to the directory with
 * O_NOFOLLOW (a link planted as a base is not followed), must be regular
 * files of at most MDELTA_FILE_MAX bytes, the base's name must be a base
 * name, its SHA-256 must be the one recorded, every change line must
 * apply (A to a path the base lacks; D, M, P to one it has; D naming the
 * base's entry exactly; M and P classified as changes.h would), and the
 * result passes manifest_check().
 *
 * Functions return 0 (or a count) or -1 with err set; nothing prints.
 */
#ifndef PKGDIST_MDELTA_H
#define PKGDIST_MDELTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "changes.h"
#include "digest.h"
#include "manifest.h"

#define MDELTA_MAGIC "pkgdist-manifest-delta 1"
/*
 * A manifest pointer: the manifest of the tree a symbolic link points at.
 *
 *   pkgdist-manifest-link 1
 *   link PATH               a symbolic link: "../" steps, then a name,
 *                           relative to the pointer's directory
 *
 * It stands for the file in the pointer's directory named after the last
 * component of the link's target plus MDELTA_POINTER_SUFFIX (a full
 * manifest or a delta; never another pointer).  A DP's atomic layout
 * keeps DP/.pkgdist/PKG/manifest as one ("link ../../PKG"): the one
 * rename that switches DP/PKG to a new tree switches what the pointer
 * stands for, so the two can never disagree, whatever the crash.  The
 * link's target is read as a name only; nothing is opened through it.
 * Its magic line is no longer than the delta's, so a reader that peeks
 * at sizeof(MDELTA_MAGIC) + 1 bytes to tell a delta sees it too.
 */
#define MDELTA_POINTER_MAGIC "pkgdist-manifest-link 1"
#define MDELTA_POINTER_SUFFIX ".manifest"
#define MDELTA_BASE_PREFIX "base."
#define MDELTA_NAME_MAX 64
/* The largest manifest or delta file read (the store's own limit). */
#define MDELTA_FILE_MAX ((off_t)1 << 30)
/*
 * A save writes a delta while it has at most 1/MDELTA_REBASE_DIV as many
 * lines as the base has entries, else a new base (and an empty delta).
 * Deltas are cumulative (each is against the base, so a load reads two
 * files, never a chain), so a delta grows with each push since the base;
 * with c changed entries a push and B entries in the base, the state
 * written per push averages c/f + f*B/2 over a rebase cycle (f the
 * fraction), least at f = sqrt(2c/B): 0.14 for a 1% change.  1/4 keeps
 * every delta under a quarter of the full manifest, rebases seldom (a
 * base costs B), and is within 20% of the best for changes of 1-3%.
 */
#define MDELTA_REBASE_DIV 4

/*
 * What the loader learned of a delta's base: enough to write the next
 * delta against the same base without reading the base again.
 * touched holds one line per path the delta changed, with the base's
 * side: for D, M and P the base's entry, for A the added entry (the
 * base lacks the path).
 */
struct mdelta_base {
	char name[MDELTA_NAME_MAX]; /* "" : none (a full manifest) */
	unsigned char digest[DIGEST_LEN];
	size_t nbase; /* entries in the base */
	struct change_file touched;
};

void mdelta_base_init(struct mdelta_base *b);
void mdelta_base_free(struct mdelta_base *b);

/* Is name a base's name ("base.N.K", digits, at most 63 bytes)? */
bool mdelta_name_valid(const char *name);

/* Do the first len bytes of a file start a delta file or a pointer? */
bool mdelta_is_delta(const char *buf, size_t len);

/*
 * Load name under dirfd (a full manifest or a delta with its base beside
 * it) into m.  label names the file in messages ("DP/.pkgdist/PKG").
 * b, when not NULL, gets the base (name "" for a full manifest).  On
 * failure m (and b) are left empty.
 */
int mdelta_load_at(int dirfd, const char *name, const char *label,
    struct manifest *m, struct mdelta_base *b);

/* Does the file at path start a delta file or a pointer?  "-" (standard
 * input), a pipe and a file that cannot be opened do not. */
bool mdelta_path_is_delta(const char *path);

/* Load the file at path ("-" is standard input), a manifest a user
 * names: a delta file or a pointer with its base beside it, else a full
 * manifest (manifest_load()). */
int mdelta_load_path(const char *path, struct manifest *m);

/*
 * Write m as name under dirfd (atomically, mode 0444).  old is the
 * manifest that was loaded with b (b->name "" or b NULL: there is no
 * base to go on, e.g. old came from a scan): when the delta of m against
 * b's base is small enough it is written; otherwise a new base
 * "base.V.K" (V = m->version) is written first, then an empty delta
 * against it, and b is updated to it.  *bytes (may be NULL) is
 * increased by the bytes written.  Old bases are not removed here: the
 * caller calls mdelta_gc() once the new state is in place.
 */
int mdelta_save_at(int dirfd, const char *name, const struct manifest *old,
    const struct manifest *m, struct mdelta_base *b, uint64_t *bytes);

/*
 * Make name under dirfd a pointer to the manifest of the tree the link
 * (PATH as above) points at, unless it is one already (then nothing is
 * written).  *bytes (may be NULL) is increased by the bytes written.
 * 0, or -1 with err set.
 */
int mdelta_save_pointer(int dirfd, const char *name, const char *link,
    uint64_t *bytes);

/*
 * The base a file under dirfd names: 1 and out set for a delta, 0 for
 * anything else (a full manifest, a missing file, a link, a malformed
 * header), -1 with err when the file cannot be read (then nobody can
 * say which bases are in use).
 */
int mdelta_base_of(int dirfd, const char *name, char out[MDELTA_NAME_MAX]);

/*
 * Remove the bases under dirfd that no delta there names (only after the
 * new state is in place: a crash then leaves at worst an unused base,
 * removed by the next call).  -1 with err (the first failure) when one
 * could not be removed or the directory not be read: the state is
 * whole either way, so callers only warn.
 */
int mdelta_gc(int dirfd);

#endif
