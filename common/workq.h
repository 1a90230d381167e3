/*
 * workq.h — run one function over numbered items with up to N threads.
 *
 * workq_run() calls fn(ctx, i) exactly once for each i in [0, n) that is
 * started, handing the indices out in increasing order to up to `threads`
 * threads (at least one; no more than n).  Indices are taken under one
 * mutex, one lock per item; nothing is allocated per item.
 *
 * Should pthread_create() fail part way, the threads already started finish
 * every item; should none start, the calling thread does the work itself.
 * No item is done twice and none is lost.
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

/* The most threads workq_run() starts, whatever it is asked. */
#define WORKQ_MAX_THREADS 64

int workq_run(size_t n, int threads, workq_fn *fn, void *ctx);

#endif
