/*
 * dplist.c — parse STORE/dps (see dplist.h for the format).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dplist.h"
#include "err.h"
#include "io.h"
#include "manifest.h"
#include "path.h"

void
dplist_init(struct dplist *l)
{
	l->v = NULL;
	l->n = l->cap = 0;
}

void
dplist_target_free(struct dp_target *t)
{
	free(t->path);
	free(t->user);
	free(t->host);
	t->path = t->user = t->host = NULL;
	t->port = 0;
	t->kind = 0;
}

void
dplist_free(struct dplist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].group);
		free(l->v[i].target_text);
		dplist_target_free(&l->v[i].target);
	}
	free(l->v);
	dplist_init(l);
}

static char *
xstrndup(const char *s, size_t n)
{
	char *p;

	if ((p = malloc(n + 1)) == NULL) {
		err_nomem();
		return NULL;
	}
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static bool
host_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

static bool
user_char(unsigned char c)
{
	return host_char(c) || c == '$';
}

static int
parse_ssh(const char *s, struct dp_target *t)
{
	const char *p = s, *at, *slash, *hs, *he;
	size_t i;

	/* s points just past "ssh://". */
	if ((slash = strchr(p, '/')) == NULL)
		return err_set("ssh target has no path (ssh://[user@]host"
			       "[:port]/path)");
	at = memchr(p, '@', (size_t)(slash - p));
	if (at != NULL) {
		if (at == p)
			return err_set("ssh target has an empty user name");
		if (*p == '-')
			return err_set("ssh user name starts with '-'");
		for (i = 0; p + i < at; i++)
			if (!user_char((unsigned char)p[i]))
				return err_set("ssh user name has a "
					       "character not allowed");
		if ((t->user = xstrndup(p, (size_t)(at - p))) == NULL)
			return -1;
		p = at + 1;
	}
	if (*p == '[') {
		hs = p + 1;
		if ((he = memchr(hs, ']', (size_t)(slash - hs))) == NULL)
			return err_set("ssh host: missing ']'");
		if (he == hs)
			return err_set("ssh target has an empty host");
		for (i = 0; hs + i < he; i++) {
			unsigned char c = (unsigned char)hs[i];
			if (!((c >= '0' && c <= '9') ||
				(c >= 'a' && c <= 'f') ||
				(c >= 'A' && c <= 'F') || c == ':' || c == '.'))
				return err_set("ssh host: bad IPv6 address");
		}
		p = he + 1;
	} else {
		hs = p;
		while (p < slash && *p != ':')
			p++;
		he = p;
		if (he == hs)
			return err_set("ssh target has an empty host");
		if (*hs == '-')
			return err_set("ssh host starts with '-'");
		for (i = 0; hs + i < he; i++)
			if (!host_char((unsigned char)hs[i]))
				return err_set("ssh host has a character "
					       "not allowed");
	}
	if ((t->host = xstrndup(hs, (size_t)(he - hs))) == NULL)
		return -1;
	if (p < slash) {
		unsigned long port = 0;

		if (*p != ':')
			return err_set("ssh host: unexpected text after "
				       "the host");
		p++;
		if (p == slash)
			return err_set("ssh port is empty");
		for (; p < slash; p++) {
			if (*p < '0' || *p > '9')
				return err_set("ssh port is not a number");
			port = port * 10 + (unsigned long)(*p - '0');
			if (port > 65535)
				return err_set("ssh port is above 65535");
		}
		if (port == 0)
			return err_set("ssh port is 0");
		t->port = (unsigned)port;
	}
	if ((t->path = strdup(slash)) == NULL)
		return err_nomem();
	return 0;
}

int
dplist_target_parse(const char *text, struct dp_target *t)
{
	int r;

	memset(t, 0, sizeof(*t));
	if (strncmp(text, "ssh://", 6) == 0) {
		t->kind = DP_SSH;
		r = parse_ssh(text + 6, t);
	} else if (text[0] == '/') {
		t->kind = DP_LOCAL;
		r = (t->path = strdup(text)) == NULL ? err_nomem() : 0;
	} else if (strstr(text, "://") != NULL) {
		r = err_set("target '%s': unknown scheme (only ssh:// "
			    "is known)",
		    text);
		return r;
	} else {
		r = err_set("target must be an absolute directory or an "
			    "ssh:// address");
	}
	if (r == -1)
		dplist_target_free(t);
	return r;
}

char *
dplist_target_string(const struct dp_target *t)
{
	char *s = NULL;
	char port[16] = "";
	size_t n;
	int ipv6;

	if (t->kind != DP_SSH) {
		if ((s = strdup(t->path ? t->path : "")) == NULL)
			err_nomem();
		return s;
	}
	if (t->port)
		snprintf(port, sizeof(port), ":%u", t->port);
	ipv6 = strchr(t->host, ':') != NULL;
	n = strlen(t->host) + strlen(t->path) +
	    (t->user ? strlen(t->user) : 0) + 32;
	if ((s = malloc(n)) == NULL) {
		err_nomem();
		return NULL;
	}
	snprintf(s, n, "ssh://%s%s%s%s%s%s%s", t->user ? t->user : "",
	    t->user ? "@" : "", ipv6 ? "[" : "", t->host, ipv6 ? "]" : "", port,
	    t->path);
	return s;
}

static bool
blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Split line[0..len) into at most 4 fields; returns the count. */
static size_t
split(const char *line, size_t len, const char **f, size_t *fl)
{
	size_t i = 0, n = 0;

	while (i < len) {
		while (i < len && blank(line[i]))
			i++;
		if (i == len)
			break;
		if (n == 4)
			return 5;
		f[n] = line + i;
		while (i < len && !blank(line[i]))
			i++;
		fl[n] = (size_t)(line + i - f[n]);
		n++;
	}
	return n;
}

static int
parse_line(const char *line, size_t len, const char *noun, struct dp *dp)
{
	const char *f[4];
	size_t fl[4], n, i;
	char *target = NULL;

	/* A DOS line end first: it is the likely cause of what follows. */
	if (len > 0 && line[len - 1] == '\r')
		return err_set(
		    "line ends in '\\r' (a DOS line end; the list "
		    "wants Unix line ends: dos2unix FILE, or sed -i 's/\\r$//' "
		    "FILE)");
	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
			return err_set("control character \\%03o in line "
				       "(write it in TARGET as \\%03o)",
			    (unsigned char)line[i], (unsigned char)line[i]);
	n = split(line, len, f, fl);
	if (n > 3)
		return err_set(
		    "expected 'NAME GROUP TARGET', found %s "
		    "fields (a space in TARGET is written \\040, a tab "
		    "\\011)",
		    n > 4 ? "more than 4" : "4");
	if (n != 3)
		return err_set("expected 'NAME GROUP TARGET', found %zu "
			       "field%s",
		    n, n == 1 ? "" : "s");
	if ((dp->name = xstrndup(f[0], fl[0])) == NULL ||
	    (dp->group = xstrndup(f[1], fl[1])) == NULL ||
	    (dp->target_text = xstrndup(f[2], fl[2])) == NULL)
		return -1;
	if (!name_valid(dp->name))
		return err_set("bad %s name (want [A-Za-z0-9._-]{1,64}, "
			       "not starting with '.')",
		    noun);
	if (!name_valid(dp->group))
		return err_set("bad group name (want [A-Za-z0-9._-]{1,64}, "
			       "not starting with '.')");
	if (path_unescape(f[2], fl[2], &target) == -1)
		return err_prefix("target: ");
	if (dplist_target_parse(target, &dp->target) == -1) {
		free(target);
		return -1;
	}
	free(target);
	return 0;
}

static void
dp_free(struct dp *dp)
{
	free(dp->name);
	free(dp->group);
	free(dp->target_text);
	dplist_target_free(&dp->target);
	memset(dp, 0, sizeof(*dp));
}

/* The one parser of both lists; noun ("DP", "site") names a line's
 * subject in messages. */
static int
load_buf(const char *buf, size_t len, const char *name, const char *noun,
    struct dplist *l)
{
	const char *p = buf, *end = buf + len, *nl;
	unsigned lineno = 0;
	size_t i, ll;
	struct dp dp;

	dplist_init(l);
	memset(&dp, 0, sizeof(dp));
	while (p < end) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (memchr(p, '\0', ll) != NULL) {
			err_set("%s:%u: NUL byte in line", name, lineno);
			goto fail;
		}
		for (i = 0; i < ll && blank(p[i]); i++)
			;
		if (i == ll || p[i] == '#')
			goto next;
		if (parse_line(p, ll, noun, &dp) == -1) {
			err_prefix("%s:%u: ", name, lineno);
			goto fail;
		}
		dp.line = lineno;
		if (dplist_find(l, dp.name) != NULL) {
			err_set("%s:%u: %s '%s' already defined on line %u",
			    name, lineno, noun, dp.name,
			    dplist_find(l, dp.name)->line);
			goto fail;
		}
		if (l->n == l->cap) {
			size_t nc = l->cap ? l->cap * 2 : 16;
			struct dp *nv = realloc(l->v, nc * sizeof(*nv));
			if (nv == NULL) {
				err_nomem();
				goto fail;
			}
			l->v = nv;
			l->cap = nc;
		}
		l->v[l->n++] = dp;
		memset(&dp, 0, sizeof(dp));
next:
		p = nl ? nl + 1 : end;
	}
	return 0;
fail:
	dp_free(&dp);
	dplist_free(l);
	return -1;
}

int
dplist_load_buf(const char *buf, size_t len, const char *name, struct dplist *l)
{
	return load_buf(buf, len, name, "DP", l);
}

static int
load_file(const char *path, const char *noun, struct dplist *l)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	dplist_init(l);
	if (io_slurp(AT_FDCWD, path, DPLIST_MAX_SIZE, &buf, &len) == -1)
		return -1;
	r = load_buf(buf, len, path, noun, l);
	free(buf);
	return r;
}

int
dplist_load(const char *path, struct dplist *l)
{
	return load_file(path, "DP", l);
}

/* A missing file is an empty list. */
static int
load_or_empty(const char *path, const char *noun, struct dplist *l)
{
	if (load_file(path, noun, l) == 0)
		return 0;
	if (err_errno() != ENOENT)
		return -1;
	dplist_init(l);
	return 0;
}

int
dplist_load_pair(const char *dps_path, const char *sites_path,
    struct dplist *dps, struct dplist *sites)
{
	const struct dp *clash;
	size_t i;

	dplist_init(sites);
	if (load_or_empty(dps_path, "DP", dps) == -1)
		return -1;
	if (load_or_empty(sites_path, "site", sites) == -1)
		goto fail;
	for (i = 0; i < sites->n; i++)
		if ((clash = dplist_find(dps, sites->v[i].name)) != NULL) {
			err_set(
			    "%s:%u: site '%s' has the name of the DP on "
			    "%s:%u (a name is one target: unique across both "
			    "lists)",
			    sites_path, sites->v[i].line, sites->v[i].name,
			    dps_path, clash->line);
			goto fail;
		}
	return 0;
fail:
	dplist_free(dps);
	dplist_free(sites);
	return -1;
}

const struct dp *
dplist_find(const struct dplist *l, const char *name)
{
	size_t i;

	/* Linear: DP lists are tens of lines; the parser's duplicate check
	 * makes loading quadratic, fine below a few thousand DPs. */
	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return &l->v[i];
	return NULL;
}

bool
dplist_has_group(const struct dplist *l, const char *group)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].group, group) == 0)
			return true;
	return false;
}
