/*
 * sites.h — child sites (SPEC.md "Child sites"): the site list and a push
 * to a site.
 *
 * The site list, STORE/sites, is the DP list's format, read by its one
 * parser (dplist.h); a NAME is unique across STORE/dps and STORE/sites.
 * The store's holdings records (store.h) keep, per site as per DP, the
 * version the site was last brought to, so the next push to it sends
 * only what that version lacks.
 *
 * Functions return 0 (or a count) or -1 with err.h set; nothing prints.
 */
#ifndef PKGDIST_SITES_H
#define PKGDIST_SITES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dplist.h"
#include "manifest.h"
#include "status.h"

struct store;

/* STORE/dps into dps and STORE/sites into sites (dplist_load_pair():
 * a missing file is an empty list, a name in both is an error). */
int sites_lists_load(struct store *s, struct dplist *dps, struct dplist *sites);

/* What a command names among the sites (pkgpush --site, --site-group,
 * --all-sites; --refresh-existing and --only as for DPs, targets.h). */
struct sites_sel {
	const char *const *sites; /* --site NAME... */
	size_t nsites;
	const char *const *groups; /* --site-group G... */
	size_t ngroups;
	const char *const *only; /* --only NAME... (0: no narrowing) */
	size_t nonly;
	bool all;     /* --all-sites */
	bool refresh; /* --refresh-existing */
};

/* Every --site and --site-group of sel is in l: else -1, err "--site:
 * unknown site 'x'" or "--site-group: unknown site group 'g'". */
int sites_check(const struct dplist *l, const struct sites_sel *sel);

/* The sites of sel for pkg, as targets_select() picks DPs: want[i] for
 * l->v[i], *n their count; with sel->refresh every site the store
 * records as holding pkg, or as being brought to it. */
int sites_select(struct store *s, const char *pkg, const struct dplist *l,
    const struct sites_sel *sel, bool *want, size_t *n);

/* How a push to a site goes. */
struct site_push_opts {
	bool dry_run; /* -n: ask, write nothing, record nothing */
	bool cascade; /* --cascade: an ssh:// child pushes on to
		       * its own targets holding the package */
	bool json;    /* the child's report lines as JSON */
	/* Each line of a cascade's report as it comes, the target already
	 * named SITE/DP: a report line (err false) or a message for stderr
	 * without the tool's name (err true). */
	void (*line)(void *arg, bool err, const char *text);
	void *arg;
};

/* The outcome of one push to a site. */
struct site_push_result {
	uint64_t from;		/* the version the records say the site
				 * holds (its newest); 0: none */
	uint64_t to;		/* the version pushed */
	uint64_t base;		/* the file is a delta against base; 0:
				 * whole */
	uint64_t bytes;		/* bytes of the package file written */
	uint64_t contents;	/* ssh: contents the file would hold */
	uint64_t contents_sent; /* ssh: of those, the ones the child
				 * lacked, sent */
	uint64_t recipes;	/* ssh: of those, the ones sent as recipes
				 * (site_recipe.h) and rebuilt there */
	uint64_t bytes_saved;	/* ssh: the bytes the recipes did not send */
	bool up_to_date;	/* the records say it holds to already:
				 * nothing written */
	bool permanent;		/* failed in a way waiting will not mend */
	int cascade_rc;		/* the child's own push: its exit status,
				 * -1 when none ran */
	bool cascade_at_import; /* a directory site under --cascade: its
				 * own pkgdist-cron pushes the file on */
	char file[NAME_MAX_LEN + 32]; /* "PKG-N.pkg" */
};

/*
 * Bring site (of STORE/sites) to version of pkg, whose manifest m the
 * caller has loaded and keeps from gc (the package's USE lock).
 *
 * An ssh:// TARGET is the child's store, brought to the version through
 * pkgpush --receive there (sitessh.h).  A directory TARGET is the
 * child's inbox: one package file PKG-N.pkg
 * is written there through a temporary name starting with '.' and a
 * rename (atomic.h; such a temporary that a killed push of pkg left there
 * is removed by the next push once a day old), a delta against the
 * newest version the records say
 * the site holds when this store still has it, else whole (pack.h).  A
 * missing TARGET directory makes the site unreachable (-1), and so does
 * one that a "mount" line of STORE/config names (the site or its group)
 * when it is not a mount point (targets.h, the reach rule).  The outcome
 * is recorded in the store's holdings (the site then holds the higher of
 * version and what it held), so the next push sends a delta against it;
 * a failure is recorded as failed, still holding what it held.  With
 * o->dry_run nothing is written or recorded.  With o->cascade an ssh://
 * child then runs its own "pkgpush --refresh-existing --cascade" for the
 * version (sitessh.h), also when it had the version already; its exit
 * status 2 fails the site, 1 is r->cascade_rc for the caller to count
 * (the child queued its own retries).  A directory site's child pushes
 * on by itself when its pkgdist-cron imports the file, as --cascade
 * would: o->cascade only sets r->cascade_at_import, for the report.
 *
 * -1 with err on failure (r filled as far as known; r->permanent when a
 * retry cannot help).
 */
int site_push(struct store *s, const struct dp *site, const char *pkg,
    const struct manifest *m, const struct site_push_opts *o,
    struct site_push_result *r);

/*
 * --status rows of every site of l for pkg (NULL: every package),
 * appended to *rows (*n entries, realloc'd).  An ssh:// site is asked
 * (sitessh_status()): its newest version of each package, "complete"
 * (or "none"); one that cannot be asked gives the store's records,
 * "unreachable", with why.  A directory site gives the store's records
 * (its inbox says nothing of what the child imported).  With o->cascade
 * each child's own status lines go to o->line, and the highest of their
 * exit statuses to *cascade_rc (-1: none ran).
 */
int sites_status(struct store *s, const struct dplist *l, const char *pkg,
    const struct site_push_opts *o, struct status_row **rows, size_t *n,
    int *cascade_rc);

#endif
