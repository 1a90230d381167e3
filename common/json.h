/*
 * json.h — the one JSON writer: the objects of --json output (JSON
 * Lines, one object a line), built in memory and written whole.
 *
 *   struct json j;
 *   json_init(&j);
 *   json_object_begin(&j);
 *   json_key_int(&j, "schema", 1);
 *   json_key_string(&j, "target", name);       (NULL writes null)
 *   json_key(&j, "command"); json_array_begin(&j);
 *   ... json_string(&j, word) ... json_array_end(&j);
 *   json_object_end(&j);
 *   if (json_line_write(&j, stdout) == -1) ... (err set)
 *   json_free(&j);
 *
 * Calls never fail one by one: a failure (no memory, a call out of
 * place such as a value where a key is due) is remembered and reported
 * by json_line_write() or json_done(), which write nothing then.  A line
 * is written with one fwrite(), so lines of threads never mix.
 *
 * Strings are bytes, not text: file names and command words come from
 * outside and need not be UTF-8.  They are written so that the line is
 * valid JSON (RFC 8259), stays one line, and gives the bytes back:
 *   - valid UTF-8 stands as it is, except as below;
 *   - '"' and '\' as \" and \\; bytes below 0x20 as \b \f \n \r \t or
 *     \u00XX; DEL, the C1 controls U+0080-U+009F and U+2028, U+2029 as
 *     \u007f, \u0080 ... (a terminal or a JavaScript reader acts on them);
 *   - every byte 0xXY that is not part of valid UTF-8 (a stray or cut
 *     sequence, an overlong form, an encoded surrogate, a code point
 *     above U+10FFFF) as the lone low surrogate \udcXY: Python's
 *     "surrogateescape" (PEP 383).  No valid UTF-8 text holds a
 *     surrogate, so the scheme is reversible: in Python,
 *     json.loads(line)["k"].encode("utf-8", "surrogateescape") (or
 *     os.fsencode()) is the original bytes; elsewhere, map each
 *     U+DC80-U+DCFF back to the byte 0x80-0xFF and UTF-8-encode the rest.
 * pkgdist(7) documents the scheme for readers.
 */
#ifndef PKGDIST_JSON_H
#define PKGDIST_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_DEPTH 16

struct json {
	char *buf;
	size_t len, cap;
	int depth;
	bool nomem;		  /* a buffer could not grow */
	bool misuse;		  /* a call out of place */
	bool key_due[JSON_DEPTH]; /* in an object, a key comes next */
	bool comma[JSON_DEPTH];	  /* a value was written at this depth */
	bool is_obj[JSON_DEPTH];
	bool after_key; /* a key was written, its value comes next */
};

void json_init(struct json *j);
/* Release the buffer; safe on an initialised or freed writer. */
void json_free(struct json *j);

/* Containers: as a value (at the top, in an array, after a key). */
void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);
/* The key of the next member of the object being written. */
void json_key(struct json *j, const char *key);

/* Values.  json_string(NULL) and json_string_len(NULL, 0) write null. */
void json_string(struct json *j, const char *s);
void json_string_len(struct json *j, const char *s, size_t len);
void json_int(struct json *j, int64_t v);
void json_uint(struct json *j, uint64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);

/* Key and value in one call, for flat objects. */
void json_key_string(struct json *j, const char *key, const char *s);
void json_key_int(struct json *j, const char *key, int64_t v);
void json_key_uint(struct json *j, const char *key, uint64_t v);
void json_key_bool(struct json *j, const char *key, bool v);
void json_key_null(struct json *j, const char *key);
/* A point in time t (seconds since the epoch) as RFC 3339 in UTC
 * (timefmt_utc()), or null when it has no such form. */
void json_key_time(struct json *j, const char *key, int64_t t);

/*
 * The text written so far, once one complete value stands: 0 with
 * *text (NUL-terminated, owned by j) and *len; -1 with err set
 * ("cannot write JSON: ...") when a call failed or a container is open.
 */
int json_done(struct json *j, const char **text, size_t *len);

/*
 * Write the complete value and a newline to fp in one fwrite() and
 * start over (the writer is ready for the next line).  -1 with err set
 * when json_done() fails or the write fails (err names "stdout" when fp
 * is stdout); nothing is written then, and the writer starts over too.
 */
int json_line_write(struct json *j, FILE *fp);

/*
 * One record of the --json output: every one is an object whose first
 * member is "schema": 1 (pkgdist(7)).  json_record_begin() initialises
 * j and opens it; json_record_end() closes it, writes it as one line
 * (json_line_write(), -1 with err set as there) and frees j.
 */
void json_record_begin(struct json *j);
int json_record_end(struct json *j, FILE *fp);

#endif
