/*
 * pack.c — package files: writer, hostile-input reader, import (see
 * pack.h for the format).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bigendian.h"
#include "blob.h"
#include "digest.h"
#include "digestset.h"
#include "err.h"
#include "io.h"
#include "manifest.h"
#include "mchanges.h"
#include "pack.h"
#include "path.h"
#include "progress.h"
#include "recipe.h"
#include "recipe_make.h"
#include "sign.h"
#include "trust.h"
#include "store.h"

/* zlib cannot expand more than about 1032:1. */
#define ZLIB_MAX_RATIO 1100

/* ---- writer ---- */

struct pw {
	int fd;
	struct digest dg;
	unsigned char *buf;
	size_t len;
	uint64_t total;
	struct progress *p;
};

static int
pw_flush(struct pw *w)
{
	if (w->len == 0)
		return 0;
	if (io_write_full(w->fd, w->buf, w->len, "package file") == -1)
		return -1;
	progress_add(w->p, 0, w->len);
	w->len = 0;
	return 0;
}

/* Write (and hash, when hash) n bytes. */
static int
pw_put(struct pw *w, const void *p, size_t n, bool hash)
{
	if (hash && digest_update(&w->dg, p, n) == -1)
		return -1;
	w->total += n;
	if (n >= BLOB_CHUNK) {
		if (pw_flush(w) == -1 ||
		    io_write_full(w->fd, p, n, "package file") == -1)
			return -1;
		progress_add(w->p, 0, n);
		return 0;
	}
	if (w->len + n > BLOB_CHUNK && pw_flush(w) == -1)
		return -1;
	memcpy(w->buf + w->len, p, n);
	w->len += n;
	return 0;
}

/* The contents of m not in base bm's set bv, and in only when given. */
static size_t
delta_of(struct digestset_item *cv, size_t ncv, const struct digestset_item *bv,
    size_t nbv, const struct digestset_item *only, size_t nonly)
{
	size_t i, k;

	for (i = k = 0; i < ncv; i++)
		if (digestset_find(bv, nbv, sizeof(*bv), cv[i].d) == NULL &&
		    (only == NULL ||
			digestset_find(only, nonly, sizeof(*only), cv[i].d) !=
			    NULL))
			cv[k++] = cv[i];
	return k;
}

int
pack_contents(struct store *s, const char *pkg, uint64_t version, uint64_t base,
    struct digestset_item **v, size_t *n)
{
	struct manifest m, bm;
	struct digestset_item *bv = NULL;
	size_t nbv = 0;
	int rc = -1;

	*v = NULL;
	*n = 0;
	manifest_init(&m);
	manifest_init(&bm);
	if (store_load_manifest(s, pkg, version, &m) == -1 ||
	    (base != 0 &&
		(store_load_manifest(s, pkg, base, &bm) == -1 ||
		    digestset_of_manifest(&bm, &bv, &nbv) == -1)) ||
	    digestset_of_manifest(&m, v, n) == -1)
		goto out;
	*n = delta_of(*v, *n, bv, nbv, NULL, 0);
	rc = 0;
out:
	free(bv);
	manifest_free(&m);
	manifest_free(&bm);
	return rc;
}

/* The recipes of a delta: for each content, the base version's file it
 * is rebuilt from (NULL: carried whole) and the operations. */
struct plans {
	const struct entry **from;
	struct recipe *r;
	size_t n, recipes;
};

static void
plans_free(struct plans *pl)
{
	size_t i;

	for (i = 0; pl->r != NULL && i < pl->n; i++)
		recipe_free(&pl->r[i]);
	free(pl->r);
	free(pl->from);
	memset(pl, 0, sizeof(*pl));
}

/* Plan a recipe for each large content of cv that changed a little from
 * the file at its path in bm: one that does not pay (a compressed file)
 * or cannot be planned goes whole. */
static int
plans_make(struct store *s, const struct manifest *m, const struct manifest *bm,
    const struct digestset_item *cv, size_t ncv, struct plans *pl)
{
	size_t i;

	memset(pl, 0, sizeof(*pl));
	if (ncv == 0)
		return 0;
	pl->n = ncv;
	if ((pl->from = calloc(ncv, sizeof(const struct entry *))) == NULL ||
	    (pl->r = calloc(ncv, sizeof(*pl->r))) == NULL) {
		plans_free(pl);
		return err_nomem();
	}
	for (i = 0; i < ncv; i++) {
		pl->from[i] = recipe_make_base(m, bm, cv[i].d, cv[i].size);
		if (pl->from[i] == NULL)
			continue;
		if (recipe_make_plan(s, cv[i].d, cv[i].size, pl->from[i],
			&pl->r[i]) != 1) {
			pl->from[i] = NULL;
			continue;
		}
		pl->recipes++;
	}
	return 0;
}

/* recipe_make_emit()'s frames: blocks of a recipe record. */
static int
put_block(void *arg, const unsigned char *buf, size_t len)
{
	struct pw *w = arg;
	unsigned char n[4];

	be_put32(n, (uint32_t)len);
	if (pw_put(w, n, 4, true) == -1)
		return -1;
	return pw_put(w, buf, len, true);
}

/* The file's head: header, manifest (compressed when that pays) and
 * signature. */
static int
put_head(struct pw *w, const char *pkg, uint64_t version, uint64_t base,
    uint32_t format, const char *mbuf, size_t mlen, const unsigned char *mc,
    size_t mclen, const unsigned char *sig, size_t siglen)
{
	const void *data;
	unsigned char hdr[33], *z = NULL;
	size_t zlen = 0;
	int rc = -1;

	memcpy(hdr, PACK_MAGIC, 8);
	be_put32(hdr + 8, format);
	be_put32(hdr + 12, 0);
	be_put64(hdr + 16, version);
	be_put64(hdr + 24, base);
	hdr[32] = (unsigned char)strlen(pkg);
	if (pw_put(w, hdr, 33, true) == -1 ||
	    pw_put(w, pkg, strlen(pkg), true) == -1)
		return -1;
	if (blob_compress(mbuf, mlen, &z, &zlen) == -1)
		return -1;
	/* The smallest of the three forms the reader takes. */
	if (mc != NULL && mclen < zlen && mclen < mlen) {
		hdr[0] = PACK_MANIFEST_CHANGES;
		data = mc;
		zlen = mclen;
	} else if (zlen < mlen) {
		hdr[0] = 1;
		data = z;
	} else {
		hdr[0] = 0;
		data = mbuf;
		zlen = mlen;
	}
	be_put64(hdr + 1, mlen);
	be_put64(hdr + 9, zlen);
	if (pw_put(w, hdr, 17, true) == -1 || pw_put(w, data, zlen, true) == -1)
		goto out;
	if (siglen > PACK_SIG_MAX) {
		err_set("%s version %" PRIu64 ": signature too long", pkg,
		    version);
		goto out;
	}
	be_put32(hdr, (uint32_t)siglen);
	if (pw_put(w, hdr, 4, true) == -1 ||
	    (siglen > 0 && pw_put(w, sig, siglen, true) == -1))
		goto out;
	rc = 0;
out:
	free(z);
	return rc;
}

/* Content c as a whole record, in its stored form; one the store cannot
 * give is named by pkg, version and m's file. */
static int
put_whole(struct store *s, struct pw *w, const struct digestset_item *c,
    const char *pkg, uint64_t version, const struct manifest *m)
{
	struct store_raw raw;
	unsigned char hdr[49];
	char hex[DIGEST_HEXLEN + 1];
	uint64_t left;
	ssize_t got;
	int rc = -1;

	if (store_content_raw(s, c->d, &raw) == -1)
		return store_err_content(pkg, version, m, c->d);
	memcpy(hdr, c->d, DIGEST_LEN);
	be_put64(hdr + 32, c->size);
	hdr[40] = raw.zlib ? 1 : 0;
	be_put64(hdr + 41, raw.stored_size);
	if (pw_put(w, hdr, sizeof(hdr), true) == -1)
		goto out;
	digest_hex(c->d, hex);
	for (left = raw.stored_size; left > 0; left -= (uint64_t)got) {
		size_t want = left > BLOB_CHUNK ? BLOB_CHUNK : (size_t)left;

		if (w->len + want > BLOB_CHUNK && pw_flush(w) == -1)
			goto out;
		got = store_raw_read(&raw, w->buf + w->len, want, hex);
		if (got <= 0) {
			if (got == 0)
				err_set("content %s: shorter than stored", hex);
			store_err_content(pkg, version, m, c->d);
			goto out;
		}
		if (digest_update(&w->dg, w->buf + w->len, (size_t)got) == -1)
			goto out;
		w->len += (size_t)got;
		w->total += (uint64_t)got;
	}
	rc = 0;
out:
	store_raw_close(&raw);
	return rc;
}

/* Content d (size bytes) as a recipe record from from's content. */
static int
put_recipe(struct store *s, struct pw *w, const struct digestset_item *c,
    const struct entry *from, const struct recipe *r, unsigned char *blk)
{
	unsigned char hdr[81];

	memcpy(hdr, c->d, DIGEST_LEN);
	be_put64(hdr + 32, c->size);
	hdr[40] = 2;
	memcpy(hdr + 41, from->digest, DIGEST_LEN);
	be_put64(hdr + 73, from->size);
	if (pw_put(w, hdr, sizeof(hdr), true) == -1 ||
	    recipe_make_emit(s, c->d, r, blk, PACK_RECIPE_BLOCK_MAX, put_block,
		w, NULL, NULL) == -1)
		return -1;
	be_put32(hdr, 0);
	return pw_put(w, hdr, 4, true);
}

static int export_file(struct store *s, const char *pkg, uint64_t version,
    uint64_t base, const struct digestset_item *only, size_t nonly,
    unsigned flags, int fd, struct progress *p);

int
pack_export(struct store *s, const char *pkg, uint64_t version, uint64_t base,
    unsigned flags, int fd, struct progress *p)
{
	return export_file(s, pkg, version, base, NULL, 0, flags, fd, p);
}

int
pack_export_only(struct store *s, const char *pkg, uint64_t version,
    uint64_t base, const struct digestset_item *only, size_t nonly,
    unsigned flags, int fd, struct progress *p)
{
	return export_file(s, pkg, version, base, only, nonly, flags, fd, p);
}

static int
export_file(struct store *s, const char *pkg, uint64_t version, uint64_t base,
    const struct digestset_item *only, size_t nonly, unsigned flags, int fd,
    struct progress *p)
{
	struct pw w = { fd, { NULL }, NULL, 0, 0, p };
	struct manifest m, bm, bcopy;
	struct digestset_item *cv = NULL, *bv = NULL;
	struct plans pl = { NULL, NULL, 0, 0 };
	size_t ncv = 0, nbv = 0, i, mlen, siglen = 0, mclen = 0;
	unsigned char hdr[8], *sig = NULL, fin[DIGEST_LEN], *mc = NULL;
	unsigned char *blk = NULL;
	char *mbuf = NULL, *check = NULL;
	uint64_t count = 0;
	int rc = -1, ulk = -1;

	manifest_init(&m);
	manifest_init(&bm);
	manifest_init(&bcopy);
	if (package_name_check(pkg) == -1)
		return -1;
	if (base != 0 && base == version)
		return err_set("%s: base %" PRIu64 " is the version itself",
		    pkg, base);
	/* gc removes no version while it is read. */
	if ((ulk = store_lock(s, pkg, STORE_LOCK_USE, true,
		 STORE_WAIT_DEFAULT)) == -1)
		return -1;
	if (store_manifest_bytes(s, pkg, version, &mbuf, &mlen) == -1 ||
	    store_load_manifest(s, pkg, version, &m) == -1 ||
	    store_version_signature(s, pkg, version, &sig, &siglen) == -1)
		goto out;
	if (base != 0 &&
	    (store_load_manifest(s, pkg, base, &bm) == -1 ||
		digestset_of_manifest(&bm, &bv, &nbv) == -1))
		goto out;
	if (digestset_of_manifest(&m, &cv, &ncv) == -1)
		goto out;
	ncv = delta_of(cv, ncv, bv, nbv, only, nonly);
	if (base != 0 && (flags & PACK_EXPORT_RECIPES) &&
	    plans_make(s, &m, &bm, cv, ncv, &pl) == -1)
		goto out;
	if (base != 0 && (flags & PACK_EXPORT_MANIFEST_CHANGES) &&
	    (store_load_manifest(s, pkg, base, &bcopy) == -1 ||
		mchanges_make(&bm, &bcopy, &m, pkg, version, mbuf, mlen, &mc,
		    &mclen) == -1))
		goto out;
	if ((w.buf = malloc(BLOB_CHUNK)) == NULL ||
	    (check = malloc(BLOB_CHUNK)) == NULL ||
	    (pl.recipes > 0 && (blk = malloc(PACK_RECIPE_BLOCK_MAX)) == NULL)) {
		err_nomem();
		goto out;
	}
	if (digest_init(&w.dg) == -1)
		goto out;
	/* Format 1 unless a recipe needs 2, so that a file without one
	 * stays readable by a release that knows only 1. */
	if (put_head(&w, pkg, version, base,
		pl.recipes > 0 ? PACK_FORMAT : PACK_FORMAT_WHOLE, mbuf, mlen,
		mc, mclen, sig, siglen) == -1)
		goto out;
	count = ncv;
	be_put64(hdr, count);
	if (pw_put(&w, hdr, 8, true) == -1)
		goto out;
	/* Contents, in their stored form. */
	for (i = 0; i < ncv; i++) {
		/* A damaged content is refused here, by name, rather than
		 * carried to another site to be refused by its import. */
		if (store_content_check(s, cv[i].d, cv[i].size, check,
			BLOB_CHUNK, NULL) == -1) {
			store_err_content(pkg, version, &m, cv[i].d);
			goto out;
		}
		if (pl.from != NULL && pl.from[i] != NULL) {
			if (put_recipe(s, &w, &cv[i], pl.from[i], &pl.r[i],
				blk) == -1)
				goto out;
			continue;
		}
		if (put_whole(s, &w, &cv[i], pkg, version, &m) == -1)
			goto out;
	}
	/* Trailer. */
	if (digest_final(&w.dg, fin) == -1)
		goto out;
	if (pw_put(&w, PACK_END_MAGIC, 8, false) == -1 ||
	    pw_put(&w, fin, DIGEST_LEN, false) == -1 || pw_flush(&w) == -1)
		goto out;
	rc = 0;
out:
	digest_free(&w.dg);
	plans_free(&pl);
	free(blk);
	free(w.buf);
	free(check);
	free(sig);
	free(mbuf);
	free(cv);
	free(bv);
	free(mc);
	manifest_free(&m);
	manifest_free(&bm);
	manifest_free(&bcopy);
	store_unlock(ulk);
	return rc;
}

/* ---- reader ---- */

struct pack_reader {
	/* source */
	int fd;
	const unsigned char *mem;
	size_t memlen, memoff;
	unsigned char *buf; /* fd: read buffer */
	size_t blen, boff;
	bool eof;
	const char *name;
	/* The store whose copy of the base version's manifest rebuilds
	 * one sent as changes; NULL: none is taken. */
	struct store *base_store;

	struct digest dg; /* every byte before the trailer */
	struct pack_info info;
	struct manifest m;
	char *mbytes;
	size_t mlen;
	unsigned char *sig;
	size_t siglen;
	struct digestset_item *cv; /* the manifest's contents */
	size_t ncv;
	uint64_t count, index;
	unsigned char last[DIGEST_LEN];
	bool ended; /* trailer checked */

	/* current content */
	bool cur;
	struct pack_content c;
	uint64_t left; /* stored bytes left */
	bool raw_used;
	bool inflating;
	struct blob_inflate inf;
	struct digest cdg;
	uint64_t cgot; /* original bytes read */
	bool cdone;
	bool broken;		/* a recipe failed midway: no way on */
	unsigned char *blk;	/* a recipe's block (PACK_RECIPE_BLOCK_MAX) */
	unsigned char *scratch; /* recipe_apply's (RECIPE_INSERT_MAX) */
};

/* Up to n bytes from the source; 0 at its end. */
static ssize_t
src_some(struct pack_reader *r, void *out, size_t n)
{
	ssize_t got;

	if (r->mem != NULL) {
		size_t k = r->memlen - r->memoff;

		if (k > n)
			k = n;
		memcpy(out, r->mem + r->memoff, k);
		r->memoff += k;
		return (ssize_t)k;
	}
	if (r->boff == r->blen) {
		if (r->eof)
			return 0;
		if (n >= BLOB_CHUNK) {
			got = io_read_full(r->fd, out, n, r->name);
			if (got >= 0 && (size_t)got < n)
				r->eof = true;
			return got;
		}
		got = io_read_full(r->fd, r->buf, BLOB_CHUNK, r->name);
		if (got == -1)
			return -1;
		if ((size_t)got < BLOB_CHUNK)
			r->eof = true;
		r->blen = (size_t)got;
		r->boff = 0;
		if (got == 0)
			return 0;
	}
	if (n > r->blen - r->boff)
		n = r->blen - r->boff;
	memcpy(out, r->buf + r->boff, n);
	r->boff += n;
	return (ssize_t)n;
}

/* Exactly n bytes (hashed when hash), else "truncated". */
static int
src_read(struct pack_reader *r, void *out, size_t n, bool hash)
{
	unsigned char *p = out;
	size_t done = 0;
	ssize_t got;

	while (done < n) {
		if ((got = src_some(r, p + done, n - done)) == -1)
			return -1;
		if (got == 0)
			return err_set("%s: truncated", r->name);
		done += (size_t)got;
	}
	if (hash && n > 0 && digest_update(&r->dg, out, n) == -1)
		return -1;
	return 0;
}

/* Read a block of at most max original bytes: its data, after the head
 * h (method, sizes) already read. */
static int
read_block(struct pack_reader *r, const unsigned char h[17], size_t max,
    const char *what, char **out, size_t *outlen)
{
	unsigned char *st = NULL, *nst;
	char *o = NULL;
	uint64_t len, slen;
	size_t have = 0, cap = 0;

	*out = NULL;
	*outlen = 0;
	len = be_get64(h + 1);
	slen = be_get64(h + 9);
	if (h[0] > 1)
		return err_set("%s: %s: unknown method %u", r->name, what,
		    h[0]);
	if (len > max)
		return err_set("%s: %s too large (%" PRIu64 " bytes)", r->name,
		    what, len);
	if ((h[0] == 0 && slen != len) ||
	    (h[0] == 1 &&
		(slen > len + 1024 + len / 100 || len / ZLIB_MAX_RATIO > slen)))
		return err_set("%s: %s: inconsistent lengths", r->name, what);
	if (r->mem != NULL && slen > r->memlen - r->memoff)
		return err_set("%s: truncated", r->name);
	/* Grow as bytes arrive, so a lying length cannot make us
	 * allocate what the file does not hold. */
	while (have < slen) {
		size_t part = slen - have > BLOB_CHUNK ? BLOB_CHUNK :
							 (size_t)(slen - have);

		if (have + part > cap) {
			cap = have + part > cap * 2 ? have + part : cap * 2;
			if (cap > slen)
				cap = (size_t)slen;
			if ((nst = realloc(st, cap + 1)) == NULL) {
				free(st);
				return err_nomem();
			}
			st = nst;
		}
		if (src_read(r, st + have, part, true) == -1) {
			free(st);
			return -1;
		}
		have += part;
	}
	if (h[0] == 0) {
		if (st == NULL && (st = malloc(1)) == NULL)
			return err_nomem();
		st[len] = '\0';
		*out = (char *)st;
		*outlen = (size_t)len;
		return 0;
	}
	if ((o = malloc((size_t)len + 1)) == NULL) {
		free(st);
		return err_nomem();
	}
	if (blob_uncompress(st, (size_t)slen, (unsigned char *)o, (size_t)len,
		what) == -1) {
		err_prefix("%s: ", r->name);
		free(st);
		free(o);
		return -1;
	}
	free(st);
	o[len] = '\0';
	*out = o;
	*outlen = (size_t)len;
	return 0;
}

/* A manifest sent as the changes from the base version's (mchanges.h),
 * len bytes once rebuilt from the reader's store, slen bytes here. */
static int
read_manifest_changes(struct pack_reader *r, uint64_t len, uint64_t slen,
    char **out, size_t *outlen)
{
	unsigned char h[17];
	struct manifest bm;
	char *p = NULL;
	size_t plen = 0;
	int rc = -1;

	if (len > STORE_MANIFEST_MAX)
		return err_set("%s: manifest too large (%" PRIu64 " bytes)",
		    r->name, len);
	/* Its payload, read as a stored block. */
	h[0] = 0;
	be_put64(h + 1, slen);
	be_put64(h + 9, slen);
	if (read_block(r, h, STORE_MANIFEST_MAX, "manifest changes", &p,
		&plen) == -1)
		return -1;
	manifest_init(&bm);
	if (store_load_manifest(r->base_store, r->info.package, r->info.base,
		&bm) == -1) {
		err_prefix("%s: the manifest is sent as changes from version "
			   "%" PRIu64 ": ",
		    r->name, r->info.base);
		goto out;
	}
	if (mchanges_rebuild(&bm, (const unsigned char *)p, plen,
		r->info.package, r->info.version, (size_t)len, r->name,
		out) == -1)
		goto out;
	*outlen = (size_t)len;
	rc = 0;
out:
	manifest_free(&bm);
	free(p);
	return rc;
}

/* The manifest block: the manifest's exact bytes. */
static int
read_manifest(struct pack_reader *r, char **out, size_t *outlen)
{
	unsigned char h[17];

	*out = NULL;
	*outlen = 0;
	if (src_read(r, h, 17, true) == -1)
		return -1;
	/* Only a reader that has the base takes changes; to any other,
	 * method 2 is unknown. */
	if (h[0] == PACK_MANIFEST_CHANGES && r->base_store != NULL &&
	    r->info.base != 0)
		return read_manifest_changes(r, be_get64(h + 1),
		    be_get64(h + 9), out, outlen);
	return read_block(r, h, STORE_MANIFEST_MAX, "manifest", out, outlen);
}

static int
reader_start(struct pack_reader *r)
{
	unsigned char h[33], b4[8];
	char *mb = NULL;
	size_t ml, nf, i;
	uint64_t cnt;

	if (digest_init(&r->dg) == -1)
		return -1;
	if (src_read(r, h, 33, true) == -1)
		return -1;
	if (memcmp(h, PACK_MAGIC, 8) != 0)
		return err_set("%s: not a pkgdist package file (bad magic)",
		    r->name);
	r->info.format = be_get32(h + 8);
	if (r->info.format != PACK_FORMAT_WHOLE &&
	    r->info.format != PACK_FORMAT)
		return err_set("%s: unknown format %" PRIu32, r->name,
		    r->info.format);
	if (be_get32(h + 12) != 0)
		return err_set("%s: unknown flags", r->name);
	r->info.version = be_get64(h + 16);
	r->info.base = be_get64(h + 24);
	if (r->info.version == 0 || r->info.base >= r->info.version)
		return err_set("%s: bad version %" PRIu64 " (base %" PRIu64 ")",
		    r->name, r->info.version, r->info.base);
	if (h[32] < 1 || h[32] > NAME_MAX_LEN)
		return err_set("%s: bad package name length", r->name);
	if (src_read(r, r->info.package, h[32], true) == -1)
		return -1;
	r->info.package[h[32]] = '\0';
	if (strlen(r->info.package) != h[32] || !name_valid(r->info.package))
		return err_set("%s: invalid package name", r->name);
	if (read_manifest(r, &mb, &ml) == -1)
		return -1;
	r->mbytes = mb;
	r->mlen = ml;
	if (manifest_load_buf(mb, ml, r->name, &r->m) == -1)
		return -1;
	if (r->m.package == NULL ||
	    strcmp(r->m.package, r->info.package) != 0 ||
	    r->m.version != r->info.version)
		return err_set(
		    "%s: the manifest does not name %s version %" PRIu64,
		    r->name, r->info.package, r->info.version);
	if (src_read(r, b4, 4, true) == -1)
		return -1;
	r->siglen = be_get32(b4);
	if (r->siglen > PACK_SIG_MAX)
		return err_set("%s: signature too long", r->name);
	if (r->siglen > 0) {
		if ((r->sig = malloc(r->siglen)) == NULL)
			return err_nomem();
		if (src_read(r, r->sig, r->siglen, true) == -1)
			return -1;
	}
	if (digestset_of_manifest(&r->m, &r->cv, &r->ncv) == -1)
		return -1;
	if (src_read(r, b4, 8, true) == -1)
		return -1;
	cnt = be_get64(b4);
	for (i = nf = 0; i < r->ncv; i++)
		nf++;
	if (cnt > nf)
		return err_set("%s: %" PRIu64 " contents for %zu in the "
			       "manifest",
		    r->name, cnt, nf);
	r->count = cnt;
	return 0;
}

static int
reader_new(struct pack_reader **out, const char *name)
{
	struct pack_reader *r;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return err_nomem();
	r->fd = -1;
	r->name = name;
	manifest_init(&r->m);
	*out = r;
	return 0;
}

static int
reader_open_fd(int fd, const char *name, struct store *base_store,
    struct pack_reader **out)
{
	struct pack_reader *r;

	if (reader_new(&r, name) == -1)
		return -1;
	r->fd = fd;
	r->base_store = base_store;
	if ((r->buf = malloc(BLOB_CHUNK)) == NULL) {
		err_nomem();
		pack_reader_close(r);
		return -1;
	}
	if (reader_start(r) == -1) {
		pack_reader_close(r);
		return -1;
	}
	*out = r;
	return 0;
}

int
pack_reader_open_fd(int fd, const char *name, struct pack_reader **out)
{
	return reader_open_fd(fd, name, NULL, out);
}

int
pack_reader_open_mem(const void *buf, size_t len, const char *name,
    struct pack_reader **out)
{
	struct pack_reader *r;

	if (reader_new(&r, name) == -1)
		return -1;
	r->mem = buf != NULL ? buf : (const unsigned char *)"";
	r->memlen = len;
	if (reader_start(r) == -1) {
		pack_reader_close(r);
		return -1;
	}
	*out = r;
	return 0;
}

const struct pack_info *
pack_reader_info(const struct pack_reader *r)
{
	return &r->info;
}

const struct manifest *
pack_reader_manifest(const struct pack_reader *r)
{
	return &r->m;
}

const char *
pack_reader_manifest_bytes(const struct pack_reader *r, size_t *len)
{
	*len = r->mlen;
	return r->mbytes;
}

const unsigned char *
pack_reader_signature(const struct pack_reader *r, size_t *len)
{
	*len = r->siglen;
	return r->sig;
}

static void
cur_end(struct pack_reader *r)
{
	if (r->inflating)
		blob_inflate_end(&r->inf);
	r->inflating = false;
	digest_free(&r->cdg);
	r->cur = false;
}

ssize_t
pack_reader_read_raw(struct pack_reader *r, void *buf, size_t n)
{
	ssize_t got;

	if (!r->cur)
		return err_set("%s: no current content", r->name);
	if (r->c.recipe)
		return err_set("%s: a recipe is rebuilt, not read", r->name);
	r->raw_used = true;
	if (r->left == 0)
		return 0;
	if (n > r->left)
		n = (size_t)r->left;
	if ((got = src_some(r, buf, n)) == -1)
		return -1;
	if (got == 0)
		return err_set("%s: truncated", r->name);
	if (digest_update(&r->dg, buf, (size_t)got) == -1)
		return -1;
	r->left -= (uint64_t)got;
	return got;
}

static ssize_t
raw_cb(void *arg, void *buf, size_t n)
{
	return pack_reader_read_raw(arg, buf, n);
}

ssize_t
pack_reader_read(struct pack_reader *r, void *buf, size_t n)
{
	unsigned char got[DIGEST_LEN];
	char hex[DIGEST_HEXLEN + 1];
	ssize_t k;

	if (!r->cur)
		return err_set("%s: no current content", r->name);
	if (r->c.recipe)
		return err_set("%s: a recipe is rebuilt, not read", r->name);
	if (r->cdone)
		return 0;
	if (r->c.zlib) {
		if (!r->inflating) {
			if (blob_inflate_init(&r->inf, raw_cb, r, r->name) ==
			    -1)
				return -1;
			r->inflating = true;
		}
		k = blob_inflate_read(&r->inf, buf, n);
	} else {
		k = pack_reader_read_raw(r, buf, n);
	}
	if (k == -1)
		return -1;
	if (k > 0) {
		r->cgot += (uint64_t)k;
		if (r->cgot > r->c.size)
			return err_set("%s: content longer than stated",
			    r->name);
		if (digest_update(&r->cdg, buf, (size_t)k) == -1)
			return -1;
		return k;
	}
	r->cdone = true;
	digest_hex(r->c.digest, hex);
	if (r->cgot != r->c.size)
		return err_set("%s: content %s: %" PRIu64 " bytes, %" PRIu64
			       " stated",
		    r->name, hex, r->cgot, r->c.size);
	if (digest_final(&r->cdg, got) == -1)
		return -1;
	if (memcmp(got, r->c.digest, DIGEST_LEN) != 0)
		return err_set("%s: content %s: digest mismatch", r->name, hex);
	return 0;
}

/* The next block of the current recipe: 1 with *len bytes at r->blk,
 * 0 at the end of its blocks. */
static int
recipe_block(struct pack_reader *r, size_t *len)
{
	unsigned char b4[4];
	uint32_t n;

	*len = 0;
	if (src_read(r, b4, 4, true) == -1)
		return -1;
	if ((n = be_get32(b4)) == 0)
		return 0;
	if (n > PACK_RECIPE_BLOCK_MAX)
		return err_set("%s: content %" PRIu64 ": recipe block too "
			       "long",
		    r->name, r->index);
	if (r->mem != NULL && n > r->memlen - r->memoff)
		return err_set("%s: truncated", r->name);
	if (r->blk == NULL && (r->blk = malloc(PACK_RECIPE_BLOCK_MAX)) == NULL)
		return err_nomem();
	if (src_read(r, r->blk, n, true) == -1)
		return -1;
	*len = n;
	return 1;
}

/* recipe_apply()'s source: the record's blocks; its end before the
 * content is made is an error. */
static int
recipe_next(void *arg, const unsigned char **p, size_t *len)
{
	struct pack_reader *r = arg;
	int k;

	if ((k = recipe_block(r, len)) == -1)
		return -1;
	if (k == 0)
		return err_set("%s: content %" PRIu64 ": the recipe ends "
			       "before its size",
		    r->name, r->index);
	*p = r->blk;
	return 0;
}

int
pack_reader_rebuild(struct pack_reader *r, int oldfd, int outfd,
    const char *what, bool *drift)
{
	size_t len;
	int rc;

	*drift = false;
	if (!r->cur || !r->c.recipe)
		return err_set("%s: no current recipe", r->name);
	if (r->cdone || r->broken)
		return err_set("%s: the recipe was read already", r->name);
	if (r->scratch == NULL &&
	    (r->scratch = malloc(RECIPE_INSERT_MAX)) == NULL)
		return err_nomem();
	r->broken = true;
	rc = recipe_apply(oldfd, r->c.base_size, outfd, what, r->c.digest,
	    r->c.size, recipe_next, r, r->scratch, RECIPE_INSERT_MAX, drift);
	if (rc == -1 && !*drift)
		return -1;
	/* Every operation was read: the blocks must end here. */
	if (recipe_block(r, &len) != 0) {
		*drift = false;
		if (len > 0)
			err_set("%s: content %" PRIu64 ": the recipe is longer "
				"than its size",
			    r->name, r->index);
		return -1;
	}
	r->broken = false;
	r->cdone = true;
	return rc;
}

static int
reader_trailer(struct pack_reader *r)
{
	unsigned char t[8 + DIGEST_LEN], want[DIGEST_LEN], extra;
	ssize_t got;

	if (src_read(r, t, sizeof(t), false) == -1)
		return -1;
	if (memcmp(t, PACK_END_MAGIC, 8) != 0)
		return err_set("%s: bad trailer", r->name);
	if (digest_final(&r->dg, want) == -1)
		return -1;
	if (memcmp(want, t + 8, DIGEST_LEN) != 0)
		return err_set("%s: checksum mismatch (file corrupted)",
		    r->name);
	if ((got = src_some(r, &extra, 1)) == -1)
		return -1;
	if (got != 0)
		return err_set("%s: data after the end", r->name);
	r->ended = true;
	return 0;
}

int
pack_reader_next(struct pack_reader *r, struct pack_content *c)
{
	unsigned char h[81], scratch[65536];
	const struct digestset_item *mc;
	size_t blen;
	ssize_t k;

	if (r->ended)
		return 0;
	if (r->broken)
		return err_set("%s: cannot go on after a broken recipe",
		    r->name);
	if (r->cur && r->c.recipe) {
		/* Not rebuilt: its blocks are skipped (the trailer's
		 * checksum still covers them). */
		while (!r->cdone && (k = recipe_block(r, &blen)) != 0)
			if (k == -1)
				return -1;
		cur_end(r);
	}
	if (r->cur) {
		/* Finish the current content, checking it if it was read
		 * decompressed (or not at all). */
		if (!r->raw_used) {
			while ((k = pack_reader_read(r, scratch,
				    sizeof(scratch))) > 0)
				;
			if (k == -1)
				return -1;
		}
		while (r->left > 0)
			if (pack_reader_read_raw(r, scratch, sizeof(scratch)) ==
			    -1)
				return -1;
		cur_end(r);
	}
	if (r->index == r->count) {
		if (reader_trailer(r) == -1)
			return -1;
		return 0;
	}
	if (src_read(r, h, 41, true) == -1)
		return -1;
	memset(&r->c, 0, sizeof(r->c));
	memcpy(r->c.digest, h, DIGEST_LEN);
	r->c.size = be_get64(h + 32);
	if (h[40] > 2 || (h[40] == 2 && r->info.format < PACK_FORMAT))
		return err_set("%s: content %" PRIu64 ": unknown method",
		    r->name, r->index + 1);
	r->c.zlib = h[40] == 1;
	r->c.recipe = h[40] == 2;
	if (src_read(r, h + 41, r->c.recipe ? 40 : 8, true) == -1)
		return -1;
	if (r->c.recipe) {
		memcpy(r->c.base_digest, h + 41, DIGEST_LEN);
		r->c.base_size = be_get64(h + 73);
		if (r->info.base == 0)
			return err_set("%s: content %" PRIu64 ": a recipe in "
				       "a full package",
			    r->name, r->index + 1);
		if (memcmp(r->c.base_digest, r->c.digest, DIGEST_LEN) == 0 ||
		    r->c.base_size > STORE_CONTENT_MAX)
			return err_set("%s: content %" PRIu64 ": a recipe "
				       "from itself or from too large a "
				       "content",
			    r->name, r->index + 1);
	} else {
		r->c.stored_size = be_get64(h + 41);
	}
	if (r->index > 0 && memcmp(r->last, r->c.digest, DIGEST_LEN) >= 0)
		return err_set("%s: contents out of order", r->name);
	memcpy(r->last, r->c.digest, DIGEST_LEN);
	if ((mc = digestset_find(r->cv, r->ncv, sizeof(*r->cv), r->c.digest)) ==
	    NULL)
		return err_set("%s: content %" PRIu64 " not in the manifest",
		    r->name, r->index + 1);
	if (mc->size != r->c.size)
		return err_set("%s: content %" PRIu64 ": size differs from "
			       "the manifest",
		    r->name, r->index + 1);
	if (!r->c.zlib && !r->c.recipe && r->c.stored_size != r->c.size)
		return err_set("%s: content %" PRIu64 ": inconsistent "
			       "lengths",
		    r->name, r->index + 1);
	if (r->c.zlib &&
	    (r->c.size / ZLIB_MAX_RATIO > r->c.stored_size ||
		r->c.stored_size > r->c.size + r->c.size / 100 + 1024))
		return err_set("%s: content %" PRIu64 ": inconsistent "
			       "lengths",
		    r->name, r->index + 1);
	if (r->mem != NULL && r->c.stored_size > r->memlen - r->memoff)
		return err_set("%s: truncated", r->name);
	if (digest_init(&r->cdg) == -1)
		return -1;
	r->cur = true;
	r->left = r->c.stored_size;
	r->raw_used = false;
	r->cgot = 0;
	r->cdone = false;
	r->index++;
	*c = r->c;
	return 1;
}

void
pack_reader_close(struct pack_reader *r)
{
	if (r == NULL)
		return;
	cur_end(r);
	digest_free(&r->dg);
	manifest_free(&r->m);
	free(r->blk);
	free(r->scratch);
	free(r->mbytes);
	free(r->sig);
	free(r->cv);
	free(r->buf);
	free(r);
}

/* ---- import ---- */

static ssize_t
import_cb(void *arg, void *buf, size_t n)
{
	return pack_reader_read_raw(arg, buf, n);
}

/* What the import of recipes needs: the base version's contents. */
struct base_of {
	struct store *s;
	const char *pkg, *name;
	uint64_t version;
	bool loaded;
	struct manifest m;
	struct digestset_item *v;
	size_t n;
};

struct rebuild {
	struct pack_reader *r;
	int oldfd;
	bool drift;
};

static int
rebuild_cb(void *arg, int fd, const char *what)
{
	struct rebuild *b = arg;

	return pack_reader_rebuild(b->r, b->oldfd, fd, what, &b->drift);
}

/*
 * Stage the recipe c from this store's copy of its base content.  *res
 * says whose fault a failure is: the file's (a recipe from a content the
 * base version lacks, or one that does not rebuild it) or the store's
 * (its copy of the base content missing or damaged: fsck names it).
 */
static int
import_recipe(struct base_of *bo, struct store_txn *t, struct pack_reader *r,
    const struct pack_content *c, enum pack_import_result *res,
    uint64_t *stored)
{
	const struct digestset_item *bc;
	struct rebuild b = { r, -1, false };
	char hex[DIGEST_HEXLEN + 1], bhex[DIGEST_HEXLEN + 1];
	void *buf = NULL;
	bool made;
	int k;

	*stored = 0;
	digest_hex(c->digest, hex);
	digest_hex(c->base_digest, bhex);
	if (!bo->loaded) {
		manifest_init(&bo->m);
		bo->loaded = true;
		if (store_load_manifest(bo->s, bo->pkg, bo->version, &bo->m) ==
			-1 ||
		    digestset_of_manifest(&bo->m, &bo->v, &bo->n) == -1) {
			*res = PACK_FAILED;
			return -1;
		}
	}
	bc = digestset_find(bo->v, bo->n, sizeof(*bo->v), c->base_digest);
	if (bc == NULL || bc->size != c->base_size) {
		*res = PACK_REFUSED;
		return err_set("%s: content %s: its recipe starts from content "
			       "%s, which %s version %" PRIu64 " lacks",
		    bo->name, hex, bhex, bo->pkg, bo->version);
	}
	if (store_content_pread_fd(bo->s, c->base_digest, c->base_size,
		&b.oldfd) == -1)
		goto store_fault;
	k = store_txn_put_made(t, c->digest, c->size, rebuild_cb, &b, &made,
	    stored);
	close(b.oldfd);
	if (k == 0)
		return 0;
	if (!b.drift) {
		err_prefix("%s: ", bo->name);
		return -1;
	}
	/* Not the content: this store's copy of the base, or the file? */
	if ((buf = malloc(BLOB_CHUNK)) == NULL) {
		*res = PACK_FAILED;
		return err_nomem();
	}
	k = store_content_check(bo->s, c->base_digest, c->base_size, buf,
	    BLOB_CHUNK, NULL);
	free(buf);
	if (k == -1)
		goto store_fault;
	*res = PACK_REFUSED;
	return err_set("%s: content %s: its recipe does not rebuild it from "
		       "%s version %" PRIu64 " (the package file is damaged)",
	    bo->name, hex, bo->pkg, bo->version);
store_fault:
	*res = PACK_FAILED;
	store_err_content(bo->pkg, bo->version, &bo->m, c->base_digest);
	return err_prefix("%s: content %s is rebuilt from this store's copy "
			  "of ",
	    bo->name, hex);
}

/* Read every content of r into t (present: the version is already in
 * the store, so each is only read and checked).  -1 with *res as
 * pack_import() says. */
static int
import_contents(struct base_of *bo, struct store_txn *t, struct pack_reader *r,
    bool present, struct progress *progress, enum pack_import_result *res)
{
	struct pack_content c;
	unsigned char buf[65536];
	uint64_t stored;
	ssize_t n;
	int k;

	while ((k = pack_reader_next(r, &c)) == 1) {
		if (c.recipe && present)
			continue; /* its blocks are skipped, and checked by
				   * the trailer */
		if (c.recipe) {
			if (import_recipe(bo, t, r, &c, res, &stored) == -1)
				return -1;
			*res = PACK_REFUSED;
			progress_add(progress, 1, stored);
			continue;
		}
		if (present) {
			/* Check every byte all the same. */
			while ((n = pack_reader_read(r, buf, sizeof(buf))) > 0)
				;
			if (n == -1)
				return -1;
			continue;
		}
		if (store_txn_put_stream(t, c.digest, c.size, c.zlib, import_cb,
			r, &stored) == -1)
			return err_prefix("%s: ", bo->name);
		progress_add(progress, 1, c.stored_size);
	}
	return k;
}

/* May this store take the version the file carries: signed by the key
 * asked for, trusted (trust.h), a version a file may carry.  -1 with
 * *res: PACK_REFUSED for the file, PACK_FAILED for the system. */
static int
import_admit(struct store *s, const char *name, const struct pack_info *in,
    const struct pack_import_opts *opts, const char *mb, size_t mlen,
    const unsigned char *sig, size_t siglen, enum pack_import_result *res)
{
	bool refused;

	*res = PACK_REFUSED;
	if (opts->trust != NULL) {
		if (sig == NULL)
			return err_set("%s: %s version %" PRIu64
				       " is not signed",
			    name, in->package, in->version);
		if (sign_verify(opts->trust, mb, mlen, sig, siglen) == -1)
			return err_prefix("%s: %s version %" PRIu64 ": ", name,
			    in->package, in->version);
	}
	if (trust_check(s, name, in->package, in->version, mb, mlen, sig,
		siglen, &refused) == -1) {
		if (!refused)
			*res = PACK_FAILED;
		return -1;
	}
	if (in->version > STORE_VERSION_GIVEN_MAX)
		return err_set("%s: %s version %" PRIu64 " is above %" PRIu64
			       ", the largest version a package file may "
			       "carry",
		    name, in->package, in->version, STORE_VERSION_GIVEN_MAX);
	return 0;
}

int
pack_import(struct store *s, int fd, const char *name,
    const struct pack_import_opts *opts, enum pack_import_result *res,
    char pkg_out[NAME_MAX_LEN + 1], uint64_t *version_out)
{
	struct pack_reader *r = NULL;
	struct store_txn *t = NULL;
	const struct pack_info *in;
	struct manifest m;
	const unsigned char *sig;
	const char *mb;
	char *old = NULL;
	size_t siglen, mlen, oldlen;
	int have, k, rc = -1;
	bool present = false;
	struct base_of bo;

	manifest_init(&m);
	memset(&bo, 0, sizeof(bo));
	bo.s = s;
	bo.name = name;
	/* A broken rule of the format is the file's fault; a failed read
	 * (EIO) is the system's. */
	if (reader_open_fd(fd, name, opts->manifest_changes ? s : NULL, &r) ==
	    -1) {
		*res = err_errno() != 0 ? PACK_FAILED : PACK_REFUSED;
		return -1;
	}
	*res = PACK_REFUSED;
	in = pack_reader_info(r);
	if (pkg_out != NULL)
		memcpy(pkg_out, in->package, strlen(in->package) + 1);
	if (version_out != NULL)
		*version_out = in->version;
	mb = pack_reader_manifest_bytes(r, &mlen);
	sig = pack_reader_signature(r, &siglen);
	if (import_admit(s, name, in, opts, mb, mlen, sig, siglen, res) == -1)
		goto out;
	*res = PACK_FAILED;
	if (store_txn_begin(s, in->package, opts->wait, &t) == -1)
		goto out;
	if ((have = store_has_version(s, in->package, in->version)) == -1)
		goto out;
	if (have) {
		if (store_manifest_bytes(s, in->package, in->version, &old,
			&oldlen) == -1)
			goto out;
		if (oldlen != mlen || memcmp(old, mb, mlen) != 0) {
			*res = PACK_REFUSED;
			err_set("%s: %s version %" PRIu64 " is already in the "
				"store with another content",
			    name, in->package, in->version);
			goto out;
		}
		present = true;
	}
	if (in->base != 0 && !present) {
		if ((k = store_has_version(s, in->package, in->base)) == -1)
			goto out;
		if (k == 0) {
			*res = PACK_NEEDS_BASE;
			err_set("%s: a delta against %s version %" PRIu64
				", which this store lacks",
			    name, in->package, in->base);
			goto out;
		}
	}
	/* From here a failure with errno set (ENOSPC, EIO) is the
	 * system's (see out:); one without, a content not as the file
	 * says. */
	*res = PACK_REFUSED;
	bo.pkg = in->package;
	bo.version = in->base;
	if (import_contents(&bo, t, r, present, opts->progress, res) == -1)
		goto out;
	if (present) {
		*res = PACK_ALREADY_PRESENT;
		rc = 0;
		goto out;
	}
	/* A copy of the manifest to commit (the reader owns its own). */
	if (manifest_load_buf(mb, mlen, name, &m) == -1)
		goto out;
	/* The store keeps the bytes it writes: they must be these (what a
	 * signature covers), so only the canonical spelling is taken. */
	if (store_manifest_render(&m, in->package, in->version, &old,
		&oldlen) == -1)
		goto out;
	if (oldlen != mlen || memcmp(old, mb, mlen) != 0) {
		err_set("%s: manifest not in canonical form", name);
		goto out;
	}
	*res = in->version < store_txn_newest(t) ? PACK_IMPORTED_OLDER :
						   PACK_IMPORTED;
	rc = store_txn_commit(t, &m, in->version, sig, siglen);
	t = NULL;
	if (rc == -1) {
		*res = PACK_FAILED;
		err_prefix("%s: ", name);
	}
out:
	if (rc == -1 && *res != PACK_NEEDS_BASE && *res != PACK_FAILED &&
	    err_errno() != 0)
		*res = PACK_FAILED;
	if (rc == -1 && t != NULL && opts->keep_contents) {
		struct err_saved why = ERR_SAVED_INIT;

		err_save(&why);
		(void)store_txn_keep_contents(t);
		(void)err_restore(&why);
	}
	store_txn_abort(t);
	free(old);
	manifest_free(&m);
	if (bo.loaded)
		manifest_free(&bo.m);
	free(bo.v);
	pack_reader_close(r);
	return rc;
}
