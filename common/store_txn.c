/*
 * store_txn.c — staging transactions: contents put into STORE/tmp, then
 * one version committed with one rename (see store.h, "staging a
 * version").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "blob.h"
#include "chunk.h"
#include "digest.h"
#include "err.h"
#include "fault.h"
#include "io.h"
#include "lock.h"
#include "manifest.h"
#include "num.h"
#include "path.h"
#include "recipe.h"
#include "store.h"
#include "store_int.h"

#define FLUSH_Q 1024

/* ---- staging transactions ---- */

struct store_txn {
	struct store *s;
	char pkg[NAME_MAX_LEN + 1];
	int lockfd;    /* package UPDATE lock */
	int objlockfd; /* objects.lock, shared */
	int stagelock; /* tmp/txn-X.lock */
	int stagefd;   /* tmp/txn-X */
	int vfd;       /* packages/PKG/v */
	char stage[64];
	uint64_t newest;
	uint64_t high; /* newest, or its mark when above */
	uint64_t seq;
	pthread_mutex_t mu;
	struct dset staged; /* contents in stage/ */
	/* The newest version's manifest, loaded at the first large file
	 * (the bases of deltas): 0 not yet, 1 loaded, -1 none. */
	int old_state;
	struct manifest old;
	bool done;
	/* The flusher: starts the write-back of staged contents while the
	 * copy goes on, without making the copying threads wait for the
	 * disk (sync_file_range blocks when the device queue is full). */
	pthread_t fth;
	bool fstarted, fstop;
	pthread_cond_t fcv;
	int fq[FLUSH_Q];
	size_t fhead, flen;
};

static void *
flusher(void *arg)
{
	struct store_txn *t = arg;
	int fd;

	pthread_mutex_lock(&t->mu);
	for (;;) {
		while (t->flen == 0 && !t->fstop)
			pthread_cond_wait(&t->fcv, &t->mu);
		if (t->flen == 0)
			break;
		fd = t->fq[t->fhead];
		t->fhead = (t->fhead + 1) % FLUSH_Q;
		t->flen--;
		pthread_mutex_unlock(&t->mu);
		(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		close(fd);
		pthread_mutex_lock(&t->mu);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

/* Queue fd's write-back (a dup of it; skipped when the queue is full:
 * store_sync() covers everything anyway). */
static void
flush_push(struct store_txn *t, int fd)
{
	int d;

	pthread_mutex_lock(&t->mu);
	if (!t->fstarted && !t->fstop) {
		if (pthread_create(&t->fth, NULL, flusher, t) == 0)
			t->fstarted = true;
		else
			t->fstop = true;
	}
	if (t->fstarted && !t->fstop && t->flen < FLUSH_Q &&
	    (d = fcntl(fd, F_DUPFD_CLOEXEC, 0)) != -1) {
		t->fq[(t->fhead + t->flen) % FLUSH_Q] = d;
		t->flen++;
		pthread_cond_signal(&t->fcv);
	}
	pthread_mutex_unlock(&t->mu);
}

/* Stop the flusher after it has started every queued write-back. */
static void
flush_stop(struct store_txn *t)
{
	pthread_mutex_lock(&t->mu);
	t->fstop = true;
	pthread_cond_signal(&t->fcv);
	pthread_mutex_unlock(&t->mu);
	if (t->fstarted)
		pthread_join(t->fth, NULL);
	t->fstarted = false;
}

uint64_t
store_txn_newest(const struct store_txn *t)
{
	return t->newest;
}

uint64_t
store_txn_high(const struct store_txn *t)
{
	return t->high;
}

int
store_txn_begin(struct store *s, const char *pkg, double timeout,
    struct store_txn **out)
{
	struct store_txn *t;
	struct timespec ts;
	char name[80];
	uint64_t *v = NULL;
	size_t n;

	*out = NULL;
	if (package_name_check(pkg) == -1)
		return -1;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return err_nomem();
	t->s = s;
	t->lockfd = t->objlockfd = t->stagelock = t->stagefd = t->vfd = -1;
	snprintf(t->pkg, sizeof(t->pkg), "%s", pkg);
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->fcv, NULL);
	if ((t->lockfd = store_lock(s, pkg, STORE_LOCK_UPDATE, false,
		 timeout)) == -1)
		goto fail;
	if ((t->objlockfd =
		    lock_acquire(s->fd, "objects.lock", true, timeout)) == -1) {
		err_prefix("store '%s': ", s->dir);
		goto fail;
	}
	snprintf(name, sizeof(name), "%s/v", pkg);
	if (store_ensure_dir(s->pkgfd, name, name) == -1)
		goto fail;
	if ((t->vfd = store_open_vdir(s, pkg)) == -1)
		goto fail;
	if (store_clean_vdir(s, t->vfd) == -1 || store_clean_tmp(s) == -1)
		goto fail;
	if (store_versions(s, pkg, &v, &n) == -1)
		goto fail;
	t->newest = n > 0 ? v[n - 1] : 0;
	free(v);
	if (store_mark_read(s, pkg, &t->high) == -1)
		goto fail;
	if (t->high < t->newest)
		t->high = t->newest;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(t->stage, sizeof(t->stage), STORE_TXN_PREFIX "%ld-%lx",
	    (long)getpid(),
	    (unsigned long)ts.tv_nsec ^ ((unsigned long)ts.tv_sec << 20));
	snprintf(name, sizeof(name), "%s.lock", t->stage);
	if ((t->stagelock = lock_acquire(s->tmpfd, name, false, 0)) == -1)
		goto fail;
	if (io_mkdir(s->tmpfd, t->stage, 0700) == -1)
		goto fail;
	if ((t->stagefd = store_open_dir(s->tmpfd, t->stage)) == -1) {
		err_sys("cannot open '%s/tmp/%s'", s->dir, t->stage);
		goto fail;
	}
	*out = t;
	return 0;
fail:
	store_txn_abort(t);
	return -1;
}

void
store_txn_abort(struct store_txn *t)
{
	char name[80];

	if (t == NULL)
		return;
	flush_stop(t);
	if (t->stagefd != -1)
		close(t->stagefd);
	if (t->stagelock != -1) {
		(void)io_remove_tree(t->s->tmpfd, t->stage);
		snprintf(name, sizeof(name), "%s.lock", t->stage);
		(void)io_unlink(t->s->tmpfd, name, 0);
		lock_release(t->stagelock);
	}
	if (t->vfd != -1)
		close(t->vfd);
	lock_release(t->objlockfd);
	lock_release(t->lockfd);
	store_dset_free(&t->staged);
	if (t->old_state == 1)
		manifest_free(&t->old);
	pthread_cond_destroy(&t->fcv);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* Known: staged in this transaction or in the store. */
static int
txn_known(struct store_txn *t, const unsigned char d[DIGEST_LEN])
{
	bool in;

	pthread_mutex_lock(&t->mu);
	in = store_dset_find(&t->staged, d) != NULL;
	pthread_mutex_unlock(&t->mu);
	if (in)
		return 1;
	return store_has_content(t->s, d);
}

/* A new part file in the stage directory. */
static int
txn_part(struct store_txn *t, char name[32])
{
	int fd;

	pthread_mutex_lock(&t->mu);
	snprintf(name, 32, "p%" PRIu64, ++t->seq);
	pthread_mutex_unlock(&t->mu);
	if (fault_hit("write") == -1)
		return err_sys("cannot create '%s/tmp/%s/%s'", t->s->dir,
		    t->stage, name);
	fd = openat(t->stagefd, name,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
	if (fd == -1)
		return err_sys("cannot create '%s/tmp/%s/%s'", t->s->dir,
		    t->stage, name);
	return fd;
}

/* The name of part's file when staged in form: a delta is "pN.d" beside
 * the whole part it was made from; the other forms keep "pN".  out
 * (40 bytes) may be part itself. */
static char *
part_file(const char *part, enum store_form form, char out[40])
{
	char tmp[40];

	snprintf(tmp, sizeof(tmp), "%s%s", part,
	    form == STORE_DELTA ? store_form_suffix(form) : "");
	memcpy(out, tmp, sizeof(tmp));
	return out;
}

/* Keep part file name as content d (or drop it if d is known by now).
 * It keeps its part name until commit moves it into objects/. */
static int
txn_keep(struct store_txn *t, const char *part, int fd,
    const unsigned char d[DIGEST_LEN], enum store_form form, uint64_t stored,
    bool chunks, uint64_t *added)
{
	char kpart[40], fname[40];

	struct dslot *sl;
	uint64_t ref;
	bool isnew;
	int have, rc = -1;

	/* txn_part() named it "pN": N is the reference. */
	if (num_u64(part + 1, strlen(part + 1), SIZE_MAX, &ref) == -1)
		return err_set("'%s': not a part file's name", part);
	/* Start writing it back now (another thread); store_sync() waits
	 * for all of it at commit. */
	flush_push(t, fd);
	if ((have = store_has_content(t->s, d)) == -1)
		return -1;
	pthread_mutex_lock(&t->mu);
	if (have || store_dset_find(&t->staged, d) != NULL) {
		snprintf(kpart, sizeof(kpart), "%s" STORE_CHUNKS_SUFFIX, part);
		rc = io_unlink(t->stagefd, part_file(part, form, fname), 0);
		if (rc == 0 && chunks)
			rc = io_unlink(t->stagefd, kpart, 0);
		goto out;
	}
	if ((sl = store_dset_add(&t->staged, d, &isnew)) == NULL)
		goto out;
	sl->chunks = chunks;
	sl->zlib = form == STORE_ZLIB;
	sl->delta = form == STORE_DELTA;
	sl->stored = stored;
	sl->ref = (size_t)ref;
	if (added != NULL)
		*added = stored;
	rc = 0;
out:
	pthread_mutex_unlock(&t->mu);
	return rc;
}

static bool
same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_ino == b->st_ino &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* A known content is not read: the file must still be a regular file
 * with the manifest's size and mtime. */
static int
quick_check(int dirfd, const struct entry *e)
{
	struct stat st;
	int fd;

	if ((fd = io_open_below(dirfd, e->path, O_RDONLY | O_NONBLOCK)) == -1) {
		if (errno == ELOOP || errno == ENOTDIR || errno == ENOENT)
			return err_set("'%s': changed while being staged "
				       "(%s)",
			    e->path, strerror(errno));
		return err_sys("cannot open '%s'", e->path);
	}
	if (fstat(fd, &st) == -1) {
		close(fd);
		return err_sys("cannot stat '%s'", e->path);
	}
	close(fd);
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != e->size ||
	    (int64_t)st.st_mtime != e->mtime)
		return err_set("'%s': changed while being staged (%s)", e->path,
		    !S_ISREG(st.st_mode)		? "no longer a regular "
							  "file" :
			(uint64_t)st.st_size != e->size ? "size "
							  "differs" :
							  "mtime differs");
	return 0;
}

/* One file's copy into its part file (store_txn_put_file()). */
struct put_copy {
	int fd, pfd;
	const char *path, *part;
	struct chunk_feed *feed; /* or NULL: buf is the buffer */
	unsigned char *buf;
	struct digest *dg;
	struct blob_deflate *bd;
	bool zlib;		 /* out: deflated */
	uint64_t total, written; /* out: bytes read, bytes written */
	bool store_side;	 /* out: a failure was the store's */
};

/* Read the file to its end (or one buffer past size), hashing it and
 * writing it to the part file, deflated when that pays (decided on the
 * first buffer), each buffer handed on to the chunker when there is
 * one.  -1 with err, c->store_side saying whose failure it was. */
static int
put_copy(struct put_copy *c, uint64_t size)
{
	unsigned char *rb;
	bool first = true;
	ssize_t got;

	for (;;) {
		rb = c->feed != NULL ? chunk_feed_buf(c->feed) : c->buf;
		if ((got = io_read_full(c->fd, rb, BLOB_CHUNK, c->path)) == -1)
			return -1;
		if (first) {
			c->zlib = blob_pays(rb, (size_t)got);
			if (c->zlib && blob_deflate_init(c->bd) == -1)
				return -1;
			first = false;
		}
		if (got == 0)
			break;
		c->total += (uint64_t)got;
		if (c->total > size)
			break;
		if (digest_update(c->dg, rb, (size_t)got) == -1)
			return -1;
		c->store_side = true;
		if (c->zlib) {
			if (blob_deflate_write(c->bd, rb, (size_t)got, c->pfd,
				c->part, &c->written) == -1)
				return -1;
		} else {
			if (io_write_full(c->pfd, rb, (size_t)got, c->part) ==
			    -1)
				return -1;
			c->written += (uint64_t)got;
		}
		c->store_side = false;
		if (c->feed != NULL &&
		    chunk_feed_push(c->feed, (size_t)got) == -1)
			return -1;
		if ((size_t)got < BLOB_CHUNK)
			break;
	}
	c->store_side = true;
	if (c->zlib &&
	    blob_deflate_finish(c->bd, c->pfd, c->part, &c->written) == -1)
		return -1;
	return 0;
}

/* Open the source file path below dirfd, still the regular file of size
 * bytes the scan saw (*st its stat). */
static int
source_open(int dirfd, const char *path, uint64_t size, struct stat *st)
{
	int fd;

	if ((fd = io_open_below(dirfd, path, O_RDONLY | O_NONBLOCK)) == -1) {
		if (errno == ELOOP || errno == ENOTDIR || errno == ENOENT)
			return err_set("'%s': changed while being staged "
				       "(%s)",
			    path, strerror(errno));
		return err_sys("cannot open '%s'", path);
	}
	if (fstat(fd, st) == -1) {
		err_sys("cannot stat '%s'", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode) || (uint64_t)st->st_size != size) {
		err_set("'%s': changed while being staged (%s)", path,
		    S_ISREG(st->st_mode) ? "size differs" :
					   "no longer a regular file");
		close(fd);
		return -1;
	}
	return fd;
}

/* The content a large file at path is kept as a delta from: the newest
 * version's content there, or the base of that content when it is a
 * delta itself (deltas never chain).  1 with base, 0 when there is none
 * to try. */
static int
txn_base(struct store_txn *t, const char *path,
    const unsigned char d[DIGEST_LEN], unsigned char base[DIGEST_LEN],
    uint64_t *base_size)
{
	const struct entry *o = NULL;

	pthread_mutex_lock(&t->mu);
	if (t->old_state == 0) {
		t->old_state = -1;
		manifest_init(&t->old);
		if (t->newest != 0 &&
		    store_load_manifest(t->s, t->pkg, t->newest, &t->old) == 0)
			t->old_state = 1;
		else
			manifest_free(&t->old);
	}
	if (t->old_state == 1)
		o = manifest_find(&t->old, path);
	pthread_mutex_unlock(&t->mu);
	/* (Once loaded the manifest does not change: o stays valid.) */
	if (o == NULL || o->type != ENTRY_FILE || o->size <= CHUNK_THRESHOLD ||
	    memcmp(o->digest, d, DIGEST_LEN) == 0)
		return 0;
	switch (store_delta_base(t->s, o->digest, base, base_size)) {
	case 0:
		memcpy(base, o->digest, DIGEST_LEN);
		*base_size = o->size;
		return 1;
	case 1:
		return memcmp(base, d, DIGEST_LEN) != 0;
	default:
		return 0; /* a damaged delta is no base; fsck names it */
	}
}

/*
 * Keep content d (size bytes, cut into chunks), just staged in part, as
 * a delta when the newest version's large file at path shares most of
 * its bytes: part is replaced by part.d, *pfd by the delta's descriptor
 * and *stored by its length, and *delta is set.  The whole part is
 * removed before its write-back starts, so what reaches the disk is
 * about the changed bytes.
 */
static int
txn_thin(struct store_txn *t, const char *path, const char *part, int *pfd,
    const unsigned char d[DIGEST_LEN], uint64_t size,
    const struct chunk_list *chunks, uint64_t *stored, bool *delta)
{
	unsigned char base[DIGEST_LEN];
	struct chunk_list bl = { 0 };
	struct recipe r;
	char dname[40];
	uint64_t base_size, len;
	int rfd, dfd, k, rc = -1;

	*delta = false;
	if (txn_base(t, path, d, base, &base_size) != 1)
		return 0;
	if ((rfd = openat(t->stagefd, part,
		 O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return err_sys("cannot open '%s'", part);
	k = store_content_chunks(t->s, base, base_size, &bl) == 0 ?
	    store_delta_plan(t->s, base, base_size, &bl, chunks, rfd, &r) :
	    0;
	chunk_list_free(&bl);
	if (k != 1) {
		close(rfd);
		return 0;
	}
	part_file(part, STORE_DELTA, dname);
	dfd = store_delta_write(t->stagefd, dname, d, size, base, base_size, &r,
	    rfd, &len);
	if (dfd == -1)
		goto out;
	if (io_unlink(t->stagefd, part, 0) == -1) {
		close(dfd);
		(void)unlinkat(t->stagefd, dname, 0);
		goto out;
	}
	if (pfd != NULL) {
		close(*pfd);
		*pfd = dfd;
	} else {
		close(dfd);
	}
	*stored = len;
	*delta = true;
	rc = 0;
out:
	recipe_free(&r);
	close(rfd);
	return rc;
}

/* The chunks of staged part (read once), kept as its index part.k. */
static int
txn_chunk_part(struct store_txn *t, const char *part,
    const unsigned char d[DIGEST_LEN], struct chunk_list *l)
{
	struct chunker c;
	unsigned char *buf;
	char kpart[40];
	ssize_t k = 0;
	int fd, rc = -1;

	memset(l, 0, sizeof(*l));
	if ((buf = malloc(BLOB_CHUNK)) == NULL)
		return err_nomem();
	if ((fd = openat(t->stagefd, part,
		 O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		free(buf);
		return err_sys("cannot open '%s'", part);
	}
	if (chunker_init(&c, NULL) == -1)
		goto out;
	while ((k = io_read_full(fd, buf, BLOB_CHUNK, part)) > 0)
		if (chunker_update(&c, buf, (size_t)k) == -1)
			break;
	if (k != 0 || chunker_final(&c, l) == -1) {
		chunker_free(&c);
		goto out;
	}
	snprintf(kpart, sizeof(kpart), "%s" STORE_CHUNKS_SUFFIX, part);
	if (store_chunks_write_at(t->stagefd, kpart, l, d) == -1) {
		chunk_list_free(l);
		goto out;
	}
	rc = 0;
out:
	close(fd);
	free(buf);
	return rc;
}

/*
 * At commit: a large content staged whole without its chunks (one a
 * package file or a parent site sent, whole or rebuilt from a recipe)
 * whose path held a large file in the newest version is cut into
 * chunks (one more read, kept as its index) and, where it shares most
 * of its bytes with that file, becomes a delta as put_file() makes
 * them: an importing store grows by about the changed bytes too.  Best
 * effort: a content that cannot be cut or thinned stays whole.
 */
static void
txn_thin_staged(struct store_txn *t, const struct manifest *m)
{
	unsigned char base[DIGEST_LEN];
	struct chunk_list l;
	char part[32];
	uint64_t base_size;
	size_t i;

	for (i = 0; i < m->n; i++) {
		const struct entry *e = &m->v[i];
		struct dslot *sl;
		uint64_t len;
		bool delta;

		if (e->type != ENTRY_FILE || e->size <= CHUNK_THRESHOLD ||
		    (sl = store_dset_find(&t->staged, e->digest)) == NULL ||
		    sl->chunks || sl->zlib || sl->delta ||
		    txn_base(t, e->path, e->digest, base, &base_size) != 1)
			continue;
		snprintf(part, sizeof(part), "p%zu", sl->ref);
		if (txn_chunk_part(t, part, e->digest, &l) == -1)
			continue;
		sl->chunks = true;
		if (txn_thin(t, e->path, part, NULL, e->digest, e->size, &l,
			&len, &delta) == 0 &&
		    delta) {
			sl->delta = true;
			sl->stored = len;
		}
		chunk_list_free(&l);
	}
}

int
store_txn_put_file(struct store_txn *t, int dirfd, const struct entry *e,
    bool trust_digest, unsigned char out[DIGEST_LEN], uint64_t *stored)
{
	const char *path = e->path;
	const unsigned char *expect = trust_digest ? e->digest : NULL;
	uint64_t expect_size = e->size;
	struct stat st1, st2;
	struct digest dg = { NULL };
	struct blob_deflate bd;
	struct chunk_feed *feed = NULL;
	struct chunk_list chunks = { 0 };
	struct put_copy c;
	unsigned char *buf = NULL;
	char part[32] = "", kpart[40] = "", fname[40];
	uint64_t total = 0, written = 0;
	bool zlib = false, delta = false, store_side = false;
	int fd = -1, pfd = -1, rc = -1, k;

	memset(&bd, 0, sizeof(bd));
	memset(&c, 0, sizeof(c));
	if (stored != NULL)
		*stored = 0;
	if (expect != NULL) {
		if ((k = txn_known(t, expect)) == -1)
			return -1;
		if (k == 1) {
			memcpy(out, expect, DIGEST_LEN);
			return quick_check(dirfd, e);
		}
	}
	if ((fd = source_open(dirfd, path, expect_size, &st1)) == -1)
		return -1;
	/* A large content is chunked on the way (chunk.h): its own thread
	 * takes each buffer once it is hashed and stored. */
	if (expect_size > CHUNK_THRESHOLD) {
		if (chunk_feed_start(NULL, &feed) == -1)
			goto out;
	} else if ((buf = malloc(BLOB_CHUNK)) == NULL) {
		err_nomem();
		goto out;
	}
	if (digest_init(&dg) == -1)
		goto out;
	if ((pfd = txn_part(t, part)) == -1) {
		store_side = true;
		goto out;
	}
	c.fd = fd;
	c.pfd = pfd;
	c.path = path;
	c.part = part;
	c.feed = feed;
	c.buf = buf;
	c.dg = &dg;
	c.bd = &bd;
	k = put_copy(&c, expect_size);
	zlib = c.zlib;
	total = c.total;
	written = c.written;
	store_side = c.store_side;
	if (k == -1)
		goto out;
	store_side = false;
	if (digest_final(&dg, out) == -1)
		goto out;
	if (fstat(fd, &st2) == -1) {
		err_sys("cannot stat '%s'", path);
		goto out;
	}
	if (total != expect_size || !same_stat(&st1, &st2)) {
		err_set("'%s': changed while being staged", path);
		goto out;
	}
	if (expect != NULL && memcmp(out, expect, DIGEST_LEN) != 0) {
		err_set("'%s': changed while being staged (its content no "
			"longer matches the manifest)",
		    path);
		goto out;
	}
	if (feed != NULL) {
		k = chunk_feed_end(feed, &chunks);
		feed = NULL;
		if (k == -1)
			goto out;
		snprintf(kpart, sizeof(kpart), "%s" STORE_CHUNKS_SUFFIX, part);
		if (store_chunks_write_at(t->stagefd, kpart, &chunks, out) ==
		    -1) {
			kpart[0] = '\0';
			store_side = true;
			goto out;
		}
		if (!zlib &&
		    txn_thin(t, path, part, &pfd, out, expect_size, &chunks,
			&written, &delta) == -1) {
			store_side = true;
			goto out;
		}
	}
	if (txn_keep(t, part, pfd, out,
		delta	 ? STORE_DELTA :
		    zlib ? STORE_ZLIB :
			   STORE_RAW,
		written, kpart[0] != '\0', stored) == -1) {
		store_side = true;
		goto out;
	}
	part[0] = '\0';
	kpart[0] = '\0';
	rc = 0;
out:
	if (rc == -1 && store_side) {
		char shown[PATH_SHOW_LEN];

		store_err_io(t->s, "cannot stage '%s'",
		    path_show(path, shown, sizeof(shown)));
	}
	if (rc == -1 && part[0] != '\0')
		(void)unlinkat(t->stagefd,
		    part_file(part, delta ? STORE_DELTA : STORE_RAW, fname), 0);
	if (rc == -1 && kpart[0] != '\0')
		(void)unlinkat(t->stagefd, kpart, 0);
	if (pfd != -1)
		close(pfd);
	if (fd != -1)
		close(fd);
	chunk_feed_abort(feed);
	chunk_list_free(&chunks);
	blob_deflate_end(&bd);
	digest_free(&dg);
	free(buf);
	return rc;
}

struct tee {
	ssize_t (*rd)(void *arg, void *buf, size_t n);
	void *arg;
	int fd; /* -1: do not keep */
	const char *what;
	uint64_t n;
	bool wfail; /* the store's write failed, not the source */
};

static ssize_t
tee_read(void *arg, void *buf, size_t n)
{
	struct tee *t = arg;
	ssize_t k = t->rd(t->arg, buf, n);

	if (k > 0) {
		t->n += (uint64_t)k;
		if (t->fd != -1 &&
		    io_write_full(t->fd, buf, (size_t)k, t->what) == -1) {
			t->wfail = true;
			return -1;
		}
	}
	return k;
}

int
store_txn_put_stream(struct store_txn *t, const unsigned char d[DIGEST_LEN],
    uint64_t size, bool zlib, ssize_t (*rd)(void *arg, void *buf, size_t n),
    void *arg, uint64_t *stored)
{
	struct blob_inflate bi;
	struct digest dg = { NULL };
	struct tee tee = { rd, arg, -1, NULL, 0, false };
	unsigned char got[DIGEST_LEN], *buf = NULL;
	char part[32] = "", hex[DIGEST_HEXLEN + 1];
	uint64_t total = 0;
	ssize_t k;
	int known, rc = -1;

	memset(&bi, 0, sizeof(bi));
	if (stored != NULL)
		*stored = 0;
	digest_hex(d, hex);
	if ((known = txn_known(t, d)) == -1)
		return -1;
	if ((buf = malloc(BLOB_CHUNK)) == NULL)
		return err_nomem();
	if (digest_init(&dg) == -1)
		goto out;
	if (!known) {
		if ((tee.fd = txn_part(t, part)) == -1) {
			tee.wfail = true;
			goto out;
		}
		tee.what = part;
	}
	if (zlib && blob_inflate_init(&bi, tee_read, &tee, hex) == -1)
		goto out;
	for (;;) {
		if (zlib)
			k = blob_inflate_read(&bi, buf, BLOB_CHUNK);
		else
			k = tee_read(&tee, buf, BLOB_CHUNK);
		if (k == -1)
			goto out;
		if (k == 0)
			break;
		total += (uint64_t)k;
		if (total > size) {
			err_set("content %s: longer than %" PRIu64 " bytes",
			    hex, size);
			goto out;
		}
		if (digest_update(&dg, buf, (size_t)k) == -1)
			goto out;
	}
	if (digest_final(&dg, got) == -1)
		goto out;
	if (total != size) {
		err_set("content %s: %" PRIu64 " bytes, %" PRIu64 " expected",
		    hex, total, size);
		goto out;
	}
	if (memcmp(got, d, DIGEST_LEN) != 0) {
		err_set("content %s: digest mismatch", hex);
		goto out;
	}
	if (!known) {
		if (txn_keep(t, part, tee.fd, d, zlib ? STORE_ZLIB : STORE_RAW,
			tee.n, false, stored) == -1) {
			tee.wfail = true;
			goto out;
		}
		part[0] = '\0';
	}
	rc = 0;
out:
	if (rc == -1 && tee.wfail)
		store_err_io(t->s, "cannot stage content %s", hex);
	if (rc == -1 && part[0] != '\0')
		(void)unlinkat(t->stagefd, part, 0);
	if (tee.fd != -1)
		close(tee.fd);
	if (zlib)
		blob_inflate_end(&bi);
	digest_free(&dg);
	free(buf);
	return rc;
}

int
store_txn_put_made(struct store_txn *t, const unsigned char d[DIGEST_LEN],
    uint64_t size, int (*make)(void *arg, int fd, const char *what), void *arg,
    bool *made, uint64_t *stored)
{
	char part[32], what[128], hex[DIGEST_HEXLEN + 1];
	struct stat st;
	int known, fd;

	*made = false;
	if (stored != NULL)
		*stored = 0;
	if ((known = txn_known(t, d)) != 0)
		return known == 1 ? 0 : -1;
	if ((fd = txn_part(t, part)) == -1) {
		digest_hex(d, hex);
		return store_err_io(t->s, "cannot stage content %s", hex);
	}
	snprintf(what, sizeof(what), "%s/%s", t->stage, part);
	if (make(arg, fd, what) == -1)
		goto fail;
	if (fstat(fd, &st) == -1 || (uint64_t)st.st_size != size) {
		digest_hex(d, hex);
		err_set("content %s: not %" PRIu64 " bytes as made", hex, size);
		goto fail;
	}
	if (txn_keep(t, part, fd, d, STORE_RAW, size, false, stored) == -1) {
		digest_hex(d, hex);
		store_err_io(t->s, "cannot stage content %s", hex);
		goto fail;
	}
	close(fd);
	*made = true;
	return 0;
fail:
	close(fd);
	(void)unlinkat(t->stagefd, part, 0);
	return -1;
}

int
store_manifest_render(struct manifest *m, const char *pkg, uint64_t version,
    char **buf, size_t *len)
{
	*buf = NULL;
	*len = 0;
	if (manifest_set_header(m, pkg, version) == -1)
		return -1;
	return manifest_write_mem(m, buf, len);
}

static enum store_form
slot_form(const struct dslot *sl)
{
	return sl->delta ? STORE_DELTA : sl->zlib ? STORE_ZLIB : STORE_RAW;
}

/* Move every staged content into objects/. */
static int
txn_move(struct store_txn *t, uint64_t *added)
{
	struct store *s = t->s;
	char from[40], ref[32], to[STORE_OBJ_NAME_MAX], dir[3];
	char kfrom[STORE_OBJ_NAME_MAX];
	size_t i;
	int have;

	*added = 0;
	for (i = 0; i < t->staged.cap; i++) {
		struct dslot *sl = &t->staged.v[i];

		if (!sl->used)
			continue;
		store_obj_name(sl->d, slot_form(sl), to);
		snprintf(ref, sizeof(ref), "p%zu", sl->ref);
		part_file(ref, slot_form(sl), from);
		snprintf(kfrom, sizeof(kfrom), "p%zu" STORE_CHUNKS_SUFFIX,
		    sl->ref);
		if ((have = store_has_content(s, sl->d)) == -1)
			return -1;
		if (have) {
			/* Another transaction put it meanwhile. */
			if (io_unlink(t->stagefd, from, 0) == -1 ||
			    (sl->chunks &&
				io_unlink(t->stagefd, kfrom, 0) == -1))
				return -1;
			continue;
		}
		memcpy(dir, to, 2);
		dir[2] = '\0';
		pthread_mutex_lock(&s->mu);
		if (!s->made[sl->d[0]]) {
			if (store_ensure_dir(s->objfd, dir, "objects") == -1) {
				pthread_mutex_unlock(&s->mu);
				return -1;
			}
			s->made[sl->d[0]] = 1;
		}
		pthread_mutex_unlock(&s->mu);
		/* The index first: a content staged here never lacks it. */
		if (sl->chunks) {
			store_chunks_name(sl->d, to);
			if (io_rename(t->stagefd, kfrom, s->objfd, to) == -1)
				return -1;
			store_obj_name(sl->d, slot_form(sl), to);
		}
		if (io_rename(t->stagefd, from, s->objfd, to) == -1)
			return -1;
		*added += sl->stored;
	}
	return 0;
}

int
store_txn_keep_contents(struct store_txn *t)
{
	uint64_t added;

	flush_stop(t);
	if (txn_move(t, &added) == -1 || store_sync(t->s) == -1)
		return store_err_io(t->s,
		    "cannot keep the contents received "
		    "of %s",
		    t->pkg);
	return 0;
}

int
store_txn_commit(struct store_txn *t, struct manifest *m, uint64_t version,
    const unsigned char *sig, size_t siglen)
{
	struct store *s = t->s;
	char build[64], vname[32], info[256], *buf = NULL;
	uint64_t files = 0, bytes = 0, added = 0;
	size_t len, i;
	int bfd = -1, rc = -1, have;
	bool io = false; /* failures from here on are the store's */

	build[0] = '\0';
	if (version == 0 || version > STORE_VERSION_MAX) {
		err_set("%s: version %" PRIu64
			" is not a version (1 to %" PRIu64 ")",
		    t->pkg, version, STORE_VERSION_MAX);
		goto out;
	}
	if ((have = store_has_version(s, t->pkg, version)) == -1)
		goto out;
	if (have) {
		err_set("%s version %" PRIu64 ": already exists", t->pkg,
		    version);
		goto out;
	}
	/* Every content is there before anything moves. */
	for (i = 0; i < m->n; i++) {
		const struct entry *e = &m->v[i];
		int k;

		if (e->type != ENTRY_FILE)
			continue;
		files++;
		bytes += e->size;
		if ((k = txn_known(t, e->digest)) == -1)
			goto out;
		if (k == 0) {
			char shown[PATH_SHOW_LEN];

			err_set("'%s': content not in the store",
			    path_show(e->path, shown, sizeof(shown)));
			goto out;
		}
	}
	if (store_manifest_render(m, t->pkg, version, &buf, &len) == -1)
		goto out;
	if (manifest_check(m) == -1)
		goto out;
	txn_thin_staged(t, m);
	flush_stop(t);
	io = true;
	if (txn_move(t, &added) == -1 || store_sync(s) == -1)
		goto out;
	snprintf(build, sizeof(build), STORE_BUILD_PREFIX "%" PRIu64, version);
	if (io_mkdir(t->vfd, build, 0755) == -1)
		goto out;
	if ((bfd = store_open_dir(t->vfd, build)) == -1) {
		err_sys("cannot open '%s'", build);
		goto out;
	}
	if (atomic_write_file(bfd, "manifest", buf, len, 0444) == -1)
		goto out;
	snprintf(info, sizeof(info),
	    "created %lld\nfiles %" PRIu64 "\nbytes %" PRIu64
	    "\nnew_bytes %" PRIu64 "\n",
	    (long long)fault_now(), files, bytes, added);
	if (atomic_write_file(bfd, "info", info, strlen(info), 0444) == -1)
		goto out;
	if (sig != NULL &&
	    atomic_write_file(bfd, "sig", sig, siglen, 0444) == -1)
		goto out;
	snprintf(vname, sizeof(vname), "%" PRIu64, version);
	if (io_rename(t->vfd, build, t->vfd, vname) == -1)
		goto out;
	if (io_fsync_dir(t->vfd, "versions") == -1) {
		/* Not known to be durable: take it back, so that a failure
		 * reported is a version not committed. */
		if (io_rename(t->vfd, vname, t->vfd, build) == -1) {
			err_prefix("%s version %" PRIu64 " is visible but "
				   "may not be durable: ",
			    t->pkg, version);
			io = false;
		}
		goto out;
	}
	t->done = true;
	rc = 0;
out:
	if (rc == -1 && io)
		store_err_io(s, "cannot commit %s version %" PRIu64, t->pkg,
		    version);
	if (bfd != -1)
		close(bfd);
	free(buf);
	if (rc == -1 && build[0] != '\0')
		(void)io_remove_tree(t->vfd, build);
	store_txn_abort(t);
	return rc;
}
