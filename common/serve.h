/*
 * serve.h — the server half of the remote DP protocol (proto.h), whose
 * client half is remote.h: what "pkgpush --serve PATH" runs on the DP's
 * host, started there by ssh.
 *
 * serve_session() speaks proto.h on a pair of descriptors (ssh's stdin
 * and stdout) and answers one request for the local DP directory PATH
 * (or, given several, one for each of them: a session for the DPs of
 * one host):
 * a PUSH runs the very dp_push() a local push runs, with a content
 * source that reads the contents from the connection (and keeps what it
 * received across a broken session, in DP/.pkgdist/.incoming); a STATUS
 * lists what the DP holds (dp_states()).  serve.c says how.
 *
 * It never prints and never exits: pkgpush's main reports and picks the
 * exit code.  It forks once after a successful atomic push, a detached
 * child that tidies the DP (dp_push_after()) while holding its lock, so
 * the session ends as soon as the reply is sent.
 */
#ifndef PKGDIST_SERVE_H
#define PKGDIST_SERVE_H

#include <stddef.h>

/*
 * Serve one session on in/out for the DPs at paths (npaths of them, 1 to
 * PROTO_PATHS_MAX, each absolute): one request for paths[0], then, with
 * more than one, a PUSH for each further path the client names (NEXT,
 * proto.h), each at most once.  0: every request was done; 1: a push
 * failed, and the client was told so in its RESULT (the DP is left at
 * its old version); -1 with err set: trouble (not an absolute path, a
 * protocol error, a broken connection), the client told with an ERROR
 * frame when the session was up.  note (notelen bytes) gets what the
 * administrator of this host should be told although the request was
 * done ("" when nothing): a RESULT that could not be delivered.
 * SIGPIPE must be ignored by the caller.
 */
int serve_session(int in, int out, const char *const *paths, size_t npaths,
    char *note, size_t notelen);

#endif
