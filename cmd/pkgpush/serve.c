/*
 * serve.c — "pkgpush --serve PATH", the remote end of a remote DP
 * (serve.h; the protocol is proto.h, the client remote.h).
 *
 * One session: hello, then one request.
 *
 * PUSH: the manifest is read whole (bounded by PROTO_MANIFEST_MAX and
 * checked by the one manifest parser; its header must name the package
 * and version asked for), the DP at PATH is opened and locked, and
 * dp_push() runs exactly as for a local DP.  Its content source:
 *
 *   prepare()  asks the client for every content the push needs that is
 *              not already in DP/.pkgdist/.incoming/ (left by an earlier
 *              session that broke), each once, and receives them there:
 *              inflated if sent as zlib, SHA-256 and size checked as they
 *              are written, then renamed to their hex digest.  The
 *              keepalive thread keeps the client waiting meanwhile.
 *   write()    copies a received content into the DP's new file,
 *              checking digest and size again as it writes.
 *
 * On success the contents received are removed; on failure they are
 * kept, so a retry does not send them again (entries older than
 * INCOMING_MAX_AGE are removed by the next session).  A failure leaves
 * the DP as dp_push() leaves a local one: at its old version, whole.
 * The outcome is sent as RESULT.
 *
 * STATUS: what the DP holds of one or every package, as STATE frames.
 *
 * Messages for the administrator of the remote host go to stderr, which
 * ssh carries back to the client.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blob.h"
#include "digest.h"
#include "dp.h"
#include "dppush.h"
#include "err.h"
#include "exitcode.h"
#include "fault.h"
#include "io.h"
#include "manifest.h"
#include "msg.h"
#include "proto.h"
#include "serve.h"

#define INCOMING ".incoming"
#define INCOMING_TMP "tmp."
#define INCOMING_MAX_AGE (7 * 86400)
#define COPYBUF ((size_t)1 << 20)
#define DIRFLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

struct serve {
	struct proto *p;
	struct dp_handle *h;
	int incfd;			/* DP/.pkgdist/.incoming, or -1 */
	unsigned char (*got)[DIGEST_LEN];	/* contents of this push */
	size_t ngot;
	uint64_t received;		/* stored bytes read */
	unsigned char *buf;		/* COPYBUF */
};

/* ---- DP/.pkgdist/.incoming ---- */

/* Open (create) the directory; remove temporaries and old entries. */
static int
incoming_open(struct serve *sv)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	time_t now = fault_now();
	int fd;

	if (sv->incfd != -1)
		return 0;
	if (sv->h->metafd == -1)
		return err_set("%s: no %s directory", sv->h->where, DP_META);
	if (io_mkdir(sv->h->metafd, INCOMING, 0700) == -1 &&
	    err_errno() != EEXIST)
		return err_prefix("%s/%s: ", sv->h->where, DP_META);
	if ((sv->incfd = openat(sv->h->metafd, INCOMING, DIRFLAGS)) == -1)
		return err_sys("%s/%s/%s", sv->h->where, DP_META, INCOMING);
	if ((fd = dup(sv->incfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return err_sys("%s/%s/%s", sv->h->where, DP_META, INCOMING);
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (strncmp(de->d_name, INCOMING_TMP,
		    strlen(INCOMING_TMP)) == 0 ||
		    (fstatat(sv->incfd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == 0 &&
		    (!S_ISREG(st.st_mode) ||
		    now - st.st_mtime > INCOMING_MAX_AGE)))
			(void)io_remove_tree(sv->incfd, de->d_name);
	}
	closedir(d);
	return 0;
}

/* 1 if the content is there already with the right size. */
static int
incoming_has(struct serve *sv, const unsigned char d[DIGEST_LEN],
    uint64_t size)
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
	uint64_t left;			/* stored bytes still to come */
	const unsigned char *cur;	/* unread part of the last frame */
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

/* Receive one content (its CONTENT frame read) into .incoming. */
static int
receive_one(struct serve *sv, const struct proto_content *ch)
{
	struct blob_inflate inf;
	struct digest dg = { NULL };
	struct datarx x;
	unsigned char d[DIGEST_LEN];
	char hex[DIGEST_HEXLEN + 1], tmp[DIGEST_HEXLEN + 16], what[4200];
	uint64_t total = 0;
	ssize_t k;
	int fd = -1, rc = -1;
	bool inf_ok = false;

	digest_hex(ch->digest, hex);
	snprintf(tmp, sizeof(tmp), "%s%s", INCOMING_TMP, hex);
	snprintf(what, sizeof(what), "%s/%s/%s/%s", sv->h->where, DP_META,
	    INCOMING, tmp);
	memset(&x, 0, sizeof(x));
	x.sv = sv;
	x.left = ch->stored;
	(void)unlinkat(sv->incfd, tmp, 0);
	if ((fd = openat(sv->incfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		err_sys("%s", what);
		goto out;
	}
	if (digest_init(&dg) == -1)
		goto out;
	if (ch->zlib) {
		if (blob_inflate_init(&inf, datarx_read, &x, hex) == -1)
			goto out;
		inf_ok = true;
	}
	for (;;) {
		if (ch->zlib)
			k = blob_inflate_read(&inf, sv->buf, COPYBUF);
		else
			k = datarx_read(&x, sv->buf, COPYBUF);
		if (k == -1)
			goto out;
		if (k == 0)
			break;
		if ((uint64_t)k > ch->size - total) {
			err_set("content %s: longer than its size %" PRIu64,
			    hex, ch->size);
			goto out;
		}
		total += (uint64_t)k;
		if (digest_update(&dg, sv->buf, (size_t)k) == -1 ||
		    io_write_full(fd, sv->buf, (size_t)k, what) == -1)
			goto out;
	}
	if (x.left != 0 || x.curlen != 0) {
		err_set("content %s: stored bytes left after its end", hex);
		goto out;
	}
	if (digest_final(&dg, d) == -1)
		goto out;
	if (total != ch->size || memcmp(d, ch->digest, DIGEST_LEN) != 0) {
		err_set("content %s: digest mismatch (damaged in transit)",
		    hex);
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		err_sys("%s", what);
		goto out;
	}
	fd = -1;
	if (io_rename(sv->incfd, tmp, sv->incfd, hex) == -1)
		goto out;
	rc = 0;
out:
	if (inf_ok)
		blob_inflate_end(&inf);
	digest_free(&dg);
	if (fd != -1)
		close(fd);
	if (rc == -1)
		(void)unlinkat(sv->incfd, tmp, 0);
	return rc;
}

static int
cmp_digest(const void *a, const void *b)
{
	return memcmp(a, b, DIGEST_LEN);
}

/* The content source's prepare(): get every missing content. */
static int
src_prepare(void *ctx, const struct dp_need *v, size_t n)
{
	struct serve *sv = ctx;
	struct proto_wbuf w;
	struct proto_content ch;
	const unsigned char *pl;
	uint64_t *sizes = NULL;
	size_t i, u, nsend = 0, inframe = 0, len;
	size_t *send = NULL;
	int rc = -1;

	if (incoming_open(sv) == -1)
		return -1;
	if (n == 0)
		return 0;
	/* Unique digests, sorted; sizes follow via a parallel search. */
	if ((sv->got = malloc(n * sizeof(*sv->got))) == NULL ||
	    (send = malloc(n * sizeof(*send))) == NULL ||
	    (sizes = malloc(n * sizeof(*sizes))) == NULL) {
		err_sys("out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		memcpy(sv->got[i], v[i].digest, DIGEST_LEN);
	qsort(sv->got, n, DIGEST_LEN, cmp_digest);
	for (i = 0, u = 0; i < n; i++)
		if (u == 0 || memcmp(sv->got[u - 1], sv->got[i],
		    DIGEST_LEN) != 0)
			memmove(sv->got[u++], sv->got[i], DIGEST_LEN);
	sv->ngot = u;
	for (i = 0; i < n; i++) {
		unsigned char (*f)[DIGEST_LEN] = bsearch(v[i].digest, sv->got,
		    sv->ngot, DIGEST_LEN, cmp_digest);
		sizes[f - sv->got] = v[i].size;
	}
	/* The NEED list: unique contents not received before. */
	proto_wbuf_init(&w, sv->p->buf, PROTO_FRAME_MAX);
	for (i = 0; i < sv->ngot; i++) {
		if (incoming_has(sv, sv->got[i], sizes[i]))
			continue;
		send[nsend++] = i;
	}
	for (i = 0; i < nsend; i += inframe) {
		size_t j;

		inframe = nsend - i < PROTO_NEED_PER_FRAME ? nsend - i :
		    PROTO_NEED_PER_FRAME;
		proto_wbuf_init(&w, sv->buf, COPYBUF);
		proto_put_u32(&w, (uint32_t)inframe);
		for (j = i; j < i + inframe; j++) {
			proto_put_bytes(&w, sv->got[send[j]], DIGEST_LEN);
			proto_put_u64(&w, sizes[send[j]]);
		}
		if (proto_send(sv->p, PROTO_NEED, w.p, w.len) == -1)
			goto out;
	}
	proto_wbuf_init(&w, sv->buf, COPYBUF);
	proto_put_u64(&w, nsend);
	if (proto_send(sv->p, PROTO_NEED_END, w.p, w.len) == -1)
		goto out;
	/* The contents, in that order. */
	for (i = 0; i < nsend; i++) {
		if (proto_expect(sv->p, PROTO_CONTENT, &pl, &len) == -1 ||
		    proto_dec_content(pl, len, &ch) == -1)
			goto out;
		if (memcmp(ch.digest, sv->got[send[i]], DIGEST_LEN) != 0 ||
		    ch.size != sizes[send[i]]) {
			err_set("protocol error: the client sent another "
			    "content than the one asked for");
			goto out;
		}
		if (receive_one(sv, &ch) == -1)
			goto out;
	}
	rc = 0;
out:
	free(send);
	free(sizes);
	return rc;
}

/* The content source's write(): copy a received content, checking it. */
static int
src_write(void *ctx, const unsigned char d[DIGEST_LEN], uint64_t size,
    int fd, const char *what)
{
	struct serve *sv = ctx;
	struct digest dg = { NULL };
	unsigned char got[DIGEST_LEN];
	char hex[DIGEST_HEXLEN + 1];
	uint64_t total = 0;
	ssize_t k;
	int in = -1, rc = -1;

	digest_hex(d, hex);
	if (sv->incfd == -1 ||
	    (in = openat(sv->incfd, hex, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		err_sys("content %s: not received", hex);
		goto out;
	}
	if (digest_init(&dg) == -1)
		goto out;
	for (;;) {
		if ((k = io_read_full(in, sv->buf, COPYBUF, hex)) == -1)
			goto out;
		if (k == 0)
			break;
		if ((uint64_t)k > size - total) {
			err_set("content %s: longer than its size", hex);
			goto bad;
		}
		total += (uint64_t)k;
		if (digest_update(&dg, sv->buf, (size_t)k) == -1 ||
		    io_write_full(fd, sv->buf, (size_t)k, what) == -1)
			goto out;
		if ((size_t)k < COPYBUF)
			break;
	}
	if (digest_final(&dg, got) == -1)
		goto out;
	if (total != size || memcmp(got, d, DIGEST_LEN) != 0) {
		err_set("content %s: digest mismatch", hex);
		goto bad;
	}
	rc = 0;
	goto out;
bad:
	/* A damaged received copy must not be used again. */
	(void)io_unlink(sv->incfd, hex, 0);
out:
	digest_free(&dg);
	if (in != -1)
		close(in);
	return rc;
}

/* After a successful push: the received contents are in the tree. */
static void
incoming_clean(struct serve *sv)
{
	char hex[DIGEST_HEXLEN + 1];
	size_t i;

	if (sv->incfd == -1)
		return;
	for (i = 0; i < sv->ngot; i++) {
		digest_hex(sv->got[i], hex);
		(void)unlinkat(sv->incfd, hex, 0);
	}
}

/* ---- requests ---- */

static int
read_manifest(struct proto *p, uint64_t mlen, uint64_t zlen,
    struct manifest *m)
{
	const unsigned char *pl;
	unsigned char *buf = NULL, *nb, *plain = NULL;
	size_t cap = 0, have = 0, len;
	uint64_t want = zlen ? zlen : mlen;
	int rc = -1;

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
				err_sys("out of memory");
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
			err_sys("out of memory");
			goto out;
		}
		if (blob_uncompress(buf, have, plain, mlen,
		    "manifest from client") == -1)
			goto out;
		free(buf);
		buf = plain;
		plain = NULL;
		have = mlen;
	}
	if (manifest_load_buf((const char *)buf, have, "manifest from client",
	    m) == -1)
		goto out;
	rc = 0;
out:
	free(plain);
	free(buf);
	return rc;
}

/* Note the failure on the DP for --status, as pkgpush does locally. */
static void
note_failure(struct dp_handle *h, const char *pkg, const char *why)
{
	struct dp_state st;

	if (h->rootfd == -1 || dp_state_read(h, pkg, &st, NULL) == -1)
		return;
	if (st.status == DP_ST_COMPLETE) {
		free(st.error);
		st.error = strdup(why);
		(void)dp_state_write(h, pkg, &st);
	}
	dp_state_free(&st);
}

static int
serve_push(struct proto *p, const unsigned char *pl, size_t len,
    const char *path)
{
	struct proto_push req;
	struct proto_result res;
	struct manifest m;
	struct dp_handle h = { -1, -1, -1, NULL };
	struct dp_push_opts o;
	struct dp_push_result r;
	struct content_source src;
	struct serve sv;
	bool dry;
	int rc = -1;

	manifest_init(&m);
	memset(&r, 0, sizeof(r));
	memset(&res, 0, sizeof(res));
	memset(&sv, 0, sizeof(sv));
	sv.p = p;
	sv.h = &h;
	sv.incfd = -1;
	if (proto_dec_push(pl, len, &req) == -1)
		return -1;	/* protocol trouble: ERROR, not RESULT */
	r.new_version = req.version;
	dry = (req.flags & PROTO_F_DRY_RUN) != 0;
	if (read_manifest(p, req.manifest_len, req.manifest_zlen, &m) == -1)
		return -1;
	if (m.package == NULL || strcmp(m.package, req.package) != 0 ||
	    m.version != req.version) {
		err_set("protocol error: the manifest's header does not name "
		    "%s version %" PRIu64, req.package, req.version);
		manifest_free(&m);
		return -1;
	}
	if ((sv.buf = malloc(COPYBUF)) == NULL) {
		err_sys("out of memory");
		goto done;
	}
	dp_push_opts_init(&o);
	o.inplace = (req.flags & PROTO_F_INPLACE) != 0;
	o.verify = (req.flags & PROTO_F_VERIFY) != 0;
	o.rollback = (req.flags & PROTO_F_ROLLBACK) != 0;
	o.dry_run = dry;
	o.keep = req.keep;
	src.ctx = &sv;
	src.prepare = src_prepare;
	src.write = src_write;
	if (dp_open(path, !dry, &h) == -1)
		goto done;
	if (!dry && dp_lock(&h, req.lock_wait) == -1)
		goto done;
	if (dp_push(&h, req.package, &m, &src, &o, &r) == -1)
		goto done;
	rc = 0;
	incoming_clean(&sv);
done:
	res.ok = rc == 0;
	res.held = r.held;
	res.old_partial = r.old_partial;
	res.reused_tree = r.reused_tree;
	res.up_to_date = r.up_to_date;
	res.permanent = r.permanent;
	res.old_version = r.old_version;
	res.new_version = r.new_version;
	res.added = r.added;
	res.changed = r.changed;
	res.deleted = r.deleted;
	res.meta = r.meta;
	res.linked = r.linked;
	res.bytes = r.bytes;
	res.busy = r.busy;
	res.received = sv.received;
	if (rc == -1) {
		res.failed_errno = r.failed_errno ? r.failed_errno :
		    err_errno();
		if (res.failed_errno < 0 || res.failed_errno > 4095)
			res.failed_errno = 0;
		snprintf(res.msg, sizeof(res.msg), "%s", err_get());
		if (!dry)
			note_failure(&h, req.package, res.msg);
	}
	if (proto_send(p, PROTO_RESULT, p->buf, proto_enc_result(&res,
	    p->buf)) == -1 && rc == 0)
		msg_warn("--serve: %s: the result was not delivered: %s",
		    path, err_get());
	if (sv.incfd != -1)
		close(sv.incfd);
	free(sv.got);
	free(sv.buf);
	dp_close(&h);
	manifest_free(&m);
	return rc == 0 ? EXIT_DONE : EXIT_PARTIAL;
}

static int
send_state(struct proto *p, const char *pkg, const struct dp_state *st,
    const char *damaged)
{
	struct proto_state ps;

	memset(&ps, 0, sizeof(ps));
	snprintf(ps.package, sizeof(ps.package), "%s", pkg);
	if (damaged != NULL || st == NULL) {
		snprintf(ps.error, sizeof(ps.error), "%s",
		    damaged != NULL ? damaged : "no state");
	} else {
		ps.layout = (uint8_t)st->layout;
		ps.status = (uint8_t)st->status;
		ps.version = st->version;
		ps.from = st->from;
		snprintf(ps.tree, sizeof(ps.tree), "%s", st->tree);
		if (st->error != NULL)
			snprintf(ps.error, sizeof(ps.error), "%s", st->error);
	}
	return proto_send(p, PROTO_STATE, p->buf, proto_enc_state(&ps,
	    p->buf));
}

static int
serve_status(struct proto *p, const unsigned char *pl, size_t len,
    const char *path)
{
	struct dp_handle h = { -1, -1, -1, NULL };
	struct dp_state st;
	char pkg[NAME_MAX_LEN + 1], **names = NULL;
	size_t n = 0, i;
	int rc = -1;

	if (proto_dec_status(pl, len, pkg) == -1)
		return -1;
	if (dp_open(path, false, &h) == -1)
		return -1;
	if (pkg[0] == '\0' && dp_packages(&h, &names, &n) == -1)
		goto out;
	for (i = 0; i < (pkg[0] ? 1 : n); i++) {
		const char *pn = pkg[0] ? pkg : names[i];

		if (dp_state_read(&h, pn, &st, NULL) == -1) {
			if (send_state(p, pn, NULL, err_get()) == -1)
				goto out;
			continue;
		}
		if ((pkg[0] != '\0' || st.status != DP_ST_NONE) &&
		    send_state(p, pn, &st, NULL) == -1) {
			dp_state_free(&st);
			goto out;
		}
		dp_state_free(&st);
	}
	if (proto_send(p, PROTO_END, NULL, 0) == -1)
		goto out;
	rc = 0;
out:
	dp_packages_free(names, n);
	dp_close(&h);
	return rc;
}

int
serve_main(const char *path)
{
	struct proto p;
	const unsigned char *pl;
	size_t len;
	uint32_t type;
	int rc = EXIT_TROUBLE;
	bool up = false;

	signal(SIGPIPE, SIG_IGN);
	if (path[0] != '/') {
		msg_warn("--serve: '%s': not an absolute path", path);
		return EXIT_TROUBLE;
	}
	if (proto_init(&p, STDIN_FILENO, STDOUT_FILENO, -1, "client") == -1)
		goto fail;
	up = true;
	if (proto_hello(&p) == -1)
		goto fail;
	/* The client waits while the DP is locked, hashed, synced. */
	if (proto_keepalive_start(&p, 1.0) == -1)
		goto fail;
	if (proto_recv(&p, &type, &pl, &len) == -1)
		goto fail;
	if (type == PROTO_PUSH) {
		rc = serve_push(&p, pl, len, path);
		if (rc == -1)
			goto fail;
	} else if (type == PROTO_STATUS) {
		if (serve_status(&p, pl, len, path) == -1)
			goto fail;
		rc = EXIT_DONE;
	} else {
		err_set("protocol error: unexpected %s from client",
		    proto_type_name(type));
		goto fail;
	}
	proto_free(&p);
	return rc;
fail:
	msg_warn("--serve: %s", err_get());
	if (up) {
		proto_send_error(&p, err_get(), err_errno(), false);
		proto_free(&p);
	}
	return EXIT_TROUBLE;
}
