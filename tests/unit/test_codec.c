/* Tests of the ledger codec: round trips, every limit and one past it,
 * canonical encodings, truncations, random and mutated bytes, and the
 * exact sign-bytes layouts documented in codec.h. */
#include "testutil.h"

#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"

#include <stdio.h>
#include <string.h>

#define CHAIN "tdei-test"

static const struct codec_limits limits_default = CODEC_LIMITS_DEFAULT;

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

/* xorshift64*: a deterministic PRNG, so every failure replays. */
static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
    rng_state = seed != 0 ? seed : 0x9e3779b97f4a7c15u;
}

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

static uint8_t *encode(const ProtobufCMessage *msg, size_t *len)
{
    uint8_t *out = NULL;

    ck_assert_int_eq(codec_encode(msg, &out, len), 0);
    return out;
}

/* Concatenate @a and @b into a new tdei_malloc'd buffer. */
static uint8_t *concat(const uint8_t *a, size_t a_len, const uint8_t *b,
                       size_t b_len, size_t *len)
{
    uint8_t *out = tdei_malloc(a_len + b_len);

    ck_assert_ptr_nonnull(out);
    memcpy(out, a, a_len);
    memcpy(out + a_len, b, b_len);
    *len = a_len + b_len;
    return out;
}

/* A transfer tx with room to bend each field. */
struct tx_fx {
    Tdei__Transfer transfer;
    Tdei__Mint mint;
    Tdei__TxBody body;
    char chain_id[80];
    char to[48];
    char memo[300];
    uint8_t signer[40];
    uint8_t sig[72];
};

static void tx_fx_init(struct tx_fx *fx)
{
    memset(fx, 0, sizeof(*fx));
    tdei__transfer__init(&fx->transfer);
    tdei__mint__init(&fx->mint);
    tdei__tx_body__init(&fx->body);
    strcpy(fx->chain_id, CHAIN);
    strcpy(fx->to, "acme-steel");
    strcpy(fx->memo, "invoice 42");
    memset(fx->signer, 0x11, sizeof(fx->signer));
    memset(fx->sig, 0x5a, sizeof(fx->sig));
    fx->transfer.to = fx->to;
    fx->transfer.amount = 1500;
    fx->transfer.memo = fx->memo;
    fx->mint.to = fx->to;
    fx->mint.amount = 9;
    fx->body.version = 1;
    fx->body.chain_id = fx->chain_id;
    fx->body.signer.len = 32;
    fx->body.signer.data = fx->signer;
    fx->body.nonce = 7;
    fx->body.op_case = TDEI__TX_BODY__OP_TRANSFER;
    fx->body.transfer = &fx->transfer;
}

/* Encode @fx's body, decode it, free the result, return the code. */
static int body_rc(struct tx_fx *fx, char *errmsg)
{
    Tdei__TxBody *decoded = (Tdei__TxBody *)1;
    size_t len;
    uint8_t *bytes = encode(&fx->body.base, &len);
    int rc = codec_txbody_decode(&decoded, bytes, len, errmsg);

    if (rc != 0) {
        ck_assert_ptr_null(decoded);
    }
    codec_txbody_free(decoded);
    tdei_free(bytes);
    return rc;
}

/* Encode a Tx of @fx's body and a sig of @sig_len bytes. */
static uint8_t *tx_bytes(struct tx_fx *fx, size_t sig_len, size_t *len)
{
    Tdei__Tx tx = TDEI__TX__INIT;
    size_t body_len;
    uint8_t *body = encode(&fx->body.base, &body_len);
    uint8_t *out;

    tx.body.len = body_len;
    tx.body.data = body;
    tx.sig.len = sig_len;
    tx.sig.data = fx->sig;
    out = encode(&tx.base, len);
    tdei_free(body);
    return out;
}

/* Static hashes and keys for headers. */
static uint8_t last_block_id[32];
static uint8_t hashes[5][32];
static uint8_t proposer_key[40]; /* slack for a 33-byte test */

static void header_init(Tdei__Header *header, uint64_t height)
{
    memset(last_block_id, 0x22, sizeof(last_block_id));
    for (size_t i = 0; i < 5; i++) {
        memset(hashes[i], (int)(0x40 + i), sizeof(hashes[i]));
    }
    memset(proposer_key, 0x77, sizeof(proposer_key));
    tdei__header__init(header);
    header->version = 1;
    header->chain_id = (char *)CHAIN;
    header->height = height;
    header->time_ms = 1700000000000u + height;
    if (height > 1) {
        header->last_block_id.len = 32;
        header->last_block_id.data = last_block_id;
    }
    header->txs_root = (ProtobufCBinaryData){32, hashes[0]};
    header->last_results_root = (ProtobufCBinaryData){32, hashes[1]};
    header->app_hash = (ProtobufCBinaryData){32, hashes[2]};
    header->validators_hash = (ProtobufCBinaryData){32, hashes[3]};
    header->next_validators_hash = (ProtobufCBinaryData){32, hashes[4]};
    header->proposer = (ProtobufCBinaryData){32, proposer_key};
}

/* A block: header, @n_txs txs of @tx_len bytes, and for height > 1 a
 * commit of @n_sigs signatures with ascending keys. */
struct block_fx {
    Tdei__Header header;
    uint8_t *header_bytes;
    size_t header_len;
    uint8_t tx_byte[TDEI_KIB];
    ProtobufCBinaryData *txs;
    Tdei__Commit commit;
    Tdei__CommitSig *sigs;
    Tdei__CommitSig **sig_ptrs;
    uint8_t (*keys)[32];
    uint8_t sig[64];
    Tdei__Block block;
};

static void block_fx_init(struct block_fx *fx, uint64_t height,
                          size_t n_txs, size_t tx_len, size_t n_sigs)
{
    memset(fx, 0, sizeof(*fx));
    ck_assert_uint_le(tx_len, sizeof(fx->tx_byte));
    header_init(&fx->header, height);
    fx->header_bytes = encode(&fx->header.base, &fx->header_len);
    memset(fx->tx_byte, 0xab, sizeof(fx->tx_byte));
    memset(fx->sig, 0x66, sizeof(fx->sig));
    fx->txs = tdei_calloc(n_txs + 1, sizeof(*fx->txs));
    fx->sigs = tdei_calloc(n_sigs + 1, sizeof(*fx->sigs));
    fx->sig_ptrs = tdei_calloc(n_sigs + 1, sizeof(*fx->sig_ptrs));
    fx->keys = tdei_calloc(n_sigs + 1, sizeof(*fx->keys));
    ck_assert(fx->txs && fx->sigs && fx->sig_ptrs && fx->keys);
    for (size_t i = 0; i < n_txs; i++) {
        fx->txs[i].len = tx_len;
        fx->txs[i].data = fx->tx_byte;
    }
    tdei__commit__init(&fx->commit);
    fx->commit.height = height - 1;
    fx->commit.round = 2;
    fx->commit.block_id = (ProtobufCBinaryData){32, last_block_id};
    for (size_t i = 0; i < n_sigs; i++) {
        memset(fx->keys[i], 0x33, 32);
        fx->keys[i][0] = (uint8_t)(i >> 8);
        fx->keys[i][1] = (uint8_t)i;
        tdei__commit_sig__init(&fx->sigs[i]);
        fx->sigs[i].validator = (ProtobufCBinaryData){32, fx->keys[i]};
        fx->sigs[i].sig = (ProtobufCBinaryData){64, fx->sig};
        fx->sig_ptrs[i] = &fx->sigs[i];
    }
    fx->commit.n_signatures = n_sigs;
    fx->commit.signatures = fx->sig_ptrs;
    tdei__block__init(&fx->block);
    fx->block.header = (ProtobufCBinaryData){fx->header_len, fx->header_bytes};
    fx->block.n_txs = n_txs;
    fx->block.txs = fx->txs;
    fx->block.last_commit = height > 1 ? &fx->commit : NULL;
}

/* Re-encode the header after the test changed it. */
static void block_fx_reheader(struct block_fx *fx)
{
    tdei_free(fx->header_bytes);
    fx->header_bytes = encode(&fx->header.base, &fx->header_len);
    fx->block.header = (ProtobufCBinaryData){fx->header_len, fx->header_bytes};
}

static void block_fx_close(struct block_fx *fx)
{
    tdei_free(fx->header_bytes);
    tdei_free(fx->txs);
    tdei_free(fx->sigs);
    tdei_free(fx->sig_ptrs);
    tdei_free(fx->keys);
}

static int block_rc(struct block_fx *fx, const struct codec_limits *limits,
                    char *errmsg)
{
    Tdei__Block *block = NULL;
    Tdei__Header *header = NULL;
    size_t len;
    uint8_t *bytes = encode(&fx->block.base, &len);
    int rc = codec_block_decode(&block, &header, bytes, len, limits, errmsg);

    if (rc != 0) {
        ck_assert_ptr_null(block);
        ck_assert_ptr_null(header);
    }
    codec_block_free(block);
    codec_header_free(header);
    tdei_free(bytes);
    return rc;
}

static int commit_rc(Tdei__Commit *commit, char *errmsg)
{
    Tdei__Commit *decoded = NULL;
    size_t len;
    uint8_t *bytes = encode(&commit->base, &len);
    int rc =
        codec_commit_decode(&decoded, bytes, len, &limits_default, errmsg);

    codec_commit_free(decoded);
    tdei_free(bytes);
    return rc;
}

/* A vote with its own buffers. */
struct vote_fx {
    Tdei__Vote vote;
    uint8_t block_id[40];
    uint8_t validator[40];
    uint8_t sig[72];
};

static void vote_fx_init(struct vote_fx *fx, uint8_t block_byte)
{
    memset(fx, 0, sizeof(*fx));
    memset(fx->block_id, block_byte, sizeof(fx->block_id));
    memset(fx->validator, 0x44, sizeof(fx->validator));
    memset(fx->sig, 0x55, sizeof(fx->sig));
    tdei__vote__init(&fx->vote);
    fx->vote.type = CODEC_VOTE_PRECOMMIT;
    fx->vote.height = 812;
    fx->vote.round = 3;
    fx->vote.block_id = (ProtobufCBinaryData){32, fx->block_id};
    fx->vote.validator = (ProtobufCBinaryData){32, fx->validator};
    fx->vote.sig = (ProtobufCBinaryData){64, fx->sig};
}

static int vote_rc(Tdei__Vote *vote, char *errmsg)
{
    Tdei__Vote *decoded = NULL;
    size_t len;
    uint8_t *bytes = encode(&vote->base, &len);
    int rc = codec_vote_decode(&decoded, bytes, len, errmsg);

    codec_vote_free(decoded);
    tdei_free(bytes);
    return rc;
}

/* Run @buf through every decoder. A decoder that accepts must have seen
 * the canonical encoding: re-encoding gives the same bytes. Returns the
 * number of decoders that accepted. */
static int decode_all(const uint8_t *buf, size_t len)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    int accepted = 0;
    uint8_t *again;
    size_t again_len;

#define CHECK_ACCEPTED(msg)                                                   \
    do {                                                                      \
        ck_assert_int_eq(codec_encode(msg, &again, &again_len), 0);           \
        ck_assert_uint_eq(again_len, len);                                    \
        ck_assert_mem_eq(again, buf, len);                                    \
        tdei_free(again);                                                     \
        accepted++;                                                           \
    } while (0)

    {
        Tdei__Tx *m = NULL;
        if (codec_tx_decode(&m, buf, len, TDEI_TX_SIZE_MAX, errmsg) == 0) {
            CHECK_ACCEPTED(&m->base);
        }
        codec_tx_free(m);
    }
    {
        Tdei__TxBody *m = NULL;
        if (codec_txbody_decode(&m, buf, len, errmsg) == 0) {
            CHECK_ACCEPTED(&m->base);
        }
        codec_txbody_free(m);
    }
    {
        Tdei__Header *m = NULL;
        if (codec_header_decode(&m, buf, len, errmsg) == 0) {
            CHECK_ACCEPTED(&m->base);
        }
        codec_header_free(m);
    }
    {
        Tdei__Block *m = NULL;
        Tdei__Header *h = NULL;
        if (codec_block_decode(&m, &h, buf, len, &limits_default, errmsg) ==
            0) {
            CHECK_ACCEPTED(&m->base);
        }
        codec_block_free(m);
        codec_header_free(h);
    }
    {
        Tdei__Vote *m = NULL;
        if (codec_vote_decode(&m, buf, len, errmsg) == 0) {
            CHECK_ACCEPTED(&m->base);
        }
        codec_vote_free(m);
    }
    {
        Tdei__Commit *m = NULL;
        if (codec_commit_decode(&m, buf, len, &limits_default, errmsg) == 0) {
            CHECK_ACCEPTED(&m->base);
        }
        codec_commit_free(m);
    }
    {
        Tdei__Proposal *m = NULL;
        if (codec_proposal_decode(&m, NULL, buf, len, &limits_default,
                                  errmsg) == 0) {
            CHECK_ACCEPTED(&m->base);
        }
        codec_proposal_free(m);
    }
    {
        Tdei__Evidence *m = NULL;
        if (codec_evidence_decode(&m, buf, len, errmsg) == 0) {
            CHECK_ACCEPTED(&m->base);
        }
        codec_evidence_free(m);
    }
    {
        Tdei__TxResult *m = NULL;
        if (codec_txresult_decode(&m, buf, len, errmsg) == 0) {
            CHECK_ACCEPTED(&m->base);
        }
        codec_txresult_free(m);
    }
    {
        Tdei__ValidatorSet *m = NULL;
        if (codec_validator_set_decode(&m, buf, len, &limits_default,
                                       errmsg) == 0) {
            CHECK_ACCEPTED(&m->base);
        }
        codec_validator_set_free(m);
    }
#undef CHECK_ACCEPTED
    return accepted;
}

/* ------------------------------------------------------------------------
 * Transactions
 * ------------------------------------------------------------------------ */

START_TEST(test_codec_tx_round_trip)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    struct tx_fx fx;
    Tdei__Tx *tx = NULL;
    Tdei__TxBody *body = NULL;
    uint8_t id[32];
    uint8_t expect_id[32];
    uint8_t *again;
    size_t again_len;
    size_t len;
    uint8_t *bytes;

    tx_fx_init(&fx);
    bytes = tx_bytes(&fx, 64, &len);
    ck_assert_int_eq(codec_tx_decode(&tx, bytes, len, TDEI_TX_SIZE_MAX,
                                     errmsg),
                     0);
    ck_assert_str_eq(errmsg, "");
    ck_assert_uint_eq(tx->sig.len, 64);
    ck_assert_mem_eq(tx->sig.data, fx.sig, 64);
    ck_assert_int_eq(
        codec_txbody_decode(&body, tx->body.data, tx->body.len, errmsg), 0);
    ck_assert_uint_eq(body->version, 1);
    ck_assert_str_eq(body->chain_id, CHAIN);
    ck_assert_uint_eq(body->signer.len, 32);
    ck_assert_mem_eq(body->signer.data, fx.signer, 32);
    ck_assert_uint_eq(body->nonce, 7);
    ck_assert_int_eq(body->op_case, TDEI__TX_BODY__OP_TRANSFER);
    ck_assert_str_eq(body->transfer->to, "acme-steel");
    ck_assert_uint_eq(body->transfer->amount, 1500);
    ck_assert_str_eq(body->transfer->memo, "invoice 42");

    /* The tx id is SHA-256 of the body bytes as carried. */
    codec_tx_id(id, tx->body.data, tx->body.len);
    tdei_sha256(expect_id, tx->body.data, tx->body.len);
    ck_assert_mem_eq(id, expect_id, 32);

    /* Decoded messages re-encode to the bytes that came in. */
    ck_assert_int_eq(codec_tx_encode(tx, &again, &again_len), 0);
    ck_assert_uint_eq(again_len, len);
    ck_assert_mem_eq(again, bytes, len);
    tdei_free(again);
    ck_assert_int_eq(codec_txbody_encode(body, &again, &again_len), 0);
    ck_assert_uint_eq(again_len, tx->body.len);
    ck_assert_mem_eq(again, tx->body.data, again_len);
    tdei_free(again);

    codec_txbody_free(body);
    codec_tx_free(tx);
    tdei_free(bytes);
}
END_TEST

START_TEST(test_codec_tx_mint_round_trip)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct tx_fx fx;
    Tdei__TxBody *body = NULL;
    size_t len;
    uint8_t *bytes;

    tx_fx_init(&fx);
    fx.body.op_case = TDEI__TX_BODY__OP_MINT;
    fx.body.mint = &fx.mint;
    fx.body.nonce = 1;
    bytes = encode(&fx.body.base, &len);
    ck_assert_int_eq(codec_txbody_decode(&body, bytes, len, errmsg), 0);
    ck_assert_int_eq(body->op_case, TDEI__TX_BODY__OP_MINT);
    ck_assert_str_eq(body->mint->to, "acme-steel");
    ck_assert_uint_eq(body->mint->amount, 9);
    ck_assert_uint_eq(body->nonce, 1);
    codec_txbody_free(body);
    tdei_free(bytes);
}
END_TEST

START_TEST(test_codec_tx_size_limit)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    static uint8_t body[TDEI_TX_SIZE_MAX];
    uint8_t sig[64];
    Tdei__Tx msg = TDEI__TX__INIT;
    Tdei__Tx *tx = NULL;
    uint8_t *bytes;
    size_t len;

    /* A Tx of exactly the limit: 1 tag + 3 length + body + 66 of sig. */
    memset(body, 0xcd, sizeof(body));
    memset(sig, 0x5a, sizeof(sig));
    msg.body = (ProtobufCBinaryData){TDEI_TX_SIZE_MAX - 70, body};
    msg.sig = (ProtobufCBinaryData){64, sig};
    bytes = encode(&msg.base, &len);
    ck_assert_uint_eq(len, TDEI_TX_SIZE_MAX);
    ck_assert_int_eq(
        codec_tx_decode(&tx, bytes, len, TDEI_TX_SIZE_MAX, errmsg), 0);
    codec_tx_free(tx);
    tdei_free(bytes);

    /* One byte more. */
    msg.body.len++;
    bytes = encode(&msg.base, &len);
    ck_assert_uint_eq(len, TDEI_TX_SIZE_MAX + 1);
    tx = (Tdei__Tx *)1;
    ck_assert_int_eq(
        codec_tx_decode(&tx, bytes, len, TDEI_TX_SIZE_MAX, errmsg),
        TDEI_TOOBIG);
    ck_assert_ptr_null(tx);
    ck_assert_str_eq(errmsg, "tx is 65537 bytes; the limit is 65536 "
                             "(params.tx_size_max)");
    tdei_free(bytes);
}
END_TEST

START_TEST(test_codec_tx_sig_length)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct tx_fx fx;
    Tdei__Tx *tx = NULL;
    uint8_t *bytes;
    size_t len;

    tx_fx_init(&fx);
    bytes = tx_bytes(&fx, 63, &len);
    ck_assert_int_eq(
        codec_tx_decode(&tx, bytes, len, TDEI_TX_SIZE_MAX, errmsg),
        TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "tx sig is 63 bytes; it must be 64");
    tdei_free(bytes);
    bytes = tx_bytes(&fx, 65, &len);
    ck_assert_int_eq(
        codec_tx_decode(&tx, bytes, len, TDEI_TX_SIZE_MAX, errmsg),
        TDEI_MALFORMED);
    tdei_free(bytes);
    bytes = tx_bytes(&fx, 0, &len);
    ck_assert_int_eq(
        codec_tx_decode(&tx, bytes, len, TDEI_TX_SIZE_MAX, errmsg),
        TDEI_MALFORMED);
    tdei_free(bytes);
    ck_assert_ptr_null(tx);
}
END_TEST

START_TEST(test_codec_tx_envelope_not_malleable)
{
    /* Nobody can re-wrap a signed body in other bytes: reordered fields,
     * an extra field or an empty body are refused. */
    char errmsg[TDEI_ERRMSG_SIZE];
    struct tx_fx fx;
    Tdei__Tx *tx = NULL;
    Tdei__Tx half = TDEI__TX__INIT;
    uint8_t *bytes;
    uint8_t *body_part;
    uint8_t *sig_part;
    uint8_t *swapped;
    uint8_t *extra;
    size_t len, body_len, sig_len, swapped_len, extra_len;
    static const uint8_t field7[] = {0x38, 0x01};

    tx_fx_init(&fx);
    bytes = tx_bytes(&fx, 64, &len);
    /* sig then body */
    half.body = (ProtobufCBinaryData){10, fx.sig};
    body_part = encode(&half.base, &body_len);
    half.body = (ProtobufCBinaryData){0, NULL};
    half.sig = (ProtobufCBinaryData){64, fx.sig};
    sig_part = encode(&half.base, &sig_len);
    swapped = concat(sig_part, sig_len, body_part, body_len, &swapped_len);
    ck_assert_int_eq(codec_tx_decode(&tx, swapped, swapped_len,
                                     TDEI_TX_SIZE_MAX, errmsg),
                     TDEI_MALFORMED);
    ck_assert_ptr_nonnull(strstr(errmsg, "canonical"));
    /* an unknown field 7 after the sig */
    extra = concat(bytes, len, field7, sizeof(field7), &extra_len);
    ck_assert_int_eq(codec_tx_decode(&tx, extra, extra_len, TDEI_TX_SIZE_MAX,
                                     errmsg),
                     TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "tx has field 7, which this schema does not "
                             "know; upgrade tdei or fix the sender");
    /* only a sig */
    ck_assert_int_eq(
        codec_tx_decode(&tx, sig_part, sig_len, TDEI_TX_SIZE_MAX, errmsg),
        TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "tx has an empty body");
    ck_assert_ptr_null(tx);
    tdei_free(bytes);
    tdei_free(body_part);
    tdei_free(sig_part);
    tdei_free(swapped);
    tdei_free(extra);
}
END_TEST

START_TEST(test_codec_txbody_chain_id_bounds)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct tx_fx fx;

    tx_fx_init(&fx);
    memset(fx.chain_id, 'c', 64);
    fx.chain_id[64] = '\0';
    ck_assert_int_eq(body_rc(&fx, errmsg), 0);
    fx.chain_id[64] = 'c';
    fx.chain_id[65] = '\0';
    ck_assert_int_eq(body_rc(&fx, errmsg), TDEI_MALFORMED);
    ck_assert_ptr_nonnull(strstr(errmsg, "(65 bytes) is not 1-64 bytes"));
    strcpy(fx.chain_id, "Tdei\x01test");
    ck_assert_int_eq(body_rc(&fx, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "tx chain_id \"Tdei?test\" (9 bytes) is not "
                             "1-64 bytes of [a-z0-9-]");
    fx.chain_id[0] = '\0';
    ck_assert_int_eq(body_rc(&fx, errmsg), TDEI_MALFORMED);
}
END_TEST

START_TEST(test_codec_txbody_signer_length)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct tx_fx fx;

    tx_fx_init(&fx);
    fx.body.signer.len = 31;
    ck_assert_int_eq(body_rc(&fx, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "tx signer is 31 bytes; it must be 32");
    fx.body.signer.len = 33;
    ck_assert_int_eq(body_rc(&fx, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "tx signer is 33 bytes; it must be 32");
    fx.body.signer.len = 0;
    ck_assert_int_eq(body_rc(&fx, errmsg), TDEI_MALFORMED);
}
END_TEST

START_TEST(test_codec_txbody_field_rules)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct tx_fx fx;

    tx_fx_init(&fx);
    fx.body.nonce = 0;
    ck_assert_int_eq(body_rc(&fx, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "tx nonce is 0; nonces start at 1");

    tx_fx_init(&fx);
    fx.transfer.amount = 0;
    ck_assert_int_eq(body_rc(&fx, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "tx transfer amount is 0; it must be at least 1");

    /* Member ids: 3 and 32 bytes pass, 2 and 33 do not. */
    tx_fx_init(&fx);
    strcpy(fx.to, "abc");
    ck_assert_int_eq(body_rc(&fx, errmsg), 0);
    strcpy(fx.to, "ab");
    ck_assert_int_eq(body_rc(&fx, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "tx transfer to \"ab\" (2 bytes) is not a "
                             "member id: 3-32 bytes of [a-z0-9-]");
    memset(fx.to, 'm', 32);
    fx.to[32] = '\0';
    ck_assert_int_eq(body_rc(&fx, errmsg), 0);
    fx.to[32] = 'm';
    fx.to[33] = '\0';
    ck_assert_int_eq(body_rc(&fx, errmsg), TDEI_MALFORMED);
    strcpy(fx.to, "Acme");
    ck_assert_int_eq(body_rc(&fx, errmsg), TDEI_MALFORMED);

    /* Memo: CODEC_MEMO_MAX bytes pass, one more is too big; UTF-8 only. */
    tx_fx_init(&fx);
    memset(fx.memo, 'x', CODEC_MEMO_MAX);
    fx.memo[CODEC_MEMO_MAX] = '\0';
    ck_assert_int_eq(body_rc(&fx, errmsg), 0);
    fx.memo[CODEC_MEMO_MAX] = 'x';
    fx.memo[CODEC_MEMO_MAX + 1] = '\0';
    ck_assert_int_eq(body_rc(&fx, errmsg), TDEI_TOOBIG);
    ck_assert_str_eq(errmsg, "tx transfer memo is 257 bytes; the limit is 256");
    strcpy(fx.memo, "caf\xc3\xa9 \xe5\xb7\xa5\xe4\xb8\x9a");
    ck_assert_int_eq(body_rc(&fx, errmsg), 0);
    strcpy(fx.memo, "bad \xc3");
    ck_assert_int_eq(body_rc(&fx, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "tx transfer memo is not valid UTF-8");
    strcpy(fx.memo, "overlong \xc0\xaf");
    ck_assert_int_eq(body_rc(&fx, errmsg), TDEI_MALFORMED);
    strcpy(fx.memo, "surrogate \xed\xa0\x80");
    ck_assert_int_eq(body_rc(&fx, errmsg), TDEI_MALFORMED);

    /* Mint follows the same member-id and amount rules. */
    tx_fx_init(&fx);
    fx.body.op_case = TDEI__TX_BODY__OP_MINT;
    fx.body.mint = &fx.mint;
    fx.mint.amount = 0;
    ck_assert_int_eq(body_rc(&fx, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "tx mint amount is 0; it must be at least 1");
}
END_TEST

START_TEST(test_codec_txbody_version)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct tx_fx fx;

    tx_fx_init(&fx);
    fx.body.version = 2;
    ck_assert_int_eq(body_rc(&fx, errmsg), TDEI_VERSION);
    ck_assert_str_eq(errmsg, "tx body version 2 is not supported; this node "
                             "reads version 1");
    fx.body.version = 0;
    ck_assert_int_eq(body_rc(&fx, errmsg), TDEI_VERSION);
}
END_TEST

/* Decode @fx's body (encoded without its op) followed by @tail. */
static int body_with_tail_rc(struct tx_fx *fx, const uint8_t *tail,
                             size_t tail_len, char *errmsg)
{
    Tdei__TxBody *decoded = NULL;
    size_t len, all_len;
    uint8_t *bytes = encode(&fx->body.base, &len);
    uint8_t *all = concat(bytes, len, tail, tail_len, &all_len);
    int rc = codec_txbody_decode(&decoded, all, all_len, errmsg);

    codec_txbody_free(decoded);
    tdei_free(bytes);
    tdei_free(all);
    return rc;
}

START_TEST(test_codec_txbody_unknown_op)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct tx_fx fx;
    static const uint8_t op40[] = {0xc2, 0x02, 0x00}; /* field 40, empty */
    static const uint8_t op18[] = {0x92, 0x01, 0x00}; /* field 18, empty */
    static const uint8_t field7[] = {0x38, 0x01};     /* field 7 = 1 */

    ck_assert_int_eq(TDEI_UNKNOWN_OP, 1022);
    ck_assert_str_eq(tdei_errname(TDEI_UNKNOWN_OP), "TDEI_UNKNOWN_OP");

    tx_fx_init(&fx);
    fx.body.op_case = TDEI__TX_BODY__OP__NOT_SET;
    ck_assert_int_eq(body_with_tail_rc(&fx, op40, sizeof(op40), errmsg),
                     TDEI_UNKNOWN_OP);
    ck_assert_str_eq(errmsg, "tx op 40 is not known to this node; upgrade "
                             "tdei, or the sender uses a newer schema");
    ck_assert_int_eq(body_with_tail_rc(&fx, op18, sizeof(op18), errmsg),
                     TDEI_UNKNOWN_OP);
    /* An unknown non-op field is malformed, and no op at all too. */
    ck_assert_int_eq(body_with_tail_rc(&fx, field7, sizeof(field7), errmsg),
                     TDEI_MALFORMED);
    ck_assert_int_eq(body_rc(&fx, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "tx has no op");
    /* A known op beside an unknown one is still an unknown op. */
    tx_fx_init(&fx);
    ck_assert_int_eq(body_with_tail_rc(&fx, op40, sizeof(op40), errmsg),
                     TDEI_UNKNOWN_OP);
}
END_TEST

START_TEST(test_codec_txbody_canonical_only)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct tx_fx fx;
    Tdei__TxBody *decoded = NULL;
    static const uint8_t nonce_again[] = {0x20, 0x07}; /* field 4 = 7 */
    uint8_t *bytes;
    uint8_t *nul;
    size_t len;

    /* The same nonce written twice: protobuf would take it. */
    tx_fx_init(&fx);
    ck_assert_int_eq(
        body_with_tail_rc(&fx, nonce_again, sizeof(nonce_again), errmsg),
        TDEI_MALFORMED);
    ck_assert_ptr_nonnull(strstr(errmsg, "not in canonical encoding"));

    /* A NUL inside the memo would hide the rest of it from C strings. */
    strcpy(fx.memo, "abXcd");
    bytes = encode(&fx.body.base, &len);
    nul = memchr(bytes, 'X', len);
    ck_assert_ptr_nonnull(nul);
    *nul = '\0';
    ck_assert_int_eq(codec_txbody_decode(&decoded, bytes, len, errmsg),
                     TDEI_MALFORMED);
    ck_assert_ptr_null(decoded);
    tdei_free(bytes);

    /* A two-op body: protobuf would silently keep only the last op. */
    tx_fx_init(&fx);
    {
        static const uint8_t mint_op[] = {
            0x8a, 0x01, 0x07, /* field 17 (mint), 7 bytes */
            0x0a, 0x03, 'a', 'b', 'c', /* to = "abc" */
            0x10, 0x01}; /* amount = 1 */
        ck_assert_int_eq(
            body_with_tail_rc(&fx, mint_op, sizeof(mint_op), errmsg),
            TDEI_MALFORMED);
        ck_assert_ptr_nonnull(strstr(errmsg, "not in canonical encoding"));
    }
}
END_TEST

START_TEST(test_codec_tx_prefixes_refused)
{
    /* Every strict prefix of a tx, and of its body, is refused: protobuf
     * would decode many of them, the field rules catch them all. */
    char errmsg[TDEI_ERRMSG_SIZE];
    struct tx_fx fx;
    uint8_t *bytes;
    uint8_t *body;
    size_t len, body_len;

    tx_fx_init(&fx);
    bytes = tx_bytes(&fx, 64, &len);
    for (size_t cut = 0; cut < len; cut++) {
        Tdei__Tx *tx = NULL;
        uint8_t *copy = tdei_malloc(cut);
        memcpy(copy, bytes, cut);
        ck_assert_int_ne(
            codec_tx_decode(&tx, copy, cut, TDEI_TX_SIZE_MAX, errmsg), 0);
        ck_assert_ptr_null(tx);
        tdei_free(copy);
    }
    body = encode(&fx.body.base, &body_len);
    for (size_t cut = 0; cut < body_len; cut++) {
        Tdei__TxBody *decoded = NULL;
        uint8_t *copy = tdei_malloc(cut);
        memcpy(copy, body, cut);
        ck_assert_int_ne(codec_txbody_decode(&decoded, copy, cut, errmsg), 0);
        ck_assert_ptr_null(decoded);
        tdei_free(copy);
    }
    tdei_free(body);
    tdei_free(bytes);
}
END_TEST

/* ------------------------------------------------------------------------
 * Headers and blocks
 * ------------------------------------------------------------------------ */

START_TEST(test_codec_header_rules)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__Header header;
    Tdei__Header *decoded = NULL;
    uint8_t *bytes;
    size_t len;

#define HEADER_RC(expect)                                                     \
    do {                                                                      \
        bytes = encode(&header.base, &len);                                   \
        ck_assert_int_eq(codec_header_decode(&decoded, bytes, len, errmsg),   \
                         expect);                                             \
        codec_header_free(decoded);                                           \
        decoded = NULL;                                                       \
        tdei_free(bytes);                                                     \
    } while (0)

    header_init(&header, 1);
    HEADER_RC(0);
    header_init(&header, 5);
    HEADER_RC(0);
    /* last_block_id: none at height 1, 32 bytes elsewhere. */
    header_init(&header, 1);
    header.last_block_id = (ProtobufCBinaryData){32, last_block_id};
    HEADER_RC(TDEI_MALFORMED);
    header_init(&header, 2);
    header.last_block_id.len = 0;
    HEADER_RC(TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "header last_block_id at height 2 is 0 bytes; "
                             "it must be 32");
    header_init(&header, 2);
    header.app_hash.len = 31;
    HEADER_RC(TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "header app_hash is 31 bytes; it must be 32");
    header_init(&header, 2);
    header.proposer.len = 33;
    HEADER_RC(TDEI_MALFORMED);
    header_init(&header, 2);
    header.version = 2;
    HEADER_RC(TDEI_VERSION);
    header_init(&header, 2);
    header.height = 0;
    HEADER_RC(TDEI_MALFORMED);
    header_init(&header, 2);
    header.time_ms = 0;
    HEADER_RC(TDEI_MALFORMED);
    header_init(&header, 2);
    header.chain_id = (char *)"x";
    HEADER_RC(0);
    header.chain_id = (char *)"";
    HEADER_RC(TDEI_MALFORMED);
#undef HEADER_RC
}
END_TEST

START_TEST(test_codec_header_size_limit)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    static uint8_t big[CODEC_HEADER_SIZE_MAX + 1];
    Tdei__Header *decoded = NULL;

    ck_assert_int_eq(codec_header_decode(&decoded, big, sizeof(big), errmsg),
                     TDEI_TOOBIG);
    ck_assert_str_eq(errmsg, "header is 513 bytes; the limit is 512");
}
END_TEST

START_TEST(test_codec_block_round_trip)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct block_fx fx;
    Tdei__Block *block = NULL;
    Tdei__Header *header = NULL;
    uint8_t id[32], expect[32];
    uint8_t *bytes;
    size_t len;

    block_fx_init(&fx, 9, 3, 100, 4);
    bytes = encode(&fx.block.base, &len);
    ck_assert_int_eq(codec_block_decode(&block, &header, bytes, len,
                                        &limits_default, errmsg),
                     0);
    ck_assert_uint_eq(header->height, 9);
    ck_assert_str_eq(header->chain_id, CHAIN);
    ck_assert_uint_eq(block->n_txs, 3);
    ck_assert_uint_eq(block->txs[2].len, 100);
    ck_assert_uint_eq(block->last_commit->height, 8);
    ck_assert_uint_eq(block->last_commit->n_signatures, 4);
    codec_block_id(id, block->header.data, block->header.len);
    tdei_sha256(expect, fx.header_bytes, fx.header_len);
    ck_assert_mem_eq(id, expect, 32);
    codec_block_free(block);
    codec_header_free(header);

    /* Without the header out-pointer it is still checked, then freed. */
    ck_assert_int_eq(codec_block_decode(&block, NULL, bytes, len,
                                        &limits_default, errmsg),
                     0);
    codec_block_free(block);
    tdei_free(bytes);
    block_fx_close(&fx);

    /* The first block: no last_commit, and an empty block is fine. */
    block_fx_init(&fx, 1, 0, 0, 0);
    ck_assert_int_eq(block_rc(&fx, &limits_default, errmsg), 0);
    block_fx_close(&fx);
}
END_TEST

START_TEST(test_codec_block_tx_count_limit)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct block_fx fx;

    block_fx_init(&fx, 1, TDEI_BLOCK_TXS_MAX, 1, 0);
    ck_assert_int_eq(block_rc(&fx, &limits_default, errmsg), 0);
    block_fx_close(&fx);
    block_fx_init(&fx, 1, TDEI_BLOCK_TXS_MAX + 1, 1, 0);
    ck_assert_int_eq(block_rc(&fx, &limits_default, errmsg), TDEI_TOOBIG);
    ck_assert_str_eq(errmsg, "block has 10001 txs; the limit is 10000 "
                             "(params.block_txs_max)");
    block_fx_close(&fx);
}
END_TEST

START_TEST(test_codec_block_size_limits)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct codec_limits limits = CODEC_LIMITS_DEFAULT;
    struct block_fx fx;
    size_t len;
    uint8_t *bytes;

    block_fx_init(&fx, 3, 2, 500, 1);
    bytes = encode(&fx.block.base, &len);
    tdei_free(bytes);
    limits.block_size_max = len;
    ck_assert_int_eq(block_rc(&fx, &limits, errmsg), 0);
    limits.block_size_max = len - 1;
    ck_assert_int_eq(block_rc(&fx, &limits, errmsg), TDEI_TOOBIG);
    ck_assert_ptr_nonnull(strstr(errmsg, "(params.block_size_max)"));

    limits = limits_default;
    limits.tx_size_max = 500;
    ck_assert_int_eq(block_rc(&fx, &limits, errmsg), 0);
    limits.tx_size_max = 499;
    ck_assert_int_eq(block_rc(&fx, &limits, errmsg), TDEI_TOOBIG);
    ck_assert_str_eq(errmsg, "block tx 0 is 500 bytes; the limit is 499 "
                             "(params.tx_size_max)");
    fx.txs[1].len = 0;
    ck_assert_int_eq(block_rc(&fx, &limits_default, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "block tx 1 is empty");
    block_fx_close(&fx);
}
END_TEST

START_TEST(test_codec_block_commit_rules)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct block_fx fx;
    uint8_t other_id[32];

    block_fx_init(&fx, 4, 1, 10, 3);
    ck_assert_int_eq(block_rc(&fx, &limits_default, errmsg), 0);
    /* missing commit above height 1 */
    fx.block.last_commit = NULL;
    ck_assert_int_eq(block_rc(&fx, &limits_default, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "block at height 4 has no last_commit");
    fx.block.last_commit = &fx.commit;
    /* commit for the wrong height */
    fx.commit.height = 2;
    ck_assert_int_eq(block_rc(&fx, &limits_default, errmsg), TDEI_MALFORMED);
    fx.commit.height = 3;
    /* commit for another block */
    memset(other_id, 0x99, sizeof(other_id));
    fx.commit.block_id.data = other_id;
    ck_assert_int_eq(block_rc(&fx, &limits_default, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "block last_commit is for another block than "
                             "its header's last_block_id");
    fx.commit.block_id.data = last_block_id;
    /* a bad signature inside is named with its index */
    fx.sigs[1].sig.len = 63;
    ck_assert_int_eq(block_rc(&fx, &limits_default, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "block last_commit signature 1 sig is 63 bytes; "
                             "it must be 64");
    fx.sigs[1].sig.len = 64;
    block_fx_close(&fx);

    /* a commit in the first block */
    block_fx_init(&fx, 1, 1, 10, 3);
    fx.block.last_commit = &fx.commit;
    fx.commit.height = 1;
    ck_assert_int_eq(block_rc(&fx, &limits_default, errmsg), TDEI_MALFORMED);
    block_fx_close(&fx);

    /* a bad header is reported as the block's */
    block_fx_init(&fx, 4, 1, 10, 3);
    fx.header.version = 7;
    block_fx_reheader(&fx);
    ck_assert_int_eq(block_rc(&fx, &limits_default, errmsg), TDEI_VERSION);
    ck_assert_str_eq(errmsg, "block: header version 7 is not supported; this "
                             "node reads version 1");
    fx.block.header.len = 0;
    ck_assert_int_eq(block_rc(&fx, &limits_default, errmsg), TDEI_MALFORMED);
    block_fx_close(&fx);
}
END_TEST

START_TEST(test_codec_block_prefixes_refused)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct block_fx fx;
    uint8_t *bytes;
    size_t len;

    block_fx_init(&fx, 6, 3, 40, 3);
    bytes = encode(&fx.block.base, &len);
    for (size_t cut = 0; cut < len; cut++) {
        Tdei__Block *block = NULL;
        Tdei__Header *header = NULL;
        uint8_t *copy = tdei_malloc(cut);
        memcpy(copy, bytes, cut);
        ck_assert_int_ne(codec_block_decode(&block, &header, copy, cut,
                                            &limits_default, errmsg),
                         0);
        ck_assert_ptr_null(block);
        ck_assert_ptr_null(header);
        tdei_free(copy);
    }
    tdei_free(bytes);
    /* The header alone: every prefix refused as well. */
    for (size_t cut = 0; cut < fx.header_len; cut++) {
        Tdei__Header *header = NULL;
        ck_assert_int_ne(
            codec_header_decode(&header, fx.header_bytes, cut, errmsg), 0);
        ck_assert_ptr_null(header);
    }
    block_fx_close(&fx);
}
END_TEST

/* ------------------------------------------------------------------------
 * Commits
 * ------------------------------------------------------------------------ */

START_TEST(test_codec_commit_signature_limit)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct block_fx fx;

    block_fx_init(&fx, 2, 0, 0, TDEI_VALIDATORS_MAX + 1);
    fx.commit.n_signatures = TDEI_VALIDATORS_MAX;
    ck_assert_int_eq(commit_rc(&fx.commit, errmsg), 0);
    fx.commit.n_signatures = TDEI_VALIDATORS_MAX + 1;
    ck_assert_int_eq(commit_rc(&fx.commit, errmsg), TDEI_TOOBIG);
    ck_assert_ptr_nonnull(strstr(errmsg, "(params.validators_max)"));
    /* In a block, too. */
    ck_assert_int_eq(block_rc(&fx, &limits_default, errmsg), TDEI_TOOBIG);
    ck_assert_str_eq(errmsg, "block last_commit has 101 signatures; the "
                             "limit is 100 (params.validators_max)");
    block_fx_close(&fx);
}
END_TEST

START_TEST(test_codec_commit_empty_signatures_refused_early)
{
    /* 101 empty CommitSig entries: small bytes, refused before unpack. */
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t buf[2 * 101];
    Tdei__Commit *commit = NULL;

    for (size_t i = 0; i < 101; i++) {
        buf[2 * i] = 0x22; /* field 4, bytes */
        buf[2 * i + 1] = 0x00;
    }
    ck_assert_int_eq(codec_commit_decode(&commit, buf, sizeof(buf),
                                         &limits_default, errmsg),
                     TDEI_TOOBIG);
    ck_assert_str_eq(errmsg, "commit has 101 signatures; the limit is 100 "
                             "(params.validators_max)");
}
END_TEST

START_TEST(test_codec_commit_order_and_lengths)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct block_fx fx;
    Tdei__CommitSig *swap;

    block_fx_init(&fx, 2, 0, 0, 3);
    ck_assert_int_eq(commit_rc(&fx.commit, errmsg), 0);
    swap = fx.sig_ptrs[0];
    fx.sig_ptrs[0] = fx.sig_ptrs[1];
    fx.sig_ptrs[1] = swap;
    ck_assert_int_eq(commit_rc(&fx.commit, errmsg), TDEI_MALFORMED);
    ck_assert_ptr_nonnull(strstr(errmsg, "strictly ascending"));
    fx.sig_ptrs[1] = fx.sig_ptrs[0]; /* one validator twice */
    ck_assert_int_eq(commit_rc(&fx.commit, errmsg), TDEI_MALFORMED);
    fx.sig_ptrs[0] = &fx.sigs[0];
    fx.sig_ptrs[1] = &fx.sigs[1];
    fx.sigs[2].validator.len = 31;
    ck_assert_int_eq(commit_rc(&fx.commit, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "commit signature 2 validator is 31 bytes; it "
                             "must be 32");
    fx.sigs[2].validator.len = 32;
    fx.commit.block_id.len = 0;
    ck_assert_int_eq(commit_rc(&fx.commit, errmsg), TDEI_MALFORMED);
    fx.commit.block_id.len = 32;
    fx.commit.n_signatures = 0;
    ck_assert_int_eq(commit_rc(&fx.commit, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "commit has no signatures");
    block_fx_close(&fx);
}
END_TEST

START_TEST(test_codec_commit_prefixes_consistent)
{
    /* A prefix that ends between signatures decodes as a commit with
     * fewer signatures; whatever decodes must be the truth's prefix. */
    char errmsg[TDEI_ERRMSG_SIZE];
    struct block_fx fx;
    uint8_t *bytes;
    size_t len;
    size_t accepted = 0;

    block_fx_init(&fx, 2, 0, 0, 4);
    bytes = encode(&fx.commit.base, &len);
    for (size_t cut = 0; cut < len; cut++) {
        Tdei__Commit *commit = NULL;
        if (codec_commit_decode(&commit, bytes, cut, &limits_default,
                                errmsg) != 0) {
            ck_assert_ptr_null(commit);
            continue;
        }
        accepted++;
        ck_assert_uint_eq(commit->height, fx.commit.height);
        ck_assert_uint_eq(commit->round, fx.commit.round);
        ck_assert_mem_eq(commit->block_id.data, last_block_id, 32);
        ck_assert_uint_lt(commit->n_signatures, 4);
        for (size_t i = 0; i < commit->n_signatures; i++) {
            ck_assert_mem_eq(commit->signatures[i]->validator.data,
                             fx.keys[i], 32);
            ck_assert_mem_eq(commit->signatures[i]->sig.data, fx.sig, 64);
        }
        codec_commit_free(commit);
    }
    /* Exactly the cuts after signatures 1, 2 and 3. */
    ck_assert_uint_eq(accepted, 3);
    tdei_free(bytes);
    block_fx_close(&fx);
}
END_TEST

/* ------------------------------------------------------------------------
 * Votes, proposals, evidence
 * ------------------------------------------------------------------------ */

START_TEST(test_codec_vote_rules)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct vote_fx fx;
    Tdei__Vote *vote = NULL;
    uint8_t *bytes;
    size_t len;

    vote_fx_init(&fx, 0x10);
    bytes = encode(&fx.vote.base, &len);
    ck_assert_uint_le(len, 157);
    ck_assert_int_eq(codec_vote_decode(&vote, bytes, len, errmsg), 0);
    ck_assert_uint_eq(vote->type, CODEC_VOTE_PRECOMMIT);
    ck_assert_uint_eq(vote->height, 812);
    ck_assert_uint_eq(vote->round, 3);
    ck_assert_mem_eq(vote->block_id.data, fx.block_id, 32);
    codec_vote_free(vote);
    tdei_free(bytes);

    fx.vote.block_id.len = 0; /* nil */
    fx.vote.type = CODEC_VOTE_PREVOTE;
    ck_assert_int_eq(vote_rc(&fx.vote, errmsg), 0);
    fx.vote.block_id.len = 31;
    ck_assert_int_eq(vote_rc(&fx.vote, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "vote block_id is 31 bytes; it must be 32, or "
                             "empty for nil");
    fx.vote.block_id.len = 32;
    fx.vote.type = 3;
    ck_assert_int_eq(vote_rc(&fx.vote, errmsg), TDEI_MALFORMED);
    fx.vote.type = 0;
    ck_assert_int_eq(vote_rc(&fx.vote, errmsg), TDEI_MALFORMED);
    fx.vote.type = 1;
    fx.vote.sig.len = 63;
    ck_assert_int_eq(vote_rc(&fx.vote, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "vote sig is 63 bytes; it must be 64");
    fx.vote.sig.len = 64;
    fx.vote.validator.len = 33;
    ck_assert_int_eq(vote_rc(&fx.vote, errmsg), TDEI_MALFORMED);
    fx.vote.validator.len = 32;
    fx.vote.height = 0;
    ck_assert_int_eq(vote_rc(&fx.vote, errmsg), TDEI_MALFORMED);

    /* Every strict prefix of a vote is refused (its sig comes last). */
    vote_fx_init(&fx, 0x10);
    bytes = encode(&fx.vote.base, &len);
    for (size_t cut = 0; cut < len; cut++) {
        ck_assert_int_ne(codec_vote_decode(&vote, bytes, cut, errmsg), 0);
        ck_assert_ptr_null(vote);
    }
    tdei_free(bytes);
}
END_TEST

/* A proposal of a block fixture, with its own buffers. */
struct proposal_fx {
    struct block_fx block;
    Tdei__Proposal proposal;
    uint8_t block_id[32];
    uint8_t sig[64];
};

static void proposal_fx_init(struct proposal_fx *fx)
{
    block_fx_init(&fx->block, 7, 2, 30, 2);
    codec_block_id(fx->block_id, fx->block.header_bytes,
                   fx->block.header_len);
    memset(fx->sig, 0x88, sizeof(fx->sig));
    tdei__proposal__init(&fx->proposal);
    fx->proposal.height = 7;
    fx->proposal.round = 2;
    fx->proposal.pol_round = -1;
    fx->proposal.block_id = (ProtobufCBinaryData){32, fx->block_id};
    fx->proposal.block = &fx->block.block;
    fx->proposal.proposer = (ProtobufCBinaryData){32, proposer_key};
    fx->proposal.sig = (ProtobufCBinaryData){64, fx->sig};
}

static int proposal_rc(struct proposal_fx *fx, char *errmsg)
{
    Tdei__Proposal *decoded = NULL;
    Tdei__Header *header = NULL;
    size_t len;
    uint8_t *bytes = encode(&fx->proposal.base, &len);
    int rc = codec_proposal_decode(&decoded, &header, bytes, len,
                                   &limits_default, errmsg);

    if (rc == 0) {
        ck_assert_uint_eq(header->height, decoded->height);
    } else {
        ck_assert_ptr_null(decoded);
        ck_assert_ptr_null(header);
    }
    codec_proposal_free(decoded);
    codec_header_free(header);
    tdei_free(bytes);
    return rc;
}

START_TEST(test_codec_proposal_rules)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct proposal_fx fx;
    uint8_t other[32];

    proposal_fx_init(&fx);
    ck_assert_int_eq(proposal_rc(&fx, errmsg), 0);
    fx.proposal.pol_round = 1;
    ck_assert_int_eq(proposal_rc(&fx, errmsg), 0);
    fx.proposal.pol_round = 2; /* must be below round */
    ck_assert_int_eq(proposal_rc(&fx, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "proposal pol_round 2 must be -1 or a round "
                             "below its round 2");
    fx.proposal.pol_round = -2;
    ck_assert_int_eq(proposal_rc(&fx, errmsg), TDEI_MALFORMED);
    fx.proposal.pol_round = -1;
    memset(other, 0x01, sizeof(other));
    fx.proposal.block_id.data = other;
    ck_assert_int_eq(proposal_rc(&fx, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "proposal block_id is not SHA-256 of its "
                             "block's header");
    fx.proposal.block_id.data = fx.block_id;
    fx.proposal.height = 8;
    ck_assert_int_eq(proposal_rc(&fx, errmsg), TDEI_MALFORMED);
    fx.proposal.height = 7;
    fx.proposal.proposer.data = other;
    ck_assert_int_eq(proposal_rc(&fx, errmsg), TDEI_MALFORMED);
    fx.proposal.proposer.data = proposer_key;
    fx.proposal.sig.len = 63;
    ck_assert_int_eq(proposal_rc(&fx, errmsg), TDEI_MALFORMED);
    fx.proposal.sig.len = 64;
    fx.proposal.block = NULL;
    ck_assert_int_eq(proposal_rc(&fx, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "proposal has no block");
    fx.proposal.block = &fx.block.block;
    fx.block.sigs[0].sig.len = 1;
    ck_assert_int_eq(proposal_rc(&fx, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "proposal block last_commit signature 0 sig is "
                             "1 bytes; it must be 64");
    fx.block.sigs[0].sig.len = 64;
    ck_assert_int_eq(proposal_rc(&fx, errmsg), 0);
    block_fx_close(&fx.block);
}
END_TEST

START_TEST(test_codec_proposal_block_limits)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct proposal_fx fx;

    proposal_fx_init(&fx);
    fx.block.block.n_txs = 0;
    {
        ProtobufCBinaryData *many =
            tdei_calloc(TDEI_BLOCK_TXS_MAX + 1, sizeof(*many));
        for (size_t i = 0; i <= TDEI_BLOCK_TXS_MAX; i++) {
            many[i] = (ProtobufCBinaryData){1, fx.block.tx_byte};
        }
        fx.block.block.txs = many;
        fx.block.block.n_txs = TDEI_BLOCK_TXS_MAX + 1;
        ck_assert_int_eq(proposal_rc(&fx, errmsg), TDEI_TOOBIG);
        ck_assert_str_eq(errmsg, "proposal block has 10001 txs; the limit "
                                 "is 10000 (params.block_txs_max)");
        fx.block.block.txs = fx.block.txs;
        tdei_free(many);
    }
    block_fx_close(&fx.block);
}
END_TEST

static int evidence_rc(Tdei__Evidence *evidence, char *errmsg)
{
    Tdei__Evidence *decoded = NULL;
    size_t len;
    uint8_t *bytes = encode(&evidence->base, &len);
    int rc = codec_evidence_decode(&decoded, bytes, len, errmsg);

    ck_assert_uint_le(len, CODEC_EVIDENCE_SIZE_MAX);
    codec_evidence_free(decoded);
    tdei_free(bytes);
    return rc;
}

START_TEST(test_codec_evidence_rules)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct vote_fx a, b;
    Tdei__Evidence evidence = TDEI__EVIDENCE__INIT;

    vote_fx_init(&a, 0x10);
    vote_fx_init(&b, 0x20);
    evidence.a = &a.vote;
    evidence.b = &b.vote;
    ck_assert_int_eq(evidence_rc(&evidence, errmsg), 0);
    /* nil sorts first */
    a.vote.block_id.len = 0;
    ck_assert_int_eq(evidence_rc(&evidence, errmsg), 0);
    evidence.a = &b.vote;
    evidence.b = &a.vote;
    ck_assert_int_eq(evidence_rc(&evidence, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "evidence votes are out of order; vote a must "
                             "have the lower block_id (nil first)");
    evidence.a = &a.vote;
    evidence.b = &b.vote;
    b.vote.block_id.len = 0;
    ck_assert_int_eq(evidence_rc(&evidence, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "evidence votes are for the same block; they "
                             "do not conflict");
    b.vote.block_id.len = 32;
    b.vote.round = 4;
    ck_assert_int_eq(evidence_rc(&evidence, errmsg), TDEI_MALFORMED);
    b.vote.round = 3;
    b.vote.type = CODEC_VOTE_PREVOTE;
    ck_assert_int_eq(evidence_rc(&evidence, errmsg), TDEI_MALFORMED);
    b.vote.type = CODEC_VOTE_PRECOMMIT;
    b.validator[0] = 0x45;
    ck_assert_int_eq(evidence_rc(&evidence, errmsg), TDEI_MALFORMED);
    b.validator[0] = 0x44;
    ck_assert_int_eq(evidence_rc(&evidence, errmsg), 0);
    evidence.b = NULL;
    ck_assert_int_eq(evidence_rc(&evidence, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "evidence lacks vote b");
}
END_TEST

/* The evidence op of a tx: the decoder's code and message for @evidence
 * carried in a TxBody. */
static int evidence_op_rc(Tdei__Evidence *evidence, char *errmsg)
{
    struct tx_fx fx;

    tx_fx_init(&fx);
    fx.body.op_case = TDEI__TX_BODY__OP_EVIDENCE;
    fx.body.evidence = evidence;
    return body_rc(&fx, errmsg);
}

/* The op and the standalone decoder agree on @evidence: same code, and the
 * op's message is the decoder's with "tx " in front. */
static int evidence_both_rc(Tdei__Evidence *evidence)
{
    char alone[TDEI_ERRMSG_SIZE] = "";
    char in_tx[TDEI_ERRMSG_SIZE] = "";
    char want[TDEI_ERRMSG_SIZE + 8];
    int rc = evidence_rc(evidence, alone);

    ck_assert_int_eq(evidence_op_rc(evidence, in_tx), rc);
    if (rc != 0) {
        (void)snprintf(want, sizeof(want), "tx %s", alone);
        ck_assert_str_eq(in_tx, want);
    }
    return rc;
}

START_TEST(test_codec_evidence_op_same_rules)
{
    struct vote_fx a, b;
    Tdei__Evidence evidence = TDEI__EVIDENCE__INIT;
    Tdei__TxBody *decoded = NULL;
    char errmsg[TDEI_ERRMSG_SIZE];
    struct tx_fx fx;
    uint8_t *bytes;
    size_t len;

    vote_fx_init(&a, 0x10);
    vote_fx_init(&b, 0x20);
    evidence.a = &a.vote;
    evidence.b = &b.vote;
    ck_assert_int_eq(evidence_both_rc(&evidence), 0);
    a.vote.block_id.len = 0; /* nil first */
    ck_assert_int_eq(evidence_both_rc(&evidence), 0);
    evidence.a = &b.vote; /* out of order */
    evidence.b = &a.vote;
    ck_assert_int_eq(evidence_both_rc(&evidence), TDEI_MALFORMED);
    evidence.a = &a.vote;
    evidence.b = &b.vote;
    b.vote.block_id.len = 0; /* the same block */
    ck_assert_int_eq(evidence_both_rc(&evidence), TDEI_MALFORMED);
    b.vote.block_id.len = 32;
    b.vote.round = 4;
    ck_assert_int_eq(evidence_both_rc(&evidence), TDEI_MALFORMED);
    b.vote.round = 3;
    b.vote.type = CODEC_VOTE_PREVOTE;
    ck_assert_int_eq(evidence_both_rc(&evidence), TDEI_MALFORMED);
    b.vote.type = CODEC_VOTE_PRECOMMIT;
    b.validator[0] = 0x45;
    ck_assert_int_eq(evidence_both_rc(&evidence), TDEI_MALFORMED);
    b.validator[0] = 0x44;
    b.vote.sig.len = 63;
    ck_assert_int_eq(evidence_both_rc(&evidence), TDEI_MALFORMED);
    b.vote.sig.len = 64;
    a.vote.height = 0;
    ck_assert_int_eq(evidence_both_rc(&evidence), TDEI_MALFORMED);
    a.vote.height = 812;
    evidence.b = NULL;
    ck_assert_int_eq(evidence_both_rc(&evidence), TDEI_MALFORMED);
    ck_assert_int_eq(evidence_op_rc(&evidence, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "tx evidence lacks vote b");
    evidence.b = &b.vote;
    ck_assert_int_eq(evidence_both_rc(&evidence), 0);

    /* Accepted bodies carry the evidence as sent and re-encode to the
     * same bytes. */
    tx_fx_init(&fx);
    fx.body.op_case = TDEI__TX_BODY__OP_EVIDENCE;
    fx.body.evidence = &evidence;
    bytes = encode(&fx.body.base, &len);
    ck_assert_int_eq(codec_txbody_decode(&decoded, bytes, len, errmsg), 0);
    ck_assert_int_eq(decoded->op_case, TDEI__TX_BODY__OP_EVIDENCE);
    ck_assert_uint_eq(decoded->evidence->b->round, 3);
    ck_assert_uint_eq(decoded->evidence->a->block_id.len, 0);
    ck_assert_int_eq(decode_all(bytes, len), 1);
    codec_txbody_free(decoded);
    tdei_free(bytes);
}
END_TEST

START_TEST(test_codec_evidence_id_names_the_equivocation)
{
    struct vote_fx a, b;
    Tdei__Evidence evidence = TDEI__EVIDENCE__INIT;
    uint8_t id[32];
    uint8_t again[32];
    uint8_t buf[CODEC_EVIDENCE_SIZE_MAX];
    size_t len;

    vote_fx_init(&a, 0x10);
    vote_fx_init(&b, 0x20);
    evidence.a = &a.vote;
    evidence.b = &b.vote;
    codec_evidence_id(id, &evidence);
    /* Other signatures over the same votes: the same id. */
    a.sig[0] ^= 1;
    b.sig[63] ^= 1;
    codec_evidence_id(again, &evidence);
    ck_assert_mem_eq(again, id, 32);
    /* The id is SHA-256 of the evidence without its sigs. */
    a.vote.sig.len = 0;
    b.vote.sig.len = 0;
    len = tdei__evidence__pack(&evidence, buf);
    a.vote.sig.len = 64;
    b.vote.sig.len = 64;
    tdei_sha256(again, buf, len);
    ck_assert_mem_eq(again, id, 32);
    /* Another block id, round or validator: another equivocation. */
    b.block_id[5] ^= 1;
    codec_evidence_id(again, &evidence);
    ck_assert_mem_ne(again, id, 32);
    b.block_id[5] ^= 1;
    a.vote.round = b.vote.round = 4;
    codec_evidence_id(again, &evidence);
    ck_assert_mem_ne(again, id, 32);
}
END_TEST

START_TEST(test_codec_evidence_record_rules)
{
    uint8_t tx[32] = {1};
    uint8_t key[33] = {2};
    Tdei__EvidenceRecord rec = TDEI__EVIDENCE_RECORD__INIT;
    Tdei__EvidenceRecord *out = NULL;
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t *bytes;
    size_t len;

    rec.height = UINT64_MAX;
    rec.tx = (ProtobufCBinaryData){32, tx};
    rec.validator = (ProtobufCBinaryData){32, key};
    rec.member = (char *)"acme-steel-and-iron-works-123456";
    bytes = encode(&rec.base, &len);
    ck_assert_uint_le(len, 113);
    ck_assert_int_eq(codec_evidence_record_decode(&out, bytes, len, errmsg), 0);
    ck_assert_str_eq(out->member, rec.member);
    codec_evidence_record_free(out);
    tdei_free(bytes);
    ck_assert_int_eq(codec_evidence_record_decode(
                         &out, tx, CODEC_EVIDENCE_RECORD_SIZE_MAX + 1, errmsg),
                     TDEI_TOOBIG);
    rec.validator.len = 33;
    bytes = encode(&rec.base, &len);
    ck_assert_int_eq(codec_evidence_record_decode(&out, bytes, len, errmsg),
                     TDEI_MALFORMED);
    ck_assert_str_eq(errmsg,
                     "evidence record validator is 33 bytes; it must be 32");
    tdei_free(bytes);
    rec.validator.len = 32;
    rec.height = 0;
    bytes = encode(&rec.base, &len);
    ck_assert_int_eq(codec_evidence_record_decode(&out, bytes, len, errmsg),
                     TDEI_MALFORMED);
    tdei_free(bytes);
    rec.height = 9;
    rec.member = (char *)"X";
    bytes = encode(&rec.base, &len);
    ck_assert_int_eq(codec_evidence_record_decode(&out, bytes, len, errmsg),
                     TDEI_MALFORMED);
    ck_assert_ptr_null(out);
    tdei_free(bytes);
}
END_TEST

/* ------------------------------------------------------------------------
 * Results and validator sets
 * ------------------------------------------------------------------------ */

static int txresult_rc(Tdei__TxResult *result, char *errmsg)
{
    Tdei__TxResult *decoded = NULL;
    size_t len;
    uint8_t *bytes = encode(&result->base, &len);
    int rc = codec_txresult_decode(&decoded, bytes, len, errmsg);

    codec_txresult_free(decoded);
    tdei_free(bytes);
    return rc;
}

START_TEST(test_codec_txresult_rules)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__TxResult result = TDEI__TX_RESULT__INIT;
    Tdei__Event event = TDEI__EVENT__INIT;
    Tdei__Event *events[CODEC_EVENTS_MAX + 1];
    Tdei__Attr attr = TDEI__ATTR__INIT;
    Tdei__Attr *attrs[1] = {&attr};
    Tdei__HeadUpdate head = TDEI__HEAD_UPDATE__INIT;
    Tdei__HeadUpdate *heads[1] = {&head};
    Tdei__TxResult *decoded = NULL;
    uint8_t prev[32] = {0}, next[32];
    uint8_t *bytes;
    size_t len;

    memset(next, 0x5e, sizeof(next));
    event.type = (char *)"transfer";
    attr.key = (char *)"to";
    attr.value = (char *)"acme-steel";
    event.n_attrs = 1;
    event.attrs = attrs;
    head.object = (ProtobufCBinaryData){12, (uint8_t *)"member/acme1"};
    head.prev_head = (ProtobufCBinaryData){32, prev};
    head.new_head = (ProtobufCBinaryData){32, next};
    for (size_t i = 0; i <= CODEC_EVENTS_MAX; i++) {
        events[i] = &event;
    }
    result.n_events = 1;
    result.events = events;
    result.n_heads = 1;
    result.heads = heads;
    bytes = encode(&result.base, &len);
    ck_assert_int_eq(codec_txresult_decode(&decoded, bytes, len, errmsg), 0);
    ck_assert_str_eq(decoded->events[0]->attrs[0]->value, "acme-steel");
    ck_assert_mem_eq(decoded->heads[0]->new_head.data, next, 32);
    codec_txresult_free(decoded);
    tdei_free(bytes);

    result.code = TDEI_BADSIG;
    ck_assert_int_eq(txresult_rc(&result, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "result code 1011 has an empty log; every "
                             "refusal names its rule");
    result.log = (char *)"level 3 needs the regulator's approval";
    ck_assert_int_eq(txresult_rc(&result, errmsg), 0);
    result.n_events = CODEC_EVENTS_MAX;
    ck_assert_int_eq(txresult_rc(&result, errmsg), 0);
    result.n_events = CODEC_EVENTS_MAX + 1;
    ck_assert_int_eq(txresult_rc(&result, errmsg), TDEI_TOOBIG);
    result.n_events = 1;
    event.type = (char *)"Transfer";
    ck_assert_int_eq(txresult_rc(&result, errmsg), TDEI_MALFORMED);
    event.type = (char *)"dataset.published";
    ck_assert_int_eq(txresult_rc(&result, errmsg), 0);
    attr.value = (char *)"\xff";
    ck_assert_int_eq(txresult_rc(&result, errmsg), TDEI_MALFORMED);
    attr.value = (char *)"";
    head.prev_head.len = 31;
    ck_assert_int_eq(txresult_rc(&result, errmsg), TDEI_MALFORMED);
    ck_assert_str_eq(errmsg, "result head 0 prev_head is 31 bytes; it must "
                             "be 32");
    head.prev_head.len = 32;
    head.object.len = 0;
    ck_assert_int_eq(txresult_rc(&result, errmsg), TDEI_MALFORMED);
    head.object.len = 12;
    ck_assert_int_eq(txresult_rc(&result, errmsg), 0);
}
END_TEST

START_TEST(test_codec_validator_set_rules)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__Validator validators[TDEI_VALIDATORS_MAX + 1];
    Tdei__Validator *ptrs[TDEI_VALIDATORS_MAX + 1];
    uint8_t keys[TDEI_VALIDATORS_MAX + 1][32];
    Tdei__ValidatorSet set = TDEI__VALIDATOR_SET__INIT;
    Tdei__ValidatorSet *decoded = NULL;
    uint8_t *bytes;
    size_t len;

    for (size_t i = 0; i <= TDEI_VALIDATORS_MAX; i++) {
        memset(keys[i], 0x01, 32);
        keys[i][0] = (uint8_t)i;
        tdei__validator__init(&validators[i]);
        validators[i].node_key = (ProtobufCBinaryData){32, keys[i]};
        validators[i].member = (char *)"member-01";
        ptrs[i] = &validators[i];
    }
    set.validators = ptrs;
    set.n_validators = TDEI_VALIDATORS_MAX;
    bytes = encode(&set.base, &len);
    ck_assert_uint_le(len, CODEC_VALIDATOR_SET_SIZE_MAX(TDEI_VALIDATORS_MAX));
    ck_assert_int_eq(codec_validator_set_decode(&decoded, bytes, len,
                                                &limits_default, errmsg),
                     0);
    ck_assert_uint_eq(decoded->n_validators, TDEI_VALIDATORS_MAX);
    codec_validator_set_free(decoded);
    tdei_free(bytes);

    set.n_validators = TDEI_VALIDATORS_MAX + 1;
    bytes = encode(&set.base, &len);
    ck_assert_int_eq(codec_validator_set_decode(&decoded, bytes, len,
                                                &limits_default, errmsg),
                     TDEI_TOOBIG);
    tdei_free(bytes);

    set.n_validators = 3;
    ptrs[1] = &validators[2];
    ptrs[2] = &validators[1];
    bytes = encode(&set.base, &len);
    ck_assert_int_eq(codec_validator_set_decode(&decoded, bytes, len,
                                                &limits_default, errmsg),
                     TDEI_MALFORMED);
    ck_assert_ptr_nonnull(strstr(errmsg, "strictly ascending"));
    tdei_free(bytes);
    ptrs[1] = &validators[1];
    ptrs[2] = &validators[2];
    validators[1].member = (char *)"x";
    bytes = encode(&set.base, &len);
    ck_assert_int_eq(codec_validator_set_decode(&decoded, bytes, len,
                                                &limits_default, errmsg),
                     TDEI_MALFORMED);
    tdei_free(bytes);
    ck_assert_ptr_null(decoded);
}
END_TEST

/* ------------------------------------------------------------------------
 * Sign bytes
 * ------------------------------------------------------------------------ */

/* Hand-written from the layout table in codec.h, not from the code. */
#define HEX_CHAIN "09746465692d74657374" /* n = 9, "tdei-test" */
#define HEX_ID                                                                \
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define HEX_ZERO32                                                            \
    "0000000000000000000000000000000000000000000000000000000000000000"

START_TEST(test_codec_vote_sign_bytes_layout)
{
    uint8_t id[32];
    uint8_t got[CODEC_VOTE_SIGN_BYTES_MAX];
    uint8_t want[CODEC_VOTE_SIGN_BYTES_MAX];
    uint8_t nil[CODEC_VOTE_SIGN_BYTES_MAX];
    uint8_t zero_id[32] = {0};
    size_t got_len, want_len, nil_len;
    struct vote_fx fx;

    for (size_t i = 0; i < 32; i++) {
        id[i] = (uint8_t)i;
    }
    /* precommit, height 812 = 0x32c, round 3, block 00..1f */
    got_len = codec_vote_sign_bytes(got, CHAIN, CODEC_VOTE_PRECOMMIT, 812, 3,
                                    id);
    want_len = testutil_unhex(want, sizeof(want),
                              "01" HEX_CHAIN "02"
                              "000000000000032c"
                              "00000003"
                              "01" HEX_ID);
    ck_assert_uint_eq(want_len, 57);
    ck_assert_uint_eq(got_len, want_len);
    ck_assert_mem_eq(got, want, want_len);

    /* nil prevote: flag 00 and 32 zero bytes */
    got_len =
        codec_vote_sign_bytes(got, CHAIN, CODEC_VOTE_PREVOTE, 812, 3, NULL);
    want_len = testutil_unhex(want, sizeof(want),
                              "01" HEX_CHAIN "01"
                              "000000000000032c"
                              "00000003"
                              "00" HEX_ZERO32);
    ck_assert_uint_eq(got_len, want_len);
    ck_assert_mem_eq(got, want, want_len);

    /* nil and an all-zero block id differ (the flag byte) */
    nil_len =
        codec_vote_sign_bytes(nil, CHAIN, CODEC_VOTE_PREVOTE, 812, 3, NULL);
    got_len = codec_vote_sign_bytes(got, CHAIN, CODEC_VOTE_PREVOTE, 812, 3,
                                    zero_id);
    ck_assert_uint_eq(nil_len, got_len);
    ck_assert_mem_ne(nil, got, got_len);

    /* large values: height 2^64-1, round 2^32-1, longest chain id */
    {
        char chain[65];
        memset(chain, 'z', 64);
        chain[64] = '\0';
        got_len = codec_vote_sign_bytes(got, chain, CODEC_VOTE_PRECOMMIT,
                                        UINT64_MAX, UINT32_MAX, id);
        ck_assert_uint_eq(got_len, CODEC_VOTE_SIGN_BYTES_MAX);
        ck_assert_uint_eq(got[1], 64);
        ck_assert_uint_eq(got[66], 2);
        for (size_t i = 67; i < 67 + 12; i++) {
            ck_assert_uint_eq(got[i], 0xff);
        }
    }

    /* from a decoded vote and a commit: the same layout */
    vote_fx_init(&fx, 0);
    memcpy(fx.block_id, id, 32);
    got_len = codec_vote_msg_sign_bytes(got, CHAIN, &fx.vote);
    want_len = codec_vote_sign_bytes(want, CHAIN, CODEC_VOTE_PRECOMMIT, 812,
                                     3, id);
    ck_assert_uint_eq(got_len, want_len);
    ck_assert_mem_eq(got, want, want_len);
    fx.vote.block_id.len = 0;
    got_len = codec_vote_msg_sign_bytes(got, CHAIN, &fx.vote);
    ck_assert_mem_ne(got, want, want_len);
    {
        Tdei__Commit commit = TDEI__COMMIT__INIT;
        commit.height = 812;
        commit.round = 3;
        commit.block_id = (ProtobufCBinaryData){32, id};
        got_len = codec_commit_sign_bytes(got, CHAIN, &commit);
        ck_assert_uint_eq(got_len, want_len);
        ck_assert_mem_eq(got, want, want_len);
    }
}
END_TEST

START_TEST(test_codec_proposal_sign_bytes_layout)
{
    uint8_t id[32];
    uint8_t got[CODEC_PROPOSAL_SIGN_BYTES_MAX];
    uint8_t want[CODEC_PROPOSAL_SIGN_BYTES_MAX];
    size_t got_len, want_len;
    struct proposal_fx fx;

    for (size_t i = 0; i < 32; i++) {
        id[i] = (uint8_t)i;
    }
    got_len = codec_proposal_sign_bytes(got, CHAIN, 812, 3, -1, id);
    want_len = testutil_unhex(want, sizeof(want),
                              "01" HEX_CHAIN "000000000000032c"
                              "00000003"
                              "ffffffff" HEX_ID);
    ck_assert_uint_eq(want_len, 59);
    ck_assert_uint_eq(got_len, want_len);
    ck_assert_mem_eq(got, want, want_len);

    got_len = codec_proposal_sign_bytes(got, CHAIN, 812, 3, 2, id);
    want_len = testutil_unhex(want, sizeof(want),
                              "01" HEX_CHAIN "000000000000032c"
                              "00000003"
                              "00000002" HEX_ID);
    ck_assert_uint_eq(got_len, want_len);
    ck_assert_mem_eq(got, want, want_len);

    proposal_fx_init(&fx);
    got_len = codec_proposal_msg_sign_bytes(got, CHAIN, &fx.proposal);
    want_len = codec_proposal_sign_bytes(want, CHAIN, 7, 2, -1, fx.block_id);
    ck_assert_uint_eq(got_len, want_len);
    ck_assert_mem_eq(got, want, want_len);
    block_fx_close(&fx.block);
}
END_TEST

/* ------------------------------------------------------------------------
 * Hostile bytes
 * ------------------------------------------------------------------------ */

START_TEST(test_codec_random_bytes_never_crash)
{
    uint8_t buf[600];

    rng_seed(0x7464656900000001u);
    for (int n = 0; n < 10000; n++) {
        size_t len = (size_t)(rng_next() % sizeof(buf));
        for (size_t i = 0; i < len; i++) {
            buf[i] = (uint8_t)rng_next();
        }
        /* Bias a third of the inputs toward plausible tags. */
        if (n % 3 == 0 && len > 0) {
            buf[0] = (uint8_t)(((rng_next() % 12) + 1) << 3 |
                               (rng_next() % 2 ? 2 : 0));
        }
        (void)decode_all(buf, len);
    }
}
END_TEST

START_TEST(test_codec_mutated_messages_never_crash)
{
    struct tx_fx tx;
    struct proposal_fx proposal;
    struct vote_fx vote;
    uint8_t *inputs[4];
    size_t lens[4];
    int accepted = 0;

    tx_fx_init(&tx);
    proposal_fx_init(&proposal);
    vote_fx_init(&vote, 0x10);
    inputs[0] = tx_bytes(&tx, 64, &lens[0]);
    inputs[1] = encode(&tx.body.base, &lens[1]);
    inputs[2] = encode(&proposal.proposal.base, &lens[2]);
    inputs[3] = encode(&vote.vote.base, &lens[3]);
    /* Unmutated, each is accepted by its own decoder. */
    for (size_t k = 0; k < 4; k++) {
        ck_assert_int_ge(decode_all(inputs[k], lens[k]), 1);
    }
    rng_seed(0x7464656900000002u);
    for (int n = 0; n < 10000; n++) {
        size_t k = (size_t)n % 4;
        uint8_t *copy = tdei_malloc(lens[k]);
        size_t len = lens[k];
        int flips = 1 + (int)(rng_next() % 3);
        memcpy(copy, inputs[k], len);
        for (int f = 0; f < flips; f++) {
            copy[rng_next() % len] ^= (uint8_t)(1u << (rng_next() % 8));
        }
        if (rng_next() % 4 == 0) {
            len = (size_t)(rng_next() % len);
        }
        accepted += decode_all(copy, len);
        tdei_free(copy);
    }
    /* Some mutations (inside a sig or a memo) still decode. */
    ck_assert_int_gt(accepted, 0);
    for (size_t k = 0; k < 4; k++) {
        tdei_free(inputs[k]);
    }
    block_fx_close(&proposal.block);
}
END_TEST

START_TEST(test_codec_out_of_memory)
{
    /* Fail each allocation of a decode in turn: only 0 or TDEI_NOMEM, and
     * the leak fixture proves nothing is left behind. */
    char errmsg[TDEI_ERRMSG_SIZE];
    struct proposal_fx fx;
    uint8_t *bytes;
    size_t len;
    int rc = TDEI_NOMEM;

    proposal_fx_init(&fx);
    bytes = encode(&fx.proposal.base, &len);
    for (long i = 0; rc != 0; i++) {
        Tdei__Proposal *proposal = NULL;
        Tdei__Header *header = NULL;
        ck_assert_int_lt(i, 1000);
        tdei_alloc_fail_inject(i, 1);
        rc = codec_proposal_decode(&proposal, &header, bytes, len,
                                   &limits_default, errmsg);
        tdei_alloc_fail_inject(-1, 0);
        if (rc == 0) {
            ck_assert_ptr_nonnull(proposal);
            ck_assert_ptr_nonnull(header);
        } else {
            ck_assert_int_eq(rc, TDEI_NOMEM);
            ck_assert_ptr_null(proposal);
            ck_assert_ptr_null(header);
        }
        codec_proposal_free(proposal);
        codec_header_free(header);
    }
    tdei_free(bytes);

    {
        uint8_t *out = (uint8_t *)1;
        size_t out_len = 1;
        tdei_alloc_fail_inject(0, 1);
        ck_assert_int_eq(codec_proposal_encode(&fx.proposal, &out, &out_len),
                         TDEI_NOMEM);
        tdei_alloc_fail_inject(-1, 0);
        ck_assert_ptr_null(out);
        ck_assert_uint_eq(out_len, 0);
    }
    block_fx_close(&fx.block);
}
END_TEST

/* ------------------------------------------------------------------------ */

static TCase *leak_tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, testutil_leak_setup,
                              testutil_leak_teardown);
    tcase_set_timeout(tc, 60);
    return tc;
}

static Suite *codec_suite(void)
{
    Suite *suite = suite_create("codec");
    TCase *tc;

    tc = leak_tcase("tx");
    tcase_add_test(tc, test_codec_tx_round_trip);
    tcase_add_test(tc, test_codec_tx_mint_round_trip);
    tcase_add_test(tc, test_codec_tx_size_limit);
    tcase_add_test(tc, test_codec_tx_sig_length);
    tcase_add_test(tc, test_codec_tx_envelope_not_malleable);
    tcase_add_test(tc, test_codec_txbody_chain_id_bounds);
    tcase_add_test(tc, test_codec_txbody_signer_length);
    tcase_add_test(tc, test_codec_txbody_field_rules);
    tcase_add_test(tc, test_codec_txbody_version);
    tcase_add_test(tc, test_codec_txbody_unknown_op);
    tcase_add_test(tc, test_codec_txbody_canonical_only);
    tcase_add_test(tc, test_codec_tx_prefixes_refused);
    suite_add_tcase(suite, tc);

    tc = leak_tcase("block");
    tcase_add_test(tc, test_codec_header_rules);
    tcase_add_test(tc, test_codec_header_size_limit);
    tcase_add_test(tc, test_codec_block_round_trip);
    tcase_add_test(tc, test_codec_block_tx_count_limit);
    tcase_add_test(tc, test_codec_block_size_limits);
    tcase_add_test(tc, test_codec_block_commit_rules);
    tcase_add_test(tc, test_codec_block_prefixes_refused);
    suite_add_tcase(suite, tc);

    tc = leak_tcase("commit");
    tcase_add_test(tc, test_codec_commit_signature_limit);
    tcase_add_test(tc, test_codec_commit_empty_signatures_refused_early);
    tcase_add_test(tc, test_codec_commit_order_and_lengths);
    tcase_add_test(tc, test_codec_commit_prefixes_consistent);
    suite_add_tcase(suite, tc);

    tc = leak_tcase("consensus");
    tcase_add_test(tc, test_codec_vote_rules);
    tcase_add_test(tc, test_codec_proposal_rules);
    tcase_add_test(tc, test_codec_proposal_block_limits);
    tcase_add_test(tc, test_codec_evidence_rules);
    tcase_add_test(tc, test_codec_evidence_op_same_rules);
    tcase_add_test(tc, test_codec_evidence_id_names_the_equivocation);
    tcase_add_test(tc, test_codec_evidence_record_rules);
    suite_add_tcase(suite, tc);

    tc = leak_tcase("results");
    tcase_add_test(tc, test_codec_txresult_rules);
    tcase_add_test(tc, test_codec_validator_set_rules);
    suite_add_tcase(suite, tc);

    tc = leak_tcase("sign_bytes");
    tcase_add_test(tc, test_codec_vote_sign_bytes_layout);
    tcase_add_test(tc, test_codec_proposal_sign_bytes_layout);
    suite_add_tcase(suite, tc);

    tc = leak_tcase("hostile");
    tcase_add_test(tc, test_codec_random_bytes_never_crash);
    tcase_add_test(tc, test_codec_mutated_messages_never_crash);
    tcase_add_test(tc, test_codec_out_of_memory);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return testutil_run(codec_suite());
}
