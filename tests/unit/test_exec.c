/* Tests of block execution over real LMDB stores: the genesis state and
 * its check, blocks of transfers from several signers with exact
 * balances, a refused tx that consumes its nonce and keeps its reason and
 * heads, blocks made invalid by one tx (wrong nonce, unknown signer, bad
 * signature, wrong chain id), by a header field or by the commit it
 * carries (no quorum, a bad signature, a key outside the validator set),
 * determinism across fresh stores and its sensitivity to tx order, replay
 * from the stored blocks, the gapless history chain of an object, exchange
 * deadlines expiring and settling through empty blocks, the queries, and
 * validator-set changes: the set of each height from its history, the
 * headers' validator hashes across a change, and commits and proposers
 * checked against the set of their heights.
 * Blocks carry real commits: precommits of both validators of the test
 * genesis, signed as the node would. */
#include "testutil.h"

#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/keys.h"
#include "core/merkle.h"
#include "exec/exec.h"
#include "genesis.h"
#include "search/search.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define CHAIN "tdei-test"
#define GENESIS_TIME 1764000000000ull
#define KEYS 5 /* operator keys; the last is not registered */

static char tmpdir[4096];
static char errmsg[TDEI_ERRMSG_SIZE];
static struct genesis gen;
static struct tdei_keypair op[KEYS];   /* operator keys */
static struct tdei_keypair node[KEYS]; /* node keys */
static struct exec *ex;

/* Member i signs with op[i]; member 4 does not exist. */
static const char *const ids[KEYS] = {"acme-steel", "beta-works", "pub-svc",
                                      "gamma-audit", "nobody"};

/* A store with its directory. */
struct ledger
{
    char dir[4200];
    struct store *store;
};

static void keypair(struct tdei_keypair *kp, uint8_t tag, uint8_t i)
{
    uint8_t secret[TDEI_SECKEY_SIZE] = {0};

    secret[0] = tag;
    secret[31] = (uint8_t)(i + 1);
    ck_assert_int_eq(tdei_keypair_from_secret(kp, secret), 0);
}

static void member_add(size_t i, enum tdei_role role, int validator,
                       uint64_t balance)
{
    struct genesis_member m;

    memset(&m, 0, sizeof(m));
    (void)snprintf(m.id, sizeof(m.id), "%s", ids[i]);
    (void)snprintf(m.name, sizeof(m.name), "Member %s", ids[i]);
    m.role = role;
    memcpy(m.node_key, node[i].pubkey, 32);
    memcpy(m.operator_keys[0], op[i].pubkey, 32);
    m.operator_key_count = 1;
    memset(m.encryption_key, (int)(0x30 + i), 32);
    m.validator = validator;
    m.balance = balance;
    ck_assert_msg(genesis_member_add(&gen, &m, errmsg) == 0, "%s", errmsg);
}

static void setup(void)
{
    testutil_leak_setup();
    (void)snprintf(tmpdir, sizeof(tmpdir), "%s", testutil_tmpdir());
    errmsg[0] = '\0';
    for (uint8_t i = 0; i < KEYS; i++) {
        keypair(&op[i], 0x11, i);
        keypair(&node[i], 0x22, i);
    }
    memset(&gen, 0, sizeof(gen));
    (void)snprintf(gen.chain_id, sizeof(gen.chain_id), "%s", CHAIN);
    gen.time_ms = GENESIS_TIME;
    genesis_params_default(&gen.params);
    tdei_sha256(gen.hash, (const uint8_t *)"genesis", 7);
    member_add(0, TDEI_ROLE_MANUFACTURER, 1, 1000);
    member_add(1, TDEI_ROLE_PLATFORM, 0, 500);
    member_add(2, TDEI_ROLE_PUBLIC_SERVICE, 1, 0);
    member_add(3, TDEI_ROLE_AUDITOR, 0, 0);
    ck_assert_int_eq(exec_create(&ex), 0);
}

static void teardown(void)
{
    exec_destroy(ex);
    ex = NULL;
    genesis_free(&gen);
    testutil_rmtree(tmpdir);
    testutil_leak_teardown();
}

/* ---- helpers ------------------------------------------------------------- */

/* Open a fresh store named @name and commit the genesis. */
static void ledger_open(struct ledger *l, const char *name)
{
    struct store_batch *b;
    struct store_read *r;

    (void)snprintf(l->dir, sizeof(l->dir), "%s/%s", tmpdir, name);
    ck_assert_msg(store_open(&l->store, l->dir, NULL, errmsg) == 0, "%s",
                  errmsg);
    ck_assert_int_eq(store_read_begin(l->store, &r, errmsg), 0);
    ck_assert_int_eq(exec_genesis_check(r, &gen, errmsg), TDEI_NOTFOUND);
    store_read_end(r);
    ck_assert_int_eq(store_batch_create(&b, EXEC_BATCH_SIZE_MAX), 0);
    ck_assert_msg(exec_genesis(b, &gen, NULL, errmsg) == 0, "%s", errmsg);
    ck_assert_msg(store_commit(l->store, b, errmsg) == 0, "%s", errmsg);
    store_batch_destroy(b);
}

static void ledger_close(struct ledger *l)
{
    store_close(l->store);
    l->store = NULL;
}

/* A signed transfer tx from op[@from] (@is_mint 1: a mint). */
static ProtobufCBinaryData tx_make_op(size_t from, const char *chain,
                                      uint64_t nonce, const char *to,
                                      uint64_t amount, int is_mint)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__Transfer t = TDEI__TRANSFER__INIT;
    Tdei__Mint m = TDEI__MINT__INIT;
    Tdei__Tx tx = TDEI__TX__INIT;
    uint8_t sig[TDEI_SIG_SIZE];
    ProtobufCBinaryData out;
    uint8_t *bytes;
    size_t len;

    body.version = CODEC_VERSION;
    body.chain_id = (char *)chain;
    body.signer = (ProtobufCBinaryData){32, op[from].pubkey};
    body.nonce = nonce;
    if (is_mint) {
        m.to = (char *)to;
        m.amount = amount;
        body.op_case = TDEI__TX_BODY__OP_MINT;
        body.mint = &m;
    } else {
        t.to = (char *)to;
        t.amount = amount;
        body.op_case = TDEI__TX_BODY__OP_TRANSFER;
        body.transfer = &t;
    }
    ck_assert_int_eq(codec_txbody_encode(&body, &bytes, &len), 0);
    ck_assert_int_eq(tdei_sign_tagged(sig, &op[from], TDEI_TAG_TX, bytes, len),
                     0);
    tx.body = (ProtobufCBinaryData){len, bytes};
    tx.sig = (ProtobufCBinaryData){TDEI_SIG_SIZE, sig};
    ck_assert_int_eq(codec_tx_encode(&tx, &out.data, &out.len), 0);
    tdei_free(bytes);
    return out;
}

static ProtobufCBinaryData tx_make(size_t from, uint64_t nonce, const char *to,
                                   uint64_t amount)
{
    return tx_make_op(from, CHAIN, nonce, to, amount, 0);
}

static void txs_free(ProtobufCBinaryData *txs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        tdei_free(txs[i].data);
    }
}

typedef void (*header_tweak_fn)(Tdei__Header *header);

/* How block_make_signed signs the commit of the previous block. */
enum commit_kind {
    COMMIT_VALID,    /* precommits of both validators (2 of 2) */
    COMMIT_ONE,      /* acme-steel's precommit alone (1 of 2: no quorum) */
    COMMIT_BAD_SIG,  /* both, one signature with a bit flipped */
    COMMIT_OUTSIDER, /* one validator and beta-works, not a validator */
    COMMIT_PREVOTE   /* both, but signed as prevotes */
};

/* Sign, as node key @v, the precommit of @commit's block (or, with
 * @prevote, a prevote for it) into @sig. */
static void commit_sig_make(uint8_t sig[TDEI_SIG_SIZE], size_t v,
                            const Tdei__Commit *commit, int prevote)
{
    uint8_t bytes[CODEC_VOTE_SIGN_BYTES_MAX];
    size_t len = prevote
                     ? codec_vote_sign_bytes(bytes, CHAIN, CODEC_VOTE_PREVOTE,
                                             commit->height, commit->round,
                                             commit->block_id.data)
                     : codec_commit_sign_bytes(bytes, CHAIN, commit);

    ck_assert_int_eq(tdei_sign_tagged(sig, &node[v], TDEI_TAG_VOTE, bytes, len),
                     0);
}

/* Build the next block of @l over @txs, proposed by acme-steel's node,
 * carrying the commit of the previous block signed as @kind says. The
 * test genesis has two validators, acme-steel (node[0]) and pub-svc
 * (node[2]): a valid commit holds both precommits, ascending by key. */
static ProtobufCBinaryData block_make_signed(struct ledger *l,
                                             ProtobufCBinaryData *txs, size_t n,
                                             header_tweak_fn tweak,
                                             enum commit_kind kind)
{
    struct exec_next_header next;
    Tdei__Header header = TDEI__HEADER__INIT;
    Tdei__Block block = TDEI__BLOCK__INIT;
    Tdei__Commit commit = TDEI__COMMIT__INIT;
    Tdei__CommitSig csig[2] = {TDEI__COMMIT_SIG__INIT, TDEI__COMMIT_SIG__INIT};
    Tdei__CommitSig *csigs[2];
    uint8_t sigs[2][TDEI_SIG_SIZE];
    size_t signers[2] = {0, kind == COMMIT_OUTSIDER ? 1 : 2};
    size_t count = kind == COMMIT_ONE ? 1 : 2;
    struct store_read *r;
    ProtobufCBinaryData out;
    uint8_t *hbytes;
    size_t hlen;

    ck_assert_int_eq(store_read_begin(l->store, &r, errmsg), 0);
    ck_assert_msg(exec_next_header(r, txs, n, &next, errmsg) == 0, "%s",
                  errmsg);
    store_read_end(r);
    exec_header_fill(&header, &next);
    header.time_ms = next.time_ms_min + 999;
    header.proposer = (ProtobufCBinaryData){32, node[0].pubkey};
    if (tweak != NULL) {
        tweak(&header);
    }
    ck_assert_int_eq(codec_header_encode(&header, &hbytes, &hlen), 0);
    block.header = (ProtobufCBinaryData){hlen, hbytes};
    block.n_txs = n;
    block.txs = txs;
    if (next.height > 1) {
        commit.height = next.height - 1;
        commit.block_id = (ProtobufCBinaryData){32, next.last_block_id};
        if (count == 2 &&
            memcmp(node[signers[0]].pubkey, node[signers[1]].pubkey, 32) > 0) {
            signers[0] = signers[1];
            signers[1] = 0;
        }
        for (size_t i = 0; i < count; i++) {
            commit_sig_make(sigs[i], signers[i], &commit,
                            kind == COMMIT_PREVOTE);
            csig[i].validator =
                (ProtobufCBinaryData){32, node[signers[i]].pubkey};
            csig[i].sig = (ProtobufCBinaryData){TDEI_SIG_SIZE, sigs[i]};
            csigs[i] = &csig[i];
        }
        if (kind == COMMIT_BAD_SIG) {
            sigs[1][7] ^= 1;
        }
        commit.n_signatures = count;
        commit.signatures = csigs;
        block.last_commit = &commit;
    }
    ck_assert_int_eq(codec_block_encode(&block, &out.data, &out.len), 0);
    tdei_free(hbytes);
    return out;
}

static ProtobufCBinaryData block_make(struct ledger *l,
                                      ProtobufCBinaryData *txs, size_t n,
                                      header_tweak_fn tweak)
{
    return block_make_signed(l, txs, n, tweak, COMMIT_VALID);
}

/* Decode and execute @bytes on @l; commit on success. */
static int block_apply_v(struct ledger *l, const ProtobufCBinaryData *bytes,
                         const struct exec_verifier *verifier,
                         struct exec_block_info *info)
{
    const struct codec_limits limits = CODEC_LIMITS_DEFAULT;
    Tdei__Block *block;
    Tdei__Header *header;
    struct store_batch *b;
    struct store_read *r;
    int rc;

    ck_assert_msg(codec_block_decode(&block, &header, bytes->data, bytes->len,
                                     &limits, errmsg) == 0,
                  "%s", errmsg);
    ck_assert_int_eq(store_batch_create(&b, EXEC_BATCH_SIZE_MAX), 0);
    ck_assert_int_eq(store_read_begin(l->store, &r, errmsg), 0);
    rc = exec_block(ex, b, info, r, block, header, bytes->data, bytes->len,
                    verifier, errmsg);
    store_read_end(r);
    if (rc == 0) {
        ck_assert_msg(store_commit(l->store, b, errmsg) == 0, "%s", errmsg);
    }
    store_batch_destroy(b);
    codec_header_free(header);
    codec_block_free(block);
    return rc;
}

static int block_apply(struct ledger *l, const ProtobufCBinaryData *bytes,
                       struct exec_block_info *info)
{
    return block_apply_v(l, bytes, NULL, info);
}

/* Build, execute and commit a block of @txs (freed) on @l. */
static int block_run(struct ledger *l, ProtobufCBinaryData *txs, size_t n,
                     struct exec_block_info *info)
{
    ProtobufCBinaryData bytes = block_make(l, txs, n, NULL);
    int rc = block_apply(l, &bytes, info);

    tdei_free(bytes.data);
    txs_free(txs, n);
    return rc;
}

static uint64_t balance(struct ledger *l, const char *id)
{
    struct store_read *r;
    uint64_t b;

    ck_assert_int_eq(store_read_begin(l->store, &r, errmsg), 0);
    ck_assert_msg(exec_query_balance(r, id, &b, errmsg) == 0, "%s", errmsg);
    store_read_end(r);
    return b;
}

static uint64_t nonce_of(struct ledger *l, size_t key)
{
    struct store_read *r;
    uint64_t n;

    ck_assert_int_eq(store_read_begin(l->store, &r, errmsg), 0);
    ck_assert_int_eq(exec_query_nonce(r, op[key].pubkey, &n, errmsg), 0);
    store_read_end(r);
    return n;
}

static struct exec_tip tip_of(struct ledger *l)
{
    struct store_read *r;
    struct exec_tip tip;

    ck_assert_int_eq(store_read_begin(l->store, &r, errmsg), 0);
    ck_assert_msg(exec_query_tip(r, &tip, errmsg) == 0, "%s", errmsg);
    store_read_end(r);
    return tip;
}

static Tdei__TxResult *result_of(struct ledger *l,
                                 const ProtobufCBinaryData *tx_bytes,
                                 uint64_t *height, uint32_t *index)
{
    struct store_read *r;
    Tdei__Tx *tx;
    Tdei__TxResult *res;
    uint8_t id[32];

    ck_assert_int_eq(codec_tx_decode(&tx, tx_bytes->data, tx_bytes->len,
                                     TDEI_TX_SIZE_MAX, errmsg),
                     0);
    codec_tx_id(id, tx->body.data, tx->body.len);
    codec_tx_free(tx);
    ck_assert_int_eq(store_read_begin(l->store, &r, errmsg), 0);
    ck_assert_msg(exec_query_tx(r, id, height, index, &res, errmsg) == 0, "%s",
                  errmsg);
    store_read_end(r);
    return res;
}

/* ---- genesis ------------------------------------------------------------- */

START_TEST(test_exec_genesis_builds_state)
{
    struct ledger l;
    struct store_read *r;
    struct exec_signer sg;
    struct exec_tip tip;
    Tdei__Member *m;
    Tdei__Params *p;
    Tdei__ValidatorSet *set;
    struct genesis other;
    uint8_t app_hash[32];
    uint64_t b;

    ledger_open(&l, "a");
    ck_assert_int_eq(store_read_begin(l.store, &r, errmsg), 0);
    ck_assert_int_eq(exec_genesis_check(r, &gen, errmsg), 0);
    other = gen;
    other.hash[0] ^= 1;
    ck_assert_int_eq(exec_genesis_check(r, &other, errmsg),
                     TDEI_GENESIS_MISMATCH);
    ck_assert_ptr_nonnull(strstr(errmsg, "genesis.json"));
    ck_assert_int_eq(exec_query_tip(r, &tip, errmsg), 0);
    ck_assert_uint_eq(tip.height, 0);
    ck_assert_uint_eq(tip.time_ms, GENESIS_TIME);
    ck_assert_str_eq(tip.chain_id, CHAIN);
    ck_assert_int_eq(exec_query_balance(r, "acme-steel", &b, errmsg), 0);
    ck_assert_uint_eq(b, 1000);
    ck_assert_int_eq(exec_query_balance(r, "beta-works", &b, errmsg), 0);
    ck_assert_uint_eq(b, 500);
    ck_assert_int_eq(exec_query_balance(r, "ghost-co", &b, errmsg),
                     TDEI_UNKNOWN_MEMBER);
    ck_assert_int_eq(exec_query_signer(r, op[2].pubkey, &sg, errmsg), 0);
    ck_assert_str_eq(sg.member, "pub-svc");
    ck_assert_int_eq(sg.role, TDEI_ROLE_PUBLIC_SERVICE);
    ck_assert_uint_eq(sg.status, CODEC_MEMBER_ACTIVE);
    ck_assert_uint_eq(sg.nonce, 0);
    ck_assert_int_eq(exec_query_signer(r, op[4].pubkey, &sg, errmsg),
                     TDEI_UNKNOWN_SIGNER);
    ck_assert_int_eq(exec_query_member(r, "gamma-audit", &m, errmsg), 0);
    ck_assert_uint_eq(m->role, TDEI_ROLE_AUDITOR);
    ck_assert_int_eq(m->validator, 0);
    ck_assert_str_eq(m->name, "Member gamma-audit");
    codec_member_free(m);
    ck_assert_int_eq(exec_query_params(r, &p, errmsg), 0);
    ck_assert_int_eq(p->mint_enabled, 0);
    ck_assert_uint_eq(p->block_txs_max, TDEI_BLOCK_TXS_MAX);
    codec_params_free(p);
    ck_assert_int_eq(exec_query_validators(r, &set, errmsg), 0);
    ck_assert_uint_eq(set->n_validators, 2);
    ck_assert(memcmp(set->validators[0]->node_key.data,
                     set->validators[1]->node_key.data, 32) < 0);
    codec_validator_set_free(set);
    store_read_end(r);

    /* app_hash(0) is the same for the same genesis, and exec_genesis
     * reports it. */
    {
        struct store_batch *b2;
        ck_assert_int_eq(store_batch_create(&b2, EXEC_BATCH_SIZE_MAX), 0);
        ck_assert_int_eq(exec_genesis(b2, &gen, app_hash, errmsg), 0);
        store_batch_destroy(b2);
    }
    ck_assert(memcmp(app_hash, tip.app_hash, 32) == 0);
    ledger_close(&l);
}
END_TEST

/* ---- blocks -------------------------------------------------------------- */

START_TEST(test_exec_block_of_transfers_exact_balances)
{
    struct ledger l;
    struct exec_block_info info;
    ProtobufCBinaryData txs[4];
    ProtobufCBinaryData keep;
    Tdei__TxResult *res;
    uint64_t height;
    uint32_t index;

    ledger_open(&l, "a");
    txs[0] = tx_make(0, 1, "beta-works", 100); /* acme 900, beta 600 */
    txs[1] = tx_make(1, 1, "acme-steel", 50);  /* acme 950, beta 550 */
    txs[2] = tx_make(0, 2, "pub-svc", 10);     /* acme 940, pub 10 */
    txs[3] = tx_make(2, 1, "gamma-audit", 3);  /* pub 7, gamma 3 */
    keep.len = txs[3].len;
    keep.data = tdei_malloc(keep.len);
    memcpy(keep.data, txs[3].data, keep.len);
    ck_assert_msg(block_run(&l, txs, 4, &info) == 0, "%s", errmsg);
    ck_assert_uint_eq(info.height, 1);
    ck_assert_uint_eq(info.tx_count, 4);
    ck_assert_uint_eq(info.refused_count, 0);
    ck_assert_uint_eq(balance(&l, "acme-steel"), 940);
    ck_assert_uint_eq(balance(&l, "beta-works"), 550);
    ck_assert_uint_eq(balance(&l, "pub-svc"), 7);
    ck_assert_uint_eq(balance(&l, "gamma-audit"), 3);
    ck_assert_uint_eq(nonce_of(&l, 0), 2);
    ck_assert_uint_eq(nonce_of(&l, 1), 1);
    {
        struct exec_tip tip = tip_of(&l);
        ck_assert_uint_eq(tip.height, 1);
        ck_assert(memcmp(tip.app_hash, info.app_hash, 32) == 0);
        ck_assert(memcmp(tip.last_results_root, info.results_root, 32) == 0);
        ck_assert(memcmp(tip.last_block_id, info.block_id, 32) == 0);
    }
    res = result_of(&l, &keep, &height, &index);
    ck_assert_uint_eq(height, 1);
    ck_assert_uint_eq(index, 3);
    ck_assert_uint_eq(res->code, 0);
    ck_assert_uint_eq(res->n_events, 1);
    ck_assert_str_eq(res->events[0]->type, "transfer");
    ck_assert_str_eq(res->events[0]->attrs[2]->value, "3");
    ck_assert_uint_eq(res->n_heads, 2);
    codec_txresult_free(res);
    tdei_free(keep.data);

    /* An empty block follows, and moves only the app hash chain. */
    ck_assert_msg(block_run(&l, NULL, 0, &info) == 0, "%s", errmsg);
    ck_assert_uint_eq(info.height, 2);
    ck_assert_uint_eq(info.write_count, 0);
    ck_assert_uint_eq(balance(&l, "acme-steel"), 940);
    ledger_close(&l);
}
END_TEST

START_TEST(test_exec_refused_tx_consumes_nonce_keeps_reason_and_heads)
{
    struct ledger l;
    struct exec_block_info info;
    ProtobufCBinaryData txs[2];
    ProtobufCBinaryData keep;
    Tdei__TxResult *res;
    uint64_t height;
    uint32_t index;

    ledger_open(&l, "a");
    txs[0] = tx_make(0, 1, "beta-works", 1000000);
    txs[1] = tx_make(0, 2, "beta-works", 1);
    keep.len = txs[0].len;
    keep.data = tdei_malloc(keep.len);
    memcpy(keep.data, txs[0].data, keep.len);
    ck_assert_msg(block_run(&l, txs, 2, &info) == 0, "%s", errmsg);
    ck_assert_uint_eq(info.refused_count, 1);
    ck_assert_uint_eq(nonce_of(&l, 0), 2);
    ck_assert_uint_eq(balance(&l, "acme-steel"), 999);
    ck_assert_uint_eq(balance(&l, "beta-works"), 501);
    res = result_of(&l, &keep, &height, &index);
    ck_assert_uint_eq(index, 0);
    ck_assert_uint_eq(res->code, TDEI_INSUFFICIENT_FUNDS);
    ck_assert_str_eq(res->log,
                     "transfer needs 1000000 credits; acme-steel holds 1000");
    ck_assert_uint_eq(res->n_events, 0);
    ck_assert_uint_eq(res->n_heads, 2);
    ck_assert_uint_eq(res->heads[0]->object.len, strlen("member/acme-steel"));
    ck_assert(memcmp(res->heads[0]->object.data, "member/acme-steel",
                     res->heads[0]->object.len) == 0);
    {
        /* The refusal's head: SHA256(zeros || tx id || code BE). */
        uint8_t zeros[32] = {0};
        uint8_t code_be[4];
        uint8_t want[32];
        uint8_t id[32];
        struct tdei_sha256 sha;
        Tdei__Tx *tx;
        ck_assert_int_eq(
            codec_tx_decode(&tx, keep.data, keep.len, TDEI_TX_SIZE_MAX, errmsg),
            0);
        codec_tx_id(id, tx->body.data, tx->body.len);
        codec_tx_free(tx);
        store_u32_encode(code_be, TDEI_INSUFFICIENT_FUNDS);
        tdei_sha256_init(&sha);
        tdei_sha256_update(&sha, zeros, 32);
        tdei_sha256_update(&sha, id, 32);
        tdei_sha256_update(&sha, code_be, 4);
        tdei_sha256_final(&sha, want);
        ck_assert(memcmp(res->heads[0]->prev_head.data, zeros, 32) == 0);
        ck_assert(memcmp(res->heads[0]->new_head.data, want, 32) == 0);
    }
    codec_txresult_free(res);
    tdei_free(keep.data);
    ledger_close(&l);
}
END_TEST

START_TEST(test_exec_mint_refused_when_disabled)
{
    struct ledger l;
    struct exec_block_info info;
    ProtobufCBinaryData txs[2];

    ledger_open(&l, "a");
    txs[0] = tx_make_op(2, CHAIN, 1, "acme-steel", 5, 1);
    txs[1] = tx_make_op(0, CHAIN, 1, "acme-steel", 5, 1);
    ck_assert_msg(block_run(&l, txs, 2, &info) == 0, "%s", errmsg);
    ck_assert_uint_eq(info.refused_count, 2);
    ck_assert_uint_eq(balance(&l, "acme-steel"), 1000);
    ledger_close(&l);
}
END_TEST

/* Sign @body (its signer and nonce set here) as member @from's tx. */
static ProtobufCBinaryData tx_sign_body(size_t from, uint64_t nonce,
                                        Tdei__TxBody *body,
                                        uint8_t tx_id[CODEC_HASH_SIZE])
{
    Tdei__Tx tx = TDEI__TX__INIT;
    uint8_t sig[TDEI_SIG_SIZE];
    ProtobufCBinaryData out;
    uint8_t *bytes;
    size_t len;

    body->version = CODEC_VERSION;
    body->chain_id = (char *)CHAIN;
    body->signer = (ProtobufCBinaryData){32, op[from].pubkey};
    body->nonce = nonce;
    ck_assert_int_eq(codec_txbody_encode(body, &bytes, &len), 0);
    ck_assert_int_eq(tdei_sign_tagged(sig, &op[from], TDEI_TAG_TX, bytes, len),
                     0);
    if (tx_id != NULL) {
        codec_tx_id(tx_id, bytes, len);
    }
    tx.body = (ProtobufCBinaryData){len, bytes};
    tx.sig = (ProtobufCBinaryData){TDEI_SIG_SIZE, sig};
    ck_assert_int_eq(codec_tx_encode(&tx, &out.data, &out.len), 0);
    tdei_free(bytes);
    return out;
}

static ProtobufCBinaryData tx_vote(size_t from, uint64_t nonce,
                                   const uint8_t proposal[CODEC_HASH_SIZE])
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__MemberVote vote = TDEI__MEMBER_VOTE__INIT;

    vote.proposal =
        (ProtobufCBinaryData){CODEC_HASH_SIZE, (uint8_t *)(uintptr_t)proposal};
    vote.approve = 1;
    body.op_case = TDEI__TX_BODY__OP_MEMBER_VOTE;
    body.member_vote = &vote;
    return tx_sign_body(from, nonce, &body, NULL);
}

/* Governance through real blocks: the three voting members enable mint
 * (a params proposal by pub-svc, then the votes of the other two), and
 * pub-svc's mint, refused before, is applied after. */
START_TEST(test_exec_governance_enables_mint_through_blocks)
{
    struct ledger l;
    struct exec_block_info info;
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__MemberPropose propose = TDEI__MEMBER_PROPOSE__INIT;
    uint8_t proposal[CODEC_HASH_SIZE];
    ProtobufCBinaryData txs[2];

    ledger_open(&l, "gov");
    txs[0] = tx_make_op(2, CHAIN, 1, "acme-steel", 5, 1);
    ck_assert_msg(block_run(&l, txs, 1, &info) == 0, "%s", errmsg);
    ck_assert_uint_eq(info.refused_count, 1);
    propose.kind = CODEC_PROPOSE_PARAMS;
    propose.member = (char *)"";
    propose.name = (char *)"";
    propose.param = (char *)"mint_enabled";
    propose.value = 1;
    body.op_case = TDEI__TX_BODY__OP_MEMBER_PROPOSE;
    body.member_propose = &propose;
    txs[0] = tx_sign_body(2, 2, &body, proposal);
    ck_assert_msg(block_run(&l, txs, 1, &info) == 0, "%s", errmsg);
    ck_assert_uint_eq(info.refused_count, 0);
    /* 1 of 3 approvals: open. Then acme (2 of 3: 6 > 6 is false, still
     * open) and beta (3 of 3: passed) in one block. */
    txs[0] = tx_vote(0, 1, proposal);
    txs[1] = tx_vote(1, 1, proposal);
    ck_assert_msg(block_run(&l, txs, 2, &info) == 0, "%s", errmsg);
    ck_assert_uint_eq(info.refused_count, 0);
    txs[0] = tx_make_op(2, CHAIN, 3, "acme-steel", 5, 1);
    ck_assert_msg(block_run(&l, txs, 1, &info) == 0, "%s", errmsg);
    ck_assert_uint_eq(info.refused_count, 0);
    ck_assert_uint_eq(balance(&l, "acme-steel"), 1005);
    /* A fourth vote on the decided proposal is refused, nonce consumed. */
    txs[0] = tx_vote(0, 2, proposal);
    ck_assert_msg(block_run(&l, txs, 1, &info) == 0, "%s", errmsg);
    ck_assert_uint_eq(info.refused_count, 1);
    ck_assert_uint_eq(nonce_of(&l, 0), 2);
    ledger_close(&l);
}
END_TEST

/* Write entry @id (level 1, general, one_time @price, owned by
 * acme-steel) straight into @l's committed state: the catalog contract is
 * not what these tests are about. */
static void dataset_seed(struct ledger *l, const char *id, uint64_t price,
                         const uint8_t root[CODEC_HASH_SIZE])
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__Dataset d = TDEI__DATASET__INIT;
    Tdei__PriceTerms terms = TDEI__PRICE_TERMS__INIT;
    struct store_batch *b;
    uint8_t *val;
    size_t vlen;

    terms.model = CODEC_PRICE_ONE_TIME;
    terms.amount = price;
    d.id = (char *)(uintptr_t)id;
    d.kind = CODEC_KIND_DATASET;
    d.title = (char *)"Line 3 vibration";
    d.domain = CODEC_DOMAIN_PRODUCTION;
    d.level = 1;
    d.data_class = CODEC_CLASS_GENERAL;
    d.price = &terms;
    d.content_root = (ProtobufCBinaryData){32, (uint8_t *)(uintptr_t)root};
    d.size = 4096;
    d.owner = (char *)"acme-steel";
    d.publisher = (char *)"acme-steel";
    d.version = 1;
    d.status = CODEC_DATASET_ACTIVE;
    ck_assert_int_eq(codec_encode(&d.base, &val, &vlen), 0);
    ck_assert_int_eq(store_batch_create(&b, EXEC_BATCH_SIZE_MAX), 0);
    ck_assert_int_eq(store_batch_put(b, STORE_DB_STATE, key,
                                     contract_key_dataset(key, id), val, vlen),
                     0);
    ck_assert_msg(store_commit(l->store, b, errmsg) == 0, "%s", errmsg);
    store_batch_destroy(b);
    tdei_free(val);
}

static ProtobufCBinaryData tx_request(size_t from, uint64_t nonce,
                                      const char *id, uint64_t price,
                                      uint8_t xid[CODEC_HASH_SIZE])
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__ExchangeRequest req = TDEI__EXCHANGE_REQUEST__INIT;

    req.id = (char *)(uintptr_t)id;
    req.price = price;
    body.op_case = TDEI__TX_BODY__OP_EXCHANGE_REQUEST;
    body.exchange_request = &req;
    return tx_sign_body(from, nonce, &body, xid);
}

static ProtobufCBinaryData tx_deliver(size_t from, uint64_t nonce,
                                      const uint8_t xid[CODEC_HASH_SIZE],
                                      const uint8_t root[CODEC_HASH_SIZE])
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__ExchangeDeliver del = TDEI__EXCHANGE_DELIVER__INIT;
    uint8_t sealed[CODEC_SEALED_KEY_SIZE];

    memset(sealed, 0x5e, sizeof(sealed));
    del.exchange = (ProtobufCBinaryData){32, (uint8_t *)(uintptr_t)xid};
    del.sealed_key = (ProtobufCBinaryData){sizeof(sealed), sealed};
    del.content_root = (ProtobufCBinaryData){32, (uint8_t *)(uintptr_t)root};
    body.op_case = TDEI__TX_BODY__OP_EXCHANGE_DELIVER;
    body.exchange_deliver = &del;
    return tx_sign_body(from, nonce, &body, NULL);
}

/* Status, escrow and closing height of exchange @xid in @l's state. */
static uint32_t exchange_status(struct ledger *l,
                                const uint8_t xid[CODEC_HASH_SIZE],
                                uint64_t *escrow, uint64_t *closed)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    struct store_read *r;
    Tdei__Exchange *x;
    const uint8_t *val;
    size_t vlen;
    uint32_t status;

    ck_assert_int_eq(store_read_begin(l->store, &r, errmsg), 0);
    ck_assert_int_eq(store_get(r, STORE_DB_STATE, key,
                               contract_key_exchange(key, xid), &val, &vlen),
                     0);
    ck_assert_msg(codec_exchange_decode(&x, val, vlen, errmsg) == 0, "%s",
                  errmsg);
    store_read_end(r);
    status = x->status;
    *escrow = x->escrow;
    *closed = x->status == CODEC_EXCHANGE_SETTLED ? x->settled_height
                                                  : x->closed_height;
    codec_exchange_free(x);
    return status;
}

static void head_of(struct ledger *l, const uint8_t xid[CODEC_HASH_SIZE],
                    uint8_t head[CONTRACT_HEAD_SIZE])
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    struct store_read *r;

    ck_assert_int_eq(store_read_begin(l->store, &r, errmsg), 0);
    ck_assert_int_eq(
        exec_query_head(r, key, contract_key_exchange(key, xid), head, errmsg),
        0);
    store_read_end(r);
}

/* Deadlines through real blocks (deliver_ttl and confirm_ttl of 2 in
 * genesis): an approved exchange never delivered expires at the start of
 * block 4 and refunds the consumer; a delivery nobody confirms settles at
 * the start of block 5 and pays the owner. Empty blocks do it, with no
 * TxResult and no history head. */
START_TEST(test_exec_deadlines_expire_and_settle_through_blocks)
{
    struct ledger l;
    struct exec_block_info info;
    ProtobufCBinaryData txs[2];
    uint8_t root[32];
    uint8_t xa[32];
    uint8_t xb[32];
    uint8_t head[32];
    uint8_t head_after[32];
    uint64_t escrow;
    uint64_t closed;

    gen.params.contract[params_index(params_find("deliver_ttl"))] = 2;
    gen.params.contract[params_index(params_find("confirm_ttl"))] = 2;
    memset(root, 0xa1, sizeof(root));
    ledger_open(&l, "due");
    dataset_seed(&l, "ds-vib", 100, root);
    /* Block 1: beta-works asks twice (level 1: approved at once, the
     * delivery due by block 3). */
    txs[0] = tx_request(1, 1, "ds-vib", 100, xa);
    txs[1] = tx_request(1, 2, "ds-vib", 100, xb);
    ck_assert_msg(block_run(&l, txs, 2, &info) == 0, "%s", errmsg);
    ck_assert_uint_eq(info.refused_count, 0);
    ck_assert_uint_eq(balance(&l, "beta-works"), 300);
    /* Block 2: acme-steel delivers the second (confirmation due by 4). */
    txs[0] = tx_deliver(0, 1, xb, root);
    ck_assert_msg(block_run(&l, txs, 1, &info) == 0, "%s", errmsg);
    ck_assert_uint_eq(info.refused_count, 0);
    ck_assert_uint_eq(exchange_status(&l, xb, &escrow, &closed),
                      CODEC_EXCHANGE_DELIVERED);
    /* Block 3: the last height for the delivery; nothing happens. */
    ck_assert_msg(block_run(&l, NULL, 0, &info) == 0, "%s", errmsg);
    ck_assert_uint_eq(info.write_count, 0);
    ck_assert_uint_eq(exchange_status(&l, xa, &escrow, &closed),
                      CODEC_EXCHANGE_APPROVED);
    ck_assert_uint_eq(escrow, 100);
    head_of(&l, xa, head);
    /* Block 4: the first exchange expires, refunded. */
    ck_assert_msg(block_run(&l, NULL, 0, &info) == 0, "%s", errmsg);
    ck_assert_uint_eq(info.tx_count, 0);
    /* The balance, the escrow, the exchange and the deleted due list. */
    ck_assert_uint_eq(info.write_count, 4);
    ck_assert_uint_eq(exchange_status(&l, xa, &escrow, &closed),
                      CODEC_EXCHANGE_EXPIRED);
    ck_assert_uint_eq(escrow, 0);
    ck_assert_uint_eq(closed, 4);
    ck_assert_uint_eq(balance(&l, "beta-works"), 400);
    head_of(&l, xa, head_after);
    ck_assert(memcmp(head, head_after, 32) == 0);
    ck_assert_uint_eq(exchange_status(&l, xb, &escrow, &closed),
                      CODEC_EXCHANGE_DELIVERED);
    /* Block 5: silence is acceptance; acme-steel is paid. */
    ck_assert_msg(block_run(&l, NULL, 0, &info) == 0, "%s", errmsg);
    ck_assert_uint_eq(exchange_status(&l, xb, &escrow, &closed),
                      CODEC_EXCHANGE_SETTLED);
    ck_assert_uint_eq(escrow, 0);
    ck_assert_uint_eq(closed, 5);
    ck_assert_uint_eq(balance(&l, "acme-steel"), 1100);
    ck_assert_uint_eq(balance(&l, "beta-works"), 400);
    /* Block 6: no list left, nothing written. */
    ck_assert_msg(block_run(&l, NULL, 0, &info) == 0, "%s", errmsg);
    ck_assert_uint_eq(info.write_count, 0);
    ledger_close(&l);
}
END_TEST

/* Execute one block of @txs (freed) and expect @code with @text. */
static void expect_invalid(struct ledger *l, ProtobufCBinaryData *txs, size_t n,
                           int code, const char *text)
{
    struct exec_block_info info;
    struct exec_tip before = tip_of(l);
    struct exec_tip after;

    ck_assert_int_eq(block_run(l, txs, n, &info), code);
    ck_assert_msg(strstr(errmsg, text) != NULL, "errmsg \"%s\" lacks \"%s\"",
                  errmsg, text);
    ck_assert_uint_eq(info.height, 0);
    after = tip_of(l);
    ck_assert_uint_eq(after.height, before.height);
    ck_assert(memcmp(after.app_hash, before.app_hash, 32) == 0);
}

START_TEST(test_exec_block_invalid_by_one_tx)
{
    struct ledger l;
    ProtobufCBinaryData txs[2];

    ledger_open(&l, "a");
    /* Wrong nonce: the second tx of acme reuses nonce 1. */
    txs[0] = tx_make(0, 1, "beta-works", 1);
    txs[1] = tx_make(0, 1, "beta-works", 2);
    expect_invalid(&l, txs, 2, TDEI_NONCE, "tx 1: nonce 1");
    /* A nonce that skips one. */
    txs[0] = tx_make(1, 2, "acme-steel", 1);
    expect_invalid(&l, txs, 1, TDEI_NONCE, "expected 1");
    /* A key that is no member's operator key. */
    txs[0] = tx_make(0, 1, "beta-works", 1);
    txs[1] = tx_make(4, 1, "beta-works", 1);
    expect_invalid(&l, txs, 2, TDEI_UNKNOWN_SIGNER, "tx 1: signer");
    /* A signature that does not verify. */
    txs[0] = tx_make(0, 1, "beta-works", 1);
    txs[0].data[txs[0].len - 1] ^= 1; /* the sig is the last field */
    expect_invalid(&l, txs, 1, TDEI_BADSIG, "tx 0");
    /* A tx for another chain. */
    txs[0] = tx_make_op(0, "other-chain", 1, "beta-works", 1, 0);
    expect_invalid(&l, txs, 1, TDEI_CHAIN_ID, "other-chain");
    /* A tx that is not a Tx at all. */
    txs[0].data = tdei_malloc(3);
    memcpy(txs[0].data, "\xff\xff\xff", 3);
    txs[0].len = 3;
    expect_invalid(&l, txs, 1, TDEI_MALFORMED, "tx 0");
    /* After all of that, a valid block still applies at height 1. */
    txs[0] = tx_make(0, 1, "beta-works", 1);
    {
        struct exec_block_info info;
        ck_assert_msg(block_run(&l, txs, 1, &info) == 0, "%s", errmsg);
        ck_assert_uint_eq(info.height, 1);
    }
    ledger_close(&l);
}
END_TEST

static void tweak_app_hash(Tdei__Header *h) { h->app_hash.data[0] ^= 1; }

static void tweak_results_root(Tdei__Header *h)
{
    h->last_results_root.data[5] ^= 1;
}

static void tweak_time(Tdei__Header *h) { h->time_ms = GENESIS_TIME; }

static void tweak_proposer(Tdei__Header *h)
{
    h->proposer = (ProtobufCBinaryData){32, node[1].pubkey};
}

static void tweak_validators(Tdei__Header *h)
{
    h->next_validators_hash.data[31] ^= 1;
}

START_TEST(test_exec_block_invalid_by_header)
{
    static const struct
    {
        header_tweak_fn tweak;
        const char *text;
    } cases[] = {
        {tweak_app_hash, "app_hash"},
        {tweak_results_root, "last_results_root"},
        {tweak_time, "time"},
        {tweak_proposer, "proposer"},
        {tweak_validators, "next_validators_hash"},
    };
    struct ledger l;
    struct exec_block_info info;

    ledger_open(&l, "a");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ProtobufCBinaryData bytes = block_make(&l, NULL, 0, cases[i].tweak);
        ck_assert_int_eq(block_apply(&l, &bytes, &info), TDEI_BAD_BLOCK);
        ck_assert_msg(strstr(errmsg, cases[i].text) != NULL, "%s", errmsg);
        tdei_free(bytes.data);
    }
    /* A block applied twice: the second is at the wrong height. */
    {
        ProtobufCBinaryData bytes = block_make(&l, NULL, 0, NULL);
        ck_assert_int_eq(block_apply(&l, &bytes, &info), 0);
        ck_assert_int_eq(block_apply(&l, &bytes, &info), TDEI_BAD_BLOCK);
        ck_assert_ptr_nonnull(strstr(errmsg, "height 1"));
        tdei_free(bytes.data);
    }
    ledger_close(&l);
}
END_TEST

/* The commit a block carries is verified: precommits of more than 2/3
 * of the validators, each from a validator, each signature over the
 * precommit's sign bytes. Any other commit makes the block invalid and
 * changes nothing. */
START_TEST(test_exec_block_invalid_by_last_commit)
{
    static const struct
    {
        enum commit_kind kind;
        int code;
        const char *text;
    } cases[] = {
        {COMMIT_ONE, TDEI_NO_QUORUM, "precommits of 1 of 2 validators"},
        {COMMIT_BAD_SIG, TDEI_BADSIG, "bad signature"},
        {COMMIT_OUTSIDER, TDEI_NOT_VOTER, "outside the validator set"},
        {COMMIT_PREVOTE, TDEI_BADSIG, "bad signature"},
    };
    struct ledger l;
    struct exec_block_info info;
    ProtobufCBinaryData bytes;

    ledger_open(&l, "a");
    bytes = block_make(&l, NULL, 0, NULL);
    ck_assert_msg(block_apply(&l, &bytes, &info) == 0, "%s", errmsg);
    tdei_free(bytes.data);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bytes = block_make_signed(&l, NULL, 0, NULL, cases[i].kind);
        ck_assert_int_eq(block_apply(&l, &bytes, &info), cases[i].code);
        ck_assert_msg(strstr(errmsg, "block 2 last_commit (of block 1)") !=
                              NULL &&
                          strstr(errmsg, cases[i].text) != NULL,
                      "%s", errmsg);
        ck_assert_uint_eq(tip_of(&l).height, 1);
        tdei_free(bytes.data);
    }
    bytes = block_make_signed(&l, NULL, 0, NULL, COMMIT_VALID);
    ck_assert_msg(block_apply(&l, &bytes, &info) == 0, "%s", errmsg);
    ck_assert_uint_eq(tip_of(&l).height, 2);
    tdei_free(bytes.data);
    ledger_close(&l);
}
END_TEST

/* A verifier that says yes to everything, and counts. */
static int verified_calls;
static int verify_yes(void *impl, const uint8_t tx_id[32],
                      const uint8_t sig[64])
{
    (void)impl;
    (void)tx_id;
    (void)sig;
    verified_calls++;
    return 1;
}

START_TEST(test_exec_verifier_cache_is_consulted)
{
    struct ledger l;
    struct exec_block_info info;
    struct exec_verifier v = {.impl = NULL, .verified = verify_yes};
    ProtobufCBinaryData txs[1];
    ProtobufCBinaryData bytes;

    ledger_open(&l, "a");
    txs[0] = tx_make(0, 1, "beta-works", 1);
    txs[0].data[txs[0].len - 1] ^= 1;
    bytes = block_make(&l, txs, 1, NULL);
    /* Check only (no batch): the same block, with and without a cache. */
    {
        const struct codec_limits limits = CODEC_LIMITS_DEFAULT;
        Tdei__Block *block;
        Tdei__Header *header;
        struct store_read *r;
        ck_assert_int_eq(codec_block_decode(&block, &header, bytes.data,
                                            bytes.len, &limits, errmsg),
                         0);
        ck_assert_int_eq(store_read_begin(l.store, &r, errmsg), 0);
        ck_assert_int_eq(exec_block(ex, NULL, &info, r, block, header, NULL, 0,
                                    NULL, errmsg),
                         TDEI_BADSIG);
        verified_calls = 0;
        ck_assert_int_eq(
            exec_block(ex, NULL, &info, r, block, header, NULL, 0, &v, errmsg),
            0);
        ck_assert_int_eq(verified_calls, 1);
        store_read_end(r);
        codec_header_free(header);
        codec_block_free(block);
    }
    /* Nothing was written by the checks. */
    ck_assert_uint_eq(tip_of(&l).height, 0);
    ck_assert_uint_eq(balance(&l, "beta-works"), 500);
    tdei_free(bytes.data);
    txs_free(txs, 1);
    ledger_close(&l);
}
END_TEST

/* ---- determinism and replay ---------------------------------------------- */

/* Run the same three blocks on @l; record app hashes and results roots.
 * @swap reverses the first two txs of block 1 (independent signers). */
static void three_blocks(struct ledger *l, int swap,
                         struct exec_block_info info[3])
{
    ProtobufCBinaryData txs[3];

    txs[swap ? 1 : 0] = tx_make(0, 1, "beta-works", 100);
    txs[swap ? 0 : 1] = tx_make(2, 1, "beta-works", 1); /* refused: 0 */
    txs[2] = tx_make(1, 1, "acme-steel", 7);
    ck_assert_msg(block_run(l, txs, 3, &info[0]) == 0, "%s", errmsg);
    txs[0] = tx_make(0, 2, "pub-svc", 5);
    txs[1] = tx_make(2, 2, "beta-works", 1);
    ck_assert_msg(block_run(l, txs, 2, &info[1]) == 0, "%s", errmsg);
    txs[0] = tx_make(1, 2, "beta-works", 1); /* self: refused */
    txs[1] = tx_make(1, 3, "gamma-audit", 9);
    txs[2] = tx_make(0, 3, "beta-works", 1);
    ck_assert_msg(block_run(l, txs, 3, &info[2]) == 0, "%s", errmsg);
}

START_TEST(test_exec_deterministic_across_stores)
{
    struct ledger a;
    struct ledger b;
    struct ledger c;
    struct exec_block_info ia[3];
    struct exec_block_info ib[3];
    struct exec_block_info ic[3];

    ledger_open(&a, "a");
    ledger_open(&b, "b");
    ledger_open(&c, "c");
    three_blocks(&a, 0, ia);
    three_blocks(&b, 0, ib);
    three_blocks(&c, 1, ic);
    for (size_t i = 0; i < 3; i++) {
        ck_assert(memcmp(ia[i].app_hash, ib[i].app_hash, 32) == 0);
        ck_assert(memcmp(ia[i].results_root, ib[i].results_root, 32) == 0);
        ck_assert_uint_eq(ia[i].refused_count, ib[i].refused_count);
    }
    ck_assert_uint_eq(ia[0].refused_count, 1);
    ck_assert_uint_eq(ia[2].refused_count, 1);
    /* Another order of the same txs: same balances, another history. */
    ck_assert(memcmp(ia[0].app_hash, ic[0].app_hash, 32) != 0);
    ck_assert(memcmp(ia[0].results_root, ic[0].results_root, 32) != 0);
    ck_assert_uint_eq(balance(&a, "beta-works"), balance(&c, "beta-works"));
    ledger_close(&a);
    ledger_close(&b);
    ledger_close(&c);
}
END_TEST

START_TEST(test_exec_replay_from_stored_blocks)
{
    struct ledger a;
    struct ledger r2;
    struct exec_block_info ia[3];
    struct exec_tip ta;

    ledger_open(&a, "a");
    ledger_open(&r2, "replay");
    three_blocks(&a, 0, ia);
    for (uint64_t h = 1; h <= 3; h++) {
        struct store_read *r;
        struct exec_block_info info;
        ProtobufCBinaryData bytes;
        const uint8_t *val;
        uint8_t key[8];
        ck_assert_int_eq(store_read_begin(a.store, &r, errmsg), 0);
        store_u64_encode(key, h);
        ck_assert_int_eq(
            store_get(r, STORE_DB_BLOCKS, key, 8, &val, &bytes.len), 0);
        bytes.data = tdei_malloc(bytes.len);
        memcpy(bytes.data, val, bytes.len);
        store_read_end(r);
        ck_assert_msg(block_apply(&r2, &bytes, &info) == 0, "%s", errmsg);
        ck_assert(memcmp(info.app_hash, ia[h - 1].app_hash, 32) == 0);
        ck_assert(memcmp(info.results_root, ia[h - 1].results_root, 32) == 0);
        tdei_free(bytes.data);
    }
    ta = tip_of(&a);
    {
        struct exec_tip tr = tip_of(&r2);
        ck_assert_uint_eq(tr.height, 3);
        ck_assert(memcmp(tr.app_hash, ta.app_hash, 32) == 0);
        ck_assert(memcmp(tr.last_block_id, ta.last_block_id, 32) == 0);
    }
    ledger_close(&a);
    ledger_close(&r2);
}
END_TEST

START_TEST(test_exec_history_heads_chain_without_gaps)
{
    static const char object[] = "member/beta-works";
    struct ledger l;
    struct exec_block_info info[3];
    struct store_read *r;
    struct store_iter it;
    uint8_t prefix[64];
    size_t plen;
    uint8_t prev[32] = {0};
    uint8_t head[32];
    size_t k = 0;
    const uint8_t *key;
    const uint8_t *val;
    size_t klen;
    size_t vlen;

    ledger_open(&l, "a");
    three_blocks(&l, 0, info);
    plen = strlen(EXEC_INDEX_HIST);
    memcpy(prefix, EXEC_INDEX_HIST, plen);
    prefix[plen++] = (uint8_t)strlen(object);
    memcpy(prefix + plen, object, strlen(object));
    plen += strlen(object);
    ck_assert_int_eq(store_read_begin(l.store, &r, errmsg), 0);
    ck_assert_int_eq(
        store_iter_init(&it, r, STORE_DB_INDEX, prefix, plen, NULL, 0, 0), 0);
    while (store_iter_next(&it, &key, &klen, &val, &vlen) == 0) {
        uint64_t height = store_u64_decode(key + plen);
        uint32_t index = store_u32_decode(key + plen + 8);
        Tdei__TxResult *res;
        uint8_t loc[12];
        const uint8_t *rv;
        size_t rlen;
        int found = 0;

        ck_assert_uint_eq(vlen, 64);
        ck_assert(memcmp(val, prev, 32) == 0); /* no gap */
        /* The tx's own result records the same step. */
        store_u64_encode(loc, height);
        store_u32_encode(loc + 8, index);
        ck_assert_int_eq(store_get(r, STORE_DB_RESULTS, loc, 12, &rv, &rlen),
                         0);
        ck_assert_int_eq(codec_txresult_decode(&res, rv, rlen, errmsg), 0);
        for (size_t i = 0; i < res->n_heads; i++) {
            const Tdei__HeadUpdate *hu = res->heads[i];
            if (hu->object.len == strlen(object) &&
                memcmp(hu->object.data, object, hu->object.len) == 0) {
                ck_assert(memcmp(hu->prev_head.data, val, 32) == 0);
                ck_assert(memcmp(hu->new_head.data, val + 32, 32) == 0);
                found = 1;
            }
        }
        codec_txresult_free(res);
        ck_assert(found);
        memcpy(prev, val + 32, 32);
        k++;
    }
    store_iter_close(&it);
    /* beta-works is touched by 3 txs of block 1 (one of them refused), 1
     * of block 2 and 3 of block 3 (one refused): 7 steps. */
    ck_assert_uint_eq(k, 7);
    ck_assert_int_eq(exec_query_head(r, (const uint8_t *)object, strlen(object),
                                     head, errmsg),
                     0);
    ck_assert(memcmp(head, prev, 32) == 0);
    store_read_end(r);
    ledger_close(&l);
}
END_TEST

/* ---- the catalog through blocks: state, search index, replay ---------- */

/* A catalog_publish tx of a level 1 dataset @id titled @title by op[@from]. */
static ProtobufCBinaryData tx_publish(size_t from, uint64_t nonce,
                                      const char *id, const char *title,
                                      uint64_t price)
{
    static const uint8_t root[32] = {0x5e};
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__CatalogPublish pub = TDEI__CATALOG_PUBLISH__INIT;
    Tdei__PriceTerms terms = TDEI__PRICE_TERMS__INIT;

    terms.model = CODEC_PRICE_ONE_TIME;
    terms.amount = price;
    pub.id = (char *)(uintptr_t)id;
    pub.kind = CODEC_KIND_DATASET;
    pub.title = (char *)(uintptr_t)title;
    pub.description = (char *)(uintptr_t) "";
    pub.domain = CODEC_DOMAIN_PRODUCTION;
    pub.level = 1;
    pub.data_class = CODEC_CLASS_GENERAL;
    pub.schema = (char *)(uintptr_t) "";
    pub.price = &terms;
    pub.content_root = (ProtobufCBinaryData){32, (uint8_t *)(uintptr_t)root};
    pub.size = 100;
    body.op_case = TDEI__TX_BODY__OP_CATALOG_PUBLISH;
    body.catalog_publish = &pub;
    return tx_sign_body(from, nonce, &body, NULL);
}

static ProtobufCBinaryData tx_withdraw(size_t from, uint64_t nonce,
                                       const char *id)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__CatalogWithdraw w = TDEI__CATALOG_WITHDRAW__INIT;

    w.id = (char *)(uintptr_t)id;
    body.op_case = TDEI__TX_BODY__OP_CATALOG_WITHDRAW;
    body.catalog_withdraw = &w;
    return tx_sign_body(from, nonce, &body, NULL);
}

/* The ids that a search for @word (status @status) finds, in rank order,
 * joined by spaces into @out. Returns the total. */
static uint64_t search_ids(struct ledger *l, const char *word, uint32_t status,
                           char *out, size_t cap)
{
    const char *words[1] = {word};
    struct search_query q = {
        .words = words,
        .word_count = word != NULL ? 1 : 0,
        .price_max = UINT64_MAX,
        .status = status,
        .limit = 100,
    };
    struct search_result *res = tdei_malloc(sizeof(*res));
    struct store_read *r;
    uint64_t total;
    size_t used = 0;

    ck_assert_ptr_nonnull(res);
    ck_assert_int_eq(store_read_begin(l->store, &r, errmsg), 0);
    ck_assert_msg(search_query_run(r, &q, res, errmsg) == 0, "%s", errmsg);
    out[0] = '\0';
    for (size_t i = 0; i < res->count; i++) {
        int n = snprintf(out + used, cap - used, "%s%s", i ? " " : "",
                         res->hits[i].id);
        ck_assert(n > 0 && (size_t)n < cap - used);
        used += (size_t)n;
    }
    total = res->total;
    store_read_end(r);
    tdei_free(res);
    return total;
}

/* Compare the whole index database of @a and @b. */
static void index_equal(struct ledger *a, struct ledger *b)
{
    struct store_read *ra;
    struct store_read *rb;
    struct store_iter ia;
    struct store_iter ib;
    size_t n = 0;

    ck_assert_int_eq(store_read_begin(a->store, &ra, errmsg), 0);
    ck_assert_int_eq(store_read_begin(b->store, &rb, errmsg), 0);
    ck_assert_int_eq(
        store_iter_init(&ia, ra, STORE_DB_INDEX, NULL, 0, NULL, 0, 0), 0);
    ck_assert_int_eq(
        store_iter_init(&ib, rb, STORE_DB_INDEX, NULL, 0, NULL, 0, 0), 0);
    for (;;) {
        const uint8_t *ka;
        const uint8_t *kb;
        const uint8_t *va;
        const uint8_t *vb;
        size_t kla;
        size_t klb;
        size_t vla;
        size_t vlb;
        int rca = store_iter_next(&ia, &ka, &kla, &va, &vla);
        int rcb = store_iter_next(&ib, &kb, &klb, &vb, &vlb);
        ck_assert_int_eq(rca, rcb);
        if (rca != 0) {
            ck_assert_int_eq(rca, TDEI_NOTFOUND);
            break;
        }
        ck_assert(kla == klb && memcmp(ka, kb, kla) == 0);
        ck_assert(vla == vlb && (vla == 0 || memcmp(va, vb, vla) == 0));
        n++;
    }
    ck_assert_uint_gt(n, 10); /* postings and history entries */
    store_iter_close(&ia);
    store_iter_close(&ib);
    store_read_end(ra);
    store_read_end(rb);
}

/* Entries published and withdrawn through real blocks are found by the
 * search index kept in each block's batch, and replaying the stored
 * blocks on a fresh store rebuilds the very same index. */
START_TEST(test_exec_catalog_search_through_blocks)
{
    struct ledger a;
    struct ledger b;
    struct exec_block_info info;
    ProtobufCBinaryData txs[3];
    char ids_found[256];

    ledger_open(&a, "a");
    txs[0] = tx_publish(0, 1, "press-vib", "Press vibration", 100);
    txs[1] = tx_publish(0, 2, "lathe-vib", "Lathe spindle vibration", 50);
    txs[2] = tx_publish(1, 1, "press-heat", "Press heat map", 20);
    ck_assert_msg(block_run(&a, txs, 3, &info) == 0, "%s", errmsg);
    ck_assert_uint_eq(info.refused_count, 0);
    ck_assert_uint_eq(
        search_ids(&a, "vibration", 0, ids_found, sizeof(ids_found)), 2);
    ck_assert_str_eq(ids_found, "lathe-vib press-vib");
    ck_assert_uint_eq(search_ids(&a, "press", 0, ids_found, sizeof(ids_found)),
                      2);
    ck_assert_str_eq(ids_found, "press-heat press-vib");
    /* Block 2: beta-works may not withdraw acme-steel's entry (refused,
     * the index unchanged); acme-steel withdraws it. */
    txs[0] = tx_withdraw(1, 2, "press-vib");
    txs[1] = tx_withdraw(0, 3, "press-vib");
    ck_assert_msg(block_run(&a, txs, 2, &info) == 0, "%s", errmsg);
    ck_assert_uint_eq(info.refused_count, 1);
    ck_assert_uint_eq(
        search_ids(&a, "vibration", 0, ids_found, sizeof(ids_found)), 1);
    ck_assert_str_eq(ids_found, "lathe-vib");
    ck_assert_uint_eq(search_ids(&a, "vibration", SEARCH_STATUS_WITHDRAWN,
                                 ids_found, sizeof(ids_found)),
                      1);
    ck_assert_str_eq(ids_found, "press-vib");
    ck_assert_uint_eq(
        search_ids(&a, NULL, SEARCH_STATUS_ANY, ids_found, sizeof(ids_found)),
        3);
    ck_assert_str_eq(ids_found, "lathe-vib press-heat press-vib");

    /* Replay both stored blocks on a fresh store. */
    ledger_open(&b, "b");
    for (uint64_t h = 1; h <= 2; h++) {
        struct store_read *r;
        ProtobufCBinaryData bytes;
        const uint8_t *val;
        uint8_t key[8];
        ck_assert_int_eq(store_read_begin(a.store, &r, errmsg), 0);
        store_u64_encode(key, h);
        ck_assert_int_eq(
            store_get(r, STORE_DB_BLOCKS, key, 8, &val, &bytes.len), 0);
        bytes.data = tdei_malloc(bytes.len);
        ck_assert_ptr_nonnull(bytes.data);
        memcpy(bytes.data, val, bytes.len);
        store_read_end(r);
        ck_assert_msg(block_apply(&b, &bytes, &info) == 0, "%s", errmsg);
        tdei_free(bytes.data);
    }
    index_equal(&a, &b);
    ledger_close(&a);
    ledger_close(&b);
}
END_TEST

/* A precommit of validator node[@v] at (1, 0) on @chain: nil when @block
 * is 0, else for 32 bytes of @block. @fx holds the bytes. */
struct precommit
{
    Tdei__Vote vote;
    uint8_t block_id[32];
    uint8_t sig[TDEI_SIG_SIZE];
};

static void precommit_make(struct precommit *fx, size_t v, const char *chain,
                           uint8_t block)
{
    uint8_t bytes[CODEC_VOTE_SIGN_BYTES_MAX];
    size_t len;

    tdei__vote__init(&fx->vote);
    memset(fx->block_id, block, sizeof(fx->block_id));
    fx->vote.type = CODEC_VOTE_PRECOMMIT;
    fx->vote.height = 1;
    fx->vote.block_id =
        (ProtobufCBinaryData){block == 0 ? 0 : 32, fx->block_id};
    fx->vote.validator = (ProtobufCBinaryData){32, node[v].pubkey};
    len = codec_vote_sign_bytes(bytes, chain, CODEC_VOTE_PRECOMMIT, 1, 0,
                                block == 0 ? NULL : fx->block_id);
    ck_assert_int_eq(
        tdei_sign_tagged(fx->sig, &node[v], TDEI_TAG_VOTE, bytes, len), 0);
    fx->vote.sig = (ProtobufCBinaryData){TDEI_SIG_SIZE, fx->sig};
}

static ProtobufCBinaryData tx_evidence(size_t from, uint64_t nonce,
                                       Tdei__Vote *a, Tdei__Vote *b)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__Evidence ev = TDEI__EVIDENCE__INIT;

    ev.a = a;
    ev.b = b;
    body.op_case = TDEI__TX_BODY__OP_EVIDENCE;
    body.evidence = &ev;
    return tx_sign_body(from, nonce, &body, NULL);
}

/* Evidence through a real block: execution gives the contract the chain's
 * id, so votes signed on this chain verify and the equivocation is
 * recorded once; votes signed for another chain are refused. */
START_TEST(test_exec_evidence_through_a_block)
{
    struct ledger l;
    struct exec_block_info info;
    struct precommit nil_vote, block_vote, foreign;
    ProtobufCBinaryData txs[3];
    ProtobufCBinaryData keep[3];
    Tdei__TxResult *res;
    uint64_t height;
    uint32_t index;

    ledger_open(&l, "a");
    precommit_make(&nil_vote, 0, CHAIN, 0);
    precommit_make(&block_vote, 0, CHAIN, 0x5e);
    precommit_make(&foreign, 0, "other-chain", 0x5e);
    txs[0] = tx_evidence(1, 1, &nil_vote.vote, &block_vote.vote);
    txs[1] = tx_evidence(3, 1, &nil_vote.vote, &block_vote.vote);
    txs[2] = tx_evidence(3, 2, &nil_vote.vote, &foreign.vote);
    for (size_t i = 0; i < 3; i++) {
        keep[i].len = txs[i].len;
        keep[i].data = tdei_malloc(txs[i].len);
        memcpy(keep[i].data, txs[i].data, txs[i].len);
    }
    ck_assert_msg(block_run(&l, txs, 3, &info) == 0, "%s", errmsg);
    ck_assert_uint_eq(info.refused_count, 2);

    res = result_of(&l, &keep[0], &height, &index);
    ck_assert_uint_eq(res->code, 0);
    ck_assert_uint_eq(res->n_events, 1);
    ck_assert_str_eq(res->events[0]->type, "evidence.committed");
    ck_assert_uint_eq(res->n_heads, 2);
    ck_assert_mem_eq(res->heads[1]->object.data, "member/acme-steel", 17);
    codec_txresult_free(res);
    res = result_of(&l, &keep[1], &height, &index);
    ck_assert_uint_eq(res->code, TDEI_EVIDENCE_EXISTS);
    codec_txresult_free(res);
    res = result_of(&l, &keep[2], &height, &index);
    ck_assert_uint_eq(res->code, TDEI_BADSIG);
    codec_txresult_free(res);
    txs_free(keep, 3);
    ledger_close(&l);
}
END_TEST

/* ---- validator-set changes ----------------------------------------------- */

/* The RFC 6962 root over the node keys of node[@keys[0..n)], sorted. */
static void vset_root_of(uint8_t root[32], const size_t *keys, size_t n)
{
    uint8_t sorted[KEYS][32];
    uint8_t leaves[KEYS][MERKLE_HASH_SIZE];

    for (size_t i = 0; i < n; i++) {
        size_t at = i;
        while (at > 0 && memcmp(sorted[at - 1], node[keys[i]].pubkey, 32) > 0) {
            memcpy(sorted[at], sorted[at - 1], 32);
            at--;
        }
        memcpy(sorted[at], node[keys[i]].pubkey, 32);
    }
    for (size_t i = 0; i < n; i++) {
        merkle_leaf_hash(leaves[i], sorted[i], 32);
    }
    merkle_root(root, (const uint8_t(*)[MERKLE_HASH_SIZE])leaves, n);
}

/* 1 when @set holds exactly node[@keys[0..n)]. */
static int vset_is(const Tdei__ValidatorSet *set, const size_t *keys, size_t n)
{
    uint8_t want[32];
    uint8_t have[32];
    uint8_t leaves[KEYS][MERKLE_HASH_SIZE];

    if (set->n_validators != n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        merkle_leaf_hash(leaves[i], set->validators[i]->node_key.data, 32);
    }
    merkle_root(have, (const uint8_t(*)[MERKLE_HASH_SIZE])leaves, n);
    vset_root_of(want, keys, n);
    return memcmp(want, have, 32) == 0;
}

/* The set that votes at @height on @l is node[@keys[0..n)]. */
static void vset_expect(struct ledger *l, uint64_t height, const size_t *keys,
                        size_t n)
{
    struct store_read *r;
    Tdei__ValidatorSet *set;

    ck_assert_int_eq(store_read_begin(l->store, &r, errmsg), 0);
    ck_assert_msg(exec_query_validators_at(r, height, &set, errmsg) == 0,
                  "height %" PRIu64 ": %s", height, errmsg);
    store_read_end(r);
    ck_assert_msg(vset_is(set, keys, n), "the set of height %" PRIu64,
                  height);
    codec_validator_set_free(set);
}

/* The next header's two validator hashes are the roots of @now and
 * @next. */
static void next_hashes_expect(struct ledger *l, const size_t *now, size_t n,
                               const size_t *next, size_t m)
{
    struct exec_next_header h;
    struct store_read *r;
    uint8_t root[32];

    ck_assert_int_eq(store_read_begin(l->store, &r, errmsg), 0);
    ck_assert_int_eq(exec_next_header(r, NULL, 0, &h, errmsg), 0);
    store_read_end(r);
    vset_root_of(root, now, n);
    ck_assert_msg(memcmp(h.validators_hash, root, 32) == 0,
                  "validators_hash of height %" PRIu64, h.height);
    vset_root_of(root, next, m);
    ck_assert_msg(memcmp(h.next_validators_hash, root, 32) == 0,
                  "next_validators_hash of height %" PRIu64, h.height);
}

/* Build the next block of @l over @txs (borrowed), proposed by
 * node[@proposer], carrying the previous block's commit with the
 * precommits of node[@signers[0..count)] (any order; sorted here). */
static ProtobufCBinaryData block_make_by(struct ledger *l,
                                         ProtobufCBinaryData *txs, size_t n,
                                         size_t proposer, const size_t *signers,
                                         size_t count, header_tweak_fn tweak)
{
    struct exec_next_header next;
    Tdei__Header header = TDEI__HEADER__INIT;
    Tdei__Block block = TDEI__BLOCK__INIT;
    Tdei__Commit commit = TDEI__COMMIT__INIT;
    Tdei__CommitSig csig[KEYS];
    Tdei__CommitSig *csigs[KEYS];
    uint8_t sigs[KEYS][TDEI_SIG_SIZE];
    size_t order[KEYS];
    struct store_read *r;
    ProtobufCBinaryData out;
    uint8_t *hbytes;
    size_t hlen;

    ck_assert_uint_le(count, KEYS);
    ck_assert_int_eq(store_read_begin(l->store, &r, errmsg), 0);
    ck_assert_msg(exec_next_header(r, txs, n, &next, errmsg) == 0, "%s",
                  errmsg);
    store_read_end(r);
    exec_header_fill(&header, &next);
    header.time_ms = next.time_ms_min + 999;
    header.proposer = (ProtobufCBinaryData){32, node[proposer].pubkey};
    if (tweak != NULL) {
        tweak(&header);
    }
    ck_assert_int_eq(codec_header_encode(&header, &hbytes, &hlen), 0);
    block.header = (ProtobufCBinaryData){hlen, hbytes};
    block.n_txs = n;
    block.txs = txs;
    if (next.height > 1) {
        commit.height = next.height - 1;
        commit.block_id = (ProtobufCBinaryData){32, next.last_block_id};
        for (size_t i = 0; i < count; i++) {
            size_t at = i;
            while (at > 0 && memcmp(node[order[at - 1]].pubkey,
                                    node[signers[i]].pubkey, 32) > 0) {
                order[at] = order[at - 1];
                at--;
            }
            order[at] = signers[i];
        }
        for (size_t i = 0; i < count; i++) {
            tdei__commit_sig__init(&csig[i]);
            commit_sig_make(sigs[i], order[i], &commit, 0);
            csig[i].validator = (ProtobufCBinaryData){32, node[order[i]].pubkey};
            csig[i].sig = (ProtobufCBinaryData){TDEI_SIG_SIZE, sigs[i]};
            csigs[i] = &csig[i];
        }
        commit.n_signatures = count;
        commit.signatures = csigs;
        block.last_commit = &commit;
    }
    ck_assert_int_eq(codec_block_encode(&block, &out.data, &out.len), 0);
    tdei_free(hbytes);
    return out;
}

/* Build and apply a block as block_make_by says; the txs stay. */
static int block_by(struct ledger *l, ProtobufCBinaryData *txs, size_t n,
                    size_t proposer, const size_t *signers, size_t count,
                    header_tweak_fn tweak)
{
    struct exec_block_info info;
    ProtobufCBinaryData bytes =
        block_make_by(l, txs, n, proposer, signers, count, tweak);
    int rc = block_apply(l, &bytes, &info);

    tdei_free(bytes.data);
    return rc;
}

/* A header that claims no pending change of the validator set. */
static void tweak_next_same(Tdei__Header *h)
{
    h->next_validators_hash = h->validators_hash;
}

static ProtobufCBinaryData tx_member_propose(size_t from, uint64_t nonce,
                                             Tdei__MemberPropose *p,
                                             uint8_t proposal[CODEC_HASH_SIZE])
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;

    body.op_case = TDEI__TX_BODY__OP_MEMBER_PROPOSE;
    body.member_propose = p;
    return tx_sign_body(from, nonce, &body, proposal);
}

/* Governance adds a validator in block 1 (it votes from height 3) and
 * removes one in block 4 (from height 6): the set of every height is read
 * back from the history, both header hashes follow it, a block's proposer
 * and last_commit are checked against the set of their heights, and a
 * commit signed by the old set is refused once the change is in force. */
START_TEST(test_exec_validator_set_changes_by_height)
{
    static const size_t g[] = {0, 2};       /* the genesis validators */
    static const size_t added[] = {0, 2, 4}; /* from height 3 */
    static const size_t left[] = {0, 4};     /* from height 6 */
    static const size_t with4[] = {0, 2, 4};
    struct ledger l;
    struct store_read *r;
    Tdei__ValidatorSet *set;
    Tdei__MemberPropose add = TDEI__MEMBER_PROPOSE__INIT;
    Tdei__MemberPropose rm = TDEI__MEMBER_PROPOSE__INIT;
    Tdei__Member *m;
    uint8_t enc[32];
    uint8_t proposal[CODEC_HASH_SIZE];
    ProtobufCBinaryData txs[3];
    uint64_t from;

    ledger_open(&l, "vset");
    vset_expect(&l, 1, g, 2);
    vset_expect(&l, 2, g, 2);
    ck_assert_int_eq(store_read_begin(l.store, &r, errmsg), 0);
    ck_assert_int_eq(exec_query_validators_at(r, 3, &set, errmsg),
                     TDEI_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(errmsg, "decided by block 1"));
    ck_assert_int_eq(exec_query_validators_at(r, 0, &set, errmsg), TDEI_INVAL);
    ck_assert_int_eq(exec_query_validators_change(r, 0, &from, &set, errmsg),
                     0);
    ck_assert_uint_eq(from, 1);
    ck_assert(vset_is(set, g, 2));
    codec_validator_set_free(set);
    ck_assert_int_eq(exec_query_validators_change(r, 1, &from, &set, errmsg),
                     TDEI_NOTFOUND);
    store_read_end(r);
    next_hashes_expect(&l, g, 2, g, 2);

    /* Block 1: acme proposes delta-val (node[4]) as a validator; beta and
     * pub-svc approve: 3 of 3 voting members. */
    memset(enc, 0x44, sizeof(enc));
    add.kind = CODEC_PROPOSE_ADD;
    add.member = (char *)"delta-val";
    add.name = (char *)"Delta";
    add.role = TDEI_ROLE_MANUFACTURER;
    add.node_key = (ProtobufCBinaryData){32, node[4].pubkey};
    add.operator_key = (ProtobufCBinaryData){32, op[4].pubkey};
    add.encryption_key = (ProtobufCBinaryData){32, enc};
    add.validator = 1;
    txs[0] = tx_member_propose(0, 1, &add, proposal);
    txs[1] = tx_vote(1, 1, proposal);
    txs[2] = tx_vote(2, 1, proposal);
    ck_assert_msg(block_by(&l, txs, 3, 0, NULL, 0, NULL) == 0, "%s", errmsg);
    txs_free(txs, 3);
    ck_assert_int_eq(store_read_begin(l.store, &r, errmsg), 0);
    ck_assert_int_eq(exec_query_member(r, "delta-val", &m, errmsg), 0);
    ck_assert_int_eq(m->validator, 1);
    codec_member_free(m);
    store_read_end(r);
    /* Decided by block 1: votes from height 3. Header 2 announces it. */
    vset_expect(&l, 2, g, 2);
    vset_expect(&l, 3, added, 3);
    next_hashes_expect(&l, g, 2, added, 3);

    /* Block 2: node[4] may not propose yet, and a header that hides the
     * change is refused. */
    ck_assert_int_eq(block_by(&l, NULL, 0, 4, g, 2, NULL), TDEI_BAD_BLOCK);
    ck_assert_ptr_nonnull(strstr(errmsg, "proposer is not a validator"));
    ck_assert_int_eq(block_by(&l, NULL, 0, 0, g, 2, tweak_next_same),
                     TDEI_BAD_BLOCK);
    ck_assert_ptr_nonnull(strstr(errmsg, "next_validators_hash"));
    ck_assert_msg(block_by(&l, NULL, 0, 0, g, 2, NULL) == 0, "%s", errmsg);
    next_hashes_expect(&l, added, 3, added, 3);
    ck_assert_int_eq(store_read_begin(l.store, &r, errmsg), 0);
    ck_assert_int_eq(exec_query_validators_change(r, 1, &from, &set, errmsg),
                     0);
    ck_assert_uint_eq(from, 3);
    ck_assert(vset_is(set, added, 3));
    codec_validator_set_free(set);
    store_read_end(r);

    /* Block 3 carries the commit of block 2: the set of height 2, where
     * node[4] is no validator. node[4] proposes it. */
    ck_assert_int_eq(block_by(&l, NULL, 0, 4, with4, 3, NULL),
                     TDEI_NOT_VOTER);
    ck_assert_ptr_nonnull(strstr(errmsg, "last_commit"));
    ck_assert_msg(block_by(&l, NULL, 0, 4, g, 2, NULL) == 0, "%s", errmsg);

    /* Block 4 carries the commit of block 3, voted by 3 validators: the 2
     * of the old set are no quorum (floor(2*3/3) + 1 = 3). It removes
     * pub-svc (node[2]): acme, beta and delta-val approve, 3 of 4. */
    rm.kind = CODEC_PROPOSE_REMOVE;
    rm.member = (char *)"pub-svc";
    txs[0] = tx_member_propose(0, 2, &rm, proposal);
    txs[1] = tx_vote(1, 2, proposal);
    txs[2] = tx_vote(4, 1, proposal);
    ck_assert_int_eq(block_by(&l, txs, 3, 0, g, 2, NULL), TDEI_NO_QUORUM);
    ck_assert_msg(block_by(&l, txs, 3, 0, added, 3, NULL) == 0, "%s", errmsg);
    txs_free(txs, 3);
    vset_expect(&l, 5, added, 3);
    vset_expect(&l, 6, left, 2);
    next_hashes_expect(&l, added, 3, left, 2);
    ck_assert_int_eq(store_read_begin(l.store, &r, errmsg), 0);
    ck_assert_int_eq(exec_query_member(r, "pub-svc", &m, errmsg), 0);
    ck_assert_int_eq(m->validator, 0);
    ck_assert_uint_eq(m->status, CODEC_MEMBER_REMOVED);
    codec_member_free(m);
    store_read_end(r);

    /* Blocks 5 and 6 carry commits of heights 4 and 5 (the set of 3). */
    ck_assert_msg(block_by(&l, NULL, 0, 2, added, 3, NULL) == 0, "%s", errmsg);
    next_hashes_expect(&l, left, 2, left, 2);
    ck_assert_int_eq(block_by(&l, NULL, 0, 0, left, 2, NULL), TDEI_NO_QUORUM);
    ck_assert_msg(block_by(&l, NULL, 0, 4, added, 3, NULL) == 0, "%s", errmsg);

    /* Block 7 carries the commit of height 6, whose set is {0, 4}: the
     * old set's signatures no longer count, and node[2] may not propose. */
    ck_assert_int_eq(block_by(&l, NULL, 0, 0, g, 2, NULL), TDEI_NOT_VOTER);
    ck_assert_int_eq(block_by(&l, NULL, 0, 0, with4, 3, NULL), TDEI_NOT_VOTER);
    ck_assert_int_eq(block_by(&l, NULL, 0, 2, left, 2, NULL), TDEI_BAD_BLOCK);
    ck_assert_msg(block_by(&l, NULL, 0, 4, left, 2, NULL) == 0, "%s", errmsg);
    ck_assert_uint_eq(tip_of(&l).height, 7);

    /* The whole history, by height and as a walk of changes. */
    for (uint64_t h = 1; h <= 9; h++) {
        if (h <= 2) {
            vset_expect(&l, h, g, 2);
        } else if (h <= 5) {
            vset_expect(&l, h, added, 3);
        } else {
            vset_expect(&l, h, left, 2);
        }
    }
    ck_assert_int_eq(store_read_begin(l.store, &r, errmsg), 0);
    ck_assert_int_eq(exec_query_validators_change(r, 3, &from, &set, errmsg),
                     0);
    ck_assert_uint_eq(from, 6);
    ck_assert(vset_is(set, left, 2));
    codec_validator_set_free(set);
    ck_assert_int_eq(exec_query_validators_change(r, 6, &from, &set, errmsg),
                     TDEI_NOTFOUND);
    ck_assert_int_eq(exec_query_validators_at(r, 10, &set, errmsg),
                     TDEI_NOTFOUND);
    store_read_end(r);
    ledger_close(&l);
}
END_TEST

/* Two stores that apply the same blocks with a change of the set hold the
 * same app hash at every height, and the history records are part of it:
 * the change's blocks write "validators_next", then "validators" and
 * "vset/3". */
START_TEST(test_exec_validator_set_change_is_state)
{
    static const size_t g[] = {0, 2};
    struct ledger a;
    struct ledger b;
    Tdei__MemberPropose add = TDEI__MEMBER_PROPOSE__INIT;
    uint8_t enc[32];
    uint8_t proposal[CODEC_HASH_SIZE];
    ProtobufCBinaryData txs[3];
    ProtobufCBinaryData blocks[3];
    struct exec_block_info ia[3];
    struct exec_block_info ib[3];
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    struct store_read *r;
    const uint8_t *val;
    size_t vlen;

    ledger_open(&a, "a");
    ledger_open(&b, "b");
    memset(enc, 0x45, sizeof(enc));
    add.kind = CODEC_PROPOSE_ADD;
    add.member = (char *)"delta-val";
    add.name = (char *)"Delta";
    add.role = TDEI_ROLE_MANUFACTURER;
    add.node_key = (ProtobufCBinaryData){32, node[4].pubkey};
    add.operator_key = (ProtobufCBinaryData){32, op[4].pubkey};
    add.encryption_key = (ProtobufCBinaryData){32, enc};
    add.validator = 1;
    txs[0] = tx_member_propose(0, 1, &add, proposal);
    txs[1] = tx_vote(1, 1, proposal);
    txs[2] = tx_vote(2, 1, proposal);
    for (size_t h = 0; h < 3; h++) {
        blocks[h] = block_make_by(&a, h == 0 ? txs : NULL, h == 0 ? 3 : 0, 0,
                                  g, 2, NULL);
        ck_assert_msg(block_apply(&a, &blocks[h], &ia[h]) == 0, "%s", errmsg);
        ck_assert_msg(block_apply(&b, &blocks[h], &ib[h]) == 0, "%s", errmsg);
        ck_assert(memcmp(ia[h].app_hash, ib[h].app_hash, 32) == 0);
        tdei_free(blocks[h].data);
    }
    txs_free(txs, 3);
    /* Block 2 moved the pending set: two puts and a delete. */
    ck_assert_uint_eq(ia[1].write_count, 3);
    ck_assert_int_eq(store_read_begin(a.store, &r, errmsg), 0);
    ck_assert_int_eq(store_get(r, STORE_DB_STATE, key,
                               contract_key_vset(key, 3), &val, &vlen),
                     0);
    ck_assert_int_eq(store_get(r, STORE_DB_STATE,
                               (const uint8_t *)CONTRACT_KEY_VALIDATORS_NEXT,
                               strlen(CONTRACT_KEY_VALIDATORS_NEXT), &val,
                               &vlen),
                     TDEI_NOTFOUND);
    store_read_end(r);
    ledger_close(&a);
    ledger_close(&b);
}
END_TEST

static Suite *exec_suite(void)
{
    Suite *s = suite_create("exec");
    struct
    {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"genesis", test_exec_genesis_builds_state},
        {"transfers", test_exec_block_of_transfers_exact_balances},
        {"refused", test_exec_refused_tx_consumes_nonce_keeps_reason_and_heads},
        {"mint", test_exec_mint_refused_when_disabled},
        {"governance", test_exec_governance_enables_mint_through_blocks},
        {"deadlines", test_exec_deadlines_expire_and_settle_through_blocks},
        {"invalid_tx", test_exec_block_invalid_by_one_tx},
        {"invalid_header", test_exec_block_invalid_by_header},
        {"invalid_commit", test_exec_block_invalid_by_last_commit},
        {"verifier", test_exec_verifier_cache_is_consulted},
        {"determinism", test_exec_deterministic_across_stores},
        {"replay", test_exec_replay_from_stored_blocks},
        {"heads", test_exec_history_heads_chain_without_gaps},
        {"catalog_search", test_exec_catalog_search_through_blocks},
        {"evidence", test_exec_evidence_through_a_block},
        {"vset_by_height", test_exec_validator_set_changes_by_height},
        {"vset_state", test_exec_validator_set_change_is_state},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void) { return testutil_run(exec_suite()); }
