/* Helpers shared by the benchmark programs of tests/bench/. */
#ifndef TDEI_TESTS_BENCH_UTIL_H
#define TDEI_TESTS_BENCH_UTIL_H

#include <stdint.h>

/* A monotonic clock in microseconds. */
uint64_t bench_now_us(void);

/* qsort comparator of uint64_t values, ascending. */
int bench_cmp_u64(const void *a, const void *b);

/* Parse decimal @text into *@out when it lies in [@min, @max]. Returns 0,
 * or -1 (nothing written) for anything else. */
int bench_parse_uint(const char *text, unsigned min, unsigned max,
                     unsigned *out);

/* Remove @path and everything under it (a benchmark's scratch
 * directory), without following links. */
void bench_rmtree(const char *path);

#endif
