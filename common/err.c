/*
 * err.c — the per-thread last-error buffer (see err.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PKGDIST_ERR_C	/* err.h: define the functions, not the analyzer macros */
#include "err.h"

#define ERR_MAX 1024

static _Thread_local char err_buf[ERR_MAX];
static _Thread_local int err_saved_errno;

static void
err_vformat(char *dst, size_t n, const char *fmt, va_list ap)
{
	int r;

	r = vsnprintf(dst, n, fmt, ap);
	if (r < 0)
		dst[0] = '\0';
}

int
err_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vformat(err_buf, sizeof(err_buf), fmt, ap);
	va_end(ap);
	err_saved_errno = 0;
	return -1;
}

int
err_sys(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;
	size_t len;

	va_start(ap, fmt);
	err_vformat(err_buf, sizeof(err_buf), fmt, ap);
	va_end(ap);
	len = strlen(err_buf);
	snprintf(err_buf + len, sizeof(err_buf) - len, ": %s",
	    strerror(saved));
	err_saved_errno = saved;
	errno = saved;
	return -1;
}

int
err_code(int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vformat(err_buf, sizeof(err_buf), fmt, ap);
	va_end(ap);
	err_saved_errno = errnum;
	return -1;
}

int
err_prefix(const char *fmt, ...)
{
	char old[ERR_MAX];
	va_list ap;
	size_t len;

	memcpy(old, err_buf, sizeof(old));
	va_start(ap, fmt);
	err_vformat(err_buf, sizeof(err_buf), fmt, ap);
	va_end(ap);
	len = strlen(err_buf);
	snprintf(err_buf + len, sizeof(err_buf) - len, "%s", old);
	return -1;
}

const char *
err_get(void)
{
	return err_buf;
}

int
err_errno(void)
{
	return err_saved_errno;
}
