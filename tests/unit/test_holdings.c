/*
 * test_holdings.c — the holdings records of a real store: a record
 * replaced as it is given (store_holding_record()), and a child site's
 * raised only (store_holding_raise()): a push that ends after a racing
 * push of a higher version never records the lower one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store.h"
#include "tap.h"

static struct store_holding
holding(const char *dp, uint64_t version, uint64_t wanted,
    enum store_hold_state st)
{
	struct store_holding h;

	memset(&h, 0, sizeof(h));
	snprintf(h.dp, sizeof(h.dp), "%s", dp);
	h.version = version;
	h.wanted = wanted;
	h.state = st;
	return h;
}

/* The record of dp for "office": its version, wanted and state. */
static bool
is(struct store *s, const char *dp, uint64_t version, uint64_t wanted,
    enum store_hold_state st)
{
	struct store_holding h;

	return store_holding_find(s, "office", dp, &h) == 1 &&
	    h.version == version && h.wanted == wanted && h.state == st;
}

int
main(void)
{
	struct store *s = NULL;
	struct store_holding h;
	char top[256], dir[300], cmd[400];
	const char *tmp = getenv("TMPDIR");

	snprintf(top, sizeof(top), "%s/test_holdings.XXXXXX",
	    tmp ? tmp : "/tmp");
	if (mkdtemp(top) == NULL)
		return 1;
	snprintf(dir, sizeof(dir), "%s/store", top);
	if (store_open(dir, STORE_CREATE, &s) == -1) {
		tap_diag("%s", err_get());
		return 1;
	}
	h = holding("kid", 4, 4, STORE_HOLD_COMPLETE);
	tap_ok(store_holding_raise(s, "office", &h) == 0 &&
		is(s, "kid", 4, 4, STORE_HOLD_COMPLETE),
	    "a first record is kept as given");
	h = holding("kid", 3, 3, STORE_HOLD_COMPLETE);
	tap_ok(store_holding_raise(s, "office", &h) == 0 &&
		is(s, "kid", 4, 3, STORE_HOLD_COMPLETE),
	    "a push of 3 ending after one of 4: the site still holds 4");
	h = holding("kid", 2, 5, STORE_HOLD_FAILED);
	tap_ok(store_holding_raise(s, "office", &h) == 0 &&
		is(s, "kid", 4, 5, STORE_HOLD_FAILED),
	    "a failed push that began when it held 2: still 4, failed");
	h = holding("kid", 5, 5, STORE_HOLD_COMPLETE);
	tap_ok(store_holding_raise(s, "office", &h) == 0 &&
		is(s, "kid", 5, 5, STORE_HOLD_COMPLETE),
	    "a higher version raises it");
	h = holding("dp1", 4, 4, STORE_HOLD_COMPLETE);
	(void)store_holding_record(s, "office", &h);
	h = holding("dp1", 3, 3, STORE_HOLD_COMPLETE);
	tap_ok(store_holding_record(s, "office", &h) == 0 &&
		is(s, "dp1", 3, 3, STORE_HOLD_COMPLETE) &&
		is(s, "kid", 5, 5, STORE_HOLD_COMPLETE),
	    "a DP's record is replaced as given (a DP brought down), the "
	    "others kept");
	store_close(s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd) != 0)
		tap_diag("cannot remove %s", top);
	return tap_done();
}
