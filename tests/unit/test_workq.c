/*
 * test_workq.c — workq_run(): every item once, on any number of threads;
 * the first error stops the rest and reaches the caller.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "tap.h"
#include "workq.h"

#define N 5000

struct count {
	atomic_int seen[N];
	atomic_int calls;
	size_t fail_at; /* N: never */
};

static int
visit(void *arg, size_t i)
{
	struct count *c = arg;

	atomic_fetch_add(&c->seen[i], 1);
	atomic_fetch_add(&c->calls, 1);
	if (i == c->fail_at)
		return err_set("item %zu failed", i);
	return 0;
}

static int
each_once(struct count *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (atomic_load(&c->seen[i]) != 1)
			return 0;
	return 1;
}

int
main(void)
{
	static const int threads[] = { -3, 0, 1, 2, 7, 64, 1000 };
	static struct count c;
	size_t k;

	for (k = 0; k < sizeof(threads) / sizeof(threads[0]); k++) {
		memset(&c, 0, sizeof(c));
		c.fail_at = N;
		tap_ok(workq_run(N, threads[k], visit, &c) == 0 &&
			each_once(&c, N) && atomic_load(&c.calls) == N,
		    "%d threads: each of %d items done once", threads[k], N);
	}
	memset(&c, 0, sizeof(c));
	c.fail_at = N;
	tap_ok(workq_run(0, 4, visit, &c) == 0 && atomic_load(&c.calls) == 0,
	    "no items: nothing called");
	memset(&c, 0, sizeof(c));
	c.fail_at = 3;
	tap_ok(workq_run(N, 1, visit, &c) == -1 && atomic_load(&c.calls) == 4 &&
		strcmp(err_get(), "item 3 failed") == 0,
	    "one thread: an error stops the rest and reaches the caller");
	memset(&c, 0, sizeof(c));
	c.fail_at = 10;
	tap_ok(workq_run(N, 8, visit, &c) == -1 && atomic_load(&c.calls) < N &&
		strcmp(err_get(), "item 10 failed") == 0,
	    "eight threads: an error stops the rest early");
	for (k = 0; k < N; k++)
		if (atomic_load(&c.seen[k]) > 1)
			break;
	tap_ok(k == N, "eight threads, failing: no item done twice");
	return tap_done();
}
