/*
 * remote.h — the client side of a remote DP: pkgpush reaching
 * "ssh://[user@]host[:port]/path" through OpenSSH.
 *
 * remote_push() is what pkgpush calls instead of dp_push() for a DP of
 * kind DP_SSH: it starts
 *
 *   SSH [-p PORT] [-l USER] HOST REMOTE-PKGPUSH --serve 'PATH'
 *
 * (SSH and REMOTE-PKGPUSH are the settings config_ssh() and
 * config_remote_pkgpush() give: $PKGDIST_SSH, else the store's "ssh"
 * line, else "ssh", split into words on blanks, so "ssh -i KEY -o
 * OPTION" works; $PKGDIST_REMOTE_PKGPUSH, else the "remote-pkgpush"
 * line, else "pkgpush", given to the remote shell as it is; PATH is
 * quoted for that shell), with no local shell: the words are exec'd
 * directly.
 * Over ssh's stdin and stdout it speaks proto.h: it sends the package,
 * version, options and manifest; the remote (serve.h) runs
 * the same dp_push() as a local push against PATH, under the DP's lock,
 * and asks for the contents it lacks; remote_push() sends exactly those,
 * in their stored form (zlib stream or raw, store_content_raw()), never
 * recompressed; the remote checks every SHA-256 as it writes and reports
 * the result, which remote_push() returns as dp_push() would.
 *
 * DPs of one host share a session when the caller asks
 * (remote_connect_many(): "--serve 'PATH1' 'PATH2' ..."): one ssh
 * login, one remote process, a push per DP in turn, each with its own
 * result, lock and after-work on the remote; a key that an
 * authorized_keys command= ties to one DP still gets one DP a session.
 *
 * A broken connection, a stuck peer (timeouts: config_ssh_timeout()),
 * a peer of another protocol version, or a remote that asks for a
 * content the manifest does not name is a failure of that DP (-1, err
 * set, "ssh://host/path: why"); the remote then leaves the DP at its
 * old version, as a local push does.  The caller queues the retry.
 *
 * $PKGDIST_REMOTE_STATS, when set, names a file to which each push
 * appends one line "TARGET sent N received N contents N content_bytes N
 * manifest HOW spare N" (bytes on the wire each way; contents sent and their
 * stored bytes; HOW: whole, changes, or fallback when the remote asked
 * for the whole manifest after a change list; spare 1 when the remote
 * made the new tree from its spare): what the tests and the benchmark
 * measure.
 *
 * Thread-safe: pkgpush runs several remote_push() at once (-j).
 */
#ifndef PKGDIST_REMOTE_H
#define PKGDIST_REMOTE_H

#include <stddef.h>

#include "dp.h"
#include "dplist.h"
#include "dppush.h"
#include "manifest.h"
#include "proto.h"

struct config;
struct store;

#define REMOTE_STATS_ENV "PKGDIST_REMOTE_STATS"

/* How long pkgpush --serve waits for the DP's lock by default. */
#define REMOTE_LOCK_WAIT 3600

/* A connection being set up (ssh started, our hello sent). */
struct remote_conn;

/*
 * Start ssh for t (with the settings cfg, the store's: store_config();
 * NULL: the environment and the defaults only) and send our hello,
 * without waiting for the remote:
 * pkgpush calls it before it loads the manifest from the store, so that
 * work overlaps the ssh handshake.  -1 (err set) only when ssh cannot be
 * started; a remote that fails later is reported by remote_push().
 */
int remote_connect(const struct dp_target *t, const struct config *cfg,
    struct remote_conn **c);
/*
 * The same for a session that may go on to more DPs of t's host: the
 * remote is started for t's path and then the paths more (nmore, at
 * most PROTO_PATHS_MAX - 1 are taken), "pkgpush --serve PATH...", which
 * serves each once (proto.h).  A remote that ends before a word of the
 * protocol (a release that takes one path exits 2 with its usage
 * message; a forced command may refuse the form; not ssh's own exit 255)
 * is started again by remote_push() for t alone, its message not shown,
 * and r->one_dp_sessions says so, so that the caller opens no more such
 * sessions to that host.
 */
int remote_connect_many(const struct dp_target *t, const struct config *cfg,
    const char *const *more, size_t nmore, struct remote_conn **c);
/* Can the session c (kept by remote_push()) push t next: t on the same
 * host, port and login, its path one of the session's not pushed yet? */
bool remote_session_serves(const struct remote_conn *c,
    const struct dp_target *t);
/* Two ssh:// targets on the same host and port, with the same login. */
bool remote_same_login(const struct dp_target *a, const struct dp_target *b);
/* Does c have paths left that it could still push? */
bool remote_session_left(const struct remote_conn *c);
/* End a session kept by remote_push() (NULL: nothing), as one that went
 * well: the remote is told there is no more. */
void remote_session_end(struct remote_conn *c);
/* End a connection that remote_push() will not use (ssh terminated). */
void remote_conn_free(struct remote_conn *c);

/*
 * A session with the remote program in another mode (a child site,
 * sites.h): ssh started as for a DP, with "--serve PATH" replaced by
 * "MODE PATH", its standard input and output on remote_conn_fd() (a
 * socket) for the caller's own protocol, no hello sent.
 * remote_conn_done() ends a session that went well (ssh given time to
 * exit cleanly), remote_conn_free() one that did not; either passes on
 * what the remote wrote to stderr.
 */
int remote_open_mode(const struct dp_target *t, const struct config *cfg,
    const char *mode, struct remote_conn **c);
int remote_conn_fd(const struct remote_conn *c);
/* "ssh://host/path", for messages. */
const char *remote_conn_where(const struct remote_conn *c);
/* Seconds a read may wait for the peer (config_ssh_timeout()). */
double remote_conn_timeout(const struct remote_conn *c);
void remote_conn_done(struct remote_conn *c);
/* End such a session by how it went: remote_conn_done() when rc is 0,
 * else remote_conn_free() with the failure's error kept; returns rc. */
int remote_conn_end(struct remote_conn *c, int rc);
/* End a session whose remote refused our request as one of a protocol it
 * does not know (an older release: the caller asks again in an older
 * one), its stderr not passed on: it only said that it is older. */
void remote_conn_drop(struct remote_conn *c);

/*
 * Bring pkg on the remote DP t to m's version (m: the store's manifest,
 * header set), reading contents from s (and the settings from its
 * store_config()).  base: the version the store
 * says the DP holds whole (0: none): when the store still has it, only
 * the change list from it is sent (the remote checks the manifest it
 * rebuilds against m's digest, and asks for the whole manifest if it
 * does not hold base after all).  o as for dp_push() (progress
 * and jobs are local matters and are not sent).  *session: a connection
 * from remote_connect() or remote_connect_many() for t, a session an
 * earlier remote_push() kept that serves t (remote_session_serves()),
 * or NULL to connect now; taken over.  After a push that ended in the
 * remote's RESULT (done or failed), a session with DPs left to push is
 * kept in *session for the caller's next (remote_session_end() ends
 * it); otherwise the session is ended here and *session is NULL.  r as
 * dp_push() fills it, from the remote's report; on failure
 * r->failed_errno and r->permanent say why, as for a local DP.
 */
int remote_push(const struct dp_target *t, struct store *s, const char *pkg,
    const struct manifest *m, uint64_t base, const struct dp_push_opts *o,
    struct remote_conn **session, struct dp_push_result *r);

/*
 * dp_states() of the remote DP t, reached with the settings cfg: the
 * state of pkg (or, pkg NULL, of every package the DP holds), as its
 * remote end lists them; *v malloc'd (dp_pkg_states_free()).  With pkg
 * given, one entry, status DP_ST_NONE when the DP does not hold it.
 */
int remote_status(const struct dp_target *t, const struct config *cfg,
    const char *pkg, struct dp_pkg_state **v, size_t *n);

/*
 * The argv that reaches t (ssh words, options, host, remote command),
 * malloc'd, NULL-terminated (remote_argv_free()).  Exposed for tests.
 */
int remote_argv(const struct dp_target *t, const struct config *cfg,
    char ***argv);
int remote_argv_mode(const struct dp_target *t, const struct config *cfg,
    const char *mode, char ***argv);
void remote_argv_free(char **argv);

/* Quote s for a POSIX shell: '...' with each ' as '\'' (malloc'd). */
char *remote_shell_quote(const char *s);

#endif
