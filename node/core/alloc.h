/* tdei_malloc and friends: every allocation of the node goes through here.
 *
 * The wrappers count live blocks so that tests fail on leaks, and can be
 * told to fail on the Nth call so that tests reach every out-of-memory
 * path. Counters are atomic: worker threads may allocate too. Memory is
 * never zero-size: a request for 0 bytes allocates 1.
 * Pointers are non-NULL unless stated. */
#ifndef TDEI_CORE_ALLOC_H
#define TDEI_CORE_ALLOC_H

#include <stddef.h>

/* Allocate @size bytes. Returns NULL when out of memory (or when an
 * injected failure fires). Free with tdei_free. */
void *tdei_malloc(size_t size);

/* Allocate @count * @size zeroed bytes. Returns NULL on overflow of the
 * product or when out of memory. */
void *tdei_calloc(size_t count, size_t size);

/* Resize @ptr (may be NULL) to @size bytes. On NULL return the old block is
 * untouched and still owned by the caller; on success the old pointer is
 * dead. */
void *tdei_realloc(void *ptr, size_t size);

/* Copy the NUL-terminated @s into new memory. Returns NULL when out of
 * memory. */
char *tdei_strdup(const char *s);

/* Release @ptr, which may be NULL. */
void tdei_free(void *ptr);

/* The number of blocks allocated and not yet freed (tests check it is back
 * to its starting value at teardown). */
long tdei_alloc_live(void);

/* Make the allocation @after calls from now fail (0 = the next one), and
 * the @count calls after it too; count 0 disables injection. Tests only. */
void tdei_alloc_fail_inject(long after, long count);

#endif
