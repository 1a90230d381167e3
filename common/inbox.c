/*
 * inbox.c — importing STORE/incoming/ (inbox.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "err.h"
#include "inbox.h"
#include "io.h"
#include "lock.h"
#include "pack.h"
#include "store.h"

void
inbox_files_free(struct inbox_file *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].why);
	}
	free(v);
}

/* Every entry but those being written ('.'), and bad/. */
static bool
listed(const char *name, void *arg)
{
	(void)arg;
	return name[0] != '.' && strcmp(name, INBOX_BAD_DIR) != 0;
}

/* The name rule of inbox.h. */
static bool
name_ok(const char *name)
{
	size_t len = strlen(name), i;

	if (len <= 4 || len > INBOX_NAME_MAX ||
	    strcmp(name + len - 4, ".pkg") != 0)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '.' || c == '_' ||
			c == '-'))
			return false;
	}
	return true;
}

static int
set_bad(struct inbox_file *f, const char *why)
{
	f->state = INBOX_BAD;
	if ((f->why = strdup(why)) == NULL)
		return err_nomem();
	return 0;
}

/* Open f->name under dfd as inbox.h allows: 1 with *fd, 0 when f is
 * bad (f->why set), -1 with err on trouble. */
static int
open_file(int dfd, struct inbox_file *f, int *fd)
{
	struct stat st;

	*fd = -1;
	if (!name_ok(f->name))
		return set_bad(f,
			   "a file name that is not PKG-N.pkg (letters, "
			   "digits, '.', '_' and '-', ending in .pkg)") == -1 ?
		    -1 :
		    0;
	if ((*fd = openat(dfd, f->name,
		 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1) {
		if (errno == ELOOP)
			return set_bad(f,
				   "a symbolic link, not a package "
				   "file") == -1 ?
			    -1 :
			    0;
		if (errno == ENOENT)
			return err_sys("incoming/%s", f->name);
		return err_sys("cannot open incoming/%s", f->name);
	}
	if (fstat(*fd, &st) == -1) {
		err_sys("incoming/%s", f->name);
		goto fail;
	}
	f->mtime = (int64_t)st.st_mtime;
	if (!S_ISREG(st.st_mode)) {
		close(*fd);
		*fd = -1;
		return set_bad(f, "not a regular file") == -1 ? -1 : 0;
	}
	return 1;
fail:
	close(*fd);
	*fd = -1;
	return -1;
}

/* 1 when f is a delta whose base the store lacks (and its version is
 * not there already, which would make it a no-op), 0 when not. */
static int
waits(struct store *s, const struct inbox_file *f)
{
	int k;

	if (f->base == 0)
		return 0;
	if ((k = store_has_version(s, f->package, f->base)) != 0)
		return k == 1 ? 0 : -1;
	if ((k = store_has_version(s, f->package, f->version)) == -1)
		return -1;
	return k == 1 ? 0 : 1;
}

/* Look at one entry: its state, and its package, version and base when
 * its header reads.  -1 only on trouble (not the file's fault). */
static int
examine(struct store *s, int dfd, struct inbox_file *f)
{
	struct pack_reader *r = NULL;
	const struct pack_info *in;
	int fd, k, rc = -1;

	f->state = INBOX_READY;
	if ((k = open_file(dfd, f, &fd)) != 1)
		return k;
	if (pack_reader_open_fd(fd, f->name, &r) == -1) {
		if (err_errno() != 0)
			goto out;
		rc = set_bad(f, err_get());
		goto out;
	}
	in = pack_reader_info(r);
	snprintf(f->package, sizeof(f->package), "%s", in->package);
	f->version = in->version;
	f->base = in->base;
	if ((k = waits(s, f)) == -1)
		goto out;
	if (k == 1)
		f->state = INBOX_WAITS;
	rc = 0;
out:
	pack_reader_close(r);
	close(fd);
	return rc;
}

static int
cmp_file(const void *a, const void *b)
{
	const struct inbox_file *x = a, *y = b;
	int c;

	if ((x->state == INBOX_BAD) != (y->state == INBOX_BAD))
		return x->state == INBOX_BAD ? -1 : 1;
	if ((c = strcmp(x->package, y->package)) != 0)
		return c;
	if (x->version != y->version)
		return x->version < y->version ? -1 : 1;
	/* A whole file before a delta of the same version. */
	if (x->base != y->base)
		return x->base < y->base ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* incoming/ open, or -1 with err_errno() ENOENT when there is none. */
static int
open_inbox(struct store *s)
{
	char path[PATH_MAX];
	int dfd;

	if (snprintf(path, sizeof(path), "%s/%s", store_dir(s),
		STORE_INCOMING) >= (int)sizeof(path))
		return err_set("store path too long");
	if ((dfd = open(path,
		 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return err_sys("cannot open '%s'", path);
	return dfd;
}

static int
gather(struct store *s, int dfd, struct inbox_file **out, size_t *nout)
{
	struct inbox_file *v = NULL;
	char **names = NULL;
	size_t n = 0, i;
	int rc = -1;

	*out = NULL;
	*nout = 0;
	if (io_list_names(dfd, listed, NULL, &names, &n) == -1)
		return -1;
	if (n > 0 && (v = calloc(n, sizeof(*v))) == NULL) {
		err_nomem();
		goto out;
	}
	for (i = 0; i < n; i++) {
		v[i].name = names[i];
		names[i] = NULL;
		if (examine(s, dfd, &v[i]) == -1) {
			/* Gone since the listing: another run took it. */
			if (err_errno() == ENOENT) {
				v[i].state = INBOX_BAD;
				v[i].why = NULL;
				continue;
			}
			goto out;
		}
	}
	/* Entries that vanished are dropped. */
	for (i = 0; i < n;) {
		if (v[i].state == INBOX_BAD && v[i].why == NULL) {
			free(v[i].name);
			v[i] = v[--n];
			continue;
		}
		i++;
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), cmp_file);
	*out = v;
	*nout = n;
	v = NULL;
	n = 0;
	rc = 0;
out:
	if (v != NULL)
		inbox_files_free(v, n);
	io_names_free(names, n);
	return rc;
}

int
inbox_list(struct store *s, struct inbox_file **v, size_t *n)
{
	int dfd, rc;

	*v = NULL;
	*n = 0;
	if ((dfd = open_inbox(s)) == -1)
		return err_errno() == ENOENT ? 0 : -1;
	rc = gather(s, dfd, v, n);
	close(dfd);
	return rc;
}

/* Move f to bad/ with bad/NAME.why saying why. */
static int
move_bad(int dfd, const struct inbox_file *f, const char *why)
{
	char wname[INBOX_NAME_MAX + 64], *text = NULL;
	size_t len;
	int bfd = -1, rc = -1;

	if (mkdirat(dfd, INBOX_BAD_DIR, 0755) == -1 && errno != EEXIST)
		return err_sys("cannot make incoming/%s", INBOX_BAD_DIR);
	if ((bfd = openat(dfd, INBOX_BAD_DIR,
		 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return err_sys("cannot open incoming/%s", INBOX_BAD_DIR);
	/* A hostile name may be as long as a name can be: the reason's
	 * name is cut to fit. */
	snprintf(wname, sizeof(wname), "%.*s.why", 250, f->name);
	len = strlen(why) + 2;
	if ((text = malloc(len)) == NULL) {
		err_nomem();
		goto out;
	}
	snprintf(text, len, "%s\n", why);
	if (atomic_write_file(bfd, wname, text, len - 1, 0644) == -1 ||
	    io_rename(dfd, f->name, bfd, f->name) == -1 ||
	    io_fsync_dir(dfd, "incoming") == -1)
		goto out;
	rc = 0;
out:
	free(text);
	close(bfd);
	return rc;
}

/* Remove f's name once its import is done, when it still names the file
 * that was read (a parent may have renamed a new one over it). */
static int
remove_done(int dfd, const struct inbox_file *f, const struct stat *read)
{
	struct stat now;

	if (fstatat(dfd, f->name, &now, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : err_sys("incoming/%s", f->name);
	if (now.st_dev != read->st_dev || now.st_ino != read->st_ino)
		return 0;
	return io_unlink(dfd, f->name, 0);
}

static void
tell(const struct inbox_opts *o, enum inbox_event_kind kind,
    const struct inbox_file *f, const char *why)
{
	struct inbox_event ev;

	if (o->report == NULL)
		return;
	ev.kind = kind;
	ev.f = f;
	ev.why = why;
	o->report(o->arg, &ev);
}

/* A file's trouble, told and counted; the run goes on. */
static void
trouble(const struct inbox_opts *o, struct inbox_result *r,
    const struct inbox_file *f)
{
	struct err_saved why = ERR_SAVED_INIT;

	err_save(&why);
	r->trouble++;
	tell(o, INBOX_TROUBLE, f, why.msg);
	err_drop(&why);
}

static void
bad(const struct inbox_opts *o, struct inbox_result *r, int dfd,
    const struct inbox_file *f, const char *why)
{
	char *copy = strdup(why);

	if (copy == NULL || move_bad(dfd, f, copy) == -1) {
		trouble(o, r, f);
		free(copy);
		return;
	}
	r->bad++;
	tell(o, INBOX_MOVED_BAD, f, copy);
	free(copy);
}

/* Import one ready file.  1 when it is done with (imported, present,
 * moved to bad/, or trouble), 0 when it waits after all. */
static int
import_one(struct store *s, const struct inbox_opts *o, int dfd,
    struct inbox_file *f, struct inbox_result *r)
{
	struct pack_import_opts po;
	enum pack_import_result res;
	struct stat st;
	int fd, k;

	if ((k = open_file(dfd, f, &fd)) == -1) {
		trouble(o, r, f);
		return 1;
	}
	if (k == 0) {
		bad(o, r, dfd, f, f->why);
		return 1;
	}
	memset(&po, 0, sizeof(po));
	po.wait = o->wait;
	po.trust = o->trust;
	if (fstat(fd, &st) == -1) {
		err_sys("incoming/%s", f->name);
		close(fd);
		trouble(o, r, f);
		return 1;
	}
	k = pack_import(s, fd, f->name, &po, &res, f->package, &f->version);
	close(fd);
	if (k == -1) {
		switch (res) {
		case PACK_NEEDS_BASE:
			return 0;
		case PACK_REFUSED:
			bad(o, r, dfd, f, err_get());
			return 1;
		default:
			trouble(o, r, f);
			return 1;
		}
	}
	if (remove_done(dfd, f, &st) == -1) {
		trouble(o, r, f);
		return 1;
	}
	if (res == PACK_ALREADY_PRESENT) {
		r->present++;
		tell(o, INBOX_WAS_PRESENT, f, NULL);
	} else {
		r->imported++;
		tell(o, INBOX_IMPORTED, f, NULL);
	}
	return 1;
}

int
inbox_import(struct store *s, const struct inbox_opts *o,
    struct inbox_result *r)
{
	struct inbox_file *v = NULL;
	bool *done = NULL, again;
	size_t n = 0, i;
	int dfd, lfd = -1, k, rc = -1;

	memset(r, 0, sizeof(*r));
	if ((dfd = open_inbox(s)) == -1)
		return err_errno() == ENOENT ? 0 : -1;
	if ((lfd = lock_acquire(dfd, INBOX_LOCK, false, o->wait)) == -1 ||
	    gather(s, dfd, &v, &n) == -1)
		goto out;
	if (n > 0 && (done = calloc(n, sizeof(*done))) == NULL) {
		err_nomem();
		goto out;
	}
	for (i = 0; i < n; i++)
		if (v[i].state == INBOX_BAD) {
			bad(o, r, dfd, &v[i], v[i].why);
			done[i] = true;
		}
	/* Passes in version order until one imports nothing. */
	do {
		again = false;
		for (i = 0; i < n; i++) {
			if (done[i])
				continue;
			if ((k = waits(s, &v[i])) == -1) {
				trouble(o, r, &v[i]);
				done[i] = true;
				continue;
			}
			if (k == 1)
				continue;
			if (import_one(s, o, dfd, &v[i], r) == 1) {
				done[i] = true;
				again = true;
			}
		}
	} while (again);
	for (i = 0; i < n; i++)
		if (!done[i]) {
			r->waiting++;
			tell(o, INBOX_WAITING, &v[i], NULL);
		}
	rc = 0;
out:
	free(done);
	inbox_files_free(v, n);
	if (lfd != -1)
		lock_release(lfd);
	close(dfd);
	return rc;
}
