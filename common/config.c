/*
 * config.c — parse STORE/config (see config.h for the format).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "err.h"
#include "io.h"
#include "manifest.h"
#include "num.h"
#include "path.h"
#include "proto.h"

/* Most words a line may have (ssh CMD... is the long one). */
#define CONFIG_WORDS_MAX 64

void
config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
}

void
config_free(struct config *c)
{
	size_t i;

	free(c->path);
	free(c->ssh);
	free(c->remote_pkgpush);
	for (i = 0; i < c->nmount; i++)
		free(c->mount[i]);
	free(c->mount);
	free(c->bwlimit);
	config_init(c);
}

static bool
blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Split line[0..len) into words; returns the count, or -1 (too many). */
static int
split(const char *line, size_t len, const char **w, size_t *wl)
{
	size_t i = 0;
	int n = 0;

	while (i < len) {
		while (i < len && blank(line[i]))
			i++;
		if (i == len)
			break;
		if (n == CONFIG_WORDS_MAX)
			return -1;
		w[n] = line + i;
		while (i < len && !blank(line[i]))
			i++;
		wl[n] = (size_t)(line + i - w[n]);
		n++;
	}
	return n;
}

int
config_parse_rate(const char *s, uint64_t *rate)
{
	size_t len = strlen(s);
	uint64_t v, unit = 1;

	if (len > 0) {
		switch (s[len - 1]) {
		case 'K':
			unit = (uint64_t)1 << 10;
			break;
		case 'M':
			unit = (uint64_t)1 << 20;
			break;
		case 'G':
			unit = (uint64_t)1 << 30;
			break;
		}
		if (unit != 1)
			len--;
	}
	if (num_u64(s, len, CONFIG_RATE_MAX, &v) == -1 || v == 0 ||
	    v > CONFIG_RATE_MAX / unit)
		return err_set(
		    "'%s' is not a rate: give bytes per second, "
		    "from 1 to 2^48, optionally with K, M or G (powers of "
		    "1024), e.g. 512K",
		    s);
	*rate = v * unit;
	return 0;
}

/* "HH:MM" at s (5 bytes) as minutes after midnight; "24:00" only when
 * end (the end of a window).  Two digits each, as clocks show them. */
static int
parse_clock(const char *s, bool end, unsigned *min)
{
	unsigned h, m;
	size_t i;

	for (i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return -1;
	if (s[2] != ':')
		return -1;
	h = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
	m = (unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && (m != 0 || !end)))
		return -1;
	*min = h * 60 + m;
	return 0;
}

static int
parse_window(const char *s, size_t len, struct config_bwlimit *b)
{
	if (len != 11 || s[5] != '-' || parse_clock(s, false, &b->from) == -1 ||
	    parse_clock(s + 6, true, &b->to) == -1)
		return err_set("'%.*s' is not a window: give HH:MM-HH:MM "
			       "(local time; 22:00-06:00 runs past midnight)",
		    (int)len, s);
	if (b->from == b->to || (b->from == 0 && b->to == 24 * 60))
		return err_set("window '%.*s' is empty: leave the window out "
			       "for the whole day",
		    (int)len, s);
	b->window = true;
	return 0;
}

/* Does b apply at minute m of the day? */
static bool
window_holds(const struct config_bwlimit *b, unsigned m)
{
	if (!b->window)
		return true;
	if (b->from < b->to)
		return m >= b->from && m < b->to;
	return m >= b->from || m < b->to;
}

/* Do the windows of a and b share a minute?  A window is at most two
 * spans of [0, 1440); spans intersect when each starts before the other
 * ends. */
static bool
windows_overlap(const struct config_bwlimit *a, const struct config_bwlimit *b)
{
	unsigned as[2][2], bs[2][2];
	size_t na = 0, nb = 0, i, j;

	if (a->window != b->window)
		return false; /* the windowed line is the more specific */
	if (!a->window)
		return true;
	if (a->from < a->to) {
		as[na][0] = a->from;
		as[na++][1] = a->to;
	} else {
		as[na][0] = a->from;
		as[na++][1] = 1440;
		as[na][0] = 0;
		as[na++][1] = a->to;
	}
	if (b->from < b->to) {
		bs[nb][0] = b->from;
		bs[nb++][1] = b->to;
	} else {
		bs[nb][0] = b->from;
		bs[nb++][1] = 1440;
		bs[nb][0] = 0;
		bs[nb++][1] = b->to;
	}
	for (i = 0; i < na; i++)
		for (j = 0; j < nb; j++)
			if (as[i][0] < bs[j][1] && bs[j][0] < as[i][1])
				return true;
	return false;
}

static char *
words_dup(const char *s, size_t len)
{
	char *p = strndup(s, len);

	if (p == NULL)
		err_nomem();
	return p;
}

/* One setting (a line that is not blank or a comment). */
static int
parse_line(struct config *c, const char *line, size_t len, unsigned lineno)
{
	const char *w[CONFIG_WORDS_MAX];
	size_t wl[CONFIG_WORDS_MAX], i;
	char word[64];
	int n;

	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
			return err_set("control character in line%s",
			    line[i] == '\r' ? " ('\\r': write the file with "
					      "Unix line ends)" :
					      "");
	if ((n = split(line, len, w, wl)) == -1)
		return err_set("more than %d words", CONFIG_WORDS_MAX);
	if (wl[0] >= sizeof(word))
		return err_set("unknown setting '%.*s'", (int)wl[0], w[0]);
	memcpy(word, w[0], wl[0]);
	word[wl[0]] = '\0';

	if (strcmp(word, "ssh") == 0) {
		if (c->ssh != NULL)
			return err_set("ssh already set on line %u",
			    c->ssh_line);
		if (n < 2)
			return err_set("ssh: give the command (ssh CMD...)");
		if ((c->ssh = words_dup(w[1], (size_t)(line + len - w[1]))) ==
		    NULL)
			return -1;
		/* Trailing blanks are not part of the command. */
		for (i = strlen(c->ssh); i > 0 && blank(c->ssh[i - 1]); i--)
			c->ssh[i - 1] = '\0';
		c->ssh_line = lineno;
		return 0;
	}
	if (strcmp(word, "remote-pkgpush") == 0) {
		if (c->remote_pkgpush != NULL)
			return err_set("remote-pkgpush already set on line %u",
			    c->remote_pkgpush_line);
		if (n != 2)
			return err_set("remote-pkgpush: give one PATH "
				       "(found %d words after it)",
			    n - 1);
		if ((c->remote_pkgpush = words_dup(w[1], wl[1])) == NULL)
			return -1;
		c->remote_pkgpush_line = lineno;
		return 0;
	}
	if (strcmp(word, "ssh-timeout") == 0) {
		char num[32];

		if (c->ssh_timeout_line != 0)
			return err_set("ssh-timeout already set on line %u",
			    c->ssh_timeout_line);
		if (n != 2 || wl[1] >= sizeof(num))
			return err_set("ssh-timeout: give one number of "
				       "seconds");
		memcpy(num, w[1], wl[1]);
		num[wl[1]] = '\0';
		if (proto_parse_timeout(num, &c->ssh_timeout) == -1)
			return err_set("ssh-timeout: '%s' is not a number of "
				       "seconds above 0",
			    num);
		c->ssh_timeout_line = lineno;
		return 0;
	}
	if (strcmp(word, "mount") == 0) {
		char **nv, *name;

		if (n != 2)
			return err_set("mount: give one NAME or GROUP (found "
				       "%d words after it)",
			    n - 1);
		if ((name = words_dup(w[1], wl[1])) == NULL)
			return -1;
		if (!name_valid(name)) {
			err_set("mount: '%s' is not a DP or group name (want "
				"[A-Za-z0-9._-]{1,64}, not starting with '.')",
			    name);
			free(name);
			return -1;
		}
		if ((nv = realloc(c->mount, (c->nmount + 1) * sizeof(*nv))) ==
		    NULL) {
			free(name);
			return err_nomem();
		}
		c->mount = nv;
		c->mount[c->nmount++] = name;
		return 0;
	}
	if (strcmp(word, "bwlimit") == 0) {
		struct config_bwlimit b, *nv;
		char rate[32];

		memset(&b, 0, sizeof(b));
		if (n != 3 && n != 4)
			return err_set(
			    "bwlimit: give TARGET RATE "
			    "[HH:MM-HH:MM] (found %d words after it)",
			    n - 1);
		if (wl[1] > NAME_MAX_LEN)
			return err_set("bwlimit: '%.*s' is not a DP, site or "
				       "group name, or '*'",
			    (int)wl[1], w[1]);
		memcpy(b.target, w[1], wl[1]);
		b.target[wl[1]] = '\0';
		if (strcmp(b.target, "*") != 0 && !name_valid(b.target))
			return err_set("bwlimit: '%s' is not a DP, site or "
				       "group name, or '*'",
			    b.target);
		if (wl[2] >= sizeof(rate))
			return err_set("bwlimit: '%.*s' is not a rate",
			    (int)wl[2], w[2]);
		memcpy(rate, w[2], wl[2]);
		rate[wl[2]] = '\0';
		if (config_parse_rate(rate, &b.rate) == -1)
			return err_prefix("bwlimit: ");
		if (n == 4 && parse_window(w[3], wl[3], &b) == -1)
			return err_prefix("bwlimit: ");
		b.line = lineno;
		for (i = 0; i < c->nbwlimit; i++)
			if (strcmp(c->bwlimit[i].target, b.target) == 0 &&
			    windows_overlap(&c->bwlimit[i], &b))
				return err_set("bwlimit: '%s' already has a "
					       "rate %s on line %u",
				    b.target,
				    b.window ? "for part of this window" :
					       "for the "
					       "whole day",
				    c->bwlimit[i].line);
		if (c->nbwlimit == CONFIG_BWLIMIT_MAX)
			return err_set("bwlimit: more than %d lines",
			    CONFIG_BWLIMIT_MAX);
		if ((nv = realloc(c->bwlimit,
			 (c->nbwlimit + 1) * sizeof(*nv))) == NULL)
			return err_nomem();
		c->bwlimit = nv;
		c->bwlimit[c->nbwlimit++] = b;
		return 0;
	}
	return err_set("unknown setting '%s' (known: ssh, remote-pkgpush, "
		       "ssh-timeout, mount, bwlimit)",
	    word);
}

int
config_load_buf(const char *buf, size_t len, const char *shown,
    struct config *c)
{
	const char *p = buf, *end = buf + len, *nl;
	unsigned lineno = 0;
	size_t i, ll;

	config_init(c);
	while (p < end) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (memchr(p, '\0', ll) != NULL) {
			err_set("%s:%u: NUL byte in line", shown, lineno);
			goto fail;
		}
		for (i = 0; i < ll && blank(p[i]); i++)
			;
		if (i < ll && p[i] != '#' &&
		    parse_line(c, p + i, ll - i, lineno) == -1) {
			err_prefix("%s:%u: ", shown, lineno);
			goto fail;
		}
		p = nl ? nl + 1 : end;
	}
	if ((c->path = strdup(shown)) == NULL) {
		err_nomem();
		goto fail;
	}
	return 0;
fail:
	config_free(c);
	return -1;
}

int
config_load(int dirfd, const char *name, const char *shown, struct config *c)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	config_init(c);
	if (io_slurp(dirfd, name, CONFIG_MAX_SIZE, &buf, &len) == -1) {
		if (err_errno() != ENOENT)
			return err_set("cannot read '%s': %s", shown,
			    err_get());
		/* No file: no settings. */
		return (c->path = strdup(shown)) == NULL ? err_nomem() : 0;
	}
	r = config_load_buf(buf, len, shown, c);
	free(buf);
	return r;
}

int
config_check(const char *dir)
{
	struct config c;
	char *path;
	size_t len = strlen(dir) + sizeof(CONFIG_FILE) + 1;
	int r;

	if ((path = malloc(len)) == NULL)
		return err_nomem();
	snprintf(path, len, "%s/%s", dir, CONFIG_FILE);
	r = config_load(AT_FDCWD, path, path, &c);
	config_free(&c);
	free(path);
	return r;
}

static const char *
env(const char *var)
{
	const char *v = getenv(var);

	return v != NULL && *v != '\0' ? v : NULL;
}

const char *
config_ssh(const struct config *c)
{
	const char *v;

	if ((v = env(CONFIG_SSH_ENV)) != NULL)
		return v;
	return c != NULL && c->ssh != NULL ? c->ssh : "ssh";
}

const char *
config_remote_pkgpush(const struct config *c)
{
	const char *v;

	if ((v = env(CONFIG_REMOTE_PKGPUSH_ENV)) != NULL)
		return v;
	return c != NULL && c->remote_pkgpush != NULL ? c->remote_pkgpush :
							"pkgpush";
}

int
config_ssh_timeout(const struct config *c, double dflt, double *secs)
{
	const char *v;

	if ((v = env(PROTO_TIMEOUT_ENV)) != NULL)
		return proto_parse_timeout(v, secs);
	*secs = c != NULL && c->ssh_timeout_line != 0 ? c->ssh_timeout : dflt;
	return 0;
}

/* Do a and b have the same blank-separated words? */
static bool
same_words(const char *a, const char *b)
{
	size_t la, lb;

	for (;;) {
		while (blank(*a) || *a == '\n')
			a++;
		while (blank(*b) || *b == '\n')
			b++;
		if (*a == '\0' || *b == '\0')
			return *a == *b;
		la = strcspn(a, " \t\n");
		lb = strcspn(b, " \t\n");
		if (la != lb || memcmp(a, b, la) != 0)
			return false;
		a += la;
		b += lb;
	}
}

static int
override(struct config_env_override *o, const char *var, const char *kw,
    const char *value)
{
	size_t len = strlen(kw) + strlen(value) + 2;

	if ((o->line = malloc(len)) == NULL)
		return err_nomem();
	snprintf(o->line, len, "%s %s", kw, value);
	o->var = var;
	return 0;
}

int
config_env_overrides(const struct config *c,
    struct config_env_override out[CONFIG_ENV_MAX])
{
	const char *v;
	double t, line;
	int n = 0;

	if ((v = env(CONFIG_SSH_ENV)) != NULL &&
	    !same_words(v, c != NULL && c->ssh != NULL ? c->ssh : "ssh") &&
	    override(&out[n++], CONFIG_SSH_ENV, "ssh", v) == -1)
		goto fail;
	if ((v = env(CONFIG_REMOTE_PKGPUSH_ENV)) != NULL &&
	    strcmp(v,
		c != NULL && c->remote_pkgpush != NULL ? c->remote_pkgpush :
							 "pkgpush") != 0 &&
	    override(&out[n++], CONFIG_REMOTE_PKGPUSH_ENV, "remote-pkgpush",
		v) == -1)
		goto fail;
	line = c != NULL && c->ssh_timeout_line != 0 ? c->ssh_timeout :
						       PROTO_TIMEOUT_DEFAULT;
	if ((v = env(PROTO_TIMEOUT_ENV)) != NULL &&
	    proto_parse_timeout(v, &t) == 0 && t != line &&
	    override(&out[n++], PROTO_TIMEOUT_ENV, "ssh-timeout", v) == -1)
		goto fail;
	return n;
fail:
	config_env_overrides_free(out, (size_t)n - 1);
	return -1;
}

void
config_env_overrides_free(struct config_env_override *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].line);
		v[i].line = NULL;
	}
}

bool
config_mount_required(const struct config *c, const char *name,
    const char *group)
{
	size_t i;

	for (i = 0; c != NULL && i < c->nmount; i++)
		if (strcmp(c->mount[i], name) == 0 ||
		    (group != NULL && strcmp(c->mount[i], group) == 0))
			return true;
	return false;
}

const struct config_bwlimit *
config_bwlimit_find(const struct config *c, const char *name, const char *group,
    time_t t)
{
	const char *level[3];
	const struct config_bwlimit *whole;
	struct tm tm;
	unsigned m;
	size_t i, k;

	if (c == NULL || c->nbwlimit == 0)
		return NULL;
	if (localtime_r(&t, &tm) == NULL)
		return NULL;
	m = (unsigned)(tm.tm_hour * 60 + tm.tm_min);
	level[0] = name;
	level[1] = group;
	level[2] = "*";
	for (k = 0; k < 3; k++) {
		if (level[k] == NULL)
			continue;
		whole = NULL;
		for (i = 0; i < c->nbwlimit; i++) {
			const struct config_bwlimit *b = &c->bwlimit[i];

			if (strcmp(b->target, level[k]) != 0 ||
			    !window_holds(b, m))
				continue;
			if (b->window)
				return b;
			whole = b;
		}
		if (whole != NULL)
			return whole;
	}
	return NULL;
}
