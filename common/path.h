/*
 * path.h — names and paths from outside: the name rule of packages, DPs
 * and groups, the rules of a path in a manifest, the one escaping of
 * manifests and change lists (pkgmanifest(5)), and the form of a path or
 * name in a message.
 */
#ifndef PKGDIST_PATH_H
#define PKGDIST_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MANIFEST_PATH_MAX 4096
#define NAME_MAX_LEN 64

/*
 * Escaping (fstab style): space, backslash, bytes below 0x21 and 0x7f
 * become \ooo.  Unescaping accepts exactly those escapes and no other:
 * the same path has one spelling, and \000 can never appear.
 */
int path_escape_write(const char *path, FILE *fp);
/* Escaped form in a malloc'd string. */
char *path_escape(const char *path);
/* Escaped form at o, which has room for 4 bytes a byte of path (no NUL
 * written); returns the end.  For writers that format a line at once. */
char *path_escape_into(const char *path, char *o);
/* Decode len bytes into a malloc'd string; -1 with err on a bad escape. */
int path_unescape(const char *s, size_t len, char **out);
/* The same into out (room for len + 1 bytes). */
int path_unescape_into(const char *s, size_t len, char *out);
/*
 * A path (or any name from outside) for a message: escaped as above,
 * and, since a message goes to a terminal or a log, every byte that is
 * not part of valid UTF-8 (or is a C1 control, U+0080-U+009F) as \ooo
 * too; valid UTF-8 stands as it is.  Written into buf (len bytes, one
 * line, NUL-terminated), cut with "..." when longer.  Returns buf;
 * never fails; errno is left alone, so it fits inside err_sys().
 */
#define PATH_SHOW_LEN 1024
const char *path_show(const char *path, char *buf, size_t len);
/*
 * The valid UTF-8 character at p (at most n bytes): its length, and its
 * code point in *cp; 0 when p[0] starts none (a stray continuation byte,
 * a cut or overlong sequence, an encoded surrogate, above U+10FFFF).
 * What path_show() and the JSON writer (json.h) call valid UTF-8.
 */
size_t utf8_char(const unsigned char *p, size_t n, uint32_t *cp);
/* The rules of a path in a manifest: not empty, relative, at most
 * MANIFEST_PATH_MAX bytes, no empty, "." or ".." component, none longer
 * than 255 bytes (no NUL, being a C string).  -1 with err saying which
 * one broke. */
int path_check(const char *path);
/* The name rule for packages, DPs and groups: [A-Za-z0-9._-]{1,64},
 * not starting with '.'. */
bool name_valid(const char *name);
/* -1 with err "'PKG': invalid package name" unless name_valid(pkg) (NULL
 * is not): the one wording for a package name refused. */
int package_name_check(const char *pkg);

#endif
