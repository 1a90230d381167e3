/*
 * progress.c — the progress line on a terminal (see progress.h).
 *
 * One mutex (recursive, so that a hold may nest and a message printed
 * while holding may hold again) guards what is on the terminal: drawing,
 * erasing, and the process's one line.  Counters are atomics outside it,
 * so the workers that count never wait; a worker that finds the mutex
 * taken skips the redraw.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"
#include "ratelimit.h"

#define DRAW_EVERY_MS 100 /* at most ten redraws a second */
#define FIRST_DRAW_MS 500 /* short work shows nothing */
#define RATE_SAMPLES 32	  /* the rate is over the last ~3 s */

struct progress {
	char what[64];
	char noun[16];
	uint64_t total_items;
	atomic_int_fast64_t total_bytes;
	atomic_uint_fast64_t items, bytes;
	atomic_uint_fast64_t targets, targets_started, targets_done;
	atomic_uint_fast64_t targets_failed;
	atomic_llong next_draw_ms; /* monotonic ms of the next redraw */
	struct ratelimit *cap;	   /* set before any redraw, or NULL */
	long long start_ms;
	/* Under the mutex: */
	bool shown;		   /* the line is on the terminal */
	unsigned nsample, isample; /* the ring of (ms, bytes) */
	long long sample_ms[RATE_SAMPLES];
	uint64_t sample_bytes[RATE_SAMPLES];
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t mu;
static struct progress *current; /* under mu */
static unsigned held;		 /* under mu: holds in progress */

static void
mu_init(void)
{
	pthread_mutexattr_t attr;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&mu, &attr);
	pthread_mutexattr_destroy(&attr);
}

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
		snprintf(out, len, "%" PRIu64 " B", n);
		return;
	}
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(out, len, "%.1f %ciB", v, unit[i]);
}

static void
progress_clock(uint64_t secs, char *out, size_t len)
{
	if (secs >= 3600)
		snprintf(out, len, "%" PRIu64 ":%02" PRIu64 ":%02" PRIu64,
		    secs / 3600, secs / 60 % 60, secs % 60);
	else
		snprintf(out, len, "%" PRIu64 ":%02" PRIu64, secs / 60,
		    secs % 60);
}

/* Erase the line if it is shown.  Under mu. */
static void
progress_erase(struct progress *p)
{
	if (p == NULL || !p->shown)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	p->shown = false;
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
	atomic_store(&p->total_bytes,
	    total_bytes > INT64_MAX ? INT64_MAX : (int64_t)total_bytes);
	p->start_ms = progress_ms();
	atomic_store(&p->next_draw_ms, p->start_ms + FIRST_DRAW_MS);
	pthread_once(&once, mu_init);
	pthread_mutex_lock(&mu);
	progress_erase(current);
	current = p;
	pthread_mutex_unlock(&mu);
	return p;
}

/* The rate over the samples kept, after adding (now, bytes).  Under mu. */
static uint64_t
progress_rate(struct progress *p, long long now, uint64_t bytes)
{
	long long ms0 = p->start_ms;
	uint64_t b0 = 0;
	unsigned oldest;

	if (p->nsample == RATE_SAMPLES) {
		oldest = p->isample;
		ms0 = p->sample_ms[oldest];
		b0 = p->sample_bytes[oldest];
	}
	p->sample_ms[p->isample] = now;
	p->sample_bytes[p->isample] = bytes;
	p->isample = (p->isample + 1) % RATE_SAMPLES;
	if (p->nsample < RATE_SAMPLES)
		p->nsample++;
	if (now <= ms0 || bytes < b0)
		return 0;
	return (uint64_t)((double)(bytes - b0) * 1000.0 / (double)(now - ms0));
}

/* Append to buf[*n..len) what fmt says, cut at len. */
static void put(char *buf, size_t len, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
put(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (*n >= len)
		return;
	va_start(ap, fmt);
	r = vsnprintf(buf + *n, len - *n, fmt, ap);
	va_end(ap);
	if (r > 0)
		*n = (size_t)r >= len - *n ? len : *n + (size_t)r;
}

/* Under mu. */
static void
progress_draw(struct progress *p, long long now)
{
	uint64_t items = atomic_load(&p->items), bytes = atomic_load(&p->bytes);
	int64_t tb = atomic_load(&p->total_bytes);
	uint64_t ntarget = atomic_load(&p->targets);
	uint64_t started = atomic_load(&p->targets_started);
	uint64_t rate, total = tb > 0 ? (uint64_t)tb : 0;
	char line[512], b[32], t[32], r[32], eta[32];
	const char *about = "";
	struct winsize ws;
	size_t n = 0, width = sizeof(line) - 1;

	rate = progress_rate(p, now, bytes);
	progress_human(bytes, b, sizeof(b));
	progress_human(rate, r, sizeof(r));
	put(line, sizeof(line), &n, "%s: ", p->what);
	if (ntarget > 0) {
		uint64_t failed = atomic_load(&p->targets_failed);

		put(line, sizeof(line), &n, "%" PRIu64 "/%" PRIu64 " %s",
		    atomic_load(&p->targets_done), ntarget, p->noun);
		if (failed > 0)
			put(line, sizeof(line), &n, " (%" PRIu64 " failed)",
			    failed);
		put(line, sizeof(line), &n, ", ");
	} else if (p->total_items > 0)
		put(line, sizeof(line), &n, "%" PRIu64 "/%" PRIu64 " files, ",
		    items, p->total_items);
	else
		put(line, sizeof(line), &n, "%" PRIu64 " files, ", items);
	/* Targets not started yet will need about what the others did. */
	if (total > 0 && started > 0 && started < ntarget) {
		total += (uint64_t)((double)total / (double)started *
		    (double)(ntarget - started));
		about = "~";
	}
	if (total > 0) {
		progress_human(total, t, sizeof(t));
		put(line, sizeof(line), &n, "%s/%s%s %u%%, %s/s", b, about, t,
		    (unsigned)(bytes >= total ?
			    100 :
			    (double)bytes * 100.0 / (double)total),
		    r);
		if (rate > 0 && bytes < total) {
			progress_clock((total - bytes) / rate, eta,
			    sizeof(eta));
			put(line, sizeof(line), &n, ", ETA %s", eta);
		}
	} else
		put(line, sizeof(line), &n, "%s, %s/s", b, r);
	if (p->cap != NULL && (rate = ratelimit_rate_now(p->cap)) != 0) {
		ratelimit_format(rate, r, sizeof(r));
		put(line, sizeof(line), &n, ", cap %s", r);
	}
	/* A line that wraps could not be erased with one \r. */
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 &&
	    (size_t)ws.ws_col - 1 < width)
		width = (size_t)ws.ws_col - 1;
	if (n > width)
		n = width;
	line[n] = '\0';
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
	p->shown = true;
}

/* Redraw if the time has come and nobody holds the line. */
static void
progress_tick(struct progress *p)
{
	long long now = progress_ms();

	if (now < atomic_load(&p->next_draw_ms) ||
	    pthread_mutex_trylock(&mu) != 0)
		return;
	if (held == 0 && current == p && now >= atomic_load(&p->next_draw_ms)) {
		atomic_store(&p->next_draw_ms, now + DRAW_EVERY_MS);
		progress_draw(p, now);
	}
	pthread_mutex_unlock(&mu);
}

void
progress_add(struct progress *p, uint64_t items, uint64_t bytes)
{
	if (p == NULL)
		return;
	atomic_fetch_add(&p->items, items);
	atomic_fetch_add(&p->bytes, bytes);
	progress_tick(p);
}

void
progress_expect(struct progress *p, int64_t bytes)
{
	if (p == NULL)
		return;
	atomic_fetch_add(&p->total_bytes, bytes);
	progress_tick(p);
}

void
progress_targets(struct progress *p, uint64_t total, const char *noun)
{
	if (p == NULL)
		return;
	snprintf(p->noun, sizeof(p->noun), "%s", noun);
	atomic_store(&p->targets, total);
}

void
progress_target_start(struct progress *p)
{
	if (p != NULL)
		atomic_fetch_add(&p->targets_started, 1);
}

void
progress_target_done(struct progress *p, int failed)
{
	if (p == NULL)
		return;
	atomic_fetch_add(&p->targets_done, 1);
	if (failed)
		atomic_fetch_add(&p->targets_failed, 1);
	progress_tick(p);
}

void
progress_end(struct progress *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&mu);
	progress_erase(p);
	if (current == p)
		current = NULL;
	pthread_mutex_unlock(&mu);
	free(p);
}

void
progress_hold(void)
{
	pthread_once(&once, mu_init);
	pthread_mutex_lock(&mu);
	held++;
	progress_erase(current);
}

void
progress_release(void)
{
	held--;
	pthread_mutex_unlock(&mu);
}

void
progress_cap(struct progress *p, struct ratelimit *rl)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&mu);
	p->cap = rl;
	pthread_mutex_unlock(&mu);
}
