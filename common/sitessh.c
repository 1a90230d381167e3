/*
 * sitessh.c — a child site over ssh: both sides (sitessh.h).
 *
 * _GNU_SOURCE: pipe2(2), for the cascade's pipes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "digest.h"
#include "digestset.h"
#include "err.h"
#include "lock.h"
#include "fault.h"
#include "num.h"
#include "pack.h"
#include "remote.h"
#include "retryrun.h"
#include "siteline.h"
#include "site_recipe.h"
#include "sites.h"
#include "sitessh.h"
#include "store.h"

extern char **environ;

/* Most digests one offer may carry: a manifest's entries at most. */
#define OFFER_MAX ((uint64_t)1 << 24)

/* ---- the parent ---- */

/* What the child's answer to an offer fills: the ones it lacks. */
struct lacked {
	const struct digestset_item *cv; /* offered */
	size_t ncv;
	struct digestset_item *v;
	size_t n;
	const char *where;
};

static int
take_lacked(void *arg, const unsigned char d[DIGEST_LEN])
{
	struct lacked *l = arg;
	const struct digestset_item *it;

	if ((it = digestset_find(l->cv, l->ncv, sizeof(*l->cv), d)) == NULL)
		return err_set("%s: it lacks a content not offered", l->where);
	memcpy(l->v[l->n].d, d, DIGEST_LEN);
	l->v[l->n++].size = it->size;
	return 0;
}

/* Offer the contents cv to the child, and take its answer: *only (a
 * sorted set, malloc'd) the ones it lacks. */
static int
offer(int fd, double timeout, const char *where,
    const struct digestset_item *cv, size_t ncv, struct digestset_item **only,
    size_t *nonly)
{
	struct lacked l = { cv, ncv, NULL, 0, where };
	char line[SITELINE_MAX];
	const char *rest;
	uint64_t m;
	size_t kept;

	*only = NULL;
	*nonly = 0;
	if (siteline_write(fd, "offer %zu", ncv) == -1 ||
	    siteline_write_digests(fd, cv, ncv, sizeof(*cv)) == -1 ||
	    siteline_read(fd, timeout, where, line, sizeof(line)) == -1)
		return -1;
	if ((rest = siteline_word(line, "error")) != NULL)
		return err_set("%s: %s", where, rest);
	if ((rest = siteline_word(line, "lack")) == NULL ||
	    num_u64(rest, strlen(rest), ncv, &m) == -1)
		return err_set("%s: an answer not of the protocol", where);
	if (m == 0)
		return 0;
	if ((l.v = calloc((size_t)m, sizeof(*l.v))) == NULL)
		return err_nomem();
	/* Nothing follows them until we send: read in blocks. */
	if (siteline_read_digests(fd, timeout, where, m, take_lacked, &l) ==
		-1 ||
	    digestset_sort(l.v, l.n, sizeof(*l.v), false, &kept) == -1) {
		free(l.v);
		return -1;
	}
	*only = l.v;
	*nonly = kept;
	return 0;
}

/* A line of the child's report named from here: "SITE/" before its
 * target (after "\"target\":\"" in a JSON line). */
static void
pass_out(const struct site_push_opts *o, const char *site, const char *text)
{
	static const char key[] = "\"target\":\"";
	char buf[SITELINE_MAX + NAME_MAX_LEN + 2];
	const char *t;

	if (o->line == NULL)
		return;
	if (text[0] == '{' && (t = strstr(text, key)) != NULL)
		snprintf(buf, sizeof(buf), "%.*s%s/%s",
		    (int)(t + sizeof(key) - 1 - text), text, site,
		    t + sizeof(key) - 1);
	else
		snprintf(buf, sizeof(buf), "%s/%s", site, text);
	o->line(o->arg, false, buf);
}

/* A message of the child's: "pkgpush: dp2: why" is "SITE/dp2: why". */
static void
pass_err(const struct site_push_opts *o, const char *site, const char *text)
{
	char buf[SITELINE_MAX + NAME_MAX_LEN + 2];
	const char *colon = strstr(text, ": ");

	if (o->line == NULL)
		return;
	if (colon != NULL && strchr(text, ' ') == colon + 1 &&
	    strncmp(text, "pkgpush", 7) == 0)
		text = colon + 2;
	snprintf(buf, sizeof(buf), "%s/%s", site, text);
	o->line(o->arg, true, buf);
}

/* The child's cascade, read to its end: r->cascade_rc. */
static int
read_cascade(int fd, double timeout, const char *where, const char *site,
    const struct site_push_opts *o, struct site_push_result *r)
{
	char line[SITELINE_MAX];
	const char *rest;
	uint64_t rc;

	for (;;) {
		if (siteline_read(fd, timeout, where, line, sizeof(line)) == -1)
			return -1;
		if ((rest = siteline_word(line, "out")) != NULL)
			pass_out(o, site, rest);
		else if ((rest = siteline_word(line, "err")) != NULL)
			pass_err(o, site, rest);
		else if (strcmp(line, "wait") == 0)
			continue;
		else if ((rest = siteline_word(line, "cascade")) != NULL &&
		    num_u64(rest, strlen(rest), 255, &rc) == 0) {
			r->cascade_rc = (int)rc;
			return 0;
		} else
			return err_set("%s: an answer not of the protocol",
			    where);
	}
}

/* A digest read and not needed. */
static int
skip_digest(void *arg, const unsigned char d[DIGEST_LEN])
{
	(void)arg;
	(void)d;
	return 0;
}

/* The parent's reading of the child's "whole K" and its digests: the
 * recipes it could not rebuild (their digests are not needed: the next
 * session sends none). */
static int
read_whole(int fd, double timeout, const char *where, const char *rest,
    uint64_t *n)
{
	if (num_u64(rest, strlen(rest), OFFER_MAX, n) == -1 || *n == 0)
		return err_set("%s: an answer not of the protocol", where);
	return siteline_read_digests(fd, timeout, where, *n, skip_digest, NULL);
}

/* What one session of a push is: the protocol's version, and whether it
 * may send recipes; older or whole: the child asks for another session
 * (it speaks only an older version, or wants contents whole). */
struct session {
	int version;
	bool recipes;
	bool older; /* the child refused this version */
	bool whole; /* the child wants the recipes' contents whole */
};

static int
push_session(struct store *s, const struct dp *site, const char *pkg,
    const struct manifest *m, const struct site_push_opts *o,
    struct site_push_result *r, struct session *ss)
{
	bool dry_run = o->dry_run, cascade = o->cascade && !o->dry_run;
	struct remote_conn *c = NULL;
	struct digestset_item *cv = NULL, *only = NULL, nothing;
	struct site_recipe_stats st;
	struct manifest bm;
	size_t ncv = 0, nonly = 0;
	char line[SITELINE_MAX];
	const char *rest, *where;
	uint64_t b;
	double timeout;
	int fd, k, rc = -1;

	manifest_init(&bm);
	memset(&st, 0, sizeof(st));
	ss->older = ss->whole = false;
	r->recipes = r->bytes_saved = 0;
	if (remote_open_mode(&site->target, store_config(s), SITESSH_MODE,
		&c) == -1)
		return -1;
	fd = remote_conn_fd(c);
	where = remote_conn_where(c);
	timeout = remote_conn_timeout(c);
	if (siteline_write(fd, "%s %s %" PRIu64 "%s%s",
		ss->version == 1     ? SITESSH_MAGIC_1 :
		    ss->version == 2 ? SITESSH_MAGIC_2 :
				       SITESSH_MAGIC,
		pkg, m->version, cascade ? " cascade" : "",
		cascade && o->json ? " json" : "") == -1 ||
	    siteline_read(fd, timeout, where, line, sizeof(line)) == -1)
		goto out;
	/* What an older release answers to a version it does not speak. */
	if (ss->version != 1 && strcmp(line, "error " SITESSH_NOT_OURS) == 0) {
		ss->older = true;
		remote_conn_drop(c);
		return 0;
	}
	if ((rest = siteline_word(line, "error")) != NULL) {
		err_set("%s: %s", where, rest);
		goto out;
	}
	if (strcmp(line, "have") == 0) {
		r->up_to_date = true;
		if (cascade &&
		    read_cascade(fd, timeout, where, site->name, o, r) == -1)
			goto out;
		rc = 0;
		goto out;
	}
	if ((rest = siteline_word(line, "base")) == NULL ||
	    num_u64(rest, strlen(rest), STORE_VERSION_MAX, &b) == -1 ||
	    b >= m->version) {
		err_set("%s: an answer not of the protocol (a pkgpush "
			"without --receive there?)",
		    where);
		goto out;
	}
	/* A delta against what the child has, when this store still has
	 * it to tell what it lacks. */
	r->base = 0;
	if (b != 0) {
		if ((k = store_has_version(s, pkg, b)) == -1)
			goto out;
		if (k == 1)
			r->base = b;
	}
	if (dry_run) {
		rc = 0;
		goto out;
	}
	/* Only what its store lacks, of what the file would hold. */
	if (pack_contents(s, pkg, m->version, r->base, &cv, &ncv) == -1 ||
	    offer(fd, timeout, where, cv, ncv, &only, &nonly) == -1)
		goto out;
	r->contents = ncv;
	r->contents_sent = nonly;
	/* Version 2: the large contents that changed a little, as recipes
	 * against the child's copy of the base version's. */
	if (ss->version != 1) {
		if (ss->recipes && r->base != 0 &&
		    store_load_manifest(s, pkg, r->base, &bm) == -1)
			goto out;
		if (site_recipe_send(fd, s, m,
			ss->recipes && r->base != 0 ? &bm : NULL, only, &nonly,
			&st) == -1) {
			err_prefix("%s: ", where);
			goto out;
		}
		r->recipes = st.recipes;
		r->bytes_saved = st.saved;
	}
	/* An empty set, not none: a child that lacks nothing gets none. */
	if (pack_export_only(s, pkg, m->version, r->base,
		only != NULL ? only : &nothing, nonly,
		ss->version >= 3 ? PACK_EXPORT_MANIFEST_CHANGES : 0, fd,
		NULL) == -1) {
		err_prefix("%s: ", where);
		goto out;
	}
	if (shutdown(fd, SHUT_WR) == -1) {
		err_sys("%s", where);
		goto out;
	}
	/* The child checks and commits after the last byte: give it time. */
	if (siteline_read(fd, timeout * 10, where, line, sizeof(line)) == -1)
		goto out;
	if ((rest = siteline_word(line, "done")) != NULL) {
		if (cascade &&
		    read_cascade(fd, timeout, where, site->name, o, r) == -1)
			goto out;
		rc = 0;
		goto out;
	}
	if (ss->version != 1 && ss->recipes &&
	    (rest = siteline_word(line, "whole")) != NULL) {
		if (read_whole(fd, timeout, where, rest, &b) == -1)
			goto out;
		/* Those rebuilt are kept there; what they saved is not
		 * counted (the next session sends the others whole). */
		r->recipes = st.recipes > b ? st.recipes - b : 0;
		r->bytes_saved = 0;
		ss->whole = true;
		rc = 0;
		goto out;
	}
	if ((rest = siteline_word(line, "refused")) != NULL ||
	    (rest = siteline_word(line, "error")) != NULL)
		err_set("%s: %s", where, rest);
	else
		err_set("%s: an answer not of the protocol", where);
out:
	manifest_free(&bm);
	free(cv);
	free(only);
	return remote_conn_end(c, rc);
}

/*
 * A child that speaks only an older version gets it in another session
 * (one a version: 3, then 2, then 1); one
 * whose copy of a base content could not rebuild a recipe gets those
 * contents whole in a second (the ones it rebuilt it kept).
 */
int
sitessh_push(struct store *s, const struct dp *site, const char *pkg,
    const struct manifest *m, const struct site_push_opts *o,
    struct site_push_result *r)
{
	struct session ss = { 3, true, false, false };
	uint64_t recipes = 0, saved = 0;
	int tries;

	for (tries = 0; tries < 4; tries++) {
		if (push_session(s, site, pkg, m, o, r, &ss) == -1)
			return -1;
		recipes += r->recipes;
		saved += r->bytes_saved;
		if (ss.older)
			ss.version--;
		else if (ss.whole)
			ss.recipes = false;
		else {
			r->recipes = recipes;
			r->bytes_saved = saved;
			return 0;
		}
	}
	return err_set("site '%s': asked for the push again and again",
	    site->name);
}

int
sitessh_status(struct store *s, const struct dp *site, const char *pkg,
    const struct site_push_opts *o, struct sitessh_has **out, size_t *nout,
    int *cascade_rc)
{
	struct remote_conn *c = NULL;
	struct sitessh_has *v = NULL, *nv;
	struct site_push_result r;
	char line[SITELINE_MAX];
	const char *rest, *sp, *where;
	size_t n = 0;
	double timeout;
	int fd, rc = -1;

	*out = NULL;
	*nout = 0;
	*cascade_rc = -1;
	if (remote_open_mode(&site->target, store_config(s), SITESSH_MODE,
		&c) == -1)
		return -1;
	fd = remote_conn_fd(c);
	where = remote_conn_where(c);
	timeout = remote_conn_timeout(c);
	if (siteline_write(fd, "%s %s%s%s", SITESSH_STATUS_MAGIC,
		pkg != NULL ? pkg : "*", o->cascade ? " cascade" : "",
		o->cascade && o->json ? " json" : "") == -1)
		goto out;
	for (;;) {
		if (siteline_read(fd, timeout, where, line, sizeof(line)) == -1)
			goto out;
		if (strcmp(line, "end") == 0)
			break;
		if ((rest = siteline_word(line, "error")) != NULL) {
			err_set("%s: %s", where, rest);
			goto out;
		}
		if ((rest = siteline_word(line, "has")) == NULL ||
		    (sp = strchr(rest, ' ')) == NULL ||
		    (size_t)(sp - rest) > NAME_MAX_LEN) {
			err_set("%s: an answer not of the protocol (a pkgpush "
				"without --receive there?)",
			    where);
			goto out;
		}
		if ((nv = realloc(v, (n + 1) * sizeof(*nv))) == NULL) {
			err_nomem();
			goto out;
		}
		v = nv;
		memcpy(v[n].package, rest, (size_t)(sp - rest));
		v[n].package[sp - rest] = '\0';
		if (!name_valid(v[n].package) ||
		    num_u64(sp + 1, strlen(sp + 1), STORE_VERSION_MAX,
			&v[n].version) == -1) {
			err_set("%s: an answer not of the protocol", where);
			goto out;
		}
		n++;
	}
	if (o->cascade) {
		memset(&r, 0, sizeof(r));
		if (read_cascade(fd, timeout, where, site->name, o, &r) == -1)
			goto out;
		*cascade_rc = r.cascade_rc;
	}
	*out = v;
	*nout = n;
	v = NULL;
	rc = 0;
out:
	free(v);
	return remote_conn_end(c, rc);
}

/* ---- the child ---- */

/* The highest version of pkg below v in s (0: none). */
static int
below(struct store *s, const char *pkg, uint64_t v, uint64_t *b)
{
	uint64_t *vv = NULL;
	size_t n = 0, i;

	*b = 0;
	if (store_versions(s, pkg, &vv, &n) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (vv[i] < v && vv[i] > *b)
			*b = vv[i];
	free(vv);
	return 0;
}

/* Send what the fd of one of the cascade's streams has: each whole line
 * as "WORD TEXT" (a line too long goes in parts).  0 at its end. */
static int
pass_stream(int fd, int out, const char *word, char *buf, size_t *len)
{
	char *nl;
	ssize_t k;

	if ((k = read(fd, buf + *len, SITELINE_MAX - 64 - *len)) == -1)
		return errno == EINTR || errno == EAGAIN ?
		    1 :
		    err_sys("the cascade's output");
	if (k == 0) {
		if (*len > 0 &&
		    siteline_write(out, "%s %.*s", word, (int)*len, buf) == -1)
			return -1;
		*len = 0;
		return 0;
	}
	*len += (size_t)k;
	while ((nl = memchr(buf, '\n', *len)) != NULL) {
		if (siteline_write(out, "%s %.*s", word, (int)(nl - buf),
			buf) == -1)
			return -1;
		*len -= (size_t)(nl + 1 - buf);
		memmove(buf, nl + 1, *len);
	}
	if (*len == SITELINE_MAX - 64) {
		if (siteline_write(out, "%s %.*s", word, (int)*len, buf) == -1)
			return -1;
		*len = 0;
	}
	return 1;
}

/*
 * Run argv (argv[0] the pkgpush beside this one, set here) with its
 * output passed to the parent line by line, then "cascade RC".
 */
static int
run_own(int out, char **argv)
{
	posix_spawn_file_actions_t fa;
	char exe[PATH_MAX], obuf[SITELINE_MAX], ebuf[SITELINE_MAX];
	struct pollfd pf[2];
	size_t olen = 0, elen = 0, i;
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, status, r, k, rc = -1;
	pid_t pid = -1;
	bool fa_ok = false;

	if (retryrun_exedir(exe, sizeof(exe) - 9) == -1)
		return -1;
	strcat(exe, "/pkgpush");
	argv[0] = exe;
	if (pipe2(po, O_CLOEXEC) == -1 || pipe2(pe, O_CLOEXEC) == -1) {
		err_sys("cannot start the cascade");
		goto out;
	}
	if ((r = posix_spawn_file_actions_init(&fa)) != 0)
		goto spawnerr;
	fa_ok = true;
	if ((r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
		 0)) != 0 ||
	    (r = posix_spawn_file_actions_adddup2(&fa, po[1], 1)) != 0 ||
	    (r = posix_spawn_file_actions_adddup2(&fa, pe[1], 2)) != 0)
		goto spawnerr;
	if ((r = posix_spawn(&pid, exe, &fa, NULL, argv, environ)) != 0) {
		pid = -1;
		goto spawnerr;
	}
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	/* Both streams to their end, a "wait" when it is quiet a while. */
	while (po[0] != -1 || pe[0] != -1) {
		pf[0].fd = po[0];
		pf[1].fd = pe[0];
		pf[0].events = pf[1].events = POLLIN;
		pf[0].revents = pf[1].revents = 0;
		if ((r = poll(pf, 2, 10000)) == -1) {
			if (errno == EINTR)
				continue;
			err_sys("the cascade's output");
			goto out;
		}
		if (r == 0) {
			if (siteline_write(out, "wait") == -1)
				goto out;
			continue;
		}
		if (pf[0].revents != 0) {
			if ((k = pass_stream(po[0], out, "out", obuf, &olen)) ==
			    -1)
				goto out;
			if (k == 0) {
				close(po[0]);
				po[0] = -1;
			}
		}
		if (pf[1].revents != 0) {
			if ((k = pass_stream(pe[0], out, "err", ebuf, &elen)) ==
			    -1)
				goto out;
			if (k == 0) {
				close(pe[0]);
				pe[0] = -1;
			}
		}
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			err_sys("the cascade");
			goto out;
		}
	pid = -1;
	rc = siteline_write(out, "cascade %d",
	    WIFEXITED(status) ? WEXITSTATUS(status) : 2);
	goto out;
spawnerr:
	errno = r;
	err_sys("cannot run '%s'", exe);
out:
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	for (i = 0; i < 2; i++) {
		if (po[i] != -1)
			close(po[i]);
		if (pe[i] != -1)
			close(pe[i]);
	}
	if (pid != -1)
		(void)waitpid(pid, &status, 0);
	argv[0] = NULL; /* exe is ours */
	return rc;
}

/*
 * The child's own push of pkg version v to its targets that hold it
 * (the pkgpush beside this one, on the store at path), its lines passed
 * to the parent, then "cascade RC".  Nothing holds it here: "cascade 0".
 */
static int
cascade(struct store *s, int out, const char *path, const char *pkg, uint64_t v,
    bool json)
{
	struct store_holding *h = NULL;
	char vbuf[24], *argv[12];
	size_t nh = 0, i;
	int k, n = 1;

	if (store_holdings(s, pkg, &h, &nh) == -1)
		return -1;
	for (i = 0, k = 0; i < nh; i++)
		if (h[i].version != 0 || h[i].wanted != 0)
			k = 1;
	free(h);
	if (k == 0)
		return siteline_write(out, "cascade 0");
	snprintf(vbuf, sizeof(vbuf), "%" PRIu64, v);
	argv[n++] = (char *)(uintptr_t) "-s";
	argv[n++] = (char *)(uintptr_t)path;
	argv[n++] = (char *)(uintptr_t) "--refresh-existing";
	argv[n++] = (char *)(uintptr_t) "--cascade";
	if (json)
		argv[n++] = (char *)(uintptr_t) "--json";
	argv[n++] = (char *)(uintptr_t) "--version";
	argv[n++] = vbuf;
	argv[n++] = (char *)(uintptr_t) "--";
	argv[n++] = (char *)(uintptr_t)pkg;
	argv[n] = NULL;
	return run_own(out, argv);
}

/* What the parent's offer fills: the contents this store lacks. */
struct have_not {
	struct store *s;
	struct digestset_item *v;
	size_t n;
};

static int
note_lacked(void *arg, const unsigned char d[DIGEST_LEN])
{
	struct have_not *h = arg;
	int k;

	if ((k = store_has_content(h->s, d)) == -1)
		return -1;
	if (k == 0)
		memcpy(h->v[h->n++].d, d, DIGEST_LEN);
	return 0;
}

/* The parent's offer: which of its contents this store lacks, told to
 * it, and kept in *lack (a sorted set, malloc'd; sizes 0).  The parent
 * sends nothing after the offer until it has the answer: it is read in
 * blocks. */
static int
answer_offer(int in, int out, struct store *s, struct digestset_item **lack,
    size_t *nlack)
{
	struct have_not h = { s, NULL, 0 };
	char line[SITELINE_MAX];
	const char *rest;
	uint64_t n;
	size_t kept = 0;
	int rc = -1;

	*lack = NULL;
	*nlack = 0;
	if (siteline_read(in, 600.0, "the parent", line, sizeof(line)) == -1)
		return -1;
	if ((rest = siteline_word(line, "offer")) == NULL ||
	    num_u64(rest, strlen(rest), OFFER_MAX, &n) == -1)
		return err_set(SITESSH_NOT_OURS);
	if (n > 0 && (h.v = calloc((size_t)n, sizeof(*h.v))) == NULL)
		return err_nomem();
	if (siteline_read_digests(in, 600.0, "the parent", n, note_lacked,
		&h) == -1 ||
	    siteline_write(out, "lack %zu", h.n) == -1 ||
	    siteline_write_digests(out, h.v, h.n, sizeof(*h.v)) == -1)
		goto out;
	if (h.n > 0 &&
	    digestset_sort(h.v, h.n, sizeof(*h.v), false, &kept) == -1)
		goto out;
	*lack = h.v;
	*nlack = kept;
	h.v = NULL;
	rc = 0;
out:
	free(h.v);
	return rc;
}

/* "pkgdist-site-status 1 PKG|*[ cascade[ json]]": what this store has. */
static int
serve_status(int out, const char *path, const char *rest)
{
	struct store *s = NULL;
	char pkg[NAME_MAX_LEN + 1], **names = NULL, *argv[12];
	const char *flags;
	size_t len, nn = 0, i;
	uint64_t v;
	bool all, casc = false, json = false;
	int n = 1, rc = -1;

	flags = strchr(rest, ' ');
	len = flags != NULL ? (size_t)(flags - rest) : strlen(rest);
	if (flags != NULL) {
		casc = strcmp(flags, " cascade") == 0 ||
		    strcmp(flags, " cascade json") == 0;
		json = strcmp(flags, " cascade json") == 0;
	}
	if (len > NAME_MAX_LEN || (flags != NULL && !casc)) {
		err_set(SITESSH_NOT_OURS);
		goto tell;
	}
	memcpy(pkg, rest, len);
	pkg[len] = '\0';
	all = strcmp(pkg, "*") == 0;
	if (!all && !name_valid(pkg)) {
		err_set(SITESSH_NOT_OURS);
		goto tell;
	}
	if (store_open(path, 0, &s) == -1)
		goto tell;
	if (all) {
		if (store_packages(s, &names, &nn) == -1)
			goto tell;
		for (i = 0; i < nn; i++) {
			if (store_newest(s, names[i], &v) == -1)
				goto tell;
			if (v != 0 &&
			    siteline_write(out, "has %s %" PRIu64, names[i],
				v) == -1)
				goto out;
		}
	} else {
		if (store_newest(s, pkg, &v) == -1)
			goto tell;
		if (siteline_write(out, "has %s %" PRIu64, pkg, v) == -1)
			goto out;
	}
	if (siteline_write(out, "end") == -1)
		goto out;
	if (!casc) {
		rc = 0;
		goto out;
	}
	argv[n++] = (char *)(uintptr_t) "-s";
	argv[n++] = (char *)(uintptr_t)path;
	argv[n++] = (char *)(uintptr_t) "--status";
	argv[n++] = (char *)(uintptr_t) "--cascade";
	if (json)
		argv[n++] = (char *)(uintptr_t) "--json";
	if (!all) {
		argv[n++] = (char *)(uintptr_t) "--";
		argv[n++] = pkg;
	}
	argv[n] = NULL;
	rc = run_own(out, argv);
	goto out;
tell : {
	struct err_saved why = ERR_SAVED_INIT;

	err_save(&why);
	(void)siteline_write(out, "error %s", why.msg);
	(void)err_restore(&why);
}
out:
	store_strings_free(names, nn);
	store_close(s);
	return rc;
}

int
sitessh_serve(int in, int out, const char *path)
{
	struct store *s = NULL;
	struct err_saved why = ERR_SAVED_INIT;
	struct pack_import_opts po;
	enum pack_import_result res;
	char line[SITELINE_MAX], pkg[NAME_MAX_LEN + 1];
	const char *rest, *sp, *flags;
	struct digestset_item *lack = NULL;
	unsigned char(*whole)[DIGEST_LEN] = NULL;
	size_t nlack = 0, nwhole = 0;
	uint64_t v, b;
	int k, objlock = -1, version = 3, rc = -1;
	bool want_cascade = false, json = false;

	if (siteline_read(in, 600.0, "the parent", line, sizeof(line)) == -1)
		return -1;
	if ((rest = siteline_word(line, SITESSH_STATUS_MAGIC)) != NULL)
		return serve_status(out, path, rest);
	/* A parent of an older release speaks version 2 (the manifest
	 * whole) or 1 (no recipes either). */
	if ((rest = siteline_word(line, SITESSH_MAGIC)) == NULL) {
		if ((rest = siteline_word(line, SITESSH_MAGIC_2)) != NULL)
			version = 2;
		else if ((rest = siteline_word(line, SITESSH_MAGIC_1)) != NULL)
			version = 1;
	}
	if (rest == NULL || (sp = strchr(rest, ' ')) == NULL ||
	    (size_t)(sp - rest) > NAME_MAX_LEN) {
		err_set(SITESSH_NOT_OURS);
		goto tell;
	}
	memcpy(pkg, rest, (size_t)(sp - rest));
	pkg[sp - rest] = '\0';
	/* Then the version, and the flags after it. */
	flags = strchr(sp + 1, ' ');
	if (flags != NULL) {
		want_cascade = strcmp(flags, " cascade") == 0 ||
		    strcmp(flags, " cascade json") == 0;
		json = strcmp(flags, " cascade json") == 0;
	}
	if (!name_valid(pkg) ||
	    num_u64(sp + 1,
		flags != NULL ? (size_t)(flags - sp - 1) : strlen(sp + 1),
		STORE_VERSION_MAX, &v) == -1 ||
	    v == 0 || (flags != NULL && !want_cascade)) {
		err_set(SITESSH_NOT_OURS);
		goto tell;
	}
	/* Never a new store: a missing one makes the site unreachable. */
	if (store_open(path, 0, &s) == -1 ||
	    (k = store_has_version(s, pkg, v)) == -1)
		goto tell;
	if (k == 1) {
		if ((rc = siteline_write(out, "have")) == 0 && want_cascade)
			rc = cascade(s, out, path, pkg, v, json);
		goto out;
	}
	if (below(s, pkg, v, &b) == -1 ||
	    siteline_write(out, "base %" PRIu64, b) == -1 ||
	    answer_offer(in, out, s, &lack, &nlack) == -1 ||
	    (version >= 2 &&
		site_recipe_receive(in, s, pkg, b, lack, nlack, &whole, &nwhole,
		    &objlock) == -1))
		goto tell;
	memset(&po, 0, sizeof(po));
	po.wait = STORE_WAIT_DEFAULT;
	po.keep_contents = true;
	po.manifest_changes = version >= 3;
	if (pack_import(s, in, "the parent's package file", &po, &res, NULL,
		NULL) == -1) {
		/* It lacks what a recipe was to make: ask for it whole
		 * (the contents received are kept). */
		if (nwhole > 0) {
			if ((rc = siteline_write(out, "whole %zu", nwhole)) ==
			    0)
				rc = siteline_write_digests(out, whole, nwhole,
				    sizeof(*whole));
			goto out;
		}
		err_save(&why);
		(void)siteline_write(out, "%s %s",
		    res == PACK_FAILED ? "error" : "refused", why.msg);
		(void)err_restore(&why);
		goto out;
	}
	rc = siteline_write(out, "done %s",
	    res == PACK_ALREADY_PRESENT	   ? "present" :
		res == PACK_IMPORTED_OLDER ? "older" :
					     "imported");
	if (rc == 0 && want_cascade)
		rc = cascade(s, out, path, pkg, v, json);
	goto out;
tell:
	err_save(&why);
	(void)siteline_write(out, "error %s", why.msg);
	(void)err_restore(&why);
out:
	if (objlock != -1)
		lock_release(objlock);
	free(lack);
	free(whole);
	store_close(s);
	return rc;
}
