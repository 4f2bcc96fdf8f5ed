/* Tests of the mempool: admission and every refusal code (one past each
 * cap), verification on the libuv thread pool with a real loop, the
 * re-checks when a verification completes, reap order and gaps, updates
 * after a commit, the signature cache, cancellation, out of memory, and
 * the lookup tables under many txs. */
#include "testutil.h"

#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/keys.h"
#include "mempool/mempool.h"

#include <stdio.h>
#include <string.h>
#include <uv.h>

#define CHAIN "tdei-test"
#define KEYS 6

/* ------------------------------------------------------------------------
 * In-memory committed state
 * ------------------------------------------------------------------------ */

struct test_signer
{
    uint8_t key[32];
    uint64_t committed; /* last committed nonce */
    int known;          /* 1: an active member's operator key */
};

struct test_state
{
    struct test_signer signers[KEYS];
    int fail_rc;        /* non-zero: every lookup fails with it */
    unsigned calls;     /* lookups made */
    unsigned calls_off; /* lookups made off the test's thread */
    uv_thread_t thread; /* the test's (loop) thread */
};

static int state_signer(void *impl, const uint8_t *key, uint64_t *committed,
                        char *errmsg)
{
    struct test_state *st = impl;
    uv_thread_t self = uv_thread_self();

    st->calls++;
    if (!uv_thread_equal(&self, &st->thread)) {
        st->calls_off++;
    }
    if (st->fail_rc != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, st->fail_rc,
                           "store read failed");
    }
    for (size_t i = 0; i < KEYS; i++) {
        if (st->signers[i].known && memcmp(st->signers[i].key, key, 32) == 0) {
            *committed = st->signers[i].committed;
            return 0;
        }
    }
    return TDEI_UNKNOWN_SIGNER;
}

/* ------------------------------------------------------------------------
 * Fixture
 * ------------------------------------------------------------------------ */

static struct
{
    uv_loop_t loop;
    struct mempool *mp;
    struct mempool_options opts;
    struct test_state st;
    struct tdei_keypair keys[KEYS]; /* keys[KEYS-1] is never registered */
} fx;

static void fx_keys(void)
{
    static struct tdei_keypair keys[KEYS];
    static int made;

    if (!made) {
        for (size_t i = 0; i < KEYS; i++) {
            ck_assert_int_eq(tdei_keypair_generate(&keys[i]), 0);
        }
        made = 1;
    }
    memcpy(fx.keys, keys, sizeof(keys));
}

/* Options small enough to reach every cap with a few txs. */
static void fx_opts_small(struct mempool_options *opts)
{
    mempool_options_default(opts);
    opts->tx_size_max = 1024;
}

static void fx_open(const struct mempool_options *opts)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct mempool_state_ops ops = {.impl = &fx.st, .signer = state_signer};

    memset(&fx.st, 0, sizeof(fx.st));
    fx_keys();
    for (size_t i = 0; i < KEYS; i++) {
        memcpy(fx.st.signers[i].key, fx.keys[i].pubkey, 32);
        fx.st.signers[i].known = i + 1 < KEYS;
    }
    fx.st.thread = uv_thread_self();
    fx.opts = *opts;
    ck_assert_int_eq(uv_loop_init(&fx.loop), 0);
    ck_assert_msg(
        mempool_create(&fx.mp, &fx.opts, CHAIN, &ops, &fx.loop, errmsg) == 0,
        "%s", errmsg);
}

static void fx_open_default(void)
{
    struct mempool_options opts;

    fx_opts_small(&opts);
    fx_open(&opts);
}

static void fx_close(void)
{
    ck_assert_int_eq(uv_run(&fx.loop, UV_RUN_DEFAULT), 0);
    mempool_destroy(fx.mp);
    fx.mp = NULL;
    ck_assert_int_eq(uv_loop_close(&fx.loop), 0);
    ck_assert_uint_eq(fx.st.calls_off, 0);
}

static struct mempool_stats fx_stats(void)
{
    struct mempool_stats stats;

    mempool_stats_get(fx.mp, &stats);
    return stats;
}

/* ------------------------------------------------------------------------
 * Transactions
 * ------------------------------------------------------------------------ */

static char to_member[] = "acme-steel";
static char memo_text[] = "invoice 42";

/* Sign @body (@body_len bytes, taken) with @kp and wrap it in a Tx. */
static uint8_t *tx_wrap(const struct tdei_keypair *kp, uint8_t *body,
                        size_t body_len, size_t *len)
{
    Tdei__Tx tx = TDEI__TX__INIT;
    uint8_t sig[TDEI_SIG_SIZE];
    uint8_t *out = NULL;

    ck_assert_int_eq(tdei_sign_tagged(sig, kp, TDEI_TAG_TX, body, body_len), 0);
    tx.body.data = body;
    tx.body.len = body_len;
    tx.sig.data = sig;
    tx.sig.len = sizeof(sig);
    ck_assert_int_eq(codec_tx_encode(&tx, &out, len), 0);
    tdei_free(body);
    return out;
}

static void body_init(Tdei__TxBody *body, Tdei__Transfer *tr,
                      const struct tdei_keypair *kp, const char *chain,
                      uint64_t nonce, uint64_t amount)
{
    tdei__transfer__init(tr);
    tr->to = to_member;
    tr->amount = amount;
    tr->memo = memo_text;
    tdei__tx_body__init(body);
    body->version = 1;
    body->chain_id = (char *)chain;
    body->signer.len = 32;
    body->signer.data = (uint8_t *)kp->pubkey;
    body->nonce = nonce;
    body->op_case = TDEI__TX_BODY__OP_TRANSFER;
    body->transfer = tr;
}

/* A signed transfer of @amount by key @k with @nonce on @chain. All txs
 * with nonces below 128 and two-digit amounts have the same size. */
static uint8_t *tx_chain(size_t k, const char *chain, uint64_t nonce,
                         uint64_t amount, size_t *len)
{
    Tdei__TxBody body;
    Tdei__Transfer tr;
    uint8_t *bytes = NULL;
    size_t body_len;

    body_init(&body, &tr, &fx.keys[k], chain, nonce, amount);
    ck_assert_int_eq(codec_txbody_encode(&body, &bytes, &body_len), 0);
    return tx_wrap(&fx.keys[k], bytes, body_len, len);
}

static uint8_t *tx_make(size_t k, uint64_t nonce, size_t *len)
{
    return tx_chain(k, CHAIN, nonce, 10, len);
}

/* The id and signature of the serialized Tx @bytes. */
static void tx_parts(const uint8_t *bytes, size_t len, uint8_t id[32],
                     uint8_t sig[64])
{
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__Tx *tx = NULL;

    ck_assert_int_eq(codec_tx_decode(&tx, bytes, len, 1u << 20, errmsg), 0);
    codec_tx_id(id, tx->body.data, tx->body.len);
    memcpy(sig, tx->sig.data, 64);
    codec_tx_free(tx);
}

/* mempool_add of a fresh tx; returns the code, errmsg in @errmsg. */
static int add_tx(size_t k, uint64_t nonce, char *errmsg)
{
    size_t len;
    uint8_t *bytes = tx_make(k, nonce, &len);
    int rc = mempool_add(fx.mp, NULL, errmsg, bytes, len);

    tdei_free(bytes);
    return rc;
}

static void add_ok(size_t k, uint64_t nonce)
{
    char errmsg[TDEI_ERRMSG_SIZE];

    ck_assert_msg(add_tx(k, nonce, errmsg) == 0, "key %zu nonce %llu: %s", k,
                  (unsigned long long)nonce, errmsg);
}

static const char *short_hex(const uint8_t *bytes)
{
    static char out[16];

    (void)tdei_hex_encode(out, sizeof(out), bytes, 4);
    strcat(out, "..");
    return out;
}

/* ------------------------------------------------------------------------
 * Submit callbacks
 * ------------------------------------------------------------------------ */

struct result
{
    int calls;      /* times the callback ran */
    int status;     /* last status */
    uint8_t id[32]; /* last tx id */
    char errmsg[TDEI_ERRMSG_SIZE];
    int off_loop; /* 1: ran off the test's thread */
};

static void submit_cb(void *data, int status, const uint8_t *txid,
                      const char *errmsg)
{
    struct result *r = data;
    uv_thread_t self = uv_thread_self();

    r->calls++;
    r->status = status;
    memcpy(r->id, txid, 32);
    snprintf(r->errmsg, sizeof(r->errmsg), "%s", errmsg);
    r->off_loop |= !uv_thread_equal(&self, &fx.st.thread);
}

/* Submit @bytes; returns the immediate code. */
static int submit(const uint8_t *bytes, size_t len, struct result *r,
                  char *errmsg)
{
    memset(r, 0, sizeof(*r));
    return mempool_submit(fx.mp, errmsg, bytes, len, r, submit_cb);
}

static void run_loop(void)
{
    ck_assert_int_eq(uv_run(&fx.loop, UV_RUN_DEFAULT), 0);
}

/* ------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------ */

START_TEST(test_mempool_options_defaults_and_ranges)
{
    struct mempool_options opts;
    char errmsg[TDEI_ERRMSG_SIZE];

    mempool_options_default(&opts);
    ck_assert_uint_eq(opts.max_txs, 50000);
    ck_assert_uint_eq(opts.max_bytes, 64u * 1024 * 1024);
    ck_assert_uint_eq(opts.max_per_signer, 1000);
    ck_assert_uint_eq(opts.tx_size_max, 64u * 1024);
    ck_assert_uint_eq(opts.nonce_window, 1000);
    ck_assert_uint_eq(opts.verify_inflight_max, 1024);
    ck_assert_int_eq(mempool_options_check(&opts, errmsg), 0);

    opts.max_txs = 0;
    ck_assert_int_eq(mempool_options_check(&opts, errmsg), TDEI_CONFIG);
    ck_assert_str_eq(errmsg, "mempool.max_txs=0 is outside 1-10000000");
    mempool_options_default(&opts);
    opts.max_per_signer = 1000001;
    ck_assert_int_eq(mempool_options_check(&opts, errmsg), TDEI_CONFIG);
    ck_assert_str_eq(errmsg,
                     "mempool.max_per_signer=1000001 is outside 1-1000000");
    mempool_options_default(&opts);
    opts.nonce_window = 0;
    ck_assert_int_eq(mempool_options_check(&opts, errmsg), TDEI_CONFIG);
    ck_assert_ptr_nonnull(strstr(errmsg, "mempool.nonce_window=0"));
    mempool_options_default(&opts);
    opts.verify_inflight_max = 0;
    ck_assert_int_eq(mempool_options_check(&opts, errmsg), TDEI_CONFIG);
    ck_assert_ptr_nonnull(strstr(errmsg, "mempool.verify_inflight_max=0"));
    mempool_options_default(&opts);
    opts.sig_cache_max = (1ull << 26) + 1;
    ck_assert_int_eq(mempool_options_check(&opts, errmsg), TDEI_CONFIG);
    ck_assert_ptr_nonnull(strstr(errmsg, "mempool.sig_cache_max="));
    mempool_options_default(&opts);
    opts.max_bytes = 1000;
    ck_assert_int_eq(mempool_options_check(&opts, errmsg), TDEI_CONFIG);
    ck_assert_str_eq(errmsg, "mempool.max_bytes=1000 is below "
                             "params.tx_size_max=65536; raise "
                             "mempool.max_bytes");
    mempool_options_default(&opts);
    opts.tx_size_max = 0;
    ck_assert_int_eq(mempool_options_check(&opts, errmsg), TDEI_CONFIG);
    ck_assert_ptr_nonnull(strstr(errmsg, "params.tx_size_max=0"));
}
END_TEST

START_TEST(test_mempool_create_refuses_bad_options)
{
    struct mempool_options opts;
    struct mempool_state_ops ops = {.impl = &fx.st, .signer = state_signer};
    struct mempool *mp = (struct mempool *)1;
    char errmsg[TDEI_ERRMSG_SIZE];

    mempool_options_default(&opts);
    opts.max_txs = 0;
    ck_assert_int_eq(mempool_create(&mp, &opts, CHAIN, &ops, NULL, errmsg),
                     TDEI_CONFIG);
    ck_assert_ptr_null(mp);
    mempool_options_default(&opts);
    ck_assert_int_eq(mempool_create(&mp, &opts, "", &ops, NULL, errmsg),
                     TDEI_CONFIG);
    ck_assert_ptr_null(mp);
    /* Out of memory at each allocation of create: no leak. */
    for (long i = 0; i < 8; i++) {
        tdei_alloc_fail_inject(i, 1);
        int rc = mempool_create(&mp, &opts, CHAIN, &ops, NULL, errmsg);
        tdei_alloc_fail_inject(-1, 0);
        if (rc == 0) {
            mempool_destroy(mp);
            break;
        }
        ck_assert_int_eq(rc, TDEI_NOMEM);
        ck_assert_ptr_null(mp);
    }
}
END_TEST

/* ------------------------------------------------------------------------
 * Admission through the worker threads
 * ------------------------------------------------------------------------ */

START_TEST(test_mempool_submit_verifies_on_worker_thread)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct result r;
    struct mempool_entry e;
    struct mempool_stats stats;
    uint8_t id[32], sig[64];
    size_t len;
    uint8_t *bytes;

    fx_open_default();
    bytes = tx_make(0, 1, &len);
    tx_parts(bytes, len, id, sig);
    ck_assert_int_eq(submit(bytes, len, &r, errmsg), 0);
    ck_assert_int_eq(r.calls, 0); /* never before the loop runs */
    ck_assert_uint_eq(fx_stats().verify_inflight, 1);
    ck_assert_int_eq(mempool_lookup(fx.mp, &e, id), TDEI_NOTFOUND);
    run_loop();
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.errmsg, "");
    ck_assert_int_eq(r.off_loop, 0); /* the callback runs on the loop */
    ck_assert_mem_eq(r.id, id, 32);

    stats = fx_stats();
    ck_assert_uint_eq(stats.txs, 1);
    ck_assert_uint_eq(stats.bytes, len);
    ck_assert_uint_eq(stats.signers, 1);
    ck_assert_uint_eq(stats.admitted, 1);
    ck_assert_uint_eq(stats.verify_inflight, 0);
    /* The signature was checked on a thread-pool thread. */
    ck_assert_uint_eq(stats.verified_worker, 1);
    ck_assert_uint_eq(stats.verified_inline, 0);

    ck_assert_int_eq(mempool_lookup(fx.mp, &e, id), 0);
    ck_assert_uint_eq(e.tx_size, len);
    ck_assert_mem_eq(e.tx, bytes, len);
    ck_assert_mem_eq(e.signer, fx.keys[0].pubkey, 32);
    ck_assert_uint_eq(e.nonce, 1);
    ck_assert_int_eq(mempool_sig_verified(fx.mp, id, sig), 1);
    tdei_free(bytes);
    fx_close();
}
END_TEST

/* Many submits: every one is verified off the loop thread, callbacks all
 * run once. */
START_TEST(test_mempool_submit_many_all_on_workers)
{
    enum { N = 40 };
    char errmsg[TDEI_ERRMSG_SIZE];
    static struct result r[N];

    fx_open_default();
    for (size_t i = 0; i < N; i++) {
        size_t len;
        uint8_t *bytes = tx_make(i % 4, 1 + i / 4, &len);

        ck_assert_int_eq(submit(bytes, len, &r[i], errmsg), 0);
        tdei_free(bytes);
    }
    run_loop();
    for (size_t i = 0; i < N; i++) {
        ck_assert_int_eq(r[i].calls, 1);
        ck_assert_msg(r[i].status == 0, "%s", r[i].errmsg);
    }
    ck_assert_uint_eq(fx_stats().txs, N);
    ck_assert_uint_eq(fx_stats().verified_worker, N);
    fx_close();
}
END_TEST

START_TEST(test_mempool_refuses_bad_signature)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct result r;
    size_t len;
    uint8_t *bytes;
    uint8_t id[32], sig[64];

    fx_open_default();
    bytes = tx_make(0, 1, &len);
    bytes[len - 1] ^= 0x01; /* the sig is the last field */
    tx_parts(bytes, len, id, sig);
    ck_assert_int_eq(submit(bytes, len, &r, errmsg), 0);
    run_loop();
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.status, TDEI_BADSIG);
    ck_assert_ptr_nonnull(strstr(r.errmsg, "does not verify under signer"));
    ck_assert_uint_eq(fx_stats().txs, 0);
    ck_assert_uint_eq(fx_stats().refused[MEMPOOL_REFUSED_BADSIG], 1);
    ck_assert_int_eq(mempool_sig_verified(fx.mp, id, sig), 0);
    /* Synchronously too, and the good tx still enters afterwards. */
    ck_assert_int_eq(mempool_add(fx.mp, NULL, errmsg, bytes, len), TDEI_BADSIG);
    bytes[len - 1] ^= 0x01;
    ck_assert_int_eq(mempool_add(fx.mp, NULL, errmsg, bytes, len), 0);
    tdei_free(bytes);
    fx_close();
}
END_TEST

/* A signer's second tx is checked with the key parsed for its first
 * (the signer keeps it): a good one enters, a forged one is refused. */
START_TEST(test_mempool_parsed_key_of_signer_still_checks)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct result r;
    size_t len1, len2, len3;
    uint8_t *first, *forged, *good;

    fx_open_default();
    first = tx_make(0, 1, &len1);
    ck_assert_int_eq(submit(first, len1, &r, errmsg), 0);
    run_loop();
    ck_assert_int_eq(r.status, 0);
    forged = tx_make(0, 2, &len2);
    forged[len2 - 1] ^= 0x01; /* the sig is the last field */
    ck_assert_int_eq(submit(forged, len2, &r, errmsg), 0);
    run_loop();
    ck_assert_int_eq(r.status, TDEI_BADSIG);
    good = tx_make(0, 2, &len3);
    ck_assert_int_eq(submit(good, len3, &r, errmsg), 0);
    run_loop();
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_eq(fx_stats().txs, 2);
    tdei_free(first);
    tdei_free(forged);
    tdei_free(good);
    fx_close();
}
END_TEST

/* A refusal found before verification returns now; the callback never
 * runs. */
START_TEST(test_mempool_sync_refusal_never_calls_back)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct result r;
    size_t len;
    uint8_t *bytes;

    fx_open_default();
    bytes = tx_chain(0, "other-chain", 1, 10, &len);
    ck_assert_int_eq(submit(bytes, len, &r, errmsg), TDEI_CHAIN_ID);
    run_loop();
    ck_assert_int_eq(r.calls, 0);
    ck_assert_uint_eq(fx_stats().verify_inflight, 0);
    tdei_free(bytes);
    fx_close();
}
END_TEST

/* ------------------------------------------------------------------------
 * Each refusal
 * ------------------------------------------------------------------------ */

START_TEST(test_mempool_refuses_tx_over_size_limit)
{
    struct mempool_options opts;
    char errmsg[TDEI_ERRMSG_SIZE];
    size_t len;
    uint8_t *bytes;

    fx_keys();
    bytes = tx_make(0, 1, &len);
    fx_opts_small(&opts);
    opts.tx_size_max = len - 1;
    fx_open(&opts);
    ck_assert_int_eq(mempool_add(fx.mp, NULL, errmsg, bytes, len), TDEI_TOOBIG);
    ck_assert_ptr_nonnull(strstr(errmsg, "params.tx_size_max"));
    ck_assert_uint_eq(fx_stats().refused[MEMPOOL_REFUSED_TOOBIG], 1);
    fx_close();

    opts.tx_size_max = len; /* exactly at the limit */
    fx_open(&opts);
    ck_assert_int_eq(mempool_add(fx.mp, NULL, errmsg, bytes, len), 0);
    fx_close();
    tdei_free(bytes);
}
END_TEST

START_TEST(test_mempool_refuses_malformed)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0x01, 0x02};
    size_t len;
    uint8_t *bytes;

    fx_open_default();
    ck_assert_int_eq(mempool_add(fx.mp, NULL, errmsg, junk, sizeof(junk)),
                     TDEI_MALFORMED);
    /* A truncated tx. */
    bytes = tx_make(0, 1, &len);
    ck_assert_int_eq(mempool_add(fx.mp, NULL, errmsg, bytes, len - 3),
                     TDEI_MALFORMED);
    ck_assert_uint_eq(fx_stats().refused[MEMPOOL_REFUSED_MALFORMED], 2);
    ck_assert_uint_eq(fx_stats().txs, 0);
    tdei_free(bytes);
    fx_close();
}
END_TEST

START_TEST(test_mempool_refuses_unknown_op)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    static const uint8_t op40[] = {0xc2, 0x02, 0x00}; /* field 40, empty */
    Tdei__TxBody body;
    Tdei__Transfer tr;
    uint8_t *head = NULL, *all, *bytes;
    size_t head_len, len;

    fx_open_default();
    body_init(&body, &tr, &fx.keys[0], CHAIN, 1, 10);
    body.op_case = TDEI__TX_BODY__OP__NOT_SET;
    ck_assert_int_eq(codec_txbody_encode(&body, &head, &head_len), 0);
    all = tdei_malloc(head_len + sizeof(op40));
    ck_assert_ptr_nonnull(all);
    memcpy(all, head, head_len);
    memcpy(all + head_len, op40, sizeof(op40));
    tdei_free(head);
    bytes = tx_wrap(&fx.keys[0], all, head_len + sizeof(op40), &len);
    ck_assert_int_eq(mempool_add(fx.mp, NULL, errmsg, bytes, len),
                     TDEI_UNKNOWN_OP);
    ck_assert_str_eq(errmsg, "tx op 40 is not known to this node; upgrade "
                             "tdei, or the sender uses a newer schema");
    ck_assert_uint_eq(fx_stats().refused[MEMPOOL_REFUSED_UNKNOWN_OP], 1);
    tdei_free(bytes);
    fx_close();
}
END_TEST

START_TEST(test_mempool_refuses_wrong_chain_id)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    size_t len;
    uint8_t *bytes;

    fx_open_default();
    bytes = tx_chain(0, "other-chain", 1, 10, &len);
    ck_assert_int_eq(mempool_add(fx.mp, NULL, errmsg, bytes, len),
                     TDEI_CHAIN_ID);
    ck_assert_str_eq(errmsg, "tx is for chain \"other-chain\"; this node is "
                             "on chain \"tdei-test\"");
    ck_assert_uint_eq(fx_stats().refused[MEMPOOL_REFUSED_CHAIN_ID], 1);
    tdei_free(bytes);
    fx_close();
}
END_TEST

START_TEST(test_mempool_refuses_unknown_signer)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    char want[TDEI_ERRMSG_SIZE];

    fx_open_default();
    ck_assert_int_eq(add_tx(KEYS - 1, 1, errmsg), TDEI_UNKNOWN_SIGNER);
    snprintf(want, sizeof(want),
             "signer %s is not an operator key of an active member",
             short_hex(fx.keys[KEYS - 1].pubkey));
    ck_assert_str_eq(errmsg, want);
    ck_assert_uint_eq(fx_stats().refused[MEMPOOL_REFUSED_UNKNOWN_SIGNER], 1);
    /* A store failure is passed on, not mistaken for an unknown key. */
    fx.st.fail_rc = TDEI_IOERR;
    ck_assert_int_eq(add_tx(0, 1, errmsg), TDEI_IOERR);
    ck_assert_ptr_nonnull(strstr(errmsg, "store read failed"));
    ck_assert_uint_eq(fx_stats().refused[MEMPOOL_REFUSED_OTHER], 1);
    fx_close();
}
END_TEST

START_TEST(test_mempool_refuses_nonce_replay)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    char want[TDEI_ERRMSG_SIZE];

    fx_open_default();
    fx.st.signers[0].committed = 3;
    ck_assert_int_eq(add_tx(0, 3, errmsg), TDEI_NONCE_USED);
    snprintf(want, sizeof(want),
             "nonce 3 of signer %s is already used: its committed nonce is 3",
             short_hex(fx.keys[0].pubkey));
    ck_assert_str_eq(errmsg, want);
    ck_assert_int_eq(add_tx(0, 1, errmsg), TDEI_NONCE_USED);
    add_ok(0, 4);
    ck_assert_uint_eq(fx_stats().refused[MEMPOOL_REFUSED_NONCE_USED], 2);
    fx_close();
}
END_TEST

START_TEST(test_mempool_refuses_nonce_beyond_window)
{
    struct mempool_options opts;
    char errmsg[TDEI_ERRMSG_SIZE];
    char want[TDEI_ERRMSG_SIZE];

    fx_opts_small(&opts);
    opts.nonce_window = 100;
    fx_open(&opts);
    fx.st.signers[0].committed = 3;
    add_ok(0, 103); /* exactly the window */
    ck_assert_int_eq(add_tx(0, 104, errmsg), TDEI_NONCE_GAP);
    snprintf(want, sizeof(want),
             "nonce 104 is more than 100 ahead of the committed nonce 3 of "
             "signer %s; mempool.nonce_window",
             short_hex(fx.keys[0].pubkey));
    ck_assert_str_eq(errmsg, want);
    ck_assert_uint_eq(fx_stats().refused[MEMPOOL_REFUSED_NONCE_GAP], 1);
    fx_close();
}
END_TEST

START_TEST(test_mempool_refuses_duplicate)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct result r1, r2;
    size_t len;
    uint8_t *bytes;
    uint8_t id[32];

    fx_open_default();
    bytes = tx_make(0, 1, &len);
    ck_assert_int_eq(mempool_add(fx.mp, id, errmsg, bytes, len), 0);
    ck_assert_int_eq(mempool_add(fx.mp, NULL, errmsg, bytes, len),
                     TDEI_DUPLICATE);
    ck_assert_ptr_nonnull(strstr(errmsg, "is already pending"));
    ck_assert_int_eq(submit(bytes, len, &r1, errmsg), TDEI_DUPLICATE);
    tdei_free(bytes);

    /* While the first copy is being verified, the same bytes are a
     * duplicate at once. */
    bytes = tx_make(1, 1, &len);
    ck_assert_int_eq(submit(bytes, len, &r1, errmsg), 0);
    ck_assert_int_eq(submit(bytes, len, &r2, errmsg), TDEI_DUPLICATE);
    run_loop();
    ck_assert_int_eq(r1.status, 0);
    ck_assert_int_eq(r2.calls, 0);
    ck_assert_uint_eq(fx_stats().refused[MEMPOOL_REFUSED_DUPLICATE], 3);
    ck_assert_uint_eq(fx_stats().txs, 2);
    tdei_free(bytes);
    fx_close();
}
END_TEST

/* The same body under a second valid signature is another Tx with the
 * same id: busy while the first is verified, then a duplicate. */
START_TEST(test_mempool_same_body_other_signature)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct result r1, r2;
    Tdei__TxBody body;
    Tdei__Transfer tr;
    uint8_t *b1 = NULL, *b2 = NULL, *t1, *t2;
    size_t b_len, l1, l2;
    uint8_t id1[32], id2[32], sig1[64], sig2[64];

    fx_open_default();
    body_init(&body, &tr, &fx.keys[0], CHAIN, 1, 10);
    ck_assert_int_eq(codec_txbody_encode(&body, &b1, &b_len), 0);
    ck_assert_int_eq(codec_txbody_encode(&body, &b2, &b_len), 0);
    t1 = tx_wrap(&fx.keys[0], b1, b_len, &l1);
    t2 = tx_wrap(&fx.keys[0], b2, b_len, &l2); /* fresh aux randomness */
    tx_parts(t1, l1, id1, sig1);
    tx_parts(t2, l2, id2, sig2);
    ck_assert_mem_eq(id1, id2, 32);
    ck_assert_mem_ne(sig1, sig2, 64);

    ck_assert_int_eq(submit(t1, l1, &r1, errmsg), 0);
    ck_assert_int_eq(submit(t2, l2, &r2, errmsg), TDEI_BUSY);
    ck_assert_ptr_nonnull(strstr(errmsg, "with another signature is being "
                                         "verified"));
    run_loop();
    ck_assert_int_eq(r1.status, 0);
    ck_assert_int_eq(mempool_add(fx.mp, NULL, errmsg, t2, l2), TDEI_DUPLICATE);
    /* Only the signature that was checked counts as verified. */
    ck_assert_int_eq(mempool_sig_verified(fx.mp, id1, sig1), 1);
    ck_assert_int_eq(mempool_sig_verified(fx.mp, id2, sig2), 0);
    tdei_free(t1);
    tdei_free(t2);
    fx_close();
}
END_TEST

START_TEST(test_mempool_refuses_conflicting_nonce)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    size_t len;
    uint8_t *bytes;
    uint8_t id[32], sig[64];
    struct mempool_entry e;

    fx_open_default();
    add_ok(0, 1);
    bytes = tx_chain(0, CHAIN, 1, 99, &len); /* same nonce, other body */
    ck_assert_int_eq(mempool_add(fx.mp, NULL, errmsg, bytes, len),
                     TDEI_NONCE_TAKEN);
    ck_assert_ptr_nonnull(strstr(errmsg, "nonce 1 of signer"));
    ck_assert_ptr_nonnull(strstr(errmsg, "no replacement"));
    ck_assert_uint_eq(fx_stats().refused[MEMPOOL_REFUSED_NONCE_TAKEN], 1);
    ck_assert_uint_eq(fx_stats().txs, 1);
    /* The first one stays. */
    tx_parts(bytes, len, id, sig);
    ck_assert_int_eq(mempool_lookup(fx.mp, &e, id), TDEI_NOTFOUND);
    tdei_free(bytes);
    fx_close();
}
END_TEST

START_TEST(test_mempool_refuses_one_past_per_signer_cap)
{
    struct mempool_options opts;
    char errmsg[TDEI_ERRMSG_SIZE];
    char want[TDEI_ERRMSG_SIZE];

    fx_opts_small(&opts);
    opts.max_per_signer = 3;
    fx_open(&opts);
    add_ok(0, 1);
    add_ok(0, 2);
    add_ok(0, 3);
    ck_assert_int_eq(add_tx(0, 4, errmsg), TDEI_SIGNER_FULL);
    snprintf(want, sizeof(want),
             "signer %s has 3 pending txs; the limit is 3 "
             "(mempool.max_per_signer)",
             short_hex(fx.keys[0].pubkey));
    ck_assert_str_eq(errmsg, want);
    add_ok(1, 1); /* other signers are not affected */
    ck_assert_uint_eq(fx_stats().refused[MEMPOOL_REFUSED_SIGNER_FULL], 1);
    fx_close();
}
END_TEST

START_TEST(test_mempool_refuses_one_past_max_txs)
{
    struct mempool_options opts;
    char errmsg[TDEI_ERRMSG_SIZE];

    fx_opts_small(&opts);
    opts.max_txs = 3;
    fx_open(&opts);
    add_ok(0, 1);
    add_ok(1, 1);
    add_ok(2, 1);
    ck_assert_int_eq(add_tx(3, 1, errmsg), TDEI_MEMPOOL_FULL);
    ck_assert_str_eq(errmsg, "mempool holds 3 txs; the limit is 3 "
                             "(mempool.max_txs)");
    ck_assert_uint_eq(fx_stats().refused[MEMPOOL_REFUSED_FULL], 1);
    fx_close();
}
END_TEST

START_TEST(test_mempool_refuses_one_past_max_bytes)
{
    struct mempool_options opts;
    char errmsg[TDEI_ERRMSG_SIZE];
    char want[TDEI_ERRMSG_SIZE];
    size_t len;
    uint8_t *probe;

    fx_keys();
    probe = tx_make(0, 1, &len);
    tdei_free(probe);
    fx_opts_small(&opts);
    opts.max_bytes = 3 * len - 1; /* the third tx would make max_bytes+1 */
    opts.tx_size_max = len;
    fx_open(&opts);
    add_ok(0, 1);
    add_ok(1, 1);
    ck_assert_int_eq(add_tx(2, 1, errmsg), TDEI_MEMPOOL_FULL);
    snprintf(want, sizeof(want),
             "mempool holds %zu bytes and the tx has %zu; the limit is %zu "
             "(mempool.max_bytes)",
             2 * len, len, 3 * len - 1);
    ck_assert_str_eq(errmsg, want);
    fx_close();

    opts.max_bytes = 3 * len; /* exactly fits */
    fx_open(&opts);
    add_ok(0, 1);
    add_ok(1, 1);
    add_ok(2, 1);
    ck_assert_uint_eq(fx_stats().bytes, 3 * len);
    fx_close();
}
END_TEST

START_TEST(test_mempool_refuses_one_past_inflight_bound)
{
    struct mempool_options opts;
    char errmsg[TDEI_ERRMSG_SIZE];
    struct result r[3];
    uint8_t *bytes[3];
    size_t len[3];

    fx_opts_small(&opts);
    opts.verify_inflight_max = 2;
    fx_open(&opts);
    for (size_t i = 0; i < 3; i++) {
        bytes[i] = tx_make(i, 1, &len[i]);
    }
    ck_assert_int_eq(submit(bytes[0], len[0], &r[0], errmsg), 0);
    ck_assert_int_eq(submit(bytes[1], len[1], &r[1], errmsg), 0);
    ck_assert_int_eq(submit(bytes[2], len[2], &r[2], errmsg), TDEI_BUSY);
    ck_assert_str_eq(errmsg, "2 signature verifications are in flight; the "
                             "limit is 2 (mempool.verify_inflight_max)");
    ck_assert_uint_eq(fx_stats().refused[MEMPOOL_REFUSED_BUSY], 1);
    run_loop();
    ck_assert_int_eq(r[0].status, 0);
    ck_assert_int_eq(r[1].status, 0);
    ck_assert_int_eq(r[2].calls, 0);
    /* Room again once they completed. */
    ck_assert_int_eq(submit(bytes[2], len[2], &r[2], errmsg), 0);
    run_loop();
    ck_assert_int_eq(r[2].status, 0);
    for (size_t i = 0; i < 3; i++) {
        tdei_free(bytes[i]);
    }
    fx_close();
}
END_TEST

/* ------------------------------------------------------------------------
 * Re-checks when a verification completes
 * ------------------------------------------------------------------------ */

START_TEST(test_mempool_rechecks_after_verification)
{
    struct mempool_options opts;
    char errmsg[TDEI_ERRMSG_SIZE];
    struct result r[4];
    uint8_t *bytes[4];
    size_t len[4];

    fx_opts_small(&opts);
    opts.max_txs = 4;
    fx_open(&opts);
    /* 0: its nonce is taken by another body meanwhile. */
    bytes[0] = tx_make(0, 1, &len[0]);
    ck_assert_int_eq(submit(bytes[0], len[0], &r[0], errmsg), 0);
    {
        size_t l;
        uint8_t *other = tx_chain(0, CHAIN, 1, 77, &l);

        ck_assert_int_eq(mempool_add(fx.mp, NULL, errmsg, other, l), 0);
        tdei_free(other);
    }
    /* 1: a block commits its nonce meanwhile. */
    bytes[1] = tx_make(1, 1, &len[1]);
    ck_assert_int_eq(submit(bytes[1], len[1], &r[1], errmsg), 0);
    fx.st.signers[1].committed = 1;
    /* 2: its signer is removed meanwhile. */
    bytes[2] = tx_make(2, 1, &len[2]);
    ck_assert_int_eq(submit(bytes[2], len[2], &r[2], errmsg), 0);
    fx.st.signers[2].known = 0;
    /* 3: the pool fills meanwhile. */
    bytes[3] = tx_make(3, 1, &len[3]);
    ck_assert_int_eq(submit(bytes[3], len[3], &r[3], errmsg), 0);
    add_ok(4, 1);
    add_ok(4, 2);
    add_ok(4, 3); /* with the one of key 0: 4 txs */
    run_loop();
    ck_assert_int_eq(r[0].status, TDEI_NONCE_TAKEN);
    ck_assert_int_eq(r[1].status, TDEI_NONCE_USED);
    ck_assert_int_eq(r[2].status, TDEI_UNKNOWN_SIGNER);
    ck_assert_int_eq(r[3].status, TDEI_MEMPOOL_FULL);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(r[i].calls, 1);
        ck_assert_str_ne(r[i].errmsg, "");
        tdei_free(bytes[i]);
    }
    ck_assert_uint_eq(fx_stats().txs, 4);
    ck_assert_uint_eq(fx_stats().verify_inflight, 0);
    fx_close();
}
END_TEST

/* ------------------------------------------------------------------------
 * Reap and update
 * ------------------------------------------------------------------------ */

/* Check that @out[0..n) are (key index, nonce) pairs of @want. */
static void expect_reap(const struct mempool_entry *out, size_t n,
                        const size_t (*want)[2], size_t want_n)
{
    ck_assert_uint_eq(n, want_n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(memcmp(out[i].signer, fx.keys[want[i][0]].pubkey, 32) ==
                              0 &&
                          out[i].nonce == want[i][1],
                      "entry %zu: want key %zu nonce %zu, got nonce %llu", i,
                      want[i][0], want[i][1], (unsigned long long)out[i].nonce);
    }
}

START_TEST(test_mempool_reap_waits_for_gaps)
{
    struct mempool_entry out[16];
    static const size_t only1[][2] = {{0, 1}};
    static const size_t all3[][2] = {{0, 1}, {0, 2}, {0, 3}};
    size_t n;

    fx_open_default();
    add_ok(0, 1);
    add_ok(0, 3);
    n = mempool_reap(fx.mp, out, 16, UINT64_MAX);
    expect_reap(out, n, only1, 1);
    add_ok(0, 2);
    n = mempool_reap(fx.mp, out, 16, UINT64_MAX);
    expect_reap(out, n, all3, 3);

    /* Nothing executable: the first pending nonce is not committed + 1. */
    add_ok(1, 2);
    n = mempool_reap(fx.mp, out, 16, UINT64_MAX);
    expect_reap(out, n, all3, 3);
    fx_close();
}
END_TEST

START_TEST(test_mempool_reap_round_robin_in_arrival_order)
{
    struct mempool_entry out[16], again[16];
    static const size_t want[][2] = {{1, 1}, {0, 1}, {2, 1}, {1, 2},
                                     {0, 2}, {1, 3}, {0, 3}};
    size_t n, len;
    uint8_t *probe;

    fx_open_default();
    /* Signer 1 becomes pending first, then 0, then 2. */
    add_ok(1, 2);
    add_ok(1, 1);
    add_ok(0, 1);
    add_ok(2, 1);
    add_ok(0, 3);
    add_ok(1, 3);
    add_ok(0, 2);
    n = mempool_reap(fx.mp, out, 16, UINT64_MAX);
    expect_reap(out, n, want, 7);
    /* Reaping changes nothing: same again. */
    ck_assert_uint_eq(mempool_reap(fx.mp, again, 16, UINT64_MAX), 7);
    ck_assert_mem_eq(out, again, sizeof(out[0]) * 7);

    /* max_txs cuts the round-robin short. */
    n = mempool_reap(fx.mp, out, 4, UINT64_MAX);
    expect_reap(out, n, want, 4);

    /* max_bytes: each tx costs its size + 1 key byte + a 1-2 byte length.
     * Room for exactly 3 txs. */
    probe = tx_make(0, 1, &len);
    tdei_free(probe);
    {
        uint64_t cost = len + 1 + (len < 128 ? 1 : 2);

        n = mempool_reap(fx.mp, out, 16, 3 * cost);
        expect_reap(out, n, want, 3);
        n = mempool_reap(fx.mp, out, 16, 3 * cost - 1);
        expect_reap(out, n, want, 2);
        n = mempool_reap(fx.mp, out, 16, 0);
        ck_assert_uint_eq(n, 0);
    }
    fx_close();
}
END_TEST

START_TEST(test_mempool_update_removes_included_and_stale)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct mempool_entry out[16];
    struct mempool_stats stats;
    uint8_t signers[3 * 32];
    static const size_t left[][2] = {{0, 3}, {2, 1}};
    size_t n;

    fx_open_default();
    add_ok(0, 1);
    add_ok(0, 2);
    add_ok(0, 3);
    add_ok(1, 1);
    add_ok(1, 2);
    add_ok(2, 1);
    /* A block committed 0's nonces 1-2 (ours) and 1's nonces 1-2 (other
     * bodies: ours became stale); 2 was not in it. */
    fx.st.signers[0].committed = 2;
    fx.st.signers[1].committed = 2;
    memcpy(signers, fx.keys[0].pubkey, 32);
    memcpy(signers + 32, fx.keys[1].pubkey, 32);
    memcpy(signers + 64, fx.keys[0].pubkey, 32); /* a repeat */
    ck_assert_int_eq(mempool_update(fx.mp, errmsg, signers, 3), 0);
    stats = fx_stats();
    ck_assert_uint_eq(stats.txs, 2);
    ck_assert_uint_eq(stats.signers, 2);
    ck_assert_uint_eq(stats.removed_committed, 4);
    n = mempool_reap(fx.mp, out, 16, UINT64_MAX);
    expect_reap(out, n, left, 2);
    /* Signer 1 starts over at the end of the order. */
    add_ok(1, 3);
    n = mempool_reap(fx.mp, out, 16, UINT64_MAX);
    ck_assert_uint_eq(n, 3);
    ck_assert_mem_eq(out[2].signer, fx.keys[1].pubkey, 32);

    /* A signer that is no longer known loses all its txs. */
    fx.st.signers[0].known = 0;
    ck_assert_int_eq(mempool_update(fx.mp, errmsg, fx.keys[0].pubkey, 1), 0);
    ck_assert_uint_eq(fx_stats().removed_signer_gone, 1);
    ck_assert_uint_eq(fx_stats().txs, 2);

    /* A failed state read keeps the txs and says which signer. */
    fx.st.fail_rc = TDEI_IOERR;
    ck_assert_int_eq(mempool_update(fx.mp, errmsg, fx.keys[2].pubkey, 1),
                     TDEI_IOERR);
    ck_assert_ptr_nonnull(strstr(errmsg, "store read failed"));
    ck_assert_uint_eq(fx_stats().txs, 2);
    fx.st.fail_rc = 0;
    /* A signer with nothing pending is skipped without a state read. */
    fx.st.calls = 0;
    ck_assert_int_eq(mempool_update(fx.mp, errmsg, fx.keys[3].pubkey, 1), 0);
    ck_assert_uint_eq(fx.st.calls, 0);
    fx_close();
}
END_TEST

/* ------------------------------------------------------------------------
 * Signature cache
 * ------------------------------------------------------------------------ */

START_TEST(test_mempool_sig_cache_hit_miss_and_eviction)
{
    struct mempool_options opts;
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t *bytes[3];
    size_t len[3];
    uint8_t id[3][32], sig[3][64];
    struct mempool_stats stats;

    fx_opts_small(&opts);
    opts.sig_cache_max = 2;
    fx_open(&opts);
    for (size_t i = 0; i < 3; i++) {
        bytes[i] = tx_make(i, 1, &len[i]);
        tx_parts(bytes[i], len[i], id[i], sig[i]);
    }
    ck_assert_int_eq(mempool_sig_verified(fx.mp, id[0], sig[0]), 0);
    ck_assert_int_eq(mempool_add(fx.mp, NULL, errmsg, bytes[0], len[0]), 0);
    ck_assert_int_eq(mempool_sig_verified(fx.mp, id[0], sig[0]), 1);
    /* Another signature over the same id is a miss. */
    ck_assert_int_eq(mempool_sig_verified(fx.mp, id[0], sig[1]), 0);
    ck_assert_int_eq(mempool_add(fx.mp, NULL, errmsg, bytes[1], len[1]), 0);
    ck_assert_int_eq(mempool_add(fx.mp, NULL, errmsg, bytes[2], len[2]), 0);
    /* FIFO: the oldest went. */
    ck_assert_int_eq(mempool_sig_verified(fx.mp, id[0], sig[0]), 0);
    ck_assert_int_eq(mempool_sig_verified(fx.mp, id[1], sig[1]), 1);
    ck_assert_int_eq(mempool_sig_verified(fx.mp, id[2], sig[2]), 1);
    stats = fx_stats();
    ck_assert_uint_eq(stats.sig_cache_entries, 2);
    ck_assert_uint_eq(stats.sig_cache_evictions, 1);
    ck_assert_uint_eq(stats.sig_cache_hits, 3);
    ck_assert_uint_eq(stats.sig_cache_misses, 3);
    ck_assert_uint_eq(stats.verified_inline, 3);

    /* A tx refused after its check (here: nonce committed meanwhile, via
     * update) and sent again is not verified again. */
    fx.st.signers[2].committed = 1;
    ck_assert_int_eq(mempool_update(fx.mp, errmsg, fx.keys[2].pubkey, 1), 0);
    fx.st.signers[2].committed = 0;
    ck_assert_int_eq(mempool_add(fx.mp, NULL, errmsg, bytes[2], len[2]), 0);
    ck_assert_uint_eq(fx_stats().verified_inline, 3);
    for (size_t i = 0; i < 3; i++) {
        tdei_free(bytes[i]);
    }
    fx_close();
}
END_TEST

/* Execution asks the cache from other threads while workers fill it. */
struct reader_arg
{
    struct mempool *mp;
    const uint8_t (*ids)[32];
    const uint8_t (*sigs)[64];
    size_t n;
    unsigned rounds;
};

static void reader_main(void *p)
{
    struct reader_arg *a = p;

    for (unsigned r = 0; r < a->rounds; r++) {
        for (size_t i = 0; i < a->n; i++) {
            (void)mempool_sig_verified(a->mp, a->ids[i], a->sigs[i]);
        }
    }
}

START_TEST(test_mempool_sig_cache_is_thread_safe)
{
    enum { N = 32 };
    struct mempool_options opts;
    char errmsg[TDEI_ERRMSG_SIZE];
    static uint8_t ids[N][32], sigs[N][64];
    static struct result r[N];
    uv_thread_t readers[2];
    struct reader_arg arg;

    fx_opts_small(&opts);
    opts.sig_cache_max = N / 2; /* evictions while readers read */
    fx_open(&opts);
    arg = (struct reader_arg){fx.mp, (const uint8_t(*)[32])ids,
                              (const uint8_t(*)[64])sigs, N, 200};
    for (size_t i = 0; i < N; i++) {
        size_t len;
        uint8_t *bytes = tx_make(i % 5, 1 + i / 5, &len);

        tx_parts(bytes, len, ids[i], sigs[i]);
        ck_assert_int_eq(submit(bytes, len, &r[i], errmsg), 0);
        tdei_free(bytes);
    }
    for (size_t i = 0; i < 2; i++) {
        ck_assert_int_eq(uv_thread_create(&readers[i], reader_main, &arg), 0);
    }
    run_loop();
    for (size_t i = 0; i < 2; i++) {
        ck_assert_int_eq(uv_thread_join(&readers[i]), 0);
    }
    for (size_t i = 0; i < N; i++) {
        ck_assert_int_eq(r[i].status, 0);
    }
    ck_assert_uint_eq(fx_stats().sig_cache_entries, N / 2);
    ck_assert_uint_eq(fx_stats().sig_cache_evictions, N / 2);
    fx_close();
}
END_TEST

/* ------------------------------------------------------------------------
 * Shutdown, out of memory, scale
 * ------------------------------------------------------------------------ */

START_TEST(test_mempool_cancel_reports_canceled)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct result r[6];
    struct mempool_entry out[4];

    fx_open_default();
    add_ok(5 - 1, 1);
    for (size_t i = 0; i < 6; i++) {
        size_t len;
        uint8_t *bytes = tx_make(i % 4, 1 + i / 4, &len);

        ck_assert_int_eq(submit(bytes, len, &r[i], errmsg), 0);
        tdei_free(bytes);
    }
    mempool_cancel(fx.mp);
    run_loop();
    for (size_t i = 0; i < 6; i++) {
        ck_assert_int_eq(r[i].calls, 1);
        ck_assert_int_eq(r[i].status, TDEI_CANCELED);
    }
    {
        size_t len;
        uint8_t *bytes = tx_make(0, 9, &len);

        ck_assert_int_eq(submit(bytes, len, &r[0], errmsg), TDEI_CANCELED);
        ck_assert_int_eq(mempool_add(fx.mp, NULL, errmsg, bytes, len),
                         TDEI_CANCELED);
        tdei_free(bytes);
    }
    /* What was pending stays readable until destroy. */
    ck_assert_uint_eq(mempool_reap(fx.mp, out, 4, UINT64_MAX), 1);
    ck_assert_uint_eq(fx_stats().verify_inflight, 0);
    fx_close();
}
END_TEST

START_TEST(test_mempool_out_of_memory_leaves_pool_consistent)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    /* A second tx of a pending signer, then the first of two new ones. */
    static const size_t key[3] = {0, 1, 2};
    static const uint64_t nonce[3] = {2, 1, 1};

    fx_open_default();
    add_ok(0, 1);
    for (size_t i = 0; i < 3; i++) {
        size_t len;
        uint8_t *bytes = tx_make(key[i], nonce[i], &len);
        int admitted = 0;

        /* Fail each allocation in turn until the add goes through. */
        for (long k = 0; k < 64 && !admitted; k++) {
            int rc;

            tdei_alloc_fail_inject(k, 1);
            rc = mempool_add(fx.mp, NULL, errmsg, bytes, len);
            tdei_alloc_fail_inject(-1, 0);
            if (rc == 0) {
                admitted = 1;
            } else {
                ck_assert_msg(rc == TDEI_NOMEM, "%d %s", rc, errmsg);
                ck_assert_uint_eq(fx_stats().txs, 1 + i);
            }
        }
        ck_assert(admitted);
        tdei_free(bytes);
    }
    ck_assert_uint_eq(fx_stats().txs, 4);
    ck_assert_uint_eq(fx_stats().signers, 3);
    fx_close();
}
END_TEST

/* Many txs over few signers: lookups stay right through inserts and
 * removals (the tables' backward-shift deletion), and counts add up. */
START_TEST(test_mempool_many_txs_tables_consistent)
{
    enum { SIGNERS = 5, PER = 120 };
    struct mempool_options opts;
    char errmsg[TDEI_ERRMSG_SIZE];
    static uint8_t ids[SIGNERS][PER][32];
    static struct mempool_entry out[SIGNERS * PER];
    uint8_t signers[SIGNERS * 32];
    struct mempool_entry e;
    size_t n;

    fx_opts_small(&opts);
    opts.max_txs = SIGNERS * PER; /* small tables: long probe chains */
    opts.max_per_signer = PER;
    fx_open(&opts);
    for (size_t p = 0; p < PER; p++) {
        for (size_t s = 0; s < SIGNERS; s++) {
            size_t len;
            uint8_t *bytes = tx_make(s, PER - p, &len); /* reverse order */

            ck_assert_msg(mempool_add(fx.mp, ids[s][PER - p - 1], errmsg, bytes,
                                      len) == 0,
                          "%s", errmsg);
            tdei_free(bytes);
        }
    }
    ck_assert_uint_eq(fx_stats().txs, SIGNERS * PER);
    n = mempool_reap(fx.mp, out, SIGNERS * PER, UINT64_MAX);
    ck_assert_uint_eq(n, SIGNERS * PER);
    /* Round-robin: position i is nonce i / SIGNERS + 1. */
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(out[i].nonce, i / SIGNERS + 1);
    }
    /* Commit a different depth per signer. */
    for (size_t s = 0; s < SIGNERS; s++) {
        fx.st.signers[s].committed = 17 * s + 3;
        memcpy(signers + 32 * s, fx.keys[s].pubkey, 32);
    }
    ck_assert_int_eq(mempool_update(fx.mp, errmsg, signers, SIGNERS), 0);
    for (size_t s = 0; s < SIGNERS; s++) {
        for (size_t p = 0; p < PER; p++) {
            int want = p + 1 > 17 * s + 3 ? 0 : TDEI_NOTFOUND;

            ck_assert_int_eq(mempool_lookup(fx.mp, &e, ids[s][p]), want);
            if (want == 0) {
                ck_assert_uint_eq(e.nonce, p + 1);
            }
        }
    }
    ck_assert_uint_eq(fx_stats().txs, SIGNERS * PER - (3 + 20 + 37 + 54 + 71));
    fx_close();
}
END_TEST

START_TEST(test_mempool_refusal_codes_map)
{
    ck_assert_int_eq(mempool_refusal_code(MEMPOOL_REFUSED_FULL),
                     TDEI_MEMPOOL_FULL);
    ck_assert_int_eq(mempool_refusal_code(MEMPOOL_REFUSED_NONCE_GAP),
                     TDEI_NONCE_GAP);
    ck_assert_int_eq(mempool_refusal_code(MEMPOOL_REFUSED_BADSIG), TDEI_BADSIG);
    ck_assert_str_eq(tdei_errname(TDEI_NONCE_TAKEN), "TDEI_NONCE_TAKEN");
    ck_assert_ptr_nonnull(strchr(tdei_strerror(TDEI_SIGNER_FULL), ';'));
    ck_assert_ptr_nonnull(strchr(tdei_strerror(TDEI_CANCELED), ';'));
}
END_TEST

/* ------------------------------------------------------------------------
 * Suite
 * ------------------------------------------------------------------------ */

static TCase *leak_tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, testutil_leak_setup, testutil_leak_teardown);
    tcase_set_timeout(tc, 60);
    return tc;
}

static Suite *mempool_suite(void)
{
    Suite *suite = suite_create("mempool");
    TCase *tc;

    tc = leak_tcase("options");
    tcase_add_test(tc, test_mempool_options_defaults_and_ranges);
    tcase_add_test(tc, test_mempool_create_refuses_bad_options);
    tcase_add_test(tc, test_mempool_refusal_codes_map);
    suite_add_tcase(suite, tc);

    tc = leak_tcase("verify");
    tcase_add_test(tc, test_mempool_submit_verifies_on_worker_thread);
    tcase_add_test(tc, test_mempool_submit_many_all_on_workers);
    tcase_add_test(tc, test_mempool_refuses_bad_signature);
    tcase_add_test(tc, test_mempool_parsed_key_of_signer_still_checks);
    tcase_add_test(tc, test_mempool_sync_refusal_never_calls_back);
    tcase_add_test(tc, test_mempool_rechecks_after_verification);
    tcase_add_test(tc, test_mempool_cancel_reports_canceled);
    suite_add_tcase(suite, tc);

    tc = leak_tcase("refusals");
    tcase_add_test(tc, test_mempool_refuses_tx_over_size_limit);
    tcase_add_test(tc, test_mempool_refuses_malformed);
    tcase_add_test(tc, test_mempool_refuses_unknown_op);
    tcase_add_test(tc, test_mempool_refuses_wrong_chain_id);
    tcase_add_test(tc, test_mempool_refuses_unknown_signer);
    tcase_add_test(tc, test_mempool_refuses_nonce_replay);
    tcase_add_test(tc, test_mempool_refuses_nonce_beyond_window);
    tcase_add_test(tc, test_mempool_refuses_duplicate);
    tcase_add_test(tc, test_mempool_same_body_other_signature);
    tcase_add_test(tc, test_mempool_refuses_conflicting_nonce);
    tcase_add_test(tc, test_mempool_refuses_one_past_per_signer_cap);
    tcase_add_test(tc, test_mempool_refuses_one_past_max_txs);
    tcase_add_test(tc, test_mempool_refuses_one_past_max_bytes);
    tcase_add_test(tc, test_mempool_refuses_one_past_inflight_bound);
    suite_add_tcase(suite, tc);

    tc = leak_tcase("order");
    tcase_add_test(tc, test_mempool_reap_waits_for_gaps);
    tcase_add_test(tc, test_mempool_reap_round_robin_in_arrival_order);
    tcase_add_test(tc, test_mempool_update_removes_included_and_stale);
    tcase_add_test(tc, test_mempool_many_txs_tables_consistent);
    suite_add_tcase(suite, tc);

    tc = leak_tcase("sig_cache");
    tcase_add_test(tc, test_mempool_sig_cache_hit_miss_and_eviction);
    tcase_add_test(tc, test_mempool_sig_cache_is_thread_safe);
    suite_add_tcase(suite, tc);

    tc = leak_tcase("robustness");
    tcase_add_test(tc, test_mempool_out_of_memory_leaves_pool_consistent);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) { return testutil_run(mempool_suite()); }
