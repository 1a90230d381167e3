/*
 * test_checked.c — the one checked copy (checked.h): a content is
 * written whole when its bytes have its size and SHA-256; a source with
 * a byte too many is stopped before that byte is written, a short one
 * or one with other bytes fails, and the failure says whose it was (the
 * content, the source, an output).  checked_copy_fd() copies a file the
 * same way with any buffer size.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checked.h"
#include "digest.h"
#include "err.h"
#include "tap.h"

/* A source handing out a buffer in pieces of at most step bytes; fail
 * set: an error after the first piece. */
struct mem {
	const unsigned char *p;
	size_t n, done, step;
	int fail;
};

static ssize_t
mem_next(void *ctx, const unsigned char **p)
{
	struct mem *m = ctx;
	size_t k = m->n - m->done < m->step ? m->n - m->done : m->step;

	if (m->fail && m->done > 0) {
		errno = EIO;
		return err_sys("cannot read the source");
	}
	*p = m->p + m->done;
	m->done += k;
	return (ssize_t)k;
}

static void
sha(const void *buf, size_t n, unsigned char d[DIGEST_LEN])
{
	struct digest dg = { NULL };

	if (digest_init(&dg) == -1 || digest_update(&dg, buf, n) == -1 ||
	    digest_final(&dg, d) == -1)
		memset(d, 0, DIGEST_LEN);
}

/* A new, empty temporary file. */
static int
tmpfile_fd(void)
{
	char name[] = "/tmp/test_checked.XXXXXX";
	int fd = mkstemp(name);

	if (fd != -1)
		unlink(name);
	return fd;
}

static off_t
fd_size(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? st.st_size : -1;
}

/* Copy n bytes of data, announced as (d, size), in pieces of step. */
static int
copy(const unsigned char *data, size_t n, size_t step,
    const unsigned char d[DIGEST_LEN], uint64_t size, int fd,
    enum checked_fault *fault)
{
	struct mem m = { data, n, 0, step, 0 };
	struct checked_source src = { mem_next, &m };
	struct checked_out out = { fd, "out" };

	return checked_copy(&src, d, size, &out, 1, " (damaged)", fault);
}

int
main(void)
{
	static unsigned char data[300000];
	unsigned char d[DIGEST_LEN], buf[4096];
	enum checked_fault fault;
	struct checked_out two[2];
	struct checked_source src;
	struct mem m;
	size_t i;
	int fd, fd2, in;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + i / 251);
	sha(data, sizeof(data), d);

	fd = tmpfile_fd();
	tap_ok(copy(data, sizeof(data), 65536, d, sizeof(data), fd, &fault) ==
		    0 &&
		fault == CHECKED_NONE && fd_size(fd) == (off_t)sizeof(data),
	    "the right bytes are written whole: %s", err_get());
	close(fd);

	/* One byte more than the size: stopped before it is written. */
	fd = tmpfile_fd();
	tap_ok(copy(data, sizeof(data), 1000, d, sizeof(data) - 1, fd,
		   &fault) == -1 &&
		fault == CHECKED_CONTENT &&
		strstr(err_get(), "longer than its size") != NULL &&
		fd_size(fd) < (off_t)sizeof(data) - 1,
	    "a byte beyond the size is refused, unwritten: %s", err_get());
	close(fd);

	fd = tmpfile_fd();
	tap_ok(copy(data, sizeof(data) - 1, 65536, d, sizeof(data), fd,
		   &fault) == -1 &&
		fault == CHECKED_CONTENT &&
		strstr(err_get(), "bytes, 300000 expected") != NULL,
	    "a short content fails: %s", err_get());
	close(fd);

	data[12345] ^= 1;
	fd = tmpfile_fd();
	tap_ok(copy(data, sizeof(data), 65536, d, sizeof(data), fd, &fault) ==
		    -1 &&
		fault == CHECKED_CONTENT &&
		strstr(err_get(), "digest mismatch (damaged)") != NULL,
	    "other bytes fail, worded with the caller's note: %s", err_get());
	close(fd);
	data[12345] ^= 1;

	memset(&m, 0, sizeof(m));
	m.p = data;
	m.n = sizeof(data);
	m.step = 65536;
	m.fail = 1;
	src.next = mem_next;
	src.ctx = &m;
	fd = tmpfile_fd();
	two[0].fd = fd;
	two[0].what = "out";
	tap_ok(checked_copy(&src, d, sizeof(data), two, 1, NULL, &fault) ==
		    -1 &&
		fault == CHECKED_SOURCE && err_errno() == EIO,
	    "a source that fails is the source's fault: %s", err_get());
	close(fd);

	/* A closed output: the output's fault, errno kept. */
	fd = tmpfile_fd();
	close(fd);
	tap_ok(copy(data, sizeof(data), 65536, d, sizeof(data), fd, &fault) ==
		    -1 &&
		fault == CHECKED_OUTPUT && err_errno() == EBADF,
	    "an output that fails is the output's fault: %s", err_get());

	/* Two outputs, one of them none (-1). */
	memset(&m, 0, sizeof(m));
	m.p = data;
	m.n = sizeof(data);
	m.step = 4096;
	fd = tmpfile_fd();
	fd2 = tmpfile_fd();
	two[0].fd = -1;
	two[0].what = "none";
	two[1].fd = fd2;
	two[1].what = "tee";
	tap_ok(checked_copy(&src, d, sizeof(data), two, 2, NULL, &fault) == 0 &&
		fd_size(fd2) == (off_t)sizeof(data),
	    "an output of -1 is skipped, the other written: %s", err_get());
	close(fd);

	/* checked_copy_fd: a file read with a buffer smaller than it. */
	in = fd2;
	fd = tmpfile_fd();
	tap_ok(lseek(in, 0, SEEK_SET) == 0 &&
		checked_copy_fd(in, "in", buf, sizeof(buf), d, sizeof(data), fd,
		    "out", &fault) == 0 &&
		fd_size(fd) == (off_t)sizeof(data),
	    "checked_copy_fd copies a file in buffer-sized reads: %s",
	    err_get());
	close(fd);
	fd = tmpfile_fd();
	tap_ok(lseek(in, 0, SEEK_SET) == 0 &&
		checked_copy_fd(in, "in", buf, sizeof(buf), d, sizeof(data) + 1,
		    fd, "out", &fault) == -1 &&
		fault == CHECKED_CONTENT,
	    "checked_copy_fd: a file shorter than its size fails: %s",
	    err_get());
	close(fd);
	close(in);

	sha("", 0, d);
	fd = tmpfile_fd();
	tap_ok(copy(data, 0, 1, d, 0, fd, &fault) == 0 && fd_size(fd) == 0,
	    "an empty content: %s", err_get());
	close(fd);
	return tap_done();
}
