/*
 * Harness: the JSON writer (json_string_len, json.h) on arbitrary bytes.
 * fuzz-needs: common/json.c
 *
 * The input is cut at its first NUL byte into a key and a value (no NUL:
 * the whole input is the value, the key is "k"); the value is also cut
 * at every 0x01 byte into the words of an array.  Promises checked: the
 * line is one line of printable ASCII or valid UTF-8 (no raw control
 * byte, no C1 control, no U+2028/U+2029), it is exactly the object
 * {KEY:VALUE,"a":[WORDS...],"n":null} in RFC 8259 syntax, and decoding
 * each string (U+DC80-U+DCFF back to the byte 0x80-0xFF) gives back the
 * bytes written.
 */
#include <stdbool.h>
#include <string.h>

#include "json.h"
#include "fuzz.h"

struct jdec {
	const unsigned char *p, *end;
};

static int
jdec_hex4(struct jdec *d, unsigned *v)
{
	int i;

	*v = 0;
	if (d->end - d->p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		unsigned char c = *d->p++;

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			*v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			*v |= c - 'A' + 10;
		else
			return -1;
	}
	return 0;
}

/* Append the UTF-8 of code point v. */
static size_t
jdec_utf8(unsigned v, unsigned char *o)
{
	if (v < 0x80) {
		o[0] = (unsigned char)v;
		return 1;
	}
	if (v < 0x800) {
		o[0] = (unsigned char)(0xc0 | v >> 6);
		o[1] = (unsigned char)(0x80 | (v & 0x3f));
		return 2;
	}
	o[0] = (unsigned char)(0xe0 | v >> 12);
	o[1] = (unsigned char)(0x80 | (v >> 6 & 0x3f));
	o[2] = (unsigned char)(0x80 | (v & 0x3f));
	return 3;
}

/*
 * Decode the string at d->p (at its opening quote) into out (room for
 * the whole line); -1 when it breaks RFC 8259 or the writer's rules.
 */
static int
jdec_string(struct jdec *d, unsigned char *out, size_t *olen)
{
	size_t o = 0;
	unsigned v;

	if (d->p == d->end || *d->p++ != '"')
		return -1;
	while (d->p < d->end && *d->p != '"') {
		unsigned char c = *d->p++;

		if (c < 0x20 || c == 0x7f)
			return -1; /* raw control byte */
		if (c == 0xc2 && d->p < d->end && *d->p < 0xa0)
			return -1; /* raw C1 control */
		if (c == 0xe2 && d->end - d->p >= 2 && d->p[0] == 0x80 &&
		    (d->p[1] == 0xa8 || d->p[1] == 0xa9))
			return -1; /* raw U+2028, U+2029 */
		if (c != '\\') {
			out[o++] = c;
			continue;
		}
		if (d->p == d->end)
			return -1;
		switch (c = *d->p++) {
		case '"':
		case '\\':
		case '/':
			out[o++] = c;
			break;
		case 'b':
			out[o++] = '\b';
			break;
		case 'f':
			out[o++] = '\f';
			break;
		case 'n':
			out[o++] = '\n';
			break;
		case 'r':
			out[o++] = '\r';
			break;
		case 't':
			out[o++] = '\t';
			break;
		case 'u':
			if (jdec_hex4(d, &v) == -1)
				return -1;
			if (v >= 0xdc80 && v <= 0xdcff)
				out[o++] = (unsigned char)(v & 0xff);
			else if (v >= 0xd800 && v <= 0xdfff)
				return -1; /* the writer makes no other */
			else
				o += jdec_utf8(v, out + o);
			break;
		default:
			return -1;
		}
	}
	if (d->p == d->end)
		return -1;
	d->p++;
	*olen = o;
	return 0;
}

static int
jdec_lit(struct jdec *d, const char *s)
{
	size_t n = strlen(s);

	if ((size_t)(d->end - d->p) < n || memcmp(d->p, s, n) != 0)
		return -1;
	d->p += n;
	return 0;
}

/* A decoded string equals the n bytes at want. */
static int
jdec_expect(struct jdec *d, unsigned char *tmp, const void *want, size_t n)
{
	size_t got;

	if (jdec_string(d, tmp, &got) == -1)
		return -1;
	return got == n && memcmp(tmp, want, n) == 0 ? 0 : -1;
}

/* The input's key/value/words as the harness builds them. */
static void
fuzz_split(const uint8_t *data, size_t size, const char **key, size_t *klen,
    const char **val, size_t *vlen)
{
	const uint8_t *z = memchr(data, '\0', size);

	if (z == NULL) {
		*key = "k";
		*klen = 1;
		*val = (const char *)data;
		*vlen = size;
	} else {
		*key = (const char *)data;
		*klen = (size_t)(z - data);
		*val = (const char *)z + 1;
		*vlen = size - *klen - 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json j;
	struct jdec d;
	const char *key, *val, *text, *w, *next;
	char *kz;
	unsigned char *tmp;
	size_t klen, vlen, len, left;

	fuzz_split(data, size, &key, &klen, &val, &vlen);
	if ((kz = malloc(klen + 1)) == NULL)
		return 0;
	memcpy(kz, key, klen);
	kz[klen] = '\0';
	json_init(&j);
	json_object_begin(&j);
	json_key(&j, kz);
	json_string_len(&j, val, vlen);
	json_key(&j, "a");
	json_array_begin(&j);
	for (w = val, left = vlen;;) {
		next = memchr(w, '\1', left);
		json_string_len(&j, w, next ? (size_t)(next - w) : left);
		if (next == NULL)
			break;
		left -= (size_t)(next - w) + 1;
		w = next + 1;
	}
	json_array_end(&j);
	json_key_null(&j, "n");
	json_object_end(&j);
	if (json_done(&j, &text, &len) == -1)
		fuzz_fail("a complete object is not done");
	if (memchr(text, '\n', len) != NULL || strlen(text) != len)
		fuzz_fail("the line holds a newline or a NUL");
	if ((tmp = malloc(len + 1)) == NULL)
		fuzz_fail("out of memory");
	d.p = (const unsigned char *)text;
	d.end = d.p + len;
	if (jdec_lit(&d, "{") == -1 || jdec_expect(&d, tmp, kz, klen) == -1 ||
	    jdec_lit(&d, ":") == -1 || jdec_expect(&d, tmp, val, vlen) == -1 ||
	    jdec_lit(&d, ",\"a\":[") == -1)
		fuzz_fail("key or value does not decode to the bytes written");
	for (w = val, left = vlen;;) {
		next = memchr(w, '\1', left);
		if (jdec_expect(&d, tmp, w, next ? (size_t)(next - w) : left) ==
		    -1)
			fuzz_fail("an array word does not decode back");
		if (next == NULL)
			break;
		if (jdec_lit(&d, ",") == -1)
			fuzz_fail("array words not separated by a comma");
		left -= (size_t)(next - w) + 1;
		w = next + 1;
	}
	if (jdec_lit(&d, "],\"n\":null}") == -1 || d.p != d.end)
		fuzz_fail("the object does not end as written");
	free(tmp);
	free(kz);
	json_free(&j);
	return 0;
}
