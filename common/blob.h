/*
 * blob.h — the stored form of a content: zlib where it pays, else the
 * bytes as they are.
 *
 * zlib compresses random data at only about 30-50 MB/s, so nothing is
 * compressed blindly.  blob_pays() looks at the first BLOB_PROBE bytes:
 * their byte entropy (a histogram: about 1 GB/s) settles the clear cases,
 * and a fast deflate of a small sample settles the rest.  While a
 * content is compressed, each chunk is checked the same way and one that
 * does not pay is stored inside the zlib stream without compression
 * (deflateParams level 0), so a file that starts as text and goes on as
 * random bytes costs little.  The result is always a standard zlib
 * stream (RFC 1950) that any inflate can read.
 *
 * struct blob_deflate compresses chunk by chunk to a file descriptor;
 * struct blob_inflate decompresses from a caller's read callback.  Both
 * return -1 with err.h set on failure and never print.
 */
#ifndef PKGDIST_BLOB_H
#define PKGDIST_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Read and write chunk used by the store and package files. */
#define BLOB_CHUNK ((size_t)1 << 20)
/* Bytes looked at to decide. */
#define BLOB_PROBE ((size_t)64 << 10)
/* The zlib level used for contents that pay. */
#define BLOB_LEVEL 1

/* True when compressing the content starting with buf[0..n) pays
 * (saves more than about 10 %).  Contents under 128 bytes never do. */
bool blob_pays(const void *buf, size_t n);

struct blob_deflate {
	void *z;	    /* z_stream */
	int level;	    /* current level */
	unsigned char *out; /* BLOB_CHUNK output buffer */
};

int blob_deflate_init(struct blob_deflate *b);
/* Compress n bytes (a chunk; the chunk's own probe decides its level)
 * and write what zlib outputs to fd; *written (may be NULL) is
 * increased by the bytes written.  what names fd in messages. */
int blob_deflate_write(struct blob_deflate *b, const void *in, size_t n, int fd,
    const char *what, uint64_t *written);
/* Finish the stream and write the rest. */
int blob_deflate_finish(struct blob_deflate *b, int fd, const char *what,
    uint64_t *written);
/* Free; safe on an initialised or zeroed struct, and twice. */
void blob_deflate_end(struct blob_deflate *b);

/* Compress a whole buffer (manifests in package files); *out malloc'd. */
int blob_compress(const void *in, size_t n, unsigned char **out,
    size_t *outlen);
/* Inflate a whole buffer that must give exactly outlen bytes. */
int blob_uncompress(const void *in, size_t n, unsigned char *out, size_t outlen,
    const char *what);

/* Streaming inflate: stored bytes come from rd (count, 0 at end, -1
 * error with err set).  A stream that ends early, has trailing bytes
 * or is corrupt is an error naming what. */
struct blob_inflate {
	void *z;	   /* z_stream */
	unsigned char *in; /* BLOB_CHUNK input buffer */
	ssize_t (*rd)(void *arg, void *buf, size_t n);
	void *arg;
	const char *what;
	bool in_eof; /* rd returned 0 */
	bool done;   /* Z_STREAM_END seen */
};

int blob_inflate_init(struct blob_inflate *b,
    ssize_t (*rd)(void *arg, void *buf, size_t n), void *arg, const char *what);
/* Up to n original bytes; 0 at the (checked) end of the stream. */
ssize_t blob_inflate_read(struct blob_inflate *b, void *out, size_t n);
void blob_inflate_end(struct blob_inflate *b);

#endif
