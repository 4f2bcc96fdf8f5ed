/* The signature-verification bound of DESIGN.md section 12, measured on
 * this machine: how many BIP-340 tx signatures one core checks per
 * second, each check exactly what mempool admission does (BIP-340 over
 * tagged_hash("tdei/tx", body) under TxBody.signer).
 *
 * Shared by `tdei bench` and tests/bench/bench_verify so that both
 * report the same quantity. Pointers are non-NULL unless stated. */
#ifndef TDEI_CLI_VERIFY_RATE_H
#define TDEI_CLI_VERIFY_RATE_H

#include <stdint.h>

#define VERIFY_RATE_THREADS_MAX 256u /* worker threads at most */
#define VERIFY_RATE_TXS_MAX 100000u  /* distinct signed txs at most */

/* What one measurement saw. */
struct verify_rate
{
    uint64_t verified;     /* signatures checked, every thread */
    uint64_t elapsed_ns;   /* wall time of the checking, ns */
    unsigned threads;      /* threads that checked */
    uint64_t per_sec;      /* verified per second, rounded down */
    uint64_t per_sec_core; /* per_sec / threads */
};

/* Sign @txs_count transfer txs with a few fresh keys (not timed), then
 * verify them round-robin on @threads threads for @duration_ms.
 * Returns: 0; TDEI_NOMEM; TDEI_CRYPTO (a key could not be made, a
 * thread not started); TDEI_BADSIG (a signature did not verify: the
 * crypto library is broken). On error *@out is zeroed.
 * In:  threads 1..VERIFY_RATE_THREADS_MAX, txs_count
 *      1..VERIFY_RATE_TXS_MAX, duration_ms >= 1 (asserted).
 * Thread: blocks the caller for about @duration_ms. */
int verify_rate_measure(unsigned threads, unsigned txs_count,
                        uint64_t duration_ms, struct verify_rate *out);

#endif
