/*
 * atomic.c — the one way pkgdist writes a file (see atomic.h).
 *
 * The cleanup registry is process-wide because a signal handler can reach
 * nothing else.  Slots are claimed with compare-and-swap so threads may
 * write files at once; the handler only calls unlinkat(), which is
 * async-signal-safe.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "err.h"
#include "fault.h"
#include "io.h"
#include "manifest.h"
#include "path.h"

#define ATOMIC_SLOTS 256
#define ATOMIC_NAME_KEEP 200 /* room for the mark within NAME_MAX */

struct atomic_slot {
	atomic_int state; /* 0 free, 1 being filled, 2 armed */
	int dirfd;
	char name[300];
};

static struct atomic_slot atomic_slots[ATOMIC_SLOTS];
static atomic_ulong atomic_counter;

int
atomic_tmpname(const char *name, char *out, size_t outlen)
{
	size_t keep = strlen(name);
	int r;

	if (keep > ATOMIC_NAME_KEEP)
		keep = ATOMIC_NAME_KEEP;
	r = snprintf(out, outlen, ".%.*s%s%ld-%lu", (int)keep, name,
	    ATOMIC_TMP_MARK, (long)getpid(),
	    atomic_fetch_add(&atomic_counter, 1));
	if (r < 0 || (size_t)r >= outlen)
		return err_set("temporary name for '%s' is too long", name);
	return 0;
}

int
atomic_track(int dirfd, const char *name)
{
	int i, expect;

	if (strlen(name) >= sizeof(atomic_slots[0].name))
		return -1;
	for (i = 0; i < ATOMIC_SLOTS; i++) {
		expect = 0;
		if (!atomic_compare_exchange_strong(&atomic_slots[i].state,
			&expect, 1))
			continue;
		atomic_slots[i].dirfd = dirfd;
		strcpy(atomic_slots[i].name, name);
		atomic_store(&atomic_slots[i].state, 2);
		return i;
	}
	return -1;
}

void
atomic_untrack(int slot)
{
	if (slot >= 0 && slot < ATOMIC_SLOTS)
		atomic_store(&atomic_slots[slot].state, 0);
}

static void
atomic_on_signal(int sig)
{
	int i;

	for (i = 0; i < ATOMIC_SLOTS; i++)
		if (atomic_load(&atomic_slots[i].state) == 2)
			(void)unlinkat(atomic_slots[i].dirfd,
			    atomic_slots[i].name, 0);
	signal(sig, SIG_DFL);
	raise(sig);
}

void
atomic_install_cleanup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = atomic_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

/*
 * ATOMIC_MODE_USER: what is at name decides.  0 with af->through set
 * (and af->fd open) for a device, fifo or socket; 0 with *keep the
 * existing regular file's stat; 0 with keep->st_nlink 0 when nothing is
 * there; -1 with err set.
 */
static int
atomic_user_target(struct atomic_file *af, struct stat *keep)
{
	char shown[PATH_SHOW_LEN];
	struct stat st;

	memset(keep, 0, sizeof(*keep));
	if (fstatat(af->dirfd, af->name, &st, 0) == -1) {
		if (errno == ENOENT)
			return 0;
		return err_sys("cannot write '%s'",
		    path_show(af->name, shown, sizeof(shown)));
	}
	if (S_ISREG(st.st_mode)) {
		*keep = st;
		return 0;
	}
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		return err_sys("cannot write '%s'",
		    path_show(af->name, shown, sizeof(shown)));
	}
	/* A device, fifo or socket: written through, as "> FILE" does. */
	af->fd = openat(af->dirfd, af->name, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (af->fd == -1)
		return err_sys("cannot write '%s'",
		    path_show(af->name, shown, sizeof(shown)));
	af->through = 1;
	return 0;
}

int
atomic_open(struct atomic_file *af, int dirfd, const char *name, mode_t mode)
{
	struct stat keep, st;
	bool user = mode == ATOMIC_MODE_USER;

	af->dirfd = dirfd;
	af->fd = -1;
	af->fp = NULL;
	af->slot = -1;
	af->mode = user ? 0 : mode;
	af->keep_mode = 0;
	af->through = 0;
	af->tmpname[0] = '\0';
	if (strchr(name, '/') != NULL || strlen(name) >= sizeof(af->name))
		return err_set("'%s': not a plain file name", name);
	strcpy(af->name, name);
	if (user) {
		if (atomic_user_target(af, &keep) == -1)
			return -1;
		if (af->through)
			return 0;
	}
	if (atomic_tmpname(name, af->tmpname, sizeof(af->tmpname)) == -1)
		return -1;
	/* A user's new file is created 0666, which the umask cuts. */
	af->fd = openat(dirfd, af->tmpname,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    user && keep.st_nlink == 0 ? 0666 : 0600);
	if (af->fd == -1) {
		err_sys("cannot create '%s'", af->tmpname);
		af->tmpname[0] = '\0';
		return -1;
	}
	af->slot = atomic_track(dirfd, af->tmpname);
	if (user) {
		if (keep.st_nlink != 0) {
			af->mode =
			    keep.st_mode & 07777 & ~(mode_t)(S_ISUID | S_ISGID);
			/* Root replacing another account's file keeps it
			 * that account's. */
			if (geteuid() == 0 &&
			    (keep.st_uid != 0 || keep.st_gid != 0))
				(void)fchown(af->fd, keep.st_uid, keep.st_gid);
		} else if (fstat(af->fd, &st) == 0)
			af->mode = st.st_mode & 0777;
		else
			af->mode = 0600;
	}
	return 0;
}

int
atomic_write(struct atomic_file *af, const void *buf, size_t n)
{
	if (af->fp != NULL && fflush(af->fp) == EOF)
		return err_sys("cannot write '%s'", af->name);
	return io_write_full(af->fd, buf, n, af->name);
}

FILE *
atomic_stream(struct atomic_file *af)
{
	int fd2;

	if (af->fp != NULL)
		return af->fp;
	/* The stream gets its own descriptor so that closing it leaves
	 * af->fd for fsync and the commit. */
	if ((fd2 = fcntl(af->fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		err_sys("cannot write '%s'", af->name);
		return NULL;
	}
	if ((af->fp = fdopen(fd2, "w")) == NULL) {
		err_sys("cannot write '%s'", af->name);
		close(fd2);
	}
	return af->fp;
}

int
atomic_fd(const struct atomic_file *af)
{
	return af->fd;
}

int
atomic_commit(struct atomic_file *af)
{
	int fd;

	if (af->fp != NULL) {
		/* The stream's buffered bytes go through the fault hook too,
		 * so a test can fail a formatted write like any other. */
		if (fflush(af->fp) == EOF || ferror(af->fp) ||
		    fault_hit("write") == -1) {
			err_sys("cannot write '%s'", af->name);
			goto fail;
		}
		if (fclose(af->fp) == EOF) {
			af->fp = NULL;
			err_sys("cannot write '%s'", af->name);
			goto fail;
		}
		af->fp = NULL;
	}
	if (af->through) {
		/* Nothing to rename, and a device or fifo has nothing to
		 * sync (fsync fails with EINVAL on many). */
		fd = af->fd;
		af->fd = -1;
		if (close(fd) == -1) {
			err_sys("cannot write '%s'", af->name);
			goto fail;
		}
		return 0;
	}
	if (io_fsync(af->fd, af->name) == -1)
		goto fail;
	if (fchmod(af->fd, af->mode) == -1) {
		err_sys("cannot set mode of '%s'", af->name);
		goto fail;
	}
	fd = af->fd;
	af->fd = -1;
	if (close(fd) == -1) {
		err_sys("cannot write '%s'", af->name);
		goto fail;
	}
	if (io_rename(af->dirfd, af->tmpname, af->dirfd, af->name) == -1)
		goto fail;
	atomic_untrack(af->slot);
	af->slot = -1;
	af->tmpname[0] = '\0';
	return io_fsync_dir(af->dirfd, af->name);
fail:
	atomic_abort(af);
	return -1;
}

void
atomic_abort(struct atomic_file *af)
{
	int saved = errno;

	if (af->fp != NULL) {
		fclose(af->fp);
		af->fp = NULL;
	}
	if (af->fd != -1) {
		close(af->fd);
		af->fd = -1;
	}
	if (af->tmpname[0] != '\0') {
		(void)unlinkat(af->dirfd, af->tmpname, 0);
		af->tmpname[0] = '\0';
	}
	atomic_untrack(af->slot);
	af->slot = -1;
	errno = saved;
}

int
atomic_write_file(int dirfd, const char *name, const void *buf, size_t len,
    mode_t mode)
{
	struct atomic_file af;

	if (atomic_open(&af, dirfd, name, mode) == -1)
		return -1;
	if (atomic_write(&af, buf, len) == -1) {
		atomic_abort(&af);
		return -1;
	}
	return atomic_commit(&af);
}

int
atomic_open_parent(const char *path, char *base, size_t len)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash != NULL ? slash + 1 : path;
	char shown[PATH_SHOW_LEN], *dir;
	int fd;

	if (*name == '\0' || strlen(name) >= len)
		return err_set("'%s': not a file name",
		    path_show(path, shown, sizeof(shown)));
	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return err_nomem();
	memcpy(base, name, strlen(name) + 1);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		err_sys("cannot open directory '%s'",
		    path_show(dir, shown, sizeof(shown)));
	free(dir);
	return fd;
}
