/* Small file helpers shared by the modules that write files durably (key
 * files, exported payloads). Pointers are non-NULL. */
#ifndef TDEI_CORE_FILEIO_H
#define TDEI_CORE_FILEIO_H

#include <stddef.h>

/* Write all @len bytes of @buf to @fd, retrying on EINTR.
 * Returns: 0, or an errno value (EIO when write makes no progress). */
int tdei_write_all(int fd, const void *buf, size_t len);

/* Best effort: fsync the directory holding @path, so that a file just
 * created or renamed there survives a crash. Failures are not reported:
 * the file itself is complete and synced by then. */
void tdei_sync_parent_dir(const char *path);

/* Take the exclusive lock of a store directory: open (creating it, mode
 * 0600, never through a symbolic link) the file @name in @dir, flock it
 * without waiting and write this process's pid into it. The lock lasts
 * while the descriptor is open; closing it releases the lock.
 * Returns: 0; TDEI_INVAL (the path is longer than PATH_MAX); TDEI_LOCKED
 * (another open descriptor holds it, in this process or another: errmsg
 * names @what, @dir and the pid written there); TDEI_PERM; TDEI_NOSPACE;
 * TDEI_IOERR. errmsg is TDEI_ERRMSG_SIZE bytes.
 * Out: @fd_out: the locked file on 0, -1 otherwise. */
int tdei_dir_lock(const char *dir, const char *name, const char *what,
                  int *fd_out, char *errmsg);

#endif
