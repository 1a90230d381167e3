/*
 * workq.c — run one function over numbered items (see workq.h).
 *
 * One queue serves both ways of use: for workq_run_ops() every item is
 * there from the start (closed), for a stream the items are counted in
 * by workq_add() while the threads wait on `more`.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "workq.h"

/* One thread's slot: its local, kept for end() after the join. */
struct workq_thread {
	struct workq *q;
	void *local;
	bool begun;
};

struct workq {
	const struct workq_ops *ops;
	void *ctx;
	size_t n, next;
	pthread_mutex_t mu;
	pthread_cond_t more; /* an item added, the end, or a failure */
	bool closed;	     /* no item will be added */
	/* workq_close()'s order: item map_from + k is done as map[k]. */
	size_t *map, map_from;
	bool failed;
	struct err_saved err; /* the first error (err.h is per thread) */
	int started;	      /* threads started */
	pthread_t th[WORKQ_MAX_THREADS];
	struct workq_thread t[WORKQ_MAX_THREADS + 1]; /* the last: the caller */
};

/* Keep the first failure (this thread's error) and stop the rest; under
 * q->mu. */
static void
workq_fail_locked(struct workq *q)
{
	if (!q->failed) {
		q->failed = true;
		err_save(&q->err);
	}
	pthread_cond_broadcast(&q->more);
}

static void *
workq_worker(void *arg)
{
	struct workq_thread *t = arg;
	struct workq *q = t->q;
	size_t i;
	int r;

	if (q->ops->begin != NULL && q->ops->begin(q->ctx, &t->local) == -1) {
		pthread_mutex_lock(&q->mu);
		workq_fail_locked(q);
		pthread_mutex_unlock(&q->mu);
		return NULL;
	}
	t->begun = true;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (q->next == q->n && !q->closed && !q->failed)
			pthread_cond_wait(&q->more, &q->mu);
		if (q->failed || q->next == q->n)
			break;
		i = q->next++;
		if (i >= q->map_from)
			i = q->map[i - q->map_from];
		pthread_mutex_unlock(&q->mu);
		r = q->ops->item(q->ctx, t->local, i);
		pthread_mutex_lock(&q->mu);
		if (r == -1) {
			workq_fail_locked(q);
			break;
		}
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

static void
workq_init(struct workq *q, const struct workq_ops *ops, void *ctx)
{
	int k;

	memset(q, 0, sizeof(*q));
	q->ops = ops;
	q->ctx = ctx;
	q->map_from = SIZE_MAX;
	for (k = 0; k <= WORKQ_MAX_THREADS; k++)
		q->t[k].q = q;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->more, NULL);
}

/* Start up to want threads (as many as pthread_create() gives). */
static void
workq_start(struct workq *q, int want)
{
	while (q->started < want &&
	    pthread_create(&q->th[q->started], NULL, workq_worker,
		&q->t[q->started]) == 0)
		q->started++;
}

/* Join the threads, end every local (the caller's too, when it worked),
 * and return the first error; q is then finished with. */
static int
workq_join(struct workq *q, bool keep_error)
{
	int k, rc = 0;

	for (k = 0; k < q->started; k++)
		pthread_join(q->th[k], NULL);
	if (q->ops->end != NULL)
		for (k = 0; k <= WORKQ_MAX_THREADS; k++)
			if (q->t[k].begun)
				q->ops->end(q->ctx, q->t[k].local);
	if (q->failed)
		rc = keep_error ? err_restore(&q->err) : -1;
	err_drop(&q->err);
	free(q->map);
	pthread_cond_destroy(&q->more);
	pthread_mutex_destroy(&q->mu);
	return rc;
}

static int
workq_clamp(int threads)
{
	if (threads < 1)
		return 1;
	return threads > WORKQ_MAX_THREADS ? WORKQ_MAX_THREADS : threads;
}

int
workq_run_ops(size_t n, int threads, const struct workq_ops *ops, void *ctx)
{
	struct workq q;

	if (n == 0)
		return 0;
	threads = workq_clamp(threads);
	if ((size_t)threads > n)
		threads = (int)n;
	workq_init(&q, ops, ctx);
	q.n = n;
	q.closed = true;
	workq_start(&q, threads - 1); /* and the calling thread */
	workq_worker(&q.t[WORKQ_MAX_THREADS]);
	return workq_join(&q, true);
}

/* workq_run()'s fn and ctx, as workq_run_ops() sees them. */
struct workq_plain {
	workq_fn *fn;
	void *ctx;
};

static int
workq_plain_item(void *ctx, void *local, size_t i)
{
	const struct workq_plain *p = ctx;

	(void)local;
	return p->fn(p->ctx, i);
}

int
workq_run(size_t n, int threads, workq_fn *fn, void *ctx)
{
	static const struct workq_ops ops = { NULL, workq_plain_item, NULL };
	struct workq_plain p = { fn, ctx };

	return workq_run_ops(n, threads, &ops, &p);
}

struct workq *
workq_open(int threads, const struct workq_ops *ops, void *ctx)
{
	struct workq *q;

	if ((q = malloc(sizeof(*q))) == NULL) {
		err_nomem();
		return NULL;
	}
	workq_init(q, ops, ctx);
	workq_start(q, workq_clamp(threads));
	return q;
}

void
workq_add(struct workq *q)
{
	pthread_mutex_lock(&q->mu);
	q->n++;
	pthread_cond_signal(&q->more);
	pthread_mutex_unlock(&q->mu);
}

int
workq_close(struct workq *q, workq_order_fn *order)
{
	size_t left;
	int rc;

	pthread_mutex_lock(&q->mu);
	left = q->n - q->next;
	if (order != NULL && !q->failed && left > 1 &&
	    (q->map = malloc(left * sizeof(*q->map))) != NULL &&
	    order(q->ctx, q->next, q->n, q->map) == 0)
		q->map_from = q->next;
	q->closed = true;
	pthread_cond_broadcast(&q->more);
	pthread_mutex_unlock(&q->mu);
	if (q->started == 0)
		workq_worker(&q->t[WORKQ_MAX_THREADS]); /* none could start */
	rc = workq_join(q, true);
	free(q);
	return rc;
}

void
workq_cancel(struct workq *q)
{
	if (q == NULL)
		return;
	pthread_mutex_lock(&q->mu);
	q->closed = true;
	q->failed = true; /* start no further item */
	pthread_cond_broadcast(&q->more);
	pthread_mutex_unlock(&q->mu);
	(void)workq_join(q, false);
	free(q);
}
