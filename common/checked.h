/*
 * checked.h — the one checked copy: the bytes of a content, named by its
 * SHA-256 and size, copied into files while both are checked.
 *
 * No copy of a content is taken on trust: the store's object, the DP's
 * old copy of a file, a remote DP's saved copy in .incoming, the bytes
 * off the connection.  checked_copy() hashes and counts every byte as it
 * writes it, stops at the first byte beyond the size (a hostile source
 * cannot make it write more), and fails on a short content or another
 * digest.  The source hands out its bytes in place (a pointer, not a
 * copy), so a mapped file is hashed and written from its mapping.
 */
#ifndef PKGDIST_CHECKED_H
#define PKGDIST_CHECKED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "digest.h"

/* Whose a failure of checked_copy() was. */
enum checked_fault {
	CHECKED_NONE = 0,
	CHECKED_SOURCE,	 /* the source could not be read */
	CHECKED_CONTENT, /* the bytes are not the content: too many, too
			  * few, another digest */
	CHECKED_OUTPUT	 /* an output could not be written */
};

struct checked_source {
	/* Point *p at the next bytes of the content (valid until the next
	 * call) and return their count; 0 at the end; -1 with err set. */
	ssize_t (*next)(void *ctx, const unsigned char **p);
	void *ctx;
};

/* One output: fd (a new, empty file, at offset 0) and its name in
 * messages. */
struct checked_out {
	int fd;
	const char *what;
};

/*
 * Copy the content of SHA-256 d and size bytes from src into each of the
 * n outputs (n may be 0: receive and check only).  0, or -1 with err set
 * ("content HEX: ..."; a mismatch of the digest is worded with damaged
 * after it, e.g. " (store damaged)", or "") and *fault (may be NULL)
 * saying whose the failure was.  err_errno() of a failed write is kept
 * (ENOSPC from a full disk stays ENOSPC).
 */
int checked_copy(const struct checked_source *src,
    const unsigned char d[DIGEST_LEN], uint64_t size,
    const struct checked_out *out, size_t n, const char *damaged,
    enum checked_fault *fault);

/*
 * checked_copy() of the file in, from its offset (inwhat names it), into
 * out (what names it): read into buf (len bytes) with io_read_full(); a
 * short read is the end of in (no read(2) more to see it return 0).
 */
int checked_copy_fd(int in, const char *inwhat, void *buf, size_t len,
    const unsigned char d[DIGEST_LEN], uint64_t size, int out, const char *what,
    enum checked_fault *fault);

#endif
