/*
 * proto.h — the remote DP protocol: a small, versioned, framed protocol
 * between "pkgpush" (the client) and "pkgpush --serve PATH" (the server,
 * started by ssh on the DP's host), over a pair of descriptors.
 *
 * This file owns the wire format: the hello, the frame reader and writer
 * (with bounds), the encoding and decoding of every message, and the
 * one mapping of a push's outcome and of a DP's state onto their
 * messages (proto_result_set(), proto_state_set() and their inverses),
 * which both ends use.  It also owns the transport a session runs on:
 * the timeout that ends a session without progress (ssh-timeout,
 * PKGDIST_SSH_TIMEOUT: proto_parse_timeout()), the KEEPALIVE thread of a
 * server at work, the bandwidth cap on what crosses (ratelimit.h), and,
 * on a client, copying the peer's stderr (ssh's, errfd below) to our
 * stderr while it waits (with msg.c and progress.c, one of the three
 * core files that write to stderr).  remote.c (client) and serve.c
 * (server) drive the session; pkgpush(1) documents it for
 * administrators.
 *
 * Wire format.  Both sides first send a hello of PROTO_HELLO_LEN bytes:
 * the 8 bytes PROTO_MAGIC, the protocol version (u32) and 4 bytes 0.
 * A peer whose magic differs is not pkgdist (a login banner, a shell's
 * "command not found"); a peer of another version is refused, both
 * versions named.  Then frames: type (u32), payload length (u32), payload.
 * Integers are big-endian; a string is a u32 length and its bytes (no
 * NUL inside); a digest is 32 raw bytes.  Every length read from the
 * peer is checked against a bound before anything is allocated or read:
 * a payload is at most PROTO_FRAME_MAX bytes, a string its stated
 * maximum, a manifest PROTO_MANIFEST_MAX, a list of needs the count of
 * files in the manifest the client sent.
 *
 * A session (one DP, one request):
 *
 *   client                              server
 *   hello  ----------------------------> hello (both ways at once; the
 *                                        client does not wait for the
 *                                        server's before its request)
 *   PUSH pkg version flags keep mlen zlen base digest ->
 *   DATA... (the manifest, zlib)  ------>
 *                                        locks the DP, reads its state
 *
 *   With base (the version the store says the DP holds), DATA holds a
 *   change list instead of the manifest: the server applies it to the
 *   manifest it holds and checks the result against digest; a result
 *   that differs is refused (the push fails, the DP is left as it is).
 *   A DP that does not hold version base whole asks for the manifest:
 *          <-------------------------- NEED_MANIFEST
 *   MANIFEST mlen zlen, DATA... ------->
 *
 *                                        runs dp_push()
 *          <-------------------------- NEED... NEED_END (contents lacking)
 *   for each need, in order:
 *   CONTENT digest size enc slen ------>
 *   DATA... (slen bytes, stored form) -->
 *          <-------------------------- RESULT (counts, or the failure)
 *
 *   STATUS pkg ("" = every package) --->
 *          <-------------------------- STATE... END
 *
 * A session for several DPs of one host.  "pkgpush --serve PATH1 PATH2
 * ..." serves each of its paths once, the first by the request above.
 * Right behind its hello it sends PATHS n (the count of its paths); a
 * server given one path (an older release refuses more, an
 * authorized_keys command= names one) sends none, and ends after one
 * request as always.  After a RESULT the client may go on:
 *
 *   NEXT path (one of the server's) --->
 *   PUSH ... (as above, for that DP) --->
 *          <-------------------------- ... RESULT
 *   NEXT "" (no more), then close  ---->
 *
 * Which DPs a session may reach is what the server's command line
 * names, never what the client asks over the connection: a key limited
 * to one command stays limited to its DPs.
 *
 * Either side may send ERROR instead of its next frame and then close;
 * the server sends KEEPALIVE while it works (hashing, fsync), and
 * proto_recv() skips those.  A closed connection at any point means the
 * session failed; the server then leaves the DP at its old version.
 *
 * Timeouts: every read and write waits at most p->timeout seconds for
 * progress ($PKGDIST_SSH_TIMEOUT, default 60), so a stuck peer fails the
 * session instead of hanging it.
 *
 * Every function returns 0 (or a count) on success, -1 with err.h set
 * on failure, and never prints.  A struct proto is used by one thread,
 * except that proto_keepalive_start() adds a thread that only writes,
 * under the same write lock as proto_send().
 *
 * Fuzzing: proto_recv() reads any descriptor (a regular file holding
 * arbitrary bytes works: poll says it is always readable), and each
 * proto_dec_*() decodes an arbitrary payload; none may crash, hang or
 * allocate more than the bounds above.
 */
#ifndef PKGDIST_PROTO_H
#define PKGDIST_PROTO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "dp.h"
#include "dppush.h"
#include "manifest.h"

#define PROTO_MAGIC "PKGDISTR" /* 8 bytes, no NUL on the wire */
#define PROTO_MAGIC_LEN 8
/* The versions spoken: 3 adds RECIPE (a large content rebuilt on the far
 * side from its old copy); a peer of version 2 gets whole contents. */
#define PROTO_VERSION 3
#define PROTO_VERSION_MIN 2
#define PROTO_HELLO_LEN 16
#define PROTO_HDR_LEN 8

#define PROTO_FRAME_MAX (1u << 20)	       /* payload bytes */
#define PROTO_MANIFEST_MAX ((uint64_t)1 << 30) /* = STORE_MANIFEST_MAX */
#define PROTO_CONTENT_MAX ((uint64_t)1 << 46)  /* = STORE_CONTENT_MAX */
#define PROTO_MSG_MAX 4096		       /* error texts */
#define PROTO_NEED_PER_FRAME 4096	       /* entries in one NEED */
#define PROTO_PATHS_MAX 256		       /* DPs in one session */
#define PROTO_PATH_MAX 4096		       /* bytes of a DP's path */

#define PROTO_TIMEOUT_ENV "PKGDIST_SSH_TIMEOUT"
#define PROTO_TIMEOUT_DEFAULT 60.0

enum proto_type {
	PROTO_ERROR = 1,	  /* either way: proto_error */
	PROTO_KEEPALIVE = 2,	  /* server: empty; skipped by proto_recv */
	PROTO_PUSH = 3,		  /* client: proto_push */
	PROTO_DATA = 4,		  /* client: bytes of a manifest or content */
	PROTO_NEED = 5,		  /* server: u32 n, n x (digest, u64 size) */
	PROTO_NEED_END = 6,	  /* server: u64 total count */
	PROTO_CONTENT = 7,	  /* client: proto_content */
	PROTO_RESULT = 8,	  /* server: proto_result */
	PROTO_STATUS = 9,	  /* client: str package ("" for all) */
	PROTO_STATE = 10,	  /* server: proto_state */
	PROTO_END = 11,		  /* server: end of the STATE list */
	PROTO_NEED_MANIFEST = 12, /* server: empty; send the whole manifest */
	PROTO_MANIFEST = 13,	  /* client: proto_manifest */
	PROTO_RECIPE = 14,	  /* client, version 3: proto_recipe, in place
				   * of a CONTENT (recipe.h) */
	PROTO_PATHS = 15,	  /* server started with several paths: u32
				   * how many (the session's DPs) */
	PROTO_NEXT = 16,	  /* client, such a session: str path, the DP
				   * of the PUSH that follows ("": no more) */
	PROTO_TYPE_MAX = 16
};

/* The name of a frame type for messages ("NEED"; "type 99"). */
const char *proto_type_name(uint32_t type);

struct ratelimit;

struct proto {
	int in, out;	  /* not owned */
	int errfd;	  /* -1, or the peer's stderr (ssh's), drained
			   * while waiting: copied to our stderr line
			   * by line (ssh's warnings, the remote's
			   * messages) and its tail kept in errtail
			   * for error messages; not owned */
	bool out_sock;	  /* out is a socket: send(MSG_NOSIGNAL) */
	double timeout;	  /* seconds, per read or write */
	const char *peer; /* "remote" / "client", for messages */
	uint64_t bytes_in, bytes_out; /* whole frames, hellos included */
	struct ratelimit *rate;	      /* NULL, or the cap on what crosses the
				       * connection, both ways (ratelimit.h);
				       * not owned */
	uint32_t version;	      /* ours, sent in the hello: PROTO_VERSION,
				       * or lower to speak to an older peer */
	uint32_t peer_version;	      /* after proto_hello() */
	bool drop_mismatch; /* a line on errfd saying "protocol version
			     * mismatch" is not copied: an older
			     * release refusing our newer hello (the
			     * client starts again in its version) */
	bool watch_in;	    /* while a send waits, read frames that
			     * arrive: KEEPALIVEs are consumed (the
			     * wait starts again), any other frame is
			     * kept for proto_recv() and the send
			     * fails with p->stashed set */
	bool stashed;
	uint32_t stash_type, stash_len;
	unsigned char *buf; /* PROTO_FRAME_MAX + PROTO_HDR_LEN */
	char errtail[1024]; /* last bytes of errfd, NUL-terminated */
	size_t errlen;
	bool errfd_eof;
	char errpend[512]; /* a line not yet copied to stderr */
	size_t errpendlen;
	bool hold_err;	    /* lines of errfd are held in errheld, not
			     * copied, until proto_err_release() */
	char errheld[1024]; /* (what does not fit is dropped) */
	size_t errheldlen;
	pthread_mutex_t wlock;
	pthread_t ka_thread;
	pthread_cond_t ka_cond;
	bool ka_running, ka_stop;
	double ka_interval;
};

/*
 * Set up p on in/out (and errfd, or -1).  The timeout comes from
 * $PKGDIST_SSH_TIMEOUT (seconds, > 0; an unparsable value is an error).
 * in and out are made non-blocking.
 */
int proto_init(struct proto *p, int in, int out, int errfd, const char *peer);
/* Stop the keepalive thread, free the buffer.  Safe on a zeroed struct
 * or after a failed init. */
void proto_free(struct proto *p);

/* Stop holding the peer's stderr lines (hold_err): copy those held to
 * our stderr when show, else drop them. */
void proto_err_release(struct proto *p, bool show);

/* Parse a timeout value ("60", "0.5"); -1 (err set) unless > 0. */
int proto_parse_timeout(const char *s, double *out);

/* Exchange hellos; fails naming both versions on a mismatch.  A peer
 * of a version from PROTO_VERSION_MIN to ours is accepted: the session
 * then speaks the lower of the two (p->peer_version). */
int proto_hello(struct proto *p);
/* The server's half: read the client's hello first, then answer with
 * the client's version (at most ours), so a client of an older release,
 * which refuses any other version, is served in its own. */
int proto_hello_answer(struct proto *p);
/* The two halves, for a client that sends its request right behind its
 * hello without waiting for the peer's (one round trip less): send ours;
 * read and check the peer's (the banner of a peer that is not pkgdist,
 * or its last stderr line, in the error). */
int proto_hello_send(struct proto *p);
int proto_hello_recv(struct proto *p);
/* Check a received hello (the fuzz entry point for it). */
int proto_check_hello(const unsigned char *buf, size_t len, uint32_t *version);

/* Send one frame (len <= PROTO_FRAME_MAX).  With watch_in, a frame the
 * peer sends meanwhile (its result, its error) stops the send: -1 with
 * p->stashed set, and proto_recv() returns that frame next. */
int proto_send(struct proto *p, uint32_t type, const void *payload, size_t len);
/*
 * Receive the next frame that is not a KEEPALIVE.  *payload points into
 * p->buf, valid until the next receive.  An ERROR frame from the peer is
 * returned as -1 with err set to its message (err_errno() its errno), so
 * callers only handle the frames they expect.  End of input is -1, err
 * "connection closed by PEER" followed by the peer's last stderr line
 * when there is one (ssh's own reason: "Connection refused").
 */
int proto_recv(struct proto *p, uint32_t *type, const unsigned char **payload,
    size_t *len);
/* proto_recv(), then -1 unless the type is want ("expected X, got Y"). */
int proto_expect(struct proto *p, uint32_t want, const unsigned char **payload,
    size_t *len);

/* Send an ERROR frame (best effort: failures are ignored). */
void proto_send_error(struct proto *p, const char *msg, int errnum,
    bool permanent);

/* The last non-empty line the peer wrote on errfd ("" if none). */
const char *proto_errline(struct proto *p);
/* Read what is left on errfd (at most timeout), for a final message;
 * a last line without a newline is copied to stderr too. */
void proto_drain_err(struct proto *p, double timeout);

/* Send a KEEPALIVE from a thread every interval seconds until
 * proto_keepalive_stop() (or proto_free()). */
int proto_keepalive_start(struct proto *p, double interval);
void proto_keepalive_stop(struct proto *p);

/* ---- payload building and reading ---- */

/* A payload being built; at most PROTO_FRAME_MAX bytes (else -1). */
struct proto_wbuf {
	unsigned char *p;
	size_t len, cap;
	bool overflow;
};

void proto_wbuf_init(struct proto_wbuf *w, unsigned char *buf, size_t cap);
void proto_put_u8(struct proto_wbuf *w, uint8_t v);
void proto_put_u32(struct proto_wbuf *w, uint32_t v);
void proto_put_u64(struct proto_wbuf *w, uint64_t v);
void proto_put_bytes(struct proto_wbuf *w, const void *b, size_t n);
void proto_put_str(struct proto_wbuf *w, const char *s);

/* Reading a payload: any read past the end, or a string longer than its
 * maximum or holding a NUL, sets bad; check it once at the end. */
struct proto_rbuf {
	const unsigned char *p;
	size_t len, off;
	bool bad;
};

void proto_rbuf_init(struct proto_rbuf *r, const unsigned char *p, size_t len);
uint8_t proto_get_u8(struct proto_rbuf *r);
uint32_t proto_get_u32(struct proto_rbuf *r);
uint64_t proto_get_u64(struct proto_rbuf *r);
void proto_get_bytes(struct proto_rbuf *r, void *b, size_t n);
/* Copy a string of at most max bytes into out (max + 1 bytes). */
void proto_get_str(struct proto_rbuf *r, char *out, size_t max);
/* -1 with err "bad NAME frame from PEER" if bad or bytes are left. */
int proto_rbuf_done(struct proto_rbuf *r, const char *what, const char *peer);

/* ---- messages ---- */

enum {
	PROTO_F_INPLACE = 1,
	PROTO_F_VERIFY = 2,
	PROTO_F_ROLLBACK = 4,
	PROTO_F_DRY_RUN = 8,
	PROTO_F_ALL = 15
};

struct proto_push {
	char package[NAME_MAX_LEN + 1];	  /* name_valid() */
	uint64_t version;		  /* >= 1 */
	uint32_t flags;			  /* PROTO_F_* */
	uint32_t keep;			  /* 1 .. 1000 */
	uint32_t lock_wait;		  /* seconds to wait for the DP lock */
	uint64_t manifest_len;		  /* 1 .. PROTO_MANIFEST_MAX */
	uint64_t manifest_zlen;		  /* 0: the manifest follows as it is;
					   * else the bytes of its zlib stream
					   * that follow (at most zlib's bound,
					   * at least 1/1032 of manifest_len) */
	uint64_t base;			  /* 0: the manifest follows; else a
					   * change list (pkgdiff diff) from
					   * the DP's manifest of version base
					   * to the new one, both in the DP's
					   * modes (dp_view), manifest_len
					   * bytes (0 allowed), never base ==
					   * version */
	unsigned char digest[DIGEST_LEN]; /* with base: SHA-256 of the new
					   * manifest in the DP's modes as
					   * manifest_write() renders it; else
					   * zero */
};

/* MANIFEST: the whole manifest follows (DATA), as for PUSH. */
struct proto_manifest {
	uint64_t len;  /* 1 .. PROTO_MANIFEST_MAX */
	uint64_t zlen; /* as manifest_zlen */
};

struct proto_content {
	unsigned char digest[DIGEST_LEN];
	uint64_t size;	 /* original bytes */
	uint8_t zlib;	 /* 0 raw, 1 zlib stream (RFC 1950) */
	uint64_t stored; /* bytes that follow in DATA */
};

/* RECIPE: content digest (size bytes) is to be rebuilt by the server
 * from its copy of old_digest (old_size bytes) at old_path in the tree
 * the DP holds, by the operations (recipe.h) that follow in DATA frames
 * until size bytes are made. */
struct proto_recipe {
	unsigned char digest[DIGEST_LEN];
	uint64_t size; /* 1 .. PROTO_CONTENT_MAX */
	unsigned char old_digest[DIGEST_LEN];
	uint64_t old_size;		      /* 1 .. PROTO_CONTENT_MAX */
	char old_path[MANIFEST_PATH_MAX + 1]; /* path_check() */
};

struct proto_result {
	bool ok;
	/* On the wire in msg when ok (an older client ignores msg then, an
	 * older server sends ""): its words "inplace", "kept-layout". */
	bool inplace;	  /* the layout used is in place */
	bool kept_layout; /* the DP kept a layout other than the
			   * one asked for */
	bool held, old_partial, reused_tree, up_to_date, permanent;
	uint64_t old_version, new_version;
	uint64_t added, changed, deleted, meta, linked, bytes, busy;
	uint64_t received;	     /* content bytes the server read */
	int32_t failed_errno;	     /* 0 .. 4095 */
	char msg[PROTO_MSG_MAX + 1]; /* failure, "" when ok */
	/* After msg on the wire, and optional there (a server older than
	 * them sends none: read as 0). */
	uint64_t state_bytes;		 /* state written on the DP */
	bool state_rebuilt;		 /* --verify remade the manifest */
	bool from_spare;		 /* the new tree was the spare */
	char warning[PROTO_MSG_MAX + 1]; /* done, with a warning ("") */
};

struct proto_state {
	char package[NAME_MAX_LEN + 1];
	uint8_t layout; /* enum dp_layout */
	uint8_t status; /* enum dp_status */
	uint64_t version, from;
	char tree[64];
	char error[PROTO_MSG_MAX + 1]; /* "" when none */
};

struct proto_error {
	char msg[PROTO_MSG_MAX + 1];
	int32_t errnum; /* 0 .. 4095 */
	bool permanent;
};

/*
 * The one mapping between a push's outcome and its RESULT, used by both
 * ends.  proto_result_set(): m from r as dp_push() left it; when !ok,
 * why and errnum are the failure (an errno out of 0..4095 becomes 0);
 * m->received is the caller's.  proto_result_get(): r as dp_push() would
 * have filled it (r->new_version kept when m's is 0).
 */
void proto_result_set(struct proto_result *m, const struct dp_push_result *r,
    bool ok, const char *why, int errnum);
void proto_result_get(const struct proto_result *m, struct dp_push_result *r);

/* The same for one package's state (dp_states()): a damaged one goes as
 * status NONE with its error.  proto_state_get() fills s (freed with
 * dp_pkg_states_free()'s rules); -1 with err set when out of memory. */
void proto_state_set(struct proto_state *m, const struct dp_pkg_state *s);
int proto_state_get(const struct proto_state *m, struct dp_pkg_state *s);

/* Encoders write into the buffer given (PROTO_FRAME_MAX bytes is always
 * enough) and return the payload length. */
size_t proto_enc_push(const struct proto_push *m, unsigned char *buf);
size_t proto_enc_content(const struct proto_content *m, unsigned char *buf);
size_t proto_enc_result(const struct proto_result *m, unsigned char *buf);
size_t proto_enc_state(const struct proto_state *m, unsigned char *buf);
size_t proto_enc_error(const struct proto_error *m, unsigned char *buf);

/* Decoders check every field against its bound; -1 with err naming the
 * frame otherwise. */
int proto_dec_push(const unsigned char *b, size_t n, struct proto_push *m);
size_t proto_enc_manifest(const struct proto_manifest *m, unsigned char *buf);
int proto_dec_manifest(const unsigned char *b, size_t n,
    struct proto_manifest *m);
int proto_dec_content(const unsigned char *b, size_t n,
    struct proto_content *m);
size_t proto_enc_recipe(const struct proto_recipe *m, unsigned char *buf);
int proto_dec_recipe(const unsigned char *b, size_t n, struct proto_recipe *m);
int proto_dec_result(const unsigned char *b, size_t n, struct proto_result *m);
int proto_dec_state(const unsigned char *b, size_t n, struct proto_state *m);
int proto_dec_error(const unsigned char *b, size_t n, struct proto_error *m);
/* PATHS: the count of DPs (2 to PROTO_PATHS_MAX). */
int proto_dec_paths(const unsigned char *b, size_t n, uint32_t *count);
/* NEXT: a path (at most PROTO_PATH_MAX bytes; "" ends the session). */
size_t proto_enc_next(const char *path, unsigned char *buf);
int proto_dec_next(const unsigned char *b, size_t n,
    char path[PROTO_PATH_MAX + 1]);
/* STATUS: the package name ("" or name_valid()). */
int proto_dec_status(const unsigned char *b, size_t n,
    char pkg[NAME_MAX_LEN + 1]);
/* NEED: up to PROTO_NEED_PER_FRAME entries into v (that many slots);
 * *n gets the count. */
int proto_dec_need(const unsigned char *b, size_t n,
    unsigned char (*digests)[DIGEST_LEN], uint64_t *sizes, size_t *count);

#endif
