/* Timing BIP-340 tx verifications on worker threads (verify_rate.h). */
#include "verify_rate.h"

#include "core/alloc.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/keys.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#define VERIFY_RATE_KEYS 8u

/* One signed tx: the serialized body, its signature and signer. */
struct rate_tx
{
    uint8_t *body; /* serialized TxBody, tdei_malloc'd */
    size_t body_len;
    uint8_t sig[TDEI_SIG_SIZE];
    const uint8_t *signer; /* 32 bytes, in rate_run.keys */
};

struct rate_worker
{
    uv_thread_t thread;
    struct rate_run *run;
    size_t first;      /* where this worker starts in run->txs */
    uint64_t verified; /* checks done */
    int failed;        /* 1: a signature did not verify */
};

struct rate_run
{
    struct tdei_keypair keys[VERIFY_RATE_KEYS];
    struct rate_tx *txs;
    size_t txs_count;
    atomic_int stop; /* 1: workers return */
};

static uint64_t rate_now_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int rate_tx_make(struct rate_run *run, size_t index)
{
    static char to[] = "acme-steel";
    static char memo[] = "bench";
    static char chain[] = "tdei-bench";
    const struct tdei_keypair *kp = &run->keys[index % VERIFY_RATE_KEYS];
    struct rate_tx *tx = &run->txs[index];
    Tdei__Transfer tr = TDEI__TRANSFER__INIT;
    Tdei__TxBody body = TDEI__TX_BODY__INIT;

    tr.to = to;
    tr.amount = 1 + index;
    tr.memo = memo;
    body.version = CODEC_VERSION;
    body.chain_id = chain;
    body.signer.len = TDEI_PUBKEY_SIZE;
    body.signer.data = (uint8_t *)(uintptr_t)kp->pubkey;
    body.nonce = 1 + index / VERIFY_RATE_KEYS;
    body.op_case = TDEI__TX_BODY__OP_TRANSFER;
    body.transfer = &tr;
    if (codec_txbody_encode(&body, &tx->body, &tx->body_len) != 0) {
        return TDEI_NOMEM;
    }
    tx->signer = kp->pubkey;
    return tdei_sign_tagged(tx->sig, kp, TDEI_TAG_TX, tx->body, tx->body_len);
}

static void rate_worker_main(void *arg)
{
    struct rate_worker *w = arg;
    const struct rate_run *run = w->run;
    size_t i = w->first;

    while (!atomic_load_explicit(&w->run->stop, memory_order_relaxed)) {
        const struct rate_tx *tx = &run->txs[i];

        if (tdei_verify_tagged(tx->sig, tx->signer, TDEI_TAG_TX, tx->body,
                               tx->body_len) != 0) {
            w->failed = 1;
            return;
        }
        w->verified++;
        i = (i + 1) % run->txs_count;
    }
}

/* Keys and signed txs of @run (txs_count set, txs allocated). */
static int rate_prepare(struct rate_run *run)
{
    for (size_t k = 0; k < VERIFY_RATE_KEYS; k++) {
        if (tdei_keypair_generate(&run->keys[k]) != 0) {
            return TDEI_CRYPTO;
        }
    }
    for (size_t i = 0; i < run->txs_count; i++) {
        int rc = rate_tx_make(run, i);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* Run @threads workers of @run for @duration_ms; sums into @out. */
static int rate_time(struct rate_run *run, struct rate_worker *workers,
                     unsigned threads, uint64_t duration_ms,
                     struct verify_rate *out)
{
    uint64_t start = rate_now_ns();
    unsigned started = 0;
    int failed = 0;

    for (; started < threads; started++) {
        workers[started].run = run;
        workers[started].first = (size_t)started * run->txs_count / threads;
        if (uv_thread_create(&workers[started].thread, rate_worker_main,
                             &workers[started]) != 0) {
            break;
        }
    }
    if (started == threads) {
        uv_sleep((unsigned)duration_ms);
    }
    atomic_store(&run->stop, 1);
    for (unsigned t = 0; t < started; t++) {
        (void)uv_thread_join(&workers[t].thread);
        out->verified += workers[t].verified;
        failed |= workers[t].failed;
    }
    out->elapsed_ns = rate_now_ns() - start;
    if (started != threads) {
        return TDEI_CRYPTO;
    }
    return failed ? TDEI_BADSIG : 0;
}

int verify_rate_measure(unsigned threads, unsigned txs_count,
                        uint64_t duration_ms, struct verify_rate *out)
{
    struct rate_run *run;
    struct rate_worker *workers;
    int rc = TDEI_NOMEM;

    TDEI_ASSERT(threads >= 1 && threads <= VERIFY_RATE_THREADS_MAX);
    TDEI_ASSERT(txs_count >= 1 && txs_count <= VERIFY_RATE_TXS_MAX);
    TDEI_ASSERT(duration_ms >= 1);
    memset(out, 0, sizeof(*out));
    run = tdei_calloc(1, sizeof(*run));
    workers = tdei_calloc(threads, sizeof(*workers));
    if (run != NULL) {
        run->txs_count = txs_count;
        run->txs = tdei_calloc(txs_count, sizeof(*run->txs));
    }
    if (run != NULL && run->txs != NULL && workers != NULL) {
        rc = rate_prepare(run);
        if (rc == 0) {
            rc = rate_time(run, workers, threads, duration_ms, out);
        }
    }
    for (size_t i = 0; run != NULL && run->txs != NULL && i < txs_count; i++) {
        tdei_free(run->txs[i].body);
    }
    if (run != NULL) {
        for (size_t k = 0; k < VERIFY_RATE_KEYS; k++) {
            tdei_keypair_wipe(&run->keys[k]);
        }
        tdei_free(run->txs);
    }
    tdei_free(run);
    tdei_free(workers);
    if (rc != 0) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    out->threads = threads;
    out->per_sec = out->verified * 1000000000u / out->elapsed_ns;
    out->per_sec_core = out->per_sec / threads;
    return 0;
}
