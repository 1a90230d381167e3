/*
 * test_core.c — unit tests of the core's plumbing: errors, full I/O,
 * tree removal, atomic writes, locks, SHA-256 and the fault hook.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomic.h"
#include "digest.h"
#include "err.h"
#include "fault.h"
#include "io.h"
#include "lock.h"
#include "tap.h"

static char tmpdir[] = "/tmp/pkgdist-unit-XXXXXX";

/* Number of names in dirfd that are temporary files of atomic.h. */
static int
count_tmp(int dirfd)
{
	int n = 0, fd = dup(dirfd);
	DIR *d = fdopendir(fd);
	struct dirent *de;

	rewinddir(d);
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ATOMIC_TMP_MARK) != NULL)
			n++;
	closedir(d);
	return n;
}

static void
test_err(void)
{
	errno = ENOSPC;
	err_sys("cannot write '%s'", "x");
	tap_ok(strcmp(err_get(), "cannot write 'x': No space left on device") ==
		    0 &&
		err_errno() == ENOSPC,
	    "err_sys appends strerror and "
	    "keeps errno");
	err_prefix("dp2: ");
	tap_ok(strncmp(err_get(), "dp2: cannot write", 17) == 0,
	    "err_prefix puts context first");
	err_set("plain");
	tap_ok(err_errno() == 0, "err_set clears the saved errno");
}

static void
test_atomic(int dirfd)
{
	struct atomic_file af;
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	pid_t pid;
	int status;

	tap_ok(atomic_write_file(dirfd, "f", "hello\n", 6, 0444) == 0,
	    "atomic_write_file succeeds");
	tap_ok(io_slurp(dirfd, "f", 100, &buf, &len) == 0 && len == 6 &&
		memcmp(buf, "hello\n", 6) == 0,
	    "the file has the bytes written");
	free(buf);
	tap_ok(fstatat(dirfd, "f", &st, 0) == 0 && (st.st_mode & 07777) == 0444,
	    "the file has the mode asked for");
	tap_ok(count_tmp(dirfd) == 0, "no temporary file is left");

	tap_ok(atomic_open(&af, dirfd, "f", 0644) == 0 &&
		atomic_write(&af, "new", 3) == 0,
	    "a second write starts");
	atomic_abort(&af);
	tap_ok(io_slurp(dirfd, "f", 100, &buf, &len) == 0 && len == 6,
	    "an aborted write leaves the old file whole");
	free(buf);
	tap_ok(count_tmp(dirfd) == 0, "an aborted write leaves no debris");

	/* A signal in the middle of a write removes the temporary file. */
	if ((pid = fork()) == 0) {
		atomic_install_cleanup();
		if (atomic_open(&af, dirfd, "g", 0644) == -1 ||
		    atomic_write(&af, "partial", 7) == -1)
			_exit(3);
		raise(SIGTERM);
		_exit(4);
	}
	waitpid(pid, &status, 0);
	tap_ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
	    "the writer died of SIGTERM");
	tap_ok(count_tmp(dirfd) == 0 && faccessat(dirfd, "g", F_OK, 0) == -1,
	    "SIGTERM during a write leaves neither file nor debris");
	tap_ok(atomic_open(&af, dirfd, "a/b", 0644) == -1,
	    "a name with a slash is refused");
}

static void
test_lock(int dirfd)
{
	int l1, l2, status, pipefd[2];
	pid_t pid;
	char c;

	l1 = lock_acquire(dirfd, "lk", false, 0);
	tap_ok(l1 >= 0, "an exclusive lock is taken");
	if ((pid = fork()) == 0)
		_exit(lock_acquire(dirfd, "lk", false, 0.2) == -1 &&
			    err_errno() == EWOULDBLOCK &&
			    strstr(err_get(), "locked by another process") !=
				NULL ?
			0 :
			1);
	waitpid(pid, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "another process times out with a clear message");
	lock_release(l1);
	l2 = lock_acquire(dirfd, "lk", false, 0);
	tap_ok(l2 >= 0, "the lock is free once released");
	lock_release(l2);

	/* A holder that dies (kill -9) frees the lock. */
	if (pipe(pipefd) == -1)
		return;
	if ((pid = fork()) == 0) {
		if (lock_acquire(dirfd, "lk", false, 0) >= 0)
			(void)write(pipefd[1], "x", 1);
		pause();
		_exit(0);
	}
	(void)read(pipefd[0], &c, 1);
	tap_ok(lock_acquire(dirfd, "lk", false, 0) == -1,
	    "the lock is held by the child");
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	l2 = lock_acquire(dirfd, "lk", false, 1);
	tap_ok(l2 >= 0, "a holder killed with SIGKILL leaves no stale lock");
	lock_release(l2);
	close(pipefd[0]);
	close(pipefd[1]);
}

static void
test_remove_tree(int dirfd)
{
	int fd;

	/* A read-only tree with a link to outside: removed, outside kept. */
	mkdirat(dirfd, "outside", 0755);
	fd = openat(dirfd, "outside", O_RDONLY | O_DIRECTORY);
	atomic_write_file(fd, "keep", "k", 1, 0644);
	close(fd);
	mkdirat(dirfd, "t", 0755);
	mkdirat(dirfd, "t/sub", 0755);
	fd = openat(dirfd, "t/sub", O_RDONLY | O_DIRECTORY);
	atomic_write_file(fd, "x", "x", 1, 0444);
	close(fd);
	fd = openat(dirfd, "t", O_RDONLY | O_DIRECTORY);
	symlinkat("../outside", fd, "link");
	close(fd);
	fchmodat(dirfd, "t/sub", 0555, 0);
	fchmodat(dirfd, "t", 0555, 0);
	tap_ok(io_remove_tree(dirfd, "t") == 0,
	    "io_remove_tree removes a "
	    "read-only tree");
	tap_ok(faccessat(dirfd, "t", F_OK, AT_SYMLINK_NOFOLLOW) == -1 &&
		faccessat(dirfd, "outside/keep", F_OK, 0) == 0,
	    "it does not follow a link out of the tree");
	tap_ok(io_remove_tree(dirfd, "missing") == 0,
	    "removing a missing tree is success");
}

static void
test_digest(int dirfd)
{
	unsigned char d[DIGEST_LEN];
	char hex[DIGEST_HEXLEN + 1];
	uint64_t size = 0;
	int fd;

	atomic_write_file(dirfd, "h", "test", 4, 0644);
	fd = openat(dirfd, "h", O_RDONLY);
	tap_ok(digest_fd(fd, d, &size, "h") == 0 && size == 4,
	    "digest_fd hashes a file");
	close(fd);
	digest_hex(d, hex);
	tap_ok(strcmp(hex,
		   "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822c"
		   "d15d6c15b0f00a08") == 0,
	    "SHA-256 of 'test' is the known value");
	tap_ok(digest_unhex(hex, DIGEST_HEXLEN, d) == 0,
	    "lowercase hex parses");
	hex[0] = 'F';
	tap_ok(digest_unhex(hex, DIGEST_HEXLEN, d) == -1,
	    "uppercase hex is refused");
}

#ifdef PKGDIST_TESTING
/*
 * The hook reads PKGDIST_FAULT once per process, so each case runs in a
 * fresh copy of this program: "test_core CASE DIR" with the variable set.
 */
static int
with_fault(const char *spec, const char *name)
{
	pid_t pid;
	int status;

	if ((pid = fork()) == 0) {
		setenv("PKGDIST_FAULT", spec, 1);
		execl("/proc/self/exe", "test_core", name, tmpdir,
		    (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	return status;
}

static int
second_write_fails(int dirfd)
{
	int fd = openat(dirfd, "w", O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (io_write_full(fd, "a", 1, "w") == -1)
		return 1;
	if (io_write_full(fd, "b", 1, "w") == 0)
		return 2;
	return err_errno() == ENOSPC && strstr(err_get(), "'w'") ? 0 : 3;
}

static int
rename_crashes(int dirfd)
{
	atomic_write_file(dirfd, "c", "c", 1, 0644);
	return 5;
}

/* io_list_typed: every name, each with the type readdir gives (or
 * DT_UNKNOWN, then the stat must agree) and its inode number (a hard
 * link's the same as its file's). */
static void
test_list_typed(int dirfd)
{
	static const struct {
		const char *name;
		unsigned char type;
	} want[] = { { "a file", DT_REG }, { "dir", DT_DIR },
		{ "link\n", DT_LNK }, { "hard", DT_REG } };
	char **names = NULL;
	unsigned char *types = NULL;
	uint64_t *inos = NULL, file_ino = 0, hard_ino = 1;
	size_t n = 0, i, k, found = 0;
	struct stat st;
	int fd, sub, ok = 1;

	if (mkdirat(dirfd, "typed", 0755) == -1 ||
	    (sub = openat(dirfd, "typed", O_RDONLY | O_DIRECTORY)) == -1) {
		tap_ok(0, "io_list_typed: set-up");
		return;
	}
	if ((fd = openat(sub, "a file", O_WRONLY | O_CREAT, 0644)) != -1)
		close(fd);
	if (mkdirat(sub, "dir", 0755) == -1 ||
	    symlinkat("a file", sub, "link\n") == -1 ||
	    linkat(sub, "a file", sub, "hard", 0) == -1)
		ok = 0;
	if (io_list_typed(sub, &names, &types, &inos, &n) == -1)
		ok = 0;
	for (i = 0; ok && i < n; i++) {
		for (k = 0; k < 4 && strcmp(names[i], want[k].name) != 0; k++)
			;
		if (k == 4) {
			ok = 0;
			break;
		}
		found++;
		if (k == 0)
			file_ino = inos[i];
		if (k == 3)
			hard_ino = inos[i];
		if (fstatat(sub, names[i], &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    (uint64_t)st.st_ino != inos[i])
			ok = 0;
		if (types[i] == DT_UNKNOWN) {
			if (fstatat(sub, names[i], &st, AT_SYMLINK_NOFOLLOW) ==
				-1 ||
			    (want[k].type == DT_REG && !S_ISREG(st.st_mode)) ||
			    (want[k].type == DT_DIR && !S_ISDIR(st.st_mode)) ||
			    (want[k].type == DT_LNK && !S_ISLNK(st.st_mode)))
				ok = 0;
		} else if (types[i] != want[k].type)
			ok = 0;
	}
	tap_ok(ok && n == 4 && found == 4 && file_ino == hard_ino,
	    "io_list_typed lists every name once with its type (file, "
	    "directory, link) and inode number (a hard link's is its "
	    "file's)");
	io_names_free(names, n);
	free(types);
	free(inos);
	ok = 0;
	if ((fd = openat(sub, "dir", O_RDONLY | O_DIRECTORY)) != -1) {
		ok = io_list_typed(fd, &names, &types, &inos, &n) == 0 &&
		    n == 0 && names == NULL && types == NULL && inos == NULL;
		close(fd);
	}
	tap_ok(ok, "io_list_typed of an empty directory: nothing, no vectors");
	close(sub);
	(void)io_remove_tree(dirfd, "typed");
}

static void
test_fault(int dirfd)
{
	int status;

	(void)dirfd;
	status = with_fault("write:2:ENOSPC", "second-write-fails");
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "PKGDIST_FAULT fails exactly the Nth write with the errno asked");
	status = with_fault("rename:1:crash", "rename-crashes");
	tap_ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "a crash fault kills the process at that operation");
	tap_ok(faccessat(dirfd, "c", F_OK, 0) == -1,
	    "a crash before the rename leaves the target absent");
}
#endif

int
main(int argc, char **argv)
{
	int dirfd;

#ifdef PKGDIST_TESTING
	if (argc == 3) {
		if ((dirfd = open(argv[2], O_RDONLY | O_DIRECTORY)) == -1)
			return 126;
		if (strcmp(argv[1], "second-write-fails") == 0)
			return second_write_fails(dirfd);
		if (strcmp(argv[1], "rename-crashes") == 0)
			return rename_crashes(dirfd);
		return 125;
	}
#endif
	(void)argc;
	(void)argv;
	if (mkdtemp(tmpdir) == NULL ||
	    (dirfd = open(tmpdir, O_RDONLY | O_DIRECTORY)) == -1) {
		perror("mkdtemp");
		return 1;
	}
	test_err();
	test_atomic(dirfd);
	test_lock(dirfd);
	test_remove_tree(dirfd);
	test_digest(dirfd);
	test_list_typed(dirfd);
#ifdef PKGDIST_TESTING
	test_fault(dirfd);
#endif
	close(dirfd);
	dirfd = open("/tmp", O_RDONLY | O_DIRECTORY);
	io_remove_tree(dirfd, tmpdir + 5);
	close(dirfd);
	return tap_done();
}
