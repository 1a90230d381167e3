/*
 * test_config — STORE/config (config.h): every setting parsed, every
 * malformed line refused naming its line, the environment's overrides,
 * the mount rule's names and the bwlimit lookup (most specific line,
 * windows past midnight).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "err.h"
#include "tap.h"

static int
load(const char *text, struct config *c)
{
	return config_load_buf(text, strlen(text), "/s/config", c);
}

/* The text must be refused with an error containing want. */
static void
refused(const char *text, const char *want, const char *title)
{
	struct config c;
	int r = load(text, &c);

	if (!tap_ok(r == -1 && strstr(err_get(), want) != NULL &&
		    c.ssh == NULL && c.nbwlimit == 0 && c.nmount == 0,
		"refused: %s", title))
		tap_diag("got %d, error '%s', want '%s'", r, err_get(), want);
	config_free(&c);
}

/* A time today (local time, TZ=UTC here) at hh:mm. */
static time_t
at(int hh, int mm)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = 126;
	tm.tm_mon = 11;
	tm.tm_mday = 2;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

static uint64_t
cap(const struct config *c, const char *name, const char *group, time_t t)
{
	const struct config_bwlimit *b = config_bwlimit_find(c, name, group, t);

	return b != NULL ? b->rate : 0;
}

static void
test_parse(void)
{
	static const char text[] =
	    "# overridden by $PKGDIST_SSH and $PKGDIST_REMOTE_PKGPUSH\n"
	    "ssh ssh -i /etc/pkgdist/id_ed25519 -o ConnectTimeout=10  \n"
	    "\n"
	    "  \t# an indented comment\n"
	    "remote-pkgpush /usr/local/bin/pkgpush\n"
	    "ssh-timeout 30\n"
	    "bwlimit * 4M\n"
	    "bwlimit branch 512K 08:00-18:00\n"
	    "\tmount dp3\n"
	    "mount branch";
	struct config c;
	int r = load(text, &c);

	if (!tap_ok(r == 0, "a file with every kind of line parses"))
		tap_diag("%s", err_get());
	tap_ok(c.ssh &&
		strcmp(c.ssh,
		    "ssh -i /etc/pkgdist/id_ed25519 -o "
		    "ConnectTimeout=10") == 0 &&
		c.ssh_line == 2,
	    "ssh: the rest of the line, trailing blanks dropped: '%s'",
	    c.ssh ? c.ssh : "(null)");
	tap_ok(c.remote_pkgpush &&
		strcmp(c.remote_pkgpush, "/usr/local/bin/pkgpush") == 0 &&
		c.remote_pkgpush_line == 5,
	    "remote-pkgpush");
	tap_ok(c.ssh_timeout == 30 && c.ssh_timeout_line == 6, "ssh-timeout");
	tap_ok(c.nbwlimit == 2 && c.bwlimit[0].rate == 4u << 20 &&
		!c.bwlimit[0].window && strcmp(c.bwlimit[0].target, "*") == 0 &&
		c.bwlimit[1].rate == 512u << 10 && c.bwlimit[1].window &&
		c.bwlimit[1].from == 8 * 60 && c.bwlimit[1].to == 18 * 60 &&
		c.bwlimit[1].line == 8,
	    "bwlimit: rates in powers of 1024, window");
	tap_ok(c.nmount == 2 && strcmp(c.mount[0], "dp3") == 0 &&
		strcmp(c.mount[1], "branch") == 0,
	    "mount lines, the last without "
	    "a newline");
	tap_ok(config_mount_required(&c, "dp3", "office") &&
		config_mount_required(&c, "dp9", "branch") &&
		!config_mount_required(&c, "dp1", "office") &&
		!config_mount_required(NULL, "dp3", "office"),
	    "the mount rule names a DP or its group");
	config_free(&c);

	tap_ok(load("", &c) == 0 && c.ssh == NULL && c.nbwlimit == 0,
	    "an empty file is no settings");
	config_free(&c);
	tap_ok(load("ssh ssh # not a comment\n", &c) == 0 && c.ssh &&
		strcmp(c.ssh, "ssh # not a comment") == 0,
	    "'#' after the start of a line is part of it");
	config_free(&c);
	tap_ok(load("bwlimit night 1G 22:00-06:00\nbwlimit night 2M\n"
		    "bwlimit night 3M 12:00-13:00\nbwlimit x 1 18:00-24:00\n",
		   &c) == 0 &&
		c.nbwlimit == 4 && c.bwlimit[0].rate == 1u << 30 &&
		c.bwlimit[0].from == 22 * 60 && c.bwlimit[0].to == 6 * 60 &&
		c.bwlimit[3].rate == 1 && c.bwlimit[3].to == 1440,
	    "windows past midnight, one ending at 24:00, windows beside a "
	    "whole-day line");
	config_free(&c);
}

static void
test_refused(void)
{
	refused("ssh ssh\nfrobnicate 1\n",
	    "/s/config:2: unknown setting "
	    "'frobnicate'",
	    "an unknown keyword, named with file and line");
	refused("ssh\n", "/s/config:1: ssh: give the command", "ssh alone");
	refused("ssh a\nssh b\n", ":2: ssh already set on line 1", "ssh twice");
	refused("remote-pkgpush\n", ":1: remote-pkgpush: give one PATH",
	    "remote-pkgpush alone");
	refused("remote-pkgpush /a /b\n", "give one PATH",
	    "remote-pkgpush with two words");
	refused("remote-pkgpush /a\nremote-pkgpush /b\n", "already set",
	    "remote-pkgpush twice");
	refused("ssh-timeout 0\n", "ssh-timeout: '0'", "a zero timeout");
	refused("ssh-timeout soon\n", "not a number of seconds",
	    "a word as a timeout");
	refused("mount\n", "mount: give one NAME", "mount alone");
	refused("mount a b\n", "mount: give one NAME", "mount of two");
	refused("mount .hidden\n", "not a DP or group name", "a bad name");
	refused("bwlimit dp1\n", "bwlimit: give TARGET RATE", "no rate");
	refused("bwlimit dp1 1M 08:00-09:00 x\n", "give TARGET RATE",
	    "a word too many");
	refused("bwlimit dp/1 1M\n", "not a DP, site or group name",
	    "a bad target");
	refused("bwlimit ** 1M\n", "not a DP, site or group name",
	    "'**' as target");
	refused("bwlimit dp1 0\n", "'0' is not a rate", "a zero rate");
	refused("bwlimit dp1 4X\n", "'4X' is not a rate", "a bad suffix");
	refused("bwlimit dp1 4k\n", "'4k' is not a rate",
	    "a lowercase suffix (K, M, G only)");
	refused("bwlimit dp1 M\n", "'M' is not a rate", "a suffix alone");
	refused("bwlimit dp1 -1\n", "is not a rate", "a negative rate");
	refused("bwlimit dp1 01M\n", "is not a rate", "a leading zero");
	refused("bwlimit dp1 281474976710657\n", "is not a rate",
	    "a rate above 2^48");
	refused("bwlimit dp1 268435457M\n", "is not a rate",
	    "a rate above 2^48 through its suffix");
	refused("bwlimit dp1 99999999999999999999G\n", "is not a rate",
	    "a rate that overflows");
	refused("bwlimit dp1 1M 8:00-18:00\n", "is not a window",
	    "a one-digit hour");
	refused("bwlimit dp1 1M 08:00-24:01\n", "is not a window", "24:01");
	refused("bwlimit dp1 1M 24:00-06:00\n", "is not a window",
	    "a window starting at 24:00");
	refused("bwlimit dp1 1M 08:60-09:00\n", "is not a window", "minute 60");
	refused("bwlimit dp1 1M 08:00~09:00\n", "is not a window",
	    "a bad separator");
	refused("bwlimit dp1 1M 08:00-08:00\n", "is empty", "an empty window");
	refused("bwlimit dp1 1M 00:00-24:00\n", "the whole day",
	    "a window of the whole day");
	refused("bwlimit dp1 1M\nbwlimit dp1 2M\n",
	    ":2: bwlimit: 'dp1' already has a rate for the whole day on "
	    "line 1",
	    "two whole-day lines for one target");
	refused("bwlimit dp1 1M 22:00-06:00\nbwlimit dp1 2M 05:00-07:00\n",
	    "already has a rate for part of this window on line 1",
	    "windows that overlap past midnight");
	refused("x\tssh\r\n", "'\\r'", "a CRLF line end is named");
	{
		static const char nul[] = "ssh ssh\nmount a\0b\n";
		struct config c;
		int r = config_load_buf(nul, sizeof(nul) - 1, "/s/config", &c);

		tap_ok(r == -1 &&
			strstr(err_get(), "/s/config:2: NUL byte") != NULL,
		    "refused: a NUL byte (%s)", err_get());
		config_free(&c);
	}
}

static void
test_env(void)
{
	static const char text[] = "ssh ssh  -i /k\nremote-pkgpush /p\n";
	struct config c;
	struct config_env_override ov[CONFIG_ENV_MAX];
	int n;
	double t = 0;

	unsetenv("PKGDIST_SSH");
	unsetenv("PKGDIST_REMOTE_PKGPUSH");
	unsetenv("PKGDIST_SSH_TIMEOUT");
	tap_ok(strcmp(config_ssh(NULL), "ssh") == 0 &&
		strcmp(config_remote_pkgpush(NULL), "pkgpush") == 0,
	    "the defaults without a file");
	if (load(text, &c) == -1)
		tap_diag("%s", err_get());
	tap_ok(strcmp(config_ssh(&c), "ssh  -i /k") == 0 &&
		strcmp(config_remote_pkgpush(&c), "/p") == 0,
	    "the lines");
	tap_ok(config_ssh_timeout(&c, 60, &t) == 0 && t == 60,
	    "no ssh-timeout line: the default");
	tap_ok(config_env_overrides(&c, ov) == 0,
	    "no variable set: nothing overridden");
	setenv("PKGDIST_SSH", "ssh -i /k", 1);
	tap_ok(config_env_overrides(&c, ov) == 0,
	    "the same words, spaced otherwise, are no override");
	setenv("PKGDIST_SSH", "ssh -i /other", 1);
	setenv("PKGDIST_REMOTE_PKGPUSH", "", 1);
	setenv("PKGDIST_SSH_TIMEOUT", "5", 1);
	tap_ok(strcmp(config_ssh(&c), "ssh -i /other") == 0 &&
		strcmp(config_remote_pkgpush(&c), "/p") == 0,
	    "a variable overrides its line; an empty one does not");
	tap_ok(config_ssh_timeout(&c, 60, &t) == 0 && t == 5,
	    "PKGDIST_SSH_TIMEOUT overrides");
	n = config_env_overrides(&c, ov);
	tap_ok(n == 2 && strcmp(ov[0].var, "PKGDIST_SSH") == 0 &&
		strcmp(ov[0].line, "ssh ssh -i /other") == 0 &&
		strcmp(ov[1].var, "PKGDIST_SSH_TIMEOUT") == 0 &&
		strcmp(ov[1].line, "ssh-timeout 5") == 0,
	    "the overrides, each with the line that makes it permanent");
	if (n > 0)
		config_env_overrides_free(ov, (size_t)n);
	setenv("PKGDIST_SSH_TIMEOUT", "x", 1);
	tap_ok(config_ssh_timeout(&c, 60, &t) == -1 &&
		strstr(err_get(), "PKGDIST_SSH_TIMEOUT") != NULL,
	    "a bad PKGDIST_SSH_TIMEOUT is an error: %s", err_get());
	unsetenv("PKGDIST_SSH");
	unsetenv("PKGDIST_REMOTE_PKGPUSH");
	unsetenv("PKGDIST_SSH_TIMEOUT");
	config_free(&c);
}

static void
test_bwlimit(void)
{
	static const char text[] = "bwlimit * 4M\n"
				   "bwlimit branch 512K 08:00-18:00\n"
				   "bwlimit branch 2M\n"
				   "bwlimit far1 1M\n"
				   "bwlimit night 64K 22:00-06:00\n";
	struct config c;

	if (load(text, &c) == -1)
		tap_diag("%s", err_get());
	tap_ok(cap(&c, "far1", "branch", at(12, 0)) == 1u << 20,
	    "a NAME line before its GROUP's");
	tap_ok(cap(&c, "b1", "branch", at(12, 0)) == 512u << 10 &&
		cap(&c, "b1", "branch", at(8, 0)) == 512u << 10,
	    "the group's window holds from its first minute");
	tap_ok(cap(&c, "b1", "branch", at(18, 0)) == 2u << 20 &&
		cap(&c, "b1", "branch", at(7, 59)) == 2u << 20,
	    "outside the window, the group's whole-day line");
	tap_ok(cap(&c, "o1", "office", at(12, 0)) == 4u << 20,
	    "no NAME or GROUP line: the '*' line");
	tap_ok(cap(&c, "n1", "night", at(23, 30)) == 64u << 10 &&
		cap(&c, "n1", "night", at(3, 0)) == 64u << 10 &&
		cap(&c, "n1", "night", at(12, 0)) == 4u << 20 &&
		cap(&c, "n1", "night", at(6, 0)) == 4u << 20,
	    "a window past midnight, and '*' outside it");
	tap_ok(cap(&c, "*", NULL, at(12, 0)) == 4u << 20, "the total's line");
	config_free(&c);
	tap_ok(load("bwlimit dp1 1M 08:00-09:00\n", &c) == 0 &&
		cap(&c, "dp1", "g", at(10, 0)) == 0 &&
		cap(&c, "dp1", "g", at(8, 30)) == 1u << 20,
	    "outside every window: no cap");
	config_free(&c);
	tap_ok(config_bwlimit_find(NULL, "dp1", "g", at(1, 0)) == NULL,
	    "no file: no cap");
}

int
main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	test_parse();
	test_refused();
	test_env();
	test_bwlimit();
	return tap_done();
}
