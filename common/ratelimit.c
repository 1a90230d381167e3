/*
 * ratelimit.c — a steady byte rate (ratelimit.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "ratelimit.h"

/*
 * How far the virtual clock may lag the real one: a transfer after a
 * pause may send this many seconds' worth at once.  With pieces of
 * PIECE_SECONDS, any 10 s carry at most (10 + BURST + PIECE) x rate,
 * 3% over, and N bytes take at least N / rate - BURST seconds.
 */
#define BURST_SECONDS 0.25
#define PIECE_SECONDS 0.05
#define PIECE_MAX (256 * 1024)

struct ratelimit {
	pthread_mutex_t lock;
	ratelimit_rate_fn rate_fn;
	void *ctx;
	uint64_t fixed;
	double next; /* the virtual clock: when the next byte may go */
	struct ratelimit *parent;
	struct ratelimit_clock clock;
};

static double
real_monotonic(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static time_t
real_wall(void *ctx)
{
	(void)ctx;
	return time(NULL);
}

static void
real_sleep(void *ctx, double seconds)
{
	struct timespec ts;

	(void)ctx;
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static const struct ratelimit_clock real_clock = { NULL, real_monotonic,
	real_wall, real_sleep };

struct ratelimit *
ratelimit_new(ratelimit_rate_fn rate_fn, void *ctx, struct ratelimit *parent,
    const struct ratelimit_clock *clock)
{
	struct ratelimit *rl;

	if ((rl = calloc(1, sizeof(*rl))) == NULL) {
		err_nomem();
		return NULL;
	}
	if (pthread_mutex_init(&rl->lock, NULL) != 0) {
		free(rl);
		err_set("cannot create a lock: out of memory");
		return NULL;
	}
	rl->rate_fn = rate_fn;
	rl->ctx = ctx;
	rl->parent = parent;
	rl->clock = clock != NULL ? *clock : real_clock;
	/* Idle since ever: the burst allowance is there from the start. */
	rl->next = 0;
	return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

void
ratelimit_set_fixed(struct ratelimit *rl, uint64_t rate)
{
	pthread_mutex_lock(&rl->lock);
	rl->fixed = rate;
	pthread_mutex_unlock(&rl->lock);
}

/* rl's own rate now; called with rl->lock held. */
static uint64_t
own_rate(const struct ratelimit *rl)
{
	if (rl->rate_fn == NULL)
		return rl->fixed;
	return rl->rate_fn(rl->ctx, rl->clock.wall(rl->clock.ctx));
}

uint64_t
ratelimit_rate_now(struct ratelimit *rl)
{
	uint64_t low = 0, r;

	for (; rl != NULL; rl = rl->parent) {
		pthread_mutex_lock(&rl->lock);
		r = own_rate(rl);
		pthread_mutex_unlock(&rl->lock);
		if (r != 0 && (low == 0 || r < low))
			low = r;
	}
	return low;
}

/* Book n bytes on rl alone; the seconds to wait before they may go. */
static double
book(struct ratelimit *rl, size_t n)
{
	double now, wait = 0;
	uint64_t rate;

	pthread_mutex_lock(&rl->lock);
	now = rl->clock.monotonic(rl->clock.ctx);
	rate = own_rate(rl);
	if (rate == 0) {
		/* No cap now: a cap that starts later starts afresh. */
		rl->next = now;
	} else {
		if (rl->next < now - BURST_SECONDS)
			rl->next = now - BURST_SECONDS;
		rl->next += (double)n / (double)rate;
		if (rl->next > now)
			wait = rl->next - now;
	}
	pthread_mutex_unlock(&rl->lock);
	return wait;
}

void
ratelimit_take(struct ratelimit *rl, size_t n)
{
	double wait;

	/* Each level in turn: a target's own cap, then the total's, so a
	 * worker waiting on the total does not hold up the others' own. */
	for (; rl != NULL; rl = rl->parent)
		if ((wait = book(rl, n)) > 0)
			rl->clock.sleep(rl->clock.ctx, wait);
}

size_t
ratelimit_piece(struct ratelimit *rl, size_t n)
{
	uint64_t rate, most;

	if ((rate = ratelimit_rate_now(rl)) == 0)
		return n;
	most = (uint64_t)((double)rate * PIECE_SECONDS);
	if (most < 1)
		most = 1;
	if (most > PIECE_MAX)
		most = PIECE_MAX;
	return n > most ? (size_t)most : n;
}

void
ratelimit_format(uint64_t rate, char *buf, size_t n)
{
	static const char *const unit[] = { "B/s", "KiB/s", "MiB/s", "GiB/s",
		"TiB/s" };
	double v = (double)rate;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0 || v >= 100 || v == (double)(uint64_t)v)
		snprintf(buf, n, "%.0f %s", v, unit[u]);
	else
		snprintf(buf, n, "%.1f %s", v, unit[u]);
}
