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
	workq_fn *fn;
	void *ctx;
	size_t n, next;
	pthread_mutex_t mu;
	bool failed;
	struct err_saved err; /* the first error (err.h is per thread) */
};

static void *
workq_worker(void *arg)
{
	struct workq *q = arg;

	for (;;) {
		size_t i;

		pthread_mutex_lock(&q->mu);
		if (q->failed || q->next == q->n) {
			pthread_mutex_unlock(&q->mu);
			break;
		}
		i = q->next++;
		pthread_mutex_unlock(&q->mu);
		if (q->fn(q->ctx, i) == -1) {
			pthread_mutex_lock(&q->mu);
			if (!q->failed) {
				q->failed = true;
				err_save(&q->err);
			}
			pthread_mutex_unlock(&q->mu);
			break;
		}
	}
	return NULL;
}

int
workq_run(size_t n, int threads, workq_fn *fn, void *ctx)
{
	struct workq q;
	pthread_t th[WORKQ_MAX_THREADS];
	int k, rc = 0;

	if (n == 0)
		return 0;
	memset(&q, 0, sizeof(q));
	q.fn = fn;
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
		if (pthread_create(&th[k], NULL, workq_worker, &q) != 0)
			break;
	if (k == 0)
		workq_worker(&q);
	while (k-- > 0)
		pthread_join(th[k], NULL);
	if (q.failed)
		rc = err_restore(&q.err);
	err_drop(&q.err);
	pthread_mutex_destroy(&q.mu);
	return rc;
}
