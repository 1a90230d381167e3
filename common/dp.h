/*
 * dp.h — one distribution point on this host: opening it safely, its
 * lock, and the state it keeps about each package in DP/.pkgdist/.
 *
 * Everything under a DP is reached relative to directory descriptors:
 * the DP root is opened once (the administrator's path may be a link,
 * as a mount point often is); below it nothing is followed: every
 * directory is opened with O_NOFOLLOW | O_DIRECTORY and every name is
 * created with O_EXCL / mkdirat / symlinkat / renameat relative to its
 * parent's descriptor.  A link planted on the share (DP/.pkgdist itself,
 * or anything inside a package tree) therefore makes the push fail or
 * treats the link as a plain entry; it never redirects a write outside
 * the DP.
 *
 * On-disk layout (pkgpush(1), FILES):
 *
 *   DP/PKG                      atomic: symlink ".pkgdist/PKG/vN.K"
 *                               inplace: the package directory itself
 *   DP/.pkgdist/.lock           the DP's lock (held during a push)
 *   DP/.pkgdist/PKG/state       "pkgdist-dpstate 1" record (below)
 *   DP/.pkgdist/PKG/manifest    the manifest of what DP/PKG holds (atomic:
 *                               a pointer to the vN.K.manifest of the tree
 *                               DP/PKG links to, dp_current_manifest())
 *   DP/.pkgdist/PKG/vN.K/       atomic: a complete tree of version N
 *   DP/.pkgdist/PKG/vN.K.manifest  its manifest
 *   DP/.pkgdist/PKG/base.N.K    a full manifest (of version N) that the
 *                               manifests above are deltas against
 *   DP/.pkgdist/PKG/tmp.*       a tree or file being built (debris after
 *                               a crash; removed by the next push)
 *
 * Manifests kept on the DP describe the DP's files as they are: modes
 * after the read-only rule (dp_mode()), header "package"/"version" set,
 * so `pkgdiff verify DP/.pkgdist/PKG/vN.K.manifest DP/PKG` shows drift.
 * Each (vN.K.manifest, manifest) is a delta file (mdelta.h) naming a
 * base.N.K beside it and the base's SHA-256, or (written by an older
 * pkgpush) a full manifest; every reader goes through mdelta_load_at().
 * A push writes a delta against the base it read when the delta stays
 * small (MDELTA_REBASE_DIV), else a new base and an empty delta; bases
 * are immutable and never a tree's manifest, so pruning a tree never
 * breaks a kept tree's delta; once the new state is in place, bases no
 * manifest names are removed (mdelta_gc()).
 *
 * The state record (written atomically, after every push):
 *
 *   pkgdist-dpstate 1
 *   layout atomic|inplace
 *   version N              version held (partial: the version it is
 *                          partly at)
 *   state complete|partial
 *   from M                 partial only: the version it was at before
 *   tree vN.K              atomic only: the current tree
 *   lived vN.K ...         atomic only: the trees that were live before
 *                          the current one, most recently live first
 *                          ("-": none); what --keep keeps.  A record
 *                          without it (an earlier release) says nothing
 *                          of which trees were live: dp_state_lived()
 *   error TEXT             last failure, escaped as manifest paths ("-")
 *
 * For the atomic layout the link DP/PKG is the truth (a crash between
 * the switch and the state write is thus harmless): dp_state_read()
 * follows the link's tree name, not the record's.
 */
#ifndef PKGDIST_DP_H
#define PKGDIST_DP_H

#include <stdbool.h>
#include <stdint.h>

#include "manifest.h"
#include "mdelta.h"

#define DP_META ".pkgdist"
#define DP_LOCK ".lock"
#define DP_STATE "state"
#define DP_MANIFEST "manifest"
#define DP_TMP_PREFIX "tmp."
/* An atomic tree "vN.K" (N its version, K a number that makes the name
 * new) and its manifest beside it, "vN.K" DP_TREE_MANIFEST. */
#define DP_TREE_MAX 64
#define DP_TREE_MANIFEST ".manifest"
/* Temporary names inside a package directory (inplace layout). */
#define DP_INPLACE_TMP ".pkgdist-tmp-"

struct dp_handle {
	int rootfd;  /* the DP root directory */
	int metafd;  /* DP/.pkgdist, -1 if absent (read-only open) */
	int lockfd;  /* -1 unless locked */
	char *where; /* the DP's path, for messages: shown with
		      * path_show(), one line whatever it holds */
};

/*
 * Open the DP at path (a local directory).  With create, DP/.pkgdist is
 * created when missing; without it a missing .pkgdist leaves metafd -1
 * (a DP that holds nothing).  A .pkgdist that is not a real directory
 * (a link, a file) is an error.  A missing DP root is an error (the DP
 * is unreachable: an unmounted share is not recreated).
 */
int dp_open(const char *path, bool create, struct dp_handle *h);

/*
 * "WHERE/PATH" for a message into buf (len bytes): where as h->where
 * (already shown), path, from a manifest, through path_show(), so that
 * a name with a newline stays on its line.  Returns buf.
 */
const char *dp_what(const char *where, const char *path, char *buf, size_t len);
void dp_close(struct dp_handle *h);

/* Take the DP's lock, waiting up to timeout seconds (lock.h). */
int dp_lock(struct dp_handle *h, double timeout);

enum dp_layout { DP_LAYOUT_NONE = 0, DP_LAYOUT_ATOMIC, DP_LAYOUT_INPLACE };
enum dp_status { DP_ST_NONE = 0, DP_ST_COMPLETE, DP_ST_PARTIAL };

struct dp_state {
	enum dp_layout layout;
	enum dp_status status; /* NONE: the DP does not hold the package */
	uint64_t version;
	uint64_t from;		/* partial: version before */
	char tree[DP_TREE_MAX]; /* atomic: "vN.K" */
	char *lived;		/* atomic: the "lived" line's trees (blank-
				 * separated, "" none), or NULL when the
				 * record has no such line; malloc'd */
	char *error;		/* last failure, or NULL; malloc'd */
	bool stale;		/* atomic: the record names another tree than
				 * DP/PKG links to (a crash after the switch):
				 * the fields follow the link */
};

void dp_state_init(struct dp_state *s);
void dp_state_free(struct dp_state *s);

/*
 * What the DP holds of pkg: fills s and, when m is not NULL and the DP
 * holds the package, m (the manifest of what DP/PKG holds; for a
 * partial in-place state, the manifest of the files known to be there,
 * which the next push checks by scanning).  A DP that never held pkg:
 * status NONE, m left empty.  DP/PKG being something the state does not
 * explain (a plain directory without state, a link elsewhere) is an
 * error.
 */
int dp_state_read(struct dp_handle *h, const char *pkg, struct dp_state *s,
    struct manifest *m);
/* The same; b (may be NULL) gets the base m was read against, for
 * writing the next manifest as a delta (mdelta.h). */
int dp_state_read_base(struct dp_handle *h, const char *pkg, struct dp_state *s,
    struct manifest *m, struct mdelta_base *b);
/* Write the state record of pkg (DP/.pkgdist/PKG/state) atomically;
 * *bytes (may be NULL) is increased by the bytes written. */
int dp_state_write(struct dp_handle *h, const char *pkg,
    const struct dp_state *s, uint64_t *bytes);

/*
 * Tree names.  dp_tree_parse(): is name exactly "vN.K" (decimal, no
 * leading zero, N a uint64_t, K from 1 to UINT_MAX, shorter than
 * DP_TREE_MAX)?  0 and *v, *k set (either may be NULL), or -1 (no error
 * text: the caller says what the name was).  dp_tree_manifest(): is name
 * a tree's manifest, "vN.K.manifest"?  Then 0 and the tree's name in
 * tree.  The one parser of these names for every reader of a DP.
 */
int dp_tree_parse(const char *name, uint64_t *v, unsigned *k);
int dp_tree_manifest(const char *name, char tree[DP_TREE_MAX]);
/* out = tree's manifest name, "vN.K.manifest". */
void dp_tree_manifest_name(const char *tree,
    char out[DP_TREE_MAX + sizeof(DP_TREE_MANIFEST)]);

/*
 * The order in which trees were live, for --keep.  dp_state_make_live()
 * records that tree becomes the current one: the previous current tree
 * goes first in s->lived, tree leaves it (s->lived NULL: it is made,
 * with the previous current tree alone; a layout that finds a record of
 * an earlier release seeds it first with dp_state_set_lived()).  0, or
 * -1 (out of memory).
 *
 * dp_state_lived(): the i-th tree of s->lived (0: the most recently
 * live before the current), copied into out; 1, or 0 past the end.
 */
int dp_state_make_live(struct dp_state *s, const char *tree);
int dp_state_lived(const struct dp_state *s, size_t i, char out[DP_TREE_MAX]);
/* Replace s->lived by the trees of v[0..n) in that order (NULL-safe).
 * 0, or -1 (out of memory). */
int dp_state_set_lived(struct dp_state *s, char (*v)[DP_TREE_MAX], size_t n);

/*
 * Atomic layout: make DP/.pkgdist/PKG/manifest (pkgfd: DP/.pkgdist/PKG)
 * the pointer to the manifest of the tree DP/PKG links to (mdelta.h,
 * "link ../../PKG"), unless it is one already; an earlier release kept a
 * hard link to the current tree's manifest there, which a crash right
 * after the switch left naming the old tree.  *bytes as for
 * dp_state_write().  0, or -1 with err set.
 */
int dp_current_manifest(struct dp_handle *h, const char *pkg, int pkgfd,
    uint64_t *bytes);

/* The packages with state on the DP, sorted; malloc'd vector of malloc'd
 * names.  A DP without .pkgdist holds none. */
int dp_packages(struct dp_handle *h, char ***names, size_t *n);
void dp_packages_free(char **names, size_t n);

/* One package's state on a DP, local or remote (remote_status()). */
struct dp_pkg_state {
	char package[NAME_MAX_LEN + 1];
	struct dp_state st; /* st.error malloc'd or NULL */
	char *damaged;	    /* the state cannot be read: why; else NULL */
};

/*
 * What the DP holds, for pkgpush --status and its remote end: with pkg,
 * one entry (status DP_ST_NONE when the DP does not hold it); pkg NULL,
 * one per package the DP holds (dp_packages(), those whose status is
 * not NONE).  A state that cannot be read is an entry with damaged set,
 * not a failure.  *v malloc'd (dp_pkg_states_free()); -1 with err set
 * when the packages cannot be listed or memory runs out.
 */
int dp_states(struct dp_handle *h, const char *pkg, struct dp_pkg_state **v,
    size_t *n);
void dp_pkg_states_free(struct dp_pkg_state *v, size_t n);

/*
 * A push of pkg to the DP failed because of why: when the DP holds pkg
 * complete, why becomes its state's last error ("failed: why" in
 * --status; best effort, the DP is otherwise left as it is).  st (may
 * be NULL) gets the state as read (dp_state_free()).  0, or -1 with err
 * set when the state cannot be read.
 */
int dp_note_failure(struct dp_handle *h, const char *pkg, const char *why,
    struct dp_state *st);

/* Open (creating with create) DP/.pkgdist/PKG; returns the descriptor. */
int dp_pkgdir(struct dp_handle *h, const char *pkg, bool create);

/*
 * The read-only rule.  The mode a file or directory
 * gets on a DP from its manifest mode m:
 *   - setuid and setgid bits are dropped (a DP is no place for them);
 *   - unless m grants write to others (o+w: the manifest says plainly
 *     that the file is meant to be written), every write bit is
 *     dropped;
 *   - read is added for everybody (0444), and search for directories,
 *     since a DP exists to be read by its clients;
 *   - directories keep owner write (0755): without it only root could
 *     create, replace or rename anything in them, and pkgpush must work
 *     for the unprivileged account a site runs it as.  Clients are
 *     still kept out by the missing group and other write bits.
 * Links keep their mode (it means nothing on Linux).
 */
unsigned dp_mode(char type, unsigned m);

/*
 * A copy of src with every mode passed through dp_mode() and the header
 * set to pkg / version: the manifest a DP holding src has.
 */
int dp_view(const struct manifest *src, const char *pkg, uint64_t version,
    struct manifest *out);

/*
 * Walking a tree by manifest paths with one open descriptor per
 * directory level (entries come in path order, so consecutive entries
 * share most of their parents).  Every level is opened with O_NOFOLLOW.
 */
struct dp_walk {
	int rootfd;   /* not owned */
	int *fds;     /* fds[i]: directory of the first i+1 levels */
	size_t *ends; /* ends[i]: length of that prefix in cur */
	size_t depth, cap;
	char *cur; /* current directory path */
	size_t curcap;
};

void dp_walk_init(struct dp_walk *w, int rootfd);
void dp_walk_free(struct dp_walk *w);
/*
 * The directory holding path: *dirfd (owned by w, valid until the next
 * call) and *base (points into path).  -1 with err if a parent is
 * missing or not a directory (a link is not a directory here).
 */
int dp_walk_parent(struct dp_walk *w, const char *path, int *dirfd,
    const char **base);

#endif
