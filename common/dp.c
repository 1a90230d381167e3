/*
 * dp.c — a DP on this host: open, lock, state records, the mode rule and
 * the descriptor-relative tree walk (see dp.h).
 */
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
#include "dp.h"
#include "err.h"
#include "io.h"
#include "lock.h"
#include "manifest.h"
#include "mdelta.h"
#include "num.h"
#include "path.h"

#define DIRFLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define STATE_MAGIC "pkgdist-dpstate 1"
#define STATE_MAX (64u * 1024)

int
dp_open(const char *path, bool create, struct dp_handle *h)
{
	size_t wl = 4 * strlen(path) + 8; /* \ooo: 4 bytes a byte */

	h->rootfd = h->metafd = h->lockfd = -1;
	if ((h->where = malloc(wl)) == NULL)
		return err_nomem();
	path_show(path, h->where, wl);
	/* The root itself may be a link (a mount point); nothing below. */
	if ((h->rootfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		err_sys("%s", h->where);
		goto fail;
	}
	h->metafd = openat(h->rootfd, DP_META, DIRFLAGS);
	if (h->metafd == -1 && errno == ENOENT && create) {
		if (io_mkdir(h->rootfd, DP_META, 0755) == -1 &&
		    err_errno() != EEXIST) {
			err_prefix("%s: ", path);
			goto fail;
		}
		h->metafd = openat(h->rootfd, DP_META, DIRFLAGS);
	}
	if (h->metafd == -1 && !(errno == ENOENT && !create)) {
		if (errno == ELOOP || errno == ENOTDIR)
			err_set("%s/%s: not a directory (a link or a file "
				"there is refused)",
			    path, DP_META);
		else
			err_sys("%s/%s", path, DP_META);
		goto fail;
	}
	return 0;
fail:
	dp_close(h);
	return -1;
}

void
dp_close(struct dp_handle *h)
{
	if (h->lockfd != -1)
		lock_release(h->lockfd);
	if (h->metafd != -1)
		close(h->metafd);
	if (h->rootfd != -1)
		close(h->rootfd);
	free(h->where);
	h->rootfd = h->metafd = h->lockfd = -1;
	h->where = NULL;
}

int
dp_lock(struct dp_handle *h, double timeout)
{
	if (h->metafd == -1)
		return err_set("%s: no %s directory", h->where, DP_META);
	if ((h->lockfd = lock_acquire(h->metafd, DP_LOCK, false, timeout)) ==
	    -1)
		return err_prefix("%s: ", h->where);
	return 0;
}

void
dp_state_init(struct dp_state *s)
{
	memset(s, 0, sizeof(*s));
}

void
dp_state_free(struct dp_state *s)
{
	free(s->error);
	free(s->lived);
	dp_state_init(s);
}

int
dp_tree_parse(const char *name, uint64_t *v, unsigned *k)
{
	const char *dot;
	uint64_t n, kk;

	if (name[0] != 'v' || strlen(name) >= DP_TREE_MAX ||
	    (dot = strchr(name, '.')) == NULL ||
	    num_u64(name + 1, (size_t)(dot - name - 1), UINT64_MAX, &n) == -1 ||
	    num_u64(dot + 1, strlen(dot + 1), UINT_MAX, &kk) == -1 || kk == 0)
		return -1;
	if (v != NULL)
		*v = n;
	if (k != NULL)
		*k = (unsigned)kk;
	return 0;
}

int
dp_tree_manifest(const char *name, char tree[DP_TREE_MAX])
{
	size_t l = strlen(name), sl = strlen(DP_TREE_MANIFEST);

	if (l <= sl || l - sl >= DP_TREE_MAX ||
	    strcmp(name + l - sl, DP_TREE_MANIFEST) != 0)
		return -1;
	memcpy(tree, name, l - sl);
	tree[l - sl] = '\0';
	return dp_tree_parse(tree, NULL, NULL);
}

void
dp_tree_manifest_name(const char *tree,
    char out[DP_TREE_MAX + sizeof(DP_TREE_MANIFEST)])
{
	snprintf(out, DP_TREE_MAX + sizeof(DP_TREE_MANIFEST), "%s%s", tree,
	    DP_TREE_MANIFEST);
}

int
dp_state_lived(const struct dp_state *s, size_t i, char out[DP_TREE_MAX])
{
	const char *p = s->lived, *e;

	if (p == NULL)
		return 0;
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return 0;
		e = p + strcspn(p, " ");
		if (i-- == 0) {
			snprintf(out, DP_TREE_MAX, "%.*s", (int)(e - p), p);
			return 1;
		}
		p = e;
	}
}

int
dp_state_set_lived(struct dp_state *s, char (*v)[DP_TREE_MAX], size_t n)
{
	size_t i, len = 1;
	char *l;

	for (i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	if ((l = malloc(len)) == NULL)
		return err_nomem();
	l[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(l, " ");
		strcat(l, v[i]);
	}
	free(s->lived);
	s->lived = l;
	return 0;
}

int
dp_state_make_live(struct dp_state *s, const char *tree)
{
	char(*v)[DP_TREE_MAX] = NULL, t[DP_TREE_MAX];
	size_t n = 0, i;
	int rc;

	for (i = 0; dp_state_lived(s, i, t) == 1; i++)
		n++;
	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		return err_nomem();
	n = 0;
	if (s->tree[0] != '\0' && strcmp(s->tree, tree) != 0)
		snprintf(v[n++], DP_TREE_MAX, "%s", s->tree);
	for (i = 0; dp_state_lived(s, i, t) == 1; i++)
		if (strcmp(t, tree) != 0 && strcmp(t, s->tree) != 0)
			snprintf(v[n++], DP_TREE_MAX, "%s", t);
	rc = dp_state_set_lived(s, v, n);
	free(v);
	if (rc == 0)
		snprintf(s->tree, sizeof(s->tree), "%s", tree);
	return rc;
}

int
dp_pkgdir(struct dp_handle *h, const char *pkg, bool create)
{
	int fd;

	if (h->metafd == -1) {
		errno = ENOENT;
		return err_sys("%s/%s", h->where, DP_META);
	}
	fd = openat(h->metafd, pkg, DIRFLAGS);
	if (fd == -1 && errno == ENOENT && create) {
		if (io_mkdir(h->metafd, pkg, 0755) == -1 &&
		    err_errno() != EEXIST)
			return err_prefix("%s/%s: ", h->where, DP_META);
		fd = openat(h->metafd, pkg, DIRFLAGS);
	}
	if (fd == -1) {
		if (errno == ELOOP || errno == ENOTDIR)
			return err_set("%s/%s/%s: not a directory", h->where,
			    DP_META, pkg);
		return err_sys("%s/%s/%s", h->where, DP_META, pkg);
	}
	return fd;
}

/* Is val a "lived" line's value: "-", or tree names, blank-separated? */
static bool
lived_valid(const char *val)
{
	char t[DP_TREE_MAX];
	size_t l;

	if (strcmp(val, "-") == 0)
		return true;
	if (*val == '\0')
		return false;
	while (*val != '\0') {
		l = strcspn(val, " ");
		if (l == 0 || l >= DP_TREE_MAX)
			return false;
		memcpy(t, val, l);
		t[l] = '\0';
		if (dp_tree_parse(t, NULL, NULL) == -1)
			return false;
		val += l;
		if (*val == ' ' && *++val == '\0')
			return false;
	}
	return true;
}

/* Parse the state record; fd-relative read with O_NOFOLLOW. */
static int
state_load(int pkgfd, const char *what, struct dp_state *s, bool *found)
{
	char *buf = NULL, *p, *nl, *val;
	unsigned lineno = 0;
	int fd = -1, rc = -1;
	struct stat st;
	ssize_t n;

	*found = false;
	if ((fd = openat(pkgfd, DP_STATE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) ==
	    -1) {
		if (errno == ENOENT)
			return 0;
		return err_sys("%s/%s", what, DP_STATE);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > (off_t)STATE_MAX) {
		err_set("%s/%s: not a state record", what, DP_STATE);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		err_nomem();
		goto out;
	}
	if ((n = io_read_full(fd, buf, (size_t)st.st_size, DP_STATE)) == -1)
		goto out;
	buf[n] = '\0';
	if (memchr(buf, '\0', (size_t)n) != NULL)
		goto bad;
	for (p = buf; *p; p = nl + 1) {
		lineno++;
		if ((nl = strchr(p, '\n')) == NULL)
			goto bad;
		*nl = '\0';
		if (lineno == 1) {
			if (strcmp(p, STATE_MAGIC) != 0)
				goto bad;
			continue;
		}
		if ((val = strchr(p, ' ')) == NULL)
			goto bad;
		*val++ = '\0';
		if (strcmp(p, "layout") == 0) {
			if (strcmp(val, "atomic") == 0)
				s->layout = DP_LAYOUT_ATOMIC;
			else if (strcmp(val, "inplace") == 0)
				s->layout = DP_LAYOUT_INPLACE;
			else
				goto bad;
		} else if (strcmp(p, "version") == 0) {
			if (num_arg(val, 0, UINT64_MAX, &s->version) == -1)
				goto bad;
		} else if (strcmp(p, "from") == 0) {
			if (num_arg(val, 0, UINT64_MAX, &s->from) == -1)
				goto bad;
		} else if (strcmp(p, "state") == 0) {
			if (strcmp(val, "complete") == 0)
				s->status = DP_ST_COMPLETE;
			else if (strcmp(val, "partial") == 0)
				s->status = DP_ST_PARTIAL;
			else
				goto bad;
		} else if (strcmp(p, "tree") == 0) {
			if (dp_tree_parse(val, NULL, NULL) == -1)
				goto bad;
			snprintf(s->tree, sizeof(s->tree), "%s", val);
		} else if (strcmp(p, "lived") == 0) {
			free(s->lived);
			s->lived = NULL;
			if (!lived_valid(val))
				goto bad;
			if ((s->lived = strdup(
				 strcmp(val, "-") == 0 ? "" : val)) == NULL) {
				err_nomem();
				goto out;
			}
		} else if (strcmp(p, "error") == 0) {
			free(s->error);
			s->error = NULL;
			if (strcmp(val, "-") != 0 &&
			    path_unescape(val, strlen(val), &s->error) == -1)
				goto bad;
		}
		/* Unknown keys are ignored: newer versions may add some. */
	}
	if (lineno < 1 || s->layout == DP_LAYOUT_NONE ||
	    s->status == DP_ST_NONE)
		goto bad;
	*found = true;
	rc = 0;
	goto out;
bad:
	err_set("%s/%s:%u: malformed state record", what, DP_STATE, lineno);
out:
	free(buf);
	if (fd != -1)
		close(fd);
	return rc;
}

int
dp_state_write(struct dp_handle *h, const char *pkg, const struct dp_state *s,
    uint64_t *bytes)
{
	struct atomic_file af;
	FILE *fp;
	off_t len;
	int pkgfd, rc = -1;

	memset(&af, 0, sizeof(af));
	af.fd = -1;
	af.slot = -1;
	if ((pkgfd = dp_pkgdir(h, pkg, true)) == -1)
		return -1;
	if (atomic_open(&af, pkgfd, DP_STATE, 0444) == -1)
		goto out;
	if ((fp = atomic_stream(&af)) == NULL)
		goto out;
	fprintf(fp, "%s\nlayout %s\nversion %" PRIu64 "\nstate %s\n",
	    STATE_MAGIC, s->layout == DP_LAYOUT_INPLACE ? "inplace" : "atomic",
	    s->version, s->status == DP_ST_PARTIAL ? "partial" : "complete");
	if (s->status == DP_ST_PARTIAL)
		fprintf(fp, "from %" PRIu64 "\n", s->from);
	if (s->layout == DP_LAYOUT_ATOMIC && s->tree[0])
		fprintf(fp, "tree %s\n", s->tree);
	if (s->layout == DP_LAYOUT_ATOMIC && s->lived != NULL)
		fprintf(fp, "lived %s\n", s->lived[0] ? s->lived : "-");
	fputs("error ", fp);
	if (s->error == NULL || s->error[0] == '\0')
		fputs("-", fp);
	else
		path_escape_write(s->error, fp);
	fputs("\n", fp);
	len = ftello(fp);
	if (atomic_commit(&af) == -1)
		goto out;
	if (bytes != NULL && len > 0)
		*bytes += (uint64_t)len;
	rc = 0;
out:
	if (rc == -1) {
		atomic_abort(&af);
		err_prefix("%s: ", h->where);
	}
	close(pkgfd);
	return rc;
}

int
dp_state_read(struct dp_handle *h, const char *pkg, struct dp_state *s,
    struct manifest *m)
{
	return dp_state_read_base(h, pkg, s, m, NULL);
}

int
dp_state_read_base(struct dp_handle *h, const char *pkg, struct dp_state *s,
    struct manifest *m, struct mdelta_base *b)
{
	char what[4200], link[300], want[120];
	char mname[DP_TREE_MAX + sizeof(DP_TREE_MANIFEST)];
	uint64_t lv;
	struct stat st;
	bool found = false;
	int pkgfd = -1, rc = -1;
	ssize_t n;

	dp_state_init(s);
	if (b != NULL)
		mdelta_base_init(b);
	snprintf(what, sizeof(what), "%s/%s/%s", h->where, DP_META, pkg);
	if (h->metafd != -1) {
		pkgfd = openat(h->metafd, pkg, DIRFLAGS);
		if (pkgfd == -1 && errno != ENOENT) {
			if (errno == ELOOP || errno == ENOTDIR)
				return err_set("%s: not a directory", what);
			return err_sys("%s", what);
		}
	}
	if (pkgfd != -1 && state_load(pkgfd, what, s, &found) == -1)
		goto out;
	if (fstatat(h->rootfd, pkg, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno != ENOENT) {
			err_sys("%s/%s", h->where, pkg);
			goto out;
		}
		/* Never installed, a first install that never reached its
		 * rename, or removed by hand: the DP does not hold it. */
		dp_state_free(s);
		rc = 0;
		goto out;
	}
	if (S_ISLNK(st.st_mode)) {
		if ((n = readlinkat(h->rootfd, pkg, link, sizeof(link) - 1)) ==
		    -1) {
			err_sys("%s/%s", h->where, pkg);
			goto out;
		}
		link[n] = '\0';
		snprintf(want, sizeof(want), "%s/%s/", DP_META, pkg);
		if (strncmp(link, want, strlen(want)) != 0 ||
		    dp_tree_parse(link + strlen(want), &lv, NULL) == -1) {
			err_set("%s/%s: a link to '%s', not to a tree of "
				"pkgdist: refusing to touch it",
			    h->where, pkg, link);
			goto out;
		}
		if (pkgfd == -1) {
			err_set("%s/%s: a link, but %s is missing", h->where,
			    pkg, what);
			goto out;
		}
		if (!found || s->layout != DP_LAYOUT_ATOMIC ||
		    strcmp(s->tree, link + strlen(want)) != 0) {
			/* Crash between the switch and the record: the
			 * record's tree was live until the switch. */
			if (found && s->layout == DP_LAYOUT_ATOMIC &&
			    s->lived != NULL &&
			    dp_state_make_live(s, link + strlen(want)) == -1)
				goto out;
			s->stale = true;
			s->layout = DP_LAYOUT_ATOMIC;
			s->status = DP_ST_COMPLETE;
			s->from = 0;
			snprintf(s->tree, sizeof(s->tree), "%s",
			    link + strlen(want));
			s->version = lv;
		}
		if (m != NULL) {
			dp_tree_manifest_name(s->tree, mname);
			if (mdelta_load_at(pkgfd, mname, what, m, b) == -1)
				goto out;
			if (m->version != 0)
				s->version = m->version;
		}
	} else if (S_ISDIR(st.st_mode)) {
		if (!found || s->layout != DP_LAYOUT_INPLACE) {
			err_set("%s/%s: a plain directory that pkgdist did "
				"not write in place: refusing to touch it",
			    h->where, pkg);
			goto out;
		}
		if (m != NULL &&
		    mdelta_load_at(pkgfd, DP_MANIFEST, what, m, b) == -1)
			goto out;
	} else {
		err_set("%s/%s: neither a directory nor a link: refusing "
			"to touch it",
		    h->where, pkg);
		goto out;
	}
	rc = 0;
out:
	if (pkgfd != -1)
		close(pkgfd);
	if (rc == -1) {
		dp_state_free(s);
		if (m != NULL) {
			manifest_free(m);
			manifest_init(m);
		}
		if (b != NULL)
			mdelta_base_free(b);
	}
	return rc;
}

int
dp_current_manifest(struct dp_handle *h, const char *pkg, int pkgfd,
    uint64_t *bytes)
{
	char link[8 + 256];

	snprintf(link, sizeof(link), "../../%s", pkg);
	if (mdelta_save_pointer(pkgfd, DP_MANIFEST, link, bytes) == -1)
		return err_prefix("%s/%s/%s: ", h->where, DP_META, pkg);
	return 0;
}

void
dp_packages_free(char **names, size_t n)
{
	io_names_free(names, n);
}

static bool
is_package(const char *name, void *arg)
{
	(void)arg;
	return name_valid(name);
}

int
dp_packages(struct dp_handle *h, char ***names, size_t *np)
{
	*names = NULL;
	*np = 0;
	if (h->metafd == -1)
		return 0;
	if (io_list_names(h->metafd, is_package, NULL, names, np) == -1)
		return err_prefix("%s/%s: ", h->where, DP_META);
	io_names_sort(*names, *np);
	return 0;
}

void
dp_pkg_states_free(struct dp_pkg_state *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		dp_state_free(&v[i].st);
		free(v[i].damaged);
	}
	free(v);
}

int
dp_states(struct dp_handle *h, const char *pkg, struct dp_pkg_state **out,
    size_t *nout)
{
	struct dp_pkg_state *v = NULL;
	char **names = NULL;
	size_t n = 0, nn = 0, i;
	int rc = -1;

	*out = NULL;
	*nout = 0;
	if (pkg == NULL && dp_packages(h, &names, &nn) == -1)
		return -1;
	if (pkg != NULL)
		nn = 1;
	if (nn > 0 && (v = calloc(nn, sizeof(*v))) == NULL) {
		err_nomem();
		goto out;
	}
	for (i = 0; i < nn; i++) {
		const char *pn = pkg != NULL ? pkg : names[i];
		struct dp_pkg_state *e = &v[n];

		dp_state_init(&e->st);
		e->damaged = NULL;
		snprintf(e->package, sizeof(e->package), "%s", pn);
		if (dp_state_read(h, pn, &e->st, NULL) == -1) {
			if ((e->damaged = strdup(err_get())) == NULL) {
				err_nomem();
				goto out;
			}
			n++;
			continue;
		}
		/* Every package: those the DP holds. */
		if (pkg == NULL && e->st.status == DP_ST_NONE) {
			dp_state_free(&e->st);
			continue;
		}
		n++;
	}
	*out = v;
	*nout = n;
	v = NULL;
	n = 0;
	rc = 0;
out:
	dp_pkg_states_free(v, n);
	dp_packages_free(names, pkg != NULL ? 0 : nn);
	return rc;
}

const char *
dp_what(const char *where, const char *path, char *buf, size_t len)
{
	size_t n;

	if (len == 0)
		return buf;
	snprintf(buf, len, "%s/", where);
	n = strlen(buf);
	path_show(path, buf + n, len - n);
	return buf;
}

int
dp_note_failure(struct dp_handle *h, const char *pkg, const char *why,
    struct dp_state *out)
{
	struct dp_state st;
	char *e;

	if (out != NULL)
		dp_state_init(out);
	if (dp_state_read(h, pkg, &st, NULL) == -1)
		return -1;
	if (st.status == DP_ST_COMPLETE && (e = strdup(why)) != NULL) {
		free(st.error);
		st.error = e;
		(void)dp_state_write(h, pkg, &st, NULL);
	}
	if (out != NULL)
		*out = st;
	else
		dp_state_free(&st);
	return 0;
}

unsigned
dp_mode(char type, unsigned m)
{
	if (type == ENTRY_LINK)
		return m;
	m &= ~(unsigned)06000;
	if (!(m & 0002))
		m &= ~(unsigned)0222;
	m |= 0444;
	if (type == ENTRY_DIR)
		m |= 0311;
	return m;
}

int
dp_view(const struct manifest *src, const char *pkg, uint64_t version,
    struct manifest *out)
{
	struct entry e;
	size_t i;

	manifest_init(out);
	if (manifest_set_header(out, pkg, version) == -1)
		goto fail;
	if (src->n > 0) {
		if ((out->v = malloc(src->n * sizeof(*out->v))) == NULL) {
			err_nomem();
			goto fail;
		}
		out->cap = src->n;
	}
	for (i = 0; i < src->n; i++) {
		e = src->v[i];
		e.mode = dp_mode(e.type, e.mode);
		if (manifest_add(out, &e) == -1)
			goto fail;
	}
	return 0;
fail:
	manifest_free(out);
	manifest_init(out);
	return -1;
}

void
dp_walk_init(struct dp_walk *w, int rootfd)
{
	memset(w, 0, sizeof(*w));
	w->rootfd = rootfd;
}

static void
walk_pop(struct dp_walk *w, size_t depth)
{
	while (w->depth > depth) {
		w->depth--;
		close(w->fds[w->depth]);
	}
	w->cur[w->depth ? w->ends[w->depth - 1] : 0] = '\0';
}

void
dp_walk_free(struct dp_walk *w)
{
	if (w->cur != NULL)
		walk_pop(w, 0);
	free(w->fds);
	free(w->ends);
	free(w->cur);
	memset(w, 0, sizeof(*w));
}

int
dp_walk_parent(struct dp_walk *w, const char *path, int *dirfd,
    const char **base)
{
	const char *slash, *p, *comp;
	size_t plen, keep, i, len;
	int fd;

	slash = strrchr(path, '/');
	if (slash == NULL) {
		*dirfd = w->rootfd;
		*base = path;
		return 0;
	}
	plen = (size_t)(slash - path);
	if (w->curcap < plen + 1) {
		char *nc = realloc(w->cur, plen + 1);
		if (nc == NULL)
			return err_nomem();
		if (w->cur == NULL)
			nc[0] = '\0';
		w->cur = nc;
		w->curcap = plen + 1;
	}
	/* How many open levels are a prefix of path's directory? */
	keep = 0;
	for (i = 0; i < w->depth; i++) {
		len = w->ends[i];
		if (len <= plen && memcmp(w->cur, path, len) == 0 &&
		    (len == plen || path[len] == '/'))
			keep = i + 1;
		else
			break;
	}
	walk_pop(w, keep);
	p = path + (keep ? w->ends[keep - 1] + 1 : 0);
	while (p < path + plen + 1 && (size_t)(p - path) < plen) {
		comp = p;
		while (p < path + plen && *p != '/')
			p++;
		if (w->depth == w->cap) {
			size_t nc = w->cap ? w->cap * 2 : 16;
			int *nf = realloc(w->fds, nc * sizeof(*nf));
			size_t *ne;
			if (nf == NULL)
				return err_nomem();
			w->fds = nf;
			if ((ne = realloc(w->ends, nc * sizeof(*ne))) == NULL)
				return err_nomem();
			w->ends = ne;
			w->cap = nc;
		}
		{
			char name[256];
			size_t cl = (size_t)(p - comp);
			int parent =
			    w->depth ? w->fds[w->depth - 1] : w->rootfd;

			if (cl >= sizeof(name))
				return err_set("'%s': name too long", path);
			memcpy(name, comp, cl);
			name[cl] = '\0';
			if ((fd = openat(parent, name, DIRFLAGS)) == -1) {
				if (errno == ELOOP)
					errno = ENOTDIR;
				return err_sys("'%.*s'", (int)(p - path), path);
			}
		}
		w->fds[w->depth] = fd;
		w->ends[w->depth] = (size_t)(p - path);
		w->depth++;
		memcpy(w->cur, path, (size_t)(p - path));
		w->cur[p - path] = '\0';
		p++;
	}
	*dirfd = w->depth ? w->fds[w->depth - 1] : w->rootfd;
	*base = slash + 1;
	return 0;
}
