/*
 * sites.c — child sites: the site list, a push to a site (sites.h).
 */
#include <limits.h>
#include <stdio.h>

#include "dplist.h"
#include "err.h"
#include "sites.h"
#include "store.h"

int
sites_lists_load(struct store *s, struct dplist *dps, struct dplist *sites)
{
	char dp_path[PATH_MAX], site_path[PATH_MAX];

	dplist_init(dps);
	dplist_init(sites);
	if (snprintf(dp_path, sizeof(dp_path), "%s/%s", store_dir(s),
	    STORE_DPS) >= (int)sizeof(dp_path) ||
	    snprintf(site_path, sizeof(site_path), "%s/%s", store_dir(s),
	    STORE_SITES) >= (int)sizeof(site_path))
		return err_set("store path too long");
	return dplist_load_pair(dp_path, site_path, dps, sites);
}
