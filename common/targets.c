/*
 * targets.c — the target rule and the reach rule (targets.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "err.h"
#include "io.h"
#include "manifest.h"
#include "store.h"
#include "targets.h"

static bool
has(const char *const *v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

int
targets_load_dplist(struct store *s, struct dplist *l)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", store_dir(s), STORE_DPS);
	if (dplist_load(path, l) == -1) {
		if (err_errno() == ENOENT) {
			dplist_init(l);
			return 0;
		}
		return -1;
	}
	return 0;
}

int
targets_check(const struct dplist *l, const struct targets_sel *sel)
{
	size_t i;

	for (i = 0; i < sel->ndps; i++)
		if (dplist_find(l, sel->dps[i]) == NULL)
			return err_set("--dp: unknown DP '%s'", sel->dps[i]);
	for (i = 0; i < sel->nonly; i++)
		if (dplist_find(l, sel->only[i]) == NULL &&
		    (sel->sites == NULL ||
			dplist_find(sel->sites, sel->only[i]) == NULL))
			return err_set("--only: unknown DP '%s'", sel->only[i]);
	for (i = 0; i < sel->ngroups; i++)
		if (!dplist_has_group(l, sel->groups[i]))
			return err_set("--group: unknown group '%s'",
			    sel->groups[i]);
	return 0;
}

int
targets_select(struct store *s, const char *pkg, const struct dplist *l,
    const struct targets_sel *sel, bool *want, size_t *n, char ***stray,
    size_t *nstray)
{
	struct store_holding *hv = NULL;
	char **sv = NULL, **nv;
	size_t nh = 0, ns = 0, i, j;
	int rc = -1;

	*n = 0;
	if (stray != NULL) {
		*stray = NULL;
		*nstray = 0;
	}
	if (sel->refresh && store_holdings(s, pkg, &hv, &nh) == -1)
		return -1;
	for (i = 0; i < l->n; i++) {
		const struct dp *dp = &l->v[i];

		want[i] = sel->all || has(sel->dps, sel->ndps, dp->name) ||
		    has(sel->groups, sel->ngroups, dp->group);
		/* Held, or being brought to a version: a first push that
		 * failed, or one that was cut short, is named too. */
		for (j = 0; j < nh; j++)
			if (strcmp(hv[j].dp, dp->name) == 0 &&
			    (hv[j].version != 0 || hv[j].wanted != 0))
				want[i] = true;
		if (sel->nonly > 0 && !has(sel->only, sel->nonly, dp->name))
			want[i] = false;
		if (want[i])
			(*n)++;
	}
	for (j = 0; stray != NULL && j < nh; j++) {
		if (dplist_find(l, hv[j].dp) != NULL ||
		    (sel->sites != NULL &&
			dplist_find(sel->sites, hv[j].dp) != NULL) ||
		    (sel->nonly > 0 && !has(sel->only, sel->nonly, hv[j].dp)))
			continue;
		if ((nv = realloc(sv, (ns + 1) * sizeof(*nv))) == NULL) {
			err_nomem();
			goto out;
		}
		sv = nv;
		if ((sv[ns] = strdup(hv[j].dp)) == NULL) {
			err_nomem();
			goto out;
		}
		ns++;
	}
	if (stray != NULL) {
		*stray = sv;
		*nstray = ns;
		sv = NULL;
		ns = 0;
	}
	rc = 0;
out:
	store_strings_free(sv, ns);
	free(hv);
	return rc;
}

/* Does the kernel's mount table list path as a mount point?  Fields of
 * /proc/self/mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT ..., the mount
 * point escaped as "\040" for a space.  0 when it cannot be read. */
static int
mountinfo_lists(const char *path)
{
	char *buf = NULL, *p, *nl, *mp;
	size_t len, i, k;
	int found = 0, f;

	if (io_slurp(AT_FDCWD, "/proc/self/mountinfo", (size_t)64 << 20, &buf,
		&len) == -1)
		return 0;
	for (p = buf; !found && p < buf + len; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(buf + len - p))) == NULL)
			nl = buf + len;
		*nl = '\0';
		for (f = 0, mp = p; f < 4 && mp != NULL; f++)
			if ((mp = strchr(mp, ' ')) != NULL)
				mp++;
		if (mp == NULL)
			continue;
		/* Unescape in place up to the next blank. */
		for (i = k = 0; mp[i] != '\0' && mp[i] != ' '; k++) {
			if (mp[i] == '\\' && mp[i + 1] >= '0' &&
			    mp[i + 1] <= '3' && mp[i + 2] >= '0' &&
			    mp[i + 2] <= '7' && mp[i + 3] >= '0' &&
			    mp[i + 3] <= '7') {
				mp[k] = (char)((mp[i + 1] - '0') * 64 +
				    (mp[i + 2] - '0') * 8 + (mp[i + 3] - '0'));
				i += 4;
			} else
				mp[k] = mp[i++];
		}
		mp[k] = '\0';
		found = strcmp(mp, path) == 0;
	}
	free(buf);
	return found;
}

int
targets_mount_point(const struct dp_handle *h)
{
	struct stat st, up;
	char real[PATH_MAX];

	if (fstat(h->rootfd, &st) == -1 ||
	    fstatat(h->rootfd, "..", &up, 0) == -1)
		return err_sys("%s", h->where);
	/* Another file system, or the root of the tree. */
	if (st.st_dev != up.st_dev || st.st_ino == up.st_ino)
		return 1;
	if (realpath(h->where, real) == NULL)
		return err_sys("%s", h->where);
	return mountinfo_lists(real);
}

/* Does the store record dp holding a version of some package?  pkg
 * first (the common case), then every other.  1 with *pn (malloc'd) and
 * *ver, 0 when not, -1 on error. */
static int
recorded_holding(struct store *s, const char *dp, const char *pkg, char **pn,
    uint64_t *ver)
{
	struct store_holding h;
	char **names = NULL;
	size_t n = 0, i;
	int k, rc = -1;

	*pn = NULL;
	if (pkg != NULL) {
		if ((k = store_holding_find(s, pkg, dp, &h)) == -1)
			return -1;
		if (k == 1 && h.version != 0) {
			*ver = h.version;
			return (*pn = strdup(pkg)) == NULL ? err_nomem() : 1;
		}
	}
	if (store_packages(s, &names, &n) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (pkg != NULL && strcmp(names[i], pkg) == 0)
			continue;
		if ((k = store_holding_find(s, names[i], dp, &h)) == -1)
			goto out;
		if (k == 1 && h.version != 0) {
			*ver = h.version;
			*pn = names[i];
			names[i] = NULL;
			rc = 1;
			goto out;
		}
	}
	rc = 0;
out:
	store_strings_free(names, n);
	return rc;
}

int
targets_open(struct store *s, const struct dp *dp, const char *pkg, bool create,
    bool reinit, struct dp_handle *h)
{
	const struct config *cfg = store_config(s);
	char *held = NULL;
	uint64_t ver = 0;
	int k;

	if (dp_open(dp->target.path, false, h) == -1)
		return -1;
	if (config_mount_required(cfg, dp->name, dp->group)) {
		if ((k = targets_mount_point(h)) == -1)
			goto fail;
		if (k == 0) {
			err_set("%s: not a mount point, and '%s' says 'mount' "
				"for %s: the share looks unmounted; nothing is "
				"written there",
			    h->where, cfg->path, dp->name);
			goto fail;
		}
	}
	if (h->metafd == -1 && !reinit) {
		if ((k = recorded_holding(s, dp->name, pkg, &held, &ver)) == -1)
			goto fail;
		if (k == 1) {
			err_set(
			    "%s: no %s/ there, but the store records %s "
			    "holding %s %" PRIu64 ": the share looks "
			    "unmounted; nothing is written there (mount it, or "
			    "place the package afresh: pkgpush --dp %s "
			    "--reinit %s)",
			    h->where, DP_META, dp->name, held, ver, dp->name,
			    pkg != NULL ? pkg : held);
			free(held);
			goto fail;
		}
	}
	if (create && h->metafd == -1) {
		dp_close(h);
		return dp_open(dp->target.path, true, h);
	}
	return 0;
fail:
	dp_close(h);
	return -1;
}
