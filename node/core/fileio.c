/* Small file helpers (fileio.h). */
#include "core/fileio.h"

#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

int tdei_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    size_t done = 0;

    while (done < len) { /* bounded: each round writes >= 1 byte or ends */
        ssize_t n = write(fd, p + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? errno : EIO;
        }
        done += (size_t)n;
    }
    return 0;
}

void tdei_sync_parent_dir(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t len;
    int fd;

    if (slash == NULL) {
        memcpy(dir, ".", 2);
    } else {
        len = slash == path ? 1 : (size_t)(slash - path);
        if (len >= sizeof(dir)) {
            return;
        }
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        (void)close(fd);
    }
}

/* The pid written in the lock file @fd; -1 when there is none. */
static long dir_lock_pid(int fd)
{
    char text[32];
    char *end = NULL;
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    long pid;

    if (n <= 0) {
        return -1;
    }
    text[n] = '\0';
    errno = 0;
    pid = strtol(text, &end, 10);
    if (errno != 0 || end == text || pid <= 0) {
        return -1;
    }
    return pid;
}

static int dir_lock_code(int err)
{
    switch (err) {
    case EACCES:
    case EPERM:
        return TDEI_PERM;
    case ENOSPC:
    case EDQUOT:
        return TDEI_NOSPACE;
    default:
        return TDEI_IOERR;
    }
}

int tdei_dir_lock(const char *dir, const char *name, const char *what,
                  int *fd_out, char *errmsg)
{
    char path[PATH_MAX];
    char text[32];
    long pid;
    int fd;
    int len;

    *fd_out = -1;
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
        (int)sizeof(path)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "%s path %s is too long; choose a shorter home",
                           what, dir);
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int err = errno;
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, dir_lock_code(err),
                           "open lock file %s: %s", path, strerror(err));
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        if (err != EWOULDBLOCK) {
            (void)close(fd);
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                               "lock %s: %s", path, strerror(err));
        }
        pid = dir_lock_pid(fd);
        (void)close(fd);
        if (pid < 0) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_LOCKED,
                               "%s %s is in use by another process (pid "
                               "unknown); stop it first",
                               what, dir);
        }
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_LOCKED,
                           "%s %s is in use by another process (pid %ld); "
                           "stop it first",
                           what, dir, pid);
    }
    len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 ||
        pwrite(fd, text, (size_t)len, 0) != (ssize_t)len) {
        int err = errno;
        (void)close(fd); /* releases the lock */
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, dir_lock_code(err),
                           "write pid to %s: %s", path, strerror(err));
    }
    *fd_out = fd;
    return 0;
}
