/*
 * test_path_show.c — paths in messages (path_show, manifest.h): escaped
 * as manifests escape them, and every byte that is not valid UTF-8 (or
 * is a C1 control) as \ooo too; valid UTF-8 stands; long ones are cut.
 */
#include <string.h>

#include "manifest.h"
#include "path.h"
#include "tap.h"

static int
shows(const char *path, const char *want)
{
	char buf[PATH_SHOW_LEN];

	path_show(path, buf, sizeof(buf));
	if (strcmp(buf, want) != 0)
		tap_diag("got '%s', want '%s'", buf, want);
	return strcmp(buf, want) == 0;
}

int
main(void)
{
	char small[12], big[3000];

	tap_ok(shows("setup/read me.txt", "setup/read\\040me.txt"),
	    "a space is \\040, as in manifests");
	tap_ok(shows("a\\b\nc\td\177", "a\\134b\\012c\\011d\\177"),
	    "backslash, newline, tab and DEL are escaped");
	tap_ok(shows("a\377b\200", "a\\377b\\200"),
	    "bytes that are not UTF-8 are escaped");
	tap_ok(shows("caf\303\251 \342\202\254 \360\237\223\246",
		   "caf\303\251\\040\342\202\254\\040\360\237\223\246"),
	    "valid UTF-8 of 2, 3 and 4 bytes stands as it is");
	tap_ok(shows("x\302\233y", "x\\302\\233y"),
	    "a C1 control (U+009B, CSI) is escaped");
	tap_ok(shows("\300\257", "\\300\\257"), "an overlong '/' is escaped");
	tap_ok(shows("\355\240\200", "\\355\\240\\200"),
	    "a UTF-16 surrogate is escaped");
	tap_ok(shows("\364\220\200\200", "\\364\\220\\200\\200"),
	    "a code point above U+10FFFF is escaped");
	tap_ok(shows("end\342\202", "end\\342\\202"),
	    "a sequence cut by the end of the name is escaped");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	path_show(big, small, sizeof(small));
	tap_ok(strcmp(small, "xxxxxxxx...") == 0,
	    "a name longer than the buffer is cut with '...'");
	path_show("\377\377\377", small, sizeof(small));
	tap_ok(strcmp(small, "\\377\\377...") == 0,
	    "an escape is never cut in the middle");
	small[0] = 'z';
	path_show("abc", small, 1);
	tap_ok(small[0] == '\0', "a one-byte buffer gets an empty string");
	return tap_done();
}
