/*
 * statcache.c — the stat check's record of what the last check saw
 * (statcache.h).
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atomic.h"
#include "digest.h"
#include "err.h"
#include "io.h"
#include "manifest.h"
#include "num.h"
#include "path.h"
#include "scan.h"
#include "statcache.h"

/* Largest cache read: a million files' lines fit well within it. */
#define STATCACHE_MAX ((size_t)1 << 30)

void
statcache_init(struct statcache *c, const struct manifest *want, bool deep)
{
	struct timespec ts;

	memset(c, 0, sizeof(*c));
	c->want = want;
	c->deep = deep;
	if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
		c->start_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
recs_free(struct statcache_rec *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

void
statcache_free(struct statcache *c)
{
	recs_free(c->v, c->n);
	recs_free(c->seen, c->nseen);
	c->v = c->seen = NULL;
	c->n = c->cap = c->nseen = c->capseen = 0;
}

/* Room for one more record in *v. */
static struct statcache_rec *
recs_grow(struct statcache_rec **v, size_t *n, size_t *cap)
{
	struct statcache_rec *nv;
	size_t ncap;

	if (*n == *cap) {
		ncap = *cap ? *cap * 2 : 256;
		if ((nv = realloc(*v, ncap * sizeof(*nv))) == NULL) {
			err_nomem();
			return NULL;
		}
		*v = nv;
		*cap = ncap;
	}
	memset(&(*v)[*n], 0, sizeof(**v));
	return &(*v)[(*n)++];
}

/* The next space-separated field of line[*pos..len): [*s, *s + *fl). */
static int
field(const char *line, size_t len, size_t *pos, const char **s, size_t *fl)
{
	const char *sp;

	if (*pos >= len)
		return -1;
	*s = line + *pos;
	if ((sp = memchr(*s, ' ', len - *pos)) == NULL)
		return -1;
	*fl = (size_t)(sp - *s);
	*pos += *fl + 1;
	return *fl > 0 ? 0 : -1;
}

/* One line "INO CTIME MTIME SIZE DIGEST PATH" into r. */
static int
parse_line(const char *line, size_t len, struct statcache_rec *r)
{
	const char *s;
	size_t pos = 0, fl;

	if (field(line, len, &pos, &s, &fl) == -1 ||
	    num_u64(s, fl, UINT64_MAX, &r->ino) == -1)
		return err_set("bad inode");
	if (field(line, len, &pos, &s, &fl) == -1 ||
	    num_i64(s, fl, &r->ctime_ns) == -1)
		return err_set("bad ctime");
	if (field(line, len, &pos, &s, &fl) == -1 ||
	    num_i64(s, fl, &r->mtime_ns) == -1)
		return err_set("bad mtime");
	if (field(line, len, &pos, &s, &fl) == -1 ||
	    num_u64(s, fl, UINT64_MAX, &r->size) == -1)
		return err_set("bad size");
	if (field(line, len, &pos, &s, &fl) == -1 ||
	    digest_unhex(s, fl, r->digest) == -1)
		return err_set("bad digest");
	if (pos >= len)
		return err_set("no path");
	if (path_unescape(line + pos, len - pos, &r->path) == -1)
		return -1;
	if (path_check(r->path) == -1)
		return -1;
	return 0;
}

int
statcache_load(struct statcache *c, int dirfd, const char *name,
    const char *shown)
{
	struct statcache_rec *r;
	char *buf = NULL, *p, *nl, *end;
	unsigned long line = 1;
	size_t len;
	int rc = -1;

	if (io_slurp(dirfd, name, STATCACHE_MAX, &buf, &len) == -1) {
		if (err_errno() == ENOENT)
			return 0;
		return err_prefix("'%s': ", shown);
	}
	end = buf + len;
	if ((nl = memchr(buf, '\n', len)) == NULL ||
	    (size_t)(nl - buf) != strlen(STATCACHE_MAGIC) ||
	    memcmp(buf, STATCACHE_MAGIC, strlen(STATCACHE_MAGIC)) != 0) {
		err_set("%s:1: not a stat cache (no '%s' line)", shown,
		    STATCACHE_MAGIC);
		goto out;
	}
	for (p = nl + 1; p < end; p = nl + 1) {
		line++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			err_set("%s:%lu: no newline at the end", shown, line);
			goto out;
		}
		if ((r = recs_grow(&c->v, &c->n, &c->cap)) == NULL)
			goto out;
		if (parse_line(p, (size_t)(nl - p), r) == -1) {
			c->n--;
			free(r->path);
			err_prefix("%s:%lu: ", shown, line);
			goto out;
		}
		if (c->n > 1 && strcmp(c->v[c->n - 2].path, r->path) >= 0) {
			err_set("%s:%lu: not sorted by path", shown, line);
			goto out;
		}
	}
	rc = 0;
out:
	if (rc == -1) {
		recs_free(c->v, c->n);
		c->v = NULL;
		c->n = c->cap = 0;
	}
	free(buf);
	return rc;
}

/* The last check's line for path (binary search). */
static const struct statcache_rec *
rec_find(const struct statcache *c, const char *path)
{
	size_t lo = 0, hi = c->n, mid;
	int d;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		d = strcmp(c->v[mid].path, path);
		if (d == 0)
			return &c->v[mid];
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool
statcache_known(const char *path, const struct scan_stat *st,
    unsigned char digest[DIGEST_LEN], void *arg)
{
	struct statcache *c = arg;
	const struct statcache_rec *old;
	const struct entry *e;
	struct statcache_rec *r;

	/* Recorded unless changed too close to the check's start. */
	if (c->start_ns != 0 &&
	    st->ctime_ns < c->start_ns - STATCACHE_RACY_NS &&
	    (r = recs_grow(&c->seen, &c->nseen, &c->capseen)) != NULL) {
		if ((r->path = strdup(path)) == NULL)
			c->nseen--;
		else {
			r->ino = st->ino;
			r->size = st->size;
			r->ctime_ns = st->ctime_ns;
			r->mtime_ns = st->mtime_ns;
		}
	}
	if (c->deep || c->want == NULL ||
	    (e = manifest_find(c->want, path)) == NULL)
		return false;
	if (e->type != ENTRY_FILE || e->size != st->size ||
	    e->mode != st->mode || e->mtime != st->mtime)
		return false;
	if ((old = rec_find(c, path)) == NULL || old->ino != st->ino ||
	    old->ctime_ns != st->ctime_ns || old->size != st->size ||
	    old->mtime_ns != st->mtime_ns)
		return false;
	memcpy(digest, old->digest, DIGEST_LEN);
	c->hits++;
	return true;
}

static int
rec_cmp(const void *a, const void *b)
{
	return strcmp(((const struct statcache_rec *)a)->path,
	    ((const struct statcache_rec *)b)->path);
}

int
statcache_save(struct statcache *c, const struct manifest *have, int dirfd,
    const char *name)
{
	struct atomic_file af;
	const struct entry *e;
	char hex[DIGEST_HEXLEN + 1];
	size_t i;
	FILE *fp;
	int rc = -1;

	/* The walk's order is the manifest's; do not rely on it. */
	if (c->nseen > 1)
		qsort(c->seen, c->nseen, sizeof(c->seen[0]), rec_cmp);
	if (atomic_open(&af, dirfd, name, 0644) == -1)
		return -1;
	if ((fp = atomic_stream(&af)) == NULL)
		goto out;
	if (fprintf(fp, "%s\n", STATCACHE_MAGIC) < 0)
		goto werr;
	for (i = 0; i < c->nseen; i++) {
		const struct statcache_rec *r = &c->seen[i];

		/* Only what the scan hashed or took: a file it saw. */
		if ((e = manifest_find(have, r->path)) == NULL ||
		    e->type != ENTRY_FILE)
			continue;
		digest_hex(e->digest, hex);
		if (fprintf(fp, "%llu %lld %lld %llu %s ",
			(unsigned long long)r->ino, (long long)r->ctime_ns,
			(long long)r->mtime_ns, (unsigned long long)r->size,
			hex) < 0 ||
		    path_escape_write(r->path, fp) == -1 ||
		    fputc('\n', fp) == EOF)
			goto werr;
	}
	if (atomic_commit(&af) == -1)
		goto out;
	rc = 0;
	goto out;
werr:
	err_sys("cannot write '%s'", name);
out:
	atomic_abort(&af);
	return rc;
}
