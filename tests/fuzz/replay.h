/*
 * replay.h — turns a fuzz harness into a unit test that replays the
 * committed corpus, so every input the fuzzer ever kept (and every crash
 * it found, once added to the corpus) is checked by make check and, under
 * the sanitizers, by make asan.
 *
 * tests/unit/fuzz_NAME.c is just:
 *
 *	#define FUZZ_NAME "NAME"
 *	#include "../fuzz/NAME.c"
 *	#include "../fuzz/replay.h"
 *
 * The corpus is $PKGDIST_SRC/tests/fuzz/corpus/NAME (tests/run exports
 * PKGDIST_SRC; else the current directory is taken as the source tree).
 * A broken promise aborts, which tests/run counts as a failure.
 */
#ifndef PKGDIST_FUZZ_REPLAY_H
#define PKGDIST_FUZZ_REPLAY_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "../unit/tap.h"

static int
replay_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(void)
{
	const char *src = getenv("PKGDIST_SRC");
	char dir[4096];
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, i, bytes = 0;
	int dfd, bad = 0;

	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s",
	    src != NULL && src[0] != '\0' ? src : ".", FUZZ_NAME);
	if ((d = opendir(dir)) == NULL) {
		tap_ok(0, "fuzz %s: corpus directory %s exists", FUZZ_NAME,
		    dir);
		return tap_done();
	}
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((names = realloc(names, cap * sizeof(*names))) ==
			    NULL)
				abort();
		}
		if ((names[n++] = strdup(de->d_name)) == NULL)
			abort();
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), replay_cmp);
	for (i = 0; i < n; i++) {
		char *buf = NULL;
		size_t len = 0;

		if (io_slurp(dfd, names[i], 1u << 24, &buf, &len) == -1) {
			tap_diag("%s: %s", names[i], err_get());
			bad++;
			continue;
		}
		/* An exact-size copy, so ASan sees any read past the end. */
		{
			uint8_t *copy = malloc(len ? len : 1);

			if (copy == NULL)
				abort();
			memcpy(copy, buf, len);
			LLVMFuzzerTestOneInput(copy, len);
			free(copy);
		}
		bytes += len;
		free(buf);
		free(names[i]);
	}
	free(names);
	closedir(d);
	tap_ok(n > 0 && bad == 0,
	    "fuzz %s: all %zu committed corpus inputs (%zu bytes) are "
	    "accepted or refused without a crash or a broken promise",
	    FUZZ_NAME, n, bytes);
	return tap_done();
}

#endif
