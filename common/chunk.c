/*
 * chunk.c — content-defined chunks: the gear hash, normalised cuts, the
 * chunk ids, and the chunker's own thread (see chunk.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "err.h"

/* Bytes the gear hash needs to forget the chunk's start: a shift left
 * per byte pushes a byte out of 64 bits after 64 bytes. */
#define WARM 64
/* Mask bits beyond log2(avg) below the average, and fewer above it. */
#define NORMAL 1
/* Buffers a feed cycles through: one being read, the rest queued. */
#define FEED_BUFS 4

static uint64_t gear[256];
static pthread_once_t gear_once = PTHREAD_ONCE_INIT;

/* A fixed table of random-looking words (splitmix64 from a constant):
 * it must never change, or stored chunk lists stop matching. */
static void
gear_fill(void)
{
	uint64_t x = 0x70b3d1f5c2a8e649ULL, z;
	int i;

	for (i = 0; i < 256; i++) {
		x += 0x9e3779b97f4a7c15ULL;
		z = x;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		gear[i] = z ^ (z >> 31);
	}
}

/* The top bits of the hash depend on the most bytes: test those. */
static uint64_t
top_bits(unsigned bits)
{
	return bits == 0 ? 0 : ~(uint64_t)0 << (64 - bits);
}

static unsigned
log2u(uint32_t v)
{
	unsigned k = 0;

	while (v > 1) {
		v >>= 1;
		k++;
	}
	return k;
}

int
chunk_params_for(uint32_t avg, struct chunk_params *p)
{
	if (avg < CHUNK_AVG_MIN || avg > CHUNK_AVG_MAX ||
	    (avg & (avg - 1)) != 0)
		return err_set("chunk average %lu: not a power of two from "
			       "%lu to %lu",
		    (unsigned long)avg, (unsigned long)CHUNK_AVG_MIN,
		    (unsigned long)CHUNK_AVG_MAX);
	p->avg = avg;
	p->min = avg / 4;
	p->max = avg * 4;
	return 0;
}

void
chunk_params_default(struct chunk_params *p)
{
	p->avg = CHUNK_AVG_DEFAULT;
	p->min = CHUNK_AVG_DEFAULT / 4;
	p->max = CHUNK_AVG_DEFAULT * 4;
}

void
chunk_list_free(struct chunk_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int
chunk_list_add(struct chunk_list *l, uint32_t len,
    const unsigned char id[DIGEST_LEN])
{
	struct chunk *nv;

	if (l->n == l->cap) {
		size_t cap = l->cap == 0 ? 64 : l->cap * 2;

		if ((nv = realloc(l->v, cap * sizeof(*nv))) == NULL)
			return err_nomem();
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n].off = l->size;
	l->v[l->n].len = len;
	memcpy(l->v[l->n].id, id, DIGEST_LEN);
	l->n++;
	l->size += len;
	return 0;
}

int
chunker_init(struct chunker *c, const struct chunk_params *p)
{
	unsigned k;

	memset(c, 0, sizeof(*c));
	if (p != NULL)
		c->p = *p;
	else
		chunk_params_default(&c->p);
	if (c->p.min < WARM || c->p.min > c->p.avg || c->p.avg > c->p.max)
		return err_set("chunk sizes %lu/%lu/%lu out of order",
		    (unsigned long)c->p.min, (unsigned long)c->p.avg,
		    (unsigned long)c->p.max);
	(void)pthread_once(&gear_once, gear_fill);
	k = log2u(c->p.avg);
	c->mask_small = top_bits(k + NORMAL);
	c->mask_large = top_bits(k > NORMAL ? k - NORMAL : 1);
	return digest_init(&c->dg);
}

/* End the current chunk after its len bytes (already hashed). */
static int
cut(struct chunker *c)
{
	unsigned char id[DIGEST_LEN];

	if (digest_final(&c->dg, id) == -1 ||
	    chunk_list_add(&c->out, c->len, id) == -1)
		return -1;
	c->len = 0;
	c->h = 0;
	return digest_init(&c->dg);
}

/*
 * How many bytes of p[0..n) belong to the current chunk, and whether it
 * ends there.  Three stretches, each a tight loop: up to min - WARM not
 * hashed at all, then the warm-up to min and the stricter mask up to
 * avg, then the looser mask up to max.
 */
static size_t
scan(struct chunker *c, const unsigned char *p, size_t n, bool *ended)
{
	const uint32_t skip = c->p.min - WARM;
	uint64_t h = c->h;
	uint32_t len = c->len;
	size_t i = 0, end;

	*ended = false;
	if (len < skip) {
		end = skip - len < n ? skip - len : n;
		i = end;
		len += (uint32_t)end;
	}
	if (i < n && len < c->p.min) {
		end = i + (c->p.min - len) < n ? i + (c->p.min - len) : n;
		for (; i < end; i++)
			h = (h << 1) + gear[p[i]];
		len = c->len + (uint32_t)i;
	}
	if (i < n && len < c->p.avg) {
		const uint64_t mask = c->mask_small;

		end = i + (c->p.avg - len) < n ? i + (c->p.avg - len) : n;
		for (; i < end; i++) {
			h = (h << 1) + gear[p[i]];
			if ((h & mask) == 0) {
				*ended = true;
				i++;
				goto out;
			}
		}
		len = c->len + (uint32_t)i;
	}
	if (i < n && len < c->p.max) {
		const uint64_t mask = c->mask_large;

		end = i + (c->p.max - len) < n ? i + (c->p.max - len) : n;
		for (; i < end; i++) {
			h = (h << 1) + gear[p[i]];
			if ((h & mask) == 0) {
				*ended = true;
				i++;
				goto out;
			}
		}
	}
out:
	c->h = h;
	if (c->len + (uint32_t)i == c->p.max)
		*ended = true;
	return i;
}

int
chunker_update(struct chunker *c, const void *buf, size_t n)
{
	const unsigned char *p = buf;

	while (n > 0) {
		bool ended;
		size_t k = scan(c, p, n, &ended);

		if (digest_update(&c->dg, p, k) == -1)
			return -1;
		c->len += (uint32_t)k;
		if (ended && cut(c) == -1)
			return -1;
		p += k;
		n -= k;
	}
	return 0;
}

int
chunker_final(struct chunker *c, struct chunk_list *out)
{
	unsigned char id[DIGEST_LEN];

	if (c->len > 0) {
		if (digest_final(&c->dg, id) == -1 ||
		    chunk_list_add(&c->out, c->len, id) == -1) {
			chunker_free(c);
			return -1;
		}
	}
	*out = c->out;
	memset(&c->out, 0, sizeof(c->out));
	chunker_free(c);
	return 0;
}

void
chunker_free(struct chunker *c)
{
	digest_free(&c->dg);
	chunk_list_free(&c->out);
}

/* ---- a chunker on its own thread ---- */

struct chunk_feed {
	struct chunker c;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned char *buf[FEED_BUFS];
	size_t len[FEED_BUFS];
	/* Buffers go round: [head, head + queued) wait for the chunker,
	 * the one after them is the caller's, the rest are free. */
	size_t head, queued;
	bool lent; /* the caller holds buf[head + queued] */
	bool stop, failed;
	struct err_saved err; /* the chunker's failure, for the caller */
};

static void *
feed_run(void *arg)
{
	struct chunk_feed *f = arg;
	size_t slot, n;
	bool skip;
	int r;

	pthread_mutex_lock(&f->mu);
	for (;;) {
		while (f->queued == 0 && !f->stop)
			pthread_cond_wait(&f->cv, &f->mu);
		if (f->queued == 0)
			break;
		slot = f->head;
		n = f->len[slot];
		skip = f->failed;
		pthread_mutex_unlock(&f->mu);
		r = skip ? 0 : chunker_update(&f->c, f->buf[slot], n);
		pthread_mutex_lock(&f->mu);
		if (r == -1 && !f->failed) {
			f->failed = true;
			err_save(&f->err);
		}
		f->head = (f->head + 1) % FEED_BUFS;
		f->queued--;
		pthread_cond_broadcast(&f->cv);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

static void
feed_free(struct chunk_feed *f)
{
	size_t i;

	for (i = 0; i < FEED_BUFS; i++)
		free(f->buf[i]);
	chunker_free(&f->c);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	err_drop(&f->err);
	free(f);
}

int
chunk_feed_start(const struct chunk_params *p, struct chunk_feed **out)
{
	struct chunk_feed *f;
	size_t i;
	int e;

	*out = NULL;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return err_nomem();
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	if (chunker_init(&f->c, p) == -1)
		goto fail;
	for (i = 0; i < FEED_BUFS; i++)
		if ((f->buf[i] = malloc(CHUNK_FEED_BUF)) == NULL) {
			err_nomem();
			goto fail;
		}
	if ((e = pthread_create(&f->th, NULL, feed_run, f)) != 0) {
		errno = e;
		err_sys("cannot start the chunker");
		goto fail;
	}
	*out = f;
	return 0;
fail:
	feed_free(f);
	return -1;
}

unsigned char *
chunk_feed_buf(struct chunk_feed *f)
{
	size_t slot;

	pthread_mutex_lock(&f->mu);
	while (f->queued == FEED_BUFS - 1)
		pthread_cond_wait(&f->cv, &f->mu);
	slot = (f->head + f->queued) % FEED_BUFS;
	f->lent = true;
	pthread_mutex_unlock(&f->mu);
	return f->buf[slot];
}

int
chunk_feed_push(struct chunk_feed *f, size_t n)
{
	size_t slot;

	pthread_mutex_lock(&f->mu);
	if (!f->lent) {
		pthread_mutex_unlock(&f->mu);
		return err_set("chunker: a buffer pushed that was not lent");
	}
	slot = (f->head + f->queued) % FEED_BUFS;
	f->len[slot] = n > CHUNK_FEED_BUF ? CHUNK_FEED_BUF : n;
	f->lent = false;
	f->queued++;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static void
feed_join(struct chunk_feed *f)
{
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->th, NULL);
}

int
chunk_feed_end(struct chunk_feed *f, struct chunk_list *out)
{
	int rc;

	feed_join(f);
	if (f->failed) {
		err_restore(&f->err);
		feed_free(f);
		return -1;
	}
	rc = chunker_final(&f->c, out);
	feed_free(f);
	return rc;
}

void
chunk_feed_abort(struct chunk_feed *f)
{
	if (f == NULL)
		return;
	pthread_mutex_lock(&f->mu);
	f->failed = true;
	pthread_mutex_unlock(&f->mu);
	feed_join(f);
	feed_free(f);
}
