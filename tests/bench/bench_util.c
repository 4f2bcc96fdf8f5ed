/* Helpers shared by the benchmark programs (see bench_util.h). */
#define _XOPEN_SOURCE 700
#include "bench_util.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

uint64_t bench_now_us(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int bench_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

int bench_parse_uint(const char *text, unsigned min, unsigned max,
                     unsigned *out)
{
    char *end = NULL;
    unsigned long v = strtoul(text, &end, 10);

    if (end == text || *end != '\0' || v < min || v > max) {
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void bench_rmtree(const char *path)
{
    (void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
