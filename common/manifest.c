/*
 * manifest.c — the manifest model, its only parser and its only writer
 * (see manifest.h and pkgmanifest(5)).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "err.h"
#include "manifest.h"
#include "num.h"
#include "path.h"

#define MANIFEST_SAVE_BUF (1 << 20) /* stdio buffer of manifest_save */

/* A line holds at most two escaped paths (4 bytes a byte) and numbers. */
#define LINE_MAX_LEN (8 * MANIFEST_PATH_MAX + 256)
#define READ_BLOCK (1024 * 1024)

/*
 * Entries
 */

/* Next space-delimited field of line[*pos .. len). */
static int
next_field(const char *line, size_t len, size_t *pos, const char **f,
    size_t *flen, const char *what)
{
	const char *sp;

	if (*pos >= len)
		return err_set("missing %s", what);
	*f = line + *pos;
	sp = memchr(*f, ' ', len - *pos);
	*flen = sp != NULL ? (size_t)(sp - *f) : len - *pos;
	if (*flen == 0)
		return err_set("empty %s (two spaces?)", what);
	*pos += *flen + (sp != NULL ? 1 : 0);
	if (sp != NULL && *pos >= len)
		return err_set("line ends in a space");
	return 0;
}

/*
 * Parse into e, reusing its path/target buffers (capacity in *pcap and
 * *tcap) so the streaming reader allocates only when a longer path comes.
 */
static int
entry_parse_into(const char *line, size_t len, struct entry *e, size_t *pcap,
    size_t *tcap)
{
	const char *f, *arrow;
	size_t flen, pos = 0, plen;
	unsigned mode = 0;
	char *nb;
	size_t i;

	if (next_field(line, len, &pos, &f, &flen, "type") == -1)
		return -1;
	if (flen != 1 || (f[0] != 'f' && f[0] != 'd' && f[0] != 'l'))
		return err_set("unknown entry type '%.*s'",
		    (int)(flen > 8 ? 8 : flen), f);
	e->type = f[0];
	if (next_field(line, len, &pos, &f, &flen, "mode") == -1)
		return -1;
	if (flen != 4)
		return err_set("mode '%.*s' is not 4 octal digits",
		    (int)(flen > 8 ? 8 : flen), f);
	for (i = 0; i < 4; i++) {
		if (f[i] < '0' || f[i] > '7')
			return err_set("mode '%.4s' is not 4 octal digits", f);
		mode = mode << 3 | (unsigned)(f[i] - '0');
	}
	e->mode = mode;
	if (next_field(line, len, &pos, &f, &flen, "size") == -1)
		return -1;
	if (num_u64(f, flen, UINT64_MAX, &e->size) == -1)
		return err_set("size '%.*s' is not a number or too large",
		    (int)(flen > 24 ? 24 : flen), f);
	if (next_field(line, len, &pos, &f, &flen, "mtime") == -1)
		return -1;
	if (num_i64(f, flen, &e->mtime) == -1)
		return err_set("mtime '%.*s' is not a number or too large",
		    (int)(flen > 24 ? 24 : flen), f);
	if (next_field(line, len, &pos, &f, &flen, "digest") == -1)
		return -1;
	if (e->type == ENTRY_FILE) {
		if (digest_unhex(f, flen, e->digest) == -1)
			return err_set("digest is not 64 lowercase hex "
				       "digits");
	} else {
		if (flen != 1 || f[0] != '-')
			return err_set("a '%c' entry has digest '-'", e->type);
		memset(e->digest, 0, sizeof(e->digest));
	}
	if (pos >= len)
		return err_set("missing path");
	f = line + pos;
	flen = len - pos;
	arrow = memchr(f, ' ', flen);
	plen = arrow != NULL ? (size_t)(arrow - f) : flen;
	if (plen + 1 > *pcap) {
		if ((nb = realloc(e->path, plen + 1)) == NULL)
			return err_nomem();
		e->path = nb;
		*pcap = plen + 1;
	}
	if (path_unescape_into(f, plen, e->path) == -1 ||
	    path_check(e->path) == -1)
		return -1;
	if (e->type != ENTRY_LINK) {
		if (arrow != NULL)
			return err_set("unexpected text after the path");
		if (e->type == ENTRY_DIR && e->size != 0)
			return err_set("directory size is not 0");
		return 0;
	}
	if (arrow == NULL || flen - plen < 5 || memcmp(arrow, " -> ", 4) != 0)
		return err_set("link without ' -> TARGET'");
	f = arrow + 4;
	flen = flen - plen - 4;
	if (memchr(f, ' ', flen) != NULL)
		return err_set("unexpected text after the link target");
	if (flen + 1 > *tcap) {
		if ((nb = realloc(e->target, flen + 1)) == NULL)
			return err_nomem();
		e->target = nb;
		*tcap = flen + 1;
	}
	if (path_unescape_into(f, flen, e->target) == -1)
		return err_prefix("link target: ");
	if (strlen(e->target) > MANIFEST_PATH_MAX)
		return err_set("link target longer than %d bytes",
		    MANIFEST_PATH_MAX);
	if (e->size != strlen(e->target))
		return err_set("link size %llu is not the length of its "
			       "target",
		    (unsigned long long)e->size);
	return 0;
}

int
entry_parse(const char *line, size_t len, struct entry *e)
{
	size_t pcap = 0, tcap = 0;

	memset(e, 0, sizeof(*e));
	if (memchr(line, '\0', len) != NULL)
		return err_set("NUL byte in line");
	if (entry_parse_into(line, len, e, &pcap, &tcap) == -1) {
		entry_free(e);
		return -1;
	}
	return 0;
}

void
entry_free(struct entry *e)
{
	free(e->path);
	free(e->target);
	e->path = NULL;
	e->target = NULL;
}

static char *
put_u64(char *o, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*o++ = tmp[--n];
	return o;
}

/*
 * The line is formatted into one buffer and written with one fwrite:
 * stdio's printf machinery and a call per escaped run cost more than
 * the stat walk itself in pkgdiff scan --reuse of 100,000 files.
 */
int
entry_write(const struct entry *e, FILE *fp)
{
	char buf[8 * MANIFEST_PATH_MAX + 128], *o = buf;
	unsigned mode = e->mode & 07777;

	if (strlen(e->path) > MANIFEST_PATH_MAX ||
	    (e->type == ENTRY_LINK &&
		(e->target == NULL || strlen(e->target) > MANIFEST_PATH_MAX)))
		return err_set("cannot write manifest: path or target "
			       "longer than %d bytes",
		    MANIFEST_PATH_MAX);
	*o++ = e->type;
	*o++ = ' ';
	*o++ = (char)('0' + (mode >> 9));
	*o++ = (char)('0' + ((mode >> 6) & 7));
	*o++ = (char)('0' + ((mode >> 3) & 7));
	*o++ = (char)('0' + (mode & 7));
	*o++ = ' ';
	o = put_u64(o, e->size);
	*o++ = ' ';
	if (e->mtime < 0) {
		*o++ = '-';
		o = put_u64(o, (uint64_t)0 - (uint64_t)e->mtime);
	} else
		o = put_u64(o, (uint64_t)e->mtime);
	*o++ = ' ';
	if (e->type == ENTRY_FILE) {
		digest_hex(e->digest, o);
		o += DIGEST_HEXLEN;
	} else
		*o++ = '-';
	*o++ = ' ';
	o = path_escape_into(e->path, o);
	if (e->type == ENTRY_LINK) {
		memcpy(o, " -> ", 4);
		o = path_escape_into(e->target, o + 4);
	}
	*o++ = '\n';
	if (fwrite(buf, 1, (size_t)(o - buf), fp) != (size_t)(o - buf))
		return err_sys("cannot write manifest");
	return 0;
}

bool
entry_same_content(const struct entry *a, const struct entry *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case ENTRY_FILE:
		return a->size == b->size &&
		    memcmp(a->digest, b->digest, DIGEST_LEN) == 0;
	case ENTRY_LINK:
		return strcmp(a->target, b->target) == 0;
	default:
		return true;
	}
}

/*
 * Order and the "no path through a file or link" rule, shared by the
 * streaming reader and manifest_check().
 *
 * Paths with the prefix "p/" form one contiguous block in sorted order,
 * and the blocks of file or link entries still ahead nest like a stack:
 * a later p2 sorts between p and "p/", so "p2/" ends before "p/" starts.
 * A stack of such entries therefore finds every offending path in one
 * pass, in memory bounded by the depth of that nesting.
 */
struct order {
	char *prev;
	size_t prevcap;
	char **stack;
	size_t depth, cap;
};

/* <0: q sorts before p's block, 0: q is in it, >0: after it. */
static int
block_cmp(const char *q, const char *p)
{
	size_t n = strlen(p);
	int c = strncmp(q, p, n);
	unsigned char next;

	if (c != 0)
		return c;
	next = (unsigned char)q[n];
	if (next == '/')
		return 0;
	return next < '/' ? -1 : 1;
}

/* err_set() with the escaped forms of two paths as the %s arguments. */
static int
order_fail(const char *fmt, const char *p1, const char *p2)
{
	char s1[PATH_SHOW_LEN], s2[PATH_SHOW_LEN];

	return err_set(fmt, path_show(p1, s1, sizeof(s1)),
	    path_show(p2, s2, sizeof(s2)));
}

static int
order_check(struct order *o, const struct entry *e)
{
	size_t len = strlen(e->path);
	char *nb;

	if (o->prev != NULL) {
		int c = strcmp(o->prev, e->path);

		if (c == 0)
			return order_fail("duplicate path '%s'%.0s", e->path,
			    "");
		if (c > 0)
			return order_fail("path '%s' is out of order: it "
					  "sorts before '%s'",
			    e->path, o->prev);
	}
	while (o->depth > 0 && block_cmp(e->path, o->stack[o->depth - 1]) > 0)
		free(o->stack[--o->depth]);
	if (o->depth > 0 && block_cmp(e->path, o->stack[o->depth - 1]) == 0)
		return order_fail("path '%s' runs through '%s', which is a "
				  "file or link",
		    e->path, o->stack[o->depth - 1]);
	if (e->type != ENTRY_DIR) {
		if (o->depth == o->cap) {
			size_t ncap = o->cap ? o->cap * 2 : 16;
			char **ns = realloc(o->stack, ncap * sizeof(*ns));

			if (ns == NULL)
				return err_sys("cannot check manifest");
			o->stack = ns;
			o->cap = ncap;
		}
		if ((o->stack[o->depth] = strdup(e->path)) == NULL)
			return err_nomem();
		o->depth++;
	}
	if (len + 1 > o->prevcap) {
		if ((nb = realloc(o->prev, len + 1)) == NULL)
			return err_nomem();
		o->prev = nb;
		o->prevcap = len + 1;
	}
	/* len + 1 cannot wrap to 0, so prev was allocated just above. */
	/* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
	memcpy(o->prev, e->path, len + 1);
	return 0;
}

static void
order_free(struct order *o)
{
	while (o->depth > 0)
		free(o->stack[--o->depth]);
	free(o->stack);
	free(o->prev);
	memset(o, 0, sizeof(*o));
}

/*
 * The streaming reader
 */

struct manifest_reader {
	FILE *fp;
	char *name;
	unsigned long lineno;
	char *buf; /* READ_BLOCK bytes */
	size_t start, end;
	bool eof;
	char *package;
	uint64_t version;
	struct entry cur;
	size_t pcap, tcap;
	char *tsave; /* target buffer while cur is no link */
	struct order order;
	char *pending; /* first entry line, read with the header */
	size_t pendlen;
	bool have_pending;
};

/* 1: *line and *len give the next line (no newline), 0: end, -1: error. */
static int
reader_line(struct manifest_reader *r, char **line, size_t *len)
{
	char *nl;
	size_t got;

	for (;;) {
		nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		if (nl != NULL) {
			*line = r->buf + r->start;
			*len = (size_t)(nl - *line);
			r->start += *len + 1;
			r->lineno++;
			if (*len > LINE_MAX_LEN)
				return err_set("line too long");
			if (memchr(*line, '\0', *len) != NULL)
				return err_set("NUL byte in line");
			return 1;
		}
		if (r->end - r->start > LINE_MAX_LEN) {
			r->lineno++;
			return err_set("line too long");
		}
		if (r->eof) {
			if (r->end > r->start) {
				r->lineno++;
				return err_set("truncated: last line has no "
					       "newline");
			}
			return 0;
		}
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
		got = fread(r->buf + r->end, 1, READ_BLOCK - r->end, r->fp);
		r->end += got;
		if (got == 0) {
			if (ferror(r->fp))
				return err_sys("read error");
			r->eof = true;
		}
	}
}

static int
reader_fail(struct manifest_reader *r)
{
	char shown[PATH_SHOW_LEN];

	return err_prefix("%s:%lu: ", path_show(r->name, shown, sizeof(shown)),
	    r->lineno);
}

static int
reader_header(struct manifest_reader *r)
{
	char *line;
	size_t len;
	uint64_t v;
	int got;

	if ((got = reader_line(r, &line, &len)) == -1)
		return -1;
	if (got == 0) {
		r->lineno = 1;
		return err_set("truncated: empty file, expected '%s'",
		    MANIFEST_MAGIC);
	}
	if (len != strlen(MANIFEST_MAGIC) ||
	    memcmp(line, MANIFEST_MAGIC, len) != 0)
		return err_set("not a pkgdist manifest: first line is not "
			       "'%s'",
		    MANIFEST_MAGIC);
	for (;;) {
		if ((got = reader_line(r, &line, &len)) <= 0)
			return got;
		if (len > 8 && memcmp(line, "package ", 8) == 0 &&
		    r->package == NULL && r->version == 0) {
			if ((r->package = strndup(line + 8, len - 8)) == NULL)
				return err_nomem();
			if (!name_valid(r->package))
				return err_set("invalid package name");
			continue;
		}
		if (len > 8 && memcmp(line, "version ", 8) == 0 &&
		    r->version == 0) {
			if (num_u64(line + 8, len - 8, UINT64_MAX, &v) == -1 ||
			    v == 0)
				return err_set("version is not a positive "
					       "number");
			r->version = v;
			continue;
		}
		if ((len > 8 && memcmp(line, "package ", 8) == 0) ||
		    (len > 8 && memcmp(line, "version ", 8) == 0))
			return err_set("header line '%.7s' repeated or out "
				       "of order",
			    line);
		/* The first entry: parse it on the first next() call. */
		r->pending = line;
		r->pendlen = len;
		r->have_pending = true;
		return 1;
	}
}

int
manifest_reader_open(FILE *fp, const char *name, struct manifest_reader **out)
{
	struct manifest_reader *r;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->buf = malloc(READ_BLOCK)) == NULL ||
	    (r->name = strdup(name)) == NULL) {
		char shown[PATH_SHOW_LEN];

		err_sys("cannot read '%s'",
		    path_show(name, shown, sizeof(shown)));
		manifest_reader_close(r);
		return -1;
	}
	r->fp = fp;
	if (reader_header(r) == -1) {
		reader_fail(r);
		manifest_reader_close(r);
		return -1;
	}
	*out = r;
	return 0;
}

const char *
manifest_reader_package(const struct manifest_reader *r)
{
	return r->package;
}

uint64_t
manifest_reader_version(const struct manifest_reader *r)
{
	return r->version;
}

int
manifest_reader_next(struct manifest_reader *r, const struct entry **e)
{
	char *line;
	size_t len;
	int got;

	if (r->have_pending) {
		line = r->pending;
		len = r->pendlen;
		r->have_pending = false;
	} else if ((got = reader_line(r, &line, &len)) <= 0) {
		if (got == -1)
			reader_fail(r);
		return got;
	}
	/* The target buffer is kept across entries, but an entry that is
	 * no link shows target NULL, as the model says. */
	if (r->cur.target == NULL) {
		r->cur.target = r->tsave;
		r->tsave = NULL;
	}
	if (entry_parse_into(line, len, &r->cur, &r->pcap, &r->tcap) == -1 ||
	    order_check(&r->order, &r->cur) == -1)
		return reader_fail(r);
	if (r->cur.type != ENTRY_LINK) {
		r->tsave = r->cur.target;
		r->cur.target = NULL;
	}
	*e = &r->cur;
	return 1;
}

void
manifest_reader_close(struct manifest_reader *r)
{
	if (r == NULL)
		return;
	entry_free(&r->cur);
	free(r->tsave);
	order_free(&r->order);
	free(r->package);
	free(r->name);
	free(r->buf);
	free(r);
}

/*
 * The in-memory manifest
 */

void
manifest_init(struct manifest *m)
{
	memset(m, 0, sizeof(*m));
}

void
manifest_free(struct manifest *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		entry_free(&m->v[i]);
	free(m->v);
	free(m->package);
	manifest_init(m);
}

int
manifest_add(struct manifest *m, const struct entry *e)
{
	struct entry *ne;

	if (m->n == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 256;

		if ((ne = realloc(m->v, ncap * sizeof(*ne))) == NULL)
			return err_nomem();
		m->v = ne;
		m->cap = ncap;
	}
	ne = &m->v[m->n];
	*ne = *e;
	ne->target = NULL;
	if ((ne->path = strdup(e->path)) == NULL)
		return err_nomem();
	if (e->type == ENTRY_LINK &&
	    (ne->target = strdup(e->target != NULL ? e->target : "")) == NULL) {
		free(ne->path);
		return err_nomem();
	}
	m->n++;
	return 0;
}

int
manifest_set_header(struct manifest *m, const char *pkg, uint64_t version)
{
	char *p = NULL;

	if (pkg != NULL && (p = strdup(pkg)) == NULL)
		return err_nomem();
	free(m->package);
	m->package = p;
	m->version = version;
	return 0;
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->path,
	    ((const struct entry *)b)->path);
}

void
manifest_sort(struct manifest *m)
{
	if (m->n > 1)
		qsort(m->v, m->n, sizeof(m->v[0]), entry_cmp);
}

int
manifest_check(const struct manifest *m)
{
	struct order o = { 0 };
	char shown[PATH_SHOW_LEN];
	size_t i;
	int rc = 0;

	for (i = 0; i < m->n; i++) {
		const struct entry *e = &m->v[i];

		if (path_check(e->path) == -1 || order_check(&o, e) == -1 ||
		    (e->type == ENTRY_LINK &&
			(e->target == NULL || e->size != strlen(e->target)))) {
			if (e->type == ENTRY_LINK && err_get()[0] == '\0')
				err_set("link size is not its target length");
			err_prefix("entry '%s': ",
			    path_show(e->path, shown, sizeof(shown)));
			rc = -1;
			break;
		}
	}
	order_free(&o);
	return rc;
}

const struct entry *
manifest_find(const struct manifest *m, const char *path)
{
	struct entry key;

	memset(&key, 0, sizeof(key));
	key.path = (char *)(uintptr_t)path;
	return m->n == 0 ?
	    NULL :
	    bsearch(&key, m->v, m->n, sizeof(m->v[0]), entry_cmp);
}

static int
manifest_read(FILE *fp, const char *name, struct manifest *m)
{
	struct manifest_reader *r;
	const struct entry *e;
	int got;

	manifest_init(m);
	if (manifest_reader_open(fp, name, &r) == -1)
		return -1;
	if (manifest_set_header(m, manifest_reader_package(r),
		manifest_reader_version(r)) == -1)
		goto fail;
	while ((got = manifest_reader_next(r, &e)) == 1)
		if (manifest_add(m, e) == -1)
			goto fail;
	if (got == -1)
		goto fail;
	manifest_reader_close(r);
	return 0;
fail:
	manifest_reader_close(r);
	manifest_free(m);
	return -1;
}

int
manifest_load(const char *path, struct manifest *m)
{
	char shown[PATH_SHOW_LEN];
	FILE *fp;
	int rc;

	manifest_init(m);
	if (strcmp(path, "-") == 0)
		return manifest_read(stdin, "(standard input)", m);
	if ((fp = fopen(path, "re")) == NULL)
		return err_sys("cannot open '%s'",
		    path_show(path, shown, sizeof(shown)));
	rc = manifest_read(fp, path, m);
	fclose(fp);
	return rc;
}

int
manifest_load_buf(const char *buf, size_t len, const char *name,
    struct manifest *m)
{
	char shown[PATH_SHOW_LEN];
	FILE *fp;
	int rc;

	manifest_init(m);
	if (len == 0)
		return err_set("%s:1: truncated: empty, expected '%s'",
		    path_show(name, shown, sizeof(shown)), MANIFEST_MAGIC);
	if ((fp = fmemopen((void *)(uintptr_t)buf, len, "r")) == NULL)
		return err_sys("cannot read '%s'",
		    path_show(name, shown, sizeof(shown)));
	rc = manifest_read(fp, name, m);
	fclose(fp);
	return rc;
}

int
manifest_write(const struct manifest *m, FILE *fp)
{
	size_t i;

	if (fprintf(fp, "%s\n", MANIFEST_MAGIC) < 0)
		return err_sys("cannot write manifest");
	if (m->package != NULL && fprintf(fp, "package %s\n", m->package) < 0)
		return err_sys("cannot write manifest");
	if (m->version != 0 &&
	    fprintf(fp, "version %llu\n", (unsigned long long)m->version) < 0)
		return err_sys("cannot write manifest");
	for (i = 0; i < m->n; i++)
		if (entry_write(&m->v[i], fp) == -1)
			return -1;
	return 0;
}

int
manifest_write_mem(const struct manifest *m, char **buf, size_t *len)
{
	FILE *fp;

	*buf = NULL;
	*len = 0;
	if ((fp = open_memstream(buf, len)) == NULL)
		return err_nomem();
	if (manifest_write(m, fp) == -1) {
		fclose(fp);
		goto fail;
	}
	if (fclose(fp) != 0) {
		err_nomem();
		goto fail;
	}
	return 0;
fail:
	free(*buf);
	*buf = NULL;
	*len = 0;
	return -1;
}

int
manifest_save(const struct manifest *m, int dirfd, const char *name,
    unsigned mode)
{
	struct atomic_file af;
	FILE *fp;
	char *buf;
	int rc = -1;

	if (atomic_open(&af, dirfd, name, (mode_t)mode) == -1)
		return -1;
	/* A manifest of 100,000 entries is ~15 MB: written through the
	 * default 4 KiB stdio buffer that is ~3,700 write(2) calls. */
	buf = malloc(MANIFEST_SAVE_BUF);
	if ((fp = atomic_stream(&af)) == NULL ||
	    (buf != NULL && setvbuf(fp, buf, _IOFBF, MANIFEST_SAVE_BUF) != 0) ||
	    manifest_write(m, fp) == -1) {
		atomic_abort(&af);
		goto out;
	}
	rc = atomic_commit(&af);
out:
	free(buf); /* after the stream is closed (commit or abort) */
	return rc;
}
