/*
 * test_workq.c — workq_run() and workq_run_ops(): every item once, on any
 * number of threads, also when pthread_create() fails part way; the first
 * error (of an item or of a thread's set-up) stops the rest and reaches
 * the caller; each thread's local is its own, and is ended in the calling
 * thread.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "tap.h"
#include "workq.h"

#define N 5000

/*
 * pthread_create() as workq.c calls it: this definition comes before the
 * C library's, which it calls, unless create_fail_from says the Nth call
 * from now on fails as when the process has no more threads (0: none).
 */
static atomic_int create_calls, create_fail_from;

int
pthread_create(pthread_t *th, const pthread_attr_t *attr,
    void *(*start)(void *), void *arg)
{
	typedef int create_fn(pthread_t *, const pthread_attr_t *,
	    void *(*)(void *), void *);
	static create_fn *real;
	int nth = atomic_fetch_add(&create_calls, 1) + 1;

	if (atomic_load(&create_fail_from) != 0 &&
	    nth >= atomic_load(&create_fail_from))
		return EAGAIN;
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "pthread_create");
	return real(th, attr, start, arg);
}

static void
creates_fail_from(int nth)
{
	atomic_store(&create_calls, 0);
	atomic_store(&create_fail_from, nth);
}

struct count {
	atomic_int seen[N];
	atomic_int calls;
	size_t fail_at; /* N: never */
	/* The items after fail_at take 1 ms each: a run that did not stop
	 * would take seconds, one that stops is not told from it by luck
	 * (a loaded machine that holds the failing thread back). */
	bool slow_after;
	/* workq_run_ops(): */
	pthread_t caller;
	atomic_int begins, ends, begin_fail_at; /* 0: never */
	atomic_int foreign;    /* items that saw another thread's local */
	atomic_int off_caller; /* items not run by the calling thread */
	int ends_elsewhere;    /* ends not in the calling thread */
	int ends_early;	       /* ends before every item was done */
	size_t summed;	       /* the locals' totals, folded by end */
};

struct local {
	pthread_t self;
	size_t done;
};

static int
visit(void *arg, size_t i)
{
	struct count *c = arg;

	atomic_fetch_add(&c->seen[i], 1);
	atomic_fetch_add(&c->calls, 1);
	if (!pthread_equal(pthread_self(), c->caller))
		atomic_fetch_add(&c->off_caller, 1);
	if (i == c->fail_at)
		return err_set("item %zu failed", i);
	if (c->slow_after && i > c->fail_at)
		(void)usleep(1000);
	return 0;
}

static int
local_begin(void *arg, void **local)
{
	struct count *c = arg;
	struct local *l;
	int nth = atomic_fetch_add(&c->begins, 1) + 1;

	if (nth == atomic_load(&c->begin_fail_at))
		return err_set("thread %d cannot start", nth);
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return err_nomem();
	l->self = pthread_self();
	*local = l;
	return 0;
}

static int
local_item(void *arg, void *local, size_t i)
{
	struct count *c = arg;
	struct local *l = local;

	if (!pthread_equal(l->self, pthread_self()))
		atomic_fetch_add(&c->foreign, 1);
	l->done++;
	return visit(c, i);
}

static void
local_end(void *arg, void *local)
{
	struct count *c = arg;
	struct local *l = local;

	atomic_fetch_add(&c->ends, 1);
	if (!pthread_equal(pthread_self(), c->caller))
		c->ends_elsewhere++;
	if (c->fail_at == N && atomic_load(&c->begin_fail_at) == 0 &&
	    atomic_load(&c->calls) != N)
		c->ends_early++;
	c->summed += l->done; /* no lock: ends run one after another */
	free(l);
}

static const struct workq_ops local_ops = { local_begin, local_item,
	local_end };

static int
each_once(struct count *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (atomic_load(&c->seen[i]) != 1)
			return 0;
	return 1;
}

static int
none_twice(struct count *c)
{
	size_t i;

	for (i = 0; i < N; i++)
		if (atomic_load(&c->seen[i]) > 1)
			return 0;
	return 1;
}

static void
reset(struct count *c, size_t fail_at)
{
	memset(c, 0, sizeof(*c));
	c->fail_at = fail_at;
	c->caller = pthread_self();
	creates_fail_from(0);
}

int
main(void)
{
	static const int threads[] = { -3, 0, 1, 2, 7, 64, 1000 };
	static struct count c;
	size_t k;
	int rc;

	for (k = 0; k < sizeof(threads) / sizeof(threads[0]); k++) {
		reset(&c, N);
		tap_ok(workq_run(N, threads[k], visit, &c) == 0 &&
			each_once(&c, N) && atomic_load(&c.calls) == N,
		    "%d threads: each of %d items done once", threads[k], N);
	}
	reset(&c, N);
	tap_ok(workq_run(0, 4, visit, &c) == 0 && atomic_load(&c.calls) == 0 &&
		atomic_load(&create_calls) == 0,
	    "no items: nothing called, no thread started");
	reset(&c, N);
	tap_ok(workq_run(N, 1, visit, &c) == 0 &&
		atomic_load(&c.off_caller) == 0 &&
		atomic_load(&create_calls) == 0,
	    "one thread: the calling one, no other started");
	reset(&c, N);
	tap_ok(workq_run(3, 8, visit, &c) == 0 && each_once(&c, 3) &&
		atomic_load(&create_calls) == 2,
	    "three items, eight threads asked: two started beside the caller");
	reset(&c, 3);
	tap_ok(workq_run(N, 1, visit, &c) == -1 && atomic_load(&c.calls) == 4 &&
		strcmp(err_get(), "item 3 failed") == 0,
	    "one thread: an error stops the rest and reaches the caller");
	reset(&c, 10);
	c.slow_after = true;
	tap_ok(workq_run(N, 8, visit, &c) == -1 && atomic_load(&c.calls) < N &&
		strcmp(err_get(), "item 10 failed") == 0,
	    "eight threads: an error stops the rest early");
	tap_ok(none_twice(&c), "eight threads, failing: no item done twice");

	/* pthread_create() failing part way, or from the first. */
	reset(&c, N);
	creates_fail_from(3);
	rc = workq_run_ops(N, 8, &local_ops, &c);
	tap_ok(rc == 0 && each_once(&c, N) && atomic_load(&c.calls) == N,
	    "the third pthread_create fails: each item still done once");
	tap_ok(atomic_load(&c.begins) == 3 && atomic_load(&c.ends) == 3,
	    "the third pthread_create fails: the caller and two threads ran "
	    "(%d begun, %d ended)",
	    atomic_load(&c.begins), atomic_load(&c.ends));
	reset(&c, N);
	creates_fail_from(1);
	tap_ok(workq_run(N, 8, visit, &c) == 0 && each_once(&c, N) &&
		atomic_load(&c.off_caller) == 0,
	    "no thread starts: the calling thread does every item");
	reset(&c, 100);
	c.slow_after = true;
	creates_fail_from(2);
	tap_ok(workq_run(N, 8, visit, &c) == -1 && none_twice(&c) &&
		atomic_load(&c.calls) < N &&
		strcmp(err_get(), "item 100 failed") == 0,
	    "one thread started of seven: the first error still stops the "
	    "rest");

	/* Each thread's local. */
	for (k = 0; k < sizeof(threads) / sizeof(threads[0]); k++) {
		int want = threads[k] < 1 ? 1 :
		    threads[k] > 64	  ? 64 :
					    threads[k];

		reset(&c, N);
		rc = workq_run_ops(N, threads[k], &local_ops, &c);
		tap_ok(rc == 0 && each_once(&c, N) &&
			atomic_load(&c.foreign) == 0 && c.summed == N,
		    "%d threads, with locals: each item once, each with its "
		    "own thread's local, totals folded by end",
		    threads[k]);
		tap_ok(atomic_load(&c.begins) == want &&
			atomic_load(&c.ends) == want && c.ends_elsewhere == 0 &&
			c.ends_early == 0,
		    "%d threads: %d begun, each ended once in the calling "
		    "thread after the last item (%d, %d)",
		    threads[k], want, atomic_load(&c.begins),
		    atomic_load(&c.ends));
	}
	reset(&c, N);
	atomic_store(&c.begin_fail_at, 1);
	tap_ok(workq_run_ops(N, 1, &local_ops, &c) == -1 &&
		atomic_load(&c.calls) == 0 && atomic_load(&c.ends) == 0 &&
		strcmp(err_get(), "thread 1 cannot start") == 0,
	    "one thread whose set-up fails: no item, no end, its error");
	reset(&c, N);
	atomic_store(&c.begin_fail_at, 3);
	tap_ok(workq_run_ops(N, 6, &local_ops, &c) == -1 && none_twice(&c) &&
		atomic_load(&c.begins) == 6 && atomic_load(&c.ends) == 5 &&
		strcmp(err_get(), "thread 3 cannot start") == 0,
	    "a set-up failing in one of six threads: the run fails with its "
	    "error, the five others ended, no item twice");
	reset(&c, 7);
	tap_ok(workq_run_ops(N, 4, &local_ops, &c) == -1 && none_twice(&c) &&
		atomic_load(&c.ends) == atomic_load(&c.begins) &&
		strcmp(err_get(), "item 7 failed") == 0,
	    "an item failing, with locals: its error, every local ended");
	return tap_done();
}
