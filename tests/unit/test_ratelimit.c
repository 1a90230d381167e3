/*
 * test_ratelimit.c — the steady rate of ratelimit.h, on a virtual clock:
 * every sleep moves the clock on at once, so the checks are exact and
 * take no time.
 */
#include <stdint.h>
#include <string.h>

#include "ratelimit.h"
#include "tap.h"

#define MIB (1024 * 1024)

struct vclock {
	double t;
	/* What passed when: one record per ratelimit_take() of a piece. */
	double at[100000];
	size_t bytes[100000];
	size_t n;
};

static double
v_mono(void *ctx)
{
	return ((struct vclock *)ctx)->t;
}

static time_t
v_wall(void *ctx)
{
	/* The virtual day starts at midnight UTC of 1 January 2026. */
	return (time_t)1767225600 + (time_t)((struct vclock *)ctx)->t;
}

static void
v_sleep(void *ctx, double s)
{
	((struct vclock *)ctx)->t += s;
}

static struct vclock vc;
static const struct ratelimit_clock clk = { &vc, v_mono, v_wall, v_sleep };

static void
reset(void)
{
	memset(&vc, 0, sizeof(vc));
	vc.t = 1000;
}

/* Send total bytes in pieces of piece through rl, recording each. */
static void
send(struct ratelimit *rl, size_t total, size_t piece)
{
	while (total > 0) {
		size_t n = total < piece ? total : piece;

		ratelimit_take(rl, n);
		if (vc.n < sizeof(vc.at) / sizeof(vc.at[0])) {
			vc.at[vc.n] = vc.t;
			vc.bytes[vc.n++] = n;
		}
		total -= n;
	}
}

/* The most bytes recorded in any window of w seconds. */
static size_t
most_in_window(double w)
{
	size_t best = 0, sum = 0, lo = 0;

	for (size_t hi = 0; hi < vc.n; hi++) {
		sum += vc.bytes[hi];
		while (vc.at[hi] - vc.at[lo] >= w)
			sum -= vc.bytes[lo++];
		if (sum > best)
			best = sum;
	}
	return best;
}

/* 1 MiB/s from 02:00 to 02:00:10 of the virtual day, else no cap. */
static uint64_t
windowed(void *ctx, time_t now)
{
	long sec = (long)(now % 86400);

	(void)ctx;
	return sec >= 7200 && sec < 7210 ? MIB : 0;
}

int
main(void)
{
	struct ratelimit *rl, *total, *a, *b;
	char buf[32];
	double t0;

	reset();
	rl = ratelimit_new(NULL, NULL, NULL, &clk);
	ratelimit_set_fixed(rl, MIB);
	t0 = vc.t;
	send(rl, 6 * MIB, 64 * 1024);
	tap_ok(vc.t - t0 >= 6 - 1 && vc.t - t0 <= 6.01,
	    "6 MiB under 1 MiB/s take between 5 and 6 s (took %.2f)",
	    vc.t - t0);
	tap_ok(most_in_window(10) <= (size_t)(1.1 * 10 * MIB),
	    "no 10 s window carries more than 110%% of the cap");

	ratelimit_free(rl);
	reset();
	rl = ratelimit_new(NULL, NULL, NULL, &clk);
	t0 = vc.t;
	send(rl, 100 * MIB, MIB);
	tap_ok(vc.t == t0, "a rate of 0 is no cap: nothing waits");

	ratelimit_free(rl);
	reset();
	rl = ratelimit_new(NULL, NULL, NULL, &clk);
	ratelimit_set_fixed(rl, 100);
	t0 = vc.t;
	send(rl, 1, 1);
	tap_ok(vc.t == t0, "the first bytes after a pause go at once");
	vc.t += 3600;
	t0 = vc.t;
	send(rl, 1000, 10);
	tap_ok(vc.t - t0 >= 9 && vc.t - t0 <= 10.01,
	    "an hour's pause earns no more than the burst allowance "
	    "(1000 bytes at 100/s took %.2f s)",
	    vc.t - t0);
	ratelimit_free(rl);

	/* Two targets capped at 1 MiB/s each, the total at 1 MiB/s. */
	reset();
	total = ratelimit_new(NULL, NULL, NULL, &clk);
	ratelimit_set_fixed(total, MIB);
	a = ratelimit_new(NULL, NULL, total, &clk);
	b = ratelimit_new(NULL, NULL, total, &clk);
	ratelimit_set_fixed(a, MIB);
	ratelimit_set_fixed(b, 4 * MIB);
	t0 = vc.t;
	for (int i = 0; i < 64; i++) {
		send(a, 64 * 1024, 64 * 1024);
		send(b, 64 * 1024, 64 * 1024);
	}
	tap_ok(vc.t - t0 >= 8 - 1 && vc.t - t0 <= 8.1,
	    "the total's cap holds across two targets (8 MiB took %.2f s)",
	    vc.t - t0);
	tap_ok(ratelimit_rate_now(b) == MIB,
	    "the rate in effect is the lowest along the chain");
	ratelimit_free(a);
	ratelimit_free(b);
	ratelimit_free(total);

	/* A window that opens and closes during one transfer. */
	reset();
	vc.t = 7200 - 5; /* 01:59:55 */
	rl = ratelimit_new(windowed, NULL, NULL, &clk);
	tap_ok(ratelimit_rate_now(rl) == 0, "before the window: no cap");
	send(rl, 50 * MIB, 64 * 1024);
	tap_ok(vc.t < 7200, "outside the window the data go at once");
	vc.t = 7200;
	t0 = vc.t;
	send(rl, 20 * MIB, 64 * 1024);
	tap_ok(vc.t >= 7210 && vc.t <= 7211,
	    "the window caps what is sent in it, and the cap lifts when it "
	    "closes (ended at +%.2f s)",
	    vc.t - t0);
	ratelimit_free(rl);

	ratelimit_format(512 * 1024, buf, sizeof(buf));
	tap_ok(strcmp(buf, "512 KiB/s") == 0, "512K shows as 512 KiB/s (%s)",
	    buf);
	ratelimit_format(1536 * 1024, buf, sizeof(buf));
	tap_ok(strcmp(buf, "1.5 MiB/s") == 0, "1.5M shows as 1.5 MiB/s (%s)",
	    buf);
	return tap_done();
}
