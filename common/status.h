/*
 * status.h — what pkgpush --status reports: one row per DP and package,
 * gathered once, so every rendering (text lines, JSON, terminal
 * columns) prints the same rows and the exit status is decided once.
 *
 * A row says what the DP holds of the package (asked of the DP itself:
 * its state under DP/.pkgdist/, over ssh for a remote DP) and the
 * store's newest version.  A DP that cannot be asked (its directory
 * missing, an unmounted share, a mount point the "mount" rule wants and
 * does not find, ssh failing: targets_open(), remote_status()) gives
 * rows "unreachable" from the store's records, with why.  A DP the store
 * records as being brought to a version of the package while the DP
 * holds none of it (a first push that failed, or was interrupted) is
 * "failed", not "none": no DP is silently left behind.
 *
 * Rows come in DP list order, packages sorted within a DP.  With pkg
 * given, every DP has a row for it ("none" when it does not hold it);
 * without, only packages a DP holds or is recorded for.
 */
#ifndef PKGDIST_STATUS_H
#define PKGDIST_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp.h"
#include "dplist.h"
#include "manifest.h"

struct store;

enum status_state {
	STATUS_COMPLETE,    /* holds version whole */
	STATUS_PARTIAL,	    /* in place, part way from "from" */
	STATUS_FAILED,	    /* the last push to it failed (error) */
	STATUS_UNREACHABLE, /* cannot be asked (error): the records' */
	STATUS_NONE,	    /* does not hold the package */
	STATUS_DAMAGED	    /* its state cannot be read (error) */
};

struct status_row {
	char target[NAME_MAX_LEN + 1];	/* the DP's name */
	char package[NAME_MAX_LEN + 1]; /* "-": unreachable, none known */
	uint64_t version;		/* held; 0: none or not known */
	uint64_t newest;		/* the store's; 0: not in the store */
	uint64_t from;			/* partial: the version before */
	enum status_state state;
	enum dp_layout layout; /* DP_LAYOUT_NONE when not known */
	char *error;	       /* why (malloc'd), or NULL */
	bool site;	       /* a child site's row (sites.h) */
};

/* "complete", "partial", "failed", "unreachable", "none", "damaged". */
const char *status_state_name(enum status_state st);

/*
 * The rows of every DP of l for pkg (NULL: every package), malloc'd
 * (status_rows_free()).  A package named that the store lacks is -1,
 * err "PKG: no such package in the store"; so is a failure to read the
 * store.  A DP's own trouble is a row, never a failure.
 */
int status_collect(struct store *s, const struct dplist *l, const char *pkg,
    struct status_row **rows, size_t *n);
void status_rows_free(struct status_row *v, size_t n);

/* The row is what --status counts as well: complete at the newest
 * version, or "none" (holding a package is the administrator's choice,
 * F4).  Behind, partial, failed, unreachable or damaged is not. */
bool status_row_ok(const struct status_row *r);

/*
 * What one DP is on the whole, for a summary ("12 DPs: 10 complete at
 * newest, 1 behind, 1 unreachable"): its worst row, in the order below
 * (a package it does not hold counts only when it is all there is).
 */
enum status_kind {
	STATUS_KIND_NEWEST,
	STATUS_KIND_BEHIND,
	STATUS_KIND_PARTIAL,
	STATUS_KIND_FAILED,
	STATUS_KIND_UNREACHABLE,
	STATUS_KIND_NONE,
	STATUS_KIND_N
};

/* "complete at newest", "behind", "partial", "failed", "unreachable",
 * "without it". */
const char *status_kind_name(enum status_kind k);

/* Count the DPs (sites false) or the child sites (true) of rows v (each
 * target's rows together, as status_collect() and sites_status() give
 * them) by their worst row into count; returns how many. */
size_t status_count(const struct status_row *v, size_t n, bool sites,
    size_t count[STATUS_KIND_N]);

#endif
