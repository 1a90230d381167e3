/*
 * sites.c — child sites: the site list, a push to a site (sites.h).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "config.h"
#include "dplist.h"
#include "err.h"
#include "fault.h"
#include "io.h"
#include "pack.h"
#include "sites.h"
#include "sitessh.h"
#include "store.h"
#include "targets.h"

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

int
sites_check(const struct dplist *l, const struct sites_sel *sel)
{
	size_t i;

	for (i = 0; i < sel->nsites; i++)
		if (dplist_find(l, sel->sites[i]) == NULL)
			return err_set("--site: unknown site '%s'",
			    sel->sites[i]);
	for (i = 0; i < sel->ngroups; i++)
		if (!dplist_has_group(l, sel->groups[i]))
			return err_set("--site-group: unknown site group '%s'",
			    sel->groups[i]);
	return 0;
}

int
sites_select(struct store *s, const char *pkg, const struct dplist *l,
    const struct sites_sel *sel, bool *want, size_t *n)
{
	struct targets_sel t;

	/* The target rule is the DPs' own, over the other list. */
	memset(&t, 0, sizeof(t));
	t.dps = sel->sites;
	t.ndps = sel->nsites;
	t.groups = sel->groups;
	t.ngroups = sel->ngroups;
	t.only = sel->only;
	t.nonly = sel->nonly;
	t.all = sel->all;
	t.refresh = sel->refresh;
	return targets_select(s, pkg, l, &t, want, n, NULL, NULL);
}

/* What the records say site holds of pkg: its newest version, 0: none. */
static int
site_holds(struct store *s, const char *pkg, const char *site,
    uint64_t *version)
{
	struct store_holding h;
	int k;

	*version = 0;
	if ((k = store_holding_find(s, pkg, site, &h)) == -1)
		return -1;
	if (k == 1)
		*version = h.version;
	return 0;
}

static int
record(struct store *s, const char *pkg, const char *site, uint64_t held,
    uint64_t wanted, bool ok)
{
	struct store_holding h;

	memset(&h, 0, sizeof(h));
	snprintf(h.dp, sizeof(h.dp), "%s", site);
	h.version = held;
	h.wanted = wanted;
	h.state = ok ? STORE_HOLD_COMPLETE : STORE_HOLD_FAILED;
	h.time = fault_now();
	/* A racing push of a higher version may have recorded it. */
	return store_holding_raise(s, pkg, &h);
}

/* A temporary a push of pkg left in an inbox (".PKG-N.pkg.tmp-PID-N",
 * atomic.h) is removed by the next push once this old: a push still
 * writing one is younger. */
#define DEBRIS_AGE (24 * 3600)

struct debris {
	const char *pkg;
};

static bool
is_debris(const char *name, void *arg)
{
	const struct debris *d = arg;
	size_t n = strlen(d->pkg);

	return name[0] == '.' && strncmp(name + 1, d->pkg, n) == 0 &&
	    name[1 + n] == '-' && strstr(name, ".pkg" ATOMIC_TMP_MARK) != NULL;
}

/* Remove what pushes of pkg left in the inbox when they were killed
 * (a signal removes its own; SIGKILL or a crash does not); best effort. */
static void
sweep_debris(int dfd, const char *pkg)
{
	struct debris d = { pkg };
	struct stat st;
	char **v = NULL;
	size_t n = 0, i;
	time_t now = fault_now();

	if (io_list_names(dfd, is_debris, &d, &v, &n) == -1)
		return;
	for (i = 0; i < n; i++)
		if (fstatat(dfd, v[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && now - st.st_mtime > DEBRIS_AGE)
			(void)unlinkat(dfd, v[i], 0);
	io_names_free(v, n);
}

/* Write the package file into the inbox open at dfd. */
static int
write_file(struct store *s, int dfd, const char *pkg, const struct manifest *m,
    struct site_push_result *r)
{
	struct atomic_file af;
	struct stat st;
	int rc = -1;

	sweep_debris(dfd, pkg);
	if (atomic_open(&af, dfd, r->file, 0644) == -1)
		return -1;
	if (pack_export(s, pkg, m->version, r->base, 0, atomic_fd(&af), NULL) ==
	    -1)
		goto out;
	if (fstat(atomic_fd(&af), &st) == -1) {
		err_sys("%s", r->file);
		goto out;
	}
	r->bytes = (uint64_t)st.st_size;
	rc = atomic_commit(&af);
out:
	atomic_abort(&af);
	return rc;
}

int
site_push(struct store *s, const struct dp *site, const char *pkg,
    const struct manifest *m, const struct site_push_opts *o,
    struct site_push_result *r)
{
	bool dry_run = o->dry_run;
	struct err_saved why = ERR_SAVED_INIT;
	int dfd = -1, k, rc = -1;

	memset(r, 0, sizeof(r[0]));
	r->to = m->version;
	r->cascade_rc = -1;
	snprintf(r->file, sizeof(r->file), "%s-%" PRIu64 ".pkg", pkg,
	    m->version);
	if (site_holds(s, pkg, site->name, &r->from) == -1)
		return -1;
	if (site->target.kind == DP_SSH) {
		/* The child's store says what it has. */
		if (sitessh_push(s, site, pkg, m, o, r) == -1)
			goto fail;
		if (dry_run)
			return 0;
		if (r->cascade_rc >= 2) {
			/* Its store has the version; its push went wrong. */
			if (record(s, pkg, site->name,
				r->from > m->version ? r->from : m->version,
				m->version, true) == -1)
				goto out;
			err_set("its own push of the version failed (exit %d: "
				"see the lines above)",
			    r->cascade_rc);
			goto out;
		}
		goto done;
	}
	if (r->from == m->version) {
		r->up_to_date = true;
		return 0;
	}
	/* A delta against what the site holds, when this store still has
	 * that version to tell what it lacks (a package file's base is
	 * always below its version: an older version goes whole). */
	if (r->from != 0 && r->from < m->version) {
		if ((k = store_has_version(s, pkg, r->from)) == -1)
			return -1;
		if (k == 1)
			r->base = r->from;
	}
	if (dry_run)
		return 0;
	if ((dfd = open(site->target.path,
		 O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		err_sys("the inbox '%s' cannot be opened", site->target.path);
		goto fail;
	}
	if (config_mount_required(store_config(s), site->name, site->group)) {
		struct dp_handle h = { dfd, -1, -1, site->target.path };

		if ((k = targets_mount_point(&h)) == -1)
			goto fail;
		if (k == 0) {
			err_set("%s: not a mount point, and '%s' says 'mount' "
				"for %s: the share looks unmounted; nothing is "
				"written there",
			    site->target.path, store_config(s)->path,
			    site->name);
			goto fail;
		}
	}
	if (write_file(s, dfd, pkg, m, r) == -1) {
		err_prefix("%s/%s: ", site->target.path, r->file);
		goto fail;
	}
	r->cascade_at_import = o->cascade;
done:
	/* The site now has what it had, and this version. */
	if (record(s, pkg, site->name,
		r->from > m->version ? r->from : m->version, m->version,
		true) == -1)
		goto out;
	rc = 0;
	goto out;
fail:
	/* The cause is what the caller reports, not a failure to record. */
	err_save(&why);
	if (!dry_run)
		(void)record(s, pkg, site->name, r->from, m->version, false);
	(void)err_restore(&why);
out:
	if (dfd != -1)
		close(dfd);
	return rc;
}

static struct status_row *
row_add(struct status_row **rows, size_t *n, const char *site, const char *pkg,
    uint64_t newest)
{
	struct status_row *nv, *r;

	if ((nv = realloc(*rows, (*n + 1) * sizeof(*nv))) == NULL) {
		err_nomem();
		return NULL;
	}
	*rows = nv;
	r = &nv[(*n)++];
	memset(r, 0, sizeof(*r));
	snprintf(r->target, sizeof(r->target), "%s", site);
	snprintf(r->package, sizeof(r->package), "%s", pkg);
	r->newest = newest;
	r->layout = DP_LAYOUT_NONE;
	r->site = true;
	return r;
}

/* One row of a site for pkg from the records (h NULL: none); why set:
 * the site could not be asked, "unreachable". */
static int
status_row(struct status_row **rows, size_t *n, const char *site,
    const char *pkg, uint64_t newest, const struct store_holding *h,
    const char *why)
{
	struct status_row *r;
	char text[160];

	if ((r = row_add(rows, n, site, pkg, newest)) == NULL)
		return -1;
	if (why != NULL) {
		r->state = STATUS_UNREACHABLE;
		r->version = h != NULL ? h->version : 0;
		if ((r->error = strdup(why)) == NULL)
			return err_nomem();
		return 0;
	}
	if (h == NULL) {
		r->state = STATUS_NONE;
		return 0;
	}
	r->version = h->version;
	r->state = STATUS_COMPLETE;
	if (h->state != STORE_HOLD_COMPLETE) {
		r->state = STATUS_FAILED;
		snprintf(text, sizeof(text),
		    "the last push, of version %" PRIu64 ", failed", h->wanted);
		if ((r->error = strdup(text)) == NULL)
			return err_nomem();
	}
	return 0;
}

/* The rows of site from the records, for the packages pk. */
static int
records_rows(struct store *s, const struct dp *site, char **pk, size_t np,
    bool named, const char *why, struct status_row **rows, size_t *n)
{
	struct store_holding h;
	uint64_t newest;
	size_t j, first = *n;
	int k;

	for (j = 0; j < np; j++) {
		if ((k = store_holding_find(s, pk[j], site->name, &h)) == -1 ||
		    store_newest(s, pk[j], &newest) == -1)
			return -1;
		if (k == 0 && !named)
			continue;
		if (status_row(rows, n, site->name, pk[j], newest,
			k == 1 ? &h : NULL, why) == -1)
			return -1;
	}
	/* Unreachable, and nothing recorded: one line all the same. */
	if (why != NULL && *n == first &&
	    status_row(rows, n, site->name, "-", 0, NULL, why) == -1)
		return -1;
	return 0;
}

/* An ssh:// site's rows, asked of its store. */
static int
ssh_rows(struct store *s, const struct dp *site, const char *pkg, char **pk,
    size_t np, const struct site_push_opts *o, struct status_row **rows,
    size_t *n, int *cascade_rc)
{
	struct sitessh_has *v = NULL;
	struct status_row *r;
	struct err_saved why = ERR_SAVED_INIT;
	size_t nv = 0, i;
	uint64_t newest;
	int crc, rc = -1;

	if (sitessh_status(s, site, pkg, o, &v, &nv, &crc) == -1) {
		err_save(&why);
		rc = records_rows(s, site, pk, np, pkg != NULL, why.msg, rows,
		    n);
		err_drop(&why);
		return rc;
	}
	if (crc > *cascade_rc)
		*cascade_rc = crc;
	for (i = 0; i < nv; i++) {
		if (store_newest(s, v[i].package, &newest) == -1)
			goto out;
		if ((r = row_add(rows, n, site->name, v[i].package, newest)) ==
		    NULL)
			goto out;
		r->version = v[i].version;
		r->state = v[i].version != 0 ? STATUS_COMPLETE : STATUS_NONE;
	}
	rc = 0;
out:
	free(v);
	return rc;
}

int
sites_status(struct store *s, const struct dplist *l, const char *pkg,
    const struct site_push_opts *o, struct status_row **rows, size_t *n,
    int *cascade_rc)
{
	char **pk = NULL;
	size_t np = 0, i;
	int rc = -1;

	*cascade_rc = -1;
	if (l->n == 0)
		return 0;
	if (pkg != NULL) {
		if ((pk = calloc(1, sizeof(*pk))) == NULL ||
		    (pk[0] = strdup(pkg)) == NULL) {
			free(pk);
			return err_nomem();
		}
		np = 1;
	} else if (store_packages(s, &pk, &np) == -1)
		return -1;
	for (i = 0; i < l->n; i++) {
		if (l->v[i].target.kind == DP_SSH) {
			if (ssh_rows(s, &l->v[i], pkg, pk, np, o, rows, n,
				cascade_rc) == -1)
				goto out;
		} else if (records_rows(s, &l->v[i], pk, np, pkg != NULL, NULL,
			       rows, n) == -1)
			goto out;
	}
	rc = 0;
out:
	store_strings_free(pk, np);
	return rc;
}
