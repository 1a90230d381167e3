/*
 * siteline.c — lines and blocks of a child site's session (siteline.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "siteline.h"

/* Wait for fd to be readable: 0, or -1 with err (timed out, failed). */
static int
wait_readable(int fd, double timeout, const char *peer)
{
	struct pollfd pf;
	int r;

	for (;;) {
		pf.fd = fd;
		pf.events = POLLIN;
		pf.revents = 0;
		if ((r = poll(&pf, 1,
			 timeout > 0 ? (int)(timeout * 1000) : -1)) == -1) {
			if (errno == EINTR)
				continue;
			return err_sys("%s", peer);
		}
		if (r == 0)
			return err_set("%s: no answer for %.0f s", peer,
			    timeout);
		return 0;
	}
}

/* Up to n bytes (at least one): the count, or -1 with err (the end of
 * the stream is an error: the peer went away). */
static ssize_t
read_some(int fd, double timeout, const char *peer, void *buf, size_t n)
{
	ssize_t k;

	for (;;) {
		if (wait_readable(fd, timeout, peer) == -1)
			return -1;
		if ((k = read(fd, buf, n)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return err_sys("%s", peer);
		}
		if (k == 0)
			return err_set("%s: the connection closed", peer);
		return k;
	}
}

/* Byte by byte: what follows the line is not ours to take. */
int
siteline_read(int fd, double timeout, const char *peer, char *buf, size_t max)
{
	size_t n = 0;

	for (;;) {
		if (read_some(fd, timeout, peer, buf + n, 1) == -1)
			return -1;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return 0;
		}
		if (++n == max - 1)
			return err_set("%s: a line too long", peer);
	}
}

int
siteline_read_full(int fd, double timeout, const char *peer, void *buf,
    size_t n)
{
	unsigned char *p = buf;
	size_t done = 0;
	ssize_t k;

	while (done < n) {
		if ((k = read_some(fd, timeout, peer, p + done, n - done)) ==
		    -1)
			return -1;
		done += (size_t)k;
	}
	return 0;
}

int
siteline_write_full(int fd, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	size_t done = 0;
	ssize_t k;

	while (done < n) {
		/* A socket: a peer gone is EPIPE, not our death. */
		if ((k = send(fd, p + done, n - done, MSG_NOSIGNAL)) == -1 &&
		    errno == ENOTSOCK)
			k = write(fd, p + done, n - done);
		if (k == -1) {
			if (errno == EINTR)
				continue;
			return err_sys("cannot write to the peer");
		}
		done += (size_t)k;
	}
	return 0;
}

int
siteline_write(int fd, const char *fmt, ...)
{
	char buf[SITELINE_MAX];
	va_list ap;
	size_t len, i;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	len = strlen(buf);
	for (i = 0; i < len; i++)
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = ' ';
	buf[len++] = '\n';
	return siteline_write_full(fd, buf, len);
}

/* A block of digest lines: a few pages. */
#define DIGEST_LINE (DIGEST_HEXLEN + 1)
#define DIGEST_LINES 252

int
siteline_read_digests(int fd, double timeout, const char *peer, uint64_t n,
    int (*fn)(void *arg, const unsigned char d[DIGEST_LEN]), void *arg)
{
	char buf[DIGEST_LINES * DIGEST_LINE];
	unsigned char d[DIGEST_LEN];
	size_t k, i;

	while (n > 0) {
		k = n < DIGEST_LINES ? (size_t)n : DIGEST_LINES;
		if (siteline_read_full(fd, timeout, peer, buf,
			k * DIGEST_LINE) == -1)
			return -1;
		for (i = 0; i < k; i++) {
			if (buf[i * DIGEST_LINE + DIGEST_HEXLEN] != '\n' ||
			    digest_unhex(buf + i * DIGEST_LINE, DIGEST_HEXLEN,
				d) == -1)
				return err_set("%s: not a digest where one "
					       "belongs",
				    peer);
			if (fn(arg, d) == -1)
				return -1;
		}
		n -= k;
	}
	return 0;
}

int
siteline_write_digests(int fd, const void *v, size_t n, size_t stride)
{
	char buf[DIGEST_LINES * DIGEST_LINE];
	const unsigned char *p = v;
	size_t i, len = 0;

	for (i = 0; i < n; i++) {
		digest_hex(p + i * stride, buf + len);
		buf[len + DIGEST_HEXLEN] = '\n';
		len += DIGEST_LINE;
		if (len == sizeof(buf) || i + 1 == n) {
			if (siteline_write_full(fd, buf, len) == -1)
				return -1;
			len = 0;
		}
	}
	return 0;
}

const char *
siteline_word(const char *line, const char *word)
{
	size_t n = strlen(word);

	if (strncmp(line, word, n) != 0)
		return NULL;
	if (line[n] == '\0')
		return line + n;
	return line[n] == ' ' ? line + n + 1 : NULL;
}
