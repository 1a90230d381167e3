/*
 * test_json.c — the JSON writer (json.h): exact output for each kind of
 * value and byte, calls out of place refused, and a property test
 * against python3's json module: random byte strings (random bytes,
 * near-UTF-8, controls), integers at the edges and nested containers
 * are written, parsed by json.loads, and must give the same values back
 * (strings through "surrogateescape", as pkgdist(7) documents).
 * Without python3 the property test is skipped, said so.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "json.h"
#include "tap.h"

static int
writes(const char *s, size_t n, const char *want)
{
	struct json j;
	const char *text;
	size_t len;
	int ok;

	json_init(&j);
	json_string_len(&j, s, n);
	ok = json_done(&j, &text, &len) == 0 && strcmp(text, want) == 0 &&
	    len == strlen(want);
	if (!ok)
		tap_diag("got %s, want %s", j.buf ? j.buf : "(none)", want);
	json_free(&j);
	return ok;
}

static void
test_strings(void)
{
	tap_ok(writes("a b/c", 5, "\"a b/c\""), "ASCII stands, '/' too");
	tap_ok(writes("\"\\", 2, "\"\\\"\\\\\""), "quote and backslash");
	tap_ok(writes("\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\""),
	    "the short escapes");
	tap_ok(writes("\001\037\177", 3, "\"\\u0001\\u001f\\u007f\""),
	    "other controls and DEL as \\u00XX");
	tap_ok(writes("a\0b", 3, "\"a\\u0000b\""), "a NUL byte as \\u0000");
	tap_ok(writes("caf\303\251 \342\202\254 \360\237\223\246", 14,
		   "\"caf\303\251 \342\202\254 \360\237\223\246\""),
	    "valid UTF-8 of 2, 3 and 4 bytes stands");
	tap_ok(writes("\302\205\342\200\250\342\200\251", 8,
		   "\"\\u0085\\u2028\\u2029\""),
	    "C1 controls, U+2028/9 escaped");
	tap_ok(writes("a\377b\200", 4, "\"a\\udcffb\\udc80\""),
	    "a byte that is not UTF-8 is \\udcXY (surrogateescape)");
	tap_ok(writes("\300\257", 2, "\"\\udcc0\\udcaf\""),
	    "an overlong '/' is two escaped bytes");
	tap_ok(writes("\355\240\200", 3, "\"\\udced\\udca0\\udc80\""),
	    "an encoded surrogate is three escaped bytes");
	tap_ok(
	    writes("\364\220\200\200", 4, "\"\\udcf4\\udc90\\udc80\\udc80\""),
	    "above U+10FFFF is escaped");
	tap_ok(writes("x\342\202", 3, "\"x\\udce2\\udc82\""),
	    "a sequence cut by the end of the string is escaped");
	tap_ok(writes("\342\202x", 3, "\"\\udce2\\udc82x\""),
	    "a sequence cut by an ASCII byte is escaped");
	tap_ok(writes(NULL, 0, "null"), "a NULL string is null");
}

static void
test_object(void)
{
	struct json j;
	const char *text;
	size_t len;
	char *mem = NULL;
	size_t memlen = 0;
	FILE *fp;

	json_init(&j);
	json_object_begin(&j);
	json_key_int(&j, "schema", 1);
	json_key_string(&j, "target", "dp1");
	json_key_null(&j, "from");
	json_key_uint(&j, "big", UINT64_MAX);
	json_key_int(&j, "neg", INT64_MIN);
	json_key_bool(&j, "ok", true);
	json_key_bool(&j, "no", false);
	json_key(&j, "command");
	json_array_begin(&j);
	json_string(&j, "pkgpush");
	json_string(&j, "--dp");
	json_array_begin(&j);
	json_array_end(&j);
	json_object_begin(&j);
	json_object_end(&j);
	json_array_end(&j);
	json_object_end(&j);
	tap_ok(json_done(&j, &text, &len) == 0 &&
		strcmp(text,
		    "{\"schema\":1,\"target\":\"dp1\",\"from\":null,"
		    "\"big\":18446744073709551615,\"neg\":-9223372036854775808,"
		    "\"ok\":true,\"no\":false,"
		    "\"command\":[\"pkgpush\",\"--dp\",[],{}]}") == 0,
	    "an object with every kind of value");
	fp = open_memstream(&mem, &memlen);
	tap_ok(fp != NULL && json_line_write(&j, fp) == 0 && fclose(fp) == 0 &&
		memlen == len + 1 && mem[len] == '\n',
	    "json_line_write writes the line and a newline");
	free(mem);
	tap_ok(j.len == 0 && j.depth == 0, "and starts over");
	json_object_begin(&j);
	json_object_end(&j);
	tap_ok(json_done(&j, &text, &len) == 0 && strcmp(text, "{}") == 0,
	    "the next line is written from the start");
	json_free(&j);
}

static int
refused(void (*build)(struct json *), const char *what)
{
	struct json j;
	const char *text;
	size_t len;
	int r;

	json_init(&j);
	build(&j);
	err_set("%s", "");
	r = json_done(&j, &text, &len) == -1 &&
	    strstr(err_get(), "cannot write JSON") != NULL;
	json_free(&j);
	return tap_ok(r, "refused: %s", what);
}

static void
b_unclosed(struct json *j)
{
	json_object_begin(j);
}
static void
b_nokey(struct json *j)
{
	json_object_begin(j);
	json_int(j, 1);
	json_object_end(j);
}
static void
b_keyinarray(struct json *j)
{
	json_array_begin(j);
	json_key(j, "k");
	json_array_end(j);
}
static void
b_dangling(struct json *j)
{
	json_object_begin(j);
	json_key(j, "k");
	json_object_end(j);
}
static void
b_mismatch(struct json *j)
{
	json_object_begin(j);
	json_array_end(j);
}
static void
b_two(struct json *j)
{
	json_int(j, 1);
	json_int(j, 2);
}
static void
b_empty(struct json *j)
{
	(void)j;
}
static void
b_deep(struct json *j)
{
	int i;
	for (i = 0; i <= JSON_DEPTH; i++)
		json_array_begin(j);
	for (i = 0; i <= JSON_DEPTH; i++)
		json_array_end(j);
}

static void
test_misuse(void)
{
	refused(b_unclosed, "an object left open");
	refused(b_nokey, "a member without a key");
	refused(b_keyinarray, "a key in an array");
	refused(b_dangling, "a key without a value");
	refused(b_mismatch, "an object closed as an array");
	refused(b_two, "two values at the top");
	refused(b_empty, "nothing written");
	refused(b_deep, "nesting deeper than JSON_DEPTH");
}

/* A random string: random bytes, or near-UTF-8 (lead and continuation
 * bytes mixed), or controls and quotes. */
static size_t
rnd_string(unsigned char *s, size_t max)
{
	static const unsigned char pick[] = { 0x00, 0x01, 0x0a, 0x1f, '"', '\\',
		'/', 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0,
		0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 'a', ' ' };
	size_t n = (size_t)rand() % max, i;
	int kind = rand() % 3;

	for (i = 0; i < n; i++) {
		if (kind == 0)
			s[i] = (unsigned char)(rand() & 0xff);
		else if (kind == 1)
			s[i] = pick[(size_t)rand() % sizeof(pick)];
		else
			s[i] = (unsigned char)(rand() % 0x24 + 0x0d);
	}
	return n;
}

static void
hex(FILE *fp, const unsigned char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(fp, "%02x", s[i]);
}

/*
 * Each case is two lines: the JSON the writer made, then what it must
 * mean, in a form python reads without JSON ("s HEX", "i N", ...).
 */
/*
 * Each case is two lines: the JSON the writer made, then what it must
 * mean as "T:V", which python reads without JSON: s:HEX a string, i:N,
 * b:true, b:false, n: null, a:,HEX,HEX... an array of strings,
 * o:HEX;HEX an object of one member.
 */
static const char pycheck[] =
    "import json, sys\n"
    "def back(x):\n"
    "    if isinstance(x, str): return x.encode('utf-8', 'surrogateescape')\n"
    "    if isinstance(x, list): return [back(y) for y in x]\n"
    "    if isinstance(x, dict): return [(back(k), back(v)) for k, v in "
    "x.items()]\n"
    "    return x\n"
    "def want(t, v):\n"
    "    if t == 's': return bytes.fromhex(v)\n"
    "    if t == 'i': return int(v)\n"
    "    if t == 'b': return v == 'true'\n"
    "    if t == 'n': return None\n"
    "    if t == 'a': return [bytes.fromhex(x) for x in v.split(',')[1:]]\n"
    "    k, _, v = v.partition(';')\n"
    "    return [(bytes.fromhex(k), bytes.fromhex(v))]\n"
    "bad = 0\n"
    "lines = open(sys.argv[1], 'rb').read().split(b'\\n')[:-1]\n"
    "for i in range(0, len(lines), 2):\n"
    "    line = lines[i].decode('utf-8')\n"
    "    t, _, v = lines[i + 1].decode('ascii').partition(':')\n"
    "    if back(json.loads(line)) != want(t, v):\n"
    "        bad += 1\n"
    "        print('# mismatch:', ascii(line), t, v)\n"
    "print(len(lines) // 2, bad)\n";

static void
test_python(void)
{
	char dir[] = "/tmp/test_json.XXXXXX", data[64], script[64], cmd[256],
	     res[64];
	unsigned char s[64], k[16];
	struct json j;
	FILE *fp, *out;
	long cases = 0, bad = -1;
	size_t n, kn, m;
	int i, w;
	int64_t v;

	if (system("python3 -c 'import json' >/dev/null 2>&1") != 0) {
		tap_ok(1, "# SKIP python3 with json not found");
		return;
	}
	if (mkdtemp(dir) == NULL) {
		tap_ok(0, "mkdtemp");
		return;
	}
	snprintf(data, sizeof(data), "%s/lines", dir);
	snprintf(script, sizeof(script), "%s/check.py", dir);
	fp = fopen(script, "w");
	fputs(pycheck, fp);
	fclose(fp);
	fp = fopen(data, "w");
	json_init(&j);
	srand(14);
	for (i = 0; i < 3000; i++) {
		switch (i % 5) {
		case 0: /* a string */
			n = rnd_string(s, sizeof(s));
			json_string_len(&j, (const char *)s, n);
			json_line_write(&j, fp);
			fputs("s:", fp);
			hex(fp, s, n);
			break;
		case 1: /* an integer, often at an edge */
			v = (int64_t)((uint64_t)rand() << 33 ^
			    (uint64_t)rand() << 2 ^ (uint64_t)rand());
			if (rand() % 4 == 0)
				v = rand() % 2 ? INT64_MIN : INT64_MAX;
			json_int(&j, v);
			json_line_write(&j, fp);
			fprintf(fp, "i:%" PRId64, v);
			break;
		case 2: /* an object of one member, key and value random */
			kn = rnd_string(k, sizeof(k));
			n = rnd_string(s, sizeof(s));
			/* C keys are NUL-terminated */
			for (m = 0; m < kn; m++)
				if (k[m] == 0)
					k[m] = 'z';
			k[kn] = '\0';
			json_object_begin(&j);
			json_key(&j, (const char *)k);
			json_string_len(&j, (const char *)s, n);
			json_object_end(&j);
			json_line_write(&j, fp);
			fputs("o:", fp);
			hex(fp, k, kn);
			fputc(';', fp);
			hex(fp, s, n);
			break;
		case 3: /* an array of strings */
			json_array_begin(&j);
			w = rand() % 5;
			{
				char spec[8 * 140];
				size_t o = 0;

				spec[0] = '\0';
				for (m = 0; m < (size_t)w; m++) {
					size_t q;

					n = rnd_string(s, 16);
					json_string_len(&j, (const char *)s, n);
					o += (size_t)snprintf(spec + o,
					    sizeof(spec) - o, ",");
					for (q = 0; q < n; q++)
						o += (size_t)snprintf(spec + o,
						    sizeof(spec) - o, "%02x",
						    s[q]);
				}
				json_array_end(&j);
				json_line_write(&j, fp);
				fprintf(fp, "a:%s", spec);
			}
			break;
		default: /* true, false, null */
			w = rand() % 3;
			if (w == 2)
				json_null(&j);
			else
				json_bool(&j, w == 1);
			json_line_write(&j, fp);
			fputs(w == 2   ? "n:" :
				w == 1 ? "b:true" :
					 "b:false",
			    fp);
			break;
		}
		fputc('\n', fp);
	}
	json_free(&j);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "python3 %s %s", script, data);
	if ((out = popen(cmd, "r")) != NULL) {
		while (fgets(res, sizeof(res), out) != NULL) {
			if (res[0] == '#')
				fputs(res, stdout);
			else
				sscanf(res, "%ld %ld", &cases, &bad);
		}
		pclose(out);
	}
	tap_ok(cases == 3000 && bad == 0,
	    "python3 json.loads gives back all of 3000 random values "
	    "(%ld read, %ld differ)",
	    cases, bad);
	unlink(data);
	unlink(script);
	rmdir(dir);
}

/* A --json record: "schema": 1 first, one line, the writer freed; a
 * time in UTC, or null when it has no RFC 3339 form. */
static void
test_record(void)
{
	struct json j;
	char *mem = NULL;
	size_t memlen = 0;
	FILE *fp = open_memstream(&mem, &memlen);
	int r;

	json_record_begin(&j);
	json_key_string(&j, "target", "dp1");
	json_key_time(&j, "created", 1700000000);
	json_key_time(&j, "never", INT64_MAX);
	r = fp != NULL ? json_record_end(&j, fp) : -1;
	if (fp != NULL)
		fclose(fp);
	tap_ok(r == 0 && mem != NULL &&
		strcmp(mem,
		    "{\"schema\":1,\"target\":\"dp1\","
		    "\"created\":\"2023-11-14T22:13:20Z\",\"never\":null}\n") ==
		    0,
	    "a record: schema 1 first, a time in UTC, null for none, one line");
	tap_ok(j.buf == NULL, "and its writer is freed");
	free(mem);
	mem = NULL;
	fp = open_memstream(&mem, &memlen);
	json_record_begin(&j);
	json_key(&j, "open");
	r = fp != NULL ? json_record_end(&j, fp) : 0;
	if (fp != NULL)
		fclose(fp);
	tap_ok(r == -1 && memlen == 0 && j.buf == NULL,
	    "a record left incomplete is not written, and is freed");
	free(mem);
}

int
main(void)
{
	test_strings();
	test_object();
	test_record();
	test_misuse();
	test_python();
	return tap_done();
}
