/*
 * mdelta.c — manifests kept as a delta against a full base (see mdelta.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "changes.h"
#include "digest.h"
#include "err.h"
#include "io.h"
#include "manifest.h"
#include "mdelta.h"
#include "num.h"
#include "path.h"

#define HEAD_MAX 512	   /* the header lines of a delta fit in this */
#define BASE_K_MAX 100000  /* names tried for a new base */
#define BASE_BUF (1 << 20) /* stdio buffer writing a base */

void
mdelta_base_init(struct mdelta_base *b)
{
	memset(b, 0, sizeof(*b));
	change_file_init(&b->touched);
}

void
mdelta_base_free(struct mdelta_base *b)
{
	change_file_free(&b->touched);
	mdelta_base_init(b);
}

bool
mdelta_name_valid(const char *name)
{
	size_t n = strlen(name), p = strlen(MDELTA_BASE_PREFIX), i;
	bool dot = false;

	if (n >= MDELTA_NAME_MAX || n < p + 3 ||
	    strncmp(name, MDELTA_BASE_PREFIX, p) != 0)
		return false;
	for (i = p; i < n; i++) {
		if (name[i] == '.') {
			/* One dot, with digits on both sides. */
			if (dot || i == p || i == n - 1)
				return false;
			dot = true;
		} else if (name[i] < '0' || name[i] > '9')
			return false;
	}
	return dot;
}

static bool
starts_with_line(const char *buf, size_t len, const char *magic)
{
	size_t n = strlen(magic);

	return len > n && memcmp(buf, magic, n) == 0 && buf[n] == '\n';
}

bool
mdelta_is_delta(const char *buf, size_t len)
{
	return starts_with_line(buf, len, MDELTA_MAGIC) ||
	    starts_with_line(buf, len, MDELTA_POINTER_MAGIC);
}

/* "label/name", or name alone when label is NULL; malloc'd. */
static char *
what_of(const char *label, const char *name)
{
	size_t n = (label ? strlen(label) + 1 : 0) + strlen(name) + 1;
	char *s = malloc(n);

	if (s == NULL)
		return NULL;
	if (label != NULL)
		snprintf(s, n, "%s/%s", label, name);
	else
		snprintf(s, n, "%s", name);
	return s;
}

/* Read the regular file name under dirfd whole, never through a link. */
static int
read_at(int dirfd, const char *name, const char *what, char **bufp,
    size_t *lenp)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	int fd;

	*bufp = NULL;
	*lenp = 0;
	if ((fd = openat(dirfd, name,
		 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) ==
	    -1) {
		if (errno == ELOOP)
			return err_set("%s: a symbolic link: not followed",
			    what);
		return err_sys("%s", what);
	}
	if (fstat(fd, &st) == -1) {
		err_sys("%s", what);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set("%s: not a regular file", what);
		goto fail;
	}
	if (st.st_size > MDELTA_FILE_MAX) {
		err_set("%s: larger than %lld bytes", what,
		    (long long)MDELTA_FILE_MAX);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		err_nomem();
		goto fail;
	}
	if ((n = io_read_full(fd, buf, (size_t)st.st_size, what)) == -1)
		goto fail;
	buf[n] = '\0';
	close(fd);
	*bufp = buf;
	*lenp = (size_t)n;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}

struct head {
	char base[MDELTA_NAME_MAX];
	unsigned char digest[DIGEST_LEN];
	uint64_t changes;
	char *package; /* points into the buffer, or NULL */
	uint64_t version;
	size_t off;	     /* where the change lines start */
	unsigned long lines; /* header lines */
};

/*
 * Parse a delta's header lines (the buffer is modified: NULs at line
 * ends).  Only the first HEAD_MAX bytes are looked at.
 */
static int
head_parse(char *buf, size_t len, const char *what, struct head *h)
{
	char *p = buf, *nl, *sp;
	size_t lim = len < HEAD_MAX ? len : HEAD_MAX;
	unsigned long lineno = 0;
	uint64_t u;

	memset(h, 0, sizeof(*h));
	for (;;) {
		lineno++;
		if ((size_t)(p - buf) >= len)
			break; /* no change lines */
		if ((nl = memchr(p, '\n', lim - (size_t)(p - buf))) == NULL) {
			if (lineno <= 3)
				return err_set("%s:%lu: truncated delta header",
				    what, lineno);
			break;
		}
		if (lineno == 1) {
			/* mdelta_is_delta() checked the magic. */
		} else if (lineno == 2) {
			*nl = '\0';
			if (strncmp(p, "base ", 5) != 0 ||
			    (sp = strchr(p + 5, ' ')) == NULL)
				goto bad;
			*sp = '\0';
			if (!mdelta_name_valid(p + 5)) {
				*sp = ' ';
				goto bad;
			}
			snprintf(h->base, sizeof(h->base), "%s", p + 5);
			if (digest_unhex(sp + 1, strlen(sp + 1), h->digest) ==
			    -1)
				goto bad;
		} else if (lineno == 3) {
			*nl = '\0';
			if (strncmp(p, "changes ", 8) != 0 ||
			    num_arg(p + 8, 0, UINT64_MAX, &h->changes) == -1)
				goto bad;
		} else if (strncmp(p, "package ", 8) == 0 && lineno == 4) {
			*nl = '\0';
			if (!name_valid(p + 8))
				goto bad;
			h->package = p + 8;
		} else if (strncmp(p, "version ", 8) == 0 &&
		    (lineno == 4 || (lineno == 5 && h->package != NULL))) {
			*nl = '\0';
			if (num_arg(p + 8, 1, UINT64_MAX, &u) == -1)
				goto bad;
			h->version = u;
		} else
			break; /* the first change line */
		p = nl + 1;
	}
	h->off = (size_t)(p - buf);
	h->lines = lineno - 1;
	if (h->lines < 3)
		return err_set("%s:%lu: truncated delta header", what, lineno);
	return 0;
bad:
	return err_set("%s:%lu: malformed delta header line", what, lineno);
}

/* The pointer file is exactly its magic line and "link PATH". */
static int
pointer_parse(const char *buf, size_t len, const char *what, char **path)
{
	size_t n = strlen(MDELTA_POINTER_MAGIC) + 1;
	const char *p = buf + n, *nl, *name;

	if (len <= n + 5 || memcmp(p, "link ", 5) != 0 ||
	    (nl = memchr(p, '\n', len - n)) == NULL || nl + 1 != buf + len)
		return err_set("%s: malformed manifest pointer", what);
	p += 5;
	for (name = p; name + 3 <= nl && memcmp(name, "../", 3) == 0;)
		name += 3;
	if (name == nl || memchr(name, '/', (size_t)(nl - name)) != NULL ||
	    memchr(p, '\0', (size_t)(nl - p)) != NULL ||
	    (nl - name == 1 && name[0] == '.') ||
	    (nl - name == 2 && memcmp(name, "..", 2) == 0) || nl - p > 255)
		return err_set("%s: malformed manifest pointer", what);
	if ((*path = strndup(p, (size_t)(nl - p))) == NULL)
		return err_nomem();
	return 0;
}

/*
 * The name of the manifest a pointer file under dirfd stands for: its
 * link's target's last component plus MDELTA_POINTER_SUFFIX, in dirfd.
 * The link's target is only read, as a name: nothing is opened through
 * it.
 */
static int
pointer_resolve(int dirfd, const char *buf, size_t len, const char *what,
    char out[MDELTA_NAME_MAX])
{
	char *path = NULL, target[PATH_MAX], *base;
	const char *name;
	size_t ups;
	ssize_t n;
	int up = -1, rc = -1;

	if (pointer_parse(buf, len, what, &path) == -1)
		return -1;
	for (name = path, ups = 0; strncmp(name, "../", 3) == 0; name += 3)
		ups++;
	if (ups == 0)
		up = dirfd;
	else {
		/* "../../" and so on: the directory above, name in it. */
		char *dir = strndup(path, (size_t)(name - path));

		up = dir == NULL ?
		    -1 :
		    openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		free(dir);
		if (up == -1) {
			err_sys("%s: its link '%s'", what, path);
			goto out;
		}
	}
	if ((n = readlinkat(up, name, target, sizeof(target) - 1)) == -1) {
		err_sys("%s: its link '%s'", what, path);
		goto out;
	}
	target[n] = '\0';
	while (n > 1 && target[n - 1] == '/')
		target[--n] = '\0';
	base = strrchr(target, '/');
	base = base != NULL ? base + 1 : target;
	if (base[0] == '\0' || base[0] == '.' ||
	    strlen(base) + strlen(MDELTA_POINTER_SUFFIX) >= MDELTA_NAME_MAX) {
		err_set("%s: its link '%s' points at '%s', not at a tree", what,
		    path, target);
		goto out;
	}
	/* Lengths checked above. */
	memcpy(out, base, strlen(base));
	memcpy(out + strlen(base), MDELTA_POINTER_SUFFIX,
	    sizeof(MDELTA_POINTER_SUFFIX));
	rc = 0;
out:
	if (up != -1 && up != dirfd)
		close(up);
	free(path);
	return rc;
}

static int load_at(int, const char *, const char *, struct manifest *,
    struct mdelta_base *, bool);

int
mdelta_load_at(int dirfd, const char *name, const char *label,
    struct manifest *m, struct mdelta_base *b)
{
	return load_at(dirfd, name, label, m, b, true);
}

static int
load_at(int dirfd, const char *name, const char *label, struct manifest *m,
    struct mdelta_base *b, bool follow)
{
	struct manifest basem;
	struct change_file cf;
	unsigned char d[DIGEST_LEN];
	struct digest dg = { NULL };
	struct head h;
	char *buf = NULL, *bbuf = NULL, *what = NULL, *bwhat = NULL;
	size_t len, blen, bad = 0;
	int rc = -1;

	manifest_init(m);
	manifest_init(&basem);
	change_file_init(&cf);
	if (b != NULL)
		mdelta_base_init(b);
	if ((what = what_of(label, name)) == NULL) {
		err_nomem();
		goto out;
	}
	if (read_at(dirfd, name, what, &buf, &len) == -1)
		goto out;
	if (starts_with_line(buf, len, MDELTA_POINTER_MAGIC)) {
		char target[MDELTA_NAME_MAX];

		if (!follow) {
			err_set("%s: a manifest pointer to a pointer", what);
			goto out;
		}
		if (pointer_resolve(dirfd, buf, len, what, target) == -1)
			goto out;
		rc = load_at(dirfd, target, label, m, b, false);
		goto out;
	}
	if (!starts_with_line(buf, len, MDELTA_MAGIC)) {
		rc = manifest_load_buf(buf, len, what, m);
		goto out;
	}
	if (head_parse(buf, len, what, &h) == -1)
		goto out;
	if ((bwhat = what_of(label, h.base)) == NULL) {
		err_nomem();
		goto out;
	}
	if (read_at(dirfd, h.base, bwhat, &bbuf, &blen) == -1) {
		err_prefix("%s: its base: ", what);
		goto out;
	}
	if (digest_init(&dg) == -1 || digest_update(&dg, bbuf, blen) == -1 ||
	    digest_final(&dg, d) == -1)
		goto out;
	if (memcmp(d, h.digest, DIGEST_LEN) != 0) {
		err_set("%s: its base '%s' is not the file it was written "
			"against (SHA-256 differs: damaged or replaced)",
		    what, h.base);
		goto out;
	}
	if (manifest_load_buf(bbuf, blen, bwhat, &basem) == -1)
		goto out;
	free(bbuf);
	bbuf = NULL;
	if (change_file_load_lines(buf + h.off, len - h.off, what, h.lines,
		&cf) == -1)
		goto out;
	if (cf.n != h.changes) {
		err_set("%s: %zu change lines, its header says %" PRIu64
			" (truncated?)",
		    what, cf.n, h.changes);
		goto out;
	}
	if (b != NULL)
		b->nbase = basem.n;
	if (changes_apply(&basem, &cf, m, h.base, &bad) == -1) {
		err_prefix("%s:%lu: ", what, h.lines + (unsigned long)bad + 1);
		goto out;
	}
	if (manifest_set_header(m, h.package, h.version) == -1)
		goto out;
	if (b != NULL) {
		snprintf(b->name, sizeof(b->name), "%s", h.base);
		memcpy(b->digest, h.digest, DIGEST_LEN);
		b->touched = cf;
		change_file_init(&cf);
	}
	rc = 0;
out:
	digest_free(&dg);
	manifest_free(&basem);
	change_file_free(&cf);
	free(buf);
	free(bbuf);
	free(what);
	free(bwhat);
	if (rc == -1) {
		manifest_free(m);
		if (b != NULL)
			mdelta_base_free(b);
	}
	return rc;
}

bool
mdelta_path_is_delta(const char *path)
{
	char head[sizeof(MDELTA_MAGIC) + 1];
	ssize_t n;
	int fd;

	/* Peeked with pread: a pipe has no offset and is no delta. */
	if (strcmp(path, "-") == 0 ||
	    (fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		return false;
	n = pread(fd, head, sizeof(head), 0);
	close(fd);
	return n > 0 && mdelta_is_delta(head, (size_t)n);
}

/* A delta file or a pointer at path, with its base beside it. */
static int
load_delta_path(const char *path, struct manifest *m)
{
	const char *slash = strrchr(path, '/');
	char *dir = NULL;
	int dfd, rc;

	manifest_init(m);
	if (slash == NULL)
		return mdelta_load_at(AT_FDCWD, path, NULL, m, NULL);
	if ((dir = strndup(path, slash == path ? 1 : (size_t)(slash - path))) ==
	    NULL)
		return err_nomem();
	/* The directory is the one the administrator named (it may be a
	 * link); nothing inside it is followed. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		err_sys("cannot open '%s'", dir);
		free(dir);
		return -1;
	}
	rc = mdelta_load_at(dfd, slash + 1, slash == path ? "" : dir, m, NULL);
	close(dfd);
	free(dir);
	return rc;
}

int
mdelta_load_path(const char *path, struct manifest *m)
{
	if (mdelta_path_is_delta(path))
		return load_delta_path(path, m);
	return manifest_load(path, m);
}

/*
 * Write m whole as bname under dirfd (atomic.h) and hash what was
 * written: streamed to the file and read back from the page cache before
 * the commit, so a 16 MB manifest never sits whole in memory.
 */
static int
write_base(int dirfd, const char *bname, const struct manifest *m,
    unsigned char digest[DIGEST_LEN], uint64_t *len)
{
	struct atomic_file af;
	struct digest dg = { NULL };
	char *sbuf = NULL;
	uint64_t off = 0;
	ssize_t n;
	FILE *fp;
	int rfd = -1, rc = -1;

	if (atomic_open(&af, dirfd, bname, 0444) == -1)
		return -1;
	if ((sbuf = malloc(BASE_BUF)) == NULL) {
		err_nomem();
		goto out;
	}
	if ((fp = atomic_stream(&af)) == NULL ||
	    setvbuf(fp, sbuf, _IOFBF, BASE_BUF) != 0 ||
	    manifest_write(m, fp) == -1)
		goto out;
	if (fflush(fp) == EOF) {
		err_sys("cannot write '%s'", bname);
		goto out;
	}
	/* The temporary is open for writing only: read it by its name. */
	if ((rfd = openat(dirfd, af.tmpname,
		 O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		err_sys("cannot read back '%s'", bname);
		goto out;
	}
	if (digest_init(&dg) == -1)
		goto out;
	for (;;) {
		n = pread(rfd, sbuf, BASE_BUF, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err_sys("cannot read back '%s'", bname);
			goto out;
		}
		if (n == 0)
			break;
		if (digest_update(&dg, sbuf, (size_t)n) == -1)
			goto out;
		off += (uint64_t)n;
	}
	if (digest_final(&dg, digest) == -1)
		goto out;
	if (atomic_commit(&af) == -1)
		goto out;
	*len = off;
	rc = 0;
out:
	if (rfd != -1)
		close(rfd);
	if (rc == -1)
		atomic_abort(&af);
	digest_free(&dg);
	free(sbuf); /* after the stream is closed (commit or abort) */
	return rc;
}

struct sink {
	FILE *fp;
	size_t n;
};

static int
sink_line(const struct change *c, void *arg)
{
	struct sink *s = arg;

	s->n++;
	return change_write(c, s->fp);
}

/*
 * Render the delta of new against the base b: the lines are
 * changes_compute(base, new), computed on the touched paths only (the
 * paths the old delta or old -> new change; elsewhere base == new).
 */
static int
render_delta(const struct mdelta_base *b, const struct manifest *old,
    const struct manifest *nm, char **buf, size_t *len, size_t *nlines)
{
	struct manifest bt, nt;
	struct change_list cl;
	struct sink s = { NULL, 0 };
	char hex[DIGEST_HEXLEN + 1];
	size_t i = 0, j = 0, nb = b->touched.n;
	const struct change_line *tl;
	const struct entry *be, *ne;
	long long count;
	int c, rc = -1;

	*buf = NULL;
	*len = 0;
	manifest_init(&bt);
	manifest_init(&nt);
	change_list_init(&cl);
	if (old != NULL && changes_list(old, nm, &cl) == -1)
		goto out;
	while (i < nb || j < cl.n) {
		if (j == cl.n)
			c = -1;
		else if (i == nb)
			c = 1;
		else
			c = strcmp(b->touched.v[i].e.path,
			    change_entry(&cl.v[j])->path);
		if (c <= 0) {
			tl = &b->touched.v[i];
			be = tl->kind == CHANGE_ADD ? NULL : &tl->e;
			ne =
			    c == 0 ? cl.v[j].to : manifest_find(nm, tl->e.path);
		} else {
			be = cl.v[j].from;
			ne = cl.v[j].to;
		}
		if (be != NULL && manifest_add(&bt, be) == -1)
			goto out;
		if (ne != NULL && manifest_add(&nt, ne) == -1)
			goto out;
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
	}
	if ((s.fp = open_memstream(buf, len)) == NULL) {
		err_nomem();
		goto out;
	}
	/* The line count comes first: count, then write. */
	if ((count = changes_compute(&bt, &nt, NULL, NULL)) < 0)
		goto out;
	digest_hex(b->digest, hex);
	fprintf(s.fp, "%s\nbase %s %s\nchanges %lld\n", MDELTA_MAGIC, b->name,
	    hex, count);
	if (nm->package != NULL)
		fprintf(s.fp, "package %s\n", nm->package);
	if (nm->version != 0)
		fprintf(s.fp, "version %" PRIu64 "\n", nm->version);
	if (changes_compute(&bt, &nt, sink_line, &s) < 0)
		goto out;
	if (ferror(s.fp)) {
		err_nomem();
		goto out;
	}
	*nlines = s.n;
	rc = 0;
out:
	if (s.fp != NULL && fclose(s.fp) == EOF && rc == 0) {
		err_nomem();
		rc = -1;
	}
	if (rc == -1) {
		free(*buf);
		*buf = NULL;
	}
	manifest_free(&bt);
	manifest_free(&nt);
	change_list_free(&cl);
	return rc;
}

int
mdelta_save_at(int dirfd, const char *name, const struct manifest *old,
    const struct manifest *m, struct mdelta_base *b, uint64_t *bytes)
{
	struct mdelta_base nb;
	struct stat st;
	char *buf = NULL, bname[MDELTA_NAME_MAX];
	size_t len = 0, nlines = 0;
	uint64_t blen = 0;
	unsigned k;
	int rc = -1;

	mdelta_base_init(&nb);
	if (b != NULL && b->name[0] != '\0' && old != NULL) {
		if (render_delta(b, old, m, &buf, &len, &nlines) == -1)
			goto out;
		if (nlines * MDELTA_REBASE_DIV <= b->nbase) {
			if (atomic_write_file(dirfd, name, buf, len, 0444) ==
			    -1)
				goto out;
			if (bytes != NULL)
				*bytes += len;
			rc = 0;
			goto out;
		}
		free(buf);
		buf = NULL;
	}
	/* A new base, then an empty delta against it. */
	for (k = 1;; k++) {
		if (k > BASE_K_MAX) {
			err_set("no free name for a new base");
			goto out;
		}
		snprintf(bname, sizeof(bname), "%s%" PRIu64 ".%u",
		    MDELTA_BASE_PREFIX, m->version, k);
		if (fstatat(dirfd, bname, &st, AT_SYMLINK_NOFOLLOW) == -1 &&
		    errno == ENOENT)
			break;
	}
	if (write_base(dirfd, bname, m, nb.digest, &blen) == -1)
		goto out;
	if (bytes != NULL)
		*bytes += blen;
	snprintf(nb.name, sizeof(nb.name), "%s", bname);
	nb.nbase = m->n;
	if (render_delta(&nb, NULL, m, &buf, &len, &nlines) == -1 ||
	    atomic_write_file(dirfd, name, buf, len, 0444) == -1)
		goto out;
	if (bytes != NULL)
		*bytes += len;
	if (b != NULL) {
		mdelta_base_free(b);
		*b = nb;
		mdelta_base_init(&nb);
	}
	rc = 0;
out:
	mdelta_base_free(&nb);
	free(buf);
	return rc;
}

int
mdelta_save_pointer(int dirfd, const char *name, const char *link,
    uint64_t *bytes)
{
	char *buf = NULL, *want = NULL;
	size_t len, wl;
	int rc = -1;

	wl = strlen(MDELTA_POINTER_MAGIC) + strlen(link) + 8;
	if ((want = malloc(wl)) == NULL)
		return err_nomem();
	snprintf(want, wl, "%s\nlink %s\n", MDELTA_POINTER_MAGIC, link);
	wl = strlen(want);
	/* Already there: nothing to write.  Anything else there (a manifest
	 * of an earlier release, a planted link) is replaced; a file that
	 * cannot be read is an error. */
	if (read_at(dirfd, name, name, &buf, &len) == 0) {
		if (len == wl && memcmp(buf, want, wl) == 0) {
			rc = 0;
			goto out;
		}
	} else if (err_errno() != 0 && err_errno() != ENOENT)
		goto out;
	if (atomic_write_file(dirfd, name, want, wl, 0444) == -1)
		goto out;
	if (bytes != NULL)
		*bytes += wl;
	rc = 0;
out:
	free(buf);
	free(want);
	return rc;
}

int
mdelta_base_of(int dirfd, const char *name, char out[MDELTA_NAME_MAX])
{
	char buf[HEAD_MAX + 1];
	struct head h;
	struct stat st;
	ssize_t n;
	int fd;

	out[0] = '\0';
	if ((fd = openat(dirfd, name,
		 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) ==
	    -1) {
		if (errno == ENOENT || errno == ELOOP)
			return 0;
		return err_sys("%s", name);
	}
	if (fstat(fd, &st) == -1) {
		err_sys("%s", name);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	if ((n = pread(fd, buf, HEAD_MAX, 0)) == -1) {
		err_sys("%s", name);
		close(fd);
		return -1;
	}
	close(fd);
	buf[n] = '\0';
	if (!starts_with_line(buf, (size_t)n, MDELTA_MAGIC) ||
	    head_parse(buf, (size_t)n, name, &h) == -1)
		return 0;
	snprintf(out, MDELTA_NAME_MAX, "%s", h.base);
	return 1;
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
mdelta_gc(int dirfd)
{
	char **names, **refs = NULL, **nv, ref[MDELTA_NAME_MAX];
	size_t n, nr = 0, cr = 0, i, l;
	int r, rc = -1;

	if (io_list_names(dirfd, NULL, NULL, &names, &n) == -1)
		return err_prefix("the bases: ");
	/* The bases the manifests name. */
	for (i = 0; i < n; i++) {
		l = strlen(names[i]);
		if (!(strcmp(names[i], "manifest") == 0 ||
			(l > 9 && strcmp(names[i] + l - 9, ".manifest") == 0)))
			continue;
		if ((r = mdelta_base_of(dirfd, names[i], ref)) == -1)
			goto out; /* unsure what is used: remove none */
		if (r == 0)
			continue;
		if (nr == cr) {
			cr = cr ? cr * 2 : 8;
			if ((nv = realloc(refs, cr * sizeof(*nv))) == NULL)
				goto nomem;
			refs = nv;
		}
		if ((refs[nr] = strdup(ref)) == NULL)
			goto nomem;
		nr++;
	}
	if (nr > 0)
		qsort(refs, nr, sizeof(*refs), cmpstr);
	rc = 0;
	for (i = 0; i < n; i++) { /* the listing is complete */
		const char *key = names[i];

		if (!mdelta_name_valid(names[i]) ||
		    (nr > 0 &&
			bsearch(&key, refs, nr, sizeof(*refs), cmpstr) != NULL))
			continue;
		if (io_unlink(dirfd, names[i], 0) == -1 &&
		    err_errno() != ENOENT) {
			rc = -1;
			break;
		}
	}
	goto out;
nomem:
	err_nomem();
out:
	io_names_free(names, n);
	io_names_free(refs, nr);
	return rc;
}
