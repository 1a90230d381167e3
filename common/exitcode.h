/*
 * exitcode.h — the exit codes every pkgdist tool uses, defined once.
 *
 * They follow diff(1) and skalibs: 0 is success, 1 a meaningful negative
 * answer (differences found, some targets failed and were queued for
 * retry), 2 trouble that stopped the tool before it changed anything.
 */
#ifndef PKGDIST_EXITCODE_H
#define PKGDIST_EXITCODE_H

enum {
	EXIT_DONE = 0,	  /* everything asked for was done */
	EXIT_PARTIAL = 1, /* differences found / some targets failed */
	EXIT_TROUBLE = 2  /* bad usage or input, nothing changed */
};

#endif
