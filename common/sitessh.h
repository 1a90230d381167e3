/*
 * sitessh.h — a child site reached over ssh: TARGET
 * "ssh://[user@]host[:port]/path" is the child's store on that host.
 *
 * The parent starts, as for a remote DP (remote.h: $PKGDIST_SSH or the
 * "ssh" line, $PKGDIST_REMOTE_PKGPUSH or the "remote-pkgpush" line),
 *
 *   SSH HOST REMOTE-PKGPUSH --receive 'PATH'
 *
 * and the two speak, on ssh's standard input and output:
 *
 *   parent: "pkgdist-site 2 PKG VERSION[ cascade[ json]]\n"
 *   child:  "have\n"            the store has that version: nothing more
 *           "base B\n"          it lacks it; B its highest version below
 *                               VERSION (0: none)
 *           "error TEXT\n"      no store at PATH, or trouble: it ends
 *   parent: "offer N\n", then N lines of a digest each (lowercase hex):
 *           the contents of VERSION, less those of B when the parent's
 *           store has B (a delta), else all of them
 *   child:  "lack M\n", then the M of those digests its store lacks
 *   parent: recipes (site_recipe.h): those of the M that are large files
 *           changed a little from the file at their path in B, each as
 *           the ranges of the child's copy of B's content to keep and
 *           the bytes to insert; then "file\n"
 *   parent: one package file (pack.h) of VERSION, a delta against B (or
 *           whole, as offered), holding only those of the M contents not
 *           sent as recipes; then end of input
 *   child:  "done imported\n", "done older\n", "done present\n"
 *           "refused TEXT\n"    the file: damaged, or a signature that
 *                               the child's STORE/trust refuses
 *           "error TEXT\n"      the child's store failed (a full disk)
 *           "whole K\n", then K digests: recipes its copy of the base
 *                               content could not rebuild (missing,
 *                               damaged): nothing imported, the
 *                               contents rebuilt kept; the parent pushes
 *                               again in a new session with no recipes
 *
 * In version 3 the package file's manifest may come as the changes
 * from B's manifest (pack.h method 2, mchanges.h), which the child holds
 * byte for byte: a refresh then carries about the changed entries, not
 * the whole manifest.  Version 2 ("pkgdist-site 2 ...", the release
 * before) is the same with the manifest always whole; version 1 (the
 * release before that) has no recipes, no "file" line and no "whole".
 * A child of an older release answers a newer version with "error "
 * SITESSH_NOT_OURS: the parent then asks again one version lower, in a
 * new session; a child of this release answers a parent speaking an
 * older version in it.
 *
 * With "cascade", after "have" or "done ...", the child runs its own
 * "pkgpush -s PATH --refresh-existing --cascade --version VERSION PKG"
 * (the pkgpush beside it, its own store, settings and environment: the
 * ssh it reaches its DPs with is its own), when any of its DPs or sites
 * is recorded for PKG, and passes on what it prints:
 *
 *   child:  "out TEXT\n"        a line of its report (stdout)
 *           "err TEXT\n"        a line of its messages (stderr)
 *           "wait\n"            every few seconds while it runs
 *           "cascade RC\n"      its exit status; the session ends
 *
 * For --status the parent asks instead
 *
 *   parent: "pkgdist-site-status 1 PKG|*[ cascade[ json]]\n"
 *   child:  "has PKG V\n"       its newest version of PKG (of each of its
 *                               packages for "*"; V 0: none), then
 *           "end\n"
 *
 * and with "cascade" the child then runs its own "pkgpush -s PATH
 * --status --cascade [--json] [PKG]", passed on as "out", "err", "wait"
 * and "cascade RC" lines, as above.
 *
 * The child imports the file as "pkgstage import" does (pack_import():
 * every byte checked before the version is visible, under the package's
 * lock, STORE/trust applied), so the version appears there whole or not
 * at all, and a newer version it holds stays its newest.  It never
 * creates a store: a missing one is "error".  Every line is at most
 * SITELINE_MAX bytes (siteline.h); the child reads the request byte by byte, so
 * nothing of the package file is taken for it.
 *
 * What crosses the network is the contents the child's store lacks, not
 * those it holds in any version or package, and of a large file that
 * changed a little about the changed bytes.  A transfer cut short (a
 * broken connection, a failure of either side) leaves the child's
 * versions as they were, but keeps in its store the contents received
 * whole and checked (store_txn_keep_contents()), so the retry does not
 * send them again; gc removes them there if no version comes to use
 * them.
 *
 * The caller ignores SIGPIPE (pkgpush does, in every mode): a
 * child gone mid-file is then a failed write, not the parent's death,
 * and pushes to several sites run at once without touching signal
 * dispositions.
 *
 * Functions return 0 or -1 with err.h set; nothing prints.
 */
#ifndef PKGDIST_SITESSH_H
#define PKGDIST_SITESSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dplist.h"
#include "manifest.h"

struct store;
struct site_push_opts;
struct site_push_result;

#define SITESSH_MODE "--receive"
#define SITESSH_MAGIC "pkgdist-site 3"
#define SITESSH_MAGIC_2 "pkgdist-site 2" /* the manifest whole */
#define SITESSH_MAGIC_1 "pkgdist-site 1" /* no recipes */
/* What a child answers ("error ...") to a request it does not know. */
#define SITESSH_NOT_OURS "not a request of this protocol"
#define SITESSH_STATUS_MAGIC "pkgdist-site-status 1"

/* The parent's side: bring the child store of site (kind DP_SSH) to m's
 * version of pkg; r as site_push() fills it (sites.h), the caller
 * records.  -1 with err when the site failed. */
int sitessh_push(struct store *s, const struct dp *site, const char *pkg,
    const struct manifest *m, const struct site_push_opts *o,
    struct site_push_result *r);

/* What a child's store has of one package, for --status. */
struct sitessh_has {
	char package[NAME_MAX_LEN + 1];
	uint64_t version; /* its newest; 0: none */
};

/*
 * Ask the child store of site, reached with the settings of s, what it
 * has of pkg (NULL: of every package): *v malloc'd.  With o->cascade its
 * own status lines go to o->line, and its exit status to *cascade_rc
 * (else -1).  -1 with err when it cannot be asked.
 */
int sitessh_status(struct store *s, const struct dp *site, const char *pkg,
    const struct site_push_opts *o, struct sitessh_has **v, size_t *n,
    int *cascade_rc);

/* The child's side (pkgpush --receive PATH) on in and out.  0 when the
 * session went as the parent asked (a version imported or present), -1
 * with err otherwise (after telling the parent). */
int sitessh_serve(int in, int out, const char *path);

#endif
