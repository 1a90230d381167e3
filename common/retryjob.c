/*
 * retryjob.c — the retry job file: make, guess, parse, write, store.
 * See retryjob.h for the format and the locking rules.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "digest.h"
#include "err.h"
#include "fault.h"
#include "io.h"
#include "lock.h"
#include "manifest.h"
#include "num.h"
#include "path.h"
#include "retryjob.h"

static const char *const tools[] = {
	"pkgdiff",
	"pkgdist-update",
	"pkgpush",
	"pkgstage",
};

void
retryjob_init(struct retryjob *j)
{
	memset(j, 0, sizeof(*j));
}

void
retryjob_argv_free(int argc, char **argv)
{
	int i;

	if (argv == NULL)
		return;
	for (i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}

void
retryjob_free(struct retryjob *j)
{
	free(j->package);
	free(j->dp);
	free(j->dir);
	free(j->error);
	free(j->reason);
	retryjob_argv_free(j->argc, j->argv);
	retryjob_init(j);
}

bool
retryjob_tool_valid(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
		if (strcmp(name, tools[i]) == 0)
			return true;
	return false;
}

/* A package or DP name as a job may carry it: name_valid() and not "-",
 * which the file uses for "none". */
static bool
job_name_valid(const char *s)
{
	return name_valid(s) && strcmp(s, "-") != 0;
}

bool
retryjob_id_valid(const char *s)
{
	char buf[RETRYJOB_ID_MAX + 1];
	size_t len, i;
	char *sep;

	len = strlen(s);
	if (len == 0 || len > RETRYJOB_ID_MAX)
		return false;
	if (strncmp(s, "cmd-", 4) == 0 && len == 4 + 16) {
		for (i = 4; i < len; i++)
			if (!isdigit((unsigned char)s[i]) &&
			    (s[i] < 'a' || s[i] > 'f'))
				return false;
		return true;
	}
	memcpy(buf, s, len + 1);
	if ((sep = strchr(buf, '@')) == NULL &&
	    (sep = strchr(buf, '+')) == NULL)
		return false;
	if (strchr(sep + 1, '@') != NULL || strchr(sep + 1, '+') != NULL)
		return false;
	if (*sep == '+') {
		if (!retryjob_tool_valid(sep + 1))
			return false;
	} else if (!job_name_valid(sep + 1))
		return false;
	*sep = '\0';
	return job_name_valid(buf);
}

static const char *
base_name(const char *s)
{
	const char *p;

	p = strrchr(s, '/');
	return p != NULL ? p + 1 : s;
}

/* The id the job's package, DP and argv give. */
static int
make_id(const char *package, const char *dp, int argc, char *const argv[],
    char *id)
{
	struct digest d = { NULL };
	unsigned char sum[DIGEST_LEN];
	char hex[DIGEST_HEXLEN + 1];
	int i, n;

	if (package != NULL && dp != NULL)
		n = snprintf(id, RETRYJOB_ID_MAX + 1, "%s@%s", package, dp);
	else if (package != NULL)
		n = snprintf(id, RETRYJOB_ID_MAX + 1, "%s+%s", package,
		    base_name(argv[0]));
	else {
		if (digest_init(&d) == -1)
			return -1;
		for (i = 0; i < argc; i++)
			if (digest_update(&d, argv[i], strlen(argv[i]) + 1) ==
			    -1) {
				digest_free(&d);
				return -1;
			}
		if (digest_final(&d, sum) == -1)
			return -1;
		digest_hex(sum, hex);
		n = snprintf(id, RETRYJOB_ID_MAX + 1, "cmd-%.16s", hex);
	}
	if (n < 0 || n > RETRYJOB_ID_MAX)
		return err_set("job id too long");
	return 0;
}

static int
copy_argv(int argc, char *const argv[], struct retryjob *j)
{
	int i;

	if (argc < 1 || argc > RETRYJOB_MAX_ARGS)
		return err_set("a job's command has 1 to %d arguments, not %d",
		    RETRYJOB_MAX_ARGS, argc);
	if ((j->argv = calloc((size_t)argc + 1, sizeof(char *))) == NULL)
		return err_nomem();
	for (i = 0; i < argc; i++) {
		const char *a = i == 0 ? base_name(argv[0]) : argv[i];

		if (strlen(a) > RETRYJOB_ARG_MAX)
			return err_set("argument %d of the command is longer "
				       "than %d bytes",
			    i, RETRYJOB_ARG_MAX);
		if ((j->argv[i] = strdup(a)) == NULL)
			return err_nomem();
		j->argc = i + 1;
	}
	if (!retryjob_tool_valid(j->argv[0]))
		return err_set("'%s' is not a pkgdist tool "
			       "(pkgdiff, pkgstage, pkgpush, pkgdist-update)",
		    argv[0]);
	return 0;
}

int
retryjob_make(struct retryjob *j, const char *package, const char *dp,
    uint64_t version, int argc, char *const argv[], const char *error)
{
	char *gpkg = NULL, *gdp = NULL;
	char cwd[PATH_MAX];
	int rc = -1;

	retryjob_init(j);
	if (copy_argv(argc, argv, j) == -1)
		goto out;
	if (package == NULL && dp == NULL && version == 0) {
		if (retryjob_guess(j->argc, j->argv, &gpkg, &gdp, &version) ==
		    -1)
			goto out;
		package = gpkg;
		dp = gdp;
	}
	if (package != NULL && !job_name_valid(package)) {
		err_set("'%s': invalid package name", package);
		goto out;
	}
	if (dp != NULL && !job_name_valid(dp)) {
		err_set("'%s': invalid DP name", dp);
		goto out;
	}
	if (package == NULL)
		dp = NULL; /* a DP alone does not make a key */
	if ((package != NULL && (j->package = strdup(package)) == NULL) ||
	    (dp != NULL && (j->dp = strdup(dp)) == NULL)) {
		err_nomem();
		goto out;
	}
	j->version = version;
	if (error != NULL && *error != '\0') {
		size_t n = strlen(error);

		if (n > RETRYJOB_TEXT_MAX)
			n = RETRYJOB_TEXT_MAX;
		if ((j->error = strndup(error, n)) == NULL) {
			err_nomem();
			goto out;
		}
	}
	if (getcwd(cwd, sizeof(cwd)) == NULL ||
	    strlen(cwd) > RETRYJOB_TEXT_MAX || cwd[0] != '/')
		strcpy(cwd, "/");
	if ((j->dir = strdup(cwd)) == NULL) {
		err_nomem();
		goto out;
	}
	j->created = j->next = (int64_t)fault_now();
	j->attempts = 0;
	if (make_id(j->package, j->dp, j->argc, j->argv, j->id) == -1)
		goto out;
	/* The analyzer forgets j->package once snprintf wrote j->id. */
	rc = 0; /* NOLINT(clang-analyzer-unix.Malloc) */
out:
	free(gpkg);
	free(gdp);
	if (rc == -1)
		retryjob_free(j);
	return rc;
}

/* A value of a command-line option as a version number. */
static int
guess_version(const char *s, uint64_t *v)
{
	return num_u64(s, strlen(s), UINT64_MAX, v);
}

/* pkgpush's options that take a value. */
static bool
push_long_has_value(const char *name, size_t len)
{
	static const char *const opts[] = {
		"bwlimit",
		"dp",
		"group",
		"jobs",
		"keep",
		"only",
		"receive",
		"serve",
		"site",
		"site-group",
		"store",
		"trust",
		"version",
	};
	size_t i;

	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (strlen(opts[i]) == len && strncmp(name, opts[i], len) == 0)
			return true;
	return false;
}

static int
guess_pkgpush(int argc, char *const argv[], char **package, char **dp,
    uint64_t *version)
{
	const char *only = NULL, *dpname = NULL, *operand = NULL;
	int nonly = 0, ndp = 0, wide = 0, i;
	bool opts = true;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL, *eq;
		size_t nlen;

		if (!opts || a[0] != '-' || a[1] == '\0') {
			if (operand == NULL)
				operand = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			opts = false;
			continue;
		}
		if (a[1] == '-') {
			const char *name = a + 2;

			eq = strchr(name, '=');
			nlen = eq != NULL ? (size_t)(eq - name) : strlen(name);
			if (push_long_has_value(name, nlen)) {
				if (eq != NULL)
					val = eq + 1;
				else if (i + 1 < argc)
					val = argv[++i];
				else
					break;
			}
			if (nlen == 4 && strncmp(name, "only", 4) == 0) {
				only = val;
				nonly++;
			} else if (nlen == 2 && strncmp(name, "dp", 2) == 0) {
				dpname = val;
				ndp++;
			} else if (nlen == 7 &&
			    strncmp(name, "version", 7) == 0) {
				if (val == NULL ||
				    guess_version(val, version) == -1)
					*version = 0;
			} else if ((nlen == 5 &&
				       strncmp(name, "group", 5) == 0) ||
			    (nlen == 3 && strncmp(name, "all", 3) == 0) ||
			    (nlen == 16 &&
				strncmp(name, "refresh-existing", 16) == 0))
				wide++;
			continue;
		}
		/* A cluster of short options; -s and -j take a value. */
		for (a++; *a != '\0'; a++)
			if (*a == 's' || *a == 'j') {
				if (a[1] == '\0')
					i++;
				break;
			}
	}
	if (operand != NULL && !job_name_valid(operand))
		return err_set("'%s': invalid package name: a job for it "
			       "could never succeed",
		    operand);
	if (operand != NULL && (*package = strdup(operand)) == NULL)
		return err_nomem();
	if (nonly == 1)
		dpname = only;
	else if (nonly != 0 || ndp != 1 || wide != 0)
		dpname = NULL;
	if (*package != NULL && dpname != NULL && job_name_valid(dpname) &&
	    (*dp = strdup(dpname)) == NULL)
		return err_nomem();
	return 0;
}

/* The first operand of a command whose options taking a value are the
 * long ones in vopts (and -s); with sub, the operand after it. */
static const char *
first_operand(int argc, char *const argv[], const char *const *vopts,
    const char *sub, uint64_t *version)
{
	bool opts = true, insub = sub == NULL;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (opts && strcmp(a, "--") == 0) {
			opts = false;
			continue;
		}
		if (opts && a[0] == '-' && a[1] != '\0') {
			const char *name = a + 2, *eq, *val = NULL;
			size_t nlen, k;

			if (strcmp(a, "-s") == 0) {
				i++;
				continue;
			}
			if (a[1] != '-')
				continue;
			eq = strchr(name, '=');
			nlen = eq != NULL ? (size_t)(eq - name) : strlen(name);
			for (k = 0; vopts[k] != NULL; k++)
				if (strlen(vopts[k]) == nlen &&
				    strncmp(vopts[k], name, nlen) == 0)
					break;
			if (vopts[k] == NULL)
				continue;
			if (eq != NULL)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			if (val != NULL && strcmp(vopts[k], "version") == 0 &&
			    guess_version(val, version) == -1)
				*version = 0;
			continue;
		}
		if (!insub) {
			if (strcmp(a, sub) != 0)
				return NULL;
			insub = true;
			continue;
		}
		return a;
	}
	return NULL;
}

int
retryjob_guess(int argc, char *const argv[], char **package, char **dp,
    uint64_t *version)
{
	static const char *const stage_opts[] = { "manifest", "sign", "store",
		"version", NULL };
	static const char *const update_opts[] = { "store", NULL };
	const char *tool, *pkg = NULL;

	*package = *dp = NULL;
	*version = 0;
	if (argc < 1)
		return 0;
	tool = base_name(argv[0]);
	if (strcmp(tool, "pkgpush") == 0)
		return guess_pkgpush(argc, argv, package, dp, version);
	if (strcmp(tool, "pkgstage") == 0)
		pkg = first_operand(argc, argv, stage_opts, "add", version);
	else if (strcmp(tool, "pkgdist-update") == 0)
		pkg = first_operand(argc, argv, update_opts, NULL, version);
	if (pkg != NULL && !job_name_valid(pkg))
		return err_set("'%s': invalid package name: a job for it "
			       "could never succeed",
		    pkg);
	if (pkg != NULL && (*package = strdup(pkg)) == NULL)
		return err_nomem();
	return 0;
}

static pthread_mutex_t getopt_mu = PTHREAD_MUTEX_INITIALIZER;

int
retryjob_pkgpush_argv(int argc, char *const argv[], const char *shortopts,
    const struct option *longopts, const int *drop, const char *dp,
    uint64_t version, int *outc, char ***out)
{
	char **args = NULL, **v = NULL, vbuf[32], sbuf[3];
	int n = 0, i, k, ch, li, rc = -1;
	bool skip, locked = false;

	*outc = 0;
	*out = NULL;
	if (argc < 1)
		return err_set("a job's command has no program");
	/* getopt_long() permutes what it parses: parse a copy. */
	if ((args = calloc((size_t)argc + 1, sizeof(char *))) == NULL ||
	    (v = calloc((size_t)argc * 2 + 8, sizeof(char *))) == NULL) {
		err_nomem();
		goto out;
	}
	memcpy(args, argv, (size_t)argc * sizeof(char *));
#define PUSH(s) \
	do { \
		if ((v[n] = strdup(s)) == NULL) { \
			err_nomem(); \
			goto out; \
		} \
		n++; \
	} while (0)
	PUSH("pkgpush");
	/* getopt's state is global: one parse at a time (pkgpush queues
	 * from its writer threads). */
	pthread_mutex_lock(&getopt_mu);
	locked = true;
	opterr = 0;
	optind = 0;
	for (;;) {
		li = -1;
		optarg = NULL;
		if ((ch = getopt_long(argc, args, shortopts, longopts, &li)) ==
		    -1)
			break;
		if (ch == '?' || ch == ':') {
			err_set("'%s': not an option of pkgpush",
			    args[optind - 1]);
			goto out;
		}
		for (skip = false, k = 0; drop != NULL && drop[k] != 0; k++)
			if (drop[k] == ch)
				skip = true;
		if (skip)
			continue;
		if (li >= 0) {
			/* The one full spelling, however it was abbreviated
			 * or joined to its value. */
			if (strlen(longopts[li].name) + 3 > RETRYJOB_ARG_MAX) {
				err_set("option name too long");
				goto out;
			}
			v[n] = malloc(strlen(longopts[li].name) + 3);
			if (v[n] == NULL) {
				err_nomem();
				goto out;
			}
			strcpy(v[n], "--");
			strcat(v[n], longopts[li].name);
			n++;
		} else {
			sbuf[0] = '-';
			sbuf[1] = (char)ch;
			sbuf[2] = '\0';
			PUSH(sbuf);
		}
		if (optarg != NULL)
			PUSH(optarg);
	}
	snprintf(vbuf, sizeof(vbuf), "%" PRIu64, version);
	PUSH("--version");
	PUSH(vbuf);
	PUSH("--only");
	PUSH(dp);
	PUSH("--");
	for (i = optind; i < argc; i++)
		PUSH(args[i]);
#undef PUSH
	*outc = n;
	*out = v;
	v = NULL;
	rc = 0;
out:
	if (locked) {
		optind = 0;
		opterr = 1;
		pthread_mutex_unlock(&getopt_mu);
	}
	free(args);
	retryjob_argv_free(n, v);
	return rc;
}

/*
 * The options a queued command may carry, per tool: what pkgpush's own
 * jobs, a queued staging step and a queued update need, no more.  No
 * -o (a file written where the job's owner chooses), no --serve, no
 * pkgstage export, keygen, gc.  Exact spellings only: an abbreviation
 * is refused, as getopt might read it as an option left out here.
 */
struct job_opt {
	const char *name; /* long name */
	char letter;	  /* short option, or 0 */
	bool value;	  /* takes a value */
};

static const struct job_opt push_opts[] = {
	{ "all", 0, false },
	{ "all-sites", 0, false },
	{ "bwlimit", 0, true },
	{ "cascade", 0, false },
	{ "dp", 0, true },
	{ "dry-run", 'n', false },
	{ "group", 0, true },
	{ "inplace", 0, false },
	{ "jobs", 'j', true },
	{ "json", 0, false },
	{ "keep", 0, true },
	{ "only", 0, true },
	{ "refresh-existing", 0, false },
	{ "reinit", 0, false },
	{ "rollback", 0, false },
	{ "site", 0, true },
	{ "site-group", 0, true },
	{ "store", 's', true },
	{ "trust", 0, true },
	{ "verify", 0, false },
	{ "version", 0, true },
	{ NULL, 0, false },
};

static const struct job_opt stage_opts[] = {
	{ "manifest", 0, true },
	{ "sign", 0, true },
	{ "store", 's', true },
	{ "trust", 0, true },
	{ "version", 0, true },
	{ "wait", 0, true },
	{ NULL, 0, false },
};

static const struct job_opt diff_opts[] = {
	{ "jobs", 'j', true },
	{ "package", 0, true },
	{ "reuse", 0, true },
	{ "stat", 0, false },
	{ "version", 0, true },
	{ NULL, 0, false },
};

/* pkgdist-update's own, then pkgpush's, which it passes on. */
static const struct job_opt update_opts[] = {
	{ "dry-run", 'n', false },
	{ "store", 's', true },
	{ NULL, 0, false },
};

struct job_tool {
	const char *name;
	const struct job_opt *opts, *more;
	const char *const *subs; /* NULL: no subcommand */
};

static const char *const stage_subs[] = { "add", "import", NULL };
static const char *const diff_subs[] = { "diff", "scan", "verify", NULL };

static const struct job_tool job_tools[] = {
	{ "pkgdiff", diff_opts, NULL, diff_subs },
	{ "pkgdist-update", update_opts, push_opts, NULL },
	{ "pkgpush", push_opts, NULL, NULL },
	{ "pkgstage", stage_opts, NULL, stage_subs },
};

static const struct job_opt *
opt_find(const struct job_tool *t, const char *name, size_t len, char letter)
{
	const struct job_opt *const sets[2] = { t->opts, t->more };
	const struct job_opt *o;
	size_t i;

	for (i = 0; i < 2; i++)
		for (o = sets[i]; o != NULL && o->name != NULL; o++)
			if (letter != 0 ? o->letter == letter :
					  strlen(o->name) == len &&
				    strncmp(o->name, name, len) == 0)
				return o;
	return NULL;
}

/* A --store / -s value must name the store the job is queued in: the
 * same directory, a relative path taken from the job's directory. */
static int
check_store_arg(const struct retryjob *j, const char *val,
    const struct stat *store)
{
	struct stat st;
	char path[PATH_MAX];

	if (val[0] == '/')
		snprintf(path, sizeof(path), "%s", val);
	else if (snprintf(path, sizeof(path), "%s/%s", j->dir, val) >=
	    (int)sizeof(path))
		return err_set("its store '%s' is not the job's own: refused",
		    val);
	if (stat(path, &st) == -1 || st.st_dev != store->st_dev ||
	    st.st_ino != store->st_ino)
		return err_set("its store '%s' is not the job's own: refused",
		    val);
	return 0;
}

int
retryjob_command_check(const struct retryjob *j, const char *store)
{
	const struct job_tool *t = NULL;
	const struct job_opt *o;
	struct stat sst;
	const char *a, *val;
	bool opts = true, sub = false;
	size_t i, len;
	int k;

	for (i = 0; i < sizeof(job_tools) / sizeof(job_tools[0]); i++)
		if (strcmp(j->argv[0], job_tools[i].name) == 0)
			t = &job_tools[i];
	if (t == NULL)
		return err_set(
		    "the command '%s' is not a pkgdist tool: refused",
		    j->argv[0]);
	if (stat(store, &sst) == -1)
		return err_sys("cannot stat store '%s'", store);
	for (k = 1; k < j->argc; k++) {
		a = j->argv[k];
		if (!opts || a[0] != '-' || a[1] == '\0') {
			if (t->subs != NULL && !sub) {
				for (i = 0; t->subs[i] != NULL; i++)
					if (strcmp(a, t->subs[i]) == 0)
						break;
				if (t->subs[i] == NULL)
					return err_set("'%s %s' is not a "
						       "command a retry job "
						       "may carry: refused",
					    t->name, a);
				sub = true;
			}
			continue;
		}
		if (strcmp(a, "--") == 0) {
			opts = false;
			continue;
		}
		val = NULL;
		if (a[1] == '-') {
			len = strcspn(a + 2, "=");
			if ((o = opt_find(t, a + 2, len, 0)) == NULL ||
			    (!o->value && a[2 + len] == '='))
				goto refused;
			if (o->value)
				val = a[2 + len] == '=' ? a + 3 + len :
							  j->argv[++k];
		} else {
			/* One short option a word, its value joined or
			 * the next word. */
			if ((o = opt_find(t, "", 0, a[1])) == NULL ||
			    (!o->value && a[2] != '\0'))
				goto refused;
			if (o->value)
				val = a[2] != '\0' ? a + 2 : j->argv[++k];
		}
		if (o->value && val == NULL)
			return err_set("option '%s' without its value: refused",
			    a);
		if (val != NULL && strcmp(o->name, "store") == 0 &&
		    check_store_arg(j, val, &sst) == -1)
			return -1;
	}
	if (t->subs != NULL && !sub)
		return err_set("'%s' without a subcommand: refused", t->name);
	return 0;
refused:
	return err_set("option '%s' is not one a retry job of %s may carry: "
		       "refused",
	    a, t->name);
}

/* A shell word that means arg, for showing a command; bytes a terminal
 * would act on are shown as \ooo (the job file's own escaping). */
static void
show_word(const char *a, FILE *fp)
{
	const unsigned char *p;
	bool plain = *a != '\0';

	for (p = (const unsigned char *)a; *p != '\0'; p++)
		if (!(isalnum(*p) || strchr("@%+=:,./_-", *p) != NULL))
			plain = false;
	if (plain) {
		fputs(a, fp);
		return;
	}
	putc('\'', fp);
	for (p = (const unsigned char *)a; *p != '\0'; p++) {
		if (*p == '\'')
			fputs("'\\''", fp);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(fp, "\\%03o", *p);
		else
			putc(*p, fp);
	}
	putc('\'', fp);
}

void
retryjob_show_command(int argc, char *const argv[], FILE *fp)
{
	const char *base = strrchr(argv[0], '/');
	int i;

	show_word(base != NULL ? base + 1 : argv[0], fp);
	for (i = 1; i < argc; i++) {
		putc(' ', fp);
		show_word(argv[i], fp);
	}
}

/* Escaped text: bytes above 0x20 but 0x7f, then path_unescape(). */
static int
parse_text(const char *s, size_t len, size_t max, char **out)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return err_set("raw byte 0x%02x in text",
			    (unsigned char)s[i]);
	if (path_unescape(s, len, out) == -1)
		return -1;
	if (strlen(*out) > max) {
		free(*out);
		*out = NULL;
		return err_set("text longer than %zu bytes", max);
	}
	return 0;
}

struct lines {
	const char *p, *end;
	unsigned no;
	const char *val; /* value of the current line */
	size_t vlen;
};

/* Take the next line, which must be "KEY VALUE". */
static int
next_field(struct lines *l, const char *key)
{
	const char *nl;
	size_t klen = strlen(key);

	l->no++;
	if (l->p >= l->end)
		return err_set("line %u: missing '%s'", l->no, key);
	nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
	/* The caller checked that the buffer ends in '\n'. */
	if ((size_t)(nl - l->p) < klen + 1 || memcmp(l->p, key, klen) != 0 ||
	    l->p[klen] != ' ')
		return err_set("line %u: expected '%s VALUE'", l->no, key);
	l->val = l->p + klen + 1;
	l->vlen = (size_t)(nl - l->val);
	l->p = nl + 1;
	return 0;
}

static int
field_num(struct lines *l, const char *key, uint64_t max, uint64_t *out)
{
	if (next_field(l, key) == -1)
		return -1;
	if (num_u64(l->val, l->vlen, max, out) == -1)
		return err_set("line %u: bad number for '%s'", l->no, key);
	return 0;
}

/* A name field: "-" for none, else job_name_valid(). */
static int
field_name(struct lines *l, const char *key, char **out)
{
	if (next_field(l, key) == -1)
		return -1;
	if (l->vlen == 1 && l->val[0] == '-')
		return 0;
	if (l->vlen > NAME_MAX_LEN ||
	    (*out = strndup(l->val, l->vlen)) == NULL || !job_name_valid(*out))
		return err_set("line %u: bad %s name", l->no, key);
	return 0;
}

static int
field_text(struct lines *l, const char *key, bool dash_is_null, char **out)
{
	if (next_field(l, key) == -1)
		return -1;
	if (dash_is_null && l->vlen == 1 && l->val[0] == '-')
		return 0;
	if (parse_text(l->val, l->vlen, RETRYJOB_TEXT_MAX, out) == -1)
		return err_prefix("line %u: %s: ", l->no, key);
	return 0;
}

int
retryjob_parse(const char *buf, size_t len, const char *name, bool failed,
    struct retryjob *j)
{
	struct lines l;
	uint64_t u;
	char id[RETRYJOB_ID_MAX + 1], *arg = NULL;
	size_t mlen = strlen(RETRYJOB_MAGIC);

	retryjob_init(j);
	memset(&l, 0, sizeof(l));
	l.p = buf;
	l.end = buf + len;
	l.no = 1;
	if (len > RETRYJOB_MAX_BYTES) {
		err_set("longer than %u bytes", RETRYJOB_MAX_BYTES);
		goto bad;
	}
	if (memchr(buf, '\0', len) != NULL) {
		err_set("NUL byte in a job file");
		goto bad;
	}
	if (len == 0 || buf[len - 1] != '\n') {
		err_set("does not end with a newline");
		goto bad;
	}
	if (len < mlen + 1 || memcmp(buf, RETRYJOB_MAGIC, mlen) != 0 ||
	    buf[mlen] != '\n') {
		err_set("line 1: not a pkgdist retry job ('%s' expected)",
		    RETRYJOB_MAGIC);
		goto bad;
	}
	l.p = buf + mlen + 1;
	l.no = 1;
	if (next_field(&l, "id") == -1)
		goto bad;
	if (l.vlen > RETRYJOB_ID_MAX) {
		err_set("line %u: id too long", l.no);
		goto bad;
	}
	memcpy(j->id, l.val, l.vlen);
	j->id[l.vlen] = '\0';
	if (!retryjob_id_valid(j->id) || strcmp(j->id, name) != 0) {
		err_set("line %u: bad id (it must be the file name)", l.no);
		goto bad;
	}
	if (field_num(&l, "created", INT64_MAX, &u) == -1)
		goto bad;
	j->created = (int64_t)u;
	if (field_num(&l, "attempts", 1000000, &u) == -1)
		goto bad;
	j->attempts = (unsigned)u;
	if (field_num(&l, "next", INT64_MAX, &u) == -1)
		goto bad;
	j->next = (int64_t)u;
	if (field_name(&l, "package", &j->package) == -1 ||
	    field_name(&l, "dp", &j->dp) == -1)
		goto bad;
	if (field_num(&l, "version", UINT64_MAX, &j->version) == -1)
		goto bad;
	if (field_text(&l, "dir", false, &j->dir) == -1)
		goto bad;
	if (j->dir[0] != '/') {
		err_set("line %u: dir is not absolute", l.no);
		goto bad;
	}
	if (field_text(&l, "error", true, &j->error) == -1)
		goto bad;
	if (failed) {
		if (field_num(&l, "failed", INT64_MAX, &u) == -1)
			goto bad;
		j->failed = (int64_t)u;
		if (field_text(&l, "reason", false, &j->reason) == -1)
			goto bad;
	}
	if ((j->argv = calloc(RETRYJOB_MAX_ARGS + 1, sizeof(char *))) == NULL) {
		err_nomem();
		goto bad;
	}
	while (l.p < l.end) {
		if (j->argc == RETRYJOB_MAX_ARGS) {
			err_set("line %u: more than %d arguments", l.no + 1,
			    RETRYJOB_MAX_ARGS);
			goto bad;
		}
		if (next_field(&l, "arg") == -1)
			goto bad;
		if (parse_text(l.val, l.vlen, RETRYJOB_ARG_MAX, &arg) == -1) {
			err_prefix("line %u: arg: ", l.no);
			goto bad;
		}
		j->argv[j->argc++] = arg;
		arg = NULL;
	}
	if (j->argc == 0) {
		l.no++;
		err_set("line %u: missing 'arg'", l.no);
		goto bad;
	}
	if (!retryjob_tool_valid(j->argv[0])) {
		err_set("the command '%s' is not a pkgdist tool (pkgdiff, "
			"pkgstage, pkgpush, pkgdist-update): refused",
		    j->argv[0]);
		goto bad;
	}
	if (j->package == NULL && j->dp != NULL) {
		err_set("a dp without a package");
		goto bad;
	}
	if (make_id(j->package, j->dp, j->argc, j->argv, id) == -1)
		goto bad;
	if (strcmp(id, j->id) != 0) {
		err_set("id '%s' does not match the job (expected '%s')", j->id,
		    id);
		goto bad;
	}
	return 0;
bad:
	err_prefix("%s: ", name);
	retryjob_free(j);
	return -1;
}

static int
write_text(const char *key, const char *s, FILE *fp)
{
	if (fprintf(fp, "%s ", key) < 0)
		return -1;
	if (s == NULL)
		return fputs("-\n", fp) < 0 ? -1 : 0;
	if (path_escape_write(s, fp) == -1)
		return -1;
	return putc('\n', fp) == EOF ? -1 : 0;
}

int
retryjob_write(const struct retryjob *j, FILE *fp)
{
	int i;

	if (fprintf(fp,
		"%s\nid %s\ncreated %" PRId64 "\nattempts %u\n"
		"next %" PRId64 "\npackage %s\ndp %s\nversion %" PRIu64 "\n",
		RETRYJOB_MAGIC, j->id, j->created, j->attempts, j->next,
		j->package != NULL ? j->package : "-",
		j->dp != NULL ? j->dp : "-", j->version) < 0)
		goto fail;
	if (write_text("dir", j->dir != NULL ? j->dir : "/", fp) == -1 ||
	    write_text("error", j->error, fp) == -1)
		goto fail;
	if (j->failed != 0 || j->reason != NULL) {
		if (fprintf(fp, "failed %" PRId64 "\n", j->failed) < 0 ||
		    write_text("reason", j->reason != NULL ? j->reason : "-",
			fp) == -1)
			goto fail;
	}
	for (i = 0; i < j->argc; i++)
		if (write_text("arg", j->argv[i], fp) == -1)
			goto fail;
	return 0;
fail:
	return err_sys("cannot write job '%s'", j->id);
}

/*
 * What root makes in a store owned by another account (the retry
 * directories, job files, lock files) is given to the owner of the
 * directory it is made in: else that account's own next run would refuse
 * the job (not the owner's) or could not take the lock.  fd is the new
 * file (-1: name under dirfd).
 */
static int
give_to_dir_owner(int dirfd, int fd, const char *name)
{
	struct stat st;

	if (geteuid() != 0)
		return 0;
	if (fstat(dirfd, &st) == -1)
		return err_sys("cannot stat the directory of '%s'", name);
	if (st.st_uid == 0)
		return 0;
	if ((fd != -1 ? fchown(fd, st.st_uid, st.st_gid) :
			fchownat(dirfd, name, st.st_uid, st.st_gid,
			    AT_SYMLINK_NOFOLLOW)) == -1)
		return err_sys("cannot give '%s' to the store's owner (uid "
			       "%ju)",
		    name, (uintmax_t)st.st_uid);
	return 0;
}

static int
mkdir_ok(int dirfd, const char *name, mode_t mode)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISDIR(st.st_mode))
			return err_set("'%s' is not a directory", name);
		return 0;
	}
	if (errno != ENOENT)
		return err_sys("cannot stat '%s'", name);
	if (io_mkdir(dirfd, name, mode) == -1) {
		if (err_errno() == EEXIST)
			return 0;
		return -1;
	}
	return give_to_dir_owner(dirfd, -1, name);
}

int
retryjob_opendir(const char *store, bool create, int *dirfd)
{
	int sfd = -1, fd = -1, rc = -1;

	*dirfd = -1;
	if ((sfd = open(store, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		err_sys("cannot open store '%s'", store);
		goto out;
	}
	if (create && mkdir_ok(sfd, RETRYJOB_DIR, 0755) == -1)
		goto out;
	if ((fd = openat(sfd, RETRYJOB_DIR,
		 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		err_sys("cannot open '%s/%s'", store, RETRYJOB_DIR);
		goto out;
	}
	if (create &&
	    (mkdir_ok(fd, RETRYJOB_FAILED_DIR, 0755) == -1 ||
		mkdir_ok(fd, RETRYJOB_LOCKS_DIR, 0755) == -1))
		goto out;
	*dirfd = fd;
	fd = -1;
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (sfd != -1)
		close(sfd);
	return rc;
}

/* Take lock name under dirfd, the file given to the directory's owner. */
static int
lock_owned(int dirfd, const char *name, double timeout)
{
	int fd;

	if ((fd = lock_acquire(dirfd, name, false, timeout)) == -1)
		return -1;
	if (give_to_dir_owner(dirfd, fd, name) == -1) {
		lock_release(fd);
		return -1;
	}
	return fd;
}

int
retryjob_lock(int dirfd)
{
	return lock_owned(dirfd, RETRYJOB_LOCK, 30);
}

int
retryjob_run_lock(int locksdir, const char *id)
{
	return lock_owned(locksdir, id, 0);
}

void
retryjob_unlock(int fd)
{
	if (fd != -1)
		lock_release(fd);
}

int
retryjob_load(int dirfd, const char *name, uid_t uid, bool failed,
    struct retryjob *j, char **bufp, size_t *lenp)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	int fd = -1, rc = -1;

	retryjob_init(j);
	if ((fd = openat(dirfd, name,
		 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1) {
		err_sys("cannot open job '%s'", name);
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		err_sys("cannot stat job '%s'", name);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set("job '%s' is not a regular file: refused", name);
		goto out;
	}
	if (st.st_uid != uid) {
		err_set("job '%s' is owned by uid %ju, not by the store's "
			"owner (uid %ju): refused",
		    name, (uintmax_t)st.st_uid, (uintmax_t)uid);
		goto out;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		err_set("job '%s' is writable by group or others (mode %04o): "
			"refused",
		    name, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size > (off_t)RETRYJOB_MAX_BYTES) {
		err_set("job '%s' is longer than %u bytes: refused", name,
		    RETRYJOB_MAX_BYTES);
		goto out;
	}
	if ((buf = malloc(RETRYJOB_MAX_BYTES + 2)) == NULL) {
		err_nomem();
		goto out;
	}
	if ((n = io_read_full(fd, buf, RETRYJOB_MAX_BYTES + 1, name)) == -1)
		goto out;
	buf[n] = '\0';
	if (retryjob_parse(buf, (size_t)n, name, failed, j) == -1)
		goto out;
	if (bufp != NULL) {
		*bufp = buf;
		buf = NULL;
	}
	if (lenp != NULL)
		*lenp = (size_t)n;
	rc = 0;
out:
	free(buf);
	if (fd != -1)
		close(fd);
	return rc;
}

int
retryjob_save(int dirfd, const struct retryjob *j)
{
	struct atomic_file af;
	FILE *fp;
	int rc = -1;

	if (atomic_open(&af, dirfd, j->id, 0644) == -1)
		return -1;
	if (give_to_dir_owner(dirfd, atomic_fd(&af), j->id) == -1)
		goto out;
	if ((fp = atomic_stream(&af)) == NULL)
		goto out;
	if (retryjob_write(j, fp) == -1)
		goto out;
	if (atomic_commit(&af) == -1)
		goto out;
	rc = 0;
out:
	atomic_abort(&af);
	return rc;
}

void
retryjob_names_free(char **names, size_t n)
{
	io_names_free(names, n);
}

static bool
is_job(const char *name, void *arg)
{
	(void)arg;
	return retryjob_id_valid(name);
}

int
retryjob_names(int dirfd, char ***names, size_t *np)
{
	if (io_list_names(dirfd, is_job, NULL, names, np) == -1)
		return err_prefix("the retry directory: ");
	io_names_sort(*names, *np);
	return 0;
}

bool
retryjob_running(const char *package, const char *dp)
{
	const char *running = getenv(RETRYJOB_ENV);
	size_t n = strlen(package);

	return running != NULL && strncmp(running, package, n) == 0 &&
	    running[n] == '@' && strcmp(running + n + 1, dp) == 0;
}

int
retryjob_queue(const char *store, const char *package, const char *dp,
    uint64_t version, int argc, char *const argv[], const char *error, char *id,
    bool *queued)
{
	struct retryjob j;
	const char *running;
	int dirfd = -1, lfd = -1, rc = -1;

	*queued = false;
	retryjob_init(&j);
	if (retryjob_make(&j, package, dp, version, argc, argv, error) == -1)
		goto out;
	if (id != NULL)
		memcpy(id, j.id, sizeof(j.id));
	if (retryjob_command_check(&j, store) == -1)
		goto out;
	running = getenv(RETRYJOB_ENV);
	if (running != NULL && strcmp(running, j.id) == 0) {
		rc = 0; /* pkgretry is running this job */
		goto out;
	}
	if (retryjob_opendir(store, true, &dirfd) == -1)
		goto out;
	if ((lfd = retryjob_lock(dirfd)) == -1)
		goto out;
	if (retryjob_save(dirfd, &j) == -1)
		goto out;
	*queued = true;
	rc = 0;
out:
	if (rc == -1 && err_errno() != 0 && err_errno() != EWOULDBLOCK) {
		/* The job's file name says nothing to an administrator:
		 * the package, the DP and the store do. */
		errno = err_errno();
		err_sys("cannot queue the retry of %s for %s in store '%s'",
		    package, dp != NULL ? dp : "every target", store);
	} else if (rc == -1) {
		err_prefix("cannot queue a retry job: ");
	}
	retryjob_unlock(lfd);
	if (dirfd != -1)
		close(dirfd);
	retryjob_free(&j);
	return rc;
}

int64_t
retryjob_backoff(int64_t base, int64_t cap, unsigned attempts)
{
	int64_t d;
	unsigned i;

	if (attempts == 0 || base <= 0)
		return 0;
	d = base;
	for (i = 1; i < attempts && d < cap; i++) {
		if (d > INT64_MAX / 2) {
			d = INT64_MAX;
			break;
		}
		d *= 2;
	}
	return d < cap ? d : cap;
}
