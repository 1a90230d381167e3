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

/*
 * A stream: items that arrive while the threads run (a walk that finds
 * the work as it goes).  workq_open() starts up to `threads` threads
 * (clamped as above); the calling thread, which adds the items, is not
 * one of them.  NULL with err set when out of memory.
 *
 * workq_add() makes one more item ready, numbered by the count before it
 * (0, 1, ...); whatever the item reads must be in place before the call,
 * and must not move after it (the item function reads it with no lock).
 *
 * workq_close() says no item will come, waits for every item to be done,
 * ends the locals, frees q, and returns 0 or -1 with the first error, as
 * workq_run_ops() does.  Should no thread have started, the calling
 * thread does every item here.  Before that, order (when not NULL) may
 * choose the order of the items [from, to) that no thread has taken yet
 * (the biggest first): it is called once, in the calling thread, while
 * no thread takes an item, and fills map[0 .. to - from) with those
 * numbers, each once, in the order wanted, and returns 0; or returns -1
 * having set nothing, and they are done in their order (as they are when
 * there is no memory for the map).
 *
 * workq_cancel() is for a producer that failed: no further item is
 * started, those running finish, the locals are ended and q is freed;
 * the calling thread's error is left as it is.  NULL is allowed.
 */
struct workq;
typedef int workq_order_fn(void *ctx, size_t from, size_t to, size_t *map);

struct workq *workq_open(int threads, const struct workq_ops *ops, void *ctx);
void workq_add(struct workq *q);
int workq_close(struct workq *q, workq_order_fn *order);
void workq_cancel(struct workq *q);

#endif
