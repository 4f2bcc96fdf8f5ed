/* Refusals through the real API socket of a running tdei-node (DESIGN.md
 * sections 4 and 11; api.h, mempool.h): each bad input is refused with its
 * own code and a non-empty message, and the node keeps serving: after
 * every refusal a valid transfer from another signer still commits and a
 * status request answers. At the end of each case the balances and the
 * signers' committed nonces are exactly genesis plus the valid transfers,
 * and the mempool is empty: nothing refused changed state.
 *
 * One node per TCase, one TCase per refusal. Members: 0 validates, 1-3
 * sign the bad inputs, WITNESS signs the valid transfers. */
#include "harness.h"
#include "testutil.h"

#include "config.h"
#include "contracts/contract.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "home.h"

#include <stdio.h>
#include <string.h>

#define MEMBERS 5
#define WITNESS 4            /* signs the transfers that prove liveness */
#define BALANCE 1000000ull   /* genesis credits of every member */
#define BLOCK_INTERVAL_MS 10 /* chain.block_interval_ms of the node */
#define CASE_TIMEOUT_S 60    /* bound of one TCase, node start included */

/* The node under test and what the ledger must hold. */
struct refusal_fx {
    struct integ_net net;
    struct api_client client;
    struct tdei_config cfg;   /* the node's config.ini */
    uint64_t nonce[MEMBERS];  /* committed nonce of each member's key */
    uint64_t want[MEMBERS];   /* expected balance of each member */
    uint64_t witness_rounds;  /* valid transfers by WITNESS so far */
};

static struct refusal_fx fx;

static void refusal_setup(void)
{
    char path[HOME_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    testutil_leak_setup();
    memset(&fx, 0, sizeof(fx));
    fx.client.fd = -1;
    ck_assert_int_eq(
        integ_net_create(&fx.net, MEMBERS, BALANCE, BLOCK_INTERVAL_MS), 0);
    (void)home_path(path, fx.net.homes[0], "config.ini");
    ck_assert_msg(config_load(&fx.cfg, path, errmsg) == 0, "%s", errmsg);
    ck_assert_int_eq(integ_node_start(&fx.net, 20000), 0);
    ck_assert_int_eq(integ_connect(&fx.net, &fx.client), 0);
    for (size_t i = 0; i < MEMBERS; i++) {
        fx.want[i] = BALANCE;
    }
}

static void refusal_teardown(void)
{
    api_client_close(&fx.client);
    integ_net_destroy(&fx.net);
    testutil_leak_teardown();
}

/* ---- building txs ------------------------------------------------------- */

/* One transfer to sign; each test bends one field. */
struct tx_spec {
    const struct tdei_keypair *key; /* signs; its public key is the signer */
    const char *chain_id;           /* TxBody.chain_id */
    uint64_t nonce;                 /* TxBody.nonce */
    size_t to;                      /* receiving member */
    uint64_t amount;                /* credits */
    size_t memo_size;               /* memo of this many 'm' bytes */
    int unknown_op;                 /* 1: op field 40 instead of transfer */
    int flip_sig_bit;               /* 1: flip the last bit of the sig */
};

static struct tx_spec spec_transfer(size_t from, size_t to, uint64_t amount,
                                    uint64_t nonce)
{
    struct tx_spec spec = {.key = &fx.net.ops[from],
                           .chain_id = fx.net.chain_id,
                           .nonce = nonce,
                           .to = to,
                           .amount = amount};
    return spec;
}

/* Serialize and sign @spec's Tx into *@tx (tdei_malloc'd). */
static void tx_build(const struct tx_spec *spec, uint8_t **tx, size_t *len)
{
    /* Field 40, length-delimited, empty: an op this schema lacks. */
    static const uint8_t op40[] = {0xc2, 0x02, 0x00};
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__Transfer transfer = TDEI__TRANSFER__INIT;
    Tdei__Tx msg = TDEI__TX__INIT;
    uint8_t sig[TDEI_SIG_SIZE];
    uint8_t *body_bytes = NULL;
    size_t body_len = 0;
    char *memo;

    memo = tdei_malloc(spec->memo_size + 1);
    ck_assert_ptr_nonnull(memo);
    memset(memo, 'm', spec->memo_size);
    memo[spec->memo_size] = '\0';
    transfer.to = fx.net.ids[spec->to];
    transfer.amount = spec->amount;
    transfer.memo = memo;
    body.version = CODEC_VERSION;
    body.chain_id = (char *)(uintptr_t)spec->chain_id;
    body.signer.data = (uint8_t *)(uintptr_t)spec->key->pubkey;
    body.signer.len = TDEI_PUBKEY_SIZE;
    body.nonce = spec->nonce;
    if (!spec->unknown_op) {
        body.op_case = TDEI__TX_BODY__OP_TRANSFER;
        body.transfer = &transfer;
    }
    ck_assert_int_eq(codec_txbody_encode(&body, &body_bytes, &body_len), 0);
    tdei_free(memo);
    if (spec->unknown_op) {
        uint8_t *all = tdei_malloc(body_len + sizeof(op40));
        ck_assert_ptr_nonnull(all);
        memcpy(all, body_bytes, body_len);
        memcpy(all + body_len, op40, sizeof(op40));
        tdei_free(body_bytes);
        body_bytes = all;
        body_len += sizeof(op40);
    }
    ck_assert_int_eq(tdei_sign_tagged(sig, spec->key, TDEI_TAG_TX,
                                      body_bytes, body_len),
                     0);
    if (spec->flip_sig_bit) {
        sig[TDEI_SIG_SIZE - 1] ^= 1u;
    }
    msg.body.data = body_bytes;
    msg.body.len = body_len;
    msg.sig.data = sig;
    msg.sig.len = TDEI_SIG_SIZE;
    ck_assert_int_eq(codec_tx_encode(&msg, tx, len), 0);
    tdei_free(body_bytes);
}

/* ---- talking to the node ---------------------------------------------- */

/* Send @req on @client and return its answer (asserted to arrive). */
static Tdei__Api__Response *call(struct api_client *client,
                                 Tdei__Api__Request *req)
{
    Tdei__Api__Response *resp = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    ck_assert_msg(api_client_call(client, req, &resp, errmsg) == 0,
                  "call: %s", errmsg);
    return resp;
}

/* Assert that @resp refuses with @code and says why; free it. */
static void expect_refusal(Tdei__Api__Response *resp, uint32_t code)
{
    ck_assert_msg(resp->code == code, "expected %s, got %s (%u): \"%s\"",
                  tdei_errname((int)code), tdei_errname((int)resp->code),
                  resp->code, resp->error);
    ck_assert_ptr_nonnull(resp->error);
    ck_assert_msg(resp->error[0] != '\0', "%s came without a message",
                  tdei_errname((int)code));
    ck_assert_int_eq(resp->resp_case, TDEI__API__RESPONSE__RESP__NOT_SET);
    api_client_response_free(resp);
}

/* Submit @tx with wait (a tx admitted by mistake commits and answers 0)
 * and return the answer. */
static Tdei__Api__Response *submit(const uint8_t *tx, size_t len)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__SubmitTx sub = TDEI__API__SUBMIT_TX__INIT;

    sub.tx.data = (uint8_t *)(uintptr_t)tx;
    sub.tx.len = len;
    sub.wait = 1;
    sub.timeout_ms = 30000;
    req.req_case = TDEI__API__REQUEST__REQ_SUBMIT;
    req.submit = &sub;
    return call(&fx.client, &req);
}

/* Build @spec's tx, submit it and expect refusal @code. */
static void expect_tx_refused(const struct tx_spec *spec, uint32_t code)
{
    uint8_t *tx = NULL;
    size_t len = 0;

    tx_build(spec, &tx, &len);
    expect_refusal(submit(tx, len), code);
    tdei_free(tx);
}

/* Submit @tx and expect it committed with a successful result; record it
 * in the expected ledger. */
static void expect_committed(const uint8_t *tx, size_t len, size_t from,
                             size_t to, uint64_t amount)
{
    uint32_t code = UINT32_MAX;
    uint32_t result = UINT32_MAX;

    ck_assert_int_eq(integ_submit(&fx.client, tx, len, 1, &code, &result),
                     0);
    ck_assert_msg(code == 0, "valid transfer refused: %s",
                  tdei_errname((int)code));
    ck_assert_uint_eq(result, 0);
    fx.nonce[from]++;
    fx.want[from] -= amount;
    fx.want[to] += amount;
}

/* Commit the next transfer of @from (nonce: committed + 1). */
static void commit_transfer(size_t from, size_t to, uint64_t amount)
{
    struct tx_spec spec = spec_transfer(from, to, amount, fx.nonce[from] + 1);
    uint8_t *tx = NULL;
    size_t len = 0;

    tx_build(&spec, &tx, &len);
    expect_committed(tx, len, from, to, amount);
    tdei_free(tx);
}

/* The node keeps serving on @client: a status request answers, a valid
 * transfer from WITNESS commits, and the height grows. */
static void expect_serving(struct api_client *client)
{
    struct api_client saved = fx.client;
    uint64_t before = 0;
    uint64_t after = 0;

    ck_assert_int_eq(integ_status(client, &before, NULL), 0);
    fx.client = *client;
    fx.witness_rounds++;
    commit_transfer(WITNESS, 1 + fx.witness_rounds % 3, fx.witness_rounds);
    fx.client = saved;
    ck_assert_int_eq(integ_status(client, &after, NULL), 0);
    ck_assert_uint_gt(after, before);
}

/* The committed nonce of member @m's operator key. */
static uint64_t committed_nonce(size_t m)
{
    uint64_t nonce = 0;

    ck_assert_int_eq(integ_committed_nonce(&fx.client, &fx.net, m, &nonce),
                     0);
    return nonce;
}

/* Nothing refused changed state: balances and nonces are genesis plus the
 * valid transfers, and nothing is left pending. */
static void expect_ledger_exact(void)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetStatus get = TDEI__API__GET_STATUS__INIT;
    Tdei__Api__Response *resp;

    for (size_t i = 0; i < MEMBERS; i++) {
        uint64_t got = 0;
        uint64_t nonce;
        ck_assert_int_eq(integ_balance(&fx.client, fx.net.ids[i], &got), 0);
        ck_assert_msg(got == fx.want[i], "%s holds %llu, expected %llu",
                      fx.net.ids[i], (unsigned long long)got,
                      (unsigned long long)fx.want[i]);
        nonce = committed_nonce(i);
        ck_assert_msg(nonce == fx.nonce[i],
                      "%s's nonce is %llu, expected %llu", fx.net.ids[i],
                      (unsigned long long)nonce,
                      (unsigned long long)fx.nonce[i]);
    }
    req.req_case = TDEI__API__REQUEST__REQ_GET_STATUS;
    req.get_status = &get;
    resp = call(&fx.client, &req);
    ck_assert_uint_eq(resp->code, 0);
    ck_assert_uint_eq(resp->status->mempool_txs, 0);
    ck_assert_uint_eq(resp->status->mempool_bytes, 0);
    api_client_response_free(resp);
}

/* Send @payload (@len bytes, may be 0) in one frame on @client. */
static void send_frame(struct api_client *client, const uint8_t *payload,
                       size_t len)
{
    uint8_t *frame = tdei_malloc(4 + len);
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    ck_assert_ptr_nonnull(frame);
    frame[0] = (uint8_t)(len >> 24);
    frame[1] = (uint8_t)(len >> 16);
    frame[2] = (uint8_t)(len >> 8);
    frame[3] = (uint8_t)len;
    if (len > 0) {
        memcpy(frame + 4, payload, len);
    }
    ck_assert_msg(api_client_send_raw(client, frame, 4 + len, errmsg) == 0,
                  "send: %s", errmsg);
    tdei_free(frame);
}

/* Read the next answer on @client (asserted to arrive). */
static Tdei__Api__Response *recv_one(struct api_client *client)
{
    Tdei__Api__Response *resp = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    ck_assert_msg(api_client_recv(client, &resp, errmsg) == 0, "recv: %s",
                  errmsg);
    return resp;
}

/* ---- frames ------------------------------------------------------------ */

START_TEST(test_api_refuses_garbage_frame)
{
    /* An 11-byte varint tag: no protobuf message starts like this. */
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff, 0x01};
    Tdei__Api__Response *resp;

    send_frame(&fx.client, garbage, sizeof(garbage));
    resp = recv_one(&fx.client);
    ck_assert_uint_eq(resp->id, 0);
    expect_refusal(resp, TDEI_MALFORMED);
    /* The same connection goes on with the next frame. */
    expect_serving(&fx.client);
    expect_ledger_exact();
}
END_TEST

START_TEST(test_api_refuses_zero_length_frame)
{
    Tdei__Api__Response *resp;

    send_frame(&fx.client, NULL, 0);
    resp = recv_one(&fx.client);
    ck_assert_uint_eq(resp->id, 0);
    expect_refusal(resp, TDEI_MALFORMED);
    expect_serving(&fx.client);
    expect_ledger_exact();
}
END_TEST

START_TEST(test_api_refuses_oversized_frame_and_closes)
{
    struct api_client other;
    struct api_client again;
    Tdei__Api__Response *resp = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    uint64_t len = fx.cfg.api_max_frame + 1;
    uint8_t header[4];

    ck_assert_uint_le(len, UINT32_MAX);
    header[0] = (uint8_t)(len >> 24);
    header[1] = (uint8_t)(len >> 16);
    header[2] = (uint8_t)(len >> 8);
    header[3] = (uint8_t)len;
    ck_assert_int_eq(integ_connect(&fx.net, &other), 0);
    ck_assert_int_eq(
        api_client_send_raw(&fx.client, header, sizeof(header), errmsg), 0);
    resp = recv_one(&fx.client);
    ck_assert_uint_eq(resp->id, 0);
    expect_refusal(resp, TDEI_TOOBIG);
    /* That connection is closed: the stream cannot be resynced. */
    resp = NULL;
    ck_assert_int_eq(api_client_recv(&fx.client, &resp, errmsg),
                     TDEI_NOCONN);
    ck_assert_ptr_null(resp);
    api_client_close(&fx.client);
    /* A connection opened before keeps working, and so does a new one. */
    expect_serving(&other);
    ck_assert_int_eq(integ_connect(&fx.net, &again), 0);
    expect_serving(&again);
    api_client_close(&other);
    fx.client = again;
    expect_ledger_exact();
}
END_TEST

START_TEST(test_api_refuses_unknown_request_type)
{
    /* Request{id = 7, field 23 (the next free number) = empty}. */
    static const uint8_t req23[] = {0x08, 0x07, 0xba, 0x01, 0x00};
    Tdei__Api__Response *resp;

    send_frame(&fx.client, req23, sizeof(req23));
    resp = recv_one(&fx.client);
    ck_assert_uint_eq(resp->id, 7);
    expect_refusal(resp, TDEI_BADREQUEST);
    expect_serving(&fx.client);
    expect_ledger_exact();
}
END_TEST

/* ---- txs ---------------------------------------------------------------- */

START_TEST(test_api_refuses_tx_over_size_max)
{
    struct tx_spec spec = spec_transfer(1, 2, 5, 1);
    uint64_t limit = TDEI_TX_SIZE_MAX; /* genesis_params_default */
    uint8_t *tx = NULL;
    size_t len = 0;

    /* A memo of about 64 KiB, tuned so the whole Tx is limit + 1 bytes
     * (the length prefixes shift by a byte at most, so a few passes). */
    spec.memo_size = (size_t)limit;
    for (int pass = 0; pass < 8; pass++) {
        tx_build(&spec, &tx, &len);
        if (len == limit + 1) {
            break;
        }
        spec.memo_size = spec.memo_size + (size_t)(limit + 1) - len;
        tdei_free(tx);
        tx = NULL;
    }
    ck_assert_uint_eq(len, limit + 1);
    expect_refusal(submit(tx, len), TDEI_TOOBIG);
    tdei_free(tx);
    expect_serving(&fx.client);
    /* The same signer and nonce with a normal memo still commit. */
    commit_transfer(1, 2, 5);
    expect_ledger_exact();
}
END_TEST

START_TEST(test_api_refuses_bad_signature)
{
    struct tx_spec spec = spec_transfer(2, 3, 7, 1);
    uint8_t *tx = NULL;
    size_t len = 0;

    spec.flip_sig_bit = 1;
    expect_tx_refused(&spec, TDEI_BADSIG);
    expect_serving(&fx.client);
    /* The same body, correctly signed, is not blocked by the bad copy. */
    spec.flip_sig_bit = 0;
    tx_build(&spec, &tx, &len);
    expect_committed(tx, len, 2, 3, 7);
    tdei_free(tx);
    expect_ledger_exact();
}
END_TEST

START_TEST(test_api_refuses_replayed_nonce)
{
    uint8_t *tx = NULL;
    size_t len = 0;
    struct tx_spec spec = spec_transfer(1, 2, 10, 1);

    tx_build(&spec, &tx, &len);
    expect_committed(tx, len, 1, 2, 10);
    /* Nonce 1 again with another body: a replay. */
    spec.amount = 11;
    expect_tx_refused(&spec, TDEI_NONCE_USED);
    expect_serving(&fx.client);
    /* The very same tx again after its commit: no longer pending, so not
     * TDEI_DUPLICATE; its nonce is used (DESIGN.md section 4: no replay). */
    expect_refusal(submit(tx, len), TDEI_NONCE_USED);
    tdei_free(tx);
    expect_serving(&fx.client);
    expect_ledger_exact();
}
END_TEST

START_TEST(test_api_refuses_nonce_beyond_window)
{
    uint64_t window = fx.cfg.mempool_nonce_window;
    struct tx_spec spec;

    commit_transfer(3, 1, 4);
    spec = spec_transfer(3, 1, 4, fx.nonce[3] + window + 1);
    expect_tx_refused(&spec, TDEI_NONCE_GAP);
    expect_serving(&fx.client);
    spec.nonce = UINT64_MAX;
    expect_tx_refused(&spec, TDEI_NONCE_GAP);
    expect_serving(&fx.client);
    expect_ledger_exact();
}
END_TEST

START_TEST(test_api_refuses_wrong_chain_id)
{
    struct tx_spec spec = spec_transfer(1, 3, 9, 1);

    spec.chain_id = "tdei-other";
    expect_tx_refused(&spec, TDEI_CHAIN_ID);
    expect_serving(&fx.client);
    expect_ledger_exact();
}
END_TEST

START_TEST(test_api_refuses_unknown_op)
{
    struct tx_spec spec = spec_transfer(2, 1, 3, 1);

    spec.unknown_op = 1;
    expect_tx_refused(&spec, TDEI_UNKNOWN_OP);
    expect_serving(&fx.client);
    expect_ledger_exact();
}
END_TEST

START_TEST(test_api_refuses_unknown_signer)
{
    struct tdei_keypair stranger;
    struct tx_spec spec = spec_transfer(1, 2, 6, 1);

    ck_assert_int_eq(tdei_keypair_generate(&stranger), 0);
    spec.key = &stranger;
    expect_tx_refused(&spec, TDEI_UNKNOWN_SIGNER);
    tdei_keypair_wipe(&stranger);
    expect_serving(&fx.client);
    expect_ledger_exact();
}
END_TEST

/* ---- queries ------------------------------------------------------------ */

START_TEST(test_api_refuses_get_tx_with_short_id)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetTx get = TDEI__API__GET_TX__INIT;
    uint8_t id[33] = {0};

    get.tx_id.data = id;
    get.tx_id.len = 31;
    req.req_case = TDEI__API__REQUEST__REQ_GET_TX;
    req.get_tx = &get;
    expect_refusal(call(&fx.client, &req), TDEI_BADREQUEST);
    expect_serving(&fx.client);
    req.id = 0;
    get.tx_id.len = 33;
    expect_refusal(call(&fx.client, &req), TDEI_BADREQUEST);
    /* 32 bytes is a well-formed question with no answer. */
    req.id = 0;
    get.tx_id.len = 32;
    expect_refusal(call(&fx.client, &req), TDEI_NOTFOUND);
    expect_serving(&fx.client);
    expect_ledger_exact();
}
END_TEST

START_TEST(test_api_refuses_get_block_beyond_tip)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetBlock get = TDEI__API__GET_BLOCK__INIT;
    Tdei__Api__Response *resp;
    uint64_t tip = 0;

    expect_serving(&fx.client);
    ck_assert_int_eq(integ_status(&fx.client, &tip, NULL), 0);
    ck_assert_uint_gt(tip, 0);
    req.req_case = TDEI__API__REQUEST__REQ_GET_BLOCK;
    req.get_block = &get;
    get.height = tip;
    resp = call(&fx.client, &req);
    ck_assert_uint_eq(resp->code, 0);
    ck_assert_uint_eq(resp->block->height, tip);
    api_client_response_free(resp);
    req.id = 0;
    get.height = tip + 1;
    expect_refusal(call(&fx.client, &req), TDEI_NOTFOUND);
    expect_serving(&fx.client);
    req.id = 0;
    get.height = UINT64_MAX;
    expect_refusal(call(&fx.client, &req), TDEI_NOTFOUND);
    expect_serving(&fx.client);
    expect_ledger_exact();
}
END_TEST

START_TEST(test_api_refuses_get_account_of_unknown_member)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetAccount get = TDEI__API__GET_ACCOUNT__INIT;

    get.member = (char *)(uintptr_t) "member-99";
    req.req_case = TDEI__API__REQUEST__REQ_GET_ACCOUNT;
    req.get_account = &get;
    expect_refusal(call(&fx.client, &req), TDEI_UNKNOWN_MEMBER);
    expect_serving(&fx.client);
    expect_ledger_exact();
}
END_TEST

/* ---- catalog search ------------------------------------------------------ */

/* Each bad field of SearchCatalog is refused with TDEI_INVAL and a message
 * naming it; they share two TCases (words, filters), as a search changes
 * nothing and one refusal cannot hide another's. */

/* A search request for one test to bend: no words, no filters, the
 * CLI's default limit. */
static void search_init(Tdei__Api__Request *req, Tdei__Api__SearchCatalog *s)
{
    tdei__api__request__init(req);
    tdei__api__search_catalog__init(s);
    s->limit = 20;
    req->req_case = TDEI__API__REQUEST__REQ_SEARCH_CATALOG;
    req->search_catalog = s;
}

/* Send @s and expect TDEI_INVAL with a message containing @text. */
static void expect_search_refused(Tdei__Api__SearchCatalog *s, const char *text)
{
    Tdei__Api__Request req;
    Tdei__Api__Response *resp;

    tdei__api__request__init(&req);
    req.req_case = TDEI__API__REQUEST__REQ_SEARCH_CATALOG;
    req.search_catalog = s;
    resp = call(&fx.client, &req);
    ck_assert_msg(resp->code == TDEI_INVAL && strstr(resp->error, text) != NULL,
                  "expected TDEI_INVAL with \"%s\", got %s: \"%s\"", text,
                  tdei_errname((int)resp->code), resp->error);
    expect_refusal(resp, TDEI_INVAL);
}

/* A valid search of the empty catalog answers 0 matches at the tip. */
static void expect_search_empty(Tdei__Api__SearchCatalog *s)
{
    Tdei__Api__Request req;
    Tdei__Api__Response *resp;
    uint64_t tip = 0;

    tdei__api__request__init(&req);
    req.req_case = TDEI__API__REQUEST__REQ_SEARCH_CATALOG;
    req.search_catalog = s;
    resp = call(&fx.client, &req);
    ck_assert_msg(resp->code == 0, "search refused: %s", resp->error);
    ck_assert_int_eq(resp->resp_case, TDEI__API__RESPONSE__RESP_SEARCH);
    ck_assert_uint_eq(resp->search->total, 0);
    ck_assert_uint_eq(resp->search->n_hits, 0);
    ck_assert_uint_eq(resp->search->limit, s->limit);
    ck_assert_int_eq(integ_status(&fx.client, &tip, NULL), 0);
    ck_assert_uint_le(resp->search->height, tip);
    api_client_response_free(resp);
}

START_TEST(test_api_refuses_search_bad_words)
{
    Tdei__Api__Request req;
    Tdei__Api__SearchCatalog s;
    char *nine[9] = {"aa", "bb", "cc", "dd", "ee", "ff", "gg", "hh", "ii"};
    char *one[1];
    char long_word[300];

    search_init(&req, &s);
    s.words = nine;
    s.n_words = 9;
    expect_search_refused(&s, "9 search words");
    s.n_words = 1;
    s.words = one;
    one[0] = "aa bb cc dd ee ff gg hh ii";
    expect_search_refused(&s, "more than 8 distinct");
    one[0] = "abcdefghijabcdefghijabcdefghijabc"; /* 33 letters */
    expect_search_refused(&s, "too long");
    memset(long_word, 'x', 257);
    long_word[257] = '\0';
    one[0] = long_word;
    expect_search_refused(&s, "257 bytes");
    one[0] = "a";
    expect_search_refused(&s, "nothing to search for");
    expect_serving(&fx.client);
    /* Eight words, each searchable: a well-formed question. */
    s.words = nine;
    s.n_words = 8;
    expect_search_empty(&s);
    expect_ledger_exact();
}
END_TEST

START_TEST(test_api_refuses_search_bad_filters)
{
    Tdei__Api__Request req;
    Tdei__Api__SearchCatalog s;

    search_init(&req, &s);
    s.limit = 0;
    expect_search_refused(&s, "limit 0");
    s.limit = 101;
    expect_search_refused(&s, "limit 101");
    search_init(&req, &s);
    s.kind = 3;
    expect_search_refused(&s, "kind 3");
    search_init(&req, &s);
    s.status = 4;
    expect_search_refused(&s, "status 4");
    search_init(&req, &s);
    s.min_price = 10;
    s.max_price = 9;
    s.has_max_price = 1;
    expect_search_refused(&s, "min price 10 is above max price 9");
    search_init(&req, &s);
    s.level = 4;
    expect_search_refused(&s, "level 4");
    search_init(&req, &s);
    s.domain = 6;
    expect_search_refused(&s, "domain 6");
    search_init(&req, &s);
    s.owner_role = 5;
    expect_search_refused(&s, "owner role 5");
    search_init(&req, &s);
    s.owner = "Bad_Owner";
    expect_search_refused(&s, "Bad_Owner");
    expect_serving(&fx.client);
    /* Without has_max_price the max is no bound; limits 1 and 100. */
    search_init(&req, &s);
    s.min_price = 10;
    s.max_price = 9;
    s.limit = 100;
    expect_search_empty(&s);
    s.limit = 1;
    s.status = 3;
    s.owner = fx.net.ids[1];
    expect_search_empty(&s);
    expect_ledger_exact();
}
END_TEST

/* ---- object listing ------------------------------------------------------ */

/* Ask for a page of @prefix after @start_after (may be NULL) of at most
 * @limit entries. */
static Tdei__Api__Response *list_objects(const char *prefix,
                                         const uint8_t *start_after,
                                         size_t start_len, uint32_t limit)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__ListObjects list = TDEI__API__LIST_OBJECTS__INIT;

    list.prefix.data = (uint8_t *)(uintptr_t)prefix;
    list.prefix.len = strlen(prefix);
    list.start_after.data = (uint8_t *)(uintptr_t)start_after;
    list.start_after.len = start_len;
    list.limit = limit;
    req.req_case = TDEI__API__REQUEST__REQ_LIST_OBJECTS;
    req.list_objects = &list;
    return call(&fx.client, &req);
}

START_TEST(test_api_lists_objects_in_pages)
{
    char seen[MEMBERS][40];
    uint8_t last[64];
    size_t last_len = 0;
    size_t count = 0;
    Tdei__Api__Response *resp;

    expect_serving(&fx.client); /* a block, so the height is above 0 */
    /* Pages of 2 walk every member once, in key order, and end. */
    for (int page = 0; page < MEMBERS; page++) {
        resp = list_objects("member/", page == 0 ? NULL : last, last_len, 2);
        ck_assert_msg(resp->code == 0, "%s", resp->error);
        ck_assert_int_eq(resp->resp_case,
                         TDEI__API__RESPONSE__RESP_OBJECT_LIST);
        ck_assert_uint_gt(resp->object_list->height, 0);
        for (size_t i = 0; i < resp->object_list->n_entries; i++) {
            const Tdei__Api__KeyValue *kv = resp->object_list->entries[i];
            Tdei__Member *member = NULL;
            char errmsg[TDEI_ERRMSG_SIZE] = "";
            ck_assert_uint_lt(count, MEMBERS);
            ck_assert_uint_lt(kv->key.len, sizeof(last));
            ck_assert_int_eq(memcmp(kv->key.data, "member/", 7), 0);
            ck_assert_int_eq(codec_member_decode(&member, kv->value.data,
                                                 kv->value.len, errmsg),
                             0);
            ck_assert_uint_eq(strlen(member->id), kv->key.len - 7);
            ck_assert_int_eq(
                memcmp(member->id, kv->key.data + 7, kv->key.len - 7), 0);
            (void)snprintf(seen[count], sizeof(seen[count]), "%s", member->id);
            ck_assert(count == 0 || strcmp(seen[count - 1], seen[count]) < 0);
            codec_member_free(member);
            memcpy(last, kv->key.data, kv->key.len);
            last_len = kv->key.len;
            count++;
        }
        ck_assert_int_eq(resp->object_list->more, count < MEMBERS);
        ck_assert_uint_eq(resp->object_list->n_entries,
                          count < MEMBERS || MEMBERS % 2 == 0 ? 2 : 1);
        api_client_response_free(resp);
        if (count == MEMBERS) {
            break;
        }
    }
    ck_assert_uint_eq(count, MEMBERS);
    for (size_t i = 0; i < MEMBERS; i++) {
        int found = 0;
        for (size_t j = 0; j < MEMBERS; j++) {
            found |= strcmp(seen[j], fx.net.ids[i]) == 0;
        }
        ck_assert_msg(found, "%s missing from the listing", fx.net.ids[i]);
    }
    /* After the last key: an empty page, nothing more. */
    resp = list_objects("member/", last, last_len, 1000);
    ck_assert_uint_eq(resp->code, 0);
    ck_assert_uint_eq(resp->object_list->n_entries, 0);
    ck_assert_int_eq(resp->object_list->more, 0);
    api_client_response_free(resp);
    /* A known prefix without records: an empty page. */
    resp = list_objects("exchange/", NULL, 0, 10);
    ck_assert_uint_eq(resp->code, 0);
    ck_assert_uint_eq(resp->object_list->n_entries, 0);
    ck_assert_int_eq(resp->object_list->more, 0);
    api_client_response_free(resp);
    expect_serving(&fx.client);
    expect_ledger_exact();
}
END_TEST

START_TEST(test_api_refuses_list_of_unknown_prefix)
{
    static const char *const bad[] = {"", "bogus/", "params", "membe",
                                      "validators"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_refusal(list_objects(bad[i], NULL, 0, 10), TDEI_BADREQUEST);
    }
    expect_serving(&fx.client);
    expect_ledger_exact();
}
END_TEST

START_TEST(test_api_refuses_list_with_bad_limit)
{
    Tdei__Api__Response *resp;

    expect_refusal(list_objects("member/", NULL, 0, 0), TDEI_BADREQUEST);
    expect_refusal(list_objects("member/", NULL, 0, 1001), TDEI_BADREQUEST);
    expect_refusal(list_objects("member/", NULL, 0, UINT32_MAX),
                   TDEI_BADREQUEST);
    resp = list_objects("member/", NULL, 0, 1000);
    ck_assert_uint_eq(resp->code, 0);
    ck_assert_uint_eq(resp->object_list->n_entries, MEMBERS);
    api_client_response_free(resp);
    expect_serving(&fx.client);
    expect_ledger_exact();
}
END_TEST

START_TEST(test_api_refuses_list_start_outside_prefix)
{
    static const char *const bad[] = {"account/member-1", "member",
                                      "exchange/x"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_refusal(list_objects("member/", (const uint8_t *)bad[i],
                                    strlen(bad[i]), 10),
                       TDEI_BADREQUEST);
    }
    expect_serving(&fx.client);
    expect_ledger_exact();
}
END_TEST

static void add_case(Suite *suite, TCase *tc)
{
    tcase_add_checked_fixture(tc, refusal_setup, refusal_teardown);
    tcase_set_timeout(tc, CASE_TIMEOUT_S);
    suite_add_tcase(suite, tc);
}

/* One TCase, and so one node, per refusal. */
#define REFUSAL_CASE(suite, name)                                             \
    do {                                                                      \
        TCase *tc_ = tcase_create(#name);                                     \
        tcase_add_test(tc_, test_api_refuses_##name);                         \
        add_case(suite, tc_);                                                 \
    } while (0)

static Suite *api_refusals_suite(void)
{
    Suite *suite = suite_create("api_refusals");

    REFUSAL_CASE(suite, garbage_frame);
    REFUSAL_CASE(suite, zero_length_frame);
    REFUSAL_CASE(suite, oversized_frame_and_closes);
    REFUSAL_CASE(suite, unknown_request_type);
    REFUSAL_CASE(suite, tx_over_size_max);
    REFUSAL_CASE(suite, bad_signature);
    REFUSAL_CASE(suite, replayed_nonce);
    REFUSAL_CASE(suite, nonce_beyond_window);
    REFUSAL_CASE(suite, wrong_chain_id);
    REFUSAL_CASE(suite, unknown_op);
    REFUSAL_CASE(suite, unknown_signer);
    REFUSAL_CASE(suite, get_tx_with_short_id);
    REFUSAL_CASE(suite, get_block_beyond_tip);
    REFUSAL_CASE(suite, get_account_of_unknown_member);
    REFUSAL_CASE(suite, search_bad_words);
    REFUSAL_CASE(suite, search_bad_filters);
    REFUSAL_CASE(suite, list_of_unknown_prefix);
    REFUSAL_CASE(suite, list_with_bad_limit);
    REFUSAL_CASE(suite, list_start_outside_prefix);
    {
        TCase *tc = tcase_create("lists_objects_in_pages");
        tcase_add_test(tc, test_api_lists_objects_in_pages);
        add_case(suite, tc);
    }
    return suite;
}

int main(void)
{
    return testutil_run(api_refusals_suite());
}
