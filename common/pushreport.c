/*
 * pushreport.c — a push target's report, as a line or as JSON
 * (pushreport.h).
 */
#include <inttypes.h>
#include <stdio.h>

#include "json.h"
#include "pushreport.h"

/* The fields that open every target's JSON object. */
static void
json_head(struct json *j, const char *target, const char *pkg, bool held,
    uint64_t from, uint64_t to, const char *why)
{
	json_record_begin(j);
	json_key_string(j, "target", target);
	json_key_string(j, "package", pkg);
	if (held)
		json_key_uint(j, "from", from);
	else
		json_key_null(j, "from");
	json_key_uint(j, "to", to);
	json_key_bool(j, "ok", why == NULL);
}

int
pushreport_dp_json(const struct dp *dp, const char *pkg,
    const struct dp_push_result *r, bool dry_run, const char *why,
    const char *retry, FILE *fp)
{
	struct json j;

	json_head(&j, dp->name, pkg, r->held, r->old_version, r->new_version,
	    why);
	json_key_uint(&j, "added", r->added);
	json_key_uint(&j, "changed", r->changed);
	json_key_uint(&j, "deleted", r->deleted);
	/* As the text report: a dry run knows the contents only. */
	json_key_uint(&j, "bytes_written",
	    dry_run ? r->bytes : r->bytes + r->state_bytes);
	if (dp->target.kind == DP_SSH)
		json_key_uint(&j, "bytes_sent", r->bytes_sent);
	else
		json_key_null(&j, "bytes_sent");
	/* Known of a local DP's push that ran: what its reflinks saved. */
	if (dp->target.kind == DP_SSH || dry_run)
		json_key_null(&j, "bytes_shared");
	else
		json_key_uint(&j, "bytes_shared", r->bytes_shared);
	json_key_string(&j, "error", why);
	json_key_string(&j, "retry", retry);
	json_key_bool(&j, "dry_run", dry_run);
	json_key_bool(&j, "up_to_date", r->up_to_date);
	return json_record_end(&j, fp);
}

bool
pushreport_dp_line(const struct dp *dp, const char *pkg,
    const struct dp_push_result *r, bool dry_run, FILE *fp)
{
	char old[32], bytes[256], saved[64], shared[80];
	const char *rebuilt = r->state_rebuilt ?
	    " (its unreadable state manifest was rebuilt)" :
	    "";

	if (r->held)
		snprintf(old, sizeof(old), "%" PRIu64 "%s", r->old_version,
		    r->old_partial ? " (partial)" : "");
	else
		snprintf(old, sizeof(old), "-");
	if (r->up_to_date) {
		fprintf(fp, "%s: %s %s: up to date%s\n", dp->name, pkg, old,
		    rebuilt);
		return true;
	}
	if (r->reused_tree) {
		if (dry_run)
			fprintf(fp,
			    "%s: %s %s -> %" PRIu64 ": would switch back to "
			    "the kept tree, 0 bytes to write\n",
			    dp->name, pkg, old, r->new_version);
		else
			fprintf(fp,
			    "%s: %s %s -> %" PRIu64 ": switched back to the "
			    "kept tree, %" PRIu64 " bytes written (0 content, "
			    "%" PRIu64 " state)\n",
			    dp->name, pkg, old, r->new_version, r->state_bytes,
			    r->state_bytes);
		return false;
	}
	/* "N bytes written" is every byte written on the DP: contents,
	 * and the state (record, manifest delta, base) in brackets.  A dry
	 * run can only say the contents. */
	saved[0] = '\0';
	if (r->bytes_saved > 0)
		snprintf(saved, sizeof(saved),
		    ", %" PRIu64 " bytes not sent (chunks the DP had)",
		    r->bytes_saved);
	shared[0] = '\0';
	if (r->bytes_shared > 0)
		snprintf(shared, sizeof(shared),
		    ", %" PRIu64 " bytes shared with the old copies (reflinks)",
		    r->bytes_shared);
	if (dry_run)
		snprintf(bytes, sizeof(bytes), "%" PRIu64 " bytes to write",
		    r->bytes);
	else
		snprintf(bytes, sizeof(bytes),
		    "%" PRIu64 " bytes written (%" PRIu64 " content, %" PRIu64
		    " state)%s%s",
		    r->bytes + r->state_bytes, r->bytes, r->state_bytes, saved,
		    shared);
	fprintf(fp,
	    "%s: %s %s -> %" PRIu64 ": %s%" PRIu64 " added, %" PRIu64
	    " changed, %" PRIu64 " deleted, %" PRIu64 " metadata, %s%s%s\n",
	    dp->name, pkg, old, r->new_version, dry_run ? "would be " : "",
	    r->added, r->changed, r->deleted, r->meta, bytes,
	    !r->kept_layout ? "" :
		r->inplace  ? " (kept its in-place layout)" :
			      " (kept its atomic layout)",
	    rebuilt);
	return true;
}

int
pushreport_site_json(const struct dp *site, const char *pkg,
    const struct site_push_result *r, bool dry_run, const char *why,
    const char *retry, FILE *fp)
{
	struct json j;

	json_head(&j, site->name, pkg, r->from != 0, r->from, r->to, why);
	/* A package file moves whole versions: no entry counts. */
	json_key_null(&j, "added");
	json_key_null(&j, "changed");
	json_key_null(&j, "deleted");
	json_key_uint(&j, "bytes_written", r->bytes);
	json_key_null(&j, "bytes_sent");
	json_key_null(&j, "bytes_shared");
	json_key_string(&j, "error", why);
	json_key_string(&j, "retry", retry);
	json_key_bool(&j, "dry_run", dry_run);
	json_key_bool(&j, "up_to_date", r->up_to_date);
	json_key_bool(&j, "cascade_at_import", r->cascade_at_import);
	json_key_string(&j, "file",
	    r->up_to_date || site->target.kind == DP_SSH ? NULL : r->file);
	if (r->base != 0)
		json_key_uint(&j, "base", r->base);
	else
		json_key_null(&j, "base");
	return json_record_end(&j, fp);
}

void
pushreport_site_line(const struct dp *site, const char *pkg,
    const struct site_push_result *r, bool dry_run, FILE *fp)
{
	bool ssh = site->target.kind == DP_SSH;
	char from[24] = "-", base[48] = "whole";

	if (r->from != 0)
		snprintf(from, sizeof(from), "%" PRIu64, r->from);
	if (r->base != 0)
		snprintf(base, sizeof(base), "a delta against %" PRIu64,
		    r->base);
	if (r->up_to_date)
		fprintf(fp, "%s: %s %s: up to date\n", site->name, pkg, from);
	else if (ssh && dry_run)
		fprintf(fp,
		    "%s: %s %s -> %" PRIu64 ": would be imported into its "
		    "store (%s)\n",
		    site->name, pkg, from, r->to, base);
	else if (ssh && r->recipes > 0)
		fprintf(fp,
		    "%s: %s %s -> %" PRIu64 ": imported into its store (%s; "
		    "%" PRIu64 " of %" PRIu64 " contents sent, %" PRIu64
		    " of them as recipes, %" PRIu64 " bytes not sent)\n",
		    site->name, pkg, from, r->to, base, r->contents_sent,
		    r->contents, r->recipes, r->bytes_saved);
	else if (ssh)
		fprintf(fp,
		    "%s: %s %s -> %" PRIu64 ": imported into its store (%s; "
		    "%" PRIu64 " of %" PRIu64 " contents sent)\n",
		    site->name, pkg, from, r->to, base, r->contents_sent,
		    r->contents);
	else if (dry_run)
		fprintf(fp, "%s: %s %s -> %" PRIu64 ": would write %s (%s)\n",
		    site->name, pkg, from, r->to, r->file, base);
	else
		fprintf(fp,
		    "%s: %s %s -> %" PRIu64 ": wrote %s (%s), %" PRIu64
		    " bytes%s\n",
		    site->name, pkg, from, r->to, r->file, base, r->bytes,
		    r->cascade_at_import ? "; its pkgdist-cron imports it "
					   "and pushes it on" :
					   "");
}
