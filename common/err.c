/*
 * err.c — the per-thread last-error buffer (see err.h).
 *
 * A message has no length limit: paths reach PATH_MAX and a message
 * may name two of them, then say why.  Each thread's message lives in a
 * malloc'd buffer that grows as needed and is freed when the thread
 * ends (a pthread key's destructor).  Should memory run out, the
 * message goes to a fixed per-thread buffer instead, cut in the middle
 * ("head ... tail"), so that the cause, which comes last, survives.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PKGDIST_ERR_C /* err.h: define the functions, not the analyzer macros \
		       */
#include "err.h"

/* The fallback when no buffer can grow; also the first buffer. */
#define ERR_FIXED 1024
/* Of a message cut to fit ERR_FIXED, the bytes kept from its start. */
#define ERR_HEAD 256

static _Thread_local char err_fixed[ERR_FIXED];
static _Thread_local char *err_dyn; /* malloc'd, or NULL */
static _Thread_local size_t err_dyncap;
static _Thread_local const char *err_cur; /* NULL: err_fixed */
static _Thread_local int err_saved_errno;

static pthread_key_t err_key;
static pthread_once_t err_once = PTHREAD_ONCE_INIT;
static int err_key_ok;

static void
err_key_make(void)
{
	err_key_ok = pthread_key_create(&err_key, free) == 0;
}

/* A buffer of at least n bytes for this thread's message, or NULL. */
static char *
err_room(size_t n)
{
	char *nb;
	size_t cap;

	if (n <= err_dyncap)
		return err_dyn;
	pthread_once(&err_once, err_key_make);
	if (!err_key_ok)
		return NULL;
	for (cap = err_dyncap ? err_dyncap : ERR_FIXED * 2; cap < n; cap *= 2)
		if (cap > (size_t)-1 / 4)
			return NULL;
	if ((nb = realloc(err_dyn, cap)) == NULL)
		return NULL;
	/* The key owns the buffer from now on: freed at thread exit. */
	if (pthread_setspecific(err_key, nb) != 0) {
		free(nb);
		err_dyn = NULL;
		err_dyncap = 0;
		return NULL;
	}
	err_dyn = nb;
	err_dyncap = cap;
	return nb;
}

/*
 * Make head (n1 bytes) + tail (n2 bytes) the message in err_fixed, cut
 * to what fits of the start, "...", and the end.  head must not point
 * into err_fixed; tail may (the current message).
 */
static void
err_store_fixed(const char *head, size_t n1, const char *tail, size_t n2)
{
	size_t keep;

	if (n1 + n2 + 1 > ERR_FIXED) {
		char tmp[ERR_FIXED];
		size_t o = 0, t;

		keep = n1 < ERR_HEAD ? n1 : ERR_HEAD;
		memcpy(tmp, head, keep);
		o = keep;
		memcpy(tmp + o, "...", 3);
		o += 3;
		t = ERR_FIXED - 1 - o; /* room left for the end */
		if (n2 >= t) {
			memcpy(tmp + o, tail + n2 - t, t);
		} else {
			size_t from1 = t - n2; /* end of head, then tail */

			memcpy(tmp + o, head + n1 - from1, from1);
			memcpy(tmp + o + from1, tail, n2);
		}
		memcpy(err_fixed, tmp, ERR_FIXED - 1);
		err_fixed[ERR_FIXED - 1] = '\0';
	} else {
		memmove(err_fixed + n1, tail, n2);
		memmove(err_fixed, head, n1);
		err_fixed[n1 + n2] = '\0';
	}
	err_cur = NULL;
}

/*
 * Make head (n1 bytes) + tail (n2 bytes) the message; neither may point
 * into the current message (the buffer may move).
 */
static void
err_store(const char *head, size_t n1, const char *tail, size_t n2)
{
	char *b;

	if ((b = err_room(n1 + n2 + 1)) == NULL) {
		err_store_fixed(head, n1, tail, n2);
		return;
	}
	memcpy(b, head, n1);
	memcpy(b + n1, tail, n2);
	b[n1 + n2] = '\0';
	err_cur = b;
}

/* Format into a malloc'd string (*len its length), or NULL. */
static char *
err_vformat(const char *fmt, va_list ap, size_t *len)
{
	char small[512], *s;
	va_list aq;
	int r;

	va_copy(aq, ap);
	r = vsnprintf(small, sizeof(small), fmt, aq);
	va_end(aq);
	if (r < 0)
		r = 0, small[0] = '\0';
	if ((s = malloc((size_t)r + 1)) == NULL)
		return NULL;
	if ((size_t)r < sizeof(small))
		memcpy(s, small, (size_t)r + 1);
	else if (vsnprintf(s, (size_t)r + 1, fmt, ap) < 0)
		s[0] = '\0';
	*len = strlen(s);
	return s;
}

/* The message becomes fmt's text + suffix (may be ""). */
static void
err_vset(const char *fmt, va_list ap, const char *suffix)
{
	char *s;
	size_t n;

	if ((s = err_vformat(fmt, ap, &n)) == NULL) {
		/* No memory to format: what fits, then the suffix. */
		char tmp[ERR_FIXED];

		if (vsnprintf(tmp, sizeof(tmp), fmt, ap) < 0)
			tmp[0] = '\0';
		err_store(tmp, strlen(tmp), suffix, strlen(suffix));
		return;
	}
	err_store(s, n, suffix, strlen(suffix));
	free(s);
}

int
err_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(fmt, ap, "");
	va_end(ap);
	err_saved_errno = 0;
	return -1;
}

int
err_sys(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;
	char why[256];

	snprintf(why, sizeof(why), ": %s", strerror(saved));
	va_start(ap, fmt);
	err_vset(fmt, ap, why);
	va_end(ap);
	err_saved_errno = saved;
	errno = saved;
	return -1;
}

int
err_code(int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(fmt, ap, "");
	va_end(ap);
	err_saved_errno = errnum;
	return -1;
}

int
err_nomem(void)
{
	return err_code(ENOMEM, "out of memory");
}

int
err_prefix(const char *fmt, ...)
{
	va_list ap;
	const char *old = err_get();
	char *p, *all;
	size_t n, no = strlen(old);
	int saved = errno;

	va_start(ap, fmt);
	p = err_vformat(fmt, ap, &n);
	va_end(ap);
	if (p == NULL) {
		errno = saved;
		return -1; /* no memory: the message stays as it was */
	}
	if ((all = malloc(n + no + 1)) == NULL)
		err_store_fixed(p, n, old, no);
	else {
		memcpy(all, p, n);
		memcpy(all + n, old, no + 1);
		err_store(all, n + no, "", 0);
		free(all);
	}
	free(p);
	errno = saved;
	return -1;
}

const char *
err_get(void)
{
	return err_cur != NULL ? err_cur : err_fixed;
}

int
err_errno(void)
{
	return err_saved_errno;
}

/* err_save()'s message when it cannot copy one (never freed): the
 * wording of err_nomem(). */
static char err_saved_nomem[] = "out of memory";

void
err_save(struct err_saved *s)
{
	if ((s->msg = strdup(err_get())) == NULL)
		s->msg = err_saved_nomem;
	s->errnum = err_saved_errno;
}

int
err_restore(struct err_saved *s)
{
	if (s->msg == NULL)
		return -1;
	err_code(s->errnum, "%s", s->msg);
	err_drop(s);
	return -1;
}

void
err_drop(struct err_saved *s)
{
	if (s->msg != err_saved_nomem)
		free(s->msg);
	s->msg = NULL;
	s->errnum = 0;
}
