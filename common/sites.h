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

#include "dplist.h"

struct store;

/* STORE/dps into dps and STORE/sites into sites (dplist_load_pair():
 * a missing file is an empty list, a name in both is an error). */
int sites_lists_load(struct store *s, struct dplist *dps,
    struct dplist *sites);

#endif
