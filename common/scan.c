/*
 * scan.c — the tree walk and the parallel hash (scan.h).
 *
 * Two phases.  The walk runs in the calling thread: one directory at a
 * time, relative to its descriptor, every name fstatat'ed without
 * following links; entries go straight into the output manifest, and
 * the files that need hashing are noted by index.  Then the hash: the
 * noted files, biggest first, are taken from a shared counter by the
 * worker threads, each with its own 1 MiB buffer.  Files are opened
 * relative to the root with openat2(RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH)
 * where the kernel has it, so a directory swapped for a link during the
 * scan cannot lead a reader out of the tree.
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#include "digest.h"
#include "err.h"
#include "fault.h"
#include "io.h"
#include "manifest.h"
#include "progress.h"
#include "scan.h"

#define SCAN_BUFSZ (1024 * 1024)
#define SCAN_MAXJOBS 256

void
scan_opts_init(struct scan_opts *o)
{
	memset(o, 0, sizeof(*o));
}

int
scan_ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	if (n > SCAN_MAXJOBS)
		return SCAN_MAXJOBS;
	return (int)n;
}

/* "ROOT/escaped path" for messages: one line whatever the name holds. */
static char *
scan_display(const char *root, const char *path)
{
	char *esc, *s;
	size_t n;

	if (root != NULL && *path == '\0')
		return strdup(root);
	if ((esc = path_escape(path)) == NULL)
		return NULL;
	if (root == NULL || *root == '\0')
		return esc;
	n = strlen(root) + strlen(esc) + 2;
	if ((s = malloc(n)) != NULL) {
		if (strcmp(root, "/") == 0)
			snprintf(s, n, "/%s", esc);
		else
			snprintf(s, n, "%s/%s", root, esc);
	}
	free(esc);
	return s;
}

/* err_set/err_sys with the display name of path; errno preserved. */
static int
scan_err(bool sys, const char *root, const char *path, const char *what)
{
	int saved = errno;
	char *d = scan_display(root, path);

	errno = saved;
	if (sys)
		err_sys("%s '%s'", what, d != NULL ? d : path);
	else
		err_set("'%s': %s", d != NULL ? d : path, what);
	free(d);
	return -1;
}

/* Open a file (or directory, with O_DIRECTORY in flags) below dirfd
 * without following any link on the way. */
static int
scan_open_beneath(int dirfd, const char *path, int flags)
{
#ifdef SYS_openat2
	static atomic_int have_openat2 = 1;
	struct open_how how;
	long fd;

	if (atomic_load(&have_openat2)) {
		memset(&how, 0, sizeof(how));
		how.flags = (uint64_t)(flags | O_NOFOLLOW);
		how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH |
		    RESOLVE_NO_MAGICLINKS;
		fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
			return (int)fd;
		/* ENOSYS: old kernel; EPERM: a seccomp filter refusing it. */
		atomic_store(&have_openat2, 0);
	}
#endif
	return openat(dirfd, path, flags | O_NOFOLLOW);
}

static const char *
scan_type_name(mode_t m)
{
	if (S_ISFIFO(m))
		return "fifo";
	if (S_ISSOCK(m))
		return "socket";
	if (S_ISCHR(m))
		return "character device";
	if (S_ISBLK(m))
		return "block device";
	return "unknown type";
}

/*
 * Hashing.
 */
struct hash_job {
	struct entry *e;
	int64_t mtime_ns;	/* st_mtim as seen by the walk (scan only) */
};

struct hasher {
	int rootfd;
	const char *root;
	struct hash_job *jobs;
	size_t njobs;
	bool rehash;		/* scan_rehash: take the size read */
	struct progress *progress;
	atomic_size_t next;
	atomic_int failed;
	pthread_mutex_t mu;
	char *errmsg;		/* first failure, copied from a thread */
	int errnum;
};

static int
hash_one(struct hasher *h, struct hash_job *j, unsigned char *buf)
{
	struct entry *e = j->e;
	struct digest d = { 0 };
	struct stat st;
	uint64_t total = 0;
	ssize_t r;
	int fd = -1, rc = -1;
	char *disp = NULL;

	if ((disp = scan_display(h->root, e->path)) == NULL)
		return err_sys("out of memory");
	fd = scan_open_beneath(h->rootfd, e->path,
	    O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		err_sys("cannot open '%s'", disp);
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		err_sys("cannot stat '%s'", disp);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set("'%s': not a regular file any more", disp);
		goto out;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (digest_init(&d) == -1)
		goto out;
	for (;;) {
		r = io_read_full(fd, buf, SCAN_BUFSZ, disp);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		if (digest_update(&d, buf, (size_t)r) == -1)
			goto out;
		total += (uint64_t)r;
		progress_add(h->progress, 0, (uint64_t)r);
		if ((size_t)r < SCAN_BUFSZ)
			break;
		if (atomic_load(&h->failed)) {
			err_set("stopped");
			goto out;
		}
	}
	if (!h->rehash) {
		/* The manifest must not pair one size with other bytes. */
		if (fstat(fd, &st) == -1) {
			err_sys("cannot stat '%s'", disp);
			goto out;
		}
		if (total != e->size || (uint64_t)st.st_size != e->size ||
		    (int64_t)st.st_mtim.tv_sec * 1000000000 +
		    st.st_mtim.tv_nsec != j->mtime_ns) {
			err_set("'%s': changed while being read", disp);
			goto out;
		}
	}
	if (digest_final(&d, e->digest) == -1)
		goto out;
	if (h->rehash)
		e->size = total;
	progress_add(h->progress, 1, 0);
	rc = 0;
out:
	digest_free(&d);
	if (fd != -1)
		close(fd);
	free(disp);
	return rc;
}

static void *
hash_worker(void *arg)
{
	struct hasher *h = arg;
	unsigned char *buf;
	size_t i;

	if ((buf = malloc(SCAN_BUFSZ)) == NULL) {
		err_sys("out of memory");
		goto fail;
	}
	while (!atomic_load(&h->failed)) {
		i = atomic_fetch_add(&h->next, 1);
		if (i >= h->njobs)
			break;
		if (hash_one(h, &h->jobs[i], buf) == -1)
			goto fail;
	}
	free(buf);
	return NULL;
fail:
	free(buf);
	pthread_mutex_lock(&h->mu);
	if (!atomic_load(&h->failed)) {
		/* err is thread-local: hand the message to the caller. */
		h->errmsg = strdup(err_get());
		h->errnum = err_errno();
		atomic_store(&h->failed, 1);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

static int
job_cmp(const void *a, const void *b)
{
	const struct hash_job *x = a, *y = b;

	if (x->e->size != y->e->size)
		return x->e->size > y->e->size ? -1 : 1;
	return strcmp(x->e->path, y->e->path);
}

/* Hash every job, biggest first, with up to jobs threads. */
static int
hash_all(int rootfd, const char *root, struct hash_job *jobs, size_t njobs,
    bool rehash, int nthreads, struct progress *p)
{
	struct hasher h;
	pthread_t tid[SCAN_MAXJOBS];
	int started = 0, i, rc = -1;

	if (njobs == 0)
		return 0;
	qsort(jobs, njobs, sizeof(*jobs), job_cmp);
	memset(&h, 0, sizeof(h));
	h.rootfd = rootfd;
	h.root = root;
	h.jobs = jobs;
	h.njobs = njobs;
	h.rehash = rehash;
	h.progress = p;
	atomic_init(&h.next, 0);
	atomic_init(&h.failed, 0);
	pthread_mutex_init(&h.mu, NULL);

	if (nthreads <= 0)
		nthreads = scan_ncpu();
	if (nthreads > SCAN_MAXJOBS)
		nthreads = SCAN_MAXJOBS;
	if ((size_t)nthreads > njobs)
		nthreads = (int)njobs;
	if (nthreads == 1) {
		hash_worker(&h);
	} else {
		for (i = 0; i < nthreads; i++) {
			if (pthread_create(&tid[i], NULL, hash_worker,
			    &h) != 0)
				break;
			started++;
		}
		if (started == 0)
			hash_worker(&h);	/* no thread: do it here */
		for (i = 0; i < started; i++)
			pthread_join(tid[i], NULL);
	}
	if (atomic_load(&h.failed)) {
		err_set("%s", h.errmsg != NULL ? h.errmsg : "out of memory");
		goto out;
	}
	rc = 0;
out:
	free(h.errmsg);
	pthread_mutex_destroy(&h.mu);
	return rc;
}

/*
 * The walk.
 */
struct walker {
	int rootfd;
	const char *root;
	const struct scan_opts *o;
	struct manifest *out;
	struct hash_job *jobs;	/* e is an index into out->v until the end */
	size_t njobs, capjobs;
	char path[MANIFEST_PATH_MAX + 1];
};

static int
walk_note_job(struct walker *w, size_t idx, const struct stat *st)
{
	struct hash_job *nj;
	size_t ncap;

	if (w->njobs == w->capjobs) {
		ncap = w->capjobs ? w->capjobs * 2 : 256;
		if ((nj = realloc(w->jobs, ncap * sizeof(*nj))) == NULL)
			return err_sys("out of memory");
		w->jobs = nj;
		w->capjobs = ncap;
	}
	w->jobs[w->njobs].e = (struct entry *)(uintptr_t)idx;
	w->jobs[w->njobs].mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 +
	    st->st_mtim.tv_nsec;
	w->njobs++;
	return 0;
}

/* One name of a directory; len is the length of w->path up to and
 * including the name.  *subdir is set when it is a directory to enter. */
static int
walk_entry(struct walker *w, int dfd, const char *name, bool *subdir)
{
	const struct scan_opts *o = w->o;
	const struct entry *old;
	struct entry e;
	struct stat st;
	char target[MANIFEST_PATH_MAX + 2];
	ssize_t tl;
	bool queued;

	*subdir = false;
	if (o->skip != NULL && o->skip(w->path, o->skip_arg))
		return 0;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return scan_err(true, w->root, w->path, "cannot stat");
	memset(&e, 0, sizeof(e));
	e.path = w->path;
	e.mode = (unsigned)(st.st_mode & 07777);
	e.mtime = (int64_t)st.st_mtim.tv_sec;
	if (S_ISREG(st.st_mode)) {
		e.type = ENTRY_FILE;
		e.size = (uint64_t)st.st_size;
	} else if (S_ISDIR(st.st_mode)) {
		e.type = ENTRY_DIR;
		*subdir = true;
	} else if (S_ISLNK(st.st_mode)) {
		e.type = ENTRY_LINK;
		tl = readlinkat(dfd, name, target, sizeof(target) - 1);
		if (tl == -1)
			return scan_err(true, w->root, w->path,
			    "cannot read link");
		if ((size_t)tl > MANIFEST_PATH_MAX)
			return scan_err(false, w->root, w->path,
			    "link target too long");
		target[tl] = '\0';
		if (tl == 0)
			return scan_err(false, w->root, w->path,
			    "empty link target");
		e.target = target;
		e.size = (uint64_t)tl;
	} else {
		return scan_err(false, w->root, w->path,
		    S_ISFIFO(st.st_mode) ? "unsupported file type (fifo)" :
		    S_ISSOCK(st.st_mode) ? "unsupported file type (socket)" :
		    S_ISCHR(st.st_mode) ?
		    "unsupported file type (character device)" :
		    S_ISBLK(st.st_mode) ?
		    "unsupported file type (block device)" :
		    scan_type_name(st.st_mode));
	}
	queued = false;
	if (e.type == ENTRY_FILE && !o->no_hash) {
		if (o->reuse != NULL &&
		    (old = manifest_find(o->reuse, w->path)) != NULL &&
		    old->type == ENTRY_FILE && old->size == e.size &&
		    old->mtime == e.mtime)
			memcpy(e.digest, old->digest, DIGEST_LEN);
		else if (walk_note_job(w, w->out->n, &st) == -1)
			return -1;
		else
			queued = true;
	}
	if (manifest_add(w->out, &e) == -1)
		return -1;
	if (!queued)
		progress_add(o->progress, 1, 0);
	return 0;
}

struct name_list {
	char *buf;		/* names, NUL-separated */
	size_t len, cap;
	size_t *off;
	size_t n, capoff;
};

static int
names_add(struct name_list *l, const char *name)
{
	size_t n = strlen(name) + 1, ncap;
	char *nb;
	size_t *no;

	if (l->len + n > l->cap) {
		ncap = l->cap ? l->cap * 2 : 4096;
		while (ncap < l->len + n)
			ncap *= 2;
		if ((nb = realloc(l->buf, ncap)) == NULL)
			return err_sys("out of memory");
		l->buf = nb;
		l->cap = ncap;
	}
	if (l->n == l->capoff) {
		ncap = l->capoff ? l->capoff * 2 : 64;
		if ((no = realloc(l->off, ncap * sizeof(*no))) == NULL)
			return err_sys("out of memory");
		l->off = no;
		l->capoff = ncap;
	}
	memcpy(l->buf + l->len, name, n);
	l->off[l->n++] = l->len;
	l->len += n;
	return 0;
}

/*
 * Walk the directory dfd (owned: closed here), whose path relative to
 * the root is w->path[0..plen) (empty for the root).  Subdirectories
 * are entered after the directory's own names are read and its stream
 * closed, so one descriptor per level is open, not one stream.
 */
static int
walk_dir(struct walker *w, int dfd, size_t plen, dev_t dev, ino_t ino)
{
	struct name_list sub = { 0 };
	struct dirent *de;
	struct stat st;
	DIR *dir = NULL;
	size_t i, nl, base;
	bool isdir;
	int cfd, rc = -1;

	w->path[plen] = '\0';
	if (fstat(dfd, &st) == -1) {
		scan_err(true, w->root, w->path, "cannot stat");
		close(dfd);
		return -1;
	}
	if (st.st_dev != dev || st.st_ino != ino) {
		scan_err(false, w->root, w->path, "changed during the scan");
		close(dfd);
		return -1;
	}
	if (fault_hit("read") == -1) {
		scan_err(true, w->root, w->path, "cannot read directory");
		close(dfd);
		return -1;
	}
	if ((dir = fdopendir(dfd)) == NULL) {
		scan_err(true, w->root, w->path, "cannot read directory");
		close(dfd);
		return -1;
	}
	base = plen == 0 ? 0 : plen + 1;
	for (;;) {
		errno = 0;
		if ((de = readdir(dir)) == NULL) {
			if (errno != 0) {
				w->path[plen] = '\0';
				scan_err(true, w->root, w->path,
				    "cannot read directory");
				goto out;
			}
			break;
		}
		if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
		    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		nl = strlen(de->d_name);
		if (base + nl > MANIFEST_PATH_MAX) {
			w->path[plen] = '\0';
			scan_err(false, w->root, w->path,
			    "contains a path longer than 4096 bytes");
			goto out;
		}
		if (plen != 0)
			w->path[plen] = '/';
		memcpy(w->path + base, de->d_name, nl + 1);
		if (walk_entry(w, dirfd(dir), de->d_name, &isdir) == -1)
			goto out;
		if (isdir && names_add(&sub, de->d_name) == -1)
			goto out;
	}
	for (i = 0; i < sub.n; i++) {
		const char *name = sub.buf + sub.off[i];

		nl = strlen(name);
		if (plen != 0)
			w->path[plen] = '/';
		memcpy(w->path + base, name, nl + 1);
		if (fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			scan_err(true, w->root, w->path, "cannot stat");
			goto out;
		}
		cfd = openat(dirfd(dir), name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (cfd == -1) {
			scan_err(true, w->root, w->path,
			    "cannot read directory");
			goto out;
		}
		if (walk_dir(w, cfd, base + nl, st.st_dev, st.st_ino) == -1)
			goto out;
	}
	rc = 0;
out:
	free(sub.buf);
	free(sub.off);
	closedir(dir);
	return rc;
}

int
scan_tree(int dirfd, const char *root, const struct scan_opts *o,
    struct manifest *out)
{
	struct scan_opts defaults;
	struct walker *w = NULL;
	struct stat st;
	size_t i;
	int fd = -1, wfd, rc = -1;

	if (o == NULL) {
		scan_opts_init(&defaults);
		o = &defaults;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return err_sys("out of memory");
	w->rootfd = dirfd;
	w->root = root != NULL ? root : ".";
	w->o = o;
	w->out = out;

	/* A descriptor of our own, so the walk can close it. */
	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		err_sys("cannot read directory '%s'", w->root);
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		err_sys("cannot stat '%s'", w->root);
		goto out;
	}
	wfd = fd;
	fd = -1;		/* walk_dir owns it now */
	if (walk_dir(w, wfd, 0, st.st_dev, st.st_ino) == -1)
		goto out;
	for (i = 0; i < w->njobs; i++)
		w->jobs[i].e = &out->v[(uintptr_t)w->jobs[i].e];
	if (hash_all(dirfd, w->root, w->jobs, w->njobs, false, o->jobs,
	    o->progress) == -1)
		goto out;
	manifest_sort(out);
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (rc == -1) {
		/* Keep the error across the frees. */
		manifest_free(out);
		manifest_init(out);
	}
	if (w != NULL)
		free(w->jobs);
	free(w);
	return rc;
}

int
scan_path(const char *dir, const struct scan_opts *o, struct manifest *out)
{
	int fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return err_sys("cannot read directory '%s'", dir);
	rc = scan_tree(fd, dir, o, out);
	close(fd);
	return rc;
}

int
scan_hash_file(int dirfd, const char *path, unsigned char out[DIGEST_LEN],
    uint64_t *size, const char *what)
{
	struct entry e;
	struct hash_job j;
	struct hasher h;
	unsigned char *buf;
	int rc;

	memset(&e, 0, sizeof(e));
	e.type = ENTRY_FILE;
	e.path = (char *)path;
	j.e = &e;
	j.mtime_ns = 0;
	memset(&h, 0, sizeof(h));
	h.rootfd = dirfd;
	h.root = NULL;
	h.rehash = true;
	if ((buf = malloc(SCAN_BUFSZ)) == NULL)
		return err_sys("out of memory");
	rc = hash_one(&h, &j, buf);
	free(buf);
	if (rc == -1) {
		if (what != NULL && strcmp(what, path) != 0)
			err_prefix("%s: ", what);
		return -1;
	}
	memcpy(out, e.digest, DIGEST_LEN);
	if (size != NULL)
		*size = e.size;
	return 0;
}

int
scan_rehash(int dirfd, struct entry *v, size_t n, const struct scan_opts *o)
{
	struct hash_job *jobs = NULL;
	size_t i, nj = 0;
	int rc;

	for (i = 0; i < n; i++)
		if (v[i].type == ENTRY_FILE)
			nj++;
	if (nj == 0)
		return 0;
	if ((jobs = calloc(nj, sizeof(*jobs))) == NULL)
		return err_sys("out of memory");
	nj = 0;
	for (i = 0; i < n; i++)
		if (v[i].type == ENTRY_FILE)
			jobs[nj++].e = &v[i];
	rc = hash_all(dirfd, NULL, jobs, nj, true, o != NULL ? o->jobs : 0,
	    o != NULL ? o->progress : NULL);
	free(jobs);
	return rc;
}
