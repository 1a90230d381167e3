/*
 * serve.c — the server half of the remote DP protocol, what
 * "pkgpush --serve PATH" runs (serve.h; the protocol is proto.h, the
 * client remote.h).
 *
 * One session: hello, then one request.
 *
 * PUSH: the manifest is read whole (bounded by PROTO_MANIFEST_MAX and
 * checked by the one manifest parser; its header must name the package
 * and version asked for) or, on a refresh, a change list from the
 * version the DP holds (applied to the DP's own manifest once the DP is
 * locked, the result checked against the SHA-256 the client announced;
 * a DP that does not hold that version asks for the whole manifest),
 * the DP at PATH is opened and locked, and dp_push() runs exactly as for
 * a local DP.  After the RESULT, tidy_after() removes old trees and
 * prepares the next push's spare tree in a detached child that keeps
 * the DP's lock.  The content source:
 *
 *   prepare()  asks the client (NEED) for every content the push needs
 *              that is not in DP/.pkgdist/.incoming/ already (saved by
 *              an earlier session that broke), each once, in the order
 *              of first use; the client streams them in that order.
 *   write()    takes the next content off the connection straight into
 *              the DP's new file (inflated if sent as zlib), checking
 *              size and SHA-256 as it writes: the transfer overlaps the
 *              work on the tree, and nothing is written twice.  A content
 *              needed by several files is also copied into .incoming
 *              the first time, and later ones copy from there (checked
 *              again).
 *
 * If the push fails (a broken connection included: end of input is a
 * read error), the contents received so far are saved into .incoming
 * from descriptors kept open (through /proc/self/fd: they outlive the
 * removal of the unfinished tree; at most KEPT_MAX), so the retry does
 * not ask for them again; entries older than INCOMING_MAX_AGE go at the
 * next session.  On success .incoming is emptied of this push's
 * contents.  A failure leaves the DP as dp_push() leaves a local one: at
 * its old version, whole.  The outcome is sent as RESULT.  A remote
 * killed outright (SIGKILL, power cut) saves nothing: its retry sends
 * everything again.
 *
 * STATUS: what the DP holds of one or every package, as STATE frames.
 *
 * _GNU_SOURCE: F_SETPIPE_SZ (a larger pipe from sshd keeps the transfer
 * flowing while the tree is worked on).
 */
#define _GNU_SOURCE
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bigendian.h"
#include "blob.h"
#include "changes.h"
#include "checked.h"
#include "digest.h"
#include "digestset.h"
#include "dp.h"
#include "dppush.h"
#include "err.h"
#include "fault.h"
#include "io.h"
#include "manifest.h"
#include "proto.h"
#include "recipe.h"
#include "serve.h"

#define INCOMING ".incoming"
#define INCOMING_TMP "tmp."
#define INCOMING_MAX_AGE (7 * 86400)
#define COPYBUF ((size_t)1 << 20)
#define DIRFLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* One content the push needs. */
struct want {
	struct digestset_item c; /* first: a digestset element */
	uint32_t uses;		 /* files that need it */
	bool cached;		 /* a verified copy is in .incoming */
	bool done;		 /* received in this session */
	bool refetch;		 /* its recipe failed: asked for again whole */
};

/* A content written straight into the new tree, kept open so that it
 * can be saved to .incoming if the push fails (salvage()). */
struct kept {
	size_t wi;
	int fd;
};

#define KEPT_MAX 512

struct serve {
	struct proto *p;
	struct dp_handle *h;
	int incfd;	/* DP/.pkgdist/.incoming, or -1 */
	struct want *w; /* sorted by digest */
	size_t nw;
	size_t *order; /* the NEED list: indices into w */
	size_t norder, next;
	struct kept kept[KEPT_MAX];
	size_t nkept;
	uint64_t received;  /* stored bytes read */
	unsigned char *buf; /* COPYBUF */
	const char *pkg;
	int oldroot; /* the tree the DP holds (recipes), -1
		      * before it is opened, -2 none */
};

/* ---- DP/.pkgdist/.incoming ---- */

/* In .incoming, what goes when a session opens it: temporaries, and
 * entries that are no regular file or older than INCOMING_MAX_AGE. */
struct stale {
	int dirfd;
	time_t now;
};

static bool
is_stale(const char *name, void *arg)
{
	const struct stale *s = arg;
	struct stat st;

	if (name[0] == '.')
		return false;
	return strncmp(name, INCOMING_TMP, strlen(INCOMING_TMP)) == 0 ||
	    (fstatat(s->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		(!S_ISREG(st.st_mode) ||
		    s->now - st.st_mtime > INCOMING_MAX_AGE));
}

/* Open (create) the directory; remove temporaries and old entries. */
static int
incoming_open(struct serve *sv)
{
	struct stale stale;
	char **names;
	size_t n, i;

	if (sv->incfd != -1)
		return 0;
	if (sv->h->metafd == -1)
		return err_set("%s: no %s directory", sv->h->where, DP_META);
	if (io_mkdir(sv->h->metafd, INCOMING, 0700) == -1 &&
	    err_errno() != EEXIST)
		return err_prefix("%s/%s: ", sv->h->where, DP_META);
	if ((sv->incfd = openat(sv->h->metafd, INCOMING, DIRFLAGS)) == -1)
		return err_sys("%s/%s/%s", sv->h->where, DP_META, INCOMING);
	stale.dirfd = sv->incfd;
	stale.now = fault_now();
	if (io_list_names(sv->incfd, is_stale, &stale, &names, &n) == -1)
		return err_prefix("%s/%s/%s: ", sv->h->where, DP_META,
		    INCOMING);
	for (i = 0; i < n; i++)
		(void)io_remove_tree(sv->incfd, names[i]);
	io_names_free(names, n);
	return 0;
}

/* 1 if the content is there already with the right size. */
static int
incoming_has(struct serve *sv, const unsigned char d[DIGEST_LEN], uint64_t size)
{
	char hex[DIGEST_HEXLEN + 1];
	struct stat st;

	digest_hex(d, hex);
	if (fstatat(sv->incfd, hex, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return 0;
	return S_ISREG(st.st_mode) && (uint64_t)st.st_size == size;
}

/* DATA frames of one content, as a read callback. */
struct datarx {
	struct serve *sv;
	uint64_t left;		  /* stored bytes still to come */
	const unsigned char *cur; /* unread part of the last frame */
	size_t curlen;
};

static ssize_t
datarx_read(void *arg, void *buf, size_t n)
{
	struct datarx *x = arg;
	size_t len, k;

	if (x->curlen == 0) {
		if (x->left == 0)
			return 0;
		if (proto_expect(x->sv->p, PROTO_DATA, &x->cur, &len) == -1)
			return -1;
		if (len == 0 || len > x->left) {
			err_set("protocol error: DATA beyond the content's "
				"stored size");
			return -1;
		}
		x->left -= len;
		x->curlen = len;
		x->sv->received += len;
	}
	k = n < x->curlen ? n : x->curlen;
	memcpy(buf, x->cur, k);
	x->cur += k;
	x->curlen -= k;
	return (ssize_t)k;
}

/* The bytes of one content as they come off the connection: DATA
 * frames, inflated when sent as zlib (a checked_source). */
struct rx {
	struct serve *sv;
	struct datarx x;
	struct blob_inflate inf;
	bool zlib;
	const char *hex;
};

static ssize_t
rx_next(void *ctx, const unsigned char **p)
{
	struct rx *r = ctx;
	ssize_t k;

	if (r->zlib)
		k = blob_inflate_read(&r->inf, r->sv->buf, COPYBUF);
	else
		k = datarx_read(&r->x, r->sv->buf, COPYBUF);
	if (k == 0 && (r->x.left != 0 || r->x.curlen != 0))
		return err_set("content %s: stored bytes left after its end",
		    r->hex);
	*p = r->sv->buf;
	return k;
}

/* The tree the DP holds the package in, for recipes' old copies (-1
 * when there is none: a recipe then fails its check and the content is
 * asked for whole). */
static int
old_root(struct serve *sv)
{
	struct dp_state st;
	int pfd;

	if (sv->oldroot != -1)
		return sv->oldroot < 0 ? -1 : sv->oldroot;
	sv->oldroot = -2;
	dp_state_init(&st);
	if (dp_state_read(sv->h, sv->pkg, &st, NULL) == 0 &&
	    st.status != DP_ST_NONE) {
		if (st.layout == DP_LAYOUT_ATOMIC && sv->h->metafd != -1) {
			if ((pfd = openat(sv->h->metafd, sv->pkg, DIRFLAGS)) !=
			    -1) {
				sv->oldroot = openat(pfd, st.tree, DIRFLAGS);
				close(pfd);
			}
		} else if (st.layout == DP_LAYOUT_INPLACE) {
			sv->oldroot = openat(sv->h->rootfd, sv->pkg, DIRFLAGS);
		}
		if (sv->oldroot == -1)
			sv->oldroot = -2;
	}
	dp_state_free(&st);
	return sv->oldroot < 0 ? -1 : sv->oldroot;
}

static int
recipe_next(void *arg, const unsigned char **payload, size_t *len)
{
	struct serve *sv = arg;

	if (proto_expect(sv->p, PROTO_DATA, payload, len) == -1)
		return -1;
	sv->received += *len;
	return 0;
}

/*
 * The cache copy of w's content, tmp in the incoming cache, is complete:
 * name it by its digest hex, so that a retry of a cut session need not
 * fetch it again.  *tfd is closed (and -1) whatever happens.
 */
static int
cache_keep(struct serve *sv, struct want *w, int *tfd, const char *tmp,
    const char *hex)
{
	int fd = *tfd;

	*tfd = -1;
	if (close(fd) == -1)
		return err_sys("%s", tmp);
	if (io_rename(sv->incfd, tmp, sv->incfd, hex) == -1)
		return -1;
	w->cached = true;
	return 0;
}

static int receive(struct serve *, struct want *, int, const char *, bool);
static int copy_checked(struct serve *, int, int, const unsigned char *,
    uint64_t, const char *, bool *);

/*
 * A RECIPE (pl, len) for w: rebuild it from the DP's old copy into fd
 * (-1: none) and, with tee, into .incoming, checking size and SHA-256.
 * 1 when the old copy was not the one the client thinks (drifted): the
 * output is emptied and w marked to be asked for again whole.
 */
static int
receive_recipe(struct serve *sv, struct want *w, const unsigned char *pl,
    size_t len, int fd, const char *what, bool tee)
{
	struct proto_recipe pr;
	char hex[DIGEST_HEXLEN + 1], tmp[DIGEST_HEXLEN + 16];
	int root, oldfd = -1, out = fd, tfd = -1, rc = -1;
	unsigned char *rbuf = NULL;
	bool drift = false, bad;

	digest_hex(w->c.d, hex);
	if (proto_dec_recipe(pl, len, &pr) == -1)
		return -1;
	if (memcmp(pr.digest, w->c.d, DIGEST_LEN) != 0 || pr.size != w->c.size)
		return err_set("protocol error: the client sent another "
			       "content than the one asked for");
	snprintf(tmp, sizeof(tmp), "%s%s", INCOMING_TMP, hex);
	if (tee || fd == -1) {
		(void)unlinkat(sv->incfd, tmp, 0);
		if ((tfd = openat(sv->incfd, tmp,
			 O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			 0600)) == -1)
			return err_sys("%s/%s/%s/%s", sv->h->where, DP_META,
			    INCOMING, tmp);
		out = tfd;
	}
	if ((rbuf = malloc(RECIPE_INSERT_MAX)) == NULL) {
		err_nomem();
		goto out;
	}
	if ((root = old_root(sv)) != -1)
		oldfd = io_open_below(root, pr.old_path, O_RDONLY | O_NONBLOCK);
	if (recipe_apply(oldfd, pr.old_size, out, tfd != -1 ? tmp : what,
		w->c.d, w->c.size, recipe_next, sv, rbuf, RECIPE_INSERT_MAX,
		&drift) == -1) {
		if (!drift)
			goto out;
		/* Asked for again whole (src_write): start it afresh. */
		w->refetch = true;
		if (out != -1 &&
		    (ftruncate(out, 0) == -1 ||
			lseek(out, 0, SEEK_SET) == -1)) {
			err_sys("%s", what != NULL ? what : tmp);
			goto out;
		}
		rc = 1;
		goto out;
	}
	if (tfd != -1) {
		if (fd != -1 &&
		    (lseek(tfd, 0, SEEK_SET) == -1 ||
			copy_checked(sv, tfd, fd, w->c.d, w->c.size, what,
			    &bad) == -1))
			goto out;
		if (cache_keep(sv, w, &tfd, tmp, hex) == -1)
			goto out;
	}
	w->done = true;
	rc = 0;
out:
	if (oldfd != -1)
		close(oldfd);
	if (tfd != -1) {
		close(tfd);
		(void)unlinkat(sv->incfd, tmp, 0);
	}
	free(rbuf);
	return rc;
}

/*
 * A recipe of w failed its check (its old copy drifted): read the rest
 * of this round into .incoming, then ask for w and every other content
 * whose recipe failed, whole (one more NEED round), and take w into fd.
 */
static int
refetch(struct serve *sv, struct want *w, int fd, const char *what)
{
	struct proto_wbuf wb;
	size_t i, n = 0;

	for (; sv->next < sv->norder; sv->next++)
		if (receive(sv, &sv->w[sv->order[sv->next]], -1, NULL, true) ==
		    -1)
			return -1;
	for (i = 0; i < sv->nw; i++)
		n += sv->w[i].refetch && !sv->w[i].cached && !sv->w[i].done;
	if (n == 0 || n > PROTO_NEED_PER_FRAME)
		return err_set("%zu old copies drifted", n);
	/* In the order of sv->w, both ways. */
	proto_wbuf_init(&wb, sv->buf, COPYBUF);
	proto_put_u32(&wb, (uint32_t)n);
	for (i = 0; i < sv->nw; i++) {
		const struct want *x = &sv->w[i];

		if (x->refetch && !x->cached && !x->done) {
			proto_put_bytes(&wb, x->c.d, DIGEST_LEN);
			proto_put_u64(&wb, x->c.size);
		}
	}
	if (proto_send(sv->p, PROTO_NEED, wb.p, wb.len) == -1)
		return -1;
	proto_wbuf_init(&wb, sv->buf, COPYBUF);
	proto_put_u64(&wb, n);
	if (proto_send(sv->p, PROTO_NEED_END, wb.p, wb.len) == -1)
		return -1;
	for (i = 0; i < sv->nw; i++) {
		struct want *x = &sv->w[i];

		if (!x->refetch || x->cached || x->done)
			continue;
		if (receive(sv, x, x == w ? fd : -1, x == w ? what : NULL,
			x != w || w->uses > 1) == -1)
			return -1;
	}
	return w->done ? 0 : err_set("content: not received again");
}

/*
 * Receive the next content from the connection (its CONTENT frame is
 * read here) into fd (-1: none), and into a copy in .incoming when tee
 * is set, checking size and SHA-256 as it is written.
 */
static int
receive(struct serve *sv, struct want *w, int fd, const char *what, bool tee)
{
	struct proto_content ch;
	struct checked_out out[2];
	struct checked_source src;
	struct rx rx;
	const unsigned char *pl;
	char hex[DIGEST_HEXLEN + 1], tmp[DIGEST_HEXLEN + 16];
	size_t len;
	uint32_t type;
	int tfd = -1, rc = -1;
	bool inf_ok = false;

	digest_hex(w->c.d, hex);
	if (proto_recv(sv->p, &type, &pl, &len) == -1)
		return -1;
	if (type == PROTO_RECIPE && sv->p->version >= 3 && !w->refetch)
		return receive_recipe(sv, w, pl, len, fd, what, tee);
	if (type != PROTO_CONTENT)
		return err_set("protocol error: expected CONTENT from client, "
			       "got %s",
		    proto_type_name(type));
	if (proto_dec_content(pl, len, &ch) == -1)
		return -1;
	if (memcmp(ch.digest, w->c.d, DIGEST_LEN) != 0 || ch.size != w->c.size)
		return err_set("protocol error: the client sent another "
			       "content than the one asked for");
	snprintf(tmp, sizeof(tmp), "%s%s", INCOMING_TMP, hex);
	if (tee) {
		(void)unlinkat(sv->incfd, tmp, 0);
		if ((tfd = openat(sv->incfd, tmp,
			 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			 0600)) == -1) {
			err_sys("%s/%s/%s/%s", sv->h->where, DP_META, INCOMING,
			    tmp);
			goto out;
		}
	}
	memset(&rx, 0, sizeof(rx));
	rx.sv = sv;
	rx.x.sv = sv;
	rx.x.left = ch.stored;
	rx.zlib = ch.zlib;
	rx.hex = hex;
	if (ch.zlib) {
		if (blob_inflate_init(&rx.inf, datarx_read, &rx.x, hex) == -1)
			goto out;
		inf_ok = true;
	}
	src.next = rx_next;
	src.ctx = &rx;
	out[0].fd = fd;
	out[0].what = what;
	out[1].fd = tfd;
	out[1].what = tmp;
	if (checked_copy(&src, ch.digest, ch.size, out, 2,
		" (damaged in transit)", NULL) == -1)
		goto out;
	if (tfd != -1 && cache_keep(sv, w, &tfd, tmp, hex) == -1)
		goto out;
	w->done = true;
	rc = 0;
out:
	if (inf_ok)
		blob_inflate_end(&rx.inf);
	if (tfd != -1) {
		close(tfd);
		(void)unlinkat(sv->incfd, tmp, 0);
	}
	return rc;
}

/* Copy src (from its offset 0) to dst, checking d and size; *bad set
 * when the bytes are not the content. */
static int
copy_checked(struct serve *sv, int src, int dst, const unsigned char *d,
    uint64_t size, const char *what, bool *bad)
{
	char hex[DIGEST_HEXLEN + 1];
	enum checked_fault fault;
	int rc;

	digest_hex(d, hex);
	rc = checked_copy_fd(src, hex, sv->buf, COPYBUF, d, size, dst, what,
	    &fault);
	*bad = rc == -1 && fault == CHECKED_CONTENT;
	return rc;
}

static struct want *
want_find(struct serve *sv, const unsigned char *d)
{
	return digestset_find(sv->w, sv->nw, sizeof(*sv->w), d);
}

/*
 * The content source's prepare(): the contents the push will write, in
 * order.  Each one not in .incoming already is asked for once (NEED), in
 * the order of its first use; write() then reads them off the connection
 * as dp_push() asks for them, so the transfer overlaps the work on the
 * tree.
 */
static int
src_prepare(void *ctx, const struct dp_need *v, size_t n)
{
	struct serve *sv = ctx;
	struct proto_wbuf wb;
	struct want *w;
	size_t i, inframe;

	if (incoming_open(sv) == -1)
		return -1;
	if (n == 0)
		return 0;
	if ((sv->w = calloc(n, sizeof(*sv->w))) == NULL ||
	    (sv->order = malloc(n * sizeof(*sv->order))) == NULL)
		return err_nomem();
	sv->norder = 0;
	for (i = 0; i < n; i++) {
		memcpy(sv->w[i].c.d, v[i].digest, DIGEST_LEN);
		sv->w[i].c.size = v[i].size;
	}
	if (digestset_sort(sv->w, n, sizeof(*sv->w), true, &sv->nw) == -1)
		return err_prefix("manifest: ");
	for (i = 0; i < n; i++) {
		w = want_find(sv, v[i].digest);
		if (w->uses++ > 0)
			continue;
		if (incoming_has(sv, w->c.d, w->c.size))
			w->cached = true;
		else
			sv->order[sv->norder++] = (size_t)(w - sv->w);
	}
	for (i = 0; i < sv->norder; i += inframe) {
		size_t j;

		inframe = sv->norder - i < PROTO_NEED_PER_FRAME ?
		    sv->norder - i :
		    PROTO_NEED_PER_FRAME;
		proto_wbuf_init(&wb, sv->buf, COPYBUF);
		proto_put_u32(&wb, (uint32_t)inframe);
		for (j = i; j < i + inframe; j++) {
			proto_put_bytes(&wb, sv->w[sv->order[j]].c.d,
			    DIGEST_LEN);
			proto_put_u64(&wb, sv->w[sv->order[j]].c.size);
		}
		if (proto_send(sv->p, PROTO_NEED, wb.p, wb.len) == -1)
			return -1;
	}
	proto_wbuf_init(&wb, sv->buf, COPYBUF);
	proto_put_u64(&wb, sv->norder);
	return proto_send(sv->p, PROTO_NEED_END, wb.p, wb.len);
}

/* The content source's write(): from .incoming, or off the connection. */
static int
src_write(void *ctx, const unsigned char d[DIGEST_LEN], uint64_t size, int fd,
    const char *what)
{
	struct serve *sv = ctx;
	struct want *w = sv->nw ? want_find(sv, d) : NULL;
	char hex[DIGEST_HEXLEN + 1];
	int in, rc;
	bool bad;

	digest_hex(d, hex);
	if (w == NULL || w->c.size != size)
		return err_set("content %s: not announced by prepare()", hex);
	if (w->cached) {
		if ((in = openat(sv->incfd, hex,
			 O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
			return err_sys("content %s", hex);
		rc = copy_checked(sv, in, fd, d, size, what, &bad);
		close(in);
		/* A damaged copy must not be used again. */
		if (rc == -1 && bad)
			(void)io_unlink(sv->incfd, hex, 0);
		return rc;
	}
	/* Its recipe failed while it was being kept for later. */
	if (w->refetch && !w->done)
		return refetch(sv, w, fd, what);
	if (w->done)
		return err_set("content %s: asked for twice", hex);
	/* Contents the layout skipped (it may leave a file alone) are
	 * kept in .incoming for whoever needs them later. */
	while (sv->next < sv->norder && &sv->w[sv->order[sv->next]] != w) {
		if (receive(sv, &sv->w[sv->order[sv->next]], -1, NULL, true) ==
		    -1)
			return -1;
		sv->next++;
	}
	if (sv->next >= sv->norder)
		return err_set("content %s: asked for out of order", hex);
	sv->next++;
	if ((rc = receive(sv, w, fd, what, w->uses > 1)) == -1)
		return -1;
	if (rc == 1 && refetch(sv, w, fd, what) == -1)
		return -1;
	/* Kept open: if the push fails, salvage() saves it for a retry. */
	if (!w->cached && sv->nkept < KEPT_MAX &&
	    (sv->kept[sv->nkept].fd = dup(fd)) != -1)
		sv->kept[sv->nkept++].wi = (size_t)(w - sv->w);
	return 0;
}

/*
 * The push failed: save the contents received in this session into
 * .incoming (from the descriptors kept, which outlive the removal of the
 * unfinished tree), so the retry does not ask for them again.  Best
 * effort: without /proc nothing is saved.
 */
static void
salvage(struct serve *sv)
{
	char hex[DIGEST_HEXLEN + 1], tmp[DIGEST_HEXLEN + 16], proc[64];
	size_t i;
	int in, out;
	bool bad;

	for (i = 0; i < sv->nkept; i++) {
		struct want *w = &sv->w[sv->kept[i].wi];

		if (w->cached || sv->incfd == -1)
			continue;
		digest_hex(w->c.d, hex);
		snprintf(tmp, sizeof(tmp), "%s%s", INCOMING_TMP, hex);
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d",
		    sv->kept[i].fd);
		if ((in = open(proc, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		(void)unlinkat(sv->incfd, tmp, 0);
		out = openat(sv->incfd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out != -1 &&
		    copy_checked(sv, in, out, w->c.d, w->c.size, tmp, &bad) ==
			0 &&
		    close(out) == 0) {
			out = -1;
			if (io_rename(sv->incfd, tmp, sv->incfd, hex) == 0)
				w->cached = true;
		}
		if (out != -1)
			close(out);
		if (!w->cached)
			(void)unlinkat(sv->incfd, tmp, 0);
		close(in);
	}
}

/* After the push: forget the descriptors; on success, the copies in
 * .incoming are in the tree and go. */
static void
incoming_done(struct serve *sv, bool ok)
{
	char hex[DIGEST_HEXLEN + 1];
	size_t i;

	if (!ok)
		salvage(sv);
	for (i = 0; i < sv->nkept; i++)
		close(sv->kept[i].fd);
	sv->nkept = 0;
	if (!ok || sv->incfd == -1)
		return;
	for (i = 0; i < sv->nw; i++)
		if (sv->w[i].cached) {
			digest_hex(sv->w[i].c.d, hex);
			(void)unlinkat(sv->incfd, hex, 0);
		}
}

/* ---- requests ---- */

/* Read mlen bytes sent as zlen bytes of zlib (0: as they are) from DATA
 * frames into a malloc'd buffer (*out NULL when mlen is 0). */
static int
read_payload(struct proto *p, uint64_t mlen, uint64_t zlen, unsigned char **out)
{
	const unsigned char *pl;
	unsigned char *buf = NULL, *nb, *plain = NULL;
	size_t cap = 0, have = 0, len;
	uint64_t want = zlen ? zlen : mlen;
	int rc = -1;

	*out = NULL;
	while (have < want) {
		if (proto_expect(p, PROTO_DATA, &pl, &len) == -1)
			goto out;
		if (len == 0 || len > want - have) {
			err_set("protocol error: manifest longer than "
				"announced");
			goto out;
		}
		/* Grow with what arrives, never by what was announced. */
		if (have + len > cap) {
			size_t nc = cap ? cap * 2 : PROTO_FRAME_MAX;

			while (nc < have + len)
				nc *= 2;
			if (nc > want)
				nc = want;
			if ((nb = realloc(buf, nc)) == NULL) {
				err_nomem();
				goto out;
			}
			buf = nb;
			cap = nc;
		}
		memcpy(buf + have, pl, len);
		have += len;
	}
	if (zlen != 0) {
		/* mlen is at most 1032 times the bytes received (proto.c). */
		if ((plain = malloc(mlen)) == NULL) {
			err_nomem();
			goto out;
		}
		if (blob_uncompress(buf, have, plain, mlen,
			"manifest from client") == -1)
			goto out;
		free(buf);
		buf = plain;
		plain = NULL;
	}
	*out = buf;
	buf = NULL;
	rc = 0;
out:
	free(plain);
	free(buf);
	return rc;
}

/* The manifest of pkg version v, whole, from the client. */
static int
read_manifest(struct proto *p, const char *pkg, uint64_t v, uint64_t mlen,
    uint64_t zlen, struct manifest *m)
{
	unsigned char *buf;
	int rc;

	if (read_payload(p, mlen, zlen, &buf) == -1)
		return -1;
	rc = manifest_load_buf((const char *)buf, mlen, "manifest from client",
	    m);
	free(buf);
	if (rc == -1)
		return -1;
	if (m->package == NULL || strcmp(m->package, pkg) != 0 ||
	    m->version != v) {
		manifest_free(m);
		manifest_init(m);
		return err_set("protocol error: the manifest's header does "
			       "not name %s version %" PRIu64,
		    pkg, v);
	}
	return 0;
}

/*
 * The new manifest from the change list cf (PUSH with a base): the DP
 * (locked) must hold version base whole, else 0 (the client is asked
 * for the whole manifest).  1 with m set when the change list, applied
 * to the manifest the DP holds, gives exactly the manifest whose digest
 * the client announced; -1 (err set) when it does not: it is refused.
 * cf is used up (changes_apply() moves its entries).
 */
static int
manifest_from_changes(struct dp_handle *h, const struct proto_push *req,
    struct change_file *cf, struct manifest *m)
{
	struct dp_state st;
	struct manifest old;
	struct digest dg = { NULL };
	unsigned char d[DIGEST_LEN];
	char *buf = NULL, to[64];
	size_t len = 0, bad = 0;
	int rc = -1;

	dp_state_init(&st);
	manifest_init(&old);
	if (dp_state_read(h, req->package, &st, &old) == -1)
		goto out;
	if (st.status != DP_ST_COMPLETE || st.version != req->base) {
		rc = 0;
		goto out;
	}
	snprintf(to, sizeof(to), "version %" PRIu64 " on the DP", req->base);
	if (changes_apply(&old, cf, m, to, &bad) == -1) {
		err_prefix("the change list from the client, line %zu: ",
		    bad + 1);
		goto out;
	}
	if (manifest_set_header(m, req->package, req->version) == -1)
		goto out;
	if (manifest_write_mem(m, &buf, &len) == -1)
		goto out;
	if (digest_init(&dg) == -1 || digest_update(&dg, buf, len) == -1 ||
	    digest_final(&dg, d) == -1)
		goto out;
	if (memcmp(d, req->digest, DIGEST_LEN) != 0) {
		err_set("the change list from the client does not give the "
			"manifest it announced (SHA-256 differs): refused");
		goto out;
	}
	rc = 1;
out:
	free(buf);
	digest_free(&dg);
	if (rc != 1) {
		manifest_free(m);
		manifest_init(m);
	}
	manifest_free(&old);
	dp_state_free(&st);
	return rc;
}

/*
 * The client has its answer; what is left (dp_push_after(): old trees
 * removed, a spare of the new tree prepared for the next push) need not
 * keep it waiting.  A child does it, detached from the session (its own
 * session, stdin, stdout and stderr on /dev/null), so ssh ends the
 * session as soon as this process exits; the child holds the DP's lock
 * (the descriptor is inherited) until it is done, so the next push of
 * this DP waits for it, and a crash of the child leaves only debris the
 * next push removes.  Without fork() it is done here.  It runs at the
 * lowest priority: on a server holding many DPs, the pushes still being
 * served, and the clients reading the shares, come before preparing the
 * next push.
 */
static void
lowest_priority(void)
{
	int fd;

	(void)setpriority(PRIO_PROCESS, 0, 19);
	/*
	 * Linux with autogroups (sched(7)) shares the CPU between sessions
	 * first, and nice works only within one: the setsid() above made
	 * this child a session of its own, which would have as much CPU as
	 * each push being served.  The session's own nice is set here; where
	 * there is no such file, setpriority() was the whole story.
	 */
	if ((fd = open("/proc/self/autogroup", O_WRONLY | O_CLOEXEC)) != -1) {
		(void)!write(fd, "19", 2);
		close(fd);
	}
}

static void
tidy_after(struct dp_handle *h, const char *pkg, unsigned keep)
{
	pid_t pid;
	int fd;

	if ((pid = fork()) == -1) {
		(void)dp_push_after(h, pkg, keep);
		return;
	}
	if (pid > 0)
		return;
	(void)setsid();
	lowest_priority();
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
		(void)dup2(fd, STDIN_FILENO);
		(void)dup2(fd, STDOUT_FILENO);
		(void)dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	(void)dp_push_after(h, pkg, keep);
	_exit(0);
}

/* A PUSH: 0 done, 1 failed (told in the RESULT), -1 protocol trouble
 * (err set; the caller sends ERROR). */
static int
serve_push(struct proto *p, const unsigned char *pl, size_t len,
    const char *path, char *note, size_t notelen)
{
	struct proto_push req;
	struct proto_result res;
	struct manifest m;
	struct dp_handle h = { -1, -1, -1, NULL };
	struct dp_push_opts o;
	struct dp_push_result r;
	struct content_source src;
	struct change_file cf;
	struct serve sv;
	bool dry, proto_err = false;
	int rc = -1;

	manifest_init(&m);
	change_file_init(&cf);
	memset(&r, 0, sizeof(r));
	memset(&res, 0, sizeof(res));
	memset(&sv, 0, sizeof(sv));
	sv.p = p;
	sv.h = &h;
	sv.incfd = -1;
	sv.oldroot = -1;
	if (proto_dec_push(pl, len, &req) == -1)
		return -1; /* protocol trouble: ERROR, not RESULT */
	r.new_version = req.version;
	sv.pkg = req.package;
	dry = (req.flags & PROTO_F_DRY_RUN) != 0;
	if (req.base == 0 &&
	    read_manifest(p, req.package, req.version, req.manifest_len,
		req.manifest_zlen, &m) == -1)
		return -1;
	if (req.base != 0) {
		unsigned char *buf;
		int k;

		if (read_payload(p, req.manifest_len, req.manifest_zlen,
			&buf) == -1)
			return -1;
		k = change_file_load_buf(buf ? (const char *)buf : "",
		    req.manifest_len, "change list from client", &cf);
		free(buf);
		if (k == -1)
			return -1;
	}
	if ((sv.buf = malloc(COPYBUF)) == NULL) {
		err_nomem();
		goto done;
	}
	dp_push_opts_init(&o);
	o.inplace = (req.flags & PROTO_F_INPLACE) != 0;
	o.verify = (req.flags & PROTO_F_VERIFY) != 0;
	o.rollback = (req.flags & PROTO_F_ROLLBACK) != 0;
	o.dry_run = dry;
	o.keep = req.keep;
	o.defer_tidy = true; /* after the reply: tidy_after() */
	src.ctx = &sv;
	src.prepare = src_prepare;
	src.write = src_write;
	src.write_shared = NULL; /* the stream is read in order */
	if (dp_open(path, !dry, &h) == -1)
		goto done;
	if (!dry && dp_lock(&h, req.lock_wait) == -1)
		goto done;
	if (req.base != 0) {
		struct proto_manifest pm;
		const unsigned char *mp;
		size_t mlen;
		int k;

		if ((k = manifest_from_changes(&h, &req, &cf, &m)) == -1)
			goto done;
		if (k == 0) {
			/* The DP does not hold the base: the manifest,
			 * then (its own protocol errors are not RESULTs). */
			if (proto_send(p, PROTO_NEED_MANIFEST, NULL, 0) == -1 ||
			    proto_expect(p, PROTO_MANIFEST, &mp, &mlen) == -1 ||
			    proto_dec_manifest(mp, mlen, &pm) == -1 ||
			    read_manifest(p, req.package, req.version, pm.len,
				pm.zlen, &m) == -1) {
				proto_err = true;
				goto done;
			}
		}
	}
	if (dp_push(&h, req.package, &m, &src, &o, &r) == -1)
		goto done;
	rc = 0;
done:
	if (proto_err) {
		free(sv.buf);
		dp_close(&h);
		manifest_free(&m);
		change_file_free(&cf);
		return -1;
	}
	/* The failure as it was, before salvage() may set err again. */
	proto_result_set(&res, &r, rc == 0, err_get(),
	    r.failed_errno ? r.failed_errno : err_errno());
	incoming_done(&sv, rc == 0);
	res.received = sv.received;
	/* Noted on the DP for --status, as a local push does. */
	if (rc == -1 && !dry && h.rootfd != -1 &&
	    !dp_push_refused(&r, o.rollback))
		(void)dp_note_failure(&h, req.package, res.msg, NULL);
	if (proto_send(p, PROTO_RESULT, p->buf,
		proto_enc_result(&res, p->buf)) == -1 &&
	    rc == 0)
		snprintf(note, notelen, "%s: the result was not delivered: %s",
		    path, err_get());
	if (rc == 0 && !dry && !r.inplace && !r.up_to_date)
		tidy_after(&h, req.package, req.keep);
	if (sv.incfd != -1)
		close(sv.incfd);
	if (sv.oldroot >= 0)
		close(sv.oldroot);
	free(sv.w);
	free(sv.order);
	free(sv.buf);
	dp_close(&h);
	manifest_free(&m);
	change_file_free(&cf);
	return rc == 0 ? 0 : 1;
}

/* A STATUS: one STATE per package (dp_states()), then END. */
static int
serve_status(struct proto *p, const unsigned char *pl, size_t len,
    const char *path)
{
	struct dp_handle h = { -1, -1, -1, NULL };
	struct dp_pkg_state *v = NULL;
	struct proto_state ps;
	char pkg[NAME_MAX_LEN + 1];
	size_t n = 0, i;
	int rc = -1;

	if (proto_dec_status(pl, len, pkg) == -1)
		return -1;
	if (dp_open(path, false, &h) == -1)
		return -1;
	if (dp_states(&h, pkg[0] != '\0' ? pkg : NULL, &v, &n) == -1)
		goto out;
	for (i = 0; i < n; i++) {
		proto_state_set(&ps, &v[i]);
		if (proto_send(p, PROTO_STATE, p->buf,
			proto_enc_state(&ps, p->buf)) == -1)
			goto out;
	}
	if (proto_send(p, PROTO_END, NULL, 0) == -1)
		goto out;
	rc = 0;
out:
	dp_pkg_states_free(v, n);
	dp_close(&h);
	return rc;
}

/*
 * After the first request of a session for several DPs (proto.h): NEXT
 * and the PUSH behind it, for each further DP the client pushes, until
 * NEXT "".  Each path is served once.  *rc becomes 1 when a push fails.
 */
static int
serve_more(struct proto *p, const char *const *paths, size_t npaths, int *rc,
    char *note, size_t notelen)
{
	char path[PROTO_PATH_MAX + 1];
	const unsigned char *pl;
	bool *done;
	size_t len, i;
	uint32_t type;
	unsigned served;
	bool named;
	int r = -1, k;

	if ((done = calloc(npaths, sizeof(*done))) == NULL)
		return err_nomem();
	done[0] = true;
	for (served = 1;; served++) {
		if (fault_session_cut(served))
			(void)kill(getpid(), SIGKILL);
		if (proto_expect(p, PROTO_NEXT, &pl, &len) == -1 ||
		    proto_dec_next(pl, len, path) == -1)
			goto out;
		if (path[0] == '\0')
			break;
		/* The same path may be named twice (two DP names for one
		 * directory): the first one not served yet. */
		named = false;
		for (i = 0; i < npaths; i++) {
			if (strcmp(paths[i], path) != 0)
				continue;
			named = true;
			if (!done[i])
				break;
		}
		if (i == npaths) {
			err_set("protocol error: NEXT names a DP %s",
			    named ? "served already" :
				    "this session does not serve");
			goto out;
		}
		done[i] = true;
		if (proto_recv(p, &type, &pl, &len) == -1)
			goto out;
		if (type != PROTO_PUSH) {
			err_set("protocol error: unexpected %s from client "
				"after NEXT",
			    proto_type_name(type));
			goto out;
		}
		if ((k = serve_push(p, pl, len, paths[i], note, notelen)) == -1)
			goto out;
		if (k == 1)
			*rc = 1;
	}
	r = 0;
out:
	free(done);
	return r;
}

int
serve_session(int in, int out, const char *const *paths, size_t npaths,
    char *note, size_t notelen)
{
	struct proto p;
	const unsigned char *pl;
	unsigned char cnt[4];
	size_t len, i;
	uint32_t type;
	int rc = -1;

	if (notelen > 0)
		note[0] = '\0';
	if (npaths == 0 || npaths > PROTO_PATHS_MAX)
		return err_set("%zu paths: one to %d are served", npaths,
		    PROTO_PATHS_MAX);
	for (i = 0; i < npaths; i++) {
		if (paths[i][0] != '/')
			return err_set("'%s': not an absolute path", paths[i]);
		if (strlen(paths[i]) > PROTO_PATH_MAX)
			return err_set("'%.64s...': path too long", paths[i]);
	}
	/* Best effort: sshd's pipe holds 64 KiB; 1 MiB lets contents
	 * arrive while a file is synced.  Fails harmlessly on a socket. */
	(void)fcntl(in, F_SETPIPE_SZ, 1 << 20);
	if (proto_init(&p, in, out, -1, "sender") == -1) {
		proto_free(&p);
		return -1;
	}
	if (proto_hello_answer(&p) == -1)
		goto fail;
	if (npaths > 1) {
		be_put32(cnt, (uint32_t)npaths);
		if (proto_send(&p, PROTO_PATHS, cnt, sizeof(cnt)) == -1)
			goto fail;
	}
	/* The client waits while the DP is locked, hashed, synced. */
	if (proto_keepalive_start(&p, 1.0) == -1)
		goto fail;
	if (proto_recv(&p, &type, &pl, &len) == -1)
		goto fail;
	if (type == PROTO_PUSH) {
		if ((rc = serve_push(&p, pl, len, paths[0], note, notelen)) ==
		    -1)
			goto fail;
		if (npaths > 1 &&
		    serve_more(&p, paths, npaths, &rc, note, notelen) == -1)
			goto fail;
	} else if (type == PROTO_STATUS) {
		if (serve_status(&p, pl, len, paths[0]) == -1)
			goto fail;
		rc = 0;
	} else {
		err_set("protocol error: unexpected %s from client",
		    proto_type_name(type));
		goto fail;
	}
	proto_free(&p);
	return rc;
fail:
	proto_send_error(&p, err_get(), err_errno(), false);
	proto_free(&p);
	return -1;
}
