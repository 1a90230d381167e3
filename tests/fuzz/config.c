/*
 * Harness: the site settings parser (config_load_buf) on arbitrary bytes.
 * fuzz-needs: common/config.c
 *
 * Promises checked: an accepted file has at most one ssh, remote-pkgpush
 * and ssh-timeout line, valid mount names, bwlimit lines with a valid
 * target, a rate from 1 to 2^48 and a window inside the day, no two
 * lines for one target applying at one minute, and every lookup returns
 * one of its lines; a refused file is left empty and says why.
 */
#include <string.h>

#include "config.h"
#include "manifest.h"
#include "fuzz.h"
#include "path.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	const struct config_bwlimit *b;
	size_t i, k;
	unsigned m;

	if (config_load_buf((const char *)data, size, "config", &c) == -1) {
		fuzz_check_err();
		if (c.ssh != NULL || c.nmount != 0 || c.nbwlimit != 0 ||
		    c.remote_pkgpush != NULL)
			fuzz_fail("refused file not left empty");
		config_free(&c);
		return 0;
	}
	if ((c.ssh != NULL) != (c.ssh_line != 0) ||
	    (c.remote_pkgpush != NULL) != (c.remote_pkgpush_line != 0) ||
	    (c.ssh_timeout > 0) != (c.ssh_timeout_line != 0))
		fuzz_fail("a setting without its line");
	for (i = 0; i < c.nmount; i++)
		if (!name_valid(c.mount[i]))
			fuzz_fail("accepted mount of an invalid name");
	for (i = 0; i < c.nbwlimit; i++) {
		b = &c.bwlimit[i];
		if ((strcmp(b->target, "*") != 0 && !name_valid(b->target)) ||
		    b->rate == 0 || b->rate > CONFIG_RATE_MAX ||
		    (b->window &&
			(b->from >= 1440 || b->to > 1440 || b->from == b->to)))
			fuzz_fail("accepted a bad bwlimit line");
		for (k = 0; k < i; k++)
			if (strcmp(c.bwlimit[k].target, b->target) == 0 &&
			    !c.bwlimit[k].window && !b->window)
				fuzz_fail("two whole-day lines for a target");
	}
	for (m = 0; c.nbwlimit > 0 && m < 1440; m += 7) {
		b = config_bwlimit_find(&c, c.bwlimit[0].target, NULL,
		    (time_t)m * 60);
		if (b != NULL && (b < c.bwlimit || b >= c.bwlimit + c.nbwlimit))
			fuzz_fail("lookup returned no line of the file");
	}
	config_free(&c);
	return 0;
}
