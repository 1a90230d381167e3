/*
 * blob.c — zlib where it pays (see blob.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "blob.h"
#include "err.h"
#include "io.h"

/*
 * The histogram's collision probability sum(q^2) gives the Renyi
 * entropy -log2(sum(q^2)), a lower bound of Shannon's: random bytes give
 * about 7.99 bits per byte, text about 4 to 5.  Compared without log():
 * H2 > 7.8 bits means sum(q^2) < 2^-7.8.
 */
#define RANDOM_BELOW 0.004487 /* 2^-7.8: taken for random */
#define PAYS_ABOVE 0.008974   /* 2^-6.8: zlib surely saves > 10 % */
/* Sample deflated when the histogram cannot tell. */
#define SAMPLE ((size_t)16 << 10)

static double
collision(const unsigned char *p, size_t n)
{
	uint32_t h[256];
	uint64_t s = 0;
	size_t i;

	memset(h, 0, sizeof(h));
	for (i = 0; i < n; i++)
		h[p[i]]++;
	for (i = 0; i < 256; i++)
		s += (uint64_t)h[i] * h[i];
	return (double)s / ((double)n * (double)n);
}

bool
blob_pays(const void *buf, size_t n)
{
	unsigned char tmp[SAMPLE + SAMPLE / 8 + 64];
	uLongf outlen;
	double c;

	if (n < 128)
		return false;
	if (n > BLOB_PROBE)
		n = BLOB_PROBE;
	c = collision(buf, n);
	if (c < RANDOM_BELOW)
		return false;
	if (c > PAYS_ABOVE)
		return true;
	/* In between (executables, mixed data): try a sample. */
	if (n > SAMPLE)
		n = SAMPLE;
	outlen = sizeof(tmp);
	if (compress2(tmp, &outlen, buf, (uLong)n, 1) != Z_OK)
		return false;
	return (double)outlen < 0.9 * (double)n;
}

static int
zerr(z_stream *z, int r, const char *what)
{
	if (r == Z_MEM_ERROR) {
		errno = ENOMEM;
		return err_sys("%s: zlib", what);
	}
	return err_set("%s: zlib stream error: %s", what,
	    z != NULL && z->msg != NULL ? z->msg : "corrupt data");
}

int
blob_deflate_init(struct blob_deflate *b)
{
	z_stream *z;
	int r;

	memset(b, 0, sizeof(*b));
	if ((z = calloc(1, sizeof(*z))) == NULL ||
	    (b->out = malloc(BLOB_CHUNK)) == NULL) {
		free(z);
		return err_nomem();
	}
	if ((r = deflateInit(z, BLOB_LEVEL)) != Z_OK) {
		free(z);
		free(b->out);
		b->out = NULL;
		return zerr(NULL, r, "deflate");
	}
	b->z = z;
	b->level = BLOB_LEVEL;
	return 0;
}

/* Run deflate with flush until it needs more input (or ends), writing
 * every full output buffer. */
static int
drain(struct blob_deflate *b, int flush, int fd, const char *what,
    uint64_t *written)
{
	z_stream *z = b->z;
	size_t have;
	int r;

	do {
		z->next_out = b->out;
		z->avail_out = (uInt)BLOB_CHUNK;
		r = deflate(z, flush);
		if (r == Z_STREAM_ERROR)
			return zerr(z, r, what);
		have = BLOB_CHUNK - z->avail_out;
		if (have > 0) {
			if (io_write_full(fd, b->out, have, what) == -1)
				return -1;
			if (written != NULL)
				*written += have;
		}
	} while (z->avail_out == 0 || (flush == Z_FINISH && r != Z_STREAM_END));
	return 0;
}

int
blob_deflate_write(struct blob_deflate *b, const void *in, size_t n, int fd,
    const char *what, uint64_t *written)
{
	z_stream *z = b->z;
	int want, r;

	while (n > 0) {
		size_t part = n > BLOB_CHUNK ? BLOB_CHUNK : n;

		want = blob_pays(in, part) ? BLOB_LEVEL : Z_NO_COMPRESSION;
		if (want != b->level) {
			/* deflateParams flushes what is pending; it may need
			 * more than one output buffer. */
			do {
				z->next_in = NULL;
				z->avail_in = 0;
				z->next_out = b->out;
				z->avail_out = (uInt)BLOB_CHUNK;
				r = deflateParams(z, want, Z_DEFAULT_STRATEGY);
				if (r != Z_OK && r != Z_BUF_ERROR)
					return zerr(z, r, what);
				if (BLOB_CHUNK - z->avail_out > 0) {
					size_t have = BLOB_CHUNK - z->avail_out;

					if (io_write_full(fd, b->out, have,
						what) == -1)
						return -1;
					if (written != NULL)
						*written += have;
				}
			} while (r == Z_BUF_ERROR);
			b->level = want;
		}
		z->next_in = (unsigned char *)(uintptr_t)in;
		z->avail_in = (uInt)part;
		if (drain(b, Z_NO_FLUSH, fd, what, written) == -1)
			return -1;
		in = (const unsigned char *)in + part;
		n -= part;
	}
	return 0;
}

int
blob_deflate_finish(struct blob_deflate *b, int fd, const char *what,
    uint64_t *written)
{
	z_stream *z = b->z;

	z->next_in = NULL;
	z->avail_in = 0;
	return drain(b, Z_FINISH, fd, what, written);
}

void
blob_deflate_end(struct blob_deflate *b)
{
	if (b->z != NULL) {
		deflateEnd(b->z);
		free(b->z);
	}
	free(b->out);
	b->z = NULL;
	b->out = NULL;
}

int
blob_compress(const void *in, size_t n, unsigned char **out, size_t *outlen)
{
	uLongf len = compressBound((uLong)n);
	unsigned char *p;
	int r;

	if ((p = malloc(len > 0 ? len : 1)) == NULL)
		return err_nomem();
	if ((r = compress2(p, &len, in, (uLong)n, 6)) != Z_OK) {
		free(p);
		return zerr(NULL, r, "compress");
	}
	*out = p;
	*outlen = len;
	return 0;
}

int
blob_uncompress(const void *in, size_t n, unsigned char *out, size_t outlen,
    const char *what)
{
	z_stream z;
	int r;

	memset(&z, 0, sizeof(z));
	if ((r = inflateInit(&z)) != Z_OK)
		return zerr(NULL, r, what);
	z.next_in = (unsigned char *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)outlen;
	r = inflate(&z, Z_FINISH);
	if (r != Z_STREAM_END) {
		if (r == Z_OK || r == Z_BUF_ERROR)
			err_set("%s: compressed data %s", what,
			    z.avail_out == 0 ? "longer than stated" :
					       "truncated");
		else
			zerr(&z, r, what);
		inflateEnd(&z);
		return -1;
	}
	if (z.avail_out != 0 || z.avail_in != 0) {
		inflateEnd(&z);
		return err_set("%s: compressed data of wrong length", what);
	}
	inflateEnd(&z);
	return 0;
}

int
blob_inflate_init(struct blob_inflate *b,
    ssize_t (*rd)(void *arg, void *buf, size_t n), void *arg, const char *what)
{
	z_stream *z;
	int r;

	memset(b, 0, sizeof(*b));
	if ((z = calloc(1, sizeof(*z))) == NULL ||
	    (b->in = malloc(BLOB_CHUNK)) == NULL) {
		free(z);
		return err_nomem();
	}
	if ((r = inflateInit(z)) != Z_OK) {
		free(z);
		free(b->in);
		b->in = NULL;
		return zerr(NULL, r, what);
	}
	b->z = z;
	b->rd = rd;
	b->arg = arg;
	b->what = what;
	return 0;
}

ssize_t
blob_inflate_read(struct blob_inflate *b, void *out, size_t n)
{
	z_stream *z = b->z;
	ssize_t got;
	int r;

	if (n > BLOB_CHUNK * 16)
		n = BLOB_CHUNK * 16;
	while (!b->done) {
		if (z->avail_in == 0 && !b->in_eof) {
			if ((got = b->rd(b->arg, b->in, BLOB_CHUNK)) == -1)
				return -1;
			if (got == 0)
				b->in_eof = true;
			z->next_in = b->in;
			z->avail_in = (uInt)got;
		}
		z->next_out = out;
		z->avail_out = (uInt)n;
		r = inflate(z, Z_NO_FLUSH);
		if (r == Z_STREAM_END) {
			b->done = true;
		} else if (r == Z_BUF_ERROR) {
			if (b->in_eof && z->avail_in == 0)
				return err_set("%s: compressed data truncated",
				    b->what);
		} else if (r != Z_OK) {
			return zerr(z, r, b->what);
		}
		if (n - z->avail_out > 0)
			return (ssize_t)(n - z->avail_out);
		if (b->in_eof && z->avail_in == 0 && !b->done)
			return err_set("%s: compressed data truncated",
			    b->what);
	}
	/* The end: nothing may follow the stream. */
	if (z->avail_in != 0)
		return err_set("%s: data after the end of the compressed "
			       "stream",
		    b->what);
	while (!b->in_eof) {
		unsigned char c;

		if ((got = b->rd(b->arg, &c, 1)) == -1)
			return -1;
		if (got == 0)
			b->in_eof = true;
		else
			return err_set("%s: data after the end of the "
				       "compressed stream",
			    b->what);
	}
	return 0;
}

void
blob_inflate_end(struct blob_inflate *b)
{
	if (b->z != NULL) {
		inflateEnd(b->z);
		free(b->z);
	}
	free(b->in);
	b->z = NULL;
	b->in = NULL;
}
