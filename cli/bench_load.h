/* The load of `tdei bench` (DESIGN.md section 12): pre-signed txs
 * submitted with wait-for-commit over several API connections per node,
 * at a fixed offered rate or as fast as they are taken, each connection
 * on its own thread with a bounded number of submits in flight.
 * Pointers are non-NULL unless stated. */
#ifndef TDEI_CLI_BENCH_LOAD_H
#define TDEI_CLI_BENCH_LOAD_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_LOAD_CONNS_PER_NODE 8u /* API connections per node */
#define BENCH_LOAD_INFLIGHT_MAX                                                \
    48u                           /* submits in flight per connection          \
                                     (the API allows 64); per node 8 x 48      \
                                     stays under mempool.max_per_signer        \
                                     and nonce_window (1000) */
#define BENCH_LOAD_WAIT_MS 10000u /* each submit's wait for its commit */
/* Refusals are counted per code: slot k for TDEI_* code 1000 + k
 * (k = 1..BENCH_LOAD_CODES-1), slot 0 for any other. */
#define BENCH_LOAD_CODES 128u

/* One pre-signed tx. */
struct bench_tx
{
    uint8_t *bytes; /* serialized Tx, tdei_malloc'd */
    size_t len;
};

/* What to run. Txs are in offered order: tx k is due at k / rate_tps s
 * and goes to node k % node_count (its signer's node). */
struct bench_load
{
    const struct bench_tx *txs; /* borrowed for bench_load_run */
    size_t tx_count;
    const char *const *apis; /* API address of each node, borrowed */
    size_t node_count;       /* 1..16 */
    uint64_t rate_tps;       /* offered tx/s; 0: as fast as taken */
    uint64_t duration_ms;    /* no submit starts after this */
};

/* What happened. */
struct bench_result
{
    uint64_t submitted;     /* submits sent */
    uint64_t committed;     /* answered: committed in a block */
    uint64_t refused;       /* answered with another error code */
    uint64_t retried;       /* sends again after a "not now" answer */
    uint64_t refused_codes[BENCH_LOAD_CODES]; /* refused, by code */
    uint64_t failed;        /* connection lost or never answered */
    uint64_t elapsed_us;    /* from the first send to the last answer */
    uint64_t *latencies_us; /* committed of them, sorted; tdei_malloc'd */
};

/* Run @load, blocking until every submit is answered or
 * BENCH_LOAD_WAIT_MS after the last one was sent.
 * Returns: 0 or TDEI_NOMEM / TDEI_CRYPTO (a thread could not start).
 * Out: result (free result->latencies_us with tdei_free). */
int bench_load_run(const struct bench_load *load, struct bench_result *result);

#endif
