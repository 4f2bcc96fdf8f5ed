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

#endif
