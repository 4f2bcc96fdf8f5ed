/* bench_verify: the signature-verification bound (DESIGN.md section 12).
 *
 * Signs --txs transfer txs with a few operator keys, then verifies them
 * round-robin on --threads threads (default: the available parallelism)
 * for --seconds seconds, each check exactly what mempool admission does:
 * BIP-340 over tagged_hash("tdei/tx", body) under TxBody.signer. Prints
 * JSON: {"verify_per_sec_per_core": N, "cores": C, ...}, where N is the
 * total rate divided by C, so tx/s over (N x C / nodes) is a ratio that
 * holds on any machine.
 *
 *   bench_verify [--threads C] [--seconds S] [--txs N]
 *
 * Exit status: 0, 1 on a crypto or codec failure, 2 on bad arguments. */
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/keys.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#define BENCH_THREADS_MAX 256u
#define BENCH_TXS_MAX 100000u
#define BENCH_SECONDS_MAX 600u
#define BENCH_KEYS 8u

struct bench_tx
{
    uint8_t *body; /* serialized TxBody */
    size_t body_len;
    uint8_t sig[TDEI_SIG_SIZE];
    const uint8_t *signer; /* 32 bytes, in bench_keys */
};

struct bench_worker
{
    uv_thread_t thread;
    const struct bench_tx *txs;
    size_t txs_count;
    size_t first;      /* where this worker starts in txs */
    uint64_t verified; /* checks done */
    int failed;        /* 1: a signature did not verify */
};

static struct tdei_keypair bench_keys[BENCH_KEYS];
static atomic_int bench_stop;

static uint64_t bench_now_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int bench_make_tx(struct bench_tx *tx, size_t index)
{
    static char to[] = "acme-steel";
    static char memo[] = "bench";
    static char chain[] = "tdei-bench";
    const struct tdei_keypair *kp = &bench_keys[index % BENCH_KEYS];
    Tdei__Transfer tr = TDEI__TRANSFER__INIT;
    Tdei__TxBody body = TDEI__TX_BODY__INIT;

    tr.to = to;
    tr.amount = 1 + index;
    tr.memo = memo;
    body.version = 1;
    body.chain_id = chain;
    body.signer.len = TDEI_PUBKEY_SIZE;
    body.signer.data = (uint8_t *)kp->pubkey;
    body.nonce = 1 + index / BENCH_KEYS;
    body.op_case = TDEI__TX_BODY__OP_TRANSFER;
    body.transfer = &tr;
    if (codec_txbody_encode(&body, &tx->body, &tx->body_len) != 0) {
        return TDEI_NOMEM;
    }
    tx->signer = kp->pubkey;
    return tdei_sign_tagged(tx->sig, kp, TDEI_TAG_TX, tx->body, tx->body_len);
}

static void bench_worker_main(void *arg)
{
    struct bench_worker *w = arg;
    size_t i = w->first;

    while (!atomic_load_explicit(&bench_stop, memory_order_relaxed)) {
        const struct bench_tx *tx = &w->txs[i];

        if (tdei_verify_tagged(tx->sig, tx->signer, TDEI_TAG_TX, tx->body,
                               tx->body_len) != 0) {
            w->failed = 1;
            return;
        }
        w->verified++;
        i = (i + 1) % w->txs_count;
    }
}

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
    struct bench_tx *txs;
    struct bench_worker *workers;
    uint64_t start, elapsed_ns, total = 0;
    int failed = 0;

    for (int i = 1; i < argc; i += 2) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        int rc;

        if (strcmp(argv[i], "--threads") == 0) {
            rc = bench_arg(argv[i], value, BENCH_THREADS_MAX, &threads);
        } else if (strcmp(argv[i], "--seconds") == 0) {
            rc = bench_arg(argv[i], value, BENCH_SECONDS_MAX, &seconds);
        } else if (strcmp(argv[i], "--txs") == 0) {
            rc = bench_arg(argv[i], value, BENCH_TXS_MAX, &txs_count);
        } else {
            fprintf(stderr, "usage: bench_verify [--threads C] "
                            "[--seconds S] [--txs N]\n");
            return 2;
        }
        if (rc != 0) {
            return rc;
        }
    }
    if (threads > BENCH_THREADS_MAX) {
        threads = BENCH_THREADS_MAX;
    }
    if (tdei_crypto_init() != 0) {
        fprintf(stderr, "bench_verify: crypto init failed\n");
        return 1;
    }
    for (size_t k = 0; k < BENCH_KEYS; k++) {
        if (tdei_keypair_generate(&bench_keys[k]) != 0) {
            fprintf(stderr, "bench_verify: key generation failed\n");
            return 1;
        }
    }
    txs = tdei_calloc(txs_count, sizeof(*txs));
    workers = tdei_calloc(threads, sizeof(*workers));
    if (txs == NULL || workers == NULL) {
        fprintf(stderr, "bench_verify: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < txs_count; i++) {
        if (bench_make_tx(&txs[i], i) != 0) {
            fprintf(stderr, "bench_verify: signing tx %zu failed\n", i);
            return 1;
        }
    }

    start = bench_now_ns();
    for (unsigned t = 0; t < threads; t++) {
        workers[t].txs = txs;
        workers[t].txs_count = txs_count;
        workers[t].first = (size_t)t * txs_count / threads;
        if (uv_thread_create(&workers[t].thread, bench_worker_main,
                             &workers[t]) != 0) {
            fprintf(stderr, "bench_verify: thread start failed\n");
            return 1;
        }
    }
    uv_sleep(seconds * 1000u);
    atomic_store(&bench_stop, 1);
    for (unsigned t = 0; t < threads; t++) {
        (void)uv_thread_join(&workers[t].thread);
        total += workers[t].verified;
        failed |= workers[t].failed;
    }
    elapsed_ns = bench_now_ns() - start;
    if (failed) {
        fprintf(stderr, "bench_verify: a signature did not verify\n");
        return 1;
    }
    {
        /* Integer arithmetic: verifications per second, rounded down. */
        uint64_t per_sec = total * 1000000000u / elapsed_ns;

        printf("{\"verify_per_sec_per_core\": %" PRIu64
               ", \"cores\": %u, \"verify_per_sec\": %" PRIu64
               ", \"verified\": %" PRIu64 ", \"elapsed_ms\": %" PRIu64
               ", \"txs\": %u}\n",
               per_sec / threads, threads, per_sec, total,
               elapsed_ns / 1000000u, txs_count);
    }
    for (size_t i = 0; i < txs_count; i++) {
        tdei_free(txs[i].body);
    }
    tdei_free(txs);
    tdei_free(workers);
    return 0;
}
