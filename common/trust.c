/*
 * trust.c — checking a version against STORE/trust (trust.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>

#include "err.h"
#include "sign.h"
#include "store.h"
#include "trust.h"

int
trust_check(struct store *s, const char *what, const char *pkg,
    uint64_t version, const void *mb, size_t mlen, const unsigned char *sig,
    size_t siglen, bool *refused)
{
	struct sign_keyring *kr = NULL;
	char path[PATH_MAX];
	int rc = -1;

	*refused = false;
	if (snprintf(path, sizeof(path), "%s/%s", store_dir(s), STORE_TRUST) >=
	    (int)sizeof(path))
		return err_set("store path too long");
	if (sign_keyring_load(path, &kr) == -1) {
		if (err_errno() == ENOENT)
			return 0;
		return err_prefix("trust: ");
	}
	*refused = true;
	if (sig == NULL || siglen == 0) {
		err_set("%s: %s version %" PRIu64 " is not signed, and '%s' "
			"wants a signature by one of its keys",
		    what, pkg, version, path);
		goto out;
	}
	if (sign_keyring_verify(kr, mb, mlen, sig, siglen) == -1) {
		if (err_errno() != 0)
			*refused = false;
		err_prefix("%s: %s version %" PRIu64 ": ", what, pkg, version);
		goto out;
	}
	*refused = false;
	rc = 0;
out:
	sign_keyring_free(kr);
	return rc;
}
