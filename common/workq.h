/*
 * workq.h — run one function over numbered items with up to N threads.
 *
 * workq_run() calls fn(ctx, i) exactly once for each i in [0, n) that is
 * started, handing the indices out in increasing order to up to `threads`
 * threads (at least one; no more than n or WORKQ_MAX_THREADS).  The
 * calling thread is one of them: it starts threads - 1 more and works
 * beside them until every item is taken.  Indices are taken under one
 * mutex, one lock per item; nothing is allocated per item.
 *
 * Should pthread_create() fail part way, the threads already started
 * (the calling one among them) finish every item.  No item is done twice
 * and none is lost.
 *
 * fn returns 0, or -1 after setting the error (err.h).  After the first -1
 * no further item is started (items already running finish); workq_run()
 * then returns -1 with that first error set in the calling thread.  fn must
 * be safe to call from several threads at once on different items.
 */
#ifndef PKGDIST_WORKQ_H
#define PKGDIST_WORKQ_H

#include <stddef.h>

typedef int workq_fn(void *ctx, size_t i);

/* The most threads workq_run() runs, whatever it is asked. */
#define WORKQ_MAX_THREADS 64

int workq_run(size_t n, int threads, workq_fn *fn, void *ctx);

/*
 * As workq_run(), for work that needs state of each thread's own (a
 * scratch buffer, a cache of open directories, a running total).
 *
 * begin, when not NULL, runs in each thread as it starts, before it takes
 * an item: 0 with *local set (NULL is allowed), or -1 with the error set,
 * which fails the run as an item's -1 does (that thread takes no item).
 * item is called as fn above, with that thread's local.  end, when not
 * NULL, is called once for each begin that returned 0 (with local NULL
 * when begin is NULL), after every thread has stopped, in the calling
 * thread, one local after another: it may fold a thread's results into
 * ctx without a lock, and must free what begin made.
 */
struct workq_ops {
	int (*begin)(void *ctx, void **local);
	int (*item)(void *ctx, void *local, size_t i);
	void (*end)(void *ctx, void *local);
};

int workq_run_ops(size_t n, int threads, const struct workq_ops *ops,
    void *ctx);

#endif
