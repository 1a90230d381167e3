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
#include "path.h"
#include "progress.h"
#include "scan.h"
#include "workq.h"

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

/* "ROOT/path" for messages, escaped (path_show): one line whatever
 * the names hold. */
static char *
scan_display(const char *root, const char *path)
{
	char *raw, *s;
	size_t n;
	int saved = errno;

	if (root == NULL)
		root = "";
	n = strlen(root) + strlen(path) + 2;
	if ((raw = malloc(n)) == NULL)
		return NULL;
	if (*path == '\0' || *root == '\0' || root[strlen(root) - 1] == '/')
		snprintf(raw, n, "%s%s", root, path);
	else
		snprintf(raw, n, "%s/%s", root, path);
	/* Room for every byte as \ooo, and path_show's reserve. */
	if ((s = malloc(4 * n + 4)) != NULL)
		path_show(raw, s, 4 * n + 4);
	free(raw);
	errno = saved;
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
 * Hashing.  The hasher is a stream of jobs (workq.h) that the walk fills
 * while the worker threads empty it, so hashing starts with the first
 * file found.  When the walk ends, the jobs not yet taken are sorted
 * biggest first.  The jobs live in blocks that double in size and never
 * move once written, so a worker reads its job, and writes its results
 * into it, with no lock of the hasher's own.
 */
struct hash_job {
	size_t self;	  /* the job's number */
	size_t idx;	  /* entry index in the caller's array */
	const char *path; /* stable: the entry's own string */
	uint64_t size;	  /* as the walk saw it (scan only) */
	int64_t mtime_ns; /* st_mtim as the walk saw it (scan only) */
	unsigned char digest[DIGEST_LEN]; /* result */
	uint64_t got;			  /* result: bytes read */
};

/* Block b holds JOBS_FIRST << b jobs: room for some 4 billion. */
#define JOBS_FIRST 256
#define JOBS_BLOCKS 24

struct hasher {
	int rootfd;
	const char *root;
	bool rehash; /* scan_rehash: take the size read */
	struct progress *progress;
	struct hash_job *block[JOBS_BLOCKS];
	unsigned nblocks;
	size_t njobs;
	struct hash_job *tail; /* where the next job goes, room for it */
	size_t room;
	struct workq *q; /* NULL before hasher_start and after the end */
};

/* Job i is in block log2(i / JOBS_FIRST + 1), after the
 * JOBS_FIRST * (2^b - 1) jobs of the blocks before it. */
static unsigned
job_block(size_t i)
{
	unsigned long long k = (unsigned long long)(i / JOBS_FIRST) + 1;

	return (unsigned)(sizeof(k) * CHAR_BIT - 1) -
	    (unsigned)__builtin_clzll(k);
}

static struct hash_job *
job_at(const struct hasher *h, size_t i)
{
	unsigned b = job_block(i);

	return &h->block[b][i - JOBS_FIRST * (((size_t)1 << b) - 1)];
}

/* The jobs from i to the end of its block or to `to`, whichever comes
 * first: the first of them, and how many (*n). */
static struct hash_job *
job_run(const struct hasher *h, size_t i, size_t to, size_t *n)
{
	size_t next = JOBS_FIRST * (((size_t)2 << job_block(i)) - 1);

	*n = (next < to ? next : to) - i;
	return job_at(h, i);
}

/* Hash j's file; results into dg and *got. */
static int
hash_one(const struct hasher *h, const struct hash_job *j, unsigned char *buf,
    unsigned char dg[DIGEST_LEN], uint64_t *got)
{
	struct digest d = { 0 };
	struct stat st;
	uint64_t total = 0;
	ssize_t r;
	int fd = -1, rc = -1;
	char *disp = NULL;

	if ((disp = scan_display(h->root, j->path)) == NULL)
		return err_nomem();
	fd = scan_open_beneath(h->rootfd, j->path,
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
	}
	if (!h->rehash) {
		/* The manifest must not pair one size with other bytes. */
		if (fstat(fd, &st) == -1) {
			err_sys("cannot stat '%s'", disp);
			goto out;
		}
		if (total != j->size || (uint64_t)st.st_size != j->size ||
		    (int64_t)st.st_mtim.tv_sec * 1000000000 +
			    st.st_mtim.tv_nsec !=
			j->mtime_ns) {
			err_set("'%s': changed while being read", disp);
			goto out;
		}
	}
	if (digest_final(&d, dg) == -1)
		goto out;
	*got = total;
	progress_add(h->progress, 1, 0);
	rc = 0;
out:
	digest_free(&d);
	if (fd != -1)
		close(fd);
	free(disp);
	return rc;
}

/* Each hashing thread's own buffer. */
static int
hash_begin(void *ctx, void **local)
{
	(void)ctx;
	if ((*local = malloc(SCAN_BUFSZ)) == NULL)
		return err_nomem();
	return 0;
}

static int
hash_item(void *ctx, void *local, size_t i)
{
	const struct hasher *h = ctx;
	struct hash_job *j = job_at(h, i);

	return hash_one(h, j, local, j->digest, &j->got);
}

static void
hash_end(void *ctx, void *local)
{
	(void)ctx;
	free(local);
}

static void
hasher_init(struct hasher *h, int rootfd, const char *root, bool rehash,
    struct progress *p)
{
	memset(h, 0, sizeof(*h));
	h->rootfd = rootfd;
	h->root = root;
	h->rehash = rehash;
	h->progress = p;
}

/* Start up to n workers (0: one per CPU; at most WORKQ_MAX_THREADS).
 * With none started, the work is done in hasher_finish(). */
static int
hasher_start(struct hasher *h, int n)
{
	static const struct workq_ops ops = { hash_begin, hash_item, hash_end };

	if ((h->q = workq_open(n > 0 ? n : scan_ncpu(), &ops, h)) == NULL)
		return -1;
	return 0;
}

static int
hasher_add(struct hasher *h, size_t idx, const char *path, uint64_t size,
    int64_t mtime_ns)
{
	struct hash_job *nj;
	unsigned b;

	if (h->room == 0) {
		/* The next block: blocks are made in order. */
		b = h->nblocks;
		if (b == JOBS_BLOCKS ||
		    ((size_t)JOBS_FIRST << b) > SIZE_MAX / sizeof(*nj) ||
		    (nj = malloc(((size_t)JOBS_FIRST << b) * sizeof(*nj))) ==
			NULL)
			return err_nomem();
		h->block[h->nblocks++] = nj;
		h->tail = nj;
		/* The analyzer loses the block in block[] (hasher_free()
		 * frees it) when the next one is made. */
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
		h->room = (size_t)JOBS_FIRST << b;
	}
	nj = h->tail++;
	h->room--;
	memset(nj, 0, sizeof(*nj));
	nj->self = h->njobs;
	nj->idx = idx;
	nj->path = path;
	nj->size = size;
	nj->mtime_ns = mtime_ns;
	h->njobs++;
	workq_add(h->q);
	return 0;
}

/* qsort() of job pointers: the biggest first, then by path. */
static int
job_cmp(const void *a, const void *b)
{
	const struct hash_job *x = *(const struct hash_job *const *)a;
	const struct hash_job *y = *(const struct hash_job *const *)b;

	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* The jobs [from, to) that no worker has taken yet, biggest first (a
 * workq_order_fn): the jobs stay where they are, the map says the
 * order. */
static int
jobs_order(void *ctx, size_t from, size_t to, size_t *map)
{
	const struct hasher *h = ctx;
	const struct hash_job **v;
	size_t i, k, n;

	/* An array of pointers: sizeof a pointer is meant. */
	/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
	if ((v = malloc((to - from) * sizeof(*v))) == NULL)
		return -1;
	for (i = from; i < to; i += n) {
		const struct hash_job *j = job_run(h, i, to, &n);

		for (k = 0; k < n; k++)
			v[i - from + k] = &j[k];
	}
	/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
	qsort(v, to - from, sizeof(*v), job_cmp);
	for (i = 0; i < to - from; i++)
		map[i] = v[i]->self;
	free(v);
	return 0;
}

/*
 * No more jobs: sort those left biggest first, let the workers finish
 * (or stop them when abort is set, after a failure of the walk, whose
 * error is kept), join them.  Returns -1 with the first worker's error.
 * A no-op once finished.
 */
static int
hasher_finish(struct hasher *h, bool abort)
{
	struct workq *q = h->q;

	h->q = NULL;
	if (q == NULL)
		return abort ? -1 : 0;
	if (!abort)
		return workq_close(q, jobs_order);
	workq_cancel(q);
	return -1;
}

static void
hasher_free(struct hasher *h)
{
	unsigned b;

	for (b = 0; b < h->nblocks; b++)
		free(h->block[b]);
}

/*
 * The walk.
 */
struct walker {
	int rootfd;
	const char *root;
	const struct scan_opts *o;
	struct manifest *out;
	struct hasher *h; /* NULL: no hashing */
	size_t rcur;	  /* cursor in o->reuse */
	char path[MANIFEST_PATH_MAX + 1];
};

/*
 * One directory's names with what fstatat said, then sorted so that the
 * walk emits paths in manifest order: each name is a key, and each
 * subdirectory a second key, name + "/", for the block of paths below
 * it.  (Paths starting "s/" are contiguous in byte order, so that block
 * sorts exactly where "s/" does among its siblings.)  The manifest thus
 * comes out sorted, and the --reuse manifest is followed with a cursor
 * instead of a search per file.
 */
struct item {
	size_t off; /* name in the dir's name buffer */
	mode_t mode;
	uint64_t size;
	int64_t mtime, mtime_ns, ctime_ns;
	dev_t dev;
	ino_t ino;
};

struct key {
	const char *name;
	size_t item;
	bool sub; /* the subtree block, name + "/" */
};

static int
key_cmp(const void *x, const void *y)
{
	const struct key *a = x, *b = y;
	const unsigned char *p = (const unsigned char *)a->name;
	const unsigned char *q = (const unsigned char *)b->name;
	unsigned ca, cb;

	while (*p != '\0' && *p == *q) {
		p++;
		q++;
	}
	ca = *p != '\0' ? *p : a->sub ? '/' : 0;
	cb = *q != '\0' ? *q : b->sub ? '/' : 0;
	if (ca != cb)
		return ca < cb ? -1 : 1;
	/* Both ended at once: the same name, entry before its block. */
	return (int)a->sub - (int)b->sub;
}

struct dirlist {
	char *names;
	size_t len, cap;
	struct item *items;
	size_t n, capn;
};

static int
dirlist_add(struct dirlist *l, const char *name, size_t nl,
    const struct stat *st)
{
	struct item *it;
	size_t ncap;
	char *nb;

	if (l->len + nl + 1 > l->cap) {
		ncap = l->cap ? l->cap * 2 : 4096;
		while (ncap < l->len + nl + 1)
			ncap *= 2;
		if ((nb = realloc(l->names, ncap)) == NULL)
			return err_nomem();
		l->names = nb;
		l->cap = ncap;
	}
	if (l->n == l->capn) {
		ncap = l->capn ? l->capn * 2 : 64;
		if ((it = realloc(l->items, ncap * sizeof(*it))) == NULL)
			return err_nomem();
		l->items = it;
		l->capn = ncap;
	}
	memcpy(l->names + l->len, name, nl + 1);
	it = &l->items[l->n++];
	it->off = l->len;
	it->mode = st->st_mode;
	it->size = (uint64_t)st->st_size;
	it->mtime = (int64_t)st->st_mtim.tv_sec;
	it->mtime_ns =
	    (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	it->ctime_ns =
	    (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
	it->dev = st->st_dev;
	it->ino = st->st_ino;
	l->len += nl + 1;
	return 0;
}

/* The digest of w->path in the --reuse manifest, when its size and
 * mtime match; the cursor only moves forward, as the walk does. */
static const struct entry *
reuse_match(struct walker *w, uint64_t size, int64_t mtime)
{
	const struct manifest *r = w->o->reuse;
	const struct entry *e;
	int c = 1;

	while (w->rcur < r->n && (c = strcmp(r->v[w->rcur].path, w->path)) < 0)
		w->rcur++;
	if (w->rcur == r->n || c != 0)
		return NULL;
	e = &r->v[w->rcur];
	if (e->type != ENTRY_FILE || e->size != size || e->mtime != mtime)
		return NULL;
	return e;
}

/* Record the name at w->path, found in directory dfd. */
static int
walk_entry(struct walker *w, int dfd, const char *name, const struct item *it)
{
	const struct scan_opts *o = w->o;
	const struct entry *old;
	struct scan_stat ss;
	struct entry e;
	char target[MANIFEST_PATH_MAX + 2];
	ssize_t tl;
	bool queued = false;

	memset(&e, 0, sizeof(e));
	e.path = w->path;
	e.mode = (unsigned)(it->mode & 07777);
	e.mtime = it->mtime;
	if (S_ISREG(it->mode)) {
		e.type = ENTRY_FILE;
		e.size = it->size;
	} else if (S_ISDIR(it->mode)) {
		e.type = ENTRY_DIR;
	} else if (S_ISLNK(it->mode)) {
		e.type = ENTRY_LINK;
		tl = readlinkat(dfd, name, target, sizeof(target) - 1);
		if (tl == -1)
			return scan_err(true, w->root, w->path,
			    "cannot read link");
		if ((size_t)tl > MANIFEST_PATH_MAX)
			return scan_err(false, w->root, w->path,
			    "link target too long");
		if (tl == 0)
			return scan_err(false, w->root, w->path,
			    "empty link target");
		target[tl] = '\0';
		e.target = target;
		e.size = (uint64_t)tl;
	} else {
		return scan_err(false, w->root, w->path,
		    S_ISFIFO(it->mode) ?
			"unsupported file type (fifo)" :
			S_ISSOCK(it->mode) ?
			"unsupported file type (socket)" :
			S_ISCHR(it->mode) ?
			"unsupported file type (character device)" :
			S_ISBLK(it->mode) ?
			"unsupported file type (block device)" :
			scan_type_name(it->mode));
	}
	if (e.type == ENTRY_FILE && w->h != NULL) {
		if (o->reuse != NULL &&
		    (old = reuse_match(w, e.size, e.mtime)) != NULL)
			memcpy(e.digest, old->digest, DIGEST_LEN);
		else if (o->known != NULL) {
			ss.ino = (uint64_t)it->ino;
			ss.size = it->size;
			ss.mtime = it->mtime;
			ss.mtime_ns = it->mtime_ns;
			ss.ctime_ns = it->ctime_ns;
			ss.mode = e.mode;
			queued =
			    !o->known(w->path, &ss, e.digest, o->known_arg);
		} else
			queued = true;
	}
	if (manifest_add(w->out, &e) == -1)
		return -1;
	/* The entry's path string stays put when the array moves. */
	if (queued &&
	    hasher_add(w->h, w->out->n - 1, w->out->v[w->out->n - 1].path,
		e.size, it->mtime_ns) == -1)
		return -1;
	if (!queued)
		progress_add(o->progress, 1, 0);
	return 0;
}

/* Put name after the directory's path (w->path[0..plen)). */
static void
walk_setpath(struct walker *w, size_t plen, const char *name, size_t nl)
{
	size_t base = plen == 0 ? 0 : plen + 1;

	if (plen != 0)
		w->path[plen] = '/';
	memcpy(w->path + base, name, nl + 1);
}

/*
 * Walk the directory dfd (owned: closed here), whose path relative to
 * the root is w->path[0..plen) (empty for the root).  Its names are all
 * read and stat'ed first; subdirectories are entered in key order, one
 * descriptor per level.
 */
static int
walk_dir(struct walker *w, int dfd, size_t plen, dev_t dev, ino_t ino)
{
	struct dirlist l = { 0 };
	struct key *keys = NULL;
	struct dirent *de;
	struct stat st;
	DIR *dir = NULL;
	size_t i, k, nk, nl, base = plen == 0 ? 0 : plen + 1;
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
	if (fault_hit("read") == -1 || (dir = fdopendir(dfd)) == NULL) {
		scan_err(true, w->root, w->path, "cannot read directory");
		close(dfd);
		return -1;
	}
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
		if (de->d_name[0] == '.' &&
		    (de->d_name[1] == '\0' ||
			(de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		nl = strlen(de->d_name);
		if (base + nl > MANIFEST_PATH_MAX) {
			w->path[plen] = '\0';
			scan_err(false, w->root, w->path,
			    "contains a path longer than 4096 bytes");
			goto out;
		}
		walk_setpath(w, plen, de->d_name, nl);
		if (w->o->skip != NULL && w->o->skip(w->path, w->o->skip_arg))
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		    -1) {
			scan_err(true, w->root, w->path, "cannot stat");
			goto out;
		}
		if (dirlist_add(&l, de->d_name, nl, &st) == -1)
			goto out;
	}

	for (i = 0, nk = l.n; i < l.n; i++)
		if (S_ISDIR(l.items[i].mode))
			nk++;
	if (nk > 0 && (keys = malloc(nk * sizeof(*keys))) == NULL) {
		err_nomem();
		goto out;
	}
	for (i = 0, k = 0; i < l.n; i++) {
		keys[k].name = l.names + l.items[i].off;
		keys[k].item = i;
		keys[k++].sub = false;
		if (S_ISDIR(l.items[i].mode)) {
			keys[k].name = l.names + l.items[i].off;
			keys[k].item = i;
			keys[k++].sub = true;
		}
	}
	if (nk > 1)
		qsort(keys, nk, sizeof(*keys), key_cmp);

	for (k = 0; k < nk; k++) {
		const struct item *it = &l.items[keys[k].item];

		nl = strlen(keys[k].name);
		walk_setpath(w, plen, keys[k].name, nl);
		if (!keys[k].sub) {
			if (walk_entry(w, dirfd(dir), keys[k].name, it) == -1)
				goto out;
			continue;
		}
		cfd = openat(dirfd(dir), keys[k].name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd == -1) {
			scan_err(true, w->root, w->path,
			    "cannot read directory");
			goto out;
		}
		if (walk_dir(w, cfd, base + nl, it->dev, it->ino) == -1)
			goto out;
	}
	rc = 0;
out:
	free(keys);
	free(l.names);
	free(l.items);
	closedir(dir);
	return rc;
}

/* The walk's order is the manifest's; check it rather than trust it. */
static bool
is_sorted(const struct manifest *m)
{
	size_t i;

	for (i = 1; i < m->n; i++)
		if (strcmp(m->v[i - 1].path, m->v[i].path) >= 0)
			return false;
	return true;
}

int
scan_tree(int dirfd, const char *root, const struct scan_opts *o,
    struct manifest *out)
{
	struct scan_opts defaults;
	struct walker *w = NULL;
	struct hasher *h = NULL;
	struct stat st;
	size_t i, k, n;
	int fd = -1, wfd, rc = -1;

	if (o == NULL) {
		scan_opts_init(&defaults);
		o = &defaults;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (!o->no_hash && (h = malloc(sizeof(*h))) == NULL)) {
		free(w);
		return err_nomem();
	}
	w->rootfd = dirfd;
	w->root = root != NULL ? root : ".";
	w->o = o;
	w->out = out;
	if (h != NULL) {
		hasher_init(h, dirfd, w->root, false, o->progress);
		w->h = h;
	}

	/* A descriptor of our own, so the walk can close it. */
	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		scan_err(true, w->root, "", "cannot read directory");
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		scan_err(true, w->root, "", "cannot stat");
		goto out;
	}
	if (h != NULL && hasher_start(h, o->jobs) == -1)
		goto out;
	wfd = fd;
	fd = -1; /* walk_dir owns it now */
	if (walk_dir(w, wfd, 0, st.st_dev, st.st_ino) == -1) {
		if (h != NULL)
			hasher_finish(h, true); /* keeps the walk's error */
		goto out;
	}
	if (h != NULL) {
		if (hasher_finish(h, false) == -1)
			goto out;
		for (i = 0; i < h->njobs; i += n) {
			const struct hash_job *j = job_run(h, i, h->njobs, &n);

			for (k = 0; k < n; k++)
				memcpy(out->v[j[k].idx].digest, j[k].digest,
				    DIGEST_LEN);
		}
	}
	if (!is_sorted(out))
		manifest_sort(out);
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (rc == -1) {
		manifest_free(out);
		manifest_init(out);
	}
	if (h != NULL) {
		hasher_finish(h, true); /* no-op when finished */
		hasher_free(h);
		free(h);
	}
	free(w);
	return rc;
}

int
scan_path(const char *dir, const struct scan_opts *o, struct manifest *out)
{
	int fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return scan_err(true, dir, "", "cannot read directory");
	rc = scan_tree(fd, dir, o, out);
	close(fd);
	return rc;
}

int
scan_hash_file(int dirfd, const char *path, unsigned char out[DIGEST_LEN],
    uint64_t *size, const char *what)
{
	struct hasher h;
	struct hash_job j;
	unsigned char *buf;
	uint64_t got = 0;
	int rc;

	memset(&j, 0, sizeof(j));
	j.path = path;
	memset(&h, 0, sizeof(h));
	h.rootfd = dirfd;
	h.rehash = true;
	if ((buf = malloc(SCAN_BUFSZ)) == NULL)
		return err_nomem();
	rc = hash_one(&h, &j, buf, out, &got);
	free(buf);
	if (rc == -1) {
		if (what != NULL && strcmp(what, path) != 0)
			err_prefix("%s: ", what);
		return -1;
	}
	if (size != NULL)
		*size = got;
	return 0;
}

int
scan_rehash(int dirfd, struct entry *v, size_t n, const struct scan_opts *o)
{
	struct hasher h;
	size_t i, k, nr;
	int rc = -1;

	hasher_init(&h, dirfd, NULL, true, o != NULL ? o->progress : NULL);
	for (i = 0; i < n && v[i].type != ENTRY_FILE; i++)
		;
	if (i == n)
		return 0; /* no file: no thread */
	if (hasher_start(&h, o != NULL ? o->jobs : 0) == -1)
		goto out;
	for (i = 0; i < n; i++)
		if (v[i].type == ENTRY_FILE &&
		    hasher_add(&h, i, v[i].path, v[i].size, 0) == -1)
			goto out;
	if (hasher_finish(&h, false) == -1)
		goto out;
	for (i = 0; i < h.njobs; i += nr) {
		const struct hash_job *j = job_run(&h, i, h.njobs, &nr);

		for (k = 0; k < nr; k++) {
			memcpy(v[j[k].idx].digest, j[k].digest, DIGEST_LEN);
			v[j[k].idx].size = j[k].got;
		}
	}
	rc = 0;
out:
	hasher_finish(&h, true); /* no-op when finished */
	hasher_free(&h);
	return rc;
}
