/* bench_store: the cost of one durable block commit (DESIGN.md section 12).
 *
 * Commits --blocks synthetic blocks, each one write batch shaped like a
 * real block: the block bytes, its id, and per tx a location, a result,
 * two state records and an index entry, plus the height in meta. Prints
 * JSON: commit latency p50/p95/p99/max in microseconds, blocks and txs per
 * second, bytes per block, and the store's map statistics.
 *
 *   bench_store [--dir DIR] [--blocks N] [--txs N] [--value-size BYTES]
 *
 * Without --dir it uses a fresh directory under $TMPDIR (or /tmp) and
 * removes it afterwards. Exit status: 0, 1 on a store error, 2 on bad
 * arguments. */
#define _XOPEN_SOURCE 700
#include "bench_util.h"
#include "core/alloc.h"
#include "core/error.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_BLOCKS_MAX 100000u
#define BENCH_TXS_MAX 10000u   /* TDEI_BLOCK_TXS_MAX */
#define BENCH_VALUE_MAX 65536u /* TDEI_TX_SIZE_MAX */
#define BENCH_TX_SIZE 300u     /* bytes of a serialized tx in the block */
#define BENCH_RESULT_SIZE 48u  /* code + history heads */

struct bench_args
{
    const char *dir;     /* NULL: a temporary directory */
    unsigned blocks;     /* blocks to commit */
    unsigned txs;        /* txs per block */
    unsigned value_size; /* bytes per state record */
};

/* Fill @buf with bytes derived from (@a, @b): cheap, not random. */
static void bench_fill(uint8_t *buf, size_t len, uint64_t a, uint64_t b)
{
    uint64_t x = (a + 1) * 0x9e3779b97f4a7c15u ^ (b + 1);

    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (uint8_t)x;
    }
}

static int bench_args_parse(struct bench_args *args, int argc, char **argv)
{
    args->dir = NULL;
    args->blocks = 200;
    args->txs = 1000;
    args->value_size = 200;
    for (int i = 1; i < argc; i += 2) {
        const char *opt = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            return -1;
        }
        if (val == NULL) {
            fprintf(stderr, "bench_store: %s needs a value\n", opt);
            return -1;
        }
        if (strcmp(opt, "--dir") == 0) {
            args->dir = val;
        } else if (strcmp(opt, "--blocks") == 0) {
            rc = bench_parse_uint(val, 1, BENCH_BLOCKS_MAX, &args->blocks);
        } else if (strcmp(opt, "--txs") == 0) {
            rc = bench_parse_uint(val, 1, BENCH_TXS_MAX, &args->txs);
        } else if (strcmp(opt, "--value-size") == 0) {
            rc = bench_parse_uint(val, 1, BENCH_VALUE_MAX, &args->value_size);
        } else {
            fprintf(stderr, "bench_store: unknown option %s\n", opt);
            return -1;
        }
        if (rc != 0) {
            fprintf(stderr, "bench_store: %s=%s is out of range\n", opt, val);
            return -1;
        }
    }
    return 0;
}

/* Add block @h to @b. */
static int bench_block(struct store_batch *b, const struct bench_args *args,
                       uint64_t h, uint8_t *block, uint8_t *value)
{
    size_t block_size = (size_t)args->txs * BENCH_TX_SIZE;
    uint8_t key[64];
    uint8_t loc[STORE_TX_LOCATION_SIZE];
    int rc;

    store_u64_encode(key, h);
    bench_fill(block, block_size, h, 0);
    rc = store_batch_put(b, STORE_DB_BLOCKS, key, 8, block, block_size);
    bench_fill(key, STORE_ID_SIZE, h, 1);
    store_u64_encode(loc, h);
    rc = rc != 0 ? rc : store_batch_put(b, STORE_DB_BLOCK_IDS, key, 32, loc, 8);
    for (uint32_t i = 0; i < args->txs && rc == 0; i++) {
        int klen;
        store_u64_encode(loc, h);
        store_u32_encode(loc + 8, i);
        bench_fill(key, STORE_ID_SIZE, h, 2 + i);
        rc = store_batch_put(b, STORE_DB_TXS, key, 32, loc, sizeof(loc));
        bench_fill(value, BENCH_RESULT_SIZE, h, i);
        rc = rc != 0 ? rc
                     : store_batch_put(b, STORE_DB_RESULTS, loc, sizeof(loc),
                                       value, BENCH_RESULT_SIZE);
        for (unsigned k = 0; k < 2 && rc == 0; k++) {
            /* state keys spread over a working set of 100k objects */
            klen = snprintf((char *)key, sizeof(key), "obj/%08" PRIu64 "/%u",
                            (h * args->txs + i) * 7919u % 100000u, k);
            bench_fill(value, args->value_size, h, i + k);
            rc = store_batch_put(b, STORE_DB_STATE, key, (size_t)klen, value,
                                 args->value_size);
        }
        if (rc == 0) {
            klen =
                snprintf((char *)key, sizeof(key), "ev/%08" PRIu64 "/%u", h, i);
            rc = store_batch_put(b, STORE_DB_INDEX, key, (size_t)klen, loc,
                                 sizeof(loc));
        }
    }
    return rc != 0 ? rc : store_meta_put_u64(b, "height", h);
}

static int bench_run(const struct bench_args *args, const char *dir)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct store *s = NULL;
    struct store_batch *b = NULL;
    struct store_read *r = NULL;
    struct store_stats st;
    uint64_t *lat = tdei_calloc(args->blocks, sizeof(*lat));
    uint8_t *block = tdei_malloc((size_t)args->txs * BENCH_TX_SIZE);
    uint8_t *value = tdei_malloc(args->value_size + BENCH_RESULT_SIZE);
    uint64_t total_us = 0;
    size_t bytes = 0;
    int rc = TDEI_NOMEM;

    if (lat == NULL || block == NULL || value == NULL) {
        goto out;
    }
    rc = store_open(&s, dir, NULL, errmsg);
    if (rc == 0) {
        rc = store_batch_create(&b, 256u << 20);
    }
    for (uint64_t h = 1; h <= args->blocks && rc == 0; h++) {
        uint64_t t0;
        store_batch_reset(b);
        rc = bench_block(b, args, h, block, value);
        if (rc != 0) {
            (void)snprintf(errmsg, sizeof(errmsg), "%s", store_batch_errmsg(b));
            break;
        }
        bytes = store_batch_bytes(b);
        t0 = bench_now_us();
        rc = store_commit(s, b, errmsg);
        lat[h - 1] = bench_now_us() - t0;
        total_us += lat[h - 1];
    }
    if (rc == 0) {
        rc = store_read_begin(s, &r, errmsg);
    }
    if (rc == 0) {
        rc = store_stats(r, &st);
        store_read_end(r);
    }
    if (rc != 0) {
        fprintf(stderr, "bench_store: %s: %s\n", tdei_errname(rc), errmsg);
        goto out;
    }
    qsort(lat, args->blocks, sizeof(*lat), bench_cmp_u64);
    printf("{\"blocks\": %u, \"txs_per_block\": %u, \"bytes_per_block\": %zu,"
           " \"commit_us\": {\"p50\": %" PRIu64 ", \"p95\": %" PRIu64
           ", \"p99\": %" PRIu64 ", \"max\": %" PRIu64 "},"
           " \"blocks_per_s\": %" PRIu64 ", \"txs_per_s\": %" PRIu64 ","
           " \"map_size\": %" PRIu64 ", \"bytes_used\": %" PRIu64
           ", \"growths\": %" PRIu64 "}\n",
           args->blocks, args->txs, bytes, lat[args->blocks / 2],
           lat[(size_t)args->blocks * 95 / 100],
           lat[(size_t)args->blocks * 99 / 100], lat[args->blocks - 1],
           (uint64_t)args->blocks * 1000000u / (total_us + 1),
           (uint64_t)args->blocks * args->txs * 1000000u / (total_us + 1),
           st.map_size, st.pages_used * st.page_size, st.growths);
out:
    store_batch_destroy(b);
    store_close(s);
    tdei_free(value);
    tdei_free(block);
    tdei_free(lat);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct bench_args args;
    char tmp[4096];
    char dir[4200];
    const char *base = getenv("TMPDIR");
    int rc;

    if (bench_args_parse(&args, argc, argv) != 0) {
        fprintf(stderr, "usage: bench_store [--dir DIR] [--blocks N] "
                        "[--txs N] [--value-size BYTES]\n");
        return 2;
    }
    if (args.dir != NULL) {
        return bench_run(&args, args.dir);
    }
    (void)snprintf(tmp, sizeof(tmp), "%s/tdei-bench-XXXXXX",
                   base != NULL ? base : "/tmp");
    if (mkdtemp(tmp) == NULL) {
        perror("bench_store: mkdtemp");
        return 1;
    }
    (void)snprintf(dir, sizeof(dir), "%s/ledger", tmp);
    rc = bench_run(&args, dir);
    bench_rmtree(tmp);
    return rc;
}
