/*
 * Unit tests of retryjob.c: the job file round trip, the strict parser
 * on hostile input, the key a command gives, the argv of a pkgpush
 * retry, the options a job may carry, and the backoff.
 */
#include <sys/stat.h>

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "retryjob.h"
#include "tap.h"

static char *
render(const struct retryjob *j, size_t *len)
{
	char *buf = NULL;
	FILE *fp;

	if ((fp = open_memstream(&buf, len)) == NULL)
		return NULL;
	if (retryjob_write(j, fp) == -1) {
		fclose(fp);
		free(buf);
		return NULL;
	}
	fclose(fp);
	return buf;
}

/* A valid job text for "cmd" jobs is hard to write by hand (the id is a
 * hash), so hostile variants start from a PKG@DP job. */
static const char good[] = "pkgdist-retry 1\n"
			   "id office97@dp2\n"
			   "created 1700000000\n"
			   "attempts 2\n"
			   "next 1700000120\n"
			   "package office97\n"
			   "dp dp2\n"
			   "version 7\n"
			   "dir /root\n"
			   "error pkgpush:\\040dp2:\\040gone\n"
			   "arg pkgpush\n"
			   "arg --refresh-existing\n"
			   "arg --inplace\n"
			   "arg --version\n"
			   "arg 7\n"
			   "arg --only\n"
			   "arg dp2\n"
			   "arg office97\n";

static int
parses(const char *text, const char *name, int failed)
{
	struct retryjob j;
	int r;

	r = retryjob_parse(text, strlen(text), name, failed, &j);
	if (r == 0)
		retryjob_free(&j);
	else
		tap_diag("%s", err_get());
	return r == 0;
}

/* good with the first occurrence of from replaced by to. */
static char *
variant(const char *from, const char *to)
{
	const char *p = strstr(good, from);
	char *s;
	size_t a, b, c;

	if (p == NULL)
		abort();
	a = (size_t)(p - good);
	b = strlen(to);
	c = strlen(p + strlen(from));
	if ((s = malloc(a + b + c + 1)) == NULL)
		abort();
	memcpy(s, good, a);
	memcpy(s + a, to, b);
	memcpy(s + a + b, p + strlen(from), c + 1);
	return s;
}

static void
test_hostile(void)
{
	static const struct {
		const char *from, *to, *what;
	} bad[] = {
		{ "pkgdist-retry 1\n", "pkgdist-retry 2\n", "wrong magic" },
		{ "id office97@dp2\n", "id office97@dp3\n",
		    "id not the file name" },
		{ "created 1700000000\n", "created 01700000000\n",
		    "leading zero" },
		{ "created 1700000000\n", "created 99999999999999999999\n",
		    "overflow" },
		{ "created 1700000000\n", "created -1\n", "negative time" },
		{ "attempts 2\n", "", "missing field" },
		{ "attempts 2\n", "attempts  2\n", "two spaces" },
		{ "next 1700000120\n", "next 1700000120\nnext 1\n",
		    "field twice" },
		{ "package office97\n", "package ../x\n", "bad package" },
		{ "package office97\n", "package .hidden\n",
		    "package starting with a dot" },
		{ "dp dp2\n", "dp -\n", "id names a DP the job lacks" },
		{ "dir /root\n", "dir root\n", "relative dir" },
		{ "dir /root\n", "dir /ro ot\n", "raw space in text" },
		{ "error pkgpush:\\040dp2", "error pkgpush:\\000dp2",
		    "escaped NUL" },
		{ "error pkgpush:\\040dp2", "error pkgpush:\\q40dp2",
		    "bad escape" },
		{ "error pkgpush:\\040dp2", "error pkgpush:\\040dp2\\",
		    "escape cut short" },
		{ "arg pkgpush\n", "arg /bin/sh\n", "a path as the program" },
		{ "arg pkgpush\n", "arg sh\n", "another program" },
		{ "arg pkgpush\n", "arg ./pkgpush\n",
		    "a relative path to a tool" },
		{ "arg pkgpush\n", "arg pkgretry\n", "pkgretry itself" },
		{ "arg --inplace\n", "arg\t--inplace\n", "tab for space" },
		{ "arg --inplace\n", "argument --inplace\n", "unknown key" },
		{ "arg --inplace\n", "arg --in\x7fplace\n", "raw DEL" },
		{ "version 7\n", "version 7\nfailed 1\nreason x\n",
		    "failed fields in a queued job" },
		{ "arg office97\n", "arg office97\r\n", "CR line end" },
	};
	char *s, *big;
	size_t i, n;

	tap_ok(parses(good, "office97@dp2", 0), "a well-formed job parses");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = variant(bad[i].from, bad[i].to);
		tap_ok(!parses(s, "office97@dp2", 0), "refused: %s",
		    bad[i].what);
		free(s);
	}
	tap_ok(!parses(good, "office97@dp2", 1),
	    "a job without failed fields is refused in failed/");

	/* No final newline; a NUL byte. */
	s = strdup(good);
	s[strlen(s) - 1] = '\0';
	tap_ok(!parses(s, "office97@dp2", 0), "refused: no final newline");
	free(s);
	{
		struct retryjob j;
		size_t len = strlen(good);

		s = strdup(good);
		s[20] = '\0';
		tap_ok(retryjob_parse(s, len, "office97@dp2", 0, &j) == -1,
		    "refused: a NUL byte");
		free(s);
	}

	/* No argument at all. */
	s = strdup(good);
	*strstr(s, "arg pkgpush") = '\0';
	tap_ok(!parses(s, "office97@dp2", 0), "refused: no command");
	free(s);

	/* Too many arguments. */
	n = strlen(good) + (RETRYJOB_MAX_ARGS + 1) * 6 + 1;
	big = malloc(n);
	strcpy(big, good);
	for (i = 0; i < RETRYJOB_MAX_ARGS; i++)
		strcat(big, "arg x\n");
	tap_ok(!parses(big, "office97@dp2", 0),
	    "refused: more than %d arguments", RETRYJOB_MAX_ARGS);
	free(big);

	/* An argument longer than the bound. */
	n = strlen(good) + RETRYJOB_ARG_MAX + 16;
	big = malloc(n);
	strcpy(big, good);
	strcat(big, "arg ");
	memset(big + strlen(big), 'x', RETRYJOB_ARG_MAX + 1);
	big[strlen(good) + 4 + RETRYJOB_ARG_MAX + 1] = '\0';
	strcat(big, "\n");
	tap_ok(!parses(big, "office97@dp2", 0),
	    "refused: an argument longer than %d bytes", RETRYJOB_ARG_MAX);
	free(big);

	/* Random garbage never crashes and is refused. */
	{
		unsigned seed = 12345;
		char junk[512];
		int ok = 1, k;

		for (k = 0; k < 2000; k++) {
			size_t m = (size_t)(seed % sizeof(junk));
			struct retryjob j;

			for (i = 0; i < m; i++) {
				seed = seed * 1103515245 + 12345;
				junk[i] = (char)(seed >> 16);
			}
			memcpy(junk, good, m < 40 ? m : 40);
			if (retryjob_parse(junk, m, "office97@dp2", 0, &j) ==
			    0) {
				ok = 0;
				retryjob_free(&j);
			}
		}
		tap_ok(ok, "2000 random job files are all refused");
	}
}

static void
test_roundtrip(void)
{
	char *argv[] = { "/usr/local/bin/pkgpush", "-s", "/srv/my store",
		"--dp", "dp2", "new\nline", "", "back\\slash", "\xff\x01",
		NULL };
	struct retryjob j, k;
	char *text = NULL, *text2 = NULL;
	size_t len = 0, len2 = 0;
	int ok;

	tap_ok(retryjob_make(&j, "office97", "dp2", 7, 9, argv,
		   "pkgpush: dp2: No such\nfile") == 0,
	    "make a job");
	tap_ok(strcmp(j.id, "office97@dp2") == 0, "its id is PKG@DP");
	tap_ok(strcmp(j.argv[0], "pkgpush") == 0,
	    "the program is kept as its bare name");
	text = render(&j, &len);
	ok = text != NULL && retryjob_parse(text, len, j.id, 0, &k) == 0;
	tap_ok(ok, "what is written parses back");
	if (ok) {
		int same = k.argc == j.argc;
		int i;

		for (i = 0; same && i < j.argc; i++)
			same = strcmp(k.argv[i], j.argv[i]) == 0;
		tap_ok(same,
		    "every argument survives (spaces, newline, "
		    "empty, backslash, odd bytes)");
		tap_ok(strcmp(k.error, j.error) == 0,
		    "the error survives with its newline");
		text2 = render(&k, &len2);
		tap_ok(text2 != NULL && len2 == len &&
			memcmp(text, text2, len) == 0,
		    "writing the parsed job gives the same bytes");
		k.failed = 1700000000;
		k.reason = strdup("gave up");
		free(text2);
		text2 = render(&k, &len2);
		{
			struct retryjob f;

			tap_ok(text2 != NULL &&
				retryjob_parse(text2, len2, k.id, 1, &f) == 0 &&
				strcmp(f.reason, "gave up") == 0,
			    "a failed/ job parses back");
			retryjob_free(&f);
		}
		retryjob_free(&k);
	}
	free(text);
	free(text2);
	retryjob_free(&j);

	{
		char *sh[] = { "/bin/sh", "-c", "id", NULL };

		tap_ok(retryjob_make(&j, NULL, NULL, 0, 3, sh, NULL) == -1,
		    "a job for /bin/sh cannot be made");
	}
}

static void
test_guess(void)
{
	static const struct {
		const char *cmd[12];
		const char *id;
		unsigned long long version;
	} cases[] = {
		{ { "pkgpush", "-s", "/s", "--version", "7",
		      "--refresh-existing", "--inplace", "--only", "dp2",
		      "office97", NULL },
		    "office97@dp2", 7 },
		{ { "pkgpush", "--dp=dp1", "office97", NULL }, "office97@dp1",
		    0 },
		{ { "pkgpush", "--dp", "dp1", "--dp", "dp2", "office97", NULL },
		    "office97+pkgpush", 0 },
		{ { "pkgpush", "--group", "g", "--dp", "dp1", "office97",
		      NULL },
		    "office97+pkgpush", 0 },
		{ { "pkgpush", "-sS", "-j", "4", "--all", "--only=dp3",
		      "office97", NULL },
		    "office97@dp3", 0 },
		{ { "pkgstage", "-s", "/s", "add", "--manifest", "m",
		      "office97", "/src", NULL },
		    "office97+pkgstage", 0 },
		{ { "pkgstage", "add", "--version=9", "office97", "/src",
		      NULL },
		    "office97+pkgstage", 9 },
		{ { "pkgdist-update", "-s", "/s", "office97", "/src",
		      "--inplace", NULL },
		    "office97+pkgdist-update", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct retryjob j;
		int argc = 0;

		while (cases[i].cmd[argc] != NULL)
			argc++;
		if (retryjob_make(&j, NULL, NULL, 0, argc,
			(char *const *)cases[i].cmd, NULL) == -1) {
			tap_ok(0, "key of case %zu: %s", i, err_get());
			continue;
		}
		tap_ok(strcmp(j.id, cases[i].id) == 0 &&
			j.version == cases[i].version,
		    "key of '%s ... %s' is %s (got %s)", cases[i].cmd[0],
		    cases[i].cmd[argc - 1], cases[i].id, j.id);
		retryjob_free(&j);
	}
	{
		char *a[] = { "pkgdiff", "verify", "m", "/dp", NULL };
		char *b[] = { "pkgdiff", "verify", "m", "/dp2", NULL };
		struct retryjob j, k;

		retryjob_make(&j, NULL, NULL, 0, 4, a, NULL);
		retryjob_make(&k, NULL, NULL, 0, 4, b, NULL);
		tap_ok(strncmp(j.id, "cmd-", 4) == 0 &&
			retryjob_id_valid(j.id) && strcmp(j.id, k.id) != 0,
		    "a command naming no package is keyed by a hash of its "
		    "argv");
		retryjob_free(&j);
		retryjob_free(&k);
	}
}

static void
test_pkgpush_argv(void)
{
	/* pkgpush's tables, as far as the test needs them. */
	static const struct option lo[] = {
		{ "all", no_argument, NULL, 1 },
		{ "inplace", no_argument, NULL, 2 },
		{ "only", required_argument, NULL, 3 },
		{ "refresh-existing", no_argument, NULL, 4 },
		{ "store", required_argument, NULL, 's' },
		{ "version", required_argument, NULL, 5 },
		{ "verify", no_argument, NULL, 6 },
		{ NULL, 0, NULL, 0 },
	};
	static const int drop[] = { 3, 5, 0 };
	char *argv[] = { "/usr/bin/pkgpush", "-s", "/s", "--version=3",
		"--refresh-existing", "--only", "old", "--inplace", "--",
		"office97", NULL };
	const char *want[] = { "pkgpush", "-s", "/s", "--refresh-existing",
		"--inplace", "--version", "7", "--only", "dp2", "--",
		"office97" };
	/* Abbreviations (--onl, --vers, --ver is ambiguous: not here),
	 * joined values, options after the operand. */
	char *abbr[] = { "pkgpush", "--al", "--onl", "dp1", "--onl=dp2",
		"--vers", "1", "office97", "--inp", "--store=/t", "--verif",
		NULL };
	const char *wabbr[] = { "pkgpush", "--all", "--inplace", "--store",
		"/t", "--verify", "--version", "1", "--only", "dp1", "--",
		"office97" };
	char *bad[] = { "pkgpush", "--nosuch", "office97", NULL };
	char **out = NULL;
	int outc = 0, i, same;

	tap_ok(retryjob_pkgpush_argv(10, argv, "hj:ns:", lo, drop, "dp2", 7,
		   &outc, &out) == 0,
	    "narrow a pkgpush argv to one DP");
	same = outc == 11;
	for (i = 0; same && i < outc; i++)
		same = strcmp(out[i], want[i]) == 0;
	tap_ok(same && out[outc] == NULL,
	    "options kept, version fixed, "
	    "target narrowed, before '--' and the operand");
	retryjob_argv_free(outc, out);
	out = NULL;

	tap_ok(retryjob_pkgpush_argv(11, abbr, "hj:ns:", lo, drop, "dp1", 1,
		   &outc, &out) == 0,
	    "an argv with abbreviated options");
	same = outc == 12;
	for (i = 0; same && i < outc; i++)
		same = strcmp(out[i], wabbr[i]) == 0;
	tap_ok(same,
	    "every abbreviation in its full spelling; every --onl "
	    "and --vers dropped, whatever its spelling");
	tap_ok(strcmp(abbr[1], "--al") == 0 && strcmp(abbr[7], "office97") == 0,
	    "the caller's argv is not permuted");
	retryjob_argv_free(outc, out);
	out = NULL;

	tap_ok(retryjob_pkgpush_argv(3, bad, "hj:ns:", lo, drop, "dp1", 1,
		   &outc, &out) == -1 &&
		out == NULL && strstr(err_get(), "--nosuch") != NULL,
	    "an option pkgpush does not know is refused by name");
}

/* Does a job of argv (working directory: the current one) pass
 * retryjob_command_check() in store; want_err: a piece of the reason. */
static void
check_cmd(const char *store, bool ok, const char *want_err, const char *what,
    int argc, char *const argv[])
{
	struct retryjob j;
	bool pass;

	if (retryjob_make(&j, "office97", NULL, 0, argc, argv, NULL) == -1) {
		tap_ok(false, "%s: %s", what, err_get());
		return;
	}
	pass = retryjob_command_check(&j, store) == 0;
	if (!ok && pass)
		tap_ok(false, "%s: allowed", what);
	else if (!ok)
		tap_ok(strstr(err_get(), want_err) != NULL, "%s: '%s'", what,
		    err_get());
	else
		tap_ok(pass, "%s%s%s", what, pass ? "" : ": ",
		    pass ? "" : err_get());
	retryjob_free(&j);
}

#define CMD(ok, err, what, ...) \
	do { \
		char *v[] = { __VA_ARGS__, NULL }; \
		check_cmd(store, ok, err, what, \
		    (int)(sizeof(v) / sizeof(v[0])) - 1, v); \
	} while (0)

static void
test_command_check(void)
{
	char store[] = "/tmp/pkgdist-unit.XXXXXX",
	     other[] = "/tmp/pkgdist-unit.XXXXXX", cwd[4096], rel[4200],
	     eq[4200];

	if (mkdtemp(store) == NULL || mkdtemp(other) == NULL ||
	    getcwd(cwd, sizeof(cwd)) == NULL) {
		tap_ok(false, "temporary directories");
		return;
	}
	snprintf(rel, sizeof(rel), "%s/%s", store, ".");
	CMD(true, "", "pkgpush's own job", "pkgpush", "-s", store,
	    "--refresh-existing", "--inplace", "--keep", "3", "-j", "2",
	    "--version", "7", "--only", "dp2", "--", "office97");
	snprintf(eq, sizeof(eq), "--store=%s", store);
	CMD(true, "", "--store=SAME, by another spelling", "pkgpush", eq,
	    "--all", "office97");
	CMD(true, "", "the same store by another path", "pkgpush", "-s", rel,
	    "--verify", "--version=2", "--only=dp1", "office97");
	CMD(false, "its store", "-s another store", "pkgpush", "-s", other,
	    "--only", "dp1", "office97");
	CMD(false, "its store", "-sANOTHER joined", "pkgstage", "add",
	    "office97", "/src", "-s/");
	CMD(false, "'--onl' is not one", "an abbreviation", "pkgpush", "--onl",
	    "dp1", "office97");
	CMD(false, "'--serve' is not one", "pkgpush --serve", "pkgpush",
	    "--serve", "/x");
	CMD(false, "'-o' is not one", "pkgdiff scan -o", "pkgdiff", "scan",
	    "-o", "/etc/passwd", "/src");
	CMD(false, "'-o/x' is not one", "pkgdiff scan -oFILE", "pkgdiff",
	    "scan", "-o/x", "/src");
	CMD(false, "'--output=/x' is not one", "pkgdiff --output=", "pkgdiff",
	    "scan", "--output=/x", "/src");
	CMD(true, "", "pkgdiff verify", "pkgdiff", "verify", "-j", "2", "/m",
	    "/src");
	CMD(false, "'pkgstage export' is not a command", "pkgstage export",
	    "pkgstage", "export", "office97", "1", "-o", "/x");
	CMD(false, "'pkgstage keygen' is not", "pkgstage keygen", "pkgstage",
	    "keygen", "-o", "/x");
	CMD(false, "'-o' is not one", "-o before the subcommand", "pkgstage",
	    "-o", "/x", "add", "office97", "/src");
	CMD(true, "", "pkgstage add", "pkgstage", "-s", store, "add",
	    "--version", "5", "--manifest", "/m", "office97", "/src");
	CMD(true, "", "pkgstage import", "pkgstage", "import", "--trust",
	    "/k.pub", "/f.pkg");
	CMD(false, "without a subcommand", "pkgstage alone", "pkgstage", "-s",
	    store);
	CMD(false, "'--verify=x' is not one", "a value to a flag", "pkgpush",
	    "--verify=x", "office97");
	CMD(false, "without its value", "a value missing", "pkgpush",
	    "office97", "--trust");
	CMD(true, "", "pkgdist-update with pkgpush options", "pkgdist-update",
	    "-s", store, "office97", "/src", "--inplace", "--dp", "dp1");
	CMD(false, "'-o' is not one", "pkgdist-update -o", "pkgdist-update",
	    "office97", "/src", "-o", "/x");
	CMD(true, "", "after --, words are operands", "pkgdiff", "verify", "--",
	    "-o", "/src");
	rmdir(store);
	rmdir(other);
}
#undef CMD

static void
test_backoff(void)
{
	tap_ok(retryjob_backoff(60, 3600, 0) == 0, "no failure: no wait");
	tap_ok(retryjob_backoff(60, 3600, 1) == 60, "first failure: base");
	tap_ok(retryjob_backoff(60, 3600, 2) == 120, "then doubled");
	tap_ok(retryjob_backoff(60, 3600, 6) == 1920, "2^5 * base");
	tap_ok(retryjob_backoff(60, 3600, 7) == 3600, "capped");
	tap_ok(retryjob_backoff(60, 3600, 1000000) == 3600,
	    "capped without overflow");
}

static void
test_ids(void)
{
	tap_ok(retryjob_id_valid("office97@dp2"), "PKG@DP is an id");
	tap_ok(retryjob_id_valid("office97+pkgstage"), "PKG+TOOL is an id");
	tap_ok(!retryjob_id_valid("office97+sh"), "PKG+sh is not");
	tap_ok(!retryjob_id_valid("failed"), "'failed' is not an id");
	tap_ok(!retryjob_id_valid(".lock"), "'.lock' is not an id");
	tap_ok(!retryjob_id_valid("a@b@c"), "two '@' is not an id");
	tap_ok(!retryjob_id_valid("x/y@z"), "a slash is not in an id");
	tap_ok(!retryjob_id_valid("cmd-0123456789abcdeg"),
	    "cmd- with a non-hex digit is not an id");
}

int
main(void)
{
	test_hostile();
	test_roundtrip();
	test_guess();
	test_pkgpush_argv();
	test_command_check();
	test_backoff();
	test_ids();
	return tap_done();
}
