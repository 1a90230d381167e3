/*
 * progress.c — the progress line on a terminal (see progress.h).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

struct progress {
	char what[64];
	uint64_t total_items, total_bytes;
	atomic_uint_fast64_t items, bytes;
	atomic_llong next_draw_ms;	/* monotonic ms of the next redraw */
	atomic_flag drawing;
	long long start_ms;
};

static long long
progress_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
progress_human(uint64_t n, char *out, size_t len)
{
	const char *unit = "KMGTP";
	double v = (double)n;
	int i = -1;

	if (n < 1024) {
		snprintf(out, len, "%llu B", (unsigned long long)n);
		return;
	}
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(out, len, "%.1f %ciB", v, unit[i]);
}

struct progress *
progress_start(const char *what, uint64_t total_items, uint64_t total_bytes)
{
	const char *env = getenv("PKGDIST_PROGRESS");
	struct progress *p;

	if ((env != NULL && strcmp(env, "0") == 0) || !isatty(STDERR_FILENO))
		return NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	snprintf(p->what, sizeof(p->what), "%s", what);
	p->total_items = total_items;
	p->total_bytes = total_bytes;
	p->start_ms = progress_ms();
	/* Short jobs finish before the first draw and show nothing. */
	atomic_store(&p->next_draw_ms, p->start_ms + 500);
	atomic_flag_clear(&p->drawing);
	return p;
}

static void
progress_draw(struct progress *p, long long now)
{
	uint64_t items = atomic_load(&p->items), bytes = atomic_load(&p->bytes);
	double secs = (double)(now - p->start_ms) / 1000.0;
	char b[32], tb[32], rate[32];

	progress_human(bytes, b, sizeof(b));
	progress_human(secs > 0 ? (uint64_t)((double)bytes / secs) : 0, rate,
	    sizeof(rate));
	if (p->total_items > 0 || p->total_bytes > 0) {
		progress_human(p->total_bytes, tb, sizeof(tb));
		fprintf(stderr, "\r\033[K%s: %llu/%llu files, %s/%s, %s/s",
		    p->what, (unsigned long long)items,
		    (unsigned long long)p->total_items, b, tb, rate);
	} else
		fprintf(stderr, "\r\033[K%s: %llu files, %s, %s/s", p->what,
		    (unsigned long long)items, b, rate);
	fflush(stderr);
}

void
progress_add(struct progress *p, uint64_t items, uint64_t bytes)
{
	long long now, due;

	if (p == NULL)
		return;
	atomic_fetch_add(&p->items, items);
	atomic_fetch_add(&p->bytes, bytes);
	now = progress_ms();
	due = atomic_load(&p->next_draw_ms);
	if (now < due || atomic_flag_test_and_set(&p->drawing))
		return;
	atomic_store(&p->next_draw_ms, now + 100);
	progress_draw(p, now);
	atomic_flag_clear(&p->drawing);
}

void
progress_end(struct progress *p)
{
	if (p == NULL)
		return;
	if (progress_ms() >= p->start_ms + 500)
		fputs("\r\033[K", stderr);
	fflush(stderr);
	free(p);
}
