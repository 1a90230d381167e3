/*
 * readrate — the read(2) ceiling of a scan: read every regular file under
 * DIR the way pkgdiff scan does, with or without hashing.
 *
 *	readrate [-H] [-b BUFSIZE] [-j THREADS] DIR
 *
 * Lists DIR's regular files (nftw, no links followed), sorts them biggest
 * first, and lets THREADS threads (default 2) take them from a shared
 * counter; each opens its file, posix_fadvise(SEQUENTIAL), and reads it
 * to the end through read(2) into its own BUFSIZE buffer (default 1 MiB,
 * pkgdiff's).  With -H each buffer is also fed to SHA-256 (OpenSSL EVP,
 * as pkgdiff does); without it the bytes are only copied out of the page
 * cache.  Prints "BYTES FILES" on stdout; the caller times it (peakrss).
 * Exit 0, or 2 on any failure.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

struct file {
	char *path;
	off_t size;
};

static struct file *files;
static size_t nfiles, capfiles, next;
static size_t bufsize = 1024 * 1024;
static int hash;
static uint64_t total;
static int failed;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static int
add(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	struct file *nf;

	(void)ftw;
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	if (nfiles == capfiles) {
		capfiles = capfiles ? capfiles * 2 : 1024;
		if ((nf = realloc(files, capfiles * sizeof(*nf))) == NULL)
			return -1;
		files = nf;
	}
	if ((files[nfiles].path = strdup(path)) == NULL)
		return -1;
	files[nfiles++].size = st->st_size;
	return 0;
}

static int
bigger(const void *a, const void *b)
{
	const struct file *x = a, *y = b;

	return x->size > y->size ? -1 : x->size < y->size;
}

static void *
worker(void *arg)
{
	unsigned char *buf, md[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx = NULL;
	uint64_t mine = 0;
	size_t i;
	ssize_t r;
	int fd, bad = 0;

	(void)arg;
	if ((buf = malloc(bufsize)) == NULL ||
	    (hash && (ctx = EVP_MD_CTX_new()) == NULL))
		bad = 1;
	while (!bad) {
		pthread_mutex_lock(&mu);
		i = next++;
		pthread_mutex_unlock(&mu);
		if (i >= nfiles)
			break;
		if ((fd = open(files[i].path, O_RDONLY | O_CLOEXEC)) == -1) {
			perror(files[i].path);
			bad = 1;
			break;
		}
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
		if (hash && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
			bad = 1;
		while (!bad && (r = read(fd, buf, bufsize)) != 0) {
			if (r == -1) {
				if (errno == EINTR)
					continue;
				perror(files[i].path);
				bad = 1;
				break;
			}
			if (hash && EVP_DigestUpdate(ctx, buf, (size_t)r) != 1)
				bad = 1;
			mine += (uint64_t)r;
		}
		if (!bad && hash && EVP_DigestFinal_ex(ctx, md, NULL) != 1)
			bad = 1;
		close(fd);
	}
	EVP_MD_CTX_free(ctx);
	free(buf);
	pthread_mutex_lock(&mu);
	total += mine;
	failed |= bad;
	pthread_mutex_unlock(&mu);
	return NULL;
}

int
main(int argc, char *argv[])
{
	pthread_t tid[64];
	int c, i, n = 2;

	while ((c = getopt(argc, argv, "Hb:j:")) != -1) {
		switch (c) {
		case 'H':
			hash = 1;
			break;
		case 'b':
			bufsize = (size_t)strtoul(optarg, NULL, 0);
			break;
		case 'j':
			n = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || n < 1 || n > 64 || bufsize == 0)
		goto usage;
	if (nftw(argv[optind], add, 64, FTW_PHYS) != 0) {
		perror(argv[optind]);
		return 2;
	}
	qsort(files, nfiles, sizeof(*files), bigger);
	for (i = 0; i < n; i++)
		if (pthread_create(&tid[i], NULL, worker, NULL) != 0)
			return 2;
	for (i = 0; i < n; i++)
		pthread_join(tid[i], NULL);
	printf("%llu %zu\n", (unsigned long long)total, nfiles);
	return failed ? 2 : 0;
usage:
	fprintf(stderr, "usage: readrate [-H] [-b BUFSIZE] [-j THREADS] DIR\n");
	return 2;
}
