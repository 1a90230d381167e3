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
