/*
 * test_serve.c — the server half of the remote DP protocol (serve.h),
 * driven over a socket pair by a client written here with proto.h: a
 * push to a real DP directory, a DP that keeps its layout, a content
 * damaged in transit, a change list against a version the DP lacks,
 * STATUS; and the one mapping of a push's outcome onto RESULT.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "digest.h"
#include "dp.h"
#include "dppush.h"
#include "err.h"
#include "io.h"
#include "proto.h"
#include "serve.h"
#include "tap.h"

static char dpdir[256];

/* The contents of the versions: version 1 holds two files of the
 * first (one content, asked for once), 2 adds the second, 3 the third. */
static const char *bodies[3] = { "hello", "world", "third" };
static char shas[3][DIGEST_HEXLEN + 1];

static int
hash_bodies(void)
{
	struct digest dg = { NULL };
	unsigned char d[DIGEST_LEN];
	int i;

	for (i = 0; i < 3; i++) {
		if (digest_init(&dg) == -1 ||
		    digest_update(&dg, bodies[i], 5) == -1 ||
		    digest_final(&dg, d) == -1)
			return -1;
		digest_free(&dg);
		digest_hex(d, shas[i]);
	}
	return 0;
}

static int
manifest_text(uint64_t v, char *buf, size_t len)
{
	return snprintf(buf, len,
	    "pkgdist-manifest 1\npackage demo\nversion %llu\n"
	    "f 0644 5 1700000000 %s a\n"
	    "d 0755 0 1700000000 - dir\n"
	    "f 0644 5 1700000000 %s dir/b\n"
	    "%s%s%s%s%s%s",
	    (unsigned long long)v, shas[0], shas[0],
	    v >= 2 ? "f 0644 5 1700000000 " : "", v >= 2 ? shas[1] : "",
	    v >= 2 ? " dir/c\n" : "", v >= 3 ? "f 0644 5 1700000000 " : "",
	    v >= 3 ? shas[2] : "", v >= 3 ? " dir/d\n" : "");
}

struct session {
	struct proto c;
	int sv[2];
	pid_t pid;
};

/* Start a server for paths (n of them) on a socket pair (in a child)
 * and exchange hellos. */
static int
session_start_many(struct session *s, const char *const *paths, size_t n)
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s->sv) == -1)
		return err_sys("socketpair");
	if ((s->pid = fork()) == -1)
		return err_sys("fork");
	if (s->pid == 0) {
		char note[256];
		int r;

		close(s->sv[0]);
		r = serve_session(s->sv[1], s->sv[1], paths, n, note,
		    sizeof(note));
		_exit(r == 0 ? 0 : r == 1 ? 1 : 2);
	}
	close(s->sv[1]);
	if (proto_init(&s->c, s->sv[0], s->sv[0], -1, "server") == -1)
		return -1;
	s->c.timeout = 20;
	return proto_hello(&s->c);
}

static int
session_start(struct session *s, const char *path)
{
	return session_start_many(s, &path, 1);
}

/* The server's end: its serve_session() result (0, 1, or 2 for -1). */
static int
session_end(struct session *s)
{
	int st;

	proto_free(&s->c);
	close(s->sv[0]);
	if (waitpid(s->pid, &st, 0) != s->pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/*
 * Push version v of demo (flags PROTO_F_*; base: a change list from it
 * instead of the manifest, which the server must ask for), answering
 * every NEED; bad: send "THIRD" for the third content.  *needs: the contents
 * the server asked for; *asked: it asked for the whole manifest.
 */
static int
push(struct session *s, uint64_t v, uint32_t flags, uint64_t base, bool bad,
    struct proto_result *res, size_t *needs, bool *asked)
{
	struct proto_push ph;
	unsigned char(*nd)[DIGEST_LEN] = NULL, buf[4096];
	uint64_t *nsz = NULL;
	const unsigned char *pl;
	char text[1024];
	size_t len, k, i;
	uint32_t type;
	int n, rc = -1;

	*needs = 0;
	*asked = false;
	n = manifest_text(v, text, sizeof(text));
	memset(&ph, 0, sizeof(ph));
	snprintf(ph.package, sizeof(ph.package), "demo");
	ph.version = v;
	ph.flags = flags;
	ph.keep = 2;
	ph.lock_wait = 10;
	ph.base = base;
	if (base != 0) {
		/* Any change list: the server asks for the manifest before
		 * it reads it against a version it does not hold. */
		ph.manifest_len = 0;
		memset(ph.digest, 1, sizeof(ph.digest));
	} else
		ph.manifest_len = (uint64_t)n;
	if (proto_send(&s->c, PROTO_PUSH, buf, proto_enc_push(&ph, buf)) == -1)
		return -1;
	if (base == 0 && proto_send(&s->c, PROTO_DATA, text, (size_t)n) == -1)
		return -1;
	if ((nd = malloc(PROTO_NEED_PER_FRAME * sizeof(*nd))) == NULL ||
	    (nsz = malloc(PROTO_NEED_PER_FRAME * sizeof(*nsz))) == NULL)
		goto out;
	for (;;) {
		if (proto_recv(&s->c, &type, &pl, &len) == -1)
			goto out;
		if (type == PROTO_RESULT)
			break;
		if (type == PROTO_NEED_MANIFEST) {
			struct proto_manifest pm = { (uint64_t)n, 0 };

			*asked = true;
			if (proto_send(&s->c, PROTO_MANIFEST, buf,
				proto_enc_manifest(&pm, buf)) == -1 ||
			    proto_send(&s->c, PROTO_DATA, text, (size_t)n) ==
				-1)
				goto out;
			continue;
		}
		if (type == PROTO_NEED) {
			if (proto_dec_need(pl, len, nd + *needs, nsz + *needs,
				&k) == -1)
				goto out;
			*needs += k;
			continue;
		}
		if (type != PROTO_NEED_END) {
			err_set("unexpected %s", proto_type_name(type));
			goto out;
		}
		for (i = 0; i < *needs; i++) {
			struct proto_content pc;
			char hex[DIGEST_HEXLEN + 1];
			const char *body;

			digest_hex(nd[i], hex);
			body = strcmp(hex, shas[0]) == 0 ? bodies[0] :
			    strcmp(hex, shas[1]) == 0	 ? bodies[1] :
			    bad				 ? "THIRD" :
							   bodies[2];
			memcpy(pc.digest, nd[i], DIGEST_LEN);
			pc.size = nsz[i];
			pc.zlib = 0;
			pc.stored = 5;
			if (proto_send(&s->c, PROTO_CONTENT, buf,
				proto_enc_content(&pc, buf)) == -1 ||
			    proto_send(&s->c, PROTO_DATA, body, 5) == -1)
				goto out;
		}
	}
	rc = proto_dec_result(pl, len, res);
out:
	free(nd);
	free(nsz);
	return rc;
}

/* Ask STATUS of every package; the first STATE into *ps, *n the count. */
static int
status(struct session *s, struct dp_pkg_state *ps, size_t *n)
{
	const unsigned char *pl;
	unsigned char buf[64];
	struct proto_wbuf w;
	struct proto_state st;
	size_t len;
	uint32_t type;

	*n = 0;
	proto_wbuf_init(&w, buf, sizeof(buf));
	proto_put_str(&w, "");
	if (proto_send(&s->c, PROTO_STATUS, buf, w.len) == -1)
		return -1;
	for (;;) {
		if (proto_recv(&s->c, &type, &pl, &len) == -1)
			return -1;
		if (type == PROTO_END)
			return 0;
		if (type != PROTO_STATE || proto_dec_state(pl, len, &st) == -1)
			return -1;
		if ((*n)++ == 0 && proto_state_get(&st, ps) == -1)
			return -1;
	}
}

static int
file_is(const char *rel, const char *want)
{
	char path[512], got[16] = "";
	FILE *f;
	size_t k;

	snprintf(path, sizeof(path), "%s/%s", dpdir, rel);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	k = fread(got, 1, sizeof(got) - 1, f);
	fclose(f);
	got[k] = '\0';
	return strcmp(got, want) == 0;
}

static void
test_push(void)
{
	struct session s;
	struct proto_result res;
	struct dp_push_result r;
	struct dp_pkg_state ps;
	size_t needs, n;
	bool asked;

	tap_ok(session_start(&s, dpdir) == 0 &&
		push(&s, 1, 0, 0, false, &res, &needs, &asked) == 0,
	    "a push of version 1 to an empty DP is answered: %s", err_get());
	tap_ok(res.ok && res.added == 3 && !res.held && res.new_version == 1,
	    "its RESULT: done, 3 entries added (%s)", res.msg);
	tap_ok(needs == 1 && res.received == 5,
	    "a content two files share is asked for and received once");
	tap_ok(session_end(&s) == 0, "the session ends done (0)");
	tap_ok(file_is("demo/a", "hello") && file_is("demo/dir/b", "hello"),
	    "the DP holds version 1, both files written");

	/* Asked for in place, the DP keeps its atomic layout and the
	 * RESULT says so (a remote DP reports "kept its ... layout"). */
	memset(&r, 0, sizeof(r));
	tap_ok(session_start(&s, dpdir) == 0 &&
		push(&s, 2, PROTO_F_INPLACE, 0, false, &res, &needs, &asked) ==
		    0 &&
		res.ok,
	    "version 2 asked for in place is done: %s", err_get());
	proto_result_get(&res, &r);
	tap_ok(r.kept_layout && !r.inplace && r.held && r.old_version == 1 &&
		r.added == 1,
	    "the result says the DP kept its atomic layout");
	tap_ok(needs == 1, "only the new content is asked for");
	tap_ok(session_end(&s) == 0 && file_is("demo/dir/c", "world"),
	    "the DP is at version 2");

	/* Damaged in transit: refused, the DP stays at version 2, and
	 * its state notes the failure for --status. */
	tap_ok(session_start(&s, dpdir) == 0 &&
		push(&s, 3, 0, 0, true, &res, &needs, &asked) == 0,
	    "a push with a damaged content gets a RESULT: %s", err_get());
	tap_ok(!res.ok && strstr(res.msg, "digest mismatch") != NULL,
	    "it failed naming the mismatch: %s", res.msg);
	tap_ok(session_end(&s) == 1, "the session ends failed (1)");
	tap_ok(file_is("demo/dir/c", "world") && file_is("demo/a", "hello") &&
		!file_is("demo/dir/d", "THIRD"),
	    "the DP is still at version 2, whole");

	tap_ok(session_start(&s, dpdir) == 0 && status(&s, &ps, &n) == 0 &&
		n == 1,
	    "STATUS lists the one package: %s", err_get());
	tap_ok(ps.damaged == NULL && strcmp(ps.package, "demo") == 0 &&
		ps.st.status == DP_ST_COMPLETE && ps.st.version == 2 &&
		ps.st.layout == DP_LAYOUT_ATOMIC && ps.st.error != NULL &&
		strstr(ps.st.error, "digest mismatch") != NULL,
	    "demo: version 2, complete, atomic, the last failure noted");
	dp_state_free(&ps.st);
	tap_ok(session_end(&s) == 0, "the STATUS session ends done");

	/* A change list from a version the DP does not hold: the server
	 * asks for the whole manifest instead. */
	tap_ok(session_start(&s, dpdir) == 0 &&
		push(&s, 3, 0, 1, false, &res, &needs, &asked) == 0 && res.ok &&
		asked,
	    "a change list from version 1, which the DP no longer "
	    "holds, makes it ask for the manifest: %s",
	    err_get());
	tap_ok(session_end(&s) == 0 && file_is("demo/dir/d", "third"),
	    "that session ends done, the DP at version 3");
}

static void
test_refusals(void)
{
	const char *rel = "relative/dp";
	char note[64] = "x";

	tap_ok(serve_session(-1, -1, &rel, 1, note, sizeof(note)) == -1 &&
		strstr(err_get(), "'relative/dp': not an absolute path") !=
		    NULL &&
		note[0] == '\0',
	    "a relative path is refused: %s", err_get());
}

static void
test_mapping(void)
{
	struct dp_push_result r, back;
	struct proto_result m, got;
	unsigned char buf[PROTO_FRAME_MAX];
	size_t len;

	memset(&r, 0, sizeof(r));
	r.held = true;
	r.old_version = 3;
	r.new_version = 4;
	r.added = 1;
	r.changed = 2;
	r.deleted = 3;
	r.meta = 4;
	r.linked = 5;
	r.bytes = 6;
	r.busy = 7;
	r.state_bytes = 8;
	r.inplace = true;
	r.kept_layout = true;
	r.from_spare = true;
	snprintf(r.warning, sizeof(r.warning), "a warning");
	proto_result_set(&m, &r, true, "unused", 5);
	len = proto_enc_result(&m, buf);
	memset(&back, 0, sizeof(back));
	tap_ok(proto_dec_result(buf, len, &got) == 0 && got.ok &&
		got.msg[0] == '\0' && got.failed_errno == 0,
	    "a done RESULT goes through the wire, with no failure");
	proto_result_get(&got, &back);
	tap_ok(memcmp(&r, &back, sizeof(r)) == 0,
	    "every field of the outcome comes back as it went");

	r.kept_layout = false;
	proto_result_set(&m, &r, false, "dp: no space", 28);
	len = proto_enc_result(&m, buf);
	tap_ok(proto_dec_result(buf, len, &got) == 0 && !got.ok &&
		strcmp(got.msg, "dp: no space") == 0 &&
		got.failed_errno == 28 && got.inplace == false,
	    "a failed RESULT carries its message and "
	    "errno (not the layout words)");
	proto_result_set(&m, &r, false, "x", 99999);
	tap_ok(m.failed_errno == 0, "an errno out of range is sent as 0");
}

/* NEXT path; then the PATHS count a session of several sent. */
static int
next(struct session *s, const char *path)
{
	return proto_send(&s->c, PROTO_NEXT, s->c.buf,
	    proto_enc_next(path, s->c.buf));
}

static int
paths_said(struct session *s, uint32_t *count)
{
	const unsigned char *pl;
	size_t len;

	return proto_expect(&s->c, PROTO_PATHS, &pl, &len) == 0 &&
		proto_dec_paths(pl, len, count) == 0 ?
	    0 :
	    -1;
}

/* One session for two DPs (proto.h): PATHS, a PUSH each, NEXT "". */
static void
test_session_many(void)
{
	char a[300], b[300], other[300], ra[320], rb[320];
	const char *paths[2] = { a, b };
	struct session s;
	struct proto_result res, res2;
	struct dp_handle h = { -1, -1, -1, NULL };
	size_t needs;
	uint32_t count = 0;
	bool asked;

	snprintf(a, sizeof(a), "%s.a", dpdir);
	snprintf(b, sizeof(b), "%s.b", dpdir);
	snprintf(other, sizeof(other), "%s.other", dpdir);
	(void)mkdir(a, 0755);
	(void)mkdir(b, 0755);
	(void)mkdir(other, 0755);
	tap_ok(session_start_many(&s, paths, 2) == 0 &&
		paths_said(&s, &count) == 0 && count == 2,
	    "a server given two paths says PATHS 2 behind its hello: %s",
	    err_get());
	tap_ok(push(&s, 1, 0, 0, false, &res, &needs, &asked) == 0 && res.ok &&
		next(&s, b) == 0 &&
		push(&s, 2, 0, 0, false, &res2, &needs, &asked) == 0 &&
		res2.ok && next(&s, "") == 0,
	    "the first path gets the first PUSH, the second the PUSH after "
	    "NEXT: %s",
	    err_get());
	tap_ok(session_end(&s) == 0, "NEXT \"\" ends the session done (0)");
	snprintf(ra, sizeof(ra), "%s/demo/a", a);
	snprintf(rb, sizeof(rb), "%s/demo/dir/c", b);
	tap_ok(access(ra, F_OK) == 0 && access(rb, F_OK) == 0 &&
		res.new_version == 1 && res2.new_version == 2,
	    "each DP holds its own version");

	/* Only what the command line names, each once. */
	tap_ok(session_start_many(&s, paths, 2) == 0 &&
		paths_said(&s, &count) == 0 &&
		push(&s, 1, 0, 0, false, &res, &needs, &asked) == 0 &&
		next(&s, other) == 0,
	    "a session asked for a path it was not given: %s", err_get());
	tap_ok(push(&s, 1, 0, 0, false, &res, &needs, &asked) == -1 &&
		strstr(err_get(), "does not serve") != NULL,
	    "is refused with an ERROR: %s", err_get());
	tap_ok(session_end(&s) == 2, "and ends in trouble (2)");
	tap_ok(session_start_many(&s, paths, 2) == 0 &&
		paths_said(&s, &count) == 0 &&
		push(&s, 1, 0, 0, false, &res, &needs, &asked) == 0 &&
		next(&s, a) == 0 &&
		push(&s, 1, 0, 0, false, &res, &needs, &asked) == -1 &&
		strstr(err_get(), "served already") != NULL,
	    "NEXT for the path served first is refused: %s", err_get());
	tap_ok(session_end(&s) == 2, "that session ends in trouble (2)");
	snprintf(ra, sizeof(ra), "%s/demo", other);
	tap_ok(access(ra, F_OK) == -1, "the path not given was not touched");

	/* Two DP names for one directory: the path twice, served twice. */
	paths[1] = a;
	tap_ok(session_start_many(&s, paths, 2) == 0 &&
		paths_said(&s, &count) == 0 &&
		push(&s, 2, 0, 0, false, &res, &needs, &asked) == 0 && res.ok &&
		next(&s, a) == 0 &&
		push(&s, 2, 0, 0, false, &res2, &needs, &asked) == 0 &&
		res2.ok && res2.up_to_date && next(&s, "") == 0 &&
		session_end(&s) == 0,
	    "a path named twice is served twice, the second time up to "
	    "date: %s",
	    err_get());
	/* The tidying children hold the DPs' locks until done. */
	if (dp_open(a, false, &h) == 0 && dp_lock(&h, 20) == 0)
		dp_close(&h);
	dp_close(&h);
	if (dp_open(b, false, &h) == 0 && dp_lock(&h, 20) == 0)
		dp_close(&h);
	dp_close(&h);
	(void)io_remove_tree(AT_FDCWD, a);
	(void)io_remove_tree(AT_FDCWD, b);
	(void)io_remove_tree(AT_FDCWD, other);
}

int
main(void)
{
	char tmpl[] = "/tmp/test_serve.XXXXXX";

	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(tmpl) == NULL) {
		tap_ok(0, "mkdtemp");
		return tap_done();
	}
	snprintf(dpdir, sizeof(dpdir), "%s", tmpl);
	if (hash_bodies() == -1) {
		tap_ok(0, "hashing: %s", err_get());
		return tap_done();
	}
	test_refusals();
	test_mapping();
	test_push();
	test_session_many();
	{
		/* The tidying child of the last push holds the DP's lock
		 * until it is done. */
		struct dp_handle h = { -1, -1, -1, NULL };

		if (dp_open(dpdir, false, &h) == 0 && dp_lock(&h, 20) == 0)
			tap_diag("the DP's tidying is done");
		dp_close(&h);
	}
	if (io_remove_tree(AT_FDCWD, dpdir) == -1)
		tap_diag("cannot remove %s: %s", dpdir, err_get());
	return tap_done();
}
