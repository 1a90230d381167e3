/*
 * store_content.c — the store's contents: objects by SHA-256, readers
 * that check the digest at the end, the copy to an output (checked.h;
 * see store.h, "contents").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob.h"
#include "checked.h"
#include "digest.h"
#include "err.h"
#include "fault.h"
#include "io.h"
#include "manifest.h"
#include "path.h"
#include "store.h"
#include "store_int.h"

#define STORE_SMALL_READ ((uint64_t)128 << 10) /* read, not mapped */

/* ---- contents ---- */

/* Open the stored form of d: raw first, then zlib, then a delta.  -1
 * with errno ENOENT and err "content HEX: missing" when none exists. */
static int
obj_open(struct store *s, const unsigned char d[DIGEST_LEN],
    enum store_form *form, uint64_t *stored)
{
	char name[STORE_OBJ_NAME_MAX], hex[DIGEST_HEXLEN + 1];
	struct stat st;
	int fd = -1, f;

	for (f = 0; f < STORE_FORMS; f++) {
		store_obj_name(d, (enum store_form)f, name);
		fd = openat(s->objfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd != -1)
			break;
		if (errno != ENOENT)
			return err_sys("cannot open content '%s/objects/%s'",
			    s->dir, name);
	}
	if (fd == -1) {
		digest_hex(d, hex);
		err_set("content %s: missing", hex);
		errno = ENOENT;
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		err_set("content '%s/objects/%s': not a regular file", s->dir,
		    name);
		close(fd);
		return -1;
	}
	*form = (enum store_form)f;
	*stored = (uint64_t)st.st_size;
	return fd;
}

int
store_has_content(struct store *s, const unsigned char d[DIGEST_LEN])
{
	char name[STORE_OBJ_NAME_MAX];
	int f;

	for (f = 0; f < STORE_FORMS; f++) {
		store_obj_name(d, (enum store_form)f, name);
		if (faccessat(s->objfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			return 1;
		if (errno != ENOENT && errno != ENOTDIR)
			return err_sys("cannot stat '%s/objects/%s'", s->dir,
			    name);
	}
	return 0;
}

int
store_content_raw(struct store *s, const unsigned char d[DIGEST_LEN],
    struct store_raw *raw)
{
	enum store_form form;
	int fd;

	memset(raw, 0, sizeof(*raw));
	raw->fd = -1;
	if ((fd = obj_open(s, d, &form, &raw->stored_size)) == -1)
		return -1;
	if (form != STORE_DELTA) {
		raw->fd = fd;
		raw->zlib = form == STORE_ZLIB;
		return 0;
	}
	/* A delta is given as the bytes it makes. */
	if (store_delta_open(s, d, fd, &raw->delta) == -1)
		return -1;
	raw->stored_size = store_delta_size(raw->delta);
	return 0;
}

ssize_t
store_raw_read(struct store_raw *raw, void *buf, size_t n, const char *what)
{
	if (raw->delta == NULL)
		return io_read_full(raw->fd, buf, n, what);
	if (n > raw->stored_size - raw->pos)
		n = (size_t)(raw->stored_size - raw->pos);
	if (store_delta_pread(raw->delta, buf, n, raw->pos) == -1)
		return -1;
	raw->pos += n;
	return (ssize_t)n;
}

void
store_raw_close(struct store_raw *raw)
{
	if (raw->fd != -1)
		close(raw->fd);
	store_delta_close(raw->delta);
	raw->fd = -1;
	raw->delta = NULL;
}

struct store_view {
	int fd; /* stored whole, else -1 */
	struct store_delta *delta;
	char what[DIGEST_HEXLEN + 16];
};

int
store_content_view(struct store *s, const unsigned char d[DIGEST_LEN],
    struct store_view **out)
{
	struct store_raw raw;
	struct store_view *v;
	char hex[DIGEST_HEXLEN + 1];

	*out = NULL;
	if (store_content_raw(s, d, &raw) == -1)
		return -1;
	if (raw.zlib) {
		store_raw_close(&raw);
		return 0;
	}
	if ((v = calloc(1, sizeof(*v))) == NULL) {
		store_raw_close(&raw);
		return err_nomem();
	}
	v->fd = raw.fd;
	v->delta = raw.delta;
	digest_hex(d, hex);
	snprintf(v->what, sizeof(v->what), "content %s", hex);
	*out = v;
	return 1;
}

int
store_view_pread(struct store_view *v, void *buf, size_t n, uint64_t off)
{
	if (v->delta != NULL)
		return store_delta_pread(v->delta, buf, n, off);
	return io_pread_full(v->fd, buf, n, off, v->what);
}

void
store_view_close(struct store_view *v)
{
	if (v == NULL)
		return;
	if (v->fd != -1)
		close(v->fd);
	store_delta_close(v->delta);
	free(v);
}

int
store_content_pread_fd(struct store *s, const unsigned char d[DIGEST_LEN],
    uint64_t size, int *fd)
{
	struct store_raw raw;
	bool fault;
	int tfd, e;

	*fd = -1;
	if (store_content_raw(s, d, &raw) == -1)
		return -1;
	if (!raw.zlib && raw.delta == NULL) {
		*fd = raw.fd;
		return 0;
	}
	store_raw_close(&raw);
	if ((tfd = openat(s->tmpfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC,
		 0600)) == -1)
		return err_sys("cannot create a temporary in '%s/tmp'", s->dir);
	if (store_content_copy(s, d, size, tfd, "a temporary in STORE/tmp",
		&fault) == -1) {
		e = errno;
		close(tfd);
		errno = e;
		return -1;
	}
	*fd = tfd;
	return 0;
}

struct store_reader {
	struct store_raw raw;
	bool ended;
	uint64_t left; /* stored bytes not read yet */
	struct blob_inflate inf;
	struct digest dg;
	unsigned char want[DIGEST_LEN];
	char what[DIGEST_HEXLEN + 16];
};

/* Read at most the stored size: the end of the object costs no
 * read(2) returning 0 (two per object before). */
static ssize_t
fd_read(void *arg, void *buf, size_t n)
{
	struct store_reader *r = arg;
	ssize_t k;

	if (r->left == 0)
		return 0;
	if (n > r->left)
		n = (size_t)r->left;
	if ((k = store_raw_read(&r->raw, buf, n, r->what)) > 0)
		r->left -= (uint64_t)k;
	return k;
}

/* A reader of d over its stored form raw (taken over, closed on
 * failure too). */
static int
reader_from_raw(const unsigned char d[DIGEST_LEN], struct store_raw *raw,
    struct store_reader **out)
{
	struct store_reader *r;
	char hex[DIGEST_HEXLEN + 1];

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		store_raw_close(raw);
		return err_nomem();
	}
	memcpy(r->want, d, DIGEST_LEN);
	digest_hex(d, hex);
	snprintf(r->what, sizeof(r->what), "content %s", hex);
	r->raw = *raw;
	r->left = raw->stored_size;
	if (digest_init(&r->dg) == -1 ||
	    (r->raw.zlib &&
		blob_inflate_init(&r->inf, fd_read, r, r->what) == -1)) {
		digest_free(&r->dg);
		store_raw_close(&r->raw);
		free(r);
		return -1;
	}
	*out = r;
	return 0;
}

int
store_content_open(struct store *s, const unsigned char d[DIGEST_LEN],
    struct store_reader **out)
{
	struct store_raw raw;

	*out = NULL;
	if (store_content_raw(s, d, &raw) == -1)
		return -1;
	return reader_from_raw(d, &raw, out);
}

ssize_t
store_reader_read(struct store_reader *r, void *buf, size_t n)
{
	unsigned char got[DIGEST_LEN];
	ssize_t k;

	if (r->ended)
		return 0;
	if (r->raw.zlib)
		k = blob_inflate_read(&r->inf, buf, n);
	else
		k = fd_read(r, buf, n);
	if (k == -1)
		return -1;
	if (k > 0) {
		if (digest_update(&r->dg, buf, (size_t)k) == -1)
			return -1;
		return k;
	}
	r->ended = true;
	if (digest_final(&r->dg, got) == -1)
		return -1;
	if (memcmp(got, r->want, DIGEST_LEN) != 0)
		return err_set("%s: digest mismatch", r->what);
	return 0;
}

void
store_reader_close(struct store_reader *r)
{
	if (r == NULL)
		return;
	if (r->raw.zlib)
		blob_inflate_end(&r->inf);
	digest_free(&r->dg);
	store_raw_close(&r->raw);
	free(r);
}

int
store_err_content(const char *pkg, uint64_t version, const struct manifest *m,
    const unsigned char d[DIGEST_LEN])
{
	char shown[PATH_SHOW_LEN];
	size_t i;

	for (i = 0; m != NULL && i < m->n; i++)
		if (m->v[i].type == ENTRY_FILE &&
		    memcmp(m->v[i].digest, d, DIGEST_LEN) == 0)
			return err_prefix("%s version %" PRIu64 ": '%s': ", pkg,
			    version,
			    path_show(m->v[i].path, shown, sizeof(shown)));
	return err_prefix("%s version %" PRIu64 ": ", pkg, version);
}

int
store_content_check(struct store *s, const unsigned char d[DIGEST_LEN],
    uint64_t size, void *buf, size_t len, uint64_t *total)
{
	struct store_reader *r;
	char hex[DIGEST_HEXLEN + 1];
	uint64_t n = 0;
	ssize_t k;

	if (total != NULL)
		*total = 0;
	if (store_content_open(s, d, &r) == -1)
		return -1;
	while ((k = store_reader_read(r, buf, len)) > 0)
		n += (uint64_t)k;
	store_reader_close(r);
	if (total != NULL)
		*total = n;
	if (k == -1)
		return -1;
	if (n != size) {
		digest_hex(d, hex);
		return err_set("content %s: has %" PRIu64 " bytes, the "
			       "manifest says %" PRIu64,
		    hex, n, size);
	}
	return 0;
}

/* A stored object as a checked_source: a small raw one read whole, a
 * big raw one mapped, a compressed one inflated, a delta read through
 * (the reader's own digest is not kept: checked_copy() hashes). */
struct obj_src {
	struct store_reader *r; /* compressed or a delta, else NULL */
	int fd;			/* raw */
	uint64_t size, done;
	unsigned char *buf, *map;
	const char *hex;
};

static ssize_t
obj_next(void *ctx, const unsigned char **p)
{
	struct obj_src *o = ctx;
	size_t part;
	ssize_t k;

	if (o->r != NULL) {
		*p = o->buf;
		if (o->r->raw.zlib)
			return blob_inflate_read(&o->r->inf, o->buf,
			    BLOB_CHUNK * 4);
		return fd_read(o->r, o->buf, BLOB_CHUNK * 4);
	}
	if (o->done == o->size)
		return 0;
	if (o->map == MAP_FAILED) {
		/* Small: one read(2), not mmap + madvise + munmap. */
		while (o->done < o->size) {
			k = read(o->fd, o->buf + o->done,
			    (size_t)(o->size - o->done));
			if (k == -1 && errno == EINTR)
				continue;
			if (k == -1)
				return err_sys("cannot read content %s",
				    o->hex);
			if (k == 0)
				break;
			o->done += (uint64_t)k;
		}
		*p = o->buf;
		k = (ssize_t)o->done;
		o->done = o->size;
		return k;
	}
	part = o->size - o->done > BLOB_CHUNK * 4 ? BLOB_CHUNK * 4 :
						    (size_t)(o->size - o->done);
	*p = o->map + o->done;
	o->done += part;
	return (ssize_t)part;
}

int
store_content_copy(struct store *s, const unsigned char d[DIGEST_LEN],
    uint64_t size, int outfd, const char *what, bool *store_fault)
{
	struct obj_src o;
	struct checked_source src = { obj_next, &o };
	struct checked_out out = { outfd, what };
	enum checked_fault fault = CHECKED_SOURCE;
	struct store_raw raw;
	uint64_t stored;
	int fd, rc = -1;
	char hex[DIGEST_HEXLEN + 1];

	digest_hex(d, hex);
	memset(&o, 0, sizeof(o));
	o.map = MAP_FAILED;
	o.fd = -1;
	o.size = size;
	o.hex = hex;
	if (store_content_raw(s, d, &raw) == -1)
		goto out;
	fd = raw.fd;
	stored = raw.stored_size;
	if (raw.zlib || raw.delta != NULL) {
		/* The reader takes over the stored form (no second lookup
		 * of the object). */
		if (reader_from_raw(d, &raw, &o.r) == -1)
			goto out;
	} else {
		/* Map, hash and write from the mapping: one copy. */
		o.fd = fd;
		if (stored != size) {
			err_set("content %s: %" PRIu64 " bytes stored, %" PRIu64
				" expected",
			    hex, stored, size);
			goto out;
		}
		if (fault_hit("read") == -1) {
			err_sys("cannot read content %s", hex);
			goto out;
		}
		if (size > STORE_SMALL_READ) {
			o.map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
			if (o.map == MAP_FAILED) {
				err_sys("cannot map content %s", hex);
				goto out;
			}
			(void)madvise(o.map, size, MADV_SEQUENTIAL);
		}
	}
	if ((o.r != NULL || o.map == MAP_FAILED) &&
	    (o.buf = malloc(o.r != NULL ? BLOB_CHUNK * 4 : (size_t)size + 1)) ==
		NULL) {
		err_nomem();
		goto out;
	}
	rc = checked_copy(&src, d, size, &out, 1, " (store damaged)", &fault);
out:
	if (store_fault != NULL)
		*store_fault = rc == -1 && fault != CHECKED_OUTPUT;
	if (o.map != MAP_FAILED)
		munmap(o.map, size);
	store_reader_close(o.r);
	free(o.buf);
	if (o.fd != -1)
		close(o.fd);
	return rc;
}
