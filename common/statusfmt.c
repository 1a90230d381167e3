/*
 * statusfmt.c — the renderings of --status rows (statusfmt.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "msg.h"
#include "statusfmt.h"

/* A version as a column shows it: "-" for none. */
static const char *
version_text(uint64_t v, char *buf, size_t len)
{
	if (v != 0)
		snprintf(buf, len, "%" PRIu64, v);
	else
		snprintf(buf, len, "-");
	return buf;
}

/* A row's state as the table shows it: "partial from N" when partial. */
static const char *
state_text(const struct status_row *r, char *buf, size_t len)
{
	if (r->state == STATUS_PARTIAL)
		snprintf(buf, len, "partial from %" PRIu64, r->from);
	else
		snprintf(buf, len, "%s", status_state_name(r->state));
	return buf;
}

void
statusfmt_line(const struct status_row *r, FILE *fp)
{
	char ver[24], newest[24];

	/* A recorded error is shown on its line whatever it holds (one
	 * written by an earlier release may hold a raw newline). */
	fprintf(fp, "%s %s %s ", r->target, r->package,
	    version_text(r->version, ver, sizeof(ver)));
	fputs(status_state_name(r->state), fp);
	if (r->state == STATUS_PARTIAL)
		fprintf(fp, " from %" PRIu64, r->from);
	if (r->error != NULL) {
		fputs(": ", fp);
		msg_put_text(r->error, fp);
	}
	fprintf(fp, " newest %s\n",
	    version_text(r->newest, newest, sizeof(newest)));
}

int
statusfmt_json(const struct status_row *r, FILE *fp)
{
	struct json j;
	/* The five states of pkgpush(1)'s --status --json: a DP whose
	 * state cannot be read has failed (its error says why). */
	const char *state =
	    r->state == STATUS_DAMAGED ? "failed" : status_state_name(r->state);
	int rc;

	json_init(&j);
	json_object_begin(&j);
	json_key_int(&j, "schema", 1);
	json_key_string(&j, "target", r->target);
	json_key_string(&j, "package",
	    strcmp(r->package, "-") == 0 ? NULL : r->package);
	if (r->version != 0)
		json_key_uint(&j, "version", r->version);
	else
		json_key_null(&j, "version");
	if (r->newest != 0)
		json_key_uint(&j, "newest", r->newest);
	else
		json_key_null(&j, "newest");
	json_key_string(&j, "state", state);
	json_key_string(&j, "layout",
	    r->layout == DP_LAYOUT_ATOMIC      ? "atomic" :
		r->layout == DP_LAYOUT_INPLACE ? "inplace" :
						 NULL);
	if (r->state == STATUS_PARTIAL)
		json_key_uint(&j, "from", r->from);
	else
		json_key_null(&j, "from");
	json_key_string(&j, "error", r->error);
	json_object_end(&j);
	rc = json_line_write(&j, fp);
	json_free(&j);
	return rc;
}

static void
widen(size_t *w, const char *s)
{
	if (strlen(s) > *w)
		*w = strlen(s);
}

void
statusfmt_table(const struct status_row *v, size_t n, FILE *fp)
{
	char ver[24], newest[24], state[48];
	size_t i, k, w[4] = { 2, 7, 7, 5 }, ndp, count[STATUS_KIND_N];
	const char *sep = "";

	for (i = 0; i < n; i++) {
		widen(&w[0], v[i].target);
		widen(&w[1], v[i].package);
		widen(&w[2], version_text(v[i].version, ver, sizeof(ver)));
		widen(&w[3], state_text(&v[i], state, sizeof(state)));
	}
	fprintf(fp, "%-*s  %-*s  %-*s  %-*s  %s\n", (int)w[0], "DP", (int)w[1],
	    "PACKAGE", (int)w[2], "VERSION", (int)w[3], "STATE", "NEWEST");
	for (i = 0; i < n; i++) {
		const struct status_row *r = &v[i];

		fprintf(fp, "%-*s  %-*s  %-*s  %-*s  %-6s", (int)w[0],
		    r->target, (int)w[1], r->package, (int)w[2],
		    version_text(r->version, ver, sizeof(ver)), (int)w[3],
		    state_text(r, state, sizeof(state)),
		    version_text(r->newest, newest, sizeof(newest)));
		if (r->error != NULL) {
			fputs("  ", fp);
			msg_put_text(r->error, fp);
		}
		putc('\n', fp);
	}
	ndp = status_count_dps(v, n, count);
	fprintf(fp, "%zu DP%s:", ndp, ndp == 1 ? "" : "s");
	for (k = 0; k < STATUS_KIND_N; k++) {
		if (count[k] == 0 && k != STATUS_KIND_NEWEST)
			continue;
		fprintf(fp, "%s %zu %s", sep, count[k],
		    status_kind_name((enum status_kind)k));
		sep = ",";
	}
	putc('\n', fp);
}
