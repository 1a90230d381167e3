/*
 * dplist.h — the DP list, STORE/dps: which distribution points exist.
 *
 * Administrators edit the file by hand.  One DP a line:
 *
 *   # NAME   GROUP    TARGET
 *   dp1      office   /srv/dp1
 *   dp2      office   /mnt/share\040two
 *   far1     remote   ssh://pkg@far1.example.org:2222/srv/dp
 *
 * Fields are separated by spaces or tabs; exactly three fields; leading
 * and trailing blanks are ignored.  A line whose first non-blank byte is
 * '#' is a comment; blank lines are ignored.  NAME and GROUP follow
 * name_valid() (manifest.h).  TARGET is escaped as manifest paths are
 * (path_unescape()): "\040" for a space.  After unescaping, TARGET is
 * either an absolute local directory ("/..."), or
 * "ssh://[user@]host[:port]/path" (host a name, an IPv4 address or an
 * IPv6 address in brackets; neither user nor host may start with '-',
 * so they can never be taken for ssh options; port 1..65535; path
 * absolute).  Any broken rule, and a NAME given twice, is an error
 * naming "FILE:LINE".  The whole file is refused on the first error:
 * there is no partial list.
 *
 * The site list, STORE/sites (child sites, SPEC "Child sites"), has the
 * same format and rules and goes through this same parser; a NAME is
 * unique across both lists (dplist_load_pair()), so a holdings record
 * or a retry job names one target.
 *
 * Callers: pkgpush (targets), pkgretry (does a job's DP still exist?),
 * --status.  The parser is fuzzed (dplist_load_buf on arbitrary bytes).
 *
 *   struct dplist l;
 *   if (dplist_load("/var/lib/pkgdist/dps", &l) == -1) goto out;
 *   const struct dp *dp = dplist_find(&l, "dp2");
 *   ...
 *   out: dplist_free(&l);
 */
#ifndef PKGDIST_DPLIST_H
#define PKGDIST_DPLIST_H

#include <stdbool.h>
#include <stddef.h>

enum dp_kind {
	DP_LOCAL = 1, /* a directory on this host (disk, NFS, SMB) */
	DP_SSH = 2    /* ssh://[user@]host[:port]/path */
};

struct dp_target {
	enum dp_kind kind;
	char *path;    /* local: the directory; ssh: remote path;
			* always absolute, unescaped, no NUL */
	char *user;    /* ssh: login name, NULL if none given */
	char *host;    /* ssh: host (IPv6 without brackets) */
	unsigned port; /* ssh: 0 if none given */
};

struct dp {
	char *name;	   /* name_valid() */
	char *group;	   /* name_valid() */
	char *target_text; /* TARGET as written (escaped) */
	struct dp_target target;
	unsigned line; /* line number in the file, for messages */
};

struct dplist {
	struct dp *v; /* in file order */
	size_t n, cap;
};

/* Largest DP list accepted (bytes); a bigger file is refused. */
#define DPLIST_MAX_SIZE (16u * 1024 * 1024)

void dplist_init(struct dplist *l);
void dplist_free(struct dplist *l);

/* Parse the file at path completely.  On error: -1, l left empty, err
 * "PATH:LINE: what is wrong" (or "cannot open 'PATH': ..." with
 * err_errno() ENOENT when the file does not exist, so a caller may treat
 * a missing list as empty). */
int dplist_load(const char *path, struct dplist *l);
/* STORE/dps and STORE/sites together (a missing file is an empty list):
 * -1, both lists empty, on an error of either file, or when a site has
 * the name of a DP (err "SITES:LINE: site 'x' has the name of the DP on
 * DPS:LINE ..."). */
int dplist_load_pair(const char *dps_path, const char *sites_path,
    struct dplist *dps, struct dplist *sites);
/* The same from a buffer (NUL bytes in it are an error); name is used
 * in messages.  This is the fuzzing entry point. */
int dplist_load_buf(const char *buf, size_t len, const char *name,
    struct dplist *l);

/* The DP called name, or NULL. */
const struct dp *dplist_find(const struct dplist *l, const char *name);
/* True when at least one DP is in group. */
bool dplist_has_group(const struct dplist *l, const char *group);

/* Parse an unescaped TARGET into t (strings malloc'd; freed by
 * dplist_target_free()).  -1 with err saying which rule broke. */
int dplist_target_parse(const char *text, struct dp_target *t);
void dplist_target_free(struct dp_target *t);

/* A one-line description for messages ("/srv/dp1",
 * "ssh://user@host:22/srv/dp"), malloc'd; NULL on ENOMEM (err set). */
char *dplist_target_string(const struct dp_target *t);

#endif
