/* Counting allocator with failure injection (see alloc.h). */
#include "core/alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static atomic_long alloc_live;
static atomic_long fail_after = -1; /* calls left before failing; -1 off */
static atomic_long fail_count;      /* failures still to inject */

static int alloc_should_fail(void)
{
    long left;

    if (atomic_load(&fail_count) <= 0) {
        return 0;
    }
    left = atomic_fetch_sub(&fail_after, 1);
    if (left > 0) {
        return 0;
    }
    if (atomic_fetch_sub(&fail_count, 1) > 0) {
        return 1;
    }
    return 0;
}

void *tdei_malloc(size_t size)
{
    void *ptr;

    if (alloc_should_fail()) {
        return NULL;
    }
    ptr = malloc(size == 0 ? 1 : size);
    if (ptr != NULL) {
        atomic_fetch_add(&alloc_live, 1);
    }
    return ptr;
}

void *tdei_calloc(size_t count, size_t size)
{
    void *ptr;

    if (size != 0 && count > SIZE_MAX / size) {
        return NULL;
    }
    ptr = tdei_malloc(count * size);
    if (ptr != NULL) {
        memset(ptr, 0, count * size == 0 ? 1 : count * size);
    }
    return ptr;
}

void *tdei_realloc(void *ptr, size_t size)
{
    void *moved;

    if (ptr == NULL) {
        return tdei_malloc(size);
    }
    if (alloc_should_fail()) {
        return NULL;
    }
    moved = realloc(ptr, size == 0 ? 1 : size);
    return moved;
}

char *tdei_strdup(const char *s)
{
    size_t len = strlen(s);
    char *copy = tdei_malloc(len + 1);

    if (copy != NULL) {
        memcpy(copy, s, len + 1);
    }
    return copy;
}

void tdei_free(void *ptr)
{
    if (ptr == NULL) {
        return;
    }
    atomic_fetch_sub(&alloc_live, 1);
    free(ptr);
}

long tdei_alloc_live(void)
{
    return atomic_load(&alloc_live);
}

void tdei_alloc_fail_inject(long after, long count)
{
    atomic_store(&fail_after, after);
    atomic_store(&fail_count, count);
}
