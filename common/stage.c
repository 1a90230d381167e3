/*
 * stage.c — staging a source tree as a new version (see stage.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "manifest.h"
#include "mdelta.h"
#include "path.h"
#include "progress.h"
#include "scan.h"
#include "sign.h"
#include "stage.h"
#include "store.h"
#include "workq.h"

void
stage_opts_init(struct stage_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->wait = STORE_WAIT_DEFAULT;
}

struct work {
	struct store_txn *t;
	int dirfd;
	struct manifest *m;
	bool expect;  /* digests come from a manifest */
	size_t *todo; /* indices of `f` entries, biggest first */
	size_t ntodo;
	struct progress *p;
};

static int
copy_one(void *arg, size_t k)
{
	struct work *w = arg;
	struct entry *e = &w->m->v[w->todo[k]];
	unsigned char d[DIGEST_LEN];

	if (store_txn_put_file(w->t, w->dirfd, e, w->expect, d, NULL) == -1)
		return -1;
	memcpy(e->digest, d, DIGEST_LEN);
	progress_add(w->p, 1, e->size);
	return 0;
}

static struct manifest *sort_m;

static int
cmp_size_desc(const void *a, const void *b)
{
	uint64_t x = sort_m->v[*(const size_t *)a].size;
	uint64_t y = sort_m->v[*(const size_t *)b].size;

	return x > y ? -1 : x < y;
}

/* Copy every file of m in parallel. */
static int
copy_all(struct store_txn *t, int dirfd, struct manifest *m, bool expect,
    int jobs, struct progress *p)
{
	static pthread_mutex_t sort_mu = PTHREAD_MUTEX_INITIALIZER;
	struct work w;
	size_t i;
	int rc = -1;

	memset(&w, 0, sizeof(w));
	w.t = t;
	w.dirfd = dirfd;
	w.m = m;
	w.expect = expect;
	w.p = p;
	if ((w.todo = calloc(m->n + 1, sizeof(*w.todo))) == NULL) {
		err_nomem();
		goto out;
	}
	for (i = 0; i < m->n; i++)
		if (m->v[i].type == ENTRY_FILE)
			w.todo[w.ntodo++] = i;
	pthread_mutex_lock(&sort_mu);
	sort_m = m;
	qsort(w.todo, w.ntodo, sizeof(*w.todo), cmp_size_desc);
	pthread_mutex_unlock(&sort_mu);
	rc = workq_run(w.ntodo, jobs > 0 ? jobs : scan_ncpu(), copy_one, &w);
out:
	free(w.todo);
	return rc;
}

int
stage_add(struct store *s, const char *pkg, const char *srcdir,
    const struct stage_opts *o, uint64_t *version)
{
	struct manifest m;
	struct scan_opts so;
	struct store_txn *t = NULL;
	unsigned char *sig = NULL;
	char *buf = NULL;
	size_t siglen = 0, len;
	uint64_t v;
	int dirfd = -1, rc = -1;

	*version = 0;
	manifest_init(&m);
	if (package_name_check(pkg) == -1)
		return -1;
	if ((dirfd = open(srcdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return err_sys("cannot open '%s'", srcdir);
	if (o->manifest != NULL) {
		if (mdelta_load_path(o->manifest, &m) == -1)
			goto out;
		if (m.package != NULL && strcmp(m.package, pkg) != 0) {
			err_set("'%s' describes package '%s', not '%s'",
			    o->manifest, m.package, pkg);
			goto out;
		}
	} else {
		scan_opts_init(&so);
		so.jobs = o->jobs;
		so.no_hash = true;
		if (scan_tree(dirfd, srcdir, &so, &m) == -1)
			goto out;
	}
	if (store_txn_begin(s, pkg, o->wait, &t) == -1)
		goto out;
	if (store_txn_high(t) >= STORE_VERSION_MAX) {
		err_set("%s: no version number is above %" PRIu64 " (the "
			"largest a store keeps)",
		    pkg, store_txn_high(t));
		goto out;
	}
	v = store_txn_high(t) + 1;
	if (o->version != 0) {
		if (o->version > STORE_VERSION_GIVEN_MAX) {
			err_set("%s: version %" PRIu64 " is above %" PRIu64
				", the largest that may be given",
			    pkg, o->version, STORE_VERSION_GIVEN_MAX);
			goto out;
		}
		if (o->version <= store_txn_high(t)) {
			err_set("%s: version %" PRIu64
				" is not above %s, %" PRIu64,
			    pkg, o->version,
			    store_txn_high(t) == store_txn_newest(t) ?
				"the newest" :
				"the last version number given",
			    store_txn_high(t));
			goto out;
		}
		v = o->version;
	}
	if (copy_all(t, dirfd, &m, o->manifest != NULL, o->jobs, o->progress) ==
	    -1)
		goto out;
	if (o->sign_key != NULL) {
		if (store_manifest_render(&m, pkg, v, &buf, &len) == -1 ||
		    sign_data(o->sign_key, buf, len, &sig, &siglen) == -1)
			goto out;
	}
	rc = store_txn_commit(t, &m, v, sig, siglen);
	t = NULL;
	if (rc == 0)
		*version = v;
out:
	store_txn_abort(t);
	free(sig);
	free(buf);
	manifest_free(&m);
	close(dirfd);
	return rc;
}
