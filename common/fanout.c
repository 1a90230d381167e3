/*
 * fanout.c — each content read, inflated and checked once (fanout.h).
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "fanout.h"
#include "io.h"

/* One content, by digest: being written by a DP, or kept to copy from. */
enum kept_state { KEPT_EMPTY, KEPT_WRITING, KEPT_READY, KEPT_DROPPED };

struct kept {
	unsigned char digest[DIGEST_LEN];
	uint64_t size;
	int fd; /* read-only, when KEPT_READY */
	enum kept_state state;
};

/*
 * An open-addressed table of twice the most entries it will take, so
 * entries never move (a writer keeps a pointer to its own) and a probe
 * ends soon.  A dropped entry stays as a marker until fanout_free().
 */
struct fanout {
	struct content_source inner;
	pthread_mutex_t mu;
	pthread_cond_t done; /* a write in progress ended */
	struct kept *v;
	size_t slots, used, max;
};

static size_t
limit_files(void)
{
	struct rlimit rl;
	size_t max = FANOUT_MAX_FILES;

	/* Leave three quarters of the descriptors to the walks of trees
	 * and the DPs' own files. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 4 < max)
		max = (size_t)(rl.rlim_cur / 4);
	return max;
}

/*
 * The live entry for (d, size), else the empty slot where it would go
 * (NULL when the table has no room for it); called with f->mu held.
 * SHA-256 digests are uniform, so their first bytes are the hash.
 */
static struct kept *
slot(struct fanout *f, const unsigned char d[DIGEST_LEN], uint64_t size)
{
	uint64_t h = 0;
	size_t i, probes;

	memcpy(&h, d, sizeof(h));
	for (i = (size_t)h & (f->slots - 1), probes = 0; probes < f->slots;
	     i = (i + 1) & (f->slots - 1), probes++) {
		struct kept *k = &f->v[i];

		if (k->state == KEPT_EMPTY)
			return f->used < f->max ? k : NULL;
		if (k->state != KEPT_DROPPED && k->size == size &&
		    memcmp(k->digest, d, DIGEST_LEN) == 0)
			return k;
	}
	return NULL;
}

/*
 * A read-only descriptor of the file open as fd (which the layouts open
 * write-only), or -1: through /proc, the one way to get one for a file
 * whose name may change.  Not having one only costs the saving.
 */
static int
reopen_readonly(int fd, uint64_t size)
{
	char path[64];
	struct stat a, b;
	int rfd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if ((rfd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &a) == -1 || fstat(rfd, &b) == -1 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino ||
	    !S_ISREG(b.st_mode) || (uint64_t)b.st_size != size) {
		close(rfd);
		return -1;
	}
	return rfd;
}

/* Mark k written (kept: rfd >= 0) or dropped: the next DP to ask for it
 * then reads the store. */
static void
finish(struct fanout *f, struct kept *k, int rfd)
{
	pthread_mutex_lock(&f->mu);
	k->fd = rfd;
	k->state = rfd >= 0 ? KEPT_READY : KEPT_DROPPED;
	pthread_cond_broadcast(&f->done);
	pthread_mutex_unlock(&f->mu);
}

static int
fanout_write(void *ctx, const unsigned char d[DIGEST_LEN], uint64_t size,
    int fd, const char *what)
{
	struct fanout *f = ctx;
	struct kept *k;
	int from;

	if (size < FANOUT_MIN_SIZE)
		return f->inner.write(f->inner.ctx, d, size, fd, what);
	pthread_mutex_lock(&f->mu);
	while ((k = slot(f, d, size)) != NULL && k->state == KEPT_WRITING)
		pthread_cond_wait(&f->done, &f->mu);
	if (k != NULL && k->state == KEPT_READY) {
		/* Kept descriptors are closed only by fanout_free(). */
		from = k->fd;
		pthread_mutex_unlock(&f->mu);
		if (io_copy_file(from, fd, size, what) == -1)
			return -1;
		return 0;
	}
	if (k != NULL) {
		memcpy(k->digest, d, DIGEST_LEN);
		k->size = size;
		k->state = KEPT_WRITING;
		f->used++;
	}
	pthread_mutex_unlock(&f->mu);
	if (f->inner.write(f->inner.ctx, d, size, fd, what) == -1) {
		if (k != NULL)
			finish(f, k, -1);
		return -1;
	}
	if (k != NULL)
		finish(f, k, reopen_readonly(fd, size));
	return 0;
}

struct fanout *
fanout_new(const struct content_source *inner, struct content_source *src)
{
	struct fanout *f;

	if ((f = calloc(1, sizeof(*f))) == NULL) {
		err_nomem();
		return NULL;
	}
	if (pthread_mutex_init(&f->mu, NULL) != 0) {
		free(f);
		err_nomem();
		return NULL;
	}
	if (pthread_cond_init(&f->done, NULL) != 0) {
		pthread_mutex_destroy(&f->mu);
		free(f);
		err_nomem();
		return NULL;
	}
	f->inner = *inner;
	f->max = limit_files();
	for (f->slots = 64; f->slots < 2 * f->max; f->slots *= 2)
		;
	if ((f->v = calloc(f->slots, sizeof(*f->v))) == NULL) {
		fanout_free(f);
		err_nomem();
		return NULL;
	}
	src->ctx = f;
	src->prepare = NULL;
	src->write = fanout_write;
	src->write_shared = NULL;
	return f;
}

void
fanout_free(struct fanout *f)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; f->v != NULL && i < f->slots; i++)
		if (f->v[i].state == KEPT_READY)
			close(f->v[i].fd);
	free(f->v);
	pthread_cond_destroy(&f->done);
	pthread_mutex_destroy(&f->mu);
	free(f);
}
