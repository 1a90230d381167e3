/*
 * test_proto.c — the remote protocol's framing and codecs (proto.h), and
 * the ssh command line (remote.h).
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "proto.h"
#include "remote.h"
#include "tap.h"

/* A connected pair: a's out goes to b's in and back. */
static int
pair(struct proto *a, struct proto *b, int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return -1;
	if (proto_init(a, sv[0], sv[0], -1, "b") == -1 ||
	    proto_init(b, sv[1], sv[1], -1, "a") == -1)
		return -1;
	a->timeout = b->timeout = 2;
	return 0;
}

static int devnull = -1;

/* A proto reading the given bytes (then end of input). */
static int
feed(struct proto *p, const void *bytes, size_t n, int *fdout)
{
	int fds[2];

	if (pipe(fds) == -1)
		return -1;
	if (write(fds[1], bytes, n) != (ssize_t)n)
		return -1;
	close(fds[1]);
	*fdout = fds[0];
	/* Our hello goes nowhere. */
	if (devnull == -1 && (devnull = open("/dev/null", O_WRONLY)) == -1)
		return -1;
	if (proto_init(p, fds[0], devnull, -1, "peer") == -1)
		return -1;
	p->timeout = 2;
	return 0;
}

/* A hello of this protocol version (2). */
static const unsigned char hello1[16] = { 'P', 'K', 'G', 'D', 'I', 'S', 'T',
	'R', 0, 0, 0, 2, 0, 0, 0, 0 };

static void
test_hello(void)
{
	struct proto a, b;
	unsigned char h[16];
	uint32_t v;
	int sv[2], st, ok;
	pid_t pid;

	tap_ok(pair(&a, &b, sv) == 0, "a socket pair starts");
	pid = fork();
	if (pid == 0)
		_exit(proto_hello(&b) == 0 ? 0 : 1);
	tap_ok(proto_hello(&a) == 0 && a.peer_version == PROTO_VERSION,
	    "hellos are exchanged: %s", err_get());
	tap_ok(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
		WEXITSTATUS(st) == 0,
	    "the other side accepted the hello too");
	proto_free(&a);
	proto_free(&b);
	close(sv[0]);
	close(sv[1]);

	tap_ok(proto_check_hello(hello1, 16, &v) == 0 && v == 2,
	    "a version 2 hello is accepted");
	memcpy(h, hello1, 16);
	h[11] = 1;
	ok = proto_check_hello(h, 16, &v) == -1 &&
	    strstr(err_get(), "speaks versions 2 to 3, the peer version 1") !=
		NULL;
	tap_ok(ok, "the version before 2 is refused naming both: %s",
	    err_get());
	h[11] = 3;
	tap_ok(proto_check_hello(h, 16, &v) == 0 && v == 3,
	    "a version 3 hello is accepted");
	h[11] = 4;
	ok = proto_check_hello(h, 16, &v) == -1 &&
	    strstr(err_get(), "speaks versions 2 to 3, the peer version 4") !=
		NULL;
	tap_ok(ok, "a later version is refused naming both: %s", err_get());

	/* A client of the release before 3 says 2: the server answers 2. */
	tap_ok(pair(&a, &b, sv) == 0, "a socket pair starts");
	pid = fork();
	if (pid == 0) {
		b.version = 2;
		_exit(proto_hello(&b) == 0 && b.peer_version == 2 ? 0 : 1);
	}
	ok = proto_hello_answer(&a) == 0 && a.peer_version == 2 &&
	    a.version == 2;
	tap_ok(ok, "a server answers a version 2 client in version 2: %s",
	    err_get());
	tap_ok(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
		WEXITSTATUS(st) == 0,
	    "and the client accepted that hello");
	proto_free(&a);
	proto_free(&b);
	close(sv[0]);
	close(sv[1]);
	tap_ok(proto_check_hello((const unsigned char *)"bash: pkgpush: n", 16,
		   &v) == -1 &&
		strstr(err_get(), "\"bash: pkgpush: n\"") != NULL,
	    "a banner is refused and shown: %s", err_get());
	memcpy(h, hello1, 16);
	h[15] = 1;
	tap_ok(proto_check_hello(h, 16, &v) == -1,
	    "reserved bytes set: refused");
	tap_ok(proto_check_hello(hello1, 8, &v) == -1,
	    "a short hello: refused");
}

static void
test_frames(void)
{
	struct proto a, b;
	const unsigned char *pl;
	unsigned char big[3000];
	size_t len;
	uint32_t t;
	int sv[2];

	if (pair(&a, &b, sv) == -1) {
		tap_ok(0, "pair: %s", err_get());
		return;
	}
	memset(big, 'x', sizeof(big));
	tap_ok(proto_send(&a, PROTO_KEEPALIVE, NULL, 0) == 0 &&
		proto_send(&a, PROTO_DATA, big, sizeof(big)) == 0,
	    "frames are sent");
	tap_ok(proto_recv(&b, &t, &pl, &len) == 0 && t == PROTO_DATA &&
		len == sizeof(big) && memcmp(pl, big, len) == 0,
	    "a keepalive is skipped, the DATA frame arrives whole");
	proto_send_error(&a, "no space\nleft", 28, false);
	tap_ok(proto_recv(&b, &t, &pl, &len) == -1 &&
		strcmp(err_get(), "no space?left") == 0 && err_errno() == 28,
	    "an ERROR frame is a failure with its text (control bytes "
	    "masked) and errno: %s",
	    err_get());
	tap_ok(proto_send(&a, PROTO_END, NULL, 0) == 0 &&
		proto_expect(&b, PROTO_STATE, &pl, &len) == -1 &&
		strstr(err_get(), "expected STATE") != NULL,
	    "an unexpected type is an error: %s", err_get());
	tap_ok(proto_send(&a, PROTO_DATA, big, PROTO_FRAME_MAX + 1) == -1,
	    "a frame above the maximum is not sent");
	/* Nothing comes: the timeout fires. */
	b.timeout = 0.2;
	tap_ok(proto_recv(&b, &t, &pl, &len) == -1 &&
		strstr(err_get(), "no progress for 0.2 s") != NULL,
	    "a silent peer times out: %s", err_get());
	close(sv[0]);
	tap_ok(proto_recv(&b, &t, &pl, &len) == -1 &&
		strstr(err_get(), "connection closed by a") != NULL,
	    "end of input is 'connection closed': %s", err_get());
	proto_free(&a);
	proto_free(&b);
	close(sv[1]);
}

static void
test_bad_input(void)
{
	struct proto p;
	const unsigned char *pl;
	unsigned char in[64];
	size_t len;
	uint32_t t;
	int fd;

	/* Length 0xffffffff: refused before any read or allocation. */
	memcpy(in, hello1, 16);
	memcpy(in + 16, "\0\0\0\5\377\377\377\377", 8);
	if (feed(&p, in, 24, &fd) == 0) {
		tap_ok(proto_hello(&p) == 0, "hello from a file");
		tap_ok(proto_recv(&p, &t, &pl, &len) == -1 &&
			strstr(err_get(), "4294967295 bytes") != NULL,
		    "an absurd length is refused: %s", err_get());
		proto_free(&p);
		close(fd);
	}
	memcpy(in + 16, "\0\0\0\77\0\0\0\0", 8);
	if (feed(&p, in, 24, &fd) == 0) {
		(void)proto_hello(&p);
		tap_ok(proto_recv(&p, &t, &pl, &len) == -1 &&
			strstr(err_get(), "unknown type 63") != NULL,
		    "an unknown type is refused: %s", err_get());
		proto_free(&p);
		close(fd);
	}
	memcpy(in + 16, "\0\0\0\4\0\0\0\20abc", 11);
	if (feed(&p, in, 27, &fd) == 0) {
		(void)proto_hello(&p);
		tap_ok(proto_recv(&p, &t, &pl, &len) == -1 &&
			strstr(err_get(), "connection closed") != NULL,
		    "a frame cut short is a closed connection: %s", err_get());
		proto_free(&p);
		close(fd);
	}
	if (feed(&p, "Last login: x\n", 14, &fd) == 0) {
		tap_ok(proto_hello(&p) == -1 &&
			strstr(err_get(), "\"Last login: x\"") != NULL,
		    "a banner instead of a hello: %s", err_get());
		proto_free(&p);
		close(fd);
	}
}

static void
test_codecs(void)
{
	unsigned char *buf = malloc(PROTO_FRAME_MAX);
	struct proto_push ph, ph2;
	struct proto_content c, c2;
	struct proto_result r, r2;
	struct proto_state s, s2;
	char pkg[NAME_MAX_LEN + 1];
	unsigned char dg[4][DIGEST_LEN];
	uint64_t sz[4];
	size_t n, k, cut, bad;

	if (buf == NULL)
		return;
	memset(&ph, 0, sizeof(ph));
	strcpy(ph.package, "office97");
	ph.version = 12;
	ph.flags = PROTO_F_INPLACE | PROTO_F_VERIFY;
	ph.keep = 2;
	ph.lock_wait = 3600;
	ph.manifest_len = 1234;
	n = proto_enc_push(&ph, buf);
	tap_ok(proto_dec_push(buf, n, &ph2) == 0 &&
		memcmp(&ph, &ph2, sizeof(ph)) == 0,
	    "PUSH round trip");
	for (cut = 0, bad = 0; cut < n; cut++)
		bad += proto_dec_push(buf, cut, &ph2) == -1;
	tap_ok(bad == n, "every truncated PUSH is refused");
	ph.manifest_len = PROTO_MANIFEST_MAX + 1;
	n = proto_enc_push(&ph, buf);
	tap_ok(proto_dec_push(buf, n, &ph2) == -1,
	    "a huge manifest is refused");
	ph.manifest_len = 1 << 20;
	ph.manifest_zlen = 100;
	n = proto_enc_push(&ph, buf);
	tap_ok(proto_dec_push(buf, n, &ph2) == -1,
	    "a manifest claiming more than zlib's ratio is refused");
	ph.manifest_zlen = 2000;
	n = proto_enc_push(&ph, buf);
	tap_ok(proto_dec_push(buf, n, &ph2) == 0, "a compressed manifest");
	ph.manifest_zlen = 0;
	ph.manifest_len = 10;
	strcpy(ph.package, "../etc");
	n = proto_enc_push(&ph, buf);
	tap_ok(proto_dec_push(buf, n, &ph2) == -1,
	    "a bad package name is refused");

	memset(&c, 0, sizeof(c));
	memset(c.digest, 7, DIGEST_LEN);
	c.size = 1000;
	c.zlib = 1;
	c.stored = 100;
	n = proto_enc_content(&c, buf);
	tap_ok(proto_dec_content(buf, n, &c2) == 0 &&
		memcmp(&c, &c2, sizeof(c)) == 0,
	    "CONTENT round trip");
	c.stored = 1000000;
	n = proto_enc_content(&c, buf);
	tap_ok(proto_dec_content(buf, n, &c2) == -1,
	    "a zlib stream far above zlib's bound is refused");
	c.zlib = 0;
	c.stored = 999;
	n = proto_enc_content(&c, buf);
	tap_ok(proto_dec_content(buf, n, &c2) == -1,
	    "a raw content whose stored size is not its size is refused");

	memset(&r, 0, sizeof(r));
	r.ok = false;
	r.held = true;
	r.old_version = 3;
	r.new_version = 4;
	r.added = 5;
	r.bytes = 77;
	r.failed_errno = 28;
	strcpy(r.msg, "/srv/dp: No space left on device");
	n = proto_enc_result(&r, buf);
	tap_ok(proto_dec_result(buf, n, &r2) == 0 &&
		memcmp(&r, &r2, sizeof(r)) == 0,
	    "RESULT round trip");
	buf[0] = 2;
	tap_ok(proto_dec_result(buf, n, &r2) == -1, "a flag of 2 is refused");
	/* The trailer (state bytes, rebuilt, warning): round trip, and a
	 * server older than it (no trailer) still decodes. */
	r.state_bytes = 1234;
	r.state_rebuilt = true;
	r.from_spare = true;
	strcpy(r.warning, "cannot remove 'base.1.1'\x01");
	n = proto_enc_result(&r, buf);
	r.warning[strlen(r.warning) - 1] = '?';
	tap_ok(proto_dec_result(buf, n, &r2) == 0 &&
		memcmp(&r, &r2, sizeof(r)) == 0,
	    "RESULT round trip with state bytes, a warning (made "
	    "printable) and the spare flag");
	n -= 8 + 1 + 4 + strlen(r.warning) + 1;
	tap_ok(proto_dec_result(buf, n, &r2) == 0 && r2.state_bytes == 0 &&
		!r2.state_rebuilt && r2.warning[0] == '\0' && r2.bytes == 77 &&
		!r2.from_spare,
	    "a RESULT without the trailer (an older server) decodes");
	tap_ok(proto_dec_result(buf, n + 3, &r2) == -1,
	    "a RESULT with a partial trailer is refused");

	memset(&s, 0, sizeof(s));
	strcpy(s.package, "office");
	s.layout = 1;
	s.status = 1;
	s.version = 9;
	strcpy(s.tree, "v9.1");
	n = proto_enc_state(&s, buf);
	tap_ok(proto_dec_state(buf, n, &s2) == 0 &&
		memcmp(&s, &s2, sizeof(s)) == 0,
	    "STATE round trip");
	buf[n - 4] = 1; /* the error string's length: 1 << 24 */
	tap_ok(proto_dec_state(buf, n, &s2) == -1,
	    "a string longer than its frame is refused");

	memcpy(buf, "\0\0\0\2", 4);
	memset(buf + 4, 1, 2 * (DIGEST_LEN + 8));
	memset(buf + 4 + DIGEST_LEN, 0, 8);
	memset(buf + 4 + 2 * DIGEST_LEN + 8, 0, 8);
	tap_ok(proto_dec_need(buf, 4 + 2 * (DIGEST_LEN + 8), dg, sz, &k) == 0 &&
		k == 2,
	    "NEED with two entries");
	tap_ok(proto_dec_need(buf, 4 + DIGEST_LEN + 8, dg, sz, &k) == -1,
	    "NEED whose count does not match its length is refused");
	memcpy(buf, "\0\0\20\1", 4);
	tap_ok(proto_dec_need(buf, 4, dg, sz, &k) == -1,
	    "NEED above the per-frame count is refused");

	memcpy(buf, "\0\0\0\3a\0b", 7);
	tap_ok(proto_dec_status(buf, 7, pkg) == -1,
	    "a string holding NUL is refused");
	memcpy(buf, "\0\0\0\0", 4);
	tap_ok(proto_dec_status(buf, 4, pkg) == 0 && pkg[0] == '\0',
	    "STATUS of every package");
	free(buf);
}

static void
test_ssh_command(void)
{
	struct dp_target t;
	char **argv = NULL, *q;
	size_t i;
	char line[1024] = "";

	q = remote_shell_quote("/srv/it's $(x)");
	tap_ok(q != NULL && strcmp(q, "'/srv/it'\\''s $(x)'") == 0,
	    "single quotes are escaped for the remote shell: %s", q);
	free(q);
	memset(&t, 0, sizeof(t));
	t.kind = DP_SSH;
	t.host = "far1";
	t.user = "pkg";
	t.port = 2222;
	t.path = "/srv/dp one";
	setenv("PKGDIST_SSH", " ssh  -i /k\t-o BatchMode=yes ", 1);
	setenv("PKGDIST_REMOTE_PKGPUSH", "/opt/bin/pkgpush", 1);
	if (remote_argv(&t, NULL, &argv) == 0) {
		for (i = 0; argv[i] != NULL; i++) {
			strcat(line, "[");
			strcat(line, argv[i]);
			strcat(line, "]");
		}
	}
	tap_ok(strcmp(line,
		   "[ssh][-i][/k][-o][BatchMode=yes][-p][2222][-l]"
		   "[pkg][far1][/opt/bin/pkgpush --serve '/srv/dp one']") == 0,
	    "the ssh command: %s", line);
	remote_argv_free(argv);
	unsetenv("PKGDIST_SSH");
	unsetenv("PKGDIST_REMOTE_PKGPUSH");
	t.user = NULL;
	t.port = 0;
	line[0] = '\0';
	if (remote_argv(&t, NULL, &argv) == 0)
		for (i = 0; argv[i] != NULL; i++) {
			strcat(line, "[");
			strcat(line, argv[i]);
			strcat(line, "]");
		}
	tap_ok(strcmp(line, "[ssh][far1][pkgpush --serve '/srv/dp one']") == 0,
	    "the defaults: %s", line);
	remote_argv_free(argv);
	{
		static const char text[] =
		    "ssh ssh -i /etc/k\n"
		    "remote-pkgpush /usr/local/bin/pkgpush\n";
		struct config cfg;

		line[0] = '\0';
		if (config_load_buf(text, strlen(text), "config", &cfg) == 0 &&
		    remote_argv(&t, &cfg, &argv) == 0)
			for (i = 0; argv[i] != NULL; i++) {
				strcat(line, "[");
				strcat(line, argv[i]);
				strcat(line, "]");
			}
		tap_ok(strcmp(line,
			   "[ssh][-i][/etc/k][far1][/usr/local/bin/"
			   "pkgpush --serve '/srv/dp one']") == 0,
		    "the store's config: %s", line);
		remote_argv_free(argv);
		setenv("PKGDIST_SSH", "ssh -i /env", 1);
		line[0] = '\0';
		if (remote_argv(&t, &cfg, &argv) == 0)
			for (i = 0; argv[i] != NULL; i++) {
				strcat(line, "[");
				strcat(line, argv[i]);
				strcat(line, "]");
			}
		tap_ok(strcmp(line,
			   "[ssh][-i][/env][far1][/usr/local/bin/"
			   "pkgpush --serve '/srv/dp one']") == 0,
		    "PKGDIST_SSH overrides the ssh line: %s", line);
		remote_argv_free(argv);
		unsetenv("PKGDIST_SSH");
		config_free(&cfg);
	}
	setenv("PKGDIST_SSH_TIMEOUT", "abc", 1);
	{
		struct proto p;

		tap_ok(proto_init(&p, 0, 1, -1, "x") == -1 &&
			strstr(err_get(), "PKGDIST_SSH_TIMEOUT") != NULL,
		    "a bad timeout is an error: %s", err_get());
		proto_free(&p);
	}
	unsetenv("PKGDIST_SSH_TIMEOUT");
}

int
main(void)
{
	test_hello();
	test_frames();
	test_bad_input();
	test_codecs();
	test_ssh_command();
	return tap_done();
}
