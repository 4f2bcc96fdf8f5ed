/* bench_blob: the payload layer's throughput (node/blob).
 *
 * Writes a random file of --size-mib MiB (default 64), imports it into a
 * fresh blobs store (seal, two passes, durable commits), exports it again
 * (decrypt, root check, fsync, rename), and checks every chunk against the
 * content root with its inclusion proof for --rounds rounds (default 8),
 * as a consumer does before storing. Prints one JSON object: import and
 * export MB/s (MB = 10^6 bytes), chunk checks per second, and the sizes.
 *
 *   bench_blob [--size-mib N] [--rounds N]
 *
 * Works in a fresh directory under $TMPDIR (or /tmp), removed afterwards.
 * Exit status: 0, 1 on an error, 2 on bad arguments. */
#define _XOPEN_SOURCE 700
#include "bench_util.h"
#include "blob/blob.h"
#include "core/error.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bench_chunk
{
    uint8_t sealed[BLOB_SEALED_SIZE_MAX];
    size_t len;
    struct merkle_inclusion proof;
};

static int bench_write_file(const char *path, uint64_t size)
{
    static uint8_t buf[1 << 20];
    FILE *f = fopen(path, "wb");
    uint64_t done = 0;

    if (f == NULL) {
        perror("bench_blob: create payload");
        return 1;
    }
    while (done < size) {
        size_t n = size - done < sizeof(buf) ? (size_t)(size - done)
                                             : sizeof(buf);
        randombytes_buf(buf, n);
        if (fwrite(buf, 1, n, f) != n) {
            perror("bench_blob: write payload");
            (void)fclose(f);
            return 1;
        }
        done += n;
    }
    return fclose(f) == 0 ? 0 : 1;
}

static double bench_mb_s(uint64_t bytes, uint64_t us)
{
    return us == 0 ? 0.0 : (double)bytes / (double)us; /* 10^6 B per 10^6 us */
}

static int bench_run(const char *tmp, uint64_t size, unsigned rounds)
{
    char payload[4200];
    char dir[4200];
    char out[4200];
    char errmsg[TDEI_ERRMSG_SIZE];
    struct blob_store *s = NULL;
    struct bench_chunk *chunks = NULL;
    uint8_t key[BLOB_KEY_SIZE];
    uint8_t root[BLOB_ROOT_SIZE];
    uint64_t got_size = 0;
    uint64_t count = 0;
    uint64_t t0, t_import, t_export, t_check;
    uint64_t checks = 0;
    int rc;

    (void)snprintf(payload, sizeof(payload), "%s/payload", tmp);
    (void)snprintf(dir, sizeof(dir), "%s/blobs", tmp);
    (void)snprintf(out, sizeof(out), "%s/out", tmp);
    if (bench_write_file(payload, size) != 0) {
        return 1;
    }
    rc = blob_store_open(&s, dir, 4ull * size + (64u << 20), errmsg);
    if (rc == 0) {
        t0 = bench_now_us();
        rc = blob_import_file(s, payload, "bench", 1, key, root, &got_size,
                              &count, errmsg);
        t_import = bench_now_us() - t0;
    }
    if (rc == 0) {
        t0 = bench_now_us();
        rc = blob_export_file(s, root, key, out, errmsg);
        t_export = bench_now_us() - t0;
    }
    if (rc == 0) {
        chunks = calloc((size_t)count, sizeof(*chunks));
        rc = chunks == NULL ? TDEI_NOMEM : 0;
    }
    for (uint64_t i = 0; rc == 0 && i < count; i++) {
        rc = blob_get_chunk(s, root, i, chunks[i].sealed, &chunks[i].len,
                            &chunks[i].proof, errmsg);
    }
    if (rc == 0) {
        t0 = bench_now_us();
        for (unsigned r = 0; rc == 0 && r < rounds; r++) {
            for (uint64_t i = 0; rc == 0 && i < count; i++) {
                rc = blob_chunk_check(root, count, i, chunks[i].sealed,
                                      chunks[i].len, &chunks[i].proof,
                                      errmsg);
                checks++;
            }
        }
        t_check = bench_now_us() - t0;
    }
    blob_store_close(s);
    free(chunks);
    sodium_memzero(key, sizeof(key));
    if (rc != 0) {
        fprintf(stderr, "bench_blob: %s: %s\n", tdei_errname(rc), errmsg);
        return 1;
    }
    printf("{\"bench\":\"blob\",\"size_bytes\":%" PRIu64
           ",\"chunks\":%" PRIu64 ",\"import_mb_s\":%.1f"
           ",\"export_mb_s\":%.1f,\"chunk_checks\":%" PRIu64
           ",\"chunk_checks_per_s\":%.0f,\"check_mb_s\":%.1f}\n",
           got_size, count, bench_mb_s(got_size, t_import),
           bench_mb_s(got_size, t_export), checks,
           t_check == 0 ? 0.0 : (double)checks * 1e6 / (double)t_check,
           bench_mb_s(got_size * rounds, t_check));
    return 0;
}

int main(int argc, char **argv)
{
    unsigned size_mib = 64;
    unsigned rounds = 8;
    char tmp[4096];
    const char *base = getenv("TMPDIR");
    int rc;

    for (int i = 1; i < argc; i += 2) {
        unsigned *target = strcmp(argv[i], "--size-mib") == 0 ? &size_mib
                           : strcmp(argv[i], "--rounds") == 0 ? &rounds
                                                              : NULL;
        if (target == NULL || i + 1 >= argc ||
            bench_parse_uint(argv[i + 1], 1, 4096, target) != 0) {
            fprintf(stderr, "usage: bench_blob [--size-mib 1-4096] "
                            "[--rounds 1-4096]\n");
            return 2;
        }
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "bench_blob: sodium_init failed\n");
        return 1;
    }
    (void)snprintf(tmp, sizeof(tmp), "%s/bench_blob.XXXXXX",
                   base != NULL && base[0] != '\0' ? base : "/tmp");
    if (mkdtemp(tmp) == NULL) {
        perror("bench_blob: mkdtemp");
        return 1;
    }
    rc = bench_run(tmp, (uint64_t)size_mib << 20, rounds);
    bench_rmtree(tmp);
    return rc;
}
