/*
 * test_dplist — the DP list parser (dplist.h): fields, comments, escapes,
 * ssh:// targets, and every error naming its line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dplist.h"
#include "err.h"
#include "tap.h"

static int
load(const char *text, struct dplist *l)
{
	return dplist_load_buf(text, strlen(text), "dps", l);
}

/* The text must be refused with an error containing want. */
static void
refused(const char *text, const char *want, const char *title)
{
	struct dplist l;
	int r = load(text, &l);

	if (!tap_ok(r == -1 && strstr(err_get(), want) != NULL && l.n == 0,
		"refused: %s", title))
		tap_diag("got %d, error '%s', want '%s'", r, err_get(), want);
	dplist_free(&l);
}

static void
target_ok(const char *text, const char *user, const char *host, unsigned port,
    const char *path)
{
	struct dp_target t;
	char *back;
	int r = dplist_target_parse(text, &t);
	bool ok = r == 0 && t.kind == DP_SSH &&
	    ((user == NULL && t.user == NULL) ||
		(user && t.user && strcmp(user, t.user) == 0)) &&
	    strcmp(host, t.host) == 0 && t.port == port &&
	    strcmp(path, t.path) == 0;

	if (!tap_ok(ok, "ssh target '%s' parsed into its parts", text))
		tap_diag("r=%d err='%s'", r, err_get());
	if (r == 0) {
		back = dplist_target_string(&t);
		tap_ok(back && strcmp(back, text) == 0,
		    "ssh target '%s' printed back the same", text);
		free(back);
	}
	dplist_target_free(&t);
}

static void
target_bad(const char *text, const char *want)
{
	struct dp_target t;
	int r = dplist_target_parse(text, &t);

	if (!tap_ok(r == -1 && strstr(err_get(), want) != NULL,
		"target '%s' refused (%s)", text, want))
		tap_diag("r=%d err='%s'", r, err_get());
	if (r == 0)
		dplist_target_free(&t);
}

int
main(void)
{
	struct dplist l;
	const struct dp *dp;

	/* A good list. */
	if (tap_ok(
		load("# NAME GROUP TARGET\n\n"
		     "dp1 office /srv/dp1\n"
		     "   \t  # indented comment\n"
		     "dp2\toffice\t/mnt/share\\040two  \n"
		     "far-1.x remote ssh://pkg@far1.example.org:2222/srv/dp\n"
		     "last g /no/newline",
		    &l) == 0,
		"a list with comments, blanks, tabs and escapes parses")) {
		tap_ok(l.n == 4, "four DPs");
		dp = dplist_find(&l, "dp2");
		tap_ok(dp && dp->target.kind == DP_LOCAL &&
			strcmp(dp->target.path, "/mnt/share two") == 0 &&
			strcmp(dp->target_text, "/mnt/share\\040two") == 0 &&
			dp->line == 5,
		    "an escaped space in a target is unescaped");
		dp = dplist_find(&l, "far-1.x");
		tap_ok(dp && dp->target.kind == DP_SSH &&
			dp->target.port == 2222 &&
			strcmp(dp->target.user, "pkg") == 0 &&
			strcmp(dp->target.path, "/srv/dp") == 0,
		    "an ssh:// target is split into user, host, port, path");
		tap_ok(dplist_has_group(&l, "office") &&
			!dplist_has_group(&l, "nosuch"),
		    "groups are known");
		tap_ok(dplist_find(&l, "nosuch") == NULL, "unknown DP: NULL");
		tap_ok(dplist_find(&l, "last") != NULL,
		    "a last line without a newline counts");
		dplist_free(&l);
	}
	tap_ok(load("", &l) == 0 && l.n == 0, "an empty list is no error");
	dplist_free(&l);

	refused("dp1 g /a\nonly two\n", "dps:2:", "two fields");
	refused("dp1 g /a extra\n", "dps:1:", "four fields");
	refused("dp1 g /a\ndp1 h /b\n",
	    "dps:2: DP 'dp1' already defined "
	    "on line 1",
	    "a name given twice");
	refused(".dp g /a\n", "dps:1: bad DP name", "a name starting with .");
	refused("d/p g /a\n", "bad DP name", "a name with a slash");
	refused("dp g! /a\n", "bad group name", "a bad group");
	refused("dp g relative/dir\n", "absolute", "a relative target");
	refused("dp g /a\\x\n", "dps:1: target", "a bad escape");
	refused("dp g /a\\000b\n", "dps:1:", "an escaped NUL");
	refused("dp g /a\rb\n",
	    "dps:1: control character \\015 in line "
	    "(write it in TARGET as \\015)",
	    "a raw control character");
	refused("dp1 g /a\r\n", "dps:1: line ends in '\\r' (a DOS line end",
	    "a DOS line end, named as such");
	refused("dp1 g /a b\n",
	    "found 4 fields (a space in TARGET is "
	    "written \\040",
	    "a blank in a target: the message says \\040");
	refused("dp1 g /a b c d\n", "found more than 4 fields", "six fields");
	refused("dp g ftp://host/x\n", "unknown scheme", "another scheme");
	{
		char buf[] = "dp g /a\0b\n";
		tap_ok(dplist_load_buf(buf, sizeof(buf) - 1, "dps", &l) == -1 &&
			strstr(err_get(), "NUL") != NULL,
		    "refused: a NUL byte in the file");
		dplist_free(&l);
	}

	target_ok("ssh://host/p", NULL, "host", 0, "/p");
	target_ok("ssh://u@10.0.0.1:22/srv/dp", "u", "10.0.0.1", 22, "/srv/dp");
	target_ok("ssh://[::1]:2200/d", NULL, "::1", 2200, "/d");
	target_bad("ssh://-oProxyCommand=x/p", "starts with '-'");
	target_bad("ssh://-u@h/p", "starts with '-'");
	target_bad("ssh://h:0/p", "port is 0");
	target_bad("ssh://h:65536/p", "above 65535");
	target_bad("ssh://h:x/p", "not a number");
	target_bad("ssh://h", "no path");
	target_bad("ssh:///p", "empty host");
	target_bad("ssh://@h/p", "empty user");
	target_bad("ssh://h;rm/p", "not allowed");
	return tap_done();
}
