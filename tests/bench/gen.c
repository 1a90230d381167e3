/*
 * gen — deterministic workloads for tests/bench/run.
 *
 *	gen tree DIR SEED NFILES BYTES [BIGBYTES]
 *	gen mutate DIR SEED NFILES BYTES [BIGBYTES]
 *	gen manifest FILE SEED NENTRIES GENERATION
 *	gen fsprobe DIR N
 *
 * tree writes NFILES files totalling BYTES (log-normal sizes; about half
 * of the bytes random, half text made of words), in directories whose
 * names have spaces, a few non-ASCII names and a few symbolic links, with
 * fixed modes and mtimes; BIGBYTES > 0 adds one file of that size (mixed
 * 1 MiB chunks of random and text).  The same arguments give the same
 * tree, byte for byte.
 *
 * mutate changes a copy of such a tree (made with cp -al: every change
 * replaces a file by rename, so the original keeps its contents): 1% of
 * the files get new contents and mtimes, 0.5% are removed, 0.5% are
 * added.  It prints one line:
 *	modified N BYTES added N BYTES removed N changed_bytes B changed_z Z
 * where B is the new bytes (modified + added) and Z their zlib size.
 *
 * manifest writes a valid, sorted pkgmanifest(5) of NENTRIES files (and a
 * directory every 100 files) with made-up digests; GENERATION 1 is the
 * same list with 1% modified, 0.5% removed and 0.5% added.
 *
 * fsprobe times what one file costs the file system under DIR: creating
 * 2N files of 4 KiB, renaming N of them over the other N, unlinking N, each
 * phase followed by sync(); it prints microseconds per file for each.
 *
 * Only for the benchmark: plain C, libc, libm and zlib.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define BASE_MTIME 1700000000L
#define MUT_MTIME 1702000000L
#define BUFSZ (1 << 20)

struct rng {
	uint64_t s[4];
};

static uint64_t
splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
rng_seed(struct rng *r, uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t x = a * 0x100000001b3ULL ^ b * 0xc6a4a7935bd1e995ULL ^
	    c * 0x9e3779b97f4a7c15ULL;
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix(&x);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t
rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

static double
rng_unit(struct rng *r)
{
	return (rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static double
rng_normal(struct rng *r)
{
	double u1 = rng_unit(r), u2 = rng_unit(r);

	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static void
die(const char *what)
{
	fprintf(stderr, "gen: %s: %s\n", what, strerror(errno));
	exit(2);
}

static const char *words[] = {
	"the",
	"of",
	"and",
	"to",
	"in",
	"is",
	"that",
	"for",
	"it",
	"as",
	"with",
	"was",
	"on",
	"be",
	"at",
	"by",
	"this",
	"had",
	"not",
	"are",
	"but",
	"from",
	"or",
	"have",
	"an",
	"they",
	"which",
	"one",
	"you",
	"were",
	"all",
	"we",
	"when",
	"there",
	"can",
	"been",
	"has",
	"more",
	"if",
	"no",
	"out",
	"do",
	"so",
	"what",
	"up",
	"their",
	"about",
	"into",
	"than",
	"them",
	"only",
	"other",
	"new",
	"some",
	"could",
	"time",
	"these",
	"two",
	"may",
	"first",
	"then",
	"any",
	"like",
	"setup",
	"install",
	"package",
	"version",
	"server",
	"client",
	"distribution",
	"point",
	"share",
	"network",
	"domain",
	"registry",
	"HKEY_LOCAL_MACHINE",
	"Software",
	"Microsoft",
	"Office",
	"Windows",
	"C:\\Program",
	"Files\\Office",
	"DLL",
	"EXE",
	"CAB",
	"INF",
	"MSI",
	"0x0000",
	"error",
	"warning",
	"success",
	"file",
	"directory",
	"copy",
	"delete",
	"refresh",
	"update",
	"user",
	"group",
	"admin",
	"=",
	";",
	"[Setup]",
	"[Files]",
	"{",
	"}",
	"1.0",
	"97",
	"2000",
	"license",
	"agreement",
	"customer",
	"support",
	"document",
	"print",
	"template",
	"macro",
	"workbook",
	"sheet",
	"slide",
	"mail",
	"form",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static const char *exts[] = { "txt", "dll", "exe", "cab", "dat", "doc", "ini",
	"hlp", "xls", "inf" };
static const char *names[] = { "setup", "read me", "Office Tools",
	"Résumé template", "naïve bayes", "install log", "Common Files",
	"Shared Components", "Help", "data", "Winword", "Excel 97" };

struct fileinfo {
	uint64_t size;
	int random; /* content class */
};

struct tree {
	uint64_t seed;
	long nfiles;
	uint64_t bytes;
	uint64_t bigbytes;
	long ndirs;
	long ntop;
	struct fileinfo *f;
};

static void
tree_plan(struct tree *t, uint64_t seed, long nfiles, uint64_t bytes,
    uint64_t bigbytes)
{
	struct rng r;
	double *raw, sum = 0;
	uint64_t used = 0, rb = 0, tb = 0;
	long i, maxi = 0;

	t->seed = seed;
	t->nfiles = nfiles;
	t->bytes = bytes;
	t->bigbytes = bigbytes;
	t->ndirs = nfiles / 50 > 0 ? nfiles / 50 : 1;
	t->ntop = (long)sqrt((double)t->ndirs);
	if (t->ntop < 1)
		t->ntop = 1;
	t->f = calloc(nfiles ? nfiles : 1, sizeof(*t->f));
	raw = calloc(nfiles ? nfiles : 1, sizeof(*raw));
	if (t->f == NULL || raw == NULL)
		die("calloc");
	rng_seed(&r, seed, 1, 0);
	for (i = 0; i < nfiles; i++) {
		raw[i] = exp(1.8 * rng_normal(&r));
		sum += raw[i];
	}
	for (i = 0; i < nfiles; i++) {
		t->f[i].size = (uint64_t)(raw[i] / sum * (double)bytes);
		used += t->f[i].size;
		if (t->f[i].size > t->f[maxi].size)
			maxi = i;
	}
	if (nfiles > 0)
		t->f[maxi].size += bytes - used;
	for (i = 0; i < nfiles; i++) {
		t->f[i].random = rb <= tb;
		if (t->f[i].random)
			rb += t->f[i].size;
		else
			tb += t->f[i].size;
	}
	free(raw);
}

static void
tree_dirname(const struct tree *t, long d, char *buf, size_t len)
{
	snprintf(buf, len, "Program Files %02ld/%s %04ld", d % t->ntop,
	    names[d % (sizeof(names) / sizeof(names[0]))], d);
}

static void
tree_filename(const struct tree *t, long i, char *buf, size_t len)
{
	char d[256];
	long di = (long)((uint64_t)i * 2654435761u % (uint64_t)t->ndirs);

	tree_dirname(t, di, d, sizeof(d));
	snprintf(buf, len, "%s/%s %06ld.%s", d,
	    names[(i / 7) % (sizeof(names) / sizeof(names[0]))], i,
	    exts[i % (sizeof(exts) / sizeof(exts[0]))]);
}

static void
mkdirs(const char *path)
{
	char buf[PATH_MAX];
	char *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			die(buf);
		*p = '/';
	}
	if (mkdir(buf, 0755) == -1 && errno != EEXIST)
		die(buf);
}

static void
settime(const char *path, long t)
{
	struct timespec ts[2];

	ts[0].tv_sec = ts[1].tv_sec = t;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == -1)
		die(path);
}

static unsigned char *buf;

/* Fill n bytes of buf with class content; returns n. */
static size_t
fill(struct rng *r, int random, size_t n)
{
	size_t i = 0;

	if (random) {
		for (; i + 8 <= n; i += 8) {
			uint64_t v = rng_next(r);
			memcpy(buf + i, &v, 8);
		}
		for (; i < n; i++)
			buf[i] = (unsigned char)rng_next(r);
		return n;
	}
	while (i < n) {
		uint64_t v = rng_next(r);
		const char *w = words[v % NWORDS];
		size_t wl = strlen(w);
		char sep = (v >> 32) % 12 == 0 ? '\n' : ' ';

		if ((v >> 40) % 9 == 0) {
			char num[24];
			int k = snprintf(num, sizeof(num), "%u",
			    (unsigned)((v >> 44) % 100000));
			w = num;
			wl = (size_t)k;
			if (i + wl + 1 > n)
				wl = n - i;
			memcpy(buf + i, num, wl);
		} else {
			if (i + wl + 1 > n)
				wl = n - i;
			memcpy(buf + i, w, wl);
		}
		i += wl;
		if (i < n)
			buf[i++] = (unsigned char)sep;
	}
	return n;
}

/* Write a file of size bytes; big files mix 1 MiB chunks of both kinds.
 * Returns the zlib-compressed size if zsize is asked for. */
static void
write_file(const char *path, uint64_t size, int random, struct rng *r, int mode,
    long mtime, uint64_t *zsize)
{
	int fd;
	uint64_t left = size, chunk = 0;
	z_stream zs;
	unsigned char *zout = NULL;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)) == -1)
		die(path);
	if (zsize != NULL) {
		memset(&zs, 0, sizeof(zs));
		if (deflateInit(&zs, Z_DEFAULT_COMPRESSION) != Z_OK)
			die("deflateInit");
		zout = malloc(BUFSZ + 1024);
		if (zout == NULL)
			die("malloc");
		*zsize = 0;
	}
	do {
		size_t n = left > BUFSZ ? BUFSZ : (size_t)left;
		int cls =
		    size > 64 * (uint64_t)BUFSZ ? (int)(chunk & 1) : random;
		size_t off = 0;

		fill(r, cls, n);
		while (off < n) {
			ssize_t w = write(fd, buf + off, n - off);
			if (w == -1) {
				if (errno == EINTR)
					continue;
				die(path);
			}
			off += (size_t)w;
		}
		if (zsize != NULL) {
			zs.next_in = buf;
			zs.avail_in = (uInt)n;
			do {
				zs.next_out = zout;
				zs.avail_out = BUFSZ + 1024;
				deflate(&zs, left == n ? Z_FINISH : Z_NO_FLUSH);
				*zsize += BUFSZ + 1024 - zs.avail_out;
			} while (zs.avail_out == 0);
		}
		left -= n;
		chunk++;
	} while (left > 0);
	if (zsize != NULL) {
		deflateEnd(&zs);
		free(zout);
	}
	if (fchmod(fd, (mode_t)mode) == -1)
		die(path);
	if (close(fd) == -1)
		die(path);
	settime(path, mtime);
}

static int
file_mode(long i)
{
	return i % (long)(sizeof(exts) / sizeof(exts[0])) == 2 ? 0755 : 0644;
}

static long
file_mtime(uint64_t seed, long i)
{
	struct rng r;

	rng_seed(&r, seed, 3, (uint64_t)i);
	return BASE_MTIME + (long)(rng_next(&r) % 10000000);
}

static int
cmd_tree(const char *root, struct tree *t)
{
	char path[PATH_MAX], rel[1024], d[256];
	struct rng r;
	long i;

	mkdirs(root);
	for (i = 0; i < t->ndirs; i++) {
		tree_dirname(t, i, d, sizeof(d));
		snprintf(path, sizeof(path), "%s/%s", root, d);
		mkdirs(path);
	}
	for (i = 0; i < t->nfiles; i++) {
		tree_filename(t, i, rel, sizeof(rel));
		snprintf(path, sizeof(path), "%s/%s", root, rel);
		rng_seed(&r, t->seed, 2, (uint64_t)i);
		write_file(path, t->f[i].size, t->f[i].random, &r, file_mode(i),
		    file_mtime(t->seed, i), NULL);
	}
	/* A few symbolic links, to a file in the same directory. */
	for (i = 0; i < t->nfiles; i += 1000) {
		char *slash;

		tree_filename(t, i, rel, sizeof(rel));
		slash = strrchr(rel, '/');
		snprintf(path, sizeof(path), "%s/%.*s/shortcut %06ld.lnk", root,
		    (int)(slash - rel), rel, i);
		if (symlink(slash + 1, path) == -1 && errno != EEXIST)
			die(path);
		settime(path, BASE_MTIME);
	}
	if (t->bigbytes > 0) {
		snprintf(path, sizeof(path), "%s/disk image.bin", root);
		rng_seed(&r, t->seed, 4, 0);
		write_file(path, t->bigbytes, 1, &r, 0644, BASE_MTIME, NULL);
	}
	for (i = 0; i < t->ndirs; i++) {
		tree_dirname(t, i, d, sizeof(d));
		snprintf(path, sizeof(path), "%s/%s", root, d);
		settime(path, BASE_MTIME);
	}
	for (i = 0; i < t->ntop; i++) {
		snprintf(path, sizeof(path), "%s/Program Files %02ld", root, i);
		settime(path, BASE_MTIME);
	}
	settime(root, BASE_MTIME);
	return 0;
}

static int
cmd_mutate(const char *root, struct tree *t)
{
	char path[PATH_MAX], tmp[PATH_MAX + 16], rel[1024], d[256];
	struct rng r, pick;
	long i, nmod = 0, nadd = 0, nrm = 0, want_mod, want_rm, want_add;
	uint64_t bmod = 0, badd = 0, z, zsum = 0;
	unsigned char *state;
	double mean;

	want_mod = t->nfiles / 100 > 0 ? t->nfiles / 100 : 1;
	want_rm = t->nfiles / 200 > 0 ? t->nfiles / 200 : 1;
	want_add = want_rm;
	state = calloc(t->nfiles ? t->nfiles : 1, 1);
	if (state == NULL)
		die("calloc");
	rng_seed(&pick, t->seed, 5, 0);
	/* state: 1 modified, 2 removed */
	while (nmod < want_mod || nrm < want_rm) {
		long k = (long)(rng_next(&pick) % (uint64_t)t->nfiles);

		if (state[k] != 0 || k % 1000 == 0) /* keep link targets */
			continue;
		if (nmod < want_mod) {
			state[k] = 1;
			nmod++;
		} else {
			state[k] = 2;
			nrm++;
		}
	}
	for (i = 0; i < t->nfiles; i++) {
		if (state[i] == 0)
			continue;
		tree_filename(t, i, rel, sizeof(rel));
		snprintf(path, sizeof(path), "%s/%s", root, rel);
		if (state[i] == 2) {
			if (unlink(path) == -1)
				die(path);
			continue;
		}
		snprintf(tmp, sizeof(tmp), "%s.gen-tmp", path);
		rng_seed(&r, t->seed, 6, (uint64_t)i);
		{
			/* new contents, size within +-10% */
			uint64_t sz = t->f[i].size;
			uint64_t delta = sz / 10;

			if (delta > 0)
				sz =
				    sz - delta + rng_next(&r) % (2 * delta + 1);
			write_file(tmp, sz, t->f[i].random, &r, file_mode(i),
			    MUT_MTIME + i, &z);
			if (rename(tmp, path) == -1)
				die(path);
			bmod += sz;
			zsum += z;
		}
	}
	mean = t->nfiles > 0 ? (double)t->bytes / (double)t->nfiles : 0;
	for (nadd = 0; nadd < want_add; nadd++) {
		long di = (long)(rng_next(&pick) % (uint64_t)t->ndirs);
		uint64_t sz =
		    (uint64_t)(mean / 5.05 * exp(1.8 * rng_normal(&pick)));

		tree_dirname(t, di, d, sizeof(d));
		snprintf(path, sizeof(path), "%s/%s/added file %06ld.dat", root,
		    d, nadd);
		rng_seed(&r, t->seed, 7, (uint64_t)nadd);
		write_file(path, sz, (int)(nadd & 1), &r, 0644,
		    MUT_MTIME + nadd, &z);
		badd += sz;
		zsum += z;
	}
	/* Directories keep fixed times, so the tree stays reproducible. */
	for (i = 0; i < t->ndirs; i++) {
		tree_dirname(t, i, d, sizeof(d));
		snprintf(path, sizeof(path), "%s/%s", root, d);
		settime(path, BASE_MTIME);
	}
	printf("modified %ld %" PRIu64 " added %ld %" PRIu64
	       " removed %ld changed_bytes %" PRIu64 " changed_z %" PRIu64 "\n",
	    nmod, bmod, nadd, badd, nrm, bmod + badd, zsum);
	free(state);
	return 0;
}

static void
hex(struct rng *r, char *out)
{
	static const char h[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 4; i++) {
		uint64_t v = rng_next(r);
		int k;

		for (k = 0; k < 16; k++)
			out[i * 16 + k] = h[(v >> (k * 4)) & 15];
	}
	out[64] = '\0';
}

static int
cmd_manifest(const char *file, uint64_t seed, long n, int gen)
{
	FILE *fp;
	long i;
	char dg[65];

	if ((fp = fopen(file, "w")) == NULL)
		die(file);
	setvbuf(fp, NULL, _IOFBF, 1 << 20);
	fprintf(fp, "pkgdist-manifest 1\npackage bench\nversion %d\n", gen + 1);
	for (i = 0; i < n; i++) {
		struct rng r;
		uint64_t v;
		int kind; /* 0 same, 1 modified, 2 removed, 3 added */

		if (i % 100 == 0)
			fprintf(fp, "d 0755 0 %ld - dir\\040%05ld\n",
			    BASE_MTIME, i / 100);
		rng_seed(&r, seed, 8, (uint64_t)i);
		v = rng_next(&r);
		kind = v % 1000 < 10 ? 1 :
		    v % 1000 < 15    ? 2 :
		    v % 1000 < 20    ? 3 :
				       0;
		hex(&r, dg);
		if (gen == 0 || kind == 0 || kind == 3)
			fprintf(fp,
			    "f 0644 %" PRIu64 " %ld %s "
			    "dir\\040%05ld/file\\040%07ld.dat\n",
			    (v >> 20) % 1000000, BASE_MTIME + (long)(v % 999),
			    dg, i / 100, i);
		else if (kind == 1) {
			hex(&r, dg);
			fprintf(fp,
			    "f 0644 %" PRIu64 " %ld %s "
			    "dir\\040%05ld/file\\040%07ld.dat\n",
			    (v >> 24) % 1000000, MUT_MTIME, dg, i / 100, i);
		}
		if (gen == 1 && kind == 3) {
			hex(&r, dg);
			fprintf(fp,
			    "f 0644 %" PRIu64 " %ld %s "
			    "dir\\040%05ld/file\\040%07ldb.dat\n",
			    (v >> 28) % 1000000, MUT_MTIME, dg, i / 100, i);
		}
	}
	if (fflush(fp) == EOF || fclose(fp) == EOF)
		die(file);
	return 0;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmd_fsprobe(const char *dir, long n)
{
	char a[PATH_MAX], b[PATH_MAX];
	double t0, t1, t2, t3;
	long i;
	int fd;

	mkdirs(dir);
	t0 = now();
	for (i = 0; i < 2 * n; i++) {
		snprintf(a, sizeof(a), "%s/f%ld", dir, i);
		if ((fd = open(a, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1 ||
		    write(fd, buf, 4096) != 4096)
			die(a);
		close(fd);
	}
	sync();
	t1 = now();
	for (i = 0; i < n; i++) {
		snprintf(a, sizeof(a), "%s/f%ld", dir, n + i);
		snprintf(b, sizeof(b), "%s/f%ld", dir, i);
		if (rename(a, b) == -1)
			die(a);
	}
	sync();
	t2 = now();
	for (i = 0; i < n; i++) {
		snprintf(a, sizeof(a), "%s/f%ld", dir, i);
		if (unlink(a) == -1)
			die(a);
	}
	sync();
	t3 = now();
	if (rmdir(dir) == -1)
		die(dir);
	printf("create %.0f us, rename over a file %.0f us, unlink %.0f us\n",
	    (t1 - t0) * 1e6 / (double)(2 * n), (t2 - t1) * 1e6 / (double)n,
	    (t3 - t2) * 1e6 / (double)n);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: gen tree|mutate DIR SEED NFILES BYTES "
	    "[BIGBYTES]\n       gen manifest FILE SEED NENTRIES GENERATION\n"
	    "       gen fsprobe DIR N\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct tree t;

	buf = calloc(1, BUFSZ);
	if (buf == NULL)
		die("malloc");
	if (argc == 4 && strcmp(argv[1], "fsprobe") == 0)
		return cmd_fsprobe(argv[2], strtol(argv[3], NULL, 10));
	if (argc < 6)
		usage();
	if (strcmp(argv[1], "manifest") == 0)
		return cmd_manifest(argv[2], strtoull(argv[3], NULL, 10),
		    strtol(argv[4], NULL, 10), atoi(argv[5]));
	tree_plan(&t, strtoull(argv[3], NULL, 10), strtol(argv[4], NULL, 10),
	    strtoull(argv[5], NULL, 10),
	    argc > 6 ? strtoull(argv[6], NULL, 10) : 0);
	if (strcmp(argv[1], "tree") == 0)
		return cmd_tree(argv[2], &t);
	if (strcmp(argv[1], "mutate") == 0)
		return cmd_mutate(argv[2], &t);
	usage();
	return 2;
}
