/*
 * status.c — the rows of pkgpush --status (status.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "remote.h"
#include "status.h"
#include "store.h"
#include "targets.h"

static const char *const state_names[] = { "complete", "partial", "failed",
	"unreachable", "none", "damaged" };

const char *
status_state_name(enum status_state st)
{
	if ((unsigned)st >= sizeof(state_names) / sizeof(state_names[0]))
		return "unknown";
	return state_names[st];
}

bool
status_row_ok(const struct status_row *r)
{
	if (r->state == STATUS_NONE)
		return true;
	return r->state == STATUS_COMPLETE && r->version >= r->newest;
}

const char *
status_kind_name(enum status_kind k)
{
	static const char *const name[STATUS_KIND_N] = { "complete at newest",
		"behind", "partial", "failed", "unreachable", "without it" };

	return k < STATUS_KIND_N ? name[k] : "?";
}

static enum status_kind
row_kind(const struct status_row *r)
{
	switch (r->state) {
	case STATUS_COMPLETE:
		return r->version < r->newest ? STATUS_KIND_BEHIND :
						STATUS_KIND_NEWEST;
	case STATUS_PARTIAL:
		return STATUS_KIND_PARTIAL;
	case STATUS_UNREACHABLE:
		return STATUS_KIND_UNREACHABLE;
	case STATUS_NONE:
		return STATUS_KIND_NONE;
	default:
		return STATUS_KIND_FAILED;
	}
}

size_t
status_count(const struct status_row *v, size_t n, bool sites,
    size_t count[STATUS_KIND_N])
{
	/* How bad each kind is: "none" is below the rest. */
	static const int rank[STATUS_KIND_N] = { 0, 1, 2, 3, 4, -1 };
	enum status_kind worst = STATUS_KIND_NONE, k;
	size_t i, ndp = 0;

	memset(count, 0, STATUS_KIND_N * sizeof(count[0]));
	for (i = 0; i < n; i++) {
		if (v[i].site != sites)
			continue;
		k = row_kind(&v[i]);
		if (rank[k] > rank[worst])
			worst = k;
		/* Rows of one DP come together. */
		if (i + 1 < n && strcmp(v[i + 1].target, v[i].target) == 0)
			continue;
		count[worst]++;
		ndp++;
		worst = STATUS_KIND_NONE;
	}
	return ndp;
}

void
status_rows_free(struct status_row *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].error);
	free(v);
}

/* What the store knows of one package: its newest version and records. */
struct pkgrec {
	char *name;
	uint64_t newest;
	struct store_holding *h;
	size_t nh;
};

struct collect {
	struct store *s;
	const char *pkg;
	struct pkgrec *p;
	size_t np;
	struct status_row *v;
	size_t n, cap;
};

static void
pkgrecs_free(struct pkgrec *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].h);
	}
	free(p);
}

static const struct pkgrec *
pkgrec_find(const struct collect *c, const char *pkg)
{
	size_t i;

	for (i = 0; i < c->np; i++)
		if (strcmp(c->p[i].name, pkg) == 0)
			return &c->p[i];
	return NULL;
}

static const struct store_holding *
record_of(const struct pkgrec *p, const char *dp)
{
	size_t i;

	for (i = 0; p != NULL && i < p->nh; i++)
		if (strcmp(p->h[i].dp, dp) == 0)
			return &p->h[i];
	return NULL;
}

/* The packages to report on, with their records: pkg, or every one. */
static int
load_pkgrecs(struct collect *c)
{
	char **names = NULL;
	size_t n = 0, i;
	int rc = -1;

	if (c->pkg != NULL) {
		if ((names = malloc(sizeof(*names))) == NULL ||
		    (names[0] = strdup(c->pkg)) == NULL) {
			free(names);
			return err_nomem();
		}
		n = 1;
	} else if (store_packages(c->s, &names, &n) == -1)
		return -1;
	if (n > 0 && (c->p = calloc(n, sizeof(*c->p))) == NULL) {
		err_nomem();
		goto out;
	}
	for (i = 0; i < n; i++) {
		c->p[i].name = names[i];
		names[i] = NULL;
		c->np++;
		if (store_newest(c->s, c->p[i].name, &c->p[i].newest) == -1 ||
		    store_holdings(c->s, c->p[i].name, &c->p[i].h,
			&c->p[i].nh) == -1)
			goto out;
	}
	if (c->pkg != NULL && c->p[0].newest == 0) {
		err_set("%s: no such package in the store (pkgstage list "
			"shows those it has)",
		    c->pkg);
		goto out;
	}
	rc = 0;
out:
	store_strings_free(names, n);
	return rc;
}

static struct status_row *
row_add(struct collect *c, const char *dp, const char *pkg)
{
	struct status_row *r, *nv;
	const struct pkgrec *p;

	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 16;

		if ((nv = realloc(c->v, nc * sizeof(*nv))) == NULL) {
			err_nomem();
			return NULL;
		}
		c->v = nv;
		c->cap = nc;
	}
	r = &c->v[c->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->target, sizeof(r->target), "%s", dp);
	snprintf(r->package, sizeof(r->package), "%s", pkg);
	if ((p = pkgrec_find(c, pkg)) != NULL)
		r->newest = p->newest;
	else if (strcmp(pkg, "-") != 0)
		(void)store_newest(c->s, pkg, &r->newest);
	return r;
}

/* The row's why: a copy of why. */
static int
set_error(struct status_row *r, const char *why)
{
	if ((r->error = strdup(why)) == NULL)
		return err_nomem();
	return 0;
}

/* The row's why, from the store's records: "... version N ...". */
static int
set_error_version(struct status_row *r, bool pushing, uint64_t v)
{
	char buf[160];

	if (pushing)
		snprintf(buf, sizeof(buf),
		    "a push of version %" PRIu64 " did "
		    "not finish: nothing of it is there",
		    v);
	else
		snprintf(buf, sizeof(buf),
		    "the store records it holding "
		    "version %" PRIu64 ", but nothing of it is there",
		    v);
	return set_error(r, buf);
}

/* The rows of a DP's own states. */
static int
add_states(struct collect *c, const struct dp *dp, const struct dp_pkg_state *v,
    size_t n)
{
	struct status_row *r;
	size_t i;

	for (i = 0; i < n; i++) {
		if ((r = row_add(c, dp->name, v[i].package)) == NULL)
			return -1;
		r->layout = v[i].st.layout;
		r->version = v[i].st.version;
		if (v[i].damaged != NULL) {
			r->state = STATUS_DAMAGED;
			r->version = 0;
			if (set_error(r, v[i].damaged) == -1)
				return -1;
		} else if (v[i].st.status == DP_ST_NONE) {
			r->state = STATUS_NONE;
			r->version = 0;
		} else if (v[i].st.status == DP_ST_PARTIAL) {
			r->state = STATUS_PARTIAL;
			r->from = v[i].st.from;
			if (v[i].st.error != NULL &&
			    set_error(r, v[i].st.error) == -1)
				return -1;
		} else if (v[i].st.error != NULL) {
			r->state = STATUS_FAILED;
			if (set_error(r, v[i].st.error) == -1)
				return -1;
		} else
			r->state = STATUS_COMPLETE;
	}
	return 0;
}

/*
 * A DP answered: where the store records it being brought to a version
 * of a package it holds none of (a first push that failed or was cut
 * short), the row says "failed" (a "none" row becomes one; without pkg,
 * a row is added).
 */
static int
add_left_behind(struct collect *c, const struct dp *dp, size_t first)
{
	const struct store_holding *h;
	struct status_row *r;
	size_t i, k;

	for (i = 0; i < c->np; i++) {
		if ((h = record_of(&c->p[i], dp->name)) == NULL ||
		    (h->wanted == 0 && h->version == 0))
			continue;
		for (k = first, r = NULL; k < c->n; k++)
			if (strcmp(c->v[k].package, c->p[i].name) == 0)
				r = &c->v[k];
		if (r != NULL && r->state != STATUS_NONE)
			continue;
		if (r == NULL &&
		    (r = row_add(c, dp->name, c->p[i].name)) == NULL)
			return -1;
		r->state = STATUS_FAILED;
		r->version = 0;
		if (set_error_version(r, h->wanted != 0,
			h->wanted != 0 ? h->wanted : h->version) == -1)
			return -1;
	}
	return 0;
}

/* A DP that could not be asked: the records' rows, "unreachable". */
static int
add_unreachable(struct collect *c, const struct dp *dp, const char *why)
{
	const struct store_holding *h;
	struct status_row *r;
	size_t i;
	bool any = false;

	for (i = 0; i < c->np; i++) {
		if ((h = record_of(&c->p[i], dp->name)) == NULL)
			continue;
		if ((r = row_add(c, dp->name, c->p[i].name)) == NULL)
			return -1;
		r->state = STATUS_UNREACHABLE;
		r->version = h->version;
		if (set_error(r, why) == -1)
			return -1;
		any = true;
	}
	if (!any) {
		if ((r = row_add(c, dp->name, c->pkg != NULL ? c->pkg : "-")) ==
		    NULL)
			return -1;
		r->state = STATUS_UNREACHABLE;
		if (set_error(r, why) == -1)
			return -1;
	}
	return 0;
}

static int
cmp_row(const void *a, const void *b)
{
	return strcmp(((const struct status_row *)a)->package,
	    ((const struct status_row *)b)->package);
}

static int
collect_dp(struct collect *c, const struct dp *dp)
{
	struct dp_handle h = { -1, -1, -1, NULL };
	struct dp_pkg_state *v = NULL;
	size_t n = 0, first = c->n;
	struct err_saved why = ERR_SAVED_INIT;
	int rc;

	if (dp->target.kind == DP_SSH)
		rc = remote_status(&dp->target, store_config(c->s), c->pkg, &v,
		    &n);
	else if ((rc = targets_open(c->s, dp, c->pkg, false, false, &h)) == 0)
		rc = dp_states(&h, c->pkg, &v, &n);
	dp_close(&h);
	if (rc == -1) {
		/* The rows keep the message; adding them may fail anew. */
		err_save(&why);
		rc = add_unreachable(c, dp, why.msg);
		err_drop(&why);
		return rc;
	}
	rc = add_states(c, dp, v, n);
	dp_pkg_states_free(v, n);
	if (rc == 0)
		rc = add_left_behind(c, dp, first);
	if (rc == 0 && c->n > first)
		qsort(c->v + first, c->n - first, sizeof(*c->v), cmp_row);
	return rc;
}

int
status_collect(struct store *s, const struct dplist *l, const char *pkg,
    struct status_row **rows, size_t *n)
{
	struct collect c;
	size_t i;
	int rc = -1;

	*rows = NULL;
	*n = 0;
	memset(&c, 0, sizeof(c));
	c.s = s;
	c.pkg = pkg;
	if (load_pkgrecs(&c) == -1)
		goto out;
	for (i = 0; i < l->n; i++)
		if (collect_dp(&c, &l->v[i]) == -1)
			goto out;
	*rows = c.v;
	*n = c.n;
	c.v = NULL;
	c.n = 0;
	rc = 0;
out:
	status_rows_free(c.v, c.n);
	pkgrecs_free(c.p, c.np);
	return rc;
}
