/*
 * path.c — the name rule, and paths: their rules, the escaping of
 * manifests and change lists, and their form in messages (see path.h).
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "path.h"

#define COMPONENT_MAX 255

bool
name_valid(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0' || name[0] == '.')
		return false;
	for (i = 0; name[i] != '\0'; i++) {
		unsigned char c = (unsigned char)name[i];

		if (i >= NAME_MAX_LEN)
			return false;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			(c >= '0' && c <= '9') || c == '.' || c == '_' ||
			c == '-'))
			return false;
	}
	return true;
}

int
package_name_check(const char *pkg)
{
	if (!name_valid(pkg))
		return err_set("'%s': invalid package name",
		    pkg != NULL ? pkg : "");
	return 0;
}

static bool
path_needs_escape(unsigned char c)
{
	return c < 0x21 || c == 0x7f || c == '\\';
}

int
path_check(const char *path)
{
	const char *p, *comp;
	size_t len;

	if (path[0] == '\0')
		return err_set("empty path");
	if (path[0] == '/')
		return err_set("absolute path");
	if (strlen(path) > MANIFEST_PATH_MAX)
		return err_set("path longer than %d bytes", MANIFEST_PATH_MAX);
	for (comp = path;; comp = p + 1) {
		p = strchr(comp, '/');
		len = p != NULL ? (size_t)(p - comp) : strlen(comp);
		if (len == 0)
			return err_set("path has an empty component");
		if ((len == 1 && comp[0] == '.') ||
		    (len == 2 && comp[0] == '.' && comp[1] == '.'))
			return err_set("path has a '%.*s' component", (int)len,
			    comp);
		if (len > COMPONENT_MAX)
			return err_set("path component longer than %d bytes",
			    COMPONENT_MAX);
		if (p == NULL)
			return 0;
	}
}

/* c as \ooo at o; returns the end. */
static char *
put_octal(char *o, unsigned char c)
{
	*o++ = '\\';
	*o++ = (char)('0' + (c >> 6));
	*o++ = (char)('0' + ((c >> 3) & 7));
	*o++ = (char)('0' + (c & 7));
	return o;
}

char *
path_escape_into(const char *path, char *o)
{
	const unsigned char *p = (const unsigned char *)path;

	for (; *p != '\0'; p++) {
		if (path_needs_escape(*p))
			o = put_octal(o, *p);
		else
			*o++ = (char)*p;
	}
	return o;
}

int
path_escape_write(const char *path, FILE *fp)
{
	const char *run = path, *p;

	for (p = path;; p++) {
		unsigned char c = (unsigned char)*p;

		if (c != '\0' && !path_needs_escape(c))
			continue;
		if (p > run &&
		    fwrite(run, 1, (size_t)(p - run), fp) != (size_t)(p - run))
			return err_sys("cannot write manifest");
		if (c == '\0')
			return 0;
		if (fprintf(fp, "\\%03o", c) < 0)
			return err_sys("cannot write manifest");
		run = p + 1;
	}
}

char *
path_escape(const char *path)
{
	size_t i, n = 0;
	char *out;

	for (i = 0; path[i] != '\0'; i++)
		n += path_needs_escape((unsigned char)path[i]) ? 4 : 1;
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	*path_escape_into(path, out) = '\0';
	return out;
}

size_t
utf8_char(const unsigned char *p, size_t n, uint32_t *cp)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t k, i;
	uint32_t v;

	if (c >= 0xc2 && c <= 0xdf) {
		k = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		k = 3;
		v = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		k = 4;
		v = c & 0x07;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else
		return 0;
	/* Each byte is looked at only once the one before it held: a NUL
	 * ends a cut sequence before anything past it is read. */
	if (n < k || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 1; i < k; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
		v = v << 6 | (p[i] & 0x3f);
	}
	*cp = v;
	return k;
}

/* Length of the valid UTF-8 sequence at p (NUL-terminated) that is no
 * C1 control (a terminal acts on them), 0 if none (p[0] >= 0x80). */
static size_t
utf8_seq(const unsigned char *p)
{
	uint32_t cp;
	size_t k = utf8_char(p, 4, &cp);

	return k != 0 && cp >= 0xa0 ? k : 0;
}

const char *
path_show(const char *path, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)path;
	size_t o = 0, k;

	if (len == 0)
		return buf;
	while (*p != '\0') {
		k = *p >= 0x80 ? utf8_seq(p) : path_needs_escape(*p) ? 0 : 1;
		if (o + (k ? k : 4) + 4 > len) {
			/* Room is kept for "..." and the NUL: cut. */
			if (o + 4 <= len) {
				memcpy(buf + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (k == 0) {
			o = (size_t)(put_octal(buf + o, *p) - buf);
			p++;
		} else {
			memcpy(buf + o, p, k);
			o += k;
			p += k;
		}
	}
	buf[o] = '\0';
	return buf;
}

int
path_unescape_into(const char *s, size_t len, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		unsigned v;

		if (c != '\\') {
			if (path_needs_escape(c))
				return err_set("unescaped byte 0x%02x in path",
				    c);
			out[o++] = (char)c;
			continue;
		}
		if (len - i < 4)
			return err_set("truncated escape in path");
		if (s[i + 1] < '0' || s[i + 1] > '3' || s[i + 2] < '0' ||
		    s[i + 2] > '7' || s[i + 3] < '0' || s[i + 3] > '7')
			return err_set("invalid escape '\\%.3s' in path",
			    s + i + 1);
		v = (unsigned)(s[i + 1] - '0') << 6 |
		    (unsigned)(s[i + 2] - '0') << 3 |
		    (unsigned)(s[i + 3] - '0');
		if (v == 0 || !path_needs_escape((unsigned char)v))
			return err_set("invalid escape '\\%.3s' in path",
			    s + i + 1);
		out[o++] = (char)v;
		i += 3;
	}
	out[o] = '\0';
	return 0;
}

int
path_unescape(const char *s, size_t len, char **outp)
{
	char *out;

	*outp = NULL;
	if ((out = malloc(len + 1)) == NULL)
		return err_nomem();
	if (path_unescape_into(s, len, out) == -1) {
		free(out);
		return -1;
	}
	*outp = out;
	return 0;
}
