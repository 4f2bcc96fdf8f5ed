/* Mempool: admission, verification on the libuv thread pool, per-signer
 * ordering and reaping (see mempool.h).
 *
 * Data structures, all sized at creation from the options:
 * - ids: open-addressing table (linear probing, backward-shift deletion,
 *   SipHash of the key with options.hash_key) of every tx entry, pending
 *   or being verified, by tx id;
 * - signers: the same kind of table of signer entries by key; each signer
 *   holds its pending txs in an array sorted by nonce (at most
 *   max_per_signer) and sits in a doubly linked list in the order in which
 *   it became pending, which is the reap order;
 * - the signature cache: a FIFO ring of SHA-256(tx id || sig) keys plus a
 *   table over the ring slots, under a mutex (workers insert, execution
 *   looks up from any thread).
 * Tables keep their load at or below one half, so a probe is short.
 * Objects in a table begin with their 32-byte key. */
#include "mempool/mempool.h"

#include "core/alloc.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/keys.h"
#include "core/limits.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define MEMPOOL_MAX_TXS_LIMIT 10000000u        /* mempool.max_txs range */
#define MEMPOOL_MAX_BYTES_LIMIT (1ull << 36)   /* mempool.max_bytes range */
#define MEMPOOL_PER_SIGNER_LIMIT 1000000u      /* max_per_signer range */
#define MEMPOOL_NONCE_WINDOW_LIMIT 1000000u    /* nonce_window range */
#define MEMPOOL_TX_SIZE_LIMIT (16u * TDEI_MIB) /* params.tx_size_max */
#define MEMPOOL_INFLIGHT_LIMIT 65536u          /* verify_inflight_max */
#define MEMPOOL_SIG_CACHE_LIMIT (1ull << 26)   /* sig_cache_max range */
#define MEMPOOL_SIGNER_TXS_MIN 4u /* first capacity of a signer's array */
#define MEMPOOL_SHORT_SIZE 16u    /* "7f3a9c01.." and its NUL */

_Static_assert(MEMPOOL_ID_SIZE == CODEC_HASH_SIZE, "tx ids are hashes");
_Static_assert(MEMPOOL_KEY_SIZE == CODEC_KEY_SIZE, "signer keys");
_Static_assert(TDEI_HASH_SIZE == MEMPOOL_ID_SIZE, "cache keys are hashes");

/* ------------------------------------------------------------------------
 * Lookup tables
 * ------------------------------------------------------------------------ */

struct mempool__table
{
    void **slots;            /* NULL or an object starting with its key */
    size_t mask;             /* number of slots - 1 (a power of two) */
    size_t count;            /* objects held */
    size_t count_max;        /* at most half the slots */
    const uint8_t *hash_key; /* 16 bytes, the mempool's options */
};

static int mempool__table_init(struct mempool__table *t, size_t count_max,
                               const uint8_t *hash_key)
{
    size_t slots = 8;

    TDEI_ASSERT(count_max <= ((size_t)1 << 40));
    while (slots < 2 * count_max) {
        slots *= 2;
    }
    t->slots = tdei_calloc(slots, sizeof(*t->slots));
    if (t->slots == NULL) {
        return TDEI_NOMEM;
    }
    t->mask = slots - 1;
    t->count = 0;
    t->count_max = count_max;
    t->hash_key = hash_key;
    return 0;
}

static void mempool__table_close(struct mempool__table *t)
{
    tdei_free(t->slots);
    t->slots = NULL;
}

/* SipHash of a 32-byte key (a tx id or a signer key) under @hash_key. */
static uint64_t mempool__key_hash(const uint8_t *key, const uint8_t *hash_key)
{
    uint8_t h[crypto_shorthash_BYTES];
    uint64_t v = 0;

    _Static_assert(MEMPOOL_ID_SIZE == MEMPOOL_KEY_SIZE, "keys of 32 bytes");
    (void)crypto_shorthash(h, key, MEMPOOL_ID_SIZE, hash_key);
    for (size_t i = 0; i < sizeof(h); i++) {
        v = (v << 8) | h[i];
    }
    return v;
}

static size_t mempool__table_home(const struct mempool__table *t,
                                  const uint8_t *key)
{
    return (size_t)mempool__key_hash(key, t->hash_key) & t->mask;
}

/* The slot index of @key, or SIZE_MAX. */
static size_t mempool__table_find(const struct mempool__table *t,
                                  const uint8_t *key)
{
    size_t i = mempool__table_home(t, key);

    for (size_t n = 0; n <= t->mask; n++) {
        const uint8_t *obj = t->slots[i];

        if (obj == NULL) {
            return SIZE_MAX;
        }
        if (memcmp(obj, key, MEMPOOL_ID_SIZE) == 0) {
            return i;
        }
        i = (i + 1) & t->mask;
    }
    return SIZE_MAX;
}

static void *mempool__table_get(const struct mempool__table *t,
                                const uint8_t *key)
{
    size_t i = mempool__table_find(t, key);

    return i == SIZE_MAX ? NULL : t->slots[i];
}

/* Insert @obj, whose key is not in @t (asserted), with room (asserted). */
static void mempool__table_insert(struct mempool__table *t, void *obj)
{
    size_t i = mempool__table_home(t, obj);

    TDEI_ASSERT(t->count < t->count_max);
    while (t->slots[i] != NULL) {
        TDEI_ASSERT(memcmp(t->slots[i], obj, MEMPOOL_ID_SIZE) != 0);
        i = (i + 1) & t->mask;
    }
    t->slots[i] = obj;
    t->count++;
}

/* Empty slot @i and shift later members of its cluster back, so that no
 * tombstones are needed (Knuth 6.4, algorithm R). */
static void mempool__table_remove_at(struct mempool__table *t, size_t i)
{
    size_t j = i;

    TDEI_ASSERT(t->slots[i] != NULL);
    t->slots[i] = NULL;
    t->count--;
    for (size_t n = 0; n < t->mask; n++) {
        size_t home;

        j = (j + 1) & t->mask;
        if (t->slots[j] == NULL) {
            return;
        }
        home = mempool__table_home(t, t->slots[j]);
        /* Move slots[j] into the hole unless its home lies cyclically in
         * (i, j]: then it would be found no more. */
        if ((i <= j) ? (i < home && home <= j) : (i < home || home <= j)) {
            continue;
        }
        t->slots[i] = t->slots[j];
        t->slots[j] = NULL;
        i = j;
    }
}

static void mempool__table_remove(struct mempool__table *t, const uint8_t *key)
{
    size_t i = mempool__table_find(t, key);

    TDEI_ASSERT(i != SIZE_MAX);
    mempool__table_remove_at(t, i);
}

/* ------------------------------------------------------------------------
 * Signature cache
 * ------------------------------------------------------------------------ */

struct mempool__sigcache
{
    uv_mutex_t lock;                  /* guards every field below */
    struct mempool__table table;      /* over ring slots in use */
    uint8_t (*ring)[TDEI_HASH_SIZE];  /* keys in insertion order */
    size_t capacity;                  /* ring slots */
    size_t used;                      /* ring slots in use */
    size_t head;                      /* next slot to fill (the oldest when
                                         the ring is full) */
    uint64_t hits, misses, evictions; /* counters for the stats */
};

static void mempool__sigcache_key(uint8_t key[TDEI_HASH_SIZE],
                                  const uint8_t *txid, const uint8_t *sig)
{
    struct tdei_sha256 ctx;

    tdei_sha256_init(&ctx);
    tdei_sha256_update(&ctx, txid, MEMPOOL_ID_SIZE);
    tdei_sha256_update(&ctx, sig, TDEI_SIG_SIZE);
    tdei_sha256_final(&ctx, key);
}

/* Whether @key is cached; counts a hit or a miss when @count is set. */
static int mempool__sigcache_has(struct mempool__sigcache *c,
                                 const uint8_t *key, int count)
{
    int found;

    uv_mutex_lock(&c->lock);
    found = mempool__table_find(&c->table, key) != SIZE_MAX;
    if (found) {
        c->hits++;
    } else if (count) {
        c->misses++;
    }
    uv_mutex_unlock(&c->lock);
    return found;
}

/* Remember @key, evicting the oldest key when the ring is full. */
static void mempool__sigcache_put(struct mempool__sigcache *c,
                                  const uint8_t *key)
{
    uint8_t *slot;

    uv_mutex_lock(&c->lock);
    if (mempool__table_find(&c->table, key) != SIZE_MAX) {
        uv_mutex_unlock(&c->lock);
        return;
    }
    slot = c->ring[c->head];
    if (c->used == c->capacity) {
        mempool__table_remove(&c->table, slot);
        c->evictions++;
    } else {
        c->used++;
    }
    memcpy(slot, key, TDEI_HASH_SIZE);
    mempool__table_insert(&c->table, slot);
    c->head = (c->head + 1) % c->capacity;
    uv_mutex_unlock(&c->lock);
}

/* ------------------------------------------------------------------------
 * The mempool
 * ------------------------------------------------------------------------ */

struct mempool__signer;

/* One tx: pending (signer set) or being verified (signer NULL). */
struct mempool__tx
{
    uint8_t id[MEMPOOL_ID_SIZE];          /* first: the table key */
    uint8_t signer_key[MEMPOOL_KEY_SIZE]; /* TxBody.signer */
    uint64_t nonce;                       /* TxBody.nonce */
    struct mempool__signer *signer;       /* NULL while verifying */
    size_t size;                          /* bytes of the serialized Tx */
    uint8_t bytes[];                      /* the serialized Tx */
};

/* A signer with at least one pending tx. */
struct mempool__signer
{
    uint8_t key[MEMPOOL_KEY_SIZE]; /* first: the table key */
    uint64_t committed_nonce;      /* as last read from the state */
    struct mempool__tx **txs;      /* pending, ascending nonce */
    size_t count;                  /* entries of txs in use */
    size_t capacity;               /* entries of txs allocated */
    struct mempool__signer *prev;  /* pending order (reap order) */
    struct mempool__signer *next;
    struct mempool__signer *reap_next; /* scratch of mempool_reap */
    size_t reap_index;                 /* scratch of mempool_reap */
};

/* Signer keys parsed onto the curve (tdei_pubkey_parse costs about a
 * tenth of a verification), remembered across blocks: a direct-mapped
 * table by the key's SipHash, loop thread only. A signer that comes back
 * finds its key here; a collision only costs a parse. */
#define MEMPOOL_PARSED_SLOTS 1024u

struct mempool__parsed_slot
{
    uint8_t key[MEMPOOL_KEY_SIZE];
    struct tdei_pubkey_parsed parsed;
    int used;
};

/* One signature check queued on the thread pool. */
struct mempool__verify
{
    uv_work_t req;          /* the libuv request */
    struct mempool *mp;     /* owner */
    struct mempool__tx *tx; /* in mp->ids, signer NULL */
    Tdei__Tx *decoded;      /* body and sig to check */
    int status;             /* set by the worker */
    int off_loop;           /* 1: the worker is not the loop thread */
    int cached;             /* 1: the signature was in the cache */
    struct tdei_pubkey_parsed parsed; /* the signer's key, parsed */
    int has_parsed;         /* @parsed is filled (from its signer, or by
                               the worker) */
    void *data;             /* for cb */
    mempool_submit_cb cb;   /* runs once */
    struct mempool__verify *prev, *next; /* in-flight list */
};

struct mempool
{
    struct mempool_options opts;          /* checked copy */
    char chain_id[TDEI_CHAIN_ID_MAX + 1]; /* this network */
    struct mempool_state_ops ops;         /* committed state */
    uv_loop_t *loop;                      /* NULL: mempool_add only */
    uv_thread_t loop_thread;              /* the creating thread */
    struct mempool__table ids;            /* every tx by id */
    struct mempool__table signers;        /* signers by key */
    struct mempool__signer *first, *last; /* pending order */
    uint64_t count;                       /* pending txs */
    uint64_t bytes;                       /* their bytes */
    struct mempool__parsed_slot *parsed;  /* MEMPOOL_PARSED_SLOTS */
    struct mempool__verify *inflight;     /* list of submits */
    uint64_t inflight_count;              /* its length */
    int canceled;                         /* mempool_cancel was called */
    struct mempool_stats stats;           /* counters (not gauges) */
    struct mempool__sigcache cache;       /* verified signatures */
};

static const int mempool__refusal_codes[MEMPOOL_REFUSAL_COUNT] = {
    [MEMPOOL_REFUSED_TOOBIG] = TDEI_TOOBIG,
    [MEMPOOL_REFUSED_MALFORMED] = TDEI_MALFORMED,
    [MEMPOOL_REFUSED_VERSION] = TDEI_VERSION,
    [MEMPOOL_REFUSED_UNKNOWN_OP] = TDEI_UNKNOWN_OP,
    [MEMPOOL_REFUSED_CHAIN_ID] = TDEI_CHAIN_ID,
    [MEMPOOL_REFUSED_DUPLICATE] = TDEI_DUPLICATE,
    [MEMPOOL_REFUSED_UNKNOWN_SIGNER] = TDEI_UNKNOWN_SIGNER,
    [MEMPOOL_REFUSED_NONCE_USED] = TDEI_NONCE_USED,
    [MEMPOOL_REFUSED_NONCE_GAP] = TDEI_NONCE_GAP,
    [MEMPOOL_REFUSED_NONCE_TAKEN] = TDEI_NONCE_TAKEN,
    [MEMPOOL_REFUSED_SIGNER_FULL] = TDEI_SIGNER_FULL,
    [MEMPOOL_REFUSED_FULL] = TDEI_MEMPOOL_FULL,
    [MEMPOOL_REFUSED_BUSY] = TDEI_BUSY,
    [MEMPOOL_REFUSED_BADSIG] = TDEI_BADSIG,
    [MEMPOOL_REFUSED_OTHER] = TDEI_NOMEM,
};

int mempool_refusal_code(enum mempool_refusal reason)
{
    TDEI_ASSERT((unsigned)reason < MEMPOOL_REFUSAL_COUNT);
    return mempool__refusal_codes[reason];
}

/* Count a refusal with @code and return it. */
static int mempool__refused(struct mempool *mp, int code)
{
    size_t reason = MEMPOOL_REFUSED_OTHER;

    TDEI_ASSERT(code != 0);
    for (size_t i = 0; i < MEMPOOL_REFUSED_OTHER; i++) {
        if (mempool__refusal_codes[i] == code) {
            reason = i;
            break;
        }
    }
    mp->stats.refused[reason]++;
    return code;
}

/* "7f3a9c01.." : the first 4 bytes of a key or id, for messages. */
static const char *mempool__short(char out[MEMPOOL_SHORT_SIZE],
                                  const uint8_t *bytes)
{
    (void)tdei_hex_encode(out, MEMPOOL_SHORT_SIZE, bytes, 4);
    memcpy(out + 8, "..", 3);
    return out;
}

/* ------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------ */

void mempool_options_default(struct mempool_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->max_txs = TDEI_MEMPOOL_TXS_MAX;
    opts->max_bytes = TDEI_MEMPOOL_BYTES_MAX;
    opts->max_per_signer = TDEI_SIGNER_PENDING_MAX;
    opts->nonce_window = MEMPOOL_NONCE_WINDOW_DEFAULT;
    opts->tx_size_max = TDEI_TX_SIZE_MAX;
    opts->verify_inflight_max = MEMPOOL_VERIFY_INFLIGHT_DEFAULT;
    opts->sig_cache_max = 0;
}

static int mempool__range(char *errmsg, const char *key, uint64_t value,
                          uint64_t min, uint64_t max)
{
    if (value < min || value > max) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CONFIG,
                           "%s=%" PRIu64 " is outside %" PRIu64 "-%" PRIu64,
                           key, value, min, max);
    }
    return 0;
}

int mempool_options_check(const struct mempool_options *opts, char *errmsg)
{
    int rc;

    if ((rc = mempool__range(errmsg, "mempool.max_txs", opts->max_txs, 1,
                             MEMPOOL_MAX_TXS_LIMIT)) != 0 ||
        (rc = mempool__range(errmsg, "mempool.max_bytes", opts->max_bytes, 1,
                             MEMPOOL_MAX_BYTES_LIMIT)) != 0 ||
        (rc = mempool__range(errmsg, "mempool.max_per_signer",
                             opts->max_per_signer, 1,
                             MEMPOOL_PER_SIGNER_LIMIT)) != 0 ||
        (rc = mempool__range(errmsg, "mempool.nonce_window", opts->nonce_window,
                             1, MEMPOOL_NONCE_WINDOW_LIMIT)) != 0 ||
        (rc = mempool__range(errmsg, "params.tx_size_max", opts->tx_size_max, 1,
                             MEMPOOL_TX_SIZE_LIMIT)) != 0 ||
        (rc = mempool__range(errmsg, "mempool.verify_inflight_max",
                             opts->verify_inflight_max, 1,
                             MEMPOOL_INFLIGHT_LIMIT)) != 0) {
        return rc;
    }
    if (opts->sig_cache_max != 0 &&
        (rc = mempool__range(errmsg, "mempool.sig_cache_max",
                             opts->sig_cache_max, 1,
                             MEMPOOL_SIG_CACHE_LIMIT)) != 0) {
        return rc;
    }
    if (opts->max_bytes < opts->tx_size_max) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CONFIG,
                           "mempool.max_bytes=%" PRIu64
                           " is below params.tx_size_max=%" PRIu64
                           "; raise mempool.max_bytes",
                           opts->max_bytes, opts->tx_size_max);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Create and destroy
 * ------------------------------------------------------------------------ */

int mempool_create(struct mempool **out, const struct mempool_options *opts,
                   const char *chain_id, const struct mempool_state_ops *ops,
                   uv_loop_t *loop, char *errmsg)
{
    struct mempool *mp;
    size_t chain_len = strnlen(chain_id, TDEI_CHAIN_ID_MAX + 1);
    uint64_t cache_max;
    int rc;

    TDEI_ASSERT(ops->signer != NULL);
    *out = NULL;
    if ((rc = mempool_options_check(opts, errmsg)) != 0) {
        return rc;
    }
    if (chain_len == 0 || chain_len > TDEI_CHAIN_ID_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CONFIG,
                           "chain id is %zu bytes; it must be 1-%u", chain_len,
                           TDEI_CHAIN_ID_MAX);
    }
    mp = tdei_calloc(1, sizeof(*mp));
    if (mp == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "mempool: out of memory");
    }
    mp->opts = *opts;
    memcpy(mp->chain_id, chain_id, chain_len);
    mp->ops = *ops;
    mp->loop = loop;
    mp->loop_thread = uv_thread_self();
    cache_max =
        opts->sig_cache_max != 0 ? opts->sig_cache_max : 2 * opts->max_txs;
    mp->cache.capacity = (size_t)cache_max;
    /* ids: the pending txs, those being verified, one of mempool_add. */
    if (mempool__table_init(
            &mp->ids, (size_t)(opts->max_txs + opts->verify_inflight_max + 1),
            mp->opts.hash_key) != 0) {
        goto err_after_mp;
    }
    if (mempool__table_init(&mp->signers, (size_t)opts->max_txs,
                            mp->opts.hash_key) != 0) {
        goto err_after_ids;
    }
    if (mempool__table_init(&mp->cache.table, mp->cache.capacity,
                            mp->opts.hash_key) != 0) {
        goto err_after_signers;
    }
    mp->cache.ring = tdei_calloc(mp->cache.capacity, TDEI_HASH_SIZE);
    if (mp->cache.ring == NULL) {
        goto err_after_cache_table;
    }
    if (uv_mutex_init(&mp->cache.lock) != 0) {
        tdei_free(mp->cache.ring);
        goto err_after_cache_table;
    }
    /* An optimisation only: without memory for it, keys are parsed at
     * every verification. */
    mp->parsed = tdei_calloc(MEMPOOL_PARSED_SLOTS, sizeof(*mp->parsed));
    *out = mp;
    return 0;

err_after_cache_table:
    mempool__table_close(&mp->cache.table);
err_after_signers:
    mempool__table_close(&mp->signers);
err_after_ids:
    mempool__table_close(&mp->ids);
err_after_mp:
    tdei_free(mp);
    return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                       "mempool: out of memory for tables of %" PRIu64
                       " txs and %" PRIu64
                       " cached signatures; lower mempool.max_txs or "
                       "mempool.sig_cache_max",
                       opts->max_txs, cache_max);
}

static void mempool__signer_free(struct mempool__signer *s)
{
    for (size_t i = 0; i < s->count; i++) {
        tdei_free(s->txs[i]);
    }
    tdei_free(s->txs);
    tdei_free(s);
}

void mempool_destroy(struct mempool *mp)
{
    struct mempool__signer *s;

    if (mp == NULL) {
        return;
    }
    TDEI_ASSERT(mp->inflight_count == 0);
    s = mp->first;
    while (s != NULL) {
        struct mempool__signer *next = s->next;

        mempool__signer_free(s);
        s = next;
    }
    uv_mutex_destroy(&mp->cache.lock);
    tdei_free(mp->cache.ring);
    tdei_free(mp->parsed);
    mempool__table_close(&mp->cache.table);
    mempool__table_close(&mp->signers);
    mempool__table_close(&mp->ids);
    tdei_free(mp);
}

void mempool_cancel(struct mempool *mp)
{
    mp->canceled = 1;
    for (struct mempool__verify *v = mp->inflight; v != NULL; v = v->next) {
        /* Fails with UV_EBUSY once the worker has started: that one
         * completes and is reported as canceled in mempool__after. */
        (void)uv_cancel((uv_req_t *)&v->req);
    }
}

/* ------------------------------------------------------------------------
 * Checks
 * ------------------------------------------------------------------------ */

/* Index of the first tx of @s with a nonce >= @nonce. */
static size_t mempool__lower_bound(const struct mempool__signer *s,
                                   uint64_t nonce)
{
    size_t lo = 0, hi = s->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (s->txs[mid]->nonce < nonce) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Ask the state about the signer of @tx and check its nonce.
 * Out: committed: the signer's committed nonce. */
static int mempool__check_state(struct mempool *mp, char *errmsg,
                                const struct mempool__tx *tx,
                                uint64_t *committed)
{
    char who[MEMPOOL_SHORT_SIZE];
    int rc;

    errmsg[0] = '\0';
    *committed = 0;
    rc = mp->ops.signer(mp->ops.impl, tx->signer_key, committed, errmsg);
    (void)mempool__short(who, tx->signer_key);
    if (rc == TDEI_UNKNOWN_SIGNER) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, rc,
                           "signer %s is not an operator key of an active "
                           "member",
                           who);
    }
    if (rc != 0 && errmsg[0] == '\0') {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, rc,
                           "signer %s: reading the committed state failed: "
                           "%s",
                           who, tdei_strerror(rc));
    }
    if (rc != 0) {
        return tdei_errwrap(errmsg, TDEI_ERRMSG_SIZE, rc,
                            "signer %s: reading the committed state", who);
    }
    if (tx->nonce <= *committed) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NONCE_USED,
                           "nonce %" PRIu64 " of signer %s is already used: "
                           "its committed nonce is %" PRIu64,
                           tx->nonce, who, *committed);
    }
    if (tx->nonce - *committed > mp->opts.nonce_window) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NONCE_GAP,
                           "nonce %" PRIu64 " is more than %" PRIu64
                           " ahead of the committed nonce %" PRIu64
                           " of signer %s; mempool.nonce_window",
                           tx->nonce, mp->opts.nonce_window, *committed, who);
    }
    return 0;
}

/* Check that @tx fits the pool now: its nonce slot, the signer's cap and
 * the total caps. */
static int mempool__check_pool(struct mempool *mp, char *errmsg,
                               const struct mempool__tx *tx)
{
    char who[MEMPOOL_SHORT_SIZE], other[MEMPOOL_SHORT_SIZE];
    const struct mempool__signer *s =
        mempool__table_get(&mp->signers, tx->signer_key);

    if (s != NULL) {
        size_t i = mempool__lower_bound(s, tx->nonce);

        if (i < s->count && s->txs[i]->nonce == tx->nonce) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NONCE_TAKEN,
                               "nonce %" PRIu64 " of signer %s is taken by "
                               "pending tx %s with another body; no "
                               "replacement",
                               tx->nonce, mempool__short(who, tx->signer_key),
                               mempool__short(other, s->txs[i]->id));
        }
        if (s->count >= mp->opts.max_per_signer) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_SIGNER_FULL,
                               "signer %s has %zu pending txs; the limit is "
                               "%" PRIu64 " (mempool.max_per_signer)",
                               mempool__short(who, tx->signer_key), s->count,
                               mp->opts.max_per_signer);
        }
    }
    if (mp->count >= mp->opts.max_txs) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MEMPOOL_FULL,
                           "mempool holds %" PRIu64 " txs; the limit is "
                           "%" PRIu64 " (mempool.max_txs)",
                           mp->count, mp->opts.max_txs);
    }
    if (tx->size > mp->opts.max_bytes - mp->bytes) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MEMPOOL_FULL,
                           "mempool holds %" PRIu64 " bytes and the tx has "
                           "%zu; the limit is %" PRIu64 " (mempool.max_bytes)",
                           mp->bytes, tx->size, mp->opts.max_bytes);
    }
    return 0;
}

/* The checks that need no signature. On 0, *out is a new entry in mp->ids
 * (signer NULL: being verified) and *decoded its Tx; both the caller's.
 * @inflight_bound: refuse with TDEI_BUSY when the in-flight count is at
 * its limit. @txid (may be NULL) gets the id once the Tx decodes. */
static int mempool__precheck(struct mempool *mp, char *errmsg, uint8_t *txid,
                             const uint8_t *bytes, size_t len,
                             int inflight_bound, struct mempool__tx **out,
                             Tdei__Tx **decoded)
{
    Tdei__Tx *tx = NULL;
    Tdei__TxBody *body = NULL;
    struct mempool__tx *entry = NULL, *other;
    uint8_t id[MEMPOOL_ID_SIZE];
    char what[MEMPOOL_SHORT_SIZE];
    uint64_t committed;
    int rc;

    *out = NULL;
    *decoded = NULL;
    rc = codec_tx_decode(&tx, bytes, len, (size_t)mp->opts.tx_size_max, errmsg);
    if (rc != 0) {
        return rc;
    }
    codec_tx_id(id, tx->body.data, tx->body.len);
    if (txid != NULL) {
        memcpy(txid, id, MEMPOOL_ID_SIZE);
    }
    rc = codec_txbody_decode(&body, tx->body.data, tx->body.len, errmsg);
    if (rc != 0) {
        goto err_after_tx;
    }
    if (strcmp(body->chain_id, mp->chain_id) != 0) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CHAIN_ID,
                         "tx is for chain \"%s\"; this node is on chain "
                         "\"%s\"",
                         body->chain_id, mp->chain_id);
        goto err_after_body;
    }
    other = mempool__table_get(&mp->ids, id);
    if (other != NULL) {
        if (other->signer != NULL ||
            (other->size == len && memcmp(other->bytes, bytes, len) == 0)) {
            rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_DUPLICATE,
                             "tx %s is already pending",
                             mempool__short(what, id));
        } else {
            rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BUSY,
                             "tx %s with another signature is being "
                             "verified; retry when it is settled",
                             mempool__short(what, id));
        }
        goto err_after_body;
    }
    entry = tdei_malloc(sizeof(*entry) + len);
    if (entry == NULL) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                         "mempool: out of memory for a tx of %zu bytes", len);
        goto err_after_body;
    }
    memcpy(entry->id, id, MEMPOOL_ID_SIZE);
    memcpy(entry->signer_key, body->signer.data, MEMPOOL_KEY_SIZE);
    entry->nonce = body->nonce;
    entry->signer = NULL;
    entry->size = len;
    memcpy(entry->bytes, bytes, len);
    if ((rc = mempool__check_state(mp, errmsg, entry, &committed)) != 0 ||
        (rc = mempool__check_pool(mp, errmsg, entry)) != 0) {
        goto err_after_entry;
    }
    if (inflight_bound && mp->inflight_count >= mp->opts.verify_inflight_max) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BUSY,
                         "%" PRIu64 " signature verifications are in "
                         "flight; the limit is %" PRIu64
                         " (mempool.verify_inflight_max)",
                         mp->inflight_count, mp->opts.verify_inflight_max);
        goto err_after_entry;
    }
    codec_txbody_free(body);
    mempool__table_insert(&mp->ids, entry);
    *out = entry;
    *decoded = tx;
    return 0;

err_after_entry:
    tdei_free(entry);
err_after_body:
    codec_txbody_free(body);
err_after_tx:
    codec_tx_free(tx);
    return rc;
}

/* Verify the signature of @decoded (the Tx of @tx), consulting and
 * filling the cache. Any thread. In/out: parsed, has_parsed: the signer's
 * parsed key; parsed here when *has_parsed is 0 (NULL: parse, keep
 * nothing). Out: cached: 1 on a cache hit. */
static int mempool__verify_sig(struct mempool *mp, const struct mempool__tx *tx,
                               const Tdei__Tx *decoded,
                               struct tdei_pubkey_parsed *parsed,
                               int *has_parsed, int *cached)
{
    struct tdei_pubkey_parsed local;
    int local_has = 0;
    uint8_t key[TDEI_HASH_SIZE];
    int rc;

    mempool__sigcache_key(key, tx->id, decoded->sig.data);
    *cached = mempool__sigcache_has(&mp->cache, key, 0);
    if (*cached) {
        return 0;
    }
    if (parsed == NULL) {
        parsed = &local;
        has_parsed = &local_has;
    }
    if (!*has_parsed) {
        rc = tdei_pubkey_parse(parsed, tx->signer_key);
        if (rc != 0) {
            return rc;
        }
        *has_parsed = 1;
    }
    rc = tdei_verify_tagged_parsed(decoded->sig.data, parsed, TDEI_TAG_TX,
                                   decoded->body.data, decoded->body.len);
    if (rc == 0) {
        mempool__sigcache_put(&mp->cache, key);
    }
    return rc;
}

/* Put the verified @tx into its signer's array (creating the signer). */
static int mempool__insert(struct mempool *mp, char *errmsg,
                           struct mempool__tx *tx, uint64_t committed)
{
    struct mempool__signer *s =
        mempool__table_get(&mp->signers, tx->signer_key);
    int created = 0;
    size_t pos;

    if (s == NULL) {
        s = tdei_calloc(1, sizeof(*s));
        if (s == NULL) {
            goto err_nomem;
        }
        memcpy(s->key, tx->signer_key, MEMPOOL_KEY_SIZE);
        created = 1;
    }
    if (s->count == s->capacity) {
        size_t capacity =
            s->capacity == 0 ? MEMPOOL_SIGNER_TXS_MIN : 2 * s->capacity;
        struct mempool__tx **txs;

        if (capacity > mp->opts.max_per_signer) {
            capacity = (size_t)mp->opts.max_per_signer;
        }
        TDEI_ASSERT(capacity > s->count);
        txs = tdei_realloc(s->txs, capacity * sizeof(*txs));
        if (txs == NULL) {
            if (created) {
                tdei_free(s);
            }
            goto err_nomem;
        }
        s->txs = txs;
        s->capacity = capacity;
    }
    if (created) {
        s->committed_nonce = committed;
        mempool__table_insert(&mp->signers, s);
        s->prev = mp->last;
        if (mp->last != NULL) {
            mp->last->next = s;
        } else {
            mp->first = s;
        }
        mp->last = s;
    } else if (committed > s->committed_nonce) {
        s->committed_nonce = committed;
    }
    pos = mempool__lower_bound(s, tx->nonce);
    memmove(&s->txs[pos + 1], &s->txs[pos],
            (s->count - pos) * sizeof(s->txs[0]));
    s->txs[pos] = tx;
    s->count++;
    tx->signer = s;
    mp->count++;
    mp->bytes += tx->size;
    return 0;

err_nomem:
    return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                       "mempool: out of memory for a pending tx");
}

/* Settle @tx, whose signature check gave @status: re-check the state and
 * the pool, then make it pending; on refusal remove and free it. */
static int mempool__finish(struct mempool *mp, char *errmsg,
                           struct mempool__tx *tx, int status)
{
    char what[MEMPOOL_SHORT_SIZE], who[MEMPOOL_SHORT_SIZE];
    uint64_t committed = 0;
    int rc = status;

    errmsg[0] = '\0';
    if (rc == TDEI_CANCELED) {
        (void)tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, rc,
                          "tx %s: the mempool is shutting down",
                          mempool__short(what, tx->id));
    } else if (rc != 0) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BADSIG,
                         "signature of tx %s does not verify under signer "
                         "%s",
                         mempool__short(what, tx->id),
                         mempool__short(who, tx->signer_key));
    } else if ((rc = mempool__check_state(mp, errmsg, tx, &committed)) == 0 &&
               (rc = mempool__check_pool(mp, errmsg, tx)) == 0) {
        rc = mempool__insert(mp, errmsg, tx, committed);
    }
    if (rc != 0) {
        mempool__table_remove(&mp->ids, tx->id);
        tdei_free(tx);
        return mempool__refused(mp, rc);
    }
    mp->stats.admitted++;
    return 0;
}

/* ------------------------------------------------------------------------
 * Admission
 * ------------------------------------------------------------------------ */

static struct mempool__parsed_slot *
mempool__parsed_slot(struct mempool *mp, const uint8_t *key)
{
    return &mp->parsed[mempool__key_hash(key, mp->opts.hash_key) %
                       MEMPOOL_PARSED_SLOTS];
}

/* 1 with *@out filled when @key was parsed before. */
static int mempool__parsed_get(struct mempool *mp, const uint8_t *key,
                               struct tdei_pubkey_parsed *out)
{
    const struct mempool__parsed_slot *slot;

    if (mp->parsed == NULL) {
        return 0;
    }
    slot = mempool__parsed_slot(mp, key);
    if (!slot->used || memcmp(slot->key, key, MEMPOOL_KEY_SIZE) != 0) {
        return 0;
    }
    *out = slot->parsed;
    return 1;
}

static void mempool__parsed_put(struct mempool *mp, const uint8_t *key,
                                const struct tdei_pubkey_parsed *parsed)
{
    struct mempool__parsed_slot *slot;

    if (mp->parsed == NULL) {
        return;
    }
    slot = mempool__parsed_slot(mp, key);
    memcpy(slot->key, key, MEMPOOL_KEY_SIZE);
    slot->parsed = *parsed;
    slot->used = 1;
}

static void mempool__work(uv_work_t *req)
{
    struct mempool__verify *v = req->data;
    uv_thread_t self = uv_thread_self();

    v->off_loop = !uv_thread_equal(&self, &v->mp->loop_thread);
    v->status = mempool__verify_sig(v->mp, v->tx, v->decoded, &v->parsed,
                                    &v->has_parsed, &v->cached);
}

static void mempool__after(uv_work_t *req, int status)
{
    struct mempool__verify *v = req->data;
    struct mempool *mp = v->mp;
    uint8_t id[MEMPOOL_ID_SIZE];
    uint8_t signer_key[MEMPOOL_KEY_SIZE];
    char errmsg[TDEI_ERRMSG_SIZE];
    int rc;

    if (v->prev != NULL) {
        v->prev->next = v->next;
    } else {
        mp->inflight = v->next;
    }
    if (v->next != NULL) {
        v->next->prev = v->prev;
    }
    mp->inflight_count--;
    if (status == UV_ECANCELED || mp->canceled) {
        v->status = TDEI_CANCELED;
    } else if (!v->cached) {
        mp->stats.verified_worker += v->off_loop ? 1u : 0u;
    }
    memcpy(id, v->tx->id, MEMPOOL_ID_SIZE);
    memcpy(signer_key, v->tx->signer_key, MEMPOOL_KEY_SIZE);
    rc = mempool__finish(mp, errmsg, v->tx, v->status);
    if (rc == 0 && v->has_parsed) {
        mempool__parsed_put(mp, signer_key, &v->parsed);
    }
    codec_tx_free(v->decoded);
    {
        void *data = v->data;
        mempool_submit_cb cb = v->cb;

        tdei_free(v);
        cb(data, rc, id, rc == 0 ? "" : errmsg);
    }
}

int mempool_submit(struct mempool *mp, char *errmsg, const uint8_t *bytes,
                   size_t len, void *data, mempool_submit_cb cb)
{
    struct mempool__verify *v;
    int rc;

    TDEI_ASSERT(mp->loop != NULL);
    TDEI_ASSERT(cb != NULL);
    if (mp->canceled) {
        return mempool__refused(
            mp, tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CANCELED,
                            "the mempool is shutting down"));
    }
    v = tdei_calloc(1, sizeof(*v));
    if (v == NULL) {
        return mempool__refused(
            mp, tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                            "mempool: out of memory for a verification"));
    }
    rc =
        mempool__precheck(mp, errmsg, NULL, bytes, len, 1, &v->tx, &v->decoded);
    if (rc != 0) {
        tdei_free(v);
        return mempool__refused(mp, rc);
    }
    v->mp = mp;
    v->data = data;
    v->cb = cb;
    v->req.data = v;
    /* With the key parsed before, the worker skips the parse. */
    v->has_parsed = mempool__parsed_get(mp, v->tx->signer_key, &v->parsed);
    /* uv_queue_work fails only on a NULL work callback. */
    rc = uv_queue_work(mp->loop, &v->req, mempool__work, mempool__after);
    TDEI_ASSERT(rc == 0);
    v->next = mp->inflight;
    if (mp->inflight != NULL) {
        mp->inflight->prev = v;
    }
    mp->inflight = v;
    mp->inflight_count++;
    return 0;
}

int mempool_add(struct mempool *mp, uint8_t *txid, char *errmsg,
                const uint8_t *bytes, size_t len)
{
    struct mempool__tx *tx;
    Tdei__Tx *decoded;
    int cached = 0;
    int rc;

    if (mp->canceled) {
        return mempool__refused(
            mp, tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CANCELED,
                            "the mempool is shutting down"));
    }
    rc = mempool__precheck(mp, errmsg, txid, bytes, len, 0, &tx, &decoded);
    if (rc != 0) {
        return mempool__refused(mp, rc);
    }
    rc = mempool__verify_sig(mp, tx, decoded, NULL, NULL, &cached);
    if (!cached) {
        mp->stats.verified_inline++;
    }
    codec_tx_free(decoded);
    return mempool__finish(mp, errmsg, tx, rc);
}

/* ------------------------------------------------------------------------
 * Reap, update, lookup, stats
 * ------------------------------------------------------------------------ */

static size_t mempool__varint_size(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static void mempool__view(struct mempool_entry *out,
                          const struct mempool__tx *tx)
{
    out->tx = tx->bytes;
    out->tx_size = tx->size;
    out->id = tx->id;
    out->signer = tx->signer_key;
    out->nonce = tx->nonce;
}

size_t mempool_reap(struct mempool *mp, struct mempool_entry *out,
                    size_t max_txs, uint64_t max_bytes)
{
    struct mempool__signer *head = NULL, **tail = &head;
    uint64_t bytes = 0;
    size_t n = 0;

    /* The signers whose next nonce is pending, in pending order. */
    for (struct mempool__signer *s = mp->first; s != NULL; s = s->next) {
        size_t i = mempool__lower_bound(s, s->committed_nonce + 1);

        if (i < s->count && s->txs[i]->nonce == s->committed_nonce + 1) {
            s->reap_index = i;
            s->reap_next = NULL;
            *tail = s;
            tail = &s->reap_next;
        }
    }
    /* Round-robin passes: each step emits a tx or drops a signer, so this
     * is O(signers + n). */
    while (head != NULL && n < max_txs) {
        struct mempool__signer **link = &head;

        while (*link != NULL && n < max_txs) {
            struct mempool__signer *s = *link;
            const struct mempool__tx *tx = s->txs[s->reap_index];
            uint64_t cost = tx->size + 1 + mempool__varint_size(tx->size);

            if (cost > max_bytes - bytes) {
                *link = s->reap_next; /* its next nonce does not fit */
                continue;
            }
            mempool__view(&out[n++], tx);
            bytes += cost;
            s->reap_index++;
            if (s->reap_index < s->count &&
                s->txs[s->reap_index]->nonce == tx->nonce + 1) {
                link = &s->reap_next;
            } else {
                *link = s->reap_next; /* a gap or the end */
            }
        }
    }
    TDEI_ASSERT(bytes <= max_bytes);
    return n;
}

/* Remove the first @k pending txs of @s; free @s when none is left. */
static void mempool__drop_prefix(struct mempool *mp, struct mempool__signer *s,
                                 size_t k)
{
    TDEI_ASSERT(k <= s->count);
    for (size_t i = 0; i < k; i++) {
        struct mempool__tx *tx = s->txs[i];

        mempool__table_remove(&mp->ids, tx->id);
        mp->count--;
        mp->bytes -= tx->size;
        tdei_free(tx);
    }
    memmove(&s->txs[0], &s->txs[k], (s->count - k) * sizeof(s->txs[0]));
    s->count -= k;
    if (s->count > 0) {
        return;
    }
    mempool__table_remove(&mp->signers, s->key);
    if (s->prev != NULL) {
        s->prev->next = s->next;
    } else {
        mp->first = s->next;
    }
    if (s->next != NULL) {
        s->next->prev = s->prev;
    } else {
        mp->last = s->prev;
    }
    mempool__signer_free(s);
}

int mempool_update(struct mempool *mp, char *errmsg, const uint8_t *signers,
                   size_t count)
{
    char local[TDEI_ERRMSG_SIZE], who[MEMPOOL_SHORT_SIZE];
    int first_rc = 0;

    for (size_t i = 0; i < count; i++) {
        const uint8_t *key = signers + i * MEMPOOL_KEY_SIZE;
        struct mempool__signer *s = mempool__table_get(&mp->signers, key);
        uint64_t committed = 0;
        size_t k;
        int rc;

        if (s == NULL) {
            continue;
        }
        local[0] = '\0';
        rc = mp->ops.signer(mp->ops.impl, key, &committed, local);
        if (rc == TDEI_UNKNOWN_SIGNER) {
            mp->stats.removed_signer_gone += s->count;
            mempool__drop_prefix(mp, s, s->count);
            continue;
        }
        if (rc != 0) {
            if (first_rc == 0) {
                first_rc = tdei_errorf(
                    errmsg, TDEI_ERRMSG_SIZE, rc,
                    "update signer %s: reading the committed state: %s",
                    mempool__short(who, key),
                    local[0] != '\0' ? local : tdei_strerror(rc));
            }
            continue;
        }
        if (committed > s->committed_nonce) {
            s->committed_nonce = committed;
        }
        k = mempool__lower_bound(s, s->committed_nonce + 1);
        mp->stats.removed_committed += k;
        mempool__drop_prefix(mp, s, k);
    }
    return first_rc;
}

int mempool_lookup(struct mempool *mp, struct mempool_entry *out,
                   const uint8_t *txid)
{
    const struct mempool__tx *tx = mempool__table_get(&mp->ids, txid);

    if (tx == NULL || tx->signer == NULL) {
        return TDEI_NOTFOUND;
    }
    mempool__view(out, tx);
    return 0;
}

int mempool_sig_verified(struct mempool *mp, const uint8_t *txid,
                         const uint8_t *sig)
{
    uint8_t key[TDEI_HASH_SIZE];

    mempool__sigcache_key(key, txid, sig);
    return mempool__sigcache_has(&mp->cache, key, 1);
}

void mempool_stats_get(struct mempool *mp, struct mempool_stats *out)
{
    *out = mp->stats;
    out->txs = mp->count;
    out->bytes = mp->bytes;
    out->signers = mp->signers.count;
    out->verify_inflight = mp->inflight_count;
    uv_mutex_lock(&mp->cache.lock);
    out->sig_cache_entries = mp->cache.used;
    out->sig_cache_hits = mp->cache.hits;
    out->sig_cache_misses = mp->cache.misses;
    out->sig_cache_evictions = mp->cache.evictions;
    uv_mutex_unlock(&mp->cache.lock);
}
