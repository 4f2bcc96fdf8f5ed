/* Mempool: admission, signature verification, ordering and reaping of
 * pending transactions (DESIGN.md sections 1, 4 and 12).
 *
 * Admission. A serialized Tx (from the client API or p2p gossip) passes,
 * in this order: its size (params.tx_size_max), the codec (Tx, then TxBody:
 * version, known op, field rules), the chain id, the pending set (same tx
 * id: TDEI_DUPLICATE), the signer (an operator key of an active member,
 * asked of the committed state through struct mempool_state_ops), the
 * nonce (above the signer's committed nonce, at most mempool.nonce_window
 * ahead of it), the nonce slot (one pending tx per (signer, nonce): a
 * different body is refused, never replaces), the caps (per signer, total
 * count and total bytes) and last, the BIP-340 signature over
 * tagged_hash("tdei/tx", body). Every refusal has its own code and an
 * errmsg that echoes the value and names the limit or setting, and is
 * counted in the stats.
 *
 * Verification. mempool_submit runs the cheap checks at once and queues
 * the signature check on the libuv thread pool (uv_queue_work), so every
 * core verifies; when it completes, the checks that depend on state are
 * made again on the loop thread (a block may have committed, another tx
 * may have taken the nonce slot or the last free slot meanwhile) and the
 * callback reports the outcome. At most options.verify_inflight_max
 * verifications are queued or running; one more is refused at once with
 * TDEI_BUSY rather than held in a second queue (libuv's own queue is
 * unbounded, so this count is the bound; the client API and gossip retry).
 * A tx id that is being verified is already "pending": the same bytes
 * again are TDEI_DUPLICATE, the same body with other signature bytes is
 * TDEI_BUSY until the first copy is admitted or refused, so that a copy
 * with a bad signature cannot make the good one look like a duplicate.
 *
 * Signature cache. Every signature that verified is remembered, keyed by
 * SHA-256(tx id || sig), in a bounded FIFO (options.sig_cache_max
 * entries, by default twice mempool.max_txs) guarded by a mutex; block
 * execution asks mempool_sig_verified from any thread and skips the
 * verification on a hit. The key includes the signature because a body
 * can carry more than one valid signature and the Merkle leaf is the
 * whole Tx: a block must hold exactly the bytes that were checked.
 *
 * Ordering. Pending txs are kept per signer, sorted by nonce. The signers
 * are kept in the order in which each became pending (the arrival of the
 * first tx of a signer with no tx pending). mempool_reap takes, in that
 * order of signers, round-robin one tx per signer per pass, only
 * executable txs: a signer's txs from its committed nonce + 1 upward with
 * no gap (a nonce 3 waits until nonce 2 arrives). A tx that does not fit
 * the byte budget ends its signer's run (nonces cannot be skipped); the
 * other signers go on. Round-robin gives every member equal standing: a
 * signer with 1,000 pending txs cannot push the others out of a block.
 * The order is a function of the calls made on the mempool alone (no
 * clock, no randomness, no hash-table order).
 *
 * Complexity: admission and removal are O(1) expected hash-table work
 * plus O(k) for the signer's sorted array (k <= mempool.max_per_signer);
 * reap is O(signers + reaped); update is O(removed + k) per signer named.
 * Memory: tables are sized at creation from the options and never grow;
 * each pending tx is one allocation (its bytes and its entry).
 *
 * Threads: every function runs on the thread that owns the mempool (the
 * libuv loop thread when a loop is given), except mempool_sig_verified,
 * which any thread may call at any time. Pointers are non-NULL unless
 * stated. Each errmsg is a buffer of TDEI_ERRMSG_SIZE bytes; on error it
 * says what was wrong, echoes the value and names the limit.
 */
#ifndef TDEI_NODE_MEMPOOL_MEMPOOL_H
#define TDEI_NODE_MEMPOOL_MEMPOOL_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define MEMPOOL_ID_SIZE 32u  /* tx ids: SHA-256 of the body bytes */
#define MEMPOOL_KEY_SIZE 32u /* x-only operator keys */

/* Defaults of the options without a DESIGN.md section 4 entry. */
#define MEMPOOL_NONCE_WINDOW_DEFAULT 1000u    /* mempool.nonce_window */
#define MEMPOOL_VERIFY_INFLIGHT_DEFAULT 1024u /* verify_inflight_max */

/* Limits. The comment of each field names its config key (or param) and
 * its range, which mempool_options_check enforces. */
struct mempool_options
{
    uint64_t max_txs;             /* mempool.max_txs: pending txs, 1-10^7 */
    uint64_t max_bytes;           /* mempool.max_bytes: sum of serialized tx
                                     sizes, 1-2^36 and >= tx_size_max */
    uint64_t max_per_signer;      /* mempool.max_per_signer: 1-10^6 */
    uint64_t nonce_window;        /* mempool.nonce_window: a nonce may be at
                                     most this far above the committed one,
                                     1-10^6 */
    uint64_t tx_size_max;         /* params.tx_size_max: bytes per serialized
                                     Tx, 1-16 MiB */
    uint64_t verify_inflight_max; /* mempool.verify_inflight_max:
                                     verifications queued or running,
                                     1-65536 */
    uint64_t sig_cache_max;       /* mempool.sig_cache_max: cached signatures,
                                     0 (= 2 * max_txs) or 1-2^26 */
    uint8_t hash_key[16];         /* SipHash key of the lookup tables; the node
                                     fills it from its random source so that
                                     nobody can aim txs at one bucket. Affects
                                     no order and no output. */
};

/* The committed state the mempool reads, implemented by the node over the
 * store (tests: in memory). Called on the mempool's thread only. */
struct mempool_state_ops
{
    void *impl; /* the implementation's state, passed back */
    /* Look up the operator key @key (32 bytes).
     * Returns: 0 with *committed_nonce set to the nonce of the signer's
     * last committed tx (0 when none) when @key is an operator key of an
     * active member; TDEI_UNKNOWN_SIGNER when it is not (errmsg may be
     * left empty: the mempool writes its own); any other code when the
     * state cannot be read (errmsg says why; the mempool passes the code
     * on and refuses the tx). */
    int (*signer)(void *impl, const uint8_t *key, uint64_t *committed_nonce,
                  char *errmsg);
};

/* A pending tx as reaped or looked up: a borrowed view. Every pointer
 * stays valid until mempool_update removes the tx or mempool_destroy; no
 * other call removes or moves a pending tx. */
struct mempool_entry
{
    const uint8_t *tx;     /* the serialized Tx, exactly as received */
    size_t tx_size;        /* its length in bytes */
    const uint8_t *id;     /* tx id, MEMPOOL_ID_SIZE bytes */
    const uint8_t *signer; /* TxBody.signer, MEMPOOL_KEY_SIZE bytes */
    uint64_t nonce;        /* TxBody.nonce */
};

/* Why a tx was refused: the index of a counter in struct mempool_stats.
 * mempool_refusal_code gives the error code of each. */
enum mempool_refusal {
    MEMPOOL_REFUSED_TOOBIG,         /* TDEI_TOOBIG: over params.tx_size_max
                                       (or a codec size rule) */
    MEMPOOL_REFUSED_MALFORMED,      /* TDEI_MALFORMED */
    MEMPOOL_REFUSED_VERSION,        /* TDEI_VERSION: body version */
    MEMPOOL_REFUSED_UNKNOWN_OP,     /* TDEI_UNKNOWN_OP */
    MEMPOOL_REFUSED_CHAIN_ID,       /* TDEI_CHAIN_ID */
    MEMPOOL_REFUSED_DUPLICATE,      /* TDEI_DUPLICATE */
    MEMPOOL_REFUSED_UNKNOWN_SIGNER, /* TDEI_UNKNOWN_SIGNER */
    MEMPOOL_REFUSED_NONCE_USED,     /* TDEI_NONCE_USED: replay */
    MEMPOOL_REFUSED_NONCE_GAP,      /* TDEI_NONCE_GAP: beyond the window */
    MEMPOOL_REFUSED_NONCE_TAKEN,    /* TDEI_NONCE_TAKEN: other body */
    MEMPOOL_REFUSED_SIGNER_FULL,    /* TDEI_SIGNER_FULL */
    MEMPOOL_REFUSED_FULL,           /* TDEI_MEMPOOL_FULL: count or bytes */
    MEMPOOL_REFUSED_BUSY,           /* TDEI_BUSY: verifications in flight */
    MEMPOOL_REFUSED_BADSIG,         /* TDEI_BADSIG */
    MEMPOOL_REFUSED_OTHER,          /* TDEI_NOMEM, TDEI_CANCELED, state
                                       read errors */
    MEMPOOL_REFUSAL_COUNT
};

/* Counters for /metrics. Gauges are the state now; counters only grow. */
struct mempool_stats
{
    uint64_t txs;                 /* gauge: pending txs (verified) */
    uint64_t bytes;               /* gauge: their serialized bytes */
    uint64_t signers;             /* gauge: signers with a pending tx */
    uint64_t verify_inflight;     /* gauge: verifications queued or running */
    uint64_t sig_cache_entries;   /* gauge */
    uint64_t admitted;            /* txs that entered the pool */
    uint64_t removed_committed;   /* removed by mempool_update: nonce now
                                     committed (included or superseded) */
    uint64_t removed_signer_gone; /* removed: signer no longer known */
    uint64_t verified_worker;     /* signatures checked on a thread-pool
                                     thread, not the loop's (submit) */
    uint64_t verified_inline;     /* signatures checked by mempool_add */
    uint64_t sig_cache_hits;      /* mempool_sig_verified said yes, or an
                                     admission found the signature cached */
    uint64_t sig_cache_misses;    /* mempool_sig_verified said no */
    uint64_t sig_cache_evictions; /* oldest entries dropped for room */
    uint64_t refused[MEMPOOL_REFUSAL_COUNT]; /* per reason */
};

struct mempool;

/* The outcome of one mempool_submit, on the loop thread.
 * In: data: as given to mempool_submit; status: 0 (the tx is pending) or
 *     the refusal code (TDEI_BADSIG, TDEI_NONCE_USED, TDEI_NONCE_GAP,
 *     TDEI_NONCE_TAKEN, TDEI_SIGNER_FULL, TDEI_MEMPOOL_FULL,
 *     TDEI_UNKNOWN_SIGNER, TDEI_NOMEM, a state read error, or TDEI_CANCELED
 *     after mempool_cancel); txid: the tx id (32 bytes); errmsg: "" on 0,
 *     else what was wrong. Both borrowed for the call. The callback may
 *     call any mempool function except mempool_destroy. */
typedef void (*mempool_submit_cb)(void *data, int status, const uint8_t *txid,
                                  const char *errmsg);

/* Fill @opts with the defaults: DESIGN.md section 4 (50,000 txs, 64 MiB,
 * 1,000 per signer, 64 KiB per tx), nonce_window 1000,
 * verify_inflight_max 1024, sig_cache_max 0 (twice max_txs), a zero
 * hash key. */
void mempool_options_default(struct mempool_options *opts);

/* Check every field of @opts against its range.
 * Returns: 0 or TDEI_CONFIG, errmsg naming the key, the value and the
 * range ("mempool.max_txs=0 is outside 1-10000000"). */
int mempool_options_check(const struct mempool_options *opts, char *errmsg);

/* Create a mempool.
 * Returns: 0, TDEI_CONFIG (bad options, as mempool_options_check; also a
 * @chain_id that is not 1-64 bytes) or TDEI_NOMEM (the tables, sized from
 * the options, do not fit). On error *out is NULL.
 * In:  opts: copied. chain_id: this network's id, copied. ops: copied;
 *      ops->impl borrowed until mempool_destroy. loop: the loop whose
 *      thread owns the mempool and runs the callbacks, borrowed until
 *      mempool_destroy; NULL for a mempool used only through mempool_add
 *      (the simulator, tools). Call on that loop's thread.
 * Out: out: the mempool, destroy with mempool_destroy; errmsg. */
int mempool_create(struct mempool **out, const struct mempool_options *opts,
                   const char *chain_id, const struct mempool_state_ops *ops,
                   uv_loop_t *loop, char *errmsg);

/* Stop: queued verifications are canceled and every submit still in flight
 * completes with TDEI_CANCELED (its callback runs on a later loop
 * iteration, even when its signature check had already finished); later
 * submits fail at once with TDEI_CANCELED. Pending txs stay (reap and
 * lookup still work). Run the loop until stats.verify_inflight is 0, then
 * call mempool_destroy. */
void mempool_cancel(struct mempool *mp);

/* Free @mp and every pending tx (entries from reap and lookup die). No
 * verification may be in flight (asserted): see mempool_cancel. NULL is
 * allowed and does nothing. */
void mempool_destroy(struct mempool *mp);

/* Admit the serialized Tx @bytes (@len bytes), verifying its signature on
 * a worker thread.
 * Behaviour: the checks that need no signature run now; on failure the
 * code is returned and @cb never runs. On 0 the signature check is queued
 * and @cb runs exactly once, on the loop thread, after the tx is pending
 * or refused (state-dependent checks are made again first).
 * Returns now: 0 (queued), TDEI_TOOBIG ("tx is 70000 bytes; the limit is
 * 65536 (params.tx_size_max)"), TDEI_MALFORMED, TDEI_VERSION,
 * TDEI_UNKNOWN_OP, TDEI_CHAIN_ID, TDEI_DUPLICATE, TDEI_BUSY (the same body
 * with other signature bytes is being verified; or verify_inflight_max
 * verifications are in flight: retry later or raise
 * mempool.verify_inflight_max), TDEI_UNKNOWN_SIGNER, TDEI_NONCE_USED,
 * TDEI_NONCE_GAP, TDEI_NONCE_TAKEN, TDEI_SIGNER_FULL, TDEI_MEMPOOL_FULL,
 * TDEI_NOMEM, TDEI_CANCELED (after mempool_cancel), or the code of a
 * failed state read. Each errmsg names the value and the limit.
 * In:  bytes: borrowed for the call (copied). data: passed to @cb.
 * Out: errmsg (on a non-zero return).
 * State: the mempool has a loop (asserted). */
int mempool_submit(struct mempool *mp, char *errmsg, const uint8_t *bytes,
                   size_t len, void *data, mempool_submit_cb cb);

/* Admit @bytes as mempool_submit does, but verify the signature on the
 * calling thread and return the outcome: for the simulator, tools and
 * tests. Needs no loop.
 * Returns: 0 (pending) or any code of mempool_submit and its callback
 * except TDEI_BUSY for the in-flight bound.
 * Out: txid: the tx id when the Tx decoded (may be NULL: not wanted);
 *      errmsg. */
int mempool_add(struct mempool *mp, uint8_t *txid, char *errmsg,
                const uint8_t *bytes, size_t len);

/* Choose the txs of the next block (see Ordering above). Changes nothing:
 * reaping twice without other calls gives the same txs in the same order.
 * Returns: the number of entries written to @out, at most @max_txs.
 * In:  max_txs: params.block_txs_max; max_bytes: the bytes the txs may
 *      add to the serialized Block, each counted as its size plus its
 *      field key and length prefix (1 + varint length), so pass
 *      params.block_size_max minus room for the header and the commit.
 * Out: out: @max_txs entries of room; borrowed views (see struct
 *      mempool_entry): the node holds them until the height is decided
 *      and calls mempool_update after that. */
size_t mempool_reap(struct mempool *mp, struct mempool_entry *out,
                    size_t max_txs, uint64_t max_bytes);

/* After a block is executed and committed: re-read the committed nonce of
 * each signer in @signers (@count keys of 32 bytes each, back to back;
 * repeats allowed) and drop its pending txs with a nonce at or below it:
 * the txs the block included and those it made stale (a same-nonce tx
 * with another body). A signer that is no longer known loses all its
 * txs. Other txs stay. Pass the signers of the block's txs, plus any
 * whose key or membership the block changed.
 * Returns: 0, or the first error of a state read (the other signers are
 * still updated; that signer's txs stay), errmsg saying which.
 * State: entries returned by reap or lookup for removed txs die. */
int mempool_update(struct mempool *mp, char *errmsg, const uint8_t *signers,
                   size_t count);

/* Find the pending (verified) tx @txid.
 * Returns: 0 with *out filled, or TDEI_NOTFOUND (not pending, or its
 * verification has not finished). */
int mempool_lookup(struct mempool *mp, struct mempool_entry *out,
                   const uint8_t *txid);

/* Whether the signature @sig (64 bytes) over the body of tx @txid was
 * verified by this mempool (and is still cached). Block execution calls
 * it to skip verifying again.
 * Returns: 1 (cached: skip the check) or 0 (verify it).
 * Thread: any thread, at any time between create and destroy. */
int mempool_sig_verified(struct mempool *mp, const uint8_t *txid,
                         const uint8_t *sig);

/* Copy the counters into @out. */
void mempool_stats_get(struct mempool *mp, struct mempool_stats *out);

/* The error code counted by refusal reason @reason (< MEMPOOL_REFUSAL_
 * COUNT, asserted); TDEI_NOMEM for MEMPOOL_REFUSED_OTHER. */
int mempool_refusal_code(enum mempool_refusal reason);

#endif
