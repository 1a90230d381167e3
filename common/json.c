/*
 * json.c — the JSON writer (see json.h for the escaping of bytes; what
 * is valid UTF-8 is utf8_char()'s, manifest.h, as for path_show()).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "manifest.h"
#include "path.h"
#include "timefmt.h"

void
json_init(struct json *j)
{
	memset(j, 0, sizeof(*j));
}

void
json_free(struct json *j)
{
	free(j->buf);
	json_init(j);
}

/* Start over, keeping the buffer. */
static void
json_reset(struct json *j)
{
	char *buf = j->buf;
	size_t cap = j->cap;

	json_init(j);
	j->buf = buf;
	j->cap = cap;
	if (buf != NULL)
		buf[0] = '\0';
}

static void
json_put(struct json *j, const char *s, size_t n)
{
	char *nb;
	size_t ncap;

	if (j->nomem || j->misuse)
		return;
	if (j->cap - j->len <= n) {
		ncap = j->cap ? j->cap : 256;
		while (ncap - j->len <= n) {
			if (ncap > SIZE_MAX / 2) {
				j->nomem = true;
				return;
			}
			ncap *= 2;
		}
		if ((nb = realloc(j->buf, ncap)) == NULL) {
			j->nomem = true;
			return;
		}
		j->buf = nb;
		j->cap = ncap;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void
json_putc(struct json *j, char c)
{
	json_put(j, &c, 1);
}

/*
 * Before a value: the comma, and whether a value may stand here (at the
 * top only once; in an object only after a key).
 */
static void
json_value_start(struct json *j)
{
	int d = j->depth;

	if (d == 0) {
		if (j->len != 0)
			j->misuse = true; /* a second top-level value */
		return;
	}
	if (j->is_obj[d - 1]) {
		if (!j->after_key)
			j->misuse = true;
		j->after_key = false;
		return;
	}
	if (j->comma[d - 1])
		json_putc(j, ',');
	j->comma[d - 1] = true;
}

static void
json_open(struct json *j, char c, bool obj)
{
	json_value_start(j);
	if (j->depth == JSON_DEPTH) {
		j->misuse = true;
		return;
	}
	json_putc(j, c);
	j->is_obj[j->depth] = obj;
	j->comma[j->depth] = false;
	j->depth++;
}

static void
json_close(struct json *j, char c, bool obj)
{
	if (j->depth == 0 || j->is_obj[j->depth - 1] != obj || j->after_key) {
		j->misuse = true;
		return;
	}
	j->depth--;
	json_putc(j, c);
}

void
json_object_begin(struct json *j)
{
	json_open(j, '{', true);
}

void
json_object_end(struct json *j)
{
	json_close(j, '}', true);
}

void
json_array_begin(struct json *j)
{
	json_open(j, '[', false);
}

void
json_array_end(struct json *j)
{
	json_close(j, ']', false);
}

static void
json_put_u(struct json *j, unsigned v)
{
	static const char hex[] = "0123456789abcdef";
	char e[6] = { '\\', 'u', hex[v >> 12 & 15], hex[v >> 8 & 15],
		hex[v >> 4 & 15], hex[v & 15] };

	json_put(j, e, sizeof(e));
}

static void
json_put_string(struct json *j, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run, k;
	uint32_t cp;

	json_putc(j, '"');
	while (i < len) {
		/* Bytes that stand as they are go out in one piece. */
		for (run = i; run < len && p[run] >= 0x20 && p[run] < 0x7f &&
		     p[run] != '"' && p[run] != '\\';
		     run++)
			;
		json_put(j, s + i, run - i);
		if ((i = run) == len)
			break;
		switch (p[i]) {
		case '"':
			json_put(j, "\\\"", 2);
			break;
		case '\\':
			json_put(j, "\\\\", 2);
			break;
		case '\b':
			json_put(j, "\\b", 2);
			break;
		case '\f':
			json_put(j, "\\f", 2);
			break;
		case '\n':
			json_put(j, "\\n", 2);
			break;
		case '\r':
			json_put(j, "\\r", 2);
			break;
		case '\t':
			json_put(j, "\\t", 2);
			break;
		default:
			if (p[i] < 0x80) {
				json_put_u(j, p[i]); /* controls, DEL */
				break;
			}
			if ((k = utf8_char(p + i, len - i, &cp)) == 0) {
				json_put_u(j, 0xdc00 | p[i]);
				break;
			}
			if (cp < 0xa0 || cp == 0x2028 || cp == 0x2029)
				json_put_u(j, cp);
			else
				json_put(j, s + i, k);
			i += k;
			continue;
		}
		i++;
	}
	json_putc(j, '"');
}

void
json_key(struct json *j, const char *key)
{
	int d = j->depth;

	if (d == 0 || !j->is_obj[d - 1] || j->after_key) {
		j->misuse = true;
		return;
	}
	if (j->comma[d - 1])
		json_putc(j, ',');
	j->comma[d - 1] = true;
	json_put_string(j, key, strlen(key));
	json_putc(j, ':');
	j->after_key = true;
}

void
json_string_len(struct json *j, const char *s, size_t len)
{
	if (s == NULL) {
		json_null(j);
		return;
	}
	json_value_start(j);
	json_put_string(j, s, len);
}

void
json_string(struct json *j, const char *s)
{
	json_string_len(j, s, s != NULL ? strlen(s) : 0);
}

void
json_int(struct json *j, int64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof(b), "%" PRId64, v);

	json_value_start(j);
	json_put(j, b, (size_t)n);
}

void
json_uint(struct json *j, uint64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof(b), "%" PRIu64, v);

	json_value_start(j);
	json_put(j, b, (size_t)n);
}

void
json_bool(struct json *j, bool v)
{
	json_value_start(j);
	if (v)
		json_put(j, "true", 4);
	else
		json_put(j, "false", 5);
}

void
json_null(struct json *j)
{
	json_value_start(j);
	json_put(j, "null", 4);
}

void
json_key_string(struct json *j, const char *key, const char *s)
{
	json_key(j, key);
	json_string(j, s);
}

void
json_key_int(struct json *j, const char *key, int64_t v)
{
	json_key(j, key);
	json_int(j, v);
}

void
json_key_uint(struct json *j, const char *key, uint64_t v)
{
	json_key(j, key);
	json_uint(j, v);
}

void
json_key_bool(struct json *j, const char *key, bool v)
{
	json_key(j, key);
	json_bool(j, v);
}

void
json_key_null(struct json *j, const char *key)
{
	json_key(j, key);
	json_null(j);
}

int
json_done(struct json *j, const char **text, size_t *len)
{
	if (j->nomem)
		return err_set("cannot write JSON: %s", strerror(ENOMEM));
	if (j->misuse || j->depth != 0 || j->len == 0)
		return err_set("cannot write JSON: value incomplete or out "
			       "of place");
	*text = j->buf;
	*len = j->len;
	return 0;
}

int
json_line_write(struct json *j, FILE *fp)
{
	const char *text;
	size_t len;
	int r = -1;

	if (json_done(j, &text, &len) == -1)
		goto out;
	json_put(j, "\n", 1);
	if (j->nomem) {
		err_set("cannot write JSON: %s", strerror(ENOMEM));
		goto out;
	}
	if (fwrite(j->buf, 1, j->len, fp) != j->len) {
		err_sys("cannot write '%s'",
		    fp == stdout ? "stdout" : "JSON output");
		goto out;
	}
	r = 0;
out:
	json_reset(j);
	return r;
}

void
json_key_time(struct json *j, const char *key, int64_t t)
{
	char when[TIMEFMT_LEN];

	json_key_string(j, key,
	    timefmt_utc(t, when, sizeof(when)) == 0 ? when : NULL);
}

void
json_record_begin(struct json *j)
{
	json_init(j);
	json_object_begin(j);
	json_key_int(j, "schema", 1);
}

int
json_record_end(struct json *j, FILE *fp)
{
	int r;

	json_object_end(j);
	r = json_line_write(j, fp);
	json_free(j);
	return r;
}
