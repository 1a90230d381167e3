/*
 * statusfmt.h — how pkgpush --status shows its rows (status.h): one
 * text line a row for scripts, one JSON line a row (--json), or a table
 * with a closing count for a person at a terminal (pkgpush(1), OUTPUT).
 *
 * These print (to fp), so they are for the tools, as msg.h is; the rows
 * are gathered once by status_collect() and sites_status().
 */
#ifndef PKGDIST_STATUSFMT_H
#define PKGDIST_STATUSFMT_H

#include <stddef.h>
#include <stdio.h>

#include "status.h"

/* "NAME PKG VERSION STATE[ from M][: why] newest N": VERSION and N "-"
 * when there is none, why with its control bytes escaped (msg.h). */
void statusfmt_line(const struct status_row *r, FILE *fp);

/* The row as one JSON line; -1 with err set when it cannot be made or
 * written. */
int statusfmt_json(const struct status_row *r, FILE *fp);

/* The rows in aligned columns under a header, and a line counting the
 * DPs by their worst row ("12 DPs: 10 complete at newest, 1 behind"). */
void statusfmt_table(const struct status_row *v, size_t n, FILE *fp);

#endif
