/*
 * targets.h — which DPs a command names, and whether a local DP may be
 * written: the two rules every push obeys before it touches a DP.
 *
 * The target rule (F4): the targets of a push are the union of the DPs
 * named (--dp), the members of the groups named (--group), every DP
 * (--all), and with --refresh-existing every DP the store records as
 * holding the package or as being brought to it (a first push that
 * failed, a push that was interrupted); --only then narrows that union
 * to the DPs it names (a retry job).  No other DP is touched.
 *
 * The reach rule: a local DP is unreachable, and nothing is written
 * there, when its directory is missing, when STORE/config has a "mount"
 * line for it or its group and its directory is not a mount point (its
 * device differs from its parent's, or the kernel's mount table lists
 * it: a bind mount), or when it shows no DP/.pkgdist/ while the store
 * records it holding a version of a package (an unmounted share, whose
 * empty mount point is left alone); --reinit places the package afresh
 * in that last case.
 *
 * Calling: a push (pushrun.h) loads the DP list with
 * targets_load_dplist(), checks the struct targets_sel pkgpush filled
 * from its options with targets_check() (an unknown name is trouble
 * before any DP is touched), picks with targets_select(), and opens each
 * local target with targets_open(); --status opens with it too, so that
 * it reports what a push would meet.  Functions return 0 or -1 with err.h set.
 */
#ifndef PKGDIST_TARGETS_H
#define PKGDIST_TARGETS_H

#include <stdbool.h>
#include <stddef.h>

#include "dp.h"
#include "dplist.h"

struct store;

struct targets_sel {
	const char *const *dps; /* --dp NAME... */
	size_t ndps;
	const char *const *groups; /* --group G... */
	size_t ngroups;
	const char *const *only; /* --only NAME... (0: no narrowing) */
	size_t nonly;
	bool all;		    /* --all */
	bool refresh;		    /* --refresh-existing */
	const struct dplist *sites; /* the site list (sites.h), or NULL:
				     * --only may name a site, and a
				     * site's holdings are no stray */
};

/* The DP list of store s (STORE/dps) into l; a store without one has
 * an empty list. */
int targets_load_dplist(struct store *s, struct dplist *l);

/* Every name of sel is in l: else -1, err "--dp: unknown DP 'x'",
 * "--only: unknown DP 'x'" or "--group: unknown group 'g'". */
int targets_check(const struct dplist *l, const struct targets_sel *sel);

/*
 * The targets of sel for pkg: want[i] (l->n entries, the caller's) says
 * whether l->v[i] is one, so targets come in DP list order; *n gets
 * their count.  With sel->refresh the store's holdings of pkg are read;
 * a DP they name that is not in l is put in *stray (malloc'd vector of
 * malloc'd names, store_strings_free(); may be NULL when the caller does
 * not ask) for the caller to mention.  -1 with err on a read failure.
 */
int targets_select(struct store *s, const char *pkg, const struct dplist *l,
    const struct targets_sel *sel, bool *want, size_t *n, char ***stray,
    size_t *nstray);

/*
 * Open the local DP dp (dp_open()) after the reach rule above: -1 with
 * err saying why it is unreachable ("... the share looks unmounted ...")
 * and h closed; pkg, the package the caller is about to push (NULL for
 * --status), is named first when the store records what dp holds.  With
 * create, DP/.pkgdist is made when the rule allows it (a new DP, or
 * reinit).  s gives the settings (mount lines) and the records.
 */
int targets_open(struct store *s, const struct dp *dp, const char *pkg,
    bool create, bool reinit, struct dp_handle *h);

/* 1 when the directory open at h is a mount point, 0 when not, -1 with
 * err when that cannot be told. */
int targets_mount_point(const struct dp_handle *h);

#endif
