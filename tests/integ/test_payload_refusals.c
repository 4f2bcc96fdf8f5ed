/* The payload requests of the client API against a real tdei-node
 * (proto/api.proto 80-84, node_payload.c): every refusal comes with its
 * own code and a message, and changes nothing (the node submits no tx of
 * its own for it: its operator key's committed nonce stays); then what
 * the same requests do when they are right: an import answers its root,
 * size and chunk count, a manual entry waits for DeliverNow, an automatic
 * one is delivered by the node, and a fetch held past its wait answers
 * how many chunks are here; a stream exchange is delivered with the
 * subscription key the node derives, sealed to the consumer.
 *
 * One node (member-00, public_service, the only validator) per TCase;
 * member-01 (manufacturer) and member-02 (platform) sign through it. */
#include "harness.h"
#include "testutil.h"

#include "blob/blob.h"
#include "contracts/contract.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/keyfile.h"
#include "home.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEMBERS 3
#define NODE 0  /* the node's member */
#define OWNER 1 /* publishes entries */
#define OTHER 2 /* requests them */
#define BALANCE 1000000ull
#define BLOCK_INTERVAL_MS 10
#define CASE_TIMEOUT_S 60
#define FILE_SIZE (3u * BLOB_CHUNK_SIZE + 100u) /* 4 chunks */

struct payload_fx
{
    struct integ_net net;
    struct api_client client;
    char file[INTEG_PATH_MAX + 32]; /* a payload file */
};

static struct payload_fx fx;

static void fx_setup(void)
{
    FILE *f;
    uint8_t *data = malloc(FILE_SIZE);

    testutil_leak_setup();
    memset(&fx, 0, sizeof(fx));
    fx.client.fd = -1;
    ck_assert_int_eq(
        integ_net_create(&fx.net, MEMBERS, BALANCE, BLOCK_INTERVAL_MS), 0);
    ck_assert_int_eq(integ_node_start(&fx.net, 20000), 0);
    ck_assert_int_eq(integ_connect(&fx.net, &fx.client), 0);
    (void)snprintf(fx.file, sizeof(fx.file), "%s/payload.bin", fx.net.dir);
    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < FILE_SIZE; i++) {
        data[i] = (uint8_t)(i * 7u + 3u);
    }
    f = fopen(fx.file, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, FILE_SIZE, f), FILE_SIZE);
    ck_assert_int_eq(fclose(f), 0);
    free(data);
}

static void fx_teardown(void)
{
    api_client_close(&fx.client);
    integ_net_destroy(&fx.net);
    testutil_leak_teardown();
}

/* ---- talking to the node ------------------------------------------------- */

static Tdei__Api__Response *call(Tdei__Api__Request *req)
{
    Tdei__Api__Response *resp = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    ck_assert_msg(api_client_call(&fx.client, req, &resp, errmsg) == 0,
                  "call: %s", errmsg);
    return resp;
}

/* Assert that @resp refuses with @code and a message containing @text;
 * free it. */
static void expect_refusal(Tdei__Api__Response *resp, uint32_t code,
                           const char *text)
{
    ck_assert_msg(resp->code == code, "expected %s, got %s: \"%s\"",
                  tdei_errname((int)code), tdei_errname((int)resp->code),
                  resp->error);
    ck_assert_ptr_nonnull(resp->error);
    ck_assert_msg(strstr(resp->error, text) != NULL,
                  "%s: \"%s\" does not say \"%s\"", tdei_errname((int)code),
                  resp->error, text);
    ck_assert_int_eq(resp->resp_case, TDEI__API__RESPONSE__RESP__NOT_SET);
    api_client_response_free(resp);
}

static uint64_t nonce_of(size_t m)
{
    uint64_t nonce = 0;

    ck_assert_int_eq(integ_committed_nonce(&fx.client, &fx.net, m, &nonce), 0);
    return nonce;
}

/* Sign @body as member @m with the next nonce, submit it, wait for its
 * commit; return the result code. @tx_id (may be NULL) gets its id. */
static uint32_t submit(size_t m, Tdei__TxBody *body, uint8_t *tx_id)
{
    Tdei__Tx msg = TDEI__TX__INIT;
    uint8_t sig[TDEI_SIG_SIZE];
    uint8_t *bytes = NULL;
    uint8_t *tx = NULL;
    size_t len = 0;
    size_t tx_len = 0;
    uint32_t code = UINT32_MAX;
    uint32_t result = UINT32_MAX;

    body->version = CODEC_VERSION;
    body->chain_id = fx.net.chain_id;
    body->signer.data = fx.net.ops[m].pubkey;
    body->signer.len = TDEI_PUBKEY_SIZE;
    body->nonce = nonce_of(m) + 1;
    ck_assert_int_eq(codec_txbody_encode(body, &bytes, &len), 0);
    ck_assert_int_eq(
        tdei_sign_tagged(sig, &fx.net.ops[m], TDEI_TAG_TX, bytes, len), 0);
    if (tx_id != NULL) {
        tdei_sha256(tx_id, bytes, len);
    }
    msg.body.data = bytes;
    msg.body.len = len;
    msg.sig.data = sig;
    msg.sig.len = TDEI_SIG_SIZE;
    ck_assert_int_eq(codec_tx_encode(&msg, &tx, &tx_len), 0);
    ck_assert_int_eq(integ_submit(&fx.client, tx, tx_len, 1, &code, &result),
                     0);
    ck_assert_msg(code == 0, "submit refused: %s", tdei_errname((int)code));
    tdei_free(tx);
    tdei_free(bytes);
    return result;
}

/* Member @m publishes dataset @id at @level with @root (32 bytes). */
static void publish(size_t m, const char *id, uint32_t level,
                    const uint8_t *root, uint64_t size)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__CatalogPublish pub = TDEI__CATALOG_PUBLISH__INIT;
    Tdei__PriceTerms price = TDEI__PRICE_TERMS__INIT;

    price.model = CODEC_PRICE_ONE_TIME;
    price.amount = 10;
    pub.id = (char *)(uintptr_t)id;
    pub.kind = CODEC_KIND_DATASET;
    pub.title = (char *)(uintptr_t) "payload test";
    pub.domain = CODEC_DOMAIN_PRODUCTION;
    pub.level = level;
    pub.data_class = CODEC_CLASS_GENERAL;
    pub.price = &price;
    pub.content_root.data = (uint8_t *)(uintptr_t)root;
    pub.content_root.len = 32;
    pub.size = size;
    body.op_case = TDEI__TX_BODY__OP_CATALOG_PUBLISH;
    body.catalog_publish = &pub;
    ck_assert_uint_eq(submit(m, &body, NULL), 0);
}

/* Member @m requests @id; @xid gets the exchange id. */
static void request(size_t m, const char *id, uint8_t xid[32])
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__ExchangeRequest req = TDEI__EXCHANGE_REQUEST__INIT;

    req.id = (char *)(uintptr_t)id;
    req.price = 10;
    req.purpose = (char *)(uintptr_t) "tests";
    body.op_case = TDEI__TX_BODY__OP_EXCHANGE_REQUEST;
    body.exchange_request = &req;
    ck_assert_uint_eq(submit(m, &body, xid), 0);
}

/* An op on exchange @xid by member @m: deliver (with a made-up sealed
 * key and @root), confirm or revoke. */
static void exchange_op(size_t m, int op, const uint8_t *xid,
                        const uint8_t *root)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__ExchangeDeliver deliver = TDEI__EXCHANGE_DELIVER__INIT;
    Tdei__ExchangeConfirm confirm = TDEI__EXCHANGE_CONFIRM__INIT;
    Tdei__GrantRevoke revoke = TDEI__GRANT_REVOKE__INIT;
    ProtobufCBinaryData x = {32, (uint8_t *)(uintptr_t)xid};
    uint8_t sealed[CODEC_SEALED_KEY_SIZE];

    memset(sealed, 0x5a, sizeof(sealed));
    body.op_case = (Tdei__TxBody__OpCase)op;
    if (op == TDEI__TX_BODY__OP_EXCHANGE_DELIVER) {
        deliver.exchange = x;
        deliver.sealed_key.data = sealed;
        deliver.sealed_key.len = sizeof(sealed);
        deliver.content_root.data = (uint8_t *)(uintptr_t)root;
        deliver.content_root.len = 32;
        body.exchange_deliver = &deliver;
    } else if (op == TDEI__TX_BODY__OP_EXCHANGE_CONFIRM) {
        confirm.exchange = x;
        body.exchange_confirm = &confirm;
    } else {
        revoke.exchange = x;
        revoke.reason = (char *)(uintptr_t) "incident";
        body.grant_revoke = &revoke;
    }
    ck_assert_uint_eq(submit(m, &body, NULL), 0);
}

/* Member @m publishes stream @id (level 1, per record) and opens it. */
static void publish_stream(size_t m, const char *id)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__CatalogPublish pub = TDEI__CATALOG_PUBLISH__INIT;
    Tdei__StreamOpen open = TDEI__STREAM_OPEN__INIT;
    Tdei__PriceTerms price = TDEI__PRICE_TERMS__INIT;

    price.model = CODEC_PRICE_PER_RECORD;
    price.amount = 1;
    pub.id = (char *)(uintptr_t)id;
    pub.kind = CODEC_KIND_STREAM;
    pub.title = (char *)(uintptr_t) "payload test stream";
    pub.domain = CODEC_DOMAIN_PRODUCTION;
    pub.level = 1;
    pub.data_class = CODEC_CLASS_GENERAL;
    pub.price = &price;
    body.op_case = TDEI__TX_BODY__OP_CATALOG_PUBLISH;
    body.catalog_publish = &pub;
    ck_assert_uint_eq(submit(m, &body, NULL), 0);
    tdei__tx_body__init(&body);
    open.id = (char *)(uintptr_t)id;
    body.op_case = TDEI__TX_BODY__OP_STREAM_OPEN;
    body.stream_open = &open;
    ck_assert_uint_eq(submit(m, &body, NULL), 0);
}

/* The exchange record @xid (free with codec_exchange_free). */
static Tdei__Exchange *exchange_get(const uint8_t *xid)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetObject get = TDEI__API__GET_OBJECT__INIT;
    Tdei__Api__Response *resp;
    Tdei__Exchange *ex = NULL;
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];

    get.key.data = key;
    get.key.len = contract_key_exchange(key, xid);
    req.req_case = TDEI__API__REQUEST__REQ_GET_OBJECT;
    req.get_object = &get;
    resp = call(&req);
    ck_assert_uint_eq(resp->code, 0);
    ck_assert_int_eq(codec_exchange_decode(&ex, resp->object->value.data,
                                           resp->object->value.len, errmsg),
                     0);
    api_client_response_free(resp);
    return ex;
}

/* The encryption key pair of member @m, from its home. */
static void encryption_key(size_t m, struct tdei_keyfile_key *key)
{
    char path[HOME_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    (void)home_key_path(path, fx.net.homes[m], HOME_KEY_ENCRYPTION);
    ck_assert_msg(tdei_keyfile_load(path, key, NULL, errmsg) == 0, "%s",
                  errmsg);
}

/* The status of exchange @xid on the ledger. */
static uint32_t xstatus(const uint8_t *xid)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetObject get = TDEI__API__GET_OBJECT__INIT;
    Tdei__Api__Response *resp;
    Tdei__Exchange *ex = NULL;
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    uint32_t status;

    get.key.data = key;
    get.key.len = contract_key_exchange(key, xid);
    req.req_case = TDEI__API__REQUEST__REQ_GET_OBJECT;
    req.get_object = &get;
    resp = call(&req);
    ck_assert_uint_eq(resp->code, 0);
    ck_assert_int_eq(codec_exchange_decode(&ex, resp->object->value.data,
                                           resp->object->value.len, errmsg),
                     0);
    status = ex->status;
    codec_exchange_free(ex);
    api_client_response_free(resp);
    return status;
}

/* Wait up to @ms for exchange @xid to reach @status. */
static int wait_status(const uint8_t *xid, uint32_t status, uint64_t ms)
{
    uint64_t end = integ_now_ms() + ms;

    while (integ_now_ms() < end) {
        if (xstatus(xid) == status) {
            return 1;
        }
        usleep(20000);
    }
    return 0;
}

static Tdei__Api__Response *import(const char *path, const char *dataset,
                                   uint32_t version)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__ImportPayload imp = TDEI__API__IMPORT_PAYLOAD__INIT;

    imp.path = (char *)(uintptr_t)path;
    imp.dataset = (char *)(uintptr_t)dataset;
    imp.version = version;
    req.req_case = TDEI__API__REQUEST__REQ_IMPORT_PAYLOAD;
    req.import_payload = &imp;
    return call(&req);
}

static Tdei__Api__Response *fetch(const uint8_t *xid, size_t xid_len,
                                  const char *out, uint32_t timeout_ms)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__FetchPayload f = TDEI__API__FETCH_PAYLOAD__INIT;

    f.exchange.data = (uint8_t *)(uintptr_t)xid;
    f.exchange.len = xid_len;
    f.out_path = (char *)(uintptr_t)out;
    f.timeout_ms = timeout_ms;
    req.req_case = TDEI__API__REQUEST__REQ_FETCH_PAYLOAD;
    req.fetch_payload = &f;
    return call(&req);
}

static Tdei__Api__Response *state(const uint8_t *xid, size_t xid_len)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetPayloadState get = TDEI__API__GET_PAYLOAD_STATE__INIT;

    get.exchange.data = (uint8_t *)(uintptr_t)xid;
    get.exchange.len = xid_len;
    req.req_case = TDEI__API__REQUEST__REQ_GET_PAYLOAD_STATE;
    req.get_payload_state = &get;
    return call(&req);
}

static Tdei__Api__Response *set_delivery(const char *dataset, int manual)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__SetDelivery set = TDEI__API__SET_DELIVERY__INIT;

    set.dataset = (char *)(uintptr_t)dataset;
    set.manual = manual;
    req.req_case = TDEI__API__REQUEST__REQ_SET_DELIVERY;
    req.set_delivery = &set;
    return call(&req);
}

static Tdei__Api__Response *deliver_now(const uint8_t *xid, size_t xid_len)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__DeliverNow now = TDEI__API__DELIVER_NOW__INIT;

    now.exchange.data = (uint8_t *)(uintptr_t)xid;
    now.exchange.len = xid_len;
    req.req_case = TDEI__API__REQUEST__REQ_DELIVER_NOW;
    req.deliver_now = &now;
    return call(&req);
}

/* ---- ImportPayload ------------------------------------------------------- */

START_TEST(test_payload_import_refusals_and_answer)
{
    char long_path[BLOB_CHUNK_SIZE];
    uint64_t nonce = nonce_of(NODE);
    Tdei__Api__Response *resp;

    expect_refusal(import("", "ds-a", 1), TDEI_INVAL, "absolute path");
    expect_refusal(import("payload.bin", "ds-a", 1), TDEI_INVAL,
                   "'payload.bin' (11 bytes) must be an absolute path");
    memset(long_path, 'a', 4200);
    long_path[0] = '/';
    long_path[4200] = '\0';
    expect_refusal(import(long_path, "ds-a", 1), TDEI_INVAL, "4200 bytes");
    expect_refusal(import(fx.file, "Ds", 1), TDEI_INVAL,
                   "dataset 'Ds' is not an entry id");
    expect_refusal(import(fx.file, "ds-a", 0), TDEI_INVAL,
                   "version must be 1 or more");
    (void)snprintf(long_path, sizeof(long_path), "%s/none.bin", fx.net.dir);
    expect_refusal(import(long_path, "ds-a", 1), TDEI_NOTFOUND, "none.bin");
    expect_refusal(import(fx.net.dir, "ds-a", 1), TDEI_INVAL,
                   "is not a regular file");
    /* Right, it answers what it stored. */
    resp = import(fx.file, "ds-a", 1);
    ck_assert_msg(resp->code == 0, "%s", resp->error);
    ck_assert_int_eq(resp->resp_case, TDEI__API__RESPONSE__RESP_PAYLOAD);
    ck_assert_uint_eq(resp->payload->content_root.len, 32);
    ck_assert_uint_eq(resp->payload->size, FILE_SIZE);
    ck_assert_uint_eq(resp->payload->chunk_count, 4);
    ck_assert_str_eq(resp->payload->dataset, "ds-a");
    ck_assert_uint_eq(resp->payload->version, 1);
    api_client_response_free(resp);
    ck_assert_uint_eq(nonce_of(NODE), nonce);
}
END_TEST

/* ---- SetDelivery, DeliverNow, GetPayloadState ---------------------------- */

START_TEST(test_payload_delivery_refusals_and_manual_then_auto)
{
    static const uint8_t short_id[31] = {1};
    uint8_t unknown[32];
    uint8_t root_b[32];
    uint8_t x_other[32];
    uint8_t x_nokey[32];
    uint8_t x_req[32];
    uint8_t x_manual[32];
    uint8_t x_auto[32];
    uint64_t nonce;
    Tdei__Api__Response *resp;

    memset(unknown, 0xab, sizeof(unknown));
    memset(root_b, 0x42, sizeof(root_b));
    /* ds-own: imported by the node and published by its member; ds-nokey:
     * published by the node's member with a root the node never saw;
     * ds-l2: level 2 (the owner approves); ds-other: member-01's. */
    resp = import(fx.file, "ds-own", 1);
    ck_assert_uint_eq(resp->code, 0);
    publish(NODE, "ds-own", 1, resp->payload->content_root.data, FILE_SIZE);
    api_client_response_free(resp);
    publish(NODE, "ds-nokey", 1, root_b, 1000);
    publish(NODE, "ds-l2", 2, root_b, 1000);
    publish(OWNER, "ds-other", 1, root_b, 1000);
    nonce = nonce_of(NODE);

    /* SetDelivery. */
    expect_refusal(set_delivery("X!", 1), TDEI_INVAL, "is not an entry id");
    expect_refusal(set_delivery("ds-none", 1), TDEI_UNKNOWN_DATASET,
                   "no catalog entry ds-none");
    expect_refusal(set_delivery("ds-other", 1), TDEI_NOT_OWNER,
                   "entry ds-other is owned by member-01");
    resp = set_delivery("ds-own", 1);
    ck_assert_msg(resp->code == 0, "%s", resp->error);
    ck_assert_int_eq(resp->resp_case, TDEI__API__RESPONSE__RESP_DELIVERY);
    ck_assert_str_eq(resp->delivery->dataset, "ds-own");
    ck_assert(resp->delivery->manual);
    api_client_response_free(resp);

    /* DeliverNow. */
    expect_refusal(deliver_now(short_id, sizeof(short_id)), TDEI_INVAL,
                   "exchange must be 32 bytes, not 31");
    expect_refusal(deliver_now(unknown, 32), TDEI_UNKNOWN_EXCHANGE,
                   "no exchange has this id");
    request(OTHER, "ds-other", x_other);
    expect_refusal(deliver_now(x_other, 32), TDEI_NOT_OWNER,
                   "entry ds-other is owned by member-01");
    request(OTHER, "ds-l2", x_req);
    ck_assert_uint_eq(xstatus(x_req), CODEC_EXCHANGE_REQUESTED);
    expect_refusal(deliver_now(x_req, 32), TDEI_EXCHANGE_STATE,
                   "the exchange is requested");
    /* Level 1: approved at once; the node tries to deliver on its own but
     * holds no key for that root, and says so. */
    request(OTHER, "ds-nokey", x_nokey);
    ck_assert_uint_eq(xstatus(x_nokey), CODEC_EXCHANGE_APPROVED);
    expect_refusal(deliver_now(x_nokey, 32), TDEI_NOTFOUND,
                   "does not hold the content key of root 4242");
    ck_assert_uint_eq(xstatus(x_nokey), CODEC_EXCHANGE_APPROVED);
    ck_assert_uint_eq(nonce_of(NODE), nonce);

    /* GetPayloadState. */
    expect_refusal(state(short_id, sizeof(short_id)), TDEI_INVAL,
                   "exchange must be 32 bytes, not 31");
    expect_refusal(state(unknown, 32), TDEI_UNKNOWN_EXCHANGE,
                   "no exchange has this id");
    resp = state(x_nokey, 32);
    ck_assert_msg(resp->code == 0, "%s", resp->error);
    ck_assert_uint_eq(resp->payload_state->state, 0); /* not here */
    api_client_response_free(resp);

    /* Manual: an approved exchange waits for DeliverNow. */
    request(OTHER, "ds-own", x_manual);
    ck_assert_uint_eq(xstatus(x_manual), CODEC_EXCHANGE_APPROVED);
    usleep(300000); /* blocks go by; nothing is delivered */
    ck_assert_uint_eq(xstatus(x_manual), CODEC_EXCHANGE_APPROVED);
    ck_assert_uint_eq(nonce_of(NODE), nonce);
    resp = deliver_now(x_manual, 32);
    ck_assert_msg(resp->code == 0, "%s", resp->error);
    ck_assert_int_eq(resp->resp_case, TDEI__API__RESPONSE__RESP_DELIVER_NOW);
    ck_assert_uint_eq(resp->deliver_now->tx_id.len, 32);
    ck_assert_uint_gt(resp->deliver_now->height, 0);
    api_client_response_free(resp);
    ck_assert_uint_eq(xstatus(x_manual), CODEC_EXCHANGE_DELIVERED);
    ck_assert_uint_eq(nonce_of(NODE), nonce + 1);
    expect_refusal(deliver_now(x_manual, 32), TDEI_EXCHANGE_STATE,
                   "the exchange is delivered");
    resp = state(x_manual, 32);
    ck_assert_msg(resp->code == 0, "%s", resp->error);
    ck_assert_uint_eq(resp->payload_state->state, BLOB_STATE_COMPLETE);
    ck_assert_uint_eq(resp->payload_state->chunk_count, 4);
    ck_assert_uint_eq(resp->payload_state->chunks_present, 4);
    ck_assert(!resp->payload_state->fetching);
    api_client_response_free(resp);

    /* Automatic again: the next approved exchange is delivered alone. */
    resp = set_delivery("ds-own", 0);
    ck_assert_uint_eq(resp->code, 0);
    ck_assert(!resp->delivery->manual);
    api_client_response_free(resp);
    request(OWNER, "ds-own", x_auto);
    ck_assert(wait_status(x_auto, CODEC_EXCHANGE_DELIVERED, 10000));
    ck_assert_uint_eq(nonce_of(NODE), nonce + 2);
}
END_TEST

/* ---- FetchPayload -------------------------------------------------------- */

START_TEST(test_payload_fetch_refusals_and_timeout)
{
    static const uint8_t short_id[31] = {1};
    uint8_t unknown[32];
    uint8_t root[32];
    uint8_t x_other[32];
    uint8_t x_mine[32];
    char out[INTEG_PATH_MAX + 32];
    uint64_t nonce;
    Tdei__Api__Response *resp;
    uint64_t t0;

    memset(unknown, 0xab, sizeof(unknown));
    memset(root, 0x42, sizeof(root));
    (void)snprintf(out, sizeof(out), "%s/out.bin", fx.net.dir);
    publish(OWNER, "ds-f", 1, root, 3 * BLOB_CHUNK_SIZE);
    request(OTHER, "ds-f", x_other);
    request(NODE, "ds-f", x_mine);
    nonce = nonce_of(NODE);

    expect_refusal(fetch(short_id, sizeof(short_id), out, 0), TDEI_INVAL,
                   "exchange must be 32 bytes, not 31");
    expect_refusal(fetch(unknown, 32, out, 3600001), TDEI_INVAL,
                   "timeout_ms 3600001 is over 3600000");
    expect_refusal(fetch(unknown, 32, "out.bin", 0), TDEI_INVAL,
                   "must be an absolute path");
    expect_refusal(fetch(unknown, 32, out, 0), TDEI_UNKNOWN_EXCHANGE,
                   "no exchange has this id");
    expect_refusal(fetch(x_other, 32, out, 0), TDEI_NOT_PARTY,
                   "the consumer of this exchange is member-02");
    expect_refusal(fetch(x_mine, 32, out, 0), TDEI_NOT_DELIVERED,
                   "approved, not delivered yet");
    /* Delivered by hand (the owner's node is not running): the fetch waits
     * for chunks nobody can send, and says so when its wait ends. */
    exchange_op(OWNER, TDEI__TX_BODY__OP_EXCHANGE_DELIVER, x_mine, root);
    t0 = integ_now_ms();
    expect_refusal(fetch(x_mine, 32, out, 300), TDEI_TIMEOUT,
                   "0 of 3 chunks are here; the node of owner member-01 is "
                   "not connected; ask again, the transfer goes on");
    ck_assert_uint_ge(integ_now_ms() - t0, 300);
    ck_assert_int_ne(access(out, F_OK), 0); /* nothing written */
    resp = state(x_mine, 32);
    ck_assert_msg(resp->code == 0, "%s", resp->error);
    ck_assert_uint_eq(resp->payload_state->state, BLOB_STATE_PARTIAL);
    ck_assert_uint_eq(resp->payload_state->chunk_count, 3);
    ck_assert_uint_eq(resp->payload_state->chunks_present, 0);
    ck_assert(resp->payload_state->fetching);
    api_client_response_free(resp);
    /* Settled, then revoked by the regulator (this node's member). */
    exchange_op(NODE, TDEI__TX_BODY__OP_EXCHANGE_CONFIRM, x_mine, NULL);
    exchange_op(NODE, TDEI__TX_BODY__OP_GRANT_REVOKE, x_mine, NULL);
    ck_assert_uint_eq(xstatus(x_mine), CODEC_EXCHANGE_REVOKED);
    expect_refusal(fetch(x_mine, 32, out, 0), TDEI_NO_GRANT,
                   "the grant was revoked at height");
    resp = state(x_mine, 32);
    ck_assert_msg(resp->code == 0, "%s", resp->error);
    ck_assert(!resp->payload_state->fetching);
    ck_assert_uint_eq(resp->payload_state->last_error_code, TDEI_NO_GRANT);
    api_client_response_free(resp);
    ck_assert_uint_eq(nonce_of(NODE), nonce + 2); /* its own two txs */
}
END_TEST

/* ---- a stream: the subscription key -------------------------------------- */

START_TEST(test_payload_stream_delivered_with_subscription_key)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__ExchangeRequest req = TDEI__EXCHANGE_REQUEST__INIT;
    struct tdei_keyfile_key node_enc;
    struct tdei_keyfile_key consumer_enc;
    crypto_generichash_state st;
    uint8_t xid[32];
    uint8_t want[32];
    uint8_t got[32];
    char out[INTEG_PATH_MAX + 32];
    Tdei__Exchange *ex;

    (void)snprintf(out, sizeof(out), "%s/out.bin", fx.net.dir);
    publish_stream(NODE, "line-rec");
    req.id = (char *)(uintptr_t) "line-rec";
    req.price = 1;
    req.budget = 100;
    body.op_case = TDEI__TX_BODY__OP_EXCHANGE_REQUEST;
    body.exchange_request = &req;
    ck_assert_uint_eq(submit(OTHER, &body, xid), 0);
    /* Level 1: approved at once; per record: the delivery settles it. */
    ck_assert(wait_status(xid, CODEC_EXCHANGE_SETTLED, 10000));
    ex = exchange_get(xid);
    ck_assert_uint_eq(ex->sealed_key.len, CODEC_SEALED_KEY_SIZE);
    ck_assert_uint_eq(ex->delivered_root.len, 0);
    /* The consumer opens it, and it is BLAKE2b-256(key = the owner's node
     * encryption secret, "tdei/subkey" || exchange id) (node_plane.h). */
    encryption_key(OTHER, &consumer_enc);
    ck_assert_int_eq(
        crypto_box_seal_open(got, ex->sealed_key.data, ex->sealed_key.len,
                             consumer_enc.pubkey, consumer_enc.secret),
        0);
    encryption_key(NODE, &node_enc);
    (void)crypto_generichash_init(&st, node_enc.secret, 32, 32);
    (void)crypto_generichash_update(&st, (const uint8_t *)"tdei/subkey", 11);
    (void)crypto_generichash_update(&st, xid, 32);
    (void)crypto_generichash_final(&st, want, 32);
    ck_assert_int_eq(memcmp(got, want, 32), 0);
    tdei_keyfile_key_wipe(&node_enc);
    tdei_keyfile_key_wipe(&consumer_enc);
    codec_exchange_free(ex);
    /* A stream has no payload: its state is refused, and a fetch through
     * the owner's node names the consumer. */
    expect_refusal(state(xid, 32), TDEI_INVAL, "line-rec is a stream");
    expect_refusal(fetch(xid, 32, out, 0), TDEI_NOT_PARTY,
                   "the consumer of this exchange is member-02");
}
END_TEST

/* ---- suite --------------------------------------------------------------- */

static void add_case(Suite *suite, const char *name, const TTest *test)
{
    TCase *tc = tcase_create(name);

    tcase_add_test(tc, test);
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_set_timeout(tc, CASE_TIMEOUT_S);
    suite_add_tcase(suite, tc);
}

static Suite *payload_refusals_suite(void)
{
    Suite *suite = suite_create("payload_refusals");

    add_case(suite, "import", test_payload_import_refusals_and_answer);
    add_case(suite, "delivery",
             test_payload_delivery_refusals_and_manual_then_auto);
    add_case(suite, "fetch", test_payload_fetch_refusals_and_timeout);
    add_case(suite, "stream",
             test_payload_stream_delivered_with_subscription_key);
    return suite;
}

int main(void) { return testutil_run(payload_refusals_suite()); }
