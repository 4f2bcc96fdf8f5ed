/* bench_verify: the signature-verification bound (DESIGN.md section 12).
 *
 * Signs --txs transfer txs with a few operator keys, then verifies them
 * round-robin on --threads threads (default: the available parallelism)
 * for --seconds seconds, each check exactly what mempool admission does:
 * BIP-340 over tagged_hash("tdei/tx", body) under TxBody.signer. Prints
 * JSON: {"verify_per_sec_per_core": N, "cores": C, ...}, where N is the
 * total rate divided by C, so tx/s over (N x C / nodes) is a ratio that
 * holds on any machine. The measurement is cli/verify_rate.c, the same
 * one `tdei bench` makes.
 *
 *   bench_verify [--threads C] [--seconds S] [--txs N]
 *
 * Exit status: 0, 1 on a crypto or codec failure, 2 on bad arguments. */
#include "cli/verify_rate.h"
#include "core/error.h"
#include "core/keys.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define BENCH_SECONDS_MAX 600u

static int bench_arg(const char *name, const char *value, unsigned max,
                     unsigned *out)
{
    char *end = NULL;
    unsigned long v;

    if (value == NULL) {
        fprintf(stderr, "bench_verify: %s needs a value\n", name);
        return 2;
    }
    v = strtoul(value, &end, 10);
    if (*value == '\0' || *end != '\0' || v < 1 || v > max) {
        fprintf(stderr, "bench_verify: %s=%s is outside 1-%u\n", name, value,
                max);
        return 2;
    }
    *out = (unsigned)v;
    return 0;
}

int main(int argc, char **argv)
{
    unsigned threads = uv_available_parallelism();
    unsigned seconds = 2, txs_count = 1024;
    struct verify_rate rate;
    int rc;

    for (int i = 1; i < argc; i += 2) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(argv[i], "--threads") == 0) {
            rc = bench_arg(argv[i], value, VERIFY_RATE_THREADS_MAX, &threads);
        } else if (strcmp(argv[i], "--seconds") == 0) {
            rc = bench_arg(argv[i], value, BENCH_SECONDS_MAX, &seconds);
        } else if (strcmp(argv[i], "--txs") == 0) {
            rc = bench_arg(argv[i], value, VERIFY_RATE_TXS_MAX, &txs_count);
        } else {
            fprintf(stderr, "usage: bench_verify [--threads C] "
                            "[--seconds S] [--txs N]\n");
            return 2;
        }
        if (rc != 0) {
            return rc;
        }
    }
    if (threads > VERIFY_RATE_THREADS_MAX) {
        threads = VERIFY_RATE_THREADS_MAX;
    }
    if (tdei_crypto_init() != 0) {
        fprintf(stderr, "bench_verify: crypto init failed\n");
        return 1;
    }
    rc = verify_rate_measure(threads, txs_count, (uint64_t)seconds * 1000u,
                             &rate);
    if (rc != 0) {
        fprintf(stderr, "bench_verify: %s\n", tdei_strerror(rc));
        return 1;
    }
    printf("{\"verify_per_sec_per_core\": %" PRIu64
           ", \"cores\": %u, \"verify_per_sec\": %" PRIu64
           ", \"verified\": %" PRIu64 ", \"elapsed_ms\": %" PRIu64
           ", \"txs\": %u}\n",
           rate.per_sec_core, threads, rate.per_sec, rate.verified,
           rate.elapsed_ns / 1000000u, txs_count);
    return 0;
}
