/*
 * workq.c — run one function over numbered items (see workq.h).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "err.h"
#include "workq.h"

struct workq {
	const struct workq_ops *ops;
	void *ctx;
	size_t n, next;
	pthread_mutex_t mu;
	bool failed;
	struct err_saved err; /* the first error (err.h is per thread) */
};

/* One thread's slot: its local, kept for end() after the join. */
struct workq_thread {
	struct workq *q;
	void *local;
	bool begun;
};

/* Keep the first failure (this thread's error) and stop the rest. */
static void
workq_fail(struct workq *q)
{
	pthread_mutex_lock(&q->mu);
	if (!q->failed) {
		q->failed = true;
		err_save(&q->err);
	}
	pthread_mutex_unlock(&q->mu);
}

static void *
workq_worker(void *arg)
{
	struct workq_thread *t = arg;
	struct workq *q = t->q;

	if (q->ops->begin != NULL && q->ops->begin(q->ctx, &t->local) == -1) {
		workq_fail(q);
		return NULL;
	}
	t->begun = true;
	for (;;) {
		size_t i;

		pthread_mutex_lock(&q->mu);
		if (q->failed || q->next == q->n) {
			pthread_mutex_unlock(&q->mu);
			break;
		}
		i = q->next++;
		pthread_mutex_unlock(&q->mu);
		if (q->ops->item(q->ctx, t->local, i) == -1) {
			workq_fail(q);
			break;
		}
	}
	return NULL;
}

int
workq_run_ops(size_t n, int threads, const struct workq_ops *ops, void *ctx)
{
	struct workq q;
	struct workq_thread t[WORKQ_MAX_THREADS];
	pthread_t th[WORKQ_MAX_THREADS];
	int k, started, rc = 0;

	if (n == 0)
		return 0;
	memset(&q, 0, sizeof(q));
	memset(t, 0, sizeof(t));
	q.ops = ops;
	q.ctx = ctx;
	q.n = n;
	if (threads < 1)
		threads = 1;
	if (threads > WORKQ_MAX_THREADS)
		threads = WORKQ_MAX_THREADS;
	if ((size_t)threads > n)
		threads = (int)n;
	pthread_mutex_init(&q.mu, NULL);
	for (k = 0; k < threads; k++)
		t[k].q = &q;
	/* Slot 0 is the calling thread's. */
	for (started = 1; started < threads; started++)
		if (pthread_create(&th[started], NULL, workq_worker,
			&t[started]) != 0)
			break;
	workq_worker(&t[0]);
	for (k = 1; k < started; k++)
		pthread_join(th[k], NULL);
	if (ops->end != NULL)
		for (k = 0; k < started; k++)
			if (t[k].begun)
				ops->end(ctx, t[k].local);
	if (q.failed)
		rc = err_restore(&q.err);
	err_drop(&q.err);
	pthread_mutex_destroy(&q.mu);
	return rc;
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
