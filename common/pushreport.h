/*
 * pushreport.h — the report of one target of a push (pkgpush(1), The
 * report and OUTPUT): a DP's or a child site's line for a person, or
 * its JSON object (--json), from what pushrun() hands its hooks.
 *
 * These print (to fp), so they are for the tools, as msg.h is.  why is
 * NULL for a target done, else the message of its failure, and retry
 * then the id of the retry job queued for it, or NULL; a failure has no
 * text line (its notes say it).
 */
#ifndef PKGDIST_PUSHREPORT_H
#define PKGDIST_PUSHREPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "dplist.h"
#include "dppush.h"
#include "sites.h"

/*
 * "DP: PKG OLD -> NEW: N added, ..., B bytes written (C content, S
 * state)" (then what recipes did not send and what reflinks shared
 * instead of writing, when any), or "up to date", or a switch back to
 * a kept tree; dry_run
 * says what would be done.  False when the push's warning is not to
 * follow the line (a switch back to a kept tree has none).
 */
bool pushreport_dp_line(const struct dp *dp, const char *pkg,
    const struct dp_push_result *r, bool dry_run, FILE *fp);

/* The DP's report as one JSON line; -1 with err set when it cannot be
 * made or written. */
int pushreport_dp_json(const struct dp *dp, const char *pkg,
    const struct dp_push_result *r, bool dry_run, const char *why,
    const char *retry, FILE *fp);

/* A child site's line: "SITE: PKG FROM -> TO: wrote FILE (whole), B
 * bytes", imported into its store (ssh), or up to date. */
void pushreport_site_line(const struct dp *site, const char *pkg,
    const struct site_push_result *r, bool dry_run, FILE *fp);

/* A child site's report as one JSON line; -1 with err set as above. */
int pushreport_site_json(const struct dp *site, const char *pkg,
    const struct site_push_result *r, bool dry_run, const char *why,
    const char *retry, FILE *fp);

#endif
