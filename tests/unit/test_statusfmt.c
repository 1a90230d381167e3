/*
 * test_statusfmt.c — the renderings of --status rows (statusfmt.h): the
 * line scripts read, the JSON line, the terminal table and its count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "statusfmt.h"
#include "tap.h"

static struct status_row
row(const char *dp, const char *pkg, enum status_state st, uint64_t version,
    uint64_t newest)
{
	struct status_row r;

	memset(&r, 0, sizeof(r));
	snprintf(r.target, sizeof(r.target), "%s", dp);
	snprintf(r.package, sizeof(r.package), "%s", pkg);
	r.state = st;
	r.version = version;
	r.newest = newest;
	r.layout = DP_LAYOUT_NONE;
	return r;
}

enum how { LINE, JSON, TABLE };

/* What how prints of v (n rows), malloc'd. */
static char *
shown(enum how how, const struct status_row *v, size_t n)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *fp = open_memstream(&buf, &len);

	if (fp == NULL)
		return NULL;
	if (how == TABLE)
		statusfmt_table(v, n, fp);
	for (i = 0; how != TABLE && i < n; i++)
		if (how == LINE)
			statusfmt_line(&v[i], fp);
		else if (statusfmt_json(&v[i], fp) == -1)
			fputs("(failed)", fp);
	fclose(fp);
	return buf;
}

static void
check(enum how how, const struct status_row *v, size_t n, const char *want,
    const char *what)
{
	char *got = shown(how, v, n);

	if (!tap_ok(got != NULL && strcmp(got, want) == 0, "%s", what))
		tap_diag("got '%s', want '%s'", got != NULL ? got : "(null)",
		    want);
	free(got);
}

int
main(void)
{
	struct status_row v[4];
	char err[] = "cannot read\nthe state";

	v[0] = row("dp1", "office97", STATUS_COMPLETE, 12, 12);
	v[0].layout = DP_LAYOUT_ATOMIC;
	v[1] = row("dp2", "office97", STATUS_PARTIAL, 11, 12);
	v[1].from = 10;
	v[1].layout = DP_LAYOUT_INPLACE;
	v[2] = row("nfs-long-name", "-", STATUS_UNREACHABLE, 0, 0);
	v[2].error = err;
	v[3] = row("dp4", "office97", STATUS_DAMAGED, 0, 12);
	v[3].error = err;

	check(LINE, v, 4,
	    "dp1 office97 12 complete newest 12\n"
	    "dp2 office97 11 partial from 10 newest 12\n"
	    "nfs-long-name - - unreachable: cannot read\\012the state "
	    "newest -\n"
	    "dp4 office97 - damaged: cannot read\\012the state newest 12\n",
	    "text lines: '-' for no version, partial from, error escaped");
	check(JSON, v, 4,
	    "{\"schema\":1,\"target\":\"dp1\",\"package\":\"office97\","
	    "\"version\":12,\"newest\":12,\"state\":\"complete\","
	    "\"layout\":\"atomic\",\"from\":null,\"error\":null}\n"
	    "{\"schema\":1,\"target\":\"dp2\",\"package\":\"office97\","
	    "\"version\":11,\"newest\":12,\"state\":\"partial\","
	    "\"layout\":\"inplace\",\"from\":10,\"error\":null}\n"
	    "{\"schema\":1,\"target\":\"nfs-long-name\",\"package\":null,"
	    "\"version\":null,\"newest\":null,\"state\":\"unreachable\","
	    "\"layout\":null,\"from\":null,"
	    "\"error\":\"cannot read\\nthe state\"}\n"
	    "{\"schema\":1,\"target\":\"dp4\",\"package\":\"office97\","
	    "\"version\":null,\"newest\":12,\"state\":\"failed\","
	    "\"layout\":null,\"from\":null,"
	    "\"error\":\"cannot read\\nthe state\"}\n",
	    "JSON lines: null for none, a damaged DP has failed");
	check(TABLE, v, 4,
	    "DP             PACKAGE   VERSION  STATE            NEWEST\n"
	    "dp1            office97  12       complete         12    \n"
	    "dp2            office97  11       partial from 10  12    \n"
	    "nfs-long-name  -         -        unreachable      -       "
	    "cannot read\\012the state\n"
	    "dp4            office97  -        damaged          12      "
	    "cannot read\\012the state\n"
	    "4 DPs: 1 complete at newest, 1 partial, 1 failed, "
	    "1 unreachable\n",
	    "table: columns as wide as their widest cell, then the count");
	check(TABLE, v, 1,
	    "DP   PACKAGE   VERSION  STATE     NEWEST\n"
	    "dp1  office97  12       complete  12    \n"
	    "1 DP: 1 complete at newest\n",
	    "table of one DP: 'DP', not 'DPs'");
	check(TABLE, v, 0,
	    "DP  PACKAGE  VERSION  STATE  NEWEST\n"
	    "0 DPs: 0 complete at newest\n",
	    "no rows: the header and a count of none");
	return tap_done();
}
