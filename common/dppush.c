/*
 * dppush.c — one push to one DP: state, version rules, what the DP
 * holds, the changes, then the layout (see dppush.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "changes.h"
#include "dp.h"
#include "dppush.h"
#include "err.h"
#include "io.h"
#include "layout.h"
#include "manifest.h"
#include "mdelta.h"
#include "progress.h"
#include "scan.h"

void
dp_push_opts_init(struct dp_push_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->keep = 2;
}

/* Debris of an interrupted push under .pkgdist/PKG: a tree or spare
 * being built (tmp.*), a temporary file (atomic.h). */
static bool
is_debris(const char *name, void *arg)
{
	(void)arg;
	return strncmp(name, DP_TMP_PREFIX, strlen(DP_TMP_PREFIX)) == 0 ||
	    strstr(name, ATOMIC_TMP_MARK) != NULL;
}

/* Remove the debris of an interrupted push of pkg. */
static int
clean_debris(struct dp_handle *h, const char *pkg)
{
	char **names;
	size_t n, i;
	int pkgfd, rc = 0;

	if (h->metafd == -1)
		return 0;
	if ((pkgfd = openat(h->metafd, pkg, LAYOUT_DIRFLAGS)) == -1)
		return errno == ENOENT ?
		    0 :
		    err_sys("%s/%s/%s", h->where, DP_META, pkg);
	if (io_list_names(pkgfd, is_debris, NULL, &names, &n) == -1) {
		close(pkgfd);
		return err_prefix("%s/%s/%s: ", h->where, DP_META, pkg);
	}
	for (i = 0; i < n; i++)
		if (io_remove_tree(pkgfd, names[i]) == -1) {
			err_prefix("%s/%s/%s: ", h->where, DP_META, pkg);
			rc = -1;
			break;
		}
	io_names_free(names, n);
	close(pkgfd);
	return rc;
}

static int
count_change(const struct change *c, void *arg)
{
	struct dp_push_result *r = arg;
	const struct entry *e = change_entry(c);

	switch (c->kind) {
	case CHANGE_ADD:
		r->added++;
		break;
	case CHANGE_DEL:
		r->deleted++;
		break;
	case CHANGE_MOD:
		r->changed++;
		break;
	default:
		r->meta++;
		break;
	}
	if ((c->kind == CHANGE_ADD || c->kind == CHANGE_MOD) &&
	    e->type == ENTRY_FILE)
		r->bytes += e->size;
	return 0;
}

struct tmpskip {
	char **v;
	size_t n, cap;
	int err;
};

/* scan skip callback: collect inplace temporaries (debris of a crash). */
static bool
skip_tmp(const char *path, void *arg)
{
	struct tmpskip *t = arg;
	const char *base = strrchr(path, '/');
	char **nv;

	base = base ? base + 1 : path;
	if (strncmp(base, DP_INPLACE_TMP, strlen(DP_INPLACE_TMP)) != 0)
		return false;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		if ((nv = realloc(t->v, t->cap * sizeof(*nv))) == NULL) {
			t->err = 1;
			return true;
		}
		t->v = nv;
	}
	if ((t->v[t->n] = strdup(path)) == NULL)
		t->err = 1;
	else
		t->n++;
	return true;
}

/*
 * What DP/PKG really holds: scan it (reuse: quick check against the
 * recorded manifest; NULL: hash everything).  Inplace temporaries found
 * are removed (never with dry_run).
 */
static int
scan_dp(struct dp_handle *h, const char *pkg, const struct dp_state *st,
    int pkgfd, const struct manifest *reuse, const struct dp_push_opts *o,
    struct manifest *out)
{
	struct scan_opts so;
	struct tmpskip ts;
	struct dp_walk w;
	char what[4400];
	const char *base;
	size_t i;
	int fd, pfd, rc = -1;

	memset(&ts, 0, sizeof(ts));
	if (st->layout == DP_LAYOUT_ATOMIC) {
		fd = openat(pkgfd, st->tree, LAYOUT_DIRFLAGS);
		snprintf(what, sizeof(what), "%s/%s/%s/%s", h->where, DP_META,
		    pkg, st->tree);
	} else {
		fd = openat(h->rootfd, pkg, LAYOUT_DIRFLAGS);
		snprintf(what, sizeof(what), "%s/%s", h->where, pkg);
	}
	if (fd == -1)
		return err_sys("%s", what);
	scan_opts_init(&so);
	so.jobs = o->jobs;
	so.reuse = reuse;
	so.progress = o->progress;
	so.skip = skip_tmp;
	so.skip_arg = &ts;
	manifest_init(out);
	if (scan_tree(fd, what, &so, out) == -1)
		goto out;
	if (ts.err) {
		err_nomem();
		goto out;
	}
	if (!o->dry_run && ts.n > 0) {
		unsigned char *dirs;
		const struct entry *d;
		char *sl;

		if ((dirs = calloc(out->n ? out->n : 1, 1)) == NULL) {
			err_nomem();
			goto out;
		}
		dp_walk_init(&w, fd);
		for (i = 0; i < ts.n; i++) {
			if (dp_walk_parent(&w, ts.v[i], &pfd, &base) == -1 ||
			    io_remove_tree(pfd, base) == -1) {
				err_prefix("%s: ", what);
				dp_walk_free(&w);
				free(dirs);
				goto out;
			}
			/* Its directory gets back the time the scan saw. */
			if ((sl = strrchr(ts.v[i], '/')) != NULL) {
				*sl = '\0';
				if ((d = manifest_find(out, ts.v[i])) != NULL)
					dirs[d - out->v] = 1;
				*sl = '/';
			}
		}
		dp_walk_free(&w);
		if (layout_fix_dirs(fd, out, dirs, what) == -1) {
			free(dirs);
			goto out;
		}
		free(dirs);
	}
	rc = 0;
out:
	for (i = 0; i < ts.n; i++)
		free(ts.v[i]);
	free(ts.v);
	close(fd);
	if (rc == -1) {
		manifest_free(out);
		manifest_init(out);
	}
	return rc;
}

/* The layout of a DP that holds a package in l (none: a first install
 * in the atomic layout). */
static const struct layout_ops *
layout_of(enum dp_layout l)
{
	return l == DP_LAYOUT_INPLACE ? &layout_inplace : &layout_atomic;
}

/*
 * Steps 1 and 2: the DP's state for pkg into st and what it records the
 * DP holds into oldm (with its base); the refusals of a move the other
 * way than o->rollback says (r->permanent).
 */
static int
read_state(struct dp_handle *h, const char *pkg, uint64_t v,
    const struct dp_push_opts *o, struct dp_push_result *r, struct dp_state *st,
    struct manifest *oldm, struct mdelta_base *base)
{
	struct err_saved why = ERR_SAVED_INIT;

	if (!o->dry_run && clean_debris(h, pkg) == -1)
		return -1;
	if (dp_state_read_base(h, pkg, st, oldm, base) == -1) {
		/* --verify rebuilds a state manifest that cannot be read
		 * (damaged, truncated, a link planted as its base): what
		 * the DP holds comes from hashing it anyway.  Anything
		 * else wrong (the state record, DP/PKG) still stops. */
		if (!o->verify)
			return -1;
		err_save(&why);
		if (dp_state_read(h, pkg, st, NULL) == -1)
			return err_restore(&why);
		err_drop(&why);
		r->state_rebuilt = st->status != DP_ST_NONE;
	}
	r->held = st->status != DP_ST_NONE;
	r->old_version = st->version;
	r->old_partial = st->status == DP_ST_PARTIAL;
	if (r->held && st->version > v && !o->rollback) {
		r->permanent = true;
		return err_set("%s/%s: holds version %" PRIu64
			       ", above %" PRIu64
			       ": refusing to go down (use --rollback)",
		    h->where, pkg, st->version, v);
	}
	if (r->held && st->version < v && o->rollback) {
		r->permanent = true;
		return err_set("%s/%s: holds version %" PRIu64
			       ", below %" PRIu64 ": --rollback only goes down",
		    h->where, pkg, st->version, v);
	}
	return 0;
}

/*
 * Nothing to change: a success.  A failure noted on the DP by an earlier
 * push (dp_note_failure) is no longer true; a manifest --verify could
 * not read is written anew (a new base, since there is none to go on),
 * then the bases nothing names go; what a push cut short after it
 * changed the DP is finished (the layout's finish).
 */
static int
up_to_date(const struct layout_ops *lo, struct layout_push *a)
{
	if (a->o->dry_run)
		return 0;
	if (a->st->error != NULL) {
		free(a->st->error);
		a->st->error = NULL;
		if (dp_state_write(a->h, a->pkg, a->st, &a->r->state_bytes) ==
		    -1)
			return -1;
	}
	if (a->r->state_rebuilt) {
		if (lo->rewrite_manifest(a) == -1)
			return -1;
		layout_gc_bases(a);
		return 0;
	}
	if (lo->finish != NULL && a->pkgfd != -1)
		return lo->finish(a);
	return 0;
}

int
dp_push(struct dp_handle *h, const char *pkg, const struct manifest *newm,
    const struct content_source *src, const struct dp_push_opts *o,
    struct dp_push_result *r)
{
	struct manifest oldm, newv, actual, loaded;
	const struct manifest *asread = &oldm;
	const struct layout_ops *lo;
	struct mdelta_base base;
	struct dp_state st;
	struct layout_push a;
	uint64_t v = newm->version, planned = 0;
	long long nchg;
	int pkgfd = -1, rc = -1, k;

	memset(r, 0, sizeof(*r));
	manifest_init(&oldm);
	manifest_init(&newv);
	manifest_init(&actual);
	manifest_init(&loaded);
	mdelta_base_init(&base);
	dp_state_init(&st);
	r->new_version = v;
	lo = layout_of(o->inplace ? DP_LAYOUT_INPLACE : DP_LAYOUT_ATOMIC);
	if (read_state(h, pkg, v, o, r, &st, &oldm, &base) == -1)
		goto out;
	/* A DP keeps the layout it holds the package in: an in-place DP is
	 * usually a share that cannot hold links, and a client reading an
	 * atomic DP relies on its link.  o->inplace picks the layout of a
	 * first install only. */
	if (r->held && st.layout != lo->layout) {
		lo = layout_of(st.layout);
		r->kept_layout = true;
	}
	r->inplace = lo->layout == DP_LAYOUT_INPLACE;
	if (dp_view(newm, pkg, v, &newv) == -1)
		goto out;
	if (r->held && !o->dry_run && (pkgfd = dp_pkgdir(h, pkg, false)) == -1)
		goto out;
	if (r->held && o->dry_run && h->metafd != -1)
		pkgfd = openat(h->metafd, pkg, LAYOUT_DIRFLAGS);

	memset(&a, 0, sizeof(a));
	a.h = h;
	a.pkg = pkg;
	a.o = o;
	a.r = r;
	a.st = &st;
	a.src = src;
	a.newm = &newv;
	a.pkgfd = pkgfd;
	a.oldm = &oldm;
	a.base = &base;

	/* Rollback to a kept tree: nothing copied.  A dry run says what
	 * the real run will do: switch back when a kept tree is there,
	 * else rebuild (below). */
	if (r->held && o->rollback && lo->rollback != NULL && !o->verify &&
	    st.version > v) {
		if ((k = pkgfd == -1 ? 0 : lo->rollback(&a, v)) == -1)
			goto out;
		if (k == 1) {
			r->reused_tree = true;
			rc = 0;
			goto out;
		}
	}

	if (r->held && pkgfd != -1 &&
	    (o->verify || st.status == DP_ST_PARTIAL)) {
		if (scan_dp(h, pkg, &st, pkgfd, o->verify ? NULL : &oldm, o,
			&actual) == -1)
			goto out;
		if (manifest_set_header(&actual, pkg, st.version) == -1)
			goto out;
		/* The manifest read stays, to write the next as a delta. */
		loaded = oldm;
		asread = &loaded;
		oldm = actual;
		manifest_init(&actual);
	}
	if ((nchg = changes_compute(&oldm, &newv, count_change, r)) == -1)
		goto out;
	if (r->held && nchg == 0 && st.version == v &&
	    st.status == DP_ST_COMPLETE) {
		r->up_to_date = true;
		r->bytes = 0;
		rc = up_to_date(lo, &a);
		goto out;
	}
	if (o->dry_run) {
		rc = 0;
		goto out;
	}
	/* The progress line's total grows by what this DP needs; what a
	 * failure leaves unwritten comes off again below. */
	planned = r->bytes;
	progress_expect(o->progress, (int64_t)planned);
	r->bytes = 0; /* from here: bytes actually written */
	if (pkgfd == -1 && (pkgfd = dp_pkgdir(h, pkg, true)) == -1)
		goto out;
	a.pkgfd = pkgfd;
	a.loaded = base.name[0] == '\0' ? NULL : asread;
	rc = lo->apply(&a);
	free(a.ino);
out:
	if (rc == -1 && r->failed_errno == 0)
		r->failed_errno = err_errno();
	if (rc == -1 && planned > r->bytes + r->bytes_shared)
		progress_expect(o->progress,
		    -(int64_t)(planned - r->bytes - r->bytes_shared));
	if (pkgfd != -1)
		close(pkgfd);
	manifest_free(&oldm);
	manifest_free(&newv);
	manifest_free(&actual);
	manifest_free(&loaded);
	mdelta_base_free(&base);
	dp_state_free(&st);
	return rc;
}

bool
dp_push_refused(const struct dp_push_result *r, bool rollback)
{
	/* The checks of step 2, which come before anything is written. */
	return r->permanent && r->held &&
	    (rollback ? r->old_version < r->new_version :
			r->old_version > r->new_version);
}

int
dp_push_after(struct dp_handle *h, const char *pkg, unsigned keep)
{
	const struct layout_ops *lo;
	struct dp_push_opts o;
	struct dp_push_result r;
	struct layout_push a;
	struct dp_state st;
	struct manifest m;
	int pkgfd, rc = -1;

	dp_state_init(&st);
	manifest_init(&m);
	if (h->metafd == -1 ||
	    (pkgfd = openat(h->metafd, pkg, LAYOUT_DIRFLAGS)) == -1)
		return err_sys("%s/%s/%s", h->where, DP_META, pkg);
	if (dp_state_read(h, pkg, &st, &m) == -1)
		goto out;
	lo = layout_of(st.layout);
	if (st.status != DP_ST_COMPLETE || st.layout != lo->layout ||
	    lo->after == NULL) {
		rc = 0;
		goto out;
	}
	dp_push_opts_init(&o);
	o.keep = keep;
	memset(&r, 0, sizeof(r));
	memset(&a, 0, sizeof(a));
	a.h = h;
	a.pkg = pkg;
	a.pkgfd = pkgfd;
	a.o = &o;
	a.r = &r;
	a.st = &st;
	a.oldm = &m;
	rc = lo->after(&a);
out:
	close(pkgfd);
	dp_state_free(&st);
	manifest_free(&m);
	return rc;
}
