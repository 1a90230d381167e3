/*
 * remote.c — the client side of a remote DP (remote.h).
 * _GNU_SOURCE: pipe2 (O_CLOEXEC set atomically: pkgpush spawns from
 * several threads at once).
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blob.h"
#include "changes.h"
#include "child.h"
#include "chunk.h"
#include "config.h"
#include "digest.h"
#include "digestset.h"
#include "err.h"
#include "io.h"
#include "lock.h"
#include "path.h"
#include "progress.h"
#include "proto.h"
#include "recipe_make.h"
#include "remote.h"
#include "remote_recipe.h"
#include "store.h"

extern char **environ;

#define REMOTE_WORDS_MAX 256

char *
remote_shell_quote(const char *s)
{
	size_t n = 2, i;
	char *out, *p;

	for (i = 0; s[i] != '\0'; i++)
		n += s[i] == '\'' ? 4 : 1;
	if ((out = malloc(n + 1)) == NULL) {
		err_nomem();
		return NULL;
	}
	p = out;
	*p++ = '\'';
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '\'') {
			memcpy(p, "'\\''", 4);
			p += 4;
		} else
			*p++ = s[i];
	}
	*p++ = '\'';
	*p = '\0';
	return out;
}

void
remote_argv_free(char **argv)
{
	size_t i;

	if (argv == NULL)
		return;
	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

static int
argv_add(char **v, size_t *n, const char *s, size_t len)
{
	if (*n >= REMOTE_WORDS_MAX)
		return err_set("ssh command: too many words");
	if ((v[*n] = strndup(s, len)) == NULL)
		return err_nomem();
	(*n)++;
	return 0;
}

int
remote_argv(const struct dp_target *t, const struct config *cfg, char ***out)
{
	return remote_argv_mode(t, cfg, "--serve", out);
}

/* The remote command: "PROG MODE PATH" with t's path, then the more
 * paths (nmore), each quoted: a session for several DPs. */
static char *
remote_command(const char *prog, const char *mode, const char *path,
    const char *const *more, size_t nmore)
{
	char **q, *cmd = NULL;
	size_t len, used, i;

	if ((q = calloc(nmore + 1, sizeof(*q))) == NULL) {
		err_nomem();
		return NULL;
	}
	len = strlen(prog) + 1 + strlen(mode) + 1;
	for (i = 0; i <= nmore; i++) {
		if ((q[i] = remote_shell_quote(i == 0 ? path : more[i - 1])) ==
		    NULL)
			goto out;
		len += 1 + strlen(q[i]);
	}
	if ((cmd = malloc(len)) == NULL) {
		err_nomem();
		goto out;
	}
	used = (size_t)snprintf(cmd, len, "%s %s", prog, mode);
	for (i = 0; i <= nmore; i++)
		used += (size_t)snprintf(cmd + used, len - used, " %s", q[i]);
out:
	for (i = 0; i <= nmore; i++)
		free(q[i]);
	free(q);
	return cmd;
}

static int
argv_paths(const struct dp_target *t, const struct config *cfg,
    const char *mode, const char *const *more, size_t nmore, char ***out)
{
	const char *ssh, *prog, *s;
	char **v = NULL, port[16], *cmd = NULL;
	size_t n = 0, len;

	*out = NULL;
	if (t->kind != DP_SSH || t->host == NULL || t->path == NULL)
		return err_set("not an ssh:// target");
	ssh = config_ssh(cfg);
	prog = config_remote_pkgpush(cfg);
	if ((v = calloc(REMOTE_WORDS_MAX + 1, sizeof(*v))) == NULL)
		return err_nomem();
	for (s = ssh; *s != '\0';) {
		if (*s == ' ' || *s == '\t' || *s == '\n') {
			s++;
			continue;
		}
		len = strcspn(s, " \t\n");
		if (argv_add(v, &n, s, len) == -1)
			goto fail;
		s += len;
	}
	if (n == 0 && argv_add(v, &n, "ssh", 3) == -1)
		goto fail;
	if (t->port != 0) {
		snprintf(port, sizeof(port), "%u", t->port);
		if (argv_add(v, &n, "-p", 2) == -1 ||
		    argv_add(v, &n, port, strlen(port)) == -1)
			goto fail;
	}
	if (t->user != NULL &&
	    (argv_add(v, &n, "-l", 2) == -1 ||
		argv_add(v, &n, t->user, strlen(t->user)) == -1))
		goto fail;
	if (argv_add(v, &n, t->host, strlen(t->host)) == -1)
		goto fail;
	if ((cmd = remote_command(prog, mode, t->path, more, nmore)) == NULL ||
	    argv_add(v, &n, cmd, strlen(cmd)) == -1)
		goto fail;
	free(cmd);
	*out = v;
	return 0;
fail:
	free(cmd);
	remote_argv_free(v);
	return -1;
}

int
remote_argv_mode(const struct dp_target *t, const struct config *cfg,
    const char *mode, char ***out)
{
	return argv_paths(t, cfg, mode, NULL, 0, out);
}

/* ---- the ssh child ---- */

struct remote_conn {
	pid_t pid;
	int sock;    /* our end of ssh's stdin and stdout */
	int errfd;   /* ssh's stderr */
	char *where; /* "ssh://..." for messages: the DP being pushed */
	struct proto p;
	bool proto_ok;

	/*
	 * A session for several DPs of one host (proto.h): the endpoint
	 * (user, host, port of the first DP's target), the paths on the
	 * remote's command line (paths[0] the first DP's) and which of them
	 * were pushed.  many: the remote said PATHS, so it takes NEXT.
	 * refused_many: the remote exited 2 without a word of the protocol
	 * (a release that takes one path: its usage message held, not
	 * shown); the session then went on with the first DP alone.
	 */
	const struct dp_target *endpoint;
	char **paths;
	bool *pushed;
	size_t npaths;
	unsigned pushes; /* PUSH requests sent */
	bool said_paths; /* PATHS came: it waits for NEXT after a RESULT */
	bool many, refused_many;
};

static void conn_close(struct remote_conn *, bool);

/*
 * A remote asked to serve several paths that exited before a word of the
 * protocol: a release that takes one path refuses the others with its
 * usage message and exit status 2, and a forced command that checks what
 * it is asked may refuse them its own way (its message held while the
 * session had no hello).  ssh's own failures (exit 255: no route, a
 * login refused) would only fail again.
 */
static bool
refused_many(const struct remote_conn *c, bool exited, int status)
{
	return c->npaths > 1 && c->p.bytes_in == 0 && exited &&
	    WIFEXITED(status) && WEXITSTATUS(status) != 255;
}

/* c->where for t: shown as every path is (path_show()). */
static int
conn_set_where(struct remote_conn *c, const struct dp_target *t)
{
	char *raw, *shown;
	size_t wl;

	if ((raw = dplist_target_string(t)) == NULL)
		return -1;
	wl = 4 * strlen(raw) + 8;
	if ((shown = malloc(wl)) == NULL) {
		free(raw);
		return err_nomem();
	}
	path_show(raw, shown, wl);
	free(raw);
	free(c->where);
	c->where = shown;
	return 0;
}

static void
conn_paths_free(struct remote_conn *c)
{
	size_t i;

	for (i = 0; i < c->npaths; i++)
		free(c->paths[i]);
	free(c->paths);
	free(c->pushed);
	c->paths = NULL;
	c->pushed = NULL;
	c->npaths = 0;
}

/* The session's paths: t's, then more (nmore). */
static int
conn_paths_set(struct remote_conn *c, const struct dp_target *t,
    const char *const *more, size_t nmore)
{
	size_t i;

	c->endpoint = t;
	if ((c->paths = calloc(nmore + 1, sizeof(*c->paths))) == NULL ||
	    (c->pushed = calloc(nmore + 1, sizeof(*c->pushed))) == NULL)
		goto nomem;
	for (i = 0; i <= nmore; i++) {
		if ((c->paths[i] = strdup(i == 0 ? t->path : more[i - 1])) ==
		    NULL)
			goto nomem;
		c->npaths = i + 1;
	}
	return 0;
nomem:
	conn_paths_free(c);
	return err_nomem();
}

static int
conn_open_mode(const struct dp_target *t, const struct config *cfg,
    const char *mode, const char *const *more, size_t nmore,
    struct remote_conn *c)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, def;
	char **argv = NULL;
	int sv[2] = { -1, -1 }, ep[2] = { -1, -1 }, r, rc = -1;
	bool fa_ok = false, at_ok = false;

	c->pid = -1;
	c->sock = -1;
	c->errfd = -1;
	c->proto_ok = false;
	c->where = NULL;
	c->pushes = 0;
	c->many = c->said_paths = false;
	if (conn_set_where(c, t) == -1 ||
	    conn_paths_set(c, t, more, nmore) == -1)
		goto out;
	if (argv_paths(t, cfg, mode, more, nmore, &argv) == -1)
		goto out;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1 ||
	    pipe2(ep, O_CLOEXEC) == -1) {
		err_sys("cannot start ssh");
		goto out;
	}
	/* Room for a few contents in flight while the remote syncs a
	 * file (best effort). */
	r = 1 << 20;
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &r, sizeof(r));
	(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &r, sizeof(r));
	if ((r = posix_spawn_file_actions_init(&fa)) != 0)
		goto spawnerr;
	fa_ok = true;
	if ((r = posix_spawn_file_actions_adddup2(&fa, sv[1], 0)) != 0 ||
	    (r = posix_spawn_file_actions_adddup2(&fa, sv[1], 1)) != 0 ||
	    (r = posix_spawn_file_actions_adddup2(&fa, ep[1], 2)) != 0)
		goto spawnerr;
	if ((r = posix_spawnattr_init(&at)) != 0)
		goto spawnerr;
	at_ok = true;
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	if ((r = posix_spawnattr_setsigmask(&at, &none)) != 0 ||
	    (r = posix_spawnattr_setsigdefault(&at, &def)) != 0 ||
	    (r = posix_spawnattr_setflags(&at,
		 POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) != 0)
		goto spawnerr;
	if ((r = posix_spawnp(&c->pid, argv[0], &fa, &at, argv, environ)) !=
	    0) {
		c->pid = -1;
		errno = r;
		err_sys("cannot run '%s'", argv[0]);
		goto out;
	}
	c->sock = sv[0];
	sv[0] = -1;
	c->errfd = ep[0];
	ep[0] = -1;
	if (proto_init(&c->p, c->sock, c->sock, c->errfd, "remote") == -1)
		goto out;
	c->proto_ok = true;
	c->p.drop_mismatch = true;
	/* A remote that takes one path refuses more before its hello (a
	 * release's usage message, a forced command's words: refused_many()):
	 * what it says is held until the hello is in. */
	c->p.hold_err = nmore > 0;
	if (config_ssh_timeout(cfg, c->p.timeout, &c->p.timeout) == -1)
		goto out;
	rc = 0;
	goto out;
spawnerr:
	errno = r;
	err_sys("cannot start ssh");
out:
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (at_ok)
		posix_spawnattr_destroy(&at);
	if (sv[0] != -1)
		close(sv[0]);
	if (sv[1] != -1)
		close(sv[1]);
	if (ep[0] != -1)
		close(ep[0]);
	if (ep[1] != -1)
		close(ep[1]);
	remote_argv_free(argv);
	if (rc == -1) {
		struct err_saved failure = ERR_SAVED_INIT;

		err_save(&failure);
		conn_close(c, false);
		err_restore(&failure);
	}
	return rc;
}

/*
 * End the session: close our end (the remote sees end of input), then
 * wait for ssh; one that lingers is terminated.  ok: the session
 * succeeded (ssh is given longer to finish cleanly).
 */
static void
conn_close(struct remote_conn *c, bool ok)
{
	enum child_stop stop = CHILD_LEFT;
	int status = 0;

	if (c->sock != -1)
		close(c->sock);
	c->sock = -1;
	if (c->pid != -1)
		stop = child_end(c->pid, ok ? 10.0 : 0.5, 5.0, 60.0, &status);
	c->pid = -1;
	/* ssh's last words ("Transferred: ...", warnings) go to stderr. */
	if (c->proto_ok) {
		proto_drain_err(&c->p, 1.0);
		if (c->p.hold_err) {
			c->refused_many =
			    refused_many(c, stop == CHILD_EXITED, status);
			proto_err_release(&c->p, !c->refused_many);
		}
		proto_free(&c->p);
	}
	c->proto_ok = false;
	if (c->errfd != -1)
		close(c->errfd);
	c->errfd = -1;
	free(c->where);
	c->where = NULL;
	conn_paths_free(c);
}

static int
conn_open(const struct dp_target *t, const struct config *cfg,
    struct remote_conn *c)
{
	return conn_open_mode(t, cfg, "--serve", NULL, 0, c);
}

int
remote_open_mode(const struct dp_target *t, const struct config *cfg,
    const char *mode, struct remote_conn **out)
{
	struct remote_conn *c;
	int fl;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return err_nomem();
	if (conn_open_mode(t, cfg, mode, NULL, 0, c) == -1) {
		free(c);
		return -1;
	}
	/* The caller's protocol writes with plain full writes (a package
	 * file from pack_export_only()): a blocking socket, not the
	 * framing's non-blocking one (a large file met EAGAIN). */
	if ((fl = fcntl(c->sock, F_GETFL)) == -1 ||
	    fcntl(c->sock, F_SETFL, fl & ~O_NONBLOCK) == -1) {
		err_sys("%s", c->where);
		remote_conn_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

int
remote_conn_fd(const struct remote_conn *c)
{
	return c->sock;
}

const char *
remote_conn_where(const struct remote_conn *c)
{
	return c->where;
}

double
remote_conn_timeout(const struct remote_conn *c)
{
	return c->p.timeout;
}

void
remote_conn_done(struct remote_conn *c)
{
	if (c == NULL)
		return;
	conn_close(c, true);
	free(c);
}

int
remote_conn_end(struct remote_conn *c, int rc)
{
	struct err_saved why = ERR_SAVED_INIT;

	if (rc == 0) {
		remote_conn_done(c);
		return 0;
	}
	err_save(&why);
	remote_conn_free(c);
	(void)err_restore(&why);
	return rc;
}

/*
 * The remote's hello names an older version than ours: a release that
 * refused our hello and closed (one speaking version 2 accepts no other).
 * Start again in its version, sending our hello; its refusal is not
 * copied to stderr (it only said that it is older).
 */
static int
conn_reopen_older(const struct dp_target *t, const struct config *cfg,
    struct remote_conn *c)
{
	uint32_t v = c->p.peer_version;
	struct ratelimit *rate = c->p.rate;

	c->p.errfd = -1;
	conn_close(c, false);
	if (conn_open(t, cfg, c) == -1)
		return -1;
	c->p.version = v;
	c->p.rate = rate;
	return proto_hello_send(&c->p);
}

/*
 * After a read met the end of the remote's output before its hello: did
 * it refuse several paths (refused_many())?  ssh is given a few seconds
 * to pass on the exit.  The lines held are dropped if so (the remote is
 * asked again for one path, and says again what it has to say), shown
 * if not.
 */
static bool
conn_refused_many(struct remote_conn *c)
{
	int status = 0;

	if (c->npaths < 2 || c->p.bytes_in != 0 || c->pid == -1 ||
	    child_wait(c->pid, 5.0, &status) != 1)
		return false;
	c->pid = -1;
	proto_drain_err(&c->p, 1.0);
	c->refused_many = refused_many(c, true, status);
	proto_err_release(&c->p, !c->refused_many);
	return c->refused_many;
}

/* After conn_refused_many(): start again for t alone, our hello sent. */
static int
conn_reopen_one(const struct dp_target *t, const struct config *cfg,
    struct remote_conn *c)
{
	struct ratelimit *rate = c->p.rate;

	conn_close(c, false);
	if (conn_open(t, cfg, c) == -1)
		return -1;
	c->p.rate = rate;
	return proto_hello_send(&c->p);
}

int
remote_connect(const struct dp_target *t, const struct config *cfg,
    struct remote_conn **out)
{
	return remote_connect_many(t, cfg, NULL, 0, out);
}

int
remote_connect_many(const struct dp_target *t, const struct config *cfg,
    const char *const *more, size_t nmore, struct remote_conn **out)
{
	struct remote_conn *c;

	*out = NULL;
	if (nmore > PROTO_PATHS_MAX - 1)
		nmore = PROTO_PATHS_MAX - 1;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return err_nomem();
	if (conn_open_mode(t, cfg, "--serve", more, nmore, c) == -1) {
		free(c);
		return -1;
	}
	/* Our hello goes now; the remote's is read with its first reply.
	 * A failure here is reported by that read (the peer's reason). */
	(void)proto_hello_send(&c->p);
	*out = c;
	return 0;
}

void
remote_conn_free(struct remote_conn *c)
{
	if (c == NULL)
		return;
	conn_close(c, false);
	free(c);
}

void
remote_conn_drop(struct remote_conn *c)
{
	if (c == NULL)
		return;
	c->p.errfd = -1;
	remote_conn_free(c);
}

bool
remote_same_login(const struct dp_target *a, const struct dp_target *b)
{
	return a->kind == DP_SSH && b->kind == DP_SSH &&
	    strcmp(a->host, b->host) == 0 && a->port == b->port &&
	    (a->user == NULL ?
		    b->user == NULL :
		    b->user != NULL && strcmp(a->user, b->user) == 0);
}

/* The index of t's path in the session's, not pushed yet; -1: none. */
static long
session_slot(const struct remote_conn *c, const struct dp_target *t)
{
	size_t i;

	if (!c->many || !remote_same_login(c->endpoint, t))
		return -1;
	for (i = 0; i < c->npaths; i++)
		if (!c->pushed[i] && strcmp(c->paths[i], t->path) == 0)
			return (long)i;
	return -1;
}

bool
remote_session_serves(const struct remote_conn *c, const struct dp_target *t)
{
	return c != NULL && session_slot(c, t) != -1;
}

bool
remote_session_left(const struct remote_conn *c)
{
	size_t i;

	if (c == NULL || !c->many)
		return false;
	for (i = 0; i < c->npaths; i++)
		if (!c->pushed[i])
			return true;
	return false;
}

void
remote_session_end(struct remote_conn *c)
{
	if (c == NULL)
		return;
	/* NEXT "": the remote ends its session as one that went well. */
	if (c->said_paths && c->sock != -1)
		(void)proto_send(&c->p, PROTO_NEXT, c->p.buf,
		    proto_enc_next("", c->p.buf));
	remote_conn_done(c);
}

static void
write_stats(const struct remote_conn *c, uint64_t sent, uint64_t received,
    uint64_t contents, uint64_t cbytes, const char *how, bool spare,
    uint64_t recipes, uint64_t saved)
{
	const char *path = getenv(REMOTE_STATS_ENV);
	char line[512];
	int fd, n;

	if (path == NULL || *path == '\0')
		return;
	n = snprintf(line, sizeof(line),
	    "%s sent %" PRIu64 " received %" PRIu64 " contents %" PRIu64
	    " content_bytes %" PRIu64 " manifest %s spare %d recipes %" PRIu64
	    " saved %" PRIu64 "\n",
	    c->where, sent, received, contents, cbytes, how, spare ? 1 : 0,
	    recipes, saved);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	/* O_APPEND: one write per line, so parallel sessions do not mix. */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		 0644)) == -1)
		return;
	(void)io_write_full(fd, line, (size_t)n, path);
	close(fd);
}

/* ---- sending ---- */

/* The manifest as sent: its bytes, zlib-compressed when that is smaller
 * (digests and paths compress to about half: worth it on a WAN). */
struct wire_manifest {
	unsigned char *data;
	size_t len;   /* bytes of data */
	size_t plain; /* bytes of the manifest */
	bool zlib;
};

static void wire_set(struct wire_manifest *, char *, size_t);

static int
manifest_render(const struct manifest *m, struct wire_manifest *w)
{
	char *buf;
	size_t len;

	memset(w, 0, sizeof(*w));
	if (manifest_write_mem(m, &buf, &len) == -1)
		return -1;
	if (len == 0 || len > PROTO_MANIFEST_MAX) {
		free(buf);
		return err_set("manifest of %zu bytes: too large to send", len);
	}
	wire_set(w, buf, len);
	return 0;
}

/* w takes buf (len bytes, malloc'd), zlib-compressed when that pays. */
static void
wire_set(struct wire_manifest *w, char *buf, size_t len)
{
	unsigned char *z = NULL;
	size_t zlen = 0;

	w->plain = len;
	if (len > 0 && blob_compress(buf, len, &z, &zlen) == 0 && zlen < len) {
		free(buf);
		w->data = z;
		w->len = zlen;
		w->zlib = true;
	} else {
		free(z);
		w->data = (unsigned char *)buf;
		w->len = len;
		w->zlib = false;
	}
}

/*
 * The change list from version base (which the store says the DP holds)
 * to m, both as the DP holds them (dp_view), into w, and the SHA-256 of
 * the new manifest so rendered: 1.  0 when there is no use in one (base
 * gone from the store, or most of the manifest changed): the whole
 * manifest is sent.  -1 on error.
 */
static int
changes_render(struct store *s, const char *pkg, const struct manifest *m,
    uint64_t base, struct wire_manifest *w, unsigned char digest[DIGEST_LEN])
{
	struct manifest bm, bv, nv;
	struct change_list cl;
	struct digest dg = { NULL };
	char *buf = NULL, *nbuf = NULL;
	size_t len = 0, nlen = 0, n;
	int rc = -1;

	manifest_init(&bm);
	manifest_init(&bv);
	manifest_init(&nv);
	change_list_init(&cl);
	memset(w, 0, sizeof(*w));
	if (store_load_manifest(s, pkg, base, &bm) == -1) {
		rc = 0;
		goto out;
	}
	if (dp_view(&bm, pkg, base, &bv) == -1 ||
	    dp_view(m, pkg, m->version, &nv) == -1 ||
	    changes_list(&bv, &nv, &cl) == -1)
		goto out;
	if (cl.n > nv.n / 2) {
		rc = 0;
		goto out;
	}
	n = cl.n;
#ifdef PKGDIST_TESTING
	/* Test hook: a client that loses a change on the way. */
	if (n > 0 && getenv("PKGDIST_TEST_DROP_CHANGE") != NULL)
		n--;
#endif
	if (changes_write_mem(cl.v, n, &buf, &len) == -1 ||
	    manifest_write_mem(&nv, &nbuf, &nlen) == -1)
		goto out;
	if (len > PROTO_MANIFEST_MAX || len >= nlen) {
		rc = 0;
		goto out;
	}
	if (digest_init(&dg) == -1 || digest_update(&dg, nbuf, nlen) == -1 ||
	    digest_final(&dg, digest) == -1)
		goto out;
	wire_set(w, buf, len);
	buf = NULL;
	rc = 1;
out:
	free(buf);
	free(nbuf);
	digest_free(&dg);
	change_list_free(&cl);
	manifest_free(&bm);
	manifest_free(&bv);
	manifest_free(&nv);
	return rc;
}

/* DATA frames of w. */
static int
send_data(struct remote_conn *c, const struct wire_manifest *w)
{
	size_t off, k;

	for (off = 0; off < w->len; off += k) {
		k = w->len - off < PROTO_FRAME_MAX ? w->len - off :
						     PROTO_FRAME_MAX;
		if (proto_send(&c->p, PROTO_DATA, w->data + off, k) == -1)
			return -1;
	}
	return 0;
}

/* PUSH, then w: the manifest, or (base set) the change list from base. */
static int
send_push(struct remote_conn *c, const struct wire_manifest *wm,
    uint64_t version, const char *pkg, const struct dp_push_opts *o,
    uint64_t base, const unsigned char *digest)
{
	struct proto_push ph;

	memset(&ph, 0, sizeof(ph));
	snprintf(ph.package, sizeof(ph.package), "%s", pkg);
	ph.version = version;
	ph.flags = (o->inplace ? PROTO_F_INPLACE : 0) |
	    (o->verify ? PROTO_F_VERIFY : 0) |
	    (o->rollback ? PROTO_F_ROLLBACK : 0) |
	    (o->dry_run ? PROTO_F_DRY_RUN : 0);
	ph.keep = o->keep ? o->keep : 2;
	ph.lock_wait = REMOTE_LOCK_WAIT;
	ph.manifest_len = wm->plain;
	ph.manifest_zlen = wm->zlib ? wm->len : 0;
	ph.base = base;
	if (base != 0)
		memcpy(ph.digest, digest, DIGEST_LEN);
	if (proto_send(&c->p, PROTO_PUSH, c->p.buf,
		proto_enc_push(&ph, c->p.buf)) == -1)
		return -1;
	return send_data(c, wm);
}

/* The remote does not hold the base: the whole manifest after all. */
static int
send_whole(struct remote_conn *c, const struct manifest *m,
    struct wire_manifest *wm)
{
	struct proto_manifest pm;

	if (wm->data == NULL && manifest_render(m, wm) == -1)
		return -1;
	pm.len = wm->plain;
	pm.zlen = wm->zlib ? wm->len : 0;
	if (proto_send(&c->p, PROTO_MANIFEST, c->p.buf,
		proto_enc_manifest(&pm, c->p.buf)) == -1)
		return -1;
	return send_data(c, wm);
}

/* Send one content in its stored form; one the store cannot give is
 * named by pkg, m's version and file (store_err_content). */
static int
send_content(struct remote_conn *c, struct store *s, const char *pkg,
    const struct manifest *m, const struct digestset_item *need,
    unsigned char *buf, uint64_t *stored)
{
	struct store_raw raw;
	struct proto_content ch;
	char hex[DIGEST_HEXLEN + 1];
	uint64_t left;
	ssize_t k;
	int rc = -1;

	digest_hex(need->d, hex);
	if (store_content_raw(s, need->d, &raw) == -1)
		return store_err_content(pkg, m->version, m, need->d);
	memset(&ch, 0, sizeof(ch));
	memcpy(ch.digest, need->d, DIGEST_LEN);
	ch.size = need->size;
	ch.zlib = raw.zlib ? 1 : 0;
	ch.stored = raw.stored_size;
	if (!raw.zlib && raw.stored_size != need->size) {
		err_set("content %s: stored size %" PRIu64
			", expected %" PRIu64,
		    hex, raw.stored_size, need->size);
		store_err_content(pkg, m->version, m, need->d);
		goto out;
	}
	if (proto_send(&c->p, PROTO_CONTENT, buf,
		proto_enc_content(&ch, buf)) == -1)
		goto out;
	for (left = raw.stored_size; left > 0; left -= (uint64_t)k) {
		size_t want =
		    left < PROTO_FRAME_MAX ? (size_t)left : PROTO_FRAME_MAX;

		if ((k = store_raw_read(&raw, buf, want, hex)) == -1 ||
		    (size_t)k != want) {
			if (k != -1)
				err_set("content %s: shorter than stored size",
				    hex);
			store_err_content(pkg, m->version, m, need->d);
			goto out;
		}
		if (proto_send(&c->p, PROTO_DATA, buf, want) == -1)
			goto out;
	}
	*stored += raw.stored_size;
	rc = 0;
out:
	store_raw_close(&raw);
	return rc;
}

/*
 * Sending failed: the remote may have stopped reading because its push
 * failed, and said why.  0 with its RESULT; -1 (the sending error kept,
 * or the remote's ERROR) otherwise.
 */
static int
salvage_result(struct remote_conn *c, const unsigned char **pl, size_t *len)
{
	struct err_saved first = ERR_SAVED_INIT;
	uint32_t type;

	if (!c->p.stashed && err_errno() != ECONNRESET)
		return -1;
	err_save(&first);
	c->p.watch_in = false;
	if (c->p.timeout > 5)
		c->p.timeout = 5;
	if (proto_recv(&c->p, &type, pl, len) == 0 && type == PROTO_RESULT) {
		err_drop(&first);
		return 0;
	}
	/* An ERROR frame is the better reason; else the first one. */
	if (strstr(err_get(), "connection closed") != NULL ||
	    strstr(err_get(), "no progress") != NULL || err_get()[0] == '\0')
		return err_restore(&first);
	err_drop(&first);
	return -1;
}

/* A content sent as a recipe, and the bytes it saved, until the remote
 * says whether its old copy held (it asks for it again when not). */
struct recipe_note {
	unsigned char d[DIGEST_LEN];
	uint64_t saved;
};

static int
recipe_note(struct recipe_note **v, size_t *n, const unsigned char *d,
    uint64_t saved)
{
	struct recipe_note *nv;

	if ((nv = realloc(*v, (*n + 1) * sizeof(*nv))) == NULL)
		return err_nomem();
	memcpy(nv[*n].d, d, DIGEST_LEN);
	nv[*n].saved = saved;
	*v = nv;
	(*n)++;
	return 0;
}

/* What the recipe of d saved (0 when there was none), taken back. */
static uint64_t
recipe_unnote(struct recipe_note *v, size_t n, const unsigned char *d)
{
	uint64_t saved;
	size_t i;

	for (i = 0; i < n; i++)
		if (memcmp(v[i].d, d, DIGEST_LEN) == 0) {
			saved = v[i].saved;
			v[i].saved = 0;
			return saved;
		}
	return 0;
}

/* One push's side of the exchange (remote_push()). */
struct push_session {
	struct remote_conn *cp;
	struct store *s;
	const char *pkg;
	const struct manifest *m;
	const struct dp_push_opts *o;
	struct wire_manifest wm, wc; /* whole; changes */
	const char *how;	     /* "whole", "changes", "fallback" */
	struct digestset_item *idx;  /* the manifest's contents */
	size_t nidx;
	struct digestset_item *needs; /* asked for, not yet sent */
	size_t nneed, nfiles;
	unsigned char (*nd)[DIGEST_LEN]; /* one NEED frame's */
	uint64_t *nsz;
	unsigned char *sbuf;
	uint64_t total, stored, sent, expected;
	/* Recipes (remote_recipe.h): with a remote of version 3 recorded
	 * as holding base, in the first round; oldm is base's manifest,
	 * loaded when first needed. */
	const struct dp_target *t;
	uint64_t base;
	bool recipes_ok, oldm_loaded;
	struct manifest oldm;
	struct recipe_note *notes; /* sent as recipes */
	size_t nnotes;
	uint64_t recipes, rounds, saved;
};

/*
 * The request: the changes from base when the store can render them (and
 * not --verify, which trusts nothing the DP recorded, its manifest
 * included: the whole manifest goes, also the way out for a DP whose
 * record makes every change list fail its check), else the whole
 * manifest; then the remote's hello, read behind it (its banner or
 * version mismatch, if any, is the better reason for a failure).
 */
static int
push_request(struct push_session *ps, uint64_t base)
{
	unsigned char digest[DIGEST_LEN];
	const struct manifest *m = ps->m;
	int k = 0, attempt;

	/* Rendered again when asked again (remote_push()'s retry). */
	free(ps->wc.data);
	free(ps->wm.data);
	memset(&ps->wc, 0, sizeof(ps->wc));
	memset(&ps->wm, 0, sizeof(ps->wm));
	ps->how = "whole";
	if (base != 0 && base != m->version && !ps->o->verify &&
	    (k = changes_render(ps->s, ps->pkg, m, base, &ps->wc, digest)) ==
		-1)
		return -1;
	if (k == 1)
		ps->how = "changes";
	else if (manifest_render(m, &ps->wm) == -1)
		return -1;
	for (attempt = 0;; attempt++) {
		int sk, hk = -1;

		sk = k == 1 ? send_push(ps->cp, &ps->wc, m->version, ps->pkg,
				  ps->o, base, digest) :
			      send_push(ps->cp, &ps->wm, m->version, ps->pkg,
				  ps->o, 0, NULL);
		/* The next DP of a session: its hello came long ago. */
		if (ps->cp->pushes > 0) {
			if (sk == -1)
				return -1;
			break;
		}
		if (sk == 0 || err_errno() == ECONNRESET ||
		    err_errno() == EPIPE)
			hk = proto_hello_recv(&ps->cp->p);
		if (hk == -1 && attempt == 0 && conn_refused_many(ps->cp)) {
			if (conn_reopen_one(ps->t, store_config(ps->s),
				ps->cp) == -1)
				return -1;
			continue;
		}
		/* A remote of the release before 3 refused our hello. */
		if (hk == 0 && ps->cp->p.peer_version < ps->cp->p.version &&
		    attempt == 0) {
			if (conn_reopen_older(ps->t, store_config(ps->s),
				ps->cp) == -1)
				return -1;
			continue;
		}
		if (sk == -1 || hk == -1)
			return -1;
		proto_err_release(&ps->cp->p, true);
		break;
	}
	ps->cp->pushes++;
	/* Whether the manifest went as changes or whole: a recipe's old
	 * copy is checked on the remote, which asks for the content whole
	 * when it does not match. */
	ps->recipes_ok =
	    ps->cp->p.peer_version >= 3 && base != 0 && base != m->version;
	return 0;
}

/* A NEED frame: contents of this version only, each file's at most. */
static int
take_need(struct push_session *ps, const unsigned char *pl, size_t len)
{
	const struct digestset_item *f;
	size_t k, i;

	if (proto_dec_need(pl, len, ps->nd, ps->nsz, &k) == -1)
		return -1;
	if (k > ps->nfiles - ps->nneed)
		return err_set("protocol error: the remote asks for more "
			       "contents than the manifest has");
	/* Room for every file at the first NEED (one at least, so that
	 * needs is never NULL past here). */
	if (ps->needs == NULL &&
	    (ps->needs = malloc((ps->nfiles > 0 ? ps->nfiles : 1) *
		 sizeof(*ps->needs))) == NULL)
		return err_nomem();
	for (i = 0; i < k; i++) {
		f = digestset_find(ps->idx, ps->nidx, sizeof(*ps->idx),
		    ps->nd[i]);
		/* Only contents of this version, ever. */
		if (f == NULL || f->size != ps->nsz[i])
			return err_set("protocol error: the remote asks for a "
				       "content the manifest does not name");
		ps->needs[ps->nneed++] = *f;
	}
	return 0;
}

/* NEED_END: its count is what the NEED frames listed. */
static int
check_need_end(const struct push_session *ps, const unsigned char *pl,
    size_t len)
{
	struct proto_rbuf rb;
	uint64_t cnt;

	proto_rbuf_init(&rb, pl, len);
	cnt = proto_get_u64(&rb);
	if (proto_rbuf_done(&rb, "NEED_END", "remote") == -1)
		return -1;
	if (cnt != ps->nneed)
		return err_set("protocol error: NEED_END says %" PRIu64
			       " contents, %zu were listed",
		    cnt, ps->nneed);
	return 0;
}

/*
 * A large file changed: a recipe from the DP's old copy, the first time
 * it is asked for (asked again, the old copy drifted: whole).  1 sent,
 * 0 not (send it whole), -1 failed.
 */
static int
send_recipe(struct push_session *ps, const struct digestset_item *need)
{
	const struct entry *oe;
	uint64_t rsent, rsaved;
	int k;

	if (!ps->recipes_ok || ps->rounds > 0 || need->size <= CHUNK_THRESHOLD)
		return 0;
	if (!ps->oldm_loaded) {
		ps->oldm_loaded = true;
		if (store_load_manifest(ps->s, ps->pkg, ps->base, &ps->oldm) ==
		    -1) {
			ps->recipes_ok = false;
			return 0;
		}
	}
	if ((oe = recipe_make_base(ps->m, &ps->oldm, need->d, need->size)) ==
	    NULL)
		return 0;
	if ((k = remote_recipe_send(&ps->cp->p, ps->s, need->d, need->size, oe,
		 ps->sbuf, &rsent, &rsaved)) != 1)
		return k;
	ps->recipes++;
	ps->saved += rsaved;
	return recipe_note(&ps->notes, &ps->nnotes, need->d, rsaved) == -1 ?
	    -1 :
	    1;
}

/*
 * Send the contents asked for.  The remote takes them as it builds the
 * tree; what it says meanwhile (its result, if it fails) stops the
 * sending: 1 with that RESULT in *pl, *len; 0 all sent; -1 failed.
 */
static int
send_needs(struct push_session *ps, const unsigned char **pl, size_t *len)
{
	uint64_t round = 0;
	size_t i;

	ps->cp->p.watch_in = true;
	for (i = 0; i < ps->nneed; i++)
		round += ps->needs[i].size;
	ps->expected += round;
	progress_expect(ps->o->progress, (int64_t)round);
	for (i = 0; i < ps->nneed; i++) {
		int kr = send_recipe(ps, &ps->needs[i]);

		if (kr == -1 ||
		    (kr == 0 &&
			send_content(ps->cp, ps->s, ps->pkg, ps->m,
			    &ps->needs[i], ps->sbuf, &ps->stored) == -1))
			return salvage_result(ps->cp, pl, len) == 0 ? 1 : -1;
		/* Asked for again: its recipe saved nothing. */
		if (ps->rounds > 0)
			ps->saved -= recipe_unnote(ps->notes, ps->nnotes,
			    ps->needs[i].d);
		ps->total += ps->needs[i].size;
		ps->sent++;
		if (ps->o->progress)
			progress_add(ps->o->progress, 1, ps->needs[i].size);
	}
	ps->nneed = 0;
	ps->rounds++;
	return 0;
}

/* What the remote asks, answered until its RESULT, left in *pl, *len. */
static int
push_exchange(struct push_session *ps, const unsigned char **pl, size_t *len)
{
	uint32_t type;
	int k;

	for (;;) {
		if (proto_recv(&ps->cp->p, &type, pl, len) == -1)
			return -1;
		if (type == PROTO_RESULT)
			return 0;
		/* The remote takes every path we named: a session that may
		 * carry them all (its first frame, first request only). */
		if (type == PROTO_PATHS && ps->cp->pushes == 1 &&
		    ps->cp->npaths > 1 && !ps->cp->said_paths) {
			uint32_t n;

			if (proto_dec_paths(*pl, *len, &n) == -1)
				return -1;
			ps->cp->said_paths = true;
			ps->cp->many = n == ps->cp->npaths;
			continue;
		}
		if (type == PROTO_NEED_MANIFEST && *len == 0 &&
		    strcmp(ps->how, "changes") == 0) {
			ps->how = "fallback";
			ps->recipes_ok = false;
			if (send_whole(ps->cp, ps->m, &ps->wm) == -1)
				return -1;
			continue;
		}
		if (type == PROTO_NEED) {
			if (take_need(ps, *pl, *len) == -1)
				return -1;
			continue;
		}
		if (type != PROTO_NEED_END)
			return err_set("protocol error: unexpected %s from "
				       "remote",
			    proto_type_name(type));
		if (check_need_end(ps, *pl, *len) == -1 ||
		    (k = send_needs(ps, pl, len)) == -1)
			return -1;
		if (k == 1)
			return 0;
	}
}

static void
push_session_free(struct push_session *ps)
{
	free(ps->wm.data);
	free(ps->wc.data);
	free(ps->idx);
	free(ps->needs);
	free(ps->nd);
	free(ps->nsz);
	free(ps->sbuf);
	manifest_free(&ps->oldm);
	free(ps->notes);
}

/* The next DP of a kept session: NEXT names it to the remote. */
static int
session_next(struct remote_conn *c, const struct dp_target *t, long slot)
{
	size_t n;

	if (conn_set_where(c, t) == -1)
		return -1;
	c->pushed[slot] = true;
	n = proto_enc_next(t->path, c->p.buf);
	return proto_send(&c->p, PROTO_NEXT, c->p.buf, n);
}

int
remote_push(const struct dp_target *t, struct store *s, const char *pkg,
    const struct manifest *m, uint64_t base, const struct dp_push_opts *o,
    struct remote_conn **session, struct dp_push_result *r)
{
	struct push_session ps;
	struct proto_result pr;
	const unsigned char *pl;
	uint64_t out0 = 0, in0 = 0;
	size_t i, len;
	long slot = -1;
	int rc = -1;
	bool whole = false; /* the exchange ended in its RESULT */
	bool kept = false;  /* over a session kept from an earlier DP */

	memset(r, 0, sizeof(*r));
	r->new_version = m->version;
	memset(&ps, 0, sizeof(ps));
	manifest_init(&ps.oldm);
	ps.t = t;
	ps.base = base;
	ps.cp = *session;
	*session = NULL;
	ps.s = s;
	ps.pkg = pkg;
	ps.m = m;
	ps.o = o;
	ps.how = "whole";
	/* The remote asks for each content once: at most one a file. */
	for (i = 0; i < m->n; i++)
		ps.nfiles += m->v[i].type == ENTRY_FILE;
	if (digestset_of_manifest(m, &ps.idx, &ps.nidx) == -1)
		goto fail;
	if ((ps.nd = malloc(PROTO_NEED_PER_FRAME * sizeof(*ps.nd))) == NULL ||
	    (ps.nsz = malloc(PROTO_NEED_PER_FRAME * sizeof(*ps.nsz))) == NULL ||
	    (ps.sbuf = malloc(PROTO_FRAME_MAX)) == NULL) {
		err_nomem();
		goto fail;
	}
	if (ps.cp == NULL && remote_connect(t, store_config(s), &ps.cp) == -1)
		goto fail;
	if (ps.cp->pushes > 0) {
		/* A kept session: remote_session_serves() said it takes t. */
		if ((slot = session_slot(ps.cp, t)) == -1) {
			err_set("internal error: a session that does not "
				"serve this DP");
			goto fail;
		}
		kept = true;
	} else if (ps.cp->npaths > 0)
		ps.cp->pushed[0] = true;
	for (;;) {
		out0 = ps.cp->p.bytes_out;
		in0 = ps.cp->p.bytes_in;
		ps.cp->p.rate = o->rate;
		if ((!kept || session_next(ps.cp, t, slot) == 0) &&
		    push_request(&ps, base) == 0 &&
		    push_exchange(&ps, &pl, &len) == 0)
			break;
		/* A kept session that ended while it waited (the remote's
		 * timeout, a cut connection) before a word on this DP: once
		 * more on a connection of its own. */
		if (!kept || ps.cp->p.bytes_in != in0)
			goto fail;
		kept = false;
		remote_conn_free(ps.cp);
		if (remote_connect(t, store_config(s), &ps.cp) == -1) {
			ps.cp = NULL;
			goto fail;
		}
	}
	if (proto_dec_result(pl, len, &pr) == -1)
		goto fail;
	whole = true;
	proto_result_get(&pr, r);
	if (!pr.ok) {
		err_code(pr.failed_errno, "%s: %s", ps.cp->where, pr.msg);
		r->failed_errno = pr.failed_errno;
		goto out;
	}
	rc = 0;
	goto out;
fail:
	if (ps.cp != NULL) {
		err_prefix("%s: ", ps.cp->where ? ps.cp->where : "remote");
		if (r->failed_errno == 0)
			r->failed_errno = err_errno() ? err_errno() : EIO;
	}
out:
	/* What the progress line expected and was not sent. */
	if (ps.expected > ps.total)
		progress_expect(o->progress,
		    -(int64_t)(ps.expected - ps.total));
	if (ps.cp != NULL) {
		r->bytes_sent = ps.cp->p.bytes_out - out0;
		r->bytes_saved = ps.saved;
		r->one_dp_sessions = ps.cp->refused_many;
		if (ps.cp->where != NULL)
			write_stats(ps.cp, r->bytes_sent,
			    ps.cp->p.bytes_in - in0, ps.sent, ps.stored, ps.how,
			    r->from_spare, ps.recipes, ps.saved);
		/* Kept for the next DP of its host, or ended. */
		if (whole && remote_session_left(ps.cp))
			*session = ps.cp;
		else if (whole)
			remote_session_end(ps.cp);
		else
			remote_conn_free(ps.cp);
	}
	push_session_free(&ps);
	return rc;
}

/* ---- status ---- */

/* Most packages one DP can report (bounds the list). */
#define REMOTE_STATES_MAX 100000

int
remote_status(const struct dp_target *t, const struct config *cfg,
    const char *pkg, struct dp_pkg_state **out, size_t *nout)
{
	struct remote_conn c;
	struct proto_wbuf w;
	struct proto_state ps;
	struct dp_pkg_state *v = NULL, *nv;
	const unsigned char *pl;
	unsigned char buf[128];
	size_t n = 0, cap = 0, len;
	uint32_t type;
	int rc = -1;
	bool opened = false;

	*out = NULL;
	*nout = 0;
	memset(&c, 0, sizeof(c));
	if (conn_open(t, cfg, &c) == -1)
		goto fail;
	opened = true;
	proto_wbuf_init(&w, buf, sizeof(buf));
	proto_put_str(&w, pkg ? pkg : "");
	if (proto_hello(&c.p) == -1)
		goto fail;
	if (c.p.peer_version < c.p.version &&
	    (conn_reopen_older(t, cfg, &c) == -1 ||
		proto_hello_recv(&c.p) == -1))
		goto fail;
	if (proto_send(&c.p, PROTO_STATUS, buf, w.len) == -1)
		goto fail;
	for (;;) {
		if (proto_recv(&c.p, &type, &pl, &len) == -1)
			goto fail;
		if (type == PROTO_END)
			break;
		if (type != PROTO_STATE) {
			err_set("protocol error: unexpected %s from remote",
			    proto_type_name(type));
			goto fail;
		}
		if (proto_dec_state(pl, len, &ps) == -1)
			goto fail;
		if (n >= REMOTE_STATES_MAX ||
		    (pkg != NULL && (n > 0 || strcmp(ps.package, pkg) != 0))) {
			err_set("protocol error: unexpected STATE from "
				"remote");
			goto fail;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				err_nomem();
				goto fail;
			}
			v = nv;
		}
		if (proto_state_get(&ps, &v[n]) == -1) {
			dp_pkg_states_free(v, n + 1);
			v = NULL;
			n = 0;
			goto fail;
		}
		n++;
	}
	if (pkg != NULL && n != 1) {
		err_set("protocol error: no STATE from remote");
		goto fail;
	}
	*out = v;
	*nout = n;
	v = NULL;
	n = 0;
	rc = 0;
	goto out;
fail:
	if (opened)
		err_prefix("%s: ", c.where);
out:
	if (opened)
		conn_close(&c, rc == 0);
	dp_pkg_states_free(v, n);
	return rc;
}
