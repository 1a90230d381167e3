/*
 * msg.c — messages to the user (see msg.h); only cmd/ calls it.  The
 * core files that write to stderr besides it: progress.c (the progress
 * display, on a terminal) and proto.c (a remote peer's stderr, copied
 * line by line while a session waits for it).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "manifest.h"
#include "msg.h"
#include "num.h"
#include "path.h"
#include "progress.h"

/* The tool's name is process-wide by nature: set once in main(). */
static const char *progname = "pkgdist";

void
msg_init(const char *argv0)
{
	const char *slash;

	if (argv0 == NULL || *argv0 == '\0')
		return;
	slash = strrchr(argv0, '/');
	progname = slash != NULL ? slash + 1 : argv0;
}

const char *
msg_progname(void)
{
	return progname;
}

void
msg_put_text(const char *s, FILE *fp)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			fprintf(fp, "\\%03o", *p);
		else
			putc(*p, fp);
}

static void
msg_vwarn(const char *fmt, va_list ap)
{
	int saved = errno;
	size_t len = strlen(fmt);
	char *text = NULL;
	va_list aq;
	int n;

	progress_hold();
	fprintf(stderr, "%s: ", progname);
	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n >= 0 && (text = malloc((size_t)n + 1)) != NULL) {
		va_copy(aq, ap);
		if (vsnprintf(text, (size_t)n + 1, fmt, aq) < 0)
			text[0] = '\0';
		va_end(aq);
		msg_put_text(text, stderr);
		free(text);
	} else
		vfprintf(stderr, fmt, ap);
	if (len > 0 && fmt[len - 1] == ':')
		fprintf(stderr, " %s", strerror(saved));
	fputc('\n', stderr);
	progress_release();
}

void
msg_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vwarn(fmt, ap);
	va_end(ap);
}

void
msg_liberr(void)
{
	progress_hold();
	fprintf(stderr, "%s: ", progname);
	msg_put_text(err_get(), stderr);
	fputc('\n', stderr);
	progress_release();
}

void
msg_die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vwarn(fmt, ap);
	va_end(ap);
	exit(code);
}

int
msg_num_opt(const char *opt, const char *arg, uint64_t min, uint64_t max,
    const char *why, uint64_t *out)
{
	char shown[PATH_SHOW_LEN];

	if (num_arg(arg, min, max, out) == 0)
		return 0;
	path_show(arg, shown, sizeof(shown));
	if (max == UINT64_MAX)
		msg_warn("%s '%s': want a whole number from %llu up%s%s", opt,
		    shown, (unsigned long long)min, why != NULL ? ": " : "",
		    why != NULL ? why : "");
	else
		msg_warn("%s '%s': want a whole number from %llu to %llu%s%s",
		    opt, shown, (unsigned long long)min,
		    (unsigned long long)max, why != NULL ? ": " : "",
		    why != NULL ? why : "");
	return -1;
}

int
msg_close_stdout(void)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		msg_warn("cannot write standard output:");
		return -1;
	}
	if (fclose(stdout) == EOF) {
		msg_warn("cannot close standard output:");
		return -1;
	}
	return 0;
}
