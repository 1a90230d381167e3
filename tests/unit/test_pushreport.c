/*
 * test_pushreport.c — a push target's report (pushreport.h): the DP's
 * line in each case (a push, a dry run, up to date, a switch back to a
 * kept tree, a kept layout, chunks not sent), the child site's lines,
 * and the JSON objects of both.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pushreport.h"
#include "tap.h"

static char *buf;
static size_t len;

static FILE *
out(void)
{
	free(buf);
	buf = NULL;
	return open_memstream(&buf, &len);
}

static void
is(FILE *fp, const char *want, const char *what)
{
	fclose(fp);
	if (!tap_ok(buf != NULL && strcmp(buf, want) == 0, "%s", what))
		tap_diag("got '%s', want '%s'", buf != NULL ? buf : "(null)",
		    want);
}

static void
dp_lines(const struct dp *dp)
{
	struct dp_push_result r;
	FILE *fp;

	memset(&r, 0, sizeof(r));
	r.held = true;
	r.old_version = 11;
	r.new_version = 12;
	r.added = 1;
	r.changed = 2;
	r.deleted = 3;
	r.meta = 4;
	r.bytes = 1000;
	r.state_bytes = 24;
	fp = out();
	tap_ok(pushreport_dp_line(dp, "office", &r, false, fp),
	    "a push's line is followed by its warning");
	is(fp,
	    "dp1: office 11 -> 12: 1 added, 2 changed, 3 deleted, 4 metadata, "
	    "1024 bytes written (1000 content, 24 state)\n",
	    "a push: counts, every byte written, content and state");
	fp = out();
	pushreport_dp_line(dp, "office", &r, true, fp);
	is(fp,
	    "dp1: office 11 -> 12: would be 1 added, 2 changed, 3 deleted, "
	    "4 metadata, 1000 bytes to write\n",
	    "a dry run: the contents only");
	r.bytes_saved = 4096;
	r.kept_layout = r.inplace = true;
	r.old_partial = true;
	r.state_rebuilt = true;
	fp = out();
	pushreport_dp_line(dp, "office", &r, false, fp);
	is(fp,
	    "dp1: office 11 (partial) -> 12: 1 added, 2 changed, 3 deleted, "
	    "4 metadata, 1024 bytes written (1000 content, 24 state), 4096 "
	    "bytes not sent (chunks the DP had) (kept its in-place layout) "
	    "(its unreadable state manifest was rebuilt)\n",
	    "partial, chunks not sent, kept layout, rebuilt state");
	r.inplace = false;
	r.state_rebuilt = false;
	r.bytes_saved = 0;
	r.old_partial = false;
	r.kept_layout = false;
	r.bytes_shared = 5000;
	fp = out();
	pushreport_dp_line(dp, "office", &r, false, fp);
	is(fp,
	    "dp1: office 11 -> 12: 1 added, 2 changed, 3 deleted, 4 metadata, "
	    "1024 bytes written (1000 content, 24 state), 5000 bytes shared "
	    "with the old copies (reflinks)\n",
	    "a local DP's reflinks: the bytes shared, not counted written");
	r.bytes_shared = 0;
	r.kept_layout = true;
	fp = out();
	pushreport_dp_line(dp, "office", &r, false, fp);
	is(fp,
	    "dp1: office 11 -> 12: 1 added, 2 changed, 3 deleted, 4 metadata, "
	    "1024 bytes written (1000 content, 24 state) (kept its atomic "
	    "layout)\n",
	    "the atomic layout kept");
	r.kept_layout = false;
	r.reused_tree = true;
	r.new_version = 10;
	fp = out();
	tap_ok(!pushreport_dp_line(dp, "office", &r, false, fp),
	    "a switch back to a kept tree has no warning");
	is(fp,
	    "dp1: office 11 -> 10: switched back to the kept tree, 24 bytes "
	    "written (0 content, 24 state)\n",
	    "a switch back: the state only");
	fp = out();
	pushreport_dp_line(dp, "office", &r, true, fp);
	is(fp,
	    "dp1: office 11 -> 10: would switch back to the kept tree, 0 "
	    "bytes to write\n",
	    "a switch back, dry run");
	memset(&r, 0, sizeof(r));
	r.up_to_date = true;
	fp = out();
	tap_ok(pushreport_dp_line(dp, "office", &r, false, fp),
	    "up to date, with its warning");
	is(fp, "dp1: office -: up to date\n", "up to date, nothing held: '-'");
}

static void
dp_json(struct dp *dp)
{
	struct dp_push_result r;
	FILE *fp;

	memset(&r, 0, sizeof(r));
	r.new_version = 3;
	r.added = 5;
	r.bytes = 100;
	r.state_bytes = 10;
	r.bytes_sent = 77;
	r.bytes_shared = 9;
	fp = out();
	tap_ok(pushreport_dp_json(dp, "office", &r, false, NULL, NULL, fp) == 0,
	    "a DP's JSON line is written");
	is(fp,
	    "{\"schema\":1,\"target\":\"dp1\",\"package\":\"office\","
	    "\"from\":null,\"to\":3,\"ok\":true,\"added\":5,\"changed\":0,"
	    "\"deleted\":0,\"bytes_written\":110,\"bytes_sent\":null,"
	    "\"bytes_shared\":9,\"error\":null,\"retry\":null,\"dry_run\":"
	    "false,"
	    "\"up_to_date\":false}\n",
	    "a local DP done: from null, no bytes sent, the bytes shared");
	r.held = true;
	r.old_version = 2;
	dp->target.kind = DP_SSH;
	fp = out();
	pushreport_dp_json(dp, "office", &r, true, "no space", "job-1", fp);
	is(fp,
	    "{\"schema\":1,\"target\":\"dp1\",\"package\":\"office\","
	    "\"from\":2,\"to\":3,\"ok\":false,\"added\":5,\"changed\":0,"
	    "\"deleted\":0,\"bytes_written\":100,\"bytes_sent\":77,"
	    "\"bytes_shared\":null,\"error\":\"no "
	    "space\",\"retry\":\"job-1\",\"dry_run\":true,"
	    "\"up_to_date\":false}\n",
	    "an ssh DP failed, dry run: the error, the retry, the contents");
	dp->target.kind = DP_LOCAL;
}

static void
site_reports(struct dp *site)
{
	struct site_push_result r;
	FILE *fp;

	memset(&r, 0, sizeof(r));
	r.to = 4;
	r.bytes = 2048;
	snprintf(r.file, sizeof(r.file), "office-4.pkg");
	fp = out();
	pushreport_site_line(site, "office", &r, false, fp);
	is(fp, "east: office - -> 4: wrote office-4.pkg (whole), 2048 bytes\n",
	    "a directory site: the file written, whole");
	r.cascade_at_import = true;
	fp = out();
	pushreport_site_line(site, "office", &r, false, fp);
	is(fp,
	    "east: office - -> 4: wrote office-4.pkg (whole), 2048 bytes; its "
	    "pkgdist-cron imports it and pushes it on\n",
	    "a directory site under --cascade: its cron pushes on");
	r.cascade_at_import = false;
	r.from = 3;
	r.base = 3;
	fp = out();
	pushreport_site_line(site, "office", &r, true, fp);
	is(fp,
	    "east: office 3 -> 4: would write office-4.pkg (a delta "
	    "against 3)\n",
	    "a dry run: the delta it would be");
	fp = out();
	pushreport_site_json(site, "office", &r, false, NULL, NULL, fp);
	is(fp,
	    "{\"schema\":1,\"target\":\"east\",\"package\":\"office\","
	    "\"from\":3,\"to\":4,\"ok\":true,\"added\":null,\"changed\":null,"
	    "\"deleted\":null,\"bytes_written\":2048,\"bytes_sent\":null,"
	    "\"bytes_shared\":null,\"error\":null,\"retry\":null,\"dry_run\":"
	    "false,"
	    "\"up_to_date\":false,\"cascade_at_import\":false,\"file\":"
	    "\"office-4.pkg\",\"base\":3}\n",
	    "a site's JSON: the file and its base");
	site->target.kind = DP_SSH;
	r.contents = 9;
	r.contents_sent = 2;
	fp = out();
	pushreport_site_line(site, "office", &r, false, fp);
	is(fp,
	    "east: office 3 -> 4: imported into its store (a delta against "
	    "3; 2 of 9 contents sent)\n",
	    "an ssh site: imported, contents sent");
	r.recipes = 1;
	r.bytes_saved = 5000000;
	fp = out();
	pushreport_site_line(site, "office", &r, false, fp);
	is(fp,
	    "east: office 3 -> 4: imported into its store (a delta against "
	    "3; 2 of 9 contents sent, 1 of them as recipes, 5000000 bytes "
	    "not sent)\n",
	    "an ssh site: what the recipes saved");
	r.recipes = r.bytes_saved = 0;
	fp = out();
	pushreport_site_line(site, "office", &r, true, fp);
	is(fp,
	    "east: office 3 -> 4: would be imported into its store (a "
	    "delta against 3)\n",
	    "an ssh site, dry run");
	fp = out();
	pushreport_site_json(site, "office", &r, false, "refused", NULL, fp);
	is(fp,
	    "{\"schema\":1,\"target\":\"east\",\"package\":\"office\","
	    "\"from\":3,\"to\":4,\"ok\":false,\"added\":null,\"changed\":null,"
	    "\"deleted\":null,\"bytes_written\":2048,\"bytes_sent\":null,"
	    "\"bytes_shared\":null,\"error\":\"refused\",\"retry\":null,\"dry_"
	    "run\":false,"
	    "\"up_to_date\":false,\"cascade_at_import\":false,\"file\":null,"
	    "\"base\":3}\n",
	    "an ssh site failed: no file");
	r.up_to_date = true;
	fp = out();
	pushreport_site_line(site, "office", &r, false, fp);
	is(fp, "east: office 3: up to date\n", "a site up to date");
}

int
main(void)
{
	char dpname[] = "dp1", sitename[] = "east";
	struct dp dp, site;

	memset(&dp, 0, sizeof(dp));
	dp.name = dpname;
	dp.target.kind = DP_LOCAL;
	site = dp;
	site.name = sitename;
	dp_lines(&dp);
	dp_json(&dp);
	site_reports(&site);
	free(buf);
	return tap_done();
}
