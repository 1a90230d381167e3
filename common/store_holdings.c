/*
 * store_holdings.c — the holdings records: which DP holds, or is being
 * brought to, which version of a package (see store.h, "holdings").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "err.h"
#include "fault.h"
#include "io.h"
#include "lock.h"
#include "manifest.h"
#include "num.h"
#include "path.h"
#include "store.h"
#include "store_int.h"

/* ---- holdings ---- */

static const char *hold_names[] = { "complete", "partial", "failed" };

const char *
store_hold_state_name(enum store_hold_state st)
{
	if ((unsigned)st > STORE_HOLD_FAILED)
		return "unknown";
	return hold_names[st];
}

const char *
store_holding_text(const char *pkg, const struct store_holding *h,
    char buf[STORE_HOLDING_TEXT])
{
	if (h->version != 0)
		snprintf(buf, STORE_HOLDING_TEXT,
		    "%s held %s version %" PRIu64 " (%s, last pushed %" PRIu64
		    ")",
		    h->dp, pkg, h->version, store_hold_state_name(h->state),
		    h->wanted);
	else
		snprintf(buf, STORE_HOLDING_TEXT,
		    "%s held no version of %s "
		    "(%s, last pushed %" PRIu64 ")",
		    h->dp, pkg, store_hold_state_name(h->state), h->wanted);
	return buf;
}

static int
cmp_holding(const void *a, const void *b)
{
	return strcmp(((const struct store_holding *)a)->dp,
	    ((const struct store_holding *)b)->dp);
}

/* Parse packages/PKG/holdings (missing: none). */
/* The next of a record's fields, separated by exactly one space: *f
 * and *n; *p moves past it.  -1 when there is none (an empty one, a
 * space at the end). */
static int
next_word(const char **p, const char **f, size_t *n)
{
	const char *sp = strchr(*p, ' ');

	*f = *p;
	*n = sp != NULL ? (size_t)(sp - *p) : strlen(*p);
	if (*n == 0 || (sp != NULL && sp[1] == '\0'))
		return -1;
	*p = sp != NULL ? sp + 1 : *p + *n;
	return 0;
}

/* One record, "DP VERSION WANTED STATE TIME", into h; err says what is
 * wrong. */
static int
parse_holding(const char *line, struct store_holding *h)
{
	const char *p = line, *f;
	size_t n;
	int k;

	memset(h, 0, sizeof(*h));
	if (next_word(&p, &f, &n) == -1 || n > NAME_MAX_LEN)
		return err_set("bad record");
	memcpy(h->dp, f, n);
	h->dp[n] = '\0';
	if (!name_valid(h->dp) || next_word(&p, &f, &n) == -1 ||
	    num_u64(f, n, UINT64_MAX, &h->version) == -1 ||
	    next_word(&p, &f, &n) == -1 ||
	    num_u64(f, n, UINT64_MAX, &h->wanted) == -1 ||
	    next_word(&p, &f, &n) == -1)
		return err_set("bad record");
	for (k = 0; k < 3; k++)
		if (strlen(hold_names[k]) == n &&
		    memcmp(f, hold_names[k], n) == 0)
			break;
	if (k == 3)
		return err_set("bad state '%.*s'", (int)(n < 16 ? n : 16), f);
	h->state = (enum store_hold_state)k;
	if (next_word(&p, &f, &n) == -1 || num_i64(f, n, &h->time) == -1 ||
	    *p != '\0')
		return err_set("bad record");
	return 0;
}

int
store_holdings_read(struct store *s, const char *pkg, struct store_holding **vp,
    size_t *np)
{
	char path[NAME_MAX_LEN + 16];
	char *buf = NULL, *p, *nl;
	struct store_holding *v = NULL, *nv, h;
	size_t n = 0, cap = 0, lineno = 1;
	size_t len;
	int rc = -1;

	*vp = NULL;
	*np = 0;
	snprintf(path, sizeof(path), "%s/holdings", pkg);
	if (io_slurp(s->pkgfd, path, (size_t)64 << 20, &buf, &len) == -1) {
		if (err_errno() == ENOENT)
			return 0;
		return -1;
	}
	if (strncmp(buf, STORE_HOLD_MAGIC "\n", strlen(STORE_HOLD_MAGIC) + 1) !=
	    0) {
		err_set("'%s/packages/%s': not a holdings file", s->dir, path);
		goto out;
	}
	for (p = buf + strlen(STORE_HOLD_MAGIC) + 1; *p != '\0'; p = nl + 1) {
		lineno++;
		if ((nl = strchr(p, '\n')) == NULL) {
			err_set("'%s/packages/%s':%zu: unterminated line",
			    s->dir, path, lineno);
			goto out;
		}
		*nl = '\0';
		/* The store's own holdings record (written under its lock). */
		if (parse_holding(p, &h) == -1) {
			err_prefix("'%s/packages/%s':%zu: ", s->dir, path,
			    lineno);
			goto out;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				err_nomem();
				goto out;
			}
			v = nv;
		}
		v[n++] = h;
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), cmp_holding);
	*vp = v;
	*np = n;
	v = NULL;
	rc = 0;
out:
	free(buf);
	free(v);
	return rc;
}

int
store_holdings_write(struct store *s, const char *pkg,
    const struct store_holding *v, size_t n)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *fp;
	int pfd, rc;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		return err_nomem();
	fprintf(fp, "%s\n", STORE_HOLD_MAGIC);
	for (i = 0; i < n; i++)
		fprintf(fp, "%s %" PRIu64 " %" PRIu64 " %s %lld\n", v[i].dp,
		    v[i].version, v[i].wanted,
		    store_hold_state_name(v[i].state), (long long)v[i].time);
	if (fclose(fp) != 0) {
		free(buf);
		return err_nomem();
	}
	if ((pfd = store_open_dir(s->pkgfd, pkg)) == -1) {
		free(buf);
		return err_sys("cannot open '%s/packages/%s'", s->dir, pkg);
	}
	rc = atomic_write_file(pfd, "holdings", buf, len, 0644);
	close(pfd);
	free(buf);
	if (rc == -1)
		return store_err_io(s, "cannot record the holdings of %s", pkg);
	return 0;
}

/* The holdings lock of pkg (creating the package directory). */
int
store_holdings_lock(struct store *s, const char *pkg)
{
	int pfd, fd;

	if (store_ensure_dir(s->pkgfd, pkg, pkg) == -1)
		return -1;
	if ((pfd = store_open_dir(s->pkgfd, pkg)) == -1)
		return err_sys("cannot open '%s/packages/%s'", s->dir, pkg);
	fd = lock_acquire(pfd, "holdings.lock", false, 600);
	close(pfd);
	return fd;
}

/* Record h; raise: the version kept is the higher of h's and the one
 * recorded, read under the same lock. */
static int
holding_put(struct store *s, const char *pkg, const struct store_holding *h,
    bool raise)
{
	struct store_holding *v = NULL, *nv;
	uint64_t held = h->version;
	size_t n, i;
	int lk, rc = -1;

	if (package_name_check(pkg) == -1)
		return -1;
	if (!name_valid(h->dp))
		return err_set("'%s': invalid DP name", h->dp);
	if ((unsigned)h->state > STORE_HOLD_FAILED)
		return err_set("invalid holding state");
	if ((lk = store_holdings_lock(s, pkg)) == -1)
		return -1;
	if (store_holdings_read(s, pkg, &v, &n) == -1)
		goto out;
	for (i = 0; i < n; i++)
		if (strcmp(v[i].dp, h->dp) == 0)
			break;
	if (i == n) {
		if ((nv = realloc(v, (n + 1) * sizeof(*v))) == NULL) {
			err_nomem();
			goto out;
		}
		v = nv;
		n++;
	} else if (raise && v[i].version > h->version)
		held = v[i].version;
	v[i] = *h;
	v[i].version = held;
	qsort(v, n, sizeof(*v), cmp_holding);
	rc = store_holdings_write(s, pkg, v, n);
out:
	free(v);
	lock_release(lk);
	return rc;
}

int
store_holding_record(struct store *s, const char *pkg,
    const struct store_holding *h)
{
	return holding_put(s, pkg, h, false);
}

int
store_holding_raise(struct store *s, const char *pkg,
    const struct store_holding *h)
{
	return holding_put(s, pkg, h, true);
}

int
store_holdings(struct store *s, const char *pkg, struct store_holding **v,
    size_t *n)
{
	*v = NULL;
	*n = 0;
	if (package_name_check(pkg) == -1)
		return -1;
	return store_holdings_read(s, pkg, v, n);
}

int
store_holdings_begin(struct store *s, const char *pkg, const char *const *dps,
    size_t n, uint64_t version)
{
	struct store_holding *v = NULL, *nv;
	size_t nh, i, j, old;
	int lk, rc = -1;

	if (package_name_check(pkg) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (!name_valid(dps[i]))
			return err_set("'%s': invalid DP name", dps[i]);
	if ((lk = store_holdings_lock(s, pkg)) == -1)
		return -1;
	if (store_holdings_read(s, pkg, &v, &nh) == -1)
		goto out;
	if ((nv = realloc(v, (nh + n + 1) * sizeof(*v))) == NULL) {
		err_nomem();
		goto out;
	}
	v = nv;
	old = nh;
	for (i = 0; i < n; i++) {
		for (j = 0; j < old; j++)
			if (strcmp(v[j].dp, dps[i]) == 0)
				break;
		if (j == old) {
			j = nh++;
			memset(&v[j], 0, sizeof(v[j]));
			snprintf(v[j].dp, sizeof(v[j].dp), "%s", dps[i]);
			v[j].state = STORE_HOLD_FAILED;
		}
		v[j].wanted = version;
		v[j].time = fault_now();
	}
	qsort(v, nh, sizeof(*v), cmp_holding);
	rc = store_holdings_write(s, pkg, v, nh);
out:
	free(v);
	lock_release(lk);
	return rc;
}

int
store_holding_find(struct store *s, const char *pkg, const char *dp,
    struct store_holding *h)
{
	struct store_holding *v = NULL;
	size_t n, i;
	int rc = 0;

	memset(h, 0, sizeof(*h));
	if (store_holdings(s, pkg, &v, &n) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (strcmp(v[i].dp, dp) == 0) {
			*h = v[i];
			rc = 1;
			break;
		}
	free(v);
	return rc;
}

int
store_holding_forget(struct store *s, const char *pkg, const char *dp,
    struct store_holding *had)
{
	struct store_holding *v = NULL;
	size_t n, i, j;
	int lk, rc = -1;

	if (had != NULL)
		memset(had, 0, sizeof(*had));
	if (package_name_check(pkg) == -1)
		return -1;
	if ((lk = store_holdings_lock(s, pkg)) == -1)
		return -1;
	if (store_holdings_read(s, pkg, &v, &n) == -1)
		goto out;
	for (i = j = 0; i < n; i++) {
		if (strcmp(v[i].dp, dp) != 0)
			v[j++] = v[i];
		else if (had != NULL)
			*had = v[i];
	}
	rc = j == n ? 0 : store_holdings_write(s, pkg, v, j);
	if (rc == 0 && j != n)
		rc = 1;
out:
	free(v);
	lock_release(lk);
	return rc;
}

int
store_holding_forget_every(struct store *s, const char *pkg, const char *dp,
    void (*fn)(void *arg, const char *pkg, const struct store_holding *had),
    void *arg, size_t *n)
{
	struct store_holding had;
	char **pk = NULL;
	size_t np = 0, i;
	int rc = -1, k;

	*n = 0;
	if (store_packages(s, &pk, &np) == -1)
		return -1;
	for (i = 0; pkg != NULL && i < np && strcmp(pk[i], pkg) != 0; i++)
		;
	if (pkg != NULL && i == np) {
		err_set("package '%s': not in the store", pkg);
		goto out;
	}
	for (i = 0; i < np; i++) {
		if (pkg != NULL && strcmp(pk[i], pkg) != 0)
			continue;
		if ((k = store_holding_forget(s, pk[i], dp, &had)) == -1)
			goto out;
		if (k == 1) {
			(*n)++;
			if (fn != NULL)
				fn(arg, pk[i], &had);
		}
	}
	rc = 0;
out:
	store_strings_free(pk, np);
	return rc;
}
