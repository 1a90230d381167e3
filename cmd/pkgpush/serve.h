/*
 * serve.h — "pkgpush --serve PATH": the remote end of a remote DP.
 *
 * Started by ssh on the DP's host (remote.h), it speaks proto.h on its
 * stdin and stdout and runs the very dp_push() a local push runs, on the
 * local directory PATH, with a content source that reads the contents
 * from the connection.  See serve.c.
 */
#ifndef PKGPUSH_SERVE_H
#define PKGPUSH_SERVE_H

/* Serve one session on stdin/stdout for the DP at path; returns the
 * exit code (0 done, 1 the push failed, 2 trouble). */
int serve_main(const char *path);

#endif
