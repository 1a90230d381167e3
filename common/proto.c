/*
 * proto.c — the remote DP protocol's framing and messages (proto.h).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bigendian.h"
#include "err.h"
#include "num.h"
#include "path.h"
#include "progress.h"
#include "proto.h"
#include "ratelimit.h"

const char *
proto_type_name(uint32_t type)
{
	static const char *names[] = { NULL, "ERROR", "KEEPALIVE", "PUSH",
		"DATA", "NEED", "NEED_END", "CONTENT", "RESULT", "STATUS",
		"STATE", "END", "NEED_MANIFEST", "MANIFEST", "RECIPE", "PATHS",
		"NEXT" };
	static _Thread_local char other[32];

	if (type >= 1 && type <= PROTO_TYPE_MAX)
		return names[type];
	snprintf(other, sizeof(other), "type %u", (unsigned)type);
	return other;
}

int
proto_parse_timeout(const char *s, double *out)
{
	double v;

	if (num_decimal(s, strlen(s), 86400.0 * 365, &v) == -1 || !(v > 0))
		return err_set("%s: invalid timeout '%s' (seconds > 0)",
		    PROTO_TIMEOUT_ENV, s);
	*out = v;
	return 0;
}

static int
set_nonblock(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return err_sys("cannot set the connection non-blocking");
	return 0;
}

int
proto_init(struct proto *p, int in, int out, int errfd, const char *peer)
{
	const char *s;
	struct stat st;

	memset(p, 0, sizeof(*p));
	p->in = in;
	p->out = out;
	p->errfd = errfd;
	p->peer = peer;
	p->timeout = PROTO_TIMEOUT_DEFAULT;
	p->version = PROTO_VERSION;
	if (pthread_mutex_init(&p->wlock, NULL) != 0) {
		errno = ENOMEM;
		return err_sys("cannot start the protocol");
	}
	if (pthread_cond_init(&p->ka_cond, NULL) != 0) {
		pthread_mutex_destroy(&p->wlock);
		errno = ENOMEM;
		return err_sys("cannot start the protocol");
	}
	p->buf = malloc(PROTO_FRAME_MAX + PROTO_HDR_LEN);
	if (p->buf == NULL)
		return err_nomem();
	if ((s = getenv(PROTO_TIMEOUT_ENV)) != NULL && *s != '\0' &&
	    proto_parse_timeout(s, &p->timeout) == -1)
		return -1;
	if (fstat(out, &st) == 0 && S_ISSOCK(st.st_mode))
		p->out_sock = true;
	if (set_nonblock(in) == -1 || set_nonblock(out) == -1)
		return -1;
	if (errfd != -1 && set_nonblock(errfd) == -1)
		return -1;
	return 0;
}

void
proto_free(struct proto *p)
{
	if (p->buf == NULL)
		return;
	proto_keepalive_stop(p);
	free(p->buf);
	p->buf = NULL;
	pthread_cond_destroy(&p->ka_cond);
	pthread_mutex_destroy(&p->wlock);
}

static double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* What an older release says when it refuses our newer hello. */
#define MISMATCH "protocol version mismatch"

/* Copy the peer's stderr to ours a whole line at a time (one write
 * each: lines of parallel sessions do not mix). */
static void
err_put(const char *b, size_t n)
{
	ssize_t r;

	progress_hold();
	while (n > 0) {
		r = write(STDERR_FILENO, b, n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		b += r;
		n -= (size_t)r;
	}
	progress_release();
}

static bool
has_mismatch(const char *b, size_t n)
{
	size_t k = strlen(MISMATCH), i;

	for (i = 0; i + k <= n; i++)
		if (memcmp(b + i, MISMATCH, k) == 0)
			return true;
	return false;
}

/* A whole line of the peer's stderr: to ours, or held (hold_err). */
static void
err_line(struct proto *p, const char *b, size_t n)
{
	if (!p->hold_err) {
		err_put(b, n);
		return;
	}
	if (n > sizeof(p->errheld) - p->errheldlen)
		n = sizeof(p->errheld) - p->errheldlen;
	memcpy(p->errheld + p->errheldlen, b, n);
	p->errheldlen += n;
}

static void
err_pass(struct proto *p, const char *b, size_t n, bool flush)
{
	size_t i;

	for (i = 0; i < n; i++) {
		p->errpend[p->errpendlen++] = b[i];
		if (b[i] == '\n' || p->errpendlen == sizeof(p->errpend)) {
			if (!p->drop_mismatch ||
			    !has_mismatch(p->errpend, p->errpendlen))
				err_line(p, p->errpend, p->errpendlen);
			p->errpendlen = 0;
		}
	}
	if (flush && p->errpendlen > 0) {
		p->errpend[p->errpendlen++] = '\n';
		err_line(p, p->errpend, p->errpendlen);
		p->errpendlen = 0;
	}
}

void
proto_err_release(struct proto *p, bool show)
{
	if (show && p->errheldlen > 0)
		err_put(p->errheld, p->errheldlen);
	p->errheldlen = 0;
	p->hold_err = false;
}

/* Keep the last PROTO errtail bytes of what the peer writes on errfd. */
static void
err_drain_once(struct proto *p)
{
	char tmp[512];
	ssize_t r;
	size_t n, keep;

	if (p->errfd == -1 || p->errfd_eof)
		return;
	for (;;) {
		r = read(p->errfd, tmp, sizeof(tmp));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0 ||
			    (errno != EAGAIN && errno != EWOULDBLOCK)) {
				p->errfd_eof = true;
				err_pass(p, NULL, 0, true);
			}
			return;
		}
		err_pass(p, tmp, (size_t)r, false);
		/* tmp is smaller than errtail: keep its tail and all of tmp. */
		n = (size_t)r;
		if (p->errlen + n > sizeof(p->errtail) - 1) {
			keep = sizeof(p->errtail) - 1 - n;
			memmove(p->errtail, p->errtail + p->errlen - keep,
			    keep);
			p->errlen = keep;
		}
		memcpy(p->errtail + p->errlen, tmp, n);
		p->errlen += n;
		p->errtail[p->errlen] = '\0';
	}
}

const char *
proto_errline(struct proto *p)
{
	static _Thread_local char line[256];
	size_t end, start, i, j;

	end = p->errlen;
	for (;;) {
		while (end > 0 &&
		    (p->errtail[end - 1] == '\n' ||
			p->errtail[end - 1] == '\r' ||
			p->errtail[end - 1] == ' '))
			end--;
		if (end == 0)
			return "";
		start = end;
		while (start > 0 && p->errtail[start - 1] != '\n')
			start--;
		if (end > start)
			break;
		end = start;
	}
	/* Printable bytes only: the line goes into our own messages. */
	for (i = start, j = 0; i < end && j < sizeof(line) - 1; i++) {
		unsigned char c = (unsigned char)p->errtail[i];
		line[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	line[j] = '\0';
	return line;
}

void
proto_drain_err(struct proto *p, double timeout)
{
	struct pollfd pfd;
	double deadline = now_mono() + timeout, left;

	while (p->errfd != -1 && !p->errfd_eof) {
		left = deadline - now_mono();
		if (left <= 0)
			break;
		pfd.fd = p->errfd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
			break;
		err_drain_once(p);
	}
}

/* Wait until fd is ready for events (POLLIN or POLLOUT), draining errfd
 * meanwhile; -1 with err on timeout.  1 when waiting for POLLOUT with
 * watch_in and input arrived first. */
static int
wait_fd(struct proto *p, int fd, short events, const char *doing)
{
	struct pollfd pfd[3];
	double deadline = now_mono() + p->timeout, left;
	int n, r, ein = -1, eerr = -1;

	for (;;) {
		left = deadline - now_mono();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return err_sys("%s %s: no progress for %g s", doing,
			    p->peer, p->timeout);
		}
		pfd[0].fd = fd;
		pfd[0].events = events;
		pfd[0].revents = 0;
		n = 1;
		if (p->errfd != -1 && !p->errfd_eof) {
			eerr = n;
			pfd[n].fd = p->errfd;
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
			n++;
		}
		if (events == POLLOUT && p->watch_in && !p->stashed) {
			ein = n;
			pfd[n].fd = p->in;
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
			n++;
		}
		r = poll(pfd, (nfds_t)n, (int)(left * 1000) + 1);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return err_sys("cannot wait for %s", p->peer);
		}
		if (eerr != -1 && pfd[eerr].revents != 0)
			err_drain_once(p);
		if (pfd[0].revents != 0)
			return 0;
		if (ein != -1 && pfd[ein].revents != 0)
			return 1;
	}
}

static int
closed_error(struct proto *p)
{
	const char *line;

	proto_drain_err(p, 2.0);
	line = proto_errline(p);
	errno = ECONNRESET;
	if (*line != '\0')
		return err_code(ECONNRESET, "connection closed by %s: %s",
		    p->peer, line);
	return err_code(ECONNRESET, "connection closed by %s", p->peer);
}

/* Read exactly n bytes. */
static int
read_all(struct proto *p, void *buf, size_t n)
{
	unsigned char *b = buf;
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		r = read(p->in, b + done, ratelimit_piece(p->rate, n - done));
		if (r > 0) {
			/* What the far side sends counts against the cap
			 * too: by reading no faster, the link is kept to
			 * it both ways. */
			ratelimit_take(p->rate, (size_t)r);
			done += (size_t)r;
			continue;
		}
		if (r == 0)
			return closed_error(p);
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			if (errno == ECONNRESET)
				return closed_error(p);
			return err_sys("cannot read from %s", p->peer);
		}
		if (wait_fd(p, p->in, POLLIN, "waiting for") == -1)
			return -1;
	}
	p->bytes_in += n;
	return 0;
}

/* Input arrived while a send waits: a KEEPALIVE is consumed; another
 * frame's header is kept for proto_recv() and the send stops. */
static int
peek_frame(struct proto *p)
{
	unsigned char hdr[PROTO_HDR_LEN];

	if (read_all(p, hdr, sizeof(hdr)) == -1)
		return -1;
	if (be_get32(hdr) == PROTO_KEEPALIVE && be_get32(hdr + 4) == 0)
		return 0;
	p->stashed = true;
	p->stash_type = be_get32(hdr);
	p->stash_len = be_get32(hdr + 4);
	return err_set("%s sent %s while we were sending", p->peer,
	    proto_type_name(p->stash_type));
}

/* The far side closed while we were sending.  If it said why before it
 * went (an ERROR frame waiting in our input: a server that refuses a
 * request writes it and exits), that is the error, not the closed
 * connection. */
static int
closed_sending(struct proto *p)
{
	struct pollfd pfd = { p->in, POLLIN, 0 };
	const unsigned char *pl;
	uint32_t type;
	size_t len;

	if (!p->stashed && poll(&pfd, 1, 0) == 1 &&
	    (pfd.revents & POLLIN) != 0 &&
	    proto_recv(p, &type, &pl, &len) == -1)
		return -1;
	return closed_error(p);
}

static int
write_all(struct proto *p, const void *buf, size_t n)
{
	const unsigned char *b = buf;
	size_t done = 0;
	ssize_t r;
	bool booked = false;

	while (done < n) {
		size_t piece = ratelimit_piece(p->rate, n - done);

		if (p->rate != NULL && !booked) {
			/* Booked before it goes, so a cap is never
			 * overrun; a piece cut short is booked whole, a
			 * little below the cap at worst. */
			ratelimit_take(p->rate, piece);
			booked = true;
		}
		if (p->out_sock)
			r = send(p->out, b + done, piece, MSG_NOSIGNAL);
		else
			r = write(p->out, b + done, piece);
		if (r > 0) {
			booked = false;
			done += (size_t)r;
			continue;
		}
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((r = wait_fd(p, p->out, POLLOUT, "sending to")) ==
			    -1)
				return -1;
			if (r == 1 && peek_frame(p) == -1)
				return -1;
			continue;
		}
		if (r == -1 && (errno == EPIPE || errno == ECONNRESET))
			return closed_sending(p);
		return err_sys("cannot send to %s", p->peer);
	}
	p->bytes_out += n;
	return 0;
}

static int
hello_check(const unsigned char *buf, size_t len, uint32_t *version,
    const char *peer)
{
	char shown[3 * PROTO_HELLO_LEN + 1];
	size_t i, j;

	if (len >= PROTO_MAGIC_LEN &&
	    memcmp(buf, PROTO_MAGIC, PROTO_MAGIC_LEN) == 0 &&
	    len == PROTO_HELLO_LEN) {
		*version = be_get32(buf + 8);
		if (*version < PROTO_VERSION_MIN || *version > PROTO_VERSION)
			return err_set(MISMATCH
			    ": this "
			    "pkgpush speaks versions %u to %u, the %s version "
			    "%u",
			    PROTO_VERSION_MIN, PROTO_VERSION, peer,
			    (unsigned)*version);
		if (be_get32(buf + 12) != 0)
			return err_set("bad hello from the %s "
				       "(reserved bytes set)",
			    peer);
		return 0;
	}
	for (i = j = 0; i < len && i < PROTO_HELLO_LEN; i++) {
		unsigned char c = buf[i];
		if (c == '\n' || c == '\r')
			break;
		shown[j++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	shown[j] = '\0';
	return err_set("the %s does not speak the pkgdist protocol "
		       "(it sent \"%s\")",
	    peer, shown);
}

int
proto_check_hello(const unsigned char *buf, size_t len, uint32_t *version)
{
	return hello_check(buf, len, version, "peer");
}

int
proto_hello_send(struct proto *p)
{
	unsigned char h[PROTO_HELLO_LEN];
	int wr;

	memcpy(h, PROTO_MAGIC, PROTO_MAGIC_LEN);
	be_put32(h + 8, p->version);
	be_put32(h + 12, 0);
	pthread_mutex_lock(&p->wlock);
	wr = write_all(p, h, sizeof(h));
	pthread_mutex_unlock(&p->wlock);
	return wr;
}

int
proto_hello(struct proto *p)
{
	int wr;

	/* The peer may have said why before it closed. */
	if ((wr = proto_hello_send(p)) == -1 && err_errno() != ECONNRESET)
		return -1;
	if (proto_hello_recv(p) == -1)
		return -1;
	return wr == -1 ? closed_error(p) : 0;
}

int
proto_hello_answer(struct proto *p)
{
	if (proto_hello_recv(p) == -1)
		return -1;
	if (p->peer_version < p->version)
		p->version = p->peer_version;
	return proto_hello_send(p);
}

int
proto_hello_recv(struct proto *p)
{
	unsigned char in[PROTO_HELLO_LEN] = { 0 };
	size_t got = 0;
	ssize_t r;

	/* Read byte-wise until the magic is known good, so a short banner
	 * ("bash: pkgpush: command not found\n") is shown as it is. */
	while (got < sizeof(in)) {
		r = read(p->in, in + got, sizeof(in) - got);
		if (r > 0) {
			got += (size_t)r;
			if (got <= PROTO_MAGIC_LEN ?
				memcmp(in, PROTO_MAGIC, got) != 0 :
				memcmp(in, PROTO_MAGIC, PROTO_MAGIC_LEN) != 0)
				break;
			continue;
		}
		if (r == 0) {
			if (got == 0)
				return closed_error(p);
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			if (errno == ECONNRESET)
				return closed_error(p);
			return err_sys("cannot read from %s", p->peer);
		}
		if (wait_fd(p, p->in, POLLIN, "waiting for") == -1)
			return -1;
	}
	p->bytes_in += got;
	if (hello_check(in, got, &p->peer_version, p->peer) == -1) {
		const char *line;

		if (got < PROTO_HELLO_LEN &&
		    memcmp(in, PROTO_MAGIC,
			got < PROTO_MAGIC_LEN ? got : PROTO_MAGIC_LEN) == 0)
			return closed_error(p);
		proto_drain_err(p, 0.5);
		line = proto_errline(p);
		if (*line == '\0')
			return -1;
		return err_set("%s (%s)", err_get(), line);
	}
	return 0;
}

int
proto_send(struct proto *p, uint32_t type, const void *payload, size_t len)
{
	unsigned char hdr[PROTO_HDR_LEN];
	int r;

	if (len > PROTO_FRAME_MAX)
		return err_set("frame too large (%zu bytes)", len);
	be_put32(hdr, type);
	be_put32(hdr + 4, (uint32_t)len);
	pthread_mutex_lock(&p->wlock);
	r = write_all(p, hdr, sizeof(hdr));
	if (r == 0 && len > 0)
		r = write_all(p, payload, len);
	pthread_mutex_unlock(&p->wlock);
	return r;
}

int
proto_recv(struct proto *p, uint32_t *type, const unsigned char **payload,
    size_t *len)
{
	unsigned char hdr[PROTO_HDR_LEN];
	uint32_t t, n;
	struct proto_error e;

	for (;;) {
		if (p->stashed) {
			p->stashed = false;
			t = p->stash_type;
			n = p->stash_len;
		} else {
			if (read_all(p, hdr, sizeof(hdr)) == -1)
				return -1;
			t = be_get32(hdr);
			n = be_get32(hdr + 4);
		}
		if (t == 0 || t > PROTO_TYPE_MAX)
			return err_set("bad frame from %s: unknown type %u",
			    p->peer, (unsigned)t);
		if (n > PROTO_FRAME_MAX)
			return err_set("bad frame from %s: %s of %u bytes "
				       "(at most %u)",
			    p->peer, proto_type_name(t), (unsigned)n,
			    PROTO_FRAME_MAX);
		if (n > 0 && read_all(p, p->buf, n) == -1)
			return -1;
		if (t == PROTO_KEEPALIVE) {
			if (n != 0)
				return err_set("bad KEEPALIVE frame from %s",
				    p->peer);
			continue;
		}
		if (t == PROTO_ERROR) {
			if (proto_dec_error(p->buf, n, &e) == -1)
				return -1;
			if (e.msg[0] == '\0')
				return err_code(e.errnum,
				    "the %s reported an "
				    "error without saying which",
				    p->peer);
			return err_code(e.errnum, "%s", e.msg);
		}
		*type = t;
		*payload = p->buf;
		*len = n;
		return 0;
	}
}

int
proto_expect(struct proto *p, uint32_t want, const unsigned char **payload,
    size_t *len)
{
	uint32_t t;
	char got[32];

	if (proto_recv(p, &t, payload, len) == -1)
		return -1;
	if (t != want) {
		snprintf(got, sizeof(got), "%s", proto_type_name(t));
		return err_set("protocol error: expected %s from %s, got %s",
		    proto_type_name(want), p->peer, got);
	}
	return 0;
}

void
proto_send_error(struct proto *p, const char *msg, int errnum, bool permanent)
{
	struct proto_error e;
	unsigned char *buf;
	size_t n;

	memset(&e, 0, sizeof(e));
	snprintf(e.msg, sizeof(e.msg), "%s", msg);
	e.errnum = errnum < 0 || errnum > 4095 ? 0 : errnum;
	e.permanent = permanent;
	if ((buf = malloc(PROTO_MSG_MAX + 64)) == NULL)
		return;
	n = proto_enc_error(&e, buf);
	(void)proto_send(p, PROTO_ERROR, buf, n);
	free(buf);
}

/* ---- keepalive ---- */

static void *
ka_main(void *arg)
{
	struct proto *p = arg;
	unsigned char hdr[PROTO_HDR_LEN];
	struct timespec ts;
	double t;
	bool stop;

	be_put32(hdr, PROTO_KEEPALIVE);
	be_put32(hdr + 4, 0);
	pthread_mutex_lock(&p->wlock);
	while (!p->ka_stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		t = ts.tv_sec + ts.tv_nsec / 1e9 + p->ka_interval;
		ts.tv_sec = (time_t)t;
		ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
		if (pthread_cond_timedwait(&p->ka_cond, &p->wlock, &ts) !=
		    ETIMEDOUT)
			continue;
		stop = p->ka_stop;
		if (stop)
			break;
		/* Holding wlock: frames of the main thread stay whole.  A
		 * failed write ends the thread; the main thread will see the
		 * connection's failure itself. */
		if (write_all(p, hdr, sizeof(hdr)) == -1)
			break;
	}
	pthread_mutex_unlock(&p->wlock);
	return NULL;
}

int
proto_keepalive_start(struct proto *p, double interval)
{
	if (p->ka_running)
		return 0;
	p->ka_stop = false;
	p->ka_interval = interval > 0 ? interval : 1.0;
	if (pthread_create(&p->ka_thread, NULL, ka_main, p) != 0) {
		errno = EAGAIN;
		return err_sys("cannot start the keepalive thread");
	}
	p->ka_running = true;
	return 0;
}

void
proto_keepalive_stop(struct proto *p)
{
	if (!p->ka_running)
		return;
	pthread_mutex_lock(&p->wlock);
	p->ka_stop = true;
	pthread_cond_signal(&p->ka_cond);
	pthread_mutex_unlock(&p->wlock);
	pthread_join(p->ka_thread, NULL);
	p->ka_running = false;
}

/* ---- payloads ---- */

void
proto_wbuf_init(struct proto_wbuf *w, unsigned char *buf, size_t cap)
{
	w->p = buf;
	w->len = 0;
	w->cap = cap;
	w->overflow = false;
}

void
proto_put_bytes(struct proto_wbuf *w, const void *b, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = true;
		return;
	}
	if (n > 0)
		memcpy(w->p + w->len, b, n);
	w->len += n;
}

void
proto_put_u8(struct proto_wbuf *w, uint8_t v)
{
	proto_put_bytes(w, &v, 1);
}

void
proto_put_u32(struct proto_wbuf *w, uint32_t v)
{
	unsigned char b[4];

	be_put32(b, v);
	proto_put_bytes(w, b, 4);
}

void
proto_put_u64(struct proto_wbuf *w, uint64_t v)
{
	unsigned char b[8];

	be_put64(b, v);
	proto_put_bytes(w, b, 8);
}

void
proto_put_str(struct proto_wbuf *w, const char *s)
{
	size_t n = strlen(s);

	proto_put_u32(w, (uint32_t)n);
	proto_put_bytes(w, s, n);
}

void
proto_rbuf_init(struct proto_rbuf *r, const unsigned char *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->bad = false;
}

void
proto_get_bytes(struct proto_rbuf *r, void *b, size_t n)
{
	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		memset(b, 0, n);
		return;
	}
	memcpy(b, r->p + r->off, n);
	r->off += n;
}

uint8_t
proto_get_u8(struct proto_rbuf *r)
{
	uint8_t v;

	proto_get_bytes(r, &v, 1);
	return v;
}

uint32_t
proto_get_u32(struct proto_rbuf *r)
{
	unsigned char b[4];

	proto_get_bytes(r, b, 4);
	return be_get32(b);
}

uint64_t
proto_get_u64(struct proto_rbuf *r)
{
	unsigned char b[8];

	proto_get_bytes(r, b, 8);
	return be_get64(b);
}

void
proto_get_str(struct proto_rbuf *r, char *out, size_t max)
{
	uint32_t n = proto_get_u32(r);

	out[0] = '\0';
	if (r->bad || n > max || n > r->len - r->off) {
		r->bad = true;
		return;
	}
	if (memchr(r->p + r->off, '\0', n) != NULL) {
		r->bad = true;
		return;
	}
	memcpy(out, r->p + r->off, n);
	out[n] = '\0';
	r->off += n;
}

int
proto_rbuf_done(struct proto_rbuf *r, const char *what, const char *peer)
{
	if (r->bad || r->off != r->len)
		return err_set("bad %s frame from %s", what, peer);
	return 0;
}

static bool
flag(struct proto_rbuf *r)
{
	uint8_t v = proto_get_u8(r);

	if (v > 1)
		r->bad = true;
	return v == 1;
}

/* ---- messages ---- */

/* zlib's compressBound(), here so the bound holds for any zlib: a
 * stream of n bytes never needs more than this. */
static uint64_t
zbound(uint64_t n)
{
	return n + (n >> 12) + (n >> 14) + (n >> 25) + 13 + 64;
}

size_t
proto_enc_push(const struct proto_push *m, unsigned char *buf)
{
	struct proto_wbuf w;

	proto_wbuf_init(&w, buf, PROTO_FRAME_MAX);
	proto_put_str(&w, m->package);
	proto_put_u64(&w, m->version);
	proto_put_u32(&w, m->flags);
	proto_put_u32(&w, m->keep);
	proto_put_u32(&w, m->lock_wait);
	proto_put_u64(&w, m->manifest_len);
	proto_put_u64(&w, m->manifest_zlen);
	proto_put_u64(&w, m->base);
	proto_put_bytes(&w, m->digest, DIGEST_LEN);
	return w.len;
}

/* The bounds of a manifest (or change list) announced as len bytes, of
 * which zlen (0: not compressed) follow on the wire; empty only when
 * empty_ok. */
static bool
payload_ok(uint64_t len, uint64_t zlen, bool empty_ok)
{
	if (len == 0)
		return empty_ok && zlen == 0;
	return len <= PROTO_MANIFEST_MAX &&
	    (zlen == 0 || (zlen <= zbound(len) && len / 1032 <= zlen));
}

int
proto_dec_push(const unsigned char *b, size_t n, struct proto_push *m)
{
	struct proto_rbuf r;

	memset(m, 0, sizeof(*m));
	proto_rbuf_init(&r, b, n);
	proto_get_str(&r, m->package, NAME_MAX_LEN);
	m->version = proto_get_u64(&r);
	m->flags = proto_get_u32(&r);
	m->keep = proto_get_u32(&r);
	m->lock_wait = proto_get_u32(&r);
	m->manifest_len = proto_get_u64(&r);
	m->manifest_zlen = proto_get_u64(&r);
	m->base = proto_get_u64(&r);
	proto_get_bytes(&r, m->digest, DIGEST_LEN);
	if (proto_rbuf_done(&r, "PUSH", "client") == -1)
		return -1;
	if (!name_valid(m->package))
		return err_set("bad PUSH frame: invalid package name");
	if (m->version == 0 || (m->flags & ~(uint32_t)PROTO_F_ALL) != 0 ||
	    m->keep == 0 || m->keep > 1000 || m->lock_wait > 86400 ||
	    m->base == m->version ||
	    !payload_ok(m->manifest_len, m->manifest_zlen, m->base != 0))
		return err_set("bad PUSH frame: a field is out of range");
	if (m->base == 0) {
		size_t i;

		for (i = 0; i < DIGEST_LEN; i++)
			if (m->digest[i] != 0)
				return err_set("bad PUSH frame: a digest "
					       "without a change list");
	}
	return 0;
}

size_t
proto_enc_manifest(const struct proto_manifest *m, unsigned char *buf)
{
	struct proto_wbuf w;

	proto_wbuf_init(&w, buf, PROTO_FRAME_MAX);
	proto_put_u64(&w, m->len);
	proto_put_u64(&w, m->zlen);
	return w.len;
}

int
proto_dec_manifest(const unsigned char *b, size_t n, struct proto_manifest *m)
{
	struct proto_rbuf r;

	memset(m, 0, sizeof(*m));
	proto_rbuf_init(&r, b, n);
	m->len = proto_get_u64(&r);
	m->zlen = proto_get_u64(&r);
	if (proto_rbuf_done(&r, "MANIFEST", "client") == -1)
		return -1;
	if (!payload_ok(m->len, m->zlen, false))
		return err_set("bad MANIFEST frame: a field is out of range");
	return 0;
}

size_t
proto_enc_content(const struct proto_content *m, unsigned char *buf)
{
	struct proto_wbuf w;

	proto_wbuf_init(&w, buf, PROTO_FRAME_MAX);
	proto_put_bytes(&w, m->digest, DIGEST_LEN);
	proto_put_u64(&w, m->size);
	proto_put_u8(&w, m->zlib);
	proto_put_u64(&w, m->stored);
	return w.len;
}

int
proto_dec_content(const unsigned char *b, size_t n, struct proto_content *m)
{
	struct proto_rbuf r;

	memset(m, 0, sizeof(*m));
	proto_rbuf_init(&r, b, n);
	proto_get_bytes(&r, m->digest, DIGEST_LEN);
	m->size = proto_get_u64(&r);
	m->zlib = proto_get_u8(&r);
	m->stored = proto_get_u64(&r);
	if (proto_rbuf_done(&r, "CONTENT", "client") == -1)
		return -1;
	if (m->size > PROTO_CONTENT_MAX || m->zlib > 1 ||
	    (m->zlib == 0 && m->stored != m->size) ||
	    (m->zlib == 1 && m->stored > zbound(m->size)))
		return err_set("bad CONTENT frame: a field is out of range");
	return 0;
}

size_t
proto_enc_recipe(const struct proto_recipe *m, unsigned char *buf)
{
	struct proto_wbuf w;

	proto_wbuf_init(&w, buf, PROTO_FRAME_MAX);
	proto_put_bytes(&w, m->digest, DIGEST_LEN);
	proto_put_u64(&w, m->size);
	proto_put_bytes(&w, m->old_digest, DIGEST_LEN);
	proto_put_u64(&w, m->old_size);
	proto_put_str(&w, m->old_path);
	return w.len;
}

int
proto_dec_recipe(const unsigned char *b, size_t n, struct proto_recipe *m)
{
	struct proto_rbuf r;

	memset(m, 0, sizeof(*m));
	proto_rbuf_init(&r, b, n);
	proto_get_bytes(&r, m->digest, DIGEST_LEN);
	m->size = proto_get_u64(&r);
	proto_get_bytes(&r, m->old_digest, DIGEST_LEN);
	m->old_size = proto_get_u64(&r);
	proto_get_str(&r, m->old_path, MANIFEST_PATH_MAX);
	if (proto_rbuf_done(&r, "RECIPE", "client") == -1)
		return -1;
	if (m->size == 0 || m->size > PROTO_CONTENT_MAX || m->old_size == 0 ||
	    m->old_size > PROTO_CONTENT_MAX)
		return err_set("bad RECIPE frame: a size is out of range");
	if (path_check(m->old_path) == -1)
		return err_prefix("bad RECIPE frame: ");
	return 0;
}

size_t
proto_enc_result(const struct proto_result *m, unsigned char *buf)
{
	struct proto_wbuf w;

	proto_wbuf_init(&w, buf, PROTO_FRAME_MAX);
	proto_put_u8(&w, m->ok);
	proto_put_u8(&w, m->held);
	proto_put_u8(&w, m->old_partial);
	proto_put_u8(&w, m->reused_tree);
	proto_put_u8(&w, m->up_to_date);
	proto_put_u8(&w, m->permanent);
	proto_put_u64(&w, m->old_version);
	proto_put_u64(&w, m->new_version);
	proto_put_u64(&w, m->added);
	proto_put_u64(&w, m->changed);
	proto_put_u64(&w, m->deleted);
	proto_put_u64(&w, m->meta);
	proto_put_u64(&w, m->linked);
	proto_put_u64(&w, m->bytes);
	proto_put_u64(&w, m->busy);
	proto_put_u64(&w, m->received);
	proto_put_u32(&w, (uint32_t)m->failed_errno);
	if (m->ok)
		proto_put_str(&w,
		    m->inplace ?
			(m->kept_layout ? "inplace kept-layout" : "inplace") :
			m->kept_layout ? "kept-layout" :
					 "");
	else
		proto_put_str(&w, m->msg);
	/* Added later: an older client stops before them (and an older
	 * server sends none; see proto_dec_result()). */
	proto_put_u64(&w, m->state_bytes);
	proto_put_u8(&w, m->state_rebuilt);
	proto_put_str(&w, m->warning);
	proto_put_u8(&w, m->from_spare);
	return w.len;
}

int
proto_dec_result(const unsigned char *b, size_t n, struct proto_result *m)
{
	struct proto_rbuf r;
	uint32_t e;
	size_t i;

	memset(m, 0, sizeof(*m));
	proto_rbuf_init(&r, b, n);
	m->ok = flag(&r);
	m->held = flag(&r);
	m->old_partial = flag(&r);
	m->reused_tree = flag(&r);
	m->up_to_date = flag(&r);
	m->permanent = flag(&r);
	m->old_version = proto_get_u64(&r);
	m->new_version = proto_get_u64(&r);
	m->added = proto_get_u64(&r);
	m->changed = proto_get_u64(&r);
	m->deleted = proto_get_u64(&r);
	m->meta = proto_get_u64(&r);
	m->linked = proto_get_u64(&r);
	m->bytes = proto_get_u64(&r);
	m->busy = proto_get_u64(&r);
	m->received = proto_get_u64(&r);
	e = proto_get_u32(&r);
	proto_get_str(&r, m->msg, PROTO_MSG_MAX);
	/* State bytes, rebuilt flag, warning: absent from an older server. */
	if (!r.bad && r.off < r.len) {
		m->state_bytes = proto_get_u64(&r);
		m->state_rebuilt = flag(&r);
		proto_get_str(&r, m->warning, PROTO_MSG_MAX);
		m->from_spare = flag(&r);
	}
	if (proto_rbuf_done(&r, "RESULT", "remote") == -1)
		return -1;
	if (e > 4095)
		return err_set("bad RESULT frame: a field is out of range");
	m->failed_errno = (int32_t)e;
	if (m->ok) {
		/* The words of what the fields before msg lack; unknown
		 * words are a newer server's and are skipped. */
		char *word, *save = NULL;

		for (word = strtok_r(m->msg, " ", &save); word != NULL;
		     word = strtok_r(NULL, " ", &save))
			if (strcmp(word, "inplace") == 0)
				m->inplace = true;
			else if (strcmp(word, "kept-layout") == 0)
				m->kept_layout = true;
		m->msg[0] = '\0';
	}
	/* The warning ends up in our messages: printable bytes only. */
	for (i = 0; m->warning[i] != '\0'; i++)
		if ((unsigned char)m->warning[i] < 0x20 ||
		    (unsigned char)m->warning[i] == 0x7f)
			m->warning[i] = '?';
	return 0;
}

void
proto_result_set(struct proto_result *m, const struct dp_push_result *r,
    bool ok, const char *why, int errnum)
{
	memset(m, 0, sizeof(*m));
	m->ok = ok;
	m->held = r->held;
	m->old_partial = r->old_partial;
	m->reused_tree = r->reused_tree;
	m->up_to_date = r->up_to_date;
	m->permanent = r->permanent;
	m->inplace = r->inplace;
	m->kept_layout = r->kept_layout;
	m->old_version = r->old_version;
	m->new_version = r->new_version;
	m->added = r->added;
	m->changed = r->changed;
	m->deleted = r->deleted;
	m->meta = r->meta;
	m->linked = r->linked;
	m->bytes = r->bytes;
	m->busy = r->busy;
	m->state_bytes = r->state_bytes;
	m->state_rebuilt = r->state_rebuilt;
	m->from_spare = r->from_spare;
	snprintf(m->warning, sizeof(m->warning), "%s", r->warning);
	if (!ok) {
		m->failed_errno = errnum >= 0 && errnum <= 4095 ? errnum : 0;
		snprintf(m->msg, sizeof(m->msg), "%s", why);
	}
}

void
proto_result_get(const struct proto_result *m, struct dp_push_result *r)
{
	r->held = m->held;
	r->old_version = m->old_version;
	if (m->new_version != 0)
		r->new_version = m->new_version;
	r->old_partial = m->old_partial;
	r->added = m->added;
	r->changed = m->changed;
	r->deleted = m->deleted;
	r->meta = m->meta;
	r->linked = m->linked;
	r->bytes = m->bytes;
	r->state_bytes = m->state_bytes;
	r->state_rebuilt = m->state_rebuilt;
	r->from_spare = m->from_spare;
	snprintf(r->warning, sizeof(r->warning), "%.*s",
	    (int)sizeof(r->warning) - 1, m->warning);
	r->busy = m->busy;
	r->reused_tree = m->reused_tree;
	r->up_to_date = m->up_to_date;
	r->inplace = m->inplace;
	r->kept_layout = m->kept_layout;
	r->failed_errno = m->failed_errno;
	r->permanent = m->permanent;
}

void
proto_state_set(struct proto_state *m, const struct dp_pkg_state *s)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->package, sizeof(m->package), "%s", s->package);
	if (s->damaged != NULL) {
		snprintf(m->error, sizeof(m->error), "%s", s->damaged);
		return;
	}
	m->layout = (uint8_t)s->st.layout;
	m->status = (uint8_t)s->st.status;
	m->version = s->st.version;
	m->from = s->st.from;
	snprintf(m->tree, sizeof(m->tree), "%s", s->st.tree);
	if (s->st.error != NULL)
		snprintf(m->error, sizeof(m->error), "%s", s->st.error);
}

int
proto_state_get(const struct proto_state *m, struct dp_pkg_state *s)
{
	memset(s, 0, sizeof(*s));
	dp_state_init(&s->st);
	snprintf(s->package, sizeof(s->package), "%s", m->package);
	if (m->status == DP_ST_NONE && m->error[0] != '\0') {
		if ((s->damaged = strdup(m->error)) == NULL)
			return err_nomem();
		return 0;
	}
	s->st.layout = m->layout;
	s->st.status = m->status;
	s->st.version = m->version;
	s->st.from = m->from;
	snprintf(s->st.tree, sizeof(s->st.tree), "%s", m->tree);
	if (m->error[0] != '\0' && (s->st.error = strdup(m->error)) == NULL)
		return err_nomem();
	return 0;
}

size_t
proto_enc_state(const struct proto_state *m, unsigned char *buf)
{
	struct proto_wbuf w;

	proto_wbuf_init(&w, buf, PROTO_FRAME_MAX);
	proto_put_str(&w, m->package);
	proto_put_u8(&w, m->layout);
	proto_put_u8(&w, m->status);
	proto_put_u64(&w, m->version);
	proto_put_u64(&w, m->from);
	proto_put_str(&w, m->tree);
	proto_put_str(&w, m->error);
	return w.len;
}

int
proto_dec_state(const unsigned char *b, size_t n, struct proto_state *m)
{
	struct proto_rbuf r;

	memset(m, 0, sizeof(*m));
	proto_rbuf_init(&r, b, n);
	proto_get_str(&r, m->package, NAME_MAX_LEN);
	m->layout = proto_get_u8(&r);
	m->status = proto_get_u8(&r);
	m->version = proto_get_u64(&r);
	m->from = proto_get_u64(&r);
	proto_get_str(&r, m->tree, sizeof(m->tree) - 1);
	proto_get_str(&r, m->error, PROTO_MSG_MAX);
	if (proto_rbuf_done(&r, "STATE", "remote") == -1)
		return -1;
	if (!name_valid(m->package) || m->layout > 2 || m->status > 2)
		return err_set("bad STATE frame: a field is out of range");
	return 0;
}

size_t
proto_enc_error(const struct proto_error *m, unsigned char *buf)
{
	struct proto_wbuf w;

	proto_wbuf_init(&w, buf, PROTO_MSG_MAX + 64);
	proto_put_str(&w, m->msg);
	proto_put_u32(&w, (uint32_t)m->errnum);
	proto_put_u8(&w, m->permanent);
	return w.len;
}

int
proto_dec_error(const unsigned char *b, size_t n, struct proto_error *m)
{
	struct proto_rbuf r;
	uint32_t e;
	size_t i;

	memset(m, 0, sizeof(*m));
	proto_rbuf_init(&r, b, n);
	proto_get_str(&r, m->msg, PROTO_MSG_MAX);
	e = proto_get_u32(&r);
	m->permanent = flag(&r);
	if (proto_rbuf_done(&r, "ERROR", "peer") == -1)
		return -1;
	if (e > 4095)
		return err_set("bad ERROR frame: a field is out of range");
	m->errnum = (int32_t)e;
	/* The text ends up in our messages: printable bytes only. */
	for (i = 0; m->msg[i] != '\0'; i++)
		if ((unsigned char)m->msg[i] < 0x20 ||
		    (unsigned char)m->msg[i] == 0x7f)
			m->msg[i] = '?';
	return 0;
}

int
proto_dec_paths(const unsigned char *b, size_t n, uint32_t *count)
{
	struct proto_rbuf r;

	proto_rbuf_init(&r, b, n);
	*count = proto_get_u32(&r);
	if (proto_rbuf_done(&r, "PATHS", "remote") == -1)
		return -1;
	if (*count < 2 || *count > PROTO_PATHS_MAX)
		return err_set("bad PATHS frame: a count out of range");
	return 0;
}

size_t
proto_enc_next(const char *path, unsigned char *buf)
{
	struct proto_wbuf w;

	proto_wbuf_init(&w, buf, PROTO_FRAME_MAX);
	proto_put_str(&w, path);
	return w.len;
}

int
proto_dec_next(const unsigned char *b, size_t n, char path[PROTO_PATH_MAX + 1])
{
	struct proto_rbuf r;

	proto_rbuf_init(&r, b, n);
	proto_get_str(&r, path, PROTO_PATH_MAX);
	return proto_rbuf_done(&r, "NEXT", "client");
}

int
proto_dec_status(const unsigned char *b, size_t n, char pkg[NAME_MAX_LEN + 1])
{
	struct proto_rbuf r;

	proto_rbuf_init(&r, b, n);
	proto_get_str(&r, pkg, NAME_MAX_LEN);
	if (proto_rbuf_done(&r, "STATUS", "client") == -1)
		return -1;
	if (pkg[0] != '\0' && !name_valid(pkg))
		return err_set("bad STATUS frame: invalid package name");
	return 0;
}

int
proto_dec_need(const unsigned char *b, size_t n,
    unsigned char (*digests)[DIGEST_LEN], uint64_t *sizes, size_t *count)
{
	struct proto_rbuf r;
	uint32_t k, i;

	*count = 0;
	proto_rbuf_init(&r, b, n);
	k = proto_get_u32(&r);
	if (r.bad || k > PROTO_NEED_PER_FRAME ||
	    (uint64_t)k * (DIGEST_LEN + 8) != n - 4)
		return err_set("bad NEED frame from remote");
	for (i = 0; i < k; i++) {
		proto_get_bytes(&r, digests[i], DIGEST_LEN);
		sizes[i] = proto_get_u64(&r);
		if (sizes[i] > PROTO_CONTENT_MAX)
			return err_set("bad NEED frame: size out of range");
	}
	if (proto_rbuf_done(&r, "NEED", "remote") == -1)
		return -1;
	*count = k;
	return 0;
}
