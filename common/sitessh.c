/*
 * sitessh.c — a child site over ssh: both sides (sitessh.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "fault.h"
#include "num.h"
#include "pack.h"
#include "remote.h"
#include "sites.h"
#include "sitessh.h"
#include "store.h"

/* ---- lines ---- */

/* One line from fd, byte by byte (nothing past it is read), waiting at
 * most timeout seconds for each byte; the '\n' is dropped. */
static int
line_read(int fd, double timeout, const char *peer, char *buf, size_t max)
{
	struct pollfd pf;
	size_t n = 0;
	ssize_t k;
	int r;

	for (;;) {
		pf.fd = fd;
		pf.events = POLLIN;
		pf.revents = 0;
		if ((r = poll(&pf, 1, timeout > 0 ? (int)(timeout * 1000) :
		    -1)) == -1) {
			if (errno == EINTR)
				continue;
			return err_sys("%s", peer);
		}
		if (r == 0)
			return err_set("%s: no answer for %.0f s", peer,
			    timeout);
		if ((k = read(fd, buf + n, 1)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return err_sys("%s", peer);
		}
		if (k == 0)
			return err_set("%s: the connection closed", peer);
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return 0;
		}
		if (++n == max - 1)
			return err_set("%s: a line too long", peer);
	}
}

/* Write one line (text cut at SITESSH_LINE_MAX, newlines in it made
 * spaces, so a message is one line whatever it holds). */
static int
line_write(int fd, const char *fmt, ...)
{
	char buf[SITESSH_LINE_MAX];
	va_list ap;
	size_t len, i, done = 0;
	ssize_t k;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	len = strlen(buf);
	for (i = 0; i < len; i++)
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = ' ';
	buf[len++] = '\n';
	while (done < len) {
		if ((k = send(fd, buf + done, len - done, MSG_NOSIGNAL)) == -1 &&
		    errno == ENOTSOCK)
			k = write(fd, buf + done, len - done);
		if (k == -1) {
			if (errno == EINTR)
				continue;
			return err_sys("cannot write to the peer");
		}
		done += (size_t)k;
	}
	return 0;
}

/* "WORD REST": rest after the first word and a space, or NULL. */
static const char *
word_is(const char *line, const char *word)
{
	size_t n = strlen(word);

	if (strncmp(line, word, n) != 0)
		return NULL;
	if (line[n] == '\0')
		return line + n;
	return line[n] == ' ' ? line + n + 1 : NULL;
}

/* ---- the parent ---- */

int
sitessh_push(struct store *s, const struct dp *site, const char *pkg,
    const struct manifest *m, bool dry_run, struct site_push_result *r)
{
	struct remote_conn *c = NULL;
	struct err_saved why = ERR_SAVED_INIT;
	struct sigaction ign, old;
	char line[SITESSH_LINE_MAX];
	const char *rest, *where;
	uint64_t b;
	double timeout;
	int fd, k, rc = -1;
	bool ignoring = false;

	if (remote_open_mode(&site->target, store_config(s), SITESSH_MODE,
	    &c) == -1)
		return -1;
	fd = remote_conn_fd(c);
	where = remote_conn_where(c);
	timeout = remote_conn_timeout(c);
	if (line_write(fd, "%s %s %" PRIu64, SITESSH_MAGIC, pkg,
	    m->version) == -1 || line_read(fd, timeout, where, line,
	    sizeof(line)) == -1)
		goto out;
	if ((rest = word_is(line, "error")) != NULL) {
		err_set("%s: %s", where, rest);
		goto out;
	}
	if (strcmp(line, "have") == 0) {
		r->up_to_date = true;
		rc = 0;
		goto out;
	}
	if ((rest = word_is(line, "base")) == NULL ||
	    num_u64(rest, strlen(rest), STORE_VERSION_MAX, &b) == -1 ||
	    b >= m->version) {
		err_set("%s: an answer not of the protocol (a pkgpush "
		    "without --receive there?)", where);
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
	/* A child gone mid-file is a failed write, not our death. */
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	if (sigaction(SIGPIPE, &ign, &old) == 0)
		ignoring = true;
	if (pack_export(s, pkg, m->version, r->base, fd, NULL) == -1) {
		err_prefix("%s: ", where);
		goto out;
	}
	if (shutdown(fd, SHUT_WR) == -1) {
		err_sys("%s", where);
		goto out;
	}
	/* The child checks and commits after the last byte: give it time. */
	if (line_read(fd, timeout * 10, where, line, sizeof(line)) == -1)
		goto out;
	if ((rest = word_is(line, "done")) != NULL) {
		rc = 0;
		goto out;
	}
	if ((rest = word_is(line, "refused")) != NULL ||
	    (rest = word_is(line, "error")) != NULL)
		err_set("%s: %s", where, rest);
	else
		err_set("%s: an answer not of the protocol", where);
out:
	if (ignoring)
		(void)sigaction(SIGPIPE, &old, NULL);
	if (rc == 0)
		remote_conn_done(c);
	else {
		err_save(&why);
		remote_conn_free(c);
		(void)err_restore(&why);
	}
	return rc;
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

int
sitessh_serve(int in, int out, const char *path)
{
	struct store *s = NULL;
	struct err_saved why = ERR_SAVED_INIT;
	struct pack_import_opts po;
	enum pack_import_result res;
	char line[SITESSH_LINE_MAX], pkg[NAME_MAX_LEN + 1];
	const char *rest, *sp;
	uint64_t v, b;
	int k, rc = -1;

	if (line_read(in, 600.0, "the parent", line, sizeof(line)) == -1)
		return -1;
	if ((rest = word_is(line, SITESSH_MAGIC)) == NULL ||
	    (sp = strchr(rest, ' ')) == NULL ||
	    (size_t)(sp - rest) > NAME_MAX_LEN) {
		err_set("not a request of this protocol");
		goto tell;
	}
	memcpy(pkg, rest, (size_t)(sp - rest));
	pkg[sp - rest] = '\0';
	if (!name_valid(pkg) || num_u64(sp + 1, strlen(sp + 1),
	    STORE_VERSION_MAX, &v) == -1 || v == 0) {
		err_set("not a request of this protocol");
		goto tell;
	}
	/* Never a new store: a missing one makes the site unreachable. */
	if (store_open(path, 0, &s) == -1 ||
	    (k = store_has_version(s, pkg, v)) == -1)
		goto tell;
	if (k == 1) {
		rc = line_write(out, "have");
		goto out;
	}
	if (below(s, pkg, v, &b) == -1 ||
	    line_write(out, "base %" PRIu64, b) == -1)
		goto tell;
	memset(&po, 0, sizeof(po));
	po.wait = STORE_WAIT_DEFAULT;
	if (pack_import(s, in, "the parent's package file", &po, &res, NULL,
	    NULL) == -1) {
		err_save(&why);
		(void)line_write(out, "%s %s", res == PACK_FAILED ? "error" :
		    "refused", why.msg);
		(void)err_restore(&why);
		goto out;
	}
	rc = line_write(out, "done %s", res == PACK_ALREADY_PRESENT ?
	    "present" : res == PACK_IMPORTED_OLDER ? "older" : "imported");
	goto out;
tell:
	err_save(&why);
	(void)line_write(out, "error %s", why.msg);
	(void)err_restore(&why);
out:
	store_close(s);
	return rc;
}
