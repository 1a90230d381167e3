/*
 * ratelimit.h — a steady byte rate, shared by the threads of one command.
 *
 * A bandwidth cap (bwlimit lines of STORE/config, pkgpush --bwlimit) is a
 * steady rate, not a budget: over any 10 s of a transfer the bytes that
 * pass stay within 10% above rate x 10 s, and N bytes under a rate R take
 * at least N / R - 1 seconds.  A limiter is a virtual clock (the generic
 * cell rate algorithm): each transfer of n bytes moves the clock on by
 * n / rate and waits until the real clock catches up, less a small burst
 * allowance that lets a transfer that was idle start at once.
 *
 * The rate is asked for again at every transfer (rate_fn), so a window
 * that opens or closes during a long push changes the rate there and
 * then, with nothing restarted or sent again.  A rate of 0 is no cap.
 *
 * Limiters chain: a transfer to one target passes the target's own
 * limiter and then its parent, the command's total (the "*" line, or
 * --bwlimit), so the cap on the total holds across -j workers.  Each
 * limiter has its own lock; nobody sleeps holding one.
 *
 * A sender under a cap cuts its transfers with ratelimit_piece() into
 * pieces of at most a twentieth of a second at the current rate, so a
 * large write never leaves as one burst, and passes each through
 * ratelimit_take() (the remote protocol's reads and writes, proto.c).
 */
#ifndef PKGDIST_RATELIMIT_H
#define PKGDIST_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The rate in bytes per second at wall-clock time now (0: no cap). */
typedef uint64_t (*ratelimit_rate_fn)(void *ctx, time_t now);

/* The clocks a limiter reads and sleeps on; NULL in ratelimit_new()
 * means the real ones.  A test passes its own to run without waiting. */
struct ratelimit_clock {
	void *ctx;
	double (*monotonic)(void *ctx); /* seconds, never backwards */
	time_t (*wall)(void *ctx);	/* for the rate's windows */
	void (*sleep)(void *ctx, double seconds);
};

struct ratelimit;

/*
 * A limiter whose rate is rate_fn(ctx, now) (rate_fn NULL: the fixed
 * rate given by ratelimit_set_fixed(), initially 0), chained to parent
 * (NULL: none; the parent must outlive it).  NULL with err set when out
 * of memory.
 */
struct ratelimit *ratelimit_new(ratelimit_rate_fn rate_fn, void *ctx,
    struct ratelimit *parent, const struct ratelimit_clock *clock);
void ratelimit_free(struct ratelimit *rl);

/* For a limiter without rate_fn: the rate from now on (0: no cap). */
void ratelimit_set_fixed(struct ratelimit *rl, uint64_t rate);

/* The rate in effect now along the chain: the lowest non-zero rate of rl
 * and its parents, 0 when none caps (what the progress line shows). */
uint64_t ratelimit_rate_now(struct ratelimit *rl);

/* How much of n bytes to send as one piece under rl's rate now (n when
 * nothing caps): callers that write themselves cut their writes so. */
size_t ratelimit_piece(struct ratelimit *rl, size_t n);

/* Wait until n bytes may pass rl and every parent (rl NULL: at once). */
void ratelimit_take(struct ratelimit *rl, size_t n);

/* Render a rate for people ("512 KiB/s"), into buf of size n. */
void ratelimit_format(uint64_t rate, char *buf, size_t n);

#endif
