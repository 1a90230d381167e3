/*
 * changes.c — change lists (changes.h): compute, stream, write, parse,
 * count.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changes.h"
#include "err.h"
#include "manifest.h"
#include "path.h"

const struct entry *
change_entry(const struct change *c)
{
	return c->kind == CHANGE_DEL ? c->from : c->to;
}

int
changes_classify(const struct entry *from, const struct entry *to)
{
	if (from->type != to->type)
		return CHANGE_MOD;
	switch (from->type) {
	case ENTRY_FILE:
		if (from->size != to->size ||
		    memcmp(from->digest, to->digest, DIGEST_LEN) != 0)
			return CHANGE_MOD;
		break;
	case ENTRY_LINK:
		if (from->target == NULL || to->target == NULL ||
		    strcmp(from->target, to->target) != 0)
			return CHANGE_MOD;
		break;
	default:
		break;
	}
	if (from->mode != to->mode || from->mtime != to->mtime)
		return CHANGE_PERM;
	return CHANGE_NONE;
}

/* Compare two paths in manifest order (bytes, unsigned). */
static int
path_cmp(const char *a, const char *b)
{
	return strcmp(a, b); /* strcmp compares as unsigned char */
}

/* Emit one change; returns 1 (a change), or -1 when fn stopped. */
static int
emit(char kind, const struct entry *from, const struct entry *to, changes_fn fn,
    void *arg)
{
	struct change c;

	if (fn == NULL)
		return 1;
	c.kind = kind;
	c.from = from;
	c.to = to;
	return fn(&c, arg) == -1 ? -1 : 1;
}

/* One step of the merge of two sorted sequences: a or b may be NULL
 * (that side ended).  *adv gets which sides to advance (1 a, 2 b). */
static int
step(const struct entry *a, const struct entry *b, changes_fn fn, void *arg,
    int *adv)
{
	int c = 0, k;

	if (b == NULL || (a != NULL && (c = path_cmp(a->path, b->path)) < 0)) {
		*adv = 1;
		return emit(CHANGE_DEL, a, NULL, fn, arg);
	}
	if (a == NULL || c > 0) {
		*adv = 2;
		return emit(CHANGE_ADD, NULL, b, fn, arg);
	}
	*adv = 3;
	if ((k = changes_classify(a, b)) == CHANGE_NONE)
		return 0;
	return emit((char)k, a, b, fn, arg);
}

long long
changes_compute(const struct manifest *from, const struct manifest *to,
    changes_fn fn, void *arg)
{
	size_t i = 0, j = 0;
	long long n = 0;
	int r, adv;

	while (i < from->n || j < to->n) {
		r = step(i < from->n ? &from->v[i] : NULL,
		    j < to->n ? &to->v[j] : NULL, fn, arg, &adv);
		if (r == -1)
			return -1;
		n += r;
		if (adv & 1)
			i++;
		if (adv & 2)
			j++;
	}
	return n;
}

long long
changes_stream(struct manifest_reader *from, struct manifest_reader *to,
    changes_fn fn, void *arg)
{
	const struct entry *a = NULL, *b = NULL;
	long long n = 0;
	int ra, rb, r, adv;

	if ((ra = manifest_reader_next(from, &a)) == -1)
		return -1;
	if ((rb = manifest_reader_next(to, &b)) == -1)
		return -1;
	while (ra == 1 || rb == 1) {
		r = step(ra == 1 ? a : NULL, rb == 1 ? b : NULL, fn, arg, &adv);
		if (r == -1)
			return -1;
		n += r;
		if ((adv & 1) && (ra = manifest_reader_next(from, &a)) == -1)
			return -1;
		if ((adv & 2) && (rb = manifest_reader_next(to, &b)) == -1)
			return -1;
	}
	return n;
}

void
change_list_init(struct change_list *l)
{
	memset(l, 0, sizeof(*l));
}

void
change_list_free(struct change_list *l)
{
	free(l->v);
	change_list_init(l);
}

static int
list_push(const struct change *c, void *arg)
{
	struct change_list *l = arg;
	struct change *nv;
	size_t ncap;

	if (l->n == l->cap) {
		ncap = l->cap ? l->cap * 2 : 64;
		if ((nv = realloc(l->v, ncap * sizeof(*nv))) == NULL)
			return err_nomem();
		l->v = nv;
		l->cap = ncap;
	}
	l->v[l->n++] = *c;
	return 0;
}

int
changes_list(const struct manifest *from, const struct manifest *to,
    struct change_list *l)
{
	return changes_compute(from, to, list_push, l) == -1 ? -1 : 0;
}

int
change_write(const struct change *c, FILE *fp)
{
	if (putc(c->kind, fp) == EOF || putc(' ', fp) == EOF)
		return err_sys("cannot write change list");
	return entry_write(change_entry(c), fp);
}

int
changes_write_mem(const struct change *v, size_t n, char **buf, size_t *len)
{
	FILE *fp;
	size_t i;
	int rc = 0;

	*buf = NULL;
	*len = 0;
	if ((fp = open_memstream(buf, len)) == NULL)
		return err_nomem();
	for (i = 0; i < n && rc == 0; i++)
		rc = change_write(&v[i], fp);
	if (fclose(fp) != 0 && rc == 0)
		rc = err_nomem();
	if (rc == -1) {
		free(*buf);
		*buf = NULL;
		*len = 0;
	}
	return rc;
}

/*
 * Change-list files.
 */
void
change_file_init(struct change_file *cf)
{
	memset(cf, 0, sizeof(*cf));
}

void
change_file_free(struct change_file *cf)
{
	size_t i;

	for (i = 0; i < cf->n; i++)
		entry_free(&cf->v[i].e);
	free(cf->v);
	change_file_init(cf);
}

/* Parse one line (no newline) as line number lineno of name. */
static int
cf_line(struct change_file *cf, const char *s, size_t len, const char *name,
    unsigned long lineno)
{
	struct change_line cl, *nv;
	size_t ncap;
	int r;

	if (memchr(s, '\0', len) != NULL)
		return err_set("%s:%lu: NUL byte in line", name, lineno);
	if (len < 2 || s[1] != ' ' ||
	    (s[0] != CHANGE_ADD && s[0] != CHANGE_DEL && s[0] != CHANGE_MOD &&
		s[0] != CHANGE_PERM))
		return err_set("%s:%lu: not a change line (want A, D, M or P, "
			       "a space, an entry)",
		    name, lineno);
	memset(&cl, 0, sizeof(cl));
	cl.kind = s[0];
	if (entry_parse(s + 2, len - 2, &cl.e) == -1)
		return err_prefix("%s:%lu: ", name, lineno);
	if (cf->n > 0 &&
	    (r = path_cmp(cf->v[cf->n - 1].e.path, cl.e.path)) >= 0) {
		entry_free(&cl.e);
		return err_set(r == 0 ?
			"%s:%lu: duplicate path" :
			"%s:%lu: path out of order (change lists are sorted by "
			"path)",
		    name, lineno);
	}
	if (cf->n == cf->cap) {
		ncap = cf->cap ? cf->cap * 2 : 64;
		if ((nv = realloc(cf->v, ncap * sizeof(*nv))) == NULL) {
			entry_free(&cl.e);
			return err_nomem();
		}
		cf->v = nv;
		cf->cap = ncap;
	}
	cf->v[cf->n++] = cl;
	return 0;
}

int
change_file_load_buf(const char *buf, size_t len, const char *name,
    struct change_file *cf)
{
	return change_file_load_lines(buf, len, name, 0, cf);
}

int
change_file_load_lines(const char *buf, size_t len, const char *name,
    unsigned long line0, struct change_file *cf)
{
	const char *p = buf, *end = buf + len, *nl;
	unsigned long lineno = line0;

	while (p < end) {
		lineno++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			err_set("%s:%lu: last line has no newline "
				"(truncated?)",
			    name, lineno);
			goto fail;
		}
		if (cf_line(cf, p, (size_t)(nl - p), name, lineno) == -1)
			goto fail;
		p = nl + 1;
	}
	return 0;
fail:
	change_file_free(cf);
	return -1;
}

/*
 * --stat
 */
void
change_stat_init(struct change_stat *s)
{
	memset(s, 0, sizeof(*s));
}

static void
stat_count(struct change_stat *s, char kind, const struct entry *shown)
{
	switch (kind) {
	case CHANGE_ADD:
		s->added++;
		break;
	case CHANGE_DEL:
		s->deleted++;
		break;
	case CHANGE_MOD:
		s->modified++;
		break;
	case CHANGE_PERM:
		s->perms++;
		break;
	default:
		return;
	}
	if ((kind == CHANGE_ADD || kind == CHANGE_MOD) && shown != NULL &&
	    shown->type == ENTRY_FILE)
		s->bytes += shown->size;
}

void
change_stat_add(struct change_stat *s, const struct change *c)
{
	stat_count(s, c->kind, change_entry(c));
}

void
change_stat_add_line(struct change_stat *s, const struct change_line *l)
{
	stat_count(s, l->kind, &l->e);
}

int
change_stat_write(const struct change_stat *s, FILE *fp)
{
	if (fprintf(fp,
		"added %" PRIu64 "\ndeleted %" PRIu64 "\n"
		"modified %" PRIu64 "\nmetadata %" PRIu64 "\nbytes %" PRIu64
		"\n",
		s->added, s->deleted, s->modified, s->perms, s->bytes) < 0)
		return err_sys("cannot write totals");
	return 0;
}

/* Index of the first entry of m whose path sorts at or after key. */
static size_t
lower_bound(const struct manifest *m, const char *key)
{
	size_t lo = 0, hi = m->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(m->v[mid].path, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
through(const char *path, const char *file)
{
	char sp[PATH_SHOW_LEN], sf[PATH_SHOW_LEN];

	return err_set("entry '%s' runs through '%s', which is a file or link",
	    path_show(path, sp, sizeof(sp)), path_show(file, sf, sizeof(sf)));
}

/*
 * The rules of a manifest that applying cf to a valid manifest can break:
 * order and uniqueness hold by the merge, each path and entry was
 * checked by the parser; what is left is "no path runs through a file or
 * link", and only an added path (A) or a changed entry (M: its type may
 * change) can break it.  So: no parent of such a path is a file or link,
 * and no entry lies below it unless it is a directory.  A few binary
 * searches per line instead of a walk of the whole manifest.
 */
static int
check_lines(const struct manifest *m, const struct change_file *cf, size_t *bad)
{
	char buf[MANIFEST_PATH_MAX + 2], *s;
	const struct entry *e, *a;
	size_t k, len, i;

	for (k = 0; k < cf->n; k++) {
		const char *path = cf->v[k].e.path;

		if (cf->v[k].kind != CHANGE_ADD && cf->v[k].kind != CHANGE_MOD)
			continue;
		*bad = k;
		if ((e = manifest_find(m, path)) == NULL)
			return err_set("entry lost in applying");
		len = strlen(path);
		memcpy(buf, path, len + 1);
		while ((s = strrchr(buf, '/')) != NULL) {
			*s = '\0';
			if ((a = manifest_find(m, buf)) != NULL &&
			    a->type != ENTRY_DIR)
				return through(path, a->path);
		}
		if (e->type == ENTRY_DIR)
			continue;
		memcpy(buf, path, len);
		buf[len] = '/';
		buf[len + 1] = '\0';
		i = lower_bound(m, buf);
		if (i < m->n && strncmp(m->v[i].path, buf, len + 1) == 0)
			return through(m->v[i].path, path);
	}
	return 0;
}

/* A malloc'd copy of e (its strings duplicated). */
static int
entry_dup(const struct entry *e, struct entry *out)
{
	*out = *e;
	out->target = NULL;
	if ((out->path = strdup(e->path)) == NULL ||
	    (e->target != NULL && (out->target = strdup(e->target)) == NULL)) {
		entry_free(out);
		return err_nomem();
	}
	return 0;
}

int
changes_apply(struct manifest *base, struct change_file *cf,
    struct manifest *out, const char *to, size_t *bad)
{
	size_t i = 0, j = 0, nadd = 0, k, at;
	const char *why = NULL;
	struct change_line *l;
	struct entry tmp;
	int c;

	if (bad == NULL)
		bad = &at;
	*bad = 0;
	manifest_init(out);
	for (k = 0; k < cf->n; k++)
		if (cf->v[k].kind == CHANGE_ADD)
			nadd++;
	if (base->n + nadd > 0 &&
	    (out->v = malloc((base->n + nadd) * sizeof(*out->v))) == NULL)
		return err_nomem();
	out->cap = base->n + nadd;
	while (i < base->n || j < cf->n) {
		if (j == cf->n)
			c = -1;
		else if (i == base->n)
			c = 1;
		else
			c = strcmp(base->v[i].path, cf->v[j].e.path);
		if (c < 0) {
			out->v[out->n++] = base->v[i];
			memset(&base->v[i], 0, sizeof(base->v[i]));
			i++;
			continue;
		}
		l = &cf->v[j];
		if (c > 0) {
			if (l->kind != CHANGE_ADD) {
				why = "the base lacks the path";
				goto bad;
			}
			if (entry_dup(&l->e, &out->v[out->n]) == -1)
				goto fail;
			out->n++;
			j++;
			continue;
		}
		switch (l->kind) {
		case CHANGE_ADD:
			why = "the base already has the path";
			goto bad;
		case CHANGE_DEL:
			if (changes_classify(&base->v[i], &l->e) !=
				CHANGE_NONE ||
			    base->v[i].size != l->e.size) {
				why = "the deleted entry is not the base's";
				goto bad;
			}
			entry_free(&base->v[i]);
			break;
		default:
			if (changes_classify(&base->v[i], &l->e) != l->kind) {
				why = "the change is not what the base and "
				      "the entry differ by";
				goto bad;
			}
			/* The result gets the new entry, the line keeps the
			 * base's. */
			tmp = l->e;
			l->e = base->v[i];
			out->v[out->n++] = tmp;
			memset(&base->v[i], 0, sizeof(base->v[i]));
			break;
		}
		i++;
		j++;
	}
	free(base->v);
	base->v = NULL;
	base->n = base->cap = 0;
	if (check_lines(out, cf, bad) == -1)
		goto fail;
	return 0;
bad : {
	char shown[PATH_SHOW_LEN];

	*bad = j;
	err_set("'%c %s' does not apply to '%s': %s", cf->v[j].kind,
	    path_show(cf->v[j].e.path, shown, sizeof(shown)), to, why);
}
fail:
	manifest_free(out);
	manifest_init(out);
	return -1;
}
